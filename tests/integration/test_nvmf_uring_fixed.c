// SPDX-License-Identifier: MIT
/*
 * A host's reads and writes to a uring namespace (a file in /var/tmp) over
 * NVMe/TCP on loopback: on the io_uring engine they go through registered
 * files and fixed buffers (the TCP data pool and the in-capsule slabs),
 * on the epoll engine through registered files of the private rings only.
 * The backend's counters (bdev dump_info) say which path each took; the
 * data is checked through the host and against the file itself.
 */
#include <fcntl.h>
#include <json-c/json.h>
#include <sys/stat.h>

#include "nvmf_harness.h"

#define UF_NQN		"nqn.2026-11.io.nvmft:uring-fixed"
#define UF_BYTES	(8u * 1024 * 1024)
#define UF_NR_IO	32

struct env {
	struct nh h;
	struct nvmft_subsystem *ss;
	char dir[48];
	char path[96];
	uint64_t c[4];		/* fixed file, plain fd, fixed buf, plain buf */
};

static struct env *g_env;	/* for the app-reactor steps */

static void step_uring_create(void *arg)
{
	struct nh *h = arg;
	struct nvmft_bdev_uring_opts o = {
		.name = "UF0", .filename = g_env->path, .block_size = 512,
	};

	nh_step_finish(h, nvmft_bdev_uring_create(nvmft_tgt_get_bdevs(h->t.tgt),
						  &o, NULL));
}

static void step_counts(void *arg)
{
	static const char *const keys[4] = {
		"fixed_file_ops", "plain_fd_ops", "fixed_buffer_ops", "plain_buffer_ops",
	};
	struct nh *h = arg;
	struct nvmft_bdev *bdev = nvmft_bdev_get(nvmft_tgt_get_bdevs(h->t.tgt), "UF0");
	struct json_object *obj = json_object_new_object(), *io, *v;
	int rc = -ENOENT, i;

	if (bdev && obj && nvmft_bdev_dump_info(bdev, obj) == 0 &&
	    json_object_object_get_ex(obj, "io_uring", &io)) {
		rc = 0;
		for (i = 0; i < 4; i++) {
			if (!json_object_object_get_ex(io, keys[i], &v)) {
				rc = -EINVAL;
				break;
			}
			g_env->c[i] = (uint64_t)json_object_get_int64(v);
		}
	}
	json_object_put(obj);
	nh_step_finish(h, rc);
}

static int env_setup(void **state, enum nvmft_engine engine)
{
	struct env *e = calloc(1, sizeof(*e));
	int fd, rc;

	if (!e)
		return -1;
	*state = g_env = e;
	snprintf(e->dir, sizeof(e->dir), "/var/tmp/nvmft-uf-XXXXXX");
	if (!mkdtemp(e->dir))
		return -1;
	snprintf(e->path, sizeof(e->path), "%s/ns.img", e->dir);
	fd = open(e->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	rc = ftruncate(fd, UF_BYTES);
	close(fd);
	if (rc)
		return -1;
	rc = nh_start(&e->h, engine, NULL);
	if (!rc)
		rc = nh_run(&e->h, step_uring_create);
	if (!rc)
		rc = nh_simple_subsystem(&e->h, UF_NQN, &e->ss);
	if (!rc)
		rc = nh_add_ns(&e->h, e->ss, "UF0", 1, NULL);
	return rc ? -1 : 0;
}

static int setup_uring(void **state) { return env_setup(state, NVMFT_ENGINE_URING); }
static int setup_epoll(void **state) { return env_setup(state, NVMFT_ENGINE_EPOLL); }

static int env_teardown(void **state)
{
	struct env *e = *state;
	char cmd[96];

	nh_stop(&e->h);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", e->dir);
	free(e);
	g_env = NULL;
	return 0;
}

static void file_has(const char *path, off_t off, const void *want, size_t len)
{
	uint8_t *got = malloc(len);
	int fd = open(path, O_RDONLY);

	assert_non_null(got);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, got, len, off), (ssize_t)len);
	close(fd);
	assert_memory_equal(got, want, len);
	free(got);
}

/* 4 KiB writes then reads at scattered LBAs, and one 64 KiB (pool) each. */
static void test_host_io_uses_registered_files_and_fixed_buffers(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = nh_connect(&e->h, UF_NQN, 1);
	struct nvmft_host_qpair *qp = nvmft_host_ctrlr_io_qpair(c, 0);
	uint8_t *w = malloc(65536), *r = malloc(65536);
	uint64_t before[4], slba;
	unsigned int i;

	assert_non_null(w);
	assert_non_null(r);
	assert_int_equal(nh_run(&e->h, step_counts), 0);
	memcpy(before, e->c, sizeof(before));
	for (i = 0; i < UF_NR_IO; i++) {
		slba = (uint64_t)(i * 37 % 2000) * 8;
		nh_fill(w, 4096, 1000 + i);
		memset(r, 0, 4096);
		assert_int_equal(nvmft_host_write(qp, 1, slba, 8, w, 4096, false), 0);
		assert_int_equal(nvmft_host_read(qp, 1, slba, 8, r, 4096), 0);
		assert_memory_equal(r, w, 4096);
		file_has(e->path, (off_t)slba * 512, w, 4096);
	}
	nh_fill(w, 65536, 77);
	memset(r, 0, 65536);
	assert_int_equal(nvmft_host_write(qp, 1, 4096, 128, w, 65536, false), 0);
	assert_int_equal(nvmft_host_read(qp, 1, 4096, 128, r, 65536), 0);
	assert_memory_equal(r, w, 65536);
	file_has(e->path, 4096 * 512, w, 65536);

	assert_int_equal(nh_run(&e->h, step_counts), 0);
	/* Every data SQE went through a registered file. */
	assert_true(e->c[0] - before[0] >= 2 * UF_NR_IO + 2);
	assert_int_equal(e->c[1], before[1]);
	if (e->h.t.engine == NVMFT_ENGINE_URING) {
		assert_int_equal(e->c[2] - before[2], 2 * UF_NR_IO + 2);
		assert_int_equal(e->c[3], before[3]);
	} else {
		assert_int_equal(e->c[2], before[2]);
		assert_int_equal(e->c[3] - before[3], 2 * UF_NR_IO + 2);
	}
	nvmft_host_ctrlr_disconnect(c);
	free(w);
	free(r);
}

/* A new connection's slab is registered, used, and freed with it. */
static void test_reconnected_host_still_uses_fixed_buffers(void **state)
{
	struct env *e = *state;
	uint64_t before;
	int round;

	for (round = 0; round < 3; round++) {
		struct nvmft_host_ctrlr *c = nh_connect(&e->h, UF_NQN, 1);

		assert_int_equal(nh_run(&e->h, step_counts), 0);
		before = e->c[2];
		nh_write_read_verify(nvmft_host_ctrlr_io_qpair(c, 0), 1, 512,
				     (uint64_t)round * 64, 4096, 500 + (uint32_t)round);
		assert_int_equal(nh_run(&e->h, step_counts), 0);
		if (e->h.t.engine == NVMFT_ENGINE_URING)
			assert_int_equal(e->c[2] - before, 2);
		nvmft_host_ctrlr_disconnect(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_io_uses_registered_files_and_fixed_buffers),
		cmocka_unit_test(test_reconnected_host_still_uses_fixed_buffers),
	};
	int fails = 0;

	signal(SIGPIPE, SIG_IGN);
	fails += NH_RUN_BOTH("nvmf_uring_fixed", tests, setup_uring, setup_epoll,
			     env_teardown);
	return fails ? 1 : 0;
}
