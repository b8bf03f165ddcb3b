// SPDX-License-Identifier: MIT
/*
 * hbd methods: pools of NBD servers and their volumes, the RPC face of
 * include/nvmft/bdev_hbd.h (the configuration file's hbd_pools and bdevs
 * of type hbd):
 *   bdev_hbd_pool_create, bdev_hbd_pool_delete, bdev_hbd_get_pools,
 *   bdev_hbd_create, bdev_hbd_delete.
 *
 * Pools live in the registry's one hbd context (nvmft_hbd_get()), made on
 * the first pool when the configuration had none. Parameters are limited
 * to what the configuration file can write back, so that save_config
 * recreates exactly what RPC made. A volume opens on the hbd control
 * thread: bdev_hbd_create answers when the open has ended.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nvmft/bdev_hbd.h>
#include "rpc/rpc_internal.h"

/* The configuration file's limits: save_config must be able to write it. */
#define HBD_RPC_NAME_MAX	63
#define HBD_RPC_HOUR_MS		(3600u * 1000)

static struct nvmft_bdev_registry *req_bdevs(struct nvmft_rpc_request *req)
{
	return nvmft_tgt_get_bdevs(nvmft_rpc_server_tgt(nvmft_rpc_request_server(req)));
}

static bool check_name(struct nvmft_rpc_request *req, const char *key,
		       const char *name)
{
	if (!name[0] || strlen(name) > HBD_RPC_NAME_MAX) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.%s: \"%.80s\" must be 1 to "
				"%d characters", key, name, HBD_RPC_NAME_MAX);
		return false;
	}
	return true;
}

/* The pool named by params.@key, or NULL after answering. */
static struct nvmft_hbd_pool *find_pool(struct nvmft_rpc_request *req,
					const char *key, const char *name)
{
	struct nvmft_hbd_pool *pool;

	pool = nvmft_hbd_pool_get(nvmft_hbd_get(req_bdevs(req)), name);
	if (!pool)
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.%s: no hbd pool \"%.80s\" "
				"(bdev_hbd_get_pools lists them)", key, name);
	return pool;
}

/* ---- pools ---------------------------------------------------------------------- */

struct pool_params {
	const char *name;
	const char *uri;
	struct nvmft_hbd_pool_opts o;
};

/* One option: its name, where it is, and the range the file accepts. */
struct opt_range {
	const char *key;
	size_t off;
	uint32_t min, max;
};

#define POOL_OPT(f, lo, hi) \
	{ #f, offsetof(struct nvmft_hbd_pool_opts, f), lo, hi }

static const struct opt_range pool_opt_ranges[] = {
	POOL_OPT(health_interval_ms, 10, HBD_RPC_HOUR_MS),
	POOL_OPT(connect_timeout_ms, 10, HBD_RPC_HOUR_MS),
	POOL_OPT(retry_backoff_ms, 1, HBD_RPC_HOUR_MS),
	POOL_OPT(retry_backoff_max_ms, 1, HBD_RPC_HOUR_MS),
	POOL_OPT(down_after, 1, 1000),
	POOL_OPT(degraded_latency_ms, 0, HBD_RPC_HOUR_MS),
	POOL_OPT(io_timeout_ms, 0, HBD_RPC_HOUR_MS),
};

static uint32_t opt_get(const struct nvmft_hbd_pool_opts *o, const struct opt_range *r)
{
	return *(const uint32_t *)(const void *)((const char *)o + r->off);
}

static bool check_pool_opts(struct nvmft_rpc_request *req,
			    const struct nvmft_hbd_pool_opts *o)
{
	size_t i;

	for (i = 0; i < RPC_NELEM(pool_opt_ranges); i++) {
		const struct opt_range *r = &pool_opt_ranges[i];
		uint32_t v = opt_get(o, r);

		if (v < r->min || v > r->max) {
			nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
					"Invalid params: params.%s: %u is out of range "
					"[%u, %u]", r->key, v, r->min, r->max);
			return false;
		}
	}
	if (o->retry_backoff_max_ms < o->retry_backoff_ms) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.retry_backoff_max_ms: %u is "
				"below retry_backoff_ms %u", o->retry_backoff_max_ms,
				o->retry_backoff_ms);
		return false;
	}
	return true;
}

static void pool_create(struct nvmft_rpc_request *req, struct json_object *params,
			void *ctx)
{
#define P_OPT(f) RPC_OPT(#f, NVMFT_RPC_U32, struct pool_params, o.f)
	static const struct nvmft_rpc_param spec[] = {
		RPC_REQ("name", NVMFT_RPC_STRING, struct pool_params, name),
		RPC_REQ("uri", NVMFT_RPC_STRING, struct pool_params, uri),
		P_OPT(health_interval_ms), P_OPT(connect_timeout_ms),
		P_OPT(retry_backoff_ms), P_OPT(retry_backoff_max_ms),
		P_OPT(down_after), P_OPT(degraded_latency_ms), P_OPT(io_timeout_ms),
	};
#undef P_OPT
	struct nvmft_bdev_registry *reg = req_bdevs(req);
	struct pool_params p = { 0 };
	struct nvmft_hbd *hbd;
	int rc;

	/* Absent options keep their defaults: decoding writes given ones only. */
	nvmft_hbd_pool_opts_init(&p.o);
	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), &p))
		return;
	if (!check_name(req, "name", p.name))
		return;
	if (!nvmft_hbd_pool_uri_valid(p.uri)) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.uri: \"%.200s\" is not an NBD "
				"server URI without export (nbd://HOST:PORT, "
				"nbd+unix:///?socket=PATH)", p.uri);
		return;
	}
	if (!check_pool_opts(req, &p.o))
		return;
	hbd = nvmft_hbd_get(reg);
	if (!hbd) {
		rc = nvmft_hbd_create(reg, &hbd);
		if (rc) {
			nvmft_rpc_error_errno(req, rc, "bdev_hbd_pool_create: pool "
					      "\"%s\": hbd context", p.name);
			return;
		}
	}
	rc = nvmft_hbd_pool_create(hbd, p.name, p.uri, &p.o, NULL);
	if (rc) {
		nvmft_rpc_error_errno(req, rc, "bdev_hbd_pool_create: pool \"%s\" (%s)",
				      p.name, p.uri);
		return;
	}
	nvmft_rpc_reply(req, json_object_new_string(p.name));
}

struct name_params {
	const char *name;
};

static const struct nvmft_rpc_param name_spec[] = {
	RPC_REQ("name", NVMFT_RPC_STRING, struct name_params, name),
};

/* "a", "b", "c" into @buf (cut with "..." when long). */
struct names_buf {
	char *buf;
	size_t len, used;
	unsigned int n;
};

static int add_name(struct nvmft_bdev *bdev, void *arg)
{
	struct names_buf *nb = arg;
	int w;

	if (nb->used + 1 >= nb->len)
		return 0;
	w = snprintf(nb->buf + nb->used, nb->len - nb->used, "%s\"%s\"",
		     nb->n ? ", " : "", nvmft_bdev_name(bdev));
	nb->n++;
	if (w < 0 || (size_t)w >= nb->len - nb->used) {
		snprintf(nb->buf + nb->len - 4, 4, "...");
		nb->used = nb->len;
	} else {
		nb->used += (size_t)w;
	}
	return 0;
}

/*
 * A pool in use stays: deleting it would leave volumes without health
 * checks (and save_config without their pool). Volumes go first.
 */
static void pool_delete(struct nvmft_rpc_request *req, struct json_object *params,
			void *ctx)
{
	struct nvmft_hbd *hbd = nvmft_hbd_get(req_bdevs(req));
	struct name_params p = { 0 };
	struct nvmft_hbd_pool *pool;
	char names[256] = "";
	struct names_buf nb = { .buf = names, .len = sizeof(names) };
	int rc;

	if (nvmft_rpc_decode(req, params, "params", name_spec, RPC_NELEM(name_spec), &p))
		return;
	pool = find_pool(req, "name", p.name);
	if (!pool)
		return;
	nvmft_hbd_pool_foreach_volume(pool, add_name, &nb);
	rc = nvmft_hbd_pool_destroy(hbd, p.name);
	if (rc == -EBUSY && nb.n) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"bdev_hbd_pool_delete: pool \"%s\" is in use by %u "
				"volume(s): %s; delete them first (bdev_hbd_delete)",
				p.name, nb.n, names);
		return;
	}
	if (rc == -EBUSY) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"bdev_hbd_pool_delete: pool \"%s\" has %u volume "
				"creation(s) in progress; retry when they end",
				p.name, nvmft_hbd_pool_nr_opening(pool));
		return;
	}
	if (rc) {
		nvmft_rpc_error_errno(req, rc, "bdev_hbd_pool_delete: pool \"%s\"",
				      p.name);
		return;
	}
	nvmft_rpc_reply_bool(req, true);
}

static int add_volume_name(struct nvmft_bdev *bdev, void *arg)
{
	json_object_array_add(arg, json_object_new_string(nvmft_bdev_name(bdev)));
	return 0;
}

static int list_pool(struct nvmft_hbd_pool *pool, void *arg)
{
	struct json_object *o = json_object_new_object(), *opts, *vols;
	struct nvmft_hbd_pool_opts po;
	struct nvmft_hbd_pool_info info;
	size_t i;

	nvmft_hbd_pool_get_info(pool, &info);
	nvmft_hbd_pool_get_opts(pool, &po);
	json_object_object_add(o, "name", json_object_new_string(nvmft_hbd_pool_name(pool)));
	json_object_object_add(o, "uri", json_object_new_string(nvmft_hbd_pool_uri(pool)));
	json_object_object_add(o, "state", json_object_new_string(
		nvmft_hbd_pool_state_name(info.state)));
	opts = json_object_new_object();
	for (i = 0; i < RPC_NELEM(pool_opt_ranges); i++)
		json_object_object_add(opts, pool_opt_ranges[i].key, json_object_new_int64(
			opt_get(&po, &pool_opt_ranges[i])));
	json_object_object_add(o, "options", opts);
	json_object_object_add(o, "checks", json_object_new_uint64(info.checks));
	json_object_object_add(o, "checks_failed", json_object_new_uint64(info.checks_failed));
	json_object_object_add(o, "last_check_us", json_object_new_uint64(info.last_check_us));
	vols = json_object_new_array();
	nvmft_hbd_pool_foreach_volume(pool, add_volume_name, vols);
	json_object_object_add(o, "num_volumes", json_object_new_int64(
		(int64_t)json_object_array_length(vols)));
	json_object_object_add(o, "volumes", vols);
	json_object_object_add(o, "volumes_opening", json_object_new_int64(
		nvmft_hbd_pool_nr_opening(pool)));
	json_object_array_add(arg, o);
	return 0;
}

struct get_pools_params {
	const char *name;
};

static void get_pools(struct nvmft_rpc_request *req, struct json_object *params,
		      void *ctx)
{
	static const struct nvmft_rpc_param spec[] = {
		RPC_OPT("name", NVMFT_RPC_STRING, struct get_pools_params, name),
	};
	struct get_pools_params p = { 0 };
	struct nvmft_hbd_pool *pool;
	struct json_object *a;

	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), &p))
		return;
	if (p.name) {
		pool = find_pool(req, "name", p.name);
		if (!pool)
			return;
		a = json_object_new_array();
		list_pool(pool, a);
	} else {
		a = json_object_new_array();
		nvmft_hbd_pool_foreach(nvmft_hbd_get(req_bdevs(req)), list_pool, a);
	}
	nvmft_rpc_reply(req, a);
}

/* ---- volumes ------------------------------------------------------------------- */

struct vol_params {
	const char *name;
	const char *pool;
	const char *export_name;
	uint32_t block_size;
	const char *uuid;
};

/* What the answer of an open in progress needs: the names are the request's. */
struct vol_create {
	struct nvmft_rpc_request *req;
	char name[HBD_RPC_NAME_MAX + 1];
	char pool[HBD_RPC_NAME_MAX + 1];
	char *export_name;
};

static void vol_created(void *arg, int rc, struct nvmft_bdev *bdev)
{
	struct vol_create *vc = arg;

	if (rc == -ENOENT)
		nvmft_rpc_error(vc->req, NVMFT_RPC_INVALID_PARAMS,
				"bdev_hbd_create: bdev \"%s\": export \"%s\" does not "
				"exist on pool \"%s\": %s", vc->name, vc->export_name,
				vc->pool, strerror(ENOENT));
	else if (rc)
		nvmft_rpc_error_errno(vc->req, rc, "bdev_hbd_create: bdev \"%s\" "
				      "(export \"%s\" of pool \"%s\")", vc->name,
				      vc->export_name, vc->pool);
	else
		nvmft_rpc_reply(vc->req, json_object_new_string(vc->name));
	free(vc->export_name);
	free(vc);
}

static void vol_create(struct nvmft_rpc_request *req, struct json_object *params,
		       void *ctx)
{
	static const struct nvmft_rpc_param spec[] = {
		RPC_REQ("name", NVMFT_RPC_STRING, struct vol_params, name),
		RPC_REQ("pool", NVMFT_RPC_STRING, struct vol_params, pool),
		RPC_OPT("export", NVMFT_RPC_STRING, struct vol_params, export_name),
		RPC_OPT("block_size", NVMFT_RPC_U32, struct vol_params, block_size),
		RPC_OPT("uuid", NVMFT_RPC_STRING, struct vol_params, uuid),
	};
	struct nvmft_hbd_volume_opts o = { 0 };
	struct vol_params p = { 0 };
	struct nvmft_hbd_pool *pool;
	struct vol_create *vc;
	uint8_t uuid[16];
	int rc;

	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), &p))
		return;
	if (!check_name(req, "name", p.name))
		return;
	if (!p.export_name)
		p.export_name = p.name;
	if (!p.export_name[0] || strlen(p.export_name) > 4096) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.export: \"%.80s\" must be 1 to "
				"4096 bytes", p.export_name);
		return;
	}
	/* The configuration file accepts these two only. */
	if (p.block_size && p.block_size != 512 && p.block_size != 4096) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.block_size: %u is not 512 or "
				"4096 (or absent: 512)", p.block_size);
		return;
	}
	if (p.uuid && rpc_parse_uuid(p.uuid, uuid)) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.uuid: \"%.80s\" is not a UUID",
				p.uuid);
		return;
	}
	pool = find_pool(req, "pool", p.pool);
	if (!pool)
		return;
	if (nvmft_bdev_get(req_bdevs(req), p.name)) {
		nvmft_rpc_error_errno(req, -EEXIST, "bdev_hbd_create: bdev \"%s\"",
				      p.name);
		return;
	}
	vc = calloc(1, sizeof(*vc));
	if (!vc || !(vc->export_name = strdup(p.export_name))) {
		free(vc);
		nvmft_rpc_error_errno(req, -ENOMEM, "bdev_hbd_create");
		return;
	}
	vc->req = req;
	snprintf(vc->name, sizeof(vc->name), "%s", p.name);
	snprintf(vc->pool, sizeof(vc->pool), "%s", p.pool);
	o.export_name = p.export_name;
	o.bdev_name = p.name;
	o.block_size = p.block_size;
	o.uuid = p.uuid ? uuid : NULL;
	rc = nvmft_hbd_volume_create(pool, &o, vol_created, vc);
	if (rc) {
		free(vc->export_name);
		free(vc);
		nvmft_rpc_error_errno(req, rc, "bdev_hbd_create: bdev \"%s\" (export "
				      "\"%s\" of pool \"%s\")", p.name, p.export_name,
				      p.pool);
	}
}

static void vol_delete(struct nvmft_rpc_request *req, struct json_object *params,
		       void *ctx)
{
	struct nvmft_bdev_registry *reg = req_bdevs(req);
	struct name_params p = { 0 };
	struct nvmft_bdev *bdev;
	struct rpc_async *a;
	int rc;

	if (nvmft_rpc_decode(req, params, "params", name_spec, RPC_NELEM(name_spec), &p))
		return;
	bdev = nvmft_bdev_get(reg, p.name);
	if (!bdev) {
		nvmft_rpc_error_errno(req, -ENODEV, "bdev_hbd_delete: bdev \"%s\"", p.name);
		return;
	}
	if (strcmp(nvmft_bdev_product(bdev), "hbd")) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: bdev_hbd_delete: bdev \"%s\" is a %s "
				"bdev, not hbd", p.name, nvmft_bdev_product(bdev));
		return;
	}
	a = rpc_async_new(req, NULL, "bdev_hbd_delete: bdev \"%s\"", p.name);
	if (!a) {
		nvmft_rpc_error_errno(req, -ENOMEM, "bdev_hbd_delete");
		return;
	}
	/* A namespace on it is hot-removed first (its controllers are told). */
	rc = nvmft_hbd_volume_delete(nvmft_hbd_get(reg), p.name, rpc_async_done, a);
	if (rc) {
		free(a);
		nvmft_rpc_error_errno(req, rc, "bdev_hbd_delete: bdev \"%s\"", p.name);
	}
}

const struct nvmft_rpc_method rpc_hbd_methods[] = {
	{ .name = "bdev_hbd_pool_create", .handler = pool_create,
	  .summary = "add an hbd pool (an NBD server) and start its health checks" },
	{ .name = "bdev_hbd_pool_delete", .handler = pool_delete,
	  .summary = "remove an hbd pool that has no volume" },
	{ .name = "bdev_hbd_get_pools", .handler = get_pools,
	  .summary = "list hbd pools: state, options, volumes" },
	{ .name = "bdev_hbd_create", .handler = vol_create,
	  .summary = "create an hbd bdev on an export of a pool" },
	{ .name = "bdev_hbd_delete", .handler = vol_delete,
	  .summary = "delete an hbd bdev" },
};
const size_t rpc_hbd_methods_count = RPC_NELEM(rpc_hbd_methods);
