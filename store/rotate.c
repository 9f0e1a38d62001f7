/* SPDX-License-Identifier: Apache-2.0 */
#include "store/rotate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#define COPY_BYTES (256 * 1024)

size_t rotate_split(uint64_t size, uint64_t max_size, const char *p, size_t n)
{
	uint64_t room;
	const char *nl;

	if (max_size == 0 || size >= max_size)
		return n;
	room = max_size - size;
	if (room > n)
		return n;
	/* The line holding the byte that reaches max_size is written whole. */
	nl = memchr(p + room - 1, '\n', n - (size_t)(room - 1));
	return nl != NULL ? (size_t)(nl - p) + 1 : n;
}

int rotate_name(char *dst, size_t cap, const char *base, unsigned index,
		bool gz)
{
	int k = snprintf(dst, cap, "%s.%u%s", base, index, gz ? ".gz" : "");

	return k < 0 || (size_t)k >= cap ? -ENAMETOOLONG : 0;
}

static int remove_both(const char *base, unsigned index)
{
	char path[ROTATE_PATH_MAX];
	int rc = 0;

	for (int gz = 0; gz < 2; gz++) {
		if (rotate_name(path, sizeof(path), base, index, gz) != 0)
			return -ENAMETOOLONG;
		if (unlink(path) == -1 && errno != ENOENT && rc == 0)
			rc = -errno;
	}
	return rc;
}

static int move(const char *from, const char *to)
{
	if (rename(from, to) == -1 && errno != ENOENT)
		return -errno;
	return 0;
}

int rotate_shift(const char *base, unsigned max_files)
{
	char from[ROTATE_PATH_MAX];
	char to[ROTATE_PATH_MAX];
	int rc;

	rc = remove_both(base, max_files - 1);
	if (rc != 0)
		return rc;
	for (unsigned i = max_files - 1; i >= 2; i--) {
		for (int gz = 0; gz < 2; gz++) {
			if (rotate_name(from, sizeof(from), base, i - 1, gz) !=
				    0 ||
			    rotate_name(to, sizeof(to), base, i, gz) != 0)
				return -ENAMETOOLONG;
			rc = move(from, to);
			if (rc != 0)
				return rc;
		}
	}
	if (rotate_name(to, sizeof(to), base, 1, false) != 0)
		return -ENAMETOOLONG;
	return move(base, to);
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);

		if (k == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Deflate everything readable from 'in' into 'out'. */
static int deflate_fd(int in, int out, const char *last_time)
{
	unsigned char *ibuf = malloc(COPY_BYTES);
	unsigned char *obuf = malloc(COPY_BYTES);
	char extra[96];
	gz_header head;
	z_stream zs;
	int flush = Z_NO_FLUSH;
	int rc = 0;
	int n;

	memset(&zs, 0, sizeof(zs));
	if (ibuf == NULL || obuf == NULL) {
		rc = -ENOMEM;
		goto out_free;
	}
	/* windowBits 15 + 16: a gzip wrapper. */
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		rc = -ENOMEM;
		goto out_free;
	}
	n = snprintf(extra, sizeof(extra), "{\"lastTime\":\"%s\"}", last_time);
	memset(&head, 0, sizeof(head));
	head.os = 255; /* unknown, as Go's gzip writer says */
	head.extra = (Bytef *)extra;
	head.extra_len = (uInt)n;
	if (last_time[0] != '\0')
		deflateSetHeader(&zs, &head);
	while (flush != Z_FINISH) {
		ssize_t k = read(in, ibuf, COPY_BYTES);

		if (k == -1) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		flush = k == 0 ? Z_FINISH : Z_NO_FLUSH;
		zs.next_in = ibuf;
		zs.avail_in = (uInt)k;
		do {
			zs.next_out = obuf;
			zs.avail_out = COPY_BYTES;
			deflate(&zs, flush);
			rc = write_all(out, obuf, COPY_BYTES - zs.avail_out);
			if (rc != 0)
				goto out;
		} while (zs.avail_out == 0);
	}
out:
	deflateEnd(&zs);
out_free:
	free(ibuf);
	free(obuf);
	return rc;
}

int rotate_compress(const char *src, const char *last_time)
{
	char dst[ROTATE_PATH_MAX];
	char tmp[ROTATE_PATH_MAX + 8];
	int in = -1;
	int out = -1;
	int rc;

	if (snprintf(dst, sizeof(dst), "%s.gz", src) >= (int)sizeof(dst))
		return -ENAMETOOLONG;
	snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
	in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in == -1)
		return -errno;
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		   0640);
	if (out == -1) {
		rc = -errno;
		goto out;
	}
	rc = deflate_fd(in, out, last_time);
	if (rc == 0 && close(out) == -1)
		rc = -errno;
	out = -1;
	if (rc == 0 && rename(tmp, dst) == -1)
		rc = -errno;
	if (rc != 0) {
		unlink(tmp);
		goto out;
	}
	/* The rotated text is not read again soon: keep it out of the page
	 * cache so the node's own working set stays. */
	(void)posix_fadvise(in, 0, 0, POSIX_FADV_DONTNEED);
	if (unlink(src) == -1)
		rc = -errno;
out:
	if (out != -1) {
		close(out);
		unlink(tmp);
	}
	close(in);
	return rc;
}

void rotate_lock_init(struct rotate_lock *l)
{
	pthread_rwlock_init(&l->rw, NULL);
	atomic_init(&l->rotations, 0);
}

void rotate_lock_destroy(struct rotate_lock *l)
{
	pthread_rwlock_destroy(&l->rw);
}

void rotate_lock_rotating(struct rotate_lock *l)
{
	pthread_rwlock_wrlock(&l->rw);
}

void rotate_unlock_rotated(struct rotate_lock *l, bool rotated)
{
	/* Release: the writes to the file just rotated happen before it. */
	if (rotated)
		atomic_fetch_add_explicit(&l->rotations, 1,
					  memory_order_release);
	pthread_rwlock_unlock(&l->rw);
}

uint64_t rotate_lock_opening(struct rotate_lock *l)
{
	pthread_rwlock_rdlock(&l->rw);
	return atomic_load_explicit(&l->rotations, memory_order_acquire);
}

void rotate_unlock_opened(struct rotate_lock *l)
{
	pthread_rwlock_unlock(&l->rw);
}

uint64_t rotate_count(struct rotate_lock *l)
{
	return atomic_load_explicit(&l->rotations, memory_order_acquire);
}
