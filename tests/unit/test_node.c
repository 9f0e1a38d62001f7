/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node budget on a fake clock.  The property that matters is proven by
 * simulation: streams writing below their fair share never lose a line to
 * a noisy neighbour, whatever the order of offers; the noisy ones absorb
 * the cut, get at least their own share, and use what the quiet ones leave;
 * and over every interval of every run the node admits at most R * t + B.
 * Also: the exact activity window, the share arithmetic, waits, the debt
 * floor of charged chunks, leaving.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ratelimit/node.h"
#include "ratelimit/tokenbucket.h"

#define NS INT64_C(1000000000)
#define MS INT64_C(1000000)

__extension__ typedef __int128 i128;

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint64_t rnd_below(uint64_t n)
{
	return rnd() % n;
}

struct sim_stream {
	struct node_share sh;
	uint64_t admitted; /* bytes */
	uint64_t dropped;  /* bytes */
};

/*
 * Watches the node's total: for every pair of instants t1 < t2 seen,
 * admitted(t1, t2] <= R * (t2 - t1) + B (+1 for the integer refill).
 */
struct bound {
	uint64_t rate, burst;
	uint64_t total;
	i128 min_base; /* min over t1 of total(t1) * 1e9 - R * t1 */
	bool started;
	i128 worst; /* max excess over R * dt, in bytes * 1e9 */
};

static void bound_mark(struct bound *b, int64_t t)
{
	i128 base = (i128)b->total * NS - (i128)b->rate * t;

	if (!b->started || base < b->min_base)
		b->min_base = base;
	b->started = true;
}

static void bound_check(struct bound *b, int64_t t)
{
	i128 excess = (i128)b->total * NS - (i128)b->rate * t - b->min_base;

	if (excess > b->worst)
		b->worst = excess;
	assert_true(excess <= (i128)(b->burst + 1) * NS);
}

static bool offer(struct sim_stream *s, struct bound *b, int64_t t, uint64_t n)
{
	if (node_share_admit(&s->sh, t, n)) {
		s->admitted += n;
		b->total += n;
		return true;
	}
	s->dropped += n;
	return false;
}

static void test_window_and_shares(void **state)
{
	struct node_budget *nb;
	struct sim_stream s[3];

	(void)state;
	/* B = 4 MB, D = 2 MB, R = 1 MB/s: W = D / R = 2 s. */
	nb = node_budget_new(1000000, 0, 0);
	assert_non_null(nb);
	assert_int_equal(node_budget_burst(nb), 4000000);
	assert_int_equal(node_budget_window_ns(nb), 2 * NS);
	memset(s, 0, sizeof(s));
	for (int i = 0; i < 3; i++)
		node_share_join(nb, &s[i].sh);
	assert_int_equal(node_budget_active(nb, 0), 0);
	assert_int_equal(node_budget_share_rate(nb, 0), 1000000);
	assert_true(node_share_admit(&s[0].sh, 10, 100));
	assert_true(node_share_admit(&s[1].sh, 20, 100));
	assert_true(node_share_admit(&s[2].sh, 30, 100));
	assert_int_equal(node_budget_active(nb, 30), 3);
	assert_int_equal(node_budget_share_rate(nb, 30), 333333);
	assert_int_equal(node_budget_share_cap(nb, 30), 500000);
	/* Active until exactly W after the last ask. */
	assert_int_equal(node_budget_active(nb, 10 + 2 * NS - 1), 3);
	assert_int_equal(node_budget_active(nb, 10 + 2 * NS), 2);
	assert_true(node_share_admit(&s[1].sh, 2 * NS + 15, 100));
	assert_int_equal(node_budget_active(nb, 30 + 2 * NS), 1);
	assert_int_equal(node_budget_share_rate(nb, 30 + 2 * NS), 1000000);
	assert_int_equal(node_budget_share_cap(nb, 30 + 2 * NS), 1000000);
	/* Leaving counts at once. */
	node_share_leave(&s[1].sh);
	assert_int_equal(node_budget_active(nb, 31 + 2 * NS), 0);
	node_share_leave(&s[0].sh);
	node_share_leave(&s[2].sh);
	node_share_leave(&s[2].sh); /* a second leave is harmless */
	node_budget_free(nb);

	/* The window is at least 1 s and at most 60 s. */
	nb = node_budget_new(1000000, 100, 0);
	assert_int_equal(node_budget_window_ns(nb), NS);
	node_budget_free(nb);
	nb = node_budget_new(1, 1000000, 0);
	assert_int_equal(node_budget_window_ns(nb), 60 * NS);
	node_budget_free(nb);
	node_budget_free(NULL);
}

static void test_unlimited_node(void **state)
{
	struct node_budget *nb = node_budget_new(0, 0, 0);
	struct node_share sh;

	(void)state;
	assert_non_null(nb);
	node_share_join(nb, &sh);
	for (int i = 0; i < 100; i++)
		assert_true(node_share_admit(&sh, i, UINT64_MAX / 2));
	assert_int_equal(node_share_wait_ns(&sh, 5, UINT64_MAX), 0);
	assert_true(node_share_charge(&sh, 5, UINT64_MAX));
	node_share_leave(&sh);
	node_budget_free(nb);
}

/*
 * One stream alone gets the pool (B - D) and a share of the reserve
 * (D / 2) at once, then the node's rate: 750 kB + R * t, to within a line.
 */
static void test_single_stream_gets_node_rate(void **state)
{
	struct node_budget *nb = node_budget_new(1000000, 1000000, 0);
	struct bound b = {.rate = 1000000, .burst = 1000000};
	struct sim_stream s;
	int64_t t = 0;

	(void)state;
	memset(&s, 0, sizeof(s));
	node_share_join(nb, &s.sh);
	for (int tick = 0; tick < 10000; tick++) {
		t = tick * MS;
		bound_mark(&b, t);
		for (int i = 0; i < 10; i++)
			(void)offer(&s, &b, t, 1000);
		bound_check(&b, t);
	}
	assert_true(s.admitted <= 750000 + 1000 + 1000000 * (uint64_t)t / NS);
	assert_true(s.admitted + 1000 > 750000 + 1000000 * (uint64_t)t / NS);
	node_share_leave(&s.sh);
	node_budget_free(nb);
}

/*
 * 1 noisy + 10 quiet.  R = 1 MB/s, B = 1 MB: D = 500 kB, W = 1 s, N = 11,
 * so a share is 90,909 B/s with a cap of 45,454 B.  Quiet streams write
 * 100-byte lines, five of them steadily at 50 kB/s, five in bursts of 20 kB
 * every 500 ms (40 kB/s); the noisy one offers 5 MB/s of 1000-byte lines.
 * 'noisy_first' puts the noisy stream's offers first in each ms, the worst
 * case, or last.
 */
static void run_noisy_and_quiet(bool noisy_first, int64_t quiet_start)
{
	struct node_budget *nb = node_budget_new(1000000, 1000000, 0);
	struct bound b = {.rate = 1000000, .burst = 1000000};
	struct sim_stream noisy, quiet[10];
	uint64_t quiet_total = 0;
	int64_t t = 0;

	memset(&noisy, 0, sizeof(noisy));
	memset(quiet, 0, sizeof(quiet));
	node_share_join(nb, &noisy.sh);
	for (int i = 0; i < 10; i++)
		node_share_join(nb, &quiet[i].sh);
	for (int tick = 0; tick < 30000; tick++) {
		t = tick * MS;
		bound_mark(&b, t);
		for (int pass = 0; pass < 2; pass++) {
			if ((pass == 0) == noisy_first) {
				for (int k = 0; k < 5; k++)
					(void)offer(&noisy, &b, t, 1000);
				continue;
			}
			if (t < quiet_start)
				continue;
			for (int i = 0; i < 5; i++)
				if (tick % 2 == 0)
					(void)offer(&quiet[i], &b, t, 100);
			for (int i = 5; i < 10; i++)
				if (tick % 500 == (i - 5) * 37)
					for (int k = 0; k < 200; k++)
						(void)offer(&quiet[i], &b, t,
							    100);
		}
		bound_check(&b, t);
	}
	for (int i = 0; i < 10; i++) {
		assert_int_equal(quiet[i].dropped, 0);
		quiet_total += quiet[i].admitted;
	}
	/* The node is used to within its reserve and a line. */
	assert_true(b.total + 500000 + 1000 >=
		    1000000 + 1000000 * (uint64_t)t / NS);
	/* The noisy stream gets all that is left. */
	assert_int_equal(noisy.admitted, b.total - quiet_total);
	assert_true(noisy.dropped > 0);
	node_share_leave(&noisy.sh);
	for (int i = 0; i < 10; i++)
		node_share_leave(&quiet[i].sh);
	node_budget_free(nb);
}

static void test_quiet_streams_lose_nothing(void **state)
{
	(void)state;
	run_noisy_and_quiet(true, 0);
	run_noisy_and_quiet(false, 0);
	/* Quiet ones arrive when the noisy one has drained the pool. */
	run_noisy_and_quiet(true, 7 * NS + 3 * MS);
}

/*
 * Three noisy streams of different appetite and two quiet ones: each noisy
 * stream gets at least its own share (R / 5 over the run, less one cap),
 * the quiet ones lose nothing, and the node is used to the full.
 */
static void test_noisy_streams_get_their_share(void **state)
{
	struct node_budget *nb = node_budget_new(1000000, 1000000, 0);
	struct bound b = {.rate = 1000000, .burst = 1000000};
	struct sim_stream s[5];
	/* Offered per ms: 2 MB/s, 500 kB/s, 300 kB/s, 100 kB/s, 50 kB/s. */
	static const uint64_t per_ms[5] = {2000, 500, 300, 100, 50};
	int64_t t = 0;
	uint64_t share;

	(void)state;
	memset(s, 0, sizeof(s));
	for (int i = 0; i < 5; i++)
		node_share_join(nb, &s[i].sh);
	for (int tick = 0; tick < 20000; tick++) {
		t = tick * MS;
		bound_mark(&b, t);
		for (int i = 0; i < 5; i++)
			for (uint64_t k = 0; k < per_ms[i] / 50; k++)
				(void)offer(&s[i], &b, t, 50);
		bound_check(&b, t);
	}
	share = 1000000 / 5 * (uint64_t)t / NS;
	for (int i = 0; i < 3; i++)
		assert_true(s[i].admitted + 100000 >= share);
	/* The 300 kB/s one is over its share but under what is left. */
	assert_int_equal(s[3].dropped, 0);
	assert_int_equal(s[4].dropped, 0);
	assert_true(b.total + 500000 + 50 >=
		    1000000 + 1000000 * (uint64_t)t / NS);
	for (int i = 0; i < 5; i++)
		node_share_leave(&s[i].sh);
	node_budget_free(nb);
}

/*
 * A stream that writes a 40 kB burst every 5 s (idle far longer than W)
 * while a noisy neighbour saturates the node: it comes back to the credit
 * it saved and never loses a line.
 */
static void test_sparse_stream_keeps_its_credit(void **state)
{
	struct node_budget *nb = node_budget_new(1000000, 1000000, 0);
	struct bound b = {.rate = 1000000, .burst = 1000000};
	struct sim_stream noisy, sparse;
	int64_t t;

	(void)state;
	memset(&noisy, 0, sizeof(noisy));
	memset(&sparse, 0, sizeof(sparse));
	node_share_join(nb, &noisy.sh);
	node_share_join(nb, &sparse.sh);
	for (int tick = 0; tick < 60000; tick++) {
		t = tick * MS;
		bound_mark(&b, t);
		for (int k = 0; k < 3; k++)
			(void)offer(&noisy, &b, t, 1000);
		if (tick % 5000 == 1234)
			for (int k = 0; k < 400; k++)
				(void)offer(&sparse, &b, t, 100);
		bound_check(&b, t);
	}
	assert_int_equal(sparse.dropped, 0);
	assert_int_equal(sparse.admitted, 12 * 40000);
	node_share_leave(&noisy.sh);
	node_share_leave(&sparse.sh);
	node_budget_free(nb);
}

/*
 * Random churn: 40 streams start and stop at random, with random line sizes
 * and appetites, some lines larger than the cap.  Whatever happens, no
 * interval sees more than R * t + B.
 */
static void test_random_churn_respects_bound(void **state)
{
	struct node_budget *nb = node_budget_new(2000000, 3000000, 0);
	struct bound b = {.rate = 2000000, .burst = 3000000};
	struct sim_stream s[40];
	bool joined[40] = {false};
	uint64_t appetite[40];

	(void)state;
	memset(s, 0, sizeof(s));
	for (int i = 0; i < 40; i++)
		appetite[i] = rnd_below(20);
	for (int tick = 0; tick < 40000; tick++) {
		int64_t t = tick * MS + (int64_t)rnd_below(MS);

		bound_mark(&b, t);
		for (int i = 0; i < 40; i++) {
			if (rnd_below(2000) == 0) {
				if (joined[i])
					node_share_leave(&s[i].sh);
				else
					node_share_join(nb, &s[i].sh);
				joined[i] = !joined[i];
			}
			if (!joined[i] || rnd_below(10) != 0)
				continue;
			for (uint64_t k = 0; k < appetite[i]; k++)
				(void)offer(&s[i], &b, t,
					    rnd_below(100) == 0
						    ? 100000 + rnd_below(900000)
						    : 1 + rnd_below(4000));
		}
		bound_check(&b, t);
	}
	assert_true(b.total > 0);
	for (int i = 0; i < 40; i++)
		if (joined[i])
			node_share_leave(&s[i].sh);
	node_budget_free(nb);
}

/*
 * Randomised: 3 noisy streams of random appetite (1 to 4 MB/s each, the
 * node has 1.5 MB/s) and 12 quiet ones, each
 * quiet one held by its own token bucket to 90 % of the share rate
 * R / 15 and of the share cap D / 16 (so its lines provably conform), with
 * random line sizes, random pauses (some far longer than W), random start
 * times, and the streams offering in a random order every ms.  No quiet
 * line may be refused, in any of 20 seeds.
 */
static void test_random_quiet_streams_lose_nothing(void **state)
{
	enum { NOISY = 3, QUIET = 12, ALL = NOISY + QUIET };
	const uint64_t rate = 1500000, burst = 3000000;

	(void)state;
	for (int seed = 0; seed < 20; seed++) {
		struct node_budget *nb = node_budget_new(rate, burst, 0);
		struct bound b = {.rate = rate, .burst = burst};
		struct sim_stream s[ALL];
		struct tokenbucket model[QUIET];
		int64_t start[QUIET], pause_until[QUIET];
		uint64_t appetite[NOISY];
		int order[ALL];

		memset(s, 0, sizeof(s));
		for (int i = 0; i < ALL; i++)
			node_share_join(nb, &s[i].sh);
		for (int i = 0; i < NOISY; i++)
			appetite[i] = 1000 + rnd_below(3000);
		for (int i = 0; i < QUIET; i++) {
			/* share rate 100,000; cap 1,500,000 / 16 = 93,750 */
			assert_int_equal(
				tokenbucket_init(&model[i], 90000, 84000, 0),
				0);
			start[i] = rnd_below(3) == 0
					   ? 0
					   : (int64_t)rnd_below(10 * NS);
			pause_until[i] = 0;
		}
		for (int tick = 0; tick < 15000; tick++) {
			int64_t t = tick * MS;

			bound_mark(&b, t);
			for (int i = 0; i < ALL; i++)
				order[i] = i;
			for (int i = ALL - 1; i > 0; i--) {
				int j = (int)rnd_below((uint64_t)i + 1);
				int x = order[i];

				order[i] = order[j];
				order[j] = x;
			}
			for (int k = 0; k < ALL; k++) {
				int i = order[k];

				if (i < NOISY) {
					uint64_t left = appetite[i];

					while (left > 0) {
						uint64_t n =
							1 + rnd_below(2000);

						n = n < left ? n : left;
						(void)offer(&s[i], &b, t, n);
						left -= n;
					}
					continue;
				}
				int q = i - NOISY;

				if (t < start[q] || t < pause_until[q])
					continue;
				if (rnd_below(1000) == 0)
					pause_until[q] =
						t + (int64_t)rnd_below(8 * NS);
				for (int m = (int)rnd_below(40); m > 0; m--) {
					uint64_t n =
						1 + rnd_below(rnd_below(4) == 0
								      ? 20000
								      : 300);

					if (!tokenbucket_take(&model[q], t, n))
						break;
					assert_true(offer(&s[i], &b, t, n));
				}
			}
			bound_check(&b, t);
		}
		/* The node was contended and the quiet ones did write. */
		uint64_t noisy_dropped = 0, quiet_admitted = 0;

		for (int i = 0; i < NOISY; i++)
			noisy_dropped += s[i].dropped;
		for (int i = NOISY; i < ALL; i++)
			quiet_admitted += s[i].admitted;
		assert_true(noisy_dropped > 10 * rate);
		assert_true(quiet_admitted > 2 * rate);
		for (int i = 0; i < ALL; i++)
			node_share_leave(&s[i].sh);
		node_budget_free(nb);
	}
}

/* A lone stream's wait is exact: one ns earlier it is still refused. */
static void test_wait_exact_for_lone_stream(void **state)
{
	struct node_budget *nb = node_budget_new(100000, 200000, 0);
	struct node_share sh;
	int64_t t = 0;
	int admitted = 0;

	(void)state;
	node_share_join(nb, &sh);
	for (int i = 0; i < 3000; i++) {
		int64_t w = node_share_wait_ns(&sh, t, 100);

		if (w != 0) {
			assert_true(w >= 1);
			assert_false(node_share_admit(&sh, t + w - 1, 100));
			t += w;
		}
		assert_true(node_share_admit(&sh, t, 100));
		admitted++;
	}
	/*
	 * 3000 lines of 100 bytes: the pool (100 kB) and a share of the
	 * reserve (50 kB) at once, then 100 kB/s.
	 */
	assert_true(t == (3000 * 100 - 150000) * (NS / 100000));
	node_share_leave(&sh);
	node_budget_free(nb);
}

/* Chunks already decided on may take the node into debt, down to -B. */
static void test_charge_debt_floor(void **state)
{
	struct node_budget *nb = node_budget_new(1000, 10000, 0);
	struct node_share sh;

	(void)state;
	node_share_join(nb, &sh);
	assert_true(node_share_admit(&sh, 0, 4000));
	for (int i = 0; i < 16; i++)
		assert_true(node_share_charge(&sh, 0, 1000));
	/* 10,000 - 4,000 - 16,000 = -10,000: the floor. */
	assert_false(node_share_charge(&sh, 0, 1));
	assert_false(node_share_admit(&sh, 0, 1));
	/*
	 * The share went idle (W = 5 s) still 5,000 in debt, so the line
	 * waits for the pool: D + 100 = 5,100 tokens, at 15.1 s.
	 */
	assert_false(node_share_admit(&sh, 15100 * MS - 1, 100));
	assert_true(node_share_admit(&sh, 15100 * MS, 100));
	node_share_leave(&sh);
	node_budget_free(nb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_and_shares),
		cmocka_unit_test(test_unlimited_node),
		cmocka_unit_test(test_single_stream_gets_node_rate),
		cmocka_unit_test(test_quiet_streams_lose_nothing),
		cmocka_unit_test(test_noisy_streams_get_their_share),
		cmocka_unit_test(test_sparse_stream_keeps_its_credit),
		cmocka_unit_test(test_random_churn_respects_bound),
		cmocka_unit_test(test_random_quiet_streams_lose_nothing),
		cmocka_unit_test(test_wait_exact_for_lone_stream),
		cmocka_unit_test(test_charge_debt_floor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
