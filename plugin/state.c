/* SPDX-License-Identifier: Apache-2.0 */
#include "plugin/state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/diag.h"

#define SUFFIX	     ".json"
#define TMP_SUFFIX   ".tmp"
#define NAME_MAX_LEN 128
/* Records read at start-up at most: far more streams than a node runs. */
#define LOAD_MAX 100000

/* The FIFO's file name, checked as request.c checks it; NULL if bad. */
static const char *fifo_name(const char *fifo_path)
{
	const char *name = strrchr(fifo_path, '/');
	size_t n;

	name = name != NULL ? name + 1 : fifo_path;
	n = strlen(name);
	if (n == 0 || n > NAME_MAX_LEN || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return NULL;
	}
	return name;
}

static int record_path(char *dst, size_t cap, const char *dir,
		       const char *fifo_path, const char *suffix)
{
	const char *name = fifo_name(fifo_path);
	int k;

	if (name == NULL)
		return -EINVAL;
	k = snprintf(dst, cap, "%s/%s%s%s", dir, name, SUFFIX, suffix);
	return k < 0 || (size_t)k >= cap ? -ENAMETOOLONG : 0;
}

char *state_render(const char *fifo_path, json_t *info)
{
	json_t *rec = json_pack("{s:i, s:s, s:O}", "version", 1, "File",
				fifo_path, "Info", info);
	char *text = rec != NULL ? json_dumps(rec, JSON_COMPACT) : NULL;

	json_decref(rec);
	return text;
}

int state_save(const char *state_dir, const char *fifo_path, const char *record)
{
	char path[4096], tmp[4096];
	size_t n = strlen(record);
	size_t done = 0;
	int fd;
	int rc;

	rc = record_path(path, sizeof(path), state_dir, fifo_path, "");
	if (rc == 0)
		rc = record_path(tmp, sizeof(tmp), state_dir, fifo_path,
				 TMP_SUFFIX);
	if (rc != 0)
		return rc;
	if (mkdir(state_dir, 0700) == -1 && errno != EEXIST)
		return -errno;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd == -1)
		return -errno;
	while (done < n) {
		ssize_t k = write(fd, record + done, n - done);

		if (k == -1 && errno == EINTR)
			continue;
		if (k == -1) {
			rc = -errno;
			break;
		}
		done += (size_t)k;
	}
	if (close(fd) == -1 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) == -1)
		rc = -errno;
	if (rc != 0)
		unlink(tmp);
	return rc;
}

int state_remove(const char *state_dir, const char *fifo_path)
{
	char path[4096];
	int rc = record_path(path, sizeof(path), state_dir, fifo_path, "");

	if (rc != 0)
		return rc;
	if (unlink(path) == -1 && errno != ENOENT)
		return -errno;
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Parse one record file; returns a new reference or NULL. */
static json_t *load_record(int dirfd, const char *name)
{
	struct stat st;
	json_error_t jerr;
	json_t *rec = NULL;
	char *buf = NULL;
	ssize_t k;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > STATE_RECORD_MAX)
		goto out;
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		goto out;
	k = read(fd, buf, (size_t)st.st_size);
	if (k != st.st_size)
		goto out;
	rec = json_loadb(buf, (size_t)k, JSON_REJECT_DUPLICATES, &jerr);
out:
	free(buf);
	close(fd);
	return rec;
}

int state_load_all(const char *state_dir, state_record_cb *cb, void *arg)
{
	struct dirent *de;
	DIR *d;
	int delivered = 0;
	int seen = 0;

	d = opendir(state_dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) != NULL && seen++ < LOAD_MAX) {
		const char *name = de->d_name;
		json_t *rec, *file, *info;
		const char *path;
		char want[4096];

		if (name[0] == '.')
			continue;
		if (ends_with(name, TMP_SUFFIX)) {
			/* A crash between write and rename. */
			unlinkat(dirfd(d), name, 0);
			continue;
		}
		if (!ends_with(name, SUFFIX))
			continue;
		rec = load_record(dirfd(d), name);
		file = json_object_get(rec, "File");
		info = json_object_get(rec, "Info");
		path = json_string_value(file);
		/* The record must be the one its name says it is. */
		if (rec == NULL ||
		    json_integer_value(json_object_get(rec, "version")) != 1 ||
		    path == NULL || !json_is_object(info) ||
		    record_path(want, sizeof(want), "", path, "") != 0 ||
		    strcmp(want + 1, name) != 0) {
			diag(DIAG_WARN, "state: ignoring damaged record %s/%s",
			     state_dir, name);
			unlinkat(dirfd(d), name, 0);
			json_decref(rec);
			continue;
		}
		cb(arg, path, info);
		delivered++;
		json_decref(rec);
	}
	closedir(d);
	return delivered;
}
