/* SPDX-License-Identifier: MIT */
/*
 * Get Log Page (admin opcode 02h): error information (01h), SMART / health
 * (02h), firmware slot (03h), changed namespace list (04h), commands
 * supported and effects (05h) on I/O controllers; error information and
 * discovery (70h) on discovery controllers.
 *
 * The host reads any dword-aligned window of a page: offset LPOL/LPOU,
 * length NUMDL/NUMDU (0's based dwords). Bytes past the end of the page
 * read as zeroes; an offset at or past the end is Invalid Field.
 *
 * Runs on the controller's reactor; the discovery page is built on the
 * app reactor (it reads every subsystem) and the command completes back
 * here.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nvmf/nvmf_internal.h"

#ifndef NVMFT_VERSION
#define NVMFT_VERSION "0.0.0"
#endif

#define LOG_RAE			(1u << 15)	/* cdw10: retain async event */
#define LOG_OT			(1u << 23)	/* cdw14: offset is an index */
#define SMART_SPARE_PCT		100
#define SMART_SPARE_THRESH_PCT	10
#define DISC_RETRY_US		1000

static uint16_t st(uint8_t sct, uint8_t sc)
{
	return NVMFT_STATUS(sct, sc) | NVMFT_STATUS_DNR;
}

#define ST_INVALID_FIELD	st(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD)

/* Every fixed-size page we build fits in 4 KiB. */
union log_buf {
	struct nvme_error_log_page err[NVMF_ERROR_LOG_ENTRIES];
	struct nvme_smart_log smart;
	struct nvme_firmware_slot fw;
	uint32_t changed_ns[NVMF_MAX_CHANGED_NS];
	struct nvme_cmd_effects_log effects;
	uint8_t raw[4096];
};

_Static_assert(sizeof(union log_buf) == 4096, "log pages exceed 4 KiB");

struct log_args {
	uint8_t lid;
	bool rae;
	uint64_t offset;
	uint64_t len;		/* bytes the host asked for */
};

static bool lid_supported(const struct nvmf_ctrlr *ctrlr, uint8_t lid)
{
	if (ctrlr->ss->discovery)
		return lid == NVME_LOG_LID_ERROR || lid == NVME_LOG_LID_DISCOVER;
	switch (lid) {
	case NVME_LOG_LID_ERROR:
	case NVME_LOG_LID_SMART:
	case NVME_LOG_LID_FW_SLOT:
	case NVME_LOG_LID_CHANGED_NS:
	case NVME_LOG_LID_CMD_EFFECTS:
		return true;
	default:
		return false;
	}
}

static int cmp_err_desc(const void *a, const void *b)
{
	uint64_t x = le64toh(((const struct nvme_error_log_page *)a)->error_count);
	uint64_t y = le64toh(((const struct nvme_error_log_page *)b)->error_count);

	return x < y ? 1 : x > y ? -1 : 0;
}

static size_t log_error(struct nvmf_ctrlr *ctrlr, union log_buf *b)
{
	/* Newest first; unused slots (error count 0) sort to the end. */
	memcpy(b->err, ctrlr->err_log, sizeof(b->err));
	qsort(b->err, NVMF_ERROR_LOG_ENTRIES, sizeof(b->err[0]), cmp_err_desc);
	return sizeof(b->err);
}

static void put_u128(uint8_t dst[16], uint64_t v)
{
	uint64_t le = htole64(v);

	memset(dst, 0, 16);
	memcpy(dst, &le, sizeof(le));
}

static uint64_t data_units(uint64_t units512)
{
	/* thousands of 512-byte units, rounded up */
	return units512 / 1000 + (units512 % 1000 != 0);
}

static size_t log_smart(struct nvmf_ctrlr *ctrlr, union log_buf *b)
{
	struct nvme_smart_log *s = &b->smart;
	struct nvmf_smart sm;
	uint64_t start, now = nvmft_now_us();

	memset(&sm, 0, sizeof(sm));
	nvmf_ctrlr_get_smart(ctrlr, &sm);
	start = sm.power_on_start_us ? sm.power_on_start_us : ctrlr->created_us;

	/* No temperature sensor: composite temperature stays 0. */
	s->avail_spare = SMART_SPARE_PCT;
	s->spare_thresh = SMART_SPARE_THRESH_PCT;
	put_u128(s->data_units_read, data_units(sm.data_units_read));
	put_u128(s->data_units_written, data_units(sm.data_units_written));
	put_u128(s->host_reads, sm.host_read_cmds);
	put_u128(s->host_writes, sm.host_write_cmds);
	put_u128(s->power_on_hours,
		 start && now > start ? (now - start) / 3600000000ull : 0);
	put_u128(s->media_errors, sm.media_errors);
	put_u128(s->num_err_log_entries,
		 sm.num_err_log_entries ? sm.num_err_log_entries :
					  ctrlr->err_count);
	return sizeof(*s);
}

static size_t log_fw_slot(union log_buf *b)
{
	size_t n = strnlen(NVMFT_VERSION, sizeof(b->fw.frs[0]));

	b->fw.afi = 1;		/* running slot 1, no pending activation */
	memset(b->fw.frs[0], ' ', sizeof(b->fw.frs[0]));
	memcpy(b->fw.frs[0], NVMFT_VERSION, n);
	return sizeof(b->fw);
}

static size_t log_changed_ns(struct nvmf_ctrlr *ctrlr, union log_buf *b)
{
	uint32_t i;

	if (ctrlr->nr_changed_ns > NVMF_MAX_CHANGED_NS) {
		/* overflow: "more than 1024 changed, rescan everything" */
		b->changed_ns[0] = htole32(NVME_NSID_ALL);
		return sizeof(b->changed_ns);
	}
	for (i = 0; i < ctrlr->nr_changed_ns; i++)
		b->changed_ns[i] = htole32(ctrlr->changed_ns[i]);
	return sizeof(b->changed_ns);
}

static size_t log_effects(union log_buf *b)
{
	static const uint8_t admin[] = {
		nvme_admin_get_log_page, nvme_admin_identify,
		nvme_admin_abort_cmd, nvme_admin_set_features,
		nvme_admin_get_features, nvme_admin_async_event,
		nvme_admin_keep_alive,
	};
	static const uint8_t io_read[] = { nvme_cmd_read, nvme_cmd_compare };
	static const uint8_t io_change[] = {
		nvme_cmd_write, nvme_cmd_write_zeroes, nvme_cmd_dsm,
		nvme_cmd_flush,
	};
	size_t i;

	for (i = 0; i < sizeof(admin); i++)
		b->effects.acs[admin[i]] = htole32(NVME_CMD_EFFECTS_CSUPP);
	for (i = 0; i < sizeof(io_read); i++)
		b->effects.iocs[io_read[i]] = htole32(NVME_CMD_EFFECTS_CSUPP);
	/* they may change the namespace's logical block content */
	for (i = 0; i < sizeof(io_change); i++)
		b->effects.iocs[io_change[i]] =
			htole32(NVME_CMD_EFFECTS_CSUPP | NVME_CMD_EFFECTS_LBCC);
	return sizeof(b->effects);
}

static void log_done(struct nvmf_req *req, const struct log_args *a)
{
	/* Reading the page re-arms its async event unless the host asked
	 * to retain it. */
	if (!a->rae)
		nvmf_ctrlr_log_page_read(req->qpair->ctrlr, a->lid);
	nvmf_cmd_done(req, NVME_SC_SUCCESS);
}

static void log_fixed(struct nvmf_req *req, const struct log_args *a)
{
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;
	union log_buf b;
	size_t size = 0;
	uint64_t n;

	memset(&b, 0, sizeof(b));
	switch (a->lid) {
	case NVME_LOG_LID_ERROR:
		size = log_error(ctrlr, &b);
		break;
	case NVME_LOG_LID_SMART:
		/* no per-namespace SMART (LPA bit 0 clear) */
		if (req->cmd.nsid != 0 && req->cmd.nsid != NVME_NSID_ALL) {
			nvmf_cmd_done(req, ST_INVALID_FIELD);
			return;
		}
		size = log_smart(ctrlr, &b);
		break;
	case NVME_LOG_LID_FW_SLOT:
		size = log_fw_slot(&b);
		break;
	case NVME_LOG_LID_CHANGED_NS:
		size = log_changed_ns(ctrlr, &b);
		break;
	case NVME_LOG_LID_CMD_EFFECTS:
		size = log_effects(&b);
		break;
	}
	if (a->offset >= size) {
		nvmf_cmd_done(req, ST_INVALID_FIELD);
		return;
	}
	n = size - a->offset;
	if (n > a->len)
		n = a->len;
	nvmf_admin_data_out(req, b.raw + a->offset, (size_t)n);
	log_done(req, a);
}

/* --- discovery log: built on the app reactor ----------------------------- */

struct disc_ctx {
	struct nvmf_req *req;
	struct log_args a;
	uint64_t size;
	struct nvmft_poller *retry;
	bool have_local;
	struct nvmft_listen_addr local;	/* the host's connection, this side */
	uint8_t buf[];
};

static void disc_complete(void *arg)
{
	struct disc_ctx *c = arg;
	struct nvmf_req *req = c->req;

	if (c->a.offset >= c->size) {
		free(c);
		nvmf_cmd_done(req, ST_INVALID_FIELD);
		return;
	}
	nvmf_admin_data_out(req, c->buf, (size_t)c->a.len);
	log_done(req, &c->a);
	free(c);
}

static int disc_send_back(void *arg)
{
	struct disc_ctx *c = arg;
	struct nvmf_ctrlr *ctrlr = c->req->qpair->ctrlr;
	struct nvmft_poller *retry = c->retry;
	int rc;

	rc = nvmft_thread_send_msg(ctrlr->thread, disc_complete, c);
	if (rc == 0) {
		/* c belongs to the controller's reactor now: touch only the
		 * local copy of the poller */
		nvmft_poller_unregister(&retry);
		return 1;
	}
	if (rc == -ENOMEM) {
		/* controller's inbox full: try again shortly from a poller */
		if (retry == NULL)
			c->retry = nvmft_poller_register(disc_send_back, c,
							 DISC_RETRY_US);
		if (c->retry != NULL)
			return 0;
	}
	nvmft_poller_unregister(&c->retry);
	/* The controller's reactor is gone (runtime stopping), and with it
	 * the request: nothing is left to complete. */
	RT_ERR(ctrlr->tgt->rt, "discovery log: cannot reach cntlid %u: %d",
	       ctrlr->cntlid, rc);
	free(c);
	return 1;
}

static void disc_build(void *arg)
{
	struct disc_ctx *c = arg;
	struct nvmf_ctrlr *ctrlr = c->req->qpair->ctrlr;

	c->size = nvmf_discovery_log_build(ctrlr, c->have_local ? &c->local : NULL,
					   c->buf, c->a.offset,
					   (uint32_t)c->a.len);
	if (ctrlr->thread == nvmft_get_thread())
		disc_complete(c);
	else
		disc_send_back(c);
}

/* Where the host reached us, to stand in for wildcard listen addresses. */
static bool admin_local_addr(struct nvmf_qpair *qp, struct nvmft_listen_addr *out)
{
	struct nvmf_qpair_addrs addrs;

	if (qp->transport == NULL || qp->transport->ops == NULL ||
	    qp->transport->ops->qpair_get_addrs == NULL)
		return false;
	if (qp->transport->ops->qpair_get_addrs(qp, &addrs) != 0)
		return false;
	*out = addrs.local;
	return true;
}

static void log_discovery(struct nvmf_req *req, const struct log_args *a)
{
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;
	struct nvmft_thread *app = ctrlr->tgt->app_thread;
	struct disc_ctx *c;
	int rc;

	c = calloc(1, sizeof(*c) + a->len);
	if (c == NULL) {
		nvmf_cmd_done(req, NVMFT_STATUS(NVME_SCT_GENERIC,
						NVME_SC_INTERNAL));
		return;
	}
	c->req = req;
	c->a = *a;
	c->have_local = admin_local_addr(req->qpair, &c->local);
	if (app == NULL || app == nvmft_get_thread()) {
		disc_build(c);
		return;
	}
	rc = nvmft_thread_send_msg(app, disc_build, c);
	if (rc != 0) {
		free(c);
		/* transient (inbox full): no DNR, the host may retry */
		nvmf_cmd_done(req, NVMFT_STATUS(NVME_SCT_GENERIC,
						NVME_SC_INTERNAL));
	}
}

void nvmf_get_log_page_exec(struct nvmf_req *req)
{
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;
	uint32_t cdw10 = req->cmd.cdw10;
	uint64_t numd;
	struct log_args a;

	a.lid = cdw10 & 0xff;
	a.rae = (cdw10 & LOG_RAE) != 0;
	numd = ((uint64_t)(req->cmd.cdw11 & 0xffff) << 16 | (cdw10 >> 16)) + 1;
	a.len = numd * 4;
	a.offset = (uint64_t)req->cmd.cdw13 << 32 | req->cmd.cdw12;

	if (req->xfer != NVMF_XFER_C2H || (req->cmd.cdw14 & LOG_OT) ||
	    (a.offset & 3)) {
		nvmf_cmd_done(req, ST_INVALID_FIELD);
		return;
	}
	if (a.len > req->length) {
		nvmf_cmd_done(req, st(NVME_SCT_GENERIC,
				      NVME_SC_SGL_INVALID_DATA));
		return;
	}
	if (!lid_supported(ctrlr, a.lid)) {
		nvmf_cmd_done(req, st(NVME_SCT_CMD_SPECIFIC,
				      NVME_SC_INVALID_LOG_PAGE));
		return;
	}
	if (a.lid == NVME_LOG_LID_DISCOVER)
		log_discovery(req, &a);
	else
		log_fixed(req, &a);
}
