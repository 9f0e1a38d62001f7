/* SPDX-License-Identifier: Apache-2.0 */
/*
 * units_parse_*() against tables taken from the Go functions they follow
 * (docker/go-units size_test.go, strconv's ParseBool and Atoi, time's
 * ParseDuration tests), restricted to what the headers promise, plus the
 * overflow edges of each.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/units.h"

#define KB INT64_C(1000)
#define MB (1000 * KB)
#define GB (1000 * MB)
#define TB (1000 * GB)
#define PB (1000 * TB)

#define NS INT64_C(1)
#define US (1000 * NS)
#define MS (1000 * US)
#define S  (1000 * MS)
#define M  (60 * S)
#define H  (60 * M)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct size_ok {
	const char *in;
	uint64_t want;
};

static void test_size_good(void **state)
{
	static const struct size_ok cases[] = {
		/* go-units TestFromHumanSize, the part both versions pass */
		{"0", 0},
		{"0b", 0},
		{"0B", 0},
		{"0 B", 0},
		{"0 ", 0},
		{"32", 32},
		{"32b", 32},
		{"32B", 32},
		{"32k", 32 * KB},
		{"32K", 32 * KB},
		{"32kb", 32 * KB},
		{"32Kb", 32 * KB},
		{"32Mb", 32 * MB},
		{"32Gb", 32 * GB},
		{"32Tb", 32 * TB},
		{"32Pb", 32 * PB},
		{"32.5kB", 32500},
		{"32.5 kB", 32500},
		{"32.5 B", 32},
		{"0.3 K", 300},
		/* the 'i' is accepted and still decimal, as in FromHumanSize */
		{"1kib", 1000},
		{"1KiB", 1000},
		{"1 MiB", 1000000},
		{"2GIB", 2 * GB},
		/* what the options' messages promise */
		{"100k", 100000},
		{"500k", 500000},
		{"1m", 1000000},
		{"2.5m", 2500000},
		{"1g", 1000000000},
		{"1t", TB},
		{"1p", PB},
		{"10 mb", 10 * MB},
		{"20m", 20000000},
		/* exact fractions, rounded down */
		{"1.9", 1},
		{"0.0015k", 1},
		{"0.0009k", 0},
		{"16.384k", 16384},
		{"1.23456789p", 1234567890000000},
		{"0.000000000000001p", 1},
		{"0.0000000000000019p", 1},
		{"1.000000000000000000000000000000001k", 1000},
		{"007k", 7000},
		{"4096", 4096},
		/* the largest size, written three ways */
		{"9223372036854775807", 9223372036854775807u},
		{"9223372036854775807b", 9223372036854775807u},
		{"9223372.036854775807t", 9223372036854775807u},
		{"9223.3720368547758079999p", 9223372036854775807u},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		uint64_t v = 12345;
		int rc = units_parse_size(cases[i].in, &v);

		if (rc != 0 || v != cases[i].want)
			fail_msg("size \"%s\": rc %d value %llu, want %llu",
				 cases[i].in, rc, (unsigned long long)v,
				 (unsigned long long)cases[i].want);
	}
}

static void test_size_bad(void **state)
{
	static const struct {
		const char *in;
		int rc;
	} cases[] = {
		/* go-units assertError cases */
		{"", -EINVAL},
		{"hello", -EINVAL},
		{".", -EINVAL},
		{". ", -EINVAL},
		{" ", -EINVAL},
		{"  ", -EINVAL},
		{" .", -EINVAL},
		{" . ", -EINVAL},
		{" 0", -EINVAL},
		{" 0b", -EINVAL},
		{"0b ", -EINVAL},
		{"0B ", -EINVAL},
		{"0 B ", -EINVAL},
		{"-32", -EINVAL},
		{"-32b", -EINVAL},
		{"-32 B", -EINVAL},
		{"32b.", -EINVAL},
		{"32 b.", -EINVAL},
		{"32 bb", -EINVAL},
		{"32 b b", -EINVAL},
		{"32  b", -EINVAL},
		{"32  B", -EINVAL},
		{" 32 ", -EINVAL},
		{"32m b", -EINVAL},
		{"32bm", -EINVAL},
		/* accepted by only one go-units generation */
		{"32.", -EINVAL},
		{"32.b", -EINVAL},
		{".3kB", -EINVAL},
		{"-0", -EINVAL},
		{"1e3", -EINVAL},
		{"0x1p4", -EINVAL},
		{"5ki", -EINVAL},
		{"5ib", -EINVAL},
		{"5i", -EINVAL},
		{"1kix", -EINVAL},
		{"1mbi", -EINVAL},
		{"1 kb ", -EINVAL},
		{"1.2.3", -EINVAL},
		/* other garbage */
		{"+1", -EINVAL},
		{"1,5m", -EINVAL},
		{"1m/s", -EINVAL},
		{"1mbb", -EINVAL},
		{"1 kibb", -EINVAL},
		{"1x", -EINVAL},
		{"1e", -EINVAL},
		{"inf", -EINVAL},
		{"NaN", -EINVAL},
		{"1m\n", -EINVAL},
		{"1\tm", -EINVAL},
		{"\xef\xbc\x91", -EINVAL}, /* a full-width digit one */
		/* too large */
		{"9223372036854775808", -ERANGE},
		{"9223372036854775808b", -ERANGE},
		{"9223372036854776k", -ERANGE},
		{"10000p", -ERANGE},
		{"9223.372036854775808p", -ERANGE},
		{"99999999999999999999999999999999999999", -ERANGE},
		/* malformed wins over huge */
		{"99999999999999999999999999x", -EINVAL},
		{"99999999999999999999999999p ", -EINVAL},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		uint64_t v = 12345;
		int rc = units_parse_size(cases[i].in, &v);

		if (rc != cases[i].rc || v != 12345)
			fail_msg("size \"%s\": rc %d value %llu, want rc %d",
				 cases[i].in, rc, (unsigned long long)v,
				 cases[i].rc);
	}
}

static void test_int(void **state)
{
	static const struct {
		const char *in;
		int rc;
		int64_t want;
	} cases[] = {
		{"0", 0, 0},
		{"5", 0, 5},
		{"+5", 0, 5},
		{"-3", 0, -3},
		{"007", 0, 7},
		{"-0", 0, 0},
		{"9223372036854775807", 0, INT64_MAX},
		{"-9223372036854775808", 0, INT64_MIN},
		{"00000000000000000000000000001", 0, 1},
		{"", -EINVAL, 0},
		{"+", -EINVAL, 0},
		{"-", -EINVAL, 0},
		{" 5", -EINVAL, 0},
		{"5 ", -EINVAL, 0},
		{"1_000", -EINVAL, 0},
		{"0x10", -EINVAL, 0},
		{"1.0", -EINVAL, 0},
		{"5k", -EINVAL, 0},
		{"--5", -EINVAL, 0},
		{"+-5", -EINVAL, 0},
		{"9223372036854775808", -ERANGE, 0},
		{"-9223372036854775809", -ERANGE, 0},
		{"99999999999999999999999", -ERANGE, 0},
		{"99999999999999999999999a", -EINVAL, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		int64_t v = 42;
		int rc = units_parse_int(cases[i].in, &v);
		int64_t want = cases[i].rc == 0 ? cases[i].want : 42;

		if (rc != cases[i].rc || v != want)
			fail_msg("int \"%s\": rc %d value %lld, want rc %d "
				 "value %lld",
				 cases[i].in, rc, (long long)v, cases[i].rc,
				 (long long)want);
	}
}

static void test_bool(void **state)
{
	static const char *const yes[] = {"1",	  "t",	  "T",
					  "TRUE", "true", "True"};
	static const char *const no[] = {"0",	  "f",	   "F",
					 "FALSE", "false", "False"};
	static const char *const bad[] = {
		"",   "yes", "no",    "on",    "off",	 "tRUE", "TRue",
		"2",  "-1",  "true ", " true", "y",	 "n",	 "00",
		"10", "fa",  "falsE", "FALSe", "true\n", "T\t",
	};
	size_t i;
	bool v;

	(void)state;
	for (i = 0; i < ARRAY_LEN(yes); i++) {
		v = false;
		assert_int_equal(units_parse_bool(yes[i], &v), 0);
		assert_true(v);
		v = true;
		assert_int_equal(units_parse_bool(no[i], &v), 0);
		assert_false(v);
	}
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		v = true;
		if (units_parse_bool(bad[i], &v) != -EINVAL || !v)
			fail_msg("bool \"%s\" was accepted", bad[i]);
	}
}

static void test_duration_good(void **state)
{
	static const struct {
		const char *in;
		int64_t want;
	} cases[] = {
		/* time.ParseDuration's own test table */
		{"0", 0},
		{"5s", 5 * S},
		{"30s", 30 * S},
		{"1478s", 1478 * S},
		{"-5s", -5 * S},
		{"+5s", 5 * S},
		{"-0", 0},
		{"+0", 0},
		{"5.0s", 5 * S},
		{"5.6s", 5 * S + 600 * MS},
		{"5.s", 5 * S},
		{".5s", 500 * MS},
		{"1.0s", 1 * S},
		{"1.00s", 1 * S},
		{"1.004s", 1 * S + 4 * MS},
		{"1.0040s", 1 * S + 4 * MS},
		{"100.00100s", 100 * S + 1 * MS},
		{"10ns", 10 * NS},
		{"11us", 11 * US},
		{"12\xc2\xb5s", 12 * US}, /* U+00B5 */
		{"12\xce\xbcs", 12 * US}, /* U+03BC */
		{"13ms", 13 * MS},
		{"14s", 14 * S},
		{"15m", 15 * M},
		{"16h", 16 * H},
		{"3h30m", 3 * H + 30 * M},
		{"10.5s4m", 4 * M + 10 * S + 500 * MS},
		{"-2m3.4s", -(2 * M + 3 * S + 400 * MS)},
		{"1h2m3s4ms5us6ns",
		 1 * H + 2 * M + 3 * S + 4 * MS + 5 * US + 6},
		{"39h9m14.425s", 39 * H + 9 * M + 14 * S + 425 * MS},
		{"52763797000ns", 52763797000},
		{"9007199254740993ns", (INT64_C(1) << 53) + 1},
		{"9223372036854775807ns", INT64_MAX},
		{"9223372036854775.807us", INT64_MAX},
		{"9223372036s854ms775us807ns", INT64_MAX},
		{"-9223372036854775808ns", INT64_MIN},
		{"-9223372036854775.808us", INT64_MIN},
		{"-9223372036s854ms775us808ns", INT64_MIN},
		{"-2562047h47m16.854775808s", INT64_MIN},
		{"0.100000000000000000000h", 6 * M},
		{"0.830103483285477580700h", 49 * M + 48 * S + 372539827 * NS},
		/* exact and rounded toward zero (Go's float64 gives 20m) */
		{"0.3333333333333333333h", 20 * M - 1},
		{"-0.3333333333333333333h", -(20 * M - 1)},
		/* what KEEP_STOPPED's message promises */
		{"168h", 168 * H},
		{"30m", 30 * M},
		{"1h30m", 90 * M},
		{"72h", 72 * H},
		{"1.5h", 90 * M},
		{"0s", 0},
		{"0h0m", 0},
		{"1h1h", 2 * H},
		{"0.000000001s", 1},
		{"0.0000000009s", 0},
		{"2562047h", 2562047 * H},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		int64_t v = 42;
		int rc = units_parse_duration(cases[i].in, &v);

		if (rc != 0 || v != cases[i].want)
			fail_msg("duration \"%s\": rc %d value %lld, want "
				 "%lld",
				 cases[i].in, rc, (long long)v,
				 (long long)cases[i].want);
	}
}

static void test_duration_bad(void **state)
{
	static const struct {
		const char *in;
		int rc;
	} cases[] = {
		/* time.ParseDuration's invalid and overflow cases */
		{"", -EINVAL},
		{"3", -EINVAL},
		{"-", -EINVAL},
		{"s", -EINVAL},
		{".", -EINVAL},
		{"-.", -EINVAL},
		{".s", -EINVAL},
		{"+.s", -EINVAL},
		{"1d", -EINVAL},
		{"\x85\x85", -EINVAL},
		{"\xff"
		 "ff",
		 -EINVAL},
		{"hello \xff"
		 "ff world",
		 -EINVAL},
		{"\xef\xbf\xbd", -EINVAL},
		{"9223372036854775810ns", -ERANGE},
		{"9223372036854775808ns", -ERANGE},
		{"-9223372036854775809ns", -ERANGE},
		{"9223372036854776us", -ERANGE},
		{"3000000h", -ERANGE},
		{"9223372036854775.808us", -ERANGE},
		{"9223372036854ms775us808ns", -ERANGE},
		/* more */
		{"00", -EINVAL},
		{"1", -EINVAL},
		{"168", -EINVAL},
		{"1h ", -EINVAL},
		{" 1h", -EINVAL},
		{"1H", -EINVAL},
		{"1 h", -EINVAL},
		{"1.5.5s", -EINVAL},
		{"1h-1m", -EINVAL},
		{"--1h", -EINVAL},
		{"1w", -EINVAL},
		{"1sec", -EINVAL},
		{"1\xc2s", -EINVAL},
		{"2562048h", -ERANGE},
		{"1h9223372036854775807ns", -ERANGE},
		{"99999999999999999999999h", -ERANGE},
		/* malformed wins over huge, wherever it is */
		{"99999999999999999999999h1x", -EINVAL},
		{"3000000h1", -EINVAL},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		int64_t v = 42;
		int rc = units_parse_duration(cases[i].in, &v);

		if (rc != cases[i].rc || v != 42)
			fail_msg("duration \"%s\": rc %d value %lld, want rc "
				 "%d",
				 cases[i].in, rc, (long long)v, cases[i].rc);
	}
}

/*
 * Every whole size from 0 to 100000 and a spread of large ones, written in
 * each unit that represents it exactly, parses back to itself.
 */
static void test_size_round_trip(void **state)
{
	static const char units[] = "bkmgtp";
	char buf[64];
	uint64_t v, got, mul;
	size_t u;
	int i;

	(void)state;
	for (v = 0; v <= 100000; v += 7) {
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
		assert_int_equal(units_parse_size(buf, &got), 0);
		assert_int_equal(got, v);
	}
	for (i = 0; i < 63; i++) {
		v = ((uint64_t)1 << i) | 1;
		for (u = 0, mul = 1; u < sizeof(units) - 1; u++, mul *= 1000) {
			unsigned long long whole = v / mul, frac = v % mul;
			int digits = 3 * (int)u;

			if (u == 0)
				snprintf(buf, sizeof(buf), "%llub", whole);
			else
				snprintf(buf, sizeof(buf), "%llu.%0*llu%c",
					 whole, digits, frac, units[u]);
			if (units_parse_size(buf, &got) != 0 || got != v)
				fail_msg("\"%s\" gave %llu, want %llu", buf,
					 (unsigned long long)got,
					 (unsigned long long)v);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_good),
		cmocka_unit_test(test_size_bad),
		cmocka_unit_test(test_size_round_trip),
		cmocka_unit_test(test_int),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_duration_good),
		cmocka_unit_test(test_duration_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
