/* SPDX-License-Identifier: MIT */
/*
 * Scripted fake NVMe/TCP controller for host tests (see fake_target.h).
 * Blocking sockets with a receive timeout, one thread, poll() over the
 * listener and the connections; each PDU is read and handled whole.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <isa-l/crc.h>
#include <nvme/types.h>
#include "support/fake_target.h"
#include "tcp/pdu.h"

#define FT_MAX_CONNS	16
#define FT_MAX_DATA	(32u * 1024 * 1024)

/* A received PDU. */
struct ft_pdu {
	uint8_t hdr[PDU_MAX_HDR];
	uint8_t *data;
	uint32_t datal;
};

#define FT_DEFER_MAX	128
/* One statistics update under the lock. */
#define FT_STAT(ft, stmt) do { \
	pthread_mutex_lock(&(ft)->lock); stmt; pthread_mutex_unlock(&(ft)->lock); \
} while (0)

struct ft_conn {
	int fd;
	/* commands that arrived while a write waited for its H2CData */
	struct ft_pdu deferred[FT_DEFER_MAX];
	unsigned int defer_head;
	unsigned int defer_count;
	bool ic_done;
	bool hdgst;
	bool ddgst;
	uint8_t hpda;
	uint16_t qid;
	uint16_t sqhd;
};

struct fake_target {
	struct fake_target_opts o;
	int lfd;
	int stop_pipe[2];
	char port[16];
	pthread_t thread;
	pthread_mutex_t lock;	/* stats and ns */
	struct fake_target_stats st;
	uint8_t *ns;
	struct ft_conn conns[FT_MAX_CONNS];
	uint16_t cntlid;
	uint32_t cc;
	unsigned int io_cmds;
	uint64_t disc_gen;
};

void fake_target_opts_init(struct fake_target_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->grant_hdgst = true;
	o->grant_ddgst = true;
	o->maxh2cdata = 65536;
	o->ioccsz = 4 + 8192 / 16;
	o->max_queues = 4;
	o->c2h_chunk = 65536;
	o->r2t_chunk = 1024 * 1024;
	o->ns_blocks = 32768;
	o->lba_shift = 9;
}

static uint32_t ft_crc(const void *buf, size_t len)
{
	return ~crc32_iscsi((unsigned char *)buf, (int)len, 0xffffffff);
}

static void ft_put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static uint32_t ft_get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint16_t ft_get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

static int ft_read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t r = recv(fd, p, len, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= r;
	}
	return 0;
}

static int ft_write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t r = send(fd, p, len, MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= r;
	}
	return 0;
}

/*
 * Send a PDU: @psh holds the header (CH fields are filled here), @hlen its
 * length; @data/@datal the payload. Digests as negotiated on @c.
 */
static int ft_send(struct ft_conn *c, uint8_t type, uint8_t flags, uint8_t *hdr,
		   uint8_t hlen, const void *data, uint32_t datal, bool corrupt_ddgst)
{
	uint8_t buf[PDU_MAX_HDR + 128 + 4];
	bool ic = type == PDU_ICRESP || type == PDU_C2H_TERM_REQ;
	bool hd = c->hdgst && !ic, dd = c->ddgst && !ic && datal && type != PDU_C2H_TERM_REQ;
	uint32_t hbytes = hlen + (hd ? 4 : 0), pdo = 0, plen;

	if (type == PDU_C2H_TERM_REQ) {
		plen = hlen + datal;
	} else if (datal) {
		uint32_t align = ((uint32_t)c->hpda + 1) * 4;

		pdo = (hbytes + align - 1) / align * align;
		plen = pdo + datal + (dd ? 4 : 0);
	} else {
		plen = hbytes;
	}
	hdr[0] = type;
	hdr[1] = flags | (hd ? PDU_FLAG_HDGSTF : 0) | (dd ? PDU_FLAG_DDGSTF : 0);
	hdr[2] = hlen;
	hdr[3] = (uint8_t)pdo;
	ft_put32(hdr + 4, plen);
	memcpy(buf, hdr, hlen);
	if (hd)
		ft_put32(buf + hlen, ft_crc(hdr, hlen));
	if (pdo > hbytes)
		memset(buf + hbytes, 0, pdo - hbytes);
	if (ft_write_full(c->fd, buf, pdo > hbytes ? pdo : hbytes))
		return -1;
	if (datal && ft_write_full(c->fd, data, datal))
		return -1;
	if (dd) {
		uint8_t d[4];

		ft_put32(d, ft_crc(data, datal) ^ (corrupt_ddgst ? 1 : 0));
		if (ft_write_full(c->fd, d, 4))
			return -1;
	}
	return 0;
}

static int ft_send_resp(struct ft_conn *c, uint16_t cid, uint16_t status, uint64_t result)
{
	uint8_t h[24] = { 0 };
	struct nvmft_cqe cqe = {
		.result = htole64(result),
		.sq_head = htole16(++c->sqhd),
		.sq_id = htole16(c->qid),
		.cid = htole16(cid),
		.status = htole16(status << 1),
	};

	memcpy(h + 8, &cqe, sizeof(cqe));
	return ft_send(c, PDU_CAPSULE_RESP, 0, h, 24, NULL, 0, false);
}

static int ft_send_term(struct ft_conn *c, uint16_t fes)
{
	uint8_t h[24] = { 0 };

	h[8] = fes & 0xff;
	return ft_send(c, PDU_C2H_TERM_REQ, 0, h, 24, NULL, 0, false);
}

/* Read one PDU; digests checked (a bad data digest is counted). */
static int ft_recv(struct fake_target *ft, struct ft_conn *c, struct ft_pdu *p)
{
	uint8_t *h = p->hdr;
	uint32_t hbytes, plen, pdo, dd;

	p->data = NULL;
	p->datal = 0;
	if (ft_read_full(c->fd, h, 8))
		return -1;
	if (h[2] < 8 || h[2] > PDU_MAX_HLEN)
		return -1;
	hbytes = h[2] + ((h[1] & PDU_FLAG_HDGSTF) ? 4 : 0);
	if (ft_read_full(c->fd, h + 8, hbytes - 8))
		return -1;
	if (h[1] & PDU_FLAG_HDGSTF) {
		if (ft_get32(h + h[2]) != ft_crc(h, h[2]))
			return -1;
		FT_STAT(ft, ft->st.hdgst_seen = true);
	}
	plen = ft_get32(h + 4);
	pdo = h[3];
	if (!pdo || plen <= hbytes)
		return plen == hbytes ? 0 : -1;
	dd = (h[1] & PDU_FLAG_DDGSTF) ? 4 : 0;
	if (pdo < hbytes || plen < pdo + dd || plen - pdo - dd > FT_MAX_DATA)
		return -1;
	/* data must start at the CPDA alignment we announced */
	if (pdo % (((uint32_t)ft->o.cpda + 1) * 4))
		return -1;
	if (pdo > hbytes) {
		uint8_t pad[256];

		if (ft_read_full(c->fd, pad, pdo - hbytes))
			return -1;
	}
	p->datal = plen - pdo - dd;
	p->data = malloc(p->datal ? p->datal : 1);
	if (!p->data || ft_read_full(c->fd, p->data, p->datal))
		return -1;
	if (dd) {
		uint8_t d[4];

		if (ft_read_full(c->fd, d, 4))
			return -1;
		if (ft_get32(d) != ft_crc(p->data, p->datal)) {
			FT_STAT(ft, ft->st.ddgst_errors++);
			return -1;
		}
	}
	return 0;
}

static int ft_icreq(struct fake_target *ft, struct ft_conn *c, const uint8_t *h)
{
	uint8_t r[128] = { 0 };
	uint8_t want = h[11], grant = 0;

	pthread_mutex_lock(&ft->lock);
	ft->st.icreqs++;
	ft->st.icreq_digest = want;
	pthread_mutex_unlock(&ft->lock);
	if ((want & PDU_DIGEST_HDGST) && ft->o.grant_hdgst)
		grant |= PDU_DIGEST_HDGST;
	if ((want & PDU_DIGEST_DDGST) && ft->o.grant_ddgst)
		grant |= PDU_DIGEST_DDGST;
	c->hpda = h[10];
	r[8] = ft->o.icresp_pfv & 0xff;
	r[9] = ft->o.icresp_pfv >> 8;
	r[10] = ft->o.cpda;
	r[11] = grant;
	ft_put32(r + 12, ft->o.maxh2cdata);
	if (ft_send(c, PDU_ICRESP, 0, r, 128, NULL, 0, false))
		return -1;
	c->ic_done = true;
	c->hdgst = grant & PDU_DIGEST_HDGST;
	c->ddgst = grant & PDU_DIGEST_DDGST;
	return 0;
}

static int ft_fabrics(struct fake_target *ft, struct ft_conn *c, const struct nvmft_sqe *sqe,
		      const struct ft_pdu *p)
{
	uint8_t fctype = nvmft_sqe_fctype(sqe);
	uint16_t cid = le16toh(sqe->cid);
	uint32_t off = le32toh(sqe->cdw11);
	uint64_t val = 0;

	switch (fctype) {
	case nvme_fabrics_type_connect: {
		const struct nvmf_connect_data *d = (const void *)p->data;
		uint16_t qid = le32toh(sqe->cdw10) >> 16;

		if (p->datal != sizeof(*d) || sqe->sgl.type != NVMFT_SGL_INCAPSULE)
			return ft_send_resp(c, cid, NVME_SC_INVALID_FIELD, 0);
		if (qid && le16toh(d->cntlid) != ft->cntlid)
			return ft_send_resp(c, cid, NVMFT_STATUS(1, 0x82), 0);
		c->qid = qid;
		pthread_mutex_lock(&ft->lock);
		if (qid)
			ft->st.io_connects++;
		else
			ft->st.admin_connects++;
		if (!qid)
			ft->st.last_kato = le32toh(sqe->cdw12);
		ft->st.last_sqsize = le32toh(sqe->cdw11) & 0xffff;
		memcpy(ft->st.hostnqn, d->hostnqn, sizeof(ft->st.hostnqn) - 1);
		pthread_mutex_unlock(&ft->lock);
		return ft_send_resp(c, cid, 0, ft->cntlid);
	}
	case nvme_fabrics_type_property_get:
		if (off == NVME_REG_CAP)
			val = 1023 | (2ull << NVME_CAP_TO_SHIFT) | (1ull << NVME_CAP_CSS_SHIFT);
		else if (off == NVME_REG_VS)
			val = 0x10400;
		else if (off == NVME_REG_CC)
			val = ft->cc;
		else if (off == NVME_REG_CSTS)
			val = (ft->cc & 1) | (((ft->cc >> NVME_CC_SHN_SHIFT) & 3) ? 2u << 2 : 0);
		return ft_send_resp(c, cid, 0, val);
	case nvme_fabrics_type_property_set:
		if (off == NVME_REG_CC) {
			ft->cc = le32toh(sqe->cdw12);
			FT_STAT(ft, ft->st.cc = ft->cc);
		}
		return ft_send_resp(c, cid, 0, 0);
	case nvme_fabrics_type_disconnect:
		FT_STAT(ft, ft->st.disconnects++);
		ft_send_resp(c, cid, 0, 0);
		return -1;	/* close */
	}
	return ft_send_resp(c, cid, NVME_SC_INVALID_OPCODE, 0);
}

static void ft_disc_log(struct fake_target *ft, uint8_t *log, size_t len)
{
	struct nvmf_discovery_log *hdr = (void *)log;

	memset(log, 0, len);
	hdr->genctr = htole64(ft->disc_gen);
	hdr->numrec = htole64(ft->o.disc_entries);
	for (unsigned int i = 0; i < ft->o.disc_entries; i++) {
		struct nvmf_disc_log_entry *e = &hdr->entries[i];

		e->trtype = NVMF_TRTYPE_TCP;
		e->adrfam = NVMF_ADDR_FAMILY_IP4;
		e->subtype = NVME_NQN_NVME;
		e->portid = htole16(1);
		e->cntlid = htole16(0xffff);
		e->asqsz = htole16(32);
		memset(e->trsvcid, ' ', sizeof(e->trsvcid));
		memcpy(e->trsvcid, "4420", 4);
		memset(e->traddr, ' ', sizeof(e->traddr));
		memcpy(e->traddr, "127.0.0.1", 9);
		snprintf(e->subnqn, sizeof(e->subnqn), "nqn.2026-11.io.nvmft:fake%u", i);
	}
}

static int ft_send_data(struct fake_target *ft, struct ft_conn *c, uint16_t cid,
			const uint8_t *data, uint32_t len, bool corrupt)
{
	for (uint32_t off = 0; off < len;) {
		uint32_t n = len - off < ft->o.c2h_chunk ? len - off : ft->o.c2h_chunk;
		bool last = off + n == len;
		uint8_t h[24] = { 0 };
		uint8_t flags = last ? PDU_FLAG_LAST_PDU : 0;

		if (last && ft->o.c2h_success)
			flags |= PDU_FLAG_SUCCESS;
		h[8] = cid & 0xff;
		h[9] = cid >> 8;
		ft_put32(h + 12, off);
		ft_put32(h + 16, n);
		if (ft_send(c, PDU_C2H_DATA, flags, h, 24, data + off, n, corrupt && !off))
			return -1;
		FT_STAT(ft, ft->st.c2h_pdus++);
		off += n;
	}
	if (ft->o.c2h_success)
		return 0;
	return ft_send_resp(c, cid, 0, 0);
}

static int ft_admin(struct fake_target *ft, struct ft_conn *c, const struct nvmft_sqe *sqe)
{
	uint16_t cid = le16toh(sqe->cid);
	uint32_t cdw10 = le32toh(sqe->cdw10);
	uint8_t *buf;
	int rc;

	switch (sqe->opcode) {
	case nvme_admin_identify: {
		buf = calloc(1, 4096);
		if ((cdw10 & 0xff) == NVME_IDENTIFY_CNS_CTRL) {
			struct nvme_id_ctrl *id = (void *)buf;

			id->cntlid = htole16(ft->cntlid);
			id->mdts = ft->o.mdts;
			id->ioccsz = htole32(ft->o.ioccsz);
			id->iorcsz = htole32(1);
			id->ofcs = htole16(1);
			id->nn = htole32(1);
			id->sqes = 0x66;
			id->cqes = 0x44;
			snprintf(id->subnqn, sizeof(id->subnqn), "nqn.2026-11.io.nvmft:fake");
		} else if ((cdw10 & 0xff) == NVME_IDENTIFY_CNS_NS && le32toh(sqe->nsid) == 1) {
			struct nvme_id_ns *ns = (void *)buf;

			ns->nsze = ns->ncap = ns->nuse = htole64(ft->o.ns_blocks);
			ns->lbaf[0].ds = ft->o.lba_shift;
		}
		rc = ft_send_data(ft, c, cid, buf, 4096, false);
		free(buf);
		return rc;
	}
	case nvme_admin_get_log_page: {
		uint32_t len = (((cdw10 >> 16) | (le32toh(sqe->cdw11) << 16)) + 1) * 4;
		uint64_t off = le32toh(sqe->cdw12) | ((uint64_t)le32toh(sqe->cdw13) << 32);
		size_t full = 1024 + (size_t)ft->o.disc_entries * 1024;

		if ((cdw10 & 0xff) != NVME_LOG_LID_DISCOVER || len > FT_MAX_DATA)
			return ft_send_resp(c, cid, NVME_SC_INVALID_FIELD, 0);
		FT_STAT(ft, ft->st.log_reads++);
		if (off == 0 && len == 1024 && ft->o.disc_genctr_bumps) {
			ft->o.disc_genctr_bumps--;
			ft->disc_gen++;
		}
		buf = calloc(1, full > off + len ? full : off + len);
		ft_disc_log(ft, buf, full);
		rc = ft_send_data(ft, c, cid, buf + off, len, false);
		free(buf);
		return rc;
	}
	case nvme_admin_keep_alive:
		FT_STAT(ft, ft->st.keep_alives++);
		return ft_send_resp(c, cid, 0, 0);
	case nvme_admin_set_features:
		if ((cdw10 & 0xff) == NVME_FEAT_FID_NUM_QUEUES) {
			uint32_t n = ft->o.max_queues - 1;

			return ft_send_resp(c, cid, 0, n | (n << 16));
		}
		return ft_send_resp(c, cid, 0, 0);
	case nvme_admin_get_features:
		return ft_send_resp(c, cid, 0, 0);
	}
	return ft_send_resp(c, cid, NVME_SC_INVALID_OPCODE, 0);
}

/* Pull the data of a non in-capsule write by R2Ts. */
static int ft_r2t_data(struct fake_target *ft, struct ft_conn *c, uint16_t cid,
		       uint8_t *buf, uint32_t len)
{
	static const uint16_t ttag = 0x5a;

	for (uint32_t off = 0; off < len;) {
		uint32_t r2tl = len - off < ft->o.r2t_chunk ? len - off : ft->o.r2t_chunk;
		uint8_t h[24] = { 0 };

		h[8] = cid & 0xff;
		h[9] = cid >> 8;
		h[10] = ttag;
		ft_put32(h + 12, off);
		ft_put32(h + 16, r2tl);
		if (ft_send(c, PDU_R2T, 0, h, 24, NULL, 0, false))
			return -1;
		FT_STAT(ft, ft->st.r2ts++);
		for (uint32_t got = 0; got < r2tl;) {
			struct ft_pdu p;
			bool bad;

			if (ft_recv(ft, c, &p)) {
				free(p.data);
				return -1;
			}
			if (p.hdr[0] == PDU_CAPSULE_CMD && c->defer_count < FT_DEFER_MAX) {
				/* hosts interleave: serve it after this write */
				c->deferred[(c->defer_head + c->defer_count++) % FT_DEFER_MAX] = p;
				continue;
			}
			if (p.hdr[0] != PDU_H2C_DATA) {
				free(p.data);
				return -1;
			}
			uint32_t datao = ft_get32(p.hdr + 12), datal = ft_get32(p.hdr + 16);
			bool last = p.hdr[1] & PDU_FLAG_LAST_PDU;

			bad = ft_get16(p.hdr + 8) != cid || ft_get16(p.hdr + 10) != ttag ||
			      datao != off + got || datal != p.datal ||
			      datal > ft->o.maxh2cdata || got + datal > r2tl ||
			      last != (got + datal == r2tl);
			pthread_mutex_lock(&ft->lock);
			ft->st.h2c_pdus++;
			if (datal > ft->st.h2c_max_datal)
				ft->st.h2c_max_datal = datal;
			if (bad)
				ft->st.h2c_errors++;
			pthread_mutex_unlock(&ft->lock);
			if (!bad)
				memcpy(buf + datao, p.data, datal);
			free(p.data);
			if (bad)
				return -1;
			got += datal;
		}
		off += r2tl;
	}
	return 0;
}

static int ft_io(struct fake_target *ft, struct ft_conn *c, const struct nvmft_sqe *sqe,
		 const struct ft_pdu *p)
{
	uint16_t cid = le16toh(sqe->cid);
	uint64_t slba = le32toh(sqe->cdw10) | ((uint64_t)le32toh(sqe->cdw11) << 32);
	uint32_t nlb = (le32toh(sqe->cdw12) & 0xffff) + 1;
	uint64_t off = slba << ft->o.lba_shift;
	uint32_t len = nlb << ft->o.lba_shift;
	unsigned int n = ++ft->io_cmds;
	uint8_t *buf;
	int rc;

	if (n == ft->o.term_on_io) {
		ft_send_term(c, PDU_FES_INVALID_HEADER_FIELD);
		return -1;
	}
	if (n == ft->o.bad_hdgst_on_io && c->hdgst) {
		uint8_t h[28] = { PDU_CAPSULE_RESP, PDU_FLAG_HDGSTF, 24, 0, 28 };

		h[16 + 8 - 4] = cid & 0xff;	/* cqe.cid at byte 20 */
		h[21] = cid >> 8;
		ft_put32(h + 24, ft_crc(h, 24) ^ 0x100);
		ft_write_full(c->fd, h, 28);
		return 0;
	}
	if (n == ft->o.bad_hlen_on_io) {
		uint8_t h[24] = { PDU_CAPSULE_RESP, 0, 23, 0 };

		ft_put32(h + 4, 24);
		ft_write_full(c->fd, h, 24);
		return 0;
	}
	if ((sqe->opcode == nvme_cmd_read || sqe->opcode == nvme_cmd_write ||
	     sqe->opcode == nvme_cmd_write_zeroes) &&
	    (slba + nlb > ft->o.ns_blocks || le32toh(sqe->nsid) != 1))
		return ft_send_resp(c, cid, NVME_SC_LBA_RANGE, 0);
	switch (sqe->opcode) {
	case nvme_cmd_read: {
		unsigned int r;

		if (le32toh(sqe->sgl.length) != len)
			return ft_send_resp(c, cid, NVME_SC_INVALID_FIELD, 0);
		buf = malloc(len);
		pthread_mutex_lock(&ft->lock);
		r = ++ft->st.reads;
		memcpy(buf, ft->ns + off, len);
		pthread_mutex_unlock(&ft->lock);
		if (r == ft->o.corrupt_data_read)
			buf[len / 2] ^= 0x40;
		rc = ft_send_data(ft, c, cid, buf, len, r == ft->o.corrupt_ddgst_read);
		free(buf);
		return rc;
	}
	case nvme_cmd_write:
		if (le32toh(sqe->sgl.length) != len)
			return ft_send_resp(c, cid, NVME_SC_INVALID_FIELD, 0);
		if (sqe->sgl.type == NVMFT_SGL_INCAPSULE) {
			if (p->datal != len)
				return ft_send_resp(c, cid, NVME_SC_INVALID_FIELD, 0);
			buf = p->data;
		} else {
			buf = malloc(len);
			if (ft_r2t_data(ft, c, cid, buf, len)) {
				free(buf);
				return -1;
			}
		}
		pthread_mutex_lock(&ft->lock);
		ft->st.writes++;
		if (buf == p->data)
			ft->st.incapsule_writes++;
		memcpy(ft->ns + off, buf, len);
		pthread_mutex_unlock(&ft->lock);
		if (buf != p->data)
			free(buf);
		return ft_send_resp(c, cid, 0, 0);
	case nvme_cmd_write_zeroes:
		FT_STAT(ft, memset(ft->ns + off, 0, len));
		return ft_send_resp(c, cid, 0, 0);
	case nvme_cmd_flush:
	case nvme_cmd_dsm:
		return ft_send_resp(c, cid, 0, 0);
	}
	return ft_send_resp(c, cid, NVME_SC_INVALID_OPCODE, 0);
}

/* Handle @p (its data is freed here); -1 closes the connection. */
static int ft_handle(struct fake_target *ft, struct ft_conn *c, struct ft_pdu p)
{
	struct nvmft_sqe sqe;
	int rc = -1;

	if (!c->ic_done) {
		rc = p.hdr[0] == PDU_ICREQ ? ft_icreq(ft, c, p.hdr) : -1;
		goto out;
	}
	if (p.hdr[0] != PDU_CAPSULE_CMD)
		goto out;
	memcpy(&sqe, p.hdr + 8, sizeof(sqe));
	if ((sqe.flags & 0xc0) != 0x40)
		rc = ft_send_resp(c, le16toh(sqe.cid), NVME_SC_INVALID_FIELD, 0);
	else if (sqe.opcode == 0x7f)
		rc = ft_fabrics(ft, c, &sqe, &p);
	else if (c->qid == 0)
		rc = ft_admin(ft, c, &sqe);
	else
		rc = ft_io(ft, c, &sqe, &p);
out:
	free(p.data);
	return rc;
}

static void ft_drop_deferred(struct ft_conn *c)
{
	while (c->defer_count) {
		free(c->deferred[c->defer_head].data);
		c->defer_head = (c->defer_head + 1) % FT_DEFER_MAX;
		c->defer_count--;
	}
}

/* One PDU from @c, then whatever got deferred meanwhile. */
static int ft_serve(struct fake_target *ft, struct ft_conn *c)
{
	struct ft_pdu p;
	int rc;

	if (ft_recv(ft, c, &p)) {
		free(p.data);
		rc = -1;
	} else {
		rc = ft_handle(ft, c, p);
	}
	while (!rc && c->defer_count) {
		p = c->deferred[c->defer_head];
		c->defer_head = (c->defer_head + 1) % FT_DEFER_MAX;
		c->defer_count--;
		rc = ft_handle(ft, c, p);
	}
	if (rc)
		ft_drop_deferred(c);
	return rc;
}

static void ft_accept(struct fake_target *ft)
{
	int fd = accept4(ft->lfd, NULL, NULL, SOCK_CLOEXEC);
	struct timeval tv = { .tv_sec = 5 };
	int one = 1;

	if (fd < 0)
		return;
	for (int i = 0; i < FT_MAX_CONNS; i++) {
		if (ft->conns[i].fd < 0) {
			memset(&ft->conns[i], 0, sizeof(ft->conns[i]));
			ft->conns[i].fd = fd;
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			return;
		}
	}
	close(fd);
}

static void *ft_thread(void *arg)
{
	struct fake_target *ft = arg;

	for (;;) {
		struct pollfd pfd[FT_MAX_CONNS + 2];
		int map[FT_MAX_CONNS + 2], n = 0;

		pfd[n] = (struct pollfd){ .fd = ft->stop_pipe[0], .events = POLLIN };
		map[n++] = -1;
		pfd[n] = (struct pollfd){ .fd = ft->lfd, .events = POLLIN };
		map[n++] = -2;
		for (int i = 0; i < FT_MAX_CONNS; i++) {
			if (ft->conns[i].fd >= 0) {
				pfd[n] = (struct pollfd){ .fd = ft->conns[i].fd, .events = POLLIN };
				map[n++] = i;
			}
		}
		if (poll(pfd, n, -1) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		if (pfd[1].revents)
			ft_accept(ft);
		for (int k = 2; k < n; k++) {
			struct ft_conn *c = &ft->conns[map[k]];

			if (pfd[k].revents && ft_serve(ft, c)) {
				close(c->fd);
				c->fd = -1;
			}
		}
	}
	for (int i = 0; i < FT_MAX_CONNS; i++) {
		if (ft->conns[i].fd >= 0)
			close(ft->conns[i].fd);
		ft_drop_deferred(&ft->conns[i]);
	}
	return NULL;
}

struct fake_target *fake_target_start(const struct fake_target_opts *o)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct fake_target *ft = calloc(1, sizeof(*ft));

	if (!ft)
		return NULL;
	ft->o = *o;
	ft->cntlid = 0x21;
	ft->disc_gen = 1;
	for (int i = 0; i < FT_MAX_CONNS; i++)
		ft->conns[i].fd = -1;
	ft->ns = calloc(1, o->ns_blocks << o->lba_shift);
	if (!ft->ns)
		goto out_free;
	pthread_mutex_init(&ft->lock, NULL);
	if (pipe2(ft->stop_pipe, O_CLOEXEC))
		goto out_free_ns;
	ft->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ft->lfd < 0)
		goto out_close_pipe;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ft->lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(ft->lfd, 16) ||
	    getsockname(ft->lfd, (struct sockaddr *)&sa, &sl))
		goto out_close_lfd;
	snprintf(ft->port, sizeof(ft->port), "%u", ntohs(sa.sin_port));
	if (pthread_create(&ft->thread, NULL, ft_thread, ft))
		goto out_close_lfd;
	return ft;

out_close_lfd:
	close(ft->lfd);
out_close_pipe:
	close(ft->stop_pipe[0]);
	close(ft->stop_pipe[1]);
out_free_ns:
	pthread_mutex_destroy(&ft->lock);
	free(ft->ns);
out_free:
	free(ft);
	return NULL;
}

void fake_target_stop(struct fake_target *ft)
{
	if (!ft)
		return;
	(void)!write(ft->stop_pipe[1], "x", 1);
	pthread_join(ft->thread, NULL);
	close(ft->lfd);
	close(ft->stop_pipe[0]);
	close(ft->stop_pipe[1]);
	pthread_mutex_destroy(&ft->lock);
	free(ft->ns);
	free(ft);
}

const char *fake_target_port(const struct fake_target *ft)
{
	return ft->port;
}

void fake_target_get_stats(struct fake_target *ft, struct fake_target_stats *st)
{
	FT_STAT(ft, *st = ft->st);
}

void fake_target_ns_read(struct fake_target *ft, uint64_t off, void *buf, size_t len)
{
	FT_STAT(ft, memcpy(buf, ft->ns + off, len));
}

void fake_target_ns_write(struct fake_target *ft, uint64_t off, const void *buf,
			  size_t len)
{
	FT_STAT(ft, memcpy(ft->ns + off, buf, len));
}
