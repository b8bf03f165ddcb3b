// SPDX-License-Identifier: MIT
/*
 * The bdev registry and a bdev's life: registration, descriptors, events,
 * deletion/hot removal, properties and stats.
 *
 * A bdev leaves in stages so that nothing frees memory another reactor may
 * still use: REMOVE goes to every descriptor; once the last one closes the
 * io_device is unregistered; once every channel is gone the backend's
 * destroy() runs; once it is done and our own pending messages have run
 * the bdev leaves the registry (its name stays taken until then).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bdev/bdev_internal.h"
#include "runtime/engine.h"

#define BDEV_NAME_MAX	255

struct nvmft_thread *bdev_app_thread(struct nvmft_bdev *bdev)
{
	return nvmft_runtime_get_thread(bdev->rt, 0);
}

int nvmft_bdev_registry_create(struct nvmft_runtime *rt,
			       struct nvmft_bdev_registry **out)
{
	struct nvmft_bdev_registry *reg;

	if (!rt || !out)
		return -EINVAL;
	reg = calloc(1, sizeof(*reg));
	if (!reg)
		return -ENOMEM;
	reg->rt = rt;
	TAILQ_INIT(&reg->bdevs);
	*out = reg;
	return 0;
}

struct nvmft_runtime *nvmft_bdev_registry_runtime(struct nvmft_bdev_registry *reg)
{
	return reg ? reg->rt : NULL;
}

static void registry_maybe_finish(struct nvmft_bdev_registry *reg)
{
	nvmft_msg_fn done;
	void *arg;

	if (!reg->destroying || reg->destroy_walk || !TAILQ_EMPTY(&reg->bdevs))
		return;
	done = reg->destroy_done;
	arg = reg->destroy_arg;
	if (reg->hbd_gone)
		reg->hbd_gone(reg->hbd);
	free(reg);
	if (done)
		done(arg);
}

struct nvmft_bdev *nvmft_bdev_get(struct nvmft_bdev_registry *reg,
				  const char *name)
{
	struct nvmft_bdev *bdev;

	if (!reg || !name)
		return NULL;
	TAILQ_FOREACH(bdev, &reg->bdevs, link)
		if (strcmp(bdev->name, name) == 0)
			return bdev;
	return NULL;
}

int nvmft_bdev_foreach(struct nvmft_bdev_registry *reg,
		       int (*fn)(struct nvmft_bdev *bdev, void *arg), void *arg)
{
	struct nvmft_bdev *bdev, *next;
	int rc;

	if (!reg || !fn)
		return -EINVAL;
	/* @fn may delete the bdev it is given; deletion never unlinks at once. */
	TAILQ_FOREACH_SAFE(bdev, &reg->bdevs, link, next) {
		rc = fn(bdev, arg);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- registration ---- */

static bool backend_supports(const struct nvmft_bdev_ops *ops, void *ctx,
			     enum nvmft_io_type t)
{
	if (ops->supports)
		return ops->supports(ctx, t);
	return t == NVMFT_IO_READ || t == NVMFT_IO_WRITE;
}

static void bdev_compute_modes(struct nvmft_bdev *bdev)
{
	bool native[NVMFT_IO_TYPE_MAX];
	int t;

	for (t = 0; t < NVMFT_IO_TYPE_MAX; t++) {
		native[t] = backend_supports(bdev->ops, bdev->ctx, t);
		bdev->mode[t] = native[t] ? IO_MODE_NATIVE : IO_MODE_INVALID;
	}
	/*
	 * Without a volatile cache every completed write is already durable,
	 * so a flush the backend cannot do has nothing to do.
	 */
	if (!native[NVMFT_IO_FLUSH] && !bdev->write_cache)
		bdev->mode[NVMFT_IO_FLUSH] = IO_MODE_NOOP;
	if (!native[NVMFT_IO_WRITE_ZEROES] && native[NVMFT_IO_WRITE])
		bdev->mode[NVMFT_IO_WRITE_ZEROES] = IO_MODE_EMULATE;
	if (!native[NVMFT_IO_COMPARE] && native[NVMFT_IO_READ])
		bdev->mode[NVMFT_IO_COMPARE] = IO_MODE_EMULATE;
	if (!native[NVMFT_IO_UNMAP] && bdev->unmap_advisory)
		bdev->mode[NVMFT_IO_UNMAP] = IO_MODE_NOOP;
}

static int props_check(const struct nvmft_bdev_props *props,
		       const struct nvmft_bdev_ops *ops)
{
	size_t len;

	if (!props || !ops || !ops->submit || !ops->name || !props->name)
		return -EINVAL;
	len = strlen(props->name);
	if (len == 0 || len > BDEV_NAME_MAX)
		return -EINVAL;
	if (props->block_size < 512 || props->block_size > 65536 ||
	    (props->block_size & (props->block_size - 1)))
		return -EINVAL;
	if (props->num_blocks == 0 ||
	    props->num_blocks > UINT64_MAX / props->block_size)
		return -EINVAL;
	if (ops->io_ctx_size > NVMFT_BDEV_IO_CTX_SIZE)
		return -EINVAL;
	return 0;
}

int nvmft_bdev_register(struct nvmft_bdev_registry *reg,
			const struct nvmft_bdev_props *props,
			const struct nvmft_bdev_ops *ops, void *bdev_ctx,
			struct nvmft_bdev **out)
{
	struct nvmft_bdev *bdev;
	int rc;

	if (!reg)
		return -EINVAL;
	rc = props_check(props, ops);
	if (rc)
		return rc;
	if (reg->destroying)
		return -ESHUTDOWN;
	if (nvmft_bdev_get(reg, props->name))
		return -EEXIST;

	bdev = calloc(1, sizeof(*bdev));
	if (!bdev)
		return -ENOMEM;
	bdev->name = strdup(props->name);
	if (!bdev->name) {
		rc = -ENOMEM;
		goto out_free_bdev;
	}
	bdev->reg = reg;
	bdev->rt = reg->rt;
	bdev->ops = ops;
	bdev->ctx = bdev_ctx;
	bdev->block_size = props->block_size;
	bdev->block_shift = (uint32_t)__builtin_ctz(props->block_size);
	bdev->max_io_blocks = props->max_io_blocks;
	bdev->write_cache = props->write_cache;
	bdev->unmap_advisory = props->unmap_advisory;
	if (props->uuid)
		memcpy(bdev->uuid, props->uuid, sizeof(bdev->uuid));
	else
		nvmft_uuid_from_name(props->name, bdev->uuid);
	atomic_init(&bdev->num_blocks, props->num_blocks);
	atomic_init(&bdev->available, true);
	atomic_init(&bdev->removed, false);
	TAILQ_INIT(&bdev->descs);
	bdev_compute_modes(bdev);
	rc = pthread_mutex_init(&bdev->lock_mtx, NULL);
	if (rc) {
		rc = -rc;
		goto out_free_name;
	}

	rc = nvmft_io_device_register(reg->rt, bdev, bdev_channel_create,
				      bdev_channel_destroy,
				      sizeof(struct bdev_channel) + ops->chan_ctx_size,
				      bdev->name);
	if (rc)
		goto out_destroy_mutex;

	TAILQ_INSERT_TAIL(&reg->bdevs, bdev, link);
	if (out)
		*out = bdev;
	return 0;

out_destroy_mutex:
	pthread_mutex_destroy(&bdev->lock_mtx);
out_free_name:
	free(bdev->name);
out_free_bdev:
	free(bdev);
	return rc;
}

/* ---- events ---- */

static void bdev_put(struct nvmft_bdev *bdev);

/* Unlink descriptors closed while an event walk was running. */
static void desc_sweep(struct nvmft_bdev *bdev)
{
	struct nvmft_bdev_desc *desc, *next;

	TAILQ_FOREACH_SAFE(desc, &bdev->descs, link, next) {
		if (!desc->closed)
			continue;
		TAILQ_REMOVE(&bdev->descs, desc, link);
		free(desc);
	}
}

/*
 * Deliver what is pending on every descriptor. A callback may close its
 * descriptor (it must, for REMOVE) or any other: closing only marks the
 * descriptor while a walk runs, so the iteration stays valid.
 */
static void bdev_deliver_events(struct nvmft_bdev *bdev)
{
	static const enum nvmft_bdev_event order[] = {
		NVMFT_BDEV_EVENT_RESIZE, NVMFT_BDEV_EVENT_MEDIA,
		NVMFT_BDEV_EVENT_REMOVE,
	};
	struct nvmft_bdev_desc *desc;
	size_t i;

	bdev->event_walkers++;
	TAILQ_FOREACH(desc, &bdev->descs, link) {
		for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
			if (desc->closed)
				break;
			if (!(desc->pending & DESC_EV_BIT(order[i])))
				continue;
			desc->pending &= ~DESC_EV_BIT(order[i]);
			desc->event_cb(order[i], bdev, desc->ctx);
		}
	}
	if (--bdev->event_walkers == 0)
		desc_sweep(bdev);
}

static void bdev_events_msg(void *arg)
{
	struct nvmft_bdev *bdev = arg;

	bdev->event_msg_pending = false;
	bdev_deliver_events(bdev);
	bdev_put(bdev);
}

/*
 * Events are delivered from a message, never from inside the call that
 * caused them: the caller (an RPC handler deleting a bdev, a backend
 * reporting a resize) is not re-entered by consumer code.
 */
static void bdev_post_event(struct nvmft_bdev *bdev, enum nvmft_bdev_event ev)
{
	struct nvmft_bdev_desc *desc;
	bool any = false;
	int rc;

	TAILQ_FOREACH(desc, &bdev->descs, link) {
		if (desc->closed)
			continue;
		if (ev == NVMFT_BDEV_EVENT_REMOVE) {
			if (desc->remove_sent)
				continue;
			desc->remove_sent = true;
		}
		desc->pending |= DESC_EV_BIT(ev);
		any = true;
	}
	if (!any || bdev->event_msg_pending)
		return;
	bdev->event_msg_pending = true;
	bdev->refs++;
	rc = nvmft_thread_send_msg(bdev_app_thread(bdev), bdev_events_msg, bdev);
	if (rc) {
		RT_WARN(bdev->rt, "bdev %s: event message failed (%d), delivering now",
			bdev->name, rc);
		bdev_events_msg(bdev);
	}
}

/* ---- descriptors ---- */

int nvmft_bdev_open(struct nvmft_bdev_registry *reg, const char *name,
		    bool write, nvmft_bdev_event_cb event_cb, void *ctx,
		    struct nvmft_bdev_desc **out)
{
	struct nvmft_bdev_desc *desc;
	struct nvmft_bdev *bdev;

	if (!reg || !name || !event_cb || !out)
		return -EINVAL;
	bdev = nvmft_bdev_get(reg, name);
	if (!bdev)
		return -ENOENT;
	if (bdev->state != BDEV_ACTIVE)
		return -EBUSY;
	desc = calloc(1, sizeof(*desc));
	if (!desc)
		return -ENOMEM;
	desc->bdev = bdev;
	desc->write = write;
	desc->event_cb = event_cb;
	desc->ctx = ctx;
	TAILQ_INSERT_TAIL(&bdev->descs, desc, link);
	bdev->open_descs++;
	*out = desc;
	return 0;
}

static void bdev_try_unregister(struct nvmft_bdev *bdev);

void nvmft_bdev_close(struct nvmft_bdev_desc *desc)
{
	struct nvmft_bdev *bdev;

	if (!desc || desc->closed)
		return;
	bdev = desc->bdev;
	desc->closed = true;
	desc->pending = 0;
	bdev->open_descs--;
	if (bdev->event_walkers == 0) {
		TAILQ_REMOVE(&bdev->descs, desc, link);
		free(desc);
	}
	bdev_try_unregister(bdev);
}

struct nvmft_bdev *nvmft_bdev_desc_get_bdev(struct nvmft_bdev_desc *desc)
{
	return desc ? desc->bdev : NULL;
}

struct nvmft_io_channel *nvmft_bdev_get_io_channel(struct nvmft_bdev_desc *desc)
{
	if (!desc || desc->closed ||
	    atomic_load_explicit(&desc->bdev->removed, memory_order_acquire))
		return NULL;
	return nvmft_get_io_channel(desc->bdev);
}

/* ---- removal ---- */

static void bdev_free(struct nvmft_bdev *bdev)
{
	struct nvmft_bdev_registry *reg = bdev->reg;
	struct bdev_delete_waiter *w;

	TAILQ_REMOVE(&reg->bdevs, bdev, link);
	while ((w = bdev->waiters)) {
		bdev->waiters = w->next;
		if (w->done)
			w->done(w->arg, 0);
		free(w);
	}
	bdev_locks_free_all(bdev);
	pthread_mutex_destroy(&bdev->lock_mtx);
	free(bdev->name);
	free(bdev);
	registry_maybe_finish(reg);
}

static void bdev_put(struct nvmft_bdev *bdev)
{
	if (--bdev->refs == 0 && bdev->state == BDEV_GONE)
		bdev_free(bdev);
}

static void bdev_backend_gone_msg(void *arg)
{
	struct nvmft_bdev *bdev = arg;

	bdev->state = BDEV_GONE;
	if (bdev->refs == 0)
		bdev_free(bdev);
}

/* destroy()'s done: may come from any thread (a backend's control thread). */
static void bdev_backend_destroyed(void *arg)
{
	struct nvmft_bdev *bdev = arg;
	struct nvmft_thread *app = bdev_app_thread(bdev);
	int rc;

	if (nvmft_get_thread() == app) {
		bdev_backend_gone_msg(bdev);
		return;
	}
	rc = nvmft_thread_send_msg(app, bdev_backend_gone_msg, bdev);
	if (rc) {
		/* The app reactor is gone (stopped runtime): nothing runs there. */
		RT_ERR(bdev->rt, "bdev %s: cannot reach the app reactor (%d)",
		       bdev->name, rc);
	}
}

static void bdev_channels_gone(void *arg)
{
	struct nvmft_bdev *bdev = arg;

	bdev->state = BDEV_DESTROYING;
	if (bdev->ops->destroy)
		bdev->ops->destroy(bdev->ctx, bdev_backend_destroyed, bdev);
	else
		bdev_backend_destroyed(bdev);
}

static void bdev_try_unregister(struct nvmft_bdev *bdev)
{
	int rc;

	if (bdev->state != BDEV_REMOVING || bdev->open_descs)
		return;
	bdev->state = BDEV_UNREGISTERING;
	rc = nvmft_io_device_unregister(bdev->rt, bdev, bdev_channels_gone, bdev);
	if (rc) {
		RT_ERR(bdev->rt, "bdev %s: io_device unregister failed (%d)",
		       bdev->name, rc);
		bdev_channels_gone(bdev);
	}
}

static void bdev_start_removal(struct nvmft_bdev *bdev)
{
	if (bdev->state != BDEV_ACTIVE)
		return;
	bdev->state = BDEV_REMOVING;
	atomic_store_explicit(&bdev->removed, true, memory_order_release);
	bdev_post_event(bdev, NVMFT_BDEV_EVENT_REMOVE);
	bdev_try_unregister(bdev);
}

int nvmft_bdev_delete(struct nvmft_bdev_registry *reg, const char *name,
		      void (*done)(void *arg, int rc), void *arg)
{
	struct nvmft_bdev *bdev = nvmft_bdev_get(reg, name);
	struct bdev_delete_waiter *w, **pp;

	if (!bdev)
		return -ENOENT;
	if (done) {
		w = calloc(1, sizeof(*w));
		if (!w)
			return -ENOMEM;
		w->done = done;
		w->arg = arg;
		/* Waiters run in the order they asked. */
		for (pp = &bdev->waiters; *pp; pp = &(*pp)->next)
			;
		*pp = w;
	}
	bdev_start_removal(bdev);
	return 0;
}

void nvmft_bdev_hot_remove(struct nvmft_bdev *bdev)
{
	if (bdev)
		bdev_start_removal(bdev);
}

void nvmft_bdev_registry_destroy(struct nvmft_bdev_registry *reg,
				 nvmft_msg_fn done, void *arg)
{
	struct nvmft_bdev *bdev, *next;

	if (!reg || reg->destroying)
		return;
	reg->destroying = true;
	reg->destroy_done = done;
	reg->destroy_arg = arg;
	/* Removal may finish synchronously and unlink (or free) @bdev. */
	reg->destroy_walk = true;
	TAILQ_FOREACH_SAFE(bdev, &reg->bdevs, link, next)
		bdev_start_removal(bdev);
	reg->destroy_walk = false;
	registry_maybe_finish(reg);
}

/* ---- backend notifications ---- */

int nvmft_bdev_notify_resize(struct nvmft_bdev *bdev, uint64_t num_blocks)
{
	if (!bdev || num_blocks == 0 ||
	    num_blocks > UINT64_MAX / bdev->block_size ||
	    bdev->state != BDEV_ACTIVE)
		return -EINVAL;
	if (atomic_exchange(&bdev->num_blocks, num_blocks) == num_blocks)
		return 0;
	bdev_post_event(bdev, NVMFT_BDEV_EVENT_RESIZE);
	return 0;
}

void nvmft_bdev_set_available(struct nvmft_bdev *bdev, bool available)
{
	if (!bdev)
		return;
	if (atomic_exchange(&bdev->available, available) == available)
		return;
	bdev_post_event(bdev, NVMFT_BDEV_EVENT_MEDIA);
}

/* ---- properties ---- */

const char *nvmft_bdev_name(const struct nvmft_bdev *bdev)
{
	return bdev->name;
}

const char *nvmft_bdev_product(const struct nvmft_bdev *bdev)
{
	return bdev->ops->name;
}

uint32_t nvmft_bdev_block_size(const struct nvmft_bdev *bdev)
{
	return bdev->block_size;
}

uint64_t nvmft_bdev_num_blocks(const struct nvmft_bdev *bdev)
{
	return atomic_load_explicit(&bdev->num_blocks, memory_order_relaxed);
}

const uint8_t *nvmft_bdev_uuid(const struct nvmft_bdev *bdev)
{
	return bdev->uuid;
}

bool nvmft_bdev_write_cache(const struct nvmft_bdev *bdev)
{
	return bdev->write_cache;
}

bool nvmft_bdev_is_available(const struct nvmft_bdev *bdev)
{
	return atomic_load_explicit(&bdev->available, memory_order_relaxed);
}

bool nvmft_bdev_supports(const struct nvmft_bdev *bdev, enum nvmft_io_type type)
{
	if ((unsigned int)type >= NVMFT_IO_TYPE_MAX)
		return false;
	return bdev->mode[type] != IO_MODE_INVALID;
}

uint32_t nvmft_bdev_max_io_blocks(const struct nvmft_bdev *bdev)
{
	return bdev->max_io_blocks;
}

int nvmft_bdev_dump_info(struct nvmft_bdev *bdev, struct json_object *obj)
{
	if (!bdev || !obj)
		return -EINVAL;
	if (!bdev->ops->dump_info)
		return -EOPNOTSUPP;
	bdev->ops->dump_info(bdev->ctx, obj);
	return 0;
}

void *nvmft_bdev_get_ctx(struct nvmft_bdev *bdev)
{
	return bdev ? bdev->ctx : NULL;
}

/* ---- stats ---- */

struct stats_walk {
	struct nvmft_bdev *bdev;
	struct nvmft_bdev_stats *out;
	nvmft_msg_fn done;
	void *arg;
};

static void stats_add_channel(struct nvmft_io_channel *ch, void *arg)
{
	struct stats_walk *w = arg;
	struct bdev_channel *bch = bdev_ch(ch);
	int t;

	for (t = 0; t < NVMFT_IO_TYPE_MAX; t++)
		w->out->ops[t] += bch->stats.ops[t];
	w->out->bytes_read += bch->stats.bytes_read;
	w->out->bytes_written += bch->stats.bytes_written;
	w->out->errors += bch->stats.errors;
}

static void stats_walk_done(void *arg)
{
	struct stats_walk *w = arg;
	nvmft_msg_fn done = w->done;
	void *done_arg = w->arg;

	free(w);
	if (done)
		done(done_arg);
}

int nvmft_bdev_get_stats(struct nvmft_bdev *bdev, struct nvmft_bdev_stats *out,
			 nvmft_msg_fn done, void *arg)
{
	struct stats_walk *w;
	int t, rc;

	if (!bdev || !out)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->bdev = bdev;
	w->out = out;
	w->done = done;
	w->arg = arg;
	/*
	 * Channels are visited one reactor after the other, each reading
	 * only its own channel: @out is written by one thread at a time, and
	 * the messages between them order the writes.
	 */
	for (t = 0; t < NVMFT_IO_TYPE_MAX; t++)
		out->ops[t] = atomic_load_explicit(&bdev->retired_ops[t],
						   memory_order_relaxed);
	out->bytes_read = atomic_load_explicit(&bdev->retired_bytes_read,
					       memory_order_relaxed);
	out->bytes_written = atomic_load_explicit(&bdev->retired_bytes_written,
						  memory_order_relaxed);
	out->errors = atomic_load_explicit(&bdev->retired_errors,
					   memory_order_relaxed);
	rc = nvmft_for_each_channel(bdev->rt, bdev, stats_add_channel, w,
				    stats_walk_done);
	if (rc)
		free(w);
	return rc;
}
