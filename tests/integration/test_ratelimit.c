/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rate limits through the real plugin: under rate-policy=drop a flood keeps
 * at most the burst plus the rate over the time it took, a notice in the
 * log says what was dropped, and a line after a pause passes; under
 * rate-policy=block every line arrives, in order, at the limit's pace; the
 * lines of quiet containers under a node budget are not touched by a noisy
 * one; invalid values are refused by name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

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

static void start(struct harness *h, struct h_fifo *f, char id[65],
		  const char *spec)
{
	char name[32];
	char *err = NULL;

	h_container_id(id, 300 + seq);
	snprintf(name, sizeof(name), "r%u", seq++);
	assert_int_equal(h_fifo_new(h, f, name), 0);
	assert_int_equal(h_start_logging(h, f->path, id, h_opts(spec), &err),
			 200);
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

/* A 100-byte line numbered i (99 characters and the newline). */
static void line_of(char *buf, size_t cap, unsigned i)
{
	snprintf(buf, cap, "%08u %090d", i, 0);
}

struct tally {
	size_t lines;	  /* the container's own lines */
	size_t bytes;	  /* their text, newlines included */
	size_t notices;	  /* ratelog's drop notices */
	size_t dropped;	  /* the lines they say were dropped */
	bool ordered;	  /* numbers strictly increase */
	unsigned last;	  /* the last number seen */
	bool after_pause; /* the marker line is there */
};

static void count(struct harness *h, const char *id, struct tally *t)
{
	struct h_lines ls;
	long prev = -1;

	memset(t, 0, sizeof(*t));
	t->ordered = true;
	assert_int_equal(h_read_lines(h, id, &ls), 0);
	for (size_t i = 0; i < ls.n; i++) {
		const char *log = ls.v[i].log;

		if (log == NULL)
			continue;
		if (strncmp(log, "ratelog: dropped ", 17) == 0) {
			const char *n = strstr(log, " (");

			assert_string_equal(ls.v[i].stream, "stderr");
			assert_non_null(n);
			t->dropped += strtoul(n + 2, NULL, 10);
			assert_non_null(strstr(ls.v[i].raw,
					       "\"attrs\":{\"ratelog\":"
					       "\"notice\"}"));
			t->notices++;
			continue;
		}
		if (strcmp(log, "after the pause\n") == 0) {
			t->after_pause = true;
			continue;
		}
		t->lines++;
		t->bytes += ls.v[i].log_len;
		t->last = (unsigned)strtoul(log, NULL, 10);
		if ((long)t->last <= prev)
			t->ordered = false;
		prev = (long)t->last;
	}
	h_lines_release(&ls);
}

/*
 * 2 MB offered at once with rate-limit=100k,rate-burst=100k: what is kept
 * is at least the burst and at most burst + rate x elapsed (+ one line).
 */
static void test_drop(void **state)
{
	struct harness *h = *state;
	struct h_fifo f;
	struct tally t;
	char id[65], line[128];
	int64_t t0, t1;
	double secs;

	start(h, &f, id, "rate-limit=100k,rate-burst=100k");
	t0 = h_now_ms();
	for (unsigned i = 0; i < 20000; i++) {
		line_of(line, sizeof(line), i);
		assert_int_equal(
			h_write_line(f.fd, "stdout", h_now_real_ns(), line), 0);
	}
	/* The plugin has read everything once the pipe is empty. */
	while (h_fifo_pending(&f) > 0 && h_now_ms() - t0 < H_WAIT_MS)
		h_sleep_ms(1);
	t1 = h_now_ms();
	h_sleep_ms(1500);
	assert_int_equal(h_write_line(f.fd, "stdout", h_now_real_ns(),
				      "after the pause"),
			 0);
	stop(h, &f);
	h_sleep_ms(300);
	count(h, id, &t);
	secs = (double)(t1 - t0) / 1000.0 + 0.05;
	print_message("kept %zu lines (%zu bytes) of 20000 in %.2f s, %zu "
		      "notices\n",
		      t.lines, t.bytes, secs, t.notices);
	assert_true(secs < 2.0); /* 2 MB offered in under a second or so */
	assert_true((double)t.bytes <= 100000 + 100000 * secs + 101);
	assert_true(t.bytes >= 100000 - 101);
	assert_true(t.ordered);
	assert_true(t.notices >= 1);
	assert_true(t.after_pause);
	/* Every line offered is kept or counted in a notice, those the
	 * decoder skipped unread after a drop (FRAME_SKIP) included. */
	assert_int_equal(t.lines + t.dropped, 20000);
}

/* rate-policy=block: 600 KB at 200k/s all arrive, in order, in >= 2.5 s. */
static void test_block(void **state)
{
	struct harness *h = *state;
	struct h_fifo f;
	struct tally t;
	char id[65], line[128];
	int64_t t0, t1;

	start(h, &f, id, "rate-limit=200k,rate-burst=20k,rate-policy=block");
	t0 = h_now_ms();
	for (unsigned i = 0; i < 6000; i++) {
		line_of(line, sizeof(line), i);
		assert_int_equal(
			h_write_line(f.fd, "stdout", h_now_real_ns(), line), 0);
	}
	stop(h, &f);
	assert_int_equal(h_wait_lines(h, id, 6000, 20000), 6000);
	t1 = h_now_ms();
	count(h, id, &t);
	print_message("6000 lines in %.2f s\n", (double)(t1 - t0) / 1000.0);
	assert_int_equal(t.lines, 6000);
	assert_true(t.ordered);
	assert_int_equal(t.last, 5999);
	assert_int_equal(t.notices, 0);
	assert_true(t1 - t0 >= 2500);
}

/*
 * A node budget: one container floods, ten write a little; the ten lose
 * nothing, the flood absorbs the cut.
 */
static int setup_node(void **state)
{
	setenv("NODE_RATE_LIMIT", "200k", 1);
	*state = h_new(false);
	unsetenv("NODE_RATE_LIMIT");
	return *state != NULL ? 0 : -1;
}

static void test_node_budget(void **state)
{
	enum { QUIET = 10 };
	struct harness *h = *state;
	struct h_fifo noisy, quiet[QUIET];
	struct {
		char v[65];
	} qid[QUIET];
	struct tally t;
	char nid[65], line[128];

	start(h, &noisy, nid, "rate-limit=0");
	for (int q = 0; q < QUIET; q++)
		start(h, &quiet[q], qid[q].v, "rate-limit=0");
	/* Two seconds: the noisy one offers 1 MB every 100 ms, each quiet
	 * one 1 KB (10 kB/s, far below 200k / 11). */
	for (int round = 0; round < 20; round++) {
		for (unsigned i = 0; i < 10000; i++) {
			line_of(line, sizeof(line),
				(unsigned)round * 10000 + i);
			if (h_write_line(noisy.fd, "stdout", h_now_real_ns(),
					 line) != 0)
				break;
		}
		for (int q = 0; q < QUIET; q++)
			for (unsigned i = 0; i < 10; i++) {
				line_of(line, sizeof(line),
					(unsigned)round * 10 + i);
				assert_int_equal(
					h_write_line(quiet[q].fd, "stdout",
						     h_now_real_ns(), line),
					0);
			}
		h_sleep_ms(100);
	}
	stop(h, &noisy);
	for (int q = 0; q < QUIET; q++)
		stop(h, &quiet[q]);
	for (int q = 0; q < QUIET; q++) {
		assert_int_equal(h_wait_lines(h, qid[q].v, 200, H_WAIT_MS),
				 200);
		count(h, qid[q].v, &t);
		assert_int_equal(t.lines, 200);
		assert_int_equal(t.notices, 0);
	}
	h_sleep_ms(300);
	count(h, nid, &t);
	print_message("noisy kept %zu of 200000 lines\n", t.lines);
	assert_true(t.lines < 200000 / 2);
	assert_true(t.notices >= 1);
}

static void expect_refused(struct harness *h, const char *spec,
			   const char *needle)
{
	struct h_fifo f;
	char id[65], name[32];
	char *err = NULL;

	h_container_id(id, 700 + seq);
	snprintf(name, sizeof(name), "bad%u", seq++);
	assert_int_equal(h_fifo_new(h, &f, name), 0);
	assert_int_equal(h_start_logging(h, f.path, id, h_opts(spec), &err),
			 200);
	assert_non_null(err);
	if (strstr(err, needle) == NULL)
		fail_msg("Err for %s is \"%s\", expected \"%s\" in it", spec,
			 err, needle);
	free(err);
	h_fifo_close(&f);
}

static void test_bad_values(void **state)
{
	struct harness *h = *state;
	struct h_fifo f;
	char id[65];

	expect_refused(h, "rate-limit=-5", "rate-limit=\"-5\"");
	expect_refused(h, "rate-burst=abc", "rate-burst=\"abc\"");
	expect_refused(h, "rate-policy=sometimes", "rate-policy");
	expect_refused(h, "rate-policy=sometimes", "drop");
	expect_refused(h, "rate-limt=1m", "unknown log-opt \"rate-limt\"");
	expect_refused(h, "rate-notice=perhaps", "rate-notice");
	/* The plugin still serves a good stream after all that. */
	start(h, &f, id, "rate-limit=1m");
	assert_int_equal(h_write_line(f.fd, "stdout", h_now_real_ns(), "ok"),
			 0);
	stop(h, &f);
	assert_int_equal(h_wait_lines(h, id, 1, H_WAIT_MS), 1);
}

/* The plugin with a 64 kB writer queue per container (QUEUE_MAX). */
static int setup_small_queue(void **state)
{
	setenv("QUEUE_MAX", "64k", 1);
	*state = h_new(false);
	unsetenv("QUEUE_MAX");
	return *state != NULL ? 0 : -1;
}

/*
 * 'n' lines numbered from 'first' as frames in one buffer, written at
 * once: the pipe fills, and each read of the plugin takes far more than
 * its queue holds.
 */
static void flood(struct h_fifo *f, unsigned first, unsigned n)
{
	uint8_t *all = NULL;
	size_t len = 0;
	size_t cap = 0;
	char line[128];

	for (unsigned i = 0; i < n; i++) {
		size_t k = 0;
		uint8_t *fr;

		line_of(line, sizeof(line), first + i);
		fr = h_entry_frame("stdout", h_now_real_ns(), line,
				   strlen(line), NULL, &k);
		assert_non_null(fr);
		if (len + k > cap) {
			cap = cap * 2 + k + 4096;
			all = realloc(all, cap);
			assert_non_null(all);
		}
		memcpy(all + len, fr, k);
		len += k;
		free(fr);
	}
	assert_int_equal(h_write_all(f->fd, all, len), 0);
	free(all);
}

/*
 * A full queue under rate-policy=block: with a 64 kB queue and 2.5 MB
 * flooded at once, the stream waits for the writer again and again and is
 * woken each time (the writer wakes the loop only when something waits on
 * it); every line arrives, in order.  The same flood under the default
 * policy loses lines to the full queue, so the first case did wait, and a
 * notice in the container's log says how many.
 */
static void test_full_queue(void **state)
{
	enum { N = 20000 };
	struct harness *h = *state;
	struct h_fifo f, g;
	struct tally t;
	char id[65], id2[65];
	struct h_lines ls;
	bool said = false;
	size_t got;

	start(h, &f, id, "rate-limit=0,rate-policy=block");
	flood(&f, 0, N);
	stop(h, &f);
	assert_int_equal(h_wait_lines(h, id, N, 20000), N);
	count(h, id, &t);
	assert_int_equal(t.lines, N);
	assert_true(t.ordered);
	assert_int_equal(t.last, N - 1);
	assert_int_equal(t.notices, 0);

	/* Three floods 200 ms apart: the queue empties between them, and
	 * lines get in and are lost by turns.  One notice says it all, at the
	 * end (not one per turn: within a second of the last loss, and within
	 * 5 s of the first, no notice is due). */
	start(h, &g, id2, "rate-limit=0");
	for (int k = 0; k < 3; k++) {
		flood(&g, (unsigned)k * N, N);
		h_sleep_ms(200);
	}
	stop(h, &g);
	got = h_wait_lines(h, id2, 3 * N, 3000);
	print_message("drop policy: %zu of %d lines\n", got, 3 * N);
	assert_true(got > 0 && got < (size_t)N);
	count(h, id2, &t);
	assert_true(t.ordered);
	/* And the container's log says so, with the numbers. */
	assert_int_equal(t.notices, 1);
	assert_true(t.lines + t.notices == got);
	assert_int_equal(h_read_lines(h, id2, &ls), 0);
	for (size_t i = 0; i < ls.n; i++) {
		const char *log = ls.v[i].log;

		if (log != NULL && strstr(log, "(QUEUE_MAX) was full") != NULL)
			said = true;
	}
	h_lines_release(&ls);
	assert_true(said);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_drop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_budget, setup_node,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_values, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_full_queue,
						setup_small_queue, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
