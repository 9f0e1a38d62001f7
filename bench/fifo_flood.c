/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fifo_flood FIFO N LEN: write N LogEntry frames of LEN-byte stdout lines
 * into FIFO as fast as the reader takes them: the ingest benchmark's
 * stand-in for dockerd at full speed.
 *
 * It must be faster than what it feeds, or the benchmark measures it.
 * Building each frame with its own clock_gettime() and copying it twice
 * held it to about 7.5 M 100-byte lines/s with nothing but dd reading the
 * FIFO.  So one batch of frames (about 64 KiB, whole frames) is built
 * once, and before each write(2) only its time stamps are rewritten: each
 * line's time is the start time plus 100 ns per line, so times still
 * increase and cross second boundaries as a busy container's do.  64 KiB
 * writes also let the reader into the pipe between them (a pipe's writer
 * holds its lock for the whole of a write).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH	   (64 * 1024)
#define TIME_BYTES 9 /* a varint of any time from 2004 to 2514 */
#define STEP_NS	   100

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

int main(int argc, char **argv)
{
	size_t ll, flen, per, fsize, *at;
	struct timespec ts;
	uint8_t *buf;
	uint64_t t;
	long n, i;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: fifo_flood FIFO N LEN\n");
		return 2;
	}
	fd = open(argv[1], O_WRONLY);
	n = atol(argv[2]);
	ll = (size_t)atol(argv[3]);
	flen = 4 + 8 + 1 + TIME_BYTES + 1 + 10 + ll;
	per = BATCH / flen > 0 ? BATCH / flen : 1;
	buf = malloc(per * flen);
	at = malloc(per * sizeof(*at));
	if (fd < 0 || n < 0 || buf == NULL || at == NULL)
		return 1;
	fsize = 0;
	for (size_t k = 0; k < per; k++) {
		fsize = put_frame(buf + k * fsize, ll, &at[k]);
		at[k] += k * fsize;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	for (i = 0; i < n; i += (long)per) {
		size_t k, m = (size_t)(n - i) < per ? (size_t)(n - i) : per;
		size_t len = m * fsize;

		for (k = 0; k < m; k++, t += STEP_NS)
			put_time(buf + at[k], t);
		if (write(fd, buf, len) != (ssize_t)len)
			return 1;
	}
	return 0;
}
