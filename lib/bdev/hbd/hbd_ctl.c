// SPDX-License-Identifier: MIT
/*
 * The hbd control thread: a plain pthread with a job queue, where every
 * blocking NBD call (connect, handshake, health check) runs, so that no
 * reactor ever waits on the network. Jobs come in under a mutex held only
 * to link them (posting is rare: opens, checks, reconnections), wait in a
 * private list ordered by due time, and hand their results back to a
 * reactor by message.
 *
 * Blocking waits are bounded by a deadline and watch the stop eventfd, so
 * stopping the thread never waits for a server.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "bdev/hbd/hbd_internal.h"

static void fd_signal(int fd)
{
	uint64_t one = 1;

	/* Only fails when the counter is about to overflow: it is set then. */
	if (write(fd, &one, sizeof(one)) < 0)
		return;
}

static void fd_drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return;
}

/* Insert by due time, after the jobs due at the same time (FIFO). */
static void queue_insert(struct hbd_ctl *ctl, struct hbd_job *job)
{
	struct hbd_job **pp = &ctl->queue;

	while (*pp && (*pp)->due_us <= job->due_us)
		pp = &(*pp)->next;
	job->next = *pp;
	*pp = job;
}

static void take_inbox(struct hbd_ctl *ctl)
{
	struct hbd_job *list, *rev = NULL, *job;

	pthread_mutex_lock(&ctl->lock);
	list = ctl->inbox;
	ctl->inbox = NULL;
	pthread_mutex_unlock(&ctl->lock);
	/* The inbox is a stack: reverse it to keep the posting order. */
	while ((job = list)) {
		list = job->next;
		job->next = rev;
		rev = job;
	}
	while ((job = rev)) {
		rev = job->next;
		queue_insert(ctl, job);
	}
}

/* Jobs somebody asked to hurry move up to their earliest time. */
static void take_expedited(struct hbd_ctl *ctl)
{
	struct hbd_job **pp = &ctl->queue, *job, *moved = NULL;

	while ((job = *pp)) {
		if (job->due_us > job->earliest_us && atomic_load(&job->expedite)) {
			*pp = job->next;
			job->due_us = job->earliest_us;
			job->next = moved;
			moved = job;
		} else {
			pp = &job->next;
		}
	}
	while ((job = moved)) {
		moved = job->next;
		queue_insert(ctl, job);
	}
}

static void *ctl_main(void *arg)
{
	struct timespec ms = { .tv_nsec = 1000000 };
	struct hbd_ctl *ctl = arg;
	struct hbd_job *job;

	while (!atomic_load(&ctl->stop)) {
		struct pollfd pfd[2] = {
			{ .fd = ctl->wake_fd, .events = POLLIN },
			{ .fd = ctl->stop_fd, .events = POLLIN },
		};
		uint64_t now;
		int timeout = -1;

		take_inbox(ctl);
		take_expedited(ctl);
		now = nvmft_now_us();
		if (ctl->queue && ctl->queue->due_us <= now) {
			job = ctl->queue;
			ctl->queue = job->next;
			job->next = NULL;
			atomic_store(&job->expedite, false);
			job->run(job, false);
			continue;
		}
		if (ctl->queue) {
			uint64_t wait = (ctl->queue->due_us - now + 999) / 1000;

			timeout = wait > 60000 ? 60000 : (int)wait;
		}
		if (poll(pfd, 2, timeout) > 0 && (pfd[0].revents & POLLIN))
			fd_drain(ctl->wake_fd);
	}

	pthread_mutex_lock(&ctl->lock);
	ctl->closed = true;
	pthread_mutex_unlock(&ctl->lock);
	/* Nothing gets in any more: what is left runs cancelled. */
	take_inbox(ctl);
	while ((job = ctl->queue)) {
		ctl->queue = job->next;
		job->next = NULL;
		job->run(job, true);
	}
	/* The stopper keeps its reactor alive until this arrives. */
	while (nvmft_thread_send_msg(ctl->stop_to, ctl->stop_fn, ctl->stop_arg) == -ENOMEM)
		nanosleep(&ms, NULL);
	return NULL;
}

int ctl_start(struct hbd_ctl *ctl, struct nvmft_runtime *rt)
{
	int rc;

	memset(ctl, 0, sizeof(*ctl));
	ctl->rt = rt;
	ctl->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ctl->wake_fd < 0)
		return -errno;
	ctl->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ctl->stop_fd < 0) {
		rc = -errno;
		goto out_close_wake;
	}
	rc = -pthread_mutex_init(&ctl->lock, NULL);
	if (rc)
		goto out_close_stop;
	rc = -pthread_create(&ctl->tid, NULL, ctl_main, ctl);
	if (rc)
		goto out_destroy_lock;
	pthread_setname_np(ctl->tid, "nvmft_hbd");
	ctl->started = true;
	return 0;

out_destroy_lock:
	pthread_mutex_destroy(&ctl->lock);
out_close_stop:
	close(ctl->stop_fd);
out_close_wake:
	close(ctl->wake_fd);
	return rc;
}

void ctl_stop(struct hbd_ctl *ctl, struct nvmft_thread *to, nvmft_msg_fn fn,
	      void *arg)
{
	ctl->stop_to = to;
	ctl->stop_fn = fn;
	ctl->stop_arg = arg;
	atomic_store(&ctl->stop, true);
	fd_signal(ctl->stop_fd);
}

void ctl_join(struct hbd_ctl *ctl)
{
	if (ctl->started)
		pthread_join(ctl->tid, NULL);
	ctl->started = false;
}

void ctl_fini(struct hbd_ctl *ctl)
{
	pthread_mutex_destroy(&ctl->lock);
	close(ctl->stop_fd);
	close(ctl->wake_fd);
}

void ctl_post(struct hbd_ctl *ctl, struct hbd_job *job, uint64_t delay_us)
{
	uint64_t now = nvmft_now_us();
	bool closed;

	job->due_us = now + delay_us;
	job->earliest_us = now + (delay_us < HBD_EXPEDITE_GAP_US ? delay_us :
				  HBD_EXPEDITE_GAP_US);
	if (atomic_load(&job->expedite))
		job->due_us = job->earliest_us;
	pthread_mutex_lock(&ctl->lock);
	closed = ctl->closed;
	if (!closed) {
		job->next = ctl->inbox;
		ctl->inbox = job;
	}
	pthread_mutex_unlock(&ctl->lock);
	if (closed) {
		job->next = NULL;
		job->run(job, true);
		return;
	}
	fd_signal(ctl->wake_fd);
}

void ctl_kick(struct hbd_ctl *ctl)
{
	bool closed;

	pthread_mutex_lock(&ctl->lock);
	closed = ctl->closed;
	pthread_mutex_unlock(&ctl->lock);
	if (!closed)
		fd_signal(ctl->wake_fd);
}

int ctl_send(struct hbd_ctl *ctl, struct nvmft_thread *t, nvmft_msg_fn fn,
	     void *arg)
{
	struct timespec ms = { .tv_nsec = 1000000 };
	int rc;

	for (;;) {
		rc = nvmft_thread_send_msg(t, fn, arg);
		if (rc != -ENOMEM)
			return rc;
		/*
		 * The control thread waits for room: a full inbox drains in
		 * microseconds. A cancelled job run inline on a reactor (after
		 * the thread has stopped) must not wait.
		 */
		if (nvmft_get_thread())
			return rc;
		nanosleep(&ms, NULL);
	}
}

/* ------------------------------------------------- blocking NBD steps */

static int nbd_err(int fallback)
{
	int e = nbd_get_errno();

	return -(e ? e : fallback);
}

typedef bool (*handle_pred)(struct nbd_handle *h, void *arg);

/* Drive @h until @pred holds: control thread (jobs not cancelled) only. */
static int run_until(struct hbd_ctl *ctl, struct nbd_handle *h,
		     handle_pred pred, void *arg, uint64_t deadline_us)
{
	for (;;) {
		struct pollfd pfd[2];
		unsigned int dir;
		uint64_t now;
		int fd, r;

		if (pred(h, arg))
			return 0;
		if (nbd_aio_is_dead(h) || nbd_aio_is_closed(h))
			return -ECONNRESET;
		if (atomic_load(&ctl->stop))
			return -ECANCELED;
		now = nvmft_now_us();
		if (now >= deadline_us)
			return -ETIMEDOUT;
		fd = nbd_aio_get_fd(h);
		if (fd < 0)
			return nbd_err(EINVAL);
		dir = nbd_aio_get_direction(h);
		pfd[0].fd = fd;
		pfd[0].events = (short)(((dir & LIBNBD_AIO_DIRECTION_READ) ? POLLIN : 0) |
					((dir & LIBNBD_AIO_DIRECTION_WRITE) ? POLLOUT : 0));
		pfd[0].revents = 0;
		pfd[1].fd = ctl->stop_fd;
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		r = poll(pfd, 2, (int)((deadline_us - now + 999) / 1000));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[1].revents)
			return -ECANCELED;
		if (r == 0)
			continue;
		if ((dir & LIBNBD_AIO_DIRECTION_READ) &&
		    (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			r = nbd_aio_notify_read(h);
		else if (pfd[0].revents & (POLLOUT | POLLHUP | POLLERR))
			r = nbd_aio_notify_write(h);
		else
			r = 0;
		if (r < 0)
			return nbd_err(ECONNRESET);
	}
}

static bool not_connecting(struct nbd_handle *h, void *arg)
{
	return !nbd_aio_is_connecting(h);
}

int hbd_nbd_handshake(struct hbd_ctl *ctl, const char *uri,
		      uint64_t deadline_us, struct nbd_handle **out)
{
	struct nbd_handle *h;
	int rc;

	h = nbd_create();
	if (!h)
		return nbd_err(ENOMEM);
	/* Stop before NBD_OPT_GO: an unknown export must be told apart. */
	if (nbd_set_opt_mode(h, true) < 0 || nbd_aio_connect_uri(h, uri) < 0) {
		rc = nbd_err(EINVAL);
		goto out_close;
	}
	rc = run_until(ctl, h, not_connecting, NULL, deadline_us);
	if (rc)
		goto out_close;
	if (!nbd_aio_is_negotiating(h)) {
		rc = -EPROTO;
		goto out_close;
	}
	*out = h;
	return 0;

out_close:
	nbd_close(h);
	return rc;
}

struct opt_wait {
	bool done;
	int error;
};

static int opt_cb(void *user_data, int *error)
{
	struct opt_wait *w = user_data;

	w->done = true;
	w->error = *error;
	return 1;
}

static bool opt_finished(struct nbd_handle *h, void *arg)
{
	return ((struct opt_wait *)arg)->done;
}

int hbd_nbd_option(struct hbd_ctl *ctl, struct nbd_handle *h, bool go,
		   uint64_t deadline_us)
{
	struct opt_wait w = { 0 };
	nbd_completion_callback cb = { .callback = opt_cb, .user_data = &w };
	int rc;

	rc = go ? nbd_aio_opt_go(h, cb) : nbd_aio_opt_info(h, cb);
	if (rc < 0)
		return nbd_err(EINVAL);
	rc = run_until(ctl, h, opt_finished, &w, deadline_us);
	if (rc)
		return rc;
	if (w.error)
		return -w.error;
	if (go && !nbd_aio_is_ready(h))
		return -EPROTO;
	return 0;
}

int hbd_nbd_open(struct hbd_ctl *ctl, const char *uri, uint32_t timeout_ms,
		 struct nbd_handle **out)
{
	uint64_t deadline = nvmft_now_us() + (uint64_t)timeout_ms * 1000;
	struct nbd_handle *h;
	int rc;

	rc = hbd_nbd_handshake(ctl, uri, deadline, &h);
	if (rc)
		return rc == -ECANCELED || rc == -ETIMEDOUT ? rc : -EHOSTDOWN;
	rc = hbd_nbd_option(ctl, h, true, deadline);
	if (rc) {
		nbd_close(h);
		return rc;
	}
	*out = h;
	return 0;
}
