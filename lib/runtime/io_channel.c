// SPDX-License-Identifier: MIT
/*
 * io_devices and their per-reactor io_channels.
 *
 * The device registry belongs to the runtime and is guarded by dev_lock
 * (management path: register, unregister, first get on a reactor, last
 * channel gone). Each reactor owns its channel list without a lock.
 *
 * A device is reference counted: the registry holds one reference, each
 * channel one, each for_each_channel walk one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime_priv.h"

struct io_device {
	struct io_device *next;
	struct nvmft_runtime *rt;
	void *key;
	nvmft_channel_create_fn create;
	nvmft_channel_destroy_fn destroy;
	size_t ctx_size;
	char name[32];
	_Atomic bool unregistering;
	bool in_registry;
	unsigned int refs;
	unsigned int nr_channels;
	nvmft_msg_fn done;
	void *done_arg;
	struct nvmft_thread *done_thread;
};

struct nvmft_io_channel {
	struct list_node link;		/* owner's channel list */
	struct list_node rel;		/* owner's release list */
	bool releasing;
	struct io_device *dev;
	struct nvmft_thread *t;
	unsigned int ref;
	max_align_t ctx[];
};

static struct io_device *dev_find_locked(struct nvmft_runtime *rt, void *key,
					 bool live_only)
{
	struct io_device *d, *retiring = NULL;

	for (d = rt->devices; d; d = d->next) {
		if (d->key != key)
			continue;
		if (!atomic_load_explicit(&d->unregistering, memory_order_relaxed))
			return d;
		retiring = d;
	}
	return live_only ? NULL : retiring;
}

static void dev_unlink_locked(struct nvmft_runtime *rt, struct io_device *dev)
{
	struct io_device **pp;

	for (pp = &rt->devices; *pp; pp = &(*pp)->next) {
		if (*pp == dev) {
			*pp = dev->next;
			break;
		}
	}
	dev->in_registry = false;
	dev->refs--;
}

/*
 * An unregistered device whose channels are all gone leaves the registry;
 * its done callback goes to the reactor that asked for the unregister.
 */
static bool dev_try_retire_locked(struct nvmft_runtime *rt, struct io_device *dev)
{
	if (!atomic_load_explicit(&dev->unregistering, memory_order_relaxed) ||
	    dev->nr_channels || !dev->in_registry)
		return false;
	dev_unlink_locked(rt, dev);
	return true;
}

/* What is needed to run done after dev_lock is released (and @dev freed). */
struct dev_done {
	struct nvmft_runtime *rt;
	nvmft_msg_fn fn;
	void *arg;
	struct nvmft_thread *thread;
};

static void dev_done_save(const struct io_device *dev, struct dev_done *dd)
{
	dd->rt = dev->rt;
	dd->fn = dev->done;
	dd->arg = dev->done_arg;
	dd->thread = dev->done_thread;
}

static void dev_send_done(const struct dev_done *dd)
{
	int rc;

	if (!dd->fn)
		return;
	rc = thread_send_msg_retry(dd->thread, dd->fn, dd->arg);
	if (rc == 0)
		return;
	/* The reactor is gone (unregister after stop): nobody else can run it. */
	RT_DEBUG(dd->rt, "io_device done runs on the caller (%d)", rc);
	dd->fn(dd->arg);
}

/* Drops one reference (and, with @channel, one channel) of @dev. */
static void dev_put(struct io_device *dev, bool channel)
{
	struct nvmft_runtime *rt = dev->rt;
	bool retired = false, last;
	struct dev_done dd;

	pthread_mutex_lock(&rt->dev_lock);
	if (channel) {
		dev->nr_channels--;
		retired = dev_try_retire_locked(rt, dev);
		dev_done_save(dev, &dd);
	}
	dev->refs--;
	last = dev->refs == 0;
	pthread_mutex_unlock(&rt->dev_lock);
	if (last)
		free(dev);
	if (retired)
		dev_send_done(&dd);
}

int nvmft_io_device_register(struct nvmft_runtime *rt, void *io_device,
			     nvmft_channel_create_fn create,
			     nvmft_channel_destroy_fn destroy,
			     size_t ctx_size, const char *name)
{
	struct io_device *dev;

	if (!rt || !io_device)
		return -EINVAL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->rt = rt;
	dev->key = io_device;
	dev->create = create;
	dev->destroy = destroy;
	dev->ctx_size = ctx_size;
	snprintf(dev->name, sizeof(dev->name), "%s", name ? name : "?");
	dev->refs = 1;
	dev->in_registry = true;

	pthread_mutex_lock(&rt->dev_lock);
	if (dev_find_locked(rt, io_device, true)) {
		pthread_mutex_unlock(&rt->dev_lock);
		free(dev);
		return -EEXIST;
	}
	dev->next = rt->devices;
	rt->devices = dev;
	pthread_mutex_unlock(&rt->dev_lock);
	return 0;
}

int nvmft_io_device_unregister(struct nvmft_runtime *rt, void *io_device,
			       nvmft_msg_fn done, void *arg)
{
	struct nvmft_thread *self = nvmft_get_thread();
	struct io_device *dev;
	bool retired, last = false;
	struct dev_done dd;

	if (!rt || !io_device)
		return -EINVAL;
	pthread_mutex_lock(&rt->dev_lock);
	dev = dev_find_locked(rt, io_device, true);
	if (!dev) {
		pthread_mutex_unlock(&rt->dev_lock);
		return -ENOENT;
	}
	dev->done = done;
	dev->done_arg = arg;
	dev->done_thread = (self && self->rt == rt) ? self : rt->threads[0];
	atomic_store_explicit(&dev->unregistering, true, memory_order_release);
	retired = dev_try_retire_locked(rt, dev);
	if (retired)
		last = dev->refs == 0;
	dev_done_save(dev, &dd);
	pthread_mutex_unlock(&rt->dev_lock);
	if (last)
		free(dev);
	if (retired)
		dev_send_done(&dd);
	return 0;
}

/* At nvmft_runtime_destroy(): devices nobody unregistered. */
void io_devices_free(struct nvmft_runtime *rt)
{
	struct io_device *d;

	while ((d = rt->devices)) {
		rt->devices = d->next;
		RT_DEBUG(rt, "io_device %s still registered at destroy", d->name);
		if (--d->refs == 0)
			free(d);
		else
			d->in_registry = false;
	}
}

struct nvmft_io_channel *nvmft_get_io_channel(void *io_device)
{
	struct nvmft_thread *t = nvmft_get_thread();
	struct nvmft_io_channel *ch;
	struct io_device *dev;
	struct list_node *n;

	if (!t || !io_device)
		return NULL;
	for (n = t->channels.next; n != &t->channels; n = n->next) {
		ch = container_of(n, struct nvmft_io_channel, link);
		if (ch->dev->key == io_device &&
		    !atomic_load_explicit(&ch->dev->unregistering,
					  memory_order_acquire)) {
			/* Also revives a channel whose release is pending. */
			ch->ref++;
			return ch;
		}
	}

	pthread_mutex_lock(&t->rt->dev_lock);
	dev = dev_find_locked(t->rt, io_device, true);
	if (dev) {
		dev->refs++;
		dev->nr_channels++;
	}
	pthread_mutex_unlock(&t->rt->dev_lock);
	if (!dev)
		return NULL;

	ch = calloc(1, sizeof(*ch) + dev->ctx_size);
	if (!ch)
		goto out_put_dev;
	ch->dev = dev;
	ch->t = t;
	ch->ref = 1;
	if (dev->create && dev->create(io_device, ch->ctx) != 0)
		goto out_free_ch;
	list_add_tail(&t->channels, &ch->link);
	t->nr_channels++;
	return ch;

out_free_ch:
	free(ch);
out_put_dev:
	dev_put(dev, true);
	return NULL;
}

void nvmft_put_io_channel(struct nvmft_io_channel *ch)
{
	if (!ch)
		return;
	ASSERT_ON_THREAD(ch->t);
	if (ch->ref == 0) {
		RT_ERR(ch->t->rt, "io_channel of %s: put without a reference",
		       ch->dev->name);
		return;
	}
	if (--ch->ref || ch->releasing)
		return;
	/*
	 * Destroy on a later turn: the caller may still be inside code that
	 * uses the context (a completion of this very channel, say).
	 */
	ch->releasing = true;
	list_add_tail(&ch->t->releases, &ch->rel);
}

void *nvmft_io_channel_get_ctx(struct nvmft_io_channel *ch)
{
	return ch ? (void *)ch->ctx : NULL;
}

struct nvmft_thread *nvmft_io_channel_get_thread(struct nvmft_io_channel *ch)
{
	return ch ? ch->t : NULL;
}

static void channel_destroy(struct nvmft_io_channel *ch)
{
	struct nvmft_thread *t = ch->t;
	struct io_device *dev = ch->dev;

	list_del(&ch->link);
	t->nr_channels--;
	if (dev->destroy)
		dev->destroy(dev->key, ch->ctx);
	free(ch);
	dev_put(dev, true);
}

unsigned int channels_run_releases(struct nvmft_thread *t)
{
	unsigned int n = 0;

	while (!list_empty(&t->releases)) {
		struct nvmft_io_channel *ch =
			container_of(t->releases.next, struct nvmft_io_channel, rel);

		list_del(&ch->rel);
		ch->releasing = false;
		if (ch->ref == 0)
			channel_destroy(ch);
		n++;
	}
	if (n)
		t->busy = true;
	return n;
}

/* At stop: channels still held are destroyed on their reactor. */
unsigned int channels_destroy_all(struct nvmft_thread *t)
{
	unsigned int n = 0;

	channels_run_releases(t);
	while (!list_empty(&t->channels)) {
		struct nvmft_io_channel *ch =
			container_of(t->channels.next, struct nvmft_io_channel, link);

		RT_INFO(t->rt, "reactor %u: io_channel of %s still held (%u refs), destroyed at stop",
			t->idx, ch->dev->name, ch->ref);
		if (ch->releasing) {
			list_del(&ch->rel);
			ch->releasing = false;
		}
		channel_destroy(ch);
		n++;
	}
	if (n)
		t->busy = true;
	return n;
}

void channels_log_left(struct nvmft_thread *t)
{
	struct list_node *n;

	for (n = t->channels.next; n != &t->channels; n = n->next) {
		struct nvmft_io_channel *ch =
			container_of(n, struct nvmft_io_channel, link);

		RT_WARN(t->rt, "reactor %u: io_channel of %s left (%u refs)",
			t->idx, ch->dev->name, ch->ref);
	}
}

struct channel_walk {
	struct nvmft_runtime *rt;
	struct io_device *dev;
	void (*fn)(struct nvmft_io_channel *ch, void *arg);
	void *arg;
	nvmft_msg_fn done;
	struct nvmft_thread *orig;
};

static void chan_walk_done_msg(void *p)
{
	struct channel_walk *w = p;

	if (w->done)
		w->done(w->arg);
	dev_put(w->dev, false);
	free(w);
}

static void chan_walk_step_msg(void *p);

static void chan_walk_next(struct channel_walk *w, unsigned int i)
{
	for (; i < w->rt->nr; i++) {
		int rc = thread_send_msg_retry(w->rt->threads[i],
					       chan_walk_step_msg, w);

		if (rc == 0)
			return;
		RT_WARN(w->rt, "for_each_channel %s: reactor %u skipped: %d",
			w->dev->name, i, rc);
	}
	if (thread_send_msg_retry(w->orig, chan_walk_done_msg, w)) {
		RT_ERR(w->rt, "for_each_channel %s: originator gone, done not run",
		       w->dev->name);
		dev_put(w->dev, false);
		free(w);
	}
}

static void chan_walk_step_msg(void *p)
{
	struct channel_walk *w = p;
	struct nvmft_thread *t = nvmft_get_thread();
	struct list_node *n;

	for (n = t->channels.next; n != &t->channels; n = n->next) {
		struct nvmft_io_channel *ch =
			container_of(n, struct nvmft_io_channel, link);

		/* A released channel is only waiting for its destruction. */
		if (ch->dev == w->dev && ch->ref > 0) {
			w->fn(ch, w->arg);
			break;
		}
	}
	chan_walk_next(w, t->idx + 1);
}

int nvmft_for_each_channel(struct nvmft_runtime *rt, void *io_device,
			   void (*fn)(struct nvmft_io_channel *ch, void *arg),
			   void *arg, nvmft_msg_fn done)
{
	struct nvmft_thread *self = nvmft_get_thread();
	struct channel_walk *w;
	struct io_device *dev;
	int rc;

	if (!rt || !io_device || !fn || !self || self->rt != rt)
		return -EINVAL;
	w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	pthread_mutex_lock(&rt->dev_lock);
	dev = dev_find_locked(rt, io_device, false);
	if (dev)
		dev->refs++;
	pthread_mutex_unlock(&rt->dev_lock);
	if (!dev) {
		free(w);
		return -ENOENT;
	}
	w->rt = rt;
	w->dev = dev;
	w->fn = fn;
	w->arg = arg;
	w->done = done;
	w->orig = self;
	rc = nvmft_thread_send_msg(rt->threads[0], chan_walk_step_msg, w);
	if (rc) {
		dev_put(dev, false);
		free(w);
	}
	return rc;
}
