/* SPDX-License-Identifier: MIT */
/*
 * Private to lib/sock: the common part of groups, listeners and socks, the
 * ops table each engine implementation fills in, and the helpers in sock.c
 * that both implementations share (completion delivery, partial-send
 * bookkeeping, release).
 *
 * Each implementation allocates (through the sizes in its ops table) a
 * bigger struct that starts with the common one and gets back to it with
 * container_of().
 */
#ifndef NVMFT_LIB_SOCK_INTERNAL_H
#define NVMFT_LIB_SOCK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "sock/sock.h"

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#endif

struct sock_ops {
	const char *name;
	size_t group_size;
	size_t listener_size;
	size_t sock_size;
	int (*group_init)(struct sock_group *g);
	void (*group_fini)(struct sock_group *g);
	/* Start accepting on l->fd (bound, listening, non-blocking). */
	int (*listen)(struct sock_listener *l);
	void (*listener_close)(struct sock_listener *l);
	/* s->fd is connected and non-blocking. */
	int (*attach)(struct nsock *s);
	/* Post the receive / send described in s (checks already done). */
	int (*recv)(struct nsock *s);
	int (*sendv)(struct nsock *s);
	void (*close)(struct nsock *s);
};

extern const struct sock_ops sock_uring_ops;
extern const struct sock_ops sock_epoll_ops;

struct sock_group {
	const struct sock_ops *ops;
	struct nvmft_thread *t;
	struct nvmft_runtime *rt;
	unsigned int nr_socks;
	unsigned int nr_listeners;
	size_t zc_threshold;
	bool zc_supported;
	struct sock_group_stats stats;
	/* rate limit of sock_warn_ratelimited() */
	uint64_t warn_last_us;
	unsigned int warn_suppressed;
};

struct sock_listener {
	struct sock_group *g;
	int fd;
	int family;
	uint16_t port;
	bool closing;
	/* > 0 while one of its callbacks runs: no release until it returns */
	unsigned int refs;
	sock_accept_fn on_accept;
	void *ctx;
	void (*closed)(void *ctx);
	void *closed_ctx;
	/* AF_UNIX: the socket file and its identity, removed at release if
	 * it is still the one we bound (not a successor's). */
	char *unix_path;
	dev_t unix_dev;
	ino_t unix_ino;
};

struct nsock {
	struct sock_group *g;
	int fd;
	bool closing;
	bool recv_pending;
	bool send_pending;
	unsigned int refs;
	struct nsock_cbs cbs;
	void *ctx;

	void *recv_buf;
	size_t recv_len;

	/* The send in flight: our copy of the caller's iovecs, advanced in
	 * place over partial sends, and the msghdr the kernel reads them
	 * through (both must live until the send completes). */
	struct iovec iov[NSOCK_MAX_IOV];
	int iov_idx;
	int iovcnt;
	size_t send_total;
	size_t send_left;
	struct msghdr msg;
};

/* Deliver a completion: clears the pending flag first so the callback may
 * post the next operation, and holds s->refs across the call. */
void sock_complete_recv(struct nsock *s, int res);
void sock_complete_send(struct nsock *s, int res);

/* Account @n bytes sent; point s->msg at what is left. True when done. */
bool sock_send_advance(struct nsock *s, size_t n);
/* Point s->msg at the unsent part of the gather list. */
void sock_send_prepare_msg(struct nsock *s);

/* Make the coming close(2) send a reset instead of a FIN. */
void sock_set_abortive(int fd);

/* Pass an accepted @fd to the listener's owner (holds l->refs). */
void sock_deliver_accept(struct sock_listener *l, int fd,
			 const struct sockaddr *peer, socklen_t peer_len);

/* Last step of a close, fd already closed: closed callback, accounting,
 * thread reference, free. */
void sock_release(struct nsock *s);
void sock_listener_release(struct sock_listener *l);

/* Warning at most once per second per group; counts what it drops. */
void sock_warn_ratelimited(struct sock_group *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Errors after which an accept is worth retrying later (no fds, no memory,
 * or a connection that died before we took it). */
bool sock_accept_error_transient(int err);
/* ... and among those, the ones that mean "out of a resource": wait long. */
bool sock_accept_error_resource(int err);

#define SOCK_ACCEPT_RETRY_US 1000u		/* after a dead connection */
#define SOCK_ACCEPT_BACKOFF_US 100000u	/* after EMFILE, ENFILE, ENOMEM... */

#endif
