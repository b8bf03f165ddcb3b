/* SPDX-License-Identifier: MIT */
/*
 * NVMe/TCP transport: the ops table the core drives, option defaults and
 * checks, transport create/destroy, listeners and accept. Everything here
 * runs on the app reactor except opts_init/opts_check (any thread).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <nvme/types.h>

#include "tcp/tcp_internal.h"

#define TCP_DEFAULT_MAX_QUEUE_DEPTH	128
#define TCP_DEFAULT_MAX_AQ_DEPTH	32
#define TCP_DEFAULT_MAX_QPAIRS		128
#define TCP_DEFAULT_ICD_SIZE		8192
#define TCP_DEFAULT_MAX_IO_SIZE		(1u << 20)
#define TCP_DEFAULT_IO_UNIT_SIZE	131072
#define TCP_DEFAULT_NUM_BUFFERS		512
#define TCP_DEFAULT_MAX_R2T		1
#define TCP_DEFAULT_ICREQ_TIMEOUT_MS	10000
#define TCP_DEFAULT_BACKLOG		512
#define TCP_DEFAULT_CONN_BUF_SHARE_PCT	25

/* Limits of the checks. Requests are indexed by a 16-bit transfer tag. */
#define TCP_MAX_QUEUE_DEPTH		16384
#define TCP_MAX_AQ_DEPTH		4096	/* NVMe: admin queue <= 4096 entries */
#define TCP_MAX_IO_UNIT_SIZE		(16u << 20)
#define TCP_MAX_POOL_BYTES		(64ull << 30)
#define TCP_MAX_ICREQ_TIMEOUT_MS	(3600u * 1000)

static void tcp_opts_init(struct nvmft_transport_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_queue_depth = TCP_DEFAULT_MAX_QUEUE_DEPTH;
	o->max_aq_depth = TCP_DEFAULT_MAX_AQ_DEPTH;
	o->max_qpairs_per_ctrlr = TCP_DEFAULT_MAX_QPAIRS;
	o->in_capsule_data_size = TCP_DEFAULT_ICD_SIZE;
	o->max_io_size = TCP_DEFAULT_MAX_IO_SIZE;
	o->io_unit_size = TCP_DEFAULT_IO_UNIT_SIZE;
	o->num_shared_buffers = TCP_DEFAULT_NUM_BUFFERS;
	o->max_r2t = TCP_DEFAULT_MAX_R2T;
	o->c2h_success = true;
	o->icreq_timeout_ms = TCP_DEFAULT_ICREQ_TIMEOUT_MS;
	o->backlog = TCP_DEFAULT_BACKLOG;
	o->zcopy_threshold = 0;
	o->max_conn_buf_share_pct = TCP_DEFAULT_CONN_BUF_SHARE_PCT;
}

#define OPT_BAD(tgt, fmt, ...)						\
	nvmft_log((tgt) ? nvmft_tgt_get_runtime(tgt) : NULL, NVMFT_LOG_ERR,	\
		  "tcp: invalid transport option " fmt, __VA_ARGS__)

static int tcp_opts_check(struct nvmft_tgt *tgt,
			  const struct nvmft_transport_opts *o)
{
	uint32_t per_req;

	if (o->max_queue_depth < 2 || o->max_queue_depth > TCP_MAX_QUEUE_DEPTH) {
		OPT_BAD(tgt, "max_queue_depth=%u (2..%u)", o->max_queue_depth,
			TCP_MAX_QUEUE_DEPTH);
		return -EINVAL;
	}
	if (o->max_aq_depth < 2 || o->max_aq_depth > TCP_MAX_AQ_DEPTH) {
		OPT_BAD(tgt, "max_aq_depth=%u (2..%u)", o->max_aq_depth,
			TCP_MAX_AQ_DEPTH);
		return -EINVAL;
	}
	if (o->max_qpairs_per_ctrlr < 1) {
		OPT_BAD(tgt, "max_qpairs_per_ctrlr=%u (at least 1)",
			o->max_qpairs_per_ctrlr);
		return -EINVAL;
	}
	/* It is also MAXH2CDATA: a multiple of 4, at least 4 KiB. */
	if (o->io_unit_size < PDU_MIN_MAXH2CDATA || o->io_unit_size % 4 ||
	    o->io_unit_size > TCP_MAX_IO_UNIT_SIZE) {
		OPT_BAD(tgt, "io_unit_size=%u (multiple of 4, %u..%u)",
			o->io_unit_size, PDU_MIN_MAXH2CDATA, TCP_MAX_IO_UNIT_SIZE);
		return -EINVAL;
	}
	/* IOCCSZ is in 16-byte units. */
	if (o->in_capsule_data_size % 16 ||
	    o->in_capsule_data_size > o->io_unit_size) {
		OPT_BAD(tgt, "in_capsule_data_size=%u (multiple of 16, at most io_unit_size %u)",
			o->in_capsule_data_size, o->io_unit_size);
		return -EINVAL;
	}
	/* MDTS is a power of two of 4 KiB pages. */
	if (o->max_io_size < 4096 ||
	    (o->max_io_size & (o->max_io_size - 1)) != 0) {
		OPT_BAD(tgt, "max_io_size=%u (power of 2, at least 4096)",
			o->max_io_size);
		return -EINVAL;
	}
	per_req = (o->max_io_size + o->io_unit_size - 1) / o->io_unit_size;
	if (per_req > NVMF_REQ_MAX_IOV) {
		OPT_BAD(tgt, "max_io_size=%u (at most %u io_unit_size=%u buffers)",
			o->max_io_size, NVMF_REQ_MAX_IOV, o->io_unit_size);
		return -EINVAL;
	}
	/* A request of max_io_size must be able to get its buffers. */
	if (o->num_shared_buffers < per_req ||
	    (uint64_t)o->num_shared_buffers * o->io_unit_size > TCP_MAX_POOL_BYTES) {
		OPT_BAD(tgt, "num_shared_buffers=%u (%u..%llu for io_unit_size=%u max_io_size=%u)",
			o->num_shared_buffers, per_req,
			(unsigned long long)(TCP_MAX_POOL_BYTES / o->io_unit_size),
			o->io_unit_size, o->max_io_size);
		return -EINVAL;
	}
	if (o->max_r2t < 1) {
		OPT_BAD(tgt, "max_r2t=%u (at least 1)", o->max_r2t);
		return -EINVAL;
	}
	if (o->icreq_timeout_ms < 1 || o->icreq_timeout_ms > TCP_MAX_ICREQ_TIMEOUT_MS) {
		OPT_BAD(tgt, "icreq_timeout_ms=%u (1..%u)", o->icreq_timeout_ms,
			TCP_MAX_ICREQ_TIMEOUT_MS);
		return -EINVAL;
	}
	if (o->backlog < 1 || o->backlog > 65535) {
		OPT_BAD(tgt, "backlog=%u (1..65535)", o->backlog);
		return -EINVAL;
	}
	if (o->max_conn_buf_share_pct < 1 || o->max_conn_buf_share_pct > 100) {
		OPT_BAD(tgt, "max_conn_buf_share_pct=%u (1..100)",
			o->max_conn_buf_share_pct);
		return -EINVAL;
	}
	return 0;
}

/* ---- create / destroy ---------------------------------------------------- */

static int tcp_create(struct nvmft_tgt *tgt,
		      const struct nvmft_transport_opts *opts,
		      struct nvmf_transport **out)
{
	struct nvmft_thread *t = nvmft_get_thread();
	struct tcp_transport *tt;
	uint32_t per_req;
	int rc;

	if (!t)
		return -EINVAL;
	rc = tcp_opts_check(tgt, opts);
	if (rc)
		return rc;
	tt = calloc(1, sizeof(*tt));
	if (!tt)
		return -ENOMEM;
	tt->base.ops = &nvmf_tcp_ops;
	tt->sock = &tcp_nsock_ops;
	tt->base.tgt = tgt;
	tt->base.opts = *opts;
	tt->rt = nvmft_tgt_get_runtime(tgt);
	tt->app_thread = t;
	tt->qp_max_bufs = (uint32_t)((uint64_t)opts->num_shared_buffers *
				     opts->max_conn_buf_share_pct / 100);
	per_req = (opts->max_io_size + opts->io_unit_size - 1) / opts->io_unit_size;
	if (tt->qp_max_bufs < per_req)
		tt->qp_max_bufs = per_req;
	TAILQ_INIT(&tt->listeners);
	tt->nr_pgs = nvmft_runtime_nr_threads(tt->rt);
	tt->pgs = calloc(tt->nr_pgs, sizeof(*tt->pgs));
	if (!tt->pgs) {
		rc = -ENOMEM;
		goto out_free_tt;
	}
	rc = sock_group_create(t, &tt->lgroup);
	if (rc)
		goto out_free_pgs;
	TCP_LOG(tt, NVMFT_LOG_INFO,
		"transport created: qd %u aqd %u icd %u io_unit %u max_io %u buffers %u "
		"(%u per connection) (%s socks)",
		opts->max_queue_depth, opts->max_aq_depth,
		opts->in_capsule_data_size, opts->io_unit_size,
		opts->max_io_size, opts->num_shared_buffers, tt->qp_max_bufs,
		sock_impl_name(tt->rt));
	*out = &tt->base;
	return 0;

out_free_pgs:
	free(tt->pgs);
out_free_tt:
	free(tt);
	return rc;
}

static void tcp_destroy_finish(struct tcp_transport *tt)
{
	nvmft_msg_fn done = tt->destroy_done;
	void *arg = tt->destroy_arg;
	int rc;

	rc = sock_group_destroy(tt->lgroup);
	if (rc)
		TCP_LOG(tt, NVMFT_LOG_ERR, "listener group busy at destroy: %d", rc);
	for (unsigned int i = 0; i < tt->nr_pgs; i++)
		if (tt->pgs[i])
			TCP_LOG(tt, NVMFT_LOG_ERR,
				"poll group of reactor %u still there at destroy", i);
	free(tt->pgs);
	free(tt);
	if (done)
		done(arg);
}

static void tcp_listener_closed(void *ctx)
{
	struct tcp_listener *l = ctx;
	struct tcp_transport *tt = l->tt;

	free(l);
	tt->nr_closing--;
	if (tt->destroying && tt->nr_closing == 0)
		tcp_destroy_finish(tt);
}

static void tcp_listener_close(struct tcp_listener *l)
{
	struct tcp_transport *tt = l->tt;

	TAILQ_REMOVE(&tt->listeners, l, link);
	tt->nr_closing++;
	TCP_LOG(tt, NVMFT_LOG_INFO, "stop listening on %s:%u", l->addr.traddr,
		l->port);
	sock_listener_close(l->sl, tcp_listener_closed, l);
}

static void tcp_destroy(struct nvmf_transport *t, nvmft_msg_fn done, void *arg)
{
	struct tcp_transport *tt = container_of(t, struct tcp_transport, base);
	struct tcp_listener *l;

	tt->destroying = true;
	tt->destroy_done = done;
	tt->destroy_arg = arg;
	while ((l = TAILQ_FIRST(&tt->listeners)))
		tcp_listener_close(l);
	if (tt->nr_closing == 0)
		tcp_destroy_finish(tt);
}

/* ---- addresses ------------------------------------------------------------ */

static void addr_from_sockaddr(struct nvmft_listen_addr *a,
			       const struct sockaddr *sa)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->trtype, sizeof(a->trtype), "TCP");
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		snprintf(a->adrfam, sizeof(a->adrfam), "IPv6");
		inet_ntop(AF_INET6, &s6->sin6_addr, a->traddr, sizeof(a->traddr));
		snprintf(a->trsvcid, sizeof(a->trsvcid), "%u",
			 ntohs(s6->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		snprintf(a->adrfam, sizeof(a->adrfam), "IPv4");
		inet_ntop(AF_INET, &s4->sin_addr, a->traddr, sizeof(a->traddr));
		snprintf(a->trsvcid, sizeof(a->trsvcid), "%u",
			 ntohs(s4->sin_port));
	}
}

static bool addr_same(const struct nvmft_listen_addr *a,
		      const struct nvmft_listen_addr *b)
{
	return !strcmp(a->traddr, b->traddr) && !strcmp(a->trsvcid, b->trsvcid);
}

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (!s || !s[0])
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

static struct tcp_listener *listener_find(struct tcp_transport *tt,
					  const struct nvmft_listen_addr *addr)
{
	struct tcp_listener *l;

	TAILQ_FOREACH(l, &tt->listeners, link)
		if (addr_same(&l->addr, addr))
			return l;
	return NULL;
}

/* ---- qpairs born here ----------------------------------------------------- */

void tcp_qpair_free(struct tcp_qpair *qp)
{
	if (!qp)
		return;
	tcp_reqs_free(qp);
	free(qp->rxbuf);
	free(qp->arena);
	free(qp);
}

const struct tcp_sock_ops tcp_nsock_ops = {
	.attach = sock_attach,
	.recv = nsock_recv,
	.sendv = nsock_sendv,
	.recv_pending = nsock_recv_pending,
	.send_pending = nsock_send_pending,
	.close = nsock_close,
};

void tcp_transport_set_sock_ops(struct nvmf_transport *t,
				const struct tcp_sock_ops *ops)
{
	struct tcp_transport *tt = container_of(t, struct tcp_transport, base);

	tt->sock = ops ? ops : &tcp_nsock_ops;
}

/* @listen: the address the core asked us to listen on (NULL: a connection
 * handed in by a test); also the local address if the socket cannot tell. */
static void tcp_new_qpair(struct tcp_transport *tt, int fd,
			  const struct sockaddr *peer,
			  const struct nvmft_listen_addr *listen)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	struct tcp_qpair *qp;

	if (tt->destroying) {
		if (fd >= 0)
			close(fd);
		return;
	}
	qp = calloc(1, sizeof(*qp));
	if (!qp) {
		TCP_LOG(tt, NVMFT_LOG_ERR, "no memory for a new connection");
		if (fd >= 0)
			close(fd);
		return;
	}
	qp->base.transport = &tt->base;
	qp->tt = tt;
	qp->sops = tt->sock;
	qp->fd = fd;
	/* The spec default; Connect may turn it off (CATTR). */
	qp->base.sq_flow_control = true;
	qp->timer_start_us = nvmft_now_us();
	addr_from_sockaddr(&qp->addrs.peer, peer);
	if (fd >= 0 && getsockname(fd, (struct sockaddr *)&local, &len) == 0)
		addr_from_sockaddr(&qp->addrs.local, (struct sockaddr *)&local);
	else if (listen)
		qp->addrs.local = *listen;
	TCP_LOG(tt, NVMFT_LOG_DEBUG, "connection from %s:%s to %s:%s",
		qp->addrs.peer.traddr, qp->addrs.peer.trsvcid,
		qp->addrs.local.traddr, qp->addrs.local.trsvcid);
	/* From here the core owns placing it (or calls qpair_fini). */
	nvmf_tgt_new_listener_qpair(tt->base.tgt, &qp->base, listen);
}

static void tcp_accept(struct sock_listener *sl, int fd,
		       const struct sockaddr *peer, socklen_t peer_len,
		       void *ctx)
{
	struct tcp_listener *l = ctx;

	(void)sl;
	(void)peer_len;
	tcp_new_qpair(l->tt, fd, peer, &l->addr);
}

void tcp_transport_new_conn(struct nvmf_transport *t, int fd,
			    const struct sockaddr *peer)
{
	tcp_new_qpair(container_of(t, struct tcp_transport, base), fd, peer,
		      NULL);
}

/* ---- listeners ------------------------------------------------------------ */

static int tcp_listen(struct nvmf_transport *t,
		      const struct nvmft_listen_addr *addr)
{
	struct tcp_transport *tt = container_of(t, struct tcp_transport, base);
	struct tcp_listener *l;
	uint16_t port;
	int rc;

	if (!addr || strcasecmp(addr->trtype, "TCP") ||
	    parse_port(addr->trsvcid, &port))
		return -EINVAL;
	if (addr->adrfam[0] && strcasecmp(addr->adrfam, "IPv4") &&
	    strcasecmp(addr->adrfam, "IPv6"))
		return -EINVAL;
	if (listener_find(tt, addr))
		return -EEXIST;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->tt = tt;
	l->addr = *addr;
	rc = sock_listen(tt->lgroup, addr->traddr, port,
			 (int)t->opts.backlog, tcp_accept, l, &l->sl);
	if (rc) {
		TCP_LOG(tt, NVMFT_LOG_ERR, "cannot listen on %s:%s: %s",
			addr->traddr, addr->trsvcid, strerror(-rc));
		free(l);
		return rc;
	}
	l->port = sock_listener_port(l->sl);
	TAILQ_INSERT_TAIL(&tt->listeners, l, link);
	TCP_LOG(tt, NVMFT_LOG_NOTICE, "listening on %s:%u", addr->traddr,
		l->port);
	return 0;
}

static void tcp_stop_listen(struct nvmf_transport *t,
			    const struct nvmft_listen_addr *addr)
{
	struct tcp_transport *tt = container_of(t, struct tcp_transport, base);
	struct tcp_listener *l = listener_find(tt, addr);

	if (l)
		tcp_listener_close(l);
}

static int tcp_listen_port(struct nvmf_transport *t,
			   const struct nvmft_listen_addr *addr)
{
	struct tcp_transport *tt = container_of(t, struct tcp_transport, base);
	struct tcp_listener *l = listener_find(tt, addr);

	return l ? l->port : -ENOENT;
}

const struct nvmf_transport_ops nvmf_tcp_ops = {
	.name = "TCP",
	.trtype = NVMF_TRTYPE_TCP,
	.opts_init = tcp_opts_init,
	.opts_check = tcp_opts_check,
	.create = tcp_create,
	.destroy = tcp_destroy,
	.listen = tcp_listen,
	.stop_listen = tcp_stop_listen,
	.listen_port = tcp_listen_port,
	.poll_group_create = tcp_poll_group_create,
	.poll_group_destroy = tcp_poll_group_destroy,
	.poll_group_add = tcp_poll_group_add,
	.req_complete = tcp_req_complete,
	.qpair_fini = tcp_qpair_fini,
	.qpair_get_addrs = tcp_qpair_get_addrs,
};
