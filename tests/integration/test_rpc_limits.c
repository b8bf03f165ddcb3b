/* SPDX-License-Identifier: MIT */
/*
 * JSON-RPC of the connection and resource limits: a listener's
 * max_connections (nvmf_subsystem_add_listener, nvmf_get_subsystems), a
 * connection's share of the buffer pool (nvmf_create_transport,
 * nvmf_get_transports), the counters of nvmf_get_stats (refused
 * connections, per listener, connect timeouts), and the save_config round
 * trip of the target, listener and transport limits.
 */
#include "test_rpc_harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>

#include <nvmft/config.h>

#define NQN1 "nqn.2016-06.io.spdk:cnode1"

static int tcp_connect(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* The peer closes within @ms: true. */
static bool closed_within(int fd, int ms)
{
	uint64_t end = rh_now_ms() + (uint64_t)ms;
	char junk[512];

	while (rh_now_ms() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 50) <= 0)
			continue;
		n = recv(fd, junk, sizeof(junk), 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
	}
	return false;
}

/* An ICReq (NVMe/TCP, 128 bytes, no digests) and its ICResp. */
static void ic_exchange(int fd)
{
	uint8_t req[128] = { 0 }, rsp[128];
	size_t got = 0;

	req[0] = 0x00;		/* ICReq */
	req[2] = 128;		/* HLEN */
	req[4] = 128;		/* PLEN, little endian */
	assert_int_equal(send(fd, req, sizeof(req), MSG_NOSIGNAL), (ssize_t)sizeof(req));
	while (got < sizeof(rsp)) {
		ssize_t n = recv(fd, rsp + got, sizeof(rsp) - got, 0);

		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_int_equal(rsp[0], 0x01);	/* ICResp */
}

static void setup_subsystem(struct rh_conn *c, const char *transport_extra)
{
	rh_ok_true(c, "nvmf_create_transport", "{\"trtype\":\"TCP\"%s}", transport_extra);
	json_object_put(rh_ok(c, "bdev_malloc_create", "{\"name\":\"Malloc0\","
			      "\"num_blocks\":2048,\"block_size\":512}"));
	rh_ok_true(c, "nvmf_create_subsystem", "{\"nqn\":\"" NQN1 "\",\"allow_any_host\":true}");
	json_object_put(rh_ok(c, "nvmf_subsystem_add_ns", "{\"nqn\":\"" NQN1 "\",\"namespace\":"
			      "{\"bdev_name\":\"Malloc0\"}}"));
}

static struct json_object *find_listener(struct json_object *subsys_list, int port)
{
	struct json_object *s = json_object_array_get_idx(subsys_list, 0);
	struct json_object *l = rh_get(s, "listen_addresses");
	char p[8];

	snprintf(p, sizeof(p), "%d", port);
	for (size_t i = 0; i < json_object_array_length(l); i++) {
		struct json_object *e = json_object_array_get_idx(l, i);

		if (!strcmp(rh_str(e, "trsvcid"), p))
			return e;
	}
	fail_msg("no listener on port %d", port);
	return NULL;
}

static void add_listener_max_connections_is_shown_and_checked(void **state)
{
	struct rh_env e;
	struct rh_conn c;
	struct json_object *r, *l;
	char msg[512];
	int port = rh_free_port(), port2 = rh_free_port(), fds[2], extra;

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	setup_subsystem(&c, "");
	/* out of range, and not a number: -32602 naming the parameter */
	assert_int_equal(rh_err(&c, "nvmf_subsystem_add_listener", msg, sizeof(msg),
				"{\"nqn\":\"" NQN1 "\",\"max_connections\":2000000,"
				"\"listen_address\":{\"trtype\":\"tcp\",\"traddr\":"
				"\"127.0.0.1\",\"trsvcid\":\"%d\"}}", port),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "max_connections");
	assert_contains(msg, "2000000");
	assert_int_equal(rh_err(&c, "nvmf_subsystem_add_listener", msg, sizeof(msg),
				"{\"nqn\":\"" NQN1 "\",\"max_connections\":-1,"
				"\"listen_address\":{\"trtype\":\"tcp\",\"traddr\":"
				"\"127.0.0.1\",\"trsvcid\":\"%d\"}}", port),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "max_connections");

	rh_ok_true(&c, "nvmf_subsystem_add_listener", "{\"nqn\":\"" NQN1 "\","
		   "\"max_connections\":2,\"listen_address\":{\"trtype\":\"tcp\","
		   "\"traddr\":\"127.0.0.1\",\"trsvcid\":\"%d\"}}", port);
	/* without the parameter: no limit of its own */
	rh_ok_true(&c, "nvmf_subsystem_add_listener", "{\"nqn\":\"" NQN1 "\","
		   "\"listen_address\":{\"trtype\":\"tcp\",\"traddr\":\"127.0.0.1\","
		   "\"trsvcid\":\"%d\"}}", port2);
	r = rh_ok(&c, "nvmf_get_subsystems", "{\"nqn\":\"" NQN1 "\"}");
	l = find_listener(r, port);
	assert_int_equal(rh_int(l, "max_connections"), 2);
	assert_int_equal(rh_int(l, "connections"), 0);
	assert_int_equal(rh_int(l, "refused_connections"), 0);
	assert_int_equal(rh_int(find_listener(r, port2), "max_connections"), 0);
	json_object_put(r);

	/* the limit holds: two in, the third closed and counted */
	fds[0] = tcp_connect(port);
	ic_exchange(fds[0]);
	fds[1] = tcp_connect(port);
	ic_exchange(fds[1]);
	extra = tcp_connect(port);
	assert_true(closed_within(extra, 5000));
	close(extra);
	r = rh_ok(&c, "nvmf_get_subsystems", "{\"nqn\":\"" NQN1 "\"}");
	l = find_listener(r, port);
	assert_int_equal(rh_int(l, "connections"), 2);
	assert_int_equal(rh_int(l, "refused_connections"), 1);
	json_object_put(r);
	r = rh_ok(&c, "nvmf_get_stats", NULL);
	assert_int_equal(rh_int(r, "refused_connections"), 1);
	assert_int_equal(rh_int(r, "connections"), 2);
	assert_int_equal(rh_int(r, "max_connections"), 4096);
	assert_int_equal(json_object_array_length(rh_get(r, "listeners")), 2);
	json_object_put(r);
	close(fds[0]);
	close(fds[1]);
	rh_close(&c);
	rh_stop(&e);
}

static void create_transport_share_is_shown_and_checked(void **state)
{
	struct rh_env e;
	struct rh_conn c;
	struct json_object *r;
	char msg[512];

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	assert_int_equal(rh_err(&c, "nvmf_create_transport", msg, sizeof(msg),
				"{\"trtype\":\"TCP\",\"max_conn_buf_share_pct\":0}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "max_conn_buf_share_pct");
	assert_int_equal(rh_err(&c, "nvmf_create_transport", msg, sizeof(msg),
				"{\"trtype\":\"TCP\",\"max_conn_buf_share_pct\":101}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "max_conn_buf_share_pct");
	rh_ok_true(&c, "nvmf_create_transport",
		   "{\"trtype\":\"TCP\",\"max_conn_buf_share_pct\":10}");
	r = rh_ok(&c, "nvmf_get_transports", NULL);
	assert_int_equal(rh_int(json_object_array_get_idx(r, 0), "max_conn_buf_share_pct"), 10);
	json_object_put(r);
	rh_close(&c);
	rh_stop(&e);
}

/* A connection that does the IC exchange and never sends Connect. */
static void get_stats_counts_connect_timeouts(void **state)
{
	struct rh_env e;
	struct rh_conn c;
	struct json_object *r, *pgs;
	int64_t timeouts = 0, share_waits = -1;
	int port = rh_free_port(), fd;

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	setup_subsystem(&c, ",\"icreq_timeout_ms\":200");
	rh_ok_true(&c, "nvmf_subsystem_add_listener", "{\"nqn\":\"" NQN1 "\","
		   "\"listen_address\":{\"trtype\":\"tcp\",\"traddr\":\"127.0.0.1\","
		   "\"trsvcid\":\"%d\"}}", port);
	fd = tcp_connect(port);
	ic_exchange(fd);
	assert_true(closed_within(fd, 5000));
	close(fd);
	r = rh_ok(&c, "nvmf_get_stats", NULL);
	pgs = rh_get(r, "poll_groups");
	for (size_t i = 0; i < json_object_array_length(pgs); i++) {
		struct json_object *t = rh_get(json_object_array_get_idx(pgs, i), "transports");
		struct json_object *tcp = json_object_array_get_idx(t, 0);

		timeouts += rh_int(tcp, "connect_timeouts");
		share_waits = rh_int(tcp, "buf_share_waits");
	}
	assert_int_equal(timeouts, 1);
	assert_int_equal(share_waits, 0);
	assert_int_equal(rh_int(r, "refused_connections"), 0);
	json_object_put(r);
	rh_close(&c);
	rh_stop(&e);
}

/* ---- save_config ------------------------------------------------------------- */

static char *save_text(struct rh_conn *c)
{
	struct json_object *r = rh_ok(c, "save_config", NULL);
	char *t = strdup(json_object_get_string(r));

	json_object_put(r);
	return t;
}

static void start_tgt_from_cfg(void *arg)
{
	void **a = arg;
	struct rh_env *e = a[0];
	struct nvmft_tgt_opts o;

	nvmft_config_tgt_opts(a[1], &o);
	e->rc = nvmft_tgt_create(e->rt, &o, &e->tgt);
	if (!e->rc)
		e->rc = nvmft_rpc_server_create(e->tgt, e->path, 0600, &e->srv);
}

/* A fresh target made from @text as the daemon makes it. */
static void start_from_text(struct rh_env *e, const char *text)
{
	struct nvmft_runtime_opts ro;
	struct nvmft_config *cfg;
	char err[1024];
	void *a[2];

	memset(e, 0, sizeof(*e));
	e->fds_before = rh_count_fds();
	snprintf(e->dir, sizeof(e->dir), "/tmp/nvmft-rpc-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->path, sizeof(e->path), "%s/rpc.sock", e->dir);
	if (nvmft_config_load_string(text, "saved", &cfg, err, sizeof(err)))
		fail_msg("saved configuration does not load: %s\n%s", err, text);
	nvmft_config_runtime_opts(cfg, &ro);
	ro.nr_reactors = 2;
	ro.name = "tlim2";
	assert_int_equal(nvmft_runtime_create(&ro, &e->rt), 0);
	nvmft_runtime_set_log(e->rt, NVMFT_LOG_ERR, rh_quiet_log, NULL);
	assert_int_equal(nvmft_runtime_start(e->rt), 0);
	a[0] = e;
	a[1] = cfg;
	assert_int_equal(nvmft_runtime_exec(e->rt, 0, start_tgt_from_cfg, a), 0);
	assert_int_equal(e->rc, 0);
	if (nvmft_config_apply(cfg, e->tgt, err, sizeof(err)))
		fail_msg("saved configuration does not apply: %s\n%s", err, text);
	nvmft_config_free(cfg);
}

static void save_config_keeps_the_limits(void **state)
{
	struct rh_env e;
	struct rh_conn c;
	struct json_object *r;
	int port = rh_free_port(), dport = rh_free_port();
	char *t1, *t2, want[128];
	const char *b1, *b2;

	start_from_text(&e, "target = { max_connections = 10000; max_subsystems = 16; };\n"
			    "transports = ( { type = \"TCP\"; max_conn_buf_share_pct = 40; } );\n");
	assert_int_equal(rh_open(&c, e.path), 0);
	json_object_put(rh_ok(&c, "bdev_malloc_create", "{\"name\":\"Malloc0\","
			      "\"num_blocks\":2048,\"block_size\":512}"));
	rh_ok_true(&c, "nvmf_create_subsystem", "{\"nqn\":\"" NQN1 "\",\"allow_any_host\":true}");
	rh_ok_true(&c, "nvmf_subsystem_add_listener", "{\"nqn\":\"" NQN1 "\","
		   "\"max_connections\":7,\"listen_address\":{\"trtype\":\"tcp\","
		   "\"traddr\":\"127.0.0.1\",\"trsvcid\":\"%d\"}}", port);
	rh_ok_true(&c, "nvmf_subsystem_add_listener", "{\"nqn\":\"nqn.2014-08.org."
		   "nvmexpress.discovery\",\"max_connections\":3,\"listen_address\":"
		   "{\"trtype\":\"tcp\",\"traddr\":\"127.0.0.1\",\"trsvcid\":\"%d\"}}", dport);
	t1 = save_text(&c);
	if (getenv("RPC_TEST_PRINT"))
		fprintf(stderr, "%s", t1);
	assert_contains(t1, "max_connections = 10000;");
	assert_contains(t1, "max_subsystems = 16;");
	assert_contains(t1, "max_conn_buf_share_pct = 40;");
	snprintf(want, sizeof(want), "trsvcid = \"%d\"; adrfam = \"IPv4\"; max_connections = 7;",
		 port);
	assert_contains(t1, want);
	snprintf(want, sizeof(want), "trsvcid = \"%d\"; adrfam = \"IPv4\"; max_connections = 3;",
		 dport);
	assert_contains(t1, want);
	rh_close(&c);
	rh_stop(&e);

	start_from_text(&e, t1);
	assert_int_equal(rh_open(&c, e.path), 0);
	t2 = save_text(&c);
	b1 = strchr(t1, '\n');
	b2 = strchr(t2, '\n');
	assert_non_null(b1);
	assert_non_null(b2);
	if (strcmp(b1, b2))
		fail_msg("changed across save/load/apply:\n%s\n---\n%s", t1, t2);
	r = rh_ok(&c, "nvmf_get_stats", NULL);
	assert_int_equal(rh_int(r, "max_connections"), 10000);
	json_object_put(r);
	free(t1);
	free(t2);
	rh_close(&c);
	rh_stop(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(add_listener_max_connections_is_shown_and_checked),
		cmocka_unit_test(create_transport_share_is_shown_and_checked),
		cmocka_unit_test(get_stats_counts_connect_timeouts),
		cmocka_unit_test(save_config_keeps_the_limits),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("rpc_limits", tests, NULL, NULL);
}
