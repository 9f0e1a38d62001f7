/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json-file's rotation, with its file names and its rules (protocol notes
 * 8.3): before each entry is written, a current file at or over max-size is
 * rotated, so a file exceeds max-size by at most one entry; with max-file K
 * >= 2 the oldest of "<log>.1" ... "<log>.K-1" (or their ".gz") is deleted,
 * the others move up by one and the current file becomes "<log>.1"; with K
 * = 1 the current file is removed and started afresh, as dockerd 23+ does.
 *
 * rotate_split() is pure; rotate_shift() and rotate_compress() do blocking
 * file IO and belong on the writer's threads, never on the event loop.
 */
#ifndef STORE_ROTATE_H
#define STORE_ROTATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for "<log>.<index>.gz" and a NUL, given 'base' fits PATH_MAX. */
#define ROTATE_PATH_MAX 4200

/*
 * How many bytes of the whole json lines in p[0..n) to write to a file of
 * 'size' bytes before it must be rotated: every line while the file is under
 * 'max_size', the line that reaches it included.  Returns n when no rotation
 * is due within the batch (or max_size is 0).  Call only when size <
 * max_size.
 */
size_t rotate_split(uint64_t size, uint64_t max_size, const char *p, size_t n);

/* Write "<base>.<index>" (gz: ".gz" appended) into dst.  Returns 0 or
 * -ENAMETOOLONG. */
int rotate_name(char *dst, size_t cap, const char *base, unsigned index,
		bool gz);

/*
 * Shift the rotated files of 'base' for 'max_files' (>= 2) and rename the
 * current file to "<base>.1".  A missing file anywhere in the chain is
 * fine.  Returns 0 or the first -errno met (the chain is then as far as it
 * got: nothing is lost that was not already due for deletion).
 */
int rotate_shift(const char *base, unsigned max_files);

/*
 * Compress 'src' into "<src>.gz" (through a temporary name, renamed into
 * place when complete) and remove 'src'.  The gzip header's Extra field
 * carries {"lastTime":"<last_time>"} as dockerd's json-file writes it, so
 * readers can skip the file for a later Since.  Returns 0 or -errno (the
 * source is then kept).
 */
int rotate_compress(const char *src, const char *last_time);

/*
 * How the writer and the readers of one log agree on its files, as
 * json-file's fsopMu does.  The writer holds the lock exclusively while it
 * renames or removes files for a rotation, and counts the rotations; a
 * reader holds it shared while it opens the rotated files and the current
 * one, so it never sees a chain with a rename half done.  A follower that
 * holds the current file of rotation G and finds the count at G + k knows
 * its file is now "<log>.k" (or ".k.gz", or gone) and that the files to read
 * after it are ".k-1" ... ".1" and the new current one.
 *
 * Compression needs no lock: "<log>.1.gz" is complete before "<log>.1" is
 * removed, so a reader trying the plain name and then the .gz one always
 * finds one of them.
 */
struct rotate_lock {
	pthread_rwlock_t rw;
	_Atomic uint64_t rotations;
};

void rotate_lock_init(struct rotate_lock *l);
void rotate_lock_destroy(struct rotate_lock *l);

/* The writer: around the renames of one rotation.  'rotated': the current
 * file was renamed or removed, so the count goes up by one (a rotation that
 * failed before that leaves the current file where readers have it). */
void rotate_lock_rotating(struct rotate_lock *l);
void rotate_unlock_rotated(struct rotate_lock *l, bool rotated);

/* A reader: around opening files.  Returns the rotations so far. */
uint64_t rotate_lock_opening(struct rotate_lock *l);
void rotate_unlock_opened(struct rotate_lock *l);

/* The rotations so far, without the lock: a follower's cheap check.  Once it
 * reads a count past the one its open file belongs to, every byte ever
 * written to that file is there to read. */
uint64_t rotate_count(struct rotate_lock *l);

#endif
