/* SPDX-License-Identifier: MIT */
/**
 * DOC: nvmft host library — a small NVMe/TCP initiator
 *
 * libnvmft-host speaks NVMe/TCP to a controller with plain non-blocking
 * sockets: one &struct nvmft_host_qpair is one TCP connection, used by one
 * thread at a time (different qpairs of one controller may live on
 * different threads). Commands are submitted asynchronously and complete
 * through a callback run from nvmft_host_qpair_poll() (or from the wait and
 * sync helpers, which poll). Nothing is allocated per command: each qpair
 * has queue-size request slots made when it connects.
 *
 * Used by nvmft-perf and the tests; it is not a general purpose driver (no
 * reconnect, no multipath, no authentication).
 *
 * Errors: negative errno for system and transport failures; the sync
 * helpers return a positive NVMe status (layout of <nvmft/nvme_wire.h>) when
 * the controller completed the command with an error.
 */
#ifndef NVMFT_HOST_H
#define NVMFT_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <nvmft/nvme_wire.h>

#ifdef __cplusplus
extern "C" {
#endif

struct nvmft_host_ctrlr;
struct nvmft_host_qpair;
/* libnvme <nvme/types.h> structures, used by pointer only. */
struct nvme_id_ctrl;
struct nvme_dsm_range;

#define NVMFT_HOST_DISC_NQN	"nqn.2014-08.org.nvmexpress.discovery"
/** Most iovec entries one command may carry. */
#define NVMFT_HOST_MAX_IOV	16
/** Length of a host NQN buffer (NVMe NQNs are at most 223 bytes + NUL). */
#define NVMFT_HOST_NQN_LEN	224

/**
 * enum nvmft_host_dir - data direction of a command
 * @NVMFT_HOST_DIR_NONE: no data.
 * @NVMFT_HOST_DIR_WRITE: host to controller (in-capsule or R2T/H2CData).
 * @NVMFT_HOST_DIR_READ: controller to host (C2HData).
 */
enum nvmft_host_dir {
	NVMFT_HOST_DIR_NONE = 0,
	NVMFT_HOST_DIR_WRITE,
	NVMFT_HOST_DIR_READ,
};

/**
 * typedef nvmft_host_log_fn - receives the library's diagnostics
 * @arg: &nvmft_host_opts.log_arg.
 * @level: syslog level (LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG).
 * @msg: one line, no trailing newline.
 */
typedef void (*nvmft_host_log_fn)(void *arg, int level, const char *msg);

/**
 * struct nvmft_host_opts - how to reach and set up a controller
 * @traddr: IPv4/IPv6 address or host name of the target.
 * @trsvcid: TCP port ("4420").
 * @subnqn: subsystem NQN to connect to.
 * @hostnqn: host NQN; NULL = a generated
 *	"nqn.2014-08.org.nvmexpress:uuid:<uuid>", stable for the process.
 * @hostid: host identifier; all zero = the UUID of the generated host NQN.
 * @hdgst: ask for header digests (the controller must grant them).
 * @ddgst: ask for data digests (the controller must grant them).
 * @hpda: host PDU data alignment requested in ICReq (0's based dwords).
 * @kato_ms: keep-alive timeout sent in Connect; 0 = no keep-alive.
 * @admin_queue_size: admin queue entries (at most size - 1 outstanding).
 * @io_queue_size: I/O queue entries of the qpairs made at connect time.
 * @num_io_queues: I/O qpairs to connect with the controller.
 * @connect_timeout_ms: TCP connect, and Fabrics Connect, timeout.
 * @ic_timeout_ms: ICReq → ICResp timeout.
 * @cmd_timeout_ms: timeout of the sync helpers; a command that times out
 *	fails its qpair (there is no abort).
 * @log_fn: diagnostics sink; NULL = stderr.
 * @log_arg: argument of @log_fn.
 */
struct nvmft_host_opts {
	const char *traddr;
	const char *trsvcid;
	const char *subnqn;
	const char *hostnqn;
	uint8_t hostid[16];
	bool hdgst;
	bool ddgst;
	uint8_t hpda;
	uint32_t kato_ms;
	uint16_t admin_queue_size;
	uint16_t io_queue_size;
	uint16_t num_io_queues;
	uint32_t connect_timeout_ms;
	uint32_t ic_timeout_ms;
	uint32_t cmd_timeout_ms;
	nvmft_host_log_fn log_fn;
	void *log_arg;
};

/**
 * struct nvmft_host_cpl - completion of a command
 * @result: CQE dword 0/1 (64 bits for Property Get), 0 when completed by a
 *	C2HData PDU with the SUCCESS flag.
 * @status: NVMe status (nvme_wire.h layout: SC 7:0, SCT 10:8, DNR 14);
 *	0 = success. Transport failures use SCT 3 (path) SC 0x70 (host
 *	pathing error); a bad data digest uses Data Transfer Error (0x04).
 * @cid: command identifier the library gave the command.
 * @err: 0, or the negative errno that failed the qpair (-ECONNRESET,
 *	-EPROTO, -ETIMEDOUT, ...) when @status is a host pathing error.
 */
struct nvmft_host_cpl {
	uint64_t result;
	uint16_t status;
	uint16_t cid;
	int err;
};

/**
 * typedef nvmft_host_cb - completion callback
 * @arg: the submitter's argument.
 * @cpl: the completion; valid during the call only.
 *
 * Runs on the thread polling the qpair. The data buffer belongs to the
 * caller again. It may submit new commands on the same qpair; it must not
 * disconnect or free the qpair.
 */
typedef void (*nvmft_host_cb)(void *arg, const struct nvmft_host_cpl *cpl);

/**
 * struct nvmft_host_qpair_stats - counters of one qpair
 * @submitted: commands submitted.
 * @completed: commands completed (any status).
 * @pdus_tx: PDUs sent.
 * @pdus_rx: PDUs received.
 * @r2t: R2T PDUs received.
 * @h2c: H2CData PDUs sent.
 * @c2h: C2HData PDUs received.
 * @ddgst_errors: data digest mismatches seen.
 */
struct nvmft_host_qpair_stats {
	uint64_t submitted;
	uint64_t completed;
	uint64_t pdus_tx;
	uint64_t pdus_rx;
	uint64_t r2t;
	uint64_t h2c;
	uint64_t c2h;
	uint64_t ddgst_errors;
};

/**
 * struct nvmft_host_ns_info - what the host needs of a namespace
 * @nsid: namespace id.
 * @nsze: size in logical blocks.
 * @lba_size: logical block size in bytes.
 */
struct nvmft_host_ns_info {
	uint32_t nsid;
	uint64_t nsze;
	uint32_t lba_size;
};

/**
 * struct nvmft_host_disc_entry - one discovery log page entry, decoded
 * @trtype: transport type (3 = TCP).
 * @adrfam: address family (1 = IPv4, 2 = IPv6).
 * @subtype: subsystem type (1 = referral, 2 = NVM, 3 = current discovery).
 * @treq: transport requirements.
 * @portid: port id.
 * @cntlid: controller id (0xffff: dynamic).
 * @asqsz: admin max SQ size.
 * @eflags: entry flags.
 * @traddr: transport address, NUL terminated, trailing blanks removed.
 * @trsvcid: service id (port), likewise.
 * @subnqn: subsystem NQN, likewise.
 */
struct nvmft_host_disc_entry {
	uint8_t trtype;
	uint8_t adrfam;
	uint8_t subtype;
	uint8_t treq;
	uint16_t portid;
	uint16_t cntlid;
	uint16_t asqsz;
	uint16_t eflags;
	char traddr[257];
	char trsvcid[33];
	char subnqn[257];
};

/**
 * nvmft_host_opts_init() - fill @opts with the defaults
 * @opts: options to fill.
 *
 * 127.0.0.1:4420, no subnqn, generated host NQN, no digests, kato 10 s,
 * admin queue 32, I/O queue 128, one I/O queue, 5 s connect/IC timeouts,
 * 30 s command timeout. Any thread.
 */
void nvmft_host_opts_init(struct nvmft_host_opts *opts);

/**
 * nvmft_host_gen_hostnqn() - the default host NQN and host id
 * @nqn: buffer of at least %NVMFT_HOST_NQN_LEN bytes.
 * @hostid: where to store the 16-byte UUID, or NULL.
 *
 * The UUID is derived from the boot id, the pid and the process start
 * time: stable for the life of the process, different across processes.
 * Any thread.
 */
void nvmft_host_gen_hostnqn(char *nqn, uint8_t hostid[16]);

/**
 * nvmft_host_ctrlr_connect() - connect and enable a controller
 * @opts: options (traddr, trsvcid and subnqn are required).
 * @out: the controller.
 *
 * Blocking. Connects the admin queue (ICReq/ICResp, Fabrics Connect),
 * reads CAP and VS, sets CC.EN, waits for CSTS.RDY, identifies the
 * controller, asks for @opts->num_io_queues queues and connects them.
 *
 * Return: 0; -EINVAL (options), -ECONNREFUSED & co (TCP), -ETIMEDOUT,
 * -EPROTO (ICResp or a PDU broke the protocol), -ENOTSUP (the controller
 * refused requested digests), -ECONNABORTED (Connect rejected: the reason
 * is logged), -ENOMEM.
 */
int nvmft_host_ctrlr_connect(const struct nvmft_host_opts *opts,
			     struct nvmft_host_ctrlr **out);

/**
 * nvmft_host_ctrlr_disconnect() - disconnect every qpair and free @ctrlr
 * @ctrlr: controller, may be NULL.
 *
 * Sends Fabrics Disconnect on live I/O queues when the controller supports
 * it (OFCS bit 0), clears CC.EN (best effort) and closes the connections.
 * Outstanding commands complete with a host pathing error (err -ESHUTDOWN)
 * first, so their buffers and callback arguments must still be valid. Call it
 * from the thread owning the admin queue once no other thread uses any
 * qpair.
 */
void nvmft_host_ctrlr_disconnect(struct nvmft_host_ctrlr *ctrlr);

/** nvmft_host_ctrlr_admin_qpair() - the admin queue. Any thread. */
struct nvmft_host_qpair *nvmft_host_ctrlr_admin_qpair(struct nvmft_host_ctrlr *ctrlr);
/** nvmft_host_ctrlr_num_io_qpairs() - number of I/O qpairs. Any thread. */
unsigned int nvmft_host_ctrlr_num_io_qpairs(const struct nvmft_host_ctrlr *ctrlr);
/** nvmft_host_ctrlr_io_qpair() - I/O qpair @idx (0-based), or NULL. */
struct nvmft_host_qpair *nvmft_host_ctrlr_io_qpair(struct nvmft_host_ctrlr *ctrlr,
						   unsigned int idx);

/**
 * nvmft_host_ctrlr_add_io_qpair() - connect one more I/O queue
 * @ctrlr: controller.
 * @queue_size: entries (2..65535); 0 = &nvmft_host_opts.io_queue_size.
 * @out: the qpair (also reachable with nvmft_host_ctrlr_io_qpair()).
 *
 * Blocking; thread owning the admin queue.
 * Return: 0, -ENOSPC when no queue id is left, or as nvmft_host_ctrlr_connect().
 */
int nvmft_host_ctrlr_add_io_qpair(struct nvmft_host_ctrlr *ctrlr, uint16_t queue_size,
				  struct nvmft_host_qpair **out);

/**
 * nvmft_host_ctrlr_remove_io_qpair() - disconnect and free one I/O qpair
 * @ctrlr: controller.
 * @qp: one of its I/O qpairs; invalid afterwards.
 *
 * Sends Fabrics Disconnect when the controller supports it (else just
 * closes); outstanding commands complete with a host pathing error. The
 * qpairs after it move down one index. Thread owning @qp, while no other
 * thread adds or removes qpairs.
 * Return: 0, -ENOENT when @qp is not an I/O qpair of @ctrlr, or the
 * Disconnect's error (the qpair is freed anyway).
 */
int nvmft_host_ctrlr_remove_io_qpair(struct nvmft_host_ctrlr *ctrlr,
				     struct nvmft_host_qpair *qp);

/** nvmft_host_ctrlr_cntlid() - controller id returned by Connect. */
uint16_t nvmft_host_ctrlr_cntlid(const struct nvmft_host_ctrlr *ctrlr);
/** nvmft_host_ctrlr_cap() - CAP property read at connect time. */
uint64_t nvmft_host_ctrlr_cap(const struct nvmft_host_ctrlr *ctrlr);
/** nvmft_host_ctrlr_vs() - VS property read at connect time. */
uint32_t nvmft_host_ctrlr_vs(const struct nvmft_host_ctrlr *ctrlr);
/** nvmft_host_ctrlr_id() - Identify Controller data read at connect time. */
const struct nvme_id_ctrl *nvmft_host_ctrlr_id(const struct nvmft_host_ctrlr *ctrlr);
/** nvmft_host_ctrlr_max_xfer() - largest data length of one command (MDTS). */
uint32_t nvmft_host_ctrlr_max_xfer(const struct nvmft_host_ctrlr *ctrlr);

/**
 * nvmft_host_ctrlr_keep_alive() - send a Keep Alive and wait for it
 * @ctrlr: controller.
 *
 * The admin queue also sends one by itself from nvmft_host_qpair_poll()
 * when half the keep-alive timeout passed since the last one, so a program
 * that polls its admin queue needs no explicit call.
 * Thread owning the admin queue.
 * Return: 0, negative errno, or positive NVMe status.
 */
int nvmft_host_ctrlr_keep_alive(struct nvmft_host_ctrlr *ctrlr);

/**
 * nvmft_host_submit() - submit a command with one data buffer
 * @qp: qpair.
 * @sqe: command; cid, the SGL and PSDT are filled in by the library.
 * @buf: data (read into, or written from); NULL when @len is 0.
 * @len: data length.
 * @dir: data direction.
 * @cb: completion callback (required).
 * @cb_arg: its argument.
 *
 * Writes up to the controller's in-capsule size (IOCCSZ; 8 KiB on the
 * admin queue) go in the command capsule, larger ones wait for R2Ts. The
 * PDUs are sent by the next nvmft_host_qpair_poll(). Thread owning @qp.
 *
 * Return: 0; -EAGAIN when the queue is full; -EINVAL (bad arguments, @len
 * above the maximum transfer size); -ENOTCONN (or the qpair's error) when
 * @qp failed or is closed.
 */
int nvmft_host_submit(struct nvmft_host_qpair *qp, const struct nvmft_sqe *sqe,
		      void *buf, uint32_t len, enum nvmft_host_dir dir,
		      nvmft_host_cb cb, void *cb_arg);

/**
 * nvmft_host_submitv() - nvmft_host_submit() with a scatter/gather list
 * @qp: qpair.
 * @sqe: command.
 * @iov: buffers (copied; at most %NVMFT_HOST_MAX_IOV entries).
 * @iovcnt: entries in @iov.
 * @dir: data direction.
 * @cb: completion callback.
 * @cb_arg: its argument.
 *
 * Return: as nvmft_host_submit().
 */
int nvmft_host_submitv(struct nvmft_host_qpair *qp, const struct nvmft_sqe *sqe,
		       const struct iovec *iov, int iovcnt, enum nvmft_host_dir dir,
		       nvmft_host_cb cb, void *cb_arg);

/**
 * nvmft_host_qpair_poll() - send queued PDUs, receive and complete
 * @qp: qpair.
 * @max: most completions to process; 0 = no limit.
 *
 * Never blocks. Sends what is queued in one gather write, reads what the
 * socket holds, runs completion callbacks, sends what they queued. On the
 * admin queue also sends the automatic Keep Alive. Thread owning @qp.
 *
 * Return: completions processed (>= 0), or the negative errno that failed
 * the qpair (outstanding commands have then completed with an error).
 * When it returns @max, more PDUs may already be buffered in the library:
 * call it again before sleeping in poll(2) on nvmft_host_qpair_fd().
 */
int nvmft_host_qpair_poll(struct nvmft_host_qpair *qp, unsigned int max);

/**
 * nvmft_host_qpair_wait() - poll until a flag is set or a timeout
 * @qp: qpair.
 * @done: flag set by a callback; NULL = until no command is outstanding.
 * @timeout_ms: < 0 waits forever.
 *
 * Sleeps in poll(2) between turns. Thread owning @qp.
 * Return: 0, -ETIMEDOUT, or the qpair's error.
 */
int nvmft_host_qpair_wait(struct nvmft_host_qpair *qp, const bool *done, int timeout_ms);

/** nvmft_host_qpair_fd() - socket to poll(2) on, -1 once failed/closed. */
int nvmft_host_qpair_fd(const struct nvmft_host_qpair *qp);
/** nvmft_host_qpair_events() - poll(2) events wanted: POLLIN, plus POLLOUT while sends are queued. */
short nvmft_host_qpair_events(const struct nvmft_host_qpair *qp);
/** nvmft_host_qpair_error() - 0 while usable, else the negative errno that failed it. */
int nvmft_host_qpair_error(const struct nvmft_host_qpair *qp);
/** nvmft_host_qpair_qid() - queue id (0 = admin). */
uint16_t nvmft_host_qpair_qid(const struct nvmft_host_qpair *qp);
/** nvmft_host_qpair_depth() - most commands outstanding at once (queue size - 1). */
unsigned int nvmft_host_qpair_depth(const struct nvmft_host_qpair *qp);
/** nvmft_host_qpair_outstanding() - commands submitted and not completed. */
unsigned int nvmft_host_qpair_outstanding(const struct nvmft_host_qpair *qp);
/** nvmft_host_qpair_get_stats() - copy the counters of @qp. */
void nvmft_host_qpair_get_stats(const struct nvmft_host_qpair *qp,
				struct nvmft_host_qpair_stats *st);

/**
 * nvmft_host_qpair_send_raw() - write bytes as they are on the connection
 * @qp: live qpair.
 * @buf: bytes (e.g. a malformed PDU built with lib/tcp/pdu.h).
 * @len: length.
 *
 * For tests. First sends everything queued, then @buf, blocking up to the
 * command timeout. The receive side keeps parsing what comes back.
 * Return: 0 or negative errno.
 */
int nvmft_host_qpair_send_raw(struct nvmft_host_qpair *qp, const void *buf, size_t len);

/**
 * nvmft_host_qpair_recv_raw() - read bytes bypassing the PDU parser
 * @qp: qpair with no command outstanding and no PDU half received.
 * @buf: destination.
 * @len: most bytes to read.
 * @timeout_ms: wait for at least one byte this long (< 0 forever).
 *
 * For tests checking what a target answers to a crafted PDU (typically a
 * C2HTermReq). Bytes already buffered by the parser come first.
 * Return: bytes read (0 = peer closed), -ETIMEDOUT, -EBUSY, negative errno.
 */
ssize_t nvmft_host_qpair_recv_raw(struct nvmft_host_qpair *qp, void *buf, size_t len,
				  int timeout_ms);

/**
 * nvmft_host_cmd_sync() - submit a command and wait for it
 * @qp: qpair.
 * @sqe: command.
 * @buf: data buffer or NULL.
 * @len: data length.
 * @dir: direction.
 * @cpl: where to copy the completion, or NULL.
 *
 * Waits up to the command timeout; on timeout the qpair is failed.
 * Thread owning @qp. Return: 0, negative errno, or positive NVMe status.
 */
int nvmft_host_cmd_sync(struct nvmft_host_qpair *qp, const struct nvmft_sqe *sqe,
			void *buf, uint32_t len, enum nvmft_host_dir dir,
			struct nvmft_host_cpl *cpl);

/*
 * Admin helpers: synchronous on the admin queue, thread owning it.
 * Return: 0, negative errno, or positive NVMe status.
 */
/** nvmft_host_identify() - Identify with @cns into a 4096-byte @buf. */
int nvmft_host_identify(struct nvmft_host_ctrlr *ctrlr, uint8_t cns, uint32_t nsid,
			void *buf);
/** nvmft_host_ns_info() - Identify Namespace @nsid, decoded. -ENODEV if inactive. */
int nvmft_host_ns_info(struct nvmft_host_ctrlr *ctrlr, uint32_t nsid,
		       struct nvmft_host_ns_info *info);
/** nvmft_host_get_log_page() - Get Log Page @lid at byte @offset (split by MDTS). */
int nvmft_host_get_log_page(struct nvmft_host_ctrlr *ctrlr, uint8_t lid, uint32_t nsid,
			    uint64_t offset, void *buf, uint32_t len);
/** nvmft_host_get_features() - Get Features @fid (current value). */
int nvmft_host_get_features(struct nvmft_host_ctrlr *ctrlr, uint8_t fid, uint32_t cdw11,
			    uint32_t *result);
/** nvmft_host_set_features() - Set Features @fid to @cdw11. */
int nvmft_host_set_features(struct nvmft_host_ctrlr *ctrlr, uint8_t fid, uint32_t cdw11,
			    bool save, uint32_t *result);
/** nvmft_host_property_get() - Fabrics Property Get of @size (4 or 8) bytes. */
int nvmft_host_property_get(struct nvmft_host_ctrlr *ctrlr, uint32_t offset,
			    unsigned int size, uint64_t *value);
/** nvmft_host_property_set() - Fabrics Property Set of @size (4 or 8) bytes. */
int nvmft_host_property_set(struct nvmft_host_ctrlr *ctrlr, uint32_t offset,
			    unsigned int size, uint64_t value);

/*
 * I/O helpers: synchronous on @qp, thread owning it. @nlb is the number of
 * blocks (1-based), @len the buffer length (nlb * block size).
 * Return: 0, negative errno, or positive NVMe status.
 */
/** nvmft_host_read() - Read. */
int nvmft_host_read(struct nvmft_host_qpair *qp, uint32_t nsid, uint64_t slba,
		    uint32_t nlb, void *buf, uint32_t len);
/** nvmft_host_write() - Write; @fua sets Force Unit Access. */
int nvmft_host_write(struct nvmft_host_qpair *qp, uint32_t nsid, uint64_t slba,
		     uint32_t nlb, const void *buf, uint32_t len, bool fua);
/** nvmft_host_flush() - Flush. */
int nvmft_host_flush(struct nvmft_host_qpair *qp, uint32_t nsid);
/** nvmft_host_write_zeroes() - Write Zeroes. */
int nvmft_host_write_zeroes(struct nvmft_host_qpair *qp, uint32_t nsid, uint64_t slba,
			    uint32_t nlb);
/** nvmft_host_dsm() - Dataset Management with @nr ranges and attributes @attr (4 = deallocate). */
int nvmft_host_dsm(struct nvmft_host_qpair *qp, uint32_t nsid, uint32_t attr,
		   const struct nvme_dsm_range *ranges, unsigned int nr);

/**
 * nvmft_host_get_discovery_log() - read the whole discovery log
 * @ctrlr: controller connected to a discovery subsystem.
 * @entries: the decoded entries (free with nvmft_host_disc_free()).
 * @nr: number of entries.
 * @genctr: generation counter of the log read, or NULL.
 *
 * Reads the header, then the whole log, then the header again; retries
 * when the generation counter moved in between. Thread owning the admin
 * queue. Return: 0, -EAGAIN (log kept changing), negative errno, or
 * positive NVMe status.
 */
int nvmft_host_get_discovery_log(struct nvmft_host_ctrlr *ctrlr,
				 struct nvmft_host_disc_entry **entries,
				 unsigned int *nr, uint64_t *genctr);

/**
 * nvmft_host_discover() - connect to a discovery controller, read its log
 * @opts: where (traddr, trsvcid); subnqn is replaced by the discovery NQN
 *	when NULL; no I/O queues and no keep-alive are used.
 * @entries: as nvmft_host_get_discovery_log().
 * @nr: as nvmft_host_get_discovery_log().
 * @genctr: as nvmft_host_get_discovery_log().
 *
 * Blocking, any thread. Return: as nvmft_host_ctrlr_connect() and
 * nvmft_host_get_discovery_log().
 */
int nvmft_host_discover(const struct nvmft_host_opts *opts,
			struct nvmft_host_disc_entry **entries, unsigned int *nr,
			uint64_t *genctr);

/** nvmft_host_disc_free() - free entries returned by the discovery calls. */
void nvmft_host_disc_free(struct nvmft_host_disc_entry *entries);

#ifdef __cplusplus
}
#endif
#endif
