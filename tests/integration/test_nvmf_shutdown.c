/* SPDX-License-Identifier: MIT */
/*
 * Graceful shutdown over the real path (2 reactors, io_uring and epoll):
 * nvmft_tgt_destroy() while a QD32 verified workload runs, while a write
 * waits in the middle of its R2T, while Async Event Requests are held,
 * while a connection has not even sent its ICReq, while hosts keep
 * connecting; a subsystem destroyed under I/O while another one keeps
 * serving; a host's own shutdown notification (CC.SHN) and controller
 * reset (CC.EN = 0) under I/O. Every time the
 * destroy completes (bounded), the host sees its connections closed,
 * every outstanding command completes (with a status or an error: none
 * hangs), every read that succeeded matches what was written, and (run
 * under build-asan-ubsan) nothing leaks.
 */
#include <pthread.h>
#include <signal.h>

#include "nvmf_harness.h"

#define SD_NQN		"nqn.2026-11.io.nvmft:shutdown"
#define SD_NQN2		"nqn.2026-11.io.nvmft:survivor"
#define SD_BLOCKS	(32u * 1024 * 1024 / 512)
#define SD_BOUND_MS	15000

struct env {
	enum nvmft_engine engine;
	struct nh h;
	struct nvmft_subsystem *ss, *ss2;
};

static int group_setup(void **state, enum nvmft_engine engine)
{
	struct env *e = calloc(1, sizeof(*e));

	if (!e)
		return -1;
	e->engine = engine;
	*state = e;
	return 0;
}

static int setup_uring(void **state) { return group_setup(state, NVMFT_ENGINE_URING); }
static int setup_epoll(void **state) { return group_setup(state, NVMFT_ENGINE_EPOLL); }

static int group_teardown(void **state)
{
	free(*state);
	return 0;
}

/* Per test: a fresh target (each test destroys it). */
static int test_setup(void **state)
{
	struct env *e = *state;
	struct nvmft_transport_opts o;
	int rc;

	nvmft_transport_opts_init("TCP", &o);
	/* a destroy that waited for the ICReq timeout would miss SD_BOUND_MS */
	o.icreq_timeout_ms = 60000;
	rc = nh_start(&e->h, e->engine, &o);
	if (!rc)
		rc = nh_malloc(&e->h, "Sd0", SD_BLOCKS, 512);
	if (!rc)
		rc = nh_malloc(&e->h, "Sd1", SD_BLOCKS / 8, 4096);
	if (!rc)
		rc = nh_simple_subsystem(&e->h, SD_NQN, &e->ss);
	if (!rc)
		rc = nh_add_ns(&e->h, e->ss, "Sd0", 1, NULL);
	if (!rc)
		rc = nh_simple_subsystem(&e->h, SD_NQN2, &e->ss2);
	if (!rc)
		rc = nh_add_ns(&e->h, e->ss2, "Sd1", 1, NULL);
	return rc ? -1 : 0;
}

static int test_teardown(void **state)
{
	struct env *e = *state;

	nh_stop(&e->h);
	return 0;
}

/* Start nvmft_tgt_destroy() on the app reactor; it finishes later. */
static void destroy_async(struct env *e)
{
	assert_int_equal(nh_run_async(&e->h, nh_step_destroy), 0);
}

/* Destroy done (rc 0): the tgt pointer is dead from here on. */
static bool destroy_finished(struct env *e)
{
	if (!nh_step_done(&e->h))
		return false;
	assert_int_equal(e->h.t.rc, 0);
	e->h.t.tgt = NULL;
	return true;
}

static bool all_failed(struct nvmft_host_ctrlr *c)
{
	if (nvmft_host_qpair_poll(nvmft_host_ctrlr_admin_qpair(c), 0) >= 0)
		return false;
	for (unsigned int i = 0; i < nvmft_host_ctrlr_num_io_qpairs(c); i++)
		if (nvmft_host_qpair_poll(nvmft_host_ctrlr_io_qpair(c, i), 0) >= 0)
			return false;
	return true;
}

static void test_destroy_during_qd32_verified_workload(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = nh_connect(&e->h, SD_NQN, 2);
	struct nvmft_host_qpair *qps[2] = { nvmft_host_ctrlr_io_qpair(c, 0),
					    nvmft_host_ctrlr_io_qpair(c, 1) };
	struct nh_wl wl;
	uint64_t end;
	bool destroyed = false, failed = false;
	unsigned int busy = 1;

	/* 2 queues × 32 commands of 16 KiB */
	nh_wl_start(&wl, qps, 2, 32, 1, 512, 16384, 0);
	end = tt_now_ms() + SD_BOUND_MS;
	while (wl.verified < 256) {
		nh_wl_poll(&wl, qps, 2);
		assert_true(tt_now_ms() < end);
	}
	assert_int_equal(wl.mismatches, 0);
	assert_int_equal(wl.errors, 0);

	destroy_async(e);
	end = tt_now_ms() + SD_BOUND_MS;
	while (!destroyed || !failed || busy) {
		busy = nh_wl_poll(&wl, qps, 2);
		if (!destroyed)
			destroyed = destroy_finished(e);
		if (!failed)
			failed = all_failed(c);
		if (tt_now_ms() > end)
			fail_msg("destroyed %d, host queues failed %d, %u commands "
				 "outstanding", destroyed, failed, busy);
	}
	/* what completed before the end was right; the rest failed visibly */
	assert_int_equal(wl.mismatches, 0);
	assert_true(wl.submit_errors > 0 || wl.errors > 0);
	for (unsigned int i = 0; i < 2; i++)
		assert_true(nvmft_host_qpair_error(qps[i]) < 0);
	wl.stop = true;
	nh_wl_free(&wl);
	nvmft_host_ctrlr_disconnect(c);
}

static void test_destroy_while_write_waits_mid_r2t(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = nh_connect(&e->h, SD_NQN, 1);
	struct nvmft_host_qpair *qp = nvmft_host_ctrlr_io_qpair(c, 0);
	struct pdu_r2t r2t;
	union pdu_hdr h;
	uint8_t half[65536];
	uint64_t end;
	size_t hl;

	/* a 256 KiB write: R2T received, a quarter of the data sent, then
	 * the host waits (as if stalled) */
	hl = raw_write_cmd(&h, NULL, 0x31, 0, 256 * 1024);
	assert_int_equal(nvmft_host_qpair_send_raw(qp, h.raw, hl), 0);
	assert_int_equal(nvmft_host_qpair_recv_raw(qp, &r2t, sizeof(r2t), 5000),
			 (ssize_t)sizeof(r2t));
	assert_int_equal(r2t.ch.type, PDU_R2T);
	memset(half, 0x3c, sizeof(half));
	hl = pdu_enc_h2c_data(&h, NULL, 0x31, le16toh(r2t.ttag), 0, sizeof(half), false);
	assert_int_equal(nvmft_host_qpair_send_raw(qp, h.raw, hl), 0);
	assert_int_equal(nvmft_host_qpair_send_raw(qp, half, sizeof(half)), 0);

	destroy_async(e);
	end = tt_now_ms() + SD_BOUND_MS;
	while (!destroy_finished(e)) {
		assert_true(tt_now_ms() < end);
		tt_sleep_ms(2);
	}
	/* the half-written command's connection is gone */
	assert_int_equal(raw_expect_close(nvmft_host_qpair_fd(qp), 5000), 0);
	nvmft_host_ctrlr_disconnect(c);
}

static void test_destroy_with_async_event_requests_held(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = nh_connect(&e->h, SD_NQN, 1);
	struct nvmft_host_qpair *admin = nvmft_host_ctrlr_admin_qpair(c);
	struct nh_slot aer[4];
	struct nvmft_sqe sqe;
	uint64_t end;
	bool destroyed = false;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_async_event;
	for (int i = 0; i < 4; i++) {
		memset(&aer[i], 0, sizeof(aer[i]));
		assert_int_equal(nvmft_host_submit(admin, &sqe, NULL, 0,
						   NVMFT_HOST_DIR_NONE, nh_slot_cb,
						   &aer[i]), 0);
	}
	/* held by the controller: nothing completes them */
	assert_int_equal(nvmft_host_qpair_wait(admin, &aer[0].done, 200), -ETIMEDOUT);
	destroy_async(e);
	end = tt_now_ms() + SD_BOUND_MS;
	for (;;) {
		bool all = true;

		(void)nvmft_host_qpair_poll(admin, 0);
		if (!destroyed)
			destroyed = destroy_finished(e);
		for (int i = 0; i < 4; i++)
			all = all && aer[i].done;
		if (destroyed && all)
			break;
		assert_true(tt_now_ms() < end);
		tt_sleep_ms(1);
	}
	/* ended with an error or a status, never left hanging */
	for (int i = 0; i < 4; i++)
		assert_true(aer[i].status != 0 || aer[i].err != 0 ||
			    (aer[i].result & 0x7) != 0);
	nvmft_host_ctrlr_disconnect(c);
}

static void test_destroy_with_connection_before_icreq(void **state)
{
	struct env *e = *state;
	int fd = raw_connect(&e->h.t), fd2 = raw_connect(&e->h.t);
	struct pdu_icresp icr;
	uint64_t end;

	assert_true(fd >= 0);
	assert_true(fd2 >= 0);
	/* one without ICReq, one after ICResp but before Connect */
	assert_int_equal(raw_icreq(fd2, 0, 0, &icr), 0);
	assert_int_equal(nh_wait_state(&e->h, 2, 0, NH_WAIT_MS), 0);
	destroy_async(e);
	end = tt_now_ms() + SD_BOUND_MS;
	while (!destroy_finished(e)) {
		assert_true(tt_now_ms() < end);
		tt_sleep_ms(2);
	}
	assert_int_equal(raw_expect_close(fd, 5000), 0);
	assert_int_equal(raw_expect_close(fd2, 5000), 0);
	close(fd);
	close(fd2);
}

static void test_subsystem_destroy_under_io_spares_the_other(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = nh_connect(&e->h, SD_NQN, 2);
	struct nvmft_host_ctrlr *c2 = nh_connect(&e->h, SD_NQN2, 1);
	struct nvmft_host_qpair *qps[2] = { nvmft_host_ctrlr_io_qpair(c, 0),
					    nvmft_host_ctrlr_io_qpair(c, 1) };
	struct nvmft_host_qpair *q2 = nvmft_host_ctrlr_io_qpair(c2, 0);
	struct nh_wl wl;
	uint64_t end;
	bool failed = false;
	unsigned int busy = 1;

	nh_wl_start(&wl, qps, 2, 16, 1, 512, 8192, 0);
	end = tt_now_ms() + SD_BOUND_MS;
	while (wl.verified < 64) {
		nh_wl_poll(&wl, qps, 2);
		assert_true(tt_now_ms() < end);
	}
	e->h.a_ss = e->ss;
	assert_int_equal(nh_run_async(&e->h, nh_step_ss_destroy), 0);
	while (!nh_step_done(&e->h) || !failed || busy) {
		busy = nh_wl_poll(&wl, qps, 2);
		if (!failed)
			failed = all_failed(c);
		if (tt_now_ms() > end)
			fail_msg("ss destroy done %d, queues failed %d, busy %u",
				 nh_step_done(&e->h), failed, busy);
	}
	assert_int_equal(e->h.t.rc, 0);
	assert_int_equal(wl.mismatches, 0);
	wl.stop = true;
	nh_wl_free(&wl);
	nvmft_host_ctrlr_disconnect(c);
	/* the other subsystem's controller never noticed */
	assert_int_equal(nvmft_host_qpair_error(q2), 0);
	nh_write_read_verify(q2, 1, 4096, 0, 65536, 7);
	assert_int_equal(nh_wait_state(&e->h, 2, 1, NH_WAIT_MS), 0);
	/* and the destroyed NQN is gone for new hosts */
	{
		uint16_t st;

		assert_int_equal(nh_raw_connect(&e->h, SD_NQN, "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-0000000000aa",
						0, 0xffff, &st, NULL, NULL), 0);
		assert_int_equal(NH_ST(st), NH_CONNECT_INVALID_PARAM);
	}
	nvmft_host_ctrlr_disconnect(c2);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

/* ---- host-initiated: CC.SHN and CC.EN = 0 under I/O --------------------------- */

#define REG_CC		0x14
#define REG_CSTS	0x1c

static uint32_t get_reg(struct nvmft_host_ctrlr *c, uint32_t off)
{
	uint64_t v = 0;

	assert_int_equal(nvmft_host_property_get(c, off, 4, &v), 0);
	return (uint32_t)v;
}

/* Poll the workload until every command is back and every I/O queue of
 * @c was closed by the target; meanwhile wait for @cond on CSTS. */
static void run_until_queues_gone(struct nvmft_host_ctrlr *c, struct nh_wl *wl,
				  struct nvmft_host_qpair **qps, unsigned int nqp,
				  uint32_t csts_mask, uint32_t csts_want)
{
	uint64_t end = tt_now_ms() + SD_BOUND_MS;
	bool csts_ok = false, gone = false;
	unsigned int busy = 1;

	while (!csts_ok || !gone || busy) {
		busy = nh_wl_poll(wl, qps, nqp);
		if (!csts_ok)
			csts_ok = (get_reg(c, REG_CSTS) & csts_mask) == csts_want;
		if (!gone) {
			gone = true;
			for (unsigned int i = 0; i < nqp; i++)
				gone = gone && nvmft_host_qpair_error(qps[i]) < 0;
		}
		if (tt_now_ms() > end)
			fail_msg("CSTS 0x%x (want 0x%x under 0x%x), queues gone %d, "
				 "busy %u", get_reg(c, REG_CSTS), csts_want, csts_mask,
				 gone, busy);
	}
	assert_int_equal(wl->mismatches, 0);
}

static void test_host_shutdown_notification_with_io_in_flight(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = nh_connect(&e->h, SD_NQN, 2);
	struct nvmft_host_qpair *qps[2] = { nvmft_host_ctrlr_io_qpair(c, 0),
					    nvmft_host_ctrlr_io_qpair(c, 1) };
	struct nh_wl wl;
	uint64_t end = tt_now_ms() + SD_BOUND_MS;
	uint32_t cc;

	nh_wl_start(&wl, qps, 2, 16, 1, 512, 16384, 0);
	while (wl.verified < 64) {
		nh_wl_poll(&wl, qps, 2);
		assert_true(tt_now_ms() < end);
	}
	/* normal shutdown notification (SHN = 01b); CSTS.SHST goes to 10b
	 * once the I/O queues are gone */
	cc = get_reg(c, REG_CC);
	assert_int_equal(nvmft_host_property_set(c, REG_CC, 4, cc | (1u << 14)), 0);
	run_until_queues_gone(c, &wl, qps, 2, 0xc, 0x8);
	wl.stop = true;
	nh_wl_free(&wl);
	/* the controller is still there (admin queue) until the host goes */
	assert_int_equal(nh_wait_state(&e->h, 1, 1, NH_WAIT_MS), 0);
	nvmft_host_ctrlr_disconnect(c);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

static void test_controller_reset_with_io_in_flight_then_reenable(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = nh_connect(&e->h, SD_NQN, 2);
	struct nvmft_host_qpair *qps[2] = { nvmft_host_ctrlr_io_qpair(c, 0),
					    nvmft_host_ctrlr_io_qpair(c, 1) };
	struct nvmft_host_qpair *qp;
	struct nh_wl wl;
	uint64_t end = tt_now_ms() + SD_BOUND_MS;
	uint32_t cc;

	nh_wl_start(&wl, qps, 2, 16, 1, 512, 16384, 0);
	while (wl.verified < 64) {
		nh_wl_poll(&wl, qps, 2);
		assert_true(tt_now_ms() < end);
	}
	/* CC.EN 1 → 0: reset; RDY clears once the I/O queues are gone */
	cc = get_reg(c, REG_CC);
	assert_true(cc & 1);
	assert_int_equal(nvmft_host_property_set(c, REG_CC, 4, cc & ~1u), 0);
	run_until_queues_gone(c, &wl, qps, 2, 0x1, 0x0);
	wl.stop = true;
	nh_wl_free(&wl);
	assert_int_equal(nh_wait_state(&e->h, 1, 1, NH_WAIT_MS), 0);
	/* enable again, ask for queues again, connect a new one */
	assert_int_equal(nvmft_host_property_set(c, REG_CC, 4, cc), 0);
	end = tt_now_ms() + SD_BOUND_MS;
	while (!(get_reg(c, REG_CSTS) & 1))
		assert_true(tt_now_ms() < end);
	assert_int_equal(nvmft_host_set_features(c, NVME_FEAT_FID_NUM_QUEUES,
						 (1u << 16) | 1u, false, NULL), 0);
	while (nvmft_host_ctrlr_num_io_qpairs(c))
		(void)nvmft_host_ctrlr_remove_io_qpair(c, nvmft_host_ctrlr_io_qpair(c, 0));
	assert_int_equal(nvmft_host_ctrlr_add_io_qpair(c, 0, &qp), 0);
	nh_write_read_verify(qp, 1, 512, 0, 131072, 9);
	nvmft_host_ctrlr_disconnect(c);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

/* ---- destroy while hosts keep connecting ------------------------------------------ */

struct churn {
	struct env *e;
	_Atomic int cycles;
	_Atomic int stop;
	int last_rc;
};

static void *churn_main(void *arg)
{
	struct churn *ch = arg;
	struct nvmft_host_opts o;

	nh_host_opts(&ch->e->h, &o, SD_NQN);
	o.num_io_queues = 2;
	o.connect_timeout_ms = 3000;
	o.ic_timeout_ms = 3000;
	o.cmd_timeout_ms = 3000;
	while (!atomic_load(&ch->stop)) {
		struct nvmft_host_ctrlr *c = NULL;
		int rc = nvmft_host_ctrlr_connect(&o, &c);

		ch->last_rc = rc;
		if (rc)
			break;	/* the target is going away */
		nvmft_host_ctrlr_disconnect(c);
		atomic_fetch_add(&ch->cycles, 1);
	}
	return NULL;
}

static void test_destroy_while_hosts_connect(void **state)
{
	struct env *e = *state;
	struct churn ch[2] = { { .e = e }, { .e = e } };
	pthread_t th[2];
	uint64_t end = tt_now_ms() + SD_BOUND_MS;

	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, churn_main, &ch[i]), 0);
	while (atomic_load(&ch[0].cycles) < 5 || atomic_load(&ch[1].cycles) < 5)
		assert_true(tt_now_ms() < end);
	destroy_async(e);
	while (!destroy_finished(e)) {
		assert_true(tt_now_ms() < end);
		tt_sleep_ms(1);
	}
	/* the connect loops end (refused, reset or timed out), bounded by
	 * their 3 s timeouts */
	for (int i = 0; i < 2; i++) {
		atomic_store(&ch[i].stop, 1);
		assert_int_equal(pthread_join(th[i], NULL), 0);
	}
}

#define T(f)	cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_destroy_during_qd32_verified_workload),
		T(test_destroy_while_write_waits_mid_r2t),
		T(test_destroy_with_async_event_requests_held),
		T(test_destroy_with_connection_before_icreq),
		T(test_subsystem_destroy_under_io_spares_the_other),
		T(test_host_shutdown_notification_with_io_in_flight),
		T(test_controller_reset_with_io_in_flight_then_reenable),
		T(test_destroy_while_hosts_connect),
	};

	signal(SIGPIPE, SIG_IGN);
	return NH_RUN_BOTH("nvmf_shutdown", tests, setup_uring, setup_epoll,
			   group_teardown) ? 1 : 0;
}
