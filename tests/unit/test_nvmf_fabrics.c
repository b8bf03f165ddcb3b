// SPDX-License-Identifier: MIT
/*
 * Fabrics commands through the real core: Connect (admin and I/O, on both
 * reactors, with every refusal), Property Get/Set, Disconnect,
 * Authentication, SQ head reporting, and the command-before-Connect rule.
 */
#include "test_nvmf_core.h"

#define CSPEC(sc)	ST_DNR(NVME_SCT_CMD_SPECIFIC, sc)
#define GEN(sc)		ST_DNR(NVME_SCT_GENERIC, sc)

static struct nvmft_subsystem *started_ss(struct tc *tc)
{
	return tc_ss(tc, tc->tgt, TC_NQN, true, true);
}

static uint16_t connect_raw(struct fake_qpair *fq, uint16_t qid, uint16_t sqsize,
			    uint16_t cntlid, const char *subnqn, const char *hostnqn,
			    struct nvmft_cqe *cqe)
{
	struct nvmf_connect_data data;
	struct nvmft_sqe sqe;

	fake_transport_connect_cmd(&sqe, &data, qid, sqsize, cntlid, 0, subnqn, hostnqn);
	return fake_transport_exec(fq, &sqe, &data, sizeof(data), cqe);
}

static uint16_t prop_get(struct fake_qpair *fq, uint32_t ofst, int size, uint64_t *val)
{
	struct nvmft_sqe sqe;
	struct nvmft_cqe cqe;
	uint16_t s;

	fake_transport_prop_get_cmd(&sqe, ofst, size);
	s = fake_transport_exec(fq, &sqe, NULL, 0, &cqe);
	if (val)
		*val = cqe.result;
	return s;
}

static uint16_t prop_set(struct fake_qpair *fq, uint32_t ofst, int size, uint64_t val)
{
	struct nvmft_sqe sqe;

	fake_transport_prop_set_cmd(&sqe, ofst, size, val);
	return fake_transport_exec(fq, &sqe, NULL, 0, NULL);
}

static void test_admin_connect_returns_cntlid(void **state)
{
	struct tc *tc = *state;
	struct fake_qpair *a, *b;
	struct nvmft_cqe cqe;

	started_ss(tc);
	a = fake_transport_connect(tc->rt, tc->tgt, 0);
	b = fake_transport_connect(tc->rt, tc->tgt, 1);
	assert_int_equal(connect_raw(a, 0, 31, 0xffff, TC_NQN, TC_HOSTNQN, &cqe), 0);
	assert_int_equal(cqe.result & 0xffff, 1);
	assert_int_equal(cqe.sq_id, 0);
	assert_int_equal(connect_raw(b, 0, 31, 0xffff, TC_NQN, TC_HOSTNQN, &cqe), 0);
	assert_int_equal(cqe.result & 0xffff, 2);
}

static void test_command_before_connect_is_sequence_error(void **state)
{
	struct tc *tc = *state;
	struct fake_qpair *q;
	struct nvmft_sqe sqe;

	started_ss(tc);
	q = fake_transport_connect(tc->rt, tc->tgt, 1);
	assert_non_null(q);
	tc_admin_cmd(&sqe, nvme_admin_identify);
	assert_int_equal(fake_transport_exec(q, &sqe, NULL, 0, NULL), GEN(NVME_SC_CMD_SEQ_ERROR));
	assert_int_equal(prop_get(q, NVME_REG_CAP, 8, NULL), GEN(NVME_SC_CMD_SEQ_ERROR));
	/* Connect still works afterwards */
	assert_int_equal(connect_raw(q, 0, 31, 0xffff, TC_NQN, TC_HOSTNQN, NULL), 0);
}

static void test_connect_twice_is_sequence_error(void **state)
{
	struct tc *tc = *state;
	struct fake_qpair *q;

	started_ss(tc);
	q = fake_transport_connect(tc->rt, tc->tgt, 0);
	assert_int_equal(connect_raw(q, 0, 31, 0xffff, TC_NQN, TC_HOSTNQN, NULL), 0);
	assert_int_equal(connect_raw(q, 0, 31, 0xffff, TC_NQN, TC_HOSTNQN, NULL),
			 GEN(NVME_SC_CMD_SEQ_ERROR));
}

static void test_connect_unknown_subsystem(void **state)
{
	struct tc *tc = *state;
	struct fake_qpair *q;
	struct nvmft_cqe cqe;

	started_ss(tc);
	q = fake_transport_connect(tc->rt, tc->tgt, 0);
	assert_int_equal(connect_raw(q, 0, 31, 0xffff, "nqn.2024-01.io.nvmft:nope",
				     TC_HOSTNQN, &cqe),
			 CSPEC(NVME_SC_CONNECT_INVALID_PARAM));
	/* IATTR = 1 (connect data), IPO = offset of SUBNQN */
	assert_int_equal(cqe.result, (1u << 16) | 256);
}

static void test_connect_not_started_subsystem(void **state)
{
	struct tc *tc = *state;
	struct fake_qpair *q;
	struct nvmft_cqe cqe;

	tc_ss(tc, tc->tgt, TC_NQN, true, false);
	q = fake_transport_connect(tc->rt, tc->tgt, 0);
	assert_int_equal(connect_raw(q, 0, 31, 0xffff, TC_NQN, TC_HOSTNQN, &cqe),
			 CSPEC(NVME_SC_CONNECT_INVALID_PARAM));
	assert_int_equal(cqe.result, (1u << 16) | 256);
}

struct host_args {
	struct nvmft_subsystem *ss;
	int rc;
};

static void add_host_fn(void *arg)
{
	struct host_args *h = arg;

	h->rc = nvmft_subsystem_add_host(h->ss, TC_HOSTNQN2);
}

static void test_connect_host_not_allowed(void **state)
{
	struct tc *tc = *state;
	struct host_args h;
	struct fake_qpair *q;
	struct nvmft_cqe cqe;

	h.ss = tc_ss(tc, tc->tgt, TC_NQN, false, true);
	TC_ON_APP(tc, add_host_fn, &h);
	assert_int_equal(h.rc, 0);
	q = fake_transport_connect(tc->rt, tc->tgt, 0);
	assert_int_equal(connect_raw(q, 0, 31, 0xffff, TC_NQN, TC_HOSTNQN, &cqe),
			 CSPEC(NVME_SC_CONNECT_INVALID_HOST));
	assert_int_equal(cqe.result, (1u << 16) | 512);
	/* the listed host gets in */
	assert_int_equal(connect_raw(q, 0, 31, 0xffff, TC_NQN, TC_HOSTNQN2, &cqe), 0);
}

static void test_connect_bad_recfmt(void **state)
{
	struct tc *tc = *state;
	struct nvmf_connect_data data;
	struct nvmft_sqe sqe;
	struct fake_qpair *q;

	started_ss(tc);
	q = fake_transport_connect(tc->rt, tc->tgt, 0);
	fake_transport_connect_cmd(&sqe, &data, 0, 31, 0xffff, 0, TC_NQN, TC_HOSTNQN);
	sqe.cdw10 |= 1;		/* RECFMT 1 */
	assert_int_equal(fake_transport_exec(q, &sqe, &data, sizeof(data), NULL),
			 CSPEC(NVME_SC_CONNECT_FORMAT));
}

static void test_connect_wrong_data_length(void **state)
{
	struct tc *tc = *state;
	struct nvmf_connect_data data;
	struct nvmft_sqe sqe;
	struct fake_qpair *q;

	started_ss(tc);
	q = fake_transport_connect(tc->rt, tc->tgt, 0);
	fake_transport_connect_cmd(&sqe, &data, 0, 31, 0xffff, 0, TC_NQN, TC_HOSTNQN);
	assert_int_equal(fake_transport_exec(q, &sqe, &data, 512, NULL),
			 GEN(NVME_SC_SGL_INVALID_DATA));
	/* the qpair still takes a proper Connect */
	assert_int_equal(fake_transport_exec(q, &sqe, &data, sizeof(data), NULL), 0);
}

static void test_connect_sqsize_limits(void **state)
{
	struct tc *tc = *state;
	struct fake_qpair *q;
	struct nvmft_cqe cqe;

	started_ss(tc);
	q = fake_transport_connect(tc->rt, tc->tgt, 0);
	/* admin depth 32: SQSIZE (0's based) at most 31, and not 0 */
	assert_int_equal(connect_raw(q, 0, 32, 0xffff, TC_NQN, TC_HOSTNQN, &cqe),
			 CSPEC(NVME_SC_CONNECT_INVALID_PARAM));
	assert_int_equal(cqe.result, 44);	/* SQE offset of SQSIZE, IATTR 0 */
	assert_int_equal(connect_raw(q, 0, 0, 0xffff, TC_NQN, TC_HOSTNQN, &cqe),
			 CSPEC(NVME_SC_CONNECT_INVALID_PARAM));
	assert_int_equal(connect_raw(q, 0, 31, 0xffff, TC_NQN, TC_HOSTNQN, &cqe), 0);
}

static void test_connect_admin_needs_dynamic_cntlid(void **state)
{
	struct tc *tc = *state;
	struct fake_qpair *q;
	struct nvmft_cqe cqe;

	started_ss(tc);
	q = fake_transport_connect(tc->rt, tc->tgt, 0);
	assert_int_equal(connect_raw(q, 0, 31, 5, TC_NQN, TC_HOSTNQN, &cqe),
			 CSPEC(NVME_SC_CONNECT_INVALID_PARAM));
	assert_int_equal(cqe.result, (1u << 16) | 16);
}

static void test_io_connect_on_other_reactor(void **state)
{
	struct tc *tc = *state;
	struct fake_qpair *aq, *q1, *q2;
	uint16_t cntlid;
	struct nvmft_cqe cqe;

	started_ss(tc);
	aq = fake_transport_admin_connect(tc->rt, tc->tgt, 0, TC_NQN, TC_HOSTNQN, 0, &cntlid);
	assert_non_null(aq);
	q1 = fake_transport_connect(tc->rt, tc->tgt, 1);
	assert_int_equal(connect_raw(q1, 1, 127, cntlid, TC_NQN, TC_HOSTNQN, &cqe), 0);
	assert_int_equal(cqe.sq_id, 1);
	/* same qid again: refused, pointing at QID */
	q2 = fake_transport_connect(tc->rt, tc->tgt, 0);
	assert_int_equal(connect_raw(q2, 1, 31, cntlid, TC_NQN, TC_HOSTNQN, &cqe),
			 CSPEC(NVME_SC_CONNECT_INVALID_PARAM));
	assert_int_equal(cqe.result, 42);
	/* I/O queue depth 128: SQSIZE 128 is one too many */
	assert_int_equal(connect_raw(q2, 2, 128, cntlid, TC_NQN, TC_HOSTNQN, &cqe),
			 CSPEC(NVME_SC_CONNECT_INVALID_PARAM));
	assert_int_equal(cqe.result, 44);
	/* 8 queues per controller: qid 7 is the last I/O queue */
	assert_int_equal(connect_raw(q2, 8, 31, cntlid, TC_NQN, TC_HOSTNQN, &cqe),
			 CSPEC(NVME_SC_CONNECT_INVALID_PARAM));
	assert_int_equal(connect_raw(q2, 7, 31, cntlid, TC_NQN, TC_HOSTNQN, &cqe), 0);
}

static void test_io_connect_unknown_cntlid_or_host(void **state)
{
	struct tc *tc = *state;
	struct fake_qpair *aq, *q;
	uint16_t cntlid;
	struct nvmft_cqe cqe;

	started_ss(tc);
	aq = fake_transport_admin_connect(tc->rt, tc->tgt, 0, TC_NQN, TC_HOSTNQN, 0, &cntlid);
	assert_non_null(aq);
	q = fake_transport_connect(tc->rt, tc->tgt, 1);
	assert_int_equal(connect_raw(q, 1, 31, cntlid + 1, TC_NQN, TC_HOSTNQN, &cqe),
			 CSPEC(NVME_SC_CONNECT_INVALID_PARAM));
	assert_int_equal(cqe.result, (1u << 16) | 16);
	/* another host cannot join this controller */
	assert_int_equal(connect_raw(q, 1, 31, cntlid, TC_NQN, TC_HOSTNQN2, &cqe),
			 CSPEC(NVME_SC_CONNECT_INVALID_PARAM));
}

static void test_io_connect_needs_enabled_controller(void **state)
{
	struct tc *tc = *state;
	struct fake_qpair *aq, *q;
	struct nvmft_cqe cqe;
	uint16_t cntlid;

	started_ss(tc);
	aq = fake_transport_connect(tc->rt, tc->tgt, 0);
	assert_int_equal(connect_raw(aq, 0, 31, 0xffff, TC_NQN, TC_HOSTNQN, &cqe), 0);
	cntlid = (uint16_t)cqe.result;
	q = fake_transport_connect(tc->rt, tc->tgt, 1);
	assert_int_equal(connect_raw(q, 1, 31, cntlid, TC_NQN, TC_HOSTNQN, &cqe),
			 GEN(NVME_SC_CMD_SEQ_ERROR));
}

static void test_property_get_registers(void **state)
{
	struct tc *tc = *state;
	struct fake_qpair *q;
	uint16_t cntlid;
	uint64_t v;

	started_ss(tc);
	q = fake_transport_admin_connect(tc->rt, tc->tgt, 1, TC_NQN, TC_HOSTNQN, 0, &cntlid);
	assert_non_null(q);
	assert_int_equal(prop_get(q, NVME_REG_CAP, 8, &v), 0);
	assert_int_equal(NVME_CAP_MQES(v), 127);
	assert_int_equal(NVME_CAP_CQR(v), 1);
	assert_true(NVME_CAP_CSS(v) & NVME_CAP_CSS_NVM);
	assert_int_equal(NVME_CAP_MPSMIN(v), 0);
	assert_int_equal(NVME_CAP_DSTRD(v), 0);
	assert_true(NVME_CAP_TO(v) > 0);
	assert_int_equal(prop_get(q, NVME_REG_VS, 4, &v), 0);
	assert_int_equal(v, 0x10300);
	assert_int_equal(prop_get(q, NVME_REG_CC, 4, &v), 0);
	assert_int_equal(NVME_CC_EN(v), 1);
	assert_int_equal(prop_get(q, NVME_REG_CSTS, 4, &v), 0);
	assert_int_equal(NVME_CSTS_RDY(v), 1);
	/* wrong sizes and unknown offsets */
	assert_int_equal(prop_get(q, NVME_REG_CAP, 4, NULL), GEN(NVME_SC_INVALID_FIELD));
	assert_int_equal(prop_get(q, NVME_REG_VS, 8, NULL), GEN(NVME_SC_INVALID_FIELD));
	assert_int_equal(prop_get(q, 0x40, 4, NULL), GEN(NVME_SC_INVALID_FIELD));
	/* read-only properties */
	assert_int_equal(prop_set(q, NVME_REG_CSTS, 4, 0), GEN(NVME_SC_INVALID_FIELD));
	assert_int_equal(prop_set(q, NVME_REG_CAP, 8, 0), GEN(NVME_SC_INVALID_FIELD));
}

static void test_enable_sets_ready(void **state)
{
	struct tc *tc = *state;
	struct fake_qpair *q;
	uint64_t v;

	started_ss(tc);
	q = fake_transport_connect(tc->rt, tc->tgt, 0);
	assert_int_equal(connect_raw(q, 0, 31, 0xffff, TC_NQN, TC_HOSTNQN, NULL), 0);
	assert_int_equal(prop_get(q, NVME_REG_CSTS, 4, &v), 0);
	assert_int_equal(NVME_CSTS_RDY(v), 0);
	assert_int_equal(prop_set(q, NVME_REG_CC, 4, 1), 0);
	assert_int_equal(prop_get(q, NVME_REG_CSTS, 4, &v), 0);
	assert_int_equal(NVME_CSTS_RDY(v), 1);
	assert_int_equal(prop_set(q, NVME_REG_CC, 4, 0), 0);
	assert_int_equal(prop_get(q, NVME_REG_CSTS, 4, &v), 0);
	assert_int_equal(NVME_CSTS_RDY(v), 0);
}

/* Poll CSTS until (csts & mask) == want. */
static bool csts_becomes(struct fake_qpair *q, uint32_t mask, uint32_t want)
{
	uint64_t end = nvmft_now_us() + TC_WAIT_US, v;

	do {
		if (prop_get(q, NVME_REG_CSTS, 4, &v) != 0)
			return false;
		if ((v & mask) == want)
			return true;
		usleep(1000);
	} while (nvmft_now_us() < end);
	return false;
}

static void test_shutdown_completes_after_io_queues_go(void **state)
{
	struct tc *tc = *state;
	struct fake_qpair *aq, *ioq;
	uint16_t cntlid;
	uint32_t shst = NVME_CSTS_SHST_MASK << NVME_CSTS_SHST_SHIFT;

	started_ss(tc);
	aq = fake_transport_admin_connect(tc->rt, tc->tgt, 0, TC_NQN, TC_HOSTNQN, 0, &cntlid);
	ioq = fake_transport_io_connect(tc->rt, tc->tgt, 1, TC_NQN, TC_HOSTNQN, cntlid, 1);
	assert_non_null(ioq);
	assert_int_equal(prop_set(aq, NVME_REG_CC, 4,
				  1 | (NVME_CC_SHN_NORMAL << NVME_CC_SHN_SHIFT)), 0);
	assert_true(csts_becomes(aq, shst, NVME_CSTS_SHST_CMPLT << NVME_CSTS_SHST_SHIFT));
	assert_true(fake_transport_wait_closed(ioq, TC_WAIT_US));
	assert_false(fake_transport_closed(aq));
}

static void test_disable_resets_controller(void **state)
{
	struct tc *tc = *state;
	struct fake_qpair *aq, *ioq;
	uint16_t cntlid;

	started_ss(tc);
	aq = fake_transport_admin_connect(tc->rt, tc->tgt, 1, TC_NQN, TC_HOSTNQN, 0, &cntlid);
	ioq = fake_transport_io_connect(tc->rt, tc->tgt, 0, TC_NQN, TC_HOSTNQN, cntlid, 1);
	assert_non_null(ioq);
	assert_int_equal(prop_set(aq, NVME_REG_CC, 4, 0), 0);
	assert_true(csts_becomes(aq, 1, 0));
	assert_true(fake_transport_wait_closed(ioq, TC_WAIT_US));
	/* enabled again, the qid is free again */
	assert_int_equal(prop_set(aq, NVME_REG_CC, 4, 1), 0);
	ioq = fake_transport_io_connect(tc->rt, tc->tgt, 0, TC_NQN, TC_HOSTNQN, cntlid, 1);
	assert_non_null(ioq);
}

static void test_disconnect_io_queue(void **state)
{
	struct tc *tc = *state;
	struct fake_qpair *aq, *ioq;
	struct nvmft_sqe sqe;
	uint16_t cntlid;

	started_ss(tc);
	aq = fake_transport_admin_connect(tc->rt, tc->tgt, 0, TC_NQN, TC_HOSTNQN, 0, &cntlid);
	ioq = fake_transport_io_connect(tc->rt, tc->tgt, 1, TC_NQN, TC_HOSTNQN, cntlid, 1);
	assert_non_null(ioq);
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_fabrics;
	((uint8_t *)&sqe)[4] = nvme_fabrics_type_disconnect;
	/* not on the admin queue */
	assert_int_equal(fake_transport_exec(aq, &sqe, NULL, 0, NULL),
			 CSPEC(NVME_SC_DISCONNECT_INVALID_QTYPE));
	assert_int_equal(fake_transport_exec(ioq, &sqe, NULL, 0, NULL), 0);
	assert_true(fake_transport_wait_closed(ioq, TC_WAIT_US));
	assert_false(fake_transport_closed(aq));
	/* the qid can be taken again */
	ioq = fake_transport_io_connect(tc->rt, tc->tgt, 1, TC_NQN, TC_HOSTNQN, cntlid, 1);
	assert_non_null(ioq);
}

static void test_authentication_is_not_supported(void **state)
{
	struct tc *tc = *state;
	struct fake_qpair *aq;
	struct nvmft_sqe sqe;
	uint16_t cntlid;

	started_ss(tc);
	aq = fake_transport_admin_connect(tc->rt, tc->tgt, 0, TC_NQN, TC_HOSTNQN, 0, &cntlid);
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_fabrics;
	((uint8_t *)&sqe)[4] = nvme_fabrics_type_auth_send;
	assert_int_equal(fake_transport_exec(aq, &sqe, NULL, 0, NULL),
			 GEN(NVME_SC_INVALID_OPCODE));
	((uint8_t *)&sqe)[4] = nvme_fabrics_type_auth_receive;
	assert_int_equal(fake_transport_exec(aq, &sqe, NULL, 0, NULL),
			 GEN(NVME_SC_INVALID_OPCODE));
}

static void test_sq_head_and_flow_control_disable(void **state)
{
	struct tc *tc = *state;
	struct nvmf_connect_data data;
	struct fake_qpair *q, *nofc;
	struct nvmft_sqe sqe;
	struct nvmft_cqe c1, c2;

	started_ss(tc);
	q = fake_transport_connect(tc->rt, tc->tgt, 0);
	fake_transport_connect_cmd(&sqe, &data, 0, 31, 0xffff, 0, TC_NQN, TC_HOSTNQN);
	assert_int_equal(fake_transport_exec(q, &sqe, &data, sizeof(data), &c1), 0);
	fake_transport_prop_get_cmd(&sqe, NVME_REG_VS, 4);
	assert_int_equal(fake_transport_exec(q, &sqe, NULL, 0, &c2), 0);
	assert_int_equal((c1.sq_head + 1) % 32, c2.sq_head);

	nofc = fake_transport_connect(tc->rt, tc->tgt, 1);
	fake_transport_connect_cmd(&sqe, &data, 0, 31, 0xffff, 0, TC_NQN, TC_HOSTNQN);
	sqe.cdw11 |= 0x04u << 16;	/* CATTR: disable SQ flow control */
	assert_int_equal(fake_transport_exec(nofc, &sqe, &data, sizeof(data), &c1), 0);
	assert_int_equal(c1.sq_head, 0xffff);
}

static void test_fused_commands_are_paired(void **state)
{
	struct tc *tc = *state;
	struct fake_qpair *aq, *ioq;
	struct nvmft_sqe cmp, wr, rd;
	struct nvmft_cqe cqe;
	uint8_t buf[512];
	uint16_t cntlid;
	int c1, c2;

	started_ss(tc);
	aq = fake_transport_admin_connect(tc->rt, tc->tgt, 0, TC_NQN, TC_HOSTNQN, 0, &cntlid);
	ioq = fake_transport_io_connect(tc->rt, tc->tgt, 1, TC_NQN, TC_HOSTNQN, cntlid, 1);
	assert_non_null(aq);
	assert_non_null(ioq);
	memset(buf, 0, sizeof(buf));
	/* a second half without a first */
	tc_rw_cmd(&wr, nvme_cmd_write, 1, 0, 1);
	wr.flags |= NVMFT_SQE_FUSE_SECOND;
	assert_int_equal(fake_transport_exec(ioq, &wr, buf, sizeof(buf), NULL),
			 ST(NVME_SCT_GENERIC, NVME_SC_FUSED_MISSING));
	/* a first half held until the next command, which does not match */
	tc_rw_cmd(&cmp, nvme_cmd_compare, 1, 0, 1);
	cmp.flags |= NVMFT_SQE_FUSE_FIRST;
	c1 = fake_transport_submit(ioq, &cmp, buf, sizeof(buf));
	assert_true(c1 >= 0);
	usleep(20000);
	assert_false(fake_transport_cqe_ready(ioq, c1));
	tc_rw_cmd(&wr, nvme_cmd_write, 1, 8, 1);	/* other LBA */
	wr.flags |= NVMFT_SQE_FUSE_SECOND;
	c2 = fake_transport_submit(ioq, &wr, buf, sizeof(buf));
	assert_int_equal(fake_transport_wait_cqe(ioq, c1, &cqe, TC_WAIT_US), 0);
	assert_int_equal(cqe.status >> 1, ST(NVME_SCT_GENERIC, NVME_SC_FUSED_MISSING));
	assert_int_equal(fake_transport_wait_cqe(ioq, c2, &cqe, TC_WAIT_US), 0);
	assert_int_equal(cqe.status >> 1, ST(NVME_SCT_GENERIC, NVME_SC_FUSED_MISSING));
	/* a held first fails when a plain command follows; that one runs */
	c1 = fake_transport_submit(ioq, &cmp, buf, sizeof(buf));
	tc_rw_cmd(&rd, nvme_cmd_read, 9, 0, 1);		/* no nsid 9 */
	c2 = fake_transport_submit(ioq, &rd, buf, sizeof(buf));
	assert_int_equal(fake_transport_wait_cqe(ioq, c1, &cqe, TC_WAIT_US), 0);
	assert_int_equal(cqe.status >> 1, ST(NVME_SCT_GENERIC, NVME_SC_FUSED_MISSING));
	assert_int_equal(fake_transport_wait_cqe(ioq, c2, &cqe, TC_WAIT_US), 0);
	assert_int_equal(cqe.status >> 1, GEN(NVME_SC_INVALID_NS));
}

#define T(f) cmocka_unit_test_setup_teardown(f, tc_setup, tc_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_admin_connect_returns_cntlid),
		T(test_command_before_connect_is_sequence_error),
		T(test_connect_twice_is_sequence_error),
		T(test_connect_unknown_subsystem),
		T(test_connect_not_started_subsystem),
		T(test_connect_host_not_allowed),
		T(test_connect_bad_recfmt),
		T(test_connect_wrong_data_length),
		T(test_connect_sqsize_limits),
		T(test_connect_admin_needs_dynamic_cntlid),
		T(test_io_connect_on_other_reactor),
		T(test_io_connect_unknown_cntlid_or_host),
		T(test_io_connect_needs_enabled_controller),
		T(test_property_get_registers),
		T(test_enable_sets_ready),
		T(test_shutdown_completes_after_io_queues_go),
		T(test_disable_resets_controller),
		T(test_disconnect_io_queue),
		T(test_authentication_is_not_supported),
		T(test_sq_head_and_flow_control_disable),
		T(test_fused_commands_are_paired),
	};

	return cmocka_run_group_tests_name("nvmf_fabrics", tests, NULL, NULL);
}
