/* SPDX-License-Identifier: MIT */
/*
 * Discovery referrals over JSON-RPC, as a host sees them: added with
 * nvmf_discovery_add_referral, they appear in the discovery log page read
 * by the project's host library (SUBTYPE, TREQ, address, NQN), GENCTR
 * moves and a connected discovery controller gets the Discovery Log Page
 * Change notice; removed, they are gone. They survive save_config → load
 * → apply.
 */
#include "test_rpc_harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>

#include <nvme/types.h>
#include <nvmft/config.h>
#include <nvmft/host.h>

#define HOST1		"nqn.2016-06.io.spdk:host1"
#define REMOTE_NQN	"nqn.2016-06.io.spdk:remote1"

static void host_log(void *arg, int level, const char *msg)
{
	if (getenv("RPC_TEST_VERBOSE"))
		fprintf(stderr, "[host] %s\n", msg);
}

/* A TCP transport and a discovery listener on 127.0.0.1:@port. */
static void serve_discovery(struct rh_conn *c, int port)
{
	rh_ok_true(c, "nvmf_create_transport", "{\"trtype\":\"TCP\"}");
	rh_ok_true(c, "nvmf_subsystem_add_listener", "{\"nqn\":\"" NVMFT_DISCOVERY_NQN
		   "\",\"listen_address\":{\"trtype\":\"tcp\",\"adrfam\":\"ipv4\","
		   "\"traddr\":\"127.0.0.1\",\"trsvcid\":\"%d\"}}", port);
}

static void host_opts(struct nvmft_host_opts *o, char *svc, size_t len, int port)
{
	snprintf(svc, len, "%d", port);
	nvmft_host_opts_init(o);
	o->traddr = "127.0.0.1";
	o->trsvcid = svc;
	o->hostnqn = HOST1;
	o->log_fn = host_log;
}

static void discover(int port, struct nvmft_host_disc_entry **ent, unsigned int *nr,
		     uint64_t *genctr)
{
	struct nvmft_host_opts o;
	char svc[16];

	host_opts(&o, svc, sizeof(svc), port);
	assert_int_equal(nvmft_host_discover(&o, ent, nr, genctr), 0);
}

/* The entry of subtype @subtype for @traddr:@trsvcid, or NULL. */
static const struct nvmft_host_disc_entry *
find_entry(const struct nvmft_host_disc_entry *ent, unsigned int nr,
	   uint8_t subtype, const char *traddr, const char *trsvcid)
{
	for (unsigned int i = 0; i < nr; i++)
		if (ent[i].subtype == subtype && !strcmp(ent[i].traddr, traddr) &&
		    !strcmp(ent[i].trsvcid, trsvcid))
			return &ent[i];
	return NULL;
}

static void referral_appears_in_the_discovery_log_and_goes(void **state)
{
	const struct nvmft_host_disc_entry *d;
	struct nvmft_host_disc_entry *ent;
	struct json_object *r, *x;
	struct rh_env e;
	struct rh_conn c;
	unsigned int nr, nr0;
	uint64_t g0, g1, g2, g3;
	int port = rh_free_port();
	char msg[512];

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	serve_discovery(&c, port);
	discover(port, &ent, &nr0, &g0);
	assert_null(find_entry(ent, nr0, NVME_NQN_DISC, "127.0.0.1", "4430"));
	nvmft_host_disc_free(ent);

	/* SPDK rpc.py's shape: address, no subnqn: a discovery service */
	rh_ok_true(&c, "nvmf_discovery_add_referral", "{\"address\":{\"trtype\":\"tcp\","
		   "\"adrfam\":\"ipv4\",\"traddr\":\"127.0.0.1\",\"trsvcid\":\"4430\"}}");
	/* a subsystem of another target, over a secure channel */
	rh_ok_true(&c, "nvmf_discovery_add_referral", "{\"address\":{\"trtype\":\"TCP\","
		   "\"traddr\":\"::1\",\"trsvcid\":\"4431\"},\"subnqn\":\"" REMOTE_NQN "\","
		   "\"secure_channel\":true,\"tgt_name\":\"x\"}");

	discover(port, &ent, &nr, &g1);
	assert_int_equal(nr, nr0 + 2);
	assert_true(g1 != g0);
	d = find_entry(ent, nr, NVME_NQN_DISC, "127.0.0.1", "4430");
	assert_non_null(d);
	assert_int_equal(d->trtype, NVMF_TRTYPE_TCP);
	assert_int_equal(d->adrfam, NVMF_ADDR_FAMILY_IP4);
	assert_string_equal(d->subnqn, NVMFT_DISCOVERY_NQN);
	assert_int_equal(d->treq, NVMF_TREQ_NOT_REQUIRED);
	assert_int_equal(d->cntlid, 0xffff);
	d = find_entry(ent, nr, NVME_NQN_NVME, "::1", "4431");
	assert_non_null(d);
	assert_int_equal(d->adrfam, NVMF_ADDR_FAMILY_IP6);
	assert_string_equal(d->subnqn, REMOTE_NQN);
	assert_int_equal(d->treq, NVMF_TREQ_REQUIRED);
	/* our own discovery record is still there, first */
	assert_int_equal(ent[0].subtype, NVME_NQN_CURR);
	nvmft_host_disc_free(ent);

	r = rh_ok(&c, "nvmf_discovery_get_referrals", NULL);
	assert_int_equal(json_object_array_length(r), 2);
	x = json_object_array_get_idx(r, 0);
	assert_string_equal(rh_str(rh_get(x, "address"), "traddr"), "127.0.0.1");
	assert_string_equal(rh_str(rh_get(x, "address"), "trsvcid"), "4430");
	assert_string_equal(rh_str(rh_get(x, "address"), "trtype"), "TCP");
	assert_string_equal(rh_str(rh_get(x, "address"), "adrfam"), "IPv4");
	assert_string_equal(rh_str(x, "subnqn"), NVMFT_DISCOVERY_NQN);
	assert_false(json_object_get_boolean(rh_get(x, "secure_channel")));
	x = json_object_array_get_idx(r, 1);
	assert_true(json_object_get_boolean(rh_get(x, "secure_channel")));
	assert_string_equal(rh_str(x, "subnqn"), REMOTE_NQN);
	json_object_put(r);

	/* adding it again changes nothing (SPDK scripts do) */
	rh_ok_true(&c, "nvmf_discovery_add_referral", "{\"address\":{\"trtype\":\"tcp\","
		   "\"traddr\":\"127.0.0.1\",\"trsvcid\":\"04430\"}}");
	discover(port, &ent, &nr, &g2);
	assert_int_equal(nr, nr0 + 2);
	assert_true(g2 == g1);
	nvmft_host_disc_free(ent);

	rh_ok_true(&c, "nvmf_discovery_remove_referral", "{\"address\":{\"trtype\":\"tcp\","
		   "\"traddr\":\"127.0.0.1\",\"trsvcid\":\"4430\"}}");
	discover(port, &ent, &nr, &g3);
	assert_int_equal(nr, nr0 + 1);
	assert_true(g3 != g2);
	assert_null(find_entry(ent, nr, NVME_NQN_DISC, "127.0.0.1", "4430"));
	assert_non_null(find_entry(ent, nr, NVME_NQN_NVME, "::1", "4431"));
	nvmft_host_disc_free(ent);

	/* the NQN is part of the key */
	assert_int_equal(rh_err(&c, "nvmf_discovery_remove_referral", msg, sizeof(msg),
				"{\"address\":{\"trtype\":\"tcp\",\"traddr\":\"::1\","
				"\"trsvcid\":\"4431\"}}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "no referral to ::1:4431");
	rh_ok_true(&c, "nvmf_discovery_remove_referral", "{\"address\":{\"trtype\":\"tcp\","
		   "\"traddr\":\"::1\",\"trsvcid\":\"4431\"},\"subnqn\":\"" REMOTE_NQN "\"}");
	r = rh_ok(&c, "nvmf_discovery_get_referrals", "{\"tgt_name\":\"x\"}");
	assert_int_equal(json_object_array_length(r), 0);
	json_object_put(r);
	discover(port, &ent, &nr, NULL);
	assert_int_equal(nr, nr0);
	nvmft_host_disc_free(ent);
	rh_close(&c);
	rh_stop(&e);
}

struct slot {
	bool done;
	uint16_t status;
	uint64_t result;
};

static void slot_cb(void *arg, const struct nvmft_host_cpl *cpl)
{
	struct slot *s = arg;

	s->status = cpl->status;
	s->result = cpl->result;
	s->done = true;
}

static void discovery_controller_gets_a_notice_on_referral_change(void **state)
{
	struct nvmft_host_ctrlr *ctrlr = NULL;
	struct nvmft_host_qpair *admin;
	struct nvmft_host_disc_entry *ent;
	struct nvmft_host_opts o;
	struct nvmft_sqe sqe;
	struct slot aer;
	struct rh_env e;
	struct rh_conn c;
	unsigned int nr;
	uint64_t g0, g1;
	int port = rh_free_port();
	char svc[16];

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	serve_discovery(&c, port);
	host_opts(&o, svc, sizeof(svc), port);
	o.subnqn = NVMFT_DISCOVERY_NQN;
	o.num_io_queues = 0;
	assert_int_equal(nvmft_host_ctrlr_connect(&o, &ctrlr), 0);
	admin = nvmft_host_ctrlr_admin_qpair(ctrlr);
	assert_int_equal(nvmft_host_get_discovery_log(ctrlr, &ent, &nr, &g0), 0);
	nvmft_host_disc_free(ent);
	/* Discovery Log Page Change notices on, one AER posted */
	assert_int_equal(nvmft_host_set_features(ctrlr, NVME_FEAT_FID_ASYNC_EVENT,
						 1u << 31, false, NULL), 0);
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_async_event;
	memset(&aer, 0, sizeof(aer));
	assert_int_equal(nvmft_host_submit(admin, &sqe, NULL, 0, NVMFT_HOST_DIR_NONE,
					   slot_cb, &aer), 0);
	assert_int_equal(nvmft_host_qpair_wait(admin, &aer.done, 200), -ETIMEDOUT);

	rh_ok_true(&c, "nvmf_discovery_add_referral", "{\"address\":{\"trtype\":\"tcp\","
		   "\"traddr\":\"127.0.0.1\",\"trsvcid\":\"8009\"}}");
	assert_int_equal(nvmft_host_qpair_wait(admin, &aer.done, RH_WAIT_MS), 0);
	assert_int_equal(aer.status, 0);
	assert_int_equal(aer.result & 0x7, NVME_AER_NOTICE);
	assert_int_equal((aer.result >> 8) & 0xff, NVME_AER_NOTICE_DISC_CHANGED);
	assert_int_equal((aer.result >> 16) & 0xff, NVME_LOG_LID_DISCOVER);
	assert_int_equal(nvmft_host_get_discovery_log(ctrlr, &ent, &nr, &g1), 0);
	assert_true(g1 != g0);
	assert_non_null(find_entry(ent, nr, NVME_NQN_DISC, "127.0.0.1", "8009"));
	nvmft_host_disc_free(ent);

	/* reading the page unmasked the notice: removing sends another */
	memset(&aer, 0, sizeof(aer));
	assert_int_equal(nvmft_host_submit(admin, &sqe, NULL, 0, NVMFT_HOST_DIR_NONE,
					   slot_cb, &aer), 0);
	rh_ok_true(&c, "nvmf_discovery_remove_referral", "{\"address\":{\"trtype\":\"tcp\","
		   "\"traddr\":\"127.0.0.1\",\"trsvcid\":\"8009\"}}");
	assert_int_equal(nvmft_host_qpair_wait(admin, &aer.done, RH_WAIT_MS), 0);
	assert_int_equal((aer.result >> 8) & 0xff, NVME_AER_NOTICE_DISC_CHANGED);
	nvmft_host_ctrlr_disconnect(ctrlr);
	rh_close(&c);
	rh_stop(&e);
}

/* save_config → load → apply on a fresh target: the same referrals. */
static void referrals_survive_a_save_config_round_trip(void **state)
{
	struct nvmft_runtime_opts ro;
	struct nvmft_config *cfg;
	struct json_object *r, *before, *after;
	struct rh_env e;
	struct rh_conn c;
	char err[1024], *text;

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	rh_ok_true(&c, "nvmf_discovery_add_referral", "{\"address\":{\"trtype\":\"tcp\","
		   "\"traddr\":\"127.0.0.1\",\"trsvcid\":\"4430\"}}");
	rh_ok_true(&c, "nvmf_discovery_add_referral", "{\"address\":{\"trtype\":\"tcp\","
		   "\"traddr\":\"::1\",\"trsvcid\":\"8009\"},\"subnqn\":\"" REMOTE_NQN "\","
		   "\"secure_channel\":true}");
	before = rh_ok(&c, "nvmf_discovery_get_referrals", NULL);
	r = rh_ok(&c, "save_config", NULL);
	text = strdup(json_object_get_string(r));
	json_object_put(r);
	assert_contains(text, "referrals = (");
	assert_contains(text, "secure_channel = true;");
	rh_close(&c);
	rh_stop(&e);

	/* a fresh target from the text, as the daemon builds it */
	memset(&e, 0, sizeof(e));
	e.fds_before = rh_count_fds();
	snprintf(e.dir, sizeof(e.dir), "/tmp/nvmft-rpc-XXXXXX");
	assert_non_null(mkdtemp(e.dir));
	snprintf(e.path, sizeof(e.path), "%s/rpc.sock", e.dir);
	if (nvmft_config_load_string(text, "saved", &cfg, err, sizeof(err)))
		fail_msg("saved configuration does not load: %s\n%s", err, text);
	nvmft_config_runtime_opts(cfg, &ro);
	ro.nr_reactors = 2;
	ro.name = "trpc2";
	assert_int_equal(nvmft_runtime_create(&ro, &e.rt), 0);
	nvmft_runtime_set_log(e.rt, NVMFT_LOG_WARN, rh_quiet_log, NULL);
	assert_int_equal(nvmft_runtime_start(e.rt), 0);
	assert_int_equal(nvmft_runtime_exec(e.rt, 0, rh_step_tgt, &e), 0);
	assert_int_equal(e.rc, 0);
	if (nvmft_config_apply(cfg, e.tgt, err, sizeof(err)))
		fail_msg("saved configuration does not apply: %s\n%s", err, text);
	nvmft_config_free(cfg);
	assert_int_equal(rh_open(&c, e.path), 0);
	after = rh_ok(&c, "nvmf_discovery_get_referrals", NULL);
	assert_string_equal(json_object_to_json_string(after),
			    json_object_to_json_string(before));
	json_object_put(before);
	json_object_put(after);
	free(text);
	rh_close(&c);
	rh_stop(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(referral_appears_in_the_discovery_log_and_goes),
		cmocka_unit_test(discovery_controller_gets_a_notice_on_referral_change),
		cmocka_unit_test(referrals_survive_a_save_config_round_trip),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("rpc_referrals", tests, NULL, NULL);
}
