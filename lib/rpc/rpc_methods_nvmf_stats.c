// SPDX-License-Identifier: MIT
/*
 * NVMe-oF runtime information: nvmf_subsystem_get_controllers,
 * nvmf_subsystem_get_qpairs and nvmf_get_stats.
 *
 * Qpairs and poll group counters belong to their reactors: the listings
 * visit reactor 0, 1, ... in turn (nvmf_info_visit_poll_groups), each
 * adding its part to the one result, and answer on the app reactor.
 * Counters are SPDK's where SPDK has them; the rest (per qpair counters,
 * requests per transport state, the I/O latency histogram) are extras.
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

/* Requests of a TCP qpair in each state now (its reactor). */
static struct json_object *tcp_qpair_states_json(struct nvmf_qpair *qp)
{
	const struct tcp_qpair *tq = tcp_qpair(qp);
	uint32_t n[TCP_REQ_NR_STATES] = { 0 };
	struct json_object *o = json_object_new_object();
	uint32_t i;

	for (i = 0; tq->reqs && i < tq->nreqs; i++)
		if ((unsigned int)tq->reqs[i].state < TCP_REQ_NR_STATES)
			n[tq->reqs[i].state]++;
	for (i = 0; i < TCP_REQ_NR_STATES; i++)
		json_object_object_add(o, tcp_req_state_name((enum tcp_req_state)i),
				       json_object_new_int64(n[i]));
	return o;
}

/* Counters of one connection (extras: SPDK lists none per qpair). */
static struct json_object *qpair_stats_json(const struct nvmf_info_qpair *q)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "commands", json_object_new_uint64(q->cmds));
	json_object_object_add(o, "errors", json_object_new_uint64(q->errors));
	json_object_object_add(o, "read_cmds", json_object_new_uint64(q->read_cmds));
	json_object_object_add(o, "write_cmds", json_object_new_uint64(q->write_cmds));
	json_object_object_add(o, "bytes_read", json_object_new_uint64(q->bytes_read));
	json_object_object_add(o, "bytes_written", json_object_new_uint64(q->bytes_written));
	if (q->qpair && q->qpair->transport->ops == &nvmf_tcp_ops)
		json_object_object_add(o, "req_states", tcp_qpair_states_json(q->qpair));
	return o;
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
	json_object_object_add(o, "stats", qpair_stats_json(q));
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
	json_object_object_add(o, "buf_share_waits", json_object_new_uint64(st.buf_share_waits));
	json_object_object_add(o, "connect_timeouts", json_object_new_uint64(st.connect_timeouts));
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

/* The bucket holding the sample of rank ceil(@q * count), reported as
 * its upper bound (its lower one for the open-ended last bucket). */
static uint64_t hist_quantile(const struct nvmf_lat_hist *h, uint64_t count, double q)
{
	uint64_t rank = (uint64_t)((double)count * q), seen = 0, lo, hi;
	unsigned int i;

	if (rank < (double)count * q || rank == 0)
		rank++;
	for (i = 0; i < NVMF_LAT_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			nvmf_lat_bucket_range(i, &lo, &hi);
			return i == NVMF_LAT_BUCKETS - 1 ? lo : hi;
		}
	}
	return 0;
}

static uint64_t hist_count(const struct nvmf_lat_hist *h)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < NVMF_LAT_BUCKETS; i++)
		n += h->buckets[i];
	return n;
}

/*
 * {"count","sum_us","mean_us","p50_us","p90_us","p99_us","p999_us",
 *  "buckets":[{"lo_us","hi_us","count"},...]}: the non-empty buckets,
 * each [lo_us, hi_us) (the last one has no hi_us: it is open-ended).
 */
static struct json_object *hist_json(const struct nvmf_lat_hist *h)
{
	struct json_object *o = json_object_new_object(), *a, *b;
	uint64_t count = hist_count(h), lo, hi;
	unsigned int i;

	json_object_object_add(o, "count", json_object_new_uint64(count));
	json_object_object_add(o, "sum_us", json_object_new_uint64(h->sum_us));
	json_object_object_add(o, "mean_us", json_object_new_uint64(
		count ? h->sum_us / count : 0));
	json_object_object_add(o, "p50_us", json_object_new_uint64(
		count ? hist_quantile(h, count, 0.50) : 0));
	json_object_object_add(o, "p90_us", json_object_new_uint64(
		count ? hist_quantile(h, count, 0.90) : 0));
	json_object_object_add(o, "p99_us", json_object_new_uint64(
		count ? hist_quantile(h, count, 0.99) : 0));
	json_object_object_add(o, "p999_us", json_object_new_uint64(
		count ? hist_quantile(h, count, 0.999) : 0));
	a = json_object_new_array();
	for (i = 0; i < NVMF_LAT_BUCKETS; i++) {
		if (!h->buckets[i])
			continue;
		nvmf_lat_bucket_range(i, &lo, &hi);
		b = json_object_new_object();
		json_object_object_add(b, "lo_us", json_object_new_uint64(lo));
		if (i != NVMF_LAT_BUCKETS - 1)
			json_object_object_add(b, "hi_us", json_object_new_uint64(hi));
		json_object_object_add(b, "count", json_object_new_uint64(h->buckets[i]));
		json_object_array_add(a, b);
	}
	json_object_object_add(o, "buckets", a);
	return o;
}

struct stats_walk {
	struct nvmft_rpc_request *req;
	struct json_object *pgs;
	struct nvmf_lat_hist total;		/* every poll group's */
};

static int qpair_stats_entry(const struct nvmf_info_qpair *q, void *arg)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "subnqn", q->subnqn ? json_object_new_string(q->subnqn)
						      : NULL);
	json_object_object_add(o, "cntlid", json_object_new_int(q->cntlid));
	json_object_object_add(o, "qid", json_object_new_int(q->qid));
	json_object_object_add(o, "state", json_object_new_string(q->state));
	json_object_object_add(o, "stats", qpair_stats_json(q));
	json_object_array_add(arg, o);
	return 0;
}

static void stats_visit(struct nvmf_poll_group *pg, void *arg)
{
	struct stats_walk *w = arg;
	struct nvmf_info_pg info;
	struct json_object *o, *t, *q;
	char name[48];
	unsigned int i;

	if (!pg)
		return;
	nvmf_info_poll_group(pg, &info);
	w->total.sum_us += info.io_lat->sum_us;
	for (i = 0; i < NVMF_LAT_BUCKETS; i++)
		w->total.buckets[i] += info.io_lat->buckets[i];
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
	json_object_object_add(o, "completed_nvme_io", json_object_new_uint64(
		hist_count(info.io_lat)));
	json_object_object_add(o, "io_latency_us", hist_json(info.io_lat));
	t = json_object_new_array();
	nvmf_info_foreach_tpg(pg, tpg_json, t);
	json_object_object_add(o, "transports", t);
	q = json_object_new_array();
	nvmf_info_foreach_qpair(pg, qpair_stats_entry, q);
	json_object_object_add(o, "qpair_stats", q);
	json_object_array_add(w->pgs, o);
}

struct stats_listeners {
	struct nvmft_tgt *tgt;
	struct json_object *a;
};

/* Every listening address with its limit and counters (app reactor). */
static int stats_listener(const struct nvmft_listen_addr *addr, bool explicit,
			  void *arg)
{
	struct stats_listeners *sl = arg;
	struct nvmft_listener_info li;
	struct json_object *o;

	if (nvmft_tgt_get_listener_info(sl->tgt, addr, &li))
		return 0;
	o = rpc_listen_addr_json(addr);
	json_object_object_add(o, "max_connections", json_object_new_int64(li.max_connections));
	json_object_object_add(o, "connections", json_object_new_int64(li.nr_connections));
	json_object_object_add(o, "refused_connections",
			       json_object_new_uint64(li.refused_connections));
	json_object_array_add(sl->a, o);
	return 0;
}

static void stats_done(void *arg)
{
	struct stats_walk *w = arg;
	struct json_object *o = json_object_new_object();
	struct stats_listeners sl = { .tgt = req_tgt(w->req) };
	struct nvmft_tgt_conn_stats cs;
	struct nvmft_tgt_opts topts;

	/* Counters are plain counts and latencies microseconds: SPDK's
	 * tick-based fields are not kept. */
	json_object_object_add(o, "tick_rate", json_object_new_int64(1000000));
	json_object_object_add(o, "io_latency_us", hist_json(&w->total));
	/* Extras: connections of the target and of each listening address;
	 * refused = closed at accept (a limit, shutdown, no memory). */
	nvmft_tgt_get_opts(sl.tgt, &topts);
	nvmft_tgt_get_conn_stats(sl.tgt, &cs);
	json_object_object_add(o, "max_connections", json_object_new_int64(topts.max_connections));
	json_object_object_add(o, "connections", json_object_new_int64(cs.nr_connections));
	json_object_object_add(o, "refused_connections",
			       json_object_new_uint64(cs.refused_connections));
	sl.a = json_object_new_array();
	nvmf_info_foreach_tgt_listener(sl.tgt, stats_listener, &sl);
	json_object_object_add(o, "listeners", sl.a);
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

const struct nvmft_rpc_method rpc_nvmf_stats_methods[] = {
	{ .name = "nvmf_subsystem_get_controllers", .handler = get_controllers,
	  .summary = "controllers of a subsystem" },
	{ .name = "nvmf_subsystem_get_qpairs", .handler = get_qpairs,
	  .summary = "queue pairs of a subsystem" },
	{ .name = "nvmf_get_stats", .handler = get_stats,
	  .summary = "per poll group, transport and qpair statistics" },
};
const size_t rpc_nvmf_stats_methods_count = RPC_NELEM(rpc_nvmf_stats_methods);
