/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Load: many streams logging at once through one plugin for a while (500
 * for 60 s by default; LOAD_STREAMS and LOAD_SECONDS change that).  Half
 * the streams use rate-policy=block and must lose nothing; the other half
 * use drop with a limit below what they offer, and what is kept plus what
 * the drop notices report must equal what was offered, exactly.  The
 * plugin's RSS is sampled throughout, and after every stream stopped it
 * must hold no more file descriptors than before they started.
 *
 * And one stream at full speed beside 100 quiet ones: the quiet streams'
 * lines reach their files within 100 ms at the 99th percentile.
 *
 * Not part of make test (it takes a minute): run with make load.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/integration/harness.h"

struct stream {
	struct h_fifo f;
	char id[65];
	bool block;
	unsigned sent;
};

static int setup(void **state)
{
	*state = h_new(false);
	return *state != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	return h_free(*state) == 0 ? 0 : -1;
}

static int env_int(const char *name, int fallback)
{
	const char *v = getenv(name);

	return v != NULL && atoi(v) > 0 ? atoi(v) : fallback;
}

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* Lines kept, and lines the notices say were dropped. */
static void tally(struct harness *h, const char *id, unsigned long *kept,
		  unsigned long *dropped)
{
	struct h_lines ls;

	*kept = 0;
	*dropped = 0;
	assert_int_equal(h_read_lines(h, id, &ls), 0);
	for (size_t i = 0; i < ls.n; i++) {
		const char *p;

		if (ls.v[i].log == NULL)
			continue;
		p = strstr(ls.v[i].log, " lines) in ");
		if (strncmp(ls.v[i].log, "ratelog: dropped ", 17) == 0 &&
		    p != NULL) {
			while (p > ls.v[i].log && p[-1] != '(')
				p--;
			*dropped += strtoul(p, NULL, 10);
		} else {
			(*kept)++;
		}
	}
	h_lines_release(&ls);
}

static void test_load(void **state)
{
	struct harness *h = *state;
	int n = env_int("LOAD_STREAMS", 500);
	int secs = env_int("LOAD_SECONDS", 60);
	struct stream *s = calloc((size_t)n, sizeof(*s));
	long rss_max = 0, rss_start;
	int fds_before, fds_after;
	unsigned long total_kept = 0, total_dropped = 0;
	char line[128], name[32], *err;
	int64_t end;

	struct h_buf resp = {0};

	/* Count with the harness's keep-alive connection already open. */
	assert_int_equal(h_post(h, "/LogDriver.Capabilities", "", 0, &resp),
			 200);
	h_buf_release(&resp);
	fds_before = h_count_fds(h->pid);
	rss_start = rss_kb(h->pid);
	for (int i = 0; i < n; i++) {
		s[i].block = i % 2 == 0;
		h_container_id(s[i].id, 2000 + (unsigned)i);
		snprintf(name, sizeof(name), "load%d", i);
		assert_int_equal(h_fifo_new(h, &s[i].f, name), 0);
		err = NULL;
		assert_int_equal(
			h_start_logging(h, s[i].f.path, s[i].id,
					h_opts(s[i].block ? "rate-limit=200k,"
							    "rate-policy=block"
							  : "rate-limit=5k,"
							    "rate-burst=16384"),
					&err),
			200);
		assert_string_equal(err, "");
		free(err);
	}
	/* Each stream: 10 lines of 100 bytes every 100 ms (10 kB/s), twice
	 * what the drop half may keep, a twentieth of the block half's. */
	end = h_now_ms() + secs * 1000;
	while (h_now_ms() < end) {
		int64_t tick = h_now_ms();
		long r;

		for (int i = 0; i < n; i++) {
			for (int k = 0; k < 10; k++) {
				snprintf(line, sizeof(line), "%08u %090d",
					 s[i].sent, 0);
				assert_int_equal(
					h_write_line(s[i].f.fd, "stdout",
						     h_now_real_ns(), line),
					0);
				s[i].sent++;
			}
		}
		r = rss_kb(h->pid);
		if (r > rss_max)
			rss_max = r;
		if (h_now_ms() - tick < 100)
			h_sleep_ms((int)(100 - (h_now_ms() - tick)));
	}
	for (int i = 0; i < n; i++) {
		err = NULL;
		assert_int_equal(h_stop_logging(h, s[i].f.path, &err), 200);
		free(err);
		h_fifo_close(&s[i].f);
	}
	h_sleep_ms(2000);
	for (int i = 0; i < n; i++) {
		unsigned long kept, dropped;

		if (s[i].block)
			assert_int_equal(
				h_wait_lines(h, s[i].id, s[i].sent, H_WAIT_MS),
				s[i].sent);
		tally(h, s[i].id, &kept, &dropped);
		if (s[i].block) {
			assert_int_equal(kept, s[i].sent);
			assert_int_equal(dropped, 0);
		} else if (kept + dropped != s[i].sent) {
			fail_msg("stream %d: %lu kept + %lu dropped != %u sent",
				 i, kept, dropped, s[i].sent);
		}
		total_kept += kept;
		total_dropped += dropped;
	}
	fds_after = h_count_fds(h->pid);
	print_message("%d streams for %d s: %lu lines kept, %lu dropped and "
		      "reported; RSS %ld kB at start, %ld kB at most (%.1f kB "
		      "per stream); fds %d before, %d after\n",
		      n, secs, total_kept, total_dropped, rss_start, rss_max,
		      (double)(rss_max - rss_start) / n, fds_before, fds_after);
	assert_true(fds_after <= fds_before);
	free(s);
}

struct flood {
	struct h_fifo *f;
	atomic_bool stop;
	unsigned long bytes;
};

/* Full speed: 1 MiB writes of framed 100-byte lines until told to stop. */
static void *flood_main(void *arg)
{
	struct flood *fl = arg;
	struct h_buf batch = {0};
	char line[100];

	memset(line, 'n', 99);
	line[99] = '\0';
	while (batch.len < 1024 * 1024) {
		size_t len;
		uint8_t *fr = h_entry_frame("stdout", h_now_real_ns(), line, 99,
					    NULL, &len);

		h_buf_add(&batch, fr, len);
		free(fr);
	}
	while (!atomic_load(&fl->stop)) {
		if (h_write_all(fl->f->fd, batch.data, batch.len) != 0)
			break;
		fl->bytes += batch.len;
	}
	h_buf_release(&batch);
	return NULL;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

/*
 * One stream at full speed beside 100 quiet ones writing a line every
 * 100 ms: the quiet lines reach their files within 100 ms at the 99th
 * percentile (measured by watching the files every 5 ms).
 */
static void test_noisy_neighbour(void **state)
{
	enum { QUIET = 100 };
	struct harness *h = *state;
	int secs = env_int("LOAD_SECONDS", 60) < 10 ? 5 : 10;
	struct stream *q = calloc(QUIET, sizeof(*q));
	int64_t *sent_at = calloc((size_t)QUIET * 1000, sizeof(int64_t));
	long *lat = calloc((size_t)QUIET * 1000, sizeof(long));
	size_t *seen = calloc(QUIET, sizeof(size_t));
	struct h_fifo noisy;
	struct flood fl = {&noisy, false, 0};
	char nid[65], name[32], line[64], *err = NULL;
	pthread_t th;
	size_t nlat = 0;
	int64_t end, next;

	h_container_id(nid, 7000);
	assert_int_equal(h_fifo_new(h, &noisy, "noisy"), 0);
	assert_int_equal(h_start_logging(h, noisy.path, nid,
					 h_opts("rate-limit=0,max-size=50m,"
						"max-file=2"),
					 &err),
			 200);
	free(err);
	for (int i = 0; i < QUIET; i++) {
		h_container_id(q[i].id, 7100 + (unsigned)i);
		snprintf(name, sizeof(name), "quiet%d", i);
		assert_int_equal(h_fifo_new(h, &q[i].f, name), 0);
		err = NULL;
		assert_int_equal(
			h_start_logging(h, q[i].f.path, q[i].id, NULL, &err),
			200);
		free(err);
	}
	pthread_create(&th, NULL, flood_main, &fl);
	end = h_now_ms() + secs * 1000;
	next = h_now_ms();
	while (h_now_ms() < end) {
		if (h_now_ms() >= next) {
			for (int i = 0; i < QUIET && q[i].sent < 1000; i++) {
				snprintf(line, sizeof(line), "q %06u",
					 q[i].sent);
				sent_at[i * 1000 + (int)q[i].sent] = h_now_ms();
				assert_int_equal(
					h_write_line(q[i].f.fd, "stdout",
						     h_now_real_ns(), line),
					0);
				q[i].sent++;
			}
			next += 100;
		}
		/* Watch the quiet files: a line seen now arrived by now. */
		for (int i = 0; i < QUIET; i++) {
			size_t have = h_count_lines(h, q[i].id);

			while (seen[i] < have) {
				lat[nlat++] = (long)(h_now_ms() -
						     sent_at[i * 1000 +
							     (int)seen[i]]);
				seen[i]++;
			}
		}
		h_sleep_ms(5);
	}
	atomic_store(&fl.stop, true);
	pthread_join(th, NULL);
	qsort(lat, nlat, sizeof(*lat), cmp_long);
	print_message(
		"noisy stream: %.0f MB in %d s; %zu quiet lines, "
		"latency p50 %ld ms, p99 %ld ms, max %ld ms\n",
		(double)fl.bytes / 1e6, secs, nlat, nlat ? lat[nlat / 2] : -1,
		nlat ? lat[nlat * 99 / 100] : -1, nlat ? lat[nlat - 1] : -1);
	assert_true(nlat > (size_t)QUIET * (size_t)secs * 8);
	assert_true(lat[nlat * 99 / 100] < 100);
	err = NULL;
	assert_int_equal(h_stop_logging(h, noisy.path, &err), 200);
	free(err);
	h_fifo_close(&noisy);
	for (int i = 0; i < QUIET; i++) {
		err = NULL;
		assert_int_equal(h_stop_logging(h, q[i].f.path, &err), 200);
		free(err);
		h_fifo_close(&q[i].f);
	}
	free(q);
	free(sent_at);
	free(lat);
	free(seen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_noisy_neighbour, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
