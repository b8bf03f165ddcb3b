/* SPDX-License-Identifier: MIT */
/*
 * Shared by the sock group tests: the variants (engine x address family),
 * a runtime harness that checks for leaked fds, an echo server living in
 * sock groups on the reactors, and blocking client helpers for plain
 * threads. Header-only so that each test binary stays self-contained.
 */
#ifndef NVMFT_TEST_SOCK_HARNESS_H
#define NVMFT_TEST_SOCK_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nvmft/runtime.h>
#include "sock/sock.h"

#define H_UNUSED __attribute__((unused))
#define H_WAIT_MS 15000		/* bound of every wait in these tests */

struct variant {
	enum nvmft_engine engine;
	int family;
	const char *addr;
};

static const struct variant V_URING4 = { NVMFT_ENGINE_URING, AF_INET, "127.0.0.1" };
static const struct variant V_URING6 = { NVMFT_ENGINE_URING, AF_INET6, "::1" };
static const struct variant V_EPOLL4 = { NVMFT_ENGINE_EPOLL, AF_INET, "127.0.0.1" };
static const struct variant V_EPOLL6 = { NVMFT_ENGINE_EPOLL, AF_INET6, "::1" };

/* One cmocka test per variant: fn__uring_v4, fn__uring_v6, ... */
#define DEFINE_VARIANTS(fn)						\
	static void fn##__uring_v4(void **st) { (void)st; fn(&V_URING4); } \
	static void fn##__uring_v6(void **st) { (void)st; fn(&V_URING6); } \
	static void fn##__epoll_v4(void **st) { (void)st; fn(&V_EPOLL4); } \
	static void fn##__epoll_v6(void **st) { (void)st; fn(&V_EPOLL6); }
#define VARIANT_TESTS(fn)						\
	cmocka_unit_test(fn##__uring_v4), cmocka_unit_test(fn##__uring_v6), \
	cmocka_unit_test(fn##__epoll_v4), cmocka_unit_test(fn##__epoll_v6)
/* Only the engine matters: IPv4 under both engines. */
#define DEFINE_ENGINES(fn)						\
	static void fn##__uring(void **st) { (void)st; fn(&V_URING4); }	\
	static void fn##__epoll(void **st) { (void)st; fn(&V_EPOLL4); }
#define ENGINE_TESTS(fn)						\
	cmocka_unit_test(fn##__uring), cmocka_unit_test(fn##__epoll)

static H_UNUSED uint64_t h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Poll @cond (an expression) every millisecond for at most @ms. */
#define WAIT_FOR(cond, ms) ({						\
	uint64_t _end = h_now_ms() + (ms);				\
	bool _ok;							\
	while (!(_ok = (cond)) && h_now_ms() < _end)			\
		usleep(1000);						\
	_ok; })

static H_UNUSED int h_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the DIR's own fd */
}

static H_UNUSED bool h_ipv6_loopback(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

struct h {
	const struct variant *v;
	struct nvmft_runtime *rt;
	int fds_before;
	bool stopped;
};

/* Start a runtime of @nr reactors for @v, or skip the test. */
static H_UNUSED void h_start(struct h *h, const struct variant *v,
			     unsigned int nr)
{
	struct nvmft_runtime_opts o;
	int rc;

	memset(h, 0, sizeof(*h));
	h->v = v;
	if (v->family == AF_INET6 && !h_ipv6_loopback()) {
		print_message("SKIP: no IPv6 loopback (::1) on this machine\n");
		skip();
	}
	h->fds_before = h_count_fds();
	nvmft_runtime_opts_init(&o);
	o.nr_reactors = nr;
	o.engine = v->engine;
	o.name = "tsock";
	/* SOCK_TEST_RING=n: a tiny SQ makes thread_get_sqe() submit early. */
	if (getenv("SOCK_TEST_RING"))
		o.ring_entries = (unsigned int)atoi(getenv("SOCK_TEST_RING"));
	/* SOCK_TEST_WAIT=poll|interrupt runs the suite in another wait mode. */
	if (getenv("SOCK_TEST_WAIT"))
		o.wait_mode = !strcmp(getenv("SOCK_TEST_WAIT"), "poll") ?
			      NVMFT_WAIT_POLL : NVMFT_WAIT_INTERRUPT;
	rc = nvmft_runtime_create(&o, &h->rt);
	if (rc && v->engine == NVMFT_ENGINE_URING &&
	    (rc == -EPERM || rc == -ENOSYS)) {
		print_message("SKIP: io_uring unavailable (%s)\n",
			      strerror(-rc));
		skip();
	}
	assert_int_equal(rc, 0);
	nvmft_runtime_set_log(h->rt, NVMFT_LOG_WARN, NULL, NULL);
	assert_int_equal(nvmft_runtime_start(h->rt), 0);
	assert_string_equal(sock_impl_name(h->rt),
			    v->engine == NVMFT_ENGINE_URING ? "uring" : "epoll");
}

/* Stop and destroy the runtime; every fd opened since h_start is closed. */
static H_UNUSED void h_stop(struct h *h)
{
	if (!h->stopped)
		nvmft_runtime_stop(h->rt);
	h->stopped = true;
	nvmft_runtime_destroy(h->rt);
	h->rt = NULL;
	assert_int_equal(h_count_fds(), h->fds_before);
}

static H_UNUSED void h_exec(struct h *h, unsigned int idx, nvmft_msg_fn fn,
			    void *arg)
{
	assert_int_equal(nvmft_runtime_exec(h->rt, idx, fn, arg), 0);
}

/* ---- blocking clients (plain threads) ---- */

static H_UNUSED int h_connect(const struct variant *v, uint16_t port)
{
	struct timeval tv = { .tv_sec = H_WAIT_MS / 1000 };
	int fd = sock_connect_blocking(v->addr, port);

	if (fd < 0)
		return fd;
	/* A server bug must fail the test, not hang it. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static H_UNUSED int h_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static H_UNUSED int h_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = recv(fd, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Byte @i of the test stream @seed: cheap, and a shifted or swapped
 * chunk does not match. */
static H_UNUSED unsigned char h_pat(uint32_t seed, size_t i)
{
	uint32_t x = seed ^ (uint32_t)(i * 2654435761u) ^ (uint32_t)(i >> 13);

	return (unsigned char)(x ^ (x >> 11) ^ (x >> 21));
}

/* ---- echo server in sock groups ---- */

#define ECHO_BUF (64 * 1024)

/*
 * Connections are echoed by default. With @blast set, each new connection
 * is sent blast_len bytes of h_pat(blast_seed) in blast_iovs pieces and
 * what it receives is discarded. With close_all_on_data, the first data
 * received on any connection closes every connection (re-entrancy check).
 */
struct echo_srv {
	struct h *h;
	unsigned int nr_groups;
	struct sock_group *g[2];
	struct sock_listener *l;
	uint16_t port;
	int listen_rc;
	unsigned int target;		/* reactor that gets the connections */
	int sndbuf;			/* > 0: SO_SNDBUF of accepted socks */
	size_t zc_threshold;		/* SIZE_MAX: leave the default */
	bool blast;
	unsigned char *blast_buf;
	size_t blast_len;
	int blast_iovs;
	bool close_all_on_data;
	bool destroy_when_idle;		/* destroy group 0 once all closed */
	int destroy_rc;
	bool zc_supported;		/* of group 0 */
	struct echo_conn *conns;	/* open connections (one reactor) */
	struct echo_conn *last;		/* latest attached, while open */
	_Atomic unsigned int accepted;
	_Atomic unsigned int open;
	_Atomic unsigned int closed;
	_Atomic unsigned int errors;	/* any broken promise of the API */
	_Atomic unsigned int wrong_thread;
	_Atomic unsigned int listener_closed;
	_Atomic unsigned int blast_done;
	_Atomic unsigned int destroyed;
	_Atomic int last_recv_res;
	_Atomic int last_send_res;
	struct sock_group_stats stats[2];
};

struct echo_conn {
	struct echo_srv *srv;
	struct echo_conn *prev, *next;
	struct nsock *s;
	struct nvmft_thread *t;
	unsigned int recv_posted, recv_done;
	unsigned int send_posted, send_done;
	bool closed_seen;
	unsigned char buf[ECHO_BUF];
};

static H_UNUSED void echo_post_recv(struct echo_conn *c)
{
	int rc = nsock_recv(c->s, c->buf, sizeof(c->buf));

	if (rc == -ESHUTDOWN)	/* closed meanwhile: fine */
		return;
	if (rc) {
		atomic_fetch_add(&c->srv->errors, 1);
		nsock_close(c->s);
		return;
	}
	c->recv_posted++;
}

static H_UNUSED void echo_close_all(struct echo_srv *srv)
{
	struct echo_conn *c;

	/* nsock_close never releases inline, so the list stays walkable. */
	for (c = srv->conns; c; c = c->next)
		nsock_close(c->s);
}

static H_UNUSED void echo_recv_done(struct nsock *s, void *ctx, int res)
{
	struct echo_conn *c = ctx;
	struct echo_srv *srv = c->srv;
	struct iovec iov[3];
	int n = 0, rc;

	c->recv_done++;
	if (c->closed_seen)
		atomic_fetch_add(&srv->errors, 1);
	if (nvmft_get_thread() != c->t)
		atomic_fetch_add(&srv->wrong_thread, 1);
	if (res <= 0) {
		atomic_store(&srv->last_recv_res, res);
		nsock_close(s);
		return;
	}
	if (srv->close_all_on_data) {
		echo_close_all(srv);
		return;
	}
	if (srv->blast) {
		echo_post_recv(c);
		return;
	}
	/* Echo as a gather list of up to three pieces. */
	if (res >= 3) {
		int a = res / 3, b = res / 2;

		iov[n++] = (struct iovec){ c->buf, (size_t)a };
		iov[n++] = (struct iovec){ c->buf + a, (size_t)(b - a) };
		iov[n++] = (struct iovec){ c->buf + b, (size_t)(res - b) };
	} else {
		iov[n++] = (struct iovec){ c->buf, (size_t)res };
	}
	rc = nsock_sendv(s, iov, n);
	if (rc == -ESHUTDOWN)
		return;
	if (rc) {
		atomic_fetch_add(&srv->errors, 1);
		nsock_close(s);
		return;
	}
	c->send_posted++;
}

static H_UNUSED void echo_send_done(struct nsock *s, void *ctx, int res)
{
	struct echo_conn *c = ctx;
	struct echo_srv *srv = c->srv;

	c->send_done++;
	if (c->closed_seen)
		atomic_fetch_add(&srv->errors, 1);
	if (nvmft_get_thread() != c->t)
		atomic_fetch_add(&srv->wrong_thread, 1);
	atomic_store(&srv->last_send_res, res);
	if (srv->blast) {
		atomic_fetch_add(&srv->blast_done, 1);
		if (res < 0)
			nsock_close(s);
		return;
	}
	if (res < 0) {
		nsock_close(s);
		return;
	}
	echo_post_recv(c);
}

static H_UNUSED void echo_maybe_destroy(struct echo_srv *srv)
{
	if (!srv->destroy_when_idle || atomic_load(&srv->open) ||
	    !atomic_load(&srv->listener_closed) || atomic_load(&srv->destroyed))
		return;
	sock_group_get_stats(srv->g[0], &srv->stats[0]);
	srv->destroy_rc = sock_group_destroy(srv->g[0]);
	atomic_store(&srv->destroyed, 1);
}

static H_UNUSED void echo_closed(struct nsock *s, void *ctx)
{
	struct echo_conn *c = ctx;
	struct echo_srv *srv = c->srv;

	/* Each posted operation completed exactly once before closed. */
	if (c->recv_posted != c->recv_done || c->send_posted != c->send_done ||
	    c->closed_seen)
		atomic_fetch_add(&srv->errors, 1);
	if (nsock_recv_pending(s) || nsock_send_pending(s))
		atomic_fetch_add(&srv->errors, 1);
	c->closed_seen = true;
	if (c->prev)
		c->prev->next = c->next;
	else if (srv->conns == c)
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (srv->last == c)
		srv->last = NULL;
	free(c);
	atomic_fetch_sub(&srv->open, 1);
	atomic_fetch_add(&srv->closed, 1);
	echo_maybe_destroy(srv);
}

static const struct nsock_cbs echo_cbs = {
	.recv_done = echo_recv_done,
	.send_done = echo_send_done,
	.closed = echo_closed,
};

static H_UNUSED void echo_blast(struct echo_conn *c)
{
	struct echo_srv *srv = c->srv;
	struct iovec iov[NSOCK_MAX_IOV];
	size_t piece = srv->blast_len / (size_t)srv->blast_iovs, off = 0;
	int i;

	/* Uneven pieces, the last one taking the remainder. */
	for (i = 0; i < srv->blast_iovs; i++) {
		size_t len = i == srv->blast_iovs - 1 ? srv->blast_len - off :
			     piece - (i % 2 ? 4093 : 0);

		iov[i].iov_base = srv->blast_buf + off;
		iov[i].iov_len = len;
		off += len;
	}
	if (nsock_sendv(c->s, iov, srv->blast_iovs)) {
		atomic_fetch_add(&srv->errors, 1);
		nsock_close(c->s);
		return;
	}
	c->send_posted++;
}

static H_UNUSED void echo_attach(struct echo_srv *srv, struct sock_group *g,
				 int fd)
{
	struct echo_conn *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		atomic_fetch_add(&srv->errors, 1);
		return;
	}
	c->srv = srv;
	c->t = nvmft_get_thread();
	if (sock_attach(g, fd, &echo_cbs, c, &c->s)) {
		close(fd);
		free(c);
		atomic_fetch_add(&srv->errors, 1);
		return;
	}
	c->next = srv->conns;
	if (c->next)
		c->next->prev = c;
	srv->conns = c;
	srv->last = c;
	atomic_fetch_add(&srv->open, 1);
	echo_post_recv(c);
	if (srv->blast)
		echo_blast(c);
}

struct echo_move {
	struct echo_srv *srv;
	int fd;
};

static H_UNUSED void echo_attach_moved(void *arg)
{
	struct echo_move *m = arg;

	echo_attach(m->srv, m->srv->g[m->srv->target], m->fd);
	free(m);
}

static H_UNUSED void echo_on_accept(struct sock_listener *l, int fd,
				    const struct sockaddr *peer,
				    socklen_t peer_len, void *ctx)
{
	struct echo_srv *srv = ctx;
	struct echo_move *m;

	atomic_fetch_add(&srv->accepted, 1);
	if (!peer || peer_len == 0 || peer->sa_family != srv->h->v->family)
		atomic_fetch_add(&srv->errors, 1);
	if (srv->sndbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &srv->sndbuf,
			   sizeof(srv->sndbuf));
	if (srv->target == 0) {
		echo_attach(srv, srv->g[0], fd);
		return;
	}
	/* Hand the connection to another reactor, as the target does. */
	m = malloc(sizeof(*m));
	if (!m) {
		close(fd);
		atomic_fetch_add(&srv->errors, 1);
		return;
	}
	m->srv = srv;
	m->fd = fd;
	if (nvmft_thread_send_msg(nvmft_runtime_get_thread(srv->h->rt,
							   srv->target),
				  echo_attach_moved, m)) {
		close(fd);
		free(m);
		atomic_fetch_add(&srv->errors, 1);
	}
}

static H_UNUSED void echo_group_create(void *arg)
{
	struct echo_srv *srv = arg;
	struct nvmft_thread *t = nvmft_get_thread();
	unsigned int i = nvmft_thread_index(t);

	if (sock_group_create(t, &srv->g[i])) {
		atomic_fetch_add(&srv->errors, 1);
		return;
	}
	if (sock_group_count(srv->g[i]) != 0)
		atomic_fetch_add(&srv->errors, 1);
	if (srv->zc_threshold != SIZE_MAX)
		sock_group_set_zc_threshold(srv->g[i], srv->zc_threshold);
	if (i == 0)
		srv->zc_supported = sock_group_zc_supported(srv->g[0]);
}

static H_UNUSED void echo_listen(void *arg)
{
	struct echo_srv *srv = arg;

	srv->listen_rc = sock_listen(srv->g[0], srv->h->v->addr, 0, 128,
				     echo_on_accept, srv, &srv->l);
	if (!srv->listen_rc)
		srv->port = sock_listener_port(srv->l);
}

/* Zero a server description (before setting its knobs). */
static H_UNUSED void echo_init(struct echo_srv *srv)
{
	memset(srv, 0, sizeof(*srv));
	srv->zc_threshold = SIZE_MAX;
}

/* Groups on reactors 0..@nr_groups-1. */
static H_UNUSED void echo_start_groups(struct echo_srv *srv, struct h *h,
				       unsigned int nr_groups)
{
	unsigned int i;

	srv->h = h;
	srv->nr_groups = nr_groups;
	for (i = 0; i < nr_groups; i++) {
		h_exec(h, i, echo_group_create, srv);
		assert_non_null(srv->g[i]);
	}
}

/* The listener, on reactor 0, any free port. */
static H_UNUSED void echo_start_listener(struct echo_srv *srv)
{
	h_exec(srv->h, 0, echo_listen, srv);
	assert_int_equal(srv->listen_rc, 0);
	assert_int_not_equal(srv->port, 0);
}

static H_UNUSED void echo_start(struct echo_srv *srv, struct h *h,
				unsigned int nr_groups)
{
	echo_start_groups(srv, h, nr_groups);
	echo_start_listener(srv);
}

static H_UNUSED void echo_listener_closed(void *ctx)
{
	struct echo_srv *srv = ctx;

	atomic_fetch_add(&srv->listener_closed, 1);
	echo_maybe_destroy(srv);
}

static H_UNUSED void echo_close_listener(void *arg)
{
	struct echo_srv *srv = arg;

	sock_listener_close(srv->l, echo_listener_closed, srv);
	/* Idempotent while closing. */
	sock_listener_close(srv->l, echo_listener_closed, srv);
}

struct echo_destroy {
	struct echo_srv *srv;
	int rc[2];
};

static H_UNUSED void echo_group_destroy(void *arg)
{
	struct echo_destroy *d = arg;
	unsigned int i = nvmft_thread_index(nvmft_get_thread());

	sock_group_get_stats(d->srv->g[i], &d->srv->stats[i]);
	d->rc[i] = sock_group_destroy(d->srv->g[i]);
}

/* Wait until the server has no connection left (the clients closed). */
static H_UNUSED bool echo_wait_idle(struct echo_srv *srv, unsigned int conns)
{
	return WAIT_FOR(atomic_load(&srv->accepted) >= conns &&
			atomic_load(&srv->closed) >= conns &&
			atomic_load(&srv->open) == 0, H_WAIT_MS);
}

/* Close the listener, wait for every connection to be gone (the clients
 * must have closed theirs), destroy the groups, check the books. */
static H_UNUSED void echo_stop(struct echo_srv *srv)
{
	struct echo_destroy d = { .srv = srv };
	unsigned int i;

	h_exec(srv->h, 0, echo_close_listener, srv);
	assert_true(WAIT_FOR(atomic_load(&srv->listener_closed) == 1 &&
			     atomic_load(&srv->open) == 0, H_WAIT_MS));
	for (i = 0; i < srv->nr_groups; i++) {
		h_exec(srv->h, i, echo_group_destroy, &d);
		assert_int_equal(d.rc[i], 0);
	}
	assert_int_equal(atomic_load(&srv->listener_closed), 1);
	assert_int_equal(atomic_load(&srv->errors), 0);
	assert_int_equal(atomic_load(&srv->wrong_thread), 0);
	assert_int_equal(atomic_load(&srv->closed),
			 atomic_load(&srv->accepted));
}

#endif
