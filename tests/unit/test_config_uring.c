// SPDX-License-Identifier: MIT
/*
 * Config loader, bdev type "uring": it parses with its defaults, its errors
 * name the line and the setting, and applying it creates a bdev of the
 * file's size.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <nvmft/bdev.h>
#include <nvmft/config.h>
#include <nvmft/nvmf.h>
#include "config/config_internal.h"

static void test_uring_bdev_parses_with_defaults(void **state)
{
	static const char *text =
		"bdevs = ( { name = \"u0\"; type = \"uring\"; filename = \"/dev/nvme0n1\"; },\n"
		"          { name = \"u1\"; type = \"uring\"; filename = \"/var/lib/x.img\";\n"
		"            block_size = 4096; buffered = true;\n"
		"            uuid = \"12345678-9abc-def0-1234-56789abcdef0\"; } );\n";
	struct nvmft_config *cfg = NULL;
	char err[512] = "";

	(void)state;
	assert_int_equal(nvmft_config_load_string(text, "u.conf", &cfg, err,
						  sizeof(err)), 0);
	assert_int_equal(cfg->nr_bdevs, 2);
	assert_string_equal(cfg->bdevs[0].type, "uring");
	assert_string_equal(cfg->bdevs[0].filename, "/dev/nvme0n1");
	assert_int_equal(cfg->bdevs[0].block_size, 0);	/* detect */
	assert_false(cfg->bdevs[0].buffered);
	assert_false(cfg->bdevs[0].has_uuid);
	assert_string_equal(cfg->bdevs[1].filename, "/var/lib/x.img");
	assert_int_equal(cfg->bdevs[1].block_size, 4096);
	assert_true(cfg->bdevs[1].buffered);
	assert_true(cfg->bdevs[1].has_uuid);
	assert_int_equal(cfg->bdevs[1].line, 2);
	nvmft_config_free(cfg);
}

struct bad_case {
	const char *text;
	const char *expect;
};

static const struct bad_case bad_cases[] = {
	{ "\nbdevs = ( { name = \"u\"; type = \"uring\"; } );\n",
	  "u.conf:2: bdev \"u\": \"filename\" is required for type uring" },
	{ "bdevs = ( { name = \"u\"; type = \"uring\"; filename = \"\"; } );\n",
	  "\"filename\" is required for type uring" },
	{ "bdevs = ( { name = \"u\"; type = \"uring\";\n"
	  "            filename = \"/x\"; size = \"1G\"; } );\n",
	  "u.conf:2: bdev \"u\": size is not a setting of type uring" },
	{ "bdevs = ( { name = \"u\"; type = \"uring\"; filename = \"/x\"; num_blocks = 8; } );\n",
	  "num_blocks is not a setting of type uring" },
	{ "bdevs = ( { name = \"u\"; type = \"uring\"; filename = \"/x\"; block_size = 1000; } );\n",
	  "block_size 1000 is not 512 or 4096" },
	{ "bdevs = ( { name = \"u\"; type = \"uring\"; filename = 7; } );\n",
	  "bdevs[0].filename: must be a string" },
	{ "bdevs = ( { name = \"u\"; type = \"uring\"; filename = \"/x\"; buffered = \"yes\"; } );\n",
	  "bdevs[0].buffered: must be true or false" },
	{ "bdevs = ( { name = \"m\"; type = \"malloc\"; size = \"1M\";\n"
	  "            filename = \"/x\"; } );\n",
	  "u.conf:2: bdev \"m\": filename is only for type uring" },
	{ "bdevs = ( { name = \"m\"; type = \"null\"; size = \"1M\"; buffered = true; } );\n",
	  "bdev \"m\": buffered is only for type uring" },
	{ "bdevs = ( { name = \"f\"; type = \"floppy\"; } );\n",
	  "type \"floppy\" is not one of malloc, null, uring" },
};

static void test_uring_bad_settings_name_line_and_setting(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct nvmft_config *cfg = NULL;
		char err[512] = "";
		int rc;

		rc = nvmft_config_load_string(bad_cases[i].text, "u.conf", &cfg,
					      err, sizeof(err));
		if (rc != -EINVAL || !strstr(err, bad_cases[i].expect) ||
		    strncmp(err, "u.conf:", 7) != 0)
			fail_msg("case %zu: rc %d, message \"%s\", expected \"%s\"",
				 i, rc, err, bad_cases[i].expect);
		assert_null(cfg);
	}
}

/* ---- apply ---- */

struct apply_ctx {
	struct nvmft_runtime *rt;
	struct nvmft_tgt *tgt;
	int rc;
	const char *name;
	uint64_t num_blocks;
	uint32_t block_size;
	const char *product;
	sem_t done;
};

static void lookup_fn(void *arg)
{
	struct apply_ctx *a = arg;
	struct nvmft_bdev *b = nvmft_bdev_get(nvmft_tgt_get_bdevs(a->tgt), a->name);

	if (!b)
		return;
	a->num_blocks = nvmft_bdev_num_blocks(b);
	a->block_size = nvmft_bdev_block_size(b);
	a->product = nvmft_bdev_product(b);
}

static void tgt_create_fn(void *arg)
{
	struct apply_ctx *a = arg;

	a->rc = nvmft_tgt_create(a->rt, NULL, &a->tgt);
}

static void tgt_destroyed(void *arg, int rc)
{
	(void)rc;
	sem_post(&((struct apply_ctx *)arg)->done);
}

static void tgt_destroy_fn(void *arg)
{
	struct apply_ctx *a = arg;

	nvmft_tgt_destroy(a->tgt, tgt_destroyed, a);
}

static bool sem_wait_sec(sem_t *s, int sec)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += sec;
	while (sem_timedwait(s, &ts) != 0)
		if (errno != EINTR)
			return false;
	return true;
}

static void test_uring_bdev_applies_with_the_file_size(void **state)
{
	char dir[] = "/var/tmp/nvmft-cfg-uring-XXXXXX", path[128], text[512], err[512] = "";
	struct nvmft_runtime_opts ro;
	struct nvmft_runtime *rt;
	struct nvmft_config *cfg = NULL;
	struct apply_ctx a = { .name = "u0" };
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/disk.img", dir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	assert_true(fd >= 0);
	/* 1 MiB + 1000 bytes: the tail that is not a whole block is left out. */
	assert_int_equal(ftruncate(fd, (1 << 20) + 1000), 0);
	close(fd);
	snprintf(text, sizeof(text),
		 "bdevs = ( { name = \"u0\"; type = \"uring\"; filename = \"%s\"; } );\n",
		 path);
	assert_int_equal(nvmft_config_load_string(text, "u.conf", &cfg, err,
						  sizeof(err)), 0);

	nvmft_runtime_opts_init(&ro);
	ro.nr_reactors = 2;
	ro.name = "tcfgu";
	assert_int_equal(nvmft_runtime_create(&ro, &rt), 0);
	assert_int_equal(nvmft_runtime_start(rt), 0);
	a.rt = rt;
	assert_int_equal(nvmft_runtime_exec(rt, 0, tgt_create_fn, &a), 0);
	assert_int_equal(a.rc, 0);
	if (nvmft_config_apply(cfg, a.tgt, err, sizeof(err)))
		fail_msg("apply: %s", err);
	assert_int_equal(nvmft_runtime_exec(rt, 0, lookup_fn, &a), 0);
	assert_non_null(a.product);
	assert_string_equal(a.product, "uring");
	assert_int_equal(a.block_size, 512);
	assert_int_equal(a.num_blocks, 2048 + 1);

	sem_init(&a.done, 0, 0);
	assert_int_equal(nvmft_runtime_exec(rt, 0, tgt_destroy_fn, &a), 0);
	assert_true(sem_wait_sec(&a.done, 10));
	sem_destroy(&a.done);
	nvmft_runtime_stop(rt);
	nvmft_runtime_destroy(rt);
	nvmft_config_free(cfg);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uring_bdev_parses_with_defaults),
		cmocka_unit_test(test_uring_bad_settings_name_line_and_setting),
		cmocka_unit_test(test_uring_bdev_applies_with_the_file_size),
	};

	return cmocka_run_group_tests_name("config_uring", tests, NULL, NULL);
}
