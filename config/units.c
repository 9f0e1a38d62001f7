/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parsers for sizes, whole numbers, booleans and durations (see units.h).
 * Each checks the whole syntax first and computes second, so a string that
 * is both malformed and huge is -EINVAL, never -ERANGE.  All arithmetic is
 * on uint64_t with explicit overflow checks; there is no floating point, so
 * no float-to-integer conversion can be undefined.
 */
#include "config/units.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

/* Go's limit for a duration's magnitude and for intermediate sums: 2^63. */
#define MAG_LIMIT ((uint64_t)1 << 63)

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char lower(char c)
{
	if (c >= 'A' && c <= 'Z')
		return (char)(c - 'A' + 'a');
	return c;
}

/* *acc = *acc * mul + add, or false (and *acc unchanged) past 'limit'. */
static bool mul_add(uint64_t *acc, uint64_t mul, uint64_t add, uint64_t limit)
{
	uint64_t v = *acc;

	if (mul != 0 && v > limit / mul)
		return false;
	v *= mul;
	if (add > limit - v)
		return false;
	*acc = v + add;
	return true;
}

/* The decimal exponent of a size unit letter, or -1. */
static int size_exponent(char c)
{
	switch (lower(c)) {
	case 'k':
		return 3;
	case 'm':
		return 6;
	case 'g':
		return 9;
	case 't':
		return 12;
	case 'p':
		return 15;
	default:
		return -1;
	}
}

/*
 * Check that 'sfx' is a whole size suffix ("", "b", or a unit letter with
 * an optional "b" or "ib") and return its decimal exponent, or -1.
 */
static int size_suffix(const char *sfx)
{
	int e;

	if (sfx[0] == '\0')
		return 0;
	if (lower(sfx[0]) == 'b')
		return sfx[1] == '\0' ? 0 : -1;
	e = size_exponent(sfx[0]);
	if (e < 0)
		return -1;
	if (sfx[1] == '\0')
		return e;
	if (lower(sfx[1]) == 'b' && sfx[2] == '\0')
		return e;
	if (lower(sfx[1]) == 'i' && lower(sfx[2]) == 'b' && sfx[3] == '\0')
		return e;
	return -1;
}

int units_parse_size(const char *s, uint64_t *out)
{
	const char *int_start, *frac_start = NULL, *p = s;
	size_t int_len, frac_len = 0, i;
	uint64_t v = 0;
	int exp;

	int_start = p;
	while (is_digit(*p))
		p++;
	int_len = (size_t)(p - int_start);
	if (int_len == 0)
		return -EINVAL;
	if (*p == '.') {
		frac_start = ++p;
		while (is_digit(*p))
			p++;
		frac_len = (size_t)(p - frac_start);
		if (frac_len == 0)
			return -EINVAL;
	}
	if (*p == ' ')
		p++;
	exp = size_suffix(p);
	if (exp < 0)
		return -EINVAL;

	for (i = 0; i < int_len; i++) {
		if (!mul_add(&v, 10, (uint64_t)(int_start[i] - '0'),
			     UNITS_SIZE_MAX))
			return -ERANGE;
	}
	/*
	 * Every multiplier is a power of ten, so the exact value rounded down
	 * is the integer part followed by the first 'exp' fraction digits.
	 */
	for (i = 0; i < (size_t)exp; i++) {
		uint64_t d = 0;

		if (i < frac_len)
			d = (uint64_t)(frac_start[i] - '0');
		if (!mul_add(&v, 10, d, UNITS_SIZE_MAX))
			return -ERANGE;
	}
	*out = v;
	return 0;
}

int units_parse_int(const char *s, int64_t *out)
{
	const char *p = s;
	bool neg = false;
	uint64_t v = 0, limit;

	if (*p == '+' || *p == '-') {
		neg = *p == '-';
		p++;
	}
	if (*p == '\0')
		return -EINVAL;
	for (const char *q = p; *q != '\0'; q++) {
		if (!is_digit(*q))
			return -EINVAL;
	}
	limit = neg ? MAG_LIMIT : (uint64_t)INT64_MAX;
	for (; *p != '\0'; p++) {
		if (!mul_add(&v, 10, (uint64_t)(*p - '0'), limit))
			return -ERANGE;
	}
	if (!neg)
		*out = (int64_t)v;
	else if (v == MAG_LIMIT)
		*out = INT64_MIN;
	else
		*out = -(int64_t)v;
	return 0;
}

int units_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"1",	  "t",	  "T",
					  "TRUE", "true", "True"};
	static const char *const no[] = {"0",	  "f",	   "F",
					 "FALSE", "false", "False"};
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * A duration unit as c * 10^e nanoseconds; c is 1, 6 or 36, which keeps
 * c * (a 17-digit fraction) below 2^63.
 */
struct dur_unit {
	const char *name;
	uint64_t c;
	unsigned e;
};

static const struct dur_unit dur_units[] = {
	{"ns", 1, 0}, {"us", 1, 3}, {"\xc2\xb5s", 1, 3}, {"\xce\xbcs", 1, 3},
	{"ms", 1, 6}, {"s", 1, 9},  {"m", 6, 10},	 {"h", 36, 11},
};

#define DUR_FRAC_DIGITS 17

static uint64_t pow10u(unsigned n)
{
	uint64_t v = 1;

	while (n-- > 0)
		v *= 10;
	return v;
}

static const struct dur_unit *dur_unit_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(dur_units) / sizeof(dur_units[0]); i++) {
		if (strlen(dur_units[i].name) == len &&
		    memcmp(dur_units[i].name, name, len) == 0)
			return &dur_units[i];
	}
	return NULL;
}

/*
 * One "<number><unit>" term of a duration, added to *total.  Returns the
 * position after it, or NULL with *rc set.  Syntax errors anywhere in the
 * string win over overflow, so overflow is only remembered in *range.
 */
static const char *dur_term(const char *p, uint64_t *total, bool *range,
			    int *rc)
{
	const struct dur_unit *u;
	const char *int_start, *frac_start = NULL, *unit_start;
	size_t int_len, frac_len = 0, k, i;
	uint64_t v = 0, f = 0, frac_ns;

	int_start = p;
	while (is_digit(*p))
		p++;
	int_len = (size_t)(p - int_start);
	if (*p == '.') {
		frac_start = ++p;
		while (is_digit(*p))
			p++;
		frac_len = (size_t)(p - frac_start);
	}
	if (int_len == 0 && frac_len == 0) {
		*rc = -EINVAL;
		return NULL;
	}
	/* As in Go, the unit is everything up to the next digit or '.'. */
	unit_start = p;
	while (*p != '\0' && *p != '.' && !is_digit(*p))
		p++;
	u = dur_unit_find(unit_start, (size_t)(p - unit_start));
	if (u == NULL) {
		*rc = -EINVAL;
		return NULL;
	}
	if (*range)
		return p;

	for (i = 0; i < int_len; i++) {
		if (!mul_add(&v, 10, (uint64_t)(int_start[i] - '0'),
			     MAG_LIMIT)) {
			*range = true;
			return p;
		}
	}
	if (!mul_add(&v, u->c * pow10u(u->e), 0, MAG_LIMIT)) {
		*range = true;
		return p;
	}
	k = frac_len < DUR_FRAC_DIGITS ? frac_len : DUR_FRAC_DIGITS;
	for (i = 0; i < k; i++)
		f = f * 10 + (uint64_t)(frac_start[i] - '0');
	/* floor(c * 10^e * f / 10^k), exact in 64 bits (see dur_unit). */
	if (k <= u->e)
		frac_ns = u->c * f * pow10u(u->e - (unsigned)k);
	else
		frac_ns = u->c * f / pow10u((unsigned)k - u->e);
	if (!mul_add(&v, 1, frac_ns, MAG_LIMIT) ||
	    !mul_add(total, 1, v, MAG_LIMIT))
		*range = true;
	return p;
}

int units_parse_duration(const char *s, int64_t *out_ns)
{
	const char *p = s;
	uint64_t total = 0;
	bool neg = false, range = false;
	int rc = 0;

	if (*p == '+' || *p == '-') {
		neg = *p == '-';
		p++;
	}
	if (strcmp(p, "0") == 0) {
		*out_ns = 0;
		return 0;
	}
	if (*p == '\0')
		return -EINVAL;
	while (*p != '\0') {
		p = dur_term(p, &total, &range, &rc);
		if (p == NULL)
			return rc;
	}
	if (range || (!neg && total > (uint64_t)INT64_MAX))
		return -ERANGE;
	if (!neg)
		*out_ns = (int64_t)total;
	else if (total == MAG_LIMIT)
		*out_ns = INT64_MIN;
	else
		*out_ns = -(int64_t)total;
	return 0;
}
