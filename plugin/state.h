/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which FIFO belongs to which container, kept on disk so a restarted plugin
 * can re-attach: dockerd restarts a crashed managed plugin but never repeats
 * StartLogging (protocol notes 3.6).  One record per live stream,
 * "<state-dir>/<fifo name>.json" holding {"version":1,"File":...,"Info":...},
 * written to a temporary name and renamed into place, so a crash never
 * leaves half a record.  No fsync: the records must survive the plugin's
 * crash, not the host's (after a reboot no FIFO is left to re-attach to).
 *
 * Every function does blocking file IO: call them where that is allowed
 * (start-up, or a job on the writer thread), never from the event loop.
 */
#ifndef PLUGIN_STATE_H
#define PLUGIN_STATE_H

#include <stddef.h>

#include <jansson.h>

/* Records larger than this are ignored as damaged. */
#define STATE_RECORD_MAX (1024 * 1024)

/*
 * Render the record for a stream: a new string (free()) or NULL on ENOMEM.
 * 'info' is borrowed.
 */
char *state_render(const char *fifo_path, json_t *info);

/*
 * Store 'record' (from state_render) for the FIFO 'fifo_path' under
 * 'state_dir', creating the directory (0700) if needed; the file is 0600.
 * Returns 0 or -errno.
 */
int state_save(const char *state_dir, const char *fifo_path,
	       const char *record);

/* Forget the stream of 'fifo_path'; a missing record is fine.  Returns 0
 * or -errno. */
int state_remove(const char *state_dir, const char *fifo_path);

/* Called for each valid record; 'info' is borrowed for the call. */
typedef void state_record_cb(void *arg, const char *fifo_path, json_t *info);

/*
 * Read every record under 'state_dir' and call 'cb' for each valid one.
 * Damaged records and temporary files left by a crash are reported and
 * removed.  A missing directory holds no records.  Returns the number of
 * records delivered, or -errno when the directory cannot be read.
 */
int state_load_all(const char *state_dir, state_record_cb *cb, void *arg);

#endif
