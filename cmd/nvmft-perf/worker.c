/* SPDX-License-Identifier: MIT */
/*
 * nvmft-perf I/O worker: one thread busy-polling its qpairs, each qpair
 * with qd slots kept busy. Nothing is allocated once the run started.
 *
 * Verify mode: every write carries a pattern derived from (lba,
 * generation) and is read back on the same slot once it completed; reads
 * of units whose generation is known are checked too. A unit is never
 * under two commands at once, so the expected content is always known.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <nvme/types.h>
#include "perf.h"

#define PATTERN_MAGIC	0x666d766eu	/* "nvmf" */
#define MAX_REPORTS	5
#define DRAIN_TIMEOUT_NS (30ull * 1000000000)
/* From this many qpairs on, a worker asks epoll which have something to
 * read instead of trying a receive on each of them every turn. */
#define EPOLL_MIN_QPAIRS 4
#define EPOLL_BATCH	256

uint64_t perf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static uint64_t pattern_seed(uint64_t lba, uint32_t gen)
{
	return (lba * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)gen << 32 | gen) ^ 0x5bd1e995ull;
}

/* Block header: lba (8), generation (4), magic (4); then a stream. */
static void fill_pattern(uint8_t *buf, uint32_t lba_size, uint32_t nlb, uint64_t lba,
			 uint32_t gen)
{
	for (uint32_t b = 0; b < nlb; b++, lba++) {
		uint8_t *p = buf + (size_t)b * lba_size;
		uint64_t s = pattern_seed(lba, gen) | 1;
		uint32_t magic = PATTERN_MAGIC;

		memcpy(p, &lba, 8);
		memcpy(p + 8, &gen, 4);
		memcpy(p + 12, &magic, 4);
		for (uint32_t off = 16; off + 8 <= lba_size; off += 8) {
			uint64_t v = xorshift(&s);

			memcpy(p + off, &v, 8);
		}
	}
}

/* Number of blocks of @buf that do not hold the expected pattern. */
static uint32_t check_pattern(const uint8_t *buf, uint32_t lba_size, uint32_t nlb,
			      uint64_t lba, uint32_t gen, uint64_t *first_bad)
{
	uint32_t bad = 0;

	for (uint32_t b = 0; b < nlb; b++, lba++) {
		const uint8_t *p = buf + (size_t)b * lba_size;
		uint64_t s = pattern_seed(lba, gen) | 1, hl;
		uint32_t hg, hm;
		bool ok;

		memcpy(&hl, p, 8);
		memcpy(&hg, p + 8, 4);
		memcpy(&hm, p + 12, 4);
		ok = hl == lba && hg == gen && hm == PATTERN_MAGIC;
		for (uint32_t off = 16; ok && off + 8 <= lba_size; off += 8) {
			uint64_t v = xorshift(&s);

			ok = !memcmp(p + off, &v, 8);
		}
		if (!ok && !bad++)
			*first_bad = lba;
	}
	return bad;
}

static uint64_t slot_lba(const struct slot *s)
{
	const struct perf *pf = s->q->w->pf;

	return s->q->first_lba + s->unit * pf->lbas_per_io;
}

static void io_done(void *arg, const struct nvmft_host_cpl *cpl);

static void slot_release(struct slot *s)
{
	if (s->q->unit_busy)
		s->q->unit_busy[s->unit] = 0;
	s->busy = false;
}

static void issue(struct slot *s)
{
	struct qctx *q = s->q;
	struct worker *w = q->w;
	struct perf *pf = w->pf;
	uint64_t lba = slot_lba(s);
	struct nvmft_sqe sqe = {
		.opcode = s->write ? nvme_cmd_write : nvme_cmd_read,
		.nsid = pf->cfg.nsid,
		.cdw10 = (uint32_t)lba,
		.cdw11 = (uint32_t)(lba >> 32),
		.cdw12 = pf->lbas_per_io - 1,
	};
	int rc;

	s->submit_ns = perf_now_ns();
	rc = nvmft_host_submit(q->qp, &sqe, s->buf, pf->cfg.bs,
			       s->write ? NVMFT_HOST_DIR_WRITE : NVMFT_HOST_DIR_READ,
			       io_done, s);
	if (rc) {
		if (w->submit_errors++ < MAX_REPORTS)
			fprintf(stderr, "nvmft-perf: qid %u: submit failed: %s\n",
				nvmft_host_qpair_qid(q->qp), strerror(-rc));
		w->errors++;
		slot_release(s);
		return;
	}
	q->inflight++;
}

static bool pick_write(struct worker *w)
{
	switch (w->pf->cfg.wl) {
	case WL_WRITE:
	case WL_RANDWRITE:
		return true;
	case WL_RANDRW:
		return xorshift(&w->rng) % 100 >= w->pf->cfg.rwmixread;
	default:
		return false;
	}
}

/* Next unit for @q; in verify mode one no other slot is on. */
static bool pick_unit(struct qctx *q, uint64_t *unit)
{
	struct worker *w = q->w;
	bool seq = w->pf->cfg.wl == WL_READ || w->pf->cfg.wl == WL_WRITE;
	uint64_t u = 0;

	for (uint64_t tries = 0; tries < q->units; tries++) {
		if (seq)
			u = q->seq_next++ % q->units;
		else if (tries < 64)
			u = xorshift(&w->rng) % q->units;
		else
			u = (u + 1) % q->units;
		if (!q->unit_busy || !q->unit_busy[u]) {
			*unit = u;
			return true;
		}
	}
	return false;
}

static void submit_next(struct slot *s)
{
	struct qctx *q = s->q;
	struct worker *w = q->w;
	struct perf *pf = w->pf;

	if (w->prefill) {
		if (q->prefill_next >= q->units) {
			slot_release(s);
			return;
		}
		s->unit = q->prefill_next++;
		s->write = true;
	} else {
		if (w->rate > 0) {
			if (w->tokens < 1.0) {
				s->busy = false;
				w->parked[w->nparked++] = s;
				return;
			}
			w->tokens -= 1.0;
		}
		s->write = pick_write(w);
		if (!pick_unit(q, &s->unit)) {
			s->busy = false;
			return;
		}
	}
	s->busy = true;
	if (q->unit_busy) {
		q->unit_busy[s->unit] = 1;
		if (s->write) {
			s->gen = q->gen[s->unit] + 1;
			if (!s->gen)
				s->gen = 1;
			fill_pattern(s->buf, pf->lba_size, pf->lbas_per_io, slot_lba(s), s->gen);
		}
	}
	issue(s);
}

static void verify_read(struct slot *s)
{
	struct qctx *q = s->q;
	struct worker *w = q->w;
	struct perf *pf = w->pf;
	uint32_t gen = q->gen[s->unit];
	uint64_t first_bad = 0;
	uint32_t bad;

	if (!gen)
		return;	/* content unknown: never written, or a write failed */
	w->verified++;
	bad = check_pattern(s->buf, pf->lba_size, pf->lbas_per_io, slot_lba(s), gen,
			    &first_bad);
	if (bad && w->mismatches++ < MAX_REPORTS)
		fprintf(stderr, "nvmft-perf: verify: %u bad block(s) in lba %llu+%u, "
			"first %llu (generation %u)\n", bad,
			(unsigned long long)slot_lba(s), pf->lbas_per_io,
			(unsigned long long)first_bad, gen);
}

static void io_done(void *arg, const struct nvmft_host_cpl *cpl)
{
	struct slot *s = arg;
	struct qctx *q = s->q;
	struct worker *w = q->w;
	struct perf *pf = w->pf;
	uint64_t lat = perf_now_ns() - s->submit_ns;
	bool stop = atomic_load_explicit(&pf->stop, memory_order_relaxed);

	q->inflight--;
	atomic_store_explicit(&w->prog_ios, atomic_load_explicit(&w->prog_ios,
			      memory_order_relaxed) + 1, memory_order_relaxed);
	atomic_store_explicit(&w->prog_bytes, atomic_load_explicit(&w->prog_bytes,
			      memory_order_relaxed) + pf->cfg.bs, memory_order_relaxed);
	if (atomic_load_explicit(&pf->measuring, memory_order_relaxed)) {
		hist_add(&w->hist, lat);
		w->ios++;
		w->bytes += pf->cfg.bs;
		if (s->write)
			w->writes++;
		else
			w->reads++;
	}
	if (cpl->err)
		q->failed = true;
	if (cpl->status) {
		if (w->errors++ < MAX_REPORTS)
			fprintf(stderr, "nvmft-perf: qid %u: %s of lba %llu failed: status 0x%x%s%s\n",
				nvmft_host_qpair_qid(q->qp), s->write ? "write" : "read",
				(unsigned long long)slot_lba(s), cpl->status,
				cpl->err ? ", " : "", cpl->err ? strerror(-cpl->err) : "");
		if (q->gen)
			q->gen[s->unit] = 0;
	} else if (q->gen) {
		if (s->write) {
			q->gen[s->unit] = s->gen;
			if (!w->prefill && !q->failed) {
				/* read it back on this slot, unit still held */
				s->write = false;
				issue(s);
				return;
			}
		} else {
			verify_read(s);
		}
	}
	slot_release(s);
	if (!stop && !q->failed)
		submit_next(s);
}

static int poll_one(struct qctx *q)
{
	int r = nvmft_host_qpair_poll(q->qp, q->w->pf->cfg.batch);

	if (r < 0) {
		q->failed = true;
		fprintf(stderr, "nvmft-perf: qid %u failed: %s\n",
			nvmft_host_qpair_qid(q->qp), strerror(-r));
		return 0;
	}
	return r;
}

/* Poll every live qpair once; returns completions, -1 when all failed. */
static int poll_all(struct worker *w)
{
	struct epoll_event evs[EPOLL_BATCH];
	int n = 0, live = 0, ready;

	for (unsigned int i = 0; i < w->nq; i++) {
		struct qctx *q = &w->qs[i];

		if (!q->failed && nvmft_host_qpair_error(q->qp))
			q->failed = true;
		if (q->failed)
			continue;
		live++;
		/* Without epoll every qpair; with it, those with bytes still
		 * to send (their socket was full). */
		if (w->epfd < 0 || (nvmft_host_qpair_events(q->qp) & POLLOUT))
			n += poll_one(q);
	}
	if (w->epfd < 0 || !live)
		return live ? n : -1;
	ready = epoll_wait(w->epfd, evs, EPOLL_BATCH, 0);
	for (int i = 0; i < ready; i++) {
		struct qctx *q = &w->qs[evs[i].data.u32];

		if (!q->failed)
			n += poll_one(q);
	}
	return n;
}

static void sleep_idle(struct worker *w)
{
	struct pollfd pfd[64];
	unsigned int n = 0;

	for (unsigned int i = 0; i < w->nq && n < 64; i++) {
		int fd = nvmft_host_qpair_fd(w->qs[i].qp);

		if (fd >= 0)
			pfd[n++] = (struct pollfd){
				.fd = fd, .events = nvmft_host_qpair_events(w->qs[i].qp) };
	}
	(void)poll(pfd, n, 10);
}

static unsigned int inflight(const struct worker *w)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < w->nq; i++)
		n += w->qs[i].inflight;
	return n;
}

/* --rate: tokens for the time gone by; parked slots go while there are. */
static void rate_refill(struct worker *w)
{
	uint64_t now = perf_now_ns();

	w->tokens += (double)(now - w->tokens_ns) * w->rate / 1e9;
	w->tokens_ns = now;
	if (w->tokens > w->burst)
		w->tokens = w->burst;
	/* Slots go in groups, as a queue-depth-bound client's replacements
	 * do, not one per turn: a trickle of single commands is a different
	 * (worse batched) load than the one the rate stands for. */
	if (w->tokens < w->group && w->tokens < w->nparked)
		return;
	while (w->nparked && w->tokens >= 1.0) {
		struct slot *s = w->parked[--w->nparked];

		if (!s->q->failed)
			submit_next(s);
	}
}

static void start_slots(struct worker *w)
{
	for (unsigned int i = 0; i < w->nq; i++)
		for (unsigned int k = 0; k < w->pf->cfg.qd; k++)
			if (!w->qs[i].failed && !w->qs[i].slots[k].busy)
				submit_next(&w->qs[i].slots[k]);
}

static void drain(struct worker *w)
{
	uint64_t deadline = perf_now_ns() + DRAIN_TIMEOUT_NS;

	while (inflight(w) && perf_now_ns() < deadline)
		if (poll_all(w) < 0)
			break;
	if (inflight(w))
		fprintf(stderr, "nvmft-perf: worker %u: %u commands never completed\n",
			w->idx, inflight(w));
}

void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct perf *pf = w->pf;

	if (pf->cfg.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET((pf->cfg.cpu + w->idx) % CPU_SETSIZE, &set);
		if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
			fprintf(stderr, "nvmft-perf: cannot pin worker %u to CPU %u\n",
				w->idx, pf->cfg.cpu + w->idx);
	}
	if (w->prefill) {
		start_slots(w);
		drain(w);
		w->prefill = false;
	}
	pthread_barrier_wait(&pf->start);
	w->tokens_ns = perf_now_ns();
	w->tokens = 1.0;
	start_slots(w);
	while (!atomic_load_explicit(&pf->stop, memory_order_relaxed)) {
		uint64_t t0 = perf_now_ns();
		int n;

		if (w->rate > 0)
			rate_refill(w);
		n = poll_all(w);

		if (n < 0) {
			atomic_fetch_add(&pf->workers_gone, 1);
			break;
		}
		/* Busy share: is the client the bottleneck or waiting? */
		if (n && atomic_load_explicit(&pf->measuring, memory_order_relaxed))
			w->busy_ns += perf_now_ns() - t0;
		if (!n && pf->cfg.sleep_idle)
			sleep_idle(w);
	}
	drain(w);
	return NULL;
}

int worker_setup(struct perf *pf, struct worker *w)
{
	const struct perf_cfg *cfg = &pf->cfg;

	hist_init(&w->hist);
	w->epfd = -1;
	w->rng = 0x2545f4914f6cdd1dull ^ ((uint64_t)(w->idx + 1) * 0x9e3779b97f4a7c15ull) ^
		 perf_now_ns();
	w->rng |= 1;
	w->prefill = cfg->verify && (cfg->wl == WL_READ || cfg->wl == WL_RANDREAD);
	for (unsigned int g = w->idx; g < cfg->conns; g += cfg->threads)
		w->nq++;
	if (cfg->rate) {
		w->rate = (double)cfg->rate / cfg->threads;
		/* at most 50 us worth at once, so the rate holds at any scale;
		 * released in groups of up to half the queue depth */
		w->burst = w->rate / 20000 > 2 ? w->rate / 20000 : 2;
		w->group = (double)(w->nq * cfg->qd) / 2;
		if (w->group > w->burst)
			w->group = w->burst;
		if (w->group < 1)
			w->group = 1;
		w->parked = calloc((size_t)w->nq * cfg->qd, sizeof(*w->parked));
		if (!w->parked)
			return -ENOMEM;
	}
	w->qs = calloc(w->nq, sizeof(*w->qs));
	if (!w->qs)
		return -ENOMEM;
	/* (with a batch limit bytes may wait in a qpair's buffer, which
	 * epoll cannot see: poll every qpair then) */
	if (w->nq >= EPOLL_MIN_QPAIRS && !cfg->batch) {
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (w->epfd < 0)
			return -errno;
	}
	for (unsigned int i = 0, g = w->idx; i < w->nq; i++, g += cfg->threads) {
		struct qctx *q = &w->qs[i];

		q->w = w;
		q->qp = nvmft_host_ctrlr_io_qpair(pf->ctrlr, g);
		q->units = pf->units_per_q;
		q->first_lba = (uint64_t)g * pf->units_per_q * pf->lbas_per_io;
		q->seq_next = 0;
		q->slots = calloc(cfg->qd, sizeof(*q->slots));
		if (!q->slots)
			return -ENOMEM;
		if (cfg->verify) {
			q->gen = calloc(q->units, sizeof(*q->gen));
			q->unit_busy = calloc(q->units, 1);
			if (!q->gen || !q->unit_busy)
				return -ENOMEM;
		}
		if (w->epfd >= 0) {
			struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

			if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, nvmft_host_qpair_fd(q->qp), &ev))
				return -errno;
		}
		for (unsigned int k = 0; k < cfg->qd; k++) {
			struct slot *s = &q->slots[k];

			s->q = q;
			if (posix_memalign((void **)&s->buf, 4096, cfg->bs))
				return -ENOMEM;
			/* non-verify writes send whatever this is: make it not zeroes */
			for (uint32_t off = 0; off + 8 <= cfg->bs; off += 8) {
				uint64_t v = xorshift(&w->rng);

				memcpy(s->buf + off, &v, 8);
			}
		}
	}
	return 0;
}

void worker_teardown(struct worker *w)
{
	/* (workers never set up are all zero: no epfd, no qs) */
	if (w->qs && w->epfd >= 0)
		close(w->epfd);
	free(w->parked);
	for (unsigned int i = 0; i < w->nq && w->qs; i++) {
		struct qctx *q = &w->qs[i];

		for (unsigned int k = 0; q->slots && k < w->pf->cfg.qd; k++)
			free(q->slots[k].buf);
		free(q->slots);
		free(q->gen);
		free(q->unit_busy);
	}
	free(w->qs);
}
