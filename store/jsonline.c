/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The json-file line codec.  The encoder runs for every line of every
 * container, so it copies bytes that need no escaping 32 at a time (16
 * without AVX2, 8 without SSE2) while it looks for those that do, and with
 * AVX2 escapes the quotes of JSON logged as text a block at a time; its
 * escaping follows moby's jsonlog.ffjsonWriteJSONBytesAsString() and Go's
 * utf8.DecodeRune() byte for byte.  The decoder is a small hand-written JSON
 * reader that checks every read against the end of the input.
 */
#include "store/jsonline.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
/* x86-64 CPUs with AVX2 copy 32 bytes at a time, chosen when the encoder
 * runs (escape_line()); the build itself stays for any x86-64. */
#if defined(__x86_64__) && defined(__SSE2__) &&                                \
	(defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX2_PATH 1
#endif

#define NS_PER_SEC  1000000000LL
#define SEC_PER_DAY 86400LL

/* Deepest nesting of arrays and objects a skipped value may have. */
#define DEPTH_MAX 512

/* Eight copies of one byte, for the word-at-a-time scans. */
#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static const char hex_digits[] = "0123456789abcdef";

/*
 * How the encoder treats each byte: COPY goes out as is, ESC is an ASCII
 * byte with an escape of its own, MB starts a UTF-8 sequence or is invalid.
 */
enum { COPY = 0, ESC = 1, MB = 2 };

static const uint8_t enc_class[256] = {
	/* 0x00 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	/* 0x10 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	/* 0x20 */ 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* 0x30 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0,
	/* 0x40 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* 0x50 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
	/* 0x60 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* 0x70 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* 0x80 */ 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	/* 0x90 */ 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	/* 0xa0 */ 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	/* 0xb0 */ 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	/* 0xc0 */ 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	/* 0xd0 */ 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	/* 0xe0 */ 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	/* 0xf0 */ 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

/*
 * Bytes that end a run inside a JSON string being read: '"', '\\' and
 * those below 0x20.  The rest of the table is zero.
 */
static const uint8_t dec_stop[256] = {
	/* 0x00 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	/* 0x10 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	/* 0x20 */ 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* 0x30 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* 0x40 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* 0x50 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};

/* Nonzero when a byte of 'v' is zero (exact as a whole, not per byte). */
static inline uint64_t has_zero(uint64_t v)
{
	return (v - ONES) & ~v & HIGHS;
}

/* Nonzero when a byte of 'x' is below 0x20 or at or above 0x80. */
static inline uint64_t has_ctl_or_high(uint64_t x)
{
	return ((x - ONES * 0x20) | x) & HIGHS;
}

/*
 * Nonzero when one of the eight bytes at 'p' is not COPY in enc_class.
 * '<' and '>' differ only in bit 1, '"' and '&' only in bit 2, so setting
 * that bit folds each pair into one comparison.
 */
static inline uint64_t enc_word_stops(const uint8_t *p)
{
	uint64_t x;

	memcpy(&x, p, sizeof(x));
	return has_ctl_or_high(x) | has_zero(x ^ (ONES * '\\')) |
	       has_zero((x | ONES * 0x02) ^ (ONES * '>')) |
	       has_zero((x | ONES * 0x04) ^ (ONES * '&'));
}

/* Nonzero when one of the eight bytes at 'p' is set in dec_stop. */
static inline uint64_t dec_word_stops(const uint8_t *p)
{
	uint64_t x;

	memcpy(&x, p, sizeof(x));
	/* Bytes >= 0x80 are plain here, so mask them out of the < 0x20 test. */
	return ((x - ONES * 0x20) & ~x & HIGHS) | has_zero(x ^ (ONES * '"')) |
	       has_zero(x ^ (ONES * '\\'));
}

/*
 * Length of the valid UTF-8 sequence that starts with the byte >= 0x80 at
 * 'p' ('n' bytes available), or 0 when Go's utf8.DecodeRune() would answer
 * RuneError with width 1: a stray continuation byte, an overlong form, a
 * surrogate, a code point above U+10FFFF, or a sequence cut short.
 */
static inline size_t utf8_valid_len(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];
	uint8_t lo = 0x80;
	uint8_t hi = 0xbf;
	size_t len;
	size_t i;

	if (c < 0xc2)
		return 0;
	if (c < 0xe0) {
		len = 2;
	} else if (c < 0xf0) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0; /* below is overlong */
		else if (c == 0xed)
			hi = 0x9f; /* above is a surrogate */
	} else if (c < 0xf5) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90; /* below is overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above is past U+10FFFF */
	} else {
		return 0;
	}
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	}
	return len;
}

static inline char *put_u00(char *d, uint8_t c)
{
	memcpy(d, "\\u00", 4);
	d[4] = hex_digits[c >> 4];
	d[5] = hex_digits[c & 0xf];
	return d + 6;
}

/* Write the escape of the ESC byte 'c'. */
static char *put_ascii_escape(char *d, uint8_t c)
{
	switch (c) {
	case '"':
	case '\\':
		d[0] = '\\';
		d[1] = (char)c;
		return d + 2;
	case '\n':
		memcpy(d, "\\n", 2);
		return d + 2;
	case '\r':
		memcpy(d, "\\r", 2);
		return d + 2;
	default:
		return put_u00(d, c);
	}
}

#if defined(__SSE2__)
/*
 * Bit i set when byte i of 'v' is not COPY in enc_class.  Compared as
 * signed, bytes at or above 0x80 are negative, so one test finds them with
 * those below 0x20; the folds are enc_word_stops()'s.
 */
static inline unsigned enc_vec_stops(__m128i v)
{
	__m128i m = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));

	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(_mm_or_si128(v, _mm_set1_epi8(0x02)),
					   _mm_set1_epi8('>')));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(_mm_or_si128(v, _mm_set1_epi8(0x04)),
					   _mm_set1_epi8('&')));
	return (unsigned)_mm_movemask_epi8(m);
}
#endif

/*
 * Copy the bytes from 'p' that go out as they are, up to the first that
 * does not or 'end'; returns how many.  Copies while it looks, a block at
 * a time, so a plain line is read once: a block is stored before it is
 * checked, which may write up to 15 bytes past what it counts.  That stays
 * within the caller's room, as every byte still to encode has 6 bytes of
 * it (jsonline_encode_bound()) and a block is stored only when 16 bytes are
 * left to encode.
 */
static inline size_t copy_plain(char *d, const uint8_t *p, const uint8_t *end)
{
	const uint8_t *start = p;

#if defined(__SSE2__)
	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		unsigned m;

		_mm_storeu_si128((__m128i *)(void *)d, v);
		m = enc_vec_stops(v);
		if (m != 0)
			return (size_t)(p - start) + (unsigned)__builtin_ctz(m);
		p += 16;
		d += 16;
	}
	/* The last 1 to 15 bytes of a run of 16 or more: the 16 bytes that
	 * end at 'end' are loaded, those before 'p' were found plain and are
	 * stored again where they already are.  A 100-byte line spent a
	 * quarter of its escaping time byte by byte in the tail. */
	if (p < end && end - start >= 16) {
		unsigned back = 16 - (unsigned)(end - p);
		__m128i v = _mm_loadu_si128(
			(const __m128i *)(const void *)(end - 16));
		unsigned m = enc_vec_stops(v) >> back;

		_mm_storeu_si128((__m128i *)(void *)(d - back), v);
		if (m != 0)
			return (size_t)(p - start) + (unsigned)__builtin_ctz(m);
		return (size_t)(end - start);
	}
#endif
	while (end - p >= 8 && enc_word_stops(p) == 0) {
		memcpy(d, p, 8);
		p += 8;
		d += 8;
	}
	while (p < end && enc_class[*p] == COPY)
		*d++ = (char)*p++;
	return (size_t)(p - start);
}

#if defined(HAVE_AVX2_PATH)
/* enc_vec_stops() for 32 bytes. */
__attribute__((target("avx2"))) static inline unsigned
enc_vec32_stops(__m256i v)
{
	__m256i m = _mm256_cmpgt_epi8(_mm256_set1_epi8(0x20), v);

	m = _mm256_or_si256(m, _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\')));
	m = _mm256_or_si256(
		m, _mm256_cmpeq_epi8(_mm256_or_si256(v, _mm256_set1_epi8(0x02)),
				     _mm256_set1_epi8('>')));
	m = _mm256_or_si256(
		m, _mm256_cmpeq_epi8(_mm256_or_si256(v, _mm256_set1_epi8(0x04)),
				     _mm256_set1_epi8('&')));
	return (unsigned)_mm256_movemask_epi8(m);
}

/*
 * copy_plain() 32 bytes at a time, with the same contract: a block is
 * stored only when 32 bytes are left to encode, so the caller's room
 * (6 bytes per byte to encode) holds it.  A run shorter than 32 bytes
 * goes to copy_plain().
 */
__attribute__((target("avx2"))) static size_t
copy_plain_avx2(char *d, const uint8_t *p, const uint8_t *end)
{
	const uint8_t *start = p;

	if (end - p < 32)
		return copy_plain(d, p, end);
	while (end - p >= 32) {
		__m256i v =
			_mm256_loadu_si256((const __m256i *)(const void *)p);
		unsigned m;

		_mm256_storeu_si256((__m256i *)(void *)d, v);
		m = enc_vec32_stops(v);
		if (m != 0)
			return (size_t)(p - start) + (unsigned)__builtin_ctz(m);
		p += 32;
		d += 32;
	}
	/* The last 1 to 31 bytes: the 32 that end at 'end', as in
	 * copy_plain(). */
	if (p < end) {
		unsigned back = 32 - (unsigned)(end - p);
		__m256i v = _mm256_loadu_si256(
			(const __m256i *)(const void *)(end - 32));
		unsigned m = enc_vec32_stops(v) >> back;

		_mm256_storeu_si256((__m256i *)(void *)(d - back), v);
		if (m != 0)
			return (size_t)(p - start) + (unsigned)__builtin_ctz(m);
	}
	return (size_t)(end - start);
}
#endif

/*
 * The byte at *pp, where copy_plain() stopped: an ASCII byte with an escape
 * of its own, or a UTF-8 sequence (valid, U+2028/U+2029, or not).  Writes
 * its escape at 'd', moves *pp past it and returns the new end.
 */
static char *escape_stop(char *d, const uint8_t **pp, const uint8_t *end)
{
	const uint8_t *p = *pp;
	size_t w;

	if (*p < 0x80) {
		*pp = p + 1;
		return put_ascii_escape(d, *p);
	}
	w = utf8_valid_len(p, (size_t)(end - p));
	if (w == 3 && p[0] == 0xe2 && p[1] == 0x80 &&
	    (p[2] == 0xa8 || p[2] == 0xa9)) {
		/* U+2028 and U+2029 end lines in JavaScript. */
		memcpy(d, p[2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
		*pp = p + 3;
		return d + 6;
	}
	if (w != 0) {
		memcpy(d, p, w); /* valid: goes out as it is */
		*pp = p + w;
		return d + w;
	}
	memcpy(d, "\\ufffd", 6);
	*pp = p + 1;
	return d + 6;
}

typedef size_t copy_plain_fn(char *d, const uint8_t *p, const uint8_t *end);
typedef char *escape_stop_fn(char *d, const uint8_t **pp, const uint8_t *end);

/*
 * Encode the 'n' bytes at 's' as the inside of a JSON string, as moby does:
 * '"', '\\', control bytes, '<', '>', '&', U+2028 and U+2029 are escaped and
 * each byte of an invalid UTF-8 sequence becomes U+FFFD; at most 6 bytes out
 * per byte in.  Returns the new end.  Always inlined, with 'copy' and 'stop'
 * known, so each caller gets its own loop with its copy_plain() inlined.
 */
static inline __attribute__((always_inline)) char *
escape_with(char *d, const uint8_t *s, size_t n, copy_plain_fn *copy,
	    escape_stop_fn *stop)
{
	const uint8_t *p = s;
	const uint8_t *end = s + n;
	size_t k;

	if (n == 0)
		return d; /* 's' may be NULL */
	for (;;) {
		k = copy(d, p, end);
		p += k;
		d += k;
		if (p == end)
			return d;
		d = stop(d, &p, end);
	}
}

static char *escape(char *d, const uint8_t *s, size_t n)
{
	return escape_with(d, s, n, copy_plain, escape_stop);
}

#if defined(HAVE_AVX2_PATH)
/* Bit i set when byte i of 'v' is '"' or '\\'. */
__attribute__((target("avx2"))) static inline unsigned quote_vec32(__m256i v)
{
	__m256i m = _mm256_cmpeq_epi8(v, _mm256_set1_epi8('"'));

	m = _mm256_or_si256(m, _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\')));
	return (unsigned)_mm256_movemask_epi8(m);
}

/*
 * The 32 bytes at 'p', already stored at 'd', whose only bytes to escape
 * are the '"' and '\\' at the bits of 'm': put a backslash before each.
 * For each, the block from that byte on is stored again one place further
 * on, so a quote costs a store and not a trip out of the loop: a 98-byte
 * JSON log line with 24 quotes took 130 ns to encode against 16 for a
 * plain one, most of it a mispredicted branch at each quote, and takes 75
 * this way.  Reads up to 63 bytes from 'p' and writes up to 95 from 'd'.
 * Returns the new end.
 */
__attribute__((target("avx2"))) static inline char *
quote_block(char *d, const uint8_t *p, unsigned m)
{
	unsigned k = 0; /* backslashes so far */

	do {
		unsigned i = (unsigned)__builtin_ctz(m);

		m &= m - 1;
		d[i + k] = '\\';
		k++;
		_mm256_storeu_si256(
			(__m256i *)(void *)(d + i + k),
			_mm256_loadu_si256(
				(const __m256i *)(const void *)(p + i)));
	} while (m != 0);
	return d + 32 + k;
}

/*
 * At a quote or a backslash with 64 bytes or more from *pp to 'end': while
 * quotes and backslashes are all the next 32 bytes hold to escape (JSON
 * logged as text), the block is escaped whole.  quote_block() reads that
 * far; its writes stay in the caller's room, 6 bytes for each of those 64
 * (jsonline_encode_bound()).  Then the byte it stopped at, if it is one
 * to escape.  Not inlined, so the loop of escape_avx2() stays as lean as
 * it was.
 */
__attribute__((target("avx2"), noinline)) static char *
quote_run(char *d, const uint8_t **pp, const uint8_t *end)
{
	const uint8_t *p = *pp;

	while (end - p >= 64) {
		__m256i v =
			_mm256_loadu_si256((const __m256i *)(const void *)p);
		unsigned m = enc_vec32_stops(v);

		if (m == 0 || m != quote_vec32(v))
			break;
		_mm256_storeu_si256((__m256i *)(void *)d, v);
		d = quote_block(d, p, m);
		p += 32;
	}
	*pp = p;
	if (p == end || enc_class[*p] == COPY)
		return d;
	return escape_stop(d, pp, end);
}

/*
 * escape_stop() for escape_avx2(): quotes and backslashes go to
 * quote_run(), every other byte to escape straight to escape_stop(), so
 * text with UTF-8 every few bytes pays no block it cannot use (a line of
 * Chinese took 470 ns to encode instead of 390 when every stop looked).
 */
__attribute__((target("avx2"))) static inline char *
escape_stop_avx2(char *d, const uint8_t **pp, const uint8_t *end)
{
	if ((**pp == '"' || **pp == '\\') && end - *pp >= 64)
		return quote_run(d, pp, end);
	return escape_stop(d, pp, end);
}

/* escape() 32 bytes at a time. */
__attribute__((target("avx2"))) static char *
escape_avx2(char *d, const uint8_t *s, size_t n)
{
	return escape_with(d, s, n, copy_plain_avx2, escape_stop_avx2);
}
#endif

/* A line's text: escape(), 32 bytes at a time where the CPU can. */
static char *escape_line(char *d, const uint8_t *s, size_t n)
{
#if defined(HAVE_AVX2_PATH)
	if (__builtin_cpu_supports("avx2"))
		return escape_avx2(d, s, n);
#endif
	return escape(d, s, n);
}

static size_t add_sat(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static size_t mul6_sat(size_t a)
{
	return a > SIZE_MAX / 6 ? SIZE_MAX : a * 6;
}

size_t jsonline_encode_bound(const struct log_entry *e, size_t attrs_len)
{
	/*
	 * 128 covers the braces, keys, quotes, commas, the \n escape, the
	 * time and the newline (79 bytes); every input byte becomes at most
	 * a 6-byte escape.
	 */
	size_t n = 128;

	n = add_sat(n, mul6_sat(e->line_len));
	n = add_sat(n, mul6_sat(e->source_len));
	return add_sat(n, attrs_len);
}

size_t jsonline_encode(char *dst, const struct log_entry *e, const char *attrs,
		       size_t attrs_len)
{
	bool newline = log_entry_ends_line(e);
	bool first = true;
	char *d = dst;

	*d++ = '{';
	/* Go leaves "log" out when the text, newline included, is empty. */
	if (e->line_len > 0 || newline) {
		memcpy(d, "\"log\":\"", 7);
		d = escape_line(d + 7, e->line, e->line_len);
		if (newline) {
			memcpy(d, "\\n", 2);
			d += 2;
		}
		*d++ = '"';
		first = false;
	}
	if (e->source_len > 0) {
		if (!first)
			*d++ = ',';
		memcpy(d, "\"stream\":\"", 10);
		d += 10;
		/* Nearly always one of the two: nothing to escape. */
		if (e->source_len == 6 &&
		    (memcmp(e->source, "stdout", 6) == 0 ||
		     memcmp(e->source, "stderr", 6) == 0)) {
			memcpy(d, e->source, 6);
			d += 6;
		} else {
			d = escape(d, (const uint8_t *)e->source,
				   e->source_len);
		}
		*d++ = '"';
		first = false;
	}
	if (attrs != NULL && attrs_len > 0) {
		if (!first)
			*d++ = ',';
		memcpy(d, "\"attrs\":", 8);
		memcpy(d + 8, attrs, attrs_len);
		d += 8 + attrs_len;
		first = false;
	}
	if (!first)
		*d++ = ',';
	memcpy(d, "\"time\":\"", 8);
	d += 8;
	d += jsonline_format_time(d, e->time_nano);
	memcpy(d, "\"}\n", 3);
	d += 3;
	return (size_t)(d - dst);
}

/*
 * Howard Hinnant's days_from_civil() and civil_from_days(): proleptic
 * Gregorian calendar, day 0 = 1970-01-01, exact for every int64 second.
 */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static char *put_digits(char *d, unsigned v, int width)
{
	int i;

	for (i = width - 1; i >= 0; i--) {
		d[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return d + width;
}

/* "00" to "99", for writing two digits at a time. */
static const char digit_pairs[200] = "0001020304050607080910111213141516171819"
				     "2021222324252627282930313233343536373839"
				     "4041424344454647484950515253545556575859"
				     "6061626364656667686970717273747576777879"
				     "8081828384858687888990919293949596979899";

/* The nine decimal digits of 'v' (below 10^9) into d, leading zeros kept. */
static void put_nine(char *d, uint32_t v)
{
	uint32_t lo = v % 100000000;
	uint32_t a = lo / 10000;
	uint32_t b = lo % 10000;

	d[0] = (char)('0' + v / 100000000);
	memcpy(d + 1, digit_pairs + 2 * (a / 100), 2);
	memcpy(d + 3, digit_pairs + 2 * (a % 100), 2);
	memcpy(d + 5, digit_pairs + 2 * (b / 100), 2);
	memcpy(d + 7, digit_pairs + 2 * (b % 100), 2);
}

/* "YYYY-MM-DDTHH:MM:SS" of 'sec' into d (19 bytes). */
static void format_second(char *d, int64_t sec)
{
	int64_t days, rem, year;
	unsigned month, day;

	days = sec / SEC_PER_DAY;
	rem = sec % SEC_PER_DAY;
	if (rem < 0) {
		rem += SEC_PER_DAY;
		days--;
	}
	civil_from_days(days, &year, &month, &day);
	/* int64 nanoseconds span the years 1677 to 2262: always 4 digits. */
	d = put_digits(d, (unsigned)year, 4);
	*d++ = '-';
	d = put_digits(d, month, 2);
	*d++ = '-';
	d = put_digits(d, day, 2);
	*d++ = 'T';
	d = put_digits(d, (unsigned)(rem / 3600), 2);
	*d++ = ':';
	d = put_digits(d, (unsigned)(rem / 60 % 60), 2);
	*d++ = ':';
	put_digits(d, (unsigned)(rem % 60), 2);
}

size_t jsonline_format_time(char *dst, int64_t time_nano)
{
	/* Lines come in bursts within one second: the date and time of day
	 * are worked out once per second per thread (they were an eighth of
	 * the plugin's CPU per line). */
	static _Thread_local int64_t cached_sec = INT64_MIN;
	static _Thread_local char cached[19];
	int64_t sec = time_nano / NS_PER_SEC;
	int64_t nsec = time_nano % NS_PER_SEC;
	char *d = dst;
	int width;

	if (nsec < 0) {
		nsec += NS_PER_SEC;
		sec--;
	}
	if (sec != cached_sec) {
		format_second(cached, sec);
		cached_sec = sec;
	}
	memcpy(d, cached, sizeof(cached));
	d += sizeof(cached);
	if (nsec != 0) {
		/* Go's .999999999: drop trailing zeros. */
		*d++ = '.';
		put_nine(d, (uint32_t)nsec);
		width = 9;
		while (d[width - 1] == '0')
			width--;
		d += width;
	}
	*d++ = 'Z';
	return (size_t)(d - dst);
}

/* The 'n' decimal digits at 's' as a number, or -1. */
static int parse_digits(const uint8_t *s, int n)
{
	int v = 0;
	int i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static unsigned days_in_month(unsigned m, int64_t y)
{
	static const unsigned char days[12] = {31, 28, 31, 30, 31, 30,
					       31, 31, 30, 31, 30, 31};
	bool leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);

	return m == 2 && leap ? 29 : days[m - 1];
}

int jsonline_parse_time(const char *s, size_t len, int64_t *out_ns)
{
	const uint8_t *p = (const uint8_t *)s;
	int year, month, day, hour, min, sec, v;
	int64_t nsec = 0;
	int64_t off = 0;
	int64_t secs;
	size_t i = 19;
	size_t ndig;

	/* The fixed part, "2006-01-02T15:04:05", as Go's parseRFC3339(). */
	if (len < 20 || p[4] != '-' || p[7] != '-' || p[10] != 'T' ||
	    p[13] != ':' || p[16] != ':')
		return -EINVAL;
	year = parse_digits(p, 4);
	month = parse_digits(p + 5, 2);
	day = parse_digits(p + 8, 2);
	hour = parse_digits(p + 11, 2);
	min = parse_digits(p + 14, 2);
	sec = parse_digits(p + 17, 2);
	if (year < 0 || month < 1 || month > 12 || day < 1 ||
	    (unsigned)day > days_in_month((unsigned)month, year) || hour < 0 ||
	    hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 59)
		return -EINVAL;
	if (p[i] == '.') {
		i++;
		for (ndig = 0; i < len && p[i] >= '0' && p[i] <= '9'; ndig++) {
			if (ndig == 9)
				return -EINVAL;
			nsec = nsec * 10 + (p[i++] - '0');
		}
		if (ndig == 0)
			return -EINVAL;
		for (; ndig < 9; ndig++)
			nsec *= 10;
	}
	if (len - i == 1 && p[i] == 'Z') {
		off = 0;
	} else if (len - i == 6 && (p[i] == '+' || p[i] == '-') &&
		   p[i + 3] == ':') {
		v = parse_digits(p + i + 1, 2);
		if (v < 0 || v > 23)
			return -EINVAL;
		off = (int64_t)v * 3600;
		v = parse_digits(p + i + 4, 2);
		if (v < 0 || v > 59)
			return -EINVAL;
		off += (int64_t)v * 60;
		if (p[i] == '-')
			off = -off;
	} else {
		return -EINVAL;
	}
	/* Years 0 to 9999 cannot overflow int64 seconds. */
	secs = days_from_civil(year, (unsigned)month, (unsigned)day);
	secs = secs * SEC_PER_DAY + (int64_t)hour * 3600 + (int64_t)min * 60 +
	       sec - off;
	/* int64 ns span -9223372036.854775808 s to 9223372036.854775807 s. */
	if (secs > INT64_MAX / NS_PER_SEC ||
	    (secs == INT64_MAX / NS_PER_SEC && nsec > INT64_MAX % NS_PER_SEC))
		return -EINVAL;
	if (secs < INT64_MIN / NS_PER_SEC - 1 ||
	    (secs == INT64_MIN / NS_PER_SEC - 1 &&
	     nsec < NS_PER_SEC + INT64_MIN % NS_PER_SEC))
		return -EINVAL;
	/* Near INT64_MIN, secs * 1e9 alone would overflow: add nsec first. */
	if (secs < 0 && nsec > 0)
		*out_ns = (secs + 1) * NS_PER_SEC - (NS_PER_SEC - nsec);
	else
		*out_ns = secs * NS_PER_SEC + nsec;
	return 0;
}

static const uint8_t *skip_ws(const uint8_t *p, const uint8_t *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

/* The four hex digits at 'p' as a number, or -1. */
static int32_t parse_hex4(const uint8_t *p, const uint8_t *end)
{
	int32_t v = 0;
	int i;
	uint8_t c;

	if (end - p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		c = p[i];
		if (c >= '0' && c <= '9')
			v = v * 16 + (c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v = v * 16 + ((c | 0x20) - 'a' + 10);
		else
			return -1;
	}
	return v;
}

static uint8_t *put_utf8(uint8_t *o, uint32_t cp)
{
	if (cp < 0x80) {
		*o++ = (uint8_t)cp;
	} else if (cp < 0x800) {
		*o++ = (uint8_t)(0xc0 | cp >> 6);
		*o++ = (uint8_t)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (uint8_t)(0xe0 | cp >> 12);
		*o++ = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (uint8_t)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (uint8_t)(0xf0 | cp >> 18);
		*o++ = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
		*o++ = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (uint8_t)(0x80 | (cp & 0x3f));
	}
	return o;
}

/*
 * Read the JSON string whose opening quote is just before 'p', unescaped,
 * into 'o' (never more bytes than the string takes in the input).  Returns
 * the position after the closing quote with its length in *out_len, or NULL
 * when it is not a valid JSON string.  Bytes >= 0x80 are copied as they are.
 */
static const uint8_t *parse_string(const uint8_t *p, const uint8_t *end,
				   uint8_t *o, size_t *out_len)
{
	uint8_t *start = o;
	const uint8_t *run;
	int32_t cp, lo;

	for (;;) {
		run = p;
		while (end - p >= 8 && dec_word_stops(p) == 0)
			p += 8;
		while (p < end && dec_stop[*p] == 0)
			p++;
		if (p != run) {
			memcpy(o, run, (size_t)(p - run));
			o += p - run;
		}
		if (p == end || *p < 0x20)
			return NULL;
		if (*p == '"')
			break;
		/* A backslash. */
		if (end - p < 2)
			return NULL;
		p += 2;
		switch (p[-1]) {
		case '"':
		case '\\':
		case '/':
			*o++ = p[-1];
			break;
		case 'b':
			*o++ = '\b';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'u':
			cp = parse_hex4(p, end);
			if (cp < 0)
				return NULL;
			p += 4;
			if (cp >= 0xd800 && cp <= 0xdfff) {
				/*
				 * As Go: a high surrogate takes a following
				 * \u low surrogate; anything else leaves
				 * U+FFFD and the next escape is read alone.
				 */
				lo = -1;
				if (cp < 0xdc00 && end - p >= 6 &&
				    p[0] == '\\' && p[1] == 'u')
					lo = parse_hex4(p + 2, end);
				if (lo >= 0xdc00 && lo <= 0xdfff) {
					cp = 0x10000 + ((cp - 0xd800) << 10) +
					     (lo - 0xdc00);
					p += 6;
				} else {
					cp = 0xfffd;
				}
			}
			o = put_utf8(o, (uint32_t)cp);
			break;
		default:
			return NULL;
		}
	}
	*out_len = (size_t)(o - start);
	return p + 1;
}

/* Skip a JSON number per RFC 8259; returns NULL when there is none. */
static const uint8_t *skip_number(const uint8_t *p, const uint8_t *end)
{
	if (p < end && *p == '-')
		p++;
	if (p == end)
		return NULL;
	if (*p == '0') {
		p++;
	} else if (*p >= '1' && *p <= '9') {
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	} else {
		return NULL;
	}
	if (p < end && *p == '.') {
		p++;
		if (p == end || *p < '0' || *p > '9')
			return NULL;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || *p < '0' || *p > '9')
			return NULL;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	return p;
}

static bool is_literal(const uint8_t *p, const uint8_t *end, const char *lit,
		       size_t n)
{
	return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}

/*
 * Skip `"key" :` with 'p' at the opening quote, using 'tmp' as scratch.
 * Returns the position of the value (after white space), or NULL.
 */
static const uint8_t *skip_key(const uint8_t *p, const uint8_t *end,
			       uint8_t *tmp)
{
	size_t n;

	if (p == end || *p != '"')
		return NULL;
	p = parse_string(p + 1, end, tmp, &n);
	if (p == NULL)
		return NULL;
	p = skip_ws(p, end);
	if (p == end || *p != ':')
		return NULL;
	return skip_ws(p + 1, end);
}

/*
 * Skip any one JSON value at 'p', nested at most DEPTH_MAX deep, using 'tmp'
 * (room for the longest string) as scratch.  Returns the position after it,
 * or NULL when it is not valid JSON.
 */
static const uint8_t *skip_value(const uint8_t *p, const uint8_t *end,
				 uint8_t *tmp)
{
	uint64_t is_object[DEPTH_MAX / 64] = {0}; /* bit set: an object */
	unsigned depth = 0;
	bool in_object;
	size_t n;

value:
	if (p == end)
		return NULL;
	switch (*p) {
	case '{':
	case '[':
		if (depth == DEPTH_MAX)
			return NULL;
		in_object = *p == '{';
		if (in_object)
			is_object[depth / 64] |= 1ULL << (depth % 64);
		else
			is_object[depth / 64] &= ~(1ULL << (depth % 64));
		depth++;
		p = skip_ws(p + 1, end);
		if (p < end && *p == (in_object ? '}' : ']')) {
			p++;
			depth--;
			goto close;
		}
		if (in_object) {
			p = skip_key(p, end, tmp);
			if (p == NULL)
				return NULL;
		}
		goto value;
	case '"':
		p = parse_string(p + 1, end, tmp, &n);
		break;
	case 't':
		p = is_literal(p, end, "true", 4) ? p + 4 : NULL;
		break;
	case 'f':
		p = is_literal(p, end, "false", 5) ? p + 5 : NULL;
		break;
	case 'n':
		p = is_literal(p, end, "null", 4) ? p + 4 : NULL;
		break;
	default:
		p = skip_number(p, end);
		break;
	}
	if (p == NULL)
		return NULL;
close:
	/* A value just ended; 'depth' containers are still open. */
	while (depth > 0) {
		in_object =
			(is_object[(depth - 1) / 64] >> ((depth - 1) % 64)) & 1;
		p = skip_ws(p, end);
		if (p == end)
			return NULL;
		if (*p == ',') {
			p = skip_ws(p + 1, end);
			if (in_object) {
				p = skip_key(p, end, tmp);
				if (p == NULL)
					return NULL;
			}
			goto value;
		}
		if (*p != (in_object ? '}' : ']'))
			return NULL;
		p++;
		depth--;
	}
	return p;
}

enum key { KEY_OTHER, KEY_LOG, KEY_STREAM, KEY_TIME };

/*
 * Which field the key 'k' names.  Go's encoding/json takes a key that
 * matches a field name case-insensitively (strings.EqualFold), so "LOG"
 * and "Stream" count, and so does U+017F (long s, C5 BF), which folds to
 * 'S'; no other non-ASCII character folds into "log", "stream" or "time".
 */
static enum key key_lookup(const uint8_t *k, size_t n)
{
	static const struct {
		const char *name; /* upper case */
		enum key key;
	} keys[] = {
		{"LOG", KEY_LOG},
		{"STREAM", KEY_STREAM},
		{"TIME", KEY_TIME},
	};
	size_t i, j, at;
	const char *name;
	uint8_t c;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		name = keys[i].name;
		at = 0;
		for (j = 0; name[j] != '\0' && at < n; j++) {
			c = k[at++];
			if (c == 0xc5 && at < n && k[at] == 0xbf) {
				c = 'S';
				at++;
			} else if (c >= 'a' && c <= 'z') {
				c = (uint8_t)(c - 'a' + 'A');
			}
			if (c != (uint8_t)name[j])
				break;
		}
		if (name[j] == '\0' && at == n)
			return keys[i].key;
	}
	return KEY_OTHER;
}

int jsonline_decode(const char *line, size_t len, char *scratch,
		    size_t scratch_cap, struct jsonline_record *out)
{
	const uint8_t *p = (const uint8_t *)line;
	const uint8_t *end = p + len;
	const uint8_t *start;
	uint8_t *buf = (uint8_t *)scratch;
	struct jsonline_record rec = {.log = "", .stream = ""};
	bool have_time = false;
	size_t used = 0;
	size_t n;
	enum key key;

	/*
	 * Unescaping never makes a string longer, and the strings kept lie
	 * in disjoint parts of the line, so 'used' plus the string being
	 * read never exceeds the bytes read so far: 'len' bytes of scratch
	 * are always enough.  Keys and skipped strings go to buf + used and
	 * are overwritten by the next one.
	 */
	if (scratch_cap < len)
		return -ENOBUFS;
	p = skip_ws(p, end);
	if (p == end || *p != '{')
		return -EINVAL;
	p = skip_ws(p + 1, end);
	if (p < end && *p == '}') {
		p++;
		goto done;
	}
	for (;;) {
		if (p == end || *p != '"')
			return -EINVAL;
		p = parse_string(p + 1, end, buf + used, &n);
		if (p == NULL)
			return -EINVAL;
		key = key_lookup(buf + used, n);
		p = skip_ws(p, end);
		if (p == end || *p != ':')
			return -EINVAL;
		p = skip_ws(p + 1, end);
		if (key != KEY_OTHER && is_literal(p, end, "null", 4)) {
			/* Go leaves the field as it was. */
			p += 4;
		} else if (key == KEY_LOG || key == KEY_STREAM) {
			if (p == end || *p != '"')
				return -EINVAL;
			p = parse_string(p + 1, end, buf + used, &n);
			if (p == NULL)
				return -EINVAL;
			if (key == KEY_LOG) {
				rec.log = (const char *)buf + used;
				rec.log_len = n;
			} else {
				rec.stream = (const char *)buf + used;
				rec.stream_len = n;
			}
			used += n;
		} else if (key == KEY_TIME) {
			if (p == end || *p != '"')
				return -EINVAL;
			start = p + 1;
			p = parse_string(start, end, buf + used, &n);
			if (p == NULL)
				return -EINVAL;
			/*
			 * Go's Time.UnmarshalJSON() parses the raw text
			 * between the quotes: an escape there is an error.
			 */
			if (jsonline_parse_time((const char *)start,
						(size_t)(p - 1 - start),
						&rec.time_nano) != 0)
				return -EINVAL;
			have_time = true;
		} else {
			p = skip_value(p, end, buf + used);
			if (p == NULL)
				return -EINVAL;
		}
		p = skip_ws(p, end);
		if (p == end)
			return -EINVAL;
		if (*p == '}') {
			p++;
			break;
		}
		if (*p != ',')
			return -EINVAL;
		p = skip_ws(p + 1, end);
	}
done:
	if (skip_ws(p, end) != end || !have_time)
		return -EINVAL;
	*out = rec;
	return 0;
}
