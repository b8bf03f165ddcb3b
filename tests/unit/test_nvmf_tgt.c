// SPDX-License-Identifier: MIT
/*
 * The tgt object: creation and teardown on a real runtime, transports,
 * connection placement and limits, listeners.
 */
#include "test_nvmf_core.h"

static int snap(_Atomic int *v)
{
	return atomic_load(v);
}

/* Every transport poll group and the transport are gone after destroy. */
static void test_tgt_destroy_releases_everything(void **state)
{
	struct nvmft_runtime *rt = tc_rt_start(2);
	int pg0 = snap(&fake_transport_totals.pg_created);
	int pgd0 = snap(&fake_transport_totals.pg_destroyed);
	int d0 = snap(&fake_transport_totals.destroyed);
	struct nvmft_tgt *tgt = fake_transport_tgt_new(rt, NULL);

	assert_non_null(tgt);
	/* one transport poll group per reactor */
	assert_int_equal(snap(&fake_transport_totals.pg_created) - pg0, 2);
	assert_int_equal(fake_transport_tgt_free(rt, tgt), 0);
	assert_int_equal(snap(&fake_transport_totals.pg_destroyed) - pgd0, 2);
	assert_int_equal(snap(&fake_transport_totals.destroyed) - d0, 1);
	nvmft_runtime_stop(rt);
	nvmft_runtime_destroy(rt);
}

/* Two targets share a runtime without seeing each other. */
static void test_two_tgts_in_one_process(void **state)
{
	struct tc *tc = *state;
	struct nvmft_tgt *tgt2 = fake_transport_tgt_new(tc->rt, NULL);
	struct nvmft_subsystem *a, *b;
	struct fake_qpair *q1, *q2;
	uint16_t c1 = 0, c2 = 0;

	assert_non_null(tgt2);
	/* the same NQN in both: separate registries */
	a = tc_ss(tc, tc->tgt, TC_NQN, true, true);
	b = tc_ss(tc, tgt2, TC_NQN, true, true);
	assert_ptr_not_equal(a, b);
	q1 = fake_transport_admin_connect(tc->rt, tc->tgt, 0, TC_NQN, TC_HOSTNQN, 0, &c1);
	q2 = fake_transport_admin_connect(tc->rt, tgt2, 1, TC_NQN, TC_HOSTNQN, 0, &c2);
	assert_non_null(q1);
	assert_non_null(q2);
	/* both start their cntlid range at 1 */
	assert_int_equal(c1, 1);
	assert_int_equal(c2, 1);
	assert_int_equal(fake_transport_tgt_free(tc->rt, tgt2), 0);
	assert_true(fake_transport_wait_closed(q2, TC_WAIT_US));
	assert_false(fake_transport_closed(q1));
}

struct add_args {
	struct nvmft_tgt *tgt;
	const char *trtype;
	int rc;
	struct nvmft_transport_opts opts;
	int get_rc;
};

static void add_again_fn(void *arg)
{
	struct add_args *a = arg;

	a->rc = nvmft_tgt_add_transport(a->tgt, a->trtype, NULL, NULL, NULL);
	a->get_rc = nvmft_tgt_get_transport_opts(a->tgt, a->trtype, &a->opts);
}

static void test_add_transport_twice_is_eexist(void **state)
{
	struct tc *tc = *state;
	struct add_args a = { .tgt = tc->tgt, .trtype = "fake" };

	TC_ON_APP(tc, add_again_fn, &a);
	assert_int_equal(a.rc, -EEXIST);
	assert_int_equal(a.get_rc, 0);
	assert_int_equal(a.opts.max_queue_depth, 128);
}

static void test_add_unknown_transport_is_enotsup(void **state)
{
	struct tc *tc = *state;
	struct add_args a = { .tgt = tc->tgt, .trtype = "RDMA" };

	TC_ON_APP(tc, add_again_fn, &a);
	assert_int_equal(a.rc, -ENOTSUP);
	assert_int_equal(a.get_rc, -ENOENT);
}

static void test_transport_opts_init_knows_tcp_only(void **state)
{
	struct nvmft_transport_opts o;

	assert_int_equal(nvmft_transport_opts_init("TCP", &o), 0);
	assert_true(o.max_queue_depth > 1);
	assert_int_equal(nvmft_transport_opts_init("FAKE", &o), -ENOTSUP);
}

static unsigned int qp_reactor(struct fake_qpair *fq)
{
	return nvmft_thread_index(nvmf_poll_group_thread(fake_transport_qpair(fq)->group));
}

static void test_new_qpair_lands_on_chosen_reactor(void **state)
{
	struct tc *tc = *state;
	struct fake_qpair *a = fake_transport_connect(tc->rt, tc->tgt, 0);
	struct fake_qpair *b = fake_transport_connect(tc->rt, tc->tgt, 1);

	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(qp_reactor(a), 0);
	assert_int_equal(qp_reactor(b), 1);
	fake_transport_disconnect(a);
	assert_true(fake_transport_wait_closed(a, TC_WAIT_US));
	assert_false(fake_transport_closed(b));
}

struct limit_args {
	struct nvmft_tgt *tgt;
	uint32_t max;
	uint32_t conns;
};

static void set_limit_fn(void *arg)
{
	struct limit_args *a = arg;

	a->tgt->opts.max_connections = a->max;
}

static void conns_fn(void *arg)
{
	struct limit_args *a = arg;

	a->conns = a->tgt->nr_connections;
}

static void test_max_connections_refuses_then_recovers(void **state)
{
	struct tc *tc = *state;
	struct limit_args a = { .tgt = tc->tgt, .max = 2 };
	struct fake_qpair *q1, *q2, *q3;
	uint64_t end;

	TC_ON_APP(tc, set_limit_fn, &a);
	q1 = fake_transport_connect(tc->rt, tc->tgt, 0);
	q2 = fake_transport_connect(tc->rt, tc->tgt, 1);
	assert_non_null(q1);
	assert_non_null(q2);
	q3 = fake_transport_connect(tc->rt, tc->tgt, 0);
	assert_null(q3);		/* refused: closed at once */
	fake_transport_disconnect(q1);
	assert_true(fake_transport_wait_closed(q1, TC_WAIT_US));
	/* the count drops by message to the app reactor */
	end = nvmft_now_us() + TC_WAIT_US;
	do {
		TC_ON_APP(tc, conns_fn, &a);
	} while (a.conns != 1 && nvmft_now_us() < end && !usleep(500));
	assert_int_equal(a.conns, 1);
	q3 = fake_transport_connect(tc->rt, tc->tgt, 0);
	assert_non_null(q3);
}

/* Destroy with hosts connected: every qpair closes, no leak (ASAN). */
static void test_destroy_with_connected_hosts(void **state)
{
	struct tc *tc = *state;
	struct fake_qpair *aq, *ioq, *idle;
	uint16_t cntlid = 0;

	tc_ss(tc, tc->tgt, TC_NQN, true, true);
	aq = fake_transport_admin_connect(tc->rt, tc->tgt, 0, TC_NQN, TC_HOSTNQN, 0,
					  &cntlid);
	assert_non_null(aq);
	ioq = fake_transport_io_connect(tc->rt, tc->tgt, 1, TC_NQN, TC_HOSTNQN, cntlid, 1);
	assert_non_null(ioq);
	idle = fake_transport_connect(tc->rt, tc->tgt, 1);
	assert_non_null(idle);
	assert_int_equal(fake_transport_tgt_free(tc->rt, tc->tgt), 0);
	tc->tgt = NULL;
	assert_true(fake_transport_wait_closed(aq, TC_WAIT_US));
	assert_true(fake_transport_wait_closed(ioq, TC_WAIT_US));
	assert_true(fake_transport_wait_closed(idle, TC_WAIT_US));
}

/* --- listeners ----------------------------------------------------------- */

struct listen_args {
	struct nvmft_tgt *tgt;
	struct nvmft_subsystem *a, *b;
	int rc[12];
};

static void listen_fn(void *arg)
{
	struct listen_args *l = arg;
	struct nvmft_listen_addr addr, busy, tcp;

	assert_int_equal(nvmft_listen_addr_init(&addr, "127.0.0.1", "4420"), 0);
	snprintf(addr.trtype, sizeof(addr.trtype), "FAKE");
	busy = addr;
	snprintf(busy.traddr, sizeof(busy.traddr), "127.0.0.2");
	assert_int_equal(nvmft_listen_addr_init(&tcp, "127.0.0.1", "4420"), 0);

	l->rc[0] = nvmft_subsystem_add_listener(l->a, &addr);
	l->rc[1] = nvmft_subsystem_add_listener(l->b, &addr);
	l->rc[2] = nvmft_subsystem_add_listener(l->b, &addr);	/* -EEXIST */
	l->rc[3] = nvmft_tgt_listen(l->tgt, &addr);		/* shares it */
	l->rc[4] = nvmft_tgt_listen(l->tgt, &addr);		/* -EEXIST */
	l->rc[5] = nvmft_subsystem_add_listener(l->a, &busy);	/* -EADDRINUSE */
	l->rc[6] = nvmft_subsystem_add_listener(l->a, &tcp);	/* no TCP: -ENOENT */
	l->rc[7] = nvmft_tgt_listen_port(l->tgt, &addr);
	l->rc[8] = nvmft_subsystem_remove_listener(l->a, &addr);
	l->rc[9] = nvmft_subsystem_remove_listener(l->a, &addr);	/* -ENOENT */
	l->rc[10] = nvmft_tgt_stop_listen(l->tgt, &addr);
	l->rc[11] = nvmft_subsystem_remove_listener(l->b, &addr);
}

static void test_listeners_are_shared_and_counted(void **state)
{
	struct tc *tc = *state;
	struct listen_args l = { .tgt = tc->tgt };
	struct fake_transport_stats *st = fake_transport_stats(tc->tgt);
	int listens0, stops0;

	assert_non_null(st);
	l.a = tc_ss(tc, tc->tgt, TC_NQN, true, false);
	l.b = tc_ss(tc, tc->tgt, TC_NQN "-b", true, false);
	listens0 = snap(&st->listens);
	stops0 = snap(&st->stop_listens);
	TC_ON_APP(tc, listen_fn, &l);
	assert_int_equal(l.rc[0], 0);
	assert_int_equal(l.rc[1], 0);
	assert_int_equal(l.rc[2], -EEXIST);
	assert_int_equal(l.rc[3], 0);
	assert_int_equal(l.rc[4], -EEXIST);
	assert_int_equal(l.rc[5], -EADDRINUSE);
	assert_int_equal(l.rc[6], -ENOENT);
	assert_int_equal(l.rc[7], 4420);
	assert_int_equal(l.rc[8], 0);
	assert_int_equal(l.rc[9], -ENOENT);
	assert_int_equal(l.rc[10], 0);
	assert_int_equal(l.rc[11], 0);
	/* one listen for three users; stopped when the last one left */
	assert_int_equal(snap(&st->listens) - listens0, 1);
	assert_int_equal(snap(&st->stop_listens) - stops0, 1);
}

static void test_listen_addr_init_guesses_family(void **state)
{
	struct nvmft_listen_addr a;

	assert_int_equal(nvmft_listen_addr_init(&a, "127.0.0.1", "4420"), 0);
	assert_string_equal(a.trtype, "TCP");
	assert_string_equal(a.adrfam, "IPv4");
	assert_int_equal(nvmft_listen_addr_init(&a, "::1", "0"), 0);
	assert_string_equal(a.adrfam, "IPv6");
	assert_int_equal(nvmft_listen_addr_init(&a, "localhost", "4420"), -EINVAL);
	assert_int_equal(nvmft_listen_addr_init(&a, "127.0.0.1", "65536"), -EINVAL);
	assert_int_equal(nvmft_listen_addr_init(&a, "127.0.0.1", "44x"), -EINVAL);
}

struct create_args {
	struct nvmft_runtime *rt;
	int rc;
};

static void create_off_app_fn(void *arg)
{
	struct create_args *c = arg;
	struct nvmft_tgt *t = NULL;

	/* reactor 1 is not the app reactor */
	c->rc = nvmft_tgt_create(c->rt, NULL, &t);
}

static void test_tgt_create_only_on_app_reactor(void **state)
{
	struct tc *tc = *state;
	struct create_args c = { .rt = tc->rt };

	tc_on(tc, 1, create_off_app_fn, &c);
	assert_int_equal(c.rc, -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tgt_destroy_releases_everything),
		cmocka_unit_test(test_transport_opts_init_knows_tcp_only),
		cmocka_unit_test(test_listen_addr_init_guesses_family),
		cmocka_unit_test_setup_teardown(test_two_tgts_in_one_process, tc_setup, tc_teardown),
		cmocka_unit_test_setup_teardown(test_add_transport_twice_is_eexist, tc_setup, tc_teardown),
		cmocka_unit_test_setup_teardown(test_add_unknown_transport_is_enotsup, tc_setup, tc_teardown),
		cmocka_unit_test_setup_teardown(test_new_qpair_lands_on_chosen_reactor, tc_setup, tc_teardown),
		cmocka_unit_test_setup_teardown(test_max_connections_refuses_then_recovers, tc_setup, tc_teardown),
		cmocka_unit_test_setup_teardown(test_destroy_with_connected_hosts, tc_setup, tc_teardown),
		cmocka_unit_test_setup_teardown(test_listeners_are_shared_and_counted, tc_setup, tc_teardown),
		cmocka_unit_test_setup_teardown(test_tgt_create_only_on_app_reactor, tc_setup, tc_teardown),
	};

	return cmocka_run_group_tests_name("nvmf_tgt", tests, NULL, NULL);
}
