// SPDX-License-Identifier: MIT
/*
 * The JSON-RPC 2.0 server: a Unix listener in a sock group of the app
 * reactor, its connections, and the dispatch of requests to the method
 * table.
 *
 * A connection handles one request at a time: it parses the next request
 * only once the previous one was answered and the answer handed to the
 * kernel. Answers thus come in request order, a client that does not read
 * cannot make the server queue answers without bound, and receiving
 * pauses (the kernel holds what comes) while a request is being served.
 * The receive buffer is only ever touched while no receive is posted.
 *
 * A request keeps its connection alive: when the client goes away during
 * an asynchronous method, the connection is closed at once but freed only
 * after the method answered (the answer is dropped).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "rpc/rpc_internal.h"
#include "runtime/engine.h"
#include "sock/sock.h"

struct rpc_method_entry {
	const struct nvmft_rpc_method *m;
	void *ctx;
};

/* An answer waiting to be sent. */
struct rpc_out {
	struct rpc_out *next;
	size_t len;
	char data[];
};

struct rpc_conn {
	TAILQ_ENTRY(rpc_conn) link;
	struct nvmft_rpc_server *srv;
	struct nsock *s;		/* NULL once closed */
	unsigned int id;		/* for logs */
	char *buf;
	size_t cap;
	size_t len;
	struct rpc_frame fr;
	struct nvmft_rpc_request *inflight;
	struct rpc_out *out_head, *out_tail;	/* not yet sent */
	struct rpc_out *sending;		/* in the send in flight */
	bool closing;
	bool closed;
	bool eof;
	bool close_after_flush;
	bool in_pump;
};

struct nvmft_rpc_request {
	struct nvmft_rpc_server *srv;
	struct rpc_conn *conn;
	struct json_object *root;	/* the whole request: owns id and params */
	bool has_id;			/* false: a notification, not answered */
	struct json_object *id;		/* NULL: JSON null */
	const char *method;
};

struct nvmft_rpc_server {
	struct nvmft_tgt *tgt;
	struct nvmft_runtime *rt;
	struct nvmft_thread *thread;
	struct sock_group *group;
	struct sock_listener *listener;
	char *path;
	struct json_tokener *tok;
	struct rpc_method_entry *methods;
	size_t nr_methods;
	TAILQ_HEAD(, rpc_conn) conns;
	unsigned int nr_conns;
	unsigned int next_conn_id;
	bool destroying;
	bool listener_closed;
	nvmft_done_fn destroy_done;
	void *destroy_arg;
};

#define RPC_LOG(srv, lvl, ...) nvmft_log((srv)->rt, (lvl), "rpc: " __VA_ARGS__)

static void conn_pump(struct rpc_conn *c);
static void server_maybe_finish(struct nvmft_rpc_server *srv);

/* ---- answers ------------------------------------------------------------- */

static void conn_close(struct rpc_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	nsock_close(c->s);
}

/* Put what is queued on the wire in one gather send. */
static void conn_flush(struct rpc_conn *c)
{
	struct iovec iov[NSOCK_MAX_IOV];
	struct rpc_out *o, *last = NULL;
	int n = 0, rc;

	if (c->closing || c->sending || !c->out_head)
		return;
	for (o = c->out_head; o && n < NSOCK_MAX_IOV; o = o->next) {
		iov[n].iov_base = o->data;
		iov[n].iov_len = o->len;
		n++;
		last = o;
	}
	c->sending = c->out_head;
	c->out_head = last->next;
	if (!c->out_head)
		c->out_tail = NULL;
	last->next = NULL;
	rc = nsock_sendv(c->s, iov, n);
	if (rc) {
		RPC_LOG(c->srv, NVMFT_LOG_WARN, "connection %u: send: %s",
			c->id, strerror(-rc));
		conn_close(c);
	}
}

static void out_free_list(struct rpc_out *o)
{
	while (o) {
		struct rpc_out *next = o->next;

		free(o);
		o = next;
	}
}

/* Serialise and queue @resp (consumed). */
static void conn_queue(struct rpc_conn *c, struct json_object *resp)
{
	const char *text;
	struct rpc_out *o;
	size_t len;

	text = json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN |
						    JSON_C_TO_STRING_NOSLASHESCAPE);
	len = text ? strlen(text) : 0;
	o = len ? malloc(sizeof(*o) + len + 1) : NULL;
	if (!o) {
		RPC_LOG(c->srv, NVMFT_LOG_ERR, "connection %u: no memory for an "
			"answer: closing it", c->id);
		json_object_put(resp);
		conn_close(c);
		return;
	}
	memcpy(o->data, text, len);
	/* Not needed by the framing, but nice for people reading the stream. */
	o->data[len] = '\n';
	o->len = len + 1;
	o->next = NULL;
	json_object_put(resp);
	if (c->out_tail)
		c->out_tail->next = o;
	else
		c->out_head = o;
	c->out_tail = o;
	conn_flush(c);
}

static struct json_object *response_new(struct json_object *id)
{
	struct json_object *resp = json_object_new_object();

	if (!resp)
		return NULL;
	json_object_object_add(resp, "jsonrpc", json_object_new_string("2.0"));
	/* id belongs to the request too: share it (reference counted). */
	json_object_object_add(resp, "id", id ? json_object_get(id) : NULL);
	return resp;
}

static struct json_object *error_object(int code, const char *msg)
{
	struct json_object *e = json_object_new_object();

	if (!e)
		return NULL;
	json_object_object_add(e, "code", json_object_new_int(code));
	json_object_object_add(e, "message", json_object_new_string(msg));
	return e;
}

/* An error that is not the answer of a dispatched request (parse errors,
 * invalid requests): @id may be NULL (JSON null). */
static void conn_send_error(struct rpc_conn *c, struct json_object *id,
			    int code, const char *msg)
{
	struct json_object *resp = response_new(id);

	if (!resp) {
		conn_close(c);
		return;
	}
	json_object_object_add(resp, "error", error_object(code, msg));
	conn_queue(c, resp);
}

static void request_finish(struct nvmft_rpc_request *req,
			   struct json_object *member_name_value, bool is_error)
{
	struct rpc_conn *c = req->conn;
	struct json_object *resp;

	ASSERT_ON_THREAD(req->srv->thread);
	if (c && !c->closing && req->has_id) {
		resp = response_new(req->id);
		if (resp) {
			json_object_object_add(resp, is_error ? "error" : "result",
					       member_name_value);
			conn_queue(c, resp);
		} else {
			json_object_put(member_name_value);
			conn_close(c);
		}
	} else {
		json_object_put(member_name_value);
	}
	json_object_put(req->root);
	free(req);
	if (!c)
		return;
	c->inflight = NULL;
	if (c->closed) {
		conn_pump(c);	/* frees it */
		return;
	}
	if (!c->in_pump)
		conn_pump(c);
}

void nvmft_rpc_reply(struct nvmft_rpc_request *req, struct json_object *result)
{
	request_finish(req, result, false);
}

void nvmft_rpc_reply_bool(struct nvmft_rpc_request *req, bool value)
{
	request_finish(req, json_object_new_boolean(value), false);
}

void nvmft_rpc_error(struct nvmft_rpc_request *req, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	RPC_LOG(req->srv, NVMFT_LOG_INFO, "%s: error %d: %s", req->method, code, msg);
	request_finish(req, error_object(code, msg), true);
}

struct nvmft_rpc_server *nvmft_rpc_request_server(struct nvmft_rpc_request *req)
{
	return req->srv;
}

const char *nvmft_rpc_request_method(const struct nvmft_rpc_request *req)
{
	return req->method;
}

struct nvmft_tgt *nvmft_rpc_server_tgt(struct nvmft_rpc_server *srv)
{
	return srv->tgt;
}

/* ---- dispatch ------------------------------------------------------------ */

static const struct rpc_method_entry *method_find(const struct nvmft_rpc_server *srv,
						  const char *name)
{
	size_t i;

	for (i = 0; i < srv->nr_methods; i++) {
		if (!strcmp(srv->methods[i].m->name, name))
			return &srv->methods[i];
	}
	return NULL;
}

static bool id_valid(struct json_object *id)
{
	switch (json_object_get_type(id)) {
	case json_type_null:
	case json_type_string:
	case json_type_int:
	case json_type_double:
		return true;
	default:
		return false;
	}
}

/* A complete JSON text [start, end) of the buffer: parse and dispatch. */
static void conn_handle(struct rpc_conn *c, size_t start, size_t end)
{
	struct nvmft_rpc_server *srv = c->srv;
	const struct rpc_method_entry *e;
	struct json_object *root, *id = NULL, *v, *params = NULL;
	struct nvmft_rpc_request *req;
	enum json_tokener_error err;
	const char *method;
	char msg[160];
	bool has_id;

	json_tokener_reset(srv->tok);
	root = json_tokener_parse_ex(srv->tok, c->buf + start, (int)(end - start));
	err = json_tokener_get_error(srv->tok);
	if (!root || err != json_tokener_success ||
	    json_tokener_get_parse_end(srv->tok) != end - start) {
		json_object_put(root);
		snprintf(msg, sizeof(msg), "Parse error: %s",
			 err == json_tokener_success ? "trailing characters" :
			 json_tokener_error_desc(err));
		RPC_LOG(srv, NVMFT_LOG_INFO, "connection %u: %s", c->id, msg);
		conn_send_error(c, NULL, NVMFT_RPC_PARSE_ERROR, msg);
		return;
	}
	if (json_object_is_type(root, json_type_array)) {
		conn_send_error(c, NULL, NVMFT_RPC_INVALID_REQUEST,
				"Invalid request: batch requests are not supported");
		goto out_put;
	}
	if (!json_object_is_type(root, json_type_object)) {
		conn_send_error(c, NULL, NVMFT_RPC_INVALID_REQUEST,
				"Invalid request: not an object");
		goto out_put;
	}
	has_id = json_object_object_get_ex(root, "id", &id);
	if (has_id && !id_valid(id)) {
		conn_send_error(c, NULL, NVMFT_RPC_INVALID_REQUEST,
				"Invalid request: id must be a string, a number or null");
		goto out_put;
	}
	if (!json_object_object_get_ex(root, "jsonrpc", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), "2.0")) {
		conn_send_error(c, id, NVMFT_RPC_INVALID_REQUEST,
				"Invalid request: \"jsonrpc\" must be \"2.0\"");
		goto out_put;
	}
	if (!json_object_object_get_ex(root, "method", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		conn_send_error(c, id, NVMFT_RPC_INVALID_REQUEST,
				"Invalid request: \"method\" must be a string");
		goto out_put;
	}
	method = json_object_get_string(v);
	if (json_object_object_get_ex(root, "params", &params) && params &&
	    !json_object_is_type(params, json_type_object)) {
		snprintf(msg, sizeof(msg), "Invalid params: %s: params must be an "
			 "object (by-name parameters)", method);
		conn_send_error(c, id, NVMFT_RPC_INVALID_PARAMS, msg);
		goto out_put;
	}
	e = method_find(srv, method);
	if (!e) {
		snprintf(msg, sizeof(msg), "Method not found: %.100s", method);
		RPC_LOG(srv, NVMFT_LOG_INFO, "connection %u: %s", c->id, msg);
		if (has_id)
			conn_send_error(c, id, NVMFT_RPC_METHOD_NOT_FOUND, msg);
		goto out_put;
	}
	req = calloc(1, sizeof(*req));
	if (!req) {
		conn_send_error(c, id, NVMFT_RPC_INTERNAL_ERROR,
				"Internal error: no memory");
		goto out_put;
	}
	req->srv = srv;
	req->conn = c;
	req->root = root;
	/* "id": null is still a request (answered with id null), unlike an
	 * absent id: a notification, never answered. */
	req->has_id = has_id;
	req->id = id;
	req->method = e->m->name;
	c->inflight = req;
	RPC_LOG(srv, NVMFT_LOG_DEBUG, "connection %u: %s", c->id, req->method);
	e->m->handler(req, params, e->ctx);
	return;

out_put:
	json_object_put(root);
}

/* ---- receiving ----------------------------------------------------------- */

static int conn_post_recv(struct rpc_conn *c)
{
	size_t keep = rpc_frame_keep_from(&c->fr);
	size_t cap;
	char *nb;

	if (keep) {
		memmove(c->buf, c->buf + keep, c->len - keep);
		c->len -= keep;
		rpc_frame_shift(&c->fr, keep);
	}
	if (c->cap - c->len < 1024 && c->cap < RPC_BUF_MAX) {
		cap = c->cap ? c->cap * 2 : RPC_BUF_INITIAL;
		if (cap > RPC_BUF_MAX)
			cap = RPC_BUF_MAX;
		nb = realloc(c->buf, cap);
		if (!nb)
			return -ENOMEM;
		c->buf = nb;
		c->cap = cap;
	}
	/* The framer refuses a value above RPC_MAX_REQUEST, so after the
	 * shift the buffer always has room left. */
	if (c->len >= c->cap)
		return -ENOBUFS;
	return nsock_recv(c->s, c->buf + c->len, c->cap - c->len);
}

static void conn_maybe_free(struct rpc_conn *c)
{
	struct nvmft_rpc_server *srv = c->srv;

	if (!c->closed || c->inflight)
		return;
	TAILQ_REMOVE(&srv->conns, c, link);
	srv->nr_conns--;
	RPC_LOG(srv, NVMFT_LOG_DEBUG, "connection %u: gone", c->id);
	free(c->buf);
	free(c);
	server_maybe_finish(srv);
}

/*
 * Serve the connection as far as it can go: next request, or wait for
 * its answer to be sent, or receive more. Called after every event.
 */
static void conn_pump(struct rpc_conn *c)
{
	size_t start, end;
	char msg[128];

	if (c->closed) {
		conn_maybe_free(c);
		return;
	}
	c->in_pump = true;
	while (!c->closing && !c->inflight && !c->out_head && !c->sending &&
	       !nsock_recv_pending(c->s)) {
		switch (rpc_frame_next(&c->fr, c->buf, c->len, RPC_MAX_REQUEST,
				       &start, &end)) {
		case RPC_FRAME_OBJECT:
			conn_handle(c, start, end);
			break;
		case RPC_FRAME_JUNK:
			RPC_LOG(c->srv, NVMFT_LOG_INFO, "connection %u: %zu bytes "
				"that are not JSON", c->id, end - start);
			conn_send_error(c, NULL, NVMFT_RPC_PARSE_ERROR,
					"Parse error: not a JSON object");
			break;
		case RPC_FRAME_TOO_BIG:
			RPC_LOG(c->srv, NVMFT_LOG_WARN, "connection %u: request "
				"larger than %u bytes: closing it", c->id,
				RPC_MAX_REQUEST);
			snprintf(msg, sizeof(msg), "Parse error: request larger than "
				 "%u bytes", RPC_MAX_REQUEST);
			c->close_after_flush = true;
			conn_send_error(c, NULL, NVMFT_RPC_PARSE_ERROR, msg);
			goto out;
		case RPC_FRAME_MORE:
			if (c->eof) {
				conn_close(c);
				goto out;
			}
			if (conn_post_recv(c)) {
				RPC_LOG(c->srv, NVMFT_LOG_WARN, "connection %u: "
					"cannot receive: closing it", c->id);
				conn_close(c);
			}
			goto out;
		}
	}
out:
	c->in_pump = false;
}

static void conn_recv_done(struct nsock *s, void *ctx, int res)
{
	struct rpc_conn *c = ctx;

	if (res < 0) {
		if (res != -ECANCELED)
			RPC_LOG(c->srv, NVMFT_LOG_INFO, "connection %u: receive: %s",
				c->id, strerror(-res));
		conn_close(c);
		return;
	}
	if (res == 0)
		c->eof = true;	/* answer what was sent, then close */
	else
		c->len += (size_t)res;
	conn_pump(c);
}

static void conn_send_done(struct nsock *s, void *ctx, int res)
{
	struct rpc_conn *c = ctx;

	out_free_list(c->sending);
	c->sending = NULL;
	if (res < 0) {
		conn_close(c);
		return;
	}
	if (c->out_head) {
		conn_flush(c);
		return;
	}
	if (c->close_after_flush) {
		conn_close(c);
		return;
	}
	conn_pump(c);
}

static void conn_closed(struct nsock *s, void *ctx)
{
	struct rpc_conn *c = ctx;

	c->closed = true;
	c->closing = true;
	c->s = NULL;
	out_free_list(c->out_head);
	out_free_list(c->sending);
	c->out_head = c->out_tail = c->sending = NULL;
	/* A method still running keeps the connection until it answers. */
	conn_maybe_free(c);
}

static const struct nsock_cbs conn_cbs = {
	.recv_done = conn_recv_done,
	.send_done = conn_send_done,
	.closed = conn_closed,
};

static void on_accept(struct sock_listener *l, int fd, const struct sockaddr *peer,
		      socklen_t peer_len, void *ctx)
{
	struct nvmft_rpc_server *srv = ctx;
	struct rpc_conn *c;
	int rc;

	if (srv->destroying || srv->nr_conns >= RPC_MAX_CONNS) {
		RPC_LOG(srv, NVMFT_LOG_WARN, "connection refused: %s",
			srv->destroying ? "shutting down" : "too many clients");
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->srv = srv;
	c->id = ++srv->next_conn_id;
	rpc_frame_init(&c->fr);
	rc = sock_attach(srv->group, fd, &conn_cbs, c, &c->s);
	if (rc) {
		RPC_LOG(srv, NVMFT_LOG_WARN, "connection refused: %s", strerror(-rc));
		close(fd);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&srv->conns, c, link);
	srv->nr_conns++;
	RPC_LOG(srv, NVMFT_LOG_DEBUG, "connection %u: new", c->id);
	conn_pump(c);
}

/* ---- registration -------------------------------------------------------- */

int nvmft_rpc_register_methods(struct nvmft_rpc_server *srv,
			       const struct nvmft_rpc_method *table, size_t n,
			       void *ctx)
{
	struct rpc_method_entry *m;
	size_t i, j;

	if (!srv || (!table && n))
		return -EINVAL;
	ASSERT_ON_THREAD(srv->thread);
	for (i = 0; i < n; i++) {
		if (!table[i].name || !table[i].name[0] || !table[i].handler)
			return -EINVAL;
		if (method_find(srv, table[i].name))
			return -EEXIST;
		for (j = 0; j < i; j++) {
			if (!strcmp(table[i].name, table[j].name))
				return -EEXIST;
		}
	}
	m = realloc(srv->methods, (srv->nr_methods + n + 1) * sizeof(*m));
	if (!m)
		return -ENOMEM;
	srv->methods = m;
	for (i = 0; i < n; i++) {
		m[srv->nr_methods].m = &table[i];
		m[srv->nr_methods].ctx = ctx;
		srv->nr_methods++;
	}
	return 0;
}

size_t rpc_server_nr_methods(const struct nvmft_rpc_server *srv)
{
	return srv->nr_methods;
}

const struct nvmft_rpc_method *rpc_server_method(const struct nvmft_rpc_server *srv,
						 size_t i)
{
	return i < srv->nr_methods ? srv->methods[i].m : NULL;
}

/* ---- life of the server --------------------------------------------------- */

static void server_free(struct nvmft_rpc_server *srv)
{
	if (srv->group)
		sock_group_destroy(srv->group);
	if (srv->tok)
		json_tokener_free(srv->tok);
	free(srv->methods);
	free(srv->path);
	free(srv);
}

static void server_maybe_finish(struct nvmft_rpc_server *srv)
{
	nvmft_done_fn done = srv->destroy_done;
	void *arg = srv->destroy_arg;

	if (!srv->destroying || !srv->listener_closed || srv->nr_conns)
		return;
	RPC_LOG(srv, NVMFT_LOG_INFO, "server on %s stopped", srv->path);
	server_free(srv);
	if (done)
		done(arg, 0);
}

static void listener_closed(void *ctx)
{
	struct nvmft_rpc_server *srv = ctx;

	srv->listener_closed = true;
	srv->listener = NULL;
	server_maybe_finish(srv);
}

void nvmft_rpc_server_destroy(struct nvmft_rpc_server *srv, nvmft_done_fn done,
			      void *arg)
{
	struct rpc_conn *c;

	if (!srv) {
		if (done)
			done(arg, 0);
		return;
	}
	ASSERT_ON_THREAD(srv->thread);
	if (srv->destroying)
		return;
	srv->destroying = true;
	srv->destroy_done = done;
	srv->destroy_arg = arg;
	/* Callbacks come from the loop, never from inside these calls. */
	TAILQ_FOREACH(c, &srv->conns, link)
		conn_close(c);
	sock_listener_close(srv->listener, listener_closed, srv);
}

static int register_builtin(struct nvmft_rpc_server *srv)
{
	static const struct {
		const struct nvmft_rpc_method *table;
		const size_t *n;
	} tables[] = {
		{ rpc_framework_methods, &rpc_framework_methods_count },
		{ rpc_bdev_methods, &rpc_bdev_methods_count },
		{ rpc_hbd_methods, &rpc_hbd_methods_count },
		{ rpc_nvmf_methods, &rpc_nvmf_methods_count },
		{ rpc_nvmf_stats_methods, &rpc_nvmf_stats_methods_count },
		{ rpc_nvmf_referral_methods, &rpc_nvmf_referral_methods_count },
	};
	size_t i;
	int rc;

	for (i = 0; i < RPC_NELEM(tables); i++) {
		rc = nvmft_rpc_register_methods(srv, tables[i].table, *tables[i].n,
						NULL);
		if (rc)
			return rc;
	}
	return 0;
}

int nvmft_rpc_server_create(struct nvmft_tgt *tgt, const char *path, mode_t mode,
			    struct nvmft_rpc_server **out)
{
	struct nvmft_rpc_server *srv;
	struct nvmft_runtime *rt;
	int rc;

	if (!tgt || !path || !out)
		return -EINVAL;
	rt = nvmft_tgt_get_runtime(tgt);
	if (nvmft_get_thread() != nvmft_runtime_get_thread(rt, 0))
		return -EINVAL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->tgt = tgt;
	srv->rt = rt;
	srv->thread = nvmft_get_thread();
	TAILQ_INIT(&srv->conns);
	srv->path = strdup(path);
	srv->tok = json_tokener_new_ex(RPC_MAX_DEPTH);
	if (!srv->path || !srv->tok) {
		rc = -ENOMEM;
		goto out_free;
	}
	json_tokener_set_flags(srv->tok, JSON_TOKENER_STRICT |
					 JSON_TOKENER_VALIDATE_UTF8);
	rc = register_builtin(srv);
	if (rc)
		goto out_free;
	rc = sock_group_create(srv->thread, &srv->group);
	if (rc)
		goto out_free;
	rc = sock_listen_unix(srv->group, path, mode, 0, on_accept, srv,
			      &srv->listener);
	if (rc) {
		RPC_LOG(srv, NVMFT_LOG_ERR, "cannot listen on %s: %s", path,
			strerror(-rc));
		goto out_free;
	}
	RPC_LOG(srv, NVMFT_LOG_INFO, "listening on %s", path);
	*out = srv;
	return 0;

out_free:
	server_free(srv);
	return rc;
}
