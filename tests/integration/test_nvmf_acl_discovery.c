/* SPDX-License-Identifier: MIT */
/*
 * Host access control and discovery over the real path (2 reactors,
 * io_uring and epoll):
 * - a subsystem without allow-any-host refuses an unknown host NQN with
 *   Connect Invalid Host (SCT 1h, SC 84h), admits it once added, refuses new
 *   connects again once removed;
 * - the discovery log read through the host library lists the discovery
 *   subsystem and the started NVM subsystems the host may see (ACL
 *   filtered) on their listeners; its generation counter moves when a
 *   subsystem, a listener or a host is added, and a discovery controller
 *   with the Discovery Log Change event enabled gets the AEN.
 */
#include "nvmf_harness.h"

#define NQN_OPEN	"nqn.2026-11.io.nvmft:open"
#define NQN_ACL		"nqn.2026-11.io.nvmft:acl"
#define NQN_IDLE	"nqn.2026-11.io.nvmft:not-started"
#define NQN_LATE	"nqn.2026-11.io.nvmft:late"
#define HOST_A		"nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-0000-0000-0000-000000000001"
#define HOST_B		"nqn.2014-08.org.nvmexpress:uuid:bbbbbbbb-0000-0000-0000-000000000002"

struct env {
	struct nh h;
	struct nvmft_subsystem *open, *acl, *idle;
	struct nvmft_listen_addr extra;
	bool extra_added;
};

static void step_create_idle(void *arg)
{
	struct env *e = arg;
	struct nvmft_subsystem_opts so;
	int rc;

	nvmft_subsystem_opts_init(&so);
	so.nqn = NQN_IDLE;
	so.allow_any_host = true;
	rc = nvmft_subsystem_create(e->h.t.tgt, &so, &e->idle);
	if (!rc)
		rc = nvmft_subsystem_add_listener(e->idle, &e->h.addr);
	nh_step_finish(&e->h, rc);
}

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
		rc = nh_malloc(&e->h, "Open0", 4u * 1024 * 1024 / 512, 512);
	if (!rc)
		rc = nh_malloc(&e->h, "Acl0", 4u * 1024 * 1024 / 512, 512);
	if (!rc)
		rc = nh_simple_subsystem(&e->h, NQN_OPEN, &e->open);
	if (!rc)
		rc = nh_add_ns(&e->h, e->open, "Open0", 1, NULL);
	if (rc)
		return -1;
	nvmft_subsystem_opts_init(&so);
	so.nqn = NQN_ACL;
	so.allow_any_host = false;
	rc = nh_subsystem(&e->h, &so, &e->acl);
	if (!rc)
		rc = nh_add_ns(&e->h, e->acl, "Acl0", 1, NULL);
	/* created and listed on the listener, never started: invisible */
	if (!rc)
		rc = nh_run(&e->h, step_create_idle);
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

/* ---- ACL ------------------------------------------------------------------------ */

static uint16_t raw_connect_status(struct env *e, const char *subnqn,
				   const char *hostnqn, uint32_t *result)
{
	uint16_t status = 0xffff;

	assert_int_equal(nh_raw_connect(&e->h, subnqn, hostnqn, 0, 0xffff, &status,
					result, NULL), 0);
	return status;
}

static int lib_connect(struct env *e, const char *subnqn, const char *hostnqn,
		       struct nvmft_host_ctrlr **c)
{
	struct nvmft_host_opts o;

	nh_host_opts(&e->h, &o, subnqn);
	o.hostnqn = hostnqn;
	*c = NULL;
	return nvmft_host_ctrlr_connect(&o, c);
}

static void test_unknown_host_refused_with_connect_invalid_host(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c;
	uint32_t result = 0;
	uint16_t st = raw_connect_status(e, NQN_ACL, HOST_A, &result);

	assert_int_equal(NVMFT_STATUS_SCT(st), NVME_SCT_CMD_SPECIFIC);
	assert_int_equal(NVMFT_STATUS_SC(st), 0x84);
	assert_int_equal(NH_ST(st), NH_CONNECT_INVALID_HOST);
	/* through the host library: the connect is rejected */
	assert_int_equal(lib_connect(e, NQN_ACL, HOST_A, &c), -ECONNABORTED);
	assert_null(c);
	/* nothing is left of the refused attempts */
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
	/* the open subsystem of the same target takes that host */
	assert_int_equal(raw_connect_status(e, NQN_OPEN, HOST_A, NULL), 0);
}

static void test_added_host_admitted_then_refused_after_removal(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c, *c2;

	assert_int_equal(nh_add_host(&e->h, e->acl, HOST_A), 0);
	assert_int_equal(raw_connect_status(e, NQN_ACL, HOST_A, NULL), 0);
	assert_int_equal(lib_connect(e, NQN_ACL, HOST_A, &c), 0);
	nh_write_read_verify(nvmft_host_ctrlr_io_qpair(c, 0), 1, 512, 0, 65536, 1);
	/* another host is still refused */
	assert_int_equal(NH_ST(raw_connect_status(e, NQN_ACL, HOST_B, NULL)),
			 NH_CONNECT_INVALID_HOST);

	assert_int_equal(nh_remove_host(&e->h, e->acl, HOST_A), 0);
	assert_int_equal(NH_ST(raw_connect_status(e, NQN_ACL, HOST_A, NULL)),
			 NH_CONNECT_INVALID_HOST);
	assert_int_equal(lib_connect(e, NQN_ACL, HOST_A, &c2), -ECONNABORTED);
	nvmft_host_ctrlr_disconnect(c);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

static void step_allow_any(void *arg)
{
	struct env *e = arg;

	nvmft_subsystem_set_allow_any_host(e->acl, e->h.a_nsid != 0);
	nh_step_finish(&e->h, 0);
}

static void test_allow_any_host_toggle(void **state)
{
	struct env *e = *state;

	e->h.a_nsid = 1;
	assert_int_equal(nh_run(&e->h, step_allow_any), 0);
	assert_int_equal(raw_connect_status(e, NQN_ACL, HOST_B, NULL), 0);
	e->h.a_nsid = 0;
	assert_int_equal(nh_run(&e->h, step_allow_any), 0);
	assert_int_equal(NH_ST(raw_connect_status(e, NQN_ACL, HOST_B, NULL)),
			 NH_CONNECT_INVALID_HOST);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

static void test_host_list_api_errors(void **state)
{
	struct env *e = *state;

	assert_int_equal(nh_add_host(&e->h, e->acl, "not an nqn"), -EINVAL);
	assert_int_equal(nh_add_host(&e->h, e->acl, HOST_B), 0);
	assert_int_equal(nh_add_host(&e->h, e->acl, HOST_B), -EEXIST);
	assert_int_equal(nh_remove_host(&e->h, e->acl, HOST_B), 0);
	assert_int_equal(nh_remove_host(&e->h, e->acl, HOST_B), -ENOENT);
}

/* ---- discovery -------------------------------------------------------------------- */

static void discover(struct env *e, const char *hostnqn,
		     struct nvmft_host_disc_entry **ent, unsigned int *nr,
		     uint64_t *genctr)
{
	struct nvmft_host_opts o;

	nh_host_opts(&e->h, &o, NULL);
	o.hostnqn = hostnqn;
	assert_int_equal(nvmft_host_discover(&o, ent, nr, genctr), 0);
}

/* Records of @nqn in the log (and that each is well formed). */
static unsigned int count_nqn(const struct nvmft_host_disc_entry *ent, unsigned int nr,
			      const char *nqn, const char *port)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < nr; i++) {
		if (strcmp(ent[i].subnqn, nqn))
			continue;
		assert_int_equal(ent[i].trtype, NVMF_TRTYPE_TCP);
		assert_int_equal(ent[i].adrfam, NVMF_ADDR_FAMILY_IP4);
		assert_string_equal(ent[i].traddr, "127.0.0.1");
		assert_int_equal(ent[i].subtype, strcmp(nqn, NVMFT_DISCOVERY_NQN) ?
				 NVME_NQN_NVME : NVME_NQN_CURR);
		if (!port || !strcmp(ent[i].trsvcid, port))
			n++;
	}
	return n;
}

static void test_discovery_log_lists_what_the_host_may_see(void **state)
{
	struct env *e = *state;
	struct nvmft_host_disc_entry *ent;
	unsigned int nr;
	uint64_t gen;
	const char *port = e->h.t.port_str;

	/* HOST_B: not admitted to NQN_ACL */
	discover(e, HOST_B, &ent, &nr, &gen);
	assert_int_equal(count_nqn(ent, nr, NVMFT_DISCOVERY_NQN, port), 1);
	assert_int_equal(count_nqn(ent, nr, NQN_OPEN, port), 1);
	assert_int_equal(count_nqn(ent, nr, NQN_ACL, NULL), 0);
	assert_int_equal(count_nqn(ent, nr, NQN_IDLE, NULL), 0);
	assert_int_equal(nr, 2);
	nvmft_host_disc_free(ent);

	/* once admitted, NQN_ACL shows for HOST_B, on the same port */
	assert_int_equal(nh_add_host(&e->h, e->acl, HOST_B), 0);
	discover(e, HOST_B, &ent, &nr, NULL);
	assert_int_equal(count_nqn(ent, nr, NQN_ACL, port), 1);
	assert_int_equal(nr, 3);
	nvmft_host_disc_free(ent);
	/* and still not for HOST_A */
	discover(e, HOST_A, &ent, &nr, NULL);
	assert_int_equal(count_nqn(ent, nr, NQN_ACL, NULL), 0);
	assert_int_equal(nr, 2);
	nvmft_host_disc_free(ent);
	assert_int_equal(nh_remove_host(&e->h, e->acl, HOST_B), 0);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd < 0)
		return -1;
	if (!bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &l))
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void step_add_extra_listener(void *arg)
{
	struct env *e = arg;

	nh_step_finish(&e->h, nvmft_subsystem_add_listener(e->open, &e->extra));
}

static uint64_t read_genctr(struct env *e)
{
	struct nvmft_host_disc_entry *ent;
	unsigned int nr;
	uint64_t gen;

	discover(e, HOST_A, &ent, &nr, &gen);
	nvmft_host_disc_free(ent);
	return gen;
}

static void test_genctr_moves_on_subsystem_listener_and_host_changes(void **state)
{
	struct env *e = *state;
	struct nvmft_host_disc_entry *ent;
	struct nvmft_subsystem *late = NULL;
	unsigned int nr;
	uint64_t g0, g1, g2, g3, g4;
	char port[16];
	int p;

	g0 = read_genctr(e);
	assert_int_equal(read_genctr(e), g0);		/* nothing changed */

	/* a new subsystem */
	assert_int_equal(nh_simple_subsystem(&e->h, NQN_LATE, &late), 0);
	discover(e, HOST_A, &ent, &nr, &g1);
	assert_true(g1 != g0);
	assert_int_equal(count_nqn(ent, nr, NQN_LATE, e->h.t.port_str), 1);
	nvmft_host_disc_free(ent);

	/* a new listener of NQN_OPEN (a second port) */
	p = free_port();
	assert_true(p > 0);
	snprintf(port, sizeof(port), "%d", p);
	assert_int_equal(nvmft_listen_addr_init(&e->extra, "127.0.0.1", port), 0);
	assert_int_equal(nh_run(&e->h, step_add_extra_listener), 0);
	discover(e, HOST_A, &ent, &nr, &g2);
	assert_true(g2 != g1);
	assert_int_equal(count_nqn(ent, nr, NQN_OPEN, port), 1);
	assert_int_equal(count_nqn(ent, nr, NQN_OPEN, e->h.t.port_str), 1);
	nvmft_host_disc_free(ent);
	/* and it serves: connect through the port the log gave */
	{
		struct nvmft_host_opts o;
		struct nvmft_host_ctrlr *c = NULL;

		nh_host_opts(&e->h, &o, NQN_OPEN);
		o.trsvcid = port;
		assert_int_equal(nvmft_host_ctrlr_connect(&o, &c), 0);
		nh_write_read_verify(nvmft_host_ctrlr_io_qpair(c, 0), 1, 512, 16, 4096, 5);
		nvmft_host_ctrlr_disconnect(c);
	}

	/* a host added to an ACL */
	assert_int_equal(nh_add_host(&e->h, e->acl, HOST_A), 0);
	g3 = read_genctr(e);
	assert_true(g3 != g2);
	assert_int_equal(nh_remove_host(&e->h, e->acl, HOST_A), 0);
	g4 = read_genctr(e);
	assert_true(g4 != g3);

	/* a subsystem removed */
	assert_int_equal(nh_ss_destroy(&e->h, late), 0);
	discover(e, HOST_A, &ent, &nr, &g1);
	assert_true(g1 != g4);
	assert_int_equal(count_nqn(ent, nr, NQN_LATE, NULL), 0);
	nvmft_host_disc_free(ent);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

static void test_discovery_controller_gets_log_change_aen(void **state)
{
	struct env *e = *state;
	struct nvmft_host_opts o;
	struct nvmft_host_ctrlr *c = NULL;
	struct nvmft_host_qpair *admin;
	struct nvmft_host_disc_entry *ent;
	struct nvmft_sqe sqe;
	struct nh_slot aer;
	struct nvmft_subsystem *late = NULL;
	unsigned int nr;
	uint64_t g0, g1;

	nh_host_opts(&e->h, &o, NVMFT_DISCOVERY_NQN);
	o.hostnqn = HOST_A;
	o.num_io_queues = 0;
	assert_int_equal(nvmft_host_ctrlr_connect(&o, &c), 0);
	admin = nvmft_host_ctrlr_admin_qpair(c);
	assert_int_equal(nvmft_host_ctrlr_id(c)->cntrltype, NVME_CTRL_CNTRLTYPE_DISCOVERY);
	assert_int_equal(nvmft_host_get_discovery_log(c, &ent, &nr, &g0), 0);
	nvmft_host_disc_free(ent);
	/* enable Discovery Log Page Change notices, post an AER */
	assert_int_equal(nvmft_host_set_features(c, NVME_FEAT_FID_ASYNC_EVENT,
						 1u << 31, false, NULL), 0);
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_async_event;
	memset(&aer, 0, sizeof(aer));
	assert_int_equal(nvmft_host_submit(admin, &sqe, NULL, 0, NVMFT_HOST_DIR_NONE,
					   nh_slot_cb, &aer), 0);
	assert_int_equal(nvmft_host_qpair_wait(admin, &aer.done, 300), -ETIMEDOUT);

	assert_int_equal(nh_simple_subsystem(&e->h, NQN_LATE, &late), 0);
	assert_int_equal(nvmft_host_qpair_wait(admin, &aer.done, 5000), 0);
	assert_int_equal(aer.status, 0);
	assert_int_equal(aer.result & 0x7, NVME_AER_NOTICE);
	assert_int_equal((aer.result >> 8) & 0xff, NVME_AER_NOTICE_DISC_CHANGED);
	assert_int_equal((aer.result >> 16) & 0xff, NVME_LOG_LID_DISCOVER);
	assert_int_equal(nvmft_host_get_discovery_log(c, &ent, &nr, &g1), 0);
	assert_true(g1 != g0);
	assert_int_equal(count_nqn(ent, nr, NQN_LATE, e->h.t.port_str), 1);
	nvmft_host_disc_free(ent);
	nvmft_host_ctrlr_disconnect(c);
	assert_int_equal(nh_ss_destroy(&e->h, late), 0);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

/* 48 more subsystems: a log of 50 KiB, read in several windows. */
static void test_discovery_log_larger_than_one_read(void **state)
{
	struct env *e = *state;
	struct nvmft_subsystem *ss[48];
	struct nvmft_host_disc_entry *ent;
	char nqn[48][64];
	unsigned int nr, base;
	uint64_t gen;

	discover(e, HOST_A, &ent, &base, NULL);
	nvmft_host_disc_free(ent);
	for (int i = 0; i < 48; i++) {
		snprintf(nqn[i], sizeof(nqn[i]), "nqn.2026-11.io.nvmft:many-%02d", i);
		assert_int_equal(nh_simple_subsystem(&e->h, nqn[i], &ss[i]), 0);
	}
	discover(e, HOST_A, &ent, &nr, &gen);
	assert_int_equal(nr, base + 48);
	for (int i = 0; i < 48; i++)
		assert_int_equal(count_nqn(ent, nr, nqn[i], e->h.t.port_str), 1);
	nvmft_host_disc_free(ent);
	for (int i = 0; i < 48; i++)
		assert_int_equal(nh_ss_destroy(&e->h, ss[i]), 0);
	discover(e, HOST_A, &ent, &nr, NULL);
	assert_int_equal(nr, base);
	nvmft_host_disc_free(ent);
}

static void test_connect_to_discovery_nqn_lists_without_io_queues(void **state)
{
	struct env *e = *state;
	uint16_t st;

	/* an I/O queue Connect to the discovery subsystem is refused */
	assert_int_equal(nh_raw_connect(&e->h, NVMFT_DISCOVERY_NQN, HOST_A, 1, 1, &st,
					NULL, NULL), 0);
	assert_int_not_equal(st, 0);
	assert_int_equal(nh_wait_state(&e->h, 0, 0, NH_WAIT_MS), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_host_refused_with_connect_invalid_host),
		cmocka_unit_test(test_added_host_admitted_then_refused_after_removal),
		cmocka_unit_test(test_allow_any_host_toggle),
		cmocka_unit_test(test_host_list_api_errors),
		cmocka_unit_test(test_discovery_log_lists_what_the_host_may_see),
		cmocka_unit_test(test_genctr_moves_on_subsystem_listener_and_host_changes),
		cmocka_unit_test(test_discovery_controller_gets_log_change_aen),
		cmocka_unit_test(test_discovery_log_larger_than_one_read),
		cmocka_unit_test(test_connect_to_discovery_nqn_lists_without_io_queues),
	};

	return NH_RUN_BOTH("nvmf_acl_discovery", tests, setup_uring, setup_epoll,
			   env_teardown) ? 1 : 0;
}
