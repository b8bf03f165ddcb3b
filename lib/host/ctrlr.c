/* SPDX-License-Identifier: MIT */
/*
 * Host controller: options, host NQN, the enable sequence (Connect, CAP,
 * VS, CC.EN, CSTS.RDY, Identify, Number of Queues, I/O queues), keep-alive
 * and teardown.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <nvme/types.h>
#include "host_internal.h"

#define CC_ENABLE	((1u << NVME_CC_EN_SHIFT) | (6u << NVME_CC_IOSQES_SHIFT) | \
			 (4u << NVME_CC_IOCQES_SHIFT))
#define CC_SHN_NORMAL	(1u << NVME_CC_SHN_SHIFT)
#define CSTS_SHST(v)	(((v) >> 2) & 0x3)
#define CSTS_SHST_DONE	2

uint64_t host_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void host_log(const struct nvmft_host_ctrlr *ctrlr, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ctrlr && ctrlr->opts.log_fn)
		ctrlr->opts.log_fn(ctrlr->opts.log_arg, level, msg);
	else if (level <= LOG_WARNING)
		fprintf(stderr, "nvmft-host: %s\n", msg);
}

void nvmft_host_opts_init(struct nvmft_host_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->traddr = "127.0.0.1";
	o->trsvcid = "4420";
	o->kato_ms = 10000;
	o->admin_queue_size = 32;
	o->io_queue_size = 128;
	o->num_io_queues = 1;
	o->connect_timeout_ms = 5000;
	o->ic_timeout_ms = 5000;
	o->cmd_timeout_ms = 30000;
}

/* 64-bit FNV-1a, to spread the process identity over a UUID. */
static uint64_t fnv1a(uint64_t h, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static size_t read_small_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return n;
}

/*
 * No global state: the "stable per process" identity is recomputed from
 * what identifies a process on this boot (boot id, pid, start time).
 */
void nvmft_host_gen_hostnqn(char *nqn, uint8_t hostid[16])
{
	char boot[64], stat[1024], *rp;
	unsigned long long start = 0;
	pid_t pid = getpid();
	uint8_t u[16];
	uint64_t a, b;

	read_small_file("/proc/sys/kernel/random/boot_id", boot, sizeof(boot));
	read_small_file("/proc/self/stat", stat, sizeof(stat));
	rp = strrchr(stat, ')');
	if (rp) {
		/* starttime is field 22; fields after "comm)" start at 3 */
		char *s = rp + 1;

		for (int field = 3; field < 22 && s; field++) {
			s = strchr(s + 1, ' ');
		}
		if (s)
			start = strtoull(s + 1, NULL, 10);
	}
	a = fnv1a(0xcbf29ce484222325ull, boot, strlen(boot));
	a = fnv1a(a, &pid, sizeof(pid));
	a = fnv1a(a, &start, sizeof(start));
	b = fnv1a(a ^ 0x9e3779b97f4a7c15ull, &start, sizeof(start));
	b = fnv1a(b, boot, strlen(boot));
	memcpy(u, &a, 8);
	memcpy(u + 8, &b, 8);
	u[6] = (u[6] & 0x0f) | 0x40;	/* version 4 layout */
	u[8] = (u[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	snprintf(nqn, NVMFT_HOST_NQN_LEN,
		 "nqn.2014-08.org.nvmexpress:uuid:"
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
	if (hostid)
		memcpy(hostid, u, 16);
}

static int copy_str(char *dst, size_t len, const char *src)
{
	if (!src || !*src || strlen(src) >= len)
		return -EINVAL;
	strcpy(dst, src);
	return 0;
}

static int ctrlr_init_opts(struct nvmft_host_ctrlr *c, const struct nvmft_host_opts *o)
{
	static const uint8_t zero_id[16];
	uint8_t gen_id[16];

	c->opts = *o;
	if (copy_str(c->traddr, sizeof(c->traddr), o->traddr) ||
	    copy_str(c->trsvcid, sizeof(c->trsvcid), o->trsvcid) ||
	    copy_str(c->subnqn, NVMFT_HOST_NQN_LEN, o->subnqn))
		return -EINVAL;
	nvmft_host_gen_hostnqn(c->hostnqn, gen_id);
	if (o->hostnqn && copy_str(c->hostnqn, sizeof(c->hostnqn), o->hostnqn))
		return -EINVAL;
	if (!memcmp(o->hostid, zero_id, sizeof(zero_id)))
		memcpy(c->opts.hostid, gen_id, sizeof(gen_id));
	if (o->admin_queue_size < 2 || o->hpda > PDU_MAX_PDA ||
	    (o->num_io_queues && o->io_queue_size < 2) ||
	    !o->connect_timeout_ms || !o->ic_timeout_ms || !o->cmd_timeout_ms)
		return -EINVAL;
	c->opts.traddr = c->traddr;
	c->opts.trsvcid = c->trsvcid;
	c->opts.subnqn = c->subnqn;
	c->opts.hostnqn = c->hostnqn;
	c->max_xfer = HOST_MAX_XFER_DEFAULT;
	return 0;
}

static int ctrlr_wait_csts(struct nvmft_host_ctrlr *c, uint32_t mask, uint32_t want,
			   uint32_t timeout_ms)
{
	uint64_t deadline = host_now_ns() + (uint64_t)timeout_ms * 1000000;
	uint64_t csts;
	useconds_t nap = 1000;
	int rc;

	for (;;) {
		rc = nvmft_host_property_get(c, NVME_REG_CSTS, 4, &csts);
		if (rc)
			return rc;
		if (NVME_CSTS_CFS(csts))
			return -EIO;
		if ((csts & mask) == want)
			return 0;
		if (host_now_ns() >= deadline)
			return -ETIMEDOUT;
		usleep(nap);
		if (nap < 16000)
			nap *= 2;
	}
}

/* CAP, VS, CC.EN, CSTS.RDY. */
static int ctrlr_enable(struct nvmft_host_ctrlr *c)
{
	uint64_t vs;
	uint32_t to_ms;
	int rc;

	rc = nvmft_host_property_get(c, NVME_REG_CAP, 8, &c->cap);
	if (!rc)
		rc = nvmft_host_property_get(c, NVME_REG_VS, 4, &vs);
	if (!rc)
		rc = nvmft_host_property_set(c, NVME_REG_CC, 4, CC_ENABLE);
	if (rc) {
		host_log(c, LOG_ERR, "property access failed: %d", rc);
		return rc < 0 ? rc : -EIO;
	}
	c->vs = (uint32_t)vs;
	/* CAP.TO is the controller's own worst case, in 500 ms units. */
	to_ms = NVME_CAP_TO(c->cap) * 500;
	if (!to_ms)
		to_ms = c->opts.connect_timeout_ms;
	rc = ctrlr_wait_csts(c, 1u << NVME_CSTS_RDY_SHIFT, 1u << NVME_CSTS_RDY_SHIFT, to_ms);
	if (rc) {
		host_log(c, LOG_ERR, "controller not ready (CSTS.RDY): %s",
			 strerror(rc < 0 ? -rc : EIO));
		return rc < 0 ? rc : -EIO;
	}
	return 0;
}

static int ctrlr_identify(struct nvmft_host_ctrlr *c)
{
	uint32_t page, ioccsz;
	int rc;

	c->id = calloc(1, sizeof(*c->id));
	if (!c->id)
		return -ENOMEM;
	rc = nvmft_host_identify(c, NVME_IDENTIFY_CNS_CTRL, 0, c->id);
	if (rc) {
		host_log(c, LOG_ERR, "Identify Controller failed: %d", rc);
		return rc < 0 ? rc : -EIO;
	}
	page = 1u << (12 + NVME_CAP_MPSMIN(c->cap));
	if (c->id->mdts && c->id->mdts + 12 + NVME_CAP_MPSMIN(c->cap) < 32) {
		uint64_t mx = (uint64_t)page << c->id->mdts;

		if (mx < c->max_xfer)
			c->max_xfer = (uint32_t)mx;
	}
	c->admin->max_xfer = c->max_xfer;
	/* In-capsule data at a non-zero offset is not supported: use R2T. */
	ioccsz = le32toh(c->id->ioccsz);
	c->io_icd = ioccsz > 4 && !c->id->icdoff ? ioccsz * 16 - 64 : 0;
	c->disconnect_supported = le16toh(c->id->ofcs) & 1;
	return 0;
}

static int ctrlr_set_num_queues(struct nvmft_host_ctrlr *c)
{
	uint32_t n = c->opts.num_io_queues - 1, res = 0;
	int rc = nvmft_host_set_features(c, NVME_FEAT_FID_NUM_QUEUES, n | (n << 16),
					 false, &res);

	if (rc < 0)
		return rc;
	if (rc > 0) {
		host_log(c, LOG_WARNING, "Set Features Number of Queues: status 0x%x", rc);
		c->max_io_queues = c->opts.num_io_queues;
		return 0;
	}
	uint32_t nsq = (res & 0xffff) + 1, ncq = (res >> 16) + 1;

	c->max_io_queues = nsq < ncq ? nsq : ncq;
	if (c->max_io_queues < c->opts.num_io_queues)
		host_log(c, LOG_WARNING, "controller grants %u of %u I/O queues",
			 c->max_io_queues, c->opts.num_io_queues);
	return 0;
}

/*
 * Lowest queue id no live I/O qpair uses: a removed qpair's id is reused,
 * so that removing and adding queues stays within the granted count.
 */
static uint16_t free_qid(const struct nvmft_host_ctrlr *c)
{
	unsigned int i, max = 0;
	uint16_t qid = 1;
	bool *used;

	/* Ids are unique: with the largest equal to the count they are
	 * exactly 1..count (the usual case, and the only cheap one to see). */
	for (i = 0; i < c->nr_io; i++)
		if (c->io[i]->qid > max)
			max = c->io[i]->qid;
	if (max == c->nr_io)
		return (uint16_t)(max + 1);
	used = calloc(c->nr_io + 2, sizeof(*used));
	if (used) {
		for (i = 0; i < c->nr_io; i++)
			if (c->io[i]->qid <= c->nr_io + 1)
				used[c->io[i]->qid] = true;
		while (used[qid])
			qid++;
		free(used);
		return qid;
	}
	for (i = 0; i < c->nr_io; i++) {
		if (c->io[i]->qid == qid) {
			qid++;
			i = (unsigned int)-1;	/* rescan: io[] is not sorted */
		}
	}
	return qid;
}

int nvmft_host_ctrlr_add_io_qpair(struct nvmft_host_ctrlr *c, uint16_t queue_size,
				  struct nvmft_host_qpair **out)
{
	struct nvmft_host_qpair *qp;
	int rc;

	if (!queue_size)
		queue_size = c->opts.io_queue_size;
	if (queue_size < 2)
		return -EINVAL;
	if (c->max_io_queues && c->nr_io >= c->max_io_queues)
		return -ENOSPC;
	if (c->nr_io == c->io_cap) {
		unsigned int cap = c->io_cap ? c->io_cap * 2 : 4;
		struct nvmft_host_qpair **io = realloc(c->io, cap * sizeof(*io));

		if (!io)
			return -ENOMEM;
		c->io = io;
		c->io_cap = cap;
	}
	rc = qpair_create(c, free_qid(c), queue_size, &qp);
	if (rc)
		return rc;
	rc = fabrics_qpair_connect(qp);
	if (rc) {
		qpair_destroy(qp);
		return rc;
	}
	c->io[c->nr_io++] = qp;
	if (out)
		*out = qp;
	return 0;
}

int nvmft_host_ctrlr_remove_io_qpair(struct nvmft_host_ctrlr *c, struct nvmft_host_qpair *qp)
{
	unsigned int i;
	int rc = 0;

	for (i = 0; i < c->nr_io && c->io[i] != qp; i++)
		;
	if (i == c->nr_io)
		return -ENOENT;
	if (qp->state == QP_LIVE && c->disconnect_supported)
		rc = fabrics_disconnect(qp);
	qpair_destroy(qp);
	memmove(&c->io[i], &c->io[i + 1], (c->nr_io - i - 1) * sizeof(c->io[0]));
	c->nr_io--;
	return rc < 0 ? rc : 0;
}

int nvmft_host_ctrlr_connect(const struct nvmft_host_opts *opts,
			     struct nvmft_host_ctrlr **out)
{
	struct nvmft_host_ctrlr *c;
	int rc;

	if (!opts || !out)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	rc = ctrlr_init_opts(c, opts);
	if (rc)
		goto out_free;
	rc = qpair_create(c, 0, opts->admin_queue_size, &c->admin);
	if (rc)
		goto out_free;
	rc = fabrics_qpair_connect(c->admin);
	if (rc)
		goto out_disconnect;
	rc = ctrlr_enable(c);
	if (rc)
		goto out_disconnect;
	rc = ctrlr_identify(c);
	if (rc)
		goto out_disconnect;
	if (opts->num_io_queues) {
		rc = ctrlr_set_num_queues(c);
		if (rc)
			goto out_disconnect;
		unsigned int n = opts->num_io_queues < c->max_io_queues ?
				 opts->num_io_queues : c->max_io_queues;

		for (unsigned int i = 0; i < n; i++) {
			rc = nvmft_host_ctrlr_add_io_qpair(c, opts->io_queue_size, NULL);
			if (rc)
				goto out_disconnect;
			/* Thousands of queues take longer than the keep-alive
			 * timeout: let the admin queue send its Keep Alives. */
			(void)nvmft_host_qpair_poll(c->admin, 0);
		}
	}
	*out = c;
	return 0;

out_disconnect:
	nvmft_host_ctrlr_disconnect(c);
	return rc;
out_free:
	free(c);
	return rc;
}

void nvmft_host_ctrlr_disconnect(struct nvmft_host_ctrlr *c)
{
	if (!c)
		return;
	for (unsigned int i = 0; i < c->nr_io; i++) {
		struct nvmft_host_qpair *qp = c->io[i];

		if (qp->state == QP_LIVE && c->disconnect_supported)
			(void)fabrics_disconnect(qp);
		qpair_destroy(qp);
		if (c->admin)
			(void)nvmft_host_qpair_poll(c->admin, 0);	/* Keep Alives */
	}
	free(c->io);
	if (c->admin && c->admin->state == QP_LIVE && c->id) {
		/* Normal shutdown; a controller that does not finish in a
		 * second is left to notice the closed connection. */
		if (!nvmft_host_property_set(c, NVME_REG_CC, 4, CC_ENABLE | CC_SHN_NORMAL))
			(void)ctrlr_wait_csts(c, 0xc, CSTS_SHST_DONE << 2, 1000);
	}
	qpair_destroy(c->admin);
	free(c->id);
	free(c);
}

int nvmft_host_ctrlr_keep_alive(struct nvmft_host_ctrlr *c)
{
	struct nvmft_sqe sqe = { .opcode = nvme_admin_keep_alive };
	int rc = nvmft_host_cmd_sync(c->admin, &sqe, NULL, 0, NVMFT_HOST_DIR_NONE, NULL);

	if (!rc)
		c->admin->ka_next_ns = host_now_ns() +
				       (uint64_t)c->opts.kato_ms * 1000000 / 2;
	return rc;
}

struct nvmft_host_qpair *nvmft_host_ctrlr_admin_qpair(struct nvmft_host_ctrlr *c)
{
	return c->admin;
}

unsigned int nvmft_host_ctrlr_num_io_qpairs(const struct nvmft_host_ctrlr *c)
{
	return c->nr_io;
}

struct nvmft_host_qpair *nvmft_host_ctrlr_io_qpair(struct nvmft_host_ctrlr *c,
						   unsigned int idx)
{
	return idx < c->nr_io ? c->io[idx] : NULL;
}

uint16_t nvmft_host_ctrlr_cntlid(const struct nvmft_host_ctrlr *c)
{
	return c->cntlid;
}

uint64_t nvmft_host_ctrlr_cap(const struct nvmft_host_ctrlr *c)
{
	return c->cap;
}

uint32_t nvmft_host_ctrlr_vs(const struct nvmft_host_ctrlr *c)
{
	return c->vs;
}

const struct nvme_id_ctrl *nvmft_host_ctrlr_id(const struct nvmft_host_ctrlr *c)
{
	return c->id;
}

uint32_t nvmft_host_ctrlr_max_xfer(const struct nvmft_host_ctrlr *c)
{
	return c->max_xfer;
}
