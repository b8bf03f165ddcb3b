/* SPDX-License-Identifier: MIT */
/*
 * Hostile peers, I/O level: a real target (2 reactors, io_uring and epoll
 * engines, malloc namespace) on 127.0.0.1 against
 *  - a host that issues reads and stops reading the answers: what the
 *    target holds stays bounded by the queue depth and by a connection's
 *    share of the data buffer pool, and other hosts on the same reactors
 *    keep being served;
 *  - hosts that send more commands than their SQ size allows, at once:
 *    C2HTermReq (PDU Sequence Error), close, others fine;
 *  - a flood of commands sent without reading anything in between.
 * Each ends with everything given back and a normal host fully served.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hostile_harness.h"

#define STALL_DEPTH	128		/* SQ entries of the stalled queues */
#define STALL_READ	(256u * 1024)	/* two io units per read */

static int group_setup(void **state, enum nvmft_engine engine)
{
	static struct tt_target targets[2];
	struct tt_target *t = &targets[engine == NVMFT_ENGINE_EPOLL];
	int rc;

	/* defaults: 512 buffers of 128 KiB per reactor, a connection may
	 * hold a quarter of them */
	rc = tt_target_start(t, engine, NULL);
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

/* ---- a host that stops reading ---------------------------------------------- */

/* Requests of the target not free, over both reactors. */
static uint32_t busy_requests(const struct tcp_pg_stats *st)
{
	uint32_t n = 0;

	for (int k = TCP_REQ_FREE + 1; k < TCP_REQ_NR_STATES; k++)
		n += st->req_states[k];
	return n;
}

/* An I/O queue whose socket takes (almost) nothing in. */
static void stalled_queue(struct tt_target *t, struct hh_q *q, uint16_t cntlid,
			  uint16_t qid)
{
	int small = 4096;

	assert_int_equal(hh_connect_q(t, q, qid, STALL_DEPTH - 1, cntlid, 0), 0);
	assert_int_equal(setsockopt(q->fd, SOL_SOCKET, SO_RCVBUF, &small,
				    sizeof(small)), 0);
}

/* Send @n reads without reading anything back. */
static void send_reads(struct hh_q *q, int n)
{
	for (int i = 0; i < n; i++) {
		struct nvmft_sqe sqe;

		hh_read_sqe(&sqe, (uint64_t)i * (STALL_READ / TT_LBA), STALL_READ);
		assert_int_equal(hh_send_cmd(q, &sqe, NULL, 0), 0);
	}
}

static void test_host_that_stops_reading_is_bounded(void **state)
{
	struct tt_target *t = *state;
	const struct nvmft_transport_opts *o = &t->topts;
	uint32_t per_qp_slots = STALL_DEPTH + STALL_DEPTH / 4 + 1;
	uint32_t share = o->num_shared_buffers / 4;
	struct tcp_pg_stats before, mid, late;
	struct hh_q admin = { 0 }, io[2] = { { 0 }, { 0 } };
	int base_fds = hh_fd_count();
	long heap0 = hh_heap_bytes();

	hh_wait_target_empty(t);
	assert_int_equal(tt_stats(t, &before), 0);
	hh_admin(t, &admin, 0);
	/* one stalled queue on each reactor: whatever reactor a normal host
	 * lands on, it shares it with a host that does not read */
	hh_next_reactor(t, 0);
	stalled_queue(t, &io[0], admin.cntlid, 1);
	hh_next_reactor(t, 1);
	stalled_queue(t, &io[1], admin.cntlid, 2);
	send_reads(&io[0], STALL_DEPTH);
	send_reads(&io[1], STALL_DEPTH);
	/* the target answers until the socket buffers are full, then holds */
	tt_sleep_ms(1000);
	assert_int_equal(tt_stats(t, &mid), 0);
	assert_true(mid.buf_share_waits > before.buf_share_waits);
	printf("note: stalled: %u requests busy, %u of %u buffers held, %lu share waits\n",
	       busy_requests(&mid), mid.bufs_total - mid.bufs_free, mid.bufs_total,
	       (unsigned long)(mid.buf_share_waits - before.buf_share_waits));
	/* bounded: no more request slots than the queues have ... */
	assert_true(busy_requests(&mid) <= 2 * per_qp_slots);
	/* ... and no more pool buffers than the connections' shares */
	assert_true(mid.bufs_total - mid.bufs_free <= 2 * share);

	/* others are served meanwhile, on both reactors */
	hh_assert_normal_host_served(t);

	/* and nothing grows while the host keeps not reading */
	tt_sleep_ms(500);
	assert_int_equal(tt_stats(t, &late), 0);
	assert_true(busy_requests(&late) <= busy_requests(&mid));
	assert_true(late.bufs_free >= mid.bufs_free);
	/* the stalled queues' own slots and buffers, nothing per command */
	assert_true(hh_heap_bytes() - heap0 < 16 * 1024 * 1024);

	close(io[0].fd);
	close(io[1].fd);
	close(admin.fd);
	hh_wait_target_empty(t);
	assert_int_equal(hh_fd_count(), base_fds);
	hh_assert_normal_host_served(t);
}

/* ---- commands beyond the queue size ------------------------------------------- */

/* A write whose data comes by R2T: it stays outstanding until sent. */
static void write_sqe(struct nvmft_sqe *sqe, uint32_t len)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = nvme_cmd_write;
	sqe->flags = 0x40;
	sqe->nsid = htole32(1);
	sqe->cdw12 = htole32(len / TT_LBA - 1);
	sqe->sgl.type = NVMFT_SGL_TRANSPORT;
	sqe->sgl.length = htole32(len);
}

/* A CapsuleCmd (no data, no digest) written at @dst; its length. */
static size_t capsule_into(uint8_t *dst, const struct nvmft_sqe *sqe)
{
	union pdu_hdr h;
	size_t n = pdu_enc_capsule_cmd(&h, NULL, sqe, 0);

	memcpy(dst, h.raw, n);
	return n;
}

static void test_burst_beyond_sq_size_is_terminated(void **state)
{
	struct tt_target *t = *state;
	enum { SQ = 16, BURST = 4 * SQ };
	struct hh_q admin = { 0 }, io = { 0 }, good = { 0 };
	static uint8_t burst[BURST * sizeof(struct pdu_capsule_cmd)];
	struct tcp_pg_stats before, after;
	union pdu_hdr h;
	uint16_t fes = 0;
	uint32_t fei = 0;
	size_t off = 0;

	assert_int_equal(tt_stats(t, &before), 0);
	hh_admin(t, &admin, 0);
	assert_int_equal(hh_connect_q(t, &io, 1, SQ - 1, admin.cntlid, 0), 0);
	assert_int_equal(hh_connect_q(t, &good, 2, SQ - 1, admin.cntlid, 0), 0);
	/* 4 x the SQ size of writes in one send: the first SQ get an R2T */
	for (int i = 0; i < BURST; i++) {
		struct nvmft_sqe sqe;

		write_sqe(&sqe, 4096);
		sqe.cid = (uint16_t)(100 + i);
		off += capsule_into(burst + off, &sqe);
	}
	assert_int_equal(raw_send(io.fd, burst, off), 0);
	for (int i = 0; i < SQ; i++) {
		assert_int_equal(raw_recv_pdu(io.fd, &h, NULL, 0, NULL, 5000), 0);
		assert_int_equal(h.ch.type, PDU_R2T);
	}
	assert_int_equal(raw_expect_term(io.fd, &fes, &fei), 0);
	assert_int_equal(fes, PDU_FES_PDU_SEQUENCE_ERROR);
	assert_int_equal(tt_stats(t, &after), 0);
	assert_true(after.term_reqs_sent > before.term_reqs_sent);
	/* the other queue of the same controller is untouched */
	{
		struct nvmft_sqe sqe;
		struct nvmft_cqe cqe;

		hh_read_sqe(&sqe, 0, 4096);
		assert_int_equal(hh_cmd(&good, &sqe, NULL, 0, &cqe), 0);
	}
	close(io.fd);
	close(good.fd);
	close(admin.fd);
	hh_wait_target_empty(t);
	hh_assert_normal_host_served(t);
}

/* Thousands of reads in one go on a 128-deep queue, nothing read back
 * while the target takes them in: answered in full or ended with a
 * C2HTermReq, never a crash or a leak. */
static void test_flood_without_reading_leaks_nothing(void **state)
{
	struct tt_target *t = *state;
	enum { N = 4096, CMD = sizeof(struct pdu_capsule_cmd) };
	struct hh_q admin = { 0 }, io = { 0 };
	static uint8_t burst[N * CMD];
	int flags, answered = 0;
	bool terminated = false;
	size_t off = 0, sent = 0, whole;
	uint64_t end, idle_since;

	hh_admin(t, &admin, 0);
	assert_int_equal(hh_connect_q(t, &io, 1, 127, admin.cntlid, 0), 0);
	for (int i = 0; i < N; i++) {
		struct nvmft_sqe sqe;

		hh_read_sqe(&sqe, (uint64_t)(i % 64) * 8, 4096);
		sqe.cid = (uint16_t)i;
		off += capsule_into(burst + off, &sqe);
	}
	flags = fcntl(io.fd, F_GETFL);
	assert_int_equal(fcntl(io.fd, F_SETFL, flags | O_NONBLOCK), 0);
	/* send until everything is out or the target stops taking it in */
	end = tt_now_ms() + 3000;
	idle_since = tt_now_ms();
	while (sent < off && tt_now_ms() < end && tt_now_ms() - idle_since < 300) {
		ssize_t n = send(io.fd, burst + sent, off - sent, MSG_NOSIGNAL);

		if (n > 0) {
			sent += (size_t)n;
			idle_since = tt_now_ms();
		} else if (n < 0 && errno != EAGAIN) {
			break;
		} else {
			tt_sleep_ms(1);
		}
	}
	/* then read, finishing the command cut in the middle as room comes */
	whole = (sent + CMD - 1) / CMD * CMD;
	end = tt_now_ms() + 10000;
	while (answered < (int)(whole / CMD) && !terminated && tt_now_ms() < end) {
		struct pollfd p = { .fd = io.fd,
				    .events = POLLIN | (sent < whole ? POLLOUT : 0) };
		static uint8_t data[8192];
		union pdu_hdr h;

		assert_true(poll(&p, 1, 1000) >= 0);
		if ((p.revents & POLLOUT) && sent < whole) {
			ssize_t n = send(io.fd, burst + sent, whole - sent, MSG_NOSIGNAL);

			if (n > 0)
				sent += (size_t)n;
		}
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (raw_recv_pdu(io.fd, &h, data, sizeof(data), NULL, 5000))
			break;
		if (h.ch.type == PDU_C2H_TERM_REQ)
			terminated = true;
		else if (h.ch.type == PDU_CAPSULE_RESP ||
			 (h.ch.type == PDU_C2H_DATA && (h.ch.flags & PDU_FLAG_SUCCESS)))
			answered++;
	}
	printf("note: flood: %zu commands sent, %d answered, %s\n", whole / CMD,
	       answered, terminated ? "C2HTermReq" : "no C2HTermReq");
	if (!terminated)
		assert_int_equal(answered, (int)(whole / CMD));
	assert_int_equal(fcntl(io.fd, F_SETFL, flags), 0);
	close(io.fd);
	close(admin.fd);
	hh_wait_target_empty(t);
	hh_assert_normal_host_served(t);
}

#define HOSTILE_IO_TESTS						\
	cmocka_unit_test(test_host_that_stops_reading_is_bounded),	\
	cmocka_unit_test(test_burst_beyond_sq_size_is_terminated),	\
	cmocka_unit_test(test_flood_without_reading_leaks_nothing)

int main(void)
{
	const struct CMUnitTest tests[] = { HOSTILE_IO_TESTS };
	int fails = 0;

	/* io_uring may be blocked (containers): then only epoll runs. */
	if (tt_engine_usable(NVMFT_ENGINE_URING))
		fails += cmocka_run_group_tests_name("hostile_io_uring", tests,
						     setup_uring, group_teardown);
	else
		printf("note: io_uring unavailable, uring group not run\n");
	fails += cmocka_run_group_tests_name("hostile_io_epoll", tests,
					     setup_epoll, group_teardown);
	return fails ? 1 : 0;
}
