/* SPDX-License-Identifier: MIT */
/*
 * NVM I/O commands (qid >= 1): Read, Write, Compare, Flush, Write Zeroes,
 * Dataset Management, and fused Compare and Write.
 *
 * Runs on the qpair's reactor with no lock: the namespace and its bdev
 * channel come from the reactor's sgroup (nvmf_sgroup_io_begin()), which
 * also keeps the namespace alive while the command is in flight. SMART
 * counters are kept by nvmf_req_complete(), not here.
 *
 * Reservations (ONCS bit 5 clear) and every other opcode complete with
 * Invalid Opcode.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "nvmf/nvmf_internal.h"

#define RW_FUA		(1u << 30)	/* cdw12 */
#define WZ_DEAC		(1u << 25)	/* cdw12 */
#define DSM_MAX_RANGES	256

/* core_state bits while DSM submits ranges one after the other. */
#define DSM_IN_SUBMIT	0x1u
#define DSM_DONE_INLINE	0x2u
#define DSM_STATUS_SHIFT 16

static uint16_t st(uint8_t sct, uint8_t sc)
{
	return NVMFT_STATUS(sct, sc) | NVMFT_STATUS_DNR;
}

#define ST_INVALID_FIELD	st(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD)
#define ST_LBA_RANGE		st(NVME_SCT_GENERIC, NVME_SC_LBA_RANGE)
#define ST_SGL_LENGTH		st(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA)
#define ST_FUSED_FAIL		NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_FUSED_FAIL)

static uint64_t cmd_slba(const struct nvmf_req *req)
{
	return (uint64_t)req->cmd.cdw11 << 32 | req->cmd.cdw10;
}

static uint32_t cmd_nlb(const struct nvmf_req *req)
{
	return (req->cmd.cdw12 & 0xffff) + 1;	/* 0's based */
}

static bool range_ok(const struct nvmf_ns *ns, uint64_t slba, uint64_t nlb)
{
	uint64_t size = nvmf_ns_num_blocks(ns);

	return slba < size && nlb <= size - slba;
}

/* Status of a submission the bdev layer refused outright. */
static uint16_t submit_status(int rc)
{
	switch (rc) {
	case -EINVAL:	/* range: the namespace shrank under us */
		return ST_LBA_RANGE;
	case -EBADF:
		return st(NVME_SCT_GENERIC, NVME_SC_NS_WRITE_PROTECTED);
	case -ENODEV:	/* bdev removed; the namespace is about to go */
		return NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY);
	default:
		return NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL);
	}
}

/* End of a counted request: leave the sgroup first, req is recycled after. */
static void io_finish(struct nvmf_req *req, uint16_t status)
{
	nvmf_sgroup_io_end(req);
	nvmf_cmd_done(req, status);
}

static void io_done(struct nvmft_bdev_io *io, uint16_t status, void *arg)
{
	(void)io;
	io_finish(arg, status);
}

static struct nvmft_bdev_io *io_prep(struct nvmf_req *req,
				     enum nvmft_io_type type, uint32_t flags,
				     uint64_t slba, uint64_t nlb, bool data,
				     nvmft_bdev_io_cb cb, void *arg)
{
	struct nvmft_bdev_io *io = &req->bdev_io;

	io->type = type;
	io->flags = flags;
	io->offset_blocks = slba;
	io->num_blocks = nlb;
	io->iov = data ? req->iov : NULL;
	io->iovcnt = data ? req->iovcnt : 0;
	io->cb = cb;
	io->cb_arg = arg;
	io->lock_owner = NULL;
	return io;
}

static int io_submit(struct nvmf_req *req, struct nvmf_sgroup_ns *sns,
		     enum nvmft_io_type type, uint32_t flags, uint64_t slba,
		     uint64_t nlb, bool data, nvmft_bdev_io_cb cb, void *arg)
{
	struct nvmft_bdev_io *io = io_prep(req, type, flags, slba, nlb, data,
					   cb, arg);

	return nvmft_bdev_submit(sns->ns->desc, sns->ch, io);
}

/*
 * Checks of a data-moving command (Read, Write, Compare) in the order the
 * host is told about them: range, transfer limit (MDTS), then the length
 * of the data the host sent or expects.
 */
static uint16_t rw_check(struct nvmf_req *req, const struct nvmf_ns *ns)
{
	const struct nvmf_transport *t = req->qpair->transport;
	uint64_t bytes = (uint64_t)cmd_nlb(req) * ns->block_size;

	if (!range_ok(ns, cmd_slba(req), cmd_nlb(req)))
		return ST_LBA_RANGE;
	if (t && t->opts.max_io_size && bytes > t->opts.max_io_size)
		return ST_INVALID_FIELD;
	if (bytes != req->length)
		return ST_SGL_LENGTH;
	return 0;
}

static uint32_t write_flags(struct nvmf_req *req)
{
	/* With the volatile write cache turned off every write is FUA. */
	if ((req->cmd.cdw12 & RW_FUA) ||
	    !nvmf_ctrlr_write_cache_enabled(req->qpair->ctrlr))
		return NVMFT_IO_FLAG_FUA;
	return 0;
}

static void io_rw(struct nvmf_req *req, struct nvmf_sgroup_ns *sns,
		  enum nvmft_io_type type)
{
	uint16_t s = rw_check(req, sns->ns);
	uint32_t flags = type == NVMFT_IO_WRITE ? write_flags(req) : 0;
	int rc;

	if (s) {
		io_finish(req, s);
		return;
	}
	rc = io_submit(req, sns, type, flags, cmd_slba(req), cmd_nlb(req),
		       true, io_done, req);
	if (rc)
		io_finish(req, submit_status(rc));
}

static void io_flush(struct nvmf_req *req, struct nvmf_sgroup_ns *sns)
{
	int rc = io_submit(req, sns, NVMFT_IO_FLUSH, 0, 0, 0, false, io_done,
			   req);

	if (rc)
		io_finish(req, submit_status(rc));
}

static void io_write_zeroes(struct nvmf_req *req, struct nvmf_sgroup_ns *sns)
{
	uint32_t cdw12 = req->cmd.cdw12;
	enum nvmft_io_type type = NVMFT_IO_WRITE_ZEROES;
	uint32_t flags = 0;
	int rc;

	if (!range_ok(sns->ns, cmd_slba(req), cmd_nlb(req))) {
		io_finish(req, ST_LBA_RANGE);
		return;
	}
	/* DEAC: deallocate where deallocated blocks read back as zeroes
	 * (DLFEAT), which is what Write Zeroes promises either way. */
	if ((cdw12 & WZ_DEAC) && nvmf_ns_unmap_reads_zeroes(sns->ns))
		type = NVMFT_IO_UNMAP;
	else if (cdw12 & RW_FUA)
		flags = NVMFT_IO_FLAG_FUA;
	rc = io_submit(req, sns, type, flags, cmd_slba(req), cmd_nlb(req),
		       false, io_done, req);
	if (rc)
		io_finish(req, submit_status(rc));
}

/* --- Dataset Management ----------------------------------------------- */

static uint32_t dsm_nr(const struct nvmf_req *req)
{
	return (req->cmd.cdw10 & 0xff) + 1;	/* 0's based, at most 256 */
}

static void dsm_range(struct nvmf_req *req, uint32_t i, uint64_t *slba,
		      uint32_t *nlb)
{
	struct nvme_dsm_range r;

	memset(&r, 0, sizeof(r));
	nvmf_req_data_in(req, (size_t)i * sizeof(r), &r, sizeof(r));
	*slba = le64toh(r.slba);
	*nlb = le32toh(r.nlb);		/* 1's based, unlike the SQE fields */
}

static void dsm_run(struct nvmf_req *req);

static void dsm_done(struct nvmft_bdev_io *io, uint16_t status, void *arg)
{
	struct nvmf_req *req = arg;

	(void)io;
	if (req->core_state & DSM_IN_SUBMIT) {
		/* completed inside submit: let dsm_run's loop go on */
		req->core_state |= DSM_DONE_INLINE |
				   ((uint32_t)status << DSM_STATUS_SHIFT);
		return;
	}
	if (status) {
		io_finish(req, status);
		return;
	}
	req->core_dsm_idx++;
	dsm_run(req);
}

/*
 * One range at a time (req has one bdev_io); a loop rather than recursion
 * when the backend completes inline, so 256 ranges never nest 256 deep.
 */
static void dsm_run(struct nvmf_req *req)
{
	struct nvmf_sgroup_ns *sns = nvmf_req_sgroup_ns(req, req->cmd.nsid);
	uint64_t slba;
	uint32_t nlb, st_inline;
	int rc;

	for (;;) {
		while (req->core_dsm_idx < dsm_nr(req)) {
			dsm_range(req, req->core_dsm_idx, &slba, &nlb);
			if (nlb != 0)
				break;
			req->core_dsm_idx++;
		}
		if (req->core_dsm_idx >= dsm_nr(req)) {
			io_finish(req, NVME_SC_SUCCESS);
			return;
		}
		req->core_state = DSM_IN_SUBMIT;
		rc = io_submit(req, sns, NVMFT_IO_UNMAP, 0, slba, nlb, false,
			       dsm_done, req);
		if (rc) {
			req->core_state = 0;
			io_finish(req, submit_status(rc));
			return;
		}
		if (!(req->core_state & DSM_DONE_INLINE)) {
			req->core_state = 0;	/* dsm_done continues */
			return;
		}
		st_inline = req->core_state >> DSM_STATUS_SHIFT;
		req->core_state = 0;
		if (st_inline) {
			io_finish(req, (uint16_t)st_inline);
			return;
		}
		req->core_dsm_idx++;
	}
}

static void io_dsm(struct nvmf_req *req, struct nvmf_sgroup_ns *sns)
{
	struct nvmf_ns *ns = sns->ns;
	uint32_t i, nr = dsm_nr(req), nlb;
	uint64_t slba;

	if (req->length < nr * sizeof(struct nvme_dsm_range)) {
		io_finish(req, ST_SGL_LENGTH);
		return;
	}
	/* IDR/IDW are hints about access patterns: nothing to do. */
	if (!(req->cmd.cdw11 & NVME_DSMGMT_AD)) {
		io_finish(req, NVME_SC_SUCCESS);
		return;
	}
	/* Check every range before touching any. */
	for (i = 0; i < nr; i++) {
		dsm_range(req, i, &slba, &nlb);
		if (nlb != 0 && !range_ok(ns, slba, nlb)) {
			io_finish(req, ST_LBA_RANGE);
			return;
		}
	}
	/* Deallocation is advisory: a backend without unmap keeps the data. */
	if (!nvmft_bdev_supports(nvmft_bdev_desc_get_bdev(ns->desc),
				 NVMFT_IO_UNMAP)) {
		io_finish(req, NVME_SC_SUCCESS);
		return;
	}
	req->core_dsm_idx = 0;
	req->core_state = 0;
	dsm_run(req);
}

/* --- dispatch ------------------------------------------------------------ */

/* The transfer direction the opcode implies (opcode bits 1:0). */
static bool xfer_ok(const struct nvmf_req *req, enum nvmf_xfer want)
{
	if (want == NVMF_XFER_NONE)
		return req->xfer == NVMF_XFER_NONE || req->length == 0;
	return req->xfer == want;
}

void nvmf_io_exec(struct nvmf_req *req)
{
	struct nvmf_sgroup_ns *sns;
	enum nvmf_xfer want;
	uint8_t opc = req->cmd.opcode;

	if (req->cmd.flags & NVMFT_SQE_FUSE_MASK) {
		/* request.c pairs fused commands; one alone lost its partner */
		nvmf_cmd_done(req, st(NVME_SCT_GENERIC, NVME_SC_FUSED_MISSING));
		return;
	}
	switch (opc) {
	case nvme_cmd_read:
		want = NVMF_XFER_C2H;
		break;
	case nvme_cmd_write:
	case nvme_cmd_compare:
	case nvme_cmd_dsm:
		want = NVMF_XFER_H2C;
		break;
	case nvme_cmd_flush:
	case nvme_cmd_write_zeroes:
		want = NVMF_XFER_NONE;
		break;
	default:
		/* including Reservation Register/Report/Acquire/Release */
		nvmf_cmd_done(req, st(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE));
		return;
	}
	if (!xfer_ok(req, want)) {
		nvmf_cmd_done(req, ST_INVALID_FIELD);
		return;
	}
	if (!nvmf_sgroup_io_begin(req, &sns))
		return;		/* queued for later, or completed */

	switch (opc) {
	case nvme_cmd_read:
		io_rw(req, sns, NVMFT_IO_READ);
		break;
	case nvme_cmd_write:
		io_rw(req, sns, NVMFT_IO_WRITE);
		break;
	case nvme_cmd_compare:
		io_rw(req, sns, NVMFT_IO_COMPARE);
		break;
	case nvme_cmd_flush:
		io_flush(req, sns);
		break;
	case nvme_cmd_write_zeroes:
		io_write_zeroes(req, sns);
		break;
	case nvme_cmd_dsm:
		io_dsm(req, sns);
		break;
	}
}

/* --- fused Compare and Write --------------------------------------------
 *
 * Range lock → Compare (first) → Write (second) only if equal → unlock.
 * The pair is linked through the bdev_io callback arguments: the lock and
 * the Compare carry @second (whose bdev_io.cb_arg holds @first until the
 * Write is submitted), the Write carries @first. @second is also the
 * lock's owner token, which the Write carries to pass the lock.
 */

static void fused_end(struct nvmf_req *first, struct nvmf_req *second,
		      uint16_t s1, uint16_t s2, bool locked)
{
	struct nvmf_sgroup_ns *sns;

	if (locked) {
		sns = nvmf_req_sgroup_ns(first, first->cmd.nsid);
		nvmft_bdev_unlock_range(sns->ns->desc, sns->ch, cmd_slba(first),
					cmd_nlb(first));
	}
	io_finish(first, s1);
	io_finish(second, s2);
}

static void fused_write_done(struct nvmft_bdev_io *io, uint16_t status,
			     void *arg)
{
	struct nvmf_req *second = container_of(io, struct nvmf_req, bdev_io);

	/* The compare matched: the first command succeeded whatever the
	 * write's fate. */
	fused_end(arg, second, NVME_SC_SUCCESS, status, true);
}

static void fused_compare_done(struct nvmft_bdev_io *io, uint16_t status,
			       void *arg)
{
	struct nvmf_req *first = container_of(io, struct nvmf_req, bdev_io);
	struct nvmf_req *second = arg;
	struct nvmf_sgroup_ns *sns;
	struct nvmft_bdev_io *wio;
	int rc;

	if (status) {
		fused_end(first, second, status, ST_FUSED_FAIL, true);
		return;
	}
	sns = nvmf_req_sgroup_ns(second, second->cmd.nsid);
	wio = io_prep(second, NVMFT_IO_WRITE, write_flags(second),
		      cmd_slba(second), cmd_nlb(second), true, fused_write_done,
		      first);
	/* the lock's owner token (its @arg): our write passes the lock */
	wio->lock_owner = second;
	rc = nvmft_bdev_submit(sns->ns->desc, sns->ch, wio);
	if (rc)
		fused_end(first, second, NVME_SC_SUCCESS, submit_status(rc),
			  true);
}

static void fused_locked(void *arg, int lrc)
{
	struct nvmf_req *second = arg;
	struct nvmf_req *first = second->bdev_io.cb_arg;
	struct nvmf_sgroup_ns *sns;
	int rc;

	if (lrc) {
		fused_end(first, second,
			  NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL),
			  ST_FUSED_FAIL, false);
		return;
	}
	sns = nvmf_req_sgroup_ns(first, first->cmd.nsid);
	rc = io_submit(first, sns, NVMFT_IO_COMPARE, 0, cmd_slba(first),
		       cmd_nlb(first), true, fused_compare_done, second);
	if (rc)
		fused_end(first, second, submit_status(rc), ST_FUSED_FAIL, true);
}

void nvmf_io_exec_fused(struct nvmf_req *first, struct nvmf_req *second)
{
	struct nvmf_sgroup_ns *sns;
	uint16_t s;
	int rc;

	if (first->cmd.opcode != nvme_cmd_compare ||
	    second->cmd.opcode != nvme_cmd_write ||
	    !xfer_ok(first, NVMF_XFER_H2C) || !xfer_ok(second, NVMF_XFER_H2C)) {
		/* Compare and Write is the only fused operation */
		nvmf_cmd_done(first, ST_INVALID_FIELD);
		nvmf_cmd_done(second, ST_FUSED_FAIL);
		return;
	}
	if (!nvmf_sgroup_io_begin_fused(first, second, &sns))
		return;		/* both queued, or both completed */

	s = rw_check(first, sns->ns);
	if (s) {
		fused_end(first, second, s, ST_FUSED_FAIL, false);
		return;
	}
	s = rw_check(second, sns->ns);
	if (s) {
		fused_end(first, second, ST_FUSED_FAIL, s, false);
		return;
	}
	second->bdev_io.cb_arg = first;
	rc = nvmft_bdev_lock_range(sns->ns->desc, sns->ch, cmd_slba(first),
				   cmd_nlb(first), fused_locked, second);
	if (rc)
		fused_end(first, second,
			  NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL),
			  ST_FUSED_FAIL, false);
}
