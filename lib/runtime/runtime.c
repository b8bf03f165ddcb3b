// SPDX-License-Identifier: MIT
/*
 * Runtime life cycle: options, engine choice, reactor creation, start,
 * stop, destroy; CPU lists and pinning; nvmft_runtime_exec().
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/runtime_priv.h"

void nvmft_runtime_opts_init(struct nvmft_runtime_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->wait_mode = NVMFT_WAIT_ADAPTIVE;
	opts->engine = NVMFT_ENGINE_AUTO;
	opts->idle_spin_us = RT_DEFAULT_IDLE_SPIN_US;
	opts->msg_ring_size = RT_DEFAULT_MSG_RING;
	opts->ring_entries = RT_DEFAULT_RING_ENTRIES;
	opts->name = "nvmft";
}

uint64_t nvmft_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

const char *nvmft_engine_name(enum nvmft_engine e)
{
	switch (e) {
	case NVMFT_ENGINE_URING:	return "uring";
	case NVMFT_ENGINE_EPOLL:	return "epoll";
	case NVMFT_ENGINE_AUTO:		return "auto";
	}
	return "?";
}

static int parse_uint(const char **sp, unsigned long *out)
{
	const char *s = *sp;
	unsigned long v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (unsigned long)(*s - '0');
		if (v >= 1024)
			return -EINVAL;
		s++;
	}
	*sp = s;
	*out = v;
	return 0;
}

int nvmft_parse_cpu_list(const char *s, uint64_t mask[16])
{
	unsigned long lo, hi, c;
	int n = 0, i;

	if (!s || !mask)
		return -EINVAL;
	memset(mask, 0, 16 * sizeof(uint64_t));
	while (*s == ' ')
		s++;
	if (!*s)
		return -EINVAL;
	for (;;) {
		if (parse_uint(&s, &lo))
			return -EINVAL;
		hi = lo;
		if (*s == '-') {
			s++;
			if (parse_uint(&s, &hi) || hi < lo)
				return -EINVAL;
		}
		for (c = lo; c <= hi; c++)
			mask[c / 64] |= UINT64_C(1) << (c % 64);
		while (*s == ' ')
			s++;
		if (!*s)
			break;
		if (*s != ',')
			return -EINVAL;
		s++;
		while (*s == ' ')
			s++;
	}
	for (i = 0; i < 16; i++)
		n += __builtin_popcountll(mask[i]);
	return n;
}

/* The CPUs reactors go to, in order: the opts list, else the affinity mask. */
static int cpu_order(const struct nvmft_runtime_opts *o, int **out)
{
	uint64_t mask[16];
	cpu_set_t set;
	int n, i, k = 0;
	int *cpus;

	if (o->cpus && *o->cpus) {
		n = nvmft_parse_cpu_list(o->cpus, mask);
		if (n < 0)
			return n;
	} else {
		if (sched_getaffinity(0, sizeof(set), &set) < 0)
			return -errno;
		memset(mask, 0, sizeof(mask));
		for (i = 0; i < CPU_SETSIZE && i < 1024; i++)
			if (CPU_ISSET(i, &set))
				mask[i / 64] |= UINT64_C(1) << (i % 64);
		n = CPU_COUNT(&set);
	}
	if (n <= 0)
		return -EINVAL;
	cpus = calloc((size_t)n, sizeof(*cpus));
	if (!cpus)
		return -ENOMEM;
	for (i = 0; i < 1024 && k < n; i++)
		if (mask[i / 64] & (UINT64_C(1) << (i % 64)))
			cpus[k++] = i;
	*out = cpus;
	return n;
}

static int check_opts(const struct nvmft_runtime_opts *o)
{
	if (o->nr_reactors > RT_MAX_REACTORS)
		return -EINVAL;
	if (o->wait_mode < NVMFT_WAIT_ADAPTIVE || o->wait_mode > NVMFT_WAIT_INTERRUPT)
		return -EINVAL;
	if (o->engine < NVMFT_ENGINE_AUTO || o->engine > NVMFT_ENGINE_EPOLL)
		return -EINVAL;
	/* 0 = default below; else a power of 2 of at least 2. */
	if (o->msg_ring_size &&
	    (o->msg_ring_size < 2 || (o->msg_ring_size & (o->msg_ring_size - 1))))
		return -EINVAL;
	if (o->ring_entries > RT_MAX_RING_ENTRIES)
		return -EINVAL;
	if (o->idle_spin_us > NVMFT_IDLE_SPIN_US_MAX)
		return -EINVAL;
	return 0;
}

/* AUTO: the environment may force an engine (tests and containers use it). */
static enum nvmft_engine engine_wanted(struct nvmft_runtime *rt,
				       enum nvmft_engine e)
{
	const char *env;

	if (e != NVMFT_ENGINE_AUTO)
		return e;
	env = getenv("NVMFT_ENGINE");
	if (!env || !*env)
		return NVMFT_ENGINE_AUTO;
	if (!strcmp(env, "epoll"))
		return NVMFT_ENGINE_EPOLL;
	if (!strcmp(env, "uring") || !strcmp(env, "io_uring"))
		return NVMFT_ENGINE_URING;
	RT_WARN(rt, "NVMFT_ENGINE=%s ignored (epoll or uring)", env);
	return NVMFT_ENGINE_AUTO;
}

static int create_engines(struct nvmft_runtime *rt, enum nvmft_engine want)
{
	enum nvmft_engine e = want == NVMFT_ENGINE_EPOLL ? NVMFT_ENGINE_EPOLL :
			      NVMFT_ENGINE_URING;
	unsigned int i;
	int rc;

	for (i = 0; i < rt->nr; i++) {
		rc = engine_create(rt->threads[i], e, rt->opts.ring_entries);
		if (rc == 0)
			continue;
		if (i == 0 && want == NVMFT_ENGINE_AUTO &&
		    (rc == -EPERM || rc == -ENOSYS)) {
			RT_NOTICE(rt, "engine: epoll (io_uring unavailable: %s)",
				  strerror(-rc));
			e = NVMFT_ENGINE_EPOLL;
			rc = engine_create(rt->threads[i], e, rt->opts.ring_entries);
			if (rc == 0)
				continue;
		}
		RT_ERR(rt, "reactor %u: %s engine: %s", i, nvmft_engine_name(e),
		       strerror(-rc));
		return rc;
	}
	rt->engine = e;
	if (e == NVMFT_ENGINE_URING || want == NVMFT_ENGINE_EPOLL)
		RT_NOTICE(rt, "engine: %s", nvmft_engine_name(e));
	return 0;
}

/* "<prefix>_r<i>" in 15 characters: the prefix gets cut, not the index. */
static void thread_name(char name[16], const char *prefix, unsigned int idx)
{
	char suffix[16];
	int slen = snprintf(suffix, sizeof(suffix), "_r%u", idx);
	int plen = (int)strlen(prefix);

	if (plen > 15 - slen)
		plen = 15 - slen;
	memcpy(name, prefix, (size_t)plen);
	memcpy(name + plen, suffix, (size_t)slen + 1);
}

static void thread_free(struct nvmft_thread *t)
{
	if (!t)
		return;
	engine_destroy(t);
	inbox_fini(&t->inbox);
	free(t);
}

static int thread_alloc(struct nvmft_runtime *rt, unsigned int idx, int cpu,
			struct nvmft_thread **out)
{
	struct nvmft_thread *t;
	void *mem;
	int rc;

	/* Cache-line aligned: the inbox tail and the wake flag are hot. */
	if (posix_memalign(&mem, RT_CACHELINE, sizeof(*t)))
		return -ENOMEM;
	t = mem;
	memset(t, 0, sizeof(*t));
	t->rt = rt;
	t->idx = idx;
	t->cpu = cpu;
	t->evfd = -1;
	t->epfd = -1;
	thread_name(t->name, rt->name, idx);
	pollers_init(t);
	list_init(&t->channels);
	list_init(&t->releases);
	t->deferred_tail = &t->deferred_head;
	rc = inbox_init(&t->inbox, rt->opts.msg_ring_size);
	if (rc) {
		free(t);
		return rc;
	}
	*out = t;
	return 0;
}

int nvmft_runtime_create(const struct nvmft_runtime_opts *opts,
			 struct nvmft_runtime **out)
{
	struct nvmft_runtime_opts o;
	struct nvmft_runtime *rt;
	int *cpus = NULL, ncpus = 0;
	unsigned int i;
	cpu_set_t set;
	int rc;

	if (!out)
		return -EINVAL;
	if (opts)
		o = *opts;
	else
		nvmft_runtime_opts_init(&o);
	rc = check_opts(&o);
	if (rc)
		return rc;
	if (!o.msg_ring_size)
		o.msg_ring_size = RT_DEFAULT_MSG_RING;
	if (!o.ring_entries)
		o.ring_entries = RT_DEFAULT_RING_ENTRIES;
	if (!o.name || !*o.name)
		o.name = "nvmft";
	if (!o.nr_reactors) {
		if (sched_getaffinity(0, sizeof(set), &set) < 0)
			return -errno;
		o.nr_reactors = (unsigned int)CPU_COUNT(&set);
		if (o.nr_reactors > RT_MAX_REACTORS)
			o.nr_reactors = RT_MAX_REACTORS;
	}
	if (o.pin) {
		ncpus = cpu_order(&o, &cpus);
		if (ncpus < 0)
			return ncpus;
	}

	rt = calloc(1, sizeof(*rt));
	if (!rt) {
		rc = -ENOMEM;
		goto out_free_cpus;
	}
	log_init(rt);
	pthread_mutex_init(&rt->start_lock, NULL);
	pthread_cond_init(&rt->start_cond, NULL);
	pthread_mutex_init(&rt->dev_lock, NULL);
	snprintf(rt->name, sizeof(rt->name), "%s", o.name);
	/* The caller's strings need not outlive this call. */
	o.name = NULL;
	o.cpus = NULL;
	rt->opts = o;
	rt->nr = o.nr_reactors;
	atomic_init(&rt->idle_spin_us, o.idle_spin_us);
	atomic_init(&rt->wait_mode, o.wait_mode);

	rt->threads = calloc(rt->nr, sizeof(*rt->threads));
	if (!rt->threads) {
		rc = -ENOMEM;
		goto out_free_rt;
	}
	for (i = 0; i < rt->nr; i++) {
		rc = thread_alloc(rt, i, cpus ? cpus[i % (unsigned int)ncpus] : -1,
				  &rt->threads[i]);
		if (rc)
			goto out_free_threads;
	}
	rc = create_engines(rt, engine_wanted(rt, o.engine));
	if (rc)
		goto out_free_threads;
	free(cpus);
	*out = rt;
	return 0;

out_free_threads:
	for (i = 0; i < rt->nr; i++)
		thread_free(rt->threads[i]);
	free(rt->threads);
out_free_rt:
	pthread_mutex_destroy(&rt->dev_lock);
	pthread_cond_destroy(&rt->start_cond);
	pthread_mutex_destroy(&rt->start_lock);
	log_fini(rt);
	free(rt);
out_free_cpus:
	free(cpus);
	return rc;
}

/* Ask every started reactor to stop and join it. */
static void stop_and_join(struct nvmft_runtime *rt)
{
	unsigned int i;

	for (i = 0; i < rt->nr; i++) {
		struct nvmft_thread *t = rt->threads[i];

		atomic_store_explicit(&t->stop_req, 1, memory_order_release);
		engine_wake(t);
	}
	for (i = 0; i < rt->nr; i++) {
		struct nvmft_thread *t = rt->threads[i];

		if (t->tid_valid) {
			pthread_join(t->tid, NULL);
			t->tid_valid = false;
		}
		/* Never started: refuse messages from now on as well. */
		inbox_close(&t->inbox);
	}
}

int nvmft_runtime_start(struct nvmft_runtime *rt)
{
	unsigned int i, created = 0;
	int rc = 0;

	if (!rt)
		return -EINVAL;
	if (nvmft_get_thread())
		return -EDEADLK;
	if (rt->started)
		return -EALREADY;
	rt->started = true;

	for (i = 0; i < rt->nr; i++) {
		struct nvmft_thread *t = rt->threads[i];

		rc = -pthread_create(&t->tid, NULL, reactor_main, t);
		if (rc)
			break;
		t->tid_valid = true;
		created++;
	}
	pthread_mutex_lock(&rt->start_lock);
	while (rt->nr_ready < created)
		pthread_cond_wait(&rt->start_cond, &rt->start_lock);
	pthread_mutex_unlock(&rt->start_lock);
	for (i = 0; i < created && !rc; i++)
		rc = rt->threads[i]->init_rc;
	if (rc) {
		RT_ERR(rt, "runtime start failed: %s", strerror(-rc));
		stop_and_join(rt);
		rt->stopped = true;
	}
	return rc;
}

void nvmft_runtime_stop(struct nvmft_runtime *rt)
{
	if (!rt || rt->stopped)
		return;
	if (nvmft_get_thread()) {
		RT_ERR(rt, "nvmft_runtime_stop() called on a reactor: ignored");
		return;
	}
	stop_and_join(rt);
	rt->stopped = true;
}

void nvmft_runtime_destroy(struct nvmft_runtime *rt)
{
	unsigned int i;

	if (!rt)
		return;
	nvmft_runtime_stop(rt);
	for (i = 0; i < rt->nr; i++)
		thread_free(rt->threads[i]);
	free(rt->threads);
	io_devices_free(rt);
	pthread_mutex_destroy(&rt->dev_lock);
	pthread_cond_destroy(&rt->start_cond);
	pthread_mutex_destroy(&rt->start_lock);
	log_fini(rt);
	free(rt);
}

unsigned int nvmft_runtime_nr_threads(const struct nvmft_runtime *rt)
{
	return rt ? rt->nr : 0;
}

struct nvmft_thread *nvmft_runtime_get_thread(struct nvmft_runtime *rt,
					      unsigned int idx)
{
	return rt && idx < rt->nr ? rt->threads[idx] : NULL;
}

enum nvmft_engine nvmft_runtime_engine(const struct nvmft_runtime *rt)
{
	return rt->engine;
}

enum nvmft_wait_mode nvmft_runtime_get_wait_mode(const struct nvmft_runtime *rt)
{
	return (enum nvmft_wait_mode)atomic_load_explicit(
		&((struct nvmft_runtime *)rt)->wait_mode, memory_order_relaxed);
}

void nvmft_runtime_set_wait_mode(struct nvmft_runtime *rt,
				 enum nvmft_wait_mode mode)
{
	unsigned int i;

	if (!rt || mode < NVMFT_WAIT_ADAPTIVE || mode > NVMFT_WAIT_INTERRUPT)
		return;
	atomic_store_explicit(&rt->wait_mode, mode, memory_order_relaxed);
	/* A reactor sleeping without a timeout would not notice otherwise. */
	for (i = 0; i < rt->nr; i++)
		engine_wake(rt->threads[i]);
}

int nvmft_runtime_set_idle_spin_us(struct nvmft_runtime *rt,
				   unsigned int idle_spin_us)
{
	if (!rt || idle_spin_us > NVMFT_IDLE_SPIN_US_MAX)
		return -EINVAL;
	/*
	 * No wake-up needed: an adaptive reactor reads it on each idle turn,
	 * and a sleeping one only spins again after its next piece of work.
	 */
	atomic_store_explicit(&rt->idle_spin_us, idle_spin_us,
			      memory_order_relaxed);
	return 0;
}

unsigned int nvmft_runtime_get_idle_spin_us(const struct nvmft_runtime *rt)
{
	return atomic_load_explicit(&((struct nvmft_runtime *)rt)->idle_spin_us,
				    memory_order_relaxed);
}

struct nvmft_runtime *nvmft_thread_get_runtime(struct nvmft_thread *t)
{
	return t ? t->rt : NULL;
}

unsigned int nvmft_thread_index(const struct nvmft_thread *t)
{
	return t->idx;
}

void nvmft_thread_get_stats(const struct nvmft_thread *t,
			    struct nvmft_thread_stats *st)
{
	struct nvmft_thread *m = (struct nvmft_thread *)t;

	st->loops = atomic_load_explicit(&m->stats.loops, memory_order_relaxed);
	st->busy_loops = atomic_load_explicit(&m->stats.busy_loops,
					      memory_order_relaxed);
	st->sleeps = atomic_load_explicit(&m->stats.sleeps, memory_order_relaxed);
	st->msgs = atomic_load_explicit(&m->stats.msgs, memory_order_relaxed);
	st->completions = atomic_load_explicit(&m->stats.completions,
					       memory_order_relaxed);
	st->busy_us = atomic_load_explicit(&m->stats.busy_us, memory_order_relaxed);
	st->idle_us = atomic_load_explicit(&m->stats.idle_us, memory_order_relaxed);
}

struct exec_wait {
	nvmft_msg_fn fn;
	void *arg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void exec_msg(void *p)
{
	struct exec_wait *w = p;

	w->fn(w->arg);
	pthread_mutex_lock(&w->lock);
	w->done = true;
	pthread_cond_signal(&w->cond);
	/* Last touch: the waiter frees @w as soon as it gets the lock. */
	pthread_mutex_unlock(&w->lock);
}

int nvmft_runtime_exec(struct nvmft_runtime *rt, unsigned int idx,
		       nvmft_msg_fn fn, void *arg)
{
	struct exec_wait w = { .fn = fn, .arg = arg };
	uint64_t give_up;
	int rc;

	if (nvmft_get_thread())
		return -EDEADLK;
	if (!rt || !fn || idx >= rt->nr || !rt->started)
		return -EINVAL;
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	/* Off-reactor we can afford to wait a little for room in the inbox. */
	give_up = nvmft_now_us() + 1000000;
	for (;;) {
		rc = nvmft_thread_send_msg(rt->threads[idx], exec_msg, &w);
		if (rc != -ENOMEM || nvmft_now_us() > give_up)
			break;
		sched_yield();
	}
	if (rc == 0) {
		pthread_mutex_lock(&w.lock);
		while (!w.done)
			pthread_cond_wait(&w.cond, &w.lock);
		pthread_mutex_unlock(&w.lock);
	}
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	return rc;
}
