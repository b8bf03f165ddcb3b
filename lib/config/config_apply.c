// SPDX-License-Identifier: MIT
/*
 * struct nvmft_config → a running target. Called from an off-reactor
 * thread: each step runs on the app reactor (nvmft_runtime_exec) and the
 * asynchronous ones are waited for, so the steps happen strictly in order.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nvmft/bdev.h>
#include <nvmft/bdev_hbd.h>
#include "config/config_internal.h"

/* One step on the app reactor, possibly finishing asynchronously. */
struct step {
	const struct nvmft_config *cfg;
	struct nvmft_tgt *tgt;
	unsigned int idx, sub;		/* which object */
	struct nvmft_hbd *hbd;		/* when hbd_pools are configured */
	int rc;
	bool async;			/* the call started async work */
	bool finished;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char what[160];			/* names the object for messages */
};

static void step_done(void *arg, int rc)
{
	struct step *st = arg;

	pthread_mutex_lock(&st->lock);
	st->rc = rc;
	st->finished = true;
	pthread_cond_signal(&st->cond);
	pthread_mutex_unlock(&st->lock);
}

static int run_step(struct step *st, nvmft_msg_fn fn)
{
	int rc;

	st->rc = 0;
	st->async = false;
	st->finished = false;
	rc = nvmft_runtime_exec(nvmft_tgt_get_runtime(st->tgt), 0, fn, st);
	if (rc)
		return rc;
	if (!st->async)
		return st->rc;
	pthread_mutex_lock(&st->lock);
	while (!st->finished)
		pthread_cond_wait(&st->cond, &st->lock);
	pthread_mutex_unlock(&st->lock);
	return st->rc;
}

/* Start an async call: rc < 0 means it failed before starting. */
static void step_started(struct step *st, int rc)
{
	if (rc == 0)
		st->async = true;
	else
		st->rc = rc;
}

/* The target's limits: max_subsystems is fixed when the target is created
 * (see nvmft_config_tgt_opts()); max_connections may change now. */
static void do_target(void *arg)
{
	struct step *st = arg;
	const struct cfg_target *c = &st->cfg->target;
	struct nvmft_tgt_opts o;

	nvmft_tgt_get_opts(st->tgt, &o);
	if (c->has_max_subsystems && c->max_subsystems != o.max_subsystems) {
		snprintf(st->what, sizeof(st->what), "target.max_subsystems = %u: "
			 "the target was created with %u", c->max_subsystems,
			 o.max_subsystems);
		st->rc = -EINVAL;
		return;
	}
	snprintf(st->what, sizeof(st->what), "target.max_connections = %u",
		 c->max_connections);
	if (c->has_max_connections)
		st->rc = nvmft_tgt_set_max_connections(st->tgt, c->max_connections);
}

void nvmft_config_tgt_opts(const struct nvmft_config *cfg,
			   struct nvmft_tgt_opts *opts)
{
	nvmft_tgt_opts_init(opts);
	if (cfg->target.has_max_connections)
		opts->max_connections = cfg->target.max_connections;
	if (cfg->target.has_max_subsystems)
		opts->max_subsystems = cfg->target.max_subsystems;
}

static void do_transport(void *arg)
{
	struct step *st = arg;
	const struct cfg_transport *t = &st->cfg->transports[st->idx];

	snprintf(st->what, sizeof(st->what), "transport %s", t->type);
	step_started(st, nvmft_tgt_add_transport(st->tgt, t->type, &t->opts,
						  step_done, st));
}

/*
 * The hbd context of the configured pools. Nothing keeps a handle on it
 * after the apply: it lives until the runtime stops (its exit handler).
 */
static void do_hbd_pool(void *arg)
{
	struct step *st = arg;
	const struct cfg_hbd_pool *p = &st->cfg->hbd_pools[st->idx];

	snprintf(st->what, sizeof(st->what), "hbd pool %s", p->name);
	/* One context per registry: RPC may have made it already. */
	if (!st->hbd)
		st->hbd = nvmft_hbd_get(nvmft_tgt_get_bdevs(st->tgt));
	if (!st->hbd) {
		st->rc = nvmft_hbd_create(nvmft_tgt_get_bdevs(st->tgt), &st->hbd);
		if (st->rc)
			return;
	}
	st->rc = nvmft_hbd_pool_create(st->hbd, p->name, p->uri, &p->opts, NULL);
}

static void hbd_volume_done(void *arg, int rc, struct nvmft_bdev *bdev)
{
	step_done(arg, rc);
}

static void do_bdev_hbd(struct step *st, const struct cfg_bdev *b)
{
	struct nvmft_hbd_volume_opts o = {
		.export_name = b->export_name,
		.bdev_name = b->name,
		.block_size = b->block_size,
		.uuid = b->has_uuid ? b->uuid : NULL,
	};
	struct nvmft_hbd_pool *pool = nvmft_hbd_pool_get(st->hbd, b->pool);

	if (!pool) {
		st->rc = -ENOENT;
		return;
	}
	/* The export is opened off the reactors; the step waits for it. */
	step_started(st, nvmft_hbd_volume_create(pool, &o, hbd_volume_done, st));
}

static void do_bdev(void *arg)
{
	struct step *st = arg;
	const struct cfg_bdev *b = &st->cfg->bdevs[st->idx];
	struct nvmft_bdev_registry *reg = nvmft_tgt_get_bdevs(st->tgt);
	const uint8_t *uuid = b->has_uuid ? b->uuid : NULL;

	snprintf(st->what, sizeof(st->what), "bdev %s", b->name);
	if (!strcmp(b->type, "hbd")) {
		do_bdev_hbd(st, b);
	} else if (!strcmp(b->type, "uring")) {
		struct nvmft_bdev_uring_opts o = {
			.name = b->name,
			.filename = b->filename,
			.block_size = b->block_size,
			.buffered = b->buffered,
			.uuid = uuid,
		};

		st->rc = nvmft_bdev_uring_create(reg, &o, NULL);
	} else if (!strcmp(b->type, "malloc"))
		st->rc = nvmft_bdev_malloc_create(reg, b->name, b->num_blocks,
						  b->block_size, uuid, NULL);
	else
		st->rc = nvmft_bdev_null_create(reg, b->name, b->num_blocks,
						b->block_size, uuid, NULL);
}

static void do_subsystem(void *arg)
{
	struct step *st = arg;
	const struct cfg_subsystem *c = &st->cfg->subsystems[st->idx];
	struct nvmft_subsystem_opts o;
	struct nvmft_subsystem *ss;
	int rc;

	snprintf(st->what, sizeof(st->what), "subsystem %s", c->nqn);
	nvmft_subsystem_opts_init(&o);
	o.nqn = c->nqn;
	o.serial = c->serial;
	o.model = c->model;
	o.allow_any_host = c->allow_any_host;
	if (c->max_namespaces)
		o.max_namespaces = c->max_namespaces;
	rc = nvmft_subsystem_create(st->tgt, &o, &ss);
	for (unsigned int i = 0; !rc && i < c->nr_hosts; i++) {
		snprintf(st->what, sizeof(st->what), "subsystem %s: host %s",
			 c->nqn, c->hosts[i]);
		rc = nvmft_subsystem_add_host(ss, c->hosts[i]);
	}
	st->rc = rc;
}

static void do_ns(void *arg)
{
	struct step *st = arg;
	const struct cfg_subsystem *c = &st->cfg->subsystems[st->idx];
	const struct cfg_ns *n = &c->ns[st->sub];
	struct nvmft_subsystem *ss = nvmft_subsystem_find(st->tgt, c->nqn);
	struct nvmft_ns_opts o = {
		.bdev_name = n->bdev,
		.nsid = n->nsid,
		.uuid = n->has_uuid ? n->uuid : NULL,
		.nguid = n->has_nguid ? n->nguid : NULL,
	};

	snprintf(st->what, sizeof(st->what), "subsystem %s: namespace bdev %s",
		 c->nqn, n->bdev);
	if (!ss) {
		st->rc = -ENOENT;
		return;
	}
	step_started(st, nvmft_subsystem_add_ns(ss, &o, NULL, step_done, st));
}

static void do_listener(void *arg)
{
	struct step *st = arg;
	const struct cfg_subsystem *c = &st->cfg->subsystems[st->idx];
	const struct cfg_listener *l = &c->listeners[st->sub];
	struct nvmft_subsystem *ss = nvmft_subsystem_find(st->tgt, c->nqn);

	snprintf(st->what, sizeof(st->what), "subsystem %s: listener %s:%s",
		 c->nqn, l->addr.traddr, l->addr.trsvcid);
	st->rc = ss ? nvmft_subsystem_add_listener_ext(ss, &l->addr, &l->opts) : -ENOENT;
}

static void do_start(void *arg)
{
	struct step *st = arg;
	const struct cfg_subsystem *c = &st->cfg->subsystems[st->idx];
	struct nvmft_subsystem *ss = nvmft_subsystem_find(st->tgt, c->nqn);

	snprintf(st->what, sizeof(st->what), "subsystem %s: start", c->nqn);
	if (!ss) {
		st->rc = -ENOENT;
		return;
	}
	step_started(st, nvmft_subsystem_start(ss, step_done, st));
}

static void do_discovery_listener(void *arg)
{
	struct step *st = arg;
	const struct cfg_listener *l = &st->cfg->discovery_listeners[st->idx];

	snprintf(st->what, sizeof(st->what), "discovery listener %s:%s",
		 l->addr.traddr, l->addr.trsvcid);
	st->rc = nvmft_tgt_listen_ext(st->tgt, &l->addr, &l->opts);
	if (st->rc == -EEXIST)
		st->rc = 0;	/* a subsystem listens there already */
}

static void do_referral(void *arg)
{
	struct step *st = arg;
	const struct cfg_referral *r = &st->cfg->referrals[st->idx];

	snprintf(st->what, sizeof(st->what), "discovery referral %s:%s",
		 r->ref.addr.traddr, r->ref.addr.trsvcid);
	st->rc = nvmft_tgt_add_referral(st->tgt, &r->ref);
}

static int fail(struct step *st, int rc, char *err, size_t errlen, int line)
{
	snprintf(err, errlen, "%s:%d: %s: %s", st->cfg->file, line, st->what,
		 strerror(-rc));
	return rc;
}

int nvmft_config_apply(const struct nvmft_config *cfg, struct nvmft_tgt *tgt,
		       char *err, size_t errlen)
{
	struct step st = { .cfg = cfg, .tgt = tgt };
	int rc = 0;

	pthread_mutex_init(&st.lock, NULL);
	pthread_cond_init(&st.cond, NULL);
	err[0] = '\0';

	rc = run_step(&st, do_target);
	if (rc) {
		rc = fail(&st, rc, err, errlen, cfg->target.line);
		goto out;
	}
	for (st.idx = 0; st.idx < cfg->nr_transports; st.idx++) {
		rc = run_step(&st, do_transport);
		if (rc) {
			rc = fail(&st, rc, err, errlen, cfg->transports[st.idx].line);
			goto out;
		}
	}
	for (st.idx = 0; st.idx < cfg->nr_hbd_pools; st.idx++) {
		rc = run_step(&st, do_hbd_pool);
		if (rc) {
			rc = fail(&st, rc, err, errlen, cfg->hbd_pools[st.idx].line);
			goto out;
		}
	}
	for (st.idx = 0; st.idx < cfg->nr_bdevs; st.idx++) {
		rc = run_step(&st, do_bdev);
		if (rc) {
			rc = fail(&st, rc, err, errlen, cfg->bdevs[st.idx].line);
			goto out;
		}
	}
	for (st.idx = 0; st.idx < cfg->nr_subsystems; st.idx++) {
		const struct cfg_subsystem *c = &cfg->subsystems[st.idx];

		rc = run_step(&st, do_subsystem);
		if (rc) {
			rc = fail(&st, rc, err, errlen, c->line);
			goto out;
		}
		for (st.sub = 0; st.sub < c->nr_ns; st.sub++) {
			rc = run_step(&st, do_ns);
			if (rc) {
				rc = fail(&st, rc, err, errlen, c->ns[st.sub].line);
				goto out;
			}
		}
		for (st.sub = 0; st.sub < c->nr_listeners; st.sub++) {
			rc = run_step(&st, do_listener);
			if (rc) {
				rc = fail(&st, rc, err, errlen, c->listeners[st.sub].line);
				goto out;
			}
		}
		rc = run_step(&st, do_start);
		if (rc) {
			rc = fail(&st, rc, err, errlen, c->line);
			goto out;
		}
	}
	for (st.idx = 0; st.idx < cfg->nr_discovery_listeners; st.idx++) {
		rc = run_step(&st, do_discovery_listener);
		if (rc) {
			rc = fail(&st, rc, err, errlen,
				  cfg->discovery_listeners[st.idx].line);
			goto out;
		}
	}
	for (st.idx = 0; st.idx < cfg->nr_referrals; st.idx++) {
		rc = run_step(&st, do_referral);
		if (rc) {
			rc = fail(&st, rc, err, errlen, cfg->referrals[st.idx].line);
			goto out;
		}
	}
out:
	pthread_cond_destroy(&st.cond);
	pthread_mutex_destroy(&st.lock);
	return rc;
}

size_t nvmft_config_connect_hint(const struct nvmft_config *cfg, char *buf,
				 size_t len)
{
	size_t off = 0;

	if (len)
		buf[0] = '\0';
	for (unsigned int i = 0; i < cfg->nr_subsystems; i++) {
		const struct cfg_subsystem *ss = &cfg->subsystems[i];

		for (unsigned int l = 0; l < ss->nr_listeners && off < len; l++) {
			int w = snprintf(buf + off, len - off,
					 "nvme connect -t tcp -a %s -s %s -n %s\n",
					 ss->listeners[l].addr.traddr,
					 ss->listeners[l].addr.trsvcid, ss->nqn);
			if (w < 0)
				break;
			off += (size_t)w;
		}
	}
	return off < len ? off : len;
}
