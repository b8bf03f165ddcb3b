// SPDX-License-Identifier: MIT
/*
 * In-process transport for the NVMe-oF core tests (see fake_transport.h).
 * Reactor-side callbacks follow lib/nvmf/transport.h; the test side polls
 * atomics with a bounded wait.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/fake_transport.h"

#define WAIT_STEP_US	100

enum { SLOT_FREE = 0, SLOT_BUSY, SLOT_DONE };

/* Test-side totals over every fake transport of the process. */
struct fake_transport_stats fake_transport_totals;

static void stat_inc(struct fake_transport_stats *s, _Atomic int *field)
{
	size_t off = (size_t)((char *)field - (char *)s);

	atomic_fetch_add(field, 1);
	atomic_fetch_add((_Atomic int *)((char *)&fake_transport_totals + off), 1);
}

struct fake_transport {
	struct nvmf_transport t;
	struct fake_transport_stats stats;
};

/* Every qpair made, so that tests can look at them after their tgt went;
 * fake_transport_reap() frees the closed ones. */
static pthread_mutex_t all_qpairs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fake_qpair *all_qpairs;

struct fake_tpg {
	struct nvmf_transport_poll_group tpg;
};

struct fake_req {
	struct nvmf_req req;
	struct fake_qpair *fq;
	uint8_t *buf;
	uint32_t len;
	void *user;
	_Atomic int state;
	struct nvmft_cqe cqe;
};

struct fake_qpair {
	struct nvmf_qpair qp;
	struct fake_transport *ft;
	struct fake_qpair *next;
	struct nvmft_thread *thread;	/* set before added */
	_Atomic int added;
	_Atomic int closing;
	_Atomic int closed;
	/* qpair's reactor only: */
	unsigned int outstanding;
	void (*fini_done)(struct nvmf_qpair *qp, void *arg);
	void *fini_arg;
	struct fake_req reqs[FAKE_TRANSPORT_QDEPTH];
};

/* --- transport ops (reactor side) ------------------------------------------ */

static void ft_opts_init(struct nvmft_transport_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_queue_depth = 128;
	o->max_aq_depth = 32;
	o->max_qpairs_per_ctrlr = 8;
	o->in_capsule_data_size = 8192;
	o->max_io_size = 131072;
	o->io_unit_size = 131072;
	o->num_shared_buffers = 64;
	o->max_r2t = 1;
	o->c2h_success = true;
	o->icreq_timeout_ms = 10000;
	o->backlog = 16;
}

static int ft_create(struct nvmft_tgt *tgt, const struct nvmft_transport_opts *opts,
		     struct nvmf_transport **out)
{
	struct fake_transport *ft = calloc(1, sizeof(*ft));

	if (!ft)
		return -ENOMEM;
	*out = &ft->t;
	return 0;
}

static void ft_destroy(struct nvmf_transport *t, nvmft_msg_fn done, void *arg)
{
	struct fake_transport *ft = container_of(t, struct fake_transport, t);

	stat_inc(&ft->stats, &ft->stats.destroyed);
	free(ft);
	if (done)
		done(arg);
}

static int ft_listen(struct nvmf_transport *t, const struct nvmft_listen_addr *a)
{
	struct fake_transport *ft = container_of(t, struct fake_transport, t);

	if (!strcmp(a->traddr, "127.0.0.2"))
		return -EADDRINUSE;
	stat_inc(&ft->stats, &ft->stats.listens);
	return 0;
}

static void ft_stop_listen(struct nvmf_transport *t, const struct nvmft_listen_addr *a)
{
	struct fake_transport *ft = container_of(t, struct fake_transport, t);

	stat_inc(&ft->stats, &ft->stats.stop_listens);
}

static int ft_listen_port(struct nvmf_transport *t, const struct nvmft_listen_addr *a)
{
	return atoi(a->trsvcid);
}

static int ft_pg_create(struct nvmf_transport *t, struct nvmf_poll_group *pg,
			struct nvmf_transport_poll_group **out)
{
	struct fake_transport *ft = container_of(t, struct fake_transport, t);
	struct fake_tpg *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->tpg.transport = t;
	g->tpg.group = pg;
	stat_inc(&ft->stats, &ft->stats.pg_created);
	*out = &g->tpg;
	return 0;
}

static void ft_pg_destroy(struct nvmf_transport_poll_group *tpg)
{
	struct fake_transport *ft = container_of(tpg->transport, struct fake_transport, t);

	stat_inc(&ft->stats, &ft->stats.pg_destroyed);
	free(container_of(tpg, struct fake_tpg, tpg));
}

static int ft_pg_add(struct nvmf_transport_poll_group *tpg, struct nvmf_qpair *qp)
{
	struct fake_qpair *fq = container_of(qp, struct fake_qpair, qp);

	fq->thread = nvmf_poll_group_thread(tpg->group);
	stat_inc(&fq->ft->stats, &fq->ft->stats.qpairs_added);
	atomic_store_explicit(&fq->added, 1, memory_order_release);
	return 0;
}

static void fq_fini_done(struct fake_qpair *fq)
{
	void (*done)(struct nvmf_qpair *qp, void *arg) = fq->fini_done;

	fq->fini_done = NULL;
	if (done)
		done(&fq->qp, fq->fini_arg);
	stat_inc(&fq->ft->stats, &fq->ft->stats.qpairs_fini);
	atomic_store_explicit(&fq->closed, 1, memory_order_release);
}

static void ft_req_complete(struct nvmf_req *req)
{
	struct fake_req *r = container_of(req, struct fake_req, req);
	struct fake_qpair *fq = r->fq;

	r->cqe = req->rsp;
	fq->outstanding--;
	atomic_store_explicit(&r->state, SLOT_DONE, memory_order_release);
	if (atomic_load(&fq->closing) && fq->outstanding == 0 && fq->fini_done)
		fq_fini_done(fq);
}

static void ft_qpair_fini(struct nvmf_qpair *qp,
			  void (*done)(struct nvmf_qpair *qp, void *arg), void *arg)
{
	struct fake_qpair *fq = container_of(qp, struct fake_qpair, qp);

	fq->fini_done = done;
	fq->fini_arg = arg;
	atomic_store(&fq->closing, 1);
	if (fq->outstanding == 0)
		fq_fini_done(fq);
}

static int ft_get_addrs(struct nvmf_qpair *qp, struct nvmf_qpair_addrs *a)
{
	memset(a, 0, sizeof(*a));
	nvmft_listen_addr_init(&a->local, "127.0.0.1", "4420");
	nvmft_listen_addr_init(&a->peer, "127.0.0.1", "50000");
	return 0;
}

const struct nvmf_transport_ops fake_transport_ops = {
	.name = FAKE_TRANSPORT_NAME,
	.trtype = 0xfe,
	.opts_init = ft_opts_init,
	.create = ft_create,
	.destroy = ft_destroy,
	.listen = ft_listen,
	.stop_listen = ft_stop_listen,
	.listen_port = ft_listen_port,
	.poll_group_create = ft_pg_create,
	.poll_group_destroy = ft_pg_destroy,
	.poll_group_add = ft_pg_add,
	.req_complete = ft_req_complete,
	.qpair_fini = ft_qpair_fini,
	.qpair_get_addrs = ft_get_addrs,
};

/* --- test side ---------------------------------------------------------------- */

void fake_transport_on_app(struct nvmft_runtime *rt, void (*fn)(void *arg), void *arg)
{
	int rc = nvmft_runtime_exec(rt, 0, fn, arg);

	if (rc)
		abort();
}

void fake_transport_done(void *arg, int rc)
{
	struct fake_transport_waiter *w = arg;

	w->rc = rc;
	atomic_store(&w->done, 1);
}

int fake_transport_wait(struct fake_transport_waiter *w, uint64_t timeout_us)
{
	uint64_t end = nvmft_now_us() + timeout_us;

	while (!atomic_load(&w->done)) {
		if (nvmft_now_us() > end)
			return -ETIMEDOUT;
		usleep(WAIT_STEP_US);
	}
	return 0;
}

struct stats_ctx {
	struct nvmft_tgt *tgt;
	struct fake_transport_stats *out;
};

static void stats_fn(void *arg)
{
	struct stats_ctx *c = arg;
	struct nvmf_transport *t = nvmf_tgt_get_transport(c->tgt, FAKE_TRANSPORT_NAME);

	c->out = t ? &container_of(t, struct fake_transport, t)->stats : NULL;
}

struct fake_transport_stats *fake_transport_stats(struct nvmft_tgt *tgt)
{
	struct stats_ctx c = { .tgt = tgt };

	fake_transport_on_app(nvmft_tgt_get_runtime(tgt), stats_fn, &c);
	return c.out;
}

struct tgt_new_ctx {
	struct nvmft_runtime *rt;
	const struct nvmft_transport_opts *opts;
	struct nvmft_tgt *tgt;
	struct fake_transport_waiter w;
	int rc;
};

static void tgt_new_fn(void *arg)
{
	struct tgt_new_ctx *c = arg;
	struct nvmft_tgt_opts o;

	nvmft_tgt_opts_init(&o);
	o.name = "test";
	c->rc = nvmft_tgt_create(c->rt, &o, &c->tgt);
	if (c->rc)
		return;
	c->rc = nvmf_tgt_register_transport_ops(c->tgt, &fake_transport_ops);
	if (c->rc)
		return;
	c->rc = nvmft_tgt_add_transport(c->tgt, FAKE_TRANSPORT_NAME, c->opts,
					fake_transport_done, &c->w);
}

struct nvmft_tgt *fake_transport_tgt_new(struct nvmft_runtime *rt,
					 const struct nvmft_transport_opts *opts)
{
	struct tgt_new_ctx c = { .rt = rt, .opts = opts };

	fake_transport_on_app(rt, tgt_new_fn, &c);
	if (c.rc) {
		if (c.tgt)
			fake_transport_tgt_free(rt, c.tgt);
		return NULL;
	}
	if (fake_transport_wait(&c.w, 5000000) || c.w.rc) {
		fake_transport_tgt_free(rt, c.tgt);
		return NULL;
	}
	return c.tgt;
}

struct tgt_free_ctx {
	struct nvmft_tgt *tgt;
	struct fake_transport_waiter w;
};

static void tgt_free_fn(void *arg)
{
	struct tgt_free_ctx *c = arg;

	nvmft_tgt_destroy(c->tgt, fake_transport_done, &c->w);
}

int fake_transport_tgt_free(struct nvmft_runtime *rt, struct nvmft_tgt *tgt)
{
	struct tgt_free_ctx c = { .tgt = tgt };

	fake_transport_on_app(rt, tgt_free_fn, &c);
	return fake_transport_wait(&c.w, 10000000);
}

struct connect_ctx {
	struct nvmft_tgt *tgt;
	unsigned int reactor;
	struct fake_qpair *fq;
};

static void connect_fn(void *arg)
{
	struct connect_ctx *c = arg;
	struct nvmf_transport *t = nvmf_tgt_get_transport(c->tgt, FAKE_TRANSPORT_NAME);
	struct fake_transport *ft;
	struct fake_qpair *fq;
	int i;

	if (!t)
		return;
	ft = container_of(t, struct fake_transport, t);
	fq = calloc(1, sizeof(*fq));
	if (!fq)
		return;
	fq->ft = ft;
	fq->qp.transport = t;
	for (i = 0; i < FAKE_TRANSPORT_QDEPTH; i++) {
		fq->reqs[i].fq = fq;
		fq->reqs[i].req.qpair = &fq->qp;
	}
	pthread_mutex_lock(&all_qpairs_lock);
	fq->next = all_qpairs;
	all_qpairs = fq;
	pthread_mutex_unlock(&all_qpairs_lock);
	c->fq = fq;
	c->tgt->next_pg = c->reactor;
	nvmf_tgt_new_qpair(c->tgt, &fq->qp);
}

struct fake_qpair *fake_transport_connect(struct nvmft_runtime *rt,
					  struct nvmft_tgt *tgt, unsigned int reactor)
{
	struct connect_ctx c = { .tgt = tgt, .reactor = reactor };
	uint64_t end;

	fake_transport_on_app(rt, connect_fn, &c);
	if (!c.fq)
		return NULL;
	end = nvmft_now_us() + 5000000;
	while (!atomic_load_explicit(&c.fq->added, memory_order_acquire)) {
		if (atomic_load(&c.fq->closed) || nvmft_now_us() > end)
			return NULL;
		usleep(WAIT_STEP_US);
	}
	return c.fq;
}

struct nvmf_qpair *fake_transport_qpair(struct fake_qpair *fq)
{
	return &fq->qp;
}

static void submit_msg(void *arg)
{
	struct fake_req *r = arg;
	struct fake_qpair *fq = r->fq;

	if (atomic_load(&fq->closing)) {
		/* Gone: a real transport would not read the command at all. */
		memset(&r->cqe, 0, sizeof(r->cqe));
		r->cqe.cid = r->req.cmd.cid;
		r->cqe.status = (uint16_t)(NVMFT_STATUS(NVME_SCT_GENERIC,
							NVME_SC_ABORT_QUEUE) << 1);
		atomic_store_explicit(&r->state, SLOT_DONE, memory_order_release);
		return;
	}
	fq->outstanding++;
	nvmf_req_exec(&r->req);
}

int fake_transport_submit(struct fake_qpair *fq, const struct nvmft_sqe *sqe,
			  void *data, uint32_t len)
{
	struct fake_req *r = NULL;
	int i, expect;

	if (atomic_load(&fq->closing) || atomic_load(&fq->closed) ||
	    !atomic_load_explicit(&fq->added, memory_order_acquire))
		return -ESHUTDOWN;
	for (i = 0; i < FAKE_TRANSPORT_QDEPTH; i++) {
		expect = SLOT_FREE;
		if (atomic_compare_exchange_strong(&fq->reqs[i].state, &expect, SLOT_BUSY)) {
			r = &fq->reqs[i];
			break;
		}
	}
	if (!r)
		return -EBUSY;
	free(r->buf);
	r->buf = len ? malloc(len) : NULL;
	if (len && !r->buf) {
		atomic_store(&r->state, SLOT_FREE);
		return -ENOMEM;
	}
	r->len = len;
	r->user = data;
	memset(&r->req.rsp, 0, sizeof(r->req.rsp));
	r->req.cmd = *sqe;
	r->req.cmd.cid = (uint16_t)i;
	r->req.xfer = nvmf_req_get_xfer(&r->req.cmd);
	r->req.length = len;
	r->req.iovcnt = len ? 1 : 0;
	r->req.iov[0].iov_base = r->buf;
	r->req.iov[0].iov_len = len;
	if (len && data && r->req.xfer == NVMF_XFER_H2C)
		memcpy(r->buf, data, len);
	else if (len)
		memset(r->buf, 0, len);
	if (nvmft_thread_send_msg(fq->thread, submit_msg, r)) {
		atomic_store(&r->state, SLOT_FREE);
		return -EBUSY;
	}
	return i;
}

bool fake_transport_cqe_ready(struct fake_qpair *fq, int cid)
{
	return atomic_load_explicit(&fq->reqs[cid].state, memory_order_acquire) == SLOT_DONE;
}

int fake_transport_wait_cqe(struct fake_qpair *fq, int cid, struct nvmft_cqe *out,
			    uint64_t timeout_us)
{
	struct fake_req *r = &fq->reqs[cid];
	uint64_t end = nvmft_now_us() + timeout_us;

	while (atomic_load_explicit(&r->state, memory_order_acquire) != SLOT_DONE) {
		if (nvmft_now_us() > end)
			return -ETIMEDOUT;
		usleep(WAIT_STEP_US);
	}
	if (out)
		*out = r->cqe;
	if (r->user && r->len && r->req.xfer == NVMF_XFER_C2H)
		memcpy(r->user, r->buf, r->len);
	atomic_store(&r->state, SLOT_FREE);
	return 0;
}

uint16_t fake_transport_exec(struct fake_qpair *fq, const struct nvmft_sqe *sqe,
			     void *data, uint32_t len, struct nvmft_cqe *out)
{
	struct nvmft_cqe cqe;
	int cid = fake_transport_submit(fq, sqe, data, len);

	if (cid < 0 || fake_transport_wait_cqe(fq, cid, &cqe, 5000000))
		return 0xffff;
	if (out)
		*out = cqe;
	return cqe.status >> 1;
}

static void disconnect_msg(void *arg)
{
	struct fake_qpair *fq = arg;

	if (!atomic_load(&fq->closed))
		nvmf_qpair_disconnect(&fq->qp);
}

void fake_transport_disconnect(struct fake_qpair *fq)
{
	if (nvmft_thread_send_msg(fq->thread, disconnect_msg, fq))
		abort();
}

bool fake_transport_closed(struct fake_qpair *fq)
{
	return atomic_load_explicit(&fq->closed, memory_order_acquire);
}

bool fake_transport_wait_closed(struct fake_qpair *fq, uint64_t timeout_us)
{
	uint64_t end = nvmft_now_us() + timeout_us;

	while (!fake_transport_closed(fq)) {
		if (nvmft_now_us() > end)
			return false;
		usleep(WAIT_STEP_US);
	}
	return true;
}

void fake_transport_reap(void)
{
	struct fake_qpair **pp, *fq;
	int i;

	pthread_mutex_lock(&all_qpairs_lock);
	for (pp = &all_qpairs; (fq = *pp);) {
		if (!fake_transport_closed(fq)) {
			pp = &fq->next;
			continue;
		}
		*pp = fq->next;
		for (i = 0; i < FAKE_TRANSPORT_QDEPTH; i++)
			free(fq->reqs[i].buf);
		free(fq);
	}
	pthread_mutex_unlock(&all_qpairs_lock);
}

/* --- command builders ------------------------------------------------------------ */

static void fabrics_sqe(struct nvmft_sqe *sqe, uint8_t fctype)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = nvme_admin_fabrics;
	((uint8_t *)sqe)[4] = fctype;
	sqe->sgl.type = NVMFT_SGL_INCAPSULE;
}

void fake_transport_connect_cmd(struct nvmft_sqe *sqe, struct nvmf_connect_data *data,
				uint16_t qid, uint16_t sqsize, uint16_t cntlid,
				uint32_t kato_ms, const char *subnqn,
				const char *hostnqn)
{
	int i;

	fabrics_sqe(sqe, nvme_fabrics_type_connect);
	sqe->cdw10 = (uint32_t)qid << 16;
	sqe->cdw11 = sqsize;
	sqe->cdw12 = kato_ms;
	sqe->sgl.length = sizeof(*data);
	memset(data, 0, sizeof(*data));
	for (i = 0; i < 16; i++)
		data->hostid[i] = (uint8_t)(0xa0 + i);
	data->cntlid = htole16(cntlid);
	strncpy(data->subsysnqn, subnqn, sizeof(data->subsysnqn) - 1);
	strncpy(data->hostnqn, hostnqn, sizeof(data->hostnqn) - 1);
}

void fake_transport_prop_get_cmd(struct nvmft_sqe *sqe, uint32_t ofst, int size)
{
	fabrics_sqe(sqe, nvme_fabrics_type_property_get);
	sqe->cdw10 = size == 8 ? 1 : 0;
	sqe->cdw11 = ofst;
}

void fake_transport_prop_set_cmd(struct nvmft_sqe *sqe, uint32_t ofst, int size,
				 uint64_t value)
{
	fabrics_sqe(sqe, nvme_fabrics_type_property_set);
	sqe->cdw10 = size == 8 ? 1 : 0;
	sqe->cdw11 = ofst;
	sqe->cdw12 = (uint32_t)value;
	sqe->cdw13 = (uint32_t)(value >> 32);
}

struct fake_qpair *fake_transport_admin_connect(struct nvmft_runtime *rt,
						struct nvmft_tgt *tgt,
						unsigned int reactor,
						const char *subnqn,
						const char *hostnqn,
						uint32_t kato_ms, uint16_t *cntlid)
{
	struct nvmf_connect_data data;
	struct nvmft_sqe sqe;
	struct nvmft_cqe cqe;
	struct fake_qpair *fq;
	uint64_t end;

	fq = fake_transport_connect(rt, tgt, reactor);
	if (!fq)
		return NULL;
	fake_transport_connect_cmd(&sqe, &data, 0, 31, 0xffff, kato_ms, subnqn, hostnqn);
	if (fake_transport_exec(fq, &sqe, &data, sizeof(data), &cqe) != 0)
		return NULL;
	*cntlid = (uint16_t)cqe.result;
	fake_transport_prop_set_cmd(&sqe, NVME_REG_CC, 4,
				    1u | (6u << NVME_CC_IOSQES_SHIFT) |
				    (4u << NVME_CC_IOCQES_SHIFT));
	if (fake_transport_exec(fq, &sqe, NULL, 0, NULL) != 0)
		return NULL;
	end = nvmft_now_us() + 5000000;
	for (;;) {
		fake_transport_prop_get_cmd(&sqe, NVME_REG_CSTS, 4);
		if (fake_transport_exec(fq, &sqe, NULL, 0, &cqe) != 0)
			return NULL;
		if (cqe.result & 1)
			return fq;
		if (nvmft_now_us() > end)
			return NULL;
		usleep(1000);
	}
}

struct fake_qpair *fake_transport_io_connect(struct nvmft_runtime *rt,
					     struct nvmft_tgt *tgt,
					     unsigned int reactor,
					     const char *subnqn,
					     const char *hostnqn,
					     uint16_t cntlid, uint16_t qid)
{
	struct nvmf_connect_data data;
	struct nvmft_sqe sqe;
	struct fake_qpair *fq;

	fq = fake_transport_connect(rt, tgt, reactor);
	if (!fq)
		return NULL;
	fake_transport_connect_cmd(&sqe, &data, qid, 31, cntlid, 0, subnqn, hostnqn);
	if (fake_transport_exec(fq, &sqe, &data, sizeof(data), NULL) != 0)
		return NULL;
	return fq;
}
