/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ratelog binary driven the way dockerd drives a logging plugin: over
 * its unix socket and through FIFOs of framed LogEntry records.  Each test
 * starts a fresh plugin on a temp tree (harness.h) and checks what lands in
 * the json-file logs and what ReadLogs sends back; teardown stops the plugin
 * with SIGTERM and fails the test if it had died or does not exit cleanly.
 * RATELOG_BIN names the binary (the Makefile's integration target sets it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/integration/harness.h"

/* 2023-11-14T22:13:20Z: a fixed clock keeps the expected text exact. */
#define T0 INT64_C(1700000000000000000)

static unsigned fifo_seq;

static int setup(void **state)
{
	*state = h_new(false);
	return *state != NULL ? 0 : -1;
}

static int setup_env(void **state)
{
	*state = h_new(true);
	return *state != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	if (h_free(*state) != 0) {
		fprintf(stderr, "teardown: ratelog did not survive the test "
				"or did not exit cleanly on SIGTERM\n");
		return -1;
	}
	return 0;
}

/* A new FIFO with a dockerd-like random name, registered for 'id'. */
static void start_stream(struct harness *h, struct h_fifo *f, const char *id,
			 json_t *config)
{
	char name[65];
	char *err = NULL;

	h_container_id(name, 100000 + fifo_seq++);
	assert_int_equal(h_fifo_new(h, f, name), 0);
	assert_int_equal(h_start_logging(h, f->path, id, config, &err), 200);
	assert_non_null(err);
	if (err[0] != '\0')
		fail_msg("StartLogging failed: %s", err);
	free(err);
}

/* StopLogging, then close and unlink the FIFO, in dockerd's order. */
static void stop_stream(struct harness *h, struct h_fifo *f)
{
	char *err = NULL;

	assert_int_equal(h_stop_logging(h, f->path, &err), 200);
	assert_non_null(err);
	assert_string_equal(err, "");
	free(err);
	h_fifo_close(f);
}

/* Line 'l' holds exactly log, stream and time with these values. */
static void check_line(const struct h_line *l, const void *log, size_t len,
		       const char *stream, int64_t t)
{
	char ts[40];

	h_format_time(t, ts);
	assert_int_equal(l->nkeys, 3);
	assert_non_null(l->log);
	assert_non_null(l->stream);
	assert_non_null(l->time);
	if (l->log_len != len || memcmp(l->log, log, len) != 0)
		fail_msg("log \"%.*s\" (%zu bytes), expected \"%.*s\" (%zu)",
			 (int)(l->log_len > 200 ? 200 : l->log_len), l->log,
			 l->log_len, (int)(len > 200 ? 200 : len),
			 (const char *)log, len);
	assert_string_equal(l->stream, stream);
	assert_string_equal(l->time, ts);
}

static void check_line_str(const struct h_line *l, const char *log,
			   const char *stream, int64_t t)
{
	check_line(l, log, strlen(log), stream, t);
}

/* Frame 'e' of a ReadLogs reply carries these values. */
static void check_frame(const LogEntry *e, const void *line, size_t len,
			const char *source, int64_t t)
{
	assert_string_equal(e->source, source);
	assert_true(e->time_nano == t);
	if (e->line.len != len || memcmp(e->line.data, line, len) != 0)
		fail_msg("frame line \"%.*s\" (%zu bytes), expected \"%.*s\" "
			 "(%zu)",
			 (int)(e->line.len > 200 ? 200 : e->line.len),
			 (const char *)e->line.data, e->line.len,
			 (int)(len > 200 ? 200 : len), (const char *)line, len);
}

static void check_frame_str(const LogEntry *e, const char *line,
			    const char *source, int64_t t)
{
	check_frame(e, line, strlen(line), source, t);
}

/* A non-follow ReadLogs: status and decoded frames. */
static long read_logs(struct harness *h, json_t *req, struct h_frames *fr)
{
	struct h_buf resp = {0};
	long status;

	status = h_post_json(h, "/LogDriver.ReadLogs", req, &resp);
	memset(fr, 0, sizeof(*fr));
	if (status == 200) {
		assert_int_equal(h_decode_frames((const uint8_t *)resp.data,
						 resp.len, fr),
				 0);
		assert_int_equal(fr->rest, 0);
	}
	h_buf_release(&resp);
	return status;
}

static void test_activate_and_capabilities(void **state)
{
	struct harness *h = *state;
	struct h_buf resp = {0};
	json_t *v;
	json_t *f;

	/* Both come with an empty body, not "{}". */
	assert_int_equal(h_post(h, "/Plugin.Activate", "", 0, &resp), 200);
	v = json_loadb(resp.data, resp.len, 0, NULL);
	assert_non_null(v);
	f = json_object_get(v, "Implements");
	assert_true(json_is_array(f));
	assert_int_equal(json_array_size(f), 1);
	assert_string_equal(json_string_value(json_array_get(f, 0)),
			    "LogDriver");
	json_decref(v);

	assert_int_equal(h_post(h, "/LogDriver.Capabilities", "", 0, &resp),
			 200);
	v = json_loadb(resp.data, resp.len, 0, NULL);
	assert_non_null(v);
	f = json_object_get(json_object_get(v, "Cap"), "ReadLogs");
	assert_true(json_is_true(f));
	/* A non-empty Err makes dockerd 28.0.2+ throw Cap away. */
	f = json_object_get(v, "Err");
	assert_true(f == NULL ||
		    (json_is_string(f) && json_string_length(f) == 0));
	json_decref(v);
	h_buf_release(&resp);
}

static void test_lines_written(void **state)
{
	/* Every kind of byte the json-file encoder treats specially. */
	static const char odd[] = "say \"hi\"\\ <&> \t \xc3\xa9 \xff "
				  "\xe2\x80\xa8 \r\x01 end";
	static const char odd_raw[] =
		"{\"log\":\"say \\\"hi\\\"\\\\ \\u003c\\u0026\\u003e \\u0009 "
		"\xc3\xa9 \\ufffd \\u2028 \\r\\u0001 end\\n\","
		"\"stream\":\"stdout\",\"time\":\"2023-11-14T22:13:22.12Z\"}";
	static const char odd_log[] = "say \"hi\"\\ <&> \t \xc3\xa9 "
				      "\xef\xbf\xbd \xe2\x80\xa8 \r\x01 end\n";
	struct harness *h = *state;
	struct h_lines ls;
	struct h_fifo f;
	struct stat st;
	char path[PATH_MAX];
	char id[65];
	json_t *config;

	h_container_id(id, 1);
	/* Keys dockerd itself puts into Config must not bother the plugin. */
	config = json_pack("{s:s, s:s, s:s}", "mode", "non-blocking",
			   "max-buffer-size", "4m", "cache-disabled", "false");
	start_stream(h, &f, id, config);
	assert_int_equal(
		h_write_line(f.fd, "stdout", T0 + 123456789, "first line"), 0);
	assert_int_equal(
		h_write_line(f.fd, "stderr", T0 + 1000000000, "second line"),
		0);
	/* An empty line: the frame then has no line field at all. */
	assert_int_equal(h_write_line(f.fd, "stdout", T0 + 1500000000, ""), 0);
	assert_int_equal(h_write_entry(f.fd, "stdout", T0 + 2120000000, odd,
				       sizeof(odd) - 1, NULL),
			 0);
	stop_stream(h, &f);

	assert_int_equal(h_wait_lines(h, id, 4, H_WAIT_MS), 4);
	h_sleep_ms(50);
	assert_int_equal(h_read_lines(h, id, &ls), 0);
	assert_int_equal(ls.n, 4);
	check_line_str(&ls.v[0], "first line\n", "stdout", T0 + 123456789);
	check_line_str(&ls.v[1], "second line\n", "stderr", T0 + 1000000000);
	check_line_str(&ls.v[2], "\n", "stdout", T0 + 1500000000);
	check_line(&ls.v[3], odd_log, sizeof(odd_log) - 1, "stdout",
		   T0 + 2120000000);
	/* Byte for byte what dockerd's json-file driver writes. */
	assert_string_equal(ls.v[0].raw,
			    "{\"log\":\"first line\\n\",\"stream\":\"stdout\","
			    "\"time\":\"2023-11-14T22:13:20.123456789Z\"}");
	assert_string_equal(ls.v[1].raw,
			    "{\"log\":\"second line\\n\",\"stream\":\"stderr\","
			    "\"time\":\"2023-11-14T22:13:21Z\"}");
	assert_string_equal(ls.v[3].raw, odd_raw);
	h_lines_release(&ls);

	h_log_path(h, id, path);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
}

static void test_partial_chunks(void **state)
{
	static const char pid[] = "5f0c3b6a9d2e4f8a1b7c0d3e6f9a2b5c"
				  "8d1e4f7a0b3c6d9e2f5a8b1c4d7e0f3a";
	static const char pid2[] = "0123456789abcdef0123456789abcdef"
				   "0123456789abcdef0123456789abcdef";
	struct harness *h = *state;
	struct h_part p1 = {pid, 1, false};
	struct h_part p2 = {pid, 2, false};
	struct h_part p3 = {pid, 3, true};
	struct h_part q1 = {pid2, 1, false};
	struct h_lines ls;
	struct h_fifo f;
	char *c1;
	char *c2;
	char *c3;
	char id[65];
	size_t i;

	/* One 32868-byte line, cut by dockerd's 16 KiB copier buffer. */
	c1 = malloc(H_CHUNK_MAX);
	c2 = malloc(H_CHUNK_MAX);
	c3 = malloc(101);
	assert_non_null(c1);
	assert_non_null(c2);
	assert_non_null(c3);
	for (i = 0; i < H_CHUNK_MAX; i++) {
		c1[i] = (char)('a' + i % 26);
		c2[i] = (char)('A' + i % 26);
	}
	memset(c3, 'z', 100);
	c3[100] = '\n';

	h_container_id(id, 2);
	start_stream(h, &f, id, NULL);
	assert_int_equal(h_write_line(f.fd, "stdout", T0, "before"), 0);
	/* Every chunk carries the first chunk's time, as dockerd does. */
	assert_int_equal(
		h_write_entry(f.fd, "stdout", T0 + 1, c1, H_CHUNK_MAX, &p1), 0);
	assert_int_equal(
		h_write_entry(f.fd, "stdout", T0 + 1, c2, H_CHUNK_MAX, &p2), 0);
	assert_int_equal(h_write_entry(f.fd, "stdout", T0 + 1, c3, 100, &p3),
			 0);
	assert_int_equal(h_write_line(f.fd, "stderr", T0 + 2, "after"), 0);
	/* Leftover at EOF: a partial with no last chunk ever following. */
	assert_int_equal(h_write_entry(f.fd, "stdout", T0 + 3, "tail", 4, &q1),
			 0);
	stop_stream(h, &f);

	assert_int_equal(h_wait_lines(h, id, 6, H_WAIT_MS), 6);
	h_sleep_ms(50);
	assert_int_equal(h_read_lines(h, id, &ls), 0);
	assert_int_equal(ls.n, 6);
	check_line_str(&ls.v[0], "before\n", "stdout", T0);
	check_line(&ls.v[1], c1, H_CHUNK_MAX, "stdout", T0 + 1);
	check_line(&ls.v[2], c2, H_CHUNK_MAX, "stdout", T0 + 1);
	check_line(&ls.v[3], c3, 101, "stdout", T0 + 1);
	check_line_str(&ls.v[4], "after\n", "stderr", T0 + 2);
	check_line_str(&ls.v[5], "tail", "stdout", T0 + 3);
	h_lines_release(&ls);

	/* ReadLogs gives the chunks back with the same newline rule. */
	{
		struct h_frames fr;

		assert_int_equal(
			read_logs(h,
				  h_read_request(id, H_ZERO_TIME, H_ZERO_TIME,
						 -1, false),
				  &fr),
			200);
		assert_int_equal(fr.n, 6);
		check_frame_str(fr.v[0], "before\n", "stdout", T0);
		check_frame(fr.v[1], c1, H_CHUNK_MAX, "stdout", T0 + 1);
		check_frame(fr.v[2], c2, H_CHUNK_MAX, "stdout", T0 + 1);
		check_frame(fr.v[3], c3, 101, "stdout", T0 + 1);
		check_frame_str(fr.v[4], "after\n", "stderr", T0 + 2);
		check_frame_str(fr.v[5], "tail", "stdout", T0 + 3);
		h_frames_release(&fr);
	}
	free(c1);
	free(c2);
	free(c3);
}

#define MANY 10000

static void many_line(char *buf, size_t cap, int i)
{
	snprintf(buf, cap,
		 "line %05d of a burst the plugin must not lose, "
		 "padded to look like real output",
		 i);
}

static void test_many_lines_nothing_lost_at_stop(void **state)
{
	struct harness *h = *state;
	struct h_lines ls;
	struct h_fifo f;
	char line[128];
	char want[130];
	char id[65];
	int i;

	h_container_id(id, 3);
	start_stream(h, &f, id, NULL);
	for (i = 0; i < MANY; i++) {
		many_line(line, sizeof(line), i);
		assert_int_equal(h_write_line(f.fd,
					      i % 7 == 0 ? "stderr" : "stdout",
					      T0 + (int64_t)i * 1000, line),
				 0);
	}
	/* Stop at once: what is still in the pipe must be drained. */
	stop_stream(h, &f);

	assert_int_equal(h_wait_lines(h, id, MANY, H_WAIT_MS), MANY);
	h_sleep_ms(100);
	assert_int_equal(h_read_lines(h, id, &ls), 0);
	assert_int_equal(ls.n, MANY);
	for (i = 0; i < MANY; i++) {
		many_line(want, sizeof(want) - 1, i);
		strcat(want, "\n");
		check_line_str(&ls.v[i], want, i % 7 == 0 ? "stderr" : "stdout",
			       T0 + (int64_t)i * 1000);
	}
	h_lines_release(&ls);
}

static void test_second_start_appends(void **state)
{
	struct harness *h = *state;
	struct h_lines ls;
	struct h_fifo f;
	char id[65];

	h_container_id(id, 4);
	start_stream(h, &f, id, NULL);
	assert_int_equal(h_write_line(f.fd, "stdout", T0, "run 1 a"), 0);
	assert_int_equal(h_write_line(f.fd, "stderr", T0 + 1, "run 1 b"), 0);
	stop_stream(h, &f);
	assert_int_equal(h_wait_lines(h, id, 2, H_WAIT_MS), 2);

	/* A restart of the container: a new FIFO, the same file. */
	start_stream(h, &f, id, NULL);
	assert_int_equal(h_write_line(f.fd, "stdout", T0 + 2, "run 2 a"), 0);
	assert_int_equal(h_write_line(f.fd, "stdout", T0 + 3, "run 2 b"), 0);
	stop_stream(h, &f);
	assert_int_equal(h_wait_lines(h, id, 4, H_WAIT_MS), 4);

	/* A third run that is still going while the second is draining. */
	start_stream(h, &f, id, NULL);
	assert_int_equal(h_write_line(f.fd, "stdout", T0 + 4, "run 3"), 0);
	stop_stream(h, &f);
	assert_int_equal(h_wait_lines(h, id, 5, H_WAIT_MS), 5);

	h_sleep_ms(50);
	assert_int_equal(h_read_lines(h, id, &ls), 0);
	assert_int_equal(ls.n, 5);
	check_line_str(&ls.v[0], "run 1 a\n", "stdout", T0);
	check_line_str(&ls.v[1], "run 1 b\n", "stderr", T0 + 1);
	check_line_str(&ls.v[2], "run 2 a\n", "stdout", T0 + 2);
	check_line_str(&ls.v[3], "run 2 b\n", "stdout", T0 + 3);
	check_line_str(&ls.v[4], "run 3\n", "stdout", T0 + 4);
	h_lines_release(&ls);
}

/* The text of line 'i' of container 'c', without its newline. */
typedef void line_text_fn(char *buf, size_t len, int c, int i);

#define INTERLEAVED_MAX 40

/*
 * 'nc' containers, 'nr' rounds of one line each in turn, 'pause_ms'
 * between rounds: each file must then hold its own lines, all of them, in
 * order.
 */
static void check_interleaved(struct harness *h, int nc, int nr,
			      unsigned id_base, int pause_ms,
			      line_text_fn *text)
{
	struct h_fifo f[INTERLEAVED_MAX];
	char id[INTERLEAVED_MAX][65];
	char line[128];
	int c;
	int i;

	assert_true(nc <= INTERLEAVED_MAX);
	for (c = 0; c < nc; c++) {
		h_container_id(id[c], id_base + (unsigned)c);
		start_stream(h, &f[c], id[c], NULL);
	}
	for (i = 0; i < nr; i++) {
		for (c = 0; c < nc; c++) {
			text(line, sizeof(line), c, i);
			assert_int_equal(
				h_write_line(f[c].fd, "stdout", T0 + i, line),
				0);
		}
		if (pause_ms > 0)
			h_sleep_ms(pause_ms);
	}
	for (c = 0; c < nc; c++)
		stop_stream(h, &f[c]);
	for (c = 0; c < nc; c++) {
		struct h_lines ls;
		char want[sizeof(line) + 1];

		assert_int_equal(h_wait_lines(h, id[c], nr, H_WAIT_MS), nr);
		assert_int_equal(h_read_lines(h, id[c], &ls), 0);
		assert_int_equal(ls.n, nr);
		for (i = 0; i < nr; i++) {
			text(want, sizeof(line), c, i);
			strcat(want, "\n");
			check_line_str(&ls.v[i], want, "stdout", T0 + i);
		}
		h_lines_release(&ls);
	}
}

static void short_text(char *buf, size_t len, int c, int i)
{
	snprintf(buf, len, "c%d l%d", c, i);
}

/* Several containers at once, their frames interleaved in time. */
static void test_concurrent_containers(void **state)
{
	check_interleaved(*state, 6, 400, 10, 0, short_text);
}

/* Lines of different lengths, so a buffer left with another container's
 * bytes would show. */
static void varied_text(char *buf, size_t len, int c, int i)
{
	snprintf(buf, len, "c%d r%d %.*s", c, i, (c * 7 + i) % 40,
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
}

/*
 * Many containers, each a line now and then, with pauses that let the
 * writer catch up: every batch is small, so the buffers go back to the
 * writer's spares and on to other containers' batches.
 */
static void test_sparse_containers(void **state)
{
	check_interleaved(*state, 40, 30, 100, 3, varied_text);
}

static void test_readlogs(void **state)
{
	struct harness *h = *state;
	struct h_part p1 = {
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaa",
		1, false};
	struct h_part p2 = {
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaa",
		2, true};
	struct h_frames fr;
	struct h_buf resp = {0};
	struct h_fifo f;
	char id[65];
	char quiet[65];
	long status;

	h_container_id(id, 20);
	start_stream(h, &f, id, NULL);
	assert_int_equal(h_write_line(f.fd, "stdout", T0, "a message"), 0);
	assert_int_equal(
		h_write_entry(f.fd, "stderr", T0 + 10, "to be", 5, &p1), 0);
	assert_int_equal(
		h_write_entry(f.fd, "stderr", T0 + 10, "continued", 9, &p2), 0);
	assert_int_equal(h_write_line(f.fd, "stdout", T0 + 20, ""), 0);
	assert_int_equal(h_wait_lines(h, id, 4, H_WAIT_MS), 4);

	/* Live: the container still logs, yet the reply must end. */
	assert_int_equal(read_logs(h,
				   h_read_request(id, H_ZERO_TIME, H_ZERO_TIME,
						  -1, false),
				   &fr),
			 200);
	assert_int_equal(fr.n, 4);
	check_frame_str(fr.v[0], "a message\n", "stdout", T0);
	check_frame_str(fr.v[1], "to be", "stderr", T0 + 10);
	check_frame_str(fr.v[2], "continued\n", "stderr", T0 + 10);
	check_frame_str(fr.v[3], "\n", "stdout", T0 + 20);
	h_frames_release(&fr);

	/* Stopped, and then a new logger instance for the same container
	 * (dockerd makes one for every `docker logs` of a stopped one). */
	assert_int_equal(h_write_line(f.fd, "stdout", T0 + 30, "last"), 0);
	stop_stream(h, &f);
	assert_int_equal(h_wait_lines(h, id, 5, H_WAIT_MS), 5);
	start_stream(h, &f, id, NULL);
	assert_int_equal(read_logs(h,
				   h_read_request(id, H_ZERO_TIME, H_ZERO_TIME,
						  -1, false),
				   &fr),
			 200);
	assert_int_equal(fr.n, 5);
	check_frame_str(fr.v[0], "a message\n", "stdout", T0);
	check_frame_str(fr.v[4], "last\n", "stdout", T0 + 30);
	h_frames_release(&fr);
	stop_stream(h, &f);

	/* A container that never printed: an empty 200, not an error. */
	h_container_id(quiet, 21);
	start_stream(h, &f, quiet, NULL);
	assert_int_equal(read_logs(h,
				   h_read_request(quiet, H_ZERO_TIME,
						  H_ZERO_TIME, -1, false),
				   &fr),
			 200);
	assert_int_equal(fr.n, 0);
	h_frames_release(&fr);
	stop_stream(h, &f);

	/* A bad request is a non-200: a 200 must carry frames only. */
	status = h_post(h, "/LogDriver.ReadLogs", "{not json\n", 10, &resp);
	assert_true(status >= 400);
	status = h_post(h, "/LogDriver.ReadLogs", "", 0, &resp);
	assert_true(status >= 400);
	status = h_post_json(h, "/LogDriver.ReadLogs",
			     h_read_request("../../etc", H_ZERO_TIME,
					    H_ZERO_TIME, -1, false),
			     &resp);
	assert_true(status >= 400);
	h_buf_release(&resp);
}

static void test_readlogs_tail_since_until(void **state)
{
	struct harness *h = *state;
	struct h_frames fr;
	struct h_fifo f;
	char id[65];
	char line[32];
	int i;

	h_container_id(id, 22);
	start_stream(h, &f, id, NULL);
	/* Entries one second apart from 2023-11-14T22:13:20Z. */
	for (i = 0; i < 6; i++) {
		snprintf(line, sizeof(line), "entry %d", i);
		assert_int_equal(h_write_line(f.fd, "stdout",
					      T0 + (int64_t)i * 1000000000,
					      line),
				 0);
	}
	stop_stream(h, &f);
	assert_int_equal(h_wait_lines(h, id, 6, H_WAIT_MS), 6);

	/* Tail: the last N entries. */
	assert_int_equal(read_logs(h,
				   h_read_request(id, H_ZERO_TIME, H_ZERO_TIME,
						  2, false),
				   &fr),
			 200);
	assert_int_equal(fr.n, 2);
	check_frame_str(fr.v[0], "entry 4\n", "stdout", T0 + 4000000000);
	check_frame_str(fr.v[1], "entry 5\n", "stdout", T0 + 5000000000);
	h_frames_release(&fr);

	assert_int_equal(read_logs(h,
				   h_read_request(id, H_ZERO_TIME, H_ZERO_TIME,
						  0, false),
				   &fr),
			 200);
	assert_int_equal(fr.n, 0);
	h_frames_release(&fr);

	/* Since in dockerd's local zone: 00:13:23+02:00 is entry 3. */
	assert_int_equal(
		read_logs(h,
			  h_read_request(id, "2023-11-15T00:13:23+02:00",
					 H_ZERO_TIME, -1, false),
			  &fr),
		200);
	assert_int_equal(fr.n, 3);
	check_frame_str(fr.v[0], "entry 3\n", "stdout", T0 + 3000000000);
	h_frames_release(&fr);

	/* Until: up to and including 22:13:21.5. */
	assert_int_equal(
		read_logs(h,
			  h_read_request(id, H_ZERO_TIME,
					 "2023-11-14T22:13:21.5Z", -1, false),
			  &fr),
		200);
	assert_int_equal(fr.n, 2);
	check_frame_str(fr.v[1], "entry 1\n", "stdout", T0 + 1000000000);
	h_frames_release(&fr);
}

static void test_readlogs_follow(void **state)
{
	struct harness *h = *state;
	struct h_follow *fl;
	struct h_frames fr;
	struct h_buf resp = {0};
	struct h_fifo f;
	bool done = false;
	char id[65];

	h_container_id(id, 23);
	start_stream(h, &f, id, NULL);
	assert_int_equal(h_write_line(f.fd, "stdout", T0, "old 1"), 0);
	assert_int_equal(h_write_line(f.fd, "stderr", T0 + 1, "old 2"), 0);
	assert_int_equal(h_wait_lines(h, id, 2, H_WAIT_MS), 2);

	fl = h_follow_start(
		h, h_read_request(id, H_ZERO_TIME, H_ZERO_TIME, -1, true));
	assert_non_null(fl);
	/* The history first; then the follower is surely registered. */
	assert_int_equal(h_follow_wait_frames(fl, 2, H_WAIT_MS), 2);

	assert_int_equal(h_write_line(f.fd, "stdout", T0 + 2, "new 1"), 0);
	assert_int_equal(h_write_line(f.fd, "stderr", T0 + 3, "new 2"), 0);
	assert_int_equal(h_write_line(f.fd, "stdout", T0 + 4, "new 3"), 0);
	assert_int_equal(h_follow_wait_frames(fl, 5, H_WAIT_MS), 5);

	/* While the container logs, the stream stays open, and the API keeps
	 * answering on other connections. */
	h_sleep_ms(300);
	assert_false(h_follow_wait_done(fl, 0));
	assert_int_equal(h_post(h, "/LogDriver.Capabilities", "", 0, &resp),
			 200);
	h_buf_release(&resp);

	/* Written just before the stop: still delivered, then the end. */
	assert_int_equal(h_write_line(f.fd, "stdout", T0 + 5, "final"), 0);
	stop_stream(h, &f);
	assert_true(h_follow_wait_done(fl, H_WAIT_MS));
	assert_int_equal(fl->rc, CURLE_OK);
	assert_int_equal(fl->status, 200);
	assert_int_equal(h_follow_frames(fl, &fr, &done), 0);
	assert_true(done);
	assert_int_equal(fr.rest, 0);
	assert_int_equal(fr.n, 6);
	check_frame_str(fr.v[0], "old 1\n", "stdout", T0);
	check_frame_str(fr.v[1], "old 2\n", "stderr", T0 + 1);
	check_frame_str(fr.v[2], "new 1\n", "stdout", T0 + 2);
	check_frame_str(fr.v[3], "new 2\n", "stderr", T0 + 3);
	check_frame_str(fr.v[4], "new 3\n", "stdout", T0 + 4);
	check_frame_str(fr.v[5], "final\n", "stdout", T0 + 5);
	h_frames_release(&fr);
	h_follow_release(fl);
}

/*
 * A frame whose length is in bounds but whose LogEntry is cut short: its
 * line field claims 10000 bytes and 4980 follow.  The length (5000) is
 * chosen so that no 4-byte window inside it reads as a plausible frame
 * length, so a resynchronising decoder lands exactly on the next frame.
 */
static uint8_t *truncated_frame(size_t *len)
{
	static const uint8_t head[] = {0x0a, 6,	   's',	 't',  'd',  'o',
				       'u',  't',  0x10, 0x81, 0x80, 0x80,
				       0x80, 0x80, 0x80, 0x80, 0x80, 0x17,
				       0x1a, 0x90, 0x4e};
	size_t n = 5000;
	uint8_t *b = malloc(n + 4);

	if (b == NULL)
		return NULL;
	b[0] = 0;
	b[1] = 0;
	b[2] = (uint8_t)(n >> 8);
	b[3] = (uint8_t)n;
	memcpy(b + 4, head, sizeof(head));
	memset(b + 4 + sizeof(head), 'x', n - sizeof(head));
	*len = n + 4;
	return b;
}

static void test_malformed_frames(void **state)
{
	static const uint8_t oversize[] = {0x7f, 0xff, 0xff, 0xff};
	static const char garbage[] = "this is not a frame at all\n";
	struct harness *h = *state;
	struct h_lines ls;
	struct h_fifo bad;
	struct h_fifo good;
	char bad_id[65];
	char good_id[65];
	char line[32];
	uint8_t *trunc;
	size_t trunc_len = 0;
	int i;

	h_container_id(bad_id, 30);
	h_container_id(good_id, 31);
	start_stream(h, &bad, bad_id, NULL);
	start_stream(h, &good, good_id, NULL);
	trunc = truncated_frame(&trunc_len);
	assert_non_null(trunc);

	for (i = 0; i < 40; i++) {
		snprintf(line, sizeof(line), "good %d", i);
		assert_int_equal(h_write_line(good.fd, "stdout", T0 + i, line),
				 0);
		switch (i) {
		case 0:
			assert_int_equal(
				h_write_line(bad.fd, "stdout", T0, "bad 0"), 0);
			break;
		case 5:
			assert_int_equal(
				h_write_all(bad.fd, oversize, sizeof(oversize)),
				0);
			break;
		case 10:
			assert_int_equal(h_write_line(bad.fd, "stdout", T0 + 10,
						      "bad 1"),
					 0);
			break;
		case 15:
			assert_int_equal(h_write_all(bad.fd, garbage,
						     sizeof(garbage) - 1),
					 0);
			break;
		case 20:
			assert_int_equal(h_write_line(bad.fd, "stderr", T0 + 20,
						      "bad 2"),
					 0);
			break;
		case 25:
			assert_int_equal(h_write_all(bad.fd, trunc, trunc_len),
					 0);
			break;
		case 30:
		case 31:
		case 32:
			snprintf(line, sizeof(line), "bad %d", i - 27);
			assert_int_equal(
				h_write_line(bad.fd, "stdout", T0 + i, line),
				0);
			break;
		default:
			break;
		}
	}
	free(trunc);
	stop_stream(h, &good);
	stop_stream(h, &bad);

	assert_int_equal(h_wait_lines(h, good_id, 40, H_WAIT_MS), 40);
	assert_int_equal(h_read_lines(h, good_id, &ls), 0);
	assert_int_equal(ls.n, 40);
	for (i = 0; i < 40; i++) {
		char want[32];

		snprintf(want, sizeof(want), "good %d\n", i);
		check_line_str(&ls.v[i], want, "stdout", T0 + i);
	}
	h_lines_release(&ls);

	/* The valid frames around the junk, and nothing made of the junk. */
	assert_int_equal(h_wait_lines(h, bad_id, 6, H_WAIT_MS), 6);
	h_sleep_ms(100);
	assert_int_equal(h_read_lines(h, bad_id, &ls), 0);
	assert_int_equal(ls.n, 6);
	check_line_str(&ls.v[0], "bad 0\n", "stdout", T0);
	check_line_str(&ls.v[1], "bad 1\n", "stdout", T0 + 10);
	check_line_str(&ls.v[2], "bad 2\n", "stderr", T0 + 20);
	check_line_str(&ls.v[3], "bad 3\n", "stdout", T0 + 30);
	check_line_str(&ls.v[4], "bad 4\n", "stdout", T0 + 31);
	check_line_str(&ls.v[5], "bad 5\n", "stdout", T0 + 32);
	h_lines_release(&ls);
	assert_true(h_plugin_alive(h));
}

/* A fresh container logs one line and it arrives: the plugin still works. */
static void check_still_works(struct harness *h, unsigned n)
{
	struct h_lines ls;
	struct h_fifo f;
	char id[65];

	h_container_id(id, 1000 + n);
	start_stream(h, &f, id, NULL);
	assert_int_equal(h_write_line(f.fd, "stdout", T0 + n, "still here"), 0);
	stop_stream(h, &f);
	assert_int_equal(h_wait_lines(h, id, 1, H_WAIT_MS), 1);
	assert_int_equal(h_read_lines(h, id, &ls), 0);
	assert_int_equal(ls.n, 1);
	check_line_str(&ls.v[0], "still here\n", "stdout", T0 + n);
	h_lines_release(&ls);
}

/*
 * The reply is a 200 with a non-empty Err that avoids the phrases dockerd
 * turns into exit codes 126/127 (protocol 2.6).
 */
static void expect_refused(struct harness *h, const char *what,
			   const void *body, size_t len)
{
	static const char *const trap[] = {"no such file or directory",
					   "executable file not found",
					   "permission denied"};
	struct h_buf resp = {0};
	char *err;
	size_t i;
	long status;

	status = h_post(h, "/LogDriver.StartLogging", body, len, &resp);
	if (status != 200)
		fail_msg("%s: status %ld, body %s", what, status,
			 resp.data != NULL ? resp.data : "");
	err = h_reply_err(&resp);
	if (err == NULL || err[0] == '\0')
		fail_msg("%s: accepted (reply %s)", what, resp.data);
	for (i = 0; i < sizeof(trap) / sizeof(trap[0]); i++) {
		if (strstr(err, trap[i]) != NULL)
			fail_msg("%s: Err \"%s\" holds \"%s\"", what, err,
				 trap[i]);
	}
	free(err);
	h_buf_release(&resp);
}

/*
 * Like expect_refused(), but a 4xx status is also a refusal, and so is a
 * connection the server closes while the body is still being sent (evhttp
 * answers 413 and hangs up; whether the client sees the answer first is a
 * race).  dockerd takes each as a failed StartLogging.
 */
static void expect_refused_or_status(struct harness *h, const char *what,
				     const void *body, size_t len)
{
	struct h_buf resp = {0};
	char *err;
	long status;

	status = h_post(h, "/LogDriver.StartLogging", body, len, &resp);
	if (status == -1 || (status >= 400 && status < 500)) {
		h_buf_release(&resp);
		return;
	}
	if (status != 200)
		fail_msg("%s: status %ld", what, status);
	err = h_reply_err(&resp);
	if (err == NULL || err[0] == '\0')
		fail_msg("%s: accepted (reply %s)", what, resp.data);
	free(err);
	h_buf_release(&resp);
}

/*
 * A well-formed StartLogging body of exactly 'total' bytes (at least about
 * 700), padded with a log-opt value.  Returns a new string or NULL.
 */
static char *start_body_of(const char *file, const char *id, size_t total,
			   size_t *len)
{
	size_t base = 0;
	char *body = NULL;
	char *pad;
	json_t *v;

	v = json_pack("{s:s, s:o}", "File", file, "Info",
		      h_info(id, json_pack("{s:s}", "labels", "")));
	pad = h_encode(v, &base);
	json_decref(v);
	if (pad == NULL || base > total) {
		free(pad);
		return NULL;
	}
	free(pad);
	pad = malloc(total - base + 1);
	if (pad == NULL)
		return NULL;
	memset(pad, 'a', total - base);
	pad[total - base] = '\0';
	v = json_pack("{s:s, s:o}", "File", file, "Info",
		      h_info(id, json_pack("{s:s}", "labels", pad)));
	if (v != NULL)
		body = h_encode(v, len);
	json_decref(v);
	free(pad);
	return body;
}

static void expect_refused_json(struct harness *h, const char *what, json_t *v)
{
	size_t len = 0;
	char *body = h_encode(v, &len);

	json_decref(v);
	assert_non_null(body);
	expect_refused(h, what, body, len);
	free(body);
}

static void expect_start_refused(struct harness *h, const char *what,
				 const char *file, const char *id)
{
	expect_refused_json(h, what,
			    json_pack("{s:s, s:o}", "File", file, "Info",
				      h_info(id, NULL)));
}

static void test_bad_requests(void **state)
{
	struct harness *h = *state;
	struct h_fifo ok;
	struct h_fifo outside;
	char path[PATH_MAX];
	char id[65];
	unsigned n = 0;
	char *big;
	size_t big_len;
	int fd;

	h_container_id(id, 40);
	/* A real FIFO in the right place, so each case has one fault. */
	assert_int_equal(h_fifo_new(h, &ok, "ok"), 0);
	snprintf(path, sizeof(path), "%s/outside", h->root);
	assert_int_equal(h_fifo_make(&outside, path), 0);

	expect_refused(h, "non-JSON", "{\"File\": nope\n", 14);
	check_still_works(h, n++);
	expect_refused(h, "empty body", "", 0);
	check_still_works(h, n++);
	expect_refused(h, "JSON array", "[1,2]\n", 6);
	check_still_works(h, n++);
	expect_refused_json(h, "no Info", json_pack("{s:s}", "File", ok.path));
	check_still_works(h, n++);
	expect_refused_json(
		h, "File not a string",
		json_pack("{s:i, s:o}", "File", 7, "Info", h_info(id, NULL)));
	check_still_works(h, n++);

	expect_start_refused(h, "File outside the FIFO dir", outside.path, id);
	check_still_works(h, n++);
	snprintf(path, sizeof(path), "%s/..", h->fifo_dir);
	expect_start_refused(h, "File ..", path, id);
	snprintf(path, sizeof(path), "%s/../outside", h->fifo_dir);
	expect_start_refused(h, "File dir/../outside", path, id);
	expect_start_refused(h, "relative File", "ok", id);
	snprintf(path, sizeof(path), "%s/", h->fifo_dir);
	expect_start_refused(h, "File is the dir", path, id);
	check_still_works(h, n++);
	snprintf(path, sizeof(path), "%s/missing", h->fifo_dir);
	expect_start_refused(h, "File missing", path, id);
	check_still_works(h, n++);

	snprintf(path, sizeof(path), "%s/regular", h->fifo_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd != -1);
	close(fd);
	expect_start_refused(h, "File a regular file", path, id);
	check_still_works(h, n++);

	/* Even a link to a FIFO: the plugin must not follow links. */
	snprintf(path, sizeof(path), "%s/link", h->fifo_dir);
	assert_int_equal(symlink(outside.path, path), 0);
	expect_start_refused(h, "File a symlink to a FIFO", path, id);
	snprintf(path, sizeof(path), "%s/link-in", h->fifo_dir);
	assert_int_equal(symlink(ok.path, path), 0);
	expect_start_refused(h, "File a symlink to a FIFO in the dir", path,
			     id);
	check_still_works(h, n++);

	/* The container id becomes a path: only 64 hex digits will do. */
	expect_start_refused(h, "short id", ok.path, "abc");
	expect_start_refused(h, "id of 63", ok.path,
			     "0123456789abcdef0123456789abcdef"
			     "0123456789abcdef0123456789abcde");
	expect_start_refused(h, "id not hex", ok.path,
			     "0123456789abcdef0123456789abcdef"
			     "0123456789abcdef0123456789abcdeg");
	expect_start_refused(h, "id with a path", ok.path,
			     "../../../../../../../../../../../../../../../.."
			     "/tmp/ratelog-x");
	expect_refused_json(h, "id not a string",
			    json_pack("{s:s, s:{s:i}}", "File", ok.path, "Info",
				      "ContainerID", 12));
	check_still_works(h, n++);

	/* One byte over 1 MiB: refused with a message, before parsing. */
	big = start_body_of(ok.path, id, 1024 * 1024 + 1, &big_len);
	assert_non_null(big);
	assert_int_equal(big_len, 1024 * 1024 + 1);
	expect_refused(h, "body of 1 MiB + 1", big, big_len);
	free(big);
	check_still_works(h, n++);
	/* Far over: the HTTP layer may refuse it on its own; the plugin must
	 * neither buffer it nor fall over. */
	big = start_body_of(ok.path, id, 8 * 1024 * 1024, &big_len);
	assert_non_null(big);
	expect_refused_or_status(h, "body of 8 MiB", big, big_len);
	free(big);
	check_still_works(h, n++);

	/* After all that, the good FIFO is still free to use. */
	{
		char *err = NULL;
		struct h_lines ls;

		assert_int_equal(h_start_logging(h, ok.path, id, NULL, &err),
				 200);
		assert_string_equal(err, "");
		free(err);
		assert_int_equal(h_write_line(ok.fd, "stdout", T0, "ok"), 0);
		stop_stream(h, &ok);
		assert_int_equal(h_wait_lines(h, id, 1, H_WAIT_MS), 1);
		assert_int_equal(h_read_lines(h, id, &ls), 0);
		assert_int_equal(ls.n, 1);
		h_lines_release(&ls);
	}
	h_fifo_close(&outside);
	assert_true(h_plugin_alive(h));
}

static void test_unknown_endpoint_and_stray_stop(void **state)
{
	struct harness *h = *state;
	struct h_buf resp = {0};
	char path[PATH_MAX];
	char *err = NULL;

	assert_int_equal(h_post(h, "/LogDriver.Nope", "{}\n", 3, &resp), 404);
	assert_int_equal(h_post(h, "/", "", 0, &resp), 404);
	h_buf_release(&resp);

	/* StopLogging always succeeds, or dockerd leaks the FIFO forever. */
	snprintf(path, sizeof(path), "%s/never-started", h->fifo_dir);
	assert_int_equal(h_stop_logging(h, path, &err), 200);
	assert_string_equal(err, "");
	free(err);
	assert_int_equal(h_stop_logging(h, "/etc/passwd", &err), 200);
	assert_string_equal(err, "");
	free(err);
	check_still_works(h, 0);
}

/*
 * SIGTERM while entries are between the FIFO and the disk: everything
 * the plugin had read is written before it exits 0.
 */
static void test_sigterm_writes_what_was_read(void **state)
{
	enum { N = 5000 };
	struct harness *h = *state;
	struct h_lines ls;
	struct h_fifo f;
	int64_t deadline;
	char line[160];
	char id[65];
	int i;

	h_container_id(id, 50);
	start_stream(h, &f, id, NULL);
	for (i = 0; i < N; i++) {
		snprintf(line, sizeof(line),
			 "in flight %05d "
			 "..........................................."
			 "..........................................",
			 i);
		assert_int_equal(h_write_line(f.fd, "stdout", T0 + i, line), 0);
	}
	/* Wait until the plugin has read it all from the pipe, then stop it
	 * at once, most likely before the writer caught up. */
	deadline = h_now_ms() + H_WAIT_MS;
	while (h_fifo_pending(&f) > 0 && h_now_ms() < deadline)
		h_sleep_ms(1);
	assert_int_equal(h_fifo_pending(&f), 0);
	if (getenv("RATELOG_IT_VERBOSE") != NULL)
		fprintf(stderr, "%zu of %d lines on disk at SIGTERM\n",
			h_count_lines(h, id), N);
	/* Our FIFO end stays open: the exit must not wait for its EOF. */
	assert_int_equal(h_terminate(h), 0);
	h_fifo_close(&f);

	assert_int_equal(h_read_lines(h, id, &ls), 0);
	assert_int_equal(ls.n, N);
	for (i = 0; i < N; i++) {
		char want[170];

		snprintf(want, sizeof(want),
			 "in flight %05d "
			 "..........................................."
			 "..........................................\n",
			 i);
		check_line_str(&ls.v[i], want, "stdout", T0 + i);
	}
	h_lines_release(&ls);
}

/* The managed plugin is configured through its environment. */
static void test_env_config(void **state)
{
	struct harness *h = *state;
	struct h_buf resp = {0};

	assert_int_equal(h_post(h, "/Plugin.Activate", "", 0, &resp), 200);
	h_buf_release(&resp);
	check_still_works(h, 77);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_activate_and_capabilities,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_lines_written, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_partial_chunks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_many_lines_nothing_lost_at_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_start_appends,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_containers,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sparse_containers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_readlogs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readlogs_tail_since_until,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_readlogs_follow, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_malformed_frames, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_unknown_endpoint_and_stray_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_sigterm_writes_what_was_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_config, setup_env,
						teardown),
	};
	int rc;

	/* json-file's 0640 must not depend on the caller's umask. */
	umask(022);
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	rc = cmocka_run_group_tests_name("ratelog plugin", tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
