// SPDX-License-Identifier: MIT
/*
 * Poll groups (the tgt's per-reactor context), the life of a qpair on its
 * reactor, and the per-reactor subsystem groups (struct nvmf_sgroup) with
 * their pause/drain/resume machinery for namespace changes.
 *
 * Everything here runs on the reactor that owns the poll group.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nvmf/nvmf_internal.h"

/* --- poll group (io_channel context of the tgt) ------------------------- */

int nvmf_pg_create(void *io_device, void *ctx)
{
	struct nvmft_tgt *tgt = io_device;
	struct nvmf_poll_group *pg = ctx;

	pg->tgt = tgt;
	pg->thread = nvmft_get_thread();
	TAILQ_INIT(&pg->tpgs);
	/* Sized once for every possible subsystem id: the I/O path indexes
	 * it without a lock and it never moves. */
	pg->nr_sgroups = tgt->opts.max_subsystems + 1;
	pg->sgroups = calloc(pg->nr_sgroups, sizeof(*pg->sgroups));
	if (!pg->sgroups)
		return -ENOMEM;
	return 0;
}

void nvmf_pg_destroy(void *io_device, void *ctx)
{
	struct nvmf_poll_group *pg = ctx;
	struct nvmf_tpg_entry *e;
	uint32_t i;

	while ((e = TAILQ_FIRST(&pg->tpgs))) {
		TAILQ_REMOVE(&pg->tpgs, e, link);
		free(e);
	}
	for (i = 0; i < pg->nr_sgroups; i++)
		free(pg->sgroups[i].ns);
	free(pg->sgroups);
	pg->sgroups = NULL;
}

struct nvmf_poll_group *nvmf_tgt_local_group(struct nvmft_tgt *tgt)
{
	struct nvmft_thread *t = nvmft_get_thread();

	if (!t || nvmft_thread_get_runtime(t) != tgt->rt)
		return NULL;
	return tgt->pgs[nvmft_thread_index(t)];
}

struct nvmft_thread *nvmf_poll_group_thread(struct nvmf_poll_group *pg)
{
	return pg->thread;
}

struct nvmft_tgt *nvmf_poll_group_tgt(struct nvmf_poll_group *pg)
{
	return pg->tgt;
}

struct nvmf_transport_poll_group *nvmf_pg_find_tpg(struct nvmf_poll_group *pg,
						   struct nvmf_transport *t)
{
	struct nvmf_tpg_entry *e;

	TAILQ_FOREACH(e, &pg->tpgs, link) {
		if (e->tpg->transport == t)
			return e->tpg;
	}
	return NULL;
}

/* The qpair list threads through qp->core_link: [0] prev, [1] next. */
void nvmf_pg_add_qpair(struct nvmf_poll_group *pg, struct nvmf_qpair *qp)
{
	struct nvmf_qpair *head = pg->qpairs_head;

	qp->core_link[0] = NULL;
	qp->core_link[1] = head;
	if (head)
		head->core_link[0] = qp;
	pg->qpairs_head = qp;
	pg->nr_qpairs++;
	pg->stats.qpairs_created++;
}

void nvmf_pg_remove_qpair(struct nvmf_poll_group *pg, struct nvmf_qpair *qp)
{
	struct nvmf_qpair *prev = qp->core_link[0], *next = qp->core_link[1];

	if (prev)
		prev->core_link[1] = next;
	else
		pg->qpairs_head = next;
	if (next)
		next->core_link[0] = prev;
	qp->core_link[0] = qp->core_link[1] = NULL;
	pg->nr_qpairs--;
	pg->stats.qpairs_destroyed++;
}

void nvmf_pg_disconnect_all(struct nvmf_poll_group *pg)
{
	struct nvmf_qpair *qp, *next;

	pg->destroying = true;
	/* A disconnect unlinks at most the qpair itself synchronously (the
	 * I/O qpairs of a controller are disconnected by message). */
	for (qp = pg->qpairs_head; qp; qp = next) {
		next = qp->core_link[1];
		nvmf_qpair_disconnect(qp);
	}
}

/* --- qpair life on its reactor ------------------------------------------ */

/* App reactor: the core struct travels back to uncount its connection. */
static void qpair_gone_msg(void *arg)
{
	struct nvmf_qpair_core *core = arg;
	struct nvmft_tgt *tgt = core->tgt;
	uint64_t listener_id = core->listener_id;

	free(core);
	nvmf_tgt_qpair_gone(tgt, listener_id);
}

static void qpair_fini_done(struct nvmf_qpair *qp, void *arg)
{
	struct nvmft_tgt *tgt = arg;
	struct nvmf_qpair_core *core = nvmf_qpair_core(qp);

	if (qp->group)
		nvmf_pg_remove_qpair(qp->group, qp);
	/* Every request came back: the controller may go now. */
	if (qp->ctrlr)
		nvmf_ctrlr_release_qpair(qp);
	qp->core_ctx = NULL;
	core->tgt = tgt;
	if (nvmf_send(tgt, tgt->app_thread, qpair_gone_msg, core))
		free(core);
}

static void qpair_fini_start(struct nvmf_qpair *qp)
{
	struct nvmf_qpair_core *core = nvmf_qpair_core(qp);

	core->fini_called = true;
	qp->transport->ops->qpair_fini(qp, qpair_fini_done, qp->transport->tgt);
}

void nvmf_qpair_disconnect_continue(struct nvmf_qpair *qp)
{
	struct nvmf_qpair_core *core = nvmf_qpair_core(qp);

	/* A travelling Connect comes back and calls us again. */
	if (core->connecting || core->detaching || core->fini_called)
		return;
	nvmf_req_qpair_abort_held(qp);
	if (qp->ctrlr) {
		core->detaching = true;
		nvmf_ctrlr_detach_qpair(qp, qpair_fini_start);
		return;
	}
	qpair_fini_start(qp);
}

void nvmf_qpair_disconnect(struct nvmf_qpair *qp)
{
	if (qp->state == NVMF_QPAIR_DISCONNECTING)
		return;
	qp->state = NVMF_QPAIR_DISCONNECTING;
	nvmf_qpair_disconnect_continue(qp);
}

/* On the chosen reactor: the app reactor placed a new connection here. */
void nvmf_pg_new_qpair_msg(void *arg)
{
	struct nvmf_qpair *qp = arg;
	struct nvmft_tgt *tgt = qp->transport->tgt;
	struct nvmf_poll_group *pg = nvmf_tgt_local_group(tgt);
	struct nvmf_transport_poll_group *tpg;
	int rc;

	qp->state = NVMF_QPAIR_NEW;
	qp->group = pg;
	if (!pg) {
		RT_ERR(tgt->rt, "%s: no poll group on this reactor, connection closed",
		       tgt->name);
		qp->state = NVMF_QPAIR_DISCONNECTING;
		qpair_fini_start(qp);
		return;
	}
	nvmf_pg_add_qpair(pg, qp);
	tpg = nvmf_pg_find_tpg(pg, qp->transport);
	if (pg->destroying || !tpg) {
		nvmf_qpair_disconnect(qp);
		return;
	}
	rc = qp->transport->ops->poll_group_add(tpg, qp);
	if (rc) {
		RT_WARN(tgt->rt, "%s: transport refused a connection: %d",
			tgt->name, rc);
		nvmf_qpair_disconnect(qp);
	}
}

/* --- subsystem groups: the I/O path's view of namespaces ---------------- */

struct nvmf_sgroup *nvmf_pg_sgroup(struct nvmf_poll_group *pg,
				   struct nvmft_subsystem *ss)
{
	struct nvmf_sgroup *sg;

	if (!pg || !ss || ss->id >= pg->nr_sgroups)
		return NULL;
	sg = &pg->sgroups[ss->id];
	return sg->started ? sg : NULL;
}

static struct nvmf_sgroup *req_sgroup(struct nvmf_req *req)
{
	struct nvmf_qpair *qp = req->qpair;

	if (!qp->ctrlr)
		return NULL;
	return nvmf_pg_sgroup(qp->group, qp->ctrlr->ss);
}

struct nvmf_sgroup_ns *nvmf_req_sgroup_ns(struct nvmf_req *req, uint32_t nsid)
{
	struct nvmf_sgroup *sg = req_sgroup(req);

	if (!sg || nsid == 0 || nsid > sg->nr_ns || !sg->ns[nsid - 1].ns)
		return NULL;
	return &sg->ns[nsid - 1];
}

struct nvmf_ns *nvmf_ss_get_ns(struct nvmft_subsystem *ss, uint32_t nsid)
{
	struct nvmf_sgroup *sg;

	if (nsid == 0 || nsid > ss->max_nsid)
		return NULL;
	/* The app reactor owns the table; other reactors see the namespaces
	 * their sgroup was given (the nvmf_ns outlives every sgroup entry). */
	if (nvmft_get_thread() == ss->tgt->app_thread)
		return ss->ns[nsid - 1];
	sg = nvmf_pg_sgroup(nvmf_tgt_local_group(ss->tgt), ss);
	if (!sg || nsid > sg->nr_ns)
		return NULL;
	return sg->ns[nsid - 1].ns;
}

static void sgroup_queue(struct nvmf_sgroup *sg, struct nvmf_req *req)
{
	req->core_next = NULL;
	if (sg->queued_tail)
		sg->queued_tail->core_next = req;
	else
		sg->queued_head = req;
	sg->queued_tail = req;
}

static void fail_req(struct nvmf_req *req, uint16_t status)
{
	nvmf_req_set_status(req, status);
	nvmf_req_complete(req);
}

/* An active namespace slot with a channel, or the status to fail with. */
static uint16_t sgroup_slot(struct nvmf_sgroup *sg, uint32_t nsid,
			    struct nvmf_sgroup_ns **out)
{
	struct nvmf_sgroup_ns *sns;

	if (!sg || nsid == 0 || nsid > sg->nr_ns || !sg->ns[nsid - 1].ns)
		return NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_NS) |
		       NVMFT_STATUS_DNR;
	sns = &sg->ns[nsid - 1];
	if (!sns->ch)
		return NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY);
	*out = sns;
	return 0;
}

bool nvmf_sgroup_io_begin(struct nvmf_req *req, struct nvmf_sgroup_ns **ns_out)
{
	struct nvmf_sgroup *sg = req_sgroup(req);
	struct nvmf_sgroup_ns *sns = NULL;
	uint16_t status;

	if (sg && sg->state != NVMF_SGROUP_ACTIVE) {
		sgroup_queue(sg, req);
		return false;
	}
	status = sgroup_slot(sg, req->cmd.nsid, &sns);
	if (status) {
		fail_req(req, status);
		return false;
	}
	sns->io_outstanding++;
	sg->io_outstanding++;
	*ns_out = sns;
	return true;
}

bool nvmf_sgroup_io_begin_fused(struct nvmf_req *first, struct nvmf_req *second,
				struct nvmf_sgroup_ns **ns_out)
{
	struct nvmf_sgroup *sg = req_sgroup(first);
	struct nvmf_sgroup_ns *sns = NULL;
	uint16_t status;

	if (sg && sg->state != NVMF_SGROUP_ACTIVE) {
		/* Adjacent in the queue: resume re-pairs them. */
		sgroup_queue(sg, first);
		sgroup_queue(sg, second);
		return false;
	}
	status = sgroup_slot(sg, first->cmd.nsid, &sns);
	if (status) {
		fail_req(first, status);
		fail_req(second, NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_FUSED_FAIL));
		return false;
	}
	sns->io_outstanding += 2;
	sg->io_outstanding += 2;
	*ns_out = sns;
	return true;
}

static void sgroup_drained_msg(void *arg)
{
	struct nvmf_sgroup *sg = arg;
	void (*cb)(void *arg) = sg->paused_cb;
	void *cb_arg = sg->paused_arg;

	if (sg->state != NVMF_SGROUP_PAUSING || sg->io_outstanding)
		return;
	sg->state = NVMF_SGROUP_PAUSED;
	sg->paused_cb = NULL;
	sg->paused_arg = NULL;
	if (cb)
		cb(cb_arg);
}

void nvmf_sgroup_io_end(struct nvmf_req *req)
{
	struct nvmf_qpair *qp = req->qpair;
	struct nvmf_sgroup *sg = req_sgroup(req);
	uint32_t nsid = req->cmd.nsid;

	if (!sg)
		return;
	if (nsid && nsid <= sg->nr_ns && sg->ns[nsid - 1].io_outstanding)
		sg->ns[nsid - 1].io_outstanding--;
	if (sg->io_outstanding)
		sg->io_outstanding--;
	/* Continue the pause from a fresh stack: we are inside io.c's
	 * completion, before it completes @req. */
	if (sg->state == NVMF_SGROUP_PAUSING && sg->io_outstanding == 0)
		nvmf_send(qp->group->tgt, qp->group->thread, sgroup_drained_msg, sg);
}

void nvmf_sgroup_pause(struct nvmf_sgroup *sg, void (*cb)(void *arg), void *arg)
{
	sg->state = NVMF_SGROUP_PAUSING;
	sg->paused_cb = cb;
	sg->paused_arg = arg;
	if (sg->io_outstanding == 0) {
		sg->state = NVMF_SGROUP_PAUSED;
		sg->paused_cb = NULL;
		sg->paused_arg = NULL;
		cb(arg);
	}
}

void nvmf_sgroup_resume(struct nvmf_sgroup *sg)
{
	struct nvmf_req *req, *second;

	sg->state = NVMF_SGROUP_ACTIVE;
	req = sg->queued_head;
	sg->queued_head = sg->queued_tail = NULL;
	while (req) {
		struct nvmf_req *next = req->core_next;

		req->core_next = NULL;
		if ((req->cmd.flags & NVMFT_SQE_FUSE_MASK) == NVMFT_SQE_FUSE_FIRST &&
		    next) {
			second = next;
			next = second->core_next;
			second->core_next = NULL;
			nvmf_io_exec_fused(req, second);
		} else {
			nvmf_io_exec(req);
		}
		req = next;
	}
}
