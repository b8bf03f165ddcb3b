// SPDX-License-Identifier: MIT
/*
 * embed.c - serve a RAM namespace over NVMe/TCP from your own program.
 *
 * The smallest complete user of libnvmft: no configuration file, the whole
 * target is built in code. Against an installed copy:
 *
 *	cc -o embed embed.c $(pkg-config --cflags --libs --static nvmft)
 *	./embed [--seconds N] [PORT]
 *
 * It serves a 64 MiB RAM namespace as nqn.2026-11.io.nvmft:embed on
 * 127.0.0.1:PORT (default 4420; 0 picks a free port) until SIGINT or
 * SIGTERM, or for N seconds, then disconnects the hosts and exits 0.
 * Try it with
 *
 *	nvme connect -t tcp -a 127.0.0.1 -s 4420 -n nqn.2026-11.io.nvmft:embed
 *	nvmft-perf -s 4420 -n nqn.2026-11.io.nvmft:embed -w randrw -V -T 5
 *
 * One rule shapes the program: management calls run on the app reactor
 * (reactor 0), and those that involve every reactor finish later, through
 * a done callback, on that reactor. So main() runs setup() there with
 * nvmft_runtime_exec(); each asynchronous call's callback starts the next
 * one, and the last posts a semaphore main() waits on (step_done()).
 */
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nvmft/nvmf.h>

#define EMBED_NQN	"nqn.2026-11.io.nvmft:embed"

struct embed {
	struct nvmft_runtime *rt;
	struct nvmft_tgt *tgt;
	struct nvmft_subsystem *ss;
	struct nvmft_listen_addr addr;
	int port, rc;		/* the port actually bound; result of a chain */
	sem_t done;
};

/* The end of a chain of calls on the app reactor: wake main(). */
static void step_done(void *arg, int rc)
{
	struct embed *e = arg;

	e->rc = rc;
	sem_post(&e->done);
}

/* Run @fn on the app reactor; wait for the step_done() it leads to. */
static int run_on_app_reactor(struct embed *e, nvmft_msg_fn fn)
{
	int rc = nvmft_runtime_exec(e->rt, 0, fn, e);

	if (!rc)
		sem_wait(&e->done);	/* no signal handlers: no EINTR */
	return rc ? rc : e->rc;
}

/* 4. Hosts may connect once the subsystem is started on every reactor. */
static void ns_added(void *arg, int rc)
{
	struct embed *e = arg;

	if (!rc)
		rc = nvmft_subsystem_start(e->ss, step_done, e);
	if (rc)
		step_done(e, rc);
}

/* 3. A subsystem open to any host, its listener and its namespace. */
static void transport_added(void *arg, int rc)
{
	struct nvmft_ns_opts ns = { .bdev_name = "ram0" };
	struct nvmft_subsystem_opts so;
	struct embed *e = arg;

	nvmft_subsystem_opts_init(&so);
	so.nqn = EMBED_NQN;
	so.allow_any_host = true;
	if (!rc)
		rc = nvmft_subsystem_create(e->tgt, &so, &e->ss);
	if (!rc)
		rc = nvmft_subsystem_add_listener(e->ss, &e->addr);
	if (!rc) {
		e->port = nvmft_tgt_listen_port(e->tgt, &e->addr);
		rc = nvmft_subsystem_add_ns(e->ss, &ns, NULL, ns_added, e);
	}
	if (rc)
		step_done(e, rc);
}

/*
 * 1. The target, with a 64 MiB RAM bdev in its own registry; 2. the TCP
 * transport, whose callback runs once every reactor has a poll group.
 */
static void setup(void *arg)
{
	struct embed *e = arg;
	int rc = nvmft_tgt_create(e->rt, NULL, &e->tgt);

	if (!rc)
		rc = nvmft_bdev_malloc_create(nvmft_tgt_get_bdevs(e->tgt), "ram0",
					      (64 << 20) / 512, 512, NULL, NULL);
	if (!rc)
		rc = nvmft_tgt_add_transport(e->tgt, "TCP", NULL, transport_added, e);
	if (rc)
		step_done(e, rc);
}

/* Disconnects the hosts, then frees subsystems, transport and bdevs. */
static void teardown(void *arg)
{
	struct embed *e = arg;

	nvmft_tgt_destroy(e->tgt, step_done, e);
}

int main(int argc, char **argv)
{
	struct timespec limit = { .tv_sec = 1 << 30 };	/* "forever" */
	struct embed e = { 0 };
	const char *port = "4420";
	sigset_t stop_sigs;
	int rc;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			limit.tv_sec = atoi(argv[++i]);
		else
			port = argv[i];
	if (limit.tv_sec <= 0 || nvmft_listen_addr_init(&e.addr, "127.0.0.1", port)) {
		fprintf(stderr, "usage: %s [--seconds N] [PORT]\n", argv[0]);
		return 2;
	}
	/* Reactor threads inherit this mask: only sigtimedwait() sees these. */
	sigemptyset(&stop_sigs);
	sigaddset(&stop_sigs, SIGINT);
	sigaddset(&stop_sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_sigs, NULL);
	sem_init(&e.done, 0, 0);

	/* Default options: one reactor per CPU this process may run on. */
	rc = nvmft_runtime_create(NULL, &e.rt);
	if (!rc)
		rc = nvmft_runtime_start(e.rt);
	if (!rc)
		rc = run_on_app_reactor(&e, setup);
	if (!rc) {
		printf("embed: serving %s on 127.0.0.1:%d\n", EMBED_NQN, e.port);
		fflush(stdout);
		sigtimedwait(&stop_sigs, NULL, &limit);
	} else {
		fprintf(stderr, "embed: cannot serve on port %s: %s\n", port, strerror(-rc));
	}
	if (e.tgt)
		run_on_app_reactor(&e, teardown);
	nvmft_runtime_stop(e.rt);
	nvmft_runtime_destroy(e.rt);
	return rc ? 1 : 0;
}
