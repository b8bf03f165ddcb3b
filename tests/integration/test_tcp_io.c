/* SPDX-License-Identifier: MIT */
/*
 * NVMe/TCP transport, data paths: a real target (2 reactors, io_uring and
 * epoll engines) with a malloc namespace, driven by the project's host
 * library. In-capsule writes, R2T writes in several H2CData PDUs, reads in
 * several C2HData PDUs, digests, a data digest error failing one command
 * only, many queues at once, a small buffer pool (requests wait for
 * buffers), a host dying mid-I/O; after each test nothing is leaked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_tcp_harness.h"

#define MIB	(1u << 20)

struct env {
	struct tt_target t;
	struct nvmft_host_ctrlr *c;
	struct nvmft_host_qpair *io;
};

static int env_setup(void **state, enum nvmft_engine engine, bool small_pool)
{
	struct env *e = calloc(1, sizeof(*e));
	struct nvmft_transport_opts o;
	int rc;

	if (!e)
		return -1;
	nvmft_transport_opts_init("TCP", &o);
	if (small_pool)
		o.num_shared_buffers = o.max_io_size / o.io_unit_size;
	rc = tt_target_start(&e->t, engine, &o);
	*state = e;
	return rc;
}

static int setup_uring(void **state) { return env_setup(state, NVMFT_ENGINE_URING, false); }
static int setup_epoll(void **state) { return env_setup(state, NVMFT_ENGINE_EPOLL, false); }
static int setup_uring_small(void **state) { return env_setup(state, NVMFT_ENGINE_URING, true); }
static int setup_epoll_small(void **state) { return env_setup(state, NVMFT_ENGINE_EPOLL, true); }

static int env_teardown(void **state)
{
	struct env *e = *state;

	tt_target_stop(&e->t);
	free(e);
	return 0;
}

static struct nvmft_host_ctrlr *connect_ctrlr(struct env *e, bool hdgst,
					      bool ddgst, uint16_t nr_io)
{
	struct nvmft_host_opts ho;
	struct nvmft_host_ctrlr *c = NULL;

	tt_host_opts(&e->t, &ho);
	ho.hdgst = hdgst;
	ho.ddgst = ddgst;
	ho.num_io_queues = nr_io;
	assert_int_equal(nvmft_host_ctrlr_connect(&ho, &c), 0);
	return c;
}

/* Per test: one controller with one I/O queue, checked for leaks after. */
static int test_up(void **state)
{
	struct env *e = *state;

	e->c = connect_ctrlr(e, false, false, 1);
	e->io = nvmft_host_ctrlr_io_qpair(e->c, 0);
	return e->io ? 0 : -1;
}

static int test_down(void **state)
{
	struct env *e = *state;

	nvmft_host_ctrlr_disconnect(e->c);
	e->c = NULL;
	e->io = NULL;
	return tt_wait_idle(&e->t, 0) ? -1 : 0;
}

static void write_read_compare(struct nvmft_host_qpair *qp, uint64_t slba,
			       uint32_t len, uint32_t seed)
{
	uint8_t *w = malloc(len), *r = malloc(len);

	assert_non_null(w);
	assert_non_null(r);
	tt_fill(w, len, seed);
	memset(r, 0xee, len);
	assert_int_equal(nvmft_host_write(qp, 1, slba, len / TT_LBA, w, len, false), 0);
	assert_int_equal(nvmft_host_read(qp, 1, slba, len / TT_LBA, r, len), 0);
	assert_memory_equal(w, r, len);
	free(w);
	free(r);
}

/* ---- data paths ------------------------------------------------------------ */

static void test_incapsule_write_reads_back(void **state)
{
	struct env *e = *state;
	struct nvmft_host_qpair_stats a, b;

	nvmft_host_qpair_get_stats(e->io, &a);
	write_read_compare(e->io, 0, 4096, 1);
	nvmft_host_qpair_get_stats(e->io, &b);
	/* 4 KiB fits the 8 KiB in-capsule size: no R2T */
	assert_int_equal(b.r2t, a.r2t);
	assert_int_equal(b.c2h - a.c2h, 1);
}

static void test_r2t_write_of_1mib_in_several_h2cdata(void **state)
{
	struct env *e = *state;
	struct nvmft_host_qpair_stats a, b;

	nvmft_host_qpair_get_stats(e->io, &a);
	write_read_compare(e->io, 2048, MIB, 2);
	nvmft_host_qpair_get_stats(e->io, &b);
	/* one R2T for the whole write, cut in MAXH2CDATA (io_unit) pieces */
	assert_int_equal(b.r2t - a.r2t, 1);
	assert_int_equal(b.h2c - a.h2c, MIB / e->t.topts.io_unit_size);
	/* the read comes back in io_unit_size C2HData PDUs */
	assert_int_equal(b.c2h - a.c2h, MIB / e->t.topts.io_unit_size);
}

static void test_odd_sizes_read_back(void **state)
{
	struct env *e = *state;
	static const uint32_t sizes[] = { 512, 8192, 8704, 131072, 131584,
					  393216 + 512 };

	for (unsigned int i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		write_read_compare(e->io, 8192 + i * 1024, sizes[i], 10 + i);
}

static void test_digests_on_every_path(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = connect_ctrlr(e, true, true, 1);
	struct nvmft_host_qpair *qp = nvmft_host_ctrlr_io_qpair(c, 0);
	struct nvmft_host_qpair_stats st;

	write_read_compare(qp, 4096, 4096, 3);
	write_read_compare(qp, 8192, 768 * 1024, 4);
	nvmft_host_qpair_get_stats(qp, &st);
	assert_int_equal(st.ddgst_errors, 0);
	nvmft_host_ctrlr_disconnect(c);
}

static void test_data_digest_error_fails_only_that_command(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = connect_ctrlr(e, false, true, 1);
	struct nvmft_host_qpair *qp = nvmft_host_ctrlr_io_qpair(c, 0);
	struct pdu_params p = { .ddgst = true };
	struct tcp_pg_stats before, after;
	uint8_t pdu[72 + 4096 + 4], data[4096];
	union pdu_hdr *h = (union pdu_hdr *)pdu;
	struct pdu_capsule_resp rsp;
	struct nvmft_sqe sqe;
	struct iovec iov = { data, sizeof(data) };
	size_t hl;

	assert_int_equal(tt_stats(&e->t, &before), 0);
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_cmd_write;
	sqe.flags = 0x40;
	sqe.cid = 0x4321;
	sqe.nsid = htole32(1);
	sqe.cdw12 = htole32(4096 / TT_LBA - 1);
	sqe.sgl.type = NVMFT_SGL_INCAPSULE;
	sqe.sgl.length = htole32(4096);
	hl = pdu_enc_capsule_cmd(h, &p, &sqe, 4096);
	assert_int_equal(hl, 72);
	assert_int_equal(h->ch.pdo, 72);
	tt_fill(data, sizeof(data), 5);
	memcpy(pdu + 72, data, sizeof(data));
	pdu_ddgst_set(pdu + 72 + 4096, &iov, 1);
	pdu[72 + 4096] ^= 0xff;		/* wrong data digest */

	assert_int_equal(nvmft_host_qpair_send_raw(qp, pdu, sizeof(pdu)), 0);
	assert_int_equal(nvmft_host_qpair_recv_raw(qp, &rsp, sizeof(rsp), 5000),
			 (ssize_t)sizeof(rsp));
	assert_int_equal(rsp.ch.type, PDU_CAPSULE_RESP);
	assert_int_equal(rsp.cqe.cid, 0x4321);
	assert_int_equal(le16toh(rsp.cqe.status) >> 1, TCP_STATUS_TRANSIENT);
	/* the connection stays and serves the next commands */
	write_read_compare(qp, 0, 4096, 6);
	write_read_compare(qp, 64, 256 * 1024, 7);
	assert_int_equal(tt_stats(&e->t, &after), 0);
	assert_int_equal(after.ddgst_errors, before.ddgst_errors + 1);
	assert_int_equal(after.term_reqs_sent, before.term_reqs_sent);
	nvmft_host_ctrlr_disconnect(c);
}

/* ---- many commands and queues --------------------------------------------- */

struct io_slot {
	bool done;
	uint16_t status;
};

static void slot_cb(void *arg, const struct nvmft_host_cpl *cpl)
{
	struct io_slot *s = arg;

	s->status = cpl->status;
	s->done = true;
}

static void wait_slots(struct nvmft_host_qpair **qps, unsigned int nqp,
		       struct io_slot *slots, unsigned int n)
{
	uint64_t end = tt_now_ms() + 20000;

	for (;;) {
		unsigned int left = 0;

		for (unsigned int i = 0; i < n; i++)
			left += !slots[i].done;
		if (!left)
			break;
		assert_true(tt_now_ms() < end);
		for (unsigned int q = 0; q < nqp; q++)
			assert_true(nvmft_host_qpair_poll(qps[q], 0) >= 0);
	}
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(slots[i].status, 0);
}

static void submit_rw(struct nvmft_host_qpair *qp, bool write, uint64_t slba,
		      void *buf, uint32_t len, struct io_slot *slot)
{
	struct nvmft_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = write ? nvme_cmd_write : nvme_cmd_read;
	sqe.nsid = 1;
	sqe.cdw10 = (uint32_t)slba;
	sqe.cdw11 = (uint32_t)(slba >> 32);
	sqe.cdw12 = len / TT_LBA - 1;
	slot->done = false;
	assert_int_equal(nvmft_host_submit(qp, &sqe, buf, len,
					   write ? NVMFT_HOST_DIR_WRITE :
					   NVMFT_HOST_DIR_READ, slot_cb, slot), 0);
}

#define NQ	4
#define QD	24

static void test_many_queues_deep_mixed_io(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = connect_ctrlr(e, false, false, NQ);
	struct nvmft_host_qpair *qps[NQ];
	static struct io_slot slots[NQ * QD];
	uint32_t len[QD];
	uint8_t *w[NQ * QD], *r[NQ * QD];

	assert_int_equal(nvmft_host_ctrlr_num_io_qpairs(c), NQ);
	for (unsigned int q = 0; q < NQ; q++)
		qps[q] = nvmft_host_ctrlr_io_qpair(c, q);
	for (unsigned int i = 0; i < QD; i++)
		len[i] = (i % 3 == 0) ? 4096 : (i % 3 == 1) ? 65536 : 200 * 1024;
	for (unsigned int i = 0; i < NQ * QD; i++) {
		w[i] = malloc(len[i % QD]);
		r[i] = malloc(len[i % QD]);
		assert_non_null(w[i]);
		assert_non_null(r[i]);
		tt_fill(w[i], len[i % QD], 100 + i);
	}
	/* every command its own 256 KiB region */
	for (unsigned int i = 0; i < NQ * QD; i++)
		submit_rw(qps[i / QD], true, (uint64_t)i * 512, w[i],
			  len[i % QD], &slots[i]);
	wait_slots(qps, NQ, slots, NQ * QD);
	for (unsigned int i = 0; i < NQ * QD; i++)
		submit_rw(qps[i / QD], false, (uint64_t)i * 512, r[i],
			  len[i % QD], &slots[i]);
	wait_slots(qps, NQ, slots, NQ * QD);
	for (unsigned int i = 0; i < NQ * QD; i++) {
		assert_memory_equal(w[i], r[i], len[i % QD]);
		free(w[i]);
		free(r[i]);
	}
	nvmft_host_ctrlr_disconnect(c);
}

static void test_full_queue_of_small_reads(void **state)
{
	struct env *e = *state;
	unsigned int depth = nvmft_host_qpair_depth(e->io);
	struct io_slot *slots = calloc(depth, sizeof(*slots));
	uint8_t *buf = malloc((size_t)depth * 4096);
	struct nvmft_host_qpair *qps[1] = { e->io };

	assert_non_null(slots);
	assert_non_null(buf);
	assert_true(depth >= 16);
	/* three rounds: the slots are reused while responses are in flight */
	for (int round = 0; round < 3; round++) {
		for (unsigned int i = 0; i < depth; i++)
			submit_rw(e->io, round == 1, i * 8, buf + (size_t)i * 4096,
				  4096, &slots[i]);
		wait_slots(qps, 1, slots, depth);
	}
	free(slots);
	free(buf);
}

/* ---- small pool: requests wait for buffers ------------------------------- */

static void test_requests_wait_for_buffers_in_order(void **state)
{
	struct env *e = *state;
	struct tcp_pg_stats before, after;
	struct io_slot slots[6];
	uint8_t *w[6], *r[6];
	struct nvmft_host_qpair *qps[1] = { e->io };

	assert_int_equal(tt_stats(&e->t, &before), 0);
	for (int i = 0; i < 6; i++) {
		w[i] = malloc(MIB);
		r[i] = malloc(MIB);
		assert_non_null(w[i]);
		assert_non_null(r[i]);
		tt_fill(w[i], MIB, 200 + (uint32_t)i);
	}
	/* the pool holds exactly one 1 MiB request's buffers per reactor */
	for (int i = 0; i < 6; i++)
		submit_rw(e->io, true, (uint64_t)i * 2048, w[i], MIB, &slots[i]);
	wait_slots(qps, 1, slots, 6);
	for (int i = 0; i < 6; i++)
		submit_rw(e->io, false, (uint64_t)i * 2048, r[i], MIB, &slots[i]);
	wait_slots(qps, 1, slots, 6);
	for (int i = 0; i < 6; i++) {
		assert_memory_equal(w[i], r[i], MIB);
		free(w[i]);
		free(r[i]);
	}
	assert_int_equal(tt_stats(&e->t, &after), 0);
	assert_true(after.buf_waits > before.buf_waits);
}

/* ---- host dying mid-I/O ---------------------------------------------------- */

static void test_host_killed_mid_transfer_others_unaffected(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = connect_ctrlr(e, false, false, 1);
	struct nvmft_host_qpair *qp = nvmft_host_ctrlr_io_qpair(c, 0);
	static struct io_slot slots[8];
	uint8_t *buf = malloc(8 * MIB);

	assert_non_null(buf);
	tt_fill(buf, 8 * MIB, 9);
	for (int i = 0; i < 8; i++)
		submit_rw(qp, i & 1, (uint64_t)i * 2048, buf + (size_t)i * MIB,
			  MIB, &slots[i]);
	for (int i = 0; i < 3; i++)
		nvmft_host_qpair_poll(qp, 0);
	/* the connection dies under the transfers */
	shutdown(nvmft_host_qpair_fd(qp), SHUT_RDWR);
	for (int i = 0; i < 100 && nvmft_host_qpair_poll(qp, 0) >= 0; i++)
		tt_sleep_ms(1);
	/* the other controller is served all along */
	write_read_compare(e->io, 4096, 512 * 1024, 11);
	nvmft_host_ctrlr_disconnect(c);
	write_read_compare(e->io, 4096, 4096, 12);
	assert_int_equal(tt_wait_idle(&e->t, 2), 0);	/* e's admin + I/O */
	free(buf);
}

/* ---- the target goes away under live connections -------------------------- */

static void test_target_destroy_with_io_in_flight(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = connect_ctrlr(e, false, false, 2);
	struct nvmft_host_qpair *qps[2] = { nvmft_host_ctrlr_io_qpair(c, 0),
					    nvmft_host_ctrlr_io_qpair(c, 1) };
	static struct io_slot slots[16];
	uint8_t *buf = malloc(16 * 256 * 1024);
	int err0 = 0, err1 = 0;

	assert_non_null(buf);
	for (int i = 0; i < 16; i++)
		submit_rw(qps[i & 1], i & 2, (uint64_t)i * 512,
			  buf + (size_t)i * 256 * 1024, 256 * 1024, &slots[i]);
	nvmft_host_qpair_poll(qps[0], 0);
	nvmft_host_qpair_poll(qps[1], 0);
	/* destroy finishes (in-flight I/O completes or fails), no leak, no
	 * crash; the host sees its connections go */
	tt_target_stop(&e->t);
	for (int i = 0; i < 2000 && !(err0 && err1); i++) {
		if (!err0 && nvmft_host_qpair_poll(qps[0], 0) < 0)
			err0 = 1;
		if (!err1 && nvmft_host_qpair_poll(qps[1], 0) < 0)
			err1 = 1;
		tt_sleep_ms(1);
	}
	assert_true(err0 && err1);
	for (int i = 0; i < 16; i++)
		assert_true(slots[i].done);
	nvmft_host_ctrlr_disconnect(c);
	free(buf);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, test_up, test_down)

#define IO_TESTS								\
	T(test_incapsule_write_reads_back),					\
	T(test_r2t_write_of_1mib_in_several_h2cdata),				\
	T(test_odd_sizes_read_back),						\
	T(test_digests_on_every_path),						\
	T(test_data_digest_error_fails_only_that_command),			\
	T(test_many_queues_deep_mixed_io),					\
	T(test_full_queue_of_small_reads),					\
	T(test_host_killed_mid_transfer_others_unaffected)

int main(void)
{
	const struct CMUnitTest io_tests[] = { IO_TESTS };
	const struct CMUnitTest pool_tests[] = {
		T(test_requests_wait_for_buffers_in_order),
		T(test_r2t_write_of_1mib_in_several_h2cdata),
	};
	const struct CMUnitTest destroy_tests[] = {
		cmocka_unit_test(test_target_destroy_with_io_in_flight),
	};
	int fails = 0;

	if (tt_engine_usable(NVMFT_ENGINE_URING)) {
		fails += cmocka_run_group_tests_name("tcp_io_uring", io_tests,
						     setup_uring, env_teardown);
		fails += cmocka_run_group_tests_name("tcp_pool_uring", pool_tests,
						     setup_uring_small, env_teardown);
		fails += cmocka_run_group_tests_name("tcp_destroy_uring", destroy_tests,
						     setup_uring, env_teardown);
	} else {
		printf("note: io_uring unavailable, uring groups not run\n");
	}
	fails += cmocka_run_group_tests_name("tcp_io_epoll", io_tests,
					     setup_epoll, env_teardown);
	fails += cmocka_run_group_tests_name("tcp_pool_epoll", pool_tests,
					     setup_epoll_small, env_teardown);
	fails += cmocka_run_group_tests_name("tcp_destroy_epoll", destroy_tests,
					     setup_epoll, env_teardown);
	return fails ? 1 : 0;
}
