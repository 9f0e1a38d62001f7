/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token bucket on integers.  The one thing to know: the fractional token is
 * carried in 'frac' (units of 1e-9 token), and every refill goes through
 * tokenbucket_gain(), so the tokens earned over an interval do not depend on
 * how often the bucket was looked at.
 */
#include "ratelimit/tokenbucket.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#define NS_PER_S UINT64_C(1000000000)
/*
 * Past this many seconds sec * rate could pass 2^62; no bucket can hold
 * that much, so such an interval simply fills it.
 */
#define GAIN_SEC_MAX UINT64_C(4000000)

uint64_t tokenbucket_gain(uint64_t rate, uint64_t dt_ns, uint64_t *frac)
{
	uint64_t sec, nsec, whole, part;

	sec = dt_ns / NS_PER_S;
	nsec = dt_ns % NS_PER_S;
	if (sec > GAIN_SEC_MAX) {
		*frac = 0;
		return TOKENBUCKET_GAIN_MAX;
	}
	/*
	 * rate * dt = (sec * rate + nsec * (rate / 1e9)) * 1e9
	 *             + nsec * (rate % 1e9),
	 * and each product stays below 2^63 for rate <= 1e12.
	 */
	whole = sec * rate + nsec * (rate / NS_PER_S);
	part = nsec * (rate % NS_PER_S) + *frac;
	*frac = part % NS_PER_S;
	return whole + part / NS_PER_S;
}

int64_t tokenbucket_gain_ns(uint64_t rate, uint64_t frac, uint64_t need)
{
	uint64_t lo, hi, mid, f;

	if (need == 0)
		return 0;
	if (rate == 0)
		return INT64_MAX;
	/* Exact: the smallest dt with rate * dt >= need * 1e9 - frac. */
	if (need <= UINT64_MAX / NS_PER_S) {
		uint64_t x = need * NS_PER_S - frac;
		uint64_t dt = x / rate + (x % rate != 0);

		return dt > INT64_MAX ? INT64_MAX : (int64_t)dt;
	}
	/*
	 * Beyond 1.8e10 tokens the product no longer fits; the gain is
	 * monotonic in dt, so search for the first dt that earns enough.  Only
	 * waits of many seconds at huge rates get here, never the take path.
	 */
	f = frac;
	if (tokenbucket_gain(rate, (uint64_t)INT64_MAX, &f) < need)
		return INT64_MAX;
	lo = 0;
	hi = (uint64_t)INT64_MAX;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		f = frac;
		if (tokenbucket_gain(rate, mid, &f) >= need)
			hi = mid;
		else
			lo = mid + 1;
	}
	return (int64_t)lo;
}

int tokenbucket_init(struct tokenbucket *tb, uint64_t rate, uint64_t burst,
		     int64_t now_ns)
{
	tb->rate = 0;
	tb->burst = 0;
	tb->tokens = 0;
	tb->frac = 0;
	tb->last_ns = now_ns;
	if (rate > TOKENBUCKET_RATE_MAX || burst > TOKENBUCKET_BURST_MAX)
		return -EINVAL;
	if (rate == 0)
		return 0;
	if (burst == 0)
		return -EINVAL;
	tb->rate = rate;
	tb->burst = (int64_t)burst;
	tb->tokens = (int64_t)burst;
	return 0;
}

bool tokenbucket_is_unlimited(const struct tokenbucket *tb)
{
	return tb->rate == 0;
}

uint64_t tokenbucket_rate(const struct tokenbucket *tb)
{
	return tb->rate;
}

uint64_t tokenbucket_burst(const struct tokenbucket *tb)
{
	return (uint64_t)tb->burst;
}

void tokenbucket_refill(struct tokenbucket *tb, int64_t now_ns)
{
	uint64_t gain;

	/* Many lines of one read share a timestamp: nothing to do. */
	if (now_ns <= tb->last_ns)
		return;
	if (tb->tokens >= tb->burst) {
		/* Time spent full earns nothing. */
		tb->last_ns = now_ns;
		return;
	}
	gain = tokenbucket_gain(tb->rate, (uint64_t)(now_ns - tb->last_ns),
				&tb->frac);
	tb->last_ns = now_ns;
	/* tokens >= -2^60 and gain <= 2^62: the sum cannot overflow. */
	if (gain >= (uint64_t)(tb->burst - tb->tokens)) {
		tb->tokens = tb->burst;
		tb->frac = 0;
	} else {
		tb->tokens += (int64_t)gain;
	}
}

int64_t tokenbucket_wait_ns(struct tokenbucket *tb, int64_t now_ns, uint64_t n)
{
	int64_t need;

	if (tb->rate == 0)
		return 0;
	tokenbucket_refill(tb, now_ns);
	need = tokenbucket_need(tb, n);
	if (tb->tokens >= need)
		return 0;
	return tokenbucket_gain_ns(tb->rate, tb->frac,
				   (uint64_t)(need - tb->tokens));
}

bool tokenbucket_overdraw(struct tokenbucket *tb, int64_t now_ns, uint64_t n)
{
	if (tb->rate == 0)
		return true;
	tokenbucket_refill(tb, now_ns);
	if (tb->tokens + tb->burst < tokenbucket_cost(n))
		return false;
	tokenbucket_debit(tb, n);
	return true;
}

bool tokenbucket_can_overdraw(struct tokenbucket *tb, int64_t now_ns,
			      uint64_t n)
{
	if (tb->rate == 0)
		return true;
	tokenbucket_refill(tb, now_ns);
	return tb->tokens + tb->burst >= tokenbucket_cost(n);
}

int64_t tokenbucket_tokens(struct tokenbucket *tb, int64_t now_ns)
{
	if (tb->rate == 0)
		return INT64_MAX;
	tokenbucket_refill(tb, now_ns);
	return tb->tokens;
}
