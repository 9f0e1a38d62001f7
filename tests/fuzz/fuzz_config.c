/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: any bytes as plugin settings, log-opts, sizes,
 * durations and tag templates.  The input is cut into lines: the first
 * five are DEFAULT_LOG_OPTS, NODE_RATE_LIMIT, NODE_RATE_BURST,
 * NODE_MAX_DISK and KEEP_STOPPED, the rest "key=value" log-opts; every
 * line also goes through each units_*() parser and the tag functions.
 * Besides the sanitizers it checks the promises of the headers: a success
 * holds values in their documented ranges, a failure holds nothing and
 * leaves one printable sentence free of the phrases dockerd maps to exit
 * codes, and checking a tag agrees with rendering it.
 *
 * Depends on config/ only:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. \
 *       tests/fuzz/fuzz_config.c config/\*.c
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* strcasestr(), when built without -D_GNU_SOURCE */
#endif
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 40
/* Lines longer than this skip the regex matching (glibc's matcher is
   linear in the name but slow per byte on large patterns). */
#define MATCH_MAX 256

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

	len = strnlen(err, CONFIG_ERR_MAX);
	if (len == 0 || len >= CONFIG_ERR_MAX - 1)
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

static const char *const args[] = {"-g", "daemon off;"};

static const struct tag_info info = {
	"3afd3a89837b50c8c5a5081b6a36603c845696b8c07f95b7686f3b47f9ec10ba",
	"/web",
	"sha256:0ca1602c8c33ef9a10b37528117ece8779bd5f11b469fb6e5320b95a582a",
	"nginx:latest",
	"docker",
	"nginx",
	args,
	2,
	"node1",
};

static void fuzz_units(const char *s)
{
	uint64_t size = 0;
	int64_t i64 = 0, ns = 0;
	bool b;
	int rc;

	rc = units_parse_size(s, &size);
	if (rc != 0 && rc != -EINVAL && rc != -ERANGE)
		abort();
	if (rc == 0 && size > UNITS_SIZE_MAX)
		abort();
	/* The grammar has no sign and no blank before the number. */
	if (rc == 0 && (s[0] < '0' || s[0] > '9'))
		abort();
	rc = units_parse_int(s, &i64);
	if (rc != 0 && rc != -EINVAL && rc != -ERANGE)
		abort();
	rc = units_parse_bool(s, &b);
	if (rc != 0 && rc != -EINVAL)
		abort();
	rc = units_parse_duration(s, &ns);
	if (rc != 0 && rc != -EINVAL && rc != -ERANGE)
		abort();
	if (rc == 0 && s[0] != '-' && ns < 0)
		abort();
	if (rc == 0 && s[0] == '-' && ns > 0)
		abort();
}

static void fuzz_tag(const char *tmpl)
{
	char err[CONFIG_ERR_MAX];
	char small[7];
	char *full;
	size_t len = 0, len2 = 0;
	int checked, rc;

	checked = config_check_tag(tmpl, err, sizeof(err));
	if (checked != 0)
		check_sentence(err);
	rc = config_render_tag(tmpl, &info, small, sizeof(small), &len);
	if (checked != 0) {
		if (rc != -EINVAL || len != 0 || small[0] != '\0')
			abort();
		return;
	}
	if (rc != 0 && rc != -ENOSPC)
		abort();
	if ((rc == 0) != (len < sizeof(small)))
		abort();
	if (strlen(small) != (len < sizeof(small) ? len : sizeof(small) - 1))
		abort();
	full = malloc(len + 1);
	if (full == NULL)
		return;
	if (config_render_tag(tmpl, &info, full, len + 1, &len2) != 0 ||
	    len2 != len || strlen(full) != len ||
	    strncmp(full, small, strlen(small)) != 0)
		abort();
	free(full);
}

static void check_config(const struct log_config *c)
{
	if (c->rate_limit_bytes > CONFIG_RATE_MAX ||
	    (c->rate_limit_bytes == 0) != (c->rate_burst_bytes == 0) ||
	    (c->rate_limit_bytes != 0 &&
	     (c->rate_burst_bytes < CONFIG_CHUNK_BYTES ||
	      c->rate_burst_bytes > CONFIG_BURST_MAX)))
		abort();
	if (c->rate_limit_lines > CONFIG_RATE_MAX ||
	    (c->rate_limit_lines == 0) != (c->rate_burst_lines == 0) ||
	    c->rate_burst_lines > CONFIG_BURST_MAX)
		abort();
	if (c->rate_policy != CONFIG_RATE_DROP &&
	    c->rate_policy != CONFIG_RATE_BLOCK)
		abort();
	if (c->max_size_bytes == 0 || c->max_size_bytes > UNITS_SIZE_MAX ||
	    c->max_files < 1 || c->max_files > CONFIG_MAX_FILE_MAX ||
	    (c->compress && c->max_files < 2))
		abort();
	if ((c->labels != NULL && c->labels[0] == '\0') ||
	    (c->env != NULL && c->env[0] == '\0') ||
	    (c->labels_regex != NULL) != c->has_labels_re ||
	    (c->env_regex != NULL) != c->has_env_re)
		abort();
	if (c->tag != NULL && config_check_tag(c->tag, NULL, 0) != 0)
		abort();
}

static void check_node(const struct node_config *n)
{
	size_t i;

	if (n->rate_limit_bytes > CONFIG_RATE_MAX ||
	    (n->rate_limit_bytes == 0) != (n->rate_burst_bytes == 0) ||
	    (n->rate_limit_bytes != 0 &&
	     n->rate_burst_bytes < CONFIG_CHUNK_BYTES) ||
	    n->rate_burst_bytes > CONFIG_BURST_MAX ||
	    n->max_disk_bytes > UNITS_SIZE_MAX || n->keep_stopped_ns < 0)
		abort();
	for (i = 0; i < n->n_defaults; i++) {
		if (n->defaults[i].key == NULL || n->defaults[i].value == NULL)
			abort();
	}
}

static void fuzz_parse(const struct node_config *node, char **lines,
		       size_t n_lines)
{
	struct config_kv kv[MAX_LINES];
	struct log_config c;
	char err[CONFIG_ERR_MAX];
	size_t i, n = 0;
	char *eq;
	int rc;

	for (i = 0; i < n_lines; i++) {
		eq = strchr(lines[i], '=');
		if (eq != NULL)
			*eq = '\0';
		kv[n].key = lines[i];
		kv[n].value = eq != NULL ? eq + 1 : "";
		n++;
	}
	rc = config_parse(node, kv, n, &c, err, sizeof(err));
	if (rc == 0) {
		check_config(&c);
		for (i = 0; i < n; i++) {
			if (strlen(kv[i].value) > MATCH_MAX)
				continue;
			(void)config_label_is_wanted(&c, kv[i].value);
			(void)config_env_is_wanted(&c, kv[i].value);
		}
		config_release(&c);
	} else if (rc == -EINVAL) {
		check_sentence(err);
	} else if (rc != -ENOMEM) {
		abort();
	}
}

/* Copy the input and cut it into at most MAX_LINES lines. */
static char *split(const uint8_t *data, size_t size, char **lines,
		   size_t *n_lines)
{
	char *buf, *p, *nl;
	size_t n = 0;

	buf = malloc(size + 1);
	if (buf == NULL)
		return NULL;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (p = buf; p != NULL && n < MAX_LINES; p = nl) {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl++ = '\0';
		lines[n++] = p;
	}
	*n_lines = n;
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *lines[MAX_LINES];
	struct config_node_env env;
	struct node_config node;
	char err[CONFIG_ERR_MAX];
	size_t n, i;
	int rc;

	buf = split(data, size, lines, &n);
	if (buf == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		fuzz_units(lines[i]);
		fuzz_tag(lines[i]);
	}

	memset(&env, 0, sizeof(env));
	if (n > 0)
		env.default_log_opts = lines[0];
	if (n > 1)
		env.node_rate_limit = lines[1];
	if (n > 2)
		env.node_rate_burst = lines[2];
	if (n > 3)
		env.node_max_disk = lines[3];
	if (n > 4)
		env.keep_stopped = lines[4];
	rc = config_node_parse(&env, &node, err, sizeof(err));
	if (rc == 0) {
		check_node(&node);
		fuzz_parse(&node, lines + (n > 5 ? 5 : n), n > 5 ? n - 5 : 0);
		config_node_release(&node);
	} else if (rc == -EINVAL) {
		check_sentence(err);
		if (node.defaults != NULL || node.defaults_buf != NULL)
			abort();
	} else if (rc != -ENOMEM) {
		abort();
	}
	free(buf);

	/* Every line as a log-opt, with no node defaults at all. */
	buf = split(data, size, lines, &n);
	if (buf == NULL)
		return 0;
	fuzz_parse(NULL, lines, n);
	free(buf);
	return 0;
}
