// SPDX-License-Identifier: MIT
/*
 * One NBD connection of an hbd volume, owned by one reactor: libnbd's
 * asynchronous API driven by the reactor's own event engine (a one-shot
 * io_uring poll re-armed after each event, so that readiness behaves as
 * level-triggered; or the epoll instance), the I/O queue, completion,
 * and recovery when the connection drops.
 *
 * libnbd calls a command's completion callback with the handle's lock held
 * and may call it from inside another libnbd call, so the callback only
 * records the result; conn_run() finishes I/O afterwards, outside libnbd,
 * which also lets completions submit new I/O safely.
 *
 * Recovery: a command that dies with its connection (ENOTCONN, ESHUTDOWN,
 * a dead handle, no answer for io_timeout_ms) is issued once more on a new
 * connection, which the control thread opens; if that fails, or the I/O
 * had been issued twice already, it fails with the path status. A write
 * is only ever reported done on the server's own success answer.
 *
 * No allocation per I/O here: the per-I/O state lives in the bdev_io's
 * driver_ctx. (libnbd allocates its own small command record per NBD
 * command.) Multi-iovec READ/WRITE become one NBD command per iovec, at
 * consecutive offsets; only a server that demands aligned requests and an
 * iovec that is not a multiple of that alignment take the connection's
 * single bounce buffer.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <nvme/types.h>

#include <nvmft/nvme_wire.h>

#include "bdev/hbd/hbd_internal.h"

/* ------------------------------------------------------------- queues */

static void fifo_push(struct hio_fifo *q, struct hbd_io *hio)
{
	hio->next = NULL;
	if (q->tail)
		q->tail->next = hio;
	else
		q->head = hio;
	q->tail = hio;
}

static void fifo_push_front(struct hio_fifo *q, struct hbd_io *hio)
{
	hio->next = q->head;
	q->head = hio;
	if (!q->tail)
		q->tail = hio;
}

static struct hbd_io *fifo_pop(struct hio_fifo *q)
{
	struct hbd_io *hio = q->head;

	if (hio) {
		q->head = hio->next;
		if (!q->head)
			q->tail = NULL;
		hio->next = NULL;
	}
	return hio;
}

static void inflight_add(struct hbd_conn *c, struct hbd_io *hio)
{
	hio->if_prev = NULL;
	hio->if_next = c->inflight;
	if (c->inflight)
		c->inflight->if_prev = hio;
	c->inflight = hio;
	hio->on_inflight = true;
}

static void inflight_del(struct hbd_conn *c, struct hbd_io *hio)
{
	if (!hio->on_inflight)
		return;
	if (hio->if_prev)
		hio->if_prev->if_next = hio->if_next;
	else
		c->inflight = hio->if_next;
	if (hio->if_next)
		hio->if_next->if_prev = hio->if_prev;
	hio->on_inflight = false;
}

/* ---------------------------------------------------------- references */

static void conn_get(struct hbd_conn *c)
{
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

/* Any thread: the control thread drops the job's when a reactor is gone. */
static void conn_put(struct hbd_conn *c)
{
	if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(c->bounce);
	vol_put(c->vol);
	free(c);
}

/* ---------------------------------------------------------- completion */

/* Errors that say "the connection", not "the data". */
static bool err_is_conn(int err)
{
	switch (err) {
	case ENOTCONN:
	case ESHUTDOWN:
	case ECONNRESET:
	case ECONNABORTED:
	case EPIPE:
	case ETIMEDOUT:
		return true;
	default:
		return false;
	}
}

static uint16_t err_status(enum nvmft_io_type type, int err)
{
	switch (err) {
	case 0:
		return 0;
	case EPERM:
	case EROFS:
		/* A read-only export. */
		return NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_NS_WRITE_PROTECTED) |
		       NVMFT_STATUS_DNR;
	case ENOTSUP:
		return NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE) |
		       NVMFT_STATUS_DNR;
	default:
		if (err_is_conn(err))
			return NVMFT_HBD_PATH_STATUS;
		/* EIO → media errors, ENOSPC → capacity exceeded, ... */
		return nvmft_bdev_errno_to_status(type, -err);
	}
}

/* Origin reactor of a forwarded I/O. */
static void fwd_done_msg(void *arg)
{
	struct nvmft_bdev_io *io = arg;

	nvmft_bdev_io_complete_status(io, io_hio(io)->status);
}

static void hio_finish(struct hbd_conn *c, struct hbd_io *hio, uint16_t status)
{
	struct nvmft_bdev_io *io = hio_io(hio);
	int rc;

	if (status == NVMFT_HBD_PATH_STATUS)
		stat_inc(&c->vol->path_failures);
	if (!hio->origin) {
		nvmft_bdev_io_complete_status(io, status);
		return;
	}
	hio->status = status;
	rc = nvmft_thread_send_msg(hio->origin, fwd_done_msg, io);
	if (rc == -ENOMEM)
		fifo_push(&c->returns, hio);	/* the tick sends it again */
	else if (rc)
		nvmft_log(c->vol->pool->hbd->rt, NVMFT_LOG_ERR,
			  "hbd %s: completion for a stopped reactor dropped: %d",
			  c->vol->bdev_name, rc);
}

static unsigned int returns_flush(struct hbd_conn *c)
{
	struct hbd_io *hio;
	unsigned int n = 0;

	while ((hio = c->returns.head)) {
		if (nvmft_thread_send_msg(hio->origin, fwd_done_msg,
					  hio_io(hio)) == -ENOMEM)
			break;
		fifo_pop(&c->returns);
		n++;
	}
	return n;
}

/* libnbd callback: record, and leave the rest to conn_run(). */
static int cmd_cb(void *user_data, int *error)
{
	struct hbd_io *hio = user_data;
	struct hbd_conn *c = hio->conn;

	c->answers++;
	c->nr_cmds--;
	if (*error) {
		if (err_is_conn(*error)) {
			hio->lost = true;
			c->broken = true;
		} else if (!hio->error) {
			hio->error = *error;
		}
	}
	if (--hio->pending == 0) {
		inflight_del(c, hio);
		fifo_push(&c->done, hio);
	}
	return 1;
}

/* ------------------------------------------------------------- issuing */

static bool needs_flush_after(const struct hbd_volume *vol,
			      const struct nvmft_bdev_io *io)
{
	return (io->flags & NVMFT_IO_FLAG_FUA) && !vol->can_fua &&
	       vol->can_flush &&
	       (io->type == NVMFT_IO_WRITE || io->type == NVMFT_IO_WRITE_ZEROES);
}

static bool needs_bounce(const struct hbd_volume *vol,
			 const struct nvmft_bdev_io *io)
{
	if (vol->min_block <= 1)
		return false;
	for (int i = 0; i < io->iovcnt; i++)
		if (io->iov[i].iov_len % vol->min_block)
			return true;
	return false;
}

static void copy_from_iov(const struct nvmft_bdev_io *io, uint8_t *dst)
{
	for (int i = 0; i < io->iovcnt; i++) {
		memcpy(dst, io->iov[i].iov_base, io->iov[i].iov_len);
		dst += io->iov[i].iov_len;
	}
}

static void copy_to_iov(const struct nvmft_bdev_io *io, const uint8_t *src)
{
	for (int i = 0; i < io->iovcnt; i++) {
		memcpy(io->iov[i].iov_base, src, io->iov[i].iov_len);
		src += io->iov[i].iov_len;
	}
}

/* One libnbd call's result: a cookie (the callback will come) or -1. */
static void cmd_issued(struct hbd_conn *c, struct hbd_io *hio, int64_t cookie)
{
	int err;

	if (cookie >= 0)
		return;
	/* Refused before being queued: the callback never runs. */
	err = nbd_get_errno();
	hio->pending--;
	c->nr_cmds--;
	if (nbd_aio_is_dead(c->h) || nbd_aio_is_closed(c->h) || err_is_conn(err)) {
		hio->lost = true;
		c->broken = true;
	} else if (!hio->error) {
		hio->error = err ? err : EIO;
	}
}

/*
 * Count a command before the call: libnbd may run its callback (a dead
 * connection aborting everything) before the call returns.
 */
#define CMD(c, hio, call) do {						\
	(hio)->pending++;						\
	(c)->nr_cmds++;							\
	cmd_issued((c), (hio), (call));					\
} while (0)

static void issue_rw(struct hbd_conn *c, struct hbd_io *hio, uint64_t off,
		     uint32_t flags)
{
	struct nvmft_bdev_io *io = hio_io(hio);
	nbd_completion_callback cb = { .callback = cmd_cb, .user_data = hio };
	bool rd = io->type == NVMFT_IO_READ;

	if (hio->bounced) {
		size_t len = io->num_blocks * c->vol->block_size;

		if (rd)
			CMD(c, hio, nbd_aio_pread(c->h, c->bounce, len, off, cb, 0));
		else
			CMD(c, hio, nbd_aio_pwrite(c->h, c->bounce, len, off, cb, flags));
		return;
	}
	for (int i = 0; i < io->iovcnt && !c->broken; i++) {
		size_t len = io->iov[i].iov_len;

		if (!len)
			continue;
		if (rd)
			CMD(c, hio, nbd_aio_pread(c->h, io->iov[i].iov_base, len,
						  off, cb, 0));
		else
			CMD(c, hio, nbd_aio_pwrite(c->h, io->iov[i].iov_base, len,
						   off, cb, flags));
		off += len;
	}
}

/* NBD lengths are 32-bit: large TRIM / WRITE_ZEROES go in chunks. */
static void issue_ranges(struct hbd_conn *c, struct hbd_io *hio, uint64_t off,
			 uint64_t len, bool zero, uint32_t flags)
{
	nbd_completion_callback cb = { .callback = cmd_cb, .user_data = hio };

	while (len && !c->broken) {
		uint64_t n = len < HBD_CHUNK_BYTES ? len : HBD_CHUNK_BYTES;

		if (zero)
			CMD(c, hio, nbd_aio_zero(c->h, n, off, cb, flags));
		else
			CMD(c, hio, nbd_aio_trim(c->h, n, off, cb, flags));
		off += n;
		len -= n;
	}
}

/* Start @hio on the connection. False: it cannot start yet (bounce busy). */
static bool conn_issue(struct hbd_conn *c, struct hbd_io *hio)
{
	struct nvmft_bdev_io *io = hio_io(hio);
	struct hbd_volume *vol = c->vol;
	nbd_completion_callback cb = { .callback = cmd_cb, .user_data = hio };
	uint64_t off = io->offset_blocks * vol->block_size;
	uint64_t len = io->num_blocks * vol->block_size;
	uint32_t fua = (io->flags & NVMFT_IO_FLAG_FUA) && vol->can_fua ?
		       LIBNBD_CMD_FLAG_FUA : 0;

	if (hio->phase == HIO_MAIN &&
	    (io->type == NVMFT_IO_READ || io->type == NVMFT_IO_WRITE) &&
	    needs_bounce(vol, io)) {
		if (c->bounce_owner)
			return false;
		c->bounce_owner = hio;
		hio->bounced = true;
		if (io->type == NVMFT_IO_WRITE)
			copy_from_iov(io, c->bounce);
	}
	if (hio->phase == HIO_MAIN && ++hio->tries > 1)
		stat_inc(&vol->retries);
	hio->conn = c;
	inflight_add(c, hio);
	/* Held while issuing: an inline answer cannot finish @hio early. */
	hio->pending = 1;
	if (hio->phase == HIO_FLUSH) {
		CMD(c, hio, nbd_aio_flush(c->h, cb, 0));
	} else {
		switch (io->type) {
		case NVMFT_IO_READ:
		case NVMFT_IO_WRITE:
			issue_rw(c, hio, off, fua);
			break;
		case NVMFT_IO_FLUSH:
			CMD(c, hio, nbd_aio_flush(c->h, cb, 0));
			break;
		case NVMFT_IO_WRITE_ZEROES:
			issue_ranges(c, hio, off, len, true, fua);
			break;
		case NVMFT_IO_UNMAP:
			issue_ranges(c, hio, off, len, false, 0);
			break;
		default:
			hio->error = ENOTSUP;
			break;
		}
	}
	if (--hio->pending == 0) {
		inflight_del(c, hio);
		fifo_push(&c->done, hio);
	}
	return true;
}

/* Every command of @hio has been answered (or died with the connection). */
static void hio_answered(struct hbd_conn *c, struct hbd_io *hio)
{
	struct nvmft_bdev_io *io = hio_io(hio);

	if (hio->bounced) {
		if (!hio->lost && !hio->error && io->type == NVMFT_IO_READ)
			copy_to_iov(io, c->bounce);
		c->bounce_owner = NULL;
		hio->bounced = false;
	}
	if (hio->lost) {
		hio->lost = false;
		hio->error = 0;
		hio->phase = HIO_MAIN;
		if (hio->tries < HBD_MAX_TRIES && c->state != CONN_CLOSED) {
			/* Waits for the new connection (or fails with it). */
			fifo_push(&c->waiting, hio);
			return;
		}
		hio_finish(c, hio, NVMFT_HBD_PATH_STATUS);
		return;
	}
	if (!hio->error && hio->phase == HIO_MAIN && needs_flush_after(c->vol, io)) {
		/* FUA without server FUA: the write, then a flush. */
		hio->phase = HIO_FLUSH;
		fifo_push_front(&c->waiting, hio);
		return;
	}
	hio_finish(c, hio, err_status(io->type, hio->error));
}

/* ---------------------------------------------------- the event engine */

static void poll_arm(struct hbd_conn *c, struct conn_poll *p, unsigned int mask)
{
	struct io_uring_sqe *sqe;

	if (p->armed)
		return;
	sqe = thread_get_sqe(c->thread);
	if (!sqe) {
		c->broken = true;
		return;
	}
	io_uring_prep_poll_add(sqe, c->fd, mask);
	io_uring_sqe_set_data(sqe, &p->op);
	p->armed = true;
	p->gen = c->gen;
	conn_get(c);
	/* A stopping reactor waits for this poll's last completion. */
	thread_ref_get(c->thread);
}

static void poll_cancel(struct hbd_conn *c, struct conn_poll *p)
{
	struct io_uring_sqe *sqe;

	if (!p->armed || p->gen != c->gen)
		return;
	sqe = thread_get_sqe(c->thread);
	if (!sqe)
		return;
	io_uring_prep_poll_remove(sqe, (uint64_t)(uintptr_t)&p->op);
	io_uring_sqe_set_data(sqe, NULL);
}

static int ep_ctl(struct hbd_conn *c, int op, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = &c->eop };

	return epoll_ctl(thread_epoll_fd(c->thread), op, c->fd, &ev);
}

static bool engine_is_uring(const struct hbd_conn *c)
{
	return thread_ring(c->thread) != NULL;
}

static bool wants_write(struct hbd_conn *c)
{
	return nbd_aio_get_direction(c->h) & LIBNBD_AIO_DIRECTION_WRITE;
}

/*
 * Watch what libnbd waits for: replies (nearly always), and room to send
 * when requests are queued. Watching for input libnbd cannot take yet
 * would spin on a level-triggered readiness.
 */
static void conn_watch_update(struct hbd_conn *c)
{
	unsigned int dir = nbd_aio_get_direction(c->h);
	uint32_t ev = ((dir & LIBNBD_AIO_DIRECTION_READ) ? EPOLLIN : 0) |
		      ((dir & LIBNBD_AIO_DIRECTION_WRITE) ? EPOLLOUT : 0);

	if (!ev) {
		c->broken = true;	/* closed or dead */
		return;
	}
	if (engine_is_uring(c)) {
		if (ev & EPOLLIN)
			poll_arm(c, &c->pin, POLLIN);
		if (ev & EPOLLOUT)
			poll_arm(c, &c->pout, POLLOUT);
		return;
	}
	if (ev == c->ep_events)
		return;
	if (ep_ctl(c, c->ep_events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, ev)) {
		c->broken = true;
		return;
	}
	c->ep_events = ev;
}

static void conn_unwatch(struct hbd_conn *c)
{
	if (engine_is_uring(c)) {
		poll_cancel(c, &c->pin);
		poll_cancel(c, &c->pout);
		return;
	}
	if (c->ep_events)
		ep_ctl(c, EPOLL_CTL_DEL, 0);
	c->ep_events = 0;
}

/*
 * Read what has arrived. Each notify handles at most one reply (or chunk),
 * and libnbd must only be told "readable" when it is: a notify that finds
 * nothing leaves the handle waiting in mid-reply, where it does not send
 * new commands, so a quiet connection would never issue again. Hence the
 * FIONREAD check before every notify but the first (which the poll vouches
 * for).
 */
static void conn_read(struct hbd_conn *c)
{
	for (int i = 0; i < HBD_READ_BUDGET && c->h && !c->broken; i++) {
		int avail = 0;

		if (i > 0 && (ioctl(c->fd, FIONREAD, &avail) < 0 || avail <= 0))
			break;
		if (!(nbd_aio_get_direction(c->h) & LIBNBD_AIO_DIRECTION_READ))
			break;
		if (nbd_aio_notify_read(c->h) < 0 || nbd_aio_is_dead(c->h) ||
		    nbd_aio_is_closed(c->h)) {
			c->broken = true;
			break;
		}
	}
}

static void conn_write(struct hbd_conn *c)
{
	if (!c->h || c->broken || !wants_write(c))
		return;
	if (nbd_aio_notify_write(c->h) < 0 || nbd_aio_is_dead(c->h))
		c->broken = true;
}

static void conn_run(struct hbd_conn *c);

static bool poll_current(struct hbd_conn *c, struct conn_poll *p,
			 const struct io_uring_cqe *cqe)
{
	return c->h && p->gen == c->gen && c->state == CONN_READY &&
	       cqe->res != -ECANCELED;
}

static void pin_done(struct uring_op *op, const struct io_uring_cqe *cqe)
{
	struct conn_poll *p = container_of(op, struct conn_poll, op);
	struct hbd_conn *c = p->conn;

	p->armed = false;
	thread_ref_put(c->thread);
	if (poll_current(c, p, cqe))
		conn_read(c);
	if (c->state != CONN_CLOSED)
		conn_run(c);
	conn_put(c);
}

static void pout_done(struct uring_op *op, const struct io_uring_cqe *cqe)
{
	struct conn_poll *p = container_of(op, struct conn_poll, op);
	struct hbd_conn *c = p->conn;

	p->armed = false;
	thread_ref_put(c->thread);
	if (poll_current(c, p, cqe))
		conn_write(c);
	if (c->state != CONN_CLOSED)
		conn_run(c);
	conn_put(c);
}

static void ep_ready(struct epoll_op *op, uint32_t events)
{
	struct hbd_conn *c = container_of(op, struct hbd_conn, eop);

	/* A stale event of a handle closed earlier in the same batch. */
	if (!c->h || c->state != CONN_READY)
		return;
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		conn_read(c);
	if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		conn_write(c);
	conn_run(c);
}

/* ---------------------------------------------------- connection state */

static void conn_close_handle(struct hbd_conn *c)
{
	conn_unwatch(c);
	nbd_close(c->h);
	c->h = NULL;
	c->fd = -1;
	/* Polls still armed belong to the old handle from now on. */
	c->gen++;
}

static void conn_install(struct hbd_conn *c, struct nbd_handle *h)
{
	c->h = h;
	c->fd = nbd_aio_get_fd(h);
	c->gen++;
	c->state = CONN_READY;
	c->backoff_ms = c->vol->pool->opts.retry_backoff_ms;
	c->answers_seen = c->answers;
	c->stall_since_us = nvmft_now_us();
	stat_inc(&c->vol->connects);
	if (c->fd < 0)
		c->broken = true;
	else
		conn_watch_update(c);
}

static void conn_job_done(void *arg);

/* Control thread: open a new connection for @c. */
static void conn_job_run(struct hbd_job *job, bool cancelled)
{
	struct hbd_conn *c = container_of(job, struct hbd_conn, job);
	struct hbd_volume *vol = c->vol;
	struct nvmft_hbd *hbd = vol->pool->hbd;
	struct nbd_handle *h = NULL;
	int rc = -ECANCELED;

	if (!cancelled) {
		rc = hbd_nbd_open(&hbd->ctl, vol->uri,
				  vol->pool->opts.connect_timeout_ms, &h);
		/* The server tells the export's size only at negotiation. */
		if (!rc && nbd_get_size(h) >= 0)
			vol_size_report(vol, (uint64_t)nbd_get_size(h),
					"on a new connection");
	}
	c->job_h = h;
	c->job_rc = rc;
	if (ctl_send(&hbd->ctl, c->thread, conn_job_done, c)) {
		/* Its reactor is gone: nobody will use this connection. */
		if (h)
			nbd_close(h);
		conn_put(c);
	}
}

static void conn_connect(struct hbd_conn *c)
{
	struct nvmft_hbd_pool *pool = c->vol->pool;

	c->state = CONN_CONNECTING;
	c->gen_seen = atomic_load(&pool->up_gen);
	c->size_gen_seen = atomic_load(&c->vol->size_gen);
	c->job_out = true;
	conn_get(c);
	ctl_post(&pool->hbd->ctl, &c->job, 0);
}

static void conn_backoff(struct hbd_conn *c, int rc)
{
	const struct nvmft_hbd_pool_opts *o = &c->vol->pool->opts;

	c->state = CONN_BACKOFF;
	if (rc == -ECANCELED) {
		/* The control thread is gone: no more attempts. */
		c->next_try_us = UINT64_MAX;
		return;
	}
	if (c->backoff_ms == o->retry_backoff_ms)
		nvmft_log(c->vol->pool->hbd->rt, NVMFT_LOG_WARN,
			  "hbd %s: cannot connect to %s: %s; retrying",
			  c->vol->bdev_name, c->vol->uri, strerror(-rc));
	c->next_try_us = nvmft_now_us() + (uint64_t)c->backoff_ms * 1000;
	c->backoff_ms = c->backoff_ms * 2 > o->retry_backoff_max_ms ?
			o->retry_backoff_max_ms : c->backoff_ms * 2;
	pool_kick(c->vol->pool);
}

/* Owning reactor: the control thread's answer to conn_connect(). */
static void conn_job_done(void *arg)
{
	struct hbd_conn *c = arg;
	struct nbd_handle *h = c->job_h;

	c->job_h = NULL;
	c->job_out = false;
	if (c->state == CONN_CLOSED) {
		if (h)
			nbd_close(h);
	} else {
		if (c->job_rc == 0)
			conn_install(c, h);
		else
			conn_backoff(c, c->job_rc);
		conn_run(c);
	}
	conn_put(c);
}

/* The connection is gone: take back what was in flight, reconnect. */
static void conn_break(struct hbd_conn *c)
{
	struct hbd_io *hio;

	c->broken = false;
	if (!c->h)
		return;
	stat_inc(&c->vol->drops);
	nvmft_log(c->vol->pool->hbd->rt, NVMFT_LOG_WARN,
		  "hbd %s: connection on reactor %u lost; reconnecting",
		  c->vol->bdev_name, nvmft_thread_index(c->thread));
	conn_close_handle(c);
	/* nbd_close() drops unanswered commands without calling back. */
	while ((hio = c->inflight)) {
		inflight_del(c, hio);
		hio->pending = 0;
		hio->lost = true;
		fifo_push(&c->done, hio);
	}
	c->nr_cmds = 0;
	pool_kick(c->vol->pool);
	if (c->state == CONN_READY)
		conn_connect(c);
}

/* The volume took a new size since this connection negotiated its own. */
static bool conn_size_stale(const struct hbd_conn *c)
{
	return c->state == CONN_READY &&
	       c->size_gen_seen != atomic_load(&c->vol->size_gen);
}

/*
 * Drained: a new connection learns the new size. Nothing is lost, so this
 * is not a drop; the waiting I/O goes out on the new connection.
 */
static void conn_refresh(struct hbd_conn *c)
{
	nvmft_log(c->vol->pool->hbd->rt, NVMFT_LOG_INFO,
		  "hbd %s: reconnecting on reactor %u for the new export size",
		  c->vol->bdev_name, nvmft_thread_index(c->thread));
	conn_close_handle(c);
	c->nr_cmds = 0;
	conn_connect(c);
}

/*
 * The housekeeping timer runs only while there is something to watch (I/O
 * in flight, a backoff, completions to send back): idle volumes cost no
 * wake-ups.
 */
static void tick_need(struct hbd_conn *c)
{
	if (c->tick_on)
		return;
	c->tick_on = true;
	c->answers_seen = c->answers;
	c->stall_since_us = nvmft_now_us();
	nvmft_poller_resume(c->tick);
}

static void tick_update(struct hbd_conn *c)
{
	if (c->returns.head || c->state == CONN_BACKOFF ||
	    (c->inflight && c->vol->pool->opts.io_timeout_ms))
		tick_need(c);
}

/* In BACKOFF: may a reconnection start now? */
static bool conn_retry_due(struct hbd_conn *c, uint64_t now)
{
	struct nvmft_hbd_pool *pool = c->vol->pool;

	return pool_state(pool) != NVMFT_HBD_POOL_DOWN &&
	       (now >= c->next_try_us ||
		atomic_load(&pool->up_gen) != c->gen_seen);
}

/*
 * Everything that follows an event: recover a broken connection, finish
 * answered I/O, start waiting I/O, fail it fast when there is no
 * connection, and watch the socket. Completions may submit again: those
 * calls only queue, and this loop (the outermost one) carries on.
 */
static void conn_run(struct hbd_conn *c)
{
	bool blocked = false;
	struct hbd_io *hio;

	if (c->running)
		return;
	c->running = true;
	conn_get(c);
	for (;;) {
		if (c->broken) {
			conn_break(c);
			continue;
		}
		hio = fifo_pop(&c->done);
		if (hio) {
			hio_answered(c, hio);
			continue;
		}
		if (c->waiting.head && c->state == CONN_BACKOFF &&
		    conn_retry_due(c, nvmft_now_us())) {
			/* The pool is back (or the backoff is over): wait for it. */
			conn_connect(c);
			continue;
		}
		if (c->waiting.head &&
		    (c->state == CONN_BACKOFF || c->state == CONN_CLOSED)) {
			hio_finish(c, fifo_pop(&c->waiting), NVMFT_HBD_PATH_STATUS);
			continue;
		}
		if (c->waiting.head && conn_size_stale(c)) {
			/* New I/O waits while the old size's I/O drains. */
			if (!c->inflight) {
				conn_refresh(c);
				continue;
			}
			blocked = true;
		}
		if (c->waiting.head && c->state == CONN_READY && !blocked &&
		    c->nr_cmds < c->vol->queue_depth) {
			hio = fifo_pop(&c->waiting);
			if (!conn_issue(c, hio)) {
				fifo_push_front(&c->waiting, hio);
				blocked = true;
			}
			continue;
		}
		if (c->returns.head)
			returns_flush(c);
		if (c->state == CONN_READY && c->h)
			conn_watch_update(c);
		/* A watch that could not be set up is handled now. */
		if (!c->broken)
			break;
	}
	if (c->state != CONN_CLOSED)
		tick_update(c);
	c->running = false;
	conn_put(c);
}

/* Timed poller: reconnection after a backoff, stalled connections. */
static int conn_tick(void *arg)
{
	struct hbd_conn *c = arg;
	struct nvmft_hbd_pool *pool = c->vol->pool;
	uint64_t now = nvmft_now_us();
	uint32_t io_timeout_ms = pool->opts.io_timeout_ms;
	int work = 0;

	if (c->returns.head)
		work += (int)returns_flush(c);
	if (c->state == CONN_BACKOFF) {
		if (conn_retry_due(c, now)) {
			conn_connect(c);
			work++;
		}
	} else if (c->state == CONN_READY) {
		if (!c->inflight || c->answers != c->answers_seen) {
			c->answers_seen = c->answers;
			c->stall_since_us = now;
		} else if (io_timeout_ms &&
			   now - c->stall_since_us > (uint64_t)io_timeout_ms * 1000) {
			nvmft_log(pool->hbd->rt, NVMFT_LOG_WARN,
				  "hbd %s: no answer for %u ms", c->vol->bdev_name,
				  io_timeout_ms);
			c->broken = true;
			conn_run(c);
			work++;
		}
	}
	if (!c->returns.head && (c->state == CONN_CONNECTING ||
	    (c->state == CONN_READY && !c->inflight))) {
		c->tick_on = false;
		nvmft_poller_pause(c->tick);
	}
	return work;
}

/* ------------------------------------------------------------------ API */

struct hbd_conn *conn_create(struct hbd_volume *vol, struct nbd_handle *h)
{
	struct hbd_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->vol = vol;
	c->thread = nvmft_get_thread();
	c->fd = -1;
	atomic_init(&c->refs, 1);
	c->pin.op.done = pin_done;
	c->pin.conn = c;
	c->pout.op.done = pout_done;
	c->pout.conn = c;
	c->eop.ready = ep_ready;
	c->job.run = conn_job_run;
	c->backoff_ms = vol->pool->opts.retry_backoff_ms;
	if (vol->min_block > 1) {
		c->bounce = aligned_alloc(4096, (vol->max_io_bytes + 4095) & ~4095u);
		if (!c->bounce)
			goto out_free;
	}
	c->tick = nvmft_poller_register(conn_tick, c, HBD_TICK_US);
	if (!c->tick)
		goto out_free;
	c->tick_on = true;
	vol_get(vol);
	if (h) {
		conn_install(c, h);
	} else if (pool_state(vol->pool) == NVMFT_HBD_POOL_DOWN) {
		/* Connect when the pool is back. */
		c->state = CONN_BACKOFF;
		c->gen_seen = atomic_load(&vol->pool->up_gen);
		c->next_try_us = UINT64_MAX;
	} else {
		conn_connect(c);
	}
	conn_run(c);
	return c;

out_free:
	free(c->bounce);
	free(c);
	return NULL;
}

void conn_destroy(struct hbd_conn *c)
{
	struct hbd_io *hio;

	c->state = CONN_CLOSED;
	nvmft_poller_unregister(&c->tick);
	if (c->h)
		conn_close_handle(c);
	/* Consumers put their channels once I/O is done: this is a safety net. */
	while ((hio = c->inflight)) {
		inflight_del(c, hio);
		hio->pending = 0;
		hio->lost = true;
		fifo_push(&c->done, hio);
	}
	while ((hio = fifo_pop(&c->done)))
		hio_answered(c, hio);
	while ((hio = fifo_pop(&c->waiting)))
		hio_finish(c, hio, NVMFT_HBD_PATH_STATUS);
	returns_flush(c);
	conn_put(c);
}

void conn_submit(struct hbd_conn *c, struct nvmft_bdev_io *io)
{
	struct hbd_io *hio = io_hio(io);

	hio->conn = c;
	fifo_push(&c->waiting, hio);
	conn_run(c);
}
