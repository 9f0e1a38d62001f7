/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LogEntry to and from struct log_entry.  The decoder is a hand-written
 * proto3 parser that stores pointers into the input and never allocates; it
 * follows the rules of dockerd's own (gogo) decoder, so a frame dockerd would
 * accept is accepted here.  The encoder hands the message to protobuf-c with
 * the entry's bytes borrowed, except strings protobuf-c cannot take as they
 * are (see pack_prepare()).
 */
#include "plugin/logentry.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "entry.pb-c.h"

/* Wire types (protobuf encoding spec). */
#define WT_VARINT 0
#define WT_I64	  1
#define WT_LEN	  2
#define WT_SGROUP 3
#define WT_EGROUP 4
#define WT_I32	  5

#define FIELD_NUMBER_MAX ((UINT64_C(1) << 29) - 1)
#define VARINT_MAX_BYTES 10

/*
 * A parse result besides 0 and -EBADMSG: the bytes ran out before the end of
 * the message, so only a prefix could be checked.
 */
#define NEED_MORE 1

/*
 * Strings up to this long, without a NUL, are copied to the stack and given
 * to protobuf-c, which wants C strings.  dockerd's are 6 ("stdout") and 64
 * (a partial id) bytes.
 */
#define SMALL_STRING 128

static const uint8_t empty[1];

/*
 * The bytes of a message being parsed: it ends at 'limit', but only the
 * bytes before 'end' (<= limit) are at hand.
 */
struct span {
	const uint8_t *p;
	const uint8_t *end;
	const uint8_t *limit;
};

/* Ran out at 'end': either more can still come, or the message is cut. */
static inline int short_of(const struct span *s)
{
	return s->end < s->limit ? NEED_MORE : -EBADMSG;
}

/* Eight bytes at 'p' as a little-endian number, whatever the host's order
 * (compilers turn this into one load where they can). */
static inline uint64_t load_le64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	       (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
	       (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	       (uint64_t)p[7] << 56;
}

/* The low 7 bits of each of the eight bytes of 'x', packed into 56 bits. */
static inline uint64_t pack7(uint64_t x)
{
	x &= UINT64_C(0x7f7f7f7f7f7f7f7f);
	x = (x & UINT64_C(0x007f007f007f007f)) |
	    (x & UINT64_C(0x7f007f007f007f00)) >> 1;
	x = (x & UINT64_C(0x00003fff00003fff)) |
	    (x & UINT64_C(0x3fff00003fff0000)) >> 2;
	return (x & UINT64_C(0x000000000fffffff)) |
	       (x & UINT64_C(0x0fffffff00000000)) >> 4;
}

/*
 * A varint at 'p' with all ten bytes a varint may take at hand, so no byte
 * needs a bounds check.  Timestamps are nine bytes long and come on every
 * line: the bytes are examined eight at a time instead of one by one.
 * Returns the bytes it took (1 to 10), or 0 when ten bytes did not end it.
 */
static inline unsigned varint_wide(const uint8_t *p, uint64_t *out)
{
	uint64_t x = load_le64(p);
	uint64_t stops = ~x & UINT64_C(0x8080808080808080);
	unsigned k;

	if (stops != 0) {
		/* The first byte without the high bit ends it: k bytes. */
		k = (unsigned)__builtin_ctzll(stops) / 8 + 1;
		if (k < 8)
			x &= (UINT64_C(1) << (8 * k)) - 1;
		*out = pack7(x);
		return k;
	}
	/* Bits past 64 in a tenth byte are dropped, as dockerd's decoder and
	 * protobuf-c drop them. */
	x = pack7(x) | (uint64_t)(p[8] & 0x7f) << 56;
	if (p[8] < 0x80) {
		*out = x;
		return 9;
	}
	if (p[9] < 0x80) {
		*out = x | (uint64_t)p[9] << 63;
		return 10;
	}
	return 0;
}

/* varint_wide()'s length alone, for a varint that is skipped, not read. */
static inline unsigned varint_wide_len(const uint8_t *p)
{
	uint64_t stops = ~load_le64(p) & UINT64_C(0x8080808080808080);

	if (stops != 0)
		return (unsigned)__builtin_ctzll(stops) / 8 + 1;
	if (p[8] < 0x80)
		return 9;
	if (p[9] < 0x80)
		return 10;
	return 0;
}

/* A varint of two or more bytes, or one cut short. */
static int get_varint_long(struct span *s, uint64_t *out)
{
	const uint8_t *p = s->p;
	uint64_t v = 0;
	unsigned i;

	if (s->end - p >= VARINT_MAX_BYTES) {
		i = varint_wide(p, out);
		if (i == 0)
			return -EBADMSG;
		s->p = p + i;
		return 0;
	}
	for (i = 0; i < VARINT_MAX_BYTES; i++) {
		uint8_t b;

		if (p == s->end)
			return short_of(s);
		b = *p++;
		/* As in varint_wide(). */
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (b < 0x80) {
			*out = v;
			s->p = p;
			return 0;
		}
	}
	return -EBADMSG;
}

/* Tags and short lengths are one byte: that case stays inline. */
static inline int get_varint(struct span *s, uint64_t *out)
{
	const uint8_t *p = s->p;

	if (p < s->end && *p < 0x80) {
		*out = *p;
		s->p = p + 1;
		return 0;
	}
	return get_varint_long(s, out);
}

/*
 * Reads the length of a length-delimited field and points *body at it.
 * NEED_MORE when the body is not all at hand yet; if the length was read,
 * *body is then still set (else NULL), so a prefix check can look inside.
 */
static inline int get_bytes(struct span *s, const uint8_t **body,
			    size_t *body_len)
{
	uint64_t n;
	int rc;

	*body = NULL;
	*body_len = 0;
	rc = get_varint(s, &n);
	if (rc != 0)
		return rc;
	if (n > (uint64_t)(s->limit - s->p))
		return -EBADMSG;
	*body = s->p;
	*body_len = (size_t)n;
	if (n > (uint64_t)(s->end - s->p)) {
		s->p = s->end;
		return NEED_MORE;
	}
	s->p += n;
	return 0;
}

static inline int skip_fixed(struct span *s, size_t n)
{
	if ((size_t)(s->limit - s->p) < n)
		return -EBADMSG;
	if ((size_t)(s->end - s->p) < n)
		return NEED_MORE;
	s->p += n;
	return 0;
}

static inline int get_tag(struct span *s, uint64_t *field, unsigned *wt)
{
	uint64_t tag;
	int rc;

	rc = get_varint(s, &tag);
	if (rc != 0)
		return rc;
	*field = tag >> 3;
	*wt = (unsigned)(tag & 7);
	if (*field == 0 || *field > FIELD_NUMBER_MAX)
		return -EBADMSG;
	return 0;
}

static inline int skip_field(struct span *s, unsigned wt)
{
	const uint8_t *body;
	size_t len;
	uint64_t v;

	switch (wt) {
	case WT_VARINT:
		return get_varint(s, &v);
	case WT_I64:
		return skip_fixed(s, 8);
	case WT_LEN:
		return get_bytes(s, &body, &len);
	case WT_I32:
		return skip_fixed(s, 4);
	default:
		/* Groups were never valid in a proto3 message; 6 and 7 are
		 * not wire types at all. */
		return -EBADMSG;
	}
}

/* PartialLogEntryMetadata: merged into what 'out' already holds. */
static inline int parse_meta(struct span *s, struct log_entry *out)
{
	const uint8_t *body;
	uint64_t field, v;
	unsigned wt;
	size_t len;
	int rc;

	while (s->p < s->end) {
		rc = get_tag(s, &field, &wt);
		if (rc != 0)
			return rc;
		switch (field) {
		case 1:
			if (wt != WT_VARINT)
				return -EBADMSG;
			rc = get_varint(s, &v);
			if (rc != 0)
				return rc;
			out->partial_last = v != 0;
			break;
		case 2:
			if (wt != WT_LEN)
				return -EBADMSG;
			rc = get_bytes(s, &body, &len);
			if (rc != 0)
				return rc;
			out->partial_id = (const char *)body;
			out->partial_id_len = len;
			break;
		case 3:
			if (wt != WT_VARINT)
				return -EBADMSG;
			rc = get_varint(s, &v);
			if (rc != 0)
				return rc;
			/* int32 travels sign-extended to 64 bits; keep the
			 * low 32 as every proto decoder does. */
			out->partial_ordinal = (int32_t)(uint32_t)v;
			break;
		default:
			rc = skip_field(s, wt);
			if (rc != 0)
				return rc;
			break;
		}
	}
	return short_of(s) == NEED_MORE ? NEED_MORE : 0;
}

/*
 * Parses a LogEntry into 'out'.  Returns 0, -EBADMSG, or NEED_MORE when the
 * span ends before its limit and nothing wrong was seen so far.
 */
static inline int parse_entry(struct span *s, struct log_entry *out)
{
	const uint8_t *body;
	uint64_t field, v;
	unsigned wt;
	size_t len;
	int rc;

	while (s->p < s->end) {
		rc = get_tag(s, &field, &wt);
		if (rc != 0)
			return rc;
		switch (field) {
		case 1:
			if (wt != WT_LEN)
				return -EBADMSG;
			rc = get_bytes(s, &body, &len);
			if (rc != 0)
				return rc;
			out->source = (const char *)body;
			out->source_len = len;
			break;
		case 2:
			if (wt != WT_VARINT)
				return -EBADMSG;
			rc = get_varint(s, &v);
			if (rc != 0)
				return rc;
			out->time_nano = (int64_t)v;
			break;
		case 3:
			if (wt != WT_LEN)
				return -EBADMSG;
			rc = get_bytes(s, &body, &len);
			if (rc != 0)
				return rc;
			out->line = body;
			out->line_len = len;
			break;
		case 4:
			if (wt != WT_VARINT)
				return -EBADMSG;
			rc = get_varint(s, &v);
			if (rc != 0)
				return rc;
			out->partial = v != 0;
			break;
		case 5: {
			struct span sub;

			if (wt != WT_LEN)
				return -EBADMSG;
			rc = get_bytes(s, &body, &len);
			if (rc < 0 || (rc == NEED_MORE && body == NULL))
				return rc;
			sub.p = body;
			sub.limit = body + len;
			sub.end = rc == NEED_MORE ? s->end : sub.limit;
			rc = parse_meta(&sub, out);
			if (rc != 0)
				return rc;
			break;
		}
		default:
			rc = skip_field(s, wt);
			if (rc != 0)
				return rc;
			break;
		}
	}
	return short_of(s) == NEED_MORE ? NEED_MORE : 0;
}

static void entry_clear(struct log_entry *e, const uint8_t *buf)
{
	const uint8_t *base = buf != NULL ? buf : empty;

	e->source = (const char *)base;
	e->source_len = 0;
	e->time_nano = 0;
	e->line = base;
	e->line_len = 0;
	e->partial = false;
	e->partial_last = false;
	e->partial_id = (const char *)base;
	e->partial_id_len = 0;
	e->partial_ordinal = 0;
}

/*
 * The layout dockerd writes for a whole line: fields 1 to 4, each at most
 * once, in field order, with one-byte tags, lengths below 16 KiB and the
 * time not last.  Read here straight through, without the general loop,
 * whose switch on the field number costs a mispredicted jump per field:
 * that was a good part of what a dropped line cost.  Returns 0 with every
 * field of 'out' set as parse_entry() would set it, or 1 when the message
 * is anything else (a chunk's metadata, an unknown field, fields out of
 * order, a malformed one), which parse_entry() then reads from the start.
 */
static inline int parse_usual(const uint8_t *p, const uint8_t *end,
			      struct log_entry *out, bool want_time)
{
	const uint8_t *source = p, *line = p;
	size_t source_len = 0, line_len = 0;
	uint64_t time = 0, partial = 0;
	unsigned k;

	if (p < end && *p == (1 << 3 | WT_LEN)) {
		if (end - p < 2 || p[1] >= 0x80 || p[1] > end - p - 2)
			return 1;
		source = p + 2;
		source_len = p[1];
		p = source + source_len;
	}
	if (p < end && *p == (2 << 3 | WT_VARINT)) {
		p++;
		if (end - p < VARINT_MAX_BYTES)
			return 1;
		k = want_time ? varint_wide(p, &time) : varint_wide_len(p);
		if (k == 0)
			return 1;
		p += k;
	}
	if (p < end && *p == (3 << 3 | WT_LEN)) {
		if (end - p >= 2 && p[1] < 0x80) {
			line_len = p[1];
			p += 2;
		} else if (end - p >= 3 && p[1] >= 0x80 && p[2] < 0x80) {
			line_len = (size_t)(p[1] & 0x7f) | (size_t)p[2] << 7;
			p += 3;
		} else {
			return 1;
		}
		if (line_len > (size_t)(end - p))
			return 1;
		line = p;
		p += line_len;
	}
	if (p < end && *p == (4 << 3 | WT_VARINT)) {
		if (end - p < 2 || p[1] >= 0x80)
			return 1;
		partial = p[1];
		p += 2;
	}
	if (p != end)
		return 1;
	out->source = (const char *)source;
	out->source_len = source_len;
	out->time_nano = (int64_t)time;
	out->line = line;
	out->line_len = line_len;
	out->partial = partial != 0;
	out->partial_last = false;
	out->partial_id = (const char *)source;
	out->partial_id_len = 0;
	out->partial_ordinal = 0;
	return 0;
}

/*
 * Any message, by the general parser.  Out of line so that the usual case
 * in logentry_decode() does not pay for its stack frame.
 */
static __attribute__((noinline)) int decode_any(const uint8_t *buf, size_t len,
						struct log_entry *out)
{
	struct span s;

	entry_clear(out, buf);
	if (len == 0)
		return 0;
	s.p = buf;
	s.end = buf + len;
	s.limit = s.end;
	/* With end == limit the parse cannot answer NEED_MORE. */
	return parse_entry(&s, out) == 0 ? 0 : -EBADMSG;
}

int logentry_decode(const uint8_t *buf, size_t len, struct log_entry *out)
{
	if (len != 0 && parse_usual(buf, buf + len, out, true) == 0)
		return 0;
	return decode_any(buf, len, out);
}

int logentry_measure(const uint8_t *buf, size_t len, size_t *line_len)
{
	struct log_entry e;

	/* The same checks as logentry_decode()'s usual case, so an entry
	 * measured here decodes to the same line; the time is skipped. */
	if (len == 0 || parse_usual(buf, buf + len, &e, false) != 0 ||
	    e.partial)
		return -1;
	*line_len = e.line_len;
	return 0;
}

int logentry_check_prefix(const uint8_t *buf, size_t avail, size_t len)
{
	struct log_entry scratch;
	struct span s;

	if (avail > len)
		return -EBADMSG;
	entry_clear(&scratch, buf);
	if (avail == 0)
		return 0;
	s.p = buf;
	s.end = buf + avail;
	s.limit = buf + len;
	return parse_entry(&s, &scratch) < 0 ? -EBADMSG : 0;
}

/*
 * A message for protobuf-c that borrows the entry's bytes.  protobuf-c takes
 * strings as NUL-terminated char *, so a short string is copied to the
 * stack; one that is long or holds a NUL is left out of the protobuf-c
 * message and written here instead.  That keeps field order: source is field
 * 1, written before protobuf-c's output, and the metadata is field 5, the
 * last one, written after it.  Not to be copied once prepared: the message
 * points into the struct itself.
 */
struct pack {
	LogEntry msg;
	PartialLogEntryMetadata meta;
	char source[SMALL_STRING + 1];
	char id[SMALL_STRING + 1];
	bool own_source; /* field 1 is written here */
	bool own_meta;	 /* field 5 is written here */
	size_t meta_len; /* body of field 5 when own_meta */
};

static size_t varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* Tag, length and body of a length-delimited field numbered below 16. */
static size_t len_field_size(size_t len)
{
	return 1 + varint_size(len) + len;
}

static uint8_t *put_len_field(uint8_t *p, unsigned field, const void *body,
			      size_t len)
{
	*p++ = (uint8_t)(field << 3 | WT_LEN);
	p = put_varint(p, len);
	if (len > 0)
		memcpy(p, body, len);
	return p + len;
}

/* Copies a string protobuf-c can take into 'dst'; false if it cannot. */
static bool small_string(char *dst, const char *s, size_t len)
{
	if (len > SMALL_STRING || (len > 0 && memchr(s, '\0', len) != NULL))
		return false;
	if (len > 0)
		memcpy(dst, s, len);
	dst[len] = '\0';
	return true;
}

static bool has_meta(const struct log_entry *e)
{
	return e->partial || e->partial_last || e->partial_id_len > 0 ||
	       e->partial_ordinal != 0;
}

static void pack_prepare(struct pack *pk, const struct log_entry *e)
{
	log_entry__init(&pk->msg);
	partial_log_entry_metadata__init(&pk->meta);
	pk->own_source = !small_string(pk->source, e->source, e->source_len);
	if (!pk->own_source)
		pk->msg.source = pk->source;
	pk->msg.time_nano = e->time_nano;
	pk->msg.line.len = e->line_len;
	/* protobuf-c only reads it; its struct has no const. */
	pk->msg.line.data = (uint8_t *)(uintptr_t)e->line;
	pk->msg.partial = e->partial;
	pk->own_meta = false;
	pk->meta_len = 0;
	if (!has_meta(e))
		return;
	pk->meta.last = e->partial_last;
	pk->meta.ordinal = e->partial_ordinal;
	if (small_string(pk->id, e->partial_id, e->partial_id_len)) {
		pk->meta.id = pk->id;
		pk->msg.partial_log_metadata = &pk->meta;
		return;
	}
	pk->own_meta = true;
	/* Our share is the id; protobuf-c sizes the rest. */
	pk->meta_len = partial_log_entry_metadata__get_packed_size(&pk->meta) +
		       len_field_size(e->partial_id_len);
}

static size_t message_size(const struct pack *pk, const struct log_entry *e)
{
	size_t n = log_entry__get_packed_size(&pk->msg);

	if (pk->own_source)
		n += len_field_size(e->source_len);
	if (pk->own_meta)
		n += len_field_size(pk->meta_len);
	return n;
}

size_t logentry_frame_size(const struct log_entry *e)
{
	struct pack pk;

	pack_prepare(&pk, e);
	return 4 + message_size(&pk, e);
}

size_t logentry_encode_frame(uint8_t *dst, const struct log_entry *e)
{
	struct pack pk;
	uint8_t *p = dst + 4;
	size_t n;

	pack_prepare(&pk, e);
	n = message_size(&pk, e);
	assert(n <= UINT32_MAX);
	dst[0] = (uint8_t)(n >> 24);
	dst[1] = (uint8_t)(n >> 16);
	dst[2] = (uint8_t)(n >> 8);
	dst[3] = (uint8_t)n;
	if (pk.own_source)
		p = put_len_field(p, 1, e->source, e->source_len);
	p += log_entry__pack(&pk.msg, p);
	if (pk.own_meta) {
		*p++ = (uint8_t)(5 << 3 | WT_LEN);
		p = put_varint(p, pk.meta_len);
		if (pk.meta.last) {
			*p++ = (uint8_t)(1 << 3 | WT_VARINT);
			*p++ = 1;
		}
		p = put_len_field(p, 2, e->partial_id, e->partial_id_len);
		if (pk.meta.ordinal != 0) {
			*p++ = (uint8_t)(3 << 3 | WT_VARINT);
			/* int32 is sign-extended on the wire. */
			p = put_varint(p, (uint64_t)(int64_t)pk.meta.ordinal);
		}
	}
	assert((size_t)(p - dst) == 4 + n);
	return 4 + n;
}
