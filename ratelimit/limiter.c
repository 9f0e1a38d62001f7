/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One container's limiter (the rules are in limiter.h).  The one thing to
 * know: every check is made before anything is charged, so a refused line
 * or a wait leaves every bucket as it was, and a partial line's fate is
 * kept per source from its first chunk to its last.
 */
#include "ratelimit/limiter.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit/node.h"
#include "ratelimit/tokenbucket.h"
#include "store/entry.h"

/* What refused a line, for the notice. */
#define REFUSED_BYTES 1u
#define REFUSED_LINES 2u
#define REFUSED_NODE  4u

/* dockerd's partial ids are 64 hex digits; longer ones compare by prefix
 * and length. */
#define GROUP_ID_MAX 64

/* The partial line in progress on one source. */
struct group {
	bool open;	       /* a first chunk came, its last has not */
	bool admitted;	       /* the chunks go through */
	unsigned refused;      /* REFUSED_* that dropped it */
	size_t id_len;	       /* full length of the partial id */
	char id[GROUP_ID_MAX]; /* its first GROUP_ID_MAX bytes */
};

struct limiter {
	struct tokenbucket bytes;
	struct tokenbucket lines; /* unlimited when rate_lines is 0 */
	struct node_share share;  /* joined when node != NULL */
	struct node_budget *node; /* borrowed */
	uint64_t overhead;	  /* entry_overhead */
	enum limiter_policy policy;
	bool notice;
	bool simple;		/* only a bytes bucket (or none) to ask */
	struct group groups[2]; /* stdout, stderr */
	struct limiter_stats stats;
	/* The episode: drops not reported yet. */
	uint64_t ep_drops; /* dropped entries */
	uint64_t ep_bytes;
	uint64_t ep_lines;
	int64_t ep_start_ns; /* first drop of the episode */
	int64_t last_drop_ns;
	unsigned ep_refused; /* REFUSED_* seen in it */
	bool ep_passed;	     /* a line passed once the drops had settled */
};

static uint64_t default_burst(uint64_t rate, uint64_t burst)
{
	if (rate > TOKENBUCKET_RATE_MAX)
		rate = TOKENBUCKET_RATE_MAX;
	if (burst == 0)
		burst = 4 * rate;
	if (burst > TOKENBUCKET_BURST_MAX)
		burst = TOKENBUCKET_BURST_MAX;
	return burst;
}

int limiter_config_check(const struct limiter_config *cfg)
{
	if (cfg->rate_bytes > TOKENBUCKET_RATE_MAX ||
	    cfg->rate_lines > TOKENBUCKET_RATE_MAX)
		return -EINVAL;
	if (cfg->burst_bytes > TOKENBUCKET_BURST_MAX ||
	    cfg->burst_lines > TOKENBUCKET_BURST_MAX)
		return -EINVAL;
	if ((cfg->rate_bytes == 0 && cfg->burst_bytes != 0) ||
	    (cfg->rate_lines == 0 && cfg->burst_lines != 0))
		return -EINVAL;
	if (cfg->policy != LIMITER_POLICY_DROP &&
	    cfg->policy != LIMITER_POLICY_BLOCK)
		return -EINVAL;
	return 0;
}

static void init_bucket(struct tokenbucket *tb, uint64_t rate, uint64_t burst,
			int64_t now_ns)
{
	int rc;

	if (rate > TOKENBUCKET_RATE_MAX)
		rate = TOKENBUCKET_RATE_MAX;
	/* Clamped into range: cannot fail. */
	rc = tokenbucket_init(tb, rate, default_burst(rate, burst), now_ns);
	assert(rc == 0);
	(void)rc;
}

struct limiter *limiter_new(const struct limiter_config *cfg,
			    struct node_budget *node, int64_t now_ns)
{
	struct limiter *l;

	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	init_bucket(&l->bytes, cfg->rate_bytes, cfg->burst_bytes, now_ns);
	init_bucket(&l->lines, cfg->rate_lines, cfg->burst_lines, now_ns);
	l->overhead = cfg->entry_overhead;
	l->policy = cfg->policy == LIMITER_POLICY_BLOCK ? LIMITER_POLICY_BLOCK
							: LIMITER_POLICY_DROP;
	l->notice = cfg->notice;
	l->node = node;
	if (node != NULL)
		node_share_join(node, &l->share);
	l->simple = node == NULL && tokenbucket_is_unlimited(&l->lines);
	return l;
}

void limiter_free(struct limiter *l)
{
	if (l == NULL)
		return;
	if (l->node != NULL)
		node_share_leave(&l->share);
	free(l);
}

static struct group *group_of(struct limiter *l, const struct log_entry *e)
{
	bool err = e->source_len == 6 && memcmp(e->source, "stderr", 6) == 0;

	return &l->groups[err ? 1 : 0];
}

static bool same_id(const struct group *g, const struct log_entry *e)
{
	size_t n = e->partial_id_len < GROUP_ID_MAX ? e->partial_id_len
						    : GROUP_ID_MAX;

	return g->id_len == e->partial_id_len &&
	       (n == 0 || memcmp(g->id, e->partial_id, n) == 0);
}

/* Whether e is a later chunk of the line open on its source. */
static bool continues(const struct group *g, const struct log_entry *e)
{
	return e->partial && g->open && e->partial_ordinal > 1 && same_id(g, e);
}

/* Remember the fate of the line e belongs to, once it was decided. */
static void group_update(struct group *g, const struct log_entry *e, bool cont,
			 bool admitted, unsigned refused)
{
	size_t n;

	if (!e->partial) {
		g->open = false;
		return;
	}
	if (!cont) {
		n = e->partial_id_len < GROUP_ID_MAX ? e->partial_id_len
						     : GROUP_ID_MAX;
		g->id_len = e->partial_id_len;
		if (n != 0)
			memcpy(g->id, e->partial_id, n);
		g->refused = refused;
	}
	g->admitted = admitted;
	if (!admitted && refused != 0)
		g->refused = refused;
	g->open = !e->partial_last;
}

/* Drop policy, for a whole line or a first chunk. */
static enum limiter_verdict offer_drop(struct limiter *l, uint64_t n,
				       int64_t now_ns, unsigned *refused)
{
	if (l->simple) {
		if (tokenbucket_take(&l->bytes, now_ns, n))
			return LIMITER_ADMIT;
		*refused = REFUSED_BYTES;
		return LIMITER_DROP;
	}
	if (!tokenbucket_can_take(&l->bytes, now_ns, n))
		*refused |= REFUSED_BYTES;
	if (!tokenbucket_can_take(&l->lines, now_ns, 1))
		*refused |= REFUSED_LINES;
	if (*refused != 0)
		return LIMITER_DROP;
	if (l->node != NULL && !node_share_admit(&l->share, now_ns, n)) {
		*refused = REFUSED_NODE;
		return LIMITER_DROP;
	}
	/* Both were checked at the same instant: these succeed. */
	(void)tokenbucket_take(&l->bytes, now_ns, n);
	(void)tokenbucket_take(&l->lines, now_ns, 1);
	return LIMITER_ADMIT;
}

/* Drop policy, for a later chunk of a line decided at its first. */
static enum limiter_verdict offer_rest(struct limiter *l, const struct group *g,
				       uint64_t n, int64_t now_ns,
				       unsigned *refused)
{
	if (!g->admitted)
		return LIMITER_DROP;
	/* Charge it anyway, but a line without end must not run forever. */
	if (!tokenbucket_can_overdraw(&l->bytes, now_ns, n)) {
		*refused = REFUSED_BYTES;
		return LIMITER_DROP;
	}
	if (l->node != NULL && !node_share_charge(&l->share, now_ns, n)) {
		*refused = REFUSED_NODE;
		return LIMITER_DROP;
	}
	(void)tokenbucket_overdraw(&l->bytes, now_ns, n);
	return LIMITER_ADMIT;
}

/* Block policy: every chunk waits for its own tokens; lines count once. */
static enum limiter_verdict offer_block(struct limiter *l, bool cont,
					uint64_t n, int64_t now_ns,
					int64_t *wait_ns)
{
	int64_t w, wl;

	w = tokenbucket_wait_ns(&l->bytes, now_ns, n);
	if (!cont) {
		wl = tokenbucket_wait_ns(&l->lines, now_ns, 1);
		if (wl > w)
			w = wl;
	}
	/* Ask the node only when the container's own limits allow. */
	if (w == 0 && l->node != NULL)
		w = node_share_wait_ns(&l->share, now_ns, n);
	if (w != 0) {
		*wait_ns = w;
		return LIMITER_WAIT;
	}
	if (l->node != NULL)
		(void)node_share_admit(&l->share, now_ns, n);
	(void)tokenbucket_take(&l->bytes, now_ns, n);
	if (!cont)
		(void)tokenbucket_take(&l->lines, now_ns, 1);
	return LIMITER_ADMIT;
}

/* 'entries' dropped at 'now_ns', 'lines' of them lines, 'bytes' of text. */
static void count_drops(struct limiter *l, uint64_t entries, uint64_t lines,
			uint64_t bytes, unsigned refused, int64_t now_ns)
{
	l->stats.dropped_bytes += bytes;
	l->stats.dropped_lines += lines;
	if (l->ep_drops == 0) {
		l->ep_start_ns = now_ns;
		l->ep_passed = false;
	}
	l->ep_drops += entries;
	l->last_drop_ns = now_ns;
	l->ep_bytes += bytes;
	l->ep_lines += lines;
	l->ep_refused |= refused;
}

static void count_drop(struct limiter *l, const struct log_entry *e, bool line,
		       unsigned refused, int64_t now_ns)
{
	count_drops(l, 1, line, e->line_len, refused, now_ns);
}

/* What an entry costs the bytes bucket. */
static inline uint64_t entry_cost(const struct limiter *l,
				  const struct log_entry *e)
{
	uint64_t n = (uint64_t)e->line_len;

	return n > UINT64_MAX - l->overhead ? UINT64_MAX : n + l->overhead;
}

/* A line was admitted whole, or by its first chunk. */
static inline void count_line_admit(struct limiter *l,
				    const struct log_entry *e, int64_t now_ns)
{
	l->stats.admitted_bytes += e->line_len;
	l->stats.admitted_lines++;
	/*
	 * At the limit, admits and drops alternate line by line; only a pass
	 * after the drops stopped ends the episode, or there would be a
	 * notice per line.
	 */
	if (l->ep_drops != 0 &&
	    now_ns - l->last_drop_ns >= LIMITER_NOTICE_SETTLE_NS)
		l->ep_passed = true;
}

/*
 * Every case but the one limiter_offer() decides itself.  Kept out of
 * line so that the common case does not pay for its stack frame.
 */
static __attribute__((noinline)) enum limiter_verdict
offer_any(struct limiter *l, const struct log_entry *e, int64_t now_ns,
	  int64_t *wait_ns)
{
	enum limiter_verdict v;
	struct group *g;
	unsigned refused = 0, why;
	bool cont, line;
	uint64_t n;

	g = NULL;
	cont = false;
	if (e->partial || l->groups[0].open || l->groups[1].open) {
		g = group_of(l, e);
		cont = continues(g, e);
	}
	n = entry_cost(l, e);
	if (l->policy == LIMITER_POLICY_BLOCK) {
		int64_t w = 0;

		v = offer_block(l, cont, n, now_ns, &w);
		if (v == LIMITER_WAIT) {
			l->stats.waits++;
			if (wait_ns != NULL)
				*wait_ns = w;
			return v;
		}
	} else if (cont) {
		v = offer_rest(l, g, n, now_ns, &refused);
	} else {
		v = offer_drop(l, n, now_ns, &refused);
	}
	if (v == LIMITER_ADMIT) {
		if (cont)
			l->stats.admitted_bytes += e->line_len;
		else
			count_line_admit(l, e, now_ns);
		if (g != NULL)
			group_update(g, e, cont, true, 0);
		return v;
	}
	/*
	 * A drop counts a line at its first chunk, or at the chunk where an
	 * admitted line was cut; the rest of a dropped line keeps the reason
	 * its first chunk had.
	 */
	line = true;
	why = refused;
	if (g != NULL && cont) {
		line = g->admitted;
		if (!g->admitted)
			why = g->refused;
	}
	count_drop(l, e, line, why, now_ns);
	if (g != NULL)
		group_update(g, e, cont, false, refused);
	return v;
}

enum limiter_verdict limiter_offer(struct limiter *l, const struct log_entry *e,
				   int64_t now_ns, int64_t *wait_ns)
{
	uint64_t n;

	if (wait_ns != NULL)
		*wait_ns = 0;
	/*
	 * The common case, a whole line with no partial line open, the drop
	 * policy and only a bytes bucket, is decided here, with nothing of
	 * the rest on its way: a flood being dropped comes through here once
	 * per line.
	 */
	if (!l->simple || l->policy != LIMITER_POLICY_DROP || e->partial ||
	    l->groups[0].open || l->groups[1].open)
		return offer_any(l, e, now_ns, wait_ns);
	n = entry_cost(l, e);
	if (tokenbucket_take(&l->bytes, now_ns, n)) {
		count_line_admit(l, e, now_ns);
		return LIMITER_ADMIT;
	}
	count_drop(l, e, true, REFUSED_BYTES, now_ns);
	return LIMITER_DROP;
}

bool limiter_drops_longer(const struct limiter *l, const struct log_entry *e)
{
	/* limiter_offer()'s own test for its shortest path: there a line is
	 * dropped when the bucket holds fewer than min(cost, burst) tokens,
	 * which only grows with the line's length. */
	return l->simple && l->policy == LIMITER_POLICY_DROP && !e->partial &&
	       !l->groups[0].open && !l->groups[1].open;
}

void limiter_drop_lines(struct limiter *l, uint64_t lines, uint64_t bytes,
			int64_t now_ns)
{
	/* As limiter_offer()'s shortest path counts each, summed (they all
	 * share 'now_ns'); no lines must not start an episode. */
	if (lines > 0)
		count_drops(l, lines, lines, bytes, REFUSED_BYTES, now_ns);
}

bool limiter_notice_due(const struct limiter *l, int64_t now_ns)
{
	if (!l->notice || l->ep_drops == 0)
		return false;
	return l->ep_passed ||
	       now_ns - l->ep_start_ns >= LIMITER_NOTICE_INTERVAL_NS;
}

int64_t limiter_next_deadline(const struct limiter *l)
{
	if (!l->notice || l->ep_drops == 0)
		return INT64_MAX;
	if (l->ep_passed)
		return l->ep_start_ns;
	if (l->ep_start_ns > INT64_MAX - LIMITER_NOTICE_INTERVAL_NS)
		return INT64_MAX;
	return l->ep_start_ns + LIMITER_NOTICE_INTERVAL_NS;
}

/*
 * A size in decimal units: "512 B", "1.5 kB", "12.3 MB" ... rounded to a
 * tenth; with 'rate' set a tenth of 0 is left out ("1 MB").
 */
static void format_size(char *buf, size_t size, uint64_t v, bool rate)
{
	static const char *const unit[] = {"kB", "MB", "GB", "TB", "PB", "EB"};
	uint64_t div = 1000, tenth, t;
	size_t u = 0;

	if (v < 1000) {
		snprintf(buf, size, "%" PRIu64 " B", v);
		return;
	}
	while (u + 1 < sizeof(unit) / sizeof(unit[0]) && v / 1000 >= div) {
		div *= 1000;
		u++;
	}
	tenth = div / 10;
	t = v / tenth + ((v % tenth) >= tenth - tenth / 2);
	/* 999.95 kB rounds to 1000.0 kB: say 1.0 MB. */
	if (t >= 10000 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
		u++;
		t = (t + 500) / 1000;
	}
	if (rate && t % 10 == 0)
		snprintf(buf, size, "%" PRIu64 " %s", t / 10, unit[u]);
	else
		snprintf(buf, size, "%" PRIu64 ".%" PRIu64 " %s", t / 10,
			 t % 10, unit[u]);
}

size_t limiter_notice_take(struct limiter *l, int64_t now_ns, char *buf,
			   size_t size)
{
	char dropped[64], rate[64], why[192];
	uint64_t tenths;
	size_t len = 0;
	int64_t span;
	int rc;

	if (size == 0)
		return 0;
	buf[0] = '\0';
	if (l->ep_drops == 0)
		return 0;
	why[0] = '\0';
	if (l->ep_refused & REFUSED_BYTES) {
		format_size(rate, sizeof(rate), tokenbucket_rate(&l->bytes),
			    true);
		len += (size_t)snprintf(why + len, sizeof(why) - len,
					"rate-limit %s/s", rate);
	}
	if (l->ep_refused & REFUSED_LINES && len < sizeof(why))
		len += (size_t)snprintf(
			why + len, sizeof(why) - len,
			"%srate-limit-lines %" PRIu64 " lines/s",
			len != 0 ? " and " : "", tokenbucket_rate(&l->lines));
	if (l->ep_refused & REFUSED_NODE && l->node != NULL &&
	    len < sizeof(why)) {
		format_size(rate, sizeof(rate), node_budget_rate(l->node),
			    true);
		snprintf(why + len, sizeof(why) - len, "%snode rate-limit %s/s",
			 len != 0 ? " and " : "", rate);
	}
	format_size(dropped, sizeof(dropped), l->ep_bytes, false);
	span = now_ns - l->ep_start_ns;
	if (span < 0)
		span = 0;
	tenths = ((uint64_t)span + 50000000) / 100000000;
	rc = snprintf(buf, size,
		      "ratelog: dropped %s (%" PRIu64 " line%s) in %" PRIu64
		      ".%" PRIu64 " s over %s",
		      dropped, l->ep_lines, l->ep_lines == 1 ? "" : "s",
		      tenths / 10, tenths % 10,
		      why[0] != '\0' ? why : "the rate limit");
	l->ep_drops = 0;
	l->ep_bytes = 0;
	l->ep_lines = 0;
	l->ep_refused = 0;
	l->ep_passed = false;
	l->stats.notices++;
	if (rc < 0)
		return 0;
	return (size_t)rc < size ? (size_t)rc : size - 1;
}

void limiter_get_stats(const struct limiter *l, struct limiter_stats *out)
{
	*out = l->stats;
}
