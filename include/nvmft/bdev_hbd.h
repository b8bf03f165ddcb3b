/* SPDX-License-Identifier: MIT */
/**
 * DOC: hbd — hosted block devices: volumes of remote storage pools over NBD
 *
 * A *pool* is an NBD server (nbdkit, qemu-nbd, nbd-server, ...) reached by
 * a URI such as ``nbd://127.0.0.1:10809`` or
 * ``nbd+unix:///?socket=/run/pool0.sock``; its *volumes* are the server's
 * exports. Each volume becomes a bdev of product "hbd".
 *
 * Every blocking call (connect, handshake, health check) runs on one
 * control thread per &struct nvmft_hbd, never on a reactor; results come
 * back to the reactors by message. I/O is driven by libnbd's asynchronous
 * API from the reactor that owns the bdev channel, the NBD socket being
 * watched by the reactor's own event engine.
 *
 * Pool health: a periodic check (handshake, plus NBD_OPT_INFO on one of the
 * pool's exports) sets the pool state. When a pool goes DOWN, every volume
 * of the pool is marked unavailable (nvmft_bdev_set_available(): consumers
 * get NVMFT_BDEV_EVENT_MEDIA) and its I/O fails at once with the path
 * status NVMFT_HBD_PATH_STATUS, so multipath hosts switch paths. When the
 * pool is back, connections are re-established and the volumes resume
 * without a target restart.
 *
 * Threading: unless stated otherwise, calls run on the app reactor (reactor
 * 0 of the registry's runtime).
 */
#ifndef NVMFT_BDEV_HBD_H
#define NVMFT_BDEV_HBD_H

#include <stdbool.h>
#include <stdint.h>
#include <nvmft/bdev.h>

#ifdef __cplusplus
extern "C" {
#endif

struct nvmft_hbd;
struct nvmft_hbd_pool;

/**
 * NVMFT_HBD_PATH_STATUS - the status of I/O failed for a pool or connection
 * problem: Path Related Status / Internal Path Error (SCT 3h, SC 00h), no
 * DNR. A Linux host fails such a command over to another path when the
 * namespace is multipathed and retries it (up to nvme_core.max_retries)
 * otherwise; unlike the ANA statuses it does not make the host re-read the
 * ANA log, whose state the target core owns.
 */
#define NVMFT_HBD_PATH_STATUS	((uint16_t)0x0300)

/**
 * enum nvmft_hbd_pool_state - health of a pool
 * @NVMFT_HBD_POOL_UNKNOWN: not checked yet.
 * @NVMFT_HBD_POOL_UP: the last check succeeded in time.
 * @NVMFT_HBD_POOL_DEGRADED: the server answers, but the last check was slow
 *	or could not open an export, or failed fewer than
 *	&nvmft_hbd_pool_opts.down_after times in a row. I/O is still served.
 * @NVMFT_HBD_POOL_DOWN: &nvmft_hbd_pool_opts.down_after checks failed in a
 *	row (or the first one did): volumes are unavailable, I/O fails fast.
 */
enum nvmft_hbd_pool_state {
	NVMFT_HBD_POOL_UNKNOWN = 0,
	NVMFT_HBD_POOL_UP,
	NVMFT_HBD_POOL_DEGRADED,
	NVMFT_HBD_POOL_DOWN,
};

/**
 * struct nvmft_hbd_pool_opts - pool options (see nvmft_hbd_pool_opts_init())
 * @health_interval_ms: time between health checks (default 1000, >= 10).
 * @connect_timeout_ms: bound of one connect + handshake (default 5000,
 *	>= 10); also bounds how long I/O waits for a reconnection.
 * @retry_backoff_ms: first delay before reconnecting after a failed
 *	reconnection (default 100, >= 1); doubles on each failure...
 * @retry_backoff_max_ms: ...up to this (default 5000). A pool that comes
 *	back UP makes every waiting connection retry at once.
 * @down_after: consecutive failed checks that make a pool DOWN (default 2,
 *	>= 1; a pool never seen UP goes DOWN on its first failure).
 * @degraded_latency_ms: a check slower than this makes the pool DEGRADED
 *	(default 1000; 0 = never).
 * @io_timeout_ms: a connection with commands in flight and no answer for
 *	this long is dropped and reconnected, its commands retried once
 *	(default 15000; 0 = never).
 */
struct nvmft_hbd_pool_opts {
	uint32_t health_interval_ms;
	uint32_t connect_timeout_ms;
	uint32_t retry_backoff_ms;
	uint32_t retry_backoff_max_ms;
	uint32_t down_after;
	uint32_t degraded_latency_ms;
	uint32_t io_timeout_ms;
};

/** nvmft_hbd_pool_opts_init() - fill @opts with the defaults. Any thread. */
void nvmft_hbd_pool_opts_init(struct nvmft_hbd_pool_opts *opts);

/**
 * nvmft_hbd_create() - a set of pools whose volumes go to registry @reg
 * @reg: bdev registry.
 * @out: the new context.
 *
 * App reactor. Starts the control thread. The context lives until
 * nvmft_hbd_destroy(), or until the runtime stops (then it is torn down by
 * an exit handler of the app reactor, after the registry's owner has had
 * its chance to delete the volumes).
 *
 * A registry has at most one context, which nvmft_hbd_get() finds: the
 * configuration loader and the RPC methods share it.
 *
 * Return: 0, -EINVAL (NULL, or not on the registry's app reactor), -EEXIST
 * (@reg already has a context), -ENOMEM, or the error of creating the
 * thread.
 */
int nvmft_hbd_create(struct nvmft_bdev_registry *reg, struct nvmft_hbd **out);

/**
 * nvmft_hbd_get() - the hbd context of registry @reg
 * @reg: bdev registry (NULL gives NULL).
 *
 * App reactor. The context made by nvmft_hbd_create() on @reg, until
 * nvmft_hbd_destroy() or the end of @reg; after a runtime stop it may be
 * one already torn down (its calls then fail with -ESHUTDOWN).
 *
 * Return: the context, or NULL when @reg has none.
 */
struct nvmft_hbd *nvmft_hbd_get(struct nvmft_bdev_registry *reg);

/**
 * nvmft_hbd_destroy() - delete every volume, then every pool, then stop
 * the control thread
 * @hbd: context (NULL is a no-op).
 * @done: runs on the app reactor at the end (may be NULL).
 * @arg: its argument.
 *
 * App reactor. Volumes are deleted with nvmft_bdev_delete() (open
 * descriptors get NVMFT_BDEV_EVENT_REMOVE and must close); volume
 * creations still opening complete with -ESHUTDOWN. Calling it twice is a
 * no-op (the second @done never runs).
 */
void nvmft_hbd_destroy(struct nvmft_hbd *hbd, nvmft_msg_fn done, void *arg);

/**
 * nvmft_hbd_pool_create() - add a pool and start checking its health
 * @hbd: context.
 * @name: unique pool name (1..63 characters).
 * @uri: NBD URI of the server, without an export name: nbd://, nbds://,
 *	nbd+unix://, nbds+unix:// or nbd+vsock://, path empty or "/".
 * @opts: options, or NULL for the defaults.
 * @out: the pool (may be NULL).
 *
 * App reactor. The pool starts UNKNOWN; the first check runs at once.
 *
 * Return: 0, -EINVAL (bad name, URI or option), -EEXIST, -ENOMEM,
 * -ESHUTDOWN (@hbd being destroyed).
 */
int nvmft_hbd_pool_create(struct nvmft_hbd *hbd, const char *name,
			  const char *uri, const struct nvmft_hbd_pool_opts *opts,
			  struct nvmft_hbd_pool **out);

/**
 * nvmft_hbd_pool_uri_valid() - true when @uri is usable as a pool URI
 * (known scheme, no export name). Any thread.
 */
bool nvmft_hbd_pool_uri_valid(const char *uri);

/**
 * nvmft_hbd_pool_destroy() - remove a pool that has no volume
 * App reactor. Return: 0, -ENOENT, -EBUSY (it has volumes, or some being
 * created).
 */
int nvmft_hbd_pool_destroy(struct nvmft_hbd *hbd, const char *name);

/** nvmft_hbd_pool_get() - pool named @name, or NULL. App reactor. */
struct nvmft_hbd_pool *nvmft_hbd_pool_get(struct nvmft_hbd *hbd,
					  const char *name);

/**
 * nvmft_hbd_pool_foreach() - call @fn for every pool in creation order
 * @hbd: context (NULL: no pool).
 * @fn: callback; a non-zero return stops the walk. It may destroy the
 *	pool it is given, no other.
 * @arg: its argument.
 *
 * App reactor. Return: 0, or the first non-zero value of @fn.
 */
int nvmft_hbd_pool_foreach(struct nvmft_hbd *hbd,
			   int (*fn)(struct nvmft_hbd_pool *pool, void *arg),
			   void *arg);

/** nvmft_hbd_pool_name() - the pool's name. App reactor. */
const char *nvmft_hbd_pool_name(const struct nvmft_hbd_pool *pool);

/** nvmft_hbd_pool_uri() - the pool's server URI. App reactor. */
const char *nvmft_hbd_pool_uri(const struct nvmft_hbd_pool *pool);

/** nvmft_hbd_pool_get_opts() - copy the pool's options. App reactor. */
void nvmft_hbd_pool_get_opts(const struct nvmft_hbd_pool *pool,
			     struct nvmft_hbd_pool_opts *opts);

/**
 * nvmft_hbd_pool_nr_opening() - volume creations of the pool still in
 * progress (they make nvmft_hbd_pool_destroy() fail). App reactor.
 */
unsigned int nvmft_hbd_pool_nr_opening(const struct nvmft_hbd_pool *pool);

/**
 * nvmft_hbd_pool_foreach_volume() - call @fn for every registered volume
 * of @pool (creations in progress are not included)
 * @pool: the pool.
 * @fn: callback with the volume's bdev; a non-zero return stops the walk.
 *	It must not delete bdevs.
 * @arg: its argument.
 *
 * App reactor. Return: 0, or the first non-zero value of @fn.
 */
int nvmft_hbd_pool_foreach_volume(struct nvmft_hbd_pool *pool,
				  int (*fn)(struct nvmft_bdev *bdev, void *arg),
				  void *arg);

/** nvmft_hbd_pool_get_state() - current state (an atomic). Any thread. */
enum nvmft_hbd_pool_state nvmft_hbd_pool_get_state(const struct nvmft_hbd_pool *pool);

/** nvmft_hbd_pool_state_name() - "unknown", "up", "degraded", "down" */
const char *nvmft_hbd_pool_state_name(enum nvmft_hbd_pool_state state);

/**
 * nvmft_hbd_pool_check_now() - run a health check as soon as possible
 * Any thread. The connections of the pool's volumes ask for one
 * themselves whenever they drop.
 */
void nvmft_hbd_pool_check_now(struct nvmft_hbd_pool *pool);

/**
 * struct nvmft_hbd_pool_info - counters of a pool (relaxed reads)
 * @state: current state.
 * @checks: health checks done.
 * @checks_failed: of which failed.
 * @last_check_us: duration of the last check.
 * @volumes: volumes registered.
 */
struct nvmft_hbd_pool_info {
	enum nvmft_hbd_pool_state state;
	uint64_t checks;
	uint64_t checks_failed;
	uint64_t last_check_us;
	unsigned int volumes;
};

/** nvmft_hbd_pool_get_info() - fill @info. Any thread. */
void nvmft_hbd_pool_get_info(const struct nvmft_hbd_pool *pool,
			     struct nvmft_hbd_pool_info *info);

/**
 * struct nvmft_hbd_volume_opts - a volume to open
 * @export_name: NBD export name on the pool's server (required).
 * @bdev_name: name of the bdev (NULL = @export_name; at most 63 characters).
 * @block_size: logical block size: 512 (0 = default) .. 65536, a power of
 *	2 and a multiple of the server's minimum block size.
 * @uuid: 16 bytes, or NULL (derived from the bdev name).
 * @queue_depth: NBD commands in flight per connection (0 = 128); more
 *	I/O waits in the backend's queue.
 */
struct nvmft_hbd_volume_opts {
	const char *export_name;
	const char *bdev_name;
	uint32_t block_size;
	const uint8_t *uuid;
	uint32_t queue_depth;
};

/**
 * typedef nvmft_hbd_volume_cb - end of an asynchronous volume creation
 * @arg: the caller's argument.
 * @rc: 0; -ENOENT (no such export); -EHOSTDOWN (pool unreachable);
 *	-ETIMEDOUT; -EEXIST (bdev name taken meanwhile); -EINVAL (block size
 *	incompatible with the export, or an empty export); -ESHUTDOWN;
 *	-ENOMEM; or another error of the server.
 * @bdev: the registered bdev when @rc is 0, else NULL.
 *
 * Runs on the app reactor.
 */
typedef void (*nvmft_hbd_volume_cb)(void *arg, int rc, struct nvmft_bdev *bdev);

/**
 * nvmft_hbd_volume_create() - open export @opts->export_name of @pool and
 * register it as a bdev
 * @pool: the pool.
 * @opts: what to open (strings copied).
 * @done: completion (required).
 * @arg: its argument.
 *
 * App reactor. The connection, handshake and size query run on the
 * control thread; @done runs later on the app reactor.
 *
 * Return: 0 (@done will run), -EINVAL, -EEXIST (bdev name taken or being
 * created), -ENOMEM, -ESHUTDOWN (context being destroyed); @done does not
 * run on error.
 */
int nvmft_hbd_volume_create(struct nvmft_hbd_pool *pool,
			    const struct nvmft_hbd_volume_opts *opts,
			    nvmft_hbd_volume_cb done, void *arg);

/**
 * nvmft_hbd_volume_delete() - delete hbd bdev @bdev_name
 * Same as nvmft_bdev_delete(), for hbd bdevs only. App reactor.
 * Return: 0, -ENOENT, -EINVAL (not an hbd bdev), -ENOMEM.
 */
int nvmft_hbd_volume_delete(struct nvmft_hbd *hbd, const char *bdev_name,
			    void (*done)(void *arg, int rc), void *arg);

/**
 * struct nvmft_hbd_volume_stats - counters of a volume (relaxed reads)
 * @connects: NBD connections established (the first ones included).
 * @drops: connections lost (dropped by the server, or timed out).
 * @retries: I/Os issued again on a new connection after a drop.
 * @path_failures: I/Os failed with NVMFT_HBD_PATH_STATUS.
 */
struct nvmft_hbd_volume_stats {
	uint64_t connects;
	uint64_t drops;
	uint64_t retries;
	uint64_t path_failures;
};

/**
 * nvmft_hbd_volume_get_stats() - counters of hbd bdev @bdev
 * Any thread while the caller holds a descriptor.
 * Return: 0 or -EINVAL (not an hbd bdev).
 */
int nvmft_hbd_volume_get_stats(struct nvmft_bdev *bdev,
			       struct nvmft_hbd_volume_stats *st);

#ifdef __cplusplus
}
#endif
#endif
