/* SPDX-License-Identifier: MIT */
/*
 * Shared by the TCP transport integration tests (test_tcp_*.c): a real
 * runtime (2 reactors, engine chosen per group) with an nvmft_tgt serving a
 * malloc namespace on 127.0.0.1 (ephemeral port), raw-socket helpers that
 * speak NVMe/TCP with lib/tcp/pdu.h encoders, and access to the TCP poll
 * groups' counters for leak checks.
 */
#ifndef NVMFT_TESTS_TCP_HARNESS_H
#define NVMFT_TESTS_TCP_HARNESS_H

#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nvme/types.h>
#include <nvmft/host.h>
#include <nvmft/nvmf.h>
#include <nvmft/runtime.h>
#include "nvmf/nvmf_internal.h"
#include "sock/sock.h"
#include "tcp/pdu.h"
#include "tcp/tcp_internal.h"

#define TT_NQN		"nqn.2024-01.io.nvmft:tcp-test"
#define TT_BDEV		"Malloc0"
#define TT_LBA		512u
#define TT_BLOCKS	(64u * 1024 * 1024 / TT_LBA)	/* 64 MiB */
#define TT_WAIT_MS	10000

struct tt_target {
	enum nvmft_engine engine;
	struct nvmft_transport_opts topts;
	struct nvmft_runtime *rt;
	struct nvmft_tgt *tgt;
	struct nvmft_subsystem *ss;
	struct nvmft_listen_addr addr;
	uint16_t port;
	char port_str[8];
	/* step results */
	_Atomic int done;
	int rc;
};

static inline uint64_t tt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline void tt_sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- target set up / tear down (steps run on the app reactor) ------------ */

static void tt_done_cb(void *arg, int rc)
{
	struct tt_target *t = arg;

	t->rc = rc;
	atomic_store(&t->done, 1);
}

static inline int tt_wait_done(struct tt_target *t)
{
	uint64_t end = tt_now_ms() + TT_WAIT_MS;

	while (!atomic_load(&t->done)) {
		if (tt_now_ms() > end)
			return -ETIMEDOUT;
		tt_sleep_ms(1);
	}
	return t->rc;
}

static void tt_step_create(void *arg)
{
	struct tt_target *t = arg;
	int rc;

	rc = nvmft_tgt_create(t->rt, NULL, &t->tgt);
	if (!rc)
		rc = nvmft_bdev_malloc_create(nvmft_tgt_get_bdevs(t->tgt), TT_BDEV,
					      TT_BLOCKS, TT_LBA, NULL, NULL);
	if (!rc)
		rc = nvmft_tgt_add_transport(t->tgt, "TCP", &t->topts,
					     tt_done_cb, t);
	if (rc) {
		t->rc = rc;
		atomic_store(&t->done, 1);
	}
}

static void tt_step_subsystem(void *arg)
{
	struct tt_target *t = arg;
	struct nvmft_subsystem_opts so;
	struct nvmft_ns_opts no = { .bdev_name = TT_BDEV, .nsid = 1 };
	int rc;

	nvmft_subsystem_opts_init(&so);
	so.nqn = TT_NQN;
	so.allow_any_host = true;
	rc = nvmft_subsystem_create(t->tgt, &so, &t->ss);
	if (!rc)
		rc = nvmft_subsystem_add_ns(t->ss, &no, NULL, tt_done_cb, t);
	if (rc) {
		t->rc = rc;
		atomic_store(&t->done, 1);
	}
}

static void tt_step_start(void *arg)
{
	struct tt_target *t = arg;
	int rc = nvmft_subsystem_start(t->ss, tt_done_cb, t);

	if (rc) {
		t->rc = rc;
		atomic_store(&t->done, 1);
	}
}

static void tt_step_listen(void *arg)
{
	struct tt_target *t = arg;
	int rc;

	rc = nvmft_listen_addr_init(&t->addr, "127.0.0.1", "0");
	if (!rc)
		rc = nvmft_subsystem_add_listener(t->ss, &t->addr);
	if (!rc) {
		rc = nvmft_tgt_listen_port(t->tgt, &t->addr);
		if (rc > 0) {
			t->port = (uint16_t)rc;
			rc = 0;
		}
	}
	t->rc = rc;
	atomic_store(&t->done, 1);
}

static void tt_step_destroy(void *arg)
{
	struct tt_target *t = arg;

	nvmft_tgt_destroy(t->tgt, tt_done_cb, t);
}

static inline int tt_run_step(struct tt_target *t, nvmft_msg_fn fn)
{
	int rc;

	atomic_store(&t->done, 0);
	t->rc = 0;
	rc = nvmft_runtime_exec(t->rt, 0, fn, t);
	if (rc)
		return rc;
	return tt_wait_done(t);
}

static void tt_quiet_log(void *ctx, enum nvmft_log_level level, const char *msg)
{
	(void)ctx;
	if (getenv("TT_VERBOSE") || level <= NVMFT_LOG_ERR)
		fprintf(stderr, "[tgt %d] %s\n", level, msg);
}

/* Returns 0 or negative errno. */
static inline int tt_target_start(struct tt_target *t, enum nvmft_engine engine,
				  const struct nvmft_transport_opts *topts)
{
	struct nvmft_runtime_opts ro;
	int rc;

	memset(t, 0, sizeof(*t));
	t->engine = engine;
	if (topts)
		t->topts = *topts;
	else
		nvmft_transport_opts_init("TCP", &t->topts);
	nvmft_runtime_opts_init(&ro);
	ro.nr_reactors = 2;
	ro.engine = engine;
	ro.name = "tt";
	rc = nvmft_runtime_create(&ro, &t->rt);
	if (rc)
		return rc;
	nvmft_runtime_set_log(t->rt, getenv("TT_VERBOSE") ? NVMFT_LOG_DEBUG :
			      NVMFT_LOG_WARN, tt_quiet_log, NULL);
	rc = nvmft_runtime_start(t->rt);
	if (!rc)
		rc = tt_run_step(t, tt_step_create);
	if (!rc)
		rc = tt_run_step(t, tt_step_subsystem);
	if (!rc)
		rc = tt_run_step(t, tt_step_start);
	if (!rc)
		rc = tt_run_step(t, tt_step_listen);
	if (!rc)
		snprintf(t->port_str, sizeof(t->port_str), "%u", t->port);
	return rc;
}

static inline void tt_target_stop(struct tt_target *t)
{
	if (!t->rt)
		return;
	if (t->tgt)
		tt_run_step(t, tt_step_destroy);
	nvmft_runtime_stop(t->rt);
	nvmft_runtime_destroy(t->rt);
	t->rt = NULL;
}

/* ---- TCP poll group counters --------------------------------------------- */

struct tt_stats_req {
	struct tt_target *t;
	unsigned int idx;
	bool found;
	struct tcp_pg_stats st;
};

static void tt_stats_step(void *arg)
{
	struct tt_stats_req *r = arg;
	struct nvmf_transport *tr = nvmf_tgt_get_transport(r->t->tgt, "TCP");
	struct tcp_poll_group *pg = tr ? tcp_transport_poll_group(tr, r->idx) : NULL;

	r->found = pg != NULL;
	if (pg)
		tcp_poll_group_get_stats(pg, &r->st);
}

/* Sum of the counters of every reactor's TCP poll group. */
static inline int tt_stats(struct tt_target *t, struct tcp_pg_stats *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (unsigned int i = 0; i < nvmft_runtime_nr_threads(t->rt); i++) {
		struct tt_stats_req r = { .t = t, .idx = i };
		int rc = nvmft_runtime_exec(t->rt, i, tt_stats_step, &r);

		if (rc)
			return rc;
		if (!r.found)
			return -ENOENT;
		for (int k = 0; k < TCP_PDU_TYPES; k++) {
			sum->pdus_in[k] += r.st.pdus_in[k];
			sum->pdus_out[k] += r.st.pdus_out[k];
		}
		sum->bytes_in += r.st.bytes_in;
		sum->bytes_out += r.st.bytes_out;
		sum->hdgst_errors += r.st.hdgst_errors;
		sum->ddgst_errors += r.st.ddgst_errors;
		sum->term_reqs_sent += r.st.term_reqs_sent;
		sum->term_reqs_received += r.st.term_reqs_received;
		sum->icreq_timeouts += r.st.icreq_timeouts;
		sum->qpairs_added += r.st.qpairs_added;
		sum->qpairs_freed += r.st.qpairs_freed;
		sum->qpairs += r.st.qpairs;
		sum->buf_waits += r.st.buf_waits;
		sum->buf_share_waits += r.st.buf_share_waits;
		sum->connect_timeouts += r.st.connect_timeouts;
		sum->rx_stalls += r.st.rx_stalls;
		sum->rx_yields += r.st.rx_yields;
		sum->bufs_total += r.st.bufs_total;
		sum->bufs_free += r.st.bufs_free;
		for (int k = 0; k < TCP_REQ_NR_STATES; k++)
			sum->req_states[k] += r.st.req_states[k];
	}
	return 0;
}

/* Wait until the target holds @qpairs connections with nothing leaked:
 * every buffer back, every request slot FREE. 0 or -ETIMEDOUT. */
static inline int tt_wait_idle(struct tt_target *t, uint64_t qpairs)
{
	uint64_t end = tt_now_ms() + TT_WAIT_MS;
	struct tcp_pg_stats st;

	for (;;) {
		bool idle = tt_stats(t, &st) == 0 && st.qpairs == qpairs &&
			    st.bufs_free == st.bufs_total;

		for (int k = 1; idle && k < TCP_REQ_NR_STATES; k++)
			if (st.req_states[k])
				idle = false;
		if (idle)
			return 0;
		if (tt_now_ms() > end) {
			fprintf(stderr, "not idle: qpairs %lu (want %lu) bufs %u/%u",
				(unsigned long)st.qpairs, (unsigned long)qpairs,
				st.bufs_free, st.bufs_total);
			for (int k = 0; k < TCP_REQ_NR_STATES; k++)
				fprintf(stderr, " %s=%u",
					tcp_req_state_name((enum tcp_req_state)k),
					st.req_states[k]);
			fprintf(stderr, "\n");
			return -ETIMEDOUT;
		}
		tt_sleep_ms(5);
	}
}

/* ---- raw sockets ----------------------------------------------------------- */

static inline int raw_connect(const struct tt_target *t)
{
	int fd = sock_connect_blocking("127.0.0.1", t->port);

	return fd;
}

static inline int raw_send(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Exactly @len bytes within @timeout_ms: 0, -ETIMEDOUT, -ECONNRESET (EOF). */
static inline int raw_recv(int fd, void *buf, size_t len, int timeout_ms)
{
	uint8_t *p = buf;
	uint64_t end = tt_now_ms() + (uint64_t)timeout_ms;

	while (len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = (int64_t)(end - tt_now_ms());
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = recv(fd, p, len, 0);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The peer closes within @timeout_ms (EOF or reset): 0 or -ETIMEDOUT. */
static inline int raw_expect_close(int fd, int timeout_ms)
{
	uint8_t junk[4096];
	uint64_t end = tt_now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = (int64_t)(end - tt_now_ms());
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = recv(fd, junk, sizeof(junk), 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 0;
	}
}

/* One whole PDU (header in @h, the rest in @data up to @max). */
static inline int raw_recv_pdu(int fd, union pdu_hdr *h, void *data, size_t max,
			       uint32_t *data_len, int timeout_ms)
{
	uint32_t plen, rest, hl;
	int rc;

	rc = raw_recv(fd, h->raw, sizeof(struct pdu_common), timeout_ms);
	if (rc)
		return rc;
	plen = le32toh(h->ch.plen);
	hl = h->ch.hlen + ((h->ch.flags & PDU_FLAG_HDGSTF) ? PDU_DIGEST_LEN : 0);
	if (hl > PDU_MAX_HDR || hl < sizeof(struct pdu_common) || plen < hl)
		return -EPROTO;
	rc = raw_recv(fd, h->raw + sizeof(struct pdu_common),
		      hl - sizeof(struct pdu_common), timeout_ms);
	if (rc)
		return rc;
	rest = plen - hl;
	if (rest > max)
		return -E2BIG;
	if (data_len)
		*data_len = rest;
	return rest ? raw_recv(fd, data, rest, timeout_ms) : 0;
}

/* ICReq, then the ICResp into @rsp. 0 or negative errno. */
static inline int raw_icreq(int fd, uint8_t digest, uint8_t hpda,
			    struct pdu_icresp *rsp)
{
	union pdu_hdr h, r;
	size_t len = pdu_enc_icreq(&h, hpda, digest, 0);
	int rc = raw_send(fd, h.raw, len);

	if (rc)
		return rc;
	rc = raw_recv_pdu(fd, &r, NULL, 0, NULL, 5000);
	if (rc)
		return rc;
	if (r.ch.type != PDU_ICRESP)
		return -EPROTO;
	if (rsp)
		*rsp = r.icresp;
	return 0;
}

/* A C2HTermReq arrives, then the connection closes. */
static inline int raw_expect_term(int fd, uint16_t *fes, uint32_t *fei)
{
	union pdu_hdr h;
	uint8_t data[PDU_TERM_MAX_DATA];
	uint32_t dl;
	int rc;

	/* Anything queued before the error (an R2T...) may come first. */
	for (int i = 0; i < 8; i++) {
		rc = raw_recv_pdu(fd, &h, data, sizeof(data), &dl, 5000);
		if (rc)
			return rc;
		if (h.ch.type == PDU_C2H_TERM_REQ)
			break;
	}
	if (h.ch.type != PDU_C2H_TERM_REQ)
		return -EPROTO;
	*fes = le16toh(h.term.fes);
	*fei = le32toh(h.term.fei);
	return raw_expect_close(fd, 5000);
}

/* A CapsuleCmd for a write of @len bytes, transport SGL (data by R2T). */
static inline size_t raw_write_cmd(union pdu_hdr *h, const struct pdu_params *p,
				   uint16_t cid, uint64_t slba, uint32_t len)
{
	struct nvmft_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_cmd_write;
	sqe.flags = 0x40;	/* PSDT: SGL */
	sqe.cid = cid;
	sqe.nsid = htole32(1);
	sqe.cdw10 = htole32((uint32_t)slba);
	sqe.cdw11 = htole32((uint32_t)(slba >> 32));
	sqe.cdw12 = htole32(len / TT_LBA - 1);
	sqe.sgl.type = NVMFT_SGL_TRANSPORT;
	sqe.sgl.length = htole32(len);
	return pdu_enc_capsule_cmd(h, p, &sqe, 0);
}

/* ---- host library ---------------------------------------------------------- */

static void tt_host_log(void *arg, int level, const char *msg)
{
	(void)arg;
	if (getenv("TT_VERBOSE"))
		fprintf(stderr, "[host %d] %s\n", level, msg);
}

static inline void tt_host_opts(const struct tt_target *t, struct nvmft_host_opts *o)
{
	nvmft_host_opts_init(o);
	o->traddr = "127.0.0.1";
	o->trsvcid = t->port_str;
	o->subnqn = TT_NQN;
	o->log_fn = tt_host_log;
	o->kato_ms = 30000;
	o->cmd_timeout_ms = 10000;
}

/* Can runtimes with @engine be made here (io_uring may be blocked)? */
static inline bool tt_engine_usable(enum nvmft_engine engine)
{
	struct nvmft_runtime_opts ro;
	struct nvmft_runtime *rt;

	nvmft_runtime_opts_init(&ro);
	ro.nr_reactors = 1;
	ro.engine = engine;
	if (nvmft_runtime_create(&ro, &rt))
		return false;
	nvmft_runtime_destroy(rt);
	return true;
}

static inline void tt_fill(void *buf, size_t len, uint32_t seed)
{
	uint32_t *p = buf;

	for (size_t i = 0; i < len / 4; i++)
		p[i] = seed * 2654435761u + (uint32_t)i;
}

#endif
