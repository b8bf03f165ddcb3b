/* SPDX-License-Identifier: MIT */
/*
 * Writes the seed corpora of the fuzz targets (tests/fuzz/run.sh --seed):
 * valid PDU sequences a host sends (IC exchange, Connect, admin commands,
 * an I/O queue with in-capsule, R2T and C2H transfers, digests, data
 * alignment) for fuzz_tcp_recv, headers of every PDU type for fuzz_pdu,
 * command records for fuzz_cmd. Built with lib/tcp/pdu.c's encoders, so
 * the seeds follow the codec. Usage: gen_corpus OUTDIR (tests/fuzz/corpus).
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <nvme/types.h>
#include <nvmft/config.h>
#include "tcp/pdu.h"

#define NQN	"nqn.2024-01.io.nvmft:fuzz"
#define HOSTNQN	"nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-00000000f022"
#define SEP	"--IOQ--"

struct buf {
	uint8_t *p;
	size_t len;
	size_t cap;
};

static void put(struct buf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 256;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	if (d)
		memcpy(b->p + b->len, d, n);
	else
		memset(b->p + b->len, 0, n);
	b->len += n;
}

static const char *outdir;

static void save(const char *target, const char *name, const struct buf *b)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/seed-%s", outdir, target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(b->p, 1, b->len, f) != b->len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

/* ---- host-side PDU stream ------------------------------------------------ */

struct host {
	struct buf s;
	struct pdu_params p;
	uint16_t cid;
};

static void h_icreq(struct host *h, uint8_t hpda, uint8_t digest)
{
	union pdu_hdr hd;
	size_t n = pdu_enc_icreq(&hd, hpda, digest, 0);

	put(&h->s, hd.raw, n);
	h->p.hdgst = digest & PDU_DIGEST_HDGST;
	h->p.ddgst = digest & PDU_DIGEST_DDGST;
	h->p.cpda = 0;		/* what the target grants */
	h->p.hpda = hpda;
}

/* A CapsuleCmd with @len bytes of in-capsule data (@data may be NULL). */
static void h_cmd(struct host *h, struct nvmft_sqe *sqe, const void *data,
		  uint32_t len)
{
	union pdu_hdr hd;
	size_t n;

	sqe->cid = h->cid++;
	if (len) {
		sqe->sgl.type = NVMFT_SGL_INCAPSULE;
		sqe->sgl.addr = 0;
		sqe->sgl.length = htole32(len);
	}
	n = pdu_enc_capsule_cmd(&hd, &h->p, sqe, len);
	put(&h->s, hd.raw, n);
	if (len) {
		uint8_t dg[PDU_DIGEST_LEN];
		struct iovec iov = { (void *)data, len };
		uint8_t *zero = NULL;

		put(&h->s, NULL, pdu_pad_len(&hd.ch));
		if (!data) {
			zero = calloc(1, len);
			iov.iov_base = zero;
		}
		put(&h->s, iov.iov_base, len);
		if (h->p.ddgst) {
			pdu_ddgst_set(dg, &iov, 1);
			put(&h->s, dg, sizeof(dg));
		}
		free(zero);
	}
}

/* A command whose data comes by R2T: transport SGL of @len. */
static void h_cmd_r2t(struct host *h, struct nvmft_sqe *sqe, uint32_t len)
{
	sqe->sgl.type = NVMFT_SGL_TRANSPORT;
	sqe->sgl.length = htole32(len);
	h_cmd(h, sqe, NULL, 0);
}

/* H2CData PDUs for the R2T of the last command (ttag: its slot, 0 when
 * the queue had nothing else outstanding), in @unit pieces. */
static void h_h2c(struct host *h, uint16_t ttag, uint32_t len, uint32_t unit,
		  uint8_t fill)
{
	uint16_t cid = (uint16_t)(h->cid - 1);

	for (uint32_t off = 0; off < len; off += unit) {
		uint32_t n = len - off < unit ? len - off : unit;
		uint8_t *d = malloc(n);
		struct iovec iov = { d, n };
		uint8_t dg[PDU_DIGEST_LEN];
		union pdu_hdr hd;
		size_t hl;

		memset(d, fill, n);
		hl = pdu_enc_h2c_data(&hd, &h->p, cid, ttag, off, n, off + n == len);
		put(&h->s, hd.raw, hl);
		put(&h->s, NULL, pdu_pad_len(&hd.ch));
		put(&h->s, d, n);
		if (h->p.ddgst) {
			pdu_ddgst_set(dg, &iov, 1);
			put(&h->s, dg, sizeof(dg));
		}
		free(d);
	}
}

static void sqe_init(struct nvmft_sqe *sqe, uint8_t opcode)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = opcode;
	sqe->flags = 0x40;	/* PSDT: SGL */
	sqe->sgl.type = NVMFT_SGL_TRANSPORT;
}

static void fabrics(struct nvmft_sqe *sqe, uint8_t fctype)
{
	sqe_init(sqe, nvme_admin_fabrics);
	((uint8_t *)sqe)[4] = fctype;
}

static void h_connect(struct host *h, uint16_t qid, uint16_t sqsize,
		      uint16_t cntlid, uint32_t kato)
{
	struct nvmf_connect_data cd;
	struct nvmft_sqe sqe;

	fabrics(&sqe, nvme_fabrics_type_connect);
	sqe.cdw10 = htole32((uint32_t)qid << 16);
	sqe.cdw11 = htole32(sqsize);
	sqe.cdw12 = htole32(kato);
	memset(&cd, 0, sizeof(cd));
	for (int i = 0; i < 16; i++)
		cd.hostid[i] = (uint8_t)(0xa0 + i);
	cd.cntlid = htole16(cntlid);
	strcpy(cd.subsysnqn, NQN);
	strcpy(cd.hostnqn, HOSTNQN);
	h_cmd(h, &sqe, &cd, sizeof(cd));
}

static void h_prop_set(struct host *h, uint32_t ofst, uint32_t val)
{
	struct nvmft_sqe sqe;

	fabrics(&sqe, nvme_fabrics_type_property_set);
	sqe.cdw11 = htole32(ofst);
	sqe.cdw12 = htole32(val);
	h_cmd(h, &sqe, NULL, 0);
}

static void h_prop_get(struct host *h, uint32_t ofst, bool eight)
{
	struct nvmft_sqe sqe;

	fabrics(&sqe, nvme_fabrics_type_property_get);
	sqe.cdw10 = htole32(eight ? 1 : 0);
	sqe.cdw11 = htole32(ofst);
	h_cmd(h, &sqe, NULL, 0);
}

static void h_enable(struct host *h)
{
	h_prop_get(h, NVME_REG_CAP, true);
	h_prop_set(h, NVME_REG_CC, 1u | (6u << NVME_CC_IOSQES_SHIFT) |
		   (4u << NVME_CC_IOCQES_SHIFT));
	h_prop_get(h, NVME_REG_CSTS, false);
}

/* Admin commands with C2H data (transport SGL) or none. */
static void h_admin(struct host *h, uint8_t opc, uint32_t cdw10, uint32_t cdw11,
		    uint32_t nsid, uint32_t len)
{
	struct nvmft_sqe sqe;

	sqe_init(&sqe, opc);
	sqe.nsid = htole32(nsid);
	sqe.cdw10 = htole32(cdw10);
	sqe.cdw11 = htole32(cdw11);
	if (len)
		h_cmd_r2t(h, &sqe, len);
	else
		h_cmd(h, &sqe, NULL, 0);
}

static void h_admin_session(struct host *h)
{
	h_connect(h, 0, 7, 0xffff, 30000);
	h_enable(h);
	h_admin(h, nvme_admin_identify, NVME_IDENTIFY_CNS_CTRL, 0, 0, 4096);
	h_admin(h, nvme_admin_identify, NVME_IDENTIFY_CNS_NS, 0, 1, 4096);
	h_admin(h, nvme_admin_identify, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0, 0, 4096);
	h_admin(h, nvme_admin_identify, NVME_IDENTIFY_CNS_NS_DESC_LIST, 0, 1, 4096);
	h_admin(h, nvme_admin_get_features, NVME_FEAT_FID_NUM_QUEUES, 0, 0, 0);
	h_admin(h, nvme_admin_set_features, NVME_FEAT_FID_NUM_QUEUES, 0x00030003, 0, 0);
	h_admin(h, nvme_admin_get_log_page, NVME_LOG_LID_SMART | (127u << 16), 0,
		0xffffffff, 512);
	h_admin(h, nvme_admin_keep_alive, 0, 0, 0, 0);
	h_admin(h, nvme_admin_async_event, 0, 0, 0, 0);
}

/* [mode][seed 2][stream] */
static void save_tcp(const char *name, uint8_t mode, const struct buf *s)
{
	struct buf b = { 0 };
	uint8_t hdr[3] = { mode, 0x12, 0x34 };

	put(&b, hdr, 3);
	put(&b, s->p, s->len);
	save("fuzz_tcp_recv", name, &b);
	free(b.p);
}

/* one PDU per receive, waiting for the answers like a host */
#define MODE_SYNC	0x70

static void seeds_tcp(void)
{
	struct host h;
	struct nvmft_sqe sqe;
	uint8_t data[16384];

	memset(&h, 0, sizeof(h));
	h_icreq(&h, 0, 0);
	save_tcp("icreq", 0, &h.s);
	h_connect(&h, 0, 7, 0xffff, 30000);
	save_tcp("connect", MODE_SYNC, &h.s);
	save_tcp("connect-bytewise", 0x10, &h.s);
	free(h.s.p);

	for (int v = 0; v < 4; v++) {
		static const uint8_t dig[4] = { 0, PDU_DIGEST_HDGST | PDU_DIGEST_DDGST,
						PDU_DIGEST_DDGST, PDU_DIGEST_HDGST };
		static const uint8_t hpda[4] = { 0, 3, 31, 0 };
		char name[64];

		memset(&h, 0, sizeof(h));
		h_icreq(&h, hpda[v], dig[v]);
		h_admin_session(&h);
		snprintf(name, sizeof(name), "admin-d%u-hpda%u", dig[v], hpda[v]);
		save_tcp(name, MODE_SYNC, &h.s);
		if (v == 0) {
			save_tcp("admin-whole", 0, &h.s);
			save_tcp("admin-cut32", 0x20, &h.s);
			save_tcp("admin-reset", MODE_SYNC | 1, &h.s);
			save_tcp("admin-tgt-close", MODE_SYNC | 2 | 0xc, &h.s);
		}

		/* an I/O queue: in-capsule write, R2T write, reads, flush */
		put(&h.s, SEP, strlen(SEP));
		h.cid = 0;
		h_icreq(&h, hpda[v], dig[v]);
		h_connect(&h, 1, 15, 1, 0);
		memset(data, 0x5a, sizeof(data));
		sqe_init(&sqe, nvme_cmd_write);
		sqe.nsid = htole32(1);
		sqe.cdw12 = htole32(4096 / 512 - 1);
		h_cmd(&h, &sqe, data, 4096);
		sqe_init(&sqe, nvme_cmd_write);
		sqe.nsid = htole32(1);
		sqe.cdw10 = htole32(8);
		sqe.cdw12 = htole32(16384 / 512 - 1);
		h_cmd_r2t(&h, &sqe, 16384);
		h_h2c(&h, 0, 16384, 4096, 0xa5);
		sqe_init(&sqe, nvme_cmd_read);
		sqe.nsid = htole32(1);
		sqe.cdw12 = htole32(16384 / 512 - 1);
		h_cmd_r2t(&h, &sqe, 16384);
		sqe_init(&sqe, nvme_cmd_read);
		sqe.nsid = htole32(1);
		sqe.cdw12 = htole32(1 - 1);
		h_cmd_r2t(&h, &sqe, 512);
		sqe_init(&sqe, nvme_cmd_flush);
		sqe.nsid = htole32(1);
		h_cmd(&h, &sqe, NULL, 0);
		sqe_init(&sqe, nvme_cmd_write_zeroes);
		sqe.nsid = htole32(1);
		sqe.cdw12 = htole32(63);
		h_cmd(&h, &sqe, NULL, 0);
		snprintf(name, sizeof(name), "ioq-d%u-hpda%u", dig[v], hpda[v]);
		save_tcp(name, MODE_SYNC, &h.s);
		if (v == 0) {
			save_tcp("ioq-cut512-slow-sends", 0x40 | 0xc, &h.s);
			save_tcp("ioq-whole", 0, &h.s);
			save_tcp("ioq-not-reading", 0x80, &h.s);
		}
		free(h.s.p);
	}

	/* a host that floods commands without waiting */
	memset(&h, 0, sizeof(h));
	h_icreq(&h, 0, 0);
	h_connect(&h, 0, 3, 0xffff, 0);
	for (int i = 0; i < 12; i++)
		h_admin(&h, nvme_admin_identify, NVME_IDENTIFY_CNS_CTRL, 0, 0, 16384);
	save_tcp("flood", 0, &h.s);
	save_tcp("flood-not-reading", 0x80 | 0x30, &h.s);
	free(h.s.p);

	/* a goodbye */
	memset(&h, 0, sizeof(h));
	h_icreq(&h, 0, 0);
	{
		union pdu_hdr hd;
		size_t n = pdu_enc_term_req(&hd, PDU_DIR_H2C, PDU_FES_HDGST_ERROR, 0, 8);

		put(&h.s, hd.raw, n);
		put(&h.s, hd.raw, 8);
	}
	save_tcp("h2c-term", MODE_SYNC, &h.s);
	free(h.s.p);
}

/* ---- fuzz_pdu: [flags][cpda][hpda][max_plen 4][maxh2cdata 4][seed][hdr] -- */

static void save_pdu(const char *name, uint8_t flags, const struct pdu_params *p,
		     const union pdu_hdr *hd, size_t len)
{
	struct buf b = { 0 };
	uint8_t pre[12] = { flags, p->cpda, p->hpda };
	uint32_t max = htole32(65536), mh = htole32(p->maxh2cdata);

	memcpy(pre + 3, &max, 4);
	memcpy(pre + 7, &mh, 4);
	pre[11] = 0x33;
	put(&b, pre, sizeof(pre));
	put(&b, hd->raw, len);
	save("fuzz_pdu", name, &b);
	free(b.p);
}

static void seeds_pdu(void)
{
	struct pdu_params p = { .hdgst = true, .ddgst = true, .cpda = 0, .hpda = 3,
				.maxh2cdata = 4096 };
	struct nvmft_sqe sqe;
	struct nvmft_cqe cqe;
	union pdu_hdr hd;
	size_t n;

	memset(&sqe, 0, sizeof(sqe));
	memset(&cqe, 0, sizeof(cqe));
	n = pdu_enc_icreq(&hd, 0, 3, 0);
	save_pdu("icreq", 0, &p, &hd, n);
	n = pdu_enc_icresp(&hd, 0, 3, 131072);
	save_pdu("icresp", 0x10, &p, &hd, n);
	n = pdu_enc_term_req(&hd, PDU_DIR_H2C, 1, 2, 24);
	save_pdu("h2c-term", 4, &p, &hd, n);
	n = pdu_enc_term_req(&hd, PDU_DIR_C2H, 2, 0, 0);
	save_pdu("c2h-term", 0x14, &p, &hd, n);
	n = pdu_enc_capsule_cmd(&hd, &p, &sqe, 4096);
	save_pdu("cmd-icd", 7, &p, &hd, n);
	n = pdu_enc_capsule_cmd(&hd, NULL, &sqe, 0);
	save_pdu("cmd", 4, &p, &hd, n);
	n = pdu_enc_capsule_resp(&hd, &p, &cqe);
	save_pdu("rsp", 0x17, &p, &hd, n);
	n = pdu_enc_h2c_data(&hd, &p, 1, 2, 0, 4096, true);
	save_pdu("h2c", 7, &p, &hd, n);
	n = pdu_enc_c2h_data(&hd, &p, 1, 4096, 512, true, true);
	save_pdu("c2h", 0x17, &p, &hd, n);
	n = pdu_enc_r2t(&hd, &p, 1, 2, 0, 8192);
	save_pdu("r2t", 0x17, &p, &hd, n);
}

/* ---- fuzz_cmd: [flags] then [queue][len 2][sqe 64][data] records --------- */

static void rec(struct buf *b, uint8_t q, const struct nvmft_sqe *sqe,
		uint16_t len, const void *data, uint32_t data_len)
{
	uint8_t hdr[3] = { q, (uint8_t)len, (uint8_t)(len >> 8) };

	put(b, hdr, 3);
	put(b, sqe, sizeof(*sqe));
	if (data_len)
		put(b, data, data_len);
}

static void cmd_sqe(struct nvmft_sqe *sqe, uint8_t opc, uint32_t nsid,
		    uint32_t cdw10, uint32_t cdw11, uint32_t cdw12)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = opc;
	sqe->flags = 0x40;
	sqe->nsid = htole32(nsid);
	sqe->cdw10 = htole32(cdw10);
	sqe->cdw11 = htole32(cdw11);
	sqe->cdw12 = htole32(cdw12);
	sqe->sgl.type = NVMFT_SGL_TRANSPORT;
}

static void seeds_cmd(void)
{
	struct nvmft_sqe sqe;
	struct buf b = { 0 };
	uint8_t flags = 3, data[4096];
	uint8_t dsm[16] = { 0 };

	put(&b, &flags, 1);
	cmd_sqe(&sqe, nvme_admin_identify, 0, NVME_IDENTIFY_CNS_CTRL, 0, 0);
	rec(&b, 0, &sqe, 4096, NULL, 0);
	cmd_sqe(&sqe, nvme_admin_identify, 1, NVME_IDENTIFY_CNS_NS, 0, 0);
	rec(&b, 0, &sqe, 4096, NULL, 0);
	cmd_sqe(&sqe, nvme_admin_identify, 0, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0, 0);
	rec(&b, 0, &sqe, 4096, NULL, 0);
	cmd_sqe(&sqe, nvme_admin_identify, 1, NVME_IDENTIFY_CNS_NS_DESC_LIST, 0, 0);
	rec(&b, 0, &sqe, 4096, NULL, 0);
	cmd_sqe(&sqe, nvme_admin_get_log_page, 0xffffffff,
		NVME_LOG_LID_SMART | (127u << 16), 0, 0);
	rec(&b, 0, &sqe, 512, NULL, 0);
	cmd_sqe(&sqe, nvme_admin_get_log_page, 0, NVME_LOG_LID_ERROR | (63u << 16), 0, 0);
	rec(&b, 0, &sqe, 256, NULL, 0);
	cmd_sqe(&sqe, nvme_admin_get_log_page, 0, NVME_LOG_LID_ANA | (1023u << 16), 0, 0);
	rec(&b, 0, &sqe, 4096, NULL, 0);
	cmd_sqe(&sqe, nvme_admin_get_log_page, 0,
		NVME_LOG_LID_CHANGED_NS | (1023u << 16), 0, 0);
	rec(&b, 0, &sqe, 4096, NULL, 0);
	cmd_sqe(&sqe, nvme_admin_get_features, 0, NVME_FEAT_FID_KATO, 0, 0);
	rec(&b, 0, &sqe, 0, NULL, 0);
	cmd_sqe(&sqe, nvme_admin_set_features, 0, NVME_FEAT_FID_ASYNC_EVENT, 0xff, 0);
	rec(&b, 0, &sqe, 0, NULL, 0);
	cmd_sqe(&sqe, nvme_admin_async_event, 0, 0, 0, 0);
	rec(&b, 0, &sqe, 0, NULL, 0);
	cmd_sqe(&sqe, nvme_admin_keep_alive, 0, 0, 0, 0);
	rec(&b, 0, &sqe, 0, NULL, 0);
	cmd_sqe(&sqe, nvme_admin_abort_cmd, 0, 5 << 16, 0, 0);
	rec(&b, 0, &sqe, 0, NULL, 0);

	memset(data, 0x77, sizeof(data));
	cmd_sqe(&sqe, nvme_cmd_write, 1, 0, 0, 7);
	rec(&b, 1, &sqe, 4096, data, 4096);
	cmd_sqe(&sqe, nvme_cmd_read, 1, 0, 0, 7);
	rec(&b, 1, &sqe, 4096, NULL, 0);
	cmd_sqe(&sqe, nvme_cmd_compare, 1, 0, 0, 0);
	rec(&b, 1, &sqe, 512, data, 512);
	cmd_sqe(&sqe, nvme_cmd_flush, 1, 0, 0, 0);
	rec(&b, 1, &sqe, 0, NULL, 0);
	cmd_sqe(&sqe, nvme_cmd_write_zeroes, 1, 16, 0, 63);
	rec(&b, 1, &sqe, 0, NULL, 0);
	dsm[8] = 8;		/* 8 blocks from LBA 0 */
	cmd_sqe(&sqe, nvme_cmd_dsm, 1, 0, 4, 0);
	rec(&b, 1, &sqe, 16, dsm, 16);
	/* fused compare and write */
	cmd_sqe(&sqe, nvme_cmd_compare, 1, 0, 0, 0);
	sqe.flags |= 1;
	rec(&b, 1 | 2, &sqe, 512, data, 512);
	cmd_sqe(&sqe, nvme_cmd_write, 1, 0, 0, 0);
	sqe.flags |= 2;
	rec(&b, 1, &sqe, 512, data, 512);
	cmd_sqe(&sqe, nvme_cmd_resv_register, 1, 0, 0, 0);
	rec(&b, 1, &sqe, 16, dsm, 16);
	cmd_sqe(&sqe, nvme_cmd_resv_report, 1, 1023, 0, 0);
	rec(&b, 1, &sqe, 4096, NULL, 0);
	save("fuzz_cmd", "session", &b);
	free(b.p);

	b = (struct buf){ 0 };
	flags = 0;	/* controller not enabled */
	put(&b, &flags, 1);
	cmd_sqe(&sqe, nvme_admin_identify, 0, NVME_IDENTIFY_CNS_CTRL, 0, 0);
	rec(&b, 0, &sqe, 4096, NULL, 0);
	fabrics(&sqe, nvme_fabrics_type_property_get);
	sqe.cdw11 = htole32(NVME_REG_CSTS);
	rec(&b, 0, &sqe, 0, NULL, 0);
	fabrics(&sqe, nvme_fabrics_type_property_set);
	sqe.cdw11 = htole32(NVME_REG_CC);
	sqe.cdw12 = htole32(1u | (6u << NVME_CC_IOSQES_SHIFT) | (4u << NVME_CC_IOCQES_SHIFT));
	rec(&b, 0, &sqe, 0, NULL, 0);
	fabrics(&sqe, nvme_fabrics_type_disconnect);
	rec(&b, 0, &sqe, 0, NULL, 0);
	save("fuzz_cmd", "disabled", &b);
	free(b.p);
}

/* ---- fuzz_config: [error buffer size][text] ------------------------------ */

static void save_config(const char *name, const char *text)
{
	struct buf b = { 0 };
	uint8_t errlen = 200;

	put(&b, &errlen, 1);
	put(&b, text, strlen(text));
	save("fuzz_config", name, &b);
	free(b.p);
}

static void seeds_config(int nfiles, char **files)
{
	save_config("default", nvmft_config_default_text());
	save_config("everything",
		"reactors = { count = 2; cpus = \"0-1\"; wait_mode = \"poll\"; engine = \"epoll\"; pin = true; };\n"
		"log_level = \"debug\";\n"
		"transports = ( { type = \"TCP\"; max_queue_depth = 64; max_aq_depth = 32;\n"
		"  max_qpairs_per_ctrlr = 8; in_capsule_data_size = \"4K\"; max_io_size = \"128K\";\n"
		"  io_unit_size = \"8K\"; num_shared_buffers = 64; icreq_timeout_ms = 500;\n"
		"  backlog = 16; zcopy_threshold = \"64K\"; } );\n"
		"hbd_pools = ( { name = \"p\"; uri = \"nbd://127.0.0.1:10809\"; health_interval_ms = 100;\n"
		"  io_timeout_ms = 1000; connect_timeout_ms = 100; retry_backoff_ms = 10;\n"
		"  retry_backoff_max_ms = 100; down_after = 3; degraded_latency_ms = 50; } );\n"
		"bdevs = ( { name = \"M\"; type = \"malloc\"; num_blocks = 2048; block_size = 4096;\n"
		"            uuid = \"01234567-89ab-cdef-0123-456789abcdef\"; },\n"
		"  { name = \"N\"; type = \"null\"; size = \"1T\"; },\n"
		"  { name = \"U\"; type = \"uring\"; filename = \"/tmp/x\"; buffered = true; },\n"
		"  { name = \"H\"; type = \"hbd\"; pool = \"p\"; export = \"vol\"; } );\n"
		"subsystems = ( { nqn = \"nqn.2024-01.io.nvmft:a\"; serial = \"S1\"; model = \"m\";\n"
		"  allow_any_host = false; max_namespaces = 4;\n"
		"  hosts = ( \"nqn.2024-01.io.nvmft:host\" );\n"
		"  namespaces = ( { bdev = \"M\"; nsid = 1; uuid = \"01234567-89ab-cdef-0123-456789abcdef\";\n"
		"                   nguid = \"0123456789abcdef0123456789abcdef\"; }, { bdev = \"N\"; } );\n"
		"  listeners = ( { trtype = \"TCP\"; adrfam = \"IPv6\"; traddr = \"::1\"; trsvcid = \"4420\"; } ); } );\n"
		"discovery = { listeners = ( { traddr = \"127.0.0.1\"; trsvcid = \"8009\"; } ); };\n");
	save_config("syntax-error", "transports = ( { type = \"TCP\"; } \n");
	for (int i = 0; i < nfiles; i++) {
		FILE *f = fopen(files[i], "r");
		char *text = NULL, name[64];
		size_t cap = 0;
		ssize_t n;

		if (!f) {
			perror(files[i]);
			exit(1);
		}
		n = getdelim(&text, &cap, '\0', f);
		fclose(f);
		if (n < 0)
			exit(1);
		snprintf(name, sizeof(name), "file%d", i);
		save_config(name, text);
		free(text);
	}
}

/* ---- fuzz_rpc: [cut seed][stream] ------------------------------------------ */

static void save_rpc(const char *name, uint8_t seed, const char *text)
{
	struct buf b = { 0 };

	put(&b, &seed, 1);
	put(&b, text, strlen(text));
	save("fuzz_rpc", name, &b);
	free(b.p);
}

static void seeds_rpc(void)
{
	save_rpc("get-methods", 0,
		 "{\"jsonrpc\":\"2.0\",\"method\":\"rpc_get_methods\",\"id\":1}");
	save_rpc("pipeline", 7,
		 "{\"jsonrpc\":\"2.0\",\"method\":\"bdev_malloc_create\",\"id\":1,"
		 "\"params\":{\"name\":\"M0\",\"num_blocks\":2048,\"block_size\":512,"
		 "\"uuid\":\"01234567-89ab-cdef-0123-456789abcdef\"}}\n"
		 "{\"jsonrpc\":\"2.0\",\"method\":\"log_set_level\",\"id\":\"x\","
		 "\"params\":{\"level\":\"debug\"}}"
		 "[1,2,{\"a\":[\"}\\\"]\"]}]"
		 "garbage {\"jsonrpc\":\"2.0\",\"method\":\"framework_set_wait_mode\","
		 "\"params\":{\"mode\":\"adaptive\"}}");
	save_rpc("broken-string", 3, "{\"a\":\"x\ny\"}{\"b\":1}");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s OUTDIR [CONFIG_FILE...]\n", argv[0]);
		return 2;
	}
	outdir = argv[1];
	mkdir(outdir, 0755);
	seeds_tcp();
	seeds_pdu();
	seeds_cmd();
	seeds_config(argc - 2, argv + 2);
	seeds_rpc();
	return 0;
}
