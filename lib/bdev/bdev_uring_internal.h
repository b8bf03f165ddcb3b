/* SPDX-License-Identifier: MIT */
/*
 * What the two halves of the uring backend share: bdev_uring.c (the I/O
 * path, channels and the ops table) and bdev_uring_disk.c (opening,
 * probing, creating and rescanning the file or block device).
 */
#ifndef NVMFT_LIB_BDEV_URING_INTERNAL_H
#define NVMFT_LIB_BDEV_URING_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bdev/bdev_internal.h"

/*
 * How the data SQEs of one reactor went, for dump_info: one writer (that
 * reactor), read by the app reactor. A cache line each.
 */
struct uring_counters {
	_Atomic uint64_t fixed_file;	/* every SQE: registered file or not */
	_Atomic uint64_t plain_fd;
	_Atomic uint64_t fixed_buf;	/* read/write SQEs: READ/WRITE_FIXED or not */
	_Atomic uint64_t plain_buf;
} __attribute__((aligned(64)));

/* Which descriptor of the disk an SQE is for (uring_channel.slot index). */
enum uring_fd {
	FD_DIRECT = 0,
	FD_CACHED,
	FD_NR,
};

struct uring_disk {
	struct nvmft_bdev *bdev;
	struct nvmft_runtime *rt;
	char *filename;
	int fd;			/* O_DIRECT unless buffered */
	int fd_cached;		/* page-cache descriptor for misaligned I/O; -1 if buffered */
	bool buffered;
	bool is_blkdev;
	uint32_t block_size;
	uint32_t mem_align;	/* O_DIRECT buffer address alignment */
	uint32_t len_align;	/* O_DIRECT offset and segment length alignment */
	uint64_t num_blocks;	/* app reactor: the size last reported */
	/* Learnt from the file system at run time, on any reactor. */
	_Atomic bool no_zero_range;
	_Atomic bool no_punch_hole;
	_Atomic(void *) zero_buf;	/* allocated on first fallback */
	unsigned int nr_counters;
	struct uring_counters *counters;	/* one per reactor */
};

extern const struct nvmft_bdev_ops bdev_uring_ops;

/* Closes the descriptors and frees @d (any thread, once nothing uses it). */
void uring_disk_free(struct uring_disk *d);

#endif
