/* SPDX-License-Identifier: MIT */
/*
 * Request state machine of the TCP transport.
 *
 *   FREE → NEW → [NEED_BUFFER] → [TRANSFERRING_H2C] → READY_TO_EXECUTE
 *        → EXECUTING (core) → EXECUTED → [TRANSFERRING_C2H] → COMPLETED → FREE
 *
 * Request slots are reserved per qpair (set up on first use, so an idle
 * connection costs a few pages), each with a small buffer of its own
 * (in-capsule data size, at least 8 KiB) that takes in-capsule data and any
 * transfer that fits it; bigger transfers take io_unit_size buffers from the
 * poll group's pool, or wait for them in FIFO order (NEED_BUFFER). A request
 * is recycled only once its last byte is on the wire (tcp_req_sent), or at
 * teardown once the socket is closed.
 *
 * Protocol policy (documented choices):
 * - more active commands than the SQ size (qp->base.sq_size, or the slots
 *   allocated before Connect): C2HTermReq, FES PDU Sequence Error;
 * - a CID equal to that of an active command: C2HTermReq, FES Invalid
 *   Header Field, FEI = offset of CID in the CapsuleCmd PDU (10);
 * - bad SGLs fail the command (status with DNR): wrong type → SGL
 *   Descriptor Type Invalid; in-capsule offset != 0 → SGL Offset Invalid;
 *   in-capsule data longer than the queue accepts, or not matching the SGL
 *   length → Data SGL Length Invalid; a transfer beyond max_io_size (MDTS)
 *   → Invalid Field in Command, as the spec says for MDTS.
 * - a data digest error fails the command with Transient Transport Error
 *   (generic 22h, retryable) once all its data is in; the connection stays.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <nvme/types.h>

#include "tcp/tcp_internal.h"

#define SGL_STATUS(sc)	((uint16_t)(NVMFT_STATUS(NVME_SCT_GENERIC, (sc)) | \
				    NVMFT_STATUS_DNR))
#define CID_WORDS	(65536 / 64)
/* offset of the CID in a CapsuleCmd PDU: CH (8) + opcode, flags */
#define FEI_CAPSULE_CID	10

static const char *const req_state_names[TCP_REQ_NR_STATES] = {
	[TCP_REQ_FREE] = "FREE",
	[TCP_REQ_NEW] = "NEW",
	[TCP_REQ_NEED_BUFFER] = "NEED_BUFFER",
	[TCP_REQ_TRANSFERRING_H2C] = "TRANSFERRING_H2C",
	[TCP_REQ_READY_TO_EXECUTE] = "READY_TO_EXECUTE",
	[TCP_REQ_EXECUTING] = "EXECUTING",
	[TCP_REQ_EXECUTED] = "EXECUTED",
	[TCP_REQ_TRANSFERRING_C2H] = "TRANSFERRING_C2H",
	[TCP_REQ_COMPLETED] = "COMPLETED",
};

const char *tcp_req_state_name(enum tcp_req_state st)
{
	return st < TCP_REQ_NR_STATES ? req_state_names[st] : "?";
}

/* States in which the host still waits for the command's response. */
static bool state_active(enum tcp_req_state st)
{
	return st >= TCP_REQ_NEW && st <= TCP_REQ_EXECUTED;
}

static void cid_release(struct tcp_req *r)
{
	uint16_t cid = r->req.cmd.cid;

	if (!r->cid_held)
		return;
	r->cid_held = false;
	r->qp->cid_busy[cid / 64] &= ~(UINT64_C(1) << (cid % 64));
}

void tcp_req_set_state(struct tcp_req *r, enum tcp_req_state st)
{
	struct tcp_qpair *qp = r->qp;
	bool was = state_active(r->state), now = state_active(st);

	if (qp->pg) {
		qp->pg->stats.req_states[r->state]--;
		qp->pg->stats.req_states[st]++;
	}
	if (was && !now) {
		qp->nr_active--;
		cid_release(r);
	} else if (!was && now) {
		qp->nr_active++;
	}
	r->state = st;
}

/* ---- allocation ------------------------------------------------------------ */

static size_t page_round(size_t n)
{
	return (n + 4095) & ~(size_t)4095;
}

int tcp_reqs_alloc(struct tcp_qpair *qp)
{
	const struct nvmft_transport_opts *o = &qp->tt->base.opts;
	uint32_t depth = o->max_queue_depth > o->max_aq_depth ?
			 o->max_queue_depth : o->max_aq_depth;
	size_t req_bytes, cid_bytes = CID_WORDS * sizeof(uint64_t);
	uint8_t *mem;

	/*
	 * The qid is known only after Connect: size for the deeper queue. A
	 * quarter more slots than the SQ lets the host reuse a slot whose
	 * response it has while our send completion is still to come.
	 */
	qp->nreqs = depth + depth / 4 + 1;
	qp->nreqs_used = 0;
	qp->icd_size = o->in_capsule_data_size > NVMF_ADMIN_ICDSZ ?
		       o->in_capsule_data_size : NVMF_ADMIN_ICDSZ;
	/*
	 * Anonymous memory, not the heap: its pages are zero and cost
	 * nothing until touched (a heap block may be recycled, or zeroed by
	 * calloc), and slots are set up only when first needed, so an idle
	 * connection holds a few pages, not queue depth x slot size.
	 */
	req_bytes = page_round((size_t)qp->nreqs * sizeof(*qp->reqs));
	qp->slots_map_len = req_bytes + page_round(cid_bytes) +
			    page_round((size_t)qp->nreqs * qp->icd_size);
	mem = mmap(NULL, qp->slots_map_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED) {
		qp->reqs = NULL;
		qp->nreqs = 0;
		return -ENOMEM;
	}
	qp->reqs = (struct tcp_req *)mem;
	qp->cid_busy = (uint64_t *)(mem + req_bytes);
	qp->icd_slab = mem + req_bytes + page_round(cid_bytes);
	TAILQ_INIT(&qp->free_reqs);
	if (qp->pg)
		qp->pg->stats.req_states[TCP_REQ_FREE] += qp->nreqs;
	return 0;
}

void tcp_reqs_free(struct tcp_qpair *qp)
{
	if (!qp->reqs)
		return;
	for (uint32_t i = 0; i < qp->nreqs_used; i++) {
		struct tcp_req *r = &qp->reqs[i];

		if (qp->pg) {
			if (r->nbufs) {
				tcp_pg_put_bufs(qp->pg, r->bufs, r->nbufs);
				qp->nr_bufs -= r->nbufs;
				r->nbufs = 0;
			}
			qp->pg->stats.req_states[r->state]--;
		}
	}
	if (qp->pg)
		qp->pg->stats.req_states[TCP_REQ_FREE] -= qp->nreqs - qp->nreqs_used;
	munmap(qp->reqs, qp->slots_map_len);
	qp->reqs = NULL;
	qp->icd_slab = NULL;
	qp->cid_busy = NULL;
	qp->nreqs = 0;
	qp->nreqs_used = 0;
}

/* First use of slot @i (zero until now: state FREE, no buffers). */
static struct tcp_req *tcp_req_setup(struct tcp_qpair *qp, uint32_t i)
{
	struct tcp_req *r = &qp->reqs[i];

	r->qp = qp;
	r->ttag = (uint16_t)i;
	r->icd = qp->icd_slab + (size_t)i * qp->icd_size;
	r->tx_r2t.kind = TCP_TX_R2T;
	r->tx_r2t.req = r;
	r->tx_rsp.kind = TCP_TX_RSP;
	r->tx_rsp.req = r;
	return r;
}

struct tcp_req *tcp_req_get(struct tcp_qpair *qp)
{
	struct tcp_req *r = TAILQ_FIRST(&qp->free_reqs);

	if (r)
		TAILQ_REMOVE(&qp->free_reqs, r, link);
	else if (qp->nreqs_used < qp->nreqs)
		r = tcp_req_setup(qp, qp->nreqs_used++);
	else
		return NULL;
	r->req.qpair = &qp->base;
	memset(&r->req.rsp, 0, sizeof(r->req.rsp));
	r->req.xfer = NVMF_XFER_NONE;
	r->req.length = 0;
	r->req.iovcnt = 0;
	r->nbufs = 0;
	r->r2t = false;
	r->dispatched = false;
	r->fail_status = 0;
	r->h2c_off = 0;
	r->c2h_off = 0;
	tcp_req_set_state(r, TCP_REQ_NEW);
	return r;
}

static void tcp_req_release(struct tcp_req *r)
{
	struct tcp_qpair *qp = r->qp;

	if (r->queued) {
		TAILQ_REMOVE(&qp->pg->buf_waiters, r, link);
		r->queued = false;
	}
	if (r->nbufs) {
		tcp_pg_put_bufs(qp->pg, r->bufs, r->nbufs);
		qp->nr_bufs -= r->nbufs;
		r->nbufs = 0;
	}
	r->req.iovcnt = 0;
	tcp_req_set_state(r, TCP_REQ_FREE);
	/* LIFO: the slot (and its buffer) most recently used is warm. */
	TAILQ_INSERT_HEAD(&qp->free_reqs, r, link);
}

/* ---- execution ------------------------------------------------------------- */

static void tcp_req_dispatch(struct tcp_req *r)
{
	struct tcp_qpair *qp = r->qp;

	r->dispatched = true;
	qp->nr_in_core++;
	if (r->fail_status) {
		tcp_req_set_state(r, TCP_REQ_EXECUTING);
		nvmf_req_fail(&r->req, r->fail_status);
		return;
	}
	tcp_req_set_state(r, TCP_REQ_READY_TO_EXECUTE);
	tcp_req_set_state(r, TCP_REQ_EXECUTING);
	nvmf_req_exec(&r->req);
}

/* Pool buffers a transport-SGL transfer of @r takes (0: its own fits). */
static uint32_t tcp_req_bufs_needed(const struct tcp_req *r)
{
	uint32_t unit = r->qp->tt->base.opts.io_unit_size;

	if (r->req.length <= r->qp->icd_size)
		return 0;
	return (r->req.length + unit - 1) / unit;
}

/*
 * A connection holds at most its share of the pool (tt->qp_max_bufs): a
 * host that stops reading keeps its data buffers until its sends
 * complete, and must not take the buffers every other connection of the
 * reactor needs.
 */
static bool tcp_req_over_share(const struct tcp_req *r)
{
	return r->qp->nr_bufs + tcp_req_bufs_needed(r) > r->qp->tt->qp_max_bufs;
}

/* Data buffers for a transport-SGL transfer: the slot's own buffer when
 * it fits, else whole io units from the pool. */
static bool tcp_req_get_data_bufs(struct tcp_req *r)
{
	struct tcp_qpair *qp = r->qp;
	uint32_t unit = qp->tt->base.opts.io_unit_size;
	uint32_t len = r->req.length, n = tcp_req_bufs_needed(r);

	if (n == 0) {
		r->req.iov[0].iov_base = r->icd;
		r->req.iov[0].iov_len = len;
		r->req.iovcnt = 1;
		return true;
	}
	if (!tcp_pg_get_bufs(qp->pg, r->bufs, n))
		return false;
	r->nbufs = (uint16_t)n;
	qp->nr_bufs += n;
	for (uint32_t i = 0; i < n; i++) {
		r->req.iov[i].iov_base = r->bufs[i];
		r->req.iov[i].iov_len = i + 1 < n ? unit : len - i * unit;
	}
	r->req.iovcnt = (int)n;
	return true;
}

/* Buffers in hand: ask for the data, or execute. */
static void tcp_req_have_bufs(struct tcp_req *r)
{
	if (r->req.xfer == NVMF_XFER_H2C) {
		r->r2t = true;
		tcp_req_set_state(r, TCP_REQ_TRANSFERRING_H2C);
		tcp_tx_queue(r->qp, &r->tx_r2t);
		return;
	}
	/*
	 * Buffers are recycled without clearing: a handler that fills less
	 * than the SGL length (Identify, log pages...) must not send another
	 * command's bytes to this host. Reads from the bdev fill everything,
	 * and they are the only ones worth not clearing.
	 */
	if (r->qp->base.qid == 0 || r->req.cmd.opcode != nvme_cmd_read)
		for (int i = 0; i < r->req.iovcnt; i++)
			memset(r->req.iov[i].iov_base, 0, r->req.iov[i].iov_len);
	tcp_req_dispatch(r);
}

static void tcp_req_need_bufs(struct tcp_req *r)
{
	struct tcp_poll_group *pg = r->qp->pg;

	/* FIFO: nobody overtakes a request already waiting. */
	if (TAILQ_EMPTY(&pg->buf_waiters) && !tcp_req_over_share(r) &&
	    tcp_req_get_data_bufs(r)) {
		tcp_req_have_bufs(r);
		return;
	}
	pg->stats.buf_waits++;
	if (tcp_req_over_share(r))
		pg->stats.buf_share_waits++;
	tcp_req_set_state(r, TCP_REQ_NEED_BUFFER);
	r->queued = true;
	TAILQ_INSERT_TAIL(&pg->buf_waiters, r, link);
}

unsigned int tcp_req_serve_buf_waiters(struct tcp_poll_group *pg)
{
	struct tcp_req *r, *next;
	unsigned int n = 0;

	for (r = TAILQ_FIRST(&pg->buf_waiters); r; r = next) {
		next = TAILQ_NEXT(r, link);
		if (r->qp->closing) {
			/* tcp_reqs_abort recycles it once the sock is closed */
			TAILQ_REMOVE(&pg->buf_waiters, r, link);
			r->queued = false;
			continue;
		}
		/* Over its connection's share: the others go first. */
		if (tcp_req_over_share(r))
			continue;
		if (!tcp_req_get_data_bufs(r))
			break;
		TAILQ_REMOVE(&pg->buf_waiters, r, link);
		r->queued = false;
		n++;
		tcp_req_have_bufs(r);
	}
	return n;
}

/* ---- from the receive side -------------------------------------------------- */

static uint16_t tcp_req_check_sgl(struct tcp_qpair *qp, struct tcp_req *r,
				  uint32_t icd_len, bool *incapsule)
{
	const struct nvmft_transport_opts *o = &qp->tt->base.opts;
	const struct nvmft_sgl_desc *sgl = &r->req.cmd.sgl;
	uint32_t len = le32toh(sgl->length);
	uint32_t icd_limit;

	*incapsule = false;
	switch (r->req.xfer) {
	case NVMF_XFER_INVALID:
		/* Bidirectional data cannot move over NVMe/TCP; with no data
		 * at all the opcode is the core's to judge (an unknown one
		 * must get Invalid Command Opcode, not Invalid Field). */
		if (len == 0 && icd_len == 0) {
			r->req.length = 0;
			return 0;
		}
		return SGL_STATUS(NVME_SC_INVALID_FIELD);
	case NVMF_XFER_NONE:
		return icd_len ? SGL_STATUS(NVME_SC_SGL_INVALID_DATA) : 0;
	default:
		break;
	}
	/* Admin and fabrics commands (Connect on any queue) take 8 KiB. */
	icd_limit = (qp->base.qid == 0 || r->req.cmd.opcode == nvme_admin_fabrics) ?
		    NVMF_ADMIN_ICDSZ : o->in_capsule_data_size;
	if (sgl->type == NVMFT_SGL_INCAPSULE) {
		if (r->req.xfer != NVMF_XFER_H2C)
			return SGL_STATUS(NVME_SC_SGL_INVALID_TYPE);
		if (le64toh(sgl->addr) != 0)
			return SGL_STATUS(NVME_SC_SGL_INVALID_OFFSET);
		if (len > icd_limit || len != icd_len)
			return SGL_STATUS(NVME_SC_SGL_INVALID_DATA);
		r->req.length = len;
		*incapsule = true;
		return 0;
	}
	if (sgl->type == NVMFT_SGL_TRANSPORT) {
		if (icd_len)
			return SGL_STATUS(NVME_SC_SGL_INVALID_DATA);
		/* beyond MDTS: the status the spec gives for MDTS (and the
		 * core's own check of NLB) is Invalid Field in Command */
		if (len > o->max_io_size)
			return SGL_STATUS(NVME_SC_INVALID_FIELD);
		r->req.length = len;
		return 0;
	}
	return SGL_STATUS(NVME_SC_SGL_INVALID_TYPE);
}

int tcp_req_capsule(struct tcp_qpair *qp, struct tcp_req *r, uint32_t icd_len,
		    uint32_t *fei)
{
	struct tcp_rx_payload *pl = &qp->pl;
	uint16_t cid, status;
	bool incapsule;

	r->req.cmd = qp->hdr.cmd.sqe;
	cid = r->req.cmd.cid;
	if (qp->cid_busy[cid / 64] & (UINT64_C(1) << (cid % 64))) {
		tcp_req_release(r);
		*fei = FEI_CAPSULE_CID;
		return PDU_FES_INVALID_HEADER_FIELD;
	}
	qp->cid_busy[cid / 64] |= UINT64_C(1) << (cid % 64);
	r->cid_held = true;

	r->req.xfer = nvmf_req_get_xfer(&r->req.cmd);
	status = tcp_req_check_sgl(qp, r, icd_len, &incapsule);
	if (status) {
		r->fail_status = status;
		r->req.length = 0;
	}
	/* Where in-capsule data goes: the slot's buffer, or nowhere. */
	pl->iov = NULL;
	if (!status && incapsule && icd_len) {
		r->req.iov[0].iov_base = r->icd;
		r->req.iov[0].iov_len = icd_len;
		r->req.iovcnt = 1;
		pl->iov = r->req.iov;
		pl->iovcnt = 1;
		pl->iov_idx = 0;
		pl->iov_off = 0;
	}
	if (icd_len)
		tcp_req_set_state(r, TCP_REQ_TRANSFERRING_H2C);
	return 0;
}

void tcp_req_capsule_done(struct tcp_req *r)
{
	if (r->fail_status || r->req.xfer == NVMF_XFER_NONE ||
	    r->req.length == 0 || r->req.iovcnt) {
		/* nothing to move, or the data came in the capsule */
		tcp_req_dispatch(r);
		return;
	}
	tcp_req_need_bufs(r);
}

void tcp_req_h2c_done(struct tcp_req *r, bool last)
{
	(void)last;	/* the byte count decides, not the flag */
	if (r->h2c_off == r->req.length)
		tcp_req_dispatch(r);
}

void tcp_req_data_digest_error(struct tcp_req *r)
{
	r->qp->pg->stats.ddgst_errors++;
	if (!r->fail_status)
		r->fail_status = TCP_STATUS_TRANSIENT;
}

/* ---- completion ------------------------------------------------------------ */

void tcp_req_complete(struct nvmf_req *req)
{
	struct tcp_req *r = tcp_req(req);
	struct tcp_qpair *qp = r->qp;
	bool ok;

	qp->nr_in_core--;
	tcp_req_set_state(r, TCP_REQ_EXECUTED);
	if (qp->closing) {
		/* Nobody to answer: recycle, maybe the qpair's last wait. */
		tcp_req_release(r);
		tcp_qpair_maybe_free(qp);
		return;
	}
	ok = (le16toh(req->rsp.status) >> 1) == 0;
	if (ok && req->xfer == NVMF_XFER_C2H && req->length)
		tcp_req_set_state(r, TCP_REQ_TRANSFERRING_C2H);
	else
		tcp_req_set_state(r, TCP_REQ_COMPLETED);
	tcp_tx_queue(qp, &r->tx_rsp);
}

void tcp_req_sent(struct tcp_req *r)
{
	struct tcp_qpair *qp = r->qp;

	tcp_req_release(r);
	if (qp->rx_state == TCP_RX_AWAIT_REQ)
		tcp_pg_schedule_rx(qp);
}

void tcp_reqs_abort(struct tcp_qpair *qp)
{
	for (uint32_t i = 0; i < qp->nreqs_used; i++) {
		struct tcp_req *r = &qp->reqs[i];

		if (r->state == TCP_REQ_FREE || r->state == TCP_REQ_EXECUTING)
			continue;
		tcp_req_release(r);
	}
}
