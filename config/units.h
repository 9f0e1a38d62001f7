/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Text to integers for the settings users write: sizes, durations, booleans
 * and whole numbers, each in the syntax of the Go function that dockerd and
 * its json-file driver use for the same job, so a value that works there
 * works here.  Every result is overflow-checked.  Pure functions over
 * NUL-terminated strings: no allocation, no locale, no floating point, so
 * they may be called from any thread on hostile input.
 *
 * Each returns 0 and stores the result, or returns a negative errno and
 * leaves *out untouched: -EINVAL when the text does not have the syntax,
 * -ERANGE when it does but the value does not fit.
 */
#ifndef CONFIG_UNITS_H
#define CONFIG_UNITS_H

#include <stdbool.h>
#include <stdint.h>

/* The largest size units_parse_size() returns (Go's sizes are int64). */
#define UNITS_SIZE_MAX ((uint64_t)INT64_MAX)

#define UNITS_NS_PER_SECOND INT64_C(1000000000)

/*
 * A size in bytes as docker/go-units FromHumanSize reads it (json-file's
 * max-size), with decimal multipliers, letters in any case:
 *
 *   size   = number [" "] [suffix]
 *   number = digit+ ["." digit+]
 *   suffix = "b" | unit ["b" | "ib"]
 *   unit   = "k" (10^3) | "m" (10^6) | "g" (10^9) | "t" (10^12) | "p" (10^15)
 *
 * so "100k" = "100 kB" = "100KiB" = 100000 (decimal even with "i", as in
 * go-units), "1.5m" = 1500000, "32" = "32b" = 32 and "0" = 0.  The grammar
 * is what both go-units generations accept (the v0.4 regular expression of
 * dockerd 20.10 and the v0.5 hand parser of 23 and later), so a size valid
 * here is valid for json-file on every dockerd; forms only one of them took
 * ("32.", ".5k", "1e3", "-0", "5ki", "5ib") are -EINVAL.  Signs, leading or
 * trailing blanks other than the one space before an empty suffix, and a
 * second space are -EINVAL; a negative size is -EINVAL.
 *
 * A fraction is exact: the result is the exact value rounded down ("1.9" is
 * 1, "0.0015k" is 1).  go-units multiplies in float64 and could differ by
 * one byte on a few fractions and on whole numbers above 2^53.
 *
 * Returns 0, -EINVAL, or -ERANGE above UNITS_SIZE_MAX.
 */
int units_parse_size(const char *s, uint64_t *out);

/*
 * A whole number as Go's strconv.Atoi reads it: an optional '+' or '-' and
 * one or more ASCII digits, nothing else (no blanks, no '_', no base
 * prefix).  Leading zeros are allowed ("007" is 7).
 *
 * Returns 0, -EINVAL, or -ERANGE outside int64.
 */
int units_parse_int(const char *s, int64_t *out);

/*
 * A boolean as Go's strconv.ParseBool reads it: exactly one of "1", "t",
 * "T", "TRUE", "true", "True" (true) or "0", "f", "F", "FALSE", "false",
 * "False" (false).  Returns 0 or -EINVAL.
 */
int units_parse_bool(const char *s, bool *out);

/*
 * A duration in nanoseconds as Go's time.ParseDuration reads it: an
 * optional sign, then one or more decimal numbers each with a unit, such as
 * "300ms", "1.5h", "-1h30m" or "2h45m10.5s".  Units: "ns", "us", "µs"
 * (U+00B5) or "μs" (U+03BC), "ms", "s", "m", "h".  A bare "0" (or "+0",
 * "-0") is the only number allowed without a unit.  A fraction is exact and
 * rounded toward zero; fraction digits past the 17th, which are worth less
 * than a nanosecond even for hours, are read and ignored.
 *
 * Returns 0, -EINVAL, or -ERANGE when the magnitude passes 2^63 - 1
 * nanoseconds (about 292 years; -2^63 itself is accepted, as in Go).
 */
int units_parse_duration(const char *s, int64_t *out_ns);

#endif
