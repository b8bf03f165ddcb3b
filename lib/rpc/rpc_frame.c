// SPDX-License-Identifier: MIT
/*
 * Framing of the JSON-RPC stream: where does one request end?
 *
 * SPDK's protocol puts JSON values back to back with nothing in between,
 * so the end of a request is the end of its JSON text. A lexical scanner
 * finds it without parsing: it tracks strings (with escapes) and the
 * nesting of {} and []. That lets a malformed request be cut out exactly
 * and answered with a parse error while the connection goes on — a real
 * parser stops at the first error and cannot say where the broken value
 * ends. The framed text is then parsed by json-c (rpc_server.c).
 *
 * Two heuristics resynchronise after garbage: a control character inside
 * a string (never valid JSON: raw newlines end broken strings) cuts the
 * value short there, and text outside any value is reported as one junk
 * piece up to the next '{' or '['. An object that never closes can only
 * be cut by the size limit, and then the connection is closed.
 */
#include <stdbool.h>
#include <stddef.h>

#include "rpc/rpc_internal.h"

void rpc_frame_init(struct rpc_frame *f)
{
	f->pos = 0;
	f->start = 0;
	f->depth = 0;
	f->in_str = false;
	f->esc = false;
	f->junk = false;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* After a piece [start, end): scanning goes on at top level from @end. */
static void frame_reset_at(struct rpc_frame *f, size_t end)
{
	rpc_frame_init(f);
	f->pos = end;
	f->start = end;
}

enum rpc_frame_kind rpc_frame_next(struct rpc_frame *f, const char *buf,
				   size_t len, size_t max, size_t *start,
				   size_t *end)
{
	size_t p;

	for (p = f->pos; p < len; p++) {
		char c = buf[p];

		if (f->depth == 0) {
			if (c == '{' || c == '[') {
				if (f->junk) {
					/* Report the junk first; the value
					 * is scanned on the next call. */
					*start = f->start;
					*end = p;
					frame_reset_at(f, p);
					return RPC_FRAME_JUNK;
				}
				f->start = p;
				f->depth = 1;
			} else if (!is_ws(c) && !f->junk) {
				f->junk = true;
				f->start = p;
			}
			continue;
		}
		if (f->in_str) {
			if (f->esc)
				f->esc = false;
			else if (c == '\\')
				f->esc = true;
			else if (c == '"')
				f->in_str = false;
			else if ((unsigned char)c < 0x20) {
				*start = f->start;
				*end = p + 1;
				frame_reset_at(f, p + 1);
				return RPC_FRAME_JUNK;
			}
			continue;
		}
		if (c == '"') {
			f->in_str = true;
		} else if (c == '{' || c == '[') {
			f->depth++;
		} else if (c == '}' || c == ']') {
			if (--f->depth == 0) {
				*start = f->start;
				*end = p + 1;
				frame_reset_at(f, p + 1);
				return RPC_FRAME_OBJECT;
			}
		}
	}
	f->pos = len;
	if (f->junk) {
		/* Junk is answered at once rather than held for more. */
		*start = f->start;
		*end = len;
		frame_reset_at(f, len);
		return RPC_FRAME_JUNK;
	}
	if (f->depth && len - f->start > max)
		return RPC_FRAME_TOO_BIG;
	return RPC_FRAME_MORE;
}

size_t rpc_frame_keep_from(const struct rpc_frame *f)
{
	/* Inside a value: keep it. At top level everything scanned is
	 * whitespace (junk is always reported before this is asked). */
	return f->depth ? f->start : f->pos;
}

void rpc_frame_shift(struct rpc_frame *f, size_t n)
{
	f->pos -= n;
	f->start = f->depth ? f->start - n : f->pos;
}
