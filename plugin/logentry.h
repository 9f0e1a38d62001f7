/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The LogEntry protobuf (plugin/proto/entry.proto) to and from struct
 * log_entry.  Decoding is hand-written and zero-copy because it runs for
 * every line on the FIFO path; the unit tests check it against protobuf-c.
 * Encoding (the ReadLogs direction) uses protobuf-c's generated code.
 */
#ifndef PLUGIN_LOGENTRY_H
#define PLUGIN_LOGENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "store/entry.h"

/*
 * Decode the protobuf message in buf[0..len) into 'out'.  Every pointer in
 * 'out' points into 'buf'.  Unknown fields are skipped (moby's field 6, and
 * anything newer).  Returns 0, or -EBADMSG for bytes that are not a valid
 * LogEntry (bad varint, truncated field, wrong wire type for a known field).
 */
int logentry_decode(const uint8_t *buf, size_t len, struct log_entry *out);

/* Bytes logentry_encode_frame() writes for 'e': 4-byte length + message. */
size_t logentry_frame_size(const struct log_entry *e);

/*
 * Write 'e' as a frame, a big-endian uint32 length and the LogEntry message,
 * into 'dst' (at least logentry_frame_size(e) bytes).  Returns the bytes
 * written.
 */
size_t logentry_encode_frame(uint8_t *dst, const struct log_entry *e);

#endif
