/* SPDX-License-Identifier: MIT */
/*
 * Faulty backend under a real target (2 reactors, io_uring and epoll
 * engines): a RAM device ("flaky", registered through the provider API)
 * whose reads and writes fail on demand with EIO, ENOSPC or a transient
 * error, served as namespace 2 next to the harness's malloc namespace.
 * The host must get the NVMe status the errno stands for, the connection
 * must survive and serve again once the device recovers (no restart), and
 * every write the host saw acknowledged must read back afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <nvmft/bdev_module.h>

#include "hostile_harness.h"

#define FLAKY_NAME	"Flaky0"
#define FLAKY_NSID	2
#define FLAKY_BLOCKS	2048u
#define FLAKY_BS	512u

/* ---- the faulty device ---------------------------------------------------- */

struct flaky_dev {
	uint8_t *data;
	_Atomic int fault;		/* -errno to complete with, 0: none */
	_Atomic unsigned int types;	/* bit per nvmft_io_type that fails */
	_Atomic unsigned int every;	/* 1 in @every matching I/Os fails */
	_Atomic uint64_t seen;
	_Atomic uint64_t injected;
};

static void iov_copy(struct nvmft_bdev_io *io, uint8_t *dev, bool to_dev)
{
	size_t off = 0;

	for (int i = 0; i < io->iovcnt; i++) {
		if (to_dev)
			memcpy(dev + off, io->iov[i].iov_base, io->iov[i].iov_len);
		else
			memcpy(io->iov[i].iov_base, dev + off, io->iov[i].iov_len);
		off += io->iov[i].iov_len;
	}
}

static int flaky_submit(void *chan_ctx, struct nvmft_bdev_io *io)
{
	struct flaky_dev *d = *(struct flaky_dev **)chan_ctx;
	uint8_t *at = d->data + io->offset_blocks * FLAKY_BS;
	size_t len = io->num_blocks * FLAKY_BS;
	int fault = atomic_load(&d->fault);

	if (fault && (atomic_load(&d->types) & (1u << io->type)) &&
	    atomic_fetch_add(&d->seen, 1) % atomic_load(&d->every) == 0) {
		atomic_fetch_add(&d->injected, 1);
		/* nothing reaches the medium */
		nvmft_bdev_io_complete(io, fault);
		return 0;
	}
	switch (io->type) {
	case NVMFT_IO_READ:
		iov_copy(io, at, false);
		break;
	case NVMFT_IO_WRITE:
		iov_copy(io, at, true);
		break;
	case NVMFT_IO_WRITE_ZEROES:
		memset(at, 0, len);
		break;
	default:
		break;
	}
	nvmft_bdev_io_complete(io, 0);
	return 0;
}

static int flaky_chan_create(void *bdev_ctx, void *chan_ctx)
{
	*(struct flaky_dev **)chan_ctx = bdev_ctx;
	return 0;
}

static bool flaky_supports(void *bdev_ctx, enum nvmft_io_type type)
{
	(void)bdev_ctx;
	return type == NVMFT_IO_READ || type == NVMFT_IO_WRITE ||
	       type == NVMFT_IO_FLUSH || type == NVMFT_IO_WRITE_ZEROES;
}

static void flaky_destroy(void *bdev_ctx, void (*done)(void *arg), void *arg)
{
	struct flaky_dev *d = bdev_ctx;

	free(d->data);
	free(d);
	done(arg);
}

static const struct nvmft_bdev_ops flaky_ops = {
	.name = "flaky",
	.chan_ctx_size = sizeof(struct flaky_dev *),
	.channel_create = flaky_chan_create,
	.submit = flaky_submit,
	.supports = flaky_supports,
	.destroy = flaky_destroy,
};

/* ---- set up: the target, plus the device as namespace 2 ------------------- */

struct env {
	struct tt_target t;
	struct flaky_dev *dev;
	_Atomic int done;
	int rc;
};

static void ns_added(void *arg, int rc)
{
	struct env *e = arg;

	e->rc = rc;
	atomic_store(&e->done, 1);
}

static void add_flaky_step(void *arg)
{
	struct env *e = arg;
	struct nvmft_bdev_props p = {
		.name = FLAKY_NAME,
		.block_size = FLAKY_BS,
		.num_blocks = FLAKY_BLOCKS,
	};
	struct nvmft_ns_opts no = { .bdev_name = FLAKY_NAME, .nsid = FLAKY_NSID };
	int rc;

	e->dev = calloc(1, sizeof(*e->dev));
	if (e->dev)
		e->dev->data = calloc(FLAKY_BLOCKS, FLAKY_BS);
	if (!e->dev || !e->dev->data) {
		ns_added(e, -ENOMEM);
		return;
	}
	atomic_store(&e->dev->every, 1);
	rc = nvmft_bdev_register(nvmft_tgt_get_bdevs(e->t.tgt), &p, &flaky_ops,
				 e->dev, NULL);
	if (!rc)
		rc = nvmft_subsystem_add_ns(e->t.ss, &no, NULL, ns_added, e);
	if (rc)
		ns_added(e, rc);
}

static int group_setup(void **state, enum nvmft_engine engine)
{
	struct env *e = calloc(1, sizeof(*e));
	uint64_t end;
	int rc;

	if (!e)
		return -1;
	*state = e;
	rc = tt_target_start(&e->t, engine, NULL);
	if (rc)
		return rc;
	rc = nvmft_runtime_exec(e->t.rt, 0, add_flaky_step, e);
	end = tt_now_ms() + TT_WAIT_MS;
	while (!rc && !atomic_load(&e->done) && tt_now_ms() < end)
		tt_sleep_ms(1);
	return rc ? rc : atomic_load(&e->done) ? e->rc : -ETIMEDOUT;
}

static int setup_uring(void **state) { return group_setup(state, NVMFT_ENGINE_URING); }
static int setup_epoll(void **state) { return group_setup(state, NVMFT_ENGINE_EPOLL); }

static int group_teardown(void **state)
{
	struct env *e = *state;

	tt_target_stop(&e->t);	/* the registry frees the device */
	free(e);
	return 0;
}

static void inject(struct env *e, int fault, unsigned int types, unsigned int every)
{
	atomic_store(&e->dev->types, types);
	atomic_store(&e->dev->every, every ? every : 1);
	atomic_store(&e->dev->seen, 0);
	atomic_store(&e->dev->fault, fault);
}

#define W	(1u << NVMFT_IO_WRITE)
#define R	(1u << NVMFT_IO_READ)

static struct nvmft_host_ctrlr *host(struct env *e, uint16_t nr_io)
{
	struct nvmft_host_opts ho;
	struct nvmft_host_ctrlr *c = NULL;

	tt_host_opts(&e->t, &ho);
	ho.num_io_queues = nr_io;
	assert_int_equal(nvmft_host_ctrlr_connect(&ho, &c), 0);
	return c;
}

/* The status without DNR / More. */
static int sc_of(int rc)
{
	return rc > 0 ? rc & ~(NVMFT_STATUS_DNR | NVMFT_STATUS_MORE) : rc;
}

/* ---- tests -------------------------------------------------------------------- */

static void test_faults_get_their_status_and_the_queue_recovers(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = host(e, 1);
	struct nvmft_host_qpair *qp = nvmft_host_ctrlr_io_qpair(c, 0);
	uint8_t a[8192], b[8192], r[8192];
	int rc;

	tt_fill(a, sizeof(a), 11);
	tt_fill(b, sizeof(b), 12);
	assert_int_equal(nvmft_host_write(qp, FLAKY_NSID, 0, 16, a, sizeof(a), false), 0);

	/* a failing write: Write Fault, retryable (no DNR) */
	inject(e, -EIO, W, 1);
	rc = nvmft_host_write(qp, FLAKY_NSID, 0, 16, b, sizeof(b), false);
	assert_int_equal(sc_of(rc), NVMFT_STATUS(NVME_SCT_MEDIA, NVME_SC_WRITE_FAULT));
	/* reads still work and see the acknowledged data */
	assert_int_equal(nvmft_host_read(qp, FLAKY_NSID, 0, 16, r, sizeof(r)), 0);
	assert_memory_equal(a, r, sizeof(r));

	/* a full device: Capacity Exceeded, do not retry */
	inject(e, -ENOSPC, W, 1);
	rc = nvmft_host_write(qp, FLAKY_NSID, 0, 16, b, sizeof(b), false);
	assert_int_equal(sc_of(rc), NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_CAP_EXCEEDED));
	assert_true(rc & NVMFT_STATUS_DNR);

	/* an unreadable medium: Unrecovered Read Error */
	inject(e, -EIO, R, 1);
	rc = nvmft_host_read(qp, FLAKY_NSID, 0, 16, r, sizeof(r));
	assert_int_equal(sc_of(rc), NVMFT_STATUS(NVME_SCT_MEDIA, NVME_SC_READ_ERROR));

	/* a transient failure: Command Interrupted, no DNR, the retry works */
	inject(e, -EAGAIN, W, 1);
	rc = nvmft_host_write(qp, FLAKY_NSID, 0, 16, b, sizeof(b), false);
	assert_int_equal(sc_of(rc), NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_CMD_INTERRUPTED));
	assert_false(rc & NVMFT_STATUS_DNR);
	inject(e, 0, 0, 1);
	assert_int_equal(nvmft_host_write(qp, FLAKY_NSID, 0, 16, b, sizeof(b), false), 0);
	assert_int_equal(nvmft_host_read(qp, FLAKY_NSID, 0, 16, r, sizeof(r)), 0);
	assert_memory_equal(b, r, sizeof(r));
	/* the other namespace never noticed */
	hh_verify(qp, 0, 65536, 13);
	nvmft_host_ctrlr_disconnect(c);
	hh_wait_target_empty(&e->t);
	hh_assert_normal_host_served(&e->t);
}

/* What the host may rely on for a block: the seed of the last write it
 * saw acknowledged, or nothing (a failed write leaves it undefined). */
#define UNKNOWN		0

static void block_fill(uint8_t *p, uint32_t seed, uint64_t lba)
{
	tt_fill(p, FLAKY_BS, seed * 7919u + (uint32_t)lba);
}

static void test_no_acknowledged_write_is_lost(void **state)
{
	struct env *e = *state;
	enum { OPS = 400, MAX_NLB = 64 };
	struct nvmft_host_ctrlr *c = host(e, 2);
	static uint32_t shadow[FLAKY_BLOCKS];
	static uint8_t buf[MAX_NLB * FLAKY_BS], want[FLAKY_BS];
	unsigned int rng = 12345, acked = 0, failed = 0;
	uint32_t seed = 1;

	memset(shadow, 0, sizeof(shadow));
	for (int i = 0; i < OPS; i++) {
		struct nvmft_host_qpair *qp = nvmft_host_ctrlr_io_qpair(c, (unsigned int)i & 1);
		uint32_t nlb = 1 + (rng = rng * 1103515245u + 12345u) / 65536 % MAX_NLB;
		uint64_t lba = (rng = rng * 1103515245u + 12345u) / 65536 %
			       (FLAKY_BLOCKS - nlb + 1);
		bool write = (rng / 65536) & 1;
		int rc;

		/* faults come and go: every third I/O fails while on */
		if (i % 50 == 0)
			inject(e, (i / 50) % 2 ? -EIO : 0, W | R, 3);
		if (write) {
			seed++;
			for (uint32_t k = 0; k < nlb; k++)
				block_fill(buf + k * FLAKY_BS, seed, lba + k);
			rc = nvmft_host_write(qp, FLAKY_NSID, lba, nlb, buf,
					      nlb * FLAKY_BS, false);
			assert_true(rc == 0 || sc_of(rc) ==
				    NVMFT_STATUS(NVME_SCT_MEDIA, NVME_SC_WRITE_FAULT));
			for (uint32_t k = 0; k < nlb; k++)
				shadow[lba + k] = rc == 0 ? seed : UNKNOWN;
			if (rc == 0)
				acked++;
			else
				failed++;
			continue;
		}
		rc = nvmft_host_read(qp, FLAKY_NSID, lba, nlb, buf, nlb * FLAKY_BS);
		assert_true(rc == 0 || sc_of(rc) ==
			    NVMFT_STATUS(NVME_SCT_MEDIA, NVME_SC_READ_ERROR));
		for (uint32_t k = 0; rc == 0 && k < nlb; k++) {
			if (shadow[lba + k] == UNKNOWN)
				continue;
			block_fill(want, shadow[lba + k], lba + k);
			assert_memory_equal(buf + k * FLAKY_BS, want, FLAKY_BS);
		}
	}
	/* healed, same connection: everything acknowledged reads back */
	inject(e, 0, 0, 1);
	for (uint64_t lba = 0; lba < FLAKY_BLOCKS; lba += MAX_NLB) {
		assert_int_equal(nvmft_host_read(nvmft_host_ctrlr_io_qpair(c, 0),
						 FLAKY_NSID, lba, MAX_NLB, buf,
						 sizeof(buf)), 0);
		for (uint32_t k = 0; k < MAX_NLB; k++) {
			if (shadow[lba + k] == UNKNOWN)
				continue;
			block_fill(want, shadow[lba + k], lba + k);
			assert_memory_equal(buf + k * FLAKY_BS, want, FLAKY_BS);
		}
	}
	printf("note: %u writes acknowledged, %u failed, %lu faults injected\n",
	       acked, failed, (unsigned long)atomic_load(&e->dev->injected));
	assert_true(acked > 0 && failed > 0);
	nvmft_host_ctrlr_disconnect(c);
	hh_wait_target_empty(&e->t);
	hh_assert_normal_host_served(&e->t);
}

#define BACKEND_TESTS							\
	cmocka_unit_test(test_faults_get_their_status_and_the_queue_recovers), \
	cmocka_unit_test(test_no_acknowledged_write_is_lost)

int main(void)
{
	const struct CMUnitTest tests[] = { BACKEND_TESTS };
	int fails = 0;

	/* io_uring may be blocked (containers): then only epoll runs. */
	if (tt_engine_usable(NVMFT_ENGINE_URING))
		fails += cmocka_run_group_tests_name("hostile_backend_uring", tests,
						     setup_uring, group_teardown);
	else
		printf("note: io_uring unavailable, uring group not run\n");
	fails += cmocka_run_group_tests_name("hostile_backend_epoll", tests,
					     setup_epoll, group_teardown);
	return fails ? 1 : 0;
}
