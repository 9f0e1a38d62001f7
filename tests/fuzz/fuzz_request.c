/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: any bytes as a StartLogging, StopLogging and ReadLogs
 * body.  Besides the sanitizers it checks the parsers' promises: a success
 * holds a path under the FIFO directory and a valid container id, a failure
 * holds nothing and leaves a printable sentence free of the phrases dockerd
 * maps to exit codes, and a trailing '/' on the directory changes nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/request.h"

#define DIR "/run/docker/logging"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const exit_code_phrases[] = {
	"no such file or directory",
	"executable file not found",
	"system cannot find the file specified",
	"permission denied",
	"not a directory",
};

static void check_sentence(const char *err)
{
	size_t i, len;

	len = strnlen(err, REQUEST_ERR_MAX);
	if (len == 0 || len >= REQUEST_ERR_MAX)
		abort();
	for (i = 0; i < len; i++) {
		if ((unsigned char)err[i] < 0x20 ||
		    (unsigned char)err[i] >= 0x7f)
			abort();
	}
	for (i = 0;
	     i < sizeof(exit_code_phrases) / sizeof(exit_code_phrases[0]);
	     i++) {
		if (strcasestr(err, exit_code_phrases[i]) != NULL)
			abort();
	}
}

static void check_file(const char *file)
{
	const char *name = file + strlen(DIR "/");

	if (strncmp(file, DIR "/", strlen(DIR "/")) != 0 ||
	    strchr(name, '/') != NULL || name[0] == '\0' ||
	    strlen(name) > REQUEST_FIFO_NAME_MAX || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		abort();
}

static void check_info(const struct log_info *info)
{
	void *it;

	if (strlen(info->container_id) != 64 ||
	    strspn(info->container_id, "0123456789abcdef") != 64 ||
	    !json_is_object(info->info))
		abort();
	if (info->config == NULL)
		return;
	if (!json_is_object(info->config))
		abort();
	for (it = json_object_iter(info->config); it != NULL;
	     it = json_object_iter_next(info->config, it)) {
		if (!json_is_string(json_object_iter_value(it)))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	struct start_request sr, sr2;
	struct stop_request st;
	struct read_request rr;
	char err[REQUEST_ERR_MAX];
	char err2[REQUEST_ERR_MAX];
	int rc, rc2;

	rc = request_parse_start(body, size, DIR, &sr, err, sizeof(err));
	rc2 = request_parse_start(body, size, DIR "/", &sr2, err2,
				  sizeof(err2));
	if (rc != rc2)
		abort();
	if (rc == 0) {
		check_file(sr.file);
		check_info(&sr.info);
		if (strcmp(sr.file, sr2.file) != 0)
			abort();
	} else {
		check_sentence(err);
		if (strcmp(err, err2) != 0 || sr.info.info != NULL)
			abort();
	}
	request_start_release(&sr);
	request_start_release(&sr2);

	rc = request_parse_stop(body, size, DIR, &st, err, sizeof(err));
	if (rc == 0)
		check_file(st.file);
	else
		check_sentence(err);

	rc = request_parse_read(body, size, &rr, err, sizeof(err));
	if (rc == 0) {
		check_info(&rr.info);
		if (rr.tail < -1)
			abort();
		request_read_release(&rr);
	} else {
		check_sentence(err);
		if (rr.info.info != NULL)
			abort();
	}
	return 0;
}
