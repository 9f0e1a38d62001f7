/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The LogEntry protobuf (plugin/proto/entry.proto) to and from struct
 * log_entry.  Decoding is hand-written and zero-copy because it runs for
 * every line on the FIFO path; the unit tests check it against protobuf-c.
 * Encoding (the ReadLogs direction) uses protobuf-c's generated code, with
 * the entry's bytes borrowed; neither direction allocates.
 */
#ifndef PLUGIN_LOGENTRY_H
#define PLUGIN_LOGENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "store/entry.h"

/*
 * Decode the protobuf message in buf[0..len) into 'out'.  Every pointer in
 * 'out' points into 'buf' (an absent field points at the start of 'buf' with
 * a length of 0, or at a static empty string when 'buf' is NULL).  For a
 * field that occurs more than once the last occurrence wins; occurrences of
 * the partial metadata merge, field by field.  Unknown fields are skipped
 * (moby's field 6, and anything newer).  Returns 0, or -EBADMSG for bytes
 * that are not a valid LogEntry (bad or over-long varint, truncated field,
 * wrong wire type for a known field, field number 0, a group).
 */
int logentry_decode(const uint8_t *buf, size_t len, struct log_entry *out);

/*
 * The text length of the LogEntry in buf[0..len), without decoding the rest,
 * when it is a whole line laid out as dockerd writes it (source, time, line,
 * in that order, each at most once, no partial flag or metadata).  Returns 0
 * and sets *line_len; for any other entry -1, and logentry_decode() reads it.
 * An entry measured decodes to a whole line of that length.
 */
int logentry_measure(const uint8_t *buf, size_t len, size_t *line_len);

/*
 * Whether buf[0..avail) can be the start of a valid LogEntry of 'len' bytes
 * (avail <= len): every field that begins in those bytes is well formed and
 * fits inside 'len'.  The frame decoder uses it to give up on a frame whose
 * rest has not arrived yet.  Returns 0 (it can), or -EBADMSG (no bytes that
 * follow can make it valid).  With avail == len it agrees with
 * logentry_decode().
 */
int logentry_check_prefix(const uint8_t *buf, size_t avail, size_t len);

/* Bytes logentry_encode_frame() writes for 'e': 4-byte length + message. */
size_t logentry_frame_size(const struct log_entry *e);

/*
 * Write 'e' as a frame, a big-endian uint32 length and the LogEntry message,
 * into 'dst' (at least logentry_frame_size(e) bytes).  Returns the bytes
 * written.  Fields are written in field-number order and default values are
 * left out, as dockerd's encoder does.  The partial metadata is written when
 * 'partial' is set or any of its fields is not a default.  Pointers whose
 * length is 0 may be NULL.  The message must be shorter than 4 GiB.
 */
size_t logentry_encode_frame(uint8_t *dst, const struct log_entry *e);

#endif
