/* SPDX-License-Identifier: Apache-2.0 */
#include "plugin/handlers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "common/diag.h"
#include "config/config.h"
#include "plugin/app.h"
#include "plugin/attrs.h"
#include "plugin/readlogs.h"
#include "plugin/request.h"
#include "plugin/server.h"
#include "plugin/stream.h"
#include "ratelimit/limiter.h"
#include "store/writer.h"

static void handle_activate(struct app *a, struct evhttp_request *req)
{
	(void)a;
	server_reply_json(req, 200, "{\"Implements\":[\"LogDriver\"]}");
}

static void handle_capabilities(struct app *a, struct evhttp_request *req)
{
	(void)a;
	/* Never an "Err" here: dockerd 28.0.2+ then ignores "Cap". */
	server_reply_json(req, 200, "{\"Cap\":{\"ReadLogs\":true}}");
}

/*
 * The container's log-opts over the plugin-level defaults, checked.  On
 * failure writes the user's message into 'err' and returns -EINVAL.
 */
static int parse_log_opts(struct app *a, json_t *opts, struct log_config *lc,
			  char *err, size_t err_len)
{
	struct config_kv *kv = NULL;
	const char *key;
	json_t *value;
	size_t n = 0;
	int rc;

	if (opts != NULL && json_object_size(opts) > 0) {
		kv = calloc(json_object_size(opts), sizeof(*kv));
		if (kv == NULL) {
			snprintf(err, err_len, "StartLogging: out of memory");
			return -ENOMEM;
		}
		/* request.c checked that every value is a string. */
		json_object_foreach(opts, key, value)
		{
			kv[n].key = key;
			kv[n].value = json_string_value(value);
			n++;
		}
	}
	rc = config_parse(a->cfg.node, kv, n, lc, err, err_len);
	free(kv);
	return rc;
}

static void to_limiter_config(const struct log_config *lc,
			      struct limiter_config *out)
{
	memset(out, 0, sizeof(*out));
	out->rate_bytes = lc->rate_limit_bytes;
	out->burst_bytes = lc->rate_burst_bytes;
	out->rate_lines = lc->rate_limit_lines;
	out->burst_lines = lc->rate_burst_lines;
	/* Charge the newline dockerd took off: the bytes the container
	 * wrote are what the limit is about. */
	out->entry_overhead = 1;
	out->policy = lc->rate_policy == CONFIG_RATE_BLOCK
			      ? LIMITER_POLICY_BLOCK
			      : LIMITER_POLICY_DROP;
	out->notice = lc->rate_notice;
}

/*
 * Check the log-opts of a parsed StartLogging (or a re-attached record) and
 * start reading its FIFO.  'resync': the FIFO was read by an earlier run,
 * so the first bytes may be the middle of a frame.  Returns 0, or -errno
 * with a sentence for the user in 'err'.
 */
static int start_stream(struct app *a, const struct start_request *sr,
			bool resync, char *err, size_t err_len)
{
	struct log_config lc;
	struct limiter_config lim;
	struct sink_rotation rot;
	struct stream_params p;
	struct stream *s = NULL;
	struct sink *sink = NULL;
	char *attrs = NULL;
	size_t attrs_len = 0;
	int rc;

	rc = parse_log_opts(a, sr->info.config, &lc, err, err_len);
	if (rc != 0)
		return rc;
	to_limiter_config(&lc, &lim);
	rc = attrs_render(&lc, sr->info.info, &attrs, &attrs_len, err, err_len);
	if (rc != 0) {
		if (err[0] == '\0')
			snprintf(err, err_len, "StartLogging: out of memory");
		goto out;
	}
	if (app_find_stream(a, sr->file) != NULL) {
		snprintf(err, err_len,
			 "StartLogging: File %s is already being read",
			 sr->file);
		rc = -EEXIST;
		goto out;
	}
	rc = writer_sink_get(a->writer, sr->info.container_id, &sink);
	if (rc != 0) {
		snprintf(err, err_len, "StartLogging: out of memory");
		goto out;
	}
	rot.max_size = lc.max_size_bytes;
	rot.max_files = lc.max_files;
	rot.compress = lc.compress;
	sink_set_rotation(sink, &rot);
	memset(&p, 0, sizeof(p));
	p.path = sr->file;
	p.container_id = sr->info.container_id;
	p.sink = sink; /* transferred to the stream, even on failure */
	p.rbuf = &a->rbuf;
	p.block = lc.rate_policy == CONFIG_RATE_BLOCK;
	p.notices = lc.rate_notice;
	p.resync = resync;
	p.attrs = attrs;
	p.attrs_len = attrs_len;
	if (lim.rate_bytes != 0 || lim.rate_lines != 0 ||
	    a->node_budget != NULL) {
		p.limit = &lim;
		p.node = a->node_budget;
	}
	p.end_cb = app_stream_ended;
	p.end_arg = a;
	rc = stream_open(a->base, &p, &s, err, err_len);
	if (rc != 0)
		goto out;
	app_add_stream(a, s);
	app_remember_stream(a, sr->file, sr->info.info);
	diag(DIAG_INFO, "container %.12s: %s %s", sr->info.container_id,
	     resync ? "re-attached to" : "logging from", sr->file);
out:
	config_release(&lc);
	free(attrs);
	return rc;
}

static void handle_start(struct app *a, struct evhttp_request *req)
{
	struct start_request sr;
	char err[CONFIG_ERR_MAX + REQUEST_PATH_MAX] = "";
	size_t len = 0;
	char *body;
	int rc;

	body = server_body(req, &len);
	if (body == NULL) {
		server_reply_err(req, "StartLogging: out of memory");
		return;
	}
	rc = request_parse_start(body, len, a->cfg.fifo_dir, &sr, err,
				 sizeof(err));
	free(body);
	if (rc == 0) {
		rc = start_stream(a, &sr, false, err, sizeof(err));
		request_start_release(&sr);
	}
	if (rc != 0)
		diag(DIAG_WARN, "%s", err);
	server_reply_err(req, rc == 0 ? "" : err);
}

int handlers_reattach(struct app *a, const char *body, size_t len)
{
	struct start_request sr;
	char err[CONFIG_ERR_MAX + REQUEST_PATH_MAX] = "";
	int rc;

	rc = request_parse_start(body, len, a->cfg.fifo_dir, &sr, err,
				 sizeof(err));
	if (rc == 0) {
		rc = start_stream(a, &sr, true, err, sizeof(err));
		request_start_release(&sr);
	}
	if (rc != 0)
		diag(DIAG_WARN, "re-attach: %s", err);
	return rc;
}

static void handle_stop(struct app *a, struct evhttp_request *req)
{
	struct stop_request sr;
	struct stream *s;
	char err[REQUEST_ERR_MAX] = "";
	size_t len = 0;
	char *body;

	/* Always success: on an error dockerd keeps the FIFO open forever
	 * and the plugin can never be disabled (protocol notes 2.1). */
	body = server_body(req, &len);
	if (body == NULL)
		goto out;
	if (request_parse_stop(body, len, a->cfg.fifo_dir, &sr, err,
			       sizeof(err)) != 0) {
		diag(DIAG_WARN, "%s", err);
		goto out;
	}
	s = app_find_stream(a, sr.file);
	if (s != NULL)
		stream_mark_stopping(s);
	else
		diag(DIAG_DEBUG, "StopLogging for %s, which is not read",
		     sr.file);
out:
	free(body);
	server_reply_err(req, "");
}

static void handle_read(struct app *a, struct evhttp_request *req)
{
	struct read_request rr;
	char err[REQUEST_ERR_MAX] = "";
	size_t len = 0;
	char *body;
	int rc;

	body = server_body(req, &len);
	if (body == NULL) {
		server_reply_status(req, HTTP_INTERNAL,
				    "ReadLogs: out of memory");
		return;
	}
	rc = request_parse_read(body, len, &rr, err, sizeof(err));
	free(body);
	if (rc != 0) {
		server_reply_status(req, HTTP_BADREQUEST, err);
		return;
	}
	readlogs_start(a, req, &rr);
}

struct route {
	const char *path;
	void (*fn)(struct app *a, struct evhttp_request *req);
};

static const struct route routes[] = {
	{"/Plugin.Activate", handle_activate},
	{"/LogDriver.Capabilities", handle_capabilities},
	{"/LogDriver.StartLogging", handle_start},
	{"/LogDriver.StopLogging", handle_stop},
	{"/LogDriver.ReadLogs", handle_read},
};

void handlers_dispatch(struct evhttp_request *req, void *arg)
{
	struct app *a = arg;
	const char *uri = evhttp_request_get_uri(req);
	size_t i;

	if (a->stopping) {
		server_reply_status(req, HTTP_SERVUNAVAIL,
				    "ratelog is shutting down");
		return;
	}
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(uri, routes[i].path) == 0) {
			routes[i].fn(a, req);
			return;
		}
	}
	server_reply_status(req, HTTP_NOTFOUND, "no such endpoint");
}
