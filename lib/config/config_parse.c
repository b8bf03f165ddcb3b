// SPDX-License-Identifier: MIT
/*
 * libconfig file → struct nvmft_config, with full validation: unknown keys,
 * wrong types, out-of-range values, duplicate names and NQNs, references to
 * unknown bdevs. Every message is "file:line: setting: reason".
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

struct parse_ctx {
	const char *file;
	char *err;
	size_t errlen;
	struct nvmft_config *cfg;
};

__attribute__((format(printf, 3, 4)))
static int perr(struct parse_ctx *pc, const config_setting_t *s,
		const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s)
		snprintf(pc->err, pc->errlen, "%s:%d: %s", pc->file,
			 config_setting_source_line(s), msg);
	else
		snprintf(pc->err, pc->errlen, "%s: %s", pc->file, msg);
	return -EINVAL;
}

/* Path of a setting for messages: "subsystems.[0].namespaces.[1].bdev". */
static void setting_path(const config_setting_t *s, char *buf, size_t len)
{
	const config_setting_t *chain[16];
	int n = 0;
	size_t off = 0;

	for (; s && config_setting_parent(s) && n < 16; s = config_setting_parent(s))
		chain[n++] = s;
	buf[0] = '\0';
	while (n-- > 0 && off < len) {
		const config_setting_t *c = chain[n];
		const char *name = config_setting_name(c);
		int w;

		if (name)
			w = snprintf(buf + off, len - off, "%s%s", off ? "." : "", name);
		else
			w = snprintf(buf + off, len - off, "[%d]", config_setting_index(c));
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

enum key_type { K_STR, K_INT, K_BOOL, K_LIST, K_GROUP, K_SIZE };

struct key_spec {
	const char *name;
	enum key_type type;
};

static const char *type_name(enum key_type t)
{
	switch (t) {
	case K_STR: return "a string";
	case K_INT: return "an integer";
	case K_BOOL: return "true or false";
	case K_LIST: return "a list ( ... )";
	case K_GROUP: return "a group { ... }";
	case K_SIZE: return "a size (integer or string like \"1G\")";
	}
	return "?";
}

static bool type_ok(const config_setting_t *s, enum key_type t)
{
	int st = config_setting_type(s);

	switch (t) {
	case K_STR: return st == CONFIG_TYPE_STRING;
	case K_INT: return st == CONFIG_TYPE_INT || st == CONFIG_TYPE_INT64;
	case K_BOOL: return st == CONFIG_TYPE_BOOL;
	case K_LIST: return st == CONFIG_TYPE_LIST || st == CONFIG_TYPE_ARRAY;
	case K_GROUP: return st == CONFIG_TYPE_GROUP;
	case K_SIZE: return st == CONFIG_TYPE_INT || st == CONFIG_TYPE_INT64 ||
			    st == CONFIG_TYPE_STRING;
	}
	return false;
}

/* Every member of group @g must be one of @keys, with the right type. */
static int check_keys(struct parse_ctx *pc, const config_setting_t *g,
		      const struct key_spec *keys, size_t nkeys)
{
	char path[256];
	int n = config_setting_length(g);

	for (int i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned int)i);
		const char *name = config_setting_name(m);
		size_t k;

		for (k = 0; k < nkeys; k++)
			if (name && strcmp(name, keys[k].name) == 0)
				break;
		setting_path(m, path, sizeof(path));
		if (k == nkeys)
			return perr(pc, m, "%s: unknown setting", path);
		if (!type_ok(m, keys[k].type))
			return perr(pc, m, "%s: must be %s", path, type_name(keys[k].type));
	}
	return 0;
}

static const char *get_str(const config_setting_t *g, const char *name)
{
	const char *v = NULL;

	if (!config_setting_lookup_string(g, name, &v))
		return NULL;
	return v;
}

static int get_int(struct parse_ctx *pc, const config_setting_t *g,
		   const char *name, long long min, long long max,
		   long long *out, bool *present)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	char path[256];
	long long v;

	*present = s != NULL;
	if (!s)
		return 0;
	v = config_setting_get_int64(s);
	if (v < min || v > max) {
		setting_path(s, path, sizeof(path));
		return perr(pc, s, "%s: %lld is out of range [%lld, %lld]", path,
			    v, min, max);
	}
	*out = v;
	return 0;
}

#define GET_UINT(pc, g, name, min, max, dst) do {				\
	long long _v; bool _p;							\
	int _rc = get_int(pc, g, name, min, max, &_v, &_p);			\
	if (_rc)								\
		return _rc;							\
	if (_p)									\
		(dst) = (__typeof__(dst))_v;					\
} while (0)

static int get_bool(const config_setting_t *g, const char *name, bool *dst)
{
	int v;

	if (config_setting_lookup_bool(g, name, &v))
		*dst = v != 0;
	return 0;
}

int nvmft_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned int shift = 0;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (toupper((unsigned char)*end)) {
	case '\0': break;
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	default: return -EINVAL;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if ((*end == 'B' || *end == 'b') && shift)
		end++;
	if (*end != '\0')
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int get_size(struct parse_ctx *pc, const config_setting_t *s,
		    uint64_t *out)
{
	char path[256];

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		const char *v = config_setting_get_string(s);

		if (nvmft_parse_size(v, out) == 0)
			return 0;
		setting_path(s, path, sizeof(path));
		return perr(pc, s, "%s: \"%s\" is not a size (e.g. 4096, 64M, 1G)",
			    path, v);
	}
	if (config_setting_get_int64(s) < 0) {
		setting_path(s, path, sizeof(path));
		return perr(pc, s, "%s: must not be negative", path);
	}
	*out = (uint64_t)config_setting_get_int64(s);
	return 0;
}

int cfg_parse_uuid(const char *s, uint8_t out[16])
{
	int n = 0;

	for (const char *p = s; *p; p++) {
		int hi, lo;

		if (*p == '-')
			continue;
		if (n == 16 || !isxdigit((unsigned char)p[0]) ||
		    !isxdigit((unsigned char)p[1]))
			return -EINVAL;
		hi = isdigit((unsigned char)p[0]) ? p[0] - '0' : (tolower((unsigned char)p[0]) - 'a' + 10);
		lo = isdigit((unsigned char)p[1]) ? p[1] - '0' : (tolower((unsigned char)p[1]) - 'a' + 10);
		out[n++] = (uint8_t)(hi << 4 | lo);
		p++;
	}
	return n == 16 ? 0 : -EINVAL;
}

void cfg_format_uuid(const uint8_t u[16], char *buf, size_t len)
{
	snprintf(buf, len,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
}

static int get_uuid(struct parse_ctx *pc, const config_setting_t *g,
		    const char *name, uint8_t out[16], bool *present)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	char path[256];

	*present = s != NULL;
	if (!s)
		return 0;
	if (cfg_parse_uuid(config_setting_get_string(s), out) == 0)
		return 0;
	setting_path(s, path, sizeof(path));
	return perr(pc, s, "%s: \"%s\" is not a UUID (32 hex digits)", path,
		    config_setting_get_string(s));
}

/* ---------------------------------------------------------------- reactors */

static int parse_reactors(struct parse_ctx *pc, const config_setting_t *g)
{
	static const struct key_spec keys[] = {
		{ "count", K_INT }, { "cpus", K_STR }, { "pin", K_BOOL },
		{ "wait_mode", K_STR }, { "engine", K_STR },
	};
	struct nvmft_config *cfg = pc->cfg;
	const char *s;
	int rc;

	rc = check_keys(pc, g, keys, sizeof(keys) / sizeof(keys[0]));
	if (rc)
		return rc;
	GET_UINT(pc, g, "count", 0, 1024, cfg->nr_reactors);
	get_bool(g, "pin", &cfg->pin);
	s = get_str(g, "cpus");
	if (s) {
		uint64_t mask[16];

		if (nvmft_parse_cpu_list(s, mask) <= 0)
			return perr(pc, config_setting_get_member(g, "cpus"),
				    "reactors.cpus: \"%s\" is not a CPU list (e.g. \"0-3,6\")", s);
		cfg->cpus = strdup(s);
		if (!cfg->cpus)
			return -ENOMEM;
	}
	s = get_str(g, "wait_mode");
	if (s) {
		if (!strcmp(s, "adaptive"))
			cfg->wait_mode = NVMFT_WAIT_ADAPTIVE;
		else if (!strcmp(s, "poll"))
			cfg->wait_mode = NVMFT_WAIT_POLL;
		else if (!strcmp(s, "interrupt"))
			cfg->wait_mode = NVMFT_WAIT_INTERRUPT;
		else
			return perr(pc, config_setting_get_member(g, "wait_mode"),
				    "reactors.wait_mode: \"%s\" is not one of adaptive, poll, interrupt", s);
	}
	s = get_str(g, "engine");
	if (s) {
		if (!strcmp(s, "auto"))
			cfg->engine = NVMFT_ENGINE_AUTO;
		else if (!strcmp(s, "uring") || !strcmp(s, "io_uring"))
			cfg->engine = NVMFT_ENGINE_URING;
		else if (!strcmp(s, "epoll"))
			cfg->engine = NVMFT_ENGINE_EPOLL;
		else
			return perr(pc, config_setting_get_member(g, "engine"),
				    "reactors.engine: \"%s\" is not one of auto, uring, epoll", s);
	}
	return 0;
}

static int parse_log_level(struct parse_ctx *pc, const config_setting_t *s)
{
	static const struct { const char *n; enum nvmft_log_level l; } levels[] = {
		{ "error", NVMFT_LOG_ERR }, { "warning", NVMFT_LOG_WARN },
		{ "notice", NVMFT_LOG_NOTICE }, { "info", NVMFT_LOG_INFO },
		{ "debug", NVMFT_LOG_DEBUG },
	};
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return perr(pc, s, "log_level: must be a string");
	v = config_setting_get_string(s);
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (!strcasecmp(v, levels[i].n)) {
			pc->cfg->log_level = levels[i].l;
			return 0;
		}
	}
	return perr(pc, s, "log_level: \"%s\" is not one of error, warning, notice, info, debug", v);
}

/* -------------------------------------------------------------- transports */

static int parse_transport(struct parse_ctx *pc, const config_setting_t *g,
			   struct cfg_transport *t)
{
	static const struct key_spec keys[] = {
		{ "type", K_STR }, { "max_queue_depth", K_INT },
		{ "max_aq_depth", K_INT }, { "max_qpairs_per_ctrlr", K_INT },
		{ "in_capsule_data_size", K_SIZE }, { "max_io_size", K_SIZE },
		{ "io_unit_size", K_SIZE }, { "num_shared_buffers", K_INT },
		{ "max_r2t", K_INT }, { "c2h_success", K_BOOL },
		{ "icreq_timeout_ms", K_INT }, { "backlog", K_INT },
		{ "zcopy_threshold", K_SIZE },
	};
	const struct { const char *name; uint32_t *dst; } sizes[] = {
		{ "in_capsule_data_size", &t->opts.in_capsule_data_size },
		{ "max_io_size", &t->opts.max_io_size },
		{ "io_unit_size", &t->opts.io_unit_size },
		{ "zcopy_threshold", &t->opts.zcopy_threshold },
	};
	const char *type;
	int rc;

	rc = check_keys(pc, g, keys, sizeof(keys) / sizeof(keys[0]));
	if (rc)
		return rc;
	t->line = config_setting_source_line(g);
	type = get_str(g, "type");
	if (!type)
		type = "TCP";
	if (strlen(type) >= sizeof(t->type) ||
	    nvmft_transport_opts_init(type, &t->opts) != 0)
		return perr(pc, g, "transports: type \"%s\" is not supported (TCP)", type);
	snprintf(t->type, sizeof(t->type), "%s", type);
	for (char *p = t->type; *p; p++)
		*p = (char)toupper((unsigned char)*p);

	GET_UINT(pc, g, "max_queue_depth", 2, 65536, t->opts.max_queue_depth);
	GET_UINT(pc, g, "max_aq_depth", 2, 4096, t->opts.max_aq_depth);
	GET_UINT(pc, g, "max_qpairs_per_ctrlr", 2, 65535, t->opts.max_qpairs_per_ctrlr);
	GET_UINT(pc, g, "num_shared_buffers", 1, 1 << 20, t->opts.num_shared_buffers);
	GET_UINT(pc, g, "max_r2t", 1, 65536, t->opts.max_r2t);
	GET_UINT(pc, g, "icreq_timeout_ms", 1, 3600 * 1000, t->opts.icreq_timeout_ms);
	GET_UINT(pc, g, "backlog", 1, 65535, t->opts.backlog);
	get_bool(g, "c2h_success", &t->opts.c2h_success);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		const config_setting_t *s = config_setting_get_member(g, sizes[i].name);
		uint64_t v;

		if (!s)
			continue;
		rc = get_size(pc, s, &v);
		if (rc)
			return rc;
		if (v > UINT32_MAX)
			return perr(pc, s, "transports.%s: %" PRIu64 " is too large",
				    sizes[i].name, v);
		*sizes[i].dst = (uint32_t)v;
	}
	return 0;
}

/* ------------------------------------------------------------------- bdevs */

/* Type uring: a file or block device, whose size is the bdev's size. */
static int parse_bdev_uring(struct parse_ctx *pc, const config_setting_t *g,
			    struct cfg_bdev *b, const char *name)
{
	static const char *const sized[] = { "size", "num_blocks" };
	const char *filename = get_str(g, "filename");

	for (size_t i = 0; i < sizeof(sized) / sizeof(sized[0]); i++) {
		const config_setting_t *s = config_setting_get_member(g, sized[i]);

		if (s)
			return perr(pc, s, "bdev \"%s\": %s is not a setting of type uring (the size is the file's)",
				    name, sized[i]);
	}
	if (!filename || !*filename)
		return perr(pc, g, "bdev \"%s\": \"filename\" is required for type uring", name);
	get_bool(g, "buffered", &b->buffered);
	b->filename = strdup(filename);
	return b->filename ? 0 : -ENOMEM;
}

/* Type hbd: an export of an hbd pool, whose size is the server's. */
static int parse_bdev_hbd(struct parse_ctx *pc, const config_setting_t *g,
			  struct cfg_bdev *b, const char *name)
{
	static const char *const other[] = { "size", "num_blocks", "filename",
					     "buffered" };
	const char *pool = get_str(g, "pool");
	const char *export_name = get_str(g, "export");

	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		const config_setting_t *s = config_setting_get_member(g, other[i]);

		if (s)
			return perr(pc, s, "bdev \"%s\": %s is not a setting of type hbd (the size is the export's)",
				    name, other[i]);
	}
	if (!pool || !*pool)
		return perr(pc, g, "bdev \"%s\": \"pool\" is required for type hbd", name);
	if (!export_name)
		export_name = name;
	if (!*export_name)
		return perr(pc, config_setting_get_member(g, "export"),
			    "bdev \"%s\": \"export\" must not be empty", name);
	b->pool = strdup(pool);
	b->export_name = strdup(export_name);
	return b->pool && b->export_name ? 0 : -ENOMEM;
}

static int parse_bdev(struct parse_ctx *pc, const config_setting_t *g,
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

	rc = check_keys(pc, g, keys, sizeof(keys) / sizeof(keys[0]));
	if (rc)
		return rc;
	b->line = config_setting_source_line(g);
	name = get_str(g, "name");
	type = get_str(g, "type");
	if (!name || !*name)
		return perr(pc, g, "bdevs: \"name\" is required");
	if (strlen(name) > 63)
		return perr(pc, g, "bdevs: name \"%s\" is longer than 63 characters", name);
	if (!type)
		return perr(pc, g, "bdev \"%s\": \"type\" is required (malloc, null, uring, hbd)", name);
	uring = !strcmp(type, "uring");
	hbd = !strcmp(type, "hbd");
	if (strcmp(type, "malloc") && strcmp(type, "null") && !uring && !hbd)
		return perr(pc, config_setting_get_member(g, "type"),
			    "bdev \"%s\": type \"%s\" is not one of malloc, null, uring, hbd", name, type);
	b->block_size = uring ? 0 : 512;
	GET_UINT(pc, g, "block_size", 1, 65536, b->block_size);
	if (b->block_size != 512 && b->block_size != 4096 && !(uring && !b->block_size))
		return perr(pc, config_setting_get_member(g, "block_size"),
			    "bdev \"%s\": block_size %u is not 512 or 4096", name,
			    b->block_size);
	rc = get_uuid(pc, g, "uuid", b->uuid, &b->has_uuid);
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
		return perr(pc, size, "bdev \"%s\": %s is only for type hbd", name,
			    config_setting_name(size));
	if (uring)
		return parse_bdev_uring(pc, g, b, name);
	if ((size = config_setting_get_member(g, "filename")) ||
	    (size = config_setting_get_member(g, "buffered")))
		return perr(pc, size, "bdev \"%s\": %s is only for type uring", name,
			    config_setting_name(size));
	rc = get_int(pc, g, "num_blocks", 1, INT64_MAX, &nb, &has_nb);
	if (rc)
		return rc;
	size = config_setting_get_member(g, "size");
	if (size && has_nb)
		return perr(pc, size, "bdev \"%s\": give size or num_blocks, not both", name);
	if (size) {
		uint64_t bytes;

		rc = get_size(pc, size, &bytes);
		if (rc)
			return rc;
		if (bytes == 0 || bytes % b->block_size)
			return perr(pc, size, "bdev \"%s\": size %" PRIu64
				    " is not a non-zero multiple of the block size %u",
				    name, bytes, b->block_size);
		b->num_blocks = bytes / b->block_size;
	} else if (has_nb) {
		b->num_blocks = (uint64_t)nb;
	} else {
		return perr(pc, g, "bdev \"%s\": \"size\" or \"num_blocks\" is required", name);
	}
	return 0;
}

/* -------------------------------------------------------------- hbd pools */

static int parse_hbd_pool(struct parse_ctx *pc, const config_setting_t *g,
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

	rc = check_keys(pc, g, keys, sizeof(keys) / sizeof(keys[0]));
	if (rc)
		return rc;
	p->line = config_setting_source_line(g);
	name = get_str(g, "name");
	uri = get_str(g, "uri");
	if (!name || !*name || strlen(name) > 63)
		return perr(pc, g, "hbd_pools: \"name\" is required (1 to 63 characters)");
	if (!uri)
		return perr(pc, g, "hbd pool \"%s\": \"uri\" is required", name);
	if (!nvmft_hbd_pool_uri_valid(uri))
		return perr(pc, config_setting_get_member(g, "uri"),
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
		return perr(pc, g, "hbd pool \"%s\": retry_backoff_max_ms %u is below retry_backoff_ms %u",
			    name, p->opts.retry_backoff_max_ms, p->opts.retry_backoff_ms);
	p->name = strdup(name);
	p->uri = strdup(uri);
	return p->name && p->uri ? 0 : -ENOMEM;
}

/* -------------------------------------------------------------- listeners */

/* trtype, adrfam, traddr, trsvcid (@def_port when absent, or required
 * when NULL) of group @g, whose keys were checked. */
static int parse_addr(struct parse_ctx *pc, const config_setting_t *g,
		      const char *def_port, struct nvmft_listen_addr *addr)
{
	const char *traddr, *trsvcid, *trtype, *adrfam;
	char path[256];

	setting_path(g, path, sizeof(path));
	traddr = get_str(g, "traddr");
	trsvcid = get_str(g, "trsvcid");
	trtype = get_str(g, "trtype");
	adrfam = get_str(g, "adrfam");
	if (!traddr)
		return perr(pc, g, "%s: \"traddr\" is required", path);
	if (!trsvcid && !def_port)
		return perr(pc, g, "%s: \"trsvcid\" is required", path);
	if (!trsvcid)
		trsvcid = def_port;
	if (nvmft_listen_addr_init(addr, traddr, trsvcid) != 0)
		return perr(pc, g, "%s: \"%s\" port \"%s\" is not a valid address and port",
			    path, traddr, trsvcid);
	if (trtype && strcasecmp(trtype, "TCP"))
		return perr(pc, g, "%s: trtype \"%s\" is not supported (TCP)", path, trtype);
	if (adrfam) {
		if (strcasecmp(adrfam, "IPv4") && strcasecmp(adrfam, "IPv6"))
			return perr(pc, g, "%s: adrfam \"%s\" is not IPv4 or IPv6", path, adrfam);
		if (strcasecmp(adrfam, addr->adrfam))
			return perr(pc, g, "%s: adrfam \"%s\" does not match traddr \"%s\"",
				    path, adrfam, traddr);
	}
	return 0;
}

static int parse_listener(struct parse_ctx *pc, const config_setting_t *g,
			  struct cfg_listener *l)
{
	static const struct key_spec keys[] = {
		{ "trtype", K_STR }, { "adrfam", K_STR }, { "traddr", K_STR },
		{ "trsvcid", K_STR },
	};
	int rc;

	rc = check_keys(pc, g, keys, sizeof(keys) / sizeof(keys[0]));
	if (rc)
		return rc;
	l->line = config_setting_source_line(g);
	return parse_addr(pc, g, "4420", &l->addr);
}

/* discovery.referrals: { traddr; trsvcid; [adrfam; trtype; subnqn;
 * secure_channel;] } — trsvcid required: a referral has no default port. */
static int parse_referral(struct parse_ctx *pc, const config_setting_t *g,
			  void *elem)
{
	static const struct key_spec keys[] = {
		{ "trtype", K_STR }, { "adrfam", K_STR }, { "traddr", K_STR },
		{ "trsvcid", K_STR }, { "subnqn", K_STR }, { "secure_channel", K_BOOL },
	};
	struct cfg_referral *r = elem;
	const char *nqn;
	char path[256];
	int rc;

	rc = check_keys(pc, g, keys, sizeof(keys) / sizeof(keys[0]));
	if (rc)
		return rc;
	setting_path(g, path, sizeof(path));
	r->line = config_setting_source_line(g);
	rc = parse_addr(pc, g, NULL, &r->ref.addr);
	if (rc)
		return rc;
	if (!strcmp(r->ref.addr.trsvcid, "0"))
		return perr(pc, g, "%s: trsvcid 0 is not a port to refer hosts to", path);
	nqn = get_str(g, "subnqn");
	if (nqn && *nqn && (strlen(nqn) >= sizeof(r->ref.subnqn) || !nvmft_nqn_valid(nqn)))
		return perr(pc, config_setting_get_member(g, "subnqn"),
			    "%s: subnqn \"%s\" is not a valid NQN", path, nqn);
	snprintf(r->ref.subnqn, sizeof(r->ref.subnqn), "%s",
		 nqn && *nqn ? nqn : NVMFT_DISCOVERY_NQN);
	get_bool(g, "secure_channel", &r->ref.secure_channel);
	for (const struct cfg_referral *o = pc->cfg->referrals; o < r; o++)
		if (!strcmp(o->ref.addr.traddr, r->ref.addr.traddr) &&
		    !strcmp(o->ref.addr.trsvcid, r->ref.addr.trsvcid) &&
		    !strcmp(o->ref.subnqn, r->ref.subnqn))
			return perr(pc, g, "referral %s:%s %s is given twice",
				    r->ref.addr.traddr, r->ref.addr.trsvcid, r->ref.subnqn);
	return 0;
}

static int parse_listeners(struct parse_ctx *pc, const config_setting_t *list,
			   struct cfg_listener **out, unsigned int *nr)
{
	unsigned int n = (unsigned int)config_setting_length(list);
	int rc;

	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, i);

		if (config_setting_type(e) != CONFIG_TYPE_GROUP)
			return perr(pc, e, "listeners: each entry must be a group { traddr = ...; trsvcid = ...; }");
		rc = parse_listener(pc, e, &(*out)[i]);
		if (rc)
			return rc;
		for (unsigned int j = 0; j < i; j++)
			if (!strcmp((*out)[j].addr.traddr, (*out)[i].addr.traddr) &&
			    !strcmp((*out)[j].addr.trsvcid, (*out)[i].addr.trsvcid))
				return perr(pc, e, "listener %s:%s is given twice",
					    (*out)[i].addr.traddr, (*out)[i].addr.trsvcid);
		*nr = i + 1;
	}
	return 0;
}

/* -------------------------------------------------------------- subsystems */

static int parse_ns(struct parse_ctx *pc, const config_setting_t *g,
		    struct cfg_subsystem *ss, struct cfg_ns *ns)
{
	static const struct key_spec keys[] = {
		{ "bdev", K_STR }, { "nsid", K_INT }, { "uuid", K_STR },
		{ "nguid", K_STR },
	};
	const char *bdev;
	int rc;

	rc = check_keys(pc, g, keys, sizeof(keys) / sizeof(keys[0]));
	if (rc)
		return rc;
	ns->line = config_setting_source_line(g);
	bdev = get_str(g, "bdev");
	if (!bdev)
		return perr(pc, g, "subsystem %s: namespace: \"bdev\" is required", ss->nqn);
	GET_UINT(pc, g, "nsid", 1, 0xfffffffe, ns->nsid);
	rc = get_uuid(pc, g, "uuid", ns->uuid, &ns->has_uuid);
	if (!rc)
		rc = get_uuid(pc, g, "nguid", ns->nguid, &ns->has_nguid);
	if (rc)
		return rc;
	ns->bdev = strdup(bdev);
	return ns->bdev ? 0 : -ENOMEM;
}

static int parse_subsystem(struct parse_ctx *pc, const config_setting_t *g,
			   struct cfg_subsystem *ss)
{
	static const struct key_spec keys[] = {
		{ "nqn", K_STR }, { "serial", K_STR }, { "model", K_STR },
		{ "allow_any_host", K_BOOL }, { "hosts", K_LIST },
		{ "namespaces", K_LIST }, { "listeners", K_LIST },
		{ "max_namespaces", K_INT },
	};
	const config_setting_t *list;
	const char *nqn, *s;
	int rc;

	rc = check_keys(pc, g, keys, sizeof(keys) / sizeof(keys[0]));
	if (rc)
		return rc;
	ss->line = config_setting_source_line(g);
	nqn = get_str(g, "nqn");
	if (!nqn)
		return perr(pc, g, "subsystems: \"nqn\" is required");
	if (!nvmft_nqn_valid(nqn) || !strcmp(nqn, NVMFT_DISCOVERY_NQN))
		return perr(pc, config_setting_get_member(g, "nqn"),
			    "subsystems: nqn \"%s\" is not a valid subsystem NQN", nqn);
	ss->nqn = strdup(nqn);
	if (!ss->nqn)
		return -ENOMEM;
	s = get_str(g, "serial");
	if (s) {
		if (strlen(s) > NVMFT_SERIAL_MAX_LEN || !*s)
			return perr(pc, config_setting_get_member(g, "serial"),
				    "subsystem %s: serial \"%s\" must be 1 to %d characters",
				    nqn, s, NVMFT_SERIAL_MAX_LEN);
		for (const char *p = s; *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				return perr(pc, config_setting_get_member(g, "serial"),
					    "subsystem %s: serial must be printable ASCII", nqn);
		ss->serial = strdup(s);
	}
	s = get_str(g, "model");
	if (s) {
		if (strlen(s) > NVMFT_MODEL_MAX_LEN || !*s)
			return perr(pc, config_setting_get_member(g, "model"),
				    "subsystem %s: model \"%s\" must be 1 to %d characters",
				    nqn, s, NVMFT_MODEL_MAX_LEN);
		for (const char *p = s; *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				return perr(pc, config_setting_get_member(g, "model"),
					    "subsystem %s: model must be printable ASCII", nqn);
		ss->model = strdup(s);
	}
	get_bool(g, "allow_any_host", &ss->allow_any_host);
	ss->max_namespaces = 0;
	GET_UINT(pc, g, "max_namespaces", 1, 65535, ss->max_namespaces);

	list = config_setting_get_member(g, "hosts");
	if (list) {
		unsigned int n = (unsigned int)config_setting_length(list);

		ss->hosts = calloc(n ? n : 1, sizeof(char *));
		if (!ss->hosts)
			return -ENOMEM;
		for (unsigned int i = 0; i < n; i++) {
			const config_setting_t *e = config_setting_get_elem(list, i);
			const char *h = config_setting_get_string(e);

			if (!h || !nvmft_nqn_valid(h))
				return perr(pc, e, "subsystem %s: host \"%s\" is not a valid NQN",
					    nqn, h ? h : "(not a string)");
			for (unsigned int j = 0; j < i; j++)
				if (!strcmp(ss->hosts[j], h))
					return perr(pc, e, "subsystem %s: host \"%s\" is given twice", nqn, h);
			ss->hosts[i] = strdup(h);
			if (!ss->hosts[i])
				return -ENOMEM;
			ss->nr_hosts = i + 1;
		}
	}
	list = config_setting_get_member(g, "namespaces");
	if (list) {
		unsigned int n = (unsigned int)config_setting_length(list);

		ss->ns = calloc(n ? n : 1, sizeof(*ss->ns));
		if (!ss->ns)
			return -ENOMEM;
		for (unsigned int i = 0; i < n; i++) {
			const config_setting_t *e = config_setting_get_elem(list, i);

			if (config_setting_type(e) != CONFIG_TYPE_GROUP)
				return perr(pc, e, "subsystem %s: each namespace must be a group { bdev = ...; }", nqn);
			rc = parse_ns(pc, e, ss, &ss->ns[i]);
			if (rc)
				return rc;
			ss->nr_ns = i + 1;
			for (unsigned int j = 0; j < i; j++) {
				if (ss->ns[i].nsid && ss->ns[j].nsid == ss->ns[i].nsid)
					return perr(pc, e, "subsystem %s: nsid %u is given twice",
						    nqn, ss->ns[i].nsid);
				if (!strcmp(ss->ns[j].bdev, ss->ns[i].bdev))
					return perr(pc, e, "subsystem %s: bdev \"%s\" is used twice",
						    nqn, ss->ns[i].bdev);
			}
			if (ss->max_namespaces && ss->ns[i].nsid > ss->max_namespaces)
				return perr(pc, e, "subsystem %s: nsid %u is above max_namespaces %u",
					    nqn, ss->ns[i].nsid, ss->max_namespaces);
		}
	}
	list = config_setting_get_member(g, "listeners");
	if (list) {
		rc = parse_listeners(pc, list, &ss->listeners, &ss->nr_listeners);
		if (rc)
			return rc;
	}
	return 0;
}

/* -------------------------------------------------------------- top level */

typedef int (*parse_elem_fn)(struct parse_ctx *pc, const config_setting_t *e,
			     void *elem);

static int parse_list(struct parse_ctx *pc, const config_setting_t *list,
		      size_t elem_size, void **out, unsigned int *nr,
		      parse_elem_fn fn)
{
	unsigned int n = (unsigned int)config_setting_length(list);
	char *arr;
	int rc;

	arr = calloc(n ? n : 1, elem_size);
	if (!arr)
		return -ENOMEM;
	*out = arr;
	for (unsigned int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, i);
		char path[256];

		if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
			setting_path(e, path, sizeof(path));
			return perr(pc, e, "%s: must be a group { ... }", path);
		}
		rc = fn(pc, e, arr + i * elem_size);
		*nr = i + 1;
		if (rc)
			return rc;
	}
	return 0;
}

static int parse_transport_elem(struct parse_ctx *pc, const config_setting_t *e,
				void *elem)
{
	return parse_transport(pc, e, elem);
}

static int parse_hbd_pool_elem(struct parse_ctx *pc, const config_setting_t *e,
			       void *elem)
{
	return parse_hbd_pool(pc, e, elem);
}

static int parse_bdev_elem(struct parse_ctx *pc, const config_setting_t *e,
			   void *elem)
{
	return parse_bdev(pc, e, elem);
}

static int parse_subsystem_elem(struct parse_ctx *pc, const config_setting_t *e,
				void *elem)
{
	return parse_subsystem(pc, e, elem);
}

/* hbd: unique pool names, hbd bdevs name a pool of hbd_pools. */
static int check_hbd_refs(struct parse_ctx *pc)
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

/* Cross-references: unique names/NQNs, namespaces name existing bdevs. */
static int check_refs(struct parse_ctx *pc)
{
	struct nvmft_config *cfg = pc->cfg;

	for (unsigned int i = 0; i < cfg->nr_transports; i++)
		for (unsigned int j = 0; j < i; j++)
			if (!strcmp(cfg->transports[i].type, cfg->transports[j].type)) {
				snprintf(pc->err, pc->errlen, "%s:%d: transport %s is given twice",
					 pc->file, cfg->transports[i].line, cfg->transports[i].type);
				return -EINVAL;
			}
	for (unsigned int i = 0; i < cfg->nr_bdevs; i++)
		for (unsigned int j = 0; j < i; j++)
			if (!strcmp(cfg->bdevs[i].name, cfg->bdevs[j].name)) {
				snprintf(pc->err, pc->errlen, "%s:%d: bdev name \"%s\" is given twice",
					 pc->file, cfg->bdevs[i].line, cfg->bdevs[i].name);
				return -EINVAL;
			}
	if (check_hbd_refs(pc))
		return -EINVAL;
	for (unsigned int i = 0; i < cfg->nr_subsystems; i++) {
		struct cfg_subsystem *ss = &cfg->subsystems[i];

		for (unsigned int j = 0; j < i; j++)
			if (!strcmp(ss->nqn, cfg->subsystems[j].nqn)) {
				snprintf(pc->err, pc->errlen, "%s:%d: subsystem nqn \"%s\" is given twice",
					 pc->file, ss->line, ss->nqn);
				return -EINVAL;
			}
		for (unsigned int n = 0; n < ss->nr_ns; n++) {
			unsigned int b;

			for (b = 0; b < cfg->nr_bdevs; b++)
				if (!strcmp(cfg->bdevs[b].name, ss->ns[n].bdev))
					break;
			if (b == cfg->nr_bdevs) {
				snprintf(pc->err, pc->errlen,
					 "%s:%d: subsystem %s: namespace bdev \"%s\" is not defined in bdevs",
					 pc->file, ss->ns[n].line, ss->nqn, ss->ns[n].bdev);
				return -EINVAL;
			}
			/* one bdev, one namespace: across subsystems too */
			for (unsigned int k = 0; k < i; k++)
				for (unsigned int m = 0; m < cfg->subsystems[k].nr_ns; m++)
					if (!strcmp(cfg->subsystems[k].ns[m].bdev, ss->ns[n].bdev)) {
						snprintf(pc->err, pc->errlen,
							 "%s:%d: subsystem %s: bdev \"%s\" is already a namespace of %s",
							 pc->file, ss->ns[n].line, ss->nqn,
							 ss->ns[n].bdev, cfg->subsystems[k].nqn);
						return -EINVAL;
					}
		}
	}
	return 0;
}

static int parse_root(struct parse_ctx *pc, config_t *lc)
{
	static const struct key_spec keys[] = {
		{ "reactors", K_GROUP }, { "log_level", K_STR },
		{ "transports", K_LIST }, { "bdevs", K_LIST },
		{ "subsystems", K_LIST }, { "discovery", K_GROUP },
		{ "hbd_pools", K_LIST },
	};
	const config_setting_t *root = config_root_setting(lc);
	const config_setting_t *s;
	struct nvmft_config *cfg = pc->cfg;
	int rc;

	rc = check_keys(pc, root, keys, sizeof(keys) / sizeof(keys[0]));
	if (rc)
		return rc;
	s = config_setting_get_member(root, "reactors");
	if (s && (rc = parse_reactors(pc, s)))
		return rc;
	s = config_setting_get_member(root, "log_level");
	if (s && (rc = parse_log_level(pc, s)))
		return rc;
	s = config_setting_get_member(root, "transports");
	if (s && (rc = parse_list(pc, s, sizeof(struct cfg_transport),
				  (void **)&cfg->transports, &cfg->nr_transports,
				  parse_transport_elem)))
		return rc;
	s = config_setting_get_member(root, "hbd_pools");
	if (s && (rc = parse_list(pc, s, sizeof(struct cfg_hbd_pool),
				  (void **)&cfg->hbd_pools, &cfg->nr_hbd_pools,
				  parse_hbd_pool_elem)))
		return rc;
	s = config_setting_get_member(root, "bdevs");
	if (s && (rc = parse_list(pc, s, sizeof(struct cfg_bdev),
				  (void **)&cfg->bdevs, &cfg->nr_bdevs,
				  parse_bdev_elem)))
		return rc;
	s = config_setting_get_member(root, "subsystems");
	if (s && (rc = parse_list(pc, s, sizeof(struct cfg_subsystem),
				  (void **)&cfg->subsystems, &cfg->nr_subsystems,
				  parse_subsystem_elem)))
		return rc;
	s = config_setting_get_member(root, "discovery");
	if (s) {
		static const struct key_spec dkeys[] = {
			{ "listeners", K_LIST }, { "referrals", K_LIST },
		};
		const config_setting_t *l;

		rc = check_keys(pc, s, dkeys, sizeof(dkeys) / sizeof(dkeys[0]));
		if (rc)
			return rc;
		l = config_setting_get_member(s, "listeners");
		if (l && (rc = parse_listeners(pc, l, &cfg->discovery_listeners,
					       &cfg->nr_discovery_listeners)))
			return rc;
		l = config_setting_get_member(s, "referrals");
		if (l && (rc = parse_list(pc, l, sizeof(struct cfg_referral),
					  (void **)&cfg->referrals, &cfg->nr_referrals,
					  parse_referral)))
			return rc;
	}
	/* A subsystem listener needs a transport: TCP with defaults if none. */
	if (cfg->nr_transports == 0) {
		free(cfg->transports);	/* an empty "transports = ( );" list */
		cfg->transports = calloc(1, sizeof(*cfg->transports));
		if (!cfg->transports)
			return -ENOMEM;
		snprintf(cfg->transports[0].type, sizeof(cfg->transports[0].type), "TCP");
		nvmft_transport_opts_init("TCP", &cfg->transports[0].opts);
		cfg->nr_transports = 1;
	}
	return check_refs(pc);
}

static int load(config_t *lc, bool ok, const char *name,
		struct nvmft_config **out, char *err, size_t errlen)
{
	struct parse_ctx pc = { .file = name, .err = err, .errlen = errlen };
	int rc;

	if (!ok) {
		if (config_error_type(lc) == CONFIG_ERR_FILE_IO) {
			snprintf(err, errlen, "%s: cannot read the file", name);
			return -ENOENT;
		}
		snprintf(err, errlen, "%s:%d: %s", name, config_error_line(lc),
			 config_error_text(lc));
		return -EINVAL;
	}
	pc.cfg = calloc(1, sizeof(*pc.cfg));
	if (!pc.cfg)
		return -ENOMEM;
	pc.cfg->log_level = NVMFT_LOG_NOTICE;
	pc.cfg->file = strdup(name);
	rc = pc.cfg->file ? parse_root(&pc, lc) : -ENOMEM;
	if (rc) {
		if (rc == -ENOMEM)
			snprintf(err, errlen, "%s: out of memory", name);
		nvmft_config_free(pc.cfg);
		return rc;
	}
	*out = pc.cfg;
	return 0;
}

int nvmft_config_load(const char *path, struct nvmft_config **out, char *err,
		      size_t errlen)
{
	config_t lc;
	FILE *f;
	int rc;

	f = fopen(path, "r");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	config_init(&lc);
	rc = load(&lc, config_read(&lc, f) == CONFIG_TRUE, path, out, err, errlen);
	config_destroy(&lc);
	fclose(f);
	return rc;
}

int nvmft_config_load_string(const char *text, const char *name,
			     struct nvmft_config **out, char *err, size_t errlen)
{
	config_t lc;
	int rc;

	config_init(&lc);
	rc = load(&lc, config_read_string(&lc, text) == CONFIG_TRUE, name, out,
		  err, errlen);
	config_destroy(&lc);
	return rc;
}

static void free_subsystem(struct cfg_subsystem *ss)
{
	free(ss->nqn);
	free(ss->serial);
	free(ss->model);
	for (unsigned int i = 0; i < ss->nr_hosts; i++)
		free(ss->hosts[i]);
	free(ss->hosts);
	for (unsigned int i = 0; i < ss->nr_ns; i++)
		free(ss->ns[i].bdev);
	free(ss->ns);
	free(ss->listeners);
}

void nvmft_config_free(struct nvmft_config *cfg)
{
	if (!cfg)
		return;
	for (unsigned int i = 0; i < cfg->nr_bdevs; i++) {
		free(cfg->bdevs[i].name);
		free(cfg->bdevs[i].type);
		free(cfg->bdevs[i].filename);
		free(cfg->bdevs[i].pool);
		free(cfg->bdevs[i].export_name);
	}
	free(cfg->bdevs);
	for (unsigned int i = 0; i < cfg->nr_hbd_pools; i++) {
		free(cfg->hbd_pools[i].name);
		free(cfg->hbd_pools[i].uri);
	}
	free(cfg->hbd_pools);
	for (unsigned int i = 0; i < cfg->nr_subsystems; i++)
		free_subsystem(&cfg->subsystems[i]);
	free(cfg->subsystems);
	free(cfg->transports);
	free(cfg->discovery_listeners);
	free(cfg->referrals);
	free(cfg->cpus);
	free(cfg->file);
	free(cfg);
}

void nvmft_config_runtime_opts(const struct nvmft_config *cfg,
			       struct nvmft_runtime_opts *opts)
{
	nvmft_runtime_opts_init(opts);
	opts->nr_reactors = cfg->nr_reactors;
	opts->cpus = cfg->cpus;
	opts->pin = cfg->pin || cfg->cpus;
	opts->wait_mode = cfg->wait_mode;
	opts->engine = cfg->engine;
}

enum nvmft_log_level nvmft_config_log_level(const struct nvmft_config *cfg)
{
	return cfg->log_level;
}

const char *nvmft_config_default_text(void)
{
	return
		"# nvmf-tgtd embedded default: a 1 GiB RAM namespace on 127.0.0.1:4420\n"
		"transports = ( { type = \"TCP\"; } );\n"
		"bdevs = ( { name = \"Malloc0\"; type = \"malloc\"; size = \"1G\"; block_size = 512; } );\n"
		"subsystems = ( {\n"
		"  nqn = \"" NVMFT_DEFAULT_NQN "\";\n"
		"  serial = \"NVMFT000000000000001\";\n"
		"  model = \"nvmft RAM disk\";\n"
		"  allow_any_host = true;\n"
		"  namespaces = ( { bdev = \"Malloc0\"; nsid = 1; } );\n"
		"  listeners = ( { traddr = \"127.0.0.1\"; trsvcid = \"4420\"; } );\n"
		"} );\n";
}
