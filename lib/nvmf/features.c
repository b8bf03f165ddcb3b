/* SPDX-License-Identifier: MIT */
/*
 * Get Features / Set Features (admin opcodes 0Ah / 09h).
 *
 * Runs on the controller's reactor. Nothing is saveable (no persistent
 * store), so Set Features with SV fails with Feature Identifier Not
 * Saveable and Get Features with SEL = saved returns the default.
 *
 * ctrlr->feat.volatile_wc is also read by the I/O reactors (a write with
 * the cache disabled goes out with FUA): it is stored and loaded
 * atomically.
 */
#include <string.h>

#include "nvmf/nvmf_internal.h"

/* Temperature threshold: composite sensor only; packed over | under << 16. */
#define TT_OVER_DEFAULT		343	/* Kelvin: 70 °C, = Identify WCTEMP */
#define TT_TMPSEL_COMPOSITE	0x0
#define TT_TMPSEL_ALL		0xf
#define TT_THSEL_OVER		0
#define TT_THSEL_UNDER		1

#define KATO_GRANULARITY_MS	100	/* Identify KAS = 1 */

/* Get Features SEL=3 capability bits (dword 0 of the completion). */
#define FEAT_CAP_SAVEABLE	(1u << 0)
#define FEAT_CAP_NS_SPECIFIC	(1u << 1)
#define FEAT_CAP_CHANGEABLE	(1u << 2)

#define FEAT_SV			(1u << 31)	/* Set Features cdw10 */

/* Async event configuration bits we can raise. */
#define AEC_NS_ATTR		(1u << 8)
#define AEC_IO_SUPPORTED	(0xffu | AEC_NS_ATTR)	/* SMART, NS attr */
#define AEC_DISC_SUPPORTED	(1u << 31)		/* discovery log change */

static uint16_t st(uint8_t sct, uint8_t sc)
{
	return NVMFT_STATUS(sct, sc) | NVMFT_STATUS_DNR;
}

#define ST_INVALID_FIELD	st(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD)

static uint32_t queues_0based(const struct nvmf_ctrlr *ctrlr)
{
	/* max_qpairs counts the admin queue */
	uint32_t io = ctrlr->max_qpairs > 1 ? ctrlr->max_qpairs - 1 : 1;

	return (io - 1) | ((io - 1) << 16);
}

static void features_defaults(const struct nvmf_ctrlr *ctrlr,
			      struct nvmf_features *f)
{
	memset(f, 0, sizeof(*f));
	f->temp_thresh = TT_OVER_DEFAULT;
	f->volatile_wc = 1;
	f->num_queues = queues_0based(ctrlr);
	f->keep_alive_timer_ms = ctrlr->kato_ms;
	/* Namespace notices on unless the host says otherwise: a host that
	 * never sets the feature still learns about new namespaces. */
	f->async_event_config = ctrlr->ss->discovery ? 0 : AEC_NS_ATTR;
	memcpy(f->host_id, ctrlr->hostid, sizeof(f->host_id));
	f->host_id_set = true;
}

void nvmf_features_init(struct nvmf_ctrlr *ctrlr)
{
	features_defaults(ctrlr, &ctrlr->feat);
}

bool nvmf_ctrlr_write_cache_enabled(const struct nvmf_ctrlr *ctrlr)
{
	return __atomic_load_n(&ctrlr->feat.volatile_wc, __ATOMIC_RELAXED) & 1;
}

static bool feat_supported(struct nvmf_ctrlr *ctrlr, uint8_t fid)
{
	if (ctrlr->ss->discovery)
		return fid == NVME_FEAT_FID_KATO ||
		       fid == NVME_FEAT_FID_ASYNC_EVENT;
	switch (fid) {
	case NVME_FEAT_FID_ARBITRATION:
	case NVME_FEAT_FID_POWER_MGMT:
	case NVME_FEAT_FID_TEMP_THRESH:
	case NVME_FEAT_FID_ERR_RECOVERY:
	case NVME_FEAT_FID_NUM_QUEUES:
	case NVME_FEAT_FID_IRQ_COALESCE:
	case NVME_FEAT_FID_WRITE_ATOMIC:
	case NVME_FEAT_FID_ASYNC_EVENT:
	case NVME_FEAT_FID_KATO:
	case NVME_FEAT_FID_HOST_ID:
		return true;
	case NVME_FEAT_FID_VOLATILE_WC:
		/* Identify VWC says whether it exists at all. */
		return nvmf_ss_has_write_cache(ctrlr->ss);
	default:
		return false;
	}
}

static uint16_t temp_check(uint32_t cdw11, bool set, uint32_t *shift)
{
	uint32_t tmpsel = (cdw11 >> NVME_FEAT_TT_TMPSEL_SHIFT) &
			  NVME_FEAT_TT_TMPSEL_MASK;
	uint32_t thsel = (cdw11 >> NVME_FEAT_TT_THSEL_SHIFT) &
			 NVME_FEAT_TT_THSEL_MASK;

	/* Only the composite temperature exists ("all sensors" on Set). */
	if (tmpsel != TT_TMPSEL_COMPOSITE && !(set && tmpsel == TT_TMPSEL_ALL))
		return ST_INVALID_FIELD;
	if (thsel != TT_THSEL_OVER && thsel != TT_THSEL_UNDER)
		return ST_INVALID_FIELD;
	*shift = thsel == TT_THSEL_OVER ? 0 : 16;
	return 0;
}

static uint16_t feat_read(struct nvmf_req *req, const struct nvmf_features *f,
			  uint8_t fid, uint32_t *val)
{
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;
	uint32_t cdw11 = req->cmd.cdw11;
	uint32_t shift;
	uint16_t s;

	switch (fid) {
	case NVME_FEAT_FID_ARBITRATION:
		*val = f->arbitration;
		break;
	case NVME_FEAT_FID_POWER_MGMT:
		*val = f->power_mgmt;
		break;
	case NVME_FEAT_FID_TEMP_THRESH:
		s = temp_check(cdw11, false, &shift);
		if (s)
			return s;
		*val = ((f->temp_thresh >> shift) & 0xffff) |
		       (cdw11 & 0x3f0000);	/* echo TMPSEL, THSEL */
		break;
	case NVME_FEAT_FID_ERR_RECOVERY:
		*val = f->error_recovery;
		break;
	case NVME_FEAT_FID_VOLATILE_WC:
		*val = __atomic_load_n(&f->volatile_wc, __ATOMIC_RELAXED) & 1;
		break;
	case NVME_FEAT_FID_NUM_QUEUES:
		*val = f->num_queues;
		break;
	case NVME_FEAT_FID_IRQ_COALESCE:
		*val = f->irq_coalescing;
		break;
	case NVME_FEAT_FID_WRITE_ATOMIC:
		*val = f->write_atomicity;
		break;
	case NVME_FEAT_FID_ASYNC_EVENT:
		*val = f->async_event_config;
		break;
	case NVME_FEAT_FID_KATO:
		*val = f->keep_alive_timer_ms;
		break;
	case NVME_FEAT_FID_HOST_ID:
		/* Fabrics hosts use the 128-bit form only. */
		if (!(cdw11 & NVME_FEAT_HOSTID_EXHID_MASK))
			return ST_INVALID_FIELD;
		if (req->xfer != NVMF_XFER_C2H)
			return ST_INVALID_FIELD;
		if (req->length < sizeof(ctrlr->hostid))
			return st(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA);
		nvmf_admin_data_out(req, ctrlr->hostid, sizeof(ctrlr->hostid));
		*val = 0;
		break;
	default:
		return ST_INVALID_FIELD;
	}
	return 0;
}

static uint32_t feat_caps(uint8_t fid)
{
	/* Host Identifier comes from Connect; everything else can be set. */
	return fid == NVME_FEAT_FID_HOST_ID ? 0 : FEAT_CAP_CHANGEABLE;
}

void nvmf_get_features_exec(struct nvmf_req *req)
{
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;
	uint8_t fid = req->cmd.cdw10 & 0xff;
	uint8_t sel = (req->cmd.cdw10 >> 8) & 0x7;
	struct nvmf_features defaults;
	const struct nvmf_features *f;
	uint32_t val = 0;
	uint16_t s;

	if (!feat_supported(ctrlr, fid)) {
		nvmf_cmd_done(req, ST_INVALID_FIELD);
		return;
	}
	switch (sel) {
	case NVME_GET_FEATURES_SEL_CURRENT:
		f = &ctrlr->feat;
		break;
	case NVME_GET_FEATURES_SEL_DEFAULT:
	case NVME_GET_FEATURES_SEL_SAVED:	/* nothing saved: defaults */
		features_defaults(ctrlr, &defaults);
		f = &defaults;
		break;
	case NVME_GET_FEATURES_SEL_SUPPORTED:
		req->rsp.result = feat_caps(fid);
		nvmf_cmd_done(req, NVME_SC_SUCCESS);
		return;
	default:
		nvmf_cmd_done(req, ST_INVALID_FIELD);
		return;
	}
	s = feat_read(req, f, fid, &val);
	if (s == 0)
		req->rsp.result = val;
	nvmf_cmd_done(req, s);
}

static uint16_t set_num_queues(struct nvmf_ctrlr *ctrlr, uint32_t cdw11,
			       uint32_t *result)
{
	uint32_t nsqr = cdw11 & NVME_FEAT_NRQS_NSQR_MASK;
	uint32_t ncqr = (cdw11 >> NVME_FEAT_NRQS_NCQR_SHIFT) &
			NVME_FEAT_NRQS_NCQR_MASK;
	uint32_t max = queues_0based(ctrlr) & 0xffff;

	/* Only during initialisation, before any I/O queue was created. */
	if (ctrlr->nr_io_qpairs > 0)
		return st(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR);
	/* 65536 queues (FFFFh, 0's based) is reserved. */
	if (nsqr == 0xffff || ncqr == 0xffff)
		return ST_INVALID_FIELD;
	if (nsqr > max)
		nsqr = max;
	if (ncqr > max)
		ncqr = max;
	ctrlr->feat.num_queues = nsqr | (ncqr << 16);
	*result = ctrlr->feat.num_queues;
	return 0;
}

static uint16_t feat_write(struct nvmf_req *req, uint8_t fid, uint32_t *result)
{
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;
	struct nvmf_features *f = &ctrlr->feat;
	uint32_t cdw11 = req->cmd.cdw11;
	uint32_t v, shift;
	uint16_t s;

	switch (fid) {
	case NVME_FEAT_FID_ARBITRATION:
		f->arbitration = cdw11;
		break;
	case NVME_FEAT_FID_POWER_MGMT:
		/* NPSS = 0: power state 0 is the only one */
		if (cdw11 & NVME_FEAT_PWRMGMT_PS_MASK)
			return ST_INVALID_FIELD;
		f->power_mgmt = cdw11 & ((NVME_FEAT_PWRMGMT_WH_MASK <<
					  NVME_FEAT_PWRMGMT_WH_SHIFT) |
					 NVME_FEAT_PWRMGMT_PS_MASK);
		break;
	case NVME_FEAT_FID_TEMP_THRESH:
		s = temp_check(cdw11, true, &shift);
		if (s)
			return s;
		v = cdw11 & NVME_FEAT_TT_TMPTH_MASK;
		f->temp_thresh = (f->temp_thresh & ~(0xffffu << shift)) |
				 (v << shift);
		break;
	case NVME_FEAT_FID_ERR_RECOVERY:
		/* DULBE needs NSFEAT bit 2, which we do not claim. */
		if ((cdw11 >> NVME_FEAT_ERROR_RECOVERY_DULBE_SHIFT) &
		    NVME_FEAT_ERROR_RECOVERY_DULBE_MASK)
			return ST_INVALID_FIELD;
		f->error_recovery = cdw11 & NVME_FEAT_ERROR_RECOVERY_TLER_MASK;
		break;
	case NVME_FEAT_FID_VOLATILE_WC:
		__atomic_store_n(&f->volatile_wc, cdw11 & NVME_FEAT_VWC_WCE_MASK,
				 __ATOMIC_RELAXED);
		break;
	case NVME_FEAT_FID_NUM_QUEUES:
		return set_num_queues(ctrlr, cdw11, result);
	case NVME_FEAT_FID_IRQ_COALESCE:
		f->irq_coalescing = cdw11 & 0xffff;
		break;
	case NVME_FEAT_FID_WRITE_ATOMIC:
		f->write_atomicity = cdw11 & NVME_FEAT_WA_DN_MASK;
		break;
	case NVME_FEAT_FID_ASYNC_EVENT:
		f->async_event_config = cdw11 & (ctrlr->ss->discovery ?
						 AEC_DISC_SUPPORTED :
						 AEC_IO_SUPPORTED);
		break;
	case NVME_FEAT_FID_KATO:
		/* milliseconds, rounded up to the KAS granularity; 0 = off */
		v = cdw11;
		if (v % KATO_GRANULARITY_MS)
			v += KATO_GRANULARITY_MS - v % KATO_GRANULARITY_MS;
		if (v < cdw11)		/* wrapped */
			v = UINT32_MAX / KATO_GRANULARITY_MS *
			    KATO_GRANULARITY_MS;
		f->keep_alive_timer_ms = v;
		nvmf_ctrlr_set_kato(ctrlr, v);
		break;
	case NVME_FEAT_FID_HOST_ID:
		/* Message-based controllers get it from Connect only. */
		return st(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR);
	default:
		return ST_INVALID_FIELD;
	}
	return 0;
}

void nvmf_set_features_exec(struct nvmf_req *req)
{
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;
	uint8_t fid = req->cmd.cdw10 & 0xff;
	uint32_t result = 0;
	uint16_t s;

	if (!feat_supported(ctrlr, fid)) {
		nvmf_cmd_done(req, ST_INVALID_FIELD);
		return;
	}
	if (req->cmd.cdw10 & FEAT_SV) {
		nvmf_cmd_done(req, st(NVME_SCT_CMD_SPECIFIC,
				      NVME_SC_FEATURE_NOT_SAVEABLE));
		return;
	}
	s = feat_write(req, fid, &result);
	if (s == 0)
		req->rsp.result = result;
	nvmf_cmd_done(req, s);
}
