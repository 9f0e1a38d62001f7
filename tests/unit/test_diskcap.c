/* SPDX-License-Identifier: Apache-2.0 */
/* The node disk cap and keep-stopped retention (store/diskcap.c). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/diskcap.h"

#define DAY_NS (INT64_C(86400) * 1000000000)

static char root[256];
static int64_t now_ns;

static const char *id_of(int n)
{
	static char ids[8][65];

	memset(ids[n], 'a' + n, 64);
	ids[n][64] = '\0';
	return ids[n];
}

/* Active containers: those whose id starts with a letter up to 'c'. */
static bool active(void *arg, const char *id)
{
	(void)arg;
	return id[0] <= 'c';
}

/* A file of 'kb' KiB of real data, last modified 'age_days' ago. */
static void make(int n, const char *suffix, int kb, double age_days)
{
	char path[512], block[1024];
	struct timespec ts[2];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, id_of(n));
	mkdir(path, 0750);
	snprintf(path, sizeof(path), "%s/%s/%s-json.log%s", root, id_of(n),
		 id_of(n), suffix);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	assert_true(fd >= 0);
	memset(block, 'x', sizeof(block));
	for (int i = 0; i < kb; i++)
		assert_int_equal(write(fd, block, sizeof(block)),
				 sizeof(block));
	fsync(fd);
	close(fd);
	ts[0].tv_sec = ts[1].tv_sec =
		(time_t)((now_ns - (int64_t)(age_days * (double)DAY_NS)) /
			 1000000000);
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static bool has(int n, const char *suffix)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s/%s-json.log%s", root, id_of(n),
		 id_of(n), suffix);
	return access(path, F_OK) == 0;
}

static int setup(void **state)
{
	struct timespec ts;

	(void)state;
	clock_gettime(CLOCK_REALTIME, &ts);
	now_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	snprintf(root, sizeof(root), "%s/diskcap-XXXXXX",
		 getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(root) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_order(void **state)
{
	struct diskcap_stats st;

	(void)state;
	/* Containers 0-2 ('a'-'c') are active, 3-4 are not. */
	make(0, "", 64, 0.1);
	make(0, ".1", 64, 0.5);
	make(0, ".2.gz", 64, 0.9);
	make(3, "", 64, 0.3);
	make(3, ".1", 64, 0.4);
	make(4, "", 64, 0.2);
	make(4, ".1", 64, 0.2);
	/* 7 x 64k = 448k; a cap of 300k deletes three files: first the
	 * idle rotated (4.1, 3.1), then the oldest idle current (3). */
	assert_int_equal(
		diskcap_pass(root, 300 * 1024, 0, now_ns, active, NULL, &st),
		0);
	assert_int_equal(st.files_deleted, 3);
	assert_false(st.over_cap);
	assert_false(has(3, ".1"));
	assert_false(has(4, ".1"));
	assert_false(has(3, ""));
	assert_true(has(4, ""));
	assert_true(has(0, ".1") && has(0, ".2.gz") && has(0, ""));
	assert_true(st.bytes_after <= 300 * 1024);

	/* Tighter: the active container's rotated files go, oldest first,
	 * and its current file never. */
	assert_int_equal(
		diskcap_pass(root, 100 * 1024, 0, now_ns, active, NULL, &st),
		0);
	assert_false(has(4, ""));
	assert_false(has(0, ".2.gz"));
	assert_false(has(0, ".1"));
	assert_true(has(0, ""));
	assert_true(st.over_cap == (st.bytes_after > 100 * 1024));
	assert_int_equal(diskcap_pass(root, 1024, 0, now_ns, active, NULL, &st),
			 0);
	assert_true(has(0, ""));
	assert_true(st.over_cap);
}

static void test_keep_stopped(void **state)
{
	struct diskcap_stats st;
	char path[512];

	(void)state;
	make(3, "", 4, 10); /* stopped 10 days ago: goes */
	make(3, ".1", 4, 11);
	make(4, "", 4, 1);  /* stopped yesterday: stays */
	make(1, "", 4, 30); /* active, however old: stays */
	assert_int_equal(
		diskcap_pass(root, 0, 7 * DAY_NS, now_ns, active, NULL, &st),
		0);
	snprintf(path, sizeof(path), "%s/%s", root, id_of(3));
	assert_true(access(path, F_OK) != 0);
	assert_int_equal(st.dirs_deleted, 1);
	assert_true(has(4, ""));
	assert_true(has(1, ""));
}

static void test_leaves_others_alone(void **state)
{
	struct diskcap_stats st;
	char path[512], target[512];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/.state", root);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/.state/x.json", root);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(write(fd, "{}", 2) == 2);
	close(fd);
	make(4, "", 8, 2);
	/* A file that is not ours, and a symlink posing as a rotation. */
	snprintf(path, sizeof(path), "%s/%s/notes.txt", root, id_of(4));
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(write(fd, "keep", 4) == 4);
	close(fd);
	snprintf(target, sizeof(target), "%s/.state/x.json", root);
	snprintf(path, sizeof(path), "%s/%s/%s-json.log.1", root, id_of(4),
		 id_of(4));
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(diskcap_pass(root, 1, 0, now_ns, active, NULL, &st),
			 0);
	assert_false(has(4, ""));
	snprintf(path, sizeof(path), "%s/.state/x.json", root);
	assert_true(access(path, F_OK) == 0);
	snprintf(path, sizeof(path), "%s/%s/notes.txt", root, id_of(4));
	assert_true(access(path, F_OK) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_stopped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_leaves_others_alone, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
