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

/* ---------------------------------------------------------------- reactors */

static int parse_reactors(struct cfg_parse_ctx *pc, const config_setting_t *g)
{
	static const struct key_spec keys[] = {
		{ "count", K_INT }, { "cpus", K_STR }, { "pin", K_BOOL },
		{ "wait_mode", K_STR }, { "engine", K_STR },
		{ "idle_spin_us", K_INT },
	};
	struct nvmft_config *cfg = pc->cfg;
	const char *s;
	long long v;
	int rc;

	rc = cfg_check_keys(pc, g, keys, sizeof(keys) / sizeof(keys[0]));
	if (rc)
		return rc;
	GET_UINT(pc, g, "count", 0, 1024, cfg->nr_reactors);
	/* 0 is a value (sleep at once in adaptive mode): presence is kept. */
	rc = cfg_get_int(pc, g, "idle_spin_us", 0, NVMFT_IDLE_SPIN_US_MAX, &v,
			 &cfg->has_idle_spin_us);
	if (rc)
		return rc;
	if (cfg->has_idle_spin_us)
		cfg->idle_spin_us = (unsigned int)v;
	cfg_get_bool(g, "pin", &cfg->pin);
	s = cfg_get_str(g, "cpus");
	if (s) {
		uint64_t mask[16];

		if (nvmft_parse_cpu_list(s, mask) <= 0)
			return cfg_err(pc, config_setting_get_member(g, "cpus"),
				    "reactors.cpus: \"%s\" is not a CPU list (e.g. \"0-3,6\")", s);
		cfg->cpus = strdup(s);
		if (!cfg->cpus)
			return -ENOMEM;
	}
	s = cfg_get_str(g, "wait_mode");
	if (s) {
		if (!strcmp(s, "adaptive"))
			cfg->wait_mode = NVMFT_WAIT_ADAPTIVE;
		else if (!strcmp(s, "poll"))
			cfg->wait_mode = NVMFT_WAIT_POLL;
		else if (!strcmp(s, "interrupt"))
			cfg->wait_mode = NVMFT_WAIT_INTERRUPT;
		else
			return cfg_err(pc, config_setting_get_member(g, "wait_mode"),
				    "reactors.wait_mode: \"%s\" is not one of adaptive, poll, interrupt", s);
	}
	s = cfg_get_str(g, "engine");
	if (s) {
		if (!strcmp(s, "auto"))
			cfg->engine = NVMFT_ENGINE_AUTO;
		else if (!strcmp(s, "uring") || !strcmp(s, "io_uring"))
			cfg->engine = NVMFT_ENGINE_URING;
		else if (!strcmp(s, "epoll"))
			cfg->engine = NVMFT_ENGINE_EPOLL;
		else
			return cfg_err(pc, config_setting_get_member(g, "engine"),
				    "reactors.engine: \"%s\" is not one of auto, uring, epoll", s);
	}
	return 0;
}

static int parse_log_level(struct cfg_parse_ctx *pc, const config_setting_t *s)
{
	static const struct { const char *n; enum nvmft_log_level l; } levels[] = {
		{ "error", NVMFT_LOG_ERR }, { "warning", NVMFT_LOG_WARN },
		{ "notice", NVMFT_LOG_NOTICE }, { "info", NVMFT_LOG_INFO },
		{ "debug", NVMFT_LOG_DEBUG },
	};
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return cfg_err(pc, s, "log_level: must be a string");
	v = config_setting_get_string(s);
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (!strcasecmp(v, levels[i].n)) {
			pc->cfg->log_level = levels[i].l;
			return 0;
		}
	}
	return cfg_err(pc, s, "log_level: \"%s\" is not one of error, warning, notice, info, debug", v);
}

/* -------------------------------------------------------------- transports */

static int parse_transport(struct cfg_parse_ctx *pc, const config_setting_t *g,
			   struct cfg_transport *t)
{
	static const struct key_spec keys[] = {
		{ "type", K_STR }, { "max_queue_depth", K_INT },
		{ "max_aq_depth", K_INT }, { "max_qpairs_per_ctrlr", K_INT },
		{ "in_capsule_data_size", K_SIZE }, { "max_io_size", K_SIZE },
		{ "io_unit_size", K_SIZE }, { "num_shared_buffers", K_INT },
		{ "max_r2t", K_INT }, { "c2h_success", K_BOOL },
		{ "icreq_timeout_ms", K_INT }, { "backlog", K_INT },
		{ "zcopy_threshold", K_SIZE }, { "max_conn_buf_share_pct", K_INT },
	};
	const struct { const char *name; uint32_t *dst; } sizes[] = {
		{ "in_capsule_data_size", &t->opts.in_capsule_data_size },
		{ "max_io_size", &t->opts.max_io_size },
		{ "io_unit_size", &t->opts.io_unit_size },
		{ "zcopy_threshold", &t->opts.zcopy_threshold },
	};
	const char *type;
	int rc;

	rc = cfg_check_keys(pc, g, keys, sizeof(keys) / sizeof(keys[0]));
	if (rc)
		return rc;
	t->line = config_setting_source_line(g);
	type = cfg_get_str(g, "type");
	if (!type)
		type = "TCP";
	if (strlen(type) >= sizeof(t->type) ||
	    nvmft_transport_opts_init(type, &t->opts) != 0)
		return cfg_err(pc, g, "transports: type \"%s\" is not supported (TCP)", type);
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
	GET_UINT(pc, g, "max_conn_buf_share_pct", 1, 100, t->opts.max_conn_buf_share_pct);
	cfg_get_bool(g, "c2h_success", &t->opts.c2h_success);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		const config_setting_t *s = config_setting_get_member(g, sizes[i].name);
		uint64_t v;

		if (!s)
			continue;
		rc = cfg_get_size(pc, s, &v);
		if (rc)
			return rc;
		if (v > UINT32_MAX)
			return cfg_err(pc, s, "transports.%s: %" PRIu64 " is too large",
				    sizes[i].name, v);
		*sizes[i].dst = (uint32_t)v;
	}
	return 0;
}

/* -------------------------------------------------------------- listeners */

/* trtype, adrfam, traddr, trsvcid (@def_port when absent, or required
 * when NULL) of group @g, whose keys were checked. */
static int parse_addr(struct cfg_parse_ctx *pc, const config_setting_t *g,
		      const char *def_port, struct nvmft_listen_addr *addr)
{
	const char *traddr, *trsvcid, *trtype, *adrfam;
	char path[256];

	cfg_setting_path(g, path, sizeof(path));
	traddr = cfg_get_str(g, "traddr");
	trsvcid = cfg_get_str(g, "trsvcid");
	trtype = cfg_get_str(g, "trtype");
	adrfam = cfg_get_str(g, "adrfam");
	if (!traddr)
		return cfg_err(pc, g, "%s: \"traddr\" is required", path);
	if (!trsvcid && !def_port)
		return cfg_err(pc, g, "%s: \"trsvcid\" is required", path);
	if (!trsvcid)
		trsvcid = def_port;
	if (nvmft_listen_addr_init(addr, traddr, trsvcid) != 0)
		return cfg_err(pc, g, "%s: \"%s\" port \"%s\" is not a valid address and port",
			    path, traddr, trsvcid);
	if (trtype && strcasecmp(trtype, "TCP"))
		return cfg_err(pc, g, "%s: trtype \"%s\" is not supported (TCP)", path, trtype);
	if (adrfam) {
		if (strcasecmp(adrfam, "IPv4") && strcasecmp(adrfam, "IPv6"))
			return cfg_err(pc, g, "%s: adrfam \"%s\" is not IPv4 or IPv6", path, adrfam);
		if (strcasecmp(adrfam, addr->adrfam))
			return cfg_err(pc, g, "%s: adrfam \"%s\" does not match traddr \"%s\"",
				    path, adrfam, traddr);
	}
	return 0;
}

static int parse_listener(struct cfg_parse_ctx *pc, const config_setting_t *g,
			  struct cfg_listener *l)
{
	static const struct key_spec keys[] = {
		{ "trtype", K_STR }, { "adrfam", K_STR }, { "traddr", K_STR },
		{ "trsvcid", K_STR }, { "max_connections", K_INT },
	};
	int rc;

	rc = cfg_check_keys(pc, g, keys, sizeof(keys) / sizeof(keys[0]));
	if (rc)
		return rc;
	l->line = config_setting_source_line(g);
	nvmft_listen_opts_init(&l->opts);
	/* 0: no limit of the listener's own (the target's still applies) */
	GET_UINT(pc, g, "max_connections", 0, NVMFT_MAX_CONNECTIONS_LIMIT,
		 l->opts.max_connections);
	return parse_addr(pc, g, "4420", &l->addr);
}

/* -------------------------------------------------------------- target */

/* target = { max_connections = N; max_subsystems = N; }: the options the
 * target is created with (nvmft_config_tgt_opts()). */
static int parse_target(struct cfg_parse_ctx *pc, const config_setting_t *g)
{
	static const struct key_spec keys[] = {
		{ "max_connections", K_INT }, { "max_subsystems", K_INT },
	};
	struct cfg_target *t = &pc->cfg->target;
	long long v;
	bool present;
	int rc;

	rc = cfg_check_keys(pc, g, keys, sizeof(keys) / sizeof(keys[0]));
	if (rc)
		return rc;
	t->line = config_setting_source_line(g);
	rc = cfg_get_int(pc, g, "max_connections", 1, NVMFT_MAX_CONNECTIONS_LIMIT,
			 &v, &present);
	if (rc)
		return rc;
	if (present) {
		t->has_max_connections = true;
		t->max_connections = (uint32_t)v;
	}
	rc = cfg_get_int(pc, g, "max_subsystems", 1, 65535, &v, &present);
	if (rc)
		return rc;
	if (present) {
		t->has_max_subsystems = true;
		t->max_subsystems = (uint32_t)v;
	}
	return 0;
}

/* discovery.referrals: { traddr; trsvcid; [adrfam; trtype; subnqn;
 * secure_channel;] } — trsvcid required: a referral has no default port. */
static int parse_referral(struct cfg_parse_ctx *pc, const config_setting_t *g,
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

	rc = cfg_check_keys(pc, g, keys, sizeof(keys) / sizeof(keys[0]));
	if (rc)
		return rc;
	cfg_setting_path(g, path, sizeof(path));
	r->line = config_setting_source_line(g);
	rc = parse_addr(pc, g, NULL, &r->ref.addr);
	if (rc)
		return rc;
	if (!strcmp(r->ref.addr.trsvcid, "0"))
		return cfg_err(pc, g, "%s: trsvcid 0 is not a port to refer hosts to", path);
	nqn = cfg_get_str(g, "subnqn");
	if (nqn && *nqn && (strlen(nqn) >= sizeof(r->ref.subnqn) || !nvmft_nqn_valid(nqn)))
		return cfg_err(pc, config_setting_get_member(g, "subnqn"),
			    "%s: subnqn \"%s\" is not a valid NQN", path, nqn);
	snprintf(r->ref.subnqn, sizeof(r->ref.subnqn), "%s",
		 nqn && *nqn ? nqn : NVMFT_DISCOVERY_NQN);
	cfg_get_bool(g, "secure_channel", &r->ref.secure_channel);
	for (const struct cfg_referral *o = pc->cfg->referrals; o < r; o++)
		if (!strcmp(o->ref.addr.traddr, r->ref.addr.traddr) &&
		    !strcmp(o->ref.addr.trsvcid, r->ref.addr.trsvcid) &&
		    !strcmp(o->ref.subnqn, r->ref.subnqn))
			return cfg_err(pc, g, "referral %s:%s %s is given twice",
				    r->ref.addr.traddr, r->ref.addr.trsvcid, r->ref.subnqn);
	return 0;
}

static int parse_listeners(struct cfg_parse_ctx *pc, const config_setting_t *list,
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
			return cfg_err(pc, e, "listeners: each entry must be a group { traddr = ...; trsvcid = ...; }");
		rc = parse_listener(pc, e, &(*out)[i]);
		if (rc)
			return rc;
		for (unsigned int j = 0; j < i; j++)
			if (!strcmp((*out)[j].addr.traddr, (*out)[i].addr.traddr) &&
			    !strcmp((*out)[j].addr.trsvcid, (*out)[i].addr.trsvcid))
				return cfg_err(pc, e, "listener %s:%s is given twice",
					    (*out)[i].addr.traddr, (*out)[i].addr.trsvcid);
		*nr = i + 1;
	}
	return 0;
}

/* -------------------------------------------------------------- subsystems */

static int parse_ns(struct cfg_parse_ctx *pc, const config_setting_t *g,
		    struct cfg_subsystem *ss, struct cfg_ns *ns)
{
	static const struct key_spec keys[] = {
		{ "bdev", K_STR }, { "nsid", K_INT }, { "uuid", K_STR },
		{ "nguid", K_STR },
	};
	const char *bdev;
	int rc;

	rc = cfg_check_keys(pc, g, keys, sizeof(keys) / sizeof(keys[0]));
	if (rc)
		return rc;
	ns->line = config_setting_source_line(g);
	bdev = cfg_get_str(g, "bdev");
	if (!bdev)
		return cfg_err(pc, g, "subsystem %s: namespace: \"bdev\" is required", ss->nqn);
	GET_UINT(pc, g, "nsid", 1, 0xfffffffe, ns->nsid);
	rc = cfg_get_uuid(pc, g, "uuid", ns->uuid, &ns->has_uuid);
	if (!rc)
		rc = cfg_get_uuid(pc, g, "nguid", ns->nguid, &ns->has_nguid);
	if (rc)
		return rc;
	ns->bdev = strdup(bdev);
	return ns->bdev ? 0 : -ENOMEM;
}

static int parse_subsystem(struct cfg_parse_ctx *pc, const config_setting_t *g,
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

	rc = cfg_check_keys(pc, g, keys, sizeof(keys) / sizeof(keys[0]));
	if (rc)
		return rc;
	ss->line = config_setting_source_line(g);
	nqn = cfg_get_str(g, "nqn");
	if (!nqn)
		return cfg_err(pc, g, "subsystems: \"nqn\" is required");
	if (!nvmft_nqn_valid(nqn) || !strcmp(nqn, NVMFT_DISCOVERY_NQN))
		return cfg_err(pc, config_setting_get_member(g, "nqn"),
			    "subsystems: nqn \"%s\" is not a valid subsystem NQN", nqn);
	ss->nqn = strdup(nqn);
	if (!ss->nqn)
		return -ENOMEM;
	s = cfg_get_str(g, "serial");
	if (s) {
		if (strlen(s) > NVMFT_SERIAL_MAX_LEN || !*s)
			return cfg_err(pc, config_setting_get_member(g, "serial"),
				    "subsystem %s: serial \"%s\" must be 1 to %d characters",
				    nqn, s, NVMFT_SERIAL_MAX_LEN);
		for (const char *p = s; *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				return cfg_err(pc, config_setting_get_member(g, "serial"),
					    "subsystem %s: serial must be printable ASCII", nqn);
		ss->serial = strdup(s);
	}
	s = cfg_get_str(g, "model");
	if (s) {
		if (strlen(s) > NVMFT_MODEL_MAX_LEN || !*s)
			return cfg_err(pc, config_setting_get_member(g, "model"),
				    "subsystem %s: model \"%s\" must be 1 to %d characters",
				    nqn, s, NVMFT_MODEL_MAX_LEN);
		for (const char *p = s; *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				return cfg_err(pc, config_setting_get_member(g, "model"),
					    "subsystem %s: model must be printable ASCII", nqn);
		ss->model = strdup(s);
	}
	cfg_get_bool(g, "allow_any_host", &ss->allow_any_host);
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
				return cfg_err(pc, e, "subsystem %s: host \"%s\" is not a valid NQN",
					    nqn, h ? h : "(not a string)");
			for (unsigned int j = 0; j < i; j++)
				if (!strcmp(ss->hosts[j], h))
					return cfg_err(pc, e, "subsystem %s: host \"%s\" is given twice", nqn, h);
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
				return cfg_err(pc, e, "subsystem %s: each namespace must be a group { bdev = ...; }", nqn);
			rc = parse_ns(pc, e, ss, &ss->ns[i]);
			if (rc)
				return rc;
			ss->nr_ns = i + 1;
			for (unsigned int j = 0; j < i; j++) {
				if (ss->ns[i].nsid && ss->ns[j].nsid == ss->ns[i].nsid)
					return cfg_err(pc, e, "subsystem %s: nsid %u is given twice",
						    nqn, ss->ns[i].nsid);
				if (!strcmp(ss->ns[j].bdev, ss->ns[i].bdev))
					return cfg_err(pc, e, "subsystem %s: bdev \"%s\" is used twice",
						    nqn, ss->ns[i].bdev);
			}
			if (ss->max_namespaces && ss->ns[i].nsid > ss->max_namespaces)
				return cfg_err(pc, e, "subsystem %s: nsid %u is above max_namespaces %u",
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

typedef int (*parse_elem_fn)(struct cfg_parse_ctx *pc, const config_setting_t *e,
			     void *elem);

static int parse_list(struct cfg_parse_ctx *pc, const config_setting_t *list,
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
			cfg_setting_path(e, path, sizeof(path));
			return cfg_err(pc, e, "%s: must be a group { ... }", path);
		}
		rc = fn(pc, e, arr + i * elem_size);
		*nr = i + 1;
		if (rc)
			return rc;
	}
	return 0;
}

static int parse_transport_elem(struct cfg_parse_ctx *pc, const config_setting_t *e,
				void *elem)
{
	return parse_transport(pc, e, elem);
}

static int parse_hbd_pool_elem(struct cfg_parse_ctx *pc, const config_setting_t *e,
			       void *elem)
{
	return cfg_parse_hbd_pool(pc, e, elem);
}

static int parse_bdev_elem(struct cfg_parse_ctx *pc, const config_setting_t *e,
			   void *elem)
{
	return cfg_parse_bdev(pc, e, elem);
}

static int parse_subsystem_elem(struct cfg_parse_ctx *pc, const config_setting_t *e,
				void *elem)
{
	return parse_subsystem(pc, e, elem);
}

/* Cross-references: unique names/NQNs, namespaces name existing bdevs. */
static int check_refs(struct cfg_parse_ctx *pc)
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
	if (cfg_check_hbd_refs(pc))
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

static int parse_root(struct cfg_parse_ctx *pc, config_t *lc)
{
	static const struct key_spec keys[] = {
		{ "reactors", K_GROUP }, { "log_level", K_STR },
		{ "transports", K_LIST }, { "bdevs", K_LIST },
		{ "subsystems", K_LIST }, { "discovery", K_GROUP },
		{ "hbd_pools", K_LIST }, { "target", K_GROUP },
	};
	const config_setting_t *root = config_root_setting(lc);
	const config_setting_t *s;
	struct nvmft_config *cfg = pc->cfg;
	int rc;

	rc = cfg_check_keys(pc, root, keys, sizeof(keys) / sizeof(keys[0]));
	if (rc)
		return rc;
	s = config_setting_get_member(root, "reactors");
	if (s && (rc = parse_reactors(pc, s)))
		return rc;
	s = config_setting_get_member(root, "log_level");
	if (s && (rc = parse_log_level(pc, s)))
		return rc;
	s = config_setting_get_member(root, "target");
	if (s && (rc = parse_target(pc, s)))
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

		rc = cfg_check_keys(pc, s, dkeys, sizeof(dkeys) / sizeof(dkeys[0]));
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
	struct cfg_parse_ctx pc = { .file = name, .err = err, .errlen = errlen };
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
	if (cfg->has_idle_spin_us)
		opts->idle_spin_us = cfg->idle_spin_us;
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
