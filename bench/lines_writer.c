/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lines_writer N LEN: write N lines of LEN bytes (LEN - 1 printable bytes
 * and a newline) to stdout, 64 KiB per write(2), as fast as the reader
 * takes them.  The container in bench/dockerd_cpu.sh; linked statically so
 * it runs in an image holding nothing else.  Lines differ (a counter at the
 * start) so a lost or repeated line would show, and the rest is fixed text:
 * filling the buffer costs a memcpy per line, far below what dockerd spends
 * on one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

static int write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(1, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static char buf[CHUNK];
	char line[4096];
	size_t len, used = 0;
	long n, i;

	if (argc != 3) {
		fprintf(stderr, "usage: lines_writer N LEN\n");
		return 2;
	}
	n = strtol(argv[1], NULL, 10);
	len = (size_t)strtoul(argv[2], NULL, 10);
	if (n < 0 || len < 12 || len > sizeof(line) || len > CHUNK) {
		fprintf(stderr, "lines_writer: N >= 0, 12 <= LEN <= 4096\n");
		return 2;
	}
	for (i = 0; i < (long)len - 1; i++)
		line[i] = (char)('a' + i % 26);
	line[len - 1] = '\n';
	for (i = 0; i < n; i++) {
		/* A 10-digit counter, then the fixed text. */
		long v = i;
		int d;

		for (d = 9; d >= 0; d--) {
			line[d] = (char)('0' + v % 10);
			v /= 10;
		}
		line[10] = ' ';
		if (used + len > CHUNK) {
			if (write_all(buf, used) < 0) {
				perror("lines_writer: write");
				return 1;
			}
			used = 0;
		}
		memcpy(buf + used, line, len);
		used += len;
	}
	if (used > 0 && write_all(buf, used) < 0) {
		perror("lines_writer: write");
		return 1;
	}
	return 0;
}
