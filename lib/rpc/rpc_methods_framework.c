// SPDX-License-Identifier: MIT
/*
 * Methods about the server and the process: rpc_get_methods,
 * spdk_get_version, framework_wait_init, save_config, log level, reactors
 * and their wait mode.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc_internal.h"

#ifndef NVMFT_VERSION
#define NVMFT_VERSION "0.0.0"
#endif

struct get_methods_params {
	bool current;
};

static void rpc_get_methods(struct nvmft_rpc_request *req,
			    struct json_object *params, void *ctx)
{
	static const struct nvmft_rpc_param spec[] = {
		/* Every method is callable at any time: nothing to filter. */
		RPC_OPT("current", NVMFT_RPC_BOOL, struct get_methods_params, current),
	};
	struct nvmft_rpc_server *srv = nvmft_rpc_request_server(req);
	struct get_methods_params p = { 0 };
	struct json_object *a;
	size_t i;

	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), &p))
		return;
	a = json_object_new_array();
	for (i = 0; i < rpc_server_nr_methods(srv); i++)
		json_object_array_add(a, json_object_new_string(rpc_server_method(srv, i)->name));
	nvmft_rpc_reply(req, a);
}

static void spdk_get_version(struct nvmft_rpc_request *req,
			     struct json_object *params, void *ctx)
{
	struct json_object *o, *f;
	unsigned int major = 0, minor = 0, patch = 0;
	char suffix[32] = "";

	if (nvmft_rpc_decode(req, params, "params", NULL, 0, NULL))
		return;
	sscanf(NVMFT_VERSION, "%u.%u.%u%31s", &major, &minor, &patch, suffix);
	o = json_object_new_object();
	f = json_object_new_object();
	json_object_object_add(o, "version", json_object_new_string("nvmft v" NVMFT_VERSION));
	json_object_object_add(f, "major", json_object_new_int((int)major));
	json_object_object_add(f, "minor", json_object_new_int((int)minor));
	json_object_object_add(f, "patch", json_object_new_int((int)patch));
	json_object_object_add(f, "suffix", json_object_new_string(suffix));
	json_object_object_add(o, "fields", f);
	nvmft_rpc_reply(req, o);
}

/* The server starts once the configuration is applied: always ready. */
static void framework_wait_init(struct nvmft_rpc_request *req,
				struct json_object *params, void *ctx)
{
	if (nvmft_rpc_decode(req, params, "params", NULL, 0, NULL))
		return;
	nvmft_rpc_reply_bool(req, true);
}

static void save_config(struct nvmft_rpc_request *req, struct json_object *params,
			void *ctx)
{
	struct nvmft_tgt *tgt = nvmft_rpc_server_tgt(nvmft_rpc_request_server(req));
	char *text = NULL;
	int rc;

	if (nvmft_rpc_decode(req, params, "params", NULL, 0, NULL))
		return;
	rc = nvmft_rpc_save_config(tgt, &text);
	if (rc) {
		nvmft_rpc_error_errno(req, rc, "save_config");
		return;
	}
	nvmft_rpc_reply(req, json_object_new_string(text));
	free(text);
}

struct level_params {
	const char *level;
};

static void set_log_level(struct nvmft_rpc_request *req, struct json_object *params,
			  void *ctx)
{
	static const struct nvmft_rpc_param spec[] = {
		RPC_REQ("level", NVMFT_RPC_STRING, struct level_params, level),
	};
	struct nvmft_tgt *tgt = nvmft_rpc_server_tgt(nvmft_rpc_request_server(req));
	struct level_params p = { 0 };
	int level;

	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), &p))
		return;
	level = rpc_log_level_parse(p.level);
	if (level < 0) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.level: \"%s\" is not one of "
				"error, warning, notice, info, debug", p.level);
		return;
	}
	nvmft_runtime_set_log_level(nvmft_tgt_get_runtime(tgt), level);
	nvmft_log(nvmft_tgt_get_runtime(tgt), NVMFT_LOG_NOTICE,
		  "rpc: log level set to %s", rpc_log_level_name(level));
	nvmft_rpc_reply_bool(req, true);
}

static void get_log_level(struct nvmft_rpc_request *req, struct json_object *params,
			  void *ctx)
{
	struct nvmft_tgt *tgt = nvmft_rpc_server_tgt(nvmft_rpc_request_server(req));

	if (nvmft_rpc_decode(req, params, "params", NULL, 0, NULL))
		return;
	nvmft_rpc_reply(req, json_object_new_string(rpc_log_level_name(
		nvmft_runtime_get_log_level(nvmft_tgt_get_runtime(tgt)))));
}

static void get_reactors(struct nvmft_rpc_request *req, struct json_object *params,
			 void *ctx)
{
	struct nvmft_tgt *tgt = nvmft_rpc_server_tgt(nvmft_rpc_request_server(req));
	struct nvmft_runtime *rt = nvmft_tgt_get_runtime(tgt);
	struct json_object *o, *a, *r;
	struct nvmft_thread_stats st;
	unsigned int i;

	if (nvmft_rpc_decode(req, params, "params", NULL, 0, NULL))
		return;
	o = json_object_new_object();
	a = json_object_new_array();
	json_object_object_add(o, "engine", json_object_new_string(
		nvmft_engine_name(nvmft_runtime_engine(rt))));
	json_object_object_add(o, "wait_mode", json_object_new_string(
		rpc_wait_mode_name(nvmft_runtime_get_wait_mode(rt))));
	json_object_object_add(o, "idle_spin_us", json_object_new_int64(
		nvmft_runtime_get_idle_spin_us(rt)));
	json_object_object_add(o, "tick_rate", json_object_new_int64(1000000));
	for (i = 0; i < nvmft_runtime_nr_threads(rt); i++) {
		nvmft_thread_get_stats(nvmft_runtime_get_thread(rt, i), &st);
		r = json_object_new_object();
		json_object_object_add(r, "index", json_object_new_int((int)i));
		json_object_object_add(r, "loops", json_object_new_uint64(st.loops));
		json_object_object_add(r, "busy_loops", json_object_new_uint64(st.busy_loops));
		json_object_object_add(r, "sleeps", json_object_new_uint64(st.sleeps));
		json_object_object_add(r, "msgs", json_object_new_uint64(st.msgs));
		json_object_object_add(r, "completions", json_object_new_uint64(st.completions));
		json_object_object_add(r, "busy_us", json_object_new_uint64(st.busy_us));
		json_object_object_add(r, "idle_us", json_object_new_uint64(st.idle_us));
		json_object_array_add(a, r);
	}
	json_object_object_add(o, "reactors", a);
	nvmft_rpc_reply(req, o);
}

struct wait_params {
	const char *mode;
	const char *wait_mode;
	uint32_t idle_spin_us;
	bool has_idle_spin_us;
};

/*
 * "mode" (or its older name "wait_mode") and/or "idle_spin_us": both are
 * checked before either changes, so a refused call changes nothing.
 */
static void set_wait_mode(struct nvmft_rpc_request *req, struct json_object *params,
			  void *ctx)
{
	static const struct nvmft_rpc_param spec[] = {
		RPC_OPT("mode", NVMFT_RPC_STRING, struct wait_params, mode),
		RPC_OPT("wait_mode", NVMFT_RPC_STRING, struct wait_params, wait_mode),
		RPC_OPT_P("idle_spin_us", NVMFT_RPC_U32, struct wait_params,
			  idle_spin_us, has_idle_spin_us),
	};
	struct nvmft_tgt *tgt = nvmft_rpc_server_tgt(nvmft_rpc_request_server(req));
	struct nvmft_runtime *rt = nvmft_tgt_get_runtime(tgt);
	struct wait_params p = { 0 };
	const char *key = "mode";
	int mode = -1;

	if (nvmft_rpc_decode(req, params, "params", spec, RPC_NELEM(spec), &p))
		return;
	if (p.mode && p.wait_mode && strcmp(p.mode, p.wait_mode)) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.mode \"%s\" and params.wait_mode "
				"\"%s\" disagree (wait_mode is the older name of mode)",
				p.mode, p.wait_mode);
		return;
	}
	if (!p.mode && p.wait_mode) {
		p.mode = p.wait_mode;
		key = "wait_mode";
	}
	if (!p.mode && !p.has_idle_spin_us) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.mode is required (adaptive, "
				"poll, interrupt) unless params.idle_spin_us is given");
		return;
	}
	if (p.mode) {
		mode = rpc_wait_mode_parse(p.mode);
		if (mode < 0) {
			nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
					"Invalid params: params.%s: \"%s\" is not one "
					"of adaptive, poll, interrupt", key, p.mode);
			return;
		}
	}
	if (p.has_idle_spin_us && p.idle_spin_us > NVMFT_IDLE_SPIN_US_MAX) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: params.idle_spin_us: %u is out of "
				"range [0, %u]", p.idle_spin_us, NVMFT_IDLE_SPIN_US_MAX);
		return;
	}
	/* The spin time first: a reactor woken into adaptive mode uses it. */
	if (p.has_idle_spin_us)
		nvmft_runtime_set_idle_spin_us(rt, p.idle_spin_us);
	if (mode >= 0)
		nvmft_runtime_set_wait_mode(rt, (enum nvmft_wait_mode)mode);
	nvmft_log(rt, NVMFT_LOG_NOTICE, "rpc: wait mode %s, idle_spin_us %u",
		  rpc_wait_mode_name(nvmft_runtime_get_wait_mode(rt)),
		  nvmft_runtime_get_idle_spin_us(rt));
	nvmft_rpc_reply_bool(req, true);
}

const struct nvmft_rpc_method rpc_framework_methods[] = {
	{ .name = "rpc_get_methods", .handler = rpc_get_methods,
	  .summary = "names of every method" },
	{ .name = "spdk_get_version", .handler = spdk_get_version,
	  .summary = "version of the target" },
	{ .name = "framework_wait_init", .handler = framework_wait_init,
	  .summary = "true once the target is initialised" },
	{ .name = "save_config", .handler = save_config,
	  .summary = "running configuration as libconfig text" },
	{ .name = "nvmft_set_log_level", .handler = set_log_level,
	  .summary = "set the log level" },
	{ .name = "nvmft_get_log_level", .handler = get_log_level,
	  .summary = "the log level" },
	{ .name = "log_set_print_level", .handler = set_log_level,
	  .summary = "SPDK name of nvmft_set_log_level" },
	{ .name = "log_get_print_level", .handler = get_log_level,
	  .summary = "SPDK name of nvmft_get_log_level" },
	{ .name = "nvmft_get_reactors", .handler = get_reactors,
	  .summary = "reactors, engine, wait mode and counters" },
	{ .name = "nvmft_set_wait_mode", .handler = set_wait_mode,
	  .summary = "set the reactors' wait mode and adaptive spin time" },
};
const size_t rpc_framework_methods_count = RPC_NELEM(rpc_framework_methods);
