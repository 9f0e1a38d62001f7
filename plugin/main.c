/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ratelog: the command line.  `ratelog serve` runs the Docker logging
 * plugin; every flag can also come from the environment, so that
 * `docker plugin set ratelog LOG_ROOT=...` changes it for the managed plugin.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/diag.h"
#include "config/config.h"
#include "config/units.h"
#include "plugin/app.h"
#include "store/writer.h"

/* What --queue-max accepts, in bytes. */
#define QUEUE_MAX_MIN 64000
#define QUEUE_MAX_MAX 1000000000

#define RATELOG_VERSION "0.1.0"

static const char usage[] =
	"usage: ratelog serve [options]\n"
	"       ratelog version\n"
	"\n"
	"Options (each also read from the environment variable in brackets):\n"
	"  --socket PATH     API socket [SOCKET]\n"
	"                    (default /run/docker/plugins/ratelog.sock)\n"
	"  --log-root DIR    logs go to DIR/<id>/<id>-json.log [LOG_ROOT]\n"
	"                    (default /var/log/ratelog)\n"
	"  --state-dir DIR   stream state [STATE_DIR] (default "
	"LOG_ROOT/.state)\n"
	"  --fifo-dir DIR    where dockerd's FIFOs live [FIFO_DIR]\n"
	"                    (default /run/docker/logging)\n"
	"  --log-level L     error, warn, info or debug [LOG_LEVEL] (default "
	"info)\n"
	"  --idle-timeout S  close API connections that send nothing for S\n"
	"                    seconds [IDLE_TIMEOUT] (default 120)\n"
	"  --queue-max SIZE  bytes a container may have waiting for the disk,\n"
	"                    64k to 1g [QUEUE_MAX] (default 4 MiB)\n";

struct option_def {
	const char *flag;
	const char *env;
	const char **dst;
};

/* An empty environment value counts as unset: `docker plugin set X=`. */
static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : fallback;
}

static int serve(int argc, char **argv)
{
	struct app_config cfg;
	struct node_config node;
	struct config_node_env env;
	char err[CONFIG_ERR_MAX];
	struct app *a = NULL;
	const char *level = env_or("LOG_LEVEL", "info");
	const char *idle = env_or("IDLE_TIMEOUT", "120");
	const char *queue = env_or("QUEUE_MAX", NULL);
	uint64_t queue_max;
	char *end = NULL;
	long idle_sec;
	char *state_default = NULL;
	enum diag_level lv;
	int rc;
	int i;

	memset(&cfg, 0, sizeof(cfg));
	cfg.socket_path = env_or("SOCKET", "/run/docker/plugins/ratelog.sock");
	cfg.log_root = env_or("LOG_ROOT", "/var/log/ratelog");
	cfg.state_dir = env_or("STATE_DIR", NULL);
	cfg.fifo_dir = env_or("FIFO_DIR", "/run/docker/logging");

	const struct option_def defs[] = {
		{"--socket", "SOCKET", &cfg.socket_path},
		{"--log-root", "LOG_ROOT", &cfg.log_root},
		{"--state-dir", "STATE_DIR", &cfg.state_dir},
		{"--fifo-dir", "FIFO_DIR", &cfg.fifo_dir},
		{"--log-level", "LOG_LEVEL", &level},
		{"--idle-timeout", "IDLE_TIMEOUT", &idle},
		{"--queue-max", "QUEUE_MAX", &queue},
	};

	for (i = 0; i < argc; i++) {
		size_t d;

		for (d = 0; d < sizeof(defs) / sizeof(defs[0]); d++) {
			if (strcmp(argv[i], defs[d].flag) == 0)
				break;
		}
		if (d == sizeof(defs) / sizeof(defs[0]) || i + 1 >= argc) {
			fprintf(stderr, "ratelog: %s %s\n\n%s", argv[i],
				d == sizeof(defs) / sizeof(defs[0])
					? "is not an option"
					: "needs a value",
				usage);
			return 2;
		}
		*defs[d].dst = argv[++i];
	}
	if (diag_parse_level(level, &lv) != 0) {
		fprintf(stderr,
			"ratelog: log level \"%s\" is not one of error, warn, "
			"info, debug\n",
			level);
		return 2;
	}
	diag_set_level(lv);
	idle_sec = strtol(idle, &end, 10);
	if (end == idle || *end != '\0' || idle_sec < 1 || idle_sec > 86400) {
		fprintf(stderr,
			"ratelog: idle timeout \"%s\" is not a number of "
			"seconds from 1 to 86400\n",
			idle);
		return 2;
	}
	cfg.idle_timeout_sec = (int)idle_sec;
	/* Below 64 kB a flooding container would wake the writer every few
	 * lines; above 1 GB a thousand of them could take a terabyte. */
	queue_max = WRITER_QUEUE_MAX_DEFAULT;
	if (queue != NULL &&
	    (units_parse_size(queue, &queue_max) != 0 ||
	     queue_max < QUEUE_MAX_MIN || queue_max > QUEUE_MAX_MAX)) {
		fprintf(stderr,
			"ratelog: queue size \"%s\" is not a size from 64k "
			"to 1g (such as 4m)\n",
			queue);
		return 2;
	}
	cfg.queue_max = (size_t)queue_max;
	if (cfg.state_dir == NULL) {
		if (asprintf(&state_default, "%s/.state", cfg.log_root) < 0)
			return 1;
		cfg.state_dir = state_default;
	}
	/* The plugin-level settings (docker plugin set): a mistake there is
	 * reported once here and the plugin does not start. */
	memset(&env, 0, sizeof(env));
	env.default_log_opts = env_or("DEFAULT_LOG_OPTS", NULL);
	env.node_rate_limit = env_or("NODE_RATE_LIMIT", NULL);
	env.node_rate_burst = env_or("NODE_RATE_BURST", NULL);
	env.node_max_disk = env_or("NODE_MAX_DISK", NULL);
	env.keep_stopped = env_or("KEEP_STOPPED", NULL);
	if (config_node_parse(&env, &node, err, sizeof(err)) != 0) {
		fprintf(stderr, "ratelog: %s\n", err);
		free(state_default);
		return 2;
	}
	cfg.node = &node;
	rc = app_new(&cfg, &a);
	if (rc == 0)
		rc = app_run(a);
	app_free(a);
	config_node_release(&node);
	free(state_default);
	if (rc != 0) {
		diag(DIAG_ERROR, "exiting: %s", strerror(-rc));
		return 1;
	}
	diag(DIAG_INFO, "exited cleanly");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "serve") == 0)
		return serve(argc - 2, argv + 2);
	if (argc >= 2 && (strcmp(argv[1], "version") == 0 ||
			  strcmp(argv[1], "--version") == 0)) {
		printf("ratelog %s\n", RATELOG_VERSION);
		return 0;
	}
	if (argc >= 2 &&
	    (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0)) {
		fputs(usage, stdout);
		return 0;
	}
	fputs(usage, stderr);
	return 2;
}
