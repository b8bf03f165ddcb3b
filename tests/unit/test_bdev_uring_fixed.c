// SPDX-License-Identifier: MIT
/*
 * Registered files and fixed buffers of the uring backend, on a runtime of
 * two reactors and real files in a temporary directory: which path each
 * I/O took is read from the backend's counters (dump_info), and every
 * transfer is checked against the file read with plain system calls.
 */
#include "test_bdev_harness.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <json-c/json.h>

#include "runtime/engine.h"
#include "runtime/runtime_priv.h"

#define MiB		(1u << 20)
#define NR_MANY		40

struct ut {
	struct h *h;
	char dir[48];
	char path[128];
};

struct counts {
	uint64_t fixed_file, plain_fd, fixed_buf, plain_buf;
};

static struct ut *ut_new(struct h *h)
{
	struct ut *u = calloc(1, sizeof(*u));

	assert_non_null(u);
	u->h = h;
	snprintf(u->dir, sizeof(u->dir), "/var/tmp/nvmft-ufix-XXXXXX");
	assert_non_null(mkdtemp(u->dir));
	return u;
}

static int setup(void **state)
{
	h_setup(state);
	*state = ut_new(*state);
	return 0;
}

static int setup_epoll(void **state)
{
	struct nvmft_runtime_opts o;
	struct h *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	nvmft_runtime_opts_init(&o);
	o.nr_reactors = 2;
	o.name = "tufix";
	o.engine = NVMFT_ENGINE_EPOLL;
	assert_int_equal(nvmft_runtime_create(&o, &h->rt), 0);
	assert_int_equal(nvmft_runtime_start(h->rt), 0);
	assert_int_equal(nvmft_bdev_registry_create(h->rt, &h->reg), 0);
	*state = ut_new(h);
	return 0;
}

static int teardown(void **state)
{
	struct ut *u = *state;
	struct h *h = u->h;
	char cmd[128];

	assert_int_equal(h_teardown((void **)&h), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", u->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", u->dir);
	free(u);
	return 0;
}

static const char *ut_file(struct ut *u, const char *name, off_t size)
{
	int fd;

	snprintf(u->path, sizeof(u->path), "%s/%s", u->dir, name);
	fd = open(u->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
	return u->path;
}

struct create_op {
	struct h *h;
	struct nvmft_bdev_uring_opts o;
	struct nvmft_bdev *bdev;
	int rc;
};

static void create_fn(void *arg)
{
	struct create_op *c = arg;

	c->rc = nvmft_bdev_uring_create(c->h->reg, &c->o, &c->bdev);
}

static struct nvmft_bdev *ut_create(struct ut *u, const char *name, const char *path)
{
	struct create_op c = { .h = u->h, .o = { .name = name, .filename = path } };

	h_run(u->h, 0, create_fn, &c);
	assert_int_equal(c.rc, 0);
	return c.bdev;
}

struct dump_op {
	struct nvmft_bdev *bdev;
	struct counts c;
	bool has;
};

static uint64_t get_u64(struct json_object *o, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return (uint64_t)json_object_get_int64(v);
}

static void dump_fn(void *arg)
{
	struct dump_op *d = arg;
	struct json_object *obj = json_object_new_object(), *io;

	assert_int_equal(nvmft_bdev_dump_info(d->bdev, obj), 0);
	d->has = json_object_object_get_ex(obj, "io_uring", &io);
	if (d->has) {
		d->c.fixed_file = get_u64(io, "fixed_file_ops");
		d->c.plain_fd = get_u64(io, "plain_fd_ops");
		d->c.fixed_buf = get_u64(io, "fixed_buffer_ops");
		d->c.plain_buf = get_u64(io, "plain_buffer_ops");
	}
	json_object_put(obj);
}

static struct counts ut_counts(struct ut *u, struct nvmft_bdev *bdev)
{
	struct dump_op d = { .bdev = bdev };

	h_run(u->h, 0, dump_fn, &d);
	assert_true(d.has);
	return d.c;
}

static uint16_t ut_io(struct h_desc *d, struct nvmft_io_channel *ch, unsigned int r,
		      enum nvmft_io_type type, uint32_t flags, uint64_t off_blocks,
		      struct iovec *iov, int iovcnt)
{
	struct h_io t;
	uint64_t len = 0;
	int i;

	for (i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	h_io_init(&t, d, ch, type, off_blocks, len / 512, iov, iovcnt);
	t.io.flags = flags;
	assert_int_equal(h_io_start(d->h, r, &t), 0);
	return h_io_wait(&t);
}

static uint16_t ut_rw(struct h_desc *d, struct nvmft_io_channel *ch, unsigned int r,
		      enum nvmft_io_type type, uint64_t off_blocks, void *buf, size_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	return ut_io(d, ch, r, type, 0, off_blocks, &iov, 1);
}

static void assert_file_has(const char *path, off_t off, const void *want, size_t len)
{
	uint8_t *got = malloc(len);
	int fd = open(path, O_RDONLY);

	assert_non_null(got);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, got, len, off), (ssize_t)len);
	close(fd);
	assert_memory_equal(got, want, len);
	free(got);
}

static void *abuf(size_t len)
{
	void *p = aligned_alloc(4096, len);

	assert_non_null(p);
	return p;
}

/* ---- engine calls, run on a reactor ---- */

struct eng_op {
	void *base;
	size_t len;
	int fd;
	int rc;
	unsigned int used;
	int slots[RT_FILE_SLOTS];
	int nslots;
};

static void buf_register_fn(void *arg)
{
	struct eng_op *e = arg;

	e->rc = thread_buf_register(nvmft_get_thread(), e->base, e->len);
}

static void buf_unregister_fn(void *arg)
{
	struct eng_op *e = arg;

	thread_buf_unregister(nvmft_get_thread(), e->rc);
}

static void buf_lookup_fn(void *arg)
{
	struct eng_op *e = arg;

	e->rc = thread_buf_lookup(nvmft_get_thread(), e->base, e->len);
}

static void slots_used_fn(void *arg)
{
	struct eng_op *e = arg;

	e->used = thread_file_slots_used(nvmft_get_thread());
}

/* Take every free file slot of the reactor with copies of e->fd. */
static void fill_slots_fn(void *arg)
{
	struct eng_op *e = arg;
	int rc;

	e->nslots = 0;
	while ((rc = thread_file_register(nvmft_get_thread(), e->fd)) >= 0)
		e->slots[e->nslots++] = rc;
	e->rc = rc;
}

static void free_slots_fn(void *arg)
{
	struct eng_op *e = arg;
	int i;

	for (i = 0; i < e->nslots; i++)
		thread_file_unregister(nvmft_get_thread(), e->slots[i]);
	e->nslots = 0;
}

static unsigned int slots_used(struct h *h, unsigned int r)
{
	struct eng_op e = { 0 };

	h_run(h, r, slots_used_fn, &e);
	return e.used;
}

/* ---- one bdev opened with a channel on each reactor ---- */

struct one {
	struct nvmft_bdev *bdev;
	struct h_desc d;
	struct nvmft_io_channel *ch[2];
};

static void one_open(struct ut *u, struct one *o, const char *name, const char *path)
{
	unsigned int i;

	o->bdev = ut_create(u, name, path);
	assert_int_equal(h_open(u->h, &o->d, name, true), 0);
	for (i = 0; i < 2; i++) {
		o->ch[i] = h_get_chan(u->h, i, &o->d);
		assert_non_null(o->ch[i]);
	}
}

static void one_close(struct ut *u, struct one *o)
{
	unsigned int i;

	for (i = 0; i < 2; i++)
		h_put_chan(u->h, i, o->ch[i]);
	h_close(&o->d);
}

static void one_delete(struct ut *u, const char *name)
{
	struct h_delete_op op = { .h = u->h, .name = name };

	sem_init(&op.done, 0, 0);
	h_run(u->h, 0, h_delete_fn, &op);
	assert_int_equal(op.rc, 0);
	assert_true(sem_wait_bounded(&op.done, H_WAIT_SEC));
	assert_int_equal(op.done_rc, 0);
	sem_destroy(&op.done);
}

/* Write @len bytes of pattern @seed from @w at @blk on reactor @r, read them into @rd. */
static void rw_verify(struct ut *u, struct one *o, unsigned int r, uint64_t blk,
		      uint8_t *w, uint8_t *rd, size_t len, unsigned int seed)
{
	fill_pattern(w, len, seed);
	memset(rd, 0, len);
	assert_int_equal(ut_rw(&o->d, o->ch[r], r, NVMFT_IO_WRITE, blk, w, len), 0);
	assert_file_has(u->path, (off_t)(blk * 512), w, len);
	assert_int_equal(ut_rw(&o->d, o->ch[r], r, NVMFT_IO_READ, blk, rd, len), 0);
	assert_memory_equal(rd, w, len);
}

/* ---- tests ---- */

static void test_io_goes_through_registered_files(void **state)
{
	struct ut *u = *state;
	uint8_t *w = abuf(8192), *rd = abuf(8192);
	struct one o;
	struct counts c;
	unsigned int before = slots_used(u->h, 0);
	struct iovec fl = { 0 };

	one_open(u, &o, "f0", ut_file(u, "f0.img", 4 * MiB));
	/* The O_DIRECT descriptor and the page-cache one. */
	assert_int_equal(slots_used(u->h, 0), before + 2);
	assert_int_equal(slots_used(u->h, 1), before + 2);
	rw_verify(u, &o, 0, 8, w, rd, 8192, 1);
	rw_verify(u, &o, 1, 64, w, rd, 4096, 2);
	/* Misaligned: the page-cache descriptor, registered as well. */
	rw_verify(u, &o, 0, 3, w + 512, rd + 512, 1024, 3);
	assert_int_equal(ut_io(&o.d, o.ch[0], 0, NVMFT_IO_FLUSH, 0, 0, &fl, 0), 0);
	c = ut_counts(u, o.bdev);
	assert_true(c.fixed_file >= 7);
	assert_int_equal(c.plain_fd, 0);
	one_close(u, &o);
	one_delete(u, "f0");
	assert_int_equal(slots_used(u->h, 0), before);
	assert_int_equal(slots_used(u->h, 1), before);
	free(w);
	free(rd);
}

static void test_registered_region_goes_fixed_and_other_memory_goes_plain(void **state)
{
	struct ut *u = *state;
	size_t rlen = MiB;
	uint8_t *region = abuf(rlen), *w = abuf(8192), *rd = abuf(8192);
	struct eng_op reg = { .base = region, .len = rlen };
	struct iovec two[2];
	struct counts c0, c;
	struct one o;

	memset(region, 0, rlen);
	one_open(u, &o, "b0", ut_file(u, "b0.img", 4 * MiB));
	h_run(u->h, 0, buf_register_fn, &reg);
	assert_true(reg.rc >= 0);
	c0 = ut_counts(u, o.bdev);

	/* Inside the region, on the reactor that registered it: fixed. */
	rw_verify(u, &o, 0, 16, region + 8192, region + 65536, 4096, 4);
	c = ut_counts(u, o.bdev);
	assert_int_equal(c.fixed_buf - c0.fixed_buf, 2);
	assert_int_equal(c.plain_buf - c0.plain_buf, 0);

	/* FUA still works on WRITE_FIXED. */
	fill_pattern(region, 4096, 5);
	two[0] = (struct iovec){ .iov_base = region, .iov_len = 4096 };
	assert_int_equal(ut_io(&o.d, o.ch[0], 0, NVMFT_IO_WRITE, NVMFT_IO_FLAG_FUA,
			       40, two, 1), 0);
	assert_file_has(u->path, 40 * 512, region, 4096);
	c0 = ut_counts(u, o.bdev);
	assert_int_equal(c0.fixed_buf - c.fixed_buf, 1);

	/* Heap memory: plain. */
	rw_verify(u, &o, 0, 80, w, rd, 8192, 6);
	c = ut_counts(u, o.bdev);
	assert_int_equal(c.fixed_buf, c0.fixed_buf);
	assert_int_equal(c.plain_buf - c0.plain_buf, 2);

	/* The region of another reactor's ring: plain on this one. */
	rw_verify(u, &o, 1, 96, region + 8192, region + 65536, 4096, 7);
	c0 = ut_counts(u, o.bdev);
	assert_int_equal(c0.fixed_buf, c.fixed_buf);
	assert_int_equal(c0.plain_buf - c.plain_buf, 2);

	/* Two segments, even inside the region: one vectored SQE. */
	fill_pattern(region, 8192, 8);
	two[0] = (struct iovec){ .iov_base = region, .iov_len = 4096 };
	two[1] = (struct iovec){ .iov_base = region + 4096, .iov_len = 4096 };
	assert_int_equal(ut_io(&o.d, o.ch[0], 0, NVMFT_IO_WRITE, 0, 120, two, 2), 0);
	assert_file_has(u->path, 120 * 512, region, 8192);
	c = ut_counts(u, o.bdev);
	assert_int_equal(c.fixed_buf, c0.fixed_buf);
	assert_int_equal(c.plain_buf - c0.plain_buf, 1);

	/* Only a range wholly inside the region is fixed. */
	{
		struct eng_op lk = { .base = region + rlen - 4096, .len = 8192 };

		h_run(u->h, 0, buf_lookup_fn, &lk);
		assert_int_equal(lk.rc, -1);
		lk.len = 4096;
		h_run(u->h, 0, buf_lookup_fn, &lk);
		assert_int_equal(lk.rc, reg.rc);
	}

	one_close(u, &o);
	h_run(u->h, 0, buf_unregister_fn, &reg);
	{
		struct eng_op lk = { .base = region, .len = 4096 };

		h_run(u->h, 0, buf_lookup_fn, &lk);
		assert_int_equal(lk.rc, -1);
	}
	free(region);
	free(w);
	free(rd);
}

static void test_many_bdevs_get_slots_and_release_them(void **state)
{
	struct ut *u = *state;
	static struct one many[NR_MANY];
	uint8_t *w = abuf(4096), *rd = abuf(4096);
	char name[16], file[32];
	unsigned int before = slots_used(u->h, 0), i;
	struct counts c;

	for (i = 0; i < NR_MANY; i++) {
		snprintf(name, sizeof(name), "m%u", i);
		snprintf(file, sizeof(file), "m%u.img", i);
		one_open(u, &many[i], name, ut_file(u, file, MiB));
		rw_verify(u, &many[i], i % 2, i, w, rd, 4096, 100 + i);
	}
	assert_int_equal(slots_used(u->h, 0), before + 2 * NR_MANY);
	assert_int_equal(slots_used(u->h, 1), before + 2 * NR_MANY);
	for (i = 0; i < NR_MANY; i++) {
		c = ut_counts(u, many[i].bdev);
		assert_int_equal(c.fixed_file, 2);
		assert_int_equal(c.plain_fd, 0);
	}
	for (i = 0; i < NR_MANY; i++) {
		snprintf(name, sizeof(name), "m%u", i);
		one_close(u, &many[i]);
		one_delete(u, name);
	}
	assert_int_equal(slots_used(u->h, 0), before);
	assert_int_equal(slots_used(u->h, 1), before);

	/* Released slots are handed out again. */
	one_open(u, &many[0], "again", ut_file(u, "again.img", MiB));
	assert_int_equal(slots_used(u->h, 0), before + 2);
	rw_verify(u, &many[0], 0, 0, w, rd, 4096, 7);
	c = ut_counts(u, many[0].bdev);
	assert_int_equal(c.fixed_file, 2);
	one_close(u, &many[0]);
	free(w);
	free(rd);
}

static void test_full_file_table_falls_back_to_plain_descriptors(void **state)
{
	struct ut *u = *state;
	struct eng_op *e = calloc(1, sizeof(*e));
	uint8_t *w = abuf(8192), *rd = abuf(8192);
	struct counts c;
	struct one o;

	assert_non_null(e);
	e->fd = open(ut_file(u, "filler", 4096), O_RDONLY);
	assert_true(e->fd >= 0);
	h_run(u->h, 0, fill_slots_fn, e);
	assert_int_equal(e->rc, -ENOSPC);
	assert_int_equal(slots_used(u->h, 0), RT_FILE_SLOTS);

	one_open(u, &o, "p0", ut_file(u, "p0.img", MiB));
	rw_verify(u, &o, 0, 0, w, rd, 8192, 11);	/* reactor 0: plain */
	c = ut_counts(u, o.bdev);
	assert_int_equal(c.plain_fd, 2);
	assert_int_equal(c.fixed_file, 0);
	rw_verify(u, &o, 1, 16, w, rd, 8192, 12);	/* reactor 1: registered */
	c = ut_counts(u, o.bdev);
	assert_int_equal(c.plain_fd, 2);
	assert_int_equal(c.fixed_file, 2);
	one_close(u, &o);

	h_run(u->h, 0, free_slots_fn, e);
	close(e->fd);
	free(e);
	free(w);
	free(rd);
}

static void test_region_the_kernel_cannot_pin_goes_plain(void **state)
{
	struct ut *u = *state;
	size_t len = 65536;
	uint8_t *ro = mmap(NULL, len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct eng_op reg = { .base = ro, .len = len };
	struct counts c0, c;
	struct one o;

	assert_true(ro != MAP_FAILED);
	fill_pattern(ro, len, 21);
	/* Read-only: the kernel will not pin it for writing into. */
	assert_int_equal(mprotect(ro, len, PROT_READ), 0);
	one_open(u, &o, "r0", ut_file(u, "r0.img", MiB));
	h_run(u->h, 0, buf_register_fn, &reg);
	assert_true(reg.rc >= 0);
	c0 = ut_counts(u, o.bdev);
	assert_int_equal(ut_rw(&o.d, o.ch[0], 0, NVMFT_IO_WRITE, 8, ro, 4096), 0);
	assert_file_has(u->path, 8 * 512, ro, 4096);
	c = ut_counts(u, o.bdev);
	assert_int_equal(c.fixed_buf, c0.fixed_buf);
	assert_int_equal(c.plain_buf - c0.plain_buf, 1);
	one_close(u, &o);
	h_run(u->h, 0, buf_unregister_fn, &reg);
	munmap(ro, len);
}

static void test_buffer_table_limits(void **state)
{
	struct ut *u = *state;
	uint8_t *mem = abuf(RT_BUF_SLOTS * 4096 + 4096);
	struct eng_op e = { .base = mem, .len = (size_t)RT_BUF_MAX_LEN + 1 };
	int ids[RT_BUF_SLOTS];
	unsigned int i;

	h_run(u->h, 0, buf_register_fn, &e);
	assert_int_equal(e.rc, -E2BIG);
	for (i = 0; i < RT_BUF_SLOTS; i++) {
		e.base = mem + (size_t)i * 4096;
		e.len = 4096;
		h_run(u->h, 0, buf_register_fn, &e);
		assert_true(e.rc >= 0);
		ids[i] = e.rc;
	}
	e.base = mem + (size_t)RT_BUF_SLOTS * 4096;
	h_run(u->h, 0, buf_register_fn, &e);
	assert_int_equal(e.rc, -ENOSPC);
	/* Overlapping an existing region is refused. */
	e.rc = ids[3];
	h_run(u->h, 0, buf_unregister_fn, &e);
	e.base = mem + 3 * 4096 + 2048;
	h_run(u->h, 0, buf_register_fn, &e);
	assert_int_equal(e.rc, -EEXIST);
	e.base = mem + 3 * 4096;
	h_run(u->h, 0, buf_register_fn, &e);
	assert_true(e.rc >= 0);
	ids[3] = e.rc;
	for (i = 0; i < RT_BUF_SLOTS; i++) {
		e.rc = ids[i];
		h_run(u->h, 0, buf_unregister_fn, &e);
	}
	free(mem);
}

static void test_epoll_engine_registers_files_on_private_rings(void **state)
{
	struct ut *u = *state;
	uint8_t *w = abuf(8192), *rd = abuf(8192);
	struct eng_op e = { .base = w, .len = 8192 };
	struct counts c;
	struct one o;

	h_run(u->h, 0, buf_register_fn, &e);
	assert_int_equal(e.rc, -EOPNOTSUPP);
	one_open(u, &o, "e0", ut_file(u, "e0.img", MiB));
	rw_verify(u, &o, 0, 0, w, rd, 8192, 31);
	rw_verify(u, &o, 1, 32, w + 512, rd + 512, 1024, 32);
	c = ut_counts(u, o.bdev);
	assert_int_equal(c.fixed_file, 4);
	assert_int_equal(c.plain_fd, 0);
	assert_int_equal(c.fixed_buf, 0);
	assert_int_equal(c.plain_buf, 4);
	one_close(u, &o);
	free(w);
	free(rd);
}

int main(void)
{
	const struct CMUnitTest uring_tests[] = {
		cmocka_unit_test_setup_teardown(test_io_goes_through_registered_files,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_registered_region_goes_fixed_and_other_memory_goes_plain,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_bdevs_get_slots_and_release_them,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_file_table_falls_back_to_plain_descriptors,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_region_the_kernel_cannot_pin_goes_plain,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffer_table_limits,
						setup, teardown),
	};
	const struct CMUnitTest epoll_tests[] = {
		cmocka_unit_test_setup_teardown(test_epoll_engine_registers_files_on_private_rings,
						setup_epoll, teardown),
	};
	struct io_uring ring;
	int fails = 0;

	if (io_uring_queue_init(2, &ring, 0) < 0) {
		printf("SKIP: io_uring unavailable\n");
		return 77;
	}
	io_uring_queue_exit(&ring);
	fails += cmocka_run_group_tests_name("bdev_uring_fixed", uring_tests, NULL, NULL);
	fails += cmocka_run_group_tests_name("bdev_uring_fixed_epoll", epoll_tests, NULL, NULL);
	return fails ? 1 : 0;
}
