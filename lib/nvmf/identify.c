/* SPDX-License-Identifier: MIT */
/*
 * Identify (admin opcode 06h): controller, namespace, active namespace
 * list, namespace identification descriptors, and the NVM command set
 * specific structures a Linux host asks for.
 *
 * Runs on the controller's reactor. The subsystem's namespace table is
 * owned by the app reactor; namespaces are looked up with nvmf_ss_get_ns(),
 * which on other reactors answers from the reactor's own sgroup (updated
 * there by message), so Identify agrees with what I/O on this reactor sees.
 */
#include <endian.h>
#include <stdio.h>
#include <string.h>

#include "nvmf/nvmf_internal.h"

#ifndef NVMFT_VERSION
#define NVMFT_VERSION "0.0.0"
#endif

/* Composite temperature thresholds we report (Kelvin): 70 °C, 100 °C. */
#define ID_WCTEMP	343
#define ID_CCTEMP	373

#define ID_RAB		6	/* recommended arbitration burst: 2^6 commands */
#define ID_ACL		3	/* Abort Command Limit, 0's based */
#define ID_SQES		0x66	/* 64-byte SQ entries, required and max */
#define ID_CQES		0x44	/* 16-byte CQ entries */
#define ID_KAS		1	/* keep-alive granularity: 100 ms */
#define ID_MPS		4096	/* CAP.MPSMIN = 0: 4 KiB memory pages */
#define ID_VWC_FLUSH_NO_BCAST	(2 << 1)	/* VWC bits 2:1 = 10b */

static uint16_t status_of(uint8_t sct, uint8_t sc)
{
	return NVMFT_STATUS(sct, sc) | NVMFT_STATUS_DNR;
}

/* Space padded, not NUL terminated (ASCII string fields). */
static void pad_copy(char *dst, const char *src, size_t size)
{
	size_t n = src ? strnlen(src, size) : 0;

	memcpy(dst, src, n);
	memset(dst + n, ' ', size - n);
}

static unsigned int ilog2_u64(uint64_t v)
{
	unsigned int r = 0;

	while (v >>= 1)
		r++;
	return r;
}

static const struct nvmft_transport_opts *req_topts(struct nvmf_req *req)
{
	return req->qpair->transport ? &req->qpair->transport->opts : NULL;
}

uint8_t nvmf_identify_mdts(uint32_t max_io_size)
{
	unsigned int pages = max_io_size / ID_MPS;
	unsigned int mdts;

	if (pages == 0)
		return 1;	/* cannot say "one page" otherwise; see report */
	mdts = ilog2_u64(pages);
	/* MDTS 0 means "no limit": the smallest limit we can state is 2^1 */
	return (uint8_t)(mdts == 0 ? 1 : mdts);
}

/* Any namespace backed by a device with a volatile write cache. */
bool nvmf_ss_has_write_cache(struct nvmft_subsystem *ss)
{
	uint32_t nsid;

	for (nsid = 1; nsid <= ss->max_nsid; nsid++) {
		struct nvmf_ns *ns = nvmf_ss_get_ns(ss, nsid);

		if (ns && ns->desc &&
		    nvmft_bdev_write_cache(nvmft_bdev_desc_get_bdev(ns->desc)))
			return true;
	}
	return false;
}

bool nvmf_ns_unmap_reads_zeroes(struct nvmf_ns *ns)
{
	const struct nvmft_bdev *bdev;
	const char *product;

	if (ns->desc == NULL)
		return false;
	bdev = nvmft_bdev_desc_get_bdev(ns->desc);
	if (!nvmft_bdev_supports(bdev, NVMFT_IO_UNMAP))
		return false;
	/*
	 * The bdev API has no "deallocated blocks read as zeroes" property;
	 * the two shipped RAM-like backends guarantee it (bdev.h).
	 */
	product = nvmft_bdev_product(bdev);
	return product && (!strcmp(product, "malloc") || !strcmp(product, "null"));
}

static void id_ctrl_fill(struct nvmf_req *req, struct nvme_id_ctrl *id)
{
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;
	struct nvmft_subsystem *ss = ctrlr->ss;
	const struct nvmft_transport_opts *o = req_topts(req);
	bool disc = ss->discovery;
	uint32_t icdsz = o ? o->in_capsule_data_size : 0;
	uint32_t oaes, sgls;
	uint16_t oncs;

	memset(id, 0, sizeof(*id));
	/* no PCI vendor: VID/SSVID 0 */
	pad_copy(id->sn, ss->serial, sizeof(id->sn));
	pad_copy(id->mn, ss->model, sizeof(id->mn));
	pad_copy(id->fr, NVMFT_VERSION, sizeof(id->fr));
	id->rab = ID_RAB;
	/* IEEE OUI: none assigned to this project, left 0. */
	/* Several hosts (and one host through several paths) share it. */
	id->cmic = NVME_CTRL_CMIC_MULTI_CTRL;
	id->mdts = o ? nvmf_identify_mdts(o->max_io_size) : 0;
	id->cntlid = htole16(ctrlr->cntlid);
	id->ver = htole32(ctrlr->vs);

	oaes = disc ? (uint32_t)NVME_CTRL_OAES_DL : (uint32_t)NVME_CTRL_OAES_NA;
	id->oaes = htole32(oaes);
	/* Fabrics hosts always identify themselves with 128-bit host IDs. */
	id->ctratt = htole32(NVME_CTRL_CTRATT_128_ID);
	id->cntrltype = disc ? NVME_CTRL_CNTRLTYPE_DISCOVERY :
			       NVME_CTRL_CNTRLTYPE_IO;

	id->acl = ID_ACL;
	id->aerl = NVMF_MAX_AER - 1;
	/* one firmware slot, read only */
	id->frmw = NVME_CTRL_FRMW_1ST_RO | (1 << 1);
	id->lpa = NVME_CTRL_LPA_EXTENDED;
	if (!disc)
		id->lpa |= NVME_CTRL_LPA_CMD_EFFECTS;
	id->elpe = NVMF_ERROR_LOG_ENTRIES - 1;
	id->npss = 0;
	if (!disc) {
		id->wctemp = htole16(ID_WCTEMP);
		id->cctemp = htole16(ID_CCTEMP);
	}
	id->kas = htole16(ID_KAS);

	id->sqes = ID_SQES;
	id->cqes = ID_CQES;
	id->maxcmd = htole16(o ? o->max_queue_depth : 0);
	if (!disc) {
		id->nn = htole32(ss->max_nsid);
		/*
		 * The bdev layer emulates Compare and Write Zeroes on every
		 * backend, and deallocation is advisory (a backend without
		 * unmap completes it as a no-op), so these hold for any
		 * namespace that may be attached later.
		 */
		oncs = NVME_CTRL_ONCS_COMPARE | NVME_CTRL_ONCS_DSM |
		       NVME_CTRL_ONCS_WRITE_ZEROES |
		       NVME_CTRL_ONCS_SAVE_FEATURES;
		id->oncs = htole16(oncs);
		id->fuses = htole16(NVME_CTRL_FUSES_COMPARE_AND_WRITE);
		if (nvmf_ss_has_write_cache(ss))
			/*
			 * Flush with NSID FFFFFFFFh is not supported (10b):
			 * hosts flush per namespace, and a broadcast would
			 * need one request in flight on every namespace.
			 */
			id->vwc = NVME_CTRL_VWC_PRESENT | ID_VWC_FLUSH_NO_BCAST;
		id->mnan = htole32(ss->max_nsid);
	}
	/* NVMe/TCP: in-capsule data (offset SGL) and transport data blocks */
	sgls = (1u << 0) | NVME_CTRL_SGLS_OFFSET | NVME_CTRL_SGLS_TPORT;
	id->sgls = htole32(sgls);
	snprintf(id->subnqn, sizeof(id->subnqn), "%s", ss->nqn);

	id->ioccsz = htole32((uint32_t)(sizeof(struct nvmft_sqe) + icdsz) / 16);
	id->iorcsz = htole32(sizeof(struct nvmft_cqe) / 16);
	id->icdoff = 0;
	id->fcatt = 0;		/* dynamic controller model */
	id->msdbd = 1;
	id->ofcs = htole16(NVME_CTRL_OFCS_DISCONNECT);
	id->dctype = disc ? NVME_CTRL_DCTYPE_DDC : NVME_CTRL_DCTYPE_NOT_REPORTED;
}

static void id_ns_fill(struct nvmf_ns *ns, struct nvme_id_ns *id)
{
	uint64_t nblocks = nvmf_ns_num_blocks(ns);
	uint64_t bytes_lo, bytes_hi;

	memset(id, 0, sizeof(*id));
	id->nsze = htole64(nblocks);
	id->ncap = htole64(nblocks);
	id->nuse = htole64(nblocks);
	/*
	 * NSFEAT stays 0: no thin provisioning, no DULBE; and UIDREUSE must
	 * not be claimed, the NGUID of a bdev name comes back if the
	 * namespace is re-created.
	 */
	id->nsfeat = 0;
	id->nlbaf = 0;
	id->flbas = 0;
	id->lbaf[0].ds = (uint8_t)ilog2_u64(ns->block_size);
	id->nmic = NVME_NS_NMIC_SHARED;
	/* Write Zeroes honours DEAC (unmap where it reads back zeroes). */
	id->dlfeat = NVME_NS_DLFEAT_WRITE_ZEROES;
	if (nvmf_ns_unmap_reads_zeroes(ns))
		id->dlfeat |= NVME_NS_DLFEAT_RB_ALL_0S;
	/* NVM capacity in bytes, 128-bit little endian */
	bytes_lo = nblocks * ns->block_size;
	bytes_hi = (uint64_t)(((unsigned __int128)nblocks *
			       ns->block_size) >> 64);
	bytes_lo = htole64(bytes_lo);
	bytes_hi = htole64(bytes_hi);
	memcpy(id->nvmcap, &bytes_lo, 8);
	memcpy(id->nvmcap + 8, &bytes_hi, 8);
	/* No ANA reporting (CMIC bit 3 clear): ANAGRPID shall be 0. */
	id->anagrpid = 0;
	memcpy(id->nguid, ns->nguid, sizeof(id->nguid));
}

static void id_ns_indep_fill(struct nvmf_ns *ns,
			     struct nvme_id_independent_id_ns *id)
{
	memset(id, 0, sizeof(*id));
	id->nmic = NVME_NS_NMIC_SHARED;
	id->nstat = 1;		/* NRDY: namespace ready */
	(void)ns;
}

/*
 * Namespace identifier checks shared by the per-namespace CNS values: an
 * NSID inside [1, NN] with no namespace is "inactive" (zeroed data, not an
 * error); 0, FFFFFFFFh (no namespace management) and above NN are invalid.
 */
static bool nsid_valid(struct nvmft_subsystem *ss, uint32_t nsid)
{
	return nsid != 0 && nsid <= ss->max_nsid;
}

static size_t id_ns_list(struct nvmft_subsystem *ss, uint32_t after,
			 struct nvme_ns_list *list)
{
	size_t n = 0;
	uint32_t nsid;

	memset(list, 0, sizeof(*list));
	for (nsid = after + 1; nsid != 0 && nsid <= ss->max_nsid &&
	     n < NVME_ID_NS_LIST_MAX; nsid++)
		if (nvmf_ss_get_ns(ss, nsid))
			list->ns[n++] = htole32(nsid);
	return n;
}

static size_t desc_add(uint8_t *buf, size_t off, uint8_t type,
		       const void *id, uint8_t len)
{
	struct nvme_ns_id_desc *d = (struct nvme_ns_id_desc *)(buf + off);

	d->nidt = type;
	d->nidl = len;
	memcpy(d->nid, id, len);
	return off + sizeof(*d) + len;
}

static void id_ns_descs(struct nvmf_ns *ns, uint8_t *buf)
{
	static const uint8_t zero[16];
	uint8_t csi = NVME_CSI_NVM;
	size_t off = 0;

	memset(buf, 0, NVME_IDENTIFY_DATA_SIZE);
	/* No EUI-64: we have no IEEE OUI to build one from. */
	if (memcmp(ns->nguid, zero, sizeof(zero)))
		off = desc_add(buf, off, NVME_NIDT_NGUID, ns->nguid,
			       NVME_NIDT_NGUID_LEN);
	if (memcmp(ns->uuid, zero, sizeof(zero)))
		off = desc_add(buf, off, NVME_NIDT_UUID, ns->uuid,
			       NVME_NIDT_UUID_LEN);
	desc_add(buf, off, NVME_NIDT_CSI, &csi, NVME_NIDT_CSI_LEN);
}

void nvmf_identify_exec(struct nvmf_req *req)
{
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;
	struct nvmft_subsystem *ss = ctrlr->ss;
	uint8_t cns = req->cmd.cdw10 & 0xff;
	uint8_t csi = req->cmd.cdw11 >> 24;
	uint32_t nsid = req->cmd.nsid;
	union {
		struct nvme_id_ctrl ctrl;
		struct nvme_id_ns ns;
		struct nvme_id_independent_id_ns indep;
		struct nvme_ns_list list;
		uint8_t raw[NVME_IDENTIFY_DATA_SIZE];
	} storage, *buf = &storage;
	struct nvmf_ns *ns;

	if (req->xfer != NVMF_XFER_C2H) {
		nvmf_cmd_done(req, status_of(NVME_SCT_GENERIC,
					     NVME_SC_INVALID_FIELD));
		return;
	}
	if (req->length < NVME_IDENTIFY_DATA_SIZE) {
		nvmf_cmd_done(req, status_of(NVME_SCT_GENERIC,
					     NVME_SC_SGL_INVALID_DATA));
		return;
	}
	/* A discovery controller has nothing but itself to describe. */
	if (ss->discovery && cns != NVME_IDENTIFY_CNS_CTRL) {
		nvmf_cmd_done(req, status_of(NVME_SCT_GENERIC,
					     NVME_SC_INVALID_FIELD));
		return;
	}

	memset(buf, 0, sizeof(*buf));
	switch (cns) {
	case NVME_IDENTIFY_CNS_NS:
	case NVME_IDENTIFY_CNS_CSI_NS:
	case NVME_IDENTIFY_CNS_CSI_INDEPENDENT_ID_NS:
		if (cns == NVME_IDENTIFY_CNS_CSI_NS && csi != NVME_CSI_NVM)
			goto invalid_field;
		if (!nsid_valid(ss, nsid))
			goto invalid_ns;
		ns = nvmf_ss_get_ns(ss, nsid);
		if (ns == NULL)
			break;		/* inactive: zeroed structure */
		if (cns == NVME_IDENTIFY_CNS_NS)
			id_ns_fill(ns, &buf->ns);
		else if (cns == NVME_IDENTIFY_CNS_CSI_INDEPENDENT_ID_NS)
			id_ns_indep_fill(ns, &buf->indep);
		/* CNS 05h, NVM: no PI, no extended LBA formats: all zero */
		break;
	case NVME_IDENTIFY_CNS_CTRL:
		id_ctrl_fill(req, &buf->ctrl);
		break;
	case NVME_IDENTIFY_CNS_CSI_CTRL:
		/* NVM command set: all-zero means no VSL/WZSL/DMRL limits */
		if (csi != NVME_CSI_NVM)
			goto invalid_field;
		break;
	case NVME_IDENTIFY_CNS_NS_ACTIVE_LIST:
	case NVME_IDENTIFY_CNS_CSI_NS_ACTIVE_LIST:
		if (cns == NVME_IDENTIFY_CNS_CSI_NS_ACTIVE_LIST &&
		    csi != NVME_CSI_NVM)
			goto invalid_field;
		if (nsid >= NVME_NSID_ALL - 1)
			goto invalid_ns;
		id_ns_list(ss, nsid, &buf->list);
		break;
	case NVME_IDENTIFY_CNS_NS_DESC_LIST:
		if (!nsid_valid(ss, nsid))
			goto invalid_ns;
		ns = nvmf_ss_get_ns(ss, nsid);
		if (ns == NULL)
			goto invalid_ns;
		id_ns_descs(ns, buf->raw);
		break;
	default:
		/* NVM sets, namespace management, command set structures... */
		goto invalid_field;
	}
	nvmf_admin_data_out(req, buf->raw, NVME_IDENTIFY_DATA_SIZE);
	nvmf_cmd_done(req, NVME_SC_SUCCESS);
	return;

invalid_ns:
	nvmf_cmd_done(req, status_of(NVME_SCT_GENERIC, NVME_SC_INVALID_NS));
	return;
invalid_field:
	nvmf_cmd_done(req, status_of(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD));
}
