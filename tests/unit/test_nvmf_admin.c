/* SPDX-License-Identifier: MIT */
/*
 * Admin command handlers: dispatch (admin.c), Identify (identify.c), Get
 * Log Page (log_page.c) and Get/Set Features (features.c), run through
 * nvmf_req_exec() on a hand-built controller (test_nvmf_cmd_harness.h).
 */
#include "test_nvmf_cmd_harness.h"

#define ST_INVALID_FIELD	TH_ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD)
#define ST_INVALID_NS		TH_ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_NS)
#define ST_INVALID_OPCODE	TH_ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE)
#define ST_SGL_LENGTH		TH_ST_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA)
#define ST_SEQ_ERROR		TH_ST_DNR(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR)
#define ST_INVALID_LOG		TH_ST_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_INVALID_LOG_PAGE)

static uint8_t buf[8192];

static uint16_t identify(struct th *h, uint8_t cns, uint8_t csi, uint32_t nsid)
{
	memset(buf, 0xaa, sizeof(buf));
	return th_admin(h, nvme_admin_identify, nsid, cns,
			(uint32_t)csi << 24, buf, 4096, NULL);
}

/* Get Log Page: @numd_bytes requested (multiple of 4) at @offset. */
static uint16_t get_log(struct th *h, uint8_t lid, bool rae, uint32_t nsid,
			uint64_t offset, uint32_t numd_bytes, uint32_t buflen)
{
	struct th_req r;
	uint32_t numd = numd_bytes / 4 - 1;

	memset(buf, 0xaa, sizeof(buf));
	th_req_init(&r, &h->aq, nvme_admin_get_log_page, nsid, buf, buflen);
	r.req.cmd.cdw10 = lid | (rae ? 1u << 15 : 0) | (numd & 0xffff) << 16;
	r.req.cmd.cdw11 = numd >> 16;
	r.req.cmd.cdw12 = (uint32_t)offset;
	r.req.cmd.cdw13 = (uint32_t)(offset >> 32);
	return th_exec(h, &r);
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	while (n--)
		if (*p++ != v)
			return false;
	return true;
}

static void add_two_ns(struct th *h)
{
	th_add_ns(h, 1, "m1", 2048, 512, false);
	th_add_ns(h, 2, "m2", 1024, 4096, false);
	th_add_ns(h, 5, "m5", 64, 512, true);
}

/* --- dispatch ----------------------------------------------------------- */

static void test_unknown_admin_opcode_is_invalid_opcode(void **state)
{
	struct th *h = *state;

	assert_int_equal(th_admin(h, nvme_admin_format_nvm, 1, 0, 0, NULL, 0, NULL),
			 ST_INVALID_OPCODE);
	assert_int_equal(th_admin(h, nvme_admin_create_sq, 0, 0, 0, NULL, 0, NULL),
			 ST_INVALID_OPCODE);
}

static void test_keep_alive_succeeds(void **state)
{
	struct th *h = *state;

	assert_int_equal(th_admin(h, nvme_admin_keep_alive, 0, 0, 0, NULL, 0, NULL), 0);
}

static void test_abort_answers_not_aborted(void **state)
{
	struct th *h = *state;
	uint32_t res = 0;

	assert_int_equal(th_admin(h, nvme_admin_abort_cmd, 0, 0x00050001, 0,
				  NULL, 0, &res), 0);
	assert_int_equal(res & 1, 1);
}

#define AER_NS_CHANGED	NVMF_AER_RESULT(NVME_AER_NOTICE, NVME_AER_NOTICE_NS_CHANGED, \
					NVME_LOG_LID_CHANGED_NS)

static void aer_event_fn(void *arg)
{
	struct th *h = arg;

	nvmf_ctrlr_async_event(&h->ctrlr, AER_NS_CHANGED);
}

static void test_aer_held_then_limit_exceeded(void **state)
{
	struct th *h = *state;
	struct th_req r[NVMF_MAX_AER + 1];
	uint16_t s;
	int i;

	for (i = 0; i < NVMF_MAX_AER; i++) {
		th_req_init(&r[i], &h->aq, nvme_admin_async_event, 0, NULL, 0);
		r[i].req.cmd.cid = (uint16_t)(100 + i);
		th_run(h, th_exec_fn, &r[i]);
	}
	th_req_init(&r[i], &h->aq, nvme_admin_async_event, 0, NULL, 0);
	s = th_exec(h, &r[i]);
	assert_int_equal(s, TH_ST_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_ASYNC_LIMIT));
	for (i = 0; i < NVMF_MAX_AER; i++)
		assert_int_equal(atomic_load(&r[i].completions), 0);
	/* an event completes the oldest one with its result dword */
	th_run(h, aer_event_fn, h);
	assert_int_equal(th_wait(h, &r[0]), 0);
	assert_int_equal(r[0].cqe.result, AER_NS_CHANGED);
	for (i = 1; i < NVMF_MAX_AER; i++)
		assert_int_equal(atomic_load(&r[i].completions), 0);
	/* give the rest back (the controller would at teardown) */
	h->ctrlr.nr_aer_reqs = 0;
	for (i = 1; i < NVMF_MAX_AER; i++)
		sem_destroy(&r[i].done);
}

/* --- Identify ----------------------------------------------------------- */

static void test_identify_ctrl_fields(void **state)
{
	struct th *h = *state;
	struct nvme_id_ctrl *id = (struct nvme_id_ctrl *)buf;

	add_two_ns(h);
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_CTRL, 0, 0), 0);
	assert_memory_equal(id->sn, "SN0001              ", 20);
	assert_memory_equal(id->mn, "nvmft test                              ", 40);
	assert_memory_equal(id->fr, "0.1.0   ", 8);
	assert_int_equal(id->vid, 0);
	assert_int_equal(id->cmic & NVME_CTRL_CMIC_MULTI_CTRL, NVME_CTRL_CMIC_MULTI_CTRL);
	assert_int_equal(id->mdts, 5);		/* 128 KiB / 4 KiB = 2^5 */
	assert_int_equal(id->cntlid, 7);
	assert_int_equal(id->ver, 0x10400);
	assert_int_equal(id->oaes, NVME_CTRL_OAES_NA);
	assert_int_equal(id->ctratt & NVME_CTRL_CTRATT_128_ID, NVME_CTRL_CTRATT_128_ID);
	assert_int_equal(id->cntrltype, NVME_CTRL_CNTRLTYPE_IO);
	assert_true(all_bytes(id->fguid, 16, 0));
	assert_int_equal(id->acl, 3);
	assert_int_equal(id->aerl, NVMF_MAX_AER - 1);
	assert_int_equal(id->frmw, 0x3);
	assert_int_equal(id->lpa, NVME_CTRL_LPA_CMD_EFFECTS | NVME_CTRL_LPA_EXTENDED);
	assert_int_equal(id->elpe, NVMF_ERROR_LOG_ENTRIES - 1);
	assert_int_equal(id->kas, 1);
	assert_int_equal(id->sqes, 0x66);
	assert_int_equal(id->cqes, 0x44);
	assert_int_equal(id->maxcmd, TH_QDEPTH);
	assert_int_equal(id->nn, TH_MAX_NS);
	assert_int_equal(id->mnan, TH_MAX_NS);
	assert_int_equal(id->oncs, NVME_CTRL_ONCS_COMPARE | NVME_CTRL_ONCS_DSM |
				   NVME_CTRL_ONCS_WRITE_ZEROES |
				   NVME_CTRL_ONCS_SAVE_FEATURES);
	assert_int_equal(id->fuses, NVME_CTRL_FUSES_COMPARE_AND_WRITE);
	assert_int_equal(id->vwc, 0);		/* malloc/null: no write cache */
	assert_int_equal(id->awun, 0);
	assert_int_equal(id->awupf, 0);
	assert_int_equal(id->sgls, 1u | NVME_CTRL_SGLS_OFFSET | NVME_CTRL_SGLS_TPORT);
	assert_string_equal(id->subnqn, TH_SS_NQN);
	assert_int_equal(id->ioccsz, (64 + TH_ICDSZ) / 16);
	assert_int_equal(id->iorcsz, 1);
	assert_int_equal(id->icdoff, 0);
	assert_int_equal(id->fcatt, 0);
	assert_int_equal(id->msdbd, 1);
	assert_int_equal(id->ofcs, NVME_CTRL_OFCS_DISCONNECT);
	/* the page past the structure's used part is zero, not stale */
	assert_true(all_bytes(buf + 4096, 16, 0xaa));
}

static void test_identify_ctrl_across_two_iovecs(void **state)
{
	struct th *h = *state;
	struct nvme_id_ctrl *id = (struct nvme_id_ctrl *)buf;
	struct th_req r;

	memset(buf, 0xaa, sizeof(buf));
	th_req_init(&r, &h->aq, nvme_admin_identify, 0, buf, 4096);
	r.req.cmd.cdw10 = NVME_IDENTIFY_CNS_CTRL;
	th_req_split(&r, 1000);
	assert_int_equal(th_exec(h, &r), 0);
	assert_int_equal(id->sqes, 0x66);	/* beyond the first iovec */
	assert_string_equal(id->subnqn, TH_SS_NQN);
}

static void test_identify_short_buffer_is_sgl_length_invalid(void **state)
{
	struct th *h = *state;

	assert_int_equal(th_admin(h, nvme_admin_identify, 0, NVME_IDENTIFY_CNS_CTRL,
				  0, buf, 1024, NULL), ST_SGL_LENGTH);
}

static void test_identify_ns_active(void **state)
{
	struct th *h = *state;
	struct nvme_id_ns *id = (struct nvme_id_ns *)buf;

	add_two_ns(h);
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_NS, 0, 2), 0);
	assert_int_equal(id->nsze, 1024);
	assert_int_equal(id->ncap, 1024);
	assert_int_equal(id->nuse, 1024);
	assert_int_equal(id->nlbaf, 0);
	assert_int_equal(id->flbas, 0);
	assert_int_equal(id->lbaf[0].ds, 12);
	assert_int_equal(id->lbaf[0].ms, 0);
	assert_int_equal(id->nmic, NVME_NS_NMIC_SHARED);
	assert_int_equal(id->nsfeat, 0);
	assert_int_equal(id->dlfeat, NVME_NS_DLFEAT_WRITE_ZEROES | NVME_NS_DLFEAT_RB_ALL_0S);
	assert_memory_equal(id->nguid, h->ns[1].ns.nguid, 16);
	assert_true(all_bytes(id->eui64, 8, 0));
	assert_int_equal(id->anagrpid, 0);

	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_NS, 0, 1), 0);
	assert_int_equal(id->nsze, 2048);
	assert_int_equal(id->lbaf[0].ds, 9);
}

static void test_identify_ns_inactive_is_zeroed(void **state)
{
	struct th *h = *state;

	add_two_ns(h);
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_NS, 0, 3), 0);
	assert_true(all_bytes(buf, 4096, 0));
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_NS, 0, TH_MAX_NS), 0);
	assert_true(all_bytes(buf, 4096, 0));
}

static void test_identify_ns_invalid_nsid(void **state)
{
	struct th *h = *state;

	add_two_ns(h);
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_NS, 0, 0), ST_INVALID_NS);
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_NS, 0, TH_MAX_NS + 1), ST_INVALID_NS);
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_NS, 0, NVME_NSID_ALL), ST_INVALID_NS);
}

static void test_identify_active_ns_list(void **state)
{
	struct th *h = *state;
	uint32_t *list = (uint32_t *)buf;

	add_two_ns(h);
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0, 0), 0);
	assert_int_equal(list[0], 1);
	assert_int_equal(list[1], 2);
	assert_int_equal(list[2], 5);
	assert_int_equal(list[3], 0);
	assert_true(all_bytes(buf + 12, 4096 - 12, 0));
	/* strictly greater than NSID */
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0, 2), 0);
	assert_int_equal(list[0], 5);
	assert_int_equal(list[1], 0);
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0, 5), 0);
	assert_int_equal(list[0], 0);
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0, 0xfffffffe),
			 ST_INVALID_NS);
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0, NVME_NSID_ALL),
			 ST_INVALID_NS);
	/* CNS 07h for the NVM command set is the same list */
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_CSI_NS_ACTIVE_LIST, NVME_CSI_NVM, 0), 0);
	assert_int_equal(list[2], 5);
}

static void test_identify_ns_descriptors_stable(void **state)
{
	struct th *h = *state;
	struct nvme_ns_id_desc *d = (struct nvme_ns_id_desc *)buf;
	uint8_t first[4096];

	add_two_ns(h);
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_NS_DESC_LIST, 0, 1), 0);
	assert_int_equal(d->nidt, NVME_NIDT_NGUID);
	assert_int_equal(d->nidl, 16);
	assert_memory_equal(d->nid, h->ns[0].ns.nguid, 16);
	d = (struct nvme_ns_id_desc *)(buf + 4 + 16);
	assert_int_equal(d->nidt, NVME_NIDT_UUID);
	assert_int_equal(d->nidl, 16);
	assert_memory_equal(d->nid, h->ns[0].ns.uuid, 16);
	d = (struct nvme_ns_id_desc *)(buf + 2 * (4 + 16));
	assert_int_equal(d->nidt, NVME_NIDT_CSI);
	assert_int_equal(d->nidl, 1);
	assert_int_equal(d->nid[0], NVME_CSI_NVM);
	/* no EUI-64 descriptor anywhere; terminated by a zero header */
	assert_true(all_bytes(buf + 2 * (4 + 16) + 5, 4096 - 2 * (4 + 16) - 5, 0));
	memcpy(first, buf, sizeof(first));
	/* the ids come from the namespace, so a second ask is identical */
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_NS_DESC_LIST, 0, 1), 0);
	assert_memory_equal(first, buf, sizeof(first));

	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_NS_DESC_LIST, 0, 3), ST_INVALID_NS);
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_NS_DESC_LIST, 0, 0), ST_INVALID_NS);
}

static void test_identify_csi_specific_cns(void **state)
{
	struct th *h = *state;
	struct nvme_id_independent_id_ns *ind = (struct nvme_id_independent_id_ns *)buf;

	add_two_ns(h);
	/* NVM command set: all-zero structures (no limits, no PI) */
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_CSI_CTRL, NVME_CSI_NVM, 0), 0);
	assert_true(all_bytes(buf, 4096, 0));
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_CSI_NS, NVME_CSI_NVM, 1), 0);
	assert_true(all_bytes(buf, 4096, 0));
	/* other command sets: not supported */
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_CSI_CTRL, NVME_CSI_ZNS, 0),
			 ST_INVALID_FIELD);
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_CSI_NS, NVME_CSI_ZNS, 1),
			 ST_INVALID_FIELD);
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_CSI_NS, NVME_CSI_NVM, 0),
			 ST_INVALID_NS);
	/* I/O command set independent Identify Namespace */
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_CSI_INDEPENDENT_ID_NS, 0, 1), 0);
	assert_int_equal(ind->nmic, NVME_NS_NMIC_SHARED);
	assert_int_equal(ind->nstat, 1);
	/* unsupported CNS values */
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_COMMAND_SET_STRUCTURE, 0, 0),
			 ST_INVALID_FIELD);
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_NVMSET_LIST, 0, 0),
			 ST_INVALID_FIELD);
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_ALLOCATED_NS_LIST, 0, 0),
			 ST_INVALID_FIELD);
}

/* --- Get Log Page ------------------------------------------------------- */

static void fail_admin_cmds(struct th *h, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(th_admin(h, 0xc0 + i, 0, 0, 0, NULL, 0, NULL),
				 ST_INVALID_OPCODE);
}

static void test_log_error_newest_first_with_offset(void **state)
{
	struct th *h = *state;
	struct nvme_error_log_page *e = (struct nvme_error_log_page *)buf;
	uint64_t newest;

	fail_admin_cmds(h, 3);
	assert_int_equal(get_log(h, NVME_LOG_LID_ERROR, false, 0, 0, 4096, 4096), 0);
	newest = e[0].error_count;
	assert_true(newest >= 3);
	assert_int_equal(e[1].error_count, newest - 1);
	assert_int_equal(e[2].error_count, newest - 2);
	assert_int_equal(e[0].status_field >> 1, ST_INVALID_OPCODE);

	/* the second entry alone, through LPOL and NUMDL */
	assert_int_equal(get_log(h, NVME_LOG_LID_ERROR, false, 0, 64, 64, 64), 0);
	assert_int_equal(e[0].error_count, newest - 1);
}

static void test_log_offset_checks(void **state)
{
	struct th *h = *state;

	/* at or past the end of the 512-byte SMART page */
	assert_int_equal(get_log(h, NVME_LOG_LID_SMART, false, NVME_NSID_ALL, 512, 4, 4),
			 ST_INVALID_FIELD);
	assert_int_equal(get_log(h, NVME_LOG_LID_SMART, false, NVME_NSID_ALL,
				 1ull << 32, 4, 4), ST_INVALID_FIELD);
	/* not dword aligned */
	assert_int_equal(get_log(h, NVME_LOG_LID_SMART, false, NVME_NSID_ALL, 2, 4, 4),
			 ST_INVALID_FIELD);
	/* more than the host's buffer */
	assert_int_equal(get_log(h, NVME_LOG_LID_SMART, false, NVME_NSID_ALL, 0, 512, 256),
			 ST_SGL_LENGTH);
	/* per-namespace SMART is not supported */
	assert_int_equal(get_log(h, NVME_LOG_LID_SMART, false, 1, 0, 512, 512),
			 ST_INVALID_FIELD);
}

static void test_log_partial_and_past_end(void **state)
{
	struct th *h = *state;
	struct nvme_firmware_slot *fw = (struct nvme_firmware_slot *)buf;

	/* 8 bytes from offset 8: FRS1 only */
	assert_int_equal(get_log(h, NVME_LOG_LID_FW_SLOT, false, 0, 8, 8, 8), 0);
	assert_memory_equal(buf, "0.1.0   ", 8);
	/* a window running past the 512-byte page reads zeroes there */
	assert_int_equal(get_log(h, NVME_LOG_LID_FW_SLOT, false, 0, 0, 1024, 1024), 0);
	assert_int_equal(fw->afi, 1);
	assert_memory_equal(fw->frs[0], "0.1.0   ", 8);
	assert_true(all_bytes(buf + 512, 512, 0));
}

static void test_log_changed_ns_clears_unless_rae(void **state)
{
	struct th *h = *state;
	uint32_t *list = (uint32_t *)buf;

	h->ctrlr.changed_ns[0] = 2;
	h->ctrlr.changed_ns[1] = 5;
	h->ctrlr.nr_changed_ns = 2;
	assert_int_equal(get_log(h, NVME_LOG_LID_CHANGED_NS, true, 0, 0, 4096, 4096), 0);
	assert_int_equal(list[0], 2);
	assert_int_equal(list[1], 5);
	assert_int_equal(list[2], 0);
	/* retained: still there */
	assert_int_equal(get_log(h, NVME_LOG_LID_CHANGED_NS, false, 0, 0, 4096, 4096), 0);
	assert_int_equal(list[1], 5);
	/* read without RAE: cleared */
	assert_int_equal(get_log(h, NVME_LOG_LID_CHANGED_NS, false, 0, 0, 4096, 4096), 0);
	assert_true(all_bytes(buf, 4096, 0));

	h->ctrlr.nr_changed_ns = NVMF_MAX_CHANGED_NS + 1;
	assert_int_equal(get_log(h, NVME_LOG_LID_CHANGED_NS, true, 0, 0, 4096, 4096), 0);
	assert_int_equal(list[0], NVME_NSID_ALL);
	assert_int_equal(list[1], 0);
}

static void test_log_cmd_effects(void **state)
{
	struct th *h = *state;
	struct nvme_cmd_effects_log *l = (struct nvme_cmd_effects_log *)buf;

	assert_int_equal(get_log(h, NVME_LOG_LID_CMD_EFFECTS, false, 0, 0, 4096, 4096), 0);
	assert_int_equal(l->acs[nvme_admin_identify], NVME_CMD_EFFECTS_CSUPP);
	assert_int_equal(l->acs[nvme_admin_keep_alive], NVME_CMD_EFFECTS_CSUPP);
	assert_int_equal(l->acs[nvme_admin_format_nvm], 0);
	assert_int_equal(l->iocs[nvme_cmd_read], NVME_CMD_EFFECTS_CSUPP);
	assert_int_equal(l->iocs[nvme_cmd_write],
			 NVME_CMD_EFFECTS_CSUPP | NVME_CMD_EFFECTS_LBCC);
	assert_int_equal(l->iocs[nvme_cmd_dsm],
			 NVME_CMD_EFFECTS_CSUPP | NVME_CMD_EFFECTS_LBCC);
	assert_int_equal(l->iocs[nvme_cmd_resv_register], 0);
}

static void test_log_unsupported_lid(void **state)
{
	struct th *h = *state;

	assert_int_equal(get_log(h, NVME_LOG_LID_DEVICE_SELF_TEST, false, 0, 0, 64, 64),
			 ST_INVALID_LOG);
	/* discovery log only on discovery controllers */
	assert_int_equal(get_log(h, NVME_LOG_LID_DISCOVER, false, 0, 0, 1024, 1024),
			 ST_INVALID_LOG);
}

/* --- Features ----------------------------------------------------------- */

static uint16_t get_feat(struct th *h, uint8_t fid, uint8_t sel, uint32_t cdw11,
			 uint32_t *res)
{
	return th_admin(h, nvme_admin_get_features, 0, fid | (uint32_t)sel << 8,
			cdw11, NULL, 0, res);
}

static uint16_t set_feat(struct th *h, uint8_t fid, uint32_t cdw11, uint32_t *res)
{
	return th_admin(h, nvme_admin_set_features, 0, fid, cdw11, NULL, 0, res);
}

static void test_feat_num_queues_granted_and_sequence(void **state)
{
	struct th *h = *state;
	uint32_t res = 0;

	h->ctrlr.nr_io_qpairs = 0;
	/* 16 + 16 asked, 3 I/O queues exist (max_qpairs 4): 2 | 2 << 16 */
	assert_int_equal(set_feat(h, NVME_FEAT_FID_NUM_QUEUES, 0x000f000f, &res), 0);
	assert_int_equal(res, 0x00020002);
	assert_int_equal(set_feat(h, NVME_FEAT_FID_NUM_QUEUES, 0x00000001, &res), 0);
	assert_int_equal(res, 0x00000001);
	assert_int_equal(get_feat(h, NVME_FEAT_FID_NUM_QUEUES, 0, 0, &res), 0);
	assert_int_equal(res, 0x00000001);
	assert_int_equal(set_feat(h, NVME_FEAT_FID_NUM_QUEUES, 0x0000ffff, &res),
			 ST_INVALID_FIELD);
	/* once an I/O queue exists */
	h->ctrlr.nr_io_qpairs = 1;
	assert_int_equal(set_feat(h, NVME_FEAT_FID_NUM_QUEUES, 0, &res), ST_SEQ_ERROR);
}

static void test_feat_save_not_supported(void **state)
{
	struct th *h = *state;

	assert_int_equal(th_admin(h, nvme_admin_set_features, 0,
				  NVME_FEAT_FID_ARBITRATION | 1u << 31, 0, NULL, 0, NULL),
			 TH_ST_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_FEATURE_NOT_SAVEABLE));
}

static void test_feat_select_current_default_saved_supported(void **state)
{
	struct th *h = *state;
	uint32_t res = 0;

	assert_int_equal(set_feat(h, NVME_FEAT_FID_ARBITRATION, 0x01020304, NULL), 0);
	assert_int_equal(get_feat(h, NVME_FEAT_FID_ARBITRATION, 0, 0, &res), 0);
	assert_int_equal(res, 0x01020304);
	assert_int_equal(get_feat(h, NVME_FEAT_FID_ARBITRATION, 1, 0, &res), 0);
	assert_int_equal(res, 0);
	assert_int_equal(get_feat(h, NVME_FEAT_FID_ARBITRATION, 2, 0, &res), 0);
	assert_int_equal(res, 0);
	assert_int_equal(get_feat(h, NVME_FEAT_FID_ARBITRATION, 3, 0, &res), 0);
	assert_int_equal(res, 0x4);		/* changeable, not saveable */
	assert_int_equal(get_feat(h, NVME_FEAT_FID_HOST_ID, 3, 1, &res), 0);
	assert_int_equal(res, 0);
	assert_int_equal(get_feat(h, NVME_FEAT_FID_ARBITRATION, 4, 0, &res),
			 ST_INVALID_FIELD);
}

static void test_feat_host_id(void **state)
{
	struct th *h = *state;
	struct th_req r;
	uint8_t id[16];

	memset(id, 0x55, sizeof(id));
	th_req_init(&r, &h->aq, nvme_admin_get_features, 0, id, sizeof(id));
	r.req.cmd.cdw10 = NVME_FEAT_FID_HOST_ID;
	r.req.cmd.cdw11 = 1;		/* EXHID */
	assert_int_equal(th_exec(h, &r), 0);
	assert_memory_equal(id, h->ctrlr.hostid, 16);

	th_req_init(&r, &h->aq, nvme_admin_get_features, 0, id, sizeof(id));
	r.req.cmd.cdw10 = NVME_FEAT_FID_HOST_ID;
	assert_int_equal(th_exec(h, &r), ST_INVALID_FIELD);

	th_req_init(&r, &h->aq, nvme_admin_get_features, 0, id, 8);
	r.req.cmd.cdw10 = NVME_FEAT_FID_HOST_ID;
	r.req.cmd.cdw11 = 1;
	assert_int_equal(th_exec(h, &r), ST_SGL_LENGTH);

	/* fabrics: the host ID comes from Connect */
	assert_int_equal(set_feat(h, NVME_FEAT_FID_HOST_ID, 1, NULL), ST_SEQ_ERROR);
}

static void test_feat_kato_rounds_up(void **state)
{
	struct th *h = *state;
	uint32_t res = 0;

	assert_int_equal(set_feat(h, NVME_FEAT_FID_KATO, 1550, NULL), 0);
	assert_int_equal(get_feat(h, NVME_FEAT_FID_KATO, 0, 0, &res), 0);
	assert_int_equal(res, 1600);
	assert_int_equal(h->ctrlr.kato_ms, 1600);
	/* 0 turns keep-alive off (and stops the controller's poller, which
	 * this hand-built controller must not meet) */
	assert_int_equal(set_feat(h, NVME_FEAT_FID_KATO, 0, NULL), 0);
	assert_int_equal(get_feat(h, NVME_FEAT_FID_KATO, 0, 0, &res), 0);
	assert_int_equal(res, 0);
}

static void test_feat_temperature_threshold(void **state)
{
	struct th *h = *state;
	uint32_t res = 0;

	assert_int_equal(get_feat(h, NVME_FEAT_FID_TEMP_THRESH, 0, 0, &res), 0);
	assert_int_equal(res & 0xffff, 343);
	assert_int_equal(set_feat(h, NVME_FEAT_FID_TEMP_THRESH, 350, NULL), 0);
	assert_int_equal(set_feat(h, NVME_FEAT_FID_TEMP_THRESH, 250 | 1u << 20, NULL), 0);
	assert_int_equal(get_feat(h, NVME_FEAT_FID_TEMP_THRESH, 0, 0, &res), 0);
	assert_int_equal(res & 0xffff, 350);
	assert_int_equal(get_feat(h, NVME_FEAT_FID_TEMP_THRESH, 0, 1u << 20, &res), 0);
	assert_int_equal(res & 0xffff, 250);
	/* no sensor 1; threshold type 2 is reserved */
	assert_int_equal(set_feat(h, NVME_FEAT_FID_TEMP_THRESH, 300 | 1u << 16, NULL),
			 ST_INVALID_FIELD);
	assert_int_equal(get_feat(h, NVME_FEAT_FID_TEMP_THRESH, 0, 2u << 20, &res),
			 ST_INVALID_FIELD);
}

static void test_feat_field_checks(void **state)
{
	struct th *h = *state;
	uint32_t res = 0;

	/* one power state only */
	assert_int_equal(set_feat(h, NVME_FEAT_FID_POWER_MGMT, 1, NULL), ST_INVALID_FIELD);
	assert_int_equal(set_feat(h, NVME_FEAT_FID_POWER_MGMT, 0, NULL), 0);
	/* DULBE without NSFEAT.DAE */
	assert_int_equal(set_feat(h, NVME_FEAT_FID_ERR_RECOVERY, 1u << 16, NULL),
			 ST_INVALID_FIELD);
	assert_int_equal(set_feat(h, NVME_FEAT_FID_ERR_RECOVERY, 10, NULL), 0);
	assert_int_equal(get_feat(h, NVME_FEAT_FID_ERR_RECOVERY, 0, 0, &res), 0);
	assert_int_equal(res, 10);
	assert_int_equal(set_feat(h, NVME_FEAT_FID_IRQ_COALESCE, 0x0a05, NULL), 0);
	assert_int_equal(get_feat(h, NVME_FEAT_FID_IRQ_COALESCE, 0, 0, &res), 0);
	assert_int_equal(res, 0x0a05);
	assert_int_equal(set_feat(h, NVME_FEAT_FID_WRITE_ATOMIC, 1, NULL), 0);
	assert_int_equal(get_feat(h, NVME_FEAT_FID_WRITE_ATOMIC, 0, 0, &res), 0);
	assert_int_equal(res, 1);
	/* async events: only what we can raise is kept */
	assert_int_equal(set_feat(h, NVME_FEAT_FID_ASYNC_EVENT, 0xffffffff, NULL), 0);
	assert_int_equal(get_feat(h, NVME_FEAT_FID_ASYNC_EVENT, 0, 0, &res), 0);
	assert_int_equal(res, 0x1ff);
	/* no write cache behind these namespaces: no such feature */
	add_two_ns(h);
	assert_int_equal(get_feat(h, NVME_FEAT_FID_VOLATILE_WC, 0, 0, &res),
			 ST_INVALID_FIELD);
	assert_int_equal(set_feat(h, NVME_FEAT_FID_VOLATILE_WC, 1, NULL), ST_INVALID_FIELD);
	/* not implemented */
	assert_int_equal(get_feat(h, NVME_FEAT_FID_LBA_RANGE, 0, 0, &res), ST_INVALID_FIELD);
	assert_int_equal(set_feat(h, NVME_FEAT_FID_AUTO_PST, 0, NULL), ST_INVALID_FIELD);
	assert_int_equal(set_feat(h, NVME_FEAT_FID_TIMESTAMP, 0, NULL), ST_INVALID_FIELD);
}

/* --- discovery controller ------------------------------------------------ */

static void make_discovery(struct th *h)
{
	h->ss.discovery = true;
	snprintf(h->ss.nqn, sizeof(h->ss.nqn), "%s", NVMFT_DISCOVERY_NQN);
	h->tgt.discovery = &h->ss;
	nvmf_features_init(&h->ctrlr);
}

static void test_discovery_ctrl_limits(void **state)
{
	struct th *h = *state;
	struct nvme_id_ctrl *id = (struct nvme_id_ctrl *)buf;
	uint32_t res = 0;

	make_discovery(h);
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_CTRL, 0, 0), 0);
	assert_int_equal(id->cntrltype, NVME_CTRL_CNTRLTYPE_DISCOVERY);
	assert_true(id->oaes == (uint32_t)NVME_CTRL_OAES_DL);
	assert_int_equal(id->lpa, NVME_CTRL_LPA_EXTENDED);
	assert_int_equal(id->nn, 0);
	assert_int_equal(id->oncs, 0);
	assert_string_equal(id->subnqn, NVMFT_DISCOVERY_NQN);
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_NS, 0, 1), ST_INVALID_FIELD);
	assert_int_equal(identify(h, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0, 0),
			 ST_INVALID_FIELD);
	assert_int_equal(th_admin(h, nvme_admin_abort_cmd, 0, 0, 0, NULL, 0, NULL),
			 ST_INVALID_OPCODE);
	assert_int_equal(get_log(h, NVME_LOG_LID_SMART, false, NVME_NSID_ALL, 0, 512, 512),
			 ST_INVALID_LOG);
	assert_int_equal(set_feat(h, NVME_FEAT_FID_ARBITRATION, 0, NULL), ST_INVALID_FIELD);
	assert_int_equal(set_feat(h, NVME_FEAT_FID_NUM_QUEUES, 0, NULL), ST_INVALID_FIELD);
	assert_int_equal(set_feat(h, NVME_FEAT_FID_ASYNC_EVENT, 0xffffffff, NULL), 0);
	assert_int_equal(get_feat(h, NVME_FEAT_FID_ASYNC_EVENT, 0, 0, &res), 0);
	assert_true(res == 0x80000000u);
	assert_int_equal(th_admin(h, nvme_admin_keep_alive, 0, 0, 0, NULL, 0, NULL), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, th_setup, th_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_unknown_admin_opcode_is_invalid_opcode),
		T(test_keep_alive_succeeds),
		T(test_abort_answers_not_aborted),
		T(test_aer_held_then_limit_exceeded),
		T(test_identify_ctrl_fields),
		T(test_identify_ctrl_across_two_iovecs),
		T(test_identify_short_buffer_is_sgl_length_invalid),
		T(test_identify_ns_active),
		T(test_identify_ns_inactive_is_zeroed),
		T(test_identify_ns_invalid_nsid),
		T(test_identify_active_ns_list),
		T(test_identify_ns_descriptors_stable),
		T(test_identify_csi_specific_cns),
		T(test_log_error_newest_first_with_offset),
		T(test_log_offset_checks),
		T(test_log_partial_and_past_end),
		T(test_log_changed_ns_clears_unless_rae),
		T(test_log_cmd_effects),
		T(test_log_unsupported_lid),
		T(test_feat_num_queues_granted_and_sequence),
		T(test_feat_save_not_supported),
		T(test_feat_select_current_default_saved_supported),
		T(test_feat_host_id),
		T(test_feat_kato_rounds_up),
		T(test_feat_temperature_threshold),
		T(test_feat_field_checks),
		T(test_discovery_ctrl_limits),
	};

	return cmocka_run_group_tests_name("nvmf_admin", tests, NULL, NULL);
}
