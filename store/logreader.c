/* SPDX-License-Identifier: Apache-2.0 */
#include "store/logreader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "store/jsonline.h"
#include "store/rotate.h"

#define READ_BYTES (64 * 1024)
/* Rotated files looked at: far more than any max-file in real use. */
#define LOGREADER_MAX_ROTATED 64
/* A json-file line longer than this is skipped as damaged: dockerd's lines
 * hold at most 16 KiB of text, about 100 KiB once escaped. */
#define LINE_MAX_BYTES (4 * 1024 * 1024)

/* One file of the log, opened when the reader started. */
struct lr_file {
	int fd;	       /* owned */
	gzFile gz;     /* owned, NULL for a plain file */
	uint64_t skip; /* lines to pass over at its start (Tail) */
};

struct logreader {
	char *path;		     /* owned: the current file */
	struct rotate_lock *lock;    /* borrowed, or &own_lock */
	struct rotate_lock own_lock; /* for a log nothing rotates */
	/* Rotated files, oldest first, opened together with the current one
	 * under the lock, so a rotation while we read renames nothing under
	 * us. */
	struct lr_file old[LOGREADER_MAX_ROTATED];
	unsigned n_old;
	unsigned next_old; /* the rotated file being read; n_old = done */
	int fd;		   /* the current file, -1 until it exists */
	/* The rotation count when the files were last opened: 'fd' was the
	 * current file then (or none existed). */
	uint64_t rotations;
	off_t end; /* without follow: where the current file ended at open */
	off_t off; /* the offset read to in the current file */
	int64_t tail;
	int64_t since_ns;
	int64_t until_ns;
	bool follow;
	bool positioned; /* the Tail start has been found */
	bool until_met;
	bool skipping;	     /* inside a line longer than LINE_MAX_BYTES */
	bool starting;	     /* the next rotated file has not been read yet */
	uint64_t skip_lines; /* lines of this file before Tail's start */
	char *buf;	     /* owned: READ_BYTES of file data */
	size_t buf_off;	     /* next unparsed byte in buf */
	size_t buf_len;
	char *line; /* owned: a line cut by the end of a read */
	size_t line_len;
	size_t line_cap;
	char *scratch; /* owned: the unescaped text of one line */
	size_t scratch_cap;
	uint64_t bad_lines;
};

static void close_file(struct lr_file *f)
{
	if (f->gz != NULL)
		gzclose(f->gz); /* closes its fd */
	else if (f->fd != -1)
		close(f->fd);
	f->gz = NULL;
	f->fd = -1;
}

/*
 * Open "<log>.1" ... up to (not including) "<log>.<below>", plain or .gz,
 * into r->old, oldest first.  Every earlier entry of r->old is closed.
 */
static void open_rotated(struct logreader *r, unsigned below)
{
	char name[ROTATE_PATH_MAX];
	int fds[LOGREADER_MAX_ROTATED];
	bool gz[LOGREADER_MAX_ROTATED];
	unsigned n = 0;

	for (unsigned i = 1; i < below && i <= LOGREADER_MAX_ROTATED; i++) {
		int fd = -1;
		bool is_gz = false;

		if (rotate_name(name, sizeof(name), r->path, i, false) != 0)
			break;
		fd = open(name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd == -1 &&
		    rotate_name(name, sizeof(name), r->path, i, true) == 0) {
			fd = open(name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			is_gz = fd != -1;
		}
		if (fd == -1)
			break; /* the chain has no gaps */
		fds[n] = fd;
		gz[n] = is_gz;
		n++;
	}
	for (unsigned i = 0; i < n; i++) {
		struct lr_file *f = &r->old[i];

		f->fd = fds[n - 1 - i];
		f->skip = 0;
		f->gz = NULL;
		if (gz[n - 1 - i]) {
			f->gz = gzdopen(f->fd, "rb");
			if (f->gz == NULL) {
				close(f->fd);
				f->fd = -1;
			}
		}
	}
	r->n_old = n;
	r->next_old = 0;
}

/*
 * Under the lock: open the current file, and before it the rotated files
 * that came after the point reached.  'drained': the current file of the
 * last opening was read to its end, and is now "<log>.k" after k more
 * rotations, so ".k-1" ... ".1" follow it.  Otherwise there was no current
 * file then; the one created since is ".k" by now, and new too.
 */
static void reopen(struct logreader *r, bool drained)
{
	uint64_t now = rotate_lock_opening(r->lock);
	uint64_t k = now - r->rotations;
	unsigned below;

	if (k > LOGREADER_MAX_ROTATED)
		k = LOGREADER_MAX_ROTATED;
	below = (unsigned)k + (drained ? 0 : 1);
	open_rotated(r, below);
	r->fd = open(r->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	r->off = 0;
	r->rotations = now;
	rotate_unlock_opened(r->lock);
	r->starting = true;
}

int logreader_open(const struct logreader_params *p, struct logreader **out)
{
	struct logreader *r = calloc(1, sizeof(*r));
	struct stat st;

	if (r == NULL)
		return -ENOMEM;
	r->fd = -1;
	rotate_lock_init(&r->own_lock);
	r->lock = p->lock != NULL ? p->lock : &r->own_lock;
	r->tail = p->tail;
	r->since_ns = p->since_ns;
	r->until_ns = p->until_ns;
	r->follow = p->follow;
	r->starting = true;
	r->path = strdup(p->path);
	r->buf = malloc(READ_BYTES);
	if (r->path == NULL || r->buf == NULL) {
		logreader_free(r);
		return -ENOMEM;
	}
	/* Where Tail starts, and without follow where the read ends, are
	 * decided against the files as they are now, taken together. */
	r->rotations = rotate_lock_opening(r->lock);
	open_rotated(r, LOGREADER_MAX_ROTATED + 1);
	r->fd = open(r->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (r->fd != -1 && fstat(r->fd, &st) == 0)
		r->end = st.st_size;
	rotate_unlock_opened(r->lock);
	/* A log that does not exist yet holds nothing old: all that comes is
	 * new. */
	if (r->fd == -1 && r->n_old == 0)
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
	for (unsigned i = 0; i < r->n_old; i++)
		close_file(&r->old[i]);
	free(r->path);
	free(r->buf);
	free(r->line);
	free(r->scratch);
	rotate_lock_destroy(&r->own_lock);
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
static int tail_offset(int fd, off_t end, int64_t tail, off_t *out,
		       int64_t *found)
{
	char buf[READ_BYTES];
	int64_t seen = 0;
	off_t pos = end;

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
				*found = seen;
				return 0;
			}
		}
	}
	/* Every line of the file, the first one included. */
	*found = end > 0 ? seen + 1 : 0;
	return 0;
}

/* Lines in a rotated file (it is read once more afterwards). */
static int64_t count_lines_in(struct lr_file *f, char *buf)
{
	int64_t lines = 0;

	for (;;) {
		ssize_t n = f->gz != NULL ? gzread(f->gz, buf, READ_BYTES)
					  : read(f->fd, buf, READ_BYTES);

		if (n <= 0)
			break;
		for (const char *p = buf;
		     (p = memchr(p, '\n', (size_t)(buf + n - p))); p++)
			lines++;
	}
	if (f->gz != NULL)
		gzrewind(f->gz);
	else
		lseek(f->fd, 0, SEEK_SET);
	return lines;
}

static void skip_all_old(struct logreader *r)
{
	r->next_old = r->n_old;
}

/*
 * Find where the last 'tail' entries start: in the current file by reading
 * backwards from its end; when it holds fewer, in the rotated files before
 * it, newest first, counting their lines.
 */
static int position(struct logreader *r)
{
	off_t start = 0;
	int64_t want = r->tail;
	off_t end = r->end;
	struct stat st;
	int rc;

	r->positioned = true;
	if (r->tail < 0)
		return 0; /* everything, from the oldest rotated file */
	if (r->fd != -1 && r->follow) {
		/* A follower goes on from the end as it is now. */
		if (fstat(r->fd, &st) == -1)
			return -errno;
		end = st.st_size;
	}
	if (r->tail == 0) {
		skip_all_old(r);
		if (r->fd != -1 && lseek(r->fd, end, SEEK_SET) == -1)
			return -errno;
		r->off = end;
		return 0;
	}
	if (r->fd != -1) {
		int64_t found = 0;

		rc = tail_offset(r->fd, end, want, &start, &found);
		if (rc != 0)
			return rc;
		if (lseek(r->fd, start, SEEK_SET) == -1)
			return -errno;
		r->off = start;
		if (found >= want) {
			skip_all_old(r);
			return 0;
		}
		want -= found;
	}
	for (unsigned i = r->n_old; i-- > 0;) {
		int64_t lines = count_lines_in(&r->old[i], r->buf);

		if (lines >= want) {
			r->old[i].skip = (uint64_t)(lines - want);
			r->next_old = i;
			return 0;
		}
		want -= lines;
	}
	r->next_old = 0;
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
	if (jsonline_decode(text, len, r->scratch, r->scratch_cap, &rec) != 0) {
		r->bad_lines++;
		return 0;
	}
	if (r->until_ns != 0 && rec.time_nano > r->until_ns) {
		r->until_met = true;
		return 1;
	}
	/* As dockerd 24+: entries before Since are skipped until the first
	 * that is not, then filtering stops (clocks are not monotonic). */
	if (r->since_ns != 0) {
		if (rec.time_nano < r->since_ns)
			return 0;
		r->since_ns = 0;
	}
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
static int parse_buffer(struct logreader *r, logreader_entry_cb *cb, void *arg)
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
		} else if (nl != NULL && r->skip_lines > 0) {
			r->skip_lines--; /* before Tail's start */
			r->line_len = 0;
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

/*
 * Read the next slice: from the rotated files in order, then the current
 * file.  Returns bytes read (into r->buf), 0 at the end of everything, or
 * -errno.
 */
static ssize_t read_some(struct logreader *r)
{
	ssize_t n;

	while (r->next_old < r->n_old) {
		struct lr_file *f = &r->old[r->next_old];

		if (r->starting) {
			r->skip_lines = f->skip;
			r->starting = false;
		}
		n = f->gz != NULL ? gzread(f->gz, r->buf, READ_BYTES)
				  : read(f->fd, r->buf, READ_BYTES);
		if (n == -1 && errno == EINTR)
			continue;
		if (n > 0)
			return n;
		/* This file is done (a read error loses only its rest). */
		close_file(f);
		r->next_old++;
		r->starting = true;
		r->line_len = 0;
		r->skipping = false;
		r->skip_lines = 0;
	}
	if (r->fd == -1) {
		if (!r->follow)
			return 0; /* there was no current file at the start */
		reopen(r, false);
		if (r->next_old < r->n_old)
			return read_some(r);
		if (r->fd == -1)
			return 0;
	}
	for (;;) {
		/* Read before the file: once the count has moved on from the
		 * one this file belongs to, the writer will not write to it
		 * again, and a read that meets its end has drained it. */
		uint64_t seen =
			r->follow ? rotate_count(r->lock) : r->rotations;
		size_t want = READ_BYTES;

		if (!r->follow) {
			if (r->off >= r->end)
				return 0;
			if (r->end - r->off < (off_t)want)
				want = (size_t)(r->end - r->off);
		}
		n = read(r->fd, r->buf, want);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -errno;
		if (n > 0) {
			r->off += n;
			return n;
		}
		if (seen == r->rotations)
			return 0;
		/* Rotated away and drained: go on with the files rotated
		 * after it, then the new current one. */
		close(r->fd);
		r->fd = -1;
		r->line_len = 0; /* a torn last line is not glued to the next */
		r->skipping = false;
		reopen(r, true);
		return read_some(r);
	}
}

int logreader_read(struct logreader *r, logreader_entry_cb *cb, void *arg)
{
	int rc;

	if (r->until_met)
		return LOGREADER_UNTIL;
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
		n = read_some(r);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return LOGREADER_AT_END;
		r->buf_off = 0;
		r->buf_len = (size_t)n;
	}
}
