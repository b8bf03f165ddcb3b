/* SPDX-License-Identifier: MIT */
/*
 * nvmf_get_stats and nvmf_subsystem_get_qpairs after I/O from a real host
 * (the project's NVMe/TCP host library): per qpair counters (commands,
 * errors, reads, writes, bytes, requests per TCP state) and the poll
 * groups' I/O latency histograms, whose counts add up to the I/O
 * commands completed.
 */
#include "test_rpc_harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>

#include <nvmft/host.h>

#define NQN1	"nqn.2016-06.io.spdk:cnode1"
#define HOST1	"nqn.2016-06.io.spdk:host1"
#define BLK	512u
#define MIB	4u
#define NR_WRITES	24
#define NR_READS	16
#define IO_BLOCKS	8u

static void host_log(void *arg, int level, const char *msg)
{
	if (getenv("RPC_TEST_VERBOSE"))
		fprintf(stderr, "[host] %s\n", msg);
}

static void serve_one_ns(struct rh_conn *c, int port)
{
	rh_ok_true(c, "nvmf_create_transport", "{\"trtype\":\"TCP\"}");
	json_object_put(rh_ok(c, "bdev_malloc_create", "{\"name\":\"M0\",\"num_blocks\":%u,"
			      "\"block_size\":%u}", MIB * 1024 * 1024 / BLK, BLK));
	rh_ok_true(c, "nvmf_create_subsystem", "{\"nqn\":\"" NQN1 "\",\"allow_any_host\":true}");
	json_object_put(rh_ok(c, "nvmf_subsystem_add_ns", "{\"nqn\":\"" NQN1 "\","
			      "\"namespace\":{\"bdev_name\":\"M0\",\"nsid\":1}}"));
	rh_ok_true(c, "nvmf_subsystem_add_listener", "{\"nqn\":\"" NQN1 "\",\"listen_address\":"
		   "{\"trtype\":\"tcp\",\"traddr\":\"127.0.0.1\",\"trsvcid\":\"%d\"}}", port);
}

static struct nvmft_host_ctrlr *host_connect(int port)
{
	struct nvmft_host_ctrlr *ctrlr = NULL;
	struct nvmft_host_opts o;
	char svc[16];

	snprintf(svc, sizeof(svc), "%d", port);
	nvmft_host_opts_init(&o);
	o.traddr = "127.0.0.1";
	o.trsvcid = svc;
	o.subnqn = NQN1;
	o.hostnqn = HOST1;
	o.num_io_queues = 2;
	o.log_fn = host_log;
	assert_int_equal(nvmft_host_ctrlr_connect(&o, &ctrlr), 0);
	return ctrlr;
}

/* NR_WRITES writes and NR_READS reads of IO_BLOCKS blocks over both
 * I/O queues, then one read past the end (an error). */
static void do_io(struct nvmft_host_ctrlr *ctrlr)
{
	static char buf[IO_BLOCKS * BLK];
	struct nvmft_host_qpair *qp;
	int i;

	memset(buf, 0xa5, sizeof(buf));
	for (i = 0; i < NR_WRITES; i++) {
		qp = nvmft_host_ctrlr_io_qpair(ctrlr, (uint16_t)(i % 2));
		assert_int_equal(nvmft_host_write(qp, 1, (uint64_t)i * IO_BLOCKS, IO_BLOCKS,
						  buf, sizeof(buf), false), 0);
	}
	for (i = 0; i < NR_READS; i++) {
		qp = nvmft_host_ctrlr_io_qpair(ctrlr, (uint16_t)(i % 2));
		assert_int_equal(nvmft_host_read(qp, 1, (uint64_t)i * IO_BLOCKS, IO_BLOCKS,
						 buf, sizeof(buf)), 0);
	}
	qp = nvmft_host_ctrlr_io_qpair(ctrlr, 0);
	assert_true(nvmft_host_read(qp, 1, MIB * 1024 * 1024 / BLK, 1, buf, BLK) > 0);
}

/* Counts of a histogram object ("buckets": [{"count"}...]) added up. */
static int64_t bucket_sum(struct json_object *hist)
{
	struct json_object *b = rh_get(hist, "buckets");
	int64_t n = 0;
	size_t i;

	for (i = 0; i < json_object_array_length(b); i++) {
		struct json_object *x = json_object_array_get_idx(b, i);

		/* every bucket listed is non-empty and ordered */
		assert_true(rh_int(x, "count") > 0);
		if (json_object_object_get_ex(x, "hi_us", NULL))
			assert_true(rh_int(x, "hi_us") > rh_int(x, "lo_us"));
		n += rh_int(x, "count");
	}
	return n;
}

static void stats_count_io_per_qpair_and_in_the_histograms(void **state)
{
	struct nvmft_host_ctrlr *ctrlr;
	struct json_object *r, *pgs, *pg, *qs, *q, *st;
	int64_t completed = 0, hist = 0, reads = 0, writes = 0, errors = 0;
	int64_t bread = 0, bwritten = 0, io_qpairs = 0;
	struct rh_env e;
	struct rh_conn c;
	int port = rh_free_port();
	size_t i, k;

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	serve_one_ns(&c, port);
	ctrlr = host_connect(port);
	do_io(ctrlr);

	r = rh_ok(&c, "nvmf_get_stats", NULL);
	pgs = rh_get(r, "poll_groups");
	assert_int_equal(json_object_array_length(pgs), 2);
	for (i = 0; i < json_object_array_length(pgs); i++) {
		pg = json_object_array_get_idx(pgs, i);
		completed += rh_int(pg, "completed_nvme_io");
		/* each poll group's histogram holds its completed I/O */
		assert_int_equal(rh_int(rh_get(pg, "io_latency_us"), "count"),
				 rh_int(pg, "completed_nvme_io"));
		assert_int_equal(bucket_sum(rh_get(pg, "io_latency_us")),
				 rh_int(pg, "completed_nvme_io"));
		hist += bucket_sum(rh_get(pg, "io_latency_us"));
		qs = rh_get(pg, "qpair_stats");
		for (k = 0; k < json_object_array_length(qs); k++) {
			q = json_object_array_get_idx(qs, k);
			st = rh_get(q, "stats");
			assert_string_equal(rh_str(q, "subnqn"), NQN1);
			assert_true(rh_int(st, "commands") > 0);
			if (rh_int(q, "qid") == 0) {
				assert_int_equal(rh_int(st, "read_cmds"), 0);
				continue;
			}
			io_qpairs++;
			reads += rh_int(st, "read_cmds");
			writes += rh_int(st, "write_cmds");
			bread += rh_int(st, "bytes_read");
			bwritten += rh_int(st, "bytes_written");
			errors += rh_int(st, "errors");
			/* the I/O, plus its Connect */
			assert_true(rh_int(st, "commands") >= rh_int(st, "read_cmds") +
							      rh_int(st, "write_cmds"));
			/* at rest, every request slot is free again */
			assert_int_equal(rh_int(rh_get(st, "req_states"), "EXECUTING"), 0);
			assert_true(rh_int(rh_get(st, "req_states"), "FREE") > 0);
		}
	}
	assert_int_equal(io_qpairs, 2);
	assert_int_equal(writes, NR_WRITES);
	assert_int_equal(reads, NR_READS);
	assert_int_equal(bwritten, (int64_t)NR_WRITES * IO_BLOCKS * BLK);
	assert_int_equal(bread, (int64_t)NR_READS * IO_BLOCKS * BLK);
	assert_int_equal(errors, 1);
	/* every I/O command completed once, the failed one included */
	assert_int_equal(completed, NR_WRITES + NR_READS + 1);
	assert_int_equal(hist, completed);
	/* the target-wide histogram is the sum of the poll groups' */
	assert_int_equal(rh_int(rh_get(r, "io_latency_us"), "count"), completed);
	assert_true(rh_int(rh_get(r, "io_latency_us"), "p50_us") <=
		    rh_int(rh_get(r, "io_latency_us"), "p99_us"));
	assert_true(rh_int(rh_get(r, "io_latency_us"), "p99_us") > 0);
	assert_true(rh_int(rh_get(r, "io_latency_us"), "sum_us") > 0);
	json_object_put(r);

	/* the same counters per connection in nvmf_subsystem_get_qpairs */
	r = rh_ok(&c, "nvmf_subsystem_get_qpairs", "{\"nqn\":\"" NQN1 "\"}");
	assert_int_equal(json_object_array_length(r), 3);
	reads = writes = 0;
	for (k = 0; k < json_object_array_length(r); k++) {
		st = rh_get(json_object_array_get_idx(r, k), "stats");
		reads += rh_int(st, "read_cmds");
		writes += rh_int(st, "write_cmds");
		assert_non_null(rh_get(st, "req_states"));
	}
	assert_int_equal(reads, NR_READS);
	assert_int_equal(writes, NR_WRITES);
	json_object_put(r);

	nvmft_host_ctrlr_disconnect(ctrlr);
	rh_close(&c);
	rh_stop(&e);
}

/* The histograms and counters outlive nothing: a fresh target has none. */
static void stats_of_an_idle_target_are_empty(void **state)
{
	struct json_object *r, *pg;
	struct rh_env e;
	struct rh_conn c;
	size_t i;

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	r = rh_ok(&c, "nvmf_get_stats", NULL);
	assert_int_equal(rh_int(rh_get(r, "io_latency_us"), "count"), 0);
	assert_int_equal(rh_int(rh_get(r, "io_latency_us"), "p99_us"), 0);
	assert_int_equal(json_object_array_length(rh_get(rh_get(r, "io_latency_us"),
							 "buckets")), 0);
	for (i = 0; i < json_object_array_length(rh_get(r, "poll_groups")); i++) {
		pg = json_object_array_get_idx(rh_get(r, "poll_groups"), i);
		assert_int_equal(rh_int(pg, "completed_nvme_io"), 0);
		assert_int_equal(json_object_array_length(rh_get(pg, "qpair_stats")), 0);
	}
	json_object_put(r);
	rh_close(&c);
	rh_stop(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stats_count_io_per_qpair_and_in_the_histograms),
		cmocka_unit_test(stats_of_an_idle_target_are_empty),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("rpc_stats", tests, NULL, NULL);
}
