// SPDX-License-Identifier: MIT
/*
 * The I/O path: checks, per-channel counters, the range-lock gate for
 * writes, dispatch (native, split/emulated, no-op, invalid), the retry
 * queue for I/O the backend refuses for lack of resources, completion and
 * the errno → NVMe status mapping.
 *
 * Everything here runs on the channel's reactor and takes no lock.
 */
#include <errno.h>
#include <nvme/types.h>

#include <nvmft/nvme_wire.h>

#include "bdev/bdev_internal.h"
#include "runtime/engine.h"

uint16_t nvmft_bdev_errno_to_status(enum nvmft_io_type type, int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case -EIO:
		if (type == NVMFT_IO_READ || type == NVMFT_IO_COMPARE)
			return NVMFT_STATUS(NVME_SCT_MEDIA, NVME_SC_READ_ERROR);
		return NVMFT_STATUS(NVME_SCT_MEDIA, NVME_SC_WRITE_FAULT);
	case -ENOSPC:
		return NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_CAP_EXCEEDED) |
		       NVMFT_STATUS_DNR;
	case -EAGAIN:
	case -ENOMEM:
	case -ETIMEDOUT:
	case -ECONNRESET:
		return NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_CMD_INTERRUPTED);
	case -EILSEQ:
		return NVMFT_STATUS(NVME_SCT_MEDIA, NVME_SC_COMPARE_FAILED);
	case -ENODEV:
		return NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY);
	default:
		return NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL);
	}
}

uint16_t bdev_status_invalid_opcode(void)
{
	return NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE) |
	       NVMFT_STATUS_DNR;
}

struct nvmft_bdev *nvmft_bdev_io_get_bdev(struct nvmft_bdev_io *io)
{
	return io_bch(io)->bdev;
}

/* ---- in-flight writes (what a range lock waits for) ---- */

static void write_track(struct bdev_channel *bch, struct nvmft_bdev_io *io)
{
	struct nvmft_bdev_io *head = bch->writes;

	io->internal.seq = ++bch->write_seq;
	io->internal.state |= IO_STATE_TRACKED;
	io->internal.link[0] = NULL;
	io->internal.link[1] = head;
	if (head)
		head->internal.link[0] = io;
	bch->writes = io;
}

static void write_untrack(struct bdev_channel *bch, struct nvmft_bdev_io *io)
{
	struct nvmft_bdev_io *prev = io->internal.link[0];
	struct nvmft_bdev_io *next = io->internal.link[1];

	if (prev)
		prev->internal.link[1] = next;
	else
		bch->writes = next;
	if (next)
		next->internal.link[0] = prev;
	io->internal.state &= ~IO_STATE_TRACKED;
	if (bch->locks)
		bdev_locks_write_done(bch, io);
}

bool bdev_write_blocked(struct bdev_channel *bch, const struct nvmft_bdev_io *io)
{
	const struct lock_node *n;

	for (n = bch->locks; n; n = n->next) {
		const struct range_lock *l = n->lock;

		if (!ranges_overlap(io->offset_blocks, io->num_blocks,
				    l->offset, l->num))
			continue;
		if (!io->lock_owner || io->lock_owner != l->owner)
			return true;
	}
	return false;
}

/* ---- completion ---- */

static void stats_count(struct bdev_channel *bch, const struct nvmft_bdev_io *io,
			uint16_t status)
{
	struct nvmft_bdev_stats *st = &bch->stats;

	st->ops[io->type]++;
	if (status) {
		st->errors++;
		return;
	}
	if (io->type == NVMFT_IO_READ)
		st->bytes_read += io->num_blocks << bch->bdev->block_shift;
	else if (io->type == NVMFT_IO_WRITE)
		st->bytes_written += io->num_blocks << bch->bdev->block_shift;
}

void bdev_io_finish(struct bdev_channel *bch, struct nvmft_bdev_io *io,
		    uint16_t status)
{
	if (io->internal.state & IO_STATE_CHILD) {
		io->cb(io, status, io->cb_arg);
		return;
	}
	if (io->internal.state & IO_STATE_TRACKED)
		write_untrack(bch, io);
	stats_count(bch, io, status);
	bch->in_flight--;
	io->internal.state = 0;
	io->cb(io, status, io->cb_arg);
}

void nvmft_bdev_io_complete_status(struct nvmft_bdev_io *io, uint16_t status)
{
	struct bdev_channel *bch = io_bch(io);

	ASSERT_ON_THREAD(bch->thread);
	bdev_io_finish(bch, io, status);
	/* A completion frees backend resources: retry what was refused. */
	if (bch->retry.head)
		bdev_retry_kick(bch);
}

void nvmft_bdev_io_complete(struct nvmft_bdev_io *io, int rc)
{
	nvmft_bdev_io_complete_status(io, nvmft_bdev_errno_to_status(io->type, rc));
}

/* ---- backend submission and the retry queue ---- */

/* Return 0 when the backend took (or we failed) @io, else -ENOMEM/-EAGAIN. */
static int backend_try(struct bdev_channel *bch, struct nvmft_bdev_io *io)
{
	int rc = bch->bdev->ops->submit(bch->chan_ctx, io);

	if (rc == 0)
		return 0;
	if (rc == -ENOMEM || rc == -EAGAIN)
		return rc;
	bdev_io_finish(bch, io, nvmft_bdev_errno_to_status(io->type, rc));
	return 0;
}

static void retry_enqueue(struct bdev_channel *bch, struct nvmft_bdev_io *io,
			  bool front)
{
	if (front)
		io_fifo_push_front(&bch->retry, io);
	else
		io_fifo_push(&bch->retry, io);
	if (!bch->retry_poller_active) {
		bch->retry_poller_active = true;
		nvmft_poller_resume(bch->retry_poller);
	}
}

void bdev_backend_submit(struct bdev_channel *bch, struct nvmft_bdev_io *io)
{
	/* Behind what is already waiting: the backend sees I/O in order. */
	if (bch->retry.head) {
		retry_enqueue(bch, io, false);
		return;
	}
	if (backend_try(bch, io))
		retry_enqueue(bch, io, false);
}

void bdev_retry_kick(struct bdev_channel *bch)
{
	struct nvmft_bdev_io *io;

	/* Inline completions land here again: the outer loop carries on. */
	if (bch->retrying)
		return;
	bch->retrying = true;
	while ((io = io_fifo_pop(&bch->retry))) {
		if (backend_try(bch, io)) {
			retry_enqueue(bch, io, true);
			break;
		}
	}
	bch->retrying = false;
	if (!bch->retry.head && bch->retry_poller_active) {
		bch->retry_poller_active = false;
		nvmft_poller_pause(bch->retry_poller);
	}
}

/*
 * Timed poller, resumed only while the queue is not empty: when nothing of
 * the channel is in flight, no completion would ever kick the queue.
 */
int bdev_retry_poll(void *arg)
{
	struct bdev_channel *bch = arg;
	struct nvmft_bdev_io *head = bch->retry.head;

	if (!head)
		return 0;
	bdev_retry_kick(bch);
	return bch->retry.head != head;
}

/* ---- dispatch ---- */

void bdev_dispatch(struct bdev_channel *bch, struct nvmft_bdev_io *io)
{
	struct nvmft_bdev *bdev = bch->bdev;

	switch (bdev->mode[io->type]) {
	case IO_MODE_NATIVE:
		if (bdev_needs_split(bdev, io))
			bdev_parent_start(bch, io);
		else
			bdev_backend_submit(bch, io);
		return;
	case IO_MODE_EMULATE:
		bdev_parent_start(bch, io);
		return;
	case IO_MODE_NOOP:
		bdev_io_finish(bch, io, 0);
		return;
	case IO_MODE_INVALID:
	default:
		bdev_io_finish(bch, io, bdev_status_invalid_opcode());
		return;
	}
}

/* After a lock left this channel: run the writes it no longer blocks. */
void bdev_release_held(struct bdev_channel *bch)
{
	struct io_fifo q = bch->held;
	struct nvmft_bdev_io *io;

	bch->held.head = bch->held.tail = NULL;
	while ((io = io_fifo_pop(&q))) {
		if (bdev_write_blocked(bch, io)) {
			io_fifo_push(&bch->held, io);
			continue;
		}
		write_track(bch, io);
		bdev_dispatch(bch, io);
	}
}

/* Channel teardown: fail what never reached the backend. */
void bdev_fail_queued(struct bdev_channel *bch, uint16_t status)
{
	struct nvmft_bdev_io *io;

	while ((io = io_fifo_pop(&bch->retry)))
		bdev_io_finish(bch, io, status);
	while ((io = io_fifo_pop(&bch->held)))
		bdev_io_finish(bch, io, status);
	bdev_parents_fail(bch, status);
}

static bool iov_matches(const struct nvmft_bdev_io *io, uint64_t bytes)
{
	uint64_t sum = 0;
	int i;

	if (!io->iov || io->iovcnt <= 0)
		return false;
	for (i = 0; i < io->iovcnt; i++) {
		if (io->iov[i].iov_len > bytes - sum)
			return false;
		sum += io->iov[i].iov_len;
	}
	return sum == bytes;
}

static int io_check_range(const struct nvmft_bdev *bdev,
			  const struct nvmft_bdev_io *io)
{
	uint64_t nb;

	if (io->type == NVMFT_IO_FLUSH)
		return 0;
	nb = atomic_load_explicit(&bdev->num_blocks, memory_order_relaxed);
	if (io->num_blocks == 0 || io->offset_blocks >= nb ||
	    io->num_blocks > nb - io->offset_blocks)
		return -EINVAL;
	if ((io->type == NVMFT_IO_READ || io->type == NVMFT_IO_WRITE ||
	     io->type == NVMFT_IO_COMPARE) &&
	    !iov_matches(io, io->num_blocks << bdev->block_shift))
		return -EINVAL;
	return 0;
}

int nvmft_bdev_submit(struct nvmft_bdev_desc *desc, struct nvmft_io_channel *ch,
		      struct nvmft_bdev_io *io)
{
	struct nvmft_bdev *bdev;
	struct bdev_channel *bch;

	if (!desc || !ch || !io || !io->cb ||
	    (unsigned int)io->type >= NVMFT_IO_TYPE_MAX ||
	    (io->flags & ~(uint32_t)NVMFT_IO_FLAG_FUA))
		return -EINVAL;
	bdev = desc->bdev;
	bch = bdev_ch(ch);
	if (bch->bdev != bdev)
		return -EINVAL;
	ASSERT_ON_THREAD(bch->thread);
	if (!desc->write && io_type_writes(io->type))
		return -EBADF;
	if (atomic_load_explicit(&bdev->removed, memory_order_relaxed))
		return -ENODEV;
	if (io_check_range(bdev, io))
		return -EINVAL;

	io->internal.desc = desc;
	io->internal.ch = ch;
	io->internal.qnext = NULL;
	io->internal.seq = 0;
	io->internal.state = 0;
	bch->in_flight++;

	if (io_type_writes(io->type)) {
		if (atomic_load_explicit(&bdev->lock_gen, memory_order_acquire) !=
		    bch->lock_gen)
			bdev_locks_sync(bch);
		if (bch->locks && bdev_write_blocked(bch, io)) {
			io_fifo_push(&bch->held, io);
			return 0;
		}
		write_track(bch, io);
	}
	bdev_dispatch(bch, io);
	return 0;
}
