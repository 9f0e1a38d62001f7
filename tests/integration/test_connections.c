/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Clients that hold API connections open: hundreds of silent or half-sent
 * requests neither stop the plugin from serving dockerd nor stay open past
 * the idle timeout; a ReadLogs follower of a quiet container, idle by
 * design, is not cut off by it.  The plugin runs with IDLE_TIMEOUT=2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/integration/harness.h"

static int setup(void **state)
{
	setenv("IDLE_TIMEOUT", "2", 1);
	*state = h_new(false);
	unsetenv("IDLE_TIMEOUT");
	return *state != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	return h_free(*state) == 0 ? 0 : -1;
}

static int dial(const char *sock)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	if (fd == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

static void test_slow_clients(void **state)
{
	enum { SILENT = 300, HALF = 50 };
	struct harness *h = *state;
	int fds[SILENT + HALF];
	struct h_buf resp = {0};
	struct h_fifo f;
	char id[65], *err = NULL;
	int base, during, after = 0;
	int closed = 0;

	assert_int_equal(h_post(h, "/LogDriver.Capabilities", "", 0, &resp),
			 200);
	h_buf_release(&resp);
	base = h_count_fds(h->pid);
	for (int i = 0; i < SILENT + HALF; i++) {
		fds[i] = dial(h->sock);
		assert_true(fds[i] >= 0);
		/* Some send half a request and stop. */
		if (i >= SILENT)
			assert_true(write(fds[i], "POST /LogDriver.Sta", 19) ==
				    19);
	}
	h_sleep_ms(300);
	during = h_count_fds(h->pid);
	/* dockerd is still served meanwhile. */
	h_container_id(id, 42);
	assert_int_equal(h_fifo_new(h, &f, "busy"), 0);
	assert_int_equal(h_start_logging(h, f.path, id, NULL, &err), 200);
	assert_string_equal(err, "");
	free(err);
	assert_int_equal(h_write_line(f.fd, "stdout", h_now_real_ns(), "ok"),
			 0);
	assert_int_equal(h_wait_lines(h, id, 1, H_WAIT_MS), 1);
	/* After the idle timeout the plugin has closed every one of them. */
	for (int64_t end = h_now_ms() + 8000; h_now_ms() < end;) {
		after = h_count_fds(h->pid);
		if (after <= base + 2) /* the busy stream's FIFO */
			break;
		h_sleep_ms(100);
	}
	for (int i = 0; i < SILENT + HALF; i++) {
		char c;

		if (read(fds[i], &c, 1) <= 0)
			closed++;
		close(fds[i]);
	}
	print_message("plugin fds: %d, %d with %d idle clients, %d after the "
		      "timeout; %d of them closed by the plugin\n",
		      base, during, SILENT + HALF, after, closed);
	assert_true(during >= base + SILENT);
	assert_true(after <= base + 2);
	assert_int_equal(closed, SILENT + HALF);
	err = NULL;
	assert_int_equal(h_stop_logging(h, f.path, &err), 200);
	free(err);
	h_fifo_close(&f);
}

/* A follower of a quiet container outlives the idle timeout. */
static void test_quiet_follow_stays(void **state)
{
	struct harness *h = *state;
	struct h_follow *fl;
	struct h_fifo f;
	char id[65], *err = NULL;

	h_container_id(id, 43);
	assert_int_equal(h_fifo_new(h, &f, "quiet"), 0);
	assert_int_equal(h_start_logging(h, f.path, id, NULL, &err), 200);
	free(err);
	assert_int_equal(h_write_line(f.fd, "stdout", h_now_real_ns(), "one"),
			 0);
	fl = h_follow_start(
		h, h_read_request(id, H_ZERO_TIME, H_ZERO_TIME, -1, true));
	assert_non_null(fl);
	assert_int_equal(h_follow_wait_frames(fl, 1, H_WAIT_MS), 1);
	h_sleep_ms(5000); /* more than twice the idle timeout */
	assert_false(h_follow_wait_done(fl, 0));
	assert_int_equal(h_write_line(f.fd, "stdout", h_now_real_ns(), "two"),
			 0);
	assert_int_equal(h_follow_wait_frames(fl, 2, H_WAIT_MS), 2);
	err = NULL;
	assert_int_equal(h_stop_logging(h, f.path, &err), 200);
	free(err);
	h_fifo_close(&f);
	assert_true(h_follow_wait_done(fl, H_WAIT_MS));
	h_follow_release(fl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_slow_clients, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_quiet_follow_stays, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
