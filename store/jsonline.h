/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json-file lines, byte for byte as dockerd's json-file driver writes them:
 *
 *   {"log":"hello\n","stream":"stdout","attrs":{"tag":"web"},"time":"..."}\n
 *
 * Key order log, stream, attrs, time; "log" left out when empty, "stream"
 * when empty, "attrs" unless given; time is RFC 3339 with nanoseconds,
 * trailing zeros dropped, UTC.  The "log" string escapes '"', '\\', \n and
 * \r as two-character escapes, other bytes below 0x20 as \u00XX, '<' '>'
 * '&' as \u003c \u003e \u0026, U+2028 and U+2029 as \u2028 \u2029, and
 * each byte of invalid UTF-8 as \ufffd.  Decoding reads such lines back for
 * ReadLogs.  No allocation, no IO: safe from any thread.
 */
#ifndef STORE_JSONLINE_H
#define STORE_JSONLINE_H

#include <stddef.h>
#include <stdint.h>

#include "store/entry.h"

/* Longest text jsonline_format_time() writes (without a NUL). */
#define JSONLINE_TIME_MAX 35

/*
 * Upper bound on the bytes jsonline_encode() writes for 'e' with an attrs
 * text of 'attrs_len' bytes.
 */
size_t jsonline_encode_bound(const struct log_entry *e, size_t attrs_len);

/*
 * Encode 'e' as one json-file line, newline included, into 'dst', which
 * holds at least jsonline_encode_bound() bytes.  'attrs' is NULL or the
 * rendered JSON object to store under "attrs" (for example {"tag":"web"}),
 * copied verbatim.  The "log" value gets a newline appended when
 * log_entry_ends_line(e).  Returns the number of bytes written.
 */
size_t jsonline_encode(char *dst, const struct log_entry *e, const char *attrs,
		       size_t attrs_len);

/*
 * Write 'time_nano' as Go's RFC3339Nano in UTC ("2024-05-01T12:00:00.1Z")
 * into 'dst' (at least JSONLINE_TIME_MAX bytes, no NUL written).  Returns the
 * length.
 */
size_t jsonline_format_time(char *dst, int64_t time_nano);

/*
 * Parse an RFC 3339 time with 0 to 9 fractional digits and a 'Z' or +hh:mm /
 * -hh:mm offset into Unix nanoseconds.  Returns 0, or -EINVAL when 's' is not
 * such a time or is out of the int64 nanosecond range.
 */
int jsonline_parse_time(const char *s, size_t len, int64_t *out_ns);

/* One json-file line read back.  Pointers are into the caller's scratch. */
struct jsonline_record {
	const char *log;	/* unescaped bytes of "log", newline included */
	size_t log_len;
	const char *stream;	/* unescaped "stream", "" when absent */
	size_t stream_len;
	int64_t time_nano;
};

/*
 * Parse one line (without its trailing newline, though a trailing newline is
 * tolerated) written by jsonline_encode() or by dockerd's json-file driver.
 * Unknown keys and "attrs" are skipped.  String values are unescaped into
 * 'scratch', which must hold at least 'len' bytes.  Returns 0, or -EINVAL
 * for anything that is not a JSON object with a valid "time".
 */
int jsonline_decode(const char *line, size_t len, char *scratch,
		    size_t scratch_cap, struct jsonline_record *out);

#endif
