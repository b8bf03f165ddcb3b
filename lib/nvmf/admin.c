/* SPDX-License-Identifier: MIT */
/*
 * Admin command dispatch (qid 0). Runs on the controller's reactor (the
 * reactor of its admin qpair). Identify, Get Log Page and Get/Set Features
 * live in their own files; the small commands (Keep Alive, Async Event
 * Request, Abort) are handled here.
 *
 * Every path ends in exactly one nvmf_req_complete().
 */
#include <string.h>

#include "nvmf/nvmf_internal.h"

/*
 * A discovery controller implements only what a host needs to read the
 * discovery log and keep a persistent connection (NVMe-oF 1.1, discovery
 * controller command set); anything else is an unknown opcode for it.
 */
static bool discovery_allows(uint8_t opc)
{
	switch (opc) {
	case nvme_admin_identify:
	case nvme_admin_get_log_page:
	case nvme_admin_get_features:
	case nvme_admin_set_features:
	case nvme_admin_keep_alive:
	case nvme_admin_async_event:
		return true;
	default:
		return false;
	}
}

void nvmf_admin_data_out(struct nvmf_req *req, const void *src, size_t len)
{
	const uint8_t *p = src;
	size_t left = req->length;
	int i;

	/*
	 * Data buffers come from a shared pool: whatever of the host's buffer
	 * we do not fill is zeroed so that no stale data of another command
	 * reaches the host.
	 */
	for (i = 0; i < req->iovcnt && left > 0; i++) {
		size_t n = req->iov[i].iov_len < left ? req->iov[i].iov_len : left;
		size_t c = len < n ? len : n;

		if (c > 0) {
			memcpy(req->iov[i].iov_base, p, c);
			p += c;
			len -= c;
		}
		if (n > c)
			memset((uint8_t *)req->iov[i].iov_base + c, 0, n - c);
		left -= n;
	}
}

size_t nvmf_req_data_in(struct nvmf_req *req, size_t offset, void *dst,
			size_t len)
{
	uint8_t *p = dst;
	size_t done = 0;
	int i;

	if (offset >= req->length)
		return 0;
	if (len > req->length - offset)
		len = req->length - offset;
	for (i = 0; i < req->iovcnt && done < len; i++) {
		size_t n = req->iov[i].iov_len;
		size_t c;

		if (offset >= n) {
			offset -= n;
			continue;
		}
		c = n - offset;
		if (c > len - done)
			c = len - done;
		memcpy(p + done, (uint8_t *)req->iov[i].iov_base + offset, c);
		done += c;
		offset = 0;
	}
	return done;
}

static void admin_abort(struct nvmf_req *req)
{
	/*
	 * Commands run to completion on the reactor or sit in the backend,
	 * where they cannot be recalled; the spec lets a controller answer
	 * "not aborted" (dword 0 bit 0 set) for any command, which the host
	 * treats like a command that completed before the Abort arrived.
	 */
	req->rsp.result = 1;
	nvmf_cmd_done(req, NVME_SC_SUCCESS);
}

static void admin_async_event(struct nvmf_req *req)
{
	int s;

	/* The controller holds it until an event is delivered or the queue
	 * goes away, or refuses it (AER limit) and we complete it. */
	s = nvmf_ctrlr_aer_submit(req->qpair->ctrlr, req);
	if (s != 0)
		nvmf_cmd_done(req, (uint16_t)s);
}

void nvmf_admin_exec(struct nvmf_req *req)
{
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;
	uint8_t opc = req->cmd.opcode;

	if (ctrlr == NULL) {
		/* Only Connect may run on a queue without controller. */
		nvmf_cmd_done(req, NVMFT_STATUS(NVME_SCT_GENERIC,
						NVME_SC_CMD_SEQ_ERROR) |
				   NVMFT_STATUS_DNR);
		return;
	}
	if (req->cmd.flags & NVMFT_SQE_FUSE_MASK) {
		/* Fused operations exist only for Compare and Write. */
		nvmf_cmd_done(req, NVMFT_STATUS(NVME_SCT_GENERIC,
						NVME_SC_INVALID_FIELD) |
				   NVMFT_STATUS_DNR);
		return;
	}
	if (ctrlr->ss->discovery && !discovery_allows(opc)) {
		nvmf_cmd_done(req, NVMFT_STATUS(NVME_SCT_GENERIC,
						NVME_SC_INVALID_OPCODE) |
				   NVMFT_STATUS_DNR);
		return;
	}

	switch (opc) {
	case nvme_admin_identify:
		nvmf_identify_exec(req);
		break;
	case nvme_admin_get_log_page:
		nvmf_get_log_page_exec(req);
		break;
	case nvme_admin_get_features:
		nvmf_get_features_exec(req);
		break;
	case nvme_admin_set_features:
		nvmf_set_features_exec(req);
		break;
	case nvme_admin_keep_alive:
		nvmf_ctrlr_keep_alive(ctrlr);
		nvmf_cmd_done(req, NVME_SC_SUCCESS);
		break;
	case nvme_admin_async_event:
		admin_async_event(req);
		break;
	case nvme_admin_abort_cmd:
		admin_abort(req);
		break;
	default:
		nvmf_cmd_done(req, NVMFT_STATUS(NVME_SCT_GENERIC,
						NVME_SC_INVALID_OPCODE) |
				   NVMFT_STATUS_DNR);
		break;
	}
}
