// SPDX-License-Identifier: MIT
/*
 * nvmft_bdev_uring_rescan(): a file (or a loop device, root only) that
 * grows or shrinks under a uring bdev; the new size reaches the bdev and
 * an open descriptor gets exactly one RESIZE event, an unchanged size
 * none, and I/O follows the new end.
 */
#include "test_bdev_harness.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/loop.h>

#define MiB		(1u << 20)

struct rt {
	struct h *h;
	char dir[48];
	char path[96];
	int loop_fd;
	struct h_desc d;
	bool opened;
	struct nvmft_io_channel *ch;
};

static int setup(void **state)
{
	struct rt *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	h_setup((void **)&r->h);
	nvmft_runtime_set_log(r->h->rt, NVMFT_LOG_ERR, NULL, NULL);
	r->loop_fd = -1;
	/* /var/tmp: on disk where /tmp may be a tmpfs. */
	snprintf(r->dir, sizeof(r->dir), "/var/tmp/nvmft-rescan-XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->path, sizeof(r->path), "%s/disk.img", r->dir);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rt *r = *state;

	if (r->opened) {
		h_put_chan(r->h, 1, r->ch);
		h_close(&r->d);
	}
	assert_int_equal(h_teardown((void **)&r->h), 0);
	if (r->loop_fd >= 0) {
		ioctl(r->loop_fd, LOOP_CLR_FD, 0);
		close(r->loop_fd);
	}
	unlink(r->path);
	rmdir(r->dir);
	free(r);
	return 0;
}

static void set_size(const char *path, off_t size)
{
	int fd = open(path, O_RDWR | O_CREAT, 0600);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
}

struct op {
	struct rt *r;
	const char *name;
	const char *filename;
	bool buffered;
	int rc;
};

static void create_fn(void *arg)
{
	struct op *o = arg;
	struct nvmft_bdev_uring_opts u = {
		.name = o->name, .filename = o->filename, .block_size = 512,
		.buffered = o->buffered,
	};

	o->rc = nvmft_bdev_uring_create(o->r->h->reg, &u, NULL);
}

static void rescan_fn(void *arg)
{
	struct op *o = arg;

	o->rc = nvmft_bdev_uring_rescan(o->r->h->reg, o->name);
}

static int rescan(struct rt *r, const char *name)
{
	struct op o = { .r = r, .name = name };

	h_run(r->h, 0, rescan_fn, &o);
	return o.rc;
}

/* "u0" on @filename, open for writing, with a channel on reactor 1. */
static void open_u0(struct rt *r, const char *filename)
{
	struct op o = { .r = r, .name = "u0", .filename = filename };

	h_run(r->h, 0, create_fn, &o);
	if (o.rc == -EINVAL) {
		/* A file system without O_DIRECT. */
		o.buffered = true;
		h_run(r->h, 0, create_fn, &o);
	}
	assert_int_equal(o.rc, 0);
	assert_int_equal(h_open(r->h, &r->d, "u0", true), 0);
	r->ch = h_get_chan(r->h, 1, &r->d);
	assert_non_null(r->ch);
	r->opened = true;
}

static uint64_t blocks_of(struct rt *r)
{
	return nvmft_bdev_num_blocks(nvmft_bdev_desc_get_bdev(r->d.desc));
}

/* One 4 KiB read or write at block @off on reactor 1: the submit rc. */
static int rw(struct rt *r, enum nvmft_io_type type, uint64_t off, uint16_t *st)
{
	static uint8_t buf[4096] __attribute__((aligned(4096)));
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };

	return h_io(r->h, 1, &r->d, r->ch, type, off, sizeof(buf) / 512, &iov, 1, st);
}

static void grown_file_is_rescanned_and_reported_once(void **state)
{
	struct rt *r = *state;
	uint16_t st = 0xffff;

	set_size(r->path, 4 * MiB);
	open_u0(r, r->path);
	assert_int_equal(blocks_of(r), 4 * MiB / 512);
	/* Beyond the old end: refused before the file is asked. */
	assert_int_equal(rw(r, NVMFT_IO_WRITE, 4 * MiB / 512, &st), -EINVAL);

	set_size(r->path, 8 * MiB);
	assert_int_equal(rescan(r, "u0"), 0);
	assert_true(sem_wait_bounded(&r->d.ev, H_WAIT_SEC));
	assert_int_equal(r->d.events[NVMFT_BDEV_EVENT_RESIZE], 1);
	assert_int_equal(blocks_of(r), 8 * MiB / 512);
	/* The new blocks serve I/O, to the very last one. */
	assert_int_equal(rw(r, NVMFT_IO_WRITE, 4 * MiB / 512, &st), 0);
	assert_int_equal(st, 0);
	assert_int_equal(rw(r, NVMFT_IO_READ, 8 * MiB / 512 - 8, &st), 0);
	assert_int_equal(st, 0);
	assert_int_equal(r->d.events[NVMFT_BDEV_EVENT_REMOVE], 0);
}

static void unchanged_size_sends_no_event(void **state)
{
	struct rt *r = *state;

	set_size(r->path, 4 * MiB);
	open_u0(r, r->path);
	assert_int_equal(rescan(r, "u0"), 0);
	/* A few bytes more, still short of a whole block: same block count. */
	set_size(r->path, 4 * MiB + 100);
	assert_int_equal(rescan(r, "u0"), 0);
	assert_true(sem_stays_unposted(&r->d.ev, 200));
	assert_int_equal(r->d.events[NVMFT_BDEV_EVENT_RESIZE], 0);
	assert_int_equal(blocks_of(r), 4 * MiB / 512);
}

static void shrunken_file_is_reported_and_io_beyond_the_end_refused(void **state)
{
	struct rt *r = *state;
	uint16_t st = 0xffff;

	set_size(r->path, 8 * MiB);
	open_u0(r, r->path);
	assert_int_equal(rw(r, NVMFT_IO_WRITE, 6 * MiB / 512, &st), 0);
	assert_int_equal(st, 0);
	set_size(r->path, 4 * MiB);
	assert_int_equal(rescan(r, "u0"), 0);
	assert_true(sem_wait_bounded(&r->d.ev, H_WAIT_SEC));
	assert_int_equal(r->d.events[NVMFT_BDEV_EVENT_RESIZE], 1);
	assert_int_equal(blocks_of(r), 4 * MiB / 512);
	assert_int_equal(rw(r, NVMFT_IO_READ, 6 * MiB / 512, &st), -EINVAL);
	assert_int_equal(rw(r, NVMFT_IO_READ, 0, &st), 0);
	assert_int_equal(st, 0);
}

static void file_below_one_block_keeps_the_old_size(void **state)
{
	struct rt *r = *state;

	set_size(r->path, 4 * MiB);
	open_u0(r, r->path);
	set_size(r->path, 100);
	assert_int_equal(rescan(r, "u0"), -EINVAL);
	assert_int_equal(blocks_of(r), 4 * MiB / 512);
	assert_int_equal(r->d.events[NVMFT_BDEV_EVENT_RESIZE], 0);
}

static void malloc_fn(void *arg)
{
	struct op *o = arg;

	o->rc = nvmft_bdev_malloc_create(o->r->h->reg, o->name, 128, 512, NULL, NULL);
}

static void unknown_or_foreign_bdev_is_refused(void **state)
{
	struct rt *r = *state;
	struct op o = { .r = r, .name = "m0" };

	assert_int_equal(rescan(r, "nope"), -ENOENT);
	h_run(r->h, 0, malloc_fn, &o);
	assert_int_equal(o.rc, 0);
	assert_int_equal(rescan(r, "m0"), -EINVAL);
	assert_int_equal(nvmft_bdev_uring_rescan(NULL, "m0"), -EINVAL);
}

/* A loop device whose backing file grew: LOOP_SET_CAPACITY, then rescan. */
static void grown_block_device_is_rescanned(void **state)
{
	struct rt *r = *state;
	char dev[32];
	int ctl, nr, fd;

	if (geteuid() != 0) {
		printf("SKIP: loop devices need root\n");
		skip();
	}
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		printf("SKIP: no /dev/loop-control: %s\n", strerror(errno));
		skip();
	}
	nr = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (nr < 0) {
		printf("SKIP: no free loop device\n");
		skip();
	}
	snprintf(dev, sizeof(dev), "/dev/loop%d", nr);
	set_size(r->path, 4 * MiB);
	r->loop_fd = open(dev, O_RDWR | O_CLOEXEC);
	fd = open(r->path, O_RDWR | O_CLOEXEC);
	if (r->loop_fd < 0 || fd < 0 || ioctl(r->loop_fd, LOOP_SET_FD, fd) < 0) {
		printf("SKIP: cannot attach %s: %s\n", dev, strerror(errno));
		if (fd >= 0)
			close(fd);
		skip();
	}
	close(fd);
	open_u0(r, dev);
	assert_int_equal(blocks_of(r), 4 * MiB / 512);
	set_size(r->path, 12 * MiB);
	assert_int_equal(ioctl(r->loop_fd, LOOP_SET_CAPACITY, 0), 0);
	assert_int_equal(rescan(r, "u0"), 0);
	assert_true(sem_wait_bounded(&r->d.ev, H_WAIT_SEC));
	assert_int_equal(r->d.events[NVMFT_BDEV_EVENT_RESIZE], 1);
	assert_int_equal(blocks_of(r), 12 * MiB / 512);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(grown_file_is_rescanned_and_reported_once, setup, teardown),
		cmocka_unit_test_setup_teardown(unchanged_size_sends_no_event, setup, teardown),
		cmocka_unit_test_setup_teardown(shrunken_file_is_reported_and_io_beyond_the_end_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(file_below_one_block_keeps_the_old_size, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_or_foreign_bdev_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(grown_block_device_is_rescanned, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
