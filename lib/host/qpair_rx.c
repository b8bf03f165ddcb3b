/* SPDX-License-Identifier: MIT */
/*
 * Receive side of a host qpair. Bytes come into a per-qpair buffer (many
 * small PDUs per recv) and go through an explicit state machine:
 *
 *   RX_CH → RX_PSH → (RX_PAD) → (RX_DATA) → (RX_DDGST) → RX_CH
 *
 * Large C2H payloads skip the buffer and are read straight into the
 * command's buffer. Every header is validated (pdu_check_common plus the
 * checks against the command it names) before anything acts on it; a
 * violation fails the qpair.
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <syslog.h>
#include <sys/socket.h>
#include <nvme/types.h>
#include "host_internal.h"

#define FEI_CCCID	offsetof(struct pdu_c2h_data, cccid)
#define FEI_DATAO	offsetof(struct pdu_c2h_data, datao)
#define FEI_DATAL	offsetof(struct pdu_c2h_data, datal)
#define FEI_R2TO	offsetof(struct pdu_r2t, r2to)
#define FEI_RSP_CID	(offsetof(struct pdu_capsule_resp, cqe) + offsetof(struct nvmft_cqe, cid))

void rx_reset(struct nvmft_host_qpair *qp)
{
	qp->rx_head = 0;
	qp->rx_tail = 0;
	qp->rx_state = RX_CH;
	qp->rx_got = 0;
	qp->rx_need = sizeof(struct pdu_common);
	qp->rx_req = NULL;
}

static void rx_next_pdu(struct nvmft_host_qpair *qp)
{
	qp->stats.pdus_rx++;
	qp->rx_state = RX_CH;
	qp->rx_got = 0;
	qp->rx_need = sizeof(struct pdu_common);
	qp->rx_req = NULL;
}

/* The request a controller PDU names, if it is outstanding. */
static struct host_req *rx_find_req(struct nvmft_host_qpair *qp, uint16_t cid)
{
	if (cid >= qp->nreqs || qp->reqs[cid].state == REQ_FREE)
		return NULL;
	return &qp->reqs[cid];
}

static void rx_capsule_resp(struct nvmft_host_qpair *qp)
{
	const struct nvmft_cqe *cqe = &qp->rx_hdr.rsp.cqe;
	struct host_req *req = rx_find_req(qp, le16toh(cqe->cid));
	uint16_t status;

	if (!req) {
		qpair_fail_proto(qp, PDU_FES_INVALID_HEADER_FIELD, FEI_RSP_CID,
				 "CapsuleResp for a command not outstanding");
		return;
	}
	/* A response before all of the data we owe it left means the
	 * controller did not wait for the data it asked for. */
	if (req->state != REQ_WAIT) {
		qpair_fail_proto(qp, PDU_FES_PDU_SEQUENCE_ERROR, FEI_RSP_CID,
				 "CapsuleResp while data still being sent");
		return;
	}
	status = le16toh(cqe->status) >> 1;
	if (!status && req->err_status)
		status = req->err_status;
	if (!status && req->dir == NVMFT_HOST_DIR_READ && req->c2h_next != req->len) {
		host_log(qp->ctrlr, LOG_ERR,
			 "qid %u cid %u: success with %u of %u bytes read",
			 qp->qid, req->cid, req->c2h_next, req->len);
		status = NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_DATA_XFER_ERROR);
	}
	rx_next_pdu(qp);
	qpair_complete(qp, req, status, le64toh(cqe->result));
}

static void rx_c2h_data(struct nvmft_host_qpair *qp)
{
	const struct pdu_c2h_data *c2h = &qp->rx_hdr.c2h;
	struct host_req *req = rx_find_req(qp, le16toh(c2h->cccid));
	uint32_t datao = le32toh(c2h->datao);
	uint32_t datal = le32toh(c2h->datal);

	if (!req || req->state != REQ_WAIT || req->dir != NVMFT_HOST_DIR_READ) {
		qpair_fail_proto(qp, PDU_FES_INVALID_HEADER_FIELD, FEI_CCCID,
				 "C2HData for a command not reading");
		return;
	}
	/* Data arrives in order and within the command's buffer. */
	if (datao != req->c2h_next) {
		qpair_fail_proto(qp, PDU_FES_DATA_OUT_OF_RANGE, FEI_DATAO,
				 "C2HData offset out of sequence");
		return;
	}
	if (datal > req->len - datao) {
		qpair_fail_proto(qp, PDU_FES_DATA_OUT_OF_RANGE, FEI_DATAL,
				 "C2HData beyond the command's data");
		return;
	}
	if ((c2h->ch.flags & PDU_FLAG_LAST_PDU) && datao + datal != req->len) {
		qpair_fail_proto(qp, PDU_FES_PDU_SEQUENCE_ERROR, FEI_DATAL,
				 "C2HData LAST_PDU before the end of the data");
		return;
	}
	qp->stats.c2h++;
	qp->rx_req = req;
	qp->rx_data_off = datao;
	qp->rx_crc = PDU_CRC_INIT;
	qp->rx_got = 0;
	qp->rx_need = pdu_pad_len(&c2h->ch);
	qp->rx_state = qp->rx_need ? RX_PAD : RX_DATA;
	if (!qp->rx_need)
		qp->rx_need = datal;
}

/* The payload of a C2HData has been received, digest included. */
static void rx_c2h_done(struct nvmft_host_qpair *qp)
{
	const struct pdu_c2h_data *c2h = &qp->rx_hdr.c2h;
	struct host_req *req = qp->rx_req;
	uint8_t flags = c2h->ch.flags;

	req->c2h_next += le32toh(c2h->datal);
	if ((flags & PDU_FLAG_DDGSTF) &&
	    pdu_digest_get(qp->rx_ddgst) != pdu_crc_final(qp->rx_crc)) {
		/* The stream is still in step: fail the command, not the qpair. */
		qp->stats.ddgst_errors++;
		host_log(qp->ctrlr, LOG_ERR,
			 "qid %u cid %u: data digest error at offset %u",
			 qp->qid, req->cid, le32toh(c2h->datao));
		req->err_status = NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_DATA_XFER_ERROR);
	}
	rx_next_pdu(qp);
	if (flags & PDU_FLAG_SUCCESS)
		qpair_complete(qp, req, req->err_status, 0);
}

static void rx_r2t(struct nvmft_host_qpair *qp)
{
	const struct pdu_r2t *r2t = &qp->rx_hdr.r2t;
	struct host_req *req = rx_find_req(qp, le16toh(r2t->cccid));
	uint32_t r2to = le32toh(r2t->r2to);
	uint32_t r2tl = le32toh(r2t->r2tl);

	if (!req || req->dir != NVMFT_HOST_DIR_WRITE || req->incapsule) {
		qpair_fail_proto(qp, PDU_FES_INVALID_HEADER_FIELD, FEI_CCCID,
				 "R2T for a command with no data to send");
		return;
	}
	/* We announced MAXR2T 0: one R2T at a time per command. */
	if (req->state != REQ_WAIT) {
		qpair_fail_proto(qp, PDU_FES_R2T_LIMIT_EXCEEDED, FEI_CCCID,
				 "R2T while the previous one is being served");
		return;
	}
	if (r2to > req->len || r2tl > req->len - r2to) {
		qpair_fail_proto(qp, PDU_FES_DATA_OUT_OF_RANGE, FEI_R2TO,
				 "R2T beyond the command's data");
		return;
	}
	qp->stats.r2t++;
	rx_next_pdu(qp);
	req->ttag = le16toh(r2t->ttag);
	req->h2c_off = r2to;
	req->r2t_end = r2to + r2tl;
	qpair_req_set_state(qp, req, REQ_TX_H2C);
	tx_setup_h2c(qp, req);
}

static void rx_term_req(struct nvmft_host_qpair *qp)
{
	const struct pdu_term_req *t = &qp->rx_hdr.term;

	host_log(qp->ctrlr, LOG_ERR,
		 "qid %u: C2HTermReq from the controller: FES 0x%x FEI 0x%x",
		 qp->qid, le16toh(t->fes), le32toh(t->fei));
	qpair_fail(qp, -ECONNABORTED);
}

/* The whole header (and its digest) is in rx_hdr. */
static void rx_header(struct nvmft_host_qpair *qp)
{
	struct pdu_common *ch = &qp->rx_hdr.ch;
	uint32_t fei = 0;
	int fes;

	/* Digest first: a corrupted field is a digest error, not a bad field. */
	if ((ch->flags & PDU_FLAG_HDGSTF) && qp->params.hdgst &&
	    !pdu_hdgst_ok(&qp->rx_hdr)) {
		qpair_fail_proto(qp, PDU_FES_HDGST_ERROR, 0, "header digest error");
		return;
	}
	fes = pdu_check_common(ch, PDU_DIR_C2H, &qp->params, qp->state != QP_IC,
			       qp->max_xfer + 512, &fei);
	if (fes) {
		qpair_fail_proto(qp, fes, fei, "malformed PDU header");
		return;
	}
	switch (ch->type) {
	case PDU_ICRESP:
		rx_next_pdu(qp);
		fabrics_ic_resp(qp, &qp->rx_hdr.icresp);
		break;
	case PDU_C2H_TERM_REQ:
		rx_term_req(qp);
		break;
	case PDU_CAPSULE_RESP:
		rx_capsule_resp(qp);
		break;
	case PDU_C2H_DATA:
		rx_c2h_data(qp);
		break;
	case PDU_R2T:
		rx_r2t(qp);
		break;
	default:
		qpair_fail_proto(qp, PDU_FES_INVALID_HEADER_FIELD, 0,
				 "unexpected PDU type");
		break;
	}
}

/* Common header in: check what can be checked before reading on. */
static void rx_common_header(struct nvmft_host_qpair *qp)
{
	struct pdu_common *ch = &qp->rx_hdr.ch;
	uint32_t fei = 0;
	uint8_t hlen = pdu_hlen(ch->type);

	if (!hlen || hlen != ch->hlen) {
		int fes = pdu_check_common(ch, PDU_DIR_C2H, &qp->params,
					   qp->state != QP_IC, qp->max_xfer + 512,
					   &fei);

		qpair_fail_proto(qp, fes ? fes : PDU_FES_INVALID_HEADER_FIELD,
				 fes ? fei : 2, "malformed PDU common header");
		return;
	}
	qp->rx_state = RX_PSH;
	qp->rx_need = pdu_hdr_len(ch);
}

static void copy_to_iov(const struct iovec *iov, int iovcnt, uint32_t off,
			const uint8_t *src, uint32_t len)
{
	for (int i = 0; i < iovcnt && len; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		size_t take = l - off < len ? l - off : len;

		memcpy((uint8_t *)iov[i].iov_base + off, src, take);
		src += take;
		len -= take;
		off = 0;
	}
}

/* Payload bytes for the current C2HData have all arrived. */
static void rx_data_complete(struct nvmft_host_qpair *qp)
{
	if (qp->rx_hdr.ch.flags & PDU_FLAG_DDGSTF) {
		qp->rx_state = RX_DDGST;
		qp->rx_got = 0;
		qp->rx_need = PDU_DIGEST_LEN;
	} else {
		rx_c2h_done(qp);
	}
}

/* Consume up to @avail bytes at @p for the current state; returns bytes used. */
static uint32_t rx_step(struct nvmft_host_qpair *qp, const uint8_t *p, uint32_t avail)
{
	uint32_t take = qp->rx_need - qp->rx_got;

	if (take > avail)
		take = avail;
	switch (qp->rx_state) {
	case RX_CH:
	case RX_PSH:
		memcpy(qp->rx_hdr.raw + qp->rx_got, p, take);
		break;
	case RX_PAD:
		break;
	case RX_DATA: {
		struct host_req *req = qp->rx_req;

		copy_to_iov(req->iov, req->iovcnt, qp->rx_data_off + qp->rx_got, p, take);
		if (qp->rx_hdr.ch.flags & PDU_FLAG_DDGSTF)
			qp->rx_crc = pdu_crc_update(qp->rx_crc, p, take);
		break;
	}
	case RX_DDGST:
		memcpy(qp->rx_ddgst + qp->rx_got, p, take);
		break;
	}
	qp->rx_got += take;
	if (qp->rx_got < qp->rx_need)
		return take;

	switch (qp->rx_state) {
	case RX_CH:
		rx_common_header(qp);
		break;
	case RX_PSH:
		rx_header(qp);
		break;
	case RX_PAD:
		qp->rx_state = RX_DATA;
		qp->rx_got = 0;
		qp->rx_need = le32toh(qp->rx_hdr.c2h.datal);
		break;
	case RX_DATA:
		rx_data_complete(qp);
		break;
	case RX_DDGST:
		rx_c2h_done(qp);
		break;
	}
	return take;
}

/* Big payload, nothing buffered: read it where it belongs. *@drained: the
 * socket had less than asked for. */
static int rx_read_direct(struct nvmft_host_qpair *qp, bool *drained)
{
	struct host_req *req = qp->rx_req;
	struct iovec v[NVMFT_HOST_MAX_IOV];
	uint32_t off = qp->rx_data_off + qp->rx_got;
	int n = iov_slice(v, NVMFT_HOST_MAX_IOV, req->iov, req->iovcnt, off,
			  qp->rx_need - qp->rx_got);
	struct msghdr mh = { .msg_iov = v, .msg_iovlen = n < 0 ? 0 : n };
	ssize_t r = recvmsg(qp->fd, &mh, MSG_DONTWAIT);

	if (r <= 0)
		return r < 0 ? -errno : -ECONNRESET;
	if (qp->rx_hdr.ch.flags & PDU_FLAG_DDGSTF) {
		n = iov_slice(v, NVMFT_HOST_MAX_IOV, req->iov, req->iovcnt, off, r);
		for (int i = 0; i < n; i++)
			qp->rx_crc = pdu_crc_update(qp->rx_crc, v[i].iov_base,
						    v[i].iov_len);
	}
	*drained = (uint32_t)r < qp->rx_need - qp->rx_got;
	qp->rx_got += r;
	if (qp->rx_got == qp->rx_need)
		rx_data_complete(qp);
	return 0;
}

/*
 * Read and handle what the socket holds, stopping after @max completions
 * (0: no limit) with the rest left in the buffer. Returns 0 or the error
 * that failed the qpair.
 */
int rx_process(struct nvmft_host_qpair *qp, unsigned int max)
{
	bool drained = false;

	while (qp->state != QP_FAILED && (!max || qp->rx_completions < max)) {
		if (qp->rx_head == qp->rx_tail) {
			int rc;

			/* A short read emptied the socket: asking again now
			 * would cost a syscall that almost always finds nothing. */
			if (drained)
				break;
			qp->rx_head = qp->rx_tail = 0;
			if (qp->rx_state == RX_DATA &&
			    qp->rx_need - qp->rx_got >= HOST_RX_DIRECT_MIN) {
				rc = rx_read_direct(qp, &drained);
			} else {
				ssize_t r = recv(qp->fd, qp->rx_buf, HOST_RX_BUF_SIZE,
						 MSG_DONTWAIT);

				rc = r > 0 ? 0 : r < 0 ? -errno : -ECONNRESET;
				if (r > 0)
					qp->rx_tail = r;
				drained = r > 0 && r < HOST_RX_BUF_SIZE;
			}
			if (rc == -EINTR)
				continue;
			if (rc == -EAGAIN || rc == -EWOULDBLOCK)
				break;
			if (rc < 0) {
				if (rc == -ECONNRESET && qp->closing)
					rc = -ESHUTDOWN;
				else if (rc == -ECONNRESET)
					host_log(qp->ctrlr, LOG_ERR,
						 "qid %u: connection closed by the controller",
						 qp->qid);
				qpair_fail(qp, rc);
				break;
			}
			continue;
		}
		uint32_t used = rx_step(qp, qp->rx_buf + qp->rx_head,
					qp->rx_tail - qp->rx_head);

		/* failing resets the buffer: nothing left to account for */
		if (qp->state == QP_FAILED)
			break;
		qp->rx_head += used;
	}
	return qp->state == QP_FAILED ? qp->err : 0;
}
