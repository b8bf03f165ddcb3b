// SPDX-License-Identifier: MIT
/* Config file parsing and validation: every error names file:line, the
 * setting and the value; a good file parses into what it says. */
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
	"reactors = { count = 2; cpus = \"0-1\"; wait_mode = \"interrupt\"; engine = \"epoll\"; };\n"
	"log_level = \"debug\";\n"
	"transports = ( { type = \"tcp\"; max_queue_depth = 64; in_capsule_data_size = \"16K\";\n"
	"                 io_unit_size = 65536; c2h_success = false; } );\n"
	"bdevs = ( { name = \"Malloc0\"; type = \"malloc\"; size = \"64M\"; block_size = 4096; },\n"
	"          { name = \"Null0\"; type = \"null\"; num_blocks = 1000;\n"
	"            uuid = \"12345678-9abc-def0-1234-56789abcdef0\"; } );\n"
	"subsystems = ( {\n"
	"  nqn = \"nqn.2026-11.io.nvmft:test\";\n"
	"  serial = \"SN1\"; model = \"Model One\";\n"
	"  hosts = ( \"nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555\" );\n"
	"  namespaces = ( { bdev = \"Malloc0\"; nsid = 3; }, { bdev = \"Null0\"; } );\n"
	"  listeners = ( { traddr = \"127.0.0.1\"; trsvcid = \"4421\"; },\n"
	"                { traddr = \"::1\"; trsvcid = \"4421\"; adrfam = \"IPv6\"; } );\n"
	"} );\n"
	"discovery = { listeners = ( { traddr = \"127.0.0.1\"; trsvcid = \"8009\"; } );\n"
	"  referrals = ( { traddr = \"192.0.2.1\"; trsvcid = \"8009\"; },\n"
	"                { traddr = \"::1\"; trsvcid = \"4430\"; adrfam = \"IPv6\";\n"
	"                  subnqn = \"nqn.2026-11.io.nvmft:remote\"; secure_channel = true; } ); };\n";

static void test_good_file_parses_every_setting(void **state)
{
	struct nvmft_config *cfg = NULL;
	struct nvmft_runtime_opts ro;
	char err[512];
	int rc;

	(void)state;
	rc = nvmft_config_load_string(good, "good.conf", &cfg, err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_int_equal(cfg->nr_reactors, 2);
	assert_string_equal(cfg->cpus, "0-1");
	assert_int_equal(cfg->wait_mode, NVMFT_WAIT_INTERRUPT);
	assert_int_equal(cfg->engine, NVMFT_ENGINE_EPOLL);
	assert_int_equal(nvmft_config_log_level(cfg), NVMFT_LOG_DEBUG);
	assert_int_equal(cfg->nr_transports, 1);
	assert_string_equal(cfg->transports[0].type, "TCP");
	assert_int_equal(cfg->transports[0].opts.max_queue_depth, 64);
	assert_int_equal(cfg->transports[0].opts.in_capsule_data_size, 16384);
	assert_int_equal(cfg->transports[0].opts.io_unit_size, 65536);
	assert_false(cfg->transports[0].opts.c2h_success);
	assert_int_equal(cfg->nr_bdevs, 2);
	assert_int_equal(cfg->bdevs[0].num_blocks, 64 * 1024 * 1024 / 4096);
	assert_int_equal(cfg->bdevs[0].block_size, 4096);
	assert_int_equal(cfg->bdevs[1].num_blocks, 1000);
	assert_true(cfg->bdevs[1].has_uuid);
	assert_int_equal(cfg->bdevs[1].uuid[0], 0x12);
	assert_int_equal(cfg->bdevs[1].uuid[15], 0xf0);
	assert_int_equal(cfg->nr_subsystems, 1);
	assert_string_equal(cfg->subsystems[0].serial, "SN1");
	assert_false(cfg->subsystems[0].allow_any_host);
	assert_int_equal(cfg->subsystems[0].nr_hosts, 1);
	assert_int_equal(cfg->subsystems[0].nr_ns, 2);
	assert_int_equal(cfg->subsystems[0].ns[0].nsid, 3);
	assert_int_equal(cfg->subsystems[0].nr_listeners, 2);
	assert_string_equal(cfg->subsystems[0].listeners[1].addr.adrfam, "IPv6");
	assert_int_equal(cfg->nr_discovery_listeners, 1);
	assert_int_equal(cfg->nr_referrals, 2);
	assert_string_equal(cfg->referrals[0].ref.addr.traddr, "192.0.2.1");
	assert_string_equal(cfg->referrals[0].ref.subnqn, NVMFT_DISCOVERY_NQN);
	assert_false(cfg->referrals[0].ref.secure_channel);
	assert_string_equal(cfg->referrals[1].ref.addr.adrfam, "IPv6");
	assert_string_equal(cfg->referrals[1].ref.addr.trsvcid, "4430");
	assert_string_equal(cfg->referrals[1].ref.subnqn, "nqn.2026-11.io.nvmft:remote");
	assert_true(cfg->referrals[1].ref.secure_channel);

	nvmft_config_runtime_opts(cfg, &ro);
	assert_int_equal(ro.nr_reactors, 2);
	assert_true(ro.pin);
	nvmft_config_free(cfg);
}

static void test_default_config_is_valid(void **state)
{
	struct nvmft_config *cfg = NULL;
	char err[512], hint[512];

	(void)state;
	assert_int_equal(nvmft_config_load_string(nvmft_config_default_text(),
						  "default", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->nr_bdevs, 1);
	assert_int_equal(cfg->bdevs[0].num_blocks * cfg->bdevs[0].block_size,
			 1ull << 30);
	assert_string_equal(cfg->subsystems[0].nqn, NVMFT_DEFAULT_NQN);
	assert_true(cfg->subsystems[0].allow_any_host);
	nvmft_config_connect_hint(cfg, hint, sizeof(hint));
	assert_string_equal(hint, "nvme connect -t tcp -a 127.0.0.1 -s 4420 -n "
			    NVMFT_DEFAULT_NQN "\n");
	nvmft_config_free(cfg);
}

struct bad_case {
	const char *text;
	const char *expect;	/* substring of the message */
};

/* Each case: the message names the line, the setting and the value. */
static const struct bad_case bad_cases[] = {
	{ "foo = 1;\n", "x.conf:1: foo: unknown setting" },
	{ "\n\nreactors = { count = \"two\"; };\n", "x.conf:3: reactors.count: must be an integer" },
	{ "reactors = { wait_mode = \"sometimes\"; };\n", "\"sometimes\" is not one of adaptive, poll, interrupt" },
	{ "reactors = { cpus = \"0-x\"; };\n", "reactors.cpus: \"0-x\" is not a CPU list" },
	{ "reactors = { count = 5000; };\n", "reactors.count: 5000 is out of range" },
	{ "log_level = \"loud\";\n", "log_level: \"loud\" is not one of" },
	{ "transports = ( { type = \"RDMA\"; } );\n", "type \"RDMA\" is not supported" },
	{ "transports = ( { max_queue_depth = 1; } );\n", "max_queue_depth: 1 is out of range" },
	{ "transports = ( { io_unit_size = \"12Q\"; } );\n", "\"12Q\" is not a size" },
	{ "transports = ( { colour = 1; } );\n", "transports[0].colour: unknown setting" },
	{ "transports = ( { type = \"TCP\"; }, { type = \"TCP\"; } );\n", "transport TCP is given twice" },
	{ "bdevs = ( { type = \"malloc\"; size = \"1M\"; } );\n", "\"name\" is required" },
	{ "bdevs = ( { name = \"a\"; type = \"floppy\"; size = \"1M\"; } );\n", "type \"floppy\" is not one of malloc, null" },
	{ "bdevs = ( { name = \"a\"; type = \"malloc\"; size = \"1M\"; block_size = 1000; } );\n", "block_size 1000 is not 512 or 4096" },
	{ "bdevs = ( { name = \"a\"; type = \"malloc\"; } );\n", "\"size\" or \"num_blocks\" is required" },
	{ "bdevs = ( { name = \"a\"; type = \"malloc\"; size = 1000; } );\n", "size 1000 is not a non-zero multiple of the block size 512" },
	{ "bdevs = ( { name = \"a\"; type = \"malloc\"; size = \"1M\"; uuid = \"xyz\"; } );\n", "\"xyz\" is not a UUID" },
	{ "bdevs = ( { name = \"a\"; type = \"malloc\"; size = \"1M\"; },\n"
	  "          { name = \"a\"; type = \"null\"; size = \"1M\"; } );\n", "x.conf:2: bdev name \"a\" is given twice" },
	{ "subsystems = ( { serial = \"x\"; } );\n", "\"nqn\" is required" },
	{ "subsystems = ( { nqn = \"not-an-nqn\"; } );\n", "nqn \"not-an-nqn\" is not a valid subsystem NQN" },
	{ "subsystems = ( { nqn = \"nqn.2014-08.org.nvmexpress.discovery\"; } );\n", "is not a valid subsystem NQN" },
	{ "subsystems = ( { nqn = \"nqn.2026-11.io.nvmft:a\"; serial = \"123456789012345678901\"; } );\n", "serial \"123456789012345678901\" must be 1 to 20 characters" },
	{ "subsystems = ( { nqn = \"nqn.2026-11.io.nvmft:a\"; hosts = ( \"bad host\" ); } );\n", "host \"bad host\" is not a valid NQN" },
	{ "subsystems = ( { nqn = \"nqn.2026-11.io.nvmft:a\"; namespaces = ( { bdev = \"nope\"; } ); } );\n", "namespace bdev \"nope\" is not defined in bdevs" },
	{ "bdevs = ( { name = \"m\"; type = \"malloc\"; size = \"1M\"; } );\n"
	  "subsystems = ( { nqn = \"nqn.2026-11.io.nvmft:a\"; namespaces = ( { bdev = \"m\"; nsid = 1; }, { bdev = \"m\"; nsid = 2; } ); } );\n", "bdev \"m\" is used twice" },
	{ "subsystems = ( { nqn = \"nqn.2026-11.io.nvmft:a\"; },\n { nqn = \"nqn.2026-11.io.nvmft:a\"; } );\n", "x.conf:2: subsystem nqn \"nqn.2026-11.io.nvmft:a\" is given twice" },
	{ "subsystems = ( { nqn = \"nqn.2026-11.io.nvmft:a\"; listeners = ( { traddr = \"300.1.1.1\"; } ); } );\n", "\"300.1.1.1\" port \"4420\" is not a valid address and port" },
	{ "subsystems = ( { nqn = \"nqn.2026-11.io.nvmft:a\"; listeners = ( { traddr = \"127.0.0.1\"; trsvcid = \"99999\"; } ); } );\n", "port \"99999\" is not a valid" },
	{ "subsystems = ( { nqn = \"nqn.2026-11.io.nvmft:a\"; listeners = ( { traddr = \"127.0.0.1\"; adrfam = \"IPv6\"; } ); } );\n", "adrfam \"IPv6\" does not match traddr \"127.0.0.1\"" },
	{ "\nsubsystems = ( { nqn = ; } );\n", "x.conf:2: syntax error" },
	{ "discovery = { referrals = ( { traddr = \"127.0.0.1\"; } ); };\n",
	  "discovery.referrals[0]: \"trsvcid\" is required" },
	{ "discovery = { referrals = ( { traddr = \"127.0.0.1\"; trsvcid = \"0\"; } ); };\n",
	  "trsvcid 0 is not a port" },
	{ "discovery = { referrals = ( { traddr = \"127.0.0.1\"; trsvcid = \"8009\"; subnqn = \"x\"; } ); };\n",
	  "subnqn \"x\" is not a valid NQN" },
	{ "discovery = { referrals = ( { traddr = \"127.0.0.1\"; trsvcid = \"8009\"; port = 1; } ); };\n",
	  "discovery.referrals[0].port: unknown setting" },
	{ "discovery = { referrals = ( { traddr = \"127.0.0.1\"; trsvcid = \"8009\"; secure_channel = 1; } ); };\n",
	  "secure_channel: must be true or false" },
	{ "discovery = { referrals = ( { traddr = \"127.0.0.1\"; trsvcid = \"8009\"; },\n"
	  "  { traddr = \"127.0.0.1\"; trsvcid = \"8009\"; } ); };\n",
	  "x.conf:2: referral 127.0.0.1:8009 nqn.2014-08.org.nvmexpress.discovery is given twice" },
};

static void test_bad_files_name_line_setting_and_value(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct nvmft_config *cfg = NULL;
		char err[512] = "";
		int rc;

		rc = nvmft_config_load_string(bad_cases[i].text, "x.conf", &cfg,
					      err, sizeof(err));
		if (rc != -EINVAL || !strstr(err, bad_cases[i].expect) ||
		    strncmp(err, "x.conf:", 7) != 0)
			fail_msg("case %zu: rc %d, message \"%s\", expected \"%s\"",
				 i, rc, err, bad_cases[i].expect);
		assert_null(cfg);
	}
}

static void test_missing_file_is_reported(void **state)
{
	struct nvmft_config *cfg = NULL;
	char err[512];

	(void)state;
	assert_int_equal(nvmft_config_load("/nonexistent/nvmft.conf", &cfg, err,
					   sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/nvmft.conf"));
}

static void test_parse_size_units(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(nvmft_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(nvmft_parse_size("64K", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(nvmft_parse_size("1G", &v), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(nvmft_parse_size("2TiB", &v), 0);
	assert_int_equal(v, 2ull << 40);
	assert_int_equal(nvmft_parse_size("1.5G", &v), -EINVAL);
	assert_int_equal(nvmft_parse_size("-1", &v), -EINVAL);
	assert_int_equal(nvmft_parse_size("99999999999T", &v), -EINVAL);
	assert_int_equal(nvmft_parse_size("", &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file_parses_every_setting),
		cmocka_unit_test(test_default_config_is_valid),
		cmocka_unit_test(test_bad_files_name_line_setting_and_value),
		cmocka_unit_test(test_missing_file_is_reported),
		cmocka_unit_test(test_parse_size_units),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
