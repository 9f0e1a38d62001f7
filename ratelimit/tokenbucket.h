/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A token bucket on integers.  Tokens accrue at 'rate' per second up to
 * 'burst'; the caller passes a monotonic clock in nanoseconds to every call,
 * so the bucket never reads a clock and tests run on simulated time.
 *
 * Refill is exact: the product nanoseconds x rate is carried as a remainder
 * in units of 1e-9 token, so any split of the same interval into calls earns
 * the same tokens, with no drift.  The arithmetic is 64-bit only (no
 * __int128, no division by a variable on the take path; the divisions by the
 * constant 1e9 compile to multiplications).  A full bucket discards time:
 * the remainder is zeroed when the bucket caps, so a bucket that sat full
 * starts earning again from the moment it was taken from.
 *
 * A take of n tokens succeeds when the bucket holds n, or when it is full
 * and n exceeds the burst (so no single request is impossible); the second
 * case leaves the bucket in debt, and the debt is repaid by refill before
 * anything else is admitted, so the long-run rate still holds.
 *
 * A rate of 0 means unlimited: every call admits, nothing is counted.
 *
 * Not thread-safe; one owner (the event loop) calls it.  A clock that goes
 * backwards is treated as not moving.
 */
#ifndef RATELIMIT_TOKENBUCKET_H
#define RATELIMIT_TOKENBUCKET_H

#include <stdbool.h>
#include <stdint.h>

/* Largest rate, tokens per second (1 TB/s). */
#define TOKENBUCKET_RATE_MAX UINT64_C(1000000000000)
/* Largest burst, and the deepest debt a bucket may reach (2^60). */
#define TOKENBUCKET_BURST_MAX UINT64_C(1152921504606846976)
/* What tokenbucket_gain() returns for an interval too long to matter. */
#define TOKENBUCKET_GAIN_MAX UINT64_C(4611686018427387904)

/*
 * Exposed so it can be embedded; the fields are private, use the functions.
 */
struct tokenbucket {
	uint64_t rate;	 /* tokens per second, 0..TOKENBUCKET_RATE_MAX */
	int64_t burst;	 /* capacity, 1..TOKENBUCKET_BURST_MAX */
	int64_t tokens;	 /* -TOKENBUCKET_BURST_MAX..burst, < 0 is debt */
	uint64_t frac;	 /* carried rate x ns, in 1e-9 tokens, < 1e9 */
	int64_t last_ns; /* clock of the last refill */
};

/*
 * Set up 'tb' full at 'now_ns', earning 'rate' tokens per second up to
 * 'burst'.  rate 0 makes it unlimited (burst is then ignored).  Returns 0,
 * or -EINVAL when rate > TOKENBUCKET_RATE_MAX, burst > TOKENBUCKET_BURST_MAX
 * or a non-zero rate comes with burst 0 (tb is then unusable).
 */
int tokenbucket_init(struct tokenbucket *tb, uint64_t rate, uint64_t burst,
		     int64_t now_ns) __attribute__((warn_unused_result));

/* Whether tb was set up with rate 0. */
bool tokenbucket_is_unlimited(const struct tokenbucket *tb);

/*
 * Refill to 'now_ns' (a no-op unless the clock moved past the last refill).
 * Every call below refills first; this is the part they share out of line.
 * tokenbucket_need(), _cost() and _debit() are helpers of the inline
 * functions, not for callers.
 */
void tokenbucket_refill(struct tokenbucket *tb, int64_t now_ns);

/* The tokens a take of n needs on hand: n, or a full bucket when n > burst. */
static inline int64_t tokenbucket_need(const struct tokenbucket *tb, uint64_t n)
{
	return n >= (uint64_t)tb->burst ? tb->burst : (int64_t)n;
}

/* n capped so that tokens - n stays above INT64_MIN. */
static inline int64_t tokenbucket_cost(uint64_t n)
{
	return n > TOKENBUCKET_BURST_MAX ? (int64_t)TOKENBUCKET_BURST_MAX
					 : (int64_t)n;
}

static inline void tokenbucket_debit(struct tokenbucket *tb, uint64_t n)
{
	tb->tokens -= tokenbucket_cost(n);
	if (tb->tokens < -(int64_t)TOKENBUCKET_BURST_MAX)
		tb->tokens = -(int64_t)TOKENBUCKET_BURST_MAX;
}

/*
 * Refill to 'now_ns', then take n tokens if the bucket holds them or is full
 * (a request larger than the burst then leaves a debt).  Returns whether it
 * took them; on false nothing changed but the refill.  Inline because the
 * limiter asks once per line, and the lines of one read share a timestamp,
 * so most calls are a comparison and a subtraction.
 */
static inline bool tokenbucket_take(struct tokenbucket *tb, int64_t now_ns,
				    uint64_t n)
{
	if (tb->rate == 0)
		return true;
	if (now_ns > tb->last_ns)
		tokenbucket_refill(tb, now_ns);
	if (tb->tokens < tokenbucket_need(tb, n))
		return false;
	tokenbucket_debit(tb, n);
	return true;
}

/* Whether tokenbucket_take(tb, now_ns, n) would succeed; takes nothing. */
static inline bool tokenbucket_can_take(struct tokenbucket *tb, int64_t now_ns,
					uint64_t n)
{
	if (tb->rate == 0)
		return true;
	if (now_ns > tb->last_ns)
		tokenbucket_refill(tb, now_ns);
	return tb->tokens >= tokenbucket_need(tb, n);
}

/*
 * Nanoseconds from 'now_ns' until tokenbucket_take(tb, ., n) succeeds if
 * nobody else takes meanwhile: 0 when it would succeed now, else the exact
 * smallest wait (>= 1).  Takes nothing.  Never returns more than INT64_MAX.
 */
int64_t tokenbucket_wait_ns(struct tokenbucket *tb, int64_t now_ns, uint64_t n);

/*
 * Take n tokens even when the bucket lacks them, as long as the debt left
 * behind is at most one burst (tokens - n >= -burst).  For charging what
 * was already admitted, e.g. the later chunks of a long line.  Returns
 * whether it took them; on false nothing changed but the refill.
 */
bool tokenbucket_overdraw(struct tokenbucket *tb, int64_t now_ns, uint64_t n);

/* Whether tokenbucket_overdraw(tb, now_ns, n) would succeed; takes nothing. */
bool tokenbucket_can_overdraw(struct tokenbucket *tb, int64_t now_ns,
			      uint64_t n);

/* Refill to 'now_ns' and return the tokens held (negative: debt).  An
 * unlimited bucket reports INT64_MAX. */
int64_t tokenbucket_tokens(struct tokenbucket *tb, int64_t now_ns);

/* The configured rate and burst (0 and 0 when unlimited). */
uint64_t tokenbucket_rate(const struct tokenbucket *tb);
uint64_t tokenbucket_burst(const struct tokenbucket *tb);

/*
 * The arithmetic under the bucket, shared with the node budget's fair-share
 * clock.  tokenbucket_gain() returns the whole tokens earned at 'rate' per
 * second over 'dt_ns' nanoseconds when *frac (< 1e9) 1e-9 tokens were
 * already carried, and leaves the new remainder in *frac: exactly
 * floor((rate * dt_ns + *frac) / 1e9).  Intervals over 4e6 s return
 * TOKENBUCKET_GAIN_MAX and zero *frac.  rate <= TOKENBUCKET_RATE_MAX.
 */
uint64_t tokenbucket_gain(uint64_t rate, uint64_t dt_ns, uint64_t *frac);

/*
 * The smallest dt_ns for which tokenbucket_gain(rate, dt_ns, &frac) >= need
 * (0 when need is 0); INT64_MAX when rate is 0 or the wait exceeds it.
 */
int64_t tokenbucket_gain_ns(uint64_t rate, uint64_t frac, uint64_t need);

#endif
