/* SPDX-License-Identifier: MIT */
/*
 * Sock groups under load: hundreds of concurrent echo connections, large
 * gather sends that go out in many partial pieces (plain and zero-copy),
 * every byte verified. Both engines, 127.0.0.1 and ::1; every wait bounded.
 */
#include "test_sock_harness.h"

#define MANY_THREADS 8
#define MANY_PER_THREAD 25		/* 200 connections */
#define MANY_ROUNDS 50
#define MANY_MAX_LEN 16384

struct many_client {
	const struct variant *v;
	uint16_t port;
	unsigned int nr_conns;
	unsigned int rounds;
	size_t max_len;
	uint32_t seed;
	_Atomic unsigned int *failures;
	_Atomic unsigned int *round_trips;
};

static void *many_client_thread(void *arg)
{
	struct many_client *mc = arg;
	unsigned char *out, *in;
	size_t len[MANY_PER_THREAD];
	int fd[MANY_PER_THREAD];
	unsigned int i, r, opened = 0;
	uint32_t seed = mc->seed;
	size_t k;

	out = malloc(mc->nr_conns * mc->max_len);
	in = malloc(mc->max_len);
	if (!out || !in)
		goto fail;
	for (i = 0; i < mc->nr_conns; i++, opened++) {
		fd[i] = h_connect(mc->v, mc->port);
		if (fd[i] < 0)
			goto fail;
	}
	/* Lock-step rounds: a message on every connection, then every echo
	 * back, so all connections are busy at the same time. */
	for (r = 0; r < mc->rounds; r++) {
		for (i = 0; i < mc->nr_conns; i++) {
			unsigned char *o = out + i * mc->max_len;

			len[i] = 1 + (size_t)rand_r(&seed) % mc->max_len;
			for (k = 0; k < len[i]; k++)
				o[k] = h_pat(seed + i, k);
			if (h_write_all(fd[i], o, len[i]))
				goto fail;
		}
		for (i = 0; i < mc->nr_conns; i++) {
			if (h_read_all(fd[i], in, len[i]) ||
			    memcmp(in, out + i * mc->max_len, len[i]))
				goto fail;
			atomic_fetch_add(mc->round_trips, 1);
		}
	}
	goto out;
fail:
	atomic_fetch_add(mc->failures, 1);
out:
	for (i = 0; i < opened; i++)
		close(fd[i]);
	free(out);
	free(in);
	return NULL;
}

static void run_many_clients(const struct variant *v, uint16_t port,
			     unsigned int threads, unsigned int per_thread,
			     unsigned int rounds, size_t max_len)
{
	struct many_client mc[MANY_THREADS];
	pthread_t tid[MANY_THREADS];
	_Atomic unsigned int failures = 0, round_trips = 0;
	unsigned int i;

	assert_true(threads <= MANY_THREADS && per_thread <= MANY_PER_THREAD);
	for (i = 0; i < threads; i++) {
		mc[i] = (struct many_client){
			.v = v, .port = port, .nr_conns = per_thread,
			.rounds = rounds, .max_len = max_len,
			.seed = 1000 + i, .failures = &failures,
			.round_trips = &round_trips,
		};
		assert_int_equal(pthread_create(&tid[i], NULL,
						many_client_thread, &mc[i]), 0);
	}
	for (i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	assert_int_equal(atomic_load(&failures), 0);
	assert_int_equal(atomic_load(&round_trips),
			 threads * per_thread * rounds);
}

static void many_clients_echo_random_sizes(const struct variant *v)
{
	struct echo_srv srv;
	struct h h;

	h_start(&h, v, 1);
	echo_init(&srv);
	echo_start(&srv, &h, 1);
	run_many_clients(v, srv.port, MANY_THREADS, MANY_PER_THREAD,
			 MANY_ROUNDS, MANY_MAX_LEN);
	assert_true(echo_wait_idle(&srv, MANY_THREADS * MANY_PER_THREAD));
	echo_stop(&srv);
	assert_int_equal(srv.stats[0].accepted, MANY_THREADS * MANY_PER_THREAD);
	assert_true(srv.stats[0].sends >=
		    MANY_THREADS * MANY_PER_THREAD * MANY_ROUNDS);
	h_stop(&h);
}
DEFINE_VARIANTS(many_clients_echo_random_sizes)

/* Every echo goes out zero-copy on io_uring (threshold 1 byte). */
static void echo_with_zero_copy_threshold_one_byte(const struct variant *v)
{
	struct echo_srv srv;
	struct h h;

	h_start(&h, v, 1);
	echo_init(&srv);
	srv.zc_threshold = 1;
	echo_start(&srv, &h, 1);
	run_many_clients(v, srv.port, 4, 5, 40, 3 * ECHO_BUF / 2);
	assert_true(echo_wait_idle(&srv, 20));
	echo_stop(&srv);
	if (v->engine == NVMFT_ENGINE_URING && srv.zc_supported)
		assert_true(srv.stats[0].zc_sends >= 800);
	else
		assert_int_equal(srv.stats[0].zc_sends, 0);
	h_stop(&h);
}
DEFINE_VARIANTS(echo_with_zero_copy_threshold_one_byte)

#define LARGE_LEN (4u << 20)
#define LARGE_CHUNK 16384

/* 4 MiB in 7 uneven iovecs through a 16 KiB send buffer to a client with
 * a small receive window that reads slowly: the send completes in many
 * partial pieces and send_done must still report every byte, once. */
static void large_gather_send(const struct variant *v, size_t zc_threshold)
{
	unsigned char *in = malloc(LARGE_CHUNK);
	struct echo_srv srv;
	int rcvbuf = 32768;
	size_t got = 0, i;
	unsigned int chunks = 0;
	struct h h;
	int fd;

	assert_non_null(in);
	h_start(&h, v, 1);
	echo_init(&srv);
	srv.blast = true;
	srv.blast_len = LARGE_LEN;
	srv.blast_iovs = 7;
	srv.blast_buf = malloc(LARGE_LEN);
	assert_non_null(srv.blast_buf);
	for (i = 0; i < LARGE_LEN; i++)
		srv.blast_buf[i] = h_pat(99, i);
	srv.sndbuf = 16384;
	srv.zc_threshold = zc_threshold;
	echo_start(&srv, &h, 1);
	fd = h_connect(v, srv.port);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	while (got < LARGE_LEN) {
		ssize_t n = recv(fd, in, LARGE_CHUNK, 0);

		/* A stop/continue of the process (a frozen machine) makes a
		 * recv with SO_RCVTIMEO fail with EINTR: not the server's doing. */
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			print_error("recv after %zu of %u bytes: %zd (%s)\n",
				    got, LARGE_LEN, n, n ? strerror(errno) : "EOF");
		assert_true(n > 0);
		for (i = 0; i < (size_t)n; i++)
			if (in[i] != h_pat(99, got + i))
				break;
		assert_int_equal(i, (size_t)n);
		got += (size_t)n;
		/* Slow reader: short naps, and a few long stalls. */
		if (++chunks % 64 == 0)
			usleep(20 * 1000);
		else
			usleep(100);
	}
	assert_true(WAIT_FOR(atomic_load(&srv.blast_done) == 1, H_WAIT_MS));
	assert_int_equal(atomic_load(&srv.last_send_res), LARGE_LEN);
	close(fd);
	assert_true(echo_wait_idle(&srv, 1));
	echo_stop(&srv);
	assert_true(srv.stats[0].partial_sends > 0);
	assert_int_equal(srv.stats[0].sends, 1);
	if (v->engine == NVMFT_ENGINE_URING && zc_threshold &&
	    !srv.zc_supported)
		print_message("note: kernel without SENDMSG_ZC, plain path\n");
	if (v->engine == NVMFT_ENGINE_URING && zc_threshold &&
	    srv.zc_supported)
		assert_true(srv.stats[0].zc_sends > 1);
	else
		assert_int_equal(srv.stats[0].zc_sends, 0);
	free(srv.blast_buf);
	free(in);
	h_stop(&h);
}

static void large_gather_send_goes_partial_plain(const struct variant *v)
{
	large_gather_send(v, 0);
}
DEFINE_VARIANTS(large_gather_send_goes_partial_plain)

static void large_gather_send_goes_partial_zero_copy(const struct variant *v)
{
	large_gather_send(v, 4096);
}
DEFINE_VARIANTS(large_gather_send_goes_partial_zero_copy)

int main(void)
{
	const struct CMUnitTest tests[] = {
		VARIANT_TESTS(many_clients_echo_random_sizes),
		VARIANT_TESTS(echo_with_zero_copy_threshold_one_byte),
		VARIANT_TESTS(large_gather_send_goes_partial_plain),
		VARIANT_TESTS(large_gather_send_goes_partial_zero_copy),
	};

	return cmocka_run_group_tests_name("sock_stress", tests, NULL, NULL);
}
