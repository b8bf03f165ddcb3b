// SPDX-License-Identifier: MIT
/*
 * The uring backend against real files (a temporary directory), a small
 * tmpfs (root only: full file system, no ZERO_RANGE) and a loop device
 * (root only), on a runtime of two reactors; one test uses the epoll
 * engine (private rings). Every I/O checks its data against the file
 * itself, read with plain system calls.
 */
#include "test_bdev_harness.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/filter.h>
#include <linux/fiemap.h>
#include <linux/loop.h>
#include <linux/magic.h>
#include <linux/seccomp.h>
#include <json-c/json.h>
#include <nvme/types.h>

#include <nvmft/nvme_wire.h>

#ifndef FS_IOC_FIEMAP
#define FS_IOC_FIEMAP	_IOWR('f', 11, struct fiemap)
#endif

#define CAP_EXCEEDED	(NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_CAP_EXCEEDED) | NVMFT_STATUS_DNR)
#define READ_ERROR	NVMFT_STATUS(NVME_SCT_MEDIA, NVME_SC_READ_ERROR)
#define COMPARE_FAILED	NVMFT_STATUS(NVME_SCT_MEDIA, NVME_SC_COMPARE_FAILED)
#define MiB		(1u << 20)

/* ---- fixture: a runtime, a temp dir, at most one uring bdev "u0" ---- */

struct ut {
	struct h *h;
	char dir[48];
	char path[128];
	char mnt[96];
	bool mounted;
	int loop_fd;
	struct h_desc d;
	bool opened;
	struct nvmft_io_channel *ch[2];
	struct nvmft_bdev *bdev;
	pthread_mutex_t log_mtx;
	char log[16384];
	size_t log_len;
};

static void ut_log(void *ctx, enum nvmft_log_level level, const char *msg)
{
	struct ut *u = ctx;
	size_t n = strlen(msg);

	(void)level;
	pthread_mutex_lock(&u->log_mtx);
	if (u->log_len + n + 2 < sizeof(u->log)) {
		memcpy(u->log + u->log_len, msg, n);
		u->log_len += n;
		u->log[u->log_len++] = '\n';
		u->log[u->log_len] = '\0';
	}
	pthread_mutex_unlock(&u->log_mtx);
}

static bool ut_log_has(struct ut *u, const char *s)
{
	bool found;

	pthread_mutex_lock(&u->log_mtx);
	found = strstr(u->log, s) != NULL;
	pthread_mutex_unlock(&u->log_mtx);
	return found;
}

static int ut_count_log(struct ut *u, const char *s)
{
	const char *p;
	int n = 0;

	pthread_mutex_lock(&u->log_mtx);
	for (p = u->log; (p = strstr(p, s)); p++)
		n++;
	pthread_mutex_unlock(&u->log_mtx);
	return n;
}

static struct ut *ut_new(struct h *h)
{
	struct ut *u = calloc(1, sizeof(*u));

	assert_non_null(u);
	u->h = h;
	u->loop_fd = -1;
	pthread_mutex_init(&u->log_mtx, NULL);
	nvmft_runtime_set_log(h->rt, NVMFT_LOG_DEBUG, ut_log, u);
	/* /var/tmp: on disk where /tmp may be a tmpfs. */
	snprintf(u->dir, sizeof(u->dir), "/var/tmp/nvmft-uring-XXXXXX");
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
	o.name = "turing";
	o.engine = NVMFT_ENGINE_EPOLL;
	assert_int_equal(nvmft_runtime_create(&o, &h->rt), 0);
	assert_int_equal(nvmft_runtime_start(h->rt), 0);
	assert_int_equal(nvmft_bdev_registry_create(h->rt, &h->reg), 0);
	*state = ut_new(h);
	return 0;
}

static void rm_tree(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static void ut_close(struct ut *u)
{
	unsigned int i;

	if (!u->opened)
		return;
	for (i = 0; i < 2; i++)
		if (u->ch[i])
			h_put_chan(u->h, i, u->ch[i]);
	h_close(&u->d);
	u->opened = false;
}

static int teardown(void **state)
{
	struct ut *u = *state;
	struct h *h = u->h;

	ut_close(u);
	/* Destroys the bdev, which closes the file: then umount/detach. */
	assert_int_equal(h_teardown((void **)&h), 0);
	if (u->loop_fd >= 0) {
		ioctl(u->loop_fd, LOOP_CLR_FD, 0);
		close(u->loop_fd);
	}
	if (u->mounted)
		umount2(u->mnt, MNT_DETACH);
	rm_tree(u->dir);
	pthread_mutex_destroy(&u->log_mtx);
	free(u);
	return 0;
}

/* Create @path (sparse) of @size bytes. */
static void make_file(const char *path, off_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
}

static const char *ut_file(struct ut *u, off_t size)
{
	snprintf(u->path, sizeof(u->path), "%s/disk.img", u->dir);
	make_file(u->path, size);
	return u->path;
}

/* A tmpfs of @size on <dir>/mnt; false (and a SKIP line) when not allowed. */
static bool ut_mount_tmpfs(struct ut *u, const char *size)
{
	char opts[32];

	snprintf(u->mnt, sizeof(u->mnt), "%s/mnt", u->dir);
	assert_int_equal(mkdir(u->mnt, 0700), 0);
	snprintf(opts, sizeof(opts), "size=%s", size);
	if (mount("tmpfs", u->mnt, "tmpfs", 0, opts) < 0) {
		printf("SKIP: cannot mount a tmpfs here: %s\n", strerror(errno));
		return false;
	}
	u->mounted = true;
	snprintf(u->path, sizeof(u->path), "%s/disk.img", u->mnt);
	return true;
}

struct create_op {
	struct ut *u;
	struct nvmft_bdev_uring_opts o;
	int rc;
};

static void create_fn(void *arg)
{
	struct create_op *c = arg;

	c->rc = nvmft_bdev_uring_create(c->u->h->reg, &c->o, &c->u->bdev);
}

static int ut_create(struct ut *u, const char *name, const char *path,
		     uint32_t bs, bool buffered)
{
	struct create_op c = {
		.u = u,
		.o = { .name = name, .filename = path, .block_size = bs,
		       .buffered = buffered },
	};

	h_run(u->h, 0, create_fn, &c);
	return c.rc;
}

/* Create "u0" on @path and open it with a channel on each reactor. */
static void ut_open(struct ut *u, const char *path, uint32_t bs, bool buffered)
{
	unsigned int i;

	assert_int_equal(ut_create(u, "u0", path, bs, buffered), 0);
	assert_int_equal(h_open(u->h, &u->d, "u0", true), 0);
	u->opened = true;
	for (i = 0; i < 2; i++) {
		u->ch[i] = h_get_chan(u->h, i, &u->d);
		assert_non_null(u->ch[i]);
	}
}

/* O_DIRECT where the file system has it (tmpfs: since Linux 6.6). */
static void ut_open_tmpfs_file(struct ut *u)
{
	int fd = open(u->path, O_RDWR | O_DIRECT);

	if (fd >= 0)
		close(fd);
	ut_open(u, u->path, 0, fd < 0);
}

static uint16_t ut_io_flags(struct ut *u, unsigned int r, enum nvmft_io_type type,
			    uint32_t flags, uint64_t off, uint64_t num,
			    struct iovec *iov, int iovcnt)
{
	struct h_io t;

	h_io_init(&t, &u->d, u->ch[r], type, off, num, iov, iovcnt);
	t.io.flags = flags;
	assert_int_equal(h_io_start(u->h, r, &t), 0);
	return h_io_wait(&t);
}

static uint16_t ut_io(struct ut *u, unsigned int r, enum nvmft_io_type type,
		      uint64_t off, uint64_t num, struct iovec *iov, int iovcnt)
{
	return ut_io_flags(u, r, type, 0, off, num, iov, iovcnt);
}

/* One-buffer I/O on blocks of 512 bytes. */
static uint16_t ut_rw(struct ut *u, unsigned int r, enum nvmft_io_type type,
		      uint64_t off, void *buf, size_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	return ut_io(u, r, type, off, len / 512, &iov, 1);
}

static void *abuf(size_t len)
{
	void *p = aligned_alloc(4096, (len + 4095) & ~(size_t)4095);

	assert_non_null(p);
	return p;
}

/* The file's bytes at @off, read with pread on a fresh descriptor. */
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

static bool all_zero(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * 1 = some extent of [off, off+len) is still delayed allocation (written
 * to the page cache only), 0 = none is, -1 = not observable here.
 */
static int range_delalloc(const char *path, off_t off, size_t len)
{
	struct {
		struct fiemap fm;
		struct fiemap_extent ext[32];
	} f;
	unsigned int i;
	int fd = open(path, O_RDONLY);
	int rc = 0;

	assert_true(fd >= 0);
	memset(&f, 0, sizeof(f));
	f.fm.fm_start = (uint64_t)off;
	f.fm.fm_length = len;
	f.fm.fm_extent_count = 32;
	if (ioctl(fd, FS_IOC_FIEMAP, &f.fm) < 0)
		rc = -1;
	for (i = 0; rc == 0 && i < f.fm.fm_mapped_extents; i++)
		if (f.ext[i].fe_flags & FIEMAP_EXTENT_DELALLOC)
			rc = 1;
	close(fd);
	return rc;
}

/* ---- creation ---- */

static void dump_fn(void *arg)
{
	struct ut *u = arg;
	struct json_object *obj = json_object_new_object(), *v;

	assert_non_null(obj);
	assert_int_equal(nvmft_bdev_dump_info(u->bdev, obj), 0);
	assert_true(json_object_object_get_ex(obj, "filename", &v));
	assert_string_equal(json_object_get_string(v), u->path);
	assert_true(json_object_object_get_ex(obj, "block_size", &v));
	assert_int_equal(json_object_get_int(v), 512);
	assert_true(json_object_object_get_ex(obj, "buffered", &v));
	assert_false(json_object_get_boolean(v));
	json_object_put(obj);
}

static void test_create_detects_file_size_and_block_size(void **state)
{
	struct ut *u = *state;
	const char *path = ut_file(u, MiB + 1000);

	ut_open(u, path, 0, false);
	assert_string_equal(nvmft_bdev_product(u->bdev), "uring");
	assert_int_equal(nvmft_bdev_block_size(u->bdev), 512);
	/* The 1000-byte tail is not a whole block. */
	assert_int_equal(nvmft_bdev_num_blocks(u->bdev), 2049);
	assert_true(nvmft_bdev_write_cache(u->bdev));
	assert_true(nvmft_bdev_supports(u->bdev, NVMFT_IO_FLUSH));
	assert_true(nvmft_bdev_supports(u->bdev, NVMFT_IO_WRITE_ZEROES));
	assert_true(nvmft_bdev_supports(u->bdev, NVMFT_IO_UNMAP));
	assert_true(nvmft_bdev_supports(u->bdev, NVMFT_IO_COMPARE));
	h_run(u->h, 0, dump_fn, u);
	assert_true(ut_log_has(u, "bdev u0: file"));

	/* A given block size divides the same file differently. */
	assert_int_equal(ut_create(u, "u1", path, 4096, false), 0);
	assert_int_equal(nvmft_bdev_block_size(u->bdev), 4096);
	assert_int_equal(nvmft_bdev_num_blocks(u->bdev), 256);
}

static void test_create_rejects_what_it_cannot_serve(void **state)
{
	struct ut *u = *state;
	char small[160], missing[160];
	const char *path = ut_file(u, MiB);

	snprintf(small, sizeof(small), "%s/small.img", u->dir);
	make_file(small, 100);
	snprintf(missing, sizeof(missing), "%s/missing.img", u->dir);

	assert_int_equal(ut_create(u, "a", missing, 0, false), -ENOENT);
	assert_true(ut_log_has(u, "cannot open"));
	assert_int_equal(ut_create(u, "a", u->dir, 0, false), -EISDIR);
	assert_int_equal(ut_create(u, "a", small, 0, false), -EINVAL);
	assert_true(ut_log_has(u, "smaller than one 512-byte block"));
	assert_int_equal(ut_create(u, "a", path, 1000, false), -EINVAL);
	assert_int_equal(ut_create(u, "a", path, 256, false), -EINVAL);
	assert_int_equal(ut_create(u, "a", "", 0, false), -EINVAL);
	assert_int_equal(ut_create(u, "a", path, 0, false), 0);
	assert_int_equal(ut_create(u, "a", path, 0, false), -EEXIST);
}

/* ---- data path ---- */

static void test_write_read_round_trip_multi_iov_both_reactors(void **state)
{
	struct ut *u = *state;
	size_t lens_w[4] = { 4096, 8192, 512, 3584 }, lens_r[3] = { 1024, 12288, 3072 };
	uint8_t *src = abuf(16384), *dst = abuf(16384);
	struct iovec wv[4], rv[3];
	size_t off = 0;
	int i;

	ut_open(u, ut_file(u, 4 * MiB), 0, false);
	fill_pattern(src, 16384, 7);
	memset(dst, 0xee, 16384);
	/* Separate page-aligned buffers per iovec, as the target's pool gives. */
	for (i = 0; i < 4; i++) {
		wv[i].iov_base = abuf(lens_w[i]);
		wv[i].iov_len = lens_w[i];
		memcpy(wv[i].iov_base, src + off, lens_w[i]);
		off += lens_w[i];
	}
	for (i = 0; i < 3; i++) {
		rv[i].iov_base = abuf(lens_r[i]);
		rv[i].iov_len = lens_r[i];
	}
	assert_int_equal(ut_io(u, 0, NVMFT_IO_WRITE, 100, 32, wv, 4), 0);
	assert_file_has(u->path, 100 * 512, src, 16384);
	assert_int_equal(ut_io(u, 1, NVMFT_IO_READ, 100, 32, rv, 3), 0);
	for (off = 0, i = 0; i < 3; i++) {
		memcpy(dst + off, rv[i].iov_base, lens_r[i]);
		off += lens_r[i];
	}
	assert_memory_equal(dst, src, 16384);

	for (i = 0; i < 4; i++)
		free(wv[i].iov_base);
	for (i = 0; i < 3; i++)
		free(rv[i].iov_base);
	free(src);
	free(dst);
}

static void test_unaligned_buffers_take_the_cached_path(void **state)
{
	struct ut *u = *state;
	uint8_t *src = abuf(8192), *back = abuf(8192), *want = malloc(1024);
	struct iovec wv[3], rv[2];

	assert_non_null(want);
	ut_open(u, ut_file(u, MiB), 0, false);
	fill_pattern(src, 8192, 3);
	/* Odd addresses and lengths: O_DIRECT would refuse these. */
	wv[0] = (struct iovec){ src + 1, 100 };
	wv[1] = (struct iovec){ src + 1001, 412 };
	wv[2] = (struct iovec){ src + 3001, 512 };
	memcpy(want, src + 1, 100);
	memcpy(want + 100, src + 1001, 412);
	memcpy(want + 512, src + 3001, 512);
	assert_int_equal(ut_io(u, 0, NVMFT_IO_WRITE, 7, 2, wv, 3), 0);
	assert_file_has(u->path, 7 * 512, want, 1024);

	memset(back, 0, 8192);
	rv[0] = (struct iovec){ back + 3, 700 };
	rv[1] = (struct iovec){ back + 5003, 324 };
	assert_int_equal(ut_io(u, 1, NVMFT_IO_READ, 7, 2, rv, 2), 0);
	assert_memory_equal(back + 3, want, 700);
	assert_memory_equal(back + 5003, want + 700, 324);
	free(src);
	free(back);
	free(want);
}

static void test_iovec_list_longer_than_iov_max(void **state)
{
	struct ut *u = *state;
	enum { N = 1500 };
	struct iovec *iov = calloc(N, sizeof(*iov));
	uint8_t *src = abuf(N * 512), *dst = abuf(N * 512);
	int i;

	assert_non_null(iov);
	ut_open(u, ut_file(u, 4 * MiB), 0, false);
	fill_pattern(src, N * 512, 11);
	/* Every other block, so that the list cannot be merged. */
	for (i = 0; i < N; i++)
		iov[i] = (struct iovec){ src + (size_t)i * 512, 512 };
	assert_int_equal(ut_io(u, 0, NVMFT_IO_WRITE, 8, N, iov, N), 0);
	assert_file_has(u->path, 8 * 512, src, N * 512);
	for (i = 0; i < N; i++)
		iov[i] = (struct iovec){ dst + (size_t)(N - 1 - i) * 512, 512 };
	assert_int_equal(ut_io(u, 1, NVMFT_IO_READ, 8, N, iov, N), 0);
	for (i = 0; i < N; i++)
		assert_memory_equal(dst + (size_t)(N - 1 - i) * 512,
				    src + (size_t)i * 512, 512);
	free(iov);
	free(src);
	free(dst);
}

static void test_many_ios_in_flight_on_both_reactors(void **state)
{
	struct ut *u = *state;
	enum { N = 64, BS = 8192 };
	struct h_io *t = calloc(N, sizeof(*t));
	struct iovec *iov = calloc(N, sizeof(*iov));
	uint8_t *src = abuf(N * BS), *dst = abuf(N * BS);
	int i;

	assert_non_null(t);
	assert_non_null(iov);
	ut_open(u, ut_file(u, 4 * MiB), 0, false);
	fill_pattern(src, N * BS, 5);
	for (i = 0; i < N; i++) {
		iov[i] = (struct iovec){ src + (size_t)i * BS, BS };
		h_io_init(&t[i], &u->d, u->ch[i & 1], NVMFT_IO_WRITE,
			  (uint64_t)i * (BS / 512), BS / 512, &iov[i], 1);
		assert_int_equal(h_io_start(u->h, i & 1, &t[i]), 0);
	}
	for (i = 0; i < N; i++)
		assert_int_equal(h_io_wait(&t[i]), 0);
	assert_file_has(u->path, 0, src, N * BS);
	for (i = 0; i < N; i++) {
		iov[i] = (struct iovec){ dst + (size_t)i * BS, BS };
		h_io_init(&t[i], &u->d, u->ch[(i + 1) & 1], NVMFT_IO_READ,
			  (uint64_t)i * (BS / 512), BS / 512, &iov[i], 1);
		assert_int_equal(h_io_start(u->h, (i + 1) & 1, &t[i]), 0);
	}
	for (i = 0; i < N; i++)
		assert_int_equal(h_io_wait(&t[i]), 0);
	assert_memory_equal(dst, src, N * BS);
	free(t);
	free(iov);
	free(src);
	free(dst);
}

static void test_compare_matches_and_mismatches(void **state)
{
	struct ut *u = *state;
	uint8_t *buf = abuf(4096);

	ut_open(u, ut_file(u, MiB), 0, false);
	fill_pattern(buf, 4096, 9);
	assert_int_equal(ut_rw(u, 0, NVMFT_IO_WRITE, 16, buf, 4096), 0);
	assert_int_equal(ut_rw(u, 1, NVMFT_IO_COMPARE, 16, buf, 4096), 0);
	buf[4000] ^= 1;
	assert_int_equal(ut_rw(u, 1, NVMFT_IO_COMPARE, 16, buf, 4096), COMPARE_FAILED);
	free(buf);
}

/* ---- durability: FUA and Flush (buffered mode, where they matter) ---- */

static void test_fua_write_is_on_disk_at_completion(void **state)
{
	struct ut *u = *state;
	uint8_t *a = abuf(65536), *b = abuf(65536);
	int plain;

	ut_open(u, ut_file(u, 4 * MiB), 0, true);
	fill_pattern(a, 65536, 1);
	fill_pattern(b, 65536, 2);
	assert_int_equal(ut_rw(u, 0, NVMFT_IO_WRITE, 0, a, 65536), 0);
	assert_int_equal(ut_io_flags(u, 1, NVMFT_IO_WRITE, NVMFT_IO_FLAG_FUA,
				     2048, 128, &(struct iovec){ b, 65536 }, 1), 0);
	assert_file_has(u->path, MiB, b, 65536);
	plain = range_delalloc(u->path, 0, 65536);
	if (plain == 1)
		/* A plain write is only in the page cache; the FUA one is not. */
		assert_int_equal(range_delalloc(u->path, MiB, 65536), 0);
	else
		printf("note: the file system shows no delayed allocation: FUA durability not observable here\n");
	free(a);
	free(b);
}

static void test_flush_writes_back_cached_writes(void **state)
{
	struct ut *u = *state;
	uint8_t *a = abuf(65536);
	int before;

	ut_open(u, ut_file(u, 4 * MiB), 0, true);
	fill_pattern(a, 65536, 4);
	assert_int_equal(ut_rw(u, 0, NVMFT_IO_WRITE, 512, a, 65536), 0);
	before = range_delalloc(u->path, 512 * 512, 65536);
	assert_int_equal(ut_io(u, 1, NVMFT_IO_FLUSH, 0, 0, NULL, 0), 0);
	if (before == 1)
		assert_int_equal(range_delalloc(u->path, 512 * 512, 65536), 0);
	else
		printf("note: the file system shows no delayed allocation: flush not observable here\n");
	assert_file_has(u->path, 512 * 512, a, 65536);
	free(a);
}

/* ---- deallocate and write zeroes ---- */

static void test_unmap_punches_a_hole_that_reads_zeroes(void **state)
{
	struct ut *u = *state;
	uint8_t *a = abuf(3 * 65536), *back = abuf(3 * 65536);
	int fd;

	ut_open(u, ut_file(u, 4 * MiB), 0, false);
	fill_pattern(a, 3 * 65536, 6);
	/* Blocks 256..639: 128 KiB .. 320 KiB. */
	assert_int_equal(ut_rw(u, 0, NVMFT_IO_WRITE, 256, a, 3 * 65536), 0);
	assert_int_equal(ut_io(u, 1, NVMFT_IO_UNMAP, 384, 128, NULL, 0), 0);
	assert_int_equal(ut_rw(u, 0, NVMFT_IO_READ, 256, back, 3 * 65536), 0);
	assert_memory_equal(back, a, 65536);
	assert_true(all_zero(back + 65536, 65536));
	assert_memory_equal(back + 2 * 65536, a + 2 * 65536, 65536);
	/* Really deallocated: the file has a hole there now. */
	fd = open(u->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(lseek(fd, 192 * 1024, SEEK_HOLE), 192 * 1024);
	close(fd);
	free(a);
	free(back);
}

static void test_write_zeroes_zeroes_exactly_the_range(void **state)
{
	struct ut *u = *state;
	uint8_t *a = abuf(65536), *back = abuf(65536);
	struct statfs sfs;

	ut_open(u, ut_file(u, MiB), 0, false);
	fill_pattern(a, 65536, 8);
	assert_int_equal(ut_rw(u, 0, NVMFT_IO_WRITE, 0, a, 65536), 0);
	assert_int_equal(ut_io(u, 1, NVMFT_IO_WRITE_ZEROES, 3, 5, NULL, 0), 0);
	/* With FUA too (zero range, then fdatasync). */
	assert_int_equal(ut_io_flags(u, 0, NVMFT_IO_WRITE_ZEROES, NVMFT_IO_FLAG_FUA,
				     100, 7, NULL, 0), 0);
	assert_int_equal(ut_rw(u, 0, NVMFT_IO_READ, 0, back, 65536), 0);
	memset(a + 3 * 512, 0, 5 * 512);
	memset(a + 100 * 512, 0, 7 * 512);
	assert_memory_equal(back, a, 65536);
	assert_file_has(u->path, 0, a, 65536);
	if (statfs(u->dir, &sfs) == 0 && sfs.f_type != TMPFS_MAGIC)
		assert_false(ut_log_has(u, "does not support"));
	free(a);
	free(back);
}

static void test_write_zeroes_without_zero_range_writes_zeroes(void **state)
{
	struct ut *u = *state;
	uint8_t *a = abuf(4 * MiB), *back = abuf(4 * MiB);

	if (!ut_mount_tmpfs(u, "16M"))
		skip();
	make_file(u->path, 8 * MiB);
	ut_open_tmpfs_file(u);
	fill_pattern(a, 4 * MiB, 10);
	assert_int_equal(ut_rw(u, 0, NVMFT_IO_WRITE, 0, a, 4 * MiB), 0);
	/* tmpfs has no FALLOC_FL_ZERO_RANGE: learnt on the first one. */
	assert_int_equal(ut_io(u, 1, NVMFT_IO_WRITE_ZEROES, 1, 3000, NULL, 0), 0);
	assert_int_equal(ut_io(u, 0, NVMFT_IO_WRITE_ZEROES, 5000, 2, NULL, 0), 0);
	assert_int_equal(ut_rw(u, 1, NVMFT_IO_READ, 0, back, 4 * MiB), 0);
	memset(a + 512, 0, 3000 * 512);
	memset(a + 5000 * 512, 0, 2 * 512);
	assert_memory_equal(back, a, 4 * MiB);
	assert_int_equal(ut_count_log(u, "does not support FALLOC_FL_ZERO_RANGE"), 1);
	free(a);
	free(back);
}

/* ---- failures: the command fails, the bdev keeps serving ---- */

static void test_full_file_system_fails_with_capacity_exceeded(void **state)
{
	struct ut *u = *state;
	uint8_t *a = abuf(65536), *back = abuf(65536);
	uint16_t st = 0;
	int i;

	if (!ut_mount_tmpfs(u, "1M"))
		skip();
	make_file(u->path, 4 * MiB);	/* sparse: bigger than the file system */
	ut_open_tmpfs_file(u);
	for (i = 0; i < 64 && st == 0; i++) {
		fill_pattern(a, 65536, (unsigned int)i);
		st = ut_rw(u, i & 1, NVMFT_IO_WRITE, (uint64_t)i * 128, a, 65536);
	}
	assert_int_equal(st, CAP_EXCEEDED);
	assert_true(i > 1 && i <= 17);
	assert_true(ut_log_has(u, "No space left on device"));
	/* What was written reads back, and overwriting it needs no space. */
	fill_pattern(a, 65536, 0);
	assert_int_equal(ut_rw(u, 1, NVMFT_IO_READ, 0, back, 65536), 0);
	assert_memory_equal(back, a, 65536);
	fill_pattern(a, 65536, 99);
	assert_int_equal(ut_rw(u, 0, NVMFT_IO_WRITE, 0, a, 65536), 0);
	assert_int_equal(ut_io(u, 1, NVMFT_IO_FLUSH, 0, 0, NULL, 0), 0);
	assert_int_equal(ut_rw(u, 1, NVMFT_IO_READ, 0, back, 65536), 0);
	assert_memory_equal(back, a, 65536);
	free(a);
	free(back);
}

static void test_read_past_a_truncated_file_is_a_media_error(void **state)
{
	struct ut *u = *state;
	uint8_t *a = abuf(4096), *want = abuf(4096);

	ut_open(u, ut_file(u, MiB), 0, false);
	fill_pattern(want, 4096, 12);
	assert_int_equal(ut_rw(u, 0, NVMFT_IO_WRITE, 0, want, 4096), 0);
	/* Someone shrinks the file under the bdev: the tail's data is gone. */
	assert_int_equal(truncate(u->path, 256 * 1024), 0);
	assert_int_equal(ut_rw(u, 1, NVMFT_IO_READ, 1024, a, 4096), READ_ERROR);
	/* Straddling the new end: short read, then end of file. */
	assert_int_equal(ut_rw(u, 0, NVMFT_IO_READ, 508, a, 4096), READ_ERROR);
	assert_true(ut_log_has(u, "read of 8 blocks at block 1024 failed"));
	/* The part that is still there serves as before. */
	assert_int_equal(ut_rw(u, 0, NVMFT_IO_READ, 0, a, 4096), 0);
	assert_memory_equal(a, want, 4096);
	free(a);
	free(want);
}

/* ---- modes and files ---- */

static void dump_buffered_fn(void *arg)
{
	struct ut *u = arg;
	struct json_object *obj = json_object_new_object(), *v;

	assert_non_null(obj);
	assert_int_equal(nvmft_bdev_dump_info(u->bdev, obj), 0);
	assert_true(json_object_object_get_ex(obj, "buffered", &v));
	assert_true(json_object_get_boolean(v));
	json_object_put(obj);
}

static void test_buffered_mode_round_trip(void **state)
{
	struct ut *u = *state;
	uint8_t *a = abuf(65536), *back = abuf(2 * 65536);
	struct iovec odd[2];

	ut_open(u, ut_file(u, MiB), 0, true);
	h_run(u->h, 0, dump_buffered_fn, u);
	fill_pattern(a, 65536, 13);
	assert_int_equal(ut_rw(u, 0, NVMFT_IO_WRITE, 10, a, 65536), 0);
	assert_file_has(u->path, 10 * 512, a, 65536);
	odd[0] = (struct iovec){ back + 1, 1000 };
	odd[1] = (struct iovec){ back + 2001, 65536 - 1000 };
	assert_int_equal(ut_io(u, 1, NVMFT_IO_READ, 10, 128, odd, 2), 0);
	assert_memory_equal(back + 1, a, 1000);
	assert_memory_equal(back + 2001, a + 1000, 65536 - 1000);
	assert_int_equal(ut_io(u, 1, NVMFT_IO_FLUSH, 0, 0, NULL, 0), 0);
	free(a);
	free(back);
}

static void test_unlinked_file_keeps_serving(void **state)
{
	struct ut *u = *state;
	uint8_t *a = abuf(8192), *back = abuf(8192);

	ut_open(u, ut_file(u, MiB), 0, false);
	assert_int_equal(unlink(u->path), 0);
	fill_pattern(a, 8192, 14);
	assert_int_equal(ut_rw(u, 0, NVMFT_IO_WRITE, 40, a, 8192), 0);
	assert_int_equal(ut_io(u, 0, NVMFT_IO_FLUSH, 0, 0, NULL, 0), 0);
	assert_int_equal(ut_rw(u, 1, NVMFT_IO_READ, 40, back, 8192), 0);
	assert_memory_equal(back, a, 8192);
	assert_int_equal(ut_io(u, 1, NVMFT_IO_UNMAP, 40, 16, NULL, 0), 0);
	assert_int_equal(ut_rw(u, 0, NVMFT_IO_READ, 40, back, 8192), 0);
	assert_true(all_zero(back, 8192));
	free(a);
	free(back);
}

/* A loop device over @backing (autoclear); false (and SKIP) when not possible. */
static bool ut_loop(struct ut *u, const char *backing, char *dev, size_t len)
{
	int ctl, bfd, tries;
	bool ok = false;

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		printf("SKIP: no /dev/loop-control: %s\n", strerror(errno));
		return false;
	}
	bfd = open(backing, O_RDWR | O_CLOEXEC);
	assert_true(bfd >= 0);
	/* Another process may take the free device first: try again. */
	for (tries = 0; tries < 8 && !ok; tries++) {
		struct loop_config cfg;
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);

		if (n < 0)
			break;
		snprintf(dev, len, "/dev/loop%d", n);
		u->loop_fd = open(dev, O_RDWR | O_CLOEXEC);
		if (u->loop_fd < 0)
			break;
		memset(&cfg, 0, sizeof(cfg));
		cfg.fd = (unsigned int)bfd;
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		if (ioctl(u->loop_fd, LOOP_CONFIGURE, &cfg) == 0) {
			ok = true;
			break;
		}
		close(u->loop_fd);
		u->loop_fd = -1;
		if (errno != EBUSY)
			break;
	}
	if (!ok)
		printf("SKIP: cannot set up a loop device: %s\n", strerror(errno));
	close(bfd);
	close(ctl);
	return ok;
}

static void test_block_device_round_trip_and_unmap(void **state)
{
	struct ut *u = *state;
	uint8_t *a = abuf(65536), *back = abuf(65536);
	char dev[32];
	char backing[160];

	snprintf(backing, sizeof(backing), "%s/backing.img", u->dir);
	make_file(backing, 8 * MiB);
	if (!ut_loop(u, backing, dev, sizeof(dev)))
		skip();
	ut_open(u, dev, 0, false);
	assert_int_equal(nvmft_bdev_block_size(u->bdev), 512);
	assert_int_equal(nvmft_bdev_num_blocks(u->bdev), 8 * MiB / 512);
	assert_true(ut_log_has(u, "block device"));
	fill_pattern(a, 65536, 15);
	assert_int_equal(ut_io_flags(u, 0, NVMFT_IO_WRITE, NVMFT_IO_FLAG_FUA, 64, 128,
				     &(struct iovec){ a, 65536 }, 1), 0);
	assert_int_equal(ut_rw(u, 1, NVMFT_IO_READ, 64, back, 65536), 0);
	assert_memory_equal(back, a, 65536);
	assert_int_equal(ut_io(u, 1, NVMFT_IO_FLUSH, 0, 0, NULL, 0), 0);
	assert_file_has(backing, 64 * 512, a, 65536);
	assert_int_equal(ut_io(u, 0, NVMFT_IO_UNMAP, 64, 64, NULL, 0), 0);
	assert_int_equal(ut_io(u, 1, NVMFT_IO_WRITE_ZEROES, 128, 8, NULL, 0), 0);
	assert_int_equal(ut_rw(u, 0, NVMFT_IO_READ, 64, back, 65536), 0);
	if (!ut_log_has(u, "does not support FALLOC_FL_PUNCH_HOLE"))
		assert_true(all_zero(back, 32768));
	assert_true(all_zero(back + 32768, 8 * 512));
	assert_memory_equal(back + 32768 + 4096, a + 32768 + 4096, 32768 - 4096);
	free(a);
	free(back);
}

/* ---- the epoll engine: private rings ---- */

static void test_epoll_engine_uses_private_rings(void **state)
{
	struct ut *u = *state;
	uint8_t *a = abuf(65536), *back = abuf(65536);

	assert_int_equal(nvmft_runtime_engine(u->h->rt), NVMFT_ENGINE_EPOLL);
	ut_open(u, ut_file(u, MiB), 0, false);
	fill_pattern(a, 65536, 16);
	assert_int_equal(ut_rw(u, 0, NVMFT_IO_WRITE, 0, a, 65536), 0);
	assert_int_equal(ut_io(u, 1, NVMFT_IO_FLUSH, 0, 0, NULL, 0), 0);
	assert_int_equal(ut_rw(u, 1, NVMFT_IO_READ, 0, back, 65536), 0);
	assert_memory_equal(back, a, 65536);
	assert_int_equal(ut_io(u, 0, NVMFT_IO_WRITE_ZEROES, 0, 8, NULL, 0), 0);
	assert_int_equal(ut_io(u, 1, NVMFT_IO_UNMAP, 64, 64, NULL, 0), 0);
	assert_int_equal(ut_rw(u, 0, NVMFT_IO_READ, 0, back, 65536), 0);
	memset(a, 0, 4096);
	memset(a + 32768, 0, 32768);
	assert_memory_equal(back, a, 65536);
	free(a);
	free(back);
}

/* ---- no io_uring at all ---- */

struct no_uring {
	char path[160];
	int filter_rc;		/* installing the seccomp filter */
	int rc;			/* runtime calls */
	int create_rc;
	enum nvmft_engine engine;
	struct ut log;		/* only its log capture is used */
};

/* io_uring_setup() fails with ENOSYS on this thread and those it starts. */
static int deny_io_uring(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return -errno;
	return 0;
}

/* Create "u0" on a started runtime, then destroy the registry. */
static void no_uring_create(struct no_uring *n, struct h *h)
{
	struct create_op c = {
		.u = &n->log,
		.o = { .name = "u0", .filename = n->path },
	};
	struct reg_destroy_op rd = { .h = h };

	n->log.h = h;
	n->rc = nvmft_runtime_exec(h->rt, 0, create_fn, &c);
	n->create_rc = c.rc;
	sem_init(&rd.done, 0, 0);
	if (nvmft_runtime_exec(h->rt, 0, reg_destroy_fn, &rd) == 0 &&
	    !sem_wait_bounded(&rd.done, H_WAIT_SEC))
		n->rc = -ETIMEDOUT;
	sem_destroy(&rd.done);
}

/*
 * The filter binds this thread and the reactors it starts, as a container
 * that blocks io_uring would; the test thread keeps its io_uring.
 */
static void *no_uring_thread(void *arg)
{
	struct no_uring *n = arg;
	struct nvmft_runtime_opts o;
	struct h h = { 0 };

	n->filter_rc = deny_io_uring();
	if (n->filter_rc)
		return NULL;
	nvmft_runtime_opts_init(&o);
	o.nr_reactors = 1;
	o.name = "tnouring";
	n->rc = nvmft_runtime_create(&o, &h.rt);
	if (n->rc)
		return NULL;
	nvmft_runtime_set_log(h.rt, NVMFT_LOG_DEBUG, ut_log, &n->log);
	n->engine = nvmft_runtime_engine(h.rt);
	n->rc = nvmft_runtime_start(h.rt);
	if (!n->rc)
		n->rc = nvmft_bdev_registry_create(h.rt, &h.reg);
	if (!n->rc)
		no_uring_create(n, &h);
	nvmft_runtime_stop(h.rt);
	nvmft_runtime_destroy(h.rt);
	return NULL;
}

static void test_create_without_io_uring_fails_with_enotsup(void **state)
{
	struct no_uring *n = calloc(1, sizeof(*n));
	char dir[] = "/var/tmp/nvmft-uring-XXXXXX";
	pthread_t th;

	(void)state;
	assert_non_null(n);
	pthread_mutex_init(&n->log.log_mtx, NULL);
	assert_non_null(mkdtemp(dir));
	snprintf(n->path, sizeof(n->path), "%s/disk.img", dir);
	make_file(n->path, MiB);
	assert_int_equal(pthread_create(&th, NULL, no_uring_thread, n), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	rm_tree(dir);
	pthread_mutex_destroy(&n->log.log_mtx);
	if (n->filter_rc) {
		printf("SKIP: cannot install a seccomp filter: %s\n", strerror(-n->filter_rc));
		free(n);
		skip();
	}
	assert_int_equal(n->rc, 0);
	assert_int_equal(n->engine, NVMFT_ENGINE_EPOLL);
	assert_int_equal(n->create_rc, -ENOTSUP);
	assert_true(strstr(n->log.log, "bdev u0: the uring backend needs io_uring"));
	free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_detects_file_size_and_block_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_rejects_what_it_cannot_serve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_read_round_trip_multi_iov_both_reactors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unaligned_buffers_take_the_cached_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iovec_list_longer_than_iov_max, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_ios_in_flight_on_both_reactors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compare_matches_and_mismatches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fua_write_is_on_disk_at_completion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_writes_back_cached_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap_punches_a_hole_that_reads_zeroes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_zeroes_zeroes_exactly_the_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_zeroes_without_zero_range_writes_zeroes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_file_system_fails_with_capacity_exceeded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_past_a_truncated_file_is_a_media_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffered_mode_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unlinked_file_keeps_serving, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_device_round_trip_and_unmap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epoll_engine_uses_private_rings, setup_epoll, teardown),
		cmocka_unit_test(test_create_without_io_uring_fails_with_enotsup),
	};

	return cmocka_run_group_tests_name("bdev_uring", tests, NULL, NULL);
}
