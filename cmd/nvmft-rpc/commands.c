// SPDX-License-Identifier: MIT
/*
 * Subcommands of nvmft-rpc. Each maps SPDK rpc.py-style arguments (the
 * same positionals and flags, so that scripts translate word for word)
 * onto the method's JSON params through a small table; a few need a
 * finishing step (sizes in MiB → blocks, enable/disable flags).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

enum arg_type {
	A_STR = 0,	/* string */
	A_UINT,		/* unsigned integer */
	A_TRUE,		/* flag: the key is true */
	A_FALSE,	/* flag: the key is false */
	A_MB,		/* size in MiB (may have a fraction) */
};

struct arg {
	char opt;		/* short option, or 0 for a positional */
	const char *longopt;
	const char *key;	/* "a" or "a.b": member of a nested object */
	enum arg_type type;
	bool required;		/* positionals: not optional */
	const char *meta;	/* for the usage line */
};

struct cmd {
	const char *name;
	const char *method;	/* NULL: same as name */
	const char *help;
	const struct arg *args;
	int (*finish)(struct json_object *params);
	enum out_style style;
};

/* ---- finishing steps ------------------------------------------------------- */

/* rpc.py's sizes: total_size MiB and block_size → num_blocks. */
static int mb_to_blocks(struct json_object *params)
{
	struct json_object *mb, *bs;
	double blocks;

	if (!json_object_object_get_ex(params, "total_size", &mb) ||
	    !json_object_object_get_ex(params, "block_size", &bs))
		return 0;
	if (json_object_get_int64(bs) <= 0) {
		fprintf(stderr, "nvmft-rpc: block_size must be positive\n");
		return EXIT_RPC_USAGE;
	}
	blocks = json_object_get_double(mb) * 1024.0 * 1024.0 /
		 (double)json_object_get_int64(bs);
	if (blocks < 1 || blocks > 9.0e18) {
		fprintf(stderr, "nvmft-rpc: total_size %g MiB is not at least one "
			"block\n", json_object_get_double(mb));
		return EXIT_RPC_USAGE;
	}
	json_object_object_del(params, "total_size");
	json_object_object_add(params, "num_blocks",
			       json_object_new_uint64((uint64_t)blocks));
	return 0;
}

static int need_allow_any_host(struct json_object *params)
{
	if (!json_object_object_get_ex(params, "allow_any_host", NULL)) {
		fprintf(stderr, "nvmft-rpc: give -e (enable) or -d (disable)\n");
		return EXIT_RPC_USAGE;
	}
	return 0;
}

/* ---- the table --------------------------------------------------------------- */

#define POS(key, meta)		{ 0, NULL, key, A_STR, true, meta }
#define POS_UINT(key, meta)	{ 0, NULL, key, A_UINT, true, meta }
#define POS_OPT(key, meta)	{ 0, NULL, key, A_STR, false, meta }
#define POS_OPT_UINT(key, meta)	{ 0, NULL, key, A_UINT, false, meta }
#define OPT(c, l, key, t, meta)	{ c, l, key, t, false, meta }
#define REQOPT(c, l, key, t, meta) { c, l, key, t, true, meta }
#define END			{ 0, NULL, NULL, A_STR, false, NULL }

static const struct arg no_args[] = { END };

static const struct arg a_malloc_create[] = {
	OPT('b', "name", "name", A_STR, "NAME"),
	OPT('u', "uuid", "uuid", A_STR, "UUID"),
	{ 0, NULL, "total_size", A_MB, true, "TOTAL_SIZE_MIB" },
	POS_UINT("block_size", "BLOCK_SIZE"),
	END
};
static const struct arg a_null_create[] = {
	POS("name", "NAME"),
	{ 0, NULL, "total_size", A_MB, true, "TOTAL_SIZE_MIB" },
	POS_UINT("block_size", "BLOCK_SIZE"),
	OPT('u', "uuid", "uuid", A_STR, "UUID"),
	END
};
static const struct arg a_uring_create[] = {
	POS("filename", "FILENAME"),
	POS("name", "NAME"),
	POS_OPT_UINT("block_size", "BLOCK_SIZE"),
	OPT('u', "uuid", "uuid", A_STR, "UUID"),
	OPT('B', "buffered", "buffered", A_TRUE, NULL),
	END
};
static const struct arg a_name[] = { POS("name", "NAME"), END };
static const struct arg a_get_bdevs[] = {
	OPT('b', "name", "name", A_STR, "NAME"),
	END
};
static const struct arg a_create_transport[] = {
	REQOPT('t', "trtype", "trtype", A_STR, "TRTYPE"),
	OPT('q', "max-queue-depth", "max_queue_depth", A_UINT, "N"),
	OPT('m', "max-io-qpairs-per-ctrlr", "max_io_qpairs_per_ctrlr", A_UINT, "N"),
	OPT('p', "max-qpairs-per-ctrlr", "max_qpairs_per_ctrlr", A_UINT, "N"),
	OPT('c', "in-capsule-data-size", "in_capsule_data_size", A_UINT, "BYTES"),
	OPT('i', "max-io-size", "max_io_size", A_UINT, "BYTES"),
	OPT('u', "io-unit-size", "io_unit_size", A_UINT, "BYTES"),
	OPT('a', "max-aq-depth", "max_aq_depth", A_UINT, "N"),
	OPT('n', "num-shared-buffers", "num_shared_buffers", A_UINT, "N"),
	OPT('o', "c2h-success", "c2h_success", A_FALSE, NULL),
	OPT('R', "max-r2t", "max_r2t", A_UINT, "N"),
	OPT('I', "icreq-timeout-ms", "icreq_timeout_ms", A_UINT, "MS"),
	OPT('l', "backlog", "backlog", A_UINT, "N"),
	OPT('z', "zcopy-threshold", "zcopy_threshold", A_UINT, "BYTES"),
	END
};
static const struct arg a_get_transports[] = {
	OPT('t', "trtype", "trtype", A_STR, "TRTYPE"),
	END
};
static const struct arg a_create_subsystem[] = {
	POS("nqn", "NQN"),
	OPT('s', "serial-number", "serial_number", A_STR, "SERIAL"),
	OPT('d', "model-number", "model_number", A_STR, "MODEL"),
	OPT('a', "allow-any-host", "allow_any_host", A_TRUE, NULL),
	OPT('m', "max-namespaces", "max_namespaces", A_UINT, "N"),
	END
};
static const struct arg a_nqn[] = { POS("nqn", "NQN"), END };
static const struct arg a_nqn_opt[] = { POS_OPT("nqn", "NQN"), END };
static const struct arg a_listener[] = {
	POS("nqn", "NQN"),
	REQOPT('t', "trtype", "listen_address.trtype", A_STR, "TRTYPE"),
	REQOPT('a', "traddr", "listen_address.traddr", A_STR, "TRADDR"),
	OPT('f', "adrfam", "listen_address.adrfam", A_STR, "ADRFAM"),
	OPT('s', "trsvcid", "listen_address.trsvcid", A_STR, "TRSVCID"),
	END
};
/* rpc.py's listener arguments, plus our listener's connection limit. */
static const struct arg a_add_listener[] = {
	POS("nqn", "NQN"),
	REQOPT('t', "trtype", "listen_address.trtype", A_STR, "TRTYPE"),
	REQOPT('a', "traddr", "listen_address.traddr", A_STR, "TRADDR"),
	OPT('f', "adrfam", "listen_address.adrfam", A_STR, "ADRFAM"),
	OPT('s', "trsvcid", "listen_address.trsvcid", A_STR, "TRSVCID"),
	OPT('M', "max-connections", "max_connections", A_UINT, "N"),
	END
};
static const struct arg a_add_referral[] = {
	REQOPT('t', "trtype", "address.trtype", A_STR, "TRTYPE"),
	REQOPT('a', "traddr", "address.traddr", A_STR, "TRADDR"),
	OPT('f', "adrfam", "address.adrfam", A_STR, "ADRFAM"),
	REQOPT('s', "trsvcid", "address.trsvcid", A_STR, "TRSVCID"),
	OPT('n', "subnqn", "subnqn", A_STR, "NQN"),
	OPT('k', "secure-channel", "secure_channel", A_TRUE, NULL),
	END
};
static const struct arg a_remove_referral[] = {
	REQOPT('t', "trtype", "address.trtype", A_STR, "TRTYPE"),
	REQOPT('a', "traddr", "address.traddr", A_STR, "TRADDR"),
	OPT('f', "adrfam", "address.adrfam", A_STR, "ADRFAM"),
	REQOPT('s', "trsvcid", "address.trsvcid", A_STR, "TRSVCID"),
	OPT('n', "subnqn", "subnqn", A_STR, "NQN"),
	END
};
static const struct arg a_add_ns[] = {
	POS("nqn", "NQN"),
	POS("namespace.bdev_name", "BDEV_NAME"),
	OPT('n', "nsid", "namespace.nsid", A_UINT, "NSID"),
	OPT('u', "uuid", "namespace.uuid", A_STR, "UUID"),
	OPT('g', "nguid", "namespace.nguid", A_STR, "NGUID"),
	END
};
static const struct arg a_remove_ns[] = {
	POS("nqn", "NQN"),
	POS_UINT("nsid", "NSID"),
	END
};
static const struct arg a_host[] = { POS("nqn", "NQN"), POS("host", "HOST_NQN"), END };
static const struct arg a_allow_any_host[] = {
	POS("nqn", "NQN"),
	OPT('e', "enable", "allow_any_host", A_TRUE, NULL),
	OPT('d', "disable", "allow_any_host", A_FALSE, NULL),
	END
};
static const struct arg a_level[] = { POS("level", "LEVEL"), END };
static const struct arg a_wait_mode[] = {
	POS_OPT("mode", "adaptive|poll|interrupt"),
	OPT('s', "idle-spin-us", "idle_spin_us", A_UINT, "US"),
	END
};
static const struct arg a_hbd_pool_create[] = {
	POS("name", "NAME"),
	POS("uri", "URI"),
	OPT('i', "health-interval-ms", "health_interval_ms", A_UINT, "MS"),
	OPT('c', "connect-timeout-ms", "connect_timeout_ms", A_UINT, "MS"),
	OPT('r', "retry-backoff-ms", "retry_backoff_ms", A_UINT, "MS"),
	OPT('R', "retry-backoff-max-ms", "retry_backoff_max_ms", A_UINT, "MS"),
	OPT('d', "down-after", "down_after", A_UINT, "N"),
	OPT('l', "degraded-latency-ms", "degraded_latency_ms", A_UINT, "MS"),
	OPT('t', "io-timeout-ms", "io_timeout_ms", A_UINT, "MS"),
	END
};
static const struct arg a_hbd_get_pools[] = {
	OPT('p', "name", "name", A_STR, "NAME"),
	END
};
static const struct arg a_hbd_create[] = {
	POS("name", "NAME"),
	POS("pool", "POOL"),
	OPT('e', "export", "export", A_STR, "EXPORT"),
	OPT('b', "block-size", "block_size", A_UINT, "BYTES"),
	OPT('u', "uuid", "uuid", A_STR, "UUID"),
	END
};

static const struct cmd cmds[] = {
	{ .name = "rpc_get_methods", .help = "list the server's methods", .args = no_args },
	{ .name = "spdk_get_version", .help = "version of the target", .args = no_args },
	{ .name = "framework_wait_init", .help = "wait until initialised", .args = no_args },
	{ .name = "save_config", .help = "print the running configuration (libconfig)",
	  .args = no_args, .style = OUT_RAW_STRING },
	{ .name = "nvmft_set_log_level", .help = "error|warning|notice|info|debug",
	  .args = a_level },
	{ .name = "nvmft_get_log_level", .help = "current log level", .args = no_args },
	{ .name = "nvmft_get_reactors", .help = "reactors and their counters",
	  .args = no_args },
	{ .name = "nvmft_set_wait_mode",
	  .help = "reactors' wait mode and/or adaptive spin time (-s US)",
	  .args = a_wait_mode },
	{ .name = "bdev_malloc_create", .help = "RAM bdev of TOTAL_SIZE_MIB",
	  .args = a_malloc_create, .finish = mb_to_blocks },
	{ .name = "bdev_malloc_delete", .help = "delete a RAM bdev", .args = a_name },
	{ .name = "bdev_null_create", .help = "null bdev of TOTAL_SIZE_MIB",
	  .args = a_null_create, .finish = mb_to_blocks },
	{ .name = "bdev_null_delete", .help = "delete a null bdev", .args = a_name },
	{ .name = "bdev_uring_create", .help = "bdev on a file or block device",
	  .args = a_uring_create },
	{ .name = "bdev_uring_delete", .help = "delete a uring bdev", .args = a_name },
	{ .name = "bdev_uring_rescan", .help = "re-read a uring bdev's size",
	  .args = a_name },
	{ .name = "bdev_get_bdevs", .help = "list bdevs", .args = a_get_bdevs },
	{ .name = "bdev_hbd_pool_create", .help = "add an hbd pool (NBD server URI)",
	  .args = a_hbd_pool_create },
	{ .name = "bdev_hbd_pool_delete", .help = "remove an hbd pool without volumes",
	  .args = a_name },
	{ .name = "bdev_hbd_get_pools", .help = "list hbd pools",
	  .args = a_hbd_get_pools },
	{ .name = "bdev_hbd_create", .help = "hbd bdev on an export of POOL",
	  .args = a_hbd_create },
	{ .name = "bdev_hbd_delete", .help = "delete an hbd bdev", .args = a_name },
	{ .name = "nvmf_create_transport", .help = "create a transport (-t tcp)",
	  .args = a_create_transport },
	{ .name = "nvmf_get_transports", .help = "list transports",
	  .args = a_get_transports },
	{ .name = "nvmf_create_subsystem", .help = "create a subsystem",
	  .args = a_create_subsystem },
	{ .name = "nvmf_delete_subsystem", .help = "delete a subsystem", .args = a_nqn },
	{ .name = "nvmf_get_subsystems", .help = "list subsystems", .args = a_nqn_opt },
	{ .name = "nvmf_subsystem_add_listener", .help = "add a listen address",
	  .args = a_add_listener },
	{ .name = "nvmf_subsystem_remove_listener", .help = "remove a listen address",
	  .args = a_listener },
	{ .name = "nvmf_subsystem_add_ns", .help = "add a namespace", .args = a_add_ns },
	{ .name = "nvmf_subsystem_remove_ns", .help = "remove a namespace",
	  .args = a_remove_ns },
	{ .name = "nvmf_subsystem_add_host", .help = "allow a host", .args = a_host },
	{ .name = "nvmf_subsystem_remove_host", .help = "disallow a host", .args = a_host },
	{ .name = "nvmf_subsystem_allow_any_host", .help = "-e: any host, -d: listed only",
	  .args = a_allow_any_host, .finish = need_allow_any_host },
	{ .name = "nvmf_subsystem_get_controllers", .help = "controllers of a subsystem",
	  .args = a_nqn },
	{ .name = "nvmf_subsystem_get_qpairs", .help = "queue pairs of a subsystem",
	  .args = a_nqn },
	{ .name = "nvmf_get_stats", .help = "statistics", .args = no_args },
	{ .name = "nvmf_discovery_get_referrals", .help = "discovery referrals",
	  .args = no_args },
	{ .name = "nvmf_discovery_add_referral",
	  .help = "list another discovery service in the discovery log",
	  .args = a_add_referral },
	{ .name = "nvmf_discovery_remove_referral", .help = "remove a referral",
	  .args = a_remove_referral },
};

/* ---- usage ----------------------------------------------------------------------- */

static void cmd_line(FILE *f, const struct cmd *c)
{
	const struct arg *a;

	fprintf(f, "  %s", c->name);
	for (a = c->args; a->key; a++) {
		if (a->opt)
			continue;
		fprintf(f, a->required ? " %s" : " [%s]", a->meta);
	}
	for (a = c->args; a->key; a++) {
		if (!a->opt)
			continue;
		if (a->meta)
			fprintf(f, a->required ? " -%c %s" : " [-%c %s]", a->opt, a->meta);
		else
			fprintf(f, " [-%c]", a->opt);
	}
	fprintf(f, "\n      %s\n", c->help);
}

void cmd_usage(FILE *f)
{
	size_t i;

	fprintf(f, "Commands (the parameters of SPDK's rpc.py):\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		cmd_line(f, &cmds[i]);
	fprintf(f, "  call METHOD [JSON_PARAMS]\n      any method, params as a JSON object\n"
		   "  save-config [-o FILE]\n      write the running configuration "
		   "(libconfig) to FILE or stdout\n"
		   "  METHOD [JSON_PARAMS]\n      a method this client has no "
		   "subcommand for\n");
}

/* ---- building params --------------------------------------------------------------- */

/* The object holding "a.b"'s last part, created on the way. */
static struct json_object *member_parent(struct json_object *params, const char *key,
					 const char **leaf)
{
	const char *dot = strchr(key, '.');
	struct json_object *sub;
	char head[64];

	if (!dot) {
		*leaf = key;
		return params;
	}
	snprintf(head, sizeof(head), "%.*s", (int)(dot - key), key);
	if (!json_object_object_get_ex(params, head, &sub)) {
		sub = json_object_new_object();
		json_object_object_add(params, head, sub);
	}
	*leaf = dot + 1;
	return sub;
}

static int set_value(struct json_object *params, const struct arg *a, const char *v)
{
	struct json_object *parent, *val;
	const char *leaf;
	char *end;

	switch (a->type) {
	case A_STR:
		val = json_object_new_string(v);
		break;
	case A_UINT: {
		unsigned long long u;

		errno = 0;
		u = strtoull(v, &end, 0);
		if (errno || end == v || *end || v[0] == '-') {
			fprintf(stderr, "nvmft-rpc: %s: \"%s\" is not an unsigned "
				"integer\n", a->meta ? a->meta : a->key, v);
			return EXIT_RPC_USAGE;
		}
		val = json_object_new_uint64(u);
		break;
	}
	case A_MB: {
		double d;

		errno = 0;
		d = strtod(v, &end);
		if (errno || end == v || *end || !(d > 0)) {
			fprintf(stderr, "nvmft-rpc: %s: \"%s\" is not a positive size "
				"in MiB\n", a->meta, v);
			return EXIT_RPC_USAGE;
		}
		val = json_object_new_double(d);
		break;
	}
	case A_TRUE:
		val = json_object_new_boolean(true);
		break;
	case A_FALSE:
	default:
		val = json_object_new_boolean(false);
		break;
	}
	parent = member_parent(params, a->key, &leaf);
	json_object_object_add(parent, leaf, val);
	return 0;
}

__attribute__((format(printf, 2, 3)))
static int usage_error(const struct cmd *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "nvmft-rpc: %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage:\n");
	cmd_line(stderr, c);
	return EXIT_RPC_USAGE;
}

static int parse_table(const struct cmd *c, int argc, char **argv,
		       struct json_object *params)
{
	struct option longopts[24];
	char shortopts[64];
	const struct arg *a;
	size_t nl = 0, ns = 0;
	int opt, rc, pos = 0;

	/* "+" off: GNU getopt permutes, so flags may follow positionals as
	 * with argparse. Leading ":" reports missing arguments. */
	shortopts[ns++] = ':';
	for (a = c->args; a->key; a++) {
		if (!a->opt)
			continue;
		shortopts[ns++] = a->opt;
		if (a->type != A_TRUE && a->type != A_FALSE)
			shortopts[ns++] = ':';
		longopts[nl++] = (struct option){ a->longopt,
			a->type == A_TRUE || a->type == A_FALSE ? no_argument :
			required_argument, NULL, a->opt };
	}
	shortopts[ns] = '\0';
	longopts[nl] = (struct option){ NULL, 0, NULL, 0 };
	optind = 0;	/* GNU: restart scanning */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (opt == '?')
			return usage_error(c, "unknown option %s", argv[optind - 1]);
		if (opt == ':')
			return usage_error(c, "option %s needs a value", argv[optind - 1]);
		for (a = c->args; a->key; a++) {
			if (a->opt == opt)
				break;
		}
		rc = set_value(params, a, optarg);
		if (rc)
			return rc;
	}
	for (a = c->args; a->key; a++) {
		if (a->opt)
			continue;
		if (optind + pos >= argc) {
			if (a->required)
				return usage_error(c, "%s is missing", a->meta);
			continue;
		}
		rc = set_value(params, a, argv[optind + pos]);
		if (rc)
			return rc;
		pos++;
	}
	if (optind + pos < argc)
		return usage_error(c, "unexpected argument \"%s\"", argv[optind + pos]);
	for (a = c->args; a->key; a++) {
		const char *leaf;
		struct json_object *parent;

		if (!a->opt || !a->required)
			continue;
		parent = member_parent(params, a->key, &leaf);
		if (!json_object_object_get_ex(parent, leaf, NULL)) {
			char flag[8];

			snprintf(flag, sizeof(flag), "-%c", a->opt);
			return usage_error(c, "%s is required", flag);
		}
	}
	return c->finish ? c->finish(params) : 0;
}

/* METHOD [JSON]: params given as one JSON object. */
static int parse_json_params(const char *method, int argc, char **argv,
			     struct json_object **params)
{
	enum json_tokener_error err;

	if (argc > 1) {
		fprintf(stderr, "nvmft-rpc: %s: give the params as one JSON object "
			"argument\n", method);
		return EXIT_RPC_USAGE;
	}
	if (argc == 0)
		return 0;
	*params = json_tokener_parse_verbose(argv[0], &err);
	if (!*params || !json_object_is_type(*params, json_type_object)) {
		fprintf(stderr, "nvmft-rpc: %s: params \"%s\" is not a JSON object%s%s\n",
			method, argv[0], *params ? "" : ": ",
			*params ? "" : json_tokener_error_desc(err));
		json_object_put(*params);
		*params = NULL;
		return EXIT_RPC_USAGE;
	}
	return 0;
}

static int parse_save_config(int argc, char **argv, struct cmd_request *out)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":o:", longopts, NULL)) != -1) {
		if (opt != 'o') {
			fprintf(stderr, "nvmft-rpc: save-config [-o FILE]\n");
			return EXIT_RPC_USAGE;
		}
		out->out_file = optarg;
	}
	if (optind < argc) {
		fprintf(stderr, "nvmft-rpc: save-config [-o FILE]: unexpected \"%s\"\n",
			argv[optind]);
		return EXIT_RPC_USAGE;
	}
	out->method = "save_config";
	out->style = OUT_RAW_STRING;
	return 0;
}

int cmd_parse(int argc, char **argv, struct cmd_request *out)
{
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	out->style = OUT_DEFAULT;
	if (!strcmp(argv[0], "save-config"))
		return parse_save_config(argc, argv, out);
	if (!strcmp(argv[0], "call")) {
		if (argc < 2) {
			fprintf(stderr, "nvmft-rpc: call METHOD [JSON_PARAMS]\n");
			return EXIT_RPC_USAGE;
		}
		out->method = argv[1];
		out->style = OUT_JSON;
		return parse_json_params(argv[1], argc - 2, argv + 2, &out->params);
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		const struct cmd *c = &cmds[i];

		if (strcmp(c->name, argv[0]))
			continue;
		out->method = c->method ? c->method : c->name;
		out->style = c->style ? c->style : OUT_DEFAULT;
		/* A JSON object instead of the arguments works for any. */
		if (argc == 2 && argv[1][0] == '{')
			return parse_json_params(c->name, 1, argv + 1, &out->params);
		if (c->args[0].key) {
			out->params = json_object_new_object();
			rc = parse_table(c, argc, argv, out->params);
			if (rc) {
				json_object_put(out->params);
				out->params = NULL;
				return rc;
			}
		} else if (argc > 1) {
			return usage_error(c, "%s takes no arguments", c->name);
		}
		return 0;
	}
	out->method = argv[0];
	return parse_json_params(argv[0], argc - 1, argv + 1, &out->params);
}
