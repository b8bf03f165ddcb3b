/* SPDX-License-Identifier: MIT */
/*
 * JSON-RPC against a target serving a real host (the project's NVMe/TCP
 * host library): controller, qpair and statistics listings; namespaces
 * added and removed while the host does verified I/O; and save_config
 * round trips (save → load → apply on a fresh target → save again: the
 * same configuration).
 */
#include "test_rpc_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>

#include <nvmft/config.h>
#include <nvmft/host.h>

#define NQN1 "nqn.2016-06.io.spdk:cnode1"
#define NQN2 "nqn.2016-06.io.spdk:cnode2"
#define HOST1 "nqn.2016-06.io.spdk:host1"
#define BLK 512u

static void host_log(void *arg, int level, const char *msg)
{
	if (getenv("RPC_TEST_VERBOSE"))
		fprintf(stderr, "[host] %s\n", msg);
}

/* A subsystem NQN1 (any host) with bdev @bdev (@mib MiB) as namespace 1,
 * listening on 127.0.0.1:@port. */
static void serve_one_ns(struct rh_conn *c, const char *bdev, unsigned int mib, int port)
{
	rh_ok_true(c, "nvmf_create_transport", "{\"trtype\":\"TCP\"}");
	json_object_put(rh_ok(c, "bdev_malloc_create", "{\"name\":\"%s\",\"num_blocks\":%u,"
			      "\"block_size\":%u}", bdev, mib * 1024 * 1024 / BLK, BLK));
	rh_ok_true(c, "nvmf_create_subsystem", "{\"nqn\":\"" NQN1 "\",\"allow_any_host\":true}");
	json_object_put(rh_ok(c, "nvmf_subsystem_add_ns", "{\"nqn\":\"" NQN1 "\","
			      "\"namespace\":{\"bdev_name\":\"%s\",\"nsid\":1}}", bdev));
	rh_ok_true(c, "nvmf_subsystem_add_listener", "{\"nqn\":\"" NQN1 "\",\"listen_address\":"
		   "{\"trtype\":\"tcp\",\"adrfam\":\"ipv4\",\"traddr\":\"127.0.0.1\","
		   "\"trsvcid\":\"%d\"}}", port);
}

static struct nvmft_host_ctrlr *host_connect(int port, unsigned int io_queues)
{
	struct nvmft_host_opts o;
	struct nvmft_host_ctrlr *ctrlr = NULL;
	char svc[16];

	snprintf(svc, sizeof(svc), "%d", port);
	nvmft_host_opts_init(&o);
	o.traddr = "127.0.0.1";
	o.trsvcid = svc;
	o.subnqn = NQN1;
	o.hostnqn = HOST1;
	o.num_io_queues = (uint16_t)io_queues;
	o.log_fn = host_log;
	assert_int_equal(nvmft_host_ctrlr_connect(&o, &ctrlr), 0);
	return ctrlr;
}

/* ---- listings of a connected host -------------------------------------------- */

static int64_t sum_pgs(struct json_object *stats, const char *key)
{
	struct json_object *pgs = rh_get(stats, "poll_groups");
	int64_t sum = 0;
	size_t i;

	for (i = 0; i < json_object_array_length(pgs); i++)
		sum += rh_int(json_object_array_get_idx(pgs, i), key);
	return sum;
}

static int64_t sum_tcp(struct json_object *stats, const char *key)
{
	struct json_object *pgs = rh_get(stats, "poll_groups");
	int64_t sum = 0;
	size_t i;

	for (i = 0; i < json_object_array_length(pgs); i++) {
		struct json_object *t = rh_get(json_object_array_get_idx(pgs, i),
					       "transports");

		assert_int_equal(json_object_array_length(t), 1);
		assert_string_equal(rh_str(json_object_array_get_idx(t, 0), "trtype"), "TCP");
		sum += rh_int(json_object_array_get_idx(t, 0), key);
	}
	return sum;
}

static void controllers_qpairs_and_stats_of_a_connected_host(void **state)
{
	struct nvmft_host_ctrlr *ctrlr;
	struct json_object *r, *q;
	struct rh_env e;
	struct rh_conn c;
	char buf[BLK * 8], msg[256];
	int port = rh_free_port(), i, seen[3] = { 0 };
	size_t k;

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	serve_one_ns(&c, "M0", 4, port);
	ctrlr = host_connect(port, 2);
	memset(buf, 0x5a, sizeof(buf));
	for (i = 0; i < 16; i++)
		assert_int_equal(nvmft_host_write(nvmft_host_ctrlr_io_qpair(ctrlr, i % 2), 1,
						  (uint64_t)i * 8, 8, buf, sizeof(buf), false), 0);

	r = rh_ok(&c, "nvmf_subsystem_get_controllers", "{\"nqn\":\"" NQN1 "\"}");
	assert_int_equal(json_object_array_length(r), 1);
	q = json_object_array_get_idx(r, 0);
	assert_int_equal(rh_int(q, "cntlid"), nvmft_host_ctrlr_cntlid(ctrlr));
	assert_string_equal(rh_str(q, "hostnqn"), HOST1);
	assert_int_equal(rh_int(q, "num_io_qpairs"), 2);
	assert_int_equal(strlen(rh_str(q, "hostid")), 36);
	json_object_put(r);

	r = rh_ok(&c, "nvmf_subsystem_get_qpairs", "{\"nqn\":\"" NQN1 "\"}");
	assert_int_equal(json_object_array_length(r), 3);
	for (k = 0; k < 3; k++) {
		q = json_object_array_get_idx(r, k);
		assert_int_equal(rh_int(q, "cntlid"), nvmft_host_ctrlr_cntlid(ctrlr));
		assert_string_equal(rh_str(q, "state"), "active");
		assert_true(rh_int(q, "qid") >= 0 && rh_int(q, "qid") <= 2);
		seen[rh_int(q, "qid")]++;
		assert_int_equal(atoi(rh_str(rh_get(q, "listen_address"), "trsvcid")), port);
		assert_string_equal(rh_str(rh_get(q, "peer_address"), "traddr"), "127.0.0.1");
	}
	assert_int_equal(seen[0] + seen[1] + seen[2], 3);
	assert_true(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
	json_object_put(r);

	r = rh_ok(&c, "nvmf_get_stats", NULL);
	assert_int_equal(json_object_array_length(rh_get(r, "poll_groups")), 2);
	assert_int_equal(sum_pgs(r, "current_admin_qpairs"), 1);
	assert_int_equal(sum_pgs(r, "current_io_qpairs"), 2);
	assert_true(sum_pgs(r, "io_cmds") >= 16);
	assert_true(sum_tcp(r, "bytes_in") >= 16 * (int64_t)sizeof(buf));
	assert_true(sum_tcp(r, "qpairs") == 3);
	json_object_put(r);

	assert_int_equal(rh_err(&c, "nvmf_subsystem_get_qpairs", msg, sizeof(msg),
				"{\"nqn\":\"nqn.2016-06.io.spdk:none\"}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_int_equal(rh_err(&c, "nvmf_subsystem_get_controllers", msg, sizeof(msg),
				NULL), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.nqn is required");

	nvmft_host_ctrlr_disconnect(ctrlr);
	assert_true(RH_WAIT_FOR(({
		struct json_object *x = rh_ok(&c, "nvmf_subsystem_get_controllers",
					      "{\"nqn\":\"" NQN1 "\"}");
		size_t nr = json_object_array_length(x);
		json_object_put(x);
		nr == 0; }), RH_WAIT_MS));
	rh_close(&c);
	rh_stop(&e);
}

/* ---- live changes under I/O ----------------------------------------------------- */

struct io_job {
	struct nvmft_host_qpair *qp;
	uint64_t nblocks;
	_Atomic bool stop;
	/* results */
	uint64_t ok;
	int failures;
	/* writer mode: stop at the first error, remember what was acked */
	bool writer;
	uint64_t acked;
	int first_error;
};

static void fill(char *buf, uint64_t lba, uint32_t gen)
{
	for (unsigned int i = 0; i < BLK; i += 8) {
		uint64_t v = lba * 0x9e3779b97f4a7c15ull ^ gen ^ i;

		memcpy(buf + i, &v, 8);
	}
}

/* Verified I/O on namespace 1: write a block, read it back, compare. */
static void *verify_io(void *arg)
{
	struct io_job *j = arg;
	char w[BLK], r[BLK];
	uint64_t lba, n = 0;
	int rc;

	while (!atomic_load(&j->stop)) {
		lba = n % j->nblocks;
		fill(w, lba, (uint32_t)n);
		rc = nvmft_host_write(j->qp, 1, lba, 1, w, BLK, false);
		if (rc) {
			if (!j->first_error)
				j->first_error = rc;
			j->failures++;
			if (j->writer)
				break;
			continue;
		}
		if (j->writer) {
			j->acked = n + 1;
			n++;
			continue;
		}
		rc = nvmft_host_read(j->qp, 1, lba, 1, r, BLK);
		if (rc || memcmp(w, r, BLK))
			j->failures++;
		else
			j->ok++;
		n++;
	}
	return NULL;
}

static void namespaces_change_while_the_host_does_io(void **state)
{
	struct nvmft_host_ctrlr *ctrlr;
	struct io_job job = { 0 };
	struct json_object *r;
	struct rh_env e;
	struct rh_conn c;
	int port = rh_free_port(), i;
	pthread_t th;
	uint64_t end;

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	serve_one_ns(&c, "M0", 4, port);
	json_object_put(rh_ok(&c, "bdev_malloc_create", "{\"name\":\"M1\",\"num_blocks\":2048,"
			      "\"block_size\":512}"));
	ctrlr = host_connect(port, 1);
	job.qp = nvmft_host_ctrlr_io_qpair(ctrlr, 0);
	job.nblocks = 4u * 1024 * 1024 / BLK;
	assert_int_equal(pthread_create(&th, NULL, verify_io, &job), 0);

	/* Namespace 2 comes and goes (every reactor pauses, drains, resumes)
	 * while namespace 1 serves verified I/O. Bounded in count and time. */
	end = rh_now_ms() + 3000;
	for (i = 0; i < 40 && rh_now_ms() < end; i++) {
		r = rh_ok(&c, "nvmf_subsystem_add_ns", "{\"nqn\":\"" NQN1 "\",\"namespace\":"
			  "{\"bdev_name\":\"M1\"}}");
		assert_int_equal(json_object_get_int(r), 2);
		json_object_put(r);
		rh_ok_true(&c, "nvmf_subsystem_remove_ns", "{\"nqn\":\"" NQN1 "\",\"nsid\":2}");
	}
	assert_true(i >= 5);
	atomic_store(&job.stop, true);
	pthread_join(th, NULL);
	assert_int_equal(job.failures, 0);
	assert_true(job.ok > 0);

	/* Now remove the namespace under I/O: writes fail from then on, but
	 * every acknowledged one is there when the bdev comes back. */
	memset(&job, 0, sizeof(job));
	job.qp = nvmft_host_ctrlr_io_qpair(ctrlr, 0);
	job.nblocks = 4u * 1024 * 1024 / BLK;
	job.writer = true;
	assert_int_equal(pthread_create(&th, NULL, verify_io, &job), 0);
	assert_true(RH_WAIT_FOR(job.acked > 200 || job.failures, RH_WAIT_MS));
	rh_ok_true(&c, "nvmf_subsystem_remove_ns", "{\"nqn\":\"" NQN1 "\",\"nsid\":1}");
	assert_true(RH_WAIT_FOR(job.failures > 0, RH_WAIT_MS));
	pthread_join(th, NULL);
	/* The command failed with an NVMe status (not a broken connection). */
	assert_true(job.first_error > 0);
	assert_true(job.acked > 200);
	r = rh_ok(&c, "nvmf_subsystem_add_ns", "{\"nqn\":\"" NQN1 "\",\"namespace\":"
		  "{\"bdev_name\":\"M0\",\"nsid\":1}}");
	json_object_put(r);
	{
		char want[BLK], got[BLK];
		uint64_t n;

		/* Each LBA holds its latest acknowledged generation. */
		for (n = job.acked > job.nblocks ? job.acked - job.nblocks : 0;
		     n < job.acked; n++) {
			fill(want, n % job.nblocks, (uint32_t)n);
			assert_int_equal(nvmft_host_read(job.qp, 1, n % job.nblocks, 1,
							 got, BLK), 0);
			assert_memory_equal(want, got, BLK);
		}
	}
	nvmft_host_ctrlr_disconnect(ctrlr);
	rh_close(&c);
	rh_stop(&e);
}

/* ---- save_config round trip ------------------------------------------------------- */

static char *save_text(struct rh_conn *c)
{
	struct json_object *r = rh_ok(c, "save_config", NULL);
	char *t;

	assert_true(json_object_is_type(r, json_type_string));
	t = strdup(json_object_get_string(r));
	json_object_put(r);
	return t;
}

/* The text after the first line (which has the time of the save). */
static const char *body(const char *t)
{
	const char *nl = strchr(t, '\n');

	assert_non_null(nl);
	return nl + 1;
}

/* A fresh target made from @text as the daemon does (2 reactors). */
static void start_from_text(struct rh_env *e, const char *text)
{
	struct nvmft_runtime_opts ro;
	struct nvmft_config *cfg;
	char err[1024];

	memset(e, 0, sizeof(*e));
	e->fds_before = rh_count_fds();
	snprintf(e->dir, sizeof(e->dir), "/tmp/nvmft-rpc-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->path, sizeof(e->path), "%s/rpc.sock", e->dir);
	if (nvmft_config_load_string(text, "saved", &cfg, err, sizeof(err)))
		fail_msg("saved configuration does not load: %s\n%s", err, text);
	nvmft_config_runtime_opts(cfg, &ro);
	ro.nr_reactors = 2;
	ro.name = "trpc2";
	assert_int_equal(nvmft_runtime_create(&ro, &e->rt), 0);
	nvmft_runtime_set_log(e->rt, nvmft_config_log_level(cfg), rh_quiet_log, NULL);
	assert_int_equal(nvmft_runtime_start(e->rt), 0);
	assert_int_equal(nvmft_runtime_exec(e->rt, 0, rh_step_tgt, e), 0);
	assert_int_equal(e->rc, 0);
	if (nvmft_config_apply(cfg, e->tgt, err, sizeof(err)))
		fail_msg("saved configuration does not apply: %s\n%s", err, text);
	nvmft_config_free(cfg);
}

static void save_config_round_trip_recreates_the_state(void **state)
{
	char fdir[64], file[128], msg[256];
	struct rh_env e;
	struct rh_conn c;
	struct json_object *r, *s, *l, *jfile;
	char *t1, *t2;
	int port = rh_free_port(), dport = rh_free_port(), fd;

	snprintf(fdir, sizeof(fdir), "/tmp/nvmft-rpcfile-XXXXXX");
	assert_non_null(mkdtemp(fdir));
	snprintf(file, sizeof(file), "%s/disk \"one\".img", fdir);
	fd = open(file, O_CREAT | O_RDWR, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 2 << 20), 0);
	close(fd);

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	rh_ok_true(&c, "nvmf_create_transport", "{\"trtype\":\"TCP\",\"max_queue_depth\":64,"
		   "\"in_capsule_data_size\":4096,\"io_unit_size\":65536,"
		   "\"num_shared_buffers\":128,\"c2h_success\":false,\"max_r2t\":4}");
	json_object_put(rh_ok(&c, "bdev_malloc_create", "{\"name\":\"Malloc0\",\"num_blocks\":"
			      "8192,\"block_size\":4096,\"uuid\":"
			      "\"2b6601ba-eada-44fb-9a83-a20eb9eb9e90\"}"));
	/* A large null bdev: more blocks than a 32-bit libconfig integer. */
	json_object_put(rh_ok(&c, "bdev_null_create", "{\"name\":\"Null0\",\"num_blocks\":"
			      "8589934592,\"block_size\":512}"));
	jfile = json_object_new_string(file);
	json_object_put(rh_ok(&c, "bdev_uring_create", "{\"name\":\"Uring0\",\"filename\":"
			      "%s,\"block_size\":512,\"buffered\":true}",
			      json_object_to_json_string(jfile)));
	json_object_put(jfile);
	rh_ok_true(&c, "nvmf_create_subsystem", "{\"nqn\":\"" NQN1 "\",\"serial_number\":"
		   "\"SN-1\",\"model_number\":\"Model \\\"quoted\\\"\",\"max_namespaces\":"
		   "16}");
	rh_ok_true(&c, "nvmf_subsystem_add_host", "{\"nqn\":\"" NQN1 "\",\"host\":\"" HOST1 "\"}");
	rh_ok_true(&c, "nvmf_subsystem_add_host", "{\"nqn\":\"" NQN1 "\",\"host\":"
		   "\"nqn.2016-06.io.spdk:host2\"}");
	json_object_put(rh_ok(&c, "nvmf_subsystem_add_ns", "{\"nqn\":\"" NQN1 "\",\"namespace\":"
			      "{\"bdev_name\":\"Malloc0\",\"nsid\":5,\"uuid\":"
			      "\"ceccf520-691e-4b46-9546-34af789907c5\",\"nguid\":"
			      "\"ABCDEF0123456789ABCDEF0123456789\"}}"));
	/* An ephemeral port is saved as the port it got. */
	rh_ok_true(&c, "nvmf_subsystem_add_listener", "{\"nqn\":\"" NQN1 "\",\"listen_address\":"
		   "{\"trtype\":\"tcp\",\"traddr\":\"127.0.0.1\",\"trsvcid\":\"0\"}}");
	rh_ok_true(&c, "nvmf_subsystem_add_listener", "{\"nqn\":\"" NQN1 "\",\"listen_address\":"
		   "{\"trtype\":\"tcp\",\"traddr\":\"127.0.0.1\",\"trsvcid\":\"%d\"}}", port);
	rh_ok_true(&c, "nvmf_create_subsystem", "{\"nqn\":\"" NQN2 "\",\"allow_any_host\":true}");
	json_object_put(rh_ok(&c, "nvmf_subsystem_add_ns", "{\"nqn\":\"" NQN2 "\",\"namespace\":"
			      "{\"bdev_name\":\"Null0\"}}"));
	rh_ok_true(&c, "nvmf_subsystem_add_listener", "{\"nqn\":\"nqn.2014-08.org.nvmexpress."
		   "discovery\",\"listen_address\":{\"trtype\":\"tcp\",\"traddr\":"
		   "\"127.0.0.1\",\"trsvcid\":\"%d\"}}", dport);
	rh_ok_true(&c, "nvmft_set_log_level", "{\"level\":\"info\"}");
	rh_ok_true(&c, "nvmft_set_wait_mode", "{\"wait_mode\":\"interrupt\"}");
	(void)msg;
	t1 = save_text(&c);
	if (getenv("RPC_TEST_PRINT"))
		fprintf(stderr, "%s", t1);
	assert_contains(t1, "num_blocks = 8589934592L;");
	assert_contains(t1, "model = \"Model \\\"quoted\\\"\";");
	assert_null(strstr(t1, "trsvcid = \"0\""));
	rh_close(&c);
	rh_stop(&e);	/* frees the ports for the second target */

	start_from_text(&e, t1);
	assert_int_equal(rh_open(&c, e.path), 0);
	t2 = save_text(&c);
	if (strcmp(body(t1), body(t2)))
		fail_msg("configuration changed across save/load/apply:\n--- first\n%s\n"
			 "--- second\n%s", t1, t2);
	/* And it serves: the listener is up, the hosts are there. */
	r = rh_ok(&c, "nvmf_get_subsystems", "{\"nqn\":\"" NQN1 "\"}");
	s = json_object_array_get_idx(r, 0);
	assert_int_equal(json_object_array_length(rh_get(s, "hosts")), 2);
	assert_string_equal(rh_str(s, "model_number"), "Model \"quoted\"");
	l = rh_get(s, "listen_addresses");
	assert_int_equal(json_object_array_length(l), 2);
	json_object_put(r);
	r = rh_ok(&c, "nvmft_get_reactors", NULL);
	assert_string_equal(rh_str(r, "wait_mode"), "interrupt");
	json_object_put(r);
	r = rh_ok(&c, "nvmft_get_log_level", NULL);
	assert_string_equal(json_object_get_string(r), "info");
	json_object_put(r);
	free(t1);
	free(t2);
	rh_close(&c);
	rh_stop(&e);
	unlink(file);
	assert_int_equal(rmdir(fdir), 0);
}

static void empty_target_saves_a_loadable_file(void **state)
{
	struct nvmft_config *cfg;
	struct rh_env e;
	struct rh_conn c;
	char err[512];
	char *t;

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	t = save_text(&c);
	if (nvmft_config_load_string(t, "empty", &cfg, err, sizeof(err)))
		fail_msg("%s\n%s", err, t);
	nvmft_config_free(cfg);
	free(t);
	rh_close(&c);
	rh_stop(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(controllers_qpairs_and_stats_of_a_connected_host),
		cmocka_unit_test(namespaces_change_while_the_host_does_io),
		cmocka_unit_test(save_config_round_trip_recreates_the_state),
		cmocka_unit_test(empty_target_saves_a_loadable_file),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("rpc_live", tests, NULL, NULL);
}
