/* SPDX-License-Identifier: Apache-2.0 */
#include "plugin/attrs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

/* Longest tag kept; json-file has no limit, but a line must stay sane. */
#define TAG_MAX 4096

struct out {
	char *p; /* owned */
	size_t len;
	size_t cap;
	bool oom;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->oom)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap < 256 ? 256 : o->cap;
		char *q;

		while (cap < o->len + n + 1)
			cap *= 2;
		q = realloc(o->p, cap);
		if (q == NULL) {
			o->oom = true;
			return;
		}
		o->p = q;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when invalid (by
 * Go's rules: no overlongs, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t k;
	unsigned cp;

	if (c < 0xc2 || c > 0xf4)
		return 0;
	k = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if (n < k)
		return 0;
	cp = c & (0x7f >> k);
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return k;
}

/*
 * A JSON string as Go's encoding/json writes it (the Go of dockerd 20.10
 * to 28): \" \\ \n \r \t, other controls as \u00XX, <>& as \u003c \u003e
 * \u0026, U+2028/2029 escaped, each invalid UTF-8 byte as \ufffd.
 */
static void put_string(struct out *o, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	put(o, "\"", 1);
	while (i < n) {
		unsigned char c = s[i];
		char esc[7] = {'\\', 'u', '0', '0', 0, 0, 0};
		size_t k;

		if (c >= 0x80) {
			k = utf8_len(s + i, n - i);
			if (k == 0) {
				put(o, "\\ufffd", 6);
				i++;
			} else if (k == 3 && c == 0xe2 && s[i + 1] == 0x80 &&
				   (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
				put(o, s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029",
				    6);
				i += 3;
			} else {
				put(o, str + i, k);
				i += k;
			}
			continue;
		}
		switch (c) {
		case '"':
			put(o, "\\\"", 2);
			break;
		case '\\':
			put(o, "\\\\", 2);
			break;
		case '\n':
			put(o, "\\n", 2);
			break;
		case '\r':
			put(o, "\\r", 2);
			break;
		case '\t':
			put(o, "\\t", 2);
			break;
		case '<':
		case '>':
		case '&':
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			put(o, esc, 6);
			break;
		default:
			if (c < 0x20) {
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 15];
				put(o, esc, 6);
			} else {
				put(o, str + i, 1);
			}
		}
		i++;
	}
	put(o, "\"", 1);
}

static const char *str_field(json_t *info, const char *key)
{
	const char *v = json_string_value(json_object_get(info, key));

	return v != NULL ? v : "";
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Render the tag into 'attrs' as "tag" when it is set and not empty. */
static int add_tag(const struct log_config *cfg, json_t *info, json_t *attrs,
		   char *err, size_t err_len)
{
	const char *args[64];
	char host[256] = "";
	struct tag_info ti;
	json_t *a = json_object_get(info, "ContainerArgs");
	char *tag = NULL;
	size_t len = 0;
	size_t i;
	int rc;

	if (cfg->tag == NULL)
		return 0;
	memset(&ti, 0, sizeof(ti));
	ti.id = str_field(info, "ContainerID");
	ti.name = str_field(info, "ContainerName");
	ti.image_id = str_field(info, "ContainerImageID");
	ti.image_name = str_field(info, "ContainerImageName");
	ti.daemon_name = str_field(info, "DaemonName");
	ti.entrypoint = str_field(info, "ContainerEntrypoint");
	for (i = 0; i < json_array_size(a) && ti.n_args < 64; i++) {
		const char *s = json_string_value(json_array_get(a, i));

		if (s != NULL)
			args[ti.n_args++] = s;
	}
	ti.args = args;
	(void)gethostname(host, sizeof(host) - 1);
	ti.hostname = host;
	tag = malloc(TAG_MAX);
	if (tag == NULL)
		return -ENOMEM;
	rc = config_render_tag(cfg->tag, &ti, tag, TAG_MAX, &len);
	if (rc == -EINVAL) {
		snprintf(err, err_len, "log-opt tag could not be rendered");
		goto out;
	}
	/* -ENOSPC: a tag longer than TAG_MAX is kept cut. */
	rc = 0;
	if (tag[0] != '\0' &&
	    json_object_set_new(attrs, "tag", json_string(tag)) != 0)
		rc = -ENOMEM;
out:
	free(tag);
	return rc;
}

int attrs_render(const struct log_config *cfg, json_t *info, char **out,
		 size_t *len, char *err, size_t err_len)
{
	json_t *attrs = json_object();
	json_t *labels = json_object_get(info, "ContainerLabels");
	json_t *env = json_object_get(info, "ContainerEnv");
	const char **keys = NULL;
	struct out o = {NULL, 0, 0, false};
	const char *key;
	json_t *value;
	size_t i, n;
	int rc = 0;

	*out = NULL;
	*len = 0;
	if (attrs == NULL)
		return -ENOMEM;
	json_object_foreach(labels, key, value)
	{
		if (json_is_string(value) && config_label_is_wanted(cfg, key))
			json_object_set(attrs, key, value);
	}
	/* "NAME=value"; entries without '=' are skipped, a later entry for
	 * the same name wins, as json-file's mapping does. */
	for (i = 0; i < json_array_size(env); i++) {
		const char *e = json_string_value(json_array_get(env, i));
		const char *eq = e != NULL ? strchr(e, '=') : NULL;
		char *name;

		if (eq == NULL)
			continue;
		name = strndup(e, (size_t)(eq - e));
		if (name == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		if (config_env_is_wanted(cfg, name))
			json_object_set_new(attrs, name, json_string(eq + 1));
		free(name);
	}
	rc = add_tag(cfg, info, attrs, err, err_len);
	if (rc != 0)
		goto out;
	n = json_object_size(attrs);
	if (n == 0)
		goto out;
	keys = calloc(n, sizeof(*keys));
	if (keys == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	i = 0;
	json_object_foreach(attrs, key, value) keys[i++] = key;
	qsort(keys, n, sizeof(*keys), cmp_keys);
	put(&o, "{", 1);
	for (i = 0; i < n; i++) {
		value = json_object_get(attrs, keys[i]);
		if (i > 0)
			put(&o, ",", 1);
		put_string(&o, keys[i], strlen(keys[i]));
		put(&o, ":", 1);
		put_string(&o, json_string_value(value),
			   json_string_length(value));
	}
	put(&o, "}", 1);
	if (o.oom) {
		rc = -ENOMEM;
		goto out;
	}
	*out = o.p;
	*len = o.len;
	o.p = NULL;
out:
	free(o.p);
	free(keys);
	json_decref(attrs);
	return rc;
}
