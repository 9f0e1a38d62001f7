/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The integration harness: it plays dockerd against a real ratelog process.
 * Each test gets a fresh temp directory (socket, log root, state dir, FIFO
 * dir), a plugin started on it, and helpers that talk to that plugin the way
 * dockerd does: HTTP/1.1 POSTs over the unix socket with dockerd's headers
 * and Go-encoded JSON bodies, FIFOs created with mkfifo and opened O_RDWR
 * before StartLogging, one write per frame, StopLogging then close and
 * unlink.  Everything that waits has a deadline, so a broken plugin fails a
 * test instead of hanging it.
 *
 * Only test_*.c files are built, each into its own binary, so the helpers
 * live here as static functions; a test includes this header once.
 */
#ifndef TESTS_INTEGRATION_HARNESS_H
#define TESTS_INTEGRATION_HARNESS_H

/* Every test file includes the whole harness and uses part of it. */
#pragma GCC diagnostic ignored "-Wunused-function"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "entry.pb-c.h"

/* Deadlines, generous enough for a plugin built with ASan. */
#define H_START_MS 15000 /* socket accepting connections */
#define H_EXIT_MS  15000 /* exit after SIGTERM */
#define H_HTTP_MS  15000 /* one API call */
#define H_WRITE_MS 10000 /* a FIFO write the plugin does not drain */
#define H_WAIT_MS  10000 /* lines showing up in a log file */

/* dockerd's copier never sends a line longer than this (protocol 3.4). */
#define H_CHUNK_MAX 16384

/* The Go zero time dockerd sends for an unset Since / Until. */
#define H_ZERO_TIME "0001-01-01T00:00:00Z"

/* Short paths, so that everything built from them fits PATH_MAX. */
#define H_ROOT_MAX 128
#define H_DIR_MAX  256

/* A growable byte buffer; always NUL-terminated for convenience. */
struct h_buf {
	char *data; /* owned */
	size_t len;
	size_t cap;
};

struct harness {
	char root[H_ROOT_MAX]; /* the test's temp dir, removed at the end */
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char log_root[H_DIR_MAX];
	char state_dir[H_DIR_MAX];
	char fifo_dir[H_DIR_MAX];
	char out_path[H_DIR_MAX]; /* the plugin's stdout and stderr */
	pid_t pid;		  /* -1 once reaped or never started */
	int exit_status;	  /* wait status once reaped */
	bool died;		  /* exited without being asked to */
	CURL *curl;		  /* owned: reused, like Go's keep-alive pool */
};

/* A FIFO as dockerd holds it: created, opened O_RDWR, later unlinked. */
struct h_fifo {
	char path[PATH_MAX];
	int fd; /* -1 once closed */
};

/* One json-file line read back. */
struct h_line {
	char *raw; /* owned: the line as stored, without its newline */
	size_t raw_len;
	char *log; /* owned: the "log" bytes (may hold NULs), NULL if absent */
	size_t log_len;
	char *stream; /* owned, NULL if absent */
	char *time;   /* owned, NULL if absent */
	size_t nkeys; /* keys in the object */
};

struct h_lines {
	struct h_line *v; /* owned */
	size_t n;
};

/* One frame of a ReadLogs reply, unpacked with protobuf-c. */
struct h_frames {
	LogEntry **v; /* owned, each freed with log_entry__free_unpacked */
	size_t n;
	size_t rest; /* bytes after the last whole frame */
};

static int64_t h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void h_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void h_buf_add(struct h_buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap != 0 ? b->cap : 256;
		char *d;

		while (cap < b->len + n + 1)
			cap *= 2;
		d = realloc(b->data, cap);
		if (d == NULL) {
			fprintf(stderr, "harness: out of memory\n");
			abort();
		}
		b->data = d;
		b->cap = cap;
	}
	if (n != 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void h_buf_release(struct h_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* A whole file into 'b' (replacing its contents).  Returns 0 or -errno. */
static int h_read_file(const char *path, struct h_buf *b)
{
	char tmp[65536];
	ssize_t n;
	int fd;

	b->len = 0;
	h_buf_add(b, "", 0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -errno;
	for (;;) {
		n = read(fd, tmp, sizeof(tmp));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		h_buf_add(b, tmp, (size_t)n);
	}
	close(fd);
	return n == -1 ? -EIO : 0;
}

/*
 * Go's time.RFC3339Nano in UTC: fraction with trailing zeros dropped, no
 * fraction at all on a whole second.  Written independently of the
 * plugin's encoder so it can serve as the oracle.
 */
static void h_format_time(int64_t ns, char out[40])
{
	time_t sec = (time_t)(ns / 1000000000);
	long frac = (long)(ns % 1000000000);
	struct tm tm;
	char digits[16];
	size_t len;

	if (frac < 0) {
		frac += 1000000000;
		sec--;
	}
	gmtime_r(&sec, &tm);
	len = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	if (frac != 0) {
		size_t d;

		snprintf(digits, sizeof(digits), "%09ld", frac);
		d = strlen(digits);
		while (d > 0 && digits[d - 1] == '0')
			d--;
		digits[d] = '\0';
		len += (size_t)snprintf(out + len, 40 - len, ".%s", digits);
	}
	snprintf(out + len, 40 - len, "Z");
}

/* A container id of 64 lowercase hex digits, distinct for each 'n'. */
static void h_container_id(char out[65], unsigned n)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL * (n + 1);
	int i;

	for (i = 0; i < 4; i++) {
		x ^= x >> 31;
		x *= 0xbf58476d1ce4e5b9ULL;
		snprintf(out + 16 * i, 17, "%016" PRIx64, x);
	}
}

/* The plugin's output, for the reader of a failed test. */
static void h_dump_output(const struct harness *h)
{
	struct h_buf b = {0};

	if (h_read_file(h->out_path, &b) == 0 && b.len != 0) {
		fprintf(stderr, "---- ratelog output ----\n%s", b.data);
		if (b.data[b.len - 1] != '\n')
			fputc('\n', stderr);
		fprintf(stderr, "---- end of ratelog output ----\n");
	}
	h_buf_release(&b);
}

static void h_print_status(const char *what, int status)
{
	if (WIFEXITED(status))
		fprintf(stderr, "harness: ratelog %s with status %d\n", what,
			WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		fprintf(stderr, "harness: ratelog %s by signal %d\n", what,
			WTERMSIG(status));
}

/* True while the plugin runs; reaps it (and says so) once it has exited. */
static bool h_plugin_alive(struct harness *h)
{
	pid_t r;
	int status;

	if (h->pid <= 0)
		return false;
	r = waitpid(h->pid, &status, WNOHANG);
	if (r == 0)
		return true;
	if (r == h->pid) {
		h->exit_status = status;
		h->pid = -1;
		h->died = true;
		h_print_status("exited unexpectedly", status);
		h_dump_output(h);
	}
	return false;
}

/*
 * SIGTERM the plugin and wait for it.  Returns 0 when it exited with status
 * 0 in time; otherwise kills it, prints why and its output, returns -1.
 */
static int h_terminate(struct harness *h)
{
	int64_t deadline = h_now_ms() + H_EXIT_MS;
	int status = 0;
	pid_t r;

	if (h->pid <= 0)
		return -1;
	kill(h->pid, SIGTERM);
	for (;;) {
		r = waitpid(h->pid, &status, WNOHANG);
		if (r == h->pid)
			break;
		if (h_now_ms() > deadline) {
			fprintf(stderr,
				"harness: ratelog ignored SIGTERM for "
				"%d ms; killing it\n",
				H_EXIT_MS);
			kill(h->pid, SIGKILL);
			waitpid(h->pid, &status, 0);
			h->pid = -1;
			h_dump_output(h);
			return -1;
		}
		h_sleep_ms(5);
	}
	h->pid = -1;
	h->exit_status = status;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		h_print_status("ended after SIGTERM", status);
		h_dump_output(h);
		return -1;
	}
	return 0;
}

static bool h_socket_accepts(const char *path)
{
	struct sockaddr_un sa;
	bool ok;
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return false;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static bool h_is_config_var(const char *kv)
{
	static const char *const names[] = {
		"SOCKET=", "LOG_ROOT=", "STATE_DIR=", "FIFO_DIR="};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strncmp(kv, names[i], strlen(names[i])) == 0)
			return true;
	}
	return false;
}

/*
 * Start the plugin on the harness dirs, with flags or (by_env) with only
 * environment variables, and wait until its socket accepts connections.
 * argv and the environment are built before fork(), so the child calls
 * nothing but async-signal-safe functions even if a thread of a failed
 * test is still running.  Returns 0 or -1 after printing why.
 */
static int h_spawn(struct harness *h, bool by_env)
{
	const char *bin = getenv("RATELOG_BIN");
	char vars[4][H_DIR_MAX + 16];
	char *argv[12];
	char **envp;
	size_t ne = 0;
	size_t i;
	int64_t deadline;
	pid_t pid;
	int out;

	if (bin == NULL || bin[0] == '\0')
		bin = "build/ratelog";
	if (access(bin, X_OK) != 0) {
		fprintf(stderr, "harness: cannot run %s (set RATELOG_BIN)\n",
			bin);
		return -1;
	}
	for (i = 0; environ[i] != NULL; i++)
		;
	envp = calloc(i + 5, sizeof(*envp));
	if (envp == NULL)
		return -1;
	/* Flags or variables: never a stray value from our own caller. */
	for (i = 0; environ[i] != NULL; i++) {
		if (!h_is_config_var(environ[i]))
			envp[ne++] = environ[i];
	}
	i = 0;
	argv[i++] = (char *)"ratelog";
	argv[i++] = (char *)"serve";
	if (by_env) {
		snprintf(vars[0], sizeof(vars[0]), "SOCKET=%s", h->sock);
		snprintf(vars[1], sizeof(vars[1]), "LOG_ROOT=%s", h->log_root);
		snprintf(vars[2], sizeof(vars[2]), "STATE_DIR=%s",
			 h->state_dir);
		snprintf(vars[3], sizeof(vars[3]), "FIFO_DIR=%s", h->fifo_dir);
		envp[ne++] = vars[0];
		envp[ne++] = vars[1];
		envp[ne++] = vars[2];
		envp[ne++] = vars[3];
	} else {
		argv[i++] = (char *)"--socket";
		argv[i++] = h->sock;
		argv[i++] = (char *)"--log-root";
		argv[i++] = h->log_root;
		argv[i++] = (char *)"--state-dir";
		argv[i++] = h->state_dir;
		argv[i++] = (char *)"--fifo-dir";
		argv[i++] = h->fifo_dir;
	}
	argv[i] = NULL;
	envp[ne] = NULL;
	out = open(h->out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		   0600);
	if (out == -1) {
		free(envp);
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		static const char msg[] = "harness: exec of ratelog failed\n";

		dup2(out, STDOUT_FILENO);
		dup2(out, STDERR_FILENO);
		/* No inherited FIFO writer may keep a stream from its EOF. */
		closefrom(STDERR_FILENO + 1);
		execve(bin, argv, envp);
		if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
			_exit(126);
		_exit(127);
	}
	close(out);
	free(envp);
	if (pid == -1)
		return -1;
	h->pid = pid;
	deadline = h_now_ms() + H_START_MS;
	while (!h_socket_accepts(h->sock)) {
		if (!h_plugin_alive(h))
			return -1;
		if (h_now_ms() > deadline) {
			fprintf(stderr, "harness: no socket after %d ms\n",
				H_START_MS);
			h_terminate(h);
			return -1;
		}
		h_sleep_ms(5);
	}
	return 0;
}

/* Make the temp tree; the socket path must fit in sun_path. */
static int h_make_dirs(struct harness *h)
{
	const char *tmp = getenv("TMPDIR");
	char tmpl[H_ROOT_MAX];
	int n;

	if (tmp == NULL || tmp[0] == '\0' || strlen(tmp) > 60)
		tmp = "/tmp";
	snprintf(tmpl, sizeof(tmpl), "%s/ratelog-it.XXXXXX", tmp);
	if (mkdtemp(tmpl) == NULL) {
		fprintf(stderr, "harness: mkdtemp %s: %s\n", tmpl,
			strerror(errno));
		return -1;
	}
	snprintf(h->root, sizeof(h->root), "%s", tmpl);
	n = snprintf(h->sock, sizeof(h->sock), "%s/p.sock", h->root);
	if (n < 0 || (size_t)n >= sizeof(h->sock))
		return -1;
	snprintf(h->log_root, sizeof(h->log_root), "%s/logs", h->root);
	snprintf(h->state_dir, sizeof(h->state_dir), "%s/state", h->root);
	snprintf(h->fifo_dir, sizeof(h->fifo_dir), "%s/fifo", h->root);
	snprintf(h->out_path, sizeof(h->out_path), "%s/ratelog.out", h->root);
	if (mkdir(h->log_root, 0700) == -1 || mkdir(h->state_dir, 0700) == -1 ||
	    mkdir(h->fifo_dir, 0700) == -1)
		return -1;
	return 0;
}

static int h_rm_entry(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* Returns a new harness with a running plugin, or NULL after printing why. */
static struct harness *h_new(bool by_env)
{
	struct harness *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->pid = -1;
	h->curl = curl_easy_init();
	if (h->curl == NULL || h_make_dirs(h) != 0 || h_spawn(h, by_env) != 0) {
		if (h->curl != NULL)
			curl_easy_cleanup(h->curl);
		if (h->root[0] != '\0')
			nftw(h->root, h_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		free(h);
		return NULL;
	}
	return h;
}

/*
 * End the test's plugin (unless the test already did) and remove the temp
 * tree.  Returns 0, or -1 when the plugin had died on its own or did not
 * exit cleanly on SIGTERM.
 */
static int h_free(struct harness *h)
{
	int rc = 0;

	if (h == NULL)
		return 0;
	if (h->died)
		rc = -1;
	if (h->pid > 0) {
		if (!h_plugin_alive(h))
			rc = -1;
		else if (h_terminate(h) != 0)
			rc = -1;
	}
	/* RATELOG_IT_VERBOSE=1 shows the plugin's own account of each test. */
	if (rc == 0 && getenv("RATELOG_IT_VERBOSE") != NULL)
		h_dump_output(h);
	curl_easy_cleanup(h->curl);
	nftw(h->root, h_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(h);
	return rc;
}

static size_t h_curl_write(char *p, size_t size, size_t n, void *arg)
{
	h_buf_add(arg, p, size * n);
	return size * n;
}

/* dockerd's request headers: its Accept, no Content-Type, no Expect. */
static struct curl_slist *h_docker_headers(void)
{
	struct curl_slist *hd = NULL;

	hd = curl_slist_append(
		hd, "Accept: application/vnd.docker.plugins.v1.2+json");
	hd = curl_slist_append(hd, "User-Agent: Go-http-client/1.1");
	hd = curl_slist_append(hd, "Content-Type:");
	hd = curl_slist_append(hd, "Expect:");
	return hd;
}

static void h_curl_setup(CURL *c, const char *sock, const char *path,
			 const void *body, size_t len, struct curl_slist *hd)
{
	char url[256];

	snprintf(url, sizeof(url), "http://plugin.moby.localhost%s", path);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, len != 0 ? body : "");
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
}

/*
 * POST 'body' to 'path' as dockerd does.  The reply body goes into 'resp'
 * (replaced).  Returns the HTTP status, or -1 on a transport error (said on
 * stderr).
 */
static long h_post(struct harness *h, const char *path, const void *body,
		   size_t len, struct h_buf *resp)
{
	struct curl_slist *hd = h_docker_headers();
	CURLcode rc;
	long status = -1;

	resp->len = 0;
	h_buf_add(resp, "", 0);
	curl_easy_reset(h->curl);
	h_curl_setup(h->curl, h->sock, path, body, len, hd);
	curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, h_curl_write);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, (long)H_HTTP_MS);
	rc = curl_easy_perform(h->curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	else
		fprintf(stderr, "harness: POST %s: %s\n", path,
			curl_easy_strerror(rc));
	curl_slist_free_all(hd);
	return status;
}

/* A JSON body as Go's json.Encoder writes it: compact, then "\n". */
static char *h_encode(json_t *v, size_t *len)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
	char *t;
	size_t n;

	if (s == NULL)
		return NULL;
	n = strlen(s);
	t = realloc(s, n + 2);
	if (t == NULL) {
		free(s);
		return NULL;
	}
	t[n] = '\n';
	t[n + 1] = '\0';
	*len = n + 1;
	return t;
}

/* POST a JSON body (stolen). */
static long h_post_json(struct harness *h, const char *path, json_t *v,
			struct h_buf *resp)
{
	size_t len = 0;
	char *body = h_encode(v, &len);
	long status;

	json_decref(v);
	if (body == NULL)
		return -1;
	status = h_post(h, path, body, len, resp);
	free(body);
	return status;
}

/*
 * The "Err" of a 200 reply: a new string, "" when the reply is an object
 * without Err, NULL when the reply is not a JSON object or Err is no string.
 */
static char *h_reply_err(const struct h_buf *resp)
{
	json_t *v = json_loadb(resp->data, resp->len, 0, NULL);
	json_t *e;
	char *out = NULL;

	if (v == NULL || !json_is_object(v))
		goto out;
	e = json_object_get(v, "Err");
	if (e == NULL)
		out = strdup("");
	else if (json_is_string(e))
		out = strdup(json_string_value(e));
out:
	json_decref(v);
	return out;
}

/* The Info object dockerd sends (protocol 2.3), for container 'id'. */
static json_t *h_info(const char *id, json_t *config)
{
	if (config == NULL)
		config = json_object();
	return json_pack(
		"{s:o, s:s, s:s, s:s, s:[s,s], s:s, s:s, s:s, s:[s,s], "
		"s:{s:s}, s:s, s:s}",
		"Config", config, "ContainerID", id, "ContainerName", "/web",
		"ContainerEntrypoint", "nginx", "ContainerArgs", "-g",
		"daemon off;", "ContainerImageID",
		"sha256:"
		"4b7ea5f2d2bd1b6bbfd8b1b7e1fea8a4f0b6a0c4d0fe3a0fb4f1d9a4c5e2b1"
		"a0",
		"ContainerImageName", "nginx:latest", "ContainerCreated",
		"2024-05-01T12:00:00.123456789Z", "ContainerEnv",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin", "FOO=bar",
		"ContainerLabels", "com.example.team", "x", "LogPath", "",
		"DaemonName", "docker");
}

/* mkfifo 'path' and open it O_RDWR like dockerd (non-blocking for us). */
static int h_fifo_make(struct h_fifo *f, const char *path)
{
	snprintf(f->path, sizeof(f->path), "%s", path);
	f->fd = -1;
	if (mkfifo(f->path, 0700) == -1)
		return -errno;
	f->fd = open(f->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (f->fd == -1)
		return -errno;
	return 0;
}

/* A FIFO named 'name' under the plugin's FIFO dir. */
static int h_fifo_new(struct harness *h, struct h_fifo *f, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", h->fifo_dir, name);
	return h_fifo_make(f, path);
}

/* dockerd after a successful StopLogging: close its end, unlink. */
static void h_fifo_close(struct h_fifo *f)
{
	if (f->fd != -1)
		close(f->fd);
	f->fd = -1;
	if (f->path[0] != '\0')
		unlink(f->path);
}

/*
 * StartLogging for 'f' and container 'id'.  Returns the HTTP status and
 * stores the reply's Err (new string, NULL if unparsable) in *err.
 */
static long h_start_logging(struct harness *h, const char *file, const char *id,
			    json_t *config, char **err)
{
	struct h_buf resp = {0};
	long status;

	status = h_post_json(h, "/LogDriver.StartLogging",
			     json_pack("{s:s, s:o}", "File", file, "Info",
				       h_info(id, config)),
			     &resp);
	*err = h_reply_err(&resp);
	h_buf_release(&resp);
	return status;
}

/* StopLogging; returns the status and the Err as h_start_logging(). */
static long h_stop_logging(struct harness *h, const char *file, char **err)
{
	struct h_buf resp = {0};
	long status;

	status = h_post_json(h, "/LogDriver.StopLogging",
			     json_pack("{s:s}", "File", file), &resp);
	*err = h_reply_err(&resp);
	h_buf_release(&resp);
	return status;
}

/*
 * Write all of 'p' to the FIFO, waiting (bounded) while the pipe is full;
 * the fd is non-blocking so a plugin that stops reading fails the test
 * instead of hanging it.  Returns 0 or -1.
 */
static int h_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	int64_t deadline = h_now_ms() + H_WRITE_MS;

	while (n > 0) {
		ssize_t w = write(fd, b, n);

		if (w > 0) {
			b += w;
			n -= (size_t)w;
			continue;
		}
		if (w == -1 && errno != EAGAIN && errno != EINTR) {
			fprintf(stderr, "harness: FIFO write: %s\n",
				strerror(errno));
			return -1;
		}
		if (h_now_ms() > deadline) {
			fprintf(stderr,
				"harness: FIFO full for %d ms: the "
				"plugin does not read it\n",
				H_WRITE_MS);
			return -1;
		}
		{
			struct pollfd pfd = {fd, POLLOUT, 0};

			poll(&pfd, 1, 50);
		}
	}
	return 0;
}

/* Chunk metadata for h_entry_frame(); ordinal 0 means a whole line. */
struct h_part {
	const char *id;
	int32_t ordinal;
	bool last;
};

/*
 * One frame as dockerd encodes it: uint32 BE length + LogEntry, into a new
 * buffer (free()) whose size goes to *len.
 */
static uint8_t *h_entry_frame(const char *source, int64_t t, const void *line,
			      size_t line_len, const struct h_part *part,
			      size_t *len)
{
	LogEntry e = LOG_ENTRY__INIT;
	PartialLogEntryMetadata m = PARTIAL_LOG_ENTRY_METADATA__INIT;
	uint8_t *buf;
	size_t n;

	e.source = (char *)source;
	e.time_nano = t;
	e.line.data = (uint8_t *)line;
	e.line.len = line_len;
	if (part != NULL && part->ordinal != 0) {
		e.partial = 1;
		m.last = part->last;
		m.id = (char *)part->id;
		m.ordinal = part->ordinal;
		e.partial_log_metadata = &m;
	}
	n = log_entry__get_packed_size(&e);
	buf = malloc(n + 4);
	if (buf == NULL)
		return NULL;
	buf[0] = (uint8_t)(n >> 24);
	buf[1] = (uint8_t)(n >> 16);
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	log_entry__pack(&e, buf + 4);
	*len = n + 4;
	return buf;
}

/* Write one entry into the FIFO with one write(), as dockerd does. */
static int h_write_entry(int fd, const char *source, int64_t t,
			 const void *line, size_t line_len,
			 const struct h_part *part)
{
	size_t len = 0;
	uint8_t *frame = h_entry_frame(source, t, line, line_len, part, &len);
	int rc;

	if (frame == NULL)
		return -1;
	rc = h_write_all(fd, frame, len);
	free(frame);
	return rc;
}

static int h_write_line(int fd, const char *source, int64_t t, const char *line)
{
	return h_write_entry(fd, source, t, line, strlen(line), NULL);
}

/* Bytes still in the pipe, unread by the plugin. */
static int h_fifo_pending(const struct h_fifo *f)
{
	int n = 0;

	if (ioctl(f->fd, FIONREAD, &n) == -1)
		return -1;
	return n;
}

static void h_log_path(const struct harness *h, const char *id,
		       char out[PATH_MAX])
{
	snprintf(out, PATH_MAX, "%s/%.64s/%.64s-json.log", h->log_root, id, id);
}

/* Complete lines (ending in '\n') in the container's log file. */
static size_t h_count_lines(const struct harness *h, const char *id)
{
	char path[PATH_MAX];
	struct h_buf b = {0};
	size_t n = 0;
	size_t i;

	h_log_path(h, id, path);
	if (h_read_file(path, &b) == 0) {
		for (i = 0; i < b.len; i++)
			n += b.data[i] == '\n';
	}
	h_buf_release(&b);
	return n;
}

/*
 * Wait until the container's log holds at least 'n' complete lines, the
 * deadline passes or the plugin dies.  Returns the count last seen.
 */
static size_t h_wait_lines(struct harness *h, const char *id, size_t n,
			   int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	size_t got;

	for (;;) {
		got = h_count_lines(h, id);
		if (got >= n || h_now_ms() > deadline || !h_plugin_alive(h))
			break;
		h_sleep_ms(10);
	}
	if (got < n)
		fprintf(stderr, "harness: %zu of %zu lines for %.12s\n", got, n,
			id);
	return got;
}

static char *h_strndup(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d != NULL) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static void h_lines_release(struct h_lines *ls)
{
	size_t i;

	for (i = 0; i < ls->n; i++) {
		free(ls->v[i].raw);
		free(ls->v[i].log);
		free(ls->v[i].stream);
		free(ls->v[i].time);
	}
	free(ls->v);
	memset(ls, 0, sizeof(*ls));
}

/*
 * Read the container's log file and parse each complete line with jansson.
 * Returns 0, or -1 when the file is missing or a line is not a JSON object
 * (said on stderr).
 */
static int h_read_lines(const struct harness *h, const char *id,
			struct h_lines *out)
{
	char path[PATH_MAX];
	struct h_buf b = {0};
	size_t start = 0;
	size_t i;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	h_log_path(h, id, path);
	if (h_read_file(path, &b) != 0) {
		fprintf(stderr, "harness: cannot read %s\n", path);
		goto out;
	}
	for (i = 0; i < b.len; i++) {
		struct h_line *l;
		json_error_t jerr;
		json_t *v;
		json_t *f;

		if (b.data[i] != '\n')
			continue;
		if (out->n % 1024 == 0) {
			struct h_line *nv =
				realloc(out->v, (out->n + 1024) * sizeof(*nv));

			if (nv == NULL)
				goto out;
			out->v = nv;
		}
		l = &out->v[out->n++];
		memset(l, 0, sizeof(*l));
		l->raw = h_strndup(b.data + start, i - start);
		l->raw_len = i - start;
		v = json_loadb(b.data + start, i - start,
			       JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
		start = i + 1;
		if (v == NULL || !json_is_object(v)) {
			fprintf(stderr, "harness: line %zu of %s: %s: %s\n",
				out->n, path, jerr.text, l->raw);
			json_decref(v);
			goto out;
		}
		l->nkeys = json_object_size(v);
		f = json_object_get(v, "log");
		if (json_is_string(f)) {
			l->log = h_strndup(json_string_value(f),
					   json_string_length(f));
			l->log_len = json_string_length(f);
		}
		f = json_object_get(v, "stream");
		if (json_is_string(f))
			l->stream = strdup(json_string_value(f));
		f = json_object_get(v, "time");
		if (json_is_string(f))
			l->time = strdup(json_string_value(f));
		json_decref(v);
	}
	rc = 0;
out:
	h_buf_release(&b);
	return rc;
}

static void h_frames_release(struct h_frames *fr)
{
	size_t i;

	for (i = 0; i < fr->n; i++)
		log_entry__free_unpacked(fr->v[i], NULL);
	free(fr->v);
	memset(fr, 0, sizeof(*fr));
}

/*
 * Split a ReadLogs body into frames and unpack each.  Returns 0, or -1 when
 * a frame is not a LogEntry.  Bytes of an incomplete last frame are counted
 * in fr->rest.
 */
static int h_decode_frames(const uint8_t *p, size_t len, struct h_frames *fr)
{
	size_t off = 0;

	memset(fr, 0, sizeof(*fr));
	while (len - off >= 4) {
		uint32_t n = (uint32_t)p[off] << 24 |
			     (uint32_t)p[off + 1] << 16 |
			     (uint32_t)p[off + 2] << 8 | (uint32_t)p[off + 3];
		LogEntry *e;
		LogEntry **nv;

		if (len - off - 4 < n)
			break;
		e = log_entry__unpack(NULL, n, p + off + 4);
		if (e == NULL) {
			fprintf(stderr,
				"harness: frame at %zu is not a "
				"LogEntry\n",
				off);
			return -1;
		}
		nv = realloc(fr->v, (fr->n + 1) * sizeof(*nv));
		if (nv == NULL) {
			log_entry__free_unpacked(e, NULL);
			return -1;
		}
		fr->v = nv;
		fr->v[fr->n++] = e;
		off += 4 + n;
	}
	fr->rest = len - off;
	return 0;
}

/* Open file descriptors of process 'pid', or -1. */
static int h_count_fds(pid_t pid)
{
	char path[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* The wall clock in ns, as dockerd stamps entries. */
static int64_t h_now_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A log-opts object from "key=value,key=value" (values without commas). */
static json_t *h_opts(const char *spec)
{
	json_t *cfg = json_object();
	char *copy = strdup(spec);
	char *save = NULL;

	for (char *kv = strtok_r(copy, ",", &save); kv != NULL;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');

		if (eq == NULL)
			continue;
		*eq = '\0';
		json_object_set_new(cfg, kv, json_string(eq + 1));
	}
	free(copy);
	return cfg;
}

/* The ReadLogs request body for container 'id'. */
static json_t *h_read_request(const char *id, const char *since,
			      const char *until, json_int_t tail, bool follow)
{
	return json_pack("{s:o, s:{s:s, s:s, s:I, s:b}}", "Info",
			 h_info(id, NULL), "Config", "Since", since, "Until",
			 until, "Tail", tail, "Follow", follow);
}

/*
 * A ReadLogs request running on its own thread with its own connection, as
 * dockerd's follow streams do, so the test can keep calling the API.
 */
struct h_follow {
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *body; /* owned */
	size_t len;
	pthread_t thread;
	bool started;
	atomic_bool abort;  /* set to make the transfer give up */
	pthread_mutex_t mu; /* guards the fields below */
	struct h_buf data;  /* the reply body so far */
	bool done;	    /* the transfer ended */
	CURLcode rc;	    /* how it ended */
	long status;	    /* HTTP status */
};

static size_t h_follow_write(char *p, size_t size, size_t n, void *arg)
{
	struct h_follow *fl = arg;

	pthread_mutex_lock(&fl->mu);
	h_buf_add(&fl->data, p, size * n);
	pthread_mutex_unlock(&fl->mu);
	return size * n;
}

static int h_follow_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
			     curl_off_t ultotal, curl_off_t ulnow)
{
	struct h_follow *fl = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return atomic_load(&fl->abort) ? 1 : 0;
}

static void *h_follow_run(void *arg)
{
	struct h_follow *fl = arg;
	struct curl_slist *hd = h_docker_headers();
	CURL *c = curl_easy_init();
	CURLcode rc = CURLE_FAILED_INIT;
	long status = -1;

	if (c != NULL) {
		h_curl_setup(c, fl->sock, "/LogDriver.ReadLogs", fl->body,
			     fl->len, hd);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, h_follow_write);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, fl);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION,
				 h_follow_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, fl);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2L * H_WAIT_MS);
		rc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_cleanup(c);
	}
	curl_slist_free_all(hd);
	pthread_mutex_lock(&fl->mu);
	fl->rc = rc;
	fl->status = status;
	fl->done = true;
	pthread_mutex_unlock(&fl->mu);
	return NULL;
}

/*
 * Start a ReadLogs with body 'req' (stolen) on a new thread.  Returns the
 * follower (free with h_follow_release()) or NULL.  It lives on the heap:
 * if a test fails and never releases it, the thread still has valid memory
 * until the plugin's exit ends its transfer.
 */
static struct h_follow *h_follow_start(const struct harness *h, json_t *req)
{
	struct h_follow *fl = calloc(1, sizeof(*fl));

	if (fl == NULL) {
		json_decref(req);
		return NULL;
	}
	snprintf(fl->sock, sizeof(fl->sock), "%s", h->sock);
	atomic_init(&fl->abort, false);
	pthread_mutex_init(&fl->mu, NULL);
	fl->body = h_encode(req, &fl->len);
	json_decref(req);
	if (fl->body == NULL ||
	    pthread_create(&fl->thread, NULL, h_follow_run, fl) != 0) {
		pthread_mutex_destroy(&fl->mu);
		free(fl->body);
		free(fl);
		return NULL;
	}
	fl->started = true;
	return fl;
}

/* Decode what arrived so far into 'fr' (released by the caller). */
static int h_follow_frames(struct h_follow *fl, struct h_frames *fr, bool *done)
{
	int rc;

	pthread_mutex_lock(&fl->mu);
	rc = h_decode_frames((const uint8_t *)fl->data.data, fl->data.len, fr);
	*done = fl->done;
	pthread_mutex_unlock(&fl->mu);
	return rc;
}

/*
 * Wait until at least 'n' frames arrived, the transfer ended or the
 * deadline passed.  Returns the number of whole frames seen (-1 on a
 * frame that is no LogEntry).
 */
static long h_follow_wait_frames(struct h_follow *fl, size_t n, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	struct h_frames fr;
	bool done = false;
	long got;

	for (;;) {
		if (h_follow_frames(fl, &fr, &done) != 0) {
			h_frames_release(&fr);
			return -1;
		}
		got = (long)fr.n;
		h_frames_release(&fr);
		if ((size_t)got >= n || done || h_now_ms() > deadline)
			return got;
		h_sleep_ms(10);
	}
}

/* Wait (bounded) for the transfer to end.  Returns true if it did. */
static bool h_follow_wait_done(struct h_follow *fl, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	bool done;

	for (;;) {
		pthread_mutex_lock(&fl->mu);
		done = fl->done;
		pthread_mutex_unlock(&fl->mu);
		if (done || h_now_ms() > deadline)
			return done;
		h_sleep_ms(10);
	}
}

/* Stop the transfer if it still runs, join the thread, free everything.
 * Accepts NULL. */
static void h_follow_release(struct h_follow *fl)
{
	if (fl == NULL)
		return;
	if (fl->started) {
		atomic_store(&fl->abort, true);
		pthread_join(fl->thread, NULL);
	}
	pthread_mutex_destroy(&fl->mu);
	h_buf_release(&fl->data);
	free(fl->body);
	free(fl);
}

#endif
