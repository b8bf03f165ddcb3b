// SPDX-License-Identifier: MIT
/*
 * bdev range locks (fused Compare and Write) across two reactors: writes
 * overlapping a lock are held back everywhere except the owner's, the lock
 * waits for overlapping writes in flight, overlapping locks are granted in
 * order, channels created later obey existing locks.
 */
#include "test_bdev_harness.h"

struct lock_op {
	struct h_desc *d;
	struct nvmft_io_channel *ch;
	uint64_t off;
	uint64_t num;
	int rc;
	int cb_rc;
	_Atomic int granted;
	sem_t sem;
};

static void lock_cb(void *arg, int rc)
{
	struct lock_op *op = arg;

	op->cb_rc = rc;
	op->granted++;
	sem_post(&op->sem);
}

static void lock_fn(void *arg)
{
	struct lock_op *op = arg;

	op->rc = nvmft_bdev_lock_range(op->d->desc, op->ch, op->off, op->num,
				       lock_cb, op);
}

static void unlock_fn(void *arg)
{
	struct lock_op *op = arg;

	op->rc = nvmft_bdev_unlock_range(op->d->desc, op->ch, op->off, op->num);
}

static void lock_init(struct lock_op *op, struct h_desc *d,
		      struct nvmft_io_channel *ch, uint64_t off, uint64_t num)
{
	memset(op, 0, sizeof(*op));
	op->d = d;
	op->ch = ch;
	op->off = off;
	op->num = num;
	sem_init(&op->sem, 0, 0);
}

static int lock_start(struct h *h, unsigned int idx, struct lock_op *op)
{
	h_run(h, idx, lock_fn, op);
	return op->rc;
}

static int unlock(struct h *h, unsigned int idx, struct lock_op *op)
{
	h_run(h, idx, unlock_fn, op);
	return op->rc;
}

static void lock_wait_granted(struct lock_op *op)
{
	assert_true(sem_wait_bounded(&op->sem, H_WAIT_SEC));
	assert_int_equal(op->cb_rc, 0);
	assert_int_equal(op->granted, 1);
}

struct fixture {
	struct h *h;
	struct tb *tb;
	struct h_desc d;
	struct nvmft_io_channel *c0;
	struct nvmft_io_channel *c1;
	uint8_t buf[16 * 512];
	struct iovec iov[4];
};

static void fx_open(struct fixture *f, struct h *h, bool both_channels)
{
	int i;

	memset(f, 0, sizeof(*f));
	f->h = h;
	f->tb = tb_new(h, "lk", 1024, 0x3f, 0, false, false);
	assert_int_equal(h_open(h, &f->d, "lk", true), 0);
	f->c0 = h_get_chan(h, 0, &f->d);
	if (both_channels)
		f->c1 = h_get_chan(h, 1, &f->d);
	for (i = 0; i < 4; i++)
		f->iov[i] = (struct iovec){ f->buf + i * 4 * 512, 4 * 512 };
}

static void fx_close(struct fixture *f, void **state)
{
	h_put_chan(f->h, 0, f->c0);
	if (f->c1)
		h_put_chan(f->h, 1, f->c1);
	h_close(&f->d);
	assert_int_equal(h_teardown(state), 0);
	*state = NULL;
	tb_free(f->tb);
}

/* Index in the backend's record of the write at @off, -1 if absent. */
static int rec_pos(struct tb *tb, enum nvmft_io_type type, uint64_t off)
{
	int i;

	for (i = 0; i < tb->nrec; i++)
		if (tb->rec[i].type == type && tb->rec[i].off == off)
			return i;
	return -1;
}

static void test_lock_holds_overlapping_writes_of_other_reactor(void **state)
{
	struct fixture f;
	struct lock_op lk;
	struct h_io w_other, w_far, w_owner, w_same, rd;

	fx_open(&f, *state, true);
	lock_init(&lk, &f.d, f.c0, 100, 16);
	assert_int_equal(lock_start(f.h, 0, &lk), 0);
	lock_wait_granted(&lk);

	/* Reactor 1: overlapping write held, the one far away passes. */
	h_io_init(&w_other, &f.d, f.c1, NVMFT_IO_WRITE, 112, 4, &f.iov[0], 1);
	assert_int_equal(h_io_start(f.h, 1, &w_other), 0);
	h_io_init(&w_far, &f.d, f.c1, NVMFT_IO_WRITE, 500, 4, &f.iov[1], 1);
	assert_int_equal(h_io_start(f.h, 1, &w_far), 0);
	assert_int_equal(h_io_wait(&w_far), 0);
	/* Reads are never held. */
	h_io_init(&rd, &f.d, f.c1, NVMFT_IO_READ, 100, 4, &f.iov[2], 1);
	assert_int_equal(h_io_start(f.h, 1, &rd), 0);
	assert_int_equal(h_io_wait(&rd), 0);
	/* Same channel as the lock, without the token: held too. */
	h_io_init(&w_same, &f.d, f.c0, NVMFT_IO_WRITE_ZEROES, 99, 2, NULL, 0);
	assert_int_equal(h_io_start(f.h, 0, &w_same), 0);
	assert_true(sem_stays_unposted(&w_other.done, 50));
	assert_true(sem_stays_unposted(&w_same.done, 1));
	assert_int_equal(rec_pos(f.tb, NVMFT_IO_WRITE, 112), -1);

	/* The owner's write passes. */
	h_io_init(&w_owner, &f.d, f.c0, NVMFT_IO_WRITE, 100, 4, &f.iov[3], 1);
	w_owner.io.lock_owner = &lk;
	assert_int_equal(h_io_start(f.h, 0, &w_owner), 0);
	assert_int_equal(h_io_wait(&w_owner), 0);
	assert_true(sem_stays_unposted(&w_other.done, 20));

	assert_int_equal(unlock(f.h, 0, &lk), 0);
	assert_int_equal(h_io_wait(&w_other), 0);
	assert_int_equal(h_io_wait(&w_same), 0);

	/* Backend order: far write and owner before the held ones. */
	assert_true(rec_pos(f.tb, NVMFT_IO_WRITE, 500) >= 0);
	assert_true(rec_pos(f.tb, NVMFT_IO_WRITE, 100) >
		    rec_pos(f.tb, NVMFT_IO_WRITE, 500));
	assert_true(rec_pos(f.tb, NVMFT_IO_WRITE, 112) >
		    rec_pos(f.tb, NVMFT_IO_WRITE, 100));
	assert_true(rec_pos(f.tb, NVMFT_IO_WRITE_ZEROES, 99) >
		    rec_pos(f.tb, NVMFT_IO_WRITE, 100));
	assert_int_equal(f.tb->rec[rec_pos(f.tb, NVMFT_IO_WRITE, 112)].reactor, 1);
	sem_destroy(&lk.sem);
	fx_close(&f, state);
}

static void test_lock_waits_for_overlapping_write_in_flight(void **state)
{
	struct fixture f;
	struct lock_op lk;
	struct h_io w;

	fx_open(&f, *state, true);
	f.tb->hold = true;
	h_io_init(&w, &f.d, f.c1, NVMFT_IO_WRITE, 10, 4, &f.iov[0], 1);
	assert_int_equal(h_io_start(f.h, 1, &w), 0);

	lock_init(&lk, &f.d, f.c0, 0, 16);
	assert_int_equal(lock_start(f.h, 0, &lk), 0);
	assert_true(sem_stays_unposted(&lk.sem, 50));
	assert_int_equal(lk.granted, 0);

	tb_release(f.h, f.tb, 1);
	assert_int_equal(h_io_wait(&w), 0);
	lock_wait_granted(&lk);
	assert_int_equal(unlock(f.h, 0, &lk), 0);
	f.tb->hold = false;
	sem_destroy(&lk.sem);
	fx_close(&f, state);
}

static void test_lock_ignores_non_overlapping_write_in_flight(void **state)
{
	struct fixture f;
	struct lock_op lk;
	struct h_io w;

	fx_open(&f, *state, true);
	f.tb->hold = true;
	h_io_init(&w, &f.d, f.c1, NVMFT_IO_WRITE, 16, 4, &f.iov[0], 1);
	assert_int_equal(h_io_start(f.h, 1, &w), 0);
	lock_init(&lk, &f.d, f.c0, 0, 16);
	assert_int_equal(lock_start(f.h, 0, &lk), 0);
	lock_wait_granted(&lk);
	assert_int_equal(w.completions, 0);
	tb_release(f.h, f.tb, 1);
	assert_int_equal(h_io_wait(&w), 0);
	assert_int_equal(unlock(f.h, 0, &lk), 0);
	f.tb->hold = false;
	sem_destroy(&lk.sem);
	fx_close(&f, state);
}

static void test_overlapping_locks_are_granted_in_order(void **state)
{
	struct fixture f;
	struct lock_op a, b, c, d;

	fx_open(&f, *state, true);
	lock_init(&a, &f.d, f.c0, 0, 16);
	lock_init(&b, &f.d, f.c1, 8, 16);
	lock_init(&c, &f.d, f.c1, 100, 4);
	lock_init(&d, &f.d, f.c0, 20, 1);	/* overlaps only b (waiting) */
	assert_int_equal(lock_start(f.h, 0, &a), 0);
	lock_wait_granted(&a);
	assert_int_equal(lock_start(f.h, 1, &b), 0);
	assert_int_equal(lock_start(f.h, 1, &c), 0);
	assert_int_equal(lock_start(f.h, 0, &d), 0);
	lock_wait_granted(&c);
	/* b waits for a; d waits behind b (no overtaking). */
	assert_true(sem_stays_unposted(&b.sem, 50));
	assert_true(sem_stays_unposted(&d.sem, 1));

	assert_int_equal(unlock(f.h, 0, &a), 0);
	lock_wait_granted(&b);
	assert_true(sem_stays_unposted(&d.sem, 30));
	assert_int_equal(unlock(f.h, 1, &b), 0);
	lock_wait_granted(&d);
	assert_int_equal(unlock(f.h, 0, &d), 0);
	assert_int_equal(unlock(f.h, 1, &c), 0);
	sem_destroy(&a.sem);
	sem_destroy(&b.sem);
	sem_destroy(&c.sem);
	sem_destroy(&d.sem);
	fx_close(&f, state);
}

static void test_unlock_unknown_range_and_bad_lock_args(void **state)
{
	struct fixture f;
	struct lock_op lk, other;

	fx_open(&f, *state, true);
	lock_init(&lk, &f.d, f.c0, 0, 8);
	assert_int_equal(unlock(f.h, 0, &lk), -ENOENT);
	lk.num = 0;
	assert_int_equal(lock_start(f.h, 0, &lk), -EINVAL);
	lk.off = 1020;
	lk.num = 8;
	assert_int_equal(lock_start(f.h, 0, &lk), -EINVAL);
	lk.off = 0;
	assert_int_equal(lock_start(f.h, 0, &lk), 0);
	lock_wait_granted(&lk);
	/* Another channel, or another range, does not own it. */
	lock_init(&other, &f.d, f.c1, 0, 8);
	assert_int_equal(unlock(f.h, 1, &other), -ENOENT);
	lk.num = 4;
	assert_int_equal(unlock(f.h, 0, &lk), -ENOENT);
	lk.num = 8;
	assert_int_equal(unlock(f.h, 0, &lk), 0);
	assert_int_equal(unlock(f.h, 0, &lk), -ENOENT);
	sem_destroy(&lk.sem);
	sem_destroy(&other.sem);
	fx_close(&f, state);
}

static void test_channel_created_after_lock_holds_writes(void **state)
{
	struct fixture f;
	struct lock_op lk;
	struct h_io w;

	fx_open(&f, *state, false);
	lock_init(&lk, &f.d, f.c0, 40, 8);
	assert_int_equal(lock_start(f.h, 0, &lk), 0);
	lock_wait_granted(&lk);
	f.c1 = h_get_chan(f.h, 1, &f.d);
	assert_non_null(f.c1);
	h_io_init(&w, &f.d, f.c1, NVMFT_IO_WRITE, 44, 4, &f.iov[0], 1);
	assert_int_equal(h_io_start(f.h, 1, &w), 0);
	assert_true(sem_stays_unposted(&w.done, 50));
	assert_int_equal(unlock(f.h, 0, &lk), 0);
	assert_int_equal(h_io_wait(&w), 0);
	sem_destroy(&lk.sem);
	fx_close(&f, state);
}

static void test_compare_and_write_sequence(void **state)
{
	struct fixture f;
	struct lock_op lk;
	struct h_io cmp, w;
	uint8_t old[4 * 512], neu[4 * 512];
	struct iovec oiov = { old, sizeof(old) }, niov = { neu, sizeof(neu) };

	fx_open(&f, *state, true);
	fill_pattern(old, sizeof(old), 1);
	fill_pattern(neu, sizeof(neu), 2);
	memcpy(f.tb->data + 8 * 512, old, sizeof(old));

	lock_init(&lk, &f.d, f.c1, 8, 4);
	assert_int_equal(lock_start(f.h, 1, &lk), 0);
	lock_wait_granted(&lk);
	h_io_init(&cmp, &f.d, f.c1, NVMFT_IO_COMPARE, 8, 4, &oiov, 1);
	assert_int_equal(h_io_start(f.h, 1, &cmp), 0);
	assert_int_equal(h_io_wait(&cmp), 0);
	h_io_init(&w, &f.d, f.c1, NVMFT_IO_WRITE, 8, 4, &niov, 1);
	w.io.lock_owner = &lk;
	assert_int_equal(h_io_start(f.h, 1, &w), 0);
	assert_int_equal(h_io_wait(&w), 0);
	assert_int_equal(unlock(f.h, 1, &lk), 0);
	assert_memory_equal(f.tb->data + 8 * 512, neu, sizeof(neu));
	sem_destroy(&lk.sem);
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
		T(test_lock_holds_overlapping_writes_of_other_reactor),
		T(test_lock_waits_for_overlapping_write_in_flight),
		T(test_lock_ignores_non_overlapping_write_in_flight),
		T(test_overlapping_locks_are_granted_in_order),
		T(test_unlock_unknown_range_and_bad_lock_args),
		T(test_channel_created_after_lock_holds_writes),
		T(test_compare_and_write_sequence),
	};

	return cmocka_run_group_tests_name("bdev_lock", tests, NULL, NULL);
}
