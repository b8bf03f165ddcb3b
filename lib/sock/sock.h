/* SPDX-License-Identifier: MIT */
/*
 * Sock groups: the TCP sockets of one reactor, driven by that reactor's
 * event engine. One interface, two implementations chosen by the runtime's
 * engine: io_uring (sock_uring.c) and epoll (sock_epoll.c).
 *
 * Threading: a group, its listeners and its socks belong to the reactor
 * that created the group; every call and every callback happens there.
 * Moving a new connection to another reactor = sending its fd by message
 * and calling sock_attach() on the other reactor's group.
 *
 * Callbacks are never called from inside the call that started the
 * operation: they come from the reactor loop.
 */
#ifndef NVMFT_LIB_SOCK_H
#define NVMFT_LIB_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <nvmft/runtime.h>

struct sock_group;
struct sock_listener;
struct nsock;

/* Callbacks of a connected socket (all on the owning reactor). */
struct nsock_cbs {
	/*
	 * A posted nsock_recv() finished: res > 0 bytes received into the
	 * buffer, 0 = peer closed, < 0 = -errno (-ECANCELED after close).
	 */
	void (*recv_done)(struct nsock *s, void *ctx, int res);
	/*
	 * A posted nsock_sendv() finished: res = all the bytes asked for
	 * (partial sends are continued internally), or -errno.
	 */
	void (*send_done)(struct nsock *s, void *ctx, int res);
	/*
	 * After nsock_close(): every pending operation has completed (each
	 * exactly once, with -ECANCELED if cut short) and the fd is closed.
	 * The sock is freed after this returns.
	 */
	void (*closed)(struct nsock *s, void *ctx);
};

/* Accepted connection: the new fd (owned by the callee) and the peer. */
typedef void (*sock_accept_fn)(struct sock_listener *l, int fd,
			       const struct sockaddr *peer, socklen_t peer_len,
			       void *ctx);

/* Implementation in use by groups of runtime @rt: "uring" or "epoll". */
const char *sock_impl_name(struct nvmft_runtime *rt);

/* Create / destroy the calling reactor's group (-EINVAL when @t is not
 * the calling reactor). destroy requires every
 * sock and listener of the group to be closed first (-EBUSY otherwise);
 * a sock or listener counts as closed from its closed callback on, so the
 * group may be destroyed from the last one's callback. */
int sock_group_create(struct nvmft_thread *t, struct sock_group **out);
int sock_group_destroy(struct sock_group *g);

/* Number of open socks + listeners (for teardown checks and stats). */
unsigned int sock_group_count(const struct sock_group *g);

/*
 * Listen on @addr (IPv4 or IPv6 literal, or "" / "*" for any IPv4) and
 * @port (0 = ephemeral; see sock_listener_port()). SO_REUSEADDR, and
 * IPV6_V6ONLY on IPv6 sockets. @on_accept runs for every accepted
 * connection (multishot accept on io_uring).
 * Returns 0, -EADDRINUSE, -EADDRNOTAVAIL, -EINVAL (bad address), -errno.
 */
int sock_listen(struct sock_group *g, const char *addr, uint16_t port,
		int backlog, sock_accept_fn on_accept, void *ctx,
		struct sock_listener **out);

/*
 * Listen on the Unix stream socket @path (management sockets). The file is
 * created with permissions @mode before the socket listens, so nobody can
 * connect while it still has the umask's. A stale socket file (nothing
 * accepts there: a process that died) is replaced; a live one is
 * -EADDRINUSE and any other kind of file -EEXIST (never removed). The file
 * is removed when the listener closes, if it is still ours.
 * sock_listener_port() is 0 for these listeners.
 * Returns 0, -EADDRINUSE, -EEXIST, -ENAMETOOLONG, -EINVAL (empty path),
 * -errno (bind: -EACCES, -ENOENT for a missing directory...).
 */
int sock_listen_unix(struct sock_group *g, const char *path, mode_t mode,
		     int backlog, sock_accept_fn on_accept, void *ctx,
		     struct sock_listener **out);
uint16_t sock_listener_port(const struct sock_listener *l);
/* Stop accepting; @closed (may be NULL) runs once the fd is closed. */
void sock_listener_close(struct sock_listener *l,
			 void (*closed)(void *ctx), void *ctx);

/* Connect (blocking; for hosts and tests, not used on a reactor).
 * Returns the connected fd (blocking, TCP_NODELAY, close-on-exec) or
 * -errno (-EINVAL for a bad address, or "" / "*", or port 0). */
int sock_connect_blocking(const char *addr, uint16_t port);

/*
 * Wrap connected @fd (made non-blocking, TCP_NODELAY) in a sock of @g.
 * Returns 0 or -errno (then @fd is still the caller's).
 */
int sock_attach(struct sock_group *g, int fd, const struct nsock_cbs *cbs,
		void *ctx, struct nsock **out);

/*
 * Post one receive of up to @len bytes into @buf. At most one receive is
 * outstanding per sock (-EBUSY otherwise). Returns 0 or -errno.
 */
int nsock_recv(struct nsock *s, void *buf, size_t len);
/* (After nsock_close() both posting calls return -ESHUTDOWN; an empty
 * buffer or gather list is -EINVAL.) */

/*
 * Post a gather send of @iovcnt iovecs (copied; at most NSOCK_MAX_IOV).
 * The buffers must stay valid until send_done. At most one send is
 * outstanding per sock (-EBUSY otherwise): callers batch what they have
 * into one sendv per loop turn. Large payloads may go out with SEND_ZC
 * where the kernel supports it; send_done comes after the kernel no longer
 * needs the buffers. Returns 0 or -errno.
 */
/* (a reply to a batch of 4 KiB reads takes about two iovecs per command:
 * 256 lets one send carry a whole QD 128 batch) */
#define NSOCK_MAX_IOV 256
int nsock_sendv(struct nsock *s, const struct iovec *iov, int iovcnt);

/* True while a recv / a send is outstanding. */
bool nsock_recv_pending(const struct nsock *s);
bool nsock_send_pending(const struct nsock *s);

/*
 * Close: cancel what is pending; every pending operation completes exactly
 * once (with -ECANCELED or its real result), then cbs->closed runs. Safe to
 * call from inside any of the sock's callbacks. Idempotent.
 * (A send still pending at close time is cut short, so the connection is
 * aborted with a reset rather than ended with a FIN: the peer must not
 * mistake a truncated stream for a complete one.)
 */
void nsock_close(struct nsock *s);

/* Peer and local addresses as text ("127.0.0.1", port). 0 or -errno. */
int nsock_peer(const struct nsock *s, char *addr, size_t len, uint16_t *port);
int nsock_local(const struct nsock *s, char *addr, size_t len, uint16_t *port);

/* Underlying fd (for getsockopt / diagnostics only). */
int nsock_fd(const struct nsock *s);

/*
 * Sends whose total is >= @bytes go out with SENDMSG_ZC when the kernel has
 * it (io_uring groups only; default 64 KiB; 0 = never). Owning reactor.
 */
#define SOCK_ZC_THRESHOLD_DEFAULT (64u * 1024)
void sock_group_set_zc_threshold(struct sock_group *g, size_t bytes);
/* True when this group's engine can send zero-copy (SENDMSG_ZC probed). */
bool sock_group_zc_supported(const struct sock_group *g);

/* Counters of a group (owning reactor; plain reads). */
struct sock_group_stats {
	uint64_t accepted;	/* connections handed to on_accept */
	uint64_t accept_errors;	/* failed accepts (logged rate-limited) */
	uint64_t recvs;		/* receives completed */
	uint64_t sends;		/* sends completed (send_done calls) */
	uint64_t partial_sends;	/* short writes continued internally */
	uint64_t zc_sends;	/* send submissions that used SENDMSG_ZC */
	uint64_t zc_fallbacks;	/* ZC refused by the kernel, redone plain */
	uint64_t cancelled;	/* operations completed with -ECANCELED */
};
void sock_group_get_stats(const struct sock_group *g,
			  struct sock_group_stats *st);

#endif
