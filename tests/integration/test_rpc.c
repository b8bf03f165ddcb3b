/* SPDX-License-Identifier: MIT */
/*
 * JSON-RPC server: the protocol (framing, JSON-RPC 2.0 errors, ids,
 * notifications, pipelining, oversize requests), connections (several at
 * once, clients going away, the connection limit, server teardown),
 * embedders' methods, and the framework methods (rpc_get_methods,
 * versions, log level, reactors, wait mode).
 */
#include "test_rpc_harness.h"

#include <signal.h>

#include "rpc/rpc_internal.h"

/* ---- framing -------------------------------------------------------------- */

static void frame_all(const char *text, enum rpc_frame_kind *kinds, size_t *ends,
		      int *n, int max)
{
	struct rpc_frame f;
	size_t s, e, len = strlen(text);
	enum rpc_frame_kind k;

	rpc_frame_init(&f);
	*n = 0;
	while (*n < max) {
		k = rpc_frame_next(&f, text, len, 1 << 20, &s, &e);
		if (k == RPC_FRAME_MORE || k == RPC_FRAME_TOO_BIG)
			break;
		kinds[*n] = k;
		ends[*n] = e;
		(*n)++;
	}
}

static void framer_cuts_values_junk_and_broken_strings(void **state)
{
	enum rpc_frame_kind k[8];
	size_t e[8];
	int n;

	/* Braces and brackets inside strings, escaped quotes. */
	frame_all("{\"a\":\"}{\\\"]\"} [1,[2]]", k, e, &n, 8);
	assert_int_equal(n, 2);
	assert_int_equal(k[0], RPC_FRAME_OBJECT);
	assert_int_equal(e[0], 13);
	assert_int_equal(k[1], RPC_FRAME_OBJECT);

	/* Junk before a value is one piece; the value follows intact. */
	frame_all("hello world {\"x\":1}", k, e, &n, 8);
	assert_int_equal(n, 2);
	assert_int_equal(k[0], RPC_FRAME_JUNK);
	assert_int_equal(e[0], 12);
	assert_int_equal(k[1], RPC_FRAME_OBJECT);

	/* A raw newline ends a broken string: resynchronise after it. */
	frame_all("{\"a\":\"broken\n{\"b\":2}", k, e, &n, 8);
	assert_int_equal(n, 2);
	assert_int_equal(k[0], RPC_FRAME_JUNK);
	assert_int_equal(k[1], RPC_FRAME_OBJECT);
	assert_int_equal(e[1], strlen("{\"a\":\"broken\n{\"b\":2}"));

	/* Incomplete: nothing yet. */
	frame_all("  {\"a\": [1, 2", k, e, &n, 8);
	assert_int_equal(n, 0);
}

static void framer_resumes_across_chunks_and_bounds_size(void **state)
{
	const char *text = "{\"method\":\"x\",\"params\":{\"s\":\"a}b\"}}";
	struct rpc_frame f;
	size_t s, e, len = strlen(text), i;
	char big[300];

	rpc_frame_init(&f);
	/* One byte more at a time, as a slow client would send. */
	for (i = 1; i < len; i++)
		assert_int_equal(rpc_frame_next(&f, text, i, 1 << 20, &s, &e),
				 RPC_FRAME_MORE);
	assert_int_equal(rpc_frame_next(&f, text, len, 1 << 20, &s, &e),
			 RPC_FRAME_OBJECT);
	assert_int_equal(s, 0);
	assert_int_equal(e, len);

	/* A value growing past the limit without closing. */
	memset(big, 'a', sizeof(big));
	big[0] = '{';
	big[1] = '"';
	rpc_frame_init(&f);
	assert_int_equal(rpc_frame_next(&f, big, 100, 256, &s, &e), RPC_FRAME_MORE);
	assert_int_equal(rpc_frame_keep_from(&f), 0);
	assert_int_equal(rpc_frame_next(&f, big, sizeof(big), 256, &s, &e),
			 RPC_FRAME_TOO_BIG);
}

/* ---- protocol -------------------------------------------------------------- */

static void get_methods_lists_every_builtin_method(void **state)
{
	static const char *const want[] = {
		"rpc_get_methods", "spdk_get_version", "framework_wait_init",
		"save_config", "bdev_malloc_create", "bdev_malloc_delete",
		"bdev_null_create", "bdev_null_delete", "bdev_uring_create",
		"bdev_uring_delete", "bdev_get_bdevs", "nvmf_create_transport",
		"nvmf_get_transports", "nvmf_create_subsystem",
		"nvmf_delete_subsystem", "nvmf_get_subsystems",
		"nvmf_subsystem_add_listener", "nvmf_subsystem_remove_listener",
		"nvmf_subsystem_add_ns", "nvmf_subsystem_remove_ns",
		"nvmf_subsystem_add_host", "nvmf_subsystem_remove_host",
		"nvmf_subsystem_allow_any_host", "nvmf_subsystem_get_controllers",
		"nvmf_subsystem_get_qpairs", "nvmf_get_stats",
		"nvmf_discovery_add_referral", "nvmf_discovery_remove_referral",
		"nvmf_discovery_get_referrals", "nvmft_set_log_level",
		"nvmft_get_reactors", "nvmft_set_wait_mode",
	};
	struct rh_env e;
	struct rh_conn c;
	struct json_object *r;
	size_t i, j;

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	r = rh_ok(&c, "rpc_get_methods", NULL);
	assert_true(json_object_is_type(r, json_type_array));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		for (j = 0; j < json_object_array_length(r); j++) {
			if (!strcmp(json_object_get_string(json_object_array_get_idx(r, j)),
				    want[i]))
				break;
		}
		if (j == json_object_array_length(r))
			fail_msg("method %s is not listed", want[i]);
	}
	json_object_put(r);
	r = rh_ok(&c, "rpc_get_methods", "{\"current\": true}");
	json_object_put(r);
	rh_close(&c);
	rh_stop(&e);
}

static void version_and_wait_init_answer(void **state)
{
	struct rh_env e;
	struct rh_conn c;
	struct json_object *r;
	char msg[256];

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	r = rh_ok(&c, "spdk_get_version", NULL);
	assert_string_equal(rh_str(r, "version"), "nvmft v" NVMFT_VERSION);
	assert_true(json_object_is_type(rh_get(rh_get(r, "fields"), "major"),
					json_type_int));
	json_object_put(r);
	rh_ok_true(&c, "framework_wait_init", NULL);
	/* Methods without parameters refuse unknown ones. */
	assert_int_equal(rh_err(&c, "framework_wait_init", msg, sizeof(msg),
				"{\"x\": 1}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.x: unknown parameter");
	rh_close(&c);
	rh_stop(&e);
}

static void unknown_method_is_32601_and_connection_stays(void **state)
{
	struct rh_env e;
	struct rh_conn c;
	char msg[256];

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	assert_int_equal(rh_err(&c, "no_such_method", msg, sizeof(msg), NULL),
			 NVMFT_RPC_METHOD_NOT_FOUND);
	assert_contains(msg, "no_such_method");
	rh_ok_true(&c, "framework_wait_init", NULL);
	rh_close(&c);
	rh_stop(&e);
}

/* Send @raw; expect one error answer with @code and id null, then a
 * normal request still works on the same connection. */
static void expect_raw_error(struct rh_conn *c, const char *raw, int code)
{
	struct json_object *ans, *err, *id;

	assert_int_equal(rh_send_raw(c, raw, strlen(raw)), 0);
	ans = rh_read(c, NULL);
	assert_non_null(ans);
	assert_true(json_object_object_get_ex(ans, "error", &err));
	assert_int_equal(json_object_get_int(rh_get(err, "code")), code);
	assert_true(json_object_object_get_ex(ans, "id", &id));
	json_object_put(ans);
	rh_ok_true(c, "framework_wait_init", NULL);
}

static void malformed_json_is_32700_and_connection_stays(void **state)
{
	struct rh_env e;
	struct rh_conn c;

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	expect_raw_error(&c, "{\"jsonrpc\":\"2.0\",\"method\": nope, \"id\": 1}",
			 NVMFT_RPC_PARSE_ERROR);
	expect_raw_error(&c, "{\"a\":1,}", NVMFT_RPC_PARSE_ERROR);
	expect_raw_error(&c, "this is not json ", NVMFT_RPC_PARSE_ERROR);
	expect_raw_error(&c, "}", NVMFT_RPC_PARSE_ERROR);
	/* A broken string: the raw newline lets the server resynchronise. */
	expect_raw_error(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"x\n", NVMFT_RPC_PARSE_ERROR);
	/* Invalid UTF-8 in a string. */
	expect_raw_error(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"\xff\xfe\",\"id\":1}",
			 NVMFT_RPC_PARSE_ERROR);
	rh_close(&c);
	rh_stop(&e);
}

static void invalid_requests_are_32600(void **state)
{
	struct rh_env e;
	struct rh_conn c;
	char msg[256];

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	expect_raw_error(&c, "[{\"jsonrpc\":\"2.0\",\"method\":\"rpc_get_methods\",\"id\":1}]",
			 NVMFT_RPC_INVALID_REQUEST);
	expect_raw_error(&c, "{\"method\":\"rpc_get_methods\",\"id\":1}",
			 NVMFT_RPC_INVALID_REQUEST);
	expect_raw_error(&c, "{\"jsonrpc\":\"1.0\",\"method\":\"rpc_get_methods\",\"id\":1}",
			 NVMFT_RPC_INVALID_REQUEST);
	expect_raw_error(&c, "{\"jsonrpc\":\"2.0\",\"method\":7,\"id\":1}",
			 NVMFT_RPC_INVALID_REQUEST);
	expect_raw_error(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":{}}",
			 NVMFT_RPC_INVALID_REQUEST);
	/* Positional params: Invalid params, naming the method. */
	assert_int_equal(rh_err(&c, "bdev_get_bdevs", msg, sizeof(msg), "[1]"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "bdev_get_bdevs");
	rh_close(&c);
	rh_stop(&e);
}

static void ids_are_echoed_and_notifications_not_answered(void **state)
{
	static const char reqs[] =
		"{\"jsonrpc\":\"2.0\",\"method\":\"framework_wait_init\"}"
		"{\"jsonrpc\":\"2.0\",\"method\":\"no_such_method\"}"
		"{\"jsonrpc\":\"2.0\",\"method\":\"framework_wait_init\",\"id\":\"abc\"}"
		"{\"jsonrpc\":\"2.0\",\"method\":\"framework_wait_init\",\"id\":null}"
		"{\"jsonrpc\":\"2.0\",\"method\":\"framework_wait_init\",\"id\":2.5}";
	struct rh_env e;
	struct rh_conn c;
	struct json_object *a, *id;

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	assert_int_equal(rh_send_raw(&c, reqs, strlen(reqs)), 0);
	/* The two notifications (even the failing one) get nothing. */
	a = rh_read(&c, NULL);
	assert_non_null(a);
	assert_string_equal(json_object_get_string(rh_get(a, "id")), "abc");
	json_object_put(a);
	a = rh_read(&c, NULL);
	assert_non_null(a);
	assert_true(json_object_object_get_ex(a, "id", &id));
	assert_null(id);
	assert_true(json_object_get_boolean(rh_get(a, "result")));
	json_object_put(a);
	a = rh_read(&c, NULL);
	assert_non_null(a);
	assert_true(json_object_get_double(rh_get(a, "id")) == 2.5);
	assert_string_equal(rh_str(a, "jsonrpc"), "2.0");
	json_object_put(a);
	rh_close(&c);
	rh_stop(&e);
}

static void pipelined_and_byte_by_byte_requests_are_served_in_order(void **state)
{
	struct rh_env e;
	struct rh_conn c;
	struct json_object *a;
	char req[128];
	char *all;
	size_t off = 0, i;
	int n;

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	/* 200 requests in one write, separated by nothing at all. */
	all = malloc(200 * 128);
	assert_non_null(all);
	for (n = 0; n < 200; n++)
		off += (size_t)sprintf(all + off, "{\"jsonrpc\":\"2.0\",\"method\":"
				       "\"spdk_get_version\",\"id\":%d}", n);
	assert_int_equal(rh_send_raw(&c, all, off), 0);
	free(all);
	for (n = 0; n < 200; n++) {
		a = rh_read(&c, NULL);
		assert_non_null(a);
		assert_int_equal(json_object_get_int(rh_get(a, "id")), n);
		json_object_put(a);
	}
	/* One byte per write: the server waits for the whole object. */
	n = snprintf(req, sizeof(req), "  {\"jsonrpc\":\"2.0\",\"method\":"
		     "\"framework_wait_init\",\"id\":77}\n");
	for (i = 0; i < (size_t)n; i++) {
		assert_int_equal(rh_send_raw(&c, req + i, 1), 0);
		if (i % 16 == 0)
			usleep(200);
	}
	a = rh_read(&c, NULL);
	assert_non_null(a);
	assert_int_equal(json_object_get_int(rh_get(a, "id")), 77);
	json_object_put(a);
	rh_close(&c);
	rh_stop(&e);
}

struct sender {
	int fd;
	size_t len;
	int rc;
};

/* Sends without reading: the server closes the connection at some point. */
static void *send_big(void *arg)
{
	struct sender *s = arg;
	char chunk[65536];
	size_t sent = 0;

	static const char head[] = "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":{\"s\":\"";

	memset(chunk, 'a', sizeof(chunk));
	memcpy(chunk, head, strlen(head));
	while (sent < s->len) {
		ssize_t n = send(s->fd, chunk, sizeof(chunk), MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			s->rc = -errno;
			break;
		}
		sent += (size_t)n;
		memset(chunk, 'a', 64);
	}
	return NULL;
}

static void oversize_request_is_refused_and_connection_closed(void **state)
{
	struct rh_env e;
	struct rh_conn c, other;
	struct sender s;
	struct json_object *a;
	pthread_t th;
	bool eof;

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	assert_int_equal(rh_open(&other, e.path), 0);
	s.fd = c.fd;
	s.len = 8u << 20;	/* 8 MiB of one never-ending string */
	s.rc = 0;
	assert_int_equal(pthread_create(&th, NULL, send_big, &s), 0);
	a = rh_read(&c, NULL);
	assert_non_null(a);
	assert_int_equal(json_object_get_int(rh_get(rh_get(a, "error"), "code")),
			 NVMFT_RPC_PARSE_ERROR);
	assert_contains(rh_str(rh_get(a, "error"), "message"), "larger than");
	json_object_put(a);
	assert_null(rh_read(&c, &eof));
	assert_true(eof);
	pthread_join(th, NULL);
	/* The server did not buffer 8 MiB: the sender was cut off. */
	assert_true(s.rc == -EPIPE || s.rc == -ECONNRESET);
	/* Other clients are not affected. */
	rh_ok_true(&other, "framework_wait_init", NULL);
	rh_close(&other);
	rh_close(&c);
	rh_stop(&e);
}

/* ---- connections ------------------------------------------------------------- */

struct client_job {
	const char *path;
	int idx;
	int calls;
	int failures;
};

static void *client_thread(void *arg)
{
	struct client_job *j = arg;
	struct rh_conn c;
	struct json_object *a, *err;
	char params[128];
	int i;

	if (rh_open(&c, j->path)) {
		j->failures = j->calls;
		return NULL;
	}
	for (i = 0; i < j->calls; i++) {
		char req[256];

		snprintf(params, sizeof(params), "{\"name\":\"C%d_%d\",\"num_blocks\":64,"
			 "\"block_size\":512}", j->idx, i);
		snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"method\":"
			 "\"bdev_malloc_create\",\"id\":%d,\"params\":%s}", i, params);
		if (rh_send_raw(&c, req, strlen(req))) {
			j->failures++;
			continue;
		}
		a = rh_read(&c, NULL);
		if (!a || json_object_object_get_ex(a, "error", &err) ||
		    json_object_get_int(json_object_object_get(a, "id")) != i)
			j->failures++;
		json_object_put(a);
	}
	rh_close(&c);
	return NULL;
}

static void concurrent_clients_are_all_served(void **state)
{
	enum { NR = 8, CALLS = 40 };
	struct client_job jobs[NR];
	pthread_t th[NR];
	struct rh_env e;
	struct rh_conn c;
	struct json_object *r;
	int i;

	rh_start(&e);
	for (i = 0; i < NR; i++) {
		jobs[i] = (struct client_job){ .path = e.path, .idx = i, .calls = CALLS };
		assert_int_equal(pthread_create(&th[i], NULL, client_thread, &jobs[i]), 0);
	}
	for (i = 0; i < NR; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(jobs[i].failures, 0);
	}
	assert_int_equal(rh_open(&c, e.path), 0);
	r = rh_ok(&c, "bdev_get_bdevs", NULL);
	assert_int_equal(json_object_array_length(r), NR * CALLS);
	json_object_put(r);
	rh_close(&c);
	rh_stop(&e);
}

static void connection_limit_closes_extra_clients(void **state)
{
	struct rh_conn c[RPC_MAX_CONNS + 1];
	struct rh_env e;
	unsigned int i;
	bool eof;

	rh_start(&e);
	for (i = 0; i < RPC_MAX_CONNS; i++) {
		assert_int_equal(rh_open(&c[i], e.path), 0);
		rh_ok_true(&c[i], "framework_wait_init", NULL);
	}
	assert_int_equal(rh_open(&c[i], e.path), 0);
	assert_null(rh_read(&c[i], &eof));
	assert_true(eof);
	rh_close(&c[i]);
	/* A place frees up when a client leaves. */
	rh_close(&c[0]);
	assert_true(RH_WAIT_FOR(({
		struct rh_conn t;
		bool ok = false;
		struct json_object *a;

		if (rh_open(&t, e.path) == 0) {
			const char *rq = "{\"jsonrpc\":\"2.0\",\"method\":\"framework_wait_init\",\"id\":1}";

			if (rh_send_raw(&t, rq, strlen(rq)) == 0 &&
			    (a = rh_read(&t, NULL))) {
				ok = true;
				json_object_put(a);
			}
			rh_close(&t);
		}
		ok; }), RH_WAIT_MS));
	for (i = 1; i < RPC_MAX_CONNS; i++)
		rh_close(&c[i]);
	rh_stop(&e);
}

/* An embedder's methods, one answering later from a message. */
struct custom {
	struct nvmft_runtime *rt;
	int calls;
};

struct custom_call {
	struct custom *cu;
	struct nvmft_rpc_request *req;
};

static void custom_answer(void *arg)
{
	struct custom_call *cc = arg;

	nvmft_rpc_reply(cc->req, json_object_new_string("later"));
	free(cc);
}

/* On another reactor; the answer goes back to the app reactor. */
static void custom_work(void *arg)
{
	struct custom_call *cc = arg;

	assert_int_equal(nvmft_thread_send_msg(nvmft_runtime_get_thread(cc->cu->rt, 0),
					       custom_answer, cc), 0);
}

static void custom_async(struct nvmft_rpc_request *req, struct json_object *params,
			 void *ctx)
{
	struct custom_call *cc = calloc(1, sizeof(*cc));

	((struct custom *)ctx)->calls++;
	cc->cu = ctx;
	cc->req = req;
	if (nvmft_thread_send_msg(nvmft_runtime_get_thread(cc->cu->rt, 1), custom_work, cc)) {
		free(cc);
		nvmft_rpc_error(req, NVMFT_RPC_INTERNAL_ERROR, "cannot send");
	}
}

struct echo_params {
	uint32_t n;
	const char *s;
	bool b;
	bool has_b;
};

static void custom_echo(struct nvmft_rpc_request *req, struct json_object *params,
			void *ctx)
{
	static const struct nvmft_rpc_param spec[] = {
		{ "n", NVMFT_RPC_U32, offsetof(struct echo_params, n), true,
		  NVMFT_RPC_NO_PRESENT },
		{ "s", NVMFT_RPC_STRING, offsetof(struct echo_params, s), false,
		  NVMFT_RPC_NO_PRESENT },
		{ "b", NVMFT_RPC_BOOL, offsetof(struct echo_params, b), false,
		  offsetof(struct echo_params, has_b) },
	};
	struct echo_params p = { .s = "default" };
	struct json_object *o;

	if (nvmft_rpc_decode(req, params, "params", spec, 3, &p))
		return;
	o = json_object_new_object();
	json_object_object_add(o, "n", json_object_new_int64(p.n));
	json_object_object_add(o, "s", json_object_new_string(p.s));
	json_object_object_add(o, "has_b", json_object_new_boolean(p.has_b));
	nvmft_rpc_reply(req, o);
}

static const struct nvmft_rpc_method custom_methods[] = {
	{ .name = "app_async", .handler = custom_async },
	{ .name = "app_echo", .handler = custom_echo },
};

static const struct nvmft_rpc_method custom_dup[] = {
	{ .name = "app_other", .handler = custom_echo },
	{ .name = "bdev_get_bdevs", .handler = custom_echo },
};

struct reg {
	struct rh_env *e;
	struct custom *cu;
	int rc1, rc2, rc3;
};

static void do_register(void *arg)
{
	struct reg *r = arg;

	r->rc1 = nvmft_rpc_register_methods(r->e->srv, custom_methods, 2, r->cu);
	r->rc2 = nvmft_rpc_register_methods(r->e->srv, custom_dup, 2, r->cu);
	r->rc3 = nvmft_rpc_register_methods(r->e->srv, custom_methods, 1, r->cu);
}

static void embedder_methods_are_served(void **state)
{
	struct custom cu = { 0 };
	struct rh_env e;
	struct rh_conn c;
	struct json_object *r;
	struct reg rg;
	char msg[256];

	rh_start(&e);
	cu.rt = e.rt;
	rg = (struct reg){ .e = &e, .cu = &cu };
	assert_int_equal(nvmft_runtime_exec(e.rt, 0, do_register, &rg), 0);
	assert_int_equal(rg.rc1, 0);
	assert_int_equal(rg.rc2, -EEXIST);	/* all or nothing */
	assert_int_equal(rg.rc3, -EEXIST);
	assert_int_equal(rh_open(&c, e.path), 0);
	assert_int_equal(rh_err(&c, "app_other", NULL, 0, NULL),
			 NVMFT_RPC_METHOD_NOT_FOUND);
	r = rh_ok(&c, "app_async", NULL);
	assert_string_equal(json_object_get_string(r), "later");
	json_object_put(r);
	assert_int_equal(cu.calls, 1);

	r = rh_ok(&c, "app_echo", "{\"n\": 5, \"b\": false}");
	assert_int_equal(rh_int(r, "n"), 5);
	assert_string_equal(rh_str(r, "s"), "default");
	assert_true(json_object_get_boolean(rh_get(r, "has_b")));
	json_object_put(r);
	/* Integral doubles pass as integers (scripts compute sizes). */
	r = rh_ok(&c, "app_echo", "{\"n\": 4096.0}");
	assert_int_equal(rh_int(r, "n"), 4096);
	assert_false(json_object_get_boolean(rh_get(r, "has_b")));
	json_object_put(r);

	assert_int_equal(rh_err(&c, "app_echo", msg, sizeof(msg), "{}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.n is required");
	assert_int_equal(rh_err(&c, "app_echo", msg, sizeof(msg), "{\"n\": -1}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.n: -1 is not an unsigned 32-bit integer");
	assert_int_equal(rh_err(&c, "app_echo", msg, sizeof(msg), "{\"n\": 4294967296}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "4294967296");
	assert_int_equal(rh_err(&c, "app_echo", msg, sizeof(msg), "{\"n\": 1.5}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_int_equal(rh_err(&c, "app_echo", msg, sizeof(msg),
				"{\"n\": 1, \"s\": 3}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.s: 3 is not a string");
	assert_int_equal(rh_err(&c, "app_echo", msg, sizeof(msg),
				"{\"n\": 1, \"b\": \"yes\"}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.b: \"yes\" is not true or false");
	assert_int_equal(rh_err(&c, "app_echo", msg, sizeof(msg),
				"{\"n\": 1, \"extra\": 1}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.extra: unknown parameter");
	rh_close(&c);
	rh_stop(&e);
}

/* ---- teardown ------------------------------------------------------------------ */

static void hold_forever(struct nvmft_rpc_request *req, struct json_object *params,
			 void *ctx)
{
	struct nvmft_rpc_request **slot = ctx;

	*slot = req;	/* answered by the test, later */
}

static const struct nvmft_rpc_method hold_method[] = {
	{ .name = "app_hold", .handler = hold_forever },
};

struct hold {
	struct rh_env *e;
	struct nvmft_rpc_request *req;
	int rc;
};

static void hold_register(void *arg)
{
	struct hold *h = arg;

	h->rc = nvmft_rpc_register_methods(h->e->srv, hold_method, 1, &h->req);
}

static void hold_answer(void *arg)
{
	struct hold *h = arg;

	nvmft_rpc_reply_bool(h->req, true);
	h->req = NULL;
}

static void hold_destroy(void *arg)
{
	struct hold *h = arg;

	nvmft_rpc_server_destroy(h->e->srv, rh_done_cb, h->e);
}

static void client_leaving_during_a_request_and_server_teardown(void **state)
{
	const char *rq = "{\"jsonrpc\":\"2.0\",\"method\":\"app_hold\",\"id\":1}";
	struct rh_conn c, idle, partial;
	struct rh_env e;
	struct hold h;
	bool eof;

	rh_start(&e);
	h = (struct hold){ .e = &e };
	assert_int_equal(nvmft_runtime_exec(e.rt, 0, hold_register, &h), 0);
	assert_int_equal(h.rc, 0);

	/* The client goes while its request is held: the answer is dropped
	 * and nothing breaks. */
	assert_int_equal(rh_open(&c, e.path), 0);
	assert_int_equal(rh_send_raw(&c, rq, strlen(rq)), 0);
	assert_true(RH_WAIT_FOR(h.req != NULL, RH_WAIT_MS));
	rh_close(&c);
	usleep(20000);
	assert_int_equal(nvmft_runtime_exec(e.rt, 0, hold_answer, &h), 0);

	/* Teardown with an idle client, a half-sent request and one held. */
	assert_int_equal(rh_open(&idle, e.path), 0);
	assert_int_equal(rh_open(&partial, e.path), 0);
	assert_int_equal(rh_send_raw(&partial, "{\"jsonrpc\":", 11), 0);
	assert_int_equal(rh_open(&c, e.path), 0);
	assert_int_equal(rh_send_raw(&c, rq, strlen(rq)), 0);
	assert_true(RH_WAIT_FOR(h.req != NULL, RH_WAIT_MS));
	atomic_store(&e.done, 0);
	assert_int_equal(nvmft_runtime_exec(e.rt, 0, hold_destroy, &h), 0);
	/* Clients are cut off at once... */
	assert_null(rh_read(&idle, &eof));
	assert_true(eof);
	assert_null(rh_read(&partial, &eof));
	assert_true(eof);
	/* ...but the server waits for the method still running. */
	usleep(50000);
	assert_int_equal(atomic_load(&e.done), 0);
	assert_int_equal(nvmft_runtime_exec(e.rt, 0, hold_answer, &h), 0);
	assert_int_equal(rh_wait_done(&e), 0);
	e.srv = NULL;
	assert_null(rh_read(&c, &eof));
	assert_true(eof);
	rh_close(&c);
	rh_close(&idle);
	rh_close(&partial);
	rh_stop(&e);
}

struct second {
	struct rh_env *e;
	struct nvmft_rpc_server *srv;
	int rc;
};

static void second_server(void *arg)
{
	struct second *s = arg;

	s->rc = nvmft_rpc_server_create(s->e->tgt, s->e->path, 0600, &s->srv);
}

static void second_server_on_a_live_path_fails(void **state)
{
	struct second s = { 0 };
	struct rh_env e;
	struct rh_conn c;
	struct stat st;

	rh_start(&e);
	assert_int_equal(lstat(e.path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	s.e = &e;
	assert_int_equal(nvmft_runtime_exec(e.rt, 0, second_server, &s), 0);
	assert_int_equal(s.rc, -EADDRINUSE);
	assert_null(s.srv);
	/* The first one still serves. */
	assert_int_equal(rh_open(&c, e.path), 0);
	rh_ok_true(&c, "framework_wait_init", NULL);
	rh_close(&c);
	rh_stop(&e);
}

/* ---- framework methods ------------------------------------------------------------ */

static void log_level_is_set_and_read(void **state)
{
	struct rh_env e;
	struct rh_conn c;
	struct json_object *r;
	char msg[256];

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	rh_ok_true(&c, "nvmft_set_log_level", "{\"level\": \"debug\"}");
	r = rh_ok(&c, "nvmft_get_log_level", NULL);
	assert_string_equal(json_object_get_string(r), "debug");
	json_object_put(r);
	/* SPDK's name and spelling. */
	rh_ok_true(&c, "log_set_print_level", "{\"level\": \"WARN\"}");
	r = rh_ok(&c, "log_get_print_level", NULL);
	assert_string_equal(json_object_get_string(r), "warning");
	json_object_put(r);
	assert_int_equal(rh_err(&c, "nvmft_set_log_level", msg, sizeof(msg),
				"{\"level\": \"loud\"}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "\"loud\"");
	assert_int_equal(rh_err(&c, "nvmft_set_log_level", msg, sizeof(msg), NULL),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.level is required");
	rh_close(&c);
	rh_stop(&e);
}

static void reactors_and_wait_mode(void **state)
{
	struct rh_env e;
	struct rh_conn c;
	struct json_object *r, *a;
	char msg[256];

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	r = rh_ok(&c, "nvmft_get_reactors", NULL);
	a = rh_get(r, "reactors");
	assert_int_equal(json_object_array_length(a), 2);
	assert_int_equal(rh_int(json_object_array_get_idx(a, 1), "index"), 1);
	assert_true(rh_int(json_object_array_get_idx(a, 0), "loops") > 0);
	assert_string_equal(rh_str(r, "wait_mode"), "adaptive");
	assert_string_equal(rh_str(r, "engine"),
			    nvmft_engine_name(nvmft_runtime_engine(e.rt)));
	json_object_put(r);
	rh_ok_true(&c, "nvmft_set_wait_mode", "{\"wait_mode\": \"interrupt\"}");
	r = rh_ok(&c, "nvmft_get_reactors", NULL);
	assert_string_equal(rh_str(r, "wait_mode"), "interrupt");
	json_object_put(r);
	assert_int_equal(rh_err(&c, "nvmft_set_wait_mode", msg, sizeof(msg),
				"{\"wait_mode\": \"sometimes\"}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "\"sometimes\"");
	rh_close(&c);
	rh_stop(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(framer_cuts_values_junk_and_broken_strings),
		cmocka_unit_test(framer_resumes_across_chunks_and_bounds_size),
		cmocka_unit_test(get_methods_lists_every_builtin_method),
		cmocka_unit_test(version_and_wait_init_answer),
		cmocka_unit_test(unknown_method_is_32601_and_connection_stays),
		cmocka_unit_test(malformed_json_is_32700_and_connection_stays),
		cmocka_unit_test(invalid_requests_are_32600),
		cmocka_unit_test(ids_are_echoed_and_notifications_not_answered),
		cmocka_unit_test(pipelined_and_byte_by_byte_requests_are_served_in_order),
		cmocka_unit_test(oversize_request_is_refused_and_connection_closed),
		cmocka_unit_test(concurrent_clients_are_all_served),
		cmocka_unit_test(connection_limit_closes_extra_clients),
		cmocka_unit_test(embedder_methods_are_served),
		cmocka_unit_test(client_leaving_during_a_request_and_server_teardown),
		cmocka_unit_test(second_server_on_a_live_path_fails),
		cmocka_unit_test(log_level_is_set_and_read),
		cmocka_unit_test(reactors_and_wait_mode),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("rpc", tests, NULL, NULL);
}
