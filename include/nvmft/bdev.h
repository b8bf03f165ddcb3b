/* SPDX-License-Identifier: MIT */
/**
 * DOC: block devices — consumer API
 *
 * A bdev is a named block device in a &struct nvmft_bdev_registry. The
 * target opens bdevs through descriptors and submits I/O on per-reactor
 * channels. Backends (malloc, null, and user-written ones) register bdevs
 * through the provider API in <nvmft/bdev_module.h>.
 *
 * Threading: registry calls (create, open, close, delete) run on the app
 * reactor (reactor 0) unless stated otherwise; I/O calls run on the reactor
 * that owns the channel.
 */
#ifndef NVMFT_BDEV_H
#define NVMFT_BDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <nvmft/runtime.h>

#ifdef __cplusplus
extern "C" {
#endif

struct nvmft_bdev_registry;
struct nvmft_bdev;
struct nvmft_bdev_desc;
struct nvmft_bdev_io;

/**
 * enum nvmft_io_type - kinds of block I/O
 * @NVMFT_IO_READ: read @num_blocks at @offset_blocks into the iovecs.
 * @NVMFT_IO_WRITE: write; NVMFT_IO_FLAG_FUA makes it durable before completion.
 * @NVMFT_IO_FLUSH: make every completed write durable.
 * @NVMFT_IO_WRITE_ZEROES: the range reads back as zeroes.
 * @NVMFT_IO_UNMAP: deallocate the range (reads back zeroes on malloc/null).
 * @NVMFT_IO_COMPARE: compare the range with the iovecs; a mismatch completes
 *	with the NVMe Compare Failure status.
 */
enum nvmft_io_type {
	NVMFT_IO_READ = 0,
	NVMFT_IO_WRITE,
	NVMFT_IO_FLUSH,
	NVMFT_IO_WRITE_ZEROES,
	NVMFT_IO_UNMAP,
	NVMFT_IO_COMPARE,
	NVMFT_IO_TYPE_MAX,
};

/** Force unit access: write through to stable media before completing. */
#define NVMFT_IO_FLAG_FUA	0x1

/** Room for a backend's per-I/O state inside &struct nvmft_bdev_io. */
#define NVMFT_BDEV_IO_CTX_SIZE	192

/**
 * typedef nvmft_bdev_io_cb - completion of a bdev I/O
 * @io: the I/O.
 * @status: NVMe status (0 = success; layout of <nvmft/nvme_wire.h>).
 * @arg: the submitter's argument.
 *
 * Runs on the reactor that submitted the I/O.
 */
typedef void (*nvmft_bdev_io_cb)(struct nvmft_bdev_io *io, uint16_t status,
				 void *arg);

/**
 * struct nvmft_bdev_io - one block I/O; owned by the submitter (embedded in
 * its request: no allocation per I/O)
 * @type: what to do.
 * @flags: NVMFT_IO_FLAG_*.
 * @offset_blocks: first block.
 * @num_blocks: number of blocks (0 for FLUSH).
 * @iov: data buffers (READ, WRITE, COMPARE).
 * @iovcnt: number of iovecs.
 * @cb: completion.
 * @cb_arg: its argument.
 * @lock_owner: NULL, or the owner token (the @arg) of a range lock taken
 *	with nvmft_bdev_lock_range(): a write carrying the token passes that
 *	lock (the Write of a fused Compare and Write); every other write to
 *	an overlapping range, on any reactor, is held back until the unlock.
 *	A stale token is harmless: it only matters while its lock is held.
 * @internal: bdev layer's state, do not touch.
 * @driver_ctx: the backend's per-I/O state (bdev_module.h io_ctx_size bytes).
 *	Only I/O that reaches the backend uses it: the layer keeps its own
 *	state there for I/O it splits or emulates.
 *
 * The iovecs must add up to exactly @num_blocks × block size bytes for
 * READ, WRITE and COMPARE; they are ignored for the other types.
 */
struct nvmft_bdev_io {
	enum nvmft_io_type type;
	uint32_t flags;
	uint64_t offset_blocks;
	uint64_t num_blocks;
	struct iovec *iov;
	int iovcnt;
	nvmft_bdev_io_cb cb;
	void *cb_arg;
	void *lock_owner;
	struct {
		struct nvmft_bdev_desc *desc;
		struct nvmft_io_channel *ch;
		void *link[2];
		void *qnext;
		uint64_t seq;
		uint32_t state;
	} internal;
	uint8_t driver_ctx[NVMFT_BDEV_IO_CTX_SIZE] __attribute__((aligned(16)));
};

/**
 * enum nvmft_bdev_event - events delivered to open descriptors
 * @NVMFT_BDEV_EVENT_REMOVE: the bdev is going away (deleted, or the backend
 *	reported hot-removal): close the descriptor; I/O fails from now on.
 * @NVMFT_BDEV_EVENT_RESIZE: the block count changed.
 * @NVMFT_BDEV_EVENT_MEDIA: the backend's availability changed (see
 *	nvmft_bdev_is_available()).
 */
enum nvmft_bdev_event {
	NVMFT_BDEV_EVENT_REMOVE = 0,
	NVMFT_BDEV_EVENT_RESIZE,
	NVMFT_BDEV_EVENT_MEDIA,
};

/**
 * typedef nvmft_bdev_event_cb - runs on the app reactor
 *
 * Delivered from a message, never from inside the call that caused the
 * event. Several changes of the same kind before delivery are coalesced
 * into one event (read the current value); REMOVE comes last and once.
 * The callback may close its descriptor (it must, on REMOVE, once its I/O
 * has completed).
 */
typedef void (*nvmft_bdev_event_cb)(enum nvmft_bdev_event ev,
				    struct nvmft_bdev *bdev, void *ctx);

/**
 * nvmft_bdev_registry_create() - a registry of named bdevs on runtime @rt
 * @rt: runtime the bdevs' channels live on.
 * @out: the registry.
 *
 * Any thread. Return: 0 or -ENOMEM.
 */
int nvmft_bdev_registry_create(struct nvmft_runtime *rt,
			       struct nvmft_bdev_registry **out);

/**
 * nvmft_bdev_registry_destroy() - delete every bdev, then free the registry
 * @reg: registry (NULL is a no-op).
 * @done: runs on the app reactor when everything is gone (may be NULL).
 * @arg: its argument.
 *
 * App reactor. Descriptors still open get NVMFT_BDEV_EVENT_REMOVE first;
 * @done runs once every bdev is destroyed, so consumers must close them.
 * Registration fails with -ESHUTDOWN from now on.
 */
void nvmft_bdev_registry_destroy(struct nvmft_bdev_registry *reg,
				 nvmft_msg_fn done, void *arg);

/** nvmft_bdev_registry_runtime() - the registry's runtime. Any thread. */
struct nvmft_runtime *nvmft_bdev_registry_runtime(struct nvmft_bdev_registry *reg);

/**
 * nvmft_bdev_get() - bdev named @name, or NULL. App reactor.
 *
 * A bdev being deleted is still found (its name stays taken) until its
 * backend is destroyed.
 */
struct nvmft_bdev *nvmft_bdev_get(struct nvmft_bdev_registry *reg,
				  const char *name);

/**
 * nvmft_bdev_foreach() - call @fn for every bdev in creation order
 * App reactor. Stops early when @fn returns non-zero, and returns that.
 */
int nvmft_bdev_foreach(struct nvmft_bdev_registry *reg,
		       int (*fn)(struct nvmft_bdev *bdev, void *arg), void *arg);

/**
 * nvmft_bdev_delete() - unregister and destroy a bdev by name
 * @reg: registry.
 * @name: bdev name.
 * @done: runs on the app reactor once destroyed (rc 0), may be NULL.
 * @arg: its argument.
 *
 * Open descriptors get NVMFT_BDEV_EVENT_REMOVE; submit fails with -ENODEV
 * from now on; the io_device is unregistered once the last descriptor is
 * closed, the backend's destroy runs once every channel is gone, then
 * @done. Deleting a bdev already being deleted just adds @done.
 *
 * Return: 0 (deletion started), -ENOENT, -ENOMEM (@done not recorded).
 */
int nvmft_bdev_delete(struct nvmft_bdev_registry *reg, const char *name,
		      void (*done)(void *arg, int rc), void *arg);

/* Properties (any thread while the caller holds a descriptor). */
const char *nvmft_bdev_name(const struct nvmft_bdev *bdev);
/** nvmft_bdev_product() - backend type name ("malloc", "null", ...) */
const char *nvmft_bdev_product(const struct nvmft_bdev *bdev);
uint32_t nvmft_bdev_block_size(const struct nvmft_bdev *bdev);
uint64_t nvmft_bdev_num_blocks(const struct nvmft_bdev *bdev);
/** nvmft_bdev_uuid() - 16-byte UUID (stable: derived from the name unless given) */
const uint8_t *nvmft_bdev_uuid(const struct nvmft_bdev *bdev);
/** nvmft_bdev_write_cache() - true when writes are volatile until a flush */
bool nvmft_bdev_write_cache(const struct nvmft_bdev *bdev);
/** nvmft_bdev_is_available() - false while the backend cannot serve I/O */
bool nvmft_bdev_is_available(const struct nvmft_bdev *bdev);
/** nvmft_bdev_supports() - true when @type runs natively or emulated */
bool nvmft_bdev_supports(const struct nvmft_bdev *bdev, enum nvmft_io_type type);
/** nvmft_bdev_max_io_blocks() - largest single I/O in blocks (0 = no limit) */
uint32_t nvmft_bdev_max_io_blocks(const struct nvmft_bdev *bdev);

/**
 * nvmft_bdev_open() - open bdev @name
 * @reg: registry.
 * @name: bdev name.
 * @write: open for writing.
 * @event_cb: events (required: a consumer must react to REMOVE).
 * @ctx: its context.
 * @out: the descriptor.
 *
 * App reactor. Return: 0, -ENOENT, -EBUSY (being deleted), -ENOMEM.
 */
int nvmft_bdev_open(struct nvmft_bdev_registry *reg, const char *name,
		    bool write, nvmft_bdev_event_cb event_cb, void *ctx,
		    struct nvmft_bdev_desc **out);

/**
 * nvmft_bdev_close() - close a descriptor. App reactor; may be called from
 * the descriptor's own event callback.
 */
void nvmft_bdev_close(struct nvmft_bdev_desc *desc);

/** nvmft_bdev_desc_get_bdev() - the bdev of a descriptor. Any thread. */
struct nvmft_bdev *nvmft_bdev_desc_get_bdev(struct nvmft_bdev_desc *desc);

/**
 * nvmft_bdev_get_io_channel() - the calling reactor's I/O channel
 * Put it with nvmft_put_io_channel() once its I/O has completed (the bdev
 * is destroyed only after every channel is put). Calling reactor.
 * Return: channel, or NULL (bdev removed, not on a reactor, no memory, or
 * the backend's channel_create failed).
 */
struct nvmft_io_channel *nvmft_bdev_get_io_channel(struct nvmft_bdev_desc *desc);

/**
 * nvmft_bdev_submit() - submit @io on channel @ch
 * @desc: descriptor (open for writing for WRITE/WRITE_ZEROES/UNMAP).
 * @ch: the calling reactor's channel.
 * @io: filled in by the caller (type, flags, range, iov, cb, lock_owner).
 *
 * The range is checked against the bdev size (FLUSH ignores it); an
 * unsupported type is emulated (WRITE_ZEROES by writes from a zero buffer,
 * COMPARE by a read into a bounce buffer and memcmp, UNMAP as a no-op
 * success only where the backend says unmap is advisory, FLUSH as a no-op
 * success when the bdev has no volatile write cache) or fails with Invalid
 * Opcode (with DNR). READ, WRITE and COMPARE larger than the backend's
 * max_io_blocks are split. I/O the backend refuses for lack of resources
 * is queued and resubmitted, never failed for that reason.
 * The callback may run before this returns. Reactor owning @ch.
 *
 * Return: 0 (the callback will run, or has run), -EINVAL (bad type, flags,
 * range — including zero blocks — iovecs that do not add up to the range,
 * or a channel of another bdev; callback not called), -EBADF (not open for
 * writing), -ENODEV (bdev removed). Checked in that order, except -EINVAL
 * for the range which comes last.
 */
int nvmft_bdev_submit(struct nvmft_bdev_desc *desc, struct nvmft_io_channel *ch,
		      struct nvmft_bdev_io *io);

/**
 * nvmft_bdev_lock_range() - exclusive access to a block range
 * @desc: descriptor.
 * @ch: calling reactor's channel.
 * @offset_blocks: first block.
 * @num_blocks: blocks.
 * @cb: runs (on the calling reactor) once no write to an overlapping range
 *	is in flight on any reactor and new ones are held back.
 * @arg: its argument.
 *
 * For fused Compare and Write. @arg is also the lock's owner token: writes
 * whose &nvmft_bdev_io.lock_owner equals @arg pass the lock; every other
 * write overlapping the range — on any reactor, this one included — waits
 * until nvmft_bdev_unlock_range(). Reads are never held. Locks on
 * overlapping ranges are granted one after the other, in request order.
 * @cb gets rc 0 when granted, or a negative errno if the lock could not be
 * installed (then nothing is held). Reactor owning @ch.
 *
 * Return: 0 (@cb will run), -EINVAL (bad range, no @cb), -ENODEV (bdev
 * removed), -ENOMEM.
 */
int nvmft_bdev_lock_range(struct nvmft_bdev_desc *desc,
			  struct nvmft_io_channel *ch, uint64_t offset_blocks,
			  uint64_t num_blocks, void (*cb)(void *arg, int rc),
			  void *arg);

/**
 * nvmft_bdev_unlock_range() - release a range taken by nvmft_bdev_lock_range()
 * @desc: descriptor.
 * @ch: the channel the lock was taken on.
 * @offset_blocks: same range as the lock.
 * @num_blocks: same range as the lock.
 *
 * Held-back writes resume on every reactor shortly after (asynchronously);
 * the next waiting overlapping lock is then installed. Reactor owning @ch.
 *
 * Return: 0, -ENOENT (no granted lock of this channel with that range).
 */
int nvmft_bdev_unlock_range(struct nvmft_bdev_desc *desc,
			    struct nvmft_io_channel *ch, uint64_t offset_blocks,
			    uint64_t num_blocks);

/**
 * struct nvmft_bdev_stats - per-bdev counters summed over channels
 * @ops: completed consumer I/Os per type (split children not counted).
 * @bytes_read: bytes of successful READs.
 * @bytes_written: bytes of successful WRITEs.
 * @errors: I/Os completed with a non-zero status.
 */
struct nvmft_bdev_stats {
	uint64_t ops[NVMFT_IO_TYPE_MAX];
	uint64_t bytes_read;
	uint64_t bytes_written;
	uint64_t errors;
};

/**
 * nvmft_bdev_get_stats() - sum the counters of every channel of @bdev
 * @bdev: the bdev (the caller holds a descriptor).
 * @out: filled in before @done runs.
 * @done: runs on the calling reactor once @out is complete.
 * @arg: its argument.
 *
 * Counters live per channel and are summed by visiting each reactor in
 * turn (no lock, no atomics on the I/O path); those of destroyed channels
 * are kept. A channel destroyed during the walk may be missed by that one
 * sample. Any reactor of the registry's runtime.
 *
 * Return: 0 (@done will run), -ENOMEM, or a runtime error (then @done
 * does not run).
 */
int nvmft_bdev_get_stats(struct nvmft_bdev *bdev, struct nvmft_bdev_stats *out,
			 nvmft_msg_fn done, void *arg);

struct json_object;

/**
 * nvmft_bdev_dump_info() - add the backend's creation parameters to @obj
 * @bdev: the bdev.
 * @obj: a json-c object (RPC listings, save-config).
 *
 * App reactor. Return: 0, -EINVAL, -EOPNOTSUPP (the backend has none).
 */
int nvmft_bdev_dump_info(struct nvmft_bdev *bdev, struct json_object *obj);

/* Shipped backends. */

/**
 * nvmft_bdev_malloc_create() - a RAM bdev
 * @reg: registry.
 * @name: unique name.
 * @num_blocks: size in blocks.
 * @block_size: 512 or 4096.
 * @uuid: 16 bytes, or NULL to derive a stable one from @name.
 * @out: the bdev (may be NULL).
 *
 * App reactor. Return: 0, -EEXIST, -EINVAL, -ENOMEM.
 */
int nvmft_bdev_malloc_create(struct nvmft_bdev_registry *reg, const char *name,
			     uint64_t num_blocks, uint32_t block_size,
			     const uint8_t *uuid, struct nvmft_bdev **out);

/**
 * nvmft_bdev_null_create() - a bdev whose reads return zeroes and whose
 * writes are discarded (benchmarks). Same parameters as malloc.
 */
int nvmft_bdev_null_create(struct nvmft_bdev_registry *reg, const char *name,
			   uint64_t num_blocks, uint32_t block_size,
			   const uint8_t *uuid, struct nvmft_bdev **out);

/**
 * struct nvmft_bdev_uring_opts - options of nvmft_bdev_uring_create()
 * @name: unique bdev name (required).
 * @filename: an existing regular file or block device (required). Its
 *	size is the bdev's size, rounded down to a whole number of blocks.
 * @block_size: logical block size, a power of 2 in 512..65536; 0 = detect:
 *	the device's logical block size (BLKSSZGET) for a block device; for a
 *	file 512, or the file system's O_DIRECT offset alignment when larger.
 *	It may not be smaller than either of those.
 * @buffered: go through the page cache instead of O_DIRECT (needed on file
 *	systems without O_DIRECT).
 * @uuid: 16 bytes, or NULL to derive a stable one from @name.
 *
 * Zero-initialise it: fields added later default to zero.
 */
struct nvmft_bdev_uring_opts {
	const char *name;
	const char *filename;
	uint32_t block_size;
	bool buffered;
	const uint8_t *uuid;
};

/**
 * nvmft_bdev_uring_create() - a bdev backed by a file or a block device
 * @reg: registry.
 * @opts: options (copied).
 * @out: the bdev (may be NULL).
 *
 * I/O goes through each reactor's own io_uring (READV/WRITEV, FSYNC with
 * DATASYNC for Flush, RWF_DSYNC for FUA, FALLOCATE ZERO_RANGE for Write
 * Zeroes and PUNCH_HOLE for deallocate). The bdev reports a volatile write
 * cache, so Flush and FUA reach the file. A failing file or device fails
 * that one command with the status of nvmft_bdev_errno_to_status() (-EIO
 * → media error, -ENOSPC → Capacity Exceeded). When the runtime's engine is
 * epoll, each channel gets a small io_uring of its own; without a usable
 * io_uring at all, creation fails with -ENOTSUP.
 *
 * App reactor (the open and the size/alignment probes are blocking system
 * calls on a local path). Errors are also logged with the reason.
 *
 * Return: 0, -EINVAL (bad options, not a regular file or block device,
 * smaller than one block, block size below the device's), -EEXIST, -ENOTSUP,
 * -ENOMEM, or the errno of open(2) (-ENOENT, -EACCES, -EISDIR, -EINVAL when
 * the file system refuses O_DIRECT: set @buffered).
 */
int nvmft_bdev_uring_create(struct nvmft_bdev_registry *reg,
			    const struct nvmft_bdev_uring_opts *opts,
			    struct nvmft_bdev **out);

/**
 * nvmft_bdev_uring_rescan() - take a new size of the file or block device
 * under uring bdev @name
 * @reg: registry.
 * @name: the bdev.
 *
 * Re-reads the size (fstat(2) of a file, BLKGETSIZE64 of a block device),
 * rounded down to whole blocks. When it changed, the bdev takes it and every
 * open descriptor gets NVMFT_BDEV_EVENT_RESIZE (a namespace on it sends its
 * hosts a Namespace Attribute Changed event); I/O beyond a shrunken end is
 * refused from then on (LBA Out of Range). An unchanged size sends nothing.
 *
 * App reactor (the probes are quick system calls on an open descriptor).
 *
 * Return: 0 (changed or not), -ENOENT (no bdev @name), -EINVAL (NULL, not a
 * uring bdev, being removed, or now smaller than one block: the size is
 * then kept), or the errno of fstat(2) / ioctl(2).
 */
int nvmft_bdev_uring_rescan(struct nvmft_bdev_registry *reg, const char *name);

/**
 * nvmft_uuid_from_name() - stable UUID from a name
 * @name: the name.
 * @uuid: the UUID (RFC 4122 version 5: SHA-1 of a fixed nvmft namespace
 *	UUID followed by @name), the same for the same name on every run.
 *
 * Any thread.
 */
void nvmft_uuid_from_name(const char *name, uint8_t uuid[16]);

#ifdef __cplusplus
}
#endif
#endif
