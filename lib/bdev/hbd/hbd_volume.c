// SPDX-License-Identifier: MIT
/*
 * hbd volumes: the asynchronous open (control thread, then registration
 * on the app reactor), the bdev ops, and the per-reactor channels.
 *
 * Channels: when the server advertises multi-conn (flush and cache
 * consistency across connections), every reactor's channel gets its own
 * NBD connection, opened on the control thread and handed over (libnbd
 * handles may be used from any thread); the first one adopts the
 * connection of the open. Without multi-conn there is exactly one
 * connection, on the app reactor: the app reactor's channel uses it
 * directly and the other reactors forward each I/O there by message and
 * get the completion back the same way.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "bdev/hbd/hbd_internal.h"

struct hbd_channel {
	struct hbd_volume *vol;
	struct hbd_conn *conn;		/* NULL: forward to the app reactor */
	bool own;			/* @conn is this channel's */
};

void vol_get(struct hbd_volume *vol)
{
	atomic_fetch_add_explicit(&vol->refs, 1, memory_order_relaxed);
}

void vol_put(struct hbd_volume *vol)
{
	struct nbd_handle *h;

	if (atomic_fetch_sub_explicit(&vol->refs, 1, memory_order_acq_rel) != 1)
		return;
	h = atomic_exchange(&vol->spare, NULL);
	if (h)
		nbd_close(h);
	free(vol->bdev_name);
	free(vol->export_name);
	free(vol->uri);
	pool_put(vol->pool);
	free(vol);
}

/* ---------------------------------------------------------- resizing */

void vol_size_seen(struct hbd_volume *vol, uint64_t bytes, const char *how)
{
	struct nvmft_hbd *hbd = vol->pool->hbd;
	uint64_t blocks = bytes / vol->block_size, old;
	int rc;

	if (!vol->bdev || bytes == atomic_load(&vol->export_size))
		return;
	atomic_store(&vol->export_size, bytes);
	old = nvmft_bdev_num_blocks(vol->bdev);
	if (blocks == 0) {
		nvmft_log(hbd->rt, NVMFT_LOG_WARN,
			  "hbd %s: export \"%s\" is now %llu bytes, less than a block; keeping %llu blocks",
			  vol->bdev_name, vol->export_name,
			  (unsigned long long)bytes, (unsigned long long)old);
		return;
	}
	if (blocks == old)
		return;		/* a change within the last partial block */
	rc = nvmft_bdev_notify_resize(vol->bdev, blocks);
	if (rc)
		return;		/* being deleted */
	atomic_fetch_add(&vol->size_gen, 1);
	nvmft_log(hbd->rt, NVMFT_LOG_NOTICE,
		  "hbd %s: export \"%s\" resized from %llu to %llu blocks (seen %s)",
		  vol->bdev_name, vol->export_name, (unsigned long long)old,
		  (unsigned long long)blocks, how);
}

struct vol_size_msg {
	struct hbd_volume *vol;
	uint64_t bytes;
	const char *how;
};

static void vol_size_msg_fn(void *arg)
{
	struct vol_size_msg *m = arg;

	vol_size_seen(m->vol, m->bytes, m->how);
	vol_put(m->vol);
	free(m);
}

void vol_size_report(struct hbd_volume *vol, uint64_t bytes, const char *how)
{
	struct vol_size_msg *m;

	/* Reconnections are rare, but most see the same size: no message. */
	if (bytes == atomic_load(&vol->export_size))
		return;
	m = malloc(sizeof(*m));
	if (!m)
		return;		/* the next health check sees it too */
	m->vol = vol;
	m->bytes = bytes;
	m->how = how;
	vol_get(vol);
	if (ctl_send(&vol->pool->hbd->ctl, vol->app, vol_size_msg_fn, m)) {
		vol_put(vol);
		free(m);
	}
}

static struct hbd_volume *bdev_vol(struct nvmft_bdev *bdev)
{
	if (!bdev || strcmp(nvmft_bdev_product(bdev), HBD_PRODUCT))
		return NULL;
	return nvmft_bdev_get_ctx(bdev);
}

/* ----------------------------------------------------------- bdev ops */

static int hbd_channel_create(void *bdev_ctx, void *chan_ctx)
{
	struct hbd_volume *vol = bdev_ctx;
	struct hbd_channel *ch = chan_ctx;
	struct nbd_handle *h, *expected = NULL;

	ch->vol = vol;
	if (!vol->multi_conn) {
		if (nvmft_get_thread() == vol->app)
			ch->conn = vol->shared;
		return 0;
	}
	h = atomic_exchange(&vol->spare, NULL);
	ch->conn = conn_create(vol, h);
	if (!ch->conn) {
		if (h && !atomic_compare_exchange_strong(&vol->spare, &expected, h))
			nbd_close(h);
		return -ENOMEM;
	}
	ch->own = true;
	return 0;
}

static void hbd_channel_destroy(void *bdev_ctx, void *chan_ctx)
{
	struct hbd_channel *ch = chan_ctx;

	if (ch->own)
		conn_destroy(ch->conn);
	ch->conn = NULL;
}

/* App reactor: an I/O forwarded by another reactor's channel. */
static void fwd_submit_msg(void *arg)
{
	struct nvmft_bdev_io *io = arg;

	conn_submit(io_hio(io)->conn, io);
}

static int hbd_submit(void *chan_ctx, struct nvmft_bdev_io *io)
{
	struct hbd_channel *ch = chan_ctx;
	struct hbd_volume *vol = ch->vol;
	struct hbd_io *hio = io_hio(io);
	int rc;

	memset(hio, 0, sizeof(*hio));
	/* A DOWN pool fails I/O at once so that hosts use another path. */
	if (pool_state(vol->pool) == NVMFT_HBD_POOL_DOWN) {
		stat_inc(&vol->path_failures);
		nvmft_bdev_io_complete_status(io, NVMFT_HBD_PATH_STATUS);
		return 0;
	}
	if (ch->conn) {
		conn_submit(ch->conn, io);
		return 0;
	}
	hio->origin = nvmft_get_thread();
	hio->conn = vol->shared;
	rc = nvmft_thread_send_msg(vol->app, fwd_submit_msg, io);
	if (rc == -ENOMEM)
		return -EAGAIN;		/* the bdev layer resubmits it */
	if (rc) {
		stat_inc(&vol->path_failures);
		nvmft_bdev_io_complete_status(io, NVMFT_HBD_PATH_STATUS);
	}
	return 0;
}

static bool hbd_supports(void *bdev_ctx, enum nvmft_io_type type)
{
	struct hbd_volume *vol = bdev_ctx;

	switch (type) {
	case NVMFT_IO_READ:
	case NVMFT_IO_WRITE:
		return true;
	case NVMFT_IO_FLUSH:
		return vol->can_flush;
	case NVMFT_IO_WRITE_ZEROES:
		return vol->can_zero;
	case NVMFT_IO_UNMAP:
		return vol->can_trim;
	default:
		return false;		/* COMPARE: read + compare by the layer */
	}
}

/* App reactor, once every channel is gone. */
static void hbd_destroy(void *bdev_ctx, void (*done)(void *arg), void *arg)
{
	struct hbd_volume *vol = bdev_ctx;
	struct nbd_handle *h;

	pool_del_volume(vol->pool, vol);
	if (vol->shared) {
		conn_destroy(vol->shared);
		vol->shared = NULL;
	}
	h = atomic_exchange(&vol->spare, NULL);
	if (h)
		nbd_close(h);
	vol->bdev = NULL;
	vol_put(vol);
	done(arg);
}

static void hbd_dump_info(void *bdev_ctx, struct json_object *obj)
{
	struct hbd_volume *vol = bdev_ctx;

	json_object_object_add(obj, "pool", json_object_new_string(vol->pool->name));
	json_object_object_add(obj, "export", json_object_new_string(vol->export_name));
	json_object_object_add(obj, "block_size", json_object_new_int((int)vol->block_size));
	json_object_object_add(obj, "queue_depth", json_object_new_int((int)vol->queue_depth));
	json_object_object_add(obj, "multi_conn", json_object_new_boolean(vol->multi_conn));
	json_object_object_add(obj, "pool_state",
			       json_object_new_string(nvmft_hbd_pool_state_name(pool_state(vol->pool))));
}

static const struct nvmft_bdev_ops hbd_ops = {
	.name = HBD_PRODUCT,
	.chan_ctx_size = sizeof(struct hbd_channel),
	.io_ctx_size = sizeof(struct hbd_io),
	.channel_create = hbd_channel_create,
	.channel_destroy = hbd_channel_destroy,
	.submit = hbd_submit,
	.supports = hbd_supports,
	.destroy = hbd_destroy,
	.dump_info = hbd_dump_info,
};

_Static_assert(sizeof(struct hbd_io) <= NVMFT_BDEV_IO_CTX_SIZE,
	       "struct hbd_io must fit in nvmft_bdev_io.driver_ctx");

/* ---------------------------------------------------------------- open */

/* Control thread: what the server says about the export. */
static int vol_probe(struct hbd_volume *vol, struct nbd_handle *h)
{
	int64_t size = nbd_get_size(h);
	int64_t minb = nbd_get_block_size(h, LIBNBD_SIZE_MINIMUM);
	int64_t maxb = nbd_get_block_size(h, LIBNBD_SIZE_MAXIMUM);
	uint64_t max = HBD_MAX_IO_BYTES;

	if (size < 0)
		return -EIO;
	vol->size = (uint64_t)size;
	vol->read_only = nbd_is_read_only(h) == 1;
	vol->can_flush = nbd_can_flush(h) == 1;
	vol->can_fua = nbd_can_fua(h) == 1;
	vol->can_trim = nbd_can_trim(h) == 1 && !vol->read_only;
	vol->can_zero = nbd_can_zero(h) == 1 && !vol->read_only;
	vol->multi_conn = nbd_can_multi_conn(h) == 1;
	vol->min_block = minb > 1 ? (uint32_t)minb : 1;
	if (maxb > 0 && (uint64_t)maxb < max)
		max = (uint64_t)maxb;
	if (vol->min_block > 1 && max > HBD_BOUNCE_BYTES)
		max = HBD_BOUNCE_BYTES;
	max -= max % vol->block_size;
	if (vol->block_size % vol->min_block || max == 0 ||
	    vol->size / vol->block_size == 0)
		return -EINVAL;
	vol->max_io_bytes = (uint32_t)max;
	return 0;
}

static void vol_open_done(void *arg);

static void vol_open_run(struct hbd_job *job, bool cancelled)
{
	struct hbd_volume *vol = container_of(job, struct hbd_volume, open_job);
	struct nvmft_hbd *hbd = vol->pool->hbd;
	struct nbd_handle *h = NULL;
	int rc = -ECANCELED;

	if (!cancelled) {
		rc = hbd_nbd_open(&hbd->ctl, vol->uri,
				  vol->pool->opts.connect_timeout_ms, &h);
		if (!rc)
			rc = vol_probe(vol, h);
		if (rc && h) {
			nbd_close(h);
			h = NULL;
		}
	}
	vol->open_rc = rc;
	vol->open_h = h;
	/*
	 * The app reactor outlives the control thread (it waits for its end)
	 * and the thread waits for room in its inbox, so this only fails for
	 * a job run inline, cancelled, on the app reactor: finish it there.
	 */
	if (ctl_send(&hbd->ctl, vol->app, vol_open_done, vol) &&
	    nvmft_get_thread() == vol->app)
		vol_open_done(vol);
}

/* App reactor: register the opened volume. Takes *@hp on success. */
static int vol_register(struct hbd_volume *vol, struct nbd_handle **hp)
{
	struct nvmft_hbd *hbd = vol->pool->hbd;
	struct nvmft_bdev_props props = {
		.name = vol->bdev_name,
		.block_size = vol->block_size,
		.num_blocks = vol->size / vol->block_size,
		.uuid = vol->has_uuid ? vol->uuid : NULL,
		/* Without flush the server promises writes are stable. */
		.write_cache = vol->can_flush,
		.max_io_blocks = vol->max_io_bytes / vol->block_size,
		/* NBD TRIM is a hint too: without it, deallocate does nothing. */
		.unmap_advisory = true,
	};
	int rc;

	atomic_store(&vol->export_size, vol->size);
	if (!vol->multi_conn) {
		vol->shared = conn_create(vol, *hp);
		if (!vol->shared)
			return -ENOMEM;
		*hp = NULL;
	}
	rc = nvmft_bdev_register(hbd->reg, &props, &hbd_ops, vol, &vol->bdev);
	if (rc) {
		if (vol->shared) {
			conn_destroy(vol->shared);
			vol->shared = NULL;
		}
		vol->bdev = NULL;
		return rc;
	}
	if (vol->multi_conn) {
		atomic_store(&vol->spare, *hp);
		*hp = NULL;
	}
	pool_add_volume(vol->pool, vol);
	nvmft_log(hbd->rt, NVMFT_LOG_INFO,
		  "hbd %s: pool %s export \"%s\": %llu blocks of %u%s%s%s%s%s",
		  vol->bdev_name, vol->pool->name, vol->export_name,
		  (unsigned long long)props.num_blocks, vol->block_size,
		  vol->multi_conn ? ", multi-conn" : ", single connection",
		  vol->can_flush ? ", flush" : "", vol->can_fua ? ", fua" : "",
		  vol->can_trim ? ", trim" : "", vol->can_zero ? ", zero" : "");
	return 0;
}

static void vol_open_done(void *arg)
{
	struct hbd_volume *vol = arg;
	struct nvmft_hbd_pool *pool = vol->pool;
	struct nvmft_hbd *hbd = pool->hbd;
	struct nbd_handle *h = vol->open_h;
	int rc = vol->open_rc;

	vol->open_h = NULL;
	TAILQ_REMOVE(&hbd->opening, vol, link);
	pool->nr_opening--;
	if (rc == -ECANCELED ||
	    (!rc && (hbd->destroying || hbd->tearing || pool->removed)))
		rc = -ESHUTDOWN;
	if (!rc)
		rc = vol_register(vol, &h);
	if (h)
		nbd_close(h);
	if (rc) {
		nvmft_log(hbd->rt, NVMFT_LOG_ERR,
			  "hbd %s: cannot open export \"%s\" of pool %s: %s",
			  vol->bdev_name, vol->export_name, pool->name,
			  strerror(-rc));
		vol->open_cb(vol->open_arg, rc, NULL);
		vol_put(vol);
	} else {
		vol->open_cb(vol->open_arg, 0, vol->bdev);
	}
	hbd_opening_done(hbd);
}

static bool name_opening(struct nvmft_hbd *hbd, const char *name)
{
	struct hbd_volume *vol;

	TAILQ_FOREACH(vol, &hbd->opening, link)
		if (!strcmp(vol->bdev_name, name))
			return true;
	return false;
}

int nvmft_hbd_volume_create(struct nvmft_hbd_pool *pool,
			    const struct nvmft_hbd_volume_opts *opts,
			    nvmft_hbd_volume_cb done, void *arg)
{
	struct nvmft_hbd *hbd;
	struct hbd_volume *vol;
	const char *name;
	uint32_t bs;

	if (!pool || !opts || !done || !opts->export_name || !*opts->export_name)
		return -EINVAL;
	hbd = pool->hbd;
	name = opts->bdev_name ? opts->bdev_name : opts->export_name;
	bs = opts->block_size ? opts->block_size : 512;
	if (nvmft_get_thread() != hbd->app || !*name ||
	    strlen(name) > HBD_NAME_MAX || bs < 512 || bs > 65536 ||
	    (bs & (bs - 1)))
		return -EINVAL;
	if (hbd->destroying || hbd->tearing || pool->removed)
		return -ESHUTDOWN;
	if (nvmft_bdev_get(hbd->reg, name) || name_opening(hbd, name))
		return -EEXIST;

	vol = calloc(1, sizeof(*vol));
	if (!vol)
		return -ENOMEM;
	vol->bdev_name = strdup(name);
	vol->export_name = strdup(opts->export_name);
	vol->uri = hbd_uri_with_export(pool->uri, opts->export_name);
	if (!vol->bdev_name || !vol->export_name || !vol->uri) {
		free(vol->bdev_name);
		free(vol->export_name);
		free(vol->uri);
		free(vol);
		return -ENOMEM;
	}
	if (opts->uuid) {
		memcpy(vol->uuid, opts->uuid, sizeof(vol->uuid));
		vol->has_uuid = true;
	}
	vol->block_size = bs;
	vol->queue_depth = opts->queue_depth ? opts->queue_depth : HBD_DEFAULT_QD;
	vol->pool = pool;
	vol->app = hbd->app;
	atomic_init(&vol->refs, 1);
	vol->open_cb = done;
	vol->open_arg = arg;
	vol->open_job.run = vol_open_run;
	pool_get(pool);
	TAILQ_INSERT_TAIL(&hbd->opening, vol, link);
	pool->nr_opening++;
	ctl_post(&hbd->ctl, &vol->open_job, 0);
	return 0;
}

int nvmft_hbd_volume_delete(struct nvmft_hbd *hbd, const char *bdev_name,
			    void (*done)(void *arg, int rc), void *arg)
{
	struct nvmft_bdev *bdev;
	struct hbd_volume *vol;

	if (!hbd || !bdev_name)
		return -EINVAL;
	bdev = nvmft_bdev_get(hbd->reg, bdev_name);
	if (!bdev)
		return -ENOENT;
	vol = bdev_vol(bdev);
	if (!vol || vol->pool->hbd != hbd)
		return -EINVAL;
	return nvmft_bdev_delete(hbd->reg, bdev_name, done, arg);
}

int nvmft_hbd_volume_get_stats(struct nvmft_bdev *bdev,
			       struct nvmft_hbd_volume_stats *st)
{
	struct hbd_volume *vol = bdev_vol(bdev);

	if (!vol || !st)
		return -EINVAL;
	st->connects = atomic_load_explicit(&vol->connects, memory_order_relaxed);
	st->drops = atomic_load_explicit(&vol->drops, memory_order_relaxed);
	st->retries = atomic_load_explicit(&vol->retries, memory_order_relaxed);
	st->path_failures = atomic_load_explicit(&vol->path_failures,
						 memory_order_relaxed);
	return 0;
}
