// SPDX-License-Identifier: MIT
/*
 * Messages: ordering and no loss under several producers, a full inbox,
 * wake-ups in interrupt mode, for_each, exit handlers, the stop sequence.
 */
#include <pthread.h>
#include <semaphore.h>
#include <time.h>

#include "unit/test_runtime_common.h"
#include "runtime/engine.h"

#define NR_PRODUCERS	4
#define PER_PRODUCER	100000L

struct order_check {
	uint64_t next[NR_PRODUCERS];	/* touched by the reactor only */
	_Atomic long received;
	_Atomic long out_of_order;
	_Atomic long enomem;
	_Atomic long gave_up;
};

struct producer {
	struct order_check *oc;
	struct nvmft_thread *to;
	unsigned int id;
	long count;
	uint64_t deadline;
};

static struct order_check *g_oc;	/* test-only: one checker at a time */

static void order_check_msg(void *arg)
{
	uintptr_t v = (uintptr_t)arg;
	unsigned int id = (unsigned int)(v >> 32);
	uint64_t seq = v & 0xffffffffu;

	if (g_oc->next[id] != seq)
		atomic_fetch_add(&g_oc->out_of_order, 1);
	g_oc->next[id] = seq + 1;
	atomic_fetch_add(&g_oc->received, 1);
}

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	long i;

	for (i = 0; i < p->count; i++) {
		void *m = (void *)(((uintptr_t)p->id << 32) | (uintptr_t)i);
		int rc;

		while ((rc = nvmft_thread_send_msg(p->to, order_check_msg, m)) ==
		       -ENOMEM) {
			atomic_fetch_add(&p->oc->enomem, 1);
			if (nvmft_now_us() > p->deadline) {
				atomic_fetch_add(&p->oc->gave_up, 1);
				return NULL;
			}
			sched_yield();
		}
		if (rc) {
			atomic_fetch_add(&p->oc->gave_up, 1);
			return NULL;
		}
	}
	return NULL;
}

static void run_producers(void **state, unsigned int ring, long per_producer)
{
	struct nvmft_runtime_opts o;
	struct nvmft_runtime *rt;
	struct order_check oc;
	struct producer p[NR_PRODUCERS];
	pthread_t tid[NR_PRODUCERS];
	unsigned int i;
	long total = NR_PRODUCERS * per_producer;

	memset(&oc, 0, sizeof(oc));
	g_oc = &oc;
	nvmft_runtime_opts_init(&o);
	o.nr_reactors = 1;
	o.msg_ring_size = ring;
	rt = test_rt_start_opts(state, &o);
	for (i = 0; i < NR_PRODUCERS; i++) {
		p[i] = (struct producer){ .oc = &oc, .id = i, .count = per_producer,
					  .to = nvmft_runtime_get_thread(rt, 0),
					  .deadline = nvmft_now_us() + 20000000 };
		assert_int_equal(pthread_create(&tid[i], NULL, producer_main, &p[i]), 0);
	}
	for (i = 0; i < NR_PRODUCERS; i++)
		pthread_join(tid[i], NULL);
	assert_int_equal(atomic_load(&oc.gave_up), 0);
	assert_int_equal(test_wait_ge(&oc.received, total, 10000000), total);
	assert_int_equal(atomic_load(&oc.out_of_order), 0);
	for (i = 0; i < NR_PRODUCERS; i++)
		assert_int_equal(oc.next[i], (uint64_t)per_producer);
	test_rt_end(rt);
	if (ring < 64)
		assert_true(atomic_load(&oc.enomem) > 0);
	g_oc = NULL;
}

static void test_four_producers_keep_order_and_lose_nothing(void **state)
{
	run_producers(state, 0, PER_PRODUCER);
}

static void test_tiny_inbox_producers_retry_on_enomem(void **state)
{
	run_producers(state, 8, 5000);
}

struct gate {
	_Atomic int entered;
	_Atomic int open;
};

/* Holds its reactor until the gate opens (bounded). */
static void gate_msg(void *arg)
{
	struct gate *g = arg;
	uint64_t end = nvmft_now_us() + 10000000;

	atomic_store(&g->entered, 1);
	while (!atomic_load(&g->open) && nvmft_now_us() < end)
		usleep(100);
}

static void count_msg(void *arg)
{
	atomic_fetch_add((_Atomic long *)arg, 1);
}

static void test_full_inbox_returns_enomem_then_drains(void **state)
{
	struct nvmft_runtime_opts o;
	struct nvmft_runtime *rt;
	struct nvmft_thread *t;
	struct gate g = { 0 };
	_Atomic long ran = 0;
	uint64_t end = nvmft_now_us() + 5000000;
	int i;

	nvmft_runtime_opts_init(&o);
	o.nr_reactors = 1;
	o.msg_ring_size = 4;
	rt = test_rt_start_opts(state, &o);
	t = nvmft_runtime_get_thread(rt, 0);
	assert_int_equal(nvmft_thread_send_msg(t, gate_msg, &g), 0);
	while (!atomic_load(&g.entered) && nvmft_now_us() < end)
		usleep(100);
	assert_int_equal(atomic_load(&g.entered), 1);
	for (i = 0; i < 4; i++)
		assert_int_equal(nvmft_thread_send_msg(t, count_msg, &ran), 0);
	assert_int_equal(nvmft_thread_send_msg(t, count_msg, &ran), -ENOMEM);
	assert_int_equal(atomic_load(&ran), 0);
	atomic_store(&g.open, 1);
	assert_int_equal(test_wait_ge(&ran, 4, 5000000), 4);
	assert_int_equal(nvmft_thread_send_msg(t, count_msg, &ran), 0);
	assert_int_equal(test_wait_ge(&ran, 5, 5000000), 5);
	assert_int_equal(nvmft_thread_send_msg(NULL, count_msg, &ran), -EINVAL);
	assert_int_equal(nvmft_thread_send_msg(t, NULL, NULL), -EINVAL);
	test_rt_end(rt);
}

/* Ping-pong between reactors: a lost wake-up stalls the ball for good. */
struct pingpong {
	struct nvmft_runtime *rt;
	long limit;
	_Atomic long hits;
	_Atomic long errors;
};

static void pong_msg(void *arg)
{
	struct pingpong *pp = arg;
	struct nvmft_thread *self = nvmft_get_thread();
	unsigned int other = nvmft_thread_index(self) ^ 1;
	long n = atomic_fetch_add(&pp->hits, 1) + 1;

	if (n >= pp->limit)
		return;
	if (nvmft_thread_send_msg(nvmft_runtime_get_thread(pp->rt, other),
				  pong_msg, pp))
		atomic_fetch_add(&pp->errors, 1);
}

static void check_reactor_ping_pong(void **state, enum nvmft_wait_mode mode,
				    long limit)
{
	struct pingpong pp = { .limit = limit };

	pp.rt = test_rt_start(state, 2, mode);
	assert_int_equal(nvmft_thread_send_msg(nvmft_runtime_get_thread(pp.rt, 0),
					       pong_msg, &pp), 0);
	assert_int_equal(test_wait_ge(&pp.hits, pp.limit, 20000000), pp.limit);
	assert_int_equal(atomic_load(&pp.errors), 0);
	test_rt_end(pp.rt);
}

static void test_no_lost_wakeup_between_reactors_interrupt(void **state)
{
	check_reactor_ping_pong(state, NVMFT_WAIT_INTERRUPT, 10000);
}

static void test_no_lost_wakeup_between_reactors_adaptive(void **state)
{
	/* Spinning reactors on a loaded 2-core box hop slowly: fewer hops. */
	check_reactor_ping_pong(state, NVMFT_WAIT_ADAPTIVE, 2000);
}

static void sem_post_msg(void *arg)
{
	sem_post(arg);
}

/* A non-reactor thread and a sleeping reactor, 10k round trips. */
static void test_no_lost_wakeup_from_outside_interrupt(void **state)
{
	struct nvmft_runtime *rt = test_rt_start(state, 2, NVMFT_WAIT_INTERRUPT);
	sem_t sem;
	int i, rc = 0;

	assert_int_equal(sem_init(&sem, 0, 0), 0);
	for (i = 0; i < 10000 && rc == 0; i++) {
		struct timespec ts;

		assert_int_equal(nvmft_thread_send_msg(
			nvmft_runtime_get_thread(rt, (unsigned int)i & 1),
			sem_post_msg, &sem), 0);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 5;
		while ((rc = sem_timedwait(&sem, &ts)) && errno == EINTR)
			;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(i, 10000);
	sem_destroy(&sem);
	test_rt_end(rt);
}

static void flag_msg(void *arg)
{
	atomic_fetch_add((_Atomic long *)arg, 1);
}

static void spin_ns(uint64_t ns)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	do {
		clock_gettime(CLOCK_MONOTONIC, &b);
	} while ((uint64_t)((b.tv_sec - a.tv_sec) * 1000000000L +
			    (b.tv_nsec - a.tv_nsec)) < ns);
}

/*
 * The sender spins on the reply and sends the next message 0-6.4 us after
 * it: that sweeps the window where the reactor finishes its turn and goes
 * to sleep, which is where a broken handshake loses the wake-up.
 */
static void test_no_lost_wakeup_racing_the_sleep(void **state)
{
	struct nvmft_runtime *rt = test_rt_start(state, 1, NVMFT_WAIT_INTERRUPT);
	struct nvmft_thread *t = nvmft_runtime_get_thread(rt, 0);
	_Atomic long replies = 0;
	long i, stalls = 0;

	for (i = 0; i < 10000 && !stalls; i++) {
		uint64_t end;

		assert_int_equal(nvmft_thread_send_msg(t, flag_msg, &replies), 0);
		end = nvmft_now_us() + 2000000;
		while (atomic_load(&replies) <= i)
			if (nvmft_now_us() > end) {
				stalls++;
				break;
			}
		spin_ns((uint64_t)(i % 64) * 100);
	}
	assert_int_equal(stalls, 0);
	assert_int_equal(atomic_load(&replies), 10000);
	test_rt_end(rt);
}

struct walk_rec {
	int order[8];
	_Atomic int n;
	_Atomic int done_on;
	_Atomic long finished;
	int start_rc;
	struct nvmft_runtime *rt;
};

static void walk_fn(void *arg)
{
	struct walk_rec *w = arg;
	int i = atomic_fetch_add(&w->n, 1);

	if (i < 8)
		w->order[i] = (int)nvmft_thread_index(nvmft_get_thread());
}

static void walk_done(void *arg)
{
	struct walk_rec *w = arg;

	atomic_store(&w->done_on, (int)nvmft_thread_index(nvmft_get_thread()));
	atomic_store(&w->finished, 1);
}

static void walk_start(void *arg)
{
	struct walk_rec *w = arg;

	w->start_rc = nvmft_thread_for_each(w->rt, walk_fn, w, walk_done);
}

static void test_for_each_visits_in_order_then_done(void **state)
{
	struct walk_rec w = { .done_on = -1 };

	w.rt = test_rt_start(state, 3, NVMFT_WAIT_ADAPTIVE);
	assert_int_equal(nvmft_runtime_exec(w.rt, 1, walk_start, &w), 0);
	assert_int_equal(w.start_rc, 0);
	assert_int_equal(test_wait_ge(&w.finished, 1, 5000000), 1);
	assert_int_equal(atomic_load(&w.n), 3);
	assert_int_equal(w.order[0], 0);
	assert_int_equal(w.order[1], 1);
	assert_int_equal(w.order[2], 2);
	assert_int_equal(atomic_load(&w.done_on), 1);
	/* Off-reactor there is nobody to run done on. */
	assert_int_equal(nvmft_thread_for_each(w.rt, walk_fn, &w, NULL), -EINVAL);
	test_rt_end(w.rt);
}

struct exit_rec {
	char log[16];
	_Atomic int n;
};

static void rec(struct exit_rec *r, char c)
{
	int i = atomic_fetch_add(&r->n, 1);

	if (i < 15)
		r->log[i] = c;
}

static void exit_a(void *arg) { rec(arg, 'a'); }
static void exit_b(void *arg) { rec(arg, 'b'); }
static void exit_c(void *arg) { rec(arg, 'c'); }
static void early_msg(void *arg) { rec(arg, 'm'); }

static void register_exits(void *arg)
{
	nvmft_thread_at_exit(exit_a, arg);
	nvmft_thread_at_exit(exit_b, arg);
	nvmft_thread_at_exit(exit_c, arg);
}

static void test_exit_handlers_run_lifo_once_after_queued_messages(void **state)
{
	struct nvmft_runtime *rt = test_rt_start(state, 1, NVMFT_WAIT_INTERRUPT);
	struct exit_rec r;

	memset(&r, 0, sizeof(r));

	assert_int_equal(nvmft_runtime_exec(rt, 0, register_exits, &r), 0);
	assert_int_equal(nvmft_thread_send_msg(nvmft_runtime_get_thread(rt, 0),
					       early_msg, &r), 0);
	nvmft_runtime_stop(rt);
	assert_string_equal(r.log, "mcba");
	test_rt_destroy(rt);
	assert_int_equal(nvmft_thread_at_exit(exit_a, &r), -EINVAL);
}

/*
 * Reactor 0 and 1 each hold a reference at stop. 0's exit handler sends to
 * 1 (stopping, not exited: the send must work), 1 drops its reference and
 * answers 0, which drops its own. Both must exit well before the deadline.
 */
struct refs_case {
	struct nvmft_runtime *rt;
	_Atomic int send_rc_1;
	_Atomic int send_rc_0;
	_Atomic int released;
};

static void take_ref(void *arg)
{
	(void)arg;
	thread_ref_get(nvmft_get_thread());
}

static void release_on_0(void *arg)
{
	struct refs_case *c = arg;

	thread_ref_put(nvmft_get_thread());
	atomic_fetch_add(&c->released, 1);
}

static void release_on_1(void *arg)
{
	struct refs_case *c = arg;

	thread_ref_put(nvmft_get_thread());
	atomic_fetch_add(&c->released, 1);
	atomic_store(&c->send_rc_0, nvmft_thread_send_msg(
		nvmft_runtime_get_thread(c->rt, 0), release_on_0, c));
}

static void exit_on_0(void *arg)
{
	struct refs_case *c = arg;

	atomic_store(&c->send_rc_1, nvmft_thread_send_msg(
		nvmft_runtime_get_thread(c->rt, 1), release_on_1, c));
}

static void register_exit_on_0(void *arg)
{
	thread_ref_get(nvmft_get_thread());
	nvmft_thread_at_exit(exit_on_0, arg);
}

static void test_stop_waits_for_refs_released_by_later_messages(void **state)
{
	struct refs_case c = { .send_rc_1 = 1, .send_rc_0 = 1 };
	uint64_t t0;

	c.rt = test_rt_start(state, 2, NVMFT_WAIT_INTERRUPT);
	assert_int_equal(nvmft_runtime_exec(c.rt, 1, take_ref, NULL), 0);
	assert_int_equal(nvmft_runtime_exec(c.rt, 0, register_exit_on_0, &c), 0);
	t0 = nvmft_now_us();
	nvmft_runtime_stop(c.rt);
	assert_true(nvmft_now_us() - t0 < 4000000);
	assert_int_equal(atomic_load(&c.send_rc_1), 0);
	assert_int_equal(atomic_load(&c.send_rc_0), 0);
	assert_int_equal(atomic_load(&c.released), 2);
	test_rt_destroy(c.rt);
}

struct warn_log {
	_Atomic int deadline_warnings;
};

static void warn_sink(void *ctx, enum nvmft_log_level level, const char *msg)
{
	struct warn_log *w = ctx;

	if (level <= NVMFT_LOG_WARN && strstr(msg, "deadline"))
		atomic_fetch_add(&w->deadline_warnings, 1);
}

/* A reference nobody drops: the reactor gives up after ~5 s, and says so. */
static void test_stop_deadline_ends_a_leaked_ref(void **state)
{
	struct nvmft_runtime *rt = test_rt_start(state, 2, NVMFT_WAIT_INTERRUPT);
	struct warn_log w = { 0 };
	uint64_t t0, dt;

	nvmft_runtime_set_log(rt, NVMFT_LOG_WARN, warn_sink, &w);
	assert_int_equal(nvmft_runtime_exec(rt, 1, take_ref, NULL), 0);
	t0 = nvmft_now_us();
	nvmft_runtime_stop(rt);
	dt = nvmft_now_us() - t0;
	assert_true(dt >= 4500000);
	assert_true(dt < 15000000);
	assert_int_equal(atomic_load(&w.deadline_warnings), 1);
	test_rt_destroy(rt);
}

/* Flood, then stop: every message either ran or its send failed. */
struct flood {
	struct nvmft_runtime *rt;
	_Atomic long ran;
	_Atomic long accepted;
	_Atomic long refused;
	_Atomic int go;
	_Atomic int other_error;
};

static void flood_msg(void *arg)
{
	atomic_fetch_add(&((struct flood *)arg)->ran, 1);
}

static void *flooder(void *arg)
{
	struct flood *f = arg;
	uint64_t end = nvmft_now_us() + 10000000;
	unsigned int i = 0;

	while (!atomic_load(&f->go))
		sched_yield();
	while (nvmft_now_us() < end) {
		int rc = nvmft_thread_send_msg(
			nvmft_runtime_get_thread(f->rt, i++ % 2), flood_msg, f);

		if (rc == 0) {
			atomic_fetch_add(&f->accepted, 1);
		} else if (rc == -ENOMEM) {
			sched_yield();
		} else if (rc == -ESHUTDOWN) {
			atomic_fetch_add(&f->refused, 1);
			/* Both refuse once both exited. */
			if (atomic_load(&f->refused) > 1000)
				break;
		} else {
			atomic_store(&f->other_error, rc);
			break;
		}
	}
	return NULL;
}

static void test_stop_with_messages_in_flight_loses_none(void **state)
{
	struct flood f = { 0 };
	pthread_t tid[2];
	int i;

	f.rt = test_rt_start(state, 2, NVMFT_WAIT_ADAPTIVE);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&tid[i], NULL, flooder, &f), 0);
	atomic_store(&f.go, 1);
	usleep(50000);
	nvmft_runtime_stop(f.rt);
	for (i = 0; i < 2; i++)
		pthread_join(tid[i], NULL);
	assert_int_equal(atomic_load(&f.other_error), 0);
	assert_true(atomic_load(&f.accepted) > 0);
	assert_true(atomic_load(&f.refused) > 0);
	assert_int_equal(atomic_load(&f.ran), atomic_load(&f.accepted));
	test_rt_destroy(f.rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		RT_TEST(test_four_producers_keep_order_and_lose_nothing),
		RT_TEST(test_tiny_inbox_producers_retry_on_enomem),
		RT_TEST(test_full_inbox_returns_enomem_then_drains),
		RT_TEST(test_no_lost_wakeup_between_reactors_interrupt),
		RT_TEST(test_no_lost_wakeup_between_reactors_adaptive),
		RT_TEST(test_no_lost_wakeup_from_outside_interrupt),
		RT_TEST(test_no_lost_wakeup_racing_the_sleep),
		RT_TEST(test_for_each_visits_in_order_then_done),
		RT_TEST(test_exit_handlers_run_lifo_once_after_queued_messages),
		RT_TEST(test_stop_waits_for_refs_released_by_later_messages),
		RT_TEST(test_stop_with_messages_in_flight_loses_none),
		/* 5 s each: one engine is enough, the deadline is engine-blind. */
		cmocka_unit_test_prestate_setup_teardown(
			test_stop_deadline_ends_a_leaked_ref, NULL, test_rt_teardown,
			(void *)&engine_epoll),
	};

	return cmocka_run_group_tests_name("runtime_msg", tests, NULL, NULL);
}
