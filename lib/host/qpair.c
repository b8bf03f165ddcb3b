/* SPDX-License-Identifier: MIT */
/*
 * Host qpair: lifecycle, request slots, submission, completion, failure,
 * the poll and wait loops, raw access for tests.
 *
 * Request slots are made once (queue size - 1 of them) and the command
 * identifier is the slot index, so a controller PDU finds its command by
 * indexing. Every request state change goes through qpair_req_set_state()
 * which keeps per-state counts.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/socket.h>
#include <nvme/types.h>
#include "host_internal.h"

#define PSDT_SGL	0x40	/* PSDT 01b: SGLs, as fabrics commands require */
#define PSDT_MASK	0xc0

void qpair_req_set_state(struct nvmft_host_qpair *qp, struct host_req *req,
			 enum req_state st)
{
	qp->state_count[req->state]--;
	qp->state_count[st]++;
	req->state = st;
}

int qpair_create(struct nvmft_host_ctrlr *ctrlr, uint16_t qid, uint16_t qsize,
		 struct nvmft_host_qpair **out)
{
	struct nvmft_host_qpair *qp;

	if (qsize < 2)
		return -EINVAL;
	qp = calloc(1, sizeof(*qp));
	if (!qp)
		return -ENOMEM;
	qp->ctrlr = ctrlr;
	qp->fd = -1;
	qp->qid = qid;
	qp->qsize = qsize;
	qp->state = QP_IC;
	qp->cmd_timeout_ms = ctrlr->opts.cmd_timeout_ms;
	qp->max_xfer = ctrlr->max_xfer;
	qp->icd_max = qid ? ctrlr->io_icd : HOST_ADMIN_ICD;
	qp->nreqs = qsize - 1;
	qp->reqs = calloc(qp->nreqs, sizeof(*qp->reqs));
	if (!qp->reqs)
		goto out_free_qp;
	qp->rx_buf = malloc(HOST_RX_BUF_SIZE);
	if (!qp->rx_buf)
		goto out_free_reqs;
	for (int i = qp->nreqs - 1; i >= 0; i--) {
		qp->reqs[i].cid = i;
		qp->reqs[i].next_free = qp->free_list;
		qp->free_list = &qp->reqs[i];
	}
	qp->state_count[REQ_FREE] = qp->nreqs;
	rx_reset(qp);
	*out = qp;
	return 0;

out_free_reqs:
	free(qp->reqs);
out_free_qp:
	free(qp);
	return -ENOMEM;
}

/* Close the socket and complete whatever is outstanding with @err. */
void qpair_fail(struct nvmft_host_qpair *qp, int err)
{
	if (qp->state == QP_FAILED)
		return;
	if (err != -ESHUTDOWN)
		host_log(qp->ctrlr, LOG_ERR, "qid %u failed: %s", qp->qid, strerror(-err));
	qp->state = QP_FAILED;
	qp->err = err;
	if (qp->fd >= 0) {
		close(qp->fd);
		qp->fd = -1;
	}
	tx_reset(qp);
	rx_reset(qp);
	qp->ka_outstanding = false;
	for (unsigned int i = 0; i < qp->nreqs; i++) {
		struct host_req *req = &qp->reqs[i];

		if (req->state != REQ_FREE)
			qpair_complete(qp, req, NVMFT_STATUS(NVME_SCT_PATH,
							     NVME_SC_HOST_PATH_ERROR), 0);
	}
}

/*
 * The controller broke the protocol: tell it with an H2CTermReq carrying
 * the offending header when the send stream is between PDUs (best effort,
 * never blocks), then fail.
 */
void qpair_fail_proto(struct nvmft_host_qpair *qp, uint16_t fes, uint32_t fei,
		      const char *why)
{
	union pdu_hdr term;
	uint32_t hdr_bytes = qp->rx_state == RX_CH ? qp->rx_got : qp->rx_need;
	uint32_t data = hdr_bytes < PDU_TERM_MAX_DATA ? hdr_bytes : PDU_TERM_MAX_DATA;

	host_log(qp->ctrlr, LOG_ERR,
		 "qid %u: protocol error: %s (%s PDU, FES 0x%x FEI %u)",
		 qp->qid, why, pdu_type_name(qp->rx_hdr.ch.type), fes, fei);
	if (qp->fd >= 0 && qp->state != QP_FAILED &&
	    (!qp->tx_head || qp->tx_head->sent == 0)) {
		size_t hl = pdu_enc_term_req(&term, PDU_DIR_H2C, fes, fei, data);
		struct iovec iov[2] = {
			{ .iov_base = term.raw, .iov_len = hl },
			{ .iov_base = qp->rx_hdr.raw, .iov_len = data },
		};
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

		(void)!sendmsg(qp->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	qpair_fail(qp, -EPROTO);
}

void qpair_destroy(struct nvmft_host_qpair *qp)
{
	if (!qp)
		return;
	qpair_fail(qp, -ESHUTDOWN);
	/* every slot must be back: anything else is a lost request */
	if (qp->state_count[REQ_FREE] != qp->nreqs)
		host_log(qp->ctrlr, LOG_ERR, "qid %u: %u request(s) not freed at teardown",
			 qp->qid, qp->nreqs - qp->state_count[REQ_FREE]);
	free(qp->rx_buf);
	free(qp->reqs);
	free(qp);
}

void qpair_complete(struct nvmft_host_qpair *qp, struct host_req *req,
		    uint16_t status, uint64_t result)
{
	struct nvmft_host_cpl cpl = {
		.result = result,
		.status = status,
		.cid = req->cid,
		.err = qp->state == QP_FAILED ? qp->err : 0,
	};
	nvmft_host_cb cb = req->cb;
	void *arg = req->cb_arg;

	/* Free the slot first: the callback may submit again. */
	qpair_req_set_state(qp, req, REQ_FREE);
	req->next_free = qp->free_list;
	qp->free_list = req;
	qp->outstanding--;
	qp->stats.completed++;
	qp->rx_completions++;
	cb(arg, &cpl);
}

int qpair_submit(struct nvmft_host_qpair *qp, const struct nvmft_sqe *sqe,
		 const struct iovec *iov, int iovcnt, enum nvmft_host_dir dir,
		 bool force_incapsule, nvmft_host_cb cb, void *cb_arg)
{
	struct host_req *req;
	struct tx_pdu *p;
	uint32_t len;

	if (qp->state == QP_FAILED)
		return qp->err ? qp->err : -ENOTCONN;
	if (qp->state == QP_IC || (qp->state == QP_CONNECTING && !force_incapsule))
		return -ENOTCONN;
	if (!cb || !sqe || iovcnt < 0 || iovcnt > NVMFT_HOST_MAX_IOV ||
	    (iovcnt && !iov) || dir > NVMFT_HOST_DIR_READ)
		return -EINVAL;
	len = iov_total(iov, iovcnt);
	if (!len)
		dir = NVMFT_HOST_DIR_NONE;
	else if (dir == NVMFT_HOST_DIR_NONE || len > qp->max_xfer)
		return -EINVAL;
	req = qp->free_list;
	if (!req)
		return -EAGAIN;
	qp->free_list = req->next_free;

	req->sqe = *sqe;
	req->sqe.cid = htole16(req->cid);
	req->sqe.flags = (sqe->flags & ~PSDT_MASK) | PSDT_SGL;
	memset(&req->sqe.sgl, 0, sizeof(req->sqe.sgl));
	req->dir = dir;
	req->len = len;
	req->iovcnt = iovcnt;
	if (iovcnt)
		memcpy(req->iov, iov, iovcnt * sizeof(*iov));
	req->incapsule = dir == NVMFT_HOST_DIR_WRITE &&
			 (force_incapsule || len <= qp->icd_max);
	req->err_status = 0;
	req->c2h_next = 0;
	req->cb = cb;
	req->cb_arg = cb_arg;
	req->sqe.sgl.length = htole32(len);
	req->sqe.sgl.type = req->incapsule ? NVMFT_SGL_INCAPSULE : NVMFT_SGL_TRANSPORT;

	p = &req->tx;
	p->hdr_len = pdu_enc_capsule_cmd(&p->hdr, &qp->params, &req->sqe,
					 req->incapsule ? len : 0);
	p->pad_len = pdu_pad_len(&p->hdr.ch);
	p->iov = req->iov;
	p->iovcnt = req->iovcnt;
	p->data_off = 0;
	p->data_len = req->incapsule ? len : 0;
	p->has_ddgst = p->data_len && qp->params.ddgst;
	if (p->has_ddgst)
		pdu_ddgst_set(p->ddgst, req->iov, req->iovcnt);
	p->req = req;

	qpair_req_set_state(qp, req, REQ_TX_CMD);
	qp->outstanding++;
	qp->stats.submitted++;
	tx_enqueue(qp, p);
	return 0;
}

int nvmft_host_submitv(struct nvmft_host_qpair *qp, const struct nvmft_sqe *sqe,
		       const struct iovec *iov, int iovcnt, enum nvmft_host_dir dir,
		       nvmft_host_cb cb, void *cb_arg)
{
	return qpair_submit(qp, sqe, iov, iovcnt, dir, false, cb, cb_arg);
}

int nvmft_host_submit(struct nvmft_host_qpair *qp, const struct nvmft_sqe *sqe,
		      void *buf, uint32_t len, enum nvmft_host_dir dir,
		      nvmft_host_cb cb, void *cb_arg)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	if (len && !buf)
		return -EINVAL;
	return qpair_submit(qp, sqe, &iov, len ? 1 : 0, dir, false, cb, cb_arg);
}

static void ka_done(void *arg, const struct nvmft_host_cpl *cpl)
{
	struct nvmft_host_qpair *qp = arg;

	qp->ka_outstanding = false;
	if (cpl->status && !cpl->err)
		host_log(qp->ctrlr, LOG_WARNING, "Keep Alive failed: status 0x%x",
			 cpl->status);
}

/* Admin queue: a Keep Alive every kato/2, sent from the poll path. */
void qpair_keep_alive_tick(struct nvmft_host_qpair *qp)
{
	uint32_t kato = qp->ctrlr->opts.kato_ms;
	struct nvmft_sqe sqe = { .opcode = nvme_admin_keep_alive };
	uint64_t now;

	if (!kato || qp->state != QP_LIVE || qp->ka_outstanding)
		return;
	now = host_now_ns();
	if (now < qp->ka_next_ns)
		return;
	if (qpair_submit(qp, &sqe, NULL, 0, NVMFT_HOST_DIR_NONE, false, ka_done, qp))
		return;	/* queue full: next turn */
	qp->ka_outstanding = true;
	qp->ka_next_ns = now + (uint64_t)kato * 1000000 / 2;
}

int nvmft_host_qpair_poll(struct nvmft_host_qpair *qp, unsigned int max)
{
	if (qp->state == QP_FAILED)
		return qp->err;
	if (qp->qid == 0)
		qpair_keep_alive_tick(qp);
	qp->rx_completions = 0;
	if (tx_flush(qp) < 0 || rx_process(qp, max) < 0 || tx_flush(qp) < 0)
		return qp->err;
	return qp->rx_completions;
}

static bool wait_done(const struct nvmft_host_qpair *qp, const bool *done)
{
	return done ? *done : qp->outstanding == 0;
}

int qpair_wait_until(struct nvmft_host_qpair *qp, const bool *done, int timeout_ms)
{
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX :
			    host_now_ns() + (uint64_t)timeout_ms * 1000000;

	for (;;) {
		int r = nvmft_host_qpair_poll(qp, 0);

		/* Without a flag, "all completed" by failing is still a failure. */
		if (wait_done(qp, done))
			return done ? 0 : nvmft_host_qpair_error(qp);
		if (r < 0)
			return r;
		if (r > 0 || qp->rx_head != qp->rx_tail)
			continue;
		uint64_t now = host_now_ns();

		if (now >= deadline)
			return -ETIMEDOUT;
		/* Wake up now and then for the automatic Keep Alive. */
		uint64_t left_ms = (deadline - now + 999999) / 1000000;
		struct pollfd pfd = {
			.fd = qp->fd,
			.events = nvmft_host_qpair_events(qp),
		};

		(void)poll(&pfd, 1, left_ms > 100 ? 100 : (int)left_ms);
	}
}

int nvmft_host_qpair_wait(struct nvmft_host_qpair *qp, const bool *done, int timeout_ms)
{
	return qpair_wait_until(qp, done, timeout_ms);
}

struct sync_ctx {
	bool done;
	struct nvmft_host_cpl cpl;
};

static void sync_done(void *arg, const struct nvmft_host_cpl *cpl)
{
	struct sync_ctx *ctx = arg;

	ctx->cpl = *cpl;
	ctx->done = true;
}

int qpair_cmd_sync(struct nvmft_host_qpair *qp, const struct nvmft_sqe *sqe,
		   const struct iovec *iov, int iovcnt, enum nvmft_host_dir dir,
		   bool force_incapsule, int timeout_ms, struct nvmft_host_cpl *cpl)
{
	struct sync_ctx ctx = { .done = false };
	uint64_t deadline = host_now_ns() + (uint64_t)timeout_ms * 1000000;
	int rc;

	/* A full queue drains by polling; give up at the deadline. */
	while ((rc = qpair_submit(qp, sqe, iov, iovcnt, dir, force_incapsule,
				  sync_done, &ctx)) == -EAGAIN) {
		rc = nvmft_host_qpair_poll(qp, 0);
		if (rc < 0)
			return rc;
		if (host_now_ns() >= deadline)
			return -ETIMEDOUT;
	}
	if (rc)
		return rc;
	rc = qpair_wait_until(qp, &ctx.done, timeout_ms);
	if (rc == -ETIMEDOUT && !ctx.done) {
		/* No abort in this library: the connection is given up. */
		host_log(qp->ctrlr, LOG_ERR, "qid %u: command 0x%02x timed out",
			 qp->qid, sqe->opcode);
		qpair_fail(qp, -ETIMEDOUT);
	}
	if (!ctx.done)
		return rc ? rc : -EIO;
	if (cpl)
		*cpl = ctx.cpl;
	if (ctx.cpl.err)
		return ctx.cpl.err;
	return ctx.cpl.status;
}

int nvmft_host_cmd_sync(struct nvmft_host_qpair *qp, const struct nvmft_sqe *sqe,
			void *buf, uint32_t len, enum nvmft_host_dir dir,
			struct nvmft_host_cpl *cpl)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	if (len && !buf)
		return -EINVAL;
	return qpair_cmd_sync(qp, sqe, &iov, len ? 1 : 0, dir, false,
			      (int)qp->cmd_timeout_ms, cpl);
}

int nvmft_host_qpair_fd(const struct nvmft_host_qpair *qp)
{
	return qp->fd;
}

short nvmft_host_qpair_events(const struct nvmft_host_qpair *qp)
{
	return POLLIN | (qp->tx_head ? POLLOUT : 0);
}

int nvmft_host_qpair_error(const struct nvmft_host_qpair *qp)
{
	return qp->state == QP_FAILED ? qp->err : 0;
}

uint16_t nvmft_host_qpair_qid(const struct nvmft_host_qpair *qp)
{
	return qp->qid;
}

unsigned int nvmft_host_qpair_depth(const struct nvmft_host_qpair *qp)
{
	return qp->nreqs;
}

unsigned int nvmft_host_qpair_outstanding(const struct nvmft_host_qpair *qp)
{
	return qp->outstanding;
}

void nvmft_host_qpair_get_stats(const struct nvmft_host_qpair *qp,
				struct nvmft_host_qpair_stats *st)
{
	*st = qp->stats;
}

/* Wait for @events on the socket until @deadline; 0, -ETIMEDOUT or error. */
static int wait_fd(struct nvmft_host_qpair *qp, short events, uint64_t deadline)
{
	uint64_t now = host_now_ns();
	struct pollfd pfd = { .fd = qp->fd, .events = events };
	int r;

	if (deadline != UINT64_MAX && now >= deadline)
		return -ETIMEDOUT;
	r = poll(&pfd, 1, deadline == UINT64_MAX ? -1 :
		 (int)((deadline - now + 999999) / 1000000));
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	return r ? 0 : -ETIMEDOUT;
}

int nvmft_host_qpair_send_raw(struct nvmft_host_qpair *qp, const void *buf, size_t len)
{
	uint64_t deadline = host_now_ns() + (uint64_t)qp->cmd_timeout_ms * 1000000;
	const uint8_t *p = buf;
	int rc;

	if (qp->state == QP_FAILED)
		return qp->err;
	while (qp->tx_head) {
		rc = tx_flush(qp);
		if (rc < 0)
			return rc;
		if (qp->tx_head && (rc = wait_fd(qp, POLLOUT, deadline)) < 0)
			return rc;
	}
	while (len) {
		ssize_t r = send(qp->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
			if ((rc = wait_fd(qp, POLLOUT, deadline)) < 0)
				return rc;
			continue;
		}
		p += r;
		len -= r;
	}
	return 0;
}

ssize_t nvmft_host_qpair_recv_raw(struct nvmft_host_qpair *qp, void *buf, size_t len,
				  int timeout_ms)
{
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX :
			    host_now_ns() + (uint64_t)timeout_ms * 1000000;

	if (qp->state == QP_FAILED)
		return qp->err;
	if (qp->outstanding || qp->rx_state != RX_CH || qp->rx_got)
		return -EBUSY;
	if (qp->rx_head != qp->rx_tail) {
		size_t n = qp->rx_tail - qp->rx_head;

		if (n > len)
			n = len;
		memcpy(buf, qp->rx_buf + qp->rx_head, n);
		qp->rx_head += n;
		return n;
	}
	for (;;) {
		ssize_t r = recv(qp->fd, buf, len, MSG_DONTWAIT);
		int rc;

		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if ((rc = wait_fd(qp, POLLIN, deadline)) < 0)
			return rc;
	}
}
