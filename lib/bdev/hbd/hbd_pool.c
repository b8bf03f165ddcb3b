// SPDX-License-Identifier: MIT
/*
 * hbd contexts and pools: the context's lifecycle (control thread, the
 * exit handler that tears it down with the runtime), pool creation, the
 * periodic health check (on the control thread) and the pool state
 * machine (on the app reactor), whose changes reach every volume of the
 * pool: availability events for the consumers, and the I/O path, which
 * reads the state atomically and fails fast while the pool is DOWN.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bdev/hbd/hbd_internal.h"

void nvmft_hbd_pool_opts_init(struct nvmft_hbd_pool_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->health_interval_ms = 1000;
	opts->connect_timeout_ms = 5000;
	opts->retry_backoff_ms = 100;
	opts->retry_backoff_max_ms = 5000;
	opts->down_after = 2;
	opts->degraded_latency_ms = 1000;
	opts->io_timeout_ms = 15000;
}

const char *nvmft_hbd_pool_state_name(enum nvmft_hbd_pool_state state)
{
	switch (state) {
	case NVMFT_HBD_POOL_UNKNOWN: return "unknown";
	case NVMFT_HBD_POOL_UP: return "up";
	case NVMFT_HBD_POOL_DEGRADED: return "degraded";
	case NVMFT_HBD_POOL_DOWN: return "down";
	}
	return "?";
}

/* ------------------------------------------------------------ references */

void hbd_get(struct nvmft_hbd *hbd)
{
	atomic_fetch_add_explicit(&hbd->refs, 1, memory_order_relaxed);
}

void hbd_put(struct nvmft_hbd *hbd)
{
	if (atomic_fetch_sub_explicit(&hbd->refs, 1, memory_order_acq_rel) != 1)
		return;
	/* The last references go after the control thread is joined. */
	ctl_fini(&hbd->ctl);
	free(hbd);
}

void pool_get(struct nvmft_hbd_pool *pool)
{
	atomic_fetch_add_explicit(&pool->refs, 1, memory_order_relaxed);
}

void pool_put(struct nvmft_hbd_pool *pool)
{
	struct nvmft_hbd *hbd = pool->hbd;

	if (atomic_fetch_sub_explicit(&pool->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(pool->name);
	free(pool->uri);
	free(pool);
	hbd_put(hbd);
}

/* ------------------------------------------------------------------ URIs */

static const char *const uri_schemes[] = {
	"nbd://", "nbds://", "nbd+unix://", "nbds+unix://", "nbd+vsock://",
	"nbds+vsock://",
};

/* The path of @uri (after the authority) and its query (or the end). */
static const char *uri_path(const char *uri, const char **query)
{
	const char *a = strstr(uri, "://");
	const char *p;

	if (!a)
		return NULL;
	a += 3;
	p = a + strcspn(a, "/?#");
	*query = p + strcspn(p, "?#");
	return p;
}

int hbd_uri_check(const char *uri)
{
	const char *path, *query;
	size_t i;

	for (i = 0; i < sizeof(uri_schemes) / sizeof(uri_schemes[0]); i++)
		if (!strncmp(uri, uri_schemes[i], strlen(uri_schemes[i])))
			break;
	if (i == sizeof(uri_schemes) / sizeof(uri_schemes[0]))
		return -EINVAL;
	path = uri_path(uri, &query);
	if (!path || strchr(uri, '#'))
		return -EINVAL;
	/* A pool names a server; its exports are the volumes. */
	if (query - path > 1 || (query - path == 1 && *path != '/'))
		return -EINVAL;
	return 0;
}

bool nvmft_hbd_pool_uri_valid(const char *uri)
{
	return uri && hbd_uri_check(uri) == 0;
}

static bool uri_plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~' || c == '/';
}

char *hbd_uri_with_export(const char *pool_uri, const char *export_name)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *path, *query;
	size_t prefix, len;
	char *out, *o;

	path = uri_path(pool_uri, &query);
	if (!path)
		return NULL;
	prefix = (size_t)(path - pool_uri);
	len = prefix + 1 + 3 * strlen(export_name) + strlen(query) + 1;
	out = malloc(len);
	if (!out)
		return NULL;
	memcpy(out, pool_uri, prefix);
	o = out + prefix;
	*o++ = '/';
	for (const unsigned char *e = (const unsigned char *)export_name; *e; e++) {
		if (uri_plain(*e)) {
			*o++ = (char)*e;
		} else {
			*o++ = '%';
			*o++ = hex[*e >> 4];
			*o++ = hex[*e & 15];
		}
	}
	strcpy(o, query);
	return out;
}

/* ---------------------------------------------------------- health checks */

static void pool_post_check(struct nvmft_hbd_pool *pool, uint64_t delay_us);

/* Control thread (or inline, cancelled, once the thread has stopped). */
static void pool_check_done(void *arg);

/* Drop the sweep's volume references (any thread: the job owns them). */
static void pool_sweep_release(struct nvmft_hbd_pool *pool)
{
	unsigned int i;

	for (i = 0; i < pool->nr_sweep; i++)
		vol_put(pool->sweep[i]);
	pool->nr_sweep = 0;
}

/*
 * Control thread: the size of each swept volume's export, asked on the
 * check's connection (still in option mode). Failures leave -1 and are
 * the probe's business; a dead or late connection ends the sweep.
 */
static void pool_sweep_sizes(struct nvmft_hbd_pool *pool, struct nbd_handle *h)
{
	uint64_t deadline = nvmft_now_us() +
			    (uint64_t)pool->opts.connect_timeout_ms * 1000;
	unsigned int i;
	int rc;

	for (i = 0; i < pool->nr_sweep; i++)
		pool->sweep_size[i] = -1;
	for (i = 0; i < pool->nr_sweep; i++) {
		if (nbd_set_export_name(h, pool->sweep[i]->export_name) < 0)
			continue;
		rc = hbd_nbd_option(&pool->hbd->ctl, h, false, deadline);
		if (rc == -ECANCELED || rc == -ETIMEDOUT || rc == -ENOTSUP ||
		    rc == -EOPNOTSUPP || !nbd_aio_is_negotiating(h))
			return;
		if (!rc)
			pool->sweep_size[i] = nbd_get_size(h);
	}
}

static void pool_check_run(struct hbd_job *job, bool cancelled)
{
	struct nvmft_hbd_pool *pool = container_of(job, struct nvmft_hbd_pool, check);
	struct nvmft_hbd *hbd = pool->hbd;
	uint64_t t0 = nvmft_now_us();
	uint64_t deadline = t0 + (uint64_t)pool->opts.connect_timeout_ms * 1000;
	struct nbd_handle *h = NULL;
	int rc = -ECANCELED, prc = 0;

	if (!cancelled && !atomic_load(&pool->retired)) {
		rc = hbd_nbd_handshake(&hbd->ctl, pool->uri, deadline, &h);
		if (!rc && pool->probe[0]) {
			/* The server answers; can it still open a volume? */
			prc = nbd_set_export_name(h, pool->probe) < 0 ? -EINVAL :
			      hbd_nbd_option(&hbd->ctl, h, false, deadline);
			if (prc == -ECANCELED)
				rc = prc;
			/* A server without NBD_OPT_INFO just cannot be probed. */
			if (prc == -ENOTSUP || prc == -EOPNOTSUPP)
				prc = 0;
		}
	}
	/* The sizes are not part of the check's latency. */
	pool->check_us = nvmft_now_us() - t0;
	if (!rc && nbd_aio_is_negotiating(h))
		pool_sweep_sizes(pool, h);
	if (h)
		nbd_close(h);
	pool->check_rc = rc;
	pool->probe_rc = prc;
	if (ctl_send(&hbd->ctl, hbd->app, pool_check_done, pool)) {
		pool_sweep_release(pool);
		pool_put(pool);
	}
}

static void pool_set_state(struct nvmft_hbd_pool *pool,
			   enum nvmft_hbd_pool_state s)
{
	enum nvmft_hbd_pool_state old = atomic_exchange(&pool->state, (int)s);
	struct hbd_volume *vol;

	if (old == s)
		return;
	nvmft_log(pool->hbd->rt, s == NVMFT_HBD_POOL_UP ? NVMFT_LOG_NOTICE :
		  NVMFT_LOG_WARN, "hbd pool %s: %s -> %s", pool->name,
		  nvmft_hbd_pool_state_name(old), nvmft_hbd_pool_state_name(s));
	/* Connections waiting out a backoff retry at once on a new generation. */
	if (old == NVMFT_HBD_POOL_DOWN)
		atomic_fetch_add(&pool->up_gen, 1);
	if ((old == NVMFT_HBD_POOL_DOWN) == (s == NVMFT_HBD_POOL_DOWN))
		return;
	TAILQ_FOREACH(vol, &pool->volumes, link)
		if (vol->bdev)
			nvmft_bdev_set_available(vol->bdev, s != NVMFT_HBD_POOL_DOWN);
}

static enum nvmft_hbd_pool_state pool_evaluate(struct nvmft_hbd_pool *pool)
{
	enum nvmft_hbd_pool_state cur = pool_state(pool);
	const struct nvmft_hbd_pool_opts *o = &pool->opts;

	if (pool->check_rc) {
		pool->failures++;
		if (cur != NVMFT_HBD_POOL_DOWN)
			nvmft_log(pool->hbd->rt, NVMFT_LOG_WARN,
				  "hbd pool %s: health check failed (%u in a row): %s",
				  pool->name, pool->failures,
				  strerror(-pool->check_rc));
		if (cur == NVMFT_HBD_POOL_UNKNOWN || cur == NVMFT_HBD_POOL_DOWN ||
		    pool->failures >= o->down_after)
			return NVMFT_HBD_POOL_DOWN;
		return NVMFT_HBD_POOL_DEGRADED;
	}
	pool->failures = 0;
	if (pool->probe_rc) {
		if (cur != NVMFT_HBD_POOL_DEGRADED)
			nvmft_log(pool->hbd->rt, NVMFT_LOG_WARN,
				  "hbd pool %s: export \"%s\" does not answer: %s",
				  pool->name, pool->probe, strerror(-pool->probe_rc));
		return NVMFT_HBD_POOL_DEGRADED;
	}
	if (o->degraded_latency_ms &&
	    pool->check_us > (uint64_t)o->degraded_latency_ms * 1000)
		return NVMFT_HBD_POOL_DEGRADED;
	return NVMFT_HBD_POOL_UP;
}

/* App reactor: the check's result. The job's pool reference goes on. */
static void pool_check_done(void *arg)
{
	struct nvmft_hbd_pool *pool = arg;

	pool->check_out = false;
	if (pool->removed || pool->check_rc == -ECANCELED) {
		pool_sweep_release(pool);
		pool_put(pool);
		return;
	}
	if (!pool->check_rc)
		for (unsigned int i = 0; i < pool->nr_sweep; i++)
			if (pool->sweep_size[i] >= 0)
				vol_size_seen(pool->sweep[i],
					      (uint64_t)pool->sweep_size[i],
					      "by the health check");
	pool_sweep_release(pool);
	atomic_fetch_add_explicit(&pool->checks, 1, memory_order_relaxed);
	if (pool->check_rc)
		atomic_fetch_add_explicit(&pool->checks_failed, 1,
					  memory_order_relaxed);
	atomic_store_explicit(&pool->last_check_us, pool->check_us,
			      memory_order_relaxed);
	pool_set_state(pool, pool_evaluate(pool));
	pool_post_check(pool, (uint64_t)pool->opts.health_interval_ms * 1000);
}

/* App reactor; the caller's pool reference goes with the job. */
static void pool_post_check(struct nvmft_hbd_pool *pool, uint64_t delay_us)
{
	struct hbd_volume *vol;
	unsigned int i = 0, pick;

	pool->probe[0] = '\0';
	if (pool->nr_volumes) {
		/* Probe the volumes' exports in turn. */
		pick = pool->probe_rr++ % pool->nr_volumes;
		TAILQ_FOREACH(vol, &pool->volumes, link)
			if (i++ == pick)
				break;
		if (vol && strlen(vol->export_name) <= HBD_PROBE_MAX)
			strcpy(pool->probe, vol->export_name);
		/* Sizes: every volume when they fit, else the next ones in turn. */
		pick = pool->nr_volumes > HBD_SIZE_SWEEP_MAX ?
		       pool->sweep_rr % pool->nr_volumes : 0;
		i = 0;
		TAILQ_FOREACH(vol, &pool->volumes, link) {
			if (i++ < pick || pool->nr_sweep == HBD_SIZE_SWEEP_MAX)
				continue;
			vol_get(vol);
			pool->sweep[pool->nr_sweep++] = vol;
		}
		pool->sweep_rr = pick + pool->nr_sweep;
	}
	pool->check_out = true;
	ctl_post(&pool->hbd->ctl, &pool->check, delay_us);
}

void pool_kick(struct nvmft_hbd_pool *pool)
{
	atomic_store(&pool->check.expedite, true);
	ctl_kick(&pool->hbd->ctl);
}

void nvmft_hbd_pool_check_now(struct nvmft_hbd_pool *pool)
{
	if (pool)
		pool_kick(pool);
}

/* ----------------------------------------------------------------- pools */

static int pool_opts_check(const struct nvmft_hbd_pool_opts *o)
{
	if (o->health_interval_ms < 10 || o->connect_timeout_ms < 10 ||
	    o->retry_backoff_ms < 1 ||
	    o->retry_backoff_max_ms < o->retry_backoff_ms || o->down_after < 1)
		return -EINVAL;
	return 0;
}

int nvmft_hbd_pool_create(struct nvmft_hbd *hbd, const char *name,
			  const char *uri, const struct nvmft_hbd_pool_opts *opts,
			  struct nvmft_hbd_pool **out)
{
	struct nvmft_hbd_pool_opts defaults;
	struct nvmft_hbd_pool *pool;

	if (!opts) {
		nvmft_hbd_pool_opts_init(&defaults);
		opts = &defaults;
	}
	if (!hbd || !name || !uri || !*name || strlen(name) > HBD_NAME_MAX ||
	    hbd_uri_check(uri) || pool_opts_check(opts))
		return -EINVAL;
	if (hbd->destroying || hbd->torn_down)
		return -ESHUTDOWN;
	if (nvmft_hbd_pool_get(hbd, name))
		return -EEXIST;
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	pool->name = strdup(name);
	pool->uri = strdup(uri);
	if (!pool->name || !pool->uri) {
		free(pool->name);
		free(pool->uri);
		free(pool);
		return -ENOMEM;
	}
	pool->hbd = hbd;
	pool->opts = *opts;
	atomic_init(&pool->refs, 1);		/* hbd->pools */
	atomic_init(&pool->state, NVMFT_HBD_POOL_UNKNOWN);
	TAILQ_INIT(&pool->volumes);
	pool->check.run = pool_check_run;
	hbd_get(hbd);
	TAILQ_INSERT_TAIL(&hbd->pools, pool, link);
	pool_get(pool);				/* the check job */
	pool_post_check(pool, 0);
	if (out)
		*out = pool;
	return 0;
}

/* App reactor: off the list; the check job lets go at its next return. */
static void pool_remove(struct nvmft_hbd_pool *pool)
{
	TAILQ_REMOVE(&pool->hbd->pools, pool, link);
	pool->removed = true;
	atomic_store(&pool->retired, true);
	/* Do not keep the pool around for a whole interval. */
	if (pool->check_out)
		pool_kick(pool);
	pool_put(pool);
}

int nvmft_hbd_pool_destroy(struct nvmft_hbd *hbd, const char *name)
{
	struct nvmft_hbd_pool *pool = nvmft_hbd_pool_get(hbd, name);

	if (!pool)
		return -ENOENT;
	if (pool->nr_volumes || pool->nr_opening)
		return -EBUSY;
	pool_remove(pool);
	return 0;
}

struct nvmft_hbd_pool *nvmft_hbd_pool_get(struct nvmft_hbd *hbd,
					  const char *name)
{
	struct nvmft_hbd_pool *pool;

	if (!hbd || !name)
		return NULL;
	TAILQ_FOREACH(pool, &hbd->pools, link)
		if (!strcmp(pool->name, name))
			return pool;
	return NULL;
}

enum nvmft_hbd_pool_state nvmft_hbd_pool_get_state(const struct nvmft_hbd_pool *pool)
{
	return pool ? pool_state(pool) : NVMFT_HBD_POOL_UNKNOWN;
}

void nvmft_hbd_pool_get_info(const struct nvmft_hbd_pool *pool,
			     struct nvmft_hbd_pool_info *info)
{
	memset(info, 0, sizeof(*info));
	if (!pool)
		return;
	info->state = pool_state(pool);
	info->checks = atomic_load_explicit(&pool->checks, memory_order_relaxed);
	info->checks_failed = atomic_load_explicit(&pool->checks_failed,
						   memory_order_relaxed);
	info->last_check_us = atomic_load_explicit(&pool->last_check_us,
						   memory_order_relaxed);
	info->volumes = atomic_load_explicit(&pool->nr_volumes_pub,
					     memory_order_relaxed);
}

void pool_add_volume(struct nvmft_hbd_pool *pool, struct hbd_volume *vol)
{
	TAILQ_INSERT_TAIL(&pool->volumes, vol, link);
	pool->nr_volumes++;
	atomic_store_explicit(&pool->nr_volumes_pub, pool->nr_volumes,
			      memory_order_relaxed);
	if (pool_state(pool) == NVMFT_HBD_POOL_DOWN)
		nvmft_bdev_set_available(vol->bdev, false);
}

void pool_del_volume(struct nvmft_hbd_pool *pool, struct hbd_volume *vol)
{
	TAILQ_REMOVE(&pool->volumes, vol, link);
	pool->nr_volumes--;
	atomic_store_explicit(&pool->nr_volumes_pub, pool->nr_volumes,
			      memory_order_relaxed);
}

/* --------------------------------------------------------------- context */

/* App reactor: the control thread has run its last job. */
static void hbd_ctl_stopped(void *arg)
{
	struct nvmft_hbd *hbd = arg;
	struct nvmft_hbd_pool *pool;
	nvmft_msg_fn done = hbd->destroy_done;
	void *done_arg = hbd->destroy_arg;

	ctl_join(&hbd->ctl);
	thread_ref_put(hbd->app);
	/* Pools that still have volumes live on with them, unchecked. */
	while ((pool = TAILQ_FIRST(&hbd->pools)))
		pool_remove(pool);
	hbd->torn_down = true;
	hbd->destroy_done = NULL;
	hbd_put(hbd);				/* the context's own */
	if (done)
		done(done_arg);
}

static void hbd_teardown(struct nvmft_hbd *hbd)
{
	if (hbd->tearing)
		return;
	hbd->tearing = true;
	/* During a runtime stop, the app reactor waits for the thread's end. */
	thread_ref_get(hbd->app);
	ctl_stop(&hbd->ctl, hbd->app, hbd_ctl_stopped, hbd);
}

static void hbd_at_exit(void *arg)
{
	struct nvmft_hbd *hbd = arg;

	hbd_teardown(hbd);
	hbd_put(hbd);				/* the exit handler's */
}

int nvmft_hbd_create(struct nvmft_bdev_registry *reg, struct nvmft_hbd **out)
{
	struct nvmft_runtime *rt;
	struct nvmft_hbd *hbd;
	int rc;

	if (!reg || !out)
		return -EINVAL;
	rt = nvmft_bdev_registry_runtime(reg);
	if (!nvmft_get_thread() || nvmft_get_thread() != nvmft_runtime_get_thread(rt, 0))
		return -EINVAL;
	hbd = calloc(1, sizeof(*hbd));
	if (!hbd)
		return -ENOMEM;
	hbd->reg = reg;
	hbd->rt = rt;
	hbd->app = nvmft_get_thread();
	TAILQ_INIT(&hbd->pools);
	TAILQ_INIT(&hbd->opening);
	if (nvmft_hbd_get(reg)) {
		rc = -EEXIST;
		goto out_free;
	}
	rc = ctl_start(&hbd->ctl, rt);
	if (rc)
		goto out_free;
	rc = nvmft_thread_at_exit(hbd_at_exit, hbd);
	if (rc)
		goto out_stop_ctl;
	atomic_init(&hbd->refs, 2);		/* its own + the exit handler's */
	/* Cannot fail: checked above, and nothing ran in between. */
	hbd_attach(hbd);
	*out = hbd;
	return 0;

out_stop_ctl:
	/* Nothing was posted: the thread ends as soon as it sees the flag. */
	atomic_store(&hbd->ctl.stop, true);
	ctl_kick(&hbd->ctl);
	ctl_join(&hbd->ctl);
	ctl_fini(&hbd->ctl);
out_free:
	free(hbd);
	return rc;
}

static void destroy_maybe_finish(struct nvmft_hbd *hbd)
{
	if (!hbd->destroying || hbd->tearing || hbd->deleting ||
	    !TAILQ_EMPTY(&hbd->opening))
		return;
	hbd_teardown(hbd);
}

static void volume_deleted(void *arg, int rc)
{
	struct nvmft_hbd *hbd = arg;

	hbd_volume_gone(hbd);
	hbd_put(hbd);				/* the deletion's */
}

void hbd_volume_gone(struct nvmft_hbd *hbd)
{
	hbd->deleting--;
	destroy_maybe_finish(hbd);
}

void hbd_opening_done(struct nvmft_hbd *hbd)
{
	destroy_maybe_finish(hbd);
}

void nvmft_hbd_destroy(struct nvmft_hbd *hbd, nvmft_msg_fn done, void *arg)
{
	struct nvmft_hbd_pool *pool;
	struct hbd_volume *vol, *next;

	if (!hbd || hbd->destroying || hbd->tearing)
		return;
	hbd_detach(hbd);
	hbd->destroying = true;
	hbd->destroy_done = done;
	hbd->destroy_arg = arg;
	hbd->deleting = 1;			/* until the walk is over */
	TAILQ_FOREACH(pool, &hbd->pools, link) {
		/* A deletion may finish synchronously and unlink @vol. */
		for (vol = TAILQ_FIRST(&pool->volumes); vol; vol = next) {
			next = TAILQ_NEXT(vol, link);
			if (!vol->bdev || vol->deleting)
				continue;
			vol->deleting = true;
			hbd->deleting++;
			hbd_get(hbd);
			if (nvmft_bdev_delete(hbd->reg, vol->bdev_name,
					      volume_deleted, hbd)) {
				vol->deleting = false;
				hbd->deleting--;
				hbd_put(hbd);
			}
		}
	}
	hbd_volume_gone(hbd);
}
