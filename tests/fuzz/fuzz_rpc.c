/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the JSON-RPC request framing (lib/rpc/rpc_frame.c) and the
 * parsing that follows it, fed an arbitrary stream cut at arbitrary
 * points, with the receive buffer handled the way rpc_server.c does
 * (keep_from / shift, the buffer grows up to a limit). Every complete
 * value is parsed by json-c with the server's tokener settings, and the
 * string parameters go through the value parsers (UUID, log level, wait
 * mode).
 *
 * Input: [0] cut seed (0: the whole stream at once), then the stream.
 * Checks: pieces are inside the buffer and non-empty, values start with
 * '{' or '[' and end with '}' or ']', and where each value
 * lies in the stream does not depend on how the stream was cut.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_VALUES	4096
/* small enough that inputs reach it */
#define FRAME_MAX	2048

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz_rpc: %s:%d: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

struct span {
	size_t start, end;	/* in the stream */
};

struct scan {
	struct span vals[MAX_VALUES];
	unsigned int nr;
	bool too_big;
};

static struct json_tokener *tok;

static void params_walk(struct json_object *params)
{
	uint8_t uuid[16];

	if (!params || !json_object_is_type(params, json_type_object))
		return;
	json_object_object_foreach(params, key, val) {
		const char *s;

		(void)key;
		if (!json_object_is_type(val, json_type_string))
			continue;
		s = json_object_get_string(val);
		(void)rpc_parse_uuid(s, uuid);
		(void)rpc_log_level_parse(s);
		(void)rpc_wait_mode_parse(s);
	}
}

static void parse_value(const char *p, size_t n)
{
	struct json_object *root, *params;

	json_tokener_reset(tok);
	root = json_tokener_parse_ex(tok, p, (int)n);
	if (root && json_object_is_type(root, json_type_object) &&
	    json_object_object_get_ex(root, "params", &params))
		params_walk(params);
	json_object_put(root);
}

/* Run the framer over @d cut as @seed says; record the values. */
static void scan(const uint8_t *d, size_t n, uint32_t seed, struct scan *out)
{
	struct rpc_frame f;
	size_t cap = 256, len = 0, base = 0, fed = 0;
	char *buf = malloc(cap);
	uint32_t rng = seed * 2654435761u | 1;

	CHECK(buf);
	rpc_frame_init(&f);
	out->nr = 0;
	out->too_big = false;
	for (;;) {
		size_t start, end, keep, k;
		enum rpc_frame_kind kind;

		kind = rpc_frame_next(&f, buf, len, FRAME_MAX, &start, &end);
		switch (kind) {
		case RPC_FRAME_OBJECT:
			CHECK(start < end && end <= len);
			/* brackets are matched by depth only: json-c judges */
			CHECK(buf[start] == '{' || buf[start] == '[');
			CHECK(buf[end - 1] == '}' || buf[end - 1] == ']');
			if (out->nr < MAX_VALUES)
				out->vals[out->nr++] = (struct span){ base + start,
								      base + end };
			parse_value(buf + start, end - start);
			continue;
		case RPC_FRAME_JUNK:
			CHECK(start < end && end <= len);
			continue;
		case RPC_FRAME_TOO_BIG:
			out->too_big = true;
			goto out;
		case RPC_FRAME_MORE:
			break;
		}
		if (fed == n)
			break;
		/* what the server drops before receiving more */
		keep = rpc_frame_keep_from(&f);
		CHECK(keep <= len);
		memmove(buf, buf + keep, len - keep);
		len -= keep;
		base += keep;
		rpc_frame_shift(&f, keep);
		k = n - fed;
		if (seed) {
			size_t c = 1 + (rng ^= rng << 13, rng ^= rng >> 17,
					rng ^= rng << 5) % 64;

			if (k > c)
				k = c;
		}
		if (len + k > cap) {
			cap = (len + k) * 2;
			buf = realloc(buf, cap);
			CHECK(buf);
		}
		memcpy(buf + len, d + fed, k);
		len += k;
		fed += k;
	}
out:
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct scan whole, cut;

	if (size < 1)
		return 0;
	if (!tok) {
		tok = json_tokener_new_ex(RPC_MAX_DEPTH);
		CHECK(tok);
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
					    JSON_TOKENER_VALIDATE_UTF8);
	}
	scan(data + 1, size - 1, 0, &whole);
	if (!data[0])
		return 0;
	scan(data + 1, size - 1, data[0], &cut);
	/* a limit hit depends on what was buffered: compare only without */
	if (whole.too_big || cut.too_big)
		return 0;
	CHECK(whole.nr == cut.nr);
	for (unsigned int i = 0; i < whole.nr; i++) {
		CHECK(whole.vals[i].start == cut.vals[i].start);
		CHECK(whole.vals[i].end == cut.vals[i].end);
	}
	return 0;
}
