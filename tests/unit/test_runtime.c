// SPDX-License-Identifier: MIT
/*
 * Runtime life cycle, options, exec, engine choice, wait modes, engine
 * completions (engine.h), logging, CPU lists.
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "unit/test_runtime_common.h"
#include "runtime/engine.h"

struct where {
	struct nvmft_thread *t;
	char name[16];
	int cpu;
	cpu_set_t aff;
};

static void where_fn(void *arg)
{
	struct where *w = arg;

	w->t = nvmft_get_thread();
	pthread_getname_np(pthread_self(), w->name, sizeof(w->name));
	w->cpu = sched_getcpu();
	pthread_getaffinity_np(pthread_self(), sizeof(w->aff), &w->aff);
}

static void test_create_start_stop_destroy(void **state)
{
	struct nvmft_runtime *rt = test_rt_start(state, 2, NVMFT_WAIT_ADAPTIVE);
	unsigned int i;

	assert_int_equal(nvmft_runtime_nr_threads(rt), 2);
	assert_null(nvmft_runtime_get_thread(rt, 2));
	assert_null(nvmft_get_thread());
	for (i = 0; i < 2; i++) {
		struct nvmft_thread *t = nvmft_runtime_get_thread(rt, i);
		struct where w = { 0 };
		char want[16];

		assert_non_null(t);
		assert_int_equal(nvmft_thread_index(t), i);
		assert_ptr_equal(nvmft_thread_get_runtime(t), rt);
		assert_int_equal(nvmft_runtime_exec(rt, i, where_fn, &w), 0);
		assert_ptr_equal(w.t, t);
		snprintf(want, sizeof(want), "t_r%u", i);
		assert_string_equal(w.name, want);
	}
	assert_int_equal(nvmft_runtime_start(rt), -EALREADY);
	test_rt_end(rt);
}

static void test_destroy_without_start(void **state)
{
	struct nvmft_runtime_opts o;
	struct nvmft_runtime *rt;
	int rc;

	nvmft_runtime_opts_init(&o);
	o.nr_reactors = 3;
	o.engine = test_engine(state);
	rc = nvmft_runtime_create(&o, &rt);
	if (rc == -EPERM || rc == -ENOSYS)
		skip();
	assert_int_equal(rc, 0);
	test_rt_destroy(rt);
	nvmft_runtime_destroy(NULL);
}

static void nop_fn(void *arg)
{
	(void)arg;
}

static void test_send_after_stop_is_refused(void **state)
{
	struct nvmft_runtime *rt = test_rt_start(state, 1, NVMFT_WAIT_INTERRUPT);
	struct nvmft_thread *t = nvmft_runtime_get_thread(rt, 0);

	nvmft_runtime_stop(rt);
	assert_int_equal(nvmft_thread_send_msg(t, nop_fn, NULL), -ESHUTDOWN);
	assert_int_equal(nvmft_runtime_exec(rt, 0, nop_fn, NULL), -ESHUTDOWN);
	nvmft_runtime_stop(rt);		/* twice is harmless */
	test_rt_destroy(rt);
}

static void test_create_rejects_bad_options(void **state)
{
	struct nvmft_runtime_opts o;
	struct nvmft_runtime *rt = NULL;

	(void)state;
	nvmft_runtime_opts_init(&o);
	o.msg_ring_size = 3;
	assert_int_equal(nvmft_runtime_create(&o, &rt), -EINVAL);
	nvmft_runtime_opts_init(&o);
	o.wait_mode = (enum nvmft_wait_mode)7;
	assert_int_equal(nvmft_runtime_create(&o, &rt), -EINVAL);
	nvmft_runtime_opts_init(&o);
	o.engine = (enum nvmft_engine)9;
	assert_int_equal(nvmft_runtime_create(&o, &rt), -EINVAL);
	nvmft_runtime_opts_init(&o);
	o.pin = true;
	o.cpus = "0-x";
	assert_int_equal(nvmft_runtime_create(&o, &rt), -EINVAL);
	assert_null(rt);
	assert_int_equal(nvmft_runtime_create(&o, NULL), -EINVAL);
}

static void test_zero_reactors_means_affinity_cpus(void **state)
{
	struct nvmft_runtime_opts o;
	struct nvmft_runtime *rt;
	cpu_set_t set;

	(void)state;
	assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
	nvmft_runtime_opts_init(&o);
	o.engine = NVMFT_ENGINE_EPOLL;
	assert_int_equal(nvmft_runtime_create(&o, &rt), 0);
	assert_int_equal(nvmft_runtime_nr_threads(rt), (unsigned int)CPU_COUNT(&set));
	test_rt_destroy(rt);
}

static void test_pinned_reactor_runs_on_its_cpu(void **state)
{
	struct nvmft_runtime_opts o;
	struct nvmft_runtime *rt;
	struct where w = { 0 };
	cpu_set_t set;
	char list[16];
	int cpu = -1, i;

	assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
	for (i = CPU_SETSIZE - 1; i >= 0; i--)
		if (CPU_ISSET(i, &set)) {
			cpu = i;
			break;
		}
	assert_true(cpu >= 0);
	snprintf(list, sizeof(list), "%d", cpu);
	nvmft_runtime_opts_init(&o);
	o.nr_reactors = 1;
	o.pin = true;
	o.cpus = list;
	rt = test_rt_start_opts(state, &o);
	assert_int_equal(nvmft_runtime_exec(rt, 0, where_fn, &w), 0);
	assert_int_equal(CPU_COUNT(&w.aff), 1);
	assert_true(CPU_ISSET(cpu, &w.aff));
	assert_int_equal(w.cpu, cpu);
	test_rt_end(rt);
}

static void exec_from_reactor_fn(void *arg)
{
	struct nvmft_runtime *rt = nvmft_thread_get_runtime(nvmft_get_thread());

	*(int *)arg = nvmft_runtime_exec(rt, 0, nop_fn, NULL);
}

struct slow {
	_Atomic int finished;
};

static void slow_fn(void *arg)
{
	struct slow *s = arg;

	usleep(20000);
	atomic_store(&s->finished, 1);
}

static void test_exec_waits_for_the_function(void **state)
{
	struct nvmft_runtime *rt = test_rt_start(state, 2, NVMFT_WAIT_INTERRUPT);
	struct slow s = { 0 };
	int rc = 1;

	assert_int_equal(nvmft_runtime_exec(rt, 1, slow_fn, &s), 0);
	assert_int_equal(atomic_load(&s.finished), 1);
	assert_int_equal(nvmft_runtime_exec(rt, 1, exec_from_reactor_fn, &rc), 0);
	assert_int_equal(rc, -EDEADLK);
	assert_int_equal(nvmft_runtime_exec(rt, 2, nop_fn, NULL), -EINVAL);
	assert_int_equal(nvmft_runtime_exec(rt, 0, NULL, NULL), -EINVAL);
	test_rt_end(rt);
}

static void test_exec_before_start_is_refused(void **state)
{
	struct nvmft_runtime_opts o;
	struct nvmft_runtime *rt;

	(void)state;
	nvmft_runtime_opts_init(&o);
	o.nr_reactors = 1;
	o.engine = NVMFT_ENGINE_EPOLL;
	assert_int_equal(nvmft_runtime_create(&o, &rt), 0);
	assert_int_equal(nvmft_runtime_exec(rt, 0, nop_fn, NULL), -EINVAL);
	test_rt_destroy(rt);
}

static void test_engine_env_override(void **state)
{
	struct nvmft_runtime_opts o;
	struct nvmft_runtime *rt;
	int rc;

	(void)state;
	nvmft_runtime_opts_init(&o);
	o.nr_reactors = 1;
	assert_int_equal(setenv("NVMFT_ENGINE", "epoll", 1), 0);
	rc = nvmft_runtime_create(&o, &rt);
	assert_int_equal(rc, 0);
	assert_int_equal(nvmft_runtime_engine(rt), NVMFT_ENGINE_EPOLL);
	assert_int_equal(nvmft_runtime_start(rt), 0);
	assert_int_equal(nvmft_runtime_exec(rt, 0, nop_fn, NULL), 0);
	test_rt_end(rt);

	/* An explicit engine wins over the environment. */
	o.engine = NVMFT_ENGINE_URING;
	rc = nvmft_runtime_create(&o, &rt);
	unsetenv("NVMFT_ENGINE");
	if (rc == -EPERM || rc == -ENOSYS)
		return;
	assert_int_equal(rc, 0);
	assert_int_equal(nvmft_runtime_engine(rt), NVMFT_ENGINE_URING);
	test_rt_destroy(rt);

	o.engine = NVMFT_ENGINE_AUTO;
	assert_int_equal(nvmft_runtime_create(&o, &rt), 0);
	assert_int_equal(nvmft_runtime_engine(rt), NVMFT_ENGINE_URING);
	test_rt_destroy(rt);
	assert_string_equal(nvmft_engine_name(NVMFT_ENGINE_URING), "uring");
	assert_string_equal(nvmft_engine_name(NVMFT_ENGINE_EPOLL), "epoll");
}

struct captured {
	int n;
	enum nvmft_log_level level;
	char msg[128];
};

static void capture_sink(void *ctx, enum nvmft_log_level level, const char *msg)
{
	struct captured *c = ctx;

	c->n++;
	c->level = level;
	snprintf(c->msg, sizeof(c->msg), "%s", msg);
}

/* Make io_uring_setup() fail with EPERM, as container seccomp profiles do. */
static int block_io_uring(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* Child: exit code 0 = as expected, else the step that went wrong. */
static int auto_fallback_child(void)
{
	struct nvmft_runtime_opts o;
	struct nvmft_runtime *rt;
	struct captured c = { 0 };

	if (block_io_uring())
		return 10;
	nvmft_runtime_opts_init(&o);
	o.nr_reactors = 2;
	o.engine = NVMFT_ENGINE_URING;
	if (nvmft_runtime_create(&o, &rt) != -EPERM)
		return 1;
	o.engine = NVMFT_ENGINE_AUTO;
	if (nvmft_runtime_create(&o, &rt))
		return 2;
	if (nvmft_runtime_engine(rt) != NVMFT_ENGINE_EPOLL)
		return 3;
	nvmft_runtime_set_log(rt, NVMFT_LOG_DEBUG, capture_sink, &c);
	if (nvmft_runtime_start(rt))
		return 4;
	if (nvmft_runtime_exec(rt, 1, nop_fn, NULL))
		return 5;
	nvmft_runtime_stop(rt);
	nvmft_runtime_destroy(rt);
	return 0;
}

static void test_auto_falls_back_to_epoll_without_io_uring(void **state)
{
	int status = 0;
	pid_t pid;

	(void)state;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(auto_fallback_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 10)
		skip();		/* seccomp unavailable here */
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void stats_fn(void *arg)
{
	nvmft_thread_get_stats(nvmft_get_thread(), arg);
}

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

#define WAIT_LOOPS(t, n)  wait_stat(t, offsetof(struct nvmft_thread_stats, loops), n)
#define WAIT_SLEEPS(t, n) wait_stat(t, offsetof(struct nvmft_thread_stats, sleeps), n)

/* Loop turns made in 100 ms: a sleeping reactor makes (almost) none. */
static uint64_t turns_in_100ms(struct nvmft_thread *t)
{
	struct nvmft_thread_stats a, b;

	nvmft_thread_get_stats(t, &a);
	usleep(100000);
	nvmft_thread_get_stats(t, &b);
	return b.loops - a.loops;
}

static void test_wait_mode_switch_at_run_time(void **state)
{
	struct nvmft_runtime *rt = test_rt_start(state, 1, NVMFT_WAIT_POLL);
	struct nvmft_thread *t = nvmft_runtime_get_thread(rt, 0);
	struct nvmft_thread_stats a, b;

	nvmft_thread_get_stats(t, &a);
	assert_true(WAIT_LOOPS(t, a.loops + 1000) > a.loops + 1000);
	nvmft_thread_get_stats(t, &b);
	assert_int_equal(b.sleeps, 0);

	nvmft_runtime_set_wait_mode(rt, NVMFT_WAIT_INTERRUPT);
	assert_true(WAIT_SLEEPS(t, 0) > 0);
	assert_true(turns_in_100ms(t) < 50);

	/* The switch wakes the sleeper: it has no other reason to wake up. */
	nvmft_thread_get_stats(t, &a);
	nvmft_runtime_set_wait_mode(rt, NVMFT_WAIT_POLL);
	assert_true(WAIT_LOOPS(t, a.loops + 1000) > a.loops + 1000);

	nvmft_thread_get_stats(t, &a);
	nvmft_runtime_set_wait_mode(rt, NVMFT_WAIT_ADAPTIVE);
	assert_true(WAIT_SLEEPS(t, a.sleeps) > a.sleeps);
	assert_true(turns_in_100ms(t) < 50);

	assert_int_equal(nvmft_runtime_exec(rt, 0, stats_fn, &a), 0);
	assert_true(a.msgs >= 1);
	assert_true(a.busy_loops >= 1);
	assert_true(a.idle_us > 0);
	test_rt_end(rt);
}

/* An operation on the reactor's own engine: a read of a pipe. */
struct pipe_op {
	struct uring_op uop;
	struct epoll_op eop;
	int fds[2];
	char buf[8];
	_Atomic long done;
	int res;
	int post_err;
	struct nvmft_thread *ran_on;
};

static void pipe_uring_done(struct uring_op *op, const struct io_uring_cqe *cqe)
{
	struct pipe_op *p = (struct pipe_op *)((char *)op - offsetof(struct pipe_op, uop));

	p->res = cqe->res;
	p->ran_on = nvmft_get_thread();
	atomic_fetch_add(&p->done, 1);
}

static void pipe_epoll_ready(struct epoll_op *op, uint32_t events)
{
	struct pipe_op *p = (struct pipe_op *)((char *)op - offsetof(struct pipe_op, eop));

	p->res = (int)read(p->fds[0], p->buf, sizeof(p->buf));
	p->ran_on = nvmft_get_thread();
	epoll_ctl(thread_epoll_fd(p->ran_on), EPOLL_CTL_DEL, p->fds[0], NULL);
	atomic_fetch_add(&p->done, 1);
}

static void pipe_post_fn(void *arg)
{
	struct pipe_op *p = arg;
	struct nvmft_thread *t = nvmft_get_thread();
	struct io_uring *ring = thread_ring(t);

	/* No cmocka asserts off the main thread: record, check later. */
	if (ring) {
		struct io_uring_sqe *sqe = thread_get_sqe(t);

		if (thread_epoll_fd(t) != -1 || !sqe) {
			p->post_err = 1;
			return;
		}
		io_uring_prep_read(sqe, p->fds[0], p->buf, sizeof(p->buf), 0);
		io_uring_sqe_set_data(sqe, &p->uop);
	} else {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &p->eop };

		if (epoll_ctl(thread_epoll_fd(t), EPOLL_CTL_ADD, p->fds[0], &ev))
			p->post_err = 2;
	}
}

/*
 * With DEFER_TASKRUN a completion waits in the kernel until the reactor
 * asks for events: check that every wait mode gets it.
 */
static void check_engine_completion(void **state, enum nvmft_wait_mode mode)
{
	struct nvmft_runtime *rt = test_rt_start(state, 1, mode);
	struct pipe_op p = { .uop.done = pipe_uring_done,
			     .eop.ready = pipe_epoll_ready };

	assert_int_equal(pipe(p.fds), 0);
	assert_int_equal(nvmft_runtime_exec(rt, 0, pipe_post_fn, &p), 0);
	assert_int_equal(p.post_err, 0);
	usleep(20000);		/* the reactor is polling or asleep by now */
	assert_int_equal(atomic_load(&p.done), 0);
	assert_int_equal(write(p.fds[1], "abc", 3), 3);
	assert_int_equal(test_wait_ge(&p.done, 1, 5000000), 1);
	assert_int_equal(p.res, 3);
	assert_memory_equal(p.buf, "abc", 3);
	assert_ptr_equal(p.ran_on, nvmft_runtime_get_thread(rt, 0));
	test_rt_end(rt);
	close(p.fds[0]);
	close(p.fds[1]);
}

static void test_engine_completion_in_poll_mode(void **state)
{
	check_engine_completion(state, NVMFT_WAIT_POLL);
}

static void test_engine_completion_in_interrupt_mode(void **state)
{
	check_engine_completion(state, NVMFT_WAIT_INTERRUPT);
}

static void test_engine_completion_in_adaptive_mode(void **state)
{
	check_engine_completion(state, NVMFT_WAIT_ADAPTIVE);
}

static void test_log_level_and_sink(void **state)
{
	struct nvmft_runtime_opts o;
	struct nvmft_runtime *rt;
	struct captured c = { 0 };

	(void)state;
	nvmft_runtime_opts_init(&o);
	o.nr_reactors = 1;
	o.engine = NVMFT_ENGINE_EPOLL;
	assert_int_equal(nvmft_runtime_create(&o, &rt), 0);
	nvmft_runtime_set_log(rt, NVMFT_LOG_WARN, capture_sink, &c);
	nvmft_log(rt, NVMFT_LOG_INFO, "hidden %d", 1);
	assert_int_equal(c.n, 0);
	nvmft_log(rt, NVMFT_LOG_ERR, "shown %d", 2);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.level, NVMFT_LOG_ERR);
	assert_string_equal(c.msg, "shown 2");
	nvmft_runtime_set_log(rt, NVMFT_LOG_DEBUG, capture_sink, &c);
	nvmft_log(rt, NVMFT_LOG_DEBUG, "now %s", "shown");
	assert_int_equal(c.n, 2);
	test_rt_destroy(rt);
}

static void log_on_reactor_fn(void *arg)
{
	nvmft_log(arg, NVMFT_LOG_WARN, "from reactor");
}

static bool line_matches(const char *line, const char *level, const char *who,
			 const char *msg)
{
	int y, mo, d, h, mi, s, ms, n = 0;
	char lv[16], w[16];

	if (sscanf(line, "%4d-%2d-%2d %2d:%2d:%2d.%3d %15s [%15[^]]] %n",
		   &y, &mo, &d, &h, &mi, &s, &ms, lv, w, &n) != 9 || !n)
		return false;
	return line[19] == '.' && line[23] == ' ' && !strcmp(lv, level) &&
	       !strcmp(w, who) && !strncmp(line + n, msg, strlen(msg));
}

static void test_default_log_line_format(void **state)
{
	struct nvmft_runtime_opts o;
	struct nvmft_runtime *rt;
	char buf[512] = { 0 }, *nl;
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);

	(void)state;
	assert_non_null(tmp);
	nvmft_runtime_opts_init(&o);
	o.nr_reactors = 2;
	o.engine = NVMFT_ENGINE_EPOLL;
	assert_int_equal(nvmft_runtime_create(&o, &rt), 0);
	assert_int_equal(nvmft_runtime_start(rt), 0);
	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	nvmft_log(rt, NVMFT_LOG_NOTICE, "hello %d", 42);
	assert_int_equal(nvmft_runtime_exec(rt, 1, log_on_reactor_fn, rt), 0);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	test_rt_end(rt);

	rewind(tmp);
	assert_non_null(fgets(buf, sizeof(buf), tmp));
	assert_true(line_matches(buf, "NOTICE", "main", "hello 42\n"));
	assert_non_null(fgets(buf, sizeof(buf), tmp));
	nl = strchr(buf, '\n');
	assert_non_null(nl);
	assert_true(line_matches(buf, "WARN", "r1", "from reactor"));
	fclose(tmp);
}

static void test_parse_cpu_list(void **state)
{
	uint64_t m[16];

	(void)state;
	assert_int_equal(nvmft_parse_cpu_list("0", m), 1);
	assert_int_equal(m[0], 1);
	assert_int_equal(nvmft_parse_cpu_list("0-3,6", m), 5);
	assert_int_equal(m[0], 0x4f);
	assert_int_equal(nvmft_parse_cpu_list(" 1 , 3-4 ", m), 3);
	assert_int_equal(m[0], 0x1a);
	assert_int_equal(nvmft_parse_cpu_list("5,5,4-5", m), 2);
	assert_int_equal(nvmft_parse_cpu_list("64,1023", m), 2);
	assert_int_equal(m[1], 1);
	assert_int_equal(m[15], UINT64_C(1) << 63);
	assert_int_equal(nvmft_parse_cpu_list("0-1023", m), 1024);
	assert_int_equal(nvmft_parse_cpu_list("1024", m), -EINVAL);
	assert_int_equal(nvmft_parse_cpu_list("3-1", m), -EINVAL);
	assert_int_equal(nvmft_parse_cpu_list("", m), -EINVAL);
	assert_int_equal(nvmft_parse_cpu_list("  ", m), -EINVAL);
	assert_int_equal(nvmft_parse_cpu_list("a", m), -EINVAL);
	assert_int_equal(nvmft_parse_cpu_list("1,", m), -EINVAL);
	assert_int_equal(nvmft_parse_cpu_list(",1", m), -EINVAL);
	assert_int_equal(nvmft_parse_cpu_list("1-2-3", m), -EINVAL);
	assert_int_equal(nvmft_parse_cpu_list("-1", m), -EINVAL);
	assert_int_equal(nvmft_parse_cpu_list("1;2", m), -EINVAL);
	assert_int_equal(nvmft_parse_cpu_list(NULL, m), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		RT_TEST(test_create_start_stop_destroy),
		RT_TEST(test_destroy_without_start),
		RT_TEST(test_send_after_stop_is_refused),
		cmocka_unit_test(test_create_rejects_bad_options),
		cmocka_unit_test(test_zero_reactors_means_affinity_cpus),
		RT_TEST(test_pinned_reactor_runs_on_its_cpu),
		RT_TEST(test_exec_waits_for_the_function),
		cmocka_unit_test(test_exec_before_start_is_refused),
		cmocka_unit_test(test_engine_env_override),
		cmocka_unit_test(test_auto_falls_back_to_epoll_without_io_uring),
		RT_TEST(test_wait_mode_switch_at_run_time),
		RT_TEST(test_engine_completion_in_poll_mode),
		RT_TEST(test_engine_completion_in_interrupt_mode),
		RT_TEST(test_engine_completion_in_adaptive_mode),
		cmocka_unit_test(test_log_level_and_sink),
		cmocka_unit_test(test_default_log_line_format),
		cmocka_unit_test(test_parse_cpu_list),
	};

	return cmocka_run_group_tests_name("runtime", tests, NULL, NULL);
}
