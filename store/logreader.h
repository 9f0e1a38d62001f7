/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading a container's json-file log back, entry by entry, for ReadLogs:
 * the last N entries found by reading backwards from the end (never by
 * scanning a whole large log), Since and Until applied, and in follow mode
 * the same reader picks up whatever was appended since it last reached the
 * end.  Plain blocking file IO: run it on a thread that may wait on a disk,
 * never on the event loop.  One reader is used by one thread at a time.
 */
#ifndef STORE_LOGREADER_H
#define STORE_LOGREADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/entry.h"

struct logreader;

struct rotate_lock;

struct logreader_params {
	const char *path; /* the container's current json-file log */
	/* Borrowed, must outlive the reader: the lock the log's writer
	 * rotates under (rotate.h).  NULL when nothing rotates the log. */
	struct rotate_lock *lock;
	int64_t tail;	  /* -1 all, 0 none, N the last N entries */
	int64_t since_ns; /* 0 = unset: skip entries older than this */
	int64_t until_ns; /* 0 = unset: stop at the first entry newer */
	/* Without follow, the read ends where the log ended when the reader
	 * was opened, as json-file's does; with it, it goes on with whatever
	 * is appended, across rotations. */
	bool follow;
};

/* Called per entry, oldest first.  The entry's text is as stored: it ends
 * with a newline wherever a line ended (not after a partial chunk).  Returns 0
 * to go on, non-zero to stop after this entry (logreader_read() then returns
 * LOGREADER_MORE). */
typedef int logreader_entry_cb(void *arg, const struct log_entry *e);

enum logreader_status {
	LOGREADER_MORE = 0,   /* stopped by the callback; call again */
	LOGREADER_AT_END = 1, /* everything in the file so far was read */
	LOGREADER_UNTIL = 2,  /* an entry past Until was met: the end */
};

/*
 * Start reading (this opens the files: call it where blocking IO is fine).
 * The files open are those of the log at this moment, taken together under
 * the rotation lock.  The file may not exist yet (nothing was logged): a
 * follower then reads it from the start once it appears.  Returns 0 and the
 * reader in *out, or -ENOMEM.
 */
int logreader_open(const struct logreader_params *p, struct logreader **out);

void logreader_free(struct logreader *r);

/*
 * Deliver entries to 'cb' until it asks to stop, the log's end is reached
 * (without follow: its end when the reader was opened), or an entry past
 * Until is met.  Returns a logreader_status, or -errno for
 * a read error.  Lines that are not valid json-file lines are skipped and
 * counted.
 */
int logreader_read(struct logreader *r, logreader_entry_cb *cb, void *arg);

/* Lines skipped as damaged so far. */
uint64_t logreader_bad_lines(const struct logreader *r);

#endif
