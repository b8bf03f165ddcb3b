/* SPDX-License-Identifier: MIT */
/**
 * DOC: NVMe command and completion entries on the wire
 *
 * libnvme's <nvme/types.h> provides the data structures (Identify, log
 * pages, discovery log, connect data), opcodes and status codes; it has no
 * submission/completion entry layout, so these are defined here. All
 * multi-byte fields are little endian.
 */
#ifndef NVMFT_NVME_WIRE_H
#define NVMFT_NVME_WIRE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * struct nvmft_sgl_desc - SGL descriptor (16 bytes)
 * @addr: address or offset.
 * @length: length in bytes.
 * @rsvd: reserved.
 * @type: descriptor type (high nibble) and sub type (low nibble).
 */
struct nvmft_sgl_desc {
	uint64_t addr;
	uint32_t length;
	uint8_t rsvd[3];
	uint8_t type;
} __attribute__((packed));

/* SGL types used by NVMe/TCP. */
#define NVMFT_SGL_TYPE_DATA_BLOCK	0x0
#define NVMFT_SGL_TYPE_TRANSPORT	0x5
#define NVMFT_SGL_SUBTYPE_OFFSET	0x1
#define NVMFT_SGL_SUBTYPE_TRANSPORT	0xA
/* in-capsule data: data block, offset sub type */
#define NVMFT_SGL_INCAPSULE	((NVMFT_SGL_TYPE_DATA_BLOCK << 4) | NVMFT_SGL_SUBTYPE_OFFSET)
/* data moved by R2T/H2CData/C2HData: transport data block */
#define NVMFT_SGL_TRANSPORT	((NVMFT_SGL_TYPE_TRANSPORT << 4) | NVMFT_SGL_SUBTYPE_TRANSPORT)

/**
 * struct nvmft_sqe - submission queue entry (64 bytes)
 * @opcode: command opcode (0x7f: fabrics command).
 * @flags: FUSE (bits 1:0), PSDT (bits 7:6; fabrics commands use 01b: SGLs).
 * @cid: command identifier.
 * @nsid: namespace (for fabrics commands: byte 4 is fctype).
 * @cdw2: dword 2.
 * @cdw3: dword 3.
 * @mptr: metadata pointer.
 * @sgl: data pointer as SGL descriptor.
 * @cdw10: dword 10.
 * @cdw11: dword 11.
 * @cdw12: dword 12.
 * @cdw13: dword 13.
 * @cdw14: dword 14.
 * @cdw15: dword 15.
 */
struct nvmft_sqe {
	uint8_t opcode;
	uint8_t flags;
	uint16_t cid;
	uint32_t nsid;
	uint32_t cdw2;
	uint32_t cdw3;
	uint64_t mptr;
	struct nvmft_sgl_desc sgl;
	uint32_t cdw10;
	uint32_t cdw11;
	uint32_t cdw12;
	uint32_t cdw13;
	uint32_t cdw14;
	uint32_t cdw15;
} __attribute__((packed));

/* Fabrics command type is byte 4 of a fabrics SQE. */
static inline uint8_t nvmft_sqe_fctype(const struct nvmft_sqe *sqe)
{
	return ((const uint8_t *)sqe)[4];
}

#define NVMFT_SQE_FUSE_MASK	0x3
#define NVMFT_SQE_FUSE_FIRST	0x1
#define NVMFT_SQE_FUSE_SECOND	0x2

/**
 * struct nvmft_cqe - completion queue entry (16 bytes)
 * @result: command specific dword 0 (64 bits for fabrics Property Get).
 * @sq_head: submission queue head pointer.
 * @sq_id: submission queue identifier.
 * @cid: command identifier.
 * @status: phase tag (bit 0) and status field (bits 15:1): SC (8 bits),
 *	SCT (3 bits), CRD (2), M (1), DNR (1).
 */
struct nvmft_cqe {
	uint64_t result;
	uint16_t sq_head;
	uint16_t sq_id;
	uint16_t cid;
	uint16_t status;
} __attribute__((packed));

/*
 * A status value as carried in the project: SC in bits 7:0, SCT in 10:8,
 * CRD 12:11, More 13, DNR 14 — i.e. the CQE status field shifted right by
 * one (the layout of libnvme's NVME_SC_* | NVME_SCT_* << 8 values).
 */
#define NVMFT_STATUS(sct, sc)	((uint16_t)(((sct) << 8) | (sc)))
#define NVMFT_STATUS_DNR	0x4000
#define NVMFT_STATUS_MORE	0x2000
#define NVMFT_STATUS_SC(s)	((s) & 0xff)
#define NVMFT_STATUS_SCT(s)	(((s) >> 8) & 0x7)

#ifdef __cplusplus
}
#endif
#endif
