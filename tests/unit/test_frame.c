/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The FIFO frame decoder: streams of frames cut at every byte and at random
 * points, pause and resume, oversized and undecodable frames, garbage
 * between frames, a stream joined in the middle of a frame, and what is
 * left at the end.  Every delivered entry is encoded again and compared
 * with the frame that was fed, and the accounting is checked exactly: every
 * byte fed is in a delivered frame, skipped, or buffered.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plugin/frame.h"
#include "plugin/logentry.h"

#define T0 INT64_C(1700000000123456789)

static uint64_t rng_state = 0x243f6a8885a308d3u;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dU;
}

static size_t rnd_below(size_t n)
{
	return (size_t)(rnd() % n);
}

/* A byte stream under construction, and where its frames lie. */
struct stream {
	uint8_t *b;
	size_t n, cap;
	size_t nframes;
	size_t start[4096];
	size_t len[4096];
};

static struct stream *stream_new(void)
{
	struct stream *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	return s;
}

static void stream_free(struct stream *s)
{
	if (s == NULL)
		return;
	free(s->b);
	free(s);
}

static uint8_t *stream_grow(struct stream *s, size_t n)
{
	if (s->n + n > s->cap) {
		s->cap = (s->n + n) * 2;
		s->b = realloc(s->b, s->cap);
		assert_non_null(s->b);
	}
	s->n += n;
	return s->b + s->n - n;
}

static void stream_raw(struct stream *s, const void *p, size_t n)
{
	memcpy(stream_grow(s, n), p, n);
}

static void stream_entry(struct stream *s, const struct log_entry *e)
{
	size_t n = logentry_frame_size(e);
	uint8_t *p;

	assert_true(s->nframes < 4096);
	s->start[s->nframes] = s->n;
	s->len[s->nframes] = n;
	s->nframes++;
	p = stream_grow(s, n);
	assert_int_equal(logentry_encode_frame(p, e), n);
}

/* A plausible dockerd entry: number 'i', with a line of 'line_len' bytes. */
static void stream_line(struct stream *s, unsigned i, size_t line_len)
{
	static uint8_t line[70000];
	struct log_entry e = {0};
	size_t k;

	assert_true(line_len <= sizeof(line));
	for (k = 0; k < line_len; k++)
		line[k] = (uint8_t)('a' + (i + k) % 26);
	if (line_len >= 7) {
		char num[16];

		snprintf(num, sizeof(num), "%07u", i % 10000000);
		memcpy(line, num, 7);
	}
	e.source = i % 3 == 0 ? "stderr" : "stdout";
	e.source_len = 6;
	e.time_nano = T0 + i;
	e.line = line;
	e.line_len = line_len;
	if (i % 5 == 4) {
		e.partial = true;
		e.partial_id = "3afd3a89837b50c8c5a5081b6a36603c"
			       "845696b8c07f95b7686f3b47f9ec10ba";
		e.partial_id_len = 64;
		e.partial_ordinal = (int32_t)(i % 7) + 1;
		e.partial_last = i % 2 == 0;
	}
	stream_entry(s, &e);
}

/* 'n' entries of assorted sizes, one of them as large as dockerd makes. */
static struct stream *stream_lines(unsigned n)
{
	struct stream *s = stream_new();
	unsigned i;

	for (i = 0; i < n; i++) {
		size_t len = i % 4 == 0 ? 0 : rnd_below(200);

		if (i == 7)
			len = 16384;
		stream_line(s, i, len);
	}
	return s;
}

/* What the callback saw. */
struct seen {
	uint8_t *frames; /* delivered entries, encoded again, back to back */
	size_t n, cap;
	size_t count;
	uint64_t bytes;		/* their frame sizes, summed */
	size_t pause_at;	/* pause (once) on this delivery; 0 = never */
	size_t calls;		/* callback calls, pauses included */
	const uint8_t *lo, *hi; /* count entries whose line lies in here */
	size_t in_range;
};

static int seen_cb(void *arg, const struct log_entry *e)
{
	struct seen *sn = arg;
	size_t n = logentry_frame_size(e);

	sn->calls++;
	if (sn->pause_at != 0 && sn->count + 1 == sn->pause_at) {
		sn->pause_at = 0;
		return FRAME_PAUSE;
	}
	if (sn->n + n > sn->cap) {
		sn->cap = (sn->n + n) * 2;
		sn->frames = realloc(sn->frames, sn->cap);
		assert_non_null(sn->frames);
	}
	assert_int_equal(logentry_encode_frame(sn->frames + sn->n, e), n);
	sn->n += n;
	sn->count++;
	sn->bytes += n;
	if (sn->lo != NULL && e->line >= sn->lo &&
	    e->line + e->line_len <= sn->hi)
		sn->in_range++;
	return FRAME_TAKEN;
}

static void seen_release(struct seen *sn)
{
	free(sn->frames);
	memset(sn, 0, sizeof(*sn));
}

/* Frames first..last-1 of 's' are exactly what was delivered. */
static void assert_delivered(const struct seen *sn, const struct stream *s,
			     size_t first, size_t last)
{
	size_t from = first < s->nframes ? s->start[first] : s->n;
	size_t to = last < s->nframes ? s->start[last] : s->n;

	assert_int_equal(sn->count, last - first);
	assert_int_equal(sn->n, to - from);
	assert_memory_equal(sn->frames, s->b + from, to - from);
}

/* Every byte fed is delivered, skipped or buffered. */
static void assert_accounted(const struct frame_decoder *d,
			     const struct seen *sn, uint64_t fed)
{
	const struct frame_stats *st = frame_decoder_stats(d);

	assert_int_equal(st->frames, sn->count);
	assert_int_equal(
		sn->bytes + st->skipped_bytes + frame_decoder_buffered(d), fed);
}

/* Feeds each piece from a heap copy of its exact size, for ASan. */
static int feed_exact(struct frame_decoder *d, const uint8_t *p, size_t n,
		      struct seen *sn)
{
	uint8_t *q = malloc(n > 0 ? n : 1);
	int rc;

	assert_non_null(q);
	if (n > 0)
		memcpy(q, p, n);
	rc = frame_decoder_feed(d, q, n, seen_cb, sn);
	free(q);
	return rc;
}

static void test_one_byte_at_a_time(void **state)
{
	struct stream *s = stream_lines(20);
	struct frame_decoder *d = frame_decoder_new(FRAME_MAX_DEFAULT);
	struct seen sn = {0};
	size_t i;

	(void)state;
	assert_non_null(d);
	for (i = 0; i < s->n; i++) {
		assert_int_equal(feed_exact(d, s->b + i, 1, &sn), 0);
		assert_true(frame_decoder_buffered(d) <= 4 + 16500);
	}
	assert_delivered(&sn, s, 0, s->nframes);
	assert_accounted(d, &sn, s->n);
	assert_int_equal(frame_decoder_buffered(d), 0);
	assert_int_equal(frame_decoder_stats(d)->bad_frames, 0);
	assert_int_equal(frame_decoder_stats(d)->skipped_bytes, 0);
	assert_int_equal(frame_decoder_finish(d), 0);
	frame_decoder_free(d);
	seen_release(&sn);
	stream_free(s);
}

static void test_random_splits(void **state)
{
	struct stream *s = stream_lines(60);
	int round;

	(void)state;
	for (round = 0; round < 300; round++) {
		struct frame_decoder *d = frame_decoder_new(FRAME_MAX_DEFAULT);
		struct seen sn = {0};
		size_t off = 0;

		assert_non_null(d);
		while (off < s->n) {
			size_t k = rnd_below(4) == 0 ? rnd_below(8)
						     : rnd_below(5000);

			if (k > s->n - off)
				k = s->n - off;
			assert_int_equal(feed_exact(d, s->b + off, k, &sn), 0);
			off += k;
			assert_accounted(d, &sn, off);
		}
		assert_delivered(&sn, s, 0, s->nframes);
		assert_int_equal(frame_decoder_buffered(d), 0);
		frame_decoder_free(d);
		seen_release(&sn);
	}
	stream_free(s);
}

/*
 * FRAME_SKIP: what the decoder skips after a callback answers it.  The
 * callback answers SKIP for some whole lines (at random), and the test
 * checks every delivery and every skip report against the stream, in
 * order: a skipped frame is a whole line at least as long as the entry
 * that was answered SKIP, in the same feed, reported before anything after
 * it is delivered.  Fed whole, nothing that could be skipped is delivered.
 */
struct skip_seen {
	const struct stream *s;
	size_t next;   /* index of the next frame in the stream */
	unsigned feed; /* feeds so far */
	unsigned skip_feed;
	bool skipping;	 /* the last delivery was answered SKIP */
	size_t skip_min; /* its line length */
	bool whole_feed; /* the stream was fed in one piece */
	uint64_t skipped;
};

/* Frame 'i' of the stream, decoded. */
static void frame_at(const struct stream *s, size_t i, struct log_entry *e)
{
	assert_true(i < s->nframes);
	assert_int_equal(
		logentry_decode(s->b + s->start[i] + 4, s->len[i] - 4, e), 0);
}

static int skip_cb_entry(void *arg, const struct log_entry *e)
{
	struct skip_seen *k = arg;
	struct log_entry want;
	uint8_t a[70100], b[70100];
	size_t n = logentry_frame_size(e);

	frame_at(k->s, k->next, &want);
	assert_int_equal(n, k->s->len[k->next]);
	assert_int_equal(logentry_encode_frame(a, e), n);
	assert_int_equal(logentry_encode_frame(b, &want), n);
	assert_memory_equal(a, b, n);
	if (k->whole_feed && k->skipping && !e->partial &&
	    e->line_len >= k->skip_min)
		fail_msg("frame %zu could have been skipped", k->next);
	k->next++;
	k->skipping = !e->partial && rnd_below(3) != 0;
	k->skip_min = e->line_len;
	k->skip_feed = k->feed;
	return k->skipping ? FRAME_SKIP : FRAME_TAKEN;
}

static void skip_cb_skipped(void *arg, uint64_t lines, uint64_t bytes)
{
	struct skip_seen *k = arg;
	uint64_t sum = 0;

	assert_true(lines > 0);
	assert_true(k->skipping);
	assert_int_equal(k->skip_feed, k->feed);
	for (uint64_t j = 0; j < lines; j++) {
		struct log_entry e;

		frame_at(k->s, k->next, &e);
		assert_false(e.partial);
		assert_true(e.line_len >= k->skip_min);
		sum += e.line_len;
		k->next++;
	}
	assert_int_equal(sum, bytes);
	k->skipped += lines;
}

/* Lines of 1 to 8 bytes: one a byte shorter than the last comes often. */
static struct stream *stream_short_lines(unsigned n)
{
	struct stream *s = stream_new();

	for (unsigned i = 0; i < n; i++)
		stream_line(s, i, 1 + rnd_below(8));
	return s;
}

static void skip_rounds(struct stream *s)
{
	uint64_t skipped = 0;
	int round;

	for (round = 0; round < 200; round++) {
		struct frame_decoder *d = frame_decoder_new(FRAME_MAX_DEFAULT);
		struct skip_seen k = {0};
		size_t off = 0;

		assert_non_null(d);
		frame_decoder_set_skip(d, skip_cb_skipped);
		k.s = s;
		k.whole_feed = round == 0;
		while (off < s->n) {
			size_t n = k.whole_feed	       ? s->n
				   : rnd_below(4) == 0 ? rnd_below(8)
						       : rnd_below(5000);
			uint8_t *q;

			if (n > s->n - off)
				n = s->n - off;
			q = malloc(n > 0 ? n : 1);
			assert_non_null(q);
			memcpy(q, s->b + off, n);
			k.feed++;
			k.skipping = false; /* each feed starts afresh */
			assert_int_equal(
				frame_decoder_feed(d, q, n, skip_cb_entry, &k),
				0);
			free(q);
			off += n;
		}
		assert_int_equal(k.next, s->nframes);
		assert_int_equal(frame_decoder_stats(d)->frames, s->nframes);
		assert_int_equal(frame_decoder_buffered(d), 0);
		skipped += k.skipped;
		frame_decoder_free(d);
	}
	/* The random answers did make it skip, a lot. */
	assert_true(skipped > 200 * s->nframes / 10);
}

static void test_skip(void **state)
{
	struct stream *s = stream_lines(400);

	(void)state;
	skip_rounds(s);
	stream_free(s);
	s = stream_short_lines(400);
	skip_rounds(s);
	stream_free(s);
}

/* Without a skip callback FRAME_SKIP is FRAME_TAKEN: everything arrives. */
static int skip_always(void *arg, const struct log_entry *e)
{
	(void)e;
	(*(size_t *)arg)++;
	return FRAME_SKIP;
}

static void test_skip_unset(void **state)
{
	struct stream *s = stream_lines(100);
	struct frame_decoder *d = frame_decoder_new(FRAME_MAX_DEFAULT);
	size_t calls = 0;

	(void)state;
	assert_non_null(d);
	assert_int_equal(frame_decoder_feed(d, s->b, s->n, skip_always, &calls),
			 0);
	assert_int_equal(calls, s->nframes);
	frame_decoder_free(d);
	stream_free(s);
}

/* Whole frames are decoded where they lie, with nothing copied. */
static void test_many_frames_zero_copy(void **state)
{
	struct stream *s = stream_lines(1000);
	struct frame_decoder *d = frame_decoder_new(FRAME_MAX_DEFAULT);
	struct seen sn = {0};
	size_t cut;

	(void)state;
	sn.lo = s->b;
	sn.hi = s->b + s->n;
	assert_int_equal(frame_decoder_feed(d, s->b, s->n, seen_cb, &sn), 0);
	assert_delivered(&sn, s, 0, s->nframes);
	assert_int_equal(sn.in_range, 1000);
	assert_int_equal(frame_decoder_buffered(d), 0);
	seen_release(&sn);
	frame_decoder_free(d);

	/* Cut inside frame 10: frames 0-9 come from the first piece, frame
	 * 10 from the carry, and the rest from the second piece in place. */
	d = frame_decoder_new(FRAME_MAX_DEFAULT);
	cut = s->start[10] + s->len[10] / 2;
	sn.lo = s->b;
	sn.hi = s->b + cut;
	assert_int_equal(frame_decoder_feed(d, s->b, cut, seen_cb, &sn), 0);
	assert_int_equal(sn.in_range, 10);
	assert_int_equal(frame_decoder_buffered(d), cut - s->start[10]);
	sn.lo = s->b + cut;
	sn.hi = s->b + s->n;
	sn.in_range = 0;
	assert_int_equal(
		frame_decoder_feed(d, s->b + cut, s->n - cut, seen_cb, &sn), 0);
	assert_int_equal(sn.in_range, 1000 - 11);
	assert_delivered(&sn, s, 0, s->nframes);
	assert_int_equal(frame_decoder_buffered(d), 0);
	seen_release(&sn);
	frame_decoder_free(d);
	stream_free(s);
}

static void test_pause_resume(void **state)
{
	struct stream *s = stream_lines(10);
	struct frame_decoder *d = frame_decoder_new(FRAME_MAX_DEFAULT);
	struct seen sn = {0};

	(void)state;
	sn.pause_at = 3;
	assert_int_equal(frame_decoder_feed(d, s->b, s->n, seen_cb, &sn),
			 FRAME_PAUSE);
	assert_true(frame_decoder_is_paused(d));
	assert_int_equal(sn.count, 2);
	assert_int_equal(sn.calls, 3);
	/* The paused entry and everything after it are kept. */
	assert_int_equal(frame_decoder_buffered(d), s->n - s->start[2]);
	assert_accounted(d, &sn, s->n);

	/* Pause again in the middle of the resume. */
	sn.pause_at = 6;
	assert_int_equal(frame_decoder_resume(d, seen_cb, &sn), FRAME_PAUSE);
	assert_true(frame_decoder_is_paused(d));
	assert_int_equal(sn.count, 5);
	assert_int_equal(frame_decoder_buffered(d), s->n - s->start[5]);
	assert_int_equal(frame_decoder_resume(d, seen_cb, &sn), 0);
	assert_false(frame_decoder_is_paused(d));
	assert_delivered(&sn, s, 0, 10);
	assert_int_equal(sn.calls, 12);
	assert_int_equal(frame_decoder_buffered(d), 0);
	assert_int_equal(frame_decoder_stats(d)->frames, 10);
	/* Nothing kept: resume has nothing to do. */
	assert_int_equal(frame_decoder_resume(d, seen_cb, &sn), 0);
	assert_int_equal(sn.calls, 12);
	seen_release(&sn);
	frame_decoder_free(d);
	stream_free(s);
}

/* A pause with an incomplete frame at the end, and bytes fed while paused. */
static void test_pause_with_partial_tail(void **state)
{
	struct stream *s = stream_lines(12);
	struct frame_decoder *d = frame_decoder_new(FRAME_MAX_DEFAULT);
	struct seen sn = {0};
	size_t cut = s->start[10] + 3, cut2 = s->start[11] + 5;

	(void)state;
	sn.pause_at = 3;
	assert_int_equal(frame_decoder_feed(d, s->b, cut, seen_cb, &sn),
			 FRAME_PAUSE);
	assert_int_equal(frame_decoder_buffered(d), cut - s->start[2]);
	/* Not allowed, but the bytes are kept, not lost nor delivered. */
	assert_int_equal(
		frame_decoder_feed(d, s->b + cut, cut2 - cut, seen_cb, &sn),
		FRAME_PAUSE);
	assert_int_equal(sn.calls, 3);
	assert_int_equal(frame_decoder_buffered(d), cut2 - s->start[2]);
	assert_int_equal(frame_decoder_resume(d, seen_cb, &sn), 0);
	assert_false(frame_decoder_is_paused(d));
	assert_delivered(&sn, s, 0, 11);
	assert_int_equal(frame_decoder_buffered(d), cut2 - s->start[11]);
	assert_int_equal(
		frame_decoder_feed(d, s->b + cut2, s->n - cut2, seen_cb, &sn),
		0);
	assert_delivered(&sn, s, 0, 12);
	assert_accounted(d, &sn, s->n);
	assert_int_equal(frame_decoder_buffered(d), 0);
	seen_release(&sn);
	frame_decoder_free(d);
	stream_free(s);
}

/* Pausing at every entry in turn, with random splits, loses nothing. */
static void test_pause_everywhere(void **state)
{
	struct stream *s = stream_lines(30);
	size_t p;

	(void)state;
	for (p = 1; p <= 30; p++) {
		struct frame_decoder *d = frame_decoder_new(FRAME_MAX_DEFAULT);
		struct seen sn = {0};
		size_t off = 0;

		sn.pause_at = p;
		while (off < s->n) {
			size_t k = rnd_below(3000) + 1;
			int rc;

			if (k > s->n - off)
				k = s->n - off;
			rc = feed_exact(d, s->b + off, k, &sn);
			off += k;
			while (rc == FRAME_PAUSE) {
				assert_accounted(d, &sn, off);
				rc = frame_decoder_resume(d, seen_cb, &sn);
			}
			assert_int_equal(rc, 0);
		}
		assert_delivered(&sn, s, 0, 30);
		assert_accounted(d, &sn, s->n);
		seen_release(&sn);
		frame_decoder_free(d);
	}
	stream_free(s);
}

static void test_oversized_length(void **state)
{
	static const uint8_t huge[4] = {0x7f, 0xff, 0xff, 0xff};
	uint8_t junk[100];
	size_t chunk;

	(void)state;
	memset(junk, 0xff, sizeof(junk));
	for (chunk = 1; chunk <= 4096; chunk *= 8) {
		struct stream *s = stream_new(), *want = stream_new();
		struct frame_decoder *d = frame_decoder_new(FRAME_MAX_DEFAULT);
		struct seen sn = {0};
		size_t off, i;

		stream_line(s, 1, 10);
		stream_line(want, 1, 10);
		stream_raw(s, huge, sizeof(huge));
		stream_raw(s, junk, sizeof(junk));
		for (i = 2; i < 6; i++) {
			stream_line(s, (unsigned)i, 30);
			stream_line(want, (unsigned)i, 30);
		}
		for (off = 0; off < s->n; off += chunk)
			assert_int_equal(feed_exact(d, s->b + off,
						    chunk < s->n - off
							    ? chunk
							    : s->n - off,
						    &sn),
					 0);
		assert_delivered(&sn, want, 0, 5);
		assert_int_equal(frame_decoder_stats(d)->bad_frames, 1);
		assert_int_equal(frame_decoder_stats(d)->skipped_bytes,
				 sizeof(huge) + sizeof(junk));
		assert_accounted(d, &sn, s->n);
		seen_release(&sn);
		frame_decoder_free(d);
		stream_free(s);
		stream_free(want);
	}
}

/* A small limit: a frame one byte over it is bad, one at it is fine. */
static void test_max_frame_limit(void **state)
{
	struct stream *s = stream_new();
	struct frame_decoder *d;
	struct seen sn = {0};
	size_t body;

	(void)state;
	stream_line(s, 1, 100);
	stream_line(s, 2, 101);
	stream_line(s, 3, 5);
	body = s->len[0] - 4;
	d = frame_decoder_new(body);
	assert_int_equal(frame_decoder_feed(d, s->b, s->n, seen_cb, &sn), 0);
	assert_int_equal(sn.count, 2);
	assert_int_equal(frame_decoder_stats(d)->bad_frames, 1);
	assert_int_equal(frame_decoder_stats(d)->skipped_bytes, s->len[1]);
	assert_accounted(d, &sn, s->n);
	seen_release(&sn);
	frame_decoder_free(d);
	stream_free(s);
}

/* A frame whose body is not a LogEntry, complete or still arriving. */
static void test_undecodable_body(void **state)
{
	static const uint8_t bad[] = {0, 0, 0, 3, 0x08, 0x01, 0x00};
	/* Says 1000 bytes, but field 0 shows at once that it is wrong. */
	static const uint8_t bad_start[] = {0, 0, 0x03, 0xe8, 0x00, 0x01};
	struct stream *s = stream_new(), *want = stream_new();
	struct frame_decoder *d = frame_decoder_new(FRAME_MAX_DEFAULT);
	struct seen sn = {0};

	(void)state;
	stream_line(s, 1, 10);
	stream_line(want, 1, 10);
	stream_raw(s, bad, sizeof(bad));
	stream_line(s, 2, 10);
	stream_line(want, 2, 10);
	stream_raw(s, bad_start, sizeof(bad_start));
	stream_line(s, 3, 10);
	stream_line(want, 3, 10);
	assert_int_equal(frame_decoder_feed(d, s->b, s->n, seen_cb, &sn), 0);
	/* Frame 3 came out without waiting for 1000 bytes. */
	assert_delivered(&sn, want, 0, 3);
	assert_int_equal(frame_decoder_stats(d)->bad_frames, 2);
	assert_int_equal(frame_decoder_stats(d)->skipped_bytes,
			 sizeof(bad) + sizeof(bad_start));
	assert_int_equal(frame_decoder_buffered(d), 0);
	assert_accounted(d, &sn, s->n);
	seen_release(&sn);
	frame_decoder_free(d);
	stream_free(s);
	stream_free(want);
}

static void garbage_between(bool any_byte)
{
	struct stream *s = stream_new(), *want = stream_new();
	struct frame_decoder *d = frame_decoder_new(FRAME_MAX_DEFAULT);
	struct seen sn = {0};
	uint64_t junk_bytes = 0, runs = 0;
	size_t off = 0;
	unsigned i;

	for (i = 0; i < 200; i++) {
		size_t len = rnd_below(300);

		stream_line(s, i, len);
		stream_line(want, i, len);
		/* Junk after the last frame would only be left over. */
		if (i < 199 && rnd_below(3) == 0) {
			uint8_t junk[64];
			size_t k, n = rnd_below(sizeof(junk)) + 1;

			for (k = 0; k < n; k++) {
				junk[k] = (uint8_t)rnd();
				/* Without zeros no junk can read as a
				 * length under 16 MiB. */
				if (!any_byte && junk[k] == 0)
					junk[k] = 0x5a;
			}
			stream_raw(s, junk, n);
			junk_bytes += n;
			runs++;
		}
	}
	while (off < s->n) {
		size_t k = rnd_below(2000) + 1;

		if (k > s->n - off)
			k = s->n - off;
		assert_int_equal(feed_exact(d, s->b + off, k, &sn), 0);
		off += k;
	}
	frame_decoder_finish(d);
	assert_delivered(&sn, want, 0, want->nframes);
	assert_int_equal(frame_decoder_stats(d)->skipped_bytes, junk_bytes);
	if (!any_byte)
		assert_int_equal(frame_decoder_stats(d)->bad_frames, runs);
	else
		assert_true(frame_decoder_stats(d)->bad_frames <= runs);
	assert_accounted(d, &sn, s->n);
	seen_release(&sn);
	frame_decoder_free(d);
	stream_free(s);
	stream_free(want);
}

static void test_garbage_between_frames(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 20; i++)
		garbage_between(false);
	for (i = 0; i < 20; i++)
		garbage_between(true);
}

/*
 * A stream joined anywhere inside its first frame (a FIFO re-opened after
 * a restart): every later frame is recovered, and what came before them is
 * skipped without counting a bad frame.
 */
static void test_resync_mid_frame(void **state)
{
	struct stream *s = stream_lines(8);
	size_t off;

	(void)state;
	/* Through frame 4 (a partial chunk with metadata) into frame 7, the
	 * largest dockerd writes, and to the end of the stream. */
	for (off = 1; off < s->n; off += off < s->start[7] + 300 ? 1 : 97) {
		struct frame_decoder *d = frame_decoder_new(FRAME_MAX_DEFAULT);
		struct seen sn = {0};
		size_t next = 0, pos = off;

		while (next < s->nframes && s->start[next] < off)
			next++;
		frame_decoder_resync(d);
		while (pos < s->n) {
			size_t k = rnd_below(700) + 1;

			if (k > s->n - pos)
				k = s->n - pos;
			assert_int_equal(feed_exact(d, s->b + pos, k, &sn), 0);
			pos += k;
		}
		/* Past the last frame's start, its last bytes are too few to
		 * be a frame and wait for more. */
		frame_decoder_finish(d);
		assert_delivered(&sn, s, next, s->nframes);
		assert_int_equal(frame_decoder_stats(d)->bad_frames, 0);
		assert_int_equal(frame_decoder_stats(d)->skipped_bytes,
				 (next < s->nframes ? s->start[next] : s->n) -
					 off);
		assert_int_equal(frame_decoder_buffered(d), 0);
		seen_release(&sn);
		frame_decoder_free(d);
	}
	stream_free(s);
}

/* While resynchronising only stdout/stderr with a time is believed. */
static void test_resync_wants_plausible(void **state)
{
	struct stream *s = stream_new();
	struct frame_decoder *d = frame_decoder_new(FRAME_MAX_DEFAULT);
	struct seen sn = {0};
	struct log_entry odd = {0};

	(void)state;
	odd.source = "foo";
	odd.source_len = 3;
	odd.time_nano = T0;
	stream_entry(s, &odd);
	odd.source = "stdout";
	odd.source_len = 6;
	odd.time_nano = 0;
	stream_entry(s, &odd);
	stream_line(s, 1, 10);
	stream_entry(s, &odd);

	frame_decoder_resync(d);
	assert_int_equal(frame_decoder_feed(d, s->b, s->n, seen_cb, &sn), 0);
	/* The first two are skipped; once in step, anything goes. */
	assert_delivered(&sn, s, 2, 4);
	assert_int_equal(frame_decoder_stats(d)->skipped_bytes, s->start[2]);
	assert_int_equal(frame_decoder_stats(d)->bad_frames, 0);
	seen_release(&sn);
	frame_decoder_free(d);

	/* Without resync they are all delivered. */
	d = frame_decoder_new(FRAME_MAX_DEFAULT);
	assert_int_equal(frame_decoder_feed(d, s->b, s->n, seen_cb, &sn), 0);
	assert_delivered(&sn, s, 0, 4);
	seen_release(&sn);
	frame_decoder_free(d);
	stream_free(s);
}

/* Resync waits for a candidate's body, but no longer than it can be valid. */
static void test_resync_waits_for_candidate(void **state)
{
	static const uint8_t junk[] = {0x01, 0x02, 0x03};
	struct stream *s = stream_new();
	struct frame_decoder *d = frame_decoder_new(FRAME_MAX_DEFAULT);
	struct seen sn = {0};
	size_t half;

	(void)state;
	stream_raw(s, junk, sizeof(junk));
	stream_line(s, 1, 5000);
	stream_line(s, 2, 10);
	half = s->start[0] + s->len[0] / 2;
	frame_decoder_resync(d);
	assert_int_equal(frame_decoder_feed(d, s->b, half, seen_cb, &sn), 0);
	assert_int_equal(sn.count, 0);
	assert_int_equal(frame_decoder_buffered(d), half - sizeof(junk));
	assert_int_equal(
		frame_decoder_feed(d, s->b + half, s->n - half, seen_cb, &sn),
		0);
	assert_delivered(&sn, s, 0, 2);
	assert_int_equal(frame_decoder_stats(d)->skipped_bytes, sizeof(junk));
	seen_release(&sn);
	frame_decoder_free(d);
	stream_free(s);
}

/* Memory stays bounded whatever lengths the stream claims. */
static void test_buffer_bounds(void **state)
{
	static uint8_t body[4096];
	/* A frame of the largest allowed size whose body is a line field
	 * still arriving: a valid prefix for as long as it comes. */
	static const uint8_t start[] = {0x00, 0x10, 0x00, 0x00,
					0x1a, 0xfc, 0xff, 0x3f};
	struct frame_decoder *d = frame_decoder_new(FRAME_MAX_DEFAULT);
	struct seen sn = {0};
	size_t fed = sizeof(start);

	(void)state;
	assert_int_equal(
		frame_decoder_feed(d, start, sizeof(start), seen_cb, &sn), 0);
	while (fed < 4 + FRAME_MAX_DEFAULT - sizeof(body)) {
		assert_int_equal(
			frame_decoder_feed(d, body, sizeof(body), seen_cb, &sn),
			0);
		fed += sizeof(body);
		assert_int_equal(frame_decoder_buffered(d), fed);
	}
	assert_true(frame_decoder_buffered(d) <= FRAME_MAX_DEFAULT + 4);
	assert_int_equal(frame_decoder_finish(d), fed);
	assert_int_equal(frame_decoder_buffered(d), 0);
	frame_decoder_free(d);

	/* While resynchronising, a candidate is at most 64 KiB. */
	d = frame_decoder_new(FRAME_MAX_DEFAULT);
	frame_decoder_resync(d);
	assert_int_equal(
		frame_decoder_feed(d, start, sizeof(start), seen_cb, &sn), 0);
	assert_int_equal(frame_decoder_buffered(d), 3);
	frame_decoder_free(d);
	seen_release(&sn);
}

static void test_finish_leftovers(void **state)
{
	struct stream *s = stream_lines(3);
	struct frame_decoder *d = frame_decoder_new(FRAME_MAX_DEFAULT);
	struct seen sn = {0};
	size_t cut = s->start[2] + 7;

	(void)state;
	assert_int_equal(frame_decoder_feed(d, s->b, cut, seen_cb, &sn), 0);
	assert_int_equal(sn.count, 2);
	assert_int_equal(frame_decoder_buffered(d), 7);
	assert_int_equal(frame_decoder_finish(d), 7);
	assert_int_equal(frame_decoder_buffered(d), 0);
	assert_int_equal(frame_decoder_stats(d)->skipped_bytes, 7);
	assert_int_equal(frame_decoder_finish(d), 0);
	assert_int_equal(frame_decoder_stats(d)->skipped_bytes, 7);
	/* Fewer bytes than a length prefix are left over too. */
	assert_int_equal(frame_decoder_feed(d, s->b, 2, seen_cb, &sn), 0);
	assert_int_equal(frame_decoder_finish(d), 2);
	assert_int_equal(frame_decoder_stats(d)->skipped_bytes, 9);
	seen_release(&sn);
	frame_decoder_free(d);
	stream_free(s);
}

/* An idle stream holds nothing once its last frame is complete. */
static void test_carry_released(void **state)
{
	struct stream *s = stream_lines(2);
	struct frame_decoder *d = frame_decoder_new(FRAME_MAX_DEFAULT);
	struct seen sn = {0};
	size_t i;

	(void)state;
	for (i = 1; i < s->len[0]; i++) {
		assert_int_equal(frame_decoder_feed(d, s->b, i, seen_cb, &sn),
				 0);
		assert_int_equal(frame_decoder_buffered(d), i);
		assert_int_equal(
			frame_decoder_feed(d, s->b + i, s->n - i, seen_cb, &sn),
			0);
		assert_int_equal(frame_decoder_buffered(d), 0);
	}
	assert_int_equal(sn.count, 2 * (s->len[0] - 1));
	seen_release(&sn);
	frame_decoder_free(d);
	stream_free(s);
	frame_decoder_free(NULL);
}

/* Outside resync any decodable frame passes, even an empty one. */
static void test_normal_mode_accepts_any(void **state)
{
	static const uint8_t empty_frame[4] = {0, 0, 0, 0};
	struct stream *s = stream_new();
	struct frame_decoder *d = frame_decoder_new(FRAME_MAX_DEFAULT);
	struct seen sn = {0};
	struct log_entry e = {0};

	(void)state;
	stream_raw(s, empty_frame, sizeof(empty_frame));
	e.source = "";
	stream_entry(s, &e);
	e.source = "weird";
	e.source_len = 5;
	e.time_nano = -3;
	stream_entry(s, &e);
	assert_int_equal(frame_decoder_feed(d, s->b, s->n, seen_cb, &sn), 0);
	assert_int_equal(sn.count, 3);
	assert_int_equal(frame_decoder_stats(d)->bad_frames, 0);
	assert_int_equal(frame_decoder_stats(d)->skipped_bytes, 0);
	assert_int_equal(frame_decoder_feed(d, NULL, 0, seen_cb, &sn), 0);
	seen_release(&sn);
	frame_decoder_free(d);
	stream_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_byte_at_a_time),
		cmocka_unit_test(test_random_splits),
		cmocka_unit_test(test_many_frames_zero_copy),
		cmocka_unit_test(test_pause_resume),
		cmocka_unit_test(test_pause_with_partial_tail),
		cmocka_unit_test(test_pause_everywhere),
		cmocka_unit_test(test_oversized_length),
		cmocka_unit_test(test_max_frame_limit),
		cmocka_unit_test(test_undecodable_body),
		cmocka_unit_test(test_garbage_between_frames),
		cmocka_unit_test(test_resync_mid_frame),
		cmocka_unit_test(test_resync_wants_plausible),
		cmocka_unit_test(test_resync_waits_for_candidate),
		cmocka_unit_test(test_buffer_bounds),
		cmocka_unit_test(test_finish_leftovers),
		cmocka_unit_test(test_carry_released),
		cmocka_unit_test(test_normal_mode_accepts_any),
		cmocka_unit_test(test_skip),
		cmocka_unit_test(test_skip_unset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
