/* SPDX-License-Identifier: MIT */
/*
 * Sock groups on the reactor's io_uring.
 *
 * Every operation is an SQE taken from thread_get_sqe() (the reactor
 * submits once per loop turn) whose user_data is a struct uring_op embedded
 * in the listener or sock; callbacks run from the CQE handlers.
 *
 * Lifetime rule: each SQE yields exactly one CQE without IORING_CQE_F_MORE
 * (for SENDMSG_ZC that is the notification, or the result when no
 * notification follows). Listeners and socks count those outstanding CQEs
 * and are freed only when the count is zero, so no CQE ever points at freed
 * memory. A close submits one cancel (itself counted), which also defers
 * the closed callback to the loop when nothing else was pending.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime/engine.h"
#include "sock/sock_internal.h"

struct uring_listener {
	struct sock_listener l;
	struct uring_op accept_op;
	struct uring_op cancel_op;
	unsigned int cqes;		/* final CQEs still to come */
	bool armed;			/* multishot accept in the kernel */
	struct nvmft_poller *rearm;	/* timed re-arm after an error */
};

struct uring_sock {
	struct nsock s;
	struct uring_op recv_op;
	struct uring_op send_op;
	struct uring_op cancel_op;
	unsigned int cqes;		/* final CQEs still to come */
	unsigned int send_cqes;		/* ... of which the current send's */
	unsigned int notifs;		/* ZC notifications announced, not seen */
	int send_err;
	bool send_zc;			/* this send goes out with SENDMSG_ZC */
	bool zc_off;			/* kernel refused ZC on this socket */
	bool released;
};

/* ---- listeners ---- */

static void listener_maybe_release(struct uring_listener *ul)
{
	struct sock_listener *l = &ul->l;

	if (!l->closing || ul->cqes || l->refs || l->fd < 0)
		return;
	close(l->fd);
	l->fd = -1;
	sock_listener_release(l);
}

static int listener_rearm_poll(void *arg);

static void listener_arm_later(struct uring_listener *ul, uint64_t delay_us)
{
	if (ul->rearm)
		return;
	ul->rearm = nvmft_poller_register(listener_rearm_poll, ul, delay_us);
	if (!ul->rearm)
		RT_ERR(ul->l.g->rt, "sock: listener on port %u stops accepting: "
		       "no timer for the retry", ul->l.port);
}

static void listener_arm(struct uring_listener *ul)
{
	struct io_uring_sqe *sqe;

	if (ul->armed || ul->l.closing)
		return;
	sqe = thread_get_sqe(ul->l.g->t);
	if (!sqe) {
		sock_warn_ratelimited(ul->l.g, "no SQE for accept on port %u, "
				      "retrying", ul->l.port);
		listener_arm_later(ul, SOCK_ACCEPT_BACKOFF_US);
		return;
	}
	/* No address buffer: with multishot the kernel would overwrite it
	 * for the next connection before we read it. getpeername() instead. */
	io_uring_prep_multishot_accept(sqe, ul->l.fd, NULL, NULL,
				       SOCK_NONBLOCK | SOCK_CLOEXEC);
	io_uring_sqe_set_data(sqe, &ul->accept_op);
	ul->armed = true;
	ul->cqes++;
}

static int listener_rearm_poll(void *arg)
{
	struct uring_listener *ul = arg;

	nvmft_poller_unregister(&ul->rearm);
	listener_arm(ul);
	return 1;
}

static void listener_accepted(struct uring_listener *ul, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (ul->l.closing) {
		close(fd);
		return;
	}
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0) {
		/* Reset before we got to it: nothing to hand over. */
		ul->l.g->stats.accept_errors++;
		close(fd);
		return;
	}
	sock_deliver_accept(&ul->l, fd, (struct sockaddr *)&ss, len);
}

static void accept_done(struct uring_op *op, const struct io_uring_cqe *cqe)
{
	struct uring_listener *ul = container_of(op, struct uring_listener,
						 accept_op);
	struct sock_listener *l = &ul->l;
	int res = cqe->res;

	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		ul->armed = false;
		ul->cqes--;
	}
	if (res >= 0) {
		listener_accepted(ul, res);
	} else if (!l->closing) {
		l->g->stats.accept_errors++;
		if (!sock_accept_error_transient(res)) {
			RT_ERR(l->g->rt, "sock: accept on port %u failed: %s; "
			       "listener stops accepting", l->port,
			       strerror(-res));
			goto out;
		}
		if (res != -ECANCELED)
			sock_warn_ratelimited(l->g, "accept on port %u: %s",
					      l->port, strerror(-res));
		if (!ul->armed)
			listener_arm_later(ul, sock_accept_error_resource(res) ?
					   SOCK_ACCEPT_BACKOFF_US :
					   SOCK_ACCEPT_RETRY_US);
		goto out;
	}
	/* The kernel ends a multishot accept now and then (e.g. on overflow):
	 * simply start a new one. */
	if (!ul->armed && !ul->rearm && !l->closing)
		listener_arm(ul);
out:
	listener_maybe_release(ul);
}

static void listener_cancel_done(struct uring_op *op,
				 const struct io_uring_cqe *cqe)
{
	struct uring_listener *ul = container_of(op, struct uring_listener,
						 cancel_op);

	ul->cqes--;
	listener_maybe_release(ul);
}

static int uring_listen(struct sock_listener *l)
{
	struct uring_listener *ul = container_of(l, struct uring_listener, l);

	ul->accept_op.done = accept_done;
	ul->cancel_op.done = listener_cancel_done;
	listener_arm(ul);
	if (!ul->armed) {
		nvmft_poller_unregister(&ul->rearm);
		return -EIO;
	}
	return 0;
}

static void deferred_listener_release(void *arg)
{
	struct uring_listener *ul = arg;

	ul->cqes--;
	listener_maybe_release(ul);
}

static void uring_listener_close(struct sock_listener *l)
{
	struct uring_listener *ul = container_of(l, struct uring_listener, l);
	struct io_uring_sqe *sqe;

	nvmft_poller_unregister(&ul->rearm);
	/* The cancel is counted like any operation, so the release (and the
	 * closed callback) happens from its CQE, never inside this call. */
	ul->cqes++;
	sqe = thread_get_sqe(l->g->t);
	if (sqe) {
		io_uring_prep_cancel_fd(sqe, l->fd, IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data(sqe, &ul->cancel_op);
		return;
	}
	/* Broken ring: nothing more will complete on it. */
	RT_ERR(l->g->rt, "sock: no SQE to cancel accept on port %u", l->port);
	ul->cqes -= ul->armed;
	ul->armed = false;
	if (nvmft_thread_send_msg(l->g->t, deferred_listener_release, ul))
		RT_ERR(l->g->rt, "sock: listener on port %u leaked", l->port);
}

/* ---- connected socks ---- */

static void sock_maybe_release(struct uring_sock *us)
{
	struct nsock *s = &us->s;

	if (!s->closing || us->released)
		return;
	/* Only zero-copy notifications left: they come when the kernel drops
	 * the pages, which for data stuck in a full send queue is only when
	 * the socket goes away. The close path made the socket abortive, so
	 * closing the fd now frees that data and lets them arrive. */
	if (us->cqes && us->cqes == us->notifs && s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	if (us->cqes || s->refs)
		return;
	us->released = true;
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	sock_release(s);
}

static int submit_recv(struct uring_sock *us)
{
	struct nsock *s = &us->s;
	struct io_uring_sqe *sqe = thread_get_sqe(s->g->t);

	if (!sqe)
		return -EIO;
	io_uring_prep_recv(sqe, s->fd, s->recv_buf, s->recv_len, 0);
	io_uring_sqe_set_data(sqe, &us->recv_op);
	us->cqes++;
	return 0;
}

static void recv_done(struct uring_op *op, const struct io_uring_cqe *cqe)
{
	struct uring_sock *us = container_of(op, struct uring_sock, recv_op);
	struct nsock *s = &us->s;
	int res = cqe->res;

	us->cqes--;
	if ((res == -EAGAIN || res == -EINTR) && !s->closing) {
		res = submit_recv(us);
		if (!res)
			return;
	}
	sock_complete_recv(s, res);
	sock_maybe_release(us);
}

static int submit_send(struct uring_sock *us)
{
	struct nsock *s = &us->s;
	struct io_uring_sqe *sqe = thread_get_sqe(s->g->t);

	if (!sqe)
		return -EIO;
	if (us->send_zc) {
		io_uring_prep_sendmsg_zc(sqe, s->fd, &s->msg, MSG_NOSIGNAL);
		s->g->stats.zc_sends++;
	} else {
		io_uring_prep_sendmsg(sqe, s->fd, &s->msg, MSG_NOSIGNAL);
	}
	io_uring_sqe_set_data(sqe, &us->send_op);
	us->cqes++;
	us->send_cqes++;
	return 0;
}

/* The result CQE of one send submission (not a notification). */
static void send_result(struct uring_sock *us, int res)
{
	struct nsock *s = &us->s;
	int rc;

	if (us->send_err)
		return;
	if (res < 0) {
		if (s->closing) {
			us->send_err = res;
			return;
		}
		if (us->send_zc && (res == -EOPNOTSUPP || res == -EINVAL)) {
			/* Not for this socket: redo (and keep doing) it plain. */
			s->g->stats.zc_fallbacks++;
			us->send_zc = false;
			us->zc_off = true;
		} else if (res != -EAGAIN && res != -EINTR) {
			us->send_err = res;
			return;
		}
	} else if (res == 0) {
		/* No progress on a non-empty send: not worth spinning on. */
		us->send_err = -EIO;
		return;
	} else if (sock_send_advance(s, (size_t)res)) {
		return;
	} else {
		s->g->stats.partial_sends++;
		if (s->closing) {
			us->send_err = -ECANCELED;
			return;
		}
	}
	rc = submit_send(us);
	if (rc)
		us->send_err = rc;
}

static void send_done(struct uring_op *op, const struct io_uring_cqe *cqe)
{
	struct uring_sock *us = container_of(op, struct uring_sock, send_op);
	struct nsock *s = &us->s;

	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		us->cqes--;
		us->send_cqes--;
	}
	if (cqe->flags & IORING_CQE_F_NOTIF) {
		if (us->notifs)
			us->notifs--;
	} else {
		if (cqe->flags & IORING_CQE_F_MORE)
			us->notifs++;
		send_result(us, cqe->res);
	}
	/* send_done only once the kernel is done with the caller's buffers:
	 * no submission in flight and no notification outstanding. */
	if (s->send_pending && !us->send_cqes &&
	    (us->send_err || !s->send_left))
		sock_complete_send(s, us->send_err ? us->send_err :
				   (int)s->send_total);
	sock_maybe_release(us);
}

static void sock_cancel_done(struct uring_op *op,
			     const struct io_uring_cqe *cqe)
{
	struct uring_sock *us = container_of(op, struct uring_sock, cancel_op);

	us->cqes--;
	sock_maybe_release(us);
}

static int uring_attach(struct nsock *s)
{
	struct uring_sock *us = container_of(s, struct uring_sock, s);

	us->recv_op.done = recv_done;
	us->send_op.done = send_done;
	us->cancel_op.done = sock_cancel_done;
	return 0;
}

static int uring_recv(struct nsock *s)
{
	return submit_recv(container_of(s, struct uring_sock, s));
}

static int uring_sendv(struct nsock *s)
{
	struct uring_sock *us = container_of(s, struct uring_sock, s);
	struct sock_group *g = s->g;

	us->send_err = 0;
	us->notifs = 0;		/* none can be outstanding between sends */
	us->send_zc = g->zc_supported && !us->zc_off && g->zc_threshold &&
		      s->send_total >= g->zc_threshold;
	return submit_send(us);
}

static void deferred_sock_release(void *arg)
{
	struct uring_sock *us = arg;

	us->cqes--;
	sock_maybe_release(us);
}

static void uring_close(struct nsock *s)
{
	struct uring_sock *us = container_of(s, struct uring_sock, s);
	struct io_uring_sqe *sqe;

	us->cqes++;
	sqe = thread_get_sqe(s->g->t);
	if (sqe) {
		io_uring_prep_cancel_fd(sqe, s->fd, IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data(sqe, &us->cancel_op);
		return;
	}
	/* Broken ring: what is in flight will never complete; deliver only
	 * the closed callback (from the loop, as promised). */
	RT_ERR(s->g->rt, "sock: no SQE to cancel fd %d", s->fd);
	if (nvmft_thread_send_msg(s->g->t, deferred_sock_release, us))
		RT_ERR(s->g->rt, "sock: fd %d leaked", s->fd);
}

static int uring_group_init(struct sock_group *g)
{
	struct io_uring *ring = thread_ring(g->t);
	struct io_uring_probe *p;

	if (!ring)
		return -EINVAL;
	p = io_uring_get_probe_ring(ring);
	if (p) {
		g->zc_supported = io_uring_opcode_supported(p,
							IORING_OP_SENDMSG_ZC);
		io_uring_free_probe(p);
	}
	return 0;
}

static void uring_group_fini(struct sock_group *g)
{
}

const struct sock_ops sock_uring_ops = {
	.name = "uring",
	.group_size = sizeof(struct sock_group),
	.listener_size = sizeof(struct uring_listener),
	.sock_size = sizeof(struct uring_sock),
	.group_init = uring_group_init,
	.group_fini = uring_group_fini,
	.listen = uring_listen,
	.listener_close = uring_listener_close,
	.attach = uring_attach,
	.recv = uring_recv,
	.sendv = uring_sendv,
	.close = uring_close,
};
