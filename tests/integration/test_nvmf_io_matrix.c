/* SPDX-License-Identifier: MIT */
/*
 * Verified I/O matrix over the real path (2 reactors, io_uring and epoll):
 * queue depth 1, 8, 32, 128 × transfer sizes 512 B to 1 MiB (in-capsule up
 * to 8 KiB, R2T + H2CData beyond), writes then reads compared byte for
 * byte, with digests off and on (header + data), on a 512 B and a 4 KiB
 * block namespace; once with the default buffer size and once with a 32 KiB
 * io_unit_size, where MAXH2CDATA forces several H2CData PDUs per R2T and
 * reads come back in several C2HData PDUs. Each case moves a few MiB.
 */
#include "nvmf_harness.h"

#define MX_NQN		"nqn.2026-11.io.nvmft:matrix"
#define MX_NS_BYTES	(24u * 1024 * 1024)
#define MX_BUDGET	(4u * 1024 * 1024)	/* bytes written per case */
#define MX_QD_MAX	128
#define MX_CASE_MS	30000

struct env {
	struct nh h;
	struct nvmft_subsystem *ss;
};

static int env_setup(void **state, enum nvmft_engine engine, uint32_t io_unit)
{
	struct env *e = calloc(1, sizeof(*e));
	struct nvmft_transport_opts o;
	int rc;

	if (!e)
		return -1;
	*state = e;
	nvmft_transport_opts_init("TCP", &o);
	o.max_queue_depth = 256;	/* room for QD 128 (+1 entry) */
	if (io_unit)
		o.io_unit_size = io_unit;
	rc = nh_start(&e->h, engine, &o);
	if (!rc)
		rc = nh_malloc(&e->h, "Mx512", MX_NS_BYTES / 512, 512);
	if (!rc)
		rc = nh_malloc(&e->h, "Mx4k", MX_NS_BYTES / 4096, 4096);
	if (!rc)
		rc = nh_simple_subsystem(&e->h, MX_NQN, &e->ss);
	if (!rc)
		rc = nh_add_ns(&e->h, e->ss, "Mx512", 1, NULL);
	if (!rc)
		rc = nh_add_ns(&e->h, e->ss, "Mx4k", 2, NULL);
	return rc ? -1 : 0;
}

static int setup_uring(void **state) { return env_setup(state, NVMFT_ENGINE_URING, 0); }
static int setup_epoll(void **state) { return env_setup(state, NVMFT_ENGINE_EPOLL, 0); }
static int setup_uring_32k(void **state) { return env_setup(state, NVMFT_ENGINE_URING, 32768); }
static int setup_epoll_32k(void **state) { return env_setup(state, NVMFT_ENGINE_EPOLL, 32768); }

static int env_teardown(void **state)
{
	struct env *e = *state;

	nh_stop(&e->h);
	free(e);
	return 0;
}

/* ---- one queue kept at depth qd --------------------------------------------- */

struct qrun {
	unsigned int inflight;
	unsigned int completed;
	unsigned int errors;
	uint16_t first_status;
	int first_err;
};

static void qrun_cb(void *arg, const struct nvmft_host_cpl *cpl)
{
	struct qrun *q = arg;

	q->inflight--;
	q->completed++;
	if (cpl->status) {
		if (!q->errors++) {
			q->first_status = cpl->status;
			q->first_err = cpl->err;
		}
	}
}

/* @n commands of @len bytes at consecutive regions, @qd at a time. */
static void run_queue(struct nvmft_host_qpair *qp, bool write, uint32_t nsid,
		      uint32_t bs, uint8_t *buf, uint32_t len, unsigned int n,
		      unsigned int qd)
{
	struct qrun q = { 0 };
	unsigned int next = 0;
	uint64_t end = tt_now_ms() + MX_CASE_MS;
	struct nvmft_sqe sqe;

	while (q.completed < n) {
		while (q.inflight < qd && next < n) {
			nh_sqe_rw(&sqe, write, nsid, (uint64_t)next * (len / bs),
				  len / bs);
			assert_int_equal(nvmft_host_submit(qp, &sqe,
							   buf + (size_t)next * len, len,
							   write ? NVMFT_HOST_DIR_WRITE :
							   NVMFT_HOST_DIR_READ,
							   qrun_cb, &q), 0);
			q.inflight++;
			next++;
		}
		assert_true(nvmft_host_qpair_poll(qp, 0) >= 0);
		if (tt_now_ms() > end) {
			fprintf(stderr, "stuck: %u/%u done, %u in flight\n",
				q.completed, n, q.inflight);
			fail();
		}
	}
	if (q.errors)
		fprintf(stderr, "%s: %u errors, first status 0x%x err %d\n",
			write ? "write" : "read", q.errors, q.first_status, q.first_err);
	assert_int_equal(q.errors, 0);
}

static const unsigned int qds[] = { 1, 8, 32, 128 };
static const uint32_t sizes[] = { 512, 4096, 8192, 8704, 65536, 131072, 1u << 20 };

static uint32_t div_up(uint32_t a, uint32_t b)
{
	return (a + b - 1) / b;
}

static void run_matrix(struct env *e, uint32_t nsid, uint32_t bs, bool digests)
{
	struct nvmft_host_opts o;
	struct nvmft_host_ctrlr *c = NULL;
	struct nvmft_host_qpair *qp;
	uint32_t io_unit = e->h.t.topts.io_unit_size;
	uint32_t icd = e->h.t.topts.in_capsule_data_size;
	uint8_t *w = malloc(MX_BUDGET), *r = malloc(MX_BUDGET);
	uint32_t seed = 1;

	assert_non_null(w);
	assert_non_null(r);
	nh_host_opts(&e->h, &o, MX_NQN);
	o.hdgst = digests;
	o.ddgst = digests;
	o.io_queue_size = MX_QD_MAX + 1;
	assert_int_equal(nvmft_host_ctrlr_connect(&o, &c), 0);
	qp = nvmft_host_ctrlr_io_qpair(c, 0);
	assert_non_null(qp);
	assert_true(nvmft_host_qpair_depth(qp) >= MX_QD_MAX);

	for (unsigned int si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
		uint32_t len = sizes[si];

		if (len % bs)
			continue;
		for (unsigned int qi = 0; qi < sizeof(qds) / sizeof(qds[0]); qi++) {
			unsigned int n = MX_BUDGET / len;
			unsigned int qd = qds[qi];
			struct nvmft_host_qpair_stats a, b, m;

			if (n > 2 * qd + 8)
				n = 2 * qd + 8;	/* at least two rounds of the queue */
			if (qd > n)
				qd = n;
			nh_fill(w, (size_t)n * len, seed++);
			memset(r, 0xa5, (size_t)n * len);

			nvmft_host_qpair_get_stats(qp, &a);
			run_queue(qp, true, nsid, bs, w, len, n, qd);
			nvmft_host_qpair_get_stats(qp, &m);
			run_queue(qp, false, nsid, bs, r, len, n, qd);
			nvmft_host_qpair_get_stats(qp, &b);
			if (memcmp(w, r, (size_t)n * len))
				fprintf(stderr, "mismatch: nsid %u len %u qd %u digests %d\n",
					nsid, len, qd, digests);
			assert_memory_equal(w, r, (size_t)n * len);

			/* the path each size must take */
			if (len <= icd) {
				assert_int_equal(m.r2t - a.r2t, 0);
				assert_int_equal(m.h2c - a.h2c, 0);
			} else {
				assert_int_equal(m.r2t - a.r2t, n);
				assert_int_equal(m.h2c - a.h2c,
						 (uint64_t)n * div_up(len, io_unit));
			}
			assert_int_equal(b.c2h - m.c2h, (uint64_t)n * div_up(len, io_unit));
			assert_int_equal(b.ddgst_errors, 0);
		}
	}
	nvmft_host_ctrlr_disconnect(c);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
	free(w);
	free(r);
}

static void test_matrix_ns512_no_digests(void **state)
{
	run_matrix(*state, 1, 512, false);
}

static void test_matrix_ns512_digests(void **state)
{
	run_matrix(*state, 1, 512, true);
}

static void test_matrix_ns4096_no_digests(void **state)
{
	run_matrix(*state, 2, 4096, false);
}

static void test_matrix_ns4096_digests(void **state)
{
	run_matrix(*state, 2, 4096, true);
}

/* Both namespaces at once, through two queues, each reading back what the
 * other queue wrote: 1 MiB at the same byte offset of each namespace. */
static void test_two_namespaces_interleaved_1mib(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = nh_connect(&e->h, MX_NQN, 2);
	struct nvmft_host_qpair *qp[2] = { nvmft_host_ctrlr_io_qpair(c, 0),
					   nvmft_host_ctrlr_io_qpair(c, 1) };
	uint32_t len = 1u << 20;
	uint8_t *w[2], *r[2];
	struct nh_slot s[2];

	for (int i = 0; i < 2; i++) {
		w[i] = malloc(len);
		r[i] = malloc(len);
		assert_non_null(w[i]);
		assert_non_null(r[i]);
		nh_fill(w[i], len, 900 + (uint32_t)i);
	}
	/* the same bytes at the same byte offset of both namespaces */
	assert_int_equal(nh_submit_rw(qp[0], true, 1, 4096, len / 512, w[0], len, &s[0]), 0);
	assert_int_equal(nh_submit_rw(qp[1], true, 2, 512, len / 4096, w[1], len, &s[1]), 0);
	assert_int_equal(nvmft_host_qpair_wait(qp[0], &s[0].done, 10000), 0);
	assert_int_equal(nvmft_host_qpair_wait(qp[1], &s[1].done, 10000), 0);
	assert_int_equal(s[0].status, 0);
	assert_int_equal(s[1].status, 0);
	assert_int_equal(nh_submit_rw(qp[1], false, 1, 4096, len / 512, r[0], len, &s[0]), 0);
	assert_int_equal(nh_submit_rw(qp[0], false, 2, 512, len / 4096, r[1], len, &s[1]), 0);
	assert_int_equal(nvmft_host_qpair_wait(qp[1], &s[0].done, 10000), 0);
	assert_int_equal(nvmft_host_qpair_wait(qp[0], &s[1].done, 10000), 0);
	assert_int_equal(s[0].status, 0);
	assert_int_equal(s[1].status, 0);
	for (int i = 0; i < 2; i++) {
		assert_memory_equal(w[i], r[i], len);
		free(w[i]);
		free(r[i]);
	}
	nvmft_host_ctrlr_disconnect(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matrix_ns512_no_digests),
		cmocka_unit_test(test_matrix_ns512_digests),
		cmocka_unit_test(test_matrix_ns4096_no_digests),
		cmocka_unit_test(test_matrix_ns4096_digests),
		cmocka_unit_test(test_two_namespaces_interleaved_1mib),
	};
	int fails = 0;

	fails += NH_RUN_BOTH("nvmf_io_matrix", tests, setup_uring, setup_epoll,
			     env_teardown);
	fails += NH_RUN_BOTH("nvmf_io_matrix_io_unit_32k", tests, setup_uring_32k,
			     setup_epoll_32k, env_teardown);
	return fails ? 1 : 0;
}
