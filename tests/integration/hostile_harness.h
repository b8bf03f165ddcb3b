/* SPDX-License-Identifier: MIT */
/*
 * Shared by the hostile-peer tests (test_hostile_*.c), on top of
 * test_tcp_harness.h: raw NVMe/TCP queues (IC exchange, Connect, enable)
 * for peers that misbehave on purpose, process-level resource counters
 * (fds, heap bytes), target-level ones (controllers, connections), a log sink
 * that counts lines, and the check every hostile test ends with: a normal
 * host still gets full, verified service.
 */
#ifndef NVMFT_TESTS_HOSTILE_HARNESS_H
#define NVMFT_TESTS_HOSTILE_HARNESS_H

#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/resource.h>
#ifdef __SANITIZE_ADDRESS__
/* the ASan runtime's (sanitizer/allocator_interface.h, not always there) */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#include "test_tcp_harness.h"

#define HH_HOSTNQN	"nqn.2024-01.io.nvmft:hostile"

/* ---- process and target counters ----------------------------------------- */

/* Open fds of this process (the target and its peers live here). */
static inline int hh_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

/*
 * Heap bytes in use (not RSS: allocator caches and, under ASan, the
 * quarantine of freed blocks make RSS grow without a leak).
 */
static inline long hh_heap_bytes(void)
{
#ifdef __SANITIZE_ADDRESS__
	return (long)__sanitizer_get_current_allocated_bytes();
#else
	struct mallinfo2 mi = mallinfo2();

	return (long)(mi.uordblks + mi.hblkhd);
#endif
}

/* Room for @want fds (soft limit raised up to the hard one). */
static inline bool hh_fd_room(rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return false;
	if (rl.rlim_cur >= want)
		return true;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
		return false;
	rl.rlim_cur = want;
	return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

struct hh_tgt_counts {
	struct tt_target *t;
	uint32_t ctrlrs;		/* created, not yet gone */
	uint32_t connections;		/* accepted, not yet released */
	uint64_t refused;
	uint32_t max_connections;	/* in: new limit when set_max */
	bool set_max;
};

static void hh_counts_step(void *arg)
{
	struct hh_tgt_counts *c = arg;
	struct nvmft_tgt *tgt = c->t->tgt;

	c->ctrlrs = tgt->nr_live_ctrlrs;
	c->connections = tgt->nr_connections;
	c->refused = tgt->refused;
	if (c->set_max) {
		uint32_t old = tgt->opts.max_connections;

		tgt->opts.max_connections = c->max_connections;
		c->max_connections = old;
	}
}

static inline struct hh_tgt_counts hh_counts(struct tt_target *t)
{
	struct hh_tgt_counts c = { .t = t };

	assert_int_equal(nvmft_runtime_exec(t->rt, 0, hh_counts_step, &c), 0);
	return c;
}

/* Change the target's max_connections; returns the old value. */
static inline uint32_t hh_set_max_connections(struct tt_target *t, uint32_t max)
{
	struct hh_tgt_counts c = { .t = t, .set_max = true, .max_connections = max };

	assert_int_equal(nvmft_runtime_exec(t->rt, 0, hh_counts_step, &c), 0);
	return c.max_connections;
}

/* Wait (bounded) until the target holds no connection and no controller,
 * with every request slot free and every buffer back. */
static inline void hh_wait_target_empty(struct tt_target *t)
{
	uint64_t end = tt_now_ms() + TT_WAIT_MS;
	struct hh_tgt_counts c;

	for (;;) {
		c = hh_counts(t);
		if (!c.ctrlrs && !c.connections)
			break;
		if (tt_now_ms() > end)
			fail_msg("target not empty: %u controllers, %u connections",
				 c.ctrlrs, c.connections);
		tt_sleep_ms(5);
	}
	assert_int_equal(tt_wait_idle(t, 0), 0);
}

/* Put the next connection on reactor @idx (the core's round robin). */
struct hh_next_pg {
	struct tt_target *t;
	uint32_t idx;
};

static void hh_next_pg_step(void *arg)
{
	struct hh_next_pg *n = arg;

	n->t->tgt->next_pg = n->idx;
}

static inline void hh_next_reactor(struct tt_target *t, uint32_t idx)
{
	struct hh_next_pg n = { t, idx };

	assert_int_equal(nvmft_runtime_exec(t->rt, 0, hh_next_pg_step, &n), 0);
}

/* ---- counting log sink ------------------------------------------------------- */

/* Keep it static: the sink may outlive a failed test. */
struct hh_log {
	pthread_mutex_t lock;
	const char *needle;
	unsigned int hits;
};

#define HH_LOG_INIT	{ .lock = PTHREAD_MUTEX_INITIALIZER }

static void hh_log_fn(void *ctx, enum nvmft_log_level level, const char *msg)
{
	struct hh_log *l = ctx;

	pthread_mutex_lock(&l->lock);
	if (l->needle && strstr(msg, l->needle))
		l->hits++;
	pthread_mutex_unlock(&l->lock);
	if (getenv("TT_VERBOSE") || level <= NVMFT_LOG_ERR)
		fprintf(stderr, "[tgt %d] %s\n", level, msg);
}

/* Count log lines containing @needle from now on. */
static inline void hh_log_count(struct tt_target *t, struct hh_log *l,
				const char *needle)
{
	pthread_mutex_lock(&l->lock);
	l->needle = needle;
	l->hits = 0;
	pthread_mutex_unlock(&l->lock);
	nvmft_runtime_set_log(t->rt, NVMFT_LOG_DEBUG, hh_log_fn, l);
}

static inline unsigned int hh_log_hits(struct hh_log *l)
{
	unsigned int n;

	pthread_mutex_lock(&l->lock);
	n = l->hits;
	pthread_mutex_unlock(&l->lock);
	return n;
}

/* Back to the harness's sink. */
static inline void hh_log_reset(struct tt_target *t, struct hh_log *l)
{
	(void)l;
	nvmft_runtime_set_log(t->rt, getenv("TT_VERBOSE") ? NVMFT_LOG_DEBUG :
			      NVMFT_LOG_WARN, tt_quiet_log, NULL);
}

/* ---- raw queues -------------------------------------------------------------- */

struct hh_q {
	int fd;
	uint16_t cid;
	uint16_t cntlid;
};

static inline struct nvmft_sqe hh_fabrics_sqe(uint8_t fctype)
{
	struct nvmft_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_fabrics;
	((uint8_t *)&sqe)[4] = fctype;
	return sqe;
}

/* Send a command (in-capsule data @icd of @len, no digests). */
static inline int hh_send_cmd(struct hh_q *q, struct nvmft_sqe *sqe,
			      const void *icd, uint32_t len)
{
	union pdu_hdr h;
	size_t hl;
	int rc;

	sqe->cid = q->cid++;
	if (len) {
		sqe->sgl.type = NVMFT_SGL_INCAPSULE;
		sqe->sgl.addr = 0;
		sqe->sgl.length = htole32(len);
	}
	hl = pdu_enc_capsule_cmd(&h, NULL, sqe, len);
	rc = raw_send(q->fd, h.raw, hl);
	if (!rc && len)
		rc = raw_send(q->fd, icd, len);
	return rc;
}

/* The CapsuleResp of the command just sent (C2H data skipped). */
static inline int hh_wait_rsp(struct hh_q *q, struct nvmft_cqe *cqe)
{
	static uint8_t junk[1 << 20];
	union pdu_hdr h;
	int rc;

	for (;;) {
		rc = raw_recv_pdu(q->fd, &h, junk, sizeof(junk), NULL, 5000);
		if (rc)
			return rc;
		if (h.ch.type == PDU_CAPSULE_RESP) {
			*cqe = h.rsp.cqe;
			return 0;
		}
		if (h.ch.type != PDU_C2H_DATA)
			return -EPROTO;
	}
}

static inline uint16_t hh_cmd(struct hh_q *q, struct nvmft_sqe *sqe,
			      const void *icd, uint32_t len, struct nvmft_cqe *out)
{
	struct nvmft_cqe cqe;

	assert_int_equal(hh_send_cmd(q, sqe, icd, len), 0);
	assert_int_equal(hh_wait_rsp(q, &cqe), 0);
	if (out)
		*out = cqe;
	return le16toh(cqe.status) >> 1;
}

/* IC exchange and Connect of queue @qid (admin: @cntlid 0xffff), SQ size
 * @sqsize (0's based). Returns the status; q->fd is open either way. */
static inline uint16_t hh_connect_q(struct tt_target *t, struct hh_q *q,
				    uint16_t qid, uint16_t sqsize, uint16_t cntlid,
				    uint32_t kato_ms)
{
	struct nvmf_connect_data cd;
	struct nvmft_sqe sqe = hh_fabrics_sqe(nvme_fabrics_type_connect);
	struct nvmft_cqe cqe;
	uint16_t st;

	q->fd = raw_connect(t);
	assert_true(q->fd >= 0);
	assert_int_equal(raw_icreq(q->fd, 0, 0, NULL), 0);
	memset(&cd, 0, sizeof(cd));
	memset(cd.hostid, 0x42, sizeof(cd.hostid));
	cd.cntlid = htole16(cntlid);
	snprintf(cd.subsysnqn, sizeof(cd.subsysnqn), "%s", TT_NQN);
	snprintf(cd.hostnqn, sizeof(cd.hostnqn), "%s", HH_HOSTNQN);
	sqe.cdw10 = htole32((uint32_t)qid << 16);
	sqe.cdw11 = htole32(sqsize);
	sqe.cdw12 = htole32(kato_ms);
	st = hh_cmd(q, &sqe, &cd, sizeof(cd), &cqe);
	if (qid == 0 && st == 0)
		q->cntlid = (uint16_t)le32toh((uint32_t)cqe.result);
	return st;
}

/* Admin queue, controller enabled and ready. */
static inline void hh_admin(struct tt_target *t, struct hh_q *q, uint32_t kato_ms)
{
	struct nvmft_sqe sqe;
	struct nvmft_cqe cqe;

	assert_int_equal(hh_connect_q(t, q, 0, 31, 0xffff, kato_ms), 0);
	sqe = hh_fabrics_sqe(nvme_fabrics_type_property_set);
	sqe.cdw11 = htole32(NVME_REG_CC);
	sqe.cdw12 = htole32(1u | (6u << NVME_CC_IOSQES_SHIFT) |
			    (4u << NVME_CC_IOCQES_SHIFT));
	assert_int_equal(hh_cmd(q, &sqe, NULL, 0, NULL), 0);
	for (int i = 0; i < 1000; i++) {
		sqe = hh_fabrics_sqe(nvme_fabrics_type_property_get);
		sqe.cdw11 = htole32(NVME_REG_CSTS);
		assert_int_equal(hh_cmd(q, &sqe, NULL, 0, &cqe), 0);
		if (le64toh(cqe.result) & 1)
			return;
		tt_sleep_ms(2);
	}
	fail_msg("controller never ready");
}

/* A read of @len bytes at @slba with a transport SGL (data by C2HData). */
static inline void hh_read_sqe(struct nvmft_sqe *sqe, uint64_t slba, uint32_t len)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = nvme_cmd_read;
	sqe->flags = 0x40;
	sqe->nsid = htole32(1);
	sqe->cdw10 = htole32((uint32_t)slba);
	sqe->cdw11 = htole32((uint32_t)(slba >> 32));
	sqe->cdw12 = htole32(len / TT_LBA - 1);
	sqe->sgl.type = NVMFT_SGL_TRANSPORT;
	sqe->sgl.length = htole32(len);
}

/* ---- the check that ends every test ------------------------------------------- */

static inline void hh_verify(struct nvmft_host_qpair *qp, uint64_t slba,
			     uint32_t len, uint32_t seed)
{
	uint8_t *w = malloc(len), *r = malloc(len);

	assert_non_null(w);
	assert_non_null(r);
	tt_fill(w, len, seed);
	memset(r, 0xee, len);
	assert_int_equal(nvmft_host_write(qp, 1, slba, len / TT_LBA, w, len, false), 0);
	assert_int_equal(nvmft_host_read(qp, 1, slba, len / TT_LBA, r, len), 0);
	assert_memory_equal(w, r, len);
	free(w);
	free(r);
}

/*
 * A well-behaved host connects (admin + 2 I/O queues, so both reactors
 * serve it), identifies, writes and reads back in-capsule, R2T and
 * multi-buffer sizes on each queue, and disconnects.
 */
static inline void hh_assert_normal_host_served(struct tt_target *t)
{
	static const uint32_t sizes[] = { 4096, 65536, 1u << 20 };
	struct nvmft_host_opts ho;
	struct nvmft_host_ctrlr *c = NULL;
	static uint32_t seed = 1;

	tt_host_opts(t, &ho);
	ho.num_io_queues = 2;
	assert_int_equal(nvmft_host_ctrlr_connect(&ho, &c), 0);
	assert_non_null(nvmft_host_ctrlr_id(c));
	for (unsigned int q = 0; q < 2; q++) {
		struct nvmft_host_qpair *qp = nvmft_host_ctrlr_io_qpair(c, q);

		assert_non_null(qp);
		for (unsigned int i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			hh_verify(qp, (uint64_t)(q * 8 + i) * 4096, sizes[i], seed++);
	}
	nvmft_host_ctrlr_disconnect(c);
}

#endif
