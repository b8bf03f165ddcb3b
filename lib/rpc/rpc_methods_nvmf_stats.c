// SPDX-License-Identifier: MIT
/*
 * NVMe-oF runtime information: nvmf_subsystem_get_controllers,
 * nvmf_subsystem_get_qpairs, nvmf_get_stats, and the discovery referral
 * methods (referrals are not supported by the core: the listing is empty
 * and changes are refused).
 *
 * Qpairs and poll group counters belong to their reactors: the listings
 * visit reactor 0, 1, ... in turn (nvmf_info_visit_poll_groups), each
 * adding its part to the one result, and answer on the app reactor.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvmf/nvmf_info.h"
#include "rpc/rpc_internal.h"
#include "tcp/tcp_internal.h"

static struct nvmft_tgt *req_tgt(struct nvmft_rpc_request *req)
{
	return nvmft_rpc_server_tgt(nvmft_rpc_request_server(req));
}

struct nqn_params {
	const char *nqn;
};

static const struct nvmft_rpc_param nqn_spec[] = {
	RPC_REQ("nqn", NVMFT_RPC_STRING, struct nqn_params, nqn),
	RPC_IGNORE("tgt_name"),
};

static struct nvmft_subsystem *find_ss(struct nvmft_rpc_request *req, const char *nqn)
{
	struct nvmft_subsystem *ss = nvmft_subsystem_find(req_tgt(req), nqn);

	if (!ss)
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: %s: subsystem \"%.230s\" does not exist",
				nvmft_rpc_request_method(req), nqn);
	return ss;
}

/* ---- controllers ----------------------------------------------------------- */

static int ctrlr_json(const struct nvmf_info_ctrlr *c, void *arg)
{
	struct json_object *o = json_object_new_object();
	char hostid[37];

	rpc_format_uuid(c->hostid, hostid);
	json_object_object_add(o, "cntlid", json_object_new_int(c->cntlid));
	json_object_object_add(o, "hostnqn", json_object_new_string(c->hostnqn));
	json_object_object_add(o, "hostid", json_object_new_string(hostid));
	json_object_object_add(o, "num_io_qpairs", json_object_new_int64(c->nr_io_qpairs));
	json_object_object_add(o, "kato_ms", json_object_new_int64(c->kato_ms));
	json_object_object_add(o, "thread", json_object_new_int((int)c->thread));
	json_object_array_add(arg, o);
	return 0;
}

static void get_controllers(struct nvmft_rpc_request *req, struct json_object *params,
			    void *ctx)
{
	struct nqn_params p = { 0 };
	struct nvmft_subsystem *ss;
	struct json_object *a;

	if (nvmft_rpc_decode(req, params, "params", nqn_spec, RPC_NELEM(nqn_spec), &p))
		return;
	ss = find_ss(req, p.nqn);
	if (!ss)
		return;
	a = json_object_new_array();
	nvmf_info_foreach_ctrlr(ss, ctrlr_json, a);
	nvmft_rpc_reply(req, a);
}

/* ---- qpairs ------------------------------------------------------------------ */

struct qpairs_walk {
	struct nvmft_rpc_request *req;
	char nqn[NVMFT_NQN_MAX_LEN + 1];
	struct json_object *a;
};

static struct json_object *addr_json(const struct nvmft_listen_addr *a)
{
	return a->traddr[0] ? rpc_listen_addr_json(a) : NULL;
}

static int qpair_json(const struct nvmf_info_qpair *q, void *arg)
{
	struct qpairs_walk *w = arg;
	struct json_object *o;

	if (!q->subnqn || strcmp(q->subnqn, w->nqn))
		return 0;
	o = json_object_new_object();
	json_object_object_add(o, "cntlid", json_object_new_int(q->cntlid));
	json_object_object_add(o, "qid", json_object_new_int(q->qid));
	json_object_object_add(o, "state", json_object_new_string(q->state));
	json_object_object_add(o, "thread", json_object_new_int(
		(int)nvmft_thread_index(nvmft_get_thread())));
	json_object_object_add(o, "sq_size", json_object_new_int(q->sq_size));
	json_object_object_add(o, "outstanding", json_object_new_int64(q->outstanding));
	if (!q->addrs_rc) {
		json_object_object_add(o, "listen_address", addr_json(&q->addrs.local));
		json_object_object_add(o, "peer_address", addr_json(&q->addrs.peer));
	}
	json_object_array_add(w->a, o);
	return 0;
}

static void qpairs_visit(struct nvmf_poll_group *pg, void *arg)
{
	if (pg)
		nvmf_info_foreach_qpair(pg, qpair_json, arg);
}

static void qpairs_done(void *arg)
{
	struct qpairs_walk *w = arg;

	nvmft_rpc_reply(w->req, w->a);
	free(w);
}

static void get_qpairs(struct nvmft_rpc_request *req, struct json_object *params,
		       void *ctx)
{
	struct nqn_params p = { 0 };
	struct qpairs_walk *w;
	int rc;

	if (nvmft_rpc_decode(req, params, "params", nqn_spec, RPC_NELEM(nqn_spec), &p))
		return;
	if (!find_ss(req, p.nqn))
		return;
	w = calloc(1, sizeof(*w));
	if (!w) {
		nvmft_rpc_error_errno(req, -ENOMEM, "nvmf_subsystem_get_qpairs");
		return;
	}
	w->req = req;
	snprintf(w->nqn, sizeof(w->nqn), "%s", p.nqn);
	w->a = json_object_new_array();
	rc = nvmf_info_visit_poll_groups(req_tgt(req), qpairs_visit, w, qpairs_done);
	if (rc) {
		json_object_put(w->a);
		free(w);
		nvmft_rpc_error_errno(req, rc, "nvmf_subsystem_get_qpairs");
	}
}

/* ---- statistics ---------------------------------------------------------------- */

static const char *const pdu_names[TCP_PDU_TYPES] = {
	"icreq", "icresp", "h2c_term_req", "c2h_term_req", "capsule_cmd",
	"capsule_resp", "h2c_data", "c2h_data", NULL, "r2t",
};

static struct json_object *tcp_stats_json(struct tcp_poll_group *pg)
{
	struct json_object *o = json_object_new_object(), *in, *out, *states;
	struct tcp_pg_stats st;
	unsigned int i;

	tcp_poll_group_get_stats(pg, &st);
	in = json_object_new_object();
	out = json_object_new_object();
	for (i = 0; i < TCP_PDU_TYPES; i++) {
		if (!pdu_names[i])
			continue;
		json_object_object_add(in, pdu_names[i], json_object_new_uint64(st.pdus_in[i]));
		json_object_object_add(out, pdu_names[i], json_object_new_uint64(st.pdus_out[i]));
	}
	json_object_object_add(o, "trtype", json_object_new_string("TCP"));
	json_object_object_add(o, "pdus_in", in);
	json_object_object_add(o, "pdus_out", out);
	json_object_object_add(o, "bytes_in", json_object_new_uint64(st.bytes_in));
	json_object_object_add(o, "bytes_out", json_object_new_uint64(st.bytes_out));
	json_object_object_add(o, "hdgst_errors", json_object_new_uint64(st.hdgst_errors));
	json_object_object_add(o, "ddgst_errors", json_object_new_uint64(st.ddgst_errors));
	json_object_object_add(o, "term_reqs_sent", json_object_new_uint64(st.term_reqs_sent));
	json_object_object_add(o, "term_reqs_received",
			       json_object_new_uint64(st.term_reqs_received));
	json_object_object_add(o, "icreq_timeouts", json_object_new_uint64(st.icreq_timeouts));
	json_object_object_add(o, "qpairs", json_object_new_uint64(st.qpairs));
	json_object_object_add(o, "qpairs_added", json_object_new_uint64(st.qpairs_added));
	json_object_object_add(o, "qpairs_freed", json_object_new_uint64(st.qpairs_freed));
	json_object_object_add(o, "buf_waits", json_object_new_uint64(st.buf_waits));
	json_object_object_add(o, "rx_stalls", json_object_new_uint64(st.rx_stalls));
	json_object_object_add(o, "rx_yields", json_object_new_uint64(st.rx_yields));
	json_object_object_add(o, "bufs_total", json_object_new_int64(st.bufs_total));
	json_object_object_add(o, "bufs_free", json_object_new_int64(st.bufs_free));
	/* SPDK's name for requests waiting for a data buffer now. */
	json_object_object_add(o, "pending_data_buffer", json_object_new_int64(
		st.req_states[TCP_REQ_NEED_BUFFER]));
	states = json_object_new_object();
	for (i = 0; i < TCP_REQ_NR_STATES; i++)
		json_object_object_add(states, tcp_req_state_name((enum tcp_req_state)i),
				       json_object_new_int64(st.req_states[i]));
	json_object_object_add(o, "req_states", states);
	return o;
}

static int tpg_json(struct nvmf_transport_poll_group *tpg, void *arg)
{
	struct json_object *o;

	/* Until transports export statistics through their ops, the RPC
	 * knows the one transport there is. */
	if (tpg->transport->ops == &nvmf_tcp_ops) {
		o = tcp_stats_json(container_of(tpg, struct tcp_poll_group, base));
	} else {
		o = json_object_new_object();
		json_object_object_add(o, "trtype",
				       json_object_new_string(tpg->transport->ops->name));
	}
	json_object_array_add(arg, o);
	return 0;
}

struct stats_walk {
	struct nvmft_rpc_request *req;
	struct json_object *pgs;
};

static void stats_visit(struct nvmf_poll_group *pg, void *arg)
{
	struct stats_walk *w = arg;
	struct nvmf_info_pg info;
	struct json_object *o, *t;
	char name[48];

	if (!pg)
		return;
	nvmf_info_poll_group(pg, &info);
	o = json_object_new_object();
	snprintf(name, sizeof(name), "nvmf_tgt_poll_group_%u", info.thread);
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "thread", json_object_new_int((int)info.thread));
	json_object_object_add(o, "current_admin_qpairs",
			       json_object_new_int64(info.nr_admin_qpairs));
	json_object_object_add(o, "current_io_qpairs", json_object_new_int64(info.nr_io_qpairs));
	json_object_object_add(o, "qpairs", json_object_new_int64(info.nr_qpairs));
	json_object_object_add(o, "qpairs_created", json_object_new_uint64(info.qpairs_created));
	json_object_object_add(o, "qpairs_destroyed",
			       json_object_new_uint64(info.qpairs_destroyed));
	json_object_object_add(o, "admin_cmds", json_object_new_uint64(info.admin_cmds));
	json_object_object_add(o, "io_cmds", json_object_new_uint64(info.io_cmds));
	json_object_object_add(o, "errors", json_object_new_uint64(info.errors));
	json_object_object_add(o, "pending_bdev_io", json_object_new_uint64(info.pending_io));
	t = json_object_new_array();
	nvmf_info_foreach_tpg(pg, tpg_json, t);
	json_object_object_add(o, "transports", t);
	json_object_array_add(w->pgs, o);
}

static void stats_done(void *arg)
{
	struct stats_walk *w = arg;
	struct json_object *o = json_object_new_object();

	/* Counters are plain counts; SPDK's latency ticks are not kept. */
	json_object_object_add(o, "tick_rate", json_object_new_int64(1000000));
	json_object_object_add(o, "poll_groups", w->pgs);
	nvmft_rpc_reply(w->req, o);
	free(w);
}

static void get_stats(struct nvmft_rpc_request *req, struct json_object *params,
		      void *ctx)
{
	static const struct nvmft_rpc_param spec[] = {
		RPC_IGNORE("tgt_name"),
	};
	struct stats_walk *w;
	int rc;

	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), NULL))
		return;
	w = calloc(1, sizeof(*w));
	if (!w) {
		nvmft_rpc_error_errno(req, -ENOMEM, "nvmf_get_stats");
		return;
	}
	w->req = req;
	w->pgs = json_object_new_array();
	rc = nvmf_info_visit_poll_groups(req_tgt(req), stats_visit, w, stats_done);
	if (rc) {
		json_object_put(w->pgs);
		free(w);
		nvmft_rpc_error_errno(req, rc, "nvmf_get_stats");
	}
}

/* ---- referrals ------------------------------------------------------------------ */

static void get_referrals(struct nvmft_rpc_request *req, struct json_object *params,
			  void *ctx)
{
	static const struct nvmft_rpc_param spec[] = {
		RPC_IGNORE("tgt_name"),
	};

	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), NULL))
		return;
	nvmft_rpc_reply(req, json_object_new_array());
}

static void referral_change(struct nvmft_rpc_request *req, struct json_object *params,
			    void *ctx)
{
	nvmft_rpc_error(req, NVMFT_RPC_METHOD_NOT_FOUND,
			"Method not supported: %s: this target has no discovery "
			"referrals", nvmft_rpc_request_method(req));
}

const struct nvmft_rpc_method rpc_nvmf_stats_methods[] = {
	{ .name = "nvmf_subsystem_get_controllers", .handler = get_controllers,
	  .summary = "controllers of a subsystem" },
	{ .name = "nvmf_subsystem_get_qpairs", .handler = get_qpairs,
	  .summary = "queue pairs of a subsystem" },
	{ .name = "nvmf_get_stats", .handler = get_stats,
	  .summary = "per poll group and transport statistics" },
	{ .name = "nvmf_discovery_get_referrals", .handler = get_referrals,
	  .summary = "discovery referrals (none: not supported)" },
	{ .name = "nvmf_discovery_add_referral", .handler = referral_change,
	  .summary = "not supported" },
	{ .name = "nvmf_discovery_remove_referral", .handler = referral_change,
	  .summary = "not supported" },
};
const size_t rpc_nvmf_stats_methods_count = RPC_NELEM(rpc_nvmf_stats_methods);
