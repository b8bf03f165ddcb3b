// SPDX-License-Identifier: MIT
/*
 * hbd volumes whose export changes size on the server (nbdkit's file
 * plugin, which reads a file's size for each new connection): the pool's
 * health check notices, the bdev takes the new size and an open
 * descriptor gets a RESIZE event; an unchanged export sends none; a size
 * found while the server was away is reported once it is back.
 */
#include "test_bdev_hbd_harness.h"

#include <sys/stat.h>
#include <json-c/json.h>

/* Health checks every 50 ms: an event well within this bound. */
#define RS_WAIT_SEC	5

static void grow_export(struct hb *t, const char *name, uint64_t size)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/%s", t->srv.vols, name);
	assert_int_equal(truncate(path, (off_t)size), 0);
}

struct dump_op {
	struct nvmft_bdev *bdev;
	struct json_object *info;
};

static void dump_fn(void *arg)
{
	struct dump_op *op = arg;

	nvmft_bdev_dump_info(op->bdev, op->info);
}

static bool hb_check_fill(const uint8_t *buf, size_t len, uint32_t seed)
{
	uint8_t *want = malloc(len);
	bool same;

	assert_non_null(want);
	hb_fill(want, len, seed);
	same = memcmp(buf, want, len) == 0;
	free(want);
	return same;
}

static struct nvmft_bdev *bring_up(struct hb *t)
{
	struct nvmft_bdev *bdev = NULL;

	hb_require_nbdkit();
	hb_srv_add_volume(&t->srv, "v0", HB_VOL_SIZE);
	hb_srv_start(&t->srv);
	t->pool = hb_pool(t, "p0", t->srv.uri, NULL);
	assert_true(hb_wait_state(t->pool, NVMFT_HBD_POOL_UP, 5000));
	assert_int_equal(hb_volume(t, t->pool, "v0", NULL, &bdev), 0);
	assert_int_equal(nvmft_bdev_num_blocks(bdev), HB_VOL_SIZE / HB_BS);
	return bdev;
}

static void grown_export_is_reported_by_the_health_check(void **state)
{
	struct hb *t = *state;
	struct nvmft_bdev *bdev = bring_up(t);
	struct hb_vol *v = hb_vol_open(t, "v0");
	struct nvmft_hbd_volume_stats before, after;
	uint8_t *buf = aligned_alloc(4096, 4096);

	assert_non_null(buf);
	/* Both connections up first: no new one can see the new size. */
	assert_int_equal(hb_io(t, 0, &v->d, v->ch[0], NVMFT_IO_READ, 0, 0, 8, buf), 0);
	assert_int_equal(hb_io(t, 1, &v->d, v->ch[1], NVMFT_IO_READ, 0, 0, 8, buf), 0);
	assert_int_equal(nvmft_hbd_volume_get_stats(bdev, &before), 0);
	grow_export(t, "v0", 2 * HB_VOL_SIZE);
	assert_true(sem_wait_bounded(&v->d.ev, RS_WAIT_SEC));
	assert_int_equal(v->d.events[NVMFT_BDEV_EVENT_RESIZE], 1);
	assert_int_equal(nvmft_bdev_num_blocks(bdev), 2 * HB_VOL_SIZE / HB_BS);
	assert_int_equal(nvmft_hbd_volume_get_stats(bdev, &after), 0);
	assert_int_equal(after.connects, before.connects);
	/*
	 * The last blocks of the grown export, from both reactors: their
	 * connections, negotiated at the old size, must reconnect first.
	 */
	hb_fill(buf, 4096, 7);
	assert_int_equal(hb_io(t, 1, &v->d, v->ch[1], NVMFT_IO_WRITE, 0,
			       2 * HB_VOL_SIZE / HB_BS - 8, 8, buf), 0);
	memset(buf, 0, 4096);
	assert_int_equal(hb_io(t, 0, &v->d, v->ch[0], NVMFT_IO_READ, 0,
			       2 * HB_VOL_SIZE / HB_BS - 8, 8, buf), 0);
	assert_true(hb_check_fill(buf, 4096, 7));
	/* No second event for the same size. */
	assert_true(sem_stays_unposted(&v->d.ev, 300));
	assert_int_equal(v->d.events[NVMFT_BDEV_EVENT_RESIZE], 1);
	free(buf);
}

static void unchanged_export_sends_no_event(void **state)
{
	struct hb *t = *state;
	struct nvmft_hbd_pool_info info;
	struct hb_vol *v;
	uint64_t checks;

	bring_up(t);
	v = hb_vol_open(t, "v0");
	nvmft_hbd_pool_get_info(t->pool, &info);
	checks = info.checks;
	/* Bounded: at least 4 more checks, each of which read the size. */
	for (int i = 0; i < 200 && info.checks < checks + 4; i++) {
		usleep(25000);
		nvmft_hbd_pool_get_info(t->pool, &info);
	}
	assert_true(info.checks >= checks + 4);
	assert_int_equal(v->d.events[NVMFT_BDEV_EVENT_RESIZE], 0);
	assert_int_equal(v->d.events[NVMFT_BDEV_EVENT_MEDIA], 0);
}

static void shrunken_export_is_reported_and_io_beyond_refused(void **state)
{
	struct hb *t = *state;
	struct nvmft_bdev *bdev = bring_up(t);
	struct hb_vol *v = hb_vol_open(t, "v0");
	struct h_io io;
	struct iovec iov;
	uint8_t *buf = aligned_alloc(4096, 4096);

	assert_non_null(buf);
	grow_export(t, "v0", HB_VOL_SIZE / 2);
	assert_true(sem_wait_bounded(&v->d.ev, RS_WAIT_SEC));
	assert_int_equal(v->d.events[NVMFT_BDEV_EVENT_RESIZE], 1);
	assert_int_equal(nvmft_bdev_num_blocks(bdev), HB_VOL_SIZE / 2 / HB_BS);
	iov.iov_base = buf;
	iov.iov_len = 4096;
	h_io_init(&io, &v->d, v->ch[0], NVMFT_IO_READ, HB_VOL_SIZE / 2 / HB_BS, 8,
		  &iov, 1);
	assert_int_equal(h_io_start(&t->h, 0, &io), -EINVAL);
	sem_destroy(&io.done);
	free(buf);
}

/*
 * A connection opened after the export grew reports the size itself: the
 * pool checks only once a minute here, so nothing else can.
 */
static void new_connection_reports_a_changed_size(void **state)
{
	struct hb *t = *state;
	struct nvmft_hbd_pool_opts o;
	struct nvmft_bdev *bdev = NULL;
	struct hb_vol *v = &t->vol;
	uint8_t *buf = aligned_alloc(4096, 4096);

	assert_non_null(buf);
	hb_require_nbdkit();
	hb_srv_add_volume(&t->srv, "v0", HB_VOL_SIZE);
	hb_srv_start(&t->srv);
	hb_fast_opts(&o);
	o.health_interval_ms = 60000;
	t->pool = hb_pool(t, "p0", t->srv.uri, &o);
	assert_true(hb_wait_state(t->pool, NVMFT_HBD_POOL_UP, 5000));
	assert_int_equal(hb_volume(t, t->pool, "v0", NULL, &bdev), 0);
	/* A channel (the open's connection) on reactor 0 only. */
	assert_int_equal(h_open(&t->h, &v->d, "v0", true), 0);
	v->open = true;
	v->ch[0] = h_get_chan(&t->h, 0, &v->d);
	assert_non_null(v->ch[0]);
	assert_int_equal(hb_io(t, 0, &v->d, v->ch[0], NVMFT_IO_READ, 0, 0, 8, buf), 0);
	grow_export(t, "v0", 2 * HB_VOL_SIZE);
	/* Reactor 1's channel connects now (or forwards, without multi-conn). */
	v->ch[1] = h_get_chan(&t->h, 1, &v->d);
	assert_non_null(v->ch[1]);
	if (!sem_wait_bounded(&v->d.ev, RS_WAIT_SEC)) {
		struct json_object *info = json_object_new_object();

		/* Only a multi-conn server gives reactor 1 a connection. */
		h_run(&t->h, 0, dump_fn, &(struct dump_op){ bdev, info });
		if (!json_object_get_boolean(json_object_object_get(info, "multi_conn"))) {
			json_object_put(info);
			free(buf);
			printf("SKIP: the server has no multi-conn\n");
			skip();
		}
		json_object_put(info);
		fail_msg("no RESIZE event after a new connection");
	}
	assert_int_equal(v->d.events[NVMFT_BDEV_EVENT_RESIZE], 1);
	assert_int_equal(nvmft_bdev_num_blocks(bdev), 2 * HB_VOL_SIZE / HB_BS);
	/* The older connection catches up before serving the new blocks. */
	hb_fill(buf, 4096, 9);
	assert_int_equal(hb_io(t, 0, &v->d, v->ch[0], NVMFT_IO_WRITE, 0,
			       2 * HB_VOL_SIZE / HB_BS - 8, 8, buf), 0);
	free(buf);
}

/* The server goes away, the export grows meanwhile, the server returns. */
static void export_grown_while_server_was_down_is_reported(void **state)
{
	struct hb *t = *state;
	struct nvmft_bdev *bdev = bring_up(t);
	struct hb_vol *v = hb_vol_open(t, "v0");

	hb_srv_kill(&t->srv);
	assert_true(hb_wait_state(t->pool, NVMFT_HBD_POOL_DOWN, 5000));
	grow_export(t, "v0", 3 * HB_VOL_SIZE);
	hb_srv_start(&t->srv);
	assert_true(hb_wait_state(t->pool, NVMFT_HBD_POOL_UP, 5000));
	/* MEDIA events come and go with the pool; wait for the RESIZE one. */
	for (int i = 0; i < RS_WAIT_SEC * 100 &&
	     !v->d.events[NVMFT_BDEV_EVENT_RESIZE]; i++)
		usleep(10000);
	assert_int_equal(v->d.events[NVMFT_BDEV_EVENT_RESIZE], 1);
	assert_int_equal(nvmft_bdev_num_blocks(bdev), 3 * HB_VOL_SIZE / HB_BS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(grown_export_is_reported_by_the_health_check,
						hb_setup, hb_teardown),
		cmocka_unit_test_setup_teardown(unchanged_export_sends_no_event,
						hb_setup, hb_teardown),
		cmocka_unit_test_setup_teardown(shrunken_export_is_reported_and_io_beyond_refused,
						hb_setup, hb_teardown),
		cmocka_unit_test_setup_teardown(new_connection_reports_a_changed_size,
						hb_setup, hb_teardown),
		cmocka_unit_test_setup_teardown(export_grown_while_server_was_down_is_reported,
						hb_setup, hb_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
