/* SPDX-License-Identifier: MIT */
/*
 * NVMe-oF core internals shared by the files of lib/nvmf:
 *   tgt.c, poll_group.c, listener.c, subsystem.c, namespace.c, ctrlr.c,
 *   fabrics.c, request.c   (object model, connect, properties,
 *     keep-alive, AER delivery, discovery subsystem, request dispatch)
 *   admin.c, identify.c, log_page.c, features.c, io.c, discovery.c
 *     (command handlers)
 *
 * Life of a connection in the core: nvmf_tgt_new_qpair() (app reactor)
 * → nvmf_pg_new_qpair_msg() on the chosen reactor → Connect (fabrics.c:
 * qpair reactor → app reactor → for I/O queues ctrlr->thread → qpair
 * reactor) → commands → nvmf_qpair_disconnect() → detach from the
 * controller (it forgets the qpair) → transport qpair_fini → every request
 * back → release (the controller's reference goes) → the app reactor's
 * connection count drops. A controller goes when its admin qpair goes
 * (or on keep-alive expiry, subsystem or tgt destroy): its I/O qpairs are
 * disconnected by message, and once every qpair is released the app
 * reactor unlinks it and sends the final free to ctrlr->thread.
 *
 * Ownership: the tgt, subsystems, namespaces and the controller list are
 * owned by the app reactor. A controller lives on the reactor of its admin
 * qpair (ctrlr->thread); its I/O qpairs live on any reactor and reach it by
 * message. Per reactor, the poll group keeps, for every started
 * subsystem, the namespaces' bdev channels (struct nvmf_sgroup), refreshed
 * by message when namespaces change (pause → drain → update → resume).
 */
#ifndef NVMFT_LIB_NVMF_INTERNAL_H
#define NVMFT_LIB_NVMF_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <nvme/types.h>
#include <nvmft/nvmf.h>
#include <nvmft/bdev.h>
#include "nvmf/lat_hist.h"
#include "nvmf/transport.h"
#include "runtime/engine.h"

#define NVMF_MAX_AER		4	/* outstanding Async Event Requests */
#define NVMF_ERROR_LOG_ENTRIES	64
#define NVMF_MAX_CHANGED_NS	1024	/* Changed NS List log entries */

struct nvmf_ns {
	struct nvmft_subsystem *ss;
	uint32_t nsid;
	struct nvmft_bdev_desc *desc;
	uint8_t uuid[16];
	uint8_t nguid[16];
	uint32_t anagrpid;
	/* bdev geometry snapshot (refreshed on resize events) */
	uint32_t block_size;
	uint64_t num_blocks;	/* written on the app reactor with a relaxed
				 * atomic store: read it with nvmf_ns_num_blocks() */
	struct nvmft_bdev *bdev;
	bool removing;		/* remove_ns or bdev REMOVE under way */
};

/* Block count of @ns from any reactor (a resize may change it). */
static inline uint64_t nvmf_ns_num_blocks(const struct nvmf_ns *ns)
{
	return __atomic_load_n(&ns->num_blocks, __ATOMIC_RELAXED);
}

/* Per reactor, per subsystem: what the I/O path needs without locks. */
enum nvmf_sgroup_state {
	NVMF_SGROUP_ACTIVE = 0,
	NVMF_SGROUP_PAUSING,	/* new I/O queued, waiting for in-flight to drain */
	NVMF_SGROUP_PAUSED,
};

struct nvmf_sgroup_ns {
	struct nvmf_ns *ns;			/* NULL: no namespace at this nsid */
	struct nvmft_io_channel *ch;		/* bdev channel on this reactor */
	uint64_t io_outstanding;
};

struct nvmf_sgroup {
	enum nvmf_sgroup_state state;
	uint32_t nr_ns;				/* = ss->max_nsid */
	struct nvmf_sgroup_ns *ns;		/* indexed by nsid - 1 */
	uint64_t io_outstanding;
	struct nvmf_req *queued_head, *queued_tail;	/* held while paused */
	void (*paused_cb)(void *arg);
	void *paused_arg;
	bool started;				/* subsystem started on this reactor */
};

/* A transport poll group in its poll group's list. */
struct nvmf_tpg_entry {
	TAILQ_ENTRY(nvmf_tpg_entry) link;
	struct nvmf_transport_poll_group *tpg;
};

struct nvmf_poll_group {
	struct nvmft_tgt *tgt;
	struct nvmft_thread *thread;
	TAILQ_HEAD(, nvmf_tpg_entry) tpgs;	/* transport poll groups */
	uint32_t nr_sgroups;			/* indexed by subsystem id */
	struct nvmf_sgroup *sgroups;
	uint32_t nr_qpairs;
	void *qpairs_head;			/* list of nvmf_qpair (core_link) */
	struct nvmf_pg_stats {
		uint64_t admin_cmds;
		uint64_t io_cmds;
		uint64_t qpairs_created;
		uint64_t qpairs_destroyed;
		uint64_t errors;
		/* Latency of every I/O command (not fabrics) completed on an
		 * I/O queue of this reactor, exec (or fail) to completion;
		 * admin queues are left out: an AER waits for an event. */
		struct nvmf_lat_hist io_lat;
	} stats;
	struct nvmft_io_channel *ch;		/* the tgt channel that holds it */
	bool destroying;			/* tgt destroy: refuse new qpairs */
};

struct nvmf_host_entry {
	TAILQ_ENTRY(nvmf_host_entry) link;
	char nqn[NVMFT_NQN_MAX_LEN + 1];
};

struct nvmf_listener_entry {
	TAILQ_ENTRY(nvmf_listener_entry) link;
	struct nvmft_listen_addr addr;
	uint32_t ana_state;
	struct nvmf_tgt_listener *tl;		/* the transport's listener */
};

enum nvmf_subsystem_state {
	NVMF_SS_INACTIVE = 0,
	NVMF_SS_ACTIVE,
	NVMF_SS_CHANGING,	/* a pause/update/resume walk is running */
	NVMF_SS_DESTROYING,
};

struct nvmft_subsystem {
	struct nvmft_tgt *tgt;
	uint32_t id;				/* index of the per-reactor sgroup */
	enum nvmf_subsystem_state state;
	bool discovery;
	char nqn[NVMFT_NQN_MAX_LEN + 1];
	char serial[NVMFT_SERIAL_MAX_LEN + 1];
	char model[NVMFT_MODEL_MAX_LEN + 1];
	bool allow_any_host;
	uint32_t max_nsid;			/* opts.max_namespaces */
	struct nvmf_ns **ns;			/* indexed by nsid - 1 */
	uint32_t nr_ns;
	uint16_t min_cntlid, max_cntlid, next_cntlid;
	uint32_t max_controllers;
	TAILQ_HEAD(, nvmf_host_entry) hosts;
	TAILQ_HEAD(, nvmf_listener_entry) listeners;
	TAILQ_HEAD(, nvmf_ctrlr) ctrlrs;	/* app reactor's view */
	uint32_t nr_ctrlrs;
	TAILQ_ENTRY(nvmft_subsystem) link;

	/* Changes that walk the reactors (start, ns add/remove, destroy) run
	 * one at a time in this order (subsystem.c). */
	struct nvmf_ss_op *ops_head, *ops_tail;
	bool op_running;
	bool start_queued;			/* start accepted (maybe running) */
	uint32_t nr_live_ctrlrs;		/* created, not yet unlinked */
	bool destroy_waiting;			/* destroy waits for its controllers */
};

/* A subsystem change that walks the reactors (subsystem.c, namespace.c). */
enum nvmf_ss_op_type {
	NVMF_SS_OP_START = 0,
	NVMF_SS_OP_NS_ADD,
	NVMF_SS_OP_NS_REMOVE,
	NVMF_SS_OP_DESTROY,
};

struct nvmf_ss_op;

/* Per-reactor state of a namespace change (pause → drain → apply). */
struct nvmf_ss_op_rctx {
	struct nvmf_ss_op *op;
	struct nvmf_bcast *b;
	struct nvmf_sgroup *sg;
};

struct nvmf_ss_op {
	enum nvmf_ss_op_type type;
	struct nvmf_ss_op *next;
	struct nvmft_subsystem *ss;
	struct nvmf_ns *ns;			/* NS_ADD / NS_REMOVE */
	nvmft_done_fn done;
	void *arg;
	struct nvmf_ns **snap;			/* START: the table when it ran */
	uint32_t nr_snap;
	struct nvmf_ss_op_rctx rctx[];		/* [reactor index] */
};

/* Controller features (Get/Set Features). */
struct nvmf_features {
	uint32_t arbitration;
	uint32_t power_mgmt;
	uint32_t temp_thresh;
	uint32_t error_recovery;
	uint32_t volatile_wc;
	uint32_t num_queues;		/* NSQA/NCQA as granted (0's based) */
	uint32_t irq_coalescing;
	uint32_t write_atomicity;
	uint32_t async_event_config;
	uint32_t keep_alive_timer_ms;
	uint8_t host_id[16];
	bool host_id_set;
};

/*
 * SMART / health counters (units per the spec: data units of 1000 × 512 B).
 *
 * Lock-free accounting: nvmf_req_complete() counts every completed I/O
 * command (Read/Compare → read, Write → write, media errors) in counters
 * of its qpair (struct nvmf_qpair_core.smart: one writer, the qpair's
 * reactor, relaxed atomic stores). The controller's thread sums them on
 * demand with relaxed loads (nvmf_ctrlr_get_smart()): an I/O qpair stays
 * in ctrlr->io_qpairs until its detach message has run on ctrlr->thread,
 * which folds its counters into ctrlr->smart. Command handlers count
 * nothing themselves.
 */
struct nvmf_smart {
	uint64_t data_units_read;	/* in 512-byte units; reported /1000 rounded up */
	uint64_t data_units_written;
	uint64_t host_read_cmds;
	uint64_t host_write_cmds;
	uint64_t media_errors;
	uint64_t num_err_log_entries;
	uint64_t power_on_start_us;
};

struct nvmf_ctrlr {
	struct nvmft_subsystem *ss;
	struct nvmft_tgt *tgt;
	uint16_t cntlid;
	struct nvmft_thread *thread;		/* reactor of the admin qpair */
	struct nvmf_qpair *admin_qpair;
	char hostnqn[NVMFT_NQN_MAX_LEN + 1];
	uint8_t hostid[16];

	/* registers */
	uint64_t cap;
	uint32_t vs;
	uint32_t cc;
	uint32_t csts;

	struct nvmf_features feat;
	uint32_t kato_ms;
	uint64_t last_keep_alive_us;
	uint64_t ka_period_us;			/* keep-alive poller period */
	uint64_t ka_last_poll_us;		/* to tell a stalled reactor */
	struct nvmft_poller *keep_alive_poller;

	/* I/O queues: updated on ctrlr->thread */
	uint32_t max_qpairs;			/* including admin */
	uint64_t *qid_bitmap;			/* unused: see io_qpairs */
	uint32_t nr_io_qpairs;

	/* async events */
	struct nvmf_req *aer_reqs[NVMF_MAX_AER];
	uint32_t nr_aer_reqs;
	uint32_t pending_events[16];		/* result dwords not yet delivered */
	uint32_t nr_pending_events;
	uint32_t masked_event_types;		/* notices masked until log read */

	/* log pages */
	struct nvme_error_log_page err_log[NVMF_ERROR_LOG_ENTRIES];
	uint64_t err_count;
	uint32_t changed_ns[NVMF_MAX_CHANGED_NS];
	uint32_t nr_changed_ns;			/* > NVMF_MAX_CHANGED_NS: overflow */
	struct nvmf_smart smart;		/* of qpairs already gone (see above) */
	uint64_t discovery_genctr_seen;

	bool destroying;
	uint32_t refs;
	TAILQ_ENTRY(nvmf_ctrlr) link;		/* ss->ctrlrs */

	/* ctrlr->thread only: */
	struct nvmf_qpair **io_qpairs;		/* [qid], qid 1..max_qpairs-1 */
	bool reset_pending;			/* CC.EN 1→0: RDY clears when I/O qpairs are gone */
	bool shutdown_pending;			/* CC.SHN: SHST complete when they are */
	uint32_t kato_grace_ms;
	bool unlink_sent;			/* asked the app reactor to unlink */
	uint64_t created_us;
	uint8_t trtype;				/* of the admin qpair's transport */
};

struct nvmft_tgt {
	struct nvmft_runtime *rt;
	struct nvmft_tgt_opts opts;
	char name[64];
	struct nvmft_bdev_registry *bdevs;
	bool own_bdevs;
	TAILQ_HEAD(, nvmf_transport_entry) transports;
	TAILQ_HEAD(, nvmft_subsystem) subsystems;
	struct nvmft_subsystem *discovery;
	uint32_t next_ss_id;
	uint64_t discovery_genctr;
	TAILQ_HEAD(, nvmf_referral) referrals;	/* discovery log, referral.c */
	uint32_t nr_referrals;
	uint32_t next_pg;			/* round robin */
	uint32_t nr_connections;
	bool destroying;

	struct nvmft_thread *app_thread;	/* reactor 0 */
	uint32_t nr_threads;
	struct nvmf_poll_group **pgs;		/* [reactor index]; entry i is
						 * touched by reactor i only */
	struct nvmft_subsystem **ss_by_id;	/* [0..max_subsystems], 0 = discovery */
	TAILQ_HEAD(, nvmf_tgt_listener) listeners;
	const struct nvmf_transport_ops *extra_ops[4];	/* registered by tests */
	uint32_t nr_live_ctrlrs;		/* created, not yet unlinked */
	uint64_t refuse_log_us;			/* rate limit of "refused" logs */
	uint64_t refused;
	uint64_t next_listener_id;		/* last given, listener.c */
	uint32_t nr_ss_ops;			/* subsystem changes queued or running */
	int destroy_step;			/* tgt.c */
	nvmft_done_fn destroy_done;
	void *destroy_arg;
	struct nvmf_transport_entry *destroy_next;
};

struct nvmf_transport_entry {
	TAILQ_ENTRY(nvmf_transport_entry) link;
	struct nvmf_transport *transport;
	bool ready;				/* every reactor has its poll group */
};

/* A discovery referral (referral.c); app reactor. */
struct nvmf_referral {
	TAILQ_ENTRY(nvmf_referral) link;
	struct nvmft_referral ref;		/* subnqn never "" */
};

/* A listening address of a transport, shared by subsystems (refcount). */
struct nvmf_tgt_listener {
	TAILQ_ENTRY(nvmf_tgt_listener) link;
	struct nvmft_listen_addr addr;
	struct nvmf_transport *transport;
	uint32_t refs;				/* subsystems + explicit tgt_listen */
	bool tgt_listen;			/* nvmft_tgt_listen() holds a ref */
	/* Connections are counted on the app reactor, like the tgt's, and
	 * by id: a connection may outlive its listener (stop listening does
	 * not close connections), and a new listener on the same address
	 * starts from zero. */
	uint64_t id;				/* never 0 */
	uint32_t max_connections;		/* 0 = no limit of its own */
	uint32_t nr_connections;
	uint64_t refused;
};

/*
 * Core-private per-qpair state (qp->core_ctx), allocated when the
 * transport hands the qpair to nvmf_tgt_new_qpair(), freed after the
 * transport's qpair_fini reported done. Only the qpair's reactor touches
 * it, except smart, read (relaxed) by ctrlr->thread.
 */
struct nvmf_qpair_core {
	/* Set on the app reactor before the qpair travels; the core struct
	 * goes back there when the qpair is gone, to uncount it. */
	struct nvmft_tgt *tgt;
	uint64_t listener_id;			/* 0: not from a listener */
	struct nvmf_req *fused_first;		/* FUSE_FIRST waiting for its second */
	bool connecting;			/* a Connect is travelling */
	bool detaching;				/* detach message sent to ctrlr->thread */
	bool fini_called;
	struct {
		uint64_t cmds;			/* completed, any queue, any kind */
		uint64_t errors;		/* of those, with an error status */
	} stats;
	struct {
		_Atomic uint64_t data_units_read;	/* 512-byte units */
		_Atomic uint64_t data_units_written;
		_Atomic uint64_t host_read_cmds;
		_Atomic uint64_t host_write_cmds;
		_Atomic uint64_t media_errors;
	} smart;
};

static inline struct nvmf_qpair_core *nvmf_qpair_core(struct nvmf_qpair *qp)
{
	return (struct nvmf_qpair_core *)qp->core_ctx;
}

/* --- object model (tgt.c, poll_group.c, subsystem.c, ctrlr.c) ----------- */
struct nvmf_poll_group *nvmf_tgt_local_group(struct nvmft_tgt *tgt);
struct nvmf_sgroup *nvmf_pg_sgroup(struct nvmf_poll_group *pg,
				   struct nvmft_subsystem *ss);
struct nvmf_ns *nvmf_ss_get_ns(struct nvmft_subsystem *ss, uint32_t nsid);
/* Active namespace for an I/O command on this reactor, or NULL. */
struct nvmf_sgroup_ns *nvmf_req_sgroup_ns(struct nvmf_req *req, uint32_t nsid);
void nvmf_ss_bump_discovery_genctr(struct nvmft_tgt *tgt);

/* Complete a request: fill cid/sqhd/sqid/status and hand to the transport. */
void nvmf_req_complete(struct nvmf_req *req);
static inline void nvmf_req_set_status(struct nvmf_req *req, uint16_t status)
{
	/* phase bit is 0 on fabrics; status occupies bits 15:1 */
	req->rsp.status = (uint16_t)(status << 1);
}

/* Async events: queue an event (AER result dword) for ctrlr; delivered
 * on ctrlr->thread to an outstanding AER unless disabled by the Async
 * Event Configuration feature or masked (an event of the same log page
 * was delivered and the page not read since). Any reactor that can
 * vouch the controller is alive: ctrlr->thread itself, a reactor of one
 * of its qpairs while that qpair is attached, or the app reactor while
 * the controller is in ss->ctrlrs (by message otherwise). */
void nvmf_ctrlr_async_event(struct nvmf_ctrlr *ctrlr, uint32_t result);
/* Record an error log entry for a failed command (ctrlr->thread).
 * nvmf_req_complete() already records one (parameter location unknown)
 * for every failed admin or I/O command: call this only for a command
 * you do not complete through it. */
void nvmf_ctrlr_log_error(struct nvmf_ctrlr *ctrlr, struct nvmf_req *req,
			  uint16_t status, uint16_t param_offset);
/* Keep-alive seen (any command on admin queue counts for TBKAS). */
void nvmf_ctrlr_keep_alive(struct nvmf_ctrlr *ctrlr);

/* AER result dword: type (bits 2:0), info (15:8), log page (23:16). */
#define NVMF_AER_RESULT(type, info, lid) \
	((uint32_t)(type) | ((uint32_t)(info) << 8) | ((uint32_t)(lid) << 16))

/*
 * Async Event Request (admin.c hands the command here), on ctrlr->thread.
 * Return: 0 — the core owns @req from now on (held until an event comes,
 * completed at once when one is pending, or discarded at teardown);
 * otherwise an NVMe status (Asynchronous Event Request Limit Exceeded when
 * NVMF_MAX_AER are held) and the caller completes @req with it.
 */
int nvmf_ctrlr_aer_submit(struct nvmf_ctrlr *ctrlr, struct nvmf_req *req);

/*
 * The host read log page @lid (log_page.c calls this on ctrlr->thread
 * after a successful Get Log Page without RAE): unmasks the events that
 * page reports, and for 04h clears the changed namespace list.
 */
void nvmf_ctrlr_log_page_read(struct nvmf_ctrlr *ctrlr, uint8_t lid);

/* SMART totals of the controller (ctrlr->thread); see struct nvmf_smart. */
void nvmf_ctrlr_get_smart(struct nvmf_ctrlr *ctrlr, struct nvmf_smart *out);

/* Set Features Keep Alive Timer (features.c, ctrlr->thread): reprograms
 * the keep-alive poller; 0 disables it. */
void nvmf_ctrlr_set_kato(struct nvmf_ctrlr *ctrlr, uint32_t kato_ms);

/* Number of I/O queues granted (features.c reads/sets feat.num_queues;
 * the Connect of an I/O queue checks its qid against this). */
uint32_t nvmf_ctrlr_max_io_qid(const struct nvmf_ctrlr *ctrlr);

/*
 * I/O path, on the qpair's reactor (io.c). Every I/O command that touches
 * a namespace goes through the reactor's struct nvmf_sgroup:
 *
 *	struct nvmf_sgroup_ns *sns;
 *
 *	if (!nvmf_sgroup_io_begin(req, &sns))
 *		return;		// queued (re-run later) or already completed
 *	... submit on sns->ns->desc with channel sns->ch ...
 *	// in the bdev completion:
 *	nvmf_sgroup_io_end(req);	// BEFORE completing: req is recycled after
 *	nvmf_req_complete(req);
 *
 * nvmf_sgroup_io_begin() returns false in two cases, both meaning "stop
 * here": (1) the subsystem is pausing on this reactor (a namespace is
 * being added or removed): @req is queued and nvmf_io_exec(req) runs
 * again once resumed, from the top; (2) req->cmd.nsid names no active
 * namespace: @req was completed with Invalid Namespace or Format. It
 * returns true with *ns_out set and the request counted as in flight;
 * nvmf_sgroup_io_end() must follow exactly once (it reads req->qpair and
 * req->cmd.nsid, so leave them alone). A pause waits for every counted
 * request of the subsystem on the reactor, so a namespace never goes
 * away under an in-flight I/O.
 *
 * Fused Compare and Write: request.c pairs them (same nsid, SLBA, NLB),
 * then calls nvmf_io_exec_fused(first, second); io.c calls
 * nvmf_sgroup_io_begin_fused() (both counted, or both queued and
 * nvmf_io_exec_fused() re-run, or both completed), then
 * nvmf_sgroup_io_end() once per request.
 *
 * req->core_next belongs to the core (AER list, fused pairing, pause
 * queue); io.c may use bdev_io, core_state and core_dsm_idx.
 */
bool nvmf_sgroup_io_begin(struct nvmf_req *req, struct nvmf_sgroup_ns **ns_out);
bool nvmf_sgroup_io_begin_fused(struct nvmf_req *first, struct nvmf_req *second,
				struct nvmf_sgroup_ns **ns_out);
void nvmf_sgroup_io_end(struct nvmf_req *req);

/* --- command handlers (admin.c, identify.c, log_page.c, features.c,
 *     io.c, discovery.c) --------------------------------------------------- */
/* Each completes the request exactly once via nvmf_req_complete(). */
void nvmf_fabrics_exec(struct nvmf_req *req);	/* fabrics.c */
void nvmf_admin_exec(struct nvmf_req *req);	/* admin.c */
void nvmf_io_exec(struct nvmf_req *req);	/* io.c */
/* io.c: a validated fused Compare (first) + Write (second) pair; completes
 * each request exactly once. */
void nvmf_io_exec_fused(struct nvmf_req *first, struct nvmf_req *second);

/* Copy @len bytes of @src (at @offset in a buffer of @total) to the
 * request's iovecs; used by Identify and Get Log Page. */
void nvmf_req_copy_to_iov(struct nvmf_req *req, const void *src, size_t len);
size_t nvmf_req_copy_from_iov(struct nvmf_req *req, void *dst, size_t len);

/* Discovery log page (0x70) for the host of ctrlr, from offset, len bytes.
 * tgt->subsystems, ss->listeners and ss->hosts belong to the app reactor:
 * build the page there (message to tgt->app_thread, then back to
 * ctrlr->thread to complete), never read them from another reactor. */
void nvmf_discovery_log_fill(struct nvmf_ctrlr *ctrlr, void *buf, uint64_t offset,
			     uint32_t len);

/* --- command handlers, between their own files (admin.c, identify.c,
 *     log_page.c, features.c, io.c, discovery.c) ------------------------- */

/* Set @status (NVMFT_STATUS layout) and complete @req. */
static inline void nvmf_cmd_done(struct nvmf_req *req, uint16_t status)
{
	nvmf_req_set_status(req, status);
	nvmf_req_complete(req);
}

/* admin.c: copy @len bytes to the host's buffer and zero the rest of
 * req->length (pool buffers must not leak other commands' data). */
void nvmf_admin_data_out(struct nvmf_req *req, const void *src, size_t len);
/* admin.c: read up to @len bytes at @offset of the request's data;
 * returns the bytes copied. */
size_t nvmf_req_data_in(struct nvmf_req *req, size_t offset, void *dst,
			size_t len);

/* identify.c */
void nvmf_identify_exec(struct nvmf_req *req);
/* MDTS field for a transfer limit of @max_io_size bytes (CAP.MPSMIN = 0). */
uint8_t nvmf_identify_mdts(uint32_t max_io_size);
/* Any namespace of @ss on a bdev with a volatile write cache. */
bool nvmf_ss_has_write_cache(struct nvmft_subsystem *ss);
/* Deallocated blocks of @ns read back as zeroes (DLFEAT, Write Zeroes DEAC). */
bool nvmf_ns_unmap_reads_zeroes(struct nvmf_ns *ns);

/* log_page.c */
void nvmf_get_log_page_exec(struct nvmf_req *req);

/* features.c */
void nvmf_get_features_exec(struct nvmf_req *req);
void nvmf_set_features_exec(struct nvmf_req *req);
/* Default feature values of a new controller (ctrlr.c calls it once
 * max_qpairs and kato_ms are known). */
void nvmf_features_init(struct nvmf_ctrlr *ctrlr);
/* Volatile write cache enabled (WCE): any reactor, relaxed load. */
bool nvmf_ctrlr_write_cache_enabled(const struct nvmf_ctrlr *ctrlr);

/* discovery.c, app reactor: nvmf_discovery_log_fill() that also returns
 * the page's total size in bytes; @local (may be NULL) is the address the
 * host connected to, reported instead of a wildcard listen address. */
uint64_t nvmf_discovery_log_build(struct nvmf_ctrlr *ctrlr,
				  const struct nvmft_listen_addr *local,
				  void *buf, uint64_t offset, uint32_t len);

/* --- object model, between the core's own files ------------------------ */

/* tgt.c */
/* Tests register a fake transport type on one tgt. 0, -EEXIST, -ENOSPC. */
int nvmf_tgt_register_transport_ops(struct nvmft_tgt *tgt,
				    const struct nvmf_transport_ops *ops);
const struct nvmf_transport_ops *nvmf_tgt_find_transport_ops(struct nvmft_tgt *tgt,
							     const char *trtype);
struct nvmf_transport *nvmf_tgt_get_transport(struct nvmft_tgt *tgt,
					      const char *trtype);
/* App reactor: a qpair's fini finished; the connection counts (the tgt's
 * and its listener's, by @listener_id, 0 for none) drop. */
void nvmf_tgt_qpair_gone(struct nvmft_tgt *tgt, uint64_t listener_id);
/* App reactor: a controller left ss->ctrlrs. */
void nvmf_tgt_ctrlr_gone(struct nvmft_tgt *tgt);
/* App reactor: a subsystem change finished (tgt->nr_ss_ops dropped). */
void nvmf_tgt_ss_op_done(struct nvmft_tgt *tgt);
/* Send @fn(@arg) to @t; logs and returns the error on failure. */
int nvmf_send(struct nvmft_tgt *tgt, struct nvmft_thread *t, nvmft_msg_fn fn,
	      void *arg);

/*
 * Broadcast from the app reactor: @fn(b, pg, arg) runs on every reactor
 * (pg = its poll group, NULL if it has none) and must call
 * nvmf_bcast_reply(b) exactly once, maybe later; then @done(arg) runs on
 * the app reactor. Messages go straight from the app reactor to each
 * reactor, so they run after anything the app reactor sent there before.
 * Return: 0 or -ENOMEM (nothing ran).
 */
struct nvmf_bcast;
typedef void (*nvmf_bcast_fn)(struct nvmf_bcast *b, struct nvmf_poll_group *pg,
			      void *arg);
int nvmf_tgt_bcast(struct nvmft_tgt *tgt, nvmf_bcast_fn fn, void *arg,
		   nvmft_msg_fn done);
void nvmf_bcast_reply(struct nvmf_bcast *b);

/* referral.c: free every referral (tgt destroy). */
void nvmf_tgt_referrals_free(struct nvmft_tgt *tgt);

/* listener.c */
bool nvmf_listen_addr_eq(const struct nvmft_listen_addr *a,
			 const struct nvmft_listen_addr *b);
/* A reference on the transport listener of @addr (listening if it is the
 * first); @explicit: for nvmft_tgt_listen(); @opts may be NULL (see
 * struct nvmft_listen_opts for a second add). 0 or -errno. */
int nvmf_tgt_listener_get(struct nvmft_tgt *tgt, const struct nvmft_listen_addr *addr,
			  bool explicit, const struct nvmft_listen_opts *opts,
			  struct nvmf_tgt_listener **out);
/* The listener of @addr (NULL: none) and of @id (NULL: gone). */
struct nvmf_tgt_listener *nvmf_tgt_listener_find(struct nvmft_tgt *tgt,
						 const struct nvmft_listen_addr *addr);
struct nvmf_tgt_listener *nvmf_tgt_listener_by_id(struct nvmft_tgt *tgt,
						  uint64_t id);
void nvmf_tgt_listener_put(struct nvmft_tgt *tgt, struct nvmf_tgt_listener *l,
			   bool explicit);
void nvmf_tgt_listeners_stop_all(struct nvmft_tgt *tgt);

/* poll_group.c */
int nvmf_pg_create(void *io_device, void *ctx);
void nvmf_pg_destroy(void *io_device, void *ctx);
void nvmf_pg_add_qpair(struct nvmf_poll_group *pg, struct nvmf_qpair *qp);
void nvmf_pg_remove_qpair(struct nvmf_poll_group *pg, struct nvmf_qpair *qp);
void nvmf_pg_disconnect_all(struct nvmf_poll_group *pg);
/* The qpair's transport poll group in @pg, or NULL. */
struct nvmf_transport_poll_group *nvmf_pg_find_tpg(struct nvmf_poll_group *pg,
						   struct nvmf_transport *t);
/* Message to the reactor chosen for a new qpair (arg: the qpair). */
void nvmf_pg_new_qpair_msg(void *arg);
/* Qpair's reactor: Connect finished while a disconnect was waiting. */
void nvmf_qpair_disconnect_continue(struct nvmf_qpair *qp);
/* Pause this reactor's sgroup of @ss; @cb runs (maybe at once) when its
 * in-flight I/O drained. */
void nvmf_sgroup_pause(struct nvmf_sgroup *sg, void (*cb)(void *arg), void *arg);
void nvmf_sgroup_resume(struct nvmf_sgroup *sg);

/* subsystem.c */
struct nvmft_subsystem *nvmf_tgt_find_subsystem(struct nvmft_tgt *tgt,
						const char *nqn);
/* tgt destroy, once no controller and no subsystem change is left: stop
 * every sgroup, close the descriptors, free the subsystems; then @done. */
void nvmf_ss_free_all(struct nvmft_tgt *tgt, nvmft_msg_fn done, void *arg);
int nvmf_ss_create_discovery(struct nvmft_tgt *tgt);
void nvmf_ss_ctrlr_gone(struct nvmft_subsystem *ss);
struct nvmf_ss_op *nvmf_ss_op_alloc(struct nvmft_subsystem *ss,
				    enum nvmf_ss_op_type type);
/* Queue @op; changes of a subsystem run one at a time, in order. */
void nvmf_ss_op_submit(struct nvmf_ss_op *op);
/* The running @op is over: its done runs, then the next change. */
void nvmf_ss_op_finish(struct nvmf_ss_op *op, int rc);
/* Notice AEN to every controller of @ss (app reactor). */
void nvmf_ss_notify_ctrlrs(struct nvmft_subsystem *ss, uint32_t result,
			   uint32_t changed_nsid);

/* namespace.c */
/* App reactor: run a queued NS_ADD / NS_REMOVE (finishes @op). */
void nvmf_ns_op_run(struct nvmf_ss_op *op);
/* App reactor: close the descriptor and free. */
void nvmf_ns_free(struct nvmf_ns *ns);
/* On the sgroup's reactor: serve the namespaces of @snap (nr entries,
 * indexed by nsid - 1), or stop serving and put every channel. */
void nvmf_sgroup_setup(struct nvmf_sgroup *sg, struct nvmf_ns **snap, uint32_t nr);
void nvmf_sgroup_release(struct nvmf_sgroup *sg);

/* ctrlr.c */
/* App reactor: allocate a controller of @ss for @hostnqn with a free
 * cntlid; linked in ss->ctrlrs. NULL: none free / no memory. */
struct nvmf_ctrlr *nvmf_ctrlr_create(struct nvmft_subsystem *ss,
				     const struct nvmf_connect_data *data,
				     struct nvmf_qpair *admin_qp, uint32_t kato_ms);
/* ctrlr->thread: the admin qpair's Connect completed; start keep-alive. */
void nvmf_ctrlr_start(struct nvmf_ctrlr *ctrlr);
/* ctrlr->thread: tear the controller down (idempotent). */
void nvmf_ctrlr_destroy(struct nvmf_ctrlr *ctrlr, const char *why);
/* ctrlr->thread: claim @qid for @qp; 0 or an NVMe status (then *@result
 * is the Connect response dword 0: invalid parameter offset/attribute). */
uint16_t nvmf_ctrlr_claim_qid(struct nvmf_ctrlr *ctrlr, struct nvmf_qpair *qp,
			      uint16_t qid, uint32_t *result);
/* Qpair's reactor: a command of @req's qpair failed with @status; adds an
 * error log entry on ctrlr->thread (by message from other reactors). */
void nvmf_ctrlr_note_error(struct nvmf_req *req, uint16_t status);
/* Connect response dword 0 for Connect Invalid Parameters / Host. */
#define NVMF_IPO_SQE(off)	((uint32_t)(off))
#define NVMF_IPO_DATA(off)	((uint32_t)(1u << 16) | (uint32_t)(off))
/*
 * A qpair leaves its controller in two steps, both from the qpair's
 * reactor: detach (the controller forgets it and will send it nothing
 * more; then @done(qp) runs on the qpair's reactor, which starts the
 * transport's qpair_fini), and release (after qpair_fini reported every
 * request back: the controller's reference goes, with the final SMART
 * counters). The controller thus outlives every request of its qpairs.
 */
void nvmf_ctrlr_detach_qpair(struct nvmf_qpair *qp,
			     void (*done)(struct nvmf_qpair *qp));
void nvmf_ctrlr_release_qpair(struct nvmf_qpair *qp);
/* App reactor → ctrlr->thread: an event; ctrlr must be in ss->ctrlrs. */
void nvmf_ctrlr_post_event(struct nvmf_ctrlr *ctrlr, uint32_t result,
			   uint32_t changed_nsid);
/* Registers (fabrics.c Property Get/Set), ctrlr->thread. */
uint16_t nvmf_ctrlr_set_cc(struct nvmf_ctrlr *ctrlr, uint32_t cc);

/* request.c */
/* The qpair's reactor: qpair disconnecting: finish what the core holds. */
void nvmf_req_qpair_abort_held(struct nvmf_qpair *qp);

#endif
