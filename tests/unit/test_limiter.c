/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One container's limiter on a fake clock: exact admitted bytes and lines,
 * the lines bucket, a refusal charging nothing, partial lines decided at
 * their first chunk (per source, cut only past one burst of debt), lines
 * longer than the burst, the block policy's exact waits, the node budget
 * behind it, and the notices: when they are due, their counts and their
 * text.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ratelimit/limiter.h"
#include "ratelimit/node.h"
#include "store/entry.h"

#define NS INT64_C(1000000000)
#define MS INT64_C(1000000)
#define US INT64_C(1000)

static const char id_a[] =
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char id_b[] =
	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/* The limiter reads only lengths, but give it real bytes all the same. */
static uint8_t bytes[1 << 20];

static struct log_entry line_on(const char *source, size_t len)
{
	struct log_entry e;

	memset(&e, 0, sizeof(e));
	e.source = source;
	e.source_len = strlen(source);
	e.line = bytes;
	e.line_len = len;
	return e;
}

static struct log_entry line(size_t len)
{
	return line_on("stdout", len);
}

static struct log_entry chunk(const char *source, const char *id,
			      int32_t ordinal, bool last, size_t len)
{
	struct log_entry e = line_on(source, len);

	e.partial = true;
	e.partial_last = last;
	e.partial_id = id;
	e.partial_id_len = strlen(id);
	e.partial_ordinal = ordinal;
	return e;
}

static enum limiter_verdict offer(struct limiter *l, struct log_entry e,
				  int64_t t)
{
	int64_t w = -1;
	enum limiter_verdict v = limiter_offer(l, &e, t, &w);

	if (v == LIMITER_WAIT)
		assert_true(w >= 1);
	else
		assert_true(w == 0);
	return v;
}

static struct limiter *make(uint64_t rate, uint64_t burst, bool notice)
{
	struct limiter_config cfg = {
		.rate_bytes = rate,
		.burst_bytes = burst,
		.policy = LIMITER_POLICY_DROP,
		.notice = notice,
	};
	struct limiter *l;

	assert_int_equal(limiter_config_check(&cfg), 0);
	l = limiter_new(&cfg, NULL, 0);
	assert_non_null(l);
	return l;
}

static struct limiter_stats stats(const struct limiter *l)
{
	struct limiter_stats st;

	limiter_get_stats(l, &st);
	return st;
}

static void test_config_check(void **state)
{
	struct limiter_config cfg = {.rate_bytes = 1000};

	(void)state;
	assert_int_equal(limiter_config_check(&cfg), 0);
	cfg.rate_bytes = UINT64_C(1000000000001);
	assert_int_equal(limiter_config_check(&cfg), -EINVAL);
	cfg.rate_bytes = 0;
	cfg.burst_bytes = 10;
	assert_int_equal(limiter_config_check(&cfg), -EINVAL);
	cfg.burst_bytes = 0;
	cfg.burst_lines = 10;
	assert_int_equal(limiter_config_check(&cfg), -EINVAL);
	cfg.burst_lines = 0;
	cfg.policy = (enum limiter_policy)7;
	assert_int_equal(limiter_config_check(&cfg), -EINVAL);
	limiter_free(NULL);
}

static void test_unlimited(void **state)
{
	struct limiter *l = make(0, 0, true);
	struct limiter_stats st;

	(void)state;
	for (int i = 0; i < 10000; i++)
		assert_int_equal(offer(l, line(1000), 0), LIMITER_ADMIT);
	st = stats(l);
	assert_int_equal(st.admitted_lines, 10000);
	assert_int_equal(st.admitted_bytes, 10000000);
	assert_int_equal(st.dropped_lines, 0);
	assert_false(limiter_notice_due(l, 100 * NS));
	assert_true(limiter_next_deadline(l) == INT64_MAX);
	limiter_free(l);
}

/*
 * rate 100 kB/s, burst 100 kB, 2 MB offered in 1 s as 100-byte lines every
 * 50 us: burst + floor(rate * 0.99995 s) = 199,995, less the part of a line
 * left in the bucket: exactly 199,900 bytes, 1999 lines.
 */
static void test_steady_writer_exact(void **state)
{
	struct limiter *l = make(100000, 100000, false);
	struct limiter_stats st;

	(void)state;
	for (int i = 0; i < 20000; i++)
		(void)offer(l, line(100), i * 50 * US);
	st = stats(l);
	assert_int_equal(st.admitted_bytes, 199900);
	assert_int_equal(st.admitted_lines, 1999);
	assert_int_equal(st.dropped_bytes, 2000000 - 199900);
	assert_int_equal(st.dropped_lines, 20000 - 1999);
	limiter_free(l);
}

/* The default burst is 4 x rate; the entry overhead is charged too. */
static void test_default_burst_and_overhead(void **state)
{
	struct limiter_config cfg = {.rate_bytes = 1000, .entry_overhead = 50};
	struct limiter *l = limiter_new(&cfg, NULL, 0);
	int admitted = 0;

	(void)state;
	assert_non_null(l);
	for (int i = 0; i < 100; i++)
		admitted += offer(l, line(50), 0) == LIMITER_ADMIT;
	/* 4000 / (50 + 50) */
	assert_int_equal(admitted, 40);
	assert_int_equal(stats(l).admitted_bytes, 40 * 50);
	limiter_free(l);
}

/* Bursts after idle get the burst, not the idle time. */
static void test_idle_then_burst(void **state)
{
	struct limiter *l = make(10000, 20000, false);

	(void)state;
	for (int b = 0; b < 3; b++)
		for (int i = 0; i < 100; i++)
			(void)offer(l, line(1000), (int64_t)b * 3600 * NS);
	assert_int_equal(stats(l).admitted_bytes, 3 * 20000);
	limiter_free(l);
}

/* rate-limit-lines 10, burst 20: 1000 lines at 1 ms: 20 + floor(9.99). */
static void test_lines_bucket(void **state)
{
	struct limiter_config cfg = {.rate_lines = 10, .burst_lines = 20};
	struct limiter *l = limiter_new(&cfg, NULL, 0);
	char buf[LIMITER_NOTICE_MAX];

	(void)state;
	for (int i = 0; i < 1000; i++)
		(void)offer(l, line(100000), i * MS);
	assert_int_equal(stats(l).admitted_lines, 29);
	assert_true(limiter_notice_take(l, NS, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "ratelog: dropped 97.1 MB (971 lines) in "
				 "1.0 s over rate-limit-lines 10 lines/s");
	limiter_free(l);
}

/* A line passes only when every bucket allows; a refusal charges none. */
static void test_refusal_charges_nothing(void **state)
{
	struct limiter_config cfg = {.rate_bytes = 100,
				     .burst_bytes = 100,
				     .rate_lines = 1,
				     .burst_lines = 2,
				     .notice = true};
	struct limiter *l = limiter_new(&cfg, NULL, 0);
	char buf[LIMITER_NOTICE_MAX];

	(void)state;
	assert_int_equal(offer(l, line(60), 0), LIMITER_ADMIT);
	/* Bytes refuse (40 < 50): the lines bucket keeps its token. */
	assert_int_equal(offer(l, line(50), 0), LIMITER_DROP);
	assert_int_equal(offer(l, line(40), 0), LIMITER_ADMIT);
	/* Lines refuse: the bytes bucket is not charged either. */
	assert_int_equal(offer(l, line(0), 0), LIMITER_DROP);
	/* 10 ms: 1 byte, no line yet. */
	assert_int_equal(offer(l, line(1), 10 * MS), LIMITER_DROP);
	/* 1 s: one line token, exactly 100 bytes. */
	assert_int_equal(offer(l, line(100), NS), LIMITER_ADMIT);
	assert_true(limiter_notice_take(l, NS, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "ratelog: dropped 51 B (3 lines) in 1.0 s "
				 "over rate-limit 100 B/s and "
				 "rate-limit-lines 1 lines/s");
	limiter_free(l);
}

/* An admitted partial line goes through whole, charged into debt. */
static void test_partial_admitted_whole(void **state)
{
	struct limiter *l = make(1000, 40000, false);
	struct limiter_stats st;

	(void)state;
	assert_int_equal(offer(l, chunk("stdout", id_a, 1, false, 16000), 0),
			 LIMITER_ADMIT);
	assert_int_equal(offer(l, chunk("stdout", id_a, 2, false, 16000), 0),
			 LIMITER_ADMIT);
	assert_int_equal(offer(l, chunk("stdout", id_a, 3, true, 16000), 0),
			 LIMITER_ADMIT);
	/* 40,000 - 48,000 = -8,000: repaid at 1000 B/s, +100 at 8.1 s. */
	assert_int_equal(offer(l, line(100), 0), LIMITER_DROP);
	assert_int_equal(offer(l, line(100), 8100 * MS - 1), LIMITER_DROP);
	assert_int_equal(offer(l, line(100), 8100 * MS), LIMITER_ADMIT);
	st = stats(l);
	assert_int_equal(st.admitted_lines, 2);
	assert_int_equal(st.admitted_bytes, 48100);
	assert_int_equal(st.dropped_lines, 2);
	limiter_free(l);
}

/* A dropped partial line stays dropped, even once tokens return. */
static void test_partial_dropped_whole(void **state)
{
	struct limiter *l = make(1000, 1000, false);
	struct limiter_stats st;

	(void)state;
	assert_int_equal(offer(l, line(1000), 0), LIMITER_ADMIT);
	assert_int_equal(offer(l, chunk("stdout", id_a, 1, false, 500), 0),
			 LIMITER_DROP);
	assert_int_equal(
		offer(l, chunk("stdout", id_a, 2, false, 500), 100 * NS),
		LIMITER_DROP);
	assert_int_equal(
		offer(l, chunk("stdout", id_a, 3, true, 500), 100 * NS),
		LIMITER_DROP);
	/* The next line is new and the bucket is full. */
	assert_int_equal(offer(l, line(500), 100 * NS), LIMITER_ADMIT);
	st = stats(l);
	assert_int_equal(st.dropped_lines, 1);
	assert_int_equal(st.dropped_bytes, 1500);
	assert_int_equal(st.admitted_lines, 2);
	limiter_free(l);
}

/* stdout and stderr interleave; each keeps its own partial line. */
static void test_partial_per_source(void **state)
{
	struct limiter *l = make(1000, 1000, false);

	(void)state;
	assert_int_equal(offer(l, line(1000), 0), LIMITER_ADMIT);
	assert_int_equal(offer(l, chunk("stdout", id_a, 1, false, 10), 0),
			 LIMITER_DROP);
	/* stderr, one second later, starts a line that passes. */
	assert_int_equal(offer(l, chunk("stderr", id_b, 1, false, 100), NS),
			 LIMITER_ADMIT);
	assert_int_equal(offer(l, chunk("stdout", id_a, 2, false, 10), NS),
			 LIMITER_DROP);
	assert_int_equal(offer(l, line_on("stderr", 0), NS), LIMITER_ADMIT);
	/* stderr's line was closed by a whole line: ordinal 2 of id_b
	 * is no longer a continuation and is decided on its own. */
	assert_int_equal(offer(l, chunk("stderr", id_b, 2, true, 10), NS),
			 LIMITER_ADMIT);
	assert_int_equal(offer(l, chunk("stdout", id_a, 3, true, 10), NS),
			 LIMITER_DROP);
	assert_int_equal(offer(l, line(10), NS), LIMITER_ADMIT);
	assert_int_equal(stats(l).dropped_lines, 1);
	assert_int_equal(stats(l).dropped_bytes, 30);
	limiter_free(l);
}

/*
 * A partial line with no end (dockerd's 16 KiB chunks of output without a
 * newline) is cut once it would put the bucket a burst into debt, and the
 * rest of it is dropped.
 */
static void test_partial_without_end_is_cut(void **state)
{
	struct limiter *l = make(1000, 10000, true);
	struct limiter_stats st;
	char buf[LIMITER_NOTICE_MAX];

	(void)state;
	/* 10,000 -> 6,000 -> 2,000 -> -2,000 -> -6,000 -> -10,000. */
	for (int32_t i = 1; i <= 5; i++)
		assert_int_equal(
			offer(l, chunk("stdout", id_a, i, false, 4000), 0),
			LIMITER_ADMIT);
	assert_int_equal(offer(l, chunk("stdout", id_a, 6, false, 4000), 0),
			 LIMITER_DROP);
	for (int32_t i = 7; i <= 100; i++)
		assert_int_equal(offer(l, chunk("stdout", id_a, i, false, 4000),
				       (int64_t)i * NS),
				 LIMITER_DROP);
	assert_int_equal(
		offer(l, chunk("stdout", id_a, 101, true, 1), 101 * NS),
		LIMITER_DROP);
	st = stats(l);
	assert_int_equal(st.admitted_lines, 1);
	assert_int_equal(st.admitted_bytes, 20000);
	assert_int_equal(st.dropped_lines, 1);
	assert_int_equal(st.dropped_bytes, 95 * 4000 + 1);
	assert_true(limiter_notice_take(l, 101 * NS, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "ratelog: dropped 380.0 kB (1 line) in "
				 "101.0 s over rate-limit 1 kB/s");
	limiter_free(l);
}

/* A line left open (EOF without a last chunk) does not taint the next. */
static void test_partial_left_open(void **state)
{
	struct limiter *l = make(1000, 1000, false);

	(void)state;
	assert_int_equal(offer(l, line(1000), 0), LIMITER_ADMIT);
	assert_int_equal(offer(l, chunk("stdout", id_a, 1, false, 10), 0),
			 LIMITER_DROP);
	assert_int_equal(offer(l, chunk("stdout", id_a, 2, false, 10), NS),
			 LIMITER_DROP);
	/* A new partial line, a new decision. */
	assert_int_equal(offer(l, chunk("stdout", id_b, 1, false, 10), NS),
			 LIMITER_ADMIT);
	/* A chunk whose start was never seen is decided on its own. */
	assert_int_equal(offer(l, chunk("stderr", id_a, 5, true, 10), NS),
			 LIMITER_ADMIT);
	assert_int_equal(stats(l).admitted_lines, 3);
	limiter_free(l);
}

/* A line longer than the burst passes on a full bucket, then is repaid. */
static void test_huge_line(void **state)
{
	struct limiter *l = make(1000, 1000, false);

	(void)state;
	assert_int_equal(offer(l, line(5000), 0), LIMITER_ADMIT);
	assert_int_equal(offer(l, line(100), 4100 * MS - 1), LIMITER_DROP);
	assert_int_equal(offer(l, line(100), 4100 * MS), LIMITER_ADMIT);
	/* Not full: a huge line waits for a full bucket. */
	assert_int_equal(offer(l, line(5000), 5000 * MS), LIMITER_DROP);
	assert_int_equal(offer(l, line(5000), 5100 * MS), LIMITER_ADMIT);
	limiter_free(l);
}

/*
 * Block policy: a writer that always has a line ready and waits as told
 * gets every line through, in order, at exactly the limit, and each wait
 * is exact (one ns earlier it would wait 1 ns more).
 */
static void test_block_waits_exactly(void **state)
{
	struct limiter_config cfg = {.rate_bytes = 1000,
				     .burst_bytes = 1000,
				     .policy = LIMITER_POLICY_BLOCK,
				     .notice = true};
	struct limiter *l = limiter_new(&cfg, NULL, 0);
	struct limiter_stats st;
	int64_t t = 0, w;
	struct log_entry e = line(100);

	(void)state;
	for (int i = 0; i < 100; i++) {
		while (limiter_offer(l, &e, t, &w) == LIMITER_WAIT) {
			if (w > 1) {
				int64_t w2;

				assert_int_equal(
					limiter_offer(l, &e, t + w - 1, &w2),
					LIMITER_WAIT);
				assert_true(w2 == 1);
			}
			t += w;
		}
		/* Line i passes when 1000 + t * 1000 covers 100 * (i + 1). */
		if (i >= 10)
			assert_true(t == (i + 1 - 10) * 100 * MS);
	}
	assert_true(t == 9 * NS);
	st = stats(l);
	assert_int_equal(st.admitted_lines, 100);
	assert_int_equal(st.dropped_lines, 0);
	assert_true(st.waits >= 90);
	assert_false(limiter_notice_due(l, t + 100 * NS));
	limiter_free(l);
}

/* Block policy with a lines bucket, a huge line, and partial lines. */
static void test_block_lines_huge_partial(void **state)
{
	struct limiter_config cfg = {.rate_bytes = 1000,
				     .burst_bytes = 1000,
				     .rate_lines = 10,
				     .burst_lines = 1,
				     .policy = LIMITER_POLICY_BLOCK};
	struct limiter *l = limiter_new(&cfg, NULL, 0);
	struct log_entry e;
	int64_t w;

	(void)state;
	e = line(1);
	assert_int_equal(limiter_offer(l, &e, 0, &w), LIMITER_ADMIT);
	/* The lines bucket makes it wait; the bytes would do. */
	e = line(600);
	assert_int_equal(limiter_offer(l, &e, 0, &w), LIMITER_WAIT);
	assert_true(w == 100 * MS);
	assert_int_equal(limiter_offer(l, &e, 100 * MS, &w), LIMITER_ADMIT);
	/* 5000 bytes wait for a full bucket: 500 -> 1000 takes 500 ms. */
	e = line(5000);
	assert_int_equal(limiter_offer(l, &e, 200 * MS, &w), LIMITER_WAIT);
	assert_true(w == 500 * MS);
	assert_int_equal(limiter_offer(l, &e, 700 * MS, &w), LIMITER_ADMIT);
	/* Chunks each wait for their bytes (the debt of 4000 first). */
	e = chunk("stdout", id_a, 1, false, 500);
	assert_int_equal(limiter_offer(l, &e, 700 * MS, &w), LIMITER_WAIT);
	assert_true(w == 4500 * MS);
	assert_int_equal(limiter_offer(l, &e, 5200 * MS, &w), LIMITER_ADMIT);
	/* A later chunk needs no line token: it waits for bytes only. */
	e = chunk("stdout", id_a, 2, true, 500);
	assert_int_equal(limiter_offer(l, &e, 5200 * MS, &w), LIMITER_WAIT);
	assert_true(w == 500 * MS);
	assert_int_equal(limiter_offer(l, &e, 5700 * MS, &w), LIMITER_ADMIT);
	assert_int_equal(stats(l).admitted_lines, 4);
	assert_int_equal(stats(l).dropped_lines, 0);
	limiter_free(l);
}

static void drop_one(struct limiter *l, size_t len)
{
	assert_int_equal(offer(l, line(len), 0), LIMITER_DROP);
}

static void expect_notice(struct limiter *l, int64_t t, const char *want)
{
	char buf[LIMITER_NOTICE_MAX];
	size_t n = limiter_notice_take(l, t, buf, sizeof(buf));

	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
}

/* Sizes in decimal units, rates without a needless ".0", spans in s. */
static void test_notice_formats(void **state)
{
	static const struct {
		size_t len;
		const char *text;
	} sizes[] = {
		{1, "1 B"},
		{999, "999 B"},
		{1000, "1.0 kB"},
		{1049, "1.0 kB"},
		{1050, "1.1 kB"},
		{999949, "999.9 kB"},
		{999950, "1.0 MB"},
		{12345678, "12.3 MB"},
		{999999999, "1.0 GB"},
		{UINT64_C(1500000000000), "1.5 TB"},
		{UINT64_C(5000000000000000000), "5.0 EB"},
	};
	static const struct {
		uint64_t rate;
		const char *text;
	} rates[] = {
		{1, "1 B"},
		{500, "500 B"},
		{1000, "1 kB"},
		{1500000, "1.5 MB"},
		{1048576, "1 MB"},
		{1250000, "1.3 MB"},
		{UINT64_C(1000000000000), "1 TB"},
	};
	char want[LIMITER_NOTICE_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct limiter *l = make(1, 1, true);

		assert_int_equal(offer(l, line(1), 0), LIMITER_ADMIT);
		drop_one(l, sizes[i].len);
		snprintf(want, sizeof(want),
			 "ratelog: dropped %s (1 line) in 0.0 s over "
			 "rate-limit 1 B/s",
			 sizes[i].text);
		expect_notice(l, 0, want);
		limiter_free(l);
	}
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		struct limiter *l = make(rates[i].rate, rates[i].rate, true);

		assert_int_equal(offer(l, line(rates[i].rate), 0),
				 LIMITER_ADMIT);
		drop_one(l, 1);
		drop_one(l, 1);
		snprintf(want, sizeof(want),
			 "ratelog: dropped 2 B (2 lines) in 0.0 s over "
			 "rate-limit %s/s",
			 rates[i].text);
		expect_notice(l, 49999999, want);
		limiter_free(l);
	}
	{
		struct limiter *l = make(1, 1, true);

		assert_int_equal(offer(l, line(1), 0), LIMITER_ADMIT);
		drop_one(l, 7);
		expect_notice(l, 50 * MS,
			      "ratelog: dropped 7 B (1 line) in "
			      "0.1 s over rate-limit 1 B/s");
		drop_one(l, 7);
		expect_notice(l, 61250 * MS,
			      "ratelog: dropped 7 B (1 line) "
			      "in 61.3 s over rate-limit 1 B/s");
		limiter_free(l);
	}
	{
		/* Empty lines cost no bytes, but a line each. */
		struct limiter_config cfg = {
			.rate_lines = 1, .burst_lines = 1, .notice = true};
		struct limiter *l = limiter_new(&cfg, NULL, 0);

		assert_int_equal(offer(l, line(0), 0), LIMITER_ADMIT);
		drop_one(l, 0);
		expect_notice(l, 0,
			      "ratelog: dropped 0 B (1 line) in 0.0 s "
			      "over rate-limit-lines 1 lines/s");
		limiter_free(l);
	}
}

/* Nothing pending: "" and 0.  Small buffers: truncated, terminated. */
static void test_notice_take_edges(void **state)
{
	struct limiter *l = make(1, 1, true);
	char buf[LIMITER_NOTICE_MAX];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(limiter_notice_take(l, 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(limiter_notice_take(l, 0, buf, 0), 0);
	assert_int_equal(offer(l, line(1), 0), LIMITER_ADMIT);
	drop_one(l, 1);
	assert_int_equal(limiter_notice_take(l, 0, buf, 10), 9);
	assert_string_equal(buf, "ratelog: ");
	assert_int_equal(stats(l).notices, 1);
	assert_int_equal(limiter_notice_take(l, 0, buf, sizeof(buf)), 0);
	limiter_free(l);
}

/*
 * Drops, then silence: nothing is due until 5 s after the first drop,
 * which limiter_next_deadline() names for the caller's timer.
 */
static void test_notice_timer_after_silence(void **state)
{
	struct limiter *l = make(1000, 1000, true);

	(void)state;
	assert_true(limiter_next_deadline(l) == INT64_MAX);
	assert_int_equal(offer(l, line(1000), 0), LIMITER_ADMIT);
	for (int i = 0; i < 123; i++)
		assert_int_equal(offer(l, line(100), MS), LIMITER_DROP);
	assert_true(limiter_next_deadline(l) == MS + 5 * NS);
	assert_false(limiter_notice_due(l, MS + 5 * NS - 1));
	assert_true(limiter_notice_due(l, MS + 5 * NS));
	expect_notice(l, MS + 5 * NS,
		      "ratelog: dropped 12.3 kB (123 lines) "
		      "in 5.0 s over rate-limit 1 kB/s");
	assert_true(limiter_next_deadline(l) == INT64_MAX);
	assert_false(limiter_notice_due(l, 100 * NS));
	limiter_free(l);
}

/*
 * Lines pass again: the first line admitted at least 1 s after the last
 * drop makes the notice due (to be written before it); a line admitted
 * sooner does not.
 */
static void test_notice_when_lines_pass_again(void **state)
{
	struct limiter *l = make(1000, 1000, true);

	(void)state;
	assert_int_equal(offer(l, line(1000), 0), LIMITER_ADMIT);
	for (int i = 0; i < 123; i++)
		assert_int_equal(offer(l, line(100), MS), LIMITER_DROP);
	/* 0.5 s after the drops: passes, but they may not be over. */
	assert_int_equal(offer(l, line(100), 501 * MS), LIMITER_ADMIT);
	assert_false(limiter_notice_due(l, 501 * MS));
	assert_true(limiter_next_deadline(l) == MS + 5 * NS);
	assert_int_equal(offer(l, line(100), 2501 * MS), LIMITER_ADMIT);
	assert_true(limiter_notice_due(l, 2501 * MS));
	assert_true(limiter_next_deadline(l) <= 2501 * MS);
	expect_notice(l, 2501 * MS,
		      "ratelog: dropped 12.3 kB (123 lines) "
		      "in 2.5 s over rate-limit 1 kB/s");
	assert_false(limiter_notice_due(l, 2501 * MS));
	assert_int_equal(stats(l).dropped_lines, 123);
	assert_int_equal(stats(l).notices, 1);
	limiter_free(l);
}

/*
 * Sustained overload: 500-byte lines every ms at 1 kB/s.  Two pass at
 * t = 0 and 1 ms, then one every 500 ms (501, 1001, ... ms); the rest drop.
 * The first drop is at 2 ms, so a notice is due at exactly 5.002 s, with
 * every drop of [2 ms, 5002 ms] in it: 5001 lines less the 10 that passed
 * (501 ... 5001 ms); the next episode starts at 5003 ms and is due at
 * 10.003 s with the same count, and so on: a notice every 5 s, none in
 * between, although lines keep passing.
 */
static void test_notice_every_5s_while_dropping(void **state)
{
	struct limiter *l = make(1000, 1000, true);
	char buf[LIMITER_NOTICE_MAX];
	int64_t notices[4];
	int count = 0;
	uint64_t reported = 0;

	(void)state;
	for (int64_t ms = 0; ms <= 20005; ms++) {
		int64_t t = ms * MS;

		(void)offer(l, line(500), t);
		if (!limiter_notice_due(l, t))
			continue;
		assert_true(count < 4);
		notices[count++] = t;
		assert_true(limiter_notice_take(l, t, buf, sizeof(buf)) > 0);
		assert_string_equal(buf, "ratelog: dropped 2.5 MB (4991 lines) "
					 "in 5.0 s over rate-limit 1 kB/s");
	}
	assert_int_equal(count, 4);
	for (int i = 0; i < 4; i++)
		assert_true(notices[i] == 5002 * MS + i * 5001 * MS);
	reported = 4 * 4991;
	assert_int_equal(stats(l).dropped_lines, reported);
	assert_int_equal(stats(l).notices, 4);
	limiter_free(l);
}

static void test_notice_disabled(void **state)
{
	struct limiter *l = make(1, 1, false);
	char buf[LIMITER_NOTICE_MAX];

	(void)state;
	assert_int_equal(offer(l, line(1), 0), LIMITER_ADMIT);
	drop_one(l, 5);
	assert_false(limiter_notice_due(l, 100 * NS));
	assert_true(limiter_next_deadline(l) == INT64_MAX);
	/* The caller may still take the count, e.g. at StopLogging. */
	assert_true(limiter_notice_take(l, NS, buf, sizeof(buf)) > 0);
	limiter_free(l);
}

/*
 * Behind a node budget of 1 MB/s: a quiet container loses nothing, the
 * noisy one is cut by the node (and says so), and a blocking one waits.
 */
static void test_with_node_budget(void **state)
{
	struct node_budget *nb = node_budget_new(1000000, 1000000, 0);
	struct limiter_config noisy_cfg = {.notice = true};
	struct limiter_config quiet_cfg = {.rate_bytes = 50000};
	struct limiter_config block_cfg = {.policy = LIMITER_POLICY_BLOCK};
	struct limiter *noisy, *quiet, *block;
	char buf[LIMITER_NOTICE_MAX];
	int64_t t = 0, w = 0;
	struct log_entry e;

	(void)state;
	assert_non_null(nb);
	noisy = limiter_new(&noisy_cfg, nb, 0);
	quiet = limiter_new(&quiet_cfg, nb, 0);
	assert_non_null(noisy);
	assert_non_null(quiet);
	for (int ms = 0; ms < 3000; ms++) {
		t = ms * MS;
		for (int k = 0; k < 10; k++)
			(void)offer(noisy, line(1000), t);
		assert_int_equal(offer(quiet, line(40), t), LIMITER_ADMIT);
	}
	assert_int_equal(stats(quiet).dropped_lines, 0);
	assert_true(stats(noisy).dropped_lines > 0);
	/* All the node gave, less the quiet one's: 750 kB + 1 MB/s. */
	assert_true(stats(noisy).admitted_bytes + stats(quiet).admitted_bytes <=
		    1000000 + 1000000 * (uint64_t)t / NS);
	assert_true(limiter_notice_take(noisy, t, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, " over node rate-limit 1 MB/s"));
	/* A blocking container behind the same node waits, drops nothing. */
	block = limiter_new(&block_cfg, nb, t);
	assert_non_null(block);
	e = line(200000);
	for (int i = 0; i < 5; i++) {
		while (limiter_offer(block, &e, t, &w) == LIMITER_WAIT)
			t += w;
		/* The noisy one keeps pushing meanwhile. */
		for (int k = 0; k < 10; k++)
			(void)offer(noisy, line(1000), t);
	}
	assert_int_equal(stats(block).admitted_lines, 5);
	assert_int_equal(stats(block).dropped_lines, 0);
	assert_true(stats(block).waits > 0);
	limiter_free(block);
	limiter_free(noisy);
	limiter_free(quiet);
	node_budget_free(nb);
}

/*
 * limiter_offer() decides whole lines of a limiter with only a bytes
 * bucket by itself and hands everything else to the general code.  A
 * limiter that also has a lines bucket too large ever to refuse takes the
 * general path for every line and must behave the same: random lines,
 * chunks on both sources and clock steps (many of them 0, as the lines of
 * one read share a timestamp), with the same verdicts, stats, notice
 * times and notice texts.
 */
static uint64_t xorshift(uint64_t *rng)
{
	*rng ^= *rng << 13;
	*rng ^= *rng >> 7;
	*rng ^= *rng << 17;
	return *rng;
}

/* The limits of the tests that run two limiters side by side. */
static const struct limiter_config agree_cfg = {
	.rate_bytes = 20000,
	.burst_bytes = 5000,
	.entry_overhead = 1,
	.notice = true,
};

/*
 * Two limiters that saw the same lines agree at 't': on the notice, its
 * deadline and the stats; and, when one is due or 'take' says so, on the
 * notice's text.
 */
static void assert_agree(struct limiter *a, struct limiter *b, int64_t t,
			 bool take)
{
	struct limiter_stats sa, sb;
	char ta[LIMITER_NOTICE_MAX], tb[LIMITER_NOTICE_MAX];

	assert_int_equal(limiter_notice_due(a, t), limiter_notice_due(b, t));
	assert_true(limiter_next_deadline(a) == limiter_next_deadline(b));
	limiter_get_stats(a, &sa);
	limiter_get_stats(b, &sb);
	assert_memory_equal(&sa, &sb, sizeof(sa));
	if (limiter_notice_due(a, t) || take) {
		limiter_notice_take(a, t, ta, sizeof(ta));
		limiter_notice_take(b, t, tb, sizeof(tb));
		assert_string_equal(ta, tb);
	}
}

/*
 * limiter_drops_longer() and limiter_drop_lines(), used as the frame
 * decoder uses them (FRAME_SKIP), against offering every line: after a
 * drop that limiter_drops_longer() vouches for, the whole lines at least as
 * long at the same time are counted in one go.  Every such line must be one
 * limiter_offer() drops, and the stats and notices must come out the same.
 */
static void test_skipped_lines_match_offers(void **state)
{
	struct limiter_config cfg = agree_cfg;
	uint64_t rng = 0x13198a2e03707344u;
	uint64_t pend_lines = 0, pend_bytes = 0, skipped = 0;
	int64_t t = 0, skip_t = 0;
	size_t skip_min = 0;
	bool skipping = false;
	struct limiter *each, *batch;
	int i;

	(void)state;
	each = limiter_new(&cfg, NULL, 0);
	batch = limiter_new(&cfg, NULL, 0);
	assert_non_null(each);
	assert_non_null(batch);
	for (i = 0; i < 200000; i++) {
		enum limiter_verdict v;
		struct log_entry e;
		uint64_t r = xorshift(&rng);

		if (r % 8 == 0)
			t += (int64_t)(r >> 8) % (5 * MS);
		if (r % 32 == 2)
			e = chunk("stdout", id_a, (int32_t)(r >> 10) % 4 + 1,
				  (r >> 12) % 3 == 0, (size_t)(r >> 20) % 900);
		else
			e = line((size_t)(r >> 20) % 300);
		v = offer(each, e, t);
		if (skipping && t == skip_t && !e.partial &&
		    e.line_len >= skip_min) {
			assert_int_equal(v, LIMITER_DROP);
			pend_lines++;
			pend_bytes += e.line_len;
			skipped++;
			continue;
		}
		limiter_drop_lines(batch, pend_lines, pend_bytes, skip_t);
		pend_lines = 0;
		pend_bytes = 0;
		assert_int_equal(offer(batch, e, t), v);
		skipping = v == LIMITER_DROP && limiter_drops_longer(batch, &e);
		skip_min = e.line_len;
		skip_t = t;
		assert_agree(each, batch, t, r % 997 == 3);
	}
	assert_true(skipped > 10000);
	assert_true(stats(each).admitted_lines > 1000);
	limiter_free(each);
	limiter_free(batch);
}

static void test_fast_path_matches_general(void **state)
{
	struct limiter_config cfg = agree_cfg;
	uint64_t rng = 0x243f6a8885a308d3u;
	int64_t t = 0;
	struct limiter *fast, *gen;
	int i;

	(void)state;
	fast = limiter_new(&cfg, NULL, 0);
	cfg.rate_lines = 1000000000000u;
	cfg.burst_lines = 1000000000000u;
	gen = limiter_new(&cfg, NULL, 0);
	assert_non_null(fast);
	assert_non_null(gen);
	for (i = 0; i < 200000; i++) {
		struct log_entry e;
		uint64_t r = xorshift(&rng);

		if (r % 4 == 0)
			t += (int64_t)(r >> 8) % (20 * MS);
		else if (r % 64 == 1)
			t += (int64_t)(r >> 8) % (7 * NS);
		if (r % 16 == 2)
			e = chunk(r & 0x100 ? "stderr" : "stdout",
				  r & 0x200 ? id_a : id_b,
				  (int32_t)(r >> 10) % 4 + 1,
				  (r >> 12) % 3 == 0, (size_t)(r >> 20) % 9000);
		else
			e = line_on(r & 0x100 ? "stderr" : "stdout",
				    (size_t)(r >> 20) %
					    (r & 0x400 ? 9000 : 300));
		assert_int_equal(offer(fast, e, t), offer(gen, e, t));
		assert_agree(fast, gen, t, r % 997 == 3);
	}
	assert_true(stats(fast).dropped_lines > 1000);
	assert_true(stats(fast).admitted_lines > 1000);
	limiter_free(fast);
	limiter_free(gen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_check),
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_steady_writer_exact),
		cmocka_unit_test(test_default_burst_and_overhead),
		cmocka_unit_test(test_idle_then_burst),
		cmocka_unit_test(test_lines_bucket),
		cmocka_unit_test(test_refusal_charges_nothing),
		cmocka_unit_test(test_partial_admitted_whole),
		cmocka_unit_test(test_partial_dropped_whole),
		cmocka_unit_test(test_partial_per_source),
		cmocka_unit_test(test_partial_without_end_is_cut),
		cmocka_unit_test(test_partial_left_open),
		cmocka_unit_test(test_huge_line),
		cmocka_unit_test(test_block_waits_exactly),
		cmocka_unit_test(test_block_lines_huge_partial),
		cmocka_unit_test(test_notice_formats),
		cmocka_unit_test(test_notice_take_edges),
		cmocka_unit_test(test_notice_timer_after_silence),
		cmocka_unit_test(test_notice_when_lines_pass_again),
		cmocka_unit_test(test_notice_every_5s_while_dropping),
		cmocka_unit_test(test_notice_disabled),
		cmocka_unit_test(test_with_node_budget),
		cmocka_unit_test(test_fast_path_matches_general),
		cmocka_unit_test(test_skipped_lines_match_offers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
