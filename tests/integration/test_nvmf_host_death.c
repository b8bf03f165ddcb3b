/* SPDX-License-Identifier: MIT */
/*
 * Hosts that die over the real path (2 reactors, io_uring and epoll): a
 * child process running verified I/O with the host library is SIGKILLed
 * mid-run, so is an nvmft-perf process; a host stops in the middle of an
 * R2T transfer and drops its connections without Disconnect. Each time the
 * target stays up, frees the controller and all its queues (bounded wait
 * for zero controllers, connections, requests and buffers), and the next
 * host gets full, verified service.
 */
#include <libgen.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include "nvmf_harness.h"

#define HD_NQN		"nqn.2026-11.io.nvmft:host-death"
#define HD_BLOCKS	(32u * 1024 * 1024 / 512)

extern char **environ;

struct env {
	struct nh h;
	struct nvmft_subsystem *ss;
};

static int env_setup(void **state, enum nvmft_engine engine)
{
	struct env *e = calloc(1, sizeof(*e));
	int rc;

	if (!e)
		return -1;
	*state = e;
	rc = nh_start(&e->h, engine, NULL);
	if (!rc)
		rc = nh_malloc(&e->h, "Hd0", HD_BLOCKS, 512);
	if (!rc)
		rc = nh_simple_subsystem(&e->h, HD_NQN, &e->ss);
	if (!rc)
		rc = nh_add_ns(&e->h, e->ss, "Hd0", 1, NULL);
	return rc ? -1 : 0;
}

static int setup_uring(void **state) { return env_setup(state, NVMFT_ENGINE_URING); }
static int setup_epoll(void **state) { return env_setup(state, NVMFT_ENGINE_EPOLL); }

static int env_teardown(void **state)
{
	struct env *e = *state;

	nh_stop(&e->h);
	free(e);
	return 0;
}

/* After a death: nothing left on the target, and a new host is served. */
static void assert_recovered(struct env *e, uint32_t seed)
{
	struct nvmft_host_ctrlr *c;
	struct nvmft_host_qpair *qp;

	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
	c = nh_connect(&e->h, HD_NQN, 2);
	qp = nvmft_host_ctrlr_io_qpair(c, 1);
	nh_write_read_verify(nvmft_host_ctrlr_io_qpair(c, 0), 1, 512, 0, 4096, seed);
	nh_write_read_verify(qp, 1, 512, 2048, 1u << 20, seed + 1);
	nh_write_read_verify(qp, 1, 512, 8, 128 * 1024, seed + 2);
	nvmft_host_ctrlr_disconnect(c);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

/* ---- a child process running host library I/O ---------------------------- */

#define CH_QUEUES	2
#define CH_QD		32
#define CH_LEN		(16u * 1024)

struct ch_slot {
	struct nvmft_host_qpair *qp;
	uint64_t slba;
	bool busy, reading, failed;
	uint32_t gen;
	uint8_t w[CH_LEN], r[CH_LEN];
};

static void ch_cb(void *arg, const struct nvmft_host_cpl *cpl)
{
	struct ch_slot *s = arg;

	s->busy = false;
	s->failed = cpl->status != 0;
}

static int ch_submit(struct ch_slot *s)
{
	struct nvmft_sqe sqe;

	nh_sqe_rw(&sqe, !s->reading, 1, s->slba, CH_LEN / 512);
	s->busy = true;
	return nvmft_host_submit(s->qp, &sqe, s->reading ? s->r : s->w, CH_LEN,
				 s->reading ? NVMFT_HOST_DIR_READ : NVMFT_HOST_DIR_WRITE,
				 ch_cb, s);
}

static void ch_log(void *arg, int level, const char *msg)
{
	(void)arg;
	(void)level;
	(void)msg;
}

/* Runs in the child: write, read back, compare, forever (bounded 60 s).
 * Reports 'R' on @wfd once I/O is flowing, 'E'/'M' on error/mismatch. */
static void __attribute__((noreturn)) child_main(const char *port, int wfd)
{
	struct nvmft_host_opts o;
	struct nvmft_host_ctrlr *c;
	struct ch_slot *slots = calloc(CH_QUEUES * CH_QD, sizeof(*slots));
	uint64_t done = 0, end = tt_now_ms() + 60000;
	bool told = false;

	nvmft_host_opts_init(&o);
	o.traddr = "127.0.0.1";
	o.trsvcid = port;
	o.subnqn = HD_NQN;
	o.num_io_queues = CH_QUEUES;
	o.log_fn = ch_log;
	if (!slots || nvmft_host_ctrlr_connect(&o, &c)) {
		(void)!write(wfd, "E", 1);
		_exit(3);
	}
	for (unsigned int i = 0; i < CH_QUEUES * CH_QD; i++) {
		struct ch_slot *s = &slots[i];

		s->qp = nvmft_host_ctrlr_io_qpair(c, i / CH_QD);
		s->slba = (uint64_t)i * (CH_LEN / 512);
		tt_fill(s->w, CH_LEN, s->gen = i);
		if (ch_submit(s)) {
			(void)!write(wfd, "E", 1);
			_exit(3);
		}
	}
	while (tt_now_ms() < end) {
		for (unsigned int q = 0; q < CH_QUEUES; q++)
			if (nvmft_host_qpair_poll(nvmft_host_ctrlr_io_qpair(c, q), 0) < 0) {
				(void)!write(wfd, "E", 1);
				_exit(3);
			}
		for (unsigned int i = 0; i < CH_QUEUES * CH_QD; i++) {
			struct ch_slot *s = &slots[i];

			if (s->busy)
				continue;
			if (s->failed) {
				(void)!write(wfd, "E", 1);
				_exit(3);
			}
			if (s->reading && memcmp(s->w, s->r, CH_LEN)) {
				(void)!write(wfd, "M", 1);
				_exit(1);
			}
			if (s->reading) {
				s->gen += CH_QUEUES * CH_QD;
				tt_fill(s->w, CH_LEN, s->gen);
			}
			s->reading = !s->reading;
			if (ch_submit(s)) {
				(void)!write(wfd, "E", 1);
				_exit(3);
			}
			if (++done == 500 && !told) {
				(void)!write(wfd, "R", 1);
				told = true;
			}
		}
	}
	_exit(0);
}

static void test_child_host_killed_mid_io(void **state)
{
	struct env *e = *state;
	struct pollfd p;
	int pfd[2], status;
	char ch = 0;
	pid_t pid;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int keep = pfd[1];

		/* drop the target's descriptors (listeners, rings, sockets):
		 * only the parent may hold them */
		if (keep > 3)
			close_range(3, (unsigned int)keep - 1, 0);
		close_range((unsigned int)keep + 1, ~0u, 0);
		child_main(e->h.t.port_str, keep);
	}
	close(pfd[1]);
	p = (struct pollfd){ .fd = pfd[0], .events = POLLIN };
	assert_int_equal(poll(&p, 1, 20000), 1);
	assert_int_equal(read(pfd[0], &ch, 1), 1);
	assert_int_equal(ch, 'R');		/* verified I/O was flowing */
	/* the target holds its controller and queues */
	assert_int_equal(nh_wait_state(&e->h, CH_QUEUES + 1, 1, NH_WAIT_MS), 0);
	tt_sleep_ms(50);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(pfd[0]);
	assert_recovered(e, 10);
}

/* ---- nvmft-perf killed -------------------------------------------------------- */

static bool perf_path(char *buf, size_t len)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return false;
	exe[n] = '\0';
	/* BUILD/tests/integration/test_x -> BUILD/bin/nvmft-perf */
	snprintf(buf, len, "%s/../../bin/nvmft-perf", dirname(exe));
	return access(buf, X_OK) == 0;
}

static void test_perf_process_killed_mid_io(void **state)
{
	struct env *e = *state;
	char perf[4200];
	char *argv[] = { perf, "-a", "127.0.0.1", "-s", e->h.t.port_str, "-n", HD_NQN,
			 "-w", "randrw", "-q", "32", "-c", "2", "-o", "4K", "-T", "30",
			 "--size", "16M", "-V", "-i", "0", NULL };
	posix_spawn_file_actions_t fa;
	uint64_t end;
	struct nh_counts cnt;
	pid_t pid;
	int status;

	if (!perf_path(perf, sizeof(perf))) {
		printf("SKIP: nvmft-perf not built next to the test\n");
		skip();
	}
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (!getenv("TT_VERBOSE"))
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	assert_int_equal(posix_spawn(&pid, perf, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	/* wait for its controller and two I/O queues, then let it run */
	end = tt_now_ms() + 20000;
	for (;;) {
		assert_int_equal(nh_counts(&e->h, &cnt), 0);
		if (cnt.connections == 3 && cnt.live_ctrlrs == 1)
			break;
		if (tt_now_ms() > end || waitpid(pid, &status, WNOHANG) == pid) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail_msg("nvmft-perf never connected");
		}
		tt_sleep_ms(10);
	}
	tt_sleep_ms(500);
	assert_int_equal(waitpid(pid, &status, WNOHANG), 0);	/* still running */
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_recovered(e, 20);
}

/* ---- a host that stops mid-R2T ------------------------------------------------- */

static void test_host_gone_mid_r2t_transfer(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = nh_connect(&e->h, HD_NQN, 2);
	struct nvmft_host_qpair *qp = nvmft_host_ctrlr_io_qpair(c, 0);
	struct nvmft_host_qpair *other = nvmft_host_ctrlr_io_qpair(c, 1);
	struct pdu_r2t r2t;
	union pdu_hdr h;
	uint8_t *data = calloc(1, 32768);
	struct nh_slot slot;
	uint8_t *big = malloc(1u << 20);
	size_t hl;

	assert_non_null(data);
	assert_non_null(big);
	/* a command of the other queue is in flight too: 1 MiB read */
	assert_int_equal(nh_submit_rw(other, false, 1, 4096, (1u << 20) / 512, big,
				      1u << 20, &slot), 0);
	assert_true(nvmft_host_qpair_poll(other, 0) >= 0);
	/* 256 KiB write by R2T: take the R2T, send 32 KiB of it, vanish */
	hl = raw_write_cmd(&h, NULL, 0x77, 64, 256 * 1024);
	assert_int_equal(nvmft_host_qpair_send_raw(qp, h.raw, hl), 0);
	assert_int_equal(nvmft_host_qpair_recv_raw(qp, &r2t, sizeof(r2t), 5000),
			 (ssize_t)sizeof(r2t));
	assert_int_equal(r2t.ch.type, PDU_R2T);
	assert_int_equal(le16toh(r2t.cccid), 0x77);
	assert_int_equal(le32toh(r2t.r2tl), 256 * 1024);
	hl = pdu_enc_h2c_data(&h, NULL, 0x77, le16toh(r2t.ttag), 0, 32768, false);
	assert_int_equal(nvmft_host_qpair_send_raw(qp, h.raw, hl), 0);
	assert_int_equal(nvmft_host_qpair_send_raw(qp, data, 32768), 0);
	/* every connection of the controller drops, no Disconnect */
	shutdown(nvmft_host_qpair_fd(qp), SHUT_RDWR);
	shutdown(nvmft_host_qpair_fd(other), SHUT_RDWR);
	shutdown(nvmft_host_qpair_fd(nvmft_host_ctrlr_admin_qpair(c)), SHUT_RDWR);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
	nvmft_host_ctrlr_disconnect(c);
	assert_true(slot.done);		/* failed or served, never lost */
	free(data);
	free(big);
	assert_recovered(e, 30);
}

/* Only the I/O queue dies mid-R2T: the controller lives on with its other
 * queues, and the dead queue's id can be connected again. */
static void test_io_queue_gone_mid_r2t_controller_survives(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = nh_connect(&e->h, HD_NQN, 2);
	struct nvmft_host_qpair *qp = nvmft_host_ctrlr_io_qpair(c, 0);
	struct pdu_r2t r2t;
	union pdu_hdr h;
	size_t hl;

	hl = raw_write_cmd(&h, NULL, 0x55, 0, 512 * 1024);
	assert_int_equal(nvmft_host_qpair_send_raw(qp, h.raw, hl), 0);
	assert_int_equal(nvmft_host_qpair_recv_raw(qp, &r2t, sizeof(r2t), 5000),
			 (ssize_t)sizeof(r2t));
	assert_int_equal(r2t.ch.type, PDU_R2T);
	shutdown(nvmft_host_qpair_fd(qp), SHUT_RDWR);
	assert_int_equal(nh_wait_state(&e->h, 2, 1, NH_WAIT_MS), 0);
	/* the host drops its dead queue and connects one in its place */
	/* (its Disconnect fails on the dead socket; the qpair goes anyway) */
	(void)nvmft_host_ctrlr_remove_io_qpair(c, qp);
	assert_int_equal(nvmft_host_ctrlr_num_io_qpairs(c), 1);
	assert_int_equal(nvmft_host_ctrlr_add_io_qpair(c, 0, &qp), 0);
	assert_int_equal(nvmft_host_qpair_qid(qp), 1);
	nh_write_read_verify(qp, 1, 512, 0, 512 * 1024, 40);
	nh_write_read_verify(nvmft_host_ctrlr_io_qpair(c, 0), 1, 512, 4096, 8192, 41);
	nvmft_host_ctrlr_disconnect(c);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_child_host_killed_mid_io),
		cmocka_unit_test(test_perf_process_killed_mid_io),
		cmocka_unit_test(test_host_gone_mid_r2t_transfer),
		cmocka_unit_test(test_io_queue_gone_mid_r2t_controller_survives),
	};

	signal(SIGPIPE, SIG_IGN);
	return NH_RUN_BOTH("nvmf_host_death", tests, setup_uring, setup_epoll,
			   env_teardown) ? 1 : 0;
}
