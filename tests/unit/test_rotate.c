/* SPDX-License-Identifier: Apache-2.0 */
/* Rotation decisions, the rename chain, and compression (store/rotate.c). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "store/rotate.h"

static void test_split(void **state)
{
	const char *b = "aaaa\nbbbb\ncccc\n"; /* lines of 5 bytes */
	size_t n = strlen(b);

	(void)state;
	/* No limit, or the whole batch fits below it. */
	assert_int_equal(rotate_split(0, 0, b, n), n);
	assert_int_equal(rotate_split(0, 100, b, n), n);
	/* The line that reaches max-size is written whole, then rotate. */
	assert_int_equal(rotate_split(0, 5, b, n), 5);
	assert_int_equal(rotate_split(0, 6, b, n), 10);
	assert_int_equal(rotate_split(0, 1, b, n), 5);
	assert_int_equal(rotate_split(3, 8, b, n), 5);
	assert_int_equal(rotate_split(3, 9, b, n), 10);
	assert_int_equal(rotate_split(0, 15, b, n), n);
	assert_int_equal(rotate_split(0, 14, b, n), n);
	/* A batch ending without a newline is taken whole. */
	assert_int_equal(rotate_split(0, 2, "abc", 3), 3);
}

static void test_name(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(
		rotate_name(buf, sizeof(buf), "/x/a-json.log", 3, false), 0);
	assert_string_equal(buf, "/x/a-json.log.3");
	assert_int_equal(
		rotate_name(buf, sizeof(buf), "/x/a-json.log", 1, true), 0);
	assert_string_equal(buf, "/x/a-json.log.1.gz");
	assert_int_equal(rotate_name(buf, 8, "/x/a-json.log", 1, true),
			 -ENAMETOOLONG);
}

static char dir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/rotate-XXXXXX",
		 getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The count moves only for a rotation that happened: a reader holding the
 * current file must not go looking for it among the rotated ones. */
static void test_lock_count(void **state)
{
	struct rotate_lock l;

	(void)state;
	rotate_lock_init(&l);
	assert_int_equal(rotate_count(&l), 0);
	rotate_lock_rotating(&l);
	rotate_unlock_rotated(&l, true);
	assert_int_equal(rotate_count(&l), 1);
	rotate_lock_rotating(&l);
	rotate_unlock_rotated(&l, false);
	assert_int_equal(rotate_lock_opening(&l), 1);
	/* Readers share it. */
	assert_int_equal(rotate_lock_opening(&l), 1);
	rotate_unlock_opened(&l);
	rotate_unlock_opened(&l);
	rotate_lock_destroy(&l);
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *get(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_shift(void **state)
{
	char base[300], p[400];

	(void)state;
	snprintf(base, sizeof(base), "%s/c-json.log", dir);
	put(base, "current");
	/* max-file 3: .1 and .2 exist; .2 goes, .1 -> .2, current -> .1 */
	snprintf(p, sizeof(p), "%s.1", base);
	put(p, "one");
	snprintf(p, sizeof(p), "%s.2.gz", base);
	put(p, "two-gz");
	assert_int_equal(rotate_shift(base, 3), 0);
	assert_null(get(base));
	snprintf(p, sizeof(p), "%s.1", base);
	assert_string_equal(get(p), "current");
	snprintf(p, sizeof(p), "%s.2", base);
	assert_string_equal(get(p), "one");
	snprintf(p, sizeof(p), "%s.2.gz", base);
	assert_null(get(p));
	snprintf(p, sizeof(p), "%s.3", base);
	assert_null(get(p));

	/* Gaps in the chain are fine; compressed names move too. */
	put(base, "next");
	assert_int_equal(rotate_shift(base, 4), 0);
	snprintf(p, sizeof(p), "%s.3", base);
	assert_string_equal(get(p), "one");
	snprintf(p, sizeof(p), "%s.2", base);
	assert_string_equal(get(p), "current");
	snprintf(p, sizeof(p), "%s.1", base);
	assert_string_equal(get(p), "next");
}

static void test_compress(void **state)
{
	char src[300], gz[320];
	char text[4096], back[4096], extra[128];
	gz_header head;
	z_stream zs;
	unsigned char in[8192];
	int fd;
	ssize_t n;

	(void)state;
	snprintf(src, sizeof(src), "%s/c-json.log.1", dir);
	snprintf(gz, sizeof(gz), "%s.gz", src);
	memset(text, 0, sizeof(text));
	for (int i = 0; i < 60; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 "{\"log\":\"line %d\\n\",\"stream\":\"stdout\"}\n", i);
	put(src, text);
	assert_int_equal(rotate_compress(src, "2024-05-01T12:00:00.5Z"), 0);
	assert_null(get(src)); /* the source is gone */

	fd = open(gz, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, in, sizeof(in));
	close(fd);
	assert_true(n > 18);
	memset(&zs, 0, sizeof(zs));
	memset(&head, 0, sizeof(head));
	head.extra = (Bytef *)extra;
	head.extra_max = sizeof(extra) - 1;
	assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
	assert_int_equal(inflateGetHeader(&zs, &head), Z_OK);
	zs.next_in = in;
	zs.avail_in = (uInt)n;
	zs.next_out = (Bytef *)back;
	zs.avail_out = sizeof(back) - 1;
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	back[sizeof(back) - 1 - zs.avail_out] = '\0';
	extra[head.extra_len] = '\0';
	inflateEnd(&zs);
	assert_string_equal(back, text);
	assert_string_equal(extra, "{\"lastTime\":\"2024-05-01T12:00:00.5Z\"}");

	/* A missing source is an error and leaves nothing behind. */
	assert_int_equal(rotate_compress(src, "x"), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_lock_count),
		cmocka_unit_test_setup_teardown(test_shift, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compress, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
