/* SPDX-License-Identifier: Apache-2.0 */
#include "store/logreader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/jsonline.h"

#define READ_BYTES (64 * 1024)
/* A json-file line longer than this is skipped as damaged: dockerd's lines
 * hold at most 16 KiB of text, about 100 KiB once escaped. */
#define LINE_MAX_BYTES (4 * 1024 * 1024)

struct logreader {
	char *path; /* owned */
	int fd;	    /* -1 until the file exists */
	int64_t tail;
	int64_t since_ns;
	int64_t until_ns;
	bool positioned; /* the Tail start has been found */
	bool until_met;
	bool skipping; /* inside a line longer than LINE_MAX_BYTES */
	char *buf;     /* owned: READ_BYTES of file data */
	size_t buf_off; /* next unparsed byte in buf */
	size_t buf_len;
	char *line; /* owned: a line cut by the end of a read */
	size_t line_len;
	size_t line_cap;
	char *scratch; /* owned: the unescaped text of one line */
	size_t scratch_cap;
	uint64_t bad_lines;
};

int logreader_open(const struct logreader_params *p, struct logreader **out)
{
	struct logreader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return -ENOMEM;
	r->fd = -1;
	r->tail = p->tail;
	r->since_ns = p->since_ns;
	r->until_ns = p->until_ns;
	r->path = strdup(p->path);
	r->buf = malloc(READ_BYTES);
	if (r->path == NULL || r->buf == NULL) {
		logreader_free(r);
		return -ENOMEM;
	}
	/* Where Tail starts is decided against the file as it is now.  A file
	 * that does not exist yet holds nothing old: all of it will be new. */
	r->fd = open(r->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (r->fd == -1)
		r->positioned = true;
	*out = r;
	return 0;
}

void logreader_free(struct logreader *r)
{
	if (r == NULL)
		return;
	if (r->fd != -1)
		close(r->fd);
	free(r->path);
	free(r->buf);
	free(r->line);
	free(r->scratch);
	free(r);
}

uint64_t logreader_bad_lines(const struct logreader *r)
{
	return r->bad_lines;
}

static int grow(char **p, size_t *cap, size_t want)
{
	size_t c = *cap < 4096 ? 4096 : *cap;
	char *q;

	if (want <= *cap)
		return 0;
	while (c < want)
		c *= 2;
	q = realloc(*p, c);
	if (q == NULL)
		return -ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}

/*
 * The offset where the last 'tail' entries start, found by reading
 * backwards from the end.  Every entry is one line.
 */
static int tail_offset(int fd, int64_t tail, off_t *out)
{
	char buf[READ_BYTES];
	struct stat st;
	int64_t seen = 0;
	off_t end;
	off_t pos;

	if (fstat(fd, &st) == -1)
		return -errno;
	end = st.st_size;
	pos = end;
	*out = 0;
	while (pos > 0) {
		size_t n = pos > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)pos;
		ssize_t k = pread(fd, buf, n, pos - (off_t)n);

		if (k == -1 && errno == EINTR)
			continue;
		if (k != (ssize_t)n)
			return k == -1 ? -errno : -EIO;
		pos -= (off_t)n;
		for (size_t i = n; i-- > 0;) {
			/* The newline that ends the file ends the last line;
			 * it does not start one. */
			if (buf[i] != '\n' || pos + (off_t)i == end - 1)
				continue;
			if (++seen == tail) {
				*out = pos + (off_t)i + 1;
				return 0;
			}
		}
	}
	return 0;
}

static int position(struct logreader *r)
{
	off_t start = 0;
	int rc;

	if (r->tail == 0) {
		start = lseek(r->fd, 0, SEEK_END);
		if (start == -1)
			return -errno;
	} else if (r->tail > 0) {
		rc = tail_offset(r->fd, r->tail, &start);
		if (rc != 0)
			return rc;
		if (lseek(r->fd, start, SEEK_SET) == -1)
			return -errno;
	}
	r->positioned = true;
	return 0;
}

/* Returns 1 to stop (callback or Until), 0 to go on, -ENOMEM. */
static int deliver(struct logreader *r, const char *text, size_t len,
		   logreader_entry_cb *cb, void *arg)
{
	struct jsonline_record rec;
	struct log_entry e;

	if (grow(&r->scratch, &r->scratch_cap, len + 1) != 0)
		return -ENOMEM;
	if (jsonline_decode(text, len, r->scratch, r->scratch_cap, &rec) !=
	    0) {
		r->bad_lines++;
		return 0;
	}
	if (r->until_ns != 0 && rec.time_nano > r->until_ns) {
		r->until_met = true;
		return 1;
	}
	if (r->since_ns != 0 && rec.time_nano < r->since_ns)
		return 0;
	memset(&e, 0, sizeof(e));
	e.source = rec.stream;
	e.source_len = rec.stream_len;
	e.time_nano = rec.time_nano;
	/* As stored: a newline ends the text wherever a line ended. */
	e.line = (const uint8_t *)rec.log;
	e.line_len = rec.log_len;
	return cb(arg, &e) != 0 ? 1 : 0;
}

/* Parse the lines in buf[buf_off..buf_len).  Returns as deliver(). */
static int parse_buffer(struct logreader *r, logreader_entry_cb *cb,
			void *arg)
{
	while (r->buf_off < r->buf_len) {
		const char *p = r->buf + r->buf_off;
		size_t left = r->buf_len - r->buf_off;
		const char *nl = memchr(p, '\n', left);
		size_t k = nl != NULL ? (size_t)(nl - p) : left;
		int rc = 0;

		r->buf_off += k + (nl != NULL ? 1 : 0);
		if (r->skipping) {
			r->skipping = nl == NULL;
		} else if (r->line_len + k > LINE_MAX_BYTES) {
			r->bad_lines++;
			r->line_len = 0;
			r->skipping = nl == NULL;
		} else if (nl != NULL && r->line_len == 0) {
			rc = deliver(r, p, k, cb, arg); /* the common case */
		} else {
			if (grow(&r->line, &r->line_cap, r->line_len + k) != 0)
				return -ENOMEM;
			memcpy(r->line + r->line_len, p, k);
			r->line_len += k;
			if (nl != NULL) {
				rc = deliver(r, r->line, r->line_len, cb, arg);
				r->line_len = 0;
			}
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* True when the path now names another file than the one open, and the
 * reader switched to it. */
static bool switch_if_rotated(struct logreader *r)
{
	struct stat now;
	struct stat open_st;
	int fd;

	if (stat(r->path, &now) == -1 || fstat(r->fd, &open_st) == -1)
		return false;
	if (now.st_ino == open_st.st_ino && now.st_dev == open_st.st_dev)
		return false;
	fd = open(r->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return false;
	close(r->fd);
	r->fd = fd;
	return true;
}

int logreader_read(struct logreader *r, logreader_entry_cb *cb, void *arg)
{
	int rc;

	if (r->until_met)
		return LOGREADER_UNTIL;
	if (r->fd == -1) {
		r->fd = open(r->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (r->fd == -1)
			return errno == ENOENT ? LOGREADER_AT_END : -errno;
	}
	if (!r->positioned) {
		rc = position(r);
		if (rc != 0)
			return rc;
	}
	for (;;) {
		ssize_t n;

		rc = parse_buffer(r, cb, arg);
		if (rc < 0)
			return rc;
		if (rc > 0)
			return r->until_met ? LOGREADER_UNTIL : LOGREADER_MORE;
		n = read(r->fd, r->buf, READ_BYTES);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -errno;
		if (n == 0) {
			/* The writer rotated: what the old file held has all
			 * been read; go on with the new current file. */
			if (switch_if_rotated(r))
				continue;
			return LOGREADER_AT_END;
		}
		r->buf_off = 0;
		r->buf_len = (size_t)n;
	}
}
