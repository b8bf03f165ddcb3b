// SPDX-License-Identifier: MIT
/*
 * Helpers of the methods: parameter decoding against a table (with
 * messages that name the member and its value), errno → JSON-RPC error,
 * UUIDs, listen addresses, names of log levels and wait modes, and the
 * completion of asynchronous calls.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rpc/rpc_internal.h"

/* ---- errors --------------------------------------------------------------- */

static bool errno_is_callers(int rc)
{
	switch (rc) {
	case -EINVAL:
	case -ENOENT:
	case -ENODEV:
	case -EEXIST:
	case -EBUSY:
	case -ENOSPC:
	case -EADDRINUSE:
	case -EADDRNOTAVAIL:
	case -EALREADY:
	case -ENOTSUP:
	case -EACCES:
	case -EPERM:
	case -EISDIR:
	case -ENAMETOOLONG:
	case -ERANGE:
		return true;
	default:
		return false;
	}
}

void nvmft_rpc_error_errno(struct nvmft_rpc_request *req, int rc, const char *fmt, ...)
{
	char what[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	nvmft_rpc_error(req, errno_is_callers(rc) ? NVMFT_RPC_INVALID_PARAMS :
		       NVMFT_RPC_INTERNAL_ERROR, "%s: %s", what, strerror(-rc));
}

/* ---- decoding --------------------------------------------------------------- */

/* The value of @v for messages, cut short. */
static void value_text(struct json_object *v, char *buf, size_t len)
{
	const char *t = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE);

	snprintf(buf, len, "%s", t ? t : "null");
	if (strlen(buf) == len - 1 && len > 4)
		memcpy(buf + len - 4, "...", 4);
}

/* An integer in [0, max]: JSON integers, or doubles with no fraction
 * (scripts compute sizes in floating point). */
static bool get_uint(struct json_object *v, uint64_t max, uint64_t *out)
{
	if (json_object_is_type(v, json_type_int)) {
		int64_t s = json_object_get_int64(v);
		uint64_t u;

		if (s < 0)
			return false;
		/* json-c keeps values above INT64_MAX as unsigned */
		u = s == INT64_MAX ? json_object_get_uint64(v) : (uint64_t)s;
		if (u > max)
			return false;
		*out = u;
		return true;
	}
	if (json_object_is_type(v, json_type_double)) {
		double d = json_object_get_double(v);

		/* (no libm: the shared library does not link it) */
		if (!(d >= 0) || d >= 18446744073709551616.0 ||
		    d != (double)(uint64_t)d || (uint64_t)d > max)
			return false;
		*out = (uint64_t)d;
		return true;
	}
	return false;
}

static int decode_one(struct nvmft_rpc_request *req, const char *what,
		      const struct nvmft_rpc_param *p, struct json_object *v,
		      void *out)
{
	const char *want = NULL;
	char text[96];
	uint64_t u;
	char *dst;

	if (p->type == NVMFT_RPC_IGNORED)
		return 0;
	dst = (char *)out + p->offset;
	switch (p->type) {
	case NVMFT_RPC_STRING:
		if (!json_object_is_type(v, json_type_string))
			want = "a string";
		else
			*(const char **)dst = json_object_get_string(v);
		break;
	case NVMFT_RPC_BOOL:
		if (!json_object_is_type(v, json_type_boolean))
			want = "true or false";
		else
			*(bool *)dst = json_object_get_boolean(v);
		break;
	case NVMFT_RPC_U16:
		if (!get_uint(v, UINT16_MAX, &u))
			want = "an integer from 0 to 65535";
		else
			*(uint16_t *)dst = (uint16_t)u;
		break;
	case NVMFT_RPC_U32:
		if (!get_uint(v, UINT32_MAX, &u))
			want = "an unsigned 32-bit integer";
		else
			*(uint32_t *)dst = (uint32_t)u;
		break;
	case NVMFT_RPC_U64:
		if (!get_uint(v, UINT64_MAX, &u))
			want = "an unsigned 64-bit integer";
		else
			*(uint64_t *)dst = u;
		break;
	case NVMFT_RPC_OBJECT:
		if (!json_object_is_type(v, json_type_object))
			want = "an object";
		else
			*(struct json_object **)dst = v;
		break;
	case NVMFT_RPC_IGNORED:
		break;
	}
	if (want) {
		value_text(v, text, sizeof(text));
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: %s.%s: %s is not %s", what,
				p->name, text, want);
		return -EINVAL;
	}
	if (p->present != NVMFT_RPC_NO_PRESENT)
		*(bool *)((char *)out + p->present) = true;
	return 0;
}

int nvmft_rpc_decode(struct nvmft_rpc_request *req, struct json_object *obj,
		     const char *what, const struct nvmft_rpc_param *spec,
		     size_t n, void *out)
{
	struct json_object *v;
	size_t i;

	if (obj && !json_object_is_type(obj, json_type_object)) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: %s must be an object", what);
		return -EINVAL;
	}
	if (obj) {
		json_object_object_foreach(obj, key, val) {
			(void)val;
			for (i = 0; i < n; i++) {
				if (!strcmp(spec[i].name, key))
					break;
			}
			if (i == n) {
				nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
						"Invalid params: %s.%s: unknown parameter",
						what, key);
				return -EINVAL;
			}
		}
	}
	for (i = 0; i < n; i++) {
		if (!obj || !json_object_object_get_ex(obj, spec[i].name, &v)) {
			if (spec[i].required) {
				nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
						"Invalid params: %s.%s is required",
						what, spec[i].name);
				return -EINVAL;
			}
			continue;
		}
		if (decode_one(req, what, &spec[i], v, out))
			return -EINVAL;
	}
	return 0;
}

/* ---- UUIDs -------------------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int rpc_parse_uuid(const char *s, uint8_t out[16])
{
	int n = 0;

	for (; *s; s++) {
		int hi, lo;

		if (*s == '-')
			continue;
		hi = hexval(s[0]);
		lo = s[1] ? hexval(s[1]) : -1;
		if (n == 16 || hi < 0 || lo < 0)
			return -EINVAL;
		out[n++] = (uint8_t)(hi << 4 | lo);
		s++;
	}
	return n == 16 ? 0 : -EINVAL;
}

void rpc_format_uuid(const uint8_t u[16], char out[37])
{
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
}

void rpc_format_nguid(const uint8_t u[16], char out[33])
{
	int i;

	for (i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02X", u[i]);
}

/* ---- listen addresses ----------------------------------------------------------- */

struct json_object *rpc_listen_addr_json(const struct nvmft_listen_addr *a)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "trtype", json_object_new_string(a->trtype));
	json_object_object_add(o, "adrfam", json_object_new_string(a->adrfam));
	json_object_object_add(o, "traddr", json_object_new_string(a->traddr));
	json_object_object_add(o, "trsvcid", json_object_new_string(a->trsvcid));
	return o;
}

struct listen_params {
	const char *trtype;
	const char *adrfam;
	const char *traddr;
	const char *trsvcid;
};

int rpc_decode_listen_addr(struct nvmft_rpc_request *req, struct json_object *obj,
			   const char *what, struct nvmft_listen_addr *out)
{
	static const struct nvmft_rpc_param spec[] = {
		RPC_REQ("trtype", NVMFT_RPC_STRING, struct listen_params, trtype),
		RPC_OPT("adrfam", NVMFT_RPC_STRING, struct listen_params, adrfam),
		RPC_REQ("traddr", NVMFT_RPC_STRING, struct listen_params, traddr),
		RPC_OPT("trsvcid", NVMFT_RPC_STRING, struct listen_params, trsvcid),
	};
	struct listen_params p = { .trsvcid = "4420" };

	if (!obj) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: %s is required", what);
		return -EINVAL;
	}
	if (nvmft_rpc_decode(req, obj, what, spec, RPC_NELEM(spec), &p))
		return -EINVAL;
	if (strcasecmp(p.trtype, "TCP")) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: %s.trtype: \"%s\" is not supported "
				"(TCP)", what, p.trtype);
		return -EINVAL;
	}
	if (nvmft_listen_addr_init(out, p.traddr, p.trsvcid)) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: %s: traddr \"%s\" trsvcid \"%s\" is "
				"not an IP address and a port", what, p.traddr,
				p.trsvcid);
		return -EINVAL;
	}
	if (p.adrfam && strcasecmp(p.adrfam, out->adrfam)) {
		nvmft_rpc_error(req, NVMFT_RPC_INVALID_PARAMS,
				"Invalid params: %s.adrfam: \"%s\" does not match "
				"traddr \"%s\" (%s)", what, p.adrfam, p.traddr,
				out->adrfam);
		return -EINVAL;
	}
	return 0;
}

/* ---- names ------------------------------------------------------------------------ */

static const char *const level_names[] = {
	[NVMFT_LOG_ERR] = "error",
	[NVMFT_LOG_WARN] = "warning",
	[NVMFT_LOG_NOTICE] = "notice",
	[NVMFT_LOG_INFO] = "info",
	[NVMFT_LOG_DEBUG] = "debug",
};

const char *rpc_log_level_name(int level)
{
	if (level < NVMFT_LOG_ERR || level > NVMFT_LOG_DEBUG)
		return "unknown";
	return level_names[level];
}

int rpc_log_level_parse(const char *s)
{
	int l;

	for (l = NVMFT_LOG_ERR; l <= NVMFT_LOG_DEBUG; l++) {
		if (!strcasecmp(s, level_names[l]))
			return l;
	}
	/* SPDK's spellings */
	if (!strcasecmp(s, "err"))
		return NVMFT_LOG_ERR;
	if (!strcasecmp(s, "warn"))
		return NVMFT_LOG_WARN;
	return -1;
}

static const char *const wait_names[] = {
	[NVMFT_WAIT_ADAPTIVE] = "adaptive",
	[NVMFT_WAIT_POLL] = "poll",
	[NVMFT_WAIT_INTERRUPT] = "interrupt",
};

const char *rpc_wait_mode_name(int mode)
{
	if (mode < NVMFT_WAIT_ADAPTIVE || mode > NVMFT_WAIT_INTERRUPT)
		return "unknown";
	return wait_names[mode];
}

int rpc_wait_mode_parse(const char *s)
{
	int m;

	for (m = NVMFT_WAIT_ADAPTIVE; m <= NVMFT_WAIT_INTERRUPT; m++) {
		if (!strcmp(s, wait_names[m]))
			return m;
	}
	return -1;
}

/* ---- asynchronous completions ----------------------------------------------------- */

struct rpc_async *rpc_async_new(struct nvmft_rpc_request *req,
				struct json_object *result, const char *fmt, ...)
{
	struct rpc_async *a = calloc(1, sizeof(*a));
	va_list ap;

	if (!a)
		return NULL;
	a->req = req;
	a->result = result;
	va_start(ap, fmt);
	vsnprintf(a->what, sizeof(a->what), fmt, ap);
	va_end(ap);
	return a;
}

void rpc_async_done(void *arg, int rc)
{
	struct rpc_async *a = arg;

	if (rc) {
		json_object_put(a->result);
		nvmft_rpc_error_errno(a->req, rc, "%s", a->what);
	} else if (a->result) {
		nvmft_rpc_reply(a->req, a->result);
	} else {
		nvmft_rpc_reply_bool(a->req, true);
	}
	free(a);
}
