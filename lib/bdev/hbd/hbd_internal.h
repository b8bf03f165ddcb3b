/* SPDX-License-Identifier: MIT */
/*
 * Library-internal face of the hbd backend: the control thread
 * (hbd_ctl.c), pools and their health checks (hbd_pool.c), volumes and the
 * bdev ops (hbd_volume.c), and the per-reactor NBD connection that carries
 * the I/O (hbd_conn.c).
 *
 * Ownership and threads:
 * - struct nvmft_hbd, pools and volumes are changed on the app reactor;
 *   the fields the I/O path reads elsewhere are atomics or fixed once the
 *   volume is registered.
 * - A connection (struct hbd_conn) belongs to one reactor; the control
 *   thread only touches its job fields while the job is out.
 * - Anything a message or a job can point to is reference counted
 *   (atomics): conn → volume → pool → context, so that a late message
 *   never meets freed memory, whichever thread drops the last reference.
 */
#ifndef NVMFT_LIB_BDEV_HBD_INTERNAL_H
#define NVMFT_LIB_BDEV_HBD_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <libnbd.h>

#include <nvmft/bdev_hbd.h>
#include <nvmft/bdev_module.h>

#include "runtime/engine.h"

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#endif

#define HBD_PRODUCT		"hbd"
#define HBD_NAME_MAX		63
#define HBD_PROBE_MAX		255	/* longest export name used as a probe */
#define HBD_DEFAULT_QD		128
#define HBD_MAX_TRIES		2	/* an I/O is issued at most twice */
#define HBD_TICK_US		20000	/* connection housekeeping period */
#define HBD_READ_BUDGET		64	/* replies read per readiness event */
#define HBD_MAX_IO_BYTES	(8u << 20)	/* largest READ/WRITE */
#define HBD_BOUNCE_BYTES	(1u << 20)	/* when a bounce buffer is needed */
#define HBD_CHUNK_BYTES		(1u << 30)	/* largest TRIM / WRITE_ZEROES */
/* Expedited runs of a periodic job (health checks) stay this far apart. */
#define HBD_EXPEDITE_GAP_US	50000
/* Export sizes a health check reads at most (the volumes take turns). */
#define HBD_SIZE_SWEEP_MAX	32

/* ------------------------------------------------------- control thread */

struct hbd_job;

/*
 * A job runs on the control thread; @cancelled is true when the thread is
 * stopping (then it must not block, only hand its result back or clean
 * up). The job owns its memory from then on: it usually ends by sending a
 * message to a reactor with ctl_send().
 */
typedef void (*hbd_job_fn)(struct hbd_job *job, bool cancelled);

struct hbd_job {
	struct hbd_job *next;
	uint64_t due_us;
	uint64_t earliest_us;		/* when an expedited run may happen */
	hbd_job_fn run;
	_Atomic bool expedite;		/* run at earliest_us, not due_us */
};

struct hbd_ctl {
	struct nvmft_runtime *rt;
	pthread_t tid;
	bool started;
	int wake_fd;			/* eventfd: new job or expedite */
	int stop_fd;			/* eventfd: stop; aborts blocking waits */
	_Atomic bool stop;
	pthread_mutex_t lock;		/* inbox only; never held while blocking */
	bool closed;			/* under lock: no new job accepted */
	struct hbd_job *inbox;		/* under lock */
	struct hbd_job *queue;		/* control thread: by due time */
	struct nvmft_thread *stop_to;	/* who hears about the end */
	nvmft_msg_fn stop_fn;
	void *stop_arg;
};

int ctl_start(struct hbd_ctl *ctl, struct nvmft_runtime *rt);
/*
 * Ask the thread to stop, without waiting: it runs the jobs left
 * cancelled (jobs posted from then on run cancelled inline, in
 * ctl_post()), then sends @fn(@arg) to reactor @to, which must stay alive
 * until then and call ctl_join() from @fn. ctl_fini() frees the rest once
 * nobody can post any more.
 */
void ctl_stop(struct hbd_ctl *ctl, struct nvmft_thread *to, nvmft_msg_fn fn,
	      void *arg);
void ctl_join(struct hbd_ctl *ctl);
void ctl_fini(struct hbd_ctl *ctl);
/*
 * Queue @job to run in @delay_us, or, once expedited, in at most
 * HBD_EXPEDITE_GAP_US (any thread). After ctl_stop() it runs cancelled,
 * inline.
 */
void ctl_post(struct hbd_ctl *ctl, struct hbd_job *job, uint64_t delay_us);
/* Make the thread look at the expedite flags again (any thread). */
void ctl_kick(struct hbd_ctl *ctl);
/*
 * Send a job's result by message. On the control thread, waits for room
 * in a full inbox; inline on a reactor, tries once. Return 0, or an error
 * (runtime stopped, inbox full): then the message will never run and the
 * caller cleans up.
 */
int ctl_send(struct hbd_ctl *ctl, struct nvmft_thread *t, nvmft_msg_fn fn,
	     void *arg);

/*
 * Blocking NBD steps for the control thread, each bounded by @deadline_us
 * (nvmft_now_us() time) and aborted when the thread is asked to stop.
 * hbd_nbd_handshake: connect to @uri and negotiate, stopping in option
 * mode (so that an unknown export shows up as such). hbd_nbd_option:
 * NBD_OPT_GO (@go) or NBD_OPT_INFO for the handle's export name.
 * Return 0 or -errno (-ETIMEDOUT, -ECANCELED, -ENOENT for an unknown
 * export, -ECONNREFUSED, ...).
 */
int hbd_nbd_handshake(struct hbd_ctl *ctl, const char *uri,
		      uint64_t deadline_us, struct nbd_handle **out);
int hbd_nbd_option(struct hbd_ctl *ctl, struct nbd_handle *h, bool go,
		   uint64_t deadline_us);
/* Handshake + GO on a volume URI. Unreachable server → -EHOSTDOWN. */
int hbd_nbd_open(struct hbd_ctl *ctl, const char *uri, uint32_t timeout_ms,
		 struct nbd_handle **out);

/* ------------------------------------------------------ context, pools */

struct hbd_volume;

struct nvmft_hbd {
	struct nvmft_bdev_registry *reg;
	struct nvmft_runtime *rt;
	struct nvmft_thread *app;
	struct hbd_ctl ctl;
	_Atomic int refs;

	/* App reactor. */
	TAILQ_HEAD(, nvmft_hbd_pool) pools;
	TAILQ_HEAD(, hbd_volume) opening;	/* creations in progress */
	bool destroying;
	bool attached;			/* reg->hbd points here (holds a ref) */
	bool tearing;			/* control thread asked to stop */
	bool torn_down;			/* control thread stopped, pools released */
	unsigned int deleting;		/* volumes destroy() is waiting for */
	nvmft_msg_fn destroy_done;
	void *destroy_arg;
};

struct nvmft_hbd_pool {
	TAILQ_ENTRY(nvmft_hbd_pool) link;	/* hbd->pools */
	struct nvmft_hbd *hbd;
	char *name;
	char *uri;
	struct nvmft_hbd_pool_opts opts;
	_Atomic int refs;
	_Atomic int state;		/* enum nvmft_hbd_pool_state */
	_Atomic uint32_t up_gen;	/* bumped each time the pool comes back */

	_Atomic bool retired;		/* removed: the next check is skipped */

	/* App reactor. */
	bool removed;
	TAILQ_HEAD(, hbd_volume) volumes;
	unsigned int nr_volumes;
	unsigned int nr_opening;
	unsigned int probe_rr;		/* which volume's export the check opens */
	unsigned int failures;		/* consecutive failed checks */

	/*
	 * The health check job: the app reactor fills the request, the
	 * control thread the result; never both at once (check_out).
	 */
	struct hbd_job check;
	bool check_out;
	char probe[HBD_PROBE_MAX + 1];	/* "" = no probe */
	int check_rc;
	int probe_rc;
	uint64_t check_us;
	/*
	 * Export sizes to read after the probe (NBD_OPT_INFO on the same
	 * connection; a server tells the size at negotiation only): the
	 * volumes (referenced) and what the server said, -1 = not read.
	 */
	struct hbd_volume *sweep[HBD_SIZE_SWEEP_MAX];
	int64_t sweep_size[HBD_SIZE_SWEEP_MAX];
	unsigned int nr_sweep;
	unsigned int sweep_rr;		/* where the next sweep starts */

	_Atomic uint64_t checks;
	_Atomic uint64_t checks_failed;
	_Atomic uint64_t last_check_us;
	_Atomic unsigned int nr_volumes_pub;
};

void hbd_get(struct nvmft_hbd *hbd);
void hbd_put(struct nvmft_hbd *hbd);
void pool_get(struct nvmft_hbd_pool *pool);
void pool_put(struct nvmft_hbd_pool *pool);

static inline enum nvmft_hbd_pool_state pool_state(const struct nvmft_hbd_pool *p)
{
	return (enum nvmft_hbd_pool_state)atomic_load_explicit(&p->state,
							       memory_order_relaxed);
}

/* A connection of @pool dropped or failed to connect (any reactor). */
void pool_kick(struct nvmft_hbd_pool *pool);
/* Volume registered / unregistered (app reactor). */
void pool_add_volume(struct nvmft_hbd_pool *pool, struct hbd_volume *vol);
void pool_del_volume(struct nvmft_hbd_pool *pool, struct hbd_volume *vol);
/* A volume creation of the context ended (app reactor). */
void hbd_opening_done(struct nvmft_hbd *hbd);
/* A volume that destroy() deleted is gone (app reactor). */
void hbd_volume_gone(struct nvmft_hbd *hbd);
/*
 * hbd_registry.c: make @hbd the registry's context (-EEXIST when it has
 * one), and undo that while the registry is alive (app reactor).
 */
int hbd_attach(struct nvmft_hbd *hbd);
void hbd_detach(struct nvmft_hbd *hbd);

/* -------------------------------------------------------------- volumes */

struct hbd_conn;

struct hbd_volume {
	TAILQ_ENTRY(hbd_volume) link;	/* pool->volumes or hbd->opening */
	struct nvmft_hbd_pool *pool;
	struct nvmft_thread *app;
	_Atomic int refs;
	char *bdev_name;
	char *export_name;
	char *uri;			/* pool URI + export */
	uint8_t uuid[16];
	bool has_uuid;

	/* Fixed once opened. */
	uint32_t block_size;
	uint32_t queue_depth;
	uint64_t size;			/* at the open */
	uint32_t min_block;		/* server's minimum request alignment */
	uint32_t max_io_bytes;
	bool can_flush, can_fua, can_trim, can_zero, multi_conn, read_only;

	/* App reactor. */
	struct nvmft_bdev *bdev;	/* NULL until registered and after destroy */
	bool deleting;			/* counted in hbd->deleting */
	/* Export size last seen (written on the app reactor only). */
	_Atomic uint64_t export_size;
	/*
	 * Bumped when the bdev took a new size: a connection negotiated
	 * before knows the old one (libnbd and the server both bound I/O by
	 * it), so it reconnects once idle (conn_run()).
	 */
	_Atomic uint32_t size_gen;

	/* The open: control thread while the job is out. */
	struct hbd_job open_job;
	int open_rc;
	struct nbd_handle *open_h;
	nvmft_hbd_volume_cb open_cb;
	void *open_arg;

	/* Multi-conn: the open's connection, for the first channel. */
	_Atomic(struct nbd_handle *) spare;
	/* No multi-conn: the one connection, on the app reactor. */
	struct hbd_conn *shared;

	_Atomic uint64_t connects;
	_Atomic uint64_t drops;
	_Atomic uint64_t retries;
	_Atomic uint64_t path_failures;
};

void vol_get(struct hbd_volume *vol);
void vol_put(struct hbd_volume *vol);
/*
 * The server says the export has @bytes now: the bdev takes the new size
 * (whole blocks) and its descriptors get a RESIZE event. App reactor;
 * @how says who noticed, for the log.
 */
void vol_size_seen(struct hbd_volume *vol, uint64_t bytes, const char *how);
/*
 * Same from the control thread (a reconnection): a message to the app
 * reactor when @bytes differs from the size last seen.
 */
void vol_size_report(struct hbd_volume *vol, uint64_t bytes, const char *how);

static inline void stat_inc(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* ---------------------------------------------------------- connections */

enum conn_state {
	CONN_CONNECTING = 0,	/* connect job out; I/O waits */
	CONN_READY,		/* handle installed; I/O issued */
	CONN_BACKOFF,		/* no handle; I/O fails fast; retry later */
	CONN_CLOSED,		/* destroyed by its owner; refs draining */
};

/* Per-I/O state in nvmft_bdev_io.driver_ctx. */
struct hbd_io {
	struct hbd_io *next;		/* fifo link */
	struct hbd_io *if_prev;		/* conn->inflight */
	struct hbd_io *if_next;
	struct hbd_conn *conn;
	struct nvmft_thread *origin;	/* forwarded from this reactor, or NULL */
	uint32_t pending;		/* NBD commands not answered yet */
	int error;			/* first error the server returned */
	uint16_t status;		/* final status (forwarded completions) */
	uint8_t tries;			/* times issued */
	uint8_t phase;			/* HIO_MAIN, HIO_FLUSH */
	bool lost;			/* a command died with its connection */
	bool on_inflight;
	bool bounced;
};

enum { HIO_MAIN = 0, HIO_FLUSH };

struct hio_fifo {
	struct hbd_io *head;
	struct hbd_io *tail;
};

/* A one-shot readiness poll on the reactor's io_uring. */
struct conn_poll {
	struct uring_op op;
	struct hbd_conn *conn;
	uint32_t gen;			/* handle generation it was armed for */
	bool armed;
};

struct hbd_conn {
	struct hbd_volume *vol;
	struct nvmft_thread *thread;
	_Atomic int refs;
	enum conn_state state;
	bool running;			/* inside conn_run(): re-entry defers */
	bool broken;			/* close the handle at the next conn_run() */

	struct nbd_handle *h;
	int fd;
	uint32_t gen;			/* bumped per installed handle */
	struct conn_poll pin;		/* io_uring engine */
	struct conn_poll pout;
	struct epoll_op eop;		/* epoll engine */
	uint32_t ep_events;

	struct hio_fifo waiting;	/* not issued: connecting, queue full */
	struct hio_fifo done;		/* every command answered */
	struct hio_fifo returns;	/* forwarded completions to send back */
	struct hbd_io *inflight;
	unsigned int nr_cmds;
	uint64_t answers;		/* commands answered (progress) */
	uint64_t answers_seen;
	uint64_t stall_since_us;
	void *bounce;			/* only when the server needs alignment */
	struct hbd_io *bounce_owner;

	struct nvmft_poller *tick;
	bool tick_on;			/* not paused */
	uint64_t next_try_us;
	uint32_t backoff_ms;
	uint32_t gen_seen;		/* pool up_gen at the last attempt */
	uint32_t size_gen_seen;		/* vol size_gen at the last attempt */

	/* Connect job: control thread while out. */
	struct hbd_job job;
	bool job_out;
	struct nbd_handle *job_h;
	int job_rc;
};

/* Owning reactor. @h: a connected handle to adopt, or NULL to connect. */
struct hbd_conn *conn_create(struct hbd_volume *vol, struct nbd_handle *h);
void conn_destroy(struct hbd_conn *c);
/* Start (or queue) @io on @c; it completes exactly once. Owning reactor. */
void conn_submit(struct hbd_conn *c, struct nvmft_bdev_io *io);

static inline struct hbd_io *io_hio(struct nvmft_bdev_io *io)
{
	return (struct hbd_io *)(void *)io->driver_ctx;
}

static inline struct nvmft_bdev_io *hio_io(struct hbd_io *hio)
{
	return container_of((void *)hio, struct nvmft_bdev_io, driver_ctx);
}

/* Build "<pool uri with export>"; NULL on bad URI or no memory. */
char *hbd_uri_with_export(const char *pool_uri, const char *export_name);
/* 0 when @uri is a usable pool URI (scheme known, no export path). */
int hbd_uri_check(const char *uri);

#endif
