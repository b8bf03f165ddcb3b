// SPDX-License-Identifier: MIT
/*
 * io_devices and io_channels: per-reactor creation, reference counting,
 * deferred destruction, unregister, for_each_channel, channels at stop.
 */
#include "unit/test_runtime_common.h"

struct dev {
	_Atomic long created;
	_Atomic long destroyed;
	_Atomic int destroyed_on;	/* bitmask of reactor indices */
	_Atomic int created_on;
	_Atomic long done;
	_Atomic int done_on;
	_Atomic int ctx_was_dirty;
	int fail_create;
};

struct chan_ctx {
	uint64_t magic;
	char pad[56];
};

static int me(void)
{
	struct nvmft_thread *t = nvmft_get_thread();

	return t ? (int)nvmft_thread_index(t) : -1;
}

static int dev_create(void *io_device, void *ctx)
{
	struct dev *d = io_device;
	struct chan_ctx *c = ctx;
	size_t i;

	for (i = 0; i < sizeof(*c); i++)
		if (((unsigned char *)c)[i])
			atomic_store(&d->ctx_was_dirty, 1);
	if (d->fail_create)
		return -EIO;
	c->magic = 0x1234;
	atomic_fetch_add(&d->created, 1);
	atomic_fetch_or(&d->created_on, 1 << me());
	return 0;
}

static void dev_destroy(void *io_device, void *ctx)
{
	struct dev *d = io_device;
	struct chan_ctx *c = ctx;

	if (c->magic != 0x1234)
		atomic_store(&d->ctx_was_dirty, 2);
	atomic_fetch_add(&d->destroyed, 1);
	atomic_fetch_or(&d->destroyed_on, 1 << me());
}

static void dev_done(void *arg)
{
	struct dev *d = arg;

	atomic_store(&d->done_on, me());
	atomic_fetch_add(&d->done, 1);
}

/* What a reactor does with channels, driven by exec from the test. */
struct op {
	struct dev *d;
	struct nvmft_io_channel *ch;
	struct nvmft_io_channel *ch2;
	void *ctx;
	struct nvmft_thread *owner;
	long destroyed_right_after_put;
	int rc;
	struct nvmft_runtime *rt;
};

static void get_fn(void *arg)
{
	struct op *o = arg;

	o->ch = nvmft_get_io_channel(o->d);
	o->ctx = nvmft_io_channel_get_ctx(o->ch);
	o->owner = nvmft_io_channel_get_thread(o->ch);
}

static void get2_fn(void *arg)
{
	struct op *o = arg;

	o->ch2 = nvmft_get_io_channel(o->d);
}

static void put_fn(void *arg)
{
	struct op *o = arg;

	nvmft_put_io_channel(o->ch);
	o->destroyed_right_after_put = atomic_load(&o->d->destroyed);
}

static void put2_fn(void *arg)
{
	struct op *o = arg;

	nvmft_put_io_channel(o->ch2);
}

static void unregister_fn(void *arg)
{
	struct op *o = arg;

	o->rc = nvmft_io_device_unregister(o->rt, o->d, dev_done, o->d);
}

static void test_channel_created_once_per_reactor(void **state)
{
	struct nvmft_runtime *rt = test_rt_start(state, 2, NVMFT_WAIT_INTERRUPT);
	struct dev d = { 0 };
	struct op a = { .d = &d }, b = { .d = &d }, c = { .d = &d };

	assert_int_equal(nvmft_io_device_register(rt, &d, dev_create, dev_destroy,
						  sizeof(struct chan_ctx), "d"), 0);
	assert_int_equal(nvmft_io_device_register(rt, &d, dev_create, dev_destroy,
						  sizeof(struct chan_ctx), "d"), -EEXIST);
	assert_int_equal(nvmft_runtime_exec(rt, 0, get_fn, &a), 0);
	assert_non_null(a.ch);
	assert_non_null(a.ctx);
	assert_int_equal(((struct chan_ctx *)a.ctx)->magic, 0x1234);
	assert_ptr_equal(a.owner, nvmft_runtime_get_thread(rt, 0));
	assert_int_equal(atomic_load(&d.created), 1);

	assert_int_equal(nvmft_runtime_exec(rt, 0, get_fn, &b), 0);
	assert_ptr_equal(b.ch, a.ch);
	assert_int_equal(atomic_load(&d.created), 1);

	assert_int_equal(nvmft_runtime_exec(rt, 1, get_fn, &c), 0);
	assert_non_null(c.ch);
	assert_ptr_not_equal(c.ch, a.ch);
	assert_int_equal(atomic_load(&d.created), 2);
	assert_int_equal(atomic_load(&d.created_on), 3);
	assert_int_equal(atomic_load(&d.ctx_was_dirty), 0);

	assert_int_equal(nvmft_runtime_exec(rt, 0, put_fn, &a), 0);
	assert_int_equal(nvmft_runtime_exec(rt, 0, put_fn, &b), 0);
	assert_int_equal(nvmft_runtime_exec(rt, 1, put_fn, &c), 0);
	assert_int_equal(test_wait_ge(&d.destroyed, 2, 5000000), 2);
	assert_int_equal(nvmft_io_device_unregister(rt, &d, NULL, NULL), 0);
	test_rt_end(rt);
}

static void test_last_put_destroys_later_on_owner(void **state)
{
	struct nvmft_runtime *rt = test_rt_start(state, 2, NVMFT_WAIT_INTERRUPT);
	struct dev d = { 0 };
	struct op a = { .d = &d };

	assert_int_equal(nvmft_io_device_register(rt, &d, dev_create, dev_destroy,
						  sizeof(struct chan_ctx), "d"), 0);
	assert_int_equal(nvmft_runtime_exec(rt, 1, get_fn, &a), 0);
	assert_int_equal(nvmft_runtime_exec(rt, 1, get2_fn, &a), 0);
	assert_ptr_equal(a.ch2, a.ch);
	assert_int_equal(nvmft_runtime_exec(rt, 1, put2_fn, &a), 0);
	usleep(20000);
	assert_int_equal(atomic_load(&d.destroyed), 0);
	assert_int_equal(nvmft_runtime_exec(rt, 1, put_fn, &a), 0);
	/* Not inside put: on a later turn of the same reactor. */
	assert_int_equal(a.destroyed_right_after_put, 0);
	assert_int_equal(test_wait_ge(&d.destroyed, 1, 5000000), 1);
	assert_int_equal(atomic_load(&d.destroyed_on), 1 << 1);
	/* A new get after that creates a fresh channel. */
	assert_int_equal(nvmft_runtime_exec(rt, 1, get_fn, &a), 0);
	assert_int_equal(atomic_load(&d.created), 2);
	assert_int_equal(nvmft_runtime_exec(rt, 1, put_fn, &a), 0);
	assert_int_equal(test_wait_ge(&d.destroyed, 2, 5000000), 2);
	assert_int_equal(nvmft_io_device_unregister(rt, &d, NULL, NULL), 0);
	test_rt_end(rt);
}

/* get right after the last put, in the same turn: the channel lives on. */
static void put_then_get_fn(void *arg)
{
	struct op *o = arg;

	nvmft_put_io_channel(o->ch);
	o->ch2 = nvmft_get_io_channel(o->d);
}

static void test_get_after_last_put_revives_channel(void **state)
{
	struct nvmft_runtime *rt = test_rt_start(state, 1, NVMFT_WAIT_INTERRUPT);
	struct dev d = { 0 };
	struct op a = { .d = &d };

	assert_int_equal(nvmft_io_device_register(rt, &d, dev_create, dev_destroy,
						  sizeof(struct chan_ctx), "d"), 0);
	assert_int_equal(nvmft_runtime_exec(rt, 0, get_fn, &a), 0);
	assert_int_equal(nvmft_runtime_exec(rt, 0, put_then_get_fn, &a), 0);
	assert_ptr_equal(a.ch2, a.ch);
	usleep(20000);
	assert_int_equal(atomic_load(&d.destroyed), 0);
	assert_int_equal(atomic_load(&d.created), 1);
	assert_int_equal(nvmft_runtime_exec(rt, 0, put_fn, &a), 0);
	assert_int_equal(test_wait_ge(&d.destroyed, 1, 5000000), 1);
	assert_int_equal(nvmft_io_device_unregister(rt, &d, NULL, NULL), 0);
	test_rt_end(rt);
}

static void check_unregister_done(void **state, int from)
{
	struct nvmft_runtime *rt = test_rt_start(state, 3, NVMFT_WAIT_INTERRUPT);
	struct dev d = { .done_on = -2 };
	struct op a = { .d = &d }, b = { .d = &d }, late = { .d = &d },
		  u = { .d = &d, .rt = rt, .rc = 1 };

	assert_int_equal(nvmft_io_device_register(rt, &d, dev_create, dev_destroy,
						  sizeof(struct chan_ctx), "d"), 0);
	assert_int_equal(nvmft_runtime_exec(rt, 0, get_fn, &a), 0);
	assert_int_equal(nvmft_runtime_exec(rt, 1, get_fn, &b), 0);
	if (from < 0) {
		assert_int_equal(nvmft_io_device_unregister(rt, &d, dev_done, &d), 0);
	} else {
		assert_int_equal(nvmft_runtime_exec(rt, (unsigned int)from,
						    unregister_fn, &u), 0);
		assert_int_equal(u.rc, 0);
	}
	assert_int_equal(nvmft_io_device_unregister(rt, &d, NULL, NULL), -ENOENT);
	/* Retiring: no new channel, on any reactor. */
	assert_int_equal(nvmft_runtime_exec(rt, 2, get_fn, &late), 0);
	assert_null(late.ch);
	assert_int_equal(nvmft_runtime_exec(rt, 0, put_fn, &a), 0);
	usleep(20000);
	assert_int_equal(atomic_load(&d.destroyed), 1);
	assert_int_equal(atomic_load(&d.done), 0);
	assert_int_equal(nvmft_runtime_exec(rt, 1, put_fn, &b), 0);
	assert_int_equal(test_wait_ge(&d.done, 1, 5000000), 1);
	assert_int_equal(atomic_load(&d.destroyed), 2);
	assert_int_equal(atomic_load(&d.done_on), from < 0 ? 0 : from);
	/* The key is free again. */
	assert_int_equal(nvmft_io_device_register(rt, &d, dev_create, dev_destroy,
						  sizeof(struct chan_ctx), "d"), 0);
	test_rt_end(rt);
	assert_int_equal(atomic_load(&d.done), 1);
}

static void test_unregister_done_after_last_channel_off_reactor(void **state)
{
	check_unregister_done(state, -1);
}

static void test_unregister_done_runs_on_calling_reactor(void **state)
{
	check_unregister_done(state, 2);
}

static void test_unregister_without_channels_runs_done(void **state)
{
	struct nvmft_runtime *rt = test_rt_start(state, 2, NVMFT_WAIT_INTERRUPT);
	struct dev d = { .done_on = -2 };
	struct op u = { .d = &d, .rt = rt };

	assert_int_equal(nvmft_io_device_register(rt, &d, dev_create, dev_destroy,
						  0, "d"), 0);
	assert_int_equal(nvmft_runtime_exec(rt, 1, unregister_fn, &u), 0);
	assert_int_equal(u.rc, 0);
	assert_int_equal(test_wait_ge(&d.done, 1, 5000000), 1);
	assert_int_equal(atomic_load(&d.done_on), 1);
	test_rt_end(rt);
}

static void test_failed_create_returns_null(void **state)
{
	struct nvmft_runtime *rt = test_rt_start(state, 1, NVMFT_WAIT_INTERRUPT);
	struct dev d = { .fail_create = 1 };
	struct op a = { .d = &d }, unknown = { .d = (struct dev *)&rt };

	assert_int_equal(nvmft_io_device_register(rt, &d, dev_create, dev_destroy,
						  sizeof(struct chan_ctx), "d"), 0);
	assert_int_equal(nvmft_runtime_exec(rt, 0, get_fn, &a), 0);
	assert_null(a.ch);
	assert_null(a.ctx);
	assert_int_equal(nvmft_runtime_exec(rt, 0, get_fn, &unknown), 0);
	assert_null(unknown.ch);
	/* Off-reactor: no channel. */
	assert_null(nvmft_get_io_channel(&d));
	assert_int_equal(nvmft_io_device_unregister(rt, &d, dev_done, &d), 0);
	assert_int_equal(test_wait_ge(&d.done, 1, 5000000), 1);
	assert_int_equal(atomic_load(&d.destroyed), 0);
	test_rt_end(rt);
}

struct visit {
	struct op op;
	struct nvmft_runtime *rt;
	_Atomic int visited;		/* bitmask */
	int order[4];
	_Atomic int n;
	_Atomic int bad_ctx;
	_Atomic int done_on;
	_Atomic long finished;
	int rc;
};

static void visit_fn(struct nvmft_io_channel *ch, void *arg)
{
	struct visit *v = arg;
	int i = atomic_fetch_add(&v->n, 1);
	struct chan_ctx *c = nvmft_io_channel_get_ctx(ch);

	if (c->magic != 0x1234 || nvmft_io_channel_get_thread(ch) != nvmft_get_thread())
		atomic_store(&v->bad_ctx, 1);
	if (i < 4)
		v->order[i] = me();
	atomic_fetch_or(&v->visited, 1 << me());
}

static void visit_done(void *arg)
{
	struct visit *v = arg;

	atomic_store(&v->done_on, me());
	atomic_store(&v->finished, 1);
}

static void visit_start(void *arg)
{
	struct visit *v = arg;

	v->rc = nvmft_for_each_channel(v->rt, v->op.d, visit_fn, v, visit_done);
}

static void test_for_each_channel_visits_only_reactors_with_one(void **state)
{
	struct nvmft_runtime *rt = test_rt_start(state, 3, NVMFT_WAIT_ADAPTIVE);
	struct dev d = { 0 };
	struct op a = { .d = &d }, c = { .d = &d };
	struct visit v = { .rt = rt, .op.d = &d, .done_on = -1, .rc = 1 };

	assert_int_equal(nvmft_io_device_register(rt, &d, dev_create, dev_destroy,
						  sizeof(struct chan_ctx), "d"), 0);
	assert_int_equal(nvmft_runtime_exec(rt, 0, get_fn, &a), 0);
	assert_int_equal(nvmft_runtime_exec(rt, 2, get_fn, &c), 0);
	assert_int_equal(nvmft_runtime_exec(rt, 1, visit_start, &v), 0);
	assert_int_equal(v.rc, 0);
	assert_int_equal(test_wait_ge(&v.finished, 1, 5000000), 1);
	assert_int_equal(atomic_load(&v.visited), (1 << 0) | (1 << 2));
	assert_int_equal(atomic_load(&v.n), 2);
	assert_int_equal(v.order[0], 0);
	assert_int_equal(v.order[1], 2);
	assert_int_equal(atomic_load(&v.bad_ctx), 0);
	assert_int_equal(atomic_load(&v.done_on), 1);

	/* Unknown device, and off-reactor callers, are refused. */
	v.op.d = (struct dev *)&v;
	assert_int_equal(nvmft_runtime_exec(rt, 1, visit_start, &v), 0);
	assert_int_equal(v.rc, -ENOENT);
	assert_int_equal(nvmft_for_each_channel(rt, &d, visit_fn, &v, NULL), -EINVAL);

	assert_int_equal(nvmft_runtime_exec(rt, 0, put_fn, &a), 0);
	assert_int_equal(nvmft_runtime_exec(rt, 2, put_fn, &c), 0);
	assert_int_equal(nvmft_io_device_unregister(rt, &d, dev_done, &d), 0);
	assert_int_equal(test_wait_ge(&d.done, 1, 5000000), 1);
	test_rt_end(rt);
}

/* Channels still held when the runtime stops die on their own reactor. */
static void test_held_channels_destroyed_at_stop(void **state)
{
	struct nvmft_runtime *rt = test_rt_start(state, 2, NVMFT_WAIT_INTERRUPT);
	struct dev d = { 0 };
	struct op a = { .d = &d }, b = { .d = &d };
	uint64_t t0;

	assert_int_equal(nvmft_io_device_register(rt, &d, dev_create, dev_destroy,
						  sizeof(struct chan_ctx), "d"), 0);
	assert_int_equal(nvmft_runtime_exec(rt, 0, get_fn, &a), 0);
	assert_int_equal(nvmft_runtime_exec(rt, 1, get_fn, &b), 0);
	assert_int_equal(nvmft_io_device_unregister(rt, &d, dev_done, &d), 0);
	t0 = nvmft_now_us();
	nvmft_runtime_stop(rt);
	assert_true(nvmft_now_us() - t0 < 4000000);
	assert_int_equal(atomic_load(&d.destroyed), 2);
	assert_int_equal(atomic_load(&d.destroyed_on), 3);
	/* Reactor 0 was gone when the last channel went: done ran anyway. */
	assert_int_equal(atomic_load(&d.done), 1);
	test_rt_destroy(rt);
}

/* A device still registered at destroy is freed (leak checkers watch). */
static void test_registered_device_freed_at_destroy(void **state)
{
	struct nvmft_runtime *rt = test_rt_start(state, 1, NVMFT_WAIT_INTERRUPT);
	struct dev d = { 0 };
	struct op a = { .d = &d };

	assert_int_equal(nvmft_io_device_register(rt, &d, dev_create, dev_destroy,
						  sizeof(struct chan_ctx), "d"), 0);
	assert_int_equal(nvmft_runtime_exec(rt, 0, get_fn, &a), 0);
	test_rt_end(rt);
	assert_int_equal(atomic_load(&d.destroyed), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		RT_TEST(test_channel_created_once_per_reactor),
		RT_TEST(test_last_put_destroys_later_on_owner),
		RT_TEST(test_get_after_last_put_revives_channel),
		RT_TEST(test_unregister_done_after_last_channel_off_reactor),
		RT_TEST(test_unregister_done_runs_on_calling_reactor),
		RT_TEST(test_unregister_without_channels_runs_done),
		RT_TEST(test_failed_create_returns_null),
		RT_TEST(test_for_each_channel_visits_only_reactors_with_one),
		RT_TEST(test_held_channels_destroyed_at_stop),
		RT_TEST(test_registered_device_freed_at_destroy),
	};

	return cmocka_run_group_tests_name("runtime_channel", tests, NULL, NULL);
}
