/* SPDX-License-Identifier: MIT */
/*
 * TCP poll group: one per reactor. It owns the reactor's sock group for
 * connections, the data buffer pool (made once), an active poller that
 * resumes leftover receive work, serves requests waiting for buffers and
 * flushes the send queues once per loop turn, and a timed poller for the
 * ICReq and C2HTermReq deadlines (paused while nothing waits).
 * The qpair life cycle ends here too: attach, disconnect, fini, free.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tcp/tcp_internal.h"

#define TCP_TIMER_MIN_US	(10u * 1000)
#define TCP_TIMER_MAX_US	(1000u * 1000)

static void tcp_closed(struct nsock *s, void *ctx);

static const struct nsock_cbs tcp_sock_cbs = {
	.recv_done = tcp_recv_done,
	.send_done = tcp_send_done,
	.closed = tcp_closed,
};

/* ---- buffer pool ----------------------------------------------------------- */

bool tcp_pg_get_bufs(struct tcp_poll_group *pg, void **bufs, uint32_t n)
{
	if (pg->nr_free_bufs < n)
		return false;
	for (uint32_t i = 0; i < n; i++)
		bufs[i] = pg->free_bufs[--pg->nr_free_bufs];
	return true;
}

/*
 * Offer the pool to the reactor's ring as a fixed buffer: block backends
 * driving that ring (uring) then read and write into it with
 * READ/WRITE_FIXED. The engine pins it on first use only; a pool too big
 * for one kernel buffer, or an epoll engine, just goes without.
 */
static void pg_pool_register(struct tcp_poll_group *pg, size_t bytes)
{
	int rc = thread_buf_register(pg->thread, pg->buf_mem, bytes);

	pg->buf_reg = rc >= 0 ? rc : -1;
	if (rc < 0 && rc != -EOPNOTSUPP)
		TCP_LOG(pg->tt, NVMFT_LOG_INFO,
			"poll group %u: data buffers not offered as a fixed buffer: %s",
			nvmft_thread_index(pg->thread), strerror(-rc));
}

/* Before the pool memory is freed: no stale kernel mapping of it remains. */
static void pg_pool_unregister(struct tcp_poll_group *pg)
{
	if (pg->buf_reg < 0)
		return;
	thread_buf_unregister(pg->thread, pg->buf_reg);
	pg->buf_reg = -1;
}

void tcp_pg_put_bufs(struct tcp_poll_group *pg, void **bufs, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		pg->free_bufs[pg->nr_free_bufs++] = bufs[i];
		bufs[i] = NULL;
	}
}

/* ---- scheduling ------------------------------------------------------------ */

void tcp_pg_schedule_rx(struct tcp_qpair *qp)
{
	if (qp->rx_scheduled || !qp->pg)
		return;
	qp->rx_scheduled = true;
	TAILQ_INSERT_TAIL(&qp->pg->rx_list, qp, rx_link);
}

static void tcp_pg_unschedule_rx(struct tcp_qpair *qp)
{
	if (!qp->rx_scheduled)
		return;
	qp->rx_scheduled = false;
	TAILQ_REMOVE(&qp->pg->rx_list, qp, rx_link);
}

void tcp_pg_schedule_flush(struct tcp_qpair *qp)
{
	if (qp->flush_scheduled || !qp->pg)
		return;
	qp->flush_scheduled = true;
	TAILQ_INSERT_TAIL(&qp->pg->flush_list, qp, flush_link);
}

static void tcp_pg_unschedule_flush(struct tcp_qpair *qp)
{
	if (!qp->flush_scheduled)
		return;
	qp->flush_scheduled = false;
	TAILQ_REMOVE(&qp->pg->flush_list, qp, flush_link);
}

void tcp_pg_timer_add(struct tcp_qpair *qp)
{
	struct tcp_poll_group *pg = qp->pg;

	if (qp->on_timer_list || !pg)
		return;
	qp->on_timer_list = true;
	TAILQ_INSERT_TAIL(&pg->timer_list, qp, timer_link);
	if (!pg->timer_running) {
		pg->timer_running = true;
		nvmft_poller_resume(pg->timer);
	}
}

void tcp_pg_timer_del(struct tcp_qpair *qp)
{
	struct tcp_poll_group *pg = qp->pg;

	if (!qp->on_timer_list)
		return;
	qp->on_timer_list = false;
	TAILQ_REMOVE(&pg->timer_list, qp, timer_link);
	/* No wake-ups for nothing: an idle target should sleep. */
	if (TAILQ_EMPTY(&pg->timer_list) && pg->timer_running) {
		pg->timer_running = false;
		nvmft_poller_pause(pg->timer);
	}
}

bool tcp_log_limit(struct tcp_log_limit *l, uint64_t *suppressed)
{
	uint64_t now = nvmft_now_us();

	if (l->last_us && now - l->last_us < TCP_LOG_PERIOD_US) {
		l->suppressed++;
		return false;
	}
	l->last_us = now;
	*suppressed = l->suppressed;
	l->suppressed = 0;
	return true;
}

/* ---- pollers --------------------------------------------------------------- */

static int tcp_pg_poll(void *arg)
{
	struct tcp_poll_group *pg = arg;
	struct tcp_qpair *qp, *last;
	int work = 0;

	/* Each qpair with leftover staged PDUs gets one budget per turn;
	 * those that use it up again go to the back for the next turn. */
	last = TAILQ_LAST(&pg->rx_list, tcp_qpair_list);
	while ((qp = TAILQ_FIRST(&pg->rx_list))) {
		bool was_last = qp == last;

		tcp_pg_unschedule_rx(qp);
		tcp_rx_process(qp);
		work++;
		if (was_last)
			break;
	}
	if (!TAILQ_EMPTY(&pg->buf_waiters) && pg->nr_free_bufs)
		work += (int)tcp_req_serve_buf_waiters(pg);
	while ((qp = TAILQ_FIRST(&pg->flush_list))) {
		tcp_pg_unschedule_flush(qp);
		tcp_tx_flush(qp);
		work++;
	}
	return work;
}

/* A connection that is not set up in time goes (rate-limited log). */
static void tcp_pg_setup_timeout(struct tcp_poll_group *pg,
				 struct tcp_qpair *qp, const char *what)
{
	uint64_t skipped;

	if (!tcp_log_limit(&pg->log_timeout, &skipped))
		return;
	TCP_LOG(pg->tt, NVMFT_LOG_NOTICE,
		"%s:%s: no %s within %u ms, closing (%llu more such closes not logged)",
		qp->addrs.peer.traddr, qp->addrs.peer.trsvcid, what,
		pg->tt->base.opts.icreq_timeout_ms, (unsigned long long)skipped);
}

/*
 * Deadlines: ICReq within icreq_timeout_ms of accept, then a successful
 * Connect within icreq_timeout_ms of the IC exchange (nothing else would
 * close a connection that idles between the two: keep-alive starts with
 * the controller), and a C2HTermReq on its way within TCP_TERM_TIMEOUT_US.
 */
static int tcp_pg_timer_poll(void *arg)
{
	struct tcp_poll_group *pg = arg;
	uint64_t now = nvmft_now_us();
	uint64_t ic_us = (uint64_t)pg->tt->base.opts.icreq_timeout_ms * 1000;
	struct tcp_qpair *qp, *next;
	int work = 0;

	for (qp = TAILQ_FIRST(&pg->timer_list); qp; qp = next) {
		next = TAILQ_NEXT(qp, timer_link);
		if (qp->closing) {
			tcp_pg_timer_del(qp);
			continue;
		}
		if (qp->rx_state == TCP_RX_ERROR) {
			if (now - qp->timer_start_us < TCP_TERM_TIMEOUT_US)
				continue;
			TCP_LOG(pg->tt, NVMFT_LOG_WARN,
				"%s:%s: C2HTermReq not sent in time, closing",
				qp->addrs.peer.traddr, qp->addrs.peer.trsvcid);
		} else if (qp->ic_done && qp->base.state != NVMF_QPAIR_NEW) {
			/* connected (or going anyway) */
			tcp_pg_timer_del(qp);
			continue;
		} else if (now - qp->timer_start_us < ic_us) {
			continue;
		} else if (!qp->ic_done) {
			pg->stats.icreq_timeouts++;
			tcp_pg_setup_timeout(pg, qp, "ICReq");
		} else {
			pg->stats.connect_timeouts++;
			tcp_pg_setup_timeout(pg, qp, "Connect");
		}
		tcp_pg_timer_del(qp);
		tcp_qpair_disconnect(qp);
		work++;
	}
	return work;
}

/* ---- create / destroy ------------------------------------------------------ */

int tcp_poll_group_create(struct nvmf_transport *t, struct nvmf_poll_group *npg,
			  struct nvmf_transport_poll_group **out)
{
	struct tcp_transport *tt = container_of(t, struct tcp_transport, base);
	const struct nvmft_transport_opts *o = &t->opts;
	struct nvmft_thread *thread = nvmft_get_thread();
	struct tcp_poll_group *pg;
	uint64_t period;
	size_t bytes;
	int rc;

	if (!thread)
		return -EINVAL;
	pg = calloc(1, sizeof(*pg));
	if (!pg)
		return -ENOMEM;
	pg->base.transport = t;
	pg->base.group = npg;
	pg->tt = tt;
	pg->thread = thread;
	pg->rt = tt->rt;
	pg->buf_reg = -1;
	TAILQ_INIT(&pg->buf_waiters);
	TAILQ_INIT(&pg->qpairs);
	TAILQ_INIT(&pg->rx_list);
	TAILQ_INIT(&pg->flush_list);
	TAILQ_INIT(&pg->timer_list);

	rc = sock_group_create(thread, &pg->sgroup);
	if (rc)
		goto out_free_pg;
	sock_group_set_zc_threshold(pg->sgroup, o->zcopy_threshold);

	bytes = (size_t)o->num_shared_buffers * o->io_unit_size;
	if (posix_memalign((void **)&pg->buf_mem, 4096, bytes)) {
		TCP_LOG(tt, NVMFT_LOG_ERR, "no memory for %u data buffers of %u bytes",
			o->num_shared_buffers, o->io_unit_size);
		rc = -ENOMEM;
		goto out_sgroup;
	}
	pg->free_bufs = calloc(o->num_shared_buffers, sizeof(*pg->free_bufs));
	if (!pg->free_bufs) {
		rc = -ENOMEM;
		goto out_buf_mem;
	}
	/* Pushed in reverse so the first buffers handed out come first. */
	for (uint32_t i = o->num_shared_buffers; i-- > 0;)
		pg->free_bufs[pg->nr_free_bufs++] =
			pg->buf_mem + (size_t)i * o->io_unit_size;
	pg->stats.bufs_total = o->num_shared_buffers;
	pg_pool_register(pg, bytes);

	pg->poller = nvmft_poller_register(tcp_pg_poll, pg, 0);
	if (!pg->poller) {
		rc = -ENOMEM;
		goto out_free_bufs;
	}
	period = (uint64_t)o->icreq_timeout_ms * 1000 / 4;
	if (period < TCP_TIMER_MIN_US)
		period = TCP_TIMER_MIN_US;
	if (period > TCP_TIMER_MAX_US)
		period = TCP_TIMER_MAX_US;
	pg->timer = nvmft_poller_register(tcp_pg_timer_poll, pg, period);
	if (!pg->timer) {
		rc = -ENOMEM;
		goto out_poller;
	}
	nvmft_poller_pause(pg->timer);

	if (nvmft_thread_index(thread) < tt->nr_pgs)
		tt->pgs[nvmft_thread_index(thread)] = pg;
	*out = &pg->base;
	return 0;

out_poller:
	nvmft_poller_unregister(&pg->poller);
out_free_bufs:
	pg_pool_unregister(pg);
	free(pg->free_bufs);
out_buf_mem:
	free(pg->buf_mem);
out_sgroup:
	sock_group_destroy(pg->sgroup);
out_free_pg:
	free(pg);
	return rc;
}

void tcp_poll_group_destroy(struct nvmf_transport_poll_group *tpg)
{
	struct tcp_poll_group *pg = container_of(tpg, struct tcp_poll_group, base);
	struct tcp_transport *tt = pg->tt;
	unsigned int idx = nvmft_thread_index(pg->thread);
	int rc;

	if (!TAILQ_EMPTY(&pg->qpairs))
		TCP_LOG(tt, NVMFT_LOG_ERR,
			"poll group %u destroyed with %lu connections left",
			idx, (unsigned long)pg->stats.qpairs);
	/* Leak detection: every request slot went back with its qpair. */
	for (int st = 0; st < TCP_REQ_NR_STATES; st++)
		if (pg->stats.req_states[st])
			TCP_LOG(tt, NVMFT_LOG_ERR,
				"poll group %u: %u requests left in state %s",
				idx, pg->stats.req_states[st],
				tcp_req_state_name((enum tcp_req_state)st));
	if (pg->nr_free_bufs != pg->stats.bufs_total)
		TCP_LOG(tt, NVMFT_LOG_ERR, "poll group %u: %u of %u buffers not returned",
			idx, pg->stats.bufs_total - pg->nr_free_bufs,
			pg->stats.bufs_total);

	if (idx < tt->nr_pgs && tt->pgs[idx] == pg)
		tt->pgs[idx] = NULL;
	nvmft_poller_unregister(&pg->poller);
	nvmft_poller_unregister(&pg->timer);
	rc = sock_group_destroy(pg->sgroup);
	if (rc) {
		/* Socks still closing reference the group: leak it rather
		 * than free memory their completions will touch. */
		TCP_LOG(tt, NVMFT_LOG_ERR, "poll group %u: sock group busy (%d)",
			idx, rc);
		return;
	}
	pg_pool_unregister(pg);
	free(pg->free_bufs);
	free(pg->buf_mem);
	free(pg);
}

void tcp_poll_group_get_stats(struct tcp_poll_group *pg, struct tcp_pg_stats *st)
{
	*st = pg->stats;
	st->bufs_free = pg->nr_free_bufs;
}

struct tcp_poll_group *tcp_transport_poll_group(struct nvmf_transport *t,
						unsigned int idx)
{
	struct tcp_transport *tt = container_of(t, struct tcp_transport, base);

	return idx < tt->nr_pgs ? tt->pgs[idx] : NULL;
}

/* ---- qpairs ---------------------------------------------------------------- */

/*
 * I/O up to in_capsule_data_size (4 KiB reads and writes with the
 * defaults) uses the slot's in-capsule buffer, not the pool: offer the
 * connection's slab too. Pinned only if a backend I/O ever hits it.
 */
static void qp_icd_register(struct tcp_qpair *qp)
{
	int rc = thread_buf_register(qp->pg->thread, qp->icd_slab,
				     (size_t)qp->nreqs * qp->icd_size);

	qp->icd_fixed = rc >= 0;
	qp->icd_buf = rc;
}

static void qp_icd_unregister(struct tcp_qpair *qp)
{
	if (!qp->icd_fixed)
		return;
	thread_buf_unregister(qp->pg->thread, qp->icd_buf);
	qp->icd_fixed = false;
}

int tcp_poll_group_add(struct nvmf_transport_poll_group *tpg,
		       struct nvmf_qpair *nqp)
{
	struct tcp_poll_group *pg = container_of(tpg, struct tcp_poll_group, base);
	struct tcp_qpair *qp = tcp_qpair(nqp);
	int rc;

	qp->pg = pg;
	qp->rxbuf = malloc(TCP_RX_BUF_SIZE);
	qp->arena = malloc(TCP_TX_ARENA_SIZE);
	if (!qp->rxbuf || !qp->arena) {
		rc = -ENOMEM;
		goto out_fail;
	}
	qp->txq_tail = &qp->txq_head;
	qp->sent_tail = &qp->sent_head;
	qp->max_plen = TCP_PRE_IC_MAX_PLEN;
	rc = tcp_reqs_alloc(qp);
	if (rc)
		goto out_fail;
	qp_icd_register(qp);
	rc = qp->sops->attach(pg->sgroup, qp->fd, &tcp_sock_cbs, qp, &qp->sock);
	if (rc)
		goto out_fail;
	qp->fd = -1;
	TAILQ_INSERT_TAIL(&pg->qpairs, qp, pg_link);
	pg->stats.qpairs_added++;
	pg->stats.qpairs++;
	/* The ICReq deadline runs from accept. */
	tcp_pg_timer_add(qp);
	tcp_rx_process(qp);
	return 0;

out_fail:
	TCP_LOG(pg->tt, NVMFT_LOG_ERR, "%s:%s: cannot serve connection: %s",
		qp->addrs.peer.traddr, qp->addrs.peer.trsvcid, strerror(-rc));
	qp_icd_unregister(qp);
	tcp_reqs_free(qp);
	qp->pg = NULL;
	return rc;
}

static void tcp_qpair_start_close(struct tcp_qpair *qp)
{
	if (qp->closing)
		return;
	qp->closing = true;
	qp->rx_state = TCP_RX_QUIESCING;
	if (!qp->pg)
		return;
	tcp_pg_timer_del(qp);
	tcp_pg_unschedule_rx(qp);
	tcp_pg_unschedule_flush(qp);
	if (qp->sock)
		qp->sops->close(qp->sock);
}

void tcp_qpair_disconnect(struct tcp_qpair *qp)
{
	bool tell_core = !qp->closing && !qp->fini;

	tcp_qpair_start_close(qp);
	/* Our sock's closed callback is still to come, so qp outlives this
	 * call even if the core finishes the qpair synchronously. */
	if (tell_core)
		nvmf_qpair_disconnect(&qp->base);
}

static void tcp_closed(struct nsock *s, void *ctx)
{
	struct tcp_qpair *qp = ctx;

	(void)s;
	qp->sock = NULL;
	qp->sock_closed = true;
	/* Every send completed: queued PDUs will never go out. */
	tcp_tx_drop(qp);
	tcp_reqs_abort(qp);
	if (!qp->fini && !qp->closing) {
		/* Closed under us (cannot happen today: only we close). */
		tcp_qpair_disconnect(qp);
		return;
	}
	tcp_qpair_maybe_free(qp);
}

void tcp_qpair_maybe_free(struct tcp_qpair *qp)
{
	struct tcp_poll_group *pg = qp->pg;
	void (*done)(struct nvmf_qpair *, void *) = qp->fini_done;
	void *arg = qp->fini_arg;

	if (!qp->fini || !qp->sock_closed || qp->nr_in_core)
		return;
	if (pg) {
		qp_icd_unregister(qp);
		tcp_pg_timer_del(qp);
		tcp_pg_unschedule_rx(qp);
		tcp_pg_unschedule_flush(qp);
		TAILQ_REMOVE(&pg->qpairs, qp, pg_link);
		pg->stats.qpairs--;
		pg->stats.qpairs_freed++;
	}
	/* The core's last touch of qp, then ours. */
	if (done)
		done(&qp->base, arg);
	tcp_qpair_free(qp);
}

void tcp_qpair_fini(struct nvmf_qpair *nqp,
		    void (*done)(struct nvmf_qpair *qp, void *arg), void *arg)
{
	struct tcp_qpair *qp = tcp_qpair(nqp);

	qp->fini = true;
	qp->fini_done = done;
	qp->fini_arg = arg;
	if (!qp->sock) {
		/* Never attached (placement or poll_group_add failed). */
		if (qp->fd >= 0)
			close(qp->fd);
		qp->fd = -1;
		qp->sock_closed = true;
		qp->closing = true;
		tcp_reqs_abort(qp);
		tcp_qpair_maybe_free(qp);
		return;
	}
	tcp_qpair_start_close(qp);
	tcp_qpair_maybe_free(qp);
}

int tcp_qpair_get_addrs(struct nvmf_qpair *nqp, struct nvmf_qpair_addrs *addrs)
{
	*addrs = tcp_qpair(nqp)->addrs;
	return 0;
}
