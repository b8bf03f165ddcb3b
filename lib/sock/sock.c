/* SPDX-License-Identifier: MIT */
/*
 * The engine-independent half of sock groups: address parsing, socket
 * setup, argument checks, completion delivery and release, and dispatch to
 * the io_uring or epoll implementation chosen by the runtime's engine.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime/engine.h"
#include "sock/sock_internal.h"

#define SOCK_DEFAULT_BACKLOG 512

static const struct sock_ops *ops_for(struct nvmft_runtime *rt)
{
	if (nvmft_runtime_engine(rt) == NVMFT_ENGINE_EPOLL)
		return &sock_epoll_ops;
	return &sock_uring_ops;
}

const char *sock_impl_name(struct nvmft_runtime *rt)
{
	return ops_for(rt)->name;
}

int sock_group_create(struct nvmft_thread *t, struct sock_group **out)
{
	struct nvmft_runtime *rt;
	const struct sock_ops *ops;
	struct sock_group *g;
	int rc;

	/* The group lives on the reactor's own engine: only it may do this. */
	if (!t || !out || nvmft_get_thread() != t)
		return -EINVAL;
	rt = nvmft_thread_get_runtime(t);
	ops = ops_for(rt);
	g = calloc(1, ops->group_size);
	if (!g)
		return -ENOMEM;
	g->ops = ops;
	g->t = t;
	g->rt = rt;
	g->zc_threshold = SOCK_ZC_THRESHOLD_DEFAULT;
	rc = ops->group_init(g);
	if (rc) {
		free(g);
		return rc;
	}
	*out = g;
	return 0;
}

int sock_group_destroy(struct sock_group *g)
{
	if (!g)
		return 0;
	ASSERT_ON_THREAD(g->t);
	if (sock_group_count(g))
		return -EBUSY;
	g->ops->group_fini(g);
	free(g);
	return 0;
}

unsigned int sock_group_count(const struct sock_group *g)
{
	return g->nr_socks + g->nr_listeners;
}

void sock_group_set_zc_threshold(struct sock_group *g, size_t bytes)
{
	g->zc_threshold = bytes;
}

bool sock_group_zc_supported(const struct sock_group *g)
{
	return g->zc_supported;
}

void sock_group_get_stats(const struct sock_group *g,
			  struct sock_group_stats *st)
{
	*st = g->stats;
}

/*
 * "" / "*" / NULL = any IPv4 address; otherwise an IPv4 or IPv6 literal,
 * the latter optionally in brackets ("[::1]") as it appears in URLs.
 */
static int parse_addr(const char *addr, uint16_t port,
		      struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n;

	memset(ss, 0, sizeof(*ss));
	if (!addr || !addr[0] || !strcmp(addr, "*")) {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return 0;
	}
	n = strlen(addr);
	if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
		if (n - 2 >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, addr + 1, n - 2);
		buf[n - 2] = '\0';
		addr = buf;
	}
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
		return 0;
	}
	return -EINVAL;
}

static int addr_to_text(const struct sockaddr_storage *ss, char *addr,
			size_t len, uint16_t *port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	const char *p;

	switch (ss->ss_family) {
	case AF_INET:
		p = inet_ntop(AF_INET, &sin->sin_addr, addr, len);
		if (port)
			*port = ntohs(sin->sin_port);
		break;
	case AF_INET6:
		p = inet_ntop(AF_INET6, &sin6->sin6_addr, addr, len);
		if (port)
			*port = ntohs(sin6->sin6_port);
		break;
	default:
		return -EAFNOSUPPORT;
	}
	return p ? 0 : -ENOSPC;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* Small messages (capsules, responses) must not wait for Nagle. Non-TCP
 * sockets (socketpairs in tests) do not have the option: not an error. */
static int set_nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0)
		return 0;
	if (errno == EOPNOTSUPP || errno == ENOPROTOOPT || errno == EINVAL)
		return 0;
	return -errno;
}

void sock_set_abortive(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	/* Best effort: the fd is being closed either way. */
	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/* Wrap bound, listening, non-blocking @fd in a listener of @g and start
 * accepting. On failure the caller still owns @fd. */
static int listener_start(struct sock_group *g, int fd, int family,
			  uint16_t port, sock_accept_fn on_accept, void *ctx,
			  struct sock_listener **out)
{
	struct sock_listener *l;
	int rc;

	l = calloc(1, g->ops->listener_size);
	if (!l)
		return -ENOMEM;
	l->g = g;
	l->fd = fd;
	l->family = family;
	l->port = port;
	l->on_accept = on_accept;
	l->ctx = ctx;
	rc = g->ops->listen(l);
	if (rc) {
		free(l);
		return rc;
	}
	g->nr_listeners++;
	thread_ref_get(g->t);
	*out = l;
	return 0;
}

int sock_listen(struct sock_group *g, const char *addr, uint16_t port,
		int backlog, sock_accept_fn on_accept, void *ctx,
		struct sock_listener **out)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;
	int fd, rc;

	if (!g || !on_accept || !out)
		return -EINVAL;
	ASSERT_ON_THREAD(g->t);
	rc = parse_addr(addr, port, &ss, &len);
	if (rc)
		return rc;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto out_errno;
	/* Without V6ONLY a [::] listener would also take the IPv4 port and
	 * make a separate 0.0.0.0 listener on it fail. */
	if (ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto out_errno;
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		goto out_errno;
	if (listen(fd, backlog > 0 ? backlog : SOCK_DEFAULT_BACKLOG) < 0)
		goto out_errno;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		goto out_errno;
	port = ss.ss_family == AF_INET ?
		ntohs(((struct sockaddr_in *)&ss)->sin_port) :
		ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	rc = listener_start(g, fd, ss.ss_family, port, on_accept, ctx, out);
	if (rc)
		goto out_close;
	return 0;

out_errno:
	rc = -errno;
out_close:
	close(fd);
	return rc;
}

/*
 * A socket file already at @sun's path: replace it only when it is a
 * socket nobody accepts on (its server died without removing it). Probed
 * with a non-blocking connect, which on a Unix socket answers at once.
 */
static int unix_path_reclaim(const struct sockaddr_un *sun)
{
	struct stat st;
	int fd, rc;

	if (lstat(sun->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) < 0 ? -errno : 0;
	close(fd);
	if (rc == 0 || rc == -EAGAIN)
		return -EADDRINUSE;	/* a live server (maybe busy) */
	if (rc != -ECONNREFUSED)
		return rc;
	if (unlink(sun->sun_path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int sock_listen_unix(struct sock_group *g, const char *path, mode_t mode,
		     int backlog, sock_accept_fn on_accept, void *ctx,
		     struct sock_listener **out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct sock_listener *l;
	struct stat st;
	char *copy;
	int fd, rc;

	if (!g || !path || !path[0] || !on_accept || !out)
		return -EINVAL;
	ASSERT_ON_THREAD(g->t);
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	rc = unix_path_reclaim(&sun);
	if (rc)
		goto out_free;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto out_free;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		rc = -errno;
		goto out_close;
	}
	/* Connects are refused until listen(): set the mode in between. */
	if (chmod(path, mode) < 0 || lstat(path, &st) < 0 ||
	    listen(fd, backlog > 0 ? backlog : SOCK_DEFAULT_BACKLOG) < 0) {
		rc = -errno;
		goto out_unlink;
	}
	rc = listener_start(g, fd, AF_UNIX, 0, on_accept, ctx, &l);
	if (rc)
		goto out_unlink;
	l->unix_path = copy;
	l->unix_dev = st.st_dev;
	l->unix_ino = st.st_ino;
	*out = l;
	return 0;

out_unlink:
	unlink(path);
out_close:
	close(fd);
out_free:
	free(copy);
	return rc;
}

uint16_t sock_listener_port(const struct sock_listener *l)
{
	return l->port;
}

void sock_listener_close(struct sock_listener *l, void (*closed)(void *ctx),
			 void *ctx)
{
	if (!l || l->closing)
		return;
	ASSERT_ON_THREAD(l->g->t);
	l->closing = true;
	l->closed = closed;
	l->closed_ctx = ctx;
	l->g->ops->listener_close(l);
}

/*
 * The count drops before the closed callback so that the owner may destroy
 * the group from the callback of its last sock or listener; nothing here
 * touches the group afterwards.
 */
void sock_listener_release(struct sock_listener *l)
{
	struct nvmft_thread *t = l->g->t;
	struct stat st;

	if (l->unix_path) {
		/* Another server may have taken the path over since. */
		if (lstat(l->unix_path, &st) == 0 && st.st_dev == l->unix_dev &&
		    st.st_ino == l->unix_ino)
			unlink(l->unix_path);
		free(l->unix_path);
	}
	l->g->nr_listeners--;
	if (l->closed)
		l->closed(l->closed_ctx);
	free(l);
	thread_ref_put(t);
}

void sock_deliver_accept(struct sock_listener *l, int fd,
			 const struct sockaddr *peer, socklen_t peer_len)
{
	l->g->stats.accepted++;
	l->refs++;
	l->on_accept(l, fd, peer, peer_len, l->ctx);
	l->refs--;
}

bool sock_accept_error_resource(int err)
{
	return err == -EMFILE || err == -ENFILE || err == -ENOBUFS ||
	       err == -ENOMEM;
}

bool sock_accept_error_transient(int err)
{
	switch (err) {
	case -ECONNABORTED:
	case -EINTR:
	case -EAGAIN:
	case -ECANCELED:
	case -EPERM:		/* firewall rules */
	case -EPROTO:
	/* accept(2): pending network errors of the new connection */
	case -ENETDOWN:
	case -ENOPROTOOPT:
	case -EHOSTDOWN:
	case -ENONET:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
	case -ETIMEDOUT:
		return true;
	default:
		return sock_accept_error_resource(err);
	}
}

int sock_connect_blocking(const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, rc;

	if (!addr || !addr[0] || !strcmp(addr, "*") || port == 0)
		return -EINVAL;
	rc = parse_addr(addr, port, &ss, &len);
	if (rc)
		return rc;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	while (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		if (errno == EINTR)
			continue;
		rc = -errno;
		goto out_close;
	}
	rc = set_nodelay(fd);
	if (rc)
		goto out_close;
	return fd;

out_close:
	close(fd);
	return rc;
}

int sock_attach(struct sock_group *g, int fd, const struct nsock_cbs *cbs,
		void *ctx, struct nsock **out)
{
	struct nsock *s;
	int rc;

	if (!g || fd < 0 || !cbs || !cbs->recv_done || !cbs->send_done ||
	    !cbs->closed || !out)
		return -EINVAL;
	ASSERT_ON_THREAD(g->t);
	rc = set_nonblock(fd);
	if (rc)
		return rc;
	rc = set_nodelay(fd);
	if (rc)
		return rc;
	s = calloc(1, g->ops->sock_size);
	if (!s)
		return -ENOMEM;
	s->g = g;
	s->fd = fd;
	s->cbs = *cbs;
	s->ctx = ctx;
	rc = g->ops->attach(s);
	if (rc) {
		free(s);
		return rc;
	}
	g->nr_socks++;
	thread_ref_get(g->t);
	*out = s;
	return 0;
}

int nsock_recv(struct nsock *s, void *buf, size_t len)
{
	int rc;

	ASSERT_ON_THREAD(s->g->t);
	if (!buf || !len)
		return -EINVAL;
	if (s->closing)
		return -ESHUTDOWN;
	if (s->recv_pending)
		return -EBUSY;
	/* The result is an int (and an io_uring length a u32). */
	if (len > INT_MAX)
		len = INT_MAX;
	s->recv_buf = buf;
	s->recv_len = len;
	s->recv_pending = true;
	rc = s->g->ops->recv(s);
	if (rc)
		s->recv_pending = false;
	return rc;
}

int nsock_sendv(struct nsock *s, const struct iovec *iov, int iovcnt)
{
	size_t total = 0;
	int i, rc;

	ASSERT_ON_THREAD(s->g->t);
	if (!iov || iovcnt < 1 || iovcnt > NSOCK_MAX_IOV)
		return -EINVAL;
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > (size_t)INT_MAX - total)
			return -EINVAL;
		total += iov[i].iov_len;
	}
	if (!total)
		return -EINVAL;
	if (s->closing)
		return -ESHUTDOWN;
	if (s->send_pending)
		return -EBUSY;
	memcpy(s->iov, iov, (size_t)iovcnt * sizeof(*iov));
	s->iovcnt = iovcnt;
	s->iov_idx = 0;
	s->send_total = total;
	s->send_left = total;
	sock_send_prepare_msg(s);
	s->send_pending = true;
	rc = s->g->ops->sendv(s);
	if (rc)
		s->send_pending = false;
	return rc;
}

bool nsock_recv_pending(const struct nsock *s)
{
	return s->recv_pending;
}

bool nsock_send_pending(const struct nsock *s)
{
	return s->send_pending;
}

void nsock_close(struct nsock *s)
{
	if (!s || s->closing)
		return;
	ASSERT_ON_THREAD(s->g->t);
	s->closing = true;
	/* A send cut short leaves the peer a truncated stream: reset it so
	 * the peer cannot take the stream for complete, and so the kernel
	 * drops the queued data (and our zero-copy pages) at once. */
	if (s->send_pending)
		sock_set_abortive(s->fd);
	s->g->ops->close(s);
}

void sock_send_prepare_msg(struct nsock *s)
{
	memset(&s->msg, 0, sizeof(s->msg));
	s->msg.msg_iov = &s->iov[s->iov_idx];
	s->msg.msg_iovlen = (size_t)(s->iovcnt - s->iov_idx);
}

bool sock_send_advance(struct nsock *s, size_t n)
{
	if (n > s->send_left)
		n = s->send_left;
	s->send_left -= n;
	while (n && s->iov_idx < s->iovcnt) {
		struct iovec *v = &s->iov[s->iov_idx];

		if (n < v->iov_len) {
			v->iov_base = (char *)v->iov_base + n;
			v->iov_len -= n;
			n = 0;
			break;
		}
		n -= v->iov_len;
		v->iov_len = 0;
		s->iov_idx++;
	}
	/* Zero-length entries left in front would only cost the kernel a
	 * pass; skip them. */
	while (s->iov_idx < s->iovcnt && !s->iov[s->iov_idx].iov_len)
		s->iov_idx++;
	sock_send_prepare_msg(s);
	return s->send_left == 0;
}

void sock_complete_recv(struct nsock *s, int res)
{
	s->recv_pending = false;
	s->g->stats.recvs++;
	if (res == -ECANCELED)
		s->g->stats.cancelled++;
	s->refs++;
	s->cbs.recv_done(s, s->ctx, res);
	s->refs--;
}

void sock_complete_send(struct nsock *s, int res)
{
	s->send_pending = false;
	s->g->stats.sends++;
	if (res == -ECANCELED)
		s->g->stats.cancelled++;
	s->refs++;
	s->cbs.send_done(s, s->ctx, res);
	s->refs--;
}

void sock_release(struct nsock *s)
{
	struct nvmft_thread *t = s->g->t;

	s->g->nr_socks--;
	s->refs++;
	s->cbs.closed(s, s->ctx);
	free(s);
	thread_ref_put(t);
}

void sock_warn_ratelimited(struct sock_group *g, const char *fmt, ...)
{
	uint64_t now = nvmft_now_us();
	char msg[256];
	va_list ap;

	if (g->warn_last_us && now - g->warn_last_us < 1000000) {
		g->warn_suppressed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (g->warn_suppressed)
		RT_WARN(g->rt, "sock: %s (%u similar suppressed)", msg,
			g->warn_suppressed);
	else
		RT_WARN(g->rt, "sock: %s", msg);
	g->warn_last_us = now;
	g->warn_suppressed = 0;
}

int nsock_peer(const struct nsock *s, char *addr, size_t len, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (s->fd < 0)
		return -EBADF;
	if (getpeername(s->fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	return addr_to_text(&ss, addr, len, port);
}

int nsock_local(const struct nsock *s, char *addr, size_t len, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (s->fd < 0)
		return -EBADF;
	if (getsockname(s->fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	return addr_to_text(&ss, addr, len, port);
}

int nsock_fd(const struct nsock *s)
{
	return s->fd;
}
