/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for store/jsonline.c.  Each input is used twice: as a
 * json-file line for jsonline_decode(), whose result, when it accepts, must
 * lie inside the scratch buffer and survive an encode/decode round trip; and
 * as a log entry (a flags byte, eight bytes of time, then the text) for
 * jsonline_encode(), whose line must stay within the bound, be one line of
 * valid UTF-8 and decode back to the text with invalid UTF-8 as U+FFFD.
 * Depends on store/jsonline.c and libc only.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/jsonline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

/*
 * Go's utf8.DecodeRune(), written from its definition rather than taken
 * from jsonline.c: the width of the valid sequence at 's', 0 for an invalid
 * byte.
 */
static size_t rune_len(const uint8_t *s, size_t n)
{
	uint32_t v, min;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		v = s[0] & 0x1fu;
		min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		v = s[0] & 0x0fu;
		min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		v = s[0] & 0x07u;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3fu);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	return len;
}

/* 's' with each invalid byte replaced by U+FFFD into 'out' (3 * n bytes). */
static size_t sanitize(uint8_t *out, const uint8_t *s, size_t n)
{
	size_t i = 0, o = 0, w;

	while (i < n) {
		w = rune_len(s + i, n - i);
		if (w == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(out + o, s + i, w);
			o += w;
			i += w;
		}
	}
	return o;
}

static bool inside(const char *p, size_t n, const char *buf, size_t cap)
{
	return n == 0 ||
	       (p >= buf && n <= cap && p - buf <= (ptrdiff_t)(cap - n));
}

/*
 * Encode 'e', check the line's shape, decode it and compare with what the
 * text means: 'want_log' and 'want_stream' as Go would read them back.
 */
static void round_trip(const struct log_entry *e)
{
	size_t bound = jsonline_encode_bound(e, 0);
	uint8_t *want_log, *want_stream;
	size_t n, i, w, want_n, want_sn;
	struct jsonline_record rec;
	char *line, *scratch;

	line = malloc(bound);
	scratch = malloc(bound);
	want_log = malloc(3 * e->line_len + 1);
	want_stream = malloc(3 * e->source_len + 1);
	CHECK(line != NULL && scratch != NULL && want_log != NULL &&
	      want_stream != NULL);
	n = jsonline_encode(line, e, NULL, 0);
	CHECK(n <= bound && n > 2 && line[0] == '{' && line[n - 1] == '\n');
	/* One line of valid UTF-8 with no raw control bytes. */
	for (i = 0; i < n - 1; i += w) {
		CHECK((uint8_t)line[i] >= 0x20);
		w = rune_len((const uint8_t *)line + i, n - 1 - i);
		CHECK(w != 0);
	}

	want_n = sanitize(want_log, e->line, e->line_len);
	if (log_entry_ends_line(e))
		want_log[want_n++] = '\n';
	want_sn = sanitize(want_stream, (const uint8_t *)e->source,
			   e->source_len);
	CHECK(jsonline_decode(line, n, scratch, n, &rec) == 0);
	CHECK(rec.log_len == want_n && memcmp(rec.log, want_log, want_n) == 0);
	CHECK(rec.stream_len == want_sn &&
	      memcmp(rec.stream, want_stream, want_sn) == 0);
	CHECK(rec.time_nano == e->time_nano);
	free(want_stream);
	free(want_log);
	free(scratch);
	free(line);
}

static void check_decode(const uint8_t *data, size_t size)
{
	char *scratch = malloc(size > 0 ? size : 1);
	char text[JSONLINE_TIME_MAX];
	struct jsonline_record rec;
	struct log_entry e;
	int64_t t;
	size_t n;
	int rc;

	CHECK(scratch != NULL);
	rc = jsonline_decode((const char *)data, size, scratch, size, &rec);
	CHECK(rc == 0 || rc == -EINVAL);
	if (size > 0)
		CHECK(jsonline_decode((const char *)data, size, scratch,
				      size - 1, &rec) == -ENOBUFS);
	if (rc == 0) {
		CHECK(inside(rec.log, rec.log_len, scratch, size));
		CHECK(inside(rec.stream, rec.stream_len, scratch, size));
		CHECK(rec.log_len + rec.stream_len <= size);
		n = jsonline_format_time(text, rec.time_nano);
		CHECK(n <= JSONLINE_TIME_MAX);
		CHECK(jsonline_parse_time(text, n, &t) == 0 &&
		      t == rec.time_nano);

		/* What was read writes and reads back as the same entry. */
		memset(&e, 0, sizeof(e));
		e.line = (const uint8_t *)rec.log;
		e.line_len = rec.log_len;
		if (e.line_len > 0 && rec.log[e.line_len - 1] == '\n')
			e.line_len--;
		else
			e.partial = true;
		e.source = rec.stream;
		e.source_len = rec.stream_len;
		e.time_nano = rec.time_nano;
		round_trip(&e);
	}
	free(scratch);
}

static void check_encode(const uint8_t *data, size_t size)
{
	static const char *const streams[] = {"stdout", "stderr", ""};
	struct log_entry e;
	uint64_t t = 0;
	size_t i, split;

	if (size < 9)
		return;
	memset(&e, 0, sizeof(e));
	e.partial = data[0] & 1;
	e.partial_last = data[0] & 2;
	for (i = 1; i < 9; i++)
		t = t << 8 | data[i];
	e.time_nano = (int64_t)t;
	e.line = data + 9;
	e.line_len = size - 9;
	if ((data[0] >> 2 & 3) == 3) {
		/* The stream from the input too: its first 'split' bytes. */
		split = e.line_len < 16 ? e.line_len : (data[0] >> 4);
		e.source = (const char *)e.line;
		e.source_len = split;
		e.line += split;
		e.line_len -= split;
	} else {
		e.source = streams[data[0] >> 2 & 3];
		e.source_len = strlen(e.source);
	}
	round_trip(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_decode(data, size);
	check_encode(data, size);
	return 0;
}
