// SPDX-License-Identifier: MIT
/*
 * The event engine of a reactor: one io_uring (or one epoll instance) plus
 * the eventfd other threads use to wake a sleeping reactor.
 *
 * Rings are created by nvmft_runtime_create() so that an unusable io_uring
 * shows up there. SINGLE_ISSUER binds a ring to the task that creates it,
 * so such rings are created disabled and enabled by the reactor itself.
 * For the same reason the fixed-file and fixed-buffer tables are made and
 * changed by the reactor only, lazily, and any refusal of the kernel just
 * means the caller keeps using plain descriptors and iovecs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "runtime/runtime_priv.h"

/*
 * Tried in order; the kernel answers -EINVAL for flags it does not know.
 * TASKRUN_FLAG lets the poll path see, without a syscall, that completions
 * are waiting in deferred task work.
 */
static const unsigned int ring_flag_sets[] = {
	IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_R_DISABLED,
	IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
	0,
};

static void wake_uring_done(struct uring_op *op, const struct io_uring_cqe *cqe);

static void wake_uring_arm(struct nvmft_thread *t)
{
	struct io_uring_sqe *sqe = thread_get_sqe(t);

	if (!sqe) {
		RT_ERR(t->rt, "reactor %u: cannot arm its wake-up read", t->idx);
		return;
	}
	io_uring_prep_read(sqe, t->evfd, &t->wake_buf, sizeof(t->wake_buf), 0);
	io_uring_sqe_set_data(sqe, &t->wake_uop);
}

static void wake_uring_done(struct uring_op *op, const struct io_uring_cqe *cqe)
{
	struct nvmft_thread *t = container_of(op, struct nvmft_thread, wake_uop);

	if (cqe->res < 0 && cqe->res != -EINTR && cqe->res != -EAGAIN &&
	    cqe->res != -ECANCELED)
		RT_WARN(t->rt, "reactor %u: wake-up read failed: %s", t->idx,
			strerror(-cqe->res));
	if (t->phase != PHASE_EXITED)
		wake_uring_arm(t);
}

static void wake_epoll_ready(struct epoll_op *op, uint32_t events)
{
	struct nvmft_thread *t = container_of(op, struct nvmft_thread, wake_eop);
	uint64_t v;

	/* Non-blocking: a spurious event just reads -EAGAIN. */
	if (read(t->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		RT_WARN(t->rt, "reactor %u: eventfd read: %s", t->idx,
			strerror(errno));
}

static int uring_create(struct nvmft_thread *t, unsigned int entries)
{
	size_t i;
	int rc = -EINVAL;

	for (i = 0; i < sizeof(ring_flag_sets) / sizeof(ring_flag_sets[0]); i++) {
		struct io_uring_params p;

		memset(&p, 0, sizeof(p));
		p.flags = ring_flag_sets[i] | IORING_SETUP_CQSIZE;
		/* Multishot recv/accept post many CQEs per SQE. */
		p.cq_entries = entries * 4;
		rc = io_uring_queue_init_params(entries, &t->ring, &p);
		if (rc == -EINVAL)
			continue;
		if (rc < 0)
			return rc;
		t->has_ring = true;
		t->ring_disabled = p.flags & IORING_SETUP_R_DISABLED;
		if (t->idx == 0)
			RT_INFO(t->rt, "io_uring setup flags %#x (%s)", p.flags,
				(p.flags & IORING_SETUP_DEFER_TASKRUN) ?
				"single issuer, deferred task work" :
				(p.flags & IORING_SETUP_COOP_TASKRUN) ?
				"cooperative task work" : "plain");
		return 0;
	}
	return rc;
}

static int epoll_create_engine(struct nvmft_thread *t)
{
	struct epoll_event ev;

	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (t->epfd < 0)
		return -errno;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &t->wake_eop;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->evfd, &ev) < 0) {
		int rc = -errno;

		close(t->epfd);
		t->epfd = -1;
		return rc;
	}
	return 0;
}

/*
 * Main thread, from nvmft_runtime_create(). @engine is URING or EPOLL; the
 * AUTO fallback decision is the caller's.
 */
int engine_create(struct nvmft_thread *t, enum nvmft_engine engine,
		  unsigned int entries)
{
	int rc;

	t->epfd = -1;
	t->wake_uop.done = wake_uring_done;
	t->wake_eop.ready = wake_epoll_ready;
	/*
	 * io_uring reads of an O_NONBLOCK eventfd fail with -EAGAIN instead of
	 * waiting, so only the epoll engine gets a non-blocking one.
	 */
	t->evfd = eventfd(0, EFD_CLOEXEC |
			  (engine == NVMFT_ENGINE_EPOLL ? EFD_NONBLOCK : 0));
	if (t->evfd < 0)
		return -errno;

	if (engine == NVMFT_ENGINE_URING)
		rc = uring_create(t, entries);
	else
		rc = epoll_create_engine(t);
	if (rc < 0)
		goto out_close_evfd;
	return 0;

out_close_evfd:
	close(t->evfd);
	t->evfd = -1;
	return rc;
}

/* On the reactor, before its first loop turn. */
int engine_thread_init(struct nvmft_thread *t)
{
	int rc;

	if (!t->has_ring)
		return 0;
	if (t->ring_disabled) {
		/*
		 * Raw register call: liburing 2.3's shared library does not
		 * export io_uring_enable_rings().
		 */
		rc = io_uring_register(t->ring.ring_fd,
				       IORING_REGISTER_ENABLE_RINGS, NULL, 0);
		if (rc < 0)
			return rc;
		t->ring_disabled = false;
	}
	wake_uring_arm(t);
	rc = io_uring_submit(&t->ring);
	return rc < 0 ? rc : 0;
}

void engine_destroy(struct nvmft_thread *t)
{
	/* The ring's exit drops the tables and unpins the buffers. */
	free(t->files);
	t->files = NULL;
	free(t->bufs);
	t->bufs = NULL;
	free(t->buf_order);
	t->buf_order = NULL;
	t->nr_bufs = 0;
	if (t->has_ring) {
		io_uring_queue_exit(&t->ring);
		t->has_ring = false;
	}
	if (t->epfd >= 0) {
		close(t->epfd);
		t->epfd = -1;
	}
	if (t->evfd >= 0) {
		close(t->evfd);
		t->evfd = -1;
	}
}

static unsigned int uring_dispatch(struct nvmft_thread *t)
{
	struct io_uring_cqe *cqes[RT_CQE_BATCH];
	unsigned int n, i, total = 0;

	/*
	 * With DEFER_TASKRUN (or COOP_TASKRUN) finished operations wait as
	 * task work until the reactor enters the kernel asking for events;
	 * the kernel raises IORING_SQ_TASKRUN then, so a polling reactor
	 * only pays the syscall when something is really there.
	 */
	if (IO_URING_READ_ONCE(*t->ring.sq.kflags) &
	    (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW))
		io_uring_get_events(&t->ring);

	do {
		n = io_uring_peek_batch_cqe(&t->ring, cqes, RT_CQE_BATCH);
		for (i = 0; i < n; i++) {
			struct uring_op *op = io_uring_cqe_get_data(cqes[i]);

			if (op)
				op->done(op, cqes[i]);
		}
		io_uring_cq_advance(&t->ring, n);
		total += n;
	} while (n == RT_CQE_BATCH && total < RT_CQE_BUDGET);
	return total;
}

static unsigned int epoll_dispatch(struct nvmft_thread *t, int n,
				   const struct epoll_event *evs)
{
	int i;

	for (i = 0; i < n; i++) {
		struct epoll_op *op = evs[i].data.ptr;

		if (op)
			op->ready(op, evs[i].events);
	}
	return n > 0 ? (unsigned int)n : 0;
}

unsigned int engine_reap(struct nvmft_thread *t)
{
	struct epoll_event evs[RT_CQE_BATCH];
	int n;

	if (t->has_ring)
		return uring_dispatch(t);
	n = epoll_wait(t->epfd, evs, RT_CQE_BATCH, 0);
	return epoll_dispatch(t, n, evs);
}

/* Once per loop turn: everything queued by this turn goes in one syscall. */
void engine_submit(struct nvmft_thread *t)
{
	int rc;

	if (!t->has_ring || !io_uring_sq_ready(&t->ring))
		return;
	/* Also runs deferred task work, so the next turn reaps it. */
	rc = io_uring_submit_and_get_events(&t->ring);
	if (rc < 0 && rc != -EBUSY && rc != -EAGAIN && rc != -EINTR &&
	    !t->ring_broken) {
		t->ring_broken = true;
		RT_ERR(t->rt, "reactor %u: io_uring submit: %s", t->idx,
		       strerror(-rc));
	}
}

/*
 * Sleep until an event, a wake-up or @timeout_us (-1 = no timeout).
 * Returns the number of events handled (epoll hands them out here).
 */
unsigned int engine_sleep(struct nvmft_thread *t, int64_t timeout_us)
{
	struct epoll_event evs[RT_CQE_BATCH];
	struct timespec ts, *tsp = NULL;
	int n;

	if (timeout_us >= 0) {
		ts.tv_sec = timeout_us / 1000000;
		ts.tv_nsec = (timeout_us % 1000000) * 1000;
		tsp = &ts;
	}
	if (t->has_ring) {
		struct __kernel_timespec kts, *ktsp = NULL;
		struct io_uring_cqe *cqe;

		if (tsp) {
			kts.tv_sec = ts.tv_sec;
			kts.tv_nsec = ts.tv_nsec;
			ktsp = &kts;
		}
		n = io_uring_submit_and_wait_timeout(&t->ring, &cqe, 1, ktsp, NULL);
		if (n < 0 && n != -ETIME && n != -EINTR && n != -EBUSY &&
		    n != -EAGAIN && !t->ring_broken) {
			t->ring_broken = true;
			RT_ERR(t->rt, "reactor %u: io_uring wait: %s", t->idx,
			       strerror(-n));
		}
		return 0;
	}

	if (!t->no_pwait2) {
		n = epoll_pwait2(t->epfd, evs, RT_CQE_BATCH, tsp, NULL);
		if (n < 0 && errno == ENOSYS)
			t->no_pwait2 = true;
		else
			return epoll_dispatch(t, n, evs);
	}
	/* Round up: waking early would just spin until the timer is due. */
	n = epoll_wait(t->epfd, evs, RT_CQE_BATCH,
		       timeout_us < 0 ? -1 :
		       (int)((timeout_us + 999) / 1000 > 1000000 ? 1000000 :
			     (timeout_us + 999) / 1000));
	return epoll_dispatch(t, n, evs);
}

/* Any thread. */
void engine_wake(struct nvmft_thread *t)
{
	uint64_t one = 1;

	if (t->evfd < 0)
		return;
	/* Can only fail when the counter is near 2^64: then it is set anyway. */
	if (write(t->evfd, &one, sizeof(one)) < 0)
		return;
}

struct io_uring *thread_ring(struct nvmft_thread *t)
{
	return t->has_ring ? &t->ring : NULL;
}

int thread_epoll_fd(struct nvmft_thread *t)
{
	return t->epfd;
}

struct io_uring_sqe *thread_get_sqe(struct nvmft_thread *t)
{
	struct io_uring_sqe *sqe;
	int rc;

	ASSERT_ON_THREAD(t);
	if (!t->has_ring || t->ring_broken)
		return NULL;
	sqe = io_uring_get_sqe(&t->ring);
	if (sqe)
		return sqe;
	rc = io_uring_submit(&t->ring);
	if (rc < 0 && rc != -EBUSY && rc != -EAGAIN && rc != -EINTR) {
		t->ring_broken = true;
		RT_ERR(t->rt, "reactor %u: io_uring submit: %s", t->idx,
		       strerror(-rc));
		return NULL;
	}
	return io_uring_get_sqe(&t->ring);
}

void thread_mark_busy(struct nvmft_thread *t)
{
	t->busy = true;
}

void thread_ref_get(struct nvmft_thread *t)
{
	ASSERT_ON_THREAD(t);
	t->refs++;
}

void thread_ref_put(struct nvmft_thread *t)
{
	ASSERT_ON_THREAD(t);
	if (t->refs == 0) {
		RT_ERR(t->rt, "reactor %u: reference count underflow", t->idx);
		return;
	}
	t->refs--;
}

/* ---- registered files and buffers ---- */

/*
 * Refusals that will not change while the reactor lives are remembered so
 * that every channel does not ask again; memory shortage may pass.
 */
static bool refusal_sticky(int rc)
{
	return rc != -ENOMEM && rc != -EAGAIN && rc != -EINTR;
}

static int files_table(struct nvmft_thread *t)
{
	struct engine_files *f;
	unsigned int i;
	int rc;

	if (t->files)
		return 0;
	if (!t->has_ring)
		return -EOPNOTSUPP;
	if (t->files_err)
		return t->files_err;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	rc = io_uring_register_files_sparse(&t->ring, RT_FILE_SLOTS);
	if (rc < 0) {
		RT_INFO(t->rt, "reactor %u: no registered files (%s): plain descriptors",
			t->idx, strerror(-rc));
		if (refusal_sticky(rc))
			t->files_err = rc;
		free(f);
		return rc;
	}
	/* Stacked in reverse so that slot 0 goes first. */
	for (i = RT_FILE_SLOTS; i-- > 0;)
		f->free[f->nr_free++] = (uint16_t)i;
	t->files = f;
	return 0;
}

int thread_file_register(struct nvmft_thread *t, int fd)
{
	struct engine_files *f;
	unsigned int slot;
	int rc;

	ASSERT_ON_THREAD(t);
	if (fd < 0)
		return -EBADF;
	rc = files_table(t);
	if (rc)
		return rc;
	f = t->files;
	if (!f->nr_free)
		return -ENOSPC;
	slot = f->free[f->nr_free - 1];
	rc = io_uring_register_files_update(&t->ring, slot, &fd, 1);
	if (rc < 0)
		return rc;
	if (rc != 1)
		return -EIO;
	f->nr_free--;
	f->used[slot] = true;
	return (int)slot;
}

void thread_file_unregister(struct nvmft_thread *t, int slot)
{
	struct engine_files *f = t->files;
	int none = -1, rc;

	ASSERT_ON_THREAD(t);
	if (!f || slot < 0 || slot >= (int)RT_FILE_SLOTS || !f->used[slot]) {
		RT_ERR(t->rt, "reactor %u: unregistering file slot %d that is not in use",
		       t->idx, slot);
		return;
	}
	rc = io_uring_register_files_update(&t->ring, (unsigned int)slot, &none, 1);
	if (rc < 0) {
		/* The file may still be in it: never hand the slot out again. */
		RT_WARN(t->rt, "reactor %u: cannot clear file slot %d: %s", t->idx,
			slot, strerror(-rc));
		return;
	}
	f->used[slot] = false;
	f->free[f->nr_free++] = (uint16_t)slot;
}

unsigned int thread_file_slots_used(struct nvmft_thread *t)
{
	return t->files ? RT_FILE_SLOTS - t->files->nr_free : 0;
}

/* Index in buf_order of the first region whose base is above @a. */
static unsigned int buf_upper(const struct nvmft_thread *t, uintptr_t a)
{
	unsigned int lo = 0, hi = t->nr_bufs;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (t->bufs[t->buf_order[mid]].base <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int thread_buf_register(struct nvmft_thread *t, void *base, size_t len)
{
	uintptr_t a = (uintptr_t)base;
	unsigned int i, pos;

	ASSERT_ON_THREAD(t);
	if (!base || !len || a + len < a)
		return -EINVAL;
	if (len > RT_BUF_MAX_LEN)
		return -E2BIG;
	if (!t->has_ring)
		return -EOPNOTSUPP;
	if (!t->bufs) {
		t->bufs = calloc(RT_BUF_SLOTS, sizeof(*t->bufs));
		t->buf_order = calloc(RT_BUF_SLOTS, sizeof(*t->buf_order));
		if (!t->bufs || !t->buf_order) {
			free(t->bufs);
			free(t->buf_order);
			t->bufs = NULL;
			t->buf_order = NULL;
			return -ENOMEM;
		}
	}
	if (t->nr_bufs == RT_BUF_SLOTS)
		return -ENOSPC;
	/* Regions never overlap: lookups then have one answer. */
	pos = buf_upper(t, a);
	if ((pos > 0 && t->bufs[t->buf_order[pos - 1]].base +
			t->bufs[t->buf_order[pos - 1]].len > a) ||
	    (pos < t->nr_bufs && t->bufs[t->buf_order[pos]].base < a + len))
		return -EEXIST;
	for (i = 0; t->bufs[i].state != BUF_FREE; i++)
		;
	t->bufs[i] = (struct engine_buf){
		.base = a, .len = len, .state = BUF_PENDING,
	};
	memmove(&t->buf_order[pos + 1], &t->buf_order[pos],
		(t->nr_bufs - pos) * sizeof(t->buf_order[0]));
	t->buf_order[pos] = (uint16_t)i;
	t->nr_bufs++;
	return (int)i;
}

/* Put region @i in the kernel table (first hit); false when refused. */
static bool buf_pin(struct nvmft_thread *t, unsigned int i)
{
	struct engine_buf *b = &t->bufs[i];
	struct iovec iov = { .iov_base = (void *)b->base, .iov_len = b->len };
	int rc;

	if (!t->bufs_table) {
		rc = t->bufs_err ? t->bufs_err :
		     io_uring_register_buffers_sparse(&t->ring, RT_BUF_SLOTS);
		if (rc < 0) {
			if (!t->bufs_err)
				RT_INFO(t->rt, "reactor %u: no fixed buffers (%s)",
					t->idx, strerror(-rc));
			if (refusal_sticky(rc))
				t->bufs_err = rc;
			goto out_refused;
		}
		t->bufs_table = true;
	}
	rc = io_uring_register_buffers_update_tag(&t->ring, i, &iov, NULL, 1);
	if (rc == 1) {
		b->state = BUF_LIVE;
		return true;
	}
	/* RLIMIT_MEMLOCK (-ENOMEM), memory the kernel cannot pin (-EFAULT). */
	RT_INFO(t->rt, "reactor %u: cannot register a %zu-byte fixed buffer: %s",
		t->idx, b->len, strerror(rc < 0 ? -rc : EIO));
out_refused:
	b->state = BUF_REFUSED;
	return false;
}

int thread_buf_lookup(struct nvmft_thread *t, const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p;
	const struct engine_buf *b;
	unsigned int pos, i;

	if (!t->nr_bufs)
		return -1;
	pos = buf_upper(t, a);
	if (!pos)
		return -1;
	i = t->buf_order[pos - 1];
	b = &t->bufs[i];
	if (b->state == BUF_REFUSED || a - b->base >= b->len ||
	    len > b->len - (a - b->base))
		return -1;
	if (b->state == BUF_PENDING && !buf_pin(t, i))
		return -1;
	return (int)i;
}

/* Take slot @id out of the lookup order and free it. */
static void buf_forget(struct nvmft_thread *t, unsigned int id)
{
	unsigned int pos;

	for (pos = 0; t->buf_order[pos] != id; pos++)
		;
	memmove(&t->buf_order[pos], &t->buf_order[pos + 1],
		(t->nr_bufs - pos - 1) * sizeof(t->buf_order[0]));
	t->nr_bufs--;
	t->bufs[id].state = BUF_FREE;
}

void thread_buf_unregister(struct nvmft_thread *t, int id)
{
	struct iovec none = { .iov_base = NULL, .iov_len = 0 };
	struct engine_buf *b;
	int rc;

	ASSERT_ON_THREAD(t);
	if (!t->bufs || id < 0 || id >= (int)RT_BUF_SLOTS ||
	    t->bufs[id].state == BUF_FREE) {
		RT_ERR(t->rt, "reactor %u: unregistering fixed buffer %d that is not registered",
		       t->idx, id);
		return;
	}
	b = &t->bufs[id];
	if (b->state == BUF_LIVE) {
		rc = io_uring_register_buffers_update_tag(&t->ring, (unsigned int)id,
							  &none, NULL, 1);
		if (rc != 1) {
			/*
			 * Still pinned: keep the slot taken but out of lookups,
			 * so that memory reused at that address never goes
			 * through the stale kernel mapping.
			 */
			RT_WARN(t->rt, "reactor %u: cannot clear fixed buffer %d: %s",
				t->idx, id, strerror(rc < 0 ? -rc : EIO));
			b->state = BUF_REFUSED;
			return;
		}
	}
	buf_forget(t, (unsigned int)id);
}
