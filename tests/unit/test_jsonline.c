/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The json-file codec against lines written out literally as dockerd's
 * json-file driver (moby jsonlog.MarshalJSONBuf, Go's utf8.DecodeRune and
 * time.Format(RFC3339Nano)) produces them, against a slow reference encoder
 * transcribed from those Go rules over exhaustive short inputs and random
 * ones, and against jansson as a second JSON reader.
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
#include <strings.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "store/entry.h"
#include "store/jsonline.h"

/* 2024-05-01T12:00:00Z */
#define T0     INT64_C(1714564800000000000)
#define NS     INT64_C(1000000000)
#define EPOCH0 "\"time\":\"1970-01-01T00:00:00Z\"}\n"

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static size_t rnd_below(size_t n)
{
	return (size_t)(rnd() % n);
}

/*
 * Reference model, written from Go's definitions rather than from
 * jsonline.c: utf8.DecodeRune() decodes the code point and rejects short,
 * overlong, surrogate and out-of-range forms, each with width 1.
 */
static size_t ref_rune(const uint8_t *s, size_t n, uint32_t *cp)
{
	uint32_t v, min;
	size_t len, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
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
	*cp = v;
	return len;
}

/* moby's ffjsonWriteJSONBytesAsString(), without the quotes, one byte at a
 * time.  'out' holds 6 * n bytes.  Returns the length. */
static size_t ref_escape(char *out, const uint8_t *s, size_t n)
{
	size_t i = 0, o = 0, w;
	uint32_t cp;
	uint8_t c;

	while (i < n) {
		c = s[i];
		if (c < 0x80) {
			if (c == '"' || c == '\\') {
				out[o++] = '\\';
				out[o++] = (char)c;
			} else if (c == '\n') {
				out[o++] = '\\';
				out[o++] = 'n';
			} else if (c == '\r') {
				out[o++] = '\\';
				out[o++] = 'r';
			} else if (c < 0x20 || c == '<' || c == '>' ||
				   c == '&') {
				o += (size_t)sprintf(out + o, "\\u%04x", c);
			} else {
				out[o++] = (char)c;
			}
			i++;
			continue;
		}
		w = ref_rune(s + i, n - i, &cp);
		if (w == 0) {
			memcpy(out + o, "\\ufffd", 6);
			o += 6;
			i++;
		} else if (cp == 0x2028 || cp == 0x2029) {
			o += (size_t)sprintf(out + o, "\\u%04x", cp);
			i += w;
		} else {
			memcpy(out + o, s + i, w);
			o += w;
			i += w;
		}
	}
	return o;
}

/* What Go reads back from the escaped text: invalid bytes became U+FFFD.
 * 'out' holds 3 * n bytes.  Returns the length. */
static size_t ref_sanitize(uint8_t *out, const uint8_t *s, size_t n)
{
	size_t i = 0, o = 0, w;
	uint32_t cp;

	while (i < n) {
		w = ref_rune(s + i, n - i, &cp);
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

static bool is_valid_utf8(const uint8_t *s, size_t n)
{
	size_t i = 0, w;
	uint32_t cp;

	while (i < n) {
		w = ref_rune(s + i, n - i, &cp);
		if (w == 0)
			return false;
		i += w;
	}
	return true;
}

/* Encode into an exactly sized heap buffer (so ASan sees any overrun) and
 * NUL-terminate a copy for string comparisons. */
static char *encode(const struct log_entry *e, const char *attrs,
		    size_t attrs_len, size_t *len)
{
	size_t bound = jsonline_encode_bound(e, attrs_len);
	char *buf = test_malloc(bound);
	char *s;
	size_t n;

	n = jsonline_encode(buf, e, attrs, attrs_len);
	assert_true(n <= bound);
	s = test_malloc(n + 1);
	memcpy(s, buf, n);
	s[n] = '\0';
	test_free(buf);
	if (len != NULL)
		*len = n;
	return s;
}

static struct log_entry entry(const void *line, size_t n, const char *stream,
			      int64_t t)
{
	struct log_entry e = {0};

	e.source = stream;
	e.source_len = stream != NULL ? strlen(stream) : 0;
	e.time_nano = t;
	e.line = line;
	e.line_len = n;
	return e;
}

/* ---- escaping ---------------------------------------------------------- */

struct esc_case {
	const char *in;
	size_t in_len;
	const char *out; /* the JSON text between the quotes, before \n */
};

#define ESC(i, o)                                                              \
	{                                                                      \
		i, sizeof(i) - 1, o                                            \
	}
#define FFFD "\\ufffd"

static const struct esc_case esc_cases[] = {
	ESC("", ""),
	ESC("plain text 123", "plain text 123"),
	ESC("a\"b", "a\\\"b"),
	ESC("a\\b", "a\\\\b"),
	ESC("\"A log line with \\\"", "\\\"A log line with \\\\\\\""),
	ESC("\n", "\\n"),
	ESC("\r", "\\r"),
	ESC("A log line with \r", "A log line with \\r"),
	ESC("\r\n", "\\r\\n"),
	ESC("\t", "\\u0009"),
	ESC("\x00", "\\u0000"),
	ESC("\x01", "\\u0001"),
	ESC("\x07", "\\u0007"),
	ESC("\x08", "\\u0008"),
	ESC("\x0b", "\\u000b"),
	ESC("\x0c", "\\u000c"),
	ESC("\x1b[31mred\x1b[0m", "\\u001b[31mred\\u001b[0m"),
	ESC("\x1f", "\\u001f"),
	ESC(" ", " "),
	ESC("\x7f", "\x7f"),
	ESC("/'`~", "/'`~"),
	ESC("<>&", "\\u003c\\u003e\\u0026"),
	ESC("A log line with & < >", "A log line with \\u0026 \\u003c \\u003e"),
	/* Valid UTF-8 stays raw, U+FFFD itself included. */
	ESC("\xc3\xa9", "\xc3\xa9"),
	ESC("\xe2\x82\xac", "\xe2\x82\xac"),
	ESC("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"),
	ESC("A log line with utf8 : \xf0\x9f\x9a\x80 \xcf\x88 \xcf\x89 "
	    "\xce\xb2",
	    "A log line with utf8 : \xf0\x9f\x9a\x80 \xcf\x88 \xcf\x89 "
	    "\xce\xb2"),
	ESC("\xef\xbf\xbd", "\xef\xbf\xbd"),
	ESC("\xc2\x80", "\xc2\x80"),
	ESC("\xdf\xbf", "\xdf\xbf"),
	ESC("\xe0\xa0\x80", "\xe0\xa0\x80"),
	ESC("\xed\x9f\xbf", "\xed\x9f\xbf"),
	ESC("\xee\x80\x80", "\xee\x80\x80"),
	ESC("\xf0\x90\x80\x80", "\xf0\x90\x80\x80"),
	ESC("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"),
	/* Lone continuation bytes. */
	ESC("\x80", FFFD),
	ESC("\xaf", FFFD),
	ESC("\xbf", FFFD),
	ESC("a\x80"
	    "b",
	    "a" FFFD "b"),
	/* Truncated sequences: every byte on its own. */
	ESC("\xc3", FFFD),
	ESC("\xc3(", FFFD "("),
	ESC("\xe2\x82", FFFD FFFD),
	ESC("\xe2\x82(", FFFD FFFD "("),
	ESC("\xe2(\xac", FFFD "(" FFFD),
	ESC("\xf0\x9f\x98", FFFD FFFD FFFD),
	ESC("\xf0\x9f\x98(", FFFD FFFD FFFD "("),
	ESC("\xe2\xe2\x82\xac", FFFD "\xe2\x82\xac"),
	/* Overlong forms. */
	ESC("\xc0\x80", FFFD FFFD),
	ESC("\xc1\xbf", FFFD FFFD),
	ESC("\xe0\x80\x80", FFFD FFFD FFFD),
	ESC("\xe0\x9f\xbf", FFFD FFFD FFFD),
	ESC("\xf0\x80\x80\x80", FFFD FFFD FFFD FFFD),
	ESC("\xf0\x8f\xbf\xbf", FFFD FFFD FFFD FFFD),
	/* Surrogates, alone and as a CESU-8 pair. */
	ESC("\xed\xa0\x80", FFFD FFFD FFFD),
	ESC("\xed\xbf\xbf", FFFD FFFD FFFD),
	ESC("\xed\xa0\xbd\xed\xb8\x80", FFFD FFFD FFFD FFFD FFFD FFFD),
	/* Beyond U+10FFFF and bytes that never start anything. */
	ESC("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD),
	ESC("\xf5\x80\x80\x80", FFFD FFFD FFFD FFFD),
	ESC("\xf8\x88\x80\x80\x80", FFFD FFFD FFFD FFFD FFFD),
	ESC("\xfe\xff", FFFD FFFD),
	/* JavaScript line terminators, and their neighbours that are not. */
	ESC("\xe2\x80\xa8", "\\u2028"),
	ESC("\xe2\x80\xa9", "\\u2029"),
	ESC("\xe2\x80\xa8 \xe2\x80\xa9", "\\u2028 \\u2029"),
	ESC("\xe2\x80\xa7\xe2\x80\xaa", "\xe2\x80\xa7\xe2\x80\xaa"),
	ESC("\xe2\x80", FFFD FFFD),
	/* Everything at once, in a run long enough for the word loop. */
	ESC("caf\xc3\xa9 \"q\" \\ <tag> &amp; \t\xff end of a long line",
	    "caf\xc3\xa9 \\\"q\\\" \\\\ \\u003ctag\\u003e \\u0026amp; "
	    "\\u0009" FFFD " end of a long line"),
};

static void test_escape_table(void **state)
{
	char want[512];
	size_t i, n;
	char *got;
	struct log_entry e;

	(void)state;
	for (i = 0; i < sizeof(esc_cases) / sizeof(esc_cases[0]); i++) {
		e = entry(esc_cases[i].in, esc_cases[i].in_len, NULL, 0);
		snprintf(want, sizeof(want), "{\"log\":\"%s\\n\"," EPOCH0,
			 esc_cases[i].out);
		got = encode(&e, NULL, 0, &n);
		if (strcmp(got, want) != 0)
			fail_msg("case %zu:\n got  %s want %s", i, got, want);
		assert_int_equal(n, strlen(want));
		test_free(got);
	}
}

/* Every byte below 0x20 (and DEL, which is not escaped) on its own. */
static void test_escape_control_bytes(void **state)
{
	static const char *const want[32] = {
		"\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004",
		"\\u0005", "\\u0006", "\\u0007", "\\u0008", "\\u0009",
		"\\n",	   "\\u000b", "\\u000c", "\\r",	    "\\u000e",
		"\\u000f", "\\u0010", "\\u0011", "\\u0012", "\\u0013",
		"\\u0014", "\\u0015", "\\u0016", "\\u0017", "\\u0018",
		"\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d",
		"\\u001e", "\\u001f",
	};
	char line[64];
	uint8_t b;
	char *got;
	struct log_entry e;

	(void)state;
	for (b = 0; b < 32; b++) {
		e = entry(&b, 1, NULL, 0);
		e.partial = true; /* no newline of our own */
		snprintf(line, sizeof(line), "{\"log\":\"%s\"," EPOCH0,
			 want[b]);
		got = encode(&e, NULL, 0, NULL);
		assert_string_equal(got, line);
		test_free(got);
	}
}

/* Compare the encoder with ref_escape() on 'n' bytes, on their own and
 * inside runs of plain text that put them at every word offset. */
static void check_against_ref(const uint8_t *s, size_t n)
{
	uint8_t in[64];
	char want[512];
	size_t pre, wn, got_len;
	char *got;
	struct log_entry e;

	for (pre = 0; pre < 9; pre += 4) {
		memset(in, 'a', sizeof(in));
		memcpy(in + pre, s, n);
		e = entry(in, pre + n + (pre == 0 ? 0 : 11), NULL, 0);
		e.partial = true;
		memcpy(want, "{\"log\":\"", 8);
		wn = 8 + ref_escape(want + 8, in, e.line_len);
		memcpy(want + wn, "\"," EPOCH0, sizeof("\"," EPOCH0));
		got = encode(&e, NULL, 0, &got_len);
		if (e.line_len == 0)
			assert_string_equal(got, "{" EPOCH0);
		else if (strcmp(got, want) != 0)
			fail_msg(
				"bytes %02x %02x %02x %02x (%zu), prefix %zu:\n"
				" got  %s want %s",
				s[0], n > 1 ? s[1] : 0, n > 2 ? s[2] : 0,
				n > 3 ? s[3] : 0, n, pre, got, want);
		test_free(got);
	}
}

static void test_escape_exhaustive_short(void **state)
{
	static const uint8_t lasts[] = {0x00, 0x41, 0x7f, 0x80,
					0x8f, 0x90, 0xbf, 0xc0};
	uint8_t s[4];
	unsigned a, b, c, d;

	(void)state;
	/* Every one- and two-byte string. */
	for (a = 0; a < 256; a++) {
		s[0] = (uint8_t)a;
		check_against_ref(s, 1);
		for (b = 0; b < 256; b++) {
			s[1] = (uint8_t)b;
			check_against_ref(s, 2);
		}
	}
	/* Every three-byte string that starts like a 3-byte sequence. */
	for (a = 0xe0; a < 0xf0; a++) {
		for (b = 0x7f; b < 0xc1; b++) {
			for (c = 0; c < 256;
			     c += (c >= 0x70 && c < 0xc8) ? 1 : 7) {
				s[0] = (uint8_t)a;
				s[1] = (uint8_t)b;
				s[2] = (uint8_t)c;
				check_against_ref(s, 3);
			}
		}
	}
	/* Four-byte leads with every second byte around the boundaries. */
	for (a = 0xf0; a < 0x100; a++) {
		for (b = 0x7f; b < 0xc1; b++) {
			for (c = 0x7f; c < 0xc1; c += 3) {
				for (d = 0; d < sizeof(lasts); d++) {
					s[0] = (uint8_t)a;
					s[1] = (uint8_t)b;
					s[2] = (uint8_t)c;
					s[3] = lasts[d];
					check_against_ref(s, 4);
				}
			}
		}
	}
}

/* Random text with many special bytes, valid and invalid UTF-8. */
static size_t random_text(uint8_t *s, size_t max)
{
	static const char specials[] = "\"\\<>&\n\r\t\b\x01\x1f\x7f /";
	size_t n = 0, len = rnd_below(max + 1);
	uint32_t cp;
	uint8_t *p;

	while (n + 4 <= len) {
		p = s + n;
		switch (rnd_below(10)) {
		case 0:
		case 1:
		case 2:
			*p = (uint8_t)(0x20 + rnd_below(0x5f));
			n++;
			break;
		case 3:
			*p = (uint8_t)specials[rnd_below(sizeof(specials) - 1)];
			n++;
			break;
		case 4:
			*p = (uint8_t)rnd();
			n++;
			break;
		case 5:
			/* A random code point, maybe a surrogate or 2028. */
			cp = (uint32_t)rnd_below(5) == 0
				     ? 0x2028 + (uint32_t)rnd_below(2)
				     : (uint32_t)rnd_below(0x110000);
			if (cp < 0x80) {
				*p = (uint8_t)cp;
				n++;
			} else if (cp < 0x800) {
				p[0] = (uint8_t)(0xc0 | cp >> 6);
				p[1] = (uint8_t)(0x80 | (cp & 0x3f));
				n += 2;
			} else if (cp < 0x10000) {
				p[0] = (uint8_t)(0xe0 | cp >> 12);
				p[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
				p[2] = (uint8_t)(0x80 | (cp & 0x3f));
				n += 3;
			} else {
				p[0] = (uint8_t)(0xf0 | cp >> 18);
				p[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
				p[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
				p[3] = (uint8_t)(0x80 | (cp & 0x3f));
				n += 4;
			}
			break;
		case 6:
			/* The start of a sequence, cut short. */
			*p = (uint8_t)(0xc0 + rnd_below(0x40));
			n++;
			break;
		case 7:
			*p = (uint8_t)(0x80 + rnd_below(0x40));
			n++;
			break;
		default:
			memcpy(p, "plain", 4);
			n += 4;
			break;
		}
	}
	return n;
}

static void test_escape_random_against_ref(void **state)
{
	uint8_t s[300];
	char want[2048];
	size_t n, wn, i;
	char *got;
	struct log_entry e;

	(void)state;
	for (i = 0; i < 20000; i++) {
		n = random_text(s, sizeof(s));
		e = entry(s, n, NULL, 0);
		memcpy(want, "{\"log\":\"", 8);
		wn = 8 + ref_escape(want + 8, s, n);
		memcpy(want + wn, "\\n\"," EPOCH0, sizeof("\\n\"," EPOCH0));
		got = encode(&e, NULL, 0, NULL);
		assert_string_equal(got, want);
		assert_true(is_valid_utf8((const uint8_t *)got, strlen(got)));
		test_free(got);
	}
}

/* Encode 'e' and expect {"<key>":"<ref_escape() of s[0..n)>", then time 0. */
static void expect_escaped(const struct log_entry *e, const char *key,
			   const uint8_t *s, size_t n, const char *what)
{
	char want[1024];
	size_t wn;
	char *got;

	wn = (size_t)snprintf(want, sizeof(want), "{\"%s\":\"", key);
	wn += ref_escape(want + wn, s, n);
	memcpy(want + wn, "\"," EPOCH0, sizeof("\"," EPOCH0));
	got = encode(e, NULL, 0, NULL);
	if (strcmp(got, want) != 0)
		fail_msg("%s, %s:\n got  %s want %s", key, what, got, want);
	test_free(got);
}

/*
 * 'n' bytes as a line's text and as its stream name against ref_escape().
 * A line's text is copied 32 bytes at a time on CPUs with AVX2, a stream
 * name always 16 at a time, so on such a CPU the two take both paths.
 */
static void check_text_and_stream(const uint8_t *s, size_t n, const char *what)
{
	char name[256];
	struct log_entry e;

	e = entry(s, n, NULL, 0);
	e.partial = true;
	expect_escaped(&e, "log", s, n, what);

	assert_true(n < sizeof(name));
	memcpy(name, s, n);
	name[n] = '\0';
	e = entry(NULL, 0, NULL, 0);
	e.partial = true;
	e.source = name;
	e.source_len = n;
	expect_escaped(&e, "stream", s, n, what);
}

/*
 * Plain runs of 16 to 96 bytes with one or two bytes to escape near their
 * end: the encoder loads the last 16 (or 32) bytes of a run again,
 * overlapping what it has copied, and must neither miss nor misplace such
 * a byte.
 */
static void test_escape_run_tails(void **state)
{
	static const char *const specials[] = {"\"",
					       "\\",
					       "<",
					       "\x1f",
					       "\x7f",
					       "\xc3\xa9",
					       "\xe2\x80\xa8",
					       "\xff",
					       "\xe2\x80",
					       "\xf0\x9f\x98\x80"};
	const size_t ns = sizeof(specials) / sizeof(specials[0]);
	uint8_t s[128];
	char what[64];
	size_t len, pos, k, j;

	(void)state;
	for (len = 16; len <= 96; len++) {
		for (pos = 0; pos < len; pos++) {
			for (k = 0; k < ns; k++) {
				for (j = 0; j <= ns; j++) {
					size_t sl = strlen(specials[k]);

					memset(s, 'a' + (int)(len % 26), len);
					if (pos + sl > len)
						continue;
					memcpy(s + pos, specials[k], sl);
					/* j == ns: one special only. */
					if (j < ns && len >= 2 &&
					    strlen(specials[j]) == 1)
						s[len - 1] =
							(uint8_t)specials[j][0];
					snprintf(what, sizeof(what),
						 "len %zu pos %zu special "
						 "%zu/%zu",
						 len, pos, k, j);
					check_text_and_stream(s, len, what);
				}
			}
		}
	}
}

/*
 * JSON logged as text: a quote or a backslash every few bytes, now and then
 * another byte to escape.  The AVX2 encoder escapes a block whose only
 * stops are quotes and backslashes in one go, shifting the rest of the
 * block at each; every byte must land once, in order, and the encoder must
 * read nothing past the text (each text is a heap block of its own size,
 * for ASan) nor write past its bound (encode() allocates exactly that).
 */
static void test_escape_quote_dense(void **state)
{
	static const char *const others[] = {
		"<", "\n", "\x01", "\xc3\xa9", "\xe2\x80\xa8", "\xff"};
	const size_t no = sizeof(others) / sizeof(others[0]);
	char what[64];
	int round;

	(void)state;
	for (round = 0; round < 20000; round++) {
		/* Not empty: an empty text has no "log" key at all. */
		size_t len = 1 + rnd_below(200), n = 0;
		/* malloc(), not test_malloc(): ASan then sees a read past
		 * the end, where cmocka's guard bytes would hide it. */
		uint8_t *s = malloc(len + 1);

		assert_non_null(s);
		while (n < len) {
			size_t r = rnd_below(64);

			if (r < 16) {
				s[n++] = '"';
			} else if (r < 24) {
				s[n++] = '\\';
			} else if (r == 24 && round % 2 == 1) {
				/* Half the texts have other stops too. */
				const char *o = others[rnd_below(no)];
				size_t ol = strlen(o);

				if (n + ol > len)
					break;
				memcpy(s + n, o, ol);
				n += ol;
			} else {
				s[n++] = (uint8_t)('a' + rnd_below(26));
			}
		}
		if (n == 0)
			s[n++] = '"';
		snprintf(what, sizeof(what), "round %d, %zu bytes", round, n);
		/* Shrunk to what was written, so the end is the block's. */
		s = realloc(s, n);
		assert_non_null(s);
		check_text_and_stream(s, n, what);
		free(s);
	}
}

/* ---- whole lines ------------------------------------------------------- */

static void test_line_golden(void **state)
{
	static const char attrs[] = "{\"tag\":\"web\"}";
	static const char moby_attrs[] = "{\"hello\":\"world\",\"value\":1234}";
	const int64_t t = T0 + 123456789;
	struct log_entry e;
	char *got;

	(void)state;
	e = entry("hello", 5, "stdout", t);
	got = encode(&e, NULL, 0, NULL);
	assert_string_equal(got,
			    "{\"log\":\"hello\\n\",\"stream\":\"stdout\","
			    "\"time\":\"2024-05-01T12:00:00.123456789Z\"}\n");
	test_free(got);

	got = encode(&e, attrs, strlen(attrs), NULL);
	assert_string_equal(got,
			    "{\"log\":\"hello\\n\",\"stream\":\"stdout\","
			    "\"attrs\":{\"tag\":\"web\"},"
			    "\"time\":\"2024-05-01T12:00:00.123456789Z\"}\n");
	test_free(got);

	/* Attrs given but empty: left out, as Go's len(RawAttrs) > 0. */
	got = encode(&e, attrs, 0, NULL);
	assert_string_equal(got,
			    "{\"log\":\"hello\\n\",\"stream\":\"stdout\","
			    "\"time\":\"2024-05-01T12:00:00.123456789Z\"}\n");
	test_free(got);

	/* moby's own test lines. */
	e = entry("A log line", 10, NULL, T0);
	e.partial = true;
	got = encode(&e, moby_attrs, strlen(moby_attrs), NULL);
	assert_string_equal(got, "{\"log\":\"A log line\",\"attrs\":{\"hello\":"
				 "\"world\",\"value\":1234},"
				 "\"time\":\"2024-05-01T12:00:00Z\"}\n");
	test_free(got);
	e = entry(NULL, 0, NULL, INT64_C(1504227661000000001));
	e.partial = true;
	got = encode(&e, NULL, 0, NULL);
	assert_string_equal(got,
			    "{\"time\":\"2017-09-01T01:01:01.000000001Z\"}\n");
	test_free(got);
	e.source = "stdout";
	e.source_len = 6;
	got = encode(&e, NULL, 0, NULL);
	assert_string_equal(got,
			    "{\"stream\":\"stdout\","
			    "\"time\":\"2017-09-01T01:01:01.000000001Z\"}\n");
	test_free(got);

	/* An empty line is still a line: "log" is the newline. */
	e = entry("", 0, "stderr", T0);
	got = encode(&e, NULL, 0, NULL);
	assert_string_equal(got, "{\"log\":\"\\n\",\"stream\":\"stderr\","
				 "\"time\":\"2024-05-01T12:00:00Z\"}\n");
	test_free(got);

	/* No stream. */
	e = entry("x", 1, NULL, T0);
	got = encode(&e, attrs, strlen(attrs), NULL);
	assert_string_equal(got,
			    "{\"log\":\"x\\n\",\"attrs\":{\"tag\":\"web\"},"
			    "\"time\":\"2024-05-01T12:00:00Z\"}\n");
	test_free(got);

	/* Only attrs. */
	e = entry(NULL, 0, NULL, T0);
	e.partial = true;
	got = encode(&e, attrs, strlen(attrs), NULL);
	assert_string_equal(got, "{\"attrs\":{\"tag\":\"web\"},"
				 "\"time\":\"2024-05-01T12:00:00Z\"}\n");
	test_free(got);

	/* The stream is escaped like the text. */
	e = entry("a", 1, "std\"out<\x01\xff", T0);
	got = encode(&e, NULL, 0, NULL);
	assert_string_equal(got, "{\"log\":\"a\\n\",\"stream\":"
				 "\"std\\\"out\\u003c\\u0001\\ufffd\","
				 "\"time\":\"2024-05-01T12:00:00Z\"}\n");
	test_free(got);
}

static void test_line_partials(void **state)
{
	struct log_entry e;
	char *got;

	(void)state;
	/* A chunk that is not the last: no newline. */
	e = entry("abc", 3, "stdout", T0);
	e.partial = true;
	e.partial_id = "id";
	e.partial_id_len = 2;
	e.partial_ordinal = 1;
	got = encode(&e, NULL, 0, NULL);
	assert_string_equal(got, "{\"log\":\"abc\",\"stream\":\"stdout\","
				 "\"time\":\"2024-05-01T12:00:00Z\"}\n");
	test_free(got);

	/* An empty chunk that is not the last: "log" left out. */
	e.line_len = 0;
	got = encode(&e, NULL, 0, NULL);
	assert_string_equal(got, "{\"stream\":\"stdout\","
				 "\"time\":\"2024-05-01T12:00:00Z\"}\n");
	test_free(got);

	/* ... and with no stream either: only the time. */
	e.source_len = 0;
	got = encode(&e, NULL, 0, NULL);
	assert_string_equal(got, "{\"time\":\"2024-05-01T12:00:00Z\"}\n");
	test_free(got);

	/* The last chunk ends the line. */
	e = entry("xyz", 3, "stdout", T0);
	e.partial = true;
	e.partial_last = true;
	e.partial_ordinal = 2;
	got = encode(&e, NULL, 0, NULL);
	assert_string_equal(got, "{\"log\":\"xyz\\n\",\"stream\":\"stdout\","
				 "\"time\":\"2024-05-01T12:00:00Z\"}\n");
	test_free(got);

	/* An empty last chunk is the newline alone. */
	e.line_len = 0;
	got = encode(&e, NULL, 0, NULL);
	assert_string_equal(got, "{\"log\":\"\\n\",\"stream\":\"stdout\","
				 "\"time\":\"2024-05-01T12:00:00Z\"}\n");
	test_free(got);
}

static void test_encode_bound(void **state)
{
	uint8_t bad[1000];
	struct log_entry e;
	size_t n;
	char *got;

	(void)state;
	/* The worst case: every byte a 6-byte escape. */
	memset(bad, 0xff, sizeof(bad));
	e = entry(bad, sizeof(bad), "\x01\x01\x01\x01\x01\x01",
		  INT64_C(-1)); /* longest time */
	got = encode(&e, "{}", 2, &n);
	assert_int_equal(n, 1 + 7 + 6000 + 2 + 1 + 1 + 10 + 36 + 1 + 1 + 8 + 2 +
				    1 + 8 + 30 + 1 + 1 + 1);
	assert_true(n <= jsonline_encode_bound(&e, 2));
	test_free(got);

	/* Saturates instead of wrapping. */
	e.line_len = SIZE_MAX / 2;
	assert_int_equal(jsonline_encode_bound(&e, 0), SIZE_MAX);
	e.line_len = 0;
	assert_int_equal(jsonline_encode_bound(&e, SIZE_MAX - 10), SIZE_MAX);
}

/* ---- time -------------------------------------------------------------- */

struct time_case {
	int64_t ns;
	const char *text;
};

static const struct time_case time_cases[] = {
	{0, "1970-01-01T00:00:00Z"},
	{1, "1970-01-01T00:00:00.000000001Z"},
	{10, "1970-01-01T00:00:00.00000001Z"},
	{999999999, "1970-01-01T00:00:00.999999999Z"},
	{NS, "1970-01-01T00:00:01Z"},
	{T0, "2024-05-01T12:00:00Z"},
	{T0 + 100000000, "2024-05-01T12:00:00.1Z"},
	{T0 + 120000000, "2024-05-01T12:00:00.12Z"},
	{T0 + 123456000, "2024-05-01T12:00:00.123456Z"},
	{T0 + 123456789, "2024-05-01T12:00:00.123456789Z"},
	{T0 + 100, "2024-05-01T12:00:00.0000001Z"},
	{INT64_C(1504227661000000001), "2017-09-01T01:01:01.000000001Z"},
	{INT64_C(1709251199) * NS + 500000000, "2024-02-29T23:59:59.5Z"},
	{INT64_C(1709251200) * NS, "2024-03-01T00:00:00Z"},
	{INT64_C(951782400) * NS, "2000-02-29T00:00:00Z"},
	{INT64_C(4107542399) * NS, "2100-02-28T23:59:59Z"},
	{INT64_C(4107542400) * NS, "2100-03-01T00:00:00Z"},
	{INT64_C(946684799) * NS + 999999999, "1999-12-31T23:59:59.999999999Z"},
	{INT64_C(946684800) * NS, "2000-01-01T00:00:00Z"},
	/* Before 1970. */
	{-1, "1969-12-31T23:59:59.999999999Z"},
	{-NS, "1969-12-31T23:59:59Z"},
	{-NS - 1, "1969-12-31T23:59:58.999999999Z"},
	{-NS + 1, "1969-12-31T23:59:59.000000001Z"},
	{INT64_C(-86400) * NS, "1969-12-31T00:00:00Z"},
	{INT64_C(-14182940) * NS, "1969-07-20T20:17:40Z"},
	{INT64_C(-2203891200) * NS, "1900-03-01T00:00:00Z"},
	{INT64_C(-2203891200) * NS - 1, "1900-02-28T23:59:59.999999999Z"},
	/* The ends of int64 nanoseconds. */
	{INT64_MIN, "1677-09-21T00:12:43.145224192Z"},
	{INT64_MIN + 1, "1677-09-21T00:12:43.145224193Z"},
	{INT64_MAX, "2262-04-11T23:47:16.854775807Z"},
	{INT64_MAX - 854775807, "2262-04-11T23:47:16Z"},
};

static void test_time_format_table(void **state)
{
	char buf[JSONLINE_TIME_MAX];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(time_cases) / sizeof(time_cases[0]); i++) {
		n = jsonline_format_time(buf, time_cases[i].ns);
		assert_true(n <= JSONLINE_TIME_MAX);
		if (n != strlen(time_cases[i].text) ||
		    memcmp(buf, time_cases[i].text, n) != 0)
			fail_msg("%lld: got %.*s want %s",
				 (long long)time_cases[i].ns, (int)n, buf,
				 time_cases[i].text);
	}
}

/* The formatter against gmtime_r() and snprintf() at random instants. */
static void test_time_format_vs_gmtime(void **state)
{
	char got[JSONLINE_TIME_MAX + 1], want[64], frac[16];
	int64_t ns, sec, nsec;
	struct tm tm;
	time_t tt;
	size_t n, i;
	int k;

	(void)state;
	for (i = 0; i < 200000; i++) {
		ns = (int64_t)rnd();
		if (i % 4 == 1)
			ns -= ns % NS; /* whole seconds */
		else if (i % 4 == 2)
			ns -= ns % 1000; /* microseconds */
		sec = ns / NS;
		nsec = ns % NS;
		if (nsec < 0) {
			nsec += NS;
			sec--;
		}
		tt = (time_t)sec;
		assert_non_null(gmtime_r(&tt, &tm));
		frac[0] = '\0';
		if (nsec != 0) {
			snprintf(frac, sizeof(frac), ".%09lld",
				 (long long)nsec);
			for (k = (int)strlen(frac) - 1; frac[k] == '0'; k--)
				frac[k] = '\0';
		}
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d%sZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
		n = jsonline_format_time(got, ns);
		got[n] = '\0';
		assert_string_equal(got, want);
	}
}

struct parse_case {
	const char *text;
	int rc;
	int64_t ns;
};

static const struct parse_case parse_cases[] = {
	{"2024-05-01T12:00:00Z", 0, T0},
	{"2024-05-01T14:00:00+02:00", 0, T0},
	{"2024-05-01T06:30:00-05:30", 0, T0},
	{"2024-05-01T12:00:00+00:00", 0, T0},
	{"2024-05-01T12:00:00-00:00", 0, T0},
	{"2024-05-02T11:59:00+23:59", 0, T0},
	{"2024-05-01T12:00:00.1Z", 0, T0 + 100000000},
	{"2024-05-01T12:00:00.100Z", 0, T0 + 100000000},
	{"2024-05-01T12:00:00.000000001Z", 0, T0 + 1},
	{"2024-05-01T12:00:00.123456789Z", 0, T0 + 123456789},
	{"2024-05-01T13:00:00.5+01:00", 0, T0 + 500000000},
	{"2024-05-01T12:00:00.000000000Z", 0, T0},
	{"1970-01-01T00:00:00Z", 0, 0},
	{"1969-12-31T23:59:59.999999999Z", 0, -1},
	{"1970-01-01T01:00:00+01:00", 0, 0},
	{"2024-02-29T23:59:59.5Z", 0, INT64_C(1709251199) * NS + 500000000},
	{"2000-02-29T00:00:00Z", 0, INT64_C(951782400) * NS},
	{"1900-03-01T00:00:00Z", 0, INT64_C(-2203891200) * NS},
	/* The ends of the int64 range, also reached through an offset. */
	{"1677-09-21T00:12:43.145224192Z", 0, INT64_MIN},
	{"1677-09-20T23:12:43.145224192-01:00", 0, INT64_MIN},
	{"2262-04-11T23:47:16.854775807Z", 0, INT64_MAX},
	{"2262-04-12T00:47:16.854775807+01:00", 0, INT64_MAX},
	{"1677-09-21T00:12:43.145224191Z", -EINVAL, 0},
	{"1677-09-21T00:12:43Z", -EINVAL, 0},
	{"1677-09-21T01:12:43.145224192+01:01", -EINVAL, 0},
	{"2262-04-11T23:47:16.854775808Z", -EINVAL, 0},
	{"2262-04-11T23:47:17Z", -EINVAL, 0},
	{"2262-04-11T23:47:16.854775807-00:01", -EINVAL, 0},
	{"9999-12-31T23:59:59.999999999Z", -EINVAL, 0},
	{"0000-01-01T00:00:00Z", -EINVAL, 0},
	{"1000-01-01T00:00:00Z", -EINVAL, 0},
	/* Calendar. */
	{"2023-02-29T00:00:00Z", -EINVAL, 0},
	{"1900-02-29T00:00:00Z", -EINVAL, 0},
	{"2024-04-31T00:00:00Z", -EINVAL, 0},
	{"2024-13-01T00:00:00Z", -EINVAL, 0},
	{"2024-00-10T00:00:00Z", -EINVAL, 0},
	{"2024-01-00T00:00:00Z", -EINVAL, 0},
	{"2024-01-32T00:00:00Z", -EINVAL, 0},
	{"2024-05-01T24:00:00Z", -EINVAL, 0},
	{"2024-05-01T23:60:00Z", -EINVAL, 0},
	{"2024-05-01T23:59:60Z", -EINVAL, 0},
	/* Form: Go's RFC3339 parser is strict about all of these. */
	{"", -EINVAL, 0},
	{"2024-05-01", -EINVAL, 0},
	{"2024-05-01T12:00:00", -EINVAL, 0},
	{"2024-05-01t12:00:00Z", -EINVAL, 0},
	{"2024-05-01T12:00:00z", -EINVAL, 0},
	{"2024-05-01 12:00:00Z", -EINVAL, 0},
	{"2024-05-01T12:00:00.Z", -EINVAL, 0},
	{"2024-05-01T12:00:00,1Z", -EINVAL, 0},
	{"2024-05-01T12:00:00.1234567890Z", -EINVAL, 0},
	{"2024-05-01T12:00:00.12a4Z", -EINVAL, 0},
	{"2024-05-01T12:00:00+0200", -EINVAL, 0},
	{"2024-05-01T12:00:00+02", -EINVAL, 0},
	{"2024-05-01T12:00:00+24:00", -EINVAL, 0},
	{"2024-05-01T12:00:00+02:60", -EINVAL, 0},
	{"2024-05-01T12:00:00+02:00Z", -EINVAL, 0},
	{"2024-05-01T12:00:00Z ", -EINVAL, 0},
	{" 2024-05-01T12:00:00Z", -EINVAL, 0},
	{"2024-05-01T12:00:00ZZ", -EINVAL, 0},
	{"2024-05-01T12:00:00 +02:00", -EINVAL, 0},
	{"2024-05-01T12:00:00*02:00", -EINVAL, 0},
	{"2024-05-01T12:00:00+02-00", -EINVAL, 0},
	{"2024-5-01T12:00:00Z", -EINVAL, 0},
	{"2024-05-01T1:00:00Z", -EINVAL, 0},
	{"+2024-05-01T12:00:00Z", -EINVAL, 0},
	{"20240501T120000Z", -EINVAL, 0},
	{"2024/05/01T12:00:00Z", -EINVAL, 0},
	{"2024-05-01T12-00-00Z", -EINVAL, 0},
	{"2024-05-01T12:00:00UTC", -EINVAL, 0},
	{"-024-05-01T12:00:00Z", -EINVAL, 0},
};

static void test_time_parse_table(void **state)
{
	size_t i, len;
	int64_t ns;
	char *copy;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		/* An exact-size copy, so a read past the end is caught. */
		len = strlen(parse_cases[i].text);
		copy = test_malloc(len + 1);
		memcpy(copy, parse_cases[i].text, len);
		ns = 42;
		rc = jsonline_parse_time(copy, len, &ns);
		if (rc != parse_cases[i].rc)
			fail_msg("%s: rc %d, want %d", parse_cases[i].text, rc,
				 parse_cases[i].rc);
		if (rc == 0 && ns != parse_cases[i].ns)
			fail_msg("%s: %lld, want %lld", parse_cases[i].text,
				 (long long)ns, (long long)parse_cases[i].ns);
		test_free(copy);
	}
	/* Every prefix of a valid time is invalid. */
	for (len = 0; len < strlen(parse_cases[9].text); len++)
		assert_int_equal(
			jsonline_parse_time(parse_cases[9].text, len, &ns),
			-EINVAL);
}

/* format then parse is the identity, for every formatted value. */
static void test_time_round_trip(void **state)
{
	char buf[JSONLINE_TIME_MAX];
	int64_t ns, back;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(time_cases) / sizeof(time_cases[0]); i++) {
		n = jsonline_format_time(buf, time_cases[i].ns);
		assert_int_equal(jsonline_parse_time(buf, n, &back), 0);
		assert_int_equal(back, time_cases[i].ns);
	}
	for (i = 0; i < 200000; i++) {
		ns = (int64_t)rnd();
		if (i & 1)
			ns /= (int64_t)(1 + rnd_below(1000000));
		n = jsonline_format_time(buf, ns);
		assert_int_equal(jsonline_parse_time(buf, n, &back), 0);
		assert_int_equal(back, ns);
	}
}

/* ---- decoding ---------------------------------------------------------- */

/* Decode a copy of 's' held in an exactly sized buffer. */
static int decode(const char *s, size_t len, struct jsonline_record *rec,
		  char **scratch)
{
	char *copy = test_malloc(len > 0 ? len : 1);
	int rc;

	memcpy(copy, s, len);
	*scratch = test_malloc(len > 0 ? len : 1);
	rc = jsonline_decode(copy, len, *scratch, len, rec);
	test_free(copy);
	return rc;
}

static void assert_record(const char *line, const char *log, size_t log_len,
			  const char *stream, int64_t t)
{
	struct jsonline_record rec;
	char *scratch;
	int rc;

	rc = decode(line, strlen(line), &rec, &scratch);
	if (rc != 0)
		fail_msg("rejected (%d): %s", rc, line);
	assert_int_equal(rec.log_len, log_len);
	assert_memory_equal(rec.log, log, log_len);
	assert_int_equal(rec.stream_len, strlen(stream));
	assert_memory_equal(rec.stream, stream, strlen(stream));
	assert_int_equal(rec.time_nano, t);
	test_free(scratch);
}

#define REC(line, log, stream, t)                                              \
	assert_record(line, log, sizeof(log) - 1, stream, t)

static void test_decode_golden(void **state)
{
	(void)state;
	REC("{\"log\":\"hello\\n\",\"stream\":\"stdout\","
	    "\"time\":\"2024-05-01T12:00:00.123456789Z\"}",
	    "hello\n", "stdout", T0 + 123456789);
	/* The newline json-file ends each line with is tolerated. */
	REC("{\"log\":\"hello\\n\",\"stream\":\"stdout\","
	    "\"time\":\"2024-05-01T12:00:00.123456789Z\"}\n",
	    "hello\n", "stdout", T0 + 123456789);
	REC("{\"log\":\"hello\\n\",\"stream\":\"stdout\",\"attrs\":{\"tag\":"
	    "\"web\"},\"time\":\"2024-05-01T12:00:00Z\"}\r\n",
	    "hello\n", "stdout", T0);
	/* Keys in any order, white space anywhere, unknown keys skipped. */
	REC(" { \"time\" : \"2024-05-01T14:00:00+02:00\" ,\t\"x\":{\"a\":[1,"
	    "-2.5e+3,{\"b\":null},[],{}],\"c\":\"\\u00e9\\\"\"},\"attrs\":"
	    "{\"tag\":\"web\"}, \"n\":true,\"f\":false,\"z\":0,\"stream\":"
	    "\"stderr\" ,\"log\":\"a\\tb\" } ",
	    "a\tb", "stderr", T0);
	/* Absent "log" and "stream". */
	REC("{\"time\":\"2024-05-01T12:00:00Z\"}", "", "", T0);
	REC("{\"stream\":\"stdout\",\"time\":\"2024-05-01T12:00:00Z\"}", "",
	    "stdout", T0);
	REC("{\"log\":\"\",\"time\":\"2024-05-01T12:00:00Z\"}", "", "", T0);
	/* null leaves the field as it was, as in Go. */
	REC("{\"log\":null,\"stream\":null,\"time\":\"2024-05-01T12:00:00Z\"}",
	    "", "", T0);
	REC("{\"log\":\"a\",\"log\":null,\"time\":\"2024-05-01T12:00:00Z\","
	    "\"time\":null}",
	    "a", "", T0);
	/* Duplicates: the last one counts. */
	REC("{\"log\":\"first\",\"stream\":\"a\",\"log\":\"second\","
	    "\"time\":\"1970-01-01T00:00:00Z\",\"stream\":\"b\","
	    "\"time\":\"2024-05-01T12:00:00Z\"}",
	    "second", "b", T0);
	/* Keys match case-insensitively, as Go's; long s folds to S. */
	REC("{\"LOG\":\"x\",\"Stream\":\"y\",\"TiMe\":\"2024-05-01T12:00:"
	    "00Z\"}",
	    "x", "y", T0);
	REC("{\"\xc5\xbftream\":\"y\",\"time\":\"2024-05-01T12:00:00Z\"}", "",
	    "y", T0);
	REC("{\"\\u017ftream\":\"y\",\"\\u0074ime\":\"2024-05-01T12:00:00Z\"}",
	    "", "y", T0);
	REC("{\"logs\":\"x\",\"lo\":\"y\",\"streams\":\"z\",\"st\\u0072eam\":"
	    "\"s\",\"time\":\"2024-05-01T12:00:00Z\"}",
	    "", "s", T0);
}

static void test_decode_escapes(void **state)
{
	(void)state;
	REC("{\"log\":\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\","
	    "\"time\":\"2024-05-01T12:00:00Z\"}",
	    "\" \\ / \b \f \n \r \t", "", T0);
	REC("{\"log\":\"\\u0000\\u001f\\u0041\\u00e9\\u00E9\\u20ac\\uffff\","
	    "\"time\":\"2024-05-01T12:00:00Z\"}",
	    "\x00\x1f"
	    "A\xc3\xa9\xc3\xa9\xe2\x82\xac\xef\xbf\xbf",
	    "", T0);
	REC("{\"log\":\"\\u003c\\u003e\\u0026\\u2028\\u2029\\ufffd\","
	    "\"time\":\"2024-05-01T12:00:00Z\"}",
	    "<>&\xe2\x80\xa8\xe2\x80\xa9\xef\xbf\xbd", "", T0);
	/* Surrogate pairs, and lone surrogates become U+FFFD as in Go. */
	REC("{\"log\":\"\\ud83d\\ude00\\uD83D\\uDE00\\udbff\\udfff\","
	    "\"time\":\"2024-05-01T12:00:00Z\"}",
	    "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", "", T0);
	REC("{\"log\":\"\\ud800\",\"time\":\"2024-05-01T12:00:00Z\"}",
	    "\xef\xbf\xbd", "", T0);
	REC("{\"log\":\"\\udc00\\ud800x\",\"time\":\"2024-05-01T12:00:00Z\"}",
	    "\xef\xbf\xbd\xef\xbf\xbdx", "", T0);
	REC("{\"log\":\"\\ud800\\u0041\",\"time\":\"2024-05-01T12:00:00Z\"}",
	    "\xef\xbf\xbd"
	    "A",
	    "", T0);
	REC("{\"log\":\"\\ud800\\ud800\\udc00\","
	    "\"time\":\"2024-05-01T12:00:00Z\"}",
	    "\xef\xbf\xbd\xf0\x90\x80\x80", "", T0);
	REC("{\"log\":\"\\ude00\\ud83d\",\"time\":\"2024-05-01T12:00:00Z\"}",
	    "\xef\xbf\xbd\xef\xbf\xbd", "", T0);
	REC("{\"log\":\"\\udc00\\udc00\\udfff\\udfff\","
	    "\"time\":\"2024-05-01T12:00:00Z\"}",
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", "", T0);
	REC("{\"log\":\"\\ud83d\\n\",\"time\":\"2024-05-01T12:00:00Z\"}",
	    "\xef\xbf\xbd\n", "", T0);
	/* Raw UTF-8 and DEL pass through. */
	REC("{\"log\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\x7f\","
	    "\"time\":\"2024-05-01T12:00:00Z\"}",
	    "caf\xc3\xa9 \xf0\x9f\x98\x80\x7f", "", T0);
}

/* What the line encodes, as Go would read it back. */
static void check_round_trip(const struct log_entry *e, const char *attrs,
			     size_t attrs_len)
{
	uint8_t want_log[3 * 400 + 1], want_stream[3 * 64];
	struct jsonline_record rec;
	size_t n, want_n, want_sn;
	json_error_t err;
	json_t *root, *v;
	char *line, *scratch;
	int rc;

	line = encode(e, attrs, attrs_len, &n);
	assert_true(is_valid_utf8((const uint8_t *)line, n));
	assert_ptr_equal(memchr(line, '\n', n), line + n - 1);
	want_n = ref_sanitize(want_log, e->line, e->line_len);
	if (log_entry_ends_line(e))
		want_log[want_n++] = '\n';
	want_sn = ref_sanitize(want_stream, (const uint8_t *)e->source,
			       e->source_len);

	rc = decode(line, n, &rec, &scratch);
	if (rc != 0)
		fail_msg("rejected its own line (%d): %s", rc, line);
	assert_int_equal(rec.log_len, want_n);
	assert_memory_equal(rec.log, want_log, want_n);
	assert_int_equal(rec.stream_len, want_sn);
	assert_memory_equal(rec.stream, want_stream, want_sn);
	assert_int_equal(rec.time_nano, e->time_nano);
	test_free(scratch);

	/* jansson reads the same line the same way. */
	root = json_loadb(line, n, JSON_ALLOW_NUL, &err);
	if (root == NULL)
		fail_msg("jansson: %s: %s", err.text, line);
	v = json_object_get(root, "log");
	if (want_n == 0) {
		assert_null(v);
	} else {
		assert_true(json_is_string(v));
		assert_int_equal(json_string_length(v), want_n);
		assert_memory_equal(json_string_value(v), want_log, want_n);
	}
	v = json_object_get(root, "stream");
	if (want_sn == 0) {
		assert_null(v);
	} else {
		assert_int_equal(json_string_length(v), want_sn);
		assert_memory_equal(json_string_value(v), want_stream, want_sn);
	}
	if (attrs_len > 0)
		assert_true(json_is_object(json_object_get(root, "attrs")));
	json_decref(root);
	test_free(line);
}

static void test_decode_round_trip_random(void **state)
{
	static const char *const streams[] = {"stdout", "stderr", ""};
	uint8_t line[400], stream[64];
	const char *attrs;
	struct log_entry e;
	size_t i;

	(void)state;
	for (i = 0; i < 20000; i++) {
		memset(&e, 0, sizeof(e));
		e.line_len = random_text(line, sizeof(line));
		e.line = line;
		if (rnd_below(8) == 0) {
			e.source_len = random_text(stream, sizeof(stream));
			e.source = (const char *)stream;
		} else {
			e.source = streams[rnd_below(3)];
			e.source_len = strlen(e.source);
		}
		e.time_nano = (int64_t)rnd();
		if (rnd_below(3) == 0)
			e.time_nano -= e.time_nano % NS;
		e.partial = rnd_below(3) == 0;
		e.partial_last = e.partial && rnd_below(2) == 0;
		attrs = rnd_below(4) == 0 ? "{\"tag\":\"a\\\"b\",\"x\":\"\"}"
					  : NULL;
		check_round_trip(&e, attrs, attrs != NULL ? strlen(attrs) : 0);
	}
}

/* ---- differential against jansson on generated valid lines ------------- */

struct gen {
	char buf[16384];
	size_t len;
};

static void gen_put(struct gen *g, const void *s, size_t n)
{
	assert_true(g->len + n < sizeof(g->buf));
	memcpy(g->buf + g->len, s, n);
	g->len += n;
}

static void gen_str(struct gen *g, const char *s)
{
	gen_put(g, s, strlen(s));
}

static void gen_ws(struct gen *g)
{
	static const char ws[] = " \t\r\n";

	while (rnd_below(6) == 0)
		gen_put(g, &ws[rnd_below(4)], 1);
}

static void gen_hex4(struct gen *g, uint32_t v)
{
	static const char lower[] = "0123456789abcdef";
	static const char upper[] = "0123456789ABCDEF";
	const char *h = rnd_below(2) ? lower : upper;
	char s[6] = {'\\',	     'u',      h[v >> 12 & 15], h[v >> 8 & 15],
		     h[v >> 4 & 15], h[v & 15]};

	gen_put(g, s, 6);
}

/* A JSON string with escapes of every kind; no lone surrogates, which
 * jansson refuses, and as an object key ('key') no \\u0000 either. */
static void gen_string_as(struct gen *g, bool key)
{
	static const char *const short_esc[] = {"\\\"", "\\\\", "\\/", "\\b",
						"\\f",	"\\n",	"\\r", "\\t"};
	size_t i, n = rnd_below(40);
	uint32_t cp;
	char c;

	gen_put(g, "\"", 1);
	for (i = 0; i < n; i++) {
		switch (rnd_below(6)) {
		case 0:
			gen_str(g, short_esc[rnd_below(8)]);
			break;
		case 1:
			do {
				cp = (uint32_t)rnd_below(0x10000);
			} while ((cp >= 0xd800 && cp <= 0xdfff) ||
				 (key && cp == 0));
			gen_hex4(g, cp);
			break;
		case 2:
			cp = (uint32_t)rnd_below(0x100000);
			gen_hex4(g, 0xd800 + (cp >> 10));
			gen_hex4(g, 0xdc00 + (cp & 0x3ff));
			break;
		case 3:
			gen_str(g,
				rnd_below(2) ? "\xc3\xa9" : "\xf0\x9f\x98\x80");
			break;
		default:
			do {
				c = (char)(0x20 + rnd_below(0x5f));
			} while (c == '"' || c == '\\');
			gen_put(g, &c, 1);
			break;
		}
	}
	gen_put(g, "\"", 1);
}

static void gen_string(struct gen *g)
{
	gen_string_as(g, false);
}

static void gen_number(struct gen *g)
{
	char s[32];
	int n;

	n = snprintf(s, sizeof(s), "%s%u", rnd_below(2) ? "-" : "",
		     (unsigned)rnd_below(rnd_below(2) ? 10 : 100000));
	if (rnd_below(3) == 0)
		n += snprintf(s + n, sizeof(s) - (size_t)n, ".%u",
			      (unsigned)rnd_below(1000));
	if (rnd_below(3) == 0)
		n += snprintf(s + n, sizeof(s) - (size_t)n, "%s%s%u",
			      rnd_below(2) ? "e" : "E",
			      rnd_below(3) == 0	  ? "+"
			      : rnd_below(2) == 0 ? "-"
						  : "",
			      (unsigned)rnd_below(10));
	gen_put(g, s, (size_t)n);
}

static void gen_value(struct gen *g, int depth)
{
	size_t i, n;

	switch (rnd_below(depth < 4 ? 8 : 5)) {
	case 0:
		gen_str(g, rnd_below(2) ? "true" : "false");
		break;
	case 1:
		gen_str(g, "null");
		break;
	case 2:
	case 3:
		gen_number(g);
		break;
	case 4:
		gen_string(g);
		break;
	case 5:
	case 6:
		gen_put(g, "{", 1);
		n = rnd_below(4);
		for (i = 0; i < n; i++) {
			gen_ws(g);
			if (i > 0) {
				gen_put(g, ",", 1);
				gen_ws(g);
			}
			gen_string_as(g, true);
			gen_ws(g);
			gen_put(g, ":", 1);
			gen_ws(g);
			gen_value(g, depth + 1);
		}
		gen_ws(g);
		gen_put(g, "}", 1);
		break;
	default:
		gen_put(g, "[", 1);
		n = rnd_below(4);
		for (i = 0; i < n; i++) {
			gen_ws(g);
			if (i > 0) {
				gen_put(g, ",", 1);
				gen_ws(g);
			}
			gen_value(g, depth + 1);
		}
		gen_ws(g);
		gen_put(g, "]", 1);
		break;
	}
}

/* A time json-file could hold for 't', maybe with a zone offset. */
static void gen_time(struct gen *g, int64_t t)
{
	char s[JSONLINE_TIME_MAX + 8];
	int off = 0;
	size_t n;

	if (rnd_below(3) == 0 && t > INT64_MIN / 2 && t < INT64_MAX / 2)
		off = (int)rnd_below(2 * 24 * 60 - 1) - (24 * 60 - 1);
	n = jsonline_format_time(s, t + (int64_t)off * 60 * NS);
	if (off != 0)
		n = n - 1 +
		    (size_t)sprintf(s + n - 1, "%c%02d:%02d",
				    off < 0 ? '-' : '+', abs(off) / 60,
				    abs(off) % 60);
	gen_put(g, "\"", 1);
	gen_put(g, s, n);
	gen_put(g, "\"", 1);
}

/* A json-file-like line with keys in random order among unknown ones. */
static void gen_line(struct gen *g, int64_t t)
{
	static const char *const fields[] = {"\"log\"", "\"stream\"",
					     "\"attrs\""};
	const char *keys[16];
	size_t nkeys = 0, i, j;
	const char *tmp;
	char name[16];

	g->len = 0;
	for (i = 0; i < 3; i++) {
		j = rnd_below(5);
		while (j-- > 2)
			keys[nkeys++] = fields[i];
		if (rnd_below(2))
			keys[nkeys++] = fields[i];
	}
	keys[nkeys++] = "\"time\"";
	for (i = rnd_below(4); i > 0; i--)
		keys[nkeys++] = NULL; /* an unknown key */
	for (i = nkeys; i > 1; i--) {
		j = rnd_below(i);
		tmp = keys[i - 1];
		keys[i - 1] = keys[j];
		keys[j] = tmp;
	}
	gen_ws(g);
	gen_put(g, "{", 1);
	for (i = 0; i < nkeys; i++) {
		gen_ws(g);
		if (i > 0) {
			gen_put(g, ",", 1);
			gen_ws(g);
		}
		if (keys[i] == NULL) {
			/* Lower-case letters but not a name of ours. */
			for (j = 0; j < 1 + rnd_below(8); j++)
				name[j] = (char)('a' + rnd_below(26));
			name[j] = '\0';
			if (strcmp(name, "log") == 0 ||
			    strcmp(name, "stream") == 0 ||
			    strcmp(name, "time") == 0)
				strcpy(name, "other");
			gen_put(g, "\"", 1);
			gen_str(g, name);
			gen_put(g, "\"", 1);
		} else {
			gen_str(g, keys[i]);
		}
		gen_ws(g);
		gen_put(g, ":", 1);
		gen_ws(g);
		if (keys[i] == NULL || strcmp(keys[i], "\"attrs\"") == 0)
			gen_value(g, 0);
		else if (strcmp(keys[i], "\"time\"") == 0)
			gen_time(g, t);
		else
			gen_string(g);
	}
	gen_ws(g);
	gen_put(g, "}", 1);
	gen_ws(g);
}

static void assert_field(json_t *root, const char *key, const char *got,
			 size_t got_len)
{
	json_t *v = json_object_get(root, key);

	if (v == NULL) {
		assert_int_equal(got_len, 0);
		return;
	}
	assert_true(json_is_string(v));
	assert_int_equal(got_len, json_string_length(v));
	assert_memory_equal(got, json_string_value(v), got_len);
}

static void test_decode_vs_jansson(void **state)
{
	static struct gen g;
	struct jsonline_record rec;
	json_error_t err;
	json_t *root;
	char *scratch;
	int64_t t;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < 20000; i++) {
		t = (int64_t)rnd();
		gen_line(&g, t);
		root = json_loadb(g.buf, g.len, JSON_ALLOW_NUL, &err);
		if (root == NULL)
			fail_msg("generated bad JSON: %s: %.*s", err.text,
				 (int)g.len, g.buf);
		rc = decode(g.buf, g.len, &rec, &scratch);
		if (rc != 0)
			fail_msg("rejected (%d): %.*s", rc, (int)g.len, g.buf);
		assert_field(root, "log", rec.log, rec.log_len);
		assert_field(root, "stream", rec.stream, rec.stream_len);
		assert_int_equal(rec.time_nano, t);
		json_decref(root);
		test_free(scratch);
	}
}

/* Does the line hold a \u escape of a surrogate (jansson refuses a lone
 * one, Go and we read it as U+FFFD)? */
static bool has_surrogate_escape(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i + 3 < n; i++) {
		if (s[i] == '\\' && s[i + 1] == 'u' &&
		    (s[i + 2] | 0x20) == 'd' &&
		    strchr("89abcdefABCDEF", s[i + 3]) && s[i + 3] != '\0')
			return true;
	}
	return false;
}

/* Case variants of our keys mean something to Go (and to us) but not to
 * jansson, so a mutated line with one is not compared. */
static bool has_folded_key(json_t *root)
{
	static const char *const ours[] = {"log", "stream", "time"};
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach(root, key, v)
	{
		for (i = 0; i < 3; i++) {
			if (strcasecmp(key, ours[i]) == 0 &&
			    strcmp(key, ours[i]) != 0)
				return true;
		}
	}
	return false;
}

/* One-byte edits of valid lines: we accept exactly what jansson accepts
 * and json-file's reader would take (an object with a string "time"). */
static void test_decode_mutations_vs_jansson(void **state)
{
	static const char alphabet[] = "{}[]\":,\\ -0123456789.eEtrufalsn"
				       "\"ul/bx\t\n";
	static struct gen g;
	struct jsonline_record rec;
	json_error_t err;
	json_t *root, *v;
	size_t accepted = 0, rejected = 0;
	bool want_ok;
	char *scratch;
	int64_t t, want_t;
	size_t i, at;
	int rc;

	(void)state;
	for (i = 0; i < 100000; i++) {
		t = (int64_t)rnd();
		gen_line(&g, t);
		at = rnd_below(g.len);
		switch (rnd_below(3)) {
		case 0: /* delete */
			memmove(g.buf + at, g.buf + at + 1, g.len - at - 1);
			g.len--;
			break;
		case 1: /* replace */
			g.buf[at] = alphabet[rnd_below(sizeof(alphabet) - 1)];
			break;
		default: /* insert */
			memmove(g.buf + at + 1, g.buf + at, g.len - at);
			g.buf[at] = alphabet[rnd_below(sizeof(alphabet) - 1)];
			g.len++;
			break;
		}
		rc = decode(g.buf, g.len, &rec, &scratch);
		root = json_loadb(g.buf, g.len, JSON_ALLOW_NUL, &err);
		want_ok = false;
		want_t = 0;
		if (root != NULL && json_is_object(root)) {
			if (has_folded_key(root)) {
				json_decref(root);
				test_free(scratch);
				continue;
			}
			v = json_object_get(root, "time");
			want_ok = json_is_string(v) &&
				  jsonline_parse_time(json_string_value(v),
						      json_string_length(v),
						      &want_t) == 0;
			v = json_object_get(root, "log");
			if (v != NULL && !json_is_string(v))
				want_ok = false;
			v = json_object_get(root, "stream");
			if (v != NULL && !json_is_string(v))
				want_ok = false;
		} else if (root == NULL && rc == 0 &&
			   (has_surrogate_escape(g.buf, g.len) ||
			    !is_valid_utf8((const uint8_t *)g.buf, g.len))) {
			/* jansson is stricter than Go here. */
			test_free(scratch);
			continue;
		}
		if (want_ok != (rc == 0))
			fail_msg("decode %d, jansson %s (%s): %.*s", rc,
				 want_ok ? "accepts" : "rejects",
				 root == NULL ? err.text : "", (int)g.len,
				 g.buf);
		if (want_ok) {
			accepted++;
			assert_field(root, "log", rec.log, rec.log_len);
			assert_field(root, "stream", rec.stream,
				     rec.stream_len);
			assert_int_equal(rec.time_nano, want_t);
		} else {
			rejected++;
		}
		json_decref(root);
		test_free(scratch);
	}
	/* Both outcomes were exercised, not just one. */
	assert_true(accepted > 10000 && rejected > 10000);
}

static void assert_rejected(const char *line, size_t len)
{
	struct jsonline_record rec;
	char *scratch;
	int rc;

	rc = decode(line, len, &rec, &scratch);
	if (rc != -EINVAL)
		fail_msg("not rejected (%d): %.*s", rc, (int)len, line);
	test_free(scratch);
}

#define T_OK "\"time\":\"2024-05-01T12:00:00Z\""

static void test_decode_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		" ",
		"\n",
		"{",
		"}",
		"{}",
		"[]",
		"null",
		"\"" T_OK "\"",
		"[{" T_OK "}]",
		"{" T_OK,
		"{" T_OK ",",
		"{" T_OK ",}",
		"{," T_OK "}",
		"{" T_OK ",,\"log\":\"x\"}",
		"{" T_OK "}}",
		"{" T_OK "}{}",
		"{" T_OK "} x",
		"{" T_OK "}\n{" T_OK "}",
		"{\"time\" \"2024-05-01T12:00:00Z\"}",
		"{\"time\"::\"2024-05-01T12:00:00Z\"}",
		"{time:\"2024-05-01T12:00:00Z\"}",
		"{'time':'2024-05-01T12:00:00Z'}",
		"{\"time\":\"2024-05-01T12:00:00Z\" \"log\":\"x\"}",
		/* Strings. */
		"{\"log\":\"a\nb\"," T_OK "}",
		"{\"log\":\"a\tb\"," T_OK "}",
		"{\"log\":\"\x01\"," T_OK "}",
		"{\"log\":\"\\x41\"," T_OK "}",
		"{\"log\":\"\\a\"," T_OK "}",
		"{\"log\":\"\\'\"," T_OK "}",
		"{\"log\":\"\\U0041\"," T_OK "}",
		"{\"log\":\"\\u41\"," T_OK "}",
		"{\"log\":\"\\u004G\"," T_OK "}",
		"{\"log\":\"\\ud83d\\ude0\"," T_OK "}",
		"{\"log\":\"\\ud83d\\u\"," T_OK "}",
		"{\"log\":\"\\ud83d\\\"," T_OK "}",
		"{\"log\":\"abc," T_OK "}",
		"{\"lo\\g\":\"x\"," T_OK "}",
		/* Wrong types for our fields. */
		"{\"log\":123," T_OK "}",
		"{\"log\":[\"x\"]," T_OK "}",
		"{\"stream\":true," T_OK "}",
		"{\"stream\":{}," T_OK "}",
		"{\"time\":1714564800}",
		"{\"time\":[\"2024-05-01T12:00:00Z\"]}",
		/* Time. */
		"{\"log\":\"x\"}",
		"{\"time\":null}",
		"{\"time\":\"\"}",
		"{\"time\":\"2024-05-01T12:00:00\"}",
		"{\"time\":\"2024-05-01 12:00:00Z\"}",
		"{\"time\":\"\\u0032024-05-01T12:00:00Z\"}",
		"{\"time\":\"2024-05-01T12:00:00\\u005a\"}",
		"{\"time\":\"2262-04-11T23:47:16.854775808Z\"}",
		"{\"t\xc4\xb1me\":\"2024-05-01T12:00:00Z\"}",
		"{\"t\\u0131me\":\"2024-05-01T12:00:00Z\"}",
		/* Skipped values must still be JSON. */
		"{\"x\":," T_OK "}",
		"{\"x\":01," T_OK "}",
		"{\"x\":1.," T_OK "}",
		"{\"x\":.5," T_OK "}",
		"{\"x\":-," T_OK "}",
		"{\"x\":+1," T_OK "}",
		"{\"x\":1e," T_OK "}",
		"{\"x\":1e+," T_OK "}",
		"{\"x\":0x1," T_OK "}",
		"{\"x\":NaN," T_OK "}",
		"{\"x\":Infinity," T_OK "}",
		"{\"x\":tru," T_OK "}",
		"{\"x\":nul," T_OK "}",
		"{\"x\":True," T_OK "}",
		"{\"x\":[1,]," T_OK "}",
		"{\"x\":[,1]," T_OK "}",
		"{\"x\":[1 2]," T_OK "}",
		"{\"x\":{\"a\"}," T_OK "}",
		"{\"x\":{\"a\":}," T_OK "}",
		"{\"x\":{\"a\":1,}," T_OK "}",
		"{\"x\":{1:2}," T_OK "}",
		"{\"x\":[}," T_OK "}",
		"{\"x\":{]," T_OK "}",
		"{\"x\":[[[]]," T_OK "}",
		"{\"x\":\"\\q\"," T_OK "}",
		"{\"x\":" T_OK "}",
		"{\"attrs\":{\"tag\":\"a\"" T_OK "}",
		"{\"x\":[1]]," T_OK "}",
		"{\"x\":[1}," T_OK "}",
		"{\"x\":{\"a\":1]," T_OK "}",
		"{\"x\":[{\"a\":[1}]]," T_OK "}",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_rejected(bad[i], strlen(bad[i]));
	/* A NUL byte is not white space. */
	assert_rejected("{" T_OK "}\0", sizeof("{" T_OK "}"));
	assert_rejected("{\"log\":\"\0\"," T_OK "}",
			sizeof("{\"log\":\"\0\"," T_OK "}") - 1);
}

/* Nesting of skipped values: fine up to the bound of 512, rejected past
 * it, and never a stack overflow however deep. */
static size_t nested(char *line, size_t depth, bool objects)
{
	size_t n, i;

	n = (size_t)sprintf(line, "{" T_OK ",\"x\":");
	for (i = 0; i < depth; i++) {
		if (objects) {
			memcpy(line + n, "{\"k\":", 5);
			n += 5;
		} else {
			line[n++] = '[';
		}
	}
	line[n++] = '0';
	for (i = 0; i < depth; i++)
		line[n++] = objects ? '}' : ']';
	line[n++] = '}';
	return n;
}

static void test_decode_depth(void **state)
{
	static char line[1 << 20];
	struct jsonline_record rec;
	char *scratch;
	size_t n;

	(void)state;
	n = nested(line, 512, false);
	assert_int_equal(decode(line, n, &rec, &scratch), 0);
	assert_int_equal(rec.time_nano, T0);
	test_free(scratch);
	n = nested(line, 512, true);
	assert_int_equal(decode(line, n, &rec, &scratch), 0);
	test_free(scratch);
	n = nested(line, 513, false);
	assert_rejected(line, n);
	n = nested(line, 513, true);
	assert_rejected(line, n);
	n = nested(line, 100000, false);
	assert_rejected(line, n);
	n = nested(line, 100000, true);
	assert_rejected(line, n);
}

static void test_decode_prefixes_and_scratch(void **state)
{
	static const char line[] =
		"{\"log\":\"h\\u00e9llo \\ud83d\\ude00\\n\",\"stream\":"
		"\"stdout\",\"attrs\":{\"tag\":\"web\",\"n\":[1,2.5e3,true,"
		"null]},\"time\":\"2024-05-01T12:00:00.123456789Z\"}\n";
	struct jsonline_record rec;
	char scratch[sizeof(line)];
	size_t len = sizeof(line) - 1;
	size_t n;

	(void)state;
	/* Every cut short is malformed (the trailing newline is optional). */
	for (n = 0; n < len - 1; n++)
		assert_rejected(line, n);
	/* Scratch of exactly 'len' bytes is enough; less is refused. */
	assert_int_equal(jsonline_decode(line, len, scratch, len, &rec), 0);
	assert_true(rec.log >= scratch &&
		    rec.log + rec.log_len <= scratch + len);
	assert_int_equal(rec.log_len,
			 strlen("h\xc3\xa9llo \xf0\x9f\x98\x80\n"));
	assert_int_equal(jsonline_decode(line, len, scratch, len - 1, &rec),
			 -ENOBUFS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_table),
		cmocka_unit_test(test_escape_control_bytes),
		cmocka_unit_test(test_escape_exhaustive_short),
		cmocka_unit_test(test_escape_random_against_ref),
		cmocka_unit_test(test_escape_quote_dense),
		cmocka_unit_test(test_escape_run_tails),
		cmocka_unit_test(test_line_golden),
		cmocka_unit_test(test_line_partials),
		cmocka_unit_test(test_encode_bound),
		cmocka_unit_test(test_time_format_table),
		cmocka_unit_test(test_time_format_vs_gmtime),
		cmocka_unit_test(test_time_parse_table),
		cmocka_unit_test(test_time_round_trip),
		cmocka_unit_test(test_decode_golden),
		cmocka_unit_test(test_decode_escapes),
		cmocka_unit_test(test_decode_round_trip_random),
		cmocka_unit_test(test_decode_vs_jansson),
		cmocka_unit_test(test_decode_mutations_vs_jansson),
		cmocka_unit_test(test_decode_malformed),
		cmocka_unit_test(test_decode_depth),
		cmocka_unit_test(test_decode_prefixes_and_scratch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
