// SPDX-License-Identifier: MIT
/*
 * Fabrics commands (opcode 7Fh): Connect, Property Get/Set, Disconnect;
 * Authentication Send/Receive are answered "not supported" (no in-band
 * authentication: Connect never asks for it).
 *
 * A Connect travels: the qpair's reactor checks the capsule, the app
 * reactor (owner of the subsystems and controller lists) finds the
 * subsystem and creates the controller (admin queue) or finds it by
 * cntlid (I/O queue; then the controller's reactor hands out the qid),
 * and the qpair's reactor finishes.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "nvmf/nvmf_internal.h"

/* Connect SQE field offsets (for the invalid parameter offset). */
#define SQE_OFF_RECFMT	40
#define SQE_OFF_SQSIZE	44

#define CATTR_SQFC_DISABLE	0x04

static inline uint16_t st(uint8_t sct, uint8_t sc)
{
	return (uint16_t)(NVMFT_STATUS(sct, sc) | NVMFT_STATUS_DNR);
}

static void complete_status(struct nvmf_req *req, uint16_t status, uint32_t result)
{
	nvmf_req_set_status(req, status);
	req->rsp.result = result;
	nvmf_req_complete(req);
}

/* --- Connect ----------------------------------------------------------- */

struct connect_ctx {
	struct nvmf_req *req;
	struct nvmf_qpair *qp;
	struct nvmft_tgt *tgt;
	struct nvmft_thread *qp_thread;
	struct nvmf_ctrlr *ctrlr;
	uint16_t qid;
	uint16_t sqsize;
	uint16_t cntlid;
	uint32_t kato_ms;
	uint16_t status;
	uint32_t result;
	struct nvmf_connect_data data;
};

static void connect_finish(void *arg)
{
	struct connect_ctx *c = arg;
	struct nvmf_qpair *qp = c->qp;
	struct nvmf_ctrlr *ctrlr = c->ctrlr;
	struct nvmf_req *req = c->req;

	nvmf_qpair_core(qp)->connecting = false;
	if (c->status) {
		complete_status(req, c->status, c->result);
	} else {
		qp->ctrlr = ctrlr;
		qp->qid = c->qid;
		qp->sq_size = (uint16_t)(c->sqsize + 1);
		if (c->qid == 0)
			ctrlr->admin_qpair = qp;
		/* A disconnect that came meanwhile wins: the controller (or
		 * the qid) is given back by the usual path below. */
		if (qp->state != NVMF_QPAIR_DISCONNECTING) {
			qp->state = NVMF_QPAIR_ACTIVE;
			if (c->qid == 0)
				nvmf_ctrlr_start(ctrlr);
		}
		complete_status(req, 0, c->qid == 0 ? ctrlr->cntlid : 0);
	}
	if (qp->state == NVMF_QPAIR_DISCONNECTING)
		nvmf_qpair_disconnect_continue(qp);
	free(c);
}

static void connect_reply(struct connect_ctx *c)
{
	if (nvmf_send(c->tgt, c->qp_thread, connect_finish, c)) {
		/* The qpair's reactor is gone: nothing left to answer. */
		free(c);
	}
}

static void connect_fail_reply(struct connect_ctx *c, uint16_t status, uint32_t result)
{
	c->status = status;
	c->result = result;
	connect_reply(c);
}

static void connect_claim(void *arg)
{
	struct connect_ctx *c = arg;
	uint32_t result = 0;
	uint16_t status;

	status = nvmf_ctrlr_claim_qid(c->ctrlr, c->qp, c->qid, &result);
	if (status)
		c->ctrlr = NULL;
	c->status = status;
	c->result = result;
	connect_reply(c);
}

static struct nvmf_ctrlr *find_ctrlr(struct nvmft_subsystem *ss, uint16_t cntlid,
				     const char *hostnqn)
{
	struct nvmf_ctrlr *ctrlr;

	TAILQ_FOREACH(ctrlr, &ss->ctrlrs, link) {
		if (ctrlr->cntlid == cntlid && !strcmp(ctrlr->hostnqn, hostnqn))
			return ctrlr;
	}
	return NULL;
}

static void connect_on_app(void *arg)
{
	struct connect_ctx *c = arg;
	struct nvmft_tgt *tgt = c->tgt;
	struct nvmft_subsystem *ss;
	struct nvmf_ctrlr *ctrlr;

	if (tgt->destroying) {
		connect_fail_reply(c, st(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_CTRL_BUSY), 0);
		return;
	}
	ss = nvmf_tgt_find_subsystem(tgt, c->data.subsysnqn);
	if (!ss || (ss->state != NVMF_SS_ACTIVE && ss->state != NVMF_SS_CHANGING)) {
		RT_INFO(tgt->rt, "%s: connect from %s to unknown or inactive %s",
			tgt->name, c->data.hostnqn, c->data.subsysnqn);
		connect_fail_reply(c, st(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM),
				   NVMF_IPO_DATA(offsetof(struct nvmf_connect_data,
							  subsysnqn)));
		return;
	}
	if (!nvmft_subsystem_host_allowed(ss, c->data.hostnqn)) {
		RT_NOTICE(tgt->rt, "%s: host %s not allowed on %s", tgt->name,
			  c->data.hostnqn, ss->nqn);
		connect_fail_reply(c, st(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_HOST),
				   NVMF_IPO_DATA(offsetof(struct nvmf_connect_data,
							  hostnqn)));
		return;
	}
	if (c->qid == 0) {
		ctrlr = nvmf_ctrlr_create(ss, &c->data, c->qp, c->kato_ms);
		if (!ctrlr) {
			RT_WARN(tgt->rt, "%s: no controller for %s on %s (limit %u)",
				tgt->name, c->data.hostnqn, ss->nqn, ss->max_controllers);
			connect_fail_reply(c, st(NVME_SCT_CMD_SPECIFIC,
						 NVME_SC_CONNECT_CTRL_BUSY), 0);
			return;
		}
		c->ctrlr = ctrlr;
		c->status = 0;
		connect_reply(c);
		return;
	}
	ctrlr = find_ctrlr(ss, c->cntlid, c->data.hostnqn);
	if (!ctrlr) {
		connect_fail_reply(c, st(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM),
				   NVMF_IPO_DATA(offsetof(struct nvmf_connect_data, cntlid)));
		return;
	}
	/* The controller stays allocated until a free message this reactor
	 * sends after unlinking it, i.e. after this one. */
	c->ctrlr = ctrlr;
	if (nvmf_send(tgt, ctrlr->thread, connect_claim, c))
		connect_fail_reply(c, st(NVME_SCT_GENERIC, NVME_SC_INTERNAL), 0);
}

static bool nqn_terminated(const char *s)
{
	return memchr(s, '\0', NVME_NQN_LENGTH) != NULL;
}

static void fabrics_connect(struct nvmf_req *req)
{
	struct nvmf_qpair *qp = req->qpair;
	struct nvmf_qpair_core *core = nvmf_qpair_core(qp);
	const struct nvmft_transport_opts *o = &qp->transport->opts;
	uint16_t recfmt = req->cmd.cdw10 & 0xffff;
	uint16_t qid = req->cmd.cdw10 >> 16;
	uint16_t sqsize = req->cmd.cdw11 & 0xffff;
	uint8_t cattr = (req->cmd.cdw11 >> 16) & 0xff;
	uint16_t max_sqsize;
	struct connect_ctx *c;
	struct nvmft_tgt *tgt = qp->transport->tgt;

	if (qp->state != NVMF_QPAIR_NEW || core->connecting) {
		complete_status(req, st(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR), 0);
		return;
	}
	if (req->length != sizeof(struct nvmf_connect_data)) {
		complete_status(req, st(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA), 0);
		return;
	}
	if (recfmt != 0) {
		complete_status(req, st(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_FORMAT),
				NVMF_IPO_SQE(SQE_OFF_RECFMT));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		complete_status(req, NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL), 0);
		return;
	}
	if (nvmf_req_copy_from_iov(req, &c->data, sizeof(c->data)) != sizeof(c->data)) {
		free(c);
		complete_status(req, st(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA), 0);
		return;
	}
	if (!nqn_terminated(c->data.subsysnqn)) {
		free(c);
		complete_status(req, st(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM),
				NVMF_IPO_DATA(offsetof(struct nvmf_connect_data, subsysnqn)));
		return;
	}
	if (!nqn_terminated(c->data.hostnqn)) {
		free(c);
		complete_status(req, st(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM),
				NVMF_IPO_DATA(offsetof(struct nvmf_connect_data, hostnqn)));
		return;
	}
	/* SQSIZE is 0's based; a queue of one entry cannot work. */
	max_sqsize = qid == 0 ? (uint16_t)(o->max_aq_depth - 1)
			      : (uint16_t)(o->max_queue_depth - 1);
	if (sqsize == 0 || sqsize > max_sqsize) {
		free(c);
		complete_status(req, st(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM),
				NVMF_IPO_SQE(SQE_OFF_SQSIZE));
		return;
	}
	c->cntlid = le16toh(c->data.cntlid);
	/* Dynamic controller model: the host must let us pick. */
	if (qid == 0 && c->cntlid != 0xffff) {
		free(c);
		complete_status(req, st(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM),
				NVMF_IPO_DATA(offsetof(struct nvmf_connect_data, cntlid)));
		return;
	}
	qp->sq_flow_control = !(cattr & CATTR_SQFC_DISABLE);
	c->req = req;
	c->qp = qp;
	c->tgt = tgt;
	c->qp_thread = qp->group->thread;
	c->qid = qid;
	c->sqsize = sqsize;
	c->kato_ms = req->cmd.cdw12;
	core->connecting = true;
	if (nvmf_send(tgt, tgt->app_thread, connect_on_app, c)) {
		core->connecting = false;
		free(c);
		complete_status(req, NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL), 0);
	}
}

/* --- Property Get / Set ------------------------------------------------- */

/* ATTRIB bits 2:0: 0 = 4 bytes, 1 = 8 bytes. */
static int prop_size(uint32_t cdw10)
{
	switch (cdw10 & 0x7) {
	case 0:
		return 4;
	case 1:
		return 8;
	default:
		return -1;
	}
}

static void property_get(struct nvmf_req *req)
{
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;
	int size = prop_size(req->cmd.cdw10);
	uint32_t ofst = req->cmd.cdw11;
	uint64_t value;

	switch (ofst) {
	case NVME_REG_CAP:
		if (size != 8)
			goto invalid;
		value = ctrlr->cap;
		break;
	case NVME_REG_VS:
		if (size != 4)
			goto invalid;
		value = ctrlr->vs;
		break;
	case NVME_REG_CC:
		if (size != 4)
			goto invalid;
		value = ctrlr->cc;
		break;
	case NVME_REG_CSTS:
		if (size != 4)
			goto invalid;
		value = ctrlr->csts;
		break;
	default:
		goto invalid;
	}
	nvmf_req_set_status(req, 0);
	req->rsp.result = value;
	nvmf_req_complete(req);
	return;
invalid:
	complete_status(req, st(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD), 0);
}

static void property_set(struct nvmf_req *req)
{
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;
	int size = prop_size(req->cmd.cdw10);
	uint32_t ofst = req->cmd.cdw11;
	uint64_t value = req->cmd.cdw12 | ((uint64_t)req->cmd.cdw13 << 32);

	/* CC is the only writable property over fabrics. */
	if (ofst != NVME_REG_CC || size != 4) {
		complete_status(req, st(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD), 0);
		return;
	}
	complete_status(req, nvmf_ctrlr_set_cc(ctrlr, (uint32_t)value), 0);
}

/* --- dispatch ----------------------------------------------------------- */

static void fabrics_disconnect(struct nvmf_req *req)
{
	struct nvmf_qpair *qp = req->qpair;

	if (qp->qid == 0) {
		complete_status(req, st(NVME_SCT_CMD_SPECIFIC,
					NVME_SC_DISCONNECT_INVALID_QTYPE), 0);
		return;
	}
	if (req->cmd.cdw10 & 0xffff) {
		complete_status(req, st(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_FORMAT),
				NVMF_IPO_SQE(SQE_OFF_RECFMT));
		return;
	}
	/* Answer first: the transport sends the response before closing. */
	complete_status(req, 0, 0);
	nvmf_qpair_disconnect(qp);
}

void nvmf_fabrics_exec(struct nvmf_req *req)
{
	struct nvmf_qpair *qp = req->qpair;
	uint8_t fctype = nvmft_sqe_fctype(&req->cmd);

	if (fctype == nvme_fabrics_type_connect) {
		fabrics_connect(req);
		return;
	}
	if (qp->state != NVMF_QPAIR_ACTIVE || !qp->ctrlr) {
		complete_status(req, st(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR), 0);
		return;
	}
	if (qp->qid == 0)
		nvmf_ctrlr_keep_alive(qp->ctrlr);
	switch (fctype) {
	case nvme_fabrics_type_property_get:
	case nvme_fabrics_type_property_set:
		if (qp->qid != 0)
			break;
		if (fctype == nvme_fabrics_type_property_get)
			property_get(req);
		else
			property_set(req);
		return;
	case nvme_fabrics_type_disconnect:
		fabrics_disconnect(req);
		return;
	case nvme_fabrics_type_auth_send:
	case nvme_fabrics_type_auth_receive:
		/* No in-band authentication: the Connect response never
		 * requires it, so these are unsupported commands. */
		break;
	default:
		break;
	}
	complete_status(req, st(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE), 0);
}
