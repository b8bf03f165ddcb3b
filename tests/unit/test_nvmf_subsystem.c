// SPDX-License-Identifier: MIT
/*
 * Subsystems: NQN/serial/model validation, the discovery subsystem, the
 * host ACL, namespaces (nsid allocation, limits, bdev removal), the
 * discovery generation counter, destroy.
 */
#include "test_nvmf_core.h"

static void test_nqn_validation(void **state)
{
	char longnqn[NVMFT_NQN_MAX_LEN + 2];
	size_t n;

	assert_true(nvmft_nqn_valid(NVMFT_DISCOVERY_NQN));
	assert_true(nvmft_nqn_valid("nqn.2024-01.io.nvmft:sub1"));
	assert_true(nvmft_nqn_valid("nqn.2016-06.io.spdk:cnode1"));
	assert_true(nvmft_nqn_valid(TC_HOSTNQN));
	assert_false(nvmft_nqn_valid(NULL));
	assert_false(nvmft_nqn_valid(""));
	assert_false(nvmft_nqn_valid("iqn.2024-01.io.nvmft:x"));
	assert_false(nvmft_nqn_valid("nqn.24-01.io.nvmft:x"));
	assert_false(nvmft_nqn_valid("nqn.2024-13.io.nvmft:x"));	/* month 13 */
	assert_false(nvmft_nqn_valid("nqn.2024-01.:x"));		/* no domain */
	assert_false(nvmft_nqn_valid("nqn.2024-01.io..nvmft:x"));
	assert_false(nvmft_nqn_valid("nqn.2024-01.io.nvmft:"));	/* empty user part */
	assert_false(nvmft_nqn_valid("nqn.2024-01.io_nvmft:x"));
	assert_false(nvmft_nqn_valid("nqn.2014-08.org.nvmexpress:uuid:1234"));
	assert_false(nvmft_nqn_valid("nqn.2014-08.org.nvmexpress:uuid:"
				     "11111111-2222-3333-4444-55555555555g"));
	/* 223 bytes is the limit */
	memset(longnqn, 0, sizeof(longnqn));
	n = snprintf(longnqn, sizeof(longnqn), "nqn.2024-01.io.nvmft:");
	memset(longnqn + n, 'a', NVMFT_NQN_MAX_LEN - n);
	assert_true(nvmft_nqn_valid(longnqn));
	longnqn[NVMFT_NQN_MAX_LEN] = 'a';
	assert_false(nvmft_nqn_valid(longnqn));
}

struct create_args {
	struct nvmft_tgt *tgt;
	int rc[10];
	char serial[2][NVMFT_SERIAL_MAX_LEN + 1];
	char model[NVMFT_MODEL_MAX_LEN + 1];
	struct nvmft_subsystem *ss;
};

static int create(struct nvmft_tgt *tgt, const char *nqn, const char *serial,
		  const char *model, struct nvmft_subsystem **out)
{
	struct nvmft_subsystem_opts o;
	struct nvmft_subsystem *ss;

	nvmft_subsystem_opts_init(&o);
	o.nqn = nqn;
	o.serial = serial;
	o.model = model;
	return nvmft_subsystem_create(tgt, &o, out ? out : &ss);
}

static void create_fn(void *arg)
{
	struct create_args *a = arg;

	a->rc[0] = create(a->tgt, "bad", NULL, NULL, NULL);
	a->rc[1] = create(a->tgt, TC_NQN, NULL, NULL, &a->ss);
	a->rc[2] = create(a->tgt, TC_NQN, NULL, NULL, NULL);
	a->rc[3] = create(a->tgt, NVMFT_DISCOVERY_NQN, NULL, NULL, NULL);
	a->rc[4] = create(a->tgt, TC_NQN "2", "bad\tserial", NULL, NULL);
	a->rc[5] = create(a->tgt, TC_NQN "2", "123456789012345678901", NULL, NULL);
	a->rc[6] = create(a->tgt, TC_NQN "2", NULL, "", NULL);
	a->rc[7] = create(a->tgt, TC_NQN "2", "SN-1", "Model X", NULL);
	snprintf(a->serial[0], sizeof(a->serial[0]), "%s", a->ss->serial);
	snprintf(a->model, sizeof(a->model), "%s", a->ss->model);
}

static void test_subsystem_create_validates(void **state)
{
	struct tc *tc = *state;
	struct create_args a = { .tgt = tc->tgt };
	size_t i;

	TC_ON_APP(tc, create_fn, &a);
	assert_int_equal(a.rc[0], -EINVAL);
	assert_int_equal(a.rc[1], 0);
	assert_int_equal(a.rc[2], -EEXIST);
	assert_int_equal(a.rc[3], -EEXIST);
	assert_int_equal(a.rc[4], -EINVAL);
	assert_int_equal(a.rc[5], -EINVAL);
	assert_int_equal(a.rc[6], -EINVAL);
	assert_int_equal(a.rc[7], 0);
	/* default serial: printable, from the NQN; default model */
	assert_true(strlen(a.serial[0]) > 0);
	for (i = 0; i < strlen(a.serial[0]); i++)
		assert_true(a.serial[0][i] > 0x20 && a.serial[0][i] < 0x7f);
	assert_string_equal(a.model, "nvmft");
}

static void serial_fn(void *arg)
{
	struct create_args *a = arg;
	struct nvmft_subsystem *ss;

	a->rc[0] = create(a->tgt, TC_NQN, NULL, NULL, &ss);
	snprintf(a->serial[1], sizeof(a->serial[1]), "%s", ss->serial);
}

/* The default serial depends on the NQN only (two targets agree). */
static void test_default_serial_is_stable(void **state)
{
	struct tc *tc = *state;
	struct nvmft_tgt *tgt2 = fake_transport_tgt_new(tc->rt, NULL);
	struct create_args a = { .tgt = tc->tgt }, b = { .tgt = tgt2 };

	assert_non_null(tgt2);
	TC_ON_APP(tc, serial_fn, &a);
	TC_ON_APP(tc, serial_fn, &b);
	assert_int_equal(a.rc[0], 0);
	assert_int_equal(b.rc[0], 0);
	assert_string_equal(a.serial[1], b.serial[1]);
	assert_int_equal(fake_transport_tgt_free(tc->rt, tgt2), 0);
}

struct limit_args {
	struct nvmft_runtime *rt;
	int rc[3];
	struct nvmft_tgt *tgt;
};

static void limit_fn(void *arg)
{
	struct limit_args *a = arg;
	struct nvmft_tgt_opts o;

	nvmft_tgt_opts_init(&o);
	o.max_subsystems = 1;
	a->rc[0] = nvmft_tgt_create(a->rt, &o, &a->tgt);
	a->rc[1] = create(a->tgt, TC_NQN, NULL, NULL, NULL);
	a->rc[2] = create(a->tgt, TC_NQN "2", NULL, NULL, NULL);
}

static void test_max_subsystems_is_enospc(void **state)
{
	struct tc *tc = *state;
	struct limit_args a = { .rt = tc->rt };

	TC_ON_APP(tc, limit_fn, &a);
	assert_int_equal(a.rc[0], 0);
	assert_int_equal(a.rc[1], 0);
	assert_int_equal(a.rc[2], -ENOSPC);
	assert_int_equal(fake_transport_tgt_free(tc->rt, a.tgt), 0);
}

struct walk_args {
	struct nvmft_tgt *tgt;
	int n;
	bool first_is_discovery;
	int destroy_discovery_rc;
	int start_twice_rc;
	bool found;
};

static int count_fn(struct nvmft_subsystem *ss, void *arg)
{
	struct walk_args *w = arg;

	if (w->n++ == 0)
		w->first_is_discovery = nvmft_subsystem_is_discovery(ss) &&
					!strcmp(nvmft_subsystem_nqn(ss), NVMFT_DISCOVERY_NQN);
	return 0;
}

static void walk_fn(void *arg)
{
	struct walk_args *w = arg;
	struct nvmft_subsystem *d = nvmft_subsystem_find(w->tgt, NVMFT_DISCOVERY_NQN);
	struct nvmft_subsystem *ss = nvmft_subsystem_find(w->tgt, TC_NQN);

	nvmft_subsystem_foreach(w->tgt, count_fn, w);
	w->destroy_discovery_rc = nvmft_subsystem_destroy(d, NULL, NULL);
	w->start_twice_rc = nvmft_subsystem_start(ss, NULL, NULL);
	w->found = ss != NULL;
}

static void test_discovery_subsystem_exists_and_stays(void **state)
{
	struct tc *tc = *state;
	struct walk_args w = { .tgt = tc->tgt };

	tc_ss(tc, tc->tgt, TC_NQN, true, true);
	TC_ON_APP(tc, walk_fn, &w);
	assert_int_equal(w.n, 2);
	assert_true(w.first_is_discovery);
	assert_int_equal(w.destroy_discovery_rc, -EINVAL);
	assert_int_equal(w.start_twice_rc, -EALREADY);
	assert_true(w.found);
}

struct host_args {
	struct nvmft_subsystem *ss;
	int rc[6];
	bool allowed[4];
};

static void hosts_fn(void *arg)
{
	struct host_args *h = arg;

	h->allowed[0] = nvmft_subsystem_host_allowed(h->ss, TC_HOSTNQN);
	h->rc[0] = nvmft_subsystem_add_host(h->ss, TC_HOSTNQN);
	h->rc[1] = nvmft_subsystem_add_host(h->ss, TC_HOSTNQN);
	h->rc[2] = nvmft_subsystem_add_host(h->ss, "not-an-nqn");
	h->allowed[1] = nvmft_subsystem_host_allowed(h->ss, TC_HOSTNQN);
	h->allowed[2] = nvmft_subsystem_host_allowed(h->ss, TC_HOSTNQN2);
	h->rc[3] = nvmft_subsystem_remove_host(h->ss, TC_HOSTNQN);
	h->rc[4] = nvmft_subsystem_remove_host(h->ss, TC_HOSTNQN);
	nvmft_subsystem_set_allow_any_host(h->ss, true);
	h->allowed[3] = nvmft_subsystem_host_allowed(h->ss, TC_HOSTNQN2);
}

static void test_host_acl(void **state)
{
	struct tc *tc = *state;
	struct host_args h = { .ss = tc_ss(tc, tc->tgt, TC_NQN, false, false) };

	TC_ON_APP(tc, hosts_fn, &h);
	assert_false(h.allowed[0]);
	assert_int_equal(h.rc[0], 0);
	assert_int_equal(h.rc[1], -EEXIST);
	assert_int_equal(h.rc[2], -EINVAL);
	assert_true(h.allowed[1]);
	assert_false(h.allowed[2]);
	assert_int_equal(h.rc[3], 0);
	assert_int_equal(h.rc[4], -ENOENT);
	assert_true(h.allowed[3]);
}

struct genctr_args {
	struct nvmft_tgt *tgt;
	uint64_t g[8];
};

static void genctr_fn(void *arg)
{
	struct genctr_args *a = arg;
	struct nvmft_listen_addr addr;
	struct nvmft_subsystem *ss;

	nvmft_listen_addr_init(&addr, "127.0.0.1", "4420");
	snprintf(addr.trtype, sizeof(addr.trtype), "FAKE");
	a->g[0] = a->tgt->discovery_genctr;
	create(a->tgt, TC_NQN, NULL, NULL, &ss);
	a->g[1] = a->tgt->discovery_genctr;
	nvmft_subsystem_add_listener(ss, &addr);
	a->g[2] = a->tgt->discovery_genctr;
	nvmft_subsystem_add_host(ss, TC_HOSTNQN);
	a->g[3] = a->tgt->discovery_genctr;
	nvmft_subsystem_remove_host(ss, TC_HOSTNQN);
	a->g[4] = a->tgt->discovery_genctr;
	nvmft_subsystem_remove_listener(ss, &addr);
	a->g[5] = a->tgt->discovery_genctr;
	nvmft_subsystem_destroy(ss, NULL, NULL);
	a->g[6] = a->tgt->discovery_genctr;
}

static void test_discovery_genctr_bumps(void **state)
{
	struct tc *tc = *state;
	struct genctr_args a = { .tgt = tc->tgt };
	int i;

	TC_ON_APP(tc, genctr_fn, &a);
	for (i = 1; i <= 6; i++)
		assert_true(a.g[i] > a.g[i - 1]);
}

/* --- namespaces ---------------------------------------------------------- */

struct ns_args {
	struct nvmft_subsystem *ss, *other;
	int rc[10];
	uint32_t nsid[6];
};

static int add(struct nvmft_subsystem *ss, const char *bdev, uint32_t want, uint32_t *got)
{
	struct nvmft_ns_opts o = { .bdev_name = bdev, .nsid = want };

	return nvmft_subsystem_add_ns(ss, &o, got, NULL, NULL);
}

static void ns_fn(void *arg)
{
	struct ns_args *a = arg;
	uint32_t dummy;

	a->rc[0] = add(a->ss, "b0", 0, &a->nsid[0]);	/* → 1 */
	a->rc[1] = add(a->ss, "b1", 3, &a->nsid[1]);	/* → 3 */
	a->rc[2] = add(a->ss, "b2", 0, &a->nsid[2]);	/* lowest free: 2 */
	a->rc[3] = add(a->ss, "b3", 3, &dummy);		/* -EEXIST */
	a->rc[4] = add(a->ss, "nope", 0, &dummy);	/* -ENOENT */
	a->rc[5] = add(a->other, "b0", 0, &dummy);	/* -EBUSY */
	a->rc[6] = add(a->ss, "b3", 5, &dummy);		/* > max (4): -EINVAL */
	a->rc[7] = add(a->ss, "b3", 0, &a->nsid[3]);	/* → 4, full now */
	a->rc[8] = add(a->ss, "b4", 0, &dummy);		/* -ENOSPC */
	a->rc[9] = nvmft_subsystem_remove_ns(a->ss, 2, NULL, NULL);
	a->nsid[4] = (uint32_t)nvmft_subsystem_remove_ns(a->ss, 2, NULL, NULL);
	add(a->ss, "b4", 0, &a->nsid[5]);		/* reuses 2 */
}

static void mk_ss_fn(void *arg)
{
	struct ns_args *a = arg;
	struct nvmft_subsystem_opts o;

	nvmft_subsystem_opts_init(&o);
	o.nqn = TC_NQN;
	o.max_namespaces = 4;
	assert_int_equal(nvmft_subsystem_create(a->other->tgt, &o, &a->ss), 0);
}

static void test_namespace_ids_and_limits(void **state)
{
	struct tc *tc = *state;
	struct ns_args a = { 0 };
	int i;

	for (i = 0; i < 5; i++) {
		char name[8];

		snprintf(name, sizeof(name), "b%d", i);
		tc_bdev(tc, name, 64);
	}
	a.other = tc_ss(tc, tc->tgt, TC_NQN "-other", true, true);
	TC_ON_APP(tc, mk_ss_fn, &a);
	TC_ON_APP(tc, ns_fn, &a);
	assert_int_equal(a.rc[0], 0);
	assert_int_equal(a.nsid[0], 1);
	assert_int_equal(a.rc[1], 0);
	assert_int_equal(a.nsid[1], 3);
	assert_int_equal(a.rc[2], 0);
	assert_int_equal(a.nsid[2], 2);
	assert_int_equal(a.rc[3], -EEXIST);
	assert_int_equal(a.rc[4], -ENOENT);
	assert_int_equal(a.rc[5], -EBUSY);
	assert_int_equal(a.rc[6], -EINVAL);
	assert_int_equal(a.rc[7], 0);
	assert_int_equal(a.nsid[3], 4);
	assert_int_equal(a.rc[8], -ENOSPC);
	assert_int_equal(a.rc[9], 0);
	assert_int_equal((int)a.nsid[4], -ENOENT);
	assert_int_equal(a.nsid[5], 2);
}

struct ns_view {
	struct nvmft_subsystem *ss;
	uint32_t nsid;
	bool present;
	struct fake_transport_waiter w;
	int rc;
};

static void ns_present_fn(void *arg)
{
	struct ns_view *v = arg;

	v->present = nvmf_ss_get_ns(v->ss, v->nsid) != NULL;
}

static void bdev_delete_fn(void *arg)
{
	struct ns_view *v = arg;

	v->rc = nvmft_bdev_delete(nvmft_tgt_get_bdevs(v->ss->tgt), "gone",
				  fake_transport_done, &v->w);
}

static bool ns_absent_everywhere(void *arg)
{
	struct ns_view *v = arg;
	struct ns_view r1 = *v;
	bool app;

	/* run the lookup on the app reactor, then on reactor 1 (sgroup view) */
	fake_transport_on_app(v->ss->tgt->rt, ns_present_fn, v);
	app = v->present;
	nvmft_runtime_exec(v->ss->tgt->rt, 1, ns_present_fn, &r1);
	return !app && !r1.present;
}

/* Deleting the bdev removes the namespace on every reactor. */
static void test_bdev_removal_removes_namespace(void **state)
{
	struct tc *tc = *state;
	struct ns_view v = { .nsid = 0 };
	struct ns_view r1;

	tc_bdev(tc, "gone", 64);
	v.ss = tc_ss(tc, tc->tgt, TC_NQN, true, true);
	assert_int_equal(tc_ns(tc, v.ss, "gone", &v.nsid, false), 0);
	assert_int_equal(v.nsid, 1);
	r1 = v;
	tc_on(tc, 1, ns_present_fn, &r1);
	assert_true(r1.present);
	TC_ON_APP(tc, bdev_delete_fn, &v);
	assert_int_equal(v.rc, 0);
	assert_int_equal(fake_transport_wait(&v.w, TC_WAIT_US), 0);
	assert_true(tc_wait_true(ns_absent_everywhere, &v, TC_WAIT_US));
}

struct destroy_args {
	struct nvmft_tgt *tgt;
	struct nvmft_subsystem *ss;
	struct fake_transport_waiter w;
	int rc;
	bool found;
};

static void destroy_fn(void *arg)
{
	struct destroy_args *d = arg;

	d->rc = nvmft_subsystem_destroy(d->ss, fake_transport_done, &d->w);
	d->found = nvmft_subsystem_find(d->tgt, TC_NQN) != NULL;
}

/* Destroy disconnects the controllers and frees namespaces; the NQN is free. */
static void test_subsystem_destroy_with_controller(void **state)
{
	struct tc *tc = *state;
	struct destroy_args d = { .tgt = tc->tgt };
	struct fake_qpair *aq, *ioq;
	uint32_t nsid = 0;
	uint16_t cntlid;

	tc_bdev(tc, "d0", 64);
	d.ss = tc_ss(tc, tc->tgt, TC_NQN, true, true);
	assert_int_equal(tc_ns(tc, d.ss, "d0", &nsid, false), 0);
	aq = fake_transport_admin_connect(tc->rt, tc->tgt, 0, TC_NQN, TC_HOSTNQN, 0, &cntlid);
	ioq = fake_transport_io_connect(tc->rt, tc->tgt, 1, TC_NQN, TC_HOSTNQN, cntlid, 1);
	assert_non_null(ioq);
	TC_ON_APP(tc, destroy_fn, &d);
	assert_int_equal(d.rc, 0);
	assert_false(d.found);
	assert_int_equal(fake_transport_wait(&d.w, TC_WAIT_US), 0);
	assert_true(fake_transport_wait_closed(aq, TC_WAIT_US));
	assert_true(fake_transport_wait_closed(ioq, TC_WAIT_US));
	/* same NQN and bdev again */
	d.ss = tc_ss(tc, tc->tgt, TC_NQN, true, true);
	nsid = 0;
	assert_int_equal(tc_ns(tc, d.ss, "d0", &nsid, false), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tc_setup, tc_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nqn_validation),
		T(test_subsystem_create_validates),
		T(test_default_serial_is_stable),
		T(test_max_subsystems_is_enospc),
		T(test_discovery_subsystem_exists_and_stays),
		T(test_host_acl),
		T(test_discovery_genctr_bumps),
		T(test_namespace_ids_and_limits),
		T(test_bdev_removal_removes_namespace),
		T(test_subsystem_destroy_with_controller),
	};

	return cmocka_run_group_tests_name("nvmf_subsystem", tests, NULL, NULL);
}
