/* SPDX-License-Identifier: MIT */
/*
 * nvmft-perf: NVMe/TCP load generator and latency tool on libnvmft-host.
 *
 * Exit status: 0 success, 1 verify mismatch, 2 usage, 3 connect or setup
 * failure, 4 I/O errors.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/resource.h>
#include <nvme/types.h>
#include "perf.h"

#define EXIT_MISMATCH	1
#define EXIT_USAGE	2
#define EXIT_SETUP	3
#define EXIT_IOERR	4

static const char *const wl_names[] = {
	[WL_READ] = "read",
	[WL_WRITE] = "write",
	[WL_RANDREAD] = "randread",
	[WL_RANDWRITE] = "randwrite",
	[WL_RANDRW] = "randrw",
};

enum { OPT_NSID = 0x100, OPT_RAMP, OPT_SIZE, OPT_CPU, OPT_SLEEP_IDLE, OPT_IDLE, OPT_LAT_CDF, OPT_MARKS, OPT_BATCH, OPT_RATE };

static const struct option long_opts[] = {
	{ "addr", required_argument, NULL, 'a' },
	{ "port", required_argument, NULL, 's' },
	{ "nqn", required_argument, NULL, 'n' },
	{ "nsid", required_argument, NULL, OPT_NSID },
	{ "workload", required_argument, NULL, 'w' },
	{ "rwmixread", required_argument, NULL, 'M' },
	{ "bs", required_argument, NULL, 'o' },
	{ "qd", required_argument, NULL, 'q' },
	{ "connections", required_argument, NULL, 'c' },
	{ "threads", required_argument, NULL, 't' },
	{ "time", required_argument, NULL, 'T' },
	{ "ramp", required_argument, NULL, OPT_RAMP },
	{ "verify", no_argument, NULL, 'V' },
	{ "hdgst", no_argument, NULL, 'g' },
	{ "ddgst", no_argument, NULL, 'G' },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "cpu", required_argument, NULL, OPT_CPU },
	{ "json", no_argument, NULL, 'j' },
	{ "interval", required_argument, NULL, 'i' },
	{ "sleep-idle", no_argument, NULL, OPT_SLEEP_IDLE },
	{ "idle", no_argument, NULL, OPT_IDLE },
	{ "lat-cdf", no_argument, NULL, OPT_LAT_CDF },
	{ "marks", no_argument, NULL, OPT_MARKS },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: nvmft-perf [options]\n"
"  -a, --addr ADDR          target address (127.0.0.1)\n"
"  -s, --port PORT          target port (4420)\n"
"  -n, --nqn NQN            subsystem NQN (nqn.2026-11.io.nvmft:default)\n"
"      --nsid N             namespace (1)\n"
"  -w, --workload W         randread|randwrite|read|write|randrw (randread)\n"
"  -M, --rwmixread PCT      reads in randrw, percent (50)\n"
"  -o, --bs SIZE            I/O size, K/M suffixes (4K)\n"
"  -q, --qd N               queue depth per connection (32)\n"
"  -c, --connections N      I/O qpairs (1)\n"
"  -t, --threads N          threads; connections are spread over them (1)\n"
"  -T, --time S             measured seconds (10)\n"
"      --ramp S             seconds run before measuring (0)\n"
"  -V, --verify             write (lba, generation) patterns, read back, compare\n"
"                           (read workloads first write the range once)\n"
"  -g, --hdgst              header digest\n"
"  -G, --ddgst              data digest\n"
"      --size SIZE          bytes of the namespace to use (whole namespace)\n"
"      --cpu N              pin thread i to CPU N+i\n"
"  -j, --json               summary as JSON on stdout (progress on stderr)\n"
"  -i, --interval S         progress every S seconds, 0 = off (1)\n"
"      --sleep-idle         sleep in poll(2) when a turn found nothing\n"
"      --idle               connect, print \"ready\", hold the connections idle\n"
"                           for --time seconds (no I/O; memory measurements)\n"
"      --lat-cdf            JSON: add the latency distribution (lat_cdf_us)\n"
"      --marks              print \"measure start\" / \"measure end\" lines on stderr\n"
"                           (lets a script sample the target over that window)\n"
"      --batch N            at most N completions per qpair per poll (0: all)\n"
"      --rate IOPS          hold this many I/Os per second (0: as fast as it goes);\n"
"                           commands go in groups of up to qd/2, as at full speed\n"
"exit: 0 ok, 1 verify mismatch, 2 usage, 3 connect/setup failure, 4 I/O errors\n");
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	case 't': case 'T': v <<= 40; end++; break;
	}
	if (*end == 'i' || *end == 'B' || *end == 'b')
		end++;
	if (*end == 'B')
		end++;
	if (*end)
		return -1;
	*out = v;
	return 0;
}

static int parse_uint(const char *s, unsigned int min, unsigned int max, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		return -1;
	*out = (unsigned int)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct perf_cfg *c)
{
	unsigned int u;
	uint64_t sz;
	int opt;

	*c = (struct perf_cfg){
		.addr = "127.0.0.1", .port = "4420",
		.nqn = "nqn.2026-11.io.nvmft:default", .nsid = 1,
		.wl = WL_RANDREAD, .rwmixread = 50, .bs = 4096, .qd = 32,
		.conns = 1, .threads = 1, .time_s = 10, .cpu = -1, .interval_s = 1,
	};
	while ((opt = getopt_long(argc, argv, "a:s:n:w:M:o:q:c:t:T:VgGji:h",
				  long_opts, NULL)) != -1) {
		bool bad = false;

		switch (opt) {
		case 'a': c->addr = optarg; break;
		case 's': c->port = optarg; break;
		case 'n': c->nqn = optarg; break;
		case OPT_NSID:
			bad = parse_uint(optarg, 1, 0xfffffffe, &u);
			c->nsid = u;
			break;
		case 'w':
			bad = true;
			for (unsigned int i = 0; i < sizeof(wl_names) / sizeof(wl_names[0]); i++) {
				if (!strcmp(optarg, wl_names[i])) {
					c->wl = i;
					bad = false;
				}
			}
			break;
		case 'M': bad = parse_uint(optarg, 0, 100, &c->rwmixread); break;
		case 'o':
			bad = parse_size(optarg, &sz) || !sz || sz > (1u << 30);
			c->bs = (uint32_t)sz;
			break;
		case 'q': bad = parse_uint(optarg, 1, 65534, &c->qd); break;
		case 'c': bad = parse_uint(optarg, 1, 65535, &c->conns); break;
		case 't': bad = parse_uint(optarg, 1, 1024, &c->threads); break;
		case 'T': bad = parse_uint(optarg, 1, 1000000, &c->time_s); break;
		case OPT_RAMP: bad = parse_uint(optarg, 0, 1000000, &c->ramp_s); break;
		case 'V': c->verify = true; break;
		case 'g': c->hdgst = true; break;
		case 'G': c->ddgst = true; break;
		case OPT_SIZE: bad = parse_size(optarg, &c->size) || !c->size; break;
		case OPT_CPU:
			bad = parse_uint(optarg, 0, 4095, &u);
			c->cpu = (int)u;
			break;
		case 'j': c->json = true; break;
		case 'i': bad = parse_uint(optarg, 0, 3600, &c->interval_s); break;
		case OPT_SLEEP_IDLE: c->sleep_idle = true; break;
		case OPT_IDLE: c->idle = true; break;
		case OPT_LAT_CDF: c->lat_cdf = true; break;
		case OPT_MARKS: c->marks = true; break;
		case OPT_BATCH: bad = parse_uint(optarg, 0, 65535, &c->batch); break;
		case OPT_RATE: bad = parse_uint(optarg, 0, 100000000, &c->rate); break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
		if (bad) {
			fprintf(stderr, "nvmft-perf: bad value '%s'\n", optarg);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "nvmft-perf: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (c->threads > c->conns)
		c->threads = c->conns;
	return 0;
}

static int connect_ctrlr(struct perf *pf)
{
	const struct perf_cfg *c = &pf->cfg;
	struct nvmft_host_opts o;
	struct nvmft_host_ns_info ns;
	uint64_t range, units;
	int rc;

	nvmft_host_opts_init(&o);
	o.traddr = c->addr;
	o.trsvcid = c->port;
	o.subnqn = c->nqn;
	o.hdgst = c->hdgst;
	o.ddgst = c->ddgst;
	o.num_io_queues = c->conns;
	o.io_queue_size = c->qd + 1;
	rc = nvmft_host_ctrlr_connect(&o, &pf->ctrlr);
	if (rc) {
		fprintf(stderr, "nvmft-perf: cannot connect to %s:%s (%s): %s\n",
			c->addr, c->port, c->nqn, strerror(-rc));
		return -1;
	}
	if (nvmft_host_ctrlr_num_io_qpairs(pf->ctrlr) != c->conns) {
		fprintf(stderr, "nvmft-perf: controller gave %u of %u I/O queues\n",
			nvmft_host_ctrlr_num_io_qpairs(pf->ctrlr), c->conns);
		return -1;
	}
	rc = nvmft_host_ns_info(pf->ctrlr, c->nsid, &ns);
	if (rc) {
		fprintf(stderr, "nvmft-perf: namespace %u: %s\n", c->nsid,
			rc < 0 ? strerror(-rc) : "Identify Namespace failed");
		return -1;
	}
	pf->lba_size = ns.lba_size;
	if (c->bs % ns.lba_size || c->bs > nvmft_host_ctrlr_max_xfer(pf->ctrlr)) {
		fprintf(stderr, "nvmft-perf: --bs %u must be a multiple of the block size %u "
			"and at most %u (MDTS)\n", c->bs, ns.lba_size,
			nvmft_host_ctrlr_max_xfer(pf->ctrlr));
		return -1;
	}
	pf->lbas_per_io = c->bs / ns.lba_size;
	if (pf->lbas_per_io > 0x10000) {
		fprintf(stderr, "nvmft-perf: --bs above 65536 blocks\n");
		return -1;
	}
	range = ns.nsze * ns.lba_size;
	if (c->size) {
		if (c->size > range) {
			fprintf(stderr, "nvmft-perf: --size %" PRIu64 " above the namespace "
				"(%" PRIu64 " bytes)\n", c->size, range);
			return -1;
		}
		range = c->size;
	}
	units = range / c->bs;
	pf->units_per_q = units / c->conns;
	if (!pf->units_per_q || (c->verify && pf->units_per_q < 2ull * c->qd)) {
		fprintf(stderr, "nvmft-perf: range too small: %" PRIu64 " I/Os of %u bytes "
			"per connection%s\n", pf->units_per_q, c->bs,
			c->verify ? " (verify needs 2 * qd)" : "");
		return -1;
	}
	if (c->verify && pf->units_per_q > (64ull << 20)) {
		fprintf(stderr, "nvmft-perf: verify tracks every I/O unit: use --size\n");
		return -1;
	}
	return 0;
}

struct totals {
	struct hist hist;
	uint64_t ios, reads, writes, bytes, errors, verified, mismatches, busy_ns;
};

static void sum_workers(struct perf *pf, struct totals *t)
{
	memset(t, 0, sizeof(*t));
	hist_init(&t->hist);
	for (unsigned int i = 0; i < pf->cfg.threads; i++) {
		struct worker *w = &pf->workers[i];

		hist_merge(&t->hist, &w->hist);
		t->ios += w->ios;
		t->reads += w->reads;
		t->writes += w->writes;
		t->bytes += w->bytes;
		t->errors += w->errors;
		t->verified += w->verified;
		t->mismatches += w->mismatches;
		t->busy_ns += w->busy_ns;
	}
}

static void progress(struct perf *pf, double t, uint64_t *last_ios, uint64_t *last_bytes,
		     double dt)
{
	uint64_t ios = 0, bytes = 0;

	for (unsigned int i = 0; i < pf->cfg.threads; i++) {
		ios += atomic_load_explicit(&pf->workers[i].prog_ios, memory_order_relaxed);
		bytes += atomic_load_explicit(&pf->workers[i].prog_bytes, memory_order_relaxed);
	}
	fprintf(pf->cfg.json ? stderr : stdout, "t=%.0fs IOPS=%.0f MiB/s=%.1f\n", t,
		(double)(ios - *last_ios) / dt,
		(double)(bytes - *last_bytes) / dt / (1024.0 * 1024.0));
	fflush(pf->cfg.json ? stderr : stdout);
	*last_ios = ios;
	*last_bytes = bytes;
}

/* Wait on the admin queue (it sends the keep-alives) until @until. */
static void run_until(struct perf *pf, uint64_t until, uint64_t t0, uint64_t *next_tick,
		      uint64_t *last_ios, uint64_t *last_bytes)
{
	struct nvmft_host_qpair *aq = nvmft_host_ctrlr_admin_qpair(pf->ctrlr);
	uint64_t step = (uint64_t)pf->cfg.interval_s * 1000000000ull;
	bool never = false;

	for (uint64_t now = perf_now_ns(); now < until; now = perf_now_ns()) {
		uint64_t wake = until;

		/* Every qpair failed (the target is gone): nothing left to time. */
		if (pf->workers && atomic_load(&pf->workers_gone) >= pf->cfg.threads)
			break;

		if (step && *next_tick < wake)
			wake = *next_tick;
		if (wake > now) {
			uint64_t ms = (wake - now + 999999) / 1000000;

			if (nvmft_host_qpair_wait(aq, &never, ms > 100 ? 100 : (int)ms) != -ETIMEDOUT)
				usleep(1000);	/* admin queue failed: still keep time */
		}
		now = perf_now_ns();
		if (step && now >= *next_tick) {
			progress(pf, (double)(now - t0) / 1e9, last_ios, last_bytes,
				 (double)(now - *next_tick + step) / 1e9);
			*next_tick += step;
		}
	}
}

/*
 * "lat_cdf_us": [[latency, fraction at or below], ...], one point per
 * histogram bucket where the fraction moved by 0.1 % or more, every bucket
 * of the last percent.
 */
static void print_cdf(const struct hist *h)
{
	uint64_t seen = 0;
	double last = -1;
	bool first = true;

	printf(",\"lat_cdf_us\":[");
	for (unsigned int i = 0; i < HIST_BUCKETS && h->count; i++) {
		double f;

		if (!h->bucket[i])
			continue;
		seen += h->bucket[i];
		f = (double)seen / (double)h->count;
		if (f - last < 0.001 && f < 0.99 && seen != h->count)
			continue;
		printf("%s[%.2f,%.6f]", first ? "" : ",",
		       (double)hist_bucket_mid(i) / 1000.0, f);
		first = false;
		last = f;
	}
	printf("]");
}

/* User + system CPU seconds of the whole process so far. */
static double process_cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void report(struct perf *pf, const struct totals *t, double secs, double cpu_s)
{
	const struct perf_cfg *c = &pf->cfg;
	double iops = secs > 0 ? (double)t->ios / secs : 0;
	double mibs = secs > 0 ? (double)t->bytes / secs / (1024.0 * 1024.0) : 0;
	double avg = t->hist.count ? (double)t->hist.sum / (double)t->hist.count / 1000.0 : 0;
	double p50 = hist_quantile(&t->hist, 0.50) / 1000.0;
	double p99 = hist_quantile(&t->hist, 0.99) / 1000.0;
	double p999 = hist_quantile(&t->hist, 0.999) / 1000.0;
	double mx = t->hist.count ? t->hist.max / 1000.0 : 0;
	double mn = t->hist.count ? t->hist.min / 1000.0 : 0;

	if (c->json) {
		printf("{\"target\":\"%s:%s\",\"nqn\":\"%s\",\"nsid\":%u,\"workload\":\"%s\","
		       "\"rwmixread\":%u,\"bs\":%u,\"qd\":%u,\"connections\":%u,\"threads\":%u,"
		       "\"hdgst\":%s,\"ddgst\":%s,\"seconds\":%.3f,\"ios\":%" PRIu64 ","
		       "\"reads\":%" PRIu64 ",\"writes\":%" PRIu64 ",\"iops\":%.1f,\"mib_s\":%.2f,"
		       "\"lat_us\":{\"min\":%.2f,\"avg\":%.2f,\"p50\":%.2f,\"p99\":%.2f,"
		       "\"p99_9\":%.2f,\"max\":%.2f},\"errors\":%" PRIu64 ","
		       "\"verify\":{\"enabled\":%s,\"checked\":%" PRIu64 ",\"mismatches\":%" PRIu64 "},"
		       "\"client_cpu_pct\":%.1f,\"client_busy_pct\":%.1f",
		       c->addr, c->port, c->nqn, c->nsid, wl_names[c->wl], c->rwmixread, c->bs,
		       c->qd, c->conns, c->threads, c->hdgst ? "true" : "false",
		       c->ddgst ? "true" : "false", secs, t->ios, t->reads, t->writes, iops,
		       mibs, mn, avg, p50, p99, p999, mx, t->errors,
		       c->verify ? "true" : "false", t->verified, t->mismatches,
		       secs > 0 ? 100.0 * cpu_s / secs : 0.0,
		       secs > 0 ? 100.0 * (double)t->busy_ns / 1e9 / secs / c->threads : 0.0);
		if (c->lat_cdf)
			print_cdf(&t->hist);
		printf("}\n");
		return;
	}
	printf("%s bs=%u qd=%u connections=%u threads=%u%s%s: %.1f s\n", wl_names[c->wl],
	       c->bs, c->qd, c->conns, c->threads, c->hdgst ? " hdgst" : "",
	       c->ddgst ? " ddgst" : "", secs);
	printf("  IOPS=%.0f MiB/s=%.1f (reads %" PRIu64 ", writes %" PRIu64 ")\n", iops, mibs,
	       t->reads, t->writes);
	printf("  latency us: min=%.1f avg=%.1f p50=%.1f p99=%.1f p99.9=%.1f max=%.1f\n",
	       mn, avg, p50, p99, p999, mx);
	printf("  client CPU %.1f %% (busy polling turns %.1f %%)\n",
	       secs > 0 ? 100.0 * cpu_s / secs : 0.0,
	       secs > 0 ? 100.0 * (double)t->busy_ns / 1e9 / secs / c->threads : 0.0);
	printf("  errors=%" PRIu64 "\n", t->errors);
	if (c->verify)
		printf("  verify: checked=%" PRIu64 " mismatches=%" PRIu64 "\n", t->verified,
		       t->mismatches);
}

/* One fd per connection: lift the soft limit as far as the hard one. */
static void raise_fd_limit(unsigned int conns)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= (rlim_t)conns + 64)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < (rlim_t)conns + 64)
		fprintf(stderr, "nvmft-perf: open files limit %llu is low for %u connections\n",
			(unsigned long long)rl.rlim_cur, conns);
}

/*
 * --idle: the connections are up; say so (a benchmark measures the
 * target's memory then), keep the controller alive for --time seconds.
 */
static int run_idle(struct perf *pf, uint64_t t_connect)
{
	uint64_t t0 = perf_now_ns(), next_tick = UINT64_MAX, ios = 0, bytes = 0;
	double secs = (double)(t0 - t_connect) / 1e9;

	printf("ready %u\n", pf->cfg.conns);
	fflush(stdout);
	pf->cfg.interval_s = 0;
	run_until(pf, t0 + (uint64_t)pf->cfg.time_s * 1000000000ull, t0, &next_tick,
		  &ios, &bytes);
	if (pf->cfg.json)
		printf("{\"idle\":true,\"connections\":%u,\"connect_seconds\":%.3f,"
		       "\"held_seconds\":%u}\n", pf->cfg.conns, secs, pf->cfg.time_s);
	else
		printf("%u connections made in %.2f s, held idle for %u s\n",
		       pf->cfg.conns, secs, pf->cfg.time_s);
	return 0;
}

int main(int argc, char **argv)
{
	struct perf pf = { 0 };
	struct totals t;
	uint64_t t0, tm, tend, next_tick, last_ios = 0, last_bytes = 0;
	unsigned int started = 0;
	double cpu0, cpu1;
	int rc = EXIT_SETUP;

	if (parse_args(argc, argv, &pf.cfg)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	atomic_init(&pf.measuring, false);
	atomic_init(&pf.stop, false);
	raise_fd_limit(pf.cfg.conns);
	t0 = perf_now_ns();
	if (connect_ctrlr(&pf))
		goto out_disconnect;
	if (pf.cfg.idle) {
		rc = run_idle(&pf, t0);
		goto out_disconnect;
	}
	pf.workers = calloc(pf.cfg.threads, sizeof(*pf.workers));
	if (!pf.workers)
		goto out_disconnect;
	for (unsigned int i = 0; i < pf.cfg.threads; i++) {
		pf.workers[i].pf = &pf;
		pf.workers[i].idx = i;
		if (worker_setup(&pf, &pf.workers[i])) {
			fprintf(stderr, "nvmft-perf: out of memory\n");
			goto out_free_workers;
		}
	}
	if (pf.cfg.verify && (pf.cfg.wl == WL_READ || pf.cfg.wl == WL_RANDREAD))
		fprintf(stderr, "nvmft-perf: verify: writing the range once first\n");
	pthread_barrier_init(&pf.start, NULL, pf.cfg.threads + 1);
	for (; started < pf.cfg.threads; started++) {
		if (pthread_create(&pf.workers[started].tid, NULL, worker_main,
				   &pf.workers[started])) {
			fprintf(stderr, "nvmft-perf: cannot start threads\n");
			/* the started ones wait on the barrier: never reached */
			exit(EXIT_SETUP);
		}
	}
	pthread_barrier_wait(&pf.start);

	t0 = perf_now_ns();
	next_tick = t0 + (uint64_t)pf.cfg.interval_s * 1000000000ull;
	tm = t0 + (uint64_t)pf.cfg.ramp_s * 1000000000ull;
	run_until(&pf, tm, t0, &next_tick, &last_ios, &last_bytes);
	tm = perf_now_ns();
	cpu0 = process_cpu_s();
	if (pf.cfg.marks) {
		fprintf(stderr, "nvmft-perf: measure start\n");
		fflush(stderr);
	}
	atomic_store(&pf.measuring, true);
	run_until(&pf, tm + (uint64_t)pf.cfg.time_s * 1000000000ull, t0, &next_tick,
		  &last_ios, &last_bytes);
	atomic_store(&pf.measuring, false);
	tend = perf_now_ns();
	cpu1 = process_cpu_s();
	if (pf.cfg.marks) {
		fprintf(stderr, "nvmft-perf: measure end\n");
		fflush(stderr);
	}
	atomic_store(&pf.stop, true);
	for (unsigned int i = 0; i < started; i++)
		pthread_join(pf.workers[i].tid, NULL);
	pthread_barrier_destroy(&pf.start);

	sum_workers(&pf, &t);
	report(&pf, &t, (double)(tend - tm) / 1e9, cpu1 - cpu0);
	if (t.mismatches)
		rc = EXIT_MISMATCH;
	else if (t.errors)
		rc = EXIT_IOERR;
	else
		rc = 0;
out_free_workers:
	/* First: commands still outstanding complete into the slots. */
	nvmft_host_ctrlr_disconnect(pf.ctrlr);
	for (unsigned int i = 0; i < pf.cfg.threads; i++)
		worker_teardown(&pf.workers[i]);
	free(pf.workers);
	return rc;
out_disconnect:
	nvmft_host_ctrlr_disconnect(pf.ctrlr);
	return rc;
}
