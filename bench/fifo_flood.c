/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fifo_flood FIFO N LEN: write N LogEntry frames of LEN-byte stdout lines
 * into FIFO as fast as the reader takes them, 1 MiB per write(2): the
 * ingest benchmark's stand-in for dockerd at full speed.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH (1 << 20)

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

int main(int argc, char **argv)
{
	static uint8_t buf[BATCH];
	size_t len = 0, ll;
	struct timespec ts;
	uint8_t *m;
	char *line;
	long n;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: fifo_flood FIFO N LEN\n");
		return 2;
	}
	fd = open(argv[1], O_WRONLY);
	n = atol(argv[2]);
	ll = (size_t)atol(argv[3]);
	line = malloc(ll);
	m = malloc(ll + 64);
	if (fd < 0 || line == NULL || m == NULL || ll + 68 > BATCH)
		return 1;
	memset(line, 'x', ll);
	for (long i = 0; i < n; i++) {
		size_t k = 0;

		clock_gettime(CLOCK_REALTIME, &ts);
		m[k++] = 0x0a; /* source */
		m[k++] = 6;
		memcpy(m + k, "stdout", 6);
		k += 6;
		m[k++] = 0x10; /* time_nano */
		k += varint(m + k, (uint64_t)ts.tv_sec * 1000000000u +
					   (uint64_t)ts.tv_nsec);
		m[k++] = 0x1a; /* line */
		k += varint(m + k, ll);
		memcpy(m + k, line, ll);
		k += ll;
		if (len + k + 4 > BATCH) {
			if (write(fd, buf, len) != (ssize_t)len)
				return 1;
			len = 0;
		}
		buf[len] = (uint8_t)(k >> 24);
		buf[len + 1] = (uint8_t)(k >> 16);
		buf[len + 2] = (uint8_t)(k >> 8);
		buf[len + 3] = (uint8_t)k;
		memcpy(buf + len + 4, m, k);
		len += 4 + k;
	}
	if (len > 0 && write(fd, buf, len) != (ssize_t)len)
		return 1;
	return 0;
}
