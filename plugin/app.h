/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The running plugin: one event loop that serves the API socket and reads
 * every FIFO, the writer thread behind it, and the table of live streams and
 * ReadLogs readers.  main.c builds one app; handlers.c and readlogs.c work on
 * it from the loop thread.  Nothing here blocks on a disk.
 */
#ifndef PLUGIN_APP_H
#define PLUGIN_APP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "plugin/stream.h"

struct event;
struct node_budget;
struct node_config;
struct event_base;
struct server;
struct readlogs;
struct writer;

struct app_config {
	const char *socket_path; /* where the API listens */
	const char *log_root;	 /* "<root>/<id>/<id>-json.log" */
	const char *state_dir;	 /* persisted stream state */
	const char *fifo_dir;	 /* FIFOs must be directly under it */
	size_t queue_max;	 /* pending bytes per container */
	int idle_timeout_sec;	 /* API connections silent this long close */
	const struct node_config *node; /* plugin-level settings (borrowed) */
};

/* A live stream in the app's table. */
struct app_stream {
	struct stream *stream; /* owned */
	struct app_stream *next;
};

struct app {
	struct app_config cfg;		 /* strings borrowed from main() */
	struct event_base *base;	 /* owned */
	struct server *server;		 /* owned */
	struct writer *writer;		 /* owned */
	struct node_budget *node_budget; /* owned, NULL: no node rate limit */
	struct event *notify_ev;	 /* owned: the writer thread wakes us */
	struct event *sigterm_ev;	 /* owned */
	struct event *sigint_ev;	 /* owned */
	struct app_stream *streams;	 /* owned list */
	struct readlogs *readers;	 /* owned list, see readlogs.h */
	int n_readers; /* ReadLogs replies in progress (readlogs.c) */
	struct stream_readbuf rbuf; /* owned data: shared by all streams */
	bool stopping;		    /* a signal asked us to exit */
	/* Written by the loop, read by the writer thread: see app.c. */
	atomic_bool want_notify;
};

/* Build the app: event loop, writer, API socket.  Returns 0 or -errno and
 * prints what failed. */
int app_new(const struct app_config *cfg, struct app **out);

/* Run until SIGTERM or SIGINT, then drain and write out what was read.
 * Returns 0 or -errno. */
int app_run(struct app *a);

/* Free everything; accepts NULL. */
void app_free(struct app *a);

/* The live stream reading FIFO 'path', or NULL. */
struct stream *app_find_stream(struct app *a, const char *path);

/* True while any stream of 'container_id' has not reached EOF. */
bool app_container_is_logging(struct app *a, const char *container_id);

/* Add an opened stream to the table (takes ownership). */
void app_add_stream(struct app *a, struct stream *s);

/*
 * Persist that the stream of FIFO 'file' belongs to the container of 'info'
 * (borrowed), so a restarted plugin re-attaches to it; the record is written
 * by the writer thread.  Failures are reported, not returned: logging goes
 * on without re-attach.
 */
void app_remember_stream(struct app *a, const char *file, json_t *info);

/* The end callback every stream of the app is opened with. */
void app_stream_ended(void *arg, struct stream *s);

#endif
