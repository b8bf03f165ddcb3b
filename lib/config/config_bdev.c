// SPDX-License-Identifier: MIT
/*
 * The bdevs and hbd_pools sections of a configuration file: one parser per
 * backend type, and the pool references of hbd bdevs.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libconfig.h>
#include "config/config_internal.h"

/* ------------------------------------------------------------------- bdevs */

/* Type uring: a file or block device, whose size is the bdev's size. */
static int parse_bdev_uring(struct cfg_parse_ctx *pc, const config_setting_t *g,
			    struct cfg_bdev *b, const char *name)
{
	static const char *const sized[] = { "size", "num_blocks" };
	const char *filename = cfg_get_str(g, "filename");

	for (size_t i = 0; i < sizeof(sized) / sizeof(sized[0]); i++) {
		const config_setting_t *s = config_setting_get_member(g, sized[i]);

		if (s)
			return cfg_err(pc, s, "bdev \"%s\": %s is not a setting of type uring (the size is the file's)",
				    name, sized[i]);
	}
	if (!filename || !*filename)
		return cfg_err(pc, g, "bdev \"%s\": \"filename\" is required for type uring", name);
	cfg_get_bool(g, "buffered", &b->buffered);
	b->filename = strdup(filename);
	return b->filename ? 0 : -ENOMEM;
}

/* Type hbd: an export of an hbd pool, whose size is the server's. */
static int parse_bdev_hbd(struct cfg_parse_ctx *pc, const config_setting_t *g,
			  struct cfg_bdev *b, const char *name)
{
	static const char *const other[] = { "size", "num_blocks", "filename",
					     "buffered" };
	const char *pool = cfg_get_str(g, "pool");
	const char *export_name = cfg_get_str(g, "export");

	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		const config_setting_t *s = config_setting_get_member(g, other[i]);

		if (s)
			return cfg_err(pc, s, "bdev \"%s\": %s is not a setting of type hbd (the size is the export's)",
				    name, other[i]);
	}
	if (!pool || !*pool)
		return cfg_err(pc, g, "bdev \"%s\": \"pool\" is required for type hbd", name);
	if (!export_name)
		export_name = name;
	if (!*export_name)
		return cfg_err(pc, config_setting_get_member(g, "export"),
			    "bdev \"%s\": \"export\" must not be empty", name);
	b->pool = strdup(pool);
	b->export_name = strdup(export_name);
	return b->pool && b->export_name ? 0 : -ENOMEM;
}

int cfg_parse_bdev(struct cfg_parse_ctx *pc, const config_setting_t *g,
		      struct cfg_bdev *b)
{
	static const struct key_spec keys[] = {
		{ "name", K_STR }, { "type", K_STR }, { "size", K_SIZE },
		{ "num_blocks", K_INT }, { "block_size", K_INT }, { "uuid", K_STR },
		{ "filename", K_STR }, { "buffered", K_BOOL },
		{ "pool", K_STR }, { "export", K_STR },
	};
	const config_setting_t *size;
	const char *name, *type;
	bool has_nb = false, uring, hbd;
	long long nb = 0;
	int rc;

	rc = cfg_check_keys(pc, g, keys, sizeof(keys) / sizeof(keys[0]));
	if (rc)
		return rc;
	b->line = config_setting_source_line(g);
	name = cfg_get_str(g, "name");
	type = cfg_get_str(g, "type");
	if (!name || !*name)
		return cfg_err(pc, g, "bdevs: \"name\" is required");
	if (strlen(name) > 63)
		return cfg_err(pc, g, "bdevs: name \"%s\" is longer than 63 characters", name);
	if (!type)
		return cfg_err(pc, g, "bdev \"%s\": \"type\" is required (malloc, null, uring, hbd)", name);
	uring = !strcmp(type, "uring");
	hbd = !strcmp(type, "hbd");
	if (strcmp(type, "malloc") && strcmp(type, "null") && !uring && !hbd)
		return cfg_err(pc, config_setting_get_member(g, "type"),
			    "bdev \"%s\": type \"%s\" is not one of malloc, null, uring, hbd", name, type);
	b->block_size = uring ? 0 : 512;
	GET_UINT(pc, g, "block_size", 1, 65536, b->block_size);
	if (b->block_size != 512 && b->block_size != 4096 && !(uring && !b->block_size))
		return cfg_err(pc, config_setting_get_member(g, "block_size"),
			    "bdev \"%s\": block_size %u is not 512 or 4096", name,
			    b->block_size);
	rc = cfg_get_uuid(pc, g, "uuid", b->uuid, &b->has_uuid);
	if (rc)
		return rc;
	b->name = strdup(name);
	b->type = strdup(type);
	if (!b->name || !b->type)
		return -ENOMEM;
	if (hbd)
		return parse_bdev_hbd(pc, g, b, name);
	if ((size = config_setting_get_member(g, "pool")) ||
	    (size = config_setting_get_member(g, "export")))
		return cfg_err(pc, size, "bdev \"%s\": %s is only for type hbd", name,
			    config_setting_name(size));
	if (uring)
		return parse_bdev_uring(pc, g, b, name);
	if ((size = config_setting_get_member(g, "filename")) ||
	    (size = config_setting_get_member(g, "buffered")))
		return cfg_err(pc, size, "bdev \"%s\": %s is only for type uring", name,
			    config_setting_name(size));
	rc = cfg_get_int(pc, g, "num_blocks", 1, INT64_MAX, &nb, &has_nb);
	if (rc)
		return rc;
	size = config_setting_get_member(g, "size");
	if (size && has_nb)
		return cfg_err(pc, size, "bdev \"%s\": give size or num_blocks, not both", name);
	if (size) {
		uint64_t bytes;

		rc = cfg_get_size(pc, size, &bytes);
		if (rc)
			return rc;
		if (bytes == 0 || bytes % b->block_size)
			return cfg_err(pc, size, "bdev \"%s\": size %" PRIu64
				    " is not a non-zero multiple of the block size %u",
				    name, bytes, b->block_size);
		b->num_blocks = bytes / b->block_size;
	} else if (has_nb) {
		b->num_blocks = (uint64_t)nb;
	} else {
		return cfg_err(pc, g, "bdev \"%s\": \"size\" or \"num_blocks\" is required", name);
	}
	return 0;
}

/* -------------------------------------------------------------- hbd pools */

int cfg_parse_hbd_pool(struct cfg_parse_ctx *pc, const config_setting_t *g,
			  struct cfg_hbd_pool *p)
{
	static const struct key_spec keys[] = {
		{ "name", K_STR }, { "uri", K_STR },
		{ "health_interval_ms", K_INT }, { "connect_timeout_ms", K_INT },
		{ "retry_backoff_ms", K_INT }, { "retry_backoff_max_ms", K_INT },
		{ "down_after", K_INT }, { "degraded_latency_ms", K_INT },
		{ "io_timeout_ms", K_INT },
	};
	const long long hour_ms = 3600 * 1000;
	const char *name, *uri;
	int rc;

	rc = cfg_check_keys(pc, g, keys, sizeof(keys) / sizeof(keys[0]));
	if (rc)
		return rc;
	p->line = config_setting_source_line(g);
	name = cfg_get_str(g, "name");
	uri = cfg_get_str(g, "uri");
	if (!name || !*name || strlen(name) > 63)
		return cfg_err(pc, g, "hbd_pools: \"name\" is required (1 to 63 characters)");
	if (!uri)
		return cfg_err(pc, g, "hbd pool \"%s\": \"uri\" is required", name);
	if (!nvmft_hbd_pool_uri_valid(uri))
		return cfg_err(pc, config_setting_get_member(g, "uri"),
			    "hbd pool \"%s\": uri \"%s\" is not an NBD server URI without export (nbd://HOST:PORT, nbd+unix:///?socket=PATH)",
			    name, uri);
	nvmft_hbd_pool_opts_init(&p->opts);
	GET_UINT(pc, g, "health_interval_ms", 10, hour_ms, p->opts.health_interval_ms);
	GET_UINT(pc, g, "connect_timeout_ms", 10, hour_ms, p->opts.connect_timeout_ms);
	GET_UINT(pc, g, "retry_backoff_ms", 1, hour_ms, p->opts.retry_backoff_ms);
	GET_UINT(pc, g, "retry_backoff_max_ms", 1, hour_ms, p->opts.retry_backoff_max_ms);
	GET_UINT(pc, g, "down_after", 1, 1000, p->opts.down_after);
	GET_UINT(pc, g, "degraded_latency_ms", 0, hour_ms, p->opts.degraded_latency_ms);
	GET_UINT(pc, g, "io_timeout_ms", 0, hour_ms, p->opts.io_timeout_ms);
	if (p->opts.retry_backoff_max_ms < p->opts.retry_backoff_ms)
		return cfg_err(pc, g, "hbd pool \"%s\": retry_backoff_max_ms %u is below retry_backoff_ms %u",
			    name, p->opts.retry_backoff_max_ms, p->opts.retry_backoff_ms);
	p->name = strdup(name);
	p->uri = strdup(uri);
	return p->name && p->uri ? 0 : -ENOMEM;
}

/* hbd: unique pool names, hbd bdevs name a pool of hbd_pools. */
int cfg_check_hbd_refs(struct cfg_parse_ctx *pc)
{
	struct nvmft_config *cfg = pc->cfg;

	for (unsigned int i = 0; i < cfg->nr_hbd_pools; i++)
		for (unsigned int j = 0; j < i; j++)
			if (!strcmp(cfg->hbd_pools[i].name, cfg->hbd_pools[j].name)) {
				snprintf(pc->err, pc->errlen, "%s:%d: hbd pool name \"%s\" is given twice",
					 pc->file, cfg->hbd_pools[i].line, cfg->hbd_pools[i].name);
				return -EINVAL;
			}
	for (unsigned int i = 0; i < cfg->nr_bdevs; i++) {
		unsigned int p;

		if (!cfg->bdevs[i].pool)
			continue;
		for (p = 0; p < cfg->nr_hbd_pools; p++)
			if (!strcmp(cfg->hbd_pools[p].name, cfg->bdevs[i].pool))
				break;
		if (p == cfg->nr_hbd_pools) {
			snprintf(pc->err, pc->errlen, "%s:%d: bdev \"%s\": pool \"%s\" is not defined in hbd_pools",
				 pc->file, cfg->bdevs[i].line, cfg->bdevs[i].name,
				 cfg->bdevs[i].pool);
			return -EINVAL;
		}
	}
	return 0;
}
