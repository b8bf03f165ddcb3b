// SPDX-License-Identifier: MIT
/*
 * Live changes of the wait mode and of the adaptive spin time
 * (nvmft_runtime_set_wait_mode(), nvmft_runtime_set_idle_spin_us()): no
 * message is lost while the mode changes under a stream of them, a
 * sleeping reactor switched to poll starts polling at once and goes idle
 * again when switched back, and the spin time is read on every idle turn.
 * Each test runs on both engines.
 */
#include <pthread.h>

#include "test_runtime_common.h"

/* Bounded wait for a counter of @t to pass @target; returns the value. */
static uint64_t wait_stat(struct nvmft_thread *t, size_t off, uint64_t target)
{
	uint64_t end = nvmft_now_us() + 5000000, v;
	struct nvmft_thread_stats st;

	for (;;) {
		nvmft_thread_get_stats(t, &st);
		v = *(uint64_t *)((char *)&st + off);
		if (v > target || nvmft_now_us() > end)
			return v;
		usleep(1000);
	}
}

#define LOOPS(t, n)  wait_stat(t, offsetof(struct nvmft_thread_stats, loops), n)
#define SLEEPS(t, n) wait_stat(t, offsetof(struct nvmft_thread_stats, sleeps), n)

/* Loop turns in 100 ms: a sleeping reactor makes (almost) none. */
static uint64_t turns_in_100ms(struct nvmft_thread *t)
{
	struct nvmft_thread_stats a, b;

	nvmft_thread_get_stats(t, &a);
	usleep(100000);
	nvmft_thread_get_stats(t, &b);
	return b.loops - a.loops;
}

static void test_idle_spin_range_is_checked(void **state)
{
	struct nvmft_runtime_opts o;
	struct nvmft_runtime *rt = NULL;

	nvmft_runtime_opts_init(&o);
	assert_int_equal(o.idle_spin_us, 200);
	o.engine = test_engine(state);
	o.nr_reactors = 1;
	o.idle_spin_us = NVMFT_IDLE_SPIN_US_MAX + 1;
	assert_int_equal(nvmft_runtime_create(&o, &rt), -EINVAL);
	assert_null(rt);

	rt = test_rt_start(state, 1, NVMFT_WAIT_ADAPTIVE);
	assert_int_equal(nvmft_runtime_get_idle_spin_us(rt), 200);
	assert_int_equal(nvmft_runtime_set_idle_spin_us(rt, NVMFT_IDLE_SPIN_US_MAX), 0);
	assert_int_equal(nvmft_runtime_get_idle_spin_us(rt), NVMFT_IDLE_SPIN_US_MAX);
	assert_int_equal(nvmft_runtime_set_idle_spin_us(rt, NVMFT_IDLE_SPIN_US_MAX + 1),
			 -EINVAL);
	assert_int_equal(nvmft_runtime_get_idle_spin_us(rt), NVMFT_IDLE_SPIN_US_MAX);
	assert_int_equal(nvmft_runtime_set_idle_spin_us(rt, 0), 0);
	assert_int_equal(nvmft_runtime_get_idle_spin_us(rt), 0);
	assert_int_equal(nvmft_runtime_set_idle_spin_us(NULL, 5), -EINVAL);
	/* An invalid mode is ignored. */
	nvmft_runtime_set_wait_mode(rt, (enum nvmft_wait_mode)9);
	assert_int_equal(nvmft_runtime_get_wait_mode(rt), NVMFT_WAIT_ADAPTIVE);
	test_rt_end(rt);
}

/* ---- modes change under a stream of messages ---- */

#define STREAM_MSGS	20000

struct stream {
	struct nvmft_runtime *rt;
	_Atomic long ran;
	_Atomic bool stop;
	long sent;
};

static void count_msg(void *arg)
{
	struct stream *s = arg;

	atomic_fetch_add(&s->ran, 1);
}

static void *sender(void *arg)
{
	struct stream *s = arg;
	struct nvmft_thread *t = nvmft_runtime_get_thread(s->rt, 1);
	uint64_t end = nvmft_now_us() + 10000000;

	while (s->sent < STREAM_MSGS && !atomic_load(&s->stop) &&
	       nvmft_now_us() < end) {
		if (nvmft_thread_send_msg(t, count_msg, s) == 0)
			s->sent++;
		else
			usleep(50);	/* inbox full: let the reactor catch up */
		if (s->sent % 64 == 0)
			usleep(100);	/* gaps, so that the reactor idles */
	}
	return NULL;
}

static void test_no_message_lost_while_the_mode_changes(void **state)
{
	static const enum nvmft_wait_mode seq[] = {
		NVMFT_WAIT_ADAPTIVE, NVMFT_WAIT_POLL, NVMFT_WAIT_INTERRUPT,
		NVMFT_WAIT_POLL, NVMFT_WAIT_ADAPTIVE, NVMFT_WAIT_INTERRUPT,
	};
	struct stream s = { 0 };
	pthread_t th;
	unsigned int i = 0;

	s.rt = test_rt_start(state, 2, NVMFT_WAIT_ADAPTIVE);
	assert_int_equal(pthread_create(&th, NULL, sender, &s), 0);
	/* Switch (and change the spin) every 2 ms while the stream runs. */
	while (atomic_load(&s.ran) < STREAM_MSGS / 2 && i < 4000) {
		nvmft_runtime_set_wait_mode(s.rt, seq[i % 6]);
		assert_int_equal(nvmft_runtime_set_idle_spin_us(s.rt, (i % 3) * 100), 0);
		usleep(2000);
		i++;
	}
	pthread_join(th, NULL);
	assert_true(s.sent > STREAM_MSGS / 2);
	/* Ends in interrupt mode: the last ones still run (the send wakes). */
	nvmft_runtime_set_wait_mode(s.rt, NVMFT_WAIT_INTERRUPT);
	assert_int_equal(test_wait_ge(&s.ran, s.sent, 5000000), s.sent);
	test_rt_end(s.rt);
}

/* ---- a sleeper switched to poll polls, and back ---- */

static void test_sleeper_switched_to_poll_polls_then_idles(void **state)
{
	struct nvmft_runtime *rt = test_rt_start(state, 1, NVMFT_WAIT_INTERRUPT);
	struct nvmft_thread *t = nvmft_runtime_get_thread(rt, 0);
	struct nvmft_thread_stats a, b;

	/* Asleep: no message, no timer, so no loop turn. */
	assert_true(SLEEPS(t, 0) > 0);
	assert_true(turns_in_100ms(t) < 50);

	nvmft_thread_get_stats(t, &a);
	nvmft_runtime_set_wait_mode(rt, NVMFT_WAIT_POLL);
	assert_true(LOOPS(t, a.loops + 10000) > a.loops + 10000);
	nvmft_thread_get_stats(t, &b);
	/* Busy-looping, not sleeping (one sleep may be on its way out). */
	assert_true(b.sleeps <= a.sleeps + 1);
	assert_true(turns_in_100ms(t) > 1000);

	nvmft_thread_get_stats(t, &a);
	nvmft_runtime_set_wait_mode(rt, NVMFT_WAIT_INTERRUPT);
	assert_true(SLEEPS(t, a.sleeps) > a.sleeps);
	assert_true(turns_in_100ms(t) < 50);
	test_rt_end(rt);
}

/* ---- the spin time is read live ---- */

static void noop(void *arg)
{
}

static void test_adaptive_reactor_follows_the_spin_time(void **state)
{
	struct nvmft_runtime_opts o;
	struct nvmft_runtime *rt;
	struct nvmft_thread *t;
	struct nvmft_thread_stats a, b;

	nvmft_runtime_opts_init(&o);
	o.nr_reactors = 1;
	o.wait_mode = NVMFT_WAIT_ADAPTIVE;
	o.idle_spin_us = 0;
	o.name = "t";
	rt = test_rt_start_opts(state, &o);
	t = nvmft_runtime_get_thread(rt, 0);
	assert_true(SLEEPS(t, 0) > 0);
	assert_true(turns_in_100ms(t) < 50);

	/*
	 * A spin of 1 s: the next piece of work (this message) makes the
	 * reactor spin for that long, so it busy-loops for the next 100 ms.
	 */
	assert_int_equal(nvmft_runtime_set_idle_spin_us(rt, NVMFT_IDLE_SPIN_US_MAX), 0);
	nvmft_thread_get_stats(t, &a);
	assert_int_equal(nvmft_runtime_exec(rt, 0, noop, NULL), 0);
	assert_true(turns_in_100ms(t) > 1000);
	nvmft_thread_get_stats(t, &b);
	assert_true(b.sleeps <= a.sleeps + 1);

	/* Back to no spin: it sleeps at its next idle turn, without a wake-up. */
	nvmft_thread_get_stats(t, &a);
	assert_int_equal(nvmft_runtime_set_idle_spin_us(rt, 0), 0);
	assert_true(SLEEPS(t, a.sleeps) > a.sleeps);
	assert_true(turns_in_100ms(t) < 50);
	test_rt_end(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		RT_TEST(test_idle_spin_range_is_checked),
		RT_TEST(test_no_message_lost_while_the_mode_changes),
		RT_TEST(test_sleeper_switched_to_poll_polls_then_idles),
		RT_TEST(test_adaptive_reactor_follows_the_spin_time),
	};

	return cmocka_run_group_tests_name("runtime_wait", tests, NULL, NULL);
}
