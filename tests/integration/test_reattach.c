/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A plugin killed with SIGKILL and started again on the same directories,
 * as dockerd restarts a crashed managed plugin: no StartLogging is sent
 * again, so the plugin re-attaches from its persisted state, loses nothing
 * that was still in the pipe, and forgets streams whose FIFO is gone.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/integration/harness.h"

static int setup(void **state)
{
	*state = h_new(false);
	return *state != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	return h_free(*state) == 0 ? 0 : -1;
}

static void write_range(int fd, unsigned from, unsigned to)
{
	char line[64];

	for (unsigned i = from; i < to; i++) {
		snprintf(line, sizeof(line), "beat %06u", i);
		assert_int_equal(
			h_write_line(fd, "stdout", h_now_real_ns(), line), 0);
	}
}

/* Count records under the state dir. */
static size_t state_records(const struct harness *h)
{
	DIR *d = opendir(h->state_dir);
	struct dirent *de;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += strstr(de->d_name, ".json") != NULL;
	closedir(d);
	return n;
}

static void crash(struct harness *h)
{
	int status;

	kill(h->pid, SIGKILL);
	waitpid(h->pid, &status, 0);
	h->pid = -1;
	unlink(h->sock); /* as dockerd removes the plugin's socket dir */
}

/* Kill -9 the plugin and start it again on the same tree. */
static void crash_and_restart(struct harness *h)
{
	crash(h);
	assert_int_equal(h_spawn(h, false), 0);
}

static void test_reattach_after_kill(void **state)
{
	struct harness *h = *state;
	struct h_fifo f, gone;
	struct h_lines ls;
	char id[65], id2[65], *err = NULL;
	size_t beats = 0;
	int64_t deadline;

	h_container_id(id, 1);
	h_container_id(id2, 2);
	assert_int_equal(h_fifo_new(h, &f, "live"), 0);
	assert_int_equal(h_fifo_new(h, &gone, "gone"), 0);
	assert_int_equal(h_start_logging(h, f.path, id, NULL, &err), 200);
	assert_string_equal(err, "");
	free(err);
	assert_int_equal(h_start_logging(h, gone.path, id2, NULL, &err), 200);
	free(err);
	write_range(f.fd, 0, 100);
	assert_int_equal(h_wait_lines(h, id, 100, H_WAIT_MS), 100);
	/* The state records are written by the writer thread. */
	deadline = h_now_ms() + H_WAIT_MS;
	while (state_records(h) < 2 && h_now_ms() < deadline)
		h_sleep_ms(10);
	assert_int_equal(state_records(h), 2);

	/* While it is down the container goes on logging into the pipe, and
	 * another container stops (its FIFO goes away). */
	crash(h);
	write_range(f.fd, 100, 200);
	h_fifo_close(&gone);
	assert_int_equal(h_spawn(h, false), 0);
	assert_int_equal(h_wait_lines(h, id, 200, H_WAIT_MS), 200);
	write_range(f.fd, 200, 250);
	assert_int_equal(h_wait_lines(h, id, 250, H_WAIT_MS), 250);
	/* A second crash, right after a restart, loses nothing either. */
	crash_and_restart(h);
	write_range(f.fd, 250, 300);
	assert_int_equal(h_wait_lines(h, id, 300, H_WAIT_MS), 300);
	assert_int_equal(h_read_lines(h, id, &ls), 0);
	for (size_t i = 0; i < ls.n; i++) {
		char want[64];

		if (ls.v[i].log == NULL || strncmp(ls.v[i].log, "beat ", 5))
			continue;
		snprintf(want, sizeof(want), "beat %06zu\n", beats);
		assert_string_equal(ls.v[i].log, want);
		beats++;
	}
	h_lines_release(&ls);
	assert_int_equal(beats, 300);
	/* The vanished stream was forgotten, the live one kept. */
	assert_int_equal(state_records(h), 1);

	assert_int_equal(h_stop_logging(h, f.path, &err), 200);
	free(err);
	h_fifo_close(&f);
	deadline = h_now_ms() + H_WAIT_MS;
	while (state_records(h) > 0 && h_now_ms() < deadline)
		h_sleep_ms(10);
	assert_int_equal(state_records(h), 0);
}

/*
 * The killed run had read half a frame: the restarted one finds the rest
 * of it at the head of the pipe, resynchronises on the next frame, and
 * says in the log how much it skipped.
 */
static void test_reattach_mid_frame(void **state)
{
	struct harness *h = *state;
	struct h_fifo f;
	struct h_lines ls;
	char id[65], *err = NULL;
	const char *big = "a line that the crash cuts in two, long enough that "
			  "its second half looks like nothing at all";
	uint8_t *frame;
	size_t len, beats = 0;
	bool notice = false;

	h_container_id(id, 3);
	assert_int_equal(h_fifo_new(h, &f, "mid"), 0);
	assert_int_equal(h_start_logging(h, f.path, id, NULL, &err), 200);
	free(err);
	write_range(f.fd, 0, 10);
	assert_int_equal(h_wait_lines(h, id, 10, H_WAIT_MS), 10);
	frame = h_entry_frame("stdout", h_now_real_ns(), big, strlen(big), NULL,
			      &len);
	assert_non_null(frame);
	assert_int_equal(h_write_all(f.fd, frame, 20), 0);
	/* Until the plugin has taken the first 20 bytes out of the pipe. */
	for (int64_t end = h_now_ms() + H_WAIT_MS;
	     h_fifo_pending(&f) > 0 && h_now_ms() < end;)
		h_sleep_ms(5);
	h_sleep_ms(50);
	crash(h);
	assert_int_equal(h_write_all(f.fd, frame + 20, len - 20), 0);
	free(frame);
	write_range(f.fd, 10, 60);
	assert_int_equal(h_spawn(h, false), 0);
	assert_true(h_wait_lines(h, id, 61, H_WAIT_MS) >= 61);
	assert_int_equal(h_read_lines(h, id, &ls), 0);
	for (size_t i = 0; i < ls.n; i++) {
		if (ls.v[i].log == NULL)
			continue;
		if (strncmp(ls.v[i].log, "beat ", 5) == 0)
			beats++;
		if (strncmp(ls.v[i].log, "ratelog: re-attached", 20) == 0)
			notice = strstr(ls.v[i].raw,
					"\"ratelog\":\"notice\"") != NULL;
	}
	h_lines_release(&ls);
	assert_int_equal(beats, 60);
	assert_true(notice);
	assert_int_equal(h_stop_logging(h, f.path, &err), 200);
	free(err);
	h_fifo_close(&f);
}

/* A damaged or hostile state record is skipped and removed. */
static void test_bad_state_record(void **state)
{
	struct harness *h = *state;
	char path[PATH_MAX];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/x.json", h->state_dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("{\"version\":1,\"File\":\"/etc/passwd\",\"Info\":{}}", fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/y.json", h->state_dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("not json", fp);
	fclose(fp);
	crash_and_restart(h);
	assert_int_equal(state_records(h), 0);
	assert_true(h_plugin_alive(h));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reattach_after_kill, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reattach_mid_frame, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_state_record, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
