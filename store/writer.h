/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The writer: the only place where log files are written.  It runs one
 * thread of its own, so a disk that takes seconds per write stalls nobody
 * but that thread (design principle 1).
 *
 * Each container has one sink, shared by every stream of that container
 * (dockerd opens a new stream for each start, and for each `docker logs` on
 * a stopped container; they all append to the same file).  The event loop
 * encodes entries into the sink's pending buffer with sink_append(), which
 * never touches the disk; the writer thread takes the whole pending buffer at
 * once and writes it with one write(2), so a busy stream's lines go to disk
 * in large batches.  A sink's pending bytes are bounded: when they reach the
 * limit sink_append() refuses the entry and the caller drops it (counted) or
 * stops reading its FIFO until the writer catches up.  A sink that has
 * caught up holds no buffer: its batches borrow from a few small spares the
 * writer keeps, so a thousand containers each writing a line now and then
 * cost neither a buffer each nor the cache misses of touching one.
 *
 * Rotation happens on the writer thread, between two lines, exactly where
 * json-file would rotate; compression of a rotated file runs on a thread of
 * its own so it delays neither the loop nor other containers' writes (the
 * next rotation of the same container waits for it, as json-file does).
 *
 * A disk in trouble (ENOSPC, EIO, a removed or read-only directory) never
 * blocks anyone: the batch is counted as lost, retried with a backoff, and
 * the first write that works again is preceded by a notice line with what
 * was lost; the error is reported on stderr at most once a minute per
 * container.
 *
 * Threads: writer_new(), writer_free() and every sink_*() function except
 * where noted are called from the event-loop thread only.  The 'notify'
 * callback runs on the writer thread: it must only wake the loop (libevent's
 * event_active() is made for this).
 */
#ifndef STORE_WRITER_H
#define STORE_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/entry.h"

struct rotate_lock;

/* The attrs of lines ratelog writes itself (drop and loss notices), so
 * tools can tell them from the container's own. */
#define WRITER_NOTICE_ATTRS "{\"ratelog\":\"notice\"}"

/* Pending bytes a sink may hold before sink_append() refuses entries. */
#define WRITER_QUEUE_MAX_DEFAULT (4 * 1024 * 1024)

/* Called on the writer thread after it wrote, failed, or closed sinks: when
 * it has nothing more to do, and every few sinks while it has. */
typedef void writer_notify_cb(void *arg);

struct writer;
struct sink;

/* What a sink has done so far; every counter only grows. */
struct sink_progress {
	uint64_t appended_bytes; /* encoded bytes handed to the writer */
	uint64_t done_bytes;	 /* of those, written or given up on */
	uint64_t lost_bytes;	 /* of those, not written (disk errors) */
	uint64_t lost_lines;
	uint64_t refused_lines; /* sink_append() answered -ENOBUFS */
};

/*
 * Start a writer for logs under 'log_root' ("<root>/<id>/<id>-json.log").
 * 'queue_max' is the per-sink pending limit in bytes.  Stores the writer in
 * *out and returns 0, or returns -errno (the thread could not start).
 */
int writer_new(const char *log_root, size_t queue_max, writer_notify_cb *notify,
	       void *notify_arg, struct writer **out);

/*
 * Write out everything every sink holds, close every file, stop the thread
 * and free the writer.  Every sink must have been released.  Accepts NULL.
 */
void writer_free(struct writer *w);

/*
 * Keep everything under the log root within 'max_disk' bytes (0 = no cap)
 * and remove the logs of containers that stopped logging more than
 * 'keep_stopped_ns' ago (0 = keep them): a janitor thread runs
 * store/diskcap.h's pass once a minute and after every rotation.  Call once,
 * right after writer_new().  Returns 0 or -errno.
 */
int writer_set_disk_policy(struct writer *w, uint64_t max_disk,
			   int64_t keep_stopped_ns);

/* A job for the writer thread; it owns 'arg' and frees it. */
typedef void writer_job_fn(void *arg);

/*
 * Run fn(arg) on the writer thread, after every job posted before it (for
 * small file work that must stay off the event loop, such as the stream
 * state records).  Returns 0, or -ENOMEM: fn is then not called and 'arg'
 * stays the caller's.
 */
int writer_post(struct writer *w, writer_job_fn *fn, void *arg);

/*
 * Get the sink of 'container_id' (64 hex digits, already checked), creating
 * it if needed, and take a reference.  The file is opened by the writer
 * thread on first write.  Returns 0 or -ENOMEM.
 */
int writer_sink_get(struct writer *w, const char *container_id,
		    struct sink **out);

/*
 * Drop a reference.  The last release lets the writer thread write what is
 * pending, close the file and free the sink.  Accepts NULL.
 */
void sink_release(struct sink *s);

/*
 * Batch the sink_append() and sink_append_notice() calls of one read: they
 * encode into a buffer of the loop's own, and sink_unhold() hands the batch
 * to the writer thread under one short hold of its lock and wakes it.  No
 * lock is held in between, so the thread goes on writing the previous
 * batch meanwhile.
 *
 * With 'wake' false, the batch may stay in the loop's buffer (until it is
 * a few hundred KiB or a quarter of the queue) and the next one is added
 * to it: a caller about to read more of a flood calls sink_wake() after its
 * last read, which hands over what is left and wakes the thread, so the
 * thread takes several reads with one wake-up (each costs both threads a
 * context switch) and nothing is copied twice.  sink_is_full() counts the
 * kept lines.
 *
 * Loop thread only; outside a batch each append is a batch of its own.
 */
void sink_hold(struct sink *s);
void sink_unhold(struct sink *s, bool wake);
void sink_wake(struct sink *s);

/*
 * One turn of the event loop.  From writer_turn_begin() on, the batches
 * handed over do not wake the writer thread one by one: writer_turn_end()
 * wakes it once for all of them.  With many containers each ready with a
 * few lines, a wake-up per sink took the thread out of its sleep for one
 * sink while the loop read the next, two wake-ups a turn or more.  Once a
 * turn has handed over a few hundred KiB (what sink_unhold() hands over
 * at once), the thread is woken at once all the same, and the turn goes
 * on as an ordinary one, so a flood never waits for the end of a turn.
 * Loop thread only.
 */
void writer_turn_begin(struct writer *w);
void writer_turn_end(struct writer *w);

/*
 * Encode 'e' as a json-file line (with 'attrs', a rendered JSON object or
 * NULL) and queue it.  Returns 0, or -ENOBUFS when the pending limit is
 * reached (nothing queued; the refusal is counted).
 */
int sink_append(struct sink *s, const struct log_entry *e, const char *attrs,
		size_t attrs_len);

/*
 * Queue a line of ratelog's own (a drop or re-attach notice): stderr,
 * stamped now, with WRITER_NOTICE_ATTRS.  A full queue does not refuse it:
 * it is what says that lines were lost, and there is at most one per
 * episode of loss.  Returns 0 or -ENOBUFS (no memory).
 */
int sink_append_notice(struct sink *s, const char *text, size_t len);

/* How a sink's files are rotated (json-file's max-size, max-file,
 * compress; see store/rotate.h). */
struct sink_rotation {
	uint64_t max_size;  /* bytes; 0 = never rotate */
	unsigned max_files; /* files kept, the current one included, >= 1 */
	bool compress;	    /* gzip rotated files (needs max_files >= 2) */
};

/*
 * Set the rotation of the sink's files from the next write on (every
 * StartLogging of the container brings the container's options).
 */
void sink_set_rotation(struct sink *s, const struct sink_rotation *r);

/* True when the bytes waiting for the writer, handed over or kept by the
 * loop, are at or above the limit (also inside a sink_hold()). */
bool sink_is_full(const struct sink *s);

/* A snapshot of the counters (safe from the loop thread at any time). */
void sink_get_progress(const struct sink *s, struct sink_progress *out);

/* True when everything appended has been written or given up on. */
bool sink_is_idle(const struct sink *s);

/* The path of the sink's current log file (owned by the sink). */
const char *sink_path(const struct sink *s);

/* The lock its readers share with the writer's rotations (rotate.h); it
 * lives as long as the sink, so a reader holds a reference meanwhile. */
struct rotate_lock *sink_rotate_lock(struct sink *s);

#endif
