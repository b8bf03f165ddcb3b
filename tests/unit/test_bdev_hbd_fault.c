// SPDX-License-Identifier: MIT
/*
 * hbd backend under faults, with a real nbdkit: the server killed and
 * restarted (pool DOWN → path status and availability events → pool UP,
 * volumes resume, acknowledged writes intact), injected errors (error
 * filter), slow and stalled servers (delay filter), a connection dropped
 * with I/O in flight, and an export that can no longer be opened.
 */
#include "test_bdev_hbd_harness.h"

#define SC_READ_ERROR	NVMFT_STATUS(NVME_SCT_MEDIA, NVME_SC_READ_ERROR)
#define SC_WRITE_FAULT	NVMFT_STATUS(NVME_SCT_MEDIA, NVME_SC_WRITE_FAULT)
#define SC_CAP_EXCEEDED	(NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_CAP_EXCEEDED) | \
			 NVMFT_STATUS_DNR)

static struct nvmft_bdev *bring_up(struct hb *t, const char *const *filters,
				   const char *const *params,
				   const struct nvmft_hbd_pool_opts *o)
{
	struct nvmft_bdev *bdev = NULL;

	t->srv.filters = filters;
	t->srv.params = params;
	hb_srv_add_volume(&t->srv, "vol0", HB_VOL_SIZE);
	hb_srv_start(&t->srv);
	t->pool = hb_pool(t, "pool0", t->srv.uri, o);
	assert_true(hb_wait_state(t->pool, NVMFT_HBD_POOL_UP, 5000));
	assert_int_equal(hb_volume(t, t->pool, "vol0", "hbd0", &bdev), 0);
	return bdev;
}

static bool wait_media_events(struct h_desc *d, int n, int ms)
{
	for (int i = 0; i < ms / 5 && d->events[NVMFT_BDEV_EVENT_MEDIA] < n; i++)
		usleep(5000);
	return d->events[NVMFT_BDEV_EVENT_MEDIA] >= n;
}

static void pool_down_fails_io_with_path_status_and_reports_it(void **state)
{
	struct hb *t = *state;
	uint8_t *buf = malloc(4 * HB_BS);
	struct nvmft_hbd_volume_stats st;
	struct nvmft_bdev *bdev;
	struct hb_vol *v;

	bdev = bring_up(t, NULL, NULL, NULL);
	v = hb_vol_open(t, "hbd0");
	hb_fill(buf, 4 * HB_BS, 1);
	assert_int_equal(hb_io(t, 0, &v->d, v->ch[0], NVMFT_IO_WRITE, 0, 0, 4, buf), 0);

	hb_srv_kill(&t->srv);
	assert_true(hb_wait_state(t->pool, NVMFT_HBD_POOL_DOWN, 5000));
	assert_true(wait_media_events(&v->d, 1, 5000));
	assert_false(nvmft_bdev_is_available(bdev));
	/* Both reactors fail fast with the status multipath hosts fail over on. */
	assert_int_equal(hb_io(t, 0, &v->d, v->ch[0], NVMFT_IO_READ, 0, 0, 4, buf), SC_PATH);
	assert_int_equal(hb_io(t, 1, &v->d, v->ch[1], NVMFT_IO_WRITE, 0, 0, 4, buf), SC_PATH);
	assert_int_equal(hb_io(t, 1, &v->d, v->ch[1], NVMFT_IO_FLUSH, 0, 0, 0, NULL), SC_PATH);
	assert_int_equal(nvmft_hbd_volume_get_stats(bdev, &st), 0);
	assert_true(st.path_failures >= 3);
	free(buf);
}

/* Writes started together on both reactors, some of which meet the fault. */
#define LOAD_WRITES	64
#define LOAD_BLOCKS	8

static void pool_down_and_up_under_load_loses_no_acknowledged_write(void **state)
{
	struct hb *t = *state;
	struct h_io *ios = calloc(LOAD_WRITES, sizeof(*ios));
	struct iovec *iov = calloc(LOAD_WRITES, sizeof(*iov));
	uint8_t *data = malloc(LOAD_WRITES * LOAD_BLOCKS * HB_BS);
	uint8_t *r = malloc(LOAD_BLOCKS * HB_BS);
	struct nvmft_bdev *bdev;
	int acked = 0, failed = 0;
	struct hb_vol *v;

	bdev = bring_up(t, NULL, NULL, NULL);
	v = hb_vol_open(t, "hbd0");
	for (int i = 0; i < LOAD_WRITES; i++) {
		uint8_t *p = data + (size_t)i * LOAD_BLOCKS * HB_BS;
		unsigned int idx = (unsigned int)i & 1;

		hb_fill(p, LOAD_BLOCKS * HB_BS, 100 + (uint32_t)i);
		iov[i] = (struct iovec){ p, LOAD_BLOCKS * HB_BS };
		h_io_init(&ios[i], &v->d, v->ch[idx], NVMFT_IO_WRITE,
			  (uint64_t)i * LOAD_BLOCKS, LOAD_BLOCKS, &iov[i], 1);
		assert_int_equal(h_io_start(&t->h, idx, &ios[i]), 0);
		/* The fault lands in the middle of the stream. */
		if (i == LOAD_WRITES / 2)
			hb_srv_kill(&t->srv);
	}
	for (int i = 0; i < LOAD_WRITES; i++) {
		uint16_t st = h_io_wait(&ios[i]);

		/* Either done, or failed with the retryable path status. */
		assert_true(st == 0 || st == SC_PATH);
		ios[i].status = st;
		if (st == 0)
			acked++;
		else
			failed++;
	}
	assert_true(acked > 0);
	assert_true(failed > 0);
	assert_true(hb_wait_state(t->pool, NVMFT_HBD_POOL_DOWN, 5000));
	assert_true(wait_media_events(&v->d, 1, 5000));

	/* Same socket, same files: the volumes resume by themselves. */
	hb_srv_start(&t->srv);
	assert_true(hb_wait_state(t->pool, NVMFT_HBD_POOL_UP, 5000));
	assert_true(wait_media_events(&v->d, 2, 5000));
	assert_true(nvmft_bdev_is_available(bdev));
	for (int i = 0; i < LOAD_WRITES; i++) {
		unsigned int idx = 1 - ((unsigned int)i & 1);
		uint16_t st = SC_PATH;

		if (ios[i].status)
			continue;
		/* The channel reconnects after a backoff: allow it a moment. */
		for (int k = 0; k < 200 && st == SC_PATH; k++) {
			st = hb_io(t, idx, &v->d, v->ch[idx], NVMFT_IO_READ, 0,
				   (uint64_t)i * LOAD_BLOCKS, LOAD_BLOCKS, r);
			if (st == SC_PATH)
				usleep(10000);
		}
		assert_int_equal(st, 0);
		assert_memory_equal(r, data + (size_t)i * LOAD_BLOCKS * HB_BS,
				    LOAD_BLOCKS * HB_BS);
	}
	/* New writes work from both reactors again, at the first attempt. */
	for (unsigned int idx = 0; idx < 2; idx++)
		assert_int_equal(hb_io(t, idx, &v->d, v->ch[idx], NVMFT_IO_WRITE, 0,
				       0, LOAD_BLOCKS, data), 0);
	free(ios);
	free(iov);
	free(data);
	free(r);
}

static void injected_errors_map_to_media_statuses_and_serving_goes_on(void **state)
{
	static const char *const filters[] = { "--filter=error", NULL };
	struct hb *t = *state;
	char file[128], wfile[128];
	const char *params[] = { "error=EIO", "error-rate=100%", file,
				 "error-pwrite=ENOSPC", "error-pwrite-rate=100%",
				 wfile, NULL };
	uint8_t *w = malloc(4 * HB_BS), *r = malloc(4 * HB_BS);
	struct nvmft_hbd_volume_stats st;
	struct nvmft_bdev *bdev;
	struct hb_vol *v;
	int fd;

	snprintf(file, sizeof(file), "error-file=%s", t->srv.inject);
	snprintf(wfile, sizeof(wfile), "error-pwrite-file=%s", t->srv.inject);
	bdev = bring_up(t, filters, params, NULL);
	v = hb_vol_open(t, "hbd0");
	hb_fill(w, 4 * HB_BS, 4);
	assert_int_equal(hb_io(t, 0, &v->d, v->ch[0], NVMFT_IO_WRITE, 0, 40, 4, w), 0);

	fd = open(t->srv.inject, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(hb_io(t, 1, &v->d, v->ch[1], NVMFT_IO_READ, 0, 40, 4, r),
			 SC_READ_ERROR);
	assert_int_equal(hb_io(t, 0, &v->d, v->ch[0], NVMFT_IO_WRITE, 0, 40, 4, r),
			 SC_CAP_EXCEEDED);
	/* (The error filter does not fail flushes.) */
	assert_int_equal(hb_io(t, 0, &v->d, v->ch[0], NVMFT_IO_WRITE_ZEROES, 0,
			       40, 4, NULL), SC_WRITE_FAULT);
	assert_int_equal(hb_io(t, 1, &v->d, v->ch[1], NVMFT_IO_UNMAP, 0, 40, 4, NULL),
			 SC_WRITE_FAULT);
	unlink(t->srv.inject);

	/* Same connections, same pool state: only those commands failed. */
	memset(r, 0, 4 * HB_BS);
	assert_int_equal(hb_io(t, 1, &v->d, v->ch[1], NVMFT_IO_READ, 0, 40, 4, r), 0);
	assert_memory_equal(w, r, 4 * HB_BS);
	assert_int_equal(nvmft_hbd_pool_get_state(t->pool), NVMFT_HBD_POOL_UP);
	assert_true(nvmft_bdev_is_available(bdev));
	assert_int_equal(nvmft_hbd_volume_get_stats(bdev, &st), 0);
	assert_int_equal(st.drops, 0);
	assert_int_equal(st.path_failures, 0);
	free(w);
	free(r);
}

struct ping {
	_Atomic bool ran;
};

static void ping_fn(void *arg)
{
	((struct ping *)arg)->ran = true;
}

static void slow_server_never_blocks_a_reactor(void **state)
{
	static const char *const filters[] = { "--filter=delay", NULL };
	static const char *const params[] = { "delay-read=1500ms", NULL };
	struct hb *t = *state;
	uint8_t *buf[2] = { malloc(4 * HB_BS), malloc(4 * HB_BS) };
	struct iovec iov[2];
	struct h_io io[2];
	struct hb_vol *v;

	bring_up(t, filters, params, NULL);
	v = hb_vol_open(t, "hbd0");
	for (unsigned int i = 0; i < 2; i++) {
		iov[i] = (struct iovec){ buf[i], 4 * HB_BS };
		h_io_init(&io[i], &v->d, v->ch[i], NVMFT_IO_READ, 0, 4, &iov[i], 1);
		assert_int_equal(h_io_start(&t->h, i, &io[i]), 0);
	}
	/* Each reactor runs a message while its read waits on the server. */
	for (unsigned int i = 0; i < 2; i++) {
		struct ping p = { 0 };

		h_run(&t->h, i, ping_fn, &p);
		assert_true(p.ran);
		assert_int_equal(io[i].completions, 0);
	}
	for (unsigned int i = 0; i < 2; i++)
		assert_int_equal(h_io_wait(&io[i]), 0);
	free(buf[0]);
	free(buf[1]);
}

static void slow_volume_open_runs_off_the_reactors(void **state)
{
	static const char *const filters[] = { "--filter=delay", NULL };
	static const char *const params[] = { "delay-open=1000ms", NULL };
	struct hb *t = *state;
	struct hb_vol_op op = { 0 };
	struct ping p = { 0 };

	t->srv.filters = filters;
	t->srv.params = params;
	hb_srv_add_volume(&t->srv, "vol0", HB_VOL_SIZE);
	hb_srv_start(&t->srv);
	t->pool = hb_pool(t, "pool0", t->srv.uri, NULL);
	assert_true(hb_wait_state(t->pool, NVMFT_HBD_POOL_UP, 5000));

	op.pool = t->pool;
	op.opts.export_name = "vol0";
	sem_init(&op.done, 0, 0);
	h_run(&t->h, 0, hb_vol_fn, &op);
	assert_int_equal(op.rc, 0);
	/* The app reactor answers while the open waits for the server. */
	h_run(&t->h, 0, ping_fn, &p);
	assert_true(p.ran);
	assert_true(sem_stays_unposted(&op.done, 100));
	assert_true(sem_wait_bounded(&op.done, H_WAIT_SEC));
	sem_destroy(&op.done);
	assert_int_equal(op.done_rc, 0);
	assert_non_null(op.bdev);
}

static void dropped_connection_retries_in_flight_write_once(void **state)
{
	/* Outer delay, inner error: the error is decided after the delay. */
	static const char *const filters[] = { "--filter=delay", "--filter=error",
					       NULL };
	struct hb *t = *state;
	char file[128];
	const char *params[] = { "delay-write=600ms", "error-pwrite=ESHUTDOWN",
				 "error-pwrite-rate=100%", file, NULL };
	uint8_t *w = malloc(4 * HB_BS), *r = malloc(4 * HB_BS);
	struct nvmft_hbd_volume_stats st;
	struct nvmft_bdev *bdev;
	struct iovec iov;
	struct h_io io;
	struct hb_vol *v;
	int fd;

	snprintf(file, sizeof(file), "error-pwrite-file=%s", t->srv.inject);
	bdev = bring_up(t, filters, params, NULL);
	v = hb_vol_open(t, "hbd0");
	fd = open(t->srv.inject, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);

	/*
	 * The first attempt answers ESHUTDOWN at ~600 ms: the connection is
	 * dropped, a new one opened and the write issued again, answered at
	 * ~1200 ms, after the injection stopped at 900 ms.
	 */
	hb_fill(w, 4 * HB_BS, 8);
	iov = (struct iovec){ w, 4 * HB_BS };
	h_io_init(&io, &v->d, v->ch[1], NVMFT_IO_WRITE, 16, 4, &iov, 1);
	assert_int_equal(h_io_start(&t->h, 1, &io), 0);
	usleep(900000);
	unlink(t->srv.inject);
	assert_int_equal(h_io_wait(&io), 0);

	assert_int_equal(nvmft_hbd_volume_get_stats(bdev, &st), 0);
	assert_true(st.drops >= 1);
	assert_true(st.retries >= 1);
	assert_int_equal(hb_io(t, 0, &v->d, v->ch[0], NVMFT_IO_READ, 0, 16, 4, r), 0);
	assert_memory_equal(w, r, 4 * HB_BS);
	free(w);
	free(r);
}

static void stalled_server_times_out_and_fails_with_path_status(void **state)
{
	static const char *const filters[] = { "--filter=delay", NULL };
	static const char *const params[] = { "delay-read=3000ms", NULL };
	struct hb *t = *state;
	struct nvmft_hbd_pool_opts o;
	uint8_t *buf = malloc(4 * HB_BS);
	struct nvmft_hbd_volume_stats st;
	struct nvmft_bdev *bdev;
	struct hb_vol *v;

	hb_fast_opts(&o);
	o.io_timeout_ms = 300;
	bdev = bring_up(t, filters, params, &o);
	v = hb_vol_open(t, "hbd0");
	/* Two attempts, each abandoned after 300 ms without an answer. */
	assert_int_equal(hb_io(t, 0, &v->d, v->ch[0], NVMFT_IO_READ, 0, 0, 4, buf),
			 SC_PATH);
	assert_int_equal(nvmft_hbd_volume_get_stats(bdev, &st), 0);
	assert_true(st.drops >= 2);
	assert_int_equal(st.retries, 1);
	/* The server itself is fine: the pool stays usable. */
	assert_int_not_equal(nvmft_hbd_pool_get_state(t->pool), NVMFT_HBD_POOL_DOWN);
	free(buf);
}

static void export_that_cannot_open_makes_pool_degraded_not_down(void **state)
{
	struct hb *t = *state;
	uint8_t *buf = malloc(4 * HB_BS);
	char path[160], moved[170];
	struct hb_vol *v;

	bring_up(t, NULL, NULL, NULL);
	v = hb_vol_open(t, "hbd0");
	/* Both channels connected (the second connects asynchronously)... */
	for (unsigned int i = 0; i < 2; i++)
		assert_int_equal(hb_io(t, i, &v->d, v->ch[i], NVMFT_IO_READ, 0,
				       0, 4, buf), 0);
	/* ...keep the file open; new opens of the export fail. */
	snprintf(path, sizeof(path), "%s/vol0", t->srv.vols);
	snprintf(moved, sizeof(moved), "%s/vol0.moved", t->srv.vols);
	assert_int_equal(rename(path, moved), 0);
	assert_true(hb_wait_state(t->pool, NVMFT_HBD_POOL_DEGRADED, 5000));
	hb_fill(buf, 4 * HB_BS, 2);
	assert_int_equal(hb_io(t, 0, &v->d, v->ch[0], NVMFT_IO_WRITE, 0, 0, 4, buf), 0);
	assert_int_equal(hb_io(t, 1, &v->d, v->ch[1], NVMFT_IO_READ, 0, 0, 4, buf), 0);
	assert_true(nvmft_bdev_is_available(nvmft_bdev_desc_get_bdev(v->d.desc)));
	assert_int_equal(v->d.events[NVMFT_BDEV_EVENT_MEDIA], 0);

	assert_int_equal(rename(moved, path), 0);
	assert_true(hb_wait_state(t->pool, NVMFT_HBD_POOL_UP, 5000));
	free(buf);
}

static void pool_down_and_up_under_load_with_epoll(void **state)
{
	assert_int_equal(nvmft_runtime_engine(((struct hb *)*state)->h.rt),
			 NVMFT_ENGINE_EPOLL);
	pool_down_and_up_under_load_loses_no_acknowledged_write(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(pool_down_fails_io_with_path_status_and_reports_it,
						hb_setup, hb_teardown),
		cmocka_unit_test_setup_teardown(pool_down_and_up_under_load_loses_no_acknowledged_write,
						hb_setup, hb_teardown),
		cmocka_unit_test_setup_teardown(pool_down_and_up_under_load_with_epoll,
						hb_setup_epoll, hb_teardown),
		cmocka_unit_test_setup_teardown(injected_errors_map_to_media_statuses_and_serving_goes_on,
						hb_setup, hb_teardown),
		cmocka_unit_test_setup_teardown(slow_server_never_blocks_a_reactor,
						hb_setup, hb_teardown),
		cmocka_unit_test_setup_teardown(slow_volume_open_runs_off_the_reactors,
						hb_setup, hb_teardown),
		cmocka_unit_test_setup_teardown(dropped_connection_retries_in_flight_write_once,
						hb_setup, hb_teardown),
		cmocka_unit_test_setup_teardown(stalled_server_times_out_and_fails_with_path_status,
						hb_setup, hb_teardown),
		cmocka_unit_test_setup_teardown(export_that_cannot_open_makes_pool_degraded_not_down,
						hb_setup, hb_teardown),
	};

	hb_require_nbdkit();
	return cmocka_run_group_tests_name("bdev_hbd_fault", tests, NULL, NULL);
}
