// SPDX-License-Identifier: MIT
/*
 * Discovery referrals: nvmf_discovery_add_referral,
 * nvmf_discovery_remove_referral, nvmf_discovery_get_referrals, with
 * SPDK's parameters (address {trtype, adrfam, traddr, trsvcid}, subnqn,
 * secure_channel) and listing shape. The core keeps the list
 * (nvmft_tgt_add_referral) and lists it in the discovery log page.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nvmft/nvmf.h>
#include "rpc/rpc_internal.h"

static struct nvmft_tgt *req_tgt(struct nvmft_rpc_request *req)
{
	return nvmft_rpc_server_tgt(nvmft_rpc_request_server(req));
}

struct referral_params {
	struct json_object *address;
	const char *subnqn;
	bool secure_channel;
};

/*
 * The address (trsvcid required, as SPDK has it: a referral has no
 * default port) and subnqn of @p into @addr; NULL subnqn stays NULL.
 * 0, or -EINVAL after answering @req.
 */
static int decode_referral(struct nvmft_rpc_request *req,
			   const struct referral_params *p,
			   struct nvmft_listen_addr *addr)
{
	const char *what = "params.address";
	struct json_object *port;

	if (p->address && !json_object_object_get_ex(p->address, "trsvcid", &port)) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: %s.trsvcid is required", what);
		return -EINVAL;
	}
	if (rpc_decode_listen_addr(req, p->address, what, addr))
		return -EINVAL;
	if (!strcmp(addr->trsvcid, "0")) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: %s.trsvcid: 0 is not a port to refer "
				"hosts to", what);
		return -EINVAL;
	}
	if (p->subnqn && p->subnqn[0] && (strlen(p->subnqn) > NVMFT_NQN_MAX_LEN ||
					  !nvmft_nqn_valid(p->subnqn))) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.subnqn: \"%.230s\" is not a "
				"valid NQN", p->subnqn);
		return -EINVAL;
	}
	return 0;
}

static void add_referral(struct nvmft_rpc_request *req, struct json_object *params,
			 void *ctx)
{
	static const struct nvmft_rpc_param spec[] = {
		RPC_REQ("address", NVMFT_RPC_OBJECT, struct referral_params, address),
		RPC_OPT("subnqn", NVMFT_RPC_STRING, struct referral_params, subnqn),
		RPC_OPT("secure_channel", NVMFT_RPC_BOOL, struct referral_params,
			secure_channel),
		RPC_IGNORE("tgt_name"),
	};
	struct referral_params p = { 0 };
	struct nvmft_referral ref;
	int rc;

	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), &p))
		return;
	memset(&ref, 0, sizeof(ref));
	if (decode_referral(req, &p, &ref.addr))
		return;
	if (p.subnqn)
		snprintf(ref.subnqn, sizeof(ref.subnqn), "%s", p.subnqn);
	ref.secure_channel = p.secure_channel;
	rc = nvmft_tgt_add_referral(req_tgt(req), &ref);
	if (rc) {
		nvmft_rpc_error_errno(req, rc, "nvmf_discovery_add_referral %s:%s",
				      ref.addr.traddr, ref.addr.trsvcid);
		return;
	}
	nvmft_rpc_reply_bool(req, true);
}

static void remove_referral(struct nvmft_rpc_request *req, struct json_object *params,
			    void *ctx)
{
	static const struct nvmft_rpc_param spec[] = {
		RPC_REQ("address", NVMFT_RPC_OBJECT, struct referral_params, address),
		RPC_OPT("subnqn", NVMFT_RPC_STRING, struct referral_params, subnqn),
		RPC_IGNORE("tgt_name"),
	};
	struct referral_params p = { 0 };
	struct nvmft_listen_addr addr;
	int rc;

	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), &p))
		return;
	if (decode_referral(req, &p, &addr))
		return;
	rc = nvmft_tgt_remove_referral(req_tgt(req), &addr, p.subnqn);
	if (rc == -ENOENT) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: nvmf_discovery_remove_referral: no "
				"referral to %s:%s %.230s", addr.traddr, addr.trsvcid,
				p.subnqn && p.subnqn[0] ? p.subnqn : NVMFT_DISCOVERY_NQN);
		return;
	}
	if (rc) {
		nvmft_rpc_error_errno(req, rc, "nvmf_discovery_remove_referral");
		return;
	}
	nvmft_rpc_reply_bool(req, true);
}

static int referral_json(const struct nvmft_referral *ref, void *arg)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "address", rpc_listen_addr_json(&ref->addr));
	json_object_object_add(o, "secure_channel",
			       json_object_new_boolean(ref->secure_channel));
	json_object_object_add(o, "subnqn", json_object_new_string(ref->subnqn));
	json_object_array_add(arg, o);
	return 0;
}

static void get_referrals(struct nvmft_rpc_request *req, struct json_object *params,
			  void *ctx)
{
	static const struct nvmft_rpc_param spec[] = {
		RPC_IGNORE("tgt_name"),
	};
	struct json_object *a;

	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), NULL))
		return;
	a = json_object_new_array();
	nvmft_tgt_foreach_referral(req_tgt(req), referral_json, a);
	nvmft_rpc_reply(req, a);
}

const struct nvmft_rpc_method rpc_nvmf_referral_methods[] = {
	{ .name = "nvmf_discovery_get_referrals", .handler = get_referrals,
	  .summary = "discovery referrals" },
	{ .name = "nvmf_discovery_add_referral", .handler = add_referral,
	  .summary = "refer hosts to another discovery service" },
	{ .name = "nvmf_discovery_remove_referral", .handler = remove_referral,
	  .summary = "stop referring hosts to a discovery service" },
};
const size_t rpc_nvmf_referral_methods_count = RPC_NELEM(rpc_nvmf_referral_methods);
