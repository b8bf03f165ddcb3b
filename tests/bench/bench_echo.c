/* SPDX-License-Identifier: MIT */
/*
 * Echo benchmark of the sock groups: io_uring against epoll.
 *
 * One reactor (pinned to CPU 0 when there are two CPUs) runs an echo
 * server in one sock group; clients are plain threads with blocking
 * sockets (pinned to CPU 1). Figures:
 *   sock.echo_rtt_per_s     64-byte round trips per second, 1 connection
 *   sock.echo_rtt16_per_s   64-byte round trips per second, 16 connections
 *                           driven in lock step by one thread
 *   sock.echo_mb_per_s      MB/s echoed with 128 KiB messages, 1 connection
 *                           (io_uring sends them zero-copy: >= 64 KiB)
 *   sock.echo_mb_per_s_nozc the same with zero-copy sends disabled
 * Engines alternate (uring, epoll, uring, ...), 3 rounds each; medians and
 * the uring/epoll ratio are printed. Bounded: ~25 s.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nvmft/runtime.h>
#include "sock/sock.h"

#define ROUNDS 3
#define RUN_MS 1000
#define SMALL 64
#define LARGE (128 * 1024)
#define MANY 16

enum metric { M_RTT, M_RTT16, M_MBPS, M_MBPS_NOZC, M_COUNT };

static const char *const metric_name[M_COUNT] = {
	"sock.echo_rtt_per_s", "sock.echo_rtt16_per_s", "sock.echo_mb_per_s",
	"sock.echo_mb_per_s_nozc",
};

struct srv {
	struct nvmft_runtime *rt;
	struct sock_group *g;
	struct sock_listener *l;
	uint16_t port;
	int rc;
	_Atomic unsigned int open;
	_Atomic unsigned int listener_closed;
};

struct conn {
	struct srv *srv;
	struct nsock *s;
	unsigned char buf[LARGE];
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void conn_recv(struct conn *c)
{
	if (nsock_recv(c->s, c->buf, sizeof(c->buf)))
		nsock_close(c->s);
}

static void on_recv(struct nsock *s, void *ctx, int res)
{
	struct conn *c = ctx;
	struct iovec iov = { c->buf, (size_t)res };

	if (res <= 0 || nsock_sendv(s, &iov, 1))
		nsock_close(s);
}

static void on_send(struct nsock *s, void *ctx, int res)
{
	if (res < 0)
		nsock_close(s);
	else
		conn_recv(ctx);
}

static void on_closed(struct nsock *s, void *ctx)
{
	struct conn *c = ctx;

	atomic_fetch_sub(&c->srv->open, 1);
	free(c);
}

static const struct nsock_cbs cbs = {
	.recv_done = on_recv, .send_done = on_send, .closed = on_closed,
};

static void on_accept(struct sock_listener *l, int fd,
		      const struct sockaddr *peer, socklen_t peer_len,
		      void *ctx)
{
	struct srv *srv = ctx;
	struct conn *c = malloc(sizeof(*c));

	if (!c || sock_attach(srv->g, fd, &cbs, c, &c->s)) {
		free(c);
		close(fd);
		return;
	}
	c->srv = srv;
	atomic_fetch_add(&srv->open, 1);
	conn_recv(c);
}

static void srv_start(void *arg)
{
	struct srv *srv = arg;

	srv->rc = sock_group_create(nvmft_get_thread(), &srv->g);
	if (srv->rc)
		return;
	srv->rc = sock_listen(srv->g, "127.0.0.1", 0, 64, on_accept, srv,
			      &srv->l);
	if (!srv->rc)
		srv->port = sock_listener_port(srv->l);
}

static void listener_closed(void *ctx)
{
	struct srv *srv = ctx;

	atomic_store(&srv->listener_closed, 1);
}

static void srv_close_listener(void *arg)
{
	struct srv *srv = arg;

	sock_listener_close(srv->l, listener_closed, srv);
}

static void srv_no_zc(void *arg)
{
	struct srv *srv = arg;

	sock_group_set_zc_threshold(srv->g, 0);
}

static void srv_destroy(void *arg)
{
	struct srv *srv = arg;

	srv->rc = sock_group_destroy(srv->g);
}

static void pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static int rw(int fd, void *buf, size_t len, bool wr)
{
	char *p = buf;

	while (len) {
		ssize_t n = wr ? send(fd, p, len, MSG_NOSIGNAL) :
				 recv(fd, p, len, 0);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

struct client {
	uint16_t port;
	enum metric m;
	int cpu;
	double result;
	int failed;
};

static void *client_thread(void *arg)
{
	struct client *cl = arg;
	int nr = cl->m == M_RTT16 ? MANY : 1;
	bool large = cl->m == M_MBPS || cl->m == M_MBPS_NOZC;
	size_t len = large ? LARGE : SMALL;
	unsigned char *out = calloc(1, len), *in = malloc(len);
	uint64_t trips = 0;
	int fd[MANY], i, opened = 0;
	double t0, t;

	if (cl->cpu >= 0)
		pin_self(cl->cpu);
	if (!out || !in)
		goto fail;
	for (i = 0; i < nr; i++, opened++) {
		struct timeval tv = { .tv_sec = 5 };

		fd[i] = sock_connect_blocking("127.0.0.1", cl->port);
		if (fd[i] < 0)
			goto fail;
		setsockopt(fd[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	t0 = now_s();
	do {
		/* Check the clock every 64 trips only. */
		for (int k = 0; k < 64; k++) {
			for (i = 0; i < nr; i++)
				if (rw(fd[i], out, len, true))
					goto fail;
			for (i = 0; i < nr; i++)
				if (rw(fd[i], in, len, false))
					goto fail;
			trips += (uint64_t)nr;
		}
		t = now_s() - t0;
	} while (t < RUN_MS / 1000.0);
	if (memcmp(in, out, len))
		goto fail;
	cl->result = large ? (double)trips * (double)len / t / 1e6 :
				       (double)trips / t;
	goto out;
fail:
	cl->failed = 1;
out:
	for (i = 0; i < opened; i++)
		close(fd[i]);
	free(out);
	free(in);
	return NULL;
}

static int wait_for(_Atomic unsigned int *v, unsigned int want)
{
	double end = now_s() + 10;

	while (atomic_load(v) != want) {
		if (now_s() > end)
			return -ETIMEDOUT;
		usleep(1000);
	}
	return 0;
}

/* One round of every metric on a fresh runtime of @engine. */
static int run_engine(enum nvmft_engine engine, bool two_cpus,
		      double res[M_COUNT])
{
	struct nvmft_runtime_opts o;
	struct srv srv = { 0 };
	int rc, m;

	nvmft_runtime_opts_init(&o);
	o.nr_reactors = 1;
	o.engine = engine;
	o.pin = two_cpus;
	o.cpus = two_cpus ? "0" : NULL;
	o.name = "bench";
	rc = nvmft_runtime_create(&o, &srv.rt);
	if (rc)
		return rc;
	nvmft_runtime_set_log(srv.rt, NVMFT_LOG_WARN, NULL, NULL);
	rc = nvmft_runtime_start(srv.rt);
	if (!rc)
		rc = nvmft_runtime_exec(srv.rt, 0, srv_start, &srv);
	if (!rc)
		rc = srv.rc;
	for (m = 0; !rc && m < M_COUNT; m++) {
		struct client cl = { .port = srv.port, .m = (enum metric)m,
				     .cpu = two_cpus ? 1 : -1 };
		pthread_t tid;

		if (m == M_MBPS_NOZC)
			nvmft_runtime_exec(srv.rt, 0, srv_no_zc, &srv);
		if (pthread_create(&tid, NULL, client_thread, &cl)) {
			rc = -EAGAIN;
			break;
		}
		pthread_join(tid, NULL);
		if (cl.failed)
			rc = -EIO;
		res[m] = cl.result;
	}
	if (srv.l) {
		nvmft_runtime_exec(srv.rt, 0, srv_close_listener, &srv);
		if (!wait_for(&srv.listener_closed, 1) &&
		    !wait_for(&srv.open, 0)) {
			nvmft_runtime_exec(srv.rt, 0, srv_destroy, &srv);
			if (!rc)
				rc = srv.rc;
		}
	}
	nvmft_runtime_stop(srv.rt);
	nvmft_runtime_destroy(srv.rt);
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

int main(void)
{
	double res[2][ROUNDS][M_COUNT] = { 0 };
	bool uring_ok = true;
	cpu_set_t set;
	bool two_cpus;
	int r, e, m, rc;

	sched_getaffinity(0, sizeof(set), &set);
	two_cpus = CPU_COUNT(&set) >= 2 && CPU_ISSET(0, &set) &&
		   CPU_ISSET(1, &set);
	printf("# echo bench: 1 reactor%s, %d ms per figure, %d rounds per "
	       "engine\n", two_cpus ? " on CPU 0, clients on CPU 1" : "",
	       RUN_MS, ROUNDS);
	for (r = 0; r < ROUNDS; r++) {
		for (e = 0; e < 2; e++) {
			enum nvmft_engine eng = e ? NVMFT_ENGINE_EPOLL :
						    NVMFT_ENGINE_URING;

			if (!e && !uring_ok)
				continue;
			rc = run_engine(eng, two_cpus, res[e][r]);
			if (rc && !e && r == 0 &&
			    (rc == -EPERM || rc == -ENOSYS)) {
				printf("# io_uring unavailable: epoll only\n");
				uring_ok = false;
				continue;
			}
			if (rc) {
				fprintf(stderr, "bench_echo: %s round %d: %s\n",
					nvmft_engine_name(eng), r,
					strerror(-rc));
				return 1;
			}
			printf("# round %d %-5s rtt %.0f/s rtt16 %.0f/s %.0f MB/s "
			       "(no zc %.0f MB/s)\n", r, nvmft_engine_name(eng),
			       res[e][r][M_RTT], res[e][r][M_RTT16],
			       res[e][r][M_MBPS], res[e][r][M_MBPS_NOZC]);
			fflush(stdout);
		}
	}
	for (m = 0; m < M_COUNT; m++) {
		double u[ROUNDS], p[ROUNDS], mu, mp;

		for (r = 0; r < ROUNDS; r++) {
			u[r] = res[0][r][m];
			p[r] = res[1][r][m];
		}
		mp = median(p, ROUNDS);
		if (!uring_ok) {
			printf("%s epoll %.0f\n", metric_name[m], mp);
			continue;
		}
		mu = median(u, ROUNDS);
		printf("%s uring %.0f epoll %.0f ratio %.2f\n", metric_name[m],
		       mu, mp, mp > 0 ? mu / mp : 0.0);
	}
	return 0;
}
