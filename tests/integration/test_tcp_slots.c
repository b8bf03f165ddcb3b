/* SPDX-License-Identifier: MIT */
/*
 * Request slots of the TCP transport are reserved for the deepest queue
 * but set up on first use: an idle connection holds a few pages, a busy
 * one as many slots as its queue depth needs. Checked through the poll
 * groups' qpair lists (on their reactors), with real hosts on loopback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_tcp_harness.h"

struct env {
	struct tt_target t;
};

/* What the qpairs of every poll group hold now. */
struct slot_census {
	struct tt_target *t;
	unsigned int idx;
	unsigned int qpairs;
	uint32_t min_total;	/* slots reserved, smallest */
	uint32_t max_used;	/* slots set up, largest */
	uint32_t sum_used;
};

static void census_step(void *arg)
{
	struct slot_census *c = arg;
	struct nvmf_transport *tr = nvmf_tgt_get_transport(c->t->tgt, "TCP");
	struct tcp_poll_group *pg = tr ? tcp_transport_poll_group(tr, c->idx) : NULL;
	struct tcp_qpair *qp;

	if (!pg)
		return;
	TAILQ_FOREACH(qp, &pg->qpairs, pg_link) {
		c->qpairs++;
		if (!c->min_total || qp->nreqs < c->min_total)
			c->min_total = qp->nreqs;
		if (qp->nreqs_used > c->max_used)
			c->max_used = qp->nreqs_used;
		c->sum_used += qp->nreqs_used;
	}
}

static void census(struct env *e, struct slot_census *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned int i = 0; i < nvmft_runtime_nr_threads(e->t.rt); i++) {
		struct slot_census c = { .t = &e->t, .idx = i };

		assert_int_equal(nvmft_runtime_exec(e->t.rt, i, census_step, &c), 0);
		out->qpairs += c.qpairs;
		if (c.qpairs && (!out->min_total || c.min_total < out->min_total))
			out->min_total = c.min_total;
		if (c.max_used > out->max_used)
			out->max_used = c.max_used;
		out->sum_used += c.sum_used;
	}
}

static int env_setup(void **state, enum nvmft_engine engine)
{
	struct env *e = calloc(1, sizeof(*e));

	if (!e)
		return -1;
	*state = e;
	return tt_target_start(&e->t, engine, NULL);
}

static int setup_uring(void **state) { return env_setup(state, NVMFT_ENGINE_URING); }
static int setup_epoll(void **state) { return env_setup(state, NVMFT_ENGINE_EPOLL); }

static int env_teardown(void **state)
{
	struct env *e = *state;

	tt_target_stop(&e->t);
	free(e);
	return 0;
}

static struct nvmft_host_ctrlr *connect_ctrlr(struct env *e, uint16_t nr_io,
					      uint16_t qsize)
{
	struct nvmft_host_opts ho;
	struct nvmft_host_ctrlr *c = NULL;

	tt_host_opts(&e->t, &ho);
	ho.num_io_queues = nr_io;
	ho.io_queue_size = qsize;
	assert_int_equal(nvmft_host_ctrlr_connect(&ho, &c), 0);
	return c;
}

static void test_idle_connections_set_up_only_the_connect_slot(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = connect_ctrlr(e, 4, 128);
	struct slot_census sc;

	census(e, &sc);
	assert_int_equal(sc.qpairs, 5);		/* admin + 4 I/O queues */
	assert_true(sc.min_total >= 128);	/* room for the deepest queue */
	/* I/O queues saw only their Connect; the admin queue a few setup
	 * commands, one at a time */
	assert_true(sc.max_used <= 2);
	nvmft_host_ctrlr_disconnect(c);
	assert_int_equal(tt_wait_idle(&e->t, 0), 0);
}

static void test_sequential_io_keeps_reusing_the_same_slots(void **state)
{
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = connect_ctrlr(e, 1, 128);
	struct nvmft_host_qpair *qp = nvmft_host_ctrlr_io_qpair(c, 0);
	uint8_t *w = malloc(4096), *r = malloc(4096);
	struct slot_census sc;

	assert_non_null(w);
	assert_non_null(r);
	for (uint32_t i = 0; i < 300; i++) {
		tt_fill(w, 4096, i);
		assert_int_equal(nvmft_host_write(qp, 1, (uint64_t)i * 8, 8, w, 4096, false), 0);
		assert_int_equal(nvmft_host_read(qp, 1, (uint64_t)i * 8, 8, r, 4096), 0);
		assert_memory_equal(w, r, 4096);
	}
	census(e, &sc);
	assert_int_equal(sc.qpairs, 2);
	/* one command at a time: the most recently freed slot comes back
	 * (a slot whose response is still being sent may add one more) */
	assert_true(sc.max_used <= 3);
	free(w);
	free(r);
	nvmft_host_ctrlr_disconnect(c);
	assert_int_equal(tt_wait_idle(&e->t, 0), 0);
}

struct slot_io {
	bool done;
	uint16_t status;
};

static void slot_io_done(void *arg, const struct nvmft_host_cpl *cpl)
{
	struct slot_io *s = arg;

	s->status = cpl->status;
	s->done = true;
}

static void test_deep_queue_sets_up_as_many_slots_as_in_flight(void **state)
{
	enum { DEPTH = 64 };
	struct env *e = *state;
	struct nvmft_host_ctrlr *c = connect_ctrlr(e, 1, 128);
	struct nvmft_host_qpair *qp = nvmft_host_ctrlr_io_qpair(c, 0);
	struct slot_io ios[DEPTH] = { 0 };
	uint8_t *buf = malloc((size_t)DEPTH * 4096);
	struct slot_census sc;
	uint64_t end = tt_now_ms() + TT_WAIT_MS;
	unsigned int done = 0;

	assert_non_null(buf);
	for (unsigned int i = 0; i < DEPTH; i++) {
		struct nvmft_sqe sqe = {
			.opcode = nvme_cmd_read,
			.nsid = 1,
			.cdw10 = i * 8,
			.cdw12 = 7,
		};

		assert_int_equal(nvmft_host_submit(qp, &sqe, buf + (size_t)i * 4096, 4096,
						   NVMFT_HOST_DIR_READ, slot_io_done,
						   &ios[i]), 0);
	}
	while (done < DEPTH && tt_now_ms() < end) {
		assert_true(nvmft_host_qpair_poll(qp, 0) >= 0);
		done = 0;
		for (unsigned int i = 0; i < DEPTH; i++)
			done += ios[i].done;
	}
	assert_int_equal(done, DEPTH);
	for (unsigned int i = 0; i < DEPTH; i++)
		assert_int_equal(ios[i].status, 0);
	census(e, &sc);
	/* the 64 capsules leave in one send and are taken in one turn, so
	 * about 64 slots get set up (half is enough to prove it grows with
	 * the depth without depending on how the bytes were split), never
	 * more than reserved */
	assert_true(sc.max_used >= DEPTH / 2);
	assert_true(sc.max_used <= sc.min_total);
	free(buf);
	nvmft_host_ctrlr_disconnect(c);
	/* every slot that was set up went back FREE */
	assert_int_equal(tt_wait_idle(&e->t, 0), 0);
}

#define SLOT_TESTS								\
	cmocka_unit_test(test_idle_connections_set_up_only_the_connect_slot),	\
	cmocka_unit_test(test_sequential_io_keeps_reusing_the_same_slots),	\
	cmocka_unit_test(test_deep_queue_sets_up_as_many_slots_as_in_flight)

int main(void)
{
	const struct CMUnitTest tests[] = { SLOT_TESTS };
	int fails = 0;

	if (tt_engine_usable(NVMFT_ENGINE_URING))
		fails += cmocka_run_group_tests_name("tcp_slots_uring", tests,
						     setup_uring, env_teardown);
	else
		printf("note: io_uring unavailable, uring group not run\n");
	fails += cmocka_run_group_tests_name("tcp_slots_epoll", tests, setup_epoll,
					     env_teardown);
	return fails ? 1 : 0;
}
