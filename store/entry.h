/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one log record every stage passes along: what dockerd's copier read
 * from a container (or what a containerd shim logger reads), with no trace
 * of HTTP, FIFOs or protobuf.  Every pointer is borrowed from whoever filled
 * the struct and is valid only until control returns to that owner, so a
 * stage that keeps an entry copies the bytes.
 */
#ifndef STORE_ENTRY_H
#define STORE_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct log_entry {
	const char *source; /* "stdout" / "stderr", not NUL-terminated */
	size_t source_len;
	int64_t time_nano;   /* Unix time in ns, UTC */
	const uint8_t *line; /* the bytes, without the trailing newline */
	size_t line_len;
	bool partial;		/* a chunk of a line longer than 16 KiB */
	bool partial_last;	/* the final chunk of that line */
	const char *partial_id; /* shared by the chunks of a line */
	size_t partial_id_len;
	int32_t partial_ordinal; /* 1, 2, 3 ... */
};

/*
 * json-file writes a newline after the text unless the entry is a chunk of a
 * longer line that is not its last one (protocol notes section 4).
 */
static inline bool log_entry_ends_line(const struct log_entry *e)
{
	return !e->partial || e->partial_last;
}

#endif
