/* SPDX-License-Identifier: Apache-2.0 */
/* The json-file attrs object from labels, env, their regexes and tag. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "plugin/attrs.h"

static json_t *info(void)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:[s], s:s, s:[s,s,s,s], "
			 "s:{s:s, s:s, s:s}}",
			 "ContainerID",
			 "0123456789abcdef0123456789abcdef0123456789abcdef01234"
			 "56789abcdef",
			 "ContainerName", "/web", "ContainerImageID",
			 "sha256:"
			 "fedcba9876543210fedcba9876543210fedcba9876543210fedcb"
			 "a9876543210",
			 "ContainerImageName", "nginx:latest",
			 "ContainerEntrypoint", "nginx", "ContainerArgs", "-g",
			 "DaemonName", "docker", "ContainerEnv", "PATH=/bin",
			 "FOO=bar", "FOO=later", "NOEQUALS", "ContainerLabels",
			 "app", "web", "team", "a<b>&\"c\"\t\n", "FOO",
			 "label");
}

/* Render with log-opts "k=v" pairs; returns a new string or NULL. */
static char *render(const char *const *kv, size_t n)
{
	struct config_kv opts[8];
	struct node_config node;
	struct config_node_env env;
	struct log_config cfg;
	char err[CONFIG_ERR_MAX];
	json_t *in = info();
	char *out = NULL;
	size_t len = 0;

	memset(&env, 0, sizeof(env));
	assert_int_equal(config_node_parse(&env, &node, err, sizeof(err)), 0);
	for (size_t i = 0; i < n; i++) {
		opts[i].key = kv[2 * i];
		opts[i].value = kv[2 * i + 1];
	}
	if (config_parse(&node, opts, n, &cfg, err, sizeof(err)) != 0)
		fail_msg("config: %s", err);
	assert_int_equal(attrs_render(&cfg, in, &out, &len, err, sizeof(err)),
			 0);
	if (out != NULL)
		assert_int_equal(strlen(out), len);
	config_release(&cfg);
	config_node_release(&node);
	json_decref(in);
	return out;
}

static void expect(const char *const *kv, size_t n, const char *want)
{
	char *got = render(kv, n);

	if (want == NULL) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_none(void **state)
{
	(void)state;
	expect(NULL, 0, NULL);
	/* Named labels that the container does not have add nothing. */
	expect((const char *[]){"labels", "missing"}, 1, NULL);
}

static void test_labels(void **state)
{
	(void)state;
	expect((const char *[]){"labels", "app"}, 1, "{\"app\":\"web\"}");
	/* Go's encoding/json: \t \n short, <>& and quotes escaped. */
	expect((const char *[]){"labels", "team,app"}, 1,
	       "{\"app\":\"web\",\"team\":\"a\\u003cb\\u003e\\u0026\\\"c\\\"\\t"
	       "\\n\"}");
	expect((const char *[]){"labels-regex", "^a"}, 1, "{\"app\":\"web\"}");
}

static void test_env(void **state)
{
	(void)state;
	/* The last FOO= wins; entries without '=' are skipped. */
	expect((const char *[]){"env", "FOO,NOEQUALS"}, 1,
	       "{\"FOO\":\"later\"}");
	expect((const char *[]){"env-regex", "^P"}, 1, "{\"PATH\":\"/bin\"}");
	/* env comes after labels: it wins a shared key. */
	expect((const char *[]){"labels", "FOO", "env", "FOO"}, 2,
	       "{\"FOO\":\"later\"}");
	expect((const char *[]){"labels", "FOO"}, 1, "{\"FOO\":\"label\"}");
}

static void test_tag(void **state)
{
	(void)state;
	expect((const char *[]){"tag", "{{.Name}}/{{.ID}}"}, 1,
	       "{\"tag\":\"web/0123456789ab\"}");
	expect((const char *[]){"tag", "{{.ImageName}} {{.ImageID}}"}, 1,
	       "{\"tag\":\"nginx:latest sha256:fedcb\"}");
	/* tag comes last and keys are sorted. */
	expect((const char *[]){"tag", "x", "labels", "app,team", "env",
				"PATH"},
	       3,
	       "{\"PATH\":\"/bin\",\"app\":\"web\",\"tag\":\"x\",\"team\":"
	       "\"a\\u003cb\\u003e\\u0026\\\"c\\\"\\t\\n\"}");
	/* A tag that renders empty adds no key. */
	expect((const char *[]){"tag", ""}, 1, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_tag),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
