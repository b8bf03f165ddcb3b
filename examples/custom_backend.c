// SPDX-License-Identifier: MIT
/*
 * custom_backend.c - write your own block backend and serve it over NVMe/TCP.
 *
 * This is the tutorial for the provider API (<nvmft/bdev_module.h>); read
 * it from top to bottom. It builds "xorpat", a toy device that is still a
 * complete backend:
 *
 *   - a block that was never written reads as a pattern computed from its
 *     LBA (so a host can check what it reads without writing first);
 *   - writes are kept in RAM; Write Zeroes stores zeroes; Deallocate makes
 *     a block read as the pattern again;
 *   - Compare and Flush are not implemented: the bdev layer emulates
 *     Compare with a read and a memcmp, and answers Flush itself because
 *     the device has no volatile write cache;
 *   - with --latency-us, every I/O completes that much later, from a timed
 *     poller: the shape of any backend whose completions arrive
 *     asynchronously (a disk, a network, a ring).
 *
 * Usage: custom_backend [--latency-us N] [--size MIB] [--seconds N] [PORT]
 *
 * It serves the device as namespace 1 of nqn.2026-11.io.nvmft:xorpat on
 * 127.0.0.1:PORT (default 4420; 0 picks a free port), prints the port,
 * and runs until SIGINT/SIGTERM (or N seconds). The target side is the same
 * as in embed.c; only the bdev differs.
 *
 * The pattern: the block of LBA L is block_size / 8 little-endian 64-bit
 * words, word i being XORPAT_SEED ^ (L << 16) ^ i.
 */
#include <endian.h>
#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <json-c/json.h>

#include <nvmft/bdev_module.h>
#include <nvmft/nvmf.h>

#define XORPAT_SEED	0x786f727061747465ull	/* "xorpatte" */
#define XORPAT_NQN	"nqn.2026-11.io.nvmft:xorpat"

/* ------------------------------------------------------------------------
 * 1. The device: state shared by every reactor.
 *
 * I/O for one bdev is submitted on several reactors at once (one channel
 * per reactor), so whatever the device shares must be safe to use from
 * several threads without a lock on the I/O path. Here: a RAM buffer that
 * reactors write to disjoint places of (overlapping writes in flight at the
 * same time are the host's business, as on any disk), and a bitmap of
 * written blocks changed with atomic operations.
 */
struct xorpat_dev {
	struct nvmft_bdev *bdev;
	uint32_t block_size;
	uint64_t num_blocks;
	uint64_t latency_us;
	uint8_t *data;			/* anonymous mapping: RAM used on write */
	size_t data_len;
	_Atomic uint64_t *written;	/* bit per block: holds written data */
};

/*
 * 2. The channel: one per reactor doing I/O to the device, created and
 * destroyed on that reactor, used by that reactor only — so nothing in it
 * needs a lock.
 */
struct xorpat_channel {
	struct xorpat_dev *dev;
	uint8_t *scratch;		/* one block, to build the pattern in */
	struct nvmft_poller *poller;	/* completes delayed I/O */
	struct nvmft_bdev_io *head;	/* delayed I/O, oldest (due first) first */
	struct nvmft_bdev_io *tail;
};

/*
 * 3. Per-I/O state lives inside the I/O itself, in io->driver_ctx (up to
 * NVMFT_BDEV_IO_CTX_SIZE bytes, declared in the ops table): the submit path
 * never allocates.
 */
struct xorpat_io {
	struct nvmft_bdev_io *next;
	uint64_t due_us;
};

static struct xorpat_io *xio(struct nvmft_bdev_io *io)
{
	return (struct xorpat_io *)io->driver_ctx;
}

/* ---- the data path ---------------------------------------------------- */

static bool block_written(struct xorpat_dev *d, uint64_t lba)
{
	/* acquire: pairs with the release in mark_written(), so the data the
	 * writer copied is visible once the bit is. */
	return atomic_load_explicit(&d->written[lba / 64], memory_order_acquire) &
	       (1ull << (lba % 64));
}

static void mark_written(struct xorpat_dev *d, uint64_t lba, bool written)
{
	uint64_t bit = 1ull << (lba % 64);

	if (written)
		atomic_fetch_or_explicit(&d->written[lba / 64], bit, memory_order_release);
	else
		atomic_fetch_and_explicit(&d->written[lba / 64], ~bit, memory_order_release);
}

static void fill_pattern(uint8_t *buf, uint32_t block_size, uint64_t lba)
{
	for (uint32_t i = 0; i < block_size / 8; i++) {
		uint64_t w = htole64(XORPAT_SEED ^ (lba << 16) ^ i);

		memcpy(buf + 8 * i, &w, 8);
	}
}

/*
 * The iovecs of an I/O add up to num_blocks * block_size bytes, but one
 * entry may end in the middle of a block: walk them with a cursor.
 */
struct iov_cursor {
	const struct iovec *iov;
	size_t off;			/* into *iov */
};

static void iov_copy(struct iov_cursor *c, uint8_t *block, size_t len, bool to_iov)
{
	while (len) {
		size_t n = c->iov->iov_len - c->off;
		uint8_t *p = (uint8_t *)c->iov->iov_base + c->off;

		if (n > len)
			n = len;
		if (to_iov)
			memcpy(p, block, n);
		else
			memcpy(block, p, n);
		block += n;
		len -= n;
		c->off += n;
		if (c->off == c->iov->iov_len) {
			c->iov++;
			c->off = 0;
		}
	}
}

/*
 * Do the work of @io. Returns 0 or a negative errno: the bdev layer turns
 * it into the NVMe status (nvmft_bdev_errno_to_status(): -EIO is a media
 * error, -ENOSPC Capacity Exceeded, -EAGAIN a retryable Command
 * Interrupted, ...). This device cannot fail, so it always returns 0 for
 * the types it claimed in xorpat_supports().
 */
static int xorpat_execute(struct xorpat_channel *ch, struct nvmft_bdev_io *io)
{
	struct xorpat_dev *d = ch->dev;
	struct iov_cursor cur = { .iov = io->iov };
	uint32_t bs = d->block_size;

	for (uint64_t lba = io->offset_blocks;
	     lba < io->offset_blocks + io->num_blocks; lba++) {
		uint8_t *stored = d->data + lba * bs;

		switch (io->type) {
		case NVMFT_IO_READ:
			if (block_written(d, lba)) {
				iov_copy(&cur, stored, bs, true);
			} else {
				fill_pattern(ch->scratch, bs, lba);
				iov_copy(&cur, ch->scratch, bs, true);
			}
			break;
		case NVMFT_IO_WRITE:
			/* The data first, then the bit that makes it visible. */
			iov_copy(&cur, stored, bs, false);
			mark_written(d, lba, true);
			break;
		case NVMFT_IO_WRITE_ZEROES:
			memset(stored, 0, bs);
			mark_written(d, lba, true);
			break;
		case NVMFT_IO_UNMAP:
			mark_written(d, lba, false);
			break;
		default:
			/* Never reached: the layer only passes what we claimed. */
			return -EINVAL;
		}
	}
	/* No write cache: the data is as durable as it gets (FUA included). */
	return 0;
}

/*
 * 4. submit(): called on the channel's reactor for every I/O the layer did
 * not handle itself (range already checked, emulated types already turned
 * into reads and writes). Either complete @io now or keep it and complete
 * it later — exactly once, on this reactor. Return 0 in both cases; return
 * -ENOMEM/-EAGAIN only when out of resources (the layer queues the I/O and
 * submits it again after one of this channel's I/Os completes).
 */
static int xorpat_submit(void *chan_ctx, struct nvmft_bdev_io *io)
{
	struct xorpat_channel *ch = chan_ctx;

	if (!ch->poller) {
		/* Completing from inside submit is allowed. */
		nvmft_bdev_io_complete(io, xorpat_execute(ch, io));
		return 0;
	}
	/* Every I/O waits the same time: the queue stays sorted by due time. */
	xio(io)->next = NULL;
	xio(io)->due_us = nvmft_now_us() + ch->dev->latency_us;
	if (ch->tail)
		xio(ch->tail)->next = io;
	else
		ch->head = io;
	ch->tail = io;
	nvmft_poller_resume(ch->poller);
	return 0;
}

/*
 * 5. Asynchronous completion: a timed poller of the channel's reactor. It
 * runs only while something waits (paused otherwise), so an idle device
 * costs no wake-ups.
 */
static int xorpat_complete_due(void *arg)
{
	struct xorpat_channel *ch = arg;
	uint64_t now = nvmft_now_us();
	struct nvmft_bdev_io *io;
	int done = 0;

	while ((io = ch->head) && xio(io)->due_us <= now) {
		/* Unlink first: the completion callback may submit new I/O to
		 * this very channel, which appends to the queue. */
		ch->head = xio(io)->next;
		if (!ch->head)
			ch->tail = NULL;
		nvmft_bdev_io_complete(io, xorpat_execute(ch, io));
		done++;
	}
	if (!ch->head)
		nvmft_poller_pause(ch->poller);
	return done;	/* > 0: did work (the reactor keeps polling) */
}

/* ---- channels ------------------------------------------------------------ */

/* Runs on the reactor that first needs the device; @chan_ctx is zeroed. */
static int xorpat_channel_create(void *bdev_ctx, void *chan_ctx)
{
	struct xorpat_channel *ch = chan_ctx;
	struct xorpat_dev *d = bdev_ctx;

	ch->dev = d;
	ch->scratch = malloc(d->block_size);
	if (!ch->scratch)
		return -ENOMEM;
	if (d->latency_us) {
		/* Check a few times per latency period: completions are late by
		 * at most a quarter of it. */
		uint64_t period = d->latency_us >= 40 ? d->latency_us / 4 : 10;

		ch->poller = nvmft_poller_register(xorpat_complete_due, ch, period);
		if (!ch->poller) {
			free(ch->scratch);
			return -ENOMEM;
		}
		nvmft_poller_pause(ch->poller);
	}
	return 0;
}

/* Same reactor. The layer destroys a channel once its consumer put it,
 * which the consumer does after its I/O completed: the queue is empty. */
static void xorpat_channel_destroy(void *bdev_ctx, void *chan_ctx)
{
	struct xorpat_channel *ch = chan_ctx;
	struct nvmft_bdev_io *io;

	/* Still, never lose an I/O: fail what a buggy consumer left behind. */
	while ((io = ch->head)) {
		ch->head = xio(io)->next;
		nvmft_bdev_io_complete(io, -ENODEV);
	}
	nvmft_poller_unregister(&ch->poller);
	free(ch->scratch);
}

/* ---- the device's life -------------------------------------------------- */

/*
 * Asked once per I/O type when the device registers. READ and WRITE are
 * required; everything else is optional: COMPARE gets emulated by the layer
 * (read into a bounce buffer + memcmp), FLUSH becomes a no-op because
 * props.write_cache is false. Claiming UNMAP means Deallocate really does
 * something (otherwise props.unmap_advisory decides between a no-op
 * success and Invalid Opcode).
 */
static bool xorpat_supports(void *bdev_ctx, enum nvmft_io_type type)
{
	switch (type) {
	case NVMFT_IO_READ:
	case NVMFT_IO_WRITE:
	case NVMFT_IO_WRITE_ZEROES:
	case NVMFT_IO_UNMAP:
		return true;
	default:
		return false;
	}
}

static void xorpat_free(struct xorpat_dev *d)
{
	if (d->data && d->data != MAP_FAILED)
		munmap(d->data, d->data_len);
	free(d->written);
	free(d);
}

/*
 * Runs on the app reactor once every descriptor is closed and every channel
 * destroyed. @done may also be called later, from any thread, for backends
 * whose teardown is asynchronous (closing connections, flushing).
 */
static void xorpat_destroy(void *bdev_ctx, void (*done)(void *arg), void *arg)
{
	xorpat_free(bdev_ctx);
	done(arg);
}

/* For RPC listings and save-config: what it takes to create it again. */
static void xorpat_dump_info(void *bdev_ctx, struct json_object *obj)
{
	struct xorpat_dev *d = bdev_ctx;

	json_object_object_add(obj, "num_blocks", json_object_new_uint64(d->num_blocks));
	json_object_object_add(obj, "block_size", json_object_new_int((int)d->block_size));
	json_object_object_add(obj, "latency_us", json_object_new_uint64(d->latency_us));
}

/*
 * 6. The ops table: const, designated initialisers, registered explicitly
 * by the create function below (no constructors, no global registry).
 */
static const struct nvmft_bdev_ops xorpat_ops = {
	.name = "xorpat",
	.chan_ctx_size = sizeof(struct xorpat_channel),
	.io_ctx_size = sizeof(struct xorpat_io),
	.channel_create = xorpat_channel_create,
	.channel_destroy = xorpat_channel_destroy,
	.submit = xorpat_submit,
	.supports = xorpat_supports,
	.destroy = xorpat_destroy,
	.dump_info = xorpat_dump_info,
};

/*
 * 7. The create function a backend offers its users. App reactor (the
 * registry belongs to it). On success the registry owns the device: it
 * comes back through xorpat_destroy() when the bdev is deleted.
 */
static int xorpat_create(struct nvmft_bdev_registry *reg, const char *name,
			 uint64_t num_blocks, uint32_t block_size,
			 uint64_t latency_us)
{
	struct nvmft_bdev_props props = {
		.name = name,
		.block_size = block_size,
		.num_blocks = num_blocks,
		.write_cache = false,	/* writes are durable on completion */
		.max_io_blocks = 0,	/* any size: no splitting needed */
	};
	struct xorpat_dev *d;
	int rc;

	if (num_blocks == 0 || block_size < 512 || block_size > 65536 ||
	    (block_size & (block_size - 1)) || num_blocks > SIZE_MAX / block_size)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->block_size = block_size;
	d->num_blocks = num_blocks;
	d->latency_us = latency_us;
	d->data_len = num_blocks * block_size;
	d->data = mmap(NULL, d->data_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	d->written = calloc((num_blocks + 63) / 64, sizeof(*d->written));
	if (d->data == MAP_FAILED || !d->written) {
		rc = -ENOMEM;
		goto out_free_dev;
	}
	rc = nvmft_bdev_register(reg, &props, &xorpat_ops, d, &d->bdev);
	if (rc)
		goto out_free_dev;
	return 0;

out_free_dev:
	xorpat_free(d);
	return rc;
}

/* ------------------------------------------------------------------------
 * 8. Serving it: as in embed.c, each step runs on the app reactor and the
 * last callback of a chain wakes main().
 */
struct app {
	struct nvmft_runtime *rt;
	struct nvmft_tgt *tgt;
	struct nvmft_subsystem *ss;
	struct nvmft_listen_addr addr;
	uint64_t num_blocks, latency_us;
	int port, rc;
	sem_t done;
};

static void step_done(void *arg, int rc)
{
	struct app *a = arg;

	a->rc = rc;
	sem_post(&a->done);
}

static int run_on_app_reactor(struct app *a, nvmft_msg_fn fn)
{
	int rc = nvmft_runtime_exec(a->rt, 0, fn, a);

	if (!rc)
		sem_wait(&a->done);
	return rc ? rc : a->rc;
}

static void ns_added(void *arg, int rc)
{
	struct app *a = arg;

	if (!rc)
		rc = nvmft_subsystem_start(a->ss, step_done, a);
	if (rc)
		step_done(a, rc);
}

static void transport_added(void *arg, int rc)
{
	struct nvmft_ns_opts ns = { .bdev_name = "xorpat0", .nsid = 1 };
	struct nvmft_subsystem_opts so;
	struct app *a = arg;

	nvmft_subsystem_opts_init(&so);
	so.nqn = XORPAT_NQN;
	so.model = "nvmft xorpat example";
	so.allow_any_host = true;
	if (!rc)
		rc = nvmft_subsystem_create(a->tgt, &so, &a->ss);
	if (!rc)
		rc = nvmft_subsystem_add_listener(a->ss, &a->addr);
	if (!rc) {
		a->port = nvmft_tgt_listen_port(a->tgt, &a->addr);
		rc = nvmft_subsystem_add_ns(a->ss, &ns, NULL, ns_added, a);
	}
	if (rc)
		step_done(a, rc);
}

static void setup(void *arg)
{
	struct app *a = arg;
	int rc = nvmft_tgt_create(a->rt, NULL, &a->tgt);

	/* Our backend registers in the target's registry like malloc would. */
	if (!rc)
		rc = xorpat_create(nvmft_tgt_get_bdevs(a->tgt), "xorpat0",
				   a->num_blocks, 512, a->latency_us);
	if (!rc)
		rc = nvmft_tgt_add_transport(a->tgt, "TCP", NULL, transport_added, a);
	if (rc)
		step_done(a, rc);
}

static void teardown(void *arg)
{
	struct app *a = arg;

	/* Closes the namespace's descriptor: xorpat_destroy() runs last. */
	nvmft_tgt_destroy(a->tgt, step_done, a);
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > max)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	struct timespec limit = { .tv_sec = 1 << 30 };
	struct app a = { .num_blocks = (64 << 20) / 512 };
	const char *port = "4420";
	uint64_t v;
	sigset_t stop_sigs;
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : "";

		if (!strcmp(opt, "--latency-us") && !parse_u64(val, 10000000, &v))
			a.latency_us = v;
		else if (!strcmp(opt, "--size") && !parse_u64(val, 1 << 20, &v) && v)
			a.num_blocks = v << 11;	/* MiB in 512-byte blocks */
		else if (!strcmp(opt, "--seconds") && !parse_u64(val, 1 << 30, &v) && v)
			limit.tv_sec = (time_t)v;
		else if (opt[0] != '-') {
			port = opt;
			continue;
		} else
			goto usage;
		i++;
	}
	if (nvmft_listen_addr_init(&a.addr, "127.0.0.1", port))
		goto usage;

	sigemptyset(&stop_sigs);
	sigaddset(&stop_sigs, SIGINT);
	sigaddset(&stop_sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_sigs, NULL);
	sem_init(&a.done, 0, 0);

	rc = nvmft_runtime_create(NULL, &a.rt);
	if (!rc)
		rc = nvmft_runtime_start(a.rt);
	if (!rc)
		rc = run_on_app_reactor(&a, setup);
	if (rc) {
		fprintf(stderr, "custom_backend: cannot serve on port %s: %s\n", port,
			strerror(-rc));
	} else {
		printf("custom_backend: serving %s (xorpat, %llu blocks of 512, latency %llu us) on 127.0.0.1:%d\n",
		       XORPAT_NQN, (unsigned long long)a.num_blocks,
		       (unsigned long long)a.latency_us, a.port);
		fflush(stdout);
		sigtimedwait(&stop_sigs, NULL, &limit);
	}
	if (a.tgt)
		run_on_app_reactor(&a, teardown);
	nvmft_runtime_stop(a.rt);
	nvmft_runtime_destroy(a.rt);
	sem_destroy(&a.done);
	return rc ? 1 : 0;
usage:
	fprintf(stderr, "usage: %s [--latency-us N] [--size MIB] [--seconds N] [PORT]\n",
		argv[0]);
	return 2;
}
