/* SPDX-License-Identifier: MIT */
/*
 * Namespaces added and removed at run time under a connected controller,
 * over the real path (2 reactors, io_uring and epoll): an outstanding
 * Async Event Request completes with the Namespace Attribute Changed
 * notice, the Changed Namespace List log (04h) names the NSID (and is
 * cleared once read), Identify follows, I/O to a removed NSID fails with
 * Invalid Namespace, I/O in flight during a removal completes (none lost,
 * none corrupted) while another namespace keeps serving, and a namespace
 * re-added on the same bdev keeps its identity and its data.
 */
#include "nvmf_harness.h"

#define HP_NQN		"nqn.2026-11.io.nvmft:hotplug"
#define HP_MAX_NS	16
#define HP_BYTES	(16u * 1024 * 1024)
#define HP_AER_NS_CHANGED \
	((uint32_t)NVME_AER_NOTICE | (NVME_AER_NOTICE_NS_CHANGED << 8) | \
	 ((uint32_t)NVME_LOG_LID_CHANGED_NS << 16))

struct env {
	struct nh h;
	struct nvmft_subsystem *ss;
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
		rc = nh_malloc(&e->h, "Hp0", HP_BYTES / 512, 512);
	if (!rc)
		rc = nh_malloc(&e->h, "Hp1", HP_BYTES / 512, 512);
	if (!rc)
		rc = nh_malloc(&e->h, "Hp2", HP_BYTES / 4096, 4096);
	if (!rc)
		rc = nh_malloc(&e->h, "Hp3", HP_BYTES / 512, 512);
	if (rc)
		return -1;
	nvmft_subsystem_opts_init(&so);
	so.nqn = HP_NQN;
	so.allow_any_host = true;
	so.max_namespaces = HP_MAX_NS;
	rc = nh_subsystem(&e->h, &so, &e->ss);
	if (!rc)
		rc = nh_add_ns(&e->h, e->ss, "Hp0", 1, NULL);
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

static void post_aer(struct nvmft_host_ctrlr *c, struct nh_slot *s)
{
	struct nvmft_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_async_event;
	memset(s, 0, sizeof(*s));
	assert_int_equal(nvmft_host_submit(nvmft_host_ctrlr_admin_qpair(c), &sqe, NULL, 0,
					   NVMFT_HOST_DIR_NONE, nh_slot_cb, s), 0);
}

static void wait_aer(struct nvmft_host_ctrlr *c, struct nh_slot *s)
{
	assert_int_equal(nvmft_host_qpair_wait(nvmft_host_ctrlr_admin_qpair(c), &s->done,
					       5000), 0);
	assert_int_equal(s->status, 0);
	assert_int_equal((uint32_t)s->result, HP_AER_NS_CHANGED);
}

static void assert_aer_pending(struct nvmft_host_ctrlr *c, struct nh_slot *s)
{
	assert_int_equal(nvmft_host_qpair_wait(nvmft_host_ctrlr_admin_qpair(c), &s->done,
					       100), -ETIMEDOUT);
}

/* Changed Namespace List: the NSIDs listed, up to @max. */
static unsigned int changed_list(struct nvmft_host_ctrlr *c, uint32_t *out,
				 unsigned int max)
{
	uint32_t list[1024];
	unsigned int n = 0;

	assert_int_equal(nvmft_host_get_log_page(c, NVME_LOG_LID_CHANGED_NS, 0xffffffff,
						 0, list, sizeof(list)), 0);
	while (n < 1024 && list[n]) {
		if (n < max)
			out[n] = le32toh(list[n]);
		n++;
	}
	return n;
}

static bool ns_active(struct nvmft_host_ctrlr *c, uint32_t nsid)
{
	uint32_t list[1024];

	assert_int_equal(nvmft_host_identify(c, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0,
					     list), 0);
	for (unsigned int i = 0; i < 1024 && list[i]; i++)
		if (le32toh(list[i]) == nsid)
			return true;
	return false;
}

static void test_ns_add_completes_aer_and_lists_nsid(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = nh_connect(&e->h, HP_NQN, 1);
	struct nvmft_host_ns_info info;
	struct nh_slot aer;
	uint32_t nsids[4], nsid = 0;

	assert_true(le32toh(nvmft_host_ctrlr_id(c)->oaes) & NVME_CTRL_OAES_NA);
	assert_false(ns_active(c, 2));
	post_aer(c, &aer);
	assert_aer_pending(c, &aer);
	assert_int_equal(nh_add_ns(&e->h, e->ss, "Hp1", 2, &nsid), 0);
	assert_int_equal(nsid, 2);
	wait_aer(c, &aer);
	assert_int_equal(changed_list(c, nsids, 4), 1);
	assert_int_equal(nsids[0], 2);
	/* read once: cleared */
	assert_int_equal(changed_list(c, nsids, 4), 0);
	assert_true(ns_active(c, 2));
	assert_int_equal(nvmft_host_ns_info(c, 2, &info), 0);
	assert_int_equal(info.nsze, HP_BYTES / 512);
	nh_write_read_verify(nvmft_host_ctrlr_io_qpair(c, 0), 2, 512, 100, 65536, 1);

	/* the same on removal */
	post_aer(c, &aer);
	assert_int_equal(nh_remove_ns(&e->h, e->ss, 2), 0);
	wait_aer(c, &aer);
	assert_int_equal(changed_list(c, nsids, 4), 1);
	assert_int_equal(nsids[0], 2);
	assert_false(ns_active(c, 2));
	assert_int_equal(nvmft_host_ns_info(c, 2, &info), -ENODEV);
	nvmft_host_ctrlr_disconnect(c);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

static void test_io_to_removed_nsid_fails_invalid_namespace(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = nh_connect(&e->h, HP_NQN, 1);
	struct nvmft_host_qpair *qp = nvmft_host_ctrlr_io_qpair(c, 0);
	uint8_t buf[4096];
	int rc;

	assert_int_equal(nh_add_ns(&e->h, e->ss, "Hp2", 3, NULL), 0);
	nh_write_read_verify(qp, 3, 4096, 0, 4096, 2);
	assert_int_equal(nh_remove_ns(&e->h, e->ss, 3), 0);
	rc = nvmft_host_read(qp, 3, 0, 1, buf, sizeof(buf));
	assert_int_equal(NH_ST(rc), NH_INVALID_NS);
	rc = nvmft_host_write(qp, 3, 0, 1, buf, sizeof(buf), false);
	assert_int_equal(NH_ST(rc), NH_INVALID_NS);
	assert_int_equal(NH_ST(nvmft_host_flush(qp, 3)), NH_INVALID_NS);
	/* the queue and namespace 1 are fine */
	nh_write_read_verify(qp, 1, 512, 0, 4096, 3);
	nvmft_host_ctrlr_disconnect(c);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

static void test_changed_list_accumulates_until_read(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = nh_connect(&e->h, HP_NQN, 0);
	struct nh_slot aer, aer2;
	uint32_t nsids[8];
	unsigned int n;

	post_aer(c, &aer);
	assert_int_equal(nh_add_ns(&e->h, e->ss, "Hp1", 5, NULL), 0);
	wait_aer(c, &aer);
	/* not read yet: the next change adds to the list */
	post_aer(c, &aer2);
	assert_int_equal(nh_add_ns(&e->h, e->ss, "Hp3", 6, NULL), 0);
	n = changed_list(c, nsids, 8);
	assert_int_equal(n, 2);
	assert_int_equal(nsids[0], 5);
	assert_int_equal(nsids[1], 6);
	/* after the read, a new change is reported to the AER still held
	 * (if the masked event was not already delivered to it) */
	assert_int_equal(nh_remove_ns(&e->h, e->ss, 5), 0);
	wait_aer(c, &aer2);
	n = changed_list(c, nsids, 8);
	assert_true(n >= 1);
	assert_int_equal(nsids[n - 1], 5);
	assert_int_equal(nh_remove_ns(&e->h, e->ss, 6), 0);
	nvmft_host_ctrlr_disconnect(c);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

static void test_in_flight_io_completes_during_removal(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = nh_connect(&e->h, HP_NQN, 3);
	struct nvmft_host_qpair *qps[2] = { nvmft_host_ctrlr_io_qpair(c, 0),
					    nvmft_host_ctrlr_io_qpair(c, 1) };
	struct nvmft_host_qpair *q1[1] = { nvmft_host_ctrlr_io_qpair(c, 2) };
	struct nh_wl wl, wl1;
	uint64_t end, ok_at_removal, ok1_at_removal;
	unsigned int busy = 1;
	bool removed = false;

	assert_int_equal(nh_add_ns(&e->h, e->ss, "Hp1", 2, NULL), 0);
	nh_wl_start(&wl, qps, 2, 16, 2, 512, 16384, 0);	/* QD32 on nsid 2 */
	nh_wl_start(&wl1, q1, 1, 8, 1, 512, 8192, 8192);	/* nsid 1 */
	end = tt_now_ms() + 20000;
	while (wl.verified < 128) {
		nh_wl_poll(&wl, qps, 2);
		nh_wl_poll(&wl1, q1, 1);
		assert_true(tt_now_ms() < end);
	}
	assert_int_equal(wl.errors, 0);
	/* put the commands just resubmitted on the wire: they are in flight
	 * on the target when the removal starts */
	for (int i = 0; i < 2; i++)
		assert_true(nvmft_host_qpair_poll(qps[i], 1) >= 0);
	e->h.a_ss = e->ss;
	e->h.a_nsid = 2;
	assert_int_equal(nh_run_async(&e->h, nh_step_remove_ns), 0);
	ok_at_removal = wl.ok;
	ok1_at_removal = wl1.ok;
	/* keep submitting until the removal finished, then drain */
	while (!removed || busy) {
		if (!removed && nh_step_done(&e->h)) {
			removed = true;
			assert_int_equal(e->h.t.rc, 0);
			/* one more round of submissions after the removal */
			nh_wl_poll(&wl, qps, 2);
			wl.stop = true;
		}
		busy = nh_wl_poll(&wl, qps, 2);
		nh_wl_poll(&wl1, q1, 1);
		if (tt_now_ms() > end)
			fail_msg("removal done %d, %u commands outstanding", removed, busy);
	}
	if (getenv("TT_VERBOSE"))
		fprintf(stderr, "ns2: %lu ok (%lu after removal started), %lu errors\n",
			(unsigned long)wl.ok, (unsigned long)(wl.ok - ok_at_removal),
			(unsigned long)wl.errors);
	/* nothing corrupted, nothing lost, and the end is Invalid Namespace */
	assert_int_equal(wl.mismatches, 0);
	assert_true(wl.errors > 0);
	assert_int_equal(NH_ST(wl.first_status), NH_INVALID_NS);
	assert_int_equal(NH_ST(wl.last_status), NH_INVALID_NS);
	assert_int_equal(wl.submit_errors, 0);
	/* namespace 1 served throughout */
	end = tt_now_ms() + 10000;
	while (wl1.ok < ok1_at_removal + 32) {
		nh_wl_poll(&wl1, q1, 1);
		assert_true(tt_now_ms() < end);
	}
	wl1.stop = true;
	while (nh_wl_poll(&wl1, q1, 1))
		assert_true(tt_now_ms() < end);
	assert_int_equal(wl1.errors, 0);
	assert_int_equal(wl1.mismatches, 0);
	nh_wl_free(&wl);
	nh_wl_free(&wl1);
	nvmft_host_ctrlr_disconnect(c);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

/* A write waiting for its data (R2T sent, no H2CData yet) does not hold up
 * a removal; when its data comes it fails with Invalid Namespace. */
static void test_removal_not_held_by_write_waiting_for_data(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = nh_connect(&e->h, HP_NQN, 1);
	struct nvmft_host_qpair *qp = nvmft_host_ctrlr_io_qpair(c, 0);
	uint32_t len = 128 * 1024;
	uint8_t *data = calloc(1, len);
	struct pdu_capsule_resp rsp;
	struct nvmft_sqe sqe;
	struct pdu_r2t r2t;
	union pdu_hdr h;
	size_t hl;

	assert_non_null(data);
	assert_int_equal(nh_add_ns(&e->h, e->ss, "Hp1", 2, NULL), 0);
	nh_sqe_rw(&sqe, true, 2, 0, len / 512);
	sqe.flags = 0x40;
	sqe.cid = 0x2a;
	sqe.sgl.type = NVMFT_SGL_TRANSPORT;
	sqe.sgl.length = htole32(len);
	hl = pdu_enc_capsule_cmd(&h, NULL, &sqe, 0);
	assert_int_equal(nvmft_host_qpair_send_raw(qp, h.raw, hl), 0);
	assert_int_equal(nvmft_host_qpair_recv_raw(qp, &r2t, sizeof(r2t), 5000),
			 (ssize_t)sizeof(r2t));
	assert_int_equal(r2t.ch.type, PDU_R2T);
	/* the removal completes while the write waits */
	assert_int_equal(nh_remove_ns(&e->h, e->ss, 2), 0);
	hl = pdu_enc_h2c_data(&h, NULL, 0x2a, le16toh(r2t.ttag), 0, len, true);
	assert_int_equal(nvmft_host_qpair_send_raw(qp, h.raw, hl), 0);
	assert_int_equal(nvmft_host_qpair_send_raw(qp, data, len), 0);
	assert_int_equal(nvmft_host_qpair_recv_raw(qp, &rsp, sizeof(rsp), 5000),
			 (ssize_t)sizeof(rsp));
	assert_int_equal(rsp.ch.type, PDU_CAPSULE_RESP);
	assert_int_equal(rsp.cqe.cid, 0x2a);
	assert_int_equal((le16toh(rsp.cqe.status) >> 1) & 0x7ff, NH_INVALID_NS);
	nh_write_read_verify(qp, 1, 512, 0, 4096, 11);
	free(data);
	nvmft_host_ctrlr_disconnect(c);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

static void read_uuid(struct nvmft_host_ctrlr *c, uint32_t nsid, uint8_t out[16])
{
	uint8_t buf[4096];
	size_t off = 0;

	assert_int_equal(nvmft_host_identify(c, NVME_IDENTIFY_CNS_NS_DESC_LIST, nsid, buf), 0);
	memset(out, 0, 16);
	while (off + 4 < sizeof(buf) && buf[off]) {
		if (buf[off] == NVME_NIDT_UUID)
			memcpy(out, buf + off + 4, 16);
		off += 4 + buf[off + 1];
	}
}

static void test_readded_namespace_keeps_identity_and_data(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = nh_connect(&e->h, HP_NQN, 1);
	struct nvmft_host_qpair *qp = nvmft_host_ctrlr_io_qpair(c, 0);
	uint8_t u1[16], u2[16], zero[16] = { 0 };
	uint8_t *w = malloc(131072), *r = malloc(131072);

	assert_non_null(w);
	assert_non_null(r);
	assert_int_equal(nh_add_ns(&e->h, e->ss, "Hp1", 7, NULL), 0);
	read_uuid(c, 7, u1);
	assert_memory_not_equal(u1, zero, 16);
	nh_fill(w, 131072, 77);
	assert_int_equal(nvmft_host_write(qp, 7, 1000, 256, w, 131072, true), 0);
	assert_int_equal(nh_remove_ns(&e->h, e->ss, 7), 0);
	/* back under another NSID */
	assert_int_equal(nh_add_ns(&e->h, e->ss, "Hp1", 9, NULL), 0);
	read_uuid(c, 9, u2);
	assert_memory_equal(u1, u2, 16);
	assert_int_equal(nvmft_host_read(qp, 9, 1000, 256, r, 131072), 0);
	assert_memory_equal(w, r, 131072);
	assert_int_equal(nh_remove_ns(&e->h, e->ss, 9), 0);
	free(w);
	free(r);
	nvmft_host_ctrlr_disconnect(c);
}

static void test_namespace_api_errors(void **state)
{
	struct env *e = *state;

	assert_int_equal(nh_add_ns(&e->h, e->ss, "NoSuchBdev", 4, NULL), -ENOENT);
	assert_int_equal(nh_add_ns(&e->h, e->ss, "Hp1", 1, NULL), -EEXIST);
	assert_int_equal(nh_add_ns(&e->h, e->ss, "Hp0", 4, NULL), -EBUSY);
	assert_int_equal(nh_remove_ns(&e->h, e->ss, 4), -ENOENT);
	assert_int_equal(nh_add_ns(&e->h, e->ss, "Hp1", HP_MAX_NS + 1, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ns_add_completes_aer_and_lists_nsid),
		cmocka_unit_test(test_io_to_removed_nsid_fails_invalid_namespace),
		cmocka_unit_test(test_changed_list_accumulates_until_read),
		cmocka_unit_test(test_in_flight_io_completes_during_removal),
		cmocka_unit_test(test_removal_not_held_by_write_waiting_for_data),
		cmocka_unit_test(test_readded_namespace_keeps_identity_and_data),
		cmocka_unit_test(test_namespace_api_errors),
	};

	return NH_RUN_BOTH("nvmf_ns_hotplug", tests, setup_uring, setup_epoll,
			   env_teardown) ? 1 : 0;
}
