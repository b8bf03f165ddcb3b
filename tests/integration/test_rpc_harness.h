/* SPDX-License-Identifier: MIT */
/*
 * Shared by the JSON-RPC integration tests (test_rpc*.c): an in-process
 * target (2 reactors) with its RPC server on a socket in a fresh temporary
 * directory, and a plain client (Unix socket + json-c, reading answers as
 * SPDK's rpc.py does: until one complete JSON object parses).
 */
#ifndef NVMFT_TESTS_RPC_HARNESS_H
#define NVMFT_TESTS_RPC_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <nvmft/nvmf.h>
#include <nvmft/rpc.h>
#include <nvmft/runtime.h>

#define RH_UNUSED __attribute__((unused))
#define RH_WAIT_MS 15000

struct rh_env {
	struct nvmft_runtime *rt;
	struct nvmft_tgt *tgt;
	struct nvmft_rpc_server *srv;
	char dir[64];
	char path[96];
	int fds_before;
	/* results of steps on the app reactor */
	_Atomic int done;
	int rc;
};

/* A client connection and what it received but did not parse yet. */
struct rh_conn {
	int fd;
	char *buf;
	size_t len;
	size_t cap;
	int next_id;
};

/* A TCP port on 127.0.0.1 that was free a moment ago (for listeners). */
static RH_UNUSED int rh_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static RH_UNUSED uint64_t rh_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#define RH_WAIT_FOR(cond, ms) ({					\
	uint64_t _end = rh_now_ms() + (ms);				\
	bool _ok;							\
	while (!(_ok = (cond)) && rh_now_ms() < _end)			\
		usleep(1000);						\
	_ok; })

static RH_UNUSED int rh_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

/* ---- target + server ------------------------------------------------------ */

static RH_UNUSED void rh_done_cb(void *arg, int rc)
{
	struct rh_env *e = arg;

	e->rc = rc;
	atomic_store(&e->done, 1);
}

static RH_UNUSED int rh_wait_done(struct rh_env *e)
{
	if (!RH_WAIT_FOR(atomic_load(&e->done), RH_WAIT_MS))
		return -ETIMEDOUT;
	return e->rc;
}

static RH_UNUSED void rh_step_tgt(void *arg)
{
	struct rh_env *e = arg;
	struct nvmft_tgt_opts o;

	nvmft_tgt_opts_init(&o);
	o.name = "rpc-test";
	e->rc = nvmft_tgt_create(e->rt, &o, &e->tgt);
	if (!e->rc)
		e->rc = nvmft_rpc_server_create(e->tgt, e->path, 0600, &e->srv);
}

static RH_UNUSED void rh_step_srv_destroy(void *arg)
{
	struct rh_env *e = arg;

	nvmft_rpc_server_destroy(e->srv, rh_done_cb, e);
}

static RH_UNUSED void rh_step_tgt_destroy(void *arg)
{
	struct rh_env *e = arg;

	nvmft_tgt_destroy(e->tgt, rh_done_cb, e);
}

static RH_UNUSED void rh_quiet_log(void *ctx, enum nvmft_log_level level,
				   const char *msg)
{
	if (getenv("RPC_TEST_VERBOSE") || level <= NVMFT_LOG_ERR)
		fprintf(stderr, "[tgt %d] %s\n", level, msg);
}

/* Runtime + target + server on a fresh socket path. */
static RH_UNUSED void rh_start(struct rh_env *e)
{
	struct nvmft_runtime_opts ro;

	memset(e, 0, sizeof(*e));
	e->fds_before = rh_count_fds();
	snprintf(e->dir, sizeof(e->dir), "/tmp/nvmft-rpc-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->path, sizeof(e->path), "%s/rpc.sock", e->dir);
	nvmft_runtime_opts_init(&ro);
	ro.nr_reactors = 2;
	ro.name = "trpc";
	assert_int_equal(nvmft_runtime_create(&ro, &e->rt), 0);
	nvmft_runtime_set_log(e->rt, NVMFT_LOG_INFO, rh_quiet_log, NULL);
	assert_int_equal(nvmft_runtime_start(e->rt), 0);
	assert_int_equal(nvmft_runtime_exec(e->rt, 0, rh_step_tgt, e), 0);
	assert_int_equal(e->rc, 0);
}

static RH_UNUSED void rh_stop_server(struct rh_env *e)
{
	struct stat st;

	if (!e->srv)
		return;
	atomic_store(&e->done, 0);
	assert_int_equal(nvmft_runtime_exec(e->rt, 0, rh_step_srv_destroy, e), 0);
	assert_int_equal(rh_wait_done(e), 0);
	e->srv = NULL;
	/* The socket file went with the server. */
	assert_int_equal(lstat(e->path, &st), -1);
}

static RH_UNUSED void rh_stop(struct rh_env *e)
{
	rh_stop_server(e);
	atomic_store(&e->done, 0);
	assert_int_equal(nvmft_runtime_exec(e->rt, 0, rh_step_tgt_destroy, e), 0);
	assert_int_equal(rh_wait_done(e), 0);
	nvmft_runtime_stop(e->rt);
	nvmft_runtime_destroy(e->rt);
	assert_int_equal(rmdir(e->dir), 0);
	assert_int_equal(rh_count_fds(), e->fds_before);
}

/* ---- client ------------------------------------------------------------------ */

static RH_UNUSED int rh_open(struct rh_conn *c, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = RH_WAIT_MS / 1000 };

	memset(c, 0, sizeof(*c));
	c->next_id = 1;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int rc = -errno;

		close(c->fd);
		c->fd = -1;
		return rc;
	}
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return 0;
}

static RH_UNUSED void rh_close(struct rh_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = 0;
}

static RH_UNUSED int rh_send_raw(struct rh_conn *c, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Parse one JSON object from the front of the buffer; NULL if incomplete. */
static RH_UNUSED struct json_object *rh_take(struct rh_conn *c)
{
	struct json_tokener *tok;
	struct json_object *o;
	size_t skip = 0, end;

	while (skip < c->len && (c->buf[skip] == ' ' || c->buf[skip] == '\n' ||
				 c->buf[skip] == '\r' || c->buf[skip] == '\t'))
		skip++;
	if (skip == c->len)
		return NULL;
	tok = json_tokener_new();
	o = json_tokener_parse_ex(tok, c->buf + skip, (int)(c->len - skip));
	end = skip + json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!o)
		return NULL;
	memmove(c->buf, c->buf + end, c->len - end);
	c->len -= end;
	return o;
}

/* The next answer, or NULL on EOF / timeout (*eof tells which). */
static RH_UNUSED struct json_object *rh_read(struct rh_conn *c, bool *eof)
{
	struct json_object *o;

	if (eof)
		*eof = false;
	for (;;) {
		ssize_t n;

		o = rh_take(c);
		if (o)
			return o;
		if (c->cap - c->len < 4096) {
			c->cap = c->cap ? c->cap * 2 : 65536;
			c->buf = realloc(c->buf, c->cap);
			assert_non_null(c->buf);
		}
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (eof)
				*eof = n == 0 || errno == ECONNRESET;
			return NULL;
		}
		c->len += (size_t)n;
	}
}

/* Send one request (params: JSON text or NULL) and return the whole answer. */
static RH_UNUSED struct json_object *rh_call_v(struct rh_conn *c, const char *method,
					       const char *fmt, va_list ap)
{
	struct json_object *ans, *id;
	char params[8192], req[9000];
	int my = c->next_id++;

	if (fmt) {
		vsnprintf(params, sizeof(params), fmt, ap);
		snprintf(req, sizeof(req),
			 "{\"jsonrpc\":\"2.0\",\"method\":\"%s\",\"id\":%d,\"params\":%s}",
			 method, my, params);
	} else {
		snprintf(req, sizeof(req),
			 "{\"jsonrpc\":\"2.0\",\"method\":\"%s\",\"id\":%d}", method, my);
	}
	assert_int_equal(rh_send_raw(c, req, strlen(req)), 0);
	ans = rh_read(c, NULL);
	assert_non_null(ans);
	assert_true(json_object_object_get_ex(ans, "id", &id));
	assert_int_equal(json_object_get_int(id), my);
	return ans;
}

static RH_UNUSED struct json_object *rh_call(struct rh_conn *c, const char *method,
					     const char *fmt, ...)
{
	struct json_object *ans;
	va_list ap;

	va_start(ap, fmt);
	ans = rh_call_v(c, method, fmt, ap);
	va_end(ap);
	return ans;
}

/* The result of a successful call (a reference for the caller). */
__attribute__((format(printf, 3, 4)))
static RH_UNUSED struct json_object *rh_ok(struct rh_conn *c, const char *method,
					   const char *fmt, ...)
{
	struct json_object *ans, *res, *err;
	va_list ap;

	va_start(ap, fmt);
	ans = rh_call_v(c, method, fmt, ap);
	va_end(ap);
	if (json_object_object_get_ex(ans, "error", &err))
		fail_msg("%s: unexpected error %s", method,
			 json_object_to_json_string(err));
	assert_true(json_object_object_get_ex(ans, "result", &res));
	json_object_get(res);
	json_object_put(ans);
	return res;
}

__attribute__((format(printf, 3, 4)))
static RH_UNUSED void rh_ok_true(struct rh_conn *c, const char *method,
				 const char *fmt, ...)
{
	struct json_object *ans, *res, *err;
	va_list ap;

	va_start(ap, fmt);
	ans = rh_call_v(c, method, fmt, ap);
	va_end(ap);
	if (json_object_object_get_ex(ans, "error", &err))
		fail_msg("%s: unexpected error %s", method,
			 json_object_to_json_string(err));
	assert_true(json_object_object_get_ex(ans, "result", &res));
	assert_true(json_object_is_type(res, json_type_boolean));
	assert_true(json_object_get_boolean(res));
	json_object_put(ans);
}

/* The error code of a failed call; its message copied to @msg. */
__attribute__((format(printf, 5, 6)))
static RH_UNUSED int rh_err(struct rh_conn *c, const char *method, char *msg,
			    size_t len, const char *fmt, ...)
{
	struct json_object *ans, *err, *code, *m;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	ans = rh_call_v(c, method, fmt, ap);
	va_end(ap);
	if (!json_object_object_get_ex(ans, "error", &err))
		fail_msg("%s: expected an error, got %s", method,
			 json_object_to_json_string(ans));
	assert_false(json_object_object_get_ex(ans, "result", NULL));
	assert_true(json_object_object_get_ex(err, "code", &code));
	assert_true(json_object_object_get_ex(err, "message", &m));
	rc = json_object_get_int(code);
	if (msg)
		snprintf(msg, len, "%s", json_object_get_string(m));
	json_object_put(ans);
	return rc;
}

/* Member @key of object @o (borrowed). */
static RH_UNUSED struct json_object *rh_get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no member \"%s\" in %s", key, json_object_to_json_string(o));
	return v;
}

static RH_UNUSED const char *rh_str(struct json_object *o, const char *key)
{
	return json_object_get_string(rh_get(o, key));
}

static RH_UNUSED int64_t rh_int(struct json_object *o, const char *key)
{
	return json_object_get_int64(rh_get(o, key));
}

/* @msg contains @part. */
#define assert_contains(msg, part) do {					\
	if (!strstr((msg), (part)))					\
		fail_msg("\"%s\" does not contain \"%s\"", (msg), (part)); \
} while (0)

#endif
