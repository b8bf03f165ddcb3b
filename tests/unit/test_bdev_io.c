// SPDX-License-Identifier: MIT
/*
 * bdev I/O path against the test backend: emulation of what a backend
 * lacks, no-op and invalid types, splitting by max_io_blocks, the retry
 * queue for refused submits, and the errno → NVMe status mapping.
 */
#include "test_bdev_harness.h"

#include <nvme/types.h>
#include <nvmft/nvme_wire.h>

#define ST(sct, sc)	((uint16_t)(((sct) << 8) | (sc)))
#define INVALID_OPCODE	(ST(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE) | NVME_SC_DNR)
#define COMPARE_FAILED	ST(NVME_SCT_MEDIA, NVME_SC_COMPARE_FAILED)

struct fixture {
	struct h *h;
	struct tb *tb;
	struct h_desc d;
	struct nvmft_io_channel *ch;
};

static void fx_open(struct fixture *f, struct h *h, uint64_t nb, uint32_t sup,
		    uint32_t max_io, bool wcache, bool unmap_adv)
{
	f->h = h;
	f->tb = tb_new(h, "t", nb, sup, max_io, wcache, unmap_adv);
	assert_int_equal(h_open(h, &f->d, "t", true), 0);
	f->ch = h_get_chan(h, 0, &f->d);
	assert_non_null(f->ch);
}

static void fx_close(struct fixture *f, void **state)
{
	h_put_chan(f->h, 0, f->ch);
	h_close(&f->d);
	assert_int_equal(h_teardown(state), 0);
	*state = NULL;
	tb_free(f->tb);
}

static int count_rec(struct tb *tb, enum nvmft_io_type type)
{
	int i, n = 0;

	for (i = 0; i < tb->nrec; i++)
		n += tb->rec[i].type == type;
	return n;
}

static void test_write_zeroes_emulated_by_writes(void **state)
{
	struct fixture f;
	uint16_t st = 0xffff;
	uint64_t i;

	fx_open(&f, *state, 4096, TB_RW, 0, false, false);
	memset(f.tb->data, 0x33, 4096 * 512);
	assert_true(nvmft_bdev_supports(f.tb->bdev, NVMFT_IO_WRITE_ZEROES));
	/* 3000 blocks = 1.5 MB: more than one zero buffer per child. */
	assert_int_equal(h_io(f.h, 0, &f.d, f.ch, NVMFT_IO_WRITE_ZEROES, 100, 3000,
			      NULL, 0, &st), 0);
	assert_int_equal(st, 0);
	assert_int_equal(count_rec(f.tb, NVMFT_IO_WRITE_ZEROES), 0);
	assert_true(count_rec(f.tb, NVMFT_IO_WRITE) >= 1);
	for (i = 0; i < 4096 * 512; i++) {
		uint8_t want = (i >= 100 * 512 && i < 3100 * 512) ? 0 : 0x33;

		if (f.tb->data[i] != want)
			fail_msg("byte %llu is %u", (unsigned long long)i, f.tb->data[i]);
	}
	fx_close(&f, state);
}

static void test_write_zeroes_emulation_respects_max_io(void **state)
{
	struct fixture f;
	uint16_t st = 0xffff;
	int i;

	fx_open(&f, *state, 1024, TB_RW, 16, false, false);
	memset(f.tb->data, 0x44, 1024 * 512);
	assert_int_equal(h_io(f.h, 0, &f.d, f.ch, NVMFT_IO_WRITE_ZEROES, 3, 100,
			      NULL, 0, &st), 0);
	assert_int_equal(st, 0);
	assert_int_equal(f.tb->max_blocks, 16);
	assert_int_equal(count_rec(f.tb, NVMFT_IO_WRITE), 7);	/* 6×16 + 4 */
	for (i = 3 * 512; i < 103 * 512; i++)
		assert_int_equal(f.tb->data[i], 0);
	assert_int_equal(f.tb->data[3 * 512 - 1], 0x44);
	assert_int_equal(f.tb->data[103 * 512], 0x44);
	fx_close(&f, state);
}

static void test_compare_emulated_match_and_mismatch(void **state)
{
	struct fixture f;
	size_t len = 600 * 512;		/* > the 128 KiB bounce buffer */
	uint8_t *buf = malloc(len);
	struct iovec iov[3];
	uint16_t st = 0xffff;

	fx_open(&f, *state, 1024, TB_RW, 0, false, false);
	fill_pattern(buf, len, 5);
	memcpy(f.tb->data + 10 * 512, buf, len);
	iov[0] = (struct iovec){ buf, 100 };
	iov[1] = (struct iovec){ buf + 100, len / 2 };
	iov[2] = (struct iovec){ buf + 100 + len / 2, len - 100 - len / 2 };
	assert_true(nvmft_bdev_supports(f.tb->bdev, NVMFT_IO_COMPARE));
	assert_int_equal(h_io(f.h, 0, &f.d, f.ch, NVMFT_IO_COMPARE, 10, 600, iov, 3,
			      &st), 0);
	assert_int_equal(st, 0);
	assert_int_equal(count_rec(f.tb, NVMFT_IO_COMPARE), 0);
	assert_true(count_rec(f.tb, NVMFT_IO_READ) >= 2);

	/* A difference in the last chunk. */
	buf[len - 3] ^= 0x80;
	assert_int_equal(h_io(f.h, 0, &f.d, f.ch, NVMFT_IO_COMPARE, 10, 600, iov, 3,
			      &st), 0);
	assert_int_equal(st, COMPARE_FAILED);
	free(buf);
	fx_close(&f, state);
}

static void test_flush_without_write_cache_is_noop_success(void **state)
{
	struct fixture f;
	uint16_t st = 0xffff;

	fx_open(&f, *state, 64, TB_RW, 0, false, false);
	assert_true(nvmft_bdev_supports(f.tb->bdev, NVMFT_IO_FLUSH));
	assert_int_equal(h_io(f.h, 0, &f.d, f.ch, NVMFT_IO_FLUSH, 0, 0, NULL, 0, &st), 0);
	assert_int_equal(st, 0);
	assert_int_equal(f.tb->submits, 0);
	fx_close(&f, state);
}

static void test_flush_with_write_cache_unsupported_is_invalid_opcode(void **state)
{
	struct fixture f;
	uint16_t st = 0;

	fx_open(&f, *state, 64, TB_RW, 0, true, false);
	assert_false(nvmft_bdev_supports(f.tb->bdev, NVMFT_IO_FLUSH));
	assert_int_equal(h_io(f.h, 0, &f.d, f.ch, NVMFT_IO_FLUSH, 0, 0, NULL, 0, &st), 0);
	assert_int_equal(st, INVALID_OPCODE);
	assert_int_equal(f.tb->submits, 0);
	fx_close(&f, state);
}

static void test_native_flush_reaches_backend(void **state)
{
	struct fixture f;
	uint16_t st = 0xffff;

	fx_open(&f, *state, 64, TB_RW | (1u << NVMFT_IO_FLUSH), 0, true, false);
	assert_int_equal(h_io(f.h, 0, &f.d, f.ch, NVMFT_IO_FLUSH, 0, 0, NULL, 0, &st), 0);
	assert_int_equal(st, 0);
	assert_int_equal(count_rec(f.tb, NVMFT_IO_FLUSH), 1);
	fx_close(&f, state);
}

static void test_unmap_unsupported_is_invalid_opcode(void **state)
{
	struct fixture f;
	uint16_t st = 0;

	fx_open(&f, *state, 64, TB_RW, 0, false, false);
	assert_false(nvmft_bdev_supports(f.tb->bdev, NVMFT_IO_UNMAP));
	assert_int_equal(h_io(f.h, 0, &f.d, f.ch, NVMFT_IO_UNMAP, 0, 8, NULL, 0, &st), 0);
	assert_int_equal(st, INVALID_OPCODE);
	fx_close(&f, state);
}

static void test_advisory_unmap_is_noop_success(void **state)
{
	struct fixture f;
	uint16_t st = 0xffff;

	fx_open(&f, *state, 64, TB_RW, 0, false, true);
	assert_true(nvmft_bdev_supports(f.tb->bdev, NVMFT_IO_UNMAP));
	assert_int_equal(h_io(f.h, 0, &f.d, f.ch, NVMFT_IO_UNMAP, 0, 8, NULL, 0, &st), 0);
	assert_int_equal(st, 0);
	assert_int_equal(f.tb->submits, 0);
	fx_close(&f, state);
}

static void test_no_read_means_no_compare_emulation(void **state)
{
	struct fixture f;
	uint8_t buf[512] = { 0 };
	struct iovec iov = { buf, 512 };
	uint16_t st = 0;

	fx_open(&f, *state, 64, 1u << NVMFT_IO_WRITE, 0, false, false);
	assert_false(nvmft_bdev_supports(f.tb->bdev, NVMFT_IO_COMPARE));
	assert_false(nvmft_bdev_supports(f.tb->bdev, NVMFT_IO_READ));
	assert_true(nvmft_bdev_supports(f.tb->bdev, NVMFT_IO_WRITE_ZEROES));
	assert_int_equal(h_io(f.h, 0, &f.d, f.ch, NVMFT_IO_COMPARE, 0, 1, &iov, 1, &st), 0);
	assert_int_equal(st, INVALID_OPCODE);
	fx_close(&f, state);
}

static void split_roundtrip(void **state, uint32_t sup)
{
	struct fixture f;
	size_t len = 100 * 512;
	uint8_t *w = malloc(len), *r = calloc(1, len);
	struct iovec wiov[5], riov[2];
	uint16_t st = 0xffff;

	fx_open(&f, *state, 256, sup, 8, false, false);
	assert_int_equal(nvmft_bdev_max_io_blocks(f.tb->bdev), 8);
	fill_pattern(w, len, 11);
	/* Odd sizes, so children start and end inside iovecs. */
	wiov[0] = (struct iovec){ w, 777 };
	wiov[1] = (struct iovec){ w + 777, 10000 };
	wiov[2] = (struct iovec){ w + 10777, 3 };
	wiov[3] = (struct iovec){ w + 10780, 20000 };
	wiov[4] = (struct iovec){ w + 30780, len - 30780 };
	assert_int_equal(h_io(f.h, 0, &f.d, f.ch, NVMFT_IO_WRITE, 50, 100, wiov, 5,
			      &st), 0);
	assert_int_equal(st, 0);
	assert_int_equal(f.tb->max_blocks, 8);
	assert_int_equal(count_rec(f.tb, NVMFT_IO_WRITE), 13);	/* 12×8 + 4 */
	assert_memory_equal(f.tb->data + 50 * 512, w, len);

	riov[0] = (struct iovec){ r, 1 };
	riov[1] = (struct iovec){ r + 1, len - 1 };
	assert_int_equal(h_io(f.h, 0, &f.d, f.ch, NVMFT_IO_READ, 50, 100, riov, 2,
			      &st), 0);
	assert_int_equal(st, 0);
	assert_memory_equal(r, w, len);
	assert_int_equal(count_rec(f.tb, NVMFT_IO_READ), 13);

	/* A split native compare fails if any child fails. */
	if (sup & (1u << NVMFT_IO_COMPARE)) {
		assert_int_equal(h_io(f.h, 0, &f.d, f.ch, NVMFT_IO_COMPARE, 50, 100,
				      wiov, 5, &st), 0);
		assert_int_equal(st, 0);
		assert_int_equal(count_rec(f.tb, NVMFT_IO_COMPARE), 13);
	}
	free(w);
	free(r);
	fx_close(&f, state);
}

static void test_split_by_max_io_blocks(void **state)
{
	split_roundtrip(state, TB_RW);
}

static void test_split_native_compare_by_max_io_blocks(void **state)
{
	split_roundtrip(state, TB_RW | (1u << NVMFT_IO_COMPARE));
}

static void test_split_keeps_many_iovecs_whole_blocks(void **state)
{
	struct fixture f;
	enum { NIOV = 300 };
	struct iovec *iov = calloc(NIOV, sizeof(*iov));
	uint8_t *buf = malloc(NIOV * 256);
	uint16_t st = 0xffff;
	int i;

	/* 300 iovecs of 256 bytes: more than a child can carry. */
	fx_open(&f, *state, 256, TB_RW, 64, false, false);
	fill_pattern(buf, NIOV * 256, 2);
	for (i = 0; i < NIOV; i++)
		iov[i] = (struct iovec){ buf + i * 256, 256 };
	assert_int_equal(h_io(f.h, 0, &f.d, f.ch, NVMFT_IO_WRITE, 0, NIOV / 2, iov,
			      NIOV, &st), 0);
	assert_int_equal(st, 0);
	assert_memory_equal(f.tb->data, buf, NIOV * 256);
	assert_true(f.tb->max_blocks <= 32);
	free(buf);
	free(iov);
	fx_close(&f, state);
}

static void test_enomem_from_submit_is_retried_until_accepted(void **state)
{
	struct fixture f;
	uint8_t buf[1024];
	struct iovec iov = { buf, sizeof(buf) };
	uint16_t st = 0xffff;

	fx_open(&f, *state, 64, TB_RW, 0, false, false);
	f.tb->refuse = 3;
	fill_pattern(buf, sizeof(buf), 4);
	/* Nothing else in flight: the timed poller has to resubmit. */
	assert_int_equal(h_io(f.h, 0, &f.d, f.ch, NVMFT_IO_WRITE, 4, 2, &iov, 1, &st), 0);
	assert_int_equal(st, 0);
	assert_int_equal(f.tb->submits, 4);
	assert_int_equal(f.tb->refuse, 0);
	assert_memory_equal(f.tb->data + 4 * 512, buf, sizeof(buf));
	fx_close(&f, state);
}

static void test_refused_io_is_resubmitted_in_order(void **state)
{
	struct fixture f;
	struct h_io a, b, c;
	uint8_t buf[512];
	struct iovec iov = { buf, 512 };

	fx_open(&f, *state, 64, TB_RW, 0, false, false);
	f.tb->hold = true;
	h_io_init(&a, &f.d, f.ch, NVMFT_IO_READ, 1, 1, &iov, 1);
	h_io_init(&b, &f.d, f.ch, NVMFT_IO_READ, 2, 1, &iov, 1);
	h_io_init(&c, &f.d, f.ch, NVMFT_IO_READ, 3, 1, &iov, 1);
	assert_int_equal(h_io_start(f.h, 0, &a), 0);
	f.tb->refuse = 1;
	assert_int_equal(h_io_start(f.h, 0, &b), 0);	/* refused, queued */
	assert_int_equal(h_io_start(f.h, 0, &c), 0);	/* queued behind b */
	/* b then c reach the backend, in that order (after a completion or
	 * from the retry poller, whichever comes first). */
	tb_release(f.h, f.tb, 0);
	assert_int_equal(h_io_wait(&a), 0);
	tb_release(f.h, f.tb, 0);
	assert_int_equal(h_io_wait(&b), 0);
	assert_int_equal(h_io_wait(&c), 0);
	assert_int_equal(f.tb->nrec, 3);
	assert_int_equal(f.tb->rec[1].off, 2);
	assert_int_equal(f.tb->rec[2].off, 3);
	f.tb->hold = false;
	fx_close(&f, state);
}

struct errno_case {
	enum nvmft_io_type type;
	int rc;
	uint16_t status;
};

static void run_errno_cases(void **state, bool from_submit)
{
	static const struct errno_case cases[] = {
		{ NVMFT_IO_READ, -EIO, ST(NVME_SCT_MEDIA, NVME_SC_READ_ERROR) },
		{ NVMFT_IO_COMPARE, -EIO, ST(NVME_SCT_MEDIA, NVME_SC_READ_ERROR) },
		{ NVMFT_IO_WRITE, -EIO, ST(NVME_SCT_MEDIA, NVME_SC_WRITE_FAULT) },
		{ NVMFT_IO_WRITE_ZEROES, -EIO, ST(NVME_SCT_MEDIA, NVME_SC_WRITE_FAULT) },
		{ NVMFT_IO_FLUSH, -EIO, ST(NVME_SCT_MEDIA, NVME_SC_WRITE_FAULT) },
		{ NVMFT_IO_WRITE, -ENOSPC,
		  ST(NVME_SCT_GENERIC, NVME_SC_CAP_EXCEEDED) | NVME_SC_DNR },
		{ NVMFT_IO_READ, -ETIMEDOUT, ST(NVME_SCT_GENERIC, NVME_SC_CMD_INTERRUPTED) },
		{ NVMFT_IO_WRITE, -ECONNRESET, ST(NVME_SCT_GENERIC, NVME_SC_CMD_INTERRUPTED) },
		{ NVMFT_IO_COMPARE, -EILSEQ, ST(NVME_SCT_MEDIA, NVME_SC_COMPARE_FAILED) },
		{ NVMFT_IO_READ, -ENODEV, ST(NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY) },
		{ NVMFT_IO_READ, -EPERM, ST(NVME_SCT_GENERIC, NVME_SC_INTERNAL) },
		{ NVMFT_IO_WRITE, -EINVAL, ST(NVME_SCT_GENERIC, NVME_SC_INTERNAL) },
		/* -ENOMEM/-EAGAIN from completion (not submit) fail transiently. */
		{ NVMFT_IO_READ, -ENOMEM, ST(NVME_SCT_GENERIC, NVME_SC_CMD_INTERRUPTED) },
		{ NVMFT_IO_WRITE, -EAGAIN, ST(NVME_SCT_GENERIC, NVME_SC_CMD_INTERRUPTED) },
	};
	struct fixture f;
	uint8_t buf[512] = { 0 };
	struct iovec iov = { buf, 512 };
	size_t i;

	fx_open(&f, *state, 64, TB_ALL, 0, true, false);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct errno_case *c = &cases[i];
		bool data = c->type == NVMFT_IO_READ || c->type == NVMFT_IO_WRITE ||
			    c->type == NVMFT_IO_COMPARE;
		uint16_t st = 0;

		/* ENOMEM/EAGAIN returned by submit mean "retry", not a status. */
		if (from_submit && (c->rc == -ENOMEM || c->rc == -EAGAIN))
			continue;
		f.tb->submit_rc = from_submit ? c->rc : 0;
		f.tb->complete_rc = from_submit ? 0 : c->rc;
		assert_int_equal(h_io(f.h, 0, &f.d, f.ch, c->type,
				      c->type == NVMFT_IO_FLUSH ? 0 : 1,
				      c->type == NVMFT_IO_FLUSH ? 0 : 1,
				      data ? &iov : NULL, data ? 1 : 0, &st), 0);
		if (st != c->status)
			fail_msg("case %zu (type %d, rc %d): status 0x%x, want 0x%x",
				 i, c->type, c->rc, st, c->status);
		assert_int_equal(nvmft_bdev_errno_to_status(c->type, c->rc), c->status);
	}
	assert_int_equal(nvmft_bdev_errno_to_status(NVMFT_IO_READ, 0), 0);
	f.tb->submit_rc = 0;
	f.tb->complete_rc = 0;
	fx_close(&f, state);
}

static void test_errno_from_completion_maps_to_exact_status(void **state)
{
	run_errno_cases(state, false);
}

static void test_errno_from_submit_maps_to_exact_status(void **state)
{
	run_errno_cases(state, true);
}

static void test_split_child_error_fails_parent(void **state)
{
	struct fixture f;
	uint8_t *buf = calloc(64, 512);
	struct iovec iov = { buf, 64 * 512 };
	uint16_t st = 0;

	fx_open(&f, *state, 128, TB_RW, 8, false, false);
	f.tb->complete_rc = -EIO;
	assert_int_equal(h_io(f.h, 0, &f.d, f.ch, NVMFT_IO_READ, 0, 64, &iov, 1, &st), 0);
	assert_int_equal(st, ST(NVME_SCT_MEDIA, NVME_SC_READ_ERROR));
	/* The parent stopped issuing after the failure. */
	assert_true(f.tb->nrec < 8);
	f.tb->complete_rc = 0;
	free(buf);
	fx_close(&f, state);
}

/* Many parents at once on one channel: more than the child pool. */
struct burst_op {
	struct h_desc *d;
	struct nvmft_io_channel *ch;
	struct h_io io[40];
	struct iovec iov[40];
	uint8_t *buf;
	int started;
};

static void burst_fn(void *arg)
{
	struct burst_op *op = arg;
	int i;

	for (i = 0; i < 40; i++) {
		h_io_init(&op->io[i], op->d, op->ch,
			  i % 2 ? NVMFT_IO_WRITE_ZEROES : NVMFT_IO_WRITE,
			  (uint64_t)i * 32, 32,
			  i % 2 ? NULL : &op->iov[i], i % 2 ? 0 : 1);
		op->iov[i] = (struct iovec){ op->buf + (size_t)i * 32 * 512, 32 * 512 };
		if (nvmft_bdev_submit(op->d->desc, op->ch, &op->io[i].io) == 0)
			op->started++;
	}
}

static void test_parents_beyond_child_pool_wait_and_finish(void **state)
{
	struct fixture f;
	struct burst_op op = { 0 };
	int i;

	fx_open(&f, *state, 40 * 32, TB_RW, 4, false, false);
	memset(f.tb->data, 0x99, 40 * 32 * 512);
	op.d = &f.d;
	op.ch = f.ch;
	op.buf = malloc(40 * 32 * 512);
	fill_pattern(op.buf, 40 * 32 * 512, 8);
	f.tb->hold = true;
	h_run(f.h, 0, burst_fn, &op);
	assert_int_equal(op.started, 40);
	/* Release until every parent finished (bounded). */
	for (i = 0; i < 2000; i++) {
		int done = 0, k;

		tb_release(f.h, f.tb, 0);
		for (k = 0; k < 40; k++)
			done += op.io[k].completions;
		if (done == 40)
			break;
	}
	for (i = 0; i < 40; i++) {
		assert_int_equal(h_io_wait(&op.io[i]), 0);
		if (i % 2)
			for (size_t b = 0; b < 32 * 512; b++)
				assert_int_equal(f.tb->data[(size_t)i * 32 * 512 + b], 0);
		else
			assert_memory_equal(f.tb->data + (size_t)i * 32 * 512,
					    op.buf + (size_t)i * 32 * 512, 32 * 512);
	}
	assert_int_equal(f.tb->max_blocks, 4);
	f.tb->hold = false;
	free(op.buf);
	fx_close(&f, state);
}

static int h_teardown_maybe(void **state)
{
	if (!*state)
		return 0;
	return h_teardown(state);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, h_setup, h_teardown_maybe)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_write_zeroes_emulated_by_writes),
		T(test_write_zeroes_emulation_respects_max_io),
		T(test_compare_emulated_match_and_mismatch),
		T(test_flush_without_write_cache_is_noop_success),
		T(test_flush_with_write_cache_unsupported_is_invalid_opcode),
		T(test_native_flush_reaches_backend),
		T(test_unmap_unsupported_is_invalid_opcode),
		T(test_advisory_unmap_is_noop_success),
		T(test_no_read_means_no_compare_emulation),
		T(test_split_by_max_io_blocks),
		T(test_split_native_compare_by_max_io_blocks),
		T(test_split_keeps_many_iovecs_whole_blocks),
		T(test_enomem_from_submit_is_retried_until_accepted),
		T(test_refused_io_is_resubmitted_in_order),
		T(test_errno_from_completion_maps_to_exact_status),
		T(test_errno_from_submit_maps_to_exact_status),
		T(test_split_child_error_fails_parent),
		T(test_parents_beyond_child_pool_wait_and_finish),
	};

	return cmocka_run_group_tests_name("bdev_io", tests, NULL, NULL);
}
