// SPDX-License-Identifier: MIT
/*
 * Pollers: active ones run every loop turn, timed ones when their deadline
 * passed (a list sorted by deadline; reactors have few timers).
 *
 * A poller may unregister itself or any other poller while the reactor
 * walks its lists: unregistered pollers are unlinked at once but freed at
 * the end of the loop turn, so a walker holding one as "next" can still
 * step over it.
 */
#include <errno.h>
#include <stdlib.h>

#include "runtime/runtime_priv.h"

#define POLLER_MAX_PERIOD_US	UINT64_C(1000000000000)

enum poller_state {
	POLLER_ACTIVE,
	POLLER_PAUSED,
	POLLER_UNREGISTERED,
};

struct nvmft_poller {
	struct list_node link;		/* active or timed list */
	struct list_node all;		/* every live poller of the reactor */
	struct nvmft_poller *dead_next;
	struct nvmft_thread *t;
	nvmft_poller_fn fn;
	void *arg;
	uint64_t period_us;
	uint64_t next_us;
	enum poller_state state;
	bool linked;
};

void pollers_init(struct nvmft_thread *t)
{
	list_init(&t->active_pollers);
	list_init(&t->timed_pollers);
	list_init(&t->all_pollers);
	t->dead_pollers = NULL;
}

static void timed_insert(struct nvmft_thread *t, struct nvmft_poller *p)
{
	struct list_node *n;

	for (n = t->timed_pollers.next; n != &t->timed_pollers; n = n->next) {
		struct nvmft_poller *q = container_of(n, struct nvmft_poller, link);

		if (q->next_us > p->next_us)
			break;
	}
	list_add_before(n, &p->link);
	p->linked = true;
}

struct nvmft_poller *nvmft_poller_register(nvmft_poller_fn fn, void *arg,
					   uint64_t period_us)
{
	struct nvmft_thread *t = nvmft_get_thread();
	struct nvmft_poller *p;

	if (!t || !fn)
		return NULL;
	/* Keeps deadline arithmetic clear of overflow; 11 days is "never". */
	if (period_us > POLLER_MAX_PERIOD_US)
		period_us = POLLER_MAX_PERIOD_US;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->t = t;
	p->fn = fn;
	p->arg = arg;
	p->period_us = period_us;
	p->state = POLLER_ACTIVE;
	if (period_us) {
		p->next_us = nvmft_now_us() + period_us;
		timed_insert(t, p);
	} else {
		list_add_tail(&t->active_pollers, &p->link);
		p->linked = true;
	}
	list_add_tail(&t->all_pollers, &p->all);
	t->nr_pollers++;
	return p;
}

void nvmft_poller_unregister(struct nvmft_poller **pp)
{
	struct nvmft_poller *p;

	if (!pp || !*pp)
		return;
	p = *pp;
	*pp = NULL;
	ASSERT_ON_THREAD(p->t);
	if (p->state == POLLER_UNREGISTERED)
		return;
	p->state = POLLER_UNREGISTERED;
	if (p->linked) {
		list_del(&p->link);
		p->linked = false;
	}
	list_del(&p->all);
	p->dead_next = p->t->dead_pollers;
	p->t->dead_pollers = p;
	p->t->nr_pollers--;
}

void nvmft_poller_pause(struct nvmft_poller *p)
{
	if (!p)
		return;
	ASSERT_ON_THREAD(p->t);
	if (p->state != POLLER_ACTIVE)
		return;
	p->state = POLLER_PAUSED;
	/* Active pollers stay linked: the walk skips them (see file comment). */
	if (p->period_us && p->linked) {
		list_del(&p->link);
		p->linked = false;
	}
}

void nvmft_poller_resume(struct nvmft_poller *p)
{
	if (!p)
		return;
	ASSERT_ON_THREAD(p->t);
	if (p->state != POLLER_PAUSED)
		return;
	p->state = POLLER_ACTIVE;
	if (p->period_us && !p->linked) {
		p->next_us = nvmft_now_us() + p->period_us;
		timed_insert(p->t, p);
	}
}

unsigned int pollers_run_timed(struct nvmft_thread *t, uint64_t now)
{
	unsigned int n = 0;

	while (!list_empty(&t->timed_pollers)) {
		struct nvmft_poller *p = container_of(t->timed_pollers.next,
						      struct nvmft_poller, link);

		if (p->next_us > now)
			break;
		/* Out of the list while it runs: it may pause or drop itself. */
		list_del(&p->link);
		p->linked = false;
		if (p->fn(p->arg) > 0)
			t->busy = true;
		n++;
		if (p->state != POLLER_ACTIVE || p->linked)
			continue;
		/* Keep the cadence, but do not burst to catch up after a stall. */
		p->next_us += p->period_us;
		if (p->next_us <= now)
			p->next_us = now + p->period_us;
		timed_insert(t, p);
	}
	return n;
}

unsigned int pollers_run_active(struct nvmft_thread *t)
{
	struct list_node *n, *next;
	unsigned int cnt = 0;

	for (n = t->active_pollers.next; n != &t->active_pollers; n = next) {
		struct nvmft_poller *p = container_of(n, struct nvmft_poller, link);

		next = n->next;
		if (p->state != POLLER_ACTIVE)
			continue;
		if (p->fn(p->arg) > 0)
			t->busy = true;
		cnt++;
	}
	return cnt;
}

/* Microseconds until the next timed poller, 0 if due, -1 if none. */
int64_t pollers_next_timeout(struct nvmft_thread *t, uint64_t now)
{
	struct nvmft_poller *p;

	if (list_empty(&t->timed_pollers))
		return -1;
	p = container_of(t->timed_pollers.next, struct nvmft_poller, link);
	return p->next_us > now ? (int64_t)(p->next_us - now) : 0;
}

void pollers_free_dead(struct nvmft_thread *t)
{
	struct nvmft_poller *p;

	while ((p = t->dead_pollers)) {
		t->dead_pollers = p->dead_next;
		free(p);
	}
}

/* At reactor exit: what its owners did not unregister. */
void pollers_free_all(struct nvmft_thread *t)
{
	pollers_free_dead(t);
	while (!list_empty(&t->all_pollers)) {
		struct nvmft_poller *p = container_of(t->all_pollers.next,
						      struct nvmft_poller, all);

		list_del(&p->all);
		free(p);
	}
	list_init(&t->active_pollers);
	list_init(&t->timed_pollers);
	t->nr_pollers = 0;
}
