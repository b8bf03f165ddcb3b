// SPDX-License-Identifier: MIT
/*
 * The single path of a request through the core: nvmf_req_exec() picks
 * the handler (fabrics, admin, I/O; fused pairs are matched here), and
 * nvmf_req_complete() is the one way out to the transport. Both run on
 * the qpair's reactor.
 */
#include <string.h>

#include "nvmf/nvmf_internal.h"

enum nvmf_xfer nvmf_req_get_xfer(const struct nvmft_sqe *cmd)
{
	/* Bits 1:0 of the opcode (of the fctype for fabrics commands) give
	 * the data direction. */
	uint8_t code = cmd->opcode == nvme_admin_fabrics ? nvmft_sqe_fctype(cmd)
							 : cmd->opcode;

	switch (code & 0x3) {
	case 0x0:
		return NVMF_XFER_NONE;
	case 0x1:
		return NVMF_XFER_H2C;
	case 0x2:
		return NVMF_XFER_C2H;
	default:
		return NVMF_XFER_INVALID;
	}
}

static inline void counter_add(_Atomic uint64_t *c, uint64_t v)
{
	/* One writer (this reactor): no locked read-modify-write needed. */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

static void account_io(struct nvmf_req *req, uint16_t status)
{
	struct nvmf_qpair_core *core = nvmf_qpair_core(req->qpair);

	if (!core)
		return;
	if (status) {
		if (NVMFT_STATUS_SCT(status) == NVME_SCT_MEDIA)
			counter_add(&core->smart.media_errors, 1);
		return;
	}
	switch (req->cmd.opcode) {
	case nvme_cmd_read:
	case nvme_cmd_compare:
		counter_add(&core->smart.host_read_cmds, 1);
		counter_add(&core->smart.data_units_read, req->length / 512);
		break;
	case nvme_cmd_write:
		counter_add(&core->smart.host_write_cmds, 1);
		counter_add(&core->smart.data_units_written, req->length / 512);
		break;
	default:
		break;
	}
}

/* Failures that are not worth an error log entry. */
static bool error_loggable(const struct nvmf_req *req, uint16_t status)
{
	if (req->cmd.opcode == nvme_admin_fabrics)
		return false;
	if (NVMFT_STATUS_SCT(status) == NVME_SCT_GENERIC &&
	    NVMFT_STATUS_SC(status) == NVME_SC_ABORT_QUEUE)
		return false;
	return true;
}

/*
 * Statistics of every completion: the qpair's counters, and for I/O
 * commands on I/O queues the poll group's latency histogram (one clock
 * read; the start was taken at exec or fail). Both belong to this
 * reactor: plain increments.
 */
static inline void account_stats(struct nvmf_qpair *qp, const struct nvmf_req *req,
				 uint16_t status)
{
	struct nvmf_qpair_core *core = nvmf_qpair_core(qp);

	if (core) {
		core->stats.cmds++;
		core->stats.errors += status != 0;
	}
	if (qp->qid && qp->group && req->cmd.opcode != nvme_admin_fabrics)
		nvmf_lat_hist_add(&qp->group->stats.io_lat,
				  nvmft_now_us() - req->core_start_us);
}

void nvmf_req_complete(struct nvmf_req *req)
{
	struct nvmf_qpair *qp = req->qpair;
	uint16_t status = req->rsp.status >> 1;

	req->rsp.cid = req->cmd.cid;
	req->rsp.sq_id = qp->qid;
	if (!qp->sq_flow_control) {
		req->rsp.sq_head = 0xffff;
	} else {
		qp->sq_head = qp->sq_size ? (uint16_t)((qp->sq_head + 1) % qp->sq_size)
					  : (uint16_t)(qp->sq_head + 1);
		req->rsp.sq_head = qp->sq_head;
	}
	if (qp->ctrlr && qp->qid)
		account_io(req, status);
	account_stats(qp, req, status);
	if (status && qp->ctrlr && error_loggable(req, status)) {
		nvmf_ctrlr_note_error(req, status);
		if (qp->group)
			qp->group->stats.errors++;
	}
	if (qp->core_outstanding)
		qp->core_outstanding--;
	qp->transport->ops->req_complete(req);
}

static void complete_status(struct nvmf_req *req, uint16_t status)
{
	nvmf_req_set_status(req, status);
	nvmf_req_complete(req);
}

void nvmf_req_fail(struct nvmf_req *req, uint16_t status)
{
	req->qpair->core_outstanding++;
	memset(&req->rsp, 0, sizeof(req->rsp));
	req->core_next = NULL;
	req->core_start_us = nvmft_now_us();
	complete_status(req, status);
}

/* A Write that may join the held Compare: same namespace and range. */
static bool fused_match(const struct nvmf_req *first, const struct nvmf_req *second)
{
	return second->cmd.opcode == nvme_cmd_write &&
	       second->cmd.nsid == first->cmd.nsid &&
	       second->cmd.cdw10 == first->cmd.cdw10 &&
	       second->cmd.cdw11 == first->cmd.cdw11 &&
	       (second->cmd.cdw12 & 0xffff) == (first->cmd.cdw12 & 0xffff);
}

/*
 * Fused Compare and Write must arrive back to back on the queue: the
 * Compare is held until the next command shows up. (The transport keeps
 * submission order for exec.)
 */
static void io_exec_fuse(struct nvmf_req *req)
{
	struct nvmf_qpair_core *core = nvmf_qpair_core(req->qpair);
	uint8_t fuse = req->cmd.flags & NVMFT_SQE_FUSE_MASK;
	struct nvmf_req *first = core->fused_first;
	const uint16_t missing = NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_FUSED_MISSING);

	if (first) {
		core->fused_first = NULL;
		first->core_next = NULL;
		if (fuse == NVMFT_SQE_FUSE_SECOND && fused_match(first, req)) {
			nvmf_io_exec_fused(first, req);
			return;
		}
		complete_status(first, missing);
		if (fuse == NVMFT_SQE_FUSE_SECOND) {
			complete_status(req, missing);
			return;
		}
	}
	switch (fuse) {
	case 0:
		nvmf_io_exec(req);
		return;
	case NVMFT_SQE_FUSE_FIRST:
		if (req->cmd.opcode != nvme_cmd_compare) {
			complete_status(req, NVMFT_STATUS(NVME_SCT_GENERIC,
							  NVME_SC_INVALID_FIELD) |
					     NVMFT_STATUS_DNR);
			return;
		}
		core->fused_first = req;
		return;
	case NVMFT_SQE_FUSE_SECOND:
		complete_status(req, missing);
		return;
	default:
		complete_status(req, NVMFT_STATUS(NVME_SCT_GENERIC,
						  NVME_SC_INVALID_FIELD) |
				     NVMFT_STATUS_DNR);
		return;
	}
}

void nvmf_req_exec(struct nvmf_req *req)
{
	struct nvmf_qpair *qp = req->qpair;

	qp->core_outstanding++;
	memset(&req->rsp, 0, sizeof(req->rsp));
	req->core_next = NULL;
	req->core_start_us = nvmft_now_us();

	if (qp->state == NVMF_QPAIR_DISCONNECTING) {
		complete_status(req, NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORT_QUEUE));
		return;
	}
	if (req->cmd.opcode == nvme_admin_fabrics) {
		nvmf_fabrics_exec(req);
		return;
	}
	if (qp->state != NVMF_QPAIR_ACTIVE || !qp->ctrlr) {
		complete_status(req, NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR) |
				     NVMFT_STATUS_DNR);
		return;
	}
	if (qp->qid == 0) {
		if (qp->group)
			qp->group->stats.admin_cmds++;
		nvmf_ctrlr_keep_alive(qp->ctrlr);
		if (req->cmd.flags & NVMFT_SQE_FUSE_MASK) {
			complete_status(req, NVMFT_STATUS(NVME_SCT_GENERIC,
							  NVME_SC_INVALID_FIELD) |
					     NVMFT_STATUS_DNR);
			return;
		}
		nvmf_admin_exec(req);
		return;
	}
	if (qp->group)
		qp->group->stats.io_cmds++;
	io_exec_fuse(req);
}

void nvmf_req_qpair_abort_held(struct nvmf_qpair *qp)
{
	struct nvmf_qpair_core *core = nvmf_qpair_core(qp);
	struct nvmf_req *first = core->fused_first;

	if (!first)
		return;
	core->fused_first = NULL;
	complete_status(first, NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORT_QUEUE));
}

void nvmf_req_copy_to_iov(struct nvmf_req *req, const void *src, size_t len)
{
	const uint8_t *p = src;
	size_t left = len < req->length ? len : req->length;
	int i;

	for (i = 0; i < req->iovcnt && left; i++) {
		size_t n = req->iov[i].iov_len < left ? req->iov[i].iov_len : left;

		memcpy(req->iov[i].iov_base, p, n);
		p += n;
		left -= n;
	}
}

size_t nvmf_req_copy_from_iov(struct nvmf_req *req, void *dst, size_t len)
{
	uint8_t *p = dst;
	size_t left = len < req->length ? len : req->length;
	size_t done = 0;
	int i;

	for (i = 0; i < req->iovcnt && left; i++) {
		size_t n = req->iov[i].iov_len < left ? req->iov[i].iov_len : left;

		memcpy(p + done, req->iov[i].iov_base, n);
		done += n;
		left -= n;
	}
	return done;
}
