/* SPDX-License-Identifier: MIT */
/*
 * NVMe/TCP target transport internals, shared by
 *   tcp_transport.c   ops table, options, create/destroy, listeners, accept
 *   tcp_poll_group.c  per-reactor sock group, data buffer pool, pollers,
 *                     qpair attach/teardown, stats
 *   tcp_recv.c        receive state machine of a qpair
 *   tcp_req.c         request state machine
 *   tcp_send.c        send queue of a qpair
 * PDU layouts, validation and digests live in pdu.c / pdu.h.
 *
 * Threading: the transport and its listeners belong to the app reactor; a
 * poll group, its qpairs and their requests belong to the poll group's
 * reactor. A qpair is built on the app reactor at accept time and touched
 * there only until the core hands it to a poll group (poll_group_add).
 */
#ifndef NVMFT_LIB_TCP_INTERNAL_H
#define NVMFT_LIB_TCP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/uio.h>

#include "nvmf/transport.h"
#include "runtime/engine.h"
#include "sock/sock.h"
#include "tcp/pdu.h"

/* Staging buffer of a qpair: many PDUs per receive. Sized for a deep queue
 * of 4 KiB in-capsule writes (about 30 per receive; 16 KiB took 4 and
 * halved the IOPS); only the bytes that arrive touch its pages, so an
 * idle or read-only connection keeps one or two of them. */
#define TCP_RX_BUF_SIZE		(128u * 1024)
/* Payload pieces at least this large are received straight into the
 * request's buffer instead of going through the staging buffer. */
#define TCP_RX_DIRECT_MIN	(4u * 1024)
/* PDUs one qpair may process per turn before others get their go. */
#define TCP_RX_BUDGET		64u
/* Header / pad / digest bytes of one gather send. */
#define TCP_TX_ARENA_SIZE	(16u * 1024)
/* A C2HTermReq that could not be sent by then: close anyway. */
#define TCP_TERM_TIMEOUT_US	(2u * 1000 * 1000)
/* Largest PDU taken before the IC exchange: an H2CTermReq with 128 bytes. */
#define TCP_PRE_IC_MAX_PLEN	(sizeof(struct pdu_term_req) + PDU_TERM_MAX_DATA)
/* Logs a peer can trigger at will (timeouts, protocol errors, limits):
 * at most one line per this period and kind, with a count of the rest. */
#define TCP_LOG_PERIOD_US	(1000u * 1000)
/* Data of PDUs we build that the peer may see: the largest header. */
#define TCP_TX_PDU_MAX_BYTES	(PDU_MAX_HDR + PDU_TERM_MAX_DATA + PDU_MAX_PAD + \
				 PDU_DIGEST_LEN)

/*
 * Transient Transport Error (generic status 22h): the command may be
 * retried. libnvme 1.3 names it NVME_SC_TRAN_TPORT_ERROR.
 */
#define TCP_STATUS_TRANSIENT	NVMFT_STATUS(0, 0x22)

/* ---- requests ------------------------------------------------------------ */

enum tcp_req_state {
	TCP_REQ_FREE = 0,
	TCP_REQ_NEW,			/* capsule received, SGL being parsed */
	TCP_REQ_NEED_BUFFER,		/* waiting (FIFO) for pool buffers */
	TCP_REQ_TRANSFERRING_H2C,	/* in-capsule data or H2CData coming in */
	TCP_REQ_READY_TO_EXECUTE,
	TCP_REQ_EXECUTING,		/* held by the core */
	TCP_REQ_EXECUTED,		/* req->rsp final */
	TCP_REQ_TRANSFERRING_C2H,	/* C2HData (+ response) queued / sending */
	TCP_REQ_COMPLETED,		/* response queued / sending */
	TCP_REQ_NR_STATES
};

/* What an entry of the send queue stands for. */
enum tcp_tx_kind {
	TCP_TX_ICRESP = 0,
	TCP_TX_TERM,		/* C2HTermReq; the connection closes once sent */
	TCP_TX_R2T,
	TCP_TX_RSP,		/* C2HData PDUs (if any), then CapsuleResp */
};

struct tcp_qpair;
struct tcp_req;

/*
 * An entry of a qpair's send queue. The PDU bytes are built only when the
 * entry is gathered into a send (tcp_send.c), in a per-qpair arena that
 * lives until that send completes: nothing per PDU is kept in requests.
 */
struct tcp_tx {
	struct tcp_tx *next;
	uint8_t kind;
	struct tcp_req *req;	/* TCP_TX_R2T, TCP_TX_RSP */
};

struct tcp_req {
	struct nvmf_req req;		/* the core's view */
	struct tcp_qpair *qp;
	enum tcp_req_state state;
	uint16_t ttag;			/* index in qp->reqs */
	uint16_t nbufs;			/* pool buffers held (bufs[]) */
	bool r2t;			/* data comes by R2T / H2CData */
	bool dispatched;		/* handed to the core (exec or fail) */
	bool cid_held;			/* its CID is marked in qp->cid_busy */
	bool queued;			/* on pg->buf_waiters */
	uint16_t fail_status;		/* != 0: fail instead of executing */
	uint32_t h2c_off;		/* H2C bytes received so far */
	uint32_t c2h_off;		/* C2H bytes put on the wire so far */
	uint8_t *icd;			/* this slot's in-capsule / small buffer */
	struct tcp_tx tx_r2t;
	struct tcp_tx tx_rsp;
	TAILQ_ENTRY(tcp_req) link;	/* qp free list or pg buffer FIFO */
	void *bufs[NVMF_REQ_MAX_IOV];
};

/* ---- qpairs -------------------------------------------------------------- */

enum tcp_rx_state {
	TCP_RX_AWAIT_PDU_READY = 0,	/* between PDUs */
	TCP_RX_AWAIT_CH,		/* the 8-byte common header */
	TCP_RX_AWAIT_PSH,		/* rest of the header + header digest */
	TCP_RX_AWAIT_REQ,		/* CapsuleCmd in, no free request slot */
	TCP_RX_AWAIT_PAYLOAD,		/* pad, data, data digest */
	TCP_RX_ERROR,			/* fatal error: C2HTermReq being sent */
	TCP_RX_QUIESCING,		/* receiving nothing more */
	TCP_RX_NR_STATES
};

/* The payload of the PDU being received and where it goes. */
struct tcp_rx_payload {
	uint32_t pad_left;
	uint32_t data_left;
	uint32_t ddgst_left;
	uint8_t ddgst[PDU_DIGEST_LEN];
	bool ddgst_on;
	bool last;			/* H2CData LAST_PDU */
	uint32_t crc;
	struct tcp_req *req;		/* the command it belongs to */
	const struct iovec *iov;	/* destination; NULL: discard */
	int iovcnt;
	int iov_idx;
	size_t iov_off;
};

struct tcp_transport;
struct tcp_poll_group;
struct tcp_sock_ops;

TAILQ_HEAD(tcp_req_list, tcp_req);

struct tcp_qpair {
	struct nvmf_qpair base;
	struct tcp_transport *tt;
	struct tcp_poll_group *pg;		/* once added */
	int fd;					/* until attached to a sock */
	const struct tcp_sock_ops *sops;	/* the transport's, at accept */
	struct nsock *sock;
	bool sock_closed;			/* no sock or fd left */
	bool closing;				/* teardown started */
	bool fini;				/* qpair_fini called */
	void (*fini_done)(struct nvmf_qpair *qp, void *arg);
	void *fini_arg;
	struct nvmf_qpair_addrs addrs;
	uint64_t timer_start_us;		/* accept, or fatal error */

	/* negotiated at ICReq */
	bool ic_done;
	struct pdu_params params;
	uint32_t max_plen;
	uint32_t host_maxr2t;			/* 0's based, from ICReq */

	/* receive */
	enum tcp_rx_state rx_state;
	uint8_t *rxbuf;
	uint32_t rx_head;
	uint32_t rx_tail;
	bool rx_direct;				/* recv posted into payload dest */
	uint32_t rx_direct_len;
	bool rx_scheduled;			/* on pg->rx_list */
	union pdu_hdr hdr;
	uint32_t hdr_got;
	uint32_t hdr_need;
	struct tcp_rx_payload pl;
	TAILQ_ENTRY(tcp_qpair) rx_link;

	/* requests: one mapping holds the slots, the CID bitmap and the
	 * slots' buffers; a slot is set up on first use, so the pages of
	 * slots an idle or shallow queue never needs stay untouched */
	uint32_t nreqs;
	uint32_t nreqs_used;			/* slots set up so far */
	struct tcp_req *reqs;
	uint8_t *icd_slab;
	uint32_t icd_size;			/* bytes per request slot */
	bool icd_fixed;				/* icd slab offered as a fixed buffer */
	int icd_buf;				/* ... with this id */
	size_t slots_map_len;
	struct tcp_req_list free_reqs;		/* set-up slots, LIFO */
	uint64_t *cid_busy;			/* CIDs of active requests */
	uint32_t nr_active;			/* NEW..EXECUTED: the host's SQ */
	uint32_t nr_in_core;
	uint32_t nr_bufs;			/* pool buffers its requests hold */

	/* send */
	struct tcp_tx *txq_head;
	struct tcp_tx **txq_tail;
	struct tcp_tx *sent_head;		/* fully in the send in flight */
	struct tcp_tx **sent_tail;
	bool flush_scheduled;			/* on pg->flush_list */
	uint8_t *arena;
	uint32_t arena_used;
	struct iovec tx_iov[NSOCK_MAX_IOV];
	int tx_iovcnt;
	struct tcp_tx tx_icresp;
	struct tcp_tx tx_term;
	uint16_t term_fes;
	uint32_t term_fei;
	uint32_t term_len;
	uint8_t term_data[PDU_TERM_MAX_DATA];
	bool term_queued_out;			/* in a send: nothing may follow */
	bool term_sent;

	bool on_timer_list;
	TAILQ_ENTRY(tcp_qpair) timer_link;	/* awaiting ICReq / TermReq */
	TAILQ_ENTRY(tcp_qpair) flush_link;
	TAILQ_ENTRY(tcp_qpair) pg_link;
};

static inline struct tcp_qpair *tcp_qpair(struct nvmf_qpair *qp)
{
	return container_of(qp, struct tcp_qpair, base);
}

static inline struct tcp_req *tcp_req(struct nvmf_req *req)
{
	return container_of(req, struct tcp_req, req);
}

/* ---- poll groups --------------------------------------------------------- */

/* PDU type counters are indexed by type (0..9). */
#define TCP_PDU_TYPES		10

/**
 * struct tcp_pg_stats - counters of one TCP poll group (owning reactor)
 * @pdus_in: PDUs received, by type.
 * @pdus_out: PDUs sent (put on the wire), by type.
 * @bytes_in: bytes received.
 * @bytes_out: bytes sent.
 * @hdgst_errors: header digest mismatches (fatal).
 * @ddgst_errors: data digest mismatches (command failed).
 * @term_reqs_sent: C2HTermReqs queued.
 * @term_reqs_received: H2CTermReqs received.
 * @icreq_timeouts: connections closed for sending no ICReq in time.
 * @qpairs_added: connections served.
 * @qpairs_freed: connections torn down.
 * @qpairs: connections now.
 * @buf_waits: requests that had to wait for pool buffers.
 * @buf_share_waits: of those, requests whose connection held its share of
 *	the pool already (a host that does not read its data, or a very
 *	deep one).
 * @connect_timeouts: connections closed for not completing a Connect in
 *	time after the IC exchange.
 * @rx_stalls: CapsuleCmds that waited for a free request slot.
 * @rx_yields: times a qpair used up its PDU budget with bytes left.
 * @bufs_total: data buffers of the pool.
 * @bufs_free: data buffers free now.
 * @req_states: requests in each &enum tcp_req_state now.
 */
struct tcp_pg_stats {
	uint64_t pdus_in[TCP_PDU_TYPES];
	uint64_t pdus_out[TCP_PDU_TYPES];
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t hdgst_errors;
	uint64_t ddgst_errors;
	uint64_t term_reqs_sent;
	uint64_t term_reqs_received;
	uint64_t icreq_timeouts;
	uint64_t qpairs_added;
	uint64_t qpairs_freed;
	uint64_t qpairs;
	uint64_t buf_waits;
	uint64_t buf_share_waits;
	uint64_t connect_timeouts;
	uint64_t rx_stalls;
	uint64_t rx_yields;
	uint32_t bufs_total;
	uint32_t bufs_free;
	uint32_t req_states[TCP_REQ_NR_STATES];
};

TAILQ_HEAD(tcp_qpair_list, tcp_qpair);

/* One kind of rate-limited log line (tcp_log_limit). */
struct tcp_log_limit {
	uint64_t last_us;
	uint64_t suppressed;
};

struct tcp_poll_group {
	struct nvmf_transport_poll_group base;
	struct tcp_transport *tt;
	struct nvmft_thread *thread;
	struct nvmft_runtime *rt;
	struct sock_group *sgroup;

	/* data buffer pool: num_shared_buffers x io_unit_size, made once */
	uint8_t *buf_mem;			/* one page-aligned region */
	int buf_reg;				/* its fixed-buffer id, -1: none */
	void **free_bufs;
	uint32_t nr_free_bufs;
	struct tcp_req_list buf_waiters;	/* FIFO */

	struct tcp_qpair_list qpairs;
	struct tcp_qpair_list rx_list;		/* receive work left over */
	struct tcp_qpair_list flush_list;	/* sends queued this turn */
	struct tcp_qpair_list timer_list;	/* ICReq / TermReq deadlines */
	struct nvmft_poller *poller;		/* active: rx, buffers, flush */
	struct nvmft_poller *timer;		/* timed, paused when idle */
	bool timer_running;

	/* what peers can make us log at will */
	struct tcp_log_limit log_timeout;	/* ICReq / Connect deadlines */
	struct tcp_log_limit log_proto;		/* protocol errors */
	struct tcp_log_limit log_limit;		/* queue size exceeded */

	struct tcp_pg_stats stats;
};

struct tcp_listener {
	TAILQ_ENTRY(tcp_listener) link;
	struct tcp_transport *tt;
	struct nvmft_listen_addr addr;		/* as asked for */
	struct sock_listener *sl;
	uint16_t port;				/* bound */
};

/*
 * How qpairs reach their connections: the sock layer's calls (sock/sock.h,
 * whose contract holds here too: callbacks never run inside the posting
 * call), behind an ops table so that a test or a fuzzer can put an
 * in-memory stream under the real receive and send state machines
 * (tcp_transport_set_sock_ops). The default is tcp_nsock_ops.
 */
struct tcp_sock_ops {
	int (*attach)(struct sock_group *g, int fd, const struct nsock_cbs *cbs,
		      void *ctx, struct nsock **out);
	int (*recv)(struct nsock *s, void *buf, size_t len);
	int (*sendv)(struct nsock *s, const struct iovec *iov, int iovcnt);
	bool (*recv_pending)(const struct nsock *s);
	bool (*send_pending)(const struct nsock *s);
	void (*close)(struct nsock *s);
};

extern const struct tcp_sock_ops tcp_nsock_ops;

struct tcp_transport {
	struct nvmf_transport base;
	const struct tcp_sock_ops *sock;	/* tcp_nsock_ops but in tests */
	struct nvmft_runtime *rt;
	struct nvmft_thread *app_thread;
	struct sock_group *lgroup;		/* app reactor: listeners */
	TAILQ_HEAD(, tcp_listener) listeners;
	unsigned int nr_closing;		/* listeners being closed */
	bool destroying;
	nvmft_msg_fn destroy_done;
	void *destroy_arg;
	/* pool buffers one connection may hold: max_conn_buf_share_pct of
	 * the pool, but always enough for one request of max_io_size */
	uint32_t qp_max_bufs;
	/* poll group of each reactor (written and read on that reactor) */
	unsigned int nr_pgs;
	struct tcp_poll_group **pgs;
};

#define TCP_LOG(tt, lvl, ...)	nvmft_log((tt)->rt, (lvl), "tcp: " __VA_ARGS__)

/* ---- tcp_transport.c ----------------------------------------------------- */
/* Free a qpair that never reached a poll group (app reactor). */
void tcp_qpair_free(struct tcp_qpair *qp);
/*
 * Test seams (app reactor). set_sock_ops: connections accepted from now on
 * use @ops (NULL: the sock layer again). new_conn: serve @fd (handed over;
 * -1 is fine with ops that ignore it) from @peer as if a listener had
 * accepted it.
 */
void tcp_transport_set_sock_ops(struct nvmf_transport *t,
				const struct tcp_sock_ops *ops);
void tcp_transport_new_conn(struct nvmf_transport *t, int fd,
			    const struct sockaddr *peer);

/* ---- tcp_poll_group.c ---------------------------------------------------- */
int tcp_poll_group_create(struct nvmf_transport *t, struct nvmf_poll_group *pg,
			  struct nvmf_transport_poll_group **out);
void tcp_poll_group_destroy(struct nvmf_transport_poll_group *tpg);
int tcp_poll_group_add(struct nvmf_transport_poll_group *tpg,
		       struct nvmf_qpair *qp);
void tcp_qpair_fini(struct nvmf_qpair *qp,
		    void (*done)(struct nvmf_qpair *qp, void *arg), void *arg);
int tcp_qpair_get_addrs(struct nvmf_qpair *qp, struct nvmf_qpair_addrs *addrs);

/*
 * Counters of a poll group. Owning reactor.
 */
void tcp_poll_group_get_stats(struct tcp_poll_group *pg,
			      struct tcp_pg_stats *st);
/* The TCP poll group of reactor @idx, or NULL. Reactor @idx only. */
struct tcp_poll_group *tcp_transport_poll_group(struct nvmf_transport *t,
						unsigned int idx);

/* Pool buffers: all @n or none. */
bool tcp_pg_get_bufs(struct tcp_poll_group *pg, void **bufs, uint32_t n);
void tcp_pg_put_bufs(struct tcp_poll_group *pg, void **bufs, uint32_t n);
/* Ask the poller to resume / flush this qpair during this loop turn. */
void tcp_pg_schedule_rx(struct tcp_qpair *qp);
void tcp_pg_schedule_flush(struct tcp_qpair *qp);
/* Watch a deadline of @qp (ICReq, Connect, TermReq) / stop watching. */
void tcp_pg_timer_add(struct tcp_qpair *qp);
void tcp_pg_timer_del(struct tcp_qpair *qp);
/* May a line of kind @l be logged now (one per TCP_LOG_PERIOD_US)? When
 * it may, *@suppressed tells how many were skipped since the last one. */
bool tcp_log_limit(struct tcp_log_limit *l, uint64_t *suppressed);

/*
 * The transport gives up on @qp (peer gone, fatal error sent, timeout):
 * close the socket and tell the core. Never touch @qp after it returns
 * unless the socket's closed callback is known to be pending.
 */
void tcp_qpair_disconnect(struct tcp_qpair *qp);
/* Free once fini was called, the sock is closed and the core gave back
 * every request. */
void tcp_qpair_maybe_free(struct tcp_qpair *qp);

/* ---- tcp_recv.c ---------------------------------------------------------- */
/* Sock callbacks. */
void tcp_recv_done(struct nsock *s, void *ctx, int res);
/* Run the receive state machine over staged bytes (up to the budget),
 * post the next receive when it needs more. */
void tcp_rx_process(struct tcp_qpair *qp);
/* Fatal protocol error: queue a C2HTermReq, stop receiving. */
void tcp_rx_fatal(struct tcp_qpair *qp, uint16_t fes, uint32_t fei);
const char *tcp_rx_state_name(enum tcp_rx_state st);

/* ---- tcp_req.c ----------------------------------------------------------- */
int tcp_reqs_alloc(struct tcp_qpair *qp);
void tcp_reqs_free(struct tcp_qpair *qp);
void tcp_req_set_state(struct tcp_req *r, enum tcp_req_state st);
const char *tcp_req_state_name(enum tcp_req_state st);
/* A free request slot, or NULL. */
struct tcp_req *tcp_req_get(struct tcp_qpair *qp);
/*
 * A CapsuleCmd header is in qp->hdr: copy the SQE, validate it, set up
 * where in-capsule data goes (qp->pl). 0 or a fatal FES (*fei set).
 */
int tcp_req_capsule(struct tcp_qpair *qp, struct tcp_req *r,
		    uint32_t icd_len, uint32_t *fei);
/* Its in-capsule data (if any) is in: go on (execute or fail). */
void tcp_req_capsule_done(struct tcp_req *r);
/* An H2CData header for @r is valid and its data is in. */
void tcp_req_h2c_done(struct tcp_req *r, bool last);
/* The data digest of @r's data was wrong. */
void tcp_req_data_digest_error(struct tcp_req *r);
/* Pool buffers may be free again: serve the FIFO. Returns requests served. */
unsigned int tcp_req_serve_buf_waiters(struct tcp_poll_group *pg);
/* Everything of @r was put on the wire: recycle. */
void tcp_req_sent(struct tcp_req *r);
/* Teardown: recycle every request the core does not hold. */
void tcp_reqs_abort(struct tcp_qpair *qp);
void tcp_req_complete(struct nvmf_req *req);

/* ---- tcp_send.c ---------------------------------------------------------- */
void tcp_tx_queue(struct tcp_qpair *qp, struct tcp_tx *tx);
/* Gather what is queued into one send (if none is in flight). */
void tcp_tx_flush(struct tcp_qpair *qp);
void tcp_send_done(struct nsock *s, void *ctx, int res);
/* Teardown: forget queued entries (their requests are recycled by
 * tcp_reqs_abort). */
void tcp_tx_drop(struct tcp_qpair *qp);
void tcp_tx_term_req(struct tcp_qpair *qp, uint16_t fes, uint32_t fei,
		     const void *hdr, uint32_t hdr_len);

/* ---- iovec helpers (tcp_send.c) ------------------------------------------ */
/* Up to @max iovecs covering [@off, @off + @len) of @iov (less when @max
 * runs out: *@covered says how much). Returns the count. */
int tcp_iov_slice(struct iovec *out, int max, const struct iovec *iov,
		  int iovcnt, uint32_t off, uint32_t len, uint32_t *covered);

#endif
