/* SPDX-License-Identifier: Apache-2.0 */
#include "plugin/app.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>

#include "common/diag.h"
#include "plugin/handlers.h"
#include "plugin/readlogs.h"
#include "plugin/request.h"
#include "plugin/server.h"
#include "plugin/state.h"
#include "config/config.h"
#include "ratelimit/node.h"
#include "store/writer.h"

/* One read takes up to this much from a FIFO: the pipe's full size. */
#define READ_BUF_SIZE (1024 * 1024)

/*
 * Runs on the writer thread: wake the loop, but only when something on it
 * waits for the writer (see want_notify()).  Otherwise every batch written
 * cost the loop a wake-up: with a line now and then, one of four per line.
 */
static void on_writer_notify(void *arg)
{
	struct app *a = arg;

	if (atomic_load(&a->want_notify))
		event_active(a->notify_ev, EV_READ, 0);
}

/* On the loop, after the writer made progress. */
static void on_notify(evutil_socket_t fd, short what, void *arg)
{
	struct app *a = arg;
	struct app_stream *as;

	(void)fd;
	(void)what;
	/* With a thousand streams, looking at each on every notify was a
	 * tenth of the plugin's time; usually none is waiting. */
	if (a->rbuf.writer_waits > 0)
		for (as = a->streams; as != NULL; as = as->next)
			stream_kick(as->stream);
	readlogs_poke_all(a);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct app *a = arg;

	(void)what;
	diag(DIAG_INFO, "%s: writing out what was read, then exiting",
	     sig == SIGTERM ? "SIGTERM" : "SIGINT");
	a->stopping = true;
	event_base_loopbreak(a->base);
}

struct stream *app_find_stream(struct app *a, const char *path)
{
	struct app_stream *as;

	for (as = a->streams; as != NULL; as = as->next) {
		if (!stream_is_ended(as->stream) &&
		    strcmp(stream_path(as->stream), path) == 0)
			return as->stream;
	}
	return NULL;
}

bool app_container_is_logging(struct app *a, const char *container_id)
{
	struct app_stream *as;

	for (as = a->streams; as != NULL; as = as->next) {
		if (!stream_is_ended(as->stream) &&
		    strcmp(stream_container_id(as->stream), container_id) == 0)
			return true;
	}
	return false;
}

void app_add_stream(struct app *a, struct stream *s)
{
	struct app_stream *as = calloc(1, sizeof(*as));

	if (as == NULL) {
		/* Cannot track it: stop reading rather than leak it. */
		stream_free(s);
		return;
	}
	as->stream = s;
	as->next = a->streams;
	a->streams = as;
}

static void log_stream_end(const struct stream *s)
{
	struct stream_stats st;

	stream_get_stats(s, &st);
	diag(DIAG_INFO,
	     "container %.12s: stream %s ended: %llu lines, %llu dropped "
	     "(writer queue full), %llu malformed frames",
	     stream_container_id(s), stream_path(s),
	     (unsigned long long)st.queued_lines,
	     (unsigned long long)st.dropped_lines,
	     (unsigned long long)st.bad_frames);
}

/* A state record to write, or to remove when 'record' is NULL. */
struct state_job {
	char *dir;    /* owned */
	char *file;   /* owned */
	char *record; /* owned, NULL: remove */
};

static void state_job_run(void *arg)
{
	struct state_job *j = arg;
	int rc;

	rc = j->record != NULL ? state_save(j->dir, j->file, j->record)
			       : state_remove(j->dir, j->file);
	if (rc != 0)
		diag(DIAG_WARN,
		     "state for %s: %s (a plugin restart will not "
		     "re-attach to it)",
		     j->file, strerror(-rc));
	free(j->dir);
	free(j->file);
	free(j->record);
	free(j);
}

static void post_state(struct app *a, const char *file, char *record)
{
	struct state_job *j = calloc(1, sizeof(*j));

	if (j != NULL) {
		j->dir = strdup(a->cfg.state_dir);
		j->file = strdup(file);
		j->record = record;
		record = NULL;
		if (j->dir != NULL && j->file != NULL &&
		    writer_post(a->writer, state_job_run, j) == 0)
			return;
		free(j->dir);
		free(j->file);
		free(j->record);
		free(j);
	}
	free(record);
	diag(DIAG_WARN, "state for %s: out of memory", file);
}

void app_remember_stream(struct app *a, const char *file, json_t *info)
{
	char *record = state_render(file, info);

	if (record == NULL) {
		diag(DIAG_WARN, "state for %s: out of memory", file);
		return;
	}
	post_state(a, file, record);
}

void app_stream_ended(void *arg, struct stream *s)
{
	struct app *a = arg;
	struct app_stream **pp;
	char id[65];

	log_stream_end(s);
	post_state(a, stream_path(s), NULL);
	memcpy(id, stream_container_id(s), sizeof(id));
	for (pp = &a->streams; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->stream == s) {
			struct app_stream *as = *pp;

			*pp = as->next;
			free(as);
			break;
		}
	}
	/* Called last by the stream: it expects to be freed here. */
	stream_free(s);
	readlogs_stream_ended(a, id);
}

static int make_dir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == -1 && errno != EEXIST) {
		int rc = -errno;

		diag(DIAG_ERROR, "cannot create %s: %s", path, strerror(errno));
		return rc;
	}
	return 0;
}

/* A record from an earlier run: re-attach if its FIFO is still there. */
static void reattach_cb(void *arg, const char *fifo_path, json_t *info)
{
	struct app *a = arg;
	struct stat st;
	json_t *body;
	char *text;

	if (lstat(fifo_path, &st) == -1 || !S_ISFIFO(st.st_mode)) {
		/* The container stopped while we were down. */
		state_remove(a->cfg.state_dir, fifo_path);
		return;
	}
	body = json_pack("{s:s, s:O}", "File", fifo_path, "Info", info);
	text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	if (text == NULL || handlers_reattach(a, text, strlen(text)) != 0)
		state_remove(a->cfg.state_dir, fifo_path);
	free(text);
	json_decref(body);
}

int app_new(const struct app_config *cfg, struct app **out)
{
	struct app *a;
	int rc;

	if (evthread_use_pthreads() == -1)
		return -ENOMEM;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	a->cfg = *cfg;
	atomic_init(&a->want_notify, false);
	rc = make_dir(cfg->log_root, 0750);
	if (rc != 0)
		goto out;
	a->rbuf.len = READ_BUF_SIZE;
	a->rbuf.data = malloc(a->rbuf.len);
	a->base = event_base_new();
	if (a->rbuf.data == NULL || a->base == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	a->notify_ev = event_new(a->base, -1, 0, on_notify, a);
	a->sigterm_ev = evsignal_new(a->base, SIGTERM, on_signal, a);
	a->sigint_ev = evsignal_new(a->base, SIGINT, on_signal, a);
	if (a->notify_ev == NULL || a->sigterm_ev == NULL ||
	    a->sigint_ev == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (cfg->node->rate_limit_bytes != 0) {
		a->node_budget = node_budget_new(cfg->node->rate_limit_bytes,
						 cfg->node->rate_burst_bytes,
						 diag_now_mono());
		if (a->node_budget == NULL) {
			rc = -ENOMEM;
			goto out;
		}
	}
	event_add(a->sigterm_ev, NULL);
	event_add(a->sigint_ev, NULL);
	/* A client that goes away mid-reply must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	rc = writer_new(cfg->log_root, cfg->queue_max, on_writer_notify, a,
			&a->writer);
	if (rc == 0)
		rc = writer_set_disk_policy(a->writer,
					    cfg->node->max_disk_bytes,
					    cfg->node->keep_stopped_ns);
	if (rc != 0) {
		diag(DIAG_ERROR, "cannot start the writer threads: %s",
		     strerror(-rc));
		goto out;
	}
	/* Bodies up to REQUEST_BODY_MAX reach the parser, which refuses the
	 * largest with a clear message; evhttp answers 413 past that. */
	/* Streams a crashed run was reading: dockerd will not start them
	 * again.  Before listening, so no StartLogging can race them. */
	rc = state_load_all(cfg->state_dir, reattach_cb, a);
	if (rc < 0)
		diag(DIAG_WARN, "cannot read the state in %s: %s",
		     cfg->state_dir, strerror(-rc));
	rc = server_listen(a->base, cfg->socket_path, REQUEST_BODY_MAX + 1024,
			   cfg->idle_timeout_sec, handlers_dispatch, a,
			   &a->server);
	if (rc != 0)
		goto out;
	*out = a;
	return 0;
out:
	app_free(a);
	return rc;
}

/*
 * Read what each FIFO holds right now, so lines dockerd already handed over
 * are written before we exit; what it writes later waits in the pipe for the
 * next start.
 */
static void drain_streams(struct app *a)
{
	struct app_stream *as;

	for (as = a->streams; as != NULL; as = as->next)
		stream_drain(as->stream);
}

/*
 * After each turn: tell the writer whether the loop waits for its
 * progress, a stream held back by a full queue or a ReadLogs reply.  The
 * writer may have skipped a wake-up just before it learned that we wait:
 * so once the flag is up, look at what it would have woken us for.  (It
 * loads the flag after it makes progress; we store it before we look.)
 */
static void want_notify(struct app *a)
{
	bool want = a->rbuf.writer_waits > 0 || a->n_readers > 0;

	if (want == atomic_load_explicit(&a->want_notify, memory_order_relaxed))
		return;
	atomic_store(&a->want_notify, want);
	if (want)
		on_notify(-1, 0, a);
}

int app_run(struct app *a)
{
	int rc;

	diag(DIAG_INFO, "listening on %s, logs under %s", a->cfg.socket_path,
	     a->cfg.log_root);
	/* Turn by turn, so the streams can pace the loop (stream_pace()). */
	for (;;) {
		writer_turn_begin(a->writer);
		rc = event_base_loop(a->base, EVLOOP_ONCE);
		writer_turn_end(a->writer);
		if (rc == -1)
			return -EIO;
		if (rc == 1 || event_base_got_break(a->base))
			break;
		want_notify(a);
		stream_pace(&a->rbuf);
	}
	server_free(a->server);
	a->server = NULL;
	readlogs_close_all(a);
	drain_streams(a);
	return 0;
}

void app_free(struct app *a)
{
	struct app_stream *as;

	if (a == NULL)
		return;
	server_free(a->server);
	if (a->base != NULL)
		readlogs_close_all(a);
	while ((as = a->streams) != NULL) {
		a->streams = as->next;
		stream_free(as->stream);
		free(as);
	}
	/* Writes out whatever the streams queued, then stops. */
	writer_free(a->writer);
	node_budget_free(a->node_budget);
	if (a->notify_ev != NULL)
		event_free(a->notify_ev);
	if (a->sigterm_ev != NULL)
		event_free(a->sigterm_ev);
	if (a->sigint_ev != NULL)
		event_free(a->sigint_ev);
	if (a->base != NULL)
		event_base_free(a->base);
	free(a->rbuf.data);
	free(a);
}
