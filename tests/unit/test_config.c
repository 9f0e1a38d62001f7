/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_parse() and config_node_parse(): every option with valid values
 * and the exact typed result, invalid values with the exact sentence (whole
 * for a representative set, a distinctive part elsewhere), precedence of
 * container over DEFAULT_LOG_OPTS over built-in defaults, derived bursts,
 * DEFAULT_LOG_OPTS splitting, tag templates, attrs selection, and the
 * promises every error sentence keeps.  malloc is interposed (outside
 * sanitizer builds) to fail each allocation in turn and prove that every
 * failure path frees what it took.
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

#include "config/config.h"
#include "config/units.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define VALID_OPTS                                                             \
	"valid options: rate-limit, rate-burst, rate-limit-lines, "            \
	"rate-burst-lines, rate-policy, rate-notice, max-size, max-file, "     \
	"compress, labels, labels-regex, env, env-regex, tag"
#define TAG_FIELDS                                                             \
	"expected text and the fields {{.ID}}, {{.FullID}}, {{.Name}}, "       \
	"{{.ImageID}}, {{.ImageFullID}}, {{.ImageName}}, {{.DaemonName}}, "    \
	"{{.Command}}, {{.Hostname}}"
#define RATE_EXPECT                                                            \
	"expected a size in bytes per second such as 500k, 1m or 2.5m "        \
	"(decimal units), or 0 for unlimited"
#define BURST_EXPECT                                                           \
	"expected a size in bytes of at least 16384 (one 16 KiB dockerd "      \
	"chunk) such as 64k or 4m (decimal units)"
#define MAX_SIZE_EXPECT                                                        \
	"expected a size in bytes greater than 0 such as 10m or 1g (decimal "  \
	"units)"
#define ERE "expected a POSIX extended regular expression ("
/* 64 bytes: the most of a value a sentence quotes */
#define A64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"

/* ---- allocation failures ---- */

/*
 * With 'fail_at' > 0 the fail_at-th allocation from now fails; 'live'
 * counts blocks allocated and not yet freed while counting is on.  Only
 * possible where malloc can be replaced: not under ASan, TSan or MSan,
 * which own it (and under valgrind the test finds its malloc unused and
 * skips).
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CAN_FAIL_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||     \
	__has_feature(memory_sanitizer)
#define CAN_FAIL_MALLOC 0
#endif
#endif
#ifndef CAN_FAIL_MALLOC
#define CAN_FAIL_MALLOC 1
#endif

#if CAN_FAIL_MALLOC
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

static bool counting;
static long fail_at, n_allocs, live;

static bool should_fail(void)
{
	if (!counting)
		return false;
	n_allocs++;
	return fail_at > 0 && n_allocs == fail_at;
}

void *malloc(size_t n)
{
	void *p;

	if (should_fail())
		return NULL;
	p = __libc_malloc(n);
	if (p != NULL && counting)
		live++;
	return p;
}

void *calloc(size_t n, size_t size)
{
	void *p;

	if (should_fail())
		return NULL;
	p = __libc_calloc(n, size);
	if (p != NULL && counting)
		live++;
	return p;
}

void *realloc(void *old, size_t n)
{
	void *p;

	if (old == NULL)
		return malloc(n);
	if (should_fail())
		return NULL;
	p = __libc_realloc(old, n);
	if (n == 0 && counting)
		live--;
	return p;
}

void free(void *p)
{
	if (p != NULL && counting)
		live--;
	__libc_free(p);
}

static void count_start(long fail)
{
	fail_at = fail;
	n_allocs = 0;
	live = 0;
	counting = true;
}

static void count_stop(void)
{
	counting = false;
}
#endif

/* ---- helpers ---- */

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
	size_t i, len = strlen(err);

	if (len == 0 || len >= CONFIG_ERR_MAX - 1)
		fail_msg("sentence of %zu bytes: \"%s\"", len, err);
	for (i = 0; i < len; i++) {
		if ((unsigned char)err[i] < 0x20 ||
		    (unsigned char)err[i] >= 0x7f)
			fail_msg("byte 0x%02x in \"%s\"", (unsigned char)err[i],
				 err);
	}
	for (i = 0; i < ARRAY_LEN(exit_code_phrases); i++) {
		if (strcasestr(err, exit_code_phrases[i]) != NULL)
			fail_msg("\"%s\" holds \"%s\"", err,
				 exit_code_phrases[i]);
	}
}

static const struct log_config zero_cfg;

/* Parse one container option over 'node' (may be NULL). */
static int parse_one(const struct node_config *node, const char *key,
		     const char *value, struct log_config *out, char *err)
{
	struct config_kv kv = {key, value};

	return config_parse(node, &kv, 1, out, err, CONFIG_ERR_MAX);
}

static void node_from(const char *defaults, struct node_config *node)
{
	struct config_node_env env = {defaults, NULL, NULL, NULL, NULL};
	char err[CONFIG_ERR_MAX];

	if (config_node_parse(&env, node, err, sizeof(err)) != 0)
		fail_msg("DEFAULT_LOG_OPTS=\"%s\": %s", defaults, err);
}

/* ---- defaults ---- */

static void test_builtin_defaults(void **state)
{
	struct log_config c;
	char err[CONFIG_ERR_MAX] = "x";

	(void)state;
	assert_int_equal(config_parse(NULL, NULL, 0, &c, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(c.rate_limit_bytes, 1000000);
	assert_int_equal(c.rate_burst_bytes, 4000000);
	assert_int_equal(c.rate_limit_lines, 0);
	assert_int_equal(c.rate_burst_lines, 0);
	assert_int_equal(c.rate_policy, CONFIG_RATE_DROP);
	assert_true(c.rate_notice);
	assert_int_equal(c.max_size_bytes, 20000000);
	assert_int_equal(c.max_files, 5);
	assert_false(c.compress);
	assert_null(c.labels);
	assert_null(c.labels_regex);
	assert_null(c.env);
	assert_null(c.env_regex);
	assert_null(c.tag);
	assert_false(config_label_is_wanted(&c, "a"));
	assert_false(config_env_is_wanted(&c, "A"));
	config_release(&c);
	assert_memory_equal(&c, &zero_cfg, sizeof(c));
	/* Twice, and NULL, are harmless. */
	config_release(&c);
	config_release(NULL);
}

/* ---- valid values ---- */

enum field {
	F_RATE,
	F_BURST,
	F_LINES,
	F_BURST_LINES,
	F_POLICY,
	F_NOTICE,
	F_MAX_SIZE,
	F_MAX_FILE,
	F_COMPRESS,
};

static uint64_t field_value(const struct log_config *c, enum field f)
{
	switch (f) {
	case F_RATE:
		return c->rate_limit_bytes;
	case F_BURST:
		return c->rate_burst_bytes;
	case F_LINES:
		return c->rate_limit_lines;
	case F_BURST_LINES:
		return c->rate_burst_lines;
	case F_POLICY:
		return c->rate_policy;
	case F_NOTICE:
		return c->rate_notice;
	case F_MAX_SIZE:
		return c->max_size_bytes;
	case F_MAX_FILE:
		return c->max_files;
	case F_COMPRESS:
		return c->compress;
	}
	return UINT64_MAX;
}

struct good {
	const char *opts[3][2]; /* up to three key=value pairs */
	enum field field;
	uint64_t want;
};

static void test_good_values(void **state)
{
	static const struct good cases[] = {
		/* rate-limit, and the burst derived from it */
		{{{"rate-limit", "0"}}, F_RATE, 0},
		{{{"rate-limit", "0"}}, F_BURST, 0},
		{{{"rate-limit", "1"}}, F_RATE, 1},
		{{{"rate-limit", "1"}}, F_BURST, 16384},
		{{{"rate-limit", "4096"}}, F_BURST, 16384},
		{{{"rate-limit", "4096b"}}, F_BURST, 16384},
		{{{"rate-limit", "4.096k"}}, F_BURST, 16384},
		{{{"rate-limit", "4097"}}, F_BURST, 16388},
		{{{"rate-limit", "500k"}}, F_RATE, 500000},
		{{{"rate-limit", "500k"}}, F_BURST, 2000000},
		{{{"rate-limit", "1m"}}, F_RATE, 1000000},
		{{{"rate-limit", "2.5m"}}, F_RATE, 2500000},
		{{{"rate-limit", "2.5m"}}, F_BURST, 10000000},
		{{{"rate-limit", "10 MB"}}, F_RATE, 10000000},
		{{{"rate-limit", "1MiB"}}, F_RATE, 1000000},
		{{{"rate-limit", "1t"}}, F_RATE, 1000000000000},
		{{{"rate-limit", "1t"}}, F_BURST, 4000000000000},
		/* rate-burst */
		{{{"rate-burst", "16384"}}, F_BURST, 16384},
		{{{"rate-burst", "16.384k"}}, F_BURST, 16384},
		{{{"rate-burst", "64k"}}, F_BURST, 64000},
		{{{"rate-burst", "4m"}}, F_BURST, 4000000},
		{{{"rate-burst", "1152921504606846976"}},
		 F_BURST,
		 1152921504606846976u},
		/* a burst below the rate is allowed */
		{{{"rate-limit", "10m"}, {"rate-burst", "1m"}},
		 F_BURST,
		 1000000},
		/* unlimited makes the burst moot */
		{{{"rate-limit", "0"}, {"rate-burst", "64k"}}, F_BURST, 0},
		/* lines */
		{{{"rate-limit-lines", "0"}}, F_LINES, 0},
		{{{"rate-limit-lines", "0"}}, F_BURST_LINES, 0},
		{{{"rate-limit-lines", "1"}}, F_BURST_LINES, 4},
		{{{"rate-limit-lines", "1000"}}, F_LINES, 1000},
		{{{"rate-limit-lines", "1000"}}, F_BURST_LINES, 4000},
		{{{"rate-limit-lines", "+7"}}, F_LINES, 7},
		{{{"rate-limit-lines", "007"}}, F_BURST_LINES, 28},
		{{{"rate-limit-lines", "1000000000000"}},
		 F_BURST_LINES,
		 4000000000000},
		{{{"rate-limit-lines", "10"}, {"rate-burst-lines", "1"}},
		 F_BURST_LINES,
		 1},
		{{{"rate-limit-lines", "10"}, {"rate-burst-lines", "4000"}},
		 F_BURST_LINES,
		 4000},
		{{{"rate-burst-lines", "5"}}, F_BURST_LINES, 0},
		/* rate-policy */
		{{{"rate-policy", "drop"}}, F_POLICY, CONFIG_RATE_DROP},
		{{{"rate-policy", "block"}}, F_POLICY, CONFIG_RATE_BLOCK},
		/* rate-notice: strconv.ParseBool */
		{{{"rate-notice", "false"}}, F_NOTICE, 0},
		{{{"rate-notice", "0"}}, F_NOTICE, 0},
		{{{"rate-notice", "f"}}, F_NOTICE, 0},
		{{{"rate-notice", "F"}}, F_NOTICE, 0},
		{{{"rate-notice", "FALSE"}}, F_NOTICE, 0},
		{{{"rate-notice", "False"}}, F_NOTICE, 0},
		{{{"rate-notice", "true"}}, F_NOTICE, 1},
		{{{"rate-notice", "1"}}, F_NOTICE, 1},
		{{{"rate-notice", "t"}}, F_NOTICE, 1},
		{{{"rate-notice", "T"}}, F_NOTICE, 1},
		{{{"rate-notice", "TRUE"}}, F_NOTICE, 1},
		{{{"rate-notice", "True"}}, F_NOTICE, 1},
		/* max-size */
		{{{"max-size", "1"}}, F_MAX_SIZE, 1},
		{{{"max-size", "1b"}}, F_MAX_SIZE, 1},
		{{{"max-size", "1k"}}, F_MAX_SIZE, 1000},
		{{{"max-size", "10m"}}, F_MAX_SIZE, 10000000},
		{{{"max-size", "1.5m"}}, F_MAX_SIZE, 1500000},
		{{{"max-size", "1g"}}, F_MAX_SIZE, 1000000000},
		{{{"max-size", "20 MB"}}, F_MAX_SIZE, 20000000},
		{{{"max-size", "9223372036854775807"}},
		 F_MAX_SIZE,
		 9223372036854775807u},
		/* max-file: strconv.Atoi */
		{{{"max-file", "1"}}, F_MAX_FILE, 1},
		{{{"max-file", "2"}}, F_MAX_FILE, 2},
		{{{"max-file", "+3"}}, F_MAX_FILE, 3},
		{{{"max-file", "007"}}, F_MAX_FILE, 7},
		{{{"max-file", "10000"}}, F_MAX_FILE, 10000},
		/* compress */
		{{{"compress", "true"}}, F_COMPRESS, 1},
		{{{"compress", "1"}}, F_COMPRESS, 1},
		{{{"compress", "false"}}, F_COMPRESS, 0},
		{{{"compress", "true"}, {"max-file", "2"}}, F_COMPRESS, 1},
		{{{"compress", "false"}, {"max-file", "1"}}, F_COMPRESS, 0},
		/* dockerd's own options change nothing */
		{{{"mode", "non-blocking"},
		  {"max-buffer-size", "4m"},
		  {"cache-disabled", "true"}},
		 F_MAX_SIZE,
		 20000000},
		{{{"cache-max-size", "junk"},
		  {"cache-max-file", "junk"},
		  {"cache-compress", "junk"}},
		 F_MAX_FILE,
		 5},
	};
	size_t i, n;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		struct config_kv kv[3];
		struct log_config c;
		char err[CONFIG_ERR_MAX] = "";
		int rc;

		for (n = 0; n < 3 && cases[i].opts[n][0] != NULL; n++) {
			kv[n].key = cases[i].opts[n][0];
			kv[n].value = cases[i].opts[n][1];
		}
		rc = config_parse(NULL, kv, n, &c, err, sizeof(err));
		if (rc != 0)
			fail_msg("case %zu (%s=%s): rc %d: %s", i, kv[0].key,
				 kv[0].value, rc, err);
		if (field_value(&c, cases[i].field) != cases[i].want)
			fail_msg("case %zu (%s=%s): got %llu, want %llu", i,
				 kv[0].key, kv[0].value,
				 (unsigned long long)field_value(
					 &c, cases[i].field),
				 (unsigned long long)cases[i].want);
		config_release(&c);
	}
}

static void test_string_options(void **state)
{
	struct config_kv kv[] = {
		{"labels", "com.example.team,tier"},
		{"labels-regex", "^com\\.example\\."},
		{"env", "FOO,BAR"},
		{"env-regex", "^AWS_[[:upper:]]+$"},
		{"tag", "{{.Name}}/{{.ID}}"},
	};
	struct log_config c;
	char err[CONFIG_ERR_MAX];

	(void)state;
	assert_int_equal(
		config_parse(NULL, kv, ARRAY_LEN(kv), &c, err, sizeof(err)), 0);
	assert_string_equal(c.labels, "com.example.team,tier");
	assert_string_equal(c.labels_regex, "^com\\.example\\.");
	assert_string_equal(c.env, "FOO,BAR");
	assert_string_equal(c.env_regex, "^AWS_[[:upper:]]+$");
	assert_string_equal(c.tag, "{{.Name}}/{{.ID}}");
	/* The config holds copies, not the caller's strings. */
	assert_ptr_not_equal(c.labels, kv[0].value);
	assert_ptr_not_equal(c.tag, kv[4].value);
	config_release(&c);
	assert_memory_equal(&c, &zero_cfg, sizeof(c));

	/* "" is unset for the string options. */
	kv[0].value = kv[1].value = kv[2].value = kv[3].value = kv[4].value =
		"";
	assert_int_equal(
		config_parse(NULL, kv, ARRAY_LEN(kv), &c, err, sizeof(err)), 0);
	assert_null(c.labels);
	assert_null(c.labels_regex);
	assert_null(c.env);
	assert_null(c.env_regex);
	assert_null(c.tag);
	assert_false(config_label_is_wanted(&c, ""));
	config_release(&c);
}

/* Patterns people write are accepted, with POSIX meaning. */
static void test_regex_accepted(void **state)
{
	static const struct {
		const char *pat;
		const char *match;
		const char *no_match;
	} cases[] = {
		{"^com\\.docker\\.compose\\.", "com.docker.compose.project",
		 "com_docker_compose_x"},
		{"^[a-z0-9]{1,63}(\\.[a-z0-9]{1,63})*$", "a.b9.c", "a..b"},
		{"\\w+_TOKEN$", "GH_TOKEN", "_TOKEN"},
		{"^(FOO|BAR|BAZ)$", "BAR", "BARS"},
		{"[[:upper:]]+[[:digit:]]", "AB1", "ab1"},
		{"\\bid\\b", "my id here", "mid"},
		{"[]x]", "]", "y"},
		{"[^]x]", "y", "]]"},
		{"^x{2,3}$", "xxx", "xxxx"},
		{"\\.\\*\\{", ".*{", ".*"},
		{"^$", "", "a"},
		{"(a)(b)(c)", "abc", "acb"},
		{"^.{1,900}$", "short", ""},
		{"((a|b)+c){3}", "acbcabc", "acbc"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		struct log_config c;
		char err[CONFIG_ERR_MAX];

		if (parse_one(NULL, "labels-regex", cases[i].pat, &c, err) != 0)
			fail_msg("\"%s\": %s", cases[i].pat, err);
		if (!config_label_is_wanted(&c, cases[i].match) ||
		    config_label_is_wanted(&c, cases[i].no_match))
			fail_msg("\"%s\" matches wrongly", cases[i].pat);
		config_release(&c);
	}
}

static void test_attrs_selection(void **state)
{
	struct config_kv kv[] = {
		{"labels", "a,b,,sp ace"},
		{"labels-regex", "^com\\.example\\."},
		{"env", "FOO"},
		{"env-regex", "^AWS_[A-Z]+$|_TOKEN"},
	};
	struct log_config c;
	char err[CONFIG_ERR_MAX];

	(void)state;
	assert_int_equal(
		config_parse(NULL, kv, ARRAY_LEN(kv), &c, err, sizeof(err)), 0);
	/* labels: whole items, compared as json-file does (strings.Split) */
	assert_true(config_label_is_wanted(&c, "a"));
	assert_true(config_label_is_wanted(&c, "b"));
	assert_true(config_label_is_wanted(&c, ""));
	assert_true(config_label_is_wanted(&c, "sp ace"));
	assert_false(config_label_is_wanted(&c, "c"));
	assert_false(config_label_is_wanted(&c, "a,b"));
	assert_false(config_label_is_wanted(&c, "ab"));
	assert_false(config_label_is_wanted(&c, " a"));
	/* labels-regex: a match anywhere */
	assert_true(config_label_is_wanted(&c, "com.example.team"));
	assert_false(config_label_is_wanted(&c, "com_example_team"));
	assert_false(config_label_is_wanted(&c, "x.com.example.team"));
	/* env and env-regex */
	assert_true(config_env_is_wanted(&c, "FOO"));
	assert_false(config_env_is_wanted(&c, "FO"));
	assert_false(config_env_is_wanted(&c, "FOOD"));
	assert_true(config_env_is_wanted(&c, "AWS_REGION"));
	assert_false(config_env_is_wanted(&c, "AWS_region"));
	assert_true(config_env_is_wanted(&c, "MY_TOKEN_X"));
	assert_false(config_env_is_wanted(&c, "PATH"));
	/* regexes see names up to CONFIG_REGEX_NAME_MAX bytes */
	{
		char name[CONFIG_REGEX_NAME_MAX + 2];

		memset(name, 'X', sizeof(name) - 1);
		name[sizeof(name) - 1] = '\0';
		memcpy(name, "AWS_", 4);
		assert_false(config_env_is_wanted(&c, name));
		name[sizeof(name) - 2] = '\0';
		assert_true(config_env_is_wanted(&c, name));
		memcpy(name, "com.example.", 12);
		assert_true(config_label_is_wanted(&c, name));
	}
	/* the label settings do not select env and the other way round */
	assert_false(config_env_is_wanted(&c, "a"));
	assert_false(config_label_is_wanted(&c, "FOO"));
	assert_false(config_label_is_wanted(&c, "AWS_REGION"));
	config_release(&c);
}

/* ---- invalid values ---- */

struct bad {
	const char *key;
	const char *value;
	const char *want; /* the sentence, or a part of it when !exact */
	bool exact;
};

static void check_bad(const struct bad *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct log_config c;
		char err[CONFIG_ERR_MAX] = "";
		int rc = parse_one(NULL, cases[i].key, cases[i].value, &c, err);

		if (rc != -EINVAL)
			fail_msg("case %zu (%s=%s): rc %d", i, cases[i].key,
				 cases[i].value, rc);
		check_sentence(err);
		if (cases[i].exact ? strcmp(err, cases[i].want) != 0
				   : strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu (%s=%s):\n got  %s\n want %s%s", i,
				 cases[i].key, cases[i].value, err,
				 cases[i].exact ? "" : "... ", cases[i].want);
		/* Nothing to release after a failure. */
		assert_memory_equal(&c, &zero_cfg, sizeof(c));
	}
}

static void test_bad_rate_values(void **state)
{
	static const struct bad cases[] = {
		{"rate-limit", "-5",
		 "invalid log-opt rate-limit=\"-5\": " RATE_EXPECT, true},
		{"rate-limit", "",
		 "invalid log-opt rate-limit=\"\": " RATE_EXPECT, true},
		{"rate-limit", "2t",
		 "invalid log-opt rate-limit=\"2t\": too large; at most "
		 "1000000000000 bytes per second (0 means unlimited)",
		 true},
		{"rate-limit", "99999999999999999999999",
		 "too large; at most 1000000000000 bytes per second", false},
		{"rate-limit", "1e3", RATE_EXPECT, false},
		{"rate-limit", "1m/s", RATE_EXPECT, false},
		{"rate-limit", "0x10", RATE_EXPECT, false},
		{"rate-limit", " 1m", RATE_EXPECT, false},
		{"rate-limit", "1mm", RATE_EXPECT, false},
		{"rate-limit", "unlimited", RATE_EXPECT, false},
		{"rate-burst", "abc",
		 "invalid log-opt rate-burst=\"abc\": " BURST_EXPECT, true},
		/* 16k is 16000: not a whole 16 KiB chunk */
		{"rate-burst", "16k",
		 "invalid log-opt rate-burst=\"16k\": " BURST_EXPECT, true},
		{"rate-burst", "16383", BURST_EXPECT, false},
		{"rate-burst", "0", BURST_EXPECT, false},
		{"rate-burst", "-64k", BURST_EXPECT, false},
		{"rate-burst", "1152921504606846977",
		 "invalid log-opt rate-burst=\"1152921504606846977\": too "
		 "large; "
		 "at most 1152921504606846976 bytes",
		 true},
		{"rate-limit-lines", "-1",
		 "invalid log-opt rate-limit-lines=\"-1\": expected a whole "
		 "number of lines per second such as 1000, or 0 for unlimited",
		 true},
		{"rate-limit-lines", "1.5", "such as 1000, or 0 for unlimited",
		 false},
		{"rate-limit-lines", "1k", "such as 1000, or 0 for unlimited",
		 false},
		{"rate-limit-lines", "", "such as 1000, or 0 for unlimited",
		 false},
		{"rate-limit-lines", "-99999999999999999999",
		 "such as 1000, or 0 for unlimited", false},
		{"rate-limit-lines", "1000000000001",
		 "invalid log-opt rate-limit-lines=\"1000000000001\": too "
		 "large; "
		 "at most 1000000000000 lines per second (0 means unlimited)",
		 true},
		{"rate-limit-lines", "99999999999999999999",
		 "too large; at most 1000000000000 lines", false},
		{"rate-burst-lines", "0",
		 "invalid log-opt rate-burst-lines=\"0\": expected a whole "
		 "number of lines of at least 1 such as 4000",
		 true},
		{"rate-burst-lines", "x", "of at least 1 such as 4000", false},
		{"rate-burst-lines", "1152921504606846977",
		 "too large; at most 1152921504606846976 lines", false},
		{"rate-policy", "sometimes",
		 "invalid log-opt rate-policy=\"sometimes\": expected drop or "
		 "block",
		 true},
		{"rate-policy", "DROP", "expected drop or block", false},
		{"rate-policy", "drop ", "expected drop or block", false},
		{"rate-policy", "", "expected drop or block", false},
		{"rate-notice", "yes",
		 "invalid log-opt rate-notice=\"yes\": expected true or false",
		 true},
		{"rate-notice", "", "expected true or false", false},
		{"rate-notice", "tRUE", "expected true or false", false},
	};

	(void)state;
	check_bad(cases, ARRAY_LEN(cases));
}

static void test_bad_storage_values(void **state)
{
	static const struct bad cases[] = {
		{"max-size", "0",
		 "invalid log-opt max-size=\"0\": " MAX_SIZE_EXPECT, true},
		{"max-size", "0.0001k", MAX_SIZE_EXPECT, false},
		{"max-size", "-1", MAX_SIZE_EXPECT, false},
		{"max-size", "10 mb b", MAX_SIZE_EXPECT, false},
		{"max-size", "10MiBs", MAX_SIZE_EXPECT, false},
		{"max-size", "", MAX_SIZE_EXPECT, false},
		{"max-size", "9223372036854775808",
		 "invalid log-opt max-size=\"9223372036854775808\": too large; "
		 "at most 9223372036854775807 bytes",
		 true},
		{"max-file", "0",
		 "invalid log-opt max-file=\"0\": expected a whole number of "
		 "files from 1 to 10000",
		 true},
		{"max-file", "-1", "files from 1 to 10000", false},
		{"max-file", "1.5", "files from 1 to 10000", false},
		{"max-file", "", "files from 1 to 10000", false},
		{"max-file", "5 ", "files from 1 to 10000", false},
		{"max-file", "10001",
		 "invalid log-opt max-file=\"10001\": too large; at most 10000 "
		 "files",
		 true},
		{"max-file", "99999999999999999999", "too large; at most 10000",
		 false},
		{"compress", "yes",
		 "invalid log-opt compress=\"yes\": expected true or false",
		 true},
		{"labels-regex", "\\d+",
		 "invalid log-opt labels-regex=\"\\\\d+\": " ERE
		 "\\d is RE2 syntax with no POSIX equivalent here; use a "
		 "bracket expression such as [0-9] or [[:alpha:]])",
		 true},
		{"labels-regex", "(?i)team",
		 "invalid log-opt labels-regex=\"(?i)team\": " ERE
		 "(?...) groups and flags are RE2 syntax)",
		 true},
		{"labels-regex", "a(",
		 "invalid log-opt labels-regex=\"a(\": " ERE
		 "Unmatched ( or \\()",
		 true},
		{"labels-regex", "[\\d]",
		 ERE "a backslash inside [...] means different things in POSIX "
		     "and RE2)",
		 false},
		{"labels-regex", "(a)\\1",
		 ERE "back references such as \\1 are not supported)", false},
		{"labels-regex", "\\pL", ERE "\\p is RE2 syntax", false},
		{"labels-regex", "x\\z", ERE "\\z is RE2 syntax", false},
		{"labels-regex", "\\n", ERE "\\n is RE2 syntax", false},
		{"labels-regex", "a{1001}", ERE "a repeat count above 1000)",
		 false},
		{"labels-regex", "a{1,99999999999999999999}",
		 ERE "a repeat count above 1000)", false},
		{"labels-regex", "(a{100}){100}",
		 ERE "too large once its repetitions are unrolled)", false},
		{"labels-regex", "a{1000}",
		 ERE "too large once its repetitions are unrolled)", false},
		{"labels-regex", "(.?.?){333}",
		 ERE "too large once its repetitions are unrolled)", false},
		{"labels-regex", "((a{10}){10}){10}",
		 ERE "too large once its repetitions are unrolled)", false},
		{"labels-regex", "((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)",
		 ERE "too large once its repetitions are unrolled)", false},
		{"labels-regex", "a+?b",
		 ERE "lazy quantifiers such as +? are RE2 syntax)", false},
		{"labels-regex", "a{2}?", ERE "lazy quantifiers", false},
		{"labels-regex", "a*?", ERE "lazy quantifiers", false},
		{"labels-regex", "a??", ERE "lazy quantifiers", false},
		{"labels-regex", "[", ERE, false},
		{"labels-regex", "\\", ERE "Trailing backslash)", false},
		{"env-regex", "*a", "invalid log-opt env-regex=\"*a\": " ERE,
		 false},
		{"env-regex", "(?P<x>a)", ERE "(?...) groups", false},
		{"tag", "{{.Foo}}",
		 "invalid log-opt tag=\"{{.Foo}}\": unknown field \".Foo\"; "
		 "" TAG_FIELDS,
		 true},
		{"tag", "{{json .}}",
		 "invalid log-opt tag=\"{{json .}}\": only fields such as "
		 "{{.Name}} may stand inside {{ }}; " TAG_FIELDS,
		 true},
		{"tag", "{{.ID",
		 "invalid log-opt tag=\"{{.ID\": an unclosed {{; " TAG_FIELDS,
		 true},
		{"tag", "x{{", "an unclosed {{", false},
		{"tag", "{{ .Name }", "an unclosed {{", false},
		{"tag", "{{.ID | upper}}", "not .ID with more", false},
		{"tag", "{{.ID.Foo}}", "not .ID with more", false},
		{"tag", "{{.Name-}}", "not .Name with more", false},
		{"tag", "{{/* c */}}", "only fields such as", false},
		{"tag", "{{-.ID}}", "only fields such as", false},
		{"tag", "{{}}", "only fields such as", false},
		{"tag", "{{.}}", "unknown field \".\"", false},
		{"tag", "{{.id}}", "unknown field \".id\"", false},
		{"tag", "{{.Hostname}}{{.Labels}}", "unknown field \".Labels\"",
		 false},
		{"tag", "{{{.ID}}}", "only fields such as", false},
		{"tag", "{{\"x\"}}", "only fields such as", false},
	};

	(void)state;
	check_bad(cases, ARRAY_LEN(cases));
}

static void test_unknown_options(void **state)
{
	static const struct bad cases[] = {
		{"rate-limt", "1m",
		 "unknown log-opt \"rate-limt\" (did you mean rate-limit?); "
		 "" VALID_OPTS,
		 true},
		{"Max-Size", "1m",
		 "unknown log-opt \"Max-Size\" (did you mean max-size?); "
		 "" VALID_OPTS,
		 true},
		{"max_file", "1", "(did you mean max-file?)", false},
		{"compres", "true", "(did you mean compress?)", false},
		{"frobnicate", "1",
		 "unknown log-opt \"frobnicate\"; " VALID_OPTS, true},
		{"", "1", "unknown log-opt \"\"", false},
		{"labels ", "a", "unknown log-opt \"labels \"", false},
		/* json-file's own and other drivers' options are not ours */
		{"syslog-address", "udp://x", "unknown log-opt", false},
		{"max-buffer", "1m", "unknown log-opt \"max-buffer\"", false},
	};

	(void)state;
	check_bad(cases, ARRAY_LEN(cases));
}

static void test_duplicate_option(void **state)
{
	struct config_kv kv[] = {
		{"max-size", "1m"},
		{"mode", "blocking"},
		{"mode", "non-blocking"},
		{"max-size", "2m"},
	};
	struct log_config c;
	char err[CONFIG_ERR_MAX];

	(void)state;
	assert_int_equal(
		config_parse(NULL, kv, ARRAY_LEN(kv), &c, err, sizeof(err)),
		-EINVAL);
	assert_string_equal(err, "log-opt max-size is given twice");
	/* dockerd's own options are not looked at, twice or not. */
	assert_int_equal(config_parse(NULL, kv, 3, &c, err, sizeof(err)), 0);
	config_release(&c);
}

/* The first bad option in the table's order is the one named. */
static void test_error_order(void **state)
{
	struct config_kv kv[] = {
		{"tag", "{{.Foo}}"},
		{"max-file", "0"},
		{"rate-policy", "x"},
		{"rate-limit", "x"},
	};
	struct log_config c;
	char err[CONFIG_ERR_MAX];

	(void)state;
	assert_int_equal(
		config_parse(NULL, kv, ARRAY_LEN(kv), &c, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "rate-limit=\"x\""));
	assert_int_equal(config_parse(NULL, kv, 3, &c, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "rate-policy=\"x\""));
	assert_int_equal(config_parse(NULL, kv, 2, &c, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "max-file=\"0\""));
	/* An unknown key is reported before any value. */
	kv[1].key = "bogus";
	assert_int_equal(
		config_parse(NULL, kv, ARRAY_LEN(kv), &c, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "unknown log-opt \"bogus\""));
}

static void test_compress_needs_two_files(void **state)
{
	struct config_kv kv[] = {
		{"compress", "true"},
		{"max-file", "1"},
	};
	struct log_config c;
	char err[CONFIG_ERR_MAX];

	(void)state;
	assert_int_equal(
		config_parse(NULL, kv, ARRAY_LEN(kv), &c, err, sizeof(err)),
		-EINVAL);
	assert_string_equal(err, "invalid log-opt compress=\"true\": compress "
				 "cannot be true when max-file is less than 2 "
				 "(max-file is 1)");
	kv[0].value = "T";
	assert_int_equal(
		config_parse(NULL, kv, ARRAY_LEN(kv), &c, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "compress=\"T\""));
}

/* ---- error sentences ---- */

static void test_sentence_escaping(void **state)
{
	static const struct bad cases[] = {
		/* the phrases dockerd acts on are broken up, in any case */
		{"rate-limit", "no such file or directory",
		 "invalid log-opt rate-limit=\"no\\x20such file or "
		 "directory\": " RATE_EXPECT,
		 true},
		{"max-size", "Permission Denied",
		 "max-size=\"Permission\\x20Denied\":", false},
		{"max-file", "exec: executable file not found",
		 "max-file=\"exec: executable\\x20file not found\":", false},
		{"compress", "not a directory, not a directory",
		 "compress=\"not\\x20a directory, not\\x20a directory\":",
		 false},
		{"permission denied", "1",
		 "unknown log-opt \"permission\\x20denied\"; " VALID_OPTS,
		 true},
		{"labels-regex", "(no such file or directory",
		 "labels-regex=\"(no\\x20such file or directory\":", false},
		{"tag", "{{.no such file or directory}}",
		 "unknown field \".no\"", false},
		/* bytes outside printable ASCII */
		{"rate-limit", "\x01\xff\"\\\t\n\r\x7f\xc3\xa9",
		 "rate-limit=\"\\x01\\xff\\\"\\\\\\t\\n\\r\\x7f\\xc3\\xa9\":",
		 false},
		/* long values are cut after 64 bytes */
		{"rate-limit", A64 "ccccccccccccc",
		 "invalid log-opt rate-limit=\"" A64 "\"...: " RATE_EXPECT,
		 true},
		{"rate-limit", A64,
		 "invalid log-opt rate-limit=\"" A64 "\": " RATE_EXPECT, true},
	};

	(void)state;
	check_bad(cases, ARRAY_LEN(cases));
}

/* The numbers written out in sentences are the constants' values. */
static void test_sentence_constants(void **state)
{
	char want[64], pat[CONFIG_REGEX_MAX + 2];
	struct log_config c;
	char err[CONFIG_ERR_MAX];
	int i;

	(void)state;
	assert_int_equal(parse_one(NULL, "rate-burst", "1", &c, err), -EINVAL);
	snprintf(want, sizeof(want), "at least %d (one 16 KiB",
		 CONFIG_CHUNK_BYTES);
	assert_non_null(strstr(err, want));
	assert_int_equal(CONFIG_CHUNK_BYTES, 16 * 1024);

	assert_int_equal(parse_one(NULL, "max-file", "0", &c, err), -EINVAL);
	snprintf(want, sizeof(want), "from 1 to %d", CONFIG_MAX_FILE_MAX);
	assert_non_null(strstr(err, want));

	memset(pat, 'a', sizeof(pat) - 1);
	pat[sizeof(pat) - 1] = '\0';
	assert_int_equal(parse_one(NULL, "env-regex", pat, &c, err), -EINVAL);
	snprintf(want, sizeof(want), "(longer than %d bytes)",
		 CONFIG_REGEX_MAX);
	assert_non_null(strstr(err, want));
	pat[sizeof(pat) - 2] = '\0';
	assert_int_equal(parse_one(NULL, "env-regex", pat, &c, err), 0);
	config_release(&c);

	for (i = 0; i <= CONFIG_REGEX_DEPTH_MAX; i++) {
		pat[i] = '(';
		pat[2 * (CONFIG_REGEX_DEPTH_MAX + 1) - i] = ')';
	}
	pat[CONFIG_REGEX_DEPTH_MAX + 1] = 'a';
	pat[2 * (CONFIG_REGEX_DEPTH_MAX + 1) + 1] = '\0';
	assert_int_equal(parse_one(NULL, "env-regex", pat, &c, err), -EINVAL);
	snprintf(want, sizeof(want), "(groups nest more than %d deep)",
		 CONFIG_REGEX_DEPTH_MAX);
	assert_non_null(strstr(err, want));
	/* one level less is fine */
	pat[2 * (CONFIG_REGEX_DEPTH_MAX + 1)] = '\0';
	assert_int_equal(parse_one(NULL, "env-regex", pat + 1, &c, err), 0);
	assert_true(config_env_is_wanted(&c, "xax"));
	config_release(&c);
}

/* The worst cases for length still fit CONFIG_ERR_MAX whole. */
static void test_sentence_length(void **state)
{
	char key[200], value[200], tag[500];
	struct log_config c;
	char err[CONFIG_ERR_MAX];

	(void)state;
	memset(key, '\xff', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	memset(value, '\x01', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	assert_int_equal(parse_one(NULL, key, "1", &c, err), -EINVAL);
	check_sentence(err);
	assert_non_null(strstr(err, "\"..."));
	assert_non_null(strstr(err, "env-regex, tag"));
	assert_int_equal(parse_one(NULL, "rate-burst", value, &c, err),
			 -EINVAL);
	check_sentence(err);
	assert_non_null(strstr(err, "decimal units)"));
	snprintf(tag, sizeof(tag), "%s{{.%s}}", value, value);
	assert_int_equal(parse_one(NULL, "tag", tag, &c, err), -EINVAL);
	check_sentence(err);
	assert_non_null(strstr(err, "{{.Hostname}}"));
	snprintf(tag, sizeof(tag), "%s%s", value, "[");
	assert_int_equal(parse_one(NULL, "env-regex", tag, &c, err), -EINVAL);
	check_sentence(err);
}

static void test_small_error_buffer(void **state)
{
	struct config_kv kv = {"rate-policy", "x"};
	struct config_node_env env = {"bogus", NULL, NULL, NULL, NULL};
	struct node_config node;
	struct log_config c;
	char err[16];

	(void)state;
	memset(err, 'z', sizeof(err));
	assert_int_equal(config_parse(NULL, &kv, 1, &c, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "invalid log-opt");
	memset(err, 'z', sizeof(err));
	assert_int_equal(config_parse(NULL, &kv, 1, &c, err, 1), -EINVAL);
	assert_int_equal(err[0], '\0');
	assert_int_equal(err[1], 'z');
	assert_int_equal(config_parse(NULL, &kv, 1, &c, NULL, 0), -EINVAL);
	assert_int_equal(config_node_parse(&env, &node, NULL, 0), -EINVAL);
	assert_int_equal(config_check_tag("{{", NULL, 0), -EINVAL);
}

/* ---- precedence ---- */

static void test_precedence(void **state)
{
	struct node_config node;
	struct log_config c;
	char err[CONFIG_ERR_MAX];

	(void)state;
	node_from("max-size=10m,max-file=3,rate-limit=2m,tag={{.Name}}", &node);

	/* DEFAULT_LOG_OPTS over the built-in defaults */
	assert_int_equal(config_parse(&node, NULL, 0, &c, err, sizeof(err)), 0);
	assert_int_equal(c.max_size_bytes, 10000000);
	assert_int_equal(c.max_files, 3);
	assert_int_equal(c.rate_limit_bytes, 2000000);
	assert_int_equal(c.rate_burst_bytes, 8000000);
	assert_string_equal(c.tag, "{{.Name}}");
	assert_int_equal(c.rate_policy, CONFIG_RATE_DROP);
	config_release(&c);

	/* the container over DEFAULT_LOG_OPTS, key by key */
	assert_int_equal(parse_one(&node, "max-size", "5m", &c, err), 0);
	assert_int_equal(c.max_size_bytes, 5000000);
	assert_int_equal(c.max_files, 3);
	config_release(&c);

	/* the burst follows the effective rate: the container's */
	assert_int_equal(parse_one(&node, "rate-limit", "500k", &c, err), 0);
	assert_int_equal(c.rate_limit_bytes, 500000);
	assert_int_equal(c.rate_burst_bytes, 2000000);
	config_release(&c);
	assert_int_equal(parse_one(&node, "rate-limit", "0", &c, err), 0);
	assert_int_equal(c.rate_limit_bytes, 0);
	assert_int_equal(c.rate_burst_bytes, 0);
	config_release(&c);
	assert_int_equal(parse_one(&node, "rate-burst", "1m", &c, err), 0);
	assert_int_equal(c.rate_limit_bytes, 2000000);
	assert_int_equal(c.rate_burst_bytes, 1000000);
	config_release(&c);

	/* a container's "" clears a string default */
	assert_int_equal(parse_one(&node, "tag", "", &c, err), 0);
	assert_null(c.tag);
	config_release(&c);
	assert_int_equal(parse_one(&node, "tag", "{{.ID}}", &c, err), 0);
	assert_string_equal(c.tag, "{{.ID}}");
	config_release(&c);

	/* a bad container value names the container's value */
	assert_int_equal(parse_one(&node, "max-file", "0", &c, err), -EINVAL);
	assert_string_equal(err, "invalid log-opt max-file=\"0\": expected a "
				 "whole number of files from 1 to 10000");
	config_node_release(&node);
	config_node_release(&node);
	config_node_release(NULL);
}

static void test_precedence_bursts(void **state)
{
	struct node_config node;
	struct log_config c;
	char err[CONFIG_ERR_MAX];

	(void)state;
	/* an explicit default burst is a value like any other */
	node_from("rate-limit=1m,rate-burst=6m,rate-limit-lines=100", &node);
	assert_int_equal(parse_one(&node, "rate-limit", "10m", &c, err), 0);
	assert_int_equal(c.rate_burst_bytes, 6000000);
	assert_int_equal(c.rate_limit_lines, 100);
	assert_int_equal(c.rate_burst_lines, 400);
	config_release(&c);
	assert_int_equal(parse_one(&node, "rate-limit-lines", "5", &c, err), 0);
	assert_int_equal(c.rate_burst_lines, 20);
	config_release(&c);
	assert_int_equal(parse_one(&node, "rate-burst-lines", "7", &c, err), 0);
	assert_int_equal(c.rate_burst_lines, 7);
	config_release(&c);
	config_node_release(&node);

	/* a node default of unlimited: a container burst is moot */
	node_from("rate-limit=0", &node);
	assert_int_equal(parse_one(&node, "rate-burst", "64k", &c, err), 0);
	assert_int_equal(c.rate_limit_bytes, 0);
	assert_int_equal(c.rate_burst_bytes, 0);
	config_release(&c);
	/* ...but still checked */
	assert_int_equal(parse_one(&node, "rate-burst", "1k", &c, err),
			 -EINVAL);
	assert_non_null(strstr(err, BURST_EXPECT));
	/* a container rate brings the derived burst back */
	assert_int_equal(parse_one(&node, "rate-limit", "3m", &c, err), 0);
	assert_int_equal(c.rate_burst_bytes, 12000000);
	config_release(&c);
	config_node_release(&node);
}

/* A combination that fails only because of the container still says
 * which value came from DEFAULT_LOG_OPTS. */
static void test_precedence_cross_check(void **state)
{
	struct node_config node;
	struct log_config c;
	char err[CONFIG_ERR_MAX];

	(void)state;
	node_from("compress=true", &node);
	assert_int_equal(parse_one(&node, "max-file", "1", &c, err), -EINVAL);
	assert_string_equal(err, "invalid log-opt compress=\"true\" (from "
				 "DEFAULT_LOG_OPTS): compress cannot be true "
				 "when max-file is less than 2 (max-file is "
				 "1)");
	assert_int_equal(parse_one(&node, "compress", "false", &c, err), 0);
	assert_false(c.compress);
	config_release(&c);
	config_node_release(&node);

	node_from("max-file=1", &node);
	assert_int_equal(parse_one(&node, "compress", "true", &c, err),
			 -EINVAL);
	assert_string_equal(err, "invalid log-opt compress=\"true\": compress "
				 "cannot be true when max-file is less than 2 "
				 "(max-file is 1, from DEFAULT_LOG_OPTS)");
	config_node_release(&node);
}

/* ---- DEFAULT_LOG_OPTS ---- */

static void test_defaults_splitting(void **state)
{
	static const struct {
		const char *in;
		const char *want[4][2];
	} cases[] = {
		{"labels=a,b,max-file=3",
		 {{"labels", "a,b"}, {"max-file", "3"}}},
		{"labels=a,b", {{"labels", "a,b"}}},
		{"labels=a,,b,", {{"labels", "a,,b,"}}},
		{"labels=a, b", {{"labels", "a, b"}}},
		{"max-size=10m, max-file=3,\ttag =x",
		 {{"max-size", "10m"}, {"max-file", "3"}, {"tag", "x"}}},
		{"env-regex=^(A|B),C,env=X",
		 {{"env-regex", "^(A|B),C"}, {"env", "X"}}},
		{"labels-regex=^a{1,3}$", {{"labels-regex", "^a{1,3}$"}}},
		{"tag={{.Name}}=x", {{"tag", "{{.Name}}=x"}}},
		{"labels=", {{"labels", ""}}},
		/* dockerd's own options, with their continuations, are
		   dropped */
		{"mode=non-blocking,max-buffer-size=4m,labels=x",
		 {{"labels", "x"}}},
		{"mode=a,b,max-file=2", {{"max-file", "2"}}},
		{"cache-disabled=true", {{NULL, NULL}}},
		{"", {{NULL, NULL}}},
		{"  \t ", {{NULL, NULL}}},
	};
	size_t i, n;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		struct node_config node;

		node_from(cases[i].in, &node);
		for (n = 0; n < 4 && cases[i].want[n][0] != NULL; n++) {
			if (n >= node.n_defaults)
				fail_msg("\"%s\": %zu pairs, want more",
					 cases[i].in, node.n_defaults);
			assert_string_equal(node.defaults[n].key,
					    cases[i].want[n][0]);
			assert_string_equal(node.defaults[n].value,
					    cases[i].want[n][1]);
		}
		if (node.n_defaults != n)
			fail_msg("\"%s\": %zu pairs, want %zu", cases[i].in,
				 node.n_defaults, n);
		config_node_release(&node);
	}
}

static void test_defaults_bad(void **state)
{
	static const struct {
		const char *in;
		const char *want;
		bool exact;
	} cases[] = {
		{"foo",
		 "DEFAULT_LOG_OPTS: expected key=value pairs separated by "
		 "commas, not \"foo\"",
		 true},
		{"foo,labels=a", "not \"foo\"", false},
		{",labels=a", "not \"\"", false},
		{"=5,labels=a",
		 "DEFAULT_LOG_OPTS: expected key=value pairs separated by "
		 "commas, not \"=5\"",
		 true},
		{" =5", "not \" =5\"", false},
		{"rate-limt=1m",
		 "DEFAULT_LOG_OPTS: unknown log-opt \"rate-limt\" (did you "
		 "mean rate-limit?); " VALID_OPTS,
		 true},
		{"max-file=3,max-file=4",
		 "DEFAULT_LOG_OPTS: log-opt max-file is given twice", true},
		{"rate-limit=-5",
		 "invalid log-opt rate-limit=\"-5\" (from DEFAULT_LOG_OPTS): "
		 "" RATE_EXPECT,
		 true},
		{"max-size=10m,rate-limit=1m,", "rate-limit=\"1m,\"", false},
		{"max-size= 10m", "max-size=\" 10m\" (from DEFAULT_LOG_OPTS)",
		 false},
		{"max-file=1,compress=true",
		 "invalid log-opt compress=\"true\" (from DEFAULT_LOG_OPTS): "
		 "compress cannot be true when max-file is less than 2 "
		 "(max-file is 1, from DEFAULT_LOG_OPTS)",
		 true},
		{"tag={{.Foo}}", "tag=\"{{.Foo}}\" (from DEFAULT_LOG_OPTS)",
		 false},
		{"labels-regex=(?i)a", "(from DEFAULT_LOG_OPTS): " ERE, false},
		{"permission denied",
		 "DEFAULT_LOG_OPTS: expected key=value pairs separated by "
		 "commas, not \"permission\\x20denied\"",
		 true},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		struct config_node_env env = {cases[i].in, NULL, NULL, NULL,
					      NULL};
		struct node_config node;
		char err[CONFIG_ERR_MAX] = "";
		int rc = config_node_parse(&env, &node, err, sizeof(err));

		if (rc != -EINVAL)
			fail_msg("case %zu (%s): rc %d", i, cases[i].in, rc);
		check_sentence(err);
		if (cases[i].exact ? strcmp(err, cases[i].want) != 0
				   : strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu (%s):\n got  %s\n want %s%s", i,
				 cases[i].in, err, cases[i].exact ? "" : "... ",
				 cases[i].want);
		assert_null(node.defaults);
		assert_int_equal(node.n_defaults, 0);
	}
}

/* ---- the node ---- */

static void test_node_defaults(void **state)
{
	struct config_node_env unset = {NULL, NULL, NULL, NULL, NULL};
	struct config_node_env empty = {"", "", "", "", ""};
	struct node_config node;
	char err[CONFIG_ERR_MAX];

	(void)state;
	assert_int_equal(config_node_parse(&unset, &node, err, sizeof(err)), 0);
	assert_int_equal(node.rate_limit_bytes, 0);
	assert_int_equal(node.rate_burst_bytes, 0);
	assert_int_equal(node.max_disk_bytes, 0);
	assert_int_equal(node.keep_stopped_ns,
			 INT64_C(168) * 3600 * INT64_C(1000000000));
	assert_int_equal(node.n_defaults, 0);
	config_node_release(&node);
	assert_int_equal(config_node_parse(&empty, &node, err, sizeof(err)), 0);
	assert_int_equal(node.rate_limit_bytes, 0);
	assert_int_equal(node.keep_stopped_ns, CONFIG_KEEP_STOPPED_DEFAULT_NS);
	config_node_release(&node);
}

static void test_node_values(void **state)
{
	static const struct {
		struct config_node_env env;
		uint64_t rate, burst, disk;
		int64_t keep_ns;
	} cases[] = {
		{{NULL, "20m", NULL, NULL, NULL},
		 20000000,
		 80000000,
		 0,
		 CONFIG_KEEP_STOPPED_DEFAULT_NS},
		{{NULL, "20m", "64m", NULL, NULL},
		 20000000,
		 64000000,
		 0,
		 CONFIG_KEEP_STOPPED_DEFAULT_NS},
		{{NULL, "1k", NULL, NULL, NULL},
		 1000,
		 16384,
		 0,
		 CONFIG_KEEP_STOPPED_DEFAULT_NS},
		{{NULL, "0", "64m", NULL, NULL},
		 0,
		 0,
		 0,
		 CONFIG_KEEP_STOPPED_DEFAULT_NS},
		{{NULL, "", "64m", NULL, NULL},
		 0,
		 0,
		 0,
		 CONFIG_KEEP_STOPPED_DEFAULT_NS},
		{{NULL, "1t", NULL, "10g", NULL},
		 1000000000000,
		 4000000000000,
		 10000000000,
		 CONFIG_KEEP_STOPPED_DEFAULT_NS},
		{{NULL, NULL, NULL, "0", "30m"},
		 0,
		 0,
		 0,
		 INT64_C(30) * 60 * 1000000000},
		{{NULL, NULL, NULL, "1.5t", "1h30m"},
		 0,
		 0,
		 1500000000000,
		 INT64_C(90) * 60 * 1000000000},
		{{NULL, NULL, NULL, NULL, "0"}, 0, 0, 0, 0},
		{{NULL, NULL, NULL, NULL, "72h"},
		 0,
		 0,
		 0,
		 INT64_C(72) * 3600 * 1000000000},
		{{NULL, NULL, NULL, NULL, "2562047h"},
		 0,
		 0,
		 0,
		 INT64_C(2562047) * 3600 * 1000000000},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		struct node_config node;
		char err[CONFIG_ERR_MAX] = "";

		if (config_node_parse(&cases[i].env, &node, err, sizeof(err)) !=
		    0)
			fail_msg("case %zu: %s", i, err);
		assert_int_equal(node.rate_limit_bytes, cases[i].rate);
		assert_int_equal(node.rate_burst_bytes, cases[i].burst);
		assert_int_equal(node.max_disk_bytes, cases[i].disk);
		assert_int_equal(node.keep_stopped_ns, cases[i].keep_ns);
		config_node_release(&node);
	}
}

static void test_node_bad(void **state)
{
	static const struct {
		struct config_node_env env;
		const char *want;
		bool exact;
	} cases[] = {
		{{NULL, "abc", NULL, NULL, NULL},
		 "invalid NODE_RATE_LIMIT=\"abc\": expected a size in bytes "
		 "per "
		 "second such as 20m or 1g (decimal units, at most 1t), or 0 "
		 "or empty for no node-wide limit",
		 true},
		{{NULL, "2t", NULL, NULL, NULL},
		 "invalid NODE_RATE_LIMIT=\"2t\"",
		 false},
		{{NULL, "-1m", NULL, NULL, NULL},
		 "invalid NODE_RATE_LIMIT=\"-1m\"",
		 false},
		{{NULL, "20m", "16k", NULL, NULL},
		 "invalid NODE_RATE_BURST=\"16k\": expected a size in bytes of "
		 "at least 16384 (one 16 KiB dockerd chunk) such as 64m "
		 "(decimal units), or empty for 4 times NODE_RATE_LIMIT",
		 true},
		/* checked even without a node rate */
		{{NULL, NULL, "x", NULL, NULL},
		 "invalid NODE_RATE_BURST=\"x\"",
		 false},
		{{NULL, NULL, NULL, "-1", NULL},
		 "invalid NODE_MAX_DISK=\"-1\": expected a size in bytes such "
		 "as 10g (decimal units), or 0 or empty for no node-wide cap",
		 true},
		{{NULL, NULL, NULL, "10G ", NULL},
		 "invalid NODE_MAX_DISK=\"10G \"",
		 false},
		{{NULL, NULL, NULL, NULL, "7d"},
		 "invalid KEEP_STOPPED=\"7d\": expected a duration such as "
		 "168h, 30m or 1h30m (units h, m, s, ms, us, ns), 0 to keep "
		 "logs until removed by hand, or empty for 168h",
		 true},
		{{NULL, NULL, NULL, NULL, "-1h"},
		 "invalid KEEP_STOPPED=\"-1h\"",
		 false},
		{{NULL, NULL, NULL, NULL, "168"},
		 "invalid KEEP_STOPPED=\"168\"",
		 false},
		{{NULL, NULL, NULL, NULL, "3000000h"},
		 "invalid KEEP_STOPPED=\"3000000h\"",
		 false},
		{{NULL, NULL, NULL, NULL, "no such file or directory"},
		 "invalid KEEP_STOPPED=\"no\\x20such file or directory\"",
		 false},
		/* DEFAULT_LOG_OPTS is read first */
		{{"bogus", "abc", NULL, NULL, NULL},
		 "DEFAULT_LOG_OPTS: expected",
		 false},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		struct node_config node;
		char err[CONFIG_ERR_MAX] = "";
		int rc = config_node_parse(&cases[i].env, &node, err,
					   sizeof(err));

		if (rc != -EINVAL)
			fail_msg("case %zu: rc %d", i, rc);
		check_sentence(err);
		if (cases[i].exact ? strcmp(err, cases[i].want) != 0
				   : strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu:\n got  %s\n want %s%s", i, err,
				 cases[i].exact ? "" : "... ", cases[i].want);
		assert_null(node.defaults);
		assert_null(node.defaults_buf);
	}
}

/* ---- tags ---- */

#define CID "3afd3a89837b50c8c5a5081b6a36603c845696b8c07f95b7686f3b47f9ec10ba"
#define IMGID                                                                  \
	"sha256:0ca1602c8c33ef9a10b37528117ece8779bd5f11b469fb6e5320b95a582a"

static const char *const nginx_args[] = {"-g", "daemon off;"};

static const struct tag_info web = {
	CID,	 "/web",     "" IMGID, "nginx:latest", "docker",
	"nginx", nginx_args, 2,	       "node1",
};

static void render_ok(const char *tmpl, const struct tag_info *ti,
		      const char *want)
{
	char dst[512];
	size_t len = 12345;
	int rc;

	if (config_check_tag(tmpl, NULL, 0) != 0)
		fail_msg("\"%s\" was refused", tmpl);
	rc = config_render_tag(tmpl, ti, dst, sizeof(dst), &len);
	if (rc != 0 || strcmp(dst, want) != 0 || len != strlen(want))
		fail_msg("\"%s\": rc %d len %zu \"%s\", want \"%s\"", tmpl, rc,
			 len, dst, want);
}

static void test_tag_fields(void **state)
{
	(void)state;
	render_ok("{{.ID}}", &web, "3afd3a89837b");
	render_ok("{{.FullID}}", &web, CID);
	render_ok("{{.Name}}", &web, "web");
	render_ok("{{.ImageID}}", &web, "sha256:0ca16");
	render_ok("{{.ImageFullID}}", &web, IMGID);
	render_ok("{{.ImageName}}", &web, "nginx:latest");
	render_ok("{{.DaemonName}}", &web, "docker");
	render_ok("{{.Command}}", &web, "nginx -g daemon off;");
	render_ok("{{.Hostname}}", &web, "node1");
	render_ok("{{ .ID }}", &web, "3afd3a89837b");
	render_ok("{{\t.Name\r\n}}", &web, "web");
	render_ok("{{.ImageName}}/{{.Name}}/{{.ID}}", &web,
		  "nginx:latest/web/3afd3a89837b");
	render_ok("docker.{{.Name}}", &web, "docker.web");
	render_ok("{{.Name}}{{.Name}}", &web, "webweb");
}

static void test_tag_text(void **state)
{
	(void)state;
	render_ok("", &web, "");
	render_ok("plain", &web, "plain");
	render_ok("}}", &web, "}}");
	render_ok("{{.Name}}}}", &web, "web}}");
	render_ok("{ {.Name} }", &web, "{ {.Name} }");
	render_ok("a {{.Name}} b", &web, "a web b");
	/* Go's trim markers */
	render_ok("a \t\n{{- .Name}} b", &web, "aweb b");
	render_ok("a {{.Name -}} \n b", &web, "a webb");
	render_ok("a {{- .Name -}} b", &web, "awebb");
	render_ok("{{- .Name -}}", &web, "web");
	render_ok(" x {{- .Name}}{{- .Name -}} y ", &web, " xwebweby ");
	render_ok("a-{{.Name}}-b", &web, "a-web-b");
}

static void test_tag_odd_info(void **state)
{
	static const char *const one[] = {"a"};
	static const char *const empty_arg[] = {""};
	struct tag_info ti;

	(void)state;
	memset(&ti, 0, sizeof(ti));
	/* NULL reads as "" */
	render_ok("[{{.ID}}|{{.Name}}|{{.ImageID}}|{{.Command}}|"
		  "{{.Hostname}}]",
		  &ti, "[||||]");
	/* Command is strings.Join of entrypoint and args */
	ti.entrypoint = "sh";
	render_ok("{{.Command}}", &ti, "sh");
	ti.entrypoint = NULL;
	ti.args = one;
	ti.n_args = 1;
	render_ok("{{.Command}}", &ti, " a");
	ti.entrypoint = "x";
	ti.args = empty_arg;
	render_ok("{{.Command}}", &ti, "x ");
	/* only one '/' comes off the name */
	ti.name = "web";
	render_ok("{{.Name}}", &ti, "web");
	ti.name = "//web";
	render_ok("{{.Name}}", &ti, "/web");
	/* no info at all */
	render_ok("a{{.Name}}b{{.Command}}", NULL, "ab");
	/* short ids are shown whole */
	ti.id = "abc";
	ti.image_id = "sha256:ab";
	render_ok("{{.ID}} {{.ImageID}}", &ti, "abc sha256:ab");
}

static void test_tag_render_limits(void **state)
{
	char dst[8];
	size_t len;

	(void)state;
	/* cut like snprintf, with the full length reported */
	memset(dst, 'z', sizeof(dst));
	assert_int_equal(config_render_tag("{{.Name}}-{{.ImageName}}", &web,
					   dst, 5, &len),
			 -ENOSPC);
	assert_string_equal(dst, "web-");
	assert_int_equal(len, strlen("web-nginx:latest"));
	assert_int_equal(dst[5], 'z');
	/* exactly fits */
	assert_int_equal(config_render_tag("{{.Name}}1234", &web, dst,
					   sizeof(dst), &len),
			 0);
	assert_string_equal(dst, "web1234");
	assert_int_equal(len, 7);
	assert_int_equal(config_render_tag("{{.Name}}12345", &web, dst,
					   sizeof(dst), &len),
			 -ENOSPC);
	assert_string_equal(dst, "web1234");
	assert_int_equal(len, 8);
	/* no buffer at all: just the length */
	assert_int_equal(config_render_tag("{{.Command}}", &web, NULL, 0, &len),
			 -ENOSPC);
	assert_int_equal(len, strlen("nginx -g daemon off;"));
	assert_int_equal(config_render_tag("", &web, NULL, 0, &len), 0);
	assert_int_equal(len, 0);
	/* an invalid template renders nothing */
	memset(dst, 'z', sizeof(dst));
	assert_int_equal(
		config_render_tag("ab{{.Nope}}", &web, dst, sizeof(dst), &len),
		-EINVAL);
	assert_string_equal(dst, "");
	assert_int_equal(len, 0);
}

static void test_check_tag(void **state)
{
	char err[CONFIG_ERR_MAX];

	(void)state;
	assert_int_equal(config_check_tag("{{.Name}}", err, sizeof(err)), 0);
	assert_int_equal(config_check_tag("{{.Foo}}", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "invalid log-opt tag=\"{{.Foo}}\": unknown "
				 "field \".Foo\"; " TAG_FIELDS);
	check_sentence(err);
}

/* ---- allocation failures ---- */

static void test_out_of_memory(void **state)
{
#if CAN_FAIL_MALLOC
	/*
	 * No bracket expressions: glibc 2.36's regcomp itself leaks a block
	 * when an allocation fails after one (seen here; not ours to fix).
	 */
	struct config_kv kv[] = {
		{"labels", "a,b"},    {"labels-regex", "^com\\.(x|y)+z{2,5}$"},
		{"env", "FOO"},	      {"env-regex", "^AWS_"},
		{"tag", "{{.Name}}"},
	};
	struct config_node_env env = {"labels=a,b,max-file=3,env-regex=^X_",
				      "10m", NULL, "1g", "1h"};
	struct node_config node;
	struct log_config c;
	char err[CONFIG_ERR_MAX];
	long n, failures = 0;
	int rc;
	void *(*volatile alloc)(size_t) = malloc;
	void *probe;

	(void)state;
	/* Is the interposed malloc the one in use? */
	count_start(1);
	probe = alloc(16);
	count_stop();
	if (probe != NULL) {
		free(probe);
		skip();
	}

	for (n = 1;; n++) {
		count_start(n);
		rc = config_node_parse(&env, &node, err, sizeof(err));
		if (rc == 0)
			config_node_release(&node);
		count_stop();
		if (live != 0)
			fail_msg("node, failing allocation %ld: %ld blocks "
				 "left",
				 n, live);
		if (rc == 0)
			break;
		assert_int_equal(rc, -ENOMEM);
		assert_string_equal(err, "out of memory while reading the "
					 "plugin settings");
		failures++;
	}
	assert_true(failures >= 2);

	node_from("max-size=5m,tag={{.ID}}", &node);
	failures = 0;
	for (n = 1;; n++) {
		count_start(n);
		rc = config_parse(&node, kv, ARRAY_LEN(kv), &c, err,
				  sizeof(err));
		if (rc == 0) {
			assert_true(config_label_is_wanted(&c, "com.xyzz"));
			config_release(&c);
		}
		count_stop();
		if (live != 0)
			fail_msg("config, failing allocation %ld: %ld blocks "
				 "left",
				 n, live);
		if (rc == 0)
			break;
		assert_int_equal(rc, -ENOMEM);
		assert_string_equal(err,
				    "out of memory while reading log-opts");
		failures++;
	}
	/* the five strings at least, and regcomp's own */
	assert_true(failures >= 7);
	config_node_release(&node);
#else
	(void)state;
	skip();
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtin_defaults),
		cmocka_unit_test(test_good_values),
		cmocka_unit_test(test_string_options),
		cmocka_unit_test(test_regex_accepted),
		cmocka_unit_test(test_attrs_selection),
		cmocka_unit_test(test_bad_rate_values),
		cmocka_unit_test(test_bad_storage_values),
		cmocka_unit_test(test_unknown_options),
		cmocka_unit_test(test_duplicate_option),
		cmocka_unit_test(test_error_order),
		cmocka_unit_test(test_compress_needs_two_files),
		cmocka_unit_test(test_sentence_escaping),
		cmocka_unit_test(test_sentence_constants),
		cmocka_unit_test(test_sentence_length),
		cmocka_unit_test(test_small_error_buffer),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_precedence_bursts),
		cmocka_unit_test(test_precedence_cross_check),
		cmocka_unit_test(test_defaults_splitting),
		cmocka_unit_test(test_defaults_bad),
		cmocka_unit_test(test_node_defaults),
		cmocka_unit_test(test_node_values),
		cmocka_unit_test(test_node_bad),
		cmocka_unit_test(test_tag_fields),
		cmocka_unit_test(test_tag_text),
		cmocka_unit_test(test_tag_odd_info),
		cmocka_unit_test(test_tag_render_limits),
		cmocka_unit_test(test_check_tag),
		cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
