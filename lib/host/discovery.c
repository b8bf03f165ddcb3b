/* SPDX-License-Identifier: MIT */
/*
 * Discovery: read the discovery log page (LID 70h) consistently and decode
 * its entries.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <nvme/types.h>
#include "host_internal.h"

#define DISC_HDR_LEN	1024
#define DISC_ENTRY_LEN	1024
#define DISC_RETRIES	10
/* A log longer than this is not something a test or perf needs. */
#define DISC_MAX_RECORDS 4096

_Static_assert(sizeof(struct nvmf_disc_log_entry) == DISC_ENTRY_LEN, "entry size");
_Static_assert(sizeof(struct nvmf_discovery_log) == DISC_HDR_LEN, "header size");

/* Fixed-size field, space or NUL padded → C string. */
static void field_str(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t n = srclen < dstlen - 1 ? srclen : dstlen - 1;

	memcpy(dst, src, n);
	dst[n] = '\0';
	n = strlen(dst);
	while (n && dst[n - 1] == ' ')
		dst[--n] = '\0';
}

static void decode_entry(struct nvmft_host_disc_entry *d,
			 const struct nvmf_disc_log_entry *e)
{
	d->trtype = e->trtype;
	d->adrfam = e->adrfam;
	d->subtype = e->subtype;
	d->treq = e->treq;
	d->portid = le16toh(e->portid);
	d->cntlid = le16toh(e->cntlid);
	d->asqsz = le16toh(e->asqsz);
	d->eflags = le16toh(e->eflags);
	field_str(d->traddr, sizeof(d->traddr), e->traddr, sizeof(e->traddr));
	field_str(d->trsvcid, sizeof(d->trsvcid), e->trsvcid, sizeof(e->trsvcid));
	field_str(d->subnqn, sizeof(d->subnqn), e->subnqn, sizeof(e->subnqn));
}

static int read_header(struct nvmft_host_ctrlr *c, struct nvmf_discovery_log *hdr)
{
	return nvmft_host_get_log_page(c, NVME_LOG_LID_DISCOVER, 0, 0, hdr, DISC_HDR_LEN);
}

int nvmft_host_get_discovery_log(struct nvmft_host_ctrlr *c,
				 struct nvmft_host_disc_entry **entries,
				 unsigned int *nr, uint64_t *genctr)
{
	struct nvmf_discovery_log *hdr, *log = NULL;
	int rc;

	hdr = malloc(DISC_HDR_LEN);
	if (!hdr)
		return -ENOMEM;
	rc = read_header(c, hdr);
	for (int attempt = 0; !rc; attempt++) {
		uint64_t gen = le64toh(hdr->genctr);
		uint64_t numrec = le64toh(hdr->numrec);

		if (attempt == DISC_RETRIES) {
			host_log(c, LOG_ERR, "discovery log kept changing");
			rc = -EAGAIN;
			break;
		}
		if (numrec > DISC_MAX_RECORDS) {
			rc = -E2BIG;
			break;
		}
		free(log);
		log = malloc(DISC_HDR_LEN + numrec * DISC_ENTRY_LEN);
		if (!log) {
			rc = -ENOMEM;
			break;
		}
		rc = nvmft_host_get_log_page(c, NVME_LOG_LID_DISCOVER, 0, 0, log,
					     DISC_HDR_LEN + numrec * DISC_ENTRY_LEN);
		if (rc)
			break;
		/* Consistent when nothing moved while we read the entries. */
		rc = read_header(c, hdr);
		if (rc)
			break;
		if (le64toh(hdr->genctr) != gen || le64toh(log->genctr) != gen ||
		    le64toh(hdr->numrec) != numrec)
			continue;

		struct nvmft_host_disc_entry *out = calloc(numrec ? numrec : 1, sizeof(*out));

		if (!out) {
			rc = -ENOMEM;
			break;
		}
		for (uint64_t i = 0; i < numrec; i++)
			decode_entry(&out[i], &log->entries[i]);
		*entries = out;
		*nr = (unsigned int)numrec;
		if (genctr)
			*genctr = gen;
		break;
	}
	free(log);
	free(hdr);
	return rc;
}

int nvmft_host_discover(const struct nvmft_host_opts *opts,
			struct nvmft_host_disc_entry **entries, unsigned int *nr,
			uint64_t *genctr)
{
	struct nvmft_host_opts o = *opts;
	struct nvmft_host_ctrlr *c;
	int rc;

	if (!o.subnqn)
		o.subnqn = NVMFT_HOST_DISC_NQN;
	o.num_io_queues = 0;
	o.kato_ms = 0;
	rc = nvmft_host_ctrlr_connect(&o, &c);
	if (rc)
		return rc;
	rc = nvmft_host_get_discovery_log(c, entries, nr, genctr);
	nvmft_host_ctrlr_disconnect(c);
	return rc;
}

void nvmft_host_disc_free(struct nvmft_host_disc_entry *entries)
{
	free(entries);
}
