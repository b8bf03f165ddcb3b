/* SPDX-License-Identifier: MIT */
/*
 * bdev_uring_rescan over JSON-RPC: the file grows, the method answers
 * true and bdev_get_bdevs shows the new block count; unknown names,
 * other kinds of bdev and missing parameters are refused by name.
 */
#include "test_rpc_harness.h"

#include <fcntl.h>

static int64_t num_blocks(struct rh_conn *c, const char *name)
{
	struct json_object *r = rh_ok(c, "bdev_get_bdevs", "{\"name\":\"%s\"}", name);
	int64_t n = rh_int(json_object_array_get_idx(r, 0), "num_blocks");

	json_object_put(r);
	return n;
}

static void rescan_takes_the_new_size_and_refuses_what_it_cannot(void **state)
{
	char file[128], msg[512];
	struct rh_env e;
	struct rh_conn c;
	struct json_object *r;
	int fd;

	rh_start(&e);
	snprintf(file, sizeof(file), "%s/disk.img", e.dir);
	fd = open(file, O_CREAT | O_RDWR, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4 << 20), 0);
	close(fd);
	assert_int_equal(rh_open(&c, e.path), 0);
	/* buffered: the directory may be on a tmpfs without O_DIRECT. */
	r = rh_ok(&c, "bdev_uring_create", "{\"name\":\"U0\",\"filename\":\"%s\","
		  "\"block_size\":512,\"buffered\":true}", file);
	json_object_put(r);
	assert_int_equal(num_blocks(&c, "U0"), (4 << 20) / 512);

	assert_int_equal(truncate(file, 6 << 20), 0);
	rh_ok_true(&c, "bdev_uring_rescan", "{\"name\":\"U0\"}");
	assert_int_equal(num_blocks(&c, "U0"), (6 << 20) / 512);
	/* Nothing changed: still true. */
	rh_ok_true(&c, "bdev_uring_rescan", "{\"name\":\"U0\"}");

	assert_int_equal(rh_err(&c, "bdev_uring_rescan", msg, sizeof(msg),
				"{\"name\":\"Nope\"}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "Nope");
	r = rh_ok(&c, "bdev_malloc_create", "{\"name\":\"M0\",\"num_blocks\":64,"
		  "\"block_size\":512}");
	json_object_put(r);
	assert_int_equal(rh_err(&c, "bdev_uring_rescan", msg, sizeof(msg),
				"{\"name\":\"M0\"}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "not uring");
	assert_int_equal(rh_err(&c, "bdev_uring_rescan", msg, sizeof(msg), "{}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.name is required");
	rh_ok_true(&c, "bdev_uring_delete", "{\"name\":\"U0\"}");
	rh_close(&c);
	unlink(file);
	rh_stop(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rescan_takes_the_new_size_and_refuses_what_it_cannot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
