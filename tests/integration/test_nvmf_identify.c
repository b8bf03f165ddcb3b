/* SPDX-License-Identifier: MIT */
/*
 * Connect + Identify over the real path (2 reactors, io_uring and epoll):
 * the controller and namespace data match what the target was configured
 * with (serial, model, subsystem NQN, NN, MDTS, IOCCSZ, cntlid, sizes and
 * LBA formats of a 512 B and a 4 KiB namespace), cntlids stay unique and
 * inside the configured range (Controller Busy when it is used up), the
 * SMART log counts the host's I/O, and the namespace identification
 * descriptors come back the same after the target is destroyed and built
 * again with the same bdev names.
 */
#include "nvmf_harness.h"

#define ID_NQN		"nqn.2026-11.io.nvmft:identify"
#define ID_SERIAL	"NVMFT-ID-0001"
#define ID_MODEL	"nvmft identify test"
#define ID_MAX_NS	8
#define ID_MIN_CNTLID	0x20
#define ID_BLK512	(16u * 1024 * 1024 / 512)
#define ID_BLK4K	(8u * 1024 * 1024 / 4096)

struct env {
	struct nh h;
	enum nvmft_engine engine;
	struct nvmft_subsystem *ss;
};

static int env_build(struct env *e)
{
	struct nvmft_subsystem_opts so;
	int rc;

	rc = nh_start(&e->h, e->engine, NULL);
	if (!rc)
		rc = nh_malloc(&e->h, "Ident512", ID_BLK512, 512);
	if (!rc)
		rc = nh_malloc(&e->h, "Ident4k", ID_BLK4K, 4096);
	if (rc)
		return rc;
	nvmft_subsystem_opts_init(&so);
	so.nqn = ID_NQN;
	so.serial = ID_SERIAL;
	so.model = ID_MODEL;
	so.allow_any_host = true;
	so.max_namespaces = ID_MAX_NS;
	so.min_cntlid = ID_MIN_CNTLID;
	rc = nh_subsystem(&e->h, &so, &e->ss);
	if (!rc)
		rc = nh_add_ns(&e->h, e->ss, "Ident512", 1, NULL);
	if (!rc)
		rc = nh_add_ns(&e->h, e->ss, "Ident4k", 2, NULL);
	return rc;
}

static int env_setup(void **state, enum nvmft_engine engine)
{
	struct env *e = calloc(1, sizeof(*e));

	if (!e)
		return -1;
	e->engine = engine;
	*state = e;
	return env_build(e) ? -1 : 0;
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

/* Space padded ASCII field equal to @s. */
static void assert_padded(const char *field, size_t size, const char *s)
{
	size_t n = strlen(s);

	assert_true(n <= size);
	assert_memory_equal(field, s, n);
	for (size_t i = n; i < size; i++)
		assert_int_equal(field[i], ' ');
}

static unsigned int ilog2(uint64_t v)
{
	unsigned int r = 0;

	while (v >>= 1)
		r++;
	return r;
}

static void test_identify_controller_matches_configuration(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = nh_connect(&e->h, ID_NQN, 1);
	const struct nvmft_transport_opts *o = &e->h.t.topts;
	const struct nvme_id_ctrl *id = nvmft_host_ctrlr_id(c);
	struct nvme_id_ctrl *fresh = calloc(1, sizeof(*fresh));
	uint64_t cap = nvmft_host_ctrlr_cap(c);

	assert_non_null(fresh);
	assert_non_null(id);
	assert_padded(id->sn, sizeof(id->sn), ID_SERIAL);
	assert_padded(id->mn, sizeof(id->mn), ID_MODEL);
	assert_string_equal(id->subnqn, ID_NQN);
	assert_int_equal(le32toh(id->nn), ID_MAX_NS);
	/* MDTS in units of CAP.MPSMIN (4 KiB): 1 MiB = 2^8 pages */
	assert_int_equal(NVME_CAP_MPSMIN(cap), 0);
	assert_int_equal(id->mdts, ilog2(o->max_io_size / 4096));
	assert_int_equal(nvmft_host_ctrlr_max_xfer(c), o->max_io_size);
	/* IOCCSZ: 64-byte SQE + in-capsule data, in 16-byte units */
	assert_int_equal(le32toh(id->ioccsz), (64 + o->in_capsule_data_size) / 16);
	assert_int_equal(le32toh(id->iorcsz), 1);
	assert_int_equal(le16toh(id->cntlid), nvmft_host_ctrlr_cntlid(c));
	assert_true(le16toh(id->cntlid) >= ID_MIN_CNTLID);
	assert_int_equal(le16toh(id->maxcmd), o->max_queue_depth);
	assert_int_equal(NVME_CAP_MQES(cap) + 1, o->max_queue_depth);
	assert_int_equal(id->cntrltype, NVME_CTRL_CNTRLTYPE_IO);
	assert_int_equal(le32toh(id->ver), nvmft_host_ctrlr_vs(c));
	/* the same data through a fresh Identify */
	assert_int_equal(nvmft_host_identify(c, NVME_IDENTIFY_CNS_CTRL, 0, fresh), 0);
	assert_memory_equal(fresh, id, sizeof(*fresh));
	free(fresh);
	nvmft_host_ctrlr_disconnect(c);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

static void test_each_controller_gets_its_own_cntlid(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *a = nh_connect(&e->h, ID_NQN, 1);
	struct nvmft_host_ctrlr *b = nh_connect(&e->h, ID_NQN, 1);
	uint16_t ca = nvmft_host_ctrlr_cntlid(a), cb = nvmft_host_ctrlr_cntlid(b);

	assert_true(ca >= ID_MIN_CNTLID && ca <= 0xffef);
	assert_true(cb >= ID_MIN_CNTLID && cb <= 0xffef);
	assert_int_not_equal(ca, cb);
	assert_int_equal(le16toh(nvmft_host_ctrlr_id(b)->cntlid), cb);
	assert_int_equal(nh_wait_state(&e->h, 4, 2, NH_WAIT_MS), 0);
	nvmft_host_ctrlr_disconnect(a);
	nvmft_host_ctrlr_disconnect(b);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

static void check_ns(struct nvmft_host_ctrlr *c, uint32_t nsid, uint64_t blocks,
		     uint32_t bs)
{
	struct nvmft_host_ns_info info;
	struct nvme_id_ns *id = calloc(1, sizeof(*id));

	assert_non_null(id);
	assert_int_equal(nvmft_host_ns_info(c, nsid, &info), 0);
	assert_int_equal(info.nsid, nsid);
	assert_int_equal(info.nsze, blocks);
	assert_int_equal(info.lba_size, bs);
	assert_int_equal(nvmft_host_identify(c, NVME_IDENTIFY_CNS_NS, nsid, id), 0);
	assert_int_equal(le64toh(id->nsze), blocks);
	assert_int_equal(le64toh(id->ncap), blocks);
	assert_int_equal(id->flbas & 0xf, 0);
	assert_int_equal(id->lbaf[0].ds, ilog2(bs));
	assert_int_equal(le16toh(id->lbaf[0].ms), 0);
	free(id);
}

static void test_identify_namespaces_512_and_4096(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = nh_connect(&e->h, ID_NQN, 1);
	struct nvmft_host_qpair *qp = nvmft_host_ctrlr_io_qpair(c, 0);
	struct nvmft_host_ns_info info;

	check_ns(c, 1, ID_BLK512, 512);
	check_ns(c, 2, ID_BLK4K, 4096);
	/* inside NN but not attached: inactive */
	assert_int_equal(nvmft_host_ns_info(c, 3, &info), -ENODEV);
	/* the block sizes are what I/O uses: one block each at the last LBA */
	nh_write_read_verify(qp, 1, 512, ID_BLK512 - 1, 512, 1);
	nh_write_read_verify(qp, 2, 4096, ID_BLK4K - 1, 4096, 2);
	nvmft_host_ctrlr_disconnect(c);
}

static void test_active_namespace_list(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = nh_connect(&e->h, ID_NQN, 0);
	uint32_t list[1024];

	assert_int_equal(nvmft_host_identify(c, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0,
					     list), 0);
	assert_int_equal(le32toh(list[0]), 1);
	assert_int_equal(le32toh(list[1]), 2);
	assert_int_equal(list[2], 0);
	/* the list starts after the NSID given */
	assert_int_equal(nvmft_host_identify(c, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 1,
					     list), 0);
	assert_int_equal(le32toh(list[0]), 2);
	assert_int_equal(list[1], 0);
	nvmft_host_ctrlr_disconnect(c);
}

struct ns_ids {
	bool has_nguid, has_uuid;
	uint8_t nguid[16], uuid[16];
};

static void read_descs(struct nvmft_host_ctrlr *c, uint32_t nsid, struct ns_ids *ids)
{
	uint8_t buf[4096];
	size_t off = 0;

	memset(ids, 0, sizeof(*ids));
	assert_int_equal(nvmft_host_identify(c, NVME_IDENTIFY_CNS_NS_DESC_LIST, nsid,
					     buf), 0);
	while (off + 4 <= sizeof(buf) && buf[off] != 0) {
		uint8_t type = buf[off], len = buf[off + 1];

		assert_true(off + 4 + len <= sizeof(buf));
		if (type == NVME_NIDT_NGUID) {
			assert_int_equal(len, 16);
			memcpy(ids->nguid, buf + off + 4, 16);
			ids->has_nguid = true;
		} else if (type == NVME_NIDT_UUID) {
			assert_int_equal(len, 16);
			memcpy(ids->uuid, buf + off + 4, 16);
			ids->has_uuid = true;
		}
		off += 4 + len;
	}
	assert_true(ids->has_nguid || ids->has_uuid);
}

static void test_ns_descriptors_stable_across_target_recreate(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = nh_connect(&e->h, ID_NQN, 0);
	struct ns_ids before[2], after[2];
	struct nvme_id_ns *id = calloc(1, sizeof(*id));
	uint8_t expect[16];

	assert_non_null(id);
	read_descs(c, 1, &before[0]);
	read_descs(c, 2, &before[1]);
	/* two namespaces, two identities */
	assert_memory_not_equal(before[0].uuid, before[1].uuid, 16);
	/* the UUID is the bdev's (derived from its name) */
	nvmft_uuid_from_name("Ident512", expect);
	assert_true(before[0].has_uuid);
	assert_memory_equal(before[0].uuid, expect, 16);
	/* Identify Namespace carries the same NGUID */
	assert_int_equal(nvmft_host_identify(c, NVME_IDENTIFY_CNS_NS, 1, id), 0);
	if (before[0].has_nguid)
		assert_memory_equal(id->nguid, before[0].nguid, 16);
	nvmft_host_ctrlr_disconnect(c);

	/* a whole new target (new runtime, new port) with the same names */
	nh_stop(&e->h);
	assert_int_equal(env_build(e), 0);
	c = nh_connect(&e->h, ID_NQN, 0);
	read_descs(c, 1, &after[0]);
	read_descs(c, 2, &after[1]);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(after[i].has_uuid, before[i].has_uuid);
		assert_int_equal(after[i].has_nguid, before[i].has_nguid);
		assert_memory_equal(after[i].uuid, before[i].uuid, 16);
		assert_memory_equal(after[i].nguid, before[i].nguid, 16);
	}
	nvmft_host_ctrlr_disconnect(c);
	free(id);
}

static void test_identify_inactive_nsid_descriptors_fail(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = nh_connect(&e->h, ID_NQN, 0);
	uint8_t buf[4096];
	int rc;

	rc = nvmft_host_identify(c, NVME_IDENTIFY_CNS_NS_DESC_LIST, 3, buf);
	assert_int_equal(NH_ST(rc), NH_INVALID_NS);
	rc = nvmft_host_identify(c, NVME_IDENTIFY_CNS_NS, ID_MAX_NS + 1, buf);
	assert_int_equal(NH_ST(rc), NH_INVALID_NS);
	nvmft_host_ctrlr_disconnect(c);
}

/* A narrow cntlid range: every controller gets one inside it, a freed
 * one is handed out again, and with the range used up Connect answers
 * Controller Busy; max_controllers limits the same way. */
static void test_cntlid_range_and_controller_limit(void **state)
{
	struct env *e = *state;
	struct nvmft_subsystem_opts so;
	struct nvmft_subsystem *narrow = NULL, *few = NULL;
	struct nvmft_host_ctrlr *c[3];
	const char *host = "nqn.2014-08.org.nvmexpress:uuid:cccccccc-0000-0000-0000-000000000001";
	uint16_t st;

	nvmft_subsystem_opts_init(&so);
	so.nqn = "nqn.2026-11.io.nvmft:narrow";
	so.allow_any_host = true;
	so.min_cntlid = 5;
	so.max_cntlid = 7;
	assert_int_equal(nh_subsystem(&e->h, &so, &narrow), 0);
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 3; i++) {
			c[i] = nh_connect(&e->h, so.nqn, 0);
			assert_in_range(nvmft_host_ctrlr_cntlid(c[i]), 5, 7);
			for (int j = 0; j < i; j++)
				assert_int_not_equal(nvmft_host_ctrlr_cntlid(c[i]),
						     nvmft_host_ctrlr_cntlid(c[j]));
		}
		assert_int_equal(nh_raw_connect(&e->h, so.nqn, host, 0, 0xffff, &st, NULL,
						NULL), 0);
		assert_int_equal(NH_ST(st), NVMFT_STATUS(NVME_SCT_CMD_SPECIFIC,
							 NVME_SC_CONNECT_CTRL_BUSY));
		for (int i = 0; i < 3; i++)
			nvmft_host_ctrlr_disconnect(c[i]);
		assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
	}
	nvmft_subsystem_opts_init(&so);
	so.nqn = "nqn.2026-11.io.nvmft:few";
	so.allow_any_host = true;
	so.max_controllers = 2;
	assert_int_equal(nh_subsystem(&e->h, &so, &few), 0);
	c[0] = nh_connect(&e->h, so.nqn, 0);
	c[1] = nh_connect(&e->h, so.nqn, 0);
	assert_int_equal(nh_raw_connect(&e->h, so.nqn, host, 0, 0xffff, &st, NULL, NULL), 0);
	assert_int_equal(NH_ST(st), NVMFT_STATUS(NVME_SCT_CMD_SPECIFIC,
						 NVME_SC_CONNECT_CTRL_BUSY));
	nvmft_host_ctrlr_disconnect(c[0]);
	assert_int_equal(nh_wait_counts(&e->h, 1, 1, NH_WAIT_MS), 0);
	c[0] = nh_connect(&e->h, so.nqn, 0);
	nvmft_host_ctrlr_disconnect(c[0]);
	nvmft_host_ctrlr_disconnect(c[1]);
	assert_int_equal(nh_ss_destroy(&e->h, narrow), 0);
	assert_int_equal(nh_ss_destroy(&e->h, few), 0);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

static uint64_t le128_lo(const uint8_t v[16])
{
	uint64_t x;

	memcpy(&x, v, sizeof(x));
	return le64toh(x);
}

/* The SMART log counts the I/O this controller did (commands exactly,
 * data units of 1000 × 512 bytes). */
static void test_smart_log_counts_host_io(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = nh_connect(&e->h, ID_NQN, 2);
	struct nvme_smart_log a, b;
	uint8_t *buf = malloc(256 * 1024);

	assert_non_null(buf);
	nh_fill(buf, 256 * 1024, 5);
	assert_int_equal(nvmft_host_get_log_page(c, NVME_LOG_LID_SMART, 0xffffffff, 0,
						 &a, sizeof(a)), 0);
	/* 4 writes of 256 KiB (2048 units of 512 B) on one queue, 3 reads on
	 * the other, on both namespaces */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(nvmft_host_write(nvmft_host_ctrlr_io_qpair(c, 0), 1,
						  (uint64_t)i * 512, 512, buf, 256 * 1024,
						  false), 0);
		assert_int_equal(nvmft_host_write(nvmft_host_ctrlr_io_qpair(c, 0), 2,
						  (uint64_t)i * 64, 64, buf, 256 * 1024,
						  false), 0);
	}
	for (int i = 0; i < 3; i++)
		assert_int_equal(nvmft_host_read(nvmft_host_ctrlr_io_qpair(c, 1), 1, 0, 512,
						 buf, 256 * 1024), 0);
	assert_int_equal(nvmft_host_get_log_page(c, NVME_LOG_LID_SMART, 0xffffffff, 0,
						 &b, sizeof(b)), 0);
	assert_int_equal(le128_lo(b.host_writes) - le128_lo(a.host_writes), 4);
	assert_int_equal(le128_lo(b.host_reads) - le128_lo(a.host_reads), 3);
	/* 2048 and 1536 units: rounded up to thousands, deltas of 2 (±1) */
	assert_in_range(le128_lo(b.data_units_written) - le128_lo(a.data_units_written), 2, 3);
	assert_in_range(le128_lo(b.data_units_read) - le128_lo(a.data_units_read), 1, 2);
	/* a partial read at an offset: the same bytes */
	assert_int_equal(nvmft_host_get_log_page(c, NVME_LOG_LID_SMART, 0xffffffff, 32,
						 buf, 64), 0);
	assert_memory_equal(buf, (uint8_t *)&b + 32, 64);
	free(buf);
	nvmft_host_ctrlr_disconnect(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identify_controller_matches_configuration),
		cmocka_unit_test(test_each_controller_gets_its_own_cntlid),
		cmocka_unit_test(test_identify_namespaces_512_and_4096),
		cmocka_unit_test(test_active_namespace_list),
		cmocka_unit_test(test_identify_inactive_nsid_descriptors_fail),
		cmocka_unit_test(test_cntlid_range_and_controller_limit),
		cmocka_unit_test(test_smart_log_counts_host_io),
		cmocka_unit_test(test_ns_descriptors_stable_across_target_recreate),
	};

	return NH_RUN_BOTH("nvmf_identify", tests, setup_uring, setup_epoll,
			   env_teardown) ? 1 : 0;
}
