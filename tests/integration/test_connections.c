/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Clients that hold API connections open: silent or half-sent requests
 * neither stop the plugin from serving dockerd nor stay open past the idle
 * timeout; hundreds of them at once are bounded in number too (the oldest
 * idle ones are closed as new ones come, long before the timeout); a
 * ReadLogs follower of a quiet container, idle by design, is cut off by
 * neither.  The plugin runs with IDLE_TIMEOUT=2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/integration/harness.h"

/* SERVER_MAX_IDLE_CONNS in plugin/server.h. */
#define MAX_IDLE 128

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
	enum { SILENT = 90, HALF = 30 }; /* fewer than the bound on number */
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

/* A container that logged one line, and a ReadLogs follower that got it. */
static struct h_follow *follow_new_container(struct harness *h,
					     struct h_fifo *f, char id[65],
					     unsigned n)
{
	struct h_follow *fl;
	char *err = NULL;

	h_container_id(id, n);
	assert_int_equal(h_fifo_new(h, f, "followed"), 0);
	assert_int_equal(h_start_logging(h, f->path, id, NULL, &err), 200);
	free(err);
	assert_int_equal(h_write_line(f->fd, "stdout", h_now_real_ns(), "one"),
			 0);
	fl = h_follow_start(
		h, h_read_request(id, H_ZERO_TIME, H_ZERO_TIME, -1, true));
	assert_non_null(fl);
	assert_int_equal(h_follow_wait_frames(fl, 1, H_WAIT_MS), 1);
	return fl;
}

/* Its container stops logging: the follower's reply ends by itself. */
static void stop_followed(struct harness *h, struct h_fifo *f,
			  struct h_follow *fl)
{
	char *err = NULL;

	assert_int_equal(h_stop_logging(h, f->path, &err), 200);
	free(err);
	h_fifo_close(f);
	assert_true(h_follow_wait_done(fl, H_WAIT_MS));
	h_follow_release(fl);
}

/* Has the plugin closed this connection?  (Without waiting.) */
static bool closed_by_plugin(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

	return n == 0 || (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/*
 * 400 silent connections at once: the plugin holds at most MAX_IDLE of
 * them, closing the oldest as new ones come, well before the idle timeout;
 * a follower streaming meanwhile is never one of those closed, and dockerd
 * is served.
 */
static void test_many_clients_bounded(void **state)
{
	enum { N = 400 };
	struct harness *h = *state;
	struct h_buf resp = {0};
	struct h_follow *fl;
	struct h_fifo f, g;
	char id[65], id2[65], *err = NULL;
	int fds[N];
	int base, during, closed_old = 0, closed_new = 0;
	int64_t t0, t_closed;

	fl = follow_new_container(h, &f, id, 44);
	assert_int_equal(h_post(h, "/LogDriver.Capabilities", "", 0, &resp),
			 200);
	h_buf_release(&resp);
	base = h_count_fds(h->pid);

	t0 = h_now_ms();
	for (int i = 0; i < N; i++) {
		fds[i] = dial(h->sock);
		assert_true(fds[i] >= 0);
	}
	/* The plugin may still be accepting the last of them: look until
	 * the oldest are closed, for less than the idle timeout (which would
	 * close the newest as well). */
	for (bool seen[N] = {false}; h_now_ms() - t0 < 1500;) {
		for (int i = 0; i < N; i++) {
			if (seen[i] || !closed_by_plugin(fds[i]))
				continue;
			seen[i] = true;
			if (i < N - MAX_IDLE)
				closed_old++;
			else
				closed_new++;
		}
		if (closed_old == N - MAX_IDLE)
			break;
		h_sleep_ms(50);
	}
	t_closed = h_now_ms() - t0;
	/* The client sees the end at once; the plugin closes its side when
	 * its loop comes round (later under valgrind). */
	do {
		during = h_count_fds(h->pid);
		if (during <= base + MAX_IDLE + 1)
			break;
		h_sleep_ms(20);
	} while (h_now_ms() - t0 < 1900);
	/* Still before the idle timeout: the newest are all open. */
	for (int i = N - MAX_IDLE; i < N; i++)
		closed_new += closed_by_plugin(fds[i]);
	print_message("plugin fds: %d, %d with %d silent clients; after %lld "
		      "ms, %d of the oldest %d closed, %d of the newest %d\n",
		      base, during, N, (long long)t_closed, closed_old,
		      N - MAX_IDLE, closed_new, MAX_IDLE);
	/* Well before the 2 s idle timeout. */
	assert_true(t_closed < 1500);
	assert_true(during <= base + MAX_IDLE + 1);
	assert_int_equal(closed_old, N - MAX_IDLE);
	assert_int_equal(closed_new, 0);

	/* dockerd is served, and the follower still streams. */
	h_container_id(id2, 45);
	assert_int_equal(h_fifo_new(h, &g, "newcomer"), 0);
	err = NULL;
	assert_int_equal(h_start_logging(h, g.path, id2, NULL, &err), 200);
	free(err);
	assert_int_equal(h_write_line(f.fd, "stdout", h_now_real_ns(), "two"),
			 0);
	assert_int_equal(h_follow_wait_frames(fl, 2, H_WAIT_MS), 2);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	err = NULL;
	assert_int_equal(h_stop_logging(h, g.path, &err), 200);
	free(err);
	h_fifo_close(&g);
	stop_followed(h, &f, fl);
}

/* A follower of a quiet container outlives the idle timeout. */
static void test_quiet_follow_stays(void **state)
{
	struct harness *h = *state;
	struct h_follow *fl;
	struct h_fifo f;
	char id[65];

	fl = follow_new_container(h, &f, id, 43);
	h_sleep_ms(5000); /* more than twice the idle timeout */
	assert_false(h_follow_wait_done(fl, 0));
	assert_int_equal(h_write_line(f.fd, "stdout", h_now_real_ns(), "two"),
			 0);
	assert_int_equal(h_follow_wait_frames(fl, 2, H_WAIT_MS), 2);
	stop_followed(h, &f, fl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_slow_clients, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_quiet_follow_stays, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_many_clients_bounded,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
