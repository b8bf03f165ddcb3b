// SPDX-License-Identifier: MIT
/*
 * hbd backend against a real nbdkit: pools, volume creation, verified I/O
 * from both reactors, and how each NVMe I/O type reaches the server
 * (checked in nbdkit's request log).
 */
#include "test_bdev_hbd_harness.h"

/* Bring up a server with export "vol0" and a volume "hbd0" on it. */
static struct nvmft_bdev *hb_bring_up(struct hb *t, const char *const *filters,
				      const char *const *params)
{
	struct nvmft_bdev *bdev = NULL;

	t->srv.filters = filters;
	t->srv.params = params;
	hb_srv_add_volume(&t->srv, "vol0", HB_VOL_SIZE);
	hb_srv_start(&t->srv);
	t->pool = hb_pool(t, "pool0", t->srv.uri, NULL);
	assert_true(hb_wait_state(t->pool, NVMFT_HBD_POOL_UP, 5000));
	assert_int_equal(hb_volume(t, t->pool, "vol0", "hbd0", &bdev), 0);
	assert_non_null(bdev);
	return bdev;
}

/* Write from one reactor, read back from the other, both ways. */
static void check_cross_reactor_io(struct hb *t, struct hb_vol *v)
{
	enum { NB = 24 };
	uint8_t *w = malloc(NB * HB_BS), *r = malloc(NB * HB_BS);
	struct iovec iov[3];
	struct h_io io;

	for (unsigned int from = 0; from < 2; from++) {
		uint64_t off = 100 + from * 1000;

		hb_fill(w, NB * HB_BS, from + 1);
		/* Three iovecs: three NBD commands at consecutive offsets. */
		iov[0] = (struct iovec){ w, 4 * HB_BS };
		iov[1] = (struct iovec){ w + 4 * HB_BS, 12 * HB_BS };
		iov[2] = (struct iovec){ w + 16 * HB_BS, 8 * HB_BS };
		h_io_init(&io, &v->d, v->ch[from], NVMFT_IO_WRITE, off, NB, iov, 3);
		assert_int_equal(h_io_start(&t->h, from, &io), 0);
		assert_int_equal(h_io_wait(&io), 0);

		memset(r, 0, NB * HB_BS);
		assert_int_equal(hb_io(t, 1 - from, &v->d, v->ch[1 - from],
				       NVMFT_IO_READ, 0, off, NB, r), 0);
		assert_memory_equal(w, r, NB * HB_BS);
	}
	free(w);
	free(r);
}

static void pool_up_then_volume_serves_io_from_both_reactors(void **state)
{
	struct hb *t = *state;
	struct nvmft_hbd_volume_stats st;
	struct nvmft_bdev *bdev;
	struct hb_vol *v;

	bdev = hb_bring_up(t, NULL, NULL);
	assert_string_equal(nvmft_bdev_product(bdev), "hbd");
	assert_int_equal(nvmft_bdev_block_size(bdev), HB_BS);
	assert_int_equal(nvmft_bdev_num_blocks(bdev), HB_VOL_SIZE / HB_BS);
	assert_true(nvmft_bdev_is_available(bdev));
	assert_true(nvmft_bdev_supports(bdev, NVMFT_IO_WRITE_ZEROES));

	v = hb_vol_open(t, "hbd0");
	check_cross_reactor_io(t, v);
	/* The file plugin allows multi-conn: one connection per reactor. */
	assert_int_equal(nvmft_hbd_volume_get_stats(bdev, &st), 0);
	assert_int_equal(st.connects, 2);
	assert_int_equal(st.drops, 0);
	assert_int_equal(hb_log_count(&t->srv, " Connect export=vol0", NULL), 2);
	hb_vol_close(t);
}

static void epoll_engine_serves_io_from_both_reactors(void **state)
{
	struct hb *t = *state;
	struct hb_vol *v;

	assert_int_equal(nvmft_runtime_engine(t->h.rt), NVMFT_ENGINE_EPOLL);
	hb_bring_up(t, NULL, NULL);
	v = hb_vol_open(t, "hbd0");
	check_cross_reactor_io(t, v);
	hb_vol_close(t);
}

static void tcp_pool_serves_io_from_both_reactors(void **state)
{
	struct hb *t = *state;
	struct hb_vol *v;

	hb_srv_use_tcp(&t->srv);
	assert_true(strncmp(t->srv.uri, "nbd://127.0.0.1:", 16) == 0);
	hb_bring_up(t, NULL, NULL);
	v = hb_vol_open(t, "hbd0");
	check_cross_reactor_io(t, v);
	hb_vol_close(t);
}

static void missing_export_fails_create_with_enoent(void **state)
{
	struct hb *t = *state;
	struct nvmft_bdev *bdev = NULL;

	hb_bring_up(t, NULL, NULL);
	assert_int_equal(hb_volume(t, t->pool, "nosuch", "hbd1", &bdev), -ENOENT);
	assert_null(bdev);
	/* Nothing was registered, and the name is free again. */
	assert_int_not_equal(h_open(&t->h, &(struct h_desc){ 0 }, "hbd1", false), 0);
	/* The pool is fine: only the export was missing. */
	assert_int_equal(nvmft_hbd_pool_get_state(t->pool), NVMFT_HBD_POOL_UP);
	/* A taken bdev name is refused before anything is opened. */
	assert_int_equal(hb_volume(t, t->pool, "vol0", "hbd0", NULL), -EEXIST);
}

static void unreachable_pool_is_down_and_create_fails(void **state)
{
	struct hb *t = *state;
	struct nvmft_hbd_pool *pool;
	struct nvmft_hbd_pool_info info;
	char uri[200];

	snprintf(uri, sizeof(uri), "nbd+unix:///?socket=%s/none.sock", t->srv.dir);
	pool = hb_pool(t, "gone", uri, NULL);
	assert_true(hb_wait_state(pool, NVMFT_HBD_POOL_DOWN, 5000));
	nvmft_hbd_pool_get_info(pool, &info);
	assert_true(info.checks_failed >= 1);
	assert_int_equal(hb_volume(t, pool, "vol0", NULL, NULL), -EHOSTDOWN);
}

struct bad_pool_op {
	struct hb *t;
	int rc[5];
};

static void bad_pool_fn(void *arg)
{
	struct bad_pool_op *op = arg;
	struct nvmft_hbd_pool_opts o;

	nvmft_hbd_pool_opts_init(&o);
	op->rc[0] = nvmft_hbd_pool_create(op->t->hbd, "p", "http://x/", NULL, NULL);
	op->rc[1] = nvmft_hbd_pool_create(op->t->hbd, "p", "nbd://127.0.0.1/vol", NULL, NULL);
	o.down_after = 0;
	op->rc[2] = nvmft_hbd_pool_create(op->t->hbd, "p", "nbd://127.0.0.1:1", &o, NULL);
	op->rc[3] = nvmft_hbd_pool_create(op->t->hbd, "p", "nbd://127.0.0.1:1/", NULL, NULL);
	op->rc[4] = nvmft_hbd_pool_create(op->t->hbd, "p", "nbd://127.0.0.1:2", NULL, NULL);
}

static void pool_create_validates_uri_and_name(void **state)
{
	struct bad_pool_op op = { .t = *state };

	h_run(&op.t->h, 0, bad_pool_fn, &op);
	assert_int_equal(op.rc[0], -EINVAL);	/* not an NBD URI */
	assert_int_equal(op.rc[1], -EINVAL);	/* names an export */
	assert_int_equal(op.rc[2], -EINVAL);	/* bad option */
	assert_int_equal(op.rc[3], 0);
	assert_int_equal(op.rc[4], -EEXIST);
}

static void fua_flush_zeroes_and_trim_reach_the_server(void **state)
{
	struct hb *t = *state;
	uint8_t *buf = malloc(8 * HB_BS), *zero = calloc(8, HB_BS);
	struct hb_vol *v;

	hb_bring_up(t, NULL, NULL);
	v = hb_vol_open(t, "hbd0");
	hb_fill(buf, 8 * HB_BS, 7);
	assert_int_equal(hb_io(t, 0, &v->d, v->ch[0], NVMFT_IO_WRITE,
			       NVMFT_IO_FLAG_FUA, 8, 8, buf), 0);
	assert_int_equal(hb_io(t, 1, &v->d, v->ch[1], NVMFT_IO_FLUSH, 0, 0, 0, NULL), 0);
	assert_int_equal(hb_io(t, 0, &v->d, v->ch[0], NVMFT_IO_WRITE_ZEROES, 0,
			       8, 4, NULL), 0);
	assert_int_equal(hb_io(t, 1, &v->d, v->ch[1], NVMFT_IO_UNMAP, 0, 64, 8, NULL), 0);

	/* Zeroed blocks read back as zeroes, the rest as written. */
	assert_int_equal(hb_io(t, 1, &v->d, v->ch[1], NVMFT_IO_READ, 0, 8, 8, buf), 0);
	assert_memory_equal(buf, zero, 4 * HB_BS);
	hb_fill(zero, 8 * HB_BS, 7);
	assert_memory_equal(buf + 4 * HB_BS, zero + 4 * HB_BS, 4 * HB_BS);

	assert_int_equal(hb_log_count(&t->srv, " Write id=", "fua=1"), 1);
	assert_int_equal(hb_log_count(&t->srv, " Flush id=", NULL), 1);
	assert_int_equal(hb_log_count(&t->srv, " Zero id=", "count=0x800"), 1);
	assert_int_equal(hb_log_count(&t->srv, " Trim id=", "offset=0x8000 count=0x1000"), 1);
	hb_vol_close(t);
	free(buf);
	free(zero);
}

static void fua_without_server_fua_is_write_then_flush(void **state)
{
	/* The fua filter's default mode: FUA not advertised. */
	static const char *const filters[] = { "--filter=fua", NULL };
	static const char *const params[] = { NULL };
	struct hb *t = *state;
	uint8_t *buf = malloc(4 * HB_BS);
	struct hb_vol *v;

	hb_bring_up(t, filters, params);
	v = hb_vol_open(t, "hbd0");
	hb_fill(buf, 4 * HB_BS, 3);
	assert_int_equal(hb_io(t, 1, &v->d, v->ch[1], NVMFT_IO_WRITE,
			       NVMFT_IO_FLAG_FUA, 0, 4, buf), 0);
	assert_int_equal(hb_log_count(&t->srv, " Write id=", "fua=0"), 1);
	assert_int_equal(hb_log_count(&t->srv, " Write id=", "fua=1"), 0);
	assert_int_equal(hb_log_count(&t->srv, " Flush id=", NULL), 1);
	hb_vol_close(t);
	free(buf);
}

static void write_zeroes_emulated_without_server_zero(void **state)
{
	static const char *const filters[] = { "--filter=nozero", NULL };
	static const char *const params[] = { "zeromode=none", NULL };
	struct hb *t = *state;
	uint8_t *buf = malloc(4 * HB_BS), *zero = calloc(4, HB_BS);
	struct nvmft_bdev *bdev;
	struct hb_vol *v;

	bdev = hb_bring_up(t, filters, params);
	v = hb_vol_open(t, "hbd0");
	hb_fill(buf, 4 * HB_BS, 9);
	assert_int_equal(hb_io(t, 0, &v->d, v->ch[0], NVMFT_IO_WRITE, 0, 0, 4, buf), 0);
	/* Still supported: the bdev layer writes zeroes instead. */
	assert_true(nvmft_bdev_supports(bdev, NVMFT_IO_WRITE_ZEROES));
	assert_int_equal(hb_io(t, 0, &v->d, v->ch[0], NVMFT_IO_WRITE_ZEROES, 0,
			       0, 4, NULL), 0);
	assert_int_equal(hb_io(t, 1, &v->d, v->ch[1], NVMFT_IO_READ, 0, 0, 4, buf), 0);
	assert_memory_equal(buf, zero, 4 * HB_BS);
	assert_int_equal(hb_log_count(&t->srv, " Zero id=", NULL), 0);
	assert_int_equal(hb_log_count(&t->srv, " Write id=", NULL), 2);
	hb_vol_close(t);
	free(buf);
	free(zero);
}

static void single_connection_server_gets_io_of_both_reactors(void **state)
{
	static const char *const filters[] = { "--filter=multi-conn", NULL };
	static const char *const params[] = { "multi-conn-mode=disable", NULL };
	struct hb *t = *state;
	struct nvmft_hbd_volume_stats st;
	struct nvmft_bdev *bdev;
	struct hb_vol *v;

	bdev = hb_bring_up(t, filters, params);
	v = hb_vol_open(t, "hbd0");
	check_cross_reactor_io(t, v);
	/* Reactor 1 forwarded its I/O to the one connection of reactor 0. */
	assert_int_equal(nvmft_hbd_volume_get_stats(bdev, &st), 0);
	assert_int_equal(st.connects, 1);
	assert_int_equal(hb_log_count(&t->srv, " Connect export=vol0", NULL), 1);
	hb_vol_close(t);
}

static void unaligned_iovecs_use_a_bounce_buffer_when_server_needs_it(void **state)
{
	static const char *const filters[] = { "--filter=blocksize-policy", NULL };
	static const char *const params[] = { "blocksize-minimum=512",
					      "blocksize-error-policy=error", NULL };
	struct hb *t = *state;
	uint8_t *w = malloc(4 * HB_BS), *r = malloc(4 * HB_BS);
	struct iovec iov[3];
	struct h_io io;
	struct hb_vol *v;

	hb_bring_up(t, filters, params);
	v = hb_vol_open(t, "hbd0");
	hb_fill(w, 4 * HB_BS, 5);
	iov[0] = (struct iovec){ w, 100 };
	iov[1] = (struct iovec){ w + 100, 1000 };
	iov[2] = (struct iovec){ w + 1100, 4 * HB_BS - 1100 };
	h_io_init(&io, &v->d, v->ch[0], NVMFT_IO_WRITE, 3, 4, iov, 3);
	assert_int_equal(h_io_start(&t->h, 0, &io), 0);
	assert_int_equal(h_io_wait(&io), 0);

	memset(r, 0, 4 * HB_BS);
	iov[0] = (struct iovec){ r, 700 };
	iov[1] = (struct iovec){ r + 700, 4 * HB_BS - 700 };
	h_io_init(&io, &v->d, v->ch[1], NVMFT_IO_READ, 3, 4, iov, 2);
	assert_int_equal(h_io_start(&t->h, 1, &io), 0);
	assert_int_equal(h_io_wait(&io), 0);
	assert_memory_equal(w, r, 4 * HB_BS);
	/* One aligned request each way, none refused by the server. */
	assert_int_equal(hb_log_count(&t->srv, " Write id=", "count=0x800"), 1);
	assert_int_equal(hb_log_count(&t->srv, "return=-1", NULL), 0);
	hb_vol_close(t);
	free(w);
	free(r);
}

struct pool_del_op {
	struct hb *t;
	int pool_rc;
	int vol_rc;
	sem_t done;
};

static void pool_destroy_fn(void *arg)
{
	struct pool_del_op *op = arg;

	op->pool_rc = nvmft_hbd_pool_destroy(op->t->hbd, "pool0");
}

static void vol_deleted(void *arg, int rc)
{
	sem_post(&((struct pool_del_op *)arg)->done);
}

static void vol_delete_fn(void *arg)
{
	struct pool_del_op *op = arg;

	/* Only hbd bdevs: a malloc bdev is refused. */
	assert_int_equal(nvmft_bdev_malloc_create(op->t->h.reg, "m0", 8, 512,
						  NULL, NULL), 0);
	assert_int_equal(nvmft_hbd_volume_delete(op->t->hbd, "m0", NULL, NULL),
			 -EINVAL);
	op->vol_rc = nvmft_hbd_volume_delete(op->t->hbd, "hbd0", vol_deleted, op);
}

static void pool_with_a_volume_is_busy_until_it_is_deleted(void **state)
{
	struct hb *t = *state;
	struct pool_del_op op = { .t = t };

	hb_bring_up(t, NULL, NULL);
	h_run(&t->h, 0, pool_destroy_fn, &op);
	assert_int_equal(op.pool_rc, -EBUSY);
	sem_init(&op.done, 0, 0);
	h_run(&t->h, 0, vol_delete_fn, &op);
	assert_int_equal(op.vol_rc, 0);
	assert_true(sem_wait_bounded(&op.done, H_WAIT_SEC));
	sem_destroy(&op.done);
	h_run(&t->h, 0, pool_destroy_fn, &op);
	assert_int_equal(op.pool_rc, 0);
	h_run(&t->h, 0, pool_destroy_fn, &op);
	assert_int_equal(op.pool_rc, -ENOENT);
}

static void context_left_to_the_runtime_goes_with_it(void **state)
{
	struct hb *t = *state;
	uint8_t buf[4 * HB_BS];
	struct hb_vol *v;

	hb_bring_up(t, NULL, NULL);
	v = hb_vol_open(t, "hbd0");
	hb_fill(buf, sizeof(buf), 6);
	assert_int_equal(hb_io(t, 1, &v->d, v->ch[1], NVMFT_IO_WRITE, 0, 0, 4, buf), 0);
	hb_vol_close(t);
	/*
	 * As nvmf-tgtd does: the registry (and with it the volume) goes
	 * first, the context is torn down by the runtime's stop. The
	 * sanitizer build checks that nothing is left behind.
	 */
	t->hbd = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(pool_up_then_volume_serves_io_from_both_reactors,
						hb_setup, hb_teardown),
		cmocka_unit_test_setup_teardown(epoll_engine_serves_io_from_both_reactors,
						hb_setup_epoll, hb_teardown),
		cmocka_unit_test_setup_teardown(tcp_pool_serves_io_from_both_reactors,
						hb_setup, hb_teardown),
		cmocka_unit_test_setup_teardown(missing_export_fails_create_with_enoent,
						hb_setup, hb_teardown),
		cmocka_unit_test_setup_teardown(unreachable_pool_is_down_and_create_fails,
						hb_setup, hb_teardown),
		cmocka_unit_test_setup_teardown(pool_create_validates_uri_and_name,
						hb_setup, hb_teardown),
		cmocka_unit_test_setup_teardown(fua_flush_zeroes_and_trim_reach_the_server,
						hb_setup, hb_teardown),
		cmocka_unit_test_setup_teardown(fua_without_server_fua_is_write_then_flush,
						hb_setup, hb_teardown),
		cmocka_unit_test_setup_teardown(write_zeroes_emulated_without_server_zero,
						hb_setup, hb_teardown),
		cmocka_unit_test_setup_teardown(single_connection_server_gets_io_of_both_reactors,
						hb_setup, hb_teardown),
		cmocka_unit_test_setup_teardown(unaligned_iovecs_use_a_bounce_buffer_when_server_needs_it,
						hb_setup, hb_teardown),
		cmocka_unit_test_setup_teardown(pool_with_a_volume_is_busy_until_it_is_deleted,
						hb_setup, hb_teardown),
		cmocka_unit_test_setup_teardown(context_left_to_the_runtime_goes_with_it,
						hb_setup, hb_teardown),
	};

	hb_require_nbdkit();
	return cmocka_run_group_tests_name("bdev_hbd", tests, NULL, NULL);
}
