/* SPDX-License-Identifier: MIT */
/*
 * Library-internal face of the bdev layer: the registry, the bdev, its
 * descriptors, the per-reactor channel, range locks, and the glue between
 * bdev.c (lifecycle), bdev_io.c (submit/complete), bdev_split.c (split and
 * emulation) and bdev_lock.c (range locks).
 *
 * Threads: everything marked "app" belongs to reactor 0 of the registry's
 * runtime; everything in struct bdev_channel belongs to the channel's
 * reactor; the few fields read elsewhere are atomics.
 */
#ifndef NVMFT_LIB_BDEV_INTERNAL_H
#define NVMFT_LIB_BDEV_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <nvmft/bdev.h>
#include <nvmft/bdev_module.h>

/* glibc's <sys/queue.h> lacks the _SAFE variant. */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	     (var) && ((tvar) = TAILQ_NEXT(var, field), 1);		\
	     (var) = (tvar))
#endif

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#endif

/* How the layer runs one I/O type on a given bdev (fixed at registration). */
enum bdev_io_mode {
	IO_MODE_INVALID = 0,	/* fails with Invalid Opcode */
	IO_MODE_NATIVE,		/* backend submit() */
	IO_MODE_EMULATE,	/* built from READ/WRITE by the layer */
	IO_MODE_NOOP,		/* succeeds without touching the backend */
};

/* Lifecycle of a bdev (app reactor). */
enum bdev_state {
	BDEV_ACTIVE = 0,
	BDEV_REMOVING,		/* REMOVE sent; waiting for descriptors to close */
	BDEV_UNREGISTERING,	/* io_device unregistered; waiting for channels */
	BDEV_DESTROYING,	/* backend destroy() running */
	BDEV_GONE,		/* backend freed; waiting for our own references */
};

/* Bits of nvmft_bdev_io.internal.state. */
#define IO_STATE_CHILD		0x1	/* issued by the layer for a parent */
#define IO_STATE_TRACKED	0x2	/* on the channel's in-flight write list */
#define IO_STATE_PARENT		0x4	/* split/emulated by the layer */

/* Events pending on a descriptor (bit = 1 << enum nvmft_bdev_event). */
#define DESC_EV_BIT(ev)		(1u << (ev))

struct range_lock;
struct lock_node;

struct nvmft_bdev_registry {
	struct nvmft_runtime *rt;
	TAILQ_HEAD(, nvmft_bdev) bdevs;		/* app; creation order */
	bool destroying;			/* app */
	bool destroy_walk;			/* app: inside registry_destroy */
	nvmft_msg_fn destroy_done;
	void *destroy_arg;
	/*
	 * app: the hbd context of this registry (one at most, so that the
	 * configuration and the RPC methods share its pools), and the hook
	 * that tells it the registry is freed (lib/bdev/hbd/hbd_registry.c).
	 */
	void *hbd;
	void (*hbd_gone)(void *hbd);
};

struct bdev_delete_waiter {
	struct bdev_delete_waiter *next;
	void (*done)(void *arg, int rc);
	void *arg;
};

struct nvmft_bdev_desc {
	TAILQ_ENTRY(nvmft_bdev_desc) link;	/* bdev->descs */
	struct nvmft_bdev *bdev;
	bool write;
	bool closed;		/* closed while an event walk was running */
	bool remove_sent;	/* REMOVE is delivered at most once */
	uint32_t pending;	/* DESC_EV_BIT()s not yet delivered */
	nvmft_bdev_event_cb event_cb;
	void *ctx;
};

struct nvmft_bdev {
	TAILQ_ENTRY(nvmft_bdev) link;		/* reg->bdevs */
	struct nvmft_bdev_registry *reg;
	struct nvmft_runtime *rt;
	char *name;
	const struct nvmft_bdev_ops *ops;
	void *ctx;

	/* Fixed at registration: read anywhere without synchronisation. */
	uint32_t block_size;
	uint32_t block_shift;
	uint32_t max_io_blocks;
	bool write_cache;
	bool unmap_advisory;
	uint8_t uuid[16];
	uint8_t mode[NVMFT_IO_TYPE_MAX];	/* enum bdev_io_mode */

	/* Changed on the app reactor, read on every reactor. */
	_Atomic uint64_t num_blocks;
	_Atomic bool available;
	_Atomic bool removed;

	/* App reactor only. */
	enum bdev_state state;
	TAILQ_HEAD(, nvmft_bdev_desc) descs;
	unsigned int open_descs;
	unsigned int event_walkers;	/* close() defers unlinking while > 0 */
	bool event_msg_pending;
	unsigned int refs;		/* our own pending messages and walks */
	struct bdev_delete_waiter *waiters;

	/*
	 * Range locks: the published (installing or granted) and waiting
	 * locks, shared by every reactor: lock_range/unlock_range run on any
	 * reactor, and a channel that missed an install walk syncs from here.
	 * Management-rate only (fused Compare and Write), never per I/O.
	 */
	pthread_mutex_t lock_mtx;
	struct range_lock *locks_published;
	struct range_lock *locks_waiting;
	_Atomic uint32_t lock_gen;	/* bumped on every publish/unpublish */

	/* Counters of channels already destroyed (atomic adds, any reactor). */
	_Atomic uint64_t retired_ops[NVMFT_IO_TYPE_MAX];
	_Atomic uint64_t retired_bytes_read;
	_Atomic uint64_t retired_bytes_written;
	_Atomic uint64_t retired_errors;
};

/* A FIFO of I/Os linked through internal.qnext. */
struct io_fifo {
	struct nvmft_bdev_io *head;
	struct nvmft_bdev_io *tail;
};

/*
 * A child I/O: what the layer submits to the backend on behalf of a split
 * or emulated parent. Preallocated per channel (CHILD_POOL_SIZE of them) on
 * first need, so that splitting allocates nothing per I/O.
 */
#define CHILD_POOL_SIZE		16
#define CHILD_IOV_MAX		64

struct bdev_child {
	struct nvmft_bdev_io io;
	struct nvmft_bdev_io *parent;
	struct bdev_child *next_free;
	struct iovec iov[CHILD_IOV_MAX];
};

/* Emulation buffers, per channel, allocated once on first use. */
#define EMU_ZERO_BUF_SIZE	(128u * 1024)
#define EMU_BOUNCE_BUF_SIZE	(128u * 1024)

/* Retry poller period for I/O the backend refused with -ENOMEM/-EAGAIN. */
#define RETRY_POLL_US		100

struct bdev_channel {
	struct nvmft_bdev *bdev;
	struct nvmft_thread *thread;
	unsigned int thread_idx;
	struct nvmft_poller *backend_poller;
	struct nvmft_poller *retry_poller;
	bool retry_poller_active;

	struct nvmft_bdev_stats stats;
	uint64_t in_flight;		/* consumer I/Os not yet completed */
	uint64_t write_seq;		/* last sequence given to a write */

	struct io_fifo retry;		/* refused by the backend, to resubmit */
	struct io_fifo held;		/* writes held back by a range lock */
	struct io_fifo waiters;		/* parents waiting for a child/bounce */
	bool retrying;
	bool waking;
	bool wake_again;

	/* Writes dispatched and not completed (doubly linked via link[]). */
	struct nvmft_bdev_io *writes;

	/* Range lock nodes present on this channel. */
	struct lock_node *locks;
	uint32_t lock_gen;

	struct bdev_child *children;
	struct bdev_child *free_children;
	void *zero_buf;
	void *bounce_buf;
	struct nvmft_bdev_io *bounce_owner;

	/* The backend's per-reactor context (ops->chan_ctx_size bytes). */
	uint8_t chan_ctx[] __attribute__((aligned(16)));
};

/* A lock's presence on one channel (one per reactor, inside the lock). */
struct lock_node {
	struct lock_node *next;		/* bch->locks */
	struct range_lock *lock;
	uint64_t seq;			/* writes with seq <= this predate it */
	uint32_t waiting;		/* such writes still in flight */
	bool on_list;
};

struct range_lock {
	struct range_lock *next;	/* bdev published/waiting list */
	struct range_lock *promote_next;	/* unlock's local list */
	struct nvmft_bdev *bdev;
	uint64_t offset;
	uint64_t num;
	void *owner;			/* token: the lock_range() arg */
	struct bdev_channel *owner_ch;
	struct nvmft_thread *thread;	/* where cb runs */
	void (*cb)(void *arg, int rc);
	bool granted;			/* owner thread only */
	bool released;			/* under bdev->lock_mtx */
	_Atomic int pending;		/* walk + channels still draining */
	_Atomic int refs;		/* list + walks + installed nodes */
	unsigned int nr_nodes;
	struct lock_node nodes[];
};

static inline struct bdev_channel *bdev_ch(struct nvmft_io_channel *ch)
{
	return nvmft_io_channel_get_ctx(ch);
}

static inline struct bdev_channel *io_bch(struct nvmft_bdev_io *io)
{
	return bdev_ch(io->internal.ch);
}

static inline bool io_type_writes(enum nvmft_io_type t)
{
	return t == NVMFT_IO_WRITE || t == NVMFT_IO_WRITE_ZEROES ||
	       t == NVMFT_IO_UNMAP;
}

static inline bool ranges_overlap(uint64_t a, uint64_t an, uint64_t b,
				  uint64_t bn)
{
	return a < b + bn && b < a + an;
}

static inline void io_fifo_push(struct io_fifo *q, struct nvmft_bdev_io *io)
{
	io->internal.qnext = NULL;
	if (q->tail)
		q->tail->internal.qnext = io;
	else
		q->head = io;
	q->tail = io;
}

static inline void io_fifo_push_front(struct io_fifo *q, struct nvmft_bdev_io *io)
{
	io->internal.qnext = q->head;
	q->head = io;
	if (!q->tail)
		q->tail = io;
}

static inline struct nvmft_bdev_io *io_fifo_pop(struct io_fifo *q)
{
	struct nvmft_bdev_io *io = q->head;

	if (io) {
		q->head = io->internal.qnext;
		if (!q->head)
			q->tail = NULL;
		io->internal.qnext = NULL;
	}
	return io;
}

/* bdev.c */
struct nvmft_thread *bdev_app_thread(struct nvmft_bdev *bdev);

/* bdev_channel.c: io_device callbacks (registered by bdev.c). */
int bdev_channel_create(void *io_device, void *ctx);
void bdev_channel_destroy(void *io_device, void *ctx);

/* bdev_io.c */
void bdev_io_finish(struct bdev_channel *bch, struct nvmft_bdev_io *io,
		    uint16_t status);
void bdev_backend_submit(struct bdev_channel *bch, struct nvmft_bdev_io *io);
void bdev_dispatch(struct bdev_channel *bch, struct nvmft_bdev_io *io);
void bdev_release_held(struct bdev_channel *bch);
void bdev_fail_queued(struct bdev_channel *bch, uint16_t status);
void bdev_retry_kick(struct bdev_channel *bch);
int bdev_retry_poll(void *arg);
bool bdev_write_blocked(struct bdev_channel *bch, const struct nvmft_bdev_io *io);
uint16_t bdev_status_invalid_opcode(void);

/* bdev_split.c */
bool bdev_needs_split(const struct nvmft_bdev *bdev,
		      const struct nvmft_bdev_io *io);
void bdev_parent_start(struct bdev_channel *bch, struct nvmft_bdev_io *io);
void bdev_parents_wake(struct bdev_channel *bch);
void bdev_parents_fail(struct bdev_channel *bch, uint16_t status);
void bdev_emu_free(struct bdev_channel *bch);

/* bdev_lock.c */
void bdev_locks_sync(struct bdev_channel *bch);
void bdev_locks_write_done(struct bdev_channel *bch,
			   const struct nvmft_bdev_io *io);
void bdev_locks_channel_gone(struct bdev_channel *bch);
void bdev_locks_free_all(struct nvmft_bdev *bdev);

/* bdev_uuid.c */
void bdev_uuid_v5(const uint8_t ns[16], const void *name, size_t len,
		  uint8_t uuid[16]);
void bdev_uuid_format(const uint8_t uuid[16], char out[37]);

#endif
