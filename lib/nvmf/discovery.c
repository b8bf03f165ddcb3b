/* SPDX-License-Identifier: MIT */
/*
 * Discovery log page (70h) contents.
 *
 * The page is a 1 KiB header followed by one 1 KiB record per reachable
 * (subsystem, port) pair: first the discovery subsystem itself on every
 * listening address of the target, then each started NVM subsystem that
 * admits the connected host, on each of its listeners. Port IDs are the
 * position of the address in the target's listener list, so every record
 * of one address carries the same PORTID. Referrals (referral.c) come
 * last, for every host, numbered on after the listeners.
 *
 * App reactor only: it walks tgt->subsystems, their hosts and listeners.
 * The host reads the page in windows and checks GENCTR to detect changes
 * between reads, so only the requested window is ever written.
 */
#include <endian.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "nvmf/nvmf_internal.h"

#define DISC_CNTLID_DYNAMIC	0xffff
#define DISC_ASQSZ_DEFAULT	32

_Static_assert(sizeof(struct nvmf_discovery_log) == 1024,
	       "discovery log header is 1 KiB");
_Static_assert(sizeof(struct nvmf_disc_log_entry) == 1024,
	       "discovery log entry is 1 KiB");

/* Writes the part of each piece that falls in [off, off + len). */
struct disc_window {
	uint8_t *buf;		/* NULL: only count */
	uint64_t off;
	uint64_t len;
	uint64_t pos;		/* page offset of the next piece */
	uint64_t numrec;
};

static bool window_wants(const struct disc_window *w, uint64_t n)
{
	return w->buf && w->pos < w->off + w->len && w->pos + n > w->off;
}

static void window_put(struct disc_window *w, const void *src, uint64_t n)
{
	uint64_t lo, hi;

	if (window_wants(w, n)) {
		lo = w->pos > w->off ? w->pos : w->off;
		hi = w->pos + n < w->off + w->len ? w->pos + n : w->off + w->len;
		memcpy(w->buf + (lo - w->off), (const uint8_t *)src + (lo - w->pos),
		       hi - lo);
	}
	w->pos += n;
}

static bool addr_equal(const struct nvmft_listen_addr *a,
		       const struct nvmft_listen_addr *b)
{
	return !strcasecmp(a->trtype, b->trtype) &&
	       !strcasecmp(a->adrfam, b->adrfam) &&
	       !strcmp(a->traddr, b->traddr) && !strcmp(a->trsvcid, b->trsvcid);
}

static bool addr_wildcard(const char *traddr)
{
	return traddr[0] == '\0' || !strcmp(traddr, "0.0.0.0") ||
	       !strcmp(traddr, "::") || !strcmp(traddr, "[::]");
}

static uint8_t adrfam_code(const char *adrfam)
{
	return !strcasecmp(adrfam, "IPv6") ? NVMF_ADDR_FAMILY_IP6 :
					      NVMF_ADDR_FAMILY_IP4;
}

/* The target listener serving @addr and its port ID, or NULL. */
static const struct nvmf_tgt_listener *
tgt_listener(struct nvmft_tgt *tgt, const struct nvmft_listen_addr *addr,
	     uint16_t *portid)
{
	const struct nvmf_tgt_listener *l;
	uint16_t i = 0;

	TAILQ_FOREACH(l, &tgt->listeners, link) {
		if (addr_equal(&l->addr, addr)) {
			*portid = i;
			return l;
		}
		i++;
	}
	return NULL;
}

static void entry_fill(struct nvmf_disc_log_entry *e,
		       const struct nvmf_tgt_listener *l, uint16_t portid,
		       const struct nvmft_subsystem *ss,
		       const struct nvmft_listen_addr *local)
{
	const struct nvmf_transport *t = l->transport;
	const char *traddr = l->addr.traddr;
	const char *adrfam = l->addr.adrfam;
	char port[NVMF_TRSVCID_SIZE];
	int p;

	memset(e, 0, sizeof(*e));
	e->trtype = t && t->ops ? t->ops->trtype : NVMF_TRTYPE_TCP;
	if (addr_wildcard(traddr) && local != NULL) {
		/* "any address" is no address for a host to connect to */
		traddr = local->traddr;
		adrfam = local->adrfam;
	}
	e->adrfam = adrfam_code(adrfam);
	e->treq = NVMF_TREQ_NOT_REQUIRED;	/* no secure channel needed */
	e->portid = htole16(portid);
	e->cntlid = htole16(DISC_CNTLID_DYNAMIC);
	e->asqsz = htole16(t ? t->opts.max_aq_depth : DISC_ASQSZ_DEFAULT);
	if (ss->discovery) {
		e->subtype = NVME_NQN_CURR;
		e->eflags = htole16(NVMF_DISC_EFLAGS_EPCSD);
	} else {
		e->subtype = NVME_NQN_NVME;
	}
	snprintf(port, sizeof(port), "%s", l->addr.trsvcid);
	/* an ephemeral port ("0") is reported as the one actually bound */
	if (!strcmp(port, "0") && t && t->ops && t->ops->listen_port) {
		p = t->ops->listen_port((struct nvmf_transport *)t, &l->addr);
		if (p > 0)
			snprintf(port, sizeof(port), "%d", p);
	}
	/* NUL padded (the entry was zeroed) */
	snprintf(e->trsvcid, sizeof(e->trsvcid), "%s", port);
	snprintf(e->subnqn, sizeof(e->subnqn), "%s", ss->nqn);
	snprintf(e->traddr, sizeof(e->traddr), "%s", traddr);
	e->tsas.tcp.sectype = NVMF_TCP_SECTYPE_NONE;
}

static void put_record(struct disc_window *w, const struct nvmf_tgt_listener *l,
		       uint16_t portid, const struct nvmft_subsystem *ss,
		       const struct nvmft_listen_addr *local)
{
	struct nvmf_disc_log_entry e;

	w->numrec++;
	if (!window_wants(w, sizeof(e))) {
		w->pos += sizeof(e);
		return;
	}
	entry_fill(&e, l, portid, ss, local);
	window_put(w, &e, sizeof(e));
}

static void referral_fill(struct nvmf_disc_log_entry *e,
			  const struct nvmft_referral *ref, uint16_t portid)
{
	memset(e, 0, sizeof(*e));
	e->trtype = NVMF_TRTYPE_TCP;
	e->adrfam = adrfam_code(ref->addr.adrfam);
	/* A discovery NQN refers to another discovery service; any other
	 * NQN names a subsystem reached there (SPDK does the same). */
	e->subtype = strcmp(ref->subnqn, NVMFT_DISCOVERY_NQN) ? NVME_NQN_NVME
							       : NVME_NQN_DISC;
	e->treq = ref->secure_channel ? NVMF_TREQ_REQUIRED : NVMF_TREQ_NOT_REQUIRED;
	e->portid = htole16(portid);
	e->cntlid = htole16(DISC_CNTLID_DYNAMIC);
	e->asqsz = htole16(DISC_ASQSZ_DEFAULT);
	snprintf(e->trsvcid, sizeof(e->trsvcid), "%s", ref->addr.trsvcid);
	snprintf(e->subnqn, sizeof(e->subnqn), "%s", ref->subnqn);
	snprintf(e->traddr, sizeof(e->traddr), "%s", ref->addr.traddr);
	e->tsas.tcp.sectype = NVMF_TCP_SECTYPE_NONE;
}

static void put_referral(struct disc_window *w, const struct nvmft_referral *ref,
			 uint16_t portid)
{
	struct nvmf_disc_log_entry e;

	w->numrec++;
	if (!window_wants(w, sizeof(e))) {
		w->pos += sizeof(e);
		return;
	}
	referral_fill(&e, ref, portid);
	window_put(w, &e, sizeof(e));
}

static bool ss_visible(struct nvmft_subsystem *ss, struct nvmf_ctrlr *ctrlr)
{
	if (ss->discovery)
		return false;
	if (ss->state != NVMF_SS_ACTIVE && ss->state != NVMF_SS_CHANGING)
		return false;	/* not started, or going away */
	return nvmft_subsystem_host_allowed(ss, ctrlr->hostnqn);
}

/* Every record, in page order. */
static void walk_records(struct nvmf_ctrlr *ctrlr,
			 const struct nvmft_listen_addr *local,
			 struct disc_window *w)
{
	struct nvmft_tgt *tgt = ctrlr->tgt;
	const struct nvmf_tgt_listener *l;
	const struct nvmf_listener_entry *le;
	const struct nvmf_referral *r;
	struct nvmft_subsystem *ss;
	uint16_t portid = 0, nr_listeners = 0;

	TAILQ_FOREACH(l, &tgt->listeners, link)
		nr_listeners++;
	if (tgt->discovery != NULL) {
		TAILQ_FOREACH(l, &tgt->listeners, link) {
			put_record(w, l, portid, tgt->discovery, local);
			portid++;
		}
	}
	TAILQ_FOREACH(ss, &tgt->subsystems, link) {
		if (!ss_visible(ss, ctrlr))
			continue;
		TAILQ_FOREACH(le, &ss->listeners, link) {
			l = tgt_listener(tgt, &le->addr, &portid);
			if (l != NULL)
				put_record(w, l, portid, ss, local);
		}
	}
	portid = nr_listeners;
	TAILQ_FOREACH(r, &tgt->referrals, link)
		put_referral(w, &r->ref, portid++);
}

uint64_t nvmf_discovery_log_build(struct nvmf_ctrlr *ctrlr,
				  const struct nvmft_listen_addr *local,
				  void *buf, uint64_t offset, uint32_t len)
{
	struct disc_window w = { .buf = NULL };
	struct nvmf_discovery_log hdr;
	uint64_t numrec;

	/* First pass counts: NUMREC sits in the header, before the records. */
	walk_records(ctrlr, local, &w);
	numrec = w.numrec;

	if (buf != NULL && len > 0)
		memset(buf, 0, len);
	w = (struct disc_window){ .buf = buf, .off = offset, .len = len };
	memset(&hdr, 0, sizeof(hdr));
	hdr.genctr = htole64(ctrlr->tgt->discovery_genctr);
	hdr.numrec = htole64(numrec);
	hdr.recfmt = 0;
	window_put(&w, &hdr, sizeof(hdr));
	walk_records(ctrlr, local, &w);
	return w.pos;
}

void nvmf_discovery_log_fill(struct nvmf_ctrlr *ctrlr, void *buf, uint64_t offset,
			     uint32_t len)
{
	nvmf_discovery_log_build(ctrlr, NULL, buf, offset, len);
}
