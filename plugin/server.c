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
#include <event2/http.h>
#include <event2/listener.h>
#include <jansson.h>

#include "common/diag.h"

#define CONTENT_TYPE "application/vnd.docker.plugins.v1.2+json"

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

int server_listen(struct event_base *base, const char *path, size_t max_body,
		  int idle_timeout_sec, server_request_cb *cb, void *arg,
		  struct evhttp **out)
{
	struct evconnlistener *lev;
	struct evhttp *http;
	int fd;

	fd = bind_unix(path);
	if (fd < 0)
		return fd;
	http = evhttp_new(base);
	if (http == NULL) {
		close(fd);
		return -ENOMEM;
	}
	lev = evconnlistener_new(base, NULL, NULL,
				 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
				 -1, fd);
	if (lev == NULL) {
		close(fd);
		evhttp_free(http);
		return -ENOMEM;
	}
	if (evhttp_bind_listener(http, lev) == NULL) {
		evconnlistener_free(lev);
		evhttp_free(http);
		return -ENOMEM;
	}
	evhttp_set_max_body_size(http, (ev_ssize_t)max_body);
	evhttp_set_max_headers_size(http, 64 * 1024);
	evhttp_set_timeout(http, idle_timeout_sec);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_POST | EVHTTP_REQ_GET);
	evhttp_set_default_content_type(http, CONTENT_TYPE);
	evhttp_set_gencb(http, cb, arg);
	*out = http;
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
