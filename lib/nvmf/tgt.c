// SPDX-License-Identifier: MIT
/*
 * The target: an io_device whose per-reactor context is the poll group,
 * its transports (one per type, each with a poll group on every reactor),
 * connection placement (round robin over the reactors, max_connections),
 * and the ordered teardown.
 *
 * App reactor (reactor 0) unless stated otherwise. No global state: two
 * tgts can share a runtime.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nvmf/nvmf_internal.h"

#define REFUSE_LOG_PERIOD_US	1000000u

static const struct nvmf_transport_ops *const builtin_transports[] = {
	&nvmf_tcp_ops,
};

int nvmf_send(struct nvmft_tgt *tgt, struct nvmft_thread *t, nvmft_msg_fn fn,
	      void *arg)
{
	int rc = thread_send_msg_retry(t, fn, arg);

	if (rc)
		RT_ERR(tgt->rt, "%s: message to reactor %u failed: %d", tgt->name,
		       nvmft_thread_index(t), rc);
	return rc;
}

/* --- broadcast to every reactor ------------------------------------------ */

struct nvmf_bcast {
	struct nvmft_tgt *tgt;
	nvmf_bcast_fn fn;
	void *arg;
	nvmft_msg_fn done;
	uint32_t pending;		/* app reactor only */
};

static void bcast_reply_msg(void *p)
{
	struct nvmf_bcast *b = p;
	nvmft_msg_fn done;
	void *arg;

	if (--b->pending)
		return;
	done = b->done;
	arg = b->arg;
	free(b);
	if (done)
		done(arg);
}

void nvmf_bcast_reply(struct nvmf_bcast *b)
{
	if (nvmf_send(b->tgt, b->tgt->app_thread, bcast_reply_msg, b))
		RT_ERR(b->tgt->rt, "%s: a broadcast will not finish", b->tgt->name);
}

static void bcast_run_msg(void *p)
{
	struct nvmf_bcast *b = p;

	b->fn(b, nvmf_tgt_local_group(b->tgt), b->arg);
}

int nvmf_tgt_bcast(struct nvmft_tgt *tgt, nvmf_bcast_fn fn, void *arg,
		   nvmft_msg_fn done)
{
	struct nvmf_bcast *b = calloc(1, sizeof(*b));
	uint32_t i;

	if (!b)
		return -ENOMEM;
	b->tgt = tgt;
	b->fn = fn;
	b->arg = arg;
	b->done = done;
	b->pending = tgt->nr_threads + 1;	/* + ours, dropped below */
	for (i = 0; i < tgt->nr_threads; i++) {
		if (nvmf_send(tgt, nvmft_runtime_get_thread(tgt->rt, i),
			      bcast_run_msg, b))
			b->pending--;
	}
	bcast_reply_msg(b);
	return 0;
}

/* --- creation ------------------------------------------------------------- */

void nvmft_tgt_opts_init(struct nvmft_tgt_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->name = "nvmft";
	opts->max_subsystems = 1024;
	opts->max_connections = 4096;
}

static void pg_get_fn(struct nvmf_bcast *b, struct nvmf_poll_group *pg, void *arg)
{
	struct nvmft_tgt *tgt = arg;
	struct nvmft_io_channel *ch = nvmft_get_io_channel(tgt);
	unsigned int idx = nvmft_thread_index(nvmft_get_thread());

	if (!ch) {
		RT_ERR(tgt->rt, "%s: no poll group on reactor %u", tgt->name, idx);
	} else {
		pg = nvmft_io_channel_get_ctx(ch);
		pg->ch = ch;
		tgt->pgs[idx] = pg;
	}
	nvmf_bcast_reply(b);
}

static void tgt_free(struct nvmft_tgt *tgt)
{
	nvmf_tgt_referrals_free(tgt);
	free(tgt->ss_by_id);
	free(tgt->pgs);
	free(tgt);
}

int nvmft_tgt_create(struct nvmft_runtime *rt, const struct nvmft_tgt_opts *opts,
		     struct nvmft_tgt **out)
{
	struct nvmft_tgt_opts o;
	struct nvmft_tgt *tgt;
	int rc;

	if (!rt || !out)
		return -EINVAL;
	if (opts)
		o = *opts;
	else
		nvmft_tgt_opts_init(&o);
	if (!o.name)
		o.name = "nvmft";
	if (o.max_subsystems == 0 || o.max_subsystems > 65535 ||
	    o.max_connections == 0 || o.max_connections > NVMFT_MAX_CONNECTIONS_LIMIT)
		return -EINVAL;
	if (nvmft_get_thread() != nvmft_runtime_get_thread(rt, 0))
		return -EINVAL;

	tgt = calloc(1, sizeof(*tgt));
	if (!tgt)
		return -ENOMEM;
	tgt->rt = rt;
	tgt->opts = o;
	snprintf(tgt->name, sizeof(tgt->name), "%s", o.name);
	tgt->opts.name = tgt->name;
	tgt->app_thread = nvmft_runtime_get_thread(rt, 0);
	tgt->nr_threads = nvmft_runtime_nr_threads(rt);
	TAILQ_INIT(&tgt->transports);
	TAILQ_INIT(&tgt->subsystems);
	TAILQ_INIT(&tgt->listeners);
	TAILQ_INIT(&tgt->referrals);
	tgt->pgs = calloc(tgt->nr_threads, sizeof(*tgt->pgs));
	tgt->ss_by_id = calloc(o.max_subsystems + 1, sizeof(*tgt->ss_by_id));
	if (!tgt->pgs || !tgt->ss_by_id) {
		rc = -ENOMEM;
		goto out_free_tgt;
	}
	if (o.bdevs) {
		tgt->bdevs = o.bdevs;
	} else {
		rc = nvmft_bdev_registry_create(rt, &tgt->bdevs);
		if (rc)
			goto out_free_tgt;
		tgt->own_bdevs = true;
	}
	rc = nvmft_io_device_register(rt, tgt, nvmf_pg_create, nvmf_pg_destroy,
				      sizeof(struct nvmf_poll_group), tgt->name);
	if (rc)
		goto out_free_bdevs;
	rc = nvmf_ss_create_discovery(tgt);
	if (rc)
		goto out_unregister;
	/* Each reactor builds its poll group; anything the app reactor sends
	 * a reactor later runs after that. */
	rc = nvmf_tgt_bcast(tgt, pg_get_fn, tgt, NULL);
	if (rc)
		goto out_free_discovery;
	*out = tgt;
	return 0;

out_free_discovery:
	nvmf_ss_free_all(tgt, NULL, NULL);
out_unregister:
	nvmft_io_device_unregister(rt, tgt, NULL, NULL);
out_free_bdevs:
	if (tgt->own_bdevs)
		nvmft_bdev_registry_destroy(tgt->bdevs, NULL, NULL);
out_free_tgt:
	tgt_free(tgt);
	return rc;
}

void nvmft_tgt_get_opts(struct nvmft_tgt *tgt, struct nvmft_tgt_opts *out)
{
	*out = tgt->opts;
}

int nvmft_tgt_set_max_connections(struct nvmft_tgt *tgt, uint32_t max)
{
	ASSERT_ON_THREAD(tgt->app_thread);
	if (max == 0 || max > NVMFT_MAX_CONNECTIONS_LIMIT)
		return -EINVAL;
	tgt->opts.max_connections = max;
	return 0;
}

void nvmft_tgt_get_conn_stats(struct nvmft_tgt *tgt,
			      struct nvmft_tgt_conn_stats *out)
{
	ASSERT_ON_THREAD(tgt->app_thread);
	out->nr_connections = tgt->nr_connections;
	out->refused_connections = tgt->refused;
}

struct nvmft_runtime *nvmft_tgt_get_runtime(struct nvmft_tgt *tgt)
{
	return tgt->rt;
}

struct nvmft_bdev_registry *nvmft_tgt_get_bdevs(struct nvmft_tgt *tgt)
{
	return tgt->bdevs;
}

/* --- transports -------------------------------------------------------------- */

const struct nvmf_transport_ops *nvmf_transport_ops_find(const char *trtype)
{
	size_t i;

	if (!trtype)
		return NULL;
	for (i = 0; i < sizeof(builtin_transports) / sizeof(builtin_transports[0]); i++) {
		if (!strcasecmp(builtin_transports[i]->name, trtype))
			return builtin_transports[i];
	}
	return NULL;
}

int nvmf_tgt_register_transport_ops(struct nvmft_tgt *tgt,
				    const struct nvmf_transport_ops *ops)
{
	size_t i, n = sizeof(tgt->extra_ops) / sizeof(tgt->extra_ops[0]);

	if (!ops || !ops->name)
		return -EINVAL;
	if (nvmf_tgt_find_transport_ops(tgt, ops->name))
		return -EEXIST;
	for (i = 0; i < n; i++) {
		if (!tgt->extra_ops[i]) {
			tgt->extra_ops[i] = ops;
			return 0;
		}
	}
	return -ENOSPC;
}

const struct nvmf_transport_ops *nvmf_tgt_find_transport_ops(struct nvmft_tgt *tgt,
							     const char *trtype)
{
	size_t i, n = sizeof(tgt->extra_ops) / sizeof(tgt->extra_ops[0]);

	if (!trtype)
		return NULL;
	for (i = 0; i < n; i++) {
		if (tgt->extra_ops[i] && !strcasecmp(tgt->extra_ops[i]->name, trtype))
			return tgt->extra_ops[i];
	}
	return nvmf_transport_ops_find(trtype);
}

static struct nvmf_transport_entry *transport_entry(struct nvmft_tgt *tgt,
						   const char *trtype)
{
	struct nvmf_transport_entry *e;

	TAILQ_FOREACH(e, &tgt->transports, link) {
		if (!strcasecmp(e->transport->ops->name, trtype))
			return e;
	}
	return NULL;
}

struct nvmf_transport *nvmf_tgt_get_transport(struct nvmft_tgt *tgt,
					      const char *trtype)
{
	struct nvmf_transport_entry *e = trtype ? transport_entry(tgt, trtype) : NULL;

	return e && e->ready ? e->transport : NULL;
}

int nvmft_transport_opts_init(const char *trtype, struct nvmft_transport_opts *opts)
{
	const struct nvmf_transport_ops *ops = nvmf_transport_ops_find(trtype);

	if (!ops || !opts)
		return -ENOTSUP;
	memset(opts, 0, sizeof(*opts));
	ops->opts_init(opts);
	return 0;
}

int nvmft_tgt_get_transport_opts(struct nvmft_tgt *tgt, const char *trtype,
				 struct nvmft_transport_opts *opts)
{
	struct nvmf_transport_entry *e = trtype ? transport_entry(tgt, trtype) : NULL;

	if (!e)
		return -ENOENT;
	*opts = e->transport->opts;
	return 0;
}

struct add_transport_ctx {
	struct nvmft_tgt *tgt;
	struct nvmf_transport_entry *entry;
	_Atomic int rc;			/* first failure of a reactor */
	nvmft_done_fn done;
	void *arg;
};

static void tpg_remove(struct nvmf_poll_group *pg, struct nvmf_transport *t)
{
	struct nvmf_tpg_entry *e, *tmp;

	if (!pg)
		return;
	for (e = TAILQ_FIRST(&pg->tpgs); e; e = tmp) {
		tmp = TAILQ_NEXT(e, link);
		if (t && e->tpg->transport != t)
			continue;
		TAILQ_REMOVE(&pg->tpgs, e, link);
		e->tpg->transport->ops->poll_group_destroy(e->tpg);
		free(e);
	}
}

static void tpg_create_fn(struct nvmf_bcast *b, struct nvmf_poll_group *pg, void *arg)
{
	struct add_transport_ctx *c = arg;
	struct nvmf_transport *t = c->entry->transport;
	struct nvmf_transport_poll_group *tpg = NULL;
	struct nvmf_tpg_entry *e;
	int rc, zero = 0;

	if (!pg) {
		/* No poll group here: no connection is ever placed here. */
		nvmf_bcast_reply(b);
		return;
	}
	e = calloc(1, sizeof(*e));
	rc = e ? t->ops->poll_group_create(t, pg, &tpg) : -ENOMEM;
	if (rc) {
		free(e);
		atomic_compare_exchange_strong(&c->rc, &zero, rc);
	} else {
		tpg->transport = t;
		tpg->group = pg;
		e->tpg = tpg;
		TAILQ_INSERT_TAIL(&pg->tpgs, e, link);
	}
	nvmf_bcast_reply(b);
}

static void tpg_remove_fn(struct nvmf_bcast *b, struct nvmf_poll_group *pg, void *arg)
{
	struct add_transport_ctx *c = arg;

	tpg_remove(pg, c->entry->transport);
	nvmf_bcast_reply(b);
}

static void add_transport_undone(void *arg)
{
	struct add_transport_ctx *c = arg;

	c->done(c->arg, atomic_load(&c->rc));
	free(c);
}

static void add_transport_failed(void *arg)
{
	struct add_transport_ctx *c = arg;
	struct nvmf_transport *t = c->entry->transport;

	TAILQ_REMOVE(&c->tgt->transports, c->entry, link);
	free(c->entry);
	t->ops->destroy(t, add_transport_undone, c);
}

static void add_transport_walked(void *arg)
{
	struct add_transport_ctx *c = arg;
	int rc = atomic_load(&c->rc);

	if (rc) {
		RT_ERR(c->tgt->rt, "%s: transport %s: poll group failed: %d",
		       c->tgt->name, c->entry->transport->ops->name, rc);
		if (nvmf_tgt_bcast(c->tgt, tpg_remove_fn, c, add_transport_failed) == 0)
			return;
		/* Cannot walk back: keep the transport, unusable. */
		c->done(c->arg, rc);
		free(c);
		return;
	}
	c->entry->ready = true;
	c->done(c->arg, 0);
	free(c);
}

static void noop_done(void *arg, int rc)
{
}

int nvmft_tgt_add_transport(struct nvmft_tgt *tgt, const char *trtype,
			    const struct nvmft_transport_opts *opts,
			    nvmft_done_fn done, void *arg)
{
	const struct nvmf_transport_ops *ops;
	struct nvmft_transport_opts o;
	struct add_transport_ctx *c;
	struct nvmf_transport *t = NULL;
	int rc;

	if (!tgt || !trtype || tgt->destroying)
		return -EINVAL;
	ops = nvmf_tgt_find_transport_ops(tgt, trtype);
	if (!ops)
		return -ENOTSUP;
	if (transport_entry(tgt, ops->name))
		return -EEXIST;
	if (opts) {
		o = *opts;
	} else {
		memset(&o, 0, sizeof(o));
		ops->opts_init(&o);
	}
	if (o.max_queue_depth < 2 || o.max_aq_depth < 2 || o.max_qpairs_per_ctrlr < 1) {
		RT_ERR(tgt->rt, "%s: transport %s: queue depths must be >= 2 and "
		       "max_qpairs_per_ctrlr >= 1 (got %u/%u/%u)", tgt->name, ops->name,
		       o.max_queue_depth, o.max_aq_depth, o.max_qpairs_per_ctrlr);
		return -EINVAL;
	}
	if (ops->opts_check) {
		rc = ops->opts_check(tgt, &o);
		if (rc)
			return rc;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->entry = calloc(1, sizeof(*c->entry));
	if (!c->entry) {
		rc = -ENOMEM;
		goto out_free_ctx;
	}
	rc = ops->create(tgt, &o, &t);
	if (rc)
		goto out_free_entry;
	t->ops = ops;
	t->tgt = tgt;
	t->opts = o;
	c->tgt = tgt;
	c->entry->transport = t;
	c->done = done ? done : noop_done;
	c->arg = arg;
	TAILQ_INSERT_TAIL(&tgt->transports, c->entry, link);
	rc = nvmf_tgt_bcast(tgt, tpg_create_fn, c, add_transport_walked);
	if (rc)
		goto out_destroy;
	return 0;

out_destroy:
	TAILQ_REMOVE(&tgt->transports, c->entry, link);
	t->ops->destroy(t, NULL, NULL);
out_free_entry:
	free(c->entry);
out_free_ctx:
	free(c);
	return rc;
}

/* --- connections -------------------------------------------------------------- */

static void qpair_refused_done(struct nvmf_qpair *qp, void *arg)
{
}

/* A peer can make us refuse at will: one log line a second, with counts. */
static void refuse(struct nvmft_tgt *tgt, struct nvmf_tgt_listener *l,
		   struct nvmf_qpair *qp, const char *why)
{
	uint64_t now = nvmft_now_us();

	tgt->refused++;
	if (l)
		l->refused++;
	if (now - tgt->refuse_log_us >= REFUSE_LOG_PERIOD_US) {
		if (l)
			RT_WARN(tgt->rt, "%s: connection refused: %s (on %s:%s: "
				"%llu refused there, %llu in all)", tgt->name, why,
				l->addr.traddr, l->addr.trsvcid,
				(unsigned long long)l->refused,
				(unsigned long long)tgt->refused);
		else
			RT_WARN(tgt->rt, "%s: connection refused: %s (%llu refused so far)",
				tgt->name, why, (unsigned long long)tgt->refused);
		tgt->refuse_log_us = now;
	}
	qp->state = NVMF_QPAIR_DISCONNECTING;
	qp->transport->ops->qpair_fini(qp, qpair_refused_done, tgt);
}

void nvmf_tgt_new_listener_qpair(struct nvmft_tgt *tgt, struct nvmf_qpair *qp,
				 const struct nvmft_listen_addr *listen_addr)
{
	struct nvmf_tgt_listener *l = nvmf_tgt_listener_find(tgt, listen_addr);
	struct nvmf_qpair_core *core;
	struct nvmft_thread *t;
	uint32_t idx;

	ASSERT_ON_THREAD(tgt->app_thread);
	qp->group = NULL;
	qp->ctrlr = NULL;
	qp->qid = 0;
	qp->sq_size = 0;
	qp->sq_head = 0;
	qp->sq_flow_control = true;
	qp->core_outstanding = 0;
	qp->core_ctx = NULL;
	if (tgt->destroying) {
		refuse(tgt, l, qp, "target shutting down");
		return;
	}
	if (tgt->nr_connections >= tgt->opts.max_connections) {
		refuse(tgt, l, qp, "target max_connections reached");
		return;
	}
	if (l && l->max_connections && l->nr_connections >= l->max_connections) {
		refuse(tgt, l, qp, "listener max_connections reached");
		return;
	}
	core = calloc(1, sizeof(struct nvmf_qpair_core));
	if (!core) {
		refuse(tgt, l, qp, "no memory");
		return;
	}
	core->tgt = tgt;
	core->listener_id = l ? l->id : 0;
	qp->core_ctx = core;
	idx = tgt->next_pg++ % tgt->nr_threads;
	t = nvmft_runtime_get_thread(tgt->rt, idx);
	tgt->nr_connections++;
	if (l)
		l->nr_connections++;
	if (nvmf_send(tgt, t, nvmf_pg_new_qpair_msg, qp)) {
		tgt->nr_connections--;
		if (l)
			l->nr_connections--;
		free(core);
		qp->core_ctx = NULL;
		refuse(tgt, l, qp, "reactor unreachable");
	}
}

void nvmf_tgt_new_qpair(struct nvmft_tgt *tgt, struct nvmf_qpair *qp)
{
	nvmf_tgt_new_listener_qpair(tgt, qp, NULL);
}

/* --- teardown ------------------------------------------------------------------- */

enum destroy_step {
	DS_NONE = 0,
	DS_DISCONNECT,		/* every reactor disconnects its qpairs */
	DS_WAIT,		/* qpairs, controllers, subsystem changes finish */
	DS_TPGS,
	DS_TRANSPORTS,
	DS_SUBSYSTEMS,
	DS_BDEVS,
	DS_CHANNELS,
	DS_UNREGISTER,
};

static void destroy_next(struct nvmft_tgt *tgt);

static void destroy_advance_msg(void *arg)
{
	struct nvmft_tgt *tgt = arg;

	tgt->destroy_step++;
	destroy_next(tgt);
}

static void disconnect_fn(struct nvmf_bcast *b, struct nvmf_poll_group *pg, void *arg)
{
	if (pg)
		nvmf_pg_disconnect_all(pg);
	nvmf_bcast_reply(b);
}

static void tpgs_destroy_fn(struct nvmf_bcast *b, struct nvmf_poll_group *pg, void *arg)
{
	tpg_remove(pg, NULL);
	nvmf_bcast_reply(b);
}

static void channels_put_fn(struct nvmf_bcast *b, struct nvmf_poll_group *pg, void *arg)
{
	struct nvmft_tgt *tgt = arg;

	if (pg) {
		tgt->pgs[nvmft_thread_index(nvmft_get_thread())] = NULL;
		nvmft_put_io_channel(pg->ch);
	}
	nvmf_bcast_reply(b);
}

static void transport_destroyed_msg(void *arg)
{
	destroy_next(arg);
}

static void bdevs_destroyed_msg(void *arg)
{
	destroy_advance_msg(arg);
}

static void tgt_unregistered(void *arg)
{
	struct nvmft_tgt *tgt = arg;
	nvmft_done_fn done = tgt->destroy_done;
	void *done_arg = tgt->destroy_arg;

	RT_INFO(tgt->rt, "%s: target destroyed", tgt->name);
	tgt_free(tgt);
	if (done)
		done(done_arg, 0);
}

static void bcast_or_advance(struct nvmft_tgt *tgt, nvmf_bcast_fn fn)
{
	if (nvmf_tgt_bcast(tgt, fn, tgt, destroy_advance_msg)) {
		RT_ERR(tgt->rt, "%s: destroy: no memory for a walk, step skipped",
		       tgt->name);
		destroy_advance_msg(tgt);
	}
}

static void destroy_next(struct nvmft_tgt *tgt)
{
	struct nvmf_transport_entry *e;

	switch (tgt->destroy_step) {
	case DS_DISCONNECT:
		bcast_or_advance(tgt, disconnect_fn);
		return;
	case DS_WAIT:
		if (tgt->nr_connections || tgt->nr_live_ctrlrs || tgt->nr_ss_ops)
			return;		/* the last one calls us again */
		tgt->destroy_step = DS_TPGS;
		bcast_or_advance(tgt, tpgs_destroy_fn);
		return;
	case DS_TPGS:
		return;
	case DS_TRANSPORTS:
		e = TAILQ_FIRST(&tgt->transports);
		if (!e) {
			tgt->destroy_step = DS_SUBSYSTEMS;
			nvmf_ss_free_all(tgt, destroy_advance_msg, tgt);
			return;
		}
		TAILQ_REMOVE(&tgt->transports, e, link);
		e->transport->ops->destroy(e->transport, transport_destroyed_msg, tgt);
		free(e);
		return;
	case DS_SUBSYSTEMS:
		return;
	case DS_BDEVS:
		if (tgt->own_bdevs) {
			tgt->own_bdevs = false;
			nvmft_bdev_registry_destroy(tgt->bdevs, bdevs_destroyed_msg, tgt);
			return;
		}
		tgt->destroy_step = DS_CHANNELS;
		/* fall through */
	case DS_CHANNELS:
		bcast_or_advance(tgt, channels_put_fn);
		return;
	case DS_UNREGISTER:
		if (nvmft_io_device_unregister(tgt->rt, tgt, tgt_unregistered, tgt))
			tgt_unregistered(tgt);
		return;
	default:
		return;
	}
}

/*
 * The step functions above advance through destroy_advance_msg, except
 * DS_TPGS → DS_TRANSPORTS (the bcast's done bumps the step) and the
 * transport loop, which re-enters DS_TRANSPORTS until none is left.
 */
void nvmft_tgt_destroy(struct nvmft_tgt *tgt, nvmft_done_fn done, void *arg)
{
	ASSERT_ON_THREAD(tgt ? tgt->app_thread : NULL);

	if (!tgt)
		return;
	if (tgt->destroying) {
		RT_ERR(tgt->rt, "%s: destroyed twice", tgt->name);
		return;
	}
	tgt->destroying = true;
	tgt->destroy_done = done;
	tgt->destroy_arg = arg;
	RT_INFO(tgt->rt, "%s: destroying target", tgt->name);
	nvmf_tgt_listeners_stop_all(tgt);
	tgt->destroy_step = DS_DISCONNECT;
	destroy_next(tgt);
}

void nvmf_tgt_qpair_gone(struct nvmft_tgt *tgt, uint64_t listener_id)
{
	struct nvmf_tgt_listener *l = nvmf_tgt_listener_by_id(tgt, listener_id);

	if (l && l->nr_connections)
		l->nr_connections--;
	if (tgt->nr_connections)
		tgt->nr_connections--;
	if (tgt->destroying && tgt->destroy_step == DS_WAIT)
		destroy_next(tgt);
}

void nvmf_tgt_ctrlr_gone(struct nvmft_tgt *tgt)
{
	if (tgt->nr_live_ctrlrs)
		tgt->nr_live_ctrlrs--;
	if (tgt->destroying && tgt->destroy_step == DS_WAIT)
		destroy_next(tgt);
}

void nvmf_tgt_ss_op_done(struct nvmft_tgt *tgt)
{
	if (tgt->nr_ss_ops)
		tgt->nr_ss_ops--;
	if (tgt->destroying && tgt->destroy_step == DS_WAIT)
		destroy_next(tgt);
}
