// SPDX-License-Identifier: MIT
/*
 * The malloc backend: a RAM disk. Every I/O type is native and completes
 * inline from submit(); there is no cache, so FUA and FLUSH are trivially
 * honoured.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <json-c/json.h>

#include "bdev/bdev_internal.h"

struct malloc_disk {
	struct nvmft_bdev *bdev;
	uint8_t *buf;		/* anonymous mapping: page aligned, zeroed, lazy */
	size_t size;
	uint64_t num_blocks;
	uint32_t block_size;
};

struct malloc_channel {
	struct malloc_disk *disk;
};

static int malloc_channel_create(void *bdev_ctx, void *chan_ctx)
{
	struct malloc_channel *mch = chan_ctx;

	mch->disk = bdev_ctx;
	return 0;
}

static void copy_to_iov(const struct iovec *iov, int cnt, const uint8_t *src,
			size_t len)
{
	int i;

	for (i = 0; i < cnt && len; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		memcpy(iov[i].iov_base, src, n);
		src += n;
		len -= n;
	}
}

static void copy_from_iov(const struct iovec *iov, int cnt, uint8_t *dst,
			  size_t len)
{
	int i;

	for (i = 0; i < cnt && len; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		memcpy(dst, iov[i].iov_base, n);
		dst += n;
		len -= n;
	}
}

static bool iov_same(const struct iovec *iov, int cnt, const uint8_t *src,
		     size_t len)
{
	int i;

	for (i = 0; i < cnt && len; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		if (memcmp(iov[i].iov_base, src, n))
			return false;
		src += n;
		len -= n;
	}
	return true;
}

static int malloc_submit(void *chan_ctx, struct nvmft_bdev_io *io)
{
	struct malloc_disk *d = ((struct malloc_channel *)chan_ctx)->disk;
	size_t off = (size_t)io->offset_blocks * d->block_size;
	size_t len = (size_t)io->num_blocks * d->block_size;
	int rc = 0;

	switch (io->type) {
	case NVMFT_IO_READ:
		copy_to_iov(io->iov, io->iovcnt, d->buf + off, len);
		break;
	case NVMFT_IO_WRITE:
		copy_from_iov(io->iov, io->iovcnt, d->buf + off, len);
		break;
	case NVMFT_IO_WRITE_ZEROES:
	case NVMFT_IO_UNMAP:
		memset(d->buf + off, 0, len);
		break;
	case NVMFT_IO_FLUSH:
		break;
	case NVMFT_IO_COMPARE:
		if (!iov_same(io->iov, io->iovcnt, d->buf + off, len))
			rc = -EILSEQ;
		break;
	default:
		return -EINVAL;
	}
	nvmft_bdev_io_complete(io, rc);
	return 0;
}

static bool malloc_supports(void *bdev_ctx, enum nvmft_io_type type)
{
	return (unsigned int)type < NVMFT_IO_TYPE_MAX;
}

static void malloc_destroy(void *bdev_ctx, void (*done)(void *arg), void *arg)
{
	struct malloc_disk *d = bdev_ctx;

	munmap(d->buf, d->size);
	free(d);
	done(arg);
}

static void malloc_dump_info(void *bdev_ctx, struct json_object *obj)
{
	struct malloc_disk *d = bdev_ctx;
	char uuid[37];

	bdev_uuid_format(nvmft_bdev_uuid(d->bdev), uuid);
	json_object_object_add(obj, "num_blocks", json_object_new_uint64(d->num_blocks));
	json_object_object_add(obj, "block_size", json_object_new_int(d->block_size));
	json_object_object_add(obj, "uuid", json_object_new_string(uuid));
}

static const struct nvmft_bdev_ops malloc_ops = {
	.name = "malloc",
	.chan_ctx_size = sizeof(struct malloc_channel),
	.io_ctx_size = 0,
	.channel_create = malloc_channel_create,
	.submit = malloc_submit,
	.supports = malloc_supports,
	.destroy = malloc_destroy,
	.dump_info = malloc_dump_info,
};

int nvmft_bdev_malloc_create(struct nvmft_bdev_registry *reg, const char *name,
			     uint64_t num_blocks, uint32_t block_size,
			     const uint8_t *uuid, struct nvmft_bdev **out)
{
	struct nvmft_bdev_props props = {
		.name = name,
		.block_size = block_size,
		.num_blocks = num_blocks,
		.uuid = uuid,
	};
	struct malloc_disk *d;
	int rc;

	if (!reg || !name || (block_size != 512 && block_size != 4096) ||
	    num_blocks == 0 || num_blocks > SIZE_MAX / block_size)
		return -EINVAL;
	if (nvmft_bdev_get(reg, name))
		return -EEXIST;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->num_blocks = num_blocks;
	d->block_size = block_size;
	d->size = (size_t)num_blocks * block_size;
	d->buf = mmap(NULL, d->size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (d->buf == MAP_FAILED) {
		rc = -ENOMEM;
		goto out_free_disk;
	}
	rc = nvmft_bdev_register(reg, &props, &malloc_ops, d, &d->bdev);
	if (rc)
		goto out_unmap;
	if (out)
		*out = d->bdev;
	return 0;

out_unmap:
	munmap(d->buf, d->size);
out_free_disk:
	free(d);
	return rc;
}
