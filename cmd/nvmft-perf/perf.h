/* SPDX-License-Identifier: MIT */
/*
 * nvmft-perf shared definitions: run configuration (main.c) and the I/O
 * workers (worker.c).
 */
#ifndef NVMFT_PERF_H
#define NVMFT_PERF_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <nvmft/host.h>
#include "hist.h"

enum workload { WL_READ, WL_WRITE, WL_RANDREAD, WL_RANDWRITE, WL_RANDRW };

struct perf_cfg {
	const char *addr;
	const char *port;
	const char *nqn;
	uint32_t nsid;
	enum workload wl;
	unsigned int rwmixread;
	uint32_t bs;
	unsigned int qd;
	unsigned int conns;
	unsigned int threads;
	unsigned int time_s;
	unsigned int ramp_s;
	bool verify;
	bool hdgst;
	bool ddgst;
	uint64_t size;
	int cpu;
	bool json;
	unsigned int interval_s;
	bool sleep_idle;
	bool idle;		/* connect, hold the connections idle, no I/O */
	bool lat_cdf;		/* JSON: the latency distribution too */
	bool marks;		/* stderr lines where the measured window starts/ends */
	unsigned int batch;	/* completions per qpair poll; 0 = all there are */
	unsigned int rate;	/* IOPS to hold (all threads); 0 = as fast as it goes */
};

/* One I/O slot: a buffer and the command it carries. */
struct slot {
	struct qctx *q;
	uint8_t *buf;
	uint64_t submit_ns;
	uint64_t unit;		/* index of the bs-sized unit in the qpair's range */
	uint32_t gen;		/* generation written / expected (verify) */
	bool write;
	bool busy;
};

/* One qpair and its slice of the namespace. */
struct qctx {
	struct nvmft_host_qpair *qp;
	struct worker *w;
	struct slot *slots;
	uint64_t first_lba;	/* of unit 0 */
	uint64_t units;
	uint64_t seq_next;
	uint64_t prefill_next;
	uint32_t *gen;		/* verify: last good generation per unit, 0 unknown */
	uint8_t *unit_busy;	/* verify: a command is on the unit */
	unsigned int inflight;
	bool failed;
};

struct perf;

struct worker {
	struct perf *pf;
	int epfd;		/* readiness of many qpairs; -1: poll them all */
	pthread_t tid;
	unsigned int idx;
	struct qctx *qs;
	unsigned int nq;
	uint64_t rng;
	bool prefill;		/* phase: write every unit once */
	/* progress, read by the main thread */
	_Atomic uint64_t prog_ios;
	_Atomic uint64_t prog_bytes;
	/* summary, read after join */
	struct hist hist;
	uint64_t ios;
	uint64_t reads;
	uint64_t writes;
	uint64_t bytes;
	uint64_t errors;
	uint64_t verified;
	uint64_t mismatches;
	uint64_t submit_errors;
	uint64_t busy_ns;	/* measured window: poll turns that completed I/O */
	/* --rate: a token bucket; slots without a token wait in parked[] */
	double rate;		/* this thread's share, I/Os per second */
	double tokens;
	double burst;
	double group;		/* tokens to gather before releasing slots */
	uint64_t tokens_ns;
	struct slot **parked;
	unsigned int nparked;
};

struct perf {
	struct perf_cfg cfg;
	struct nvmft_host_ctrlr *ctrlr;
	uint32_t lba_size;
	uint32_t lbas_per_io;
	uint64_t units_per_q;	/* bs-sized units in each qpair's slice */
	struct worker *workers;
	pthread_barrier_t start;
	atomic_bool measuring;
	atomic_bool stop;
	atomic_uint workers_gone;	/* workers whose every qpair failed */
};

uint64_t perf_now_ns(void);
void *worker_main(void *arg);
int worker_setup(struct perf *pf, struct worker *w);
void worker_teardown(struct worker *w);

#endif
