/* SPDX-License-Identifier: MIT */
/**
 * DOC: nvmft runtime — reactors, messages, pollers, io_devices
 *
 * A &struct nvmft_runtime owns N reactor threads. Each reactor runs to
 * completion everything posted to it, owns one event engine (an io_uring,
 * or an epoll instance where io_uring is unavailable) and never blocks on a
 * lock on the I/O path. Other threads reach a reactor only by message.
 *
 * Reactor 0 is the app reactor: management, accept and configuration run
 * there. There is no library global state: everything hangs off the runtime.
 *
 * Errors are negative errno values.
 */
#ifndef NVMFT_RUNTIME_H
#define NVMFT_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct nvmft_runtime;
struct nvmft_thread;
struct nvmft_poller;
struct nvmft_io_channel;

/**
 * enum nvmft_wait_mode - what a reactor does when a loop turn found no work
 * @NVMFT_WAIT_ADAPTIVE: keep polling while there is work; after
 *	&nvmft_runtime_opts.idle_spin_us of idle turns, sleep in the event
 *	engine until a completion, a message or the next timer (default).
 * @NVMFT_WAIT_POLL: never sleep (lowest latency, burns the core).
 * @NVMFT_WAIT_INTERRUPT: sleep as soon as a turn found no work.
 */
enum nvmft_wait_mode {
	NVMFT_WAIT_ADAPTIVE = 0,
	NVMFT_WAIT_POLL,
	NVMFT_WAIT_INTERRUPT,
};

/**
 * enum nvmft_engine - event engine of every reactor of a runtime
 * @NVMFT_ENGINE_AUTO: io_uring; epoll when io_uring_setup() fails with
 *	EPERM/ENOSYS, or when the environment variable NVMFT_ENGINE=epoll is set.
 * @NVMFT_ENGINE_URING: io_uring only (creation fails without it).
 * @NVMFT_ENGINE_EPOLL: epoll only.
 */
enum nvmft_engine {
	NVMFT_ENGINE_AUTO = 0,
	NVMFT_ENGINE_URING,
	NVMFT_ENGINE_EPOLL,
};

/**
 * NVMFT_IDLE_SPIN_US_MAX - largest &nvmft_runtime_opts.idle_spin_us (1 s):
 * beyond that, adaptive mode is poll mode in all but name.
 */
#define NVMFT_IDLE_SPIN_US_MAX	1000000u

/**
 * struct nvmft_runtime_opts - options of nvmft_runtime_create()
 * @nr_reactors: number of reactor threads; 0 = one per CPU in the process's
 *	affinity mask (so `taskset -c 0 prog` gets one reactor).
 * @cpus: CPU list ("0-3,6") to pin reactor i to the i-th CPU of; NULL or ""
 *	= pin to the CPUs of the affinity mask when @pin is set.
 * @pin: pin reactors to CPUs.
 * @wait_mode: see &enum nvmft_wait_mode.
 * @engine: see &enum nvmft_engine.
 * @idle_spin_us: adaptive mode: idle time before a reactor sleeps
 *	(default 200, at most %NVMFT_IDLE_SPIN_US_MAX).
 * @msg_ring_size: capacity of each reactor's message inbox (power of 2).
 * @ring_entries: io_uring submission queue size per reactor.
 * @name: prefix of reactor thread names ("nvmft" → "nvmft_r0").
 */
struct nvmft_runtime_opts {
	unsigned int nr_reactors;
	const char *cpus;
	bool pin;
	enum nvmft_wait_mode wait_mode;
	enum nvmft_engine engine;
	unsigned int idle_spin_us;
	unsigned int msg_ring_size;
	unsigned int ring_entries;
	const char *name;
};

/** typedef nvmft_msg_fn - a function sent to run on a reactor */
typedef void (*nvmft_msg_fn)(void *arg);

/**
 * typedef nvmft_poller_fn - a poller body
 *
 * Return: > 0 when it did work, 0 when idle. The wait mode uses this to
 * decide whether the reactor may sleep.
 */
typedef int (*nvmft_poller_fn)(void *arg);

/**
 * nvmft_runtime_opts_init() - fill @opts with the defaults
 * @opts: options to fill.
 *
 * Any thread.
 */
void nvmft_runtime_opts_init(struct nvmft_runtime_opts *opts);

/**
 * nvmft_runtime_create() - create a runtime and its reactors (not started)
 * @opts: options, or NULL for the defaults.
 * @out: the new runtime.
 *
 * Any non-reactor thread. Creates one event engine per reactor, so an
 * unusable io_uring is detected here (and epoll chosen in AUTO mode).
 *
 * Return: 0, -EINVAL for bad options, -ENOMEM, or the engine's error.
 */
int nvmft_runtime_create(const struct nvmft_runtime_opts *opts,
			 struct nvmft_runtime **out);

/**
 * nvmft_runtime_start() - start the reactor threads
 * @rt: runtime.
 *
 * Any non-reactor thread. Returns once every reactor runs.
 *
 * Return: 0, -EALREADY, or a pthread error as negative errno.
 */
int nvmft_runtime_start(struct nvmft_runtime *rt);

/**
 * nvmft_runtime_stop() - stop every reactor and wait for the threads
 * @rt: runtime.
 *
 * Any non-reactor thread. Each reactor first runs the messages already in
 * its inbox, then the exit handlers (nvmft_thread_at_exit()), then stops.
 * io_channels still held at that point are destroyed on their reactor.
 * New messages are refused with -ESHUTDOWN from then on.
 */
void nvmft_runtime_stop(struct nvmft_runtime *rt);

/**
 * nvmft_runtime_destroy() - free a stopped (or never started) runtime
 * @rt: runtime, may be NULL.
 */
void nvmft_runtime_destroy(struct nvmft_runtime *rt);

/** nvmft_runtime_nr_threads() - number of reactors. Any thread. */
unsigned int nvmft_runtime_nr_threads(const struct nvmft_runtime *rt);

/** nvmft_runtime_get_thread() - reactor @idx, or NULL. Any thread. */
struct nvmft_thread *nvmft_runtime_get_thread(struct nvmft_runtime *rt,
					      unsigned int idx);

/** nvmft_runtime_engine() - engine in use (URING or EPOLL). Any thread. */
enum nvmft_engine nvmft_runtime_engine(const struct nvmft_runtime *rt);

/** nvmft_engine_name() - "uring" or "epoll". */
const char *nvmft_engine_name(enum nvmft_engine e);

/**
 * nvmft_runtime_set_wait_mode() - change the wait mode of every reactor
 * @rt: runtime.
 * @mode: new mode (an invalid value is ignored).
 *
 * Any thread; takes effect on each reactor's next loop turn. Every reactor
 * is woken, so one asleep in interrupt or adaptive mode starts polling at
 * once when switched to %NVMFT_WAIT_POLL.
 */
void nvmft_runtime_set_wait_mode(struct nvmft_runtime *rt,
				 enum nvmft_wait_mode mode);

/**
 * nvmft_runtime_set_idle_spin_us() - change how long adaptive reactors spin
 * @rt: runtime.
 * @idle_spin_us: idle time before an adaptive reactor sleeps, 0 to
 *	%NVMFT_IDLE_SPIN_US_MAX microseconds.
 *
 * Any thread; each reactor uses the new value from its next idle turn.
 * Only adaptive mode reads it, but it is kept in every mode.
 *
 * Return: 0, or -EINVAL (@rt NULL or @idle_spin_us out of range).
 */
int nvmft_runtime_set_idle_spin_us(struct nvmft_runtime *rt,
				   unsigned int idle_spin_us);

/**
 * nvmft_runtime_get_idle_spin_us() - the current adaptive spin time in
 * microseconds. Any thread.
 */
unsigned int nvmft_runtime_get_idle_spin_us(const struct nvmft_runtime *rt);

/**
 * nvmft_runtime_get_wait_mode() - the current wait mode. Any thread.
 */
enum nvmft_wait_mode nvmft_runtime_get_wait_mode(const struct nvmft_runtime *rt);

/**
 * nvmft_runtime_exec() - run @fn on reactor @idx and wait for it to return
 * @rt: started runtime.
 * @idx: reactor index.
 * @fn: function.
 * @arg: its argument.
 *
 * Non-reactor threads only (a reactor waiting on itself would deadlock):
 * the convenience that tests, the daemon's main thread and embedders use.
 *
 * Return: 0 once @fn has run, -EINVAL, -ESHUTDOWN, -ENOMEM, -EDEADLK when
 * called from a reactor.
 */
int nvmft_runtime_exec(struct nvmft_runtime *rt, unsigned int idx,
		       nvmft_msg_fn fn, void *arg);

/**
 * nvmft_get_thread() - the reactor running the caller, NULL off-reactor
 */
struct nvmft_thread *nvmft_get_thread(void);

/** nvmft_thread_get_runtime() - runtime of a reactor. Any thread. */
struct nvmft_runtime *nvmft_thread_get_runtime(struct nvmft_thread *t);

/** nvmft_thread_index() - index of a reactor in its runtime. Any thread. */
unsigned int nvmft_thread_index(const struct nvmft_thread *t);

/**
 * nvmft_thread_send_msg() - run @fn(@arg) on reactor @t
 * @t: destination reactor.
 * @fn: function.
 * @arg: its argument.
 *
 * Any thread. Never blocks: the message takes a preallocated slot of @t's
 * inbox (lock-free, multi-producer), and a sleeping @t is woken. Messages
 * from one sender run in the order they were sent.
 *
 * Return: 0, -ENOMEM when the inbox is full, -ESHUTDOWN when @t stopped.
 */
int nvmft_thread_send_msg(struct nvmft_thread *t, nvmft_msg_fn fn, void *arg);

/**
 * nvmft_thread_at_exit() - run @fn(@arg) on the calling reactor when it stops
 *
 * Calling reactor only. Handlers run last-registered first.
 *
 * Return: 0 or -ENOMEM.
 */
int nvmft_thread_at_exit(nvmft_msg_fn fn, void *arg);

/**
 * nvmft_thread_for_each() - run @fn on every reactor in turn, then @done
 * @rt: runtime.
 * @fn: runs on reactor 0, 1, … N-1 in order, each after the previous.
 * @arg: argument of @fn and @done.
 * @done: runs on the calling reactor after the last @fn (may be NULL).
 *
 * Calling reactor only (the originator must be able to receive @done).
 *
 * Return: 0 or a send error (then neither @fn nor @done ran).
 */
int nvmft_thread_for_each(struct nvmft_runtime *rt, nvmft_msg_fn fn,
			  void *arg, nvmft_msg_fn done);

/**
 * nvmft_poller_register() - add a poller to the calling reactor
 * @fn: body.
 * @arg: its argument.
 * @period_us: 0 = active poller (every loop turn), else a timed poller run
 *	every @period_us microseconds.
 *
 * Calling reactor only.
 *
 * Return: the poller, or NULL (not on a reactor, or no memory).
 */
struct nvmft_poller *nvmft_poller_register(nvmft_poller_fn fn, void *arg,
					   uint64_t period_us);

/**
 * nvmft_poller_unregister() - remove a poller and set *@pp to NULL
 *
 * Owning reactor only; safe from inside the poller itself. NULL is a no-op.
 */
void nvmft_poller_unregister(struct nvmft_poller **pp);

/** nvmft_poller_pause() - stop running a poller until resumed. Owning reactor. */
void nvmft_poller_pause(struct nvmft_poller *p);

/** nvmft_poller_resume() - resume a paused poller. Owning reactor. */
void nvmft_poller_resume(struct nvmft_poller *p);

/** typedef nvmft_channel_create_fn - build the per-reactor context @ctx */
typedef int (*nvmft_channel_create_fn)(void *io_device, void *ctx);
/** typedef nvmft_channel_destroy_fn - tear down the per-reactor context */
typedef void (*nvmft_channel_destroy_fn)(void *io_device, void *ctx);

/**
 * nvmft_io_device_register() - make @io_device a source of per-reactor contexts
 * @rt: runtime.
 * @io_device: any unique pointer (the key).
 * @create: builds a channel context on the reactor that first asks for one.
 * @destroy: tears it down, on that same reactor, when the last reference goes.
 * @ctx_size: bytes of per-reactor context (zeroed before @create).
 * @name: for diagnostics.
 *
 * Any thread (management path; takes the runtime's registry lock).
 *
 * Return: 0, -EEXIST, -ENOMEM.
 */
int nvmft_io_device_register(struct nvmft_runtime *rt, void *io_device,
			     nvmft_channel_create_fn create,
			     nvmft_channel_destroy_fn destroy,
			     size_t ctx_size, const char *name);

/**
 * nvmft_io_device_unregister() - retire @io_device
 * @rt: runtime.
 * @io_device: the key.
 * @done: runs on the calling reactor (or, off-reactor, on reactor 0) once
 *	every channel of the device is destroyed; may be NULL.
 * @arg: argument of @done.
 *
 * New nvmft_get_io_channel() calls fail from now on.
 *
 * Return: 0 or -ENOENT.
 */
int nvmft_io_device_unregister(struct nvmft_runtime *rt, void *io_device,
			       nvmft_msg_fn done, void *arg);

/**
 * nvmft_get_io_channel() - the calling reactor's channel of @io_device
 *
 * Calling reactor only. Creates it on first use, else takes a reference.
 *
 * Return: the channel, or NULL (unknown/unregistering device, not on a
 * reactor, @create failed, no memory).
 */
struct nvmft_io_channel *nvmft_get_io_channel(void *io_device);

/**
 * nvmft_put_io_channel() - drop a reference; the last one destroys the
 * channel (deferred to a later loop turn of the same reactor).
 * Owning reactor only.
 */
void nvmft_put_io_channel(struct nvmft_io_channel *ch);

/** nvmft_io_channel_get_ctx() - the per-reactor context of a channel */
void *nvmft_io_channel_get_ctx(struct nvmft_io_channel *ch);

/** nvmft_io_channel_get_thread() - reactor that owns a channel */
struct nvmft_thread *nvmft_io_channel_get_thread(struct nvmft_io_channel *ch);

/**
 * nvmft_for_each_channel() - run @fn on each reactor that has a channel of
 * @io_device, one after the other, then @done on the calling reactor
 * @rt: runtime.
 * @io_device: the key.
 * @fn: gets the channel (valid only during the call) and @arg.
 * @arg: argument.
 * @done: runs on the calling reactor at the end (may be NULL).
 *
 * Calling reactor only.
 *
 * Return: 0, -ENOENT, or a send error.
 */
int nvmft_for_each_channel(struct nvmft_runtime *rt, void *io_device,
			   void (*fn)(struct nvmft_io_channel *ch, void *arg),
			   void *arg, nvmft_msg_fn done);

/**
 * nvmft_now_us() - monotonic clock in microseconds (cheap; vDSO). Any thread.
 */
uint64_t nvmft_now_us(void);

/**
 * struct nvmft_thread_stats - counters of one reactor
 * @loops: loop turns.
 * @busy_loops: turns that did work.
 * @sleeps: times it slept in the engine.
 * @msgs: messages run.
 * @completions: engine completions handled.
 * @busy_us: time spent in turns that did work.
 * @idle_us: time spent in turns that did no work (sleep included).
 */
struct nvmft_thread_stats {
	uint64_t loops;
	uint64_t busy_loops;
	uint64_t sleeps;
	uint64_t msgs;
	uint64_t completions;
	uint64_t busy_us;
	uint64_t idle_us;
};

/**
 * nvmft_thread_get_stats() - a reactor's counters (relaxed reads). Any thread.
 */
void nvmft_thread_get_stats(const struct nvmft_thread *t,
			    struct nvmft_thread_stats *st);

/**
 * enum nvmft_log_level - log levels
 */
enum nvmft_log_level {
	NVMFT_LOG_ERR = 3,
	NVMFT_LOG_WARN = 4,
	NVMFT_LOG_NOTICE = 5,
	NVMFT_LOG_INFO = 6,
	NVMFT_LOG_DEBUG = 7,
};

/**
 * typedef nvmft_log_fn - log sink
 */
typedef void (*nvmft_log_fn)(void *ctx, enum nvmft_log_level level,
			     const char *msg);

/**
 * nvmft_runtime_set_log() - route the runtime's (and its target's) log lines
 * @rt: runtime.
 * @level: most verbose level written.
 * @fn: sink; NULL = stderr with a timestamp.
 * @ctx: its context.
 *
 * Any thread, before start or at any time (the level is atomic).
 */
void nvmft_runtime_set_log(struct nvmft_runtime *rt, enum nvmft_log_level level,
			   nvmft_log_fn fn, void *ctx);

/**
 * nvmft_log_syslog() - a log sink writing to syslog(3)
 * @ctx: unused (NULL).
 * @level: the line's level, used as its syslog priority (the values are
 *	syslog's LOG_ERR .. LOG_DEBUG).
 * @msg: the line; the reactor index is prefixed ("[r2] ...").
 *
 * Pass it to nvmft_runtime_set_log(). The facility and identity are the
 * caller's openlog(3) (nvmf-tgtd: "nvmf-tgtd", LOG_DAEMON). Any thread.
 */
void nvmft_log_syslog(void *ctx, enum nvmft_log_level level, const char *msg);

/**
 * nvmft_runtime_set_log_level() - change the level, keeping the sink
 * Any thread. Levels outside ERR..DEBUG are ignored.
 */
void nvmft_runtime_set_log_level(struct nvmft_runtime *rt,
				 enum nvmft_log_level level);

/** nvmft_runtime_get_log_level() - the current level. Any thread. */
enum nvmft_log_level nvmft_runtime_get_log_level(const struct nvmft_runtime *rt);

/**
 * nvmft_log() - write a log line through @rt's sink (printf format)
 */
void nvmft_log(struct nvmft_runtime *rt, enum nvmft_log_level level,
	       const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/**
 * nvmft_parse_cpu_list() - parse "0-3,6" into a bitmap of up to 1024 CPUs
 * @s: list.
 * @mask: 16 uint64_t words.
 *
 * Return: number of CPUs, or -EINVAL (naming nothing: the caller reports @s).
 */
int nvmft_parse_cpu_list(const char *s, uint64_t mask[16]);

#ifdef __cplusplus
}
#endif
#endif
