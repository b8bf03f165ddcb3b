/* SPDX-License-Identifier: MIT */
/*
 * Malformed commands over the real path (2 reactors, io_uring and epoll),
 * each answered with the exact NVMe status and leaving the queue usable:
 * unknown admin and I/O opcodes (Invalid Command Opcode), I/O beyond the
 * namespace (LBA Out of Range, including 64-bit wrap-around), NSID 0,
 * inactive, above NN or broadcast (Invalid Namespace or Format), transfers
 * beyond MDTS (Invalid Field in Command), Connect to an unknown subsystem
 * NQN or with bad parameters (Connect Invalid Parameters with the offset
 * of the bad field), Fabrics commands out of place (second Connect,
 * Disconnect on the admin queue, bad properties); failures show up in the
 * Error Information log.
 */
#include "nvmf_harness.h"

#define ER_NQN		"nqn.2026-11.io.nvmft:errors"
#define ER_HOSTNQN	"nqn.2014-08.org.nvmexpress:uuid:eeeeeeee-0000-0000-0000-000000000001"
#define ER_BLOCKS	(8u * 1024 * 1024 / 512)
#define ER_MAX_NS	4

struct env {
	struct nh h;
	struct nvmft_subsystem *ss;
	struct nvmft_host_ctrlr *c;
	struct nvmft_host_qpair *qp;
};

static int env_setup(void **state, enum nvmft_engine engine)
{
	struct env *e = calloc(1, sizeof(*e));
	struct nvmft_subsystem_opts so;
	int rc;

	if (!e)
		return -1;
	*state = e;
	rc = nh_start(&e->h, engine, NULL);
	if (!rc)
		rc = nh_malloc(&e->h, "Er0", ER_BLOCKS, 512);
	if (rc)
		return -1;
	nvmft_subsystem_opts_init(&so);
	so.nqn = ER_NQN;
	so.allow_any_host = true;
	so.max_namespaces = ER_MAX_NS;
	rc = nh_subsystem(&e->h, &so, &e->ss);
	if (!rc)
		rc = nh_add_ns(&e->h, e->ss, "Er0", 1, NULL);
	return rc ? -1 : 0;
}

static int setup_uring(void **state) { return env_setup(state, NVMFT_ENGINE_URING); }
static int setup_epoll(void **state) { return env_setup(state, NVMFT_ENGINE_EPOLL); }

static int env_teardown(void **state)
{
	struct env *e = *state;

	nh_stop(&e->h);
	free(e);
	return 0;
}

/* Per test: one controller, one I/O queue; after the test the queue
 * still serves verified I/O and nothing is held on the target. */
static int test_up(void **state)
{
	struct env *e = *state;
	struct nvmft_host_opts o;

	nh_host_opts(&e->h, &o, ER_NQN);
	o.hostnqn = ER_HOSTNQN;
	if (nvmft_host_ctrlr_connect(&o, &e->c))
		return -1;
	e->qp = nvmft_host_ctrlr_io_qpair(e->c, 0);
	return e->qp ? 0 : -1;
}

static int test_down(void **state)
{
	struct env *e = *state;
	int rc = 0;

	if (nvmft_host_qpair_error(e->qp) == 0) {
		uint8_t w[4096], r[4096];

		tt_fill(w, sizeof(w), 42);
		if (nvmft_host_write(e->qp, 1, 8, 8, w, sizeof(w), false) ||
		    nvmft_host_read(e->qp, 1, 8, 8, r, sizeof(r)) ||
		    memcmp(w, r, sizeof(w)))
			rc = -1;
	} else {
		rc = -1;
	}
	nvmft_host_ctrlr_disconnect(e->c);
	e->c = NULL;
	if (nh_wait_state(&e->h, 0, 0, NH_WAIT_MS))
		rc = -1;
	return rc;
}

static int admin_cmd(struct env *e, uint8_t opc, uint32_t nsid)
{
	return nh_cmd(nvmft_host_ctrlr_admin_qpair(e->c), opc, nsid, 0, 0, 0, NULL, 0,
		      NVMFT_HOST_DIR_NONE);
}

static void test_unknown_admin_opcodes_invalid_opcode(void **state)
{
	struct env *e = *state;
	/* reserved, Create/Delete I/O SQ/CQ (not on fabrics), vendor */
	static const uint8_t opcs[] = { 0x03, 0x00, 0x01, 0x04, 0x05, 0x07, 0x7e, 0xc1, 0xff };
	uint8_t id[4096];

	for (unsigned int i = 0; i < sizeof(opcs); i++) {
		int rc = admin_cmd(e, opcs[i], 0);

		if (NH_ST(rc) != NH_INVALID_OPCODE)
			fprintf(stderr, "admin opcode 0x%02x: status 0x%x\n", opcs[i], rc);
		assert_int_equal(NH_ST(rc), NH_INVALID_OPCODE);
	}
	/* the admin queue goes on */
	assert_int_equal(nvmft_host_identify(e->c, NVME_IDENTIFY_CNS_CTRL, 0, id), 0);
}

static void test_unknown_io_opcodes_invalid_opcode(void **state)
{
	struct env *e = *state;
	/* reserved, admin-only (Identify), vendor specific */
	static const uint8_t opcs[] = { 0x03, 0x06, 0x0a, 0x7e, 0x80, 0xfe };

	for (unsigned int i = 0; i < sizeof(opcs); i++) {
		int rc = nh_cmd(e->qp, opcs[i], 1, 0, 0, 0, NULL, 0, NVMFT_HOST_DIR_NONE);

		if (NH_ST(rc) != NH_INVALID_OPCODE)
			fprintf(stderr, "I/O opcode 0x%02x: status 0x%x\n", opcs[i], rc);
		assert_int_equal(NH_ST(rc), NH_INVALID_OPCODE);
	}
}

static int rw(struct env *e, bool write, uint32_t nsid, uint64_t slba, uint32_t nlb)
{
	size_t len = (size_t)nlb * 512;
	uint8_t *buf = calloc(1, len);
	int rc;

	assert_non_null(buf);
	rc = write ? nvmft_host_write(e->qp, nsid, slba, nlb, buf, (uint32_t)len, false)
		   : nvmft_host_read(e->qp, nsid, slba, nlb, buf, (uint32_t)len);
	free(buf);
	return rc;
}

static void test_io_beyond_namespace_lba_out_of_range(void **state)
{
	struct env *e = *state;
	struct nvme_dsm_range range;
	uint8_t buf[1024];

	/* the last block is fine */
	assert_int_equal(rw(e, true, 1, ER_BLOCKS - 1, 1), 0);
	assert_int_equal(rw(e, false, 1, ER_BLOCKS - 1, 1), 0);
	/* one past */
	assert_int_equal(NH_ST(rw(e, false, 1, ER_BLOCKS - 1, 2)), NH_LBA_RANGE);
	assert_int_equal(NH_ST(rw(e, true, 1, ER_BLOCKS, 1)), NH_LBA_RANGE);
	/* SLBA + NLB wrapping around 2^64 */
	assert_int_equal(NH_ST(rw(e, false, 1, UINT64_MAX, 1)), NH_LBA_RANGE);
	assert_int_equal(NH_ST(rw(e, true, 1, UINT64_MAX - 1, 2)), NH_LBA_RANGE);
	assert_int_equal(NH_ST(rw(e, false, 1, 1ull << 63, 2)), NH_LBA_RANGE);
	/* Write Zeroes, Compare, Dataset Management */
	assert_int_equal(NH_ST(nvmft_host_write_zeroes(e->qp, 1, ER_BLOCKS - 1, 2)),
			 NH_LBA_RANGE);
	assert_int_equal(NH_ST(nh_cmd(e->qp, nvme_cmd_compare, 1, ER_BLOCKS, 0, 1,
				      buf, 1024, NVMFT_HOST_DIR_WRITE)), NH_LBA_RANGE);
	memset(&range, 0, sizeof(range));
	range.slba = htole64(ER_BLOCKS - 4);
	range.nlb = htole32(8);
	assert_int_equal(NH_ST(nvmft_host_dsm(e->qp, 1, NVME_DSMGMT_AD, &range, 1)),
			 NH_LBA_RANGE);
}

static void test_bad_nsid_invalid_namespace(void **state)
{
	struct env *e = *state;
	static const uint32_t bad[] = { 0, 2, ER_MAX_NS, ER_MAX_NS + 1, 0x7fffffff,
					0xfffffffe, 0xffffffff };

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rr = rw(e, false, bad[i], 0, 1), rw_ = rw(e, true, bad[i], 0, 1);

		if (NH_ST(rr) != NH_INVALID_NS || NH_ST(rw_) != NH_INVALID_NS)
			fprintf(stderr, "nsid 0x%x: read 0x%x write 0x%x\n", bad[i], rr, rw_);
		assert_int_equal(NH_ST(rr), NH_INVALID_NS);
		assert_int_equal(NH_ST(rw_), NH_INVALID_NS);
		if (bad[i] != 0xffffffff)	/* broadcast flush: see VWC */
			assert_int_equal(NH_ST(nvmft_host_flush(e->qp, bad[i])),
					 NH_INVALID_NS);
		assert_int_equal(NH_ST(nvmft_host_write_zeroes(e->qp, bad[i], 0, 1)),
				 NH_INVALID_NS);
	}
}

/* A raw CapsuleCmd on the library's I/O queue; the CapsuleResp's status. */
static uint16_t raw_cmd_status(struct env *e, const struct nvmft_sqe *sqe)
{
	union pdu_hdr h;
	struct pdu_capsule_resp rsp;
	size_t hl = pdu_enc_capsule_cmd(&h, NULL, sqe, 0);

	assert_int_equal(nvmft_host_qpair_send_raw(e->qp, h.raw, hl), 0);
	/* no R2T, no data: the answer is the response itself */
	assert_int_equal(nvmft_host_qpair_recv_raw(e->qp, &rsp, sizeof(rsp), 5000),
			 (ssize_t)sizeof(rsp));
	assert_int_equal(rsp.ch.type, PDU_CAPSULE_RESP);
	assert_int_equal(rsp.cqe.cid, sqe->cid);
	return (uint16_t)(le16toh(rsp.cqe.status) >> 1);
}

static void test_transfer_beyond_mdts_invalid_field(void **state)
{
	struct env *e = *state;
	uint32_t mdts = nvmft_host_ctrlr_max_xfer(e->c);
	uint32_t big = mdts + 4096;
	struct nvmft_sqe sqe;
	uint8_t *buf = malloc(big);

	assert_int_equal(mdts, e->h.t.topts.max_io_size);
	assert_non_null(buf);
	/* the host library refuses it itself */
	assert_int_equal(nvmft_host_write(e->qp, 1, 0, big / 512, buf, big, false), -EINVAL);

	/* a write of MDTS + 4 KiB by R2T: refused before any data moves */
	nh_sqe_rw(&sqe, true, 1, 0, big / 512);
	sqe.flags = 0x40;
	sqe.cid = 0x0b01;
	sqe.sgl.type = NVMFT_SGL_TRANSPORT;
	sqe.sgl.length = htole32(big);
	assert_int_equal(NH_ST(raw_cmd_status(e, &sqe)), NH_INVALID_FIELD);
	/* same for a read */
	nh_sqe_rw(&sqe, false, 1, 0, big / 512);
	sqe.flags = 0x40;
	sqe.cid = 0x0b02;
	sqe.sgl.type = NVMFT_SGL_TRANSPORT;
	sqe.sgl.length = htole32(big);
	assert_int_equal(NH_ST(raw_cmd_status(e, &sqe)), NH_INVALID_FIELD);
	/* NLB beyond MDTS even though the SGL is within it */
	nh_sqe_rw(&sqe, false, 1, 0, big / 512);
	sqe.flags = 0x40;
	sqe.cid = 0x0b03;
	sqe.sgl.type = NVMFT_SGL_TRANSPORT;
	sqe.sgl.length = htole32(4096);
	assert_int_equal(NH_ST(raw_cmd_status(e, &sqe)), NH_INVALID_FIELD);
	/* NLB and SGL length disagree (within MDTS): Data SGL Length Invalid */
	nh_sqe_rw(&sqe, false, 1, 0, 16);
	sqe.flags = 0x40;
	sqe.cid = 0x0b04;
	sqe.sgl.type = NVMFT_SGL_TRANSPORT;
	sqe.sgl.length = htole32(4096);
	assert_int_equal(NH_ST(raw_cmd_status(e, &sqe)), NH_SGL_INVALID_DATA);
	/* exactly MDTS is fine */
	assert_int_equal(nvmft_host_write(e->qp, 1, 0, mdts / 512, buf, mdts, false), 0);
	free(buf);
}

static void test_admin_bad_fields(void **state)
{
	struct env *e = *state;
	uint8_t buf[4096];
	uint32_t v;

	/* an unknown log page (Invalid Log Page) and feature (Invalid Field) */
	assert_int_equal(NH_ST(nvmft_host_get_log_page(e->c, 0xbf, 0xffffffff, 0, buf,
						       512)),
			 NVMFT_STATUS(NVME_SCT_CMD_SPECIFIC, NVME_SC_INVALID_LOG_PAGE));
	assert_int_equal(NH_ST(nvmft_host_get_features(e->c, 0x7e, 0, &v)),
			 NH_INVALID_FIELD);
	/* an unknown CNS */
	assert_int_equal(NH_ST(nvmft_host_identify(e->c, 0x55, 0, buf)),
			 NH_INVALID_FIELD);
	/* Identify into less than 4 KiB */
	assert_int_equal(NH_ST(nh_cmd(nvmft_host_ctrlr_admin_qpair(e->c),
				      nvme_admin_identify, 0, NVME_IDENTIFY_CNS_CTRL, 0,
				      0, buf, 512, NVMFT_HOST_DIR_READ)),
			 NH_SGL_INVALID_DATA);
}

static void test_failures_recorded_in_error_log(void **state)
{
	struct env *e = *state;
	struct nvme_error_log_page *log = calloc(4, sizeof(*log));
	uint64_t before, after;

	assert_non_null(log);
	assert_int_equal(nvmft_host_get_log_page(e->c, NVME_LOG_LID_ERROR, 0xffffffff, 0,
						 log, sizeof(*log)), 0);
	before = le64toh(log[0].error_count);
	assert_int_equal(NH_ST(rw(e, false, 1, ER_BLOCKS, 1)), NH_LBA_RANGE);
	assert_int_equal(NH_ST(nh_cmd(e->qp, 0x03, 1, 0, 0, 0, NULL, 0,
				      NVMFT_HOST_DIR_NONE)), NH_INVALID_OPCODE);
	/* an I/O queue's failure reaches the controller's reactor by message:
	 * the entries may land a moment after the completions */
	for (int i = 0; i < 200; i++) {
		assert_int_equal(nvmft_host_get_log_page(e->c, NVME_LOG_LID_ERROR,
							 0xffffffff, 0, log,
							 4 * sizeof(*log)), 0);
		after = le64toh(log[0].error_count);
		if (after >= before + 2)
			break;
		tt_sleep_ms(5);
	}
	assert_true(after >= before + 2);
	/* newest first: the invalid opcode on the I/O queue */
	assert_int_equal(le16toh(log[0].sqid), 1);
	assert_int_equal((le16toh(log[0].status_field) >> 1) & 0x7ff, NH_INVALID_OPCODE);
	assert_int_equal((le16toh(log[1].status_field) >> 1) & 0x7ff, NH_LBA_RANGE);
	assert_int_equal(le64toh(log[1].error_count), after - 1);
	free(log);
}

static void test_fabrics_commands_out_of_place(void **state)
{
	struct env *e = *state;
	struct nvmft_host_qpair *admin = nvmft_host_ctrlr_admin_qpair(e->c);
	struct nvmf_connect_data *data = calloc(1, sizeof(*data));
	uint64_t v;

	assert_non_null(data);
	/* a second Connect on a live queue: Command Sequence Error */
	data->cntlid = htole16(0xffff);
	snprintf(data->subsysnqn, sizeof(data->subsysnqn), "%s", ER_NQN);
	snprintf(data->hostnqn, sizeof(data->hostnqn), "%s", ER_HOSTNQN);
	assert_int_equal(NH_ST(nh_cmd(admin, nvme_admin_fabrics, nvme_fabrics_type_connect,
				      0, 31, 0, data, sizeof(*data),
				      NVMFT_HOST_DIR_WRITE)),
			 NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR));
	assert_int_equal(NH_ST(nh_cmd(e->qp, nvme_admin_fabrics, nvme_fabrics_type_connect,
				      1u << 16, 31, 0, data, sizeof(*data),
				      NVMFT_HOST_DIR_WRITE)),
			 NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR));
	/* Disconnect on the admin queue: Invalid Queue Type */
	assert_int_equal(NH_ST(nh_cmd(admin, nvme_admin_fabrics,
				      nvme_fabrics_type_disconnect, 0, 0, 0, NULL, 0,
				      NVMFT_HOST_DIR_NONE)),
			 NVMFT_STATUS(NVME_SCT_CMD_SPECIFIC,
				      NVME_SC_DISCONNECT_INVALID_QTYPE));
	/* Property Get/Set belong to the admin queue */
	assert_int_not_equal(nh_cmd(e->qp, nvme_admin_fabrics,
				    nvme_fabrics_type_property_get, 1, 0, 0, NULL, 0,
				    NVMFT_HOST_DIR_NONE), 0);
	/* unknown property, wrong size, read-only property */
	assert_int_equal(NH_ST(nvmft_host_property_get(e->c, 0x1000, 4, &v)),
			 NH_INVALID_FIELD);
	assert_int_equal(NH_ST(nvmft_host_property_get(e->c, NVME_REG_CSTS, 8, &v)),
			 NH_INVALID_FIELD);
	assert_int_equal(NH_ST(nvmft_host_property_set(e->c, NVME_REG_CAP, 8, 0)),
			 NH_INVALID_FIELD);
	/* an unknown fabrics command type */
	assert_int_equal(NH_ST(nh_cmd(admin, nvme_admin_fabrics, 0x7e, 0, 0, 0, NULL, 0,
				      NVMFT_HOST_DIR_NONE)), NH_INVALID_OPCODE);
	free(data);
}

/* ---- Connect ------------------------------------------------------------------------ */

#define IPO_DATA(off)	((1u << 16) | (uint32_t)(off))

static void test_connect_errors_invalid_parameters(void **state)
{
	struct env *e = *state;
	uint16_t cntlid = nvmft_host_ctrlr_cntlid(e->c);
	uint16_t st;
	uint32_t res;
	struct nvmft_host_opts o;
	struct nvmft_host_ctrlr *c = NULL;

	/* unknown subsystem NQN: the offset of SUBNQN in the data */
	assert_int_equal(nh_raw_connect(&e->h, "nqn.2026-11.io.nvmft:nope", ER_HOSTNQN, 0,
					0xffff, &st, &res, NULL), 0);
	assert_int_equal(NH_ST(st), NH_CONNECT_INVALID_PARAM);
	assert_int_equal(res, IPO_DATA(offsetof(struct nvmf_connect_data, subsysnqn)));
	nh_host_opts(&e->h, &o, "nqn.2026-11.io.nvmft:nope");
	assert_int_equal(nvmft_host_ctrlr_connect(&o, &c), -ECONNABORTED);
	assert_null(c);
	/* I/O queue for a controller that does not exist */
	assert_int_equal(nh_raw_connect(&e->h, ER_NQN, ER_HOSTNQN, 1,
					(uint16_t)(cntlid + 100), &st, &res, NULL), 0);
	assert_int_equal(NH_ST(st), NH_CONNECT_INVALID_PARAM);
	assert_int_equal(res, IPO_DATA(offsetof(struct nvmf_connect_data, cntlid)));
	/* I/O queue of a real controller from another host NQN */
	assert_int_equal(nh_raw_connect(&e->h, ER_NQN,
					"nqn.2014-08.org.nvmexpress:uuid:eeeeeeee-0000-0000-0000-000000000002",
					1, cntlid, &st, &res, NULL), 0);
	assert_int_equal(NH_ST(st), NH_CONNECT_INVALID_PARAM);
	/* admin queue with a static cntlid (dynamic model only) */
	assert_int_equal(nh_raw_connect(&e->h, ER_NQN, ER_HOSTNQN, 0, 1, &st, &res,
					NULL), 0);
	assert_int_equal(NH_ST(st), NH_CONNECT_INVALID_PARAM);
	/* admin queue deeper than max_aq_depth, and SQSIZE 0 */
	assert_int_equal(nh_raw_connect_sq(&e->h, ER_NQN, ER_HOSTNQN, 0, 0xffff,
					   e->h.t.topts.max_aq_depth, &st, &res, NULL), 0);
	assert_int_equal(NH_ST(st), NH_CONNECT_INVALID_PARAM);
	assert_int_equal(nh_raw_connect_sq(&e->h, ER_NQN, ER_HOSTNQN, 0, 0xffff, 0, &st,
					   &res, NULL), 0);
	assert_int_equal(NH_ST(st), NH_CONNECT_INVALID_PARAM);
	/* nothing of the refused attempts stays: only this test's queues */
	assert_int_equal(nh_wait_state(&e->h, 2, 1, NH_WAIT_MS), 0);
}

static void test_commands_before_connect_refused(void **state)
{
	struct env *e = *state;
	int fd = raw_connect(&e->h.t);
	union pdu_hdr h, r;
	struct nvmft_sqe sqe;
	size_t hl;

	assert_true(fd >= 0);
	assert_int_equal(raw_icreq(fd, 0, 0, NULL), 0);
	/* an Identify on a queue that never connected */
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_keep_alive;
	sqe.cid = 3;
	sqe.flags = 0x40;
	hl = pdu_enc_capsule_cmd(&h, NULL, &sqe, 0);
	assert_int_equal(raw_send(fd, h.raw, hl), 0);
	assert_int_equal(raw_recv_pdu(fd, &r, NULL, 0, NULL, 5000), 0);
	assert_int_equal(r.ch.type, PDU_CAPSULE_RESP);
	assert_int_equal(r.rsp.cqe.cid, 3);
	assert_int_not_equal(le16toh(r.rsp.cqe.status) >> 1, 0);
	close(fd);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, test_up, test_down)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_unknown_admin_opcodes_invalid_opcode),
		T(test_unknown_io_opcodes_invalid_opcode),
		T(test_io_beyond_namespace_lba_out_of_range),
		T(test_bad_nsid_invalid_namespace),
		T(test_transfer_beyond_mdts_invalid_field),
		T(test_admin_bad_fields),
		T(test_failures_recorded_in_error_log),
		T(test_fabrics_commands_out_of_place),
		T(test_connect_errors_invalid_parameters),
		T(test_commands_before_connect_refused),
	};

	return NH_RUN_BOTH("nvmf_errors", tests, setup_uring, setup_epoll,
			   env_teardown) ? 1 : 0;
}
