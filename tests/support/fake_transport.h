/* SPDX-License-Identifier: MIT */
/*
 * An in-process transport for the NVMe-oF core tests: no sockets. A test
 * (off-reactor thread) opens qpairs that the core places on a chosen
 * reactor, submits SQEs with data buffers and waits (bounded) for the
 * CQEs the core produces. Register it on a tgt with
 * nvmf_tgt_register_transport_ops(tgt, &fake_transport_ops) (type "FAKE").
 *
 * Listening is pretend: listen/stop_listen only count calls; an address
 * whose traddr is "127.0.0.2" fails with -EADDRINUSE.
 */
#ifndef NVMFT_TESTS_FAKE_TRANSPORT_H
#define NVMFT_TESTS_FAKE_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "nvmf/nvmf_internal.h"

#define FAKE_TRANSPORT_NAME	"FAKE"
#define FAKE_TRANSPORT_QDEPTH	128	/* requests per fake qpair */

extern const struct nvmf_transport_ops fake_transport_ops;

struct fake_qpair;

/* Counters of one fake transport (read them with atomics). */
struct fake_transport_stats {
	_Atomic int listens;
	_Atomic int stop_listens;
	_Atomic int pg_created;
	_Atomic int pg_destroyed;
	_Atomic int qpairs_added;
	_Atomic int qpairs_fini;
	_Atomic int destroyed;
};

/* Sums over every fake transport the process made (survive destroy). */
extern struct fake_transport_stats fake_transport_totals;

/* The stats of the FAKE transport of @tgt (NULL if none). Test thread. */
struct fake_transport_stats *fake_transport_stats(struct nvmft_tgt *tgt);

/*
 * A test target on @rt: tgt created on reactor 0, FAKE registered and
 * added with @opts (NULL = defaults: depth 128, admin depth 32, 8 queues
 * per controller). Test thread. Returns NULL on failure.
 */
struct nvmft_tgt *fake_transport_tgt_new(struct nvmft_runtime *rt,
					 const struct nvmft_transport_opts *opts);
/* Destroy it and wait (bounded); returns 0 or -ETIMEDOUT. */
int fake_transport_tgt_free(struct nvmft_runtime *rt, struct nvmft_tgt *tgt);

/* Run @fn(@arg) on the app reactor and wait. Test thread. */
void fake_transport_on_app(struct nvmft_runtime *rt, void (*fn)(void *arg), void *arg);

/* Wait for an nvmft_done_fn: pass fake_transport_done and a waiter. */
struct fake_transport_waiter {
	_Atomic int done;
	int rc;
};
void fake_transport_done(void *arg, int rc);
/* 0 when done came (rc in w->rc), -ETIMEDOUT. */
int fake_transport_wait(struct fake_transport_waiter *w, uint64_t timeout_us);

/*
 * A new connection placed on reactor @reactor (the core's round robin is
 * pointed there). Waits until the transport poll group serves it.
 * Returns NULL if the core refused or closed it (see closed state).
 */
struct fake_qpair *fake_transport_connect(struct nvmft_runtime *rt,
					  struct nvmft_tgt *tgt, unsigned int reactor);
/* The qpair as the core sees it (read its fields on its reactor only). */
struct nvmf_qpair *fake_transport_qpair(struct fake_qpair *fq);

/*
 * Submit @sqe (its cid is replaced by a free slot's; returned) with @len
 * bytes of data: for host-to-controller commands @data is copied in, for
 * controller-to-host ones the result is copied back to @data by
 * fake_transport_wait_cqe(). Returns the cid (>= 0) or -EBUSY / -ESHUTDOWN.
 */
int fake_transport_submit(struct fake_qpair *fq, const struct nvmft_sqe *sqe,
			  void *data, uint32_t len);
/* Wait for the CQE of @cid. 0, or -ETIMEDOUT (the slot stays busy). */
int fake_transport_wait_cqe(struct fake_qpair *fq, int cid, struct nvmft_cqe *out,
			    uint64_t timeout_us);
/* Has @cid completed (without waiting)? */
bool fake_transport_cqe_ready(struct fake_qpair *fq, int cid);
/* submit + wait (5 s); returns the CQE status field >> 1 (NVMFT_STATUS
 * layout), or 0xffff on timeout/submit failure. @out may be NULL. */
uint16_t fake_transport_exec(struct fake_qpair *fq, const struct nvmft_sqe *sqe,
			     void *data, uint32_t len, struct nvmft_cqe *out);

/* Ask the core to disconnect the qpair (transport-initiated close). */
void fake_transport_disconnect(struct fake_qpair *fq);
/* The core called qpair_fini and every request came back. */
bool fake_transport_closed(struct fake_qpair *fq);
/* Wait until closed; true if so within @timeout_us. */
bool fake_transport_wait_closed(struct fake_qpair *fq, uint64_t timeout_us);

/* Free every closed fake qpair (they outlive their tgt for the tests'
 * checks). Test thread, e.g. after the tgt is destroyed. */
void fake_transport_reap(void);

/* --- command builders ----------------------------------------------------- */

/* Fabrics Connect SQE + 1024-byte data for @subnqn / @hostnqn. */
void fake_transport_connect_cmd(struct nvmft_sqe *sqe, struct nvmf_connect_data *data,
				uint16_t qid, uint16_t sqsize, uint16_t cntlid,
				uint32_t kato_ms, const char *subnqn,
				const char *hostnqn);
/* Property Get (size 4 or 8) / Set SQEs. */
void fake_transport_prop_get_cmd(struct nvmft_sqe *sqe, uint32_t ofst, int size);
void fake_transport_prop_set_cmd(struct nvmft_sqe *sqe, uint32_t ofst, int size,
				 uint64_t value);

/*
 * Admin queue: connect (sqsize 31, kato @kato_ms), enable (CC.EN=1 with
 * IOSQES/IOCQES set) and wait for CSTS.RDY. Returns the qpair and sets
 * *@cntlid, or NULL.
 */
struct fake_qpair *fake_transport_admin_connect(struct nvmft_runtime *rt,
						struct nvmft_tgt *tgt,
						unsigned int reactor,
						const char *subnqn,
						const char *hostnqn,
						uint32_t kato_ms, uint16_t *cntlid);
/* An I/O queue @qid of controller @cntlid on @reactor; NULL on failure. */
struct fake_qpair *fake_transport_io_connect(struct nvmft_runtime *rt,
					     struct nvmft_tgt *tgt,
					     unsigned int reactor,
					     const char *subnqn,
					     const char *hostnqn,
					     uint16_t cntlid, uint16_t qid);

#endif
