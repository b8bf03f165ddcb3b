/* SPDX-License-Identifier: MIT */
/*
 * Loopback limit: the NVMe/TCP traffic pattern with no NVMe work at all.
 *
 * A minimal io_uring server (one thread, pinned to CPU 0 when there are
 * two CPUs) answers fixed-size requests with fixed-size responses: by
 * default 72-byte requests (a CapsuleCmd) and 4120-byte responses (a
 * C2HData PDU with SUCCESS carrying 4 KiB), i.e. a 4 KiB random read. It
 * works the way the target does: one receive per connection into a
 * staging buffer, one gather sendmsg per connection per loop turn (header
 * from an arena, data by reference), SINGLE_ISSUER + DEFER_TASKRUN ring.
 * The client (pinned to CPU 1) keeps qd requests in flight per connection
 * with the pattern of nvmft-perf: busy polling, one recv into a large
 * buffer and one send of every request made that turn.
 *
 * The IOPS it reaches are what the kernel's TCP stack allows for that
 * pattern on this machine: the ceiling for the target's figures.
 *
 * Usage: bench_loopback [--qd N] [--conns N] [--seconds S] [--ramp S]
 *        [--req BYTES] [--rsp BYTES] [--server-cpu N] [--client-cpu N]
 *        [--json]
 * Without options: QD 1, 32 and 128 for 2 s each, a table.
 */
#include <errno.h>
#include <getopt.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SRV_RX		(256u * 1024)
#define CLI_RX		(256u * 1024)
#define HDR_LEN		24u		/* C2HData header / CapsuleResp */
#define ID_OFF		8u		/* where the request id travels */
#define MAX_QD		512u
#define MAX_CONNS	256u
#define RING_ENTRIES	1024u

/* ---- small log-linear histogram (ns) ------------------------------------- */

#define H_SUB_BITS	4
#define H_SUB		(1u << H_SUB_BITS)
#define H_BUCKETS	((40 - H_SUB_BITS + 2) * H_SUB)

struct hist {
	uint64_t count;
	uint64_t b[H_BUCKETS];
};

static unsigned int h_index(uint64_t v)
{
	unsigned int msb, shift;

	if (v < H_SUB)
		return (unsigned int)v;
	msb = 63 - (unsigned int)__builtin_clzll(v);
	if (msb > 40)
		return H_BUCKETS - 1;
	shift = msb - H_SUB_BITS;
	return (shift + 1) * H_SUB + (unsigned int)((v >> shift) & (H_SUB - 1));
}

static double h_quantile(const struct hist *h, double q)
{
	uint64_t want = (uint64_t)(q * (double)h->count), seen = 0;

	if (want < 1)
		want = 1;
	for (unsigned int i = 0; i < H_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			unsigned int shift;

			if (i < H_SUB)
				return i;
			shift = i / H_SUB - 1;
			return (double)(((uint64_t)(H_SUB + i % H_SUB) << shift) +
					(1ull << shift) / 2);
		}
	}
	return 0;
}

/* ---- common -------------------------------------------------------------- */

struct cfg {
	unsigned int qd;
	unsigned int conns;
	double seconds;
	double ramp;
	uint32_t req;
	uint32_t rsp;
	int server_cpu;
	int client_cpu;
	bool json;
};

enum phase { PH_RAMP, PH_MEASURE, PH_DONE };

struct shared {
	const struct cfg *cfg;
	int lfd;
	uint16_t port;
	_Atomic int phase;
	_Atomic int ready;
	/* server results */
	double srv_cpu_s;
	double srv_busy_s;
	int srv_rc;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* ---- server -------------------------------------------------------------- */

struct batch {
	struct iovec iov[2 * MAX_QD];
	int n;
	uint8_t hdr[MAX_QD * HDR_LEN];
	unsigned int nhdr;
	struct msghdr mh;
	size_t left;
};

struct sconn {
	int fd;
	bool dead;
	bool recv_busy;
	bool send_busy;
	uint8_t *rx;
	uint32_t tail;
	struct batch b[2];
	int fill;		/* batch being filled; the other may be in flight */
};

/* user_data: connection index << 1 | (1 = send) */
static int srv_post_recv(struct io_uring *ring, struct sconn *c, unsigned int i)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_recv(sqe, c->fd, c->rx + c->tail, SRV_RX - c->tail, 0);
	io_uring_sqe_set_data64(sqe, (uint64_t)i << 1);
	c->recv_busy = true;
	return 0;
}

static int srv_post_send(struct io_uring *ring, struct sconn *c, unsigned int i)
{
	struct batch *b = &c->b[c->fill ^ 1];
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_sendmsg(sqe, c->fd, &b->mh, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, (uint64_t)i << 1 | 1);
	c->send_busy = true;
	return 0;
}

static const uint8_t *srv_data(uint32_t len)
{
	static uint8_t data[1u << 20];

	return len <= sizeof(data) ? data : NULL;
}

/* Answer every whole request staged (a batch holds a whole queue depth). */
static void srv_parse(struct sconn *c, const struct cfg *cfg)
{
	struct batch *b = &c->b[c->fill];
	uint32_t off = 0;

	while (c->tail - off >= cfg->req && b->nhdr < MAX_QD) {
		uint8_t *h = b->hdr + b->nhdr++ * HDR_LEN;
		uint32_t hl = cfg->rsp < HDR_LEN ? cfg->rsp : HDR_LEN;

		memset(h, 0, HDR_LEN);
		memcpy(h + ID_OFF, c->rx + off + ID_OFF, 8);
		b->iov[b->n++] = (struct iovec){ h, hl };
		if (cfg->rsp > HDR_LEN)
			b->iov[b->n++] = (struct iovec){ (void *)srv_data(cfg->rsp - HDR_LEN),
							 cfg->rsp - HDR_LEN };
		b->left += cfg->rsp;
		off += cfg->req;
	}
	if (off) {
		memmove(c->rx, c->rx + off, c->tail - off);
		c->tail -= off;
	}
}

static void batch_reset(struct batch *b)
{
	b->n = 0;
	b->nhdr = 0;
	b->left = 0;
}

/* Drop @res sent bytes from the front of @b's iovecs. */
static void batch_advance(struct batch *b, size_t res)
{
	struct iovec *v = b->mh.msg_iov;
	size_t n = b->mh.msg_iovlen;

	b->left -= res;
	while (res && n) {
		if (res >= v->iov_len) {
			res -= v->iov_len;
			v++;
			n--;
		} else {
			v->iov_base = (uint8_t *)v->iov_base + res;
			v->iov_len -= res;
			res = 0;
		}
	}
	b->mh.msg_iov = v;
	b->mh.msg_iovlen = n;
}

static void srv_kick_send(struct io_uring *ring, struct sconn *c, unsigned int i)
{
	struct batch *b = &c->b[c->fill];

	if (c->send_busy || c->dead || !b->n)
		return;
	memset(&b->mh, 0, sizeof(b->mh));
	b->mh.msg_iov = b->iov;
	b->mh.msg_iovlen = (size_t)b->n;
	c->fill ^= 1;
	if (srv_post_send(ring, c, i))
		c->dead = true;
}

/* *@flagged: the kernel raises IORING_SQ_TASKRUN when completions wait. */
static int srv_ring_init(struct io_uring *ring, bool *flagged)
{
	struct io_uring_params p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_TASKRUN_FLAG;
	rc = io_uring_queue_init_params(RING_ENTRIES, ring, &p);
	*flagged = rc == 0;
	if (rc == -EINVAL) {
		memset(&p, 0, sizeof(p));
		rc = io_uring_queue_init_params(RING_ENTRIES, ring, &p);
	}
	return rc;
}

static void *server_main(void *arg)
{
	struct shared *sh = arg;
	const struct cfg *cfg = sh->cfg;
	struct sconn *conns;
	struct io_uring ring;
	unsigned int live = 0;
	double cpu0 = 0, busy = 0;
	int phase = PH_RAMP, rc;
	bool flagged;

	pin(cfg->server_cpu);
	conns = calloc(cfg->conns, sizeof(*conns));
	if (!conns) {
		sh->srv_rc = -ENOMEM;
		atomic_store(&sh->ready, -1);
		return NULL;
	}
	/* The ring belongs to this thread (SINGLE_ISSUER). */
	rc = srv_ring_init(&ring, &flagged);
	if (rc) {
		sh->srv_rc = rc;
		free(conns);
		atomic_store(&sh->ready, -1);
		return NULL;
	}
	atomic_store(&sh->ready, 1);
	for (unsigned int i = 0; i < cfg->conns; i++) {
		struct sconn *c = &conns[i];
		int one = 1;

		c->fd = accept(sh->lfd, NULL, NULL);
		c->rx = malloc(SRV_RX);
		if (c->fd < 0 || !c->rx) {
			sh->srv_rc = -errno;
			goto out;
		}
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		srv_post_recv(&ring, c, i);
		live++;
	}
	while (live) {
		struct io_uring_cqe *cqes[256];
		unsigned int n;
		uint64_t t0 = now_ns();
		int ph = atomic_load_explicit(&sh->phase, memory_order_relaxed);

		if (ph != phase) {
			if (ph == PH_MEASURE) {
				cpu0 = thread_cpu_s();
				busy = 0;
			} else if (ph == PH_DONE && phase == PH_MEASURE) {
				sh->srv_cpu_s = thread_cpu_s() - cpu0;
				sh->srv_busy_s = busy;
			}
			phase = ph;
		}
		/* Enter the kernel only with SQEs to submit or completions
		 * waiting as deferred task work (as the target's reactor
		 * does): an idle spin is a memory read, not a syscall. */
		if (!flagged || io_uring_sq_ready(&ring) ||
		    (IO_URING_READ_ONCE(*ring.sq.kflags) &
		     (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)))
			io_uring_submit_and_get_events(&ring);
		n = io_uring_peek_batch_cqe(&ring, cqes, 256);
		for (unsigned int k = 0; k < n; k++) {
			uint64_t ud = io_uring_cqe_get_data64(cqes[k]);
			unsigned int i = (unsigned int)(ud >> 1);
			struct sconn *c = &conns[i];
			int res = cqes[k]->res;

			if (!(ud & 1)) {
				c->recv_busy = false;
				if (res <= 0) {
					if (!c->dead)
						live--;
					c->dead = true;
					continue;
				}
				c->tail += (uint32_t)res;
				srv_parse(c, cfg);
				if (!c->dead && srv_post_recv(&ring, c, i))
					c->dead = true;
				continue;
			}
			/* send */
			struct batch *b = &c->b[c->fill ^ 1];

			if (res <= 0) {
				c->send_busy = false;
				continue;
			}
			if ((size_t)res < b->left) {
				batch_advance(b, (size_t)res);
				srv_post_send(&ring, c, i);
				continue;
			}
			c->send_busy = false;
			batch_reset(b);
		}
		io_uring_cq_advance(&ring, n);
		for (unsigned int i = 0; i < cfg->conns; i++)
			srv_kick_send(&ring, &conns[i], i);
		if (n && phase == PH_MEASURE)
			busy += (double)(now_ns() - t0) / 1e9;
	}
	if (phase == PH_MEASURE) {
		sh->srv_cpu_s = thread_cpu_s() - cpu0;
		sh->srv_busy_s = busy;
	}
out:
	io_uring_queue_exit(&ring);
	for (unsigned int i = 0; i < cfg->conns; i++) {
		if (conns[i].fd > 0)
			close(conns[i].fd);
		free(conns[i].rx);
	}
	free(conns);
	return NULL;
}

/* ---- client -------------------------------------------------------------- */

struct cconn {
	int fd;
	uint8_t *rx;
	uint32_t tail;
	uint8_t *tx;
	uint32_t tx_off;
	uint32_t tx_len;
	uint64_t submit[MAX_QD];
};

struct result {
	double secs;
	uint64_t ios;
	struct hist h;
	double cli_cpu_s;
};

static void cli_issue(struct cconn *c, const struct cfg *cfg, const uint8_t *tmpl,
		      uint64_t id)
{
	uint8_t *p = c->tx + c->tx_len;

	memcpy(p, tmpl, cfg->req);
	memcpy(p + ID_OFF, &id, 8);
	c->tx_len += cfg->req;
	c->submit[id] = now_ns();
}

static int cli_flush(struct cconn *c)
{
	while (c->tx_off < c->tx_len) {
		ssize_t r = send(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r < 0)
			return errno == EAGAIN ? 0 : -errno;
		c->tx_off += (uint32_t)r;
	}
	c->tx_off = c->tx_len = 0;
	return 0;
}

static int run_client(struct shared *sh, struct cconn *cs, struct result *res)
{
	const struct cfg *cfg = sh->cfg;
	uint8_t *tmpl = calloc(1, cfg->req);
	uint64_t t_start, t_meas = 0, t_end;
	bool measuring = false;
	double cpu0 = 0;
	int rc = 0;

	if (!tmpl)
		return -ENOMEM;
	pin(cfg->client_cpu);
	memset(tmpl, 0x5a, cfg->req);
	for (unsigned int i = 0; i < cfg->conns; i++)
		for (uint64_t id = 0; id < cfg->qd; id++)
			cli_issue(&cs[i], cfg, tmpl, id);
	t_start = now_ns();
	t_end = t_start + (uint64_t)((cfg->ramp + cfg->seconds) * 1e9);
	for (;;) {
		uint64_t now = now_ns();

		if (!measuring && now >= t_start + (uint64_t)(cfg->ramp * 1e9)) {
			measuring = true;
			t_meas = now;
			cpu0 = thread_cpu_s();
			atomic_store(&sh->phase, PH_MEASURE);
		}
		if (now >= t_end)
			break;
		for (unsigned int i = 0; i < cfg->conns && !rc; i++) {
			struct cconn *c = &cs[i];
			ssize_t r;
			uint32_t off = 0;

			rc = cli_flush(c);
			if (rc)
				break;
			r = recv(c->fd, c->rx + c->tail, CLI_RX - c->tail, MSG_DONTWAIT);
			if (r == 0 || (r < 0 && errno != EAGAIN)) {
				rc = r ? -errno : -ECONNRESET;
				break;
			}
			if (r < 0)
				continue;
			c->tail += (uint32_t)r;
			now = now_ns();
			while (c->tail - off >= cfg->rsp) {
				uint64_t id;

				memcpy(&id, c->rx + off + ID_OFF, 8);
				off += cfg->rsp;
				if (id >= cfg->qd) {
					rc = -EPROTO;
					break;
				}
				if (measuring) {
					res->h.b[h_index(now - c->submit[id])]++;
					res->h.count++;
					res->ios++;
				}
				cli_issue(c, cfg, tmpl, id);
			}
			memmove(c->rx, c->rx + off, c->tail - off);
			c->tail -= off;
			rc = cli_flush(c);
		}
		if (rc)
			break;
	}
	res->cli_cpu_s = thread_cpu_s() - cpu0;
	res->secs = (double)(now_ns() - t_meas) / 1e9;
	atomic_store(&sh->phase, PH_DONE);
	free(tmpl);
	return rc;
}

static int run_one(const struct cfg *cfg, struct result *res, struct shared *sh)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	struct cconn *cs;
	pthread_t srv;
	int rc = 0, one = 1;

	memset(res, 0, sizeof(*res));
	memset(sh, 0, sizeof(*sh));
	sh->cfg = cfg;
	sh->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sh->lfd < 0 || bind(sh->lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(sh->lfd, (int)cfg->conns) ||
	    getsockname(sh->lfd, (struct sockaddr *)&sa, &sl))
		return -errno;
	cs = calloc(cfg->conns, sizeof(*cs));
	if (!cs) {
		close(sh->lfd);
		return -ENOMEM;
	}
	if (pthread_create(&srv, NULL, server_main, sh)) {
		free(cs);
		close(sh->lfd);
		return -EAGAIN;
	}
	while (!atomic_load(&sh->ready))
		usleep(1000);
	for (unsigned int i = 0; i < cfg->conns; i++) {
		struct cconn *c = &cs[i];

		c->rx = malloc(CLI_RX);
		c->tx = malloc((size_t)cfg->qd * cfg->req);
		c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (!c->rx || !c->tx || c->fd < 0 ||
		    connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
			rc = -errno;
			break;
		}
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (!rc && atomic_load(&sh->ready) > 0)
		rc = run_client(sh, cs, res);
	atomic_store(&sh->phase, PH_DONE);
	for (unsigned int i = 0; i < cfg->conns; i++) {
		if (cs[i].fd > 0)
			shutdown(cs[i].fd, SHUT_RDWR);
	}
	/* Unblock an accept that never got its connection. */
	shutdown(sh->lfd, SHUT_RDWR);
	pthread_join(srv, NULL);
	for (unsigned int i = 0; i < cfg->conns; i++) {
		if (cs[i].fd > 0)
			close(cs[i].fd);
		free(cs[i].rx);
		free(cs[i].tx);
	}
	free(cs);
	close(sh->lfd);
	if (!rc && sh->srv_rc)
		rc = sh->srv_rc;
	return rc;
}

static void print_result(const struct cfg *cfg, const struct result *r,
			 const struct shared *sh)
{
	double iops = r->secs > 0 ? (double)r->ios / r->secs : 0;
	double mib = iops * (double)(cfg->rsp > cfg->req ? cfg->rsp : cfg->req) /
		     (1024.0 * 1024.0);

	if (cfg->json) {
		printf("{\"qd\":%u,\"connections\":%u,\"req\":%u,\"rsp\":%u,\"seconds\":%.3f,"
		       "\"ios\":%llu,\"iops\":%.1f,\"mib_s\":%.2f,"
		       "\"lat_us\":{\"p50\":%.2f,\"p99\":%.2f,\"p99_9\":%.2f},"
		       "\"server_cpu_pct\":%.1f,\"server_busy_pct\":%.1f,"
		       "\"client_cpu_pct\":%.1f}\n",
		       cfg->qd, cfg->conns, cfg->req, cfg->rsp, r->secs,
		       (unsigned long long)r->ios, iops, mib,
		       h_quantile(&r->h, 0.5) / 1e3, h_quantile(&r->h, 0.99) / 1e3,
		       h_quantile(&r->h, 0.999) / 1e3,
		       100.0 * sh->srv_cpu_s / r->secs, 100.0 * sh->srv_busy_s / r->secs,
		       100.0 * r->cli_cpu_s / r->secs);
		return;
	}
	printf("loopback qd %-4u conns %-3u req %-5u rsp %-6u %9.0f ops/s  p50 %7.1f us  "
	       "p99 %7.1f us  server CPU %5.1f%% (busy %5.1f%%)  client CPU %5.1f%%\n",
	       cfg->qd, cfg->conns, cfg->req, cfg->rsp, iops,
	       h_quantile(&r->h, 0.5) / 1e3, h_quantile(&r->h, 0.99) / 1e3,
	       100.0 * sh->srv_cpu_s / r->secs, 100.0 * sh->srv_busy_s / r->secs,
	       100.0 * r->cli_cpu_s / r->secs);
	fflush(stdout);
}

static int parse_num(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "qd", required_argument, NULL, 'q' },
		{ "conns", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 'T' },
		{ "ramp", required_argument, NULL, 'r' },
		{ "req", required_argument, NULL, 'Q' },
		{ "rsp", required_argument, NULL, 'R' },
		{ "server-cpu", required_argument, NULL, 's' },
		{ "client-cpu", required_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct cfg cfg = {
		.qd = 32, .conns = 1, .seconds = 2, .ramp = 0.5, .req = 72,
		.rsp = HDR_LEN + 4096, .server_cpu = 0, .client_cpu = ncpu > 1 ? 1 : 0,
	};
	struct shared sh;
	struct result r;
	bool table = argc == 1;
	int opt, rc;
	double v;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		bool bad = false;

		switch (opt) {
		case 'q': bad = parse_num(optarg, 1, MAX_QD, &v); cfg.qd = (unsigned int)v; break;
		case 'c': bad = parse_num(optarg, 1, MAX_CONNS, &v); cfg.conns = (unsigned int)v; break;
		case 'T': bad = parse_num(optarg, 0.1, 3600, &cfg.seconds); break;
		case 'r': bad = parse_num(optarg, 0, 3600, &cfg.ramp); break;
		case 'Q': bad = parse_num(optarg, 16, 1 << 20, &v); cfg.req = (uint32_t)v; break;
		case 'R': bad = parse_num(optarg, 16, 1 << 20, &v); cfg.rsp = (uint32_t)v; break;
		case 's': bad = parse_num(optarg, -1, 4095, &v); cfg.server_cpu = (int)v; break;
		case 'C': bad = parse_num(optarg, -1, 4095, &v); cfg.client_cpu = (int)v; break;
		case 'j': cfg.json = true; break;
		default: bad = true; break;
		}
		if (bad) {
			fprintf(stderr, "usage: bench_loopback [--qd N] [--conns N] [--seconds S] "
				"[--ramp S] [--req B] [--rsp B] [--server-cpu N] [--client-cpu N] "
				"[--json]\n");
			return 2;
		}
	}
	if (!table) {
		rc = run_one(&cfg, &r, &sh);
		if (rc) {
			fprintf(stderr, "bench_loopback: %s\n", strerror(-rc));
			return 1;
		}
		print_result(&cfg, &r, &sh);
		return 0;
	}
	printf("loopback limit: io_uring server (CPU %d) answering 72-byte requests with "
	       "4120-byte responses, no NVMe work; client on CPU %d\n",
	       cfg.server_cpu, cfg.client_cpu);
	for (unsigned int i = 0; i < 3; i++) {
		static const unsigned int qds[] = { 1, 32, 128 };

		cfg.qd = qds[i];
		rc = run_one(&cfg, &r, &sh);
		if (rc) {
			fprintf(stderr, "bench_loopback: qd %u: %s\n", cfg.qd, strerror(-rc));
			return 1;
		}
		print_result(&cfg, &r, &sh);
	}
	return 0;
}
