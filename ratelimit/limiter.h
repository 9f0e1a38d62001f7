/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One container's rate limiter: the log-opts rate-limit / rate-burst (bytes)
 * and rate-limit-lines / rate-burst-lines (lines), the node budget when
 * there is one, the rate-policy, and the drop accounting behind the
 * rate-notice lines.  stdout and stderr share the limits.  The caller offers
 * each entry and does what the verdict says; it counts nothing itself.
 *
 * Rules:
 *  - An entry costs its line_len plus cfg.entry_overhead bytes (the newline
 *    dockerd stripped is not in line_len) and, when it starts a line, one
 *    line.  A line passes only when every configured bucket and the node
 *    budget allow it; then all are charged.  A refused line charges nothing.
 *  - A line is admitted or dropped whole.  The chunks of a partial line
 *    (dockerd splits lines over 16 KiB: same partial id, ordinals 1..n, the
 *    last flagged) are decided at the first chunk: the rest of a dropped
 *    line is dropped, the rest of an admitted line is admitted and charged
 *    (the buckets may go into debt, so the rate holds).  One exception keeps
 *    a line without end from bypassing the limit: a chunk that would put a
 *    bucket more than one burst into debt is dropped, and so is the rest of
 *    that line.  Chunks are tracked per source (stdout, stderr), because
 *    dockerd interleaves the two streams.
 *  - A line longer than the burst passes when the bucket is full, so no
 *    line is impossible to log.
 *  - Policy drop: the verdict is LIMITER_ADMIT or LIMITER_DROP; drops are
 *    counted.  Policy block: LIMITER_ADMIT or LIMITER_WAIT with the
 *    nanoseconds after which to offer the same entry again; a wait consumes
 *    and counts nothing, and nothing is ever dropped.  A block wait is
 *    exact for the container's own buckets and an estimate for the node
 *    budget (other containers move it).
 *  - Notices (cfg.notice): drops not yet reported form an episode that
 *    starts at its first drop.  A notice is due when lines pass again, that
 *    is when a line is admitted at least LIMITER_NOTICE_SETTLE_NS after the
 *    last drop (write the notice before that line; at the limit admits and
 *    drops alternate line by line, and a notice per line would flood the
 *    log), and LIMITER_NOTICE_INTERVAL_NS after the episode's first drop,
 *    checked on every offer while drops go on and by the caller's timer
 *    (limiter_next_deadline()) when the container fell silent.  Taking the
 *    notice reports and resets the episode, so while drops go on there is
 *    one notice every 5 s.  Notice lines are not charged.
 *
 * Time is a monotonic clock in ns passed to every call.  Not thread-safe:
 * the event loop owns the limiter.  The per-line path neither allocates nor
 * divides by a variable.
 */
#ifndef RATELIMIT_LIMITER_H
#define RATELIMIT_LIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/entry.h"

struct limiter;
struct node_budget;

/* While drops go on, a notice at least this often. */
#define LIMITER_NOTICE_INTERVAL_NS INT64_C(5000000000)
/* Drops are over when a line passes this long after the last one. */
#define LIMITER_NOTICE_SETTLE_NS INT64_C(1000000000)
/* A buffer this large always holds a whole notice and its NUL. */
#define LIMITER_NOTICE_MAX 256

enum limiter_policy {
	LIMITER_POLICY_DROP,  /* drop and count what is over the limit */
	LIMITER_POLICY_BLOCK, /* make the caller wait; never drop */
};

enum limiter_verdict {
	LIMITER_ADMIT, /* write the entry */
	LIMITER_DROP,  /* discard it; it has been counted */
	LIMITER_WAIT,  /* offer it again after *wait_ns (block policy) */
};

struct limiter_config {
	uint64_t rate_bytes;	 /* rate-limit, bytes/s; 0 = unlimited */
	uint64_t burst_bytes;	 /* rate-burst, bytes; 0 = 4 x rate_bytes */
	uint64_t rate_lines;	 /* rate-limit-lines, lines/s; 0 = none */
	uint64_t burst_lines;	 /* rate-burst-lines; 0 = 4 x rate_lines */
	uint64_t entry_overhead; /* bytes charged per entry beyond its line */
	enum limiter_policy policy;
	bool notice; /* rate-notice: produce notice lines */
};

struct limiter_stats {
	uint64_t admitted_lines; /* whole lines and first chunks */
	uint64_t admitted_bytes; /* line bytes (without entry_overhead) */
	uint64_t dropped_lines;	 /* lines of which any chunk was dropped */
	uint64_t dropped_bytes;
	uint64_t waits;	  /* LIMITER_WAIT verdicts */
	uint64_t notices; /* notices taken */
};

/*
 * Check 'cfg': returns 0, or -EINVAL when a rate exceeds
 * TOKENBUCKET_RATE_MAX, a burst exceeds TOKENBUCKET_BURST_MAX, a burst is
 * set without its rate, or the policy is unknown.
 */
int limiter_config_check(const struct limiter_config *cfg)
	__attribute__((warn_unused_result));

/*
 * A new limiter for 'cfg' (which must pass limiter_config_check(); values
 * out of range are clamped), with full buckets at 'now_ns'.  When 'node' is
 * not NULL the limiter joins that budget and borrows it until
 * limiter_free().  Returns NULL only when out of memory.
 */
struct limiter *limiter_new(const struct limiter_config *cfg,
			    struct node_budget *node, int64_t now_ns);

/* Leaves the node budget and frees 'l'.  Accepts NULL. */
void limiter_free(struct limiter *l);

/*
 * Decide entry 'e' at 'now_ns' (see the rules above) and count it.
 * *wait_ns is set to the wait for LIMITER_WAIT (>= 1) and to 0 otherwise;
 * 'wait_ns' may be NULL under the drop policy.  'e' is only read.
 */
enum limiter_verdict limiter_offer(struct limiter *l, const struct log_entry *e,
				   int64_t now_ns, int64_t *wait_ns);

/*
 * Right after limiter_offer() dropped 'e': true when, at the same 'now_ns',
 * it would drop every whole line at least as long, on its shortest path
 * (the drop policy, no lines bucket and no node budget, no partial line
 * under way, 'e' itself a whole line).  A drop takes no tokens, so that
 * holds until time moves on or a line is admitted.
 */
bool limiter_drops_longer(const struct limiter *l, const struct log_entry *e);

/*
 * Count 'lines' whole lines of 'bytes' text bytes as limiter_offer() counts
 * them when it drops them after limiter_drops_longer(), without offering
 * them one by one.
 */
void limiter_drop_lines(struct limiter *l, uint64_t lines, uint64_t bytes,
			int64_t now_ns);

/* Whether a notice should be written now (always false without
 * cfg.notice). */
bool limiter_notice_due(const struct limiter *l, int64_t now_ns);

/*
 * When the pending notice becomes due if no line arrives: a time <= now
 * when it is due already, INT64_MAX when no notice is pending.  For the
 * caller's timer.
 */
int64_t limiter_next_deadline(const struct limiter *l);

/*
 * Write the notice for the unreported drops into buf (size bytes, at most
 * size - 1 characters and a NUL; LIMITER_NOTICE_MAX always suffices) and
 * start a new episode, whether or not it was due yet (at StopLogging the
 * caller takes what is left).  The text has no newline, e.g.
 * "ratelog: dropped 12.3 MB (120345 lines) in 5.0 s over rate-limit
 * 1 MB/s".  Write it as a stderr entry marked as ratelog's.  Returns the
 * characters written, 0 when no drop was unreported (buf is then "").
 */
size_t limiter_notice_take(struct limiter *l, int64_t now_ns, char *buf,
			   size_t size);

void limiter_get_stats(const struct limiter *l, struct limiter_stats *out);

#endif
