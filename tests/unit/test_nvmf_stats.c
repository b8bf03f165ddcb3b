/* SPDX-License-Identifier: MIT */
/*
 * Statistics of the core: the log-linear latency histogram (lat_hist.h),
 * and what request.c counts on completion (per qpair counters, the poll
 * group's histogram of I/O commands) as nvmf_info reports it.
 */
#include "test_nvmf_cmd_harness.h"
#include "nvmf/lat_hist.h"
#include "nvmf/nvmf_info.h"

#define BS		512u
#define NBLOCKS		1024u

static uint8_t buf[8 * BS];

/* ---- histogram buckets ---------------------------------------------------- */

static void check_value(uint64_t v)
{
	unsigned int idx = nvmf_lat_bucket(v);
	uint64_t lo, hi;

	assert_true(idx < NVMF_LAT_BUCKETS);
	nvmf_lat_bucket_range(idx, &lo, &hi);
	if (lo > v || (idx != NVMF_LAT_BUCKETS - 1 && v >= hi))
		fail_msg("%llu in bucket %u = [%llu, %llu)", (unsigned long long)v,
			 idx, (unsigned long long)lo, (unsigned long long)hi);
}

static void test_every_value_falls_in_its_bucket_range(void **state)
{
	uint64_t v;
	unsigned int s;

	for (v = 0; v < 100000; v++)
		check_value(v);
	for (s = 3; s < 64; s++) {
		check_value((1ull << s) - 1);
		check_value(1ull << s);
		check_value((1ull << s) + 1);
		check_value((1ull << s) + (1ull << s) / 3);
	}
	check_value(UINT64_MAX);
}

static void test_buckets_tile_the_line_log_linearly(void **state)
{
	uint64_t lo, hi, prev_hi = 0;
	unsigned int i;

	for (i = 0; i < NVMF_LAT_BUCKETS; i++) {
		nvmf_lat_bucket_range(i, &lo, &hi);
		/* contiguous, no gap, no overlap */
		assert_int_equal(lo, prev_hi);
		assert_true(hi > lo);
		/* exact below NVMF_LAT_SUB, then at most 1/NVMF_LAT_SUB wide */
		if (lo < NVMF_LAT_SUB)
			assert_int_equal(hi - lo, 1);
		else
			assert_true((hi - lo) * NVMF_LAT_SUB <= lo);
		assert_int_equal(nvmf_lat_bucket(lo), i);
		if (i != NVMF_LAT_BUCKETS - 1)
			assert_int_equal(nvmf_lat_bucket(hi - 1), i);
		prev_hi = hi;
	}
	/* the last bucket starts below 2^32 us and takes everything above */
	assert_true(prev_hi == 1ull << NVMF_LAT_MAX_BITS);
	assert_int_equal(nvmf_lat_bucket(1ull << 40), NVMF_LAT_BUCKETS - 1);
}

static void test_add_counts_and_sums(void **state)
{
	struct nvmf_lat_hist h;

	memset(&h, 0, sizeof(h));
	nvmf_lat_hist_add(&h, 3);
	nvmf_lat_hist_add(&h, 3);
	nvmf_lat_hist_add(&h, 100);
	assert_int_equal(h.buckets[3], 2);
	assert_int_equal(h.buckets[nvmf_lat_bucket(100)], 1);
	assert_int_equal(h.sum_us, 106);
}

/* ---- what completions count ---------------------------------------------- */

static int setup_malloc(void **state)
{
	struct th *h;

	th_setup(state);
	h = *state;
	th_add_ns(h, 1, "m1", NBLOCKS, BS, false);
	return 0;
}

static uint16_t io(struct th *h, uint8_t opc, uint64_t slba, uint32_t nlb)
{
	struct th_req r;

	th_req_init(&r, &h->ioq, opc, 1, buf, nlb * BS);
	r.req.cmd.cdw10 = (uint32_t)slba;
	r.req.cmd.cdw11 = (uint32_t)(slba >> 32);
	r.req.cmd.cdw12 = (nlb - 1) & 0xffff;
	return th_exec(h, &r);
}

static uint64_t hist_total(const struct nvmf_lat_hist *hist)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < NVMF_LAT_BUCKETS; i++)
		n += hist->buckets[i];
	return n;
}

static void test_io_completions_feed_histogram_and_counters(void **state)
{
	struct th *h = *state;
	int i;

	for (i = 0; i < 5; i++)
		assert_int_equal(io(h, nvme_cmd_write, (uint64_t)i * 8, 8), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(io(h, nvme_cmd_read, 0, 4), 0);
	/* past the end: fails, still a completed command */
	assert_int_not_equal(io(h, nvme_cmd_read, NBLOCKS, 1), 0);

	assert_int_equal(h->ioq_core.stats.cmds, 9);
	assert_int_equal(h->ioq_core.stats.errors, 1);
	assert_int_equal(hist_total(&h->pg.stats.io_lat), 9);
	/* a command on a malloc bdev is quick: nowhere near the last bucket */
	assert_int_equal(h->pg.stats.io_lat.buckets[NVMF_LAT_BUCKETS - 1], 0);

	/* admin commands are counted per qpair, not timed */
	assert_int_equal(th_admin(h, nvme_admin_keep_alive, 0, 0, 0, NULL, 0, NULL), 0);
	assert_int_equal(h->aq_core.stats.cmds, 1);
	assert_int_equal(h->aq_core.stats.errors, 0);
	assert_int_equal(hist_total(&h->pg.stats.io_lat), 9);
}

static void fail_fn(void *arg)
{
	struct th_req *r = arg;

	nvmf_req_fail(&r->req, NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD));
}

/* A command the transport fails before exec is timed from the failure:
 * a sane latency, not one measured from an old start time. */
static void test_failed_before_exec_is_timed_from_the_failure(void **state)
{
	struct th *h = *state;
	struct th_req r;

	th_req_init(&r, &h->ioq, nvme_cmd_read, 1, buf, BS);
	r.req.core_start_us = 1;	/* stale */
	th_run(h, fail_fn, &r);
	assert_int_not_equal(th_wait(h, &r), 0);
	assert_int_equal(hist_total(&h->pg.stats.io_lat), 1);
	assert_true(h->pg.stats.io_lat.sum_us < 1000000);
	assert_int_equal(h->ioq_core.stats.errors, 1);
}

struct info_walk {
	struct th *h;
	struct nvmf_info_pg pg;
	uint64_t pg_hist;
	struct nvmf_info_qpair q[2];
	int nr;
};

static int info_qpair(const struct nvmf_info_qpair *q, void *arg)
{
	struct info_walk *w = arg;

	if (w->nr < 2)
		w->q[w->nr++] = *q;
	return 0;
}

static void info_fn(void *arg)
{
	struct info_walk *w = arg;

	nvmf_pg_add_qpair(&w->h->pg, &w->h->aq);
	nvmf_pg_add_qpair(&w->h->pg, &w->h->ioq);
	nvmf_info_poll_group(&w->h->pg, &w->pg);
	w->pg_hist = hist_total(w->pg.io_lat);
	nvmf_info_foreach_qpair(&w->h->pg, info_qpair, w);
	nvmf_pg_remove_qpair(&w->h->pg, &w->h->ioq);
	nvmf_pg_remove_qpair(&w->h->pg, &w->h->aq);
}

static void test_info_reports_qpair_counters_and_histogram(void **state)
{
	struct th *h = *state;
	struct info_walk w = { .h = h };
	const struct nvmf_info_qpair *io_q;

	assert_int_equal(io(h, nvme_cmd_write, 0, 8), 0);
	assert_int_equal(io(h, nvme_cmd_write, 8, 8), 0);
	assert_int_equal(io(h, nvme_cmd_read, 0, 2), 0);
	th_run(h, info_fn, &w);
	assert_int_equal(w.pg_hist, 3);
	assert_int_equal(w.nr, 2);
	io_q = w.q[0].qid == 1 ? &w.q[0] : &w.q[1];
	assert_int_equal(io_q->qid, 1);
	assert_ptr_equal(io_q->qpair, &h->ioq);
	assert_int_equal(io_q->cmds, 3);
	assert_int_equal(io_q->errors, 0);
	assert_int_equal(io_q->write_cmds, 2);
	assert_int_equal(io_q->read_cmds, 1);
	assert_int_equal(io_q->bytes_written, 16 * BS);
	assert_int_equal(io_q->bytes_read, 2 * BS);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_malloc, th_teardown)

int main(void)
{
	const struct CMUnitTest hist[] = {
		cmocka_unit_test(test_every_value_falls_in_its_bucket_range),
		cmocka_unit_test(test_buckets_tile_the_line_log_linearly),
		cmocka_unit_test(test_add_counts_and_sums),
	};
	const struct CMUnitTest counting[] = {
		T(test_io_completions_feed_histogram_and_counters),
		T(test_failed_before_exec_is_timed_from_the_failure),
		T(test_info_reports_qpair_counters_and_histogram),
	};
	int rc;

	rc = cmocka_run_group_tests_name("lat_hist", hist, NULL, NULL);
	rc |= cmocka_run_group_tests_name("nvmf_stats", counting, NULL, NULL);
	return rc;
}
