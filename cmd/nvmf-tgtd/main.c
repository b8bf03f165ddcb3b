// SPDX-License-Identifier: MIT
/*
 * nvmf-tgtd: the NVMe/TCP target daemon. Reads a libconfig file (or serves
 * the embedded default), starts the reactors, builds the target, and runs
 * until SIGINT/SIGTERM, then disconnects hosts cleanly and exits 0.
 * Under systemd (Type=notify) it reports READY=1 once the configuration
 * is applied and the RPC socket serves, and STOPPING=1 when told to stop.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include <nvmft/config.h>
#include <nvmft/nvmf.h>
#include <nvmft/rpc.h>
#include <nvmft/runtime.h>

#include "notify.h"

#ifndef NVMFT_VERSION
#define NVMFT_VERSION "unknown"
#endif

struct daemon_opts {
	const char *config;
	const char *cpus;
	int reactors;
	int log_level;			/* -1: from the config */
	int wait_mode;			/* -1: from the config */
	long idle_spin_us;		/* -1: from the config */
	int engine;			/* -1: from the config */
	const char *pidfile;
	const char *rpc_sock;
	bool syslog;
	long max_connections;		/* 0: from the config */
};

#define OPT_SYSLOG	0x100
#define OPT_IDLE_SPIN	0x110
#define OPT_MAX_CONNS	0x120

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: nvmf-tgtd [OPTIONS]\n"
		"NVMe-over-Fabrics TCP target.\n\n"
		"  -c, --config FILE      libconfig file (default: a 1 GiB RAM namespace\n"
		"                         " NVMFT_DEFAULT_NQN " on 127.0.0.1:4420)\n"
		"  -m, --cpus LIST        pin reactors to these CPUs (\"0-3,6\")\n"
		"  -n, --reactors N       number of reactors (default: CPUs available)\n"
		"  -w, --wait-mode MODE   adaptive (default), poll or interrupt\n"
		"      --idle-spin-us N   adaptive mode: idle microseconds before a\n"
		"                         reactor sleeps (0..1000000, default 200)\n"
		"  -e, --engine ENGINE    auto (default), uring or epoll\n"
		"  -L, --log-level LEVEL  error, warning, notice (default), info, debug\n"
		"      --max-connections N\n"
		"                         connections the target accepts at once\n"
		"                         (1..1000000; overrides the config's\n"
		"                         target.max_connections, default 4096)\n"
		"      --syslog           log to syslog (daemon facility) instead of stderr\n"
		"  -p, --pidfile FILE     write the process id to FILE\n"
		"  -r, --rpc-socket PATH  JSON-RPC Unix socket (default " NVMFT_RPC_DEFAULT_SOCK ")\n"
		"  -t, --check-config     validate the configuration and exit\n"
		"  -h, --help             this help\n"
		"  -V, --version          print the version\n");
}

static int parse_level(const char *s)
{
	static const char *names[] = { "error", "warning", "notice", "info", "debug" };

	for (int i = 0; i < 5; i++)
		if (!strcasecmp(s, names[i]))
			return NVMFT_LOG_ERR + i;
	return -1;
}

static int write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fprintf(f, "%d\n", (int)getpid());
	return fclose(f) ? -errno : 0;
}

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void destroy_done(void *arg, int rc)
{
	struct waiter *w = arg;

	(void)rc;
	pthread_mutex_lock(&w->lock);
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

struct tgt_call {
	struct nvmft_runtime *rt;
	const struct nvmft_config *cfg;
	uint32_t max_connections;	/* 0: the config's */
	struct nvmft_tgt *tgt;
	struct waiter *w;
	int rc;
	const char *rpc_sock;
	struct nvmft_rpc_server *rpc;
};

static void tgt_create_on_app(void *arg)
{
	struct tgt_call *c = arg;
	struct nvmft_tgt_opts o;

	nvmft_config_tgt_opts(c->cfg, &o);
	o.name = "nvmf-tgtd";
	if (c->max_connections)
		o.max_connections = c->max_connections;
	c->rc = nvmft_tgt_create(c->rt, &o, &c->tgt);
}

/* --max-connections again after the config applied its own. */
static void tgt_max_conns_on_app(void *arg)
{
	struct tgt_call *c = arg;

	c->rc = nvmft_tgt_set_max_connections(c->tgt, c->max_connections);
}

static void tgt_destroy_on_app(void *arg)
{
	struct tgt_call *c = arg;

	nvmft_tgt_destroy(c->tgt, destroy_done, c->w);
}

static void rpc_create_on_app(void *arg)
{
	struct tgt_call *c = arg;

	c->rc = nvmft_rpc_server_create(c->tgt, c->rpc_sock, 0600, &c->rpc);
}

static void rpc_destroy_on_app(void *arg)
{
	struct tgt_call *c = arg;

	nvmft_rpc_server_destroy(c->rpc, destroy_done, c->w);
}

/* Stop serving RPC (before the target it manages goes) and wait. */
static void rpc_shutdown(struct nvmft_runtime *rt, struct tgt_call *call)
{
	struct waiter w = { .lock = PTHREAD_MUTEX_INITIALIZER,
			    .cond = PTHREAD_COND_INITIALIZER };

	call->w = &w;
	if (nvmft_runtime_exec(rt, 0, rpc_destroy_on_app, call))
		return;
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	call->rpc = NULL;
}

/* Tear the target down and wait; hosts get their connections closed
 * after in-flight commands finish. */
static void tgt_shutdown(struct nvmft_runtime *rt, struct nvmft_tgt *tgt)
{
	struct waiter w = { .lock = PTHREAD_MUTEX_INITIALIZER,
			    .cond = PTHREAD_COND_INITIALIZER };
	struct tgt_call c = { .rt = rt, .tgt = tgt, .w = &w };

	if (nvmft_runtime_exec(rt, 0, tgt_destroy_on_app, &c))
		return;
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
}

/* Tell the service manager (if any); a failure is worth a warning only:
 * the target serves either way. */
static void notify(struct nvmft_runtime *rt, const char *state)
{
	int rc = tgtd_notify(state);

	if (rc < 0)
		nvmft_log(rt, NVMFT_LOG_WARN, "NOTIFY_SOCKET: cannot notify the "
			  "service manager: %s", strerror(-rc));
}

static int parse_args(int argc, char **argv, struct daemon_opts *o, bool *check)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "cpus", required_argument, NULL, 'm' },
		{ "reactors", required_argument, NULL, 'n' },
		{ "wait-mode", required_argument, NULL, 'w' },
		{ "engine", required_argument, NULL, 'e' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "rpc-socket", required_argument, NULL, 'r' },
		{ "check-config", no_argument, NULL, 't' },
		{ "syslog", no_argument, NULL, OPT_SYSLOG },
		{ "max-connections", required_argument, NULL, OPT_MAX_CONNS },
		{ "idle-spin-us", required_argument, NULL, OPT_IDLE_SPIN },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:m:n:w:e:L:p:r:thV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 'm': o->cpus = optarg; break;
		case 'n':
			o->reactors = atoi(optarg);
			if (o->reactors <= 0 || o->reactors > 1024) {
				fprintf(stderr, "nvmf-tgtd: --reactors: \"%s\" is not 1..1024\n", optarg);
				return 2;
			}
			break;
		case 'w':
			if (!strcmp(optarg, "adaptive")) o->wait_mode = NVMFT_WAIT_ADAPTIVE;
			else if (!strcmp(optarg, "poll")) o->wait_mode = NVMFT_WAIT_POLL;
			else if (!strcmp(optarg, "interrupt")) o->wait_mode = NVMFT_WAIT_INTERRUPT;
			else {
				fprintf(stderr, "nvmf-tgtd: --wait-mode: \"%s\" is not adaptive, poll or interrupt\n", optarg);
				return 2;
			}
			break;
		case 'e':
			if (!strcmp(optarg, "auto")) o->engine = NVMFT_ENGINE_AUTO;
			else if (!strcmp(optarg, "uring")) o->engine = NVMFT_ENGINE_URING;
			else if (!strcmp(optarg, "epoll")) o->engine = NVMFT_ENGINE_EPOLL;
			else {
				fprintf(stderr, "nvmf-tgtd: --engine: \"%s\" is not auto, uring or epoll\n", optarg);
				return 2;
			}
			break;
		case 'L':
			o->log_level = parse_level(optarg);
			if (o->log_level < 0) {
				fprintf(stderr, "nvmf-tgtd: --log-level: \"%s\" is not error, warning, notice, info or debug\n", optarg);
				return 2;
			}
			break;
		case 'p': o->pidfile = optarg; break;
		case 'r': o->rpc_sock = optarg; break;
		case 't': *check = true; break;
		case OPT_SYSLOG: o->syslog = true; break;
		case OPT_MAX_CONNS: {
			char *end;

			errno = 0;
			o->max_connections = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || o->max_connections < 1 ||
			    o->max_connections > (long)NVMFT_MAX_CONNECTIONS_LIMIT) {
				fprintf(stderr, "nvmf-tgtd: --max-connections: \"%s\" is not 1..%u\n",
					optarg, NVMFT_MAX_CONNECTIONS_LIMIT);
				return 2;
			}
			break;
		}
		case OPT_IDLE_SPIN: {
			char *end;

			errno = 0;
			o->idle_spin_us = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || o->idle_spin_us < 0 ||
			    o->idle_spin_us > (long)NVMFT_IDLE_SPIN_US_MAX) {
				fprintf(stderr, "nvmf-tgtd: --idle-spin-us: \"%s\" is not 0..%u\n",
					optarg, NVMFT_IDLE_SPIN_US_MAX);
				return 2;
			}
			break;
		}
		case 'h': usage(stdout); exit(0);
		case 'V': printf("nvmf-tgtd %s\n", NVMFT_VERSION); exit(0);
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "nvmf-tgtd: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct daemon_opts o = { .log_level = -1, .wait_mode = -1, .engine = -1,
				 .idle_spin_us = -1,
				 .rpc_sock = NVMFT_RPC_DEFAULT_SOCK };
	struct nvmft_runtime_opts ropts;
	struct nvmft_config *cfg = NULL;
	struct nvmft_runtime *rt = NULL;
	struct tgt_call call = { 0 };
	char err[1024], hint[4096];
	bool check = false;
	sigset_t sigs;
	int rc, sig, status = 1;

	rc = parse_args(argc, argv, &o, &check);
	if (rc)
		return rc;

	if (o.config)
		rc = nvmft_config_load(o.config, &cfg, err, sizeof(err));
	else
		rc = nvmft_config_load_string(nvmft_config_default_text(),
					      "(embedded default)", &cfg, err,
					      sizeof(err));
	if (rc) {
		fprintf(stderr, "nvmf-tgtd: %s\n", err);
		return 1;
	}
	if (check) {
		printf("%s: configuration OK\n", o.config ? o.config : "(embedded default)");
		nvmft_config_free(cfg);
		return 0;
	}

	/* Reactors inherit this mask: only the main thread takes signals. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	nvmft_config_runtime_opts(cfg, &ropts);
	if (o.cpus) {
		ropts.cpus = o.cpus;
		ropts.pin = true;
	}
	if (o.reactors > 0)
		ropts.nr_reactors = (unsigned int)o.reactors;
	if (o.wait_mode >= 0)
		ropts.wait_mode = (enum nvmft_wait_mode)o.wait_mode;
	if (o.idle_spin_us >= 0)
		ropts.idle_spin_us = (unsigned int)o.idle_spin_us;
	if (o.engine >= 0)
		ropts.engine = (enum nvmft_engine)o.engine;
	ropts.name = "tgtd";

	rc = nvmft_runtime_create(&ropts, &rt);
	if (rc) {
		fprintf(stderr, "nvmf-tgtd: cannot create the reactors: %s\n", strerror(-rc));
		goto out_cfg;
	}
	if (o.syslog)
		openlog("nvmf-tgtd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	nvmft_runtime_set_log(rt, o.log_level >= 0 ? (enum nvmft_log_level)o.log_level
						   : nvmft_config_log_level(cfg),
			      o.syslog ? nvmft_log_syslog : NULL, NULL);
	rc = nvmft_runtime_start(rt);
	if (rc) {
		fprintf(stderr, "nvmf-tgtd: cannot start the reactors: %s\n", strerror(-rc));
		goto out_rt;
	}
	call.rt = rt;
	call.cfg = cfg;
	call.max_connections = (uint32_t)o.max_connections;
	rc = nvmft_runtime_exec(rt, 0, tgt_create_on_app, &call);
	if (rc || call.rc) {
		fprintf(stderr, "nvmf-tgtd: cannot create the target: %s\n",
			strerror(-(rc ? rc : call.rc)));
		goto out_stop;
	}
	rc = nvmft_config_apply(cfg, call.tgt, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "nvmf-tgtd: %s\n", err);
		goto out_tgt;
	}
	if (call.max_connections &&
	    ((rc = nvmft_runtime_exec(rt, 0, tgt_max_conns_on_app, &call)) || call.rc)) {
		fprintf(stderr, "nvmf-tgtd: --max-connections: %s\n",
			strerror(-(rc ? rc : call.rc)));
		goto out_tgt;
	}
	if (o.pidfile && (rc = write_pidfile(o.pidfile))) {
		fprintf(stderr, "nvmf-tgtd: --pidfile %s: %s\n", o.pidfile, strerror(-rc));
		goto out_tgt;
	}

	call.rpc_sock = o.rpc_sock;
	rc = nvmft_runtime_exec(rt, 0, rpc_create_on_app, &call);
	if (rc || call.rc) {
		fprintf(stderr, "nvmf-tgtd: --rpc-socket %s: %s\n", o.rpc_sock,
			strerror(-(rc ? rc : call.rc)));
		goto out_pidfile;
	}

	nvmft_config_connect_hint(cfg, hint, sizeof(hint));
	printf("nvmf-tgtd %s ready: %u reactor(s), %s engine, config %s\n",
	       NVMFT_VERSION, nvmft_runtime_nr_threads(rt),
	       nvmft_engine_name(nvmft_runtime_engine(rt)),
	       o.config ? o.config : "(embedded default)");
	if (hint[0])
		printf("connect with:\n%s", hint);
	printf("JSON-RPC on %s\n", o.rpc_sock);
	printf("stop with Ctrl-C or SIGTERM\n");
	fflush(stdout);
	notify(rt, "READY=1\nSTATUS=serving");

	for (;;) {
		if (sigwait(&sigs, &sig))
			break;
		if (sig != SIGHUP)
			break;
		nvmft_log(rt, NVMFT_LOG_NOTICE,
			  "SIGHUP: configuration reload is not supported; still running");
	}

	notify(rt, "STOPPING=1\nSTATUS=shutting down");
	nvmft_log(rt, NVMFT_LOG_NOTICE, "signal %d: shutting down", sig);
	status = 0;
	rpc_shutdown(rt, &call);
out_pidfile:
	if (o.pidfile)
		unlink(o.pidfile);
out_tgt:
	tgt_shutdown(rt, call.tgt);
out_stop:
	nvmft_runtime_stop(rt);
out_rt:
	nvmft_runtime_destroy(rt);
out_cfg:
	nvmft_config_free(cfg);
	if (o.syslog)
		closelog();
	return status;
}
