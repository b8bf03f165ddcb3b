/* SPDX-License-Identifier: MIT */
/*
 * Library-internal face of a reactor's event engine: what the sock groups
 * and the uring block backend use to put work on the reactor's own io_uring
 * (or epoll instance) and get completions back on that reactor.
 *
 * Every function here is for the owning reactor only.
 */
#ifndef NVMFT_LIB_RUNTIME_ENGINE_H
#define NVMFT_LIB_RUNTIME_ENGINE_H

#include <stdint.h>
#include <liburing.h>
#include <nvmft/runtime.h>

/*
 * An operation submitted to the ring: embed it in your own struct, point
 * the SQE's user_data at it (io_uring_sqe_set_data(sqe, op)); the reactor
 * calls op->done() for every CQE carrying that user_data (several for
 * multishot and SEND_ZC: look at cqe->flags). A CQE whose user_data is 0
 * is ignored (use it for fire-and-forget cancels).
 */
struct uring_op {
	void (*done)(struct uring_op *op, const struct io_uring_cqe *cqe);
};

/*
 * An fd watched by the epoll engine: embed it, put it in epoll_event.data.ptr
 * when calling epoll_ctl(thread_epoll_fd(t), ...); the reactor calls
 * op->ready(op, events) for every event.
 */
struct epoll_op {
	void (*ready)(struct epoll_op *op, uint32_t events);
};

/* The reactor's ring; NULL when the runtime's engine is epoll. */
struct io_uring *thread_ring(struct nvmft_thread *t);

/*
 * A free SQE of the reactor's ring. When the SQ is full it submits what is
 * queued and tries again. SQEs are submitted in one batch per loop turn.
 * Returns NULL only when the ring is broken (then fail that operation).
 */
struct io_uring_sqe *thread_get_sqe(struct nvmft_thread *t);

/*
 * Registered files on the reactor's ring: a fixed-file table of
 * RT_FILE_SLOTS slots created on the first call. Returns the slot index to
 * put in sqe->fd with IOSQE_FIXED_FILE, or a negative errno: -EOPNOTSUPP
 * (epoll engine), -ENOSPC (table full), -EBADF, or what the kernel
 * answered (then use the plain fd; nothing is wrong with the I/O itself).
 * The table holds its own reference to the file: close @fd when you like,
 * but unregister the slot only when no SQE naming it is queued or in
 * flight, or a later owner of the slot would get those operations.
 */
int thread_file_register(struct nvmft_thread *t, int fd);
void thread_file_unregister(struct nvmft_thread *t, int slot);
/* Slots in use (tests, diagnostics). */
unsigned int thread_file_slots_used(struct nvmft_thread *t);

/*
 * Fixed buffers on the reactor's ring. thread_buf_register() records
 * [base, base + len) (at most RT_BUF_MAX_LEN bytes, anonymous memory) and
 * returns its id, or -EOPNOTSUPP (epoll engine), -E2BIG, -ENOSPC (all
 * RT_BUF_SLOTS regions taken), -EEXIST (overlaps a region), -EINVAL.
 * Lookups are a binary search over the regions. The kernel pins the region on the
 * first thread_buf_lookup() that hits it, so a pool no I/O path looks up
 * costs nothing. thread_buf_lookup() returns the buffer index for
 * IORING_OP_READ_FIXED/WRITE_FIXED of a region holding all of [p, p+len),
 * or -1 (none, or the kernel refused to pin it: use READV/WRITEV).
 * Unregister before freeing the memory, with no fixed I/O on it in flight.
 */
int thread_buf_register(struct nvmft_thread *t, void *base, size_t len);
int thread_buf_lookup(struct nvmft_thread *t, const void *p, size_t len);
void thread_buf_unregister(struct nvmft_thread *t, int id);

/* The reactor's epoll fd; -1 when the engine is io_uring. */
int thread_epoll_fd(struct nvmft_thread *t);

/*
 * Tell the reactor that the current loop turn did work (so adaptive mode
 * keeps polling). Completion handlers and messages count as work already.
 */
void thread_mark_busy(struct nvmft_thread *t);

/*
 * Keep the reactor alive while it still has something in flight on its
 * engine (open sockets, operations being cancelled, backend I/O). During
 * nvmft_runtime_stop() a reactor runs its exit handlers, then keeps
 * looping until its inbox is empty and its reference count is zero (with
 * a safety deadline, after which it logs what is left and exits).
 */
void thread_ref_get(struct nvmft_thread *t);
void thread_ref_put(struct nvmft_thread *t);

/*
 * Send that does not get lost on a full inbox: from a reactor, a -ENOMEM
 * is queued on the sender and retried on its next loop turns, in order.
 * For management and teardown messages whose loss would stall a walk.
 * Returns 0, -ESHUTDOWN, or -ENOMEM (off-reactor callers, or no memory).
 */
int thread_send_msg_retry(struct nvmft_thread *to, nvmft_msg_fn fn, void *arg);

/* The runtime's log, with the reactor index as prefix. */
#define RT_LOG(rt, lvl, ...) nvmft_log((rt), (lvl), __VA_ARGS__)
#define RT_ERR(rt, ...)    RT_LOG(rt, NVMFT_LOG_ERR, __VA_ARGS__)
#define RT_WARN(rt, ...)   RT_LOG(rt, NVMFT_LOG_WARN, __VA_ARGS__)
#define RT_NOTICE(rt, ...) RT_LOG(rt, NVMFT_LOG_NOTICE, __VA_ARGS__)
#define RT_INFO(rt, ...)   RT_LOG(rt, NVMFT_LOG_INFO, __VA_ARGS__)
#define RT_DEBUG(rt, ...)  RT_LOG(rt, NVMFT_LOG_DEBUG, __VA_ARGS__)

/* Debug builds assert that per-thread APIs run on their owning reactor. */
#ifdef NDEBUG
#define ASSERT_ON_THREAD(t) ((void)(t))
#else
#include <assert.h>
#define ASSERT_ON_THREAD(t) assert(nvmft_get_thread() == (t))
#endif

#endif
