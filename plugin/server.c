/* SPDX-License-Identifier: Apache-2.0 */
#include "plugin/server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <jansson.h>

#include "common/diag.h"

#define CONTENT_TYPE "application/vnd.docker.plugins.v1.2+json"

/*
 * One accepted connection.  evhttp owns it and tells nobody when it frees
 * it, so a connection is known by its descriptor and the socket's inode: a
 * descriptor that no longer names that inode was closed, and the entry is
 * stale.  evhttp sets the descriptor only after the bufferevent is made, so
 * a new entry holds a reference on its bufferevent until the loop comes
 * round and reads it (learn_all()).
 */
struct conn {
	struct bufferevent *bev; /* a reference, until fd is known */
	int fd;
	ino_t ino;
	bool busy;
};

struct server {
	struct evhttp *http;	/* owned */
	struct event *learn_ev; /* owned */
	struct conn *conns;	/* owned, oldest first */
	size_t n_conns;
	size_t cap_conns;
	unsigned long evicted;
	struct diag_limit evict_report;
};

static int bind_unix(const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd = -1;
	int rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		diag(DIAG_ERROR, "socket path %s is longer than %zu bytes",
		     path, sizeof(sun.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	/* A socket left by a crashed run is ours to replace; anything else at
	 * that path is not. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			diag(DIAG_ERROR, "%s exists and is not a socket", path);
			return -EEXIST;
		}
		if (unlink(path) == -1) {
			rc = -errno;
			diag(DIAG_ERROR, "cannot remove stale socket %s: %s",
			     path, strerror(errno));
			return rc;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(path, 0600) == -1 || listen(fd, 128) == -1) {
		rc = -errno;
		diag(DIAG_ERROR, "cannot listen on %s: %s", path,
		     strerror(errno));
		close(fd);
		return rc;
	}
	return fd;
}

/* Call after learn_all(): every entry has its descriptor. */
static bool conn_alive(const struct conn *c)
{
	struct stat st;

	return fstat(c->fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
	       st.st_ino == c->ino;
}

/* Give back the reference taken on a new connection, once its descriptor
 * is known; an entry whose descriptor cannot be read is dropped. */
static void learn_all(struct server *srv)
{
	size_t k = 0;

	for (size_t i = 0; i < srv->n_conns; i++) {
		struct conn *c = &srv->conns[i];

		if (c->bev != NULL) {
			struct stat st;

			c->fd = bufferevent_getfd(c->bev);
			bufferevent_decref(c->bev);
			c->bev = NULL;
			if (c->fd < 0 || fstat(c->fd, &st) == -1)
				continue;
			c->ino = st.st_ino;
		}
		srv->conns[k++] = *c;
	}
	srv->n_conns = k;
}

static void on_learn(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	learn_all(arg);
}

/* Forget closed connections; then, while too many are idle, close the
 * oldest idle ones. */
static void make_room(struct server *srv)
{
	unsigned long evicted_before = srv->evicted;
	size_t idle = 0;
	size_t k = 0;

	learn_all(srv);
	for (size_t i = 0; i < srv->n_conns; i++) {
		if (!conn_alive(&srv->conns[i]))
			continue;
		idle += !srv->conns[i].busy;
		srv->conns[k++] = srv->conns[i];
	}
	srv->n_conns = k;
	k = 0;
	for (size_t i = 0; i < srv->n_conns; i++) {
		struct conn *c = &srv->conns[i];

		if (c->busy || idle < SERVER_MAX_IDLE_CONNS) {
			srv->conns[k++] = *c;
			continue;
		}
		/* evhttp reads the end of the stream as the client hanging
		 * up, and frees the connection (and closes the descriptor)
		 * as it always does then. */
		shutdown(c->fd, SHUT_RDWR);
		srv->evicted++;
		idle--;
	}
	srv->n_conns = k;
	if (srv->evicted != evicted_before &&
	    diag_limit_allow(&srv->evict_report, diag_now_mono(),
			     60LL * 1000000000))
		diag(DIAG_WARN,
		     "more than %d API connections idle at once: closed the "
		     "oldest (%lu so far); something is holding connections "
		     "to the plugin socket",
		     SERVER_MAX_IDLE_CONNS, srv->evicted);
}

/* evhttp asks for the bufferevent of each connection it accepts. */
static struct bufferevent *on_new_conn(struct event_base *base, void *arg)
{
	struct server *srv = arg;
	struct bufferevent *bev;
	struct conn *c;

	make_room(srv);
	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		return NULL;
	if (srv->n_conns == srv->cap_conns) {
		size_t cap = srv->cap_conns < 64 ? 64 : srv->cap_conns * 2;
		struct conn *p = realloc(srv->conns, cap * sizeof(*p));

		if (p == NULL)
			return bev; /* served, just not counted */
		srv->conns = p;
		srv->cap_conns = cap;
	}
	c = &srv->conns[srv->n_conns++];
	c->bev = bev;
	c->fd = -1;
	c->ino = 0;
	c->busy = false;
	bufferevent_incref(bev);
	event_active(srv->learn_ev, EV_READ, 0);
	return bev;
}

void server_conn_busy(struct server *srv, struct evhttp_connection *conn,
		      bool busy)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
	int fd = bev != NULL ? bufferevent_getfd(bev) : -1;

	learn_all(srv);
	/* The newest entry with this descriptor that is still open. */
	for (size_t i = srv->n_conns; i-- > 0;) {
		struct conn *c = &srv->conns[i];

		if (c->fd == fd && conn_alive(c)) {
			c->busy = busy;
			return;
		}
	}
}

void server_free(struct server *srv)
{
	if (srv == NULL)
		return;
	learn_all(srv); /* gives back the references */
	if (srv->http != NULL)
		evhttp_free(srv->http);
	if (srv->learn_ev != NULL)
		event_free(srv->learn_ev);
	free(srv->conns);
	free(srv);
}

int server_listen(struct event_base *base, const char *path, size_t max_body,
		  int idle_timeout_sec, server_request_cb *cb, void *arg,
		  struct server **out)
{
	struct evconnlistener *lev;
	struct server *srv;
	struct evhttp *http;
	int fd;

	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return -ENOMEM;
	srv->learn_ev = event_new(base, -1, 0, on_learn, srv);
	if (srv->learn_ev == NULL) {
		free(srv);
		return -ENOMEM;
	}
	fd = bind_unix(path);
	if (fd < 0) {
		server_free(srv);
		return fd;
	}
	http = evhttp_new(base);
	if (http == NULL) {
		close(fd);
		server_free(srv);
		return -ENOMEM;
	}
	srv->http = http;
	lev = evconnlistener_new(base, NULL, NULL,
				 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
				 -1, fd);
	if (lev == NULL) {
		close(fd);
		server_free(srv);
		return -ENOMEM;
	}
	if (evhttp_bind_listener(http, lev) == NULL) {
		evconnlistener_free(lev);
		server_free(srv);
		return -ENOMEM;
	}
	evhttp_set_bevcb(http, on_new_conn, srv);
	evhttp_set_max_body_size(http, (ev_ssize_t)max_body);
	evhttp_set_max_headers_size(http, 64 * 1024);
	evhttp_set_timeout(http, idle_timeout_sec);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_POST | EVHTTP_REQ_GET);
	evhttp_set_default_content_type(http, CONTENT_TYPE);
	evhttp_set_gencb(http, cb, arg);
	*out = srv;
	return 0;
}

void server_reply_json(struct evhttp_request *req, int code, const char *json)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evbuffer_add(b, json, strlen(json));
	evbuffer_add(b, "\n", 1);
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", b);
	evbuffer_free(b);
}

void server_reply_status(struct evhttp_request *req, int code, const char *msg)
{
	json_t *o = json_pack("{s:s}", "Err", msg);
	char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	if (text == NULL)
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
	else
		server_reply_json(req, code, text);
	free(text);
	json_decref(o);
}

void server_reply_err(struct evhttp_request *req, const char *msg)
{
	server_reply_status(req, 200, msg);
}

char *server_body(struct evhttp_request *req, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	char *p = malloc(n + 1);

	if (p == NULL)
		return NULL;
	evbuffer_copyout(in, p, n);
	p[n] = '\0';
	*len = n;
	return p;
}
