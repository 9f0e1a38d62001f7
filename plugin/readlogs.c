/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Each ReadLogs reply has a worker thread that reads the log (store/
 * logreader) and encodes frames; the loop only sends what the worker made.
 * A disk that stalls reads therefore stalls that one reply, never the loop
 * that drains every container's FIFO.
 *
 * Hand-off: the loop asks for a chunk (want), the worker reads up to
 * CHUNK_BYTES of frames, publishes them (ready) and wakes the loop through
 * ready_ev; the loop sends them and asks again once they left.  The state
 * both threads touch lives in struct rl_shared, freed by whichever side lets
 * go last, so neither ever waits for the other.
 */
#include "plugin/readlogs.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "common/diag.h"
#include "plugin/app.h"
#include "plugin/logentry.h"
#include "plugin/request.h"
#include "plugin/server.h"
#include "store/logreader.h"
#include "store/writer.h"

/* Bytes of frames per chunk: the memory a slow client can hold up. */
#define CHUNK_BYTES (256 * 1024)
/* Replies in progress at once; more get a 503. */
#define MAX_READERS 64

/* Between the loop and one worker; guarded by 'lock'. */
struct rl_shared {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int refs;    /* the loop side and the worker */
	bool want;   /* the loop asks for the next chunk */
	bool cancel; /* the loop let go: stop and free */
	bool ready;  /* a result is waiting for the loop */
	char *chunk; /* owned until taken: encoded frames */
	size_t chunk_len;
	int status; /* enum logreader_status, or -errno */
	uint64_t bad_lines;
	struct event *ready_ev; /* owned by the loop; used while !cancel */
	struct logreader_params params;
	char path[512];
	/* Owned reference, let go with the last of the two sides: the loop
	 * asks it whether everything is written, and the rotation lock in
	 * params must outlive the worker's reader. */
	struct sink *sink;
};

struct readlogs {
	struct app *app;		/* borrowed */
	struct evhttp_request *req;	/* evhttp's; NULL once it closed */
	struct evhttp_connection *conn; /* borrowed from req */
	struct readlogs *next;		/* app->readers */
	struct rl_shared *sh;		/* shared with the worker */
	struct event *ready_ev;		/* owned */
	char id[65];
	bool follow;
	bool in_flight;	  /* a chunk is on its way to the client */
	bool asked;	  /* the worker is producing */
	bool waiting;	  /* a follower at the end, waiting for new lines */
	bool ending;	  /* end once the chunk in flight has left */
	bool writer_done; /* when last asked: streams ended, all written */
	bool poked;	  /* news came while the worker was reading */
};

static void shared_put(struct rl_shared *sh)
{
	bool last;

	pthread_mutex_lock(&sh->lock);
	last = --sh->refs == 0;
	pthread_mutex_unlock(&sh->lock);
	if (!last)
		return;
	free(sh->chunk);
	sink_release(sh->sink);
	pthread_cond_destroy(&sh->wake);
	pthread_mutex_destroy(&sh->lock);
	free(sh);
}

struct encode_ctx {
	char *buf;
	size_t len;
	size_t cap;
	bool oom;
};

static int encode_entry(void *arg, const struct log_entry *e)
{
	struct encode_ctx *c = arg;
	size_t n = logentry_frame_size(e);

	if (c->len + n > c->cap) {
		size_t cap = c->cap * 2 > c->len + n ? c->cap * 2 : c->len + n;
		char *p = realloc(c->buf, cap);

		if (p == NULL) {
			c->oom = true;
			return 1;
		}
		c->buf = p;
		c->cap = cap;
	}
	c->len += logentry_encode_frame((uint8_t *)c->buf + c->len, e);
	return c->len >= CHUNK_BYTES ? 1 : 0;
}

static void *worker_main(void *arg)
{
	struct rl_shared *sh = arg;
	struct logreader *lr = NULL;
	int rc;

	rc = logreader_open(&sh->params, &lr);
	pthread_mutex_lock(&sh->lock);
	for (;;) {
		struct encode_ctx c = {NULL, 0, 0, false};
		int status;

		while (!sh->want && !sh->cancel)
			pthread_cond_wait(&sh->wake, &sh->lock);
		if (sh->cancel)
			break;
		sh->want = false;
		pthread_mutex_unlock(&sh->lock);

		if (rc != 0) {
			status = rc;
		} else {
			c.cap = CHUNK_BYTES + 64 * 1024;
			c.buf = malloc(c.cap);
			status = c.buf == NULL
					 ? -ENOMEM
					 : logreader_read(lr, encode_entry, &c);
			if (c.oom)
				status = -ENOMEM;
		}

		pthread_mutex_lock(&sh->lock);
		free(sh->chunk);
		sh->chunk = c.buf;
		sh->chunk_len = c.len;
		sh->status = status;
		sh->bad_lines = lr != NULL ? logreader_bad_lines(lr) : 0;
		sh->ready = true;
		if (!sh->cancel)
			event_active(sh->ready_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&sh->lock);
	logreader_free(lr);
	shared_put(sh);
	return NULL;
}

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

/* Let go of the worker (it exits by itself) and free the loop side. */
static void reader_free(struct readlogs *r)
{
	if (r->sh != NULL) {
		pthread_mutex_lock(&r->sh->lock);
		r->sh->cancel = true;
		pthread_cond_signal(&r->sh->wake);
		pthread_mutex_unlock(&r->sh->lock);
		shared_put(r->sh);
	}
	if (r->ready_ev != NULL)
		event_free(r->ready_ev);
	r->app->n_readers--;
	free(r);
}

/* Finish the reply (if the client is still there) and free the reader. */
static void reader_end(struct readlogs *r)
{
	unlink_reader(r->app, r);
	if (r->req != NULL) {
		evhttp_connection_set_closecb(r->conn, NULL, NULL);
		server_conn_busy(r->app->server, r->conn, false);
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

static void ask(struct readlogs *r)
{
	/* Decided before the worker reads: if every stream had ended and all
	 * was written by now, the read that follows sees the last line. */
	r->writer_done = !app_container_is_logging(r->app, r->id) &&
			 sink_is_idle(r->sh->sink);
	r->asked = true;
	r->waiting = false;
	r->poked = false;
	pthread_mutex_lock(&r->sh->lock);
	r->sh->want = true;
	pthread_cond_signal(&r->sh->wake);
	pthread_mutex_unlock(&r->sh->lock);
}

static void on_chunk_sent(struct evhttp_connection *conn, void *arg)
{
	struct readlogs *r = arg;

	(void)conn;
	r->in_flight = false;
	if (r->ending)
		reader_end(r);
	else
		ask(r);
}

static void free_chunk(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)data);
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct readlogs *r = arg;
	struct evbuffer *out;
	char *chunk;
	size_t len;
	int status;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&r->sh->lock);
	if (!r->sh->ready) {
		pthread_mutex_unlock(&r->sh->lock);
		return;
	}
	r->sh->ready = false;
	chunk = r->sh->chunk;
	len = r->sh->chunk_len;
	status = r->sh->status;
	r->sh->chunk = NULL;
	pthread_mutex_unlock(&r->sh->lock);
	r->asked = false;

	if (status < 0) {
		diag(DIAG_WARN, "container %.12s: ReadLogs: %s", r->id,
		     strerror(-status));
		r->ending = true;
	} else if (status == LOGREADER_UNTIL) {
		r->ending = true;
	}
	if (len > 0) {
		out = evbuffer_new();
		if (out == NULL ||
		    evbuffer_add_reference(out, chunk, len, free_chunk, NULL) !=
			    0) {
			free(chunk);
			if (out != NULL)
				evbuffer_free(out);
			reader_end(r);
			return;
		}
		r->in_flight = true;
		evhttp_send_reply_chunk_with_cb(r->req, out, on_chunk_sent, r);
		evbuffer_free(out);
		return;
	}
	free(chunk);
	if (r->ending || !r->follow || r->writer_done)
		reader_end(r);
	else if (r->poked)
		ask(r); /* written or ended while the worker read: look again */
	else
		r->waiting = true; /* readlogs_poke_all() asks again */
}

void readlogs_start(struct app *a, struct evhttp_request *req,
		    struct read_request *rr)
{
	struct readlogs *r = NULL;
	struct rl_shared *sh = NULL;
	pthread_t th;
	int rc;

	if (a->n_readers >= MAX_READERS) {
		request_read_release(rr);
		server_reply_status(req, HTTP_SERVUNAVAIL,
				    "ReadLogs: too many log readers at once, "
				    "try again");
		return;
	}
	r = calloc(1, sizeof(*r));
	sh = calloc(1, sizeof(*sh));
	if (r == NULL || sh == NULL)
		goto oom;
	a->n_readers++;
	r->app = a;
	memcpy(r->id, rr->info.container_id, sizeof(r->id));
	r->follow = rr->follow;
	pthread_mutex_init(&sh->lock, NULL);
	pthread_cond_init(&sh->wake, NULL);
	sh->refs = 1;
	sh->params.tail = rr->tail;
	sh->params.since_ns = rr->since_ns;
	sh->params.until_ns = rr->until_ns;
	r->sh = sh;
	sh = NULL;
	request_read_release(rr);

	rc = writer_sink_get(a->writer, r->id, &r->sh->sink);
	if (rc != 0)
		goto oom_reader;
	snprintf(r->sh->path, sizeof(r->sh->path), "%s",
		 sink_path(r->sh->sink));
	r->sh->params.path = r->sh->path;
	r->sh->params.lock = sink_rotate_lock(r->sh->sink);
	r->sh->params.follow = r->follow;
	r->ready_ev = event_new(a->base, -1, 0, on_ready, r);
	if (r->ready_ev == NULL)
		goto oom_reader;
	r->sh->ready_ev = r->ready_ev;
	r->sh->refs = 2; /* the worker's */
	rc = pthread_create(&th, NULL, worker_main, r->sh);
	if (rc != 0) {
		r->sh->refs = 1;
		goto oom_reader;
	}
	pthread_detach(th);

	r->req = req;
	r->conn = evhttp_request_get_connection(req);
	evhttp_connection_set_closecb(r->conn, on_conn_close, r);
	/* The server's idle timeout is for clients that send nothing; a
	 * follower of a quiet container is idle by design and must stay
	 * open, as with json-file.  It ends with the stream, or when dockerd
	 * goes away. */
	if (r->follow)
		bufferevent_set_timeouts(
			evhttp_connection_get_bufferevent(r->conn), NULL, NULL);
	r->next = a->readers;
	a->readers = r;
	evhttp_send_reply_start(req, 200, "OK");
	/* Never closed to make room for new connections while it streams. */
	server_conn_busy(a->server, r->conn, true);
	ask(r);
	return;
oom:
	request_read_release(rr);
	free(r);
	free(sh);
	server_reply_status(req, HTTP_INTERNAL, "ReadLogs: out of memory");
	return;
oom_reader:
	reader_free(r);
	server_reply_status(req, HTTP_INTERNAL,
			    "ReadLogs: cannot start a reader");
}

void readlogs_poke_all(struct app *a)
{
	struct readlogs *r;

	for (r = a->readers; r != NULL; r = r->next) {
		if (r->waiting)
			ask(r);
		else
			r->poked = true;
	}
}

void readlogs_stream_ended(struct app *a, const char *container_id)
{
	struct readlogs *r;

	for (r = a->readers; r != NULL; r = r->next) {
		if (strcmp(r->id, container_id) != 0)
			continue;
		if (r->waiting)
			ask(r);
		else
			r->poked = true;
	}
}

void readlogs_close_all(struct app *a)
{
	while (a->readers != NULL)
		reader_end(a->readers);
}
