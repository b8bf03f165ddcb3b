// SPDX-License-Identifier: MIT
/*
 * Runtime figures: message rates between two reactors (ping-pong and
 * one-way streaming) and the CPU an idle 2-reactor runtime burns in each
 * wait mode, for both engines. Prints one line per figure:
 *   runtime.<figure> [<mode>] <engine> <value>
 * Bounded: about 25 s in total.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <nvmft/runtime.h>

static const char *mode_name(enum nvmft_wait_mode m)
{
	switch (m) {
	case NVMFT_WAIT_POLL:		return "poll";
	case NVMFT_WAIT_INTERRUPT:	return "interrupt";
	case NVMFT_WAIT_ADAPTIVE:	return "adaptive";
	}
	return "?";
}

static void quiet(void *ctx, enum nvmft_log_level level, const char *msg)
{
	(void)ctx;
	if (level <= NVMFT_LOG_WARN)
		fprintf(stderr, "log: %s\n", msg);
}

static struct nvmft_runtime *start(enum nvmft_engine e, enum nvmft_wait_mode m)
{
	struct nvmft_runtime_opts o;
	struct nvmft_runtime *rt;
	int rc;

	nvmft_runtime_opts_init(&o);
	o.nr_reactors = 2;
	o.engine = e;
	o.wait_mode = m;
	o.name = "bench";
	rc = nvmft_runtime_create(&o, &rt);
	if (rc) {
		fprintf(stderr, "runtime (%s): %s\n", nvmft_engine_name(e),
			strerror(-rc));
		return NULL;
	}
	nvmft_runtime_set_log(rt, NVMFT_LOG_WARN, quiet, NULL);
	rc = nvmft_runtime_start(rt);
	if (rc) {
		fprintf(stderr, "start: %s\n", strerror(-rc));
		nvmft_runtime_destroy(rt);
		return NULL;
	}
	return rt;
}

static void end(struct nvmft_runtime *rt)
{
	nvmft_runtime_stop(rt);
	nvmft_runtime_destroy(rt);
}

static void fmt_rate(char *buf, size_t len, double v)
{
	if (v >= 1e6)
		snprintf(buf, len, "%.2fM", v / 1e6);
	else if (v >= 1e3)
		snprintf(buf, len, "%.1fK", v / 1e3);
	else
		snprintf(buf, len, "%.0f", v);
}

/* Ping-pong: one message in flight, bouncing between reactor 0 and 1. */
struct pingpong {
	struct nvmft_runtime *rt;
	_Atomic long hops;
	_Atomic int stop;
};

static void hop(void *arg)
{
	struct pingpong *p = arg;
	unsigned int other = nvmft_thread_index(nvmft_get_thread()) ^ 1;

	atomic_fetch_add_explicit(&p->hops, 1, memory_order_relaxed);
	if (atomic_load_explicit(&p->stop, memory_order_relaxed))
		return;
	if (nvmft_thread_send_msg(nvmft_runtime_get_thread(p->rt, other), hop, p))
		atomic_store(&p->stop, 2);
}

static void bench_pingpong(enum nvmft_engine e, enum nvmft_wait_mode m)
{
	struct pingpong p = { 0 };
	uint64_t t0, t1;
	long n0, n1;
	char rate[32];

	p.rt = start(e, m);
	if (!p.rt)
		return;
	nvmft_thread_send_msg(nvmft_runtime_get_thread(p.rt, 0), hop, &p);
	usleep(100000);
	t0 = nvmft_now_us();
	n0 = atomic_load(&p.hops);
	usleep(1500000);
	n1 = atomic_load(&p.hops);
	t1 = nvmft_now_us();
	atomic_store(&p.stop, 1);
	end(p.rt);
	fmt_rate(rate, sizeof(rate), (double)(n1 - n0) * 1e6 / (double)(t1 - t0));
	printf("runtime.msg_pingpong_per_s %-9s %s %s\n", mode_name(m),
	       nvmft_engine_name(e), rate);
	printf("runtime.msg_pingpong_hop_us %-9s %s %.2f\n", mode_name(m),
	       nvmft_engine_name(e),
	       n1 > n0 ? (double)(t1 - t0) / (double)(n1 - n0) : -1.0);
}

/* Streaming: a poller on reactor 0 sends to reactor 1 as fast as it can. */
struct stream {
	struct nvmft_runtime *rt;
	struct nvmft_poller *poller;
	_Atomic long received;
	long full;
	_Atomic int stop;
};

static void recv_msg(void *arg)
{
	struct stream *s = arg;

	atomic_store_explicit(&s->received,
			      atomic_load_explicit(&s->received, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static int send_poller(void *arg)
{
	struct stream *s = arg;
	struct nvmft_thread *to = nvmft_runtime_get_thread(s->rt, 1);
	int i;

	if (atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		nvmft_poller_unregister(&s->poller);
		return 0;
	}
	for (i = 0; i < 256; i++)
		if (nvmft_thread_send_msg(to, recv_msg, s)) {
			s->full++;
			break;
		}
	return 1;
}

static void start_stream(void *arg)
{
	struct stream *s = arg;

	s->poller = nvmft_poller_register(send_poller, s, 0);
}

static void bench_stream(enum nvmft_engine e, enum nvmft_wait_mode m)
{
	struct stream s = { 0 };
	uint64_t t0, t1;
	long n0, n1;
	char rate[32];

	s.rt = start(e, m);
	if (!s.rt)
		return;
	nvmft_runtime_exec(s.rt, 0, start_stream, &s);
	usleep(100000);
	t0 = nvmft_now_us();
	n0 = atomic_load(&s.received);
	usleep(1500000);
	n1 = atomic_load(&s.received);
	t1 = nvmft_now_us();
	atomic_store(&s.stop, 1);
	end(s.rt);
	fmt_rate(rate, sizeof(rate), (double)(n1 - n0) * 1e6 / (double)(t1 - t0));
	printf("runtime.msg_oneway_per_s %-9s %s %s\n", mode_name(m),
	       nvmft_engine_name(e), rate);
}

static uint64_t cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void bench_idle(enum nvmft_engine e, enum nvmft_wait_mode m)
{
	struct nvmft_runtime *rt = start(e, m);
	uint64_t c0, c1, t0, t1;

	if (!rt)
		return;
	usleep(100000);
	t0 = nvmft_now_us();
	c0 = cpu_us();
	usleep(2000000);
	c1 = cpu_us();
	t1 = nvmft_now_us();
	end(rt);
	/* Percent of one core, for the whole process (both reactors). */
	printf("runtime.idle_cpu_pct %-9s %s %.2f\n", mode_name(m),
	       nvmft_engine_name(e), (double)(c1 - c0) * 100.0 / (double)(t1 - t0));
}

int main(void)
{
	static const enum nvmft_engine engines[] = {
		NVMFT_ENGINE_URING, NVMFT_ENGINE_EPOLL,
	};
	static const enum nvmft_wait_mode modes[] = {
		NVMFT_WAIT_POLL, NVMFT_WAIT_INTERRUPT, NVMFT_WAIT_ADAPTIVE,
	};
	size_t i, j;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < 2; i++) {
		bench_pingpong(engines[i], NVMFT_WAIT_ADAPTIVE);
		bench_pingpong(engines[i], NVMFT_WAIT_INTERRUPT);
		bench_stream(engines[i], NVMFT_WAIT_ADAPTIVE);
	}
	for (i = 0; i < 2; i++)
		for (j = 0; j < 3; j++)
			bench_idle(engines[i], modes[j]);
	return 0;
}
