// SPDX-License-Identifier: MIT
/*
 * Block device methods, with SPDK's names and parameters:
 * bdev_malloc_create/delete, bdev_null_create/delete,
 * bdev_uring_create/delete/rescan, bdev_get_bdevs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvmf/nvmf_info.h"
#include "rpc/rpc_internal.h"

/* The configuration file's limit: save_config must be able to write it. */
#define RPC_BDEV_NAME_MAX	63

static struct nvmft_bdev_registry *req_bdevs(struct nvmft_rpc_request *req)
{
	return nvmft_tgt_get_bdevs(nvmft_rpc_server_tgt(nvmft_rpc_request_server(req)));
}

static bool check_name(struct nvmft_rpc_request *req, const char *name)
{
	if (!name[0] || strlen(name) > RPC_BDEV_NAME_MAX) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.name: \"%.80s\" must be 1 to "
				"%d characters", name, RPC_BDEV_NAME_MAX);
		return false;
	}
	return true;
}

static bool check_uuid(struct nvmft_rpc_request *req, const char *s, uint8_t out[16])
{
	if (rpc_parse_uuid(s, out)) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.uuid: \"%.80s\" is not a UUID", s);
		return false;
	}
	return true;
}

/* ---- malloc and null ------------------------------------------------------ */

struct ram_params {
	const char *name;
	uint64_t num_blocks;
	uint32_t block_size;
	const char *uuid;
	uint32_t md_size;
	uint32_t dif_type;
	bool dif_is_head_of_md;
	bool md_interleave;
};

static const struct nvmft_rpc_param ram_spec[] = {
	RPC_OPT("name", NVMFT_RPC_STRING, struct ram_params, name),
	RPC_REQ("num_blocks", NVMFT_RPC_U64, struct ram_params, num_blocks),
	RPC_REQ("block_size", NVMFT_RPC_U32, struct ram_params, block_size),
	RPC_OPT("uuid", NVMFT_RPC_STRING, struct ram_params, uuid),
	/* SPDK extras: metadata and protection information are not
	 * supported; their "off" values are accepted. */
	RPC_OPT("md_size", NVMFT_RPC_U32, struct ram_params, md_size),
	RPC_OPT("dif_type", NVMFT_RPC_U32, struct ram_params, dif_type),
	RPC_OPT("dif_is_head_of_md", NVMFT_RPC_BOOL, struct ram_params, dif_is_head_of_md),
	RPC_OPT("md_interleave", NVMFT_RPC_BOOL, struct ram_params, md_interleave),
	RPC_IGNORE("optimal_io_boundary"),
	RPC_IGNORE("physical_block_size"),
};

/* "Malloc0", "Malloc1", ...: the lowest free. */
static void default_name(struct nvmft_bdev_registry *reg, const char *prefix,
			 char *buf, size_t len)
{
	unsigned int i;

	for (i = 0;; i++) {
		snprintf(buf, len, "%s%u", prefix, i);
		if (!nvmft_bdev_get(reg, buf))
			return;
	}
}

static void ram_create(struct nvmft_rpc_request *req, struct json_object *params,
		       bool is_malloc)
{
	const char *method = nvmft_rpc_request_method(req);
	struct nvmft_bdev_registry *reg = req_bdevs(req);
	struct ram_params p = { 0 };
	uint8_t uuid[16];
	char name[32];
	int rc;

	if (nvmft_rpc_decode(req, params, "params", ram_spec, RPC_NELEM(ram_spec), &p))
		return;
	if (p.md_size || p.dif_type || p.dif_is_head_of_md || p.md_interleave) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.md_size/dif_type: metadata "
				"and protection information are not supported");
		return;
	}
	if (!p.name && !is_malloc) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.name is required");
		return;
	}
	if (!p.name) {
		default_name(reg, "Malloc", name, sizeof(name));
		p.name = name;
	}
	if (!check_name(req, p.name))
		return;
	if (p.block_size != 512 && p.block_size != 4096) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.block_size: %u is not 512 or 4096",
				p.block_size);
		return;
	}
	if (p.num_blocks == 0) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.num_blocks: 0 is not a size");
		return;
	}
	if (p.uuid && !check_uuid(req, p.uuid, uuid))
		return;
	if (is_malloc)
		rc = nvmft_bdev_malloc_create(reg, p.name, p.num_blocks, p.block_size,
					      p.uuid ? uuid : NULL, NULL);
	else
		rc = nvmft_bdev_null_create(reg, p.name, p.num_blocks, p.block_size,
					    p.uuid ? uuid : NULL, NULL);
	if (rc) {
		nvmft_rpc_error_errno(req, rc, "%s: bdev \"%s\" (%llu blocks of %u "
				      "bytes)", method, p.name,
				      (unsigned long long)p.num_blocks, p.block_size);
		return;
	}
	nvmft_rpc_reply(req, json_object_new_string(p.name));
}

static void bdev_malloc_create(struct nvmft_rpc_request *req,
			       struct json_object *params, void *ctx)
{
	ram_create(req, params, true);
}

static void bdev_null_create(struct nvmft_rpc_request *req,
			     struct json_object *params, void *ctx)
{
	ram_create(req, params, false);
}

/* ---- uring ------------------------------------------------------------------ */

struct uring_params {
	const char *name;
	const char *filename;
	uint32_t block_size;
	const char *uuid;
	bool buffered;
};

static void bdev_uring_create(struct nvmft_rpc_request *req,
			      struct json_object *params, void *ctx)
{
	static const struct nvmft_rpc_param spec[] = {
		RPC_REQ("name", NVMFT_RPC_STRING, struct uring_params, name),
		RPC_REQ("filename", NVMFT_RPC_STRING, struct uring_params, filename),
		RPC_OPT("block_size", NVMFT_RPC_U32, struct uring_params, block_size),
		RPC_OPT("uuid", NVMFT_RPC_STRING, struct uring_params, uuid),
		RPC_OPT("buffered", NVMFT_RPC_BOOL, struct uring_params, buffered),
	};
	struct uring_params p = { 0 };
	struct nvmft_bdev_uring_opts o = { 0 };
	uint8_t uuid[16];
	int rc;

	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), &p))
		return;
	if (!check_name(req, p.name))
		return;
	if (p.block_size && p.block_size != 512 && p.block_size != 4096) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.block_size: %u is not 512 or "
				"4096 (or absent: detect)", p.block_size);
		return;
	}
	if (p.uuid && !check_uuid(req, p.uuid, uuid))
		return;
	o.name = p.name;
	o.filename = p.filename;
	o.block_size = p.block_size;
	o.buffered = p.buffered;
	o.uuid = p.uuid ? uuid : NULL;
	rc = nvmft_bdev_uring_create(req_bdevs(req), &o, NULL);
	if (rc) {
		nvmft_rpc_error_errno(req, rc, "bdev_uring_create: bdev \"%s\" on %s",
				      p.name, p.filename);
		return;
	}
	nvmft_rpc_reply(req, json_object_new_string(p.name));
}

/* ---- delete ------------------------------------------------------------------ */

struct name_params {
	const char *name;
};

static void bdev_delete(struct nvmft_rpc_request *req, struct json_object *params,
			const char *product)
{
	static const struct nvmft_rpc_param spec[] = {
		RPC_REQ("name", NVMFT_RPC_STRING, struct name_params, name),
	};
	const char *method = nvmft_rpc_request_method(req);
	struct nvmft_bdev_registry *reg = req_bdevs(req);
	struct name_params p = { 0 };
	struct nvmft_bdev *bdev;
	struct rpc_async *a;
	int rc;

	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), &p))
		return;
	bdev = nvmft_bdev_get(reg, p.name);
	if (!bdev) {
		nvmft_rpc_error_errno(req, -ENODEV, "%s: bdev \"%s\"", method, p.name);
		return;
	}
	if (strcmp(nvmft_bdev_product(bdev), product)) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: %s: bdev \"%s\" is a %s bdev, not %s",
				method, p.name, nvmft_bdev_product(bdev), product);
		return;
	}
	a = rpc_async_new(req, NULL, "%s: bdev \"%s\"", method, p.name);
	if (!a) {
		nvmft_rpc_error_errno(req, -ENOMEM, "%s", method);
		return;
	}
	/* A namespace on it is hot-removed first (its controllers are told). */
	rc = nvmft_bdev_delete(reg, p.name, rpc_async_done, a);
	if (rc) {
		free(a);
		nvmft_rpc_error_errno(req, rc, "%s: bdev \"%s\"", method, p.name);
	}
}

static void bdev_malloc_delete(struct nvmft_rpc_request *req,
			       struct json_object *params, void *ctx)
{
	bdev_delete(req, params, "malloc");
}

static void bdev_null_delete(struct nvmft_rpc_request *req,
			     struct json_object *params, void *ctx)
{
	bdev_delete(req, params, "null");
}

static void bdev_uring_delete(struct nvmft_rpc_request *req,
			      struct json_object *params, void *ctx)
{
	bdev_delete(req, params, "uring");
}

/* SPDK's reply: true once the size has been re-read (changed or not). */
static void bdev_uring_rescan(struct nvmft_rpc_request *req,
			      struct json_object *params, void *ctx)
{
	static const struct nvmft_rpc_param spec[] = {
		RPC_REQ("name", NVMFT_RPC_STRING, struct name_params, name),
	};
	struct nvmft_bdev_registry *reg = req_bdevs(req);
	struct name_params p = { 0 };
	struct nvmft_bdev *bdev;
	int rc;

	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), &p))
		return;
	bdev = nvmft_bdev_get(reg, p.name);
	if (!bdev) {
		nvmft_rpc_error_errno(req, -ENODEV, "bdev_uring_rescan: bdev \"%s\"",
				      p.name);
		return;
	}
	if (strcmp(nvmft_bdev_product(bdev), "uring")) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: bdev_uring_rescan: bdev \"%s\" is a %s bdev, not uring",
				p.name, nvmft_bdev_product(bdev));
		return;
	}
	rc = nvmft_bdev_uring_rescan(reg, p.name);
	if (rc) {
		nvmft_rpc_error_errno(req, rc, "bdev_uring_rescan: bdev \"%s\"", p.name);
		return;
	}
	nvmft_rpc_reply(req, json_object_new_boolean(true));
}

/* ---- listing ------------------------------------------------------------------ */

struct claim_find {
	const struct nvmft_bdev *bdev;
	const char *nqn;
	uint32_t nsid;
};

static int claim_ns(const struct nvmf_info_ns *ns, void *arg)
{
	struct claim_find *f = arg;

	if (ns->bdev != f->bdev)
		return 0;
	f->nsid = ns->nsid;
	return 1;
}

static int claim_ss(struct nvmft_subsystem *ss, void *arg)
{
	struct claim_find *f = arg;

	if (nvmf_info_foreach_ns(ss, claim_ns, f)) {
		f->nqn = nvmft_subsystem_nqn(ss);
		return 1;
	}
	return 0;
}

struct list_ctx {
	struct nvmft_tgt *tgt;
	struct json_object *a;
};

static struct json_object *io_types_json(const struct nvmft_bdev *bdev)
{
	static const struct { const char *name; enum nvmft_io_type t; } types[] = {
		{ "read", NVMFT_IO_READ }, { "write", NVMFT_IO_WRITE },
		{ "unmap", NVMFT_IO_UNMAP }, { "write_zeroes", NVMFT_IO_WRITE_ZEROES },
		{ "flush", NVMFT_IO_FLUSH }, { "compare", NVMFT_IO_COMPARE },
	};
	struct json_object *o = json_object_new_object();
	size_t i;

	for (i = 0; i < RPC_NELEM(types); i++)
		json_object_object_add(o, types[i].name, json_object_new_boolean(
			nvmft_bdev_supports(bdev, types[i].t)));
	/* Compare and Write runs as Compare + Write under a range lock. */
	json_object_object_add(o, "compare_and_write", json_object_new_boolean(
		nvmft_bdev_supports(bdev, NVMFT_IO_COMPARE)));
	json_object_object_add(o, "reset", json_object_new_boolean(false));
	json_object_object_add(o, "nvme_admin", json_object_new_boolean(false));
	json_object_object_add(o, "nvme_io", json_object_new_boolean(false));
	return o;
}

static int list_one(struct nvmft_bdev *bdev, void *arg)
{
	struct list_ctx *l = arg;
	struct claim_find f = { .bdev = bdev };
	struct json_object *o, *ds, *info;
	char uuid[37];

	o = json_object_new_object();
	rpc_format_uuid(nvmft_bdev_uuid(bdev), uuid);
	json_object_object_add(o, "name", json_object_new_string(nvmft_bdev_name(bdev)));
	json_object_object_add(o, "aliases", json_object_new_array());
	json_object_object_add(o, "product_name",
			       json_object_new_string(nvmft_bdev_product(bdev)));
	json_object_object_add(o, "block_size",
			       json_object_new_int64(nvmft_bdev_block_size(bdev)));
	json_object_object_add(o, "num_blocks",
			       json_object_new_uint64(nvmft_bdev_num_blocks(bdev)));
	json_object_object_add(o, "uuid", json_object_new_string(uuid));
	nvmft_subsystem_foreach(l->tgt, claim_ss, &f);
	json_object_object_add(o, "claimed", json_object_new_boolean(f.nqn != NULL));
	if (f.nqn) {
		struct json_object *c = json_object_new_object();

		json_object_object_add(c, "nqn", json_object_new_string(f.nqn));
		json_object_object_add(c, "nsid", json_object_new_int64(f.nsid));
		json_object_object_add(o, "namespace", c);
	}
	json_object_object_add(o, "zoned", json_object_new_boolean(false));
	json_object_object_add(o, "write_cache",
			       json_object_new_boolean(nvmft_bdev_write_cache(bdev)));
	json_object_object_add(o, "available",
			       json_object_new_boolean(nvmft_bdev_is_available(bdev)));
	json_object_object_add(o, "max_io_blocks",
			       json_object_new_int64(nvmft_bdev_max_io_blocks(bdev)));
	json_object_object_add(o, "supported_io_types", io_types_json(bdev));
	ds = json_object_new_object();
	info = json_object_new_object();
	if (nvmft_bdev_dump_info(bdev, info) == 0)
		json_object_object_add(ds, nvmft_bdev_product(bdev), info);
	else
		json_object_put(info);
	json_object_object_add(o, "driver_specific", ds);
	json_object_array_add(l->a, o);
	return 0;
}

struct get_params {
	const char *name;
	uint32_t timeout;
};

static void bdev_get_bdevs(struct nvmft_rpc_request *req, struct json_object *params,
			   void *ctx)
{
	static const struct nvmft_rpc_param spec[] = {
		RPC_OPT("name", NVMFT_RPC_STRING, struct get_params, name),
		/* SPDK waits up to timeout ms for the bdev to appear; ours
		 * appear synchronously. */
		RPC_OPT("timeout", NVMFT_RPC_U32, struct get_params, timeout),
	};
	struct list_ctx l = {
		.tgt = nvmft_rpc_server_tgt(nvmft_rpc_request_server(req)),
	};
	struct get_params p = { 0 };
	struct nvmft_bdev *bdev;

	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), &p))
		return;
	l.a = json_object_new_array();
	if (p.name) {
		bdev = nvmft_bdev_get(nvmft_tgt_get_bdevs(l.tgt), p.name);
		if (!bdev) {
			json_object_put(l.a);
			nvmft_rpc_error_errno(req, -ENODEV, "bdev_get_bdevs: bdev \"%s\"",
					      p.name);
			return;
		}
		list_one(bdev, &l);
	} else {
		nvmft_bdev_foreach(nvmft_tgt_get_bdevs(l.tgt), list_one, &l);
	}
	nvmft_rpc_reply(req, l.a);
}

const struct nvmft_rpc_method rpc_bdev_methods[] = {
	{ .name = "bdev_malloc_create", .handler = bdev_malloc_create,
	  .summary = "create a RAM bdev" },
	{ .name = "bdev_malloc_delete", .handler = bdev_malloc_delete,
	  .summary = "delete a RAM bdev" },
	{ .name = "bdev_null_create", .handler = bdev_null_create,
	  .summary = "create a null bdev (reads zeroes, discards writes)" },
	{ .name = "bdev_null_delete", .handler = bdev_null_delete,
	  .summary = "delete a null bdev" },
	{ .name = "bdev_uring_create", .handler = bdev_uring_create,
	  .summary = "create a bdev on a file or block device (io_uring)" },
	{ .name = "bdev_uring_delete", .handler = bdev_uring_delete,
	  .summary = "delete a uring bdev" },
	{ .name = "bdev_uring_rescan", .handler = bdev_uring_rescan,
	  .summary = "re-read the size of a uring bdev's file or device" },
	{ .name = "bdev_get_bdevs", .handler = bdev_get_bdevs,
	  .summary = "list bdevs" },
};
const size_t rpc_bdev_methods_count = RPC_NELEM(rpc_bdev_methods);
