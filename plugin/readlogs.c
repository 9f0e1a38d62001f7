/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NEEDSWORK: the file is read on the loop thread, in bounded slices paced by
 * the client; a disk that stalls reads would stall the loop.  Moving the
 * reading to a reader thread is part of the ReadLogs issue, together with
 * rotated and compressed files.
 */
#include "plugin/readlogs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "common/diag.h"
#include "plugin/app.h"
#include "plugin/logentry.h"
#include "plugin/request.h"
#include "plugin/server.h"
#include "store/jsonline.h"
#include "store/writer.h"

/* Bytes of frames sent per chunk; the next is read once this one left. */
#define CHUNK_BYTES (256 * 1024)
#define READ_BYTES  (64 * 1024)
/* A json-file line longer than this is skipped as damaged (dockerd's lines
 * are at most 16 KiB of text, about 100 KiB escaped). */
#define LINE_MAX_BYTES (4 * 1024 * 1024)

struct readlogs {
	struct app *app;	       /* borrowed */
	struct evhttp_request *req;    /* owned by evhttp until we end it */
	struct evhttp_connection *conn; /* borrowed from req */
	struct readlogs *next;	       /* app->readers */
	struct sink *sink;	       /* owned reference: write progress */
	char id[65];
	int fd; /* the log file, -1 until it exists */
	bool follow;
	int64_t since_ns;
	int64_t until_ns;
	int64_t tail;
	char *line;   /* owned: an incomplete line carried between reads */
	size_t line_len;
	size_t line_cap;
	char *scratch; /* owned: unescaped text of one line */
	size_t scratch_cap;
	bool in_flight; /* a chunk is on its way to the client */
	bool skipping;	/* dropping a line longer than LINE_MAX_BYTES */
	bool ending;	/* Until passed or an error: end after this chunk */
	uint64_t bad_lines;
};

static void unlink_reader(struct app *a, struct readlogs *r)
{
	struct readlogs **pp;

	for (pp = &a->readers; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			return;
		}
	}
}

static void reader_free(struct readlogs *r)
{
	if (r == NULL)
		return;
	if (r->fd != -1)
		close(r->fd);
	sink_release(r->sink);
	free(r->line);
	free(r->scratch);
	free(r);
}

/* Finish the reply (if the client is still there) and free the reader. */
static void reader_end(struct readlogs *r)
{
	if (r->bad_lines > 0)
		diag(DIAG_WARN,
		     "container %.12s: ReadLogs skipped %llu damaged lines",
		     r->id, (unsigned long long)r->bad_lines);
	unlink_reader(r->app, r);
	if (r->req != NULL) {
		evhttp_connection_set_closecb(r->conn, NULL, NULL);
		evhttp_send_reply_end(r->req);
	}
	reader_free(r);
}

static void on_conn_close(struct evhttp_connection *conn, void *arg)
{
	struct readlogs *r = arg;

	(void)conn;
	/* evhttp frees the request itself after this. */
	r->req = NULL;
	unlink_reader(r->app, r);
	reader_free(r);
}

static int open_log(struct readlogs *r)
{
	if (r->fd != -1)
		return 0;
	r->fd = open(sink_path(r->sink), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (r->fd == -1)
		return -errno;
	return 0;
}

/*
 * Where reading starts so that only the last 'tail' lines are sent: found by
 * reading backwards from the end, never by scanning the whole file.
 */
static off_t tail_offset(int fd, int64_t tail)
{
	char buf[READ_BYTES];
	struct stat st;
	off_t end;
	off_t pos;
	int64_t seen = 0;

	if (fstat(fd, &st) == -1)
		return 0;
	end = st.st_size;
	pos = end;
	while (pos > 0) {
		size_t n = pos > (off_t)sizeof(buf) ? sizeof(buf)
						     : (size_t)pos;
		ssize_t k = pread(fd, buf, n, pos - (off_t)n);

		if (k != (ssize_t)n)
			return 0;
		pos -= (off_t)n;
		for (size_t i = n; i-- > 0;) {
			/* The newline that ends the file ends the last line,
			 * it does not start one. */
			if (buf[i] != '\n' || pos + (off_t)i == end - 1)
				continue;
			if (++seen == tail)
				return pos + (off_t)i + 1;
		}
	}
	return 0;
}

static int ensure(char **p, size_t *cap, size_t want)
{
	char *q;
	size_t c = *cap < 4096 ? 4096 : *cap;

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

/* Returns 1 when the Until time was passed (stop), else 0 or -ENOMEM. */
static int emit_line(struct readlogs *r, const char *text, size_t len,
		     struct evbuffer *out)
{
	struct jsonline_record rec;
	struct log_entry e;
	struct evbuffer_iovec v;
	size_t n;

	if (ensure(&r->scratch, &r->scratch_cap, len + 1) != 0)
		return -ENOMEM;
	if (jsonline_decode(text, len, r->scratch, r->scratch_cap, &rec) !=
	    0) {
		r->bad_lines++;
		return 0;
	}
	if (r->until_ns != 0 && rec.time_nano > r->until_ns)
		return 1;
	if (r->since_ns != 0 && rec.time_nano < r->since_ns)
		return 0;
	memset(&e, 0, sizeof(e));
	e.source = rec.stream;
	e.source_len = rec.stream_len;
	e.time_nano = rec.time_nano;
	/* The stored text already ends in a newline where a line ended;
	 * dockerd adds none, so this reproduces the original bytes. */
	e.line = (const uint8_t *)rec.log;
	e.line_len = rec.log_len;
	n = logentry_frame_size(&e);
	if (evbuffer_reserve_space(out, (ev_ssize_t)n, &v, 1) != 1)
		return -ENOMEM;
	v.iov_len = logentry_encode_frame(v.iov_base, &e);
	evbuffer_commit_space(out, &v, 1);
	return 0;
}

/*
 * Split what was read into lines and emit them.  Returns 1 when Until was
 * passed, 0, or -ENOMEM.
 */
static int take_bytes(struct readlogs *r, const char *p, size_t n,
		      struct evbuffer *out)
{
	const char *end = p + n;
	int rc;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t k = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

		if (r->skipping) {
			if (nl != NULL)
				r->skipping = false;
		} else if (r->line_len + k > LINE_MAX_BYTES) {
			r->bad_lines++;
			r->line_len = 0;
			r->skipping = nl == NULL;
		} else if (nl != NULL && r->line_len == 0) {
			rc = emit_line(r, p, k, out); /* the common case */
			if (rc != 0)
				return rc;
		} else {
			if (ensure(&r->line, &r->line_cap, r->line_len + k) !=
			    0)
				return -ENOMEM;
			memcpy(r->line + r->line_len, p, k);
			r->line_len += k;
			if (nl != NULL) {
				rc = emit_line(r, r->line, r->line_len, out);
				r->line_len = 0;
				if (rc != 0)
					return rc;
			}
		}
		p += k + (nl != NULL ? 1 : 0);
	}
	return 0;
}

static void pump(struct readlogs *r);

static void on_chunk_sent(struct evhttp_connection *conn, void *arg)
{
	struct readlogs *r = arg;

	(void)conn;
	r->in_flight = false;
	pump(r);
}

/* Read the next slice of the log and send it, or end the reply. */
static void pump(struct readlogs *r)
{
	char buf[READ_BYTES];
	struct evbuffer *out;
	bool writer_done;
	bool at_eof = false;
	int rc = 0;

	if (r->in_flight || r->req == NULL)
		return;
	if (r->ending) {
		reader_end(r);
		return;
	}
	/* Decided before reading: if every stream had ended and everything
	 * was written by now, reading to EOF below sees the last line. */
	writer_done = !app_container_is_logging(r->app, r->id) &&
		      sink_is_idle(r->sink);
	out = evbuffer_new();
	if (out == NULL) {
		reader_end(r);
		return;
	}
	if (open_log(r) != 0)
		at_eof = true; /* nothing written yet */
	while (!at_eof && evbuffer_get_length(out) < CHUNK_BYTES) {
		ssize_t n = read(r->fd, buf, sizeof(buf));

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			at_eof = true;
			break;
		}
		rc = take_bytes(r, buf, (size_t)n, out);
		if (rc != 0)
			break;
	}
	/* Until passed, or out of memory: what was gathered is the last. */
	if (rc != 0)
		r->ending = true;
	if (evbuffer_get_length(out) > 0) {
		r->in_flight = true;
		evhttp_send_reply_chunk_with_cb(r->req, out, on_chunk_sent, r);
		evbuffer_free(out);
		return;
	}
	evbuffer_free(out);
	if (r->ending || (at_eof && (!r->follow || writer_done)))
		reader_end(r);
	/* Otherwise a follower waits for readlogs_poke_all(). */
}

void readlogs_start(struct app *a, struct evhttp_request *req,
		    struct read_request *rr)
{
	struct readlogs *r;
	int rc;

	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		request_read_release(rr);
		server_reply_status(req, HTTP_INTERNAL,
				    "ReadLogs: out of memory");
		return;
	}
	r->app = a;
	r->fd = -1;
	memcpy(r->id, rr->info.container_id, sizeof(r->id));
	r->follow = rr->follow;
	r->since_ns = rr->since_ns;
	r->until_ns = rr->until_ns;
	r->tail = rr->tail;
	request_read_release(rr);
	rc = writer_sink_get(a->writer, r->id, &r->sink);
	if (rc != 0) {
		free(r);
		server_reply_status(req, HTTP_INTERNAL,
				    "ReadLogs: out of memory");
		return;
	}
	if (open_log(r) == 0 && r->tail >= 0) {
		off_t start = r->tail == 0 ? lseek(r->fd, 0, SEEK_END)
					   : tail_offset(r->fd, r->tail);

		if (start < 0 || lseek(r->fd, start, SEEK_SET) == -1)
			diag(DIAG_WARN, "container %.12s: ReadLogs seek: %s",
			     r->id, strerror(errno));
	}
	r->req = req;
	r->conn = evhttp_request_get_connection(req);
	evhttp_connection_set_closecb(r->conn, on_conn_close, r);
	r->next = a->readers;
	a->readers = r;
	evhttp_send_reply_start(req, 200, "OK");
	pump(r);
}

void readlogs_poke_all(struct app *a)
{
	struct readlogs *r = a->readers;

	while (r != NULL) {
		/* pump() may free r. */
		struct readlogs *next = r->next;

		if (r->follow)
			pump(r);
		r = next;
	}
}

void readlogs_stream_ended(struct app *a, const char *container_id)
{
	struct readlogs *r = a->readers;

	while (r != NULL) {
		struct readlogs *next = r->next;

		if (strcmp(r->id, container_id) == 0)
			pump(r);
		r = next;
	}
}

void readlogs_close_all(struct app *a)
{
	while (a->readers != NULL)
		reader_end(a->readers);
}
