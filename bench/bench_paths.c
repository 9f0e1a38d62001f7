/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CPU per line on the two paths a line can take through the plugin, in one
 * run, on the same input: 100-byte lines framed as dockerd frames them.
 *
 *   drop   frame decode -> limiter says drop (rate-limit exhausted), and
 *          then, as stream.c does, the lines after it that are as long
 *          only measured (FRAME_SKIP)
 *   encode frame decode -> limiter admits -> json-file encode -> write(2)
 *          in 1 MiB batches to a file, all on one thread: the work alone
 *   write  the plugin's own write path: frame decode -> limiter admits ->
 *          sink_append() (one batch, sink_hold(), per 1 MiB read, as
 *          stream.c does) -> the writer thread's batched write(2)
 *
 * Prints ns/line for each and the ratio write/drop; the drop path must be
 * at least 10 times cheaper (issue 7).  CPU time is the process's own, all
 * threads (CLOCK_PROCESS_CPUTIME_ID), best of several rounds.
 *
 * Then jsonline_encode() alone on lines of a few kinds, each beside the
 * plain 100-byte line: JSON logged as text has a quote every few bytes,
 * and each is a byte to escape.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plugin/frame.h"
#include "plugin/logentry.h"
#include "ratelimit/limiter.h"
#include "store/jsonline.h"
#include "store/writer.h"

#define LINES  1000000
#define ROUNDS 5
#define BATCH  (1024 * 1024)

struct ctx {
	struct limiter *lim;
	int64_t now;
	char *out; /* the writer's batch */
	size_t len;
	int fd;
	struct sink *sink; /* the write path through the writer thread */
	unsigned long admitted, dropped;
};

static int64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void flush(struct ctx *c)
{
	if (c->len > 0 && write(c->fd, c->out, c->len) != (ssize_t)c->len)
		perror("write");
	c->len = 0;
}

static void on_skipped(void *arg, uint64_t lines, uint64_t bytes)
{
	struct ctx *c = arg;

	limiter_drop_lines(c->lim, lines, bytes, c->now);
	c->dropped += lines;
}

static int on_entry(void *arg, const struct log_entry *e)
{
	struct ctx *c = arg;

	if (limiter_offer(c->lim, e, c->now, NULL) != LIMITER_ADMIT) {
		c->dropped++;
		/* As stream.c does: the whole lines after it go unread. */
		return limiter_drops_longer(c->lim, e) ? FRAME_SKIP
						       : FRAME_TAKEN;
	}
	c->admitted++;
	if (c->sink != NULL) {
		/* Full queue: as rate-policy=block, wait for the writer. */
		while (sink_append(c->sink, e, NULL, 0) != 0) {
			struct timespec ts = {0, 50000};

			sink_unhold(c->sink, true);
			nanosleep(&ts, NULL);
			sink_hold(c->sink);
		}
	} else if (c->fd >= 0) {
		if (c->len + jsonline_encode_bound(e, 0) > BATCH)
			flush(c);
		c->len += jsonline_encode(c->out + c->len, e, NULL, 0);
	}
	return FRAME_TAKEN;
}

static void no_notify(void *arg)
{
	(void)arg;
}

/*
 * Feed the frames in 1 MiB reads, as the stream does; returns ns/line.
 * With 'dir', through a writer writing under it.
 */
static double run(const uint8_t *frames, size_t n, uint64_t rate, int fd,
		  const char *dir)
{
	struct limiter_config cfg;
	double best = 0;

	memset(&cfg, 0, sizeof(cfg));
	cfg.rate_bytes = rate;
	cfg.burst_bytes = rate != 0 ? 16384 : 0;
	cfg.entry_overhead = 1;
	cfg.policy = LIMITER_POLICY_DROP;
	for (int r = 0; r < ROUNDS; r++) {
		struct frame_decoder *d = frame_decoder_new(FRAME_MAX_DEFAULT);

		frame_decoder_set_skip(d, on_skipped);
		struct ctx c = {0};
		struct writer *w = NULL;
		int64_t t0, t1;

		char id[65];

		memset(id, 'b', 64);
		id[64] = '\0';
		if (dir != NULL) {
			if (writer_new(dir, 64u << 20, no_notify, NULL, &w) != 0 ||
			    writer_sink_get(w, id, &c.sink) != 0) {
				fprintf(stderr, "bench: no writer\n");
				exit(1);
			}
		}
		c.lim = limiter_new(&cfg, NULL, 0);
		c.now = 1000; /* the clock stands still: the bucket stays dry */
		c.out = malloc(BATCH);
		c.fd = fd;
		if (fd >= 0 && lseek(fd, 0, SEEK_SET) == 0 &&
		    ftruncate(fd, 0) != 0)
			perror("ftruncate");
		t0 = cpu_ns();
		for (size_t off = 0; off < n; off += BATCH) {
			size_t k = n - off < BATCH ? n - off : BATCH;

			if (c.sink != NULL)
				sink_hold(c.sink);
			frame_decoder_feed(d, frames + off, k, on_entry, &c);
			if (c.sink != NULL)
				sink_unhold(c.sink, true);
		}
		flush(&c);
		while (c.sink != NULL && !sink_is_idle(c.sink)) {
			struct timespec ts = {0, 100000};

			nanosleep(&ts, NULL);
		}
		t1 = cpu_ns();
		if (w != NULL) {
			char path[4200];

			sink_release(c.sink);
			writer_free(w);
			snprintf(path, sizeof(path), "%s/%s/%s-json.log", dir,
				 id, id);
			unlink(path);
			snprintf(path, sizeof(path), "%s/%s", dir, id);
			rmdir(path);
		}
		if (r == 0 || (double)(t1 - t0) / LINES < best)
			best = (double)(t1 - t0) / LINES;
		if (c.admitted + c.dropped != LINES)
			fprintf(stderr, "bench: %lu + %lu lines, want %d\n",
				c.admitted, c.dropped, LINES);
		limiter_free(c.lim);
		frame_decoder_free(d);
		free(c.out);
	}
	return best;
}

/* jsonline_encode() of 'text', best of ROUNDS, in ns per line. */
static double encode_alone(const char *text)
{
	static char out[64 * 1024];
	struct log_entry e;
	double best = 0;
	size_t sum = 0;

	memset(&e, 0, sizeof(e));
	e.source = "stdout";
	e.source_len = 6;
	e.line = (const uint8_t *)text;
	e.line_len = strlen(text);
	for (int r = 0; r < ROUNDS; r++) {
		int64_t t0 = cpu_ns();
		double ns;

		for (int i = 0; i < LINES; i++) {
			e.time_nano = INT64_C(1700000000000000000) + i * 1000;
			sum += jsonline_encode(out, &e, NULL, 0);
		}
		ns = (double)(cpu_ns() - t0) / LINES;
		if (r == 0 || ns < best)
			best = ns;
	}
	if (sum == 0)
		printf("(nothing encoded)\n");
	return best;
}

static void encode_kinds(void)
{
	static const char json98[] =
		"{\"level\":\"info\",\"msg\":\"request handled\",\"status\":"
		"200,\"path\":\"/api/v1/items?x=1&y=<2>\",\"dur\":0.012}";
	static const char json300[] =
		"{\"ts\":\"2026-11-29T08:41:25.123Z\",\"level\":\"info\",\"logger"
		"\":\"http\",\"msg\":\"request handled\",\"method\":\"GET\","
		"\"path\":\"/api/v1/items/42\",\"status\":200,\"bytes\":5120,"
		"\"duration_ms\":12.5,\"remote\":\"10.0.3.17\",\"user_agent\":"
		"\"curl/7.88.1\",\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736"
		"\",\"span_id\":\"00f067aa0ba902b7\",\"retry\":false}";
	char plain100[100], plain1000[1000];
	double base, p1000, j98, j300;

	memset(plain100, 'x', sizeof(plain100) - 1);
	plain100[sizeof(plain100) - 1] = '\0';
	memset(plain1000, 'x', sizeof(plain1000) - 1);
	plain1000[sizeof(plain1000) - 1] = '\0';
	base = encode_alone(plain100);
	p1000 = encode_alone(plain1000);
	j98 = encode_alone(json98);
	j300 = encode_alone(json300);
	printf("encode alone, ns per line (and over the plain %zu-byte line): "
	       "plain %zu B %.1f; plain %zu B %.1f (%.1fx); JSON %zu B %.1f "
	       "(%.1fx); JSON %zu B %.1f (%.1fx)\n",
	       strlen(plain100), strlen(plain100), base, strlen(plain1000),
	       p1000, p1000 / base, strlen(json98), j98, j98 / base,
	       strlen(json300), j300, j300 / base);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	char line[100], path[4096];
	struct log_entry e;
	uint8_t *frames;
	size_t n = 0, cap = (size_t)LINES * 160;
	double drop, enc, wr;
	int fd;

	frames = malloc(cap);
	memset(line, 'x', sizeof(line));
	memset(&e, 0, sizeof(e));
	e.source = "stdout";
	e.source_len = 6;
	e.line = (const uint8_t *)line;
	e.line_len = 99; /* 100 bytes with the newline dockerd took off */
	for (int i = 0; i < LINES; i++) {
		e.time_nano = INT64_C(1700000000000000000) + i * 1000;
		n += logentry_encode_frame(frames + n, &e);
	}
	snprintf(path, sizeof(path), "%s/bench-paths.log", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	drop = run(frames, n, 1000, -1, NULL);
	enc = run(frames, n, 0, fd, NULL);
	wr = run(frames, n, 0, -1, dir);
	close(fd);
	unlink(path);
	printf("drop path:   %6.1f ns CPU per line\n", drop);
	printf("encode+write on one thread: %6.1f ns CPU per line (to %s)\n",
	       enc, dir);
	printf("write path:  %6.1f ns CPU per line (the plugin's: through "
	       "the writer thread, to %s)\n",
	       wr, dir);
	printf("write/drop:  %6.1f (issue 7 wants >= 10); encode+write/drop: "
	       "%.1f\n",
	       wr / drop, enc / drop);
	encode_kinds();
	free(frames);
	return 0;
}
