/* SPDX-License-Identifier: MIT */
/*
 * Send side of a TCP qpair. Entries (ICResp, C2HTermReq, R2T, a request's
 * C2HData + CapsuleResp) wait in a FIFO; tcp_tx_flush turns as many as fit
 * into one gather send: headers, pads and data digests are written into a
 * per-qpair arena (consecutive small PDUs share one iovec), data goes by
 * reference to the request's buffers. One send is in flight per socket;
 * what queues meanwhile goes out in the next one. The arena and the
 * entries in the send stay untouched until send_done, and a request is
 * recycled only after the send holding its last byte completed.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "tcp/tcp_internal.h"

/* Worst case iovecs of one C2HData: header(+pad), data slices, digest. */
#define C2H_MAX_SLICES	4

int tcp_iov_slice(struct iovec *out, int max, const struct iovec *iov,
		  int iovcnt, uint32_t off, uint32_t len, uint32_t *covered)
{
	uint32_t got = 0;
	int n = 0;

	for (int i = 0; i < iovcnt && got < len && n < max; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= (uint32_t)l;
			continue;
		}
		l -= off;
		if (l > len - got)
			l = len - got;
		out[n].iov_base = (uint8_t *)iov[i].iov_base + off;
		out[n].iov_len = l;
		n++;
		got += (uint32_t)l;
		off = 0;
	}
	*covered = got;
	return n;
}

void tcp_tx_queue(struct tcp_qpair *qp, struct tcp_tx *tx)
{
	tx->next = NULL;
	*qp->txq_tail = tx;
	qp->txq_tail = &tx->next;
	tcp_pg_schedule_flush(qp);
}

void tcp_tx_drop(struct tcp_qpair *qp)
{
	qp->txq_head = NULL;
	qp->txq_tail = &qp->txq_head;
	qp->sent_head = NULL;
	qp->sent_tail = &qp->sent_head;
	qp->tx_iovcnt = 0;
	qp->arena_used = 0;
}

void tcp_tx_term_req(struct tcp_qpair *qp, uint16_t fes, uint32_t fei,
		     const void *hdr, uint32_t hdr_len)
{
	if (hdr_len > PDU_TERM_MAX_DATA)
		hdr_len = PDU_TERM_MAX_DATA;
	qp->term_fes = fes;
	qp->term_fei = fei;
	qp->term_len = hdr_len;
	if (hdr_len)
		memcpy(qp->term_data, hdr, hdr_len);
	qp->tx_term.kind = TCP_TX_TERM;
	qp->tx_term.req = NULL;
	if (qp->pg)
		qp->pg->stats.term_reqs_sent++;
	tcp_tx_queue(qp, &qp->tx_term);
}

/* ---- building one gather list --------------------------------------------- */

static bool room(const struct tcp_qpair *qp, int iovs, uint32_t bytes)
{
	return qp->tx_iovcnt + iovs <= NSOCK_MAX_IOV &&
	       qp->arena_used + bytes <= TCP_TX_ARENA_SIZE;
}

/* Copy into the arena; extend the last iovec when it ends right there. */
static void *arena_put(struct tcp_qpair *qp, const void *src, uint32_t len)
{
	uint8_t *dst = qp->arena + qp->arena_used;
	struct iovec *last = qp->tx_iovcnt ? &qp->tx_iov[qp->tx_iovcnt - 1] : NULL;

	if (src)
		memcpy(dst, src, len);
	else
		memset(dst, 0, len);
	qp->arena_used += len;
	if (last && (uint8_t *)last->iov_base + last->iov_len == dst)
		last->iov_len += len;
	else
		qp->tx_iov[qp->tx_iovcnt++] = (struct iovec){ dst, len };
	return dst;
}

static void iov_put(struct tcp_qpair *qp, void *base, size_t len)
{
	qp->tx_iov[qp->tx_iovcnt++] = (struct iovec){ base, len };
}

static void count_out(struct tcp_qpair *qp, uint8_t type)
{
	if (type < TCP_PDU_TYPES)
		qp->pg->stats.pdus_out[type]++;
}

/* A header-only PDU: true when it fit. */
static bool emit_header(struct tcp_qpair *qp, const union pdu_hdr *h, size_t len)
{
	if (!room(qp, 1, (uint32_t)len))
		return false;
	arena_put(qp, h->raw, (uint32_t)len);
	count_out(qp, h->ch.type);
	return true;
}

static bool emit_icresp(struct tcp_qpair *qp)
{
	union pdu_hdr h;
	size_t len;
	uint8_t digest = (qp->params.hdgst ? PDU_DIGEST_HDGST : 0) |
			 (qp->params.ddgst ? PDU_DIGEST_DDGST : 0);

	len = pdu_enc_icresp(&h, qp->params.cpda, digest,
			     qp->tt->base.opts.io_unit_size);
	return emit_header(qp, &h, len);
}

static bool emit_term(struct tcp_qpair *qp)
{
	union pdu_hdr h;
	size_t len;

	len = pdu_enc_term_req(&h, PDU_DIR_C2H, qp->term_fes, qp->term_fei,
			       qp->term_len);
	if (!room(qp, 1, (uint32_t)len + qp->term_len))
		return false;
	arena_put(qp, h.raw, (uint32_t)len);
	if (qp->term_len)
		arena_put(qp, qp->term_data, qp->term_len);
	count_out(qp, h.ch.type);
	return true;
}

static bool emit_r2t(struct tcp_qpair *qp, struct tcp_req *r)
{
	union pdu_hdr h;
	size_t len;

	/* One R2T for all the data; the host cuts it into MAXH2CDATA PDUs. */
	len = pdu_enc_r2t(&h, &qp->params, r->req.cmd.cid, r->ttag, 0,
			  r->req.length);
	return emit_header(qp, &h, len);
}

/* The SUCCESS flag replaces the CapsuleResp: only allowed when the host
 * disabled SQ flow control (no SQHD to report), and only for a plain
 * success with nothing in the result. */
static bool use_success(const struct tcp_qpair *qp, const struct tcp_req *r)
{
	return qp->tt->base.opts.c2h_success && !qp->base.sq_flow_control &&
	       r->req.rsp.status == 0 && r->req.rsp.result == 0;
}

/* C2HData PDUs of at most io_unit_size, then the CapsuleResp. True when
 * everything of @r is in the gather list. */
static bool emit_rsp(struct tcp_qpair *qp, struct tcp_req *r)
{
	uint32_t unit = qp->tt->base.opts.io_unit_size;
	bool success = use_success(qp, r);
	union pdu_hdr h;
	size_t len;

	while (r->state == TCP_REQ_TRANSFERRING_C2H && r->c2h_off < r->req.length) {
		struct iovec sl[C2H_MAX_SLICES];
		uint32_t chunk = r->req.length - r->c2h_off, pad;
		bool last;
		int n;

		if (chunk > unit)
			chunk = unit;
		/* A PDU never spans more than a few buffers; if it would,
		 * it just carries less. */
		n = tcp_iov_slice(sl, C2H_MAX_SLICES, r->req.iov, r->req.iovcnt,
				  r->c2h_off, chunk, &chunk);
		if (n == 0 || chunk == 0)
			break;	/* iovecs shorter than length: answer anyway */
		if (!room(qp, 2 + n, PDU_MAX_HDR + PDU_MAX_PAD + PDU_DIGEST_LEN))
			return false;
		last = r->c2h_off + chunk == r->req.length;
		len = pdu_enc_c2h_data(&h, &qp->params, r->req.cmd.cid,
				       r->c2h_off, chunk, last, last && success);
		pad = pdu_pad_len(&h.ch);
		arena_put(qp, h.raw, (uint32_t)len);
		if (pad)
			arena_put(qp, NULL, pad);
		for (int i = 0; i < n; i++)
			iov_put(qp, sl[i].iov_base, sl[i].iov_len);
		if (qp->params.ddgst) {
			uint8_t dg[PDU_DIGEST_LEN];

			pdu_ddgst_set(dg, sl, n);
			arena_put(qp, dg, PDU_DIGEST_LEN);
		}
		count_out(qp, PDU_C2H_DATA);
		r->c2h_off += chunk;
		if (last && success)
			return true;
	}
	len = pdu_enc_capsule_resp(&h, &qp->params, &r->req.rsp);
	return emit_header(qp, &h, len);
}

static bool emit(struct tcp_qpair *qp, struct tcp_tx *tx)
{
	switch (tx->kind) {
	case TCP_TX_ICRESP:
		return emit_icresp(qp);
	case TCP_TX_TERM:
		return emit_term(qp);
	case TCP_TX_R2T:
		return emit_r2t(qp, tx->req);
	case TCP_TX_RSP:
		return emit_rsp(qp, tx->req);
	}
	return true;
}

void tcp_tx_flush(struct tcp_qpair *qp)
{
	struct tcp_tx *tx;
	int rc;

	if (qp->closing || !qp->sock || !qp->txq_head ||
	    qp->sops->send_pending(qp->sock))
		return;
	qp->arena_used = 0;
	qp->tx_iovcnt = 0;
	while ((tx = qp->txq_head) && !qp->term_queued_out) {
		if (!emit(qp, tx))
			break;
		qp->txq_head = tx->next;
		if (!qp->txq_head)
			qp->txq_tail = &qp->txq_head;
		tx->next = NULL;
		*qp->sent_tail = tx;
		qp->sent_tail = &tx->next;
		/* A C2HTermReq is the last PDU of a connection: what completes
		 * after the fatal error stays queued until the close drops it. */
		if (tx->kind == TCP_TX_TERM)
			qp->term_queued_out = true;
	}
	if (!qp->tx_iovcnt)
		return;
	rc = qp->sops->sendv(qp->sock, qp->tx_iov, qp->tx_iovcnt);
	if (rc) {
		TCP_LOG(qp->tt, NVMFT_LOG_ERR, "%s:%s: send failed: %s",
			qp->addrs.peer.traddr, qp->addrs.peer.trsvcid,
			strerror(-rc));
		tcp_qpair_disconnect(qp);
	}
}

void tcp_send_done(struct nsock *s, void *ctx, int res)
{
	struct tcp_qpair *qp = ctx;
	struct tcp_tx *tx, *next;
	bool term = false;

	(void)s;
	tx = qp->sent_head;
	qp->sent_head = NULL;
	qp->sent_tail = &qp->sent_head;
	if (res < 0) {
		/* The requests are recycled once the sock is closed. */
		if (!qp->closing) {
			TCP_LOG(qp->tt, NVMFT_LOG_INFO, "%s:%s: send: %s",
				qp->addrs.peer.traddr, qp->addrs.peer.trsvcid,
				strerror(-res));
			tcp_qpair_disconnect(qp);
		}
		return;
	}
	qp->pg->stats.bytes_out += (uint64_t)res;
	for (; tx; tx = next) {
		next = tx->next;
		tx->next = NULL;
		switch (tx->kind) {
		case TCP_TX_RSP:
			tcp_req_sent(tx->req);
			break;
		case TCP_TX_TERM:
			term = true;
			break;
		default:
			break;
		}
	}
	if (term) {
		qp->term_sent = true;
		tcp_qpair_disconnect(qp);
		return;
	}
	if (qp->closing)
		return;
	tcp_tx_flush(qp);
}
