// SPDX-License-Identifier: MIT
/*
 * The uring backend's device side: open the file or block device (O_DIRECT
 * unless buffered, plus a page-cache descriptor for misaligned I/O), learn
 * its geometry and O_DIRECT alignment, register the bdev, and re-read its
 * size on a rescan. The I/O path is in bdev_uring.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <liburing.h>

#include "bdev/bdev_uring_internal.h"
#include "runtime/engine.h"

/*
 * A page-cache descriptor of the very file @d->fd has open: through
 * /proc/self/fd so that a rename or unlink in between cannot swap it.
 */
static int disk_open_cached(struct uring_disk *d, const char *name)
{
	struct stat a, b;
	char path[64];
	int rc;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", d->fd);
	d->fd_cached = open(path, O_RDWR | O_CLOEXEC);
	if (d->fd_cached < 0)
		d->fd_cached = open(d->filename, O_RDWR | O_CLOEXEC);
	if (d->fd_cached < 0) {
		rc = -errno;
		RT_ERR(d->rt, "bdev %s: cannot reopen %s without O_DIRECT: %s",
		       name, d->filename, strerror(-rc));
		return rc;
	}
	if (fstat(d->fd, &a) < 0 || fstat(d->fd_cached, &b) < 0 ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino || a.st_rdev != b.st_rdev) {
		RT_ERR(d->rt, "bdev %s: %s changed while it was being opened",
		       name, d->filename);
		return -EBUSY;
	}
	return 0;
}

/* O_DIRECT alignment the file system reports (0 when it does not). */
static void disk_dio_align(int fd, uint32_t *mem, uint32_t *off)
{
	struct statx sx;

	*mem = *off = 0;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 &&
	    (sx.stx_mask & STATX_DIOALIGN)) {
		*mem = sx.stx_dio_mem_align;
		*off = sx.stx_dio_offset_align;
	}
}

/* Size, kind and the native block size (0 for a file) of the open file. */
static int disk_probe(struct uring_disk *d, const char *name, uint64_t *bytes,
		      uint32_t *native_bs)
{
	struct stat st;
	int ssz;

	*native_bs = 0;
	if (fstat(d->fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode)) {
		*bytes = (uint64_t)st.st_size;
		return 0;
	}
	if (!S_ISBLK(st.st_mode)) {
		RT_ERR(d->rt, "bdev %s: %s is not a regular file or a block device",
		       name, d->filename);
		return -EINVAL;
	}
	d->is_blkdev = true;
	if (ioctl(d->fd, BLKSSZGET, &ssz) < 0 || ioctl(d->fd, BLKGETSIZE64, bytes) < 0) {
		int rc = -errno;

		RT_ERR(d->rt, "bdev %s: %s: cannot read the block device geometry: %s",
		       name, d->filename, strerror(-rc));
		return rc;
	}
	*native_bs = (uint32_t)ssz;
	return 0;
}

static int disk_open(struct uring_disk *d, const struct nvmft_bdev_uring_opts *o)
{
	uint32_t native_bs, dio_mem = 0, dio_off = 0, min_bs;
	uint64_t bytes;
	int rc;

	d->fd = open(o->filename, O_RDWR | O_CLOEXEC | (o->buffered ? 0 : O_DIRECT));
	if (d->fd < 0) {
		rc = -errno;
		if (rc == -EINVAL && !o->buffered)
			RT_ERR(d->rt, "bdev %s: %s: the file system refuses O_DIRECT (set buffered = true)",
			       o->name, o->filename);
		else
			RT_ERR(d->rt, "bdev %s: cannot open %s: %s", o->name,
			       o->filename, strerror(-rc));
		return rc;
	}
	rc = disk_probe(d, o->name, &bytes, &native_bs);
	if (rc)
		return rc;
	if (!o->buffered)
		disk_dio_align(d->fd, &dio_mem, &dio_off);
	min_bs = native_bs > dio_off ? native_bs : dio_off;
	if (o->block_size && o->block_size < min_bs) {
		RT_ERR(d->rt, "bdev %s: block_size %u is smaller than the %u bytes %s needs",
		       o->name, o->block_size, min_bs, o->filename);
		return -EINVAL;
	}
	d->block_size = o->block_size ? o->block_size : min_bs > 512 ? min_bs : 512;
	/* Unknown alignment (tmpfs, older kernels): ask for whole blocks. */
	d->mem_align = dio_mem ? dio_mem : d->block_size;
	d->len_align = dio_off ? dio_off : d->block_size;
	d->num_blocks = bytes / d->block_size;
	if (d->num_blocks == 0) {
		RT_ERR(d->rt, "bdev %s: %s is smaller than one %u-byte block",
		       o->name, o->filename, d->block_size);
		return -EINVAL;
	}
	d->buffered = o->buffered;
	if (!o->buffered)
		return disk_open_cached(d, o->name);
	return 0;
}

/* The epoll engine: channels need a private ring, so io_uring must work. */
static int uring_usable(struct nvmft_runtime *rt, const char *name)
{
	struct io_uring ring;
	int rc;

	if (nvmft_runtime_engine(rt) != NVMFT_ENGINE_EPOLL)
		return 0;
	rc = io_uring_queue_init(2, &ring, 0);
	if (rc == 0) {
		io_uring_queue_exit(&ring);
		return 0;
	}
	RT_ERR(rt, "bdev %s: the uring backend needs io_uring, which is unavailable here (%s)",
	       name, strerror(-rc));
	return -ENOTSUP;
}

static bool block_size_valid(uint32_t bs)
{
	return bs == 0 || (bs >= 512 && bs <= 65536 && !(bs & (bs - 1)));
}

/* Current size in bytes of the open file or device. */
static int disk_size(const struct uring_disk *d, uint64_t *bytes)
{
	struct stat st;

	if (d->is_blkdev)
		return ioctl(d->fd, BLKGETSIZE64, bytes) < 0 ? -errno : 0;
	if (fstat(d->fd, &st) < 0)
		return -errno;
	*bytes = (uint64_t)st.st_size;
	return 0;
}

int nvmft_bdev_uring_rescan(struct nvmft_bdev_registry *reg, const char *name)
{
	struct nvmft_bdev *bdev;
	struct uring_disk *d;
	uint64_t bytes, blocks;
	int rc;

	if (!reg || !name)
		return -EINVAL;
	bdev = nvmft_bdev_get(reg, name);
	if (!bdev)
		return -ENOENT;
	if (bdev->ops != &bdev_uring_ops)
		return -EINVAL;
	d = nvmft_bdev_get_ctx(bdev);
	rc = disk_size(d, &bytes);
	if (rc) {
		RT_ERR(d->rt, "bdev %s: cannot read the size of %s: %s", name,
		       d->filename, strerror(-rc));
		return rc;
	}
	blocks = bytes / d->block_size;
	if (blocks == d->num_blocks)
		return 0;
	if (blocks == 0) {
		RT_ERR(d->rt, "bdev %s: %s is now smaller than one %u-byte block; keeping %llu blocks",
		       name, d->filename, d->block_size,
		       (unsigned long long)d->num_blocks);
		return -EINVAL;
	}
	rc = nvmft_bdev_notify_resize(bdev, blocks);
	if (rc)
		return rc;
	RT_NOTICE(d->rt, "bdev %s: %s resized from %llu to %llu blocks", name,
		  d->filename, (unsigned long long)d->num_blocks,
		  (unsigned long long)blocks);
	d->num_blocks = blocks;
	return 0;
}

int nvmft_bdev_uring_create(struct nvmft_bdev_registry *reg,
			    const struct nvmft_bdev_uring_opts *opts,
			    struct nvmft_bdev **out)
{
	struct nvmft_bdev_props props;
	struct nvmft_runtime *rt;
	struct uring_disk *d;
	int rc;

	if (!reg || !opts || !opts->name || !opts->filename || !*opts->filename ||
	    !block_size_valid(opts->block_size))
		return -EINVAL;
	if (nvmft_bdev_get(reg, opts->name))
		return -EEXIST;
	rt = nvmft_bdev_registry_runtime(reg);
	rc = uring_usable(rt, opts->name);
	if (rc)
		return rc;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->rt = rt;
	d->fd = d->fd_cached = -1;
	d->nr_counters = nvmft_runtime_nr_threads(rt);
	d->counters = aligned_alloc(_Alignof(struct uring_counters),
				    d->nr_counters * sizeof(*d->counters));
	if (!d->counters) {
		rc = -ENOMEM;
		goto out_free_disk;
	}
	memset(d->counters, 0, d->nr_counters * sizeof(*d->counters));
	d->filename = strdup(opts->filename);
	if (!d->filename) {
		rc = -ENOMEM;
		goto out_free_disk;
	}
	rc = disk_open(d, opts);
	if (rc)
		goto out_free_disk;
	props = (struct nvmft_bdev_props){
		.name = opts->name,
		.block_size = d->block_size,
		.num_blocks = d->num_blocks,
		.uuid = opts->uuid,
		.write_cache = true,
	};
	rc = nvmft_bdev_register(reg, &props, &bdev_uring_ops, d, &d->bdev);
	if (rc)
		goto out_free_disk;
	RT_INFO(rt, "bdev %s: %s %s, %llu blocks of %u bytes%s", opts->name,
		d->is_blkdev ? "block device" : "file", d->filename,
		(unsigned long long)d->num_blocks, d->block_size,
		d->buffered ? ", buffered" : "");
	if (out)
		*out = d->bdev;
	return 0;

out_free_disk:
	uring_disk_free(d);
	return rc;
}
