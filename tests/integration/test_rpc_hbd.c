// SPDX-License-Identifier: MIT
/*
 * JSON-RPC methods of the hbd backend against a real nbdkit (file plugin
 * in dir= mode on a Unix socket in a temporary directory: every file is
 * an export): pools created, listed with their state and deleted; a
 * volume created over RPC and served as a namespace with verified I/O by
 * the project's host; the errors (missing export, pool in use, bad
 * parameters); save_config text that loads and recreates pools and
 * volumes. Also nvmft_set_wait_mode with idle_spin_us (no nbdkit needed).
 */
#include "test_rpc_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/wait.h>

#include <nvmft/config.h>
#include <nvmft/host.h>

#define NQN1 "nqn.2016-06.io.spdk:hbd1"
#define HOST1 "nqn.2016-06.io.spdk:host1"
#define BLK 512u
#define VOL_SIZE (8u << 20)

/* ---- nbdkit ------------------------------------------------------------------- */

struct nbd_srv {
	char dir[64];
	char sock[96];
	char vols[96];
	char uri[160];
	pid_t pid;
};

static bool have_nbdkit(void)
{
	if (system("nbdkit --version >/dev/null 2>&1") != 0) {
		printf("SKIP: nbdkit is not installed (Debian package nbdkit)\n");
		return false;
	}
	return true;
}

static bool sock_accepts(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static void srv_add_export(struct nbd_srv *s, const char *name, uint64_t size)
{
	char path[192];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", s->vols, name);
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	close(fd);
}

static void srv_start(struct nbd_srv *s)
{
	char dirarg[128];
	pid_t pid;

	memset(s, 0, sizeof(*s));
	strcpy(s->dir, "/tmp/nvmft-rpchbd-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->sock, sizeof(s->sock), "%s/nbd.sock", s->dir);
	snprintf(s->vols, sizeof(s->vols), "%s/vols", s->dir);
	snprintf(s->uri, sizeof(s->uri), "nbd+unix:///?socket=%s", s->sock);
	assert_int_equal(mkdir(s->vols, 0700), 0);
	srv_add_export(s, "vol0", VOL_SIZE);
	snprintf(dirarg, sizeof(dirarg), "dir=%s", s->vols);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		if (devnull >= 0 && !getenv("RPC_TEST_VERBOSE")) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execlp("nbdkit", "nbdkit", "--exit-with-parent", "-f", "-U", s->sock,
		       "file", dirarg, (char *)NULL);
		_exit(127);
	}
	s->pid = pid;
	for (int i = 0; i < 500; i++) {
		int st;

		if (sock_accepts(s->sock))
			return;
		assert_int_equal(waitpid(pid, &st, WNOHANG), 0);
		usleep(10000);
	}
	fail_msg("nbdkit did not start in 5 s");
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void srv_stop(struct nbd_srv *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
	nftw(s->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---- helpers --------------------------------------------------------------------- */

static void pool_create(struct rh_conn *c, const char *name, const char *uri)
{
	struct json_object *r;

	r = rh_ok(c, "bdev_hbd_pool_create", "{\"name\":\"%s\",\"uri\":\"%s\","
		  "\"health_interval_ms\":50,\"connect_timeout_ms\":2000}", name, uri);
	assert_string_equal(json_object_get_string(r), name);
	json_object_put(r);
}

/* The one pool listed under @name (a reference). */
static struct json_object *get_pool(struct rh_conn *c, const char *name)
{
	struct json_object *a = rh_ok(c, "bdev_hbd_get_pools", "{\"name\":\"%s\"}", name);
	struct json_object *p;

	assert_int_equal(json_object_array_length(a), 1);
	p = json_object_get(json_object_array_get_idx(a, 0));
	json_object_put(a);
	return p;
}

static bool pool_state_is(struct rh_conn *c, const char *name, const char *state)
{
	struct json_object *p = get_pool(c, name);
	bool ok = !strcmp(rh_str(p, "state"), state);

	json_object_put(p);
	return ok;
}

static void vol_create(struct rh_conn *c, const char *name, const char *pool,
		       const char *export_name)
{
	struct json_object *r;

	r = rh_ok(c, "bdev_hbd_create", "{\"name\":\"%s\",\"pool\":\"%s\","
		  "\"export\":\"%s\",\"block_size\":%u}", name, pool, export_name, BLK);
	assert_string_equal(json_object_get_string(r), name);
	json_object_put(r);
}

/* ---- pools ------------------------------------------------------------------------ */

static void pools_are_created_listed_and_deleted(void **state)
{
	struct json_object *p, *o, *a;
	struct nbd_srv s;
	struct rh_env e;
	struct rh_conn c;
	char msg[512];

	if (!have_nbdkit())
		skip();
	srv_start(&s);
	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);

	a = rh_ok(&c, "bdev_hbd_get_pools", NULL);
	assert_int_equal(json_object_array_length(a), 0);
	json_object_put(a);

	pool_create(&c, "pool0", s.uri);
	assert_true(RH_WAIT_FOR(pool_state_is(&c, "pool0", "up"), RH_WAIT_MS));
	p = get_pool(&c, "pool0");
	assert_string_equal(rh_str(p, "uri"), s.uri);
	o = rh_get(p, "options");
	assert_int_equal(rh_int(o, "health_interval_ms"), 50);
	assert_int_equal(rh_int(o, "connect_timeout_ms"), 2000);
	assert_int_equal(rh_int(o, "down_after"), 2);	/* the default */
	assert_int_equal(rh_int(p, "num_volumes"), 0);
	assert_true(rh_int(p, "checks") >= 1);
	json_object_put(p);

	/* A second pool name for the same server is fine; the same name is not. */
	assert_int_equal(rh_err(&c, "bdev_hbd_pool_create", msg, sizeof(msg),
				"{\"name\":\"pool0\",\"uri\":\"%s\"}", s.uri),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "pool0");

	rh_ok_true(&c, "bdev_hbd_pool_delete", "{\"name\":\"pool0\"}");
	a = rh_ok(&c, "bdev_hbd_get_pools", NULL);
	assert_int_equal(json_object_array_length(a), 0);
	json_object_put(a);
	assert_int_equal(rh_err(&c, "bdev_hbd_pool_delete", msg, sizeof(msg),
				"{\"name\":\"pool0\"}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "pool0");

	rh_close(&c);
	rh_stop(&e);
	srv_stop(&s);
}

static void pool_parameters_are_validated(void **state)
{
	struct rh_env e;
	struct rh_conn c;
	char msg[512];

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	assert_int_equal(rh_err(&c, "bdev_hbd_pool_create", msg, sizeof(msg),
				"{\"name\":\"p\",\"uri\":\"http://x/\"}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.uri");
	assert_contains(msg, "http://x/");
	assert_int_equal(rh_err(&c, "bdev_hbd_pool_create", msg, sizeof(msg),
				"{\"name\":\"p\",\"uri\":\"nbd://127.0.0.1:1\","
				"\"down_after\":0}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.down_after: 0");
	assert_int_equal(rh_err(&c, "bdev_hbd_pool_create", msg, sizeof(msg),
				"{\"name\":\"p\",\"uri\":\"nbd://127.0.0.1:1\","
				"\"retry_backoff_ms\":500,\"retry_backoff_max_ms\":100}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "retry_backoff_max_ms");
	assert_int_equal(rh_err(&c, "bdev_hbd_pool_create", msg, sizeof(msg),
				"{\"uri\":\"nbd://127.0.0.1:1\"}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "name");
	assert_int_equal(rh_err(&c, "bdev_hbd_create", msg, sizeof(msg),
				"{\"name\":\"v\",\"pool\":\"nopool\"}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "nopool");
	assert_int_equal(rh_err(&c, "bdev_hbd_get_pools", msg, sizeof(msg),
				"{\"name\":\"nopool\"}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "nopool");
	rh_close(&c);
	rh_stop(&e);
}

/* ---- volumes ---------------------------------------------------------------------- */

static struct nvmft_host_ctrlr *host_connect(int port)
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
	o.num_io_queues = 1;
	assert_int_equal(nvmft_host_ctrlr_connect(&o, &ctrlr), 0);
	return ctrlr;
}

static void volume_is_served_with_verified_io(void **state)
{
	struct json_object *b, *info, *p;
	struct nvmft_host_ctrlr *ctrlr;
	struct nvmft_host_qpair *qp;
	char w[4 * BLK], r[4 * BLK], msg[512];
	int port = rh_free_port();
	struct nbd_srv s;
	struct rh_env e;
	struct rh_conn c;

	if (!have_nbdkit())
		skip();
	srv_start(&s);
	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	pool_create(&c, "pool0", s.uri);

	/* An export the server does not have: the error names it. */
	assert_int_equal(rh_err(&c, "bdev_hbd_create", msg, sizeof(msg),
				"{\"name\":\"ghost\",\"pool\":\"pool0\",\"export\":\"nosuch\"}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "export \"nosuch\"");
	assert_contains(msg, "pool0");
	assert_int_equal(rh_err(&c, "bdev_hbd_create", msg, sizeof(msg),
				"{\"name\":\"v\",\"pool\":\"pool0\",\"block_size\":1000}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.block_size: 1000");

	vol_create(&c, "hvol0", "pool0", "vol0");
	b = rh_ok(&c, "bdev_get_bdevs", "{\"name\":\"hvol0\"}");
	info = json_object_array_get_idx(b, 0);
	assert_string_equal(rh_str(info, "product_name"), "hbd");
	assert_int_equal(rh_int(info, "num_blocks"), VOL_SIZE / BLK);
	info = rh_get(rh_get(info, "driver_specific"), "hbd");
	assert_string_equal(rh_str(info, "pool"), "pool0");
	assert_string_equal(rh_str(info, "export"), "vol0");
	json_object_put(b);
	p = get_pool(&c, "pool0");
	assert_int_equal(rh_int(p, "num_volumes"), 1);
	assert_string_equal(json_object_get_string(
		json_object_array_get_idx(rh_get(p, "volumes"), 0)), "hvol0");
	json_object_put(p);

	/* Served through a namespace. */
	rh_ok_true(&c, "nvmf_create_transport", "{\"trtype\":\"TCP\"}");
	rh_ok_true(&c, "nvmf_create_subsystem", "{\"nqn\":\"" NQN1 "\",\"allow_any_host\":true}");
	json_object_put(rh_ok(&c, "nvmf_subsystem_add_ns", "{\"nqn\":\"" NQN1 "\","
			      "\"namespace\":{\"bdev_name\":\"hvol0\",\"nsid\":1}}"));
	rh_ok_true(&c, "nvmf_subsystem_add_listener", "{\"nqn\":\"" NQN1 "\",\"listen_address\":"
		   "{\"trtype\":\"tcp\",\"adrfam\":\"ipv4\",\"traddr\":\"127.0.0.1\","
		   "\"trsvcid\":\"%d\"}}", port);
	ctrlr = host_connect(port);
	qp = nvmft_host_ctrlr_io_qpair(ctrlr, 0);
	for (unsigned int i = 0; i < 8; i++) {
		uint64_t lba = (uint64_t)i * 997 % (VOL_SIZE / BLK - 4);

		for (size_t k = 0; k < sizeof(w); k++)
			w[k] = (char)(i * 31 + k * 7);
		assert_int_equal(nvmft_host_write(qp, 1, lba, 4, w, sizeof(w), false), 0);
		memset(r, 0, sizeof(r));
		assert_int_equal(nvmft_host_read(qp, 1, lba, 4, r, sizeof(r)), 0);
		assert_memory_equal(r, w, sizeof(w));
	}
	nvmft_host_ctrlr_disconnect(ctrlr);

	/* The pool stays while a volume uses it; the error names the volume. */
	assert_int_equal(rh_err(&c, "bdev_hbd_pool_delete", msg, sizeof(msg),
				"{\"name\":\"pool0\"}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "in use");
	assert_contains(msg, "hvol0");
	assert_int_equal(rh_err(&c, "bdev_hbd_delete", msg, sizeof(msg),
				"{\"name\":\"nosuch\"}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "nosuch");

	rh_ok_true(&c, "bdev_hbd_delete", "{\"name\":\"hvol0\"}");
	assert_int_equal(rh_err(&c, "bdev_get_bdevs", NULL, 0, "{\"name\":\"hvol0\"}"),
			 NVMFT_RPC_INVALID_PARAMS);
	rh_ok_true(&c, "bdev_hbd_pool_delete", "{\"name\":\"pool0\"}");
	rh_close(&c);
	rh_stop(&e);
	srv_stop(&s);
}

/* ---- save_config ------------------------------------------------------------------- */

static char *save_text(struct rh_conn *c)
{
	struct json_object *r = rh_ok(c, "save_config", NULL);
	char *t = strdup(json_object_get_string(r));

	json_object_put(r);
	return t;
}

/* A fresh target made from @text as the daemon does. */
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
	nvmft_runtime_set_log(e->rt, NVMFT_LOG_ERR, rh_quiet_log, NULL);
	assert_int_equal(nvmft_runtime_start(e->rt), 0);
	assert_int_equal(nvmft_runtime_exec(e->rt, 0, rh_step_tgt, e), 0);
	assert_int_equal(e->rc, 0);
	if (nvmft_config_apply(cfg, e->tgt, err, sizeof(err)))
		fail_msg("saved configuration does not apply: %s\n%s", err, text);
	nvmft_config_free(cfg);
}

static void save_config_recreates_pools_and_volumes(void **state)
{
	struct json_object *p, *b;
	struct nbd_srv s;
	struct rh_env e, e2;
	struct rh_conn c;
	char *t, *t2;

	if (!have_nbdkit())
		skip();
	srv_start(&s);
	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	pool_create(&c, "pool0", s.uri);
	vol_create(&c, "hvol0", "pool0", "vol0");
	t = save_text(&c);
	assert_contains(t, "hbd_pools");
	assert_contains(t, "health_interval_ms = 50;");
	assert_contains(t, "type = \"hbd\"; pool = \"pool0\"; export = \"vol0\";");
	rh_close(&c);
	rh_stop(&e);

	start_from_text(&e2, t);
	assert_int_equal(rh_open(&c, e2.path), 0);
	p = get_pool(&c, "pool0");
	assert_string_equal(rh_str(p, "uri"), s.uri);
	assert_int_equal(rh_int(rh_get(p, "options"), "health_interval_ms"), 50);
	assert_int_equal(rh_int(p, "num_volumes"), 1);
	json_object_put(p);
	b = rh_ok(&c, "bdev_get_bdevs", "{\"name\":\"hvol0\"}");
	assert_string_equal(rh_str(json_object_array_get_idx(b, 0), "product_name"), "hbd");
	json_object_put(b);
	/* What the config made, RPC can extend: the same hbd context. */
	pool_create(&c, "pool1", s.uri);
	t2 = save_text(&c);
	assert_contains(t2, "\"pool1\"");
	assert_contains(t2, "\"hvol0\"");
	free(t2);
	rh_close(&c);
	rh_stop(&e2);
	free(t);
	srv_stop(&s);
}

/* ---- wait mode ---------------------------------------------------------------------- */

static void set_wait_mode_changes_mode_and_spin(void **state)
{
	struct json_object *r;
	struct rh_env e;
	struct rh_conn c;
	char msg[512];
	char *t;

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	r = rh_ok(&c, "nvmft_get_reactors", NULL);
	assert_int_equal(rh_int(r, "idle_spin_us"), 200);
	json_object_put(r);

	rh_ok_true(&c, "nvmft_set_wait_mode", "{\"mode\":\"poll\",\"idle_spin_us\":500}");
	r = rh_ok(&c, "nvmft_get_reactors", NULL);
	assert_string_equal(rh_str(r, "wait_mode"), "poll");
	assert_int_equal(rh_int(r, "idle_spin_us"), 500);
	json_object_put(r);

	/* The spin time alone; the older parameter name still works. */
	rh_ok_true(&c, "nvmft_set_wait_mode", "{\"idle_spin_us\":0}");
	rh_ok_true(&c, "nvmft_set_wait_mode", "{\"wait_mode\":\"adaptive\"}");
	r = rh_ok(&c, "nvmft_get_reactors", NULL);
	assert_string_equal(rh_str(r, "wait_mode"), "adaptive");
	assert_int_equal(rh_int(r, "idle_spin_us"), 0);
	json_object_put(r);

	assert_int_equal(rh_err(&c, "nvmft_set_wait_mode", msg, sizeof(msg),
				"{\"mode\":\"sometimes\"}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.mode: \"sometimes\"");
	assert_int_equal(rh_err(&c, "nvmft_set_wait_mode", msg, sizeof(msg),
				"{\"mode\":\"poll\",\"idle_spin_us\":2000000}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.idle_spin_us: 2000000");
	assert_int_equal(rh_err(&c, "nvmft_set_wait_mode", msg, sizeof(msg), "{}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.mode");
	/* A refused call changed nothing. */
	r = rh_ok(&c, "nvmft_get_reactors", NULL);
	assert_string_equal(rh_str(r, "wait_mode"), "adaptive");
	json_object_put(r);

	rh_ok_true(&c, "nvmft_set_wait_mode", "{\"mode\":\"interrupt\",\"idle_spin_us\":750}");
	t = save_text(&c);
	assert_contains(t, "wait_mode = \"interrupt\";");
	assert_contains(t, "idle_spin_us = 750;");
	free(t);
	rh_close(&c);
	rh_stop(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pools_are_created_listed_and_deleted),
		cmocka_unit_test(pool_parameters_are_validated),
		cmocka_unit_test(volume_is_served_with_verified_io),
		cmocka_unit_test(save_config_recreates_pools_and_volumes),
		cmocka_unit_test(set_wait_mode_changes_mode_and_spin),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("rpc_hbd", tests, NULL, NULL);
}
