/* SPDX-License-Identifier: MIT */
/*
 * Sock groups: listeners, addresses, echo, resets, close semantics,
 * moving connections between reactors, teardown. Every scenario runs on
 * io_uring and on epoll, over 127.0.0.1 and ::1.
 */
#include "test_sock_harness.h"

#include <arpa/inet.h>
#include <sys/resource.h>

/* ---- listeners and addresses ---- */

struct addr_check {
	struct echo_srv *srv;
	int rc_peer, rc_local;
	char peer[64], local[64];
	uint16_t peer_port, local_port;
};

static void check_addrs(void *arg)
{
	struct addr_check *a = arg;
	struct nsock *s = a->srv->last->s;

	a->rc_peer = nsock_peer(s, a->peer, sizeof(a->peer), &a->peer_port);
	a->rc_local = nsock_local(s, a->local, sizeof(a->local),
				  &a->local_port);
}

static void listen_ephemeral_port_reports_port_and_addresses(
	const struct variant *v)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct addr_check a = { 0 };
	struct echo_srv srv;
	uint16_t client_port;
	char buf[5];
	struct h h;
	int fd;

	h_start(&h, v, 1);
	echo_init(&srv);
	echo_start(&srv, &h, 1);
	fd = h_connect(v, srv.port);
	assert_true(fd >= 0);
	assert_int_equal(h_write_all(fd, "hello", 5), 0);
	assert_int_equal(h_read_all(fd, buf, 5), 0);
	assert_memory_equal(buf, "hello", 5);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	client_port = ntohs(v->family == AF_INET ?
			    ((struct sockaddr_in *)&ss)->sin_port :
			    ((struct sockaddr_in6 *)&ss)->sin6_port);
	a.srv = &srv;
	h_exec(&h, 0, check_addrs, &a);
	assert_int_equal(a.rc_peer, 0);
	assert_int_equal(a.rc_local, 0);
	assert_string_equal(a.peer, v->addr);
	assert_string_equal(a.local, v->addr);
	assert_int_equal(a.peer_port, client_port);
	assert_int_equal(a.local_port, srv.port);

	close(fd);
	assert_true(echo_wait_idle(&srv, 1));
	echo_stop(&srv);
	h_stop(&h);
}
DEFINE_VARIANTS(listen_ephemeral_port_reports_port_and_addresses)

struct listen_try {
	struct echo_srv *srv;
	const char *addr;
	uint16_t port;
	int rc;
	unsigned int count;
};

static void noop_accept(struct sock_listener *l, int fd,
			const struct sockaddr *peer, socklen_t peer_len,
			void *ctx)
{
	close(fd);
}

static void try_listen(void *arg)
{
	struct listen_try *t = arg;
	struct sock_listener *l = NULL;

	t->rc = sock_listen(t->srv->g[0], t->addr, t->port, 0, noop_accept,
			    NULL, &l);
	t->count = sock_group_count(t->srv->g[0]);
	if (!t->rc)
		sock_listener_close(l, NULL, NULL);
}

static void listen_on_taken_port_fails_eaddrinuse(const struct variant *v)
{
	struct listen_try t = { 0 };
	struct echo_srv srv;
	struct h h;

	h_start(&h, v, 1);
	echo_init(&srv);
	echo_start(&srv, &h, 1);
	t.srv = &srv;
	t.addr = v->addr;
	t.port = srv.port;
	h_exec(&h, 0, try_listen, &t);
	assert_int_equal(t.rc, -EADDRINUSE);
	assert_int_equal(t.count, 1);	/* only the first listener */
	echo_stop(&srv);
	h_stop(&h);
}
DEFINE_VARIANTS(listen_on_taken_port_fails_eaddrinuse)

static void listen_bad_address_fails_einval(const struct variant *v)
{
	static const char *const bad[] = {
		"1.2.3", "256.1.1.1", "localhost", "::g", "[::1", "1.2.3.4 ",
		"fe80::1%nosuchif",
	};
	struct listen_try t = { 0 };
	struct echo_srv srv;
	unsigned int i;
	struct h h;

	h_start(&h, v, 1);
	echo_init(&srv);
	echo_start(&srv, &h, 1);
	t.srv = &srv;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t.addr = bad[i];
		t.rc = 0;
		h_exec(&h, 0, try_listen, &t);
		assert_int_equal(t.rc, -EINVAL);
		assert_int_equal(t.count, 1);
		assert_int_equal(sock_connect_blocking(bad[i], 4420), -EINVAL);
	}
	/* The accepted spellings: any IPv4, and a bracketed IPv6 literal. */
	t.addr = "*";
	h_exec(&h, 0, try_listen, &t);
	assert_int_equal(t.rc, 0);
	t.addr = "";
	h_exec(&h, 0, try_listen, &t);
	assert_int_equal(t.rc, 0);
	if (h_ipv6_loopback()) {
		t.addr = "[::1]";
		h_exec(&h, 0, try_listen, &t);
		assert_int_equal(t.rc, 0);
	}
	echo_stop(&srv);
	h_stop(&h);
}
DEFINE_ENGINES(listen_bad_address_fails_einval)

/* IPV6_V6ONLY: "::" does not take the IPv4 side of the port. */
static void ipv6_and_ipv4_wildcards_share_a_port(const struct variant *v)
{
	struct listen_try t = { 0 };
	struct echo_srv srv;
	struct h h;

	if (!h_ipv6_loopback()) {
		print_message("SKIP: no IPv6 loopback (::1) on this machine\n");
		skip();
	}
	h_start(&h, v, 1);
	echo_init(&srv);
	echo_start(&srv, &h, 1);	/* 127.0.0.1:P */
	t.srv = &srv;
	t.addr = "::";
	t.port = srv.port;
	h_exec(&h, 0, try_listen, &t);
	assert_int_equal(t.rc, 0);
	assert_int_equal(t.count, 2);
	echo_stop(&srv);
	h_stop(&h);
}
DEFINE_ENGINES(ipv6_and_ipv4_wildcards_share_a_port)

struct stats_get {
	struct echo_srv *srv;
	struct sock_group_stats st;
};

static void get_stats0(void *arg)
{
	struct stats_get *sg = arg;

	sock_group_get_stats(sg->srv->g[0], &sg->st);
}

/* Out of fds: accept fails with EMFILE; the listener backs off (no spin)
 * and takes the waiting connections once fds are back. */
static void listener_backs_off_on_emfile_and_recovers(const struct variant *v)
{
	struct stats_get sg = { 0 };
	struct rlimit old, lim;
	struct echo_srv srv;
	char buf[4];
	int fd[3], i;
	struct h h;

	h_start(&h, v, 1);
	echo_init(&srv);
	echo_start_groups(&srv, &h, 1);
	/* The clients' fds exist before the limit; connect needs none. */
	for (i = 0; i < 3; i++) {
		fd[i] = socket(v->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(fd[i] >= 0);
	}
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	lim = old;
	/* Room for exactly one more fd, the listener's. (Set before the
	 * listener exists: io_uring reads the limit when the accept is
	 * submitted, not when it completes.) */
	i = dup(0);
	assert_true(i >= 0);
	close(i);
	lim.rlim_cur = (rlim_t)i + 1;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
	srv.h = &h;
	h_exec(&h, 0, echo_listen, &srv);
	if (srv.listen_rc) {
		setrlimit(RLIMIT_NOFILE, &old);
		fail_msg("listen: %s", strerror(-srv.listen_rc));
	}
	for (i = 0; i < 3; i++) {
		struct sockaddr_storage ss = { 0 };
		socklen_t len;

		if (v->family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;

			a->sin_family = AF_INET;
			a->sin_port = htons(srv.port);
			a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			len = sizeof(*a);
		} else {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

			a->sin6_family = AF_INET6;
			a->sin6_port = htons(srv.port);
			a->sin6_addr = in6addr_loopback;
			len = sizeof(*a);
		}
		if (connect(fd[i], (struct sockaddr *)&ss, len) < 0) {
			setrlimit(RLIMIT_NOFILE, &old);
			fail_msg("connect: %s", strerror(errno));
		}
	}
	usleep(400 * 1000);
	sg.srv = &srv;
	h_exec(&h, 0, get_stats0, &sg);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(atomic_load(&srv.accepted), 0);
	/* ~4 retries at the 100 ms back-off; a spinning listener would
	 * have counted thousands. */
	assert_true(sg.st.accept_errors >= 1);
	assert_true(sg.st.accept_errors <= 20);
	assert_true(WAIT_FOR(atomic_load(&srv.accepted) == 3, H_WAIT_MS));
	for (i = 0; i < 3; i++) {
		assert_int_equal(h_write_all(fd[i], "abc", 3), 0);
		assert_int_equal(h_read_all(fd[i], buf, 3), 0);
		assert_memory_equal(buf, "abc", 3);
		close(fd[i]);
	}
	assert_true(echo_wait_idle(&srv, 3));
	echo_stop(&srv);
	h_stop(&h);
}
DEFINE_VARIANTS(listener_backs_off_on_emfile_and_recovers)

/* ---- echo ---- */

static void echo_round_trips(const struct variant *v, uint16_t port,
			     unsigned int rounds, size_t max_len, uint32_t seed)
{
	unsigned char *out = malloc(max_len), *in = malloc(max_len);
	unsigned int r;
	size_t i;
	int fd;

	assert_non_null(out);
	assert_non_null(in);
	fd = h_connect(v, port);
	assert_true(fd >= 0);
	for (r = 0; r < rounds; r++) {
		size_t len = 1 + (size_t)rand_r(&seed) % max_len;

		for (i = 0; i < len; i++)
			out[i] = h_pat(seed + r, i);
		assert_int_equal(h_write_all(fd, out, len), 0);
		assert_int_equal(h_read_all(fd, in, len), 0);
		assert_memory_equal(in, out, len);
	}
	close(fd);
	free(out);
	free(in);
}

static void echo_single_client_round_trips(const struct variant *v)
{
	struct echo_srv srv;
	struct h h;

	h_start(&h, v, 1);
	echo_init(&srv);
	echo_start(&srv, &h, 1);
	/* Up to ~1.5x the server's buffer: messages arrive in pieces. */
	echo_round_trips(v, srv.port, 200, ECHO_BUF * 3 / 2, 7);
	assert_true(echo_wait_idle(&srv, 1));
	echo_stop(&srv);
	assert_true(srv.stats[0].recvs >= 200);
	assert_int_equal(srv.stats[0].accepted, 1);
	h_stop(&h);
}
DEFINE_VARIANTS(echo_single_client_round_trips)

static void moved_connection_echoes_on_other_reactor(const struct variant *v)
{
	struct echo_srv srv;
	struct h h;

	h_start(&h, v, 2);
	echo_init(&srv);
	srv.target = 1;
	echo_start(&srv, &h, 2);
	echo_round_trips(v, srv.port, 50, 4096, 11);
	echo_round_trips(v, srv.port, 50, 4096, 12);
	assert_true(echo_wait_idle(&srv, 2));
	echo_stop(&srv);
	/* Accepted on reactor 0, served (and checked: wrong_thread == 0)
	 * on reactor 1. */
	assert_int_equal(srv.stats[0].accepted, 2);
	assert_int_equal(srv.stats[0].recvs, 0);
	assert_true(srv.stats[1].recvs >= 100);
	h_stop(&h);
}
DEFINE_VARIANTS(moved_connection_echoes_on_other_reactor)

/* ---- resets ---- */

static void abort_fd(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg,
				    sizeof(lg)), 0);
	close(fd);
}

static void peer_reset_closes_cleanly(const struct variant *v)
{
	struct echo_srv srv;
	char buf[10];
	struct h h;
	int fd, res;

	h_start(&h, v, 1);
	echo_init(&srv);
	echo_start(&srv, &h, 1);
	fd = h_connect(v, srv.port);
	assert_true(fd >= 0);
	assert_int_equal(h_write_all(fd, "0123456789", 10), 0);
	assert_int_equal(h_read_all(fd, buf, 10), 0);
	abort_fd(fd);
	assert_true(echo_wait_idle(&srv, 1));
	res = atomic_load(&srv.last_recv_res);
	assert_true(res == 0 || res == -ECONNRESET);
	echo_stop(&srv);
	h_stop(&h);
}
DEFINE_VARIANTS(peer_reset_closes_cleanly)

static unsigned char *make_payload(size_t len, uint32_t seed)
{
	unsigned char *p = malloc(len);
	size_t i;

	assert_non_null(p);
	for (i = 0; i < len; i++)
		p[i] = h_pat(seed, i);
	return p;
}

static void peer_reset_during_pending_send(const struct variant *v)
{
	struct echo_srv srv;
	int rcvbuf = 16384;
	struct h h;
	int fd, res;

	h_start(&h, v, 1);
	echo_init(&srv);
	srv.blast = true;
	srv.blast_len = 8 << 20;
	srv.blast_iovs = 4;
	srv.blast_buf = make_payload(srv.blast_len, 3);
	srv.sndbuf = 16384;
	echo_start(&srv, &h, 1);
	fd = h_connect(v, srv.port);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	assert_true(WAIT_FOR(atomic_load(&srv.open) == 1, H_WAIT_MS));
	usleep(50 * 1000);	/* let the send fill both buffers and stall */
	assert_int_equal(atomic_load(&srv.blast_done), 0);
	abort_fd(fd);
	assert_true(echo_wait_idle(&srv, 1));
	assert_int_equal(atomic_load(&srv.blast_done), 1);
	/* The send fails on the reset, or is cancelled when the failed
	 * receive made the server close first. */
	res = atomic_load(&srv.last_send_res);
	assert_true(res == -ECONNRESET || res == -EPIPE || res == -ECANCELED);
	echo_stop(&srv);
	free(srv.blast_buf);
	h_stop(&h);
}
DEFINE_VARIANTS(peer_reset_during_pending_send)

/* ---- close semantics ---- */

static void close_last(void *arg)
{
	struct echo_srv *srv = arg;

	nsock_close(srv->last->s);
	nsock_close(srv->last->s);	/* idempotent */
}

/* The client reads nothing: the server's recv and its 8 MiB send both stay
 * pending until the close. */
static void close_cancels_pending_recv_and_send(const struct variant *v,
						size_t zc_threshold)
{
	struct echo_srv srv;
	struct h h;
	char buf[4096];
	int fd;

	h_start(&h, v, 1);
	echo_init(&srv);
	srv.blast = true;
	srv.blast_len = 8 << 20;
	srv.blast_iovs = 5;
	srv.blast_buf = make_payload(srv.blast_len, 5);
	srv.sndbuf = 16384;
	srv.zc_threshold = zc_threshold;
	echo_start(&srv, &h, 1);
	fd = h_connect(v, srv.port);
	assert_true(fd >= 0);
	assert_true(WAIT_FOR(atomic_load(&srv.open) == 1, H_WAIT_MS));
	usleep(50 * 1000);
	assert_int_equal(atomic_load(&srv.blast_done), 0);
	h_exec(&h, 0, close_last, &srv);
	/* echo_closed checked: each operation completed once, then closed. */
	assert_true(echo_wait_idle(&srv, 1));
	assert_int_equal(atomic_load(&srv.blast_done), 1);
	assert_int_equal(atomic_load(&srv.last_recv_res), -ECANCELED);
	assert_int_equal(atomic_load(&srv.last_send_res), -ECANCELED);
	/* The truncated stream ends with a reset, not a clean EOF. */
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n <= 0) {
			assert_true(n < 0);
			assert_int_equal(errno, ECONNRESET);
			break;
		}
	}
	close(fd);
	echo_stop(&srv);
	if (v->engine == NVMFT_ENGINE_URING && zc_threshold &&
	    srv.zc_supported)
		assert_true(srv.stats[0].zc_sends > 0);
	assert_int_equal(srv.stats[0].cancelled, 2);
	free(srv.blast_buf);
	h_stop(&h);
}

static void close_cancels_pending_recv_and_send_plain(const struct variant *v)
{
	close_cancels_pending_recv_and_send(v, 0);
}
DEFINE_VARIANTS(close_cancels_pending_recv_and_send_plain)

static void close_cancels_pending_recv_and_send_zc(const struct variant *v)
{
	close_cancels_pending_recv_and_send(v, 4096);
}
DEFINE_VARIANTS(close_cancels_pending_recv_and_send_zc)

struct api_check {
	struct echo_srv *srv;
	int busy_recv, empty_recv, no_iov, too_many_iov, empty_iov;
	int first_send, busy_send, recv_after_close, send_after_close;
	bool recv_pending, send_pending;
	unsigned int count_before;
};

/* Post, then close in the same reactor call: nothing completes inside
 * these calls, everything completes (once) afterwards. */
static void api_calls_then_close(void *arg)
{
	struct api_check *a = arg;
	struct echo_conn *c = a->srv->last;
	struct iovec iov[NSOCK_MAX_IOV + 1];
	int i;

	for (i = 0; i <= NSOCK_MAX_IOV; i++)
		iov[i] = (struct iovec){ c->buf, 1 };
	a->count_before = sock_group_count(a->srv->g[0]);
	a->busy_recv = nsock_recv(c->s, c->buf, 1);
	a->empty_recv = nsock_recv(c->s, c->buf, 0);
	a->no_iov = nsock_sendv(c->s, iov, 0);
	a->too_many_iov = nsock_sendv(c->s, iov, NSOCK_MAX_IOV + 1);
	iov[0].iov_len = 0;
	a->empty_iov = nsock_sendv(c->s, iov, 1);
	a->first_send = nsock_sendv(c->s, iov, NSOCK_MAX_IOV);
	if (!a->first_send)
		c->send_posted++;
	a->busy_send = nsock_sendv(c->s, iov + 1, 1);
	a->recv_pending = nsock_recv_pending(c->s);
	a->send_pending = nsock_send_pending(c->s);
	nsock_close(c->s);
	a->recv_after_close = nsock_recv(c->s, c->buf, 1);
	a->send_after_close = nsock_sendv(c->s, iov + 1, 1);
	/* Still there: closed has not run yet. */
	if (c->send_done || c->recv_done)
		atomic_fetch_add(&a->srv->errors, 1);
}

static void api_errors_and_close_right_after_posting(const struct variant *v)
{
	struct api_check a = { 0 };
	struct echo_srv srv;
	struct h h;
	int fd, res;

	h_start(&h, v, 1);
	echo_init(&srv);
	echo_start(&srv, &h, 1);
	fd = h_connect(v, srv.port);
	assert_true(fd >= 0);
	assert_true(WAIT_FOR(atomic_load(&srv.open) == 1, H_WAIT_MS));
	a.srv = &srv;
	h_exec(&h, 0, api_calls_then_close, &a);
	assert_int_equal(a.count_before, 2);
	assert_int_equal(a.busy_recv, -EBUSY);
	assert_int_equal(a.empty_recv, -EINVAL);
	assert_int_equal(a.no_iov, -EINVAL);
	assert_int_equal(a.too_many_iov, -EINVAL);
	assert_int_equal(a.empty_iov, -EINVAL);
	assert_int_equal(a.first_send, 0);
	assert_int_equal(a.busy_send, -EBUSY);
	assert_true(a.recv_pending);
	assert_true(a.send_pending);
	assert_int_equal(a.recv_after_close, -ESHUTDOWN);
	assert_int_equal(a.send_after_close, -ESHUTDOWN);
	assert_true(echo_wait_idle(&srv, 1));
	assert_int_equal(atomic_load(&srv.last_recv_res), -ECANCELED);
	res = atomic_load(&srv.last_send_res);
	assert_true(res == -ECANCELED || res == NSOCK_MAX_IOV - 1);
	close(fd);
	echo_stop(&srv);
	h_stop(&h);
}
DEFINE_VARIANTS(api_errors_and_close_right_after_posting)

static void callback_closes_every_sock(const struct variant *v)
{
	struct echo_srv srv;
	struct h h;
	char c;
	int fd[3], i;

	h_start(&h, v, 1);
	echo_init(&srv);
	srv.close_all_on_data = true;
	echo_start(&srv, &h, 1);
	for (i = 0; i < 3; i++) {
		fd[i] = h_connect(v, srv.port);
		assert_true(fd[i] >= 0);
	}
	assert_true(WAIT_FOR(atomic_load(&srv.open) == 3, H_WAIT_MS));
	/* Data on the middle one: its recv_done closes itself and the two
	 * others, whose pending receives complete with -ECANCELED. */
	assert_int_equal(h_write_all(fd[1], "x", 1), 0);
	assert_true(echo_wait_idle(&srv, 3));
	for (i = 0; i < 3; i++) {
		assert_int_equal(recv(fd[i], &c, 1, 0), 0);
		close(fd[i]);
	}
	echo_stop(&srv);
	assert_int_equal(srv.stats[0].cancelled, 2);
	h_stop(&h);
}
DEFINE_VARIANTS(callback_closes_every_sock)

/* ---- non-TCP fds ---- */

struct pair_attach {
	struct echo_srv *srv;
	int fd;
};

static void attach_pair_end(void *arg)
{
	struct pair_attach *pa = arg;

	atomic_fetch_add(&pa->srv->accepted, 1);
	echo_attach(pa->srv, pa->srv->g[0], pa->fd);
}

/* A unix socketpair end: no TCP_NODELAY, and io_uring refuses SENDMSG_ZC
 * on it; the send is redone plain and still reports every byte. */
static void zero_copy_refused_falls_back_to_plain_send(const struct variant *v)
{
	const size_t len = 256 * 1024;
	struct echo_destroy d = { 0 };
	struct pair_attach pa;
	struct echo_srv srv;
	unsigned char *in = malloc(len);
	int sp[2];
	struct h h;

	assert_non_null(in);
	h_start(&h, v, 1);
	echo_init(&srv);
	srv.blast = true;
	srv.blast_len = len;
	srv.blast_iovs = 3;
	srv.blast_buf = make_payload(len, 21);
	srv.zc_threshold = 1;
	echo_start_groups(&srv, &h, 1);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sp), 0);
	pa.srv = &srv;
	pa.fd = sp[0];
	h_exec(&h, 0, attach_pair_end, &pa);
	assert_int_equal(h_read_all(sp[1], in, len), 0);
	assert_memory_equal(in, srv.blast_buf, len);
	assert_true(WAIT_FOR(atomic_load(&srv.blast_done) == 1, H_WAIT_MS));
	assert_int_equal(atomic_load(&srv.last_send_res), (int)len);
	close(sp[1]);
	assert_true(echo_wait_idle(&srv, 1));
	d.srv = &srv;
	h_exec(&h, 0, echo_group_destroy, &d);
	assert_int_equal(d.rc[0], 0);
	assert_int_equal(atomic_load(&srv.errors), 0);
	if (v->engine == NVMFT_ENGINE_URING && srv.zc_supported)
		assert_true(srv.stats[0].zc_fallbacks >= 1);
	else
		assert_int_equal(srv.stats[0].zc_fallbacks, 0);
	free(srv.blast_buf);
	free(in);
	h_stop(&h);
}
DEFINE_ENGINES(zero_copy_refused_falls_back_to_plain_send)

/* ---- teardown ---- */

static void destroy_group0(void *arg)
{
	struct echo_destroy *d = arg;

	d->rc[0] = sock_group_destroy(d->srv->g[0]);
}

static void close_listener_only(void *arg)
{
	struct echo_srv *srv = arg;

	sock_listener_close(srv->l, echo_listener_closed, srv);
}

static void group_destroy_busy_while_open(const struct variant *v)
{
	struct echo_destroy d;
	struct echo_srv srv;
	struct h h;
	int fd;

	h_start(&h, v, 1);
	echo_init(&srv);
	echo_start(&srv, &h, 1);
	d.srv = &srv;
	h_exec(&h, 0, destroy_group0, &d);	/* the listener is open */
	assert_int_equal(d.rc[0], -EBUSY);
	fd = h_connect(v, srv.port);
	assert_true(fd >= 0);
	assert_true(WAIT_FOR(atomic_load(&srv.open) == 1, H_WAIT_MS));
	h_exec(&h, 0, close_listener_only, &srv);
	assert_true(WAIT_FOR(atomic_load(&srv.listener_closed) == 1,
			     H_WAIT_MS));
	h_exec(&h, 0, destroy_group0, &d);	/* a sock is open */
	assert_int_equal(d.rc[0], -EBUSY);
	/* The group still works after the refusal. */
	assert_int_equal(h_write_all(fd, "ab", 2), 0);
	assert_int_equal(h_read_all(fd, (char[2]){ 0 }, 2), 0);
	close(fd);
	assert_true(echo_wait_idle(&srv, 1));
	h_exec(&h, 0, destroy_group0, &d);
	assert_int_equal(d.rc[0], 0);
	assert_int_equal(atomic_load(&srv.errors), 0);
	h_stop(&h);
}
DEFINE_ENGINES(group_destroy_busy_while_open)

static void at_exit_close_everything(void *arg)
{
	struct echo_srv *srv = arg;

	srv->destroy_when_idle = true;
	echo_close_all(srv);
	sock_listener_close(srv->l, echo_listener_closed, srv);
}

static void register_at_exit(void *arg)
{
	struct echo_srv *srv = arg;

	if (nvmft_thread_at_exit(at_exit_close_everything, srv))
		atomic_fetch_add(&srv->errors, 1);
}

static void runtime_stop_with_open_socks(const struct variant *v)
{
	struct echo_srv srv;
	struct h h;
	int fd[4], i;
	char c;

	h_start(&h, v, 1);
	echo_init(&srv);
	echo_start(&srv, &h, 1);
	for (i = 0; i < 4; i++) {
		fd[i] = h_connect(v, srv.port);
		assert_true(fd[i] >= 0);
	}
	assert_true(WAIT_FOR(atomic_load(&srv.open) == 4, H_WAIT_MS));
	h_exec(&h, 0, register_at_exit, &srv);
	/* Socks, pending receives and the listener are still open. */
	nvmft_runtime_stop(h.rt);
	h.stopped = true;
	assert_int_equal(atomic_load(&srv.closed), 4);
	assert_int_equal(atomic_load(&srv.open), 0);
	assert_int_equal(atomic_load(&srv.listener_closed), 1);
	assert_int_equal(atomic_load(&srv.destroyed), 1);
	assert_int_equal(srv.destroy_rc, 0);
	assert_int_equal(srv.stats[0].cancelled, 4);
	assert_int_equal(atomic_load(&srv.errors), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(recv(fd[i], &c, 1, 0), 0);
		close(fd[i]);
	}
	h_stop(&h);
}
DEFINE_VARIANTS(runtime_stop_with_open_socks)

int main(void)
{
	const struct CMUnitTest tests[] = {
		VARIANT_TESTS(listen_ephemeral_port_reports_port_and_addresses),
		VARIANT_TESTS(listen_on_taken_port_fails_eaddrinuse),
		ENGINE_TESTS(listen_bad_address_fails_einval),
		ENGINE_TESTS(ipv6_and_ipv4_wildcards_share_a_port),
		VARIANT_TESTS(listener_backs_off_on_emfile_and_recovers),
		VARIANT_TESTS(echo_single_client_round_trips),
		VARIANT_TESTS(moved_connection_echoes_on_other_reactor),
		VARIANT_TESTS(peer_reset_closes_cleanly),
		VARIANT_TESTS(peer_reset_during_pending_send),
		VARIANT_TESTS(close_cancels_pending_recv_and_send_plain),
		VARIANT_TESTS(close_cancels_pending_recv_and_send_zc),
		VARIANT_TESTS(api_errors_and_close_right_after_posting),
		VARIANT_TESTS(callback_closes_every_sock),
		ENGINE_TESTS(zero_copy_refused_falls_back_to_plain_send),
		ENGINE_TESTS(group_destroy_busy_while_open),
		VARIANT_TESTS(runtime_stop_with_open_socks),
	};

	return cmocka_run_group_tests_name("sock", tests, NULL, NULL);
}
