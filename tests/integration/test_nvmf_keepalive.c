/* SPDX-License-Identifier: MIT */
/*
 * Keep-alive over the real path (2 reactors, io_uring and epoll): a host
 * that goes silent past its keep-alive timeout loses its controller and
 * every I/O queue (the target closes the connections, frees the
 * controller, held Async Event Requests included, and serves the next
 * host), even while its I/O queues run a verified workload (I/O is no
 * keep-alive); a host that keeps sending Keep Alive stays connected well
 * past the timeout; a timeout set later with Set Features is enforced the
 * same way; KATO 0 never expires; other controllers are left alone.
 */
#include "nvmf_harness.h"

#define KA_NQN		"nqn.2026-11.io.nvmft:keepalive"
#define KA_MS		1000
/* Hosts that must stay connected use a longer timeout: on a loaded 2-core
 * box a thread (host or reactor) can be off the CPU for a good part of a
 * second, which is no fault of the keep-alive logic. */
#define KA_STAY_MS	2000
/* KATO + the target's grace + poller period, with room for a slow box */
#define KA_EXPIRY_BOUND_MS	15000

struct env {
	struct nh h;
	struct nvmft_subsystem *ss;
};

static int env_setup(void **state, enum nvmft_engine engine)
{
	struct env *e = calloc(1, sizeof(*e));
	int rc;

	if (!e)
		return -1;
	*state = e;
	rc = nh_start(&e->h, engine, NULL);
	if (!rc)
		rc = nh_malloc(&e->h, "Ka0", 8u * 1024 * 1024 / 512, 512);
	if (!rc)
		rc = nh_simple_subsystem(&e->h, KA_NQN, &e->ss);
	if (!rc)
		rc = nh_add_ns(&e->h, e->ss, "Ka0", 1, NULL);
	return rc ? -1 : 0;
}

static int setup_uring(void **state) { return env_setup(state, NVMFT_ENGINE_URING); }
static int setup_epoll(void **state) { return env_setup(state, NVMFT_ENGINE_EPOLL); }

static int env_teardown(void **state)
{
	struct env *e = *state;

	nh_stop(&e->h);
	free(e);
	return 0;
}

static struct nvmft_host_ctrlr *connect_kato(struct env *e, uint32_t kato_ms,
					     uint16_t nr_io)
{
	struct nvmft_host_opts o;
	struct nvmft_host_ctrlr *c = NULL;

	nh_host_opts(&e->h, &o, KA_NQN);
	o.kato_ms = kato_ms;
	o.num_io_queues = nr_io;
	assert_int_equal(nvmft_host_ctrlr_connect(&o, &c), 0);
	return c;
}

/* The peer closed @fd (without reading anything from it). */
static bool fd_closed_by_peer(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };

	if (poll(&p, 1, timeout_ms) <= 0)
		return false;
	return p.revents & (POLLRDHUP | POLLHUP | POLLERR);
}

/* Every connection of @c is closed by the target within the bound; the
 * admin queue is never polled (so no Keep Alive goes out). */
static void wait_all_closed(struct nvmft_host_ctrlr *c)
{
	unsigned int n = nvmft_host_ctrlr_num_io_qpairs(c);
	uint64_t end = tt_now_ms() + KA_EXPIRY_BOUND_MS;
	bool admin = false;
	bool *io = calloc(n, sizeof(*io));

	assert_non_null(io);
	for (;;) {
		bool all = admin;

		if (!admin)
			admin = fd_closed_by_peer(nvmft_host_qpair_fd(nvmft_host_ctrlr_admin_qpair(c)), 0);
		for (unsigned int i = 0; i < n; i++) {
			if (!io[i])
				io[i] = fd_closed_by_peer(nvmft_host_qpair_fd(nvmft_host_ctrlr_io_qpair(c, i)), 0);
			all = all && io[i];
		}
		if (all)
			break;
		assert_true(tt_now_ms() < end);
		tt_sleep_ms(20);
	}
	free(io);
}

static void test_silent_host_loses_controller_and_io_queues(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = connect_kato(e, KA_MS, 2);
	struct nvmft_host_qpair *qp = nvmft_host_ctrlr_io_qpair(c, 0);
	uint8_t buf[4096];
	struct nvmft_sqe sqe;
	struct nh_slot aer;
	uint64_t t0;

	nh_write_read_verify(qp, 1, 512, 0, 4096, 1);
	/* an Async Event Request is held by the controller when it expires */
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_async_event;
	memset(&aer, 0, sizeof(aer));
	assert_int_equal(nvmft_host_submit(nvmft_host_ctrlr_admin_qpair(c), &sqe, NULL, 0,
					   NVMFT_HOST_DIR_NONE, nh_slot_cb, &aer), 0);
	assert_int_equal(nvmft_host_qpair_poll(nvmft_host_ctrlr_admin_qpair(c), 0), 0);
	assert_int_equal(nh_wait_counts(&e->h, 3, 1, NH_WAIT_MS), 0);
	t0 = tt_now_ms();
	wait_all_closed(c);
	if (getenv("TT_VERBOSE"))
		fprintf(stderr, "closed after %lu ms\n", (unsigned long)(tt_now_ms() - t0));
	/* the target freed everything */
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
	/* the host sees its queues fail */
	assert_true(nvmft_host_read(qp, 1, 0, 8, buf, sizeof(buf)) < 0);
	assert_true(nvmft_host_qpair_error(qp) < 0);
	assert_true(nvmft_host_qpair_poll(nvmft_host_ctrlr_admin_qpair(c), 0) < 0);
	assert_true(aer.done);
	assert_int_not_equal(aer.status, 0);
	nvmft_host_ctrlr_disconnect(c);
	/* a new host gets full service */
	c = connect_kato(e, KA_MS, 1);
	nh_write_read_verify(nvmft_host_ctrlr_io_qpair(c, 0), 1, 512, 64, 65536, 2);
	nvmft_host_ctrlr_disconnect(c);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

static void test_host_sending_keep_alives_stays_past_kato(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = connect_kato(e, KA_STAY_MS, 1);
	struct nvmft_host_qpair *admin = nvmft_host_ctrlr_admin_qpair(c);
	struct nvmft_host_qpair *qp = nvmft_host_ctrlr_io_qpair(c, 0);
	struct nvmft_host_qpair_stats st;
	uint64_t end = tt_now_ms() + 3 * KA_STAY_MS / 2, now, last = tt_now_ms(),
		 max_gap = 0;
	uint32_t kato = 0;

	assert_int_equal(nvmft_host_get_features(c, NVME_FEAT_FID_KATO, 0, &kato), 0);
	assert_int_equal(kato, KA_STAY_MS);
	/* 1.5 timeouts long: the admin queue's automatic Keep Alive (every
	 * KATO/2) and one explicit one; the I/O queue stays idle */
	while ((now = tt_now_ms()) < end) {
		if (now - last > max_gap)
			max_gap = now - last;
		last = now;
		assert_true(nvmft_host_qpair_poll(admin, 0) >= 0);
		tt_sleep_ms(20);
	}
	if (getenv("TT_VERBOSE"))
		fprintf(stderr, "longest gap between admin polls: %lu ms\n",
			(unsigned long)max_gap);
	assert_int_equal(nvmft_host_ctrlr_keep_alive(c), 0);
	nvmft_host_qpair_get_stats(admin, &st);
	assert_true(st.completed >= 3);
	assert_int_equal(nvmft_host_qpair_error(admin), 0);
	assert_int_equal(nvmft_host_qpair_error(qp), 0);
	assert_int_equal(nh_wait_state(&e->h, 2, 1, NH_WAIT_MS), 0);
	nh_write_read_verify(qp, 1, 512, 128, 8192, 3);
	nvmft_host_ctrlr_disconnect(c);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

/* KATO 0 never expires (silent for twice the short timeout); a timeout
 * set afterwards with Set Features is enforced like one from Connect. */
static void test_kato_zero_never_expires_until_set_by_set_features(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = connect_kato(e, 0, 1);
	struct nvmft_host_qpair *qp = nvmft_host_ctrlr_io_qpair(c, 0);
	uint32_t kato = 1;

	assert_int_equal(nvmft_host_get_features(c, NVME_FEAT_FID_KATO, 0, &kato), 0);
	assert_int_equal(kato, 0);
	assert_false(fd_closed_by_peer(nvmft_host_qpair_fd(nvmft_host_ctrlr_admin_qpair(c)),
				       2 * KA_MS));
	assert_int_equal(nh_wait_state(&e->h, 2, 1, NH_WAIT_MS), 0);
	nh_write_read_verify(qp, 1, 512, 256, 4096, 4);

	assert_int_equal(nvmft_host_set_features(c, NVME_FEAT_FID_KATO, KA_MS, false,
						 NULL), 0);
	assert_int_equal(nvmft_host_get_features(c, NVME_FEAT_FID_KATO, 0, &kato), 0);
	assert_int_equal(kato, KA_MS);
	wait_all_closed(c);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
	nvmft_host_ctrlr_disconnect(c);
}

/* Expiry of one controller leaves another one of the same subsystem alone. */
static void test_expiry_spares_other_controllers(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *quiet = connect_kato(e, KA_MS, 1);
	struct nvmft_host_ctrlr *busy = connect_kato(e, KA_STAY_MS, 1);
	struct nvmft_host_qpair *bq = nvmft_host_ctrlr_io_qpair(busy, 0);
	struct nvmft_host_qpair *badmin = nvmft_host_ctrlr_admin_qpair(busy);
	uint64_t end = tt_now_ms() + KA_EXPIRY_BOUND_MS;
	uint32_t seed = 10;

	/* keep "busy" alive (admin polled, I/O running) until "quiet" goes */
	while (!fd_closed_by_peer(nvmft_host_qpair_fd(nvmft_host_ctrlr_admin_qpair(quiet)), 0)) {
		assert_true(tt_now_ms() < end);
		assert_true(nvmft_host_qpair_poll(badmin, 0) >= 0);
		nh_write_read_verify(bq, 1, 512, 512, 4096, seed++);
		tt_sleep_ms(20);
	}
	assert_int_equal(nh_wait_state(&e->h, 2, 1, NH_WAIT_MS), 0);
	assert_int_equal(nvmft_host_qpair_poll(badmin, 0) >= 0, true);
	nh_write_read_verify(bq, 1, 512, 512, 65536, seed);
	nvmft_host_ctrlr_disconnect(quiet);
	nvmft_host_ctrlr_disconnect(busy);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

/* The controller expires while its I/O queues (on both reactors) have a
 * verified workload running: Keep Alive counts on the admin queue only, so
 * I/O does not keep it alive; every command comes back, none corrupted. */
static void test_expiry_with_io_in_flight(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = connect_kato(e, KA_MS, 2);
	struct nvmft_host_qpair *qps[2] = { nvmft_host_ctrlr_io_qpair(c, 0),
					    nvmft_host_ctrlr_io_qpair(c, 1) };
	uint64_t end = tt_now_ms() + KA_EXPIRY_BOUND_MS;
	struct nh_wl wl;
	unsigned int busy = 1;
	bool gone = false;

	nh_wl_start(&wl, qps, 2, 16, 1, 512, 8192, 0);
	while (!gone || busy) {
		busy = nh_wl_poll(&wl, qps, 2);
		gone = nvmft_host_qpair_error(qps[0]) < 0 &&
		       nvmft_host_qpair_error(qps[1]) < 0;
		if (tt_now_ms() > end)
			fail_msg("queues failed %d, %u commands outstanding, %lu ok",
				 gone, busy, (unsigned long)wl.ok);
	}
	assert_true(wl.verified > 0);
	assert_int_equal(wl.mismatches, 0);
	assert_true(fd_closed_by_peer(nvmft_host_qpair_fd(nvmft_host_ctrlr_admin_qpair(c)),
				      5000));
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
	wl.stop = true;
	nh_wl_free(&wl);
	nvmft_host_ctrlr_disconnect(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_silent_host_loses_controller_and_io_queues),
		cmocka_unit_test(test_host_sending_keep_alives_stays_past_kato),
		cmocka_unit_test(test_kato_zero_never_expires_until_set_by_set_features),
		cmocka_unit_test(test_expiry_spares_other_controllers),
		cmocka_unit_test(test_expiry_with_io_in_flight),
	};

	return NH_RUN_BOTH("nvmf_keepalive", tests, setup_uring, setup_epoll,
			   env_teardown) ? 1 : 0;
}
