/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ratelog's own diagnostics, on stderr, which dockerd copies into its log
 * with the plugin's id.  One line per message with a level word.  Messages
 * about a condition that can repeat for every line (a full disk, a corrupt
 * stream) go through a diag_limit so each shows at most once per interval.
 * Safe to call from any thread.
 */
#ifndef COMMON_DIAG_H
#define COMMON_DIAG_H

#include <stdbool.h>
#include <stdint.h>

enum diag_level { DIAG_ERROR, DIAG_WARN, DIAG_INFO, DIAG_DEBUG };

/* Messages above this level are not printed.  Default DIAG_INFO. */
void diag_set_level(enum diag_level level);

/* Parse "error", "warn", "info" or "debug".  Returns 0 or -EINVAL. */
int diag_parse_level(const char *s, enum diag_level *out);

void diag(enum diag_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* One repeating condition: allows a message once per 'interval_ns'. */
struct diag_limit {
	int64_t last_ns;     /* when a message last passed, 0 = never */
	uint64_t suppressed; /* messages held back since then */
};

/*
 * True when a message may be printed at 'now_ns' (monotonic); otherwise
 * counts it as suppressed.  The caller owns any locking of 'l'.
 */
bool diag_limit_allow(struct diag_limit *l, int64_t now_ns,
		      int64_t interval_ns);

/* Monotonic and real clocks in nanoseconds. */
int64_t diag_now_mono(void);
int64_t diag_now_real(void);

#endif
