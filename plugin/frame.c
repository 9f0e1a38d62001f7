/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The FIFO frame decoder.  The bytes it works on are the carry (what earlier
 * feeds left) followed by the caller's data, seen as one stream; a frame that
 * lies wholly in the data is decoded where it is, and only a frame that
 * straddles the two has the data's share of it appended to the carry.  Every
 * byte fed ends up in exactly one place: a delivered frame, the skipped
 * count, or the carry.
 */
#include "plugin/frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/logentry.h"

#define HEADER_BYTES 4
/*
 * While resynchronising, a candidate frame may be at most this long.
 * dockerd's frames are below 16.5 KiB, and a bound this low limits how much
 * is buffered before a wrong candidate shows itself.
 */
#define RESYNC_FRAME_MAX (64 * 1024)
/* Carry allocations are rounded up to this, to spare tiny reallocs. */
#define CARRY_MIN 256
/* A carry larger than this is shrunk when it holds much less. */
#define CARRY_SHRINK (64 * 1024)

struct frame_decoder {
	size_t max_frame; /* body bytes, at most UINT32_MAX */
	uint8_t *carry;	  /* owned: stream bytes not yet consumed */
	size_t carry_len;
	size_t carry_cap;
	/*
	 * Bytes of the body at the head of the carry that an earlier feed
	 * already found to be a valid prefix; rechecked only once the body
	 * has doubled, so a frame trickling in is not parsed over and over.
	 */
	size_t checked;
	bool paused;
	bool resync;
	frame_skip_cb *skip_cb; /* NULL: FRAME_SKIP is FRAME_TAKEN */
	/* The last entry delivered in this feed was answered FRAME_SKIP:
	 * whole lines of skip_min text bytes or more are skipped. */
	bool skipping;
	size_t skip_min;
	struct frame_stats stats;
};

/*
 * The stream being decoded: positions 0..orig are in the carry, orig..total
 * in 'data'.  The carry may hold more than 'orig' bytes: the data's share of
 * a frame that straddles both, appended to make it contiguous.
 */
struct cursor {
	const uint8_t *data;
	size_t orig;
	size_t total;
	size_t pos;
};

struct frame_decoder *frame_decoder_new(size_t max_frame)
{
	struct frame_decoder *d;

	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	d->max_frame = max_frame > UINT32_MAX ? UINT32_MAX : max_frame;
	return d;
}

static void carry_drop(struct frame_decoder *d)
{
	free(d->carry);
	d->carry = NULL;
	d->carry_len = 0;
	d->carry_cap = 0;
	d->checked = 0;
}

void frame_decoder_free(struct frame_decoder *d)
{
	if (d == NULL)
		return;
	free(d->carry);
	free(d);
}

static int carry_reserve(struct frame_decoder *d, size_t want)
{
	uint8_t *p;

	if (want <= d->carry_cap)
		return 0;
	if (want < CARRY_MIN)
		want = CARRY_MIN;
	p = realloc(d->carry, want);
	if (p == NULL)
		return -ENOMEM;
	d->carry = p;
	d->carry_cap = want;
	return 0;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/*
 * Points at 'k' contiguous stream bytes from c->pos (all present), or NULL
 * on ENOMEM.  Bytes in the data alone are used in place; bytes that straddle
 * the carry and the data are made contiguous in the carry, after dropping
 * what lies before c->pos so the carry holds no more than it must.
 */
static const uint8_t *cursor_join(struct frame_decoder *d, struct cursor *c,
				  size_t k)
{
	size_t have, more;

	if (c->pos + k <= d->carry_len)
		return d->carry + c->pos;
	if (c->pos > 0) {
		memmove(d->carry, d->carry + c->pos, d->carry_len - c->pos);
		d->carry_len -= c->pos;
		c->orig -= c->pos;
		c->total -= c->pos;
		c->pos = 0;
	}
	if (carry_reserve(d, k) != 0)
		return NULL;
	have = d->carry_len - c->orig; /* data bytes already appended */
	more = k - d->carry_len;
	memcpy(d->carry + d->carry_len, c->data + have, more);
	d->carry_len = k;
	return d->carry;
}

/* Most frames lie wholly in the data: that case is inline, once per frame. */
static inline const uint8_t *cursor_at(struct frame_decoder *d,
				       struct cursor *c, size_t k)
{
	if (c->pos >= c->orig)
		return c->data + (c->pos - c->orig);
	return cursor_join(d, c, k);
}

/* Gives back most of a carry that a pause made large; failing is harmless. */
static void carry_shrink(struct frame_decoder *d, size_t want)
{
	uint8_t *p;

	if (want < CARRY_MIN)
		want = CARRY_MIN;
	p = realloc(d->carry, want);
	if (p == NULL)
		return;
	d->carry = p;
	d->carry_cap = want;
}

/*
 * Keeps stream bytes c->pos..c->total in the carry.  'hint' is the size the
 * head frame will need, so a frame arriving in pieces is allocated once.
 */
static int carry_keep(struct frame_decoder *d, struct cursor *c, size_t hint)
{
	size_t keep = c->total - c->pos;
	size_t from;

	if (keep == 0) {
		carry_drop(d);
		return 0;
	}
	if (c->pos >= c->orig) {
		d->carry_len = 0;
		from = c->pos - c->orig;
	} else {
		memmove(d->carry, d->carry + c->pos, d->carry_len - c->pos);
		d->carry_len -= c->pos;
		from = d->carry_len - (c->orig - c->pos);
	}
	if (hint < keep)
		hint = keep;
	if (carry_reserve(d, hint) != 0)
		return -ENOMEM;
	if (d->carry_cap > CARRY_SHRINK && d->carry_cap / 4 > hint)
		carry_shrink(d, hint);
	if (keep > d->carry_len)
		memcpy(d->carry + d->carry_len, c->data + from,
		       keep - d->carry_len);
	d->carry_len = keep;
	return 0;
}

/*
 * Out of memory with stream bytes c->pos..c->total unconsumed: they are
 * lost, so count them, and look for the next frame with care.
 */
static int lose_rest(struct frame_decoder *d, struct cursor *c)
{
	d->stats.skipped_bytes += c->total - c->pos;
	carry_drop(d);
	d->paused = false;
	d->resync = true;
	return -ENOMEM;
}

/* What resynchronisation accepts as the first frame of a real stream. */
static bool is_plausible(const struct log_entry *e)
{
	return e->source_len == 6 &&
	       (memcmp(e->source, "stdout", 6) == 0 ||
		memcmp(e->source, "stderr", 6) == 0) &&
	       e->time_nano > 0;
}

/* The frame at c->pos is bad: count it, and skip one byte onwards. */
static void reject(struct frame_decoder *d, struct cursor *c)
{
	if (!d->resync) {
		d->stats.bad_frames++;
		d->resync = true;
	}
	d->stats.skipped_bytes++;
	c->pos++;
}

/*
 * Whether the body bytes of the frame at c->pos that are in the carry can
 * begin a LogEntry of 'len' bytes.  Checked where they lie, so that while
 * resynchronising a candidate that straddles the carry and the data is
 * copied together only when it may be valid, not at every byte offset.
 */
static bool carry_part_ok(const struct frame_decoder *d, const struct cursor *c,
			  size_t len)
{
	size_t in;

	if (c->pos >= c->orig || c->pos + HEADER_BYTES >= d->carry_len)
		return true;
	in = d->carry_len - c->pos - HEADER_BYTES;
	if (in >= len)
		return true; /* all of it is there: nothing to copy */
	return logentry_check_prefix(d->carry + c->pos + HEADER_BYTES, in,
				     len) == 0;
}

/*
 * Whether the 'avail' body bytes at hand of a frame of 'len' can still turn
 * out valid.  'prev' is how many of them an earlier call found valid; a
 * frame that keeps coming in small pieces is checked again only when its
 * body has doubled, so the checks cost linear time.  Sets *checked to the
 * bytes now known to be valid.
 */
static bool may_complete(struct frame_decoder *d, struct cursor *c, size_t len,
			 size_t avail, size_t prev, size_t *checked)
{
	const uint8_t *p;

	*checked = prev;
	if (avail == 0 || (prev > 0 && avail < 2 * prev))
		return true;
	if (!carry_part_ok(d, c, len))
		return false;
	p = cursor_at(d, c, HEADER_BYTES + avail);
	if (p == NULL)
		return true; /* carry_keep() fails the same allocation */
	if (logentry_check_prefix(p + HEADER_BYTES, avail, len) != 0)
		return false;
	*checked = avail;
	return true;
}

/*
 * Give 'e' to 'cb' and take its answer: FRAME_PAUSE to stop, else 0, with
 * skipping set for what follows when it answered FRAME_SKIP.
 */
static int deliver(struct frame_decoder *d, const struct log_entry *e,
		   frame_entry_cb *cb, void *arg)
{
	int answer = cb(arg, e);

	if (answer != FRAME_TAKEN && answer != FRAME_SKIP)
		return FRAME_PAUSE;
	d->skipping = answer == FRAME_SKIP && d->skip_cb != NULL;
	d->skip_min = e->line_len;
	return 0;
}

/* Report the entries skipped so far, before anything after them. */
static void flush_skipped(struct frame_decoder *d, void *arg, uint64_t *lines,
			  uint64_t *bytes)
{
	if (*lines == 0)
		return;
	d->skip_cb(arg, *lines, *bytes);
	*lines = 0;
	*bytes = 0;
}

/*
 * Delivers the whole frames that lie in the data from c->pos on, outside a
 * resync: the bulk of a busy stream, in a loop with nothing else in it.
 * While skipping, a whole line long enough (logentry_measure()) is only
 * counted.
 * Stops at the first frame that is anything else (cut by the end of the
 * data, over the size limit, or not a LogEntry), which the general steps
 * of run() then look at afresh.  Returns FRAME_PAUSE when 'cb' paused, with
 * c->pos at the frame it kept, else 0.
 */
static inline int deliver_whole(struct frame_decoder *d, struct cursor *c,
				frame_entry_cb *cb, void *arg)
{
	const uint8_t *p = c->data + (c->pos - c->orig);
	const uint8_t *end = c->data + (c->total - c->orig);
	uint64_t frames = 0, skip_lines = 0, skip_bytes = 0;
	int rc = 0;

	while (end - p >= HEADER_BYTES) {
		struct log_entry e;
		size_t len = get_be32(p);
		size_t line_len;

		if (len > d->max_frame ||
		    len > (size_t)(end - p) - HEADER_BYTES)
			break;
		if (d->skipping) {
			if (logentry_measure(p + HEADER_BYTES, len,
					     &line_len) == 0 &&
			    line_len >= d->skip_min) {
				skip_lines++;
				skip_bytes += line_len;
				frames++;
				p += HEADER_BYTES + len;
				continue;
			}
			d->skipping = false;
			flush_skipped(d, arg, &skip_lines, &skip_bytes);
		}
		if (logentry_decode(p + HEADER_BYTES, len, &e) != 0)
			break;
		if (deliver(d, &e, cb, arg) == FRAME_PAUSE) {
			rc = FRAME_PAUSE;
			break;
		}
		frames++;
		p += HEADER_BYTES + len;
	}
	flush_skipped(d, arg, &skip_lines, &skip_bytes);
	d->stats.frames += frames;
	c->pos = c->orig + (size_t)(p - c->data);
	return rc;
}

static int run(struct frame_decoder *d, const uint8_t *data, size_t n,
	       frame_entry_cb *cb, void *arg)
{
	struct cursor c = {data, d->carry_len, d->carry_len + n, 0};
	/* Only valid while c.pos is still at the head of the carry. */
	size_t head_checked = d->checked;
	size_t hint = 0, checked = 0;
	int rc = 0;

	/* Time may have moved on since the last feed, and with it what a
	 * rate limit admits: skipping waits for a FRAME_SKIP of this one. */
	d->skipping = false;
	for (;;) {
		const uint8_t *p;
		struct log_entry e;
		size_t len, limit, avail, at;

		/* (With nothing left of the data, 'data' may be NULL.) */
		if (!d->resync && c.pos >= c.orig &&
		    c.total - c.pos >= HEADER_BYTES) {
			at = c.pos;
			if (deliver_whole(d, &c, cb, arg) == FRAME_PAUSE) {
				d->paused = true;
				rc = FRAME_PAUSE;
				break;
			}
			if (c.pos != at)
				head_checked = 0;
		}
		if (c.total - c.pos < HEADER_BYTES)
			break;
		p = cursor_at(d, &c, HEADER_BYTES);
		if (p == NULL)
			return lose_rest(d, &c);
		len = get_be32(p);
		limit = d->max_frame;
		if (d->resync && limit > RESYNC_FRAME_MAX)
			limit = RESYNC_FRAME_MAX;
		if (len > limit || (d->resync && len == 0)) {
			reject(d, &c);
			head_checked = 0;
			continue;
		}
		avail = c.total - c.pos - HEADER_BYTES;
		if (avail < len) {
			/* Wait for the rest, unless what is here already
			 * shows the frame is not a LogEntry. */
			if (!may_complete(d, &c, len, avail, head_checked,
					  &checked)) {
				reject(d, &c);
				head_checked = 0;
				continue;
			}
			hint = HEADER_BYTES + len;
			break;
		}
		if (!carry_part_ok(d, &c, len)) {
			reject(d, &c);
			head_checked = 0;
			continue;
		}
		p = cursor_at(d, &c, HEADER_BYTES + len);
		if (p == NULL)
			return lose_rest(d, &c);
		if (logentry_decode(p + HEADER_BYTES, len, &e) != 0 ||
		    (d->resync && !is_plausible(&e))) {
			reject(d, &c);
			head_checked = 0;
			continue;
		}
		d->resync = false;
		if (deliver(d, &e, cb, arg) == FRAME_PAUSE) {
			d->paused = true;
			rc = FRAME_PAUSE;
			break;
		}
		d->stats.frames++;
		c.pos += HEADER_BYTES + len;
		head_checked = 0;
	}
	if (carry_keep(d, &c, hint) != 0)
		return lose_rest(d, &c);
	/* 'checked' belongs to the frame the loop stopped at, if it did. */
	d->checked = hint != 0 ? checked : 0;
	return rc;
}

int frame_decoder_feed(struct frame_decoder *d, const uint8_t *data, size_t n,
		       frame_entry_cb *cb, void *arg)
{
	if (d->paused) {
		/* A caller's mistake, but keep the bytes rather than lose
		 * them: they follow what the pause kept. */
		struct cursor c = {data, d->carry_len, d->carry_len + n, 0};

		if (carry_keep(d, &c, 0) != 0) {
			d->stats.skipped_bytes += n;
			d->resync = true;
			return -ENOMEM;
		}
		return FRAME_PAUSE;
	}
	if (n == 0)
		return 0;
	return run(d, data, n, cb, arg);
}

void frame_decoder_set_skip(struct frame_decoder *d, frame_skip_cb *skipped)
{
	d->skip_cb = skipped;
}

int frame_decoder_resume(struct frame_decoder *d, frame_entry_cb *cb, void *arg)
{
	if (!d->paused)
		return 0;
	d->paused = false;
	return run(d, NULL, 0, cb, arg);
}

bool frame_decoder_is_paused(const struct frame_decoder *d)
{
	return d->paused;
}

size_t frame_decoder_buffered(const struct frame_decoder *d)
{
	return d->carry_len;
}

void frame_decoder_resync(struct frame_decoder *d)
{
	d->resync = true;
}

size_t frame_decoder_finish(struct frame_decoder *d)
{
	size_t n = d->carry_len;

	d->stats.skipped_bytes += n;
	carry_drop(d);
	d->paused = false;
	return n;
}

const struct frame_stats *frame_decoder_stats(const struct frame_decoder *d)
{
	return &d->stats;
}
