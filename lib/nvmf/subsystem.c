// SPDX-License-Identifier: MIT
/*
 * Subsystems: creation and validation (NQN, serial, model), the host ACL,
 * listeners, the discovery subsystem and generation counter, and the
 * queue of changes that walk the reactors (start, namespace add/remove,
 * destroy), which run one at a time per subsystem.
 *
 * App reactor only, except where a walk step says otherwise.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvmf/nvmf_internal.h"

#define NVMF_MAX_NSID_LIMIT	65536u
#define NQN_UUID_PREFIX		"nqn.2014-08.org.nvmexpress:uuid:"

/* --- validation -------------------------------------------------------------- */

static bool uuid_str_valid(const char *s)
{
	static const int dash[] = { 8, 13, 18, 23 };
	size_t i, d = 0;

	if (strlen(s) != 36)
		return false;
	for (i = 0; i < 36; i++) {
		if (d < 4 && (int)i == dash[d]) {
			if (s[i] != '-')
				return false;
			d++;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

/* "nqn.yyyy-mm.reverse.domain[:anything]" or the UUID form. */
bool nvmft_nqn_valid(const char *nqn)
{
	size_t len, i;
	const char *p;
	int month;

	if (!nqn)
		return false;
	len = strnlen(nqn, NVMFT_NQN_MAX_LEN + 1);
	if (len == 0 || len > NVMFT_NQN_MAX_LEN)
		return false;
	if (!strncmp(nqn, NQN_UUID_PREFIX, strlen(NQN_UUID_PREFIX)))
		return uuid_str_valid(nqn + strlen(NQN_UUID_PREFIX));
	if (strncmp(nqn, "nqn.", 4) || len < 12)
		return false;
	p = nqn + 4;
	for (i = 0; i < 4; i++) {
		if (!isdigit((unsigned char)p[i]))
			return false;
	}
	if (p[4] != '-' || !isdigit((unsigned char)p[5]) ||
	    !isdigit((unsigned char)p[6]) || p[7] != '.')
		return false;
	month = (p[5] - '0') * 10 + (p[6] - '0');
	if (month < 1 || month > 12)
		return false;
	p += 8;
	/* Reverse domain: labels of letters, digits and '-', dot separated. */
	if (*p == '\0' || *p == '.' || *p == ':' || *p == '-')
		return false;
	for (; *p && *p != ':'; p++) {
		if (*p == '.') {
			if (p[1] == '.' || p[1] == '\0' || p[1] == ':')
				return false;
		} else if (!isalnum((unsigned char)*p) && *p != '-') {
			return false;
		}
	}
	if (*p == ':') {
		if (p[1] == '\0')
			return false;
		/* User part: UTF-8 allowed; no control characters. */
		for (p++; *p; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return false;
		}
	}
	return true;
}

static bool ascii_field_valid(const char *s, size_t max)
{
	size_t len = strnlen(s, max + 1), i;

	if (len == 0 || len > max)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	}
	return true;
}

/* A stable serial per NQN (FNV-1a), so reconnecting hosts see the same one. */
static void serial_from_nqn(const char *nqn, char *out, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *nqn; nqn++) {
		h ^= (unsigned char)*nqn;
		h *= 0x100000001b3ull;
	}
	snprintf(out, size, "%016" PRIX64, h);
}

/* --- objects ------------------------------------------------------------------- */

void nvmft_subsystem_opts_init(struct nvmft_subsystem_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->max_namespaces = 32;
	opts->min_cntlid = 1;
	opts->max_cntlid = 0xffef;
	opts->max_controllers = 64;
}

static struct nvmft_subsystem *ss_alloc(struct nvmft_tgt *tgt,
					const struct nvmft_subsystem_opts *o,
					uint32_t id, bool discovery)
{
	struct nvmft_subsystem *ss = calloc(1, sizeof(*ss));

	if (!ss)
		return NULL;
	if (o->max_namespaces) {
		ss->ns = calloc(o->max_namespaces, sizeof(*ss->ns));
		if (!ss->ns) {
			free(ss);
			return NULL;
		}
	}
	ss->tgt = tgt;
	ss->id = id;
	ss->discovery = discovery;
	snprintf(ss->nqn, sizeof(ss->nqn), "%s", o->nqn);
	if (o->serial)
		snprintf(ss->serial, sizeof(ss->serial), "%s", o->serial);
	else
		serial_from_nqn(o->nqn, ss->serial, sizeof(ss->serial));
	snprintf(ss->model, sizeof(ss->model), "%s", o->model ? o->model : "nvmft");
	ss->allow_any_host = o->allow_any_host;
	ss->max_nsid = o->max_namespaces;
	ss->min_cntlid = o->min_cntlid;
	ss->max_cntlid = o->max_cntlid;
	ss->next_cntlid = o->min_cntlid;
	ss->max_controllers = o->max_controllers;
	TAILQ_INIT(&ss->hosts);
	TAILQ_INIT(&ss->listeners);
	TAILQ_INIT(&ss->ctrlrs);
	return ss;
}

int nvmf_ss_create_discovery(struct nvmft_tgt *tgt)
{
	struct nvmft_subsystem_opts o;
	struct nvmft_subsystem *ss;

	nvmft_subsystem_opts_init(&o);
	o.nqn = NVMFT_DISCOVERY_NQN;
	o.allow_any_host = true;
	o.max_namespaces = 0;
	o.max_controllers = tgt->opts.max_connections;
	ss = ss_alloc(tgt, &o, 0, true);
	if (!ss)
		return -ENOMEM;
	/* Nothing to set up per reactor: no namespaces, no I/O queues. */
	ss->state = NVMF_SS_ACTIVE;
	ss->start_queued = true;
	tgt->ss_by_id[0] = ss;
	tgt->discovery = ss;
	TAILQ_INSERT_HEAD(&tgt->subsystems, ss, link);
	return 0;
}

struct nvmft_subsystem *nvmf_tgt_find_subsystem(struct nvmft_tgt *tgt,
						const char *nqn)
{
	struct nvmft_subsystem *ss;

	if (!nqn)
		return NULL;
	TAILQ_FOREACH(ss, &tgt->subsystems, link) {
		if (!strcmp(ss->nqn, nqn))
			return ss;
	}
	return NULL;
}

struct nvmft_subsystem *nvmft_subsystem_find(struct nvmft_tgt *tgt, const char *nqn)
{
	return nvmf_tgt_find_subsystem(tgt, nqn);
}

int nvmft_subsystem_create(struct nvmft_tgt *tgt,
			   const struct nvmft_subsystem_opts *opts,
			   struct nvmft_subsystem **out)
{
	struct nvmft_subsystem *ss;
	uint32_t id;

	ASSERT_ON_THREAD(tgt ? tgt->app_thread : NULL);
	if (!tgt || !opts || !out || tgt->destroying)
		return -EINVAL;
	if (!nvmft_nqn_valid(opts->nqn))
		return -EINVAL;
	if (opts->serial && !ascii_field_valid(opts->serial, NVMFT_SERIAL_MAX_LEN))
		return -EINVAL;
	if (opts->model && !ascii_field_valid(opts->model, NVMFT_MODEL_MAX_LEN))
		return -EINVAL;
	if (opts->max_namespaces == 0 || opts->max_namespaces > NVMF_MAX_NSID_LIMIT ||
	    opts->min_cntlid == 0 || opts->max_cntlid > 0xffef ||
	    opts->min_cntlid > opts->max_cntlid || opts->max_controllers == 0)
		return -EINVAL;
	if (nvmf_tgt_find_subsystem(tgt, opts->nqn))
		return -EEXIST;
	for (id = 1; id <= tgt->opts.max_subsystems; id++) {
		if (!tgt->ss_by_id[id])
			break;
	}
	if (id > tgt->opts.max_subsystems)
		return -ENOSPC;
	ss = ss_alloc(tgt, opts, id, false);
	if (!ss)
		return -ENOMEM;
	tgt->ss_by_id[id] = ss;
	TAILQ_INSERT_TAIL(&tgt->subsystems, ss, link);
	nvmf_ss_bump_discovery_genctr(tgt);
	*out = ss;
	return 0;
}

int nvmft_subsystem_foreach(struct nvmft_tgt *tgt,
			    int (*fn)(struct nvmft_subsystem *ss, void *arg),
			    void *arg)
{
	struct nvmft_subsystem *ss, *next;
	int rc;

	for (ss = TAILQ_FIRST(&tgt->subsystems); ss; ss = next) {
		next = TAILQ_NEXT(ss, link);
		rc = fn(ss, arg);
		if (rc)
			return rc;
	}
	return 0;
}

const char *nvmft_subsystem_nqn(const struct nvmft_subsystem *ss)
{
	return ss->nqn;
}

bool nvmft_subsystem_is_discovery(const struct nvmft_subsystem *ss)
{
	return ss->discovery;
}

/* --- discovery generation ------------------------------------------------------- */

void nvmf_ss_notify_ctrlrs(struct nvmft_subsystem *ss, uint32_t result,
			   uint32_t changed_nsid)
{
	struct nvmf_ctrlr *ctrlr;

	TAILQ_FOREACH(ctrlr, &ss->ctrlrs, link)
		nvmf_ctrlr_post_event(ctrlr, result, changed_nsid);
}

void nvmf_ss_bump_discovery_genctr(struct nvmft_tgt *tgt)
{
	tgt->discovery_genctr++;
	if (tgt->discovery)
		nvmf_ss_notify_ctrlrs(tgt->discovery,
				      NVMF_AER_RESULT(NVME_AER_NOTICE,
						      NVME_AER_NOTICE_DISC_CHANGED,
						      NVME_LOG_LID_DISCOVER), 0);
}

/* --- hosts ------------------------------------------------------------------------ */

static struct nvmf_host_entry *host_find(const struct nvmft_subsystem *ss,
					 const char *hostnqn)
{
	struct nvmf_host_entry *h;

	TAILQ_FOREACH(h, &ss->hosts, link) {
		if (!strcmp(h->nqn, hostnqn))
			return h;
	}
	return NULL;
}

int nvmft_subsystem_add_host(struct nvmft_subsystem *ss, const char *hostnqn)
{
	struct nvmf_host_entry *h;

	ASSERT_ON_THREAD(ss->tgt->app_thread);
	if (!nvmft_nqn_valid(hostnqn))
		return -EINVAL;
	if (host_find(ss, hostnqn))
		return -EEXIST;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	snprintf(h->nqn, sizeof(h->nqn), "%s", hostnqn);
	TAILQ_INSERT_TAIL(&ss->hosts, h, link);
	nvmf_ss_bump_discovery_genctr(ss->tgt);
	return 0;
}

int nvmft_subsystem_remove_host(struct nvmft_subsystem *ss, const char *hostnqn)
{
	struct nvmf_host_entry *h;

	ASSERT_ON_THREAD(ss->tgt->app_thread);
	if (!nvmft_nqn_valid(hostnqn))
		return -EINVAL;
	h = host_find(ss, hostnqn);
	if (!h)
		return -ENOENT;
	TAILQ_REMOVE(&ss->hosts, h, link);
	free(h);
	nvmf_ss_bump_discovery_genctr(ss->tgt);
	return 0;
}

void nvmft_subsystem_set_allow_any_host(struct nvmft_subsystem *ss, bool allow)
{
	if (ss->allow_any_host == allow)
		return;
	ss->allow_any_host = allow;
	nvmf_ss_bump_discovery_genctr(ss->tgt);
}

bool nvmft_subsystem_host_allowed(const struct nvmft_subsystem *ss,
				  const char *hostnqn)
{
	if (ss->allow_any_host)
		return true;
	return hostnqn && host_find(ss, hostnqn) != NULL;
}

/* --- listeners ------------------------------------------------------------------- */

static struct nvmf_listener_entry *ss_listener_find(struct nvmft_subsystem *ss,
						    const struct nvmft_listen_addr *a)
{
	struct nvmf_listener_entry *l;

	TAILQ_FOREACH(l, &ss->listeners, link) {
		if (nvmf_listen_addr_eq(&l->addr, a))
			return l;
	}
	return NULL;
}

int nvmft_subsystem_add_listener(struct nvmft_subsystem *ss,
				 const struct nvmft_listen_addr *addr)
{
	return nvmft_subsystem_add_listener_ext(ss, addr, NULL);
}

int nvmft_subsystem_add_listener_ext(struct nvmft_subsystem *ss,
				     const struct nvmft_listen_addr *addr,
				     const struct nvmft_listen_opts *opts)
{
	struct nvmf_listener_entry *l;
	int rc;

	ASSERT_ON_THREAD(ss->tgt->app_thread);
	if (!addr || ss->state == NVMF_SS_DESTROYING)
		return -EINVAL;
	if (ss_listener_find(ss, addr))
		return -EEXIST;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	rc = nvmf_tgt_listener_get(ss->tgt, addr, false, opts, &l->tl);
	if (rc) {
		free(l);
		return rc;
	}
	l->addr = *addr;
	l->ana_state = NVME_ANA_STATE_OPTIMIZED;
	TAILQ_INSERT_TAIL(&ss->listeners, l, link);
	nvmf_ss_bump_discovery_genctr(ss->tgt);
	return 0;
}

int nvmft_subsystem_remove_listener(struct nvmft_subsystem *ss,
				    const struct nvmft_listen_addr *addr)
{
	struct nvmf_listener_entry *l;

	ASSERT_ON_THREAD(ss->tgt->app_thread);
	if (!addr)
		return -EINVAL;
	l = ss_listener_find(ss, addr);
	if (!l)
		return -ENOENT;
	TAILQ_REMOVE(&ss->listeners, l, link);
	nvmf_tgt_listener_put(ss->tgt, l->tl, false);
	free(l);
	nvmf_ss_bump_discovery_genctr(ss->tgt);
	return 0;
}

/* --- the change queue ---------------------------------------------------------------- */

struct nvmf_ss_op *nvmf_ss_op_alloc(struct nvmft_subsystem *ss,
				    enum nvmf_ss_op_type type)
{
	struct nvmf_ss_op *op;

	op = calloc(1, sizeof(*op) + ss->tgt->nr_threads * sizeof(op->rctx[0]));
	if (!op)
		return NULL;
	op->type = type;
	op->ss = ss;
	return op;
}

static void op_run(struct nvmft_subsystem *ss);

static void op_kick_msg(void *arg)
{
	op_run(arg);
}

void nvmf_ss_op_submit(struct nvmf_ss_op *op)
{
	struct nvmft_subsystem *ss = op->ss;

	op->next = NULL;
	if (ss->ops_tail)
		ss->ops_tail->next = op;
	else
		ss->ops_head = op;
	ss->ops_tail = op;
	ss->tgt->nr_ss_ops++;
	if (ss->op_running)
		return;
	ss->op_running = true;
	/* Never from inside the caller: its done may run re-entrantly. */
	if (nvmf_send(ss->tgt, ss->tgt->app_thread, op_kick_msg, ss))
		op_run(ss);
}

static void op_pop(struct nvmf_ss_op *op)
{
	struct nvmft_subsystem *ss = op->ss;

	ss->ops_head = op->next;
	if (!ss->ops_head)
		ss->ops_tail = NULL;
}

void nvmf_ss_op_finish(struct nvmf_ss_op *op, int rc)
{
	struct nvmft_subsystem *ss = op->ss;
	struct nvmft_tgt *tgt = ss->tgt;
	nvmft_done_fn done = op->done;
	void *arg = op->arg;

	op_pop(op);
	free(op->snap);
	free(op);
	if (done)
		done(arg, rc);
	op_run(ss);
	nvmf_tgt_ss_op_done(tgt);
}

static void start_fn(struct nvmf_bcast *b, struct nvmf_poll_group *pg, void *arg)
{
	struct nvmf_ss_op *op = arg;

	if (pg)
		nvmf_sgroup_setup(&pg->sgroups[op->ss->id], op->snap, op->nr_snap);
	nvmf_bcast_reply(b);
}

static void start_done(void *arg)
{
	struct nvmf_ss_op *op = arg;

	op->ss->state = NVMF_SS_ACTIVE;
	nvmf_ss_op_finish(op, 0);
}

static void op_start(struct nvmf_ss_op *op)
{
	struct nvmft_subsystem *ss = op->ss;

	/* The walk reads a copy: the table may change under it. */
	op->nr_snap = ss->max_nsid;
	op->snap = calloc(ss->max_nsid, sizeof(*op->snap));
	if (op->snap)
		memcpy(op->snap, ss->ns, ss->max_nsid * sizeof(*op->snap));
	if (!op->snap || nvmf_tgt_bcast(ss->tgt, start_fn, op, start_done)) {
		ss->start_queued = false;
		nvmf_ss_op_finish(op, -ENOMEM);
	}
}

static void destroy_free(struct nvmf_ss_op *op);

static void ctrlr_destroy_msg(void *arg)
{
	nvmf_ctrlr_destroy(arg, "subsystem deleted");
}

static void release_fn(struct nvmf_bcast *b, struct nvmf_poll_group *pg, void *arg)
{
	struct nvmf_ss_op *op = arg;

	if (pg)
		nvmf_sgroup_release(&pg->sgroups[op->ss->id]);
	nvmf_bcast_reply(b);
}

static void release_done(void *arg)
{
	destroy_free(arg);
}

/* Every controller is gone (so is every request of its qpairs). */
static void destroy_release(struct nvmf_ss_op *op)
{
	op->ss->destroy_waiting = false;
	if (nvmf_tgt_bcast(op->ss->tgt, release_fn, op, release_done)) {
		RT_ERR(op->ss->tgt->rt, "%s: %s: channels leaked (no memory)",
		       op->ss->tgt->name, op->ss->nqn);
		destroy_free(op);
	}
}

static void op_destroy(struct nvmf_ss_op *op)
{
	struct nvmft_subsystem *ss = op->ss;
	struct nvmf_ctrlr *ctrlr;

	TAILQ_FOREACH(ctrlr, &ss->ctrlrs, link) {
		if (nvmf_send(ss->tgt, ctrlr->thread, ctrlr_destroy_msg, ctrlr))
			RT_ERR(ss->tgt->rt, "%s: controller %u of %s not told to go",
			       ss->tgt->name, ctrlr->cntlid, ss->nqn);
	}
	if (ss->nr_live_ctrlrs) {
		ss->destroy_waiting = true;
		return;
	}
	destroy_release(op);
}

void nvmf_ss_ctrlr_gone(struct nvmft_subsystem *ss)
{
	if (ss->nr_live_ctrlrs)
		ss->nr_live_ctrlrs--;
	if (ss->destroy_waiting && ss->nr_live_ctrlrs == 0)
		destroy_release(ss->ops_head);
}

static void ss_free(struct nvmft_subsystem *ss)
{
	struct nvmf_host_entry *h;
	struct nvmf_listener_entry *l;
	uint32_t i;

	for (i = 0; i < ss->max_nsid; i++) {
		if (ss->ns[i])
			nvmf_ns_free(ss->ns[i]);
	}
	while ((h = TAILQ_FIRST(&ss->hosts))) {
		TAILQ_REMOVE(&ss->hosts, h, link);
		free(h);
	}
	/* Listener entries left only at tgt destroy (listeners stopped). */
	while ((l = TAILQ_FIRST(&ss->listeners))) {
		TAILQ_REMOVE(&ss->listeners, l, link);
		free(l);
	}
	ss->tgt->ss_by_id[ss->id] = NULL;
	if (ss->tgt->discovery == ss)
		ss->tgt->discovery = NULL;
	free(ss->ns);
	free(ss);
}

static void destroy_free(struct nvmf_ss_op *op)
{
	struct nvmft_subsystem *ss = op->ss;
	struct nvmft_tgt *tgt = ss->tgt;
	nvmft_done_fn done = op->done;
	void *arg = op->arg;

	RT_INFO(tgt->rt, "%s: subsystem %s deleted", tgt->name, ss->nqn);
	op_pop(op);
	free(op);
	ss_free(ss);
	if (done)
		done(arg, 0);
	nvmf_tgt_ss_op_done(tgt);
}

static void op_run(struct nvmft_subsystem *ss)
{
	struct nvmf_ss_op *op = ss->ops_head;

	if (!op) {
		ss->op_running = false;
		return;
	}
	switch (op->type) {
	case NVMF_SS_OP_START:
		op_start(op);
		return;
	case NVMF_SS_OP_NS_ADD:
	case NVMF_SS_OP_NS_REMOVE:
		nvmf_ns_op_run(op);
		return;
	case NVMF_SS_OP_DESTROY:
		op_destroy(op);
		return;
	}
}

int nvmft_subsystem_start(struct nvmft_subsystem *ss, nvmft_done_fn done, void *arg)
{
	struct nvmf_ss_op *op;

	ASSERT_ON_THREAD(ss->tgt->app_thread);
	if (ss->start_queued)
		return -EALREADY;
	if (ss->state == NVMF_SS_DESTROYING || ss->tgt->destroying)
		return -EINVAL;
	op = nvmf_ss_op_alloc(ss, NVMF_SS_OP_START);
	if (!op)
		return -ENOMEM;
	op->done = done;
	op->arg = arg;
	ss->start_queued = true;
	nvmf_ss_op_submit(op);
	return 0;
}

int nvmft_subsystem_destroy(struct nvmft_subsystem *ss, nvmft_done_fn done, void *arg)
{
	struct nvmf_listener_entry *l;
	struct nvmf_ss_op *op;

	ASSERT_ON_THREAD(ss->tgt->app_thread);
	if (ss->discovery || ss->state == NVMF_SS_DESTROYING)
		return -EINVAL;
	op = nvmf_ss_op_alloc(ss, NVMF_SS_OP_DESTROY);
	if (!op)
		return -ENOMEM;
	op->done = done;
	op->arg = arg;
	ss->state = NVMF_SS_DESTROYING;
	/* Unreachable from now on: no new Connect finds it. */
	TAILQ_REMOVE(&ss->tgt->subsystems, ss, link);
	while ((l = TAILQ_FIRST(&ss->listeners))) {
		TAILQ_REMOVE(&ss->listeners, l, link);
		nvmf_tgt_listener_put(ss->tgt, l->tl, false);
		free(l);
	}
	nvmf_ss_bump_discovery_genctr(ss->tgt);
	nvmf_ss_op_submit(op);
	return 0;
}

/* --- tgt teardown ---------------------------------------------------------------------- */

struct free_all_ctx {
	struct nvmft_tgt *tgt;
	nvmft_msg_fn done;
	void *arg;
};

static void release_all_fn(struct nvmf_bcast *b, struct nvmf_poll_group *pg, void *arg)
{
	uint32_t i;

	if (pg) {
		for (i = 0; i < pg->nr_sgroups; i++)
			nvmf_sgroup_release(&pg->sgroups[i]);
	}
	nvmf_bcast_reply(b);
}

static void free_all_subsystems(struct nvmft_tgt *tgt)
{
	struct nvmft_subsystem *ss;

	while ((ss = TAILQ_FIRST(&tgt->subsystems))) {
		TAILQ_REMOVE(&tgt->subsystems, ss, link);
		ss_free(ss);
	}
}

static void release_all_done(void *arg)
{
	struct free_all_ctx *c = arg;

	free_all_subsystems(c->tgt);
	c->done(c->arg);
	free(c);
}

void nvmf_ss_free_all(struct nvmft_tgt *tgt, nvmft_msg_fn done, void *arg)
{
	struct free_all_ctx *c;

	/* Without @done: no poll group ever saw a subsystem (creation
	 * failure), nothing to walk. */
	if (!done) {
		free_all_subsystems(tgt);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c) {
		c->tgt = tgt;
		c->done = done;
		c->arg = arg;
	}
	if (!c || nvmf_tgt_bcast(tgt, release_all_fn, c, release_all_done)) {
		RT_ERR(tgt->rt, "%s: no memory to release channels", tgt->name);
		free(c);
		free_all_subsystems(tgt);
		done(arg);
	}
}
