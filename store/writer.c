/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One writer thread for every sink.  Each sink has three buffers: the loop
 * encodes a batch of lines into 'fill' without any lock, hands it over to
 * 'pending' under the writer's mutex, and the thread swaps 'pending' with
 * 'out' under the mutex and writes 'out' unlocked.  So the mutex is held
 * only for a swap or a copy, the loop and the thread do not wait for each
 * other's encoding or writing, and a stalled disk never holds the loop.
 */
#include "store/writer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/diag.h"
#include "store/diskcap.h"
#include "store/jsonline.h"
#include "store/rotate.h"

/*
 * A batch kept for more (sink_unhold(s, false)) is handed over once it is
 * this big, or a quarter of the queue: a writer thread left asleep while
 * the queue fills would have lines refused for nothing.
 */
#define HANDOVER_MAX (512 * 1024)
/* A batch below this means its sink has caught up: its buffers go to the
 * spares (below) or are freed.  Bigger batches keep them. */
#define SMALL_BATCH  (64 * 1024)
#define MIN_CAPACITY (16 * 1024)
/*
 * A sink that caught up gives its buffers to the writer's spares, and the
 * next sink to start a batch takes the one given last, still in a cache.
 * With a buffer of its own per sink, a line now and then on each of 1,000
 * streams touched a cold buffer three times: the cost per line rose with
 * the number of streams.  Spares are small (a flood's buffers are freed)
 * and bounded in number and bytes (enough for the batches of one loop turn
 * over a few hundred sparse streams, each 16 KiB), so a quiet sink holds
 * no buffer (or the one spare a batch took and kept no line in) and the
 * spares at most SPARE_BYTES.
 */
#define SPARE_MAX      256
#define SPARE_CAPACITY (64 * 1024)
#define SPARE_BYTES    (4 * 1024 * 1024)
/* The janitor's pass runs at least this often. */
#define JANITOR_PERIOD_SEC 60
/* Retry a failing disk after 100 ms, doubling up to 10 s. */
#define BACKOFF_MIN_NS (100LL * 1000000)
#define BACKOFF_MAX_NS (10LL * 1000000000)
/* At most one disk-error report per sink per minute. */
#define ERROR_REPORT_NS (60LL * 1000000000)

struct buf {
	char *data; /* owned */
	size_t len;
	size_t cap;
};

struct sink {
	struct writer *w; /* borrowed: the writer whose list holds the sink */
	char id[65];
	char *dir;  /* owned: "<root>/<id>" */
	char *path; /* owned: "<dir>/<id>-json.log" */

	/* Guarded by w->lock. */
	int refs;		   /* loop-side references */
	struct buf pending;	   /* handed over by the loop, not yet taken */
	bool queued;		   /* on w->dirty */
	struct sink_progress prog; /* see writer.h */
	struct sink *next;	   /* w->sinks */
	struct sink *dirty_next;   /* w->dirty */
	struct sink_rotation rot;  /* see sink_set_rotation() */
	bool compressing;	   /* a compression job runs for this sink */
	struct rotate_lock rlock;  /* shared with readers: see rotate.h */

	/* Loop thread only: lines encoded and not handed over yet (the batch
	 * of a sink_hold(), and what sink_unhold(s, false) kept). */
	struct buf fill;
	bool held;
	size_t held_pending;   /* pending.len when the batch began */
	uint64_t held_refused; /* lines refused in this batch */

	/* Writer thread only. */
	struct buf out; /* the batch being written */
	int fd;		/* the open log file, -1 when closed */
	uint64_t size;	/* bytes in the open file */
	char last_time[JSONLINE_TIME_MAX + 1]; /* of the last line written */
	/* While writes fail: batches are counted as lost without touching the
	 * disk until retry_ns, with a doubling backoff; the first write that
	 * works again is preceded by a notice line saying what was lost. */
	bool failing;
	int fail_errno;
	int64_t retry_ns; /* monotonic */
	int64_t backoff_ns;
	int64_t fail_since_ns; /* monotonic, when the trouble began */
	uint64_t fail_lost_bytes;
	uint64_t fail_lost_lines;
	bool torn; /* a failed write left half a line: end it before more */
	struct diag_limit err_limit;
};

struct job {
	writer_job_fn *fn;
	void *arg; /* the job's */
	struct job *next;
};

struct writer {
	char *root; /* owned */
	size_t queue_max;
	writer_notify_cb *notify;
	void *notify_arg;

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_cond_t compressed; /* a compression job finished */
	bool stopping;		   /* guarded by lock */
	struct sink *sinks;	   /* guarded by lock: every live sink */
	struct sink *dirty;	   /* guarded by lock: sinks with work, FIFO */
	struct sink **dirty_tail;  /* guarded by lock */
	struct job *jobs;	   /* guarded by lock: owned, FIFO */
	/* The janitor (writer_set_disk_policy), when started. */
	bool has_janitor;
	pthread_t janitor;
	pthread_cond_t janitor_wake;
	bool janitor_kick; /* guarded by lock: a rotation happened */
	uint64_t max_disk;
	int64_t keep_stopped_ns;
	struct job **jobs_tail; /* guarded by lock */
	/* Guarded by lock: empty buffers for the next batches, the last one
	 * given at the top. */
	struct buf spare[SPARE_MAX];
	unsigned nspare;
	size_t spare_bytes; /* their capacity */
	/* Loop thread only: within a turn (writer_turn_begin()), batches
	 * handed over since the thread last got a signal, which it is owed. */
	bool in_turn;
	bool signal_due;
	size_t due_bytes;
};

static void buf_release(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

static int buf_reserve(struct buf *b, size_t more)
{
	size_t want = b->len + more;
	size_t cap;
	char *p;

	if (want <= b->cap)
		return 0;
	cap = b->cap < MIN_CAPACITY ? MIN_CAPACITY : b->cap;
	while (cap < want)
		cap *= 2;
	p = realloc(b->data, cap);
	if (p == NULL)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

/* Caller holds w->lock.  Give 'b' (emptied) to the spares or free it. */
static void spare_put(struct writer *w, struct buf *b)
{
	if (b->cap == 0)
		return;
	if (b->cap > SPARE_CAPACITY || w->nspare == SPARE_MAX ||
	    w->spare_bytes + b->cap > SPARE_BYTES) {
		buf_release(b);
		return;
	}
	b->len = 0;
	w->spare_bytes += b->cap;
	w->spare[w->nspare++] = *b;
	b->data = NULL;
	b->cap = 0;
}

/* Caller holds w->lock.  An empty 'b' with no memory takes a spare. */
static void spare_take(struct writer *w, struct buf *b)
{
	if (b->cap != 0 || w->nspare == 0)
		return;
	*b = w->spare[--w->nspare];
	w->spare_bytes -= b->cap;
}

static void sink_free(struct sink *s)
{
	if (s == NULL)
		return;
	if (s->fd != -1)
		close(s->fd);
	buf_release(&s->fill);
	buf_release(&s->pending);
	buf_release(&s->out);
	rotate_lock_destroy(&s->rlock);
	free(s->dir);
	free(s->path);
	free(s);
}

/*
 * Caller holds w->lock.  True when the sink was not queued yet: the caller
 * then signals w->wake once it has let go of the lock (the thread sleeps
 * only with nothing queued, so a sink already queued needs no signal, and
 * woken under the lock it would only wait for it).
 */
static bool queue_dirty(struct writer *w, struct sink *s)
{
	if (s->queued)
		return false;
	s->queued = true;
	s->dirty_next = NULL;
	*w->dirty_tail = s;
	w->dirty_tail = &s->dirty_next;
	return true;
}

/* Caller holds w->lock. */
static struct sink *pop_dirty(struct writer *w)
{
	struct sink *s = w->dirty;

	if (s == NULL)
		return NULL;
	w->dirty = s->dirty_next;
	if (w->dirty == NULL)
		w->dirty_tail = &w->dirty;
	s->queued = false;
	s->dirty_next = NULL;
	return s;
}

/* Caller holds w->lock. */
static void unlink_sink(struct writer *w, struct sink *s)
{
	struct sink **pp;

	for (pp = &w->sinks; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			return;
		}
	}
}

static uint64_t count_lines(const char *p, size_t n)
{
	uint64_t lines = 0;
	const char *end = p + n;

	while (p < end) {
		p = memchr(p, '\n', (size_t)(end - p));
		if (p == NULL)
			break;
		lines++;
		p++;
	}
	return lines;
}

static int open_file(struct sink *s)
{
	struct stat st;

	/* Twice: the janitor may remove an idle container's empty directory
	 * between the mkdir and the open. */
	for (int i = 0; i < 2; i++) {
		if (mkdir(s->dir, 0750) == -1 && errno != EEXIST)
			return -errno;
		s->fd = open(s->path,
			     O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC |
				     O_NOFOLLOW,
			     0640);
		if (s->fd != -1 || errno != ENOENT)
			break;
	}
	if (s->fd == -1)
		return -errno;
	if (fstat(s->fd, &st) == -1) {
		int rc = -errno;

		close(s->fd);
		s->fd = -1;
		return rc;
	}
	s->size = (uint64_t)st.st_size;
	return 0;
}

/* Remember the time of the last line in p[0..n) for the gzip header. */
static void note_last_time(struct sink *s, const char *p, size_t n)
{
	static const char key[] = "\"time\":\"";
	const char *line;
	const char *t;
	const char *q;

	if (n < 2)
		return;
	line = memrchr(p, '\n', n - 1);
	line = line != NULL ? line + 1 : p;
	t = memmem(line, (size_t)(p + n - line), key, sizeof(key) - 1);
	if (t == NULL)
		return;
	t += sizeof(key) - 1;
	q = memchr(t, '"', (size_t)(p + n - t));
	if (q == NULL || (size_t)(q - t) > JSONLINE_TIME_MAX)
		return;
	memcpy(s->last_time, t, (size_t)(q - t));
	s->last_time[q - t] = '\0';
}

struct compress_job {
	struct writer *w;
	struct sink *s; /* stays alive: freeing waits for 'compressing' */
	char src[ROTATE_PATH_MAX];
	char last_time[JSONLINE_TIME_MAX + 1];
};

static void *compress_main(void *arg)
{
	struct compress_job *job = arg;
	struct writer *w = job->w;
	int rc;

	rc = rotate_compress(job->src, job->last_time);
	if (rc != 0)
		diag(DIAG_ERROR, "cannot compress %s: %s", job->src,
		     strerror(-rc));
	pthread_mutex_lock(&w->lock);
	job->s->compressing = false;
	pthread_cond_broadcast(&w->compressed);
	pthread_mutex_unlock(&w->lock);
	free(job);
	return NULL;
}

static void wait_compression(struct writer *w, struct sink *s)
{
	pthread_mutex_lock(&w->lock);
	while (s->compressing)
		pthread_cond_wait(&w->compressed, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

/* Start compressing "<log>.1"; when no thread can start, compress here. */
static void start_compression(struct writer *w, struct sink *s)
{
	struct compress_job *job = calloc(1, sizeof(*job));
	pthread_t th;

	if (job == NULL ||
	    rotate_name(job->src, sizeof(job->src), s->path, 1, false) != 0) {
		free(job);
		return;
	}
	job->w = w;
	job->s = s;
	memcpy(job->last_time, s->last_time, sizeof(job->last_time));
	pthread_mutex_lock(&w->lock);
	s->compressing = true;
	pthread_mutex_unlock(&w->lock);
	if (pthread_create(&th, NULL, compress_main, job) != 0) {
		compress_main(job);
		return;
	}
	pthread_detach(th);
}

/* Rotate the sink's files as json-file does, and open a fresh current. */
static int rotate(struct writer *w, struct sink *s,
		  const struct sink_rotation *rot)
{
	int rc = 0;

	wait_compression(w, s);
	if (s->fd != -1) {
		/* Rotated text is rarely read: leave the page cache to the
		 * node's own work. */
		(void)posix_fadvise(s->fd, 0, 0, POSIX_FADV_DONTNEED);
		close(s->fd);
		s->fd = -1;
	}
	rotate_lock_rotating(&s->rlock);
	if (rot->max_files <= 1) {
		if (unlink(s->path) == -1 && errno != ENOENT)
			rc = -errno;
	} else {
		rc = rotate_shift(s->path, rot->max_files);
	}
	rotate_unlock_rotated(&s->rlock, rc == 0);
	if (rc != 0)
		return rc;
	if (rot->max_files > 1 && rot->compress)
		start_compression(w, s);
	if (w->has_janitor) {
		pthread_mutex_lock(&w->lock);
		w->janitor_kick = true;
		pthread_cond_signal(&w->janitor_wake);
		pthread_mutex_unlock(&w->lock);
	}
	return open_file(s);
}

/*
 * Write the whole batch, rotating between lines where json-file would.
 * Returns how many bytes reached the file; on a failure also reports it
 * (rate-limited) and closes the file so the next batch starts from a fresh
 * open (the directory may have been removed).
 */
static size_t write_batch(struct writer *w, struct sink *s, const char *p,
			  size_t n, const struct sink_rotation *rot)
{
	size_t done = 0;
	int rc = 0;

	while (done < n) {
		size_t k;
		size_t put = 0;

		if (s->fd == -1) {
			rc = open_file(s);
			if (rc != 0)
				break;
		}
		if (rot->max_size != 0 && s->size >= rot->max_size) {
			rc = rotate(w, s, rot);
			if (rc != 0)
				break;
			continue;
		}
		k = rotate_split(s->size, rot->max_size, p + done, n - done);
		while (put < k) {
			ssize_t m = write(s->fd, p + done + put, k - put);

			if (m == -1) {
				if (errno == EINTR)
					continue;
				rc = -errno;
				break;
			}
			put += (size_t)m;
		}
		note_last_time(s, p + done, put);
		s->size += put;
		done += put;
		if (rc != 0) {
			if (put > 0 && p[done - 1] != '\n')
				s->torn = true;
			break;
		}
		s->torn = false;
	}
	if (rc != 0) {
		s->fail_errno = -rc;
		if (diag_limit_allow(&s->err_limit, diag_now_mono(),
				     ERROR_REPORT_NS))
			diag(DIAG_ERROR,
			     "container %.12s: cannot write %s: %s (%llu "
			     "reports suppressed)",
			     s->id, s->path, strerror(-rc),
			     (unsigned long long)s->err_limit.suppressed);
		if (s->fd != -1) {
			close(s->fd);
			s->fd = -1;
		}
	}
	return done;
}

/* A line of ratelog's own: stderr, now, the text given. */
static void notice_entry(struct log_entry *e, const char *text, size_t len)
{
	memset(e, 0, sizeof(*e));
	e->source = "stderr";
	e->source_len = 6;
	e->time_nano = diag_now_real();
	e->line = (const uint8_t *)text;
	e->line_len = len;
}

/*
 * A failed write left the start of a line at the end of the file: cut the
 * file back to its last complete line, so every reader (dockerd's json-file
 * reader stops at a line it cannot decode) sees whole lines only.
 */
static void cut_torn_line(struct sink *s)
{
	char buf[4096];
	struct stat st;
	off_t pos;

	s->torn = false;
	if (fstat(s->fd, &st) == -1)
		return;
	pos = st.st_size;
	while (pos > 0) {
		size_t n = pos > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)pos;
		const char *nl;

		if (pread(s->fd, buf, n, pos - (off_t)n) != (ssize_t)n)
			return;
		nl = memrchr(buf, '\n', n);
		if (nl != NULL) {
			pos = pos - (off_t)n + (nl - buf) + 1;
			break;
		}
		pos -= (off_t)n;
	}
	if (pos < st.st_size && ftruncate(s->fd, pos) == 0)
		s->size = (uint64_t)pos;
}

/*
 * Write one batch, minding a disk in trouble (see the 'failing' fields).
 * Returns the bytes that reached the file.
 */
static size_t write_guarded(struct writer *w, struct sink *s, const char *p,
			    size_t n, const struct sink_rotation *rot)
{
	int64_t now = diag_now_mono();
	size_t done;

	if (s->failing && now < s->retry_ns)
		goto lost;
	if (s->failing) {
		char text[512];
		char line[4096];
		struct log_entry e;
		size_t k;
		int t;

		t = snprintf(text, sizeof(text),
			     "ratelog: lost %llu bytes (%llu lines) in %.1f s: "
			     "cannot write %s: %s",
			     (unsigned long long)s->fail_lost_bytes,
			     (unsigned long long)s->fail_lost_lines,
			     (double)(now - s->fail_since_ns) / 1e9, s->path,
			     strerror(s->fail_errno));
		notice_entry(&e, text,
			     t < 0			? 0
			     : (size_t)t < sizeof(text) ? (size_t)t
							: sizeof(text) - 1);
		/* 4096 holds the encoding of any 511-byte text (6 bytes a
		 * byte). */
		if (s->fd == -1 && open_file(s) != 0)
			goto failed;
		if (s->torn)
			cut_torn_line(s);
		k = jsonline_encode(line, &e, WRITER_NOTICE_ATTRS,
				    sizeof(WRITER_NOTICE_ATTRS) - 1);
		if (write_batch(w, s, line, k, rot) != k)
			goto failed;
		diag(DIAG_INFO, "container %.12s: writing works again: %s",
		     s->id, text);
		s->failing = false;
		s->fail_lost_bytes = 0;
		s->fail_lost_lines = 0;
	}
	done = write_batch(w, s, p, n, rot);
	if (done == n)
		return n;
	s->fail_lost_bytes += n - done;
	s->fail_lost_lines += count_lines(p + done, n - done);
failed:
	if (!s->failing) {
		s->failing = true;
		s->fail_since_ns = now;
		s->backoff_ns = BACKOFF_MIN_NS;
	} else {
		s->backoff_ns = s->backoff_ns * 2 > BACKOFF_MAX_NS
					? BACKOFF_MAX_NS
					: s->backoff_ns * 2;
	}
	s->retry_ns = now + s->backoff_ns;
	return 0;
lost:
	s->fail_lost_bytes += n;
	s->fail_lost_lines += count_lines(p, n);
	return 0;
}

/* Sinks written between two wake-ups of the loop while more wait. */
#define NOTIFY_EVERY 32

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	unsigned unnotified = 0;
	struct sink *s;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct sink_rotation rot;
		struct buf tmp;
		size_t done;
		bool was_full;
		bool drained;
		bool small;
		bool last;

		while (w->dirty == NULL && w->jobs == NULL && !w->stopping)
			pthread_cond_wait(&w->wake, &w->lock);
		if (w->jobs != NULL) {
			struct job *j = w->jobs;

			w->jobs = j->next;
			if (w->jobs == NULL)
				w->jobs_tail = &w->jobs;
			pthread_mutex_unlock(&w->lock);
			j->fn(j->arg);
			free(j);
			pthread_mutex_lock(&w->lock);
			continue;
		}
		s = pop_dirty(w);
		if (s == NULL)
			break; /* stopping, and nothing left to write */

		tmp = s->out;
		s->out = s->pending;
		s->pending = tmp;
		rot = s->rot;
		was_full = s->out.len >= w->queue_max;
		pthread_mutex_unlock(&w->lock);
		/* A stream held back by this full queue can go on filling the
		 * other buffer while this one is written. */
		if (was_full)
			w->notify(w->notify_arg);

		done = 0;
		if (s->out.len > 0)
			done = write_guarded(w, s, s->out.data, s->out.len,
					     &rot);

		pthread_mutex_lock(&w->lock);
		s->prog.done_bytes += s->out.len;
		if (done < s->out.len) {
			s->prog.lost_bytes += s->out.len - done;
			s->prog.lost_lines += count_lines(s->out.data + done,
							  s->out.len - done);
		}
		/* A sink writing big batches keeps its big buffers: freeing
		 * them and faulting megabytes back in, batch after batch,
		 * was a tenth of the loop thread's time when one container
		 * floods.  One that has caught up with a small batch gives
		 * them to the spares (or frees them), so a sink gone quiet
		 * holds none.  Small is a fixed size, not a part of the
		 * buffer: a flood's last batch of a turn is often a fraction
		 * of its buffer, and regrowing the buffers each turn copied
		 * them over and over. */
		small = s->out.len < SMALL_BATCH;
		s->out.len = 0;
		if (small && s->pending.len == 0) {
			spare_put(w, &s->out);
			spare_put(w, &s->pending);
		}
		last = s->refs == 0 && s->pending.len == 0 && !s->queued;
		if (last)
			unlink_sink(w, s);
		drained = w->dirty == NULL;
		pthread_mutex_unlock(&w->lock);

		if (last) {
			wait_compression(w, s);
			sink_free(s);
		}
		/* Waking the loop costs it a turn: once the queue is empty,
		 * and now and then while it is not (a loop waiting on one
		 * sink does not wait for all), rather than after each sink,
		 * which with many streams each writing a line now and then
		 * was a wake-up per line. */
		if (drained || ++unnotified >= NOTIFY_EVERY) {
			w->notify(w->notify_arg);
			unnotified = 0;
		}
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/*
 * For the janitor: is the container's file in use?  A sink stays on the
 * list until its last bytes are written and its file closed, so a
 * container counts as active while a stream holds it and while what its
 * streams left is still being flushed.
 */
static bool container_active(void *arg, const char *id)
{
	struct writer *w = arg;
	struct sink *s;
	bool active = false;

	pthread_mutex_lock(&w->lock);
	for (s = w->sinks; s != NULL; s = s->next) {
		if (memcmp(s->id, id, 64) == 0) {
			active = true;
			break;
		}
	}
	pthread_mutex_unlock(&w->lock);
	return active;
}

static void *janitor_main(void *arg)
{
	struct writer *w = arg;
	struct diskcap_stats st;
	struct timespec until;
	int rc;

	pthread_mutex_lock(&w->lock);
	while (!w->stopping) {
		w->janitor_kick = false;
		pthread_mutex_unlock(&w->lock);
		rc = diskcap_pass(w->root, w->max_disk, w->keep_stopped_ns,
				  diag_now_real(), container_active, w, &st);
		if (rc != 0)
			diag(DIAG_WARN, "disk: cannot scan %s: %s", w->root,
			     strerror(-rc));
		else if (st.over_cap)
			diag(DIAG_WARN,
			     "disk: %llu bytes under %s, over NODE_MAX_DISK "
			     "%llu, and only the current files of running "
			     "containers are left",
			     (unsigned long long)st.bytes_after, w->root,
			     (unsigned long long)w->max_disk);
		pthread_mutex_lock(&w->lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += JANITOR_PERIOD_SEC;
		while (!w->stopping && !w->janitor_kick) {
			if (pthread_cond_timedwait(&w->janitor_wake, &w->lock,
						   &until) == ETIMEDOUT)
				break;
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int writer_set_disk_policy(struct writer *w, uint64_t max_disk,
			   int64_t keep_stopped_ns)
{
	int rc;

	if (max_disk == 0 && keep_stopped_ns <= 0)
		return 0;
	w->max_disk = max_disk;
	w->keep_stopped_ns = keep_stopped_ns;
	pthread_cond_init(&w->janitor_wake, NULL);
	rc = pthread_create(&w->janitor, NULL, janitor_main, w);
	if (rc != 0) {
		pthread_cond_destroy(&w->janitor_wake);
		return -rc;
	}
	w->has_janitor = true;
	return 0;
}

int writer_new(const char *log_root, size_t queue_max, writer_notify_cb *notify,
	       void *notify_arg, struct writer **out)
{
	struct writer *w;
	int rc;

	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	w->root = strdup(log_root);
	if (w->root == NULL) {
		free(w);
		return -ENOMEM;
	}
	w->queue_max = queue_max;
	w->notify = notify;
	w->notify_arg = notify_arg;
	w->dirty_tail = &w->dirty;
	w->jobs_tail = &w->jobs;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	pthread_cond_init(&w->compressed, NULL);
	rc = pthread_create(&w->thread, NULL, writer_main, w);
	if (rc != 0) {
		pthread_cond_destroy(&w->compressed);
		pthread_cond_destroy(&w->wake);
		pthread_mutex_destroy(&w->lock);
		free(w->root);
		free(w);
		return -rc;
	}
	*out = w;
	return 0;
}

void writer_free(struct writer *w)
{
	struct sink *s;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->wake);
	if (w->has_janitor)
		pthread_cond_signal(&w->janitor_wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	if (w->has_janitor) {
		pthread_join(w->janitor, NULL);
		pthread_cond_destroy(&w->janitor_wake);
	}

	/* Only sinks still referenced (a caller bug) can be left. */
	while ((s = w->sinks) != NULL) {
		diag(DIAG_WARN, "container %.12s: sink still in use at exit",
		     s->id);
		w->sinks = s->next;
		wait_compression(w, s);
		sink_free(s);
	}
	while (w->nspare > 0)
		buf_release(&w->spare[--w->nspare]);
	pthread_cond_destroy(&w->compressed);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w->root);
	free(w);
}

static struct sink *sink_new(struct writer *w, const char *id)
{
	struct sink *s;
	int n;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->w = w;
	s->fd = -1;
	rotate_lock_init(&s->rlock);
	memcpy(s->id, id, 64);
	s->id[64] = '\0';
	n = asprintf(&s->dir, "%s/%s", w->root, s->id);
	if (n < 0) {
		s->dir = NULL;
		goto fail;
	}
	n = asprintf(&s->path, "%s/%s-json.log", s->dir, s->id);
	if (n < 0) {
		s->path = NULL;
		goto fail;
	}
	return s;
fail:
	sink_free(s);
	return NULL;
}

int writer_post(struct writer *w, writer_job_fn *fn, void *arg)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return -ENOMEM;
	j->fn = fn;
	j->arg = arg;
	pthread_mutex_lock(&w->lock);
	*w->jobs_tail = j;
	w->jobs_tail = &j->next;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

int writer_sink_get(struct writer *w, const char *container_id,
		    struct sink **out)
{
	struct sink *s;

	pthread_mutex_lock(&w->lock);
	for (s = w->sinks; s != NULL; s = s->next) {
		if (memcmp(s->id, container_id, 64) == 0)
			break;
	}
	if (s == NULL) {
		s = sink_new(w, container_id);
		if (s == NULL) {
			pthread_mutex_unlock(&w->lock);
			return -ENOMEM;
		}
		s->next = w->sinks;
		w->sinks = s;
	}
	s->refs++;
	pthread_mutex_unlock(&w->lock);
	*out = s;
	return 0;
}

void sink_release(struct sink *s)
{
	struct writer *w;
	bool wake = false;

	if (s == NULL)
		return;
	w = s->w;
	pthread_mutex_lock(&w->lock);
	s->refs--;
	/* The writer thread frees it once whatever is pending is written. */
	if (s->refs == 0)
		wake = queue_dirty(w, s);
	pthread_mutex_unlock(&w->lock);
	if (wake)
		pthread_cond_signal(&w->wake);
}

void sink_hold(struct sink *s)
{
	struct writer *w = s->w;

	pthread_mutex_lock(&w->lock);
	s->held_pending = s->pending.len;
	spare_take(w, &s->fill);
	pthread_mutex_unlock(&w->lock);
	s->held = true;
}

/*
 * Caller holds w->lock: move the batch in 'fill' to the end of 'pending'.
 * The writer usually has taken 'pending' already, and then the two
 * buffers just change places.  True when the writer needs a signal.
 */
static bool hand_over(struct writer *w, struct sink *s)
{
	size_t n = s->fill.len;
	struct buf tmp;

	s->prog.refused_lines += s->held_refused;
	s->held_refused = 0;
	if (n == 0)
		return false;
	if (s->pending.len == 0) {
		tmp = s->pending;
		s->pending = s->fill;
		s->fill = tmp;
	} else if (buf_reserve(&s->pending, n) == 0) {
		memcpy(s->pending.data + s->pending.len, s->fill.data, n);
		s->pending.len += n;
		s->fill.len = 0;
	} else {
		/* No memory for the copy: refused, as sink_append() would
		 * have refused them had it known. */
		s->prog.refused_lines += count_lines(s->fill.data, n);
		s->fill.len = 0;
		return false;
	}
	s->prog.appended_bytes += n;
	/* Once batches are small, 'fill' goes to the spares as the writer's
	 * two do. */
	if (n < SMALL_BATCH)
		spare_put(w, &s->fill);
	return queue_dirty(w, s);
}

/* What the loop hands over before the writer thread must take it. */
static size_t handover_most(const struct writer *w)
{
	return w->queue_max / 4 < HANDOVER_MAX ? w->queue_max / 4
					       : HANDOVER_MAX;
}

void sink_unhold(struct sink *s, bool wake)
{
	s->held = false;
	if (wake || s->fill.len >= handover_most(s->w))
		sink_wake(s);
}

void sink_wake(struct sink *s)
{
	struct writer *w = s->w;
	size_t n = s->fill.len;
	bool signal;

	if (n == 0 && s->held_refused == 0)
		return;
	pthread_mutex_lock(&w->lock);
	signal = hand_over(w, s);
	pthread_mutex_unlock(&w->lock);
	if (!signal && !w->signal_due)
		return;
	w->signal_due = true;
	w->due_bytes += n;
	if (!w->in_turn || w->due_bytes >= handover_most(w))
		writer_turn_end(w);
}

void writer_turn_begin(struct writer *w)
{
	w->in_turn = true;
}

void writer_turn_end(struct writer *w)
{
	w->in_turn = false;
	if (!w->signal_due)
		return;
	w->signal_due = false;
	w->due_bytes = 0;
	pthread_cond_signal(&w->wake);
}

static int append(struct sink *s, const struct log_entry *e, const char *attrs,
		  size_t attrs_len, bool force)
{
	struct writer *w = s->w;
	bool held = s->held;
	int rc = 0;

	if (!held)
		sink_hold(s);
	if (s->held_pending + s->fill.len >= w->queue_max && !force) {
		s->held_refused++;
		rc = -ENOBUFS;
		goto out;
	}
	rc = buf_reserve(&s->fill, jsonline_encode_bound(e, attrs_len));
	if (rc != 0) {
		s->held_refused++;
		rc = -ENOBUFS;
		goto out;
	}
	s->fill.len += jsonline_encode(s->fill.data + s->fill.len, e, attrs,
				       attrs_len);
out:
	if (!held)
		sink_unhold(s, true);
	return rc;
}

int sink_append(struct sink *s, const struct log_entry *e, const char *attrs,
		size_t attrs_len)
{
	return append(s, e, attrs, attrs_len, false);
}

void sink_set_rotation(struct sink *s, const struct sink_rotation *r)
{
	pthread_mutex_lock(&s->w->lock);
	s->rot = *r;
	pthread_mutex_unlock(&s->w->lock);
}

int sink_append_notice(struct sink *s, const char *text, size_t len)
{
	struct log_entry e;

	notice_entry(&e, text, len);
	return append(s, &e, WRITER_NOTICE_ATTRS,
		      sizeof(WRITER_NOTICE_ATTRS) - 1, true);
}

bool sink_is_full(const struct sink *s)
{
	struct writer *w = s->w;
	bool full;

	if (s->held)
		return s->held_pending + s->fill.len >= w->queue_max;
	pthread_mutex_lock(&w->lock);
	full = s->pending.len + s->fill.len >= w->queue_max;
	pthread_mutex_unlock(&w->lock);
	return full;
}

void sink_get_progress(const struct sink *s, struct sink_progress *out)
{
	struct writer *w = s->w;

	pthread_mutex_lock(&w->lock);
	*out = s->prog;
	pthread_mutex_unlock(&w->lock);
}

bool sink_is_idle(const struct sink *s)
{
	struct sink_progress p;

	sink_get_progress(s, &p);
	return p.done_bytes == p.appended_bytes;
}

struct rotate_lock *sink_rotate_lock(struct sink *s)
{
	return &s->rlock;
}

const char *sink_path(const struct sink *s)
{
	return s->path;
}
