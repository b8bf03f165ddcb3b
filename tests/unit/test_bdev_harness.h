/* SPDX-License-Identifier: MIT */
/*
 * Shared by the bdev unit tests: a real runtime of two reactors driven
 * from the test thread with nvmft_runtime_exec(), completions waited for
 * with semaphores (bounded waits), and "tb", a test backend with RAM
 * storage whose behaviour each test tunes (supported types, refusals,
 * error injection, holding I/O, recording the order of submissions).
 */
#ifndef TEST_BDEV_HARNESS_H
#define TEST_BDEV_HARNESS_H

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <nvmft/bdev.h>
#include <nvmft/bdev_module.h>
#include <nvmft/runtime.h>

#define H_WAIT_SEC	10
#define H_UNUSED	__attribute__((unused))

struct h {
	struct nvmft_runtime *rt;
	struct nvmft_bdev_registry *reg;
};

static H_UNUSED bool sem_wait_bounded(sem_t *s, int sec)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += sec;
	while (sem_timedwait(s, &ts) != 0) {
		if (errno != EINTR)
			return false;
	}
	return true;
}

/* True when @s is not posted within @ms (used to prove "still held"). */
static H_UNUSED bool sem_stays_unposted(sem_t *s, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	if (sem_timedwait(s, &ts) == 0) {
		sem_post(s);
		return false;
	}
	return true;
}

static H_UNUSED void h_run(struct h *h, unsigned int idx, nvmft_msg_fn fn,
			   void *arg)
{
	assert_int_equal(nvmft_runtime_exec(h->rt, idx, fn, arg), 0);
}

static H_UNUSED int h_setup(void **state)
{
	struct nvmft_runtime_opts o;
	struct h *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	nvmft_runtime_opts_init(&o);
	o.nr_reactors = 2;
	o.name = "tbdev";
	assert_int_equal(nvmft_runtime_create(&o, &h->rt), 0);
	assert_int_equal(nvmft_runtime_start(h->rt), 0);
	assert_int_equal(nvmft_bdev_registry_create(h->rt, &h->reg), 0);
	*state = h;
	return 0;
}

struct reg_destroy_op {
	struct h *h;
	sem_t done;
};

static H_UNUSED void reg_destroy_done(void *arg)
{
	sem_post(&((struct reg_destroy_op *)arg)->done);
}

static H_UNUSED void reg_destroy_fn(void *arg)
{
	struct reg_destroy_op *op = arg;

	nvmft_bdev_registry_destroy(op->h->reg, reg_destroy_done, op);
}

/* Destroy the registry (if the test did not) and the runtime. */
static H_UNUSED int h_teardown(void **state)
{
	struct h *h = *state;
	struct reg_destroy_op op = { .h = h };

	if (h->reg) {
		sem_init(&op.done, 0, 0);
		h_run(h, 0, reg_destroy_fn, &op);
		assert_true(sem_wait_bounded(&op.done, H_WAIT_SEC));
		sem_destroy(&op.done);
		h->reg = NULL;
	}
	nvmft_runtime_stop(h->rt);
	nvmft_runtime_destroy(h->rt);
	free(h);
	return 0;
}

/* ---- descriptors and events ---- */

struct h_desc {
	struct h *h;
	const char *name;
	bool write;
	bool close_on_remove;
	struct nvmft_bdev_desc *desc;
	int rc;
	_Atomic int events[3];
	_Atomic bool closed;
	sem_t ev;
};

static H_UNUSED void h_event_cb(enum nvmft_bdev_event ev, struct nvmft_bdev *bdev,
				void *ctx)
{
	struct h_desc *d = ctx;

	(void)bdev;
	d->events[ev]++;
	if (ev == NVMFT_BDEV_EVENT_REMOVE && d->close_on_remove) {
		nvmft_bdev_close(d->desc);
		d->closed = true;
	}
	sem_post(&d->ev);
}

static H_UNUSED void h_open_fn(void *arg)
{
	struct h_desc *d = arg;

	d->rc = nvmft_bdev_open(d->h->reg, d->name, d->write, h_event_cb, d,
				&d->desc);
}

static H_UNUSED int h_open(struct h *h, struct h_desc *d, const char *name,
			   bool write)
{
	memset(d, 0, sizeof(*d));
	d->h = h;
	d->name = name;
	d->write = write;
	sem_init(&d->ev, 0, 0);
	h_run(h, 0, h_open_fn, d);
	return d->rc;
}

static H_UNUSED void h_close_fn(void *arg)
{
	struct h_desc *d = arg;

	nvmft_bdev_close(d->desc);
	d->closed = true;
}

static H_UNUSED void h_close(struct h_desc *d)
{
	if (!d->closed)
		h_run(d->h, 0, h_close_fn, d);
	sem_destroy(&d->ev);
}

/* ---- channels ---- */

struct h_chan_op {
	struct nvmft_bdev_desc *desc;
	struct nvmft_io_channel *ch;
};

static H_UNUSED void h_get_chan_fn(void *arg)
{
	struct h_chan_op *op = arg;

	op->ch = nvmft_bdev_get_io_channel(op->desc);
}

static H_UNUSED void h_put_chan_fn(void *arg)
{
	nvmft_put_io_channel(arg);
}

static H_UNUSED struct nvmft_io_channel *h_get_chan(struct h *h, unsigned int idx,
						    struct h_desc *d)
{
	struct h_chan_op op = { .desc = d->desc };

	h_run(h, idx, h_get_chan_fn, &op);
	return op.ch;
}

static H_UNUSED void h_put_chan(struct h *h, unsigned int idx,
				struct nvmft_io_channel *ch)
{
	h_run(h, idx, h_put_chan_fn, ch);
}

/* ---- I/O ---- */

struct h_io {
	struct nvmft_bdev_io io;
	struct nvmft_bdev_desc *desc;
	struct nvmft_io_channel *ch;
	int submit_rc;
	uint16_t status;
	_Atomic int completions;
	sem_t done;
};

static H_UNUSED void h_io_cb(struct nvmft_bdev_io *io, uint16_t status, void *arg)
{
	struct h_io *t = arg;

	(void)io;
	t->status = status;
	t->completions++;
	sem_post(&t->done);
}

static H_UNUSED void h_io_submit_fn(void *arg)
{
	struct h_io *t = arg;

	t->submit_rc = nvmft_bdev_submit(t->desc, t->ch, &t->io);
	if (t->submit_rc)
		sem_post(&t->done);
}

static H_UNUSED void h_io_init(struct h_io *t, struct h_desc *d,
			       struct nvmft_io_channel *ch, enum nvmft_io_type type,
			       uint64_t off, uint64_t num, struct iovec *iov,
			       int iovcnt)
{
	memset(t, 0, sizeof(*t));
	t->desc = d->desc;
	t->ch = ch;
	t->io.type = type;
	t->io.offset_blocks = off;
	t->io.num_blocks = num;
	t->io.iov = iov;
	t->io.iovcnt = iovcnt;
	t->io.cb = h_io_cb;
	t->io.cb_arg = t;
	sem_init(&t->done, 0, 0);
}

/* Submit on reactor @idx without waiting; returns the submit rc. */
static H_UNUSED int h_io_start(struct h *h, unsigned int idx, struct h_io *t)
{
	h_run(h, idx, h_io_submit_fn, t);
	return t->submit_rc;
}

/* Wait for the completion of a started I/O; returns its status. */
static H_UNUSED uint16_t h_io_wait(struct h_io *t)
{
	assert_true(sem_wait_bounded(&t->done, H_WAIT_SEC));
	assert_int_equal(t->completions, 1);
	sem_destroy(&t->done);
	return t->status;
}

/*
 * Synchronous I/O on reactor @idx. Returns the submit rc; *@status gets the
 * completion status when the submit succeeded.
 */
static H_UNUSED int h_io(struct h *h, unsigned int idx, struct h_desc *d,
			 struct nvmft_io_channel *ch, enum nvmft_io_type type,
			 uint64_t off, uint64_t num, struct iovec *iov, int iovcnt,
			 uint16_t *status)
{
	struct h_io t;

	h_io_init(&t, d, ch, type, off, num, iov, iovcnt);
	h_run(h, idx, h_io_submit_fn, &t);
	if (t.submit_rc) {
		sem_destroy(&t.done);
		return t.submit_rc;
	}
	*status = h_io_wait(&t);
	return 0;
}

/* ---- deletion ---- */

struct h_delete_op {
	struct h *h;
	const char *name;
	int rc;
	_Atomic int done_rc;
	sem_t done;
};

static H_UNUSED void h_delete_done(void *arg, int rc)
{
	struct h_delete_op *op = arg;

	op->done_rc = rc;
	sem_post(&op->done);
}

static H_UNUSED void h_delete_fn(void *arg)
{
	struct h_delete_op *op = arg;

	op->rc = nvmft_bdev_delete(op->h->reg, op->name, h_delete_done, op);
}

/* ---- the test backend ---- */

#define TB_MAX_REC	512
#define TB_MAX_HELD	64

struct tb_rec {
	enum nvmft_io_type type;
	uint64_t off;
	uint64_t num;
	unsigned int reactor;
};

struct tb;

struct tb_chan {
	struct tb *tb;
	unsigned int idx;
	struct nvmft_bdev_io *held[TB_MAX_HELD];
	int nheld;
};

struct tb {
	struct nvmft_bdev *bdev;
	uint8_t *data;
	uint64_t num_blocks;
	uint32_t bs;
	uint32_t supports;		/* bit per enum nvmft_io_type */
	_Atomic int refuse;		/* refuse this many submits with -ENOMEM */
	int submit_rc;			/* returned by submit (not 0 = fail) */
	int complete_rc;		/* completed with this errno */
	_Atomic bool hold;		/* keep I/O until tb_release() */
	pthread_mutex_t mtx;
	struct tb_rec rec[TB_MAX_REC];
	int nrec;
	_Atomic int submits;
	_Atomic uint64_t max_blocks;
	_Atomic int ch_created;
	_Atomic int ch_destroyed;
	_Atomic int destroyed;
	struct tb_chan *chans[2];
};

static H_UNUSED int tb_channel_create(void *bdev_ctx, void *chan_ctx)
{
	struct tb *tb = bdev_ctx;
	struct tb_chan *c = chan_ctx;

	c->tb = tb;
	c->idx = nvmft_thread_index(nvmft_get_thread());
	tb->chans[c->idx] = c;
	tb->ch_created++;
	return 0;
}

static H_UNUSED void tb_channel_destroy(void *bdev_ctx, void *chan_ctx)
{
	struct tb *tb = bdev_ctx;
	struct tb_chan *c = chan_ctx;

	tb->chans[c->idx] = NULL;
	tb->ch_destroyed++;
}

static H_UNUSED void tb_iov_copy(struct nvmft_bdev_io *io, uint8_t *p, bool to_iov)
{
	int i;

	for (i = 0; i < io->iovcnt; i++) {
		if (to_iov)
			memcpy(io->iov[i].iov_base, p, io->iov[i].iov_len);
		else
			memcpy(p, io->iov[i].iov_base, io->iov[i].iov_len);
		p += io->iov[i].iov_len;
	}
}

static H_UNUSED void tb_execute(struct tb *tb, struct nvmft_bdev_io *io)
{
	uint8_t *p = tb->data + io->offset_blocks * tb->bs;
	size_t len = io->num_blocks * tb->bs;
	int rc = tb->complete_rc;

	if (!rc) {
		switch (io->type) {
		case NVMFT_IO_READ:
			tb_iov_copy(io, p, true);
			break;
		case NVMFT_IO_WRITE:
			tb_iov_copy(io, p, false);
			break;
		case NVMFT_IO_WRITE_ZEROES:
		case NVMFT_IO_UNMAP:
			memset(p, 0, len);
			break;
		default:
			break;
		}
	}
	nvmft_bdev_io_complete(io, rc);
}

static H_UNUSED int tb_submit(void *chan_ctx, struct nvmft_bdev_io *io)
{
	struct tb_chan *c = chan_ctx;
	struct tb *tb = c->tb;
	uint64_t m;

	tb->submits++;
	if (tb->refuse > 0) {
		tb->refuse--;
		return -ENOMEM;
	}
	if (tb->submit_rc)
		return tb->submit_rc;
	pthread_mutex_lock(&tb->mtx);
	if (tb->nrec < TB_MAX_REC)
		tb->rec[tb->nrec++] = (struct tb_rec){
			io->type, io->offset_blocks, io->num_blocks, c->idx };
	pthread_mutex_unlock(&tb->mtx);
	m = tb->max_blocks;
	if (io->num_blocks > m)
		tb->max_blocks = io->num_blocks;
	if (tb->hold) {
		assert_true(c->nheld < TB_MAX_HELD);
		c->held[c->nheld++] = io;
		return 0;
	}
	tb_execute(tb, io);
	return 0;
}

static H_UNUSED bool tb_supports(void *bdev_ctx, enum nvmft_io_type type)
{
	return ((struct tb *)bdev_ctx)->supports & (1u << type);
}

static H_UNUSED void tb_destroy(void *bdev_ctx, void (*done)(void *arg), void *arg)
{
	struct tb *tb = bdev_ctx;

	tb->destroyed++;
	done(arg);
}

static const struct nvmft_bdev_ops tb_ops H_UNUSED = {
	.name = "test",
	.chan_ctx_size = sizeof(struct tb_chan),
	.channel_create = tb_channel_create,
	.channel_destroy = tb_channel_destroy,
	.submit = tb_submit,
	.supports = tb_supports,
	.destroy = tb_destroy,
};

#define TB_RW	((1u << NVMFT_IO_READ) | (1u << NVMFT_IO_WRITE))
#define TB_ALL	((1u << NVMFT_IO_TYPE_MAX) - 1)

struct tb_reg_op {
	struct h *h;
	struct tb *tb;
	struct nvmft_bdev_props props;
	int rc;
};

static H_UNUSED void tb_register_fn(void *arg)
{
	struct tb_reg_op *op = arg;

	op->rc = nvmft_bdev_register(op->h->reg, &op->props, &tb_ops, op->tb,
				     &op->tb->bdev);
}

/* A test bdev of @num_blocks × 512 registered as @name; free with tb_free(). */
static H_UNUSED struct tb *tb_new(struct h *h, const char *name,
				  uint64_t num_blocks, uint32_t supports,
				  uint32_t max_io_blocks, bool write_cache,
				  bool unmap_advisory)
{
	struct tb_reg_op op = { .h = h };
	struct tb *tb = calloc(1, sizeof(*tb));

	assert_non_null(tb);
	tb->bs = 512;
	tb->num_blocks = num_blocks;
	tb->supports = supports;
	tb->data = calloc(num_blocks, tb->bs);
	assert_non_null(tb->data);
	pthread_mutex_init(&tb->mtx, NULL);
	op.tb = tb;
	op.props = (struct nvmft_bdev_props){
		.name = name, .block_size = 512, .num_blocks = num_blocks,
		.write_cache = write_cache, .max_io_blocks = max_io_blocks,
		.unmap_advisory = unmap_advisory,
	};
	h_run(h, 0, tb_register_fn, &op);
	assert_int_equal(op.rc, 0);
	return tb;
}

/* After the bdev is destroyed (registry teardown or delete). */
static H_UNUSED void tb_free(struct tb *tb)
{
	pthread_mutex_destroy(&tb->mtx);
	free(tb->data);
	free(tb);
}

struct tb_release_op {
	struct tb *tb;
	unsigned int idx;
};

static H_UNUSED void tb_release_fn(void *arg)
{
	struct tb_release_op *op = arg;
	struct tb_chan *c = op->tb->chans[op->idx];
	struct nvmft_bdev_io *held[TB_MAX_HELD];
	int i, n;

	if (!c)
		return;
	/* Completions submit more, into c->held: work on a copy. */
	n = c->nheld;
	memcpy(held, c->held, n * sizeof(held[0]));
	c->nheld = 0;
	for (i = 0; i < n; i++)
		tb_execute(op->tb, held[i]);
}

/* Complete what the backend holds on reactor @idx. */
static H_UNUSED void tb_release(struct h *h, struct tb *tb, unsigned int idx)
{
	struct tb_release_op op = { .tb = tb, .idx = idx };

	h_run(h, idx, tb_release_fn, &op);
}

static H_UNUSED void fill_pattern(uint8_t *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

#endif
