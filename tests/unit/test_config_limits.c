// SPDX-License-Identifier: MIT
/* Config file: the connection and resource limits (the "target" group, a
 * listener's max_connections, a transport's max_conn_buf_share_pct) parse
 * into what they say, and a value out of range is an error naming
 * file:line, the setting and the value. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include <nvmft/config.h>
#include "config/config_internal.h"

static const char *good =
	"target = { max_connections = 20000; max_subsystems = 32; };\n"
	"transports = ( { type = \"TCP\"; max_conn_buf_share_pct = 10; } );\n"
	"bdevs = ( { name = \"M0\"; type = \"malloc\"; size = \"1M\"; } );\n"
	"subsystems = ( { nqn = \"nqn.2026-11.io.nvmft:lim\";\n"
	"  namespaces = ( { bdev = \"M0\"; } );\n"
	"  listeners = ( { traddr = \"127.0.0.1\"; trsvcid = \"4421\"; max_connections = 64; },\n"
	"                { traddr = \"127.0.0.1\"; trsvcid = \"4422\"; } );\n"
	"} );\n"
	"discovery = { listeners = ( { traddr = \"127.0.0.1\"; trsvcid = \"8009\";\n"
	"                              max_connections = 5; } ); };\n";

static void test_limits_parse(void **state)
{
	struct nvmft_config *cfg = NULL;
	struct nvmft_tgt_opts o;
	char err[512];

	(void)state;
	if (nvmft_config_load_string(good, "good.conf", &cfg, err, sizeof(err)))
		fail_msg("%s", err);
	assert_true(cfg->target.has_max_connections);
	assert_int_equal(cfg->target.max_connections, 20000);
	assert_int_equal(cfg->target.max_subsystems, 32);
	assert_int_equal(cfg->transports[0].opts.max_conn_buf_share_pct, 10);
	assert_int_equal(cfg->subsystems[0].listeners[0].opts.max_connections, 64);
	assert_int_equal(cfg->subsystems[0].listeners[1].opts.max_connections, 0);
	assert_int_equal(cfg->discovery_listeners[0].opts.max_connections, 5);
	nvmft_config_tgt_opts(cfg, &o);
	assert_int_equal(o.max_connections, 20000);
	assert_int_equal(o.max_subsystems, 32);
	nvmft_config_free(cfg);
}

static void test_limits_default_when_absent(void **state)
{
	struct nvmft_config *cfg = NULL;
	struct nvmft_tgt_opts o, def;
	char err[512];

	(void)state;
	assert_int_equal(nvmft_config_load_string("transports = ( { type = \"TCP\"; } );\n",
						  "min.conf", &cfg, err, sizeof(err)), 0);
	assert_false(cfg->target.has_max_connections);
	assert_false(cfg->target.has_max_subsystems);
	assert_int_equal(cfg->transports[0].opts.max_conn_buf_share_pct, 25);
	nvmft_config_tgt_opts(cfg, &o);
	nvmft_tgt_opts_init(&def);
	assert_int_equal(o.max_connections, def.max_connections);
	assert_int_equal(o.max_subsystems, def.max_subsystems);
	nvmft_config_free(cfg);
}

/* The top end of the range is usable (a test may want 10,000+). */
static void test_max_connections_upper_bound(void **state)
{
	struct nvmft_config *cfg = NULL;
	char err[512];

	(void)state;
	assert_int_equal(nvmft_config_load_string("target = { max_connections = 1000000; };\n",
						  "max.conf", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->target.max_connections, 1000000);
	nvmft_config_free(cfg);
}

static const struct {
	const char *text;
	const char *want;
} bad[] = {
	{ "target = { max_connections = 0; };\n",
	  "bad.conf:1: target.max_connections: 0 is out of range" },
	{ "target = { max_connections = 1000001; };\n",
	  "target.max_connections: 1000001 is out of range" },
	{ "target = { max_subsystems = 70000; };\n",
	  "target.max_subsystems: 70000 is out of range" },
	{ "target = { max_conections = 5; };\n", "max_conections" },
	{ "target = 5;\n", "target" },
	{ "transports = ( { max_conn_buf_share_pct = 0; } );\n",
	  "max_conn_buf_share_pct: 0 is out of range" },
	{ "transports = ( { max_conn_buf_share_pct = 101; } );\n",
	  "max_conn_buf_share_pct: 101 is out of range" },
	{ "subsystems = ( { nqn = \"nqn.2026-11.io.nvmft:x\";\n"
	  "  listeners = ( { traddr = \"127.0.0.1\"; max_connections = -1; } ); } );\n",
	  "bad.conf:2: subsystems[0].listeners[0].max_connections: -1 is out of range" },
	{ "discovery = { listeners = ( { traddr = \"127.0.0.1\";\n"
	  "  max_connections = 2000000; } ); };\n",
	  "max_connections: 2000000 is out of range" },
};

static void test_limit_errors_name_setting_and_value(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct nvmft_config *cfg = NULL;
		char err[512] = "";
		int rc = nvmft_config_load_string(bad[i].text, "bad.conf", &cfg, err,
						  sizeof(err));

		if (rc != -EINVAL || !strstr(err, bad[i].want))
			fail_msg("case %zu: rc %d, \"%s\" does not contain \"%s\"", i, rc,
				 err, bad[i].want);
		assert_null(cfg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits_parse),
		cmocka_unit_test(test_limits_default_when_absent),
		cmocka_unit_test(test_max_connections_upper_bound),
		cmocka_unit_test(test_limit_errors_name_setting_and_value),
	};

	return cmocka_run_group_tests_name("config_limits", tests, NULL, NULL);
}
