/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the runtime unit tests (test_runtime*.c): each test
 * runs once per engine, passed as the cmocka initial state.
 */
#ifndef NVMFT_TEST_RUNTIME_COMMON_H
#define NVMFT_TEST_RUNTIME_COMMON_H

#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <nvmft/runtime.h>

/*
 * valgrind 3.19 keeps its global lock while a thread blocks in
 * io_uring_enter(), so a sleeping uring reactor freezes the process:
 * under valgrind only the epoll variants run.
 */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

static const enum nvmft_engine engine_uring = NVMFT_ENGINE_URING;
static const enum nvmft_engine engine_epoll = NVMFT_ENGINE_EPOLL;

/* The runtime of the running test, stopped by the teardown if it failed. */
static struct nvmft_runtime *test_cur_rt;

static inline int test_rt_teardown(void **state)
{
	(void)state;
	if (test_cur_rt) {
		nvmft_runtime_stop(test_cur_rt);
		nvmft_runtime_destroy(test_cur_rt);
		test_cur_rt = NULL;
	}
	return 0;
}

#define RT_TEST(f) \
	cmocka_unit_test_prestate_setup_teardown(f, NULL, test_rt_teardown, \
						 (void *)&engine_uring), \
	cmocka_unit_test_prestate_setup_teardown(f, NULL, test_rt_teardown, \
						 (void *)&engine_epoll)

static inline enum nvmft_engine test_engine(void **state)
{
	return *(const enum nvmft_engine *)*state;
}

/* Quiet unless something is wrong. */
static inline void test_quiet_log(void *ctx, enum nvmft_log_level level,
				  const char *msg)
{
	(void)ctx;
	if (level <= NVMFT_LOG_WARN)
		fprintf(stderr, "log %d: %s\n", level, msg);
}

/*
 * Create and start a runtime for the test's engine; skips the test when
 * io_uring is unusable here.
 */
static inline struct nvmft_runtime *
test_rt_start_opts(void **state, struct nvmft_runtime_opts *o)
{
	struct nvmft_runtime *rt = NULL;
	int rc;

	o->engine = test_engine(state);
	if (o->engine == NVMFT_ENGINE_URING && RUNNING_ON_VALGRIND) {
		fprintf(stderr, "SKIP: io_uring under valgrind\n");
		skip();
	}
	rc = nvmft_runtime_create(o, &rt);
	if (rc == -EPERM || rc == -ENOSYS) {
		fprintf(stderr, "SKIP: io_uring unavailable (%d)\n", rc);
		skip();
	}
	assert_int_equal(rc, 0);
	nvmft_runtime_set_log(rt, NVMFT_LOG_WARN, test_quiet_log, NULL);
	assert_int_equal(nvmft_runtime_engine(rt), test_engine(state));
	test_cur_rt = rt;
	assert_int_equal(nvmft_runtime_start(rt), 0);
	return rt;
}

static inline struct nvmft_runtime *
test_rt_start(void **state, unsigned int nr, enum nvmft_wait_mode mode)
{
	struct nvmft_runtime_opts o;

	nvmft_runtime_opts_init(&o);
	o.nr_reactors = nr;
	o.wait_mode = mode;
	o.name = "t";
	return test_rt_start_opts(state, &o);
}

static inline void test_rt_end(struct nvmft_runtime *rt)
{
	if (rt == test_cur_rt)
		test_cur_rt = NULL;
	nvmft_runtime_stop(rt);
	nvmft_runtime_destroy(rt);
}

static inline void test_rt_destroy(struct nvmft_runtime *rt)
{
	if (rt == test_cur_rt)
		test_cur_rt = NULL;
	nvmft_runtime_destroy(rt);
}

/* Wait (bounded) until *@v reaches @want; returns the last value seen. */
static inline long test_wait_ge(_Atomic long *v, long want, uint64_t timeout_us)
{
	uint64_t end = nvmft_now_us() + timeout_us;
	long cur;

	while ((cur = atomic_load(v)) < want && nvmft_now_us() < end)
		usleep(200);
	return cur;
}

#endif
