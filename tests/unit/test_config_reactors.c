// SPDX-License-Identifier: MIT
/*
 * reactors.idle_spin_us: parsed and range-checked (the message names the
 * setting and the value), passed to the runtime options only when given,
 * and written back by save_config so that the saved file gives the same
 * value again.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <cmocka.h>

#include <nvmft/config.h>
#include <nvmft/nvmf.h>
#include <nvmft/rpc.h>
#include <nvmft/runtime.h>
#include "config/config_internal.h"

static struct nvmft_config *load_ok(const char *text)
{
	struct nvmft_config *cfg = NULL;
	char err[512];

	if (nvmft_config_load_string(text, "x.conf", &cfg, err, sizeof(err)))
		fail_msg("%s", err);
	return cfg;
}

static void test_idle_spin_us_is_parsed_into_the_runtime_opts(void **state)
{
	struct nvmft_runtime_opts o;
	struct nvmft_config *cfg;

	cfg = load_ok("reactors = { wait_mode = \"adaptive\"; idle_spin_us = 750; };\n");
	assert_true(cfg->has_idle_spin_us);
	nvmft_config_runtime_opts(cfg, &o);
	assert_int_equal(o.idle_spin_us, 750);
	nvmft_config_free(cfg);

	/* 0 is a value, not "absent". */
	cfg = load_ok("reactors = { idle_spin_us = 0; };\n");
	nvmft_config_runtime_opts(cfg, &o);
	assert_int_equal(o.idle_spin_us, 0);
	nvmft_config_free(cfg);

	cfg = load_ok("reactors = { idle_spin_us = 1000000; };\n");
	nvmft_config_runtime_opts(cfg, &o);
	assert_int_equal(o.idle_spin_us, NVMFT_IDLE_SPIN_US_MAX);
	nvmft_config_free(cfg);
}

static void test_absent_idle_spin_us_keeps_the_default(void **state)
{
	struct nvmft_runtime_opts o, d;
	struct nvmft_config *cfg;

	nvmft_runtime_opts_init(&d);
	cfg = load_ok("reactors = { wait_mode = \"poll\"; };\n");
	assert_false(cfg->has_idle_spin_us);
	nvmft_config_runtime_opts(cfg, &o);
	assert_int_equal(o.idle_spin_us, d.idle_spin_us);
	nvmft_config_free(cfg);

	cfg = load_ok("log_level = \"notice\";\n");
	nvmft_config_runtime_opts(cfg, &o);
	assert_int_equal(o.idle_spin_us, d.idle_spin_us);
	nvmft_config_free(cfg);
}

static void expect_error(const char *text, const char *part)
{
	struct nvmft_config *cfg = NULL;
	char err[512];

	assert_int_not_equal(nvmft_config_load_string(text, "x.conf", &cfg, err,
						      sizeof(err)), 0);
	assert_null(cfg);
	if (!strstr(err, part))
		fail_msg("\"%s\" does not contain \"%s\"", err, part);
}

static void test_bad_idle_spin_us_is_refused_with_setting_and_value(void **state)
{
	expect_error("\nreactors = { idle_spin_us = 1000001; };\n",
		     "x.conf:2: reactors.idle_spin_us: 1000001 is out of range");
	expect_error("reactors = { idle_spin_us = -5; };\n",
		     "reactors.idle_spin_us: -5 is out of range");
	expect_error("reactors = { idle_spin_us = \"fast\"; };\n",
		     "reactors.idle_spin_us");
}

/* ---- save_config writes it back ---- */

struct env {
	struct nvmft_runtime *rt;
	struct nvmft_tgt *tgt;
	char *text;
	int rc;
	_Atomic bool done;
};

static void tgt_create_fn(void *arg)
{
	struct env *e = arg;
	struct nvmft_tgt_opts o;

	nvmft_tgt_opts_init(&o);
	e->rc = nvmft_tgt_create(e->rt, &o, &e->tgt);
}

static void save_fn(void *arg)
{
	struct env *e = arg;

	e->rc = nvmft_rpc_save_config(e->tgt, &e->text);
}

static void tgt_destroyed(void *arg, int rc)
{
	struct env *e = arg;

	atomic_store(&e->done, true);
}

static void tgt_destroy_fn(void *arg)
{
	struct env *e = arg;

	nvmft_tgt_destroy(e->tgt, tgt_destroyed, e);
}

static void test_save_config_round_trips_idle_spin_us(void **state)
{
	struct nvmft_runtime_opts o;
	struct nvmft_config *cfg, *cfg2;
	struct env e = { 0 };

	cfg = load_ok("reactors = { count = 1; idle_spin_us = 4321; engine = \"epoll\"; };\n");
	nvmft_config_runtime_opts(cfg, &o);
	o.name = "tcfg";
	assert_int_equal(nvmft_runtime_create(&o, &e.rt), 0);
	nvmft_config_free(cfg);
	assert_int_equal(nvmft_runtime_get_idle_spin_us(e.rt), 4321);
	assert_int_equal(nvmft_runtime_start(e.rt), 0);
	assert_int_equal(nvmft_runtime_exec(e.rt, 0, tgt_create_fn, &e), 0);
	assert_int_equal(e.rc, 0);

	/* A live change is what gets saved. */
	assert_int_equal(nvmft_runtime_set_idle_spin_us(e.rt, 1234), 0);
	assert_int_equal(nvmft_runtime_exec(e.rt, 0, save_fn, &e), 0);
	assert_int_equal(e.rc, 0);
	assert_non_null(strstr(e.text, "idle_spin_us = 1234;"));
	cfg2 = load_ok(e.text);
	assert_true(cfg2->has_idle_spin_us);
	assert_int_equal(cfg2->idle_spin_us, 1234);
	nvmft_config_free(cfg2);
	free(e.text);

	assert_int_equal(nvmft_runtime_exec(e.rt, 0, tgt_destroy_fn, &e), 0);
	for (int i = 0; i < 5000 && !atomic_load(&e.done); i++)
		usleep(1000);
	assert_true(atomic_load(&e.done));
	nvmft_runtime_stop(e.rt);
	nvmft_runtime_destroy(e.rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_spin_us_is_parsed_into_the_runtime_opts),
		cmocka_unit_test(test_absent_idle_spin_us_keeps_the_default),
		cmocka_unit_test(test_bad_idle_spin_us_is_refused_with_setting_and_value),
		cmocka_unit_test(test_save_config_round_trips_idle_spin_us),
	};

	return cmocka_run_group_tests_name("config_reactors", tests, NULL, NULL);
}
