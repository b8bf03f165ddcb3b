/* SPDX-License-Identifier: MIT */
/*
 * Discovery log page (discovery.c, and log page 70h in log_page.c) on a
 * hand-built target: a discovery controller, two listening addresses and
 * subsystems the connected host may or may not see.
 */
#include "test_nvmf_cmd_harness.h"

#define HOST_OTHER	"nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555"
#define NQN_A		"nqn.2024-01.io.nvmft:a"
#define NQN_B		"nqn.2024-01.io.nvmft:b"
#define NQN_C		"nqn.2024-01.io.nvmft:c"
#define NQN_D		"nqn.2024-01.io.nvmft:d"
#define REC		1024
#define NREC		4	/* 2 discovery + A + C */
#define PAGE		(REC + NREC * REC)

#define ST_INVALID_FIELD	TH_ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD)

struct dh {
	struct th *h;
	struct nvmft_subsystem disc, a, b, c, d;
	struct nvmf_tgt_listener tl[2];
	struct nvmf_listener_entry le[5];
	struct nvmf_host_entry host_b, host_c;
};

static uint8_t page[PAGE + 4096];

static void listen_addr(struct nvmft_listen_addr *a, const char *traddr,
			const char *port)
{
	assert_int_equal(nvmft_listen_addr_init(a, traddr, port), 0);
}

static void ss_listen(struct nvmft_subsystem *ss, struct nvmf_listener_entry *le,
		      const struct nvmft_listen_addr *addr)
{
	le->addr = *addr;
	TAILQ_INSERT_TAIL(&ss->listeners, le, link);
}

/*
 * Listeners: 127.0.0.1:4420 (port 0), ::1:4421 (port 1).
 * A: any host, on 4420. B: only HOST_OTHER, on both. C: our host listed,
 * on 4421. D: not started, on 4420.
 */
static int dsetup(void **state)
{
	struct dh *d = calloc(1, sizeof(*d));
	struct th *h;

	assert_non_null(d);
	th_setup(state);
	h = d->h = *state;
	TAILQ_REMOVE(&h->tgt.subsystems, &h->ss, link);

	th_ss_init(h, &d->disc, 0, NVMFT_DISCOVERY_NQN, true);
	h->tgt.discovery = &d->disc;
	h->ctrlr.ss = &d->disc;
	h->tgt.discovery_genctr = 42;

	listen_addr(&d->tl[0].addr, "127.0.0.1", "4420");
	listen_addr(&d->tl[1].addr, "::1", "4421");
	for (int i = 0; i < 2; i++) {
		d->tl[i].transport = &h->transport;
		d->tl[i].refs = 1;
		TAILQ_INSERT_TAIL(&h->tgt.listeners, &d->tl[i], link);
	}

	th_ss_init(h, &d->a, 2, NQN_A, false);
	ss_listen(&d->a, &d->le[0], &d->tl[0].addr);
	th_ss_init(h, &d->b, 3, NQN_B, false);
	d->b.allow_any_host = false;
	snprintf(d->host_b.nqn, sizeof(d->host_b.nqn), "%s", HOST_OTHER);
	TAILQ_INSERT_TAIL(&d->b.hosts, &d->host_b, link);
	ss_listen(&d->b, &d->le[1], &d->tl[0].addr);
	ss_listen(&d->b, &d->le[2], &d->tl[1].addr);
	th_ss_init(h, &d->c, 4, NQN_C, false);
	d->c.allow_any_host = false;
	snprintf(d->host_c.nqn, sizeof(d->host_c.nqn), "%s", TH_HOSTNQN);
	TAILQ_INSERT_TAIL(&d->c.hosts, &d->host_c, link);
	ss_listen(&d->c, &d->le[3], &d->tl[1].addr);
	th_ss_init(h, &d->d, 1, NQN_D, false);
	d->d.state = NVMF_SS_INACTIVE;
	ss_listen(&d->d, &d->le[4], &d->tl[0].addr);

	TAILQ_INSERT_TAIL(&h->tgt.subsystems, &d->disc, link);
	TAILQ_INSERT_TAIL(&h->tgt.subsystems, &d->a, link);
	TAILQ_INSERT_TAIL(&h->tgt.subsystems, &d->b, link);
	TAILQ_INSERT_TAIL(&h->tgt.subsystems, &d->c, link);
	TAILQ_INSERT_TAIL(&h->tgt.subsystems, &d->d, link);
	*state = d;
	return 0;
}

static int dteardown(void **state)
{
	struct dh *d = *state;

	*state = d->h;
	free(d);
	return th_teardown(state);
}

static uint16_t get_disc_log(struct th *h, uint64_t offset, uint32_t bytes,
			     bool rae)
{
	struct th_req r;
	uint32_t numd = bytes / 4 - 1;

	memset(page, 0xaa, sizeof(page));
	th_req_init(&r, &h->aq, nvme_admin_get_log_page, 0, page, bytes);
	r.req.cmd.cdw10 = NVME_LOG_LID_DISCOVER | (rae ? 1u << 15 : 0) |
			  (numd & 0xffff) << 16;
	r.req.cmd.cdw11 = numd >> 16;
	r.req.cmd.cdw12 = (uint32_t)offset;
	r.req.cmd.cdw13 = (uint32_t)(offset >> 32);
	return th_exec(h, &r);
}

static const struct nvmf_disc_log_entry *rec(int i)
{
	return (const struct nvmf_disc_log_entry *)(page + REC + i * REC);
}

static void test_header_and_host_filtering(void **state)
{
	struct dh *d = *state;
	const struct nvmf_discovery_log *hdr = (const void *)page;

	assert_int_equal(get_disc_log(d->h, 0, PAGE, false), 0);
	assert_int_equal(hdr->genctr, 42);
	assert_int_equal(hdr->numrec, NREC);
	assert_int_equal(hdr->recfmt, 0);
	/* the discovery subsystem on each address, then A, then C */
	assert_string_equal(rec(0)->subnqn, NVMFT_DISCOVERY_NQN);
	assert_string_equal(rec(1)->subnqn, NVMFT_DISCOVERY_NQN);
	assert_string_equal(rec(2)->subnqn, NQN_A);
	assert_string_equal(rec(3)->subnqn, NQN_C);
}

static void test_entry_fields(void **state)
{
	struct dh *d = *state;
	const struct nvmf_disc_log_entry *e;

	assert_int_equal(get_disc_log(d->h, 0, PAGE, false), 0);
	e = rec(0);
	assert_int_equal(e->trtype, NVMF_TRTYPE_TCP);
	assert_int_equal(e->adrfam, NVMF_ADDR_FAMILY_IP4);
	assert_int_equal(e->subtype, NVME_NQN_CURR);
	assert_int_equal(e->eflags, NVMF_DISC_EFLAGS_EPCSD);
	assert_int_equal(e->treq, NVMF_TREQ_NOT_REQUIRED);
	assert_int_equal(e->portid, 0);
	assert_int_equal(e->cntlid, 0xffff);
	assert_int_equal(e->asqsz, 32);
	assert_string_equal(e->trsvcid, "4420");
	assert_string_equal(e->traddr, "127.0.0.1");
	assert_int_equal(e->tsas.tcp.sectype, NVMF_TCP_SECTYPE_NONE);
	/* NUL padded */
	assert_int_equal(e->traddr[sizeof(e->traddr) - 1], 0);

	e = rec(1);
	assert_int_equal(e->adrfam, NVMF_ADDR_FAMILY_IP6);
	assert_int_equal(e->portid, 1);
	assert_string_equal(e->traddr, "::1");
	assert_string_equal(e->trsvcid, "4421");

	e = rec(2);		/* A on 127.0.0.1:4420 */
	assert_int_equal(e->subtype, NVME_NQN_NVME);
	assert_int_equal(e->eflags, 0);
	assert_int_equal(e->portid, 0);
	assert_int_equal(e->cntlid, 0xffff);
	assert_string_equal(e->traddr, "127.0.0.1");

	e = rec(3);		/* C on ::1:4421: same PORTID as the address */
	assert_int_equal(e->subtype, NVME_NQN_NVME);
	assert_int_equal(e->portid, 1);
	assert_string_equal(e->trsvcid, "4421");
}

static void test_window_matches_full_page(void **state)
{
	struct dh *d = *state;
	static uint8_t full[PAGE];
	uint64_t offs[] = { 0, 16, 1024, 1536, 2044, PAGE - 8 };
	uint32_t lens[] = { 16, 1024, 1024, 2048, 8, 8 };

	assert_int_equal(get_disc_log(d->h, 0, PAGE, false), 0);
	memcpy(full, page, PAGE);
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		assert_int_equal(get_disc_log(d->h, offs[i], lens[i], false), 0);
		assert_memory_equal(page, full + offs[i], lens[i]);
		/* nothing written past the window */
		assert_int_equal(page[lens[i]], 0xaa);
	}
	/* asking past the end: the tail reads as zeroes */
	assert_int_equal(get_disc_log(d->h, PAGE - 8, 64, false), 0);
	assert_memory_equal(page, full + PAGE - 8, 8);
	for (int i = 8; i < 64; i++)
		assert_int_equal(page[i], 0);
}

static void test_offset_beyond_page_is_invalid_field(void **state)
{
	struct dh *d = *state;

	assert_int_equal(get_disc_log(d->h, PAGE, 1024, false), ST_INVALID_FIELD);
	assert_int_equal(get_disc_log(d->h, 1ull << 40, 16, false), ST_INVALID_FIELD);
}

static void test_page_follows_host_and_state_changes(void **state)
{
	struct dh *d = *state;
	const struct nvmf_discovery_log *hdr = (const void *)page;

	/* another host sees B (both addresses) but not C */
	snprintf(d->h->ctrlr.hostnqn, sizeof(d->h->ctrlr.hostnqn), "%s", HOST_OTHER);
	assert_int_equal(get_disc_log(d->h, 0, PAGE + REC, false), 0);
	assert_int_equal(hdr->numrec, 2 + 1 + 2);
	assert_string_equal(rec(2)->subnqn, NQN_A);
	assert_string_equal(rec(3)->subnqn, NQN_B);
	assert_string_equal(rec(4)->subnqn, NQN_B);
	assert_int_equal(rec(4)->portid, 1);

	/* D started: now listed */
	d->d.state = NVMF_SS_ACTIVE;
	d->h->tgt.discovery_genctr = 43;
	assert_int_equal(get_disc_log(d->h, 0, 16, false), 0);
	assert_int_equal(hdr->genctr, 43);
	assert_int_equal(hdr->numrec, 6);
}

static void test_wildcard_and_ephemeral_listener(void **state)
{
	struct dh *d = *state;

	/* as the transport reports our side of the connection */
	listen_addr(&d->tl[0].addr, "0.0.0.0", "0");
	d->le[0].addr = d->tl[0].addr;
	assert_int_equal(get_disc_log(d->h, 0, PAGE, false), 0);
	assert_string_equal(rec(0)->traddr, "127.0.0.1");
	assert_string_equal(rec(0)->trsvcid, "34567");
	assert_string_equal(rec(2)->subnqn, NQN_A);
	assert_string_equal(rec(2)->traddr, "127.0.0.1");
}

struct fill_op {
	struct th *h;
	uint8_t *buf;
	uint64_t off;
	uint32_t len;
	uint64_t size;
};

static void fill_fn(void *arg)
{
	struct fill_op *op = arg;

	nvmf_discovery_log_fill(&op->h->ctrlr, op->buf, op->off, op->len);
	op->size = nvmf_discovery_log_build(&op->h->ctrlr, NULL, NULL, 0, 0);
}

static void test_fill_direct_window(void **state)
{
	struct dh *d = *state;
	static uint8_t full[PAGE], win[1500];
	struct fill_op op = { .h = d->h, .buf = full, .off = 0, .len = PAGE };

	th_run(d->h, fill_fn, &op);
	assert_int_equal(op.size, PAGE);
	op.buf = win;
	op.off = 700;
	op.len = sizeof(win);
	th_run(d->h, fill_fn, &op);
	assert_memory_equal(win, full + 700, sizeof(win));
}

static void test_discovery_log_only_on_discovery_ctrlr(void **state)
{
	struct dh *d = *state;

	d->h->ctrlr.ss = &d->a;
	assert_int_equal(get_disc_log(d->h, 0, 1024, false),
			 TH_ST_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_INVALID_LOG_PAGE));
}

struct referral_op {
	struct th *h;
	bool add;
	const char *traddr, *trsvcid, *subnqn;
	bool secure;
	int rc;
};

static void referral_fn(void *arg)
{
	struct referral_op *op = arg;
	struct nvmft_referral ref;

	memset(&ref, 0, sizeof(ref));
	assert_int_equal(nvmft_listen_addr_init(&ref.addr, op->traddr, op->trsvcid), 0);
	if (op->subnqn)
		snprintf(ref.subnqn, sizeof(ref.subnqn), "%s", op->subnqn);
	ref.secure_channel = op->secure;
	op->rc = op->add ? nvmft_tgt_add_referral(&op->h->tgt, &ref)
			 : nvmft_tgt_remove_referral(&op->h->tgt, &ref.addr, op->subnqn);
}

static void referrals_free_fn(void *arg)
{
	nvmf_tgt_referrals_free(arg);
}

static int referral(struct th *h, bool add, const char *traddr, const char *trsvcid,
		    const char *subnqn, bool secure)
{
	struct referral_op op = { .h = h, .add = add, .traddr = traddr,
				  .trsvcid = trsvcid, .subnqn = subnqn,
				  .secure = secure };

	th_run(h, referral_fn, &op);
	return op.rc;
}

/* Referrals come after every record, for every host, port IDs numbered
 * on after the listeners'; each change moves GENCTR on. */
static void test_referrals_come_last_with_their_fields(void **state)
{
	struct dh *d = *state;
	const struct nvmf_discovery_log *hdr = (const void *)page;
	const struct nvmf_disc_log_entry *e;

	TAILQ_INIT(&d->h->tgt.referrals);
	assert_int_equal(referral(d->h, true, "192.0.2.1", "8009", NULL, false), 0);
	assert_int_equal(referral(d->h, true, "2001:db8::1", "4420", NQN_B, true), 0);
	assert_int_equal(get_disc_log(d->h, 0, PAGE + 2 * REC, false), 0);
	assert_int_equal(hdr->genctr, 44);
	assert_int_equal(hdr->numrec, NREC + 2);
	assert_string_equal(rec(NREC - 1)->subnqn, NQN_C);
	e = rec(NREC);
	assert_int_equal(e->subtype, NVME_NQN_DISC);
	assert_string_equal(e->subnqn, NVMFT_DISCOVERY_NQN);
	assert_string_equal(e->traddr, "192.0.2.1");
	assert_string_equal(e->trsvcid, "8009");
	assert_int_equal(e->adrfam, NVMF_ADDR_FAMILY_IP4);
	assert_int_equal(e->treq, NVMF_TREQ_NOT_REQUIRED);
	assert_int_equal(e->portid, 2);
	assert_int_equal(e->cntlid, 0xffff);
	assert_int_equal(e->eflags, 0);
	e = rec(NREC + 1);
	assert_int_equal(e->subtype, NVME_NQN_NVME);
	assert_string_equal(e->subnqn, NQN_B);
	assert_int_equal(e->adrfam, NVMF_ADDR_FAMILY_IP6);
	assert_int_equal(e->treq, NVMF_TREQ_REQUIRED);
	assert_int_equal(e->portid, 3);

	/* another host sees them too */
	snprintf(d->h->ctrlr.hostnqn, sizeof(d->h->ctrlr.hostnqn), "%s", HOST_OTHER);
	assert_int_equal(get_disc_log(d->h, 0, 16, false), 0);
	assert_int_equal(hdr->numrec, 2 + 1 + 2 + 2);

	/* the same again: no change; removal needs the same NQN */
	assert_int_equal(referral(d->h, true, "192.0.2.1", "8009", NVMFT_DISCOVERY_NQN,
				  false), 0);
	assert_int_equal(referral(d->h, false, "2001:db8::1", "4420", NULL, false), -ENOENT);
	assert_int_equal(get_disc_log(d->h, 0, 16, false), 0);
	assert_int_equal(hdr->genctr, 44);
	assert_int_equal(referral(d->h, false, "2001:db8::1", "4420", NQN_B, false), 0);
	assert_int_equal(get_disc_log(d->h, 0, 16, false), 0);
	assert_int_equal(hdr->genctr, 45);
	assert_int_equal(hdr->numrec, 2 + 1 + 2 + 1);
	th_run(d->h, referrals_free_fn, &d->h->tgt);
}

static void test_referral_addresses_are_checked(void **state)
{
	struct dh *d = *state;

	TAILQ_INIT(&d->h->tgt.referrals);
	assert_int_equal(referral(d->h, true, "127.0.0.1", "0", NULL, false), -EINVAL);
	assert_int_equal(referral(d->h, true, "127.0.0.1", "8009", "bad nqn", false),
			 -EINVAL);
	assert_int_equal(d->h->tgt.nr_referrals, 0);
	for (int i = 0; i < NVMFT_MAX_REFERRALS; i++) {
		char port[8];

		snprintf(port, sizeof(port), "%d", 1000 + i);
		assert_int_equal(referral(d->h, true, "127.0.0.1", port, NULL, false), 0);
	}
	assert_int_equal(referral(d->h, true, "127.0.0.2", "8009", NULL, false), -ENOSPC);
	th_run(d->h, referrals_free_fn, &d->h->tgt);
	assert_int_equal(d->h->tgt.nr_referrals, 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, dsetup, dteardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_header_and_host_filtering),
		T(test_entry_fields),
		T(test_window_matches_full_page),
		T(test_offset_beyond_page_is_invalid_field),
		T(test_page_follows_host_and_state_changes),
		T(test_wildcard_and_ephemeral_listener),
		T(test_fill_direct_window),
		T(test_referrals_come_last_with_their_fields),
		T(test_referral_addresses_are_checked),
		T(test_discovery_log_only_on_discovery_ctrlr),
	};

	return cmocka_run_group_tests_name("nvmf_discovery", tests, NULL, NULL);
}
