/* SPDX-License-Identifier: MIT */
/*
 * Host library controller setup against the scripted fake target: IC
 * negotiation, Connect, enable sequence, queues, keep-alive, admin helpers,
 * disconnect.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <nvme/types.h>
#include <nvmft/host.h>
#include "support/fake_target.h"

static void quiet_log(void *arg, int level, const char *msg)
{
	int *errors = arg;

	if (errors && level <= LOG_ERR)
		(*errors)++;
}

static void host_opts(struct nvmft_host_opts *ho, struct fake_target *ft, int *errors)
{
	nvmft_host_opts_init(ho);
	ho->trsvcid = fake_target_port(ft);
	ho->subnqn = "nqn.2026-11.io.nvmft:fake";
	ho->log_fn = quiet_log;
	ho->log_arg = errors;
}

static struct fake_target *start(void (*tweak)(struct fake_target_opts *))
{
	struct fake_target_opts fo;
	struct fake_target *ft;

	fake_target_opts_init(&fo);
	if (tweak)
		tweak(&fo);
	ft = fake_target_start(&fo);
	assert_non_null(ft);
	return ft;
}

static void test_connect_enables_controller(void **state)
{
	struct fake_target *ft = start(NULL);
	struct fake_target_stats st;
	struct nvmft_host_opts ho;
	struct nvmft_host_ctrlr *c;

	host_opts(&ho, ft, NULL);
	ho.io_queue_size = 64;
	assert_int_equal(nvmft_host_ctrlr_connect(&ho, &c), 0);
	assert_int_equal(nvmft_host_ctrlr_cntlid(c), 0x21);
	assert_int_equal(nvmft_host_ctrlr_vs(c), 0x10400);
	assert_int_equal(NVME_CAP_MQES(nvmft_host_ctrlr_cap(c)), 1023);
	assert_int_equal(le16toh(nvmft_host_ctrlr_id(c)->cntlid), 0x21);
	assert_int_equal(nvmft_host_ctrlr_num_io_qpairs(c), 1);
	assert_int_equal(nvmft_host_qpair_qid(nvmft_host_ctrlr_io_qpair(c, 0)), 1);
	assert_int_equal(nvmft_host_qpair_qid(nvmft_host_ctrlr_admin_qpair(c)), 0);
	assert_null(nvmft_host_ctrlr_io_qpair(c, 1));
	fake_target_get_stats(ft, &st);
	assert_int_equal(st.icreqs, 2);
	assert_int_equal(st.icreq_digest, 0);
	assert_int_equal(st.admin_connects, 1);
	assert_int_equal(st.io_connects, 1);
	assert_int_equal(st.cc, 0x460001);	/* EN, IOSQES 6, IOCQES 4 */
	assert_int_equal(st.last_kato, 10000);
	assert_int_equal(st.last_sqsize, 63);
	nvmft_host_ctrlr_disconnect(c);
	fake_target_stop(ft);
}

static void test_default_hostnqn_is_stable_uuid_nqn(void **state)
{
	struct fake_target *ft = start(NULL);
	struct fake_target_stats st;
	struct nvmft_host_opts ho;
	struct nvmft_host_ctrlr *c;
	char a[NVMFT_HOST_NQN_LEN], b[NVMFT_HOST_NQN_LEN];
	uint8_t ida[16], idb[16];

	nvmft_host_gen_hostnqn(a, ida);
	nvmft_host_gen_hostnqn(b, idb);
	assert_string_equal(a, b);
	assert_memory_equal(ida, idb, 16);
	assert_int_equal(strlen(a), strlen("nqn.2014-08.org.nvmexpress:uuid:") + 36);
	assert_int_equal(strncmp(a, "nqn.2014-08.org.nvmexpress:uuid:", 32), 0);
	host_opts(&ho, ft, NULL);
	assert_int_equal(nvmft_host_ctrlr_connect(&ho, &c), 0);
	fake_target_get_stats(ft, &st);
	assert_string_equal(st.hostnqn, a);
	nvmft_host_ctrlr_disconnect(c);
	fake_target_stop(ft);
}

static void two_queues(struct fake_target_opts *fo)
{
	fo->max_queues = 2;
}

static void test_io_queues_limited_by_controller(void **state)
{
	struct fake_target *ft = start(two_queues);
	struct nvmft_host_opts ho;
	struct nvmft_host_ctrlr *c;
	struct nvmft_host_qpair *qp;

	host_opts(&ho, ft, NULL);
	ho.num_io_queues = 4;
	assert_int_equal(nvmft_host_ctrlr_connect(&ho, &c), 0);
	assert_int_equal(nvmft_host_ctrlr_num_io_qpairs(c), 2);
	assert_int_equal(nvmft_host_qpair_qid(nvmft_host_ctrlr_io_qpair(c, 1)), 2);
	assert_int_equal(nvmft_host_ctrlr_add_io_qpair(c, 8, &qp), -ENOSPC);
	nvmft_host_ctrlr_disconnect(c);
	fake_target_stop(ft);
}

static void test_digests_negotiated_when_granted(void **state)
{
	struct fake_target *ft = start(NULL);
	struct fake_target_stats st;
	struct nvmft_host_opts ho;
	struct nvmft_host_ctrlr *c;

	host_opts(&ho, ft, NULL);
	ho.hdgst = true;
	ho.ddgst = true;
	assert_int_equal(nvmft_host_ctrlr_connect(&ho, &c), 0);
	fake_target_get_stats(ft, &st);
	assert_int_equal(st.icreq_digest, 3);
	assert_true(st.hdgst_seen);
	assert_int_equal(st.ddgst_errors, 0);
	nvmft_host_ctrlr_disconnect(c);
	fake_target_stop(ft);
}

static void no_ddgst(struct fake_target_opts *fo)
{
	fo->grant_ddgst = false;
}

static void test_refused_digest_fails_connect(void **state)
{
	struct fake_target *ft = start(no_ddgst);
	struct nvmft_host_opts ho;
	struct nvmft_host_ctrlr *c = NULL;
	int errors = 0;

	host_opts(&ho, ft, &errors);
	ho.ddgst = true;
	assert_int_equal(nvmft_host_ctrlr_connect(&ho, &c), -ENOTSUP);
	assert_null(c);
	assert_true(errors > 0);
	fake_target_stop(ft);
}

static void small_maxh2cdata(struct fake_target_opts *fo)
{
	fo->maxh2cdata = 1000;
}

static void bad_pfv(struct fake_target_opts *fo)
{
	fo->icresp_pfv = 1;
}

static void test_bad_icresp_fails_connect(void **state)
{
	void (*tweaks[])(struct fake_target_opts *) = { small_maxh2cdata, bad_pfv };

	for (size_t i = 0; i < sizeof(tweaks) / sizeof(tweaks[0]); i++) {
		struct fake_target *ft = start(tweaks[i]);
		struct nvmft_host_opts ho;
		struct nvmft_host_ctrlr *c = NULL;
		int errors = 0;

		host_opts(&ho, ft, &errors);
		assert_int_equal(nvmft_host_ctrlr_connect(&ho, &c), -EPROTO);
		assert_true(errors > 0);
		fake_target_stop(ft);
	}
}

static void test_closed_port_is_refused(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct nvmft_host_opts ho;
	struct nvmft_host_ctrlr *c;
	char port[16];
	int fd = socket(AF_INET, SOCK_STREAM, 0), errors = 0;

	/* a port that was just free: bound, never listened on */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(port, sizeof(port), "%u", ntohs(sa.sin_port));
	nvmft_host_opts_init(&ho);
	ho.trsvcid = port;
	ho.subnqn = "nqn.2026-11.io.nvmft:none";
	ho.log_fn = quiet_log;
	ho.log_arg = &errors;
	assert_int_equal(nvmft_host_ctrlr_connect(&ho, &c), -ECONNREFUSED);
	assert_true(errors > 0);
	close(fd);
}

static void test_options_validated(void **state)
{
	struct nvmft_host_opts ho;
	struct nvmft_host_ctrlr *c;

	nvmft_host_opts_init(&ho);
	assert_int_equal(nvmft_host_ctrlr_connect(&ho, &c), -EINVAL);	/* no subnqn */
	ho.subnqn = "nqn.2026-11.io.nvmft:x";
	ho.admin_queue_size = 1;
	assert_int_equal(nvmft_host_ctrlr_connect(&ho, &c), -EINVAL);
}

static void test_keep_alive_sync_and_automatic(void **state)
{
	struct fake_target *ft = start(NULL);
	struct fake_target_stats st;
	struct nvmft_host_opts ho;
	struct nvmft_host_ctrlr *c;
	struct nvmft_host_qpair *aq;
	bool never = false;

	host_opts(&ho, ft, NULL);
	ho.kato_ms = 200;
	assert_int_equal(nvmft_host_ctrlr_connect(&ho, &c), 0);
	assert_int_equal(nvmft_host_ctrlr_keep_alive(c), 0);
	fake_target_get_stats(ft, &st);
	assert_int_equal(st.keep_alives, 1);
	assert_int_equal(st.last_kato, 200);
	/* polling the admin queue for 2.5 kato/2 periods sends two more */
	aq = nvmft_host_ctrlr_admin_qpair(c);
	assert_int_equal(nvmft_host_qpair_wait(aq, &never, 260), -ETIMEDOUT);
	fake_target_get_stats(ft, &st);
	assert_true(st.keep_alives >= 2);
	assert_true(st.keep_alives <= 4);
	assert_int_equal(nvmft_host_qpair_error(aq), 0);
	nvmft_host_ctrlr_disconnect(c);
	fake_target_stop(ft);
}

static void test_admin_helpers(void **state)
{
	struct fake_target *ft = start(NULL);
	struct nvmft_host_opts ho;
	struct nvmft_host_ctrlr *c;
	struct nvmft_host_ns_info ns;
	uint64_t v = 0;
	uint32_t res = 1;

	host_opts(&ho, ft, NULL);
	assert_int_equal(nvmft_host_ctrlr_connect(&ho, &c), 0);
	assert_int_equal(nvmft_host_ns_info(c, 1, &ns), 0);
	assert_int_equal(ns.lba_size, 512);
	assert_int_equal(ns.nsze, 32768);
	assert_int_equal(nvmft_host_ns_info(c, 2, &ns), -ENODEV);
	assert_int_equal(nvmft_host_property_get(c, NVME_REG_CSTS, 4, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(nvmft_host_property_get(c, NVME_REG_CC, 3, &v), -EINVAL);
	assert_int_equal(nvmft_host_get_features(c, NVME_FEAT_FID_ARBITRATION, 0, &res), 0);
	assert_int_equal(res, 0);
	/* an unknown admin opcode comes back as a positive NVMe status */
	struct nvmft_sqe sqe = { .opcode = 0xc5 };

	assert_int_equal(nvmft_host_cmd_sync(nvmft_host_ctrlr_admin_qpair(c), &sqe, NULL, 0,
					     NVMFT_HOST_DIR_NONE, NULL),
			 NVME_SC_INVALID_OPCODE);
	nvmft_host_ctrlr_disconnect(c);
	fake_target_stop(ft);
}

static void test_remove_one_io_qpair(void **state)
{
	struct fake_target *ft = start(NULL);
	struct fake_target_stats st;
	struct nvmft_host_opts ho;
	struct nvmft_host_ctrlr *c;
	struct nvmft_host_qpair *q1, *q2;

	host_opts(&ho, ft, NULL);
	ho.num_io_queues = 2;
	assert_int_equal(nvmft_host_ctrlr_connect(&ho, &c), 0);
	q1 = nvmft_host_ctrlr_io_qpair(c, 0);
	q2 = nvmft_host_ctrlr_io_qpair(c, 1);
	assert_int_equal(nvmft_host_ctrlr_remove_io_qpair(c, q1), 0);
	assert_int_equal(nvmft_host_ctrlr_remove_io_qpair(c, q1), -ENOENT);
	assert_int_equal(nvmft_host_ctrlr_num_io_qpairs(c), 1);
	assert_ptr_equal(nvmft_host_ctrlr_io_qpair(c, 0), q2);
	fake_target_get_stats(ft, &st);
	assert_int_equal(st.disconnects, 1);
	nvmft_host_ctrlr_disconnect(c);
	fake_target_stop(ft);
}

static void test_added_io_qpair_takes_the_lowest_free_qid(void **state)
{
	struct fake_target *ft = start(NULL);
	struct nvmft_host_opts ho;
	struct nvmft_host_ctrlr *c;
	struct nvmft_host_qpair *qp;

	host_opts(&ho, ft, NULL);
	ho.num_io_queues = 3;
	assert_int_equal(nvmft_host_ctrlr_connect(&ho, &c), 0);
	for (unsigned int i = 0; i < 3; i++)
		assert_int_equal(nvmft_host_qpair_qid(nvmft_host_ctrlr_io_qpair(c, i)), i + 1);
	/* a hole at 2: the next queue fills it, the one after goes on top */
	assert_int_equal(nvmft_host_ctrlr_remove_io_qpair(c, nvmft_host_ctrlr_io_qpair(c, 1)),
			 0);
	assert_int_equal(nvmft_host_ctrlr_add_io_qpair(c, 0, &qp), 0);
	assert_int_equal(nvmft_host_qpair_qid(qp), 2);
	assert_int_equal(nvmft_host_ctrlr_add_io_qpair(c, 0, &qp), 0);
	assert_int_equal(nvmft_host_qpair_qid(qp), 4);
	nvmft_host_ctrlr_disconnect(c);
	fake_target_stop(ft);
}

static void test_disconnect_sends_fabrics_disconnect_and_shutdown(void **state)
{
	struct fake_target *ft = start(NULL);
	struct fake_target_stats st;
	struct nvmft_host_opts ho;
	struct nvmft_host_ctrlr *c;

	host_opts(&ho, ft, NULL);
	ho.num_io_queues = 3;
	assert_int_equal(nvmft_host_ctrlr_connect(&ho, &c), 0);
	nvmft_host_ctrlr_disconnect(c);
	fake_target_get_stats(ft, &st);
	assert_int_equal(st.disconnects, 3);
	assert_int_equal((st.cc >> NVME_CC_SHN_SHIFT) & 3, 1);	/* normal shutdown */
	fake_target_stop(ft);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_enables_controller),
		cmocka_unit_test(test_default_hostnqn_is_stable_uuid_nqn),
		cmocka_unit_test(test_io_queues_limited_by_controller),
		cmocka_unit_test(test_digests_negotiated_when_granted),
		cmocka_unit_test(test_refused_digest_fails_connect),
		cmocka_unit_test(test_bad_icresp_fails_connect),
		cmocka_unit_test(test_closed_port_is_refused),
		cmocka_unit_test(test_options_validated),
		cmocka_unit_test(test_keep_alive_sync_and_automatic),
		cmocka_unit_test(test_admin_helpers),
		cmocka_unit_test(test_remove_one_io_qpair),
		cmocka_unit_test(test_added_io_qpair_takes_the_lowest_free_qid),
		cmocka_unit_test(test_disconnect_sends_fabrics_disconnect_and_shutdown),
	};

	return cmocka_run_group_tests_name("host_connect", tests, NULL, NULL);
}
