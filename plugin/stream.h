/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One logging stream: the FIFO dockerd named in a StartLogging, read on the
 * event loop until EOF, its frames decoded and handed to the container's
 * sink.
 *
 * Reading follows design.md, "Reading a FIFO cheaply": the pipe is grown to
 * 1 MiB, reads go into one large buffer shared by every stream, every whole
 * frame in it is decoded, and when a loop turn's reads were all short the
 * loop waits a couple of milliseconds before it looks again
 * (stream_pace()), so a trickle of small writes costs one wake-up per batch
 * instead of one per line.  The pause is the loop's, not each stream's: a
 * thousand streams writing a line now and then are read in one turn per
 * pause, with no timer or event change per stream.  An idle stream has no
 * timer and no buffer.
 *
 * Each entry is offered to the stream's rate limiter first (when it has
 * one): over the limit it is dropped and counted, or, under the block
 * policy, the stream stops reading until the limiter has tokens again, so
 * the container's own writes slow down.  After drops, a notice line written
 * into the container's log says how much was dropped and why.
 *
 * StopLogging does not close the stream: dockerd closes its end after our
 * reply, and the stream reads until EOF, so no line written before the stop
 * is lost.  At EOF the stream calls its end callback; the owner frees it.
 */
#ifndef PLUGIN_STREAM_H
#define PLUGIN_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct limiter_config;
struct node_budget;
struct sink;
struct stream;

/* The stream reached EOF and everything it read has been queued or counted.
 * The callee may free the stream (with stream_free) from inside this call. */
typedef void stream_end_cb(void *arg, struct stream *s);

struct stream_stats {
	uint64_t entries;	/* decoded entries */
	uint64_t queued_lines;	/* handed to the sink */
	uint64_t dropped_lines; /* refused by a full sink (drop policy) */
	uint64_t dropped_bytes;
	uint64_t rate_dropped_lines; /* over the rate limit (drop policy) */
	uint64_t rate_dropped_bytes;
	uint64_t notices;	/* drop notices written */
	uint64_t bad_frames;	/* malformed frames met */
	uint64_t skipped_bytes; /* bytes skipped while resynchronising */
};

/* Shared by every stream of one loop: the read buffer, and what the reads
 * of the current loop turn saw (for stream_pace()). */
struct stream_readbuf {
	uint8_t *data; /* owned by whoever set it up */
	size_t len;
	bool trickled;	       /* a read found less than it asked for */
	bool flooded;	       /* a stream had more than a wake-up's reads */
	unsigned writer_waits; /* streams paused until the writer has room */
	int64_t turn_start_ns; /* monotonic: this turn's first read, or 0 */
	int64_t turn_end_ns;   /* monotonic: when the last turn ended */
};

/*
 * Call after each turn of the loop: when the turn's reads found only a
 * trickle and the loop had waited less than a couple of milliseconds for
 * them, sleep that long so the next turn finds whole batches (never when a
 * stream had more to read than it took).
 */
void stream_pace(struct stream_readbuf *rb);

struct stream_params {
	const char *path;	     /* the FIFO, already syntax-checked */
	const char *container_id;    /* 64 hex digits */
	struct sink *sink;	     /* takes this reference */
	struct stream_readbuf *rbuf; /* borrowed, outlives the stream */
	bool block;		     /* pause reading when the sink is full */
	bool notices;		     /* rate-notice: say what was dropped */
	const char *attrs;	     /* json-file attrs object, or NULL */
	size_t attrs_len;
	const struct limiter_config *limit; /* NULL: no rate limit */
	struct node_budget *node;	    /* borrowed, NULL: no node budget */
	bool resync; /* the first bytes may be mid-frame */
	stream_end_cb *end_cb;
	void *end_arg;
};

/*
 * Open the FIFO at p->path for reading (never following a symlink, and
 * refusing anything that is not a FIFO), grow its pipe, and start reading.
 * On success stores the stream in *out and returns 0.  On failure returns
 * -errno (-ELOOP for a symlink, -EINVAL for a non-FIFO), writes a sentence
 * for the user into 'err' and releases p->sink.
 */
int stream_open(struct event_base *base, const struct stream_params *p,
		struct stream **out, char *err, size_t err_len);

/* StopLogging came: remember it (reading continues until EOF). */
void stream_mark_stopping(struct stream *s);

/*
 * The sink has room again: a paused stream delivers what it kept and starts
 * reading again.  Cheap for a stream that is not paused; and when the
 * readbuf's writer_waits is 0, no stream is waiting for this.
 */
void stream_kick(struct stream *s);

/*
 * Read whatever the FIFO holds now, without waiting for more, and queue it
 * (shutdown).  Never calls the end callback; the caller frees the stream.
 */
void stream_drain(struct stream *s);

/* Close the FIFO and free the stream at once (shutdown, or after end_cb).
 * Accepts NULL. */
void stream_free(struct stream *s);

const char *stream_path(const struct stream *s);
const char *stream_container_id(const struct stream *s);
bool stream_is_paused(const struct stream *s);
bool stream_is_ended(const struct stream *s);
void stream_get_stats(const struct stream *s, struct stream_stats *out);

#endif
