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
 * text of 'attrs_len' bytes: 6 per byte of text and stream, plus attrs_len,
 * plus 128.  Saturates at SIZE_MAX rather than wrapping.
 */
size_t jsonline_encode_bound(const struct log_entry *e, size_t attrs_len);

/*
 * Encode 'e' as one json-file line, newline included, into 'dst', which
 * holds at least jsonline_encode_bound() bytes.  'attrs' is NULL or the
 * rendered JSON object to store under "attrs" (for example {"tag":"web"}),
 * copied verbatim; with 'attrs_len' 0 the key is left out.  The "log" value
 * gets a newline appended when log_entry_ends_line(e), so "log" is left out
 * only for an empty chunk that does not end its line.  The stream is
 * escaped as the text is.  e->line and e->source may be NULL when their
 * lengths are 0.  Returns the number of bytes written.
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
 * -hh:mm offset into Unix nanoseconds, range-checked as Go's parseRFC3339()
 * does (days of the month, hour 0-23, offset hours 0-23 and minutes 0-59).
 * Strict: no lower-case 't' or 'z', no ',' before the fraction, no one-digit
 * hour and no tenth fractional digit, which Go's lenient fallback parser
 * would take.  Returns 0, or -EINVAL when 's' is not such a time or lies
 * outside the int64 nanosecond range, 1677-09-21T00:12:43.145224192Z to
 * 2262-04-11T23:47:16.854775807Z.
 */
int jsonline_parse_time(const char *s, size_t len, int64_t *out_ns);

/*
 * One json-file line read back.  Pointers are into the caller's scratch, or
 * to a static "" when the key was absent; nothing is NUL-terminated.
 */
struct jsonline_record {
	const char *log; /* unescaped bytes of "log", newline included */
	size_t log_len;
	const char *stream; /* unescaped "stream", "" when absent */
	size_t stream_len;
	int64_t time_nano;
};

/*
 * Parse one line (without its trailing newline, though a trailing newline is
 * tolerated) written by jsonline_encode() or by dockerd's json-file driver.
 * Keys are read as Go's encoding/json fills moby's JSONLog: in any order,
 * matched case-insensitively ("Log" is "log"), the last of duplicates wins,
 * null leaves a field as it was, and unknown keys and "attrs" are skipped
 * whatever their JSON value (nested at most 512 deep).  Escapes are decoded
 * as Go does, a lone surrogate escape becoming U+FFFD.  Raw bytes >= 0x80
 * are copied as they are, where Go would turn invalid UTF-8 into U+FFFD;
 * neither writer produces any.  "time" must be present and be a string
 * that jsonline_parse_time() accepts as it stands, escapes not decoded, as
 * Go's Time.UnmarshalJSON() reads it.  String values are unescaped into
 * 'scratch', which must hold at least 'len' bytes.  Returns 0, -ENOBUFS
 * when 'scratch_cap' is less than 'len', or -EINVAL for anything else:
 * malformed JSON, bytes other than white space after the object, a "log" or
 * "stream" that is not a string, a missing or invalid "time".  *out is
 * written only on success.
 */
int jsonline_decode(const char *line, size_t len, char *scratch,
		    size_t scratch_cap, struct jsonline_record *out);

#endif
