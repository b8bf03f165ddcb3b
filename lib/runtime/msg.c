// SPDX-License-Identifier: MIT
/*
 * Reactor inboxes (bounded lock-free MPSC rings), message sending with the
 * sleep/wake handshake, exit handlers, and nvmft_thread_for_each().
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "runtime/runtime_priv.h"

int inbox_init(struct inbox *ib, unsigned int size)
{
	unsigned int i;

	ib->slots = calloc(size, sizeof(*ib->slots));
	if (!ib->slots)
		return -ENOMEM;
	for (i = 0; i < size; i++)
		atomic_init(&ib->slots[i].seq, i);
	ib->mask = size - 1;
	ib->head = 0;
	atomic_init(&ib->tail, 0);
	return 0;
}

void inbox_fini(struct inbox *ib)
{
	free(ib->slots);
	ib->slots = NULL;
}

static int inbox_push(struct inbox *ib, nvmft_msg_fn fn, void *arg)
{
	uint64_t pos = atomic_load_explicit(&ib->tail, memory_order_relaxed);
	struct msg_slot *s;

	for (;;) {
		uint64_t seq;
		int64_t diff;

		if (pos & INBOX_CLOSED)
			return -ESHUTDOWN;
		s = &ib->slots[pos & ib->mask];
		seq = atomic_load_explicit(&s->seq, memory_order_acquire);
		diff = (int64_t)(seq - pos);
		if (diff == 0) {
			/* A concurrent close makes this fail: nothing gets in after it. */
			if (atomic_compare_exchange_weak_explicit(&ib->tail, &pos,
								  pos + 1,
								  memory_order_relaxed,
								  memory_order_relaxed))
				break;
		} else if (diff < 0) {
			/* The consumer has not freed this slot yet: full. */
			return -ENOMEM;
		} else {
			pos = atomic_load_explicit(&ib->tail, memory_order_relaxed);
		}
	}
	s->fn = fn;
	s->arg = arg;
	atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
	return 0;
}

/* Consumer only. False when the next slot is empty or not published yet. */
static bool inbox_pop(struct inbox *ib, nvmft_msg_fn *fn, void **arg)
{
	struct msg_slot *s = &ib->slots[ib->head & ib->mask];

	if (atomic_load_explicit(&s->seq, memory_order_acquire) != ib->head + 1)
		return false;
	*fn = s->fn;
	*arg = s->arg;
	atomic_store_explicit(&s->seq, ib->head + ib->mask + 1,
			      memory_order_release);
	ib->head++;
	return true;
}

bool inbox_pending(struct inbox *ib)
{
	struct msg_slot *s = &ib->slots[ib->head & ib->mask];

	return atomic_load_explicit(&s->seq, memory_order_acquire) == ib->head + 1;
}

/* Reserved slots, published or not (consumer side; for diagnostics). */
uint64_t inbox_count(struct inbox *ib)
{
	uint64_t tail = atomic_load_explicit(&ib->tail, memory_order_acquire);

	return (tail & ~INBOX_CLOSED) - ib->head;
}

void inbox_close(struct inbox *ib)
{
	atomic_fetch_or_explicit(&ib->tail, INBOX_CLOSED, memory_order_acq_rel);
}

static void run_msg(struct nvmft_thread *t, nvmft_msg_fn fn, void *arg)
{
	/* Counted before it runs so a message reading the stats sees itself. */
	stat_add(&t->stats.msgs, 1);
	t->busy = true;
	fn(arg);
}

unsigned int inbox_drain(struct nvmft_thread *t, unsigned int budget)
{
	unsigned int n = 0;
	nvmft_msg_fn fn;
	void *arg;

	while (n < budget && inbox_pop(&t->inbox, &fn, &arg)) {
		run_msg(t, fn, arg);
		n++;
	}
	return n;
}

/*
 * Run every message reserved before position @upto, waiting for producers
 * that reserved a slot but have not filled it yet (a few instructions,
 * unless the producer was preempted there).
 */
unsigned int inbox_drain_upto(struct nvmft_thread *t, uint64_t upto)
{
	unsigned int n = 0;
	nvmft_msg_fn fn;
	void *arg;

	while (t->inbox.head < upto) {
		if (!inbox_pop(&t->inbox, &fn, &arg)) {
			sched_yield();
			continue;
		}
		run_msg(t, fn, arg);
		n++;
	}
	return n;
}

/* After inbox_close(): the tail is frozen, run what got in. */
unsigned int inbox_drain_closed(struct nvmft_thread *t)
{
	uint64_t tail = atomic_load_explicit(&t->inbox.tail, memory_order_acquire);

	return inbox_drain_upto(t, tail & ~INBOX_CLOSED);
}

int nvmft_thread_send_msg(struct nvmft_thread *t, nvmft_msg_fn fn, void *arg)
{
	int rc;

	if (!t || !fn)
		return -EINVAL;
	rc = inbox_push(&t->inbox, fn, arg);
	if (rc)
		return rc;
	/*
	 * Pairs with the fence in the reactor's pre-sleep check: either the
	 * reactor sees this message before sleeping, or this sees its flag.
	 * The exchange lets only one sender pay for the eventfd write.
	 */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&t->sleeping, memory_order_relaxed) &&
	    atomic_exchange_explicit(&t->sleeping, 0, memory_order_acq_rel))
		engine_wake(t);
	return 0;
}

/*
 * Library-internal sends that must not get lost on a full inbox (walks,
 * done callbacks): on a reactor, a -ENOMEM is queued on the sender and
 * retried on its next loop turns, keeping the sender's order.
 */
int thread_send_msg_retry(struct nvmft_thread *to, nvmft_msg_fn fn, void *arg)
{
	struct nvmft_thread *self = nvmft_get_thread();
	struct deferred_msg *d;
	int rc;

	if (!self || !self->deferred_head) {
		rc = nvmft_thread_send_msg(to, fn, arg);
		if (rc != -ENOMEM || !self)
			return rc;
	}
	d = malloc(sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->next = NULL;
	d->to = to;
	d->fn = fn;
	d->arg = arg;
	*self->deferred_tail = d;
	self->deferred_tail = &d->next;
	return 0;
}

unsigned int deferred_flush(struct nvmft_thread *t)
{
	unsigned int n = 0;
	struct deferred_msg *d;

	while ((d = t->deferred_head)) {
		int rc = nvmft_thread_send_msg(d->to, d->fn, d->arg);

		if (rc == -ENOMEM)
			break;
		if (rc)
			RT_ERR(t->rt, "reactor %u: message to reactor %u lost: %d",
			       t->idx, d->to->idx, rc);
		t->deferred_head = d->next;
		if (!t->deferred_head)
			t->deferred_tail = &t->deferred_head;
		free(d);
		n++;
	}
	return n;
}

void deferred_drop(struct nvmft_thread *t)
{
	struct deferred_msg *d;
	unsigned int n = 0;

	while ((d = t->deferred_head)) {
		t->deferred_head = d->next;
		free(d);
		n++;
	}
	t->deferred_tail = &t->deferred_head;
	if (n)
		RT_ERR(t->rt, "reactor %u: %u undelivered messages dropped at exit",
		       t->idx, n);
}

int nvmft_thread_at_exit(nvmft_msg_fn fn, void *arg)
{
	struct nvmft_thread *t = nvmft_get_thread();
	struct exit_handler *h;

	if (!t || !fn)
		return -EINVAL;
	h = malloc(sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->fn = fn;
	h->arg = arg;
	h->next = t->exit_handlers;
	t->exit_handlers = h;
	return 0;
}

/* LIFO; handlers registered by a handler run too. */
unsigned int exit_handlers_run(struct nvmft_thread *t)
{
	struct exit_handler *h;
	unsigned int n = 0;

	while ((h = t->exit_handlers)) {
		t->exit_handlers = h->next;
		h->fn(h->arg);
		free(h);
		n++;
	}
	if (n)
		t->busy = true;
	return n;
}

struct thread_walk {
	struct nvmft_runtime *rt;
	nvmft_msg_fn fn;
	void *arg;
	nvmft_msg_fn done;
	struct nvmft_thread *orig;
};

static void walk_done_msg(void *p)
{
	struct thread_walk *w = p;

	if (w->done)
		w->done(w->arg);
	free(w);
}

static void walk_step_msg(void *p);

static void walk_next(struct thread_walk *w, unsigned int i)
{
	for (; i < w->rt->nr; i++) {
		int rc = thread_send_msg_retry(w->rt->threads[i], walk_step_msg, w);

		if (rc == 0)
			return;
		RT_WARN(w->rt, "for_each: reactor %u skipped: %d", i, rc);
	}
	if (thread_send_msg_retry(w->orig, walk_done_msg, w)) {
		RT_ERR(w->rt, "for_each: originator reactor %u gone, done not run",
		       w->orig->idx);
		free(w);
	}
}

static void walk_step_msg(void *p)
{
	struct thread_walk *w = p;
	struct nvmft_thread *t = nvmft_get_thread();

	w->fn(w->arg);
	walk_next(w, t->idx + 1);
}

int nvmft_thread_for_each(struct nvmft_runtime *rt, nvmft_msg_fn fn,
			  void *arg, nvmft_msg_fn done)
{
	struct nvmft_thread *self = nvmft_get_thread();
	struct thread_walk *w;
	int rc;

	if (!rt || !fn || !self || self->rt != rt)
		return -EINVAL;
	w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->rt = rt;
	w->fn = fn;
	w->arg = arg;
	w->done = done;
	w->orig = self;
	rc = nvmft_thread_send_msg(rt->threads[0], walk_step_msg, w);
	if (rc)
		free(w);
	return rc;
}
