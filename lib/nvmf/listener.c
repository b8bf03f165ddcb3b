// SPDX-License-Identifier: MIT
/*
 * Transport listeners of a tgt, shared by the subsystems that list the
 * same address (reference counted): the transport listens on the first
 * reference and stops on the last. App reactor only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nvmf/nvmf_internal.h"

static int parse_port(const char *s)
{
	char *end;
	long v;

	if (!s || !*s)
		return -EINVAL;
	v = strtol(s, &end, 10);
	if (*end || v < 0 || v > 65535)
		return -EINVAL;
	return (int)v;
}

int nvmft_listen_addr_init(struct nvmft_listen_addr *a, const char *traddr,
			   const char *trsvcid)
{
	struct in6_addr a6;
	struct in_addr a4;
	const char *fam;

	if (!a || !traddr || !trsvcid)
		return -EINVAL;
	if (inet_pton(AF_INET, traddr, &a4) == 1)
		fam = "IPv4";
	else if (inet_pton(AF_INET6, traddr, &a6) == 1)
		fam = "IPv6";
	else
		return -EINVAL;
	if (parse_port(trsvcid) < 0 || strlen(traddr) >= sizeof(a->traddr) ||
	    strlen(trsvcid) >= sizeof(a->trsvcid))
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	snprintf(a->trtype, sizeof(a->trtype), "TCP");
	snprintf(a->adrfam, sizeof(a->adrfam), "%s", fam);
	snprintf(a->traddr, sizeof(a->traddr), "%s", traddr);
	snprintf(a->trsvcid, sizeof(a->trsvcid), "%s", trsvcid);
	return 0;
}

bool nvmf_listen_addr_eq(const struct nvmft_listen_addr *a,
			 const struct nvmft_listen_addr *b)
{
	return !strcasecmp(a->trtype, b->trtype) && !strcasecmp(a->adrfam, b->adrfam) &&
	       !strcmp(a->traddr, b->traddr) && !strcmp(a->trsvcid, b->trsvcid);
}

static int addr_check(const struct nvmft_listen_addr *a)
{
	unsigned char buf[sizeof(struct in6_addr)];
	int af;

	if (!memchr(a->traddr, '\0', sizeof(a->traddr)) ||
	    !memchr(a->trsvcid, '\0', sizeof(a->trsvcid)))
		return -EINVAL;
	if (!strcasecmp(a->adrfam, "IPv4"))
		af = AF_INET;
	else if (!strcasecmp(a->adrfam, "IPv6"))
		af = AF_INET6;
	else
		return -EINVAL;
	if (inet_pton(af, a->traddr, buf) != 1 || parse_port(a->trsvcid) < 0)
		return -EINVAL;
	return 0;
}

static struct nvmf_tgt_listener *listener_find(struct nvmft_tgt *tgt,
					       const struct nvmft_listen_addr *addr)
{
	struct nvmf_tgt_listener *l;

	TAILQ_FOREACH(l, &tgt->listeners, link) {
		if (nvmf_listen_addr_eq(&l->addr, addr))
			return l;
	}
	return NULL;
}

struct nvmf_tgt_listener *nvmf_tgt_listener_find(struct nvmft_tgt *tgt,
						 const struct nvmft_listen_addr *addr)
{
	return addr ? listener_find(tgt, addr) : NULL;
}

struct nvmf_tgt_listener *nvmf_tgt_listener_by_id(struct nvmft_tgt *tgt,
						  uint64_t id)
{
	struct nvmf_tgt_listener *l;

	if (!id)
		return NULL;
	TAILQ_FOREACH(l, &tgt->listeners, link) {
		if (l->id == id)
			return l;
	}
	return NULL;
}

void nvmft_listen_opts_init(struct nvmft_listen_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
}

/* A later add sets a new limit only when it names one (see nvmf.h). */
static void listener_apply_opts(struct nvmft_tgt *tgt, struct nvmf_tgt_listener *l,
				const struct nvmft_listen_opts *opts)
{
	if (!opts || !opts->max_connections ||
	    opts->max_connections == l->max_connections)
		return;
	if (l->max_connections)
		RT_NOTICE(tgt->rt, "%s: listener %s:%s: max_connections %u -> %u",
			  tgt->name, l->addr.traddr, l->addr.trsvcid,
			  l->max_connections, opts->max_connections);
	l->max_connections = opts->max_connections;
}

int nvmf_tgt_listener_get(struct nvmft_tgt *tgt, const struct nvmft_listen_addr *addr,
			  bool explicit, const struct nvmft_listen_opts *opts,
			  struct nvmf_tgt_listener **out)
{
	struct nvmf_transport *t;
	struct nvmf_tgt_listener *l;
	int rc;

	ASSERT_ON_THREAD(tgt->app_thread);
	if (!addr || tgt->destroying)
		return -EINVAL;
	if (opts && opts->max_connections > NVMFT_MAX_CONNECTIONS_LIMIT)
		return -EINVAL;
	l = listener_find(tgt, addr);
	if (l) {
		if (explicit) {
			if (l->tgt_listen)
				return -EEXIST;
			l->tgt_listen = true;
		}
		l->refs++;
		listener_apply_opts(tgt, l, opts);
		*out = l;
		return 0;
	}
	rc = addr_check(addr);
	if (rc)
		return rc;
	if (!memchr(addr->trtype, '\0', sizeof(addr->trtype)))
		return -EINVAL;
	t = nvmf_tgt_get_transport(tgt, addr->trtype);
	if (!t)
		return -ENOENT;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	rc = t->ops->listen(t, addr);
	if (rc) {
		RT_WARN(tgt->rt, "%s: listen on %s %s:%s failed: %d", tgt->name,
			addr->trtype, addr->traddr, addr->trsvcid, rc);
		free(l);
		return rc;
	}
	l->addr = *addr;
	l->transport = t;
	l->refs = 1;
	l->tgt_listen = explicit;
	l->id = ++tgt->next_listener_id;
	listener_apply_opts(tgt, l, opts);
	TAILQ_INSERT_TAIL(&tgt->listeners, l, link);
	*out = l;
	return 0;
}

static void listener_free(struct nvmft_tgt *tgt, struct nvmf_tgt_listener *l)
{
	TAILQ_REMOVE(&tgt->listeners, l, link);
	l->transport->ops->stop_listen(l->transport, &l->addr);
	free(l);
}

void nvmf_tgt_listener_put(struct nvmft_tgt *tgt, struct nvmf_tgt_listener *l,
			   bool explicit)
{
	ASSERT_ON_THREAD(tgt->app_thread);

	if (!l)
		return;
	if (explicit)
		l->tgt_listen = false;
	if (--l->refs == 0)
		listener_free(tgt, l);
}

void nvmf_tgt_listeners_stop_all(struct nvmft_tgt *tgt)
{
	struct nvmf_tgt_listener *l;

	while ((l = TAILQ_FIRST(&tgt->listeners)))
		listener_free(tgt, l);
}

int nvmft_tgt_listen(struct nvmft_tgt *tgt, const struct nvmft_listen_addr *addr)
{
	return nvmft_tgt_listen_ext(tgt, addr, NULL);
}

int nvmft_tgt_listen_ext(struct nvmft_tgt *tgt, const struct nvmft_listen_addr *addr,
			 const struct nvmft_listen_opts *opts)
{
	struct nvmf_tgt_listener *l;
	int rc;

	rc = nvmf_tgt_listener_get(tgt, addr, true, opts, &l);
	if (rc == 0)
		nvmf_ss_bump_discovery_genctr(tgt);
	return rc;
}

int nvmft_tgt_stop_listen(struct nvmft_tgt *tgt, const struct nvmft_listen_addr *addr)
{
	struct nvmf_tgt_listener *l;

	if (!addr)
		return -EINVAL;
	l = listener_find(tgt, addr);
	if (!l || !l->tgt_listen)
		return -ENOENT;
	nvmf_tgt_listener_put(tgt, l, true);
	nvmf_ss_bump_discovery_genctr(tgt);
	return 0;
}

int nvmft_tgt_listen_port(struct nvmft_tgt *tgt, const struct nvmft_listen_addr *addr)
{
	struct nvmf_tgt_listener *l;

	if (!addr)
		return -EINVAL;
	l = listener_find(tgt, addr);
	if (!l)
		return -ENOENT;
	if (!l->transport->ops->listen_port)
		return parse_port(l->addr.trsvcid);
	return l->transport->ops->listen_port(l->transport, &l->addr);
}

int nvmft_tgt_get_listener_info(struct nvmft_tgt *tgt,
				const struct nvmft_listen_addr *addr,
				struct nvmft_listener_info *out)
{
	struct nvmf_tgt_listener *l;

	ASSERT_ON_THREAD(tgt->app_thread);
	l = nvmf_tgt_listener_find(tgt, addr);
	if (!l)
		return -ENOENT;
	out->max_connections = l->max_connections;
	out->nr_connections = l->nr_connections;
	out->refused_connections = l->refused;
	return 0;
}
