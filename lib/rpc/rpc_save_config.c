// SPDX-License-Identifier: MIT
/*
 * The running state as a libconfig file for nvmft_config_load(): log
 * level, wait mode, target limits, transports, bdevs, subsystems (hosts,
 * namespaces, listeners with their limits), discovery listeners and
 * referrals, in the order
 * nvmft_config_apply() creates them, so that loading the file recreates
 * what runs now.
 *
 * hbd pools come before the bdevs, whose hbd volumes name them.
 * What the file format cannot express is left out with a comment saying
 * so: bdevs of other backends, and namespaces on such bdevs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nvmft/bdev_hbd.h>
#include "nvmf/nvmf_info.h"
#include "rpc/rpc_internal.h"

#ifndef NVMFT_VERSION
#define NVMFT_VERSION "0.0.0"
#endif

struct save {
	FILE *f;
	struct nvmft_tgt *tgt;
	bool first;		/* no element of the current list written yet */
};

/* A libconfig string literal: quotes, backslashes and control characters
 * escaped. */
static void put_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void put_kv_str(FILE *f, const char *indent, const char *key, const char *v)
{
	fprintf(f, "%s%s = ", indent, key);
	put_str(f, v);
	fputs(";\n", f);
}

/* libconfig reads integers above 2^31-1 as 64-bit only with an L. */
static void put_kv_int(FILE *f, const char *indent, const char *key, uint64_t v)
{
	fprintf(f, "%s%s = %llu%s;\n", indent, key, (unsigned long long)v,
		v > 0x7fffffffull ? "L" : "");
}

static void put_kv_bool(FILE *f, const char *indent, const char *key, bool v)
{
	fprintf(f, "%s%s = %s;\n", indent, key, v ? "true" : "false");
}

static void list_sep(struct save *s)
{
	if (!s->first)
		fputs(",\n", s->f);
	s->first = false;
}

/* ---- transports ------------------------------------------------------------- */

static int save_transport(const char *trtype, const struct nvmft_transport_opts *o,
			  void *arg)
{
	struct save *s = arg;
	FILE *f = s->f;
	const char *in = "    ";

	list_sep(s);
	fputs("  {\n", f);
	put_kv_str(f, in, "type", trtype);
	put_kv_int(f, in, "max_queue_depth", o->max_queue_depth);
	put_kv_int(f, in, "max_aq_depth", o->max_aq_depth);
	put_kv_int(f, in, "max_qpairs_per_ctrlr", o->max_qpairs_per_ctrlr);
	put_kv_int(f, in, "in_capsule_data_size", o->in_capsule_data_size);
	put_kv_int(f, in, "max_io_size", o->max_io_size);
	put_kv_int(f, in, "io_unit_size", o->io_unit_size);
	put_kv_int(f, in, "num_shared_buffers", o->num_shared_buffers);
	put_kv_int(f, in, "max_r2t", o->max_r2t);
	put_kv_bool(f, in, "c2h_success", o->c2h_success);
	put_kv_int(f, in, "icreq_timeout_ms", o->icreq_timeout_ms);
	put_kv_int(f, in, "backlog", o->backlog);
	put_kv_int(f, in, "zcopy_threshold", o->zcopy_threshold);
	put_kv_int(f, in, "max_conn_buf_share_pct", o->max_conn_buf_share_pct);
	fputs("  }", f);
	return 0;
}

static int count_transport(const char *trtype, const struct nvmft_transport_opts *o,
			   void *arg)
{
	(*(unsigned int *)arg)++;
	return 0;
}

/* ---- bdevs -------------------------------------------------------------------- */

/* Backends the file can create. */
static bool bdev_savable(const struct nvmft_bdev *bdev)
{
	const char *p = nvmft_bdev_product(bdev);

	return !strcmp(p, "malloc") || !strcmp(p, "null") || !strcmp(p, "uring") ||
	       !strcmp(p, "hbd");
}

/* hbd: the pool and export it was opened from (its size is the export's). */
static void save_bdev_hbd(FILE *f, struct nvmft_bdev *bdev)
{
	struct json_object *info = json_object_new_object(), *v;

	if (info && nvmft_bdev_dump_info(bdev, info) == 0) {
		if (json_object_object_get_ex(info, "pool", &v)) {
			fputs(" pool = ", f);
			put_str(f, json_object_get_string(v));
			fputc(';', f);
		}
		if (json_object_object_get_ex(info, "export", &v)) {
			fputs(" export = ", f);
			put_str(f, json_object_get_string(v));
			fputc(';', f);
		}
	}
	json_object_put(info);
	if (nvmft_bdev_block_size(bdev) == 512 || nvmft_bdev_block_size(bdev) == 4096)
		fprintf(f, " block_size = %u;", nvmft_bdev_block_size(bdev));
}

static int save_bdev(struct nvmft_bdev *bdev, void *arg)
{
	struct save *s = arg;
	const char *product = nvmft_bdev_product(bdev);
	struct json_object *info, *v;
	const char *in = " ";
	char uuid[37];
	FILE *f = s->f;

	if (!bdev_savable(bdev))
		return 0;
	list_sep(s);
	rpc_format_uuid(nvmft_bdev_uuid(bdev), uuid);
	fputs("  {", f);
	fprintf(f, " name = ");
	put_str(f, nvmft_bdev_name(bdev));
	fprintf(f, "; type = \"%s\";", product);
	if (!strcmp(product, "hbd")) {
		save_bdev_hbd(f, bdev);
	} else if (strcmp(product, "uring")) {
		fprintf(f, " num_blocks = %llu%s;",
			(unsigned long long)nvmft_bdev_num_blocks(bdev),
			nvmft_bdev_num_blocks(bdev) > 0x7fffffffull ? "L" : "");
		fprintf(f, " block_size = %u;", nvmft_bdev_block_size(bdev));
	} else {
		info = json_object_new_object();
		if (info && nvmft_bdev_dump_info(bdev, info) == 0) {
			if (json_object_object_get_ex(info, "filename", &v)) {
				fputs(" filename = ", f);
				put_str(f, json_object_get_string(v));
				fputc(';', f);
			}
			if (json_object_object_get_ex(info, "buffered", &v) &&
			    json_object_get_boolean(v))
				fputs(" buffered = true;", f);
		}
		json_object_put(info);
		/* The file accepts 512 and 4096 (else the size is detected
		 * again at load). */
		if (nvmft_bdev_block_size(bdev) == 512 ||
		    nvmft_bdev_block_size(bdev) == 4096)
			fprintf(f, " block_size = %u;", nvmft_bdev_block_size(bdev));
	}
	fprintf(f, "%suuid = \"%s\"; }", in, uuid);
	return 0;
}

/* ---- hbd pools ------------------------------------------------------------------- */

static int save_hbd_pool(struct nvmft_hbd_pool *pool, void *arg)
{
	struct save *s = arg;
	struct nvmft_hbd_pool_opts o;
	const char *in = "    ";
	FILE *f = s->f;

	nvmft_hbd_pool_get_opts(pool, &o);
	list_sep(s);
	fputs("  {\n", f);
	put_kv_str(f, in, "name", nvmft_hbd_pool_name(pool));
	put_kv_str(f, in, "uri", nvmft_hbd_pool_uri(pool));
	put_kv_int(f, in, "health_interval_ms", o.health_interval_ms);
	put_kv_int(f, in, "connect_timeout_ms", o.connect_timeout_ms);
	put_kv_int(f, in, "retry_backoff_ms", o.retry_backoff_ms);
	put_kv_int(f, in, "retry_backoff_max_ms", o.retry_backoff_max_ms);
	put_kv_int(f, in, "down_after", o.down_after);
	put_kv_int(f, in, "degraded_latency_ms", o.degraded_latency_ms);
	put_kv_int(f, in, "io_timeout_ms", o.io_timeout_ms);
	fputs("  }", f);
	return 0;
}

static int count_hbd_pool(struct nvmft_hbd_pool *pool, void *arg)
{
	(*(unsigned int *)arg)++;
	return 0;
}

static int note_unsaved_bdev(struct nvmft_bdev *bdev, void *arg)
{
	struct save *s = arg;

	if (!bdev_savable(bdev))
		fprintf(s->f, "# bdev \"%s\" (%s) is not saved: the configuration "
			"file cannot create %s bdevs\n", nvmft_bdev_name(bdev),
			nvmft_bdev_product(bdev), nvmft_bdev_product(bdev));
	return 0;
}

static int count_savable(struct nvmft_bdev *bdev, void *arg)
{
	if (bdev_savable(bdev))
		(*(unsigned int *)arg)++;
	return 0;
}

/* ---- subsystems ------------------------------------------------------------------ */

static int save_host(const char *hostnqn, void *arg)
{
	struct save *s = arg;

	if (!s->first)
		fputs(", ", s->f);
	s->first = false;
	put_str(s->f, hostnqn);
	return 0;
}

static int save_ns(const struct nvmf_info_ns *ns, void *arg)
{
	struct save *s = arg;
	char uuid[37], nguid[37];

	if (ns->removing)
		return 0;
	if (!ns->bdev || !bdev_savable(ns->bdev)) {
		fprintf(s->f, "\n      # namespace %u on bdev \"%s\" is not saved: "
			"its bdev is not", ns->nsid, ns->bdev_name);
		return 0;
	}
	if (!s->first)
		fputc(',', s->f);
	s->first = false;
	rpc_format_uuid(ns->uuid, uuid);
	rpc_format_uuid(ns->nguid, nguid);
	fputs("\n      { bdev = ", s->f);
	put_str(s->f, ns->bdev_name);
	fprintf(s->f, "; nsid = %u; uuid = \"%s\"; nguid = \"%s\"; }", ns->nsid,
		uuid, nguid);
	return 0;
}

/* The port actually bound: an ephemeral "0" would not come back. */
static void save_addr(struct save *s, const struct nvmft_listen_addr *a)
{
	struct nvmft_listener_info li;
	char port[32];
	int p = nvmft_tgt_listen_port(s->tgt, a);

	if (p > 0)
		snprintf(port, sizeof(port), "%d", p);
	else
		snprintf(port, sizeof(port), "%s", a->trsvcid);
	fputs("{ traddr = ", s->f);
	put_str(s->f, a->traddr);
	fputs("; trsvcid = ", s->f);
	put_str(s->f, port);
	fprintf(s->f, "; adrfam = \"%s\";", a->adrfam);
	/* the address's limit, shared by whoever listens there */
	if (nvmft_tgt_get_listener_info(s->tgt, a, &li) == 0 && li.max_connections)
		fprintf(s->f, " max_connections = %u;", li.max_connections);
	fputs(" }", s->f);
}

static int save_listener(const struct nvmft_listen_addr *a, void *arg)
{
	struct save *s = arg;

	if (!s->first)
		fputc(',', s->f);
	s->first = false;
	fputs("\n      ", s->f);
	save_addr(s, a);
	return 0;
}

static int save_subsystem(struct nvmft_subsystem *ss, void *arg)
{
	struct save *s = arg;
	struct nvmf_info_ss info;
	const char *in = "    ";
	FILE *f = s->f;

	nvmf_info_subsystem(ss, &info);
	if (info.discovery)
		return 0;
	list_sep(s);
	fputs("  {\n", f);
	put_kv_str(f, in, "nqn", info.nqn);
	put_kv_str(f, in, "serial", info.serial);
	put_kv_str(f, in, "model", info.model);
	put_kv_bool(f, in, "allow_any_host", info.allow_any_host);
	put_kv_int(f, in, "max_namespaces", info.max_namespaces);
	fprintf(f, "%shosts = ( ", in);
	s->first = true;
	nvmf_info_foreach_host(ss, save_host, s);
	fputs(" );\n", f);
	fprintf(f, "%snamespaces = (", in);
	s->first = true;
	nvmf_info_foreach_ns(ss, save_ns, s);
	fputs("\n    );\n", f);
	fprintf(f, "%slisteners = (", in);
	s->first = true;
	nvmf_info_foreach_listener(ss, save_listener, s);
	fputs("\n    );\n", f);
	fputs("  }", f);
	s->first = false;	/* back in the subsystem list */
	return 0;
}

static int save_discovery_listener(const struct nvmft_listen_addr *a, bool explicit,
				   void *arg)
{
	return explicit ? save_listener(a, arg) : 0;
}

static int save_referral(const struct nvmft_referral *ref, void *arg)
{
	struct save *s = arg;

	if (!s->first)
		fputc(',', s->f);
	s->first = false;
	fputs("\n      { traddr = ", s->f);
	put_str(s->f, ref->addr.traddr);
	fputs("; trsvcid = ", s->f);
	put_str(s->f, ref->addr.trsvcid);
	fprintf(s->f, "; adrfam = \"%s\"; subnqn = ", ref->addr.adrfam);
	put_str(s->f, ref->subnqn);
	fprintf(s->f, "; secure_channel = %s; }", ref->secure_channel ? "true" : "false");
	return 0;
}

static int count_subsystems(struct nvmft_subsystem *ss, void *arg)
{
	if (!nvmft_subsystem_is_discovery(ss))
		(*(unsigned int *)arg)++;
	return 0;
}

/* ---- the file ------------------------------------------------------------------------ */

int nvmft_rpc_save_config(struct nvmft_tgt *tgt, char **out)
{
	struct nvmft_runtime *rt = nvmft_tgt_get_runtime(tgt);
	struct save s = { .tgt = tgt };
	struct nvmft_hbd *hbd;
	unsigned int nr_pools = 0;
	struct nvmft_tgt_opts topts;
	unsigned int nr_bdevs = 0, nr_ss = 0, nr_transports = 0;
	char when[64], *text = NULL;
	size_t len = 0;
	struct tm tm;
	time_t now;

	s.f = open_memstream(&text, &len);
	if (!s.f)
		return -ENOMEM;
	now = time(NULL);
	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm);
	fprintf(s.f, "# nvmft %s configuration, saved %s\n", NVMFT_VERSION, when);
	fprintf(s.f, "# (running on %u reactor(s), %s engine; the reactor count "
		"and CPUs are left to the command line)\n\n",
		nvmft_runtime_nr_threads(rt),
		nvmft_engine_name(nvmft_runtime_engine(rt)));
	fprintf(s.f, "log_level = \"%s\";\n",
		rpc_log_level_name(nvmft_runtime_get_log_level(rt)));
	fprintf(s.f, "reactors = {\n  wait_mode = \"%s\";\n  idle_spin_us = %u;\n};\n\n",
		rpc_wait_mode_name(nvmft_runtime_get_wait_mode(rt)),
		nvmft_runtime_get_idle_spin_us(rt));

	nvmft_tgt_get_opts(tgt, &topts);
	fprintf(s.f, "target = {\n  max_connections = %u;\n  max_subsystems = %u;\n};\n\n",
		topts.max_connections, topts.max_subsystems);

	nvmf_info_foreach_transport(tgt, count_transport, &nr_transports);
	if (nr_transports) {
		fputs("transports = (\n", s.f);
		s.first = true;
		nvmf_info_foreach_transport(tgt, save_transport, &s);
		fputs("\n);\n\n", s.f);
	} else {
		/* (the loader then creates a TCP transport with defaults) */
		fputs("# no transport\n\n", s.f);
	}

	hbd = nvmft_hbd_get(nvmft_tgt_get_bdevs(tgt));
	nvmft_hbd_pool_foreach(hbd, count_hbd_pool, &nr_pools);
	if (nr_pools) {
		fputs("hbd_pools = (\n", s.f);
		s.first = true;
		nvmft_hbd_pool_foreach(hbd, save_hbd_pool, &s);
		fputs("\n);\n\n", s.f);
	}

	nvmft_bdev_foreach(nvmft_tgt_get_bdevs(tgt), note_unsaved_bdev, &s);
	nvmft_bdev_foreach(nvmft_tgt_get_bdevs(tgt), count_savable, &nr_bdevs);
	if (nr_bdevs) {
		fputs("bdevs = (\n", s.f);
		s.first = true;
		nvmft_bdev_foreach(nvmft_tgt_get_bdevs(tgt), save_bdev, &s);
		fputs("\n);\n\n", s.f);
	}

	nvmft_subsystem_foreach(tgt, count_subsystems, &nr_ss);
	if (nr_ss) {
		fputs("subsystems = (\n", s.f);
		s.first = true;
		nvmft_subsystem_foreach(tgt, save_subsystem, &s);
		fputs("\n);\n\n", s.f);
	}

	fputs("discovery = {\n  listeners = (", s.f);
	s.first = true;
	nvmf_info_foreach_tgt_listener(tgt, save_discovery_listener, &s);
	fputs("\n  );\n  referrals = (", s.f);
	s.first = true;
	nvmft_tgt_foreach_referral(tgt, save_referral, &s);
	fputs("\n  );\n};\n", s.f);

	if (fclose(s.f) || !text) {
		free(text);
		return -ENOMEM;
	}
	*out = text;
	return 0;
}
