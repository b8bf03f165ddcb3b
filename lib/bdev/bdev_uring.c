// SPDX-License-Identifier: MIT
/*
 * The uring backend: a regular file or a block device driven through the
 * reactor's own io_uring. Each I/O is a short chain of steps run one SQE at
 * a time from its completion (short transfers continue where they stopped,
 * -EAGAIN/-EINTR re-issue the step a bounded number of times).
 *
 * Choices worth knowing:
 * - Registered files: each channel puts its descriptors in the fixed-file
 *   table of the ring it uses (the reactor's, through the runtime's slot
 *   allocator, or its private ring's own table) and sets IOSQE_FIXED_FILE,
 *   saving an fget/fput per operation. A refusal (old kernel, table full)
 *   leaves that channel on plain descriptors; I/O never fails for it.
 * - Fixed buffers: a transfer of one segment that lies inside a region
 *   registered on the reactor's ring (the TCP data buffer pool, the
 *   connections' in-capsule slabs) goes as
 *   READ_FIXED/WRITE_FIXED, skipping the per-I/O page pinning; anything
 *   else is READV/WRITEV. Private rings (epoll engine) have no regions.
 * - O_DIRECT by default. An I/O whose iovecs (or file offset, after a
 *   short transfer) break the O_DIRECT alignment goes through a second,
 *   buffered descriptor of the same file rather than a bounce buffer: no
 *   size limit, no copy, no allocation, and the kernel keeps the page cache
 *   coherent with direct I/O (a direct read writes back dirty cached pages
 *   of its range first, a direct write invalidates them). Target data
 *   buffers are page aligned, so this is the odd-buffer path only.
 * - Write Zeroes is FALLOC_FL_ZERO_RANGE. The bdev layer fixes its
 *   emulation choices at registration, so when the file system answers
 *   EOPNOTSUPP (tmpfs) the bdev remembers it and writes zeroes itself from
 *   a shared zero buffer from then on.
 * - Deallocate is FALLOC_FL_PUNCH_HOLE | KEEP_SIZE (on a block device the
 *   kernel turns that into a zero-out the device does itself, never into
 *   writes of zero pages).
 *   Unsupported → remembered, and deallocate becomes a successful no-op:
 *   it is advisory, and the target does not promise zeroes for this backend.
 * - FUA is RWF_DSYNC on the write; FUA on Write Zeroes / deallocate adds an
 *   fdatasync step. Flush is FSYNC with IORING_FSYNC_DATASYNC.
 * - epoll engine (no reactor ring): each channel makes a small ring of its
 *   own, submits at once, and reaps when that ring's fd turns readable in
 *   the reactor's epoll set. Without io_uring at all, creation fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <linux/falloc.h>
#include <json-c/json.h>

#include "bdev/bdev_internal.h"
#include "bdev/bdev_uring_internal.h"
#include "runtime/engine.h"

/* Re-issues of one step after -EAGAIN/-EINTR before failing it (retryable). */
#define URING_MAX_RETRIES	16
/* READV/WRITEV take at most UIO_MAXIOV iovecs; longer lists go in batches. */
#define URING_IOV_BATCH		1024
/* One READ/WRITE of a single segment; the kernel caps lower anyway. */
#define URING_MAX_SEG		(1u << 30)
/* Shared zero source of the Write Zeroes fallback. */
#define URING_ZERO_BUF_SIZE	(1u << 20)
#define URING_ZERO_BUF_ALIGN	4096
/* Private ring of a channel under the epoll engine. */
#define URING_PRIV_ENTRIES	128
#define URING_REAP_BUDGET	256

struct uring_channel {
	struct uring_disk *disk;
	struct nvmft_thread *thread;
	bool has_priv;			/* epoll engine: a ring of our own */
	struct io_uring priv;
	struct epoll_op eop;		/* priv's fd in the reactor's epoll set */
	int slot[FD_NR];		/* fixed-file slot per descriptor, -1: plain */
	struct uring_counters *cnt;
	uint64_t in_flight;
	uint64_t errors;		/* for rate-limited logging */
};

enum uring_step {
	STEP_RW = 0,
	STEP_FSYNC,
	STEP_ZERO_RANGE,
	STEP_PUNCH,
	STEP_ZERO_WRITE,
};

/* Per-I/O state, in nvmft_bdev_io.driver_ctx. One SQE in flight at a time. */
struct uring_task {
	struct uring_op op;
	struct nvmft_bdev_io *io;
	struct uring_channel *ch;
	uint64_t done;		/* bytes finished (RW, ZERO_WRITE) */
	uint64_t total;
	uint8_t step;		/* enum uring_step */
	uint8_t retries;
};

_Static_assert(sizeof(struct uring_task) <= NVMFT_BDEV_IO_CTX_SIZE,
	       "uring task must fit the driver context");

static const char *disk_name(const struct uring_disk *d)
{
	return nvmft_bdev_name(d->bdev);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* ---- submission ---- */

static void count(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* Point @sqe (prepared with the plain descriptor) at its fixed-file slot. */
static void sqe_set_file(struct uring_channel *ch, struct io_uring_sqe *sqe,
			 enum uring_fd which)
{
	if (ch->slot[which] < 0) {
		count(&ch->cnt->plain_fd);
		return;
	}
	sqe->fd = ch->slot[which];
	sqe->flags |= IOSQE_FIXED_FILE;
	count(&ch->cnt->fixed_file);
}

static struct io_uring_sqe *chan_get_sqe(struct uring_channel *ch)
{
	struct io_uring_sqe *sqe;

	if (!ch->has_priv)
		return thread_get_sqe(ch->thread);
	sqe = io_uring_get_sqe(&ch->priv);
	if (!sqe && io_uring_submit(&ch->priv) >= 0)
		sqe = io_uring_get_sqe(&ch->priv);
	return sqe;
}

static void task_arm(struct uring_task *t, struct io_uring_sqe *sqe)
{
	struct uring_channel *ch = t->ch;
	int rc;

	io_uring_sqe_set_data(sqe, &t->op);
	if (!ch->has_priv)
		return;	/* the reactor submits once per loop turn */
	/*
	 * A private ring has no loop turn of its own. What a failed submit
	 * leaves queued goes with the next submit or reap of this channel.
	 */
	rc = io_uring_submit(&ch->priv);
	if (rc < 0 && rc != -EAGAIN && rc != -EBUSY && rc != -EINTR)
		RT_WARN(ch->disk->rt, "bdev %s: private io_uring submit: %s",
			disk_name(ch->disk), strerror(-rc));
}

static bool dio_ok(const struct uring_disk *d, const void *base, size_t len)
{
	return !(((uintptr_t)base & (d->mem_align - 1)) |
		 (len & (d->len_align - 1)));
}

/* The O_DIRECT descriptor when the transfer suits it, else the cached one. */
static enum uring_fd disk_fd_for(const struct uring_disk *d,
				 const struct iovec *iov, int cnt, uint64_t pos)
{
	int i;

	if (d->fd_cached < 0)
		return FD_DIRECT;
	if (pos & (d->len_align - 1))
		return FD_CACHED;
	for (i = 0; i < cnt; i++)
		if (!dio_ok(d, iov[i].iov_base, iov[i].iov_len))
			return FD_CACHED;
	return FD_DIRECT;
}

static int disk_fd(const struct uring_disk *d, enum uring_fd which)
{
	return which == FD_CACHED ? d->fd_cached : d->fd;
}

/*
 * A read or write of one segment: READ/WRITE_FIXED when the segment lies in
 * a region registered on the reactor's ring, else plain READ/WRITE.
 */
static void prep_rw_one(struct uring_channel *ch, struct io_uring_sqe *sqe,
			bool write, const struct iovec *seg, uint64_t pos)
{
	const struct uring_disk *d = ch->disk;
	enum uring_fd which = disk_fd_for(d, seg, 1, pos);
	int fd = disk_fd(d, which);
	int idx = -1;

	if (!ch->has_priv)
		idx = thread_buf_lookup(ch->thread, seg->iov_base, seg->iov_len);
	if (idx >= 0) {
		if (write)
			io_uring_prep_write_fixed(sqe, fd, seg->iov_base,
						  (unsigned int)seg->iov_len, pos, idx);
		else
			io_uring_prep_read_fixed(sqe, fd, seg->iov_base,
						 (unsigned int)seg->iov_len, pos, idx);
		count(&ch->cnt->fixed_buf);
	} else {
		if (write)
			io_uring_prep_write(sqe, fd, seg->iov_base,
					    (unsigned int)seg->iov_len, pos);
		else
			io_uring_prep_read(sqe, fd, seg->iov_base,
					   (unsigned int)seg->iov_len, pos);
		count(&ch->cnt->plain_buf);
	}
	sqe_set_file(ch, sqe, which);
}

static uint64_t task_pos(const struct uring_task *t)
{
	return t->io->offset_blocks * t->ch->disk->block_size + t->done;
}

static int step_rw(struct uring_task *t)
{
	struct nvmft_bdev_io *io = t->io;
	const struct uring_disk *d = t->ch->disk;
	bool write = io->type == NVMFT_IO_WRITE;
	uint64_t pos = task_pos(t), skip = t->done;
	struct io_uring_sqe *sqe;
	int i = 0;

	/* t->done < t->total, so a segment with bytes left exists. */
	while (skip >= io->iov[i].iov_len)
		skip -= io->iov[i++].iov_len;
	sqe = chan_get_sqe(t->ch);
	if (!sqe)
		return -ENXIO;
	if (skip || io->iov[i].iov_len > URING_MAX_SEG || io->iovcnt - i == 1) {
		/* One segment (or what is left of it after a short transfer). */
		struct iovec part = {
			.iov_base = (char *)io->iov[i].iov_base + skip,
			.iov_len = min_u64(io->iov[i].iov_len - skip, URING_MAX_SEG),
		};

		prep_rw_one(t->ch, sqe, write, &part, pos);
	} else {
		int cnt = io->iovcnt - i;
		enum uring_fd which;

		if (cnt > URING_IOV_BATCH)
			cnt = URING_IOV_BATCH;
		which = disk_fd_for(d, &io->iov[i], cnt, pos);
		if (write)
			io_uring_prep_writev(sqe, disk_fd(d, which), &io->iov[i],
					     (unsigned int)cnt, pos);
		else
			io_uring_prep_readv(sqe, disk_fd(d, which), &io->iov[i],
					    (unsigned int)cnt, pos);
		count(&t->ch->cnt->plain_buf);
		sqe_set_file(t->ch, sqe, which);
	}
	if (write && (io->flags & NVMFT_IO_FLAG_FUA))
		sqe->rw_flags = RWF_DSYNC;
	task_arm(t, sqe);
	return 0;
}

static void *disk_zero_buf(struct uring_disk *d)
{
	void *p = atomic_load_explicit(&d->zero_buf, memory_order_acquire);
	void *expected = NULL;

	if (p)
		return p;
	p = aligned_alloc(URING_ZERO_BUF_ALIGN, URING_ZERO_BUF_SIZE);
	if (!p)
		return NULL;
	memset(p, 0, URING_ZERO_BUF_SIZE);
	/* Two reactors may race to it: the loser frees its copy. */
	if (!atomic_compare_exchange_strong_explicit(&d->zero_buf, &expected, p,
						     memory_order_acq_rel,
						     memory_order_acquire)) {
		free(p);
		p = expected;
	}
	return p;
}

static int step_zero_write(struct uring_task *t)
{
	struct uring_disk *d = t->ch->disk;
	uint64_t pos = task_pos(t);
	struct io_uring_sqe *sqe;
	struct iovec part;

	part.iov_base = disk_zero_buf(d);
	if (!part.iov_base)
		return -ENOMEM;
	part.iov_len = min_u64(t->total - t->done, URING_ZERO_BUF_SIZE);
	sqe = chan_get_sqe(t->ch);
	if (!sqe)
		return -ENXIO;
	prep_rw_one(t->ch, sqe, true, &part, pos);
	if (t->io->flags & NVMFT_IO_FLAG_FUA)
		sqe->rw_flags = RWF_DSYNC;
	task_arm(t, sqe);
	return 0;
}

static int step_fsync(struct uring_task *t)
{
	struct io_uring_sqe *sqe = chan_get_sqe(t->ch);

	if (!sqe)
		return -ENXIO;
	/* fdatasync covers data written through either descriptor. */
	io_uring_prep_fsync(sqe, t->ch->disk->fd, IORING_FSYNC_DATASYNC);
	sqe_set_file(t->ch, sqe, FD_DIRECT);
	task_arm(t, sqe);
	return 0;
}

static int step_fallocate(struct uring_task *t, int mode)
{
	struct io_uring_sqe *sqe = chan_get_sqe(t->ch);

	if (!sqe)
		return -ENXIO;
	io_uring_prep_fallocate(sqe, t->ch->disk->fd, mode, task_pos(t), t->total);
	sqe_set_file(t->ch, sqe, FD_DIRECT);
	task_arm(t, sqe);
	return 0;
}

/* Issue the SQE of the task's current step. */
static int task_issue(struct uring_task *t)
{
	switch (t->step) {
	case STEP_RW:
		return step_rw(t);
	case STEP_FSYNC:
		return step_fsync(t);
	case STEP_ZERO_RANGE:
		return step_fallocate(t, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE);
	case STEP_PUNCH:
		return step_fallocate(t, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
	case STEP_ZERO_WRITE:
		return step_zero_write(t);
	}
	return -EINVAL;
}

/* ---- completion ---- */

static const char *io_type_name(enum nvmft_io_type type)
{
	static const char *const names[NVMFT_IO_TYPE_MAX] = {
		[NVMFT_IO_READ] = "read", [NVMFT_IO_WRITE] = "write",
		[NVMFT_IO_FLUSH] = "flush", [NVMFT_IO_WRITE_ZEROES] = "write zeroes",
		[NVMFT_IO_UNMAP] = "deallocate", [NVMFT_IO_COMPARE] = "compare",
	};

	return (unsigned int)type < NVMFT_IO_TYPE_MAX ? names[type] : "?";
}

static void task_finish(struct uring_task *t, int rc)
{
	struct uring_channel *ch = t->ch;
	struct nvmft_bdev_io *io = t->io;

	if (rc) {
		/* The 1st, 2nd, 4th, 8th... error: a dying disk cannot flood the log. */
		ch->errors++;
		if (!(ch->errors & (ch->errors - 1)))
			RT_WARN(ch->disk->rt, "bdev %s: %s of %llu blocks at block %llu failed: %s (%llu errors on this reactor)",
				disk_name(ch->disk), io_type_name(io->type),
				(unsigned long long)io->num_blocks,
				(unsigned long long)io->offset_blocks,
				strerror(-rc), (unsigned long long)ch->errors);
	}
	ch->in_flight--;
	thread_ref_put(ch->thread);
	nvmft_bdev_io_complete(io, rc);
}

/* Writes whose FUA the data step did not cover end with an fdatasync. */
static bool task_needs_sync(const struct uring_task *t)
{
	return (t->io->flags & NVMFT_IO_FLAG_FUA) &&
	       (t->step == STEP_ZERO_RANGE || t->step == STEP_PUNCH);
}

static void task_next(struct uring_task *t, enum uring_step step)
{
	int rc;

	t->step = step;
	t->retries = 0;
	rc = task_issue(t);
	if (rc)
		task_finish(t, rc);
}

static void disk_learn(struct uring_disk *d, _Atomic bool *flag, const char *what)
{
	if (!atomic_exchange_explicit(flag, true, memory_order_relaxed))
		RT_NOTICE(d->rt, "bdev %s: %s does not support %s; %s from now on",
			  disk_name(d), d->filename, what,
			  flag == &d->no_zero_range ?
			  "Write Zeroes writes zeroes" : "deallocate is a no-op");
}

/* A read, write or zero write moved @res bytes (0 = no progress). */
static void task_transferred(struct uring_task *t, int res)
{
	if (res == 0) {
		/*
		 * A read at EOF: the file shrank under the bdev, its data is
		 * gone. A write that moves nothing would loop forever.
		 */
		task_finish(t, -EIO);
		return;
	}
	t->done += (unsigned int)res;
	if (t->done >= t->total) {
		task_finish(t, 0);
		return;
	}
	task_next(t, t->step);
}

static void task_done(struct uring_op *op, const struct io_uring_cqe *cqe)
{
	struct uring_task *t = container_of(op, struct uring_task, op);
	int res = cqe->res;

	if ((res == -EAGAIN || res == -EINTR) && t->retries < URING_MAX_RETRIES) {
		t->retries++;
		res = task_issue(t);
		if (res)
			task_finish(t, res);
		return;
	}
	if (res == -EOPNOTSUPP && t->step == STEP_ZERO_RANGE) {
		disk_learn(t->ch->disk, &t->ch->disk->no_zero_range,
			   "FALLOC_FL_ZERO_RANGE");
		task_next(t, STEP_ZERO_WRITE);
		return;
	}
	if (res == -EOPNOTSUPP && t->step == STEP_PUNCH) {
		disk_learn(t->ch->disk, &t->ch->disk->no_punch_hole,
			   "FALLOC_FL_PUNCH_HOLE");
		res = 0;
	}
	if (res < 0) {
		task_finish(t, res);
		return;
	}
	if (t->step == STEP_RW || t->step == STEP_ZERO_WRITE) {
		task_transferred(t, res);
		return;
	}
	if (task_needs_sync(t)) {
		task_next(t, STEP_FSYNC);
		return;
	}
	task_finish(t, 0);
}

static int uring_submit(void *chan_ctx, struct nvmft_bdev_io *io)
{
	struct uring_channel *ch = chan_ctx;
	struct uring_disk *d = ch->disk;
	struct uring_task *t = (struct uring_task *)io->driver_ctx;
	int rc;

	t->op.done = task_done;
	t->io = io;
	t->ch = ch;
	t->done = 0;
	t->total = io->num_blocks * d->block_size;
	t->retries = 0;
	switch (io->type) {
	case NVMFT_IO_READ:
	case NVMFT_IO_WRITE:
		t->step = STEP_RW;
		break;
	case NVMFT_IO_FLUSH:
		t->step = STEP_FSYNC;
		break;
	case NVMFT_IO_WRITE_ZEROES:
		t->step = atomic_load_explicit(&d->no_zero_range, memory_order_relaxed) ?
			  STEP_ZERO_WRITE : STEP_ZERO_RANGE;
		break;
	case NVMFT_IO_UNMAP:
		if (atomic_load_explicit(&d->no_punch_hole, memory_order_relaxed)) {
			nvmft_bdev_io_complete(io, 0);
			return 0;
		}
		t->step = STEP_PUNCH;
		break;
	default:
		return -EINVAL;
	}
	rc = task_issue(t);
	if (rc)
		return rc;
	ch->in_flight++;
	/* The reactor must outlive what its ring still owes us. */
	thread_ref_get(ch->thread);
	return 0;
}

static bool uring_supports(void *bdev_ctx, enum nvmft_io_type type)
{
	/* COMPARE is left to the bdev layer's read-and-compare emulation. */
	return type == NVMFT_IO_READ || type == NVMFT_IO_WRITE ||
	       type == NVMFT_IO_FLUSH || type == NVMFT_IO_WRITE_ZEROES ||
	       type == NVMFT_IO_UNMAP;
}

/* ---- channels ---- */

static void priv_ring_ready(struct epoll_op *eop, uint32_t events)
{
	struct uring_channel *ch = container_of(eop, struct uring_channel, eop);
	struct io_uring_cqe *cqe;
	unsigned int n = 0;

	(void)events;
	/* Level-triggered: what the budget leaves is reported again. */
	while (n++ < URING_REAP_BUDGET && io_uring_peek_cqe(&ch->priv, &cqe) == 0) {
		struct uring_op *op = io_uring_cqe_get_data(cqe);
		struct io_uring_cqe copy = *cqe;

		/* Release the slot first: the handler may queue more work. */
		io_uring_cqe_seen(&ch->priv, cqe);
		if (op)
			op->done(op, &copy);
	}
	if (io_uring_sq_ready(&ch->priv))
		io_uring_submit(&ch->priv);
}

static int chan_priv_init(struct uring_channel *ch)
{
	struct uring_disk *d = ch->disk;
	struct epoll_event ev;
	int rc;

	rc = io_uring_queue_init(URING_PRIV_ENTRIES, &ch->priv, 0);
	if (rc < 0) {
		RT_ERR(d->rt, "bdev %s: reactor %u: cannot create a private io_uring: %s",
		       disk_name(d), nvmft_thread_index(ch->thread), strerror(-rc));
		return rc;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &ch->eop;
	ch->eop.ready = priv_ring_ready;
	if (epoll_ctl(thread_epoll_fd(ch->thread), EPOLL_CTL_ADD,
		      ch->priv.ring_fd, &ev) < 0) {
		rc = -errno;
		RT_ERR(d->rt, "bdev %s: reactor %u: cannot watch the private io_uring: %s",
		       disk_name(d), nvmft_thread_index(ch->thread), strerror(-rc));
		goto out_exit_ring;
	}
	ch->has_priv = true;
	return 0;

out_exit_ring:
	io_uring_queue_exit(&ch->priv);
	return rc;
}

/*
 * Put the disk's descriptors in the fixed-file table of the channel's ring.
 * Whatever is refused stays a plain descriptor (slot -1).
 */
static void chan_files_register(struct uring_channel *ch)
{
	const struct uring_disk *d = ch->disk;
	int fds[FD_NR] = { d->fd, d->fd_cached };
	int i, n = d->fd_cached >= 0 ? 2 : 1, rc;

	if (ch->has_priv) {
		/* The private ring is ours alone: its table is just these. */
		rc = io_uring_register_files(&ch->priv, fds, (unsigned int)n);
		if (rc < 0) {
			RT_INFO(d->rt, "bdev %s: reactor %u: plain descriptors on the private ring (%s)",
				disk_name(d), nvmft_thread_index(ch->thread), strerror(-rc));
			return;
		}
		for (i = 0; i < n; i++)
			ch->slot[i] = i;
		return;
	}
	for (i = 0; i < n; i++) {
		rc = thread_file_register(ch->thread, fds[i]);
		if (rc < 0) {
			RT_DEBUG(d->rt, "bdev %s: reactor %u: descriptor %d not registered (%s)",
				 disk_name(d), nvmft_thread_index(ch->thread), i,
				 strerror(-rc));
			continue;
		}
		ch->slot[i] = rc;
	}
}

static void chan_files_unregister(struct uring_channel *ch)
{
	int i;

	for (i = 0; i < FD_NR; i++) {
		/* A private ring's table goes with the ring. */
		if (ch->slot[i] >= 0 && !ch->has_priv)
			thread_file_unregister(ch->thread, ch->slot[i]);
		ch->slot[i] = -1;
	}
}

static int uring_channel_create(void *bdev_ctx, void *chan_ctx)
{
	struct uring_channel *ch = chan_ctx;
	struct uring_disk *d = bdev_ctx;
	unsigned int idx;
	int rc;

	ch->disk = d;
	ch->thread = nvmft_get_thread();
	ch->slot[FD_DIRECT] = ch->slot[FD_CACHED] = -1;
	idx = nvmft_thread_index(ch->thread);
	/* Reactors are numbered below nr_threads; a guard, not a case. */
	ch->cnt = &d->counters[idx < d->nr_counters ? idx : 0];
	if (!thread_ring(ch->thread)) {
		rc = chan_priv_init(ch);
		if (rc)
			return rc;
	}
	chan_files_register(ch);
	return 0;
}

static void uring_channel_destroy(void *bdev_ctx, void *chan_ctx)
{
	struct uring_channel *ch = chan_ctx;
	struct uring_disk *d = bdev_ctx;

	if (ch->in_flight) {
		/*
		 * Their SQEs may name our file slots: leave the slots taken
		 * (a leak) rather than let a new owner get those operations.
		 */
		RT_WARN(d->rt, "bdev %s: reactor %u: channel destroyed with %llu I/O in the kernel",
			disk_name(d), nvmft_thread_index(ch->thread),
			(unsigned long long)ch->in_flight);
	} else {
		chan_files_unregister(ch);
	}
	if (!ch->has_priv)
		return;
	epoll_ctl(thread_epoll_fd(ch->thread), EPOLL_CTL_DEL, ch->priv.ring_fd, NULL);
	/* The kernel finishes (or cancels) what is left before freeing it. */
	io_uring_queue_exit(&ch->priv);
	ch->has_priv = false;
}

/* ---- the device ---- */

void uring_disk_free(struct uring_disk *d)
{
	if (d->fd_cached >= 0)
		close(d->fd_cached);
	if (d->fd >= 0)
		close(d->fd);
	free(atomic_load_explicit(&d->zero_buf, memory_order_relaxed));
	free(d->counters);
	free(d->filename);
	free(d);
}

static void uring_destroy(void *bdev_ctx, void (*done)(void *arg), void *arg)
{
	uring_disk_free(bdev_ctx);
	done(arg);
}

static void json_add_u64(struct json_object *obj, const char *key, uint64_t v)
{
	json_object_object_add(obj, key, json_object_new_int64((int64_t)v));
}

/* Sums over the reactors: a snapshot, each reactor's part is its own. */
static void uring_dump_counters(const struct uring_disk *d, struct json_object *obj)
{
	struct json_object *io = json_object_new_object();
	uint64_t v[4] = { 0 };
	unsigned int i;

	if (!io)
		return;
	for (i = 0; i < d->nr_counters; i++) {
		const struct uring_counters *c = &d->counters[i];

		v[0] += atomic_load_explicit(&c->fixed_file, memory_order_relaxed);
		v[1] += atomic_load_explicit(&c->plain_fd, memory_order_relaxed);
		v[2] += atomic_load_explicit(&c->fixed_buf, memory_order_relaxed);
		v[3] += atomic_load_explicit(&c->plain_buf, memory_order_relaxed);
	}
	json_add_u64(io, "fixed_file_ops", v[0]);
	json_add_u64(io, "plain_fd_ops", v[1]);
	json_add_u64(io, "fixed_buffer_ops", v[2]);
	json_add_u64(io, "plain_buffer_ops", v[3]);
	json_object_object_add(obj, "io_uring", io);
}

static void uring_dump_info(void *bdev_ctx, struct json_object *obj)
{
	struct uring_disk *d = bdev_ctx;
	char uuid[37];

	bdev_uuid_format(nvmft_bdev_uuid(d->bdev), uuid);
	json_object_object_add(obj, "filename", json_object_new_string(d->filename));
	json_object_object_add(obj, "block_size", json_object_new_int(d->block_size));
	json_object_object_add(obj, "buffered", json_object_new_boolean(d->buffered));
	json_object_object_add(obj, "uuid", json_object_new_string(uuid));
	uring_dump_counters(d, obj);
}

const struct nvmft_bdev_ops bdev_uring_ops = {
	.name = "uring",
	.chan_ctx_size = sizeof(struct uring_channel),
	.io_ctx_size = sizeof(struct uring_task),
	.channel_create = uring_channel_create,
	.channel_destroy = uring_channel_destroy,
	.submit = uring_submit,
	.supports = uring_supports,
	.destroy = uring_destroy,
	.dump_info = uring_dump_info,
};
