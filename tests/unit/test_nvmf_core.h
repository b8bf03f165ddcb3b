/* SPDX-License-Identifier: MIT */
/*
 * Shared by the NVMe-oF core tests (test_nvmf_tgt.c, test_nvmf_subsystem.c,
 * test_nvmf_fabrics.c, test_nvmf_ctrlr.c): a real runtime of two reactors,
 * a real tgt with the in-process FAKE transport, helpers that run
 * management calls on the app reactor and wait for their callbacks.
 */
#ifndef NVMFT_TEST_NVMF_CORE_H
#define NVMFT_TEST_NVMF_CORE_H

#include <errno.h>
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

#include <nvmft/nvmf.h>
#include "support/fake_transport.h"

#define TC_UNUSED	__attribute__((unused))
#define TC_NQN		"nqn.2024-01.io.nvmft:core-test"
#define TC_HOSTNQN	"nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555"
#define TC_HOSTNQN2	"nqn.2014-08.org.nvmexpress:uuid:66666666-7777-8888-9999-000000000000"
#define TC_WAIT_US	5000000u

#define ST(sct, sc)	NVMFT_STATUS(sct, sc)
#define ST_DNR(sct, sc)	(NVMFT_STATUS(sct, sc) | NVMFT_STATUS_DNR)

struct tc {
	struct nvmft_runtime *rt;
	struct nvmft_tgt *tgt;
};

static TC_UNUSED void tc_quiet_log(void *ctx, enum nvmft_log_level level,
				   const char *msg)
{
	(void)ctx;
	if (level <= NVMFT_LOG_ERR)
		fprintf(stderr, "log %d: %s\n", level, msg);
}

static TC_UNUSED struct nvmft_runtime *tc_rt_start(unsigned int nr)
{
	struct nvmft_runtime_opts o;
	struct nvmft_runtime *rt = NULL;
	int rc;

	nvmft_runtime_opts_init(&o);
	o.nr_reactors = nr;
	o.name = "tc";
	rc = nvmft_runtime_create(&o, &rt);
	if (rc) {
		fprintf(stderr, "SKIP: no runtime here (%d)\n", rc);
		exit(77);
	}
	nvmft_runtime_set_log(rt, NVMFT_LOG_ERR, tc_quiet_log, NULL);
	if (nvmft_runtime_start(rt)) {
		fprintf(stderr, "SKIP: runtime did not start\n");
		exit(77);
	}
	return rt;
}

static TC_UNUSED int tc_setup(void **state)
{
	struct tc *tc = calloc(1, sizeof(*tc));

	assert_non_null(tc);
	tc->rt = tc_rt_start(2);
	tc->tgt = fake_transport_tgt_new(tc->rt, NULL);
	assert_non_null(tc->tgt);
	*state = tc;
	return 0;
}

static TC_UNUSED int tc_teardown(void **state)
{
	struct tc *tc = *state;

	if (tc->tgt)
		assert_int_equal(fake_transport_tgt_free(tc->rt, tc->tgt), 0);
	nvmft_runtime_stop(tc->rt);
	nvmft_runtime_destroy(tc->rt);
	fake_transport_reap();
	free(tc);
	return 0;
}

/* Run a closure-like step on the app reactor. */
#define TC_ON_APP(tc, fn, arg)	fake_transport_on_app((tc)->rt, (fn), (arg))

/* Run @fn on reactor @idx and wait. */
static TC_UNUSED void tc_on(struct tc *tc, unsigned int idx, void (*fn)(void *arg),
			    void *arg)
{
	assert_int_equal(nvmft_runtime_exec(tc->rt, idx, fn, arg), 0);
}

/* Poll @cond-like callback until true or timeout. */
static TC_UNUSED bool tc_wait_true(bool (*cond)(void *arg), void *arg,
				   uint64_t timeout_us)
{
	uint64_t end = nvmft_now_us() + timeout_us;

	while (!cond(arg)) {
		if (nvmft_now_us() > end)
			return false;
		usleep(500);
	}
	return true;
}

/* --- subsystem helpers (app reactor through TC_ON_APP) ------------------ */

struct tc_ss_args {
	struct nvmft_tgt *tgt;
	const char *nqn;
	bool allow_any;
	bool start;
	struct nvmft_subsystem *ss;
	struct fake_transport_waiter w;
	int rc;
};

static void tc_ss_create_fn(void *arg)
{
	struct tc_ss_args *a = arg;
	struct nvmft_subsystem_opts o;

	nvmft_subsystem_opts_init(&o);
	o.nqn = a->nqn;
	o.allow_any_host = a->allow_any;
	a->rc = nvmft_subsystem_create(a->tgt, &o, &a->ss);
	if (a->rc == 0 && a->start)
		a->rc = nvmft_subsystem_start(a->ss, fake_transport_done, &a->w);
	else
		fake_transport_done(&a->w, a->rc);
}

/* Create (and maybe start) a subsystem; asserts success. */
static TC_UNUSED struct nvmft_subsystem *tc_ss(struct tc *tc, struct nvmft_tgt *tgt,
					       const char *nqn, bool allow_any,
					       bool start)
{
	struct tc_ss_args a = { .tgt = tgt, .nqn = nqn, .allow_any = allow_any,
				.start = start };

	TC_ON_APP(tc, tc_ss_create_fn, &a);
	assert_int_equal(a.rc, 0);
	assert_int_equal(fake_transport_wait(&a.w, TC_WAIT_US), 0);
	assert_int_equal(a.w.rc, 0);
	return a.ss;
}

struct tc_bdev_args {
	struct nvmft_tgt *tgt;
	const char *name;
	uint64_t blocks;
	int rc;
};

static void tc_bdev_fn(void *arg)
{
	struct tc_bdev_args *a = arg;

	a->rc = nvmft_bdev_malloc_create(nvmft_tgt_get_bdevs(a->tgt), a->name,
					 a->blocks, 512, NULL, NULL);
}

static TC_UNUSED void tc_bdev(struct tc *tc, const char *name, uint64_t blocks)
{
	struct tc_bdev_args a = { .tgt = tc->tgt, .name = name, .blocks = blocks };

	TC_ON_APP(tc, tc_bdev_fn, &a);
	assert_int_equal(a.rc, 0);
}

struct tc_ns_args {
	struct nvmft_subsystem *ss;
	const char *bdev;
	uint32_t nsid;
	bool remove;
	struct fake_transport_waiter w;
	int rc;
};

static void tc_ns_fn(void *arg)
{
	struct tc_ns_args *a = arg;
	struct nvmft_ns_opts o = { .bdev_name = a->bdev, .nsid = a->nsid };

	if (a->remove)
		a->rc = nvmft_subsystem_remove_ns(a->ss, a->nsid, fake_transport_done, &a->w);
	else
		a->rc = nvmft_subsystem_add_ns(a->ss, &o, &a->nsid, fake_transport_done,
					       &a->w);
}

/* Add (bdev != NULL) or remove a namespace and wait for done; rc of the call. */
static TC_UNUSED int tc_ns(struct tc *tc, struct nvmft_subsystem *ss, const char *bdev,
			   uint32_t *nsid, bool remove)
{
	struct tc_ns_args a = { .ss = ss, .bdev = bdev, .nsid = *nsid, .remove = remove };

	TC_ON_APP(tc, tc_ns_fn, &a);
	if (a.rc)
		return a.rc;
	assert_int_equal(fake_transport_wait(&a.w, TC_WAIT_US), 0);
	*nsid = a.nsid;
	return a.w.rc;
}

/* --- controller access ---------------------------------------------------- */

struct tc_ctrlr_args {
	struct nvmft_subsystem *ss;
	uint16_t cntlid;
	struct nvmf_ctrlr *ctrlr;
	unsigned int thread_idx;
};

static void tc_ctrlr_fn(void *arg)
{
	struct tc_ctrlr_args *a = arg;
	struct nvmf_ctrlr *c;

	TAILQ_FOREACH(c, &a->ss->ctrlrs, link) {
		if (c->cntlid == a->cntlid) {
			a->ctrlr = c;
			a->thread_idx = nvmft_thread_index(c->thread);
		}
	}
}

/* The controller @cntlid of @ss and its reactor index (asserts found). */
static TC_UNUSED struct nvmf_ctrlr *tc_ctrlr(struct tc *tc, struct nvmft_subsystem *ss,
					     uint16_t cntlid, unsigned int *idx)
{
	struct tc_ctrlr_args a = { .ss = ss, .cntlid = cntlid };

	TC_ON_APP(tc, tc_ctrlr_fn, &a);
	assert_non_null(a.ctrlr);
	if (idx)
		*idx = a.thread_idx;
	return a.ctrlr;
}

/* --- SQE builders ------------------------------------------------------------ */

static TC_UNUSED void tc_rw_cmd(struct nvmft_sqe *sqe, uint8_t opc, uint32_t nsid,
				uint64_t slba, uint32_t nlb)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = opc;
	sqe->nsid = nsid;
	sqe->sgl.type = NVMFT_SGL_TRANSPORT;
	sqe->cdw10 = (uint32_t)slba;
	sqe->cdw11 = (uint32_t)(slba >> 32);
	sqe->cdw12 = nlb - 1;
}

static TC_UNUSED void tc_admin_cmd(struct nvmft_sqe *sqe, uint8_t opc)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = opc;
}

#endif
