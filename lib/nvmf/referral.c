// SPDX-License-Identifier: MIT
/*
 * Discovery referrals: other discovery services (or subsystems of other
 * targets) that this target's discovery log page points hosts to. The
 * list hangs off the tgt and belongs to the app reactor, like the
 * subsystems discovery.c walks to build the page; a change moves GENCTR
 * on and sends the Discovery Log Page Change notice to connected
 * discovery controllers (nvmf_ss_bump_discovery_genctr).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nvmf/nvmf_internal.h"

/*
 * @in as the referral's key: TCP, adrfam from the address, traddr and
 * trsvcid in canonical text (so "::0:1" and "::1", "04420" and "4420"
 * name the same referral), port 1..65535.
 */
static int canon_addr(const struct nvmft_listen_addr *in, struct nvmft_listen_addr *out)
{
	unsigned char bin[sizeof(struct in6_addr)];
	char text[INET6_ADDRSTRLEN], port[8];
	char *end;
	long v;
	int af;

	if (!memchr(in->trtype, '\0', sizeof(in->trtype)) ||
	    !memchr(in->adrfam, '\0', sizeof(in->adrfam)) ||
	    !memchr(in->traddr, '\0', sizeof(in->traddr)) ||
	    !memchr(in->trsvcid, '\0', sizeof(in->trsvcid)))
		return -EINVAL;
	if (in->trtype[0] && strcasecmp(in->trtype, "TCP"))
		return -EINVAL;
	v = strtol(in->trsvcid, &end, 10);
	if (!in->trsvcid[0] || *end || v < 1 || v > 65535)
		return -EINVAL;
	snprintf(port, sizeof(port), "%ld", v);
	af = inet_pton(AF_INET, in->traddr, bin) == 1 ? AF_INET : AF_INET6;
	if (af == AF_INET6 && inet_pton(AF_INET6, in->traddr, bin) != 1)
		return -EINVAL;
	if (!inet_ntop(af, bin, text, sizeof(text)))
		return -EINVAL;
	if (nvmft_listen_addr_init(out, text, port))
		return -EINVAL;
	if (in->adrfam[0] && strcasecmp(in->adrfam, out->adrfam))
		return -EINVAL;
	return 0;
}

static const char *canon_nqn(const char *subnqn)
{
	return subnqn && subnqn[0] ? subnqn : NVMFT_DISCOVERY_NQN;
}

static struct nvmf_referral *find(struct nvmft_tgt *tgt,
				  const struct nvmft_listen_addr *addr,
				  const char *subnqn)
{
	struct nvmf_referral *r;

	TAILQ_FOREACH(r, &tgt->referrals, link) {
		if (nvmf_listen_addr_eq(&r->ref.addr, addr) &&
		    !strcmp(r->ref.subnqn, subnqn))
			return r;
	}
	return NULL;
}

int nvmft_tgt_add_referral(struct nvmft_tgt *tgt, const struct nvmft_referral *ref)
{
	struct nvmft_listen_addr addr;
	struct nvmf_referral *r;
	const char *nqn;

	if (!tgt || !ref)
		return -EINVAL;
	ASSERT_ON_THREAD(tgt->app_thread);
	if (!memchr(ref->subnqn, '\0', sizeof(ref->subnqn)))
		return -EINVAL;
	nqn = canon_nqn(ref->subnqn);
	if (canon_addr(&ref->addr, &addr) || !nvmft_nqn_valid(nqn))
		return -EINVAL;
	r = find(tgt, &addr, nqn);
	if (r) {
		/* SPDK's scripts add the same referral again: not an error */
		if (r->ref.secure_channel == ref->secure_channel)
			return 0;
		r->ref.secure_channel = ref->secure_channel;
		nvmf_ss_bump_discovery_genctr(tgt);
		return 0;
	}
	if (tgt->nr_referrals >= NVMFT_MAX_REFERRALS)
		return -ENOSPC;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->ref.addr = addr;
	snprintf(r->ref.subnqn, sizeof(r->ref.subnqn), "%s", nqn);
	r->ref.secure_channel = ref->secure_channel;
	TAILQ_INSERT_TAIL(&tgt->referrals, r, link);
	tgt->nr_referrals++;
	nvmf_ss_bump_discovery_genctr(tgt);
	return 0;
}

int nvmft_tgt_remove_referral(struct nvmft_tgt *tgt,
			      const struct nvmft_listen_addr *addr,
			      const char *subnqn)
{
	struct nvmft_listen_addr key;
	struct nvmf_referral *r;

	if (!tgt || !addr)
		return -EINVAL;
	ASSERT_ON_THREAD(tgt->app_thread);
	if (canon_addr(addr, &key))
		return -ENOENT;		/* no referral has such an address */
	r = find(tgt, &key, canon_nqn(subnqn));
	if (!r)
		return -ENOENT;
	TAILQ_REMOVE(&tgt->referrals, r, link);
	tgt->nr_referrals--;
	free(r);
	nvmf_ss_bump_discovery_genctr(tgt);
	return 0;
}

int nvmft_tgt_foreach_referral(struct nvmft_tgt *tgt,
			       int (*fn)(const struct nvmft_referral *ref, void *arg),
			       void *arg)
{
	struct nvmf_referral *r;
	int rc;

	ASSERT_ON_THREAD(tgt->app_thread);
	TAILQ_FOREACH(r, &tgt->referrals, link) {
		rc = fn(&r->ref, arg);
		if (rc)
			return rc;
	}
	return 0;
}

void nvmf_tgt_referrals_free(struct nvmft_tgt *tgt)
{
	struct nvmf_referral *r;

	while ((r = TAILQ_FIRST(&tgt->referrals)) != NULL) {
		TAILQ_REMOVE(&tgt->referrals, r, link);
		free(r);
	}
	tgt->nr_referrals = 0;
}
