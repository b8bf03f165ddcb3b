/* SPDX-License-Identifier: MIT */
/*
 * JSON-RPC server internals, shared by
 *   rpc_frame.c               where each request ends on the stream
 *   rpc_server.c              listener, connections, dispatch, replies
 *   rpc_json.c                parameter decoding, errors, JSON helpers
 *   rpc_methods_framework.c   rpc_get_methods, versions, log level, reactors
 *   rpc_methods_bdev.c        bdev_*
 *   rpc_methods_hbd.c         bdev_hbd_* (pools and volumes)
 *   rpc_methods_nvmf.c        transports, subsystems, hosts, listeners, ns
 *   rpc_methods_nvmf_stats.c  controllers, qpairs, statistics
 *   rpc_methods_nvmf_referral.c  discovery referrals
 *   rpc_save_config.c         running state → libconfig text
 *
 * Everything runs on the app reactor of the target, except the poll
 * group visits of rpc_methods_nvmf_stats.c (one reactor after the other).
 */
#ifndef NVMFT_LIB_RPC_INTERNAL_H
#define NVMFT_LIB_RPC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include <nvmft/rpc.h>

/* A request larger than this (bytes without a complete value) is refused
 * and its connection closed: the bound of a connection's buffer. */
#define RPC_MAX_REQUEST		(1024u * 1024)
/* Receive buffer: starts small, doubles up to the limit plus one chunk. */
#define RPC_BUF_INITIAL		4096u
#define RPC_BUF_MAX		(RPC_MAX_REQUEST + 64u * 1024)
/* Connections served at once; more are closed at accept. */
#define RPC_MAX_CONNS		64u
/* Nesting accepted by the parser. */
#define RPC_MAX_DEPTH		64

/* ---- rpc_frame.c ---------------------------------------------------------- */

struct rpc_frame {
	size_t pos;		/* next byte to scan */
	size_t start;		/* start of the value or junk being scanned */
	unsigned int depth;	/* nesting of {} and []; 0 = between values */
	bool in_str;
	bool esc;
	bool junk;		/* scanning text outside any value */
};

enum rpc_frame_kind {
	RPC_FRAME_MORE = 0,	/* no complete piece: receive more */
	RPC_FRAME_OBJECT,	/* [start, end) is one JSON object or array */
	RPC_FRAME_JUNK,		/* [start, end) is not JSON: parse error */
	RPC_FRAME_TOO_BIG,	/* the value being received exceeds @max */
};

void rpc_frame_init(struct rpc_frame *f);
/* Scan buf[0, len) on from where the last call stopped. */
enum rpc_frame_kind rpc_frame_next(struct rpc_frame *f, const char *buf,
				   size_t len, size_t max, size_t *start,
				   size_t *end);
/* Bytes before this index are no longer needed. */
size_t rpc_frame_keep_from(const struct rpc_frame *f);
/* The buffer dropped its first @n bytes (n <= rpc_frame_keep_from()). */
void rpc_frame_shift(struct rpc_frame *f, size_t n);

/* ---- rpc_server.c ---------------------------------------------------------- */

/* The registered methods in registration order (rpc_get_methods). */
size_t rpc_server_nr_methods(const struct nvmft_rpc_server *srv);
const struct nvmft_rpc_method *rpc_server_method(const struct nvmft_rpc_server *srv,
						 size_t i);

/* ---- method tables (registered by nvmft_rpc_server_create) ----------------- */

extern const struct nvmft_rpc_method rpc_framework_methods[];
extern const size_t rpc_framework_methods_count;
extern const struct nvmft_rpc_method rpc_bdev_methods[];
extern const size_t rpc_bdev_methods_count;
extern const struct nvmft_rpc_method rpc_nvmf_methods[];
extern const size_t rpc_nvmf_methods_count;
extern const struct nvmft_rpc_method rpc_nvmf_stats_methods[];
extern const size_t rpc_nvmf_stats_methods_count;
extern const struct nvmft_rpc_method rpc_nvmf_referral_methods[];
extern const size_t rpc_nvmf_referral_methods_count;
extern const struct nvmft_rpc_method rpc_hbd_methods[];
extern const size_t rpc_hbd_methods_count;

/* ---- rpc_json.c ------------------------------------------------------------- */

/* Shorthands for parameter tables. */
#define RPC_REQ(name, type, st, field) \
	{ name, type, offsetof(st, field), true, NVMFT_RPC_NO_PRESENT }
#define RPC_OPT(name, type, st, field) \
	{ name, type, offsetof(st, field), false, NVMFT_RPC_NO_PRESENT }
#define RPC_OPT_P(name, type, st, field, present) \
	{ name, type, offsetof(st, field), false, offsetof(st, present) }
#define RPC_IGNORE(name) \
	{ name, NVMFT_RPC_IGNORED, 0, false, NVMFT_RPC_NO_PRESENT }
#define RPC_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* UUID "8-4-4-4-12" (NGUIDs too: 32 hex digits with or without dashes). */
int rpc_parse_uuid(const char *s, uint8_t out[16]);
void rpc_format_uuid(const uint8_t u[16], char out[37]);
/* 32 upper-case hex digits, no dashes (SPDK's NGUID format). */
void rpc_format_nguid(const uint8_t u[16], char out[33]);

/* {"trtype","adrfam","traddr","trsvcid"} */
struct json_object *rpc_listen_addr_json(const struct nvmft_listen_addr *a);
/*
 * Decode a listen_address object into @out (trtype TCP, adrfam matching
 * traddr, trsvcid a port; "4420" when absent). 0 or -EINVAL after
 * answering @req.
 */
int rpc_decode_listen_addr(struct nvmft_rpc_request *req, struct json_object *obj,
			   const char *what, struct nvmft_listen_addr *out);

const char *rpc_log_level_name(int level);
int rpc_log_level_parse(const char *s);		/* level or -1 */
const char *rpc_wait_mode_name(int mode);
int rpc_wait_mode_parse(const char *s);		/* mode or -1 */

/*
 * Completion of an asynchronous call made by a method: answers @req with
 * @result (true when NULL) on success, or with the error and @what
 * ("nvmf_subsystem_add_ns nqn...: namespace bdev Malloc0") on failure.
 */
struct rpc_async {
	struct nvmft_rpc_request *req;
	struct json_object *result;
	char what[320];
};

struct rpc_async *rpc_async_new(struct nvmft_rpc_request *req,
				struct json_object *result, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* An nvmft_done_fn: answers and frees @arg (a struct rpc_async). */
void rpc_async_done(void *arg, int rc);



#endif
