/* SPDX-License-Identifier: MIT */
/*
 * Send side of a host qpair: a FIFO of PDUs flushed with one gather write
 * per turn. Each PDU remembers how many of its bytes went out, so a short
 * write resumes in the middle of a header, a padding or a data slice.
 */
#include <errno.h>
#include <sys/socket.h>
#include "host_internal.h"

/* Padding is at most (31 + 1) * 4 - 1 bytes; it is never written to. */
static const uint8_t zero_pad[128];

uint32_t iov_total(const struct iovec *iov, int iovcnt)
{
	uint64_t t = 0;

	for (int i = 0; i < iovcnt; i++)
		t += iov[i].iov_len;
	return t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

/*
 * Describe bytes [off, off + len) of @iov in @out. Returns the entries
 * used, or -1 when more than @max would be needed or the range is out of
 * @iov.
 */
int iov_slice(struct iovec *out, int max, const struct iovec *iov, int iovcnt,
	      uint32_t off, uint32_t len)
{
	int n = 0;

	for (int i = 0; i < iovcnt && len; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		size_t take = l - off;

		if (take > len)
			take = len;
		if (n == max)
			return -1;
		out[n].iov_base = (uint8_t *)iov[i].iov_base + off;
		out[n].iov_len = take;
		n++;
		len -= take;
		off = 0;
	}
	return len ? -1 : n;
}

void tx_enqueue(struct nvmft_host_qpair *qp, struct tx_pdu *p)
{
	p->next = NULL;
	p->sent = 0;
	p->total = p->hdr_len + p->pad_len + p->data_len +
		   (p->has_ddgst ? PDU_DIGEST_LEN : 0);
	if (qp->tx_tail)
		qp->tx_tail->next = p;
	else
		qp->tx_head = p;
	qp->tx_tail = p;
}

static bool add_seg(struct iovec *out, int *n, int max, const void *base,
		    uint32_t len, uint32_t *skip)
{
	if (*skip >= len) {
		*skip -= len;
		return true;
	}
	if (*n == max)
		return false;
	out[*n].iov_base = (uint8_t *)base + *skip;
	out[*n].iov_len = len - *skip;
	(*n)++;
	*skip = 0;
	return true;
}

/*
 * Append what is left of @p to @out. Returns false when it did not fit
 * whole: nothing behind it may be added then, so that bytes leave in order.
 */
static bool tx_pdu_iov(const struct tx_pdu *p, struct iovec *out, int *n, int max)
{
	uint32_t skip = p->sent;

	if (!add_seg(out, n, max, p->hdr.raw, p->hdr_len, &skip))
		return false;
	if (p->pad_len && !add_seg(out, n, max, zero_pad, p->pad_len, &skip))
		return false;
	if (p->data_len) {
		if (skip >= p->data_len) {
			skip -= p->data_len;
		} else {
			int k = iov_slice(out + *n, max - *n, p->iov, p->iovcnt,
					  p->data_off + skip, p->data_len - skip);

			if (k < 0)
				return false;
			*n += k;
			skip = 0;
		}
	}
	if (p->has_ddgst && !add_seg(out, n, max, p->ddgst, PDU_DIGEST_LEN, &skip))
		return false;
	return true;
}

/* Build the next H2CData PDU answering the current R2T of @req. */
void tx_setup_h2c(struct nvmft_host_qpair *qp, struct host_req *req)
{
	struct tx_pdu *p = &req->tx;
	uint32_t left = req->r2t_end - req->h2c_off;
	uint32_t chunk = left < qp->params.maxh2cdata ? left : qp->params.maxh2cdata;
	bool last = chunk == left;

	p->hdr_len = pdu_enc_h2c_data(&p->hdr, &qp->params, req->cid, req->ttag,
				      req->h2c_off, chunk, last);
	p->pad_len = pdu_pad_len(&p->hdr.ch);
	p->iov = req->iov;
	p->iovcnt = req->iovcnt;
	p->data_off = req->h2c_off;
	p->data_len = chunk;
	p->has_ddgst = qp->params.ddgst;
	if (p->has_ddgst) {
		struct iovec v[NVMFT_HOST_MAX_IOV];
		int k = iov_slice(v, NVMFT_HOST_MAX_IOV, req->iov, req->iovcnt,
				  req->h2c_off, chunk);

		pdu_ddgst_set(p->ddgst, v, k < 0 ? 0 : k);
	}
	p->req = req;
	tx_enqueue(qp, p);
}

/* A PDU left whole: move its request on. */
static void tx_pdu_sent(struct nvmft_host_qpair *qp, struct tx_pdu *p)
{
	struct host_req *req = p->req;

	qp->stats.pdus_tx++;
	if (!req)
		return;
	if (req->state == REQ_TX_CMD) {
		qpair_req_set_state(qp, req, REQ_WAIT);
	} else if (req->state == REQ_TX_H2C) {
		qp->stats.h2c++;
		req->h2c_off += p->data_len;
		if (req->h2c_off < req->r2t_end)
			tx_setup_h2c(qp, req);
		else
			qpair_req_set_state(qp, req, REQ_WAIT);
	}
}

/*
 * Write as much of the queue as the socket takes. Returns 0 (queue empty
 * or socket full) or a negative errno after failing the qpair.
 */
int tx_flush(struct nvmft_host_qpair *qp)
{
	while (qp->tx_head && qp->fd >= 0) {
		struct iovec iov[HOST_TX_IOV_MAX];
		int n = 0;

		for (struct tx_pdu *p = qp->tx_head; p; p = p->next)
			if (!tx_pdu_iov(p, iov, &n, HOST_TX_IOV_MAX))
				break;

		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n };
		ssize_t r = sendmsg(qp->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			int err = -errno;

			qpair_fail(qp, err);
			return err;
		}
		size_t left = (size_t)r;

		while (left && qp->tx_head) {
			struct tx_pdu *p = qp->tx_head;
			uint32_t rem = p->total - p->sent;

			if (left < rem) {
				p->sent += left;
				break;
			}
			left -= rem;
			p->sent = p->total;
			qp->tx_head = p->next;
			if (!qp->tx_head)
				qp->tx_tail = NULL;
			p->next = NULL;
			tx_pdu_sent(qp, p);
		}
	}
	return qp->fd >= 0 ? 0 : qp->err;
}

void tx_reset(struct nvmft_host_qpair *qp)
{
	qp->tx_head = NULL;
	qp->tx_tail = NULL;
}
