// SPDX-License-Identifier: MIT
/*
 * The controller: keep-alive expiry, asynchronous events (namespace and
 * discovery changes, masking, limits, teardown), live namespace changes
 * under I/O (pause, drain, resume), SMART counters and the error log.
 */
#include <endian.h>

#include "test_nvmf_core.h"

#define AER_NS_CHANGED	0x00040002u	/* notice, info 0, log page 04h */
#define AER_DISC_CHANGE	0x0070f002u	/* notice, info F0h, log page 70h */

struct env {
	struct nvmft_subsystem *ss;
	struct fake_qpair *aq, *ioq;
	uint16_t cntlid;
	struct nvmf_ctrlr *ctrlr;
	unsigned int ctrlr_idx;
};

/* Started subsystem with nsid 1 on bdev "n1"; admin queue on reactor 0,
 * I/O queue 1 on reactor 1. */
static void env_up(struct tc *tc, struct env *e, uint32_t kato_ms)
{
	uint32_t nsid = 0;

	tc_bdev(tc, "n1", 1024);
	tc_bdev(tc, "n2", 1024);
	e->ss = tc_ss(tc, tc->tgt, TC_NQN, true, true);
	assert_int_equal(tc_ns(tc, e->ss, "n1", &nsid, false), 0);
	assert_int_equal(nsid, 1);
	e->aq = fake_transport_admin_connect(tc->rt, tc->tgt, 0, TC_NQN, TC_HOSTNQN,
					     kato_ms, &e->cntlid);
	assert_non_null(e->aq);
	e->ioq = fake_transport_io_connect(tc->rt, tc->tgt, 1, TC_NQN, TC_HOSTNQN,
					   e->cntlid, 1);
	assert_non_null(e->ioq);
	e->ctrlr = tc_ctrlr(tc, e->ss, e->cntlid, &e->ctrlr_idx);
	assert_int_equal(e->ctrlr_idx, 0);
}

static int submit_aer(struct fake_qpair *aq)
{
	struct nvmft_sqe sqe;
	int cid;

	tc_admin_cmd(&sqe, nvme_admin_async_event);
	cid = fake_transport_submit(aq, &sqe, NULL, 0);
	assert_true(cid >= 0);
	return cid;
}

/* --- keep-alive ---------------------------------------------------------- */

static void test_keep_alive_expiry_tears_down(void **state)
{
	struct tc *tc = *state;
	struct env e;
	uint64_t t0;

	env_up(tc, &e, 300);
	t0 = nvmft_now_us();
	/* nothing sent: the controller and both queues go */
	assert_true(fake_transport_wait_closed(e.aq, TC_WAIT_US));
	assert_true(fake_transport_wait_closed(e.ioq, TC_WAIT_US));
	assert_true(nvmft_now_us() - t0 >= 300000);
}

static void test_keep_alive_commands_keep_it(void **state)
{
	struct tc *tc = *state;
	struct nvmft_sqe ka;
	struct env e;
	int i;

	/* KATO 2 s (+ 1 s grace): 100 ms apart leaves a loaded machine (or a
	 * sanitizer build) seconds of room before a missed keep-alive */
	env_up(tc, &e, 2000);
	tc_admin_cmd(&ka, nvme_admin_keep_alive);
	for (i = 0; i < 40; i++) {		/* 4 s, past the expiry */
		assert_int_equal(fake_transport_exec(e.aq, &ka, NULL, 0, NULL), 0);
		usleep(100000);
	}
	assert_false(fake_transport_closed(e.aq));
	assert_false(fake_transport_closed(e.ioq));
	assert_true(fake_transport_wait_closed(e.aq, TC_WAIT_US));
}

/* --- async events -------------------------------------------------------- */

struct ctrlr_peek {
	struct nvmf_ctrlr *ctrlr;
	uint8_t lid;
	uint32_t changed[4];
	uint32_t nr_changed;
	uint32_t aec_or;
	uint64_t err_count;
	struct nvme_error_log_page last_err;
	struct nvmf_smart smart;
};

static void peek_fn(void *arg)
{
	struct ctrlr_peek *p = arg;
	uint32_t i;

	p->nr_changed = p->ctrlr->nr_changed_ns;
	for (i = 0; i < p->nr_changed && i < 4; i++)
		p->changed[i] = p->ctrlr->changed_ns[i];
	p->err_count = p->ctrlr->err_count;
	if (p->err_count)
		p->last_err = p->ctrlr->err_log[(p->err_count - 1) % NVMF_ERROR_LOG_ENTRIES];
	nvmf_ctrlr_get_smart(p->ctrlr, &p->smart);
}

static void log_read_fn(void *arg)
{
	struct ctrlr_peek *p = arg;

	nvmf_ctrlr_log_page_read(p->ctrlr, p->lid);
}

static void aec_fn(void *arg)
{
	struct ctrlr_peek *p = arg;

	p->ctrlr->feat.async_event_config |= p->aec_or;
}

static void test_aer_namespace_changes_masked_until_log_read(void **state)
{
	struct tc *tc = *state;
	struct ctrlr_peek p;
	struct nvmft_cqe cqe;
	uint32_t nsid = 0;
	struct env e;
	int cid;

	env_up(tc, &e, 0);
	p.ctrlr = e.ctrlr;
	cid = submit_aer(e.aq);
	assert_int_equal(tc_ns(tc, e.ss, "n2", &nsid, false), 0);
	assert_int_equal(nsid, 2);
	assert_int_equal(fake_transport_wait_cqe(e.aq, cid, &cqe, TC_WAIT_US), 0);
	assert_int_equal(cqe.status >> 1, 0);
	assert_int_equal((uint32_t)cqe.result, AER_NS_CHANGED);
	tc_on(tc, e.ctrlr_idx, peek_fn, &p);
	assert_int_equal(p.nr_changed, 1);
	assert_int_equal(p.changed[0], 2);

	/* masked until the host reads log page 04h */
	cid = submit_aer(e.aq);
	assert_int_equal(tc_ns(tc, e.ss, NULL, &nsid, true), 0);
	usleep(200000);
	assert_false(fake_transport_cqe_ready(e.aq, cid));
	tc_on(tc, e.ctrlr_idx, peek_fn, &p);
	assert_int_equal(p.nr_changed, 1);		/* nsid 2 once */

	p.lid = NVME_LOG_LID_CHANGED_NS;
	tc_on(tc, e.ctrlr_idx, log_read_fn, &p);
	tc_on(tc, e.ctrlr_idx, peek_fn, &p);
	assert_int_equal(p.nr_changed, 0);
	nsid = 0;
	assert_int_equal(tc_ns(tc, e.ss, "n2", &nsid, false), 0);
	assert_int_equal(fake_transport_wait_cqe(e.aq, cid, &cqe, TC_WAIT_US), 0);
	assert_int_equal((uint32_t)cqe.result, AER_NS_CHANGED);
}

static void test_aer_event_waits_for_a_request(void **state)
{
	struct tc *tc = *state;
	struct nvmft_cqe cqe;
	uint32_t nsid = 0;
	struct env e;
	int cid;

	env_up(tc, &e, 0);
	assert_int_equal(tc_ns(tc, e.ss, "n2", &nsid, false), 0);
	/* the event was kept: the next AER gets it at once */
	cid = submit_aer(e.aq);
	assert_int_equal(fake_transport_wait_cqe(e.aq, cid, &cqe, TC_WAIT_US), 0);
	assert_int_equal((uint32_t)cqe.result, AER_NS_CHANGED);
}

static void test_aer_limit_and_teardown(void **state)
{
	struct tc *tc = *state;
	struct nvmft_sqe sqe;
	int cids[NVMF_MAX_AER], i;
	struct env e;

	env_up(tc, &e, 0);
	for (i = 0; i < NVMF_MAX_AER; i++)
		cids[i] = submit_aer(e.aq);
	tc_admin_cmd(&sqe, nvme_admin_async_event);
	assert_int_equal(fake_transport_exec(e.aq, &sqe, NULL, 0, NULL),
			 ST_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_ASYNC_LIMIT));
	for (i = 0; i < NVMF_MAX_AER; i++)
		assert_false(fake_transport_cqe_ready(e.aq, cids[i]));
	/* the held AERs go back to the transport when the queue goes */
	fake_transport_disconnect(e.aq);
	assert_true(fake_transport_wait_closed(e.aq, TC_WAIT_US));
	assert_true(fake_transport_wait_closed(e.ioq, TC_WAIT_US));
	for (i = 0; i < NVMF_MAX_AER; i++)
		assert_true(fake_transport_cqe_ready(e.aq, cids[i]));
}

static void test_discovery_change_event(void **state)
{
	struct tc *tc = *state;
	struct fake_qpair *asked, *quiet;
	struct nvmft_subsystem *disc;
	struct ctrlr_peek p = { .aec_or = 1u << 31 };
	uint16_t c1, c2;
	struct nvmft_cqe cqe;
	unsigned int idx;
	int a1, a2;

	asked = fake_transport_admin_connect(tc->rt, tc->tgt, 1, NVMFT_DISCOVERY_NQN,
					     TC_HOSTNQN, 0, &c1);
	quiet = fake_transport_admin_connect(tc->rt, tc->tgt, 0, NVMFT_DISCOVERY_NQN,
					     TC_HOSTNQN2, 0, &c2);
	assert_non_null(asked);
	assert_non_null(quiet);
	disc = tc->tgt->discovery;
	p.ctrlr = tc_ctrlr(tc, disc, c1, &idx);
	assert_int_equal(idx, 1);
	tc_on(tc, idx, aec_fn, &p);
	a1 = submit_aer(asked);
	a2 = submit_aer(quiet);
	tc_ss(tc, tc->tgt, TC_NQN, true, false);
	assert_int_equal(fake_transport_wait_cqe(asked, a1, &cqe, TC_WAIT_US), 0);
	assert_int_equal((uint32_t)cqe.result, AER_DISC_CHANGE);
	usleep(100000);
	assert_false(fake_transport_cqe_ready(quiet, a2));
}

/* --- live namespace changes under I/O ------------------------------------ */

struct pause_args {
	struct nvmft_tgt *tgt;
	struct nvmft_subsystem *ss;
	_Atomic int paused;
};

static void pause_cb(void *arg)
{
	struct pause_args *a = arg;

	atomic_store(&a->paused, 1);
}

static void pause_fn(void *arg)
{
	struct pause_args *a = arg;
	struct nvmf_sgroup *sg = nvmf_pg_sgroup(nvmf_tgt_local_group(a->tgt), a->ss);

	assert_non_null(sg);
	nvmf_sgroup_pause(sg, pause_cb, a);
}

static void resume_fn(void *arg)
{
	struct pause_args *a = arg;

	nvmf_sgroup_resume(nvmf_pg_sgroup(nvmf_tgt_local_group(a->tgt), a->ss));
}

/* New I/O waits while the sgroup is paused and runs when it resumes. */
static void test_paused_sgroup_queues_io(void **state)
{
	struct tc *tc = *state;
	struct pause_args pa = { .tgt = tc->tgt };
	uint8_t buf[512];
	struct nvmft_sqe rd;
	struct nvmft_cqe cqe;
	struct env e;
	int cid;

	env_up(tc, &e, 0);
	pa.ss = e.ss;
	tc_on(tc, 1, pause_fn, &pa);
	assert_int_equal(atomic_load(&pa.paused), 1);	/* nothing in flight */
	tc_rw_cmd(&rd, nvme_cmd_read, 1, 0, 1);
	cid = fake_transport_submit(e.ioq, &rd, buf, sizeof(buf));
	usleep(100000);
	assert_false(fake_transport_cqe_ready(e.ioq, cid));
	tc_on(tc, 1, resume_fn, &pa);
	assert_int_equal(fake_transport_wait_cqe(e.ioq, cid, &cqe, TC_WAIT_US), 0);
	assert_int_equal(cqe.status >> 1, 0);
}

/* A request queued by a pause finds its namespace removed: it fails
 * cleanly, it is not lost. */
static void test_queued_io_after_remove_fails_cleanly(void **state)
{
	struct tc *tc = *state;
	struct pause_args pa = { .tgt = tc->tgt };
	uint8_t buf[512];
	struct nvmft_sqe rd;
	struct nvmft_cqe cqe;
	uint32_t nsid = 1;
	struct env e;
	int cid;

	env_up(tc, &e, 0);
	pa.ss = e.ss;
	tc_on(tc, 1, pause_fn, &pa);
	tc_rw_cmd(&rd, nvme_cmd_read, 1, 0, 1);
	cid = fake_transport_submit(e.ioq, &rd, buf, sizeof(buf));
	usleep(50000);
	assert_false(fake_transport_cqe_ready(e.ioq, cid));
	/* the removal pauses (already paused), applies, resumes */
	assert_int_equal(tc_ns(tc, e.ss, NULL, &nsid, true), 0);
	assert_int_equal(fake_transport_wait_cqe(e.ioq, cid, &cqe, TC_WAIT_US), 0);
	assert_int_equal(cqe.status >> 1, ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_NS));
}

struct ns_async {
	struct nvmft_subsystem *ss;
	const char *bdev;
	uint32_t nsid;
	bool remove;
	struct fake_transport_waiter w;
	int rc;
};

static void ns_async_fn(void *arg)
{
	struct ns_async *a = arg;
	struct nvmft_ns_opts o = { .bdev_name = a->bdev, .nsid = a->nsid };

	if (a->remove)
		a->rc = nvmft_subsystem_remove_ns(a->ss, a->nsid, fake_transport_done, &a->w);
	else
		a->rc = nvmft_subsystem_add_ns(a->ss, &o, NULL, fake_transport_done, &a->w);
}

#define LIVE_ROUNDS	20
#define LIVE_BATCH	24

/* Namespaces come and go on one reactor while reads to another namespace
 * run on the other reactor: every read completes, successfully. */
static void test_live_ns_changes_lose_no_io(void **state)
{
	struct tc *tc = *state;
	static uint8_t bufs[2 * LIVE_BATCH][4096];
	int cids[2 * LIVE_BATCH];
	struct nvmft_sqe rd;
	struct nvmft_cqe cqe;
	struct env e;
	int round, i, done = 0, submitted = 0;

	env_up(tc, &e, 0);
	for (round = 0; round < LIVE_ROUNDS; round++) {
		struct ns_async a = { .ss = e.ss, .bdev = "n2", .nsid = 2,
				      .remove = round & 1 };

		for (i = 0; i < LIVE_BATCH; i++) {
			tc_rw_cmd(&rd, nvme_cmd_read, 1, (uint64_t)(i * 8), 8);
			cids[i] = fake_transport_submit(e.ioq, &rd, bufs[i], 4096);
			assert_true(cids[i] >= 0);
			submitted++;
		}
		/* the change starts while those are in flight or queued */
		TC_ON_APP(tc, ns_async_fn, &a);
		assert_int_equal(a.rc, 0);
		for (i = LIVE_BATCH; i < 2 * LIVE_BATCH; i++) {
			tc_rw_cmd(&rd, nvme_cmd_read, 1, (uint64_t)(i * 8), 8);
			cids[i] = fake_transport_submit(e.ioq, &rd, bufs[i], 4096);
			assert_true(cids[i] >= 0);
			submitted++;
		}
		assert_int_equal(fake_transport_wait(&a.w, TC_WAIT_US), 0);
		assert_int_equal(a.w.rc, 0);
		for (i = 0; i < 2 * LIVE_BATCH; i++) {
			assert_int_equal(fake_transport_wait_cqe(e.ioq, cids[i], &cqe,
								 TC_WAIT_US), 0);
			assert_int_equal(cqe.status >> 1, 0);
			done++;
		}
	}
	assert_int_equal(done, submitted);
	/* the last round removed nsid 2: reads there fail, nsid 1 still works */
	tc_rw_cmd(&rd, nvme_cmd_read, 2, 0, 1);
	assert_int_equal(fake_transport_exec(e.ioq, &rd, bufs[0], 512, NULL),
			 ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_NS));
}

/* --- SMART and error log --------------------------------------------------- */

struct smart_wait {
	struct tc *tc;
	struct ctrlr_peek *p;
	unsigned int idx;
	uint64_t want_reads;
};

static bool smart_settled(void *arg)
{
	struct smart_wait *w = arg;

	tc_on(w->tc, w->idx, peek_fn, w->p);
	return w->p->smart.host_read_cmds == w->want_reads;
}

static void test_smart_counts_survive_queue_teardown(void **state)
{
	struct tc *tc = *state;
	struct ctrlr_peek p;
	struct smart_wait w = { .tc = tc, .p = &p, .want_reads = 5 };
	uint8_t buf[4096];
	struct nvmft_sqe cmd;
	struct env e;
	int i;

	env_up(tc, &e, 0);
	p.ctrlr = e.ctrlr;
	w.idx = e.ctrlr_idx;
	memset(buf, 0x5a, sizeof(buf));
	for (i = 0; i < 5; i++) {
		tc_rw_cmd(&cmd, nvme_cmd_read, 1, 0, 8);
		assert_int_equal(fake_transport_exec(e.ioq, &cmd, buf, 4096, NULL), 0);
	}
	for (i = 0; i < 3; i++) {
		tc_rw_cmd(&cmd, nvme_cmd_write, 1, 8, 2);
		assert_int_equal(fake_transport_exec(e.ioq, &cmd, buf, 1024, NULL), 0);
	}
	tc_on(tc, e.ctrlr_idx, peek_fn, &p);
	assert_int_equal(p.smart.host_read_cmds, 5);
	assert_int_equal(p.smart.data_units_read, 5 * 8);
	assert_int_equal(p.smart.host_write_cmds, 3);
	assert_int_equal(p.smart.data_units_written, 3 * 2);
	/* the queue goes; its counts stay with the controller */
	fake_transport_disconnect(e.ioq);
	assert_true(fake_transport_wait_closed(e.ioq, TC_WAIT_US));
	assert_true(tc_wait_true(smart_settled, &w, TC_WAIT_US));
	assert_int_equal(p.smart.host_write_cmds, 3);
}

static bool err_logged(void *arg)
{
	struct smart_wait *w = arg;

	tc_on(w->tc, w->idx, peek_fn, w->p);
	return w->p->err_count == 1;
}

static void test_failed_io_is_in_error_log(void **state)
{
	struct tc *tc = *state;
	struct ctrlr_peek p;
	struct smart_wait w = { .tc = tc, .p = &p };
	uint8_t buf[512];
	struct nvmft_sqe rd;
	struct env e;
	uint16_t st;

	env_up(tc, &e, 0);
	p.ctrlr = e.ctrlr;
	w.idx = e.ctrlr_idx;
	tc_rw_cmd(&rd, nvme_cmd_read, 9, 0x1234, 1);
	st = fake_transport_exec(e.ioq, &rd, buf, sizeof(buf), NULL);
	assert_int_equal(st, ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_NS));
	/* recorded on the controller's reactor, by message from reactor 1 */
	assert_true(tc_wait_true(err_logged, &w, TC_WAIT_US));
	assert_int_equal(le64toh(p.last_err.error_count), 1);
	assert_int_equal(le16toh(p.last_err.sqid), 1);
	assert_int_equal(le16toh(p.last_err.status_field), st << 1);
	assert_int_equal(le32toh(p.last_err.nsid), 9);
	assert_int_equal(le64toh(p.last_err.lba), 0x1234);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tc_setup, tc_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_keep_alive_expiry_tears_down),
		T(test_keep_alive_commands_keep_it),
		T(test_aer_namespace_changes_masked_until_log_read),
		T(test_aer_event_waits_for_a_request),
		T(test_aer_limit_and_teardown),
		T(test_discovery_change_event),
		T(test_paused_sgroup_queues_io),
		T(test_queued_io_after_remove_fails_cleanly),
		T(test_live_ns_changes_lose_no_io),
		T(test_smart_counts_survive_queue_teardown),
		T(test_failed_io_is_in_error_log),
	};

	return cmocka_run_group_tests_name("nvmf_ctrlr", tests, NULL, NULL);
}
