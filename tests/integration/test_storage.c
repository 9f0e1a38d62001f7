/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What lands on disk stays bounded and readable: json-file's rotation and
 * compression with its file names, the storage log-opts checked at
 * StartLogging, and a full disk that neither stops the plugin nor goes
 * unreported.  Drives the real binary through harness.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/mount.h>

#include <cmocka.h>
#include <zlib.h>

#include "tests/integration/harness.h"

static unsigned seq;

static int setup(void **state)
{
	*state = h_new(false);
	return *state != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	return h_free(*state) == 0 ? 0 : -1;
}

/* Start a stream for a new container with 'opts' ("k=v,k=v"). */
static void start(struct harness *h, struct h_fifo *f, char id[65],
		  const char *opts)
{
	json_t *cfg = h_opts(opts);
	char name[32];
	char *err = NULL;

	h_container_id(id, 100 + seq);
	snprintf(name, sizeof(name), "s%u", seq++);
	assert_int_equal(h_fifo_new(h, f, name), 0);
	assert_int_equal(h_start_logging(h, f->path, id, cfg, &err), 200);
	assert_non_null(err);
	assert_string_equal(err, "");
	free(err);
}

static void stop(struct harness *h, struct h_fifo *f)
{
	char *err = NULL;

	assert_int_equal(h_stop_logging(h, f->path, &err), 200);
	free(err);
	h_fifo_close(f);
}

/* Numbered 100-byte lines n0 .. n0+count-1. */
static void write_numbered(struct h_fifo *f, unsigned n0, unsigned count)
{
	char line[101];

	for (unsigned i = n0; i < n0 + count; i++) {
		snprintf(line, sizeof(line), "%08u %091d", i, 0);
		assert_int_equal(
			h_write_line(f->fd, "stdout", h_now_real_ns(), line),
			0);
	}
}

/* The whole content of a file, inflated when it is gzip. */
static int slurp(const char *path, bool gz, struct h_buf *out)
{
	char buf[65536];
	gzFile g;
	int n;

	if (!gz)
		return h_read_file(path, out);
	g = gzopen(path, "rb");
	if (g == NULL)
		return -1;
	while ((n = gzread(g, buf, sizeof(buf))) > 0)
		h_buf_add(out, buf, (size_t)n);
	gzclose(g);
	return n < 0 ? -1 : 0;
}

/* Line numbers of every line in 'b', appended to nums. */
static size_t numbers(const struct h_buf *b, unsigned *nums, size_t n,
		      size_t max)
{
	const char *p = b->data;
	const char *end = b->data + b->len;

	while (p < end && n < max) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *v = strstr(p, "\"log\":\"");

		assert_non_null(nl);
		assert_non_null(v);
		nums[n++] = (unsigned)strtoul(v + 7, NULL, 10);
		p = nl + 1;
	}
	return n;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* max-size 64k, max-file 3: at most 3 files, each at most max-size plus
 * one line, holding the newest contiguous run of lines. */
static void check_rotation(void **state, bool gz)
{
	struct harness *h = *state;
	struct h_fifo f;
	char id[65], base[PATH_MAX], p[PATH_MAX + 16];
	unsigned *nums = calloc(4000, sizeof(*nums));
	size_t n = 0;

	start(h, &f, id,
	      gz ? "max-size=64k,max-file=3,compress=true,rate-limit=0"
		 : "max-size=64k,max-file=3,rate-limit=0");
	write_numbered(&f, 0, 3000);
	stop(h, &f);
	h_log_path(h, id, base);
	/* The last line is in the current file once everything is written. */
	for (int64_t end = h_now_ms() + H_WAIT_MS; h_now_ms() < end;) {
		struct h_buf b = {0};
		bool done = h_read_file(base, &b) == 0 &&
			    strstr(b.data, "\"00002999 ") != NULL;

		h_buf_release(&b);
		if (done)
			break;
		h_sleep_ms(20);
	}
	/* Compression runs in the background: wait for the .gz names. */
	for (int64_t end = h_now_ms() + H_WAIT_MS; gz && h_now_ms() < end;) {
		snprintf(p, sizeof(p), "%s.1", base);
		if (!exists(p))
			break;
		h_sleep_ms(20);
	}
	for (int i = 2; i >= 0; i--) {
		struct h_buf b = {0};
		struct stat st;

		if (i == 0)
			snprintf(p, sizeof(p), "%s", base);
		else
			snprintf(p, sizeof(p), "%s.%d%s", base, i,
				 gz ? ".gz" : "");
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0640);
		assert_int_equal(slurp(p, gz && i > 0, &b), 0);
		/* At most max-size plus one line (about 150 bytes). */
		assert_true(b.len <= 64000 + 200);
		if (i > 0)
			assert_true(b.len >= 64000);
		n = numbers(&b, nums, n, 4000);
		h_buf_release(&b);
	}
	snprintf(p, sizeof(p), "%s.3", base);
	assert_false(exists(p));
	snprintf(p, sizeof(p), "%s.3.gz", base);
	assert_false(exists(p));
	snprintf(p, sizeof(p), "%s.1", base);
	assert_true(!gz || !exists(p)); /* compressed, source removed */
	/* The newest lines, contiguous, ending with the last one written. */
	assert_true(n > 1000);
	assert_int_equal(nums[n - 1], 2999);
	for (size_t i = 1; i < n; i++)
		assert_int_equal(nums[i], nums[i - 1] + 1);
	free(nums);
}

static void test_rotation(void **state)
{
	check_rotation(state, false);
}

static void test_rotation_compressed(void **state)
{
	check_rotation(state, true);
}

/* The gzip header carries the last entry's time, as json-file's does. */
static void test_gzip_last_time(void **state)
{
	struct harness *h = *state;
	struct h_fifo f;
	char id[65], base[PATH_MAX], p[PATH_MAX + 16];
	unsigned char head[512];
	FILE *fp = NULL;
	size_t n;

	start(h, &f, id, "max-size=1k,max-file=2,compress=true");
	write_numbered(&f, 0, 30);
	stop(h, &f);
	h_log_path(h, id, base);
	snprintf(p, sizeof(p), "%s.1.gz", base);
	for (int64_t end = h_now_ms() + H_WAIT_MS; h_now_ms() < end;) {
		fp = fopen(p, "rb");
		if (fp != NULL)
			break;
		h_sleep_ms(20);
	}
	assert_non_null(fp);
	n = fread(head, 1, sizeof(head), fp);
	fclose(fp);
	/* ID1 ID2 CM FLG(FEXTRA) ... XLEN, then the Extra bytes. */
	assert_true(n > 12);
	assert_int_equal(head[0], 0x1f);
	assert_int_equal(head[1], 0x8b);
	assert_true(head[3] & 0x04);
	if (memcmp(head + 12, "{\"lastTime\":\"20", 15) != 0)
		fail_msg("gzip header: %.40s (xlen %u)", head + 12,
			 head[10] | head[11] << 8);
}

static void expect_refused(struct harness *h, const char *key,
			   const char *value, const char *needle)
{
	struct h_fifo f;
	char id[65], name[32];
	char *err = NULL;

	h_container_id(id, 900 + seq);
	snprintf(name, sizeof(name), "bad%u", seq++);
	assert_int_equal(h_fifo_new(h, &f, name), 0);
	assert_int_equal(h_start_logging(h, f.path, id,
					 json_pack("{s:s}", key, value), &err),
			 200);
	assert_non_null(err);
	if (strstr(err, needle) == NULL)
		fail_msg("Err for %s=%s is \"%s\", expected \"%s\" in it", key,
			 value, err, needle);
	free(err);
	h_fifo_close(&f);
}

static void test_bad_storage_options(void **state)
{
	struct harness *h = *state;
	struct h_fifo f;
	char id[65];

	expect_refused(h, "max-sise", "10m", "unknown log-opt \"max-sise\"");
	expect_refused(h, "max-sise", "10m", "max-size");
	expect_refused(h, "max-size", "ten", "max-size");
	expect_refused(h, "max-file", "0", "max-file");
	expect_refused(h, "compress", "maybe", "compress");
	expect_refused(h, "tag", "{{.Nope}}", "tag");
	/* dockerd's own options are accepted and ignored. */
	start(h, &f, id,
	      "mode=non-blocking,max-buffer-size=4m,cache-disabled=true");
	write_numbered(&f, 0, 3);
	stop(h, &f);
	assert_int_equal(h_wait_lines(h, id, 3, H_WAIT_MS), 3);
}

/*
 * The log root fills up: the plugin stays up and keeps serving, and once
 * space returns it writes again, after a notice with what was lost.
 */
static void test_full_disk(void **state)
{
	struct harness *h = *state;
	struct h_fifo f;
	char id[65], path[PATH_MAX], filler[PATH_MAX];
	struct h_lines ls;
	struct h_buf resp = {0};
	bool notice = false, after = false;
	int fd;

	if (mount("tmpfs", h->log_root, "tmpfs", 0, "size=256k") != 0) {
		print_message("skipped: cannot mount a tmpfs (%s)\n",
			      strerror(errno));
		skip();
	}
	/* Fill most of it with a file of our own, to free later. */
	snprintf(filler, sizeof(filler), "%s/filler", h->log_root);
	fd = open(filler, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	for (int i = 0; i < 48; i++) {
		char block[4096];

		memset(block, 'f', sizeof(block));
		if (write(fd, block, sizeof(block)) != (ssize_t)sizeof(block))
			break;
	}
	close(fd);
	start(h, &f, id, "rate-limit=0,max-size=10m");
	write_numbered(&f, 0, 2000); /* about 300 KB of json: over the top */
	h_sleep_ms(500);
	assert_true(h_plugin_alive(h));
	assert_int_equal(h_post(h, "/LogDriver.Capabilities", "", 0, &resp),
			 200);
	h_buf_release(&resp);

	assert_int_equal(unlink(filler), 0);
	h_log_path(h, id, path);
	assert_int_equal(truncate(path, 0), 0);
	h_sleep_ms(300); /* past the first retry backoff */
	assert_int_equal(h_write_line(f.fd, "stdout", h_now_real_ns(),
				      "after the disk was freed"),
			 0);
	stop(h, &f);
	for (int64_t end = h_now_ms() + H_WAIT_MS; h_now_ms() < end;) {
		assert_int_equal(h_read_lines(h, id, &ls), 0);
		for (size_t i = 0; i < ls.n; i++) {
			if (ls.v[i].log != NULL &&
			    strncmp(ls.v[i].log, "ratelog: lost ", 14) == 0 &&
			    strcmp(ls.v[i].stream, "stderr") == 0 &&
			    strstr(ls.v[i].raw,
				   "\"attrs\":{\"ratelog\":\"notice\"}") !=
				    NULL)
				notice = true;
			if (ls.v[i].log != NULL &&
			    strcmp(ls.v[i].log, "after the disk was freed\n") ==
				    0)
				after = notice;
		}
		h_lines_release(&ls);
		if (after)
			break;
		h_sleep_ms(50);
	}
	umount2(h->log_root, MNT_DETACH);
	assert_true(notice);
	assert_true(after);
}

/* labels, env and tag become json-file's attrs on every line. */
static void test_attrs(void **state)
{
	struct harness *h = *state;
	struct h_fifo f;
	struct h_lines ls;
	char id[65];

	start(h, &f, id, "labels=com.example.team,env=FOO,tag={{.Name}}");
	write_numbered(&f, 0, 2);
	stop(h, &f);
	assert_int_equal(h_wait_lines(h, id, 2, H_WAIT_MS), 2);
	assert_int_equal(h_read_lines(h, id, &ls), 0);
	for (size_t i = 0; i < ls.n; i++)
		assert_non_null(strstr(ls.v[i].raw,
				       "\"attrs\":{\"FOO\":\"bar\","
				       "\"com.example.team\":\"x\","
				       "\"tag\":\"web\"},\"time\":"));
	h_lines_release(&ls);
}

/* Allocated bytes of every file under 'dir' (one level of subdirs). */
static uint64_t disk_used(const char *dir)
{
	char cmd[PATH_MAX + 64];
	unsigned long long kb = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "du -sk '%s'", dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%llu", &kb), 1);
	pclose(p);
	return (uint64_t)kb * 1024;
}

/*
 * NODE_MAX_DISK over 50 containers writing at once: rotated files go to
 * hold the cap, the current file of a running container never does.
 */
static int setup_capped(void **state)
{
	setenv("NODE_MAX_DISK", "300k", 1);
	*state = h_new(false);
	unsetenv("NODE_MAX_DISK");
	return *state != NULL ? 0 : -1;
}

static void test_node_disk_cap(void **state)
{
	enum { N = 50, LINES = 300 };
	struct harness *h = *state;
	struct h_fifo f[N];
	struct {
		char v[65];
	} id[N];
	char path[PATH_MAX];
	uint64_t used;

	for (int i = 0; i < N; i++)
		start(h, &f[i], id[i].v, "max-size=8k,max-file=5,rate-limit=0");
	for (int k = 0; k < LINES; k += 30)
		for (int i = 0; i < N; i++)
			write_numbered(&f[i], (unsigned)k, 30);
	for (int i = 0; i < N; i++) {
		/* Every line reached the writer, the last in the current. */
		for (int64_t end = h_now_ms() + H_WAIT_MS; h_now_ms() < end;) {
			struct h_buf b = {0};
			bool done;

			h_log_path(h, id[i].v, path);
			done = h_read_file(path, &b) == 0 &&
			       strstr(b.data, "\"00000299 ") != NULL;
			h_buf_release(&b);
			if (done)
				break;
			h_sleep_ms(10);
		}
	}
	h_sleep_ms(300); /* the janitor's pass after the last rotation */
	/* Never a running container's current file. */
	for (int i = 0; i < N; i++) {
		h_log_path(h, id[i].v, path);
		assert_true(exists(path));
	}
	used = disk_used(h->log_root);
	/* Without the cap about 50 x 5 x 8k = 2 MB would be kept; the
	 * current files (at most max-size plus a line each, in 4k blocks)
	 * are all that may exceed it. */
	if (used > 300000 + N * 12288)
		fail_msg("%llu bytes under the log root, cap 300k",
			 (unsigned long long)used);
	for (int i = 0; i < N; i++)
		stop(h, &f[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_compressed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_gzip_last_time, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_attrs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_storage_options, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_full_disk, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_node_disk_cap,
						setup_capped, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
