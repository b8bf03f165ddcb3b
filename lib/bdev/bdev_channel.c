// SPDX-License-Identifier: MIT
/*
 * A bdev's per-reactor channel: the io_device callbacks. The channel holds
 * the backend's context, the counters, the retry/held/waiter queues, the
 * range-lock nodes and the (lazily allocated) emulation resources.
 */
#include <errno.h>
#include <stdlib.h>

#include "bdev/bdev_internal.h"
#include "runtime/engine.h"

static int backend_poll(void *arg)
{
	struct bdev_channel *bch = arg;

	return bch->bdev->ops->poll(bch->chan_ctx);
}

int bdev_channel_create(void *io_device, void *ctx)
{
	struct nvmft_bdev *bdev = io_device;
	const struct nvmft_bdev_ops *ops = bdev->ops;
	struct bdev_channel *bch = ctx;
	int rc;

	bch->bdev = bdev;
	bch->thread = nvmft_get_thread();
	bch->thread_idx = nvmft_thread_index(bch->thread);
	if (ops->channel_create) {
		rc = ops->channel_create(bdev->ctx, bch->chan_ctx);
		if (rc)
			return rc;
	}
	/* Registered once, paused: resumed only while the retry queue is not empty. */
	bch->retry_poller = nvmft_poller_register(bdev_retry_poll, bch,
						  RETRY_POLL_US);
	if (!bch->retry_poller) {
		rc = -ENOMEM;
		goto out_backend_channel;
	}
	nvmft_poller_pause(bch->retry_poller);
	if (ops->poll) {
		bch->backend_poller = nvmft_poller_register(backend_poll, bch, 0);
		if (!bch->backend_poller) {
			rc = -ENOMEM;
			goto out_retry_poller;
		}
	}
	/* Pick up range locks published before this channel existed. */
	bdev_locks_sync(bch);
	return 0;

out_retry_poller:
	nvmft_poller_unregister(&bch->retry_poller);
out_backend_channel:
	if (ops->channel_destroy)
		ops->channel_destroy(bdev->ctx, bch->chan_ctx);
	return rc;
}

static void stats_retire(struct bdev_channel *bch)
{
	struct nvmft_bdev *bdev = bch->bdev;
	int t;

	for (t = 0; t < NVMFT_IO_TYPE_MAX; t++)
		atomic_fetch_add_explicit(&bdev->retired_ops[t],
					  bch->stats.ops[t], memory_order_relaxed);
	atomic_fetch_add_explicit(&bdev->retired_bytes_read,
				  bch->stats.bytes_read, memory_order_relaxed);
	atomic_fetch_add_explicit(&bdev->retired_bytes_written,
				  bch->stats.bytes_written, memory_order_relaxed);
	atomic_fetch_add_explicit(&bdev->retired_errors, bch->stats.errors,
				  memory_order_relaxed);
}

void bdev_channel_destroy(void *io_device, void *ctx)
{
	struct nvmft_bdev *bdev = io_device;
	struct bdev_channel *bch = ctx;

	/*
	 * A consumer that puts its channel with I/O outstanding has a bug;
	 * still, what never reached the backend is failed rather than lost.
	 */
	if (bch->in_flight)
		RT_WARN(bdev->rt, "bdev %s: channel on reactor %u destroyed with %llu I/O outstanding",
			bdev->name, bch->thread_idx,
			(unsigned long long)bch->in_flight);
	bdev_fail_queued(bch, nvmft_bdev_errno_to_status(NVMFT_IO_READ, -ENODEV));
	bdev_locks_channel_gone(bch);
	nvmft_poller_unregister(&bch->backend_poller);
	nvmft_poller_unregister(&bch->retry_poller);
	stats_retire(bch);
	if (bdev->ops->channel_destroy)
		bdev->ops->channel_destroy(bdev->ctx, bch->chan_ctx);
	bdev_emu_free(bch);
}
