/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the NVMe/TCP PDU codec (lib/tcp/pdu.c), both directions.
 *
 * Input: 12 bytes of parameters, then a PDU header (and what follows it).
 *   [0] flags: bit0 hdgst, bit1 ddgst, bit2 ic_done, bit3 NULL params,
 *       bit4 controller→host direction
 *   [1] cpda  [2] hpda  [3..6] max_plen (le)  [7..10] maxh2cdata (le)
 *   [11] seed for the encoder round trips
 * Every checker and length helper runs on the header; then each encoder
 * runs with parameters taken from the input, and what it produced must
 * pass the checker of the receiving side with the same parameters (the
 * codec's own contract). A violated property aborts: it is a finding.
 */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/pdu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PARAM_BYTES	12

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz_pdu: %s:%d: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

/* Checks on an arbitrary header: no crash, no overread, sane results. */
static void check_any(const union pdu_hdr *h, size_t have,
		      const struct pdu_params *p, bool ic_done, uint32_t max_plen)
{
	uint32_t fei = 0xdeadbeef;
	int fes;

	(void)pdu_type_name(h->ch.type);
	CHECK(pdu_type_name(h->ch.type) != NULL);
	/* the receive order of tcp_recv.c: CH first, the rest if plausible */
	if (pdu_hlen(h->ch.type) == 0 || pdu_hlen(h->ch.type) != h->ch.hlen) {
		fes = pdu_check_common(&h->ch, PDU_DIR_H2C, p, ic_done, max_plen, &fei);
		CHECK(fes != 0);
		CHECK(fei < PDU_MAX_HDR);
		fes = pdu_check_common(&h->ch, PDU_DIR_C2H, p, ic_done, max_plen, &fei);
		CHECK(fes != 0);
		return;
	}
	if (have < pdu_hdr_len(&h->ch))
		return;
	(void)pdu_hdgst_ok(h);
	for (int dir = PDU_DIR_H2C; dir <= PDU_DIR_C2H; dir++) {
		fes = pdu_check_common(&h->ch, (enum pdu_dir)dir, p, ic_done,
				       max_plen, &fei);
		CHECK(fes >= 0 && fes <= PDU_FES_UNSUPPORTED_PARAMETER);
		CHECK(fei < PDU_MAX_HDR);
		if (fes)
			continue;
		/* accepted: the lengths it promises are consistent */
		CHECK(le32toh(h->ch.plen) <= max_plen);
		CHECK(pdu_hdr_len(&h->ch) <= le32toh(h->ch.plen));
		CHECK((uint64_t)pdu_hdr_len(&h->ch) + pdu_pad_len(&h->ch) +
		      pdu_data_len(&h->ch) <= le32toh(h->ch.plen));
		/* a pad may be longer than needed: pdo is still one byte */
		CHECK(pdu_pad_len(&h->ch) + h->ch.hlen <= 255);
		if (h->ch.type == PDU_H2C_TERM_REQ || h->ch.type == PDU_C2H_TERM_REQ)
			CHECK(pdu_data_len(&h->ch) <= PDU_TERM_MAX_DATA);
		if (h->ch.type == PDU_H2C_DATA || h->ch.type == PDU_C2H_DATA)
			CHECK(pdu_data_len(&h->ch) == le32toh(h->h2c.datal));
		if (h->ch.type == PDU_ICREQ)
			(void)pdu_check_icreq(&h->icreq, &fei);
		if (h->ch.type == PDU_ICRESP)
			(void)pdu_check_icresp(&h->icresp, h->raw[9], &fei);
	}
	/* never under- or overflows, checked or not */
	CHECK(pdu_data_len(&h->ch) <= le32toh(h->ch.plen));
}

/* What an encoder made is accepted by the other side with @p. */
static void expect_ok(union pdu_hdr *h, size_t len, enum pdu_dir dir,
		      const struct pdu_params *p, uint32_t data_len)
{
	uint32_t fei;
	int fes;

	CHECK(len == pdu_hdr_len(&h->ch));
	fes = pdu_check_common(&h->ch, dir, p, h->ch.type > PDU_ICRESP,
			       UINT32_MAX, &fei);
	if (fes)
		fprintf(stderr, "type %u rejected: fes %d fei %u\n",
			h->ch.type, fes, fei);
	CHECK(fes == 0);
	CHECK(pdu_data_len(&h->ch) == data_len);
	if (h->ch.flags & PDU_FLAG_HDGSTF)
		CHECK(pdu_hdgst_ok(h));
}

static void round_trips(const uint8_t *d, size_t n, const struct pdu_params *in)
{
	struct pdu_params p = *in;
	union pdu_hdr h;
	struct nvmft_sqe sqe;
	struct nvmft_cqe cqe;
	uint8_t rnd[32];
	uint32_t len;
	size_t hl;

	memset(rnd, 0, sizeof(rnd));
	memcpy(rnd, d, n < sizeof(rnd) ? n : sizeof(rnd));
	/* encoders take alignments up to PDU_MAX_PDA */
	p.cpda %= PDU_MAX_PDA + 1;
	p.hpda %= PDU_MAX_PDA + 1;
	p.maxh2cdata = 0;
	len = get32(rnd) & 0x00ffffff;

	hl = pdu_enc_icreq(&h, rnd[4] % (PDU_MAX_PDA + 1), rnd[5] & 3, get32(rnd + 6));
	expect_ok(&h, hl, PDU_DIR_H2C, NULL, 0);
	CHECK(pdu_check_icreq(&h.icreq, &(uint32_t){0}) == 0);
	hl = pdu_enc_icresp(&h, rnd[4] % (PDU_MAX_PDA + 1), rnd[5] & 3,
			    (get32(rnd + 6) | PDU_MIN_MAXH2CDATA) & ~3u);
	expect_ok(&h, hl, PDU_DIR_C2H, NULL, 0);
	CHECK(pdu_check_icresp(&h.icresp, 3, &(uint32_t){0}) == 0);

	hl = pdu_enc_term_req(&h, PDU_DIR_H2C, rnd[10], get32(rnd + 11), len);
	expect_ok(&h, hl, PDU_DIR_H2C, &p, len > PDU_TERM_MAX_DATA ?
		  PDU_TERM_MAX_DATA : len);
	hl = pdu_enc_term_req(&h, PDU_DIR_C2H, rnd[10], get32(rnd + 11), len);
	expect_ok(&h, hl, PDU_DIR_C2H, &p, len > PDU_TERM_MAX_DATA ?
		  PDU_TERM_MAX_DATA : len);

	memset(&sqe, rnd[15], sizeof(sqe));
	hl = pdu_enc_capsule_cmd(&h, &p, &sqe, len);
	expect_ok(&h, hl, PDU_DIR_H2C, &p, len);
	CHECK(!memcmp(&h.cmd.sqe, &sqe, sizeof(sqe)));

	memset(&cqe, rnd[16], sizeof(cqe));
	hl = pdu_enc_capsule_resp(&h, &p, &cqe);
	expect_ok(&h, hl, PDU_DIR_C2H, &p, 0);

	if (len) {
		hl = pdu_enc_h2c_data(&h, &p, (uint16_t)get32(rnd + 17),
				      (uint16_t)get32(rnd + 19), get32(rnd + 21),
				      len, rnd[25] & 1);
		expect_ok(&h, hl, PDU_DIR_H2C, &p, len);
		hl = pdu_enc_c2h_data(&h, &p, (uint16_t)get32(rnd + 17),
				      get32(rnd + 21), len, rnd[25] & 1,
				      rnd[25] & 2);
		expect_ok(&h, hl, PDU_DIR_C2H, &p, len);
		hl = pdu_enc_r2t(&h, &p, (uint16_t)get32(rnd + 17),
				 (uint16_t)get32(rnd + 19), get32(rnd + 21), len);
		expect_ok(&h, hl, PDU_DIR_C2H, &p, 0);
	}
	/* pads (after headers, whole dwords) land on the alignment asked for */
	for (uint32_t b = 0; b < 4; b++) {
		uint32_t hb = (rnd[26 + b] + 8u) & ~3u;
		uint8_t pda = rnd[30] % (PDU_MAX_PDA + 1);
		uint32_t pad = pdu_pad_for(hb, pda);

		CHECK(pad <= PDU_MAX_PAD);
		CHECK((hb + pad) % ((pda + 1u) * 4) == 0);
	}
}

/* Digests over the bytes after the header, cut into pieces. */
static void digests(const uint8_t *d, size_t n)
{
	struct iovec iov[4];
	uint8_t dg[PDU_DIGEST_LEN];
	size_t cut1 = n / 3, cut2 = n / 2;
	uint32_t crc;

	iov[0] = (struct iovec){ (void *)d, cut1 };
	iov[1] = (struct iovec){ (void *)(d + cut1), cut2 - cut1 };
	iov[2] = (struct iovec){ (void *)(d + cut2), n - cut2 };
	iov[3] = (struct iovec){ NULL, 0 };
	crc = pdu_crc32c(d, n);
	CHECK(pdu_crc32c_iov(iov, 4) == crc);
	CHECK(pdu_crc_final(pdu_crc_update(pdu_crc_update(PDU_CRC_INIT, d, cut1),
					   d + cut1, n - cut1)) == crc);
	pdu_ddgst_set(dg, iov, 3);
	CHECK(pdu_ddgst_ok(dg, iov, 3));
	CHECK(pdu_digest_get(dg) == crc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pdu_params p;
	union pdu_hdr h, hd;
	uint32_t max_plen;
	bool ic_done, nullp;
	size_t have;

	if (size < PARAM_BYTES)
		return 0;
	memset(&p, 0, sizeof(p));
	p.hdgst = data[0] & 1;
	p.ddgst = data[0] & 2;
	ic_done = data[0] & 4;
	nullp = data[0] & 8;
	p.cpda = data[1];	/* unchecked values are the checker's problem */
	p.hpda = data[2];
	max_plen = get32(data + 3);
	p.maxh2cdata = get32(data + 7);

	have = size - PARAM_BYTES;
	memset(&h, 0, sizeof(h));
	memcpy(h.raw, data + PARAM_BYTES, have < sizeof(h) ? have : sizeof(h));
	check_any(&h, have, nullp ? NULL : &p, ic_done, max_plen);

	/* a header digest set by us is always accepted */
	hd = h;
	pdu_hdgst_set(&hd);
	if (hd.ch.hlen >= sizeof(struct pdu_common) && hd.ch.hlen <= PDU_MAX_HLEN)
		CHECK(pdu_hdgst_ok(&hd));

	round_trips(data + PARAM_BYTES, have, &p);
	digests(data + PARAM_BYTES, have);
	return 0;
}
