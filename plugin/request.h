/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bodies dockerd sends to the LogDriver endpoints, parsed and checked
 * into typed requests before anything else looks at them.  Everything here
 * is untrusted input: sizes are bounded, types are checked, and every
 * failure comes back as a sentence fit to show a user in "Err" (it names the
 * field and what was expected, and avoids the phrases dockerd turns into exit
 * codes, such as "no such file or directory" or "permission denied").
 */
#ifndef PLUGIN_REQUEST_H
#define PLUGIN_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Bodies larger than this are refused before parsing. */
#define REQUEST_BODY_MAX (1024 * 1024)
/* Room for an error sentence. */
#define REQUEST_ERR_MAX 256
/* A FIFO name under the logging directory: dockerd uses 64 hex digits. */
#define REQUEST_FIFO_NAME_MAX 128
/* Room for "<fifo dir>/<name>". */
#define REQUEST_PATH_MAX 512

/* The Info object that StartLogging and ReadLogs carry. */
struct log_info {
	char container_id[65]; /* 64 lowercase hex digits, NUL-terminated */
	json_t *info;	       /* owned: the whole Info object as sent */
	json_t *config; /* borrowed from 'info': the log-opts object, every
			   value a string, or NULL when absent or null */
};

struct start_request {
	char file[REQUEST_PATH_MAX]; /* "<fifo dir>/<name>", checked syntax */
	struct log_info info;
};

struct stop_request {
	char file[REQUEST_PATH_MAX];
};

struct read_request {
	struct log_info info;
	int64_t since_ns; /* 0 = unset */
	int64_t until_ns; /* 0 = unset */
	int64_t tail;	  /* -1 all, 0 none, N the last N entries */
	bool follow;
};

/*
 * Parse a StartLogging body.  'fifo_dir' is the directory FIFOs must live
 * directly under ("/run/docker/logging" for dockerd): File must be that
 * directory, a '/', and one name of [A-Za-z0-9._-] that is not "." or "..".
 * Info must be an object with ContainerID of 64 lowercase hex digits; its
 * Config, when present and not null, an object of string values.  On success
 * fills 'out' (release with request_start_release()) and returns 0; on
 * failure returns -EINVAL, writes a sentence into 'err' and leaves nothing
 * to release.
 */
int request_parse_start(const char *body, size_t len, const char *fifo_dir,
			struct start_request *out, char *err, size_t err_len);

/* Parse a StopLogging body ({"File": ...}, checked as above). */
int request_parse_stop(const char *body, size_t len, const char *fifo_dir,
		       struct stop_request *out, char *err, size_t err_len);

/*
 * Parse a ReadLogs body: {"Info": {...}, "Config": {"Since", "Until", "Tail",
 * "Follow"}}.  Since and Until are RFC 3339 times with any offset; Go's zero
 * time ("0001-01-01T00:00:00Z") and a missing key mean unset.  A missing
 * Tail means -1 (everything), and any negative Tail is -1.  Release with
 * request_read_release().
 */
int request_parse_read(const char *body, size_t len, struct read_request *out,
		       char *err, size_t err_len);

void request_start_release(struct start_request *r);
void request_read_release(struct read_request *r);

/* Release the json held by 'info' and clear it; accepts a zeroed struct. */
void log_info_release(struct log_info *info);

#endif
