// SPDX-License-Identifier: MIT
/*
 * Typed reads of libconfig settings for the loader: key checks, integers
 * with ranges, sizes with units, UUIDs, and error messages that name
 * file:line and the setting's path.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libconfig.h>
#include "config/config_internal.h"

__attribute__((format(printf, 3, 4)))
int cfg_err(struct cfg_parse_ctx *pc, const config_setting_t *s,
		const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s)
		snprintf(pc->err, pc->errlen, "%s:%d: %s", pc->file,
			 config_setting_source_line(s), msg);
	else
		snprintf(pc->err, pc->errlen, "%s: %s", pc->file, msg);
	return -EINVAL;
}

/* Path of a setting for messages: "subsystems.[0].namespaces.[1].bdev". */
void cfg_setting_path(const config_setting_t *s, char *buf, size_t len)
{
	const config_setting_t *chain[16];
	int n = 0;
	size_t off = 0;

	for (; s && config_setting_parent(s) && n < 16; s = config_setting_parent(s))
		chain[n++] = s;
	buf[0] = '\0';
	while (n-- > 0 && off < len) {
		const config_setting_t *c = chain[n];
		const char *name = config_setting_name(c);
		int w;

		if (name)
			w = snprintf(buf + off, len - off, "%s%s", off ? "." : "", name);
		else
			w = snprintf(buf + off, len - off, "[%d]", config_setting_index(c));
		if (w < 0)
			break;
		off += (size_t)w;
	}
}



static const char *type_name(enum key_type t)
{
	switch (t) {
	case K_STR: return "a string";
	case K_INT: return "an integer";
	case K_BOOL: return "true or false";
	case K_LIST: return "a list ( ... )";
	case K_GROUP: return "a group { ... }";
	case K_SIZE: return "a size (integer or string like \"1G\")";
	}
	return "?";
}

static bool type_ok(const config_setting_t *s, enum key_type t)
{
	int st = config_setting_type(s);

	switch (t) {
	case K_STR: return st == CONFIG_TYPE_STRING;
	case K_INT: return st == CONFIG_TYPE_INT || st == CONFIG_TYPE_INT64;
	case K_BOOL: return st == CONFIG_TYPE_BOOL;
	case K_LIST: return st == CONFIG_TYPE_LIST || st == CONFIG_TYPE_ARRAY;
	case K_GROUP: return st == CONFIG_TYPE_GROUP;
	case K_SIZE: return st == CONFIG_TYPE_INT || st == CONFIG_TYPE_INT64 ||
			    st == CONFIG_TYPE_STRING;
	}
	return false;
}

/* Every member of group @g must be one of @keys, with the right type. */
int cfg_check_keys(struct cfg_parse_ctx *pc, const config_setting_t *g,
		      const struct key_spec *keys, size_t nkeys)
{
	char path[256];
	int n = config_setting_length(g);

	for (int i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned int)i);
		const char *name = config_setting_name(m);
		size_t k;

		for (k = 0; k < nkeys; k++)
			if (name && strcmp(name, keys[k].name) == 0)
				break;
		cfg_setting_path(m, path, sizeof(path));
		if (k == nkeys)
			return cfg_err(pc, m, "%s: unknown setting", path);
		if (!type_ok(m, keys[k].type))
			return cfg_err(pc, m, "%s: must be %s", path, type_name(keys[k].type));
	}
	return 0;
}

const char *cfg_get_str(const config_setting_t *g, const char *name)
{
	const char *v = NULL;

	if (!config_setting_lookup_string(g, name, &v))
		return NULL;
	return v;
}

int cfg_get_int(struct cfg_parse_ctx *pc, const config_setting_t *g,
		   const char *name, long long min, long long max,
		   long long *out, bool *present)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	char path[256];
	long long v;

	*present = s != NULL;
	if (!s)
		return 0;
	v = config_setting_get_int64(s);
	if (v < min || v > max) {
		cfg_setting_path(s, path, sizeof(path));
		return cfg_err(pc, s, "%s: %lld is out of range [%lld, %lld]", path,
			    v, min, max);
	}
	*out = v;
	return 0;
}


int cfg_get_bool(const config_setting_t *g, const char *name, bool *dst)
{
	int v;

	if (config_setting_lookup_bool(g, name, &v))
		*dst = v != 0;
	return 0;
}

int nvmft_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned int shift = 0;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (toupper((unsigned char)*end)) {
	case '\0': break;
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	default: return -EINVAL;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if ((*end == 'B' || *end == 'b') && shift)
		end++;
	if (*end != '\0')
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

int cfg_get_size(struct cfg_parse_ctx *pc, const config_setting_t *s,
		    uint64_t *out)
{
	char path[256];

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		const char *v = config_setting_get_string(s);

		if (nvmft_parse_size(v, out) == 0)
			return 0;
		cfg_setting_path(s, path, sizeof(path));
		return cfg_err(pc, s, "%s: \"%s\" is not a size (e.g. 4096, 64M, 1G)",
			    path, v);
	}
	if (config_setting_get_int64(s) < 0) {
		cfg_setting_path(s, path, sizeof(path));
		return cfg_err(pc, s, "%s: must not be negative", path);
	}
	*out = (uint64_t)config_setting_get_int64(s);
	return 0;
}

int cfg_parse_uuid(const char *s, uint8_t out[16])
{
	int n = 0;

	for (const char *p = s; *p; p++) {
		int hi, lo;

		if (*p == '-')
			continue;
		if (n == 16 || !isxdigit((unsigned char)p[0]) ||
		    !isxdigit((unsigned char)p[1]))
			return -EINVAL;
		hi = isdigit((unsigned char)p[0]) ? p[0] - '0' : (tolower((unsigned char)p[0]) - 'a' + 10);
		lo = isdigit((unsigned char)p[1]) ? p[1] - '0' : (tolower((unsigned char)p[1]) - 'a' + 10);
		out[n++] = (uint8_t)(hi << 4 | lo);
		p++;
	}
	return n == 16 ? 0 : -EINVAL;
}

void cfg_format_uuid(const uint8_t u[16], char *buf, size_t len)
{
	snprintf(buf, len,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
}

int cfg_get_uuid(struct cfg_parse_ctx *pc, const config_setting_t *g,
		    const char *name, uint8_t out[16], bool *present)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	char path[256];

	*present = s != NULL;
	if (!s)
		return 0;
	if (cfg_parse_uuid(config_setting_get_string(s), out) == 0)
		return 0;
	cfg_setting_path(s, path, sizeof(path));
	return cfg_err(pc, s, "%s: \"%s\" is not a UUID (32 hex digits)", path,
		    config_setting_get_string(s));
}
