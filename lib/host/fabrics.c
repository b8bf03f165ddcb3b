/* SPDX-License-Identifier: MIT */
/*
 * Bringing a qpair up: TCP connect, ICReq/ICResp, Fabrics Connect; and
 * Fabrics Disconnect.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/socket.h>
#include <nvme/types.h>
#include "host_internal.h"

#define FABRICS_OPCODE	0x7f

static int tcp_connect_one(const struct addrinfo *ai, uint64_t deadline)
{
	int fd, one = 1, soerr = 0;
	socklen_t sl = sizeof(soerr);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0)
		return -errno;
	/* Latency matters more than packet count: small PDUs go out at once. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		soerr = errno;
		goto out_close;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		uint64_t now = host_now_ns();
		int r;

		if (now >= deadline) {
			soerr = ETIMEDOUT;
			goto out_close;
		}
		r = poll(&pfd, 1, (int)((deadline - now + 999999) / 1000000));
		if (r < 0 && errno != EINTR) {
			soerr = errno;
			goto out_close;
		}
		if (r > 0)
			break;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		soerr = errno;
	if (soerr)
		goto out_close;
	return fd;

out_close:
	close(fd);
	return -soerr;
}

int fabrics_tcp_connect(const char *traddr, const char *trsvcid, uint32_t timeout_ms,
			int *fd_out)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV,
	};
	struct addrinfo *res;
	uint64_t deadline = host_now_ns() + (uint64_t)timeout_ms * 1000000;
	int rc;

	rc = getaddrinfo(traddr, trsvcid, &hints, &res);
	if (rc)
		return rc == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	rc = -EHOSTUNREACH;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		rc = tcp_connect_one(ai, deadline);
		if (rc >= 0) {
			*fd_out = rc;
			rc = 0;
			break;
		}
	}
	freeaddrinfo(res);
	return rc;
}

/* ICResp arrived (already through pdu_check_common). */
void fabrics_ic_resp(struct nvmft_host_qpair *qp, const struct pdu_icresp *r)
{
	uint32_t fei;
	int fes = pdu_check_icresp(r, qp->ic_digest, &fei);

	if (fes) {
		qpair_fail_proto(qp, fes, fei, "bad ICResp");
		return;
	}
	/* The controller may turn requested digests off; the user asked for
	 * them, so running without would measure or test the wrong thing. */
	if ((r->digest & (PDU_DIGEST_HDGST | PDU_DIGEST_DDGST)) != qp->ic_digest) {
		host_log(qp->ctrlr, LOG_ERR,
			 "qid %u: controller refused digests (asked 0x%x, got 0x%x)",
			 qp->qid, qp->ic_digest, r->digest);
		qpair_fail(qp, -ENOTSUP);
		return;
	}
	qp->params.hdgst = r->digest & PDU_DIGEST_HDGST;
	qp->params.ddgst = r->digest & PDU_DIGEST_DDGST;
	qp->params.cpda = r->cpda;
	qp->params.hpda = qp->ctrlr->opts.hpda;
	qp->params.maxh2cdata = le32toh(r->maxh2cdata);
	qp->ic_received = true;
	qp->state = QP_CONNECTING;
}

static int qpair_ic(struct nvmft_host_qpair *qp)
{
	const struct nvmft_host_opts *o = &qp->ctrlr->opts;
	struct tx_pdu *p = &qp->ctl;
	int rc;

	qp->ic_digest = (o->hdgst ? PDU_DIGEST_HDGST : 0) |
			(o->ddgst ? PDU_DIGEST_DDGST : 0);
	memset(p, 0, sizeof(*p));
	/* MAXR2T 0: one R2T at a time per command is all this host serves. */
	p->hdr_len = pdu_enc_icreq(&p->hdr, o->hpda, qp->ic_digest, 0);
	tx_enqueue(qp, p);
	rc = qpair_wait_until(qp, &qp->ic_received, (int)o->ic_timeout_ms);
	if (rc == -ETIMEDOUT) {
		host_log(qp->ctrlr, LOG_ERR, "qid %u: no ICResp within %u ms",
			 qp->qid, o->ic_timeout_ms);
		qpair_fail(qp, -ETIMEDOUT);
	}
	return rc;
}

int fabrics_qpair_connect(struct nvmft_host_qpair *qp)
{
	struct nvmft_host_ctrlr *c = qp->ctrlr;
	struct nvmf_connect_data *data;
	struct nvmft_host_cpl cpl;
	struct nvmft_sqe sqe;
	struct iovec iov;
	int rc;

	_Static_assert(sizeof(*data) == HOST_CONNECT_DATA_LEN, "connect data size");
	rc = fabrics_tcp_connect(c->traddr, c->trsvcid, c->opts.connect_timeout_ms, &qp->fd);
	if (rc) {
		host_log(c, LOG_ERR, "qid %u: cannot connect to %s:%s: %s", qp->qid,
			 c->traddr, c->trsvcid, strerror(-rc));
		qp->state = QP_FAILED;
		qp->err = rc;
		return rc;
	}
	rc = qpair_ic(qp);
	if (rc)
		return rc;

	data = calloc(1, sizeof(*data));
	if (!data)
		return -ENOMEM;
	memcpy(data->hostid, c->opts.hostid, sizeof(data->hostid));
	data->cntlid = htole16(qp->qid ? c->cntlid : 0xffff);
	/* both were length-checked against NVMFT_HOST_NQN_LEN */
	memcpy(data->subsysnqn, c->subnqn, strlen(c->subnqn));
	memcpy(data->hostnqn, c->hostnqn, strlen(c->hostnqn));

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = FABRICS_OPCODE;
	sqe.nsid = htole32(nvme_fabrics_type_connect);	/* fctype is byte 4 */
	sqe.cdw10 = htole32((uint32_t)qp->qid << 16);	/* recfmt 0 */
	sqe.cdw11 = htole32(qp->qsize - 1);		/* sqsize, 0's based */
	if (!qp->qid)
		sqe.cdw12 = htole32(c->opts.kato_ms);
	iov.iov_base = data;
	iov.iov_len = sizeof(*data);
	rc = qpair_cmd_sync(qp, &sqe, &iov, 1, NVMFT_HOST_DIR_WRITE, true,
			    (int)c->opts.connect_timeout_ms, &cpl);
	free(data);
	if (rc > 0) {
		host_log(c, LOG_ERR,
			 "qid %u: Connect to %s rejected: status 0x%x (sct %u sc 0x%x) result 0x%llx",
			 qp->qid, c->subnqn, cpl.status, NVMFT_STATUS_SCT(cpl.status),
			 NVMFT_STATUS_SC(cpl.status), (unsigned long long)cpl.result);
		qpair_fail(qp, -ECONNABORTED);
		return -ECONNABORTED;
	}
	if (rc)
		return rc;
	if (!qp->qid) {
		c->cntlid = cpl.result & 0xffff;
		qp->ka_next_ns = host_now_ns() + (uint64_t)c->opts.kato_ms * 1000000 / 2;
	}
	qp->state = QP_LIVE;
	return 0;
}

int fabrics_disconnect(struct nvmft_host_qpair *qp)
{
	struct nvmft_sqe sqe = {
		.opcode = FABRICS_OPCODE,
		.nsid = htole32(nvme_fabrics_type_disconnect),
	};

	qp->closing = true;
	return qpair_cmd_sync(qp, &sqe, NULL, 0, NVMFT_HOST_DIR_NONE, false,
			      (int)qp->cmd_timeout_ms, NULL);
}
