/* SPDX-License-Identifier: MIT */
/*
 * The contract between the NVMe-oF core (lib/nvmf) and a transport
 * (lib/tcp). A transport embeds the generic objects below in its own
 * structs and gets back with container_of().
 *
 * Life of a connection:
 *   app reactor: transport accepts, allocates its qpair, nvmf_tgt_new_qpair()
 *   → core picks a poll group (round robin) and sends the qpair there
 *   → that reactor: ops->poll_group_add(tpg, qp); from now on only this
 *     reactor touches qp.
 *   For each command: transport reads the capsule, copies the SQE to
 *   req->cmd, finds the transfer direction (nvmf_req_get_xfer), gets data
 *   buffers (req->iov, req->length) and, for host-to-controller data, the
 *   data itself; then nvmf_req_exec(req). The core fills req->rsp and calls
 *   ops->req_complete(req) exactly once (maybe from inside nvmf_req_exec),
 *   after which the transport sends C2H data (if any and successful) and
 *   the response, and recycles the request.
 *   A command the transport rejects before exec (bad SGL, data digest
 *   error, too long) goes through nvmf_req_fail(req, status): the same
 *   single completion path.
 *   End: whoever decides (transport: peer closed / fatal PDU error; core:
 *   keep-alive expiry, controller teardown, target shutdown) calls
 *   nvmf_qpair_disconnect(qp). The core detaches the qpair from its
 *   controller, completes the requests it holds (AERs) with
 *   ops->req_complete (the transport discards them), and calls
 *   ops->qpair_fini(qp, done, arg); the transport closes the connection,
 *   waits until every request handed to the core came back, calls done
 *   (the core's last touch of qp) and frees qp.
 */
#ifndef NVMFT_LIB_NVMF_TRANSPORT_H
#define NVMFT_LIB_NVMF_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <nvmft/nvmf.h>
#include <nvmft/nvme_wire.h>
#include <nvmft/bdev.h>

struct nvmf_poll_group;		/* core: one per reactor per tgt */
struct nvmf_ctrlr;		/* core */
struct nvmf_transport;
struct nvmf_transport_poll_group;
struct nvmf_qpair;
struct nvmf_req;

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - __builtin_offsetof(type, member)))
#endif

enum nvmf_xfer {
	NVMF_XFER_NONE = 0,
	NVMF_XFER_H2C,		/* host to controller (write-like) */
	NVMF_XFER_C2H,		/* controller to host (read-like) */
	NVMF_XFER_INVALID,	/* bidirectional: not supported */
};

#define NVMF_REQ_MAX_IOV	64

/* Admin and fabrics queues always accept this much in-capsule data. */
#define NVMF_ADMIN_ICDSZ	8192

struct nvmf_req {
	struct nvmf_qpair *qpair;
	struct nvmft_sqe cmd;		/* copied from the capsule */
	struct nvmft_cqe rsp;		/* filled by the core */
	enum nvmf_xfer xfer;
	uint32_t length;		/* bytes of data (the SGL length) */
	int iovcnt;
	struct iovec iov[NVMF_REQ_MAX_IOV];

	/* Core-private from here on (the transport does not touch). */
	struct nvmft_bdev_io bdev_io;
	struct nvmf_req *core_next;	/* AER list, fused pair, queues */
	uint64_t core_start_us;
	uint32_t core_state;
	uint32_t core_dsm_idx;
};

enum nvmf_qpair_state {
	NVMF_QPAIR_NEW = 0,		/* handed to a poll group, no Connect yet */
	NVMF_QPAIR_ACTIVE,		/* Connect succeeded */
	NVMF_QPAIR_DISCONNECTING,	/* nvmf_qpair_disconnect() called */
};

struct nvmf_qpair {
	struct nvmf_transport *transport;
	struct nvmf_poll_group *group;	/* set by the core */
	struct nvmf_ctrlr *ctrlr;	/* set by the core at Connect */
	enum nvmf_qpair_state state;
	uint16_t qid;			/* set by the core at Connect */
	uint16_t sq_size;		/* entries (SQSIZE + 1), at Connect */
	uint16_t sq_head;		/* core: SQHD of responses */
	bool sq_flow_control;		/* false if host disabled SQ flow control */
	uint32_t core_outstanding;	/* requests the core holds */
	void *core_link[2];		/* core lists */
	void *core_ctx;			/* core */
};

struct nvmf_transport {
	const struct nvmf_transport_ops *ops;
	struct nvmft_tgt *tgt;
	struct nvmft_transport_opts opts;
	void *core_link[2];
};

struct nvmf_transport_poll_group {
	struct nvmf_transport *transport;
	struct nvmf_poll_group *group;
	void *core_link[2];
};

/* Addresses of a connection, for the discovery log, RPC and logs. */
struct nvmf_qpair_addrs {
	struct nvmft_listen_addr local;
	struct nvmft_listen_addr peer;
};

struct nvmf_transport_ops {
	const char *name;		/* "TCP" */
	uint8_t trtype;			/* NVMF_TRTYPE_TCP (<nvme/types.h>) */

	/* Defaults. Any thread. */
	void (*opts_init)(struct nvmft_transport_opts *opts);
	/* Validate options: 0 or -EINVAL after logging field and value. */
	int (*opts_check)(struct nvmft_tgt *tgt,
			  const struct nvmft_transport_opts *opts);

	/* App reactor. */
	int (*create)(struct nvmft_tgt *tgt,
		      const struct nvmft_transport_opts *opts,
		      struct nvmf_transport **out);
	/* App reactor, after every poll group of it is destroyed. */
	void (*destroy)(struct nvmf_transport *t, nvmft_msg_fn done, void *arg);

	/* App reactor. listen: 0, -EADDRINUSE, -EINVAL, -errno. */
	int (*listen)(struct nvmf_transport *t,
		      const struct nvmft_listen_addr *addr);
	void (*stop_listen)(struct nvmf_transport *t,
			    const struct nvmft_listen_addr *addr);
	/* Bound port of a listener (for trsvcid "0"), or -ENOENT. */
	int (*listen_port)(struct nvmf_transport *t,
			   const struct nvmft_listen_addr *addr);

	/* On the poll group's reactor. */
	int (*poll_group_create)(struct nvmf_transport *t,
				 struct nvmf_poll_group *pg,
				 struct nvmf_transport_poll_group **out);
	/* On its reactor, once it has no qpairs left. */
	void (*poll_group_destroy)(struct nvmf_transport_poll_group *tpg);
	/* On tpg's reactor: start serving qp. 0 or -errno (then the core
	 * calls qpair_fini). */
	int (*poll_group_add)(struct nvmf_transport_poll_group *tpg,
			      struct nvmf_qpair *qp);

	/* On qp's reactor: req->rsp is final; send data + response. */
	void (*req_complete)(struct nvmf_req *req);

	/* On qp's reactor: close, wait for requests held by the core, call
	 * done(qp, arg), free qp. */
	void (*qpair_fini)(struct nvmf_qpair *qp,
			   void (*done)(struct nvmf_qpair *qp, void *arg),
			   void *arg);
	/* On qp's reactor: addresses. 0 or -errno. */
	int (*qpair_get_addrs)(struct nvmf_qpair *qp,
			       struct nvmf_qpair_addrs *addrs);
};

/* --- Core functions a transport calls ----------------------------------- */

/* App reactor: a new connection. The core owns placing it; on failure it
 * calls ops->qpair_fini on the app reactor. */
void nvmf_tgt_new_qpair(struct nvmft_tgt *tgt, struct nvmf_qpair *qp);
/* Same, for a connection accepted on the listener of @listen_addr (the
 * address the core asked ops->listen for): it counts against that
 * listener's max_connections too. */
void nvmf_tgt_new_listener_qpair(struct nvmft_tgt *tgt, struct nvmf_qpair *qp,
				 const struct nvmft_listen_addr *listen_addr);

/* Transfer direction of a command (from the opcode / fabrics type). */
enum nvmf_xfer nvmf_req_get_xfer(const struct nvmft_sqe *cmd);

/* qp's reactor: execute; ops->req_complete follows exactly once. */
void nvmf_req_exec(struct nvmf_req *req);

/* qp's reactor: complete without executing, with an NVMe status. */
void nvmf_req_fail(struct nvmf_req *req, uint16_t status);

/* qp's reactor: start tearing the qpair down (idempotent). */
void nvmf_qpair_disconnect(struct nvmf_qpair *qp);

/* The reactor of a poll group, and its tgt. */
struct nvmft_thread *nvmf_poll_group_thread(struct nvmf_poll_group *pg);
struct nvmft_tgt *nvmf_poll_group_tgt(struct nvmf_poll_group *pg);

/* Registered transport types of the tgt (built-in: TCP). */
const struct nvmf_transport_ops *nvmf_transport_ops_find(const char *trtype);

/* The TCP transport (lib/tcp). */
extern const struct nvmf_transport_ops nvmf_tcp_ops;

#endif
