/* SPDX-License-Identifier: Apache-2.0 */
#include "plugin/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/diag.h"
#include "plugin/frame.h"
#include "ratelimit/limiter.h"
#include "store/writer.h"

/* What we ask the kernel to hold for a FIFO (design.md). */
#define PIPE_SIZE (1024 * 1024)
/* After a loop turn of short reads, wait this long before reading again. */
#define COALESCE_NS (2 * 1000000)
/*
 * Under the block policy a read takes at most this much: what a pause
 * keeps stays small, and so does the memory of a stream its rate limit
 * holds back.
 */
#define BLOCK_READ_MAX (64 * 1024)
/*
 * A stream with no rate limit pauses only on a full queue, which already
 * holds QUEUE_MAX of its lines; it reads more at a time.  Each read of a
 * full pipe wakes the program writing it, and on two CPUs that wake-up
 * preempted the loop: 64 KiB reads of a flood were preempted about 9,000
 * times per 6 M lines, 256 KiB reads about 2,400 times, and took lines
 * 1.4 times as fast (bench/ingest.sh).  A 1 MiB read gained nothing more.
 */
#define BLOCK_READ_UNLIMITED (256 * 1024)
/* A limiter wait shorter than this is stretched to it, so a stream held
 * to its rate wakes a few hundred times a second, not once per line. */
#define WAIT_MIN_NS (2 * 1000000)
/* Reads per wake-up before yielding to other events. */
#define READS_PER_WAKEUP    8
#define BAD_FRAME_REPORT_NS (60LL * 1000000000)
/* A queue notice that is due but finds the queue still full waits this. */
#define QUEUE_NOTICE_RETRY_NS (100LL * 1000000)

struct stream {
	char *path;  /* owned */
	char *attrs; /* owned: the attrs object of every line, or NULL */
	size_t attrs_len;
	char container_id[65];
	int fd;
	struct sink *sink;	     /* owned reference */
	struct frame_decoder *dec;   /* owned */
	struct stream_readbuf *rbuf; /* borrowed */
	struct event *read_ev;	     /* owned, persistent */
	struct event *wait_ev;	     /* owned: block policy, tokens return */
	struct event *notice_ev;     /* owned: a pending drop notice is due */
	struct limiter *lim;	     /* owned, NULL without a rate limit */
	int64_t now_ns;		     /* monotonic time of the current read */
	int64_t read_ns;	     /* monotonic: the last read(2) */
	size_t pipe_size;	     /* what the kernel holds for the FIFO */
	size_t read_max;    /* bytes per read(2), by policy (BLOCK_READ_*) */
	int64_t wait_ns;    /* the limiter asked to wait this long */
	bool head_admitted; /* the kept entry passed the limiter already */
	bool writer_wait;   /* paused until the writer has room */
	bool reattached;    /* opened by a restarted plugin: report the skip */
	bool block;
	bool notices;  /* rate-notice: also for lines a full queue lost */
	bool stopping; /* StopLogging came */
	bool eof;      /* read() returned 0 */
	bool ended;    /* end_cb has been called */
	/* Lines lost to a full queue since the last notice about them. */
	uint64_t qdrop_lines;
	uint64_t qdrop_bytes;
	int64_t qdrop_since_ns; /* monotonic: the first of them */
	int64_t qdrop_last_ns;	/* monotonic: the latest of them */
	uint64_t reported_bad;
	struct diag_limit bad_limit;
	struct stream_stats stats;
	stream_end_cb *end_cb;
	void *end_arg;
};

/* Write what the limiter has to say about drops as a stderr line. */
static void write_notice(struct stream *s, int64_t now_ns)
{
	char text[LIMITER_NOTICE_MAX];
	size_t n;

	n = limiter_notice_take(s->lim, now_ns, text, sizeof(text));
	if (n == 0)
		return;
	/* Not charged to the limiter; a full queue does not refuse it. */
	if (sink_append_notice(s->sink, text, n) == 0)
		s->stats.notices++;
}

/*
 * The first entry after a re-attach: say in the log itself how much of a
 * record an earlier run had half read, if any.
 */
static void report_reattach(struct stream *s)
{
	const struct frame_stats *fs = frame_decoder_stats(s->dec);
	char text[160];
	int n;

	s->reattached = false;
	if (fs->skipped_bytes == 0)
		return;
	n = snprintf(text, sizeof(text),
		     "ratelog: re-attached after a plugin restart; skipped "
		     "%llu bytes of a record the previous run had half read",
		     (unsigned long long)fs->skipped_bytes);
	(void)sink_append_notice(s->sink, text,
				 (size_t)n < sizeof(text) ? (size_t)n
							  : sizeof(text) - 1);
}

/*
 * When lines lost to a full queue are reported, on the limiter's rhythm
 * (limiter.h): once the queue has taken lines again for a while after the
 * last loss, or every LIMITER_NOTICE_INTERVAL_NS while losses go on.  At a
 * full queue the writer frees room a batch at a time, so lines get in and
 * are lost by turns, and a notice for each turn would flood the log.
 * Returns the monotonic time it is due, or INT64_MAX.
 */
static int64_t queue_notice_deadline(const struct stream *s)
{
	int64_t settle, every;

	if (!s->notices || s->qdrop_lines == 0)
		return INT64_MAX;
	settle = s->qdrop_last_ns + LIMITER_NOTICE_SETTLE_NS;
	every = s->qdrop_since_ns + LIMITER_NOTICE_INTERVAL_NS;
	return settle < every ? settle : every;
}

/*
 * Say in the container's own log what a full queue cost it, as the limiter
 * does for its drops: before a line that gets in, so the notice stands
 * near where the lines are missing, from a timer if the container fell
 * silent, or when the stream ends.
 */
static void write_queue_notice(struct stream *s, int64_t now_ns)
{
	char text[256];
	int64_t span = now_ns - s->qdrop_since_ns;
	int n;

	if (!s->notices)
		goto out;
	if (span < 0)
		span = 0;
	n = snprintf(text, sizeof(text),
		     "ratelog: dropped %llu bytes (%llu line%s) in %.1f s: the "
		     "disk did not keep up and the queue of lines waiting for "
		     "it (QUEUE_MAX) was full",
		     (unsigned long long)s->qdrop_bytes,
		     (unsigned long long)s->qdrop_lines,
		     s->qdrop_lines == 1 ? "" : "s", (double)span / 1e9);
	if (n > 0 && sink_append_notice(s->sink, text,
					(size_t)n < sizeof(text)
						? (size_t)n
						: sizeof(text) - 1) == 0)
		s->stats.notices++;
out:
	s->qdrop_lines = 0;
	s->qdrop_bytes = 0;
}

/* 'lines' whole lines of 'bytes' text bytes the rate limit dropped. */
static void count_rate_drops(struct stream *s, uint64_t lines, uint64_t bytes)
{
	s->stats.entries += lines;
	s->stats.rate_dropped_lines += lines;
	s->stats.rate_dropped_bytes += bytes;
}

static int on_entry(void *arg, const struct log_entry *e)
{
	struct stream *s = arg;

	if (s->reattached)
		report_reattach(s);

	if (s->lim != NULL && !s->head_admitted) {
		int64_t wait = 0;
		enum limiter_verdict v =
			limiter_offer(s->lim, e, s->now_ns, &wait);

		if (v == LIMITER_WAIT) {
			s->wait_ns = wait;
			return FRAME_PAUSE;
		}
		if (limiter_notice_due(s->lim, s->now_ns))
			write_notice(s, s->now_ns);
		if (v == LIMITER_DROP) {
			count_rate_drops(s, 1, e->line_len);
			/* A flood over its rate: until time moves on, the
			 * whole lines after this one that are as long go
			 * unread (on_skipped). */
			return limiter_drops_longer(s->lim, e) ? FRAME_SKIP
							       : FRAME_TAKEN;
		}
	}
	s->head_admitted = false;
	if (s->now_ns >= queue_notice_deadline(s) && !sink_is_full(s->sink))
		write_queue_notice(s, s->now_ns);
	if (sink_append(s->sink, e, s->attrs, s->attrs_len) == 0) {
		s->stats.entries++;
		s->stats.queued_lines++;
		return FRAME_TAKEN;
	}
	if (s->block) {
		/* Offered again when the writer has room (stream_kick), and
		 * not charged to the limiter twice. */
		s->head_admitted = s->lim != NULL;
		s->wait_ns = 0;
		return FRAME_PAUSE;
	}
	s->stats.entries++;
	s->stats.dropped_lines++;
	s->stats.dropped_bytes += e->line_len;
	if (s->qdrop_lines == 0)
		s->qdrop_since_ns = s->now_ns;
	s->qdrop_last_ns = s->now_ns;
	s->qdrop_lines++;
	s->qdrop_bytes += e->line_len;
	return FRAME_TAKEN;
}

/* Whole lines the decoder skipped after a drop (FRAME_SKIP): dropped. */
static void on_skipped(void *arg, uint64_t lines, uint64_t bytes)
{
	struct stream *s = arg;

	limiter_drop_lines(s->lim, lines, bytes, s->now_ns);
	count_rate_drops(s, lines, bytes);
	if (limiter_notice_due(s->lim, s->now_ns))
		write_notice(s, s->now_ns);
}

/*
 * The entries of one read go to the sink as one batch; 'wake': wake the
 * writer thread now, or leave it to sink_wake().
 */
static int feed(struct stream *s, size_t n, bool wake)
{
	int rc;

	sink_hold(s->sink);
	rc = frame_decoder_feed(s->dec, s->rbuf->data, n, on_entry, s);
	sink_unhold(s->sink, wake);
	return rc;
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

/* Counted loop-wide, so the loop looks for such streams only when one is. */
static void set_writer_wait(struct stream *s, bool on)
{
	if (s->writer_wait == on)
		return;
	s->writer_wait = on;
	if (on)
		s->rbuf->writer_waits++;
	else
		s->rbuf->writer_waits--;
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
	if (s->lim != NULL)
		write_notice(s, diag_now_mono());
	if (s->qdrop_lines > 0)
		write_queue_notice(s, diag_now_mono());
	event_del(s->read_ev);
	set_writer_wait(s, false);
	event_del(s->wait_ev);
	event_del(s->notice_ev);
	s->ended = true;
	s->end_cb(s->end_arg, s);
}

static void arm_read(struct stream *s)
{
	event_add(s->read_ev, NULL);
}

static void arm_after(struct event *ev, int64_t ns)
{
	struct timeval tv;

	if (ns < 1000)
		ns = 1000;
	tv.tv_sec = (time_t)(ns / 1000000000);
	tv.tv_usec = (suseconds_t)(ns % 1000000000 / 1000);
	evtimer_add(ev, &tv);
}

/*
 * After a batch of entries: a paused stream waits for the limiter's tokens
 * (a timer) or for the writer (stream_kick); a pending notice gets a timer
 * so it is written even if the container falls silent.
 */
static void after_batch(struct stream *s, int rc)
{
	int64_t deadline;
	int64_t queue;

	if (rc == FRAME_PAUSE) {
		event_del(s->read_ev); /* until resume() */
		if (s->wait_ns > 0)
			arm_after(s->wait_ev, s->wait_ns < WAIT_MIN_NS
						      ? WAIT_MIN_NS
						      : s->wait_ns);
		else
			set_writer_wait(s, true);
	}
	deadline = s->lim != NULL ? limiter_next_deadline(s->lim) : INT64_MAX;
	queue = queue_notice_deadline(s);
	/* A queue notice that is due waits for room: look again later,
	 * not in a tight loop of timers. */
	if (queue != INT64_MAX && queue <= s->now_ns)
		queue = s->now_ns + QUEUE_NOTICE_RETRY_NS;
	if (queue < deadline)
		deadline = queue;
	if (deadline != INT64_MAX)
		arm_after(s->notice_ev, deadline - s->now_ns);
}

/*
 * Would the writer of this FIFO, at the rate it just showed ('got' bytes
 * in 'interval_ns'), fill half its pipe while the loop pauses?  Then the
 * pause would stall it, and reads this big need no coalescing anyway.
 */
static bool outruns_pause(const struct stream *s, size_t got,
			  int64_t interval_ns)
{
	return interval_ns <= 0 ||
	       (double)got * (double)COALESCE_NS >=
		       (double)(s->pipe_size / 2) * (double)interval_ns;
}

/*
 * Up to READS_PER_WAKEUP reads.  The writer thread is woken once, at the
 * end: with a flood it then takes every read's lines at once, instead of
 * waking (and preempting the loop on two CPUs) after each read.
 */
static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct stream *s = arg;
	size_t want = s->read_max;
	int64_t since = s->read_ns;
	size_t got = 0;
	int i;

	(void)what;
	if (s->rbuf->turn_start_ns == 0)
		s->rbuf->turn_start_ns = diag_now_mono();
	for (i = 0; i < READS_PER_WAKEUP; i++) {
		ssize_t n = read(fd, s->rbuf->data, want);
		int rc;

		if (n == -1) {
			if (errno == EINTR)
				continue;
			/* Nothing more now: wait for readable. */
			if (errno == EAGAIN)
				goto out;
			diag(DIAG_ERROR, "container %.12s: reading %s: %s",
			     s->container_id, s->path, strerror(errno));
			s->eof = true;
			goto end;
		}
		if (n == 0) {
			s->eof = true;
			goto end;
		}
		s->now_ns = diag_now_mono();
		s->read_ns = s->now_ns;
		got += (size_t)n;
		rc = feed(s, (size_t)n, false);
		report_bad_frames(s);
		after_batch(s, rc);
		if (rc == FRAME_PAUSE)
			goto out; /* resume() starts reading again */
		if ((size_t)n < want) {
			/* Caught up.  A writer that trickles gets a moment
			 * to fill its pipe before the next read; one that
			 * floods and was just caught up with would be
			 * stalled by that on a full pipe. */
			if (outruns_pause(s, got, s->now_ns - since))
				s->rbuf->flooded = true;
			else
				s->rbuf->trickled = true;
			goto out;
		}
	}
	s->rbuf->flooded = true; /* more waits: read again next turn */
out:
	sink_wake(s->sink);
	return;
end:
	sink_wake(s->sink);
	finish(s);
}

void stream_pace(struct stream_readbuf *rb)
{
	struct timespec ts = {0, COALESCE_NS};

	/* Only a loop woken soon after its last turn pauses: one that
	 * waited longer than the pause for these lines would gain nothing
	 * by it and pay a wake-up (with a line now and then, one of the
	 * four each line cost). */
	if (rb->trickled && !rb->flooded &&
	    rb->turn_start_ns - rb->turn_end_ns < COALESCE_NS)
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
	rb->trickled = false;
	rb->flooded = false;
	rb->turn_start_ns = 0;
	rb->turn_end_ns = diag_now_mono();
}

/* Deliver what a pause kept; when all of it went, read again. */
static void resume(struct stream *s)
{
	int rc;

	if (s->ended || !frame_decoder_is_paused(s->dec))
		return;
	set_writer_wait(s, false);
	s->now_ns = diag_now_mono();
	sink_hold(s->sink);
	rc = frame_decoder_resume(s->dec, on_entry, s);
	sink_unhold(s->sink, true);
	after_batch(s, rc);
	if (rc == FRAME_PAUSE)
		return;
	if (s->eof)
		finish(s);
	else
		arm_read(s);
}

void stream_kick(struct stream *s)
{
	/* Only a stream waiting for the writer; the limiter has a timer. */
	if (s->ended || !frame_decoder_is_paused(s->dec) || s->wait_ns > 0 ||
	    sink_is_full(s->sink))
		return;
	resume(s);
}

static void on_wait(evutil_socket_t fd, short what, void *arg)
{
	struct stream *s = arg;

	(void)fd;
	(void)what;
	s->wait_ns = 0;
	resume(s);
}

static void on_notice(evutil_socket_t fd, short what, void *arg)
{
	struct stream *s = arg;
	int64_t now = diag_now_mono();

	(void)fd;
	(void)what;
	if (s->ended)
		return;
	if (s->lim != NULL && limiter_notice_due(s->lim, now))
		write_notice(s, now);
	if (now >= queue_notice_deadline(s) && !sink_is_full(s->sink))
		write_queue_notice(s, now);
	s->now_ns = now;
	after_batch(s, 0);
}

static int open_fifo(const char *path, char *err, size_t err_len)
{
	struct stat st;
	int fd;

	/* O_NONBLOCK: a FIFO with no writer would block the open; dockerd
	 * holds a writer, and if it does not we must not hang the loop.
	 * O_NOATIME: each write to a pipe changes its times, so each read
	 * after one would update its atime too, an inode write per read
	 * where the FIFO lives on a disk filesystem.  It needs the file's
	 * owner or CAP_FOWNER; without, open as usual. */
	fd = open(path,
		  O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW | O_NOATIME);
	if (fd == -1 && errno == EPERM)
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
	s->notices = p->notices;
	s->end_cb = p->end_cb;
	s->end_arg = p->end_arg;
	snprintf(s->container_id, sizeof(s->container_id), "%s",
		 p->container_id);
	s->path = strdup(p->path);
	s->dec = frame_decoder_new(FRAME_MAX_DEFAULT);
	if (p->attrs != NULL) {
		s->attrs = strndup(p->attrs, p->attrs_len);
		s->attrs_len = p->attrs_len;
	}
	if (s->path == NULL || s->dec == NULL ||
	    (p->attrs != NULL && s->attrs == NULL)) {
		rc = -ENOMEM;
		snprintf(err, err_len, "StartLogging: out of memory");
		goto out;
	}
	if (p->resync) {
		frame_decoder_resync(s->dec);
		s->reattached = true;
	}
	if (p->limit != NULL) {
		s->lim = limiter_new(p->limit, p->node, diag_now_mono());
		if (s->lim == NULL) {
			rc = -ENOMEM;
			snprintf(err, err_len, "StartLogging: out of memory");
			goto out;
		}
		frame_decoder_set_skip(s->dec, on_skipped);
	}
	s->read_max = s->rbuf->len;
	if (s->block) {
		size_t most =
			s->lim != NULL ? BLOCK_READ_MAX : BLOCK_READ_UNLIMITED;

		if (s->read_max > most)
			s->read_max = most;
	}
	rc = open_fifo(p->path, err, err_len);
	if (rc < 0)
		goto out;
	s->fd = rc;
	rc = fcntl(s->fd, F_GETPIPE_SZ);
	s->pipe_size = rc > 0 ? (size_t)rc : 65536;
	s->read_ev =
		event_new(base, s->fd, EV_READ | EV_PERSIST, on_readable, s);
	s->wait_ev = evtimer_new(base, on_wait, s);
	s->notice_ev = evtimer_new(base, on_notice, s);
	if (s->read_ev == NULL || s->wait_ev == NULL || s->notice_ev == NULL) {
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
		s->now_ns = diag_now_mono();
		if (feed(s, (size_t)n, true) == FRAME_PAUSE)
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
	set_writer_wait(s, false);
	if (s->wait_ev != NULL)
		event_free(s->wait_ev);
	if (s->notice_ev != NULL)
		event_free(s->notice_ev);
	limiter_free(s->lim);
	if (s->fd != -1)
		close(s->fd);
	frame_decoder_free(s->dec);
	sink_release(s->sink);
	free(s->path);
	free(s->attrs);
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
