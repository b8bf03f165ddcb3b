/* SPDX-License-Identifier: MIT */
/*
 * NVMe/TCP PDUs: wire layout, pure encode / decode / validate, digests.
 * No I/O here. Shared by the target transport (lib/tcp) and the host
 * library (lib/host). All multi-byte fields are little endian on the wire.
 *
 * Layout of a PDU:  CH+PSH (hlen) | HDGST (4, if on) | PAD to PDO | DATA |
 *                   DDGST (4, if on and there is data)
 */
#ifndef NVMFT_LIB_TCP_PDU_H
#define NVMFT_LIB_TCP_PDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <nvmft/nvme_wire.h>

enum pdu_type {
	PDU_ICREQ		= 0x00,
	PDU_ICRESP		= 0x01,
	PDU_H2C_TERM_REQ	= 0x02,
	PDU_C2H_TERM_REQ	= 0x03,
	PDU_CAPSULE_CMD		= 0x04,
	PDU_CAPSULE_RESP	= 0x05,
	PDU_H2C_DATA		= 0x06,
	PDU_C2H_DATA		= 0x07,
	PDU_R2T			= 0x09,
};

/* Common header flags. */
#define PDU_FLAG_HDGSTF		0x01
#define PDU_FLAG_DDGSTF		0x02
#define PDU_FLAG_LAST_PDU	0x04	/* H2CData, C2HData */
#define PDU_FLAG_SUCCESS	0x08	/* C2HData: no CapsuleResp follows */

/* ICReq/ICResp digest field. */
#define PDU_DIGEST_HDGST	0x01
#define PDU_DIGEST_DDGST	0x02

#define PDU_PFV_1_0		0
#define PDU_DIGEST_LEN		4
#define PDU_MAX_HLEN		128	/* ICReq / ICResp */
#define PDU_MAX_HDR		(PDU_MAX_HLEN + PDU_DIGEST_LEN)
#define PDU_TERM_MAX_DATA	128	/* offending header carried in a TermReq */

/* Fatal error status of H2C/C2HTermReq. */
enum pdu_fes {
	PDU_FES_INVALID_HEADER_FIELD	= 0x01,
	PDU_FES_PDU_SEQUENCE_ERROR	= 0x02,
	PDU_FES_HDGST_ERROR		= 0x03,
	PDU_FES_DATA_OUT_OF_RANGE	= 0x04,
	PDU_FES_R2T_LIMIT_EXCEEDED	= 0x05,	/* also: data transfer limit exceeded */
	PDU_FES_UNSUPPORTED_PARAMETER	= 0x06,
};

struct pdu_common {
	uint8_t type;
	uint8_t flags;
	uint8_t hlen;
	uint8_t pdo;
	uint32_t plen;
} __attribute__((packed));

struct pdu_icreq {
	struct pdu_common ch;
	uint16_t pfv;
	uint8_t hpda;		/* host PDU data alignment, (hpda+1)*4 bytes */
	uint8_t digest;
	uint32_t maxr2t;	/* 0's based */
	uint8_t rsvd[112];
} __attribute__((packed));

struct pdu_icresp {
	struct pdu_common ch;
	uint16_t pfv;
	uint8_t cpda;		/* controller PDU data alignment */
	uint8_t digest;
	uint32_t maxh2cdata;
	uint8_t rsvd[112];
} __attribute__((packed));

struct pdu_term_req {
	struct pdu_common ch;
	uint16_t fes;
	uint32_t fei;		/* field offset / digest value / etc. */
	uint8_t rsvd[10];
} __attribute__((packed));

struct pdu_capsule_cmd {
	struct pdu_common ch;
	struct nvmft_sqe sqe;
} __attribute__((packed));

struct pdu_capsule_resp {
	struct pdu_common ch;
	struct nvmft_cqe cqe;
} __attribute__((packed));

struct pdu_h2c_data {
	struct pdu_common ch;
	uint16_t cccid;
	uint16_t ttag;
	uint32_t datao;
	uint32_t datal;
	uint8_t rsvd[4];
} __attribute__((packed));

struct pdu_c2h_data {
	struct pdu_common ch;
	uint16_t cccid;
	uint8_t rsvd2[2];
	uint32_t datao;
	uint32_t datal;
	uint8_t rsvd[4];
} __attribute__((packed));

struct pdu_r2t {
	struct pdu_common ch;
	uint16_t cccid;
	uint16_t ttag;
	uint32_t r2to;
	uint32_t r2tl;
	uint8_t rsvd[4];
} __attribute__((packed));

/* Any PDU header (CH + PSH), plus room for the header digest. */
union pdu_hdr {
	struct pdu_common ch;
	struct pdu_icreq icreq;
	struct pdu_icresp icresp;
	struct pdu_term_req term;
	struct pdu_capsule_cmd cmd;
	struct pdu_capsule_resp rsp;
	struct pdu_h2c_data h2c;
	struct pdu_c2h_data c2h;
	struct pdu_r2t r2t;
	uint8_t raw[PDU_MAX_HDR];
};

/* Fixed header length (hlen) of each type; 0 for an unknown type. */
uint8_t pdu_hlen(uint8_t type);
/* Spec name of a type ("CapsuleCmd"...), "unknown" for others. Never NULL. */
const char *pdu_type_name(uint8_t type);

/*
 * CRC32C as NVMe/TCP digests use it: the standard CRC-32C (seed ~0, final
 * xor ~0; CRC-32C("123456789") = 0xe3069283). ISA-L's crc32_iscsi is the raw
 * register update (no inversion), so pdu.c adds both inversions.
 */
uint32_t pdu_crc32c(const void *buf, size_t len);
uint32_t pdu_crc32c_iov(const struct iovec *iov, int iovcnt);
/* Incremental: start with PDU_CRC_INIT, update, finish with pdu_crc_final. */
#define PDU_CRC_INIT 0xffffffffu
uint32_t pdu_crc_update(uint32_t crc, const void *buf, size_t len);
static inline uint32_t pdu_crc_final(uint32_t crc) { return ~crc; }

/* A digest travels as 4 little-endian bytes (any alignment). */
void pdu_digest_put(void *dst, uint32_t crc);
uint32_t pdu_digest_get(const void *src);

/* Negotiated per-connection parameters that shape PDUs. */
struct pdu_params {
	bool hdgst;		/* header digest on */
	bool ddgst;		/* data digest on */
	uint8_t cpda;		/* host->controller data alignment (0's based, dwords) */
	uint8_t hpda;		/* controller->host data alignment */
	uint32_t maxh2cdata;	/* max H2CData DATAL; 0: not checked */
};

/* Largest CPDA/HPDA the spec allows: data aligned to 128 bytes. */
#define PDU_MAX_PDA		31
/* Largest pad between header(+hdgst) and PDO (all lengths are dwords). */
#define PDU_MAX_PAD		((PDU_MAX_PDA + 1) * 4 - 4)
/* MAXH2CDATA in an ICResp must be a multiple of 4 and at least this. */
#define PDU_MIN_MAXH2CDATA	4096
/* FES 05h was renamed in later revisions; same value, same use. */
#define PDU_FES_DATA_LIMIT_EXCEEDED	PDU_FES_R2T_LIMIT_EXCEEDED

/*
 * Validation of a received header, direction host→controller (the target
 * side) or controller→host (the host side). On error returns the FES and
 * sets *fei to the byte offset of the offending field in the header.
 *
 * pdu_check_common: type known and allowed in that direction; hlen equal
 * to the fixed one; HDGSTF/DDGSTF consistent with the negotiated digests
 * (ICReq/ICResp never carry digests); pdo 0 when there is no data, else
 * >= hlen(+hdgst) and aligned as negotiated; plen consistent with hlen,
 * digests, pdo; plen not above @max_plen.
 * Returns 0 or a &enum pdu_fes value.
 *
 * Checks run in this order and the first failure is reported:
 *  type (fei 0: unknown or wrong direction INVALID_HEADER_FIELD, IC after
 *  the IC exchange or anything but IC/TermReq before it PDU_SEQUENCE_ERROR),
 *  hlen (fei 2), flags (fei 1; also C2HData SUCCESS without LAST_PDU),
 *  pdo (fei 3), plen incl. @max_plen (fei 4), then the PSH: H2C/C2HData
 *  DATAL == plen - pdo - ddgst (fei 16), H2CData DATAL <= p->maxh2cdata when
 *  that is not 0 (DATA_LIMIT_EXCEEDED, fei 0), R2T R2TL != 0 (fei 16).
 * A CapsuleCmd carries in-capsule data iff plen > hlen + hdgst.
 * @p may be NULL before the IC exchange (no digests, alignment 0).
 *
 * Only the 8-byte CH is read unless type and hlen are right; then, for
 * H2CData/C2HData/R2T, the PSH is read too, so the whole header must be in.
 * Receive order that follows: read the CH; if pdu_hlen(type) is 0 or not
 * ch->hlen, fail with pdu_check_common; else read pdu_hdr_len() bytes,
 * verify the header digest (HDGST_ERROR), then pdu_check_common.
 */
enum pdu_dir { PDU_DIR_H2C, PDU_DIR_C2H };
int pdu_check_common(const struct pdu_common *ch, enum pdu_dir dir,
		     const struct pdu_params *p, bool ic_done,
		     uint32_t max_plen, uint32_t *fei);

/*
 * PSH checks of the connection setup PDUs, after pdu_check_common.
 * ICReq (target side): PFV 0 (else UNSUPPORTED_PARAMETER, fei 8), HPDA <=
 * PDU_MAX_PDA (INVALID_HEADER_FIELD, fei 10).
 * ICResp (host side): PFV 0 (UNSUPPORTED_PARAMETER, fei 8), CPDA <=
 * PDU_MAX_PDA (fei 10), no digest enabled that @requested (PDU_DIGEST_*
 * bits of our ICReq) did not ask for (fei 11), MAXH2CDATA a multiple of 4
 * and >= PDU_MIN_MAXH2CDATA (fei 12).
 * Return 0 or a &enum pdu_fes value.
 */
int pdu_check_icreq(const struct pdu_icreq *req, uint32_t *fei);
int pdu_check_icresp(const struct pdu_icresp *rsp, uint8_t requested,
		     uint32_t *fei);

/* Bytes of header to read for @ch (hlen + header digest if flagged). */
static inline uint32_t pdu_hdr_len(const struct pdu_common *ch)
{
	return ch->hlen + ((ch->flags & PDU_FLAG_HDGSTF) ? PDU_DIGEST_LEN : 0);
}
/*
 * Bytes of data carried (plen - pdo - data digest), 0 when no data. For a
 * TermReq (pdo 0, no digests) the data right after the header: plen - hlen.
 * Never underflows, even on an unchecked header.
 */
uint32_t pdu_data_len(const struct pdu_common *ch);
/* Padding bytes between header(+digest) and pdo (0 when pdo is 0). */
uint32_t pdu_pad_len(const struct pdu_common *ch);

/*
 * Check / set the header digest of a header of hlen bytes: CRC32C of the
 * hlen bytes, stored right after them. A header whose hlen is below 8 or
 * above PDU_MAX_HLEN is never ok, and set leaves it alone.
 */
bool pdu_hdgst_ok(const union pdu_hdr *h);
void pdu_hdgst_set(union pdu_hdr *h);

/*
 * Data digest over the data of a PDU (pad excluded): store it in / compare
 * it with the 4 bytes at @dgst. For data that arrives piece by piece use
 * pdu_crc_update/pdu_crc_final and pdu_digest_get.
 */
void pdu_ddgst_set(void *dgst, const struct iovec *iov, int iovcnt);
bool pdu_ddgst_ok(const void *dgst, const struct iovec *iov, int iovcnt);

/*
 * Encoders fill @h (zeroed first) and return the number of header bytes to
 * send (hlen + hdgst). For PDUs with data, plen covers pad, data and data
 * digest; the caller sends pdu_pad_len() zero bytes, the data and the ddgst
 * word itself (pdu_ddgst_set).
 * Alignment for data PDUs comes from @p (cpda for H2C, hpda for C2H; at most
 * PDU_MAX_PDA); @p NULL means no digests, alignment 0. When p->hdgst is on
 * the header digest is computed too: call pdu_hdgst_set() again after
 * changing any header field. H2CData/C2HData always get a pdo (their datal
 * must not be 0); a CapsuleCmd gets one only when @data_len is not 0.
 * pdu_enc_term_req clamps @data_len to PDU_TERM_MAX_DATA (send
 * pdu_data_len() bytes of the offending header after it); TermReq and IC
 * PDUs never carry digests. pdu_enc_c2h_data sets LAST_PDU when @success
 * is set (the spec requires both).
 */
size_t pdu_enc_icreq(union pdu_hdr *h, uint8_t hpda, uint8_t digest,
		     uint32_t maxr2t);
size_t pdu_enc_icresp(union pdu_hdr *h, uint8_t cpda, uint8_t digest,
		      uint32_t maxh2cdata);
size_t pdu_enc_term_req(union pdu_hdr *h, enum pdu_dir dir, uint16_t fes,
			uint32_t fei, uint32_t data_len);
size_t pdu_enc_capsule_cmd(union pdu_hdr *h, const struct pdu_params *p,
			   const struct nvmft_sqe *sqe, uint32_t data_len);
size_t pdu_enc_capsule_resp(union pdu_hdr *h, const struct pdu_params *p,
			    const struct nvmft_cqe *cqe);
size_t pdu_enc_h2c_data(union pdu_hdr *h, const struct pdu_params *p,
			uint16_t cccid, uint16_t ttag, uint32_t datao,
			uint32_t datal, bool last);
size_t pdu_enc_c2h_data(union pdu_hdr *h, const struct pdu_params *p,
			uint16_t cccid, uint32_t datao, uint32_t datal,
			bool last, bool success);
size_t pdu_enc_r2t(union pdu_hdr *h, const struct pdu_params *p,
		   uint16_t cccid, uint16_t ttag, uint32_t r2to, uint32_t r2tl);

/*
 * Padding needed after a header of @hdr_bytes so that data starts at a
 * multiple of (@pda + 1) * 4 bytes from the PDU start.
 */
uint32_t pdu_pad_for(uint32_t hdr_bytes, uint8_t pda);

#endif
