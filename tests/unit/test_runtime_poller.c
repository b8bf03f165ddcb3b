// SPDX-License-Identifier: MIT
/*
 * Pollers: active and timed, pause/resume, unregister from inside.
 * Counts are checked against loose bounds only: the machine is noisy.
 */
#include "unit/test_runtime_common.h"

struct pcase {
	struct nvmft_poller *p;
	struct nvmft_poller *other;
	_Atomic long runs;
	_Atomic long other_runs;
	long stop_after;
	int ret;
	bool null_off_reactor;
};

static int count_poller(void *arg)
{
	struct pcase *c = arg;

	atomic_fetch_add(&c->runs, 1);
	return c->ret;
}

static void reg_active(void *arg)
{
	struct pcase *c = arg;

	c->p = nvmft_poller_register(count_poller, c, 0);
}

static void reg_timed_1ms(void *arg)
{
	struct pcase *c = arg;

	c->p = nvmft_poller_register(count_poller, c, 1000);
}

static void pause_fn(void *arg)
{
	nvmft_poller_pause(((struct pcase *)arg)->p);
}

static void resume_fn(void *arg)
{
	nvmft_poller_resume(((struct pcase *)arg)->p);
}

static void unreg_fn(void *arg)
{
	nvmft_poller_unregister(&((struct pcase *)arg)->p);
}

static void test_active_poller_runs_every_turn(void **state)
{
	struct nvmft_runtime *rt = test_rt_start(state, 1, NVMFT_WAIT_ADAPTIVE);
	struct pcase c = { .ret = 1 };

	assert_int_equal(nvmft_runtime_exec(rt, 0, reg_active, &c), 0);
	assert_non_null(c.p);
	assert_true(test_wait_ge(&c.runs, 1000, 5000000) >= 1000);
	assert_int_equal(nvmft_runtime_exec(rt, 0, unreg_fn, &c), 0);
	assert_null(c.p);
	test_rt_end(rt);
}

static void check_timer_rate(void **state, enum nvmft_wait_mode mode)
{
	struct nvmft_runtime *rt = test_rt_start(state, 1, mode);
	struct pcase c = { .ret = 0 };
	uint64_t t0, t1;
	long n0, n1, expect;

	assert_int_equal(nvmft_runtime_exec(rt, 0, reg_timed_1ms, &c), 0);
	assert_non_null(c.p);
	t0 = nvmft_now_us();
	n0 = atomic_load(&c.runs);
	usleep(300000);
	n1 = atomic_load(&c.runs);
	t1 = nvmft_now_us();
	expect = (long)((t1 - t0) / 1000);
	/*
	 * Never faster than the period; not hopelessly slower either (the
	 * bound is loose: a busy 2-core machine may starve the reactor).
	 */
	assert_true(n1 - n0 <= expect + 2);
	assert_true(n1 - n0 >= expect / 10);
	test_rt_end(rt);
}

static void test_timed_poller_1ms_rate_interrupt(void **state)
{
	check_timer_rate(state, NVMFT_WAIT_INTERRUPT);
}

static void test_timed_poller_1ms_rate_poll(void **state)
{
	check_timer_rate(state, NVMFT_WAIT_POLL);
}

static void check_pause_resume(void **state, void (*reg)(void *))
{
	struct nvmft_runtime *rt = test_rt_start(state, 1, NVMFT_WAIT_ADAPTIVE);
	struct pcase c = { .ret = 0 };
	long n;

	assert_int_equal(nvmft_runtime_exec(rt, 0, reg, &c), 0);
	assert_true(test_wait_ge(&c.runs, 5, 5000000) >= 5);
	assert_int_equal(nvmft_runtime_exec(rt, 0, pause_fn, &c), 0);
	n = atomic_load(&c.runs);
	usleep(50000);
	assert_int_equal(atomic_load(&c.runs), n);
	assert_int_equal(nvmft_runtime_exec(rt, 0, pause_fn, &c), 0);	/* twice */
	assert_int_equal(nvmft_runtime_exec(rt, 0, resume_fn, &c), 0);
	assert_true(test_wait_ge(&c.runs, n + 5, 5000000) >= n + 5);
	assert_int_equal(nvmft_runtime_exec(rt, 0, resume_fn, &c), 0);	/* twice */
	/* Paused at stop: still freed (the leak checkers watch this). */
	assert_int_equal(nvmft_runtime_exec(rt, 0, pause_fn, &c), 0);
	test_rt_end(rt);
}

static void test_active_poller_pause_resume(void **state)
{
	check_pause_resume(state, reg_active);
}

static void test_timed_poller_pause_resume(void **state)
{
	check_pause_resume(state, reg_timed_1ms);
}

static int self_unreg_poller(void *arg)
{
	struct pcase *c = arg;

	if (atomic_fetch_add(&c->runs, 1) + 1 >= c->stop_after)
		nvmft_poller_unregister(&c->p);
	return 1;
}

static int other_poller(void *arg)
{
	struct pcase *c = arg;

	atomic_fetch_add(&c->other_runs, 1);
	return 0;
}

/* Registered right before "other": unregistering it hits the walker's next. */
static int unreg_other_poller(void *arg)
{
	struct pcase *c = arg;

	atomic_fetch_add(&c->runs, 1);
	nvmft_poller_unregister(&c->other);
	nvmft_poller_unregister(&c->p);
	return 1;
}

static void reg_self_unreg(void *arg)
{
	struct pcase *c = arg;

	c->p = nvmft_poller_register(self_unreg_poller, c, c->stop_after > 3 ? 0 : 500);
}

static void reg_pair(void *arg)
{
	struct pcase *c = arg;

	c->p = nvmft_poller_register(unreg_other_poller, c, 0);
	c->other = nvmft_poller_register(other_poller, c, 0);
}

static void test_poller_unregisters_itself(void **state)
{
	struct nvmft_runtime *rt = test_rt_start(state, 1, NVMFT_WAIT_ADAPTIVE);
	struct pcase a = { .stop_after = 5 }, b = { .stop_after = 3 };

	assert_int_equal(nvmft_runtime_exec(rt, 0, reg_self_unreg, &a), 0);
	assert_int_equal(nvmft_runtime_exec(rt, 0, reg_self_unreg, &b), 0);
	assert_int_equal(test_wait_ge(&a.runs, 5, 5000000), 5);
	assert_int_equal(test_wait_ge(&b.runs, 3, 5000000), 3);
	usleep(20000);
	assert_int_equal(atomic_load(&a.runs), 5);
	assert_int_equal(atomic_load(&b.runs), 3);
	assert_int_equal(nvmft_runtime_exec(rt, 0, unreg_fn, &a), 0);	/* NULL: no-op */
	test_rt_end(rt);
}

static void test_poller_unregisters_the_next_one(void **state)
{
	struct nvmft_runtime *rt = test_rt_start(state, 1, NVMFT_WAIT_ADAPTIVE);
	struct pcase c = { 0 };

	assert_int_equal(nvmft_runtime_exec(rt, 0, reg_pair, &c), 0);
	assert_int_equal(test_wait_ge(&c.runs, 1, 5000000), 1);
	usleep(20000);
	assert_int_equal(atomic_load(&c.runs), 1);
	assert_int_equal(atomic_load(&c.other_runs), 0);
	test_rt_end(rt);
}

static void test_register_off_reactor_fails(void **state)
{
	(void)state;
	assert_null(nvmft_poller_register(count_poller, NULL, 0));
	nvmft_poller_unregister(NULL);
}

static void reg_many(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < 4; i++) {
		nvmft_poller_register(count_poller, arg, 0);
		nvmft_poller_register(count_poller, arg, 10000 + (uint64_t)i);
	}
}

static void test_pollers_left_at_stop_are_freed(void **state)
{
	struct nvmft_runtime *rt = test_rt_start(state, 2, NVMFT_WAIT_INTERRUPT);
	struct pcase c = { 0 };

	assert_int_equal(nvmft_runtime_exec(rt, 1, reg_many, &c), 0);
	assert_true(test_wait_ge(&c.runs, 8, 5000000) >= 8);
	test_rt_end(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		RT_TEST(test_active_poller_runs_every_turn),
		RT_TEST(test_timed_poller_1ms_rate_interrupt),
		RT_TEST(test_timed_poller_1ms_rate_poll),
		RT_TEST(test_active_poller_pause_resume),
		RT_TEST(test_timed_poller_pause_resume),
		RT_TEST(test_poller_unregisters_itself),
		RT_TEST(test_poller_unregisters_the_next_one),
		cmocka_unit_test(test_register_off_reactor_fails),
		RT_TEST(test_pollers_left_at_stop_are_freed),
	};

	return cmocka_run_group_tests_name("runtime_poller", tests, NULL, NULL);
}
