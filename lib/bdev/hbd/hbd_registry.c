// SPDX-License-Identifier: MIT
/*
 * How management code finds what hbd runs: the one context of a bdev
 * registry (so that pools made by the configuration and by RPC live side
 * by side), and read-only walks over its pools and their volumes for
 * listings and save_config.
 *
 * The registry points at the context and holds a reference on it: the
 * context may be torn down by the runtime's exit handler while the
 * registry lives on (or the other way round), and neither may then meet
 * freed memory. Whichever of nvmft_hbd_destroy() and the registry's end
 * comes first drops the link.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bdev/bdev_internal.h"
#include "bdev/hbd/hbd_internal.h"

/* App reactor, from the registry's last moments: forget it. */
static void hbd_registry_gone(void *arg)
{
	struct nvmft_hbd *hbd = arg;

	if (!hbd->attached)
		return;
	hbd->attached = false;
	/* Nothing may reach the registry through the context from now on. */
	hbd->reg = NULL;
	hbd_put(hbd);				/* the registry's */
}

int hbd_attach(struct nvmft_hbd *hbd)
{
	struct nvmft_bdev_registry *reg = hbd->reg;

	if (reg->hbd)
		return -EEXIST;
	hbd_get(hbd);				/* the registry's */
	reg->hbd = hbd;
	reg->hbd_gone = hbd_registry_gone;
	hbd->attached = true;
	return 0;
}

void hbd_detach(struct nvmft_hbd *hbd)
{
	struct nvmft_bdev_registry *reg = hbd->reg;

	if (!hbd->attached)
		return;
	hbd->attached = false;
	if (reg && reg->hbd == hbd) {
		reg->hbd = NULL;
		reg->hbd_gone = NULL;
	}
	hbd_put(hbd);				/* the registry's */
}

struct nvmft_hbd *nvmft_hbd_get(struct nvmft_bdev_registry *reg)
{
	return reg ? reg->hbd : NULL;
}

int nvmft_hbd_pool_foreach(struct nvmft_hbd *hbd,
			   int (*fn)(struct nvmft_hbd_pool *pool, void *arg),
			   void *arg)
{
	struct nvmft_hbd_pool *pool, *next;
	int rc;

	if (!hbd || !fn)
		return 0;
	for (pool = TAILQ_FIRST(&hbd->pools); pool; pool = next) {
		next = TAILQ_NEXT(pool, link);
		rc = fn(pool, arg);
		if (rc)
			return rc;
	}
	return 0;
}

const char *nvmft_hbd_pool_name(const struct nvmft_hbd_pool *pool)
{
	return pool->name;
}

const char *nvmft_hbd_pool_uri(const struct nvmft_hbd_pool *pool)
{
	return pool->uri;
}

void nvmft_hbd_pool_get_opts(const struct nvmft_hbd_pool *pool,
			     struct nvmft_hbd_pool_opts *opts)
{
	*opts = pool->opts;
}

unsigned int nvmft_hbd_pool_nr_opening(const struct nvmft_hbd_pool *pool)
{
	return pool->nr_opening;
}

int nvmft_hbd_pool_foreach_volume(struct nvmft_hbd_pool *pool,
				  int (*fn)(struct nvmft_bdev *bdev, void *arg),
				  void *arg)
{
	struct hbd_volume *vol, *next;
	int rc;

	if (!pool || !fn)
		return 0;
	for (vol = TAILQ_FIRST(&pool->volumes); vol; vol = next) {
		next = TAILQ_NEXT(vol, link);
		/* Registered and not on its way out. */
		if (!vol->bdev || vol->deleting)
			continue;
		rc = fn(vol->bdev, arg);
		if (rc)
			return rc;
	}
	return 0;
}
