/* SPDX-License-Identifier: MIT */
/*
 * Shared by the NVMe-oF core integration tests (test_nvmf_*.c): a real
 * runtime (2 reactors, engine chosen per group) with an nvmft_tgt whose TCP
 * transport listens on 127.0.0.1 (ephemeral port), and helpers that build
 * bdevs, subsystems and namespaces on the app reactor, read the core's
 * counters (connections, controllers, qpairs per reactor) for leak checks,
 * and drive the host library (verified I/O, raw Fabrics Connect).
 *
 * Reuses test_tcp_harness.h for the runtime/target plumbing (struct
 * tt_target), the TCP poll group counters and raw-socket PDU helpers.
 */
#ifndef NVMFT_TESTS_NVMF_HARNESS_H
#define NVMFT_TESTS_NVMF_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_tcp_harness.h"

#define NH_WAIT_MS	10000

/* Status values as the host library reports them (SC | SCT << 8, no DNR). */
#define NH_ST(s)		((s) & 0x7ff)
#define NH_INVALID_OPCODE	NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE)
#define NH_INVALID_FIELD	NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD)
#define NH_INVALID_NS		NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_NS)
#define NH_LBA_RANGE		NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_LBA_RANGE)
#define NH_SGL_INVALID_DATA	NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA)
#define NH_CONNECT_INVALID_PARAM \
	NVMFT_STATUS(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM)
#define NH_CONNECT_INVALID_HOST \
	NVMFT_STATUS(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_HOST)

struct nh {
	struct tt_target t;	/* rt, tgt, port, port_str, step done/rc */
	struct nvmft_tgt_opts tgt_opts;	/* see nh_start_opts() */
	struct nvmft_listen_addr addr;	/* 127.0.0.1:"0": the shared listener */
	/* arguments of the step running on the app reactor */
	const char *a_name;
	uint64_t a_blocks;
	uint32_t a_bs;
	struct nvmft_subsystem *a_ss;
	uint32_t a_nsid;
	const struct nvmft_subsystem_opts *a_sopts;
	struct nvmft_subsystem *r_ss;
	uint32_t r_nsid;
};

static inline const char *nh_engine_name(enum nvmft_engine e)
{
	return e == NVMFT_ENGINE_URING ? "uring" : "epoll";
}

/* ---- steps on the app reactor ------------------------------------------- */

static inline void nh_step_finish(struct nh *h, int rc)
{
	h->t.rc = rc;
	atomic_store(&h->t.done, 1);
}

static void nh_done_cb(void *arg, int rc)
{
	nh_step_finish(arg, rc);
}

static void nh_step_create(void *arg)
{
	struct nh *h = arg;
	int rc;

	rc = nvmft_tgt_create(h->t.rt, &h->tgt_opts, &h->t.tgt);
	if (!rc)
		rc = nvmft_tgt_add_transport(h->t.tgt, "TCP", &h->t.topts,
					     nh_done_cb, h);
	if (rc)
		nh_step_finish(h, rc);
}

static void nh_step_listen(void *arg)
{
	struct nh *h = arg;
	int rc;

	rc = nvmft_listen_addr_init(&h->addr, "127.0.0.1", "0");
	if (!rc)
		rc = nvmft_tgt_listen(h->t.tgt, &h->addr);
	if (!rc) {
		rc = nvmft_tgt_listen_port(h->t.tgt, &h->addr);
		if (rc > 0) {
			h->t.port = (uint16_t)rc;
			rc = 0;
		}
	}
	nh_step_finish(h, rc);
}

static void nh_step_malloc(void *arg)
{
	struct nh *h = arg;

	nh_step_finish(h, nvmft_bdev_malloc_create(nvmft_tgt_get_bdevs(h->t.tgt),
						   h->a_name, h->a_blocks,
						   h->a_bs, NULL, NULL));
}

static void nh_step_ss_create(void *arg)
{
	struct nh *h = arg;
	int rc;

	h->r_ss = NULL;
	rc = nvmft_subsystem_create(h->t.tgt, h->a_sopts, &h->r_ss);
	if (!rc)
		rc = nvmft_subsystem_add_listener(h->r_ss, &h->addr);
	nh_step_finish(h, rc);
}

static void nh_step_ss_start(void *arg)
{
	struct nh *h = arg;
	int rc = nvmft_subsystem_start(h->a_ss, nh_done_cb, h);

	if (rc)
		nh_step_finish(h, rc);
}

static void nh_step_ss_destroy(void *arg)
{
	struct nh *h = arg;
	int rc = nvmft_subsystem_destroy(h->a_ss, nh_done_cb, h);

	if (rc)
		nh_step_finish(h, rc);
}

static void nh_step_add_ns(void *arg)
{
	struct nh *h = arg;
	struct nvmft_ns_opts no = { .bdev_name = h->a_name, .nsid = h->a_nsid };
	int rc;

	h->r_nsid = 0;
	rc = nvmft_subsystem_add_ns(h->a_ss, &no, &h->r_nsid, nh_done_cb, h);
	if (rc)
		nh_step_finish(h, rc);
}

static void nh_step_remove_ns(void *arg)
{
	struct nh *h = arg;
	int rc = nvmft_subsystem_remove_ns(h->a_ss, h->a_nsid, nh_done_cb, h);

	if (rc)
		nh_step_finish(h, rc);
}

static void nh_step_add_host(void *arg)
{
	struct nh *h = arg;

	nh_step_finish(h, nvmft_subsystem_add_host(h->a_ss, h->a_name));
}

static void nh_step_remove_host(void *arg)
{
	struct nh *h = arg;

	nh_step_finish(h, nvmft_subsystem_remove_host(h->a_ss, h->a_name));
}

static void nh_step_destroy(void *arg)
{
	struct nh *h = arg;

	nvmft_tgt_destroy(h->t.tgt, nh_done_cb, h);
}

static inline int nh_run(struct nh *h, nvmft_msg_fn fn)
{
	return tt_run_step(&h->t, fn);
}

/* Start a step that finishes later; poll nh_step_done(). 0 or -errno. */
static inline int nh_run_async(struct nh *h, nvmft_msg_fn fn)
{
	atomic_store(&h->t.done, 0);
	h->t.rc = 0;
	return nvmft_runtime_exec(h->t.rt, 0, fn, h);
}

static inline bool nh_step_done(struct nh *h)
{
	return atomic_load(&h->t.done) != 0;
}

/* ---- target set up / tear down ------------------------------------------ */

/* Runtime of 2 reactors on @engine, a tgt (@tgt_opts or the defaults) with
 * the TCP transport (@topts or the defaults) listening on
 * 127.0.0.1:ephemeral. 0 or negative errno. */
static inline int nh_start_opts(struct nh *h, enum nvmft_engine engine,
				const struct nvmft_transport_opts *topts,
				const struct nvmft_tgt_opts *tgt_opts)
{
	struct nvmft_runtime_opts ro;
	int rc;

	memset(h, 0, sizeof(*h));
	if (tgt_opts)
		h->tgt_opts = *tgt_opts;
	else
		nvmft_tgt_opts_init(&h->tgt_opts);
	h->t.engine = engine;
	if (topts)
		h->t.topts = *topts;
	else
		nvmft_transport_opts_init("TCP", &h->t.topts);
	nvmft_runtime_opts_init(&ro);
	ro.nr_reactors = 2;
	ro.engine = engine;
	ro.name = "nh";
	rc = nvmft_runtime_create(&ro, &h->t.rt);
	if (rc)
		return rc;
	nvmft_runtime_set_log(h->t.rt, getenv("TT_VERBOSE") ? NVMFT_LOG_DEBUG :
			      NVMFT_LOG_WARN, tt_quiet_log, NULL);
	rc = nvmft_runtime_start(h->t.rt);
	if (!rc)
		rc = nh_run(h, nh_step_create);
	if (!rc)
		rc = nh_run(h, nh_step_listen);
	if (!rc)
		snprintf(h->t.port_str, sizeof(h->t.port_str), "%u", h->t.port);
	return rc;
}

static inline int nh_start(struct nh *h, enum nvmft_engine engine,
			   const struct nvmft_transport_opts *topts)
{
	return nh_start_opts(h, engine, topts, NULL);
}

/* Destroy the tgt (if still there), stop and free the runtime. */
static inline void nh_stop(struct nh *h)
{
	if (!h->t.rt)
		return;
	if (h->t.tgt)
		nh_run(h, nh_step_destroy);
	h->t.tgt = NULL;
	nvmft_runtime_stop(h->t.rt);
	nvmft_runtime_destroy(h->t.rt);
	h->t.rt = NULL;
}

static inline int nh_malloc(struct nh *h, const char *name, uint64_t blocks,
			    uint32_t bs)
{
	h->a_name = name;
	h->a_blocks = blocks;
	h->a_bs = bs;
	return nh_run(h, nh_step_malloc);
}

/* Create @opts's subsystem, list it on the shared listener, start it. */
static inline int nh_subsystem(struct nh *h, const struct nvmft_subsystem_opts *opts,
			       struct nvmft_subsystem **out)
{
	int rc;

	h->a_sopts = opts;
	rc = nh_run(h, nh_step_ss_create);
	if (rc)
		return rc;
	h->a_ss = h->r_ss;
	rc = nh_run(h, nh_step_ss_start);
	if (!rc && out)
		*out = h->r_ss;
	return rc;
}

/* A started allow-any-host subsystem @nqn. */
static inline int nh_simple_subsystem(struct nh *h, const char *nqn,
				      struct nvmft_subsystem **out)
{
	struct nvmft_subsystem_opts so;

	nvmft_subsystem_opts_init(&so);
	so.nqn = nqn;
	so.allow_any_host = true;
	return nh_subsystem(h, &so, out);
}

static inline int nh_add_ns(struct nh *h, struct nvmft_subsystem *ss,
			    const char *bdev, uint32_t nsid, uint32_t *out)
{
	int rc;

	h->a_ss = ss;
	h->a_name = bdev;
	h->a_nsid = nsid;
	rc = nh_run(h, nh_step_add_ns);
	if (!rc && out)
		*out = h->r_nsid;
	return rc;
}

static inline int nh_remove_ns(struct nh *h, struct nvmft_subsystem *ss, uint32_t nsid)
{
	h->a_ss = ss;
	h->a_nsid = nsid;
	return nh_run(h, nh_step_remove_ns);
}

static inline int nh_ss_destroy(struct nh *h, struct nvmft_subsystem *ss)
{
	h->a_ss = ss;
	return nh_run(h, nh_step_ss_destroy);
}

static inline int nh_add_host(struct nh *h, struct nvmft_subsystem *ss, const char *nqn)
{
	h->a_ss = ss;
	h->a_name = nqn;
	return nh_run(h, nh_step_add_host);
}

static inline int nh_remove_host(struct nh *h, struct nvmft_subsystem *ss,
				 const char *nqn)
{
	h->a_ss = ss;
	h->a_name = nqn;
	return nh_run(h, nh_step_remove_host);
}

/* ---- core counters -------------------------------------------------------- */

struct nh_counts {
	uint32_t connections;	/* tgt: accepted connections not yet gone */
	uint32_t live_ctrlrs;	/* tgt: controllers created, not yet unlinked */
	uint32_t ss_ctrlrs;	/* sum of the subsystems' controller lists */
	uint32_t pg_qpairs;	/* sum of the poll groups' qpairs */
};

struct nh_count_req {
	struct nh *h;
	unsigned int idx;
	struct nh_counts c;
};

static void nh_count_app(void *arg)
{
	struct nh_count_req *r = arg;
	struct nvmft_tgt *tgt = r->h->t.tgt;
	struct nvmft_subsystem *ss;

	r->c.connections = tgt->nr_connections;
	r->c.live_ctrlrs = tgt->nr_live_ctrlrs;
	TAILQ_FOREACH(ss, &tgt->subsystems, link)
		r->c.ss_ctrlrs += ss->nr_ctrlrs;
}

static void nh_count_pg(void *arg)
{
	struct nh_count_req *r = arg;
	struct nvmf_poll_group *pg = r->h->t.tgt->pgs[r->idx];

	if (pg)
		r->c.pg_qpairs += pg->nr_qpairs;
}

static inline int nh_counts(struct nh *h, struct nh_counts *out)
{
	struct nh_count_req r = { .h = h };
	int rc = nvmft_runtime_exec(h->t.rt, 0, nh_count_app, &r);

	for (unsigned int i = 0; !rc && i < nvmft_runtime_nr_threads(h->t.rt); i++) {
		r.idx = i;
		rc = nvmft_runtime_exec(h->t.rt, i, nh_count_pg, &r);
	}
	*out = r.c;
	return rc;
}

/* Wait (bounded) until the target holds @conns connections and @ctrlrs
 * controllers (requests may be held: AERs). 0 or -ETIMEDOUT. */
static inline int nh_wait_counts(struct nh *h, uint32_t conns, uint32_t ctrlrs,
				 int timeout_ms)
{
	uint64_t end = tt_now_ms() + (uint64_t)timeout_ms;
	struct nh_counts c;

	for (;;) {
		if (nh_counts(h, &c) == 0 && c.connections == conns &&
		    c.pg_qpairs == conns && c.live_ctrlrs == ctrlrs &&
		    c.ss_ctrlrs == ctrlrs)
			break;
		if (tt_now_ms() > end) {
			fprintf(stderr, "target state: connections %u pg_qpairs %u "
				"ctrlrs %u/%u (want %u conns, %u ctrlrs)\n",
				c.connections, c.pg_qpairs, c.live_ctrlrs,
				c.ss_ctrlrs, conns, ctrlrs);
			return -ETIMEDOUT;
		}
		tt_sleep_ms(5);
	}
	return 0;
}

/* nh_wait_counts(), and then no request or buffer held. */
static inline int nh_wait_state(struct nh *h, uint32_t conns, uint32_t ctrlrs,
				int timeout_ms)
{
	int rc = nh_wait_counts(h, conns, ctrlrs, timeout_ms);

	return rc ? rc : tt_wait_idle(&h->t, conns);
}

/* ---- host side -------------------------------------------------------------- */

static inline void nh_host_opts(const struct nh *h, struct nvmft_host_opts *o,
				const char *subnqn)
{
	tt_host_opts(&h->t, o);
	o->subnqn = subnqn;
}

static inline struct nvmft_host_ctrlr *nh_connect(const struct nh *h, const char *subnqn,
						  uint16_t nr_io)
{
	struct nvmft_host_opts o;
	struct nvmft_host_ctrlr *c = NULL;

	nh_host_opts(h, &o, subnqn);
	o.num_io_queues = nr_io;
	assert_int_equal(nvmft_host_ctrlr_connect(&o, &c), 0);
	assert_non_null(c);
	return c;
}

/* A pattern unique to (@seed, byte offset): catches misplaced blocks. */
static inline void nh_fill(void *buf, size_t len, uint32_t seed)
{
	tt_fill(buf, len, seed);
}

/* Completion slot for asynchronous commands. */
struct nh_slot {
	bool done;
	uint16_t status;
	int err;
	uint64_t result;
};

static void nh_slot_cb(void *arg, const struct nvmft_host_cpl *cpl)
{
	struct nh_slot *s = arg;

	s->status = cpl->status;
	s->err = cpl->err;
	s->result = cpl->result;
	s->done = true;
}

static inline void nh_sqe_rw(struct nvmft_sqe *sqe, bool write, uint32_t nsid,
			     uint64_t slba, uint32_t nlb)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = write ? nvme_cmd_write : nvme_cmd_read;
	sqe->nsid = htole32(nsid);
	sqe->cdw10 = htole32((uint32_t)slba);
	sqe->cdw11 = htole32((uint32_t)(slba >> 32));
	sqe->cdw12 = htole32(nlb - 1);
}

static inline int nh_submit_rw(struct nvmft_host_qpair *qp, bool write, uint32_t nsid,
			       uint64_t slba, uint32_t nlb, void *buf, uint32_t len,
			       struct nh_slot *slot)
{
	struct nvmft_sqe sqe;

	nh_sqe_rw(&sqe, write, nsid, slba, nlb);
	memset(slot, 0, sizeof(*slot));
	return nvmft_host_submit(qp, &sqe, buf, len,
				 write ? NVMFT_HOST_DIR_WRITE : NVMFT_HOST_DIR_READ,
				 nh_slot_cb, slot);
}

/* Synchronous command with any opcode/nsid and optional data. Returns the
 * status (>0), 0, or negative errno. */
static inline int nh_cmd(struct nvmft_host_qpair *qp, uint8_t opc, uint32_t nsid,
			 uint32_t cdw10, uint32_t cdw11, uint32_t cdw12, void *buf,
			 uint32_t len, enum nvmft_host_dir dir)
{
	struct nvmft_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = opc;
	sqe.nsid = htole32(nsid);
	sqe.cdw10 = htole32(cdw10);
	sqe.cdw11 = htole32(cdw11);
	sqe.cdw12 = htole32(cdw12);
	return nvmft_host_cmd_sync(qp, &sqe, buf, len, dir, NULL);
}

/* Write then read back @len bytes at @slba of @nsid (block size @bs). */
static inline void nh_write_read_verify(struct nvmft_host_qpair *qp, uint32_t nsid,
					uint32_t bs, uint64_t slba, uint32_t len,
					uint32_t seed)
{
	uint8_t *w = malloc(len), *r = malloc(len);

	assert_non_null(w);
	assert_non_null(r);
	nh_fill(w, len, seed);
	memset(r, 0xa5, len);
	assert_int_equal(nvmft_host_write(qp, nsid, slba, len / bs, w, len, false), 0);
	assert_int_equal(nvmft_host_read(qp, nsid, slba, len / bs, r, len), 0);
	assert_memory_equal(w, r, len);
	free(w);
	free(r);
}

/* ---- a verified workload kept running -------------------------------------- */

/*
 * Each slot owns a region of the namespace and loops write (new pattern)
 * → read → compare, so any number of slots run at once without ordering
 * questions. A read is compared only when the write before it succeeded.
 */
struct nh_wl;

struct nh_wl_slot {
	struct nh_wl *wl;
	struct nvmft_host_qpair *qp;
	uint64_t slba;
	uint32_t gen;
	bool busy, reading, failed, dead, started;
	uint8_t *w, *r;
};

struct nh_wl {
	uint32_t nsid;
	uint32_t bs;
	uint32_t len;
	unsigned int nslots;
	struct nh_wl_slot *slots;
	bool stop;		/* submit nothing new */
	uint64_t ok, errors, verified, mismatches, submit_errors;
	uint16_t first_status, last_status;
	int last_err;
};

static void nh_wl_cb(void *arg, const struct nvmft_host_cpl *cpl)
{
	struct nh_wl_slot *s = arg;
	struct nh_wl *wl = s->wl;

	s->busy = false;
	s->failed = cpl->status != 0;
	if (s->failed) {
		if (!wl->errors++)
			wl->first_status = cpl->status;
		wl->last_status = cpl->status;
		wl->last_err = cpl->err;
		return;
	}
	wl->ok++;
	if (s->reading) {
		if (memcmp(s->w, s->r, wl->len))
			wl->mismatches++;
		else
			wl->verified++;
	}
}

static inline void nh_wl_submit(struct nh_wl_slot *s)
{
	struct nh_wl *wl = s->wl;
	struct nvmft_sqe sqe;

	if (wl->stop || s->dead)
		return;
	/* after a read or a failure: a new pattern; after a good write: read */
	if (s->reading || s->failed || !s->started) {
		s->reading = false;
		s->started = true;
		s->gen += wl->nslots;
		tt_fill(s->w, wl->len, s->gen);
	} else {
		s->reading = true;
		memset(s->r, 0x5a, wl->len);
	}
	nh_sqe_rw(&sqe, !s->reading, wl->nsid, s->slba, wl->len / wl->bs);
	s->busy = true;
	if (nvmft_host_submit(s->qp, &sqe, s->reading ? s->r : s->w, wl->len,
			      s->reading ? NVMFT_HOST_DIR_READ : NVMFT_HOST_DIR_WRITE,
			      nh_wl_cb, s)) {
		s->busy = false;
		s->dead = true;	/* the qpair is gone: stop using this slot */
		wl->submit_errors++;
	}
}

/* @per_qp slots on each of @nqp qpairs, regions from @slba0 on. */
static inline void nh_wl_start(struct nh_wl *wl, struct nvmft_host_qpair **qps,
			       unsigned int nqp, unsigned int per_qp, uint32_t nsid,
			       uint32_t bs, uint32_t len, uint64_t slba0)
{
	memset(wl, 0, sizeof(*wl));
	wl->nsid = nsid;
	wl->bs = bs;
	wl->len = len;
	wl->nslots = nqp * per_qp;
	wl->slots = calloc(wl->nslots, sizeof(*wl->slots));
	assert_non_null(wl->slots);
	for (unsigned int i = 0; i < wl->nslots; i++) {
		struct nh_wl_slot *s = &wl->slots[i];

		s->wl = wl;
		s->qp = qps[i % nqp];
		s->slba = slba0 + (uint64_t)i * (len / bs);
		s->gen = i;	/* patterns: i + k * nslots, unique per slot */
		s->w = malloc(len);
		s->r = malloc(len);
		assert_non_null(s->w);
		assert_non_null(s->r);
	}
	for (unsigned int i = 0; i < wl->nslots; i++)
		nh_wl_submit(&wl->slots[i]);
}

/* One turn: poll every qpair once, resubmit what completed. Returns the
 * number of slots still waiting for a completion. */
static inline unsigned int nh_wl_poll(struct nh_wl *wl, struct nvmft_host_qpair **qps,
				      unsigned int nqp)
{
	unsigned int busy = 0;

	for (unsigned int q = 0; q < nqp; q++)
		(void)nvmft_host_qpair_poll(qps[q], 0);
	for (unsigned int i = 0; i < wl->nslots; i++) {
		struct nh_wl_slot *s = &wl->slots[i];

		if (!s->busy)
			nh_wl_submit(s);
		busy += s->busy;
	}
	return busy;
}

static inline void nh_wl_free(struct nh_wl *wl)
{
	for (unsigned int i = 0; i < wl->nslots; i++) {
		free(wl->slots[i].w);
		free(wl->slots[i].r);
	}
	free(wl->slots);
	wl->slots = NULL;
}

/* ---- raw Fabrics Connect ----------------------------------------------------- */

/*
 * Open a connection, ICReq, and send a Fabrics Connect for @qid (cntlid
 * 0xffff for the admin queue) to @subnqn as @hostnqn; the CapsuleResp's
 * status (NVMe status layout) and dword 0 are returned. @fd_out gets the
 * connection (caller closes), or NULL to close it here.
 */
static inline int nh_raw_connect_sq(const struct nh *h, const char *subnqn,
				    const char *hostnqn, uint16_t qid, uint16_t cntlid,
				    uint16_t sqsize, uint16_t *status, uint32_t *result,
				    int *fd_out)
{
	struct nvmf_connect_data data;
	struct nvmft_sqe sqe;
	union pdu_hdr hdr, rsp;
	size_t hl;
	int fd, rc;

	fd = raw_connect(&h->t);
	if (fd < 0)
		return fd;
	rc = raw_icreq(fd, 0, 0, NULL);
	if (rc)
		goto out;
	memset(&data, 0, sizeof(data));
	data.cntlid = htole16(cntlid);
	snprintf(data.subsysnqn, sizeof(data.subsysnqn), "%s", subnqn);
	snprintf(data.hostnqn, sizeof(data.hostnqn), "%s", hostnqn);
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_fabrics;
	sqe.flags = 0x40;
	sqe.cid = 7;
	sqe.nsid = htole32(nvme_fabrics_type_connect);
	sqe.cdw10 = htole32((uint32_t)qid << 16);
	sqe.cdw11 = htole32(sqsize);
	sqe.sgl.type = NVMFT_SGL_INCAPSULE;
	sqe.sgl.length = htole32(sizeof(data));
	hl = pdu_enc_capsule_cmd(&hdr, NULL, &sqe, sizeof(data));
	rc = raw_send(fd, hdr.raw, hl);
	if (!rc)
		rc = raw_send(fd, &data, sizeof(data));
	if (!rc)
		rc = raw_recv_pdu(fd, &rsp, NULL, 0, NULL, 5000);
	if (rc)
		goto out;
	if (rsp.ch.type != PDU_CAPSULE_RESP || rsp.rsp.cqe.cid != 7) {
		rc = -EPROTO;
		goto out;
	}
	*status = (uint16_t)(le16toh(rsp.rsp.cqe.status) >> 1);
	if (result)
		*result = (uint32_t)le64toh(rsp.rsp.cqe.result);
out:
	if (rc || !fd_out)
		close(fd);
	else
		*fd_out = fd;
	return rc;
}

/* nh_raw_connect_sq() with SQSIZE 31 (32 entries). */
static inline int nh_raw_connect(const struct nh *h, const char *subnqn,
				 const char *hostnqn, uint16_t qid, uint16_t cntlid,
				 uint16_t *status, uint32_t *result, int *fd_out)
{
	return nh_raw_connect_sq(h, subnqn, hostnqn, qid, cntlid, 31, status, result,
				 fd_out);
}

/* ---- groups on both engines ---------------------------------------------------- */

/* Run @tests on both engines (uring only when usable); returns failures. */
#define NH_RUN_BOTH(name, tests, setup_u, setup_e, teardown)			\
	({									\
		int f_ = 0;							\
		if (tt_engine_usable(NVMFT_ENGINE_URING))			\
			f_ += cmocka_run_group_tests_name(name "_uring", tests,	\
							  setup_u, teardown);	\
		else								\
			printf("note: io_uring unavailable, %s_uring not run\n", name); \
		f_ += cmocka_run_group_tests_name(name "_epoll", tests,		\
						  setup_e, teardown);		\
		f_;								\
	})

#endif
