/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The decoder for what dockerd writes into a logging FIFO: frames of a
 * big-endian uint32 length followed by that many bytes of LogEntry.
 *
 * The caller reads the FIFO into a buffer of its own (one large buffer can
 * serve every stream) and feeds the bytes here.  Whole frames are decoded in
 * place and handed to a callback; only the start of a frame cut by the end of
 * a read is copied into the decoder, so an idle stream holds no buffer.
 *
 * A frame longer than the maximum, or one whose body is not a LogEntry, is
 * counted as bad and the decoder resynchronises: it skips byte by byte until
 * it finds a position where a plausible frame starts (a length within bounds
 * and a body that decodes to a LogEntry with source stdout or stderr and a
 * time), so one corrupt stream never stalls, and what was skipped is counted.
 * The same resynchronisation is used after a re-attach, when the first bytes
 * read may be the middle of a frame.
 */
#ifndef PLUGIN_FRAME_H
#define PLUGIN_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/entry.h"

/* dockerd's frames are at most about 16.5 KiB; 1 MiB leaves ample room. */
#define FRAME_MAX_DEFAULT (1024 * 1024)

/*
 * A callback's answer: the entry was taken; or stop and give it again later;
 * or taken, and skip the long enough whole lines that follow
 * (frame_decoder_set_skip()).
 */
#define FRAME_TAKEN 0
#define FRAME_PAUSE 1
#define FRAME_SKIP  2

/*
 * Called once per decoded entry, in stream order.  Returns FRAME_TAKEN, or
 * FRAME_PAUSE to stop delivery: the decoder then keeps this entry and every
 * byte after it, and frame_decoder_resume() starts again with this entry.
 * Or FRAME_SKIP, see frame_decoder_set_skip().  (Any other value is taken as
 * FRAME_PAUSE.)  The entry's pointers are valid only during the call, which
 * must not call the decoder.
 */
typedef int frame_entry_cb(void *arg, const struct log_entry *e);

/*
 * Told of 'lines' whole lines of 'bytes' text bytes in all that followed an
 * entry answered FRAME_SKIP and were not delivered; called before any entry
 * that comes after them, in the same feed or resume.
 */
typedef void frame_skip_cb(void *arg, uint64_t lines, uint64_t bytes);

struct frame_stats {
	uint64_t frames;	/* entries delivered or skipped */
	uint64_t bad_frames;	/* malformed or oversized frames met */
	uint64_t skipped_bytes; /* bytes thrown away while resynchronising */
};

struct frame_decoder;

/* Returns a new decoder for frames of at most 'max_frame' body bytes, or NULL
 * on ENOMEM.  Free with frame_decoder_free(). */
struct frame_decoder *frame_decoder_new(size_t max_frame);

/* Frees 'd' and whatever it buffers; accepts NULL. */
void frame_decoder_free(struct frame_decoder *d);

/*
 * Feed 'n' bytes that follow everything fed before.  Whole frames go to 'cb';
 * a trailing incomplete frame is copied inside the decoder.  Must not be
 * called while paused (if it is, the bytes are kept behind what the pause
 * kept, and it returns FRAME_PAUSE).  Returns 0 when every whole frame was
 * delivered, FRAME_PAUSE when 'cb' paused (the rest of 'data' is then kept),
 * or -ENOMEM (nothing of 'data' is kept: what was not delivered is counted
 * as skipped bytes, and the decoder resynchronises).
 */
int frame_decoder_feed(struct frame_decoder *d, const uint8_t *data, size_t n,
		       frame_entry_cb *cb, void *arg);

/*
 * Let the entry callback answer FRAME_SKIP: "taken, and every whole line
 * right after it with at least as many text bytes is to be dropped unread"
 * (a rate limit that dropped this line drops longer ones too, until time
 * moves on).  Until the end of that feed or resume, frames that
 * logentry_measure() reads as whole lines that long are then only counted,
 * for 'skipped', and not decoded or delivered; the first other entry is
 * delivered as usual, and the callback's answer to it decides again.  A
 * decoder without 'skipped' takes FRAME_SKIP as FRAME_TAKEN.
 */
void frame_decoder_set_skip(struct frame_decoder *d, frame_skip_cb *skipped);

/* Deliver what a pause kept.  Returns as frame_decoder_feed(). */
int frame_decoder_resume(struct frame_decoder *d, frame_entry_cb *cb,
			 void *arg);

/* True between a FRAME_PAUSE and the resume that delivers everything kept. */
bool frame_decoder_is_paused(const struct frame_decoder *d);

/* Bytes held inside the decoder (an incomplete frame, or what a pause kept). */
size_t frame_decoder_buffered(const struct frame_decoder *d);

/*
 * Start resynchronising: the next bytes fed may begin in the middle of a
 * frame (a FIFO re-opened after a restart).
 */
void frame_decoder_resync(struct frame_decoder *d);

/*
 * At the end of the stream: count whatever incomplete frame is buffered as
 * skipped and drop it (while paused, what the pause kept goes too: resume
 * first).  Returns the number of bytes dropped.
 */
size_t frame_decoder_finish(struct frame_decoder *d);

const struct frame_stats *frame_decoder_stats(const struct frame_decoder *d);

#endif
