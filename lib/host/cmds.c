/* SPDX-License-Identifier: MIT */
/*
 * Synchronous command helpers: admin commands and Fabrics properties on the
 * admin queue, NVM I/O commands on any qpair.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <nvme/types.h>
#include "host_internal.h"

#define FABRICS_OPCODE	0x7f
#define IDENTIFY_LEN	4096
#define RW_FUA		(1u << 30)

static int admin_sync(struct nvmft_host_ctrlr *c, const struct nvmft_sqe *sqe,
		      void *buf, uint32_t len, enum nvmft_host_dir dir,
		      struct nvmft_host_cpl *cpl)
{
	return nvmft_host_cmd_sync(c->admin, sqe, buf, len, dir, cpl);
}

int nvmft_host_identify(struct nvmft_host_ctrlr *c, uint8_t cns, uint32_t nsid, void *buf)
{
	struct nvmft_sqe sqe = {
		.opcode = nvme_admin_identify,
		.nsid = htole32(nsid),
		.cdw10 = htole32(cns),
	};

	return admin_sync(c, &sqe, buf, IDENTIFY_LEN, NVMFT_HOST_DIR_READ, NULL);
}

int nvmft_host_ns_info(struct nvmft_host_ctrlr *c, uint32_t nsid,
		       struct nvmft_host_ns_info *info)
{
	struct nvme_id_ns *ns = calloc(1, sizeof(*ns));
	unsigned int fmt;
	int rc;

	if (!ns)
		return -ENOMEM;
	rc = nvmft_host_identify(c, NVME_IDENTIFY_CNS_NS, nsid, ns);
	if (rc)
		goto out_free;
	/* FLBAS: format index bits 3:0, and 6:5 above 16 formats. */
	fmt = (ns->flbas & 0xf) | (((ns->flbas >> 5) & 0x3) << 4);
	if (!ns->nsze || fmt > ns->nlbaf || ns->lbaf[fmt].ds < 9 || ns->lbaf[fmt].ds > 31) {
		rc = -ENODEV;
		goto out_free;
	}
	info->nsid = nsid;
	info->nsze = le64toh(ns->nsze);
	info->lba_size = 1u << ns->lbaf[fmt].ds;
out_free:
	free(ns);
	return rc;
}

int nvmft_host_get_log_page(struct nvmft_host_ctrlr *c, uint8_t lid, uint32_t nsid,
			    uint64_t offset, void *buf, uint32_t len)
{
	uint8_t *p = buf;

	/* NUMD and LPO count dwords / need dword alignment. */
	if (!len || (len & 3) || (offset & 3) || !buf)
		return -EINVAL;
	while (len) {
		uint32_t chunk = len < c->max_xfer ? len : c->max_xfer & ~3u;
		uint32_t numd = chunk / 4 - 1;
		struct nvmft_sqe sqe = {
			.opcode = nvme_admin_get_log_page,
			.nsid = htole32(nsid),
			.cdw10 = htole32(lid | ((numd & 0xffff) << 16)),
			.cdw11 = htole32(numd >> 16),
			.cdw12 = htole32((uint32_t)offset),
			.cdw13 = htole32((uint32_t)(offset >> 32)),
		};
		int rc = admin_sync(c, &sqe, p, chunk, NVMFT_HOST_DIR_READ, NULL);

		if (rc)
			return rc;
		p += chunk;
		offset += chunk;
		len -= chunk;
	}
	return 0;
}

int nvmft_host_get_features(struct nvmft_host_ctrlr *c, uint8_t fid, uint32_t cdw11,
			    uint32_t *result)
{
	struct nvmft_sqe sqe = {
		.opcode = nvme_admin_get_features,
		.cdw10 = htole32(fid),	/* SEL 0: current */
		.cdw11 = htole32(cdw11),
	};
	struct nvmft_host_cpl cpl = { 0 };
	int rc = admin_sync(c, &sqe, NULL, 0, NVMFT_HOST_DIR_NONE, &cpl);

	if (!rc && result)
		*result = (uint32_t)cpl.result;
	return rc;
}

int nvmft_host_set_features(struct nvmft_host_ctrlr *c, uint8_t fid, uint32_t cdw11,
			    bool save, uint32_t *result)
{
	struct nvmft_sqe sqe = {
		.opcode = nvme_admin_set_features,
		.cdw10 = htole32(fid | (save ? 1u << 31 : 0)),
		.cdw11 = htole32(cdw11),
	};
	struct nvmft_host_cpl cpl = { 0 };
	int rc = admin_sync(c, &sqe, NULL, 0, NVMFT_HOST_DIR_NONE, &cpl);

	if (!rc && result)
		*result = (uint32_t)cpl.result;
	return rc;
}

int nvmft_host_property_get(struct nvmft_host_ctrlr *c, uint32_t offset,
			    unsigned int size, uint64_t *value)
{
	struct nvmft_sqe sqe = {
		.opcode = FABRICS_OPCODE,
		.nsid = htole32(nvme_fabrics_type_property_get),
		.cdw10 = htole32(size == 8 ? 1 : 0),	/* ATTRIB.SIZE */
		.cdw11 = htole32(offset),
	};
	struct nvmft_host_cpl cpl = { 0 };
	int rc;

	if (size != 4 && size != 8)
		return -EINVAL;
	rc = admin_sync(c, &sqe, NULL, 0, NVMFT_HOST_DIR_NONE, &cpl);
	if (!rc && value)
		*value = size == 8 ? cpl.result : (uint32_t)cpl.result;
	return rc;
}

int nvmft_host_property_set(struct nvmft_host_ctrlr *c, uint32_t offset,
			    unsigned int size, uint64_t value)
{
	struct nvmft_sqe sqe = {
		.opcode = FABRICS_OPCODE,
		.nsid = htole32(nvme_fabrics_type_property_set),
		.cdw10 = htole32(size == 8 ? 1 : 0),
		.cdw11 = htole32(offset),
		.cdw12 = htole32((uint32_t)value),
		.cdw13 = htole32(size == 8 ? (uint32_t)(value >> 32) : 0),
	};

	if (size != 4 && size != 8)
		return -EINVAL;
	return admin_sync(c, &sqe, NULL, 0, NVMFT_HOST_DIR_NONE, NULL);
}

static void rw_sqe(struct nvmft_sqe *sqe, uint8_t opcode, uint32_t nsid,
		   uint64_t slba, uint32_t nlb)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = opcode;
	sqe->nsid = htole32(nsid);
	sqe->cdw10 = htole32((uint32_t)slba);
	sqe->cdw11 = htole32((uint32_t)(slba >> 32));
	sqe->cdw12 = htole32((nlb - 1) & 0xffff);
}

int nvmft_host_read(struct nvmft_host_qpair *qp, uint32_t nsid, uint64_t slba,
		    uint32_t nlb, void *buf, uint32_t len)
{
	struct nvmft_sqe sqe;

	if (!nlb || nlb > 0x10000)
		return -EINVAL;
	rw_sqe(&sqe, nvme_cmd_read, nsid, slba, nlb);
	return nvmft_host_cmd_sync(qp, &sqe, buf, len, NVMFT_HOST_DIR_READ, NULL);
}

int nvmft_host_write(struct nvmft_host_qpair *qp, uint32_t nsid, uint64_t slba,
		     uint32_t nlb, const void *buf, uint32_t len, bool fua)
{
	struct nvmft_sqe sqe;

	if (!nlb || nlb > 0x10000)
		return -EINVAL;
	rw_sqe(&sqe, nvme_cmd_write, nsid, slba, nlb);
	if (fua)
		sqe.cdw12 |= htole32(RW_FUA);
	/* The library only reads a write's buffer. */
	return nvmft_host_cmd_sync(qp, &sqe, (void *)buf, len, NVMFT_HOST_DIR_WRITE, NULL);
}

int nvmft_host_flush(struct nvmft_host_qpair *qp, uint32_t nsid)
{
	struct nvmft_sqe sqe = { .opcode = nvme_cmd_flush, .nsid = htole32(nsid) };

	return nvmft_host_cmd_sync(qp, &sqe, NULL, 0, NVMFT_HOST_DIR_NONE, NULL);
}

int nvmft_host_write_zeroes(struct nvmft_host_qpair *qp, uint32_t nsid, uint64_t slba,
			    uint32_t nlb)
{
	struct nvmft_sqe sqe;

	if (!nlb || nlb > 0x10000)
		return -EINVAL;
	rw_sqe(&sqe, nvme_cmd_write_zeroes, nsid, slba, nlb);
	return nvmft_host_cmd_sync(qp, &sqe, NULL, 0, NVMFT_HOST_DIR_NONE, NULL);
}

int nvmft_host_dsm(struct nvmft_host_qpair *qp, uint32_t nsid, uint32_t attr,
		   const struct nvme_dsm_range *ranges, unsigned int nr)
{
	struct nvmft_sqe sqe = {
		.opcode = nvme_cmd_dsm,
		.nsid = htole32(nsid),
	};

	if (!nr || nr > 256 || !ranges)
		return -EINVAL;
	sqe.cdw10 = htole32(nr - 1);
	sqe.cdw11 = htole32(attr);
	return nvmft_host_cmd_sync(qp, &sqe, (void *)ranges, nr * sizeof(*ranges),
				   NVMFT_HOST_DIR_WRITE, NULL);
}
