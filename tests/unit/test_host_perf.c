/* SPDX-License-Identifier: MIT */
/*
 * nvmft-perf end to end against the fake target: exit codes, JSON summary,
 * verify catching a silent corruption. Needs build/bin/nvmft-perf (found
 * next to this binary's build tree, or through $NVMFT_PERF).
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "support/fake_target.h"

static char perf_path[PATH_MAX];

static int find_perf(void)
{
	char self[PATH_MAX];
	ssize_t n;

	if (getenv("NVMFT_PERF")) {
		snprintf(perf_path, sizeof(perf_path), "%s", getenv("NVMFT_PERF"));
		return access(perf_path, X_OK);
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return -1;
	self[n] = '\0';
	/* BUILD/tests/unit/test_host_perf → BUILD/bin/nvmft-perf */
	snprintf(perf_path, sizeof(perf_path), "%s/../../bin/nvmft-perf", dirname(self));
	return access(perf_path, X_OK);
}

struct run {
	int status;
	char out[8192];
	char err[8192];
};

static void slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

/* Run perf against @ft with @args (plus -a/-s); returns its exit status. */
static int run_perf(struct fake_target *ft, const char *args, struct run *r)
{
	char cmd[PATH_MAX + 1024], outp[] = "/tmp/nvmft-perf-out.XXXXXX",
	     errp[] = "/tmp/nvmft-perf-err.XXXXXX";
	int fo = mkstemp(outp), fe = mkstemp(errp), st;

	assert_true(fo >= 0 && fe >= 0);
	close(fo);
	close(fe);
	snprintf(cmd, sizeof(cmd), "timeout 60 '%s' -a 127.0.0.1 -s %s %s >%s 2>%s",
		 perf_path, ft ? fake_target_port(ft) : "1", args, outp, errp);
	st = system(cmd);
	slurp(outp, r->out, sizeof(r->out));
	slurp(errp, r->err, sizeof(r->err));
	unlink(outp);
	unlink(errp);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	if (r->status)
		fprintf(stderr, "perf exit %d\nstdout: %s\nstderr: %s\n", r->status, r->out,
			r->err);
	return r->status;
}

/* Unsigned number after "key": in the JSON line. */
static uint64_t json_u64(const char *json, const char *key)
{
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), "\"%s\":", key);
	p = strstr(json, k);
	assert_non_null(p);
	return strtoull(p + strlen(k), NULL, 10);
}

static struct fake_target *start(unsigned int corrupt_read)
{
	struct fake_target_opts fo;
	struct fake_target *ft;

	fake_target_opts_init(&fo);
	fo.corrupt_data_read = corrupt_read;
	ft = fake_target_start(&fo);
	assert_non_null(ft);
	return ft;
}

static void test_randrw_verify_clean_run_reports_json(void **state)
{
	struct fake_target *ft = start(0);
	struct run r;

	assert_int_equal(run_perf(ft, "-w randrw -M 50 -V -T 1 -q 8 -c 2 -t 2 -o 4K "
				  "--size 1M -j -i 0", &r), 0);
	assert_non_null(strstr(r.out, "\"workload\":\"randrw\""));
	assert_true(json_u64(r.out, "ios") > 0);
	assert_true(json_u64(r.out, "reads") > 0);
	assert_true(json_u64(r.out, "writes") > 0);
	assert_true(json_u64(r.out, "checked") > 0);
	assert_int_equal(json_u64(r.out, "mismatches"), 0);
	assert_int_equal(json_u64(r.out, "errors"), 0);
	assert_non_null(strstr(r.out, "\"p99_9\":"));
	fake_target_stop(ft);
}

static void test_verify_catches_silent_corruption(void **state)
{
	struct fake_target *ft = start(3);
	struct run r;

	assert_int_equal(run_perf(ft, "-w randwrite -V -T 1 -q 4 -o 8K --size 512K -i 0",
				  &r), 1);
	assert_non_null(strstr(r.err, "verify:"));
	assert_non_null(strstr(r.out, "mismatches=1"));
	fake_target_stop(ft);
}

static void test_read_verify_prefills_range(void **state)
{
	struct fake_target *ft = start(0);
	struct fake_target_stats st;
	struct run r;

	assert_int_equal(run_perf(ft, "-w randread -V -T 1 -q 4 -o 4K --size 256K -j -i 0",
				  &r), 0);
	fake_target_get_stats(ft, &st);
	assert_true(st.writes >= 64);	/* 256K / 4K written first */
	assert_true(json_u64(r.out, "checked") > 0);
	assert_int_equal(json_u64(r.out, "writes"), 0);
	fake_target_stop(ft);
}

static void test_large_writes_with_digests_and_progress(void **state)
{
	struct fake_target *ft = start(0);
	struct fake_target_stats st;
	struct run r;

	assert_int_equal(run_perf(ft, "-w write -o 64K -q 4 -T 2 -g -G -i 1 --size 4M", &r), 0);
	fake_target_get_stats(ft, &st);
	assert_true(st.r2ts > 0);
	assert_true(st.hdgst_seen);
	assert_int_equal(st.ddgst_errors, 0);
	assert_non_null(strstr(r.out, "t=1s IOPS="));
	assert_non_null(strstr(r.out, "latency us:"));
	fake_target_stop(ft);
}

static void test_connect_failure_and_usage_exit_codes(void **state)
{
	struct run r;

	assert_int_equal(run_perf(NULL, "-T 1", &r), 3);
	assert_non_null(strstr(r.err, "cannot connect"));
	assert_int_equal(run_perf(NULL, "-w bogus", &r), 2);
	assert_int_equal(run_perf(NULL, "-o 12Q", &r), 2);
}

static void test_many_connections_polled_through_epoll_verify_clean(void **state)
{
	struct fake_target *ft = start(0);
	struct fake_target_stats st;
	struct run r;

	/* 4 qpairs (all the fake controller grants) on one thread: their
	 * readiness comes from epoll */
	assert_int_equal(run_perf(ft, "-w randrw -V -T 1 -q 4 -c 4 -o 4K --size 1M "
				  "-j -i 0", &r), 0);
	fake_target_get_stats(ft, &st);
	assert_int_equal(st.io_connects, 4);
	assert_true(json_u64(r.out, "reads") > 0);
	assert_true(json_u64(r.out, "writes") > 0);
	assert_true(json_u64(r.out, "checked") > 0);
	assert_int_equal(json_u64(r.out, "mismatches"), 0);
	fake_target_stop(ft);
}

static void test_batch_limit_still_completes_everything(void **state)
{
	struct fake_target *ft = start(0);
	struct run r;

	/* at most 2 completions per qpair poll: the rest waits in the buffer */
	assert_int_equal(run_perf(ft, "-w randread -V -T 1 -q 16 -c 4 -o 4K --size 1M "
				  "--batch 2 -j -i 0", &r), 0);
	assert_true(json_u64(r.out, "ios") > 0);
	assert_true(json_u64(r.out, "checked") > 0);
	assert_int_equal(json_u64(r.out, "errors"), 0);
	assert_int_equal(json_u64(r.out, "mismatches"), 0);
	fake_target_stop(ft);
}

static void test_marks_and_latency_cdf_in_json(void **state)
{
	struct fake_target *ft = start(0);
	const char *cdf, *start_mark, *end_mark, *last;
	struct run r;
	double frac;

	assert_int_equal(run_perf(ft, "-w randread -T 1 -q 4 -o 4K --size 256K -j -i 0 "
				  "--marks --lat-cdf", &r), 0);
	start_mark = strstr(r.err, "measure start");
	end_mark = strstr(r.err, "measure end");
	assert_non_null(start_mark);
	assert_non_null(end_mark);
	assert_true(start_mark < end_mark);
	assert_non_null(strstr(r.out, "\"client_cpu_pct\":"));
	assert_non_null(strstr(r.out, "\"client_busy_pct\":"));
	cdf = strstr(r.out, "\"lat_cdf_us\":[[");
	assert_non_null(cdf);
	/* the last point of the distribution is all of the I/Os */
	last = strrchr(r.out, '[');
	assert_true(last > cdf);
	frac = strtod(strchr(last, ',') + 1, NULL);
	assert_true(frac > 0.999999 && frac < 1.000001);
	fake_target_stop(ft);
}

static void test_idle_mode_holds_connections_without_io(void **state)
{
	struct fake_target *ft = start(0);
	struct fake_target_stats st;
	struct run r;

	assert_int_equal(run_perf(ft, "--idle -c 3 -q 15 -T 1 -j", &r), 0);
	assert_int_equal(strncmp(r.out, "ready 3\n", 8), 0);
	assert_non_null(strstr(r.out, "\"idle\":true"));
	assert_int_equal(json_u64(r.out, "connections"), 3);
	fake_target_get_stats(ft, &st);
	assert_int_equal(st.io_connects, 3);
	assert_int_equal(st.last_sqsize, 15);	/* 0's based: queue of 16 */
	assert_int_equal(st.reads, 0);
	assert_int_equal(st.writes, 0);
	fake_target_stop(ft);
}

static void test_rate_limit_holds_iops_under_the_rate(void **state)
{
	struct fake_target *ft = start(0);
	struct run r;
	uint64_t ios;

	/* 2000 I/Os per second for 1 s, QD 32: the queue could do far
	 * more, the limit must not be exceeded (a slow machine may stay
	 * below it) */
	assert_int_equal(run_perf(ft, "-w randread -T 1 -q 32 -o 4K --size 1M --rate 2000 "
				  "-j -i 0", &r), 0);
	ios = json_u64(r.out, "ios");
	assert_true(ios > 0);
	assert_true(ios <= 2000 * 11 / 10 + 50);
	assert_int_equal(json_u64(r.out, "errors"), 0);
	fake_target_stop(ft);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_randrw_verify_clean_run_reports_json),
		cmocka_unit_test(test_verify_catches_silent_corruption),
		cmocka_unit_test(test_read_verify_prefills_range),
		cmocka_unit_test(test_large_writes_with_digests_and_progress),
		cmocka_unit_test(test_connect_failure_and_usage_exit_codes),
		cmocka_unit_test(test_many_connections_polled_through_epoll_verify_clean),
		cmocka_unit_test(test_batch_limit_still_completes_everything),
		cmocka_unit_test(test_marks_and_latency_cdf_in_json),
		cmocka_unit_test(test_idle_mode_holds_connections_without_io),
		cmocka_unit_test(test_rate_limit_holds_iops_under_the_rate),
	};

	if (find_perf()) {
		printf("SKIP: nvmft-perf not built (%s)\n", perf_path);
		return 77;
	}
	return cmocka_run_group_tests_name("host_perf", tests, NULL, NULL);
}
