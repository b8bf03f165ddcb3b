/* SPDX-License-Identifier: MIT */
/*
 * Many queues at once over the real path (2 reactors, io_uring and epoll):
 * one controller with 64 I/O queues, and 9 controllers with 8 each, every
 * queue doing a little verified I/O; the queues spread over both reactors;
 * after the hosts disconnect the target holds no connection, controller,
 * request or buffer. All 127 I/O queues of the default limit at once;
 * queues removed (even with commands in flight) and connected again. The
 * per-controller queue limit (max_qpairs_per_ctrlr) is what Set Features
 * Number of Queues grants and what Connect enforces; the target's
 * max_connections turns further connections away until one goes.
 */
#include "nvmf_harness.h"

#define QP_NQN		"nqn.2026-11.io.nvmft:qpairs"
#define QP_HOSTNQN	"nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555"
#define QP_LEN		(64u * 1024)
#define QP_SMALL_MAX	16	/* max_qpairs_per_ctrlr of the "limit" group */

struct env {
	struct nh h;
	struct nvmft_subsystem *ss;
};

static int env_setup_conns(void **state, enum nvmft_engine engine,
			   uint16_t max_qpairs, uint32_t max_conns)
{
	struct env *e = calloc(1, sizeof(*e));
	struct nvmft_transport_opts o;
	struct nvmft_tgt_opts to;
	int rc;

	if (!e)
		return -1;
	*state = e;
	nvmft_transport_opts_init("TCP", &o);
	if (max_qpairs)
		o.max_qpairs_per_ctrlr = max_qpairs;
	nvmft_tgt_opts_init(&to);
	if (max_conns)
		to.max_connections = max_conns;
	rc = nh_start_opts(&e->h, engine, &o, &to);
	if (!rc)
		rc = nh_malloc(&e->h, "Qp0", 64u * 1024 * 1024 / 512, 512);
	if (!rc)
		rc = nh_simple_subsystem(&e->h, QP_NQN, &e->ss);
	if (!rc)
		rc = nh_add_ns(&e->h, e->ss, "Qp0", 1, NULL);
	return rc ? -1 : 0;
}

static int env_setup(void **state, enum nvmft_engine engine, uint16_t max_qpairs)
{
	return env_setup_conns(state, engine, max_qpairs, 0);
}

#define QP_MAX_CONNS	6

static int setup_uring_conns(void **state)
{
	return env_setup_conns(state, NVMFT_ENGINE_URING, 0, QP_MAX_CONNS);
}
static int setup_epoll_conns(void **state)
{
	return env_setup_conns(state, NVMFT_ENGINE_EPOLL, 0, QP_MAX_CONNS);
}

static int setup_uring(void **state) { return env_setup(state, NVMFT_ENGINE_URING, 0); }
static int setup_epoll(void **state) { return env_setup(state, NVMFT_ENGINE_EPOLL, 0); }
static int setup_uring_limit(void **state)
{
	return env_setup(state, NVMFT_ENGINE_URING, QP_SMALL_MAX);
}
static int setup_epoll_limit(void **state)
{
	return env_setup(state, NVMFT_ENGINE_EPOLL, QP_SMALL_MAX);
}

static int env_teardown(void **state)
{
	struct env *e = *state;

	nh_stop(&e->h);
	free(e);
	return 0;
}

static struct nvmft_host_ctrlr *connect_n(struct env *e, uint16_t nr_io)
{
	struct nvmft_host_opts o;
	struct nvmft_host_ctrlr *c = NULL;

	nh_host_opts(&e->h, &o, QP_NQN);
	o.num_io_queues = nr_io;
	o.io_queue_size = 32;
	o.hostnqn = QP_HOSTNQN;
	assert_int_equal(nvmft_host_ctrlr_connect(&o, &c), 0);
	return c;
}

/* Every qpair writes QP_LEN at its own region, then all read back. */
static void verify_all(struct nvmft_host_qpair **qps, unsigned int n, uint32_t seed)
{
	uint8_t *w = malloc((size_t)n * QP_LEN), *r = malloc((size_t)n * QP_LEN);
	struct nh_slot *s = calloc(n, sizeof(*s));
	uint64_t end;

	assert_non_null(w);
	assert_non_null(r);
	assert_non_null(s);
	nh_fill(w, (size_t)n * QP_LEN, seed);
	memset(r, 0, (size_t)n * QP_LEN);
	for (int pass = 0; pass < 2; pass++) {
		uint8_t *buf = pass ? r : w;

		for (unsigned int i = 0; i < n; i++)
			assert_int_equal(nh_submit_rw(qps[i], pass == 0, 1,
						      (uint64_t)i * (QP_LEN / 512),
						      QP_LEN / 512,
						      buf + (size_t)i * QP_LEN, QP_LEN,
						      &s[i]), 0);
		end = tt_now_ms() + 20000;
		for (;;) {
			unsigned int left = 0;

			for (unsigned int i = 0; i < n; i++) {
				if (s[i].done)
					continue;
				left++;
				assert_true(nvmft_host_qpair_poll(qps[i], 0) >= 0);
			}
			if (!left)
				break;
			assert_true(tt_now_ms() < end);
		}
		for (unsigned int i = 0; i < n; i++)
			assert_int_equal(s[i].status, 0);
	}
	assert_memory_equal(w, r, (size_t)n * QP_LEN);
	free(w);
	free(r);
	free(s);
}

struct pg_count {
	struct nh *h;
	unsigned int idx;
	uint32_t qpairs;
};

static void pg_count_step(void *arg)
{
	struct pg_count *p = arg;

	p->qpairs = p->h->t.tgt->pgs[p->idx]->nr_qpairs;
}

/* Both reactors serve some of the connections. */
static void assert_spread(struct env *e)
{
	for (unsigned int i = 0; i < 2; i++) {
		struct pg_count p = { .h = &e->h, .idx = i };

		assert_int_equal(nvmft_runtime_exec(e->h.t.rt, i, pg_count_step, &p), 0);
		assert_true(p.qpairs > 0);
	}
}

static void test_one_controller_with_64_io_queues(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = connect_n(e, 64);
	struct nvmft_host_qpair *qps[64];
	uint32_t nq = 0;

	assert_int_equal(nvmft_host_ctrlr_num_io_qpairs(c), 64);
	for (unsigned int i = 0; i < 64; i++) {
		qps[i] = nvmft_host_ctrlr_io_qpair(c, i);
		assert_non_null(qps[i]);
		assert_int_equal(nvmft_host_qpair_qid(qps[i]), i + 1);
	}
	/* Number of Queues as granted: at least what we asked for */
	assert_int_equal(nvmft_host_get_features(c, NVME_FEAT_FID_NUM_QUEUES, 0, &nq), 0);
	assert_true((nq & 0xffff) + 1 >= 64);
	assert_true((nq >> 16) + 1 >= 64);
	assert_int_equal(nh_wait_state(&e->h, 65, 1, NH_WAIT_MS), 0);
	assert_spread(e);
	verify_all(qps, 64, 1);
	nvmft_host_ctrlr_disconnect(c);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

#define NCTRL	9
#define NQ	8

static void test_nine_controllers_with_8_queues_each(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c[NCTRL];
	struct nvmft_host_qpair *qps[NCTRL * NQ];

	for (unsigned int k = 0; k < NCTRL; k++) {
		c[k] = connect_n(e, NQ);
		assert_int_equal(nvmft_host_ctrlr_num_io_qpairs(c[k]), NQ);
		for (unsigned int i = 0; i < NQ; i++)
			qps[k * NQ + i] = nvmft_host_ctrlr_io_qpair(c[k], i);
		for (unsigned int j = 0; j < k; j++)
			assert_int_not_equal(nvmft_host_ctrlr_cntlid(c[j]),
					     nvmft_host_ctrlr_cntlid(c[k]));
	}
	assert_int_equal(nh_wait_state(&e->h, NCTRL * (NQ + 1), NCTRL, NH_WAIT_MS), 0);
	assert_spread(e);
	verify_all(qps, NCTRL * NQ, 2);
	/* half go away first: the rest keep working */
	for (unsigned int k = 0; k < NCTRL / 2; k++)
		nvmft_host_ctrlr_disconnect(c[k]);
	assert_int_equal(nh_wait_state(&e->h, (NCTRL - NCTRL / 2) * (NQ + 1),
				       NCTRL - NCTRL / 2, NH_WAIT_MS), 0);
	verify_all(qps + (NCTRL / 2) * NQ, (NCTRL - NCTRL / 2) * NQ, 3);
	for (unsigned int k = NCTRL / 2; k < NCTRL; k++)
		nvmft_host_ctrlr_disconnect(c[k]);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

static void test_queues_come_and_go_on_a_live_controller(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = connect_n(e, 2);
	struct nvmft_host_qpair *qp;

	/* remove one of the two granted queues and connect it again: the
	 * target must have freed the queue id once Disconnect completed */
	for (int round = 0; round < 20; round++) {
		qp = nvmft_host_ctrlr_io_qpair(c, (unsigned int)round & 1);
		assert_int_equal(nvmft_host_ctrlr_remove_io_qpair(c, qp), 0);
		assert_int_equal(nvmft_host_ctrlr_add_io_qpair(c, 0, &qp), 0);
		nh_write_read_verify(qp, 1, 512, 4096 + (uint64_t)round * 8, 4096,
				     (uint32_t)round);
	}
	assert_int_equal(nvmft_host_ctrlr_num_io_qpairs(c), 2);
	assert_int_equal(nh_wait_state(&e->h, 3, 1, NH_WAIT_MS), 0);
	nh_write_read_verify(nvmft_host_ctrlr_io_qpair(c, 0), 1, 512, 0, 8192, 99);
	nvmft_host_ctrlr_disconnect(c);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

static void test_every_default_queue_127(void **state)
{
	struct env *e = *state;
	uint16_t n = (uint16_t)(e->h.t.topts.max_qpairs_per_ctrlr - 1);
	struct nvmft_host_ctrlr *c = connect_n(e, n);
	struct nvmft_host_qpair **qps = calloc(n, sizeof(*qps));

	assert_non_null(qps);
	assert_int_equal(n, 127);
	assert_int_equal(nvmft_host_ctrlr_num_io_qpairs(c), n);
	for (unsigned int i = 0; i < n; i++)
		qps[i] = nvmft_host_ctrlr_io_qpair(c, i);
	assert_int_equal(nh_wait_state(&e->h, n + 1u, 1, NH_WAIT_MS), 0);
	verify_all(qps, n, 5);
	nvmft_host_ctrlr_disconnect(c);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
	free(qps);
}

/* Removing a queue whose commands are still in flight: Disconnect goes
 * out behind them; each completes (served or failed), none is lost. */
static void test_remove_queue_with_commands_outstanding(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = connect_n(e, 2);
	struct nvmft_host_qpair *qp = nvmft_host_ctrlr_io_qpair(c, 0);
	struct nh_slot s[24];
	uint8_t *buf = malloc(24 * QP_LEN);

	assert_non_null(buf);
	nh_fill(buf, 24 * QP_LEN, 6);
	for (unsigned int i = 0; i < 24; i++)
		assert_int_equal(nh_submit_rw(qp, i & 1, 1, (uint64_t)i * (QP_LEN / 512),
					      QP_LEN / 512, buf + (size_t)i * QP_LEN,
					      QP_LEN, &s[i]), 0);
	assert_true(nvmft_host_qpair_poll(qp, 1) >= 0);
	(void)nvmft_host_ctrlr_remove_io_qpair(c, qp);
	for (unsigned int i = 0; i < 24; i++)
		assert_true(s[i].done);
	assert_int_equal(nh_wait_state(&e->h, 2, 1, NH_WAIT_MS), 0);
	/* the controller and its other queue go on */
	verify_all((struct nvmft_host_qpair *[]){ nvmft_host_ctrlr_io_qpair(c, 0) }, 1, 7);
	nvmft_host_ctrlr_disconnect(c);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
	free(buf);
}

/* ---- max_qpairs_per_ctrlr = 16 ------------------------------------------------- */

static void test_queue_count_limited_by_max_qpairs_per_ctrlr(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = connect_n(e, 32);
	struct nvmft_host_qpair *qp;
	uint16_t status = 0;
	uint32_t result = 0, nq = 0;
	int fd = -1;

	/* the target grants admin + 15 I/O queues; the host connected those */
	assert_int_equal(nvmft_host_get_features(c, NVME_FEAT_FID_NUM_QUEUES, 0, &nq), 0);
	assert_int_equal((nq & 0xffff) + 1, QP_SMALL_MAX - 1);
	assert_int_equal(nvmft_host_ctrlr_num_io_qpairs(c), QP_SMALL_MAX - 1);
	assert_int_equal(nvmft_host_ctrlr_add_io_qpair(c, 0, &qp), -ENOSPC);
	/* a Connect for a queue id beyond the grant is refused by the target */
	assert_int_equal(nh_raw_connect(&e->h, QP_NQN, QP_HOSTNQN, QP_SMALL_MAX,
					nvmft_host_ctrlr_cntlid(c), &status, &result,
					&fd), 0);
	assert_int_equal(NH_ST(status), NH_CONNECT_INVALID_PARAM);
	if (fd >= 0)
		close(fd);
	/* and for a queue id already in use */
	assert_int_equal(nh_raw_connect(&e->h, QP_NQN, QP_HOSTNQN, 3,
					nvmft_host_ctrlr_cntlid(c), &status, &result,
					NULL), 0);
	assert_int_not_equal(status, 0);
	/* the controller is unharmed */
	verify_all((struct nvmft_host_qpair *[]){ nvmft_host_ctrlr_io_qpair(c, 0),
						  nvmft_host_ctrlr_io_qpair(c, 14) }, 2, 4);
	nvmft_host_ctrlr_disconnect(c);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

/* ---- max_connections = 6 ------------------------------------------------------ */

static void test_connections_beyond_max_connections_refused(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *a = connect_n(e, 3), *b = connect_n(e, 1), *c = NULL;
	struct nvmft_host_opts o;
	int fd;

	assert_int_equal(nh_wait_state(&e->h, QP_MAX_CONNS, 2, NH_WAIT_MS), 0);
	/* one more TCP connection: accepted by the kernel, closed by the
	 * target without an answer */
	fd = raw_connect(&e->h.t);
	assert_true(fd >= 0);
	assert_int_equal(raw_expect_close(fd, 5000), 0);
	close(fd);
	nh_host_opts(&e->h, &o, QP_NQN);
	o.connect_timeout_ms = 3000;
	o.ic_timeout_ms = 3000;
	assert_true(nvmft_host_ctrlr_connect(&o, &c) < 0);
	assert_null(c);
	/* the connected ones are served */
	verify_all((struct nvmft_host_qpair *[]){ nvmft_host_ctrlr_io_qpair(a, 2),
						  nvmft_host_ctrlr_io_qpair(b, 0) }, 2, 8);
	/* room again once one goes */
	nvmft_host_ctrlr_disconnect(b);
	assert_int_equal(nh_wait_state(&e->h, 4, 1, NH_WAIT_MS), 0);
	c = connect_n(e, 1);
	verify_all((struct nvmft_host_qpair *[]){ nvmft_host_ctrlr_io_qpair(c, 0) }, 1, 9);
	nvmft_host_ctrlr_disconnect(c);
	nvmft_host_ctrlr_disconnect(a);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_controller_with_64_io_queues),
		cmocka_unit_test(test_nine_controllers_with_8_queues_each),
		cmocka_unit_test(test_queues_come_and_go_on_a_live_controller),
		cmocka_unit_test(test_every_default_queue_127),
		cmocka_unit_test(test_remove_queue_with_commands_outstanding),
	};
	const struct CMUnitTest conn_tests[] = {
		cmocka_unit_test(test_connections_beyond_max_connections_refused),
	};
	const struct CMUnitTest limit_tests[] = {
		cmocka_unit_test(test_queue_count_limited_by_max_qpairs_per_ctrlr),
	};
	int fails = 0;

	fails += NH_RUN_BOTH("nvmf_qpairs", tests, setup_uring, setup_epoll,
			     env_teardown);
	fails += NH_RUN_BOTH("nvmf_qpairs_limit", limit_tests, setup_uring_limit,
			     setup_epoll_limit, env_teardown);
	fails += NH_RUN_BOTH("nvmf_qpairs_max_connections", conn_tests,
			     setup_uring_conns, setup_epoll_conns, env_teardown);
	return fails ? 1 : 0;
}
