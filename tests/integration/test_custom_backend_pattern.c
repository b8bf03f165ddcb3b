/* SPDX-License-Identifier: MIT */
/*
 * The custom backend example (examples/custom_backend.c, "xorpat") seen
 * from a host: the program is started as a child process on an ephemeral
 * port and driven with the host library. Unwritten blocks read as the LBA
 * pattern, writes read back, Write Zeroes, Deallocate, the emulated Compare
 * and Flush, the delayed completions of --latency-us, and SIGTERM → exit 0.
 *
 * Without arguments it runs the cmocka groups. `--check PORT FIRST COUNT`
 * only reads blocks FIRST .. FIRST+COUNT-1 of a running instance and checks
 * the pattern (tests/examples/test_custom_backend.sh uses it after
 * nvmft-perf wrote the start of the namespace); exit 0 when they match.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <endian.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <nvme/types.h>

#include <nvmft/host.h>

#define XORPAT_SEED	0x786f727061747465ull
#define XORPAT_NQN	"nqn.2026-11.io.nvmft:xorpat"
#define BS		512u
#define NBLOCKS		(16u << 11)	/* --size 16 (MiB) */
#define LATENCY_US	20000u

struct example {
	pid_t pid;
	char port[16];
	struct nvmft_host_ctrlr *ctrlr;
	struct nvmft_host_qpair *qp;
};

static void pattern_block(uint8_t *buf, uint64_t lba)
{
	for (uint32_t i = 0; i < BS / 8; i++) {
		uint64_t w = htole64(XORPAT_SEED ^ (lba << 16) ^ i);

		memcpy(buf + 8 * i, &w, 8);
	}
}

static bool is_pattern(const uint8_t *buf, uint64_t lba, uint32_t nblocks)
{
	uint8_t want[BS];

	for (uint32_t b = 0; b < nblocks; b++) {
		pattern_block(want, lba + b);
		if (memcmp(buf + (size_t)b * BS, want, BS))
			return false;
	}
	return true;
}

/* build/tests/integration/<this> → build/examples/custom_backend */
static int example_path(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return -1;
	self[n] = '\0';
	snprintf(out, len, "%s/examples/custom_backend",
		 dirname(dirname(dirname(self))));
	return access(out, X_OK);
}

static int connect_to(struct example *ex)
{
	struct nvmft_host_opts o;
	int rc;

	nvmft_host_opts_init(&o);
	o.traddr = "127.0.0.1";
	o.trsvcid = ex->port;
	o.subnqn = XORPAT_NQN;
	o.io_queue_size = 32;
	rc = nvmft_host_ctrlr_connect(&o, &ex->ctrlr);
	if (rc)
		return rc;
	ex->qp = nvmft_host_ctrlr_io_qpair(ex->ctrlr, 0);
	return ex->qp ? 0 : -ENODEV;
}

/* Start the example on port 0 and read the port it prints (10 s at most). */
static int example_start(struct example *ex, unsigned int latency_us)
{
	char path[PATH_MAX + 32], lat[16], line[512];
	int out[2], got = 0;
	const char *p;

	memset(ex, 0, sizeof(*ex));
	if (example_path(path, sizeof(path))) {
		fprintf(stderr, "no example binary at %s\n", path);
		return -1;
	}
	snprintf(lat, sizeof(lat), "%u", latency_us);
	if (pipe2(out, O_CLOEXEC))
		return -1;
	ex->pid = fork();
	if (ex->pid < 0)
		return -1;
	if (ex->pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		/* --seconds: gone by itself even if this test dies */
		execl(path, path, "--latency-us", lat, "--size", "16",
		      "--seconds", "120", "0", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	for (;;) {
		struct pollfd pfd = { .fd = out[0], .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 10000) <= 0)
			break;
		n = read(out[0], line + got, sizeof(line) - 1 - got);
		if (n <= 0)
			break;
		got += (int)n;
		line[got] = '\0';
		if (strchr(line, '\n'))
			break;
	}
	close(out[0]);
	p = got ? strrchr(line, ':') : NULL;
	if (!p || atoi(p + 1) <= 0) {
		fprintf(stderr, "example printed no port: \"%.*s\"\n", got, line);
		return -1;
	}
	snprintf(ex->port, sizeof(ex->port), "%d", atoi(p + 1));
	return connect_to(ex);
}

/* Disconnect, SIGTERM, and return the exit status (-1: not a clean exit). */
static int example_stop(struct example *ex)
{
	int status;

	nvmft_host_ctrlr_disconnect(ex->ctrlr);
	ex->ctrlr = NULL;
	if (ex->pid <= 0)
		return -1;
	kill(ex->pid, SIGTERM);
	for (int i = 0; i < 1000; i++) {	/* 10 s */
		pid_t r = waitpid(ex->pid, &status, WNOHANG);

		if (r == ex->pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		usleep(10000);
	}
	kill(ex->pid, SIGKILL);
	waitpid(ex->pid, &status, 0);
	return -1;
}

static int setup_plain(void **state)
{
	struct example *ex = calloc(1, sizeof(*ex));

	*state = ex;
	return ex ? example_start(ex, 0) : -1;
}

static int setup_delayed(void **state)
{
	struct example *ex = calloc(1, sizeof(*ex));

	*state = ex;
	return ex ? example_start(ex, LATENCY_US) : -1;
}

static int teardown(void **state)
{
	struct example *ex = *state;
	int rc = ex ? example_stop(ex) : -1;

	free(ex);
	/* The example must stop cleanly on SIGTERM: exit status 0. */
	if (rc != 0)
		fprintf(stderr, "example exit status %d, expected 0\n", rc);
	return rc == 0 ? 0 : -1;
}

static void read_blocks(struct example *ex, uint64_t lba, uint32_t n, uint8_t *buf)
{
	assert_int_equal(nvmft_host_read(ex->qp, 1, lba, n, buf, n * BS), 0);
}

static void write_blocks(struct example *ex, uint64_t lba, uint32_t n, const uint8_t *buf)
{
	assert_int_equal(nvmft_host_write(ex->qp, 1, lba, n, buf, n * BS, false), 0);
}

static int compare_blocks(struct example *ex, uint64_t lba, uint32_t n, uint8_t *buf)
{
	struct nvmft_sqe sqe = {
		.opcode = nvme_cmd_compare,
		.nsid = 1,
		.cdw10 = (uint32_t)lba,
		.cdw11 = (uint32_t)(lba >> 32),
		.cdw12 = n - 1,
	};

	return nvmft_host_cmd_sync(ex->qp, &sqe, buf, n * BS, NVMFT_HOST_DIR_WRITE, NULL);
}

static void unwritten_blocks_read_as_lba_pattern(void **state)
{
	struct example *ex = *state;
	static uint8_t buf[64 * BS];
	struct nvmft_host_ns_info ns;

	assert_int_equal(nvmft_host_ns_info(ex->ctrlr, 1, &ns), 0);
	assert_int_equal(ns.lba_size, BS);
	assert_int_equal(ns.nsze, NBLOCKS);
	read_blocks(ex, 0, 1, buf);
	assert_true(is_pattern(buf, 0, 1));
	read_blocks(ex, 1000, 64, buf);
	assert_true(is_pattern(buf, 1000, 64));
	read_blocks(ex, NBLOCKS - 8, 8, buf);
	assert_true(is_pattern(buf, NBLOCKS - 8, 8));
	/* The pattern depends on the LBA: block 1001 is not block 1000's. */
	read_blocks(ex, 1001, 1, buf);
	assert_false(is_pattern(buf, 1000, 1));
}

static void written_blocks_read_back_between_pattern_blocks(void **state)
{
	struct example *ex = *state;
	static uint8_t data[4 * BS], buf[8 * BS];

	memset(data, 0xa5, sizeof(data));
	write_blocks(ex, 2002, 4, data);
	read_blocks(ex, 2000, 8, buf);
	assert_true(is_pattern(buf, 2000, 2));
	assert_memory_equal(buf + 2 * BS, data, sizeof(data));
	assert_true(is_pattern(buf + 6 * BS, 2006, 2));
}

static void write_zeroes_reads_back_zeroes(void **state)
{
	struct example *ex = *state;
	static uint8_t zero[16 * BS], buf[16 * BS];

	assert_int_equal(nvmft_host_write_zeroes(ex->qp, 1, 3000, 16), 0);
	read_blocks(ex, 3000, 16, buf);
	assert_memory_equal(buf, zero, sizeof(buf));
	read_blocks(ex, 3016, 1, buf);
	assert_true(is_pattern(buf, 3016, 1));
}

static void deallocate_brings_the_pattern_back(void **state)
{
	struct example *ex = *state;
	static uint8_t data[8 * BS], buf[8 * BS];
	struct nvme_dsm_range r = {
		.nlb = htole32(8),
		.slba = htole64(4000),
	};

	memset(data, 0x3c, sizeof(data));
	write_blocks(ex, 4000, 8, data);
	read_blocks(ex, 4000, 8, buf);
	assert_memory_equal(buf, data, sizeof(data));
	assert_int_equal(nvmft_host_dsm(ex->qp, 1, NVME_DSMGMT_AD, &r, 1), 0);
	read_blocks(ex, 4000, 8, buf);
	assert_true(is_pattern(buf, 4000, 8));
}

static void compare_is_emulated_against_what_reads_return(void **state)
{
	struct example *ex = *state;
	static uint8_t buf[4 * BS];
	int rc;

	for (uint32_t b = 0; b < 4; b++)
		pattern_block(buf + b * BS, 5000 + b);
	assert_int_equal(compare_blocks(ex, 5000, 4, buf), 0);
	buf[3 * BS + 17] ^= 1;
	rc = compare_blocks(ex, 5000, 4, buf);
	assert_int_equal(NVMFT_STATUS_SCT(rc), NVME_SCT_MEDIA);
	assert_int_equal(NVMFT_STATUS_SC(rc), NVME_SC_COMPARE_FAILED);
}

static void flush_succeeds_without_a_write_cache(void **state)
{
	struct example *ex = *state;
	const struct nvme_id_ctrl *id = nvmft_host_ctrlr_id(ex->ctrlr);

	assert_non_null(id);
	assert_int_equal(id->vwc & NVME_CTRL_VWC_PRESENT, 0);
	assert_int_equal(nvmft_host_flush(ex->qp, 1), 0);
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A lower bound only: the completion cannot come before its due time. */
static void delayed_io_completes_after_the_latency(void **state)
{
	struct example *ex = *state;
	static uint8_t data[2 * BS], buf[2 * BS];
	uint64_t t0;

	t0 = now_us();
	read_blocks(ex, 6000, 2, buf);
	assert_true(now_us() - t0 >= LATENCY_US);
	assert_true(is_pattern(buf, 6000, 2));

	memset(data, 0x77, sizeof(data));
	t0 = now_us();
	write_blocks(ex, 6000, 2, data);
	assert_true(now_us() - t0 >= LATENCY_US);
	read_blocks(ex, 6000, 2, buf);
	assert_memory_equal(buf, data, sizeof(data));
}

struct slot {
	bool done;
	uint16_t status;
};

static void slot_done(void *arg, const struct nvmft_host_cpl *cpl)
{
	struct slot *s = arg;

	s->status = cpl->status;
	s->done = true;
}

/* Many I/Os waiting in one channel's queue all complete, each correctly. */
static void delayed_queue_completes_every_io(void **state)
{
	struct example *ex = *state;
	static uint8_t bufs[16][BS];
	struct slot slots[16] = { { 0 } };
	unsigned int i, done = 0;

	for (i = 0; i < 16; i++) {
		struct nvmft_sqe sqe = {
			.opcode = nvme_cmd_read, .nsid = 1, .cdw10 = 7000 + i,
		};

		assert_int_equal(nvmft_host_submit(ex->qp, &sqe, bufs[i], BS,
						   NVMFT_HOST_DIR_READ, slot_done,
						   &slots[i]), 0);
	}
	assert_int_equal(nvmft_host_qpair_wait(ex->qp, NULL, 10000), 0);
	for (i = 0; i < 16; i++) {
		assert_true(slots[i].done);
		assert_int_equal(slots[i].status, 0);
		assert_true(is_pattern(bufs[i], 7000 + i, 1));
		done++;
	}
	assert_int_equal(done, 16);
}

/* --check PORT FIRST COUNT */
static int check_mode(const char *port, uint64_t first, uint32_t count)
{
	struct example ex = { .pid = -1 };
	static uint8_t buf[64 * BS];
	uint32_t bad = 0;

	snprintf(ex.port, sizeof(ex.port), "%s", port);
	if (connect_to(&ex)) {
		fprintf(stderr, "cannot connect to 127.0.0.1:%s\n", port);
		return 1;
	}
	for (uint32_t done = 0; done < count;) {
		uint32_t n = count - done > 64 ? 64 : count - done;

		if (nvmft_host_read(ex.qp, 1, first + done, n, buf, n * BS)) {
			fprintf(stderr, "read of %u blocks at %llu failed\n", n,
				(unsigned long long)(first + done));
			bad++;
			break;
		}
		for (uint32_t b = 0; b < n; b++)
			bad += !is_pattern(buf + b * BS, first + done + b, 1);
		done += n;
	}
	nvmft_host_ctrlr_disconnect(ex.ctrlr);
	printf("%u of %u blocks from %llu read as the LBA pattern\n", count - bad,
	       count, (unsigned long long)first);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest plain[] = {
		cmocka_unit_test(unwritten_blocks_read_as_lba_pattern),
		cmocka_unit_test(written_blocks_read_back_between_pattern_blocks),
		cmocka_unit_test(write_zeroes_reads_back_zeroes),
		cmocka_unit_test(deallocate_brings_the_pattern_back),
		cmocka_unit_test(compare_is_emulated_against_what_reads_return),
		cmocka_unit_test(flush_succeeds_without_a_write_cache),
	};
	const struct CMUnitTest delayed[] = {
		cmocka_unit_test(delayed_io_completes_after_the_latency),
		cmocka_unit_test(delayed_queue_completes_every_io),
	};
	char path[PATH_MAX + 32];
	int failed = 0;

	if (argc == 5 && !strcmp(argv[1], "--check"))
		return check_mode(argv[2], strtoull(argv[3], NULL, 10),
				  (uint32_t)strtoul(argv[4], NULL, 10));
	if (argc != 1) {
		fprintf(stderr, "usage: %s [--check PORT FIRST COUNT]\n", argv[0]);
		return 2;
	}
	if (example_path(path, sizeof(path))) {
		printf("SKIP: %s not built\n", path);
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	failed += cmocka_run_group_tests_name("custom_backend", plain, setup_plain, teardown);
	failed += cmocka_run_group_tests_name("custom_backend_latency", delayed,
					      setup_delayed, teardown);
	return failed ? 1 : 0;
}
