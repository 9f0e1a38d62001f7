/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The LogEntry codec against the worked example of the protocol notes
 * (section 3.3), against protobuf-c in both directions (random entries
 * packed by protobuf-c must decode to the same values; our frames must
 * unpack with protobuf-c to the entry we encoded), against a canonical
 * encoder written here from the proto3 rules, and against every kind of
 * malformed message.  Inputs are copied to heap buffers of their exact size
 * so that ASan catches any read past the end.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "entry.pb-c.h"
#include "plugin/logentry.h"

#define ID64 "3afd3a89837b50c8c5a5081b6a36603c845696b8c07f95b7686f3b47f9ec10ba"

/* A deterministic generator, so a failure repeats. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

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

/* A message built by hand, field by field. */
struct mb {
	uint8_t b[70000];
	size_t n;
	size_t bounds[64]; /* offsets where a top-level field ends */
	size_t nbounds;
};

static void mb_raw(struct mb *m, const void *p, size_t n)
{
	assert_true(m->n + n <= sizeof(m->b));
	if (n > 0)
		memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void mb_byte(struct mb *m, uint8_t c)
{
	mb_raw(m, &c, 1);
}

static void mb_varint(struct mb *m, uint64_t v)
{
	while (v >= 0x80) {
		mb_byte(m, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	mb_byte(m, (uint8_t)v);
}

static void mb_tag(struct mb *m, uint64_t field, unsigned wt)
{
	mb_varint(m, field << 3 | wt);
}

static void mb_mark(struct mb *m)
{
	assert_true(m->nbounds < 64);
	m->bounds[m->nbounds++] = m->n;
}

static void mb_len(struct mb *m, uint64_t field, const void *p, size_t n)
{
	mb_tag(m, field, 2);
	mb_varint(m, n);
	mb_raw(m, p, n);
	mb_mark(m);
}

static void mb_uint(struct mb *m, uint64_t field, uint64_t v)
{
	mb_tag(m, field, 0);
	mb_varint(m, v);
	mb_mark(m);
}

static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *q = malloc(n > 0 ? n : 1);

	assert_non_null(q);
	if (n > 0)
		memcpy(q, p, n);
	return q;
}

/* The copy the last decode_exact() decoded, which its entry points into. */
static uint8_t *held;

static void release_held(void)
{
	free(held);
	held = NULL;
}

static int decode_exact(const uint8_t *p, size_t n, struct log_entry *e)
{
	release_held();
	held = dup_exact(p, n);
	return logentry_decode(held, n, e);
}

static bool has_meta(const struct log_entry *e)
{
	return e->partial || e->partial_last || e->partial_id_len > 0 ||
	       e->partial_ordinal != 0;
}

/* The canonical (gogo) encoding of 'e', from the proto3 rules alone. */
static void canonical(struct mb *m, const struct log_entry *e)
{
	memset(m, 0, offsetof(struct mb, b));
	m->n = 0;
	m->nbounds = 0;
	if (e->source_len > 0)
		mb_len(m, 1, e->source, e->source_len);
	if (e->time_nano != 0)
		mb_uint(m, 2, (uint64_t)e->time_nano);
	if (e->line_len > 0)
		mb_len(m, 3, e->line, e->line_len);
	if (e->partial)
		mb_uint(m, 4, 1);
	if (has_meta(e)) {
		struct mb *sub = calloc(1, sizeof(*sub));

		assert_non_null(sub);
		if (e->partial_last)
			mb_uint(sub, 1, 1);
		if (e->partial_id_len > 0)
			mb_len(sub, 2, e->partial_id, e->partial_id_len);
		if (e->partial_ordinal != 0)
			mb_uint(sub, 3, (uint64_t)(int64_t)e->partial_ordinal);
		mb_len(m, 5, sub->b, sub->n);
		free(sub);
	}
}

static void assert_entry_equal(const struct log_entry *a,
			       const struct log_entry *b)
{
	assert_int_equal(a->source_len, b->source_len);
	assert_memory_equal(a->source, b->source, a->source_len);
	assert_true(a->time_nano == b->time_nano);
	assert_int_equal(a->line_len, b->line_len);
	assert_memory_equal(a->line, b->line, a->line_len);
	assert_int_equal(a->partial, b->partial);
	assert_int_equal(a->partial_last, b->partial_last);
	assert_int_equal(a->partial_id_len, b->partial_id_len);
	assert_memory_equal(a->partial_id, b->partial_id, a->partial_id_len);
	assert_int_equal(a->partial_ordinal, b->partial_ordinal);
}

/* Every pointer of a decoded entry is usable, even for absent fields. */
static void assert_pointers_set(const struct log_entry *e)
{
	assert_non_null(e->source);
	assert_non_null(e->line);
	assert_non_null(e->partial_id);
}

static void test_worked_example(void **state)
{
	static const uint8_t frame[] = {
		0x00, 0x00, 0x00, 0x19, 0x0a, 0x06, 's',  't',	'd',  'o',
		'u',  't',  0x10, 0x95, 0x9a, 0x97, 0xec, 0xe3, 0x9f, 0xe7,
		0xcb, 0x17, 0x1a, 0x05, 'h',  'e',  'l',  'l',	'o'};
	struct log_entry e = {0}, d;
	uint8_t out[64];
	uint8_t *buf;

	(void)state;
	e.source = "stdout";
	e.source_len = 6;
	e.time_nano = INT64_C(1700000000123456789);
	e.line = (const uint8_t *)"hello";
	e.line_len = 5;
	assert_int_equal(logentry_frame_size(&e), sizeof(frame));
	memset(out, 0xee, sizeof(out));
	assert_int_equal(logentry_encode_frame(out, &e), sizeof(frame));
	assert_memory_equal(out, frame, sizeof(frame));
	assert_int_equal(out[sizeof(frame)], 0xee);

	buf = dup_exact(frame + 4, sizeof(frame) - 4);
	assert_int_equal(logentry_decode(buf, sizeof(frame) - 4, &d), 0);
	assert_entry_equal(&d, &e);
	/* Zero copy: the fields point into the buffer. */
	assert_ptr_equal(d.source, (const char *)buf + 2);
	assert_ptr_equal(d.line, buf + 20);
	free(buf);
}

static void rnd_text(char *dst, size_t n, bool allow_nul)
{
	size_t i;

	for (i = 0; i < n; i++) {
		dst[i] = (char)(rnd_below(94) + 33);
		if (allow_nul && rnd_below(8) == 0)
			dst[i] = '\0';
	}
}

static int64_t rnd_time(void)
{
	switch (rnd_below(5)) {
	case 0:
		return 0;
	case 1:
		return -(int64_t)rnd_below(1000000) - 1;
	case 2:
		return (int64_t)rnd();
	case 3:
		return INT64_MIN + (int64_t)rnd_below(3);
	default:
		return INT64_C(1700000000000000000) + (int64_t)rnd_below(1000);
	}
}

static int32_t rnd_ordinal(void)
{
	switch (rnd_below(4)) {
	case 0:
		return 0;
	case 1:
		return (int32_t)rnd_below(5) + 1;
	case 2:
		return INT32_MIN + (int32_t)rnd_below(3);
	default:
		return (int32_t)(uint32_t)rnd();
	}
}

static void test_decode_matches_protobuf_c(void **state)
{
	static char source[40], id[80];
	static uint8_t line[600], packed[1024];
	int i;

	(void)state;
	for (i = 0; i < 5000; i++) {
		LogEntry m = LOG_ENTRY__INIT;
		PartialLogEntryMetadata meta = PARTIAL_LOG_ENTRY_METADATA__INIT;
		struct log_entry d;
		size_t slen = rnd_below(3) == 0 ? 0 : rnd_below(sizeof(source));
		size_t ilen = rnd_below(3) == 0 ? 64 : rnd_below(sizeof(id));
		size_t llen = rnd_below(4) == 0 ? 0 : rnd_below(sizeof(line));
		size_t n, k;

		rnd_text(source, slen, false);
		source[slen] = '\0';
		m.source = source;
		m.time_nano = rnd_time();
		for (k = 0; k < llen; k++)
			line[k] = (uint8_t)rnd();
		m.line.data = line;
		m.line.len = llen;
		m.partial = rnd_below(2) == 0;
		if (rnd_below(2) == 0) {
			rnd_text(id, ilen, false);
			id[ilen] = '\0';
			meta.id = id;
			meta.last = rnd_below(2) == 0;
			meta.ordinal = rnd_ordinal();
			m.partial_log_metadata = &meta;
		}
		n = log_entry__get_packed_size(&m);
		assert_true(n <= sizeof(packed));
		assert_int_equal(log_entry__pack(&m, packed), n);
		assert_int_equal(decode_exact(packed, n, &d), 0);

		assert_int_equal(d.source_len, slen);
		assert_memory_equal(d.source, source, slen);
		assert_true(d.time_nano == m.time_nano);
		assert_int_equal(d.line_len, llen);
		assert_memory_equal(d.line, line, llen);
		assert_int_equal(d.partial, m.partial);
		if (m.partial_log_metadata != NULL) {
			assert_int_equal(d.partial_last, meta.last);
			assert_int_equal(d.partial_id_len, ilen);
			assert_memory_equal(d.partial_id, id, ilen);
			assert_int_equal(d.partial_ordinal, meta.ordinal);
		} else {
			assert_false(d.partial_last);
			assert_int_equal(d.partial_id_len, 0);
			assert_int_equal(d.partial_ordinal, 0);
		}
		assert_int_equal(logentry_check_prefix(packed, n, n), 0);
	}
}

/*
 * Our frames unpack with protobuf-c to what we encoded, decode back to it,
 * and are byte for byte the canonical encoding, including strings that are
 * long or hold a NUL (those take the path that bypasses protobuf-c).
 */
static void test_encode_matches_protobuf_c(void **state)
{
	static char source[300], id[300];
	static uint8_t line[2000], out[4096];
	struct mb *want;
	int i;

	(void)state;
	want = calloc(1, sizeof(*want));
	assert_non_null(want);
	for (i = 0; i < 5000; i++) {
		struct log_entry e = {0}, d;
		bool odd = rnd_below(4) == 0;
		size_t max_str = odd ? sizeof(source) : 20;
		LogEntry *m;
		size_t n, k;

		e.source_len = rnd_below(3) == 0 ? 6 : rnd_below(max_str);
		rnd_text(source, e.source_len, odd);
		e.source = e.source_len > 0 || rnd_below(2) ? source : NULL;
		e.time_nano = rnd_time();
		e.line_len = rnd_below(4) == 0 ? 0 : rnd_below(sizeof(line));
		for (k = 0; k < e.line_len; k++)
			line[k] = (uint8_t)rnd();
		e.line = e.line_len > 0 || rnd_below(2) ? line : NULL;
		e.partial = rnd_below(2) == 0;
		if (rnd_below(2) == 0) {
			e.partial_last = rnd_below(2) == 0;
			e.partial_id_len =
				rnd_below(3) == 0 ? 64 : rnd_below(max_str);
			rnd_text(id, e.partial_id_len, odd);
			e.partial_id = id;
			e.partial_ordinal = rnd_ordinal();
		}

		n = logentry_frame_size(&e);
		assert_true(n >= 4 && n <= sizeof(out));
		memset(out, 0xee, sizeof(out));
		assert_int_equal(logentry_encode_frame(out, &e), n);
		assert_int_equal(out[n], 0xee);
		assert_int_equal((size_t)out[0] << 24 | (size_t)out[1] << 16 |
					 (size_t)out[2] << 8 | out[3],
				 n - 4);
		canonical(want, &e);
		assert_int_equal(want->n, n - 4);
		assert_memory_equal(want->b, out + 4, n - 4);

		assert_int_equal(decode_exact(out + 4, n - 4, &d), 0);
		assert_entry_equal(&d, &e);

		m = log_entry__unpack(NULL, n - 4, out + 4);
		assert_non_null(m);
		/* protobuf-c's strings end at a NUL; compare the bytes. */
		if (e.source_len > 0)
			assert_memory_equal(m->source, e.source, e.source_len);
		else
			assert_string_equal(m->source, "");
		assert_true(m->time_nano == e.time_nano);
		assert_int_equal(m->line.len, e.line_len);
		if (e.line_len > 0)
			assert_memory_equal(m->line.data, e.line, e.line_len);
		assert_int_equal(m->partial, e.partial);
		if (has_meta(&e)) {
			PartialLogEntryMetadata *pm = m->partial_log_metadata;

			assert_non_null(pm);
			assert_int_equal(pm->last, e.partial_last);
			if (e.partial_id_len > 0)
				assert_memory_equal(pm->id, e.partial_id,
						    e.partial_id_len);
			assert_int_equal(pm->ordinal, e.partial_ordinal);
		} else {
			assert_null(m->partial_log_metadata);
		}
		log_entry__free_unpacked(m, NULL);
	}
	free(want);
}

static struct mb *mb_new(void)
{
	struct mb *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	return m;
}

/* moby's field 6 (LogAttr{key=1, value=2}) and every other wire type. */
static void test_unknown_fields_skipped(void **state)
{
	struct mb *m = mb_new(), *attr = mb_new(), *meta = mb_new();
	static const uint8_t i64[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	struct log_entry d;
	LogEntry *pm;

	(void)state;
	mb_len(attr, 1, "key", 3);
	mb_len(attr, 2, "value", 5);

	mb_len(m, 6, attr->b, attr->n);
	mb_len(m, 1, "stderr", 6);
	mb_len(m, 6, attr->b, attr->n);
	mb_uint(m, 7, UINT64_MAX); /* a 10-byte varint */
	mb_uint(m, 2, 42);
	mb_tag(m, 8, 1); /* fixed64 */
	mb_raw(m, i64, 8);
	mb_tag(m, 9, 5); /* fixed32 */
	mb_raw(m, i64, 4);
	mb_len(m, 3, "text", 4);
	mb_len(m, 15, "", 0);
	mb_uint(m, (UINT64_C(1) << 29) - 1, 1); /* the largest field */
	mb_len(m, 1000, "ignored", 7);
	mb_uint(m, 4, 1);

	mb_uint(meta, 4, 7);
	mb_uint(meta, 1, 1);
	mb_len(meta, 5, "x", 1);
	mb_len(meta, 2, "abc", 3);
	mb_tag(meta, 6, 5);
	mb_raw(meta, i64, 4);
	mb_uint(meta, 3, 2);
	mb_tag(meta, 7, 1);
	mb_raw(meta, i64, 8);
	mb_len(m, 5, meta->b, meta->n);
	mb_len(m, 6, attr->b, attr->n);

	assert_int_equal(decode_exact(m->b, m->n, &d), 0);
	assert_int_equal(d.source_len, 6);
	assert_memory_equal(d.source, "stderr", 6);
	assert_true(d.time_nano == 42);
	assert_int_equal(d.line_len, 4);
	assert_memory_equal(d.line, "text", 4);
	assert_true(d.partial);
	assert_true(d.partial_last);
	assert_int_equal(d.partial_id_len, 3);
	assert_memory_equal(d.partial_id, "abc", 3);
	assert_int_equal(d.partial_ordinal, 2);

	/* protobuf-c agrees. */
	pm = log_entry__unpack(NULL, m->n, m->b);
	assert_non_null(pm);
	assert_string_equal(pm->source, "stderr");
	assert_true(pm->time_nano == 42);
	assert_int_equal(pm->line.len, 4);
	assert_non_null(pm->partial_log_metadata);
	assert_string_equal(pm->partial_log_metadata->id, "abc");
	assert_int_equal(pm->partial_log_metadata->ordinal, 2);
	log_entry__free_unpacked(pm, NULL);
	free(m);
	free(attr);
	free(meta);
}

static void test_negative_time(void **state)
{
	static const int64_t times[] = {-1, -1000000000, INT64_MIN, INT64_MAX,
					1};
	uint8_t out[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		struct log_entry e = {0}, d;
		size_t n;

		e.source = "stdout";
		e.source_len = 6;
		e.time_nano = times[i];
		n = logentry_encode_frame(out, &e);
		/* A negative int64 is always a ten-byte varint. */
		if (times[i] < 0)
			assert_int_equal(n, 4 + 8 + 1 + 10);
		assert_int_equal(decode_exact(out + 4, n - 4, &d), 0);
		assert_true(d.time_nano == times[i]);
	}
}

static void test_empty_fields(void **state)
{
	static const uint8_t explicit_empty[] = {0x0a, 0x00, 0x1a, 0x00};
	struct log_entry e = {0}, d;
	uint8_t out[32], *buf;

	(void)state;
	/* An empty message is a valid LogEntry with every default. */
	buf = dup_exact(NULL, 0);
	assert_int_equal(logentry_decode(buf, 0, &d), 0);
	assert_int_equal(d.source_len, 0);
	assert_int_equal(d.line_len, 0);
	assert_true(d.time_nano == 0);
	assert_false(d.partial);
	assert_pointers_set(&d);
	free(buf);
	assert_int_equal(logentry_decode(NULL, 0, &d), 0);
	assert_pointers_set(&d);

	/* Defaults written out explicitly mean the same. */
	assert_int_equal(decode_exact(explicit_empty, 4, &d), 0);
	assert_int_equal(d.source_len, 0);
	assert_int_equal(d.line_len, 0);
	assert_pointers_set(&d);

	/* An entry of defaults encodes as a zero-length message, NULL
	 * pointers included. */
	assert_int_equal(logentry_frame_size(&e), 4);
	assert_int_equal(logentry_encode_frame(out, &e), 4);
	assert_memory_equal(out, "\0\0\0\0", 4);

	/* An empty line with a source: field 3 is left out. */
	e.source = "stderr";
	e.source_len = 6;
	e.line = (const uint8_t *)"";
	assert_int_equal(logentry_encode_frame(out, &e), 4 + 8);
	assert_int_equal(decode_exact(out + 4, 8, &d), 0);
	assert_int_equal(d.line_len, 0);
	assert_pointers_set(&d);
}

static void test_partial_metadata(void **state)
{
	struct mb *m = mb_new(), *meta = mb_new(), *meta2 = mb_new();
	struct log_entry e = {0}, d;
	uint8_t out[256];
	size_t n;

	(void)state;
	/* A middle chunk as dockerd writes it. */
	e.source = "stdout";
	e.source_len = 6;
	e.time_nano = 5;
	e.line = (const uint8_t *)"chunk";
	e.line_len = 5;
	e.partial = true;
	e.partial_id = ID64;
	e.partial_id_len = 64;
	e.partial_ordinal = 2;
	n = logentry_encode_frame(out, &e);
	assert_int_equal(decode_exact(out + 4, n - 4, &d), 0);
	assert_entry_equal(&d, &e);
	assert_false(log_entry_ends_line(&d));
	/* The last one. */
	e.partial_last = true;
	n = logentry_encode_frame(out, &e);
	assert_int_equal(decode_exact(out + 4, n - 4, &d), 0);
	assert_entry_equal(&d, &e);
	assert_true(log_entry_ends_line(&d));

	/* partial with empty metadata still carries field 5 ("present iff
	 * partial"). */
	memset(&e, 0, sizeof(e));
	e.partial = true;
	n = logentry_encode_frame(out, &e);
	assert_int_equal(n, 4 + 2 + 2);
	assert_memory_equal(out + 4, "\x20\x01\x2a\x00", 4);

	/* Two occurrences of field 5 merge field by field. */
	mb_uint(meta, 1, 1);
	mb_len(meta, 2, "first", 5);
	mb_uint(meta, 3, 1);
	mb_uint(meta2, 3, 9);
	mb_len(m, 5, meta->b, meta->n);
	mb_len(m, 5, meta2->b, meta2->n);
	assert_int_equal(decode_exact(m->b, m->n, &d), 0);
	assert_true(d.partial_last);
	assert_int_equal(d.partial_id_len, 5);
	assert_memory_equal(d.partial_id, "first", 5);
	assert_int_equal(d.partial_ordinal, 9);

	/* Repeated scalars: the last one wins. */
	m->n = 0;
	mb_len(m, 1, "stdout", 6);
	mb_uint(m, 2, 1);
	mb_uint(m, 4, 1);
	mb_len(m, 3, "a", 1);
	mb_len(m, 1, "stderr", 6);
	mb_uint(m, 2, 2);
	mb_uint(m, 4, 0);
	mb_len(m, 3, "bb", 2);
	assert_int_equal(decode_exact(m->b, m->n, &d), 0);
	assert_memory_equal(d.source, "stderr", 6);
	assert_true(d.time_nano == 2);
	assert_false(d.partial);
	assert_int_equal(d.line_len, 2);
	free(m);
	free(meta);
	free(meta2);
}

/*
 * Cut a message at every byte: it decodes exactly when the cut falls
 * between two fields, and every cut is a valid prefix of the whole.
 */
static void test_truncation_every_byte(void **state)
{
	struct mb *m = mb_new(), *meta = mb_new();
	size_t cut, b = 0;

	(void)state;
	mb_len(m, 1, "stdout", 6);
	mb_uint(m, 2, (uint64_t)INT64_C(-5));
	mb_len(m, 3, "some text", 9);
	mb_uint(m, 4, 1);
	mb_uint(meta, 1, 1);
	mb_len(meta, 2, ID64, 64);
	mb_uint(meta, 3, 3);
	mb_len(m, 5, meta->b, meta->n);
	mb_tag(m, 9, 5);
	mb_raw(m, "abcd", 4);
	mb_mark(m);
	mb_tag(m, 8, 1);
	mb_raw(m, "abcdefgh", 8);
	mb_mark(m);

	for (cut = 0; cut < m->n; cut++) {
		struct log_entry d;
		bool boundary =
			cut == 0 || (b < m->nbounds && m->bounds[b] == cut);
		int rc = decode_exact(m->b, cut, &d);

		if (b < m->nbounds && m->bounds[b] == cut)
			b++;
		assert_int_equal(rc, boundary ? 0 : -EBADMSG);
		assert_int_equal(logentry_check_prefix(m->b, cut, m->n), 0);
		assert_int_equal(logentry_check_prefix(m->b, cut, cut),
				 boundary ? 0 : -EBADMSG);
	}
	assert_int_equal(b, m->nbounds - 1);
	free(m);
	free(meta);
}

struct bad_case {
	const char *name;
	const uint8_t *bytes;
	size_t len;
};

#define BAD(name, ...)                                                         \
	{                                                                      \
		name, (const uint8_t[]){__VA_ARGS__},                          \
			sizeof((const uint8_t[]){__VA_ARGS__})                 \
	}

static const struct bad_case bad_cases[] = {
	BAD("11-byte varint value", 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0x01),
	BAD("11-byte tag", 0x88, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	    0x80, 0x00, 0x01),
	BAD("11-byte length", 0x1a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	    0x80, 0x80, 0x80, 0x00),
	BAD("11-byte unknown varint", 0x38, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	    0x80, 0x80, 0x80, 0x80, 0x00),
	/* Each of these would parse if the field were read with the wire type
	 * it declares, or skipped as unknown. */
	BAD("source as varint", 0x08, 0x01),
	BAD("source as fixed32", 0x0d, 1, 2, 3, 4),
	BAD("time as length", 0x12, 0x02, 0x38, 0x01),
	BAD("time as fixed64", 0x11, 0x81, 0x01, 0x38, 0x01, 0x38, 0x01, 0x38,
	    0x01),
	BAD("line as varint", 0x18, 0x02, 0x38, 0x01),
	BAD("partial as length", 0x22, 0x02, 0x38, 0x01),
	BAD("partial as fixed32", 0x25, 0x81, 0x01, 0x38, 0x01),
	BAD("metadata as varint", 0x28, 0x02, 0x38, 0x01),
	BAD("last as length", 0x2a, 0x04, 0x0a, 0x02, 0x38, 0x01),
	BAD("id as varint", 0x2a, 0x04, 0x10, 0x02, 0x38, 0x01),
	BAD("ordinal as fixed32", 0x2a, 0x05, 0x1d, 0x81, 0x01, 0x38, 0x01),
	BAD("field 0 varint", 0x00, 0x01),
	BAD("field 0 length", 0x02, 0x00),
	BAD("field 0 after a good field", 0x0a, 0x01, 'x', 0x05, 1, 2, 3, 4),
	BAD("field 0 in metadata", 0x2a, 0x02, 0x00, 0x00),
	BAD("field 2^29", 0x80, 0x80, 0x80, 0x80, 0x10, 0x01),
	BAD("start group", 0x33, 0x34),
	BAD("end group", 0x34),
	BAD("wire type 6", 0x36, 0x00),
	BAD("wire type 7", 0x37, 0x00),
	BAD("group in metadata", 0x2a, 0x02, 0x33, 0x34),
	BAD("source longer than the message", 0x0a, 0x0a, 's', 't', 'd'),
	BAD("line length 2^63", 0x1a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	    0x80, 0x80, 0x01, 'x'),
	BAD("unknown length past the end", 0x3a, 0x05, 'a'),
	BAD("fixed64 cut", 0x39, 1, 2, 3),
	BAD("fixed32 cut", 0x3d, 1, 2, 3),
	BAD("varint cut", 0x10, 0x80),
	BAD("tag cut", 0x8a),
	BAD("length cut", 0x1a, 0x80),
	BAD("metadata longer than the message", 0x2a, 0x05, 0x08, 0x01),
	BAD("field longer than its metadata", 0x2a, 0x02, 0x12, 0x05, 'a', 'b',
	    'c', 'd', 'e'),
	BAD("varint cut by its metadata", 0x2a, 0x02, 0x18, 0x80, 0x01),
};

static void test_malformed_rejected(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct log_entry d;

		if (decode_exact(c->bytes, c->len, &d) != -EBADMSG)
			fail_msg("decoded: %s", c->name);
		if (logentry_check_prefix(c->bytes, c->len, c->len) != -EBADMSG)
			fail_msg("valid prefix: %s", c->name);
	}
}

/* Varints at their longest are still fine. */
static void test_long_varints_accepted(void **state)
{
	static const uint8_t ten[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff,
				      0xff, 0xff, 0xff, 0xff, 0x01};
	/* A length of 1 written in ten bytes, then a 6-byte tag. */
	static const uint8_t padded[] = {
		0x1a, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
		0x00, 'x',  0x8a, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01, 'y'};
	struct log_entry d;

	(void)state;
	assert_int_equal(decode_exact(ten, sizeof(ten), &d), 0);
	assert_true(d.time_nano == -1);
	assert_int_equal(decode_exact(padded, sizeof(padded), &d), 0);
	assert_int_equal(d.line_len, 1);
	assert_int_equal(d.line[0], 'x');
	assert_int_equal(d.source_len, 1);
	assert_int_equal(d.source[0], 'y');
}

/*
 * Varints of every length, 1 to 11 bytes, with random payload bits (and so
 * non-minimal forms and tenth bytes above 1), against a byte-by-byte
 * reference; placed where the decoder reads them eight bytes at a time and
 * where it must go byte by byte, in dockerd's field order and out of it.
 */
static void test_varints_every_length(void **state)
{
	int round, k, i, layout;

	(void)state;
	for (round = 0; round < 2000; round++) {
		for (k = 1; k <= 11; k++) {
			uint8_t v[11];
			uint64_t want = 0;
			struct mb m;
			struct log_entry d;
			int rc;

			for (i = 0; i < k; i++) {
				v[i] = (uint8_t)rnd();
				v[i] = (uint8_t)(i + 1 < k ? v[i] | 0x80
							   : v[i] & 0x7f);
				if (i < 10)
					want |= (uint64_t)(v[i] & 0x7f)
						<< (7 * i);
			}
			layout = round % 3;
			m.n = 0;
			m.nbounds = 0;
			if (layout == 2)
				mb_len(&m, 3, "ab", 2);
			mb_tag(&m, 2, 0);
			mb_raw(&m, v, (size_t)k);
			if (layout == 1)
				mb_len(&m, 3, "ab", 2);
			rc = decode_exact(m.b, m.n, &d);
			assert_int_equal(logentry_check_prefix(held, m.n, m.n),
					 rc);
			if (k > 10) {
				assert_int_equal(rc, -EBADMSG);
				continue;
			}
			assert_int_equal(rc, 0);
			assert_true((uint64_t)d.time_nano == want);
			assert_int_equal(d.line_len, layout != 0 ? 2 : 0);
		}
	}
}

static void test_check_prefix(void **state)
{
	static const uint8_t start[] = {0x0a, 0x06, 's', 't'};
	static const uint8_t meta[] = {0x2a, 0x05, 0x08};
	static const uint8_t bad_meta[] = {0x2a, 0x05, 0x00};

	(void)state;
	assert_int_equal(logentry_check_prefix(start, 4, 8), 0);
	assert_int_equal(logentry_check_prefix(start, 0, 8), 0);
	/* The source would run past a 7-byte message. */
	assert_int_equal(logentry_check_prefix(start, 4, 7), -EBADMSG);
	assert_int_equal(logentry_check_prefix(start, 4, 3), -EBADMSG);
	assert_int_equal(logentry_check_prefix(meta, 3, 7), 0);
	assert_int_equal(logentry_check_prefix(bad_meta, 3, 7), -EBADMSG);
	/* Field 0 is wrong however the message goes on. */
	assert_int_equal(logentry_check_prefix((const uint8_t *)"\0", 1, 100),
			 -EBADMSG);
}

/*
 * Random damage to valid messages: both decoders may reject, but when both
 * accept they agree (protobuf-c is laxer on a few wire types and stricter on
 * padded varints, so acceptance itself is not compared), and the decoder
 * and the prefix check always agree.
 */
static void test_mutations_agree(void **state)
{
	static uint8_t packed[512];
	int i, both = 0;

	(void)state;
	for (i = 0; i < 30000; i++) {
		LogEntry m = LOG_ENTRY__INIT;
		PartialLogEntryMetadata meta = PARTIAL_LOG_ENTRY_METADATA__INIT;
		static char source[16], id[70];
		static uint8_t line[64];
		struct log_entry d;
		LogEntry *pm;
		size_t n, k, flips;
		uint8_t *buf;
		int rc, rc2;

		rnd_text(source, sizeof(source) - 1, false);
		source[rnd_below(sizeof(source))] = '\0';
		m.source = source;
		m.time_nano = rnd_time();
		m.line.len = rnd_below(sizeof(line));
		for (k = 0; k < m.line.len; k++)
			line[k] = (uint8_t)rnd();
		m.line.data = line;
		m.partial = rnd_below(2) == 0;
		if (rnd_below(2) == 0) {
			rnd_text(id, sizeof(id) - 1, false);
			id[rnd_below(sizeof(id))] = '\0';
			meta.id = id;
			meta.ordinal = rnd_ordinal();
			meta.last = rnd_below(2) == 0;
			m.partial_log_metadata = &meta;
		}
		n = log_entry__pack(&m, packed);
		flips = rnd_below(4) + 1;
		for (k = 0; k < flips && n > 0; k++)
			packed[rnd_below(n)] = (uint8_t)rnd();
		if (rnd_below(4) == 0 && n > 0)
			n = rnd_below(n);
		buf = dup_exact(packed, n);
		rc = logentry_decode(buf, n, &d);
		assert_true(rc == 0 || rc == -EBADMSG);
		assert_int_equal(logentry_check_prefix(buf, n, n), rc);
		pm = log_entry__unpack(NULL, n, buf);
		if (rc == 0 && pm != NULL) {
			both++;
			rc2 = memcmp(pm->source, d.source, d.source_len);
			if (memchr(d.source, '\0', d.source_len) == NULL) {
				assert_int_equal(strlen(pm->source),
						 d.source_len);
				assert_int_equal(rc2, 0);
			}
			assert_true(pm->time_nano == d.time_nano);
			assert_int_equal(pm->line.len, d.line_len);
			if (d.line_len > 0)
				assert_memory_equal(pm->line.data, d.line,
						    d.line_len);
			assert_int_equal(pm->partial, d.partial);
		}
		if (pm != NULL)
			log_entry__free_unpacked(pm, NULL);
		free(buf);
	}
	/* The test means something only if many survived. */
	assert_true(both > 3000);
}

/*
 * logentry_measure(): for entries as dockerd writes them it gives the line
 * length without decoding; whatever it accepts, logentry_decode() reads as
 * a whole line of that length (on packed entries, whole and cut, and on
 * mutated ones); partial entries and metadata it leaves to the decoder.
 */
static void test_measure(void **state)
{
	static uint8_t packed[20000], line[17000];
	int i, measured = 0;

	(void)state;
	memset(line, 'm', sizeof(line));
	for (i = 0; i < 30000; i++) {
		LogEntry m = LOG_ENTRY__INIT;
		PartialLogEntryMetadata meta = PARTIAL_LOG_ENTRY_METADATA__INIT;
		static const size_t lens[] = {1,   2,	  100,	 127,  128,
					      129, 16383, 16384, 16385};
		struct log_entry d;
		size_t n, got = 0, k, whole;
		bool mutated;
		uint8_t *buf;
		int rc;

		static char out[] = "stdout", err[] = "stderr", id[] = "abc";

		m.source = rnd_below(2) ? out : err;
		m.time_nano = rnd_time();
		m.line.len = rnd_below(2) ? lens[rnd_below(9)] : rnd_below(300);
		m.line.data = line;
		m.partial = rnd_below(8) == 0;
		if (rnd_below(8) == 0) {
			meta.id = id;
			meta.ordinal = 1;
			m.partial_log_metadata = &meta;
		}
		n = log_entry__pack(&m, packed);
		whole = n;
		mutated = rnd_below(4) == 0;
		if (mutated) {
			for (k = rnd_below(3) + 1; k > 0 && n > 0; k--)
				packed[rnd_below(n)] = (uint8_t)rnd();
		}
		if (rnd_below(8) == 0 && n > 0)
			n = rnd_below(n);
		buf = dup_exact(packed, n);
		rc = logentry_decode(buf, n, &d);
		if (logentry_measure(buf, n, &got) == 0) {
			measured++;
			assert_int_equal(rc, 0);
			assert_int_equal(got, d.line_len);
			assert_false(d.partial);
			assert_int_equal(d.partial_id_len, 0);
		} else if (rc == 0 && !m.partial &&
			   m.partial_log_metadata == NULL && m.line.len >= 8 &&
			   m.line.len < 16384 && !mutated && n == whole &&
			   d.time_nano != 0) {
			/* Untouched, as dockerd writes it: must be measured
			 * (a time of 0 is left out of the message; the
			 * usual case wants ten bytes after the time's tag,
			 * which a line of 8 bytes or more gives, and a
			 * length of at most two bytes, below 16 KiB). */
			fail_msg("whole line of %zu not measured", d.line_len);
		}
		free(buf);
	}
	assert_true(measured > 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worked_example),
		cmocka_unit_test(test_decode_matches_protobuf_c),
		cmocka_unit_test(test_encode_matches_protobuf_c),
		cmocka_unit_test(test_unknown_fields_skipped),
		cmocka_unit_test(test_negative_time),
		cmocka_unit_test(test_empty_fields),
		cmocka_unit_test(test_partial_metadata),
		cmocka_unit_test(test_truncation_every_byte),
		cmocka_unit_test(test_malformed_rejected),
		cmocka_unit_test(test_long_varints_accepted),
		cmocka_unit_test(test_varints_every_length),
		cmocka_unit_test(test_check_prefix),
		cmocka_unit_test(test_mutations_agree),
		cmocka_unit_test(test_measure),
	};

	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	release_held();
	return rc;
}
