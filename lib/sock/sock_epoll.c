/* SPDX-License-Identifier: MIT */
/*
 * Sock groups on the reactor's epoll instance (where io_uring is not
 * available).
 *
 * Connected sockets are registered once, edge-triggered for both
 * directions; the event handler only records readiness and queues the sock
 * on the group's run list. All syscalls that move data and every callback
 * run from the group's active poller, so nothing re-enters the caller of
 * nsock_recv()/nsock_sendv(), and nothing is freed while the reactor is
 * still dispatching a batch of epoll events that may point at it.
 *
 * Listeners are level-triggered: accept is bounded per event and the rest
 * is picked up on the next epoll_wait.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime/engine.h"
#include "sock/sock_internal.h"

/* Accepts per listener event, so one busy listener cannot starve others. */
#define EP_ACCEPT_BUDGET 16

/* Something the poller has to look at: a sock with work, or a closing
 * listener. */
struct ep_item {
	struct ep_item *next;
	bool queued;
	void (*run)(struct ep_item *it);
};

struct epoll_group {
	struct sock_group g;
	struct nvmft_poller *poller;
	struct ep_item *head;
	struct ep_item **tail;
};

struct epoll_listener {
	struct sock_listener l;
	struct epoll_op eop;
	struct ep_item item;
	struct nvmft_poller *rearm;	/* timed re-enable after an error */
	bool watched;			/* EPOLLIN armed on the listener */
};

struct epoll_sock {
	struct nsock s;
	struct epoll_op eop;
	struct ep_item item;
	/* Readiness as far as we know: set by events, cleared on EAGAIN. */
	bool readable;
	bool writable;
	/* The peer closed or the socket failed: no further edge will come,
	 * so stay readable until recv() reports it (0 or an error). */
	bool hup;
};

static struct epoll_group *to_eg(struct sock_group *g)
{
	return container_of(g, struct epoll_group, g);
}

static void ep_queue(struct sock_group *g, struct ep_item *it)
{
	struct epoll_group *eg = to_eg(g);

	if (it->queued)
		return;
	it->queued = true;
	it->next = NULL;
	*eg->tail = it;
	eg->tail = &it->next;
	/* Queued from a context that may not count as work (a timed poller
	 * returning 0): the reactor must not go to sleep on it. */
	thread_mark_busy(g->t);
}

static int ep_group_poll(void *arg)
{
	struct epoll_group *eg = arg;
	struct ep_item *list = eg->head;
	int n = 0;

	if (!list)
		return 0;
	/* Work only on what was queued before this turn: items queued by
	 * the callbacks run next turn, which bounds the turn. */
	eg->head = NULL;
	eg->tail = &eg->head;
	while (list) {
		struct ep_item *it = list;

		list = it->next;
		it->next = NULL;
		it->queued = false;
		it->run(it);
		n++;
	}
	return n;
}

/* ---- listeners ---- */

static int listener_watch(struct epoll_listener *el, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0,
				  .data.ptr = &el->eop };

	if (epoll_ctl(thread_epoll_fd(el->l.g->t), EPOLL_CTL_MOD, el->l.fd,
		      &ev) < 0)
		return -errno;
	el->watched = on;
	return 0;
}

static int listener_rearm_poll(void *arg)
{
	struct epoll_listener *el = arg;

	nvmft_poller_unregister(&el->rearm);
	if (!el->l.closing && listener_watch(el, true))
		RT_ERR(el->l.g->rt, "sock: listener on port %u stops "
		       "accepting: cannot re-arm", el->l.port);
	return 1;
}

/* Stop watching for a while: with level-triggered events an fd shortage
 * would otherwise report the listener readable on every turn. */
static void listener_back_off(struct epoll_listener *el, uint64_t delay_us)
{
	if (el->rearm)
		return;
	if (el->watched && listener_watch(el, false))
		return;
	el->rearm = nvmft_poller_register(listener_rearm_poll, el, delay_us);
	if (!el->rearm) {
		RT_ERR(el->l.g->rt, "sock: no timer to retry accept on port %u",
		       el->l.port);
		listener_watch(el, true);
	}
}

static void listener_ready(struct epoll_op *op, uint32_t events)
{
	struct epoll_listener *el = container_of(op, struct epoll_listener,
						 eop);
	struct sock_listener *l = &el->l;
	int i;

	l->refs++;
	for (i = 0; i < EP_ACCEPT_BUDGET && !l->closing; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd, err;

		fd = accept4(l->fd, (struct sockaddr *)&ss, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			sock_deliver_accept(l, fd, (struct sockaddr *)&ss, len);
			continue;
		}
		err = -errno;
		if (err == -EAGAIN || err == -EWOULDBLOCK)
			break;
		l->g->stats.accept_errors++;
		if (!sock_accept_error_transient(err)) {
			RT_ERR(l->g->rt, "sock: accept on port %u failed: %s; "
			       "listener stops accepting", l->port,
			       strerror(-err));
			if (el->watched)
				listener_watch(el, false);
			break;
		}
		sock_warn_ratelimited(l->g, "accept on port %u: %s", l->port,
				      strerror(-err));
		if (sock_accept_error_resource(err)) {
			listener_back_off(el, SOCK_ACCEPT_BACKOFF_US);
			break;
		}
	}
	l->refs--;
}

static void listener_run(struct ep_item *it)
{
	struct epoll_listener *el = container_of(it, struct epoll_listener,
						 item);
	struct sock_listener *l = &el->l;

	if (!l->closing)
		return;
	if (l->refs) {
		ep_queue(l->g, it);
		return;
	}
	close(l->fd);
	l->fd = -1;
	sock_listener_release(l);
}

static int ep_listen(struct sock_listener *l)
{
	struct epoll_listener *el = container_of(l, struct epoll_listener, l);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &el->eop };

	el->eop.ready = listener_ready;
	el->item.run = listener_run;
	if (epoll_ctl(thread_epoll_fd(l->g->t), EPOLL_CTL_ADD, l->fd, &ev) < 0)
		return -errno;
	el->watched = true;
	return 0;
}

static void ep_listener_close(struct sock_listener *l)
{
	struct epoll_listener *el = container_of(l, struct epoll_listener, l);

	nvmft_poller_unregister(&el->rearm);
	epoll_ctl(thread_epoll_fd(l->g->t), EPOLL_CTL_DEL, l->fd, NULL);
	el->watched = false;
	/* Release from the poller: the closed callback must not run inside
	 * this call, nor the memory go while an event batch may name it. */
	ep_queue(l->g, &el->item);
}

/* ---- connected socks ---- */

static void sock_do_recv(struct epoll_sock *es)
{
	struct nsock *s = &es->s;
	ssize_t n;

	if (!s->recv_pending || !es->readable)
		return;
	n = recv(s->fd, s->recv_buf, s->recv_len, MSG_DONTWAIT);
	if (n > 0) {
		/* A short read drained the socket; new data raises a new
		 * edge, so the next receive can wait for it. */
		if ((size_t)n < s->recv_len && !es->hup)
			es->readable = false;
		sock_complete_recv(s, (int)n);
	} else if (n == 0) {
		sock_complete_recv(s, 0);
	} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
		es->readable = false;
	} else if (errno == EINTR) {
		ep_queue(s->g, &es->item);
	} else {
		sock_complete_recv(s, -errno);
	}
}

static void sock_do_send(struct epoll_sock *es)
{
	struct nsock *s = &es->s;

	while (s->send_pending && es->writable && !s->closing) {
		ssize_t n = sendmsg(s->fd, &s->msg, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			if (sock_send_advance(s, (size_t)n)) {
				sock_complete_send(s, (int)s->send_total);
				return;
			}
			s->g->stats.partial_sends++;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			es->writable = false;
			return;
		}
		if (n < 0 && errno == EINTR)
			continue;
		sock_complete_send(s, n < 0 ? -errno : -EIO);
		return;
	}
}

static void sock_run(struct ep_item *it)
{
	struct epoll_sock *es = container_of(it, struct epoll_sock, item);
	struct nsock *s = &es->s;

	s->refs++;
	if (!s->closing) {
		sock_do_recv(es);
		if (!s->closing)
			sock_do_send(es);
	}
	if (s->closing) {
		if (s->recv_pending)
			sock_complete_recv(s, -ECANCELED);
		if (s->send_pending)
			sock_complete_send(s, -ECANCELED);
	}
	s->refs--;
	if (!s->closing || it->queued)
		return;
	if (s->refs) {
		ep_queue(s->g, it);
		return;
	}
	epoll_ctl(thread_epoll_fd(s->g->t), EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	s->fd = -1;
	sock_release(s);
}

static void sock_ready(struct epoll_op *op, uint32_t events)
{
	struct epoll_sock *es = container_of(op, struct epoll_sock, eop);
	struct nsock *s = &es->s;

	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		es->readable = true;
	if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		es->hup = true;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		es->writable = true;
	if (s->closing)
		return;
	if ((s->recv_pending && es->readable) ||
	    (s->send_pending && es->writable))
		ep_queue(s->g, &es->item);
}

static int ep_attach(struct nsock *s)
{
	struct epoll_sock *es = container_of(s, struct epoll_sock, s);
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		.data.ptr = &es->eop,
	};

	es->eop.ready = sock_ready;
	es->item.run = sock_run;
	/* Optimistic: the first operation just tries, EAGAIN corrects it. */
	es->readable = true;
	es->writable = true;
	if (epoll_ctl(thread_epoll_fd(s->g->t), EPOLL_CTL_ADD, s->fd, &ev) < 0)
		return -errno;
	return 0;
}

static int ep_recv(struct nsock *s)
{
	struct epoll_sock *es = container_of(s, struct epoll_sock, s);

	if (es->readable)
		ep_queue(s->g, &es->item);
	return 0;
}

static int ep_sendv(struct nsock *s)
{
	struct epoll_sock *es = container_of(s, struct epoll_sock, s);

	if (es->writable)
		ep_queue(s->g, &es->item);
	return 0;
}

static void ep_close(struct nsock *s)
{
	struct epoll_sock *es = container_of(s, struct epoll_sock, s);

	ep_queue(s->g, &es->item);
}

static int ep_group_init(struct sock_group *g)
{
	struct epoll_group *eg = to_eg(g);

	if (thread_epoll_fd(g->t) < 0)
		return -EINVAL;
	eg->tail = &eg->head;
	eg->poller = nvmft_poller_register(ep_group_poll, eg, 0);
	if (!eg->poller)
		return -ENOMEM;
	return 0;
}

static void ep_group_fini(struct sock_group *g)
{
	nvmft_poller_unregister(&to_eg(g)->poller);
}

const struct sock_ops sock_epoll_ops = {
	.name = "epoll",
	.group_size = sizeof(struct epoll_group),
	.listener_size = sizeof(struct epoll_listener),
	.sock_size = sizeof(struct epoll_sock),
	.group_init = ep_group_init,
	.group_fini = ep_group_fini,
	.listen = ep_listen,
	.listener_close = ep_listener_close,
	.attach = ep_attach,
	.recv = ep_recv,
	.sendv = ep_sendv,
	.close = ep_close,
};
