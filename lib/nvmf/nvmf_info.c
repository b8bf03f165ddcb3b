// SPDX-License-Identifier: MIT
/*
 * Read-only accessors of the core's objects for management (nvmf_info.h).
 * Nothing here changes state; values owned by another reactor (a
 * controller's queue count, its keep-alive) are sampled with relaxed
 * atomic loads.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nvmf/nvmf_info.h"
#include "nvmf/nvmf_internal.h"

const char *nvmf_info_tgt_name(const struct nvmft_tgt *tgt)
{
	return tgt->name;
}

int nvmf_info_foreach_transport(struct nvmft_tgt *tgt,
				int (*fn)(const char *trtype,
					  const struct nvmft_transport_opts *opts,
					  void *arg),
				void *arg)
{
	struct nvmf_transport_entry *e;
	int rc;

	ASSERT_ON_THREAD(tgt->app_thread);
	TAILQ_FOREACH(e, &tgt->transports, link) {
		rc = fn(e->transport->ops->name, &e->transport->opts, arg);
		if (rc)
			return rc;
	}
	return 0;
}

int nvmf_info_foreach_tgt_listener(struct nvmft_tgt *tgt,
				   int (*fn)(const struct nvmft_listen_addr *addr,
					     bool explicit, void *arg),
				   void *arg)
{
	struct nvmf_tgt_listener *l;
	int rc;

	ASSERT_ON_THREAD(tgt->app_thread);
	TAILQ_FOREACH(l, &tgt->listeners, link) {
		rc = fn(&l->addr, l->tgt_listen, arg);
		if (rc)
			return rc;
	}
	return 0;
}

void nvmf_info_subsystem(const struct nvmft_subsystem *ss,
			 struct nvmf_info_ss *out)
{
	ASSERT_ON_THREAD(ss->tgt->app_thread);
	memset(out, 0, sizeof(*out));
	out->nqn = ss->nqn;
	out->serial = ss->serial;
	out->model = ss->model;
	out->discovery = ss->discovery;
	out->allow_any_host = ss->allow_any_host;
	out->started = ss->start_queued;
	out->max_namespaces = ss->max_nsid;
	out->nr_namespaces = ss->nr_ns;
	out->min_cntlid = ss->min_cntlid;
	out->max_cntlid = ss->max_cntlid;
	out->max_controllers = ss->max_controllers;
	out->nr_controllers = ss->nr_ctrlrs;
}

int nvmf_info_foreach_host(const struct nvmft_subsystem *ss,
			   int (*fn)(const char *hostnqn, void *arg), void *arg)
{
	const struct nvmf_host_entry *h;
	int rc;

	ASSERT_ON_THREAD(ss->tgt->app_thread);
	TAILQ_FOREACH(h, &ss->hosts, link) {
		rc = fn(h->nqn, arg);
		if (rc)
			return rc;
	}
	return 0;
}

int nvmf_info_foreach_listener(const struct nvmft_subsystem *ss,
			       int (*fn)(const struct nvmft_listen_addr *addr,
					 void *arg),
			       void *arg)
{
	const struct nvmf_listener_entry *l;
	int rc;

	ASSERT_ON_THREAD(ss->tgt->app_thread);
	TAILQ_FOREACH(l, &ss->listeners, link) {
		rc = fn(&l->addr, arg);
		if (rc)
			return rc;
	}
	return 0;
}

int nvmf_info_foreach_ns(const struct nvmft_subsystem *ss,
			 int (*fn)(const struct nvmf_info_ns *ns, void *arg),
			 void *arg)
{
	struct nvmf_info_ns v;
	uint32_t i;
	int rc;

	ASSERT_ON_THREAD(ss->tgt->app_thread);
	for (i = 0; ss->ns && i < ss->max_nsid; i++) {
		const struct nvmf_ns *ns = ss->ns[i];

		if (!ns)
			continue;
		memset(&v, 0, sizeof(v));
		v.nsid = ns->nsid;
		v.bdev = ns->bdev;
		v.bdev_name = ns->bdev ? nvmft_bdev_name(ns->bdev) : "";
		memcpy(v.uuid, ns->uuid, sizeof(v.uuid));
		memcpy(v.nguid, ns->nguid, sizeof(v.nguid));
		v.anagrpid = ns->anagrpid;
		v.removing = ns->removing;
		rc = fn(&v, arg);
		if (rc)
			return rc;
	}
	return 0;
}

int nvmf_info_foreach_ctrlr(const struct nvmft_subsystem *ss,
			    int (*fn)(const struct nvmf_info_ctrlr *c, void *arg),
			    void *arg)
{
	const struct nvmf_ctrlr *c;
	struct nvmf_info_ctrlr v;
	int rc;

	ASSERT_ON_THREAD(ss->tgt->app_thread);
	/* ss->ctrlrs is the app reactor's view: a controller stays in it
	 * (and allocated) until the app reactor unlinks it. */
	TAILQ_FOREACH(c, &ss->ctrlrs, link) {
		memset(&v, 0, sizeof(v));
		v.cntlid = c->cntlid;
		v.hostnqn = c->hostnqn;
		memcpy(v.hostid, c->hostid, sizeof(v.hostid));
		v.nr_io_qpairs = __atomic_load_n(&c->nr_io_qpairs, __ATOMIC_RELAXED);
		v.kato_ms = __atomic_load_n(&c->kato_ms, __ATOMIC_RELAXED);
		v.thread = c->thread ? nvmft_thread_index(c->thread) : 0;
		rc = fn(&v, arg);
		if (rc)
			return rc;
	}
	return 0;
}

/* --- poll groups ------------------------------------------------------------ */

struct visit {
	struct nvmft_tgt *tgt;
	void (*fn)(struct nvmf_poll_group *pg, void *arg);
	void *arg;
	nvmft_msg_fn done;
};

static void visit_one(void *p)
{
	struct visit *v = p;

	v->fn(nvmf_tgt_local_group(v->tgt), v->arg);
}

static void visit_done(void *p)
{
	struct visit *v = p;
	nvmft_msg_fn done = v->done;
	void *arg = v->arg;

	free(v);
	if (done)
		done(arg);
}

int nvmf_info_visit_poll_groups(struct nvmft_tgt *tgt,
				void (*fn)(struct nvmf_poll_group *pg, void *arg),
				void *arg, nvmft_msg_fn done)
{
	struct visit *v;
	int rc;

	ASSERT_ON_THREAD(tgt->app_thread);
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->tgt = tgt;
	v->fn = fn;
	v->arg = arg;
	v->done = done;
	rc = nvmft_thread_for_each(tgt->rt, visit_one, v, visit_done);
	if (rc)
		free(v);
	return rc;
}

void nvmf_info_poll_group(struct nvmf_poll_group *pg, struct nvmf_info_pg *out)
{
	const struct nvmf_qpair *qp;
	uint32_t i;

	ASSERT_ON_THREAD(pg->thread);
	memset(out, 0, sizeof(*out));
	out->thread = nvmft_thread_index(pg->thread);
	out->nr_qpairs = pg->nr_qpairs;
	out->admin_cmds = pg->stats.admin_cmds;
	out->io_cmds = pg->stats.io_cmds;
	out->qpairs_created = pg->stats.qpairs_created;
	out->qpairs_destroyed = pg->stats.qpairs_destroyed;
	out->errors = pg->stats.errors;
	out->io_lat = &pg->stats.io_lat;
	for (qp = pg->qpairs_head; qp; qp = qp->core_link[1]) {
		if (qp->state != NVMF_QPAIR_ACTIVE)
			continue;
		if (qp->qid == 0)
			out->nr_admin_qpairs++;
		else
			out->nr_io_qpairs++;
	}
	for (i = 0; pg->sgroups && i < pg->nr_sgroups; i++)
		out->pending_io += pg->sgroups[i].io_outstanding;
}

static const char *qpair_state_name(enum nvmf_qpair_state st)
{
	switch (st) {
	case NVMF_QPAIR_NEW:		return "uninitialized";
	case NVMF_QPAIR_ACTIVE:		return "active";
	case NVMF_QPAIR_DISCONNECTING:	return "deactivating";
	}
	return "unknown";
}

static void info_qpair_counters(struct nvmf_qpair *qp, struct nvmf_info_qpair *v)
{
	struct nvmf_qpair_core *core = nvmf_qpair_core(qp);

	v->qpair = qp;
	if (!core)
		return;
	v->cmds = core->stats.cmds;
	v->errors = core->stats.errors;
	/* SMART counters: this reactor writes them (relaxed atomics) */
	v->read_cmds = atomic_load_explicit(&core->smart.host_read_cmds,
					    memory_order_relaxed);
	v->write_cmds = atomic_load_explicit(&core->smart.host_write_cmds,
					     memory_order_relaxed);
	v->bytes_read = 512 * atomic_load_explicit(&core->smart.data_units_read,
						   memory_order_relaxed);
	v->bytes_written = 512 * atomic_load_explicit(&core->smart.data_units_written,
						      memory_order_relaxed);
}

int nvmf_info_foreach_qpair(struct nvmf_poll_group *pg,
			    int (*fn)(const struct nvmf_info_qpair *q, void *arg),
			    void *arg)
{
	struct nvmf_qpair *qp, *next;
	struct nvmf_info_qpair v;
	int rc;

	ASSERT_ON_THREAD(pg->thread);
	for (qp = pg->qpairs_head; qp; qp = next) {
		next = qp->core_link[1];
		memset(&v, 0, sizeof(v));
		/* A controller outlives every request of its qpairs, and its
		 * subsystem outlives the controller. */
		if (qp->ctrlr) {
			v.subnqn = qp->ctrlr->ss->nqn;
			v.cntlid = qp->ctrlr->cntlid;
		}
		v.qid = qp->qid;
		v.sq_size = qp->sq_size;
		v.state = qpair_state_name(qp->state);
		v.trtype = qp->transport->ops->name;
		v.outstanding = qp->core_outstanding;
		info_qpair_counters(qp, &v);
		v.addrs_rc = qp->transport->ops->qpair_get_addrs ?
			     qp->transport->ops->qpair_get_addrs(qp, &v.addrs) :
			     -EOPNOTSUPP;
		rc = fn(&v, arg);
		if (rc)
			return rc;
	}
	return 0;
}

int nvmf_info_foreach_tpg(struct nvmf_poll_group *pg,
			  int (*fn)(struct nvmf_transport_poll_group *tpg,
				    void *arg),
			  void *arg)
{
	struct nvmf_tpg_entry *e;
	int rc;

	ASSERT_ON_THREAD(pg->thread);
	TAILQ_FOREACH(e, &pg->tpgs, link) {
		rc = fn(e->tpg, arg);
		if (rc)
			return rc;
	}
	return 0;
}
