/* SPDX-License-Identifier: MIT */
/**
 * DOC: block devices — provider API (for people writing backends)
 *
 * A backend fills a const &struct nvmft_bdev_ops, and registers each of its
 * devices with nvmft_bdev_register(). The bdev layer creates one channel
 * per reactor that does I/O (channel_create/destroy run on that reactor),
 * checks ranges, counts, emulates what the backend lacks, and calls
 * submit() on the reactor of the channel. The backend completes each I/O
 * exactly once with nvmft_bdev_io_complete() (or _status()), on that same
 * reactor, possibly from inside submit().
 */
#ifndef NVMFT_BDEV_MODULE_H
#define NVMFT_BDEV_MODULE_H

#include <nvmft/bdev.h>

#ifdef __cplusplus
extern "C" {
#endif

struct json_object;

/**
 * struct nvmft_bdev_ops - a backend
 * @name: backend type name ("malloc", "null", "uring", ...).
 * @chan_ctx_size: bytes of per-reactor context given to channel_create.
 * @io_ctx_size: bytes of &nvmft_bdev_io.driver_ctx the backend uses
 *	(<= NVMFT_BDEV_IO_CTX_SIZE, checked at registration).
 * @channel_create: build the per-reactor context (zeroed) on that reactor.
 *	Return 0 or -errno. Optional.
 * @channel_destroy: tear it down, on the same reactor. Optional.
 * @submit: start @io. Return 0 when the backend owns it (it will complete
 *	it, maybe already has), -ENOMEM/-EAGAIN to be retried later by the bdev
 *	layer (resubmitted after another I/O of that channel completes), or
 *	another -errno to fail it (mapped to an NVMe status).
 * @supports: true when @type is handled natively; others get emulated.
 *	Asked once per type at registration. NULL: READ and WRITE only.
 * @poll: optional; registered as an active poller on every channel's
 *	reactor, for backends that must reap completions. Return > 0 when it
 *	did work.
 * @destroy: free the device; call @done(@arg) when finished (may be
 *	asynchronous, from any thread). Runs on the app reactor once every
 *	descriptor is closed and every channel destroyed. Optional.
 * @dump_info: optional; add the backend's creation parameters to @obj
 *	(json-c object) for RPC listings and save-config.
 */
struct nvmft_bdev_ops {
	const char *name;
	size_t chan_ctx_size;
	size_t io_ctx_size;
	int (*channel_create)(void *bdev_ctx, void *chan_ctx);
	void (*channel_destroy)(void *bdev_ctx, void *chan_ctx);
	int (*submit)(void *chan_ctx, struct nvmft_bdev_io *io);
	bool (*supports)(void *bdev_ctx, enum nvmft_io_type type);
	int (*poll)(void *chan_ctx);
	void (*destroy)(void *bdev_ctx, void (*done)(void *arg), void *arg);
	void (*dump_info)(void *bdev_ctx, struct json_object *obj);
};

/**
 * struct nvmft_bdev_props - what a backend says about a device
 * @name: unique name in the registry.
 * @block_size: logical block size (512 .. 65536, power of 2).
 * @num_blocks: size in blocks.
 * @uuid: 16 bytes or NULL (then derived from @name: stable across restarts).
 * @write_cache: true when completed writes are volatile until FLUSH / FUA.
 * @max_io_blocks: largest READ/WRITE/COMPARE the backend accepts (0 = no
 *	limit); larger ones are split by the bdev layer. Also bounds the
 *	writes that emulate WRITE_ZEROES. Native WRITE_ZEROES and UNMAP are
 *	passed whole.
 * @unmap_advisory: when the backend does not support UNMAP, complete it as
 *	a successful no-op (deallocation is a hint) instead of Invalid Opcode.
 */
struct nvmft_bdev_props {
	const char *name;
	uint32_t block_size;
	uint64_t num_blocks;
	const uint8_t *uuid;
	bool write_cache;
	uint32_t max_io_blocks;
	bool unmap_advisory;
};

/**
 * nvmft_bdev_register() - add a device to the registry
 * @reg: registry.
 * @props: properties (copied).
 * @ops: the backend (must outlive the bdev).
 * @bdev_ctx: the backend's device state, passed back to every op.
 * @out: the bdev (may be NULL).
 *
 * App reactor. Return: 0, -EEXIST (name taken, also by a bdev still being
 * deleted), -EINVAL, -ENOMEM, -ESHUTDOWN (registry being destroyed).
 */
int nvmft_bdev_register(struct nvmft_bdev_registry *reg,
			const struct nvmft_bdev_props *props,
			const struct nvmft_bdev_ops *ops, void *bdev_ctx,
			struct nvmft_bdev **out);

/** nvmft_bdev_get_ctx() - the backend's @bdev_ctx. Any thread. */
void *nvmft_bdev_get_ctx(struct nvmft_bdev *bdev);

/** nvmft_bdev_io_get_bdev() - bdev of an I/O in flight. */
struct nvmft_bdev *nvmft_bdev_io_get_bdev(struct nvmft_bdev_io *io);

/**
 * nvmft_bdev_errno_to_status() - the NVMe status an errno result maps to
 * @type: the I/O type (decides between read and write media errors).
 * @rc: 0 or a negative errno.
 *
 * The mapping (SCT/SC of <nvme/types.h>; DNR only where a retry cannot
 * succeed):
 * 0 → 0;
 * -EIO → Media / Unrecovered Read Error (READ, COMPARE), Media / Write Fault
 * (other types);
 * -ENOSPC → Generic / Capacity Exceeded | DNR;
 * -EAGAIN, -ENOMEM, -ETIMEDOUT, -ECONNRESET → Generic / Command Interrupted
 * (the transient status: the host retries it; chosen over Namespace Not
 * Ready so that a transient failure and a missing namespace stay apart);
 * -EILSEQ → Media / Compare Failure (no DNR: the data may have changed);
 * -ENODEV → Generic / Namespace Not Ready (no DNR);
 * anything else → Generic / Internal Error.
 *
 * Any thread.
 */
uint16_t nvmft_bdev_errno_to_status(enum nvmft_io_type type, int rc);

/**
 * nvmft_bdev_io_complete() - finish an I/O with an errno-style result
 * @io: the I/O.
 * @rc: 0, or -errno mapped to an NVMe status by
 *	nvmft_bdev_errno_to_status(): -EIO → Unrecovered Read Error (reads) /
 *	Write Fault (writes), -ENOSPC → Capacity Exceeded,
 *	-EAGAIN/-ENOMEM/-ETIMEDOUT/-ECONNRESET → Command Interrupted (retryable
 *	transient error), -EILSEQ → Compare Failure, -ENODEV → Namespace Not
 *	Ready, else Internal Error.
 *
 * Reactor of the I/O's channel.
 */
void nvmft_bdev_io_complete(struct nvmft_bdev_io *io, int rc);

/**
 * nvmft_bdev_io_complete_status() - finish an I/O with an exact NVMe status
 */
void nvmft_bdev_io_complete_status(struct nvmft_bdev_io *io, uint16_t status);

/**
 * nvmft_bdev_hot_remove() - the device is gone: same as nvmft_bdev_delete()
 * but started by the backend. App reactor. No-op when already removing.
 */
void nvmft_bdev_hot_remove(struct nvmft_bdev *bdev);

/**
 * nvmft_bdev_notify_resize() - the device now has @num_blocks blocks
 * App reactor. Every open descriptor gets NVMFT_BDEV_EVENT_RESIZE (not when
 * the size is unchanged). Shrinking below an open descriptor's use is
 * allowed; the consumer is told and decides. Return: 0, -EINVAL (zero
 * blocks, a size that overflows, or a bdev being removed).
 */
int nvmft_bdev_notify_resize(struct nvmft_bdev *bdev, uint64_t num_blocks);

/**
 * nvmft_bdev_set_available() - the backend can (not) serve I/O now
 * App reactor; descriptors get NVMFT_BDEV_EVENT_MEDIA on a change. The
 * layer does not gate I/O on it: the backend fails what it cannot serve.
 */
void nvmft_bdev_set_available(struct nvmft_bdev *bdev, bool available);

#ifdef __cplusplus
}
#endif
#endif
