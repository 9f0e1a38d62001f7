/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP side of the plugin API: libevent's evhttp on a unix socket.  It
 * binds safely (length-checked path, a stale socket from a crashed run
 * replaced, never a non-socket file; mode 0600 since only dockerd, as root,
 * talks to it), bounds headers and bodies, and has the reply helpers every
 * handler uses.  It knows nothing about logging.
 *
 * Connections are bounded in time and in number.  One that sends nothing for
 * the idle timeout is closed.  And once SERVER_MAX_IDLE_CONNS connections
 * are open that are not serving a reply (silent, half-sent, or idle
 * between requests), a new one closes the oldest of them: a flood of stuck
 * clients can neither run the plugin out of descriptors nor shut dockerd
 * out, since dockerd's own connection is always the newest.  A handler that
 * streams a long reply marks its connection busy, which exempts it.
 */
#ifndef PLUGIN_SERVER_H
#define PLUGIN_SERVER_H

#include <stddef.h>

#include <stdbool.h>

/* Far more than dockerd holds open (one per call in flight). */
#define SERVER_MAX_IDLE_CONNS 128

struct event_base;
struct evhttp_connection;
struct evhttp_request;
struct server;

typedef void server_request_cb(struct evhttp_request *req, void *arg);

/*
 * Listen on the unix socket 'path' and call 'cb' for every request.  A
 * connection that sends nothing for 'idle_timeout_sec' is closed (a slow
 * or stuck client holds nothing for long; a handler that streams a reply
 * may lift it for its connection).  Stores the server in *out and returns 0,
 * or returns -errno after printing why.
 */
int server_listen(struct event_base *base, const char *path, size_t max_body,
		  int idle_timeout_sec, server_request_cb *cb, void *arg,
		  struct server **out);

/* Close every connection and the socket. */
void server_free(struct server *srv);

/*
 * Mark the connection of a reply that goes on for long (a ReadLogs
 * stream) busy, so making room for new connections never closes it; and
 * unmark it when the reply ended, if the connection is still there.
 */
void server_conn_busy(struct server *srv, struct evhttp_connection *conn,
		      bool busy);

/* Reply 'code' with the JSON text 'json'. */
void server_reply_json(struct evhttp_request *req, int code, const char *json);

/*
 * Reply 200 {"Err":"<msg>"}: dockerd shows msg to the user (msg "" means
 * success).  The text is JSON-escaped here.
 */
void server_reply_err(struct evhttp_request *req, const char *msg);

/* Reply 'code' with {"Err":"<msg>"}: for ReadLogs, where a 200 must carry
 * frames only. */
void server_reply_status(struct evhttp_request *req, int code, const char *msg);

/*
 * Copy the request body into a NUL-terminated string owned by the caller
 * (free()), storing its length in *len.  Returns NULL on ENOMEM.
 */
char *server_body(struct evhttp_request *req, size_t *len);

#endif
