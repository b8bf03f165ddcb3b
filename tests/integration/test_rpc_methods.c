/* SPDX-License-Identifier: MIT */
/*
 * JSON-RPC configuration methods, each with its error cases: bdevs
 * (malloc, null, uring, listing), transports, subsystems, hosts,
 * listeners, namespaces, referrals. Errors must name the parameter and
 * the value at fault.
 */
#include "test_rpc_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>

#define NQN1 "nqn.2016-06.io.spdk:cnode1"
#define NQN2 "nqn.2016-06.io.spdk:cnode2"
#define HOST1 "nqn.2016-06.io.spdk:host1"

/* The bdev named @name in a bdev_get_bdevs result, or NULL. */
static struct json_object *find_bdev(struct json_object *list, const char *name)
{
	size_t i;

	for (i = 0; i < json_object_array_length(list); i++) {
		struct json_object *b = json_object_array_get_idx(list, i);

		if (!strcmp(rh_str(b, "name"), name))
			return b;
	}
	return NULL;
}

static struct json_object *find_ss(struct json_object *list, const char *nqn)
{
	size_t i;

	for (i = 0; i < json_object_array_length(list); i++) {
		struct json_object *s = json_object_array_get_idx(list, i);

		if (!strcmp(rh_str(s, "nqn"), nqn))
			return s;
	}
	return NULL;
}

/* ---- bdevs ------------------------------------------------------------------- */

static void malloc_and_null_bdevs_are_created_listed_and_deleted(void **state)
{
	struct rh_env e;
	struct rh_conn c;
	struct json_object *r, *b;
	char msg[512];

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	r = rh_ok(&c, "bdev_malloc_create", "{\"name\":\"Malloc1\",\"num_blocks\":2048,"
		  "\"block_size\":4096,\"uuid\":\"2b6601ba-eada-44fb-9a83-a20eb9eb9e90\"}");
	assert_string_equal(json_object_get_string(r), "Malloc1");
	json_object_put(r);
	/* No name: Malloc0, the lowest free. */
	r = rh_ok(&c, "bdev_malloc_create", "{\"num_blocks\":64,\"block_size\":512}");
	assert_string_equal(json_object_get_string(r), "Malloc0");
	json_object_put(r);
	r = rh_ok(&c, "bdev_null_create", "{\"name\":\"Null0\",\"num_blocks\":1000000,"
		  "\"block_size\":512,\"md_size\":0}");
	assert_string_equal(json_object_get_string(r), "Null0");
	json_object_put(r);

	r = rh_ok(&c, "bdev_get_bdevs", NULL);
	assert_int_equal(json_object_array_length(r), 3);
	b = find_bdev(r, "Malloc1");
	assert_non_null(b);
	assert_string_equal(rh_str(b, "product_name"), "malloc");
	assert_int_equal(rh_int(b, "block_size"), 4096);
	assert_int_equal(rh_int(b, "num_blocks"), 2048);
	assert_string_equal(rh_str(b, "uuid"), "2b6601ba-eada-44fb-9a83-a20eb9eb9e90");
	assert_false(json_object_get_boolean(rh_get(b, "claimed")));
	assert_true(json_object_get_boolean(rh_get(rh_get(b, "supported_io_types"),
						   "write_zeroes")));
	assert_int_equal(rh_int(rh_get(rh_get(b, "driver_specific"), "malloc"),
				"num_blocks"), 2048);
	json_object_put(r);
	r = rh_ok(&c, "bdev_get_bdevs", "{\"name\":\"Null0\"}");
	assert_int_equal(json_object_array_length(r), 1);
	assert_string_equal(rh_str(json_object_array_get_idx(r, 0), "product_name"), "null");
	json_object_put(r);

	/* Errors name the parameter and the value. */
	assert_int_equal(rh_err(&c, "bdev_malloc_create", msg, sizeof(msg),
				"{\"name\":\"Malloc1\",\"num_blocks\":8,\"block_size\":512}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "Malloc1");
	assert_contains(msg, "File exists");
	assert_int_equal(rh_err(&c, "bdev_malloc_create", msg, sizeof(msg),
				"{\"name\":\"X\",\"num_blocks\":8,\"block_size\":1000}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.block_size: 1000");
	assert_int_equal(rh_err(&c, "bdev_malloc_create", msg, sizeof(msg),
				"{\"name\":\"X\",\"num_blocks\":0,\"block_size\":512}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.num_blocks");
	assert_int_equal(rh_err(&c, "bdev_malloc_create", msg, sizeof(msg),
				"{\"name\":\"X\",\"num_blocks\":8,\"block_size\":512,"
				"\"uuid\":\"not-a-uuid\"}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.uuid: \"not-a-uuid\"");
	assert_int_equal(rh_err(&c, "bdev_malloc_create", msg, sizeof(msg),
				"{\"num_blocks\":\"8\",\"block_size\":512}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.num_blocks: \"8\" is not an unsigned 64-bit integer");
	assert_int_equal(rh_err(&c, "bdev_malloc_create", msg, sizeof(msg),
				"{\"block_size\":512}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.num_blocks is required");
	assert_int_equal(rh_err(&c, "bdev_null_create", msg, sizeof(msg),
				"{\"num_blocks\":8,\"block_size\":512}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.name is required");
	assert_int_equal(rh_err(&c, "bdev_null_create", msg, sizeof(msg),
				"{\"name\":\"N\",\"num_blocks\":8,\"block_size\":512,"
				"\"md_size\":8}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "md_size");
	assert_int_equal(rh_err(&c, "bdev_malloc_create", msg, sizeof(msg),
				"{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
				"\"num_blocks\":8,\"block_size\":512}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "1 to 63 characters");
	assert_int_equal(rh_err(&c, "bdev_get_bdevs", msg, sizeof(msg),
				"{\"name\":\"Nope\"}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "Nope");

	/* Deletes check the backend. */
	assert_int_equal(rh_err(&c, "bdev_malloc_delete", msg, sizeof(msg),
				"{\"name\":\"Null0\"}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "is a null bdev, not malloc");
	assert_int_equal(rh_err(&c, "bdev_null_delete", msg, sizeof(msg),
				"{\"name\":\"Nope\"}"), NVMFT_RPC_INVALID_PARAMS);
	rh_ok_true(&c, "bdev_malloc_delete", "{\"name\":\"Malloc1\"}");
	rh_ok_true(&c, "bdev_malloc_delete", "{\"name\":\"Malloc0\"}");
	rh_ok_true(&c, "bdev_null_delete", "{\"name\":\"Null0\"}");
	r = rh_ok(&c, "bdev_get_bdevs", NULL);
	assert_int_equal(json_object_array_length(r), 0);
	json_object_put(r);
	rh_close(&c);
	rh_stop(&e);
}

static void uring_bdev_on_a_file(void **state)
{
	char file[128], msg[512];
	struct rh_env e;
	struct rh_conn c;
	struct json_object *r, *b;
	int fd;

	rh_start(&e);
	snprintf(file, sizeof(file), "%s/disk.img", e.dir);
	fd = open(file, O_CREAT | O_RDWR, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4 << 20), 0);
	close(fd);
	assert_int_equal(rh_open(&c, e.path), 0);
	/* buffered: /tmp may be a tmpfs without O_DIRECT. */
	r = rh_ok(&c, "bdev_uring_create", "{\"name\":\"Uring0\",\"filename\":\"%s\","
		  "\"block_size\":512,\"buffered\":true}", file);
	assert_string_equal(json_object_get_string(r), "Uring0");
	json_object_put(r);
	r = rh_ok(&c, "bdev_get_bdevs", "{\"name\":\"Uring0\"}");
	b = json_object_array_get_idx(r, 0);
	assert_string_equal(rh_str(b, "product_name"), "uring");
	assert_int_equal(rh_int(b, "num_blocks"), (4 << 20) / 512);
	assert_string_equal(rh_str(rh_get(rh_get(b, "driver_specific"), "uring"),
				   "filename"), file);
	json_object_put(r);
	assert_int_equal(rh_err(&c, "bdev_uring_create", msg, sizeof(msg),
				"{\"name\":\"Uring1\",\"filename\":\"%s/none\"}", e.dir),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "No such file");
	assert_int_equal(rh_err(&c, "bdev_uring_create", msg, sizeof(msg),
				"{\"name\":\"Uring1\"}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.filename is required");
	assert_int_equal(rh_err(&c, "bdev_uring_delete", msg, sizeof(msg),
				"{\"name\":\"Nope\"}"), NVMFT_RPC_INVALID_PARAMS);
	rh_ok_true(&c, "bdev_uring_delete", "{\"name\":\"Uring0\"}");
	rh_close(&c);
	unlink(file);
	rh_stop(&e);
}

/* ---- transports ----------------------------------------------------------------- */

static void transport_is_created_once_with_its_options(void **state)
{
	struct rh_env e;
	struct rh_conn c;
	struct json_object *r, *t;
	char msg[512];

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	r = rh_ok(&c, "nvmf_get_transports", NULL);
	assert_int_equal(json_object_array_length(r), 0);
	json_object_put(r);
	assert_int_equal(rh_err(&c, "nvmf_create_transport", msg, sizeof(msg),
				"{\"trtype\":\"RDMA\"}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.trtype: \"RDMA\"");
	assert_int_equal(rh_err(&c, "nvmf_create_transport", msg, sizeof(msg),
				"{\"trtype\":\"TCP\",\"max_queue_depth\":1}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "max_queue_depth");
	assert_int_equal(rh_err(&c, "nvmf_create_transport", msg, sizeof(msg),
				"{\"trtype\":\"TCP\",\"max_queue_depth\":70000}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.max_queue_depth: 70000");
	assert_int_equal(rh_err(&c, "nvmf_create_transport", msg, sizeof(msg),
				"{\"trtype\":\"TCP\",\"io_unit_size\":3}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "out of range");
	assert_int_equal(rh_err(&c, "nvmf_create_transport", msg, sizeof(msg),
				"{\"trtype\":\"TCP\",\"dif_insert_or_strip\":true}"),
			 NVMFT_RPC_INVALID_PARAMS);
	/* rpc.py sends some SPDK-only knobs with defaults: accepted. */
	rh_ok_true(&c, "nvmf_create_transport", "{\"trtype\":\"tcp\",\"max_queue_depth\":64,"
		   "\"max_io_qpairs_per_ctrlr\":15,\"in_capsule_data_size\":4096,"
		   "\"io_unit_size\":65536,\"c2h_success\":false,\"no_srq\":false,"
		   "\"buf_cache_size\":32,\"sock_priority\":0}");
	r = rh_ok(&c, "nvmf_get_transports", NULL);
	assert_int_equal(json_object_array_length(r), 1);
	t = json_object_array_get_idx(r, 0);
	assert_string_equal(rh_str(t, "trtype"), "TCP");
	assert_int_equal(rh_int(t, "max_queue_depth"), 64);
	assert_int_equal(rh_int(t, "max_io_qpairs_per_ctrlr"), 15);
	assert_int_equal(rh_int(t, "max_qpairs_per_ctrlr"), 16);
	assert_int_equal(rh_int(t, "in_capsule_data_size"), 4096);
	assert_int_equal(rh_int(t, "io_unit_size"), 65536);
	assert_false(json_object_get_boolean(rh_get(t, "c2h_success")));
	json_object_put(r);
	r = rh_ok(&c, "nvmf_get_transports", "{\"trtype\":\"TCP\"}");
	assert_int_equal(json_object_array_length(r), 1);
	json_object_put(r);
	assert_int_equal(rh_err(&c, "nvmf_create_transport", msg, sizeof(msg),
				"{\"trtype\":\"TCP\"}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "already exists");
	rh_close(&c);
	rh_stop(&e);
}

/* ---- subsystems ------------------------------------------------------------------- */

static void subsystems_are_created_listed_and_deleted(void **state)
{
	struct rh_env e;
	struct rh_conn c;
	struct json_object *r, *s;
	char msg[512];

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	rh_ok_true(&c, "nvmf_create_subsystem", "{\"nqn\":\"" NQN1 "\",\"serial_number\":"
		   "\"SPDK00000000000001\",\"model_number\":\"Model One\","
		   "\"allow_any_host\":true,\"max_namespaces\":8,\"min_cntlid\":1,"
		   "\"max_cntlid\":65519}");
	rh_ok_true(&c, "nvmf_create_subsystem", "{\"nqn\":\"" NQN2 "\"}");
	r = rh_ok(&c, "nvmf_get_subsystems", NULL);
	assert_int_equal(json_object_array_length(r), 3);
	s = find_ss(r, "nqn.2014-08.org.nvmexpress.discovery");
	assert_non_null(s);
	assert_string_equal(rh_str(s, "subtype"), "Discovery");
	s = find_ss(r, NQN1);
	assert_non_null(s);
	assert_string_equal(rh_str(s, "subtype"), "NVMe");
	assert_string_equal(rh_str(s, "serial_number"), "SPDK00000000000001");
	assert_string_equal(rh_str(s, "model_number"), "Model One");
	assert_true(json_object_get_boolean(rh_get(s, "allow_any_host")));
	assert_int_equal(rh_int(s, "max_namespaces"), 8);
	assert_int_equal(json_object_array_length(rh_get(s, "namespaces")), 0);
	assert_int_equal(json_object_array_length(rh_get(s, "hosts")), 0);
	assert_int_equal(json_object_array_length(rh_get(s, "listen_addresses")), 0);
	s = find_ss(r, NQN2);
	assert_false(json_object_get_boolean(rh_get(s, "allow_any_host")));
	assert_int_equal(rh_int(s, "max_namespaces"), 32);
	json_object_put(r);
	r = rh_ok(&c, "nvmf_get_subsystems", "{\"nqn\":\"" NQN2 "\"}");
	assert_int_equal(json_object_array_length(r), 1);
	json_object_put(r);

	assert_int_equal(rh_err(&c, "nvmf_create_subsystem", msg, sizeof(msg),
				"{\"nqn\":\"" NQN1 "\"}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "already exists");
	assert_int_equal(rh_err(&c, "nvmf_create_subsystem", msg, sizeof(msg),
				"{\"nqn\":\"not-an-nqn\"}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.nqn: \"not-an-nqn\"");
	assert_int_equal(rh_err(&c, "nvmf_create_subsystem", msg, sizeof(msg),
				"{\"nqn\":\"nqn.2014-08.org.nvmexpress.discovery\"}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_int_equal(rh_err(&c, "nvmf_create_subsystem", msg, sizeof(msg),
				"{\"nqn\":\"nqn.2016-06.io.spdk:x\",\"serial_number\":"
				"\"012345678901234567890123\"}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "serial_number");
	assert_int_equal(rh_err(&c, "nvmf_create_subsystem", msg, sizeof(msg),
				"{\"nqn\":\"nqn.2016-06.io.spdk:x\",\"min_cntlid\":5}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_int_equal(rh_err(&c, "nvmf_create_subsystem", msg, sizeof(msg),
				"{\"nqn\":\"nqn.2016-06.io.spdk:x\",\"ana_reporting\":true}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_int_equal(rh_err(&c, "nvmf_get_subsystems", msg, sizeof(msg),
				"{\"nqn\":\"nqn.2016-06.io.spdk:none\"}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "does not exist");

	assert_int_equal(rh_err(&c, "nvmf_delete_subsystem", msg, sizeof(msg),
				"{\"nqn\":\"nqn.2014-08.org.nvmexpress.discovery\"}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "discovery");
	assert_int_equal(rh_err(&c, "nvmf_delete_subsystem", msg, sizeof(msg),
				"{\"nqn\":\"nqn.2016-06.io.spdk:none\"}"),
			 NVMFT_RPC_INVALID_PARAMS);
	rh_ok_true(&c, "nvmf_delete_subsystem", "{\"nqn\":\"" NQN1 "\"}");
	r = rh_ok(&c, "nvmf_get_subsystems", NULL);
	assert_int_equal(json_object_array_length(r), 2);
	assert_null(find_ss(r, NQN1));
	json_object_put(r);
	/* The NQN can be used again. */
	rh_ok_true(&c, "nvmf_create_subsystem", "{\"nqn\":\"" NQN1 "\"}");
	rh_close(&c);
	rh_stop(&e);
}

static void hosts_are_added_removed_and_any_host_toggled(void **state)
{
	struct rh_env e;
	struct rh_conn c;
	struct json_object *r, *s;
	char msg[512];

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	rh_ok_true(&c, "nvmf_create_subsystem", "{\"nqn\":\"" NQN1 "\"}");
	rh_ok_true(&c, "nvmf_subsystem_add_host", "{\"nqn\":\"" NQN1 "\",\"host\":\"" HOST1 "\"}");
	rh_ok_true(&c, "nvmf_subsystem_allow_any_host",
		   "{\"nqn\":\"" NQN1 "\",\"allow_any_host\":true}");
	r = rh_ok(&c, "nvmf_get_subsystems", "{\"nqn\":\"" NQN1 "\"}");
	s = json_object_array_get_idx(r, 0);
	assert_int_equal(json_object_array_length(rh_get(s, "hosts")), 1);
	assert_string_equal(rh_str(json_object_array_get_idx(rh_get(s, "hosts"), 0), "nqn"),
			    HOST1);
	assert_true(json_object_get_boolean(rh_get(s, "allow_any_host")));
	json_object_put(r);

	assert_int_equal(rh_err(&c, "nvmf_subsystem_add_host", msg, sizeof(msg),
				"{\"nqn\":\"" NQN1 "\",\"host\":\"" HOST1 "\"}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "already");
	assert_int_equal(rh_err(&c, "nvmf_subsystem_add_host", msg, sizeof(msg),
				"{\"nqn\":\"" NQN1 "\",\"host\":\"bad host\"}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.host: \"bad host\"");
	assert_int_equal(rh_err(&c, "nvmf_subsystem_add_host", msg, sizeof(msg),
				"{\"nqn\":\"" NQN1 "\",\"host\":\"" HOST1 "\",\"psk\":\"k\"}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "psk");
	assert_int_equal(rh_err(&c, "nvmf_subsystem_add_host", msg, sizeof(msg),
				"{\"nqn\":\"nqn.2016-06.io.spdk:none\",\"host\":\"" HOST1 "\"}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "does not exist");
	assert_int_equal(rh_err(&c, "nvmf_subsystem_allow_any_host", msg, sizeof(msg),
				"{\"nqn\":\"" NQN1 "\"}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.allow_any_host is required");

	rh_ok_true(&c, "nvmf_subsystem_remove_host", "{\"nqn\":\"" NQN1 "\",\"host\":\"" HOST1 "\"}");
	assert_int_equal(rh_err(&c, "nvmf_subsystem_remove_host", msg, sizeof(msg),
				"{\"nqn\":\"" NQN1 "\",\"host\":\"" HOST1 "\"}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "not allowed");
	rh_ok_true(&c, "nvmf_subsystem_allow_any_host",
		   "{\"nqn\":\"" NQN1 "\",\"allow_any_host\":false}");
	r = rh_ok(&c, "nvmf_get_subsystems", "{\"nqn\":\"" NQN1 "\"}");
	s = json_object_array_get_idx(r, 0);
	assert_int_equal(json_object_array_length(rh_get(s, "hosts")), 0);
	assert_false(json_object_get_boolean(rh_get(s, "allow_any_host")));
	json_object_put(r);
	rh_close(&c);
	rh_stop(&e);
}

static void listeners_are_added_and_removed(void **state)
{
	struct rh_env e;
	struct rh_conn c;
	struct json_object *r, *l;
	char msg[512];
	int port = rh_free_port(), dport = rh_free_port(), fd;
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	rh_ok_true(&c, "nvmf_create_subsystem", "{\"nqn\":\"" NQN1 "\"}");
	assert_int_equal(rh_err(&c, "nvmf_subsystem_add_listener", msg, sizeof(msg),
				"{\"nqn\":\"" NQN1 "\",\"listen_address\":{\"trtype\":\"tcp\","
				"\"adrfam\":\"ipv4\",\"traddr\":\"127.0.0.1\",\"trsvcid\":\"%d\"}}",
				port), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "nvmf_create_transport");
	rh_ok_true(&c, "nvmf_create_transport", "{\"trtype\":\"TCP\"}");
	rh_ok_true(&c, "nvmf_subsystem_add_listener", "{\"nqn\":\"" NQN1 "\",\"listen_address\":"
		   "{\"trtype\":\"tcp\",\"adrfam\":\"ipv4\",\"traddr\":\"127.0.0.1\","
		   "\"trsvcid\":\"%d\"}}", port);
	/* It really listens. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_port = htons((uint16_t)port);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(fd);
	r = rh_ok(&c, "nvmf_get_subsystems", "{\"nqn\":\"" NQN1 "\"}");
	l = json_object_array_get_idx(rh_get(json_object_array_get_idx(r, 0),
					     "listen_addresses"), 0);
	assert_non_null(l);
	assert_string_equal(rh_str(l, "trtype"), "TCP");
	assert_string_equal(rh_str(l, "adrfam"), "IPv4");
	assert_string_equal(rh_str(l, "traddr"), "127.0.0.1");
	assert_int_equal(atoi(rh_str(l, "trsvcid")), port);
	json_object_put(r);

	assert_int_equal(rh_err(&c, "nvmf_subsystem_add_listener", msg, sizeof(msg),
				"{\"nqn\":\"" NQN1 "\",\"listen_address\":{\"trtype\":\"tcp\","
				"\"traddr\":\"127.0.0.1\",\"trsvcid\":\"%d\"}}", port),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "already listens");
	assert_int_equal(rh_err(&c, "nvmf_subsystem_add_listener", msg, sizeof(msg),
				"{\"nqn\":\"" NQN1 "\",\"listen_address\":{\"trtype\":\"tcp\","
				"\"adrfam\":\"ipv6\",\"traddr\":\"127.0.0.1\",\"trsvcid\":\"1\"}}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "listen_address.adrfam: \"ipv6\" does not match");
	assert_int_equal(rh_err(&c, "nvmf_subsystem_add_listener", msg, sizeof(msg),
				"{\"nqn\":\"" NQN1 "\",\"listen_address\":{\"trtype\":\"tcp\","
				"\"traddr\":\"host.example\",\"trsvcid\":\"1\"}}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "\"host.example\"");
	assert_int_equal(rh_err(&c, "nvmf_subsystem_add_listener", msg, sizeof(msg),
				"{\"nqn\":\"" NQN1 "\",\"listen_address\":{\"trtype\":\"rdma\","
				"\"traddr\":\"127.0.0.1\",\"trsvcid\":\"1\"}}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "trtype: \"rdma\"");
	assert_int_equal(rh_err(&c, "nvmf_subsystem_add_listener", msg, sizeof(msg),
				"{\"nqn\":\"" NQN1 "\",\"listen_address\":{\"trtype\":\"tcp\"}}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.listen_address.traddr is required");
	assert_int_equal(rh_err(&c, "nvmf_subsystem_add_listener", msg, sizeof(msg),
				"{\"nqn\":\"" NQN1 "\",\"listen_address\":{\"trtype\":\"tcp\","
				"\"traddr\":\"127.0.0.1\",\"trsvcid\":\"1\"},"
				"\"secure_channel\":true}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "TLS");

	/* The discovery NQN means the target's own listeners. */
	rh_ok_true(&c, "nvmf_subsystem_add_listener", "{\"nqn\":\"nqn.2014-08.org.nvmexpress."
		   "discovery\",\"listen_address\":{\"trtype\":\"tcp\",\"traddr\":"
		   "\"127.0.0.1\",\"trsvcid\":\"%d\"}}", dport);
	r = rh_ok(&c, "nvmf_get_subsystems", "{\"nqn\":\"nqn.2014-08.org.nvmexpress.discovery\"}");
	l = rh_get(json_object_array_get_idx(r, 0), "listen_addresses");
	assert_int_equal(json_object_array_length(l), 1);
	assert_int_equal(atoi(rh_str(json_object_array_get_idx(l, 0), "trsvcid")), dport);
	json_object_put(r);
	rh_ok_true(&c, "nvmf_subsystem_remove_listener", "{\"nqn\":\"nqn.2014-08.org.nvmexpress."
		   "discovery\",\"listen_address\":{\"trtype\":\"tcp\",\"traddr\":"
		   "\"127.0.0.1\",\"trsvcid\":\"%d\"}}", dport);

	rh_ok_true(&c, "nvmf_subsystem_remove_listener", "{\"nqn\":\"" NQN1 "\","
		   "\"listen_address\":{\"trtype\":\"tcp\",\"traddr\":\"127.0.0.1\","
		   "\"trsvcid\":\"%d\"}}", port);
	assert_int_equal(rh_err(&c, "nvmf_subsystem_remove_listener", msg, sizeof(msg),
				"{\"nqn\":\"" NQN1 "\",\"listen_address\":{\"trtype\":\"tcp\","
				"\"traddr\":\"127.0.0.1\",\"trsvcid\":\"%d\"}}", port),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "does not listen");
	/* The port is free again. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(fd);
	rh_close(&c);
	rh_stop(&e);
}

static void namespaces_are_added_and_removed(void **state)
{
	struct rh_env e;
	struct rh_conn c;
	struct json_object *r, *n, *b;
	char msg[512];

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	rh_ok_true(&c, "nvmf_create_subsystem", "{\"nqn\":\"" NQN1 "\",\"max_namespaces\":4}");
	rh_ok_true(&c, "nvmf_create_subsystem", "{\"nqn\":\"" NQN2 "\"}");
	json_object_put(rh_ok(&c, "bdev_malloc_create", "{\"name\":\"M0\",\"num_blocks\":128,"
			      "\"block_size\":512}"));
	json_object_put(rh_ok(&c, "bdev_malloc_create", "{\"name\":\"M1\",\"num_blocks\":128,"
			      "\"block_size\":512}"));
	json_object_put(rh_ok(&c, "bdev_malloc_create", "{\"name\":\"M2\",\"num_blocks\":128,"
			      "\"block_size\":512}"));

	/* The answer is the NSID: lowest free, or the one asked for. */
	r = rh_ok(&c, "nvmf_subsystem_add_ns", "{\"nqn\":\"" NQN1 "\",\"namespace\":"
		  "{\"bdev_name\":\"M0\"}}");
	assert_int_equal(json_object_get_int(r), 1);
	json_object_put(r);
	r = rh_ok(&c, "nvmf_subsystem_add_ns", "{\"nqn\":\"" NQN1 "\",\"namespace\":"
		  "{\"bdev_name\":\"M1\",\"nsid\":3,\"uuid\":"
		  "\"ceccf520-691e-4b46-9546-34af789907c5\",\"nguid\":"
		  "\"ABCDEF0123456789ABCDEF0123456789\"}}");
	assert_int_equal(json_object_get_int(r), 3);
	json_object_put(r);
	r = rh_ok(&c, "nvmf_get_subsystems", "{\"nqn\":\"" NQN1 "\"}");
	n = rh_get(json_object_array_get_idx(r, 0), "namespaces");
	assert_int_equal(json_object_array_length(n), 2);
	assert_int_equal(rh_int(json_object_array_get_idx(n, 0), "nsid"), 1);
	assert_string_equal(rh_str(json_object_array_get_idx(n, 0), "bdev_name"), "M0");
	assert_int_equal(rh_int(json_object_array_get_idx(n, 1), "nsid"), 3);
	assert_string_equal(rh_str(json_object_array_get_idx(n, 1), "uuid"),
			    "ceccf520-691e-4b46-9546-34af789907c5");
	assert_string_equal(rh_str(json_object_array_get_idx(n, 1), "nguid"),
			    "ABCDEF0123456789ABCDEF0123456789");
	json_object_put(r);
	r = rh_ok(&c, "bdev_get_bdevs", "{\"name\":\"M1\"}");
	b = json_object_array_get_idx(r, 0);
	assert_true(json_object_get_boolean(rh_get(b, "claimed")));
	assert_string_equal(rh_str(rh_get(b, "namespace"), "nqn"), NQN1);
	json_object_put(r);

	assert_int_equal(rh_err(&c, "nvmf_subsystem_add_ns", msg, sizeof(msg),
				"{\"nqn\":\"" NQN1 "\",\"namespace\":{\"bdev_name\":\"M9\"}}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "bdev \"M9\" does not exist");
	assert_int_equal(rh_err(&c, "nvmf_subsystem_add_ns", msg, sizeof(msg),
				"{\"nqn\":\"" NQN1 "\",\"namespace\":{\"bdev_name\":\"M2\","
				"\"nsid\":3}}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "nsid 3 is taken");
	assert_int_equal(rh_err(&c, "nvmf_subsystem_add_ns", msg, sizeof(msg),
				"{\"nqn\":\"" NQN2 "\",\"namespace\":{\"bdev_name\":\"M0\"}}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "already a namespace");
	assert_int_equal(rh_err(&c, "nvmf_subsystem_add_ns", msg, sizeof(msg),
				"{\"nqn\":\"" NQN1 "\",\"namespace\":{\"bdev_name\":\"M2\","
				"\"nsid\":9}}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "max_namespaces");
	assert_int_equal(rh_err(&c, "nvmf_subsystem_add_ns", msg, sizeof(msg),
				"{\"nqn\":\"" NQN1 "\",\"namespace\":{\"bdev_name\":\"M2\","
				"\"eui64\":\"ABCDEF0123456789\"}}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "eui64");
	assert_int_equal(rh_err(&c, "nvmf_subsystem_add_ns", msg, sizeof(msg),
				"{\"nqn\":\"" NQN1 "\",\"namespace\":{\"bdev_name\":\"M2\","
				"\"uuid\":\"xyz\"}}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.namespace.uuid: \"xyz\"");
	assert_int_equal(rh_err(&c, "nvmf_subsystem_add_ns", msg, sizeof(msg),
				"{\"nqn\":\"" NQN1 "\",\"namespace\":{\"nsid\":2}}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.namespace.bdev_name is required");
	assert_int_equal(rh_err(&c, "nvmf_subsystem_add_ns", msg, sizeof(msg),
				"{\"nqn\":\"" NQN1 "\"}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.namespace is required");
	assert_int_equal(rh_err(&c, "nvmf_subsystem_add_ns", msg, sizeof(msg),
				"{\"nqn\":\"nqn.2014-08.org.nvmexpress.discovery\","
				"\"namespace\":{\"bdev_name\":\"M2\"}}"),
			 NVMFT_RPC_INVALID_PARAMS);

	rh_ok_true(&c, "nvmf_subsystem_remove_ns", "{\"nqn\":\"" NQN1 "\",\"nsid\":1}");
	assert_int_equal(rh_err(&c, "nvmf_subsystem_remove_ns", msg, sizeof(msg),
				"{\"nqn\":\"" NQN1 "\",\"nsid\":1}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "has no namespace 1");
	/* The bdev is free for another subsystem now. */
	r = rh_ok(&c, "nvmf_subsystem_add_ns", "{\"nqn\":\"" NQN2 "\",\"namespace\":"
		  "{\"bdev_name\":\"M0\"}}");
	assert_int_equal(json_object_get_int(r), 1);
	json_object_put(r);
	/* Deleting a bdev in use removes its namespace. */
	rh_ok_true(&c, "bdev_malloc_delete", "{\"name\":\"M1\"}");
	assert_true(RH_WAIT_FOR(({
		struct json_object *x = rh_ok(&c, "nvmf_get_subsystems",
					      "{\"nqn\":\"" NQN1 "\"}");
		size_t nr = json_object_array_length(rh_get(
			json_object_array_get_idx(x, 0), "namespaces"));
		json_object_put(x);
		nr == 0; }), RH_WAIT_MS));
	rh_close(&c);
	rh_stop(&e);
}

/* Referral parameters are SPDK's and checked; the listing starts empty. */
static void referral_params_are_checked(void **state)
{
	struct rh_env e;
	struct rh_conn c;
	struct json_object *r;
	char msg[512];

	rh_start(&e);
	assert_int_equal(rh_open(&c, e.path), 0);
	r = rh_ok(&c, "nvmf_discovery_get_referrals", NULL);
	assert_int_equal(json_object_array_length(r), 0);
	json_object_put(r);
	assert_int_equal(rh_err(&c, "nvmf_discovery_add_referral", msg, sizeof(msg),
				NULL), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.address is required");
	/* a referral has no default port */
	assert_int_equal(rh_err(&c, "nvmf_discovery_add_referral", msg, sizeof(msg),
				"{\"address\":{\"trtype\":\"tcp\",\"traddr\":\"127.0.0.1\"}}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.address.trsvcid is required");
	assert_int_equal(rh_err(&c, "nvmf_discovery_add_referral", msg, sizeof(msg),
				"{\"address\":{\"trtype\":\"tcp\",\"traddr\":\"127.0.0.1\","
				"\"trsvcid\":\"0\"}}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "trsvcid: 0");
	assert_int_equal(rh_err(&c, "nvmf_discovery_add_referral", msg, sizeof(msg),
				"{\"address\":{\"trtype\":\"rdma\",\"traddr\":\"127.0.0.1\","
				"\"trsvcid\":\"4420\"}}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "\"rdma\" is not supported");
	assert_int_equal(rh_err(&c, "nvmf_discovery_add_referral", msg, sizeof(msg),
				"{\"address\":{\"trtype\":\"tcp\",\"adrfam\":\"ipv6\","
				"\"traddr\":\"127.0.0.1\",\"trsvcid\":\"4420\"}}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "does not match");
	assert_int_equal(rh_err(&c, "nvmf_discovery_add_referral", msg, sizeof(msg),
				"{\"address\":{\"trtype\":\"tcp\",\"traddr\":\"host.example\","
				"\"trsvcid\":\"4420\"}}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "not an IP address");
	assert_int_equal(rh_err(&c, "nvmf_discovery_add_referral", msg, sizeof(msg),
				"{\"address\":{\"trtype\":\"tcp\",\"traddr\":\"127.0.0.1\","
				"\"trsvcid\":\"4420\"},\"subnqn\":\"not an nqn\"}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.subnqn");
	assert_int_equal(rh_err(&c, "nvmf_discovery_add_referral", msg, sizeof(msg),
				"{\"address\":{\"trtype\":\"tcp\",\"traddr\":\"127.0.0.1\","
				"\"trsvcid\":\"4420\"},\"secure_channel\":\"yes\"}"),
			 NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "params.secure_channel");
	assert_int_equal(rh_err(&c, "nvmf_discovery_add_referral", msg, sizeof(msg),
				"{\"address\":{\"trtype\":\"tcp\",\"traddr\":\"127.0.0.1\","
				"\"trsvcid\":\"4420\"},\"bogus\":1}"), NVMFT_RPC_INVALID_PARAMS);
	assert_int_equal(rh_err(&c, "nvmf_discovery_remove_referral", msg, sizeof(msg),
				"{\"address\":{\"trtype\":\"tcp\",\"traddr\":\"127.0.0.1\","
				"\"trsvcid\":\"4420\"}}"), NVMFT_RPC_INVALID_PARAMS);
	assert_contains(msg, "no referral to 127.0.0.1:4420");
	/* nothing was added by the refused calls */
	r = rh_ok(&c, "nvmf_discovery_get_referrals", NULL);
	assert_int_equal(json_object_array_length(r), 0);
	json_object_put(r);
	rh_close(&c);
	rh_stop(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(malloc_and_null_bdevs_are_created_listed_and_deleted),
		cmocka_unit_test(uring_bdev_on_a_file),
		cmocka_unit_test(transport_is_created_once_with_its_options),
		cmocka_unit_test(subsystems_are_created_listed_and_deleted),
		cmocka_unit_test(hosts_are_added_removed_and_any_host_toggled),
		cmocka_unit_test(listeners_are_added_and_removed),
		cmocka_unit_test(namespaces_are_added_and_removed),
		cmocka_unit_test(referral_params_are_checked),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("rpc_methods", tests, NULL, NULL);
}
