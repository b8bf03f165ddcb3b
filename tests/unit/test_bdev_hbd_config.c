// SPDX-License-Identifier: MIT
/*
 * Config loader, hbd: the top-level "hbd_pools" list and bdev type "hbd"
 * parse with their defaults, bad settings are named with their line, and
 * applying a configuration opens the export of a real nbdkit as a bdev (the
 * hbd context then goes away with the runtime).
 */
#include "test_bdev_hbd_harness.h"

#include <nvmft/config.h>
#include <nvmft/nvmf.h>
#include "config/config_internal.h"

static void hbd_pools_and_bdevs_parse_with_defaults(void **state)
{
	static const char *text =
		"hbd_pools = ( { name = \"p0\"; uri = \"nbd+unix:///?socket=/run/p0.sock\"; },\n"
		"              { name = \"p1\"; uri = \"nbd://10.0.0.1:10809\";\n"
		"                health_interval_ms = 250; connect_timeout_ms = 800;\n"
		"                retry_backoff_ms = 10; retry_backoff_max_ms = 90;\n"
		"                down_after = 3; degraded_latency_ms = 0; io_timeout_ms = 0; } );\n"
		"bdevs = ( { name = \"v0\"; type = \"hbd\"; pool = \"p0\"; },\n"
		"          { name = \"v1\"; type = \"hbd\"; pool = \"p1\"; export = \"disk 1\";\n"
		"            block_size = 4096; } );\n";
	struct nvmft_hbd_pool_opts def;
	struct nvmft_config *cfg = NULL;
	char err[512] = "";

	(void)state;
	nvmft_hbd_pool_opts_init(&def);
	if (nvmft_config_load_string(text, "h.conf", &cfg, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(cfg->nr_hbd_pools, 2);
	assert_string_equal(cfg->hbd_pools[0].name, "p0");
	assert_memory_equal(&cfg->hbd_pools[0].opts, &def, sizeof(def));
	assert_int_equal(cfg->hbd_pools[1].opts.health_interval_ms, 250);
	assert_int_equal(cfg->hbd_pools[1].opts.connect_timeout_ms, 800);
	assert_int_equal(cfg->hbd_pools[1].opts.retry_backoff_ms, 10);
	assert_int_equal(cfg->hbd_pools[1].opts.retry_backoff_max_ms, 90);
	assert_int_equal(cfg->hbd_pools[1].opts.down_after, 3);
	assert_int_equal(cfg->hbd_pools[1].opts.degraded_latency_ms, 0);
	assert_int_equal(cfg->hbd_pools[1].opts.io_timeout_ms, 0);
	assert_int_equal(cfg->hbd_pools[1].line, 2);
	/* The export defaults to the bdev name. */
	assert_string_equal(cfg->bdevs[0].pool, "p0");
	assert_string_equal(cfg->bdevs[0].export_name, "v0");
	assert_int_equal(cfg->bdevs[0].block_size, 512);
	assert_string_equal(cfg->bdevs[1].export_name, "disk 1");
	assert_int_equal(cfg->bdevs[1].block_size, 4096);
	nvmft_config_free(cfg);
}

struct bad_case {
	const char *text;
	const char *expect;
};

#define POOL "hbd_pools = ( { name = \"p\"; uri = \"nbd://127.0.0.1:10809\"; } );\n"

static const struct bad_case bad_cases[] = {
	{ "\nbdevs = ( { name = \"v\"; type = \"hbd\"; } );\n",
	  "h.conf:2: bdev \"v\": \"pool\" is required for type hbd" },
	{ POOL "bdevs = ( { name = \"v\"; type = \"hbd\"; pool = \"q\"; } );\n",
	  "h.conf:2: bdev \"v\": pool \"q\" is not defined in hbd_pools" },
	{ POOL "bdevs = ( { name = \"v\"; type = \"hbd\"; pool = \"p\";\n size = \"1G\"; } );\n",
	  "h.conf:3: bdev \"v\": size is not a setting of type hbd" },
	{ POOL "bdevs = ( { name = \"m\"; type = \"malloc\"; size = \"1M\";\n pool = \"p\"; } );\n",
	  "h.conf:3: bdev \"m\": pool is only for type hbd" },
	{ "hbd_pools = ( { name = \"p\";\n uri = \"nbd://127.0.0.1/vol\"; } );\n",
	  "h.conf:2: hbd pool \"p\": uri \"nbd://127.0.0.1/vol\" is not an NBD server URI" },
	{ "hbd_pools = ( { name = \"p\"; } );\n",
	  "h.conf:1: hbd pool \"p\": \"uri\" is required" },
	{ "hbd_pools = ( { name = \"p\"; uri = \"nbd://h\";\n down_after = 0; } );\n",
	  "h.conf:2: hbd_pools[0].down_after: 0 is out of range" },
	{ "hbd_pools = ( { name = \"p\"; uri = \"nbd://h\"; retry_backoff_ms = 50;\n"
	  " retry_backoff_max_ms = 10; } );\n",
	  "h.conf:1: hbd pool \"p\": retry_backoff_max_ms 10 is below retry_backoff_ms 50" },
	{ POOL "hbd_pools2 = 1;\n", "h.conf:2: hbd_pools2: unknown setting" },
	{ "hbd_pools = ( { name = \"p\"; uri = \"nbd://a\"; },\n { name = \"p\"; uri = \"nbd://b\"; } );\n",
	  "h.conf:2: hbd pool name \"p\" is given twice" },
};

static void bad_hbd_settings_name_line_and_setting(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct nvmft_config *cfg = NULL;
		char err[512] = "";
		int rc = nvmft_config_load_string(bad_cases[i].text, "h.conf", &cfg,
						  err, sizeof(err));

		if (rc != -EINVAL || !strstr(err, bad_cases[i].expect))
			fail_msg("case %zu: rc %d, \"%s\" lacks \"%s\"", i, rc, err,
				 bad_cases[i].expect);
		assert_null(cfg);
	}
}

/* ---- apply ---- */

struct apply_ctx {
	struct nvmft_runtime *rt;
	struct nvmft_tgt *tgt;
	int rc;
	uint64_t num_blocks;
	const char *product;
	sem_t done;
};

static void tgt_create_fn(void *arg)
{
	struct apply_ctx *a = arg;

	a->rc = nvmft_tgt_create(a->rt, NULL, &a->tgt);
}

static void lookup_fn(void *arg)
{
	struct apply_ctx *a = arg;
	struct nvmft_bdev *b = nvmft_bdev_get(nvmft_tgt_get_bdevs(a->tgt), "v0");

	if (!b)
		return;
	a->num_blocks = nvmft_bdev_num_blocks(b);
	a->product = nvmft_bdev_product(b);
}

static void tgt_destroyed(void *arg, int rc)
{
	sem_post(&((struct apply_ctx *)arg)->done);
}

static void tgt_destroy_fn(void *arg)
{
	struct apply_ctx *a = arg;

	nvmft_tgt_destroy(a->tgt, tgt_destroyed, a);
}

static void apply(struct hb_srv *srv, const char *bdevs, int expect_rc)
{
	struct nvmft_runtime_opts ro;
	struct nvmft_config *cfg = NULL;
	struct apply_ctx a = { 0 };
	char text[1024], err[512] = "";
	int rc;

	snprintf(text, sizeof(text),
		 "hbd_pools = ( { name = \"pool0\"; uri = \"%s\"; health_interval_ms = 50; } );\n"
		 "bdevs = ( %s );\n", srv->uri, bdevs);
	if (nvmft_config_load_string(text, "h.conf", &cfg, err, sizeof(err)))
		fail_msg("load: %s", err);
	nvmft_runtime_opts_init(&ro);
	ro.nr_reactors = 2;
	ro.name = "tcfgh";
	assert_int_equal(nvmft_runtime_create(&ro, &a.rt), 0);
	nvmft_runtime_set_log(a.rt, NVMFT_LOG_ERR, NULL, NULL);
	assert_int_equal(nvmft_runtime_start(a.rt), 0);
	assert_int_equal(nvmft_runtime_exec(a.rt, 0, tgt_create_fn, &a), 0);
	assert_int_equal(a.rc, 0);
	rc = nvmft_config_apply(cfg, a.tgt, err, sizeof(err));
	if (rc != expect_rc)
		fail_msg("apply: rc %d, expected %d: %s", rc, expect_rc, err);
	if (!expect_rc) {
		assert_int_equal(nvmft_runtime_exec(a.rt, 0, lookup_fn, &a), 0);
		assert_non_null(a.product);
		assert_string_equal(a.product, "hbd");
		assert_int_equal(a.num_blocks, HB_VOL_SIZE / HB_BS);
	} else {
		/* The message names the line and the bdev. */
		assert_non_null(strstr(err, "h.conf:2: bdev v0: No such file or directory"));
	}
	sem_init(&a.done, 0, 0);
	assert_int_equal(nvmft_runtime_exec(a.rt, 0, tgt_destroy_fn, &a), 0);
	assert_true(sem_wait_bounded(&a.done, H_WAIT_SEC));
	sem_destroy(&a.done);
	/* The hbd context goes with the runtime (checked by the ASan build). */
	nvmft_runtime_stop(a.rt);
	nvmft_runtime_destroy(a.rt);
	nvmft_config_free(cfg);
}

static void hbd_config_applies_with_the_export_size(void **state)
{
	struct hb_srv srv;

	(void)state;
	hb_srv_init(&srv);
	hb_srv_add_volume(&srv, "vol0", HB_VOL_SIZE);
	hb_srv_start(&srv);
	apply(&srv, "{ name = \"v0\"; type = \"hbd\"; pool = \"pool0\"; export = \"vol0\"; }", 0);
	/* A missing export fails the apply, naming the bdev. */
	apply(&srv, "{ name = \"v0\"; type = \"hbd\"; pool = \"pool0\"; export = \"nope\"; }",
	      -ENOENT);
	hb_srv_fini(&srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hbd_pools_and_bdevs_parse_with_defaults),
		cmocka_unit_test(bad_hbd_settings_name_line_and_setting),
		cmocka_unit_test(hbd_config_applies_with_the_export_size),
	};

	hb_require_nbdkit();
	return cmocka_run_group_tests_name("bdev_hbd_config", tests, NULL, NULL);
}
