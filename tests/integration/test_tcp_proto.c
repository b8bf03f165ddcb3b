/* SPDX-License-Identifier: MIT */
/*
 * NVMe/TCP transport, protocol level: a real target (2 reactors, io_uring
 * and epoll engines) driven by raw sockets and the lib/tcp/pdu.h encoders.
 * ICReq/ICResp negotiation, every malformed PDU answered by a C2HTermReq
 * with the right FES/FEI and a close while another connection keeps being
 * served, R2T/H2CData checks, the ICReq timeout, and a peer reset in the
 * middle of a transfer leaving nothing leaked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_tcp_harness.h"

#define ICREQ_TIMEOUT_MS	400

static int group_setup(void **state, enum nvmft_engine engine)
{
	static struct tt_target targets[2];
	struct tt_target *t = &targets[engine == NVMFT_ENGINE_EPOLL];
	struct nvmft_transport_opts o;
	int rc;

	nvmft_transport_opts_init("TCP", &o);
	o.icreq_timeout_ms = ICREQ_TIMEOUT_MS;
	rc = tt_target_start(t, engine, &o);
	*state = t;
	return rc;
}

static int setup_uring(void **state)
{
	return group_setup(state, NVMFT_ENGINE_URING);
}

static int setup_epoll(void **state)
{
	return group_setup(state, NVMFT_ENGINE_EPOLL);
}

static int group_teardown(void **state)
{
	tt_target_stop(*state);
	return 0;
}

/* A connection past the IC exchange. */
static int ic_conn(struct tt_target *t, uint8_t digest)
{
	int fd = raw_connect(t);

	assert_true(fd >= 0);
	assert_int_equal(raw_icreq(fd, digest, 0, NULL), 0);
	return fd;
}

/* @fd (past IC, no digests) is still served: a write capsule gets its R2T. */
static void assert_served(int fd, uint16_t cid)
{
	union pdu_hdr h, r;
	size_t len = raw_write_cmd(&h, NULL, cid, 0, 4096);

	assert_int_equal(raw_send(fd, h.raw, len), 0);
	assert_int_equal(raw_recv_pdu(fd, &r, NULL, 0, NULL, 5000), 0);
	assert_int_equal(r.ch.type, PDU_R2T);
	assert_int_equal(le16toh(r.r2t.cccid), cid);
}

/* Send @len bytes on a fresh IC'd connection; expect TermReq FES/FEI and a
 * close, while a second connection stays served. */
static void expect_term_after(struct tt_target *t, uint8_t digest,
			      const void *bytes, size_t len,
			      uint16_t want_fes, uint32_t want_fei)
{
	static uint16_t healthy_cid = 100;
	int bad = ic_conn(t, digest);
	int good = ic_conn(t, 0);
	uint16_t fes = 0;
	uint32_t fei = 0;

	assert_int_equal(raw_send(bad, bytes, len), 0);
	assert_int_equal(raw_expect_term(bad, &fes, &fei), 0);
	assert_int_equal(fes, want_fes);
	assert_int_equal(fei, want_fei);
	assert_served(good, healthy_cid++);
	close(bad);
	close(good);
}

/* ---- IC exchange -------------------------------------------------------------- */

static void test_icresp_announces_defaults(void **state)
{
	struct tt_target *t = *state;
	struct pdu_icresp rsp;
	int fd = raw_connect(t);

	assert_true(fd >= 0);
	assert_int_equal(raw_icreq(fd, 0, 0, &rsp), 0);
	assert_int_equal(rsp.ch.hlen, 128);
	assert_int_equal(le32toh(rsp.ch.plen), 128);
	assert_int_equal(le16toh(rsp.pfv), 0);
	assert_int_equal(rsp.cpda, 0);
	assert_int_equal(rsp.digest, 0);
	assert_int_equal(le32toh(rsp.maxh2cdata), t->topts.io_unit_size);
	close(fd);
}

static void test_icresp_grants_both_digests(void **state)
{
	struct tt_target *t = *state;
	struct pdu_icresp rsp;
	int fd = raw_connect(t);

	assert_int_equal(raw_icreq(fd, PDU_DIGEST_HDGST | PDU_DIGEST_DDGST, 3, &rsp), 0);
	assert_int_equal(rsp.digest, PDU_DIGEST_HDGST | PDU_DIGEST_DDGST);
	close(fd);
	fd = raw_connect(t);
	assert_int_equal(raw_icreq(fd, PDU_DIGEST_DDGST, 0, &rsp), 0);
	assert_int_equal(rsp.digest, PDU_DIGEST_DDGST);
	close(fd);
}

static void test_icreq_bad_pfv_gets_term(void **state)
{
	struct tt_target *t = *state;
	union pdu_hdr h;
	size_t len = pdu_enc_icreq(&h, 0, 0, 0);
	int fd = raw_connect(t);
	uint16_t fes;
	uint32_t fei;

	h.icreq.pfv = htole16(1);
	assert_int_equal(raw_send(fd, h.raw, len), 0);
	assert_int_equal(raw_expect_term(fd, &fes, &fei), 0);
	assert_int_equal(fes, PDU_FES_UNSUPPORTED_PARAMETER);
	assert_int_equal(fei, offsetof(struct pdu_icreq, pfv));
	close(fd);
}

static void test_icreq_bad_hpda_gets_term(void **state)
{
	struct tt_target *t = *state;
	union pdu_hdr h;
	size_t len = pdu_enc_icreq(&h, 32, 0, 0);
	int fd = raw_connect(t);
	uint16_t fes;
	uint32_t fei;

	assert_int_equal(raw_send(fd, h.raw, len), 0);
	assert_int_equal(raw_expect_term(fd, &fes, &fei), 0);
	assert_int_equal(fes, PDU_FES_INVALID_HEADER_FIELD);
	assert_int_equal(fei, offsetof(struct pdu_icreq, hpda));
	close(fd);
}

static void test_capsule_before_icreq_gets_term(void **state)
{
	struct tt_target *t = *state;
	union pdu_hdr h;
	size_t len = raw_write_cmd(&h, NULL, 1, 0, 4096);
	int fd = raw_connect(t), good = ic_conn(t, 0);
	uint16_t fes;
	uint32_t fei;

	assert_int_equal(raw_send(fd, h.raw, len), 0);
	assert_int_equal(raw_expect_term(fd, &fes, &fei), 0);
	assert_int_equal(fes, PDU_FES_PDU_SEQUENCE_ERROR);
	assert_int_equal(fei, 0);
	assert_served(good, 1);
	close(fd);
	close(good);
}

static void test_second_icreq_gets_term(void **state)
{
	union pdu_hdr h;
	size_t len = pdu_enc_icreq(&h, 0, 0, 0);

	expect_term_after(*state, 0, h.raw, len, PDU_FES_PDU_SEQUENCE_ERROR, 0);
}

/* ---- malformed headers ------------------------------------------------------ */

static void test_wrong_hlen_gets_term(void **state)
{
	union pdu_hdr h;
	size_t len = raw_write_cmd(&h, NULL, 1, 0, 4096);

	h.ch.hlen = 70;
	expect_term_after(*state, 0, h.raw, len, PDU_FES_INVALID_HEADER_FIELD,
			  offsetof(struct pdu_common, hlen));
}

static void test_unknown_type_gets_term(void **state)
{
	union pdu_hdr h;

	memset(&h, 0, sizeof(h));
	h.ch.type = 0x0b;
	h.ch.hlen = 24;
	h.ch.plen = htole32(24);
	expect_term_after(*state, 0, h.raw, 24, PDU_FES_INVALID_HEADER_FIELD, 0);
}

static void test_controller_type_from_host_gets_term(void **state)
{
	union pdu_hdr h;
	size_t len = pdu_enc_r2t(&h, NULL, 1, 0, 0, 4096);

	expect_term_after(*state, 0, h.raw, len, PDU_FES_INVALID_HEADER_FIELD, 0);
}

static void test_bad_pdo_gets_term(void **state)
{
	uint8_t buf[72 + 512];
	union pdu_hdr *h = (union pdu_hdr *)buf;
	struct nvmft_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_cmd_write;
	sqe.sgl.type = NVMFT_SGL_INCAPSULE;
	sqe.sgl.length = htole32(512);
	memset(buf, 0, sizeof(buf));
	pdu_enc_capsule_cmd(h, NULL, &sqe, 512);
	h->ch.pdo = 8;		/* inside the header */
	expect_term_after(*state, 0, buf, sizeof(buf), PDU_FES_INVALID_HEADER_FIELD,
			  offsetof(struct pdu_common, pdo));
}

static void test_plen_too_big_gets_term(void **state)
{
	union pdu_hdr h;
	struct nvmft_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_cmd_write;
	sqe.sgl.type = NVMFT_SGL_INCAPSULE;
	sqe.sgl.length = htole32(1u << 20);
	pdu_enc_capsule_cmd(&h, NULL, &sqe, 1u << 20);	/* 1 MiB in capsule */
	expect_term_after(*state, 0, h.raw, 72, PDU_FES_INVALID_HEADER_FIELD,
			  offsetof(struct pdu_common, plen));
}

static void test_header_digest_error_gets_term(void **state)
{
	struct pdu_params p = { .hdgst = true };
	union pdu_hdr h;
	struct nvmft_sqe sqe;
	size_t len;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_keep_alive;
	len = pdu_enc_capsule_cmd(&h, &p, &sqe, 0);
	h.raw[len - 1] ^= 0x5a;
	expect_term_after(*state, PDU_DIGEST_HDGST, h.raw, len,
			  PDU_FES_HDGST_ERROR, 0);
}

static void test_h2c_term_req_closes(void **state)
{
	struct tt_target *t = *state;
	struct tcp_pg_stats before, after;
	union pdu_hdr h;
	size_t len = pdu_enc_term_req(&h, PDU_DIR_H2C, PDU_FES_HDGST_ERROR, 0, 0);
	int fd = ic_conn(t, 0);

	assert_int_equal(tt_stats(t, &before), 0);
	assert_int_equal(raw_send(fd, h.raw, len), 0);
	assert_int_equal(raw_expect_close(fd, 5000), 0);
	assert_int_equal(tt_stats(t, &after), 0);
	assert_int_equal(after.term_reqs_received, before.term_reqs_received + 1);
	assert_int_equal(after.term_reqs_sent, before.term_reqs_sent);
	close(fd);
}

/* ---- ICReq timeout ------------------------------------------------------------ */

static int raw_admin(struct tt_target *t, uint16_t sqsize, uint8_t cattr,
		     bool enable);

static void test_silent_connection_closed_after_icreq_timeout(void **state)
{
	struct tt_target *t = *state;
	struct tcp_pg_stats before, after;
	uint64_t start;
	int fd, half, good;

	assert_int_equal(tt_stats(t, &before), 0);
	/* connected: neither the ICReq nor the Connect deadline applies */
	good = raw_admin(t, 31, 0, false);
	start = tt_now_ms();
	fd = raw_connect(t);
	half = raw_connect(t);
	/* half an ICReq is not valid either */
	assert_int_equal(raw_send(half, "\0\0\x80\0", 4), 0);
	assert_int_equal(raw_expect_close(fd, ICREQ_TIMEOUT_MS + 5000), 0);
	assert_true(tt_now_ms() - start >= ICREQ_TIMEOUT_MS - 50);
	assert_int_equal(raw_expect_close(half, 5000), 0);
	/* the one that did its ICReq and Connect in time is kept */
	assert_served(good, 7);
	assert_int_equal(tt_stats(t, &after), 0);
	assert_int_equal(after.icreq_timeouts, before.icreq_timeouts + 2);
	close(fd);
	close(half);
	close(good);
}

/* ---- R2T / H2CData ------------------------------------------------------------ */

/* Write capsule of @len on @fd; returns the R2T. */
static struct pdu_r2t start_write(int fd, uint16_t cid, uint32_t len)
{
	union pdu_hdr h, r;
	size_t hl = raw_write_cmd(&h, NULL, cid, 0, len);

	assert_int_equal(raw_send(fd, h.raw, hl), 0);
	assert_int_equal(raw_recv_pdu(fd, &r, NULL, 0, NULL, 5000), 0);
	assert_int_equal(r.ch.type, PDU_R2T);
	return r.r2t;
}

static void send_h2c(int fd, uint16_t cid, uint16_t ttag, uint32_t datao,
		     uint32_t datal, bool last)
{
	union pdu_hdr h;
	size_t hl = pdu_enc_h2c_data(&h, NULL, cid, ttag, datao, datal, last);
	uint8_t *data = calloc(1, datal);

	assert_non_null(data);
	assert_int_equal(raw_send(fd, h.raw, hl), 0);
	assert_int_equal(raw_send(fd, data, datal), 0);
	free(data);
}

static void test_r2t_covers_whole_write(void **state)
{
	struct tt_target *t = *state;
	int fd = ic_conn(t, 0);
	struct pdu_r2t r2t = start_write(fd, 42, 64 * 1024);
	union pdu_hdr r;

	assert_int_equal(le16toh(r2t.cccid), 42);
	assert_int_equal(le32toh(r2t.r2to), 0);
	assert_int_equal(le32toh(r2t.r2tl), 64 * 1024);
	assert_int_equal(r2t.ch.flags, 0);
	/* two H2CData PDUs complete it: a CapsuleResp for cid 42 follows
	 * (an error status: this queue never connected) */
	send_h2c(fd, 42, le16toh(r2t.ttag), 0, 32 * 1024, false);
	send_h2c(fd, 42, le16toh(r2t.ttag), 32 * 1024, 32 * 1024, true);
	assert_int_equal(raw_recv_pdu(fd, &r, NULL, 0, NULL, 5000), 0);
	assert_int_equal(r.ch.type, PDU_CAPSULE_RESP);
	assert_int_equal(r.rsp.cqe.cid, 42);
	assert_int_not_equal(le16toh(r.rsp.cqe.status) >> 1, 0);
	close(fd);
}

static void h2c_error_case(struct tt_target *t, uint32_t len, int which,
			   uint16_t want_fes, uint32_t want_fei)
{
	int fd = ic_conn(t, 0), good = ic_conn(t, 0);
	struct pdu_r2t r2t = start_write(fd, 9, len);
	uint16_t ttag = le16toh(r2t.ttag), fes;
	uint32_t fei;

	switch (which) {
	case 0:	/* unknown transfer tag */
		send_h2c(fd, 9, (uint16_t)(ttag + 1000), 0, 4096, true);
		break;
	case 1:	/* offset not the next expected one */
		send_h2c(fd, 9, ttag, 512, 512, false);
		break;
	case 2:	/* more data than the R2T asked for */
		send_h2c(fd, 9, ttag, 0, len + 4096, true);
		break;
	case 3:	/* another command's id */
		send_h2c(fd, 10, ttag, 0, 512, false);
		break;
	}
	assert_int_equal(raw_expect_term(fd, &fes, &fei), 0);
	assert_int_equal(fes, want_fes);
	assert_int_equal(fei, want_fei);
	assert_served(good, 11);
	close(fd);
	close(good);
}

static void test_h2c_unknown_ttag_gets_term(void **state)
{
	h2c_error_case(*state, 8192, 0, PDU_FES_INVALID_HEADER_FIELD,
		       offsetof(struct pdu_h2c_data, ttag));
}

static void test_h2c_bad_offset_gets_term(void **state)
{
	h2c_error_case(*state, 8192, 1, PDU_FES_DATA_OUT_OF_RANGE,
		       offsetof(struct pdu_h2c_data, datao));
}

static void test_h2c_too_much_data_gets_term(void **state)
{
	h2c_error_case(*state, 8192, 2, PDU_FES_DATA_OUT_OF_RANGE,
		       offsetof(struct pdu_h2c_data, datal));
}

static void test_h2c_wrong_cccid_gets_term(void **state)
{
	h2c_error_case(*state, 8192, 3, PDU_FES_INVALID_HEADER_FIELD,
		       offsetof(struct pdu_h2c_data, cccid));
}

static void test_cid_of_active_command_gets_term(void **state)
{
	struct tt_target *t = *state;
	int fd = ic_conn(t, 0), good = ic_conn(t, 0);
	union pdu_hdr h;
	size_t hl;
	uint16_t fes;
	uint32_t fei;

	start_write(fd, 77, 8192);	/* stays active: no data sent */
	hl = raw_write_cmd(&h, NULL, 77, 8, 4096);
	assert_int_equal(raw_send(fd, h.raw, hl), 0);
	assert_int_equal(raw_expect_term(fd, &fes, &fei), 0);
	assert_int_equal(fes, PDU_FES_INVALID_HEADER_FIELD);
	assert_int_equal(fei, 10);	/* CID in the CapsuleCmd PDU */
	assert_served(good, 78);
	close(fd);
	close(good);
}

/* ---- SGL checks fail the command, not the connection ------------------------------ */

static uint16_t sgl_case(int fd, uint16_t cid, uint8_t type, uint64_t addr,
			 uint32_t sgl_len, uint32_t icd_len)
{
	static uint8_t pdu[72 + 8192];
	union pdu_hdr *h = (union pdu_hdr *)pdu;
	struct nvmft_sqe sqe;
	union pdu_hdr r;
	size_t hl;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_cmd_write;
	sqe.flags = 0x40;
	sqe.cid = cid;
	sqe.nsid = htole32(1);
	sqe.sgl.type = type;
	sqe.sgl.addr = htole64(addr);
	sqe.sgl.length = htole32(sgl_len);
	hl = pdu_enc_capsule_cmd(h, NULL, &sqe, icd_len);
	memset(pdu + hl, 0xab, icd_len);
	assert_int_equal(raw_send(fd, pdu, hl + icd_len), 0);
	assert_int_equal(raw_recv_pdu(fd, &r, NULL, 0, NULL, 5000), 0);
	assert_int_equal(r.ch.type, PDU_CAPSULE_RESP);
	assert_int_equal(r.rsp.cqe.cid, cid);
	return le16toh(r.rsp.cqe.status) >> 1;
}

#define SGL_ST(sc)	(NVMFT_STATUS(NVME_SCT_GENERIC, (sc)) | NVMFT_STATUS_DNR)

static void test_bad_sgl_fails_command_only(void **state)
{
	struct tt_target *t = *state;
	int fd = ic_conn(t, 0);

	/* transport SGL longer than max_io_size (MDTS): Invalid Field */
	assert_int_equal(sgl_case(fd, 1, NVMFT_SGL_TRANSPORT, 0,
				  t->topts.max_io_size * 2, 0),
			 SGL_ST(NVME_SC_INVALID_FIELD));
	/* in-capsule data at an offset */
	assert_int_equal(sgl_case(fd, 2, NVMFT_SGL_INCAPSULE, 16, 512, 512),
			 SGL_ST(NVME_SC_SGL_INVALID_OFFSET));
	/* SGL length and in-capsule data disagree (the data is skipped) */
	assert_int_equal(sgl_case(fd, 3, NVMFT_SGL_INCAPSULE, 0, 512, 4096),
			 SGL_ST(NVME_SC_SGL_INVALID_DATA));
	/* in-capsule data in a command with a transport SGL */
	assert_int_equal(sgl_case(fd, 4, NVMFT_SGL_TRANSPORT, 0, 512, 512),
			 SGL_ST(NVME_SC_SGL_INVALID_DATA));
	/* a descriptor type NVMe/TCP does not use (keyed data block) */
	assert_int_equal(sgl_case(fd, 5, 0x40, 0, 512, 0),
			 SGL_ST(NVME_SC_SGL_INVALID_TYPE));
	/* more in-capsule data than this (admin, not connected) queue takes */
	assert_int_equal(sgl_case(fd, 6, NVMFT_SGL_INCAPSULE, 0, 8192 + 512, 0),
			 SGL_ST(NVME_SC_SGL_INVALID_DATA));
	/* the stream stayed in sync */
	assert_served(fd, 7);
	close(fd);
}

/* ---- connection loss ------------------------------------------------------------ */

static void test_peer_reset_mid_h2c_leaks_nothing(void **state)
{
	struct tt_target *t = *state;
	struct tcp_pg_stats st;
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int good = ic_conn(t, 0), fd = ic_conn(t, 0);
	struct pdu_r2t r2t = start_write(fd, 3, 1u << 20);
	uint16_t ttag = le16toh(r2t.ttag);

	/* 1 MiB took pool buffers; send part of it, then reset */
	assert_int_equal(tt_stats(t, &st), 0);
	assert_true(st.bufs_free < st.bufs_total);
	send_h2c(fd, 3, ttag, 0, 128 * 1024, false);
	send_h2c(fd, 3, ttag, 128 * 1024, 100 * 1024, false);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(fd);
	assert_int_equal(tt_wait_idle(t, 1), 0);
	assert_served(good, 4);
	close(good);
	assert_int_equal(tt_wait_idle(t, 0), 0);
}

static void test_peer_close_mid_capsule_leaks_nothing(void **state)
{
	struct tt_target *t = *state;
	union pdu_hdr h;
	struct nvmft_sqe sqe;
	int fd = ic_conn(t, 0);

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_cmd_write;
	sqe.sgl.type = NVMFT_SGL_INCAPSULE;
	sqe.sgl.length = htole32(4096);
	pdu_enc_capsule_cmd(&h, NULL, &sqe, 4096);
	/* header and a bit of the in-capsule data, then FIN */
	assert_int_equal(raw_send(fd, h.raw, 72), 0);
	assert_int_equal(raw_send(fd, "abcd", 4), 0);
	close(fd);
	assert_int_equal(tt_wait_idle(t, 0), 0);
}

/* ---- raw admin queue: SUCCESS flag, queue size ---------------------------------- */

/* A raw connection and what its ICReq negotiated. */
struct raw_q {
	int fd;
	struct pdu_params p;
};

/*
 * Send a command (with @icd in-capsule bytes) and read what answers it:
 * C2HData into @data, until a CapsuleResp (*cqe) or a SUCCESS C2HData.
 * Every received PDU is checked: header digest, data digest, data offset
 * aligned to HPDA. Returns the number of C2HData PDUs; *flags gets the
 * last one's flags.
 */
static int raw_cmd(struct raw_q *q, const struct nvmft_sqe *sqe, const void *icd,
		   uint32_t icd_len, void *data, uint32_t max, uint8_t *flags,
		   struct nvmft_cqe *cqe, bool *got_cqe)
{
	static uint8_t buf[256 * 1024];
	static const uint8_t zero[PDU_MAX_PAD];
	union pdu_hdr h;
	size_t hl = pdu_enc_capsule_cmd(&h, &q->p, sqe, icd_len);
	int nc2h = 0;

	*got_cqe = false;
	assert_int_equal(raw_send(q->fd, h.raw, hl), 0);
	if (icd_len) {
		struct iovec iov = { (void *)icd, icd_len };
		uint8_t dg[PDU_DIGEST_LEN];

		assert_int_equal(raw_send(q->fd, zero, pdu_pad_len(&h.ch)), 0);
		assert_int_equal(raw_send(q->fd, icd, icd_len), 0);
		if (q->p.ddgst) {
			pdu_ddgst_set(dg, &iov, 1);
			assert_int_equal(raw_send(q->fd, dg, sizeof(dg)), 0);
		}
	}
	for (;;) {
		uint32_t rest = 0, hdr, pad, dl;
		struct iovec iov;

		assert_int_equal(raw_recv_pdu(q->fd, &h, buf, sizeof(buf), &rest, 5000), 0);
		assert_int_equal(!!(h.ch.flags & PDU_FLAG_HDGSTF), q->p.hdgst);
		if (q->p.hdgst)
			assert_true(pdu_hdgst_ok(&h));
		if (h.ch.type == PDU_CAPSULE_RESP) {
			assert_int_equal(rest, 0);
			*cqe = h.rsp.cqe;
			*got_cqe = true;
			return nc2h;
		}
		assert_int_equal(h.ch.type, PDU_C2H_DATA);
		hdr = pdu_hdr_len(&h.ch);
		assert_int_equal(h.ch.pdo % ((q->p.hpda + 1u) * 4), 0);
		assert_true(h.ch.pdo >= hdr);
		pad = h.ch.pdo - hdr;
		dl = le32toh(h.c2h.datal);
		assert_int_equal(rest, pad + dl + (q->p.ddgst ? PDU_DIGEST_LEN : 0));
		assert_int_equal(!!(h.ch.flags & PDU_FLAG_DDGSTF), q->p.ddgst);
		iov = (struct iovec){ buf + pad, dl };
		if (q->p.ddgst)
			assert_true(pdu_ddgst_ok(buf + pad + dl, &iov, 1));
		assert_true(le32toh(h.c2h.datao) + dl <= max);
		memcpy((uint8_t *)data + le32toh(h.c2h.datao), buf + pad, dl);
		nc2h++;
		*flags = h.ch.flags;
		if (h.ch.flags & PDU_FLAG_SUCCESS)
			return nc2h;
	}
}

static struct nvmft_sqe fabrics_sqe(uint8_t fctype, uint16_t cid)
{
	struct nvmft_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_fabrics;
	((uint8_t *)&sqe)[4] = fctype;
	sqe.cid = cid;
	return sqe;
}

/* IC exchange with @digest/@hpda, admin Connect, enable when @enable. */
static struct raw_q raw_admin_ex(struct tt_target *t, uint16_t sqsize,
				 uint8_t cattr, bool enable, uint8_t digest,
				 uint8_t hpda)
{
	struct nvmf_connect_data cd;
	struct nvmft_sqe sqe = fabrics_sqe(nvme_fabrics_type_connect, 1);
	struct nvmft_cqe cqe;
	struct pdu_icresp rsp = { .digest = 0 };
	struct raw_q q = { .fd = raw_connect(t) };
	uint8_t flags;
	bool got;

	assert_true(q.fd >= 0);
	assert_int_equal(raw_icreq(q.fd, digest, hpda, &rsp), 0);
	q.p.hdgst = rsp.digest & PDU_DIGEST_HDGST;
	q.p.ddgst = rsp.digest & PDU_DIGEST_DDGST;
	q.p.cpda = rsp.cpda;
	q.p.hpda = hpda;
	memset(&cd, 0, sizeof(cd));
	cd.cntlid = htole16(0xffff);
	snprintf(cd.subsysnqn, sizeof(cd.subsysnqn), "%s", TT_NQN);
	snprintf(cd.hostnqn, sizeof(cd.hostnqn), "nqn.2024-01.io.nvmft:rawhost");
	sqe.sgl.type = NVMFT_SGL_INCAPSULE;
	sqe.sgl.length = htole32(sizeof(cd));
	sqe.cdw11 = htole32((uint32_t)sqsize | (uint32_t)cattr << 16);
	raw_cmd(&q, &sqe, &cd, sizeof(cd), NULL, 0, &flags, &cqe, &got);
	assert_true(got);
	assert_int_equal(le16toh(cqe.status) >> 1, 0);
	if (!enable)
		return q;
	sqe = fabrics_sqe(nvme_fabrics_type_property_set, 2);
	sqe.cdw11 = htole32(0x14);			/* CC */
	sqe.cdw12 = htole32(0x00460001);		/* EN, IOSQES 6, IOCQES 4 */
	raw_cmd(&q, &sqe, NULL, 0, NULL, 0, &flags, &cqe, &got);
	assert_int_equal(le16toh(cqe.status) >> 1, 0);
	for (int i = 0; i < 1000; i++) {
		sqe = fabrics_sqe(nvme_fabrics_type_property_get, 3);
		sqe.cdw11 = htole32(0x1c);		/* CSTS */
		raw_cmd(&q, &sqe, NULL, 0, NULL, 0, &flags, &cqe, &got);
		assert_int_equal(le16toh(cqe.status) >> 1, 0);
		if (le64toh(cqe.result) & 1)
			return q;
		tt_sleep_ms(2);
	}
	fail_msg("controller never ready");
	return q;
}

static int raw_admin(struct tt_target *t, uint16_t sqsize, uint8_t cattr,
		     bool enable)
{
	return raw_admin_ex(t, sqsize, cattr, enable, 0, 0).fd;
}

static int raw_identify_q(struct raw_q *q, uint16_t cid, uint8_t *flags,
			  bool *got_cqe)
{
	static uint8_t id[4096];
	struct nvmft_sqe sqe;
	struct nvmft_cqe cqe;
	int n;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_identify;
	sqe.flags = 0x40;
	sqe.cid = cid;
	sqe.cdw10 = htole32(NVME_IDENTIFY_CNS_CTRL);
	sqe.sgl.type = NVMFT_SGL_TRANSPORT;
	sqe.sgl.length = htole32(sizeof(id));
	memset(id, 0, sizeof(id));
	n = raw_cmd(q, &sqe, NULL, 0, id, sizeof(id), flags, &cqe, got_cqe);
	if (*got_cqe)
		assert_int_equal(le16toh(cqe.status) >> 1, 0);
	/* the serial number field is filled: the data did arrive */
	assert_int_not_equal(id[4], 0);
	return n;
}

static int raw_identify_ctrlr(int fd, uint16_t cid, uint8_t *flags, bool *got_cqe)
{
	struct raw_q q = { .fd = fd };

	return raw_identify_q(&q, cid, flags, got_cqe);
}

static void test_c2h_data_honours_hpda_and_digests(void **state)
{
	struct tt_target *t = *state;
	static const uint8_t hpdas[] = { 0, 2, 7, 31 };
	uint8_t flags;
	bool got;

	for (unsigned int i = 0; i < sizeof(hpdas); i++) {
		uint8_t dg = i & 1 ? PDU_DIGEST_HDGST | PDU_DIGEST_DDGST :
			     PDU_DIGEST_DDGST;
		struct raw_q q = raw_admin_ex(t, 31, 0, true, dg, hpdas[i]);

		/* raw_cmd checks alignment and both digests of every PDU */
		assert_int_equal(raw_identify_q(&q, 7, &flags, &got), 1);
		assert_true(got);
		close(q.fd);
	}
}

static void test_c2h_success_only_when_sq_flow_control_disabled(void **state)
{
	struct tt_target *t = *state;
	int on = raw_admin(t, 31, 0, true);
	int off = raw_admin(t, 31, 0x04, true);	/* CATTR: SQ flow control off */
	struct nvmft_sqe ka = { .opcode = nvme_admin_keep_alive, .cid = 9 };
	struct nvmft_cqe cqe;
	uint8_t flags = 0;
	bool got;

	assert_true(t->topts.c2h_success);
	/* flow control on: C2HData with LAST_PDU only, then a CapsuleResp */
	assert_int_equal(raw_identify_ctrlr(on, 7, &flags, &got), 1);
	assert_true(got);
	assert_int_equal(flags & (PDU_FLAG_LAST_PDU | PDU_FLAG_SUCCESS),
			 PDU_FLAG_LAST_PDU);
	/* flow control off: the last C2HData carries SUCCESS, no response */
	assert_int_equal(raw_identify_ctrlr(off, 7, &flags, &got), 1);
	assert_false(got);
	assert_int_equal(flags & (PDU_FLAG_LAST_PDU | PDU_FLAG_SUCCESS),
			 PDU_FLAG_LAST_PDU | PDU_FLAG_SUCCESS);
	/* ...and no stray CapsuleResp follows: the next PDU answers cid 9 */
	struct raw_q qoff = { .fd = off };

	assert_int_equal(raw_cmd(&qoff, &ka, NULL, 0, NULL, 0, &flags, &cqe, &got), 0);
	assert_true(got);
	assert_int_equal(cqe.cid, 9);
	close(on);
	close(off);
}

static void test_commands_beyond_sq_size_get_term(void **state)
{
	struct tt_target *t = *state;
	int fd = raw_admin(t, 3, 0, false);	/* 4 entries */
	int good = ic_conn(t, 0);
	uint16_t fes;
	uint32_t fei;
	union pdu_hdr h;
	size_t hl;

	/* four writes wait for their data: the queue is full */
	for (uint16_t cid = 20; cid < 24; cid++)
		start_write(fd, cid, 4096);
	hl = raw_write_cmd(&h, NULL, 24, 0, 4096);
	assert_int_equal(raw_send(fd, h.raw, hl), 0);
	assert_int_equal(raw_expect_term(fd, &fes, &fei), 0);
	assert_int_equal(fes, PDU_FES_PDU_SEQUENCE_ERROR);
	assert_served(good, 25);
	close(fd);
	close(good);
}

/* ---- IPv6 ------------------------------------------------------------------------ */

struct listen6 {
	struct tt_target *t;
	struct nvmft_listen_addr a;
	int rc;
	int port;
};

static void listen6_step(void *arg)
{
	struct listen6 *l = arg;

	l->rc = nvmft_listen_addr_init(&l->a, "::1", "0");
	if (!l->rc)
		l->rc = nvmft_tgt_listen(l->t->tgt, &l->a);
	if (!l->rc)
		l->port = nvmft_tgt_listen_port(l->t->tgt, &l->a);
}

static void unlisten6_step(void *arg)
{
	struct listen6 *l = arg;

	l->rc = nvmft_tgt_stop_listen(l->t->tgt, &l->a);
}

static void test_ipv6_listener_serves(void **state)
{
	struct tt_target *t = *state;
	struct listen6 l = { .t = t };
	struct pdu_icresp rsp;
	int fd;

	assert_int_equal(nvmft_runtime_exec(t->rt, 0, listen6_step, &l), 0);
	if (l.rc == -EADDRNOTAVAIL || l.rc == -EAFNOSUPPORT) {
		printf("note: no ::1 here (%d)\n", l.rc);
		skip();
	}
	assert_int_equal(l.rc, 0);
	assert_true(l.port > 0);
	fd = sock_connect_blocking("::1", (uint16_t)l.port);
	assert_true(fd >= 0);
	assert_int_equal(raw_icreq(fd, 0, 0, &rsp), 0);
	assert_served(fd, 1);
	close(fd);
	assert_int_equal(nvmft_runtime_exec(t->rt, 0, unlisten6_step, &l), 0);
	assert_int_equal(l.rc, 0);
	/* no longer accepting there (the listener closes on a later turn) */
	for (int i = 0; i < 1000; i++) {
		fd = sock_connect_blocking("::1", (uint16_t)l.port);
		if (fd < 0)
			break;
		close(fd);
		tt_sleep_ms(2);
	}
	assert_int_equal(fd, -ECONNREFUSED);
}

/* ---- options -------------------------------------------------------------------- */

static void test_opts_defaults_pass_check(void **state)
{
	struct nvmft_transport_opts o;

	(void)state;
	nvmf_tcp_ops.opts_init(&o);
	assert_int_equal(o.max_queue_depth, 128);
	assert_int_equal(o.max_aq_depth, 32);
	assert_int_equal(o.in_capsule_data_size, 8192);
	assert_int_equal(o.io_unit_size, 131072);
	assert_int_equal(o.max_io_size, 1u << 20);
	assert_int_equal(o.num_shared_buffers, 512);
	assert_true(o.c2h_success);
	assert_int_equal(o.icreq_timeout_ms, 10000);
	assert_int_equal(nvmf_tcp_ops.opts_check(NULL, &o), 0);
}

static void test_opts_check_rejects_bad_values(void **state)
{
	struct nvmft_transport_opts d, o;

	(void)state;
	nvmf_tcp_ops.opts_init(&d);
#define BAD(field, value) do {						\
		o = d;							\
		o.field = value;					\
		assert_int_equal(nvmf_tcp_ops.opts_check(NULL, &o), -EINVAL); \
	} while (0)
	BAD(io_unit_size, 2048);
	BAD(io_unit_size, 4098);
	BAD(in_capsule_data_size, 8200);
	BAD(in_capsule_data_size, 262144);
	BAD(max_queue_depth, 1);
	BAD(max_aq_depth, 0);
	BAD(max_io_size, 3000);
	BAD(max_io_size, 64u << 20);	/* more than 64 io units */
	BAD(num_shared_buffers, 4);	/* a 1 MiB request needs 8 */
	BAD(max_r2t, 0);
	BAD(icreq_timeout_ms, 0);
	BAD(backlog, 0);
#undef BAD
	o = d;
	o.io_unit_size = 4096;
	o.in_capsule_data_size = 4096;
	o.max_io_size = 128 * 1024;
	o.num_shared_buffers = 32;
	assert_int_equal(nvmf_tcp_ops.opts_check(NULL, &o), 0);
}

#define PROTO_TESTS								\
	cmocka_unit_test(test_icresp_announces_defaults),			\
	cmocka_unit_test(test_icresp_grants_both_digests),			\
	cmocka_unit_test(test_icreq_bad_pfv_gets_term),				\
	cmocka_unit_test(test_icreq_bad_hpda_gets_term),			\
	cmocka_unit_test(test_capsule_before_icreq_gets_term),			\
	cmocka_unit_test(test_second_icreq_gets_term),				\
	cmocka_unit_test(test_wrong_hlen_gets_term),				\
	cmocka_unit_test(test_unknown_type_gets_term),				\
	cmocka_unit_test(test_controller_type_from_host_gets_term),		\
	cmocka_unit_test(test_bad_pdo_gets_term),				\
	cmocka_unit_test(test_plen_too_big_gets_term),				\
	cmocka_unit_test(test_header_digest_error_gets_term),			\
	cmocka_unit_test(test_h2c_term_req_closes),				\
	cmocka_unit_test(test_silent_connection_closed_after_icreq_timeout),	\
	cmocka_unit_test(test_r2t_covers_whole_write),				\
	cmocka_unit_test(test_h2c_unknown_ttag_gets_term),			\
	cmocka_unit_test(test_h2c_bad_offset_gets_term),			\
	cmocka_unit_test(test_h2c_too_much_data_gets_term),			\
	cmocka_unit_test(test_h2c_wrong_cccid_gets_term),			\
	cmocka_unit_test(test_cid_of_active_command_gets_term),			\
	cmocka_unit_test(test_bad_sgl_fails_command_only),			\
	cmocka_unit_test(test_ipv6_listener_serves),				\
	cmocka_unit_test(test_c2h_success_only_when_sq_flow_control_disabled), \
	cmocka_unit_test(test_c2h_data_honours_hpda_and_digests),		\
	cmocka_unit_test(test_commands_beyond_sq_size_get_term),		\
	cmocka_unit_test(test_peer_reset_mid_h2c_leaks_nothing),		\
	cmocka_unit_test(test_peer_close_mid_capsule_leaks_nothing)

int main(void)
{
	const struct CMUnitTest opts_tests[] = {
		cmocka_unit_test(test_opts_defaults_pass_check),
		cmocka_unit_test(test_opts_check_rejects_bad_values),
	};
	const struct CMUnitTest proto_tests[] = { PROTO_TESTS };
	int fails = 0;

	fails += cmocka_run_group_tests_name("tcp_opts", opts_tests, NULL, NULL);
	/* io_uring may be blocked (containers): then only epoll runs. */
	if (tt_engine_usable(NVMFT_ENGINE_URING))
		fails += cmocka_run_group_tests_name("tcp_proto_uring", proto_tests,
						     setup_uring, group_teardown);
	else
		printf("note: io_uring unavailable, uring group not run\n");
	fails += cmocka_run_group_tests_name("tcp_proto_epoll", proto_tests,
					     setup_epoll, group_teardown);
	return fails ? 1 : 0;
}
