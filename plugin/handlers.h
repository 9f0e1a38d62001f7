/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plugin API's endpoints: one function per path, each turning a request
 * body into a typed request (request.h), acting on the app, and answering as
 * dockerd expects (protocol notes section 2): 200 with {"Err":""} or a
 * sentence in "Err", a non-200 only for ReadLogs errors and unknown paths.
 */
#ifndef PLUGIN_HANDLERS_H
#define PLUGIN_HANDLERS_H

#include <stddef.h>

struct evhttp_request;

/* The server callback: routes by path; 'arg' is the struct app. */
void handlers_dispatch(struct evhttp_request *req, void *arg);

struct app;

/*
 * Start reading a stream an earlier run of the plugin was reading, from
 * its persisted StartLogging body (File and Info): checked and started as
 * a StartLogging is, except that the first bytes may be mid-frame.
 * Returns 0 or -errno (reported).
 */
int handlers_reattach(struct app *a, const char *body, size_t len);

#endif
