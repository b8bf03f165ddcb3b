// SPDX-License-Identifier: MIT
/*
 * Block range locks (for fused Compare and Write).
 *
 * A lock is published in the bdev's list (under bdev->lock_mtx: lock and
 * unlock run on any reactor, at the rate of CAW commands, never per plain
 * I/O), then installed on every channel by a for_each_channel walk from the
 * locker's reactor. On each channel the installed node
 *  - holds back new writes overlapping the range, except those carrying
 *    the lock's owner token in nvmft_bdev_io.lock_owner (the CAW's own
 *    write, which is submitted on the locking channel: a channel-level
 *    exemption would let other queues of the same reactor through);
 *  - counts the overlapping writes already in flight (sequence number at
 *    or below the node's), and reports when they have drained.
 * The lock is granted (cb on the locker's reactor) once the walk is over
 * and every channel has drained: lock->pending counts the walk plus each
 * channel still draining.
 *
 * Overlapping locks are granted one at a time, in request order: a later
 * one waits in the bdev's waiting list until the earlier is unlocked (two
 * granted overlapping locks would each hold back the other's write).
 *
 * Channels the walk cannot see (created after it passed, or revived from
 * a pending release) catch up through lock_gen: a write that finds the
 * bdev's generation changed syncs the channel's nodes from the list.
 */
#include <errno.h>
#include <stdlib.h>

#include "bdev/bdev_internal.h"
#include "runtime/engine.h"

static void lock_put(struct range_lock *lock)
{
	if (atomic_fetch_sub_explicit(&lock->refs, 1, memory_order_acq_rel) == 1)
		free(lock);
}

/*
 * On the locker's reactor, which is also the only one that unpublishes the
 * lock (unlock or abort): "released" needs no lock here.
 */
static void lock_grant_msg(void *arg)
{
	struct range_lock *lock = arg;

	if (!lock->released) {
		lock->granted = true;
		lock->cb(lock->owner, 0);
	}
	lock_put(lock);
}

static void lock_pending_put(struct range_lock *lock)
{
	int rc;

	if (atomic_fetch_sub_explicit(&lock->pending, 1, memory_order_acq_rel) != 1)
		return;
	atomic_fetch_add_explicit(&lock->refs, 1, memory_order_relaxed);
	/* Always by message: we may be deep inside another I/O's completion. */
	rc = nvmft_thread_send_msg(lock->thread, lock_grant_msg, lock);
	if (rc == 0)
		return;
	if (nvmft_get_thread() == lock->thread) {
		lock_grant_msg(lock);
		return;
	}
	RT_ERR(lock->bdev->rt, "bdev %s: range lock grant lost (%d)",
	       lock->bdev->name, rc);
	lock_put(lock);
}

/* ---- per-channel nodes (channel's reactor) ---- */

static void node_install(struct bdev_channel *bch, struct range_lock *lock)
{
	struct lock_node *node = &lock->nodes[bch->thread_idx];
	struct nvmft_bdev_io *w;
	uint32_t n = 0;

	if (node->on_list)
		return;
	node->seq = bch->write_seq;
	for (w = bch->writes; w; w = w->internal.link[1])
		if (ranges_overlap(w->offset_blocks, w->num_blocks,
				   lock->offset, lock->num))
			n++;
	node->waiting = n;
	if (n)
		atomic_fetch_add_explicit(&lock->pending, 1, memory_order_acq_rel);
	atomic_fetch_add_explicit(&lock->refs, 1, memory_order_relaxed);
	node->next = bch->locks;
	bch->locks = node;
	node->on_list = true;
}

static void node_remove(struct bdev_channel *bch, struct lock_node *node)
{
	struct range_lock *lock = node->lock;
	struct lock_node **pp;

	for (pp = &bch->locks; *pp; pp = &(*pp)->next) {
		if (*pp == node) {
			*pp = node->next;
			break;
		}
	}
	node->on_list = false;
	node->next = NULL;
	/* Only at channel teardown: the lock must not wait for it forever. */
	if (node->waiting) {
		node->waiting = 0;
		lock_pending_put(lock);
	}
	lock_put(lock);
}

void bdev_locks_write_done(struct bdev_channel *bch,
			   const struct nvmft_bdev_io *io)
{
	struct lock_node *n;

	for (n = bch->locks; n; n = n->next) {
		if (!n->waiting || io->internal.seq > n->seq ||
		    !ranges_overlap(io->offset_blocks, io->num_blocks,
				    n->lock->offset, n->lock->num))
			continue;
		if (--n->waiting == 0)
			lock_pending_put(n->lock);
	}
}

void bdev_locks_sync(struct bdev_channel *bch)
{
	struct nvmft_bdev *bdev = bch->bdev;
	struct lock_node **pp, *node;
	struct range_lock *l;
	bool removed = false;

	pthread_mutex_lock(&bdev->lock_mtx);
	bch->lock_gen = atomic_load_explicit(&bdev->lock_gen, memory_order_relaxed);
	for (l = bdev->locks_published; l; l = l->next)
		node_install(bch, l);
	pp = &bch->locks;
	while ((node = *pp)) {
		if (!node->lock->released) {
			pp = &node->next;
			continue;
		}
		node_remove(bch, node);
		removed = true;
	}
	pthread_mutex_unlock(&bdev->lock_mtx);
	if (removed)
		bdev_release_held(bch);
}

void bdev_locks_channel_gone(struct bdev_channel *bch)
{
	while (bch->locks)
		node_remove(bch, bch->locks);
}

/* ---- the bdev's lists (under lock_mtx) ---- */

static bool overlaps_list(const struct range_lock *list,
			  const struct range_lock *stop, uint64_t off,
			  uint64_t num)
{
	const struct range_lock *l;

	for (l = list; l && l != stop; l = l->next)
		if (ranges_overlap(off, num, l->offset, l->num))
			return true;
	return false;
}

static void list_append(struct range_lock **head, struct range_lock *lock)
{
	struct range_lock **pp;

	for (pp = head; *pp; pp = &(*pp)->next)
		;
	lock->next = NULL;
	*pp = lock;
}

static void publish_locked(struct nvmft_bdev *bdev, struct range_lock *lock)
{
	list_append(&bdev->locks_published, lock);
	atomic_fetch_add_explicit(&bdev->lock_gen, 1, memory_order_release);
}

/*
 * Take @lock out of the published list and publish the waiting locks it
 * let through (not overlapping a published lock, nor an earlier waiting
 * one: no overtaking). Returns those, linked by promote_next.
 */
static struct range_lock *unpublish_locked(struct nvmft_bdev *bdev,
					   struct range_lock *lock)
{
	struct range_lock **pp, *w, *promoted = NULL, **ptail = &promoted;

	for (pp = &bdev->locks_published; *pp; pp = &(*pp)->next) {
		if (*pp == lock) {
			*pp = lock->next;
			break;
		}
	}
	lock->next = NULL;
	lock->released = true;
	atomic_fetch_add_explicit(&bdev->lock_gen, 1, memory_order_release);

	pp = &bdev->locks_waiting;
	while ((w = *pp)) {
		if (overlaps_list(bdev->locks_published, NULL, w->offset, w->num) ||
		    overlaps_list(bdev->locks_waiting, w, w->offset, w->num)) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		publish_locked(bdev, w);
		w->promote_next = NULL;
		*ptail = w;
		ptail = &w->promote_next;
	}
	return promoted;
}

/* ---- install / remove walks ---- */

static void lock_install_fn(struct nvmft_io_channel *ch, void *arg)
{
	node_install(bdev_ch(ch), arg);
}

static void lock_install_done(void *arg)
{
	struct range_lock *lock = arg;

	lock_pending_put(lock);
	lock_put(lock);
}

/* On the locker's reactor. */
static int lock_start(struct range_lock *lock)
{
	int rc;

	atomic_store_explicit(&lock->pending, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&lock->refs, 1, memory_order_relaxed);
	rc = nvmft_for_each_channel(lock->bdev->rt, lock->bdev, lock_install_fn,
				    lock, lock_install_done);
	if (rc)
		lock_put(lock);
	return rc;
}

static void lock_remove_fn(struct nvmft_io_channel *ch, void *arg)
{
	struct range_lock *lock = arg;
	struct bdev_channel *bch = bdev_ch(ch);
	struct lock_node *node = &lock->nodes[bch->thread_idx];

	if (!node->on_list)
		return;
	node_remove(bch, node);
	bdev_release_held(bch);
}

static void lock_remove_done(void *arg)
{
	lock_put(arg);
}

static void lock_start_msg(void *arg);

/* After unpublish: start the promoted locks, remove @lock everywhere. */
static void lock_retire(struct range_lock *lock, struct range_lock *promoted)
{
	struct nvmft_bdev *bdev = lock->bdev;
	struct range_lock *p, *next;
	int rc;

	for (p = promoted; p; p = next) {
		next = p->promote_next;
		rc = nvmft_thread_send_msg(p->thread, lock_start_msg, p);
		if (rc)
			RT_ERR(bdev->rt, "bdev %s: waiting range lock not started (%d)",
			       bdev->name, rc);
	}
	atomic_fetch_add_explicit(&lock->refs, 1, memory_order_relaxed);
	rc = nvmft_for_each_channel(bdev->rt, bdev, lock_remove_fn, lock,
				    lock_remove_done);
	if (rc) {
		/* Nodes left behind go at each channel's next write (lock_gen). */
		RT_WARN(bdev->rt, "bdev %s: range unlock walk failed (%d)",
			bdev->name, rc);
		lock_put(lock);
	}
	lock_put(lock);		/* the list's reference */
}

static void lock_abort(struct range_lock *lock, int rc, bool call_cb)
{
	struct nvmft_bdev *bdev = lock->bdev;
	void (*cb)(void *arg, int rc) = lock->cb;
	void *owner = lock->owner;
	struct range_lock *promoted;

	pthread_mutex_lock(&bdev->lock_mtx);
	promoted = unpublish_locked(bdev, lock);
	pthread_mutex_unlock(&bdev->lock_mtx);
	lock_retire(lock, promoted);
	if (call_cb)
		cb(owner, rc);
}

static void lock_start_msg(void *arg)
{
	struct range_lock *lock = arg;
	int rc = lock_start(lock);

	if (rc)
		lock_abort(lock, rc, true);
}

int nvmft_bdev_lock_range(struct nvmft_bdev_desc *desc,
			  struct nvmft_io_channel *ch, uint64_t offset_blocks,
			  uint64_t num_blocks, void (*cb)(void *arg, int rc),
			  void *arg)
{
	struct nvmft_bdev *bdev;
	struct bdev_channel *bch;
	struct range_lock *lock;
	unsigned int i, nr;
	bool wait;
	uint64_t nb;
	int rc;

	if (!desc || !ch || !cb)
		return -EINVAL;
	bdev = desc->bdev;
	bch = bdev_ch(ch);
	if (bch->bdev != bdev)
		return -EINVAL;
	ASSERT_ON_THREAD(bch->thread);
	nb = atomic_load_explicit(&bdev->num_blocks, memory_order_relaxed);
	if (num_blocks == 0 || offset_blocks >= nb || num_blocks > nb - offset_blocks)
		return -EINVAL;
	if (atomic_load_explicit(&bdev->removed, memory_order_relaxed))
		return -ENODEV;

	nr = nvmft_runtime_nr_threads(bdev->rt);
	lock = calloc(1, sizeof(*lock) + nr * sizeof(lock->nodes[0]));
	if (!lock)
		return -ENOMEM;
	lock->bdev = bdev;
	lock->offset = offset_blocks;
	lock->num = num_blocks;
	lock->owner = arg;
	lock->owner_ch = bch;
	lock->thread = bch->thread;
	lock->cb = cb;
	lock->nr_nodes = nr;
	for (i = 0; i < nr; i++)
		lock->nodes[i].lock = lock;
	atomic_init(&lock->refs, 1);
	atomic_init(&lock->pending, 0);

	pthread_mutex_lock(&bdev->lock_mtx);
	wait = overlaps_list(bdev->locks_published, NULL, offset_blocks, num_blocks) ||
	       overlaps_list(bdev->locks_waiting, NULL, offset_blocks, num_blocks);
	if (wait)
		list_append(&bdev->locks_waiting, lock);
	else
		publish_locked(bdev, lock);
	pthread_mutex_unlock(&bdev->lock_mtx);
	if (wait)
		return 0;

	rc = lock_start(lock);
	if (rc)
		lock_abort(lock, rc, false);
	return rc;
}

int nvmft_bdev_unlock_range(struct nvmft_bdev_desc *desc,
			    struct nvmft_io_channel *ch, uint64_t offset_blocks,
			    uint64_t num_blocks)
{
	struct range_lock *l, *promoted = NULL;
	struct nvmft_bdev *bdev;
	struct bdev_channel *bch;

	if (!desc || !ch)
		return -EINVAL;
	bdev = desc->bdev;
	bch = bdev_ch(ch);
	if (bch->bdev != bdev)
		return -EINVAL;
	ASSERT_ON_THREAD(bch->thread);

	pthread_mutex_lock(&bdev->lock_mtx);
	for (l = bdev->locks_published; l; l = l->next)
		if (l->owner_ch == bch && l->granted &&
		    l->offset == offset_blocks && l->num == num_blocks)
			break;
	if (l)
		promoted = unpublish_locked(bdev, l);
	pthread_mutex_unlock(&bdev->lock_mtx);
	if (!l)
		return -ENOENT;
	lock_retire(l, promoted);
	return 0;
}

/* At bdev free: every channel is gone; what is left was never unlocked. */
void bdev_locks_free_all(struct nvmft_bdev *bdev)
{
	struct range_lock *l;

	while ((l = bdev->locks_published)) {
		bdev->locks_published = l->next;
		free(l);
	}
	while ((l = bdev->locks_waiting)) {
		bdev->locks_waiting = l->next;
		free(l);
	}
}
