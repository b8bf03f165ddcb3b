/* SPDX-License-Identifier: MIT */
/*
 * Receive state machine of a TCP qpair.
 *
 *   AWAIT_PDU_READY → AWAIT_CH (8 bytes) → AWAIT_PSH (rest of the header +
 *   header digest) → [AWAIT_REQ] → [AWAIT_PAYLOAD (pad, data, data digest)]
 *   → dispatch → AWAIT_PDU_READY;  ERROR (C2HTermReq queued) → QUIESCING.
 *
 * Bytes arrive in a per-qpair staging buffer (one receive brings many small
 * PDUs); headers and small payload pieces are copied out of it. Once the
 * staged bytes of a payload are used up, the rest (if at least
 * TCP_RX_DIRECT_MIN) is received straight into the request's buffer. A
 * qpair handles at most TCP_RX_BUDGET PDUs per turn; leftover staged bytes
 * wait for the poll group's poller so one busy connection cannot starve
 * the others.
 *
 * Error policy: any header that fails validation, a header digest error,
 * an ICReq with PFV != 0 or a bad HPDA, a PDU out of sequence, an H2CData
 * that does not fit its R2T: C2HTermReq with the FES/FEI, then close. A
 * data digest error fails that command only (Transient Transport Error).
 * FEI: the byte offset of the offending field for Invalid Header Field and
 * Unsupported Parameter (as pdu_check_common reports them; CCCID 8, TTAG
 * 10 for H2CData), the offset of DATAO (12) or DATAL (16) for an H2CData
 * out of range, 0 for PDU Sequence Error and Header Digest Error.
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "tcp/tcp_internal.h"

enum rx_rc {
	RX_CONTINUE,		/* state changed: run the next one */
	RX_NEED_DATA,		/* staged bytes used up: receive more */
	RX_STOP,		/* stalled, failed or closing: nothing to post */
};

static const char *const rx_state_names[TCP_RX_NR_STATES] = {
	[TCP_RX_AWAIT_PDU_READY] = "AWAIT_PDU_READY",
	[TCP_RX_AWAIT_CH] = "AWAIT_CH",
	[TCP_RX_AWAIT_PSH] = "AWAIT_PSH",
	[TCP_RX_AWAIT_REQ] = "AWAIT_REQ",
	[TCP_RX_AWAIT_PAYLOAD] = "AWAIT_PAYLOAD",
	[TCP_RX_ERROR] = "ERROR",
	[TCP_RX_QUIESCING] = "QUIESCING",
};

const char *tcp_rx_state_name(enum tcp_rx_state st)
{
	return st < TCP_RX_NR_STATES ? rx_state_names[st] : "?";
}

static void rx_set_state(struct tcp_qpair *qp, enum tcp_rx_state st)
{
	/* Once failing or closing, nothing brings the qpair back. */
	if (qp->rx_state == TCP_RX_QUIESCING ||
	    (qp->rx_state == TCP_RX_ERROR && st != TCP_RX_QUIESCING))
		return;
	qp->rx_state = st;
}

static uint32_t staged(const struct tcp_qpair *qp)
{
	return qp->rx_tail - qp->rx_head;
}

static const char *peer(const struct tcp_qpair *qp)
{
	return qp->addrs.peer.traddr;
}

void tcp_rx_fatal(struct tcp_qpair *qp, uint16_t fes, uint32_t fei)
{
	uint64_t skipped;

	if (qp->rx_state == TCP_RX_ERROR || qp->rx_state == TCP_RX_QUIESCING)
		return;
	if (tcp_log_limit(&qp->pg->log_proto, &skipped))
		TCP_LOG(qp->tt, NVMFT_LOG_WARN,
			"%s:%s: fatal protocol error in %s PDU (FES %u, FEI %u): sending C2HTermReq (%llu more protocol errors not logged)",
			peer(qp), qp->addrs.peer.trsvcid,
			qp->hdr_got ? pdu_type_name(qp->hdr.ch.type) : "no",
			fes, fei, (unsigned long long)skipped);
	/* The offending header goes back with it, as far as we have it. */
	tcp_tx_term_req(qp, fes, fei, qp->hdr.raw, qp->hdr_got);
	rx_set_state(qp, TCP_RX_ERROR);
	qp->timer_start_us = nvmft_now_us();
	tcp_pg_timer_add(qp);
}

/* Copy staged bytes into the header buffer up to hdr_need. */
static bool rx_fill_header(struct tcp_qpair *qp)
{
	uint32_t n = qp->hdr_need - qp->hdr_got;

	if (n > staged(qp))
		n = staged(qp);
	memcpy(qp->hdr.raw + qp->hdr_got, qp->rxbuf + qp->rx_head, n);
	qp->rx_head += n;
	qp->hdr_got += n;
	return qp->hdr_got == qp->hdr_need;
}

static const struct pdu_params *rx_params(const struct tcp_qpair *qp)
{
	return qp->ic_done ? &qp->params : NULL;
}

/* ---- states ----------------------------------------------------------------- */

static enum rx_rc rx_await_pdu_ready(struct tcp_qpair *qp)
{
	memset(&qp->pl, 0, sizeof(qp->pl));
	qp->hdr_got = 0;
	qp->hdr_need = sizeof(struct pdu_common);
	rx_set_state(qp, TCP_RX_AWAIT_CH);
	return RX_CONTINUE;
}

static enum rx_rc rx_await_ch(struct tcp_qpair *qp)
{
	const struct pdu_common *ch = &qp->hdr.ch;
	uint32_t fei;
	uint8_t hlen;
	int fes;

	if (!rx_fill_header(qp))
		return RX_NEED_DATA;
	hlen = pdu_hlen(ch->type);
	if (hlen == 0 || hlen != ch->hlen) {
		/* Only the CH is read: type or hlen is wrong. */
		fes = pdu_check_common(ch, PDU_DIR_H2C, rx_params(qp), qp->ic_done,
				       qp->max_plen, &fei);
		if (!fes) {
			fes = PDU_FES_INVALID_HEADER_FIELD;
			fei = offsetof(struct pdu_common, hlen);
		}
		tcp_rx_fatal(qp, (uint16_t)fes, fei);
		return RX_STOP;
	}
	/* A header digest is read only where one was negotiated; a flag that
	 * disagrees is reported by pdu_check_common. */
	qp->hdr_need = hlen;
	if ((ch->flags & PDU_FLAG_HDGSTF) && qp->ic_done && qp->params.hdgst)
		qp->hdr_need += PDU_DIGEST_LEN;
	rx_set_state(qp, TCP_RX_AWAIT_PSH);
	return RX_CONTINUE;
}

static enum rx_rc rx_icreq(struct tcp_qpair *qp)
{
	const struct pdu_icreq *ic = &qp->hdr.icreq;
	const struct nvmft_transport_opts *o = &qp->tt->base.opts;
	uint32_t fei, hd, dd, cmd_max, data_max;
	int fes;

	fes = pdu_check_icreq(ic, &fei);
	if (fes) {
		tcp_rx_fatal(qp, (uint16_t)fes, fei);
		return RX_STOP;
	}
	/* Both digests are allowed: grant what the host asks for. */
	qp->params.hdgst = ic->digest & PDU_DIGEST_HDGST;
	qp->params.ddgst = ic->digest & PDU_DIGEST_DDGST;
	qp->params.cpda = 0;
	qp->params.hpda = ic->hpda;
	qp->params.maxh2cdata = o->io_unit_size;
	qp->host_maxr2t = le32toh(ic->maxr2t);
	qp->ic_done = true;
	/* The Connect deadline runs from here (the qpair stays on the
	 * timer list until the core makes it ACTIVE). */
	qp->timer_start_us = nvmft_now_us();

	hd = qp->params.hdgst ? PDU_DIGEST_LEN : 0;
	dd = qp->params.ddgst ? PDU_DIGEST_LEN : 0;
	cmd_max = sizeof(struct pdu_capsule_cmd) + hd + PDU_MAX_PAD +
		  qp->icd_size + dd;
	data_max = sizeof(struct pdu_h2c_data) + hd + PDU_MAX_PAD +
		   o->io_unit_size + dd;
	qp->max_plen = cmd_max > data_max ? cmd_max : data_max;

	qp->tx_icresp.kind = TCP_TX_ICRESP;
	qp->tx_icresp.req = NULL;
	tcp_tx_queue(qp, &qp->tx_icresp);
	TCP_LOG(qp->tt, NVMFT_LOG_DEBUG,
		"%s:%s: ICReq hpda %u digests %s%s maxr2t %u",
		peer(qp), qp->addrs.peer.trsvcid, ic->hpda,
		qp->params.hdgst ? "H" : "-", qp->params.ddgst ? "D" : "-",
		qp->host_maxr2t);
	rx_set_state(qp, TCP_RX_AWAIT_PDU_READY);
	return RX_CONTINUE;
}

static void rx_payload_init(struct tcp_qpair *qp, uint32_t data_len)
{
	struct tcp_rx_payload *pl = &qp->pl;
	const struct pdu_common *ch = &qp->hdr.ch;

	pl->pad_left = pdu_pad_len(ch);
	pl->data_left = data_len;
	pl->ddgst_on = ch->flags & PDU_FLAG_DDGSTF;
	pl->ddgst_left = pl->ddgst_on ? PDU_DIGEST_LEN : 0;
	pl->crc = PDU_CRC_INIT;
}

/* A CapsuleCmd header and a free request: take the command. */
static enum rx_rc rx_capsule_start(struct tcp_qpair *qp, struct tcp_req *r)
{
	uint32_t icd_len = pdu_data_len(&qp->hdr.ch), fei;
	int fes;

	fes = tcp_req_capsule(qp, r, icd_len, &fei);
	if (fes) {
		tcp_rx_fatal(qp, (uint16_t)fes, fei);
		return RX_STOP;
	}
	qp->pl.req = r;
	if (icd_len == 0) {
		rx_set_state(qp, TCP_RX_AWAIT_PDU_READY);
		tcp_req_capsule_done(r);
		return RX_CONTINUE;
	}
	rx_payload_init(qp, icd_len);
	rx_set_state(qp, TCP_RX_AWAIT_PAYLOAD);
	return RX_CONTINUE;
}

static enum rx_rc rx_capsule(struct tcp_qpair *qp)
{
	const struct nvmft_transport_opts *o = &qp->tt->base.opts;
	uint32_t limit = qp->base.sq_size;
	struct tcp_req *r;
	uint64_t skipped;

	if (!limit)	/* before Connect: the deeper of the two queue kinds */
		limit = o->max_queue_depth > o->max_aq_depth ?
			o->max_queue_depth : o->max_aq_depth;
	if (qp->nr_active >= limit) {
		if (tcp_log_limit(&qp->pg->log_limit, &skipped))
			TCP_LOG(qp->tt, NVMFT_LOG_WARN,
				"%s:%s: more than %u commands outstanding (%llu more not logged)",
				peer(qp), qp->addrs.peer.trsvcid, limit,
				(unsigned long long)skipped);
		tcp_rx_fatal(qp, PDU_FES_PDU_SEQUENCE_ERROR, 0);
		return RX_STOP;
	}
	r = tcp_req_get(qp);
	if (!r) {
		/* Slots whose response is still being sent: wait for one. */
		qp->pg->stats.rx_stalls++;
		rx_set_state(qp, TCP_RX_AWAIT_REQ);
		return RX_STOP;
	}
	return rx_capsule_start(qp, r);
}

static enum rx_rc rx_await_req(struct tcp_qpair *qp)
{
	struct tcp_req *r = tcp_req_get(qp);

	if (!r)
		return RX_STOP;
	return rx_capsule_start(qp, r);
}

/* Offsets of H2CData fields reported as FEI. */
#define FEI_H2C_CCCID	offsetof(struct pdu_h2c_data, cccid)
#define FEI_H2C_TTAG	offsetof(struct pdu_h2c_data, ttag)
#define FEI_H2C_DATAO	offsetof(struct pdu_h2c_data, datao)
#define FEI_H2C_DATAL	offsetof(struct pdu_h2c_data, datal)

static enum rx_rc rx_h2c_data(struct tcp_qpair *qp)
{
	const struct pdu_h2c_data *h = &qp->hdr.h2c;
	uint16_t ttag = le16toh(h->ttag);
	uint32_t datao = le32toh(h->datao), datal = le32toh(h->datal);
	struct tcp_rx_payload *pl = &qp->pl;
	struct tcp_req *r;
	size_t off;

	if (ttag >= qp->nreqs_used) {
		tcp_rx_fatal(qp, PDU_FES_INVALID_HEADER_FIELD, FEI_H2C_TTAG);
		return RX_STOP;
	}
	r = &qp->reqs[ttag];
	if (r->state != TCP_REQ_TRANSFERRING_H2C || !r->r2t) {
		tcp_rx_fatal(qp, PDU_FES_INVALID_HEADER_FIELD, FEI_H2C_TTAG);
		return RX_STOP;
	}
	if (le16toh(h->cccid) != r->req.cmd.cid) {
		tcp_rx_fatal(qp, PDU_FES_INVALID_HEADER_FIELD, FEI_H2C_CCCID);
		return RX_STOP;
	}
	if (datao != r->h2c_off) {
		tcp_rx_fatal(qp, PDU_FES_DATA_OUT_OF_RANGE, FEI_H2C_DATAO);
		return RX_STOP;
	}
	if ((uint64_t)datao + datal > r->req.length) {
		tcp_rx_fatal(qp, PDU_FES_DATA_OUT_OF_RANGE, FEI_H2C_DATAL);
		return RX_STOP;
	}
	r->h2c_off += datal;

	rx_payload_init(qp, datal);
	pl->req = r;
	pl->last = h->ch.flags & PDU_FLAG_LAST_PDU;
	pl->iov = r->req.iov;
	pl->iovcnt = r->req.iovcnt;
	/* position at datao */
	off = datao;
	pl->iov_idx = 0;
	while (pl->iov_idx < pl->iovcnt && off >= pl->iov[pl->iov_idx].iov_len) {
		off -= pl->iov[pl->iov_idx].iov_len;
		pl->iov_idx++;
	}
	pl->iov_off = off;
	rx_set_state(qp, TCP_RX_AWAIT_PAYLOAD);
	return RX_CONTINUE;
}

static enum rx_rc rx_await_psh(struct tcp_qpair *qp)
{
	const struct pdu_common *ch = &qp->hdr.ch;
	uint64_t skipped;
	uint32_t fei;
	int fes;

	if (!rx_fill_header(qp))
		return RX_NEED_DATA;
	if (qp->hdr_need > ch->hlen && !pdu_hdgst_ok(&qp->hdr)) {
		qp->pg->stats.hdgst_errors++;
		tcp_rx_fatal(qp, PDU_FES_HDGST_ERROR, 0);
		return RX_STOP;
	}
	fes = pdu_check_common(ch, PDU_DIR_H2C, rx_params(qp), qp->ic_done,
			       qp->max_plen, &fei);
	if (fes) {
		tcp_rx_fatal(qp, (uint16_t)fes, fei);
		return RX_STOP;
	}
	qp->pg->stats.pdus_in[ch->type]++;
	switch (ch->type) {
	case PDU_ICREQ:
		return rx_icreq(qp);
	case PDU_H2C_TERM_REQ:
		qp->pg->stats.term_reqs_received++;
		if (tcp_log_limit(&qp->pg->log_proto, &skipped))
			TCP_LOG(qp->tt, NVMFT_LOG_NOTICE,
				"%s:%s: H2CTermReq FES %u FEI %u: closing (%llu more protocol errors not logged)",
				peer(qp), qp->addrs.peer.trsvcid,
				le16toh(qp->hdr.term.fes), le32toh(qp->hdr.term.fei),
				(unsigned long long)skipped);
		rx_set_state(qp, TCP_RX_QUIESCING);
		tcp_qpair_disconnect(qp);
		return RX_STOP;
	case PDU_CAPSULE_CMD:
		return rx_capsule(qp);
	case PDU_H2C_DATA:
		return rx_h2c_data(qp);
	default:
		/* pdu_check_common let a C2H-only type through: cannot be. */
		tcp_rx_fatal(qp, PDU_FES_INVALID_HEADER_FIELD, 0);
		return RX_STOP;
	}
}

/* Account @n bytes of data that landed at the current destination. */
static void pl_advance(struct tcp_rx_payload *pl, const void *data, size_t n)
{
	if (pl->ddgst_on)
		pl->crc = pdu_crc_update(pl->crc, data, n);
	pl->data_left -= (uint32_t)n;
	if (!pl->iov)
		return;
	pl->iov_off += n;
	if (pl->iov_off == pl->iov[pl->iov_idx].iov_len) {
		pl->iov_idx++;
		pl->iov_off = 0;
	}
}

static enum rx_rc rx_payload_done(struct tcp_qpair *qp)
{
	struct tcp_rx_payload *pl = &qp->pl;
	struct tcp_req *r = pl->req;
	bool bad = pl->ddgst_on &&
		   pdu_digest_get(pl->ddgst) != pdu_crc_final(pl->crc);

	if (bad) {
		uint64_t skipped;

		if (tcp_log_limit(&qp->pg->log_proto, &skipped))
			TCP_LOG(qp->tt, NVMFT_LOG_WARN,
				"%s:%s: data digest error in %s (cid %u; %llu more protocol errors not logged)",
				peer(qp), qp->addrs.peer.trsvcid,
				pdu_type_name(qp->hdr.ch.type), r->req.cmd.cid,
				(unsigned long long)skipped);
		tcp_req_data_digest_error(r);
	}
	rx_set_state(qp, TCP_RX_AWAIT_PDU_READY);
	if (qp->hdr.ch.type == PDU_CAPSULE_CMD)
		tcp_req_capsule_done(r);
	else
		tcp_req_h2c_done(r, pl->last);
	return RX_CONTINUE;
}

static enum rx_rc rx_await_payload(struct tcp_qpair *qp)
{
	struct tcp_rx_payload *pl = &qp->pl;
	uint32_t n;

	if (pl->pad_left) {
		n = pl->pad_left < staged(qp) ? pl->pad_left : staged(qp);
		qp->rx_head += n;
		pl->pad_left -= n;
		if (pl->pad_left)
			return RX_NEED_DATA;
	}
	while (pl->data_left) {
		const uint8_t *src = qp->rxbuf + qp->rx_head;
		size_t seg = SIZE_MAX;
		uint8_t *dst = NULL;

		if (pl->iov) {
			dst = (uint8_t *)pl->iov[pl->iov_idx].iov_base + pl->iov_off;
			seg = pl->iov[pl->iov_idx].iov_len - pl->iov_off;
		}
		if (!staged(qp)) {
			/* Big remainder: straight into the request's buffer. */
			if (dst && seg >= TCP_RX_DIRECT_MIN &&
			    pl->data_left >= TCP_RX_DIRECT_MIN) {
				qp->rx_direct = true;
				qp->rx_direct_len = (uint32_t)(seg < pl->data_left ?
							       seg : pl->data_left);
			}
			return RX_NEED_DATA;
		}
		n = pl->data_left < staged(qp) ? pl->data_left : staged(qp);
		if (n > seg)
			n = (uint32_t)seg;
		if (dst)
			memcpy(dst, src, n);
		qp->rx_head += n;
		pl_advance(pl, src, n);
	}
	if (pl->ddgst_left) {
		n = pl->ddgst_left < staged(qp) ? pl->ddgst_left : staged(qp);
		memcpy(pl->ddgst + PDU_DIGEST_LEN - pl->ddgst_left,
		       qp->rxbuf + qp->rx_head, n);
		qp->rx_head += n;
		pl->ddgst_left -= n;
		if (pl->ddgst_left)
			return RX_NEED_DATA;
	}
	return rx_payload_done(qp);
}

/* ---- driver ------------------------------------------------------------------- */

static void rx_post(struct tcp_qpair *qp)
{
	struct tcp_rx_payload *pl = &qp->pl;
	int rc;

	if (qp->closing || !qp->sock)
		return;
	if (qp->rx_direct) {
		rc = qp->sops->recv(qp->sock, (uint8_t *)pl->iov[pl->iov_idx].iov_base +
				pl->iov_off, qp->rx_direct_len);
	} else {
		qp->rx_head = qp->rx_tail = 0;
		rc = qp->sops->recv(qp->sock, qp->rxbuf, TCP_RX_BUF_SIZE);
	}
	if (rc) {
		TCP_LOG(qp->tt, NVMFT_LOG_ERR, "%s:%s: cannot receive: %s",
			peer(qp), qp->addrs.peer.trsvcid, strerror(-rc));
		qp->rx_direct = false;
		tcp_qpair_disconnect(qp);
	}
}

void tcp_rx_process(struct tcp_qpair *qp)
{
	unsigned int budget = TCP_RX_BUDGET;
	enum rx_rc rc = RX_CONTINUE;

	if (!qp->sock || qp->closing || qp->sops->recv_pending(qp->sock))
		return;
	while (rc == RX_CONTINUE) {
		if (qp->closing)
			return;
		switch (qp->rx_state) {
		case TCP_RX_AWAIT_PDU_READY:
			if (budget == 0) {
				if (staged(qp)) {
					qp->pg->stats.rx_yields++;
					tcp_pg_schedule_rx(qp);
					return;
				}
				rc = RX_NEED_DATA;
				break;
			}
			budget--;
			rc = rx_await_pdu_ready(qp);
			break;
		case TCP_RX_AWAIT_CH:
			rc = rx_await_ch(qp);
			break;
		case TCP_RX_AWAIT_PSH:
			rc = rx_await_psh(qp);
			break;
		case TCP_RX_AWAIT_REQ:
			rc = rx_await_req(qp);
			break;
		case TCP_RX_AWAIT_PAYLOAD:
			rc = rx_await_payload(qp);
			break;
		case TCP_RX_ERROR:
		case TCP_RX_QUIESCING:
		default:
			rc = RX_STOP;
			break;
		}
	}
	if (rc == RX_NEED_DATA)
		rx_post(qp);
}

void tcp_recv_done(struct nsock *s, void *ctx, int res)
{
	struct tcp_qpair *qp = ctx;

	(void)s;
	if (res <= 0) {
		qp->rx_direct = false;
		if (qp->closing)
			return;
		if (res == 0)
			TCP_LOG(qp->tt, NVMFT_LOG_DEBUG, "%s:%s: peer closed",
				peer(qp), qp->addrs.peer.trsvcid);
		else
			TCP_LOG(qp->tt, NVMFT_LOG_INFO, "%s:%s: receive: %s",
				peer(qp), qp->addrs.peer.trsvcid, strerror(-res));
		tcp_qpair_disconnect(qp);
		return;
	}
	qp->pg->stats.bytes_in += (uint64_t)res;
	if (qp->closing || qp->rx_state == TCP_RX_ERROR ||
	    qp->rx_state == TCP_RX_QUIESCING)
		return;
	if (qp->rx_direct) {
		struct tcp_rx_payload *pl = &qp->pl;
		const uint8_t *at = (const uint8_t *)pl->iov[pl->iov_idx].iov_base +
				    pl->iov_off;

		qp->rx_direct = false;
		pl_advance(pl, at, (size_t)res);
	} else {
		qp->rx_tail += (uint32_t)res;
	}
	tcp_rx_process(qp);
	/* Responses made by this batch leave in one send, now. */
	tcp_tx_flush(qp);
}
