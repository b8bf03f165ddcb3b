/* SPDX-License-Identifier: MIT */
/*
 * I/O command handlers (io.c) on malloc bdevs and on "wc", a small test
 * backend with a volatile write cache that records the flags of the last
 * write, run through nvmf_req_exec() on a hand-built controller.
 */
#include <nvmft/bdev_module.h>

#include "test_nvmf_cmd_harness.h"

#define BS		512
#define NBLOCKS		1024

#define ST_INVALID_FIELD	TH_ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD)
#define ST_INVALID_NS		TH_ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_NS)
#define ST_INVALID_OPCODE	TH_ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE)
#define ST_SGL_LENGTH		TH_ST_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA)
#define ST_LBA_RANGE		TH_ST_DNR(NVME_SCT_GENERIC, NVME_SC_LBA_RANGE)
#define ST_FUSED_FAIL		TH_ST(NVME_SCT_GENERIC, NVME_SC_FUSED_FAIL)
#define ST_COMPARE_FAILED	TH_ST(NVME_SCT_MEDIA, NVME_SC_COMPARE_FAILED)

static uint8_t wbuf[TH_MAX_IO + 4096];
static uint8_t rbuf[TH_MAX_IO + 4096];

/* --- "wc" backend: RAM with a write cache, records write flags ---------- */

struct wc_dev {
	uint8_t *data;
	_Atomic uint32_t last_write_flags;
	_Atomic uint32_t writes;
	_Atomic uint32_t flushes;
};

static int wc_chan_create(void *bdev_ctx, void *chan_ctx)
{
	(void)bdev_ctx;
	(void)chan_ctx;
	return 0;
}

static void wc_chan_destroy(void *bdev_ctx, void *chan_ctx)
{
	(void)bdev_ctx;
	(void)chan_ctx;
}

static void wc_copy(struct nvmft_bdev_io *io, uint8_t *p, bool to_dev)
{
	for (int i = 0; i < io->iovcnt; i++) {
		if (to_dev)
			memcpy(p, io->iov[i].iov_base, io->iov[i].iov_len);
		else
			memcpy(io->iov[i].iov_base, p, io->iov[i].iov_len);
		p += io->iov[i].iov_len;
	}
}

static int wc_submit(void *chan_ctx, struct nvmft_bdev_io *io)
{
	struct wc_dev *d = nvmft_bdev_get_ctx(nvmft_bdev_io_get_bdev(io));
	uint8_t *p = d->data + io->offset_blocks * BS;

	(void)chan_ctx;
	switch (io->type) {
	case NVMFT_IO_READ:
		wc_copy(io, p, false);
		break;
	case NVMFT_IO_WRITE:
		wc_copy(io, p, true);
		atomic_store(&d->last_write_flags, io->flags);
		atomic_fetch_add(&d->writes, 1);
		break;
	case NVMFT_IO_FLUSH:
		atomic_fetch_add(&d->flushes, 1);
		break;
	default:
		nvmft_bdev_io_complete(io, -EOPNOTSUPP);
		return 0;
	}
	nvmft_bdev_io_complete(io, 0);
	return 0;
}

static bool wc_supports(void *bdev_ctx, enum nvmft_io_type t)
{
	(void)bdev_ctx;
	return t == NVMFT_IO_READ || t == NVMFT_IO_WRITE || t == NVMFT_IO_FLUSH;
}

static void wc_destroy(void *bdev_ctx, void (*done)(void *arg), void *arg)
{
	struct wc_dev *d = bdev_ctx;

	free(d->data);
	free(d);
	done(arg);
}

static const struct nvmft_bdev_ops wc_ops = {
	.name = "wc",
	.channel_create = wc_chan_create,
	.channel_destroy = wc_chan_destroy,
	.submit = wc_submit,
	.supports = wc_supports,
	.destroy = wc_destroy,
};

struct wc_reg {
	struct th *h;
	struct wc_dev *dev;
	int rc;
};

static void wc_register_fn(void *arg)
{
	struct wc_reg *w = arg;
	struct nvmft_bdev_props p = {
		.name = "wc0", .block_size = BS, .num_blocks = NBLOCKS,
		.write_cache = true,
	};

	w->dev = calloc(1, sizeof(*w->dev));
	w->dev->data = calloc(NBLOCKS, BS);
	w->rc = nvmft_bdev_register(w->h->reg, &p, &wc_ops, w->dev, NULL);
}

static struct wc_dev *add_wc_ns(struct th *h, uint32_t nsid)
{
	struct wc_reg w = { .h = h };

	th_run(h, wc_register_fn, &w);
	assert_int_equal(w.rc, 0);
	th_attach_ns(h, nsid, "wc0");
	return w.dev;
}

/* --- helpers ------------------------------------------------------------- */

static void rw_init(struct th_req *r, struct th *h, uint8_t opc, uint32_t nsid,
		    uint64_t slba, uint32_t nlb, void *data, uint32_t len)
{
	th_req_init(r, &h->ioq, opc, nsid, data, len);
	r->req.cmd.cdw10 = (uint32_t)slba;
	r->req.cmd.cdw11 = (uint32_t)(slba >> 32);
	r->req.cmd.cdw12 = (nlb - 1) & 0xffff;
}

static uint16_t io_cmd(struct th *h, uint8_t opc, uint32_t nsid, uint64_t slba,
		       uint32_t nlb, uint32_t cdw12_flags, void *data, uint32_t len)
{
	struct th_req r;

	rw_init(&r, h, opc, nsid, slba, nlb, data, len);
	r.req.cmd.cdw12 |= cdw12_flags;
	return th_exec(h, &r);
}

static uint16_t wr(struct th *h, uint64_t slba, uint32_t nlb, uint8_t pattern)
{
	memset(wbuf, pattern, (size_t)nlb * BS);
	return io_cmd(h, nvme_cmd_write, 1, slba, nlb, 0, wbuf, nlb * BS);
}

static uint16_t rd(struct th *h, uint64_t slba, uint32_t nlb)
{
	memset(rbuf, 0x5a, (size_t)nlb * BS);
	return io_cmd(h, nvme_cmd_read, 1, slba, nlb, 0, rbuf, nlb * BS);
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	while (n--)
		if (*p++ != v)
			return false;
	return true;
}

static int setup_malloc(void **state)
{
	struct th *h;

	th_setup(state);
	h = *state;
	th_add_ns(h, 1, "m1", NBLOCKS, BS, false);
	return 0;
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_malloc, th_teardown)

/* --- Read / Write -------------------------------------------------------- */

static void test_write_then_read_back(void **state)
{
	struct th *h = *state;
	struct th_req r;

	assert_int_equal(wr(h, 10, 8, 0xc3), 0);
	assert_int_equal(rd(h, 10, 8), 0);
	assert_true(all_bytes(rbuf, 8 * BS, 0xc3));
	/* scattered over two iovecs, both directions */
	memset(wbuf, 0x3c, 4 * BS);
	rw_init(&r, h, nvme_cmd_write, 1, 100, 4, wbuf, 4 * BS);
	th_req_split(&r, 700);
	assert_int_equal(th_exec(h, &r), 0);
	memset(rbuf, 0, 4 * BS);
	rw_init(&r, h, nvme_cmd_read, 1, 100, 4, rbuf, 4 * BS);
	th_req_split(&r, 1300);
	assert_int_equal(th_exec(h, &r), 0);
	assert_true(all_bytes(rbuf, 4 * BS, 0x3c));
}

static void test_inactive_or_invalid_nsid(void **state)
{
	struct th *h = *state;

	assert_int_equal(io_cmd(h, nvme_cmd_read, 2, 0, 1, 0, rbuf, BS), ST_INVALID_NS);
	assert_int_equal(io_cmd(h, nvme_cmd_read, 0, 0, 1, 0, rbuf, BS), ST_INVALID_NS);
	assert_int_equal(io_cmd(h, nvme_cmd_write, TH_MAX_NS + 1, 0, 1, 0, wbuf, BS),
			 ST_INVALID_NS);
	/* broadcast flush is not supported (VWC flush bits 10b) */
	assert_int_equal(io_cmd(h, nvme_cmd_flush, NVME_NSID_ALL, 0, 1, 0, NULL, 0),
			 ST_INVALID_NS);
}

static void test_lba_out_of_range(void **state)
{
	struct th *h = *state;

	assert_int_equal(io_cmd(h, nvme_cmd_read, 1, NBLOCKS - 1, 2, 0, rbuf, 2 * BS),
			 ST_LBA_RANGE);
	assert_int_equal(io_cmd(h, nvme_cmd_write, 1, NBLOCKS, 1, 0, wbuf, BS),
			 ST_LBA_RANGE);
	/* SLBA + NLB wrapping around 2^64 */
	assert_int_equal(io_cmd(h, nvme_cmd_read, 1, UINT64_MAX, 2, 0, rbuf, 2 * BS),
			 ST_LBA_RANGE);
	/* the last block is fine */
	assert_int_equal(io_cmd(h, nvme_cmd_read, 1, NBLOCKS - 1, 1, 0, rbuf, BS), 0);
}

static void test_length_mdts_and_direction(void **state)
{
	struct th *h = *state;
	struct th_req r;
	uint32_t over = TH_MAX_IO / BS + 1;

	/* NLB * 512 != SGL length */
	assert_int_equal(io_cmd(h, nvme_cmd_read, 1, 0, 2, 0, rbuf, BS), ST_SGL_LENGTH);
	assert_int_equal(io_cmd(h, nvme_cmd_write, 1, 0, 1, 0, wbuf, 2 * BS),
			 ST_SGL_LENGTH);
	/* beyond MDTS even though the data length matches */
	assert_int_equal(io_cmd(h, nvme_cmd_read, 1, 0, over, 0, rbuf, over * BS),
			 ST_INVALID_FIELD);
	/* exactly MDTS */
	assert_int_equal(io_cmd(h, nvme_cmd_read, 1, 0, TH_MAX_IO / BS, 0, rbuf,
				TH_MAX_IO), 0);
	/* data flowing the wrong way */
	rw_init(&r, h, nvme_cmd_read, 1, 0, 1, rbuf, BS);
	r.req.xfer = NVMF_XFER_H2C;
	assert_int_equal(th_exec(h, &r), ST_INVALID_FIELD);
}

static void test_unsupported_io_opcodes(void **state)
{
	struct th *h = *state;

	assert_int_equal(io_cmd(h, nvme_cmd_resv_register, 1, 0, 1, 0, NULL, 0),
			 ST_INVALID_OPCODE);
	assert_int_equal(io_cmd(h, nvme_cmd_resv_report, 1, 0, 1, 0, NULL, 0),
			 ST_INVALID_OPCODE);
	assert_int_equal(io_cmd(h, nvme_cmd_resv_acquire, 1, 0, 1, 0, NULL, 0),
			 ST_INVALID_OPCODE);
	assert_int_equal(io_cmd(h, nvme_cmd_resv_release, 1, 0, 1, 0, NULL, 0),
			 ST_INVALID_OPCODE);
	assert_int_equal(io_cmd(h, nvme_cmd_write_uncor, 1, 0, 1, 0, NULL, 0),
			 ST_INVALID_OPCODE);
	assert_int_equal(io_cmd(h, nvme_cmd_copy, 1, 0, 1, 0, NULL, 0),
			 ST_INVALID_OPCODE);
}

static void test_flush(void **state)
{
	struct th *h = *state;

	assert_int_equal(io_cmd(h, nvme_cmd_flush, 1, 0, 1, 0, NULL, 0), 0);
	assert_int_equal(io_cmd(h, nvme_cmd_flush, 3, 0, 1, 0, NULL, 0), ST_INVALID_NS);
}

/* --- Write Zeroes -------------------------------------------------------- */

static void test_write_zeroes(void **state)
{
	struct th *h = *state;

	assert_int_equal(wr(h, 0, 64, 0xee), 0);
	assert_int_equal(io_cmd(h, nvme_cmd_write_zeroes, 1, 8, 8, 0, NULL, 0), 0);
	/* with DEAC: deallocated blocks of a malloc bdev read as zeroes */
	assert_int_equal(io_cmd(h, nvme_cmd_write_zeroes, 1, 32, 4, 1u << 25, NULL, 0), 0);
	assert_int_equal(rd(h, 0, 64), 0);
	assert_true(all_bytes(rbuf, 8 * BS, 0xee));
	assert_true(all_bytes(rbuf + 8 * BS, 8 * BS, 0));
	assert_true(all_bytes(rbuf + 16 * BS, 16 * BS, 0xee));
	assert_true(all_bytes(rbuf + 32 * BS, 4 * BS, 0));
	assert_true(all_bytes(rbuf + 36 * BS, 28 * BS, 0xee));
	assert_int_equal(io_cmd(h, nvme_cmd_write_zeroes, 1, NBLOCKS - 2, 4, 0, NULL, 0),
			 ST_LBA_RANGE);
}

/* --- Dataset Management -------------------------------------------------- */

static uint16_t dsm(struct th *h, uint32_t attrs, const struct nvme_dsm_range *rg,
		    uint32_t nr, uint32_t len)
{
	struct th_req r;
	static uint8_t rb[256 * 16];

	memcpy(rb, rg, (size_t)nr * sizeof(*rg));
	th_req_init(&r, &h->ioq, nvme_cmd_dsm, 1, rb, len);
	r.req.cmd.cdw10 = nr - 1;
	r.req.cmd.cdw11 = attrs;
	if (len > 40)
		th_req_split(&r, 40);	/* a range straddles the two iovecs */
	return th_exec(h, &r);
}

static void test_dsm_deallocates_each_range(void **state)
{
	struct th *h = *state;
	struct nvme_dsm_range rg[4] = {
		{ .slba = 0, .nlb = 2 },
		{ .slba = 10, .nlb = 0 },	/* empty: skipped */
		{ .slba = 20, .nlb = 3 },
		{ .slba = 60, .nlb = 4 },
	};

	assert_int_equal(wr(h, 0, 64, 0x77), 0);
	assert_int_equal(dsm(h, NVME_DSMGMT_AD, rg, 4, 4 * 16), 0);
	assert_int_equal(rd(h, 0, 64), 0);
	assert_true(all_bytes(rbuf, 2 * BS, 0));
	assert_true(all_bytes(rbuf + 2 * BS, 18 * BS, 0x77));
	assert_true(all_bytes(rbuf + 20 * BS, 3 * BS, 0));
	assert_true(all_bytes(rbuf + 23 * BS, 37 * BS, 0x77));
	assert_true(all_bytes(rbuf + 60 * BS, 4 * BS, 0));
}

static void test_dsm_bad_range_touches_nothing(void **state)
{
	struct th *h = *state;
	struct nvme_dsm_range rg[2] = {
		{ .slba = 0, .nlb = 8 },
		{ .slba = NBLOCKS - 1, .nlb = 2 },
	};

	assert_int_equal(wr(h, 0, 8, 0x11), 0);
	assert_int_equal(dsm(h, NVME_DSMGMT_AD, rg, 2, 2 * 16), ST_LBA_RANGE);
	assert_int_equal(rd(h, 0, 8), 0);
	assert_true(all_bytes(rbuf, 8 * BS, 0x11));
}

static void test_dsm_hints_only_and_short_buffer(void **state)
{
	struct th *h = *state;
	struct nvme_dsm_range rg[2] = { { .slba = 0, .nlb = 8 }, { .slba = 8, .nlb = 8 } };

	assert_int_equal(wr(h, 0, 16, 0x22), 0);
	/* IDR | IDW without AD: a hint, nothing deallocated */
	assert_int_equal(dsm(h, NVME_DSMGMT_IDR | NVME_DSMGMT_IDW, rg, 2, 32), 0);
	assert_int_equal(rd(h, 0, 16), 0);
	assert_true(all_bytes(rbuf, 16 * BS, 0x22));
	/* 2 ranges announced, 1 sent */
	assert_int_equal(dsm(h, NVME_DSMGMT_AD, rg, 2, 16), ST_SGL_LENGTH);
}

static void test_dsm_256_ranges(void **state)
{
	struct th *h = *state;
	static struct nvme_dsm_range rg[256];
	int i;

	assert_int_equal(wr(h, 0, 256, 0x44), 0);
	for (i = 0; i < 256; i++) {
		rg[i].slba = (uint64_t)i * 2;	/* every other block up to 512 */
		rg[i].nlb = 1;
	}
	assert_int_equal(dsm(h, NVME_DSMGMT_AD, rg, 256, 256 * 16), 0);
	assert_int_equal(rd(h, 0, 256), 0);
	for (i = 0; i < 256; i++)
		assert_true(all_bytes(rbuf + (size_t)i * BS, BS, i % 2 ? 0x44 : 0));
}

/* --- Compare, fused Compare and Write ------------------------------------ */

static void test_compare(void **state)
{
	struct th *h = *state;

	assert_int_equal(wr(h, 5, 2, 0x9a), 0);
	memset(wbuf, 0x9a, 2 * BS);
	assert_int_equal(io_cmd(h, nvme_cmd_compare, 1, 5, 2, 0, wbuf, 2 * BS), 0);
	wbuf[BS + 17] ^= 1;
	assert_int_equal(io_cmd(h, nvme_cmd_compare, 1, 5, 2, 0, wbuf, 2 * BS),
			 ST_COMPARE_FAILED);
}

static uint8_t cmp_buf[4 * BS], new_buf[4 * BS];

struct fused {
	struct th_req first, second;
};

static void fused_exec_fn(void *arg)
{
	struct fused *f = arg;

	nvmf_req_exec(&f->first.req);
	nvmf_req_exec(&f->second.req);
}

static void fused_run(struct th *h, struct fused *f, uint64_t slba, uint32_t nlb,
		      uint8_t expect, uint8_t newval)
{
	memset(cmp_buf, expect, sizeof(cmp_buf));
	memset(new_buf, newval, sizeof(new_buf));
	rw_init(&f->first, h, nvme_cmd_compare, 1, slba, nlb, cmp_buf, nlb * BS);
	f->first.req.cmd.flags |= NVMFT_SQE_FUSE_FIRST;
	f->first.req.cmd.cid = 1;
	rw_init(&f->second, h, nvme_cmd_write, 1, slba, nlb, new_buf, nlb * BS);
	f->second.req.cmd.flags |= NVMFT_SQE_FUSE_SECOND;
	f->second.req.cmd.cid = 2;
	th_run(h, fused_exec_fn, f);
}

static void test_fused_compare_and_write_success(void **state)
{
	struct th *h = *state;
	struct fused f;

	assert_int_equal(wr(h, 40, 4, 0x61), 0);
	fused_run(h, &f, 40, 4, 0x61, 0x62);
	assert_int_equal(th_wait(h, &f.first), 0);
	assert_int_equal(th_wait(h, &f.second), 0);
	assert_int_equal(rd(h, 40, 4), 0);
	assert_true(all_bytes(rbuf, 4 * BS, 0x62));
}

static void test_fused_compare_failure_skips_write(void **state)
{
	struct th *h = *state;
	struct fused f;

	assert_int_equal(wr(h, 40, 4, 0x61), 0);
	fused_run(h, &f, 40, 4, 0x60, 0x62);
	assert_int_equal(th_wait(h, &f.first), ST_COMPARE_FAILED);
	assert_int_equal(th_wait(h, &f.second), ST_FUSED_FAIL);
	assert_int_equal(rd(h, 40, 4), 0);
	assert_true(all_bytes(rbuf, 4 * BS, 0x61));
}

static void test_fused_out_of_range_fails_both(void **state)
{
	struct th *h = *state;
	struct fused f;

	fused_run(h, &f, NBLOCKS - 1, 2, 0, 1);
	assert_int_equal(th_wait(h, &f.first), ST_LBA_RANGE);
	assert_int_equal(th_wait(h, &f.second), ST_FUSED_FAIL);
}

/* --- SMART counters ------------------------------------------------------ */

static uint16_t smart(struct th *h, struct nvme_smart_log *log)
{
	struct th_req r;
	uint16_t s;

	th_req_init(&r, &h->aq, nvme_admin_get_log_page, NVME_NSID_ALL, log,
		    sizeof(*log));
	r.req.cmd.cdw10 = NVME_LOG_LID_SMART | (uint32_t)(sizeof(*log) / 4 - 1) << 16;
	s = th_exec(h, &r);
	return s;
}

static uint64_t u128_lo(const uint8_t v[16])
{
	uint64_t x;

	memcpy(&x, v, sizeof(x));
	return x;
}

static void test_smart_counts_successful_io(void **state)
{
	struct th *h = *state;
	struct nvme_smart_log log;
	int i;

	/* 3 writes of 256 blocks (MDTS): 768 units of 512 bytes */
	for (i = 0; i < 3; i++)
		assert_int_equal(io_cmd(h, nvme_cmd_write, 1, 0, 256, 0, wbuf, 256 * BS), 0);
	assert_int_equal(rd(h, 0, 8), 0);
	assert_int_equal(rd(h, 8, 8), 0);
	/* failures count for nothing */
	assert_int_equal(io_cmd(h, nvme_cmd_read, 1, NBLOCKS, 1, 0, rbuf, BS), ST_LBA_RANGE);
	assert_int_equal(smart(h, &log), 0);
	assert_int_equal(u128_lo(log.host_writes), 3);
	assert_int_equal(u128_lo(log.host_reads), 2);
	assert_int_equal(u128_lo(log.data_units_written), 1);	/* 768 → 1 */
	assert_int_equal(u128_lo(log.data_units_read), 1);	/* 16 → 1 */
	assert_int_equal(log.avail_spare, 100);
	/* 1000 more 512-byte units of reads: 1016 → 2 */
	for (i = 0; i < 125; i++)
		assert_int_equal(rd(h, 0, 8), 0);
	assert_int_equal(smart(h, &log), 0);
	assert_int_equal(u128_lo(log.host_reads), 127);
	assert_int_equal(u128_lo(log.data_units_read), 2);
}

/* --- volatile write cache ------------------------------------------------ */

static void test_fua_and_write_cache_feature(void **state)
{
	struct th *h = *state;
	struct nvme_id_ctrl *id = (struct nvme_id_ctrl *)rbuf;
	struct wc_dev *d;
	struct th_req r;
	uint32_t res = 0;

	d = add_wc_ns(h, 2);
	assert_int_equal(th_admin(h, nvme_admin_identify, 0, NVME_IDENTIFY_CNS_CTRL, 0,
				  rbuf, 4096, NULL), 0);
	assert_int_equal(id->vwc, NVME_CTRL_VWC_PRESENT | (2 << 1));

	memset(wbuf, 1, BS);
	assert_int_equal(io_cmd(h, nvme_cmd_write, 2, 0, 1, 0, wbuf, BS), 0);
	assert_int_equal(atomic_load(&d->last_write_flags), 0);
	assert_int_equal(io_cmd(h, nvme_cmd_write, 2, 0, 1, 1u << 30, wbuf, BS), 0);
	assert_int_equal(atomic_load(&d->last_write_flags), NVMFT_IO_FLAG_FUA);
	assert_int_equal(io_cmd(h, nvme_cmd_flush, 2, 0, 1, 0, NULL, 0), 0);
	assert_int_equal(atomic_load(&d->flushes), 1);

	/* cache on by default; turned off, every write goes out FUA */
	assert_int_equal(th_admin(h, nvme_admin_get_features, 0, NVME_FEAT_FID_VOLATILE_WC,
				  0, NULL, 0, &res), 0);
	assert_int_equal(res, 1);
	assert_int_equal(th_admin(h, nvme_admin_set_features, 0, NVME_FEAT_FID_VOLATILE_WC,
				  0, NULL, 0, NULL), 0);
	assert_int_equal(th_admin(h, nvme_admin_get_features, 0, NVME_FEAT_FID_VOLATILE_WC,
				  0, NULL, 0, &res), 0);
	assert_int_equal(res, 0);
	rw_init(&r, h, nvme_cmd_write, 2, 3, 1, wbuf, BS);
	assert_int_equal(th_exec(h, &r), 0);
	assert_int_equal(atomic_load(&d->last_write_flags), NVMFT_IO_FLAG_FUA);
	assert_int_equal(atomic_load(&d->writes), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_write_then_read_back),
		T(test_inactive_or_invalid_nsid),
		T(test_lba_out_of_range),
		T(test_length_mdts_and_direction),
		T(test_unsupported_io_opcodes),
		T(test_flush),
		T(test_write_zeroes),
		T(test_dsm_deallocates_each_range),
		T(test_dsm_bad_range_touches_nothing),
		T(test_dsm_hints_only_and_short_buffer),
		T(test_dsm_256_ranges),
		T(test_compare),
		T(test_fused_compare_and_write_success),
		T(test_fused_compare_failure_skips_write),
		T(test_fused_out_of_range_fails_both),
		T(test_smart_counts_successful_io),
		T(test_fua_and_write_cache_feature),
	};

	return cmocka_run_group_tests_name("nvmf_io", tests, NULL, NULL);
}
