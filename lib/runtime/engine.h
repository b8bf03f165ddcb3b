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
