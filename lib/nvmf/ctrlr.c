// SPDX-License-Identifier: MIT
/*
 * The controller object: created at the admin Connect (on the app
 * reactor, which owns the subsystem's controller list and cntlids), then
 * living on the reactor of its admin qpair (ctrlr->thread): registers,
 * keep-alive, async events, error log, I/O queue ids and teardown.
 *
 * Lifetime: a reference for the subsystem list (dropped by the app
 * reactor's unlink), one for the admin qpair and one per I/O qpair
 * (dropped when the qpair's transport reported every request back). Once
 * only the list reference is left the app reactor unlinks the controller
 * and sends the final free to ctrlr->thread, after any message it sent
 * there before.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nvmf/nvmf_internal.h"

#define NVMF_CAP_TO		15	/* 500 ms units: worst case ready time */
#define NVMF_VS_1_3		0x10300u
#define NVMF_DISC_KATO_MS	120000u	/* discovery controllers asked for none */
#define NVMF_KA_MIN_PERIOD_US	10000u

/* Async Event Configuration bits (Set Features 0Bh; defaults in features.c). */
#define AEC_NS_ATTR		(1u << 8)
#define AEC_FW_ACT		(1u << 9)
#define AEC_ANA_CHANGE		(1u << 11)
#define AEC_DISC_CHANGE		(1u << 31)

static void ctrlr_put(struct nvmf_ctrlr *ctrlr);

/* --- creation (app reactor) --------------------------------------------- */

static bool cntlid_in_use(struct nvmft_subsystem *ss, uint16_t id)
{
	struct nvmf_ctrlr *c;

	TAILQ_FOREACH(c, &ss->ctrlrs, link) {
		if (c->cntlid == id)
			return true;
	}
	return false;
}

static uint16_t cntlid_alloc(struct nvmft_subsystem *ss)
{
	uint32_t range = (uint32_t)ss->max_cntlid - ss->min_cntlid + 1, i;

	for (i = 0; i < range; i++) {
		uint16_t id = ss->next_cntlid;

		ss->next_cntlid = id >= ss->max_cntlid ? ss->min_cntlid
						       : (uint16_t)(id + 1);
		if (!cntlid_in_use(ss, id))
			return id;
	}
	return 0;
}

static uint32_t kato_grace(uint32_t kato_ms)
{
	/* Hosts send Keep Alive about every KATO (older Linux) or KATO/2;
	 * network delay must not kill a healthy association. */
	return kato_ms / 2 < 5000 ? kato_ms / 2 : 5000;
}

struct nvmf_ctrlr *nvmf_ctrlr_create(struct nvmft_subsystem *ss,
				     const struct nvmf_connect_data *data,
				     struct nvmf_qpair *admin_qp, uint32_t kato_ms)
{
	const struct nvmft_transport_opts *topts = &admin_qp->transport->opts;
	struct nvmf_ctrlr *ctrlr;
	uint16_t cntlid;

	if (ss->nr_ctrlrs >= ss->max_controllers)
		return NULL;
	cntlid = cntlid_alloc(ss);
	if (!cntlid)
		return NULL;
	ctrlr = calloc(1, sizeof(*ctrlr));
	if (!ctrlr)
		return NULL;
	ctrlr->max_qpairs = ss->discovery ? 1 : topts->max_qpairs_per_ctrlr;
	if (ctrlr->max_qpairs < 1)
		ctrlr->max_qpairs = 1;
	ctrlr->io_qpairs = calloc(ctrlr->max_qpairs, sizeof(*ctrlr->io_qpairs));
	if (!ctrlr->io_qpairs) {
		free(ctrlr);
		return NULL;
	}
	ctrlr->ss = ss;
	ctrlr->tgt = ss->tgt;
	ctrlr->cntlid = cntlid;
	ctrlr->thread = admin_qp->group->thread;
	ctrlr->trtype = admin_qp->transport->ops->trtype;
	memcpy(ctrlr->hostnqn, data->hostnqn, sizeof(ctrlr->hostnqn) - 1);
	memcpy(ctrlr->hostid, data->hostid, sizeof(ctrlr->hostid));

	ctrlr->cap = (uint64_t)((topts->max_queue_depth - 1) & NVME_CAP_MQES_MASK) |
		     (1ull << NVME_CAP_CQR_SHIFT) |
		     ((uint64_t)NVMF_CAP_TO << NVME_CAP_TO_SHIFT) |
		     ((uint64_t)NVME_CAP_CSS_NVM << NVME_CAP_CSS_SHIFT);
	ctrlr->vs = NVMF_VS_1_3;

	if (ss->discovery && kato_ms == 0)
		kato_ms = NVMF_DISC_KATO_MS;
	ctrlr->kato_ms = kato_ms;
	ctrlr->kato_grace_ms = kato_grace(kato_ms);
	nvmf_features_init(ctrlr);
	ctrlr->created_us = nvmft_now_us();
	ctrlr->smart.power_on_start_us = ctrlr->created_us;
	ctrlr->discovery_genctr_seen = ss->tgt->discovery_genctr;

	ctrlr->refs = 2;	/* subsystem list + admin qpair */
	TAILQ_INSERT_TAIL(&ss->ctrlrs, ctrlr, link);
	ss->nr_ctrlrs++;
	ss->nr_live_ctrlrs++;
	ss->tgt->nr_live_ctrlrs++;
	return ctrlr;
}

/* --- keep-alive (ctrlr->thread) ------------------------------------------ */

static int keep_alive_poll(void *arg)
{
	struct nvmf_ctrlr *ctrlr = arg;
	uint64_t limit_us = ((uint64_t)ctrlr->kato_ms + ctrlr->kato_grace_ms) * 1000;
	uint64_t now = nvmft_now_us();
	uint64_t last_poll = ctrlr->ka_last_poll_us;

	ctrlr->ka_last_poll_us = now;
	if (now - ctrlr->last_keep_alive_us <= limit_us)
		return 0;
	/* The reactor itself stalled (this poll is over two periods late):
	 * a Keep Alive may be waiting unread in the socket. Give the reactor
	 * one more turn to read it before blaming the host. */
	if (last_poll && now - last_poll > 2 * ctrlr->ka_period_us)
		return 0;
	RT_WARN(ctrlr->tgt->rt, "%s: controller %u of %s (host %s): keep-alive "
		"timeout (%u ms)", ctrlr->tgt->name, ctrlr->cntlid, ctrlr->ss->nqn,
		ctrlr->hostnqn, ctrlr->kato_ms);
	nvmf_ctrlr_destroy(ctrlr, "keep-alive timeout");
	return 1;
}

static void keep_alive_arm(struct nvmf_ctrlr *ctrlr)
{
	uint64_t period_us;

	ASSERT_ON_THREAD(ctrlr->thread);
	nvmft_poller_unregister(&ctrlr->keep_alive_poller);
	if (!ctrlr->kato_ms || ctrlr->destroying)
		return;
	period_us = (uint64_t)ctrlr->kato_ms * 1000 / 4;
	if (period_us < NVMF_KA_MIN_PERIOD_US)
		period_us = NVMF_KA_MIN_PERIOD_US;
	ctrlr->last_keep_alive_us = nvmft_now_us();
	ctrlr->ka_period_us = period_us;
	ctrlr->ka_last_poll_us = 0;
	ctrlr->keep_alive_poller = nvmft_poller_register(keep_alive_poll, ctrlr,
							 period_us);
	if (!ctrlr->keep_alive_poller)
		RT_ERR(ctrlr->tgt->rt, "%s: controller %u: no keep-alive poller",
		       ctrlr->tgt->name, ctrlr->cntlid);
}

void nvmf_ctrlr_keep_alive(struct nvmf_ctrlr *ctrlr)
{
	ctrlr->last_keep_alive_us = nvmft_now_us();
}

void nvmf_ctrlr_set_kato(struct nvmf_ctrlr *ctrlr, uint32_t kato_ms)
{
	ctrlr->kato_ms = kato_ms;
	ctrlr->kato_grace_ms = kato_grace(kato_ms);
	ctrlr->feat.keep_alive_timer_ms = kato_ms;
	keep_alive_arm(ctrlr);
}

void nvmf_ctrlr_start(struct nvmf_ctrlr *ctrlr)
{
	keep_alive_arm(ctrlr);
}

/* --- async events (ctrlr->thread) ---------------------------------------- */

/* One mask bit per log page that clears an event when read. */
static uint32_t lid_mask_bit(uint8_t lid)
{
	switch (lid) {
	case NVME_LOG_LID_ERROR:
		return 1u << 0;
	case NVME_LOG_LID_SMART:
		return 1u << 1;
	case NVME_LOG_LID_CHANGED_NS:
		return 1u << 2;
	case NVME_LOG_LID_ANA:
		return 1u << 3;
	case NVME_LOG_LID_DISCOVER:
		return 1u << 4;
	case NVME_LOG_LID_RESERVATION:
		return 1u << 5;
	default:
		return 1u << 31;
	}
}

static bool event_enabled(const struct nvmf_ctrlr *ctrlr, uint32_t result)
{
	uint32_t aec = ctrlr->feat.async_event_config;

	if ((result & 0x7) != NVME_AER_NOTICE)
		return true;
	switch ((result >> 8) & 0xff) {
	case NVME_AER_NOTICE_NS_CHANGED:
		return aec & AEC_NS_ATTR;
	case NVME_AER_NOTICE_FW_ACT_STARTING:
		return aec & AEC_FW_ACT;
	case NVME_AER_NOTICE_ANA:
		return aec & AEC_ANA_CHANGE;
	case NVME_AER_NOTICE_DISC_CHANGED:
		return aec & AEC_DISC_CHANGE;
	default:
		return true;
	}
}

static void aer_complete(struct nvmf_ctrlr *ctrlr, struct nvmf_req *req,
			 uint32_t result)
{
	/* Until the host reads the page, more events of this kind add
	 * nothing it does not learn from the page. */
	ctrlr->masked_event_types |= lid_mask_bit((result >> 16) & 0xff);
	req->rsp.result = result;
	nvmf_req_set_status(req, 0);
	nvmf_req_complete(req);
}

static void event_deliver(struct nvmf_ctrlr *ctrlr, uint32_t result)
{
	struct nvmf_req *req;
	uint32_t i;

	if (ctrlr->destroying || !event_enabled(ctrlr, result))
		return;
	if (ctrlr->masked_event_types & lid_mask_bit((result >> 16) & 0xff))
		return;
	for (i = 0; i < ctrlr->nr_pending_events; i++) {
		if (ctrlr->pending_events[i] == result)
			return;
	}
	if (ctrlr->nr_aer_reqs) {
		req = ctrlr->aer_reqs[0];
		ctrlr->nr_aer_reqs--;
		memmove(&ctrlr->aer_reqs[0], &ctrlr->aer_reqs[1],
			ctrlr->nr_aer_reqs * sizeof(ctrlr->aer_reqs[0]));
		aer_complete(ctrlr, req, result);
		return;
	}
	if (ctrlr->nr_pending_events >= sizeof(ctrlr->pending_events) /
					sizeof(ctrlr->pending_events[0])) {
		RT_WARN(ctrlr->tgt->rt, "%s: controller %u: event 0x%x dropped",
			ctrlr->tgt->name, ctrlr->cntlid, result);
		return;
	}
	ctrlr->pending_events[ctrlr->nr_pending_events++] = result;
}

int nvmf_ctrlr_aer_submit(struct nvmf_ctrlr *ctrlr, struct nvmf_req *req)
{
	uint32_t result;

	ASSERT_ON_THREAD(ctrlr->thread);
	if (ctrlr->nr_pending_events) {
		result = ctrlr->pending_events[0];
		ctrlr->nr_pending_events--;
		memmove(&ctrlr->pending_events[0], &ctrlr->pending_events[1],
			ctrlr->nr_pending_events * sizeof(ctrlr->pending_events[0]));
		aer_complete(ctrlr, req, result);
		return 0;
	}
	if (ctrlr->nr_aer_reqs >= NVMF_MAX_AER)
		return NVMFT_STATUS(NVME_SCT_CMD_SPECIFIC, NVME_SC_ASYNC_LIMIT) |
		       NVMFT_STATUS_DNR;
	ctrlr->aer_reqs[ctrlr->nr_aer_reqs++] = req;
	return 0;
}

/* Held AERs go back to the transport (which discards them: the queue or
 * the controller state they belong to is gone). */
static void aer_abort_all(struct nvmf_ctrlr *ctrlr)
{
	while (ctrlr->nr_aer_reqs) {
		struct nvmf_req *req = ctrlr->aer_reqs[--ctrlr->nr_aer_reqs];

		nvmf_req_set_status(req, NVMFT_STATUS(NVME_SCT_GENERIC,
						      NVME_SC_ABORT_QUEUE));
		nvmf_req_complete(req);
	}
}

void nvmf_ctrlr_log_page_read(struct nvmf_ctrlr *ctrlr, uint8_t lid)
{
	ASSERT_ON_THREAD(ctrlr->thread);

	ctrlr->masked_event_types &= ~lid_mask_bit(lid);
	if (lid == NVME_LOG_LID_CHANGED_NS)
		ctrlr->nr_changed_ns = 0;
}

static void changed_ns_add(struct nvmf_ctrlr *ctrlr, uint32_t nsid)
{
	uint32_t i;

	if (ctrlr->nr_changed_ns > NVMF_MAX_CHANGED_NS)
		return;		/* overflowed: the page says "all" */
	for (i = 0; i < ctrlr->nr_changed_ns; i++) {
		if (ctrlr->changed_ns[i] == nsid)
			return;
	}
	if (ctrlr->nr_changed_ns == NVMF_MAX_CHANGED_NS) {
		ctrlr->nr_changed_ns = NVMF_MAX_CHANGED_NS + 1;
		return;
	}
	ctrlr->changed_ns[ctrlr->nr_changed_ns++] = nsid;
}

struct event_msg {
	struct nvmf_ctrlr *ctrlr;
	uint32_t result;
	uint32_t changed_nsid;
};

static void event_msg_run(void *arg)
{
	struct event_msg *m = arg;

	if (m->changed_nsid && !m->ctrlr->destroying)
		changed_ns_add(m->ctrlr, m->changed_nsid);
	event_deliver(m->ctrlr, m->result);
	free(m);
}

static void post_event(struct nvmf_ctrlr *ctrlr, uint32_t result, uint32_t nsid)
{
	struct event_msg *m;

	if (nvmft_get_thread() == ctrlr->thread) {
		if (nsid && !ctrlr->destroying)
			changed_ns_add(ctrlr, nsid);
		event_deliver(ctrlr, result);
		return;
	}
	m = malloc(sizeof(*m));
	if (!m) {
		RT_ERR(ctrlr->tgt->rt, "%s: controller %u: event 0x%x lost (no memory)",
		       ctrlr->tgt->name, ctrlr->cntlid, result);
		return;
	}
	m->ctrlr = ctrlr;
	m->result = result;
	m->changed_nsid = nsid;
	if (nvmf_send(ctrlr->tgt, ctrlr->thread, event_msg_run, m))
		free(m);
}

void nvmf_ctrlr_async_event(struct nvmf_ctrlr *ctrlr, uint32_t result)
{
	post_event(ctrlr, result, 0);
}

void nvmf_ctrlr_post_event(struct nvmf_ctrlr *ctrlr, uint32_t result,
			   uint32_t changed_nsid)
{
	post_event(ctrlr, result, changed_nsid);
}

/* --- error log and SMART -------------------------------------------------- */

struct error_rec {
	struct nvmf_ctrlr *ctrlr;
	uint16_t sqid, cid, status, param;
	uint32_t nsid;
	uint64_t lba;
};

static void error_record(const struct error_rec *r)
{
	struct nvmf_ctrlr *ctrlr = r->ctrlr;
	struct nvme_error_log_page *e;

	ctrlr->err_count++;
	e = &ctrlr->err_log[(ctrlr->err_count - 1) % NVMF_ERROR_LOG_ENTRIES];
	memset(e, 0, sizeof(*e));
	e->error_count = htole64(ctrlr->err_count);
	e->sqid = htole16(r->sqid);
	e->cmdid = htole16(r->cid);
	/* Status Field as in the CQE: bits 15:1, phase bit clear. */
	e->status_field = htole16((uint16_t)(r->status << 1));
	e->parm_error_location = htole16(r->param);
	e->lba = htole64(r->lba);
	e->nsid = htole32(r->nsid);
	e->trtype = ctrlr->trtype;
}

static void error_rec_fill(struct error_rec *r, struct nvmf_req *req,
			   uint16_t status, uint16_t param)
{
	struct nvmf_qpair *qp = req->qpair;

	r->ctrlr = qp->ctrlr;
	r->sqid = qp->qid;
	r->cid = req->cmd.cid;
	r->status = status;
	r->param = param;
	r->nsid = req->cmd.nsid;
	r->lba = 0;
	if (qp->qid && (req->cmd.opcode == nvme_cmd_read ||
			req->cmd.opcode == nvme_cmd_write ||
			req->cmd.opcode == nvme_cmd_compare ||
			req->cmd.opcode == nvme_cmd_write_zeroes))
		r->lba = req->cmd.cdw10 | ((uint64_t)req->cmd.cdw11 << 32);
}

void nvmf_ctrlr_log_error(struct nvmf_ctrlr *ctrlr, struct nvmf_req *req,
			  uint16_t status, uint16_t param_offset)
{
	struct error_rec r;

	error_rec_fill(&r, req, status, param_offset);
	r.ctrlr = ctrlr;
	error_record(&r);
}

static void error_rec_msg(void *arg)
{
	error_record(arg);
	free(arg);
}

void nvmf_ctrlr_note_error(struct nvmf_req *req, uint16_t status)
{
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;
	struct error_rec *r;

	if (nvmft_get_thread() == ctrlr->thread) {
		struct error_rec local;

		error_rec_fill(&local, req, status, 0xffff);
		error_record(&local);
		return;
	}
	/* The qpair holds a controller reference until its release message,
	 * which leaves this reactor after this one. */
	r = malloc(sizeof(*r));
	if (!r)
		return;
	error_rec_fill(r, req, status, 0xffff);
	if (nvmf_send(ctrlr->tgt, ctrlr->thread, error_rec_msg, r))
		free(r);
}

static void smart_add_qpair(struct nvmf_smart *out, struct nvmf_qpair_core *core)
{
	out->data_units_read += atomic_load_explicit(&core->smart.data_units_read,
						     memory_order_relaxed);
	out->data_units_written += atomic_load_explicit(&core->smart.data_units_written,
							memory_order_relaxed);
	out->host_read_cmds += atomic_load_explicit(&core->smart.host_read_cmds,
						    memory_order_relaxed);
	out->host_write_cmds += atomic_load_explicit(&core->smart.host_write_cmds,
						     memory_order_relaxed);
	out->media_errors += atomic_load_explicit(&core->smart.media_errors,
						  memory_order_relaxed);
}

void nvmf_ctrlr_get_smart(struct nvmf_ctrlr *ctrlr, struct nvmf_smart *out)
{
	uint32_t qid;

	*out = ctrlr->smart;
	for (qid = 1; qid < ctrlr->max_qpairs; qid++) {
		struct nvmf_qpair *qp = ctrlr->io_qpairs[qid];

		if (qp && qp->core_ctx)
			smart_add_qpair(out, qp->core_ctx);
	}
	out->num_err_log_entries = ctrlr->err_count;
	out->power_on_start_us = ctrlr->created_us;
}

/* --- I/O queues ------------------------------------------------------------ */

uint32_t nvmf_ctrlr_max_io_qid(const struct nvmf_ctrlr *ctrlr)
{
	uint32_t nsqa = ctrlr->feat.num_queues & 0xffff;
	uint32_t ncqa = ctrlr->feat.num_queues >> 16;
	uint32_t granted = (nsqa < ncqa ? nsqa : ncqa) + 1;

	if (ctrlr->max_qpairs <= 1)
		return 0;
	return granted < ctrlr->max_qpairs - 1 ? granted : ctrlr->max_qpairs - 1;
}

uint16_t nvmf_ctrlr_claim_qid(struct nvmf_ctrlr *ctrlr, struct nvmf_qpair *qp,
			      uint16_t qid, uint32_t *result)
{
	if (ctrlr->destroying) {
		*result = NVMF_IPO_DATA(offsetof(struct nvmf_connect_data, cntlid));
		return NVMFT_STATUS(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM) |
		       NVMFT_STATUS_DNR;
	}
	if (!NVME_CC_EN(ctrlr->cc) || !NVME_CSTS_RDY(ctrlr->csts))
		return NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR) |
		       NVMFT_STATUS_DNR;
	if (qid == 0 || qid > nvmf_ctrlr_max_io_qid(ctrlr) || ctrlr->io_qpairs[qid]) {
		*result = NVMF_IPO_SQE(42);	/* QID: bytes 43:42 of the SQE */
		return NVMFT_STATUS(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM) |
		       NVMFT_STATUS_DNR;
	}
	ctrlr->io_qpairs[qid] = qp;
	ctrlr->nr_io_qpairs++;
	ctrlr->refs++;
	return 0;
}

static void qpair_disconnect_msg(void *arg)
{
	nvmf_qpair_disconnect(arg);
}

/* An I/O qpair in io_qpairs is alive: it leaves only after its detach
 * message ran here, and the ack follows anything sent to it before. */
static void disconnect_io_qpairs(struct nvmf_ctrlr *ctrlr)
{
	uint32_t qid;

	for (qid = 1; qid < ctrlr->max_qpairs; qid++) {
		struct nvmf_qpair *qp = ctrlr->io_qpairs[qid];

		if (qp)
			nvmf_send(ctrlr->tgt, qp->group->thread, qpair_disconnect_msg, qp);
	}
}

static void io_qpairs_gone(struct nvmf_ctrlr *ctrlr)
{
	if (ctrlr->reset_pending) {
		ctrlr->reset_pending = false;
		ctrlr->csts &= ~(NVME_CSTS_RDY_MASK << NVME_CSTS_RDY_SHIFT);
	}
	if (ctrlr->shutdown_pending) {
		ctrlr->shutdown_pending = false;
		ctrlr->csts = (ctrlr->csts & ~(NVME_CSTS_SHST_MASK << NVME_CSTS_SHST_SHIFT)) |
			      (NVME_CSTS_SHST_CMPLT << NVME_CSTS_SHST_SHIFT);
	}
}

struct qpair_msg {
	struct nvmf_ctrlr *ctrlr;
	struct nvmf_qpair *qp;
	void (*done)(struct nvmf_qpair *qp);
	uint16_t qid;
	struct nvmf_smart smart;
};

static void detach_ack_msg(void *arg)
{
	struct qpair_msg *m = arg;

	m->done(m->qp);
	free(m);
}

static void detach_msg(void *arg)
{
	struct qpair_msg *m = arg;
	struct nvmf_ctrlr *ctrlr = m->ctrlr;

	if (m->qid < ctrlr->max_qpairs && ctrlr->io_qpairs[m->qid] == m->qp) {
		ctrlr->io_qpairs[m->qid] = NULL;
		ctrlr->nr_io_qpairs--;
		if (ctrlr->nr_io_qpairs == 0)
			io_qpairs_gone(ctrlr);
	}
	if (nvmf_send(ctrlr->tgt, m->qp->group->thread, detach_ack_msg, m))
		free(m);	/* reactor gone: the qpair stays (logged) */
}

void nvmf_ctrlr_detach_qpair(struct nvmf_qpair *qp,
			     void (*done)(struct nvmf_qpair *qp))
{
	struct nvmf_ctrlr *ctrlr = qp->ctrlr;
	struct qpair_msg *m;

	if (qp->qid == 0) {
		/* Same reactor: the association ends with its admin queue. */
		if (ctrlr->admin_qpair == qp)
			ctrlr->admin_qpair = NULL;
		nvmf_ctrlr_destroy(ctrlr, "admin queue disconnected");
		done(qp);
		return;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		/* Keeping the connection is better than a controller pointing
		 * at a freed qpair. */
		RT_ERR(ctrlr->tgt->rt, "%s: qpair %u of controller %u: no memory to "
		       "detach, connection kept", ctrlr->tgt->name, qp->qid,
		       ctrlr->cntlid);
		return;
	}
	m->ctrlr = ctrlr;
	m->qp = qp;
	m->done = done;
	m->qid = qp->qid;
	if (nvmf_send(ctrlr->tgt, ctrlr->thread, detach_msg, m))
		free(m);
}

static void smart_sum(struct nvmf_smart *to, const struct nvmf_smart *from)
{
	to->data_units_read += from->data_units_read;
	to->data_units_written += from->data_units_written;
	to->host_read_cmds += from->host_read_cmds;
	to->host_write_cmds += from->host_write_cmds;
	to->media_errors += from->media_errors;
}

static void release_msg(void *arg)
{
	struct qpair_msg *m = arg;

	smart_sum(&m->ctrlr->smart, &m->smart);
	ctrlr_put(m->ctrlr);
	free(m);
}

void nvmf_ctrlr_release_qpair(struct nvmf_qpair *qp)
{
	struct nvmf_ctrlr *ctrlr = qp->ctrlr;
	struct qpair_msg *m;

	qp->ctrlr = NULL;
	if (qp->qid == 0) {
		ctrlr_put(ctrlr);
		return;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		RT_ERR(ctrlr->tgt->rt, "%s: controller %u: reference of qpair %u "
		       "leaked (no memory)", ctrlr->tgt->name, ctrlr->cntlid, qp->qid);
		return;
	}
	m->ctrlr = ctrlr;
	/* The qpair's final totals: from the detach until this message runs
	 * nvmf_ctrlr_get_smart() misses them (it only reads attached qpairs). */
	smart_add_qpair(&m->smart, qp->core_ctx);
	if (nvmf_send(ctrlr->tgt, ctrlr->thread, release_msg, m))
		free(m);
}

/* --- registers ------------------------------------------------------------- */

uint16_t nvmf_ctrlr_set_cc(struct nvmf_ctrlr *ctrlr, uint32_t cc)
{
	uint32_t old = ctrlr->cc;
	uint32_t shst_mask = NVME_CSTS_SHST_MASK << NVME_CSTS_SHST_SHIFT;
	uint32_t rdy = NVME_CSTS_RDY_MASK << NVME_CSTS_RDY_SHIFT;

	ASSERT_ON_THREAD(ctrlr->thread);
	ctrlr->cc = cc;
	if (!NVME_CC_EN(old) && NVME_CC_EN(cc)) {
		ctrlr->reset_pending = false;
		ctrlr->csts = (ctrlr->csts & ~shst_mask) | rdy;
	} else if (NVME_CC_EN(old) && !NVME_CC_EN(cc)) {
		/* Controller reset: outstanding commands and I/O queues go;
		 * RDY clears once the I/O queues are gone. */
		aer_abort_all(ctrlr);
		ctrlr->reset_pending = true;
		disconnect_io_qpairs(ctrlr);
	}
	if (NVME_CC_SHN(cc) && !NVME_CC_SHN(old)) {
		ctrlr->csts = (ctrlr->csts & ~shst_mask) |
			      (NVME_CSTS_SHST_OCCUR << NVME_CSTS_SHST_SHIFT);
		ctrlr->shutdown_pending = true;
		disconnect_io_qpairs(ctrlr);
	} else if (!NVME_CC_SHN(cc) && NVME_CC_SHN(old)) {
		ctrlr->shutdown_pending = false;
		ctrlr->csts &= ~shst_mask;
	}
	if (ctrlr->nr_io_qpairs == 0)
		io_qpairs_gone(ctrlr);
	return 0;
}

/* --- teardown ---------------------------------------------------------------- */

static void ctrlr_free_msg(void *arg)
{
	struct nvmf_ctrlr *ctrlr = arg;

	ctrlr_put(ctrlr);
}

static void ctrlr_unlink_msg(void *arg)
{
	struct nvmf_ctrlr *ctrlr = arg;
	struct nvmft_subsystem *ss = ctrlr->ss;
	struct nvmft_tgt *tgt = ctrlr->tgt;

	TAILQ_REMOVE(&ss->ctrlrs, ctrlr, link);
	ss->nr_ctrlrs--;
	/* Queued after whatever this reactor sent the controller before. */
	if (nvmf_send(tgt, ctrlr->thread, ctrlr_free_msg, ctrlr))
		RT_ERR(tgt->rt, "%s: controller %u leaked", tgt->name, ctrlr->cntlid);
	nvmf_ss_ctrlr_gone(ss);
	nvmf_tgt_ctrlr_gone(tgt);
}

static void ctrlr_put(struct nvmf_ctrlr *ctrlr)
{
	if (--ctrlr->refs == 0) {
		free(ctrlr->io_qpairs);
		free(ctrlr);
		return;
	}
	if (ctrlr->refs == 1 && ctrlr->destroying && !ctrlr->unlink_sent) {
		ctrlr->unlink_sent = true;
		if (nvmf_send(ctrlr->tgt, ctrlr->tgt->app_thread, ctrlr_unlink_msg, ctrlr))
			RT_ERR(ctrlr->tgt->rt, "%s: controller %u not unlinked",
			       ctrlr->tgt->name, ctrlr->cntlid);
	}
}

void nvmf_ctrlr_destroy(struct nvmf_ctrlr *ctrlr, const char *why)
{
	ASSERT_ON_THREAD(ctrlr->thread);
	if (ctrlr->destroying)
		return;
	ctrlr->destroying = true;
	RT_INFO(ctrlr->tgt->rt, "%s: controller %u of %s (host %s) going: %s",
		ctrlr->tgt->name, ctrlr->cntlid, ctrlr->ss->nqn, ctrlr->hostnqn, why);
	nvmft_poller_unregister(&ctrlr->keep_alive_poller);
	aer_abort_all(ctrlr);
	disconnect_io_qpairs(ctrlr);
	if (ctrlr->admin_qpair)
		nvmf_qpair_disconnect(ctrlr->admin_qpair);
	/* Take and drop a reference: unlinks now if nothing else holds it. */
	ctrlr->refs++;
	ctrlr_put(ctrlr);
}
