/* SPDX-License-Identifier: MIT */
/*
 * libnvmft-host internals shared by qpair.c (lifecycle, submission,
 * completion), qpair_tx.c (send queue), qpair_rx.c (receive state
 * machine), fabrics.c (TCP connect, ICReq, Fabrics commands), ctrlr.c,
 * cmds.c and discovery.c.
 */
#ifndef NVMFT_LIB_HOST_INTERNAL_H
#define NVMFT_LIB_HOST_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <nvmft/host.h>
#include "tcp/pdu.h"

/* Receive buffer of a qpair: many PDUs per recv() call (a QD 128 batch of
 * 4 KiB reads is half a MiB). Pages are touched only as far as data
 * comes, so idle qpairs do not pay for it. */
#define HOST_RX_BUF_SIZE	(256 * 1024)
/* Data payloads at least this large are read straight into the user buffer. */
#define HOST_RX_DIRECT_MIN	(16 * 1024)
/* iovec entries of one gather write (a QD 128 batch of reads in one). */
#define HOST_TX_IOV_MAX		256
/* Limit on one command's data when MDTS says "no limit". */
#define HOST_MAX_XFER_DEFAULT	(16u * 1024 * 1024)
/* In-capsule data the admin queue takes (NVMe/TCP: 8 KiB). */
#define HOST_ADMIN_ICD		8192
/* Fabrics Connect data, always in capsule. */
#define HOST_CONNECT_DATA_LEN	1024

/*
 * Request slot. The capsule, then each H2CData PDU, goes through the one
 * tx_pdu embedded here: with MAXR2T 0 a command never has more than one
 * PDU in the send queue.
 */
enum req_state {
	REQ_FREE = 0,
	REQ_TX_CMD,		/* capsule queued or being sent */
	REQ_WAIT,		/* capsule sent: wait for R2T, C2HData, CapsuleResp */
	REQ_TX_H2C,		/* answering an R2T with H2CData PDUs */
	REQ_NR_STATES
};

/* One PDU in the send queue: header, padding, data slice, data digest. */
struct tx_pdu {
	struct tx_pdu *next;
	union pdu_hdr hdr;
	uint32_t hdr_len;	/* hlen + header digest */
	uint32_t pad_len;
	const struct iovec *iov; /* data source */
	int iovcnt;
	uint32_t data_off;	/* offset of the slice in iov */
	uint32_t data_len;
	uint32_t total;		/* bytes of the whole PDU */
	uint32_t sent;
	bool has_ddgst;
	uint8_t ddgst[PDU_DIGEST_LEN];
	struct host_req *req;	/* NULL for control PDUs */
};

struct host_req {
	enum req_state state;
	uint16_t cid;
	enum nvmft_host_dir dir;
	bool incapsule;
	uint16_t err_status;	/* e.g. data digest error, reported at completion */
	uint32_t len;
	struct iovec iov[NVMFT_HOST_MAX_IOV];
	int iovcnt;
	nvmft_host_cb cb;
	void *cb_arg;
	uint32_t c2h_next;	/* next expected C2HData offset */
	/* current R2T */
	uint16_t ttag;
	uint32_t r2t_end;
	uint32_t h2c_off;	/* next H2CData offset */
	struct host_req *next_free;
	struct tx_pdu tx;
	struct nvmft_sqe sqe;
};

enum qp_state {
	QP_IC = 0,		/* ICReq sent, waiting for ICResp */
	QP_CONNECTING,		/* only the Fabrics Connect may be submitted */
	QP_LIVE,
	QP_FAILED,
};

enum rx_state {
	RX_CH = 0,		/* common header */
	RX_PSH,			/* rest of header + header digest */
	RX_PAD,
	RX_DATA,
	RX_DDGST,
};

struct nvmft_host_qpair {
	struct nvmft_host_ctrlr *ctrlr;
	int fd;
	uint16_t qid;
	uint16_t qsize;
	enum qp_state state;
	int err;
	uint32_t cmd_timeout_ms;

	struct pdu_params params;
	uint8_t ic_digest;	/* digests asked for in ICReq */
	uint32_t icd_max;	/* in-capsule data limit */
	uint32_t max_xfer;

	struct host_req *reqs;
	uint16_t nreqs;
	struct host_req *free_list;
	unsigned int outstanding;
	unsigned int state_count[REQ_NR_STATES];

	/* send queue */
	struct tx_pdu *tx_head;
	struct tx_pdu *tx_tail;
	struct tx_pdu ctl;	/* ICReq / H2CTermReq */

	/* receive */
	uint8_t *rx_buf;
	uint32_t rx_head;
	uint32_t rx_tail;
	enum rx_state rx_state;
	union pdu_hdr rx_hdr;
	uint32_t rx_got;	/* bytes of the current piece received */
	uint32_t rx_need;	/* bytes of the current piece */
	struct host_req *rx_req;	/* C2HData destination */
	uint32_t rx_data_off;
	uint32_t rx_crc;
	uint8_t rx_ddgst[PDU_DIGEST_LEN];
	unsigned int rx_completions;	/* completions of this poll call */

	bool ic_received;
	bool closing;		/* Disconnect sent: the peer may hang up */

	/* keep-alive (admin queue) */
	uint64_t ka_next_ns;
	bool ka_outstanding;

	struct nvmft_host_qpair_stats stats;
};

struct nvmft_host_ctrlr {
	struct nvmft_host_opts opts;
	char traddr[256];
	char trsvcid[32];
	char subnqn[256];
	char hostnqn[NVMFT_HOST_NQN_LEN];
	uint16_t cntlid;
	uint64_t cap;
	uint32_t vs;
	uint32_t max_xfer;
	uint32_t io_icd;	/* I/O queue in-capsule data (IOCCSZ*16 - 64) */
	uint16_t max_io_queues;
	bool disconnect_supported;
	struct nvme_id_ctrl *id;
	struct nvmft_host_qpair *admin;
	struct nvmft_host_qpair **io;
	unsigned int nr_io;
	unsigned int io_cap;
};

/* log.c-like helper living in ctrlr.c */
void host_log(const struct nvmft_host_ctrlr *ctrlr, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

uint64_t host_now_ns(void);

/* qpair.c */
int qpair_create(struct nvmft_host_ctrlr *ctrlr, uint16_t qid, uint16_t qsize,
		 struct nvmft_host_qpair **out);
void qpair_destroy(struct nvmft_host_qpair *qp);
void qpair_fail(struct nvmft_host_qpair *qp, int err);
void qpair_fail_proto(struct nvmft_host_qpair *qp, uint16_t fes, uint32_t fei,
		      const char *why);
void qpair_req_set_state(struct nvmft_host_qpair *qp, struct host_req *req,
			 enum req_state st);
void qpair_complete(struct nvmft_host_qpair *qp, struct host_req *req,
		    uint16_t status, uint64_t result);
int qpair_submit(struct nvmft_host_qpair *qp, const struct nvmft_sqe *sqe,
		 const struct iovec *iov, int iovcnt, enum nvmft_host_dir dir,
		 bool force_incapsule, nvmft_host_cb cb, void *cb_arg);
int qpair_wait_until(struct nvmft_host_qpair *qp, const bool *done, int timeout_ms);
int qpair_cmd_sync(struct nvmft_host_qpair *qp, const struct nvmft_sqe *sqe,
		   const struct iovec *iov, int iovcnt, enum nvmft_host_dir dir,
		   bool force_incapsule, int timeout_ms, struct nvmft_host_cpl *cpl);
void qpair_keep_alive_tick(struct nvmft_host_qpair *qp);

/* qpair_tx.c */
void tx_enqueue(struct nvmft_host_qpair *qp, struct tx_pdu *p);
int tx_flush(struct nvmft_host_qpair *qp);
void tx_setup_h2c(struct nvmft_host_qpair *qp, struct host_req *req);
void tx_reset(struct nvmft_host_qpair *qp);
uint32_t iov_total(const struct iovec *iov, int iovcnt);
int iov_slice(struct iovec *out, int max, const struct iovec *iov, int iovcnt,
	      uint32_t off, uint32_t len);

/* qpair_rx.c */
int rx_process(struct nvmft_host_qpair *qp, unsigned int max);
void rx_reset(struct nvmft_host_qpair *qp);

/* fabrics.c */
int fabrics_tcp_connect(const char *traddr, const char *trsvcid, uint32_t timeout_ms,
			int *fd_out);
int fabrics_qpair_connect(struct nvmft_host_qpair *qp);
int fabrics_disconnect(struct nvmft_host_qpair *qp);
void fabrics_ic_resp(struct nvmft_host_qpair *qp, const struct pdu_icresp *r);

#endif
