/* SPDX-License-Identifier: MIT */
/*
 * Shared by the fuzz targets that need the real NVMe-oF core behind them
 * (fuzz_tcp_recv, fuzz_cmd): one runtime with a single reactor (epoll:
 * works where io_uring is blocked, and one reactor keeps every message on
 * one thread, so an input runs the same way each time), a target with a
 * malloc namespace in one subsystem that any host may reach, and a
 * transport. Made once per process; inputs create and tear down their
 * own connections and controllers on it.
 */
#ifndef NVMFT_TESTS_FUZZ_ENV_H
#define NVMFT_TESTS_FUZZ_ENV_H

#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nvmft/bdev.h>
#include <nvmft/nvmf.h>
#include <nvmft/runtime.h>
#include "nvmf/nvmf_internal.h"

#define FUZZ_NQN	"nqn.2024-01.io.nvmft:fuzz"
#define FUZZ_HOSTNQN	"nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-00000000f022"
#define FUZZ_BDEV	"Malloc0"
#define FUZZ_LBA	512u
#define FUZZ_BLOCKS	2048u		/* 1 MiB */

#define FUZZ_CHECK(cond)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: check failed: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

struct fuzz_env {
	struct nvmft_runtime *rt;
	struct nvmft_tgt *tgt;
	struct nvmft_subsystem *ss;
	const char *transport;
	const struct nvmft_transport_opts *topts;
	/* called on the app reactor before the transport is added */
	int (*prepare)(struct nvmft_tgt *tgt);
	_Atomic int done;
	int rc;
};

static void fuzz_env_log(void *ctx, enum nvmft_log_level level, const char *msg)
{
	(void)ctx;
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "[tgt %d] %s\n", level, msg);
}

static void fuzz_env_done(void *arg, int rc)
{
	struct fuzz_env *e = arg;

	e->rc = rc;
	atomic_store(&e->done, 1);
}

static void fuzz_env_fail(struct fuzz_env *e, int rc)
{
	e->rc = rc;
	atomic_store(&e->done, 1);
}

static void fuzz_env_step_tgt(void *arg)
{
	struct fuzz_env *e = arg;
	struct nvmft_tgt_opts o;
	int rc;

	nvmft_tgt_opts_init(&o);
	o.name = "fuzz";
	rc = nvmft_tgt_create(e->rt, &o, &e->tgt);
	if (!rc)
		rc = nvmft_bdev_malloc_create(nvmft_tgt_get_bdevs(e->tgt), FUZZ_BDEV,
					      FUZZ_BLOCKS, FUZZ_LBA, NULL, NULL);
	if (!rc && e->prepare)
		rc = e->prepare(e->tgt);
	if (!rc)
		rc = nvmft_tgt_add_transport(e->tgt, e->transport, e->topts,
					     fuzz_env_done, e);
	if (rc)
		fuzz_env_fail(e, rc);
}

static void fuzz_env_step_ss(void *arg)
{
	struct fuzz_env *e = arg;
	struct nvmft_subsystem_opts so;
	struct nvmft_ns_opts no = { .bdev_name = FUZZ_BDEV, .nsid = 1 };
	int rc;

	nvmft_subsystem_opts_init(&so);
	so.nqn = FUZZ_NQN;
	so.allow_any_host = true;
	rc = nvmft_subsystem_create(e->tgt, &so, &e->ss);
	if (!rc)
		rc = nvmft_subsystem_add_ns(e->ss, &no, NULL, fuzz_env_done, e);
	if (rc)
		fuzz_env_fail(e, rc);
}

static void fuzz_env_step_start(void *arg)
{
	struct fuzz_env *e = arg;
	int rc = nvmft_subsystem_start(e->ss, fuzz_env_done, e);

	if (rc)
		fuzz_env_fail(e, rc);
}

static inline int fuzz_env_step(struct fuzz_env *e, nvmft_msg_fn fn)
{
	int rc;

	atomic_store(&e->done, 0);
	e->rc = 0;
	rc = nvmft_runtime_exec(e->rt, 0, fn, e);
	if (rc)
		return rc;
	while (!atomic_load(&e->done))
		sched_yield();
	return e->rc;
}

/* Build the environment; aborts on failure (nothing can be fuzzed). */
static inline void fuzz_env_start(struct fuzz_env *e)
{
	struct nvmft_runtime_opts ro;

	nvmft_runtime_opts_init(&ro);
	ro.nr_reactors = 1;
	ro.engine = NVMFT_ENGINE_EPOLL;
	ro.name = "fuzz";
	/* the fuzzer thread waits for every step: a reactor asleep would
	 * cost a wake-up (hundreds of microseconds) each time, so it spins a
	 * little longer before sleeping (not forever: fuzzers run side by
	 * side on small machines) */
	ro.idle_spin_us = 2000;
	FUZZ_CHECK(nvmft_runtime_create(&ro, &e->rt) == 0);
	nvmft_runtime_set_log(e->rt, getenv("FUZZ_VERBOSE") ? NVMFT_LOG_DEBUG :
			      NVMFT_LOG_ERR, fuzz_env_log, NULL);
	FUZZ_CHECK(nvmft_runtime_start(e->rt) == 0);
	FUZZ_CHECK(fuzz_env_step(e, fuzz_env_step_tgt) == 0);
	FUZZ_CHECK(fuzz_env_step(e, fuzz_env_step_ss) == 0);
	FUZZ_CHECK(fuzz_env_step(e, fuzz_env_step_start) == 0);
}

static void fuzz_env_step_destroy(void *arg)
{
	struct fuzz_env *e = arg;

	nvmft_tgt_destroy(e->tgt, fuzz_env_done, e);
}

/* Tear it down (replay mode: proves teardown after all those inputs). */
static inline void fuzz_env_stop(struct fuzz_env *e)
{
	if (!e->rt)
		return;
	FUZZ_CHECK(fuzz_env_step(e, fuzz_env_step_destroy) == 0);
	nvmft_runtime_stop(e->rt);
	nvmft_runtime_destroy(e->rt);
	e->rt = NULL;
}

/* Run @fn(@arg) on the reactor and wait. */
static inline void fuzz_env_exec(struct fuzz_env *e, nvmft_msg_fn fn, void *arg)
{
	FUZZ_CHECK(nvmft_runtime_exec(e->rt, 0, fn, arg) == 0);
}

#endif
