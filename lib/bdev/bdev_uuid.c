// SPDX-License-Identifier: MIT
/*
 * Name-based UUIDs (RFC 4122 version 5): SHA-1 over a namespace UUID and
 * the name, with the version and variant bits set. A small SHA-1 (FIPS
 * 180-4) lives here because libcrypto is not a dependency; it is used for
 * identifiers only, never for security.
 */
#include <stdio.h>
#include <string.h>

#include "bdev/bdev_internal.h"

/* The nvmft namespace for bdev names (a fixed, randomly drawn UUID). */
static const uint8_t nvmft_bdev_uuid_ns[16] = {
	0x6f, 0x1c, 0x2a, 0x8e, 0x4b, 0x7d, 0x4e, 0x59,
	0x9a, 0x3c, 0x1d, 0x5e, 0x8f, 0x0b, 0x2c, 0x74,
};

struct sha1_ctx {
	uint32_t h[5];
	uint64_t len;		/* bytes hashed so far */
	uint8_t buf[64];
	size_t n;		/* bytes in buf */
};

static uint32_t rol32(uint32_t x, unsigned int n)
{
	return (x << n) | (x >> (32 - n));
}

static void sha1_block(uint32_t h[5], const uint8_t *p)
{
	uint32_t w[80], a, b, c, d, e, f, k, t;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (i = 16; i < 80; i++)
		w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	a = h[0];
	b = h[1];
	c = h[2];
	d = h[3];
	e = h[4];
	for (i = 0; i < 80; i++) {
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		t = rol32(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol32(b, 30);
		b = a;
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

static void sha1_init(struct sha1_ctx *s)
{
	s->h[0] = 0x67452301;
	s->h[1] = 0xefcdab89;
	s->h[2] = 0x98badcfe;
	s->h[3] = 0x10325476;
	s->h[4] = 0xc3d2e1f0;
	s->len = 0;
	s->n = 0;
}

static void sha1_update(struct sha1_ctx *s, const void *data, size_t len)
{
	const uint8_t *p = data;

	s->len += len;
	while (len) {
		size_t take = 64 - s->n < len ? 64 - s->n : len;

		memcpy(s->buf + s->n, p, take);
		s->n += take;
		p += take;
		len -= take;
		if (s->n == 64) {
			sha1_block(s->h, s->buf);
			s->n = 0;
		}
	}
}

static void sha1_final(struct sha1_ctx *s, uint8_t out[20])
{
	uint64_t bits = s->len * 8;
	uint8_t pad = 0x80, zero = 0, lenbe[8];
	int i;

	sha1_update(s, &pad, 1);
	while (s->n != 56)
		sha1_update(s, &zero, 1);
	for (i = 0; i < 8; i++)
		lenbe[i] = (uint8_t)(bits >> (56 - 8 * i));
	sha1_update(s, lenbe, 8);
	for (i = 0; i < 20; i++)
		out[i] = (uint8_t)(s->h[i / 4] >> (24 - 8 * (i % 4)));
}

void bdev_uuid_v5(const uint8_t ns[16], const void *name, size_t len,
		  uint8_t uuid[16])
{
	struct sha1_ctx s;
	uint8_t md[20];

	sha1_init(&s);
	sha1_update(&s, ns, 16);
	sha1_update(&s, name, len);
	sha1_final(&s, md);
	memcpy(uuid, md, 16);
	uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x50);	/* version 5 */
	uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);	/* RFC 4122 variant */
}

void nvmft_uuid_from_name(const char *name, uint8_t uuid[16])
{
	if (!name)
		name = "";
	bdev_uuid_v5(nvmft_bdev_uuid_ns, name, strlen(name), uuid);
}

void bdev_uuid_format(const uint8_t u[16], char out[37])
{
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
}
