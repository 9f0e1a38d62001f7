/* SPDX-License-Identifier: Apache-2.0 */
/*
 * request_parse_*() against bodies shaped as dockerd sends them (Go's
 * encoding/json output, protocol notes 2.3-2.5) and against tables of bad
 * bodies with the exact sentence each must produce.  jansson's allocator is
 * replaced by a counting one, so every case also proves that a failed parse
 * holds nothing and a release frees everything.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "plugin/request.h"

#define ID	       "3afd3a89837b50c8c5a5081b6a36603c845696b8c07f95b7686f3b47f9ec10ba"
#define NAME	       "0ca1602c8c33ef9a10b37528117ece8779bd5f11b469fb6e5320b95a582a4114"
#define DIR	       "/run/docker/logging"
#define FIFO	       DIR "/" NAME
#define INFO	       "{\"ContainerID\":\"" ID "\"}"
#define START_OK(file) "{\"File\":\"" file "\",\"Info\":" INFO "}"
#define READ_OK(cfg)   "{\"Info\":" INFO ",\"Config\":" cfg "}"

/* 2024-05-01T12:00:00Z */
#define T0 INT64_C(1714564800000000000)

/* The StartLogging body of protocol notes 2.3, byte for byte as Go's
 * json.Encoder writes it: no spaces, map keys sorted, <>& escaped, "\n". */
static const char dockerd_start[] =
	"{\"File\":\"/run/docker/logging/" NAME "\",\"Info\":{\"Config\":{"
	"\"max-size\":\"10m\",\"mode\":\"non-blocking\",\"tag\":"
	"\"\\u003cweb\\u003e\"},\"ContainerID\":\"" ID "\","
	"\"ContainerName\":\"/web\",\"ContainerEntrypoint\":\"nginx\","
	"\"ContainerArgs\":[\"-g\",\"daemon off;\"],\"ContainerImageID\":"
	"\"sha256:" NAME "\",\"ContainerImageName\":\"nginx:latest\","
	"\"ContainerCreated\":\"2024-05-01T12:00:00.123456789Z\","
	"\"ContainerEnv\":[\"PATH=/usr/local/sbin:/usr/local/bin\","
	"\"FOO=bar\"],\"ContainerLabels\":{\"com.example.team\":\"x\"},"
	"\"LogPath\":\"\",\"DaemonName\":\"docker\"}}\n";

static long live_allocs;

static void *count_malloc(size_t n)
{
	void *p = malloc(n);

	if (p != NULL)
		live_allocs++;
	return p;
}

static void count_free(void *p)
{
	if (p != NULL)
		live_allocs--;
	free(p);
}

static const char *const exit_code_phrases[] = {
	"no such file or directory",
	"executable file not found",
	"system cannot find the file specified",
	"permission denied",
	"not a directory",
};

/* What every error sentence must be, whatever the input. */
static void check_sentence(const char *err)
{
	size_t i;

	assert_true(strlen(err) > 0);
	assert_true(strlen(err) < REQUEST_ERR_MAX);
	for (i = 0; err[i] != '\0'; i++) {
		if ((unsigned char)err[i] < 0x20 ||
		    (unsigned char)err[i] >= 0x7f)
			fail_msg("byte 0x%02x in \"%s\"", (unsigned char)err[i],
				 err);
	}
	for (i = 0;
	     i < sizeof(exit_code_phrases) / sizeof(exit_code_phrases[0]);
	     i++) {
		if (strcasestr(err, exit_code_phrases[i]) != NULL)
			fail_msg("\"%s\" holds \"%s\"", err,
				 exit_code_phrases[i]);
	}
}

struct bad {
	const char *body;
	size_t len;
	const char *want; /* the sentence, or a part of it when !exact */
	bool exact;
};

#define EXACT(b, w)                                                            \
	{                                                                      \
		b, sizeof(b) - 1, w, true                                      \
	}
#define PART(b, w)                                                             \
	{                                                                      \
		b, sizeof(b) - 1, w, false                                     \
	}

static void check_error(size_t i, const struct bad *c, int rc, const char *err)
{
	if (rc != -EINVAL)
		fail_msg("case %zu (%s): rc %d", i, c->body, rc);
	check_sentence(err);
	if (c->exact ? strcmp(err, c->want) != 0 : strstr(err, c->want) == NULL)
		fail_msg("case %zu (%s):\n got  %s\n want %s%s", i, c->body,
			 err, c->exact ? "" : "... ", c->want);
	assert_int_equal(live_allocs, 0);
}

/* ---- StartLogging ---- */

static void test_start_dockerd_body(void **state)
{
	struct start_request r;
	char err[REQUEST_ERR_MAX] = "";
	json_t *v;

	(void)state;
	assert_int_equal(request_parse_start(dockerd_start,
					     sizeof(dockerd_start) - 1, DIR, &r,
					     err, sizeof(err)),
			 0);
	assert_string_equal(err, "");
	assert_string_equal(r.file, FIFO);
	assert_string_equal(r.info.container_id, ID);
	assert_non_null(r.info.config);
	assert_int_equal(json_object_size(r.info.config), 3);
	assert_string_equal(
		json_string_value(json_object_get(r.info.config, "max-size")),
		"10m");
	assert_string_equal(
		json_string_value(json_object_get(r.info.config, "tag")),
		"<web>");
	/* config is borrowed from the Info object kept whole. */
	assert_ptr_equal(r.info.config, json_object_get(r.info.info, "Config"));
	v = json_object_get(r.info.info, "ContainerName");
	assert_string_equal(json_string_value(v), "/web");
	assert_int_equal(
		json_array_size(json_object_get(r.info.info, "ContainerEnv")),
		2);
	assert_true(live_allocs > 0);
	request_start_release(&r);
	assert_int_equal(live_allocs, 0);
	assert_null(r.info.info);
	assert_null(r.info.config);
	/* Releasing twice, or a zeroed struct, is harmless. */
	request_start_release(&r);
}

static void test_start_good(void **state)
{
	static const struct {
		const char *body;
		const char *dir;
		const char *file;
		bool has_config;
	} cases[] = {
		{START_OK(FIFO), DIR, FIFO, false},
		/* The directory is the same with a trailing slash. */
		{START_OK(FIFO), DIR "/", FIFO, false},
		{START_OK(FIFO), DIR "//", FIFO, false},
		{START_OK(DIR "/a.b-c_D9"), DIR, DIR "/a.b-c_D9", false},
		{START_OK(DIR "/..."), DIR, DIR "/...", false},
		{START_OK("/x"), "/", "/x", false},
		{START_OK("/x"), "", "/x", false},
		{"{\"File\":\"" FIFO "\",\"Info\":{\"ContainerID\":\"" ID
		 "\",\"Config\":null}}",
		 DIR, FIFO, false},
		{"{\"File\":\"" FIFO "\",\"Info\":{\"ContainerID\":\"" ID
		 "\",\"Config\":{}}}",
		 DIR, FIFO, true},
		/* Go matches keys ignoring case. */
		{"{\"file\":\"" FIFO "\",\"INFO\":{\"containerId\":\"" ID
		 "\",\"config\":{\"a\":\"b\"}}}",
		 DIR, FIFO, true},
		/* An exact key wins over one that only matches folded. */
		{"{\"file\":\"/tmp/x\",\"File\":\"" FIFO "\",\"Info\":" INFO
		 "}",
		 DIR, FIFO, false},
		{"{\"File\":\"" FIFO "\",\"file\":\"/tmp/x\",\"Info\":" INFO
		 "}",
		 DIR, FIFO, false},
		/* Unknown keys are ignored, as Go does. */
		{"{\"Extra\":[1,{}],\"File\":\"" FIFO "\",\"Info\":" INFO "}",
		 DIR, FIFO, false},
		{" \r\n\t" START_OK(FIFO) " \n", DIR, FIFO, false},
	};
	struct start_request r;
	char err[REQUEST_ERR_MAX];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		rc = request_parse_start(cases[i].body, strlen(cases[i].body),
					 cases[i].dir, &r, err, sizeof(err));
		if (rc != 0)
			fail_msg("case %zu (%s): %s", i, cases[i].body, err);
		assert_string_equal(r.file, cases[i].file);
		assert_string_equal(r.info.container_id, ID);
		assert_true(cases[i].has_config == (r.info.config != NULL));
		request_start_release(&r);
		assert_int_equal(live_allocs, 0);
	}
}

static void test_start_name_max(void **state)
{
	char name[REQUEST_FIFO_NAME_MAX + 2];
	char body[1024];
	char err[REQUEST_ERR_MAX];
	struct start_request r;

	(void)state;
	memset(name, 'n', sizeof(name) - 1);
	name[REQUEST_FIFO_NAME_MAX] = '\0';
	snprintf(body, sizeof(body), "{\"File\":\"%s/%s\",\"Info\":%s}", DIR,
		 name, INFO);
	assert_int_equal(request_parse_start(body, strlen(body), DIR, &r, err,
					     sizeof(err)),
			 0);
	assert_int_equal(strlen(r.file), strlen(DIR) + 1 + strlen(name));
	request_start_release(&r);

	name[REQUEST_FIFO_NAME_MAX] = 'n';
	name[REQUEST_FIFO_NAME_MAX + 1] = '\0';
	snprintf(body, sizeof(body), "{\"File\":\"%s/%s\",\"Info\":%s}", DIR,
		 name, INFO);
	assert_int_equal(request_parse_start(body, strlen(body), DIR, &r, err,
					     sizeof(err)),
			 -EINVAL);
	check_sentence(err);
	/* The value is cut to 64 characters, marked with "...". */
	assert_string_equal(
		err, "StartLogging: File must be a FIFO path directly under "
		     "/run/docker/logging named by 1-128 characters of "
		     "[A-Za-z0-9._-] other than . and .., got "
		     "\"/run/docker/logging/"
		     "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\"...");
	assert_null(r.info.info);
	assert_int_equal(live_allocs, 0);
}

#define FILE_FORM "File must be a FIFO path directly under /run/docker/logging"
#define NAME_FORM                                                              \
	FILE_FORM " named by 1-128 characters of [A-Za-z0-9._-] other than "   \
		  ". and .., got "
#define BAD_START(file)                                                        \
	EXACT(START_OK(file), "StartLogging: " NAME_FORM "\"" file "\"")

static const struct bad bad_start[] = {
	EXACT("", "StartLogging: empty body, expected {\"File\": ..., "
		  "\"Info\": {...}}"),
	EXACT(" \n", "StartLogging: empty body, expected {\"File\": ..., "
		     "\"Info\": {...}}"),
	EXACT("{\"File\":\"" FIFO "\"",
	      "StartLogging: body is not JSON: '}' expected near end of file "
	      "(line 1, column 94)"),
	EXACT("{\"File\":\"" FIFO "\",\"Info\":{\"ContainerID\":\"" ID,
	      "StartLogging: body is not JSON: premature end of input (line 1, "
	      "column 182)"),
	EXACT("hello", "StartLogging: body is not JSON: invalid token near "
		       "'hello' (line 1, column 5)"),
	PART("{\"File\":\"" FIFO "\",\"File\":\"x\",\"Info\":" INFO "}",
	     "StartLogging: body is not JSON: duplicate object key"),
	PART("{\"File\xff\":1}", "StartLogging: body is not JSON: "),
	PART("\x00{}", "StartLogging: body is not JSON: "),
	/* jansson quotes the raw bytes near an error: they come out escaped. */
	EXACT("{\"File\":\"a\x01\xfe\"}",
	      "StartLogging: body is not JSON: control character 0x1 near "
	      "'\\\"a' (line 1, column 10)"),
	PART("{\"File\":1.5e99999}",
	     "StartLogging: body has a number out of range: real number "
	     "overflow near '1.5e99999' (line 1, column "),
	EXACT("[]", "StartLogging: body must be a JSON object {\"File\": ..., "
		    "\"Info\": {...}}, got an array"),
	EXACT("null", "StartLogging: body must be a JSON object {\"File\": "
		      "..., \"Info\": {...}}, got null"),
	EXACT("\"x\"", "StartLogging: body must be a JSON object {\"File\": "
		       "..., \"Info\": {...}}, got \"x\""),
	EXACT("{}", "StartLogging: File is missing, it must be a FIFO path "
		    "directly under /run/docker/logging"),
	EXACT("{\"Info\":" INFO "}",
	      "StartLogging: File is missing, it must be a FIFO path directly "
	      "under /run/docker/logging"),
	EXACT("{\"File\":42,\"Info\":" INFO "}",
	      "StartLogging: " FILE_FORM ", got 42"),
	EXACT("{\"File\":null,\"Info\":" INFO "}",
	      "StartLogging: " FILE_FORM ", got null"),
	EXACT("{\"File\":[\"" FIFO "\"],\"Info\":" INFO "}",
	      "StartLogging: " FILE_FORM ", got an array"),
	EXACT(START_OK("/tmp/x"), "StartLogging: File must be a FIFO path "
				  "directly under /run/docker/logging, got "
				  "\"/tmp/x\""),
	EXACT(START_OK(""), "StartLogging: " FILE_FORM ", got \"\""),
	EXACT(START_OK(DIR),
	      "StartLogging: " FILE_FORM ", got \"/run/docker/logging\""),
	EXACT(START_OK("/run/docker/loggingX/" NAME),
	      "StartLogging: " FILE_FORM ", got "
	      "\"/run/docker/loggingX/"
	      "0ca1602c8c33ef9a10b37528117ece8779bd5f11b46\"..."),
	EXACT(START_OK("run/docker/logging/abc"),
	      "StartLogging: " FILE_FORM ", got \"run/docker/logging/abc\""),
	EXACT(START_OK("/run/docker/abc"),
	      "StartLogging: " FILE_FORM ", got \"/run/docker/abc\""),
	BAD_START(DIR "/"),
	BAD_START(DIR "/."),
	BAD_START(DIR "/.."),
	BAD_START(DIR "/../../etc/passwd"),
	BAD_START(DIR "/abc/"),
	BAD_START(DIR "//abc"),
	BAD_START(DIR "/sub/abc"),
	BAD_START(DIR "/a b"),
	BAD_START(DIR "/a:b"),
	EXACT(START_OK(DIR "/a\\u0000b"),
	      "StartLogging: " NAME_FORM "\"/run/docker/logging/a\\x00b\""),
	EXACT(START_OK(DIR "/\\u00e9\\n\\\"\\\\"),
	      "StartLogging: " NAME_FORM
	      "\"/run/docker/logging/\\xc3\\xa9\\n\\\"\\\\\""),
	/* A hostile value cannot smuggle in dockerd's exit-code phrases. */
	EXACT(START_OK("/tmp/No such file or directory"),
	      "StartLogging: " FILE_FORM
	      ", got \"/tmp/No_such file or directory\""),
	EXACT(START_OK(DIR "/permission denied"),
	      "StartLogging: " NAME_FORM
	      "\"/run/docker/logging/permission_denied\""),
	EXACT("{\"File\":\"" FIFO "\"}",
	      "StartLogging: Info is missing, it must be an object with "
	      "ContainerID"),
	EXACT("{\"File\":\"" FIFO "\",\"Info\":null}",
	      "StartLogging: Info must be an object with ContainerID, got "
	      "null"),
	EXACT("{\"File\":\"" FIFO "\",\"Info\":\"" ID "\"}",
	      "StartLogging: Info must be an object with ContainerID, got "
	      "\"3afd3a89837b50c8c5a5081b6a36603c845696b8c07f95b7686f3b47f9ec10"
	      "ba\""),
	EXACT("{\"File\":\"" FIFO "\",\"Info\":[]}",
	      "StartLogging: Info must be an object with ContainerID, got an "
	      "array"),
	EXACT("{\"File\":\"" FIFO "\",\"Info\":{}}",
	      "StartLogging: Info.ContainerID is missing, it must be 64 "
	      "lowercase hex digits"),
	EXACT("{\"File\":\"" FIFO "\",\"Info\":{\"ContainerID\":null}}",
	      "StartLogging: Info.ContainerID must be 64 lowercase hex digits, "
	      "got null"),
	EXACT("{\"File\":\"" FIFO "\",\"Info\":{\"ContainerID\":7}}",
	      "StartLogging: Info.ContainerID must be 64 lowercase hex digits, "
	      "got 7"),
	EXACT("{\"File\":\"" FIFO "\",\"Info\":{\"ContainerID\":\"abc\"}}",
	      "StartLogging: Info.ContainerID must be 64 lowercase hex digits, "
	      "got \"abc\""),
	/* 63 and 65 digits. */
	PART("{\"File\":\"" FIFO "\",\"Info\":{\"ContainerID\":"
	     "\"3afd3a89837b50c8c5a5081b6a36603c845696b8c07f95b7686f3b47f9ec10b"
	     "\"}}",
	     "StartLogging: Info.ContainerID must be 64 lowercase hex digits, "
	     "got \""),
	PART("{\"File\":\"" FIFO "\",\"Info\":{\"ContainerID\":\"" ID "0\"}}",
	     "StartLogging: Info.ContainerID must be 64 lowercase hex digits, "
	     "got \""),
	EXACT("{\"File\":\"" FIFO "\",\"Info\":{\"ContainerID\":"
	      "\"3AFD3A89837B50C8C5A5081B6A36603C845696B8C07F95B7686F3B47F9EC10"
	      "BA\"}}",
	      "StartLogging: Info.ContainerID must be 64 lowercase hex digits, "
	      "got \"3AFD3A89837B50C8C5A5081B6A36603C845696B8C07F95B7686F3B47F9"
	      "EC10BA\""),
	EXACT("{\"File\":\"" FIFO "\",\"Info\":{\"ContainerID\":"
	      "\"gafd3a89837b50c8c5a5081b6a36603c845696b8c07f95b7686f3b47f9ec10"
	      "ba\"}}",
	      "StartLogging: Info.ContainerID must be 64 lowercase hex digits, "
	      "got \"gafd3a89837b50c8c5a5081b6a36603c845696b8c07f95b7686f3b47f9"
	      "ec10ba\""),
	/* 64 characters, the last a NUL. */
	EXACT("{\"File\":\"" FIFO "\",\"Info\":{\"ContainerID\":"
	      "\"3afd3a89837b50c8c5a5081b6a36603c845696b8c07f95b7686f3b47f9ec10"
	      "b"
	      "\\u0000\"}}",
	      "StartLogging: Info.ContainerID must be 64 lowercase hex digits, "
	      "got \"3afd3a89837b50c8c5a5081b6a36603c845696b8c07f95b7686f3b47f9"
	      "ec10b\"..."),
	EXACT("{\"File\":\"" FIFO "\",\"Info\":{\"ContainerID\":\"" ID
	      "\",\"Config\":[]}}",
	      "StartLogging: Info.Config must be an object of string values, "
	      "got an array"),
	EXACT("{\"File\":\"" FIFO "\",\"Info\":{\"ContainerID\":\"" ID
	      "\",\"Config\":\"max-size=1m\"}}",
	      "StartLogging: Info.Config must be an object of string values, "
	      "got \"max-size=1m\""),
	EXACT("{\"File\":\"" FIFO "\",\"Info\":{\"ContainerID\":\"" ID
	      "\",\"Config\":{\"mode\":\"blocking\",\"max-size\":10}}}",
	      "StartLogging: Info.Config[\"max-size\"] must be a string, got "
	      "10"),
	EXACT("{\"File\":\"" FIFO "\",\"Info\":{\"ContainerID\":\"" ID
	      "\",\"Config\":{\"a\\\"\\n\":null}}}",
	      "StartLogging: Info.Config[\"a\\\"\\n\"] must be a string, got "
	      "null"),
	EXACT("{\"File\":\"" FIFO "\",\"Info\":{\"ContainerID\":\"" ID
	      "\",\"Config\":{\"x\":{}}}}",
	      "StartLogging: Info.Config[\"x\"] must be a string, got an "
	      "object"),
	EXACT("{\"File\":\"" FIFO "\",\"Info\":{\"ContainerID\":\"" ID
	      "\",\"Config\":{\"x\":true}}}",
	      "StartLogging: Info.Config[\"x\"] must be a string, got true"),
	EXACT("{\"File\":\"" FIFO "\",\"Info\":{\"ContainerID\":\"" ID
	      "\",\"Config\":{\"tag\":\"a\\u0000b\"}}}",
	      "StartLogging: Info.Config[\"tag\"] must be a string without "
	      "NUL bytes, got \"a\\x00b\""),
};

static void test_start_bad(void **state)
{
	struct start_request r;
	char err[REQUEST_ERR_MAX];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(bad_start) / sizeof(bad_start[0]); i++) {
		memset(err, 'x', sizeof(err));
		memset(&r, 0xa5, sizeof(r));
		rc = request_parse_start(bad_start[i].body, bad_start[i].len,
					 DIR, &r, err, sizeof(err));
		check_error(i, &bad_start[i], rc, err);
		/* Nothing to release, and releasing anyway is safe. */
		assert_null(r.info.info);
		request_start_release(&r);
	}
}

static void test_body_limit(void **state)
{
	struct start_request r;
	char err[REQUEST_ERR_MAX];
	char *body;
	size_t head;

	(void)state;
	body = malloc(REQUEST_BODY_MAX + 1);
	assert_non_null(body);
	memset(body, ' ', REQUEST_BODY_MAX + 1);
	head = strlen(START_OK(FIFO));
	memcpy(body, START_OK(FIFO), head);
	/* Exactly the limit is parsed... */
	assert_int_equal(request_parse_start(body, REQUEST_BODY_MAX, DIR, &r,
					     err, sizeof(err)),
			 0);
	request_start_release(&r);
	/* ...one byte more is refused unread. */
	assert_int_equal(request_parse_start(body, REQUEST_BODY_MAX + 1, DIR,
					     &r, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "StartLogging: body of 1048577 bytes is over "
				 "the limit of 1048576 bytes");
	free(body);
	assert_int_equal(live_allocs, 0);
}

static bool valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int follow;

	while (*p != '\0') {
		if (*p < 0x80)
			follow = 0;
		else if ((*p & 0xe0) == 0xc0)
			follow = 1;
		else if ((*p & 0xf0) == 0xe0)
			follow = 2;
		else if ((*p & 0xf8) == 0xf0)
			follow = 3;
		else
			return false;
		p++;
		while (follow-- > 0) {
			if ((*p & 0xc0) != 0x80)
				return false;
			p++;
		}
	}
	return true;
}

/* A short buffer gets a cut sentence, never an overrun or a cut character. */
static void test_err_truncation(void **state)
{
	static const char dir[] = "/run/d\xc3\xb6\xe2\x82\xac/logging";
	struct start_request r;
	char err[REQUEST_ERR_MAX + 1];
	size_t n;

	(void)state;
	for (n = 1; n <= REQUEST_ERR_MAX; n++) {
		memset(err, 'x', sizeof(err));
		assert_int_equal(request_parse_start(START_OK("/tmp/x"),
						     strlen(START_OK("/tmp/x")),
						     dir, &r, err, n),
				 -EINVAL);
		assert_true(strlen(err) < n);
		assert_int_equal(err[n], 'x');
		assert_true(valid_utf8(err));
	}
	assert_string_equal(err, "StartLogging: File must be a FIFO path "
				 "directly under /run/d\xc3\xb6\xe2\x82\xac/"
				 "logging, got \"/tmp/x\"");
	/* No buffer at all is allowed too. */
	assert_int_equal(request_parse_start("", 0, DIR, &r, NULL, 0), -EINVAL);
	assert_int_equal(live_allocs, 0);
}

/* ---- StopLogging ---- */

static void test_stop(void **state)
{
	static const char body[] = "{\"File\":\"" FIFO "\"}\n";
	struct stop_request r;
	char err[REQUEST_ERR_MAX];

	(void)state;
	assert_int_equal(request_parse_stop(body, sizeof(body) - 1, DIR, &r,
					    err, sizeof(err)),
			 0);
	assert_string_equal(r.file, FIFO);
	/* Info, if any, is not looked at. */
	assert_int_equal(
		request_parse_stop("{\"file\":\"" FIFO "\",\"Info\":7}",
				   strlen("{\"file\":\"" FIFO "\",\"Info\":7}"),
				   DIR "/", &r, err, sizeof(err)),
		0);
	assert_string_equal(r.file, FIFO);
	assert_int_equal(live_allocs, 0);
}

static const struct bad bad_stop[] = {
	EXACT("", "StopLogging: empty body, expected {\"File\": ...}"),
	EXACT("{\"File\":", "StopLogging: body is not JSON: unexpected token "
			    "near end of file (line 1, column 8)"),
	EXACT("{\"File\":\"/tmp/x\"}",
	      "StopLogging: File must be a FIFO path "
	      "directly under /run/docker/logging, got "
	      "\"/tmp/x\""),
	EXACT("{\"File\":\"" DIR "/../../etc/passwd\"}",
	      "StopLogging: " NAME_FORM
	      "\"/run/docker/logging/../../etc/passwd\""),
	EXACT("{\"File\":false}", "StopLogging: " FILE_FORM ", got false"),
	EXACT("{}", "StopLogging: File is missing, it must be a FIFO path "
		    "directly under /run/docker/logging"),
	EXACT("[1]", "StopLogging: body must be a JSON object {\"File\": ...}, "
		     "got an array"),
};

static void test_stop_bad(void **state)
{
	struct stop_request r;
	char err[REQUEST_ERR_MAX];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(bad_stop) / sizeof(bad_stop[0]); i++) {
		rc = request_parse_stop(bad_stop[i].body, bad_stop[i].len, DIR,
					&r, err, sizeof(err));
		check_error(i, &bad_stop[i], rc, err);
		assert_string_equal(r.file, "");
	}
}

/* ---- ReadLogs ---- */

static void test_read_dockerd_body(void **state)
{
	static const char body[] =
		"{\"Info\":{\"Config\":{\"max-size\":\"10m\"},\"ContainerID\":"
		"\"" ID "\",\"ContainerName\":\"/web\",\"ContainerArgs\":null,"
		"\"ContainerLabels\":null,\"LogPath\":\"\",\"DaemonName\":"
		"\"docker\"},\"Config\":{\"Since\":\"0001-01-01T00:00:00Z\","
		"\"Until\":\"0001-01-01T00:00:00Z\",\"Tail\":-1,\"Follow\":"
		"true}}\n";
	struct read_request r;
	char err[REQUEST_ERR_MAX];

	(void)state;
	assert_int_equal(request_parse_read(body, sizeof(body) - 1, &r, err,
					    sizeof(err)),
			 0);
	assert_string_equal(r.info.container_id, ID);
	assert_string_equal(
		json_string_value(json_object_get(r.info.config, "max-size")),
		"10m");
	assert_string_equal(json_string_value(json_object_get(r.info.info,
							      "ContainerName")),
			    "/web");
	assert_int_equal(r.since_ns, 0);
	assert_int_equal(r.until_ns, 0);
	assert_int_equal(r.tail, -1);
	assert_true(r.follow);
	request_read_release(&r);
	assert_null(r.info.info);
	assert_int_equal(live_allocs, 0);
	request_read_release(&r);
}

static void test_read_good(void **state)
{
	static const struct {
		const char *body;
		int64_t since_ns, until_ns, tail;
		bool follow;
	} cases[] = {
		{READ_OK("{\"Since\":\"2024-05-01T12:00:00Z\",\"Until\":"
			 "\"2024-05-01T12:00:01.5Z\",\"Tail\":10,\"Follow\":"
			 "false}"),
		 T0, T0 + 1500000000, 10, false},
		/* dockerd writes local time: the same instants at +02:00 and
		 * -05:00 give the same numbers. */
		{READ_OK("{\"Since\":\"2024-05-01T14:00:00+02:00\",\"Until\":"
			 "\"2024-05-01T07:00:01.5-05:00\",\"Tail\":10}"),
		 T0, T0 + 1500000000, 10, false},
		{READ_OK("{\"Since\":\"2024-05-01T12:00:00.123456789Z\"}"),
		 T0 + 123456789, 0, -1, false},
		{READ_OK("{\"Since\":\"2024-05-01T21:30:00.000000001+09:30\"}"),
		 T0 + 1, 0, -1, false},
		/* Go's zero time and null are "unset". */
		{READ_OK("{\"Since\":\"0001-01-01T00:00:00Z\",\"Until\":null,"
			 "\"Tail\":0}"),
		 0, 0, 0, false},
		/* Outside int64 nanoseconds: clamped to what they mean. */
		{READ_OK("{\"Since\":\"1500-01-01T00:00:00Z\",\"Until\":"
			 "\"3000-01-01T00:00:00+02:00\"}"),
		 0, 0, -1, false},
		{READ_OK("{\"Since\":\"3000-01-01T00:00:00Z\",\"Until\":"
			 "\"1000-06-01T00:00:00.5Z\"}"),
		 INT64_MAX, INT64_MIN, -1, false},
		{READ_OK("{\"Until\":\"0001-01-01T00:00:00.000000001Z\"}"), 0,
		 INT64_MIN, -1, false},
		/* One nanosecond past either end of the range. */
		{READ_OK("{\"Since\":\"2262-04-11T23:47:16.854775808Z\","
			 "\"Until\":\"1677-09-21T00:12:43.145224191Z\"}"),
		 INT64_MAX, INT64_MIN, -1, false},
		{READ_OK("{\"Since\":\"1677-09-21T00:12:43.145224191Z\","
			 "\"Until\":\"2262-04-11T23:47:16.854775808Z\"}"),
		 0, 0, -1, false},
		{READ_OK("{\"Since\":\"1677-09-21T00:12:43.145224192Z\","
			 "\"Until\":\"2262-04-11T23:47:16.854775807Z\"}"),
		 INT64_MIN, INT64_MAX, -1, false},
		{READ_OK("{\"Since\":\"1600-02-29T00:00:00Z\"}"), 0, 0, -1,
		 false},
		/* Config missing, null or empty: the defaults. */
		{"{\"Info\":" INFO "}", 0, 0, -1, false},
		{READ_OK("null"), 0, 0, -1, false},
		{READ_OK("{}"), 0, 0, -1, false},
		{READ_OK("{\"Tail\":null,\"Follow\":null}"), 0, 0, -1, false},
		/* Negative Tail is "all"; integral floats are integers. */
		{READ_OK("{\"Tail\":-5}"), 0, 0, -1, false},
		{READ_OK("{\"Tail\":-9223372036854775808}"), 0, 0, -1, false},
		{READ_OK("{\"Tail\":9223372036854775807}"), 0, 0, INT64_MAX,
		 false},
		{READ_OK("{\"Tail\":5.0}"), 0, 0, 5, false},
		{READ_OK("{\"Tail\":1e3}"), 0, 0, 1000, false},
		{READ_OK("{\"Tail\":-2.0}"), 0, 0, -1, false},
		{READ_OK("{\"Tail\":-0.0}"), 0, 0, 0, false},
		/* Keys folded as Go does; exact ones win. */
		{"{\"info\":" INFO ",\"config\":{\"since\":"
		 "\"2024-05-01T12:00:00Z\",\"TAIL\":3,\"follow\":true}}",
		 T0, 0, 3, true},
		{READ_OK("{\"tail\":1,\"Tail\":2,\"TAIL\":3}"), 0, 0, 2, false},
	};
	struct read_request r;
	char err[REQUEST_ERR_MAX];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = request_parse_read(cases[i].body, strlen(cases[i].body),
					&r, err, sizeof(err));
		if (rc != 0)
			fail_msg("case %zu (%s): %s", i, cases[i].body, err);
		if (r.since_ns != cases[i].since_ns ||
		    r.until_ns != cases[i].until_ns ||
		    r.tail != cases[i].tail || r.follow != cases[i].follow)
			fail_msg("case %zu (%s): since %lld until %lld tail "
				 "%lld follow %d",
				 i, cases[i].body, (long long)r.since_ns,
				 (long long)r.until_ns, (long long)r.tail,
				 r.follow);
		assert_string_equal(r.info.container_id, ID);
		request_read_release(&r);
		assert_int_equal(live_allocs, 0);
	}
}

#define TIME_FORM "an RFC 3339 time such as \"2024-05-01T12:00:00.5+02:00\""

static const struct bad bad_read[] = {
	EXACT("", "ReadLogs: empty body, expected {\"Info\": {...}, "
		  "\"Config\": {...}}"),
	EXACT("\n\n", "ReadLogs: empty body, expected {\"Info\": {...}, "
		      "\"Config\": {...}}"),
	EXACT("{\"Info\":" INFO ",\"Config\":{\"Tail\":",
	      "ReadLogs: body is not JSON: unexpected token near end of file "
	      "(line 1, column 108)"),
	EXACT("{\"Info\":" INFO ",\n\"Config\":{\"Tail\":1,}}",
	      "ReadLogs: body is not JSON: string or '}' expected near '}' "
	      "(line 2, column 20)"),
	EXACT("true", "ReadLogs: body must be a JSON object {\"Info\": {...}, "
		      "\"Config\": {...}}, got true"),
	EXACT("{\"Config\":{}}", "ReadLogs: Info is missing, it must be an "
				 "object with ContainerID"),
	EXACT("{\"Info\":{\"ContainerID\":\"x\"}}",
	      "ReadLogs: Info.ContainerID must be 64 lowercase hex digits, got "
	      "\"x\""),
	EXACT(READ_OK("[]"), "ReadLogs: Config must be an object with Since, "
			     "Until, Tail and Follow, got an array"),
	EXACT(READ_OK("\"tail=1\""), "ReadLogs: Config must be an object with "
				     "Since, Until, Tail and Follow, got "
				     "\"tail=1\""),
	EXACT(READ_OK("{\"Since\":\"yesterday\"}"),
	      "ReadLogs: Config.Since must be " TIME_FORM
	      ", got \"yesterday\""),
	EXACT(READ_OK("{\"Since\":\"\"}"),
	      "ReadLogs: Config.Since must be " TIME_FORM ", got \"\""),
	EXACT(READ_OK("{\"Since\":1714564800}"),
	      "ReadLogs: Config.Since must be " TIME_FORM ", got 1714564800"),
	EXACT(READ_OK("{\"Until\":\"1714564800.5\"}"),
	      "ReadLogs: Config.Until must be " TIME_FORM
	      ", got \"1714564800.5\""),
	EXACT(READ_OK("{\"Until\":\"2024-05-01 12:00:00Z\"}"),
	      "ReadLogs: Config.Until must be " TIME_FORM
	      ", got \"2024-05-01 12:00:00Z\""),
	EXACT(READ_OK("{\"Until\":\"2024-05-01T12:00:00\"}"),
	      "ReadLogs: Config.Until must be " TIME_FORM
	      ", got \"2024-05-01T12:00:00\""),
	EXACT(READ_OK("{\"Since\":\"2024-05-01T12:00:00Z\\u0000\"}"),
	      "ReadLogs: Config.Since must be " TIME_FORM
	      ", got \"2024-05-01T12:00:00Z\\x00\""),
	/* A far year does not make a malformed time acceptable. */
	EXACT(READ_OK("{\"Since\":\"1500-13-45T00:00:00Z\"}"),
	      "ReadLogs: Config.Since must be " TIME_FORM
	      ", got \"1500-13-45T00:00:00Z\""),
	EXACT(READ_OK("{\"Since\":\"1500-02-29T00:00:00Z\"}"),
	      "ReadLogs: Config.Since must be " TIME_FORM
	      ", got \"1500-02-29T00:00:00Z\""),
	PART(READ_OK("{\"Since\":\"2024-05-01T12:00:00.1234567890123456789"
		     "01234567890123456789012345678901234567890Z\"}"),
	     "ReadLogs: Config.Since must be " TIME_FORM
	     ", got \"2024-05-01T12:00:00.1234567890"),
	EXACT(READ_OK("{\"Tail\":\"10\"}"),
	      "ReadLogs: Config.Tail must be an integer (-1 for all), got "
	      "\"10\""),
	EXACT(READ_OK("{\"Tail\":\"all\"}"),
	      "ReadLogs: Config.Tail must be an integer (-1 for all), got "
	      "\"all\""),
	EXACT(READ_OK("{\"Tail\":1.5}"), "ReadLogs: Config.Tail must be an "
					 "integer (-1 for all), got 1.5"),
	EXACT(READ_OK("{\"Tail\":1e30}"), "ReadLogs: Config.Tail must be an "
					  "integer (-1 for all), got 1e+30"),
	EXACT(READ_OK("{\"Tail\":-1e30}"), "ReadLogs: Config.Tail must be an "
					   "integer (-1 for all), got -1e+30"),
	EXACT(READ_OK("{\"Tail\":9223372036854775808.0}"),
	      "ReadLogs: Config.Tail must be an integer (-1 for all), got "
	      "9.22337203685478e+18"),
	EXACT(READ_OK("{\"Tail\":true}"), "ReadLogs: Config.Tail must be an "
					  "integer (-1 for all), got true"),
	EXACT(READ_OK("{\"Tail\":{}}"), "ReadLogs: Config.Tail must be an "
					"integer (-1 for all), got an object"),
	PART(READ_OK("{\"Tail\":99999999999999999999}"),
	     "ReadLogs: body has a number out of range: too big integer near "
	     "'99999999999999999999' (line 1, column "),
	EXACT(READ_OK("{\"Follow\":\"true\"}"),
	      "ReadLogs: Config.Follow must be true or false, got \"true\""),
	EXACT(READ_OK("{\"Follow\":1}"),
	      "ReadLogs: Config.Follow must be true or false, got 1"),
};

static void test_read_bad(void **state)
{
	struct read_request r;
	char err[REQUEST_ERR_MAX];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(bad_read) / sizeof(bad_read[0]); i++) {
		memset(&r, 0xa5, sizeof(r));
		rc = request_parse_read(bad_read[i].body, bad_read[i].len, &r,
					err, sizeof(err));
		check_error(i, &bad_read[i], rc, err);
		assert_null(r.info.info);
		request_read_release(&r);
	}
}

/* A test that failed half way leaves its objects behind: start afresh. */
static int reset_count(void **state)
{
	(void)state;
	live_allocs = 0;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_start_dockerd_body, reset_count),
		cmocka_unit_test_setup(test_start_good, reset_count),
		cmocka_unit_test_setup(test_start_name_max, reset_count),
		cmocka_unit_test_setup(test_start_bad, reset_count),
		cmocka_unit_test_setup(test_body_limit, reset_count),
		cmocka_unit_test_setup(test_err_truncation, reset_count),
		cmocka_unit_test_setup(test_stop, reset_count),
		cmocka_unit_test_setup(test_stop_bad, reset_count),
		cmocka_unit_test_setup(test_read_dockerd_body, reset_count),
		cmocka_unit_test_setup(test_read_good, reset_count),
		cmocka_unit_test_setup(test_read_bad, reset_count),
	};

	json_set_alloc_funcs(count_malloc, count_free);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
