/* SPDX-License-Identifier: MIT */
/*
 * Log sinks: nvmft_runtime_set_log() routes every line at or below the
 * level to the sink, from any thread; nvmft_log_syslog() hands lines to
 * syslog(3) with our level as the priority.
 *
 * No syslog daemon is involved: this program defines syslog() itself
 * (and the _FORTIFY_SOURCE entry points), and the executable's
 * definition is the one the library's call binds to.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include <nvmft/runtime.h>

/* ---- a syslog that records ------------------------------------------------ */

#define MAX_LINES 16

static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static int rec_prio[MAX_LINES];
static char rec_text[MAX_LINES][256];
static int rec_n;

static void record(int prio, const char *fmt, va_list ap)
{
	pthread_mutex_lock(&rec_lock);
	if (rec_n < MAX_LINES) {
		rec_prio[rec_n] = prio;
		vsnprintf(rec_text[rec_n], sizeof(rec_text[0]), fmt, ap);
		rec_n++;
	}
	pthread_mutex_unlock(&rec_lock);
}

void syslog(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record(prio, fmt, ap);
	va_end(ap);
}

void __syslog_chk(int prio, int flag, const char *fmt, ...);
void __syslog_chk(int prio, int flag, const char *fmt, ...)
{
	va_list ap;

	(void)flag;
	va_start(ap, fmt);
	record(prio, fmt, ap);
	va_end(ap);
}

static void reset(void)
{
	pthread_mutex_lock(&rec_lock);
	rec_n = 0;
	pthread_mutex_unlock(&rec_lock);
}

/* ---- a sink that records ---------------------------------------------------- */

struct sink {
	int calls;
	enum nvmft_log_level level[MAX_LINES];
	char msg[MAX_LINES][256];
	bool on_reactor[MAX_LINES];
};

static void test_sink(void *ctx, enum nvmft_log_level level, const char *msg)
{
	struct sink *s = ctx;

	if (s->calls < MAX_LINES) {
		s->level[s->calls] = level;
		snprintf(s->msg[s->calls], sizeof(s->msg[0]), "%s", msg);
		s->on_reactor[s->calls] = nvmft_get_thread() != NULL;
	}
	s->calls++;
}

static struct nvmft_runtime *start_rt(void)
{
	struct nvmft_runtime_opts o;
	struct nvmft_runtime *rt;

	nvmft_runtime_opts_init(&o);
	o.nr_reactors = 1;
	o.name = "tlog";
	assert_int_equal(nvmft_runtime_create(&o, &rt), 0);
	return rt;
}

static void stop_rt(struct nvmft_runtime *rt, bool started)
{
	if (started)
		nvmft_runtime_stop(rt);
	nvmft_runtime_destroy(rt);
}

static void log_from_reactor(void *arg)
{
	nvmft_log(arg, NVMFT_LOG_WARN, "from the reactor: %d", 7);
}

static void test_sink_gets_lines_up_to_the_level(void **state)
{
	struct nvmft_runtime *rt = start_rt();
	struct sink s = { 0 };

	nvmft_runtime_set_log(rt, NVMFT_LOG_INFO, test_sink, &s);
	assert_int_equal(nvmft_runtime_start(rt), 0);
	s.calls = 0;		/* what starting said (the engine) */
	nvmft_log(rt, NVMFT_LOG_ERR, "bad %s", "thing");
	nvmft_log(rt, NVMFT_LOG_INFO, "info line");
	nvmft_log(rt, NVMFT_LOG_DEBUG, "not shown");
	assert_int_equal(nvmft_runtime_exec(rt, 0, log_from_reactor, rt), 0);
	assert_int_equal(s.calls, 3);
	assert_int_equal(s.level[0], NVMFT_LOG_ERR);
	assert_string_equal(s.msg[0], "bad thing");
	assert_false(s.on_reactor[0]);
	assert_int_equal(s.level[1], NVMFT_LOG_INFO);
	assert_string_equal(s.msg[2], "from the reactor: 7");
	assert_true(s.on_reactor[2]);
	/* the level moves, the sink stays */
	nvmft_runtime_set_log_level(rt, NVMFT_LOG_DEBUG);
	nvmft_log(rt, NVMFT_LOG_DEBUG, "now shown");
	assert_int_equal(s.calls, 4);
	assert_string_equal(s.msg[3], "now shown");
	stop_rt(rt, true);
}

static void test_syslog_sink_uses_level_as_priority(void **state)
{
	struct nvmft_runtime *rt = start_rt();

	nvmft_runtime_set_log(rt, NVMFT_LOG_NOTICE, nvmft_log_syslog, NULL);
	assert_int_equal(nvmft_runtime_start(rt), 0);
	reset();		/* what starting said (the engine) */
	nvmft_log(rt, NVMFT_LOG_ERR, "listener %s:%d: %s", "127.0.0.1", 4420,
		  "Address already in use");
	nvmft_log(rt, NVMFT_LOG_NOTICE, "100%% done");
	nvmft_log(rt, NVMFT_LOG_INFO, "filtered out");
	assert_int_equal(nvmft_runtime_exec(rt, 0, log_from_reactor, rt), 0);
	stop_rt(rt, true);

	assert_int_equal(rec_n, 3);
	assert_int_equal(rec_prio[0], LOG_ERR);
	assert_string_equal(rec_text[0],
			    "[main] listener 127.0.0.1:4420: Address already in use");
	/* the message is an argument, never a format */
	assert_int_equal(rec_prio[1], LOG_NOTICE);
	assert_string_equal(rec_text[1], "[main] 100% done");
	assert_int_equal(rec_prio[2], LOG_WARNING);
	assert_string_equal(rec_text[2], "[r0] from the reactor: 7");
}

static void test_levels_are_syslog_priorities(void **state)
{
	assert_int_equal(NVMFT_LOG_ERR, LOG_ERR);
	assert_int_equal(NVMFT_LOG_WARN, LOG_WARNING);
	assert_int_equal(NVMFT_LOG_NOTICE, LOG_NOTICE);
	assert_int_equal(NVMFT_LOG_INFO, LOG_INFO);
	assert_int_equal(NVMFT_LOG_DEBUG, LOG_DEBUG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sink_gets_lines_up_to_the_level),
		cmocka_unit_test(test_syslog_sink_uses_level_as_priority),
		cmocka_unit_test(test_levels_are_syslog_priorities),
	};

	return cmocka_run_group_tests_name("log_sink", tests, NULL, NULL);
}
