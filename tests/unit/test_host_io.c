/* SPDX-License-Identifier: MIT */
/*
 * Host library data paths against the scripted fake target: in-capsule and
 * R2T writes, split reads, SUCCESS completion, digests, alignment, and how
 * the qpair fails on C2HTermReq or a malformed PDU.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <cmocka.h>
#include <nvme/types.h>
#include <nvmft/host.h>
#include "support/fake_target.h"

#define LBA	512

struct logcap {
	int errors;
	char all[2048];
};

static void cap_log(void *arg, int level, const char *msg)
{
	struct logcap *lc = arg;
	size_t n = strlen(lc->all);

	if (level <= LOG_ERR)
		lc->errors++;
	snprintf(lc->all + n, sizeof(lc->all) - n, "%s\n", msg);
}

struct env {
	struct fake_target *ft;
	struct nvmft_host_ctrlr *c;
	struct nvmft_host_qpair *io;
	struct logcap log;
};

static void env_up_opts(struct env *e, const struct fake_target_opts *fo,
			const struct nvmft_host_opts *ho_in)
{
	struct nvmft_host_opts ho = *ho_in;

	memset(&e->log, 0, sizeof(e->log));
	e->ft = fake_target_start(fo);
	assert_non_null(e->ft);
	ho.trsvcid = fake_target_port(e->ft);
	ho.subnqn = "nqn.2026-11.io.nvmft:fake";
	ho.log_fn = cap_log;
	ho.log_arg = &e->log;
	assert_int_equal(nvmft_host_ctrlr_connect(&ho, &e->c), 0);
	e->io = nvmft_host_ctrlr_io_qpair(e->c, 0);
	assert_non_null(e->io);
}

static void env_up(struct env *e, const struct fake_target_opts *fo, bool hd, bool dd)
{
	struct nvmft_host_opts ho;

	nvmft_host_opts_init(&ho);
	ho.hdgst = hd;
	ho.ddgst = dd;
	env_up_opts(e, fo, &ho);
}

static void env_down(struct env *e)
{
	nvmft_host_ctrlr_disconnect(e->c);
	fake_target_stop(e->ft);
}

static uint8_t *pattern(size_t len, unsigned int seed)
{
	uint8_t *b = malloc(len);

	assert_non_null(b);
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 7 + seed + (i >> 9));
	return b;
}

/* Write @len bytes at @slba then check the fake namespace holds them. */
static void write_and_check(struct env *e, uint64_t slba, size_t len, unsigned int seed)
{
	uint8_t *w = pattern(len, seed), *r = malloc(len);

	assert_int_equal(nvmft_host_write(e->io, 1, slba, len / LBA, w, len, false), 0);
	fake_target_ns_read(e->ft, slba * LBA, r, len);
	assert_memory_equal(w, r, len);
	free(w);
	free(r);
}

/* Put a pattern in the fake namespace, read it with the host, compare. */
static void read_and_check(struct env *e, uint64_t slba, size_t len, unsigned int seed)
{
	uint8_t *w = pattern(len, seed), *r = calloc(1, len);

	fake_target_ns_write(e->ft, slba * LBA, w, len);
	assert_int_equal(nvmft_host_read(e->io, 1, slba, len / LBA, r, len), 0);
	assert_memory_equal(w, r, len);
	free(w);
	free(r);
}

static void test_small_write_goes_in_capsule(void **state)
{
	struct fake_target_opts fo;
	struct fake_target_stats st;
	struct env e;

	fake_target_opts_init(&fo);
	env_up(&e, &fo, false, false);
	write_and_check(&e, 8, 4096, 1);
	fake_target_get_stats(e.ft, &st);
	assert_int_equal(st.incapsule_writes, 1);
	assert_int_equal(st.r2ts, 0);
	env_down(&e);
}

static void test_large_write_uses_r2t_with_several_h2c_per_r2t(void **state)
{
	struct fake_target_opts fo;
	struct fake_target_stats st;
	struct env e;

	fake_target_opts_init(&fo);
	fo.maxh2cdata = 4096;
	fo.r2t_chunk = 16384;
	fo.ioccsz = 4;		/* no in-capsule data on I/O queues */
	env_up(&e, &fo, false, false);
	write_and_check(&e, 100, 40960, 2);
	fake_target_get_stats(e.ft, &st);
	assert_int_equal(st.incapsule_writes, 0);
	assert_int_equal(st.r2ts, 3);		/* 16K + 16K + 8K */
	assert_int_equal(st.h2c_pdus, 10);	/* 4K each */
	assert_int_equal(st.h2c_max_datal, 4096);
	assert_int_equal(st.h2c_errors, 0);
	env_down(&e);
}

static void test_write_above_icd_waits_for_r2t(void **state)
{
	struct fake_target_opts fo;
	struct fake_target_stats st;
	struct env e;

	fake_target_opts_init(&fo);	/* 8 KiB in-capsule */
	env_up(&e, &fo, false, false);
	write_and_check(&e, 0, 8192, 3);
	write_and_check(&e, 16, 8704, 4);
	fake_target_get_stats(e.ft, &st);
	assert_int_equal(st.incapsule_writes, 1);
	assert_int_equal(st.r2ts, 1);
	env_down(&e);
}

static void test_read_split_in_several_c2h(void **state)
{
	struct fake_target_opts fo;
	struct fake_target_stats before, after;
	struct nvmft_host_qpair_stats hs;
	struct env e;

	fake_target_opts_init(&fo);
	fo.c2h_chunk = 4096;
	env_up(&e, &fo, false, false);
	fake_target_get_stats(e.ft, &before);
	read_and_check(&e, 40, 20480, 5);
	fake_target_get_stats(e.ft, &after);
	assert_int_equal(after.c2h_pdus - before.c2h_pdus, 5);
	nvmft_host_qpair_get_stats(e.io, &hs);
	assert_int_equal(hs.c2h, 5);
	env_down(&e);
}

static void test_read_completes_on_success_flag(void **state)
{
	struct fake_target_opts fo;
	struct nvmft_host_qpair_stats hs;
	struct env e;

	fake_target_opts_init(&fo);
	fo.c2h_success = true;
	fo.c2h_chunk = 3072;
	env_up(&e, &fo, false, false);	/* Identify went through SUCCESS too */
	read_and_check(&e, 0, 8192, 6);
	read_and_check(&e, 64, 512, 7);
	nvmft_host_qpair_get_stats(e.io, &hs);
	assert_int_equal(hs.completed, 3);	/* Connect + 2 reads */
	assert_int_equal(hs.c2h, 4);		/* 3 + 1 */
	assert_int_equal(nvmft_host_qpair_error(e.io), 0);
	env_down(&e);
}

static void test_digests_on_every_path(void **state)
{
	struct fake_target_opts fo;
	struct fake_target_stats st;
	struct env e;

	fake_target_opts_init(&fo);
	fo.maxh2cdata = 8192;
	fo.c2h_chunk = 8192;
	env_up(&e, &fo, true, true);
	write_and_check(&e, 0, 4096, 8);	/* in capsule */
	write_and_check(&e, 8, 65536, 9);	/* R2T, 8 H2CData */
	read_and_check(&e, 300, 32768, 10);
	read_and_check(&e, 400, 131072, 11);	/* large chunks */
	fake_target_get_stats(e.ft, &st);
	assert_true(st.hdgst_seen);
	assert_int_equal(st.ddgst_errors, 0);
	assert_int_equal(st.h2c_errors, 0);
	assert_int_equal(e.log.errors, 0);
	env_down(&e);
}

static void test_corrupted_data_digest_fails_only_that_command(void **state)
{
	struct fake_target_opts fo;
	struct nvmft_host_qpair_stats hs;
	struct env e;
	uint8_t buf[4096];

	fake_target_opts_init(&fo);
	fo.corrupt_ddgst_read = 2;
	env_up(&e, &fo, false, true);
	read_and_check(&e, 0, 4096, 12);
	assert_int_equal(nvmft_host_read(e.io, 1, 0, 8, buf, sizeof(buf)),
			 NVME_SC_DATA_XFER_ERROR);
	read_and_check(&e, 8, 4096, 13);	/* the qpair goes on */
	nvmft_host_qpair_get_stats(e.io, &hs);
	assert_int_equal(hs.ddgst_errors, 1);
	assert_int_equal(nvmft_host_qpair_error(e.io), 0);
	assert_non_null(strstr(e.log.all, "data digest error"));
	env_down(&e);
}

struct cpl_rec {
	int count;
	struct nvmft_host_cpl last;
};

static void rec_cb(void *arg, const struct nvmft_host_cpl *cpl)
{
	struct cpl_rec *r = arg;

	r->count++;
	r->last = *cpl;
}

static void read_sqe(struct nvmft_sqe *sqe, uint64_t slba, uint32_t nlb)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = nvme_cmd_read;
	sqe->nsid = 1;
	sqe->cdw10 = (uint32_t)slba;
	sqe->cdw12 = nlb - 1;
}

static void test_c2h_term_req_fails_qpair_cleanly(void **state)
{
	struct fake_target_opts fo;
	struct nvmft_sqe sqe;
	struct cpl_rec rec = { 0 };
	static uint8_t bufs[3][512];
	struct env e;

	fake_target_opts_init(&fo);
	fo.term_on_io = 1;
	env_up(&e, &fo, false, false);
	read_sqe(&sqe, 0, 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(nvmft_host_submit(e.io, &sqe, bufs[i], 512,
						   NVMFT_HOST_DIR_READ, rec_cb, &rec), 0);
	assert_int_equal(nvmft_host_qpair_wait(e.io, NULL, 5000), -ECONNABORTED);
	assert_int_equal(rec.count, 3);
	assert_int_equal(rec.last.err, -ECONNABORTED);
	assert_int_equal(rec.last.status, NVMFT_STATUS(NVME_SCT_PATH, NVME_SC_HOST_PATH_ERROR));
	assert_int_equal(nvmft_host_qpair_error(e.io), -ECONNABORTED);
	assert_int_equal(nvmft_host_qpair_fd(e.io), -1);
	assert_int_equal(nvmft_host_qpair_outstanding(e.io), 0);
	assert_non_null(strstr(e.log.all, "C2HTermReq"));
	assert_non_null(strstr(e.log.all, "FES 0x1"));
	assert_int_equal(nvmft_host_submit(e.io, &sqe, bufs[0], 512, NVMFT_HOST_DIR_READ,
					   rec_cb, &rec), -ECONNABORTED);
	/* The other queues of the controller are not affected. */
	assert_int_equal(nvmft_host_ctrlr_keep_alive(e.c), 0);
	env_down(&e);
}

static void test_malformed_pdu_fails_qpair(void **state)
{
	struct fake_target_opts fo;
	struct env e;
	uint8_t buf[512];

	fake_target_opts_init(&fo);
	fo.bad_hlen_on_io = 1;
	env_up(&e, &fo, false, false);
	assert_int_equal(nvmft_host_read(e.io, 1, 0, 1, buf, sizeof(buf)), -EPROTO);
	assert_int_equal(nvmft_host_qpair_error(e.io), -EPROTO);
	assert_non_null(strstr(e.log.all, "protocol error"));
	env_down(&e);
}

static void test_corrupted_header_digest_fails_qpair(void **state)
{
	struct fake_target_opts fo;
	struct env e;
	uint8_t buf[512];

	fake_target_opts_init(&fo);
	fo.bad_hdgst_on_io = 2;
	env_up(&e, &fo, true, false);
	read_and_check(&e, 0, 512, 19);
	assert_int_equal(nvmft_host_read(e.io, 1, 0, 1, buf, sizeof(buf)), -EPROTO);
	assert_non_null(strstr(e.log.all, "header digest error"));
	assert_int_equal(nvmft_host_qpair_error(e.io), -EPROTO);
	env_down(&e);
}

static void test_raw_send_and_receive(void **state)
{
	struct fake_target_opts fo;
	struct env e;
	/* an H2CData nobody asked for: the fake controller hangs up */
	uint8_t pdu[28] = { 0x06, 0x04, 24, 24, 28, 0, 0, 0 };
	uint8_t buf[64];

	pdu[16] = 4;	/* DATAL */
	fake_target_opts_init(&fo);
	env_up(&e, &fo, false, false);
	assert_int_equal(nvmft_host_qpair_send_raw(e.io, pdu, sizeof(pdu)), 0);
	assert_int_equal(nvmft_host_qpair_recv_raw(e.io, buf, sizeof(buf), 5000), 0);
	env_down(&e);
}

static void test_submit_beyond_queue_size_returns_eagain(void **state)
{
	struct fake_target_opts fo;
	struct nvmft_host_opts ho;
	struct nvmft_sqe sqe;
	struct cpl_rec rec = { 0 };
	static uint8_t bufs[4][512];
	struct env e;

	fake_target_opts_init(&fo);
	nvmft_host_opts_init(&ho);
	ho.io_queue_size = 4;
	env_up_opts(&e, &fo, &ho);
	assert_int_equal(nvmft_host_qpair_depth(e.io), 3);
	read_sqe(&sqe, 0, 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(nvmft_host_submit(e.io, &sqe, bufs[i], 512,
						   NVMFT_HOST_DIR_READ, rec_cb, &rec), 0);
	assert_int_equal(nvmft_host_submit(e.io, &sqe, bufs[3], 512, NVMFT_HOST_DIR_READ,
					   rec_cb, &rec), -EAGAIN);
	assert_int_equal(nvmft_host_qpair_wait(e.io, NULL, 5000), 0);
	assert_int_equal(rec.count, 3);
	assert_int_equal(rec.last.status, 0);
	assert_int_equal(nvmft_host_submit(e.io, &sqe, bufs[3], 512, NVMFT_HOST_DIR_READ,
					   rec_cb, &rec), 0);
	assert_int_equal(nvmft_host_qpair_wait(e.io, NULL, 5000), 0);
	assert_int_equal(rec.count, 4);
	env_down(&e);
}

static void test_submitv_scatter_gather_round_trip(void **state)
{
	struct fake_target_opts fo;
	struct nvmft_sqe sqe;
	struct cpl_rec rec = { 0 };
	uint8_t *w = pattern(24576, 14), *r = calloc(1, 24576);
	struct iovec wv[3] = {
		{ w, 1000 }, { w + 1000, 15000 }, { w + 16000, 8576 },
	};
	struct iovec rv[2] = { { r, 4097 }, { r + 4097, 24576 - 4097 } };
	struct env e;

	fake_target_opts_init(&fo);
	fo.maxh2cdata = 4096;
	fo.c2h_chunk = 5000 & ~3u;
	env_up(&e, &fo, false, true);
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_cmd_write;
	sqe.nsid = 1;
	sqe.cdw10 = 64;
	sqe.cdw12 = 24576 / LBA - 1;
	assert_int_equal(nvmft_host_submitv(e.io, &sqe, wv, 3, NVMFT_HOST_DIR_WRITE,
					    rec_cb, &rec), 0);
	assert_int_equal(nvmft_host_qpair_wait(e.io, NULL, 5000), 0);
	assert_int_equal(rec.last.status, 0);
	sqe.opcode = nvme_cmd_read;
	assert_int_equal(nvmft_host_submitv(e.io, &sqe, rv, 2, NVMFT_HOST_DIR_READ,
					    rec_cb, &rec), 0);
	assert_int_equal(nvmft_host_qpair_wait(e.io, NULL, 5000), 0);
	assert_int_equal(rec.count, 2);
	assert_int_equal(rec.last.status, 0);
	assert_memory_equal(w, r, 24576);
	free(w);
	free(r);
	env_down(&e);
}

static void test_pda_padding_both_directions(void **state)
{
	struct fake_target_opts fo;
	struct nvmft_host_opts ho;
	struct env e;

	fake_target_opts_init(&fo);
	fo.cpda = 7;		/* H2C data at 32-byte multiples */
	fo.maxh2cdata = 4096;
	nvmft_host_opts_init(&ho);
	ho.hpda = 15;		/* C2H data at 64-byte multiples */
	ho.hdgst = true;
	env_up_opts(&e, &fo, &ho);
	write_and_check(&e, 0, 2048, 15);	/* in capsule, padded */
	write_and_check(&e, 10, 16384, 16);	/* H2CData, padded */
	read_and_check(&e, 50, 16384, 17);
	assert_int_equal(e.log.errors, 0);
	env_down(&e);
}

static void test_other_io_commands_and_limits(void **state)
{
	struct fake_target_opts fo;
	struct nvme_dsm_range range = { .nlb = 8, .slba = 16 };
	uint8_t *z = calloc(1, 4096), *buf = malloc(16384);
	struct env e;

	fake_target_opts_init(&fo);
	fo.mdts = 1;		/* 8 KiB */
	env_up(&e, &fo, false, false);
	assert_int_equal(nvmft_host_ctrlr_max_xfer(e.c), 8192);
	write_and_check(&e, 0, 4096, 18);
	assert_int_equal(nvmft_host_write_zeroes(e.io, 1, 0, 8), 0);
	fake_target_ns_read(e.ft, 0, buf, 4096);
	assert_memory_equal(buf, z, 4096);
	assert_int_equal(nvmft_host_flush(e.io, 1), 0);
	assert_int_equal(nvmft_host_dsm(e.io, 1, 4, &range, 1), 0);
	assert_int_equal(nvmft_host_read(e.io, 1, 0, 32, buf, 16384), -EINVAL);
	assert_int_equal(nvmft_host_read(e.io, 1, fo.ns_blocks, 1, buf, 512),
			 NVME_SC_LBA_RANGE);
	free(z);
	free(buf);
	env_down(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_write_goes_in_capsule),
		cmocka_unit_test(test_large_write_uses_r2t_with_several_h2c_per_r2t),
		cmocka_unit_test(test_write_above_icd_waits_for_r2t),
		cmocka_unit_test(test_read_split_in_several_c2h),
		cmocka_unit_test(test_read_completes_on_success_flag),
		cmocka_unit_test(test_digests_on_every_path),
		cmocka_unit_test(test_corrupted_data_digest_fails_only_that_command),
		cmocka_unit_test(test_c2h_term_req_fails_qpair_cleanly),
		cmocka_unit_test(test_malformed_pdu_fails_qpair),
		cmocka_unit_test(test_corrupted_header_digest_fails_qpair),
		cmocka_unit_test(test_raw_send_and_receive),
		cmocka_unit_test(test_submit_beyond_queue_size_returns_eagain),
		cmocka_unit_test(test_submitv_scatter_gather_round_trip),
		cmocka_unit_test(test_pda_padding_both_directions),
		cmocka_unit_test(test_other_io_commands_and_limits),
	};

	return cmocka_run_group_tests_name("host_io", tests, NULL, NULL);
}
