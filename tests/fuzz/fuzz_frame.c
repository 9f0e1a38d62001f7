/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the FIFO path: frame_decoder_*() and
 * logentry_decode(), which see bytes straight from a container's FIFO.
 *
 * Input: 4 control bytes, then the stream.
 *   byte 0  bit 0: start resynchronising; bits 1-2: max_frame (1 MiB, 0,
 *           40, 300); bit 3: call frame_decoder_resync() now and then;
 *           bit 4: sometimes feed while paused; bit 5: the callback
 *           answers FRAME_SKIP now and then (frame_decoder_set_skip())
 *   byte 1  how often the callback pauses (0 = never)
 *   bytes 2-3  seed for chunk sizes and the other choices
 * Each chunk is fed from a heap copy of its exact size, freed right after,
 * so ASan sees any read outside it.  Checked: every delivered entry's bytes
 * are readable and survive an encode and decode (and unpack with
 * protobuf-c); an entry logentry_measure() reads decodes to a whole line
 * of that length; a skipped line is one at least as long as the entry
 * answered FRAME_SKIP; the stats only grow and account for no more than was
 * fed; the buffer stays within its bound; pause and resume keep their contract.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "entry.pb-c.h"
#include "plugin/frame.h"
#include "plugin/logentry.h"

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c))                                                      \
			__builtin_trap();                                      \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	uint32_t rng;
	unsigned pause_rate; /* out of 256 */
	uint64_t taken;
	uint64_t calls;
	bool skips;	 /* answer FRAME_SKIP now and then */
	size_t skip_min; /* line length of the last entry answered so */
	uint8_t scratch[3 * FRAME_MAX_DEFAULT];
};

static uint32_t next(struct ctx *c)
{
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 17;
	c->rng ^= c->rng << 5;
	return c->rng;
}

static void check_roundtrip(struct ctx *c, const struct log_entry *e)
{
	size_t n = logentry_frame_size(e);
	uint8_t *buf = malloc(n);
	struct log_entry d;
	LogEntry *m;

	CHECK(buf != NULL);
	CHECK(logentry_encode_frame(buf, e) == n);
	CHECK(((size_t)buf[0] << 24 | (size_t)buf[1] << 16 |
	       (size_t)buf[2] << 8 | buf[3]) == n - 4);
	CHECK(logentry_decode(buf + 4, n - 4, &d) == 0);
	CHECK(d.source_len == e->source_len &&
	      memcmp(d.source, e->source, d.source_len) == 0);
	CHECK(d.time_nano == e->time_nano);
	CHECK(d.line_len == e->line_len &&
	      memcmp(d.line, e->line, d.line_len) == 0);
	CHECK(d.partial == e->partial && d.partial_last == e->partial_last);
	CHECK(d.partial_id_len == e->partial_id_len &&
	      memcmp(d.partial_id, e->partial_id, d.partial_id_len) == 0);
	CHECK(d.partial_ordinal == e->partial_ordinal);
	m = log_entry__unpack(NULL, n - 4, buf + 4);
	CHECK(m != NULL);
	CHECK(m->time_nano == e->time_nano && m->line.len == e->line_len);
	log_entry__free_unpacked(m, NULL);
	free(buf);
	(void)c;
}

static int on_entry(void *arg, const struct log_entry *e)
{
	struct ctx *c = arg;
	size_t off = 0;

	c->calls++;
	/* Every byte the entry points at must be readable now. */
	CHECK(e->source != NULL && e->line != NULL && e->partial_id != NULL);
	CHECK(e->source_len + e->line_len + e->partial_id_len <=
	      sizeof(c->scratch));
	memcpy(c->scratch + off, e->source, e->source_len);
	off += e->source_len;
	memcpy(c->scratch + off, e->line, e->line_len);
	off += e->line_len;
	memcpy(c->scratch + off, e->partial_id, e->partial_id_len);
	if (c->pause_rate > 0 && (next(c) & 0xff) < c->pause_rate)
		return FRAME_PAUSE;
	check_roundtrip(c, e);
	c->taken++;
	if (c->skips && !e->partial && (next(c) & 3) == 0) {
		c->skip_min = e->line_len;
		return FRAME_SKIP;
	}
	return FRAME_TAKEN;
}

static void on_skipped(void *arg, uint64_t lines, uint64_t bytes)
{
	struct ctx *c = arg;

	CHECK(c->skips && lines > 0);
	CHECK(bytes >= lines * c->skip_min);
	c->taken += lines;
}

static void check_stats(const struct frame_decoder *d, const struct ctx *c,
			struct frame_stats *last, uint64_t fed)
{
	const struct frame_stats *st = frame_decoder_stats(d);

	CHECK(st->frames == c->taken);
	CHECK(st->frames >= last->frames);
	CHECK(st->bad_frames >= last->bad_frames);
	CHECK(st->skipped_bytes >= last->skipped_bytes);
	/* A frame is at least its 4-byte length, and nothing is counted
	 * twice. */
	CHECK(st->frames * 4 + st->skipped_bytes + frame_decoder_buffered(d) <=
	      fed);
	*last = *st;
}

static const size_t max_frames[] = {FRAME_MAX_DEFAULT, 0, 40, 300};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ctx c;
	struct frame_stats last = {0};
	struct frame_decoder *d;
	struct log_entry e;
	size_t max_frame, bound, off = 4;
	uint64_t fed = 0;
	uint8_t flags;

	if (size < 4)
		return 0;
	flags = data[0];
	c.pause_rate = data[1];
	c.rng = (uint32_t)data[2] << 8 | data[3] | 0x10000;
	c.taken = 0;
	c.calls = 0;
	c.skips = (flags & 32) != 0;
	max_frame = max_frames[(flags >> 1) & 3];

	/* The whole stream as one message: the decoder and the prefix
	 * check agree, and no prefix of a valid message is refused. */
	{
		int rc = logentry_decode(data + 4, size - 4, &e);
		size_t line_len;

		CHECK(rc == 0 || rc == -EBADMSG);
		if (logentry_measure(data + 4, size - 4, &line_len) == 0)
			CHECK(rc == 0 && e.line_len == line_len && !e.partial &&
			      e.partial_id_len == 0);
		CHECK(logentry_check_prefix(data + 4, size - 4, size - 4) ==
		      rc);
		if (rc == 0) {
			size_t cut = next(&c) % (size - 4 + 1);

			CHECK(logentry_check_prefix(data + 4, cut, size - 4) ==
			      0);
			check_roundtrip(&c, &e);
		}
	}

	d = frame_decoder_new(max_frame);
	if (d == NULL)
		return 0;
	if (flags & 1)
		frame_decoder_resync(d);
	if (c.skips)
		frame_decoder_set_skip(d, on_skipped);
	bound = max_frame + 3;
	while (off < size) {
		size_t k, r = next(&c);
		uint8_t *chunk;
		int rc;

		k = r % 4 == 0 ? r % 7 + 1 : r % 4096 + 1;
		if (k > size - off)
			k = size - off;
		chunk = malloc(k);
		CHECK(chunk != NULL);
		memcpy(chunk, data + off, k);
		if ((flags & 8) && next(&c) % 16 == 0)
			frame_decoder_resync(d);
		if (frame_decoder_is_paused(d)) {
			/* Fed while paused: kept, nothing delivered. */
			uint64_t calls = c.calls;

			rc = frame_decoder_feed(d, chunk, k, on_entry, &c);
			CHECK(rc == FRAME_PAUSE || rc == -ENOMEM);
			CHECK(c.calls == calls);
			bound += k;
		} else {
			bound = max_frame + 3 + k;
			rc = frame_decoder_feed(d, chunk, k, on_entry, &c);
		}
		free(chunk);
		off += k;
		fed += k;
		CHECK(rc == 0 || rc == FRAME_PAUSE || rc == -ENOMEM);
		CHECK((rc == FRAME_PAUSE) == frame_decoder_is_paused(d));
		CHECK(frame_decoder_buffered(d) <= bound);
		check_stats(d, &c, &last, fed);
		/* Resume now, or leave it paused and maybe feed more. */
		while (frame_decoder_is_paused(d) &&
		       !((flags & 16) && next(&c) % 4 == 0)) {
			uint64_t taken = c.taken;

			rc = frame_decoder_resume(d, on_entry, &c);
			CHECK(rc == 0 || rc == FRAME_PAUSE || rc == -ENOMEM);
			CHECK((rc == FRAME_PAUSE) ==
			      frame_decoder_is_paused(d));
			CHECK(frame_decoder_buffered(d) <= bound);
			if (rc == 0)
				CHECK(frame_decoder_buffered(d) <=
				      max_frame + 3);
			check_stats(d, &c, &last, fed);
			if (c.pause_rate == 255 && taken == c.taken)
				break; /* it would pause forever */
		}
		if (!frame_decoder_is_paused(d))
			CHECK(frame_decoder_buffered(d) <= max_frame + 3);
	}
	{
		size_t left = frame_decoder_buffered(d);
		uint64_t skipped = frame_decoder_stats(d)->skipped_bytes;

		CHECK(frame_decoder_finish(d) == left);
		CHECK(frame_decoder_buffered(d) == 0);
		CHECK(!frame_decoder_is_paused(d));
		CHECK(frame_decoder_stats(d)->skipped_bytes == skipped + left);
	}
	check_stats(d, &c, &last, fed);
	frame_decoder_free(d);
	return 0;
}
