/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The token bucket on a fake clock: exact admitted amounts for steady,
 * bursty and idle-then-burst writers, debt after a request larger than the
 * burst, exact waits, overflow at extreme rates and times, and a reference
 * model that keeps one 128-bit product from the moment the bucket last left
 * full (no carried remainder at all), compared over 200,000 random steps for
 * several rates.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "ratelimit/tokenbucket.h"

#define NS INT64_C(1000000000)
#define MS INT64_C(1000000)
#define US INT64_C(1000)

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint64_t rnd_below(uint64_t n)
{
	return n == 0 ? 0 : rnd() % n;
}

static void test_init_checks(void **state)
{
	struct tokenbucket tb;

	(void)state;
	assert_int_equal(tokenbucket_init(&tb, TOKENBUCKET_RATE_MAX + 1, 10, 0),
			 -EINVAL);
	assert_int_equal(
		tokenbucket_init(&tb, 10, TOKENBUCKET_BURST_MAX + 1, 0),
		-EINVAL);
	assert_int_equal(tokenbucket_init(&tb, 10, 0, 0), -EINVAL);
	assert_int_equal(tokenbucket_init(&tb, TOKENBUCKET_RATE_MAX,
					  TOKENBUCKET_BURST_MAX, 0),
			 0);
	assert_int_equal(tokenbucket_rate(&tb), TOKENBUCKET_RATE_MAX);
	assert_int_equal(tokenbucket_burst(&tb), TOKENBUCKET_BURST_MAX);
	assert_false(tokenbucket_is_unlimited(&tb));
}

static void test_unlimited(void **state)
{
	struct tokenbucket tb;

	(void)state;
	assert_int_equal(tokenbucket_init(&tb, 0, 0, 5), 0);
	assert_true(tokenbucket_is_unlimited(&tb));
	for (int i = 0; i < 1000; i++)
		assert_true(tokenbucket_take(&tb, 5, UINT64_MAX));
	assert_int_equal(tokenbucket_wait_ns(&tb, 5, UINT64_MAX), 0);
	assert_true(tokenbucket_overdraw(&tb, 5, UINT64_MAX));
	assert_true(tokenbucket_tokens(&tb, 5) == INT64_MAX);
}

static void test_starts_full_and_refills_exactly(void **state)
{
	struct tokenbucket tb;
	const int64_t t0 = 123456789;

	(void)state;
	assert_int_equal(tokenbucket_init(&tb, 1000, 5000, t0), 0);
	assert_true(tokenbucket_take(&tb, t0, 5000));
	assert_false(tokenbucket_take(&tb, t0, 1));
	/* 1 token per ms: 999,999 ns earn nothing, 1 ms earns one. */
	assert_false(tokenbucket_take(&tb, t0 + MS - 1, 1));
	assert_true(tokenbucket_take(&tb, t0 + MS, 1));
	assert_int_equal(tokenbucket_tokens(&tb, t0 + MS + 3 * NS / 2), 1500);
	/* A clock that goes backwards changes nothing. */
	assert_int_equal(tokenbucket_tokens(&tb, t0), 1500);
	/* Capped at the burst. */
	assert_int_equal(tokenbucket_tokens(&tb, t0 + 100 * NS), 5000);
}

/*
 * rate 100 kB/s, burst 100 kB, 2 MB offered over 1 s as 20,000 lines of 100
 * bytes, one every 50 us (t = 0 .. 0.99995 s).  Demand exceeds supply from
 * the first line, so the bucket never caps and ends with under one line of
 * tokens: admitted = burst + floor(rate * 0.99995 s) - left, a multiple of
 * 100 in (199,995 - 100, 199,995], so exactly 199,900.
 */
static void test_steady_writer(void **state)
{
	struct tokenbucket tb;
	uint64_t admitted = 0;
	int64_t t = 0;

	(void)state;
	assert_int_equal(tokenbucket_init(&tb, 100000, 100000, 0), 0);
	for (int i = 0; i < 20000; i++) {
		t = i * 50 * US;
		if (tokenbucket_take(&tb, t, 100))
			admitted += 100;
	}
	assert_int_equal(admitted, 199900);
	assert_true(admitted <= 100000 + 100000 * (uint64_t)t / NS);
	assert_true(admitted + 100 > 100000 + 100000 * (uint64_t)t / NS);
}

/*
 * Bursts of 50 kB every 2 s at rate 10 kB/s, burst 30 kB: the first burst
 * gets the full bucket, then each 2 s earns 20 kB exactly (never capped,
 * since each burst empties the bucket below 1 kB).
 */
static void test_bursty_writer(void **state)
{
	struct tokenbucket tb;
	uint64_t got[5] = {0};

	(void)state;
	assert_int_equal(tokenbucket_init(&tb, 10000, 30000, 0), 0);
	for (int b = 0; b < 5; b++)
		for (int i = 0; i < 50; i++)
			if (tokenbucket_take(&tb, b * 2 * NS, 1000))
				got[b] += 1000;
	assert_int_equal(got[0], 30000);
	for (int b = 1; b < 5; b++)
		assert_int_equal(got[b], 20000);
}

/* Idle for an hour: the bucket holds the burst, not an hour of rate. */
static void test_idle_then_burst(void **state)
{
	struct tokenbucket tb;
	uint64_t admitted = 0;
	int64_t t0 = 3600 * NS;

	(void)state;
	assert_int_equal(tokenbucket_init(&tb, 100000, 100000, 0), 0);
	for (int i = 0; i < 5000; i++)
		if (tokenbucket_take(&tb, t0, 100))
			admitted += 100;
	assert_int_equal(admitted, 100000);
	/* Time spent full earned nothing: half a second later, rate/2. */
	for (int i = 0; i < 5000; i++)
		if (tokenbucket_take(&tb, t0 + NS / 2, 100))
			admitted += 100;
	assert_int_equal(admitted, 150000);
}

/* A request larger than the burst passes on a full bucket, into debt. */
static void test_huge_request_on_full_bucket(void **state)
{
	struct tokenbucket tb;

	(void)state;
	assert_int_equal(tokenbucket_init(&tb, 1000, 1000, 0), 0);
	assert_true(tokenbucket_take(&tb, 0, 1));
	/* Not full: a 5000-token request must wait for a full bucket. */
	assert_false(tokenbucket_take(&tb, 0, 5000));
	assert_int_equal(tokenbucket_wait_ns(&tb, 0, 5000), MS);
	assert_true(tokenbucket_take(&tb, MS, 5000));
	assert_int_equal(tokenbucket_tokens(&tb, MS), -4000);
	/* The debt is repaid before anything passes: 4.1 s for 100. */
	assert_int_equal(tokenbucket_wait_ns(&tb, MS, 100), 4100 * MS);
	assert_false(tokenbucket_take(&tb, MS + 4100 * MS - 1, 100));
	assert_true(tokenbucket_take(&tb, MS + 4100 * MS, 100));
}

static void test_overdraw_floor(void **state)
{
	struct tokenbucket tb;

	(void)state;
	assert_int_equal(tokenbucket_init(&tb, 10, 100, 0), 0);
	assert_true(tokenbucket_overdraw(&tb, 0, 150));
	assert_true(tokenbucket_can_overdraw(&tb, 0, 50));
	assert_false(tokenbucket_can_overdraw(&tb, 0, 51));
	assert_false(tokenbucket_overdraw(&tb, 0, 51));
	assert_int_equal(tokenbucket_tokens(&tb, 0), -50);
	assert_true(tokenbucket_overdraw(&tb, 0, 50));
	assert_int_equal(tokenbucket_tokens(&tb, 0), -100);
	assert_false(tokenbucket_overdraw(&tb, 0, 1));
	assert_int_equal(tokenbucket_tokens(&tb, 20 * NS), 100);
}

/* Waits are exact: one ns earlier the take fails, at the wait it passes. */
static void test_wait_exact(void **state)
{
	static const uint64_t rates[] = {1,   3,	  7,
					 999, 1000000007, TOKENBUCKET_RATE_MAX};

	(void)state;
	for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
		struct tokenbucket tb;
		uint64_t burst = rates[r] * 3 + 5;
		int64_t t = 17;

		assert_int_equal(tokenbucket_init(&tb, rates[r], burst, t), 0);
		assert_true(tokenbucket_take(&tb, t, burst));
		for (int i = 0; i < 50; i++) {
			uint64_t n = 1 + rnd_below(burst);
			int64_t w = tokenbucket_wait_ns(&tb, t, n);

			assert_true(w >= 1);
			assert_false(tokenbucket_can_take(&tb, t + w - 1, n));
			assert_true(tokenbucket_take(&tb, t + w, n));
			t += w;
		}
	}
}

/* Extreme values: no overflow, saturation where it is documented. */
static void test_extremes(void **state)
{
	struct tokenbucket tb;
	uint64_t frac = 0;
	int64_t w;

	(void)state;
	assert_int_equal(tokenbucket_init(&tb, TOKENBUCKET_RATE_MAX,
					  TOKENBUCKET_BURST_MAX, 0),
			 0);
	assert_true(tokenbucket_take(&tb, 0, TOKENBUCKET_BURST_MAX));
	assert_int_equal(tokenbucket_tokens(&tb, 0), 0);
	/* 2^60 tokens at 1e12/s take 1,152,921.504606846976 s. */
	w = tokenbucket_wait_ns(&tb, 0, TOKENBUCKET_BURST_MAX);
	assert_true(w == INT64_C(1152921504606847));
	assert_false(tokenbucket_can_take(&tb, w - 1, TOKENBUCKET_BURST_MAX));
	assert_true(tokenbucket_can_take(&tb, w, TOKENBUCKET_BURST_MAX));
	/* A century idle at the top rate. */
	assert_true(tokenbucket_tokens(&tb, INT64_MAX) ==
		    (int64_t)TOKENBUCKET_BURST_MAX);
	/* Requests beyond any bucket cost at most 2^60. */
	assert_true(tokenbucket_take(&tb, INT64_MAX, UINT64_MAX));
	assert_int_equal(tokenbucket_tokens(&tb, INT64_MAX), 0);
	assert_true(tokenbucket_overdraw(&tb, INT64_MAX, UINT64_MAX));
	assert_true(tokenbucket_tokens(&tb, INT64_MAX) ==
		    -(int64_t)TOKENBUCKET_BURST_MAX);
	assert_false(tokenbucket_overdraw(&tb, INT64_MAX, 1));
	/* gain() over the full range of dt. */
	assert_true(tokenbucket_gain(TOKENBUCKET_RATE_MAX, UINT64_MAX, &frac) ==
		    TOKENBUCKET_GAIN_MAX);
	assert_int_equal(frac, 0);
	frac = 999999999;
	assert_int_equal(tokenbucket_gain(1, 1, &frac), 1);
	assert_int_equal(frac, 0);
	assert_true(tokenbucket_gain_ns(0, 0, 1) == INT64_MAX);
	assert_int_equal(tokenbucket_gain_ns(5, 0, 0), 0);
	/* The search path, past 1.8e10 tokens. */
	w = tokenbucket_gain_ns(TOKENBUCKET_RATE_MAX, 123, UINT64_C(1) << 40);
	frac = 123;
	assert_true(tokenbucket_gain(TOKENBUCKET_RATE_MAX, (uint64_t)w,
				     &frac) >= UINT64_C(1) << 40);
	frac = 123;
	assert_true(tokenbucket_gain(TOKENBUCKET_RATE_MAX, (uint64_t)w - 1,
				     &frac) < UINT64_C(1) << 40);
}

/* gain() over any split of an interval adds up to the whole. */
static void test_gain_split_invariant(void **state)
{
	(void)state;
	for (int k = 0; k < 2000; k++) {
		uint64_t rate = 1 + rnd_below(TOKENBUCKET_RATE_MAX);
		uint64_t f = 0, sum = 0, total = 0;
		u128 whole;

		for (int i = 0; i < 20; i++) {
			uint64_t dt = rnd_below(3 * (uint64_t)NS);

			sum += tokenbucket_gain(rate, dt, &f);
			total += dt;
		}
		whole = (u128)rate * total / (u128)NS;
		assert_true((u128)sum == whole);
		assert_true((u128)f == (u128)rate * total % (u128)NS);
	}
}

/*
 * The reference: tokens(t) = min(burst, base + floor(rate * (t - anchor) /
 * 1e9)), one 128-bit product from the anchor, the moment the bucket last
 * stopped being full; takes lower base.
 */
struct model {
	i128 rate, burst, base;
	int64_t anchor;
	bool full;
};

static i128 model_tokens(struct model *m, int64_t t)
{
	i128 v;

	if (m->full)
		return m->burst;
	if (t < m->anchor)
		t = m->anchor;
	v = m->base + m->rate * (i128)(t - m->anchor) / (i128)NS;
	if (v >= m->burst) {
		m->full = true;
		return m->burst;
	}
	return v;
}

static void model_debit(struct model *m, int64_t t, i128 n)
{
	if (m->full) {
		m->full = false;
		m->anchor = t;
		m->base = m->burst;
	}
	m->base -= n;
}

/* The smallest dt with model_tokens(t + dt) >= want. */
static int64_t model_wait(struct model *m, int64_t t, i128 want)
{
	i128 cur = model_tokens(m, t), need, x;

	if (cur >= want)
		return 0;
	need = want - m->base;
	x = (need * (i128)NS + m->rate - 1) / m->rate;
	return (int64_t)(m->anchor + (int64_t)x - t);
}

static void run_model(uint64_t rate, uint64_t burst, int steps)
{
	struct tokenbucket tb;
	struct model m = {.rate = rate, .burst = burst, .full = true};
	int64_t t = (int64_t)rnd_below(1000000), last = t;
	uint64_t fill_ns = (uint64_t)((u128)burst * (u128)NS / (u128)rate);

	assert_int_equal(tokenbucket_init(&tb, rate, burst, t), 0);
	for (int i = 0; i < steps; i++) {
		uint64_t r = rnd_below(100), n;
		int64_t tq;
		i128 mt, want;
		bool ok;

		/* Mostly small steps, some none, a few very long. */
		if (r < 20)
			t += 0;
		else if (r < 85)
			t += (int64_t)rnd_below(fill_ns / 50 + 2);
		else if (r < 98)
			t += (int64_t)rnd_below(fill_ns + 2);
		else
			t += (int64_t)rnd_below(1000 * (uint64_t)NS);
		/*
		 * Now and then the bucket is shown a clock earlier than the
		 * last it saw: it must act as if no time passed, so the model
		 * stays where it was.
		 */
		tq = t;
		if (rnd_below(200) == 0) {
			t = last;
			tq = last - 1 - (int64_t)rnd_below(1000);
		}
		last = t;
		n = rnd_below(100) < 3 ? burst + rnd_below(2 * burst + 1)
				       : rnd_below(burst / 3 + 2);
		mt = model_tokens(&m, t);
		want = (i128)n >= m.burst ? m.burst : (i128)n;
		switch (rnd_below(5)) {
		case 0:
		case 1:
			ok = tokenbucket_take(&tb, tq, n);
			assert_int_equal(ok, mt >= want);
			if (ok)
				model_debit(&m, t, (i128)n);
			break;
		case 2:
			assert_int_equal(tokenbucket_can_take(&tb, tq, n),
					 mt >= want);
			break;
		case 3:
			/* Measured from the bucket's own clock, t. */
			assert_true(tokenbucket_wait_ns(&tb, tq, n) ==
				    model_wait(&m, t, want));
			break;
		default:
			ok = tokenbucket_overdraw(&tb, tq, n);
			assert_int_equal(ok, mt - (i128)n >= -m.burst);
			if (ok)
				model_debit(&m, t, (i128)n);
			break;
		}
		assert_true((i128)tokenbucket_tokens(&tb, t) ==
			    model_tokens(&m, t));
	}
}

static void test_reference_model(void **state)
{
	static const struct {
		uint64_t rate, burst;
	} cases[] = {
		{1, 5},
		{7, 100},
		{1000, 4000},
		{123456789, 1000},
		{999999999, 4000000000},
		{TOKENBUCKET_RATE_MAX, 4 * TOKENBUCKET_RATE_MAX},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_model(cases[i].rate, cases[i].burst, 200000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_checks),
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_starts_full_and_refills_exactly),
		cmocka_unit_test(test_steady_writer),
		cmocka_unit_test(test_bursty_writer),
		cmocka_unit_test(test_idle_then_burst),
		cmocka_unit_test(test_huge_request_on_full_bucket),
		cmocka_unit_test(test_overdraw_floor),
		cmocka_unit_test(test_wait_exact),
		cmocka_unit_test(test_extremes),
		cmocka_unit_test(test_gain_split_invariant),
		cmocka_unit_test(test_reference_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
