/* SPDX-License-Identifier: MIT */
/*
 * Private to lib/runtime: the runtime and reactor structures shared by
 * runtime.c, reactor.c, engine.c, msg.c, poller.c, io_channel.c and log.c.
 * Other modules use <nvmft/runtime.h> and runtime/engine.h only.
 */
#ifndef NVMFT_LIB_RUNTIME_PRIV_H
#define NVMFT_LIB_RUNTIME_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "runtime/engine.h"

#define RT_DEFAULT_IDLE_SPIN_US		200u
#define RT_DEFAULT_MSG_RING		16384u
#define RT_DEFAULT_RING_ENTRIES		256u
#define RT_MAX_REACTORS			1024u
#define RT_MAX_RING_ENTRIES		32768u
#define RT_MSG_BUDGET			512u	/* messages run per loop turn */
#define RT_CQE_BATCH			64u
#define RT_CQE_BUDGET			256u	/* completions reaped per turn */
#define RT_STOP_DEADLINE_US		5000000u
#define RT_CACHELINE			64
#define RT_FILE_SLOTS			1024u	/* fixed-file table per ring */
#define RT_BUF_SLOTS			1024u	/* fixed-buffer table per ring */
#define RT_BUF_MAX_LEN			(1ul << 30)	/* kernel limit per buffer */

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#endif

/* Circular doubly linked list with a sentinel head. */
struct list_node {
	struct list_node *prev, *next;
};

static inline void list_init(struct list_node *h)
{
	h->prev = h->next = h;
}

static inline bool list_empty(const struct list_node *h)
{
	return h->next == h;
}

static inline void list_add_tail(struct list_node *h, struct list_node *n)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

static inline void list_add_before(struct list_node *pos, struct list_node *n)
{
	list_add_tail(pos, n);
}

/*
 * Unlinks @n but leaves n->next alone on purpose: a walker that captured
 * @n as its next node can still step over it (see poller.c).
 */
static inline void list_del(struct list_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
}

/*
 * Bounded MPSC message ring: every slot carries a sequence number telling
 * producers and the consumer whose turn it is, so producers only contend on
 * the tail counter. Bit 63 of the tail closes the ring: a reservation can
 * only succeed before the close, so whatever got in is drained at exit.
 */
#define INBOX_CLOSED	(UINT64_C(1) << 63)

struct msg_slot {
	_Atomic uint64_t seq;
	nvmft_msg_fn fn;
	void *arg;
};

struct inbox {
	_Atomic uint64_t tail;			/* producers */
	char pad0[RT_CACHELINE - sizeof(uint64_t)];
	uint64_t head;				/* the reactor only */
	uint64_t mask;
	struct msg_slot *slots;
	char pad1[RT_CACHELINE - 3 * sizeof(uint64_t)];
};

/* A message that found the destination inbox full, retried next turns. */
struct deferred_msg {
	struct deferred_msg *next;
	struct nvmft_thread *to;
	nvmft_msg_fn fn;
	void *arg;
};

struct exit_handler {
	struct exit_handler *next;
	nvmft_msg_fn fn;
	void *arg;
};

enum reactor_phase {
	PHASE_RUNNING = 0,
	PHASE_STOPPING,		/* exit handlers ran; waiting to be quiet */
	PHASE_CLOSING,		/* inbox closed; last drain */
	PHASE_EXITED,
};

struct thread_counters {
	_Atomic uint64_t loops;
	_Atomic uint64_t busy_loops;
	_Atomic uint64_t sleeps;
	_Atomic uint64_t msgs;
	_Atomic uint64_t completions;
	_Atomic uint64_t busy_us;
	_Atomic uint64_t idle_us;
};

/* Counters have one writer (the owner): no locked read-modify-write. */
static inline void stat_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

/* The reactor ring's fixed-file table: a stack of free slots. */
struct engine_files {
	unsigned int nr_free;
	uint16_t free[RT_FILE_SLOTS];
	bool used[RT_FILE_SLOTS];
};

/*
 * One region of the fixed-buffer table. Regions are recorded when their
 * owner registers them and pinned in the kernel on the first lookup that
 * hits them, so pools no backend I/O ever uses stay unpinned.
 */
enum engine_buf_state {
	BUF_FREE = 0,
	BUF_PENDING,		/* recorded, not yet in the kernel */
	BUF_LIVE,		/* in the kernel table at its slot */
	BUF_REFUSED,		/* the kernel refused it: never fixed */
};

struct engine_buf {
	uintptr_t base;
	size_t len;
	enum engine_buf_state state;
};

struct nvmft_thread {
	struct inbox inbox;

	/* Written by senders, read by the owner before it sleeps. */
	_Atomic int sleeping;
	_Atomic int stop_req;
	_Atomic int exited;
	char pad[RT_CACHELINE - 3 * sizeof(int)];

	struct nvmft_runtime *rt;
	unsigned int idx;
	int cpu;			/* -1: not pinned */
	char name[16];
	pthread_t tid;
	bool tid_valid;
	int init_rc;

	/* engine */
	bool has_ring;
	bool ring_disabled;		/* R_DISABLED: enable on the thread */
	bool ring_broken;
	struct io_uring ring;
	int epfd;
	bool no_pwait2;
	int evfd;
	uint64_t wake_buf;
	struct uring_op wake_uop;
	struct epoll_op wake_eop;
	struct engine_files *files;	/* lazily, on the first register */
	int files_err;			/* sticky refusal of the sparse table */
	struct engine_buf *bufs;	/* RT_BUF_SLOTS, lazily */
	uint16_t *buf_order;		/* slots in use, sorted by base */
	unsigned int nr_bufs;
	bool bufs_table;		/* the sparse table exists in the kernel */
	int bufs_err;			/* sticky refusal of the sparse table */

	/* loop state, owner only */
	enum reactor_phase phase;
	bool busy;
	uint64_t now;			/* start of the current turn */
	uint64_t stop_deadline;
	unsigned int refs;

	struct list_node active_pollers;
	struct list_node timed_pollers;	/* sorted by next run */
	struct list_node all_pollers;
	struct nvmft_poller *dead_pollers;
	unsigned int nr_pollers;

	struct list_node channels;
	struct list_node releases;	/* channels whose last ref went */
	unsigned int nr_channels;

	struct exit_handler *exit_handlers;
	struct deferred_msg *deferred_head, **deferred_tail;

	struct thread_counters stats;
};

struct io_device;

struct nvmft_runtime {
	struct nvmft_runtime_opts opts;
	char name[16];
	enum nvmft_engine engine;
	unsigned int nr;
	struct nvmft_thread **threads;
	_Atomic int wait_mode;
	_Atomic unsigned int idle_spin_us;	/* changed live by RPC */

	bool started;
	bool stopped;
	pthread_mutex_t start_lock;
	pthread_cond_t start_cond;
	unsigned int nr_ready;

	_Atomic int log_level;
	pthread_mutex_t log_lock;
	nvmft_log_fn log_fn;
	void *log_ctx;

	pthread_mutex_t dev_lock;
	struct io_device *devices;
};

/* engine.c */
int engine_create(struct nvmft_thread *t, enum nvmft_engine engine,
		  unsigned int entries);
int engine_thread_init(struct nvmft_thread *t);
void engine_destroy(struct nvmft_thread *t);
unsigned int engine_reap(struct nvmft_thread *t);
void engine_submit(struct nvmft_thread *t);
unsigned int engine_sleep(struct nvmft_thread *t, int64_t timeout_us);
void engine_wake(struct nvmft_thread *t);

/* msg.c */
int inbox_init(struct inbox *ib, unsigned int size);
void inbox_fini(struct inbox *ib);
bool inbox_pending(struct inbox *ib);
uint64_t inbox_count(struct inbox *ib);
void inbox_close(struct inbox *ib);
unsigned int inbox_drain(struct nvmft_thread *t, unsigned int budget);
unsigned int inbox_drain_upto(struct nvmft_thread *t, uint64_t upto);
unsigned int inbox_drain_closed(struct nvmft_thread *t);
unsigned int deferred_flush(struct nvmft_thread *t);
void deferred_drop(struct nvmft_thread *t);
unsigned int exit_handlers_run(struct nvmft_thread *t);

/* poller.c */
void pollers_init(struct nvmft_thread *t);
unsigned int pollers_run_timed(struct nvmft_thread *t, uint64_t now);
unsigned int pollers_run_active(struct nvmft_thread *t);
int64_t pollers_next_timeout(struct nvmft_thread *t, uint64_t now);
void pollers_free_dead(struct nvmft_thread *t);
void pollers_free_all(struct nvmft_thread *t);

/* io_channel.c */
unsigned int channels_run_releases(struct nvmft_thread *t);
unsigned int channels_destroy_all(struct nvmft_thread *t);
void channels_log_left(struct nvmft_thread *t);
void io_devices_free(struct nvmft_runtime *rt);

/* reactor.c */
void *reactor_main(void *arg);
void reactor_set_current(struct nvmft_thread *t);

/* log.c */
void log_init(struct nvmft_runtime *rt);
void log_fini(struct nvmft_runtime *rt);

#endif
