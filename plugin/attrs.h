/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "attrs" object json-file writes on every line of a container, built
 * once per stream from the container's Info and its log-opts, exactly as
 * json-file builds it (protocol notes 8.1): the labels named by `labels` or
 * matched by `labels-regex`, the environment variables named by `env` or
 * matched by `env-regex` (a later source replaces an earlier one for the
 * same key), then "tag" when the `tag` template renders non-empty.  Keys
 * are sorted and strings escaped as Go's encoding/json does.
 */
#ifndef PLUGIN_ATTRS_H
#define PLUGIN_ATTRS_H

#include <stddef.h>

#include <jansson.h>

struct log_config;

/*
 * Render the attrs of the container described by 'info' (the Info object
 * dockerd sent; borrowed; any field may be missing) under 'cfg'.  Stores a
 * new string in *out (free() it) and its length in *len, or NULL and 0 when
 * there are no attrs (then no "attrs" key is written).  Returns 0, -ENOMEM,
 * or -EINVAL with a sentence for the user in 'err' (the tag did not
 * render).
 */
int attrs_render(const struct log_config *cfg, json_t *info, char **out,
		 size_t *len, char *err, size_t err_len);

#endif
