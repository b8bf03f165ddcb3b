/* SPDX-License-Identifier: MIT */
/*
 * Shared by the command handler tests (test_nvmf_admin.c, test_nvmf_io.c,
 * test_nvmf_discovery.c): a real runtime of one reactor, a real bdev
 * registry with malloc bdevs, and a hand-built target around them — tgt,
 * poll group, one subsystem with its per-reactor sgroup, a controller with
 * an admin and an I/O qpair — on a test transport whose req_complete
 * records the CQE. Commands go through nvmf_req_exec() on reactor 0 and
 * the test thread waits (bounded) for the completion.
 */
#ifndef TEST_NVMF_CMD_HARNESS_H
#define TEST_NVMF_CMD_HARNESS_H

#include <errno.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <nvmft/bdev.h>
#include <nvmft/runtime.h>
#include "nvmf/nvmf_internal.h"

#define TH_UNUSED	__attribute__((unused))
#define TH_WAIT_SEC	10
#define TH_MAX_NS	8
#define TH_MAX_QPAIRS	4		/* admin + 3 I/O */
#define TH_SS_NQN	"nqn.2024-01.io.nvmft:test"
#define TH_HOSTNQN	"nqn.2014-08.org.nvmexpress:uuid:0f0e0d0c-0b0a-0908-0706-050403020100"
#define TH_MAX_IO	(128 * 1024)
#define TH_ICDSZ	8192
#define TH_QDEPTH	128

/* Status as in NVMFT_STATUS (CQE status field >> 1). */
#define TH_ST(sct, sc)		NVMFT_STATUS(sct, sc)
#define TH_ST_DNR(sct, sc)	(NVMFT_STATUS(sct, sc) | NVMFT_STATUS_DNR)

struct th_ns {
	struct nvmf_ns ns;
	struct nvmft_io_channel *ch;
};

struct th {
	struct nvmft_runtime *rt;
	struct nvmft_thread *app;
	struct nvmft_bdev_registry *reg;

	struct nvmft_tgt tgt;
	struct nvmf_poll_group pg;
	struct nvmf_poll_group *pgs[1];
	struct nvmf_transport transport;
	struct nvmft_subsystem ss;
	struct nvmf_ns *ss_ns[TH_MAX_NS];
	struct th_ns ns[TH_MAX_NS];

	struct nvmf_ctrlr ctrlr;
	struct nvmf_qpair *io_qpairs[TH_MAX_QPAIRS];
	struct nvmf_qpair aq, ioq;
	struct nvmf_qpair_core aq_core, ioq_core;

	_Atomic uint32_t events;	/* nvmf_ctrlr_async_event calls seen */
};

struct th_req {
	struct nvmf_req req;
	sem_t done;
	_Atomic int completions;
	struct nvmft_cqe cqe;
};

static TH_UNUSED bool th_sem_wait(sem_t *s, int sec)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += sec;
	while (sem_timedwait(s, &ts) != 0)
		if (errno != EINTR)
			return false;
	return true;
}

static TH_UNUSED void th_run(struct th *h, nvmft_msg_fn fn, void *arg)
{
	assert_int_equal(nvmft_runtime_exec(h->rt, 0, fn, arg), 0);
}

/* --- test transport ----------------------------------------------------- */

static void th_req_complete(struct nvmf_req *req)
{
	struct th_req *r = container_of(req, struct th_req, req);

	r->cqe = req->rsp;
	atomic_fetch_add(&r->completions, 1);
	sem_post(&r->done);
}

static int th_get_addrs(struct nvmf_qpair *qp, struct nvmf_qpair_addrs *a)
{
	(void)qp;
	memset(a, 0, sizeof(*a));
	nvmft_listen_addr_init(&a->local, "127.0.0.1", "4420");
	nvmft_listen_addr_init(&a->peer, "127.0.0.1", "50000");
	return 0;
}

static int th_listen_port(struct nvmf_transport *t,
			  const struct nvmft_listen_addr *addr)
{
	(void)t;
	(void)addr;
	return 34567;		/* what an ephemeral "0" got bound to */
}

static const struct nvmf_transport_ops th_ops = {
	.name = "TCP",
	.trtype = NVMF_TRTYPE_TCP,
	.req_complete = th_req_complete,
	.qpair_get_addrs = th_get_addrs,
	.listen_port = th_listen_port,
};

/* --- target ----------------------------------------------------------------- */

static void th_qpair_init(struct th *h, struct nvmf_qpair *qp,
			  struct nvmf_qpair_core *core, uint16_t qid)
{
	memset(qp, 0, sizeof(*qp));
	qp->transport = &h->transport;
	qp->group = &h->pg;
	qp->ctrlr = &h->ctrlr;
	qp->state = NVMF_QPAIR_ACTIVE;
	qp->qid = qid;
	qp->sq_size = qid ? TH_QDEPTH : 32;
	qp->sq_flow_control = true;
	qp->core_ctx = core;
}

static void th_ss_init(struct th *h, struct nvmft_subsystem *ss, uint32_t id,
		       const char *nqn, bool discovery)
{
	memset(ss, 0, sizeof(*ss));
	ss->tgt = &h->tgt;
	ss->id = id;
	ss->state = NVMF_SS_ACTIVE;
	ss->discovery = discovery;
	snprintf(ss->nqn, sizeof(ss->nqn), "%s", nqn);
	snprintf(ss->serial, sizeof(ss->serial), "%s", "SN0001");
	snprintf(ss->model, sizeof(ss->model), "%s", "nvmft test");
	ss->allow_any_host = true;
	TAILQ_INIT(&ss->hosts);
	TAILQ_INIT(&ss->listeners);
	TAILQ_INIT(&ss->ctrlrs);
}

static TH_UNUSED int th_setup(void **state)
{
	struct nvmft_runtime_opts o;
	struct th *h = calloc(1, sizeof(*h));
	struct nvmf_sgroup *sg;

	assert_non_null(h);
	nvmft_runtime_opts_init(&o);
	o.nr_reactors = 1;
	o.name = "tcmd";
	assert_int_equal(nvmft_runtime_create(&o, &h->rt), 0);
	assert_int_equal(nvmft_runtime_start(h->rt), 0);
	h->app = nvmft_runtime_get_thread(h->rt, 0);
	assert_int_equal(nvmft_bdev_registry_create(h->rt, &h->reg), 0);

	h->tgt.rt = h->rt;
	snprintf(h->tgt.name, sizeof(h->tgt.name), "%s", "t");
	h->tgt.opts.max_subsystems = 4;
	h->tgt.bdevs = h->reg;
	h->tgt.app_thread = h->app;
	TAILQ_INIT(&h->tgt.transports);
	TAILQ_INIT(&h->tgt.subsystems);
	TAILQ_INIT(&h->tgt.listeners);
	h->pgs[0] = &h->pg;
	h->tgt.pgs = h->pgs;
	h->tgt.nr_threads = 1;

	h->transport.ops = &th_ops;
	h->transport.tgt = &h->tgt;
	h->transport.opts.max_queue_depth = TH_QDEPTH;
	h->transport.opts.max_aq_depth = 32;
	h->transport.opts.max_qpairs_per_ctrlr = TH_MAX_QPAIRS;
	h->transport.opts.in_capsule_data_size = TH_ICDSZ;
	h->transport.opts.max_io_size = TH_MAX_IO;

	th_ss_init(h, &h->ss, 1, TH_SS_NQN, false);
	h->ss.max_nsid = TH_MAX_NS;
	h->ss.ns = h->ss_ns;
	TAILQ_INSERT_TAIL(&h->tgt.subsystems, &h->ss, link);

	h->pg.tgt = &h->tgt;
	h->pg.thread = h->app;
	TAILQ_INIT(&h->pg.tpgs);
	h->pg.nr_sgroups = h->tgt.opts.max_subsystems + 1;
	h->pg.sgroups = calloc(h->pg.nr_sgroups, sizeof(*h->pg.sgroups));
	assert_non_null(h->pg.sgroups);
	sg = &h->pg.sgroups[h->ss.id];
	sg->started = true;
	sg->nr_ns = TH_MAX_NS;
	sg->ns = calloc(TH_MAX_NS, sizeof(*sg->ns));
	assert_non_null(sg->ns);

	h->ctrlr.ss = &h->ss;
	h->ctrlr.tgt = &h->tgt;
	h->ctrlr.cntlid = 7;
	h->ctrlr.thread = h->app;
	h->ctrlr.admin_qpair = &h->aq;
	snprintf(h->ctrlr.hostnqn, sizeof(h->ctrlr.hostnqn), "%s", TH_HOSTNQN);
	for (int i = 0; i < 16; i++)
		h->ctrlr.hostid[i] = (uint8_t)(0xa0 + i);
	h->ctrlr.vs = 0x10400;
	h->ctrlr.kato_ms = 120000;
	h->ctrlr.max_qpairs = TH_MAX_QPAIRS;
	h->ctrlr.io_qpairs = h->io_qpairs;
	h->ctrlr.created_us = nvmft_now_us();
	nvmf_features_init(&h->ctrlr);

	th_qpair_init(h, &h->aq, &h->aq_core, 0);
	th_qpair_init(h, &h->ioq, &h->ioq_core, 1);
	h->io_qpairs[1] = &h->ioq;
	h->ctrlr.nr_io_qpairs = 1;
	*state = h;
	return 0;
}

/* --- namespaces ------------------------------------------------------------ */

static void th_bdev_event(enum nvmft_bdev_event ev, struct nvmft_bdev *bdev,
			  void *ctx)
{
	(void)ev;
	(void)bdev;
	(void)ctx;
}

enum th_bdev_kind { TH_MALLOC, TH_NULL, TH_EXISTING };

struct th_ns_op {
	struct th *h;
	uint32_t nsid;
	const char *name;
	uint64_t blocks;
	uint32_t bs;
	enum th_bdev_kind kind;
	int rc;
};

static void th_ns_add_fn(void *arg)
{
	struct th_ns_op *op = arg;
	struct th *h = op->h;
	struct th_ns *tn = &h->ns[op->nsid - 1];
	struct nvmf_sgroup *sg = &h->pg.sgroups[h->ss.id];
	struct nvmft_bdev *bdev;
	int rc;

	if (op->kind == TH_NULL)
		rc = nvmft_bdev_null_create(h->reg, op->name, op->blocks, op->bs,
					    NULL, &bdev);
	else if (op->kind == TH_MALLOC)
		rc = nvmft_bdev_malloc_create(h->reg, op->name, op->blocks,
					      op->bs, NULL, &bdev);
	else
		rc = (bdev = nvmft_bdev_get(h->reg, op->name)) ? 0 : -ENOENT;
	if (rc) {
		op->rc = rc;
		return;
	}
	memset(tn, 0, sizeof(*tn));
	rc = nvmft_bdev_open(h->reg, op->name, true, th_bdev_event, tn,
			     &tn->ns.desc);
	if (rc) {
		op->rc = rc;
		return;
	}
	tn->ns.ss = &h->ss;
	tn->ns.nsid = op->nsid;
	tn->ns.bdev = bdev;
	memcpy(tn->ns.uuid, nvmft_bdev_uuid(bdev), 16);
	memcpy(tn->ns.nguid, tn->ns.uuid, 16);
	tn->ns.block_size = nvmft_bdev_block_size(bdev);
	tn->ns.num_blocks = nvmft_bdev_num_blocks(bdev);
	tn->ch = nvmft_bdev_get_io_channel(tn->ns.desc);
	op->rc = tn->ch ? 0 : -ENOMEM;
	h->ss_ns[op->nsid - 1] = &tn->ns;
	h->ss.nr_ns++;
	sg->ns[op->nsid - 1].ns = &tn->ns;
	sg->ns[op->nsid - 1].ch = tn->ch;
}

/* A malloc (or null) bdev @name as namespace @nsid. */
static TH_UNUSED void th_add_ns(struct th *h, uint32_t nsid, const char *name,
				uint64_t blocks, uint32_t bs, bool null_bdev)
{
	struct th_ns_op op = { .h = h, .nsid = nsid, .name = name,
			       .blocks = blocks, .bs = bs,
			       .kind = null_bdev ? TH_NULL : TH_MALLOC };

	th_run(h, th_ns_add_fn, &op);
	assert_int_equal(op.rc, 0);
}

/* The already registered bdev @name as namespace @nsid. */
static TH_UNUSED void th_attach_ns(struct th *h, uint32_t nsid, const char *name)
{
	struct th_ns_op op = { .h = h, .nsid = nsid, .name = name,
			       .kind = TH_EXISTING };

	th_run(h, th_ns_add_fn, &op);
	assert_int_equal(op.rc, 0);
}

static void th_teardown_fn(void *arg)
{
	struct th *h = arg;
	uint32_t i;

	for (i = 0; i < TH_MAX_NS; i++) {
		struct th_ns *tn = &h->ns[i];

		if (tn->ch)
			nvmft_put_io_channel(tn->ch);
		if (tn->ns.desc)
			nvmft_bdev_close(tn->ns.desc);
	}
}

struct th_reg_destroy {
	struct th *h;
	sem_t done;
};

static void th_reg_destroyed(void *arg)
{
	sem_post(&((struct th_reg_destroy *)arg)->done);
}

static void th_reg_destroy_fn(void *arg)
{
	struct th_reg_destroy *d = arg;

	nvmft_bdev_registry_destroy(d->h->reg, th_reg_destroyed, d);
}

static TH_UNUSED int th_teardown(void **state)
{
	struct th *h = *state;
	struct th_reg_destroy d = { .h = h };
	uint32_t i;

	th_run(h, th_teardown_fn, h);
	sem_init(&d.done, 0, 0);
	th_run(h, th_reg_destroy_fn, &d);
	assert_true(th_sem_wait(&d.done, TH_WAIT_SEC));
	sem_destroy(&d.done);
	nvmft_runtime_stop(h->rt);
	nvmft_runtime_destroy(h->rt);
	for (i = 0; i < h->pg.nr_sgroups; i++)
		free(h->pg.sgroups[i].ns);
	free(h->pg.sgroups);
	free(h);
	return 0;
}

/* --- commands ---------------------------------------------------------------- */

static TH_UNUSED void th_req_init(struct th_req *r, struct nvmf_qpair *qp,
				  uint8_t opc, uint32_t nsid, void *buf,
				  uint32_t len)
{
	memset(r, 0, sizeof(*r));
	sem_init(&r->done, 0, 0);
	r->req.qpair = qp;
	r->req.cmd.opcode = opc;
	r->req.cmd.cid = 0x1234;
	r->req.cmd.nsid = nsid;
	r->req.cmd.flags = 0x40;	/* PSDT: SGL */
	r->req.xfer = nvmf_req_get_xfer(&r->req.cmd);
	r->req.length = len;
	if (buf && len) {
		r->req.iov[0].iov_base = buf;
		r->req.iov[0].iov_len = len;
		r->req.iovcnt = 1;
	}
}

/* Two iovecs (split at @split) to exercise scatter/gather copies. */
static TH_UNUSED void th_req_split(struct th_req *r, size_t split)
{
	uint8_t *base = r->req.iov[0].iov_base;
	size_t len = r->req.iov[0].iov_len;

	r->req.iov[0].iov_len = split;
	r->req.iov[1].iov_base = base + split;
	r->req.iov[1].iov_len = len - split;
	r->req.iovcnt = 2;
}

static void th_exec_fn(void *arg)
{
	struct th_req *r = arg;

	nvmf_req_exec(&r->req);
}

static void th_noop_fn(void *arg)
{
	(void)arg;
}

/* Completion status of @r; asserts it completed exactly once. */
static TH_UNUSED uint16_t th_wait(struct th *h, struct th_req *r)
{
	assert_true(th_sem_wait(&r->done, TH_WAIT_SEC));
	/* one more turn of the reactor: a second completion would show */
	th_run(h, th_noop_fn, NULL);
	assert_int_equal(atomic_load(&r->completions), 1);
	assert_int_equal(r->cqe.cid, r->req.cmd.cid);
	sem_destroy(&r->done);
	return r->cqe.status >> 1;
}

static TH_UNUSED uint16_t th_exec(struct th *h, struct th_req *r)
{
	th_run(h, th_exec_fn, r);
	return th_wait(h, r);
}

/* Run an admin command with a data buffer; returns the status. */
static TH_UNUSED uint16_t th_admin(struct th *h, uint8_t opc, uint32_t nsid,
				   uint32_t cdw10, uint32_t cdw11, void *buf,
				   uint32_t len, uint32_t *result)
{
	struct th_req r;
	uint16_t s;

	th_req_init(&r, &h->aq, opc, nsid, buf, len);
	r.req.cmd.cdw10 = cdw10;
	r.req.cmd.cdw11 = cdw11;
	s = th_exec(h, &r);
	if (result)
		*result = (uint32_t)r.cqe.result;
	return s;
}

#endif
