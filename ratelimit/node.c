/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Node budget with fair shares (the model is in node.h).  The one thing to
 * know: fair shares are refilled from a single "share clock" vt, the tokens
 * one active share has earned since the budget began, advanced at
 * floor(R / N) per second.  A share's refill is vt now minus vt at its last
 * refill, so a change of N needs no walk over the shares; the clock is
 * advanced to the exact instant of every change of N (each expiry), which
 * keeps the sum of what the shares earn at or below R.
 */
#include "ratelimit/node.h"

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "ratelimit/tokenbucket.h"

#define NS_PER_S      INT64_C(1000000000)
#define WINDOW_MIN_NS NS_PER_S
#define WINDOW_MAX_NS (60 * NS_PER_S)

struct node_budget {
	struct tokenbucket bucket; /* rate R, burst B */
	uint64_t rate;		   /* R, bytes per second; 0 = unlimited */
	uint64_t burst;		   /* B, bytes */
	int64_t reserve;	   /* D = B / 2, only shares may use it */
	int64_t window_ns;	   /* W */
	int64_t clock_ns;	   /* latest time seen */
	uint64_t vt;		   /* share clock, tokens; wraps harmlessly */
	uint64_t vt_frac;	   /* its carried remainder, 1e-9 tokens */
	uint64_t share_rate;	   /* floor(R / max(N, 1)) */
	int64_t share_cap;	   /* max(floor(D / (max(N, 1) + 1)), 1) */
	unsigned active;	   /* N */
	unsigned members;	   /* joined shares */
	struct node_share *head;   /* active shares, least recent first */
	struct node_share *tail;
};

static int64_t cost(uint64_t n)
{
	return n > TOKENBUCKET_BURST_MAX ? (int64_t)TOKENBUCKET_BURST_MAX
					 : (int64_t)n;
}

/*
 * N changed: the only divisions of the module.  The cap is D / (N + 1), not
 * D / N, so that the shares in use never spend the last slice of the
 * reserve: it backs the credit of the next stream to start writing, even
 * when a noisy stream that was alone has spent all it could.
 */
static void rescale(struct node_budget *nb)
{
	unsigned n = nb->active != 0 ? nb->active : 1;

	nb->share_rate = nb->rate / n;
	nb->share_cap = nb->reserve / (int64_t)(n + 1);
	if (nb->share_cap < 1)
		nb->share_cap = 1;
}

struct node_budget *node_budget_new(uint64_t rate, uint64_t burst,
				    int64_t now_ns)
{
	struct node_budget *nb;
	int64_t w;
	int rc;

	nb = calloc(1, sizeof(*nb));
	if (nb == NULL)
		return NULL;
	if (rate > TOKENBUCKET_RATE_MAX)
		rate = TOKENBUCKET_RATE_MAX;
	if (burst == 0)
		burst = 4 * rate;
	if (burst > TOKENBUCKET_BURST_MAX)
		burst = TOKENBUCKET_BURST_MAX;
	if (rate != 0 && burst == 0)
		burst = 1;
	nb->rate = rate;
	nb->burst = rate == 0 ? 0 : burst;
	nb->reserve = (int64_t)(nb->burst / 2);
	/* Cannot fail: the arguments were clamped into range above. */
	rc = tokenbucket_init(&nb->bucket, rate, nb->burst, now_ns);
	assert(rc == 0);
	(void)rc;
	/* Long enough for a paused share to refill completely (D / R). */
	w = tokenbucket_gain_ns(rate, 0, (uint64_t)nb->reserve);
	if (w < WINDOW_MIN_NS)
		w = WINDOW_MIN_NS;
	if (w > WINDOW_MAX_NS)
		w = WINDOW_MAX_NS;
	nb->window_ns = w;
	nb->clock_ns = now_ns;
	rescale(nb);
	return nb;
}

void node_budget_free(struct node_budget *nb)
{
	if (nb == NULL)
		return;
	assert(nb->members == 0);
	free(nb);
}

uint64_t node_budget_rate(const struct node_budget *nb)
{
	return nb->rate;
}

uint64_t node_budget_burst(const struct node_budget *nb)
{
	return nb->burst;
}

int64_t node_budget_window_ns(const struct node_budget *nb)
{
	return nb->window_ns;
}

/* Run the share clock from clock_ns to t (t >= clock_ns), at the rate of
 * the current N; with no active share nobody earns. */
static void run_clock(struct node_budget *nb, int64_t t)
{
	if (nb->active != 0)
		nb->vt += tokenbucket_gain(nb->share_rate,
					   (uint64_t)(t - nb->clock_ns),
					   &nb->vt_frac);
	nb->clock_ns = t;
}

static void refill_share(struct node_budget *nb, struct node_share *sh)
{
	/*
	 * An active share is refilled at least once per window, so the
	 * difference is far below the wrap of the 64-bit clock.
	 */
	uint64_t gain = nb->vt - sh->vt;

	sh->vt = nb->vt;
	if (sh->credit >= nb->share_cap ||
	    gain >= (uint64_t)(nb->share_cap - sh->credit))
		sh->credit = nb->share_cap;
	else
		sh->credit += (int64_t)gain;
}

static void unlink_share(struct node_budget *nb, struct node_share *sh)
{
	if (sh->prev != NULL)
		sh->prev->next = sh->next;
	else
		nb->head = sh->next;
	if (sh->next != NULL)
		sh->next->prev = sh->prev;
	else
		nb->tail = sh->prev;
	sh->prev = NULL;
	sh->next = NULL;
}

static void append_share(struct node_budget *nb, struct node_share *sh)
{
	sh->prev = nb->tail;
	sh->next = NULL;
	if (nb->tail != NULL)
		nb->tail->next = sh;
	else
		nb->head = sh;
	nb->tail = sh;
}

/*
 * Bring the budget to 'now_ns': expire, oldest first, every share whose
 * window ended, running the share clock to the exact instant of each
 * expiry so that each stretch is earned at the N that held during it.
 */
static void advance(struct node_budget *nb, int64_t now_ns)
{
	struct node_share *sh;

	if (now_ns <= nb->clock_ns)
		return;
	while (nb->head != NULL &&
	       now_ns - nb->head->last_ns >= nb->window_ns) {
		sh = nb->head;
		/* Later than clock_ns, or the last advance would have
		 * expired it. */
		run_clock(nb, sh->last_ns + nb->window_ns);
		/* Freeze the credit earned up to the moment it went idle. */
		refill_share(nb, sh);
		unlink_share(nb, sh);
		sh->active = false;
		nb->active--;
		rescale(nb);
	}
	run_clock(nb, now_ns);
}

/* The stream asked at the budget's clock: (re)activate it, refill it. */
static void touch(struct node_budget *nb, struct node_share *sh)
{
	if (!sh->active) {
		sh->active = true;
		append_share(nb, sh);
		nb->active++;
		rescale(nb);
		/* It earned nothing while idle. */
		sh->vt = nb->vt;
	} else if (sh != nb->tail) {
		unlink_share(nb, sh);
		append_share(nb, sh);
	}
	sh->last_ns = nb->clock_ns;
	refill_share(nb, sh);
}

unsigned node_budget_active(struct node_budget *nb, int64_t now_ns)
{
	advance(nb, now_ns);
	return nb->active;
}

uint64_t node_budget_share_rate(struct node_budget *nb, int64_t now_ns)
{
	advance(nb, now_ns);
	return nb->share_rate;
}

uint64_t node_budget_share_cap(struct node_budget *nb, int64_t now_ns)
{
	advance(nb, now_ns);
	return (uint64_t)nb->share_cap;
}

void node_share_join(struct node_budget *nb, struct node_share *sh)
{
	sh->node = nb;
	sh->prev = NULL;
	sh->next = NULL;
	/* Full: clamped to the cap when it first becomes active. */
	sh->credit = (int64_t)TOKENBUCKET_BURST_MAX;
	sh->vt = nb->vt;
	sh->last_ns = nb->clock_ns;
	sh->active = false;
	nb->members++;
}

void node_share_leave(struct node_share *sh)
{
	struct node_budget *nb = sh->node;

	if (nb == NULL)
		return;
	if (sh->active) {
		/* The share clock already ran to clock_ns at the old N. */
		unlink_share(nb, sh);
		sh->active = false;
		nb->active--;
		rescale(nb);
	}
	nb->members--;
	sh->node = NULL;
}

static bool share_covers(const struct node_budget *nb,
			 const struct node_share *sh, uint64_t n)
{
	/* A line larger than the cap passes on a full share. */
	if (n >= (uint64_t)nb->share_cap)
		return sh->credit >= nb->share_cap;
	return sh->credit >= (int64_t)n;
}

/* D + n, saturated (any n beyond B means "a full bucket" anyway). */
static uint64_t above_reserve(const struct node_budget *nb, uint64_t n)
{
	uint64_t d = (uint64_t)nb->reserve;

	return n > UINT64_MAX - d ? UINT64_MAX : d + n;
}

static void debit_share(const struct node_budget *nb, struct node_share *sh,
			uint64_t n)
{
	sh->credit -= cost(n);
	if (sh->credit < -(int64_t)nb->burst)
		sh->credit = -(int64_t)nb->burst;
}

bool node_share_admit(struct node_share *sh, int64_t now_ns, uint64_t n)
{
	struct node_budget *nb = sh->node;
	int64_t t;

	if (nb->rate == 0)
		return true;
	advance(nb, now_ns);
	touch(nb, sh);
	t = nb->clock_ns;
	/*
	 * The pool first, what lies above the reserve, so that a share's
	 * credit is kept for when the pool is gone.
	 */
	if (tokenbucket_can_take(&nb->bucket, t, above_reserve(nb, n)))
		return tokenbucket_take(&nb->bucket, t, n);
	if (share_covers(nb, sh, n) &&
	    tokenbucket_can_take(&nb->bucket, t, n)) {
		debit_share(nb, sh, n);
		return tokenbucket_take(&nb->bucket, t, n);
	}
	return false;
}

int64_t node_share_wait_ns(struct node_share *sh, int64_t now_ns, uint64_t n)
{
	struct node_budget *nb = sh->node;
	int64_t t, pool, credit_wait, bucket_wait, share;
	uint64_t want;

	if (nb->rate == 0)
		return 0;
	advance(nb, now_ns);
	touch(nb, sh);
	t = nb->clock_ns;
	pool = tokenbucket_wait_ns(&nb->bucket, t, above_reserve(nb, n));
	if (pool == 0)
		return 0;
	want = n >= (uint64_t)nb->share_cap ? (uint64_t)nb->share_cap : n;
	if (sh->credit >= (int64_t)want)
		credit_wait = 0;
	else
		credit_wait = tokenbucket_gain_ns(
			nb->share_rate, nb->vt_frac,
			(uint64_t)((int64_t)want - sh->credit));
	bucket_wait = tokenbucket_wait_ns(&nb->bucket, t, n);
	share = credit_wait > bucket_wait ? credit_wait : bucket_wait;
	return share < pool ? share : pool;
}

bool node_share_charge(struct node_share *sh, int64_t now_ns, uint64_t n)
{
	struct node_budget *nb = sh->node;

	if (nb->rate == 0)
		return true;
	advance(nb, now_ns);
	touch(nb, sh);
	if (!tokenbucket_overdraw(&nb->bucket, nb->clock_ns, n))
		return false;
	debit_share(nb, sh, n);
	return true;
}
