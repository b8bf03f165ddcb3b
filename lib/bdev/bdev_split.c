// SPDX-License-Identifier: MIT
/*
 * I/O the layer runs itself as a "parent" issuing child I/O to the backend:
 * - SPLIT: READ/WRITE/COMPARE larger than max_io_blocks, cut into children
 *   that slice the parent's iovecs (up to PARENT_MAX_PARALLEL at a time);
 * - WZ: WRITE_ZEROES emulated by WRITEs whose iovecs all point at one
 *   per-channel zero buffer (bounded chunks, PARENT_MAX_PARALLEL at a time);
 * - CMP: COMPARE emulated by READs into the per-channel bounce buffer, each
 *   chunk compared before the next is read (one compare per channel at a
 *   time: the bounce buffer is not shared).
 *
 * Children come from a per-channel pool; a parent that finds the pool empty
 * (or the bounce buffer taken) with nothing of its own in flight waits on
 * the channel's waiter queue and is run again when a child or the bounce
 * buffer frees — like a transport request waiting for a data buffer.
 * The parent's state lives in its driver_ctx: the backend never sees it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <nvme/types.h>

#include <nvmft/nvme_wire.h>

#include "bdev/bdev_internal.h"

#define PARENT_MAX_PARALLEL	4

enum parent_kind {
	PARENT_SPLIT = 0,
	PARENT_WZ,
	PARENT_CMP,
};

struct parent_state {
	uint64_t next;		/* first block not issued yet */
	uint64_t end;		/* one past the last block */
	size_t iov_off;		/* cursor in the parent's iovecs */
	int iov_idx;
	uint32_t outstanding;	/* children in flight */
	uint32_t max_parallel;
	uint16_t status;	/* first failure */
	uint8_t kind;
	bool running;		/* parent_run() is on the stack */
	bool waiting;		/* on bch->waiters */
};

_Static_assert(sizeof(struct parent_state) <= NVMFT_BDEV_IO_CTX_SIZE,
	       "parent state must fit in driver_ctx");
_Static_assert(EMU_ZERO_BUF_SIZE >= 65536 && EMU_BOUNCE_BUF_SIZE >= 65536,
	       "emulation buffers must hold the largest block");

enum issue_rc {
	ISSUE_OK = 0,
	ISSUE_WAIT,
};

static struct parent_state *pstate(struct nvmft_bdev_io *io)
{
	return (struct parent_state *)(void *)io->driver_ctx;
}

bool bdev_needs_split(const struct nvmft_bdev *bdev,
		      const struct nvmft_bdev_io *io)
{
	return bdev->max_io_blocks && io->num_blocks > bdev->max_io_blocks &&
	       (io->type == NVMFT_IO_READ || io->type == NVMFT_IO_WRITE ||
		io->type == NVMFT_IO_COMPARE);
}

/* ---- iovec cursor helpers ---- */

/* Slice up to @want bytes from the cursor into @dst; returns bytes taken. */
static size_t iov_take(const struct iovec *src, int cnt, int *idx, size_t *off,
		       size_t want, struct iovec *dst, int max, int *ndst)
{
	size_t got = 0;
	int k = 0;

	while (got < want && *idx < cnt && k < max) {
		size_t avail = src[*idx].iov_len - *off;
		size_t take = avail < want - got ? avail : want - got;

		if (take) {
			dst[k].iov_base = (char *)src[*idx].iov_base + *off;
			dst[k].iov_len = take;
			k++;
			got += take;
			*off += take;
		}
		if (*off == src[*idx].iov_len) {
			(*idx)++;
			*off = 0;
		}
	}
	*ndst = k;
	return got;
}

/* Compare @len bytes of @buf with the iovecs at the cursor (advanced). */
static bool iov_equal(const struct iovec *src, int cnt, int *idx, size_t *off,
		      const uint8_t *buf, size_t len)
{
	while (len && *idx < cnt) {
		size_t avail = src[*idx].iov_len - *off;
		size_t n = avail < len ? avail : len;

		if (n && memcmp((const char *)src[*idx].iov_base + *off, buf, n))
			return false;
		buf += n;
		len -= n;
		*off += n;
		if (*off == src[*idx].iov_len) {
			(*idx)++;
			*off = 0;
		}
	}
	return len == 0;
}

/* ---- per-channel resources ---- */

static int emu_prepare(struct bdev_channel *bch, enum parent_kind kind)
{
	int i;

	if (!bch->children) {
		bch->children = calloc(CHILD_POOL_SIZE, sizeof(*bch->children));
		if (!bch->children)
			return -ENOMEM;
		for (i = 0; i < CHILD_POOL_SIZE; i++) {
			bch->children[i].next_free = bch->free_children;
			bch->free_children = &bch->children[i];
		}
	}
	if (kind == PARENT_WZ && !bch->zero_buf) {
		if (posix_memalign(&bch->zero_buf, 4096, EMU_ZERO_BUF_SIZE))
			return -ENOMEM;
		memset(bch->zero_buf, 0, EMU_ZERO_BUF_SIZE);
	}
	if (kind == PARENT_CMP && !bch->bounce_buf) {
		if (posix_memalign(&bch->bounce_buf, 4096, EMU_BOUNCE_BUF_SIZE))
			return -ENOMEM;
	}
	return 0;
}

void bdev_emu_free(struct bdev_channel *bch)
{
	free(bch->children);
	free(bch->zero_buf);
	free(bch->bounce_buf);
	bch->children = NULL;
	bch->free_children = NULL;
	bch->zero_buf = NULL;
	bch->bounce_buf = NULL;
}

static struct bdev_child *child_get(struct bdev_channel *bch)
{
	struct bdev_child *c = bch->free_children;

	if (c)
		bch->free_children = c->next_free;
	return c;
}

static void child_put(struct bdev_channel *bch, struct bdev_child *c)
{
	c->parent = NULL;
	c->next_free = bch->free_children;
	bch->free_children = c;
}

/* ---- parents ---- */

static void parent_run(struct bdev_channel *bch, struct nvmft_bdev_io *p);

static void parent_finish(struct bdev_channel *bch, struct nvmft_bdev_io *p)
{
	uint16_t status = pstate(p)->status;

	if (bch->bounce_owner == p)
		bch->bounce_owner = NULL;
	p->internal.state &= ~IO_STATE_PARENT;
	bdev_io_finish(bch, p, status);
	bdev_parents_wake(bch);
}

static void child_done(struct nvmft_bdev_io *cio, uint16_t status, void *arg)
{
	struct bdev_child *c = arg;
	struct nvmft_bdev_io *p = c->parent;
	struct parent_state *ps = pstate(p);
	struct bdev_channel *bch = io_bch(p);

	if (status && !ps->status)
		ps->status = status;
	if (!status && !ps->status && ps->kind == PARENT_CMP &&
	    !iov_equal(p->iov, p->iovcnt, &ps->iov_idx, &ps->iov_off,
		       bch->bounce_buf, cio->num_blocks << bch->bdev->block_shift))
		ps->status = NVMFT_STATUS(NVME_SCT_MEDIA, NVME_SC_COMPARE_FAILED);
	ps->outstanding--;
	child_put(bch, c);
	parent_run(bch, p);
	bdev_parents_wake(bch);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* SPLIT: the child's iovecs slice the parent's; may shrink @blocks. */
static bool split_slice(struct bdev_channel *bch, struct nvmft_bdev_io *p,
			struct bdev_child *c, uint64_t *blocks)
{
	struct parent_state *ps = pstate(p);
	uint32_t shift = bch->bdev->block_shift;
	size_t want = *blocks << shift, got;
	size_t off = ps->iov_off;
	int idx = ps->iov_idx, n;

	got = iov_take(p->iov, p->iovcnt, &idx, &off, want, c->iov,
		       CHILD_IOV_MAX, &n);
	if (got < want) {
		/* Too many small iovecs: cut at the last whole block. */
		*blocks = got >> shift;
		if (*blocks == 0)
			return false;
		want = *blocks << shift;
		idx = ps->iov_idx;
		off = ps->iov_off;
		iov_take(p->iov, p->iovcnt, &idx, &off, want, c->iov,
			 CHILD_IOV_MAX, &n);
	}
	ps->iov_idx = idx;
	ps->iov_off = off;
	c->io.iovcnt = n;
	return true;
}

static enum issue_rc parent_issue(struct bdev_channel *bch,
				  struct nvmft_bdev_io *p)
{
	struct parent_state *ps = pstate(p);
	const struct nvmft_bdev *bdev = bch->bdev;
	uint32_t shift = bdev->block_shift;
	uint64_t blocks, max, bytes;
	struct nvmft_bdev_io *cio;
	struct bdev_child *c;
	int i;

	if (ps->kind == PARENT_CMP && bch->bounce_owner && bch->bounce_owner != p)
		return ISSUE_WAIT;
	c = child_get(bch);
	if (!c)
		return ISSUE_WAIT;
	c->parent = p;
	cio = &c->io;
	cio->iov = c->iov;
	cio->cb = child_done;
	cio->cb_arg = c;
	cio->lock_owner = NULL;
	cio->internal.desc = p->internal.desc;
	cio->internal.ch = p->internal.ch;
	cio->internal.qnext = NULL;
	cio->internal.seq = 0;
	cio->internal.state = IO_STATE_CHILD;

	max = bdev->max_io_blocks ? bdev->max_io_blocks : UINT64_MAX;
	blocks = min_u64(ps->end - ps->next, max);
	switch (ps->kind) {
	case PARENT_SPLIT:
		if (!split_slice(bch, p, c, &blocks)) {
			child_put(bch, c);
			ps->status = NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL);
			return ISSUE_OK;
		}
		cio->type = p->type;
		cio->flags = p->flags;
		break;
	case PARENT_WZ:
		blocks = min_u64(blocks, ((uint64_t)CHILD_IOV_MAX *
					  EMU_ZERO_BUF_SIZE) >> shift);
		bytes = blocks << shift;
		for (i = 0; bytes; i++) {
			size_t n = min_u64(bytes, EMU_ZERO_BUF_SIZE);

			c->iov[i].iov_base = bch->zero_buf;
			c->iov[i].iov_len = n;
			bytes -= n;
		}
		cio->iovcnt = i;
		cio->type = NVMFT_IO_WRITE;
		cio->flags = p->flags & NVMFT_IO_FLAG_FUA;
		break;
	case PARENT_CMP:
	default:
		bch->bounce_owner = p;
		blocks = min_u64(blocks, EMU_BOUNCE_BUF_SIZE >> shift);
		c->iov[0].iov_base = bch->bounce_buf;
		c->iov[0].iov_len = blocks << shift;
		cio->iovcnt = 1;
		cio->type = NVMFT_IO_READ;
		cio->flags = 0;
		break;
	}
	cio->offset_blocks = ps->next;
	cio->num_blocks = blocks;
	ps->next += blocks;
	ps->outstanding++;
	bdev_backend_submit(bch, cio);
	return ISSUE_OK;
}

/*
 * Issue what the parent may, finish it when nothing is left. Children
 * completing inline call back in here: the "running" guard keeps that from
 * recursing (the loop below sees their effect), so a 1 GiB split on an
 * inline backend does not grow the stack.
 */
static void parent_run(struct bdev_channel *bch, struct nvmft_bdev_io *p)
{
	struct parent_state *ps = pstate(p);

	if (ps->running || ps->waiting)
		return;
	ps->running = true;
	while (!ps->status && ps->next < ps->end &&
	       ps->outstanding < ps->max_parallel) {
		if (parent_issue(bch, p) == ISSUE_WAIT) {
			/* With children in flight, their completion runs us again. */
			if (ps->outstanding == 0) {
				ps->waiting = true;
				io_fifo_push(&bch->waiters, p);
			}
			break;
		}
	}
	ps->running = false;
	if (!ps->waiting && ps->outstanding == 0 &&
	    (ps->status || ps->next >= ps->end))
		parent_finish(bch, p);
}

void bdev_parent_start(struct bdev_channel *bch, struct nvmft_bdev_io *io)
{
	struct parent_state *ps = pstate(io);
	enum parent_kind kind = PARENT_SPLIT;

	if (bch->bdev->mode[io->type] == IO_MODE_EMULATE)
		kind = io->type == NVMFT_IO_COMPARE ? PARENT_CMP : PARENT_WZ;
	if (emu_prepare(bch, kind)) {
		bdev_io_finish(bch, io, nvmft_bdev_errno_to_status(io->type, -ENOMEM));
		return;
	}
	memset(ps, 0, sizeof(*ps));
	ps->kind = kind;
	ps->next = io->offset_blocks;
	ps->end = io->offset_blocks + io->num_blocks;
	ps->max_parallel = kind == PARENT_CMP ? 1 : PARENT_MAX_PARALLEL;
	io->internal.state |= IO_STATE_PARENT;
	parent_run(bch, io);
}

/*
 * Something freed (a child, the bounce buffer): run the waiting parents in
 * order; those that still cannot go queue themselves again. Frees that
 * happen during the walk ask for another pass instead of nesting.
 */
void bdev_parents_wake(struct bdev_channel *bch)
{
	struct nvmft_bdev_io *p;
	struct io_fifo q;

	if (bch->waking) {
		bch->wake_again = true;
		return;
	}
	if (!bch->waiters.head)
		return;
	bch->waking = true;
	do {
		bch->wake_again = false;
		q = bch->waiters;
		bch->waiters.head = bch->waiters.tail = NULL;
		while ((p = io_fifo_pop(&q))) {
			pstate(p)->waiting = false;
			parent_run(bch, p);
		}
	} while (bch->wake_again && bch->waiters.head);
	bch->waking = false;
}

void bdev_parents_fail(struct bdev_channel *bch, uint16_t status)
{
	struct nvmft_bdev_io *p;

	while ((p = io_fifo_pop(&bch->waiters))) {
		struct parent_state *ps = pstate(p);

		ps->waiting = false;
		if (!ps->status)
			ps->status = status;
		parent_run(bch, p);
	}
}
