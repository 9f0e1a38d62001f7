/* SPDX-License-Identifier: Apache-2.0 */
/*
 * streams: the plugin with many streams, driven the way dockerd drives it
 * (build/ratelog serve on a unix socket, FIFOs made with mkfifo and held
 * O_RDWR, StartLogging/StopLogging over HTTP, one write(2) per framed
 * LogEntry), measured from outside the process:
 *
 *   1. memory: RSS at start, with N streams open, and at its peak (VmHWM,
 *      reset between parts through /proc/PID/clear_refs) while N streams
 *      log 10 and then 100 lines/s of 100 bytes each, beside the target
 *      16 MiB + 64 KiB per active stream;
 *   2. idle: the same N streams open with nothing written for a while:
 *      the plugin's CPU and context switches over the window, beside the
 *      same plugin with no stream at all measured first;
 *   3. latency: FIFO write to json line readable in the file, p50/p99/max,
 *      at 1,000 lines/s per stream for 1, 10, 100 streams and then more
 *      until the machine no longer keeps up; and FIFO write to frame
 *      received on a ReadLogs Follow reply (docker logs -f) for one stream,
 *      beside the file figure of the same lines;
 *   4. scaling: plugin CPU per line on 1, 10, 100 and 1,000 streams,
 *      three times: with the same rate on every stream (the load grows
 *      with the streams), with one total rate split across them a line
 *      to a write(2) (the lines also get sparser), and with that total
 *      split in bursts of SCALE_BURST lines staggered so that the bursts
 *      per second stay the same (only the number of streams changes: the
 *      curve that shows what a stream costs).  Each row is relative to
 *      the 1-stream figure and to a reference logger given the identical
 *      load right after it, with the context switches per 1,000 lines of
 *      both and the lines per read(2) and per write(2).  The
 *      reference is one thread in this process doing the same job with the
 *      least machinery: epoll (level-triggered) over the N FIFOs, for each
 *      ready FIFO one read(2), the project's frame decoder, jsonline_encode()
 *      and one write(2) of that read's lines to the stream's own json-file
 *      (O_APPEND), with no other thread, no pacing and no queue.  At a
 *      fixed total rate more streams mean fewer lines per read and per
 *      write, so the CPU per line rises for any logger writing one file per
 *      container; the reference measures that floor at each N, and the
 *      plugin/reference ratio is what the plugin adds on top of it.
 *
 * Every line carries its sequence number and the CLOCK_MONOTONIC time of
 * the write(2) that put it in the FIFO.  A thread watches each log file
 * with inotify and reads what was appended; a line's latency is the time
 * its bytes were read back minus the time it was written, so the figure is
 * an upper bound (it includes the reader's own wake-up).  The "time" that
 * json-file stores is the entry's time_nano, set by the sender, so it says
 * nothing about when the plugin wrote the line and is not used.
 *
 * Plugin CPU is utime+stime from /proc/PID/stat (ticks, threads that ended
 * included) and, for resolution, the sum of the run times in
 * /proc/PID/task/TID/schedstat (ns); context switches are summed over
 * the plugin's threads.  The reference's CPU is the same two figures for
 * its one thread, from /proc/self/task/TID/stat and schedstat, over the
 * same window (the load and the drain that follows it).
 *
 * Knobs (environment): STREAMS (1000), MEM_SECONDS (8 per rate),
 * IDLE_SECONDS (10), IDLE_BASE_SECONDS (3), LAT_SECONDS (5), LAT_RATE
 * (1000 lines/s per stream), LAT_STREAMS ("1,10,100"), LAT_RAMP
 * ("200,400,600,800": tried in order while the previous one kept up),
 * SCALE_EACH (20 lines/s per stream), SCALE_RATE (20000 lines/s in
 * total), SCALE_BURST (20 lines), SCALE_SECONDS (5), SCALE_STREAMS
 * ("1,10,100,1000"), SCALE_CURVES ("esb": each, split, burst), SCALE_ROUNDS
 * (3: the burst curve, the one the target reads, runs this many times, every
 * other time bottom to top, and prints the medians; on these machines one
 * run of a row moved by a third from one minute to the next), PARTS ("mlfs":
 * memory+idle, latency, follow, scaling), RATELOG_BIN (build/ratelog), TMPDIR.
 *
 * The load generator (one thread, one write(2) per line) and the reader
 * share the machine with the plugin; "sender late" says how far behind its
 * 1 ms schedule the generator fell, "bench CPU" what it and the reader
 * used.  Streams use rate-limit=100m (the limiter runs but never drops)
 * and max-size=1g (no rotation while a file is tailed).
 *
 *   RATELOG_BIN=build/ratelog TMPDIR=/tmp streams
 */
#include "tests/integration/harness.h"

#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/resource.h>

#include "plugin/frame.h"
#include "plugin/logentry.h"
#include "store/jsonline.h"

#define LINE_LEN      100	/* bytes of text per line, as issue 7 says */
#define TICK_NS	      1000000LL /* the sender's period */
#define OPTS	      "rate-limit=100m,max-size=1g"
#define P99_TARGET_MS 50
#define MEM_BASE_KIB  (16 * 1024)
#define MEM_PER_KIB   64
#define DRAIN_MS      20000
#define READ_CHUNK    (256 * 1024)
#define MAX_TASKS     64
#define REF_READ      (1024 * 1024) /* the plugin's read buffer, too */
#define REF_PIPE_SIZE (1024 * 1024) /* what the plugin asks for a FIFO */
#define REF_EVENTS    256
#define FRAME_MAX     (LINE_LEN + 64) /* one framed line, with room */
#define BURST_MAX     64	      /* lines in one write(2), at most */

/* One stream: a FIFO we write and the log file we read back. */
struct bstream {
	struct h_fifo f;
	char id[65];
	uint64_t sent;	    /* sender (main thread) */
	int logfd;	    /* tailer */
	off_t off;	    /* tailer */
	struct h_buf carry; /* tailer: a line not complete yet */
	uint64_t last_seq;  /* tailer */
	atomic_ullong recv; /* lines read back (not the warm-up one) */
};

/* Latencies in microseconds. */
struct samples {
	uint32_t *v;
	size_t n;
	size_t cap;
};

static void samples_add(struct samples *s, int64_t ns)
{
	if (s->n == s->cap) {
		size_t cap = s->cap != 0 ? s->cap * 2 : 65536;
		uint32_t *v = realloc(s->v, cap * sizeof(*v));

		if (v == NULL) {
			fprintf(stderr, "streams: out of memory\n");
			abort();
		}
		s->v = v;
		s->cap = cap;
	}
	if (ns < 0)
		ns = 0;
	s->v[s->n++] =
		ns / 1000 > UINT32_MAX ? UINT32_MAX : (uint32_t)(ns / 1000);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

struct pct {
	size_t n;
	double p50, p99, max; /* ms */
};

static struct pct samples_pct(struct samples *s)
{
	struct pct p = {s->n, -1, -1, -1};

	if (s->n == 0)
		return p;
	qsort(s->v, s->n, sizeof(*s->v), cmp_u32);
	p.p50 = s->v[s->n / 2] / 1000.0;
	p.p99 = s->v[s->n * 99 / 100] / 1000.0;
	p.max = s->v[s->n - 1] / 1000.0;
	return p;
}

static void samples_release(struct samples *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long env_long(const char *name, long fallback)
{
	const char *v = getenv(name);

	return v != NULL && atol(v) > 0 ? atol(v) : fallback;
}

/* A comma-separated list of counts from the environment, into 'out'. */
static size_t env_list(const char *name, const char *fallback, long *out,
		       size_t max)
{
	const char *v = getenv(name);
	size_t n = 0;
	char *end;

	if (v == NULL) /* set but empty: no entry */
		v = fallback;
	while (*v != '\0' && n < max) {
		long x = strtol(v, &end, 10);

		if (end == v)
			break;
		if (x > 0)
			out[n++] = x;
		v = *end == ',' ? end + 1 : end;
	}
	return n;
}

/* ---- the plugin process, seen from /proc ---- */

struct usage {
	uint64_t ticks;	  /* utime + stime, every thread ever */
	uint64_t run_ns;  /* schedstat of the threads alive now */
	uint64_t loop_ns; /* of those, the main thread's: the event loop */
	uint64_t ctxsw;	  /* voluntary + involuntary, threads alive now */
	uint64_t reads;	  /* read(2)s: the plugin's every one (/proc/PID/io) */
	uint64_t writes;  /* write(2)s: the same */
	int threads;
};

static uint64_t status_field(const char *path, const char *key)
{
	char line[256];
	size_t kl = strlen(key);
	uint64_t v = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, kl) == 0) {
			v = strtoull(line + kl, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* Per thread: which of the plugin's threads woke during a window. */
struct task_sw {
	int tid;
	char comm[32];
	uint64_t sw;
	uint64_t run_ns;
};

static size_t tasks_read(pid_t pid, struct task_sw *v, size_t max)
{
	char path[320];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL && n < max) {
		unsigned long long run = 0;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		v[n].tid = atoi(de->d_name);
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid,
			 de->d_name);
		v[n].comm[0] = '\0';
		f = fopen(path, "r");
		if (f != NULL) {
			if (fgets(v[n].comm, sizeof(v[n].comm), f) != NULL)
				v[n].comm[strcspn(v[n].comm, "\n")] = '\0';
			fclose(f);
		}
		snprintf(path, sizeof(path), "/proc/%d/task/%s/status",
			 (int)pid, de->d_name);
		v[n].sw = status_field(path, "voluntary_ctxt_switches:") +
			  status_field(path, "nonvoluntary_ctxt_switches:");
		snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat",
			 (int)pid, de->d_name);
		f = fopen(path, "r");
		if (f != NULL) {
			if (fscanf(f, "%llu", &run) == 1)
				v[n].run_ns = run;
			fclose(f);
		}
		n++;
	}
	closedir(d);
	return n;
}

/* utime + stime from a /proc .../stat file (a process's or a thread's). */
static uint64_t stat_ticks(const char *path)
{
	char buf[1024];
	uint64_t ticks = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) != NULL) {
		char *p = strrchr(buf, ')');
		unsigned long ut = 0, st = 0;

		/* Fields 14 and 15 (utime, stime); ')' ends field 2. */
		if (p != NULL &&
		    sscanf(p + 2,
			   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
			   "%*u %lu %lu",
			   &ut, &st) == 2)
			ticks = ut + st;
	}
	fclose(f);
	return ticks;
}

static void usage_read(pid_t pid, struct usage *u)
{
	struct task_sw v[MAX_TASKS];
	char path[64];
	size_t n;

	memset(u, 0, sizeof(*u));
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	u->ticks = stat_ticks(path);
	n = tasks_read(pid, v, MAX_TASKS);
	for (size_t i = 0; i < n; i++) {
		u->run_ns += v[i].run_ns;
		u->ctxsw += v[i].sw;
		if (v[i].tid == (int)pid)
			u->loop_ns = v[i].run_ns;
	}
	u->threads = (int)n;
	snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
	u->reads = status_field(path, "syscr:");
	u->writes = status_field(path, "syscw:");
}

static double ticks_ms(uint64_t ticks)
{
	return (double)ticks * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* VmRSS / VmHWM in KiB. */
static long rss_kib(pid_t pid, const char *key)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	return (long)status_field(path, key);
}

/* Start VmHWM over from the current RSS.  Returns 0 or -1. */
static int hwm_reset(pid_t pid)
{
	char path[64];
	int fd, rc;

	snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)pid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	rc = write(fd, "5", 1) == 1 ? 0 : -1;
	close(fd);
	return rc;
}

static double self_cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* ---- writing lines as dockerd does: one frame, one write(2) ---- */

/*
 * The line text: "SSSSSSSSSS TTTTTTTTTTTTTTTTTTT xxx..." (sequence, then
 * the monotonic ns of the write), LINE_LEN bytes.
 */
static size_t frame_line(uint8_t *fr, uint64_t seq)
{
	char text[LINE_LEN + 1];
	struct log_entry e;
	int n;

	n = snprintf(text, sizeof(text), "%010llu %019lld ",
		     (unsigned long long)seq, (long long)now_ns());
	memset(text + n, 'x', LINE_LEN - (size_t)n);
	memset(&e, 0, sizeof(e));
	e.source = "stdout";
	e.source_len = 6;
	e.time_nano = h_now_real_ns();
	e.line = (const uint8_t *)text;
	e.line_len = LINE_LEN;
	return logentry_encode_frame(fr, &e);
}

static int send_line(struct bstream *s, uint64_t seq)
{
	uint8_t fr[FRAME_MAX];

	return h_write_all(s->f.fd, fr, frame_line(fr, seq));
}

/*
 * 'count' lines from 'seq' on in one write(2), as a program's burst of
 * lines reaches the FIFO when dockerd's copier is behind it.
 */
static int send_burst(struct bstream *s, uint64_t seq, unsigned count)
{
	uint8_t fr[BURST_MAX * FRAME_MAX];
	size_t len = 0;

	for (unsigned k = 0; k < count; k++)
		len += frame_line(fr + len, seq + k);
	return h_write_all(s->f.fd, fr, len);
}

/* Parse "SSSSSSSSSS TTTTTTTTTTTTTTTTTTT " at p (at least 31 bytes). */
static int parse_stamp(const char *p, size_t len, uint64_t *seq, int64_t *t)
{
	uint64_t a = 0, b = 0;
	int i;

	if (len < 31 || p[10] != ' ' || p[30] != ' ')
		return -1;
	for (i = 0; i < 10; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		a = a * 10 + (uint64_t)(p[i] - '0');
	}
	for (i = 11; i < 30; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		b = b * 10 + (uint64_t)(p[i] - '0');
	}
	*seq = a;
	*t = (int64_t)b;
	return 0;
}

/* ---- reading the files back ---- */

struct tailer {
	struct bstream *s;
	size_t n;
	int ifd;
	int stop[2];
	int *wd_idx; /* inotify wd -> stream index */
	int wd_max;
	pthread_t th;
	bool running;
	pthread_mutex_t mu; /* guards lat */
	struct samples lat;
	atomic_ullong bad;  /* lines that are not ours */
	atomic_ullong gaps; /* a sequence number skipped or repeated */
	uint8_t *buf;
};

static void tail_lines(struct tailer *t, struct bstream *s, int64_t now)
{
	static const char pre[] = "{\"log\":\"";
	char *p = s->carry.data, *end = p + s->carry.len, *nl;

	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		uint64_t seq;
		int64_t sent;

		if ((size_t)(nl - p) < sizeof(pre) - 1 + 31 ||
		    memcmp(p, pre, sizeof(pre) - 1) != 0 ||
		    parse_stamp(p + sizeof(pre) - 1,
				(size_t)(nl - p) - (sizeof(pre) - 1), &seq,
				&sent) != 0) {
			atomic_fetch_add(&t->bad, 1);
		} else if (seq != 0) { /* 0: the warm-up line */
			if (seq != s->last_seq + 1)
				atomic_fetch_add(&t->gaps, 1);
			s->last_seq = seq;
			pthread_mutex_lock(&t->mu);
			samples_add(&t->lat, now - sent);
			pthread_mutex_unlock(&t->mu);
			atomic_fetch_add(&s->recv, 1);
		}
		p = nl + 1;
	}
	memmove(s->carry.data, p, (size_t)(end - p));
	s->carry.len = (size_t)(end - p);
}

static void tail_read(struct tailer *t, struct bstream *s)
{
	for (;;) {
		ssize_t r = pread(s->logfd, t->buf, READ_CHUNK, s->off);

		if (r <= 0)
			break;
		s->off += r;
		h_buf_add(&s->carry, t->buf, (size_t)r);
		tail_lines(t, s, now_ns());
	}
}

static void *tail_main(void *arg)
{
	struct tailer *t = arg;
	char ev[64 * 1024] __attribute__((aligned(8)));
	bool *dirty = calloc(t->n, sizeof(*dirty));

	/* What the files held before the watches were in place. */
	for (size_t i = 0; i < t->n; i++)
		tail_read(t, &t->s[i]);
	for (;;) {
		struct pollfd pf[2] = {{t->ifd, POLLIN, 0},
				       {t->stop[0], POLLIN, 0}};
		ssize_t r;
		char *p;

		if (poll(pf, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[1].revents != 0)
			break;
		r = read(t->ifd, ev, sizeof(ev));
		if (r <= 0)
			continue;
		for (p = ev; p < ev + r;) {
			struct inotify_event *e = (struct inotify_event *)p;

			if (e->wd >= 0 && e->wd <= t->wd_max &&
			    t->wd_idx[e->wd] >= 0)
				dirty[t->wd_idx[e->wd]] = true;
			p += sizeof(*e) + e->len;
		}
		for (size_t i = 0; i < t->n; i++) {
			if (dirty[i]) {
				dirty[i] = false;
				tail_read(t, &t->s[i]);
			}
		}
	}
	free(dirty);
	return NULL;
}

/* Take the latencies gathered so far (the tailer starts a new set). */
static struct samples tail_take(struct tailer *t)
{
	struct samples s;

	pthread_mutex_lock(&t->mu);
	s = t->lat;
	memset(&t->lat, 0, sizeof(t->lat));
	pthread_mutex_unlock(&t->mu);
	return s;
}

/* ---- the reference logger: the floor for one file per stream ---- */

/*
 * The least a logger writing json-file per container can do with the same
 * FIFOs: one thread, epoll (level-triggered, so a FIFO left with bytes is
 * simply reported again), one read(2) of a ready FIFO, the plugin's own
 * frame decoder and json encoder, and one write(2) of what that read held
 * to the stream's file.  Nothing is paced, queued or handed to another
 * thread, so whatever its CPU per line is, the plugin cannot do better
 * than it with the same number of lines per read.
 */
struct ref_stream {
	int fd;	   /* the FIFO, read end */
	int logfd; /* the json-file, O_APPEND */
	struct frame_decoder *dec;
};

struct reflog {
	struct ref_stream *rs;
	size_t n;
	int ep;
	int stop[2];
	pthread_t th;
	bool running;
	atomic_int tid;	      /* the thread's, for /proc/self/task */
	atomic_ullong reads;  /* read(2)s that returned bytes */
	atomic_ullong failed; /* writes that failed, bad frames */
	uint8_t *in;	      /* one read buffer for every stream */
	char *out;	      /* the json lines of one read */
	size_t out_len;
	size_t out_cap;
	int out_fd;
};

static void ref_flush(struct reflog *r)
{
	size_t off = 0;

	while (off < r->out_len) {
		ssize_t w = write(r->out_fd, r->out + off, r->out_len - off);

		if (w > 0) {
			off += (size_t)w;
		} else if (w == -1 && errno == EINTR) {
			continue;
		} else {
			atomic_fetch_add(&r->failed, 1);
			break;
		}
	}
	r->out_len = 0;
}

static int ref_entry(void *arg, const struct log_entry *e)
{
	struct reflog *r = arg;

	/* out_cap holds the bound of the largest frame, so a flush always
	 * makes room; with 100-byte lines a 1 MiB read never needs one. */
	if (r->out_cap - r->out_len < jsonline_encode_bound(e, 0))
		ref_flush(r);
	r->out_len += jsonline_encode(r->out + r->out_len, e, NULL, 0);
	return FRAME_TAKEN;
}

static void *ref_main(void *arg)
{
	struct reflog *r = arg;
	struct epoll_event ev[REF_EVENTS];

	atomic_store(&r->tid, (int)gettid());
	for (;;) {
		int k = epoll_wait(r->ep, ev, REF_EVENTS, -1);

		if (k == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < k; i++) {
			struct ref_stream *s;
			ssize_t got;

			if (ev[i].data.u64 == r->n)
				return NULL; /* the stop pipe */
			s = &r->rs[ev[i].data.u64];
			/* No EOF while the bench holds the write end; 0 or
			 * EAGAIN would just be reported again. */
			got = read(s->fd, r->in, REF_READ);
			if (got <= 0)
				continue;
			atomic_fetch_add_explicit(&r->reads, 1,
						  memory_order_relaxed);
			r->out_fd = s->logfd;
			if (frame_decoder_feed(s->dec, r->in, (size_t)got,
					       ref_entry, r) != 0)
				atomic_fetch_add(&r->failed, 1);
			ref_flush(r);
		}
	}
	return NULL;
}

/* A reference for n streams, not started.  Returns NULL on failure. */
static struct reflog *ref_new(size_t n)
{
	struct reflog *r = calloc(1, sizeof(*r));
	struct log_entry big;

	if (r == NULL)
		return NULL;
	r->n = n;
	r->stop[0] = r->stop[1] = -1;
	atomic_init(&r->tid, 0);
	atomic_init(&r->reads, 0);
	atomic_init(&r->failed, 0);
	memset(&big, 0, sizeof(big));
	big.line_len = FRAME_MAX_DEFAULT;
	r->out_cap = jsonline_encode_bound(&big, 0) + REF_READ;
	r->rs = calloc(n, sizeof(*r->rs));
	r->in = malloc(REF_READ);
	r->out = malloc(r->out_cap);
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	if (r->rs != NULL) {
		for (size_t i = 0; i < n; i++)
			r->rs[i].fd = r->rs[i].logfd = -1;
	}
	(void)pipe2(r->stop, O_CLOEXEC);
	/* Whatever failed above, ref_add() or ref_start() refuses and
	 * ref_free() cleans up, so one error path serves. */
	return r;
}

/*
 * Stream i: the FIFO at 'fifo' (the bench holds its write end), its lines
 * to 'log', made with its directory as the plugin would.  Returns 0 or -1.
 */
static int ref_add(struct reflog *r, size_t i, const char *fifo,
		   const char *log)
{
	struct ref_stream *s = &r->rs[i];
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = i};
	char dir[PATH_MAX];
	char *slash;

	if (r->rs == NULL || r->ep == -1)
		return -1;
	snprintf(dir, sizeof(dir), "%s", log);
	slash = strrchr(dir, '/');
	if (slash != NULL) {
		*slash = '\0';
		if (mkdir(dir, 0700) == -1 && errno != EEXIST)
			return -1;
	}
	/* O_NOATIME, as the plugin opens its FIFOs. */
	s->fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOATIME);
	s->logfd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	s->dec = frame_decoder_new(FRAME_MAX_DEFAULT);
	if (s->fd == -1 || s->logfd == -1 || s->dec == NULL)
		return -1;
	/* As the plugin does, so both see the same pipes. */
	(void)fcntl(s->fd, F_SETPIPE_SZ, REF_PIPE_SIZE);
	return epoll_ctl(r->ep, EPOLL_CTL_ADD, s->fd, &ev);
}

/* Start the thread once every stream is added.  Returns 0 or -1. */
static int ref_start(struct reflog *r)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = r->n};

	if (r->stop[0] == -1 || r->in == NULL || r->out == NULL ||
	    epoll_ctl(r->ep, EPOLL_CTL_ADD, r->stop[0], &ev) != 0 ||
	    pthread_create(&r->th, NULL, ref_main, r) != 0)
		return -1;
	r->running = true;
	/* Its CPU is read by tid, so the tid must be known before a window. */
	while (atomic_load(&r->tid) == 0)
		h_sleep_ms(1);
	return 0;
}

/* Stop the thread (before the FIFOs' write ends close) and free it all. */
static void ref_free(struct reflog *r)
{
	if (r == NULL)
		return;
	if (r->running) {
		if (write(r->stop[1], "x", 1) != 1)
			perror("streams: reference stop");
		pthread_join(r->th, NULL);
	}
	for (size_t i = 0; r->rs != NULL && i < r->n; i++) {
		if (r->rs[i].fd != -1)
			close(r->rs[i].fd);
		if (r->rs[i].logfd != -1)
			close(r->rs[i].logfd);
		frame_decoder_free(r->rs[i].dec);
	}
	if (r->stop[0] != -1) {
		close(r->stop[0]);
		close(r->stop[1]);
	}
	if (r->ep != -1)
		close(r->ep);
	free(r->rs);
	free(r->in);
	free(r->out);
	free(r);
}

/* The reference thread's CPU, in the plugin's terms (its loop is all). */
static void ref_usage(struct reflog *r, struct usage *u)
{
	char path[64], sched[64];
	unsigned long long run = 0;
	FILE *f;

	memset(u, 0, sizeof(*u));
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat",
		 atomic_load(&r->tid));
	u->ticks = stat_ticks(path);
	snprintf(sched, sizeof(sched), "/proc/self/task/%d/schedstat",
		 atomic_load(&r->tid));
	f = fopen(sched, "r");
	if (f != NULL) {
		if (fscanf(f, "%llu", &run) == 1)
			u->run_ns = run;
		fclose(f);
	}
	u->loop_ns = u->run_ns;
	snprintf(path, sizeof(path), "/proc/self/task/%d/status",
		 atomic_load(&r->tid));
	u->ctxsw = status_field(path, "voluntary_ctxt_switches:") +
		   status_field(path, "nonvoluntary_ctxt_switches:");
	u->reads = atomic_load(&r->reads);
	u->threads = 1;
}

/* ---- a plugin with n streams ---- */

struct phase {
	struct harness *h;
	struct bstream *s;
	size_t n;
	struct tailer t;
	int small_pipes;    /* FIFOs whose pipe did not grow to 1 MiB */
	bool reference;	    /* no plugin: the reference reads the FIFOs */
	struct reflog *ref; /* the reference, once the streams are added */
};

/*
 * A new plugin and n streams on it; each stream gets a warm-up line, and
 * once every file exists the tailer watches them.  Returns 0 or -1.
 */
static int phase_open_plugin(struct phase *p)
{
	memset(p, 0, sizeof(*p));
	p->h = h_new(false);
	return p->h != NULL ? 0 : -1;
}

/*
 * The same, with the reference logger in place of the plugin: the harness's
 * temp tree (FIFO dir, log root) and no process, so FIFOs, file paths, the
 * tailer, the load and the drain are the plugin's phase unchanged.
 */
static int phase_open_reference(struct phase *p)
{
	memset(p, 0, sizeof(*p));
	p->h = calloc(1, sizeof(*p->h));
	if (p->h == NULL)
		return -1;
	p->reference = true;
	p->h->pid = -1; /* h_free() then only removes the tree */
	p->h->curl = curl_easy_init();
	if (p->h->curl == NULL || h_make_dirs(p->h) != 0) {
		h_free(p->h);
		p->h = NULL;
		return -1;
	}
	return 0;
}

static int phase_add_streams(struct phase *p, size_t n, unsigned id_base)
{
	struct tailer *t = &p->t;
	char name[32], path[PATH_MAX], *err;
	int64_t deadline;

	p->n = n;
	p->s = calloc(n, sizeof(*p->s));
	if (p->s == NULL)
		return -1;
	if (p->reference && (p->ref = ref_new(n)) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct bstream *s = &p->s[i];

		s->logfd = -1;
		atomic_init(&s->recv, 0);
		h_container_id(s->id, id_base + (unsigned)i);
		snprintf(name, sizeof(name), "s%zu", i);
		if (h_fifo_new(p->h, &s->f, name) != 0) {
			fprintf(stderr, "streams: FIFO %zu: %s\n", i,
				strerror(errno));
			return -1;
		}
		if (p->ref != NULL) {
			h_log_path(p->h, s->id, path);
			if (ref_add(p->ref, i, s->f.path, path) != 0) {
				fprintf(stderr, "streams: reference %zu: %s\n",
					i, strerror(errno));
				return -1;
			}
		} else {
			err = NULL;
			if (h_start_logging(p->h, s->f.path, s->id,
					    h_opts(OPTS), &err) != 200 ||
			    err == NULL || err[0] != '\0') {
				fprintf(stderr,
					"streams: StartLogging %zu: %s\n", i,
					err != NULL ? err : "?");
				free(err);
				return -1;
			}
			free(err);
		}
		/* The reader grew the pipe; our end sees the same pipe. */
		if (fcntl(s->f.fd, F_GETPIPE_SZ) < 1024 * 1024)
			p->small_pipes++;
	}
	if (p->ref != NULL && ref_start(p->ref) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (send_line(&p->s[i], 0) != 0)
			return -1;
	}
	deadline = h_now_ms() + DRAIN_MS;
	for (size_t i = 0; i < n; i++) {
		struct bstream *s = &p->s[i];

		h_log_path(p->h, s->id, path);
		while ((s->logfd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
			if (h_now_ms() > deadline) {
				fprintf(stderr, "streams: no %s\n", path);
				return -1;
			}
			h_sleep_ms(5);
		}
	}
	t->s = p->s;
	t->n = n;
	t->ifd = inotify_init1(IN_CLOEXEC);
	t->wd_max = -1;
	t->wd_idx = NULL;
	t->buf = malloc(READ_CHUNK);
	atomic_init(&t->bad, 0);
	atomic_init(&t->gaps, 0);
	pthread_mutex_init(&t->mu, NULL);
	if (t->ifd == -1 || t->buf == NULL || pipe2(t->stop, O_CLOEXEC) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int wd;

		h_log_path(p->h, p->s[i].id, path);
		wd = inotify_add_watch(t->ifd, path, IN_MODIFY);
		if (wd < 0) {
			fprintf(stderr, "streams: inotify %s: %s\n", path,
				strerror(errno));
			return -1;
		}
		if (wd > t->wd_max) {
			int *v = realloc(t->wd_idx,
					 (size_t)(wd + 1) * sizeof(*v));

			if (v == NULL)
				return -1;
			for (int k = t->wd_max + 1; k <= wd; k++)
				v[k] = -1;
			t->wd_idx = v;
			t->wd_max = wd;
		}
		t->wd_idx[wd] = (int)i;
	}
	if (pthread_create(&t->th, NULL, tail_main, t) != 0)
		return -1;
	t->running = true;
	return 0;
}

/* Lines sent but not read back yet. */
static uint64_t phase_missing(struct phase *p)
{
	uint64_t m = 0;

	for (size_t i = 0; i < p->n; i++) {
		uint64_t r = atomic_load(&p->s[i].recv);

		m += p->s[i].sent > r ? p->s[i].sent - r : 0;
	}
	return m;
}

/* Wait until every line sent is in its file.  Returns what is missing. */
static uint64_t phase_drain(struct phase *p)
{
	int64_t deadline = h_now_ms() + DRAIN_MS;
	uint64_t m;

	while ((m = phase_missing(p)) != 0 && h_now_ms() < deadline)
		h_sleep_ms(2);
	return m;
}

static void phase_close(struct phase *p)
{
	struct tailer *t = &p->t;
	char *err;

	if (t->running) {
		if (write(t->stop[1], "x", 1) != 1)
			perror("streams: tailer stop");
		pthread_join(t->th, NULL);
	}
	/* Before the write ends close: an EOF would be reported forever. */
	ref_free(p->ref);
	p->ref = NULL;
	if (p->h != NULL) {
		for (size_t i = 0; i < p->n; i++) {
			if (p->s[i].f.fd == -1)
				continue;
			err = NULL;
			if (!p->reference)
				h_stop_logging(p->h, p->s[i].f.path, &err);
			free(err);
			h_fifo_close(&p->s[i].f);
		}
		h_free(p->h);
	}
	for (size_t i = 0; i < p->n; i++) {
		if (p->s[i].logfd != -1)
			close(p->s[i].logfd);
		h_buf_release(&p->s[i].carry);
	}
	if (t->ifd > 0)
		close(t->ifd);
	if (t->running) {
		close(t->stop[0]);
		close(t->stop[1]);
		pthread_mutex_destroy(&t->mu);
	}
	samples_release(&t->lat);
	free(t->wd_idx);
	free(t->buf);
	free(p->s);
	memset(p, 0, sizeof(*p));
}

/* ---- the sender ---- */

struct load {
	uint64_t target; /* lines due by the end of the window */
	uint64_t sent;
	int64_t max_lag_ns; /* how late a tick started, at worst */
	double secs;	    /* wall time of the window */
	double self_ms;	    /* this process's CPU over the window */
};

/*
 * Stream i's head start, in lines: the streams' bursts are staggered over
 * one burst's time, so they arrive one after another, not in clumps.
 */
static double phase(size_t i, size_t n, unsigned burst)
{
	return (double)i * (double)burst / (double)n;
}

/*
 * Every stream writes 'rate' lines/s for 'secs' seconds, spread evenly (the
 * streams' phases are staggered), 'burst' lines to a write(2): each burst
 * is sent once all its lines are due.  A late tick catches up, so what is
 * sent stays what is due (a last partial burst included).
 */
static int run_load(struct phase *p, double rate, unsigned burst, double secs,
		    struct load *out)
{
	int64_t t0 = now_ns(), next = t0, end = t0 + (int64_t)(secs * 1e9);
	double c0 = self_cpu_ms();
	uint64_t *base = calloc(p->n, sizeof(*base));

	memset(out, 0, sizeof(*out));
	if (base == NULL)
		return -1;
	for (size_t i = 0; i < p->n; i++)
		base[i] = p->s[i].sent;
	for (;;) {
		int64_t t = now_ns();
		struct timespec ts;

		if (t - next > out->max_lag_ns)
			out->max_lag_ns = t - next;
		if (t > end)
			t = end;
		for (size_t i = 0; i < p->n; i++) {
			struct bstream *s = &p->s[i];
			uint64_t due =
				base[i] +
				(uint64_t)((double)(t - t0) * 1e-9 * rate +
					   phase(i, p->n, burst));

			while (s->sent < due &&
			       (due - s->sent >= burst || t >= end)) {
				unsigned k = due - s->sent < burst
						     ? (unsigned)(due - s->sent)
						     : burst;

				if ((k == 1 ? send_line(s, s->sent + 1)
					    : send_burst(s, s->sent + 1, k)) !=
				    0) {
					free(base);
					return -1;
				}
				s->sent += k;
			}
		}
		if (t >= end)
			break;
		next += TICK_NS;
		ts.tv_sec = next / 1000000000;
		ts.tv_nsec = next % 1000000000;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
				       NULL) == EINTR)
			;
	}
	for (size_t i = 0; i < p->n; i++) {
		out->sent += p->s[i].sent - base[i];
		out->target += (uint64_t)(secs * rate + phase(i, p->n, burst));
	}
	out->secs = (double)(now_ns() - t0) / 1e9;
	out->self_ms = self_cpu_ms() - c0;
	free(base);
	return 0;
}

/* ---- the parts ---- */

static void print_usage_delta(const char *what, const struct usage *a,
			      const struct usage *b, double secs)
{
	printf("%s: plugin CPU %.1f ms by ticks (%.3f ms by schedstat) over "
	       "%.1f s; %llu context switches (%.1f/s), %d threads\n",
	       what, ticks_ms(b->ticks - a->ticks),
	       (double)(b->run_ns - a->run_ns) / 1e6, secs,
	       (unsigned long long)(b->ctxsw - a->ctxsw),
	       (double)(b->ctxsw - a->ctxsw) / secs, b->threads);
}

static void print_tasks_delta(const struct task_sw *a, size_t na,
			      const struct task_sw *b, size_t nb)
{
	for (size_t i = 0; i < nb; i++) {
		uint64_t sw0 = 0, run0 = 0;

		for (size_t k = 0; k < na; k++) {
			if (a[k].tid == b[i].tid) {
				sw0 = a[k].sw;
				run0 = a[k].run_ns;
			}
		}
		printf("  thread %d (%s): %llu switches, %.3f ms CPU\n",
		       b[i].tid, b[i].comm, (unsigned long long)(b[i].sw - sw0),
		       (double)(b[i].run_ns - run0) / 1e6);
	}
}

/* An idle window: nothing written; what does the plugin do? */
static void idle_window(pid_t pid, const char *what, int secs)
{
	struct task_sw ta[MAX_TASKS], tb[MAX_TASKS];
	struct usage a, b;
	size_t na, nb;
	int64_t t0;

	na = tasks_read(pid, ta, MAX_TASKS);
	usage_read(pid, &a);
	t0 = now_ns();
	h_sleep_ms(secs * 1000);
	usage_read(pid, &b);
	nb = tasks_read(pid, tb, MAX_TASKS);
	print_usage_delta(what, &a, &b, (double)(now_ns() - t0) / 1e9);
	print_tasks_delta(ta, na, tb, nb);
}

/* One load window with the tailer: latency, CPU per line, delivery. */
struct result {
	struct load ld;
	struct pct lat;
	uint64_t missing;
	double cpu_ms; /* by ticks, window + drain */
	double cpu_sched_ms;
	double ns_per_line;	 /* by schedstat */
	double loop_ns_per_line; /* of that, on the event loop's thread */
	double plugin_pct;	 /* plugin CPU over the window, % of one core */
	double loop_pct;	 /* the event loop thread's share of that */
	double lines_per_read;	 /* lines over read(2)s */
	double lines_per_write;	 /* lines over write(2)s */
	double switches_per_kline; /* context switches per 1,000 lines */
	long hwm_kib;
};

/* The CPU of whatever reads the FIFOs: the plugin, or the reference. */
static void phase_usage(struct phase *p, struct usage *u)
{
	if (p->ref != NULL)
		ref_usage(p->ref, u);
	else
		usage_read(p->h->pid, u);
}

static int measure(struct phase *p, double rate, unsigned burst, double secs,
		   struct result *r)
{
	struct usage a, b;
	struct samples s;
	int64_t t0;
	double wall;

	memset(r, 0, sizeof(*r));
	phase_usage(p, &a);
	t0 = now_ns();
	if (run_load(p, rate, burst, secs, &r->ld) != 0)
		return -1;
	r->missing = phase_drain(p);
	phase_usage(p, &b);
	wall = (double)(now_ns() - t0) / 1e9;
	s = tail_take(&p->t);
	r->lat = samples_pct(&s);
	samples_release(&s);
	r->cpu_ms = ticks_ms(b.ticks - a.ticks);
	r->cpu_sched_ms = (double)(b.run_ns - a.run_ns) / 1e6;
	r->ns_per_line = r->ld.sent != 0
				 ? r->cpu_sched_ms * 1e6 / (double)r->ld.sent
				 : 0;
	r->loop_ns_per_line =
		r->ld.sent != 0
			? (double)(b.loop_ns - a.loop_ns) / (double)r->ld.sent
			: 0;
	r->plugin_pct = (double)(b.run_ns - a.run_ns) / wall / 1e7;
	r->loop_pct = (double)(b.loop_ns - a.loop_ns) / wall / 1e7;
	r->lines_per_read =
		b.reads > a.reads
			? (double)r->ld.sent / (double)(b.reads - a.reads)
			: 0;
	r->lines_per_write =
		b.writes > a.writes
			? (double)r->ld.sent / (double)(b.writes - a.writes)
			: 0;
	r->switches_per_kline = r->ld.sent != 0
					? (double)(b.ctxsw - a.ctxsw) * 1000.0 /
						  (double)r->ld.sent
					: 0;
	/* The reference lives in this process: no RSS of its own. */
	r->hwm_kib = p->ref == NULL ? rss_kib(p->h->pid, "VmHWM:") : 0;
	return 0;
}

static bool kept_up(const struct result *r)
{
	return r->missing == 0 &&
	       (double)r->ld.sent >= 0.98 * (double)r->ld.target &&
	       r->lat.p99 < P99_TARGET_MS;
}

static void print_health(struct phase *p)
{
	uint64_t bad = atomic_load(&p->t.bad), gaps = atomic_load(&p->t.gaps);

	if (bad != 0 || gaps != 0)
		printf("  WARNING: %llu lines not ours, %llu sequence gaps\n",
		       (unsigned long long)bad, (unsigned long long)gaps);
	if (p->small_pipes != 0)
		printf("  NOTE: %d FIFOs did not get a 1 MiB pipe "
		       "(pipe-user-pages-soft?)\n",
		       p->small_pipes);
	if (p->ref != NULL && atomic_load(&p->ref->failed) != 0)
		printf("  WARNING: reference: %llu failed writes or bad "
		       "frames\n",
		       (unsigned long long)atomic_load(&p->ref->failed));
}

static int part_memory_idle(void)
{
	size_t n = (size_t)env_long("STREAMS", 1000);
	int secs = (int)env_long("MEM_SECONDS", 8);
	int idle = (int)env_long("IDLE_SECONDS", 10);
	int base_idle = (int)env_long("IDLE_BASE_SECONDS", 3);
	static const double rates[] = {10, 100};
	long rss0, rss_open, peak = 0, target_kib;
	struct phase p;
	pid_t pid;

	printf("== memory and idle cost: %zu streams of %d-byte lines\n", n,
	       LINE_LEN);
	if (phase_open_plugin(&p) != 0)
		return -1;
	pid = p.h->pid;
	h_sleep_ms(200);
	rss0 = rss_kib(pid, "VmRSS:");
	idle_window(pid, "idle, no stream (baseline)", base_idle);
	if (phase_add_streams(&p, n, 10000) != 0) {
		phase_close(&p);
		return -1;
	}
	if (phase_drain(&p) != 0)
		fprintf(stderr, "streams: warm-up lines missing\n");
	h_sleep_ms(200);
	rss_open = rss_kib(pid, "VmRSS:");
	printf("RSS at start %ld KiB; with %zu streams open (one line each) "
	       "%ld KiB\n",
	       rss0, n, rss_open);
	for (size_t k = 0; k < sizeof(rates) / sizeof(rates[0]); k++) {
		struct result r;

		if (hwm_reset(pid) != 0)
			printf("  NOTE: cannot reset VmHWM: the peak is since "
			       "the start\n");
		if (measure(&p, rates[k], 1, secs, &r) != 0) {
			phase_close(&p);
			return -1;
		}
		if (r.hwm_kib > peak)
			peak = r.hwm_kib;
		printf("%zu streams x %.0f lines/s (%.0f lines/s) for %.1f s: "
		       "peak RSS %ld KiB; sent %llu of %llu, %llu not in the "
		       "files; file latency p50 %.1f ms p99 %.1f ms max %.1f "
		       "ms; plugin %.0f ns CPU/line (%.0f on the event loop), "
		       "CPU %.0f %% of a core (loop %.0f %%)\n",
		       n, rates[k], rates[k] * (double)n, r.ld.secs, r.hwm_kib,
		       (unsigned long long)r.ld.sent,
		       (unsigned long long)r.ld.target,
		       (unsigned long long)r.missing, r.lat.p50, r.lat.p99,
		       r.lat.max, r.ns_per_line, r.loop_ns_per_line,
		       r.plugin_pct, r.loop_pct);
	}
	target_kib = MEM_BASE_KIB + MEM_PER_KIB * (long)n;
	printf("RSS: start %ld KiB, peak %ld KiB, %.1f KiB per stream above "
	       "start; target <= %ld KiB (16 MiB + 64 KiB x %zu): %s\n",
	       rss0, peak, (double)(peak - rss0) / (double)n, target_kib, n,
	       peak <= target_kib ? "met" : "NOT MET");
	print_health(&p);
	h_sleep_ms(1000);
	idle_window(pid, "idle, streams open, nothing written", idle);
	printf("RSS after the idle window: %ld KiB\n", rss_kib(pid, "VmRSS:"));
	phase_close(&p);
	return 0;
}

static void print_lat_row(size_t n, const struct result *r)
{
	printf("| %zu | %.0f | %.1f | %.1f | %.1f | %.1f | %llu | %.0f | %.0f "
	       "(%.0f) | %.0f | %s |\n",
	       n, (double)r->ld.sent / r->ld.secs, r->lat.p50, r->lat.p99,
	       r->lat.max, (double)r->ld.max_lag_ns / 1e6,
	       (unsigned long long)r->missing, r->ns_per_line, r->plugin_pct,
	       r->loop_pct, r->ld.self_ms / r->ld.secs / 10.0,
	       kept_up(r) ? "yes" : "NO");
}

static int part_latency(void)
{
	double rate = (double)env_long("LAT_RATE", 1000);
	double secs = (double)env_long("LAT_SECONDS", 5);
	long counts[16], ramp[16];
	size_t nc = env_list("LAT_STREAMS", "1,10,100", counts, 16);
	size_t nr = env_list("LAT_RAMP", "200,400,600,800", ramp, 16);
	bool ok = true;

	printf("== latency, FIFO write to json line in the file, %.0f "
	       "lines/s per stream, %.0f s each (target p99 < %d ms)\n",
	       rate, secs, P99_TARGET_MS);
	printf("| streams | lines/s sent | p50 ms | p99 ms | max ms | sender "
	       "late ms | missing | plugin ns CPU/line | plugin CPU %% of a "
	       "core "
	       "(event loop) | bench CPU %% | kept up |\n"
	       "|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (size_t k = 0; k < nc + nr && ok; k++) {
		size_t n = (size_t)(k < nc ? counts[k] : ramp[k - nc]);
		struct phase p;
		struct result r;

		if (phase_open_plugin(&p) != 0)
			return -1;
		if (phase_add_streams(&p, n, 20000) != 0 ||
		    measure(&p, rate, 1, secs, &r) != 0) {
			phase_close(&p);
			return -1;
		}
		print_lat_row(n, &r);
		print_health(&p);
		if (k + 1 >= nc && !kept_up(&r))
			ok = false;
		phase_close(&p);
	}
	return 0;
}

/* ---- ReadLogs Follow ---- */

struct follower {
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *body;
	size_t len;
	pthread_t th;
	atomic_bool abort;
	atomic_bool done;
	atomic_ullong frames; /* of our lines (not the warm-up) */
	atomic_ullong warm;   /* warm-up frames (sequence 0) */
	struct h_buf in;      /* bytes of a frame not complete yet */
	struct samples lat;   /* follower thread until done */
	uint64_t bad;
	long status;
};

static size_t follow_write(char *ptr, size_t size, size_t nm, void *arg)
{
	struct follower *fl = arg;
	int64_t now = now_ns();
	size_t off = 0;

	h_buf_add(&fl->in, ptr, size * nm);
	while (fl->in.len - off >= 4) {
		const uint8_t *q = (const uint8_t *)fl->in.data + off;
		uint32_t len = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 |
			       (uint32_t)q[2] << 8 | (uint32_t)q[3];
		struct log_entry e;
		uint64_t seq;
		int64_t sent;

		if (fl->in.len - off - 4 < len)
			break;
		if (logentry_decode(q + 4, len, &e) != 0 ||
		    parse_stamp((const char *)e.line, e.line_len, &seq,
				&sent) != 0) {
			fl->bad++;
		} else if (seq != 0) {
			samples_add(&fl->lat, now - sent);
			atomic_fetch_add(&fl->frames, 1);
		} else {
			atomic_fetch_add(&fl->warm, 1);
		}
		off += 4 + len;
	}
	memmove(fl->in.data, fl->in.data + off, fl->in.len - off);
	fl->in.len -= off;
	return size * nm;
}

static int follow_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c,
			   curl_off_t d)
{
	struct follower *fl = arg;

	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return atomic_load(&fl->abort) ? 1 : 0;
}

static void *follow_main(void *arg)
{
	struct follower *fl = arg;
	struct curl_slist *hd = h_docker_headers();
	CURL *c = curl_easy_init();

	if (c != NULL) {
		h_curl_setup(c, fl->sock, "/LogDriver.ReadLogs", fl->body,
			     fl->len, hd);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, follow_write);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, fl);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, follow_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, fl);
		curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &fl->status);
		curl_easy_cleanup(c);
	}
	curl_slist_free_all(hd);
	atomic_store(&fl->done, true);
	return NULL;
}

static int part_follow(void)
{
	double rate = (double)env_long("LAT_RATE", 1000);
	double secs = (double)env_long("LAT_SECONDS", 5);
	struct follower fl;
	struct phase p;
	struct result r;
	struct pct fp;
	json_t *req;
	int64_t deadline;
	char *err = NULL;

	printf("== latency, FIFO write to ReadLogs Follow frame (docker logs "
	       "-f), 1 stream, %.0f lines/s, %.0f s\n",
	       rate, secs);
	memset(&fl, 0, sizeof(fl));
	if (phase_open_plugin(&p) != 0)
		return -1;
	if (phase_add_streams(&p, 1, 30000) != 0) {
		phase_close(&p);
		return -1;
	}
	snprintf(fl.sock, sizeof(fl.sock), "%s", p.h->sock);
	/* Tail 0: only what comes after the request, like docker logs -f
	 * --tail 0; the warm-up line is already in the file. */
	req = h_read_request(p.s[0].id, H_ZERO_TIME, H_ZERO_TIME, 0, true);
	fl.body = h_encode(req, &fl.len);
	json_decref(req);
	if (fl.body == NULL ||
	    pthread_create(&fl.th, NULL, follow_main, &fl) != 0) {
		phase_close(&p);
		return -1;
	}
	/* The follower is in place once a line sent now reaches it. */
	deadline = h_now_ms() + DRAIN_MS;
	while (atomic_load(&fl.warm) == 0 && !atomic_load(&fl.done) &&
	       h_now_ms() < deadline) {
		if (send_line(&p.s[0], 0) != 0)
			goto fail;
		h_sleep_ms(50);
	}
	if (atomic_load(&fl.warm) == 0) {
		fprintf(stderr, "streams: the follower never got a line\n");
		goto fail;
	}
	if (measure(&p, rate, 1, secs, &r) != 0)
		goto fail;
	/* The file has every line; wait for the follower to have them. */
	deadline = h_now_ms() + DRAIN_MS;
	while (atomic_load(&fl.frames) < r.ld.sent && h_now_ms() < deadline &&
	       !atomic_load(&fl.done))
		h_sleep_ms(2);
	h_stop_logging(p.h, p.s[0].f.path, &err);
	free(err);
	h_fifo_close(&p.s[0].f);
	deadline = h_now_ms() + DRAIN_MS;
	while (!atomic_load(&fl.done) && h_now_ms() < deadline)
		h_sleep_ms(5);
	atomic_store(&fl.abort, true);
	pthread_join(fl.th, NULL);
	fp = samples_pct(&fl.lat);
	printf("| path | lines | p50 ms | p99 ms | max ms |\n|---|---|---|---|"
	       "---|\n");
	printf("| FIFO to file (same lines, same run) | %llu | %.1f | %.1f | "
	       "%.1f |\n",
	       (unsigned long long)r.ld.sent, r.lat.p50, r.lat.p99, r.lat.max);
	printf("| FIFO to ReadLogs Follow frame | %zu | %.1f | %.1f | %.1f |\n",
	       fp.n, fp.p50, fp.p99, fp.max);
	printf("follow reply status %ld ended by itself after StopLogging: "
	       "%s; %llu bad frames\n",
	       fl.status, atomic_load(&fl.done) ? "yes" : "no",
	       (unsigned long long)fl.bad);
	print_health(&p);
	samples_release(&fl.lat);
	h_buf_release(&fl.in);
	free(fl.body);
	phase_close(&p);
	return 0;
fail:
	atomic_store(&fl.abort, true);
	pthread_join(fl.th, NULL);
	samples_release(&fl.lat);
	h_buf_release(&fl.in);
	free(fl.body);
	phase_close(&p);
	return -1;
}

/*
 * n streams at 'rate' lines/s each, 'burst' lines to a write(2), for 'secs'
 * seconds on a new plugin, or on the reference logger.  Returns 0 or -1.
 */
static int scale_row(bool reference, size_t n, double rate, unsigned burst,
		     double secs, struct result *r)
{
	struct phase p;

	if ((reference ? phase_open_reference(&p) : phase_open_plugin(&p)) != 0)
		return -1;
	if (phase_add_streams(&p, n, 40000) != 0 ||
	    measure(&p, rate, burst, secs, r) != 0) {
		phase_close(&p);
		return -1;
	}
	print_health(&p);
	phase_close(&p);
	return 0;
}

/* What a scaling curve holds fixed as the streams multiply. */
enum scale_load {
	SCALE_EACH,  /* each stream's rate: the total grows with N */
	SCALE_SPLIT, /* the total rate: each stream's lines get sparser */
	SCALE_BURST, /* the total rate and the lines per write(2) */
};

/*
 * One curve: N streams from SCALE_STREAMS, each row the plugin and then the
 * reference logger alone on the machine with the same load.
 *
 * SCALE_EACH: every stream writes 'rate' lines/s, so the load grows with N.
 * A lone line pays for waking whatever handles it, and more streams share
 * each wake-up, so the cost per line falls for any logger.
 *
 * SCALE_SPLIT: 'rate' lines/s in total split across the N streams, one line
 * to a write(2), so the lines also get sparser: at 1,000 streams each is a
 * read(2) and a write(2) of its own, for any logger that keeps one file per
 * container, and the cost per line rises for any logger.
 *
 * SCALE_BURST: the same total, in writes of 'burst' lines.  The bursts
 * come at the same pace on every row, one stream's after another's, so
 * the wake-ups per second stay as they are and only the number of streams
 * changes.  That is the curve that shows what a stream costs: flat if
 * nothing in the plugin grows with their number.  One thing does, for any
 * logger that paces its reads: on one stream, the bursts that came during
 * a pause are one read(2) and one write(2); on a thousand, each burst is a
 * stream's own.  The lines per read(2) and per write(2) columns show it
 * (the plugin's, from /proc/PID/io, every read and write it made).
 */
/* The median of v[0..n-1] (reorders v). */
static double median_of(double *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	if (n == 0)
		return 0;
	return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define SCALE_ROWS_MAX	 16
#define SCALE_ROUNDS_MAX 9

static int scale_curve(enum scale_load load, double rate, unsigned burst,
		       double secs, unsigned rounds)
{
	long counts[SCALE_ROWS_MAX];
	size_t nc = env_list("SCALE_STREAMS", "1,10,100,1000", counts,
			     SCALE_ROWS_MAX);
	static struct result rp[SCALE_ROUNDS_MAX][SCALE_ROWS_MAX];
	static struct result rr[SCALE_ROUNDS_MAX][SCALE_ROWS_MAX];
	double plug[SCALE_ROWS_MAX], ref[SCALE_ROWS_MAX];
	double v[SCALE_ROUNDS_MAX], w[SCALE_ROUNDS_MAX];
	size_t lo = 0, hi = 0;

	if (load == SCALE_EACH)
		printf("== scaling, the same load per stream: %.0f lines/s "
		       "each on N streams, %.0f s each; plugin CPU per line "
		       "beside the reference logger's\n",
		       rate, secs);
	else if (load == SCALE_SPLIT)
		printf("== scaling, one load split: %.0f lines/s in total "
		       "split across N streams, %.0f s each; plugin CPU per "
		       "line beside the reference logger's on the identical "
		       "load\n",
		       rate, secs);
	else
		printf("== scaling, one load split in bursts: %.0f lines/s in "
		       "total across N streams, %u lines to a write(2), the "
		       "same bursts per second on every row, %.0f s each; "
		       "plugin CPU per line (target: flat) beside the "
		       "reference logger's\n",
		       rate, burst, secs);
	for (size_t k = 0; k < nc; k++) {
		if (counts[k] < counts[lo])
			lo = k;
		if (counts[k] > counts[hi])
			hi = k;
	}
	for (unsigned round = 0; round < rounds; round++) {
		/* Every other round runs the rows the other way round, so
		 * a machine slowing down (or speeding up) over the curve
		 * does not tilt it. */
		for (size_t i = 0; i < nc; i++) {
			size_t k = round % 2 == 0 ? i : nc - 1 - i;
			size_t n = (size_t)counts[k];
			double per =
				load == SCALE_EACH ? rate : rate / (double)n;
			unsigned b = load == SCALE_BURST ? burst : 1;

			/* The plugin first, then the reference: each alone
			 * on the machine, with the same load (rate,
			 * seconds, line). */
			if (scale_row(false, n, per, b, secs,
				      &rp[round][k]) != 0 ||
			    scale_row(true, n, per, b, secs, &rr[round][k]) !=
				    0)
				return -1;
		}
		if (rounds > 1)
			printf("round %u of %u (rows run %s):\n", round + 1,
			       rounds,
			       round % 2 == 0 ? "top to bottom"
					      : "bottom to top");
		printf("| streams | lines/s each | lines sent | plugin CPU ms "
		       "(ticks) "
		       "| plugin CPU ms (schedstat) | ns CPU/line | of which "
		       "event loop | vs "
		       "1st row | switches per 1k lines | lines per read(2) | "
		       "lines per write(2) | file p99 ms | missing | "
		       "reference ns CPU/line | "
		       "plugin / reference | reference lines per read | "
		       "reference switches per 1k lines | reference "
		       "file p99 ms | reference missing |\n"
		       "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
		       "---|---|---|---|---|---|\n");
		for (size_t k = 0; k < nc; k++) {
			const struct result *r = &rp[round][k];
			const struct result *q = &rr[round][k];
			double first = rp[round][lo].ns_per_line;

			printf("| %ld | %.0f | %llu | %.0f | %.1f | %.0f | "
			       "%.0f | %.2fx | %.0f | %.1f | %.1f "
			       "| %.1f | %llu | %.0f | %.2fx | %.1f | %.0f | "
			       "%.1f | %llu |\n",
			       counts[k],
			       load == SCALE_EACH ? rate
						  : rate / (double)counts[k],
			       (unsigned long long)r->ld.sent, r->cpu_ms,
			       r->cpu_sched_ms, r->ns_per_line,
			       r->loop_ns_per_line,
			       first > 0 ? r->ns_per_line / first : 0,
			       r->switches_per_kline, r->lines_per_read,
			       r->lines_per_write, r->lat.p99,
			       (unsigned long long)r->missing, q->ns_per_line,
			       q->ns_per_line > 0
				       ? r->ns_per_line / q->ns_per_line
				       : 0,
			       q->lines_per_read, q->switches_per_kline,
			       q->lat.p99, (unsigned long long)q->missing);
		}
	}
	for (size_t k = 0; k < nc; k++) {
		for (unsigned round = 0; round < rounds; round++) {
			v[round] = rp[round][k].ns_per_line;
			w[round] = rr[round][k].ns_per_line;
		}
		plug[k] = median_of(v, rounds);
		ref[k] = median_of(w, rounds);
	}
	if (rounds > 1) {
		printf("medians of the %u rounds:\n| streams | plugin ns "
		       "CPU/line | vs 1st row | reference ns CPU/line | vs "
		       "1st row | plugin / reference |\n"
		       "|---|---|---|---|---|---|\n",
		       rounds);
		for (size_t k = 0; k < nc; k++)
			printf("| %ld | %.0f | %.2fx | %.0f | %.2fx | %.2fx "
			       "|\n",
			       counts[k], plug[k],
			       plug[lo] > 0 ? plug[k] / plug[lo] : 0, ref[k],
			       ref[lo] > 0 ? ref[k] / ref[lo] : 0,
			       ref[k] > 0 ? plug[k] / ref[k] : 0);
		printf("the plugin's %ld-stream row over its %ld-stream row, "
		       "round by round:",
		       counts[hi], counts[lo]);
		for (unsigned round = 0; round < rounds; round++)
			printf(" %.2fx", rp[round][lo].ns_per_line > 0
						 ? rp[round][hi].ns_per_line /
							   rp[round][lo]
								   .ns_per_line
						 : 0);
		printf("\n");
	}
	/* The ratio is what the plugin adds; the reference's own curve is
	 * what one file per stream costs anyone at that load. */
	if (nc > 0 && ref[lo] > 0 && ref[hi] > 0)
		printf("plugin / reference: %.2fx at %ld streams, %.2fx at %ld "
		       "streams; reference's own curve: %.0f ns/line at %ld "
		       "streams over %.0f at %ld = %.2fx (plugin's: %.2fx)\n",
		       plug[lo] / ref[lo], counts[lo], plug[hi] / ref[hi],
		       counts[hi], ref[hi], counts[hi], ref[lo], counts[lo],
		       ref[hi] / ref[lo],
		       plug[lo] > 0 ? plug[hi] / plug[lo] : 0);
	return 0;
}

static int part_scaling(void)
{
	double secs = (double)env_long("SCALE_SECONDS", 5);
	double rate = (double)env_long("SCALE_RATE", 20000);
	long burst = env_long("SCALE_BURST", 20);
	long rounds = env_long("SCALE_ROUNDS", 3);
	const char *curves = getenv("SCALE_CURVES"); /* e.g. "sb" */

	if (burst < 1 || burst > BURST_MAX) {
		fprintf(stderr, "streams: SCALE_BURST is 1 to %d\n", BURST_MAX);
		return -1;
	}
	if (curves == NULL)
		curves = "esb";
	if (rounds < 1 || rounds > SCALE_ROUNDS_MAX) {
		fprintf(stderr, "streams: SCALE_ROUNDS is 1 to %d\n",
			SCALE_ROUNDS_MAX);
		return -1;
	}
	if (strchr(curves, 'e') != NULL &&
	    scale_curve(SCALE_EACH, (double)env_long("SCALE_EACH", 20), 1,
			secs, 1) != 0)
		return -1;
	if (strchr(curves, 's') != NULL &&
	    scale_curve(SCALE_SPLIT, rate, 1, secs, 1) != 0)
		return -1;
	if (strchr(curves, 'b') != NULL &&
	    scale_curve(SCALE_BURST, rate, (unsigned)burst, secs,
			(unsigned)rounds) != 0)
		return -1;
	return 0;
}

static long proc_long(const char *path)
{
	long v = -1;
	FILE *f = fopen(path, "r");

	if (f != NULL) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/*
 * Each stream holds a FIFO and a log file open here and in the plugin
 * (which inherits the limit): raise the limit to what STREAMS needs,
 * the hard one too when allowed (root).
 */
static void open_files(struct rlimit *rl)
{
	rlim_t want = (rlim_t)(4 * env_long("STREAMS", 1000) + 256);

	if (getrlimit(RLIMIT_NOFILE, rl) != 0)
		return;
	if (rl->rlim_cur < want) {
		struct rlimit r = {want,
				   rl->rlim_max > want ? rl->rlim_max : want};

		if (setrlimit(RLIMIT_NOFILE, &r) != 0) {
			r.rlim_cur = rl->rlim_max;
			r.rlim_max = rl->rlim_max;
			setrlimit(RLIMIT_NOFILE, &r);
		}
	}
	getrlimit(RLIMIT_NOFILE, rl);
	if (rl->rlim_cur < want)
		printf("NOTE: open files limited to %llu, %llu wanted "
		       "(ulimit -n)\n",
		       (unsigned long long)rl->rlim_cur,
		       (unsigned long long)want);
}

int main(void)
{
	struct rlimit rl;
	const char *parts = getenv("PARTS"); /* e.g. "ms" */
	int rc = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	open_files(&rl);
	printf("uid %d; open files %llu; pipe-max-size %ld, "
	       "pipe-user-pages-soft %ld%s\n",
	       (int)geteuid(), (unsigned long long)rl.rlim_cur,
	       proc_long("/proc/sys/fs/pipe-max-size"),
	       proc_long("/proc/sys/fs/pipe-user-pages-soft"),
	       geteuid() == 0 ? " (root: the soft limit does not apply)" : "");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (parts == NULL)
		parts = "mlfs";
	if (rc == 0 && strchr(parts, 'm') != NULL)
		rc = part_memory_idle();
	if (rc == 0 && strchr(parts, 'l') != NULL)
		rc = part_latency();
	if (rc == 0 && strchr(parts, 'f') != NULL)
		rc = part_follow();
	if (rc == 0 && strchr(parts, 's') != NULL)
		rc = part_scaling();
	curl_global_cleanup();
	if (rc != 0)
		fprintf(stderr, "streams: a part failed\n");
	return rc != 0;
}
