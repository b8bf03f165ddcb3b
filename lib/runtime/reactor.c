// SPDX-License-Identifier: MIT
/*
 * The reactor loop: timers, active pollers, inbox, completions, one
 * submission per turn; the wait modes; the stop sequence.
 *
 * Sleep/wake handshake: the reactor sets its "sleeping" flag, fences, and
 * looks at its inbox once more before sleeping; a sender publishes its
 * message, fences, and writes the eventfd only if it sees the flag. With
 * both fences one of the two always sees the other, so no wake-up is lost.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "runtime/runtime_priv.h"

static __thread struct nvmft_thread *current_thread;

struct nvmft_thread *nvmft_get_thread(void)
{
	return current_thread;
}

void reactor_set_current(struct nvmft_thread *t)
{
	current_thread = t;
}

/* Anything queued on the reactor itself that a sleep would leave behind. */
static bool local_work_pending(struct nvmft_thread *t)
{
	return !list_empty(&t->releases) ||
	       (t->phase >= PHASE_STOPPING && t->exit_handlers);
}

static void reactor_sleep(struct nvmft_thread *t)
{
	int64_t timeout = pollers_next_timeout(t, t->now);
	unsigned int n;

	if (t->phase != PHASE_RUNNING) {
		int64_t left = t->stop_deadline > t->now ?
			       (int64_t)(t->stop_deadline - t->now) : 0;

		if (timeout < 0 || timeout > left)
			timeout = left;
	}
	/* A message waiting for room in a full inbox: retry soon. */
	if (t->deferred_head && (timeout < 0 || timeout > 100))
		timeout = 100;

	atomic_store_explicit(&t->sleeping, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	if (inbox_pending(&t->inbox) ||
	    (t->phase == PHASE_RUNNING &&
	     atomic_load_explicit(&t->stop_req, memory_order_relaxed)) ||
	    local_work_pending(t)) {
		atomic_store_explicit(&t->sleeping, 0, memory_order_relaxed);
		return;
	}
	/* Counted on the way in: a reactor asleep right now shows up. */
	stat_add(&t->stats.sleeps, 1);
	n = engine_sleep(t, timeout);
	atomic_store_explicit(&t->sleeping, 0, memory_order_relaxed);
	if (n) {
		stat_add(&t->stats.completions, n);
		t->busy = true;
	}
}

static void begin_stop(struct nvmft_thread *t)
{
	uint64_t tail = atomic_load_explicit(&t->inbox.tail, memory_order_acquire);

	t->phase = PHASE_STOPPING;
	t->stop_deadline = t->now + RT_STOP_DEADLINE_US;
	RT_DEBUG(t->rt, "reactor %u stopping", t->idx);
	/* What was sent before the stop runs before the exit handlers. */
	inbox_drain_upto(t, tail & ~INBOX_CLOSED);
	exit_handlers_run(t);
	t->busy = true;
}

static bool quiescent(struct nvmft_thread *t)
{
	return inbox_count(&t->inbox) == 0 && t->refs == 0 &&
	       !t->deferred_head && !local_work_pending(t);
}

static void log_leftovers(struct nvmft_thread *t)
{
	RT_WARN(t->rt, "reactor %u: stop deadline passed: %u refs, %lu messages, %u channels, %u pollers left",
		t->idx, t->refs, (unsigned long)inbox_count(&t->inbox),
		t->nr_channels, t->nr_pollers);
	channels_log_left(t);
}

/*
 * Called every turn once stopping. True when the thread may end. Held
 * channels are destroyed once nothing else is pending (their destroy
 * callbacks may still need turns: closing sockets takes completions).
 */
static bool stop_progress(struct nvmft_thread *t)
{
	exit_handlers_run(t);
	if (t->now >= t->stop_deadline) {
		if (!quiescent(t) || t->nr_channels)
			log_leftovers(t);
		return true;	/* reactor_exit() closes and drains */
	}
	if (!quiescent(t))
		return false;
	if (t->nr_channels) {
		channels_destroy_all(t);
		return false;
	}
	if (t->phase == PHASE_STOPPING) {
		t->phase = PHASE_CLOSING;
		inbox_close(&t->inbox);
		/* What got in before the close still runs, maybe needing turns. */
		if (inbox_drain_closed(t))
			return false;
	}
	return true;
}

static void reactor_exit(struct nvmft_thread *t)
{
	inbox_close(&t->inbox);
	inbox_drain_closed(t);
	channels_destroy_all(t);
	deferred_drop(t);
	/* Exit handlers registered by the last messages. */
	exit_handlers_run(t);
	pollers_free_all(t);
	/* Submit what the last turns queued (cancels, closes). */
	engine_submit(t);
	t->phase = PHASE_EXITED;
	atomic_store_explicit(&t->exited, 1, memory_order_release);
	RT_DEBUG(t->rt, "reactor %u exited", t->idx);
}

static void reactor_run(struct nvmft_thread *t)
{
	struct nvmft_runtime *rt = t->rt;
	uint64_t last = nvmft_now_us(), idle_since = 0;
	bool prev_busy = true, idling = false;

	for (;;) {
		unsigned int n;
		int mode;

		t->now = nvmft_now_us();
		stat_add(prev_busy ? &t->stats.busy_us : &t->stats.idle_us,
			 t->now - last);
		last = t->now;
		t->busy = false;

		if (t->phase == PHASE_RUNNING &&
		    atomic_load_explicit(&t->stop_req, memory_order_acquire))
			begin_stop(t);
		if (t->phase != PHASE_RUNNING && stop_progress(t))
			break;

		pollers_run_timed(t, t->now);
		pollers_run_active(t);
		channels_run_releases(t);
		if (t->deferred_head && deferred_flush(t))
			t->busy = true;
		inbox_drain(t, RT_MSG_BUDGET);
		n = engine_reap(t);
		if (n) {
			stat_add(&t->stats.completions, n);
			t->busy = true;
		}
		engine_submit(t);
		pollers_free_dead(t);

		stat_add(&t->stats.loops, 1);
		prev_busy = t->busy;
		if (t->busy) {
			stat_add(&t->stats.busy_loops, 1);
			idling = false;
			continue;
		}
		mode = atomic_load_explicit(&rt->wait_mode, memory_order_relaxed);
		if (mode == NVMFT_WAIT_POLL)
			continue;
		if (mode == NVMFT_WAIT_ADAPTIVE) {
			if (!idling) {
				idling = true;
				idle_since = t->now;
			}
			if (t->now - idle_since <
			    atomic_load_explicit(&rt->idle_spin_us,
						 memory_order_relaxed))
				continue;
		}
		reactor_sleep(t);
	}
	reactor_exit(t);
}

static int reactor_pin(struct nvmft_thread *t)
{
	cpu_set_t set;

	if (t->cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(t->cpu, &set);
	return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

void *reactor_main(void *arg)
{
	struct nvmft_thread *t = arg;
	struct nvmft_runtime *rt = t->rt;
	int rc;

	reactor_set_current(t);
	pthread_setname_np(pthread_self(), t->name);
	rc = reactor_pin(t);
	if (rc) {
		RT_ERR(rt, "reactor %u: cannot pin to CPU %d: %s", t->idx,
		       t->cpu, strerror(-rc));
	} else {
		rc = engine_thread_init(t);
		if (rc)
			RT_ERR(rt, "reactor %u: engine init failed: %s", t->idx,
			       strerror(-rc));
	}

	pthread_mutex_lock(&rt->start_lock);
	t->init_rc = rc;
	rt->nr_ready++;
	pthread_cond_broadcast(&rt->start_cond);
	pthread_mutex_unlock(&rt->start_lock);

	if (rc) {
		t->phase = PHASE_EXITED;
		inbox_close(&t->inbox);
		atomic_store_explicit(&t->exited, 1, memory_order_release);
	} else {
		RT_DEBUG(rt, "reactor %u running on %s", t->idx, t->name);
		reactor_run(t);
	}
	reactor_set_current(NULL);
	return NULL;
}
