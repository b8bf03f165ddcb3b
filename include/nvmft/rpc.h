/* SPDX-License-Identifier: MIT */
/**
 * DOC: JSON-RPC management server
 *
 * A JSON-RPC 2.0 server on a Unix stream socket, served by the target's app
 * reactor (reactor 0) through a sock group: no thread of its own. Framing
 * is SPDK's: requests and responses are JSON objects written back to back
 * on the stream, without length prefix or delimiter, so SPDK's
 * scripts/rpc.py can drive it. Several clients may be connected at once;
 * each connection's requests are answered in order, one at a time.
 *
 * The server comes with the target's methods (SPDK-compatible names and
 * parameters: bdev_*, nvmf_*, rpc_get_methods, save_config ...; see
 * docs/rpc.md). Embedders add their own with nvmft_rpc_register_methods().
 *
 * Threading: every function here runs on the app reactor; method handlers
 * are called there, and may answer later (after an asynchronous call's
 * completion), but also there.
 *
 * Errors: negative errno.
 */
#ifndef NVMFT_RPC_H
#define NVMFT_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <nvmft/nvmf.h>

#ifdef __cplusplus
extern "C" {
#endif

struct json_object;
struct nvmft_rpc_server;
struct nvmft_rpc_request;

/** Default path of the management socket. */
#define NVMFT_RPC_DEFAULT_SOCK	"/var/tmp/nvmft.sock"

/* JSON-RPC 2.0 error codes (and SPDK's use of them). */
#define NVMFT_RPC_PARSE_ERROR		-32700
#define NVMFT_RPC_INVALID_REQUEST	-32600
#define NVMFT_RPC_METHOD_NOT_FOUND	-32601
#define NVMFT_RPC_INVALID_PARAMS	-32602
#define NVMFT_RPC_INTERNAL_ERROR	-32603

/**
 * typedef nvmft_rpc_handler - a method
 * @req: the request; answer it exactly once with nvmft_rpc_reply() or one
 *	of the nvmft_rpc_error*() calls, now or later (from a completion).
 * @params: the "params" object, or NULL when the request had none. Owned
 *	by @req: valid until the answer, not after.
 * @ctx: the context given at registration.
 *
 * Runs on the app reactor. Requests of one connection are handed over one
 * at a time: the next comes after this one was answered.
 */
typedef void (*nvmft_rpc_handler)(struct nvmft_rpc_request *req,
				  struct json_object *params, void *ctx);

/**
 * struct nvmft_rpc_method - an entry of a method table
 * @name: method name ("bdev_malloc_create"); unique in the server.
 * @handler: the method.
 * @summary: one line for rpc_get_methods listings (may be NULL).
 *
 * Tables are const arrays with designated initialisers, registered by an
 * explicit nvmft_rpc_register_methods() call; the server keeps pointers
 * to them, so they must outlive it.
 */
struct nvmft_rpc_method {
	const char *name;
	nvmft_rpc_handler handler;
	const char *summary;
};

/**
 * nvmft_rpc_server_create() - serve JSON-RPC for @tgt on Unix socket @path
 * @tgt: the target the built-in methods manage.
 * @path: socket path (NVMFT_RPC_DEFAULT_SOCK in the daemon). A stale
 *	socket file is replaced; a live server there is -EADDRINUSE.
 * @mode: permissions of the socket file (0600: only its owner connects).
 * @out: the server.
 *
 * App reactor of @tgt. The built-in methods are registered.
 *
 * Return: 0, -EINVAL, -EADDRINUSE, -EEXIST (not a socket at @path),
 * -ENAMETOOLONG, -ENOMEM, or the errno of bind(2).
 */
int nvmft_rpc_server_create(struct nvmft_tgt *tgt, const char *path, mode_t mode,
			    struct nvmft_rpc_server **out);

/**
 * nvmft_rpc_server_destroy() - stop serving, close every connection, free
 * @srv: server (NULL: @done is still called).
 * @done: runs on the app reactor once everything is gone (rc 0); may be
 *	NULL. Requests being handled are waited for (their answers dropped),
 *	so destroy the server before the target it manages.
 * @arg: its argument.
 *
 * The socket file is removed. App reactor.
 */
void nvmft_rpc_server_destroy(struct nvmft_rpc_server *srv, nvmft_done_fn done,
			      void *arg);

/**
 * nvmft_rpc_register_methods() - add the @n methods of @table
 * @srv: server.
 * @table: methods (kept by pointer).
 * @n: number of entries.
 * @ctx: passed to each handler.
 *
 * App reactor. All or nothing.
 *
 * Return: 0, -EEXIST (a name is taken; nothing added), -EINVAL, -ENOMEM.
 */
int nvmft_rpc_register_methods(struct nvmft_rpc_server *srv,
			       const struct nvmft_rpc_method *table, size_t n,
			       void *ctx);

/** nvmft_rpc_server_tgt() - the target @srv manages */
struct nvmft_tgt *nvmft_rpc_server_tgt(struct nvmft_rpc_server *srv);

/** nvmft_rpc_request_server() - the server a request came to */
struct nvmft_rpc_server *nvmft_rpc_request_server(struct nvmft_rpc_request *req);

/** nvmft_rpc_request_method() - the method name of a request */
const char *nvmft_rpc_request_method(const struct nvmft_rpc_request *req);

/**
 * nvmft_rpc_reply() - answer @req with @result
 * @req: the request (freed: do not touch it afterwards).
 * @result: the result (ownership taken; NULL = JSON null).
 */
void nvmft_rpc_reply(struct nvmft_rpc_request *req, struct json_object *result);

/** nvmft_rpc_reply_bool() - answer @req with true or false */
void nvmft_rpc_reply_bool(struct nvmft_rpc_request *req, bool value);

/**
 * nvmft_rpc_error() - answer @req with JSON-RPC error @code and a message
 * @req: the request (freed).
 * @code: NVMFT_RPC_* or an application code.
 * @fmt: printf format of the message.
 */
void nvmft_rpc_error(struct nvmft_rpc_request *req, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * nvmft_rpc_error_errno() - answer @req with the failure @rc of a call
 * @req: the request (freed).
 * @rc: negative errno. Caller mistakes (-EINVAL, -ENOENT, -EEXIST,
 *	-EBUSY, -ENOSPC, -EADDRINUSE, -ENOTSUP ...) become Invalid params
 *	(-32602), the rest Internal error (-32603).
 * @fmt: printf format of what failed; ": <strerror>" is appended.
 */
void nvmft_rpc_error_errno(struct nvmft_rpc_request *req, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * enum nvmft_rpc_type - types of nvmft_rpc_decode() fields
 * @NVMFT_RPC_STRING: const char * (valid while the request lives).
 * @NVMFT_RPC_BOOL: bool.
 * @NVMFT_RPC_U16: uint16_t (integer 0..65535).
 * @NVMFT_RPC_U32: uint32_t.
 * @NVMFT_RPC_U64: uint64_t.
 * @NVMFT_RPC_OBJECT: struct json_object * (a JSON object).
 * @NVMFT_RPC_IGNORED: accepted for compatibility and ignored (any type).
 */
enum nvmft_rpc_type {
	NVMFT_RPC_STRING = 0,
	NVMFT_RPC_BOOL,
	NVMFT_RPC_U16,
	NVMFT_RPC_U32,
	NVMFT_RPC_U64,
	NVMFT_RPC_OBJECT,
	NVMFT_RPC_IGNORED,
};

/**
 * struct nvmft_rpc_param - a parameter of a method
 * @name: member name in "params".
 * @type: its type.
 * @offset: where it goes in the caller's struct (offsetof).
 * @required: absent → Invalid params.
 * @present: offset of a bool set when the member was given, or
 *	NVMFT_RPC_NO_PRESENT.
 */
struct nvmft_rpc_param {
	const char *name;
	enum nvmft_rpc_type type;
	size_t offset;
	bool required;
	size_t present;
};

#define NVMFT_RPC_NO_PRESENT	((size_t)-1)

/**
 * nvmft_rpc_decode() - check @obj against @spec and fill @out
 * @req: the request, answered with Invalid params on failure.
 * @obj: "params" (or a nested object); NULL counts as empty.
 * @what: name of @obj in messages ("params", "listen_address").
 * @spec: the @n accepted members; any other member is an error.
 * @n: entries of @spec.
 * @out: struct the offsets point into (fields of absent members keep
 *	their value: set defaults first).
 *
 * Messages name the member and the value ("params.block_size: 1000 is
 * not an unsigned 32-bit integer").
 *
 * Return: 0, or -EINVAL after answering @req (do not touch it then).
 */
int nvmft_rpc_decode(struct nvmft_rpc_request *req, struct json_object *obj,
		     const char *what, const struct nvmft_rpc_param *spec,
		     size_t n, void *out);

/**
 * nvmft_rpc_save_config() - the running configuration as libconfig text
 * @tgt: target.
 * @out: malloc'd NUL-terminated text (free() it); a file that
 *	nvmft_config_load() accepts and that recreates the transports,
 *	bdevs (malloc, null, uring), subsystems with their hosts, namespaces
 *	and listeners, and the discovery listeners and referrals.
 *
 * App reactor. Return: 0 or -ENOMEM.
 */
int nvmft_rpc_save_config(struct nvmft_tgt *tgt, char **out);

#ifdef __cplusplus
}
#endif
#endif
