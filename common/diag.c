/* SPDX-License-Identifier: Apache-2.0 */
#include "common/diag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum diag_level max_level = DIAG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void diag_set_level(enum diag_level level)
{
	max_level = level;
}

int diag_parse_level(const char *s, enum diag_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]);
	     i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum diag_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void diag(enum diag_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (level > max_level)
		return;
	n = snprintf(line, sizeof(line), "ratelog %s: ", level_names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	/* One fputs of a whole line, so threads never interleave mid-line. */
	strcat(line, "\n");
	fputs(line, stderr);
}

bool diag_limit_allow(struct diag_limit *l, int64_t now_ns,
		      int64_t interval_ns)
{
	if (l->last_ns != 0 && now_ns - l->last_ns < interval_ns) {
		l->suppressed++;
		return false;
	}
	l->last_ns = now_ns;
	return true;
}

static int64_t now_of(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t diag_now_mono(void)
{
	return now_of(CLOCK_MONOTONIC);
}

int64_t diag_now_real(void)
{
	return now_of(CLOCK_REALTIME);
}
