/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the NVMe/TCP receive state machine, request state machine
 * and send queue (lib/tcp) with the real NVMe-oF core and a malloc
 * namespace behind them, fed an arbitrary byte stream cut at arbitrary
 * points. No network: the transport's sock ops (tcp_transport_set_sock_ops)
 * are replaced by an in-memory stream that a driver poller on the reactor
 * feeds one receive per loop turn, completing sends as the real sock layer
 * would (one in flight, whole, callbacks from the loop).
 *
 * Input: [0] mode  [1..2] seed of the cuts  [3..] the stream of the first
 * connection, optionally followed by "--IOQ--" and the stream of a second
 * one, started once the first is fed and quiet (an I/O queue: controllers
 * get cntlid 1 in every input).
 *   mode bits 0-1: end of stream: 0/3 peer closes (EOF), 1 peer resets,
 *                  2 the target closes (as keep-alive or shutdown would);
 *   bits 2-3: loop turns each send stays in flight (0..3);
 *   bits 4-6: receive sizes: 0 whatever fits; 1..6 random, at most
 *             8 << 2(k-1); 7 one PDU at a time (by its PLEN), each once
 *             the target is quiet (a host waiting for its answers);
 *   bit 7: a host that does not read: no send completes while its
 *          stream is being fed (the target must stop taking commands
 *          in, not buffer more; the next connection starts meanwhile).
 *
 * Checks, per input: no crash or sanitizer report; every PDU the target
 * sends passes the host-side checks of lib/tcp/pdu.c, and nothing follows
 * a C2HTermReq; the connection is torn down with every request slot free,
 * every pool buffer back and no controller left; the connection never
 * hangs (bounded loop turns).
 */
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <semaphore.h>

#include "fuzz_env.h"
#include "tcp/tcp_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_target_cleanup(void);

#define MAX_STEPS	400000u	/* loop turns one input may take */
/* Bytes after this go to a second connection (an I/O queue). */
#define FUZZ_TCP_CONN_SEP	"--IOQ--"
#define IDLE_STEPS	2000u	/* turns without progress before giving up waiting */
#define SYNC_IDLE_STEPS	64u	/* sync mode: quiet this long, next PDU */

struct fsock {
	const struct nsock_cbs *cbs;
	void *ctx;			/* the tcp_qpair */
	uint8_t *rbuf;
	size_t rlen;
	bool rpending;
	bool spending;
	size_t sbytes;
	bool closing;
};

/* The target's output, parsed PDU by PDU. */
struct out_parser {
	union pdu_hdr h;
	uint32_t got;
	uint32_t need;
	uint64_t skip;
	bool ic_done;
	bool term_seen;
	struct pdu_params p;
};

enum phase { PH_IDLE = 0, PH_RUN, PH_CLOSING, PH_CLOSED };

/* One connection of an input and its part of the stream. */
struct conn {
	const uint8_t *data;
	size_t len;
	size_t off;
	enum phase phase;
	struct fsock *fs;
	struct tcp_qpair *qp;
	struct out_parser out;
	unsigned int send_wait;
	unsigned int idle;
	size_t pdu_left;		/* sync mode: rest of the PDU being fed */
};

#define MAX_CONNS	2

struct run {
	uint8_t end_action;
	unsigned int send_delay;
	uint32_t chunk_max;		/* 0: as much as the receive takes */
	bool sync;			/* one PDU at a time, when quiet */
	bool hold_sends;		/* until the stream is fed */
	uint32_t rng;
	struct conn conns[MAX_CONNS];
	unsigned int nr_conns;
	unsigned int active;		/* conns[0..active) started */
	struct conn *attaching;
	bool done;
	uint64_t steps;
	sem_t sem;
};

static struct fuzz_env env;
static struct nvmf_transport *tcp;
static struct nvmft_poller *driver;
static struct run *cur;			/* reactor only */
static bool trace;			/* FUZZ_TRACE: print what the target sends */

/* ---- the in-memory socket ------------------------------------------------- */

static int f_attach(struct sock_group *g, int fd, const struct nsock_cbs *cbs,
		    void *ctx, struct nsock **out)
{
	struct conn *c = cur ? cur->attaching : NULL;
	struct fsock *fs;

	(void)g;
	(void)fd;
	FUZZ_CHECK(c && !c->fs);
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->cbs = cbs;
	fs->ctx = ctx;
	c->fs = fs;
	c->qp = ctx;
	cur->attaching = NULL;
	*out = (struct nsock *)fs;
	return 0;
}

static int f_recv(struct nsock *s, void *buf, size_t len)
{
	struct fsock *fs = (struct fsock *)s;

	if (fs->closing)
		return -ESHUTDOWN;
	if (fs->rpending)
		return -EBUSY;
	if (!len)
		return -EINVAL;
	fs->rbuf = buf;
	fs->rlen = len;
	fs->rpending = true;
	return 0;
}

static void out_header(struct out_parser *o, const struct tcp_qpair *qp)
{
	uint32_t fei = 0, plen = le32toh(o->h.ch.plen);
	int fes;

	if (o->term_seen) {
		fprintf(stderr, "%s PDU sent after a C2HTermReq\n",
			pdu_type_name(o->h.ch.type));
		abort();
	}
	fes = pdu_check_common(&o->h.ch, PDU_DIR_C2H, o->ic_done ? &o->p : NULL,
			       o->ic_done, UINT32_MAX, &fei);
	if (fes == 0 && (o->h.ch.flags & PDU_FLAG_HDGSTF) && !pdu_hdgst_ok(&o->h))
		fes = PDU_FES_HDGST_ERROR;
	if (fes == 0 && o->h.ch.type == PDU_ICRESP)
		fes = pdu_check_icresp(&o->h.icresp, PDU_DIGEST_HDGST | PDU_DIGEST_DDGST,
				       &fei);
	if (fes) {
		fprintf(stderr, "target sent a bad %s PDU: FES %d FEI %u\n",
			pdu_type_name(o->h.ch.type), fes, fei);
		abort();
	}
	if (trace) {
		if (o->h.ch.type == PDU_CAPSULE_RESP)
			fprintf(stderr, "  <- CapsuleResp cid %u status %#x\n",
				o->h.rsp.cqe.cid, le16toh(o->h.rsp.cqe.status) >> 1);
		else if (o->h.ch.type == PDU_C2H_TERM_REQ)
			fprintf(stderr, "  <- C2HTermReq FES %u FEI %u\n",
				le16toh(o->h.term.fes), le32toh(o->h.term.fei));
		else
			fprintf(stderr, "  <- %s\n", pdu_type_name(o->h.ch.type));
	}
	if (o->h.ch.type == PDU_ICRESP) {
		o->ic_done = true;
		/* what the target negotiated is what its PDUs must follow */
		o->p = qp->params;
		o->p.maxh2cdata = 0;
	}
	if (o->h.ch.type == PDU_C2H_TERM_REQ)
		o->term_seen = true;
	o->skip = plen - o->need;
	o->got = 0;
	o->need = sizeof(struct pdu_common);
}

static void out_feed(struct out_parser *o, const struct tcp_qpair *qp,
		     const uint8_t *p, size_t n)
{
	while (n) {
		size_t k;

		if (o->skip) {
			k = o->skip < n ? (size_t)o->skip : n;
			o->skip -= k;
			p += k;
			n -= k;
			continue;
		}
		k = o->need - o->got < n ? o->need - o->got : n;
		memcpy(o->h.raw + o->got, p, k);
		o->got += (uint32_t)k;
		p += k;
		n -= k;
		if (o->got < o->need)
			continue;
		if (o->need == sizeof(struct pdu_common)) {
			uint8_t hl = pdu_hlen(o->h.ch.type);

			if (hl == 0 || hl != o->h.ch.hlen) {
				fprintf(stderr, "target sent type %u hlen %u\n",
					o->h.ch.type, o->h.ch.hlen);
				abort();
			}
			o->need = pdu_hdr_len(&o->h.ch);
			if (o->got < o->need)
				continue;
		}
		out_header(o, qp);
	}
}

static struct conn *conn_of(const struct fsock *fs)
{
	for (unsigned int i = 0; cur && i < cur->nr_conns; i++)
		if (cur->conns[i].fs == fs)
			return &cur->conns[i];
	abort();
}

static int f_sendv(struct nsock *s, const struct iovec *iov, int iovcnt)
{
	struct fsock *fs = (struct fsock *)s;
	struct conn *c = conn_of(fs);
	size_t total = 0;

	if (fs->closing)
		return -ESHUTDOWN;
	if (fs->spending)
		return -EBUSY;
	if (iovcnt <= 0 || iovcnt > NSOCK_MAX_IOV)
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++) {
		out_feed(&c->out, c->qp, iov[i].iov_base, iov[i].iov_len);
		total += iov[i].iov_len;
	}
	FUZZ_CHECK(total > 0);
	fs->sbytes = total;
	fs->spending = true;
	return 0;
}

static bool f_recv_pending(const struct nsock *s)
{
	return ((const struct fsock *)s)->rpending;
}

static bool f_send_pending(const struct nsock *s)
{
	return ((const struct fsock *)s)->spending;
}

static void f_close(struct nsock *s)
{
	/* The driver completes what is pending and calls closed later. */
	((struct fsock *)s)->closing = true;
}

static const struct tcp_sock_ops fuzz_sock_ops = {
	.attach = f_attach,
	.recv = f_recv,
	.sendv = f_sendv,
	.recv_pending = f_recv_pending,
	.send_pending = f_send_pending,
	.close = f_close,
};

/* ---- the driver (a poller on the reactor) ---------------------------------- */

static uint32_t rnd(struct run *r)
{
	r->rng ^= r->rng << 13;
	r->rng ^= r->rng >> 17;
	r->rng ^= r->rng << 5;
	return r->rng;
}

static void conn_start(struct run *r, struct conn *c)
{
	struct sockaddr_in peer = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)(50000 + (c - r->conns))),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};

	c->phase = PH_RUN;
	c->out.need = sizeof(struct pdu_common);
	r->attaching = c;
	tcp_transport_new_conn(tcp, -1, (struct sockaddr *)&peer);
}

static void deliver(struct run *r, struct conn *c)
{
	struct fsock *fs = c->fs;
	size_t n = c->len - c->off;

	if (r->sync) {
		if (!c->pdu_left) {
			uint32_t plen = 0;

			if (n >= sizeof(struct pdu_common)) {
				memcpy(&plen, c->data + c->off + 4, 4);
				plen = le32toh(plen);
			}
			c->pdu_left = plen >= sizeof(struct pdu_common) &&
				      plen <= n ? plen : n;
		}
		n = c->pdu_left;
	}
	if (n > fs->rlen)
		n = fs->rlen;
	if (r->chunk_max) {
		size_t k = 1 + rnd(r) % r->chunk_max;

		if (n > k)
			n = k;
	}
	memcpy(fs->rbuf, c->data + c->off, n);
	c->off += n;
	if (r->sync)
		c->pdu_left -= n;
	fs->rpending = false;
	fs->cbs->recv_done((struct nsock *)fs, fs->ctx, (int)n);
}

/* Its stream is used up (or the target stopped reading): end it. */
static void conn_end(struct run *r, struct conn *c)
{
	struct fsock *fs = c->fs;

	c->phase = PH_CLOSING;
	if (fs->closing)
		return;
	if (r->end_action != 2 && fs->rpending) {
		fs->rpending = false;
		fs->cbs->recv_done((struct nsock *)fs, fs->ctx,
				   r->end_action == 1 ? -ECONNRESET : 0);
		if (fs->closing)
			return;
	}
	tcp_qpair_disconnect(c->qp);
}

/* Feeding: 1 when something happened, 0 when waiting, -1 when fed and
 * quiet (the next connection may start, or this one may end). */
static int step_run(struct run *r, struct conn *c)
{
	struct fsock *fs = c->fs;
	bool held = r->hold_sends && c->off < c->len;

	if (fs->closing) {
		c->phase = PH_CLOSING;
		return 1;
	}
	if (fs->spending && !held && c->send_wait++ >= r->send_delay) {
		c->send_wait = 0;
		fs->spending = false;
		fs->cbs->send_done((struct nsock *)fs, fs->ctx, (int)fs->sbytes);
		c->idle = 0;
		return 1;
	}
	if (c->off < c->len && fs->rpending &&
	    (!r->sync || c->pdu_left ||
	     (!fs->spending && !c->qp->txq_head &&
	      (!c->qp->nr_in_core || c->idle >= SYNC_IDLE_STEPS)))) {
		deliver(r, c);
		c->idle = 0;
		return 1;
	}
	/* Stalled (no free slot, waiting for the core) or done feeding: let
	 * the core finish what it holds, within bounds (an AER stays). */
	if ((fs->spending && !held) ||
	    ((c->qp->nr_in_core || c->off < c->len) && c->idle < IDLE_STEPS)) {
		c->idle++;
		return 0;
	}
	return -1;
}

static int step_closing(struct conn *c)
{
	struct fsock *fs = c->fs;

	/* as the sock layer does: each pending operation completes once,
	 * then closed runs, then the sock is gone */
	if (fs->rpending) {
		fs->rpending = false;
		fs->cbs->recv_done((struct nsock *)fs, fs->ctx, -ECANCELED);
		return 1;
	}
	if (fs->spending) {
		fs->spending = false;
		fs->cbs->send_done((struct nsock *)fs, fs->ctx, -ECANCELED);
		return 1;
	}
	if (!fs->closing)
		return 0;	/* the target has not closed yet */
	c->fs = NULL;
	c->qp = NULL;		/* may be freed from here on */
	c->phase = PH_CLOSED;
	fs->cbs->closed((struct nsock *)fs, fs->ctx);
	free(fs);
	return 1;
}

/* Every connection closed: wait until the target let go of everything. */
static void step_wait_free(struct run *r)
{
	struct tcp_poll_group *pg = tcp_transport_poll_group(tcp, 0);
	struct nvmft_tgt *tgt = env.tgt;

	if (pg->stats.qpairs || tgt->nr_connections || tgt->nr_live_ctrlrs)
		return;
	/* nothing leaked by these connections */
	for (int k = TCP_REQ_FREE; k < TCP_REQ_NR_STATES; k++)
		if (pg->stats.req_states[k]) {
			fprintf(stderr, "%u requests left in state %s\n",
				pg->stats.req_states[k],
				tcp_req_state_name((enum tcp_req_state)k));
			abort();
		}
	FUZZ_CHECK(pg->nr_free_bufs == pg->stats.bufs_total);
	FUZZ_CHECK(TAILQ_EMPTY(&pg->buf_waiters));
	FUZZ_CHECK(TAILQ_EMPTY(&pg->qpairs));
	r->done = true;
	sem_post(&r->sem);
}

static void drive_run(struct run *r)
{
	bool all_closed = true, quiet = true;

	for (unsigned int i = 0; i < r->active; i++) {
		struct conn *c = &r->conns[i];
		int rc;

		switch (c->phase) {
		case PH_RUN:
			all_closed = false;
			if (!c->fs)	/* being placed on the poll group */
				quiet = false;
			else if ((rc = step_run(r, c)) >= 0)
				quiet = false;
			break;
		case PH_CLOSING:
			all_closed = false;
			quiet = false;
			step_closing(c);
			break;
		default:
			break;
		}
	}
	if (!quiet)
		return;
	/* Everything started is fed and quiet: the next connection, or the
	 * end (last connection first: an I/O queue before its admin queue). */
	if (r->active < r->nr_conns) {
		conn_start(r, &r->conns[r->active++]);
		return;
	}
	for (unsigned int i = r->active; i-- > 0;) {
		if (r->conns[i].phase == PH_RUN) {
			conn_end(r, &r->conns[i]);
			return;
		}
	}
	if (all_closed)
		step_wait_free(r);
}

static int drive(void *arg)
{
	struct run *r = cur;

	(void)arg;
	if (!r || r->done)
		return 0;
	if (++r->steps > MAX_STEPS) {
		for (unsigned int i = 0; i < r->active; i++) {
			struct conn *c = &r->conns[i];

			fprintf(stderr, "conn %u: phase %d, rx state %s, %zu of %zu bytes fed\n",
				i, c->phase, c->qp ? tcp_rx_state_name(c->qp->rx_state) : "-",
				c->off, c->len);
		}
		fprintf(stderr, "input stuck\n");
		abort();
	}
	drive_run(r);
	/* busy while an input runs: keep the reactor polling */
	return 1;
}

/* ---- set up, per input ------------------------------------------------------- */

static void setup_on_reactor(void *arg)
{
	(void)arg;
	tcp = nvmf_tgt_get_transport(env.tgt, "TCP");
	FUZZ_CHECK(tcp != NULL);
	tcp_transport_set_sock_ops(tcp, &fuzz_sock_ops);
	driver = nvmft_poller_register(drive, NULL, 0);
	FUZZ_CHECK(driver != NULL);
}

static void setup(void)
{
	static struct nvmft_transport_opts o;

	if (env.rt)
		return;
	trace = getenv("FUZZ_TRACE") != NULL;
	nvmft_transport_opts_init("TCP", &o);
	/* small everything: limits are reached with short inputs */
	o.max_queue_depth = 16;
	o.max_aq_depth = 8;
	o.in_capsule_data_size = 4096;
	o.io_unit_size = 4096;
	o.max_io_size = 16384;
	o.num_shared_buffers = 16;
	o.icreq_timeout_ms = 60000;
	env.transport = "TCP";
	env.topts = &o;
	fuzz_env_start(&env);
	fuzz_env_exec(&env, setup_on_reactor, NULL);
}

static void start_run(void *arg)
{
	struct run *r = arg;

	/* Controllers of every input get the same IDs (none is left over
	 * from the previous input), so an I/O queue's Connect in the
	 * corpus can name its controller: cntlid 1. */
	env.ss->next_cntlid = env.ss->min_cntlid;
	cur = r;
	conn_start(r, &r->conns[r->active++]);
}

static void end_run(void *arg)
{
	(void)arg;
	cur = NULL;
}

/* Cut the stream at the first separator: the rest goes to an I/O queue. */
static void split_stream(struct run *r, const uint8_t *d, size_t n)
{
	static const char sep[] = FUZZ_TCP_CONN_SEP;
	const size_t sl = sizeof(sep) - 1;
	const uint8_t *at = n >= sl ? memmem(d, n, sep, sl) : NULL;

	r->conns[0].data = d;
	r->conns[0].len = at ? (size_t)(at - d) : n;
	r->nr_conns = 1;
	if (at) {
		r->conns[1].data = at + sl;
		r->conns[1].len = n - r->conns[0].len - sl;
		r->nr_conns = 2;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run *r;
	uint8_t mode;

	if (size < 3)
		return 0;
	setup();
	r = calloc(1, sizeof(*r));
	FUZZ_CHECK(r != NULL);
	mode = data[0];
	r->end_action = mode & 3;
	r->send_delay = (mode >> 2) & 3;
	r->hold_sends = mode & 0x80;
	switch ((mode >> 4) & 7) {
	case 0:
		break;
	case 7:
		r->sync = true;
		break;
	default:
		r->chunk_max = 8u << (2 * (((mode >> 4) & 7) - 1));
		break;
	}
	r->rng = ((uint32_t)data[1] << 8 | data[2]) * 2654435761u | 1;
	split_stream(r, data + 3, size - 3);
	sem_init(&r->sem, 0, 0);
	fuzz_env_exec(&env, start_run, r);
	while (sem_wait(&r->sem) && errno == EINTR)
		;
	fuzz_env_exec(&env, end_run, NULL);
	sem_destroy(&r->sem);
	free(r);
	return 0;
}

static void cleanup_on_reactor(void *arg)
{
	(void)arg;
	nvmft_poller_unregister(&driver);
}

void fuzz_target_cleanup(void)
{
	if (!env.rt)
		return;
	fuzz_env_exec(&env, cleanup_on_reactor, NULL);
	fuzz_env_stop(&env);
}
