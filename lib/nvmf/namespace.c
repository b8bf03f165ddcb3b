// SPDX-License-Identifier: MIT
/*
 * Namespaces: a bdev descriptor behind an NSID of a subsystem.
 *
 * The app reactor's table (ss->ns) changes at once; each reactor's
 * sgroup learns the change through a queued subsystem change that pauses
 * the sgroup (new I/O waits), lets its in-flight I/O drain, updates the
 * slot and its bdev channel, and resumes. Only then do controllers get
 * the Namespace Attribute Changed notice, and only then is a removed
 * namespace's descriptor closed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nvmf/nvmf_internal.h"

static uint32_t ns_changed_result(void)
{
	return NVMF_AER_RESULT(NVME_AER_NOTICE, NVME_AER_NOTICE_NS_CHANGED,
			       NVME_LOG_LID_CHANGED_NS);
}

void nvmf_ns_free(struct nvmf_ns *ns)
{
	if (ns->desc)
		nvmft_bdev_close(ns->desc);
	free(ns);
}

/* --- per reactor ---------------------------------------------------------- */

void nvmf_sgroup_setup(struct nvmf_sgroup *sg, struct nvmf_ns **snap, uint32_t nr)
{
	uint32_t i;

	if (sg->started)
		return;
	memset(sg, 0, sizeof(*sg));
	if (nr) {
		sg->ns = calloc(nr, sizeof(*sg->ns));
		if (!sg->ns)
			return;		/* not started here: I/O fails, visibly */
	}
	sg->nr_ns = nr;
	for (i = 0; i < nr; i++) {
		if (!snap[i])
			continue;
		sg->ns[i].ns = snap[i];
		sg->ns[i].ch = nvmft_bdev_get_io_channel(snap[i]->desc);
	}
	sg->state = NVMF_SGROUP_ACTIVE;
	sg->started = true;
}

void nvmf_sgroup_release(struct nvmf_sgroup *sg)
{
	uint32_t i;

	if (!sg->started)
		return;
	for (i = 0; i < sg->nr_ns; i++) {
		if (sg->ns[i].ch)
			nvmft_put_io_channel(sg->ns[i].ch);
	}
	free(sg->ns);
	memset(sg, 0, sizeof(*sg));
}

static void ns_apply(struct nvmf_ss_op *op, struct nvmf_sgroup *sg)
{
	struct nvmf_ns *ns = op->ns;
	struct nvmf_sgroup_ns *slot;

	if (ns->nsid == 0 || ns->nsid > sg->nr_ns)
		return;
	slot = &sg->ns[ns->nsid - 1];
	if (op->type == NVMF_SS_OP_NS_ADD) {
		/* Already there when a start walk saw it first. */
		if (slot->ns == ns)
			return;
		if (slot->ch)
			nvmft_put_io_channel(slot->ch);
		slot->ns = ns;
		slot->ch = nvmft_bdev_get_io_channel(ns->desc);
		slot->io_outstanding = 0;
		return;
	}
	if (slot->ns != ns)
		return;
	if (slot->ch)
		nvmft_put_io_channel(slot->ch);
	slot->ns = NULL;
	slot->ch = NULL;
}

static void ns_paused(void *arg)
{
	struct nvmf_ss_op_rctx *r = arg;

	ns_apply(r->op, r->sg);
	nvmf_sgroup_resume(r->sg);
	nvmf_bcast_reply(r->b);
}

static void ns_change_fn(struct nvmf_bcast *b, struct nvmf_poll_group *pg, void *arg)
{
	struct nvmf_ss_op *op = arg;
	struct nvmf_sgroup *sg = nvmf_pg_sgroup(pg, op->ss);
	struct nvmf_ss_op_rctx *r;

	if (!sg) {
		nvmf_bcast_reply(b);
		return;
	}
	r = &op->rctx[nvmft_thread_index(pg->thread)];
	r->op = op;
	r->b = b;
	r->sg = sg;
	nvmf_sgroup_pause(sg, ns_paused, r);
}

static void ns_change_done(void *arg)
{
	struct nvmf_ss_op *op = arg;
	struct nvmft_subsystem *ss = op->ss;
	struct nvmf_ns *ns = op->ns;

	nvmf_ss_notify_ctrlrs(ss, ns_changed_result(), ns->nsid);
	if (op->type == NVMF_SS_OP_NS_REMOVE)
		nvmf_ns_free(ns);
	nvmf_ss_op_finish(op, 0);
}

void nvmf_ns_op_run(struct nvmf_ss_op *op)
{
	struct nvmft_subsystem *ss = op->ss;

	/* Never started: no reactor knows the namespace. */
	if (!ss->start_queued) {
		if (op->type == NVMF_SS_OP_NS_REMOVE)
			nvmf_ns_free(op->ns);
		nvmf_ss_op_finish(op, 0);
		return;
	}
	if (nvmf_tgt_bcast(ss->tgt, ns_change_fn, op, ns_change_done)) {
		RT_ERR(ss->tgt->rt, "%s: %s: nsid %u change not applied (no memory)",
		       ss->tgt->name, ss->nqn, op->ns->nsid);
		/* A removed namespace may still be in use: leak it. */
		nvmf_ss_op_finish(op, -ENOMEM);
	}
}

/* --- app reactor ----------------------------------------------------------- */

static void ns_event_cb(enum nvmft_bdev_event ev, struct nvmft_bdev *bdev, void *ctx)
{
	struct nvmf_ns *ns = ctx;
	struct nvmft_subsystem *ss = ns->ss;
	int rc;

	if (ns->removing)
		return;
	switch (ev) {
	case NVMFT_BDEV_EVENT_REMOVE:
		RT_NOTICE(ss->tgt->rt, "%s: %s: bdev %s removed, namespace %u goes",
			  ss->tgt->name, ss->nqn, nvmft_bdev_name(bdev), ns->nsid);
		rc = nvmft_subsystem_remove_ns(ss, ns->nsid, NULL, NULL);
		if (rc)
			RT_ERR(ss->tgt->rt, "%s: %s: namespace %u not removed: %d",
			       ss->tgt->name, ss->nqn, ns->nsid, rc);
		return;
	case NVMFT_BDEV_EVENT_RESIZE:
		__atomic_store_n(&ns->num_blocks, nvmft_bdev_num_blocks(bdev),
				 __ATOMIC_RELAXED);
		nvmf_ss_notify_ctrlrs(ss, ns_changed_result(), ns->nsid);
		return;
	case NVMFT_BDEV_EVENT_MEDIA:
		return;
	}
}

static bool bdev_in_use(struct nvmft_tgt *tgt, const struct nvmft_bdev *bdev)
{
	struct nvmft_subsystem *ss;
	uint32_t i;

	TAILQ_FOREACH(ss, &tgt->subsystems, link) {
		for (i = 0; i < ss->max_nsid; i++) {
			if (ss->ns[i] && ss->ns[i]->bdev == bdev)
				return true;
		}
	}
	return false;
}

int nvmft_subsystem_add_ns(struct nvmft_subsystem *ss,
			   const struct nvmft_ns_opts *opts, uint32_t *nsid_out,
			   nvmft_done_fn done, void *arg)
{
	struct nvmft_tgt *tgt = ss->tgt;
	struct nvmft_bdev *bdev;
	struct nvmf_ss_op *op;
	struct nvmf_ns *ns;
	uint32_t nsid;
	int rc;

	ASSERT_ON_THREAD(ss->tgt->app_thread);
	if (!opts || !opts->bdev_name || ss->discovery ||
	    ss->state == NVMF_SS_DESTROYING || tgt->destroying)
		return -EINVAL;
	nsid = opts->nsid;
	if (nsid > ss->max_nsid)
		return -EINVAL;
	if (nsid && ss->ns[nsid - 1])
		return -EEXIST;
	if (!nsid) {
		for (nsid = 1; nsid <= ss->max_nsid && ss->ns[nsid - 1]; nsid++)
			;
		if (nsid > ss->max_nsid)
			return -ENOSPC;
	}
	bdev = nvmft_bdev_get(tgt->bdevs, opts->bdev_name);
	if (!bdev)
		return -ENOENT;
	if (bdev_in_use(tgt, bdev))
		return -EBUSY;
	ns = calloc(1, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	op = nvmf_ss_op_alloc(ss, NVMF_SS_OP_NS_ADD);
	if (!op) {
		rc = -ENOMEM;
		goto out_free_ns;
	}
	rc = nvmft_bdev_open(tgt->bdevs, opts->bdev_name, true, ns_event_cb, ns,
			     &ns->desc);
	if (rc)
		goto out_free_op;
	ns->ss = ss;
	ns->nsid = nsid;
	ns->bdev = bdev;
	memcpy(ns->uuid, opts->uuid ? opts->uuid : nvmft_bdev_uuid(bdev),
	       sizeof(ns->uuid));
	memcpy(ns->nguid, opts->nguid ? opts->nguid : ns->uuid, sizeof(ns->nguid));
	ns->anagrpid = 1;
	ns->block_size = nvmft_bdev_block_size(bdev);
	ns->num_blocks = nvmft_bdev_num_blocks(bdev);
	ss->ns[nsid - 1] = ns;
	ss->nr_ns++;
	op->ns = ns;
	op->done = done;
	op->arg = arg;
	nvmf_ss_op_submit(op);
	if (nsid_out)
		*nsid_out = nsid;
	return 0;

out_free_op:
	free(op);
out_free_ns:
	free(ns);
	return rc;
}

int nvmft_subsystem_remove_ns(struct nvmft_subsystem *ss, uint32_t nsid,
			      nvmft_done_fn done, void *arg)
{
	struct nvmf_ss_op *op;
	struct nvmf_ns *ns;

	ASSERT_ON_THREAD(ss->tgt->app_thread);
	if (nsid == 0 || nsid > ss->max_nsid || !ss->ns[nsid - 1])
		return -ENOENT;
	if (ss->state == NVMF_SS_DESTROYING)
		return -EINVAL;
	ns = ss->ns[nsid - 1];
	op = nvmf_ss_op_alloc(ss, NVMF_SS_OP_NS_REMOVE);
	if (!op)
		return -ENOMEM;
	ns->removing = true;
	ss->ns[nsid - 1] = NULL;
	ss->nr_ns--;
	op->ns = ns;
	op->done = done;
	op->arg = arg;
	nvmf_ss_op_submit(op);
	return 0;
}
