/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /LogDriver.ReadLogs: a container's json-file log read back and sent to
 * dockerd as the same frames it writes into a FIFO, oldest first, with the
 * newline json-file stores put back on every line that ended one.  In follow
 * mode the reply stays open and new lines are sent as the writer puts them
 * on disk; it ends once every stream of the container has reached EOF and
 * everything has been written and sent, or when dockerd goes away.
 *
 * Replies are sent in chunks, and the next chunk is only read from disk once
 * the previous one has left, so a slow client costs a bounded buffer.
 */
#ifndef PLUGIN_READLOGS_H
#define PLUGIN_READLOGS_H

#include <stddef.h>

struct app;
struct evhttp_request;
struct read_request;

/*
 * Start answering 'req' for the parsed request 'rr' (its Info is taken over;
 * 'rr' is left released).  Errors are sent as a non-200 reply, never as a
 * 200 with a JSON body (dockerd would read that as a frame length).
 */
void readlogs_start(struct app *a, struct evhttp_request *req,
		    struct read_request *rr);

/* The writer wrote something: followers read what is new. */
void readlogs_poke_all(struct app *a);

/* A stream ended: followers of that container may be done. */
void readlogs_stream_ended(struct app *a, const char *container_id);

/* End every reader (shutdown). */
void readlogs_close_all(struct app *a);

#endif
