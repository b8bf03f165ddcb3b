/* SPDX-License-Identifier: MIT */
/* Host discovery: log page reading, decoding, generation counter retries. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <nvme/types.h>
#include <nvmft/host.h>
#include "support/fake_target.h"

static void quiet_log(void *arg, int level, const char *msg)
{
}

static int discover(struct fake_target *ft, struct nvmft_host_disc_entry **e,
		    unsigned int *nr, uint64_t *gen)
{
	struct nvmft_host_opts ho;

	nvmft_host_opts_init(&ho);
	ho.trsvcid = fake_target_port(ft);
	ho.log_fn = quiet_log;
	return nvmft_host_discover(&ho, e, nr, gen);
}

static struct fake_target *start(unsigned int entries, unsigned int bumps)
{
	struct fake_target_opts fo;
	struct fake_target *ft;

	fake_target_opts_init(&fo);
	fo.disc_entries = entries;
	fo.disc_genctr_bumps = bumps;
	ft = fake_target_start(&fo);
	assert_non_null(ft);
	return ft;
}

static void test_discovery_entries_decoded(void **state)
{
	struct fake_target *ft = start(3, 0);
	struct fake_target_stats st;
	struct nvmft_host_disc_entry *e = NULL;
	unsigned int nr = 0;
	uint64_t gen = 0;

	assert_int_equal(discover(ft, &e, &nr, &gen), 0);
	assert_int_equal(nr, 3);
	assert_int_equal(gen, 1);
	for (unsigned int i = 0; i < nr; i++) {
		char nqn[64];

		snprintf(nqn, sizeof(nqn), "nqn.2026-11.io.nvmft:fake%u", i);
		assert_int_equal(e[i].trtype, NVMF_TRTYPE_TCP);
		assert_int_equal(e[i].adrfam, NVMF_ADDR_FAMILY_IP4);
		assert_int_equal(e[i].subtype, NVME_NQN_NVME);
		assert_int_equal(e[i].portid, 1);
		assert_int_equal(e[i].cntlid, 0xffff);
		assert_int_equal(e[i].asqsz, 32);
		assert_string_equal(e[i].traddr, "127.0.0.1");	/* blanks trimmed */
		assert_string_equal(e[i].trsvcid, "4420");
		assert_string_equal(e[i].subnqn, nqn);
	}
	nvmft_host_disc_free(e);
	fake_target_get_stats(ft, &st);
	assert_int_equal(st.log_reads, 3);	/* header, whole log, header */
	assert_int_equal(st.io_connects, 0);
	fake_target_stop(ft);
}

static void test_discovery_retries_when_genctr_moves(void **state)
{
	struct fake_target *ft = start(2, 2);
	struct fake_target_stats st;
	struct nvmft_host_disc_entry *e = NULL;
	unsigned int nr = 0;
	uint64_t gen = 0;

	assert_int_equal(discover(ft, &e, &nr, &gen), 0);
	assert_int_equal(nr, 2);
	assert_int_equal(gen, 3);
	fake_target_get_stats(ft, &st);
	assert_int_equal(st.log_reads, 5);	/* one retry */
	nvmft_host_disc_free(e);
	fake_target_stop(ft);
}

static void test_discovery_gives_up_on_ever_changing_log(void **state)
{
	struct fake_target *ft = start(1, 1000);
	struct nvmft_host_disc_entry *e = NULL;
	unsigned int nr = 0;

	assert_int_equal(discover(ft, &e, &nr, NULL), -EAGAIN);
	assert_null(e);
	fake_target_stop(ft);
}

static void test_discovery_empty_log(void **state)
{
	struct fake_target *ft = start(0, 0);
	struct nvmft_host_disc_entry *e = NULL;
	unsigned int nr = 7;

	assert_int_equal(discover(ft, &e, &nr, NULL), 0);
	assert_int_equal(nr, 0);
	nvmft_host_disc_free(e);
	fake_target_stop(ft);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_discovery_entries_decoded),
		cmocka_unit_test(test_discovery_retries_when_genctr_moves),
		cmocka_unit_test(test_discovery_gives_up_on_ever_changing_log),
		cmocka_unit_test(test_discovery_empty_log),
	};

	return cmocka_run_group_tests_name("host_discovery", tests, NULL, NULL);
}
