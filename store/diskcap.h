/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node-wide disk cap (NODE_MAX_DISK) and the retention of logs of
 * containers that stopped logging (KEEP_STOPPED), as one pass over the log
 * root.  Space is counted as allocated blocks, what the disk really holds.
 *
 * Order of deletion while over the cap: rotated files of containers that
 * are not logging, oldest first; then their current files, oldest first;
 * then rotated files of containers that are logging, oldest first.  The
 * current file of a container that is logging is never deleted, so a cap
 * smaller than the running containers' current files cannot be met (the
 * pass says so).  Only entries named like ratelog's own are touched:
 * directories of 64 lowercase hex digits holding "<id>-json.log" and its
 * rotations; symlinks are never followed; anything else is left alone (and
 * counted).
 *
 * Blocking file IO: run it on a background thread, never the event loop.
 */
#ifndef STORE_DISKCAP_H
#define STORE_DISKCAP_H

#include <stdbool.h>
#include <stdint.h>

/* Is a stream of this container logging now? */
typedef bool diskcap_active_cb(void *arg, const char *container_id);

struct diskcap_stats {
	uint64_t bytes_before; /* under the log root when the pass began */
	uint64_t bytes_after;
	unsigned files_deleted;
	unsigned dirs_deleted;
	bool over_cap; /* still over the cap: only live current files left */
};

/*
 * One pass: remove the logs of containers not logging whose newest file is
 * older than 'keep_stopped_ns' (when > 0), then delete files in the order
 * above until everything fits in 'max_disk' bytes (when > 0).  Returns 0 or
 * -errno when the log root cannot be read; fills *out either way.
 */
int diskcap_pass(const char *log_root, uint64_t max_disk,
		 int64_t keep_stopped_ns, int64_t now_real_ns,
		 diskcap_active_cb *active, void *arg,
		 struct diskcap_stats *out);

#endif
