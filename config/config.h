/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Settings, checked once and typed: the plugin-level ones from the
 * environment (config_node_parse(), at start-up) and each container's
 * log-opts laid over them (config_parse(), at StartLogging).  Nothing past
 * this module reads option strings.
 *
 * Every failure is a sentence for the user, written into the caller's
 * 'err' buffer: it names the option (or environment variable), quotes the
 * value, and says what is accepted.  Sentences are printable ASCII only
 * (safe to put in JSON as they are), quoted values are cut to
 * CONFIG_QUOTE_MAX bytes with other bytes escaped, and they never contain
 * the phrases dockerd turns into container exit codes ("no such file or
 * directory", "permission denied", ...; protocol notes 2.6), even when the
 * user's value does.  CONFIG_ERR_MAX bytes always hold the whole sentence.
 *
 * Options (log-opts), with json-file's meaning where json-file has them:
 *
 *   rate-limit        size, bytes per second per container, at most
 *                     CONFIG_RATE_MAX (1t); 0 = unlimited.  Default 1m.
 *   rate-burst        size, bytes the bucket holds, from 16384 (one 16 KiB
 *                     dockerd chunk must fit) to CONFIG_BURST_MAX.  Default
 *                     4 times the effective rate-limit, never below 16384.
 *   rate-limit-lines  whole number, lines per second, at most
 *                     CONFIG_RATE_MAX; 0 (default) = no line limit.
 *   rate-burst-lines  whole number, 1..CONFIG_BURST_MAX.  Default 4 times
 *                     the effective rate-limit-lines.
 *   rate-policy       "drop" (default) or "block".
 *   rate-notice       bool, default true: write a notice line saying what
 *                     was dropped.
 *   max-size          size > 0, default 20m (20000000 bytes).
 *   max-file          whole number, 1..CONFIG_MAX_FILE_MAX, default 5.
 *   compress          bool, default false; true needs max-file >= 2.
 *   labels, env       comma-separated label keys / environment variable
 *                     names to copy into each line's attrs.
 *   labels-regex,     regular expression over label keys / environment
 *   env-regex         variable names (see "Regular expressions" below).
 *   tag               template, see config_render_tag().
 *
 * Sizes are units_parse_size() (json-file's max-size syntax: decimal, so
 * 1m = 1000000), bools units_parse_bool(), whole numbers units_parse_int().
 * A typed option given as "" is an error; labels, labels-regex, env,
 * env-regex and tag given as "" are unset (so a container can clear a
 * node default).  dockerd's own options, which it passes to every plugin
 * (mode, max-buffer-size, cache-disabled, cache-max-size, cache-max-file,
 * cache-compress), are accepted and ignored; any other key is an error
 * that lists the valid ones.
 *
 * Precedence, per key: the container's log-opt, else DEFAULT_LOG_OPTS,
 * else the built-in default.  Derived defaults (the bursts) are computed
 * after that merge from the effective rate, so a container that sets only
 * rate-limit=500k gets a 2m burst even when DEFAULT_LOG_OPTS set a higher
 * rate-limit (but a rate-burst given in DEFAULT_LOG_OPTS is a value like
 * any other and applies as it is).
 *
 * Regular expressions are POSIX extended (regcomp REG_EXTENDED) as glibc
 * implements them, not Go's RE2 as in json-file; a match anywhere in the
 * name counts, as with Go's MatchString.  Where the two dialects would read
 * one pattern differently the pattern is refused rather than silently
 * matched otherwise: RE2-only syntax such as "(?i)", "\d", "\pL", "\z",
 * lazy quantifiers ("+?", which regcomp would read as "(x+)?"), back
 * references and any backslash inside [...] is an error that says so
 * ("\w", "\W", "\s", "\S", "\b", "\B" and escaped punctuation mean the
 * same in both and are accepted).  To keep regcomp's time and memory
 * bounded a pattern may be at most CONFIG_REGEX_MAX bytes, nest groups
 * CONFIG_REGEX_DEPTH_MAX deep, repeat at most 1000 times per {m,n} (RE2's
 * limit), and expand to at most CONFIG_REGEX_WEIGHT_MAX pattern elements
 * once repetitions are unrolled (regcomp copies x for each repetition of
 * x{m,n} and twice for x+, so nested repetitions multiply).  Matching
 * time is bounded too: a name longer than CONFIG_REGEX_NAME_MAX bytes is
 * never matched by a regex (it can still be named in labels or env).
 *
 * Threads: every function is reentrant and may run on any thread; a
 * struct log_config or node_config is read-only after its parse and may
 * then be shared between threads.
 */
#ifndef CONFIG_CONFIG_H
#define CONFIG_CONFIG_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room that always holds a whole error sentence. */
#define CONFIG_ERR_MAX 1024
/* Bytes of a user's value quoted in a sentence before it is cut. */
#define CONFIG_QUOTE_MAX 64

/* One dockerd chunk: a burst must be able to pass a whole one. */
#define CONFIG_CHUNK_BYTES	  16384
#define CONFIG_RATE_LIMIT_DEFAULT 1000000  /* 1m bytes per second */
#define CONFIG_BURST_FACTOR	  4	   /* burst = 4 x rate */
#define CONFIG_MAX_SIZE_DEFAULT	  20000000 /* 20m */
#define CONFIG_MAX_FILE_DEFAULT	  5
#define CONFIG_MAX_FILE_MAX	  10000
/* Largest rate (bytes or lines per second; 0 means unlimited) and burst,
   the token bucket's limits (TOKENBUCKET_RATE_MAX, _BURST_MAX). */
#define CONFIG_RATE_MAX	 UINT64_C(1000000000000)
#define CONFIG_BURST_MAX (UINT64_C(1) << 60)
#define CONFIG_KEEP_STOPPED_DEFAULT_NS                                         \
	(INT64_C(168) * 3600 * INT64_C(1000000000)) /* 168h */

#define CONFIG_REGEX_MAX	512
#define CONFIG_REGEX_DEPTH_MAX	100
#define CONFIG_REGEX_WEIGHT_MAX 1000
/* Names longer than this are never matched by labels-regex or env-regex
   (glibc's matcher can take ~0.1 s on 1 KiB with the largest patterns). */
#define CONFIG_REGEX_NAME_MAX 1024

/* One log-opt; both strings borrowed from the caller. */
struct config_kv {
	const char *key;
	const char *value;
};

enum config_rate_policy {
	CONFIG_RATE_DROP,  /* over the limit: drop and count (default) */
	CONFIG_RATE_BLOCK, /* over the limit: stop reading the FIFO */
};

/*
 * One container's settings.  Filled by config_parse(), released with
 * config_release(); owns its strings and compiled expressions, so never
 * copy it by value (two copies would release the same memory).  Read the
 * fields directly; change none of them.
 */
struct log_config {
	uint64_t rate_limit_bytes; /* per second, 0 = unlimited, else
				      1..CONFIG_RATE_MAX */
	uint64_t rate_burst_bytes; /* 0 when rate_limit_bytes is 0, else
				      CONFIG_CHUNK_BYTES..CONFIG_BURST_MAX */
	uint64_t rate_limit_lines; /* per second, 0 = no line limit, else
				      1..CONFIG_RATE_MAX */
	uint64_t rate_burst_lines; /* 0 when rate_limit_lines is 0, else
				      1..CONFIG_BURST_MAX */
	enum config_rate_policy rate_policy;
	bool rate_notice;	 /* write a notice line for drops */
	uint64_t max_size_bytes; /* rotate at this size, 1..UNITS_SIZE_MAX */
	unsigned max_files;	 /* files kept incl. the current one,
				    1..CONFIG_MAX_FILE_MAX */
	bool compress;	    /* gzip rotated files; implies max_files >= 2 */
	char *labels;	    /* "key,key" as given, or NULL when unset */
	char *labels_regex; /* as given, or NULL when unset */
	char *env;	    /* "NAME,NAME" as given, or NULL */
	char *env_regex;    /* as given, or NULL */
	char *tag;	    /* template (valid), or NULL for no tag */
	/* private */
	bool has_labels_re, has_env_re;
	regex_t labels_re, env_re;
};

/*
 * The plugin-level environment, each string borrowed and NULL when the
 * variable is unset (the same as empty).
 */
struct config_node_env {
	const char *default_log_opts; /* DEFAULT_LOG_OPTS */
	const char *node_rate_limit;  /* NODE_RATE_LIMIT */
	const char *node_rate_burst;  /* NODE_RATE_BURST */
	const char *node_max_disk;    /* NODE_MAX_DISK */
	const char *keep_stopped;     /* KEEP_STOPPED */
};

/* Plugin-level settings; filled by config_node_parse(). */
struct node_config {
	uint64_t rate_limit_bytes; /* node budget per second, 0 = none, else
				      1..CONFIG_RATE_MAX */
	uint64_t rate_burst_bytes; /* 0 when rate_limit_bytes is 0, else
				      CONFIG_CHUNK_BYTES..CONFIG_BURST_MAX */
	uint64_t max_disk_bytes;   /* cap for all logs together, 0 = none */
	int64_t keep_stopped_ns;   /* keep a stopped container's logs this
				      long; 0 = until removed by hand */
	/* DEFAULT_LOG_OPTS, checked, in the order given, without dockerd's
	   own options; owned (point into 'defaults_buf'). */
	struct config_kv *defaults;
	size_t n_defaults;
	/* private */
	char *defaults_buf;
};

/* What a tag template can show; strings borrowed, NULL reads as "". */
struct tag_info {
	const char *id;		/* container id, 64 hex digits */
	const char *name;	/* container name; one leading '/' is dropped */
	const char *image_id;	/* "sha256:<64 hex>" */
	const char *image_name; /* the image as the user named it */
	const char *daemon_name; /* "docker" */
	const char *entrypoint;	 /* argv[0] as configured */
	const char *const *args; /* the rest of argv, 'n_args' strings */
	size_t n_args;
	const char *hostname; /* {{.Hostname}}: json-file shows dockerd's
				 os.Hostname(), the host's name */
};

/*
 * Read the plugin-level settings:
 *
 *   DEFAULT_LOG_OPTS  "key=value,key=value": log-opts for every container
 *                     that does not set them itself, checked as log-opts
 *                     are, and as a whole (they must make a valid config
 *                     on their own).  Because values such as labels=a,b
 *                     hold commas, a comma-separated piece without '='
 *                     continues the value before it: "labels=a,b,max-file=3"
 *                     is labels "a,b" and max-file 3.  (So a comma inside
 *                     a value can only be followed by text without '='.)
 *                     Blanks around a key are ignored; values are taken as
 *                     they are.  A key given twice is an error.
 *   NODE_RATE_LIMIT   size, bytes per second for all containers together,
 *                     at most CONFIG_RATE_MAX; empty or 0 = no node budget.
 *   NODE_RATE_BURST   size, CONFIG_CHUNK_BYTES..CONFIG_BURST_MAX; empty =
 *                     4 times NODE_RATE_LIMIT (at least CONFIG_CHUNK_BYTES);
 *                     ignored (0) when there is no node budget.
 *   NODE_MAX_DISK     size, e.g. 10g; empty or 0 = no cap.
 *   KEEP_STOPPED      Go duration (units_parse_duration()), e.g. 168h, 30m,
 *                     1h30m; >= 0; 0 = keep until removed by hand; empty =
 *                     CONFIG_KEEP_STOPPED_DEFAULT_NS (168h).
 *
 * On success fills 'out' (release with config_node_release()) and returns
 * 0.  On failure returns -EINVAL (a sentence naming the variable is in
 * 'err') or -ENOMEM, and leaves nothing in 'out' to release.  'err' may be
 * NULL when err_len is 0.
 */
int config_node_parse(const struct config_node_env *env,
		      struct node_config *out, char *err, size_t err_len);

/* Free what 'node' owns and zero it.  Accepts NULL and a zeroed struct. */
void config_node_release(struct node_config *node);

/*
 * One container's settings: the 'n_opts' log-opts in 'opts' (its
 * Info.Config; may be NULL when n_opts is 0) over node->defaults over the
 * built-in defaults.  'node' may be NULL (built-in defaults only).  A key
 * given twice in 'opts' is an error.
 *
 * On success fills 'out' (release with config_release(); it borrows
 * nothing from 'node' or 'opts') and returns 0.  On failure returns
 * -EINVAL (a sentence is in 'err') or -ENOMEM, and leaves nothing in 'out'
 * to release.  Checks run in the order of the table above, so the first
 * bad option is the one named.
 */
int config_parse(const struct node_config *node, const struct config_kv *opts,
		 size_t n_opts, struct log_config *out, char *err,
		 size_t err_len);

/* Free what 'cfg' owns and zero it.  Accepts NULL and a zeroed struct. */
void config_release(struct log_config *cfg);

/*
 * Whether the label 'key' goes into attrs: it is one of the comma-separated
 * names of 'labels' (compared whole, blanks included, as json-file does) or
 * 'labels-regex' matches it (keys up to CONFIG_REGEX_NAME_MAX bytes).  With
 * a regex this can take milliseconds: compute a container's attrs once.
 * json-file builds attrs in this order, a later source replacing an
 * earlier one for the same key: labels, labels-regex, env, env-regex, then
 * "tag" (only when it renders non-empty).
 */
bool config_label_is_wanted(const struct log_config *cfg, const char *key);

/*
 * Whether the environment variable 'name' (the part of a "NAME=value"
 * entry before the first '='; entries without '=' are skipped by json-file)
 * goes into attrs: listed in 'env' or matched by 'env-regex'.
 */
bool config_env_is_wanted(const struct log_config *cfg, const char *name);

/*
 * Check a tag template without rendering it.  A template is text with
 * actions "{{.Field}}" where Field is ID (first 12 characters of the
 * container id), FullID, Name, ImageID (first 12 characters of image_id,
 * so "sha256:" and 5 hex digits), ImageFullID, ImageName, DaemonName,
 * Command (entrypoint and args joined by single spaces, as moby's
 * Info.Command()) or Hostname.  Blanks (space, tab, CR, LF) may surround
 * the field inside the braces, and Go's trim markers work: "{{- " drops
 * the blanks before the action and " -}}" those after it.  Anything else
 * in braces (another field, a function such as json or upper, a pipeline,
 * a comment, an unclosed "{{") is an error; a "}}" outside an action is
 * text, as in Go.
 *
 * Returns 0, or -EINVAL with a sentence in 'err' saying what is wrong and
 * listing the fields.
 */
int config_check_tag(const char *tmpl, char *err, size_t err_len);

/*
 * Render a template that config_check_tag() accepts, for the container in
 * 'ti' (NULL: every field empty).  Writes at most cap - 1 bytes and a NUL into
 * 'dst' (nothing when cap is 0) and stores the full length of the rendering,
 * NUL excluded, in *len_out (saturating at SIZE_MAX).  json-file adds no tag
 * when the rendering is empty.
 *
 * Returns 0 when it fit, -ENOSPC when it was cut (call again with
 * *len_out + 1 bytes), or -EINVAL when the template is invalid (dst is
 * then "" and *len_out 0).
 */
int config_render_tag(const char *tmpl, const struct tag_info *ti, char *dst,
		      size_t cap, size_t *len_out);

#endif
