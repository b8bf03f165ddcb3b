/* SPDX-License-Identifier: MIT */
/*
 * A scripted NVMe/TCP controller for host tests: one thread on 127.0.0.1
 * (ephemeral port) serving a few connections with just enough of the
 * protocol (IC, Connect, properties, Identify, Get Log Page 70h, Keep
 * Alive, Set/Get Features, Read, Write in capsule or by R2T, Flush, Write
 * Zeroes, DSM, Disconnect) over a RAM namespace, plus switchable faults.
 *
 * The wire encoding here is written independently of lib/tcp/pdu.c (only
 * the struct layouts of pdu.h are shared) so that tests cross-check the
 * host's PDUs instead of agreeing with them by construction.
 */
#ifndef NVMFT_TESTS_FAKE_TARGET_H
#define NVMFT_TESTS_FAKE_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * struct fake_target_opts - behaviour of the fake controller
 * @grant_hdgst: grant a requested header digest.
 * @grant_ddgst: grant a requested data digest.
 * @cpda: CPDA announced in ICResp.
 * @maxh2cdata: MAXH2CDATA announced in ICResp.
 * @ioccsz: IOCCSZ in Identify (16-byte units, 4 = no in-capsule data).
 * @mdts: MDTS in Identify (0 = no limit).
 * @max_queues: I/O queues granted by Set Features Number of Queues.
 * @c2h_chunk: largest DATAL of one C2HData PDU.
 * @c2h_success: end reads with a SUCCESS C2HData (no CapsuleResp).
 * @r2t_chunk: largest R2TL of one R2T.
 * @ns_blocks: namespace size in blocks.
 * @lba_shift: log2 of the block size.
 * @disc_entries: records in the discovery log.
 * @disc_genctr_bumps: the first this-many header reads of the discovery
 *	log bump the generation counter (forces the host to retry).
 * @corrupt_ddgst_read: corrupt the data digest of the n-th read (1-based).
 * @corrupt_data_read: flip a data byte of the n-th read, digest matching
 *	(silent corruption, for verify tests).
 * @term_on_io: answer the n-th I/O command with a C2HTermReq, then close.
 * @bad_hlen_on_io: answer the n-th I/O command with a CapsuleResp whose
 *	hlen is wrong.
 * @bad_hdgst_on_io: answer the n-th I/O command with a CapsuleResp whose
 *	header digest is wrong (header digests must be on).
 * @icresp_pfv: PFV put in ICResp (0 is the only valid one).
 */
struct fake_target_opts {
	bool grant_hdgst;
	bool grant_ddgst;
	uint8_t cpda;
	uint32_t maxh2cdata;
	uint32_t ioccsz;
	uint8_t mdts;
	uint16_t max_queues;
	uint32_t c2h_chunk;
	bool c2h_success;
	uint32_t r2t_chunk;
	uint64_t ns_blocks;
	unsigned int lba_shift;
	unsigned int disc_entries;
	unsigned int disc_genctr_bumps;
	unsigned int corrupt_ddgst_read;
	unsigned int corrupt_data_read;
	unsigned int term_on_io;
	unsigned int bad_hlen_on_io;
	unsigned int bad_hdgst_on_io;
	uint16_t icresp_pfv;
};

/**
 * struct fake_target_stats - what the fake controller saw
 * @icreqs: ICReqs received.
 * @icreq_digest: digest field of the last ICReq.
 * @admin_connects: successful admin Connects.
 * @io_connects: successful I/O Connects.
 * @last_kato: KATO of the last admin Connect.
 * @last_sqsize: SQSIZE of the last Connect.
 * @hostnqn: host NQN of the last Connect.
 * @cc: last CC written.
 * @keep_alives: Keep Alive commands.
 * @disconnects: Fabrics Disconnects.
 * @incapsule_writes: writes whose data came in the capsule.
 * @r2ts: R2T PDUs sent.
 * @h2c_pdus: H2CData PDUs received.
 * @h2c_max_datal: largest H2CData DATAL seen.
 * @h2c_errors: H2CData PDUs that broke a rule (offset, ttag, LAST_PDU,
 *	DATAL, digest).
 * @c2h_pdus: C2HData PDUs sent.
 * @reads: Read commands.
 * @writes: Write commands.
 * @log_reads: Get Log Page commands.
 * @ddgst_errors: bad data digests received.
 * @hdgst_seen: a received header carried a correct header digest.
 */
struct fake_target_stats {
	unsigned int icreqs;
	uint8_t icreq_digest;
	unsigned int admin_connects;
	unsigned int io_connects;
	uint32_t last_kato;
	uint16_t last_sqsize;
	char hostnqn[256];
	uint32_t cc;
	unsigned int keep_alives;
	unsigned int disconnects;
	unsigned int incapsule_writes;
	unsigned int r2ts;
	unsigned int h2c_pdus;
	uint32_t h2c_max_datal;
	unsigned int h2c_errors;
	unsigned int c2h_pdus;
	unsigned int reads;
	unsigned int writes;
	unsigned int log_reads;
	unsigned int ddgst_errors;
	bool hdgst_seen;
};

struct fake_target;

/** fake_target_opts_init() - defaults: digests granted, 64 KiB MAXH2CDATA,
 * 8 KiB in-capsule, 4 queues, 16 MiB of 512-byte blocks. */
void fake_target_opts_init(struct fake_target_opts *o);
/** fake_target_start() - listen on 127.0.0.1:0 and serve; NULL on failure. */
struct fake_target *fake_target_start(const struct fake_target_opts *o);
/** fake_target_stop() - stop the thread, close everything, free. */
void fake_target_stop(struct fake_target *ft);
/** fake_target_port() - the port as a string ("40123"). */
const char *fake_target_port(const struct fake_target *ft);
/** fake_target_get_stats() - copy the counters. */
void fake_target_get_stats(struct fake_target *ft, struct fake_target_stats *st);
/** fake_target_ns_read() - copy namespace bytes at byte offset @off. */
void fake_target_ns_read(struct fake_target *ft, uint64_t off, void *buf, size_t len);
/** fake_target_ns_write() - set namespace bytes at byte offset @off. */
void fake_target_ns_write(struct fake_target *ft, uint64_t off, const void *buf,
			  size_t len);

#endif
