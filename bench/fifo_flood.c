/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fifo_flood FIFO N LEN: write N LogEntry frames of LEN-byte stdout lines
 * into FIFO as fast as the reader takes them: the ingest benchmark's
 * stand-in for dockerd at full speed.
 *
 * It must be faster than what it feeds, or the benchmark measures it.
 * Building each frame with its own clock_gettime() and copying it twice
 * held it to about 7.5 M 100-byte lines/s with nothing but dd reading the
 * FIFO.  So batches of frames (about 64 KiB each, whole frames) are built
 * once, and before one goes in again only its time stamps are rewritten: each
 * line's time is the start time plus 100 ns per line, so times still
 * increase and cross second boundaries as a busy container's do.  64 KiB
 * writes also let the reader into the pipe between them (a pipe's writer
 * holds its lock for the whole of a write).
 *
 * The batches go in with vmsplice(2), not write(2): the pipe then refers
 * to the batch's pages, and the only copy is the reader's read(2).  On
 * two vCPUs shared with the plugin's two threads, the copy into the pipe
 * took CPU from what is being measured: with it, this writer alone moved
 * about 2.5 GB/s of 16 KiB lines to dd, less than half of what dd writes
 * to a file, so the benchmark could not have shown a plugin at 0.5.  (What
 * dockerd itself spends per line is measured with a real dockerd, by
 * dockerd_cpu.sh.)  A batch the pipe still refers to must not change, so
 * there is a ring of them, more than the pipe can hold: a batch comes
 * round again only after the pipe has been emptied of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define BATCH	   (64 * 1024)
#define TIME_BYTES 9 /* a varint of any time from 2004 to 2514 */
#define STEP_NS	   100
#define PIPE_SIZE  (1024 * 1024)

/* 'v' as a varint of exactly TIME_BYTES bytes (v must be below 2^63). */
static void put_time(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < TIME_BYTES - 1; i++) {
		p[i] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[TIME_BYTES - 1] = (uint8_t)v;
}

static size_t varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* One frame of an 'll'-byte line at 'p'; its time goes at *time_at. */
static size_t put_frame(uint8_t *p, size_t ll, size_t *time_at)
{
	size_t k = 4;

	p[k++] = 0x0a; /* source */
	p[k++] = 6;
	memcpy(p + k, "stdout", 6);
	k += 6;
	p[k++] = 0x10; /* time_nano */
	*time_at = k;
	k += TIME_BYTES;
	p[k++] = 0x1a; /* line */
	k += varint(p + k, ll);
	memset(p + k, 'x', ll);
	k += ll;
	p[0] = (uint8_t)((k - 4) >> 24);
	p[1] = (uint8_t)((k - 4) >> 16);
	p[2] = (uint8_t)((k - 4) >> 8);
	p[3] = (uint8_t)(k - 4);
	return k;
}

/*
 * All 'len' bytes at 'p' into the pipe: spliced while that works, written
 * once it does not (vmsplice(2) may be refused, say by a seccomp filter).
 */
static int put_all(int fd, const uint8_t *p, size_t len, int *splice_ok)
{
	while (len > 0) {
		struct iovec iov = {(void *)p, len};
		ssize_t k = *splice_ok ? vmsplice(fd, &iov, 1, 0)
				       : write(fd, p, len);

		if (k == -1 && errno == EINTR)
			continue;
		if (k == -1 && *splice_ok) {
			*splice_ok = 0;
			continue;
		}
		if (k <= 0)
			return -1;
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

int main(int argc, char **argv)
{
	size_t ll, flen, per, fsize, ring, r, *at;
	struct timespec ts;
	uint8_t *mem;
	uint64_t t;
	long n, i;
	int fd, pipe_size, splice_ok = 1;

	if (argc != 4) {
		fprintf(stderr, "usage: fifo_flood FIFO N LEN\n");
		return 2;
	}
	fd = open(argv[1], O_WRONLY);
	n = atol(argv[2]);
	ll = (size_t)atol(argv[3]);
	flen = 4 + 8 + 1 + TIME_BYTES + 1 + 10 + ll;
	per = BATCH / flen > 0 ? BATCH / flen : 1;
	/* The size the plugin asks for (design.md), so that "the frame
	 * writer alone", read by dd, runs on the pipe the plugin reads. */
	if (fd >= 0)
		(void)fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE);
	pipe_size = fd < 0 ? -1 : fcntl(fd, F_GETPIPE_SZ);
	/* Batches start on a page of their own, so a page the pipe still
	 * refers to is never shared with the batch being rewritten. */
	fsize = (per * flen + 4095) / 4096 * 4096;
	ring = (pipe_size > 0 ? (size_t)pipe_size : 1048576) / fsize + 2;
	mem = aligned_alloc(4096, ring * fsize);
	at = malloc(per * sizeof(*at));
	if (fd < 0 || n < 0 || mem == NULL || at == NULL)
		return 1;
	for (r = 0; r < ring; r++) {
		size_t f = 0;

		for (size_t k = 0; k < per; k++) {
			f = put_frame(mem + r * fsize + k * f, ll, &at[k]);
			at[k] += k * f;
		}
		flen = f;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	for (i = 0, r = 0; i < n; i += (long)per, r = (r + 1) % ring) {
		size_t k, m = (size_t)(n - i) < per ? (size_t)(n - i) : per;
		uint8_t *buf = mem + r * fsize;

		for (k = 0; k < m; k++, t += STEP_NS)
			put_time(buf + at[k], t);
		if (put_all(fd, buf, m * flen, &splice_ok) != 0)
			return 1;
	}
	return 0;
}
