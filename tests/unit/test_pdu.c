/* SPDX-License-Identifier: MIT */
/*
 * NVMe/TCP PDU encode / validate / digest tests (lib/tcp/pdu.c).
 */
#include <endian.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tcp/pdu.h"

_Static_assert(sizeof(struct pdu_common) == 8, "CH");
_Static_assert(sizeof(struct pdu_icreq) == 128, "ICReq");
_Static_assert(sizeof(struct pdu_icresp) == 128, "ICResp");
_Static_assert(sizeof(struct pdu_capsule_cmd) == 72, "CapsuleCmd");
_Static_assert(sizeof(struct pdu_capsule_resp) == 24, "CapsuleResp");
_Static_assert(sizeof(struct pdu_h2c_data) == 24, "H2CData");
_Static_assert(sizeof(struct pdu_c2h_data) == 24, "C2HData");
_Static_assert(sizeof(struct pdu_r2t) == 24, "R2T");
_Static_assert(sizeof(struct pdu_term_req) == 24, "TermReq");
_Static_assert(sizeof(struct nvmft_sqe) == 64, "SQE");
_Static_assert(sizeof(struct nvmft_cqe) == 16, "CQE");

#define IHF	PDU_FES_INVALID_HEADER_FIELD
#define SEQ	PDU_FES_PDU_SEQUENCE_ERROR
#define NOMAX	UINT32_MAX
#define DATAL_OFF	16

static const uint8_t all_types[] = {
	PDU_ICREQ, PDU_ICRESP, PDU_H2C_TERM_REQ, PDU_C2H_TERM_REQ,
	PDU_CAPSULE_CMD, PDU_CAPSULE_RESP, PDU_H2C_DATA, PDU_C2H_DATA, PDU_R2T,
};
#define NTYPES	(sizeof(all_types) / sizeof(all_types[0]))

/* Types whose CH flags follow the negotiated digests. */
static const uint8_t dgst_types[] = {
	PDU_CAPSULE_CMD, PDU_CAPSULE_RESP, PDU_H2C_DATA, PDU_C2H_DATA, PDU_R2T,
};
#define NDGST	(sizeof(dgst_types) / sizeof(dgst_types[0]))

/* Header digest off/on x data digest off/on x alignment 0 / 7 (32 bytes). */
#define NPARAMS 8
static struct pdu_params params_at(int i)
{
	uint8_t pda = (i & 4) ? 7 : 0;

	return (struct pdu_params){
		.hdgst = i & 1, .ddgst = i & 2, .cpda = pda, .hpda = pda,
		.maxh2cdata = 1 << 20,
	};
}

static enum pdu_dir dir_of(uint8_t type)
{
	switch (type) {
	case PDU_ICREQ: case PDU_H2C_TERM_REQ: case PDU_CAPSULE_CMD:
	case PDU_H2C_DATA:
		return PDU_DIR_H2C;
	default:
		return PDU_DIR_C2H;
	}
}

static enum pdu_dir other_dir(enum pdu_dir d)
{
	return d == PDU_DIR_H2C ? PDU_DIR_C2H : PDU_DIR_H2C;
}

static bool is_ic(uint8_t type)
{
	return type == PDU_ICREQ || type == PDU_ICRESP;
}

static bool is_term(uint8_t type)
{
	return type == PDU_H2C_TERM_REQ || type == PDU_C2H_TERM_REQ;
}

/* The phase in which @type is legal: IC before the exchange, others after. */
static bool phase_of(uint8_t type)
{
	return !is_ic(type);
}

static uint32_t plen_of(const union pdu_hdr *h)
{
	return le32toh(h->ch.plen);
}

static void set_plen(union pdu_hdr *h, uint32_t plen)
{
	h->ch.plen = htole32(plen);
}

static uint32_t hdr_of(const struct pdu_params *p, uint8_t type)
{
	return pdu_hlen(type) + (p->hdgst ? PDU_DIGEST_LEN : 0);
}

/* A valid PDU of any type; @data_len matters for data-carrying types. */
static size_t enc_any(union pdu_hdr *h, uint8_t type,
		      const struct pdu_params *p, uint32_t data_len)
{
	struct nvmft_sqe sqe = { .opcode = 0x01, .cid = 7, .nsid = 1 };
	struct nvmft_cqe cqe = { .cid = 7, .sq_head = 3 };

	switch (type) {
	case PDU_ICREQ:
		return pdu_enc_icreq(h, 0, PDU_DIGEST_HDGST, 3);
	case PDU_ICRESP:
		return pdu_enc_icresp(h, 0, 0, 131072);
	case PDU_H2C_TERM_REQ:
		return pdu_enc_term_req(h, PDU_DIR_H2C, IHF, 2, data_len);
	case PDU_C2H_TERM_REQ:
		return pdu_enc_term_req(h, PDU_DIR_C2H, IHF, 2, data_len);
	case PDU_CAPSULE_CMD:
		return pdu_enc_capsule_cmd(h, p, &sqe, data_len);
	case PDU_CAPSULE_RESP:
		return pdu_enc_capsule_resp(h, p, &cqe);
	case PDU_H2C_DATA:
		return pdu_enc_h2c_data(h, p, 7, 1, 0, data_len, true);
	case PDU_C2H_DATA:
		return pdu_enc_c2h_data(h, p, 7, 0, data_len, true, false);
	case PDU_R2T:
		return pdu_enc_r2t(h, p, 7, 1, 0, 8192);
	}
	fail_msg("unknown type %u", type);
	return 0;
}

static void expect_ok(const union pdu_hdr *h, const struct pdu_params *p,
		      uint32_t max_plen)
{
	uint32_t fei = 0xdead;
	int fes = pdu_check_common(&h->ch, dir_of(h->ch.type), p,
				   phase_of(h->ch.type), max_plen, &fei);

	if (fes != 0)
		fail_msg("%s rejected: fes %d fei %u",
			 pdu_type_name(h->ch.type), fes, fei);
	assert_int_equal(fei, 0);
}

static void expect_fail_in(const union pdu_hdr *h, enum pdu_dir dir,
			   const struct pdu_params *p, bool ic_done,
			   uint32_t max_plen, int want_fes, uint32_t want_fei)
{
	uint32_t fei = 0xdead;
	int fes = pdu_check_common(&h->ch, dir, p, ic_done, max_plen, &fei);

	if (fes != want_fes || fei != want_fei)
		fail_msg("%s: got fes %d fei %u, want fes %d fei %u",
			 pdu_type_name(h->ch.type), fes, fei, want_fes,
			 want_fei);
}

static void expect_fail(const union pdu_hdr *h, const struct pdu_params *p,
			int want_fes, uint32_t want_fei)
{
	expect_fail_in(h, dir_of(h->ch.type), p, phase_of(h->ch.type), NOMAX,
		       want_fes, want_fei);
}

/* ---- layout ------------------------------------------------------------ */

static void test_struct_sizes_match_spec(void **state)
{
	assert_int_equal(sizeof(struct pdu_common), 8);
	assert_int_equal(sizeof(struct pdu_icreq), 128);
	assert_int_equal(sizeof(struct pdu_icresp), 128);
	assert_int_equal(sizeof(struct pdu_capsule_cmd), 72);
	assert_int_equal(sizeof(struct pdu_capsule_resp), 24);
	assert_int_equal(sizeof(struct pdu_h2c_data), 24);
	assert_int_equal(sizeof(struct pdu_c2h_data), 24);
	assert_int_equal(sizeof(struct pdu_r2t), 24);
	assert_int_equal(sizeof(struct pdu_term_req), 24);
	assert_int_equal(sizeof(struct nvmft_sqe), 64);
	assert_int_equal(sizeof(struct nvmft_cqe), 16);
	assert_int_equal(sizeof(union pdu_hdr), PDU_MAX_HDR);
	assert_int_equal(offsetof(struct pdu_term_req, fei), 10);
	assert_int_equal(offsetof(struct pdu_h2c_data, datal), DATAL_OFF);
}

static void test_hlen_and_names_per_type(void **state)
{
	static const uint8_t want[] = { 128, 128, 24, 24, 72, 24, 24, 24 };

	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(pdu_hlen(all_types[i]), want[i]);
	assert_int_equal(pdu_hlen(PDU_R2T), 24);
	assert_string_equal(pdu_type_name(PDU_CAPSULE_CMD), "CapsuleCmd");
	assert_string_equal(pdu_type_name(PDU_R2T), "R2T");
	assert_int_equal(pdu_hlen(0x08), 0);
	assert_int_equal(pdu_hlen(0x0a), 0);
	assert_int_equal(pdu_hlen(0xff), 0);
	assert_string_equal(pdu_type_name(0x08), "unknown");
	assert_string_equal(pdu_type_name(0xff), "unknown");
}

/* ---- CRC32C ------------------------------------------------------------ */

static void test_crc32c_known_vectors(void **state)
{
	uint8_t buf[32];

	assert_int_equal(pdu_crc32c("123456789", 9), 0xE3069283u);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(pdu_crc32c(buf, 32), 0x8A9136AAu);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(pdu_crc32c(buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(pdu_crc32c(buf, 32), 0x46DD794Eu);
	assert_int_equal(pdu_crc32c(buf, 0), 0);
	assert_int_equal(pdu_crc32c_iov(NULL, 0), 0);
}

static void fill_pattern(uint8_t *buf, size_t len)
{
	uint32_t x = 0x12345678;

	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
}

static void test_crc32c_iov_and_incremental_match_oneshot(void **state)
{
	static uint8_t buf[10007];
	static const size_t cuts[] = { 0, 1, 3, 4, 63, 64, 65, 4096, 10006 };
	uint32_t whole;

	fill_pattern(buf, sizeof(buf));
	whole = pdu_crc32c(buf, sizeof(buf));

	for (unsigned i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		size_t c = cuts[i];
		struct iovec iov[3] = {
			{ buf, c }, { buf + c, 0 },
			{ buf + c, sizeof(buf) - c },
		};
		uint32_t crc = PDU_CRC_INIT;

		assert_int_equal(pdu_crc32c_iov(iov, 3), whole);
		crc = pdu_crc_update(crc, buf, c);
		crc = pdu_crc_update(crc, buf + c, sizeof(buf) - c);
		assert_int_equal(pdu_crc_final(crc), whole);
	}

	/* Many small odd-sized pieces. */
	struct iovec many[64];
	size_t off = 0;
	int n = 0;

	while (off < sizeof(buf) && n < 63) {
		size_t len = (size_t)(n * 37 % 301);

		if (len > sizeof(buf) - off)
			len = sizeof(buf) - off;
		many[n++] = (struct iovec){ buf + off, len };
		off += len;
	}
	many[n++] = (struct iovec){ buf + off, sizeof(buf) - off };
	assert_int_equal(pdu_crc32c_iov(many, n), whole);
}

static void test_digest_is_little_endian(void **state)
{
	uint8_t b[4];

	pdu_digest_put(b, 0x11223344u);
	assert_int_equal(b[0], 0x44);
	assert_int_equal(b[1], 0x33);
	assert_int_equal(b[2], 0x22);
	assert_int_equal(b[3], 0x11);
	assert_int_equal(pdu_digest_get(b), 0x11223344u);
}

static void test_ddgst_set_ok_and_flip_detected(void **state)
{
	uint8_t data[300], dg[4];
	struct iovec iov[2] = { { data, 100 }, { data + 100, 200 } };

	fill_pattern(data, sizeof(data));
	pdu_ddgst_set(dg, iov, 2);
	assert_int_equal(pdu_digest_get(dg), pdu_crc32c(data, sizeof(data)));
	assert_true(pdu_ddgst_ok(dg, iov, 2));
	data[150] ^= 0x10;
	assert_false(pdu_ddgst_ok(dg, iov, 2));
	data[150] ^= 0x10;
	dg[3] ^= 0x80;
	assert_false(pdu_ddgst_ok(dg, iov, 2));
}

/* ---- header digest ----------------------------------------------------- */

static void test_hdgst_set_by_encoders_and_ok(void **state)
{
	struct pdu_params p = params_at(1 | 2 | 4);
	union pdu_hdr h;

	for (unsigned i = 0; i < NDGST; i++) {
		uint8_t t = dgst_types[i];

		assert_int_equal(enc_any(&h, t, &p, 512), pdu_hlen(t) + 4);
		assert_true(h.ch.flags & PDU_FLAG_HDGSTF);
		assert_int_equal(pdu_digest_get(&h.raw[pdu_hlen(t)]),
				 pdu_crc32c(h.raw, pdu_hlen(t)));
		assert_true(pdu_hdgst_ok(&h));
		/* Recomputing after a change keeps it valid. */
		h.raw[10] ^= 1;
		assert_false(pdu_hdgst_ok(&h));
		pdu_hdgst_set(&h);
		assert_true(pdu_hdgst_ok(&h));
	}
}

static void test_hdgst_every_flipped_bit_detected(void **state)
{
	static const uint8_t types[] = { PDU_CAPSULE_CMD, PDU_R2T };
	struct pdu_params p = params_at(1);
	union pdu_hdr h;

	for (unsigned t = 0; t < 2; t++) {
		enc_any(&h, types[t], &p, 0);
		uint32_t n = pdu_hlen(types[t]) + PDU_DIGEST_LEN;

		for (uint32_t bit = 0; bit < n * 8; bit++) {
			h.raw[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			if (pdu_hdgst_ok(&h))
				fail_msg("%s: flip of bit %u not detected",
					 pdu_type_name(types[t]), bit);
			h.raw[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		assert_true(pdu_hdgst_ok(&h));
	}
}

static void test_hdgst_bad_hlen_never_ok(void **state)
{
	static const uint8_t bad[] = { 0, 4, 7, PDU_MAX_HLEN + 1, 255 };
	union pdu_hdr h, copy;

	for (unsigned i = 0; i < sizeof(bad); i++) {
		memset(&h, 0, sizeof(h));
		h.ch.hlen = bad[i];
		copy = h;
		pdu_hdgst_set(&h);
		assert_memory_equal(&h, &copy, sizeof(h));
		assert_false(pdu_hdgst_ok(&h));
	}
}

/* ---- lengths ----------------------------------------------------------- */

static void test_pad_for_cases(void **state)
{
	assert_int_equal(pdu_pad_for(24, 0), 0);
	assert_int_equal(pdu_pad_for(28, 0), 0);
	assert_int_equal(pdu_pad_for(72, 0), 0);
	assert_int_equal(pdu_pad_for(76, 0), 0);
	assert_int_equal(pdu_pad_for(24, 7), 8);
	assert_int_equal(pdu_pad_for(28, 7), 4);
	assert_int_equal(pdu_pad_for(72, 7), 24);
	assert_int_equal(pdu_pad_for(76, 7), 20);
	assert_int_equal(pdu_pad_for(96, 7), 0);
	assert_int_equal(pdu_pad_for(24, 1), 0);
	assert_int_equal(pdu_pad_for(28, 1), 4);
	/* (pda + 1) * 4 need not be a power of two. */
	assert_int_equal(pdu_pad_for(24, 2), 0);
	assert_int_equal(pdu_pad_for(28, 2), 8);
	assert_int_equal(pdu_pad_for(76, 17), 68);
	assert_int_equal(pdu_pad_for(76, PDU_MAX_PDA), 52);
	assert_int_equal(pdu_pad_for(28, PDU_MAX_PDA), 100);
	assert_int_equal(pdu_pad_for(0, 7), 0);
	assert_true(pdu_pad_for(4, PDU_MAX_PDA) <= PDU_MAX_PAD);
}

static void test_data_and_pad_len_never_underflow(void **state)
{
	union pdu_hdr h;

	enc_any(&h, PDU_H2C_DATA, NULL, 100);
	h.ch.pdo = 200;			/* past plen */
	assert_int_equal(pdu_data_len(&h.ch), 0);
	h.ch.pdo = 8;			/* inside the header */
	assert_int_equal(pdu_pad_len(&h.ch), 0);
	h.ch.pdo = 0;
	assert_int_equal(pdu_data_len(&h.ch), 0);

	enc_any(&h, PDU_H2C_TERM_REQ, NULL, 0);
	set_plen(&h, 10);		/* below hlen */
	assert_int_equal(pdu_data_len(&h.ch), 0);

	enc_any(&h, PDU_CAPSULE_RESP, NULL, 0);
	set_plen(&h, 1000);		/* no-data type: never data */
	assert_int_equal(pdu_data_len(&h.ch), 0);
	h.ch.type = 0x42;
	assert_int_equal(pdu_data_len(&h.ch), 0);
}

/* ---- round trips ------------------------------------------------------- */

/* Checks shared by every encoded PDU: CH consistent, validator accepts. */
static void check_encoded(const union pdu_hdr *h, size_t ret,
			  const struct pdu_params *p, uint32_t data_len)
{
	uint8_t t = h->ch.type;
	bool dg = !is_ic(t) && !is_term(t);
	bool hd = dg && p->hdgst;
	uint32_t hdr = pdu_hlen(t) + (hd ? 4 : 0);
	bool has_data = data_len > 0 && !is_term(t);
	bool dd = has_data && p->ddgst;

	assert_int_equal(ret, hdr);
	assert_int_equal(h->ch.hlen, pdu_hlen(t));
	assert_int_equal(pdu_hdr_len(&h->ch), hdr);
	assert_int_equal(!!(h->ch.flags & PDU_FLAG_HDGSTF), hd);
	assert_int_equal(!!(h->ch.flags & PDU_FLAG_DDGSTF), dd);
	if (has_data) {
		uint8_t pda = dir_of(t) == PDU_DIR_H2C ? p->cpda : p->hpda;

		assert_int_equal(h->ch.pdo % ((pda + 1) * 4), 0);
		assert_true(h->ch.pdo >= hdr);
		assert_true(h->ch.pdo - hdr < (pda + 1u) * 4);
		assert_int_equal(pdu_pad_len(&h->ch), h->ch.pdo - hdr);
		assert_int_equal(plen_of(h),
				 h->ch.pdo + data_len + (dd ? 4 : 0));
	} else {
		assert_int_equal(h->ch.pdo, 0);
		assert_int_equal(pdu_pad_len(&h->ch), 0);
		assert_int_equal(plen_of(h), hdr + (is_term(t) ? data_len : 0));
	}
	assert_int_equal(pdu_data_len(&h->ch), data_len);
	if (hd)
		assert_true(pdu_hdgst_ok(h));
	expect_ok(h, p, plen_of(h));
}

static void test_roundtrip_icreq(void **state)
{
	for (int i = 0; i < NPARAMS; i++) {
		struct pdu_params p = params_at(i);
		union pdu_hdr h;
		uint32_t fei = 1;
		size_t n = pdu_enc_icreq(&h, p.hpda, PDU_DIGEST_HDGST |
					 PDU_DIGEST_DDGST, 15);

		check_encoded(&h, n, &p, 0);
		assert_int_equal(h.icreq.hpda, p.hpda);
		assert_int_equal(h.icreq.digest, 3);
		assert_int_equal(le32toh(h.icreq.maxr2t), 15);
		assert_int_equal(h.icreq.pfv, 0);
		assert_int_equal(pdu_check_icreq(&h.icreq, &fei), 0);
		assert_int_equal(fei, 0);
		/* Before the IC exchange, parameters may be absent. */
		assert_int_equal(pdu_check_common(&h.ch, PDU_DIR_H2C, NULL,
						  false, NOMAX, &fei), 0);
	}
}

static void test_roundtrip_icresp(void **state)
{
	for (int i = 0; i < NPARAMS; i++) {
		struct pdu_params p = params_at(i);
		union pdu_hdr h;
		uint32_t fei = 1;
		uint8_t dig = (p.hdgst ? PDU_DIGEST_HDGST : 0) |
			      (p.ddgst ? PDU_DIGEST_DDGST : 0);
		size_t n = pdu_enc_icresp(&h, p.cpda, dig, 65536);

		check_encoded(&h, n, &p, 0);
		assert_int_equal(h.icresp.cpda, p.cpda);
		assert_int_equal(h.icresp.digest, dig);
		assert_int_equal(le32toh(h.icresp.maxh2cdata), 65536);
		assert_int_equal(pdu_check_icresp(&h.icresp, 3, &fei), 0);
		assert_int_equal(fei, 0);
	}
}

static void test_roundtrip_term_req(void **state)
{
	static const uint32_t lens[] = { 0, 24, 76, PDU_TERM_MAX_DATA };

	for (int i = 0; i < NPARAMS; i++) {
		struct pdu_params p = params_at(i);

		for (unsigned l = 0; l < 4; l++) {
			for (int d = 0; d < 2; d++) {
				union pdu_hdr h;
				size_t n = pdu_enc_term_req(&h, d, PDU_FES_HDGST_ERROR,
							    0xcafe, lens[l]);

				assert_int_equal(h.ch.type, d == PDU_DIR_H2C ?
						 PDU_H2C_TERM_REQ : PDU_C2H_TERM_REQ);
				check_encoded(&h, n, &p, lens[l]);
				assert_int_equal(le16toh(h.term.fes), PDU_FES_HDGST_ERROR);
				assert_int_equal(le32toh(h.term.fei), 0xcafe);
				/* TermReq is allowed before the IC exchange too. */
				expect_fail_in(&h, d, &p, false, NOMAX, 0, 0);
			}
		}
	}
}

static void test_term_req_clamps_data(void **state)
{
	union pdu_hdr h;

	pdu_enc_term_req(&h, PDU_DIR_C2H, IHF, 3, 500);
	assert_int_equal(plen_of(&h), 24 + PDU_TERM_MAX_DATA);
	assert_int_equal(pdu_data_len(&h.ch), PDU_TERM_MAX_DATA);
	expect_ok(&h, NULL, NOMAX);
}

static void test_roundtrip_capsule_cmd(void **state)
{
	static const uint32_t lens[] = { 0, 1, 4096 };
	struct nvmft_sqe sqe = { .opcode = 0x7f, .cid = 0x1234, .cdw10 = 99 };

	for (int i = 0; i < NPARAMS; i++) {
		struct pdu_params p = params_at(i);

		for (unsigned l = 0; l < 3; l++) {
			union pdu_hdr h;
			size_t n = pdu_enc_capsule_cmd(&h, &p, &sqe, lens[l]);

			check_encoded(&h, n, &p, lens[l]);
			assert_memory_equal(&h.cmd.sqe, &sqe, sizeof(sqe));
		}
	}
}

static void test_roundtrip_capsule_resp(void **state)
{
	struct nvmft_cqe cqe = { .result = 5, .sq_head = 9, .cid = 0x77,
				 .status = 0x2 };

	for (int i = 0; i < NPARAMS; i++) {
		struct pdu_params p = params_at(i);
		union pdu_hdr h;
		size_t n = pdu_enc_capsule_resp(&h, &p, &cqe);

		check_encoded(&h, n, &p, 0);
		assert_memory_equal(&h.rsp.cqe, &cqe, sizeof(cqe));
	}
}

static void test_roundtrip_h2c_data(void **state)
{
	for (int i = 0; i < NPARAMS; i++) {
		struct pdu_params p = params_at(i);

		for (int last = 0; last < 2; last++) {
			union pdu_hdr h;
			size_t n = pdu_enc_h2c_data(&h, &p, 0x21, 0x42, 8192,
						    4096, last);

			check_encoded(&h, n, &p, 4096);
			assert_int_equal(!!(h.ch.flags & PDU_FLAG_LAST_PDU), last);
			assert_int_equal(le16toh(h.h2c.cccid), 0x21);
			assert_int_equal(le16toh(h.h2c.ttag), 0x42);
			assert_int_equal(le32toh(h.h2c.datao), 8192);
			assert_int_equal(le32toh(h.h2c.datal), 4096);
		}
	}
}

static void test_roundtrip_c2h_data(void **state)
{
	for (int i = 0; i < NPARAMS; i++) {
		struct pdu_params p = params_at(i);

		for (int f = 0; f < 4; f++) {
			bool last = f & 1, success = f & 2;
			union pdu_hdr h;
			size_t n = pdu_enc_c2h_data(&h, &p, 0x33, 512, 3,
						    last, success);

			check_encoded(&h, n, &p, 3);
			/* SUCCESS implies LAST_PDU. */
			assert_int_equal(!!(h.ch.flags & PDU_FLAG_LAST_PDU),
					 last || success);
			assert_int_equal(!!(h.ch.flags & PDU_FLAG_SUCCESS),
					 success);
			assert_int_equal(le16toh(h.c2h.cccid), 0x33);
			assert_int_equal(le32toh(h.c2h.datao), 512);
			assert_int_equal(le32toh(h.c2h.datal), 3);
		}
	}
}

static void test_roundtrip_r2t(void **state)
{
	for (int i = 0; i < NPARAMS; i++) {
		struct pdu_params p = params_at(i);
		union pdu_hdr h;
		size_t n = pdu_enc_r2t(&h, &p, 0x10, 0x20, 4096, 65536);

		check_encoded(&h, n, &p, 0);
		assert_int_equal(le16toh(h.r2t.cccid), 0x10);
		assert_int_equal(le16toh(h.r2t.ttag), 0x20);
		assert_int_equal(le32toh(h.r2t.r2to), 4096);
		assert_int_equal(le32toh(h.r2t.r2tl), 65536);
	}
}

static void test_null_params_mean_no_digest_no_alignment(void **state)
{
	struct pdu_params off = { 0 };
	union pdu_hdr a, b;

	pdu_enc_h2c_data(&a, NULL, 1, 2, 0, 100, true);
	pdu_enc_h2c_data(&b, &off, 1, 2, 0, 100, true);
	assert_memory_equal(&a, &b, sizeof(a));
	expect_ok(&a, NULL, NOMAX);
}

/* ---- malformed headers ------------------------------------------------- */

static void test_unknown_type_rejected(void **state)
{
	static const uint8_t bad[] = { 0x08, 0x0a, 0x7f, 0xff };
	union pdu_hdr h;

	for (unsigned i = 0; i < sizeof(bad); i++) {
		for (int d = 0; d < 2; d++) {
			for (int done = 0; done < 2; done++) {
				enc_any(&h, PDU_CAPSULE_RESP, NULL, 0);
				h.ch.type = bad[i];
				expect_fail_in(&h, d, NULL, done, NOMAX, IHF, 0);
			}
		}
	}
}

static void test_wrong_direction_rejected(void **state)
{
	for (unsigned i = 0; i < NTYPES; i++) {
		for (int done = 0; done < 2; done++) {
			union pdu_hdr h;

			enc_any(&h, all_types[i], NULL, 16);
			expect_fail_in(&h, other_dir(dir_of(all_types[i])), NULL,
				       done, NOMAX, IHF, 0);
		}
	}
}

static void test_before_ic_only_ic_and_term(void **state)
{
	for (unsigned i = 0; i < NTYPES; i++) {
		uint8_t t = all_types[i];
		union pdu_hdr h;

		enc_any(&h, t, NULL, 16);
		if (is_ic(t) || is_term(t))
			expect_fail_in(&h, dir_of(t), NULL, false, NOMAX, 0, 0);
		else
			expect_fail_in(&h, dir_of(t), NULL, false, NOMAX, SEQ, 0);
	}
}

static void test_ic_after_ic_done_is_sequence_error(void **state)
{
	union pdu_hdr h;

	enc_any(&h, PDU_ICREQ, NULL, 0);
	expect_fail_in(&h, PDU_DIR_H2C, NULL, true, NOMAX, SEQ, 0);
	enc_any(&h, PDU_ICRESP, NULL, 0);
	expect_fail_in(&h, PDU_DIR_C2H, NULL, true, NOMAX, SEQ, 0);
}

static void test_wrong_hlen_every_type(void **state)
{
	for (int i = 0; i < NPARAMS; i++) {
		struct pdu_params p = params_at(i);

		for (unsigned t = 0; t < NTYPES; t++) {
			uint8_t good = pdu_hlen(all_types[t]);
			uint8_t bad[] = { 0, 8, good - 4, good + 4, 72, 255 };

			for (unsigned b = 0; b < sizeof(bad); b++) {
				union pdu_hdr h;

				if (bad[b] == good)
					continue;
				enc_any(&h, all_types[t], &p, 64);
				h.ch.hlen = bad[b];
				expect_fail(&h, &p, IHF, 2);
			}
		}
	}
}

static void test_hdgst_flag_mismatch_every_type(void **state)
{
	for (int i = 0; i < NPARAMS; i++) {
		struct pdu_params p = params_at(i);

		for (unsigned t = 0; t < NDGST; t++) {
			for (uint32_t len = 0; len <= 64; len += 64) {
				union pdu_hdr h;

				enc_any(&h, dgst_types[t], &p, len);
				h.ch.flags ^= PDU_FLAG_HDGSTF;
				expect_fail(&h, &p, IHF, 1);
			}
		}
	}
}

static void test_ddgst_flag_mismatch_every_type(void **state)
{
	for (int i = 0; i < NPARAMS; i++) {
		struct pdu_params p = params_at(i);

		for (unsigned t = 0; t < NDGST; t++) {
			for (uint32_t len = 0; len <= 64; len += 64) {
				union pdu_hdr h;

				/* Data PDUs always carry data. */
				if ((dgst_types[t] == PDU_H2C_DATA ||
				     dgst_types[t] == PDU_C2H_DATA) && !len)
					continue;
				enc_any(&h, dgst_types[t], &p, len);
				h.ch.flags ^= PDU_FLAG_DDGSTF;
				expect_fail(&h, &p, IHF, 1);
			}
		}
	}
}

static void test_digest_flags_on_ic_and_term_rejected(void **state)
{
	static const uint8_t types[] = { PDU_ICREQ, PDU_ICRESP,
					 PDU_H2C_TERM_REQ, PDU_C2H_TERM_REQ };
	static const uint8_t flags[] = { PDU_FLAG_HDGSTF, PDU_FLAG_DDGSTF };
	struct pdu_params on = params_at(3);

	for (unsigned t = 0; t < 4; t++) {
		for (unsigned f = 0; f < 2; f++) {
			union pdu_hdr h;

			enc_any(&h, types[t], &on, 8);
			h.ch.flags |= flags[f];
			expect_fail(&h, &on, IHF, 1);
		}
	}
}

static void test_c2h_success_without_last_rejected(void **state)
{
	union pdu_hdr h;

	pdu_enc_c2h_data(&h, NULL, 1, 0, 512, false, false);
	expect_ok(&h, NULL, NOMAX);
	h.ch.flags |= PDU_FLAG_SUCCESS;
	expect_fail(&h, NULL, IHF, 1);
}

static void test_pdo_nonzero_without_data_rejected(void **state)
{
	static const uint8_t types[] = {
		PDU_ICREQ, PDU_ICRESP, PDU_H2C_TERM_REQ, PDU_C2H_TERM_REQ,
		PDU_CAPSULE_CMD, PDU_CAPSULE_RESP, PDU_R2T,
	};

	for (int i = 0; i < NPARAMS; i++) {
		struct pdu_params p = params_at(i);

		for (unsigned t = 0; t < sizeof(types); t++) {
			union pdu_hdr h;

			enc_any(&h, types[t], &p, 0);
			h.ch.pdo = (uint8_t)pdu_hdr_len(&h.ch);
			expect_fail(&h, &p, IHF, 3);
		}
	}
}

static const uint8_t data_types[] = {
	PDU_CAPSULE_CMD, PDU_H2C_DATA, PDU_C2H_DATA,
};

static void test_pdo_too_small_rejected(void **state)
{
	for (int i = 0; i < NPARAMS; i++) {
		struct pdu_params p = params_at(i);

		for (unsigned t = 0; t < sizeof(data_types); t++) {
			uint8_t ty = data_types[t];
			union pdu_hdr h;

			enc_any(&h, ty, &p, 256);
			h.ch.pdo = 0;
			expect_fail(&h, &p, IHF, 3);
			/* Overlapping the header digest (or the header). */
			h.ch.pdo = (uint8_t)(hdr_of(&p, ty) - 4);
			expect_fail(&h, &p, IHF, 3);
		}
	}
}

static void test_pdo_misaligned_rejected(void **state)
{
	for (int i = 0; i < NPARAMS; i++) {
		struct pdu_params p = params_at(i);

		for (unsigned t = 0; t < sizeof(data_types); t++) {
			union pdu_hdr h;

			enc_any(&h, data_types[t], &p, 256);
			h.ch.pdo += (p.cpda ? 4 : 2);
			expect_fail(&h, &p, IHF, 3);
		}
	}
}

static void test_pdo_beyond_plen_rejected(void **state)
{
	for (int i = 0; i < NPARAMS; i++) {
		struct pdu_params p = params_at(i);

		for (unsigned t = 0; t < sizeof(data_types); t++) {
			union pdu_hdr h;

			enc_any(&h, data_types[t], &p, 256);
			/*
			 * A CapsuleCmd whose plen ends inside its header has
			 * no data at all: that is a plen error, not this one.
			 */
			if (data_types[t] == PDU_CAPSULE_CMD &&
			    h.ch.pdo - 4u <= hdr_of(&p, PDU_CAPSULE_CMD))
				continue;
			set_plen(&h, h.ch.pdo - 4u);
			expect_fail(&h, &p, IHF, 3);
		}
	}
}

static void test_bad_plen_every_type(void **state)
{
	for (int i = 0; i < NPARAMS; i++) {
		struct pdu_params p = params_at(i);
		union pdu_hdr h;

		/* IC PDUs are exactly 128 bytes. */
		for (int t = PDU_ICREQ; t <= PDU_ICRESP; t++) {
			static const uint32_t bad[] = { 0, 124, 127, 129, 132 };

			for (unsigned b = 0; b < 5; b++) {
				enc_any(&h, t, &p, 0);
				set_plen(&h, bad[b]);
				expect_fail(&h, &p, IHF, 4);
			}
		}
		/* TermReq: header plus 0..128 bytes. */
		for (int t = PDU_H2C_TERM_REQ; t <= PDU_C2H_TERM_REQ; t++) {
			enc_any(&h, t, &p, 0);
			set_plen(&h, 23);
			expect_fail(&h, &p, IHF, 4);
			set_plen(&h, 24 + PDU_TERM_MAX_DATA + 1);
			expect_fail(&h, &p, IHF, 4);
			set_plen(&h, 24 + PDU_TERM_MAX_DATA);
			expect_ok(&h, &p, NOMAX);
		}
		/* No data: exactly header + hdgst. */
		static const uint8_t nodata[] = { PDU_CAPSULE_RESP, PDU_R2T };
		for (unsigned t = 0; t < 2; t++) {
			uint32_t hdr = hdr_of(&p, nodata[t]);

			enc_any(&h, nodata[t], &p, 0);
			set_plen(&h, hdr + 4);
			expect_fail(&h, &p, IHF, 4);
			set_plen(&h, hdr - 4);
			expect_fail(&h, &p, IHF, 4);
			set_plen(&h, 0);
			expect_fail(&h, &p, IHF, 4);
		}
		/* A CapsuleCmd shorter than its header. */
		enc_any(&h, PDU_CAPSULE_CMD, &p, 0);
		set_plen(&h, hdr_of(&p, PDU_CAPSULE_CMD) - 4);
		expect_fail(&h, &p, IHF, 4);
		/* In-capsule data announced by DDGSTF but 0 bytes of it. */
		if (p.ddgst) {
			enc_any(&h, PDU_CAPSULE_CMD, &p, 64);
			set_plen(&h, h.ch.pdo + 4u);
			expect_fail(&h, &p, IHF, 4);
		}
	}
}

static void test_data_pdus_without_data_rejected(void **state)
{
	for (int i = 0; i < NPARAMS; i++) {
		struct pdu_params p = params_at(i);
		union pdu_hdr h;

		pdu_enc_h2c_data(&h, &p, 1, 1, 0, 0, true);
		expect_fail(&h, &p, IHF, 4);
		pdu_enc_c2h_data(&h, &p, 1, 0, 0, true, false);
		expect_fail(&h, &p, IHF, 4);
	}
}

static void test_datal_mismatch_rejected(void **state)
{
	for (int i = 0; i < NPARAMS; i++) {
		struct pdu_params p = params_at(i);

		for (int t = PDU_H2C_DATA; t <= PDU_C2H_DATA; t++) {
			for (int delta = -1; delta <= 1; delta += 2) {
				union pdu_hdr h;

				enc_any(&h, t, &p, 4096);
				h.h2c.datal = htole32(4096 + delta);
				expect_fail(&h, &p, IHF, DATAL_OFF);
			}
		}
	}
}

static void test_plen_above_max_rejected(void **state)
{
	for (int i = 0; i < NPARAMS; i++) {
		struct pdu_params p = params_at(i);

		for (unsigned t = 0; t < NTYPES; t++) {
			union pdu_hdr h;
			uint8_t ty = all_types[t];

			enc_any(&h, ty, &p, 100);
			expect_ok(&h, &p, plen_of(&h));
			expect_fail_in(&h, dir_of(ty), &p, phase_of(ty),
				       plen_of(&h) - 1, IHF, 4);
		}
	}
}

static void test_h2c_datal_above_maxh2cdata(void **state)
{
	struct pdu_params p = params_at(2);
	union pdu_hdr h;

	p.maxh2cdata = 4096;
	pdu_enc_h2c_data(&h, &p, 1, 1, 0, 4096, false);
	expect_ok(&h, &p, NOMAX);
	pdu_enc_h2c_data(&h, &p, 1, 1, 0, 4100, false);
	expect_fail(&h, &p, PDU_FES_DATA_LIMIT_EXCEEDED, 0);
	/* 0 means unchecked; C2HData is not bound by MAXH2CDATA. */
	p.maxh2cdata = 0;
	expect_ok(&h, &p, NOMAX);
	p.maxh2cdata = 4096;
	pdu_enc_c2h_data(&h, &p, 1, 0, 8192, true, false);
	expect_ok(&h, &p, NOMAX);
}

static void test_r2t_zero_length_rejected(void **state)
{
	union pdu_hdr h;

	pdu_enc_r2t(&h, NULL, 1, 2, 0, 0);
	expect_fail(&h, NULL, IHF, DATAL_OFF);
}

static void test_check_icreq_fields(void **state)
{
	union pdu_hdr h;
	uint32_t fei;

	pdu_enc_icreq(&h, PDU_MAX_PDA, 0xff, 0);
	assert_int_equal(pdu_check_icreq(&h.icreq, &fei), 0);
	h.icreq.pfv = htole16(1);
	assert_int_equal(pdu_check_icreq(&h.icreq, &fei),
			 PDU_FES_UNSUPPORTED_PARAMETER);
	assert_int_equal(fei, 8);
	pdu_enc_icreq(&h, PDU_MAX_PDA + 1, 0, 0);
	assert_int_equal(pdu_check_icreq(&h.icreq, &fei), IHF);
	assert_int_equal(fei, 10);
}

static void test_check_icresp_fields(void **state)
{
	static const uint32_t bad_max[] = { 0, 4092, 4095, 4098, 65537 };
	union pdu_hdr h;
	uint32_t fei;

	pdu_enc_icresp(&h, PDU_MAX_PDA, PDU_DIGEST_HDGST, 4096);
	assert_int_equal(pdu_check_icresp(&h.icresp, 3, &fei), 0);
	assert_int_equal(pdu_check_icresp(&h.icresp, PDU_DIGEST_HDGST, &fei), 0);
	/* A digest the host did not ask for. */
	assert_int_equal(pdu_check_icresp(&h.icresp, PDU_DIGEST_DDGST, &fei),
			 IHF);
	assert_int_equal(fei, 11);
	h.icresp.pfv = htole16(2);
	assert_int_equal(pdu_check_icresp(&h.icresp, 3, &fei),
			 PDU_FES_UNSUPPORTED_PARAMETER);
	assert_int_equal(fei, 8);
	pdu_enc_icresp(&h, PDU_MAX_PDA + 1, 0, 4096);
	assert_int_equal(pdu_check_icresp(&h.icresp, 3, &fei), IHF);
	assert_int_equal(fei, 10);
	for (unsigned i = 0; i < 5; i++) {
		pdu_enc_icresp(&h, 0, 0, bad_max[i]);
		assert_int_equal(pdu_check_icresp(&h.icresp, 3, &fei), IHF);
		assert_int_equal(fei, 12);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_struct_sizes_match_spec),
		cmocka_unit_test(test_hlen_and_names_per_type),
		cmocka_unit_test(test_crc32c_known_vectors),
		cmocka_unit_test(test_crc32c_iov_and_incremental_match_oneshot),
		cmocka_unit_test(test_digest_is_little_endian),
		cmocka_unit_test(test_ddgst_set_ok_and_flip_detected),
		cmocka_unit_test(test_hdgst_set_by_encoders_and_ok),
		cmocka_unit_test(test_hdgst_every_flipped_bit_detected),
		cmocka_unit_test(test_hdgst_bad_hlen_never_ok),
		cmocka_unit_test(test_pad_for_cases),
		cmocka_unit_test(test_data_and_pad_len_never_underflow),
		cmocka_unit_test(test_roundtrip_icreq),
		cmocka_unit_test(test_roundtrip_icresp),
		cmocka_unit_test(test_roundtrip_term_req),
		cmocka_unit_test(test_term_req_clamps_data),
		cmocka_unit_test(test_roundtrip_capsule_cmd),
		cmocka_unit_test(test_roundtrip_capsule_resp),
		cmocka_unit_test(test_roundtrip_h2c_data),
		cmocka_unit_test(test_roundtrip_c2h_data),
		cmocka_unit_test(test_roundtrip_r2t),
		cmocka_unit_test(test_null_params_mean_no_digest_no_alignment),
		cmocka_unit_test(test_unknown_type_rejected),
		cmocka_unit_test(test_wrong_direction_rejected),
		cmocka_unit_test(test_before_ic_only_ic_and_term),
		cmocka_unit_test(test_ic_after_ic_done_is_sequence_error),
		cmocka_unit_test(test_wrong_hlen_every_type),
		cmocka_unit_test(test_hdgst_flag_mismatch_every_type),
		cmocka_unit_test(test_ddgst_flag_mismatch_every_type),
		cmocka_unit_test(test_digest_flags_on_ic_and_term_rejected),
		cmocka_unit_test(test_c2h_success_without_last_rejected),
		cmocka_unit_test(test_pdo_nonzero_without_data_rejected),
		cmocka_unit_test(test_pdo_too_small_rejected),
		cmocka_unit_test(test_pdo_misaligned_rejected),
		cmocka_unit_test(test_pdo_beyond_plen_rejected),
		cmocka_unit_test(test_bad_plen_every_type),
		cmocka_unit_test(test_data_pdus_without_data_rejected),
		cmocka_unit_test(test_datal_mismatch_rejected),
		cmocka_unit_test(test_plen_above_max_rejected),
		cmocka_unit_test(test_h2c_datal_above_maxh2cdata),
		cmocka_unit_test(test_r2t_zero_length_rejected),
		cmocka_unit_test(test_check_icreq_fields),
		cmocka_unit_test(test_check_icresp_fields),
	};

	return cmocka_run_group_tests_name("pdu", tests, NULL, NULL);
}
