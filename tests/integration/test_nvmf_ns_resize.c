/* SPDX-License-Identifier: MIT */
/*
 * A namespace on a uring bdev whose file grows under a connected host:
 * after nvmft_bdev_uring_rescan() an outstanding Async Event Request
 * completes with Namespace Attribute Changed, the Changed Namespace List
 * names the NSID, Identify Namespace shows the new NSZE, and the new
 * blocks serve I/O; after a shrink, I/O beyond the end fails with LBA Out
 * of Range.
 */
#include "nvmf_harness.h"

#include <fcntl.h>
#include <sys/stat.h>

#define RS_NQN		"nqn.2026-11.io.nvmft:resize"
#define RS_BYTES	(8u * 1024 * 1024)
#define RS_AER_NS_CHANGED \
	((uint32_t)NVME_AER_NOTICE | (NVME_AER_NOTICE_NS_CHANGED << 8) | \
	 ((uint32_t)NVME_LOG_LID_CHANGED_NS << 16))

struct env {
	struct nh h;
	struct nvmft_subsystem *ss;
	char dir[48];
	char path[96];
};

static void set_size(const char *path, off_t size)
{
	int fd = open(path, O_RDWR | O_CREAT, 0600);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
}

static void step_uring(void *arg)
{
	struct env *e = arg;
	struct nvmft_bdev_uring_opts o = {
		.name = "Rs0", .filename = e->path, .block_size = 512,
	};
	int rc = nvmft_bdev_uring_create(nvmft_tgt_get_bdevs(e->h.t.tgt), &o, NULL);

	if (rc == -EINVAL) {
		/* A file system without O_DIRECT. */
		o.buffered = true;
		rc = nvmft_bdev_uring_create(nvmft_tgt_get_bdevs(e->h.t.tgt), &o, NULL);
	}
	nh_step_finish(&e->h, rc);
}

static void step_rescan(void *arg)
{
	struct env *e = arg;

	nh_step_finish(&e->h, nvmft_bdev_uring_rescan(nvmft_tgt_get_bdevs(e->h.t.tgt),
						      "Rs0"));
}

/* nh_run() passes &e->h, which is @e: the env starts with its harness. */
static int env_run(struct env *e, nvmft_msg_fn fn)
{
	return nh_run(&e->h, fn);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	int rc;

	if (!e)
		return -1;
	*state = e;
	/* /var/tmp: on disk where /tmp may be a tmpfs. */
	snprintf(e->dir, sizeof(e->dir), "/var/tmp/nvmft-nsrs-XXXXXX");
	if (!mkdtemp(e->dir))
		return -1;
	snprintf(e->path, sizeof(e->path), "%s/ns.img", e->dir);
	set_size(e->path, RS_BYTES);
	rc = nh_start(&e->h, NVMFT_ENGINE_AUTO, NULL);
	if (!rc)
		rc = env_run(e, step_uring);
	if (!rc)
		rc = nh_simple_subsystem(&e->h, RS_NQN, &e->ss);
	if (!rc)
		rc = nh_add_ns(&e->h, e->ss, "Rs0", 1, NULL);
	return rc ? -1 : 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	nh_stop(&e->h);
	unlink(e->path);
	rmdir(e->dir);
	free(e);
	return 0;
}

static void post_aer(struct nvmft_host_ctrlr *c, struct nh_slot *s)
{
	struct nvmft_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_async_event;
	memset(s, 0, sizeof(*s));
	assert_int_equal(nvmft_host_submit(nvmft_host_ctrlr_admin_qpair(c), &sqe, NULL, 0,
					   NVMFT_HOST_DIR_NONE, nh_slot_cb, s), 0);
}

static void wait_aer(struct nvmft_host_ctrlr *c, struct nh_slot *s)
{
	assert_int_equal(nvmft_host_qpair_wait(nvmft_host_ctrlr_admin_qpair(c), &s->done,
					       5000), 0);
	assert_int_equal(s->status, 0);
	assert_int_equal((uint32_t)s->result, RS_AER_NS_CHANGED);
}

static unsigned int changed_list(struct nvmft_host_ctrlr *c, uint32_t *first)
{
	uint32_t list[1024];
	unsigned int n = 0;

	assert_int_equal(nvmft_host_get_log_page(c, NVME_LOG_LID_CHANGED_NS, 0xffffffff,
						 0, list, sizeof(list)), 0);
	while (n < 1024 && list[n])
		n++;
	*first = le32toh(list[0]);
	return n;
}

static uint64_t nsze(struct nvmft_host_ctrlr *c)
{
	struct nvmft_host_ns_info info;

	assert_int_equal(nvmft_host_ns_info(c, 1, &info), 0);
	return info.nsze;
}

static int rw_status(struct nvmft_host_qpair *qp, bool write, uint64_t slba)
{
	static uint8_t buf[4096];

	return nh_cmd(qp, write ? nvme_cmd_write : nvme_cmd_read, 1, (uint32_t)slba,
		      (uint32_t)(slba >> 32), 7, buf, sizeof(buf),
		      write ? NVMFT_HOST_DIR_WRITE : NVMFT_HOST_DIR_READ);
}

static void test_rescan_after_growth_sends_aen_and_new_nsze(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = nh_connect(&e->h, RS_NQN, 1);
	struct nvmft_host_qpair *qp = nvmft_host_ctrlr_io_qpair(c, 0);
	struct nh_slot aer;
	uint32_t nsid = 0;

	assert_int_equal(nsze(c), RS_BYTES / 512);
	assert_int_equal(NH_ST(rw_status(qp, true, RS_BYTES / 512)), NH_LBA_RANGE);
	post_aer(c, &aer);
	/* Unchanged: nothing to tell. */
	assert_int_equal(env_run(e, step_rescan), 0);
	assert_int_equal(nvmft_host_qpair_wait(nvmft_host_ctrlr_admin_qpair(c), &aer.done,
					       200), -ETIMEDOUT);

	set_size(e->path, 2 * RS_BYTES);
	assert_int_equal(env_run(e, step_rescan), 0);
	wait_aer(c, &aer);
	assert_int_equal(changed_list(c, &nsid), 1);
	assert_int_equal(nsid, 1);
	assert_int_equal(nsze(c), 2 * RS_BYTES / 512);
	nh_write_read_verify(qp, 1, 512, RS_BYTES / 512, 4096, 3);
	nh_write_read_verify(qp, 1, 512, 2 * RS_BYTES / 512 - 8, 4096, 4);

	/* Shrink: the namespace follows, I/O beyond the end is out of range. */
	post_aer(c, &aer);
	set_size(e->path, RS_BYTES / 2);
	assert_int_equal(env_run(e, step_rescan), 0);
	wait_aer(c, &aer);
	assert_int_equal(nsze(c), RS_BYTES / 2 / 512);
	assert_int_equal(NH_ST(rw_status(qp, false, RS_BYTES / 2 / 512)), NH_LBA_RANGE);
	assert_int_equal(rw_status(qp, false, 0), 0);
	nvmft_host_ctrlr_disconnect(c);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rescan_after_growth_sends_aen_and_new_nsze,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
