/* SPDX-License-Identifier: Apache-2.0 */
#include "plugin/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/diag.h"
#include "plugin/frame.h"
#include "store/writer.h"

/* What we ask the kernel to hold for a FIFO (design.md). */
#define PIPE_SIZE (1024 * 1024)
/* After a short read, wait this long before reading again. */
#define COALESCE_USEC 2000
/* Reads per wake-up before yielding to other events. */
#define READS_PER_WAKEUP 8
#define BAD_FRAME_REPORT_NS (60LL * 1000000000)

struct stream {
	char *path; /* owned */
	char container_id[65];
	int fd;
	struct sink *sink;	     /* owned reference */
	struct frame_decoder *dec;   /* owned */
	struct stream_readbuf *rbuf; /* borrowed */
	struct event *read_ev;	     /* owned */
	struct event *delay_ev;	     /* owned */
	bool block;
	bool stopping; /* StopLogging came */
	bool eof;      /* read() returned 0 */
	bool ended;    /* end_cb has been called */
	uint64_t reported_bad;
	struct diag_limit bad_limit;
	struct stream_stats stats;
	stream_end_cb *end_cb;
	void *end_arg;
};

static int on_entry(void *arg, const struct log_entry *e)
{
	struct stream *s = arg;

	s->stats.entries++;
	if (sink_append(s->sink, e, NULL, 0) == 0) {
		s->stats.queued_lines++;
		return FRAME_TAKEN;
	}
	if (s->block)
		return FRAME_PAUSE;
	s->stats.dropped_lines++;
	s->stats.dropped_bytes += e->line_len;
	return FRAME_TAKEN;
}

static void report_bad_frames(struct stream *s)
{
	const struct frame_stats *fs = frame_decoder_stats(s->dec);

	s->stats.bad_frames = fs->bad_frames;
	s->stats.skipped_bytes = fs->skipped_bytes;
	if (fs->bad_frames == s->reported_bad)
		return;
	if (!diag_limit_allow(&s->bad_limit, diag_now_mono(),
			      BAD_FRAME_REPORT_NS))
		return;
	s->reported_bad = fs->bad_frames;
	diag(DIAG_WARN,
	     "container %.12s: %llu malformed frame(s) on %s so far, %llu "
	     "bytes skipped to resynchronise",
	     s->container_id, (unsigned long long)fs->bad_frames, s->path,
	     (unsigned long long)fs->skipped_bytes);
}

/* Whatever happens, the end callback is the last thing a stream does. */
static void finish(struct stream *s)
{
	size_t left;

	if (s->ended)
		return;
	left = frame_decoder_finish(s->dec);
	if (left > 0)
		diag(DIAG_WARN,
		     "container %.12s: stream ended inside a frame, %zu bytes "
		     "dropped",
		     s->container_id, left);
	report_bad_frames(s);
	event_del(s->read_ev);
	event_del(s->delay_ev);
	s->ended = true;
	s->end_cb(s->end_arg, s);
}

static void arm_read(struct stream *s)
{
	event_add(s->read_ev, NULL);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct stream *s = arg;
	int i;

	(void)what;
	for (i = 0; i < READS_PER_WAKEUP; i++) {
		ssize_t n = read(fd, s->rbuf->data, s->rbuf->len);
		int rc;

		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break; /* nothing more now: wait for readable */
			diag(DIAG_ERROR, "container %.12s: reading %s: %s",
			     s->container_id, s->path, strerror(errno));
			s->eof = true;
			finish(s);
			return;
		}
		if (n == 0) {
			s->eof = true;
			finish(s);
			return;
		}
		rc = frame_decoder_feed(s->dec, s->rbuf->data, (size_t)n,
					on_entry, s);
		report_bad_frames(s);
		if (rc == FRAME_PAUSE)
			return; /* stream_kick() starts reading again */
		if ((size_t)n < s->rbuf->len) {
			/* A short read: the writer is trickling.  Let it fill
			 * the pipe for a moment instead of waking per line. */
			struct timeval tv = {0, COALESCE_USEC};

			evtimer_add(s->delay_ev, &tv);
			return;
		}
	}
	arm_read(s);
}

static void on_delay(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	arm_read(arg);
}

void stream_kick(struct stream *s)
{
	int rc;

	if (s->ended || !frame_decoder_is_paused(s->dec))
		return;
	if (sink_is_full(s->sink))
		return;
	rc = frame_decoder_resume(s->dec, on_entry, s);
	if (rc == FRAME_PAUSE)
		return;
	if (s->eof)
		finish(s);
	else
		arm_read(s);
}

static int open_fifo(const char *path, char *err, size_t err_len)
{
	struct stat st;
	int fd;

	/* O_NONBLOCK: a FIFO with no writer would block the open; dockerd
	 * holds a writer, and if it does not we must not hang the loop. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1) {
		int e = errno;

		/* Avoid strerror(ENOENT) and (EACCES): dockerd turns
		 * those phrases into exit codes 127 and 126. */
		if (e == ELOOP)
			snprintf(err, err_len,
				 "StartLogging: File %s is a symbolic link, "
				 "expected a FIFO",
				 path);
		else if (e == ENOENT)
			snprintf(err, err_len,
				 "StartLogging: File %s does not exist", path);
		else
			snprintf(err, err_len,
				 "StartLogging: cannot open File %s: %s", path,
				 e == EACCES ? "access refused" : strerror(e));
		return -e;
	}
	if (fstat(fd, &st) == -1 || !S_ISFIFO(st.st_mode)) {
		close(fd);
		snprintf(err, err_len, "StartLogging: File %s is not a FIFO",
			 path);
		return -EINVAL;
	}
	/* Best effort: the default 64 KiB works, only less efficiently. */
	(void)fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE);
	return fd;
}

int stream_open(struct event_base *base, const struct stream_params *p,
		struct stream **out, char *err, size_t err_len)
{
	struct stream *s;
	int rc;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		sink_release(p->sink);
		snprintf(err, err_len, "StartLogging: out of memory");
		return -ENOMEM;
	}
	s->fd = -1;
	s->sink = p->sink;
	s->rbuf = p->rbuf;
	s->block = p->block;
	s->end_cb = p->end_cb;
	s->end_arg = p->end_arg;
	snprintf(s->container_id, sizeof(s->container_id), "%s",
		 p->container_id);
	s->path = strdup(p->path);
	s->dec = frame_decoder_new(FRAME_MAX_DEFAULT);
	if (s->path == NULL || s->dec == NULL) {
		rc = -ENOMEM;
		snprintf(err, err_len, "StartLogging: out of memory");
		goto out;
	}
	if (p->resync)
		frame_decoder_resync(s->dec);
	rc = open_fifo(p->path, err, err_len);
	if (rc < 0)
		goto out;
	s->fd = rc;
	s->read_ev = event_new(base, s->fd, EV_READ, on_readable, s);
	s->delay_ev = evtimer_new(base, on_delay, s);
	if (s->read_ev == NULL || s->delay_ev == NULL) {
		rc = -ENOMEM;
		snprintf(err, err_len, "StartLogging: out of memory");
		goto out;
	}
	arm_read(s);
	*out = s;
	return 0;
out:
	stream_free(s);
	return rc;
}

void stream_drain(struct stream *s)
{
	/* Bounded, in case a writer keeps the pipe full forever. */
	size_t budget = 256u * 1024 * 1024;

	if (s->ended || s->eof || frame_decoder_is_paused(s->dec))
		return;
	while (budget > 0) {
		ssize_t n = read(s->fd, s->rbuf->data, s->rbuf->len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		budget = (size_t)n > budget ? 0 : budget - (size_t)n;
		if (frame_decoder_feed(s->dec, s->rbuf->data, (size_t)n,
				       on_entry, s) == FRAME_PAUSE)
			break;
	}
	report_bad_frames(s);
}

void stream_mark_stopping(struct stream *s)
{
	s->stopping = true;
}

void stream_free(struct stream *s)
{
	if (s == NULL)
		return;
	if (s->read_ev != NULL)
		event_free(s->read_ev);
	if (s->delay_ev != NULL)
		event_free(s->delay_ev);
	if (s->fd != -1)
		close(s->fd);
	frame_decoder_free(s->dec);
	sink_release(s->sink);
	free(s->path);
	free(s);
}

const char *stream_path(const struct stream *s)
{
	return s->path;
}

const char *stream_container_id(const struct stream *s)
{
	return s->container_id;
}

bool stream_is_paused(const struct stream *s)
{
	return frame_decoder_is_paused(s->dec);
}

bool stream_is_ended(const struct stream *s)
{
	return s->ended;
}

void stream_get_stats(const struct stream *s, struct stream_stats *out)
{
	*out = s->stats;
}
