/* SPDX-License-Identifier: MIT */
/*
 * Hostile peers, connection level: a real target (2 reactors, io_uring and
 * epoll engines, malloc namespace) on 127.0.0.1 against
 *  - a storm of 1,000 connections that never send an ICReq,
 *  - slow-loris peers: half a PDU header then silence, before the IC
 *    exchange (ICReq deadline), after it (Connect deadline), and after
 *    Connect (keep-alive),
 *  - more connections than max_connections,
 *  - reconnect loops (raw and with the host library).
 * Each ends with the connections closed, fds and memory given back, no
 * controller left, the limit logged at most once per second, and a normal
 * host getting full, verified service.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include "hostile_harness.h"

#define ICREQ_TIMEOUT_MS	300
#define STORM			1000
#define RECONNECTS		500
/* heap growth allowed over 400 cycles: less than 256 bytes a cycle */
#define HEAP_NOISE		(100 * 1024)
/* Deadlines are checked every icreq_timeout_ms / 4 (at least 10 ms). */
#define CLOSE_SLACK_MS		3000

static int group_setup(void **state, enum nvmft_engine engine)
{
	static struct tt_target targets[2];
	struct tt_target *t = &targets[engine == NVMFT_ENGINE_EPOLL];
	struct nvmft_transport_opts o;
	int rc;

	/* the storm: 1,000 peers + 1,000 target sides + spare */
	if (!hh_fd_room(3 * STORM)) {
		printf("SKIP: RLIMIT_NOFILE cannot be raised to %d\n", 3 * STORM);
		return -1;
	}
	nvmft_transport_opts_init("TCP", &o);
	o.icreq_timeout_ms = ICREQ_TIMEOUT_MS;
	rc = tt_target_start(t, engine, &o);
	*state = t;
	return rc;
}

static int setup_uring(void **state) { return group_setup(state, NVMFT_ENGINE_URING); }
static int setup_epoll(void **state) { return group_setup(state, NVMFT_ENGINE_EPOLL); }

static int group_teardown(void **state)
{
	tt_target_stop(*state);
	return 0;
}

/* ---- connection storm ---------------------------------------------------- */

/* @n non-blocking connects at once; returns when all are established. */
static void storm_connect(struct tt_target *t, int *fds, int n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(t->port) };
	struct pollfd *p = calloc((size_t)n, sizeof(*p));
	uint64_t end = tt_now_ms() + 10000;
	int left = n;

	assert_non_null(p);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		assert_true(fds[i] >= 0);
		if (connect(fds[i], (struct sockaddr *)&a, sizeof(a)) != 0)
			assert_int_equal(errno, EINPROGRESS);
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLOUT };
	}
	while (left > 0) {
		assert_true(tt_now_ms() < end);
		assert_true(poll(p, (nfds_t)n, 100) >= 0);
		for (int i = 0; i < n; i++) {
			int err = 0;
			socklen_t l = sizeof(err);

			if (p[i].fd < 0 || !(p[i].revents & (POLLOUT | POLLERR | POLLHUP)))
				continue;
			assert_int_equal(getsockopt(p[i].fd, SOL_SOCKET, SO_ERROR, &err, &l), 0);
			assert_int_equal(err, 0);
			p[i].fd = -1;
			left--;
		}
	}
	free(p);
}

/* Every one of @fds sees the target close within @ms: EOF or reset. */
static void storm_expect_closed(int *fds, int n, int ms)
{
	struct pollfd *p = calloc((size_t)n, sizeof(*p));
	uint64_t end = tt_now_ms() + (uint64_t)ms;
	int left = n;

	assert_non_null(p);
	for (int i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN | POLLRDHUP };
	while (left > 0) {
		if (tt_now_ms() > end)
			fail_msg("%d of %d connections still open", left, n);
		assert_true(poll(p, (nfds_t)n, 100) >= 0);
		for (int i = 0; i < n; i++) {
			char c;
			ssize_t r;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			r = recv(p[i].fd, &c, 1, MSG_DONTWAIT);
			if (r < 0 && errno == EAGAIN)
				continue;
			/* nothing is ever sent to a peer that sent nothing */
			assert_true(r == 0 || (r < 0 && errno == ECONNRESET));
			p[i].fd = -1;
			left--;
		}
	}
	free(p);
}

static void test_storm_of_silent_connections_is_closed(void **state)
{
	struct tt_target *t = *state;
	struct tcp_pg_stats before, after;
	static struct hh_log log = HH_LOG_INIT;
	int *fds = calloc(STORM, sizeof(*fds));
	int base_fds = hh_fd_count();
	uint64_t start, took;

	assert_non_null(fds);
	assert_int_equal(tt_stats(t, &before), 0);
	hh_log_count(t, &log, "no ICReq within");
	start = tt_now_ms();
	storm_connect(t, fds, STORM);
	/* all were accepted and are held until their deadline */
	storm_expect_closed(fds, STORM, ICREQ_TIMEOUT_MS + CLOSE_SLACK_MS);
	took = tt_now_ms() - start;
	assert_true(took >= ICREQ_TIMEOUT_MS - 50);
	assert_int_equal(tt_stats(t, &after), 0);
	assert_int_equal(after.icreq_timeouts - before.icreq_timeouts, STORM);
	assert_int_equal(after.qpairs_added - before.qpairs_added, STORM);
	/* one line per second and reactor at most, not one per connection */
	assert_true(hh_log_hits(&log) >= 1);
	assert_true(hh_log_hits(&log) <= 2 * (2 + took / 1000));
	hh_log_reset(t, &log);
	for (int i = 0; i < STORM; i++)
		close(fds[i]);
	free(fds);
	hh_wait_target_empty(t);
	/* the target's ends of the sockets are gone too */
	assert_int_equal(hh_fd_count(), base_fds);
	hh_assert_normal_host_served(t);
	hh_wait_target_empty(t);
}

/* ---- slow loris ------------------------------------------------------------------ */

/* Half a common header: the type, flags, hlen, pdo of @type. */
static void send_half_header(int fd, uint8_t type, uint8_t hlen)
{
	uint8_t half[4] = { type, 0, hlen, 0 };

	assert_int_equal(raw_send(fd, half, sizeof(half)), 0);
}

static void test_half_header_before_icreq_is_closed(void **state)
{
	struct tt_target *t = *state;
	struct tcp_pg_stats before, after;
	int fd = raw_connect(t);
	uint64_t start = tt_now_ms();

	assert_int_equal(tt_stats(t, &before), 0);
	assert_true(fd >= 0);
	send_half_header(fd, PDU_ICREQ, 128);
	assert_int_equal(raw_expect_close(fd, ICREQ_TIMEOUT_MS + CLOSE_SLACK_MS), 0);
	assert_true(tt_now_ms() - start >= ICREQ_TIMEOUT_MS - 50);
	assert_int_equal(tt_stats(t, &after), 0);
	assert_int_equal(after.icreq_timeouts, before.icreq_timeouts + 1);
	close(fd);
	hh_wait_target_empty(t);
	hh_assert_normal_host_served(t);
}

static void test_no_connect_after_ic_is_closed(void **state)
{
	struct tt_target *t = *state;
	struct tcp_pg_stats before, after;
	int silent = raw_connect(t), half = raw_connect(t), partial = raw_connect(t);
	union pdu_hdr h;
	struct nvmft_sqe sqe = hh_fabrics_sqe(nvme_fabrics_type_connect);
	size_t hl;
	uint64_t start;

	assert_int_equal(tt_stats(t, &before), 0);
	assert_int_equal(raw_icreq(silent, 0, 0, NULL), 0);
	assert_int_equal(raw_icreq(half, 0, 0, NULL), 0);
	assert_int_equal(raw_icreq(partial, 0, 0, NULL), 0);
	start = tt_now_ms();
	/* nothing at all / half a CapsuleCmd header / a Connect capsule
	 * whose in-capsule data never comes */
	send_half_header(half, PDU_CAPSULE_CMD, sizeof(struct pdu_capsule_cmd));
	sqe.sgl.type = NVMFT_SGL_INCAPSULE;
	sqe.sgl.length = htole32(sizeof(struct nvmf_connect_data));
	hl = pdu_enc_capsule_cmd(&h, NULL, &sqe, sizeof(struct nvmf_connect_data));
	assert_int_equal(raw_send(partial, h.raw, hl), 0);
	assert_int_equal(raw_send(partial, "nqn.", 4), 0);
	assert_int_equal(raw_expect_close(silent, ICREQ_TIMEOUT_MS + CLOSE_SLACK_MS), 0);
	assert_int_equal(raw_expect_close(half, CLOSE_SLACK_MS), 0);
	assert_int_equal(raw_expect_close(partial, CLOSE_SLACK_MS), 0);
	assert_true(tt_now_ms() - start >= ICREQ_TIMEOUT_MS - 50);
	assert_int_equal(tt_stats(t, &after), 0);
	assert_int_equal(after.connect_timeouts, before.connect_timeouts + 3);
	assert_int_equal(after.icreq_timeouts, before.icreq_timeouts);
	close(silent);
	close(half);
	close(partial);
	hh_wait_target_empty(t);
	hh_assert_normal_host_served(t);
}

static void test_connected_queue_outlives_the_deadlines(void **state)
{
	struct tt_target *t = *state;
	struct hh_q q = { 0 };
	struct nvmft_sqe sqe;

	/* no keep-alive: only a deadline could close it */
	hh_admin(t, &q, 0);
	tt_sleep_ms(3 * ICREQ_TIMEOUT_MS);
	sqe = hh_fabrics_sqe(nvme_fabrics_type_property_get);
	sqe.cdw11 = htole32(NVME_REG_CSTS);
	assert_int_equal(hh_cmd(&q, &sqe, NULL, 0, NULL), 0);
	close(q.fd);
	hh_wait_target_empty(t);
}

static void test_half_header_after_connect_ends_with_keep_alive(void **state)
{
	struct tt_target *t = *state;
	struct hh_q q = { 0 };
	uint64_t start;

	hh_admin(t, &q, 500);
	start = tt_now_ms();
	send_half_header(q.fd, PDU_CAPSULE_CMD, sizeof(struct pdu_capsule_cmd));
	/* KATO + grace (half of it), checked every KATO / 4 */
	assert_int_equal(raw_expect_close(q.fd, 500 + 250 + CLOSE_SLACK_MS), 0);
	assert_true(tt_now_ms() - start >= 400);
	close(q.fd);
	hh_wait_target_empty(t);
	hh_assert_normal_host_served(t);
}

/* ---- limits ------------------------------------------------------------------------ */

static void test_connections_beyond_max_are_refused(void **state)
{
	struct tt_target *t = *state;
	enum { MAX = 8, N = 40 };
	struct hh_tgt_counts c0, c1;
	static struct hh_log log = HH_LOG_INIT;
	int fds[N], open_ones = 0;
	uint32_t old;

	hh_wait_target_empty(t);
	c0 = hh_counts(t);
	hh_log_count(t, &log, "connection refused");
	old = hh_set_max_connections(t, MAX);
	/* the first MAX get their ICResp, the others are closed at once */
	for (int i = 0; i < N; i++) {
		fds[i] = raw_connect(t);
		assert_true(fds[i] >= 0);
		if (raw_icreq(fds[i], 0, 0, NULL) == 0)
			open_ones++;
	}
	assert_int_equal(open_ones, MAX);
	c1 = hh_counts(t);
	assert_int_equal(c1.connections, MAX);
	assert_int_equal(c1.refused - c0.refused, N - MAX);
	/* refusals (on the app reactor) are logged at most once per second */
	assert_true(hh_log_hits(&log) >= 1);
	assert_true(hh_log_hits(&log) <= 2);
	hh_log_reset(t, &log);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	hh_wait_target_empty(t);
	hh_set_max_connections(t, old);
	hh_assert_normal_host_served(t);
}

/* ---- reconnect loops ----------------------------------------------------------------- */

static void test_raw_reconnect_loop_leaks_nothing(void **state)
{
	struct tt_target *t = *state;
	int base_fds, fds_mid = 0;
	long heap_mid = 0;

	hh_wait_target_empty(t);
	base_fds = hh_fd_count();
	for (int i = 0; i < RECONNECTS; i++) {
		struct hh_q q = { 0 };

		/* alternately: IC only, a controller, a controller dropped
		 * in the middle of a command */
		if (i % 3 == 0) {
			q.fd = raw_connect(t);
			assert_true(q.fd >= 0);
			assert_int_equal(raw_icreq(q.fd, 0, 0, NULL), 0);
		} else {
			hh_admin(t, &q, 0);
			if (i % 3 == 2) {
				struct nvmft_sqe sqe;

				hh_read_sqe(&sqe, 0, 65536);
				sqe.opcode = nvme_admin_identify;
				sqe.cdw10 = htole32(NVME_IDENTIFY_CNS_CTRL);
				assert_int_equal(hh_send_cmd(&q, &sqe, NULL, 0), 0);
			}
		}
		close(q.fd);
		if (i == RECONNECTS / 5) {
			hh_wait_target_empty(t);
			fds_mid = hh_fd_count();
			heap_mid = hh_heap_bytes();
		}
	}
	hh_wait_target_empty(t);
	assert_int_equal(hh_fd_count(), base_fds);
	assert_int_equal(fds_mid, base_fds);
	/* flat after the warm-up */
	printf("note: heap %+ld bytes over the last %d cycles\n",
	       hh_heap_bytes() - heap_mid, RECONNECTS - RECONNECTS / 5);
	assert_true(hh_heap_bytes() - heap_mid < HEAP_NOISE);
	assert_int_equal(hh_counts(t).ctrlrs, 0);
	hh_assert_normal_host_served(t);
}

static void test_host_reconnect_loop_leaks_nothing(void **state)
{
	struct tt_target *t = *state;
	struct nvmft_host_opts ho;
	int base_fds, fds_mid = 0;
	long heap_mid = 0;
	uint8_t buf[4096];

	hh_wait_target_empty(t);
	base_fds = hh_fd_count();
	tt_host_opts(t, &ho);
	ho.num_io_queues = 1;
	for (int i = 0; i < RECONNECTS; i++) {
		struct nvmft_host_ctrlr *c = NULL;

		assert_int_equal(nvmft_host_ctrlr_connect(&ho, &c), 0);
		assert_int_equal(nvmft_host_read(nvmft_host_ctrlr_io_qpair(c, 0), 1,
						 (uint64_t)i * 8, 8, buf, sizeof(buf)), 0);
		nvmft_host_ctrlr_disconnect(c);
		if (i == RECONNECTS / 5) {
			hh_wait_target_empty(t);
			fds_mid = hh_fd_count();
			heap_mid = hh_heap_bytes();
		}
	}
	hh_wait_target_empty(t);
	assert_int_equal(hh_fd_count(), base_fds);
	assert_int_equal(fds_mid, base_fds);
	printf("note: heap %+ld bytes over the last %d cycles\n",
	       hh_heap_bytes() - heap_mid, RECONNECTS - RECONNECTS / 5);
	assert_true(hh_heap_bytes() - heap_mid < HEAP_NOISE);
	assert_int_equal(hh_counts(t).ctrlrs, 0);
	hh_assert_normal_host_served(t);
}

#define HOSTILE_CONN_TESTS							\
	cmocka_unit_test(test_storm_of_silent_connections_is_closed),		\
	cmocka_unit_test(test_half_header_before_icreq_is_closed),		\
	cmocka_unit_test(test_no_connect_after_ic_is_closed),			\
	cmocka_unit_test(test_connected_queue_outlives_the_deadlines),		\
	cmocka_unit_test(test_half_header_after_connect_ends_with_keep_alive),	\
	cmocka_unit_test(test_connections_beyond_max_are_refused),		\
	cmocka_unit_test(test_raw_reconnect_loop_leaks_nothing),		\
	cmocka_unit_test(test_host_reconnect_loop_leaks_nothing)

int main(void)
{
	const struct CMUnitTest tests[] = { HOSTILE_CONN_TESTS };
	int fails = 0;

	if (!hh_fd_room(3 * STORM)) {
		printf("SKIP: RLIMIT_NOFILE cannot be raised to %d\n", 3 * STORM);
		return 77;
	}
	/* io_uring may be blocked (containers): then only epoll runs. */
	if (tt_engine_usable(NVMFT_ENGINE_URING))
		fails += cmocka_run_group_tests_name("hostile_conn_uring", tests,
						     setup_uring, group_teardown);
	else
		printf("note: io_uring unavailable, uring group not run\n");
	fails += cmocka_run_group_tests_name("hostile_conn_epoll", tests,
					     setup_epoll, group_teardown);
	return fails ? 1 : 0;
}
