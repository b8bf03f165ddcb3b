/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the NVMe-oF core's command dispatch (fabrics, admin, I/O
 * handlers in lib/nvmf) fed arbitrary SQEs and data against a malloc
 * namespace, through the in-process fake transport of the tests (no TCP:
 * the SQE, the data length and the data reach the core exactly as given).
 *
 * Input: [0] flags, then records of
 *   [0] queue: bit0 the I/O queue (else the admin queue),
 *              bit1 do not wait for the completion before the next record
 *   [1..2] data length (le, at most FUZZ_CMD_MAX_DATA)
 *   [3..66] the SQE (its CID is replaced by the transport's slot)
 *   then, for host-to-controller commands, up to that many data bytes
 *   (short input: the rest is zero).
 * flags bit0: set up the controller (CC.EN=1, wait for CSTS.RDY) first;
 *       bit1: connect I/O queue 1 of the controller (after bit0's work).
 * The admin queue is always connected (qid 0, SQ size 32, no keep-alive).
 *
 * Checks: no crash or sanitizer report; every command completes (an Async
 * Event Request and the first half of a fused pair may wait for the end),
 * at the latest when its queue is disconnected; no controller is left
 * once the queues are gone.
 */
#include <errno.h>
#include <sched.h>
#include <unistd.h>

#include "fuzz_env.h"
#include "support/fake_transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
void fuzz_target_cleanup(void);

#define FUZZ_CMD_MAX_DATA	(64u * 1024)
#define FUZZ_CMD_MAX_RECORDS	64
#define REC_HDR			3
#define CQE_WAIT_US		(5u * 1000 * 1000)

static struct fuzz_env env;

static int register_fake(struct nvmft_tgt *tgt)
{
	return nvmf_tgt_register_transport_ops(tgt, &fake_transport_ops);
}

static void setup(void)
{
	if (env.rt)
		return;
	env.transport = FAKE_TRANSPORT_NAME;
	env.topts = NULL;
	env.prepare = register_fake;
	fuzz_env_start(&env);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setup();
	return 0;
}

/* Commands the core may hold until an event or their partner comes. */
static bool may_be_held(const struct nvmft_sqe *sqe, bool admin)
{
	if (admin && sqe->opcode == nvme_admin_async_event)
		return true;
	return (sqe->flags & 3) == 1;	/* FUSE_FIRST */
}

static void close_queue(struct fake_qpair *fq);

/* Spin a little, then nap (the reactor answers within microseconds; the
 * fake transport's own waits sleep 100 us a step, too slow for a fuzzer,
 * and spinning for long starves the reactor on a small machine). */
static void spin_until_done(struct fake_qpair *fq, int cid)
{
	uint64_t start = nvmft_now_us(), now = start;

	while (!fake_transport_cqe_ready(fq, cid) && now - start < CQE_WAIT_US) {
		if (now - start < 200)
			sched_yield();
		else
			usleep(20);
		now = nvmft_now_us();
	}
}

static void wait_cqe(struct fake_qpair *fq, int cid, const struct nvmft_sqe *sqe,
		     struct nvmft_cqe *cqe)
{
	spin_until_done(fq, cid);
	if (fake_transport_wait_cqe(fq, cid, cqe, 0) == 0)
		return;
	fprintf(stderr, "command stuck: opcode %#x flags %#x cdw10 %#x\n",
		sqe->opcode, sqe->flags, sqe->cdw10);
	abort();
}

/* Submit and wait; the status (NVMFT_STATUS layout), 0xffff if refused. */
static uint16_t exec_cmd(struct fake_qpair *fq, const struct nvmft_sqe *sqe,
			 void *data, uint32_t len, struct nvmft_cqe *cqe)
{
	struct nvmft_cqe c;
	int cid = fake_transport_submit(fq, sqe, data, len);

	if (cid < 0)
		return 0xffff;
	wait_cqe(fq, cid, sqe, &c);
	if (cqe)
		*cqe = c;
	return c.status >> 1;
}

/* Connect the admin queue, optionally enable the controller. */
static struct fake_qpair *admin_queue(bool enable, uint16_t *cntlid)
{
	struct nvmf_connect_data cd;
	struct nvmft_sqe sqe;
	struct nvmft_cqe cqe;
	struct fake_qpair *fq;

	fq = fake_transport_connect(env.rt, env.tgt, 0);
	if (!fq)
		return NULL;
	fake_transport_connect_cmd(&sqe, &cd, 0, 31, 0xffff, 0, FUZZ_NQN,
				   FUZZ_HOSTNQN);
	if (exec_cmd(fq, &sqe, &cd, sizeof(cd), &cqe) != 0) {
		close_queue(fq);
		return NULL;
	}
	*cntlid = (uint16_t)cqe.result;
	if (!enable)
		return fq;
	fake_transport_prop_set_cmd(&sqe, NVME_REG_CC, 4,
				    1u | (6u << NVME_CC_IOSQES_SHIFT) |
				    (4u << NVME_CC_IOCQES_SHIFT));
	FUZZ_CHECK(exec_cmd(fq, &sqe, NULL, 0, NULL) == 0);
	for (int i = 0; i < 100000; i++) {
		fake_transport_prop_get_cmd(&sqe, NVME_REG_CSTS, 4);
		FUZZ_CHECK(exec_cmd(fq, &sqe, NULL, 0, &cqe) == 0);
		if (cqe.result & 1)
			return fq;
		sched_yield();
	}
	fprintf(stderr, "controller never ready\n");
	abort();
}

/* I/O queue 1 of @cntlid; kept even if its Connect fails (then commands
 * on it test the not-connected paths). */
static struct fake_qpair *io_queue(uint16_t cntlid)
{
	struct nvmf_connect_data cd;
	struct nvmft_sqe sqe;
	struct fake_qpair *fq;

	fq = fake_transport_connect(env.rt, env.tgt, 0);
	if (!fq)
		return NULL;
	fake_transport_connect_cmd(&sqe, &cd, 1, 31, cntlid, 0, FUZZ_NQN,
				   FUZZ_HOSTNQN);
	(void)exec_cmd(fq, &sqe, &cd, sizeof(cd), NULL);
	return fq;
}

static void close_queue(struct fake_qpair *fq)
{
	uint64_t end = nvmft_now_us() + CQE_WAIT_US;

	if (!fq)
		return;
	fake_transport_disconnect(fq);
	while (!fake_transport_closed(fq) && nvmft_now_us() < end)
		sched_yield();
	if (!fake_transport_closed(fq)) {
		fprintf(stderr, "queue not closed: a command is never completed\n");
		abort();
	}
}

struct ctrlr_count {
	uint32_t live;
	uint32_t conns;
};

static void count_fn(void *arg)
{
	struct ctrlr_count *c = arg;

	c->live = env.tgt->nr_live_ctrlrs;
	c->conns = env.tgt->nr_connections;
}

static void reset_cntlid_fn(void *arg)
{
	(void)arg;
	/* the same controller IDs in every input */
	env.ss->next_cntlid = env.ss->min_cntlid;
}

static void wait_all_gone(void)
{
	uint64_t end = nvmft_now_us() + CQE_WAIT_US;
	struct ctrlr_count c;

	for (;;) {
		fuzz_env_exec(&env, count_fn, &c);
		if (!c.live && !c.conns)
			return;
		if (nvmft_now_us() > end) {
			fprintf(stderr, "%u controllers, %u connections left\n",
				c.live, c.conns);
			abort();
		}
		sched_yield();
	}
}

static void run_records(struct fake_qpair *aq, struct fake_qpair *ioq,
			const uint8_t *d, size_t n)
{
	static uint8_t buf[FUZZ_CMD_MAX_DATA];

	for (int i = 0; i < FUZZ_CMD_MAX_RECORDS && n >= REC_HDR + 64; i++) {
		bool io = d[0] & 1, nowait = d[0] & 2;
		uint32_t len = (uint32_t)d[1] | (uint32_t)d[2] << 8;
		struct fake_qpair *fq = io && ioq ? ioq : aq;
		struct nvmft_sqe sqe;
		int cid;

		memcpy(&sqe, d + REC_HDR, sizeof(sqe));
		d += REC_HDR + 64;
		n -= REC_HDR + 64;
		if (len > FUZZ_CMD_MAX_DATA)
			len = FUZZ_CMD_MAX_DATA;
		memset(buf, 0, len);
		if (nvmf_req_get_xfer(&sqe) == NVMF_XFER_H2C) {
			size_t k = len < n ? len : n;

			memcpy(buf, d, k);
			d += k;
			n -= k;
		}
		cid = fake_transport_submit(fq, &sqe, buf, len);
		if (cid < 0)
			continue;	/* closed (Disconnect...) or queue full */
		if (!nowait && !may_be_held(&sqe, fq == aq))
			wait_cqe(fq, cid, &sqe, NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fake_qpair *aq, *ioq = NULL;
	uint16_t cntlid = 0;

	if (size < 1)
		return 0;
	setup();
	fuzz_env_exec(&env, reset_cntlid_fn, NULL);
	aq = admin_queue(data[0] & 1, &cntlid);
	FUZZ_CHECK(aq != NULL);
	if (data[0] & 2)
		ioq = io_queue(cntlid);
	run_records(aq, ioq, data + 1, size - 1);
	/* an I/O queue first, as a host does; then the controller goes */
	close_queue(ioq);
	close_queue(aq);
	wait_all_gone();
	fake_transport_reap();
	return 0;
}

void fuzz_target_cleanup(void)
{
	fuzz_env_stop(&env);
	fake_transport_reap();
}
