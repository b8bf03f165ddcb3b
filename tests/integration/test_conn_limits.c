/* SPDX-License-Identifier: MIT */
/*
 * Connection and resource limits on a real target (2 reactors, io_uring and
 * epoll engines, malloc namespace, 127.0.0.1):
 *  - a listener's own max_connections: N served, the next one closed at
 *    accept (counted, logged at most once a second), room again once one
 *    goes, another listener of the same target unaffected;
 *  - the target's max_connections taken from a configuration file;
 *  - a connection's share of the data buffer pool set by
 *    max_conn_buf_share_pct: a host that stops reading holds no more.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include <nvmft/config.h>
#include "hostile_harness.h"

#define LIMIT		3
#define STALL_DEPTH	128
#define STALL_READ	(256u * 1024)	/* two io units per read */
#define SHARE_PCT	10

static enum nvmft_engine group_engine(void **state)
{
	return ((struct tt_target *)*state)->engine;
}

static int group_setup(void **state, enum nvmft_engine engine)
{
	static struct tt_target targets[2];
	struct tt_target *t = &targets[engine == NVMFT_ENGINE_EPOLL];
	int rc = tt_target_start(t, engine, NULL);

	*state = t;
	return rc;
}

static int setup_uring(void **state) { return group_setup(state, NVMFT_ENGINE_URING); }
static int setup_epoll(void **state) { return group_setup(state, NVMFT_ENGINE_EPOLL); }

static int group_teardown(void **state)
{
	tt_target_stop(*state);
	return 0;
}

static uint16_t free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* ---- steps on the app reactor ------------------------------------------------- */

struct listen_call {
	struct tt_target *t;
	struct nvmft_listen_addr addr;
	uint32_t max;
	int rc;
	struct nvmft_listener_info info;
};

static void add_listener_step(void *arg)
{
	struct listen_call *c = arg;
	struct nvmft_listen_opts o;

	nvmft_listen_opts_init(&o);
	o.max_connections = c->max;
	c->rc = nvmft_subsystem_add_listener_ext(c->t->ss, &c->addr, &o);
}

static void remove_listener_step(void *arg)
{
	struct listen_call *c = arg;

	c->rc = nvmft_subsystem_remove_listener(c->t->ss, &c->addr);
}

static void listener_info_step(void *arg)
{
	struct listen_call *c = arg;

	c->rc = nvmft_tgt_get_listener_info(c->t->tgt, &c->addr, &c->info);
}

static struct nvmft_listener_info listener_info(struct listen_call *c)
{
	assert_int_equal(nvmft_runtime_exec(c->t->rt, 0, listener_info_step, c), 0);
	assert_int_equal(c->rc, 0);
	return c->info;
}

/* Wait (bounded) until the listener counts @n connections. */
static void wait_listener_conns(struct listen_call *c, uint32_t n)
{
	uint64_t end = tt_now_ms() + TT_WAIT_MS;

	while (listener_info(c).nr_connections != n) {
		if (tt_now_ms() > end)
			fail_msg("listener holds %u connections, want %u",
				 c->info.nr_connections, n);
		tt_sleep_ms(5);
	}
}

/* A connection to @port that the target serves: the IC exchange works. */
static int served_conn(uint16_t port)
{
	int fd = sock_connect_blocking("127.0.0.1", port);

	assert_true(fd >= 0);
	assert_int_equal(raw_icreq(fd, 0, 0, NULL), 0);
	return fd;
}

/* ---- a listener's own limit ----------------------------------------------------- */

static void test_listener_limit_refuses_extra_and_recovers(void **state)
{
	struct tt_target *t = *state;
	static struct hh_log log = HH_LOG_INIT;
	struct listen_call c = { .t = t, .max = LIMIT };
	struct nvmft_listener_info i0;
	struct hh_tgt_counts tc0, tc1;
	char port[8];
	int fds[LIMIT], extra[3], base_fds;

	hh_wait_target_empty(t);
	base_fds = hh_fd_count();
	snprintf(port, sizeof(port), "%u", free_port());
	assert_int_equal(nvmft_listen_addr_init(&c.addr, "127.0.0.1", port), 0);
	assert_int_equal(nvmft_runtime_exec(t->rt, 0, add_listener_step, &c), 0);
	assert_int_equal(c.rc, 0);
	i0 = listener_info(&c);
	assert_int_equal(i0.max_connections, LIMIT);
	assert_int_equal(i0.nr_connections, 0);
	tc0 = hh_counts(t);

	hh_log_count(t, &log, "listener max_connections reached");
	for (int i = 0; i < LIMIT; i++)
		fds[i] = served_conn((uint16_t)atoi(port));
	wait_listener_conns(&c, LIMIT);
	/* beyond the limit: the kernel accepts, the target closes at once */
	for (int i = 0; i < 3; i++) {
		extra[i] = sock_connect_blocking("127.0.0.1", (uint16_t)atoi(port));
		assert_true(extra[i] >= 0);
		assert_int_equal(raw_expect_close(extra[i], 5000), 0);
		close(extra[i]);
	}
	assert_int_equal(listener_info(&c).refused_connections,
			 i0.refused_connections + 3);
	tc1 = hh_counts(t);
	assert_int_equal(tc1.refused - tc0.refused, 3);
	/* three refusals within a second: one line, with the count */
	assert_true(hh_log_hits(&log) >= 1);
	assert_true(hh_log_hits(&log) <= 2);
	hh_log_reset(t, &log);

	/* the connections within the limit are still served */
	for (int i = 0; i < LIMIT; i++) {
		struct nvmft_sqe sqe = hh_fabrics_sqe(nvme_fabrics_type_property_get);
		struct hh_q q = { .fd = fds[i] };
		struct nvmft_cqe cqe;

		/* before Connect: answered with an error, not closed */
		sqe.cdw11 = htole32(NVME_REG_CSTS);
		assert_int_equal(hh_send_cmd(&q, &sqe, NULL, 0), 0);
		assert_int_equal(hh_wait_rsp(&q, &cqe), 0);
	}

	/* the other listener of the target is not limited by this one */
	hh_assert_normal_host_served(t);

	/* one goes: room for one more, and only one */
	close(fds[0]);
	wait_listener_conns(&c, LIMIT - 1);
	fds[0] = served_conn((uint16_t)atoi(port));
	wait_listener_conns(&c, LIMIT);
	extra[0] = sock_connect_blocking("127.0.0.1", (uint16_t)atoi(port));
	assert_true(extra[0] >= 0);
	assert_int_equal(raw_expect_close(extra[0], 5000), 0);
	close(extra[0]);
	assert_int_equal(listener_info(&c).refused_connections,
			 i0.refused_connections + 4);

	for (int i = 0; i < LIMIT; i++)
		close(fds[i]);
	wait_listener_conns(&c, 0);
	assert_int_equal(nvmft_runtime_exec(t->rt, 0, remove_listener_step, &c), 0);
	assert_int_equal(c.rc, 0);
	hh_wait_target_empty(t);
	assert_int_equal(hh_fd_count(), base_fds);
}

/* The address's options are shared: a later add with a limit replaces it,
 * one without leaves it; out of range is refused. */
static void test_listener_limit_is_shared_by_the_address(void **state)
{
	struct tt_target *t = *state;
	struct listen_call c = { .t = t, .max = 5 };
	char port[8];

	snprintf(port, sizeof(port), "%u", free_port());
	assert_int_equal(nvmft_listen_addr_init(&c.addr, "127.0.0.1", port), 0);
	c.max = NVMFT_MAX_CONNECTIONS_LIMIT + 1;
	assert_int_equal(nvmft_runtime_exec(t->rt, 0, add_listener_step, &c), 0);
	assert_int_equal(c.rc, -EINVAL);
	c.max = 5;
	assert_int_equal(nvmft_runtime_exec(t->rt, 0, add_listener_step, &c), 0);
	assert_int_equal(c.rc, 0);
	assert_int_equal(listener_info(&c).max_connections, 5);
	/* the same subsystem twice: -EEXIST, the limit stays */
	c.max = 9;
	assert_int_equal(nvmft_runtime_exec(t->rt, 0, add_listener_step, &c), 0);
	assert_int_equal(c.rc, -EEXIST);
	assert_int_equal(listener_info(&c).max_connections, 5);
	assert_int_equal(nvmft_runtime_exec(t->rt, 0, remove_listener_step, &c), 0);
	assert_int_equal(c.rc, 0);
	/* gone with its last user */
	assert_int_equal(nvmft_runtime_exec(t->rt, 0, listener_info_step, &c), 0);
	assert_int_equal(c.rc, -ENOENT);
}

/* ---- the target's limit from a configuration file -------------------------------- */

struct cfg_tgt {
	struct nvmft_runtime *rt;
	struct nvmft_config *cfg;
	struct nvmft_tgt *tgt;
	int rc;
	_Atomic int done;
	struct nvmft_tgt_conn_stats cs;
};

static void cfg_create_step(void *arg)
{
	struct cfg_tgt *c = arg;
	struct nvmft_tgt_opts o;

	nvmft_config_tgt_opts(c->cfg, &o);
	c->rc = nvmft_tgt_create(c->rt, &o, &c->tgt);
}

static void cfg_destroy_done(void *arg, int rc)
{
	atomic_store(&((struct cfg_tgt *)arg)->done, 1);
}

static void cfg_destroy_step(void *arg)
{
	struct cfg_tgt *c = arg;

	nvmft_tgt_destroy(c->tgt, cfg_destroy_done, c);
}

static void cfg_stats_step(void *arg)
{
	struct cfg_tgt *c = arg;

	nvmft_tgt_get_conn_stats(c->tgt, &c->cs);
}

static void test_target_limit_from_config_is_honoured(void **state)
{
	enum nvmft_engine engine = group_engine(state);
	struct nvmft_runtime_opts ro;
	struct cfg_tgt c = { 0 };
	struct nvmft_tgt_opts o;
	uint16_t port = free_port();
	char text[1024], err[512];
	int fds[3], extra;
	uint64_t end;

	snprintf(text, sizeof(text),
		 "target = { max_connections = 3; max_subsystems = 8; };\n"
		 "transports = ( { type = \"TCP\"; } );\n"
		 "bdevs = ( { name = \"M0\"; type = \"malloc\"; size = \"1M\"; block_size = 512; } );\n"
		 "subsystems = ( { nqn = \"" TT_NQN "\"; allow_any_host = true;\n"
		 "  namespaces = ( { bdev = \"M0\"; } );\n"
		 "  listeners = ( { traddr = \"127.0.0.1\"; trsvcid = \"%u\"; max_connections = 64; } );\n"
		 "} );\n", port);
	if (nvmft_config_load_string(text, "limits.conf", &c.cfg, err, sizeof(err)))
		fail_msg("%s", err);
	nvmft_config_tgt_opts(c.cfg, &o);
	assert_int_equal(o.max_connections, 3);
	assert_int_equal(o.max_subsystems, 8);
	nvmft_config_runtime_opts(c.cfg, &ro);
	ro.nr_reactors = 2;
	ro.engine = engine;
	ro.name = "tlim";
	assert_int_equal(nvmft_runtime_create(&ro, &c.rt), 0);
	nvmft_runtime_set_log(c.rt, NVMFT_LOG_ERR, tt_quiet_log, NULL);
	assert_int_equal(nvmft_runtime_start(c.rt), 0);
	assert_int_equal(nvmft_runtime_exec(c.rt, 0, cfg_create_step, &c), 0);
	assert_int_equal(c.rc, 0);
	if (nvmft_config_apply(c.cfg, c.tgt, err, sizeof(err)))
		fail_msg("%s", err);

	for (int i = 0; i < 3; i++)
		fds[i] = served_conn(port);
	extra = sock_connect_blocking("127.0.0.1", port);
	assert_true(extra >= 0);
	assert_int_equal(raw_expect_close(extra, 5000), 0);
	close(extra);
	assert_int_equal(nvmft_runtime_exec(c.rt, 0, cfg_stats_step, &c), 0);
	assert_int_equal(c.cs.nr_connections, 3);
	assert_int_equal(c.cs.refused_connections, 1);
	for (int i = 0; i < 3; i++)
		close(fds[i]);

	assert_int_equal(nvmft_runtime_exec(c.rt, 0, cfg_destroy_step, &c), 0);
	end = tt_now_ms() + TT_WAIT_MS;
	while (!atomic_load(&c.done) && tt_now_ms() < end)
		tt_sleep_ms(2);
	assert_true(atomic_load(&c.done));
	nvmft_runtime_stop(c.rt);
	nvmft_runtime_destroy(c.rt);
	nvmft_config_free(c.cfg);
}

/* ---- a connection's share of the buffer pool -------------------------------------- */

static void test_share_option_is_validated(void **state)
{
	struct nvmft_transport_opts o;

	(void)state;
	assert_int_equal(nvmft_transport_opts_init("TCP", &o), 0);
	assert_int_equal(o.max_conn_buf_share_pct, 25);
	assert_int_equal(nvmf_tcp_ops.opts_check(NULL, &o), 0);
	o.max_conn_buf_share_pct = 0;
	assert_int_equal(nvmf_tcp_ops.opts_check(NULL, &o), -EINVAL);
	o.max_conn_buf_share_pct = 101;
	assert_int_equal(nvmf_tcp_ops.opts_check(NULL, &o), -EINVAL);
	o.max_conn_buf_share_pct = 100;
	assert_int_equal(nvmf_tcp_ops.opts_check(NULL, &o), 0);
}

static void test_stalled_host_holds_at_most_its_share(void **state)
{
	static struct tt_target st;
	struct nvmft_transport_opts o;
	struct tcp_pg_stats before, mid;
	struct hh_q admin = { 0 }, io = { 0 };
	uint32_t share, held;
	int small = 4096;

	nvmft_transport_opts_init("TCP", &o);
	o.max_conn_buf_share_pct = SHARE_PCT;
	assert_int_equal(tt_target_start(&st, group_engine(state), &o), 0);
	share = o.num_shared_buffers * SHARE_PCT / 100;
	assert_int_equal(tt_stats(&st, &before), 0);
	hh_admin(&st, &admin, 0);
	assert_int_equal(hh_connect_q(&st, &io, 1, STALL_DEPTH - 1, admin.cntlid, 0), 0);
	assert_int_equal(setsockopt(io.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	for (int i = 0; i < STALL_DEPTH; i++) {
		struct nvmft_sqe sqe;

		hh_read_sqe(&sqe, (uint64_t)i * (STALL_READ / TT_LBA), STALL_READ);
		assert_int_equal(hh_send_cmd(&io, &sqe, NULL, 0), 0);
	}
	tt_sleep_ms(1000);
	assert_int_equal(tt_stats(&st, &mid), 0);
	held = mid.bufs_total - mid.bufs_free;
	printf("note: share %u%%: %u of %u buffers held (cap %u), %lu share waits\n",
	       SHARE_PCT, held, mid.bufs_total, share,
	       (unsigned long)(mid.buf_share_waits - before.buf_share_waits));
	assert_true(mid.buf_share_waits > before.buf_share_waits);
	assert_true(held <= share);
	/* and it does fill its share (the default 25% would allow 128) */
	assert_true(held + 2 >= share - share % 2);
	hh_assert_normal_host_served(&st);
	close(io.fd);
	close(admin.fd);
	tt_target_stop(&st);
}

#define CONN_LIMITS_TESTS							\
	cmocka_unit_test(test_listener_limit_refuses_extra_and_recovers),	\
	cmocka_unit_test(test_listener_limit_is_shared_by_the_address),	\
	cmocka_unit_test(test_target_limit_from_config_is_honoured),		\
	cmocka_unit_test(test_share_option_is_validated),			\
	cmocka_unit_test(test_stalled_host_holds_at_most_its_share)

int main(void)
{
	const struct CMUnitTest tests[] = { CONN_LIMITS_TESTS };
	int fails = 0;

	/* io_uring may be blocked (containers): then only epoll runs. */
	if (tt_engine_usable(NVMFT_ENGINE_URING))
		fails += cmocka_run_group_tests_name("conn_limits_uring", tests,
						     setup_uring, group_teardown);
	else
		printf("note: io_uring unavailable, uring group not run\n");
	fails += cmocka_run_group_tests_name("conn_limits_epoll", tests,
					     setup_epoll, group_teardown);
	return fails ? 1 : 0;
}
