/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The writer's hand-over rules that no log file shows by itself
 * (store/writer.c): within a loop turn the writer thread is woken once, at
 * the turn's end, unless the turn hands over enough to be a flood.  The
 * writer runs its real thread on a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/writer.h"

static const char id[] =
	"abababababababababababababababababababababababababababababababab";

struct fixture {
	char root[64];
	struct writer *w;
	struct sink *s;
};

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0)
		;
}

static void on_notify(void *arg)
{
	(void)arg;
}

static int make(void **state, size_t queue_max)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->root, sizeof(f->root), "/tmp/ratelog-writer.XXXXXX");
	if (mkdtemp(f->root) == NULL ||
	    writer_new(f->root, queue_max, on_notify, NULL, &f->w) != 0 ||
	    writer_sink_get(f->w, id, &f->s) != 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return make(state, WRITER_QUEUE_MAX_DEFAULT);
}

/* A 64 KiB queue: a turn hands over at most 16 KiB before it wakes. */
static int setup_small(void **state)
{
	return make(state, 64 * 1024);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[96];

	sink_release(f->s);
	writer_free(f->w);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->root);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void append(struct sink *s, const char *text)
{
	struct log_entry e = {
		.source = "stdout",
		.source_len = 6,
		.time_nano = 1700000000123456789LL,
		.line = (const uint8_t *)text,
		.line_len = strlen(text),
	};

	assert_int_equal(sink_append(s, &e, NULL, 0), 0);
}

static uint64_t written(struct sink *s)
{
	struct sink_progress p;

	sink_get_progress(s, &p);
	return p.done_bytes;
}

/* Wait up to 5 s for the writer to have written everything handed over. */
static bool caught_up(struct sink *s)
{
	struct sink_progress p;

	for (int i = 0; i < 5000; i++) {
		sink_get_progress(s, &p);
		if (p.appended_bytes > 0 && p.done_bytes == p.appended_bytes)
			return true;
		nap_ms(1);
	}
	return false;
}

/*
 * Outside a turn (ratelog's own notices at shutdown, any caller without a
 * loop), a batch handed over wakes the thread at once.
 */
static void test_outside_turn_wakes(void **state)
{
	struct fixture *f = *state;

	append(f->s, "one");
	assert_true(caught_up(f->s));
}

/*
 * Batches of a turn wait for its end: the thread sleeps through the turn
 * (it had nothing to do, and nobody signalled it), then takes them all.
 */
static void test_turn_wakes_once_at_end(void **state)
{
	struct fixture *f = *state;
	uint64_t before;

	/* A line first, so the thread has started, written and gone back
	 * to sleep: one still busy would take the next batches anyway. */
	append(f->s, "zero");
	assert_true(caught_up(f->s));
	before = written(f->s);
	nap_ms(50);
	writer_turn_begin(f->w);
	append(f->s, "first");
	append(f->s, "second");
	nap_ms(100);
	assert_int_equal(written(f->s), before);
	writer_turn_end(f->w);
	assert_true(caught_up(f->s));
	/* Two json-file lines of about 70 bytes each. */
	assert_true(written(f->s) - before > 100 &&
		    written(f->s) - before < 200);
	/* A turn that handed nothing over wakes nobody, and does no harm. */
	writer_turn_begin(f->w);
	writer_turn_end(f->w);
}

/*
 * A turn that hands over a quarter of the queue (here 16 KiB) wakes the
 * thread then, without waiting for the end of the turn: a flood is never
 * held back by it.
 */
static void test_turn_flood_wakes_at_once(void **state)
{
	struct fixture *f = *state;
	char text[1001];
	int i;

	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	writer_turn_begin(f->w);
	for (i = 0; i < 20; i++)
		append(f->s, text);
	assert_true(caught_up(f->s));
	/* The rest of that turn wakes the thread batch by batch. */
	append(f->s, "after");
	assert_true(caught_up(f->s));
	writer_turn_end(f->w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_outside_turn_wakes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_turn_wakes_once_at_end,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_turn_flood_wakes_at_once,
						setup_small, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
