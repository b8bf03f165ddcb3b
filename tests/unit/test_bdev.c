// SPDX-License-Identifier: MIT
/*
 * bdev layer: registry, malloc and null backends, descriptors, events,
 * deletion and hot removal, channels per reactor, stats, UUIDs.
 */
#include "test_bdev_harness.h"

#include <json-c/json.h>
#include <nvme/types.h>
#include <nvmft/nvme_wire.h>

#include "bdev/bdev_internal.h"

/* ---- registry ---- */

struct create_op {
	struct h *h;
	const char *name;
	uint64_t num_blocks;
	uint32_t block_size;
	const uint8_t *uuid;
	bool null;
	struct nvmft_bdev *bdev;
	int rc;
};

static void create_fn(void *arg)
{
	struct create_op *op = arg;

	if (op->null)
		op->rc = nvmft_bdev_null_create(op->h->reg, op->name, op->num_blocks,
						op->block_size, op->uuid, &op->bdev);
	else
		op->rc = nvmft_bdev_malloc_create(op->h->reg, op->name,
						  op->num_blocks, op->block_size,
						  op->uuid, &op->bdev);
}

static int mk(struct h *h, const char *name, uint64_t nb, uint32_t bs, bool null,
	      struct nvmft_bdev **out)
{
	struct create_op op = { .h = h, .name = name, .num_blocks = nb,
				.block_size = bs, .null = null };

	h_run(h, 0, create_fn, &op);
	if (out)
		*out = op.bdev;
	return op.rc;
}

struct lookup_op {
	struct h *h;
	const char *name;
	struct nvmft_bdev *bdev;
	char names[8][16];
	int n;
	int stop_at;
	int rc;
};

static void get_fn(void *arg)
{
	struct lookup_op *op = arg;

	op->bdev = nvmft_bdev_get(op->h->reg, op->name);
}

static int foreach_cb(struct nvmft_bdev *bdev, void *arg)
{
	struct lookup_op *op = arg;

	snprintf(op->names[op->n], sizeof(op->names[0]), "%s", nvmft_bdev_name(bdev));
	op->n++;
	return op->n == op->stop_at ? 42 : 0;
}

static void foreach_fn(void *arg)
{
	struct lookup_op *op = arg;

	op->rc = nvmft_bdev_foreach(op->h->reg, foreach_cb, op);
}

static void test_registry_get_and_foreach_in_creation_order(void **state)
{
	struct h *h = *state;
	struct lookup_op op = { .h = h };
	struct nvmft_bdev *b1, *b2, *b3;

	assert_int_equal(mk(h, "m1", 64, 512, false, &b1), 0);
	assert_int_equal(mk(h, "n1", 64, 4096, true, &b2), 0);
	assert_int_equal(mk(h, "m2", 128, 4096, false, &b3), 0);

	op.name = "n1";
	h_run(h, 0, get_fn, &op);
	assert_ptr_equal(op.bdev, b2);
	assert_string_equal(nvmft_bdev_product(b2), "null");
	assert_string_equal(nvmft_bdev_product(b1), "malloc");
	assert_int_equal(nvmft_bdev_block_size(b3), 4096);
	assert_int_equal(nvmft_bdev_num_blocks(b3), 128);
	op.name = "nope";
	h_run(h, 0, get_fn, &op);
	assert_null(op.bdev);

	h_run(h, 0, foreach_fn, &op);
	assert_int_equal(op.rc, 0);
	assert_int_equal(op.n, 3);
	assert_string_equal(op.names[0], "m1");
	assert_string_equal(op.names[1], "n1");
	assert_string_equal(op.names[2], "m2");

	op.n = 0;
	op.stop_at = 2;
	h_run(h, 0, foreach_fn, &op);
	assert_int_equal(op.rc, 42);
	assert_int_equal(op.n, 2);
}

static void test_registry_duplicate_name_is_eexist(void **state)
{
	struct h *h = *state;

	assert_int_equal(mk(h, "dup", 64, 512, false, NULL), 0);
	assert_int_equal(mk(h, "dup", 64, 512, false, NULL), -EEXIST);
	assert_int_equal(mk(h, "dup", 64, 512, true, NULL), -EEXIST);
}

static void test_registry_bad_parameters_are_einval(void **state)
{
	struct h *h = *state;

	assert_int_equal(mk(h, "b", 64, 1024, false, NULL), -EINVAL);
	assert_int_equal(mk(h, "b", 64, 520, true, NULL), -EINVAL);
	assert_int_equal(mk(h, "b", 0, 512, false, NULL), -EINVAL);
	assert_int_equal(mk(h, "", 64, 512, false, NULL), -EINVAL);
	/* The name stayed free. */
	assert_int_equal(mk(h, "b", 64, 512, false, NULL), 0);
}

static int ctxless_submit(void *chan_ctx, struct nvmft_bdev_io *io)
{
	(void)chan_ctx;
	nvmft_bdev_io_complete(io, 0);
	return 0;
}

/* No device state: no callback may dereference the ctx. */
static const struct nvmft_bdev_ops ctxless_ops = {
	.name = "ctxless",
	.io_ctx_size = NVMFT_BDEV_IO_CTX_SIZE,
	.submit = ctxless_submit,
};

static const struct nvmft_bdev_ops fat_ops = {
	.name = "fat",
	.io_ctx_size = NVMFT_BDEV_IO_CTX_SIZE + 1,
	.submit = ctxless_submit,
};

struct reg_props_op {
	struct h *h;
	struct nvmft_bdev_props props;
	const struct nvmft_bdev_ops *ops;
	int rc;
};

static void reg_props_fn(void *arg)
{
	struct reg_props_op *op = arg;

	op->rc = nvmft_bdev_register(op->h->reg, &op->props, op->ops, NULL, NULL);
}

static void test_register_rejects_bad_block_size_and_ctx_size(void **state)
{
	struct h *h = *state;
	struct reg_props_op op = { .h = h, .ops = &ctxless_ops };

	op.props = (struct nvmft_bdev_props){ .name = "r", .block_size = 768,
					      .num_blocks = 8 };
	h_run(h, 0, reg_props_fn, &op);
	assert_int_equal(op.rc, -EINVAL);
	op.props.block_size = 131072;
	h_run(h, 0, reg_props_fn, &op);
	assert_int_equal(op.rc, -EINVAL);
	op.props.block_size = 256;
	h_run(h, 0, reg_props_fn, &op);
	assert_int_equal(op.rc, -EINVAL);
	op.props.block_size = 8192;
	op.ops = &fat_ops;
	h_run(h, 0, reg_props_fn, &op);
	assert_int_equal(op.rc, -EINVAL);
	op.ops = &ctxless_ops;
	h_run(h, 0, reg_props_fn, &op);
	assert_int_equal(op.rc, 0);
}

/* ---- malloc and null I/O ---- */

static void roundtrip(struct h *h, uint32_t bs)
{
	struct h_desc d;
	struct nvmft_io_channel *ch;
	uint8_t *wbuf, *rbuf;
	struct iovec wiov[3], riov[4];
	size_t len = 6 * (size_t)bs;
	uint16_t st = 0xffff;

	assert_int_equal(mk(h, "rt", 32, bs, false, NULL), 0);
	assert_int_equal(h_open(h, &d, "rt", true), 0);
	ch = h_get_chan(h, 1, &d);
	assert_non_null(ch);
	wbuf = malloc(len);
	rbuf = calloc(1, len);
	fill_pattern(wbuf, len, bs);

	/* Uneven iovecs, not aligned on blocks. */
	wiov[0] = (struct iovec){ wbuf, bs / 2 };
	wiov[1] = (struct iovec){ wbuf + bs / 2, 3 * (size_t)bs };
	wiov[2] = (struct iovec){ wbuf + bs / 2 + 3 * (size_t)bs, len - bs / 2 - 3 * (size_t)bs };
	assert_int_equal(h_io(h, 1, &d, ch, NVMFT_IO_WRITE, 5, 6, wiov, 3, &st), 0);
	assert_int_equal(st, 0);

	riov[0] = (struct iovec){ rbuf, 7 };
	riov[1] = (struct iovec){ rbuf + 7, bs };
	riov[2] = (struct iovec){ rbuf + 7 + bs, 2 * (size_t)bs - 7 };
	riov[3] = (struct iovec){ rbuf + 3 * (size_t)bs, 3 * (size_t)bs };
	st = 0xffff;
	assert_int_equal(h_io(h, 1, &d, ch, NVMFT_IO_READ, 5, 6, riov, 4, &st), 0);
	assert_int_equal(st, 0);
	assert_memory_equal(wbuf, rbuf, len);

	/* Neighbours untouched. */
	memset(rbuf, 0xaa, bs);
	riov[0] = (struct iovec){ rbuf, bs };
	assert_int_equal(h_io(h, 1, &d, ch, NVMFT_IO_READ, 4, 1, riov, 1, &st), 0);
	assert_int_equal(st, 0);
	for (size_t i = 0; i < bs; i++)
		assert_int_equal(rbuf[i], 0);

	h_put_chan(h, 1, ch);
	h_close(&d);
	free(wbuf);
	free(rbuf);
}

static void test_malloc_roundtrip_multi_iov_512(void **state)
{
	roundtrip(*state, 512);
}

static void test_malloc_roundtrip_multi_iov_4096(void **state)
{
	roundtrip(*state, 4096);
}

static void test_null_reads_zeroes_and_drops_writes(void **state)
{
	struct h *h = *state;
	struct h_desc d;
	struct nvmft_io_channel *ch;
	uint8_t buf[2048];
	struct iovec iov = { buf, sizeof(buf) };
	uint16_t st = 0xffff;
	size_t i;

	assert_int_equal(mk(h, "nul", 1000, 512, true, NULL), 0);
	assert_int_equal(h_open(h, &d, "nul", true), 0);
	ch = h_get_chan(h, 0, &d);
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(h_io(h, 0, &d, ch, NVMFT_IO_WRITE, 0, 4, &iov, 1, &st), 0);
	assert_int_equal(st, 0);
	assert_int_equal(h_io(h, 0, &d, ch, NVMFT_IO_READ, 0, 4, &iov, 1, &st), 0);
	assert_int_equal(st, 0);
	for (i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(h_io(h, 0, &d, ch, NVMFT_IO_FLUSH, 0, 0, NULL, 0, &st), 0);
	assert_int_equal(st, 0);
	h_put_chan(h, 0, ch);
	h_close(&d);
}

static void test_submit_range_checks_are_einval(void **state)
{
	struct h *h = *state;
	struct h_desc d;
	struct nvmft_io_channel *ch;
	uint8_t buf[1024];
	struct iovec iov = { buf, 512 }, iov2 = { buf, 1024 };
	uint16_t st;

	assert_int_equal(mk(h, "rng", 100, 512, false, NULL), 0);
	assert_int_equal(h_open(h, &d, "rng", true), 0);
	ch = h_get_chan(h, 0, &d);
	/* Beyond the end, straddling the end, zero length, offset overflow. */
	assert_int_equal(h_io(h, 0, &d, ch, NVMFT_IO_READ, 100, 1, &iov, 1, &st), -EINVAL);
	assert_int_equal(h_io(h, 0, &d, ch, NVMFT_IO_READ, 99, 2, &iov2, 1, &st), -EINVAL);
	assert_int_equal(h_io(h, 0, &d, ch, NVMFT_IO_READ, 0, 0, &iov, 1, &st), -EINVAL);
	assert_int_equal(h_io(h, 0, &d, ch, NVMFT_IO_WRITE_ZEROES, UINT64_MAX, 2,
			      NULL, 0, &st), -EINVAL);
	/* Iovecs that do not match the range. */
	assert_int_equal(h_io(h, 0, &d, ch, NVMFT_IO_READ, 0, 1, &iov2, 1, &st), -EINVAL);
	assert_int_equal(h_io(h, 0, &d, ch, NVMFT_IO_WRITE, 0, 2, &iov, 1, &st), -EINVAL);
	assert_int_equal(h_io(h, 0, &d, ch, NVMFT_IO_READ, 0, 1, NULL, 0, &st), -EINVAL);
	/* The last block is fine. */
	assert_int_equal(h_io(h, 0, &d, ch, NVMFT_IO_READ, 99, 1, &iov, 1, &st), 0);
	assert_int_equal(st, 0);
	h_put_chan(h, 0, ch);
	h_close(&d);
}

static void test_readonly_descriptor_write_is_ebadf(void **state)
{
	struct h *h = *state;
	struct h_desc d;
	struct nvmft_io_channel *ch;
	uint8_t buf[512] = { 0 };
	struct iovec iov = { buf, 512 };
	uint16_t st;

	assert_int_equal(mk(h, "ro", 16, 512, false, NULL), 0);
	assert_int_equal(h_open(h, &d, "ro", false), 0);
	ch = h_get_chan(h, 1, &d);
	assert_int_equal(h_io(h, 1, &d, ch, NVMFT_IO_WRITE, 0, 1, &iov, 1, &st), -EBADF);
	assert_int_equal(h_io(h, 1, &d, ch, NVMFT_IO_WRITE_ZEROES, 0, 1, NULL, 0, &st), -EBADF);
	assert_int_equal(h_io(h, 1, &d, ch, NVMFT_IO_UNMAP, 0, 1, NULL, 0, &st), -EBADF);
	assert_int_equal(h_io(h, 1, &d, ch, NVMFT_IO_READ, 0, 1, &iov, 1, &st), 0);
	assert_int_equal(st, 0);
	assert_int_equal(h_io(h, 1, &d, ch, NVMFT_IO_COMPARE, 0, 1, &iov, 1, &st), 0);
	assert_int_equal(st, 0);
	h_put_chan(h, 1, ch);
	h_close(&d);
}

static void check_zero(struct h *h, struct h_desc *d, struct nvmft_io_channel *ch,
		       uint64_t off, uint64_t n, uint32_t bs)
{
	uint8_t *buf = malloc(n * bs);
	struct iovec iov = { buf, n * bs };
	uint16_t st = 0xffff;
	size_t i;

	memset(buf, 0xee, n * bs);
	assert_int_equal(h_io(h, 0, d, ch, NVMFT_IO_READ, off, n, &iov, 1, &st), 0);
	assert_int_equal(st, 0);
	for (i = 0; i < n * bs; i++)
		assert_int_equal(buf[i], 0);
	free(buf);
}

static void test_malloc_write_zeroes_and_unmap_read_back_zeroes(void **state)
{
	struct h *h = *state;
	struct h_desc d;
	struct nvmft_io_channel *ch;
	uint8_t buf[16 * 512];
	struct iovec iov = { buf, sizeof(buf) };
	uint16_t st = 0xffff;

	assert_int_equal(mk(h, "wz", 16, 512, false, NULL), 0);
	assert_int_equal(h_open(h, &d, "wz", true), 0);
	ch = h_get_chan(h, 0, &d);
	memset(buf, 0x77, sizeof(buf));
	assert_int_equal(h_io(h, 0, &d, ch, NVMFT_IO_WRITE, 0, 16, &iov, 1, &st), 0);
	assert_int_equal(h_io(h, 0, &d, ch, NVMFT_IO_WRITE_ZEROES, 2, 3, NULL, 0, &st), 0);
	assert_int_equal(st, 0);
	assert_int_equal(h_io(h, 0, &d, ch, NVMFT_IO_UNMAP, 10, 4, NULL, 0, &st), 0);
	assert_int_equal(st, 0);
	check_zero(h, &d, ch, 2, 3, 512);
	check_zero(h, &d, ch, 10, 4, 512);
	/* Around them the data stayed. */
	iov.iov_len = 512;
	assert_int_equal(h_io(h, 0, &d, ch, NVMFT_IO_READ, 5, 1, &iov, 1, &st), 0);
	assert_int_equal(buf[0], 0x77);
	assert_int_equal(buf[511], 0x77);
	h_put_chan(h, 0, ch);
	h_close(&d);
}

static void test_malloc_compare_match_and_mismatch_status(void **state)
{
	struct h *h = *state;
	struct h_desc d;
	struct nvmft_io_channel *ch;
	uint8_t buf[4 * 512];
	struct iovec iov[2] = { { buf, 1000 }, { buf + 1000, sizeof(buf) - 1000 } };
	uint16_t st = 0xffff;

	assert_int_equal(mk(h, "cmp", 16, 512, false, NULL), 0);
	assert_int_equal(h_open(h, &d, "cmp", true), 0);
	ch = h_get_chan(h, 0, &d);
	fill_pattern(buf, sizeof(buf), 3);
	assert_int_equal(h_io(h, 0, &d, ch, NVMFT_IO_WRITE, 4, 4, iov, 2, &st), 0);
	assert_int_equal(h_io(h, 0, &d, ch, NVMFT_IO_COMPARE, 4, 4, iov, 2, &st), 0);
	assert_int_equal(st, 0);
	buf[1500] ^= 1;
	assert_int_equal(h_io(h, 0, &d, ch, NVMFT_IO_COMPARE, 4, 4, iov, 2, &st), 0);
	assert_int_equal(st, (NVME_SCT_MEDIA << 8) | NVME_SC_COMPARE_FAILED);
	h_put_chan(h, 0, ch);
	h_close(&d);
}

/* ---- UUIDs ---- */

static void test_uuid_stable_and_distinct_per_name(void **state)
{
	uint8_t a[16], b[16], c[16];
	struct nvmft_bdev *bd;
	struct h *h = *state;

	nvmft_uuid_from_name("Malloc0", a);
	nvmft_uuid_from_name("Malloc0", b);
	nvmft_uuid_from_name("Malloc1", c);
	assert_memory_equal(a, b, 16);
	assert_memory_not_equal(a, c, 16);
	assert_int_equal(a[6] >> 4, 5);
	assert_int_equal(a[8] & 0xc0, 0x80);

	/* A bdev without a given UUID gets the one derived from its name. */
	assert_int_equal(mk(h, "Malloc0", 8, 512, false, &bd), 0);
	assert_memory_equal(nvmft_bdev_uuid(bd), a, 16);
}

static void test_uuid_v5_matches_rfc4122_reference(void **state)
{
	/* RFC 4122 DNS namespace; uuid5(NAMESPACE_DNS, "python.org") */
	static const uint8_t dns[16] = {
		0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
		0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8,
	};
	uint8_t u[16];
	char s[37];

	(void)state;
	bdev_uuid_v5(dns, "python.org", 10, u);
	bdev_uuid_format(u, s);
	assert_string_equal(s, "886313e1-3b8a-5372-9b90-0c9aee199e5d");
}

static void test_given_uuid_is_kept(void **state)
{
	struct h *h = *state;
	uint8_t u[16];
	struct create_op op = { .h = h, .name = "u", .num_blocks = 8,
				.block_size = 512, .uuid = u };

	memset(u, 0xab, sizeof(u));
	h_run(h, 0, create_fn, &op);
	assert_int_equal(op.rc, 0);
	assert_memory_equal(nvmft_bdev_uuid(op.bdev), u, 16);
}

/* ---- events and removal ---- */

static void test_hot_remove_sends_event_fails_io_and_destroys_after_close(void **state)
{
	struct h *h = *state;
	struct h_desc d;
	struct nvmft_io_channel *ch;
	struct tb *tb = tb_new(h, "hr", 64, TB_ALL, 0, false, false);
	struct h_delete_op del = { .h = h, .name = "hr" };
	uint8_t buf[512];
	struct iovec iov = { buf, 512 };
	uint16_t st;

	assert_int_equal(h_open(h, &d, "hr", true), 0);
	ch = h_get_chan(h, 1, &d);
	assert_non_null(ch);
	sem_init(&del.done, 0, 0);
	h_run(h, 0, h_delete_fn, &del);
	assert_int_equal(del.rc, 0);
	assert_true(sem_wait_bounded(&d.ev, H_WAIT_SEC));
	assert_int_equal(d.events[NVMFT_BDEV_EVENT_REMOVE], 1);

	/* Removed: I/O refused, new opens refused, nothing destroyed yet. */
	assert_int_equal(h_io(h, 1, &d, ch, NVMFT_IO_READ, 0, 1, &iov, 1, &st), -ENODEV);
	{
		struct h_desc d2;

		assert_int_equal(h_open(h, &d2, "hr", false), -EBUSY);
		sem_destroy(&d2.ev);
	}
	assert_true(sem_stays_unposted(&del.done, 50));
	assert_int_equal(tb->destroyed, 0);

	h_close(&d);
	/* Still a channel: destroy waits for it. */
	assert_true(sem_stays_unposted(&del.done, 50));
	assert_int_equal(tb->destroyed, 0);
	h_put_chan(h, 1, ch);
	assert_true(sem_wait_bounded(&del.done, H_WAIT_SEC));
	assert_int_equal(del.done_rc, 0);
	assert_int_equal(tb->destroyed, 1);
	assert_int_equal(tb->ch_created, 1);
	assert_int_equal(tb->ch_destroyed, 1);
	sem_destroy(&del.done);

	/* The name is free again. */
	assert_int_equal(mk(h, "hr", 8, 512, false, NULL), 0);
	tb_free(tb);
}

struct hot_remove_op {
	struct nvmft_bdev *bdev;
};

/* Twice in one go: the second report, while removing, is a no-op. */
static void hot_remove_twice_fn(void *arg)
{
	nvmft_bdev_hot_remove(((struct hot_remove_op *)arg)->bdev);
	nvmft_bdev_hot_remove(((struct hot_remove_op *)arg)->bdev);
}

static void test_backend_hot_remove_closes_via_event(void **state)
{
	struct h *h = *state;
	struct h_desc d;
	struct tb *tb = tb_new(h, "hr2", 64, TB_ALL, 0, false, false);
	struct hot_remove_op op = { .bdev = tb->bdev };
	struct lookup_op lk = { .h = h, .name = "hr2" };
	int i;

	assert_int_equal(h_open(h, &d, "hr2", true), 0);
	d.close_on_remove = true;
	h_run(h, 0, hot_remove_twice_fn, &op);
	assert_true(sem_wait_bounded(&d.ev, H_WAIT_SEC));
	assert_int_equal(d.events[NVMFT_BDEV_EVENT_REMOVE], 1);
	/* No channel, descriptor closed in the event: it goes away alone. */
	for (i = 0; i < 1000 && tb->destroyed == 0; i++)
		usleep(1000);
	assert_int_equal(tb->destroyed, 1);
	for (i = 0; i < 1000; i++) {
		h_run(h, 0, get_fn, &lk);
		if (!lk.bdev)
			break;
		usleep(1000);
	}
	assert_null(lk.bdev);
	h_close(&d);
	tb_free(tb);
}

static void test_delete_unknown_is_enoent(void **state)
{
	struct h *h = *state;
	struct h_delete_op del = { .h = h, .name = "ghost" };

	sem_init(&del.done, 0, 0);
	h_run(h, 0, h_delete_fn, &del);
	assert_int_equal(del.rc, -ENOENT);
	sem_destroy(&del.done);
}

struct resize_op {
	struct nvmft_bdev *bdev;
	uint64_t n;
	bool available;
	int rc;
};

static void resize_fn(void *arg)
{
	struct resize_op *op = arg;

	op->rc = nvmft_bdev_notify_resize(op->bdev, op->n);
}

static void avail_fn(void *arg)
{
	struct resize_op *op = arg;

	nvmft_bdev_set_available(op->bdev, op->available);
}

static void test_resize_and_media_events_reach_every_descriptor(void **state)
{
	struct h *h = *state;
	struct h_desc d1, d2;
	struct nvmft_io_channel *ch;
	struct tb *tb = tb_new(h, "rs", 64, TB_ALL, 0, false, false);
	struct resize_op op = { .bdev = tb->bdev, .n = 128 };
	uint8_t buf[512];
	struct iovec iov = { buf, 512 };
	uint16_t st;

	assert_int_equal(h_open(h, &d1, "rs", true), 0);
	assert_int_equal(h_open(h, &d2, "rs", false), 0);
	ch = h_get_chan(h, 0, &d1);
	assert_int_equal(h_io(h, 0, &d1, ch, NVMFT_IO_READ, 64, 1, &iov, 1, &st), -EINVAL);

	tb->num_blocks = 128;
	tb->data = realloc(tb->data, 128 * 512);
	memset(tb->data + 64 * 512, 0, 64 * 512);
	h_run(h, 0, resize_fn, &op);
	assert_int_equal(op.rc, 0);
	assert_true(sem_wait_bounded(&d1.ev, H_WAIT_SEC));
	assert_true(sem_wait_bounded(&d2.ev, H_WAIT_SEC));
	assert_int_equal(d1.events[NVMFT_BDEV_EVENT_RESIZE], 1);
	assert_int_equal(d2.events[NVMFT_BDEV_EVENT_RESIZE], 1);
	assert_int_equal(nvmft_bdev_num_blocks(tb->bdev), 128);
	assert_int_equal(h_io(h, 0, &d1, ch, NVMFT_IO_READ, 64, 1, &iov, 1, &st), 0);
	assert_int_equal(st, 0);

	/* Same size: no event. Zero: refused. */
	h_run(h, 0, resize_fn, &op);
	assert_int_equal(op.rc, 0);
	op.n = 0;
	h_run(h, 0, resize_fn, &op);
	assert_int_equal(op.rc, -EINVAL);
	assert_true(sem_stays_unposted(&d1.ev, 30));

	op.available = false;
	h_run(h, 0, avail_fn, &op);
	assert_true(sem_wait_bounded(&d1.ev, H_WAIT_SEC));
	assert_true(sem_wait_bounded(&d2.ev, H_WAIT_SEC));
	assert_int_equal(d1.events[NVMFT_BDEV_EVENT_MEDIA], 1);
	assert_int_equal(d2.events[NVMFT_BDEV_EVENT_MEDIA], 1);
	assert_false(nvmft_bdev_is_available(tb->bdev));
	h_run(h, 0, avail_fn, &op);	/* unchanged: no event */
	assert_true(sem_stays_unposted(&d1.ev, 30));
	assert_int_equal(d1.events[NVMFT_BDEV_EVENT_MEDIA], 1);

	h_put_chan(h, 0, ch);
	h_close(&d1);
	h_close(&d2);
	assert_int_equal(h_teardown(state), 0);
	*state = NULL;
	tb_free(tb);
}

static void test_registry_destroy_removes_every_bdev(void **state)
{
	struct h *h = *state;
	struct tb *t1 = tb_new(h, "t1", 64, TB_ALL, 0, false, false);
	struct tb *t2 = tb_new(h, "t2", 64, TB_RW, 0, false, false);
	struct h_desc d;

	assert_int_equal(mk(h, "m", 64, 512, false, NULL), 0);
	assert_int_equal(mk(h, "n", 64, 512, true, NULL), 0);
	assert_int_equal(h_open(h, &d, "t1", true), 0);
	d.close_on_remove = true;
	assert_int_equal(h_teardown(state), 0);
	*state = NULL;
	assert_int_equal(d.events[NVMFT_BDEV_EVENT_REMOVE], 1);
	assert_int_equal(t1->destroyed, 1);
	assert_int_equal(t2->destroyed, 1);
	sem_destroy(&d.ev);
	tb_free(t1);
	tb_free(t2);
}

/* ---- channels and stats ---- */

static void test_channel_per_reactor_created_and_destroyed(void **state)
{
	struct h *h = *state;
	struct tb *tb = tb_new(h, "chn", 64, TB_ALL, 0, false, false);
	struct nvmft_io_channel *c0, *c1, *c1b;
	uint8_t buf[512];
	struct iovec iov = { buf, 512 };
	struct h_desc d;
	uint16_t st;
	int i;

	assert_int_equal(h_open(h, &d, "chn", true), 0);
	c0 = h_get_chan(h, 0, &d);
	c1 = h_get_chan(h, 1, &d);
	c1b = h_get_chan(h, 1, &d);
	assert_non_null(c0);
	assert_non_null(c1);
	assert_ptr_equal(c1, c1b);
	assert_ptr_not_equal(c0, c1);
	assert_int_equal(tb->ch_created, 2);

	memset(buf, 1, sizeof(buf));
	assert_int_equal(h_io(h, 0, &d, c0, NVMFT_IO_WRITE, 1, 1, &iov, 1, &st), 0);
	assert_int_equal(st, 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(h_io(h, 1, &d, c1, NVMFT_IO_READ, 1, 1, &iov, 1, &st), 0);
	assert_int_equal(st, 0);
	assert_int_equal(buf[0], 1);
	assert_int_equal(tb->rec[0].reactor, 0);
	assert_int_equal(tb->rec[1].reactor, 1);

	h_put_chan(h, 1, c1b);
	h_put_chan(h, 1, c1);
	h_put_chan(h, 0, c0);
	for (i = 0; i < 1000 && tb->ch_destroyed < 2; i++)
		usleep(1000);
	assert_int_equal(tb->ch_destroyed, 2);
	h_close(&d);
	assert_int_equal(h_teardown(state), 0);
	*state = NULL;
	tb_free(tb);
}

struct stats_op {
	struct nvmft_bdev *bdev;
	struct nvmft_bdev_stats st;
	int rc;
	sem_t done;
};

static void stats_done(void *arg)
{
	sem_post(&((struct stats_op *)arg)->done);
}

static void stats_fn(void *arg)
{
	struct stats_op *op = arg;

	op->rc = nvmft_bdev_get_stats(op->bdev, &op->st, stats_done, op);
	if (op->rc)
		sem_post(&op->done);
}

static void test_stats_sum_channels_of_both_reactors(void **state)
{
	struct h *h = *state;
	struct nvmft_io_channel *c0, *c1;
	struct stats_op op;
	struct nvmft_bdev *bd;
	uint8_t buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct h_desc d;
	uint16_t st;
	int i;

	assert_int_equal(mk(h, "st", 64, 512, false, &bd), 0);
	assert_int_equal(h_open(h, &d, "st", true), 0);
	c0 = h_get_chan(h, 0, &d);
	c1 = h_get_chan(h, 1, &d);
	for (i = 0; i < 3; i++)
		assert_int_equal(h_io(h, 0, &d, c0, NVMFT_IO_WRITE, 0, 8, &iov, 1, &st), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(h_io(h, 1, &d, c1, NVMFT_IO_READ, 8, 8, &iov, 1, &st), 0);
	fill_pattern(buf, sizeof(buf), 9);
	assert_int_equal(h_io(h, 1, &d, c1, NVMFT_IO_COMPARE, 8, 8, &iov, 1, &st), 0);
	assert_int_not_equal(st, 0);

	memset(&op, 0, sizeof(op));
	op.bdev = bd;
	sem_init(&op.done, 0, 0);
	h_run(h, 1, stats_fn, &op);
	assert_true(sem_wait_bounded(&op.done, H_WAIT_SEC));
	assert_int_equal(op.rc, 0);
	assert_int_equal(op.st.ops[NVMFT_IO_WRITE], 3);
	assert_int_equal(op.st.ops[NVMFT_IO_READ], 2);
	assert_int_equal(op.st.ops[NVMFT_IO_COMPARE], 1);
	assert_int_equal(op.st.bytes_written, 3 * 4096);
	assert_int_equal(op.st.bytes_read, 2 * 4096);
	assert_int_equal(op.st.errors, 1);

	/* Counters of a destroyed channel are kept. */
	h_put_chan(h, 1, c1);
	usleep(20000);
	h_run(h, 0, stats_fn, &op);
	assert_true(sem_wait_bounded(&op.done, H_WAIT_SEC));
	assert_int_equal(op.st.ops[NVMFT_IO_READ], 2);
	assert_int_equal(op.st.ops[NVMFT_IO_WRITE], 3);
	sem_destroy(&op.done);
	h_put_chan(h, 0, c0);
	h_close(&d);
}

struct dump_op {
	struct nvmft_bdev *bdev;
	struct json_object *obj;
	int rc;
};

static void dump_fn(void *arg)
{
	struct dump_op *op = arg;

	op->rc = nvmft_bdev_dump_info(op->bdev, op->obj);
}

static void test_malloc_dump_info_has_size_and_uuid(void **state)
{
	struct h *h = *state;
	struct dump_op op = { 0 };
	struct json_object *v;
	char uuid[37];

	assert_int_equal(mk(h, "dump", 77, 4096, false, &op.bdev), 0);
	op.obj = json_object_new_object();
	h_run(h, 0, dump_fn, &op);
	assert_int_equal(op.rc, 0);
	assert_true(json_object_object_get_ex(op.obj, "num_blocks", &v));
	assert_int_equal(json_object_get_int64(v), 77);
	assert_true(json_object_object_get_ex(op.obj, "block_size", &v));
	assert_int_equal(json_object_get_int(v), 4096);
	assert_true(json_object_object_get_ex(op.obj, "uuid", &v));
	bdev_uuid_format(nvmft_bdev_uuid(op.bdev), uuid);
	assert_string_equal(json_object_get_string(v), uuid);
	json_object_put(op.obj);
}

static int h_teardown_maybe(void **state)
{
	if (!*state)
		return 0;
	return h_teardown(state);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, h_setup, h_teardown_maybe)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_registry_get_and_foreach_in_creation_order),
		T(test_registry_duplicate_name_is_eexist),
		T(test_registry_bad_parameters_are_einval),
		T(test_register_rejects_bad_block_size_and_ctx_size),
		T(test_malloc_roundtrip_multi_iov_512),
		T(test_malloc_roundtrip_multi_iov_4096),
		T(test_null_reads_zeroes_and_drops_writes),
		T(test_submit_range_checks_are_einval),
		T(test_readonly_descriptor_write_is_ebadf),
		T(test_malloc_write_zeroes_and_unmap_read_back_zeroes),
		T(test_malloc_compare_match_and_mismatch_status),
		T(test_uuid_stable_and_distinct_per_name),
		T(test_uuid_v5_matches_rfc4122_reference),
		T(test_given_uuid_is_kept),
		T(test_hot_remove_sends_event_fails_io_and_destroys_after_close),
		T(test_backend_hot_remove_closes_via_event),
		T(test_delete_unknown_is_enoent),
		T(test_resize_and_media_events_reach_every_descriptor),
		T(test_registry_destroy_removes_every_bdev),
		T(test_channel_per_reactor_created_and_destroyed),
		T(test_stats_sum_channels_of_both_reactors),
		T(test_malloc_dump_info_has_size_and_uuid),
	};

	return cmocka_run_group_tests_name("bdev", tests, NULL, NULL);
}
