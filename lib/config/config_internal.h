/* SPDX-License-Identifier: MIT */
/*
 * A parsed and validated configuration: plain data, no libconfig handles,
 * so applying it cannot fail on syntax. Shared by config_parse.c (file →
 * struct) and config_apply.c (struct → running target).
 */
#ifndef NVMFT_LIB_CONFIG_INTERNAL_H
#define NVMFT_LIB_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <nvmft/bdev_hbd.h>
#include <nvmft/config.h>
#include <nvmft/nvmf.h>

struct cfg_bdev {
	char *name;
	char *type;			/* "malloc", "null", "uring", "hbd" */
	uint64_t num_blocks;		/* malloc, null */
	uint32_t block_size;		/* uring: 0 = detect */
	char *filename;			/* uring */
	bool buffered;			/* uring */
	char *pool;			/* hbd: name in hbd_pools */
	char *export_name;		/* hbd: NBD export */
	bool has_uuid;
	uint8_t uuid[16];
	int line;
};

struct cfg_ns {
	char *bdev;
	uint32_t nsid;
	bool has_uuid;
	uint8_t uuid[16];
	bool has_nguid;
	uint8_t nguid[16];
	int line;
};

struct cfg_listener {
	struct nvmft_listen_addr addr;
	struct nvmft_listen_opts opts;		/* max_connections */
	int line;
};

/* The top-level "target" group: what nvmft_tgt_opts takes. */
struct cfg_target {
	bool has_max_connections;
	uint32_t max_connections;
	bool has_max_subsystems;
	uint32_t max_subsystems;
	int line;
};

/* discovery.referrals */
struct cfg_referral {
	struct nvmft_referral ref;
	int line;
};

struct cfg_subsystem {
	char *nqn;
	char *serial;
	char *model;
	bool allow_any_host;
	uint32_t max_namespaces;
	char **hosts;
	unsigned int nr_hosts;
	struct cfg_ns *ns;
	unsigned int nr_ns;
	struct cfg_listener *listeners;
	unsigned int nr_listeners;
	int line;
};

/* An hbd pool (top-level list "hbd_pools"). */
struct cfg_hbd_pool {
	char *name;
	char *uri;
	struct nvmft_hbd_pool_opts opts;
	int line;
};

struct cfg_transport {
	char type[16];
	struct nvmft_transport_opts opts;
	int line;
};

struct nvmft_config {
	char *file;
	/* reactors */
	unsigned int nr_reactors;
	char *cpus;
	bool pin;
	enum nvmft_wait_mode wait_mode;
	enum nvmft_engine engine;
	unsigned int idle_spin_us;	/* when has_idle_spin_us, else the default */
	bool has_idle_spin_us;
	enum nvmft_log_level log_level;

	struct cfg_target target;
	struct cfg_transport *transports;
	unsigned int nr_transports;
	struct cfg_hbd_pool *hbd_pools;
	unsigned int nr_hbd_pools;
	struct cfg_bdev *bdevs;
	unsigned int nr_bdevs;
	struct cfg_subsystem *subsystems;
	unsigned int nr_subsystems;
	struct cfg_listener *discovery_listeners;
	unsigned int nr_discovery_listeners;
	struct cfg_referral *referrals;
	unsigned int nr_referrals;
};

int cfg_parse_uuid(const char *s, uint8_t out[16]);
void cfg_format_uuid(const uint8_t u[16], char *buf, size_t len);

/* --- parsing helpers shared by config_parse.c, config_value.c and
 *     config_bdev.c ------------------------------------------------------ */
#include <libconfig.h>

struct cfg_parse_ctx {
	const char *file;
	char *err;
	size_t errlen;
	struct nvmft_config *cfg;
};

enum key_type { K_STR, K_INT, K_BOOL, K_LIST, K_GROUP, K_SIZE };

struct key_spec {
	const char *name;
	enum key_type type;
};

__attribute__((format(printf, 3, 4)))
int cfg_err(struct cfg_parse_ctx *pc, const config_setting_t *s,
	    const char *fmt, ...);
void cfg_setting_path(const config_setting_t *s, char *buf, size_t len);
int cfg_check_keys(struct cfg_parse_ctx *pc, const config_setting_t *g,
		   const struct key_spec *keys, size_t nkeys);
const char *cfg_get_str(const config_setting_t *g, const char *name);
int cfg_get_int(struct cfg_parse_ctx *pc, const config_setting_t *g,
		const char *name, long long min, long long max,
		long long *out, bool *present);
int cfg_get_bool(const config_setting_t *g, const char *name, bool *dst);
int cfg_get_size(struct cfg_parse_ctx *pc, const config_setting_t *s,
		 uint64_t *out);
int cfg_get_uuid(struct cfg_parse_ctx *pc, const config_setting_t *g,
		 const char *name, uint8_t out[16], bool *present);

/* Read an optional integer setting into @dst, range-checked. */
#define GET_UINT(pc, g, name, min, max, dst) do {				\
	long long _v; bool _p;							\
	int _rc = cfg_get_int(pc, g, name, min, max, &_v, &_p);			\
	if (_rc)								\
		return _rc;							\
	if (_p)									\
		(dst) = (__typeof__(dst))_v;					\
} while (0)

/* config_bdev.c */
int cfg_parse_bdev(struct cfg_parse_ctx *pc, const config_setting_t *g,
		   struct cfg_bdev *b);
int cfg_parse_hbd_pool(struct cfg_parse_ctx *pc, const config_setting_t *g,
		       struct cfg_hbd_pool *p);
int cfg_check_hbd_refs(struct cfg_parse_ctx *pc);

#endif
