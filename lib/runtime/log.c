// SPDX-License-Identifier: MIT
/*
 * Per-runtime log: a level (atomic, so it can change while reactors log)
 * and a sink. The default sink writes one timestamped line to stderr;
 * nvmft_log_syslog() is a ready-made sink for daemons.
 */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

#include "runtime/runtime_priv.h"

#define LOG_LINE_MAX	1024

void log_init(struct nvmft_runtime *rt)
{
	atomic_init(&rt->log_level, NVMFT_LOG_NOTICE);
	pthread_mutex_init(&rt->log_lock, NULL);
	rt->log_fn = NULL;
	rt->log_ctx = NULL;
}

void log_fini(struct nvmft_runtime *rt)
{
	pthread_mutex_destroy(&rt->log_lock);
}

static const char *level_name(enum nvmft_log_level level)
{
	switch (level) {
	case NVMFT_LOG_ERR:	return "ERR";
	case NVMFT_LOG_WARN:	return "WARN";
	case NVMFT_LOG_NOTICE:	return "NOTICE";
	case NVMFT_LOG_INFO:	return "INFO";
	case NVMFT_LOG_DEBUG:	return "DEBUG";
	}
	return "?";
}

/* "r3" on reactor 3, "main" elsewhere. */
static void thread_tag(char *who, size_t len)
{
	struct nvmft_thread *t = nvmft_get_thread();

	if (t)
		snprintf(who, len, "r%u", nvmft_thread_index(t));
	else
		snprintf(who, len, "main");
}

static void stderr_sink(enum nvmft_log_level level, const char *msg)
{
	char when[32], who[16];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	thread_tag(who, sizeof(who));
	/* One call: stdio locks the stream, so lines from reactors do not mix. */
	fprintf(stderr, "%s.%03ld %s [%s] %s\n", when, ts.tv_nsec / 1000000,
		level_name(level), who, msg);
}

void nvmft_log_syslog(void *ctx, enum nvmft_log_level level, const char *msg)
{
	char who[16];

	/* Our levels are syslog's priorities; syslogd adds the time. */
	thread_tag(who, sizeof(who));
	syslog((int)level, "[%s] %s", who, msg);
}

void nvmft_runtime_set_log(struct nvmft_runtime *rt, enum nvmft_log_level level,
			   nvmft_log_fn fn, void *ctx)
{
	if (!rt)
		return;
	if (level < NVMFT_LOG_ERR)
		level = NVMFT_LOG_ERR;
	if (level > NVMFT_LOG_DEBUG)
		level = NVMFT_LOG_DEBUG;
	pthread_mutex_lock(&rt->log_lock);
	rt->log_fn = fn;
	rt->log_ctx = ctx;
	pthread_mutex_unlock(&rt->log_lock);
	atomic_store_explicit(&rt->log_level, level, memory_order_relaxed);
}

void nvmft_runtime_set_log_level(struct nvmft_runtime *rt,
				 enum nvmft_log_level level)
{
	if (level < NVMFT_LOG_ERR || level > NVMFT_LOG_DEBUG)
		return;
	atomic_store_explicit(&rt->log_level, level, memory_order_relaxed);
}

enum nvmft_log_level nvmft_runtime_get_log_level(const struct nvmft_runtime *rt)
{
	return (enum nvmft_log_level)atomic_load_explicit(
		&((struct nvmft_runtime *)rt)->log_level, memory_order_relaxed);
}

void nvmft_log(struct nvmft_runtime *rt, enum nvmft_log_level level,
	       const char *fmt, ...)
{
	char msg[LOG_LINE_MAX];
	nvmft_log_fn fn = NULL;
	void *ctx = NULL;
	va_list ap;
	int max;

	max = rt ? atomic_load_explicit(&rt->log_level, memory_order_relaxed) :
		   NVMFT_LOG_NOTICE;
	if ((int)level > max)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rt) {
		pthread_mutex_lock(&rt->log_lock);
		fn = rt->log_fn;
		ctx = rt->log_ctx;
		pthread_mutex_unlock(&rt->log_lock);
	}
	if (fn)
		fn(ctx, level, msg);
	else
		stderr_sink(level, msg);
}
