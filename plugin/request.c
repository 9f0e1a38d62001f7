/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request bodies as dockerd writes them: Go's encoding/json output of structs
 * without tags, so keys are the Go field names.  Go matches keys
 * case-insensitively when it decodes, and treats null as "leave the field
 * alone"; both are mirrored here so that anything dockerd could have decoded
 * is accepted.  Every error goes through fail(), which keeps the sentence
 * printable UTF-8 and free of the phrases dockerd turns into exit codes.
 */
#include "plugin/request.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "store/jsonline.h"

/* User values quoted in an error are cut to this many output characters. */
#define QUOTE_MAX 64
/* Room for a quoted value: QUOTE_MAX characters, quotes and "...". */
#define QUOTE_BUF (QUOTE_MAX + 8)
/* Longer Since/Until strings cannot be RFC 3339 times. */
#define TIME_TEXT_MAX 64
/* What Go's zero time.Time marshals to: dockerd's "not set". */
#define GO_ZERO_TIME "0001-01-01T00:00:00Z"

/*
 * dockerd searches start errors for these (lowercased) and then reports the
 * container as "command not found" (127) or "cannot invoke" (126): moby
 * daemon/errors.go translateContainerdStartErr.
 */
static const char *const exit_code_phrases[] = {
	"no such file or directory",
	"executable file not found",
	"system cannot find the file specified",
	"permission denied",
	"not a directory",
};

/*
 * A quoted value may hold any text, even one of the phrases above; breaking
 * its first space keeps the sentence readable and dockerd's heuristic quiet.
 */
static void scrub(char *s)
{
	size_t i;
	char *hit;
	char *space;

	for (i = 0;
	     i < sizeof(exit_code_phrases) / sizeof(exit_code_phrases[0]);
	     i++) {
		while ((hit = strcasestr(s, exit_code_phrases[i])) != NULL) {
			space = strchr(hit, ' ');
			*space = '_';
		}
	}
}

static int fail(char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Write the error sentence, always NUL-terminated, and return -EINVAL so
 * callers can "return fail(...)".
 */
static int fail(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;
	size_t end;
	int n;

	if (err == NULL || err_len == 0)
		return -EINVAL;
	va_start(ap, fmt);
	n = vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		err[0] = '\0';
		return -EINVAL;
	}
	if ((size_t)n >= err_len) {
		/* Cut on a character boundary: "Err" must stay valid UTF-8. */
		end = err_len - 1;
		while (end > 0 && ((unsigned char)err[end - 1] & 0xc0) == 0x80)
			end--;
		if (end > 0 && (unsigned char)err[end - 1] >= 0xc0)
			end--;
		err[end] = '\0';
	}
	scrub(err);
	return -EINVAL;
}

/*
 * Write 's' into 'dst' with every byte outside printable ASCII escaped (so
 * the result is ASCII whatever 's' holds) and '"' and '\\' escaped, at most
 * 'max' characters, which must be less than 'cap'.  Returns true when 's' was
 * cut short.
 */
static bool escape(char *dst, size_t cap, const char *s, size_t len, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	char e[4];
	size_t i, o = 0, elen;
	unsigned char c;

	if (max >= cap)
		max = cap - 1;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		e[0] = '\\';
		elen = 2;
		if (c == '"' || c == '\\') {
			e[1] = (char)c;
		} else if (c == '\n') {
			e[1] = 'n';
		} else if (c == '\t') {
			e[1] = 't';
		} else if (c < 0x20 || c >= 0x7f) {
			e[1] = 'x';
			e[2] = hex[c >> 4];
			e[3] = hex[c & 0xf];
			elen = 4;
		} else {
			e[0] = (char)c;
			elen = 1;
		}
		if (o + elen > max)
			break;
		memcpy(dst + o, e, elen);
		o += elen;
	}
	dst[o] = '\0';
	return i < len;
}

/* '"value"' for a string, else the JSON literal or type, for "got %s". */
static void describe(char *dst, size_t cap, const json_t *v)
{
	char text[QUOTE_MAX + 1];
	bool cut;

	switch (json_typeof(v)) {
	case JSON_STRING:
		cut = escape(text, sizeof(text), json_string_value(v),
			     json_string_length(v), QUOTE_MAX);
		snprintf(dst, cap, "\"%s\"%s", text, cut ? "..." : "");
		break;
	case JSON_INTEGER:
		snprintf(dst, cap, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
		break;
	case JSON_REAL:
		snprintf(dst, cap, "%.15g", json_real_value(v));
		break;
	case JSON_TRUE:
		snprintf(dst, cap, "true");
		break;
	case JSON_FALSE:
		snprintf(dst, cap, "false");
		break;
	case JSON_NULL:
		snprintf(dst, cap, "null");
		break;
	case JSON_OBJECT:
		snprintf(dst, cap, "an object");
		break;
	case JSON_ARRAY:
	default:
		snprintf(dst, cap, "an array");
		break;
	}
}

static int fail_type(char *err, size_t err_len, const char *ep,
		     const char *field, const char *form, const json_t *v)
{
	char got[QUOTE_BUF];

	if (v == NULL)
		return fail(err, err_len, "%s: %s is missing, it must be %s",
			    ep, field, form);
	describe(got, sizeof(got), v);
	return fail(err, err_len, "%s: %s must be %s, got %s", ep, field, form,
		    got);
}

/*
 * The member 'name' of 'obj', as Go's encoding/json finds it: an exact key
 * first, otherwise a key equal to it ignoring (ASCII) case, the last such
 * key winning as in Go.  Returns a borrowed reference or NULL.
 */
static json_t *member(json_t *obj, const char *name)
{
	json_t *found;
	void *it;

	found = json_object_get(obj, name);
	if (found != NULL)
		return found;
	for (it = json_object_iter(obj); it != NULL;
	     it = json_object_iter_next(obj, it)) {
		if (strcasecmp(json_object_iter_key(it), name) == 0)
			found = json_object_iter_value(it);
	}
	return found;
}

/*
 * Parse the whole body into an object in *out.  'expected' shows the shape
 * the endpoint wants, for the empty-body error.
 */
static int load_body(const char *ep, const char *expected, const char *body,
		     size_t len, json_t **out, char *err, size_t err_len)
{
	json_error_t jerr;
	char text[QUOTE_BUF];
	char got[QUOTE_BUF];
	json_t *root;
	size_t i;
	bool cut;

	*out = NULL;
	if (len > REQUEST_BODY_MAX)
		return fail(err, err_len,
			    "%s: body of %zu bytes is over the limit of %d "
			    "bytes",
			    ep, len, REQUEST_BODY_MAX);
	for (i = 0; i < len; i++) {
		if (body[i] != ' ' && body[i] != '\t' && body[i] != '\n' &&
		    body[i] != '\r')
			break;
	}
	if (i == len)
		return fail(err, err_len, "%s: empty body, expected %s", ep,
			    expected);
	/*
	 * NUL is allowed inside strings because Go allows it; fields where it
	 * matters check for it.  Duplicate keys never come from Go's encoder.
	 */
	root = json_loadb(body, len,
			  JSON_DECODE_ANY | JSON_REJECT_DUPLICATES |
				  JSON_ALLOW_NUL,
			  &jerr);
	if (root == NULL) {
		cut = escape(text, sizeof(text), jerr.text, strlen(jerr.text),
			     QUOTE_MAX);
		if (cut)
			strcat(text, "...");
		if (json_error_code(&jerr) == json_error_numeric_overflow)
			return fail(err, err_len,
				    "%s: body has a number out of range: %s "
				    "(line %d, column %d)",
				    ep, text, jerr.line, jerr.column);
		return fail(err, err_len,
			    "%s: body is not JSON: %s (line %d, column %d)", ep,
			    text, jerr.line, jerr.column);
	}
	if (!json_is_object(root)) {
		describe(got, sizeof(got), root);
		json_decref(root);
		return fail(err, err_len,
			    "%s: body must be a JSON object %s, got %s", ep,
			    expected, got);
	}
	*out = root;
	return 0;
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* Check File: "<fifo_dir>/<name>", copied into 'dst' on success. */
static int parse_file(const char *ep, json_t *root, const char *fifo_dir,
		      char dst[REQUEST_PATH_MAX], char *err, size_t err_len)
{
	char form[REQUEST_PATH_MAX + 32];
	char got[QUOTE_BUF];
	const char *dir;
	const char *s;
	const char *name;
	size_t dir_len, len, name_len, i;
	json_t *v;

	/* "/run/docker/logging/" and "/run/docker/logging" are one dir. */
	dir_len = strlen(fifo_dir);
	while (dir_len > 0 && fifo_dir[dir_len - 1] == '/')
		dir_len--;
	if (dir_len + 2 > REQUEST_PATH_MAX)
		return fail(err, err_len,
			    "%s: the FIFO directory is longer than %d bytes",
			    ep, REQUEST_PATH_MAX - 2);
	dir = dir_len > 0 ? fifo_dir : "/";
	snprintf(form, sizeof(form), "a FIFO path directly under %.*s",
		 (int)(dir_len > 0 ? dir_len : 1), dir);

	v = member(root, "File");
	if (v == NULL || !json_is_string(v))
		return fail_type(err, err_len, ep, "File", form, v);
	s = json_string_value(v);
	len = json_string_length(v);
	if (len <= dir_len || memcmp(s, fifo_dir, dir_len) != 0 ||
	    s[dir_len] != '/')
		return fail_type(err, err_len, ep, "File", form, v);

	name = s + dir_len + 1;
	name_len = len - dir_len - 1;
	for (i = 0; i < name_len; i++) {
		if (!is_name_char(name[i]))
			break;
	}
	if (name_len == 0 || name_len > REQUEST_FIFO_NAME_MAX || i < name_len ||
	    (name_len == 1 && name[0] == '.') ||
	    (name_len == 2 && name[0] == '.' && name[1] == '.')) {
		describe(got, sizeof(got), v);
		return fail(err, err_len,
			    "%s: File must be %s named by 1-%d characters of "
			    "[A-Za-z0-9._-] other than . and .., got %s",
			    ep, form, REQUEST_FIFO_NAME_MAX, got);
	}
	if (len >= REQUEST_PATH_MAX)
		return fail(err, err_len, "%s: File is longer than %d bytes",
			    ep, REQUEST_PATH_MAX - 1);
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

static bool is_container_id(const json_t *v)
{
	const char *s;
	size_t i;

	if (!json_is_string(v) || json_string_length(v) != 64)
		return false;
	s = json_string_value(v);
	for (i = 0; i < 64; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

/* Check Info and fill 'out', taking a reference to the Info object. */
static int parse_info(const char *ep, json_t *root, struct log_info *out,
		      char *err, size_t err_len)
{
	char key_text[QUOTE_BUF];
	char got[QUOTE_BUF];
	const char *key;
	json_t *info, *id, *cfg, *v;
	void *it;

	info = member(root, "Info");
	if (info == NULL || !json_is_object(info))
		return fail_type(err, err_len, ep, "Info",
				 "an object with ContainerID", info);
	id = member(info, "ContainerID");
	if (id == NULL || !is_container_id(id))
		return fail_type(err, err_len, ep, "Info.ContainerID",
				 "64 lowercase hex digits", id);

	cfg = member(info, "Config");
	if (cfg != NULL && json_is_null(cfg))
		cfg = NULL;
	if (cfg != NULL && !json_is_object(cfg))
		return fail_type(err, err_len, ep, "Info.Config",
				 "an object of string values", cfg);
	for (it = json_object_iter(cfg); it != NULL;
	     it = json_object_iter_next(cfg, it)) {
		key = json_object_iter_key(it);
		v = json_object_iter_value(it);
		/* Options are C strings downstream; a NUL would cut them. */
		if (json_is_string(v) &&
		    strlen(json_string_value(v)) == json_string_length(v))
			continue;
		if (escape(key_text, sizeof(key_text), key, strlen(key),
			   QUOTE_MAX))
			strcat(key_text, "...");
		describe(got, sizeof(got), v);
		return fail(err, err_len,
			    "%s: Info.Config[\"%s\"] must be a string%s, got "
			    "%s",
			    ep, key_text,
			    json_is_string(v) ? " without NUL bytes" : "", got);
	}

	memcpy(out->container_id, json_string_value(id), 64);
	out->container_id[64] = '\0';
	out->info = json_incref(info);
	out->config = cfg;
	return 0;
}

/*
 * True when 's' is a well-formed RFC 3339 time that jsonline_parse_time()
 * refused only for being outside the int64 nanosecond range (years 1677 to
 * 2262); *before is set when it lies before that range.  Checked by parsing
 * it again with the year replaced by one inside the range (and as leap).
 */
static bool out_of_range(const char *s, size_t len, bool *before)
{
	char buf[TIME_TEXT_MAX];
	int64_t ns;
	int year;
	size_t i;

	if (len < 5 || len > sizeof(buf) || s[4] != '-')
		return false;
	year = 0;
	for (i = 0; i < 4; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		year = year * 10 + (s[i] - '0');
	}
	memcpy(buf, s, len);
	/* Keep February 29th as valid or invalid as it was. */
	if (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
		memcpy(buf, "2000", 4);
	else
		memcpy(buf, "2001", 4);
	if (jsonline_parse_time(buf, len, &ns) != 0)
		return false;
	*before = year < 1970;
	return true;
}

/*
 * Config.Since or Config.Until into *out_ns, 0 meaning unset.  Times outside
 * what int64 nanoseconds hold are clamped to what they mean: a Since before
 * 1677 or an Until after 2262 is no bound at all, a Since after 2262 or an
 * Until before 1677 excludes everything.
 */
static int parse_time_field(const char *ep, json_t *cfg, const char *name,
			    bool is_until, int64_t *out_ns, char *err,
			    size_t err_len)
{
	char field[32];
	const char *s;
	bool before;
	size_t len;
	json_t *v;

	*out_ns = 0;
	v = cfg != NULL ? member(cfg, name) : NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	snprintf(field, sizeof(field), "Config.%s", name);
	if (!json_is_string(v))
		return fail_type(err, err_len, ep, field,
				 "an RFC 3339 time such as "
				 "\"2024-05-01T12:00:00.5+02:00\"",
				 v);
	s = json_string_value(v);
	len = json_string_length(v);
	if (len == strlen(GO_ZERO_TIME) && memcmp(s, GO_ZERO_TIME, len) == 0)
		return 0;
	/*
	 * A time at exactly the Unix epoch also comes out as 0 ("unset").  That
	 * loses nothing: dockerd applies Since and Until to the stream again.
	 */
	if (len <= TIME_TEXT_MAX && jsonline_parse_time(s, len, out_ns) == 0)
		return 0;
	if (out_of_range(s, len, &before)) {
		if (before)
			*out_ns = is_until ? INT64_MIN : 0;
		else
			*out_ns = is_until ? 0 : INT64_MAX;
		return 0;
	}
	*out_ns = 0;
	return fail_type(err, err_len, ep, field,
			 "an RFC 3339 time such as "
			 "\"2024-05-01T12:00:00.5+02:00\"",
			 v);
}

static int parse_tail(const char *ep, json_t *cfg, int64_t *out, char *err,
		      size_t err_len)
{
	static const char form[] = "an integer (-1 for all)";
	json_t *v;
	int64_t n;
	double d;

	*out = -1;
	v = cfg != NULL ? member(cfg, "Tail") : NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		n = (int64_t)json_integer_value(v);
	} else if (json_is_real(v)) {
		/* Go accepts 5.0 for an int field, and so do we. */
		d = json_real_value(v);
		if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
			return fail_type(err, err_len, ep, "Config.Tail", form,
					 v);
		n = (int64_t)d;
		if ((double)n < d || (double)n > d)
			return fail_type(err, err_len, ep, "Config.Tail", form,
					 v);
	} else {
		return fail_type(err, err_len, ep, "Config.Tail", form, v);
	}
	*out = n < 0 ? -1 : n;
	return 0;
}

static int parse_follow(const char *ep, json_t *cfg, bool *out, char *err,
			size_t err_len)
{
	json_t *v;

	*out = false;
	v = cfg != NULL ? member(cfg, "Follow") : NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return fail_type(err, err_len, ep, "Config.Follow",
				 "true or false", v);
	*out = json_is_true(v);
	return 0;
}

int request_parse_start(const char *body, size_t len, const char *fifo_dir,
			struct start_request *out, char *err, size_t err_len)
{
	static const char ep[] = "StartLogging";
	json_t *root = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = load_body(ep, "{\"File\": ..., \"Info\": {...}}", body, len, &root,
		       err, err_len);
	if (rc != 0)
		goto out;
	rc = parse_file(ep, root, fifo_dir, out->file, err, err_len);
	if (rc != 0)
		goto out;
	rc = parse_info(ep, root, &out->info, err, err_len);
out:
	if (rc != 0)
		request_start_release(out);
	json_decref(root);
	return rc;
}

int request_parse_stop(const char *body, size_t len, const char *fifo_dir,
		       struct stop_request *out, char *err, size_t err_len)
{
	static const char ep[] = "StopLogging";
	json_t *root = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = load_body(ep, "{\"File\": ...}", body, len, &root, err, err_len);
	if (rc != 0)
		goto out;
	rc = parse_file(ep, root, fifo_dir, out->file, err, err_len);
out:
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	json_decref(root);
	return rc;
}

int request_parse_read(const char *body, size_t len, struct read_request *out,
		       char *err, size_t err_len)
{
	static const char ep[] = "ReadLogs";
	json_t *root = NULL;
	json_t *cfg;
	int rc;

	memset(out, 0, sizeof(*out));
	out->tail = -1;
	rc = load_body(ep, "{\"Info\": {...}, \"Config\": {...}}", body, len,
		       &root, err, err_len);
	if (rc != 0)
		goto out;
	rc = parse_info(ep, root, &out->info, err, err_len);
	if (rc != 0)
		goto out;
	/* A missing or null Config leaves every field at its default. */
	cfg = member(root, "Config");
	if (cfg != NULL && json_is_null(cfg))
		cfg = NULL;
	if (cfg != NULL && !json_is_object(cfg)) {
		rc = fail_type(err, err_len, ep, "Config",
			       "an object with Since, Until, Tail and Follow",
			       cfg);
		goto out;
	}
	rc = parse_time_field(ep, cfg, "Since", false, &out->since_ns, err,
			      err_len);
	if (rc != 0)
		goto out;
	rc = parse_time_field(ep, cfg, "Until", true, &out->until_ns, err,
			      err_len);
	if (rc != 0)
		goto out;
	rc = parse_tail(ep, cfg, &out->tail, err, err_len);
	if (rc != 0)
		goto out;
	rc = parse_follow(ep, cfg, &out->follow, err, err_len);
out:
	if (rc != 0) {
		request_read_release(out);
		out->tail = -1;
	}
	json_decref(root);
	return rc;
}

void log_info_release(struct log_info *info)
{
	json_decref(info->info);
	memset(info, 0, sizeof(*info));
}

void request_start_release(struct start_request *r)
{
	log_info_release(&r->info);
	memset(r, 0, sizeof(*r));
}

void request_read_release(struct read_request *r)
{
	log_info_release(&r->info);
	memset(r, 0, sizeof(*r));
}
