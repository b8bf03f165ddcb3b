/* SPDX-License-Identifier: MIT */
/*
 * NVMe/TCP PDUs: encode, validate, digests. Pure functions over caller
 * buffers, no I/O and no state; the rules enforced are those of the NVMe/TCP
 * transport specification 1.0 and are restated next to each check.
 */
#include <endian.h>
#include <stddef.h>
#include <string.h>

#include <isa-l/crc.h>

#include "tcp/pdu.h"

/* The wire layouts are fixed by the spec; a wrong one must not build. */
_Static_assert(sizeof(struct pdu_common) == 8, "CH is 8 bytes");
_Static_assert(sizeof(struct pdu_icreq) == 128, "ICReq is 128 bytes");
_Static_assert(sizeof(struct pdu_icresp) == 128, "ICResp is 128 bytes");
_Static_assert(sizeof(struct pdu_term_req) == 24, "TermReq hlen is 24");
_Static_assert(sizeof(struct pdu_capsule_cmd) == 72, "CapsuleCmd hlen is 72");
_Static_assert(sizeof(struct pdu_capsule_resp) == 24, "CapsuleResp hlen is 24");
_Static_assert(sizeof(struct pdu_h2c_data) == 24, "H2CData hlen is 24");
_Static_assert(sizeof(struct pdu_c2h_data) == 24, "C2HData hlen is 24");
_Static_assert(sizeof(struct pdu_r2t) == 24, "R2T hlen is 24");
_Static_assert(offsetof(struct pdu_term_req, fei) == 10, "FEI at byte 10");
_Static_assert(offsetof(struct pdu_h2c_data, datal) == 16, "DATAL at 16");
_Static_assert(offsetof(struct pdu_c2h_data, datal) == 16, "DATAL at 16");
_Static_assert(offsetof(struct pdu_r2t, r2tl) == 16, "R2TL at 16");
_Static_assert(PDU_MAX_PAD + 76 <= 255, "pdo fits its byte for any PDA");

/* Byte offsets reported as FEI. */
#define FEI_TYPE	offsetof(struct pdu_common, type)
#define FEI_FLAGS	offsetof(struct pdu_common, flags)
#define FEI_HLEN	offsetof(struct pdu_common, hlen)
#define FEI_PDO		offsetof(struct pdu_common, pdo)
#define FEI_PLEN	offsetof(struct pdu_common, plen)

/* How a type carries data: decides the pdo, plen and DDGSTF rules. */
enum pdu_kind {
	KIND_IC,	/* fixed 128 bytes, no digests, no data */
	KIND_TERM,	/* 0..128 bytes right after the header, pdo 0, no digests */
	KIND_NODATA,	/* header (+hdgst) only */
	KIND_CMD,	/* in-capsule data optional */
	KIND_DATA,	/* data mandatory */
};

#define DIR_BIT(d)	(1u << (d))
#define H2C		DIR_BIT(PDU_DIR_H2C)
#define C2H		DIR_BIT(PDU_DIR_C2H)

struct pdu_type_info {
	const char *name;
	uint8_t hlen;
	uint8_t kind;
	uint8_t dirs;		/* directions it may travel in */
};

static const struct pdu_type_info pdu_types[] = {
	[PDU_ICREQ] = { "ICReq", sizeof(struct pdu_icreq), KIND_IC, H2C },
	[PDU_ICRESP] = { "ICResp", sizeof(struct pdu_icresp), KIND_IC, C2H },
	[PDU_H2C_TERM_REQ] = { "H2CTermReq", sizeof(struct pdu_term_req),
			       KIND_TERM, H2C },
	[PDU_C2H_TERM_REQ] = { "C2HTermReq", sizeof(struct pdu_term_req),
			       KIND_TERM, C2H },
	[PDU_CAPSULE_CMD] = { "CapsuleCmd", sizeof(struct pdu_capsule_cmd),
			      KIND_CMD, H2C },
	[PDU_CAPSULE_RESP] = { "CapsuleResp", sizeof(struct pdu_capsule_resp),
			       KIND_NODATA, C2H },
	[PDU_H2C_DATA] = { "H2CData", sizeof(struct pdu_h2c_data),
			   KIND_DATA, H2C },
	[PDU_C2H_DATA] = { "C2HData", sizeof(struct pdu_c2h_data),
			   KIND_DATA, C2H },
	[PDU_R2T] = { "R2T", sizeof(struct pdu_r2t), KIND_NODATA, C2H },
};

static const struct pdu_params no_params;

static const struct pdu_type_info *type_info(uint8_t type)
{
	if (type >= sizeof(pdu_types) / sizeof(pdu_types[0]) ||
	    !pdu_types[type].name)
		return NULL;
	return &pdu_types[type];
}

uint8_t pdu_hlen(uint8_t type)
{
	const struct pdu_type_info *ti = type_info(type);

	return ti ? ti->hlen : 0;
}

const char *pdu_type_name(uint8_t type)
{
	const struct pdu_type_info *ti = type_info(type);

	return ti ? ti->name : "unknown";
}

/* ---- CRC32C ------------------------------------------------------------ */

/* crc32_iscsi takes an int length: feed huge buffers in slices. */
#define CRC_SLICE	(1u << 30)

uint32_t pdu_crc_update(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len > 0) {
		size_t n = len < CRC_SLICE ? len : CRC_SLICE;

		/* ISA-L's prototype lacks const; it does not write. */
		crc = crc32_iscsi((unsigned char *)p, (int)n, crc);
		p += n;
		len -= n;
	}
	return crc;
}

uint32_t pdu_crc32c(const void *buf, size_t len)
{
	return pdu_crc_final(pdu_crc_update(PDU_CRC_INIT, buf, len));
}

uint32_t pdu_crc32c_iov(const struct iovec *iov, int iovcnt)
{
	uint32_t crc = PDU_CRC_INIT;

	for (int i = 0; i < iovcnt; i++)
		crc = pdu_crc_update(crc, iov[i].iov_base, iov[i].iov_len);
	return pdu_crc_final(crc);
}

void pdu_digest_put(void *dst, uint32_t crc)
{
	uint32_t le = htole32(crc);

	memcpy(dst, &le, sizeof(le));
}

uint32_t pdu_digest_get(const void *src)
{
	uint32_t le;

	memcpy(&le, src, sizeof(le));
	return le32toh(le);
}

/* The digest sits right after hlen bytes; refuse an hlen the union lacks. */
static bool hdgst_hlen_ok(uint8_t hlen)
{
	return hlen >= sizeof(struct pdu_common) && hlen <= PDU_MAX_HLEN;
}

bool pdu_hdgst_ok(const union pdu_hdr *h)
{
	uint8_t hlen = h->ch.hlen;

	if (!hdgst_hlen_ok(hlen))
		return false;
	return pdu_digest_get(&h->raw[hlen]) == pdu_crc32c(h->raw, hlen);
}

void pdu_hdgst_set(union pdu_hdr *h)
{
	uint8_t hlen = h->ch.hlen;

	if (hdgst_hlen_ok(hlen))
		pdu_digest_put(&h->raw[hlen], pdu_crc32c(h->raw, hlen));
}

void pdu_ddgst_set(void *dgst, const struct iovec *iov, int iovcnt)
{
	pdu_digest_put(dgst, pdu_crc32c_iov(iov, iovcnt));
}

bool pdu_ddgst_ok(const void *dgst, const struct iovec *iov, int iovcnt)
{
	return pdu_digest_get(dgst) == pdu_crc32c_iov(iov, iovcnt);
}

/* ---- lengths ----------------------------------------------------------- */

/*
 * CPDA/HPDA are 0's based counts of dwords: data starts at a multiple of
 * (pda + 1) * 4 bytes from the start of the PDU. Not always a power of two
 * (pda 2 is 12 bytes), so no masks.
 */
uint32_t pdu_pad_for(uint32_t hdr_bytes, uint8_t pda)
{
	uint32_t align = ((uint32_t)pda + 1) * 4;
	uint32_t rem = hdr_bytes % align;

	return rem ? align - rem : 0;
}

uint32_t pdu_data_len(const struct pdu_common *ch)
{
	const struct pdu_type_info *ti = type_info(ch->type);
	uint32_t plen = le32toh(ch->plen);
	uint32_t used;

	if (!ti)
		return 0;
	if (ti->kind == KIND_TERM)
		return plen > ch->hlen ? plen - ch->hlen : 0;
	if (ti->kind != KIND_CMD && ti->kind != KIND_DATA)
		return 0;
	if (ch->pdo == 0)
		return 0;
	used = ch->pdo + ((ch->flags & PDU_FLAG_DDGSTF) ? PDU_DIGEST_LEN : 0);
	return plen > used ? plen - used : 0;
}

uint32_t pdu_pad_len(const struct pdu_common *ch)
{
	uint32_t hdr = pdu_hdr_len(ch);

	return ch->pdo > hdr ? ch->pdo - hdr : 0;
}

/* ---- validation -------------------------------------------------------- */

static int fail(uint32_t *fei, uint32_t offset, int fes)
{
	*fei = offset;
	return fes;
}

/*
 * Type against direction and connection phase. The IC exchange opens every
 * connection: before it only ICReq (H2C) / ICResp (C2H) may arrive, after
 * it they may not; a TermReq may arrive at any time.
 */
static int check_type(const struct pdu_type_info *ti, enum pdu_dir dir,
		      bool ic_done, uint32_t *fei)
{
	bool seq_ok;

	if (!ti || !(ti->dirs & DIR_BIT(dir)))
		return fail(fei, FEI_TYPE, PDU_FES_INVALID_HEADER_FIELD);
	if (ti->kind == KIND_IC)
		seq_ok = !ic_done;
	else
		seq_ok = ic_done || ti->kind == KIND_TERM;
	if (!seq_ok)
		return fail(fei, FEI_TYPE, PDU_FES_PDU_SEQUENCE_ERROR);
	return 0;
}

/*
 * PSH fields that the CH lengths must agree with. DATAL counts exactly the
 * bytes between pdo and the data digest; an H2CData may not carry more than
 * the MAXH2CDATA we announced (FES 05h, FEI reserved so 0); a zero R2TL
 * would ask for nothing and is a peer bug.
 */
static int check_psh(const struct pdu_common *ch, enum pdu_dir dir,
		     const struct pdu_params *p, uint32_t data, uint32_t *fei)
{
	uint32_t len;

	switch (ch->type) {
	case PDU_H2C_DATA:
	case PDU_C2H_DATA:
		len = le32toh(((const struct pdu_h2c_data *)ch)->datal);
		if (len != data)
			return fail(fei, offsetof(struct pdu_h2c_data, datal),
				    PDU_FES_INVALID_HEADER_FIELD);
		if (dir == PDU_DIR_H2C && p->maxh2cdata && len > p->maxh2cdata)
			return fail(fei, 0, PDU_FES_DATA_LIMIT_EXCEEDED);
		break;
	case PDU_R2T:
		len = le32toh(((const struct pdu_r2t *)ch)->r2tl);
		if (len == 0)
			return fail(fei, offsetof(struct pdu_r2t, r2tl),
				    PDU_FES_INVALID_HEADER_FIELD);
		break;
	}
	return 0;
}

int pdu_check_common(const struct pdu_common *ch, enum pdu_dir dir,
		     const struct pdu_params *p, bool ic_done,
		     uint32_t max_plen, uint32_t *fei)
{
	const struct pdu_type_info *ti = type_info(ch->type);
	uint32_t plen = le32toh(ch->plen);
	uint32_t hdr, dd = 0, data = 0;
	bool has_data, ddgstf;
	int fes;

	if (!p)
		p = &no_params;
	*fei = 0;

	fes = check_type(ti, dir, ic_done, fei);
	if (fes)
		return fes;

	/* HLEN is fixed per type (ICReq/ICResp 128, CapsuleCmd 72, others 24). */
	if (ch->hlen != ti->hlen)
		return fail(fei, FEI_HLEN, PDU_FES_INVALID_HEADER_FIELD);

	/*
	 * Digest flags. IC and TermReq PDUs never carry digests (the digests
	 * are not negotiated yet, or the connection is being torn down).
	 * Elsewhere HDGSTF is set iff header digests were negotiated, and
	 * DDGSTF iff data digests were and the PDU carries data; a CapsuleCmd
	 * carries in-capsule data iff plen goes past its header (+hdgst).
	 */
	hdr = ch->hlen;
	if (ti->kind == KIND_IC || ti->kind == KIND_TERM) {
		if (ch->flags & (PDU_FLAG_HDGSTF | PDU_FLAG_DDGSTF))
			return fail(fei, FEI_FLAGS,
				    PDU_FES_INVALID_HEADER_FIELD);
		has_data = false;
	} else {
		if (!!(ch->flags & PDU_FLAG_HDGSTF) != p->hdgst)
			return fail(fei, FEI_FLAGS,
				    PDU_FES_INVALID_HEADER_FIELD);
		if (p->hdgst)
			hdr += PDU_DIGEST_LEN;
		has_data = ti->kind == KIND_DATA ||
			   (ti->kind == KIND_CMD && plen > hdr);
		ddgstf = ch->flags & PDU_FLAG_DDGSTF;
		if (ddgstf != (p->ddgst && has_data))
			return fail(fei, FEI_FLAGS,
				    PDU_FES_INVALID_HEADER_FIELD);
		if (ddgstf)
			dd = PDU_DIGEST_LEN;
	}
	/* SUCCESS promises no CapsuleResp follows: only on the last C2HData. */
	if (ch->type == PDU_C2H_DATA && (ch->flags & PDU_FLAG_SUCCESS) &&
	    !(ch->flags & PDU_FLAG_LAST_PDU))
		return fail(fei, FEI_FLAGS, PDU_FES_INVALID_HEADER_FIELD);

	/*
	 * PDO is 0 without data (TermReq data follows the header directly).
	 * With data it points past the header and its digest, the gap being
	 * pad, at the alignment the receiver asked for: CPDA for H2C PDUs,
	 * HPDA for C2H PDUs. It cannot point past the end of the PDU.
	 */
	if (!has_data) {
		if (ch->pdo != 0)
			return fail(fei, FEI_PDO, PDU_FES_INVALID_HEADER_FIELD);
	} else {
		uint8_t pda = dir == PDU_DIR_H2C ? p->cpda : p->hpda;

		if (ch->pdo < hdr || pdu_pad_for(ch->pdo, pda) != 0 ||
		    ch->pdo > plen)
			return fail(fei, FEI_PDO, PDU_FES_INVALID_HEADER_FIELD);
	}

	/*
	 * PLEN covers the whole PDU: header, hdgst, pad, data, ddgst. Without
	 * data that is exactly the header (+hdgst); a TermReq adds at most 128
	 * bytes of the offending header; with data at least one data byte
	 * lies between pdo and the data digest.
	 */
	switch (ti->kind) {
	case KIND_IC:
	case KIND_NODATA:
		if (plen != hdr)
			return fail(fei, FEI_PLEN, PDU_FES_INVALID_HEADER_FIELD);
		break;
	case KIND_TERM:
		if (plen < hdr || plen - hdr > PDU_TERM_MAX_DATA)
			return fail(fei, FEI_PLEN, PDU_FES_INVALID_HEADER_FIELD);
		break;
	default:
		if (!has_data) {
			if (plen != hdr)
				return fail(fei, FEI_PLEN,
					    PDU_FES_INVALID_HEADER_FIELD);
			break;
		}
		if (plen - ch->pdo <= dd)
			return fail(fei, FEI_PLEN, PDU_FES_INVALID_HEADER_FIELD);
		data = plen - ch->pdo - dd;
		break;
	}
	if (plen > max_plen)
		return fail(fei, FEI_PLEN, PDU_FES_INVALID_HEADER_FIELD);

	return check_psh(ch, dir, p, data, fei);
}

/*
 * PFV 0 is the only version (1.0); anything else is a parameter we do not
 * support. PDA values above 31 are reserved.
 */
int pdu_check_icreq(const struct pdu_icreq *req, uint32_t *fei)
{
	*fei = 0;
	if (le16toh(req->pfv) != PDU_PFV_1_0)
		return fail(fei, offsetof(struct pdu_icreq, pfv),
			    PDU_FES_UNSUPPORTED_PARAMETER);
	if (req->hpda > PDU_MAX_PDA)
		return fail(fei, offsetof(struct pdu_icreq, hpda),
			    PDU_FES_INVALID_HEADER_FIELD);
	return 0;
}

/*
 * The controller may only turn off digests the host asked for, and
 * MAXH2CDATA must be whole dwords, at least 4 KiB.
 */
int pdu_check_icresp(const struct pdu_icresp *rsp, uint8_t requested,
		     uint32_t *fei)
{
	uint32_t maxh2cdata = le32toh(rsp->maxh2cdata);
	uint8_t known = PDU_DIGEST_HDGST | PDU_DIGEST_DDGST;

	*fei = 0;
	if (le16toh(rsp->pfv) != PDU_PFV_1_0)
		return fail(fei, offsetof(struct pdu_icresp, pfv),
			    PDU_FES_UNSUPPORTED_PARAMETER);
	if (rsp->cpda > PDU_MAX_PDA)
		return fail(fei, offsetof(struct pdu_icresp, cpda),
			    PDU_FES_INVALID_HEADER_FIELD);
	if (rsp->digest & known & ~requested)
		return fail(fei, offsetof(struct pdu_icresp, digest),
			    PDU_FES_INVALID_HEADER_FIELD);
	if (maxh2cdata % 4 || maxh2cdata < PDU_MIN_MAXH2CDATA)
		return fail(fei, offsetof(struct pdu_icresp, maxh2cdata),
			    PDU_FES_INVALID_HEADER_FIELD);
	return 0;
}

/* ---- encoders ---------------------------------------------------------- */

/*
 * Fill the CH of a header whose PSH is already in place, then its digest.
 * @with_data: the PDU gets a pdo (even for 0 bytes of data, which only a
 * misused data encoder produces and the receiver will reject).
 */
static size_t enc_ch(union pdu_hdr *h, uint8_t type, const struct pdu_params *p,
		     uint8_t pda, bool with_data, uint32_t data_len,
		     uint8_t flags)
{
	uint32_t hdr = pdu_hlen(type), plen, pdo = 0;

	if (!p)
		p = &no_params;
	if (p->hdgst) {
		flags |= PDU_FLAG_HDGSTF;
		hdr += PDU_DIGEST_LEN;
	}
	plen = hdr;
	if (with_data) {
		pdo = hdr + pdu_pad_for(hdr, pda);
		plen = pdo + data_len;
		if (p->ddgst) {
			flags |= PDU_FLAG_DDGSTF;
			plen += PDU_DIGEST_LEN;
		}
	}
	h->ch.type = type;
	h->ch.flags = flags;
	h->ch.hlen = pdu_hlen(type);
	h->ch.pdo = (uint8_t)pdo;
	h->ch.plen = htole32(plen);
	if (p->hdgst)
		pdu_hdgst_set(h);
	return hdr;
}

/* IC and TermReq PDUs: no digests, no pdo; @extra bytes follow the header. */
static size_t enc_plain(union pdu_hdr *h, uint8_t type, uint32_t extra)
{
	h->ch.type = type;
	h->ch.flags = 0;
	h->ch.hlen = pdu_hlen(type);
	h->ch.pdo = 0;
	h->ch.plen = htole32(h->ch.hlen + extra);
	return h->ch.hlen;
}

static uint8_t pda_of(const struct pdu_params *p, enum pdu_dir dir)
{
	if (!p)
		return 0;
	return dir == PDU_DIR_H2C ? p->cpda : p->hpda;
}

size_t pdu_enc_icreq(union pdu_hdr *h, uint8_t hpda, uint8_t digest,
		     uint32_t maxr2t)
{
	memset(h, 0, sizeof(*h));
	h->icreq.pfv = htole16(PDU_PFV_1_0);
	h->icreq.hpda = hpda;
	h->icreq.digest = digest;
	h->icreq.maxr2t = htole32(maxr2t);
	return enc_plain(h, PDU_ICREQ, 0);
}

size_t pdu_enc_icresp(union pdu_hdr *h, uint8_t cpda, uint8_t digest,
		      uint32_t maxh2cdata)
{
	memset(h, 0, sizeof(*h));
	h->icresp.pfv = htole16(PDU_PFV_1_0);
	h->icresp.cpda = cpda;
	h->icresp.digest = digest;
	h->icresp.maxh2cdata = htole32(maxh2cdata);
	return enc_plain(h, PDU_ICRESP, 0);
}

size_t pdu_enc_term_req(union pdu_hdr *h, enum pdu_dir dir, uint16_t fes,
			uint32_t fei, uint32_t data_len)
{
	memset(h, 0, sizeof(*h));
	h->term.fes = htole16(fes);
	h->term.fei = htole32(fei);
	if (data_len > PDU_TERM_MAX_DATA)
		data_len = PDU_TERM_MAX_DATA;
	return enc_plain(h, dir == PDU_DIR_H2C ? PDU_H2C_TERM_REQ :
			 PDU_C2H_TERM_REQ, data_len);
}

size_t pdu_enc_capsule_cmd(union pdu_hdr *h, const struct pdu_params *p,
			   const struct nvmft_sqe *sqe, uint32_t data_len)
{
	memset(h, 0, sizeof(*h));
	h->cmd.sqe = *sqe;
	return enc_ch(h, PDU_CAPSULE_CMD, p, pda_of(p, PDU_DIR_H2C),
		      data_len > 0, data_len, 0);
}

size_t pdu_enc_capsule_resp(union pdu_hdr *h, const struct pdu_params *p,
			    const struct nvmft_cqe *cqe)
{
	memset(h, 0, sizeof(*h));
	h->rsp.cqe = *cqe;
	return enc_ch(h, PDU_CAPSULE_RESP, p, 0, false, 0, 0);
}

size_t pdu_enc_h2c_data(union pdu_hdr *h, const struct pdu_params *p,
			uint16_t cccid, uint16_t ttag, uint32_t datao,
			uint32_t datal, bool last)
{
	memset(h, 0, sizeof(*h));
	h->h2c.cccid = htole16(cccid);
	h->h2c.ttag = htole16(ttag);
	h->h2c.datao = htole32(datao);
	h->h2c.datal = htole32(datal);
	return enc_ch(h, PDU_H2C_DATA, p, pda_of(p, PDU_DIR_H2C), true, datal,
		      last ? PDU_FLAG_LAST_PDU : 0);
}

size_t pdu_enc_c2h_data(union pdu_hdr *h, const struct pdu_params *p,
			uint16_t cccid, uint32_t datao, uint32_t datal,
			bool last, bool success)
{
	uint8_t flags = 0;

	memset(h, 0, sizeof(*h));
	h->c2h.cccid = htole16(cccid);
	h->c2h.datao = htole32(datao);
	h->c2h.datal = htole32(datal);
	if (last || success)
		flags |= PDU_FLAG_LAST_PDU;
	if (success)
		flags |= PDU_FLAG_SUCCESS;
	return enc_ch(h, PDU_C2H_DATA, p, pda_of(p, PDU_DIR_C2H), true, datal,
		      flags);
}

size_t pdu_enc_r2t(union pdu_hdr *h, const struct pdu_params *p,
		   uint16_t cccid, uint16_t ttag, uint32_t r2to, uint32_t r2tl)
{
	memset(h, 0, sizeof(*h));
	h->r2t.cccid = htole16(cccid);
	h->r2t.ttag = htole16(ttag);
	h->r2t.r2to = htole32(r2to);
	h->r2t.r2tl = htole32(r2tl);
	return enc_ch(h, PDU_R2T, p, 0, false, 0, 0);
}
