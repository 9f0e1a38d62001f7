/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node budget: one byte rate R and burst B (NODE_RATE_LIMIT,
 * NODE_RATE_BURST) for every container on the node together, shared so that
 * a container writing below its fair share never loses a line because of a
 * noisy neighbour.
 *
 * The model.  A stream (one container's limiter) is *active* from the
 * moment it asks the node about a line until W ns after the last time it
 * asked; N is the number of active streams.  W is the window of
 * node_budget_window_ns(): max(1 s, D / R) capped at 60 s, where D = B / 2,
 * so that a stream that paused for longer than W would have had a full
 * share anyway.
 *
 *  - The node bucket holds up to B tokens and refills at R.  Its lower half
 *    D is a reserve that only fair-share admissions may use.
 *  - Each active stream has a fair-share credit earning floor(R / N) per
 *    second up to a cap of floor(D / (N + 1)) (at least 1).  Shares earn
 *    only while their stream is active, so together they never earn more
 *    than R; an inactive stream keeps the credit it had when it went
 *    inactive (clamped to the cap when it returns), and a new stream starts
 *    with a full share.  The caps of the active shares add up to less than
 *    D: the last slice backs the credit of the next stream to start
 *    writing, even after a stream that was alone spent all it could.
 *  - A line of n bytes is admitted from the pool when the node bucket
 *    holds D + n (or is full); only the bucket is charged.  Otherwise it is
 *    admitted by its share when the credit covers it (or the credit is full
 *    and n exceeds the cap) and the bucket holds n (or is full); both are
 *    charged.  Otherwise it is refused.  (Pool first, so that credit is
 *    kept for when the pool is gone.)
 *
 * What that gives.  Bytes admitted over any interval of t seconds are at
 * most R * t + B, plus the overdraw of single lines longer than the burst
 * and of the chunks charged by node_share_charge() (at most one more B).
 * A stream alone gets B - D / 2 at once, then R.  A stream whose lines
 * conform to a token bucket of rate floor(R / N) and burst
 * floor(D / (N + 1)), N being the most streams active meanwhile, is never
 * refused: the pool cannot eat into the reserve, and the shares that can
 * draw on it are backed by it, including that of a stream that just
 * started.  (Streams coming back from idle bring the credit they saved; if
 * several burst at the very instant the reserve is at its lowest, one can
 * be refused.)  Noisy streams get their own share plus whatever the quiet
 * ones leave unused, through the pool, so the node's rate is never wasted
 * while someone wants it.
 *
 * Cost: per line, no division and no allocation; a division happens only
 * when N changes (a stream starts or stops being active).  Expiry is lazy,
 * from a list ordered by last use, so it is amortised O(1) per line.
 *
 * Time is a monotonic clock in ns passed to every call; a clock that goes
 * backwards is treated as not moving.  Not thread-safe: the event loop owns
 * the budget and every share.
 */
#ifndef RATELIMIT_NODE_H
#define RATELIMIT_NODE_H

#include <stdbool.h>
#include <stdint.h>

struct node_budget;

/*
 * One stream's membership in a node budget, embedded in its limiter.
 * Exposed only so it can be embedded; the fields are private.
 */
struct node_share {
	struct node_budget *node;	/* NULL when not joined */
	struct node_share *prev, *next; /* the active list, oldest first */
	int64_t credit;			/* share tokens; < 0 is debt */
	uint64_t vt;			/* node share clock at last refill */
	int64_t last_ns;		/* last time the stream asked */
	bool active;
};

/*
 * A new node budget of 'rate' bytes per second and 'burst' bytes (0 means
 * 4 x rate), starting full at 'now_ns'.  rate is clamped to
 * TOKENBUCKET_RATE_MAX and burst to TOKENBUCKET_BURST_MAX; rate 0 gives a
 * budget that admits everything (callers normally pass NULL instead).
 * Returns NULL only when out of memory.  Free with node_budget_free().
 */
struct node_budget *node_budget_new(uint64_t rate, uint64_t burst,
				    int64_t now_ns);

/* Frees 'nb'.  Every share must have left first.  Accepts NULL. */
void node_budget_free(struct node_budget *nb);

/* The rate and burst in force (burst after the default was applied). */
uint64_t node_budget_rate(const struct node_budget *nb);
uint64_t node_budget_burst(const struct node_budget *nb);

/* W, the activity window of the model above, in ns. */
int64_t node_budget_window_ns(const struct node_budget *nb);

/*
 * Number of streams active at 'now_ns' (expiring those whose window ended).
 * For statistics and tests.
 */
unsigned node_budget_active(struct node_budget *nb, int64_t now_ns);

/*
 * The fair-share rate and cap of one stream at 'now_ns', as in the model
 * (the full node rate and reserve when no stream is active).
 */
uint64_t node_budget_share_rate(struct node_budget *nb, int64_t now_ns);
uint64_t node_budget_share_cap(struct node_budget *nb, int64_t now_ns);

/*
 * Make 'sh' a member of 'nb', with a full share, not yet active.  'sh' must
 * not be a member of any budget.  Borrows 'nb' until node_share_leave().
 */
void node_share_join(struct node_budget *nb, struct node_share *sh);

/*
 * Take 'sh' out of its budget (no-op if it is not in one).  If it was
 * active, N drops at once, as of the budget's latest clock.
 */
void node_share_leave(struct node_share *sh);

/*
 * Ask the node for a line of n bytes at 'now_ns'; marks the stream active.
 * Returns true and charges the node (and the share, when the share admitted
 * it), or false and charges nothing.
 */
bool node_share_admit(struct node_share *sh, int64_t now_ns, uint64_t n);

/*
 * Nanoseconds until node_share_admit(sh, ., n) would succeed if nothing else
 * changes: 0 if it would now, else an estimate >= 1 (other streams and
 * changes of N can move it either way; ask again then).  Marks the stream
 * active; charges nothing.
 */
int64_t node_share_wait_ns(struct node_share *sh, int64_t now_ns, uint64_t n);

/*
 * Charge n bytes that were already decided on (the later chunks of a long
 * line admitted at its first chunk) to the share and the node bucket, which
 * may go into debt down to -B.  Returns false and charges nothing when that
 * debt would be exceeded.  Marks the stream active.
 */
bool node_share_charge(struct node_share *sh, int64_t now_ns, uint64_t n);

#endif
