// SPDX-License-Identifier: MIT
/*
 * The null backend (benchmarks): reads return zeroes, writes are dropped,
 * compares succeed against zeroes, everything else succeeds. Completion
 * is inline. No per-device state beyond its size.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "bdev/bdev_internal.h"

struct null_disk {
	struct nvmft_bdev *bdev;
	uint64_t num_blocks;
	uint32_t block_size;
};

static bool iov_all_zero(const struct iovec *iov, int cnt)
{
	int i;

	for (i = 0; i < cnt; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t n = iov[i].iov_len;

		/* p[0] == 0 and every byte equals the one before it. */
		if (n && (p[0] || memcmp(p, p + 1, n - 1)))
			return false;
	}
	return true;
}

static int null_submit(void *chan_ctx, struct nvmft_bdev_io *io)
{
	int rc = 0, i;

	switch (io->type) {
	case NVMFT_IO_READ:
		for (i = 0; i < io->iovcnt; i++)
			memset(io->iov[i].iov_base, 0, io->iov[i].iov_len);
		break;
	case NVMFT_IO_COMPARE:
		if (!iov_all_zero(io->iov, io->iovcnt))
			rc = -EILSEQ;
		break;
	default:
		break;
	}
	nvmft_bdev_io_complete(io, rc);
	return 0;
}

static bool null_supports(void *bdev_ctx, enum nvmft_io_type type)
{
	return (unsigned int)type < NVMFT_IO_TYPE_MAX;
}

static void null_destroy(void *bdev_ctx, void (*done)(void *arg), void *arg)
{
	free(bdev_ctx);
	done(arg);
}

static void null_dump_info(void *bdev_ctx, struct json_object *obj)
{
	struct null_disk *d = bdev_ctx;
	char uuid[37];

	bdev_uuid_format(nvmft_bdev_uuid(d->bdev), uuid);
	json_object_object_add(obj, "num_blocks", json_object_new_uint64(d->num_blocks));
	json_object_object_add(obj, "block_size", json_object_new_int(d->block_size));
	json_object_object_add(obj, "uuid", json_object_new_string(uuid));
}

static const struct nvmft_bdev_ops null_ops = {
	.name = "null",
	.submit = null_submit,
	.supports = null_supports,
	.destroy = null_destroy,
	.dump_info = null_dump_info,
};

int nvmft_bdev_null_create(struct nvmft_bdev_registry *reg, const char *name,
			   uint64_t num_blocks, uint32_t block_size,
			   const uint8_t *uuid, struct nvmft_bdev **out)
{
	struct nvmft_bdev_props props = {
		.name = name,
		.block_size = block_size,
		.num_blocks = num_blocks,
		.uuid = uuid,
	};
	struct null_disk *d;
	int rc;

	if (!reg || !name || (block_size != 512 && block_size != 4096) ||
	    num_blocks == 0 || num_blocks > UINT64_MAX / block_size)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->num_blocks = num_blocks;
	d->block_size = block_size;
	rc = nvmft_bdev_register(reg, &props, &null_ops, d, &d->bdev);
	if (rc) {
		free(d);
		return rc;
	}
	if (out)
		*out = d->bdev;
	return 0;
}
