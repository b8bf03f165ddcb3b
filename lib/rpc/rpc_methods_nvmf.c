// SPDX-License-Identifier: MIT
/*
 * NVMe-oF configuration methods, with SPDK's names and parameters:
 * transports, subsystems, their hosts, listeners and namespaces.
 *
 * Parameters SPDK knows and we do not implement are accepted when they
 * ask for nothing (scripts/rpc.py sends some with default values) and
 * refused when they ask for something we cannot do (a PSK, EUI-64...):
 * a request is never half-honoured in silence.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nvmf/nvmf_info.h"
#include "rpc/rpc_internal.h"

static struct nvmft_tgt *req_tgt(struct nvmft_rpc_request *req)
{
	return nvmft_rpc_server_tgt(nvmft_rpc_request_server(req));
}

/* The subsystem @nqn, or NULL after answering @req. */
static struct nvmft_subsystem *find_ss(struct nvmft_rpc_request *req, const char *nqn)
{
	struct nvmft_subsystem *ss = nvmft_subsystem_find(req_tgt(req), nqn);

	if (!ss)
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: %s: subsystem \"%.230s\" does not exist",
				nvmft_rpc_request_method(req), nqn);
	return ss;
}

/* ---- transports ------------------------------------------------------------ */

struct transport_params {
	const char *trtype;
	struct nvmft_transport_opts o;
	uint16_t max_io_qpairs_per_ctrlr;
	bool has_io_qpairs;
	uint32_t acceptor_backlog;
	bool has_acceptor_backlog;
	bool dif_insert_or_strip;
};

static void nvmf_create_transport(struct nvmft_rpc_request *req,
				  struct json_object *params, void *ctx)
{
#define TP(name, type, field) RPC_OPT(name, type, struct transport_params, o.field)
	static const struct nvmft_rpc_param spec[] = {
		RPC_REQ("trtype", NVMFT_RPC_STRING, struct transport_params, trtype),
		TP("max_queue_depth", NVMFT_RPC_U16, max_queue_depth),
		TP("max_aq_depth", NVMFT_RPC_U16, max_aq_depth),
		TP("max_qpairs_per_ctrlr", NVMFT_RPC_U16, max_qpairs_per_ctrlr),
		RPC_OPT_P("max_io_qpairs_per_ctrlr", NVMFT_RPC_U16,
			  struct transport_params, max_io_qpairs_per_ctrlr, has_io_qpairs),
		TP("in_capsule_data_size", NVMFT_RPC_U32, in_capsule_data_size),
		TP("max_io_size", NVMFT_RPC_U32, max_io_size),
		TP("io_unit_size", NVMFT_RPC_U32, io_unit_size),
		TP("num_shared_buffers", NVMFT_RPC_U32, num_shared_buffers),
		TP("max_r2t", NVMFT_RPC_U32, max_r2t),
		TP("c2h_success", NVMFT_RPC_BOOL, c2h_success),
		TP("icreq_timeout_ms", NVMFT_RPC_U32, icreq_timeout_ms),
		TP("backlog", NVMFT_RPC_U32, backlog),
		TP("zcopy_threshold", NVMFT_RPC_U32, zcopy_threshold),
		TP("max_conn_buf_share_pct", NVMFT_RPC_U32, max_conn_buf_share_pct),
		RPC_OPT_P("acceptor_backlog", NVMFT_RPC_U32, struct transport_params,
			  acceptor_backlog, has_acceptor_backlog),
		RPC_OPT("dif_insert_or_strip", NVMFT_RPC_BOOL, struct transport_params,
			dif_insert_or_strip),
		/* SPDK tuning knobs of other transports or of its own buffer
		 * management: nothing to do here. */
		RPC_IGNORE("tgt_name"), RPC_IGNORE("buf_cache_size"),
		RPC_IGNORE("num_cqe"), RPC_IGNORE("max_srq_depth"),
		RPC_IGNORE("no_srq"), RPC_IGNORE("sock_priority"),
		RPC_IGNORE("abort_timeout_sec"), RPC_IGNORE("no_wr_batching"),
		RPC_IGNORE("control_msg_num"), RPC_IGNORE("disable_mappable_bar0"),
		RPC_IGNORE("zcopy"), RPC_IGNORE("ack_timeout"),
		RPC_IGNORE("data_wr_pool_size"), RPC_IGNORE("disable_adaptive_irq"),
	};
#undef TP
	struct nvmft_tgt *tgt = req_tgt(req);
	struct transport_params p = { 0 };
	struct nvmft_transport_opts def;
	struct rpc_async *a;
	char type[16];
	const char *bad = NULL;
	int rc;

	/* Defaults first: decoding overwrites what was given. */
	nvmft_transport_opts_init("TCP", &p.o);
	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), &p))
		return;
	if (strlen(p.trtype) >= sizeof(type) ||
	    nvmft_transport_opts_init(p.trtype, &def)) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.trtype: \"%.40s\" is not "
				"supported (TCP)", p.trtype);
		return;
	}
	snprintf(type, sizeof(type), "%s", p.trtype);
	for (char *c = type; *c; c++)
		*c = (char)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
	if (p.has_io_qpairs) {
		if (p.max_io_qpairs_per_ctrlr == 0 || p.max_io_qpairs_per_ctrlr == 65535)
			bad = "max_io_qpairs_per_ctrlr (1 to 65534)";
		else
			p.o.max_qpairs_per_ctrlr = (uint16_t)(p.max_io_qpairs_per_ctrlr + 1);
	}
	if (p.has_acceptor_backlog)
		p.o.backlog = p.acceptor_backlog;
	if (p.dif_insert_or_strip)
		bad = "dif_insert_or_strip (protection information is not supported)";
	else if (p.o.max_queue_depth < 2)
		bad = "max_queue_depth (at least 2)";
	else if (p.o.max_aq_depth < 2)
		bad = "max_aq_depth (at least 2)";
	else if (p.o.max_qpairs_per_ctrlr < 2)
		bad = "max_qpairs_per_ctrlr (at least 2: admin + one I/O queue)";
	else if (!p.o.num_shared_buffers || !p.o.max_r2t || !p.o.icreq_timeout_ms ||
		 !p.o.backlog)
		bad = "num_shared_buffers, max_r2t, icreq_timeout_ms and backlog "
		      "(at least 1)";
	else if (p.o.max_conn_buf_share_pct < 1 || p.o.max_conn_buf_share_pct > 100)
		bad = "max_conn_buf_share_pct (1 to 100)";
	if (bad) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.%s", bad);
		return;
	}
	a = rpc_async_new(req, NULL, "nvmf_create_transport: %s", type);
	if (!a) {
		nvmft_rpc_error_errno(req, -ENOMEM, "nvmf_create_transport");
		return;
	}
	rc = nvmft_tgt_add_transport(tgt, type, &p.o, rpc_async_done, a);
	if (rc) {
		free(a);
		if (rc == -EEXIST)
			nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
					"Invalid params: nvmf_create_transport: a %s "
					"transport already exists", type);
		else if (rc == -EINVAL)
			nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
					"Invalid params: nvmf_create_transport: %s: an "
					"option is out of range (the target's log names "
					"it and its limits)", type);
		else
			nvmft_rpc_error_errno(req, rc, "nvmf_create_transport: %s", type);
	}
}

struct get_transports_params {
	const char *trtype;
};

static int transport_json(const char *trtype, const struct nvmft_transport_opts *o,
			  void *arg)
{
	struct json_object *a = arg, *t = json_object_new_object();

	json_object_object_add(t, "trtype", json_object_new_string(trtype));
	json_object_object_add(t, "max_queue_depth", json_object_new_int(o->max_queue_depth));
	json_object_object_add(t, "max_io_qpairs_per_ctrlr",
			       json_object_new_int(o->max_qpairs_per_ctrlr - 1));
	json_object_object_add(t, "max_qpairs_per_ctrlr",
			       json_object_new_int(o->max_qpairs_per_ctrlr));
	json_object_object_add(t, "in_capsule_data_size",
			       json_object_new_int64(o->in_capsule_data_size));
	json_object_object_add(t, "max_io_size", json_object_new_int64(o->max_io_size));
	json_object_object_add(t, "io_unit_size", json_object_new_int64(o->io_unit_size));
	json_object_object_add(t, "max_aq_depth", json_object_new_int(o->max_aq_depth));
	json_object_object_add(t, "num_shared_buffers",
			       json_object_new_int64(o->num_shared_buffers));
	json_object_object_add(t, "max_r2t", json_object_new_int64(o->max_r2t));
	json_object_object_add(t, "c2h_success", json_object_new_boolean(o->c2h_success));
	json_object_object_add(t, "icreq_timeout_ms",
			       json_object_new_int64(o->icreq_timeout_ms));
	json_object_object_add(t, "backlog", json_object_new_int64(o->backlog));
	json_object_object_add(t, "zcopy_threshold",
			       json_object_new_int64(o->zcopy_threshold));
	json_object_object_add(t, "max_conn_buf_share_pct",
			       json_object_new_int64(o->max_conn_buf_share_pct));
	json_object_array_add(a, t);
	return 0;
}

static void nvmf_get_transports(struct nvmft_rpc_request *req,
				struct json_object *params, void *ctx)
{
	static const struct nvmft_rpc_param spec[] = {
		RPC_OPT("trtype", NVMFT_RPC_STRING, struct get_transports_params, trtype),
		RPC_IGNORE("tgt_name"),
	};
	struct get_transports_params p = { 0 };
	struct nvmft_transport_opts o;
	struct json_object *a;

	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), &p))
		return;
	a = json_object_new_array();
	if (!p.trtype) {
		nvmf_info_foreach_transport(req_tgt(req), transport_json, a);
	} else if (nvmft_tgt_get_transport_opts(req_tgt(req), p.trtype, &o) == 0) {
		transport_json("TCP", &o, a);
	} else {
		json_object_put(a);
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: nvmf_get_transports: no %.40s transport",
				p.trtype);
		return;
	}
	nvmft_rpc_reply(req, a);
}

/* ---- subsystems -------------------------------------------------------------- */

struct create_ss_params {
	const char *nqn;
	const char *serial_number;
	const char *model_number;
	bool allow_any_host;
	uint32_t max_namespaces;
	uint16_t min_cntlid;
	uint16_t max_cntlid;
	bool ana_reporting;
};

struct create_ss {
	struct nvmft_rpc_request *req;
	struct nvmft_subsystem *ss;
	char nqn[NVMFT_NQN_MAX_LEN + 1];
};

static void create_ss_destroyed(void *arg, int rc)
{
	struct create_ss *c = arg;

	free(c);
}

static void create_ss_started(void *arg, int rc)
{
	struct create_ss *c = arg;

	if (!rc) {
		nvmft_rpc_reply_bool(c->req, true);
		free(c);
		return;
	}
	nvmft_rpc_error_errno(c->req, rc, "nvmf_create_subsystem: %s: start", c->nqn);
	/* Do not leave a subsystem nobody asked for in that state. */
	if (nvmft_subsystem_destroy(c->ss, create_ss_destroyed, c))
		free(c);
}

static void nvmf_create_subsystem(struct nvmft_rpc_request *req,
				  struct json_object *params, void *ctx)
{
	static const struct nvmft_rpc_param spec[] = {
		RPC_REQ("nqn", NVMFT_RPC_STRING, struct create_ss_params, nqn),
		RPC_OPT("serial_number", NVMFT_RPC_STRING, struct create_ss_params,
			serial_number),
		RPC_OPT("model_number", NVMFT_RPC_STRING, struct create_ss_params,
			model_number),
		RPC_OPT("allow_any_host", NVMFT_RPC_BOOL, struct create_ss_params,
			allow_any_host),
		RPC_OPT("max_namespaces", NVMFT_RPC_U32, struct create_ss_params,
			max_namespaces),
		RPC_OPT("min_cntlid", NVMFT_RPC_U16, struct create_ss_params, min_cntlid),
		RPC_OPT("max_cntlid", NVMFT_RPC_U16, struct create_ss_params, max_cntlid),
		RPC_OPT("ana_reporting", NVMFT_RPC_BOOL, struct create_ss_params,
			ana_reporting),
		RPC_IGNORE("tgt_name"),
	};
	struct nvmft_subsystem_opts o;
	struct create_ss_params p = { 0 };
	struct nvmft_subsystem *ss;
	struct create_ss *c;
	int rc;

	nvmft_subsystem_opts_init(&o);
	p.min_cntlid = o.min_cntlid;
	p.max_cntlid = o.max_cntlid;
	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), &p))
		return;
	if (!nvmft_nqn_valid(p.nqn) || !strcmp(p.nqn, NVMFT_DISCOVERY_NQN)) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.nqn: \"%.230s\" is not a valid "
				"subsystem NQN", p.nqn);
		return;
	}
	if (p.min_cntlid != 1 || p.max_cntlid != 0xffef) {
		/* The configuration file cannot say it: save_config would
		 * lose it. */
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.min_cntlid/max_cntlid: only "
				"the default range 1-65519 is supported");
		return;
	}
	if (p.ana_reporting) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.ana_reporting: not supported");
		return;
	}
	o.nqn = p.nqn;
	o.serial = p.serial_number;
	o.model = p.model_number;
	o.allow_any_host = p.allow_any_host;
	/* SPDK: 0 = no limit; ours has one, its default. */
	if (p.max_namespaces)
		o.max_namespaces = p.max_namespaces;
	c = calloc(1, sizeof(*c));
	if (!c) {
		nvmft_rpc_error_errno(req, -ENOMEM, "nvmf_create_subsystem");
		return;
	}
	rc = nvmft_subsystem_create(req_tgt(req), &o, &ss);
	if (rc) {
		free(c);
		if (rc == -EEXIST)
			nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
					"Invalid params: nvmf_create_subsystem: "
					"subsystem \"%.230s\" already exists", p.nqn);
		else if (rc == -EINVAL)
			nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
					"Invalid params: nvmf_create_subsystem: %.230s: "
					"serial_number (1-20 printable ASCII), "
					"model_number (1-40) or max_namespaces (1-65536) "
					"out of range", p.nqn);
		else
			nvmft_rpc_error_errno(req, rc, "nvmf_create_subsystem: %s", p.nqn);
		return;
	}
	c->req = req;
	c->ss = ss;
	snprintf(c->nqn, sizeof(c->nqn), "%s", p.nqn);
	/* SPDK's subsystems are active once created: start at once. */
	rc = nvmft_subsystem_start(ss, create_ss_started, c);
	if (rc)
		create_ss_started(c, rc);
}

struct nqn_params {
	const char *nqn;
};

static void nvmf_delete_subsystem(struct nvmft_rpc_request *req,
				  struct json_object *params, void *ctx)
{
	static const struct nvmft_rpc_param spec[] = {
		RPC_REQ("nqn", NVMFT_RPC_STRING, struct nqn_params, nqn),
		RPC_IGNORE("tgt_name"),
	};
	struct nqn_params p = { 0 };
	struct nvmft_subsystem *ss;
	struct rpc_async *a;
	int rc;

	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), &p))
		return;
	ss = find_ss(req, p.nqn);
	if (!ss)
		return;
	if (nvmft_subsystem_is_discovery(ss)) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: the discovery subsystem cannot be deleted");
		return;
	}
	a = rpc_async_new(req, NULL, "nvmf_delete_subsystem: %s", p.nqn);
	if (!a) {
		nvmft_rpc_error_errno(req, -ENOMEM, "nvmf_delete_subsystem");
		return;
	}
	rc = nvmft_subsystem_destroy(ss, rpc_async_done, a);
	if (rc) {
		free(a);
		nvmft_rpc_error_errno(req, rc, "nvmf_delete_subsystem: %s", p.nqn);
	}
}

/* ---- listing ----------------------------------------------------------------- */

struct ss_json {
	struct nvmft_tgt *tgt;
	struct json_object *a;
	const char *only;	/* nqn filter */
	bool found;
};

static int host_json(const char *hostnqn, void *arg)
{
	struct json_object *h = json_object_new_object();

	json_object_object_add(h, "nqn", json_object_new_string(hostnqn));
	json_object_array_add(arg, h);
	return 0;
}

struct listeners_json {
	struct nvmft_tgt *tgt;
	struct json_object *a;
};

static int listener_json(const struct nvmft_listen_addr *addr, void *arg)
{
	struct listeners_json *lj = arg;
	struct json_object *l = rpc_listen_addr_json(addr);
	struct nvmft_listener_info li;

	/* SPDK lists the transport under both names. */
	json_object_object_add(l, "transport", json_object_new_string(addr->trtype));
	/* Extras: the address's own limit and counters (shared by every
	 * subsystem listening there). */
	if (nvmft_tgt_get_listener_info(lj->tgt, addr, &li) == 0) {
		json_object_object_add(l, "max_connections",
				       json_object_new_int64(li.max_connections));
		json_object_object_add(l, "connections",
				       json_object_new_int64(li.nr_connections));
		json_object_object_add(l, "refused_connections",
				       json_object_new_uint64(li.refused_connections));
	}
	json_object_array_add(lj->a, l);
	return 0;
}

static int tgt_listener_json(const struct nvmft_listen_addr *addr, bool explicit,
			     void *arg)
{
	return explicit ? listener_json(addr, arg) : 0;
}

static int ns_json(const struct nvmf_info_ns *ns, void *arg)
{
	struct json_object *n;
	char uuid[37], nguid[33];

	if (ns->removing)
		return 0;
	n = json_object_new_object();
	rpc_format_uuid(ns->uuid, uuid);
	rpc_format_nguid(ns->nguid, nguid);
	json_object_object_add(n, "nsid", json_object_new_int64(ns->nsid));
	json_object_object_add(n, "bdev_name", json_object_new_string(ns->bdev_name));
	json_object_object_add(n, "name", json_object_new_string(ns->bdev_name));
	json_object_object_add(n, "nguid", json_object_new_string(nguid));
	json_object_object_add(n, "uuid", json_object_new_string(uuid));
	json_object_object_add(n, "anagrpid", json_object_new_int64(ns->anagrpid));
	json_object_array_add(arg, n);
	return 0;
}

static int subsystem_json(struct nvmft_subsystem *ss, void *arg)
{
	struct ss_json *s = arg;
	struct nvmf_info_ss info;
	struct json_object *o, *l, *h, *n;
	struct listeners_json lj = { .tgt = s->tgt };

	nvmf_info_subsystem(ss, &info);
	if (s->only && strcmp(s->only, info.nqn))
		return 0;
	s->found = true;
	o = json_object_new_object();
	l = json_object_new_array();
	lj.a = l;
	h = json_object_new_array();
	json_object_object_add(o, "nqn", json_object_new_string(info.nqn));
	json_object_object_add(o, "subtype", json_object_new_string(
		info.discovery ? "Discovery" : "NVMe"));
	if (info.discovery)
		nvmf_info_foreach_tgt_listener(s->tgt, tgt_listener_json, &lj);
	else
		nvmf_info_foreach_listener(ss, listener_json, &lj);
	json_object_object_add(o, "listen_addresses", l);
	json_object_object_add(o, "allow_any_host",
			       json_object_new_boolean(info.allow_any_host));
	nvmf_info_foreach_host(ss, host_json, h);
	json_object_object_add(o, "hosts", h);
	if (!info.discovery) {
		json_object_object_add(o, "serial_number", json_object_new_string(info.serial));
		json_object_object_add(o, "model_number", json_object_new_string(info.model));
		json_object_object_add(o, "max_namespaces",
				       json_object_new_int64(info.max_namespaces));
		json_object_object_add(o, "min_cntlid", json_object_new_int(info.min_cntlid));
		json_object_object_add(o, "max_cntlid", json_object_new_int(info.max_cntlid));
		json_object_object_add(o, "max_controllers",
				       json_object_new_int64(info.max_controllers));
		json_object_object_add(o, "ana_reporting", json_object_new_boolean(false));
		n = json_object_new_array();
		nvmf_info_foreach_ns(ss, ns_json, n);
		json_object_object_add(o, "namespaces", n);
	}
	json_object_object_add(o, "controllers", json_object_new_int64(info.nr_controllers));
	json_object_array_add(s->a, o);
	return 0;
}

static void nvmf_get_subsystems(struct nvmft_rpc_request *req,
				struct json_object *params, void *ctx)
{
	static const struct nvmft_rpc_param spec[] = {
		RPC_OPT("nqn", NVMFT_RPC_STRING, struct nqn_params, nqn),
		RPC_IGNORE("tgt_name"),
	};
	struct nqn_params p = { 0 };
	struct ss_json s = { .tgt = req_tgt(req) };

	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), &p))
		return;
	s.only = p.nqn;
	s.a = json_object_new_array();
	nvmft_subsystem_foreach(s.tgt, subsystem_json, &s);
	if (p.nqn && !s.found) {
		json_object_put(s.a);
		find_ss(req, p.nqn);
		return;
	}
	nvmft_rpc_reply(req, s.a);
}

/* ---- hosts ---------------------------------------------------------------------- */

struct host_params {
	const char *nqn;
	const char *host;
	const char *psk;
	const char *dhchap_key;
	const char *dhchap_ctrlr_key;
};

static void host_change(struct nvmft_rpc_request *req, struct json_object *params,
			bool add)
{
	static const struct nvmft_rpc_param spec[] = {
		RPC_REQ("nqn", NVMFT_RPC_STRING, struct host_params, nqn),
		RPC_REQ("host", NVMFT_RPC_STRING, struct host_params, host),
		RPC_OPT("psk", NVMFT_RPC_STRING, struct host_params, psk),
		RPC_OPT("dhchap_key", NVMFT_RPC_STRING, struct host_params, dhchap_key),
		RPC_OPT("dhchap_ctrlr_key", NVMFT_RPC_STRING, struct host_params,
			dhchap_ctrlr_key),
		RPC_IGNORE("tgt_name"),
	};
	const char *method = nvmft_rpc_request_method(req);
	struct host_params p = { 0 };
	struct nvmft_subsystem *ss;
	int rc;

	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), &p))
		return;
	if (p.psk || p.dhchap_key || p.dhchap_ctrlr_key) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: %s: psk and dhchap keys are not "
				"supported (no TLS, no in-band authentication)", method);
		return;
	}
	ss = find_ss(req, p.nqn);
	if (!ss)
		return;
	rc = add ? nvmft_subsystem_add_host(ss, p.host) :
		   nvmft_subsystem_remove_host(ss, p.host);
	if (rc == -EINVAL)
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.host: \"%.230s\" is not a "
				"valid NQN", p.host);
	else if (rc == -EEXIST || rc == -ENOENT)
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: %s: host \"%.230s\" %s subsystem %s",
				method, p.host, rc == -EEXIST ? "is already allowed by" :
				"is not allowed by", p.nqn);
	else if (rc)
		nvmft_rpc_error_errno(req, rc, "%s: %s: host %s", method, p.nqn, p.host);
	else
		nvmft_rpc_reply_bool(req, true);
}

static void nvmf_subsystem_add_host(struct nvmft_rpc_request *req,
				    struct json_object *params, void *ctx)
{
	host_change(req, params, true);
}

static void nvmf_subsystem_remove_host(struct nvmft_rpc_request *req,
				       struct json_object *params, void *ctx)
{
	host_change(req, params, false);
}

struct any_host_params {
	const char *nqn;
	bool allow_any_host;
};

static void nvmf_subsystem_allow_any_host(struct nvmft_rpc_request *req,
					  struct json_object *params, void *ctx)
{
	static const struct nvmft_rpc_param spec[] = {
		RPC_REQ("nqn", NVMFT_RPC_STRING, struct any_host_params, nqn),
		RPC_REQ("allow_any_host", NVMFT_RPC_BOOL, struct any_host_params,
			allow_any_host),
		RPC_IGNORE("tgt_name"),
	};
	struct any_host_params p = { 0 };
	struct nvmft_subsystem *ss;

	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), &p))
		return;
	ss = find_ss(req, p.nqn);
	if (!ss)
		return;
	nvmft_subsystem_set_allow_any_host(ss, p.allow_any_host);
	nvmft_rpc_reply_bool(req, true);
}

/* ---- listeners ------------------------------------------------------------------ */

struct listener_params {
	const char *nqn;
	struct json_object *listen_address;
	bool secure_channel;
	const char *ana_state;
	uint32_t max_connections;
};

static void listener_change(struct nvmft_rpc_request *req, struct json_object *params,
			    bool add)
{
	static const struct nvmft_rpc_param spec[] = {
		RPC_REQ("nqn", NVMFT_RPC_STRING, struct listener_params, nqn),
		RPC_REQ("listen_address", NVMFT_RPC_OBJECT, struct listener_params,
			listen_address),
		RPC_OPT("secure_channel", NVMFT_RPC_BOOL, struct listener_params,
			secure_channel),
		RPC_OPT("ana_state", NVMFT_RPC_STRING, struct listener_params, ana_state),
		/* ours: the address's connection limit (add only) */
		RPC_OPT("max_connections", NVMFT_RPC_U32, struct listener_params,
			max_connections),
		RPC_IGNORE("tgt_name"), RPC_IGNORE("sock_impl"),
	};
	struct nvmft_listen_opts lo;
	const char *method = nvmft_rpc_request_method(req);
	struct listener_params p = { 0 };
	struct nvmft_listen_addr addr;
	struct nvmft_subsystem *ss;
	int rc;

	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), &p))
		return;
	if (p.secure_channel) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.secure_channel: TLS is not "
				"supported");
		return;
	}
	if (p.ana_state && strcasecmp(p.ana_state, "optimized")) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.ana_state: \"%.40s\": only "
				"optimized is supported", p.ana_state);
		return;
	}
	if (p.max_connections > NVMFT_MAX_CONNECTIONS_LIMIT) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.max_connections: %u is out of "
				"range [0, %u]", p.max_connections,
				NVMFT_MAX_CONNECTIONS_LIMIT);
		return;
	}
	nvmft_listen_opts_init(&lo);
	lo.max_connections = p.max_connections;
	if (rpc_decode_listen_addr(req, p.listen_address, "params.listen_address", &addr))
		return;
	ss = find_ss(req, p.nqn);
	if (!ss)
		return;
	/* The discovery subsystem is reachable on every listener; listening
	 * "for it" is listening for the target as a whole. */
	if (nvmft_subsystem_is_discovery(ss))
		rc = add ? nvmft_tgt_listen_ext(req_tgt(req), &addr, &lo) :
			   nvmft_tgt_stop_listen(req_tgt(req), &addr);
	else
		rc = add ? nvmft_subsystem_add_listener_ext(ss, &addr, &lo) :
			   nvmft_subsystem_remove_listener(ss, &addr);
	if (rc == -EEXIST)
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: %s: %s already listens on %s:%s",
				method, p.nqn, addr.traddr, addr.trsvcid);
	else if (rc == -ENOENT && add)
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: %s: no %s transport: create it with "
				"nvmf_create_transport", method, addr.trtype);
	else if (rc == -ENOENT)
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: %s: %s does not listen on %s:%s",
				method, p.nqn, addr.traddr, addr.trsvcid);
	else if (rc)
		nvmft_rpc_error_errno(req, rc, "%s: %s: listener %s:%s", method,
				      p.nqn, addr.traddr, addr.trsvcid);
	else
		nvmft_rpc_reply_bool(req, true);
}

static void nvmf_subsystem_add_listener(struct nvmft_rpc_request *req,
					struct json_object *params, void *ctx)
{
	listener_change(req, params, true);
}

static void nvmf_subsystem_remove_listener(struct nvmft_rpc_request *req,
					   struct json_object *params, void *ctx)
{
	listener_change(req, params, false);
}

/* ---- namespaces ------------------------------------------------------------------ */

/* The answer (the NSID) needs both the call's return and its completion,
 * in whichever order they come. */
struct add_ns_ctx {
	struct nvmft_rpc_request *req;
	uint32_t nsid;
	int rc;
	int refs;
	char what[300];
};

static void add_ns_put(struct add_ns_ctx *c)
{
	if (--c->refs)
		return;
	if (c->rc)
		nvmft_rpc_error_errno(c->req, c->rc, "%s", c->what);
	else
		nvmft_rpc_reply(c->req, json_object_new_int64(c->nsid));
	free(c);
}

static void add_ns_done(void *arg, int rc)
{
	struct add_ns_ctx *c = arg;

	c->rc = rc;
	add_ns_put(c);
}

struct add_ns_params {
	const char *nqn;
	struct json_object *ns;
};

struct ns_params {
	const char *bdev_name;
	uint32_t nsid;
	const char *uuid;
	const char *nguid;
	const char *eui64;
	const char *ptpl_file;
	bool no_auto_visible;
};

static void nvmf_subsystem_add_ns(struct nvmft_rpc_request *req,
				  struct json_object *params, void *ctx)
{
	static const struct nvmft_rpc_param spec[] = {
		RPC_REQ("nqn", NVMFT_RPC_STRING, struct add_ns_params, nqn),
		RPC_REQ("namespace", NVMFT_RPC_OBJECT, struct add_ns_params, ns),
		RPC_IGNORE("tgt_name"),
	};
	static const struct nvmft_rpc_param ns_spec[] = {
		RPC_REQ("bdev_name", NVMFT_RPC_STRING, struct ns_params, bdev_name),
		RPC_OPT("nsid", NVMFT_RPC_U32, struct ns_params, nsid),
		RPC_OPT("uuid", NVMFT_RPC_STRING, struct ns_params, uuid),
		RPC_OPT("nguid", NVMFT_RPC_STRING, struct ns_params, nguid),
		RPC_OPT("eui64", NVMFT_RPC_STRING, struct ns_params, eui64),
		RPC_OPT("ptpl_file", NVMFT_RPC_STRING, struct ns_params, ptpl_file),
		RPC_OPT("no_auto_visible", NVMFT_RPC_BOOL, struct ns_params,
			no_auto_visible),
		/* One ANA group per namespace, as SPDK's default. */
		RPC_IGNORE("anagrpid"),
	};
	struct add_ns_params p = { 0 };
	struct ns_params n = { 0 };
	struct nvmft_ns_opts o = { 0 };
	struct nvmft_subsystem *ss;
	uint8_t uuid[16], nguid[16];
	struct add_ns_ctx *c;
	uint32_t nsid = 0;
	int rc;

	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), &p) ||
	    nvmft_rpc_decode(req, p.ns, "params.namespace", ns_spec,
			     RPC_NELEM(ns_spec), &n))
		return;
	if (n.eui64 || n.ptpl_file || n.no_auto_visible) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.namespace: %s is not supported",
				n.eui64 ? "eui64" : n.ptpl_file ? "ptpl_file" :
				"no_auto_visible");
		return;
	}
	if (n.nsid == 0xffffffff) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.namespace.nsid: 4294967295 is "
				"the broadcast NSID");
		return;
	}
	if (n.uuid && rpc_parse_uuid(n.uuid, uuid)) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.namespace.uuid: \"%.80s\" is "
				"not a UUID", n.uuid);
		return;
	}
	if (n.nguid && rpc_parse_uuid(n.nguid, nguid)) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.namespace.nguid: \"%.80s\" is "
				"not 32 hex digits", n.nguid);
		return;
	}
	ss = find_ss(req, p.nqn);
	if (!ss)
		return;
	if (nvmft_subsystem_is_discovery(ss)) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: the discovery subsystem has no namespaces");
		return;
	}
	o.bdev_name = n.bdev_name;
	o.nsid = n.nsid;
	o.uuid = n.uuid ? uuid : NULL;
	o.nguid = n.nguid ? nguid : NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		nvmft_rpc_error_errno(req, -ENOMEM, "nvmf_subsystem_add_ns");
		return;
	}
	c->req = req;
	c->refs = 2;
	snprintf(c->what, sizeof(c->what), "nvmf_subsystem_add_ns: %s: bdev \"%s\"",
		 p.nqn, n.bdev_name);
	rc = nvmft_subsystem_add_ns(ss, &o, &nsid, add_ns_done, c);
	if (!rc) {
		c->nsid = nsid;
		add_ns_put(c);
		return;
	}
	free(c);
	if (rc == -ENOENT)
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: nvmf_subsystem_add_ns: bdev "
				"\"%.80s\" does not exist", n.bdev_name);
	else if (rc == -EEXIST)
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: nvmf_subsystem_add_ns: %s: "
				"nsid %u is taken", p.nqn, n.nsid);
	else if (rc == -EBUSY)
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: nvmf_subsystem_add_ns: bdev "
				"\"%.80s\" is already a namespace", n.bdev_name);
	else if (rc == -ENOSPC || (rc == -EINVAL && n.nsid))
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: nvmf_subsystem_add_ns: %s: "
				"nsid %u is above max_namespaces, or no nsid is "
				"free", p.nqn, n.nsid);
	else
		nvmft_rpc_error_errno(req, rc, "nvmf_subsystem_add_ns: %s: bdev "
				      "\"%s\"", p.nqn, n.bdev_name);
}

struct remove_ns_params {
	const char *nqn;
	uint32_t nsid;
};

static void nvmf_subsystem_remove_ns(struct nvmft_rpc_request *req,
				     struct json_object *params, void *ctx)
{
	static const struct nvmft_rpc_param spec[] = {
		RPC_REQ("nqn", NVMFT_RPC_STRING, struct remove_ns_params, nqn),
		RPC_REQ("nsid", NVMFT_RPC_U32, struct remove_ns_params, nsid),
		RPC_IGNORE("tgt_name"),
	};
	struct remove_ns_params p = { 0 };
	struct nvmft_subsystem *ss;
	struct rpc_async *a;
	int rc;

	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), &p))
		return;
	ss = find_ss(req, p.nqn);
	if (!ss)
		return;
	a = rpc_async_new(req, NULL, "nvmf_subsystem_remove_ns: %s: nsid %u",
			  p.nqn, p.nsid);
	if (!a) {
		nvmft_rpc_error_errno(req, -ENOMEM, "nvmf_subsystem_remove_ns");
		return;
	}
	rc = nvmft_subsystem_remove_ns(ss, p.nsid, rpc_async_done, a);
	if (rc) {
		free(a);
		if (rc == -ENOENT)
			nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
					"Invalid params: nvmf_subsystem_remove_ns: %s "
					"has no namespace %u", p.nqn, p.nsid);
		else
			nvmft_rpc_error_errno(req, rc, "nvmf_subsystem_remove_ns: %s: "
					      "nsid %u", p.nqn, p.nsid);
	}
}

const struct nvmft_rpc_method rpc_nvmf_methods[] = {
	{ .name = "nvmf_create_transport", .handler = nvmf_create_transport,
	  .summary = "create a transport (TCP)" },
	{ .name = "nvmf_get_transports", .handler = nvmf_get_transports,
	  .summary = "list transports and their options" },
	{ .name = "nvmf_create_subsystem", .handler = nvmf_create_subsystem,
	  .summary = "create (and start) an NVM subsystem" },
	{ .name = "nvmf_delete_subsystem", .handler = nvmf_delete_subsystem,
	  .summary = "delete a subsystem (its hosts are disconnected)" },
	{ .name = "nvmf_get_subsystems", .handler = nvmf_get_subsystems,
	  .summary = "list subsystems" },
	{ .name = "nvmf_subsystem_add_listener", .handler = nvmf_subsystem_add_listener,
	  .summary = "add a listen address to a subsystem" },
	{ .name = "nvmf_subsystem_remove_listener",
	  .handler = nvmf_subsystem_remove_listener,
	  .summary = "remove a listen address from a subsystem" },
	{ .name = "nvmf_subsystem_add_ns", .handler = nvmf_subsystem_add_ns,
	  .summary = "attach a bdev as a namespace (live)" },
	{ .name = "nvmf_subsystem_remove_ns", .handler = nvmf_subsystem_remove_ns,
	  .summary = "detach a namespace (live; in-flight I/O finishes)" },
	{ .name = "nvmf_subsystem_add_host", .handler = nvmf_subsystem_add_host,
	  .summary = "allow a host NQN" },
	{ .name = "nvmf_subsystem_remove_host", .handler = nvmf_subsystem_remove_host,
	  .summary = "disallow a host NQN" },
	{ .name = "nvmf_subsystem_allow_any_host",
	  .handler = nvmf_subsystem_allow_any_host,
	  .summary = "allow any host, or only the listed ones" },
};
const size_t rpc_nvmf_methods_count = RPC_NELEM(rpc_nvmf_methods);
