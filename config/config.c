/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log-opts and plugin-level settings into typed structs (see config.h).
 * A container's options are first merged with the node defaults into one
 * value per known option, remembering where each came from, then parsed in
 * a fixed order, so the error names the first bad option and says whether
 * its value came from DEFAULT_LOG_OPTS.  All user text that reaches an
 * error sentence goes through escape(), the one place that escapes, cuts
 * and defuses it.
 */
#include "config/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/units.h"

enum opt {
	OPT_RATE_LIMIT,
	OPT_RATE_BURST,
	OPT_RATE_LIMIT_LINES,
	OPT_RATE_BURST_LINES,
	OPT_RATE_POLICY,
	OPT_RATE_NOTICE,
	OPT_MAX_SIZE,
	OPT_MAX_FILE,
	OPT_COMPRESS,
	OPT_LABELS,
	OPT_LABELS_REGEX,
	OPT_ENV,
	OPT_ENV_REGEX,
	OPT_TAG,
	OPT_COUNT
};

static const char *const opt_names[OPT_COUNT] = {
	"rate-limit",  "rate-burst",  "rate-limit-lines", "rate-burst-lines",
	"rate-policy", "rate-notice", "max-size",	  "max-file",
	"compress",    "labels",      "labels-regex",	  "env",
	"env-regex",   "tag",
};

/*
 * What each option accepts, said after "expected" in its error.  Numbers
 * in sentences are written out; they are CONFIG_CHUNK_BYTES,
 * CONFIG_MAX_FILE_MAX, CONFIG_REGEX_MAX and CONFIG_REGEX_DEPTH_MAX, and the
 * tests compare the sentences with those constants.
 */
static const char *const opt_expect[OPT_COUNT] = {
	"a size in bytes per second such as 500k, 1m or 2.5m (decimal "
	"units), or 0 for unlimited",
	"a size in bytes of at least 16384 (one 16 KiB dockerd chunk) such as "
	"64k or 4m (decimal units)",
	"a whole number of lines per second such as 1000, or 0 for unlimited",
	"a whole number of lines of at least 1 such as 4000",
	"drop or block",
	"true or false",
	"a size in bytes greater than 0 such as 10m or 1g (decimal units)",
	"a whole number of files from 1 to 10000",
	"true or false",
	NULL,
	NULL,
	NULL,
	NULL,
	NULL,
};

/* dockerd's own options: it passes them to every plugin (notes 5, 6). */
static const char *const dockerd_opts[] = {
	"mode",		  "max-buffer-size", "cache-disabled",
	"cache-max-size", "cache-max-file",  "cache-compress",
};

/* Phrases dockerd maps to container exit codes 126/127 (notes 2.6). */
static const char *const exit_code_phrases[] = {
	"no such file or directory",
	"executable file not found",
	"system cannot find the file specified",
	"permission denied",
	"not a directory",
};

static const char *const tag_fields[] = {
	"ID",	     "FullID",	   "Name",    "ImageID",  "ImageFullID",
	"ImageName", "DaemonName", "Command", "Hostname",
};

enum tag_field {
	TAG_ID,
	TAG_FULL_ID,
	TAG_NAME,
	TAG_IMAGE_ID,
	TAG_IMAGE_FULL_ID,
	TAG_IMAGE_NAME,
	TAG_DAEMON_NAME,
	TAG_COMMAND,
	TAG_HOSTNAME,
	TAG_FIELD_COUNT
};

#define TAG_FIELD_LIST                                                         \
	"{{.ID}}, {{.FullID}}, {{.Name}}, {{.ImageID}}, {{.ImageFullID}}, "    \
	"{{.ImageName}}, {{.DaemonName}}, {{.Command}}, {{.Hostname}}"

#define DEFAULTS_VAR "DEFAULT_LOG_OPTS"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- sentences ---- */

/* An error sentence under construction; writes are cut at 'cap'. */
struct sb {
	char *buf; /* NULL: nothing is written */
	size_t cap;
	size_t len;
};

static void sb_init(struct sb *b, char *buf, size_t cap)
{
	b->buf = cap > 0 ? buf : NULL;
	b->cap = cap;
	b->len = 0;
	if (b->buf != NULL)
		b->buf[0] = '\0';
}

static void sb_put(struct sb *b, const char *s, size_t n)
{
	size_t room;

	if (b->buf == NULL || b->len + 1 >= b->cap)
		return;
	room = b->cap - 1 - b->len;
	if (n > room)
		n = room;
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

static void sb_puts(struct sb *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void sb_printf(struct sb *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sb_printf(struct sb *b, const char *fmt, ...)
{
	char tmp[CONFIG_ERR_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		sb_puts(b, tmp);
}

static char ascii_lower(char c)
{
	if (c >= 'A' && c <= 'Z')
		return (char)(c - 'A' + 'a');
	return c;
}

/* The first case-insensitive occurrence of 'needle' in 'hay', or NULL. */
static char *find_nocase(char *hay, const char *needle)
{
	size_t n = strlen(needle), i;

	for (; *hay != '\0'; hay++) {
		for (i = 0; i < n; i++) {
			if (ascii_lower(hay[i]) != needle[i])
				break;
		}
		if (i == n)
			return hay;
	}
	return NULL;
}

/*
 * Write 'n' bytes of 's' escaped to printable ASCII: \" \\ \n \r \t, and
 * \xNN for every other byte outside 0x20..0x7e ('quotes' false: only the
 * \xNN part, for library text that is not quoted).  Then break any phrase
 * dockerd would act on by writing its first space as \x20, which reads
 * the same to a person.  'dst' needs 4 * n + 3 * (phrases) + 1 bytes.
 */
static void escape(char *dst, size_t cap, const char *s, size_t n, bool quotes)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;
	char *hit, *sp;

	for (i = 0; i < n && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (quotes ? c : 0) {
		case '"':
		case '\\':
			dst[o++] = '\\';
			dst[o++] = (char)c;
			break;
		case '\n':
			dst[o++] = '\\';
			dst[o++] = 'n';
			break;
		case '\r':
			dst[o++] = '\\';
			dst[o++] = 'r';
			break;
		case '\t':
			dst[o++] = '\\';
			dst[o++] = 't';
			break;
		default:
			if (c >= 0x20 && c < 0x7f) {
				dst[o++] = (char)c;
			} else {
				dst[o++] = '\\';
				dst[o++] = 'x';
				dst[o++] = hex[c >> 4];
				dst[o++] = hex[c & 0xf];
			}
		}
	}
	dst[o] = '\0';
	for (i = 0; i < ARRAY_LEN(exit_code_phrases); i++) {
		while ((hit = find_nocase(dst, exit_code_phrases[i])) != NULL) {
			sp = strchr(hit, ' ');
			if (o + 3 >= cap) {
				/* No room to escape: cut the phrase off. */
				*hit = '\0';
				o = (size_t)(hit - dst);
				break;
			}
			memmove(sp + 4, sp + 1, strlen(sp + 1) + 1);
			sp[0] = '\\';
			sp[1] = 'x';
			sp[2] = '2';
			sp[3] = '0';
			o += 3;
		}
	}
}

/* Room for escape() of up to CONFIG_QUOTE_MAX bytes, with slack. */
#define QUOTE_BUF (CONFIG_QUOTE_MAX * 4 + 64)

/*
 * Append 's' as "text", escaped, cut after CONFIG_QUOTE_MAX bytes with
 * "..." after the closing quote to say so.
 */
static void sb_quote(struct sb *b, const char *s)
{
	char q[QUOTE_BUF];
	size_t n = strlen(s);

	escape(q, sizeof(q), s, n > CONFIG_QUOTE_MAX ? CONFIG_QUOTE_MAX : n,
	       true);
	sb_puts(b, "\"");
	sb_puts(b, q);
	sb_puts(b, "\"");
	if (n > CONFIG_QUOTE_MAX)
		sb_puts(b, "...");
}

/* Append library text (regerror) escaped but unquoted. */
static void sb_escaped(struct sb *b, const char *s)
{
	char q[QUOTE_BUF];
	size_t n = strlen(s);

	escape(q, sizeof(q), s, n > CONFIG_QUOTE_MAX ? CONFIG_QUOTE_MAX : n,
	       false);
	sb_puts(b, q);
}

/* ---- option names ---- */

static int opt_find(const char *key)
{
	int i;

	for (i = 0; i < OPT_COUNT; i++) {
		if (strcmp(key, opt_names[i]) == 0)
			return i;
	}
	return -1;
}

static bool is_dockerd_opt(const char *key)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(dockerd_opts); i++) {
		if (strcmp(key, dockerd_opts[i]) == 0)
			return true;
	}
	return false;
}

#define SUGGEST_KEY_MAX 32

/* Case-insensitive edit distance, for keys up to SUGGEST_KEY_MAX bytes. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t row[SUGGEST_KEY_MAX + 1];
	size_t la = strlen(a), lb = strlen(b), i, j, diag, up;

	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		diag = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			up = row[j];
			row[j] = diag + (ascii_lower(a[i - 1]) !=
					 ascii_lower(b[j - 1]));
			if (up + 1 < row[j])
				row[j] = up + 1;
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			diag = up;
		}
	}
	return row[lb];
}

/* The known option 'key' was probably meant to be, or NULL. */
static const char *suggest(const char *key)
{
	const char *best = NULL;
	size_t best_d = 3, d;
	int i;

	if (strlen(key) > SUGGEST_KEY_MAX)
		return NULL;
	for (i = 0; i < OPT_COUNT; i++) {
		if (strlen(opt_names[i]) > SUGGEST_KEY_MAX)
			continue;
		d = edit_distance(opt_names[i], key);
		if (d < best_d) {
			best_d = d;
			best = opt_names[i];
		}
	}
	return best;
}

static void sb_unknown(struct sb *b, const char *key)
{
	const char *guess = suggest(key);
	int i;

	sb_puts(b, "unknown log-opt ");
	sb_quote(b, key);
	if (guess != NULL)
		sb_printf(b, " (did you mean %s?)", guess);
	sb_puts(b, "; valid options: ");
	for (i = 0; i < OPT_COUNT; i++) {
		if (i > 0)
			sb_puts(b, ", ");
		sb_puts(b, opt_names[i]);
	}
}

/* ---- regular expressions ---- */

static bool is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

/*
 * Parse "{m}", "{m,}", "{m,n}" or "{,n}" at 'p' (the '{').  Returns the
 * length of the bound and its largest count in *max, or 0 when 'p' does not
 * start a bound (regcomp then decides what the brace is).  Counts are
 * capped while reading so long digit runs cannot overflow.
 */
static size_t regex_bound(const char *p, unsigned long *max)
{
	unsigned long v[2] = {0, 0};
	size_t i = 1;
	int k = 0;
	bool digits[2] = {false, false};

	for (;; i++) {
		if (p[i] >= '0' && p[i] <= '9') {
			if (v[k] <= 100000)
				v[k] = v[k] * 10 + (unsigned long)(p[i] - '0');
			digits[k] = true;
		} else if (p[i] == ',' && k == 0) {
			k = 1;
		} else if (p[i] == '}') {
			break;
		} else {
			return 0;
		}
	}
	if (!digits[0] && !digits[1])
		return 0;
	*max = v[0] > v[1] ? v[0] : v[1];
	return i + 1;
}

/*
 * Refuse what RE2 and POSIX ERE read differently, and patterns whose
 * compiled form would be huge (see config.h).  Syntax errors that both
 * dialects have are left to regcomp.  Returns 0, or -EINVAL with the
 * reason appended to 'b'.
 */
static int regex_check(const char *pat, struct sb *b)
{
	unsigned long weight[CONFIG_REGEX_DEPTH_MAX + 1];
	unsigned long last = 0, factor, count;
	size_t i = 0, n, j;
	int depth = 0;
	bool quantified = false; /* the previous token was a quantifier */

	if (strlen(pat) > CONFIG_REGEX_MAX) {
		sb_puts(b, "longer than 512 bytes");
		return -EINVAL;
	}
	weight[0] = 0;
	while (pat[i] != '\0') {
		unsigned long add = 1;
		bool after_quantifier = quantified;

		factor = 1;
		quantified = strchr("*+?{", pat[i]) != NULL;
		if (pat[i] == '?' && after_quantifier) {
			/* RE2 reads x+? as a lazy x+, regcomp as (x+)?. */
			sb_puts(b,
				"lazy quantifiers such as +? are RE2 syntax");
			return -EINVAL;
		}
		switch (pat[i]) {
		case '\\':
			if (pat[i + 1] == '\0') {
				i++;
				continue;
			}
			if (pat[i + 1] >= '1' && pat[i + 1] <= '9') {
				sb_puts(b, "back references such as \\1 are "
					   "not supported");
				return -EINVAL;
			}
			if (is_alnum(pat[i + 1]) &&
			    strchr("wWsSbB", pat[i + 1]) == NULL) {
				sb_printf(b,
					  "\\%c is RE2 syntax with no POSIX "
					  "equivalent here; use a bracket "
					  "expression such as [0-9] or "
					  "[[:alpha:]]",
					  pat[i + 1]);
				return -EINVAL;
			}
			i += 2;
			break;
		case '[':
			j = i + 1;
			if (pat[j] == '^')
				j++;
			if (pat[j] == ']')
				j++;
			while (pat[j] != '\0' && pat[j] != ']') {
				if (pat[j] == '\\') {
					sb_puts(b, "a backslash inside [...] "
						   "means different things "
						   "in POSIX and RE2");
					return -EINVAL;
				}
				if (pat[j] == '[' && pat[j + 1] != '\0' &&
				    strchr(":.=", pat[j + 1]) != NULL) {
					char close[3] = {pat[j + 1], ']', 0};
					const char *end =
						strstr(pat + j + 2, close);

					/* Unterminated: regcomp reports it. */
					if (end == NULL)
						return 0;
					j = (size_t)(end - pat) + 2;
					continue;
				}
				j++;
			}
			if (pat[j] == '\0') {
				/* Unterminated: regcomp reports it. */
				return 0;
			}
			i = j + 1;
			break;
		case '(':
			if (pat[i + 1] == '?') {
				sb_puts(b, "(?...) groups and flags are RE2 "
					   "syntax");
				return -EINVAL;
			}
			if (depth == CONFIG_REGEX_DEPTH_MAX) {
				sb_puts(b, "groups nest more than 100 deep");
				return -EINVAL;
			}
			weight[++depth] = 0;
			last = 0;
			i++;
			continue;
		case ')':
			i++;
			if (depth == 0)
				break;
			add = weight[depth--] + 1;
			break;
		case '|':
			last = 0;
			i++;
			continue;
		case '*':
		case '?':
			i++;
			continue;
		case '+':
			/* regcomp unrolls x+ into x x*. */
			factor = 2;
			i++;
			break;
		case '{':
			n = regex_bound(pat + i, &count);
			if (n == 0) {
				quantified = false;
				i++;
				break;
			}
			if (count > 1000) {
				sb_puts(b, "a repeat count above 1000");
				return -EINVAL;
			}
			/* regcomp unrolls x{m,n} into n copies of x. */
			factor = count + 1;
			i += n;
			break;
		default:
			i++;
			break;
		}
		if (factor != 1) {
			if (last == 0)
				continue;
			weight[depth] -= last;
			last *= factor;
		} else {
			last = add;
		}
		weight[depth] += last;
		if (weight[depth] > CONFIG_REGEX_WEIGHT_MAX) {
			sb_puts(b, "too large once its repetitions are "
				   "unrolled");
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * Check and compile 'pat' into 're'.  Returns 0, -EINVAL with the reason
 * appended to 'b', or -ENOMEM.
 */
static int regex_compile(const char *pat, regex_t *re, struct sb *b)
{
	char msg[128];
	int rc;

	rc = regex_check(pat, b);
	if (rc < 0)
		return rc;
	rc = regcomp(re, pat, REG_EXTENDED | REG_NOSUB);
	if (rc == REG_ESPACE)
		return -ENOMEM;
	if (rc != 0) {
		regerror(rc, re, msg, sizeof(msg));
		sb_escaped(b, msg);
		return -EINVAL;
	}
	return 0;
}

/* ---- tag templates ---- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Where a rendering goes: cut at 'cap', 'len' counts all of it. */
struct tag_out {
	char *dst;
	size_t cap;
	size_t len;
};

static void out_put(struct tag_out *o, const char *s, size_t n)
{
	if (o->len < o->cap) {
		size_t room = o->cap - o->len;

		memcpy(o->dst + o->len, s, n < room ? n : room);
	}
	o->len = n > SIZE_MAX - o->len ? SIZE_MAX : o->len + n;
}

static const char *str_or_empty(const char *s)
{
	return s != NULL ? s : "";
}

static void out_prefix(struct tag_out *o, const char *s, size_t max)
{
	size_t n = strnlen(str_or_empty(s), max);

	out_put(o, str_or_empty(s), n);
}

static void out_field(struct tag_out *o, enum tag_field f,
		      const struct tag_info *ti)
{
	const char *s;
	size_t i;

	switch (f) {
	case TAG_ID:
		out_prefix(o, ti->id, 12);
		break;
	case TAG_FULL_ID:
		out_prefix(o, ti->id, SIZE_MAX);
		break;
	case TAG_NAME:
		s = str_or_empty(ti->name);
		out_prefix(o, s[0] == '/' ? s + 1 : s, SIZE_MAX);
		break;
	case TAG_IMAGE_ID:
		out_prefix(o, ti->image_id, 12);
		break;
	case TAG_IMAGE_FULL_ID:
		out_prefix(o, ti->image_id, SIZE_MAX);
		break;
	case TAG_IMAGE_NAME:
		out_prefix(o, ti->image_name, SIZE_MAX);
		break;
	case TAG_DAEMON_NAME:
		out_prefix(o, ti->daemon_name, SIZE_MAX);
		break;
	case TAG_COMMAND:
		/* strings.Join(append([]string{entrypoint}, args...), " ") */
		out_prefix(o, ti->entrypoint, SIZE_MAX);
		for (i = 0; i < ti->n_args; i++) {
			out_put(o, " ", 1);
			out_prefix(o, ti->args[i], SIZE_MAX);
		}
		break;
	case TAG_HOSTNAME:
		out_prefix(o, ti->hostname, SIZE_MAX);
		break;
	case TAG_FIELD_COUNT:
		break;
	}
}

/*
 * Walk a template; with 'ti' also render into 'o'.  Returns 0, or -EINVAL
 * with what is wrong appended to 'b'.
 */
static int tag_walk(const char *tmpl, const struct tag_info *ti,
		    struct tag_out *o, struct sb *b)
{
	const char *p = tmpl, *text, *open, *name;
	size_t text_len, name_len;
	bool trim_after = false;
	int f;

	for (;;) {
		text = p;
		if (trim_after) {
			while (is_blank(*text))
				text++;
		}
		open = strstr(text, "{{");
		if (open == NULL) {
			if (ti != NULL)
				out_put(o, text, strlen(text));
			return 0;
		}
		text_len = (size_t)(open - text);
		p = open + 2;
		if (p[0] == '-' && is_blank(p[1])) {
			while (text_len > 0 && is_blank(text[text_len - 1]))
				text_len--;
			p += 2;
		}
		if (ti != NULL)
			out_put(o, text, text_len);
		if (strstr(p, "}}") == NULL) {
			sb_puts(b, "an unclosed {{");
			return -EINVAL;
		}
		while (is_blank(*p))
			p++;
		if (*p != '.') {
			sb_puts(b, "only fields such as {{.Name}} may stand "
				   "inside {{ }}");
			return -EINVAL;
		}
		name = ++p;
		while (is_alnum(*p) || *p == '_')
			p++;
		name_len = (size_t)(p - name);
		for (f = 0; f < TAG_FIELD_COUNT; f++) {
			if (strlen(tag_fields[f]) == name_len &&
			    memcmp(tag_fields[f], name, name_len) == 0)
				break;
		}
		if (f == TAG_FIELD_COUNT) {
			char field[SUGGEST_KEY_MAX + 2];
			size_t n = name_len < SUGGEST_KEY_MAX ? name_len
							      : SUGGEST_KEY_MAX;

			field[0] = '.';
			memcpy(field + 1, name, n);
			field[n + 1] = '\0';
			sb_puts(b, "unknown field ");
			sb_quote(b, field);
			return -EINVAL;
		}
		trim_after = false;
		for (;;) {
			if (p[0] == '}' && p[1] == '}') {
				p += 2;
				break;
			}
			if (is_blank(p[0]) && p[1] == '-' && p[2] == '}' &&
			    p[3] == '}') {
				trim_after = true;
				p += 4;
				break;
			}
			if (!is_blank(*p)) {
				sb_printf(b,
					  "only a plain field may stand "
					  "inside {{ }}, not .%s with more",
					  tag_fields[f]);
				return -EINVAL;
			}
			p++;
		}
		if (ti != NULL)
			out_field(o, (enum tag_field)f, ti);
	}
}

static void sb_tag_error(struct sb *b, const char *tmpl, struct sb *detail)
{
	sb_puts(b, "invalid log-opt tag=");
	sb_quote(b, tmpl);
	sb_puts(b, ": ");
	sb_puts(b, detail->buf);
	sb_puts(b, "; expected text and the fields " TAG_FIELD_LIST);
}

int config_check_tag(const char *tmpl, char *err, size_t err_len)
{
	struct tag_out unused = {NULL, 0, 0};
	char dbuf[QUOTE_BUF + 128];
	struct sb b, detail;
	int rc;

	sb_init(&b, err, err_len);
	sb_init(&detail, dbuf, sizeof(dbuf));
	rc = tag_walk(tmpl, NULL, &unused, &detail);
	if (rc < 0)
		sb_tag_error(&b, tmpl, &detail);
	return rc;
}

int config_render_tag(const char *tmpl, const struct tag_info *ti, char *dst,
		      size_t cap, size_t *len_out)
{
	static const struct tag_info nothing;
	char dbuf[QUOTE_BUF + 128];
	struct tag_out o = {dst, cap > 0 ? cap - 1 : 0, 0};
	struct sb detail;
	int rc;

	sb_init(&detail, dbuf, sizeof(dbuf));
	/* tag_walk() renders only when given a tag_info. */
	rc = tag_walk(tmpl, ti != NULL ? ti : &nothing, &o, &detail);
	if (rc < 0) {
		o.len = 0;
		goto out;
	}
	if (o.len > o.cap)
		rc = -ENOSPC;
out:
	if (cap > 0)
		dst[o.len < o.cap ? o.len : o.cap] = '\0';
	*len_out = o.len;
	return rc;
}

/* ---- one container ---- */

/* One option's effective text and where it came from. */
struct opt_value {
	const char *text; /* NULL: unset */
	bool from_defaults;
	bool from_container;
};

struct parse {
	struct opt_value v[OPT_COUNT];
	struct log_config *out;
	struct sb *err;
};

/* "invalid log-opt NAME="VALUE"[ (from DEFAULT_LOG_OPTS)]: " */
static void sb_opt_prefix(struct parse *ps, enum opt o)
{
	sb_printf(ps->err, "invalid log-opt %s=", opt_names[o]);
	sb_quote(ps->err, ps->v[o].text);
	if (ps->v[o].from_defaults)
		sb_puts(ps->err, " (from " DEFAULTS_VAR ")");
	sb_puts(ps->err, ": ");
}

static int opt_fail(struct parse *ps, enum opt o)
{
	sb_opt_prefix(ps, o);
	sb_printf(ps->err, "expected %s", opt_expect[o]);
	return -EINVAL;
}

/*
 * The typed options' limits: a value above 'max' is "too large", said with
 * 'unit' after the number.
 */
struct range {
	uint64_t min, max, dflt;
	const char *unit;
};

static int too_large(struct parse *ps, enum opt o, const struct range *r)
{
	sb_opt_prefix(ps, o);
	sb_printf(ps->err, "too large; at most %llu %s",
		  (unsigned long long)r->max, r->unit);
	return -EINVAL;
}

/* A size option into *dst: r->dflt when unset, else in [min, max]. */
static int parse_size(struct parse *ps, enum opt o, const struct range *r,
		      uint64_t *dst)
{
	int rc;

	if (ps->v[o].text == NULL) {
		*dst = r->dflt;
		return 0;
	}
	rc = units_parse_size(ps->v[o].text, dst);
	if (rc == -ERANGE || (rc == 0 && *dst > r->max))
		return too_large(ps, o, r);
	if (rc < 0 || *dst < r->min)
		return opt_fail(ps, o);
	return 0;
}

/* A whole-number option, likewise. */
static int parse_count(struct parse *ps, enum opt o, const struct range *r,
		       uint64_t *dst)
{
	int64_t v;
	int rc;

	if (ps->v[o].text == NULL) {
		*dst = r->dflt;
		return 0;
	}
	rc = units_parse_int(ps->v[o].text, &v);
	if (rc == -ERANGE && ps->v[o].text[0] == '-')
		return opt_fail(ps, o);
	if (rc == -ERANGE || (rc == 0 && v > 0 && (uint64_t)v > r->max))
		return too_large(ps, o, r);
	if (rc < 0 || v < 0 || (uint64_t)v < r->min)
		return opt_fail(ps, o);
	*dst = (uint64_t)v;
	return 0;
}

static int parse_bool(struct parse *ps, enum opt o, bool dflt, bool *dst)
{
	if (ps->v[o].text == NULL) {
		*dst = dflt;
		return 0;
	}
	if (units_parse_bool(ps->v[o].text, dst) < 0)
		return opt_fail(ps, o);
	return 0;
}

/* A string option, copied; "" counts as unset. */
static int parse_string(struct parse *ps, enum opt o, char **dst)
{
	const char *s = ps->v[o].text;

	*dst = NULL;
	if (s == NULL || s[0] == '\0')
		return 0;
	*dst = strdup(s);
	return *dst != NULL ? 0 : -ENOMEM;
}

static int parse_regex(struct parse *ps, enum opt o, char **dst, regex_t *re,
		       bool *has)
{
	char dbuf[QUOTE_BUF + 256];
	struct sb detail;
	int rc;

	rc = parse_string(ps, o, dst);
	if (rc < 0 || *dst == NULL)
		return rc;
	sb_init(&detail, dbuf, sizeof(dbuf));
	rc = regex_compile(*dst, re, &detail);
	if (rc == -EINVAL) {
		sb_opt_prefix(ps, o);
		sb_puts(ps->err, "expected a POSIX extended regular "
				 "expression (");
		sb_puts(ps->err, dbuf);
		sb_puts(ps->err, ")");
	}
	*has = rc == 0;
	return rc;
}

/* 4 x rate, capped at CONFIG_BURST_MAX, and never below 'floor'. */
static uint64_t derive_burst(uint64_t rate, uint64_t floor)
{
	uint64_t burst = rate > CONFIG_BURST_MAX / CONFIG_BURST_FACTOR
				 ? CONFIG_BURST_MAX
				 : rate * CONFIG_BURST_FACTOR;

	return burst < floor ? floor : burst;
}

static const struct range rate_bytes_range = {
	0, CONFIG_RATE_MAX, CONFIG_RATE_LIMIT_DEFAULT,
	"bytes per second (0 means unlimited)"};
static const struct range burst_bytes_range = {CONFIG_CHUNK_BYTES,
					       CONFIG_BURST_MAX, 0, "bytes"};
static const struct range rate_lines_range = {
	0, CONFIG_RATE_MAX, 0, "lines per second (0 means unlimited)"};
static const struct range burst_lines_range = {1, CONFIG_BURST_MAX, 0, "lines"};
static const struct range max_size_range = {1, UNITS_SIZE_MAX,
					    CONFIG_MAX_SIZE_DEFAULT, "bytes"};
static const struct range max_file_range = {1, CONFIG_MAX_FILE_MAX,
					    CONFIG_MAX_FILE_DEFAULT, "files"};

static int parse_rate(struct parse *ps)
{
	struct log_config *c = ps->out;
	int rc;

	rc = parse_size(ps, OPT_RATE_LIMIT, &rate_bytes_range,
			&c->rate_limit_bytes);
	if (rc < 0)
		return rc;
	/* An explicit burst is checked even when the rate makes it moot. */
	rc = parse_size(ps, OPT_RATE_BURST, &burst_bytes_range,
			&c->rate_burst_bytes);
	if (rc < 0)
		return rc;
	if (c->rate_limit_bytes == 0)
		c->rate_burst_bytes = 0;
	else if (ps->v[OPT_RATE_BURST].text == NULL)
		c->rate_burst_bytes =
			derive_burst(c->rate_limit_bytes, CONFIG_CHUNK_BYTES);

	rc = parse_count(ps, OPT_RATE_LIMIT_LINES, &rate_lines_range,
			 &c->rate_limit_lines);
	if (rc < 0)
		return rc;
	rc = parse_count(ps, OPT_RATE_BURST_LINES, &burst_lines_range,
			 &c->rate_burst_lines);
	if (rc < 0)
		return rc;
	if (c->rate_limit_lines == 0)
		c->rate_burst_lines = 0;
	else if (ps->v[OPT_RATE_BURST_LINES].text == NULL)
		c->rate_burst_lines = derive_burst(c->rate_limit_lines, 1);

	c->rate_policy = CONFIG_RATE_DROP;
	if (ps->v[OPT_RATE_POLICY].text != NULL) {
		if (strcmp(ps->v[OPT_RATE_POLICY].text, "block") == 0)
			c->rate_policy = CONFIG_RATE_BLOCK;
		else if (strcmp(ps->v[OPT_RATE_POLICY].text, "drop") != 0)
			return opt_fail(ps, OPT_RATE_POLICY);
	}
	return parse_bool(ps, OPT_RATE_NOTICE, true, &c->rate_notice);
}

static int parse_storage(struct parse *ps)
{
	struct log_config *c = ps->out;
	uint64_t files;
	int rc;

	rc = parse_size(ps, OPT_MAX_SIZE, &max_size_range, &c->max_size_bytes);
	if (rc < 0)
		return rc;
	rc = parse_count(ps, OPT_MAX_FILE, &max_file_range, &files);
	if (rc < 0)
		return rc;
	c->max_files = (unsigned)files;
	rc = parse_bool(ps, OPT_COMPRESS, false, &c->compress);
	if (rc < 0)
		return rc;
	if (c->compress && c->max_files < 2) {
		sb_opt_prefix(ps, OPT_COMPRESS);
		sb_printf(ps->err,
			  "compress cannot be true when max-file is less "
			  "than 2 (max-file is %u%s)",
			  c->max_files,
			  ps->v[OPT_MAX_FILE].from_defaults
				  ? ", from " DEFAULTS_VAR
				  : "");
		return -EINVAL;
	}
	return 0;
}

static int parse_attrs(struct parse *ps)
{
	struct tag_out unused = {NULL, 0, 0};
	struct log_config *c = ps->out;
	char dbuf[QUOTE_BUF + 128];
	struct sb detail;
	int rc;

	rc = parse_string(ps, OPT_LABELS, &c->labels);
	if (rc < 0)
		return rc;
	rc = parse_regex(ps, OPT_LABELS_REGEX, &c->labels_regex, &c->labels_re,
			 &c->has_labels_re);
	if (rc < 0)
		return rc;
	rc = parse_string(ps, OPT_ENV, &c->env);
	if (rc < 0)
		return rc;
	rc = parse_regex(ps, OPT_ENV_REGEX, &c->env_regex, &c->env_re,
			 &c->has_env_re);
	if (rc < 0)
		return rc;
	rc = parse_string(ps, OPT_TAG, &c->tag);
	if (rc < 0 || c->tag == NULL)
		return rc;
	sb_init(&detail, dbuf, sizeof(dbuf));
	rc = tag_walk(c->tag, NULL, &unused, &detail);
	if (rc < 0) {
		sb_opt_prefix(ps, OPT_TAG);
		sb_puts(ps->err, detail.buf);
		sb_puts(ps->err,
			"; expected text and the fields " TAG_FIELD_LIST);
	}
	return rc;
}

/* Lay the node defaults, then the container's options, into ps->v. */
static int merge(struct parse *ps, const struct node_config *node,
		 const struct config_kv *opts, size_t n_opts)
{
	size_t i;
	int o;

	if (node != NULL) {
		for (i = 0; i < node->n_defaults; i++) {
			o = opt_find(node->defaults[i].key);
			/* config_node_parse() kept only known options. */
			if (o < 0)
				continue;
			ps->v[o].text = str_or_empty(node->defaults[i].value);
			ps->v[o].from_defaults = true;
		}
	}
	for (i = 0; i < n_opts; i++) {
		const char *key = str_or_empty(opts[i].key);

		o = opt_find(key);
		if (o < 0) {
			if (is_dockerd_opt(key))
				continue;
			sb_unknown(ps->err, key);
			return -EINVAL;
		}
		if (ps->v[o].from_container) {
			sb_printf(ps->err, "log-opt %s is given twice",
				  opt_names[o]);
			return -EINVAL;
		}
		ps->v[o].text = str_or_empty(opts[i].value);
		ps->v[o].from_defaults = false;
		ps->v[o].from_container = true;
	}
	return 0;
}

int config_parse(const struct node_config *node, const struct config_kv *opts,
		 size_t n_opts, struct log_config *out, char *err,
		 size_t err_len)
{
	struct parse ps;
	struct sb b;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&ps, 0, sizeof(ps));
	sb_init(&b, err, err_len);
	ps.out = out;
	ps.err = &b;

	rc = merge(&ps, node, opts, n_opts);
	if (rc < 0)
		goto out;
	rc = parse_rate(&ps);
	if (rc < 0)
		goto out;
	rc = parse_storage(&ps);
	if (rc < 0)
		goto out;
	rc = parse_attrs(&ps);
out:
	if (rc == -ENOMEM) {
		sb_init(&b, err, err_len);
		sb_puts(&b, "out of memory while reading log-opts");
	}
	if (rc < 0)
		config_release(out);
	return rc;
}

void config_release(struct log_config *cfg)
{
	if (cfg == NULL)
		return;
	if (cfg->has_labels_re)
		regfree(&cfg->labels_re);
	if (cfg->has_env_re)
		regfree(&cfg->env_re);
	free(cfg->labels);
	free(cfg->labels_regex);
	free(cfg->env);
	free(cfg->env_regex);
	free(cfg->tag);
	memset(cfg, 0, sizeof(*cfg));
}

/* Whether 'name' is one of the comma-separated items of 'list'. */
static bool list_has(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list, *comma;

	if (list == NULL)
		return false;
	for (;;) {
		comma = strchr(p, ',');
		if (comma == NULL)
			return strcmp(p, name) == 0;
		if ((size_t)(comma - p) == n && memcmp(p, name, n) == 0)
			return true;
		p = comma + 1;
	}
}

bool config_label_is_wanted(const struct log_config *cfg, const char *key)
{
	if (list_has(cfg->labels, key))
		return true;
	return cfg->has_labels_re && strlen(key) <= CONFIG_REGEX_NAME_MAX &&
	       regexec(&cfg->labels_re, key, 0, NULL, 0) == 0;
}

bool config_env_is_wanted(const struct log_config *cfg, const char *name)
{
	if (list_has(cfg->env, name))
		return true;
	return cfg->has_env_re && strlen(name) <= CONFIG_REGEX_NAME_MAX &&
	       regexec(&cfg->env_re, name, 0, NULL, 0) == 0;
}

/* ---- the node ---- */

static const char *trim_blanks(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

static bool is_all_blank(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == '\0';
}

/* Whether [s, end) holds only blanks. */
static bool is_all_blank_until(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return s == end;
}

/*
 * Split DEFAULT_LOG_OPTS into node->defaults, in place in a copy: a piece
 * with '=' starts a pair, and the comma before it ends the previous value;
 * a piece without '=' stays part of the previous value.
 */
static int split_defaults(const char *text, struct node_config *node,
			  struct sb *b)
{
	size_t pieces = 1, n = 0, i;
	char *p, *comma, *eq, *next;
	bool seen[OPT_COUNT] = {false}, in_pair = false;
	const char *key;
	int o;

	if (text == NULL || is_all_blank(text))
		return 0;
	for (i = 0; text[i] != '\0'; i++)
		pieces += text[i] == ',';
	node->defaults_buf = strdup(text);
	node->defaults = calloc(pieces, sizeof(*node->defaults));
	if (node->defaults_buf == NULL || node->defaults == NULL)
		return -ENOMEM;

	for (p = node->defaults_buf; p != NULL; p = next) {
		comma = strchr(p, ',');
		next = comma != NULL ? comma + 1 : NULL;
		eq = strchr(p, '=');
		if (eq != NULL && comma != NULL && eq > comma)
			eq = NULL;
		if (eq == NULL && in_pair)
			continue; /* part of the previous value */
		if (eq == NULL || is_all_blank_until(p, eq)) {
			if (comma != NULL)
				*comma = '\0';
			sb_puts(b, DEFAULTS_VAR ": expected key=value pairs "
						"separated by commas, not ");
			sb_quote(b, p);
			return -EINVAL;
		}
		/* This piece starts a pair: end the previous value. */
		if (p != node->defaults_buf)
			p[-1] = '\0';
		*eq = '\0';
		key = trim_blanks(p);
		in_pair = true;
		o = opt_find(key);
		if (o < 0 && !is_dockerd_opt(key)) {
			sb_puts(b, DEFAULTS_VAR ": ");
			sb_unknown(b, key);
			return -EINVAL;
		}
		if (o < 0)
			continue; /* dockerd's own, nothing for us */
		if (seen[o]) {
			sb_printf(b, DEFAULTS_VAR ": log-opt %s is given twice",
				  opt_names[o]);
			return -EINVAL;
		}
		seen[o] = true;
		node->defaults[n].key = opt_names[o];
		node->defaults[n].value = eq + 1;
		n++;
	}
	node->n_defaults = n;
	return 0;
}

static bool is_empty(const char *s)
{
	return s == NULL || s[0] == '\0';
}

static int env_fail(struct sb *b, const char *var, const char *value,
		    const char *expect)
{
	sb_printf(b, "invalid %s=", var);
	sb_quote(b, value);
	sb_printf(b, ": expected %s", expect);
	return -EINVAL;
}

/* A size from the environment into *dst, in [min, max]; "" leaves it. */
static int env_size(struct sb *b, const char *var, const char *value,
		    uint64_t min, uint64_t max, const char *expect,
		    uint64_t *dst)
{
	uint64_t v;

	if (is_empty(value))
		return 0;
	if (units_parse_size(value, &v) < 0 || v < min || v > max)
		return env_fail(b, var, value, expect);
	*dst = v;
	return 0;
}

static int parse_node_budget(const struct config_node_env *env,
			     struct node_config *node, struct sb *b)
{
	static const char rate_expect[] =
		"a size in bytes per second such as 20m or 1g (decimal "
		"units, at most 1t), or 0 or empty for no node-wide limit";
	static const char burst_expect[] =
		"a size in bytes of at least 16384 (one 16 KiB dockerd chunk) "
		"such as 64m (decimal units), or empty for 4 times "
		"NODE_RATE_LIMIT";
	static const char disk_expect[] =
		"a size in bytes such as 10g (decimal units), or 0 or empty "
		"for no node-wide cap";
	int rc;

	rc = env_size(b, "NODE_RATE_LIMIT", env->node_rate_limit, 0,
		      CONFIG_RATE_MAX, rate_expect, &node->rate_limit_bytes);
	if (rc < 0)
		return rc;
	rc = env_size(b, "NODE_RATE_BURST", env->node_rate_burst,
		      CONFIG_CHUNK_BYTES, CONFIG_BURST_MAX, burst_expect,
		      &node->rate_burst_bytes);
	if (rc < 0)
		return rc;
	if (node->rate_limit_bytes == 0)
		node->rate_burst_bytes = 0;
	else if (is_empty(env->node_rate_burst))
		node->rate_burst_bytes = derive_burst(node->rate_limit_bytes,
						      CONFIG_CHUNK_BYTES);
	return env_size(b, "NODE_MAX_DISK", env->node_max_disk, 0,
			UNITS_SIZE_MAX, disk_expect, &node->max_disk_bytes);
}

int config_node_parse(const struct config_node_env *env,
		      struct node_config *out, char *err, size_t err_len)
{
	static const char keep_expect[] =
		"a duration such as 168h, 30m or 1h30m (units h, m, s, ms, "
		"us, ns), 0 to keep logs until removed by hand, or empty for "
		"168h";
	struct log_config check;
	struct sb b;
	int rc;

	memset(out, 0, sizeof(*out));
	sb_init(&b, err, err_len);

	rc = split_defaults(env->default_log_opts, out, &b);
	if (rc < 0)
		goto out;
	/* The defaults must make a valid config on their own. */
	rc = config_parse(out, NULL, 0, &check, err, err_len);
	if (rc < 0)
		goto out;
	config_release(&check);

	rc = parse_node_budget(env, out, &b);
	if (rc < 0)
		goto out;
	out->keep_stopped_ns = CONFIG_KEEP_STOPPED_DEFAULT_NS;
	if (!is_empty(env->keep_stopped) &&
	    (units_parse_duration(env->keep_stopped, &out->keep_stopped_ns) <
		     0 ||
	     out->keep_stopped_ns < 0)) {
		rc = env_fail(&b, "KEEP_STOPPED", env->keep_stopped,
			      keep_expect);
		goto out;
	}
out:
	if (rc == -ENOMEM) {
		sb_init(&b, err, err_len);
		sb_puts(&b, "out of memory while reading the plugin settings");
	}
	if (rc < 0)
		config_node_release(out);
	return rc;
}

void config_node_release(struct node_config *node)
{
	if (node == NULL)
		return;
	free(node->defaults);
	free(node->defaults_buf);
	memset(node, 0, sizeof(*node));
}
