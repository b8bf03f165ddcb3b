/* SPDX-License-Identifier: MIT */
/*
 * Daemon faults: nvmf-tgtd (from this build tree) serving a uring file
 * namespace is killed with SIGKILL in the middle of a write load, then
 * started again on the same file. Every write the host saw acknowledged
 * with FUA, or acknowledged before a Flush that succeeded, must read back
 * after the restart (a write in flight at the kill may have landed or not).
 * Once with each engine (-e uring, -e epoll).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>

#include "hostile_harness.h"

#define KILL_NQN	"nqn.2026-11.io.nvmft:kill-test"
#define DISK_BLOCKS	32768u		/* 16 MiB of 512-byte blocks */
#define IO_BLOCKS	8u		/* 4 KiB writes */
#define SLOTS		(DISK_BLOCKS / IO_BLOCKS)
#define LATER_MAX	4

struct slot {
	uint32_t durable;		/* seed the host may rely on, 0: none */
	uint32_t later[LATER_MAX];	/* submitted after it, fate unknown */
	unsigned int nr_later;		/* > LATER_MAX: not checked */
};

struct run {
	char dir[PATH_MAX];
	char conf[PATH_MAX + 16];
	char disk[PATH_MAX + 16];
	char sock[PATH_MAX + 16];
	char log[PATH_MAX + 16];
	char tgtd[PATH_MAX];
	char port[8];
	pid_t pid;
	struct slot slots[SLOTS];
	_Atomic unsigned int acked;
	_Atomic int stop;
};

static struct run R;

static void host_log(void *arg, int level, const char *msg)
{
	(void)arg;
	(void)level;
	if (getenv("TT_VERBOSE"))
		fprintf(stderr, "[host] %s\n", msg);
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &l) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Does the file system take O_DIRECT (tmpfs does not)? */
static bool direct_ok(const char *path)
{
	int fd = open(path, O_RDWR | O_DIRECT);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static int start_daemon(const char *engine)
{
	uint64_t end = tt_now_ms() + 20000;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd = open(R.log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(R.tgtd, R.tgtd, "-c", R.conf, "-n", "2", "-e", engine,
		      "-r", R.sock, (char *)NULL);
		_exit(127);
	}
	R.pid = pid;
	/* ready when it accepts connections */
	while (tt_now_ms() < end) {
		int fd = sock_connect_blocking("127.0.0.1", (uint16_t)atoi(R.port));
		int st;

		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (waitpid(pid, &st, WNOHANG) == pid) {
			R.pid = 0;
			return -ECHILD;
		}
		tt_sleep_ms(20);
	}
	return -ETIMEDOUT;
}

static void kill_daemon(int sig)
{
	int st;

	if (R.pid <= 0)
		return;
	kill(R.pid, sig);
	waitpid(R.pid, &st, 0);
	R.pid = 0;
}

static struct nvmft_host_ctrlr *connect_host(void)
{
	struct nvmft_host_opts ho;
	struct nvmft_host_ctrlr *c = NULL;

	nvmft_host_opts_init(&ho);
	ho.traddr = "127.0.0.1";
	ho.trsvcid = R.port;
	ho.subnqn = KILL_NQN;
	ho.num_io_queues = 1;
	ho.kato_ms = 30000;
	ho.cmd_timeout_ms = 5000;
	ho.log_fn = host_log;
	assert_int_equal(nvmft_host_ctrlr_connect(&ho, &c), 0);
	return c;
}

static void block_data(uint8_t *p, uint32_t seed, uint32_t slot)
{
	tt_fill(p, IO_BLOCKS * 512, seed * 2654435761u ^ slot);
}

static void later_add(struct slot *s, uint32_t seed)
{
	if (s->nr_later < LATER_MAX)
		s->later[s->nr_later] = seed;
	s->nr_later++;
}

/* The write load: FUA writes, and plain writes made durable by a Flush. */
static void *writer(void *arg)
{
	struct nvmft_host_ctrlr *c = arg;
	struct nvmft_host_qpair *qp = nvmft_host_ctrlr_io_qpair(c, 0);
	static uint8_t buf[IO_BLOCKS * 512];
	uint32_t unflushed[8][2];	/* slot, seed of plain writes acked */
	unsigned int nr_unflushed = 0, rng = 99;
	uint32_t seed = 0;

	while (!atomic_load(&R.stop)) {
		uint32_t slot = (rng = rng * 1103515245u + 12345u) / 65536 % SLOTS;
		bool fua = (rng >> 8) & 1;
		int rc;

		seed++;
		block_data(buf, seed, slot);
		later_add(&R.slots[slot], seed);
		rc = nvmft_host_write(qp, 1, (uint64_t)slot * IO_BLOCKS, IO_BLOCKS,
				      buf, sizeof(buf), fua);
		if (rc)
			break;
		atomic_fetch_add(&R.acked, 1);
		if (fua) {
			R.slots[slot].durable = seed;
			R.slots[slot].nr_later = 0;
			continue;
		}
		unflushed[nr_unflushed][0] = slot;
		unflushed[nr_unflushed][1] = seed;
		if (++nr_unflushed < 8)
			continue;
		if (nvmft_host_flush(qp, 1))
			break;
		/* durable now, unless overwritten since by a later write */
		for (unsigned int i = 0; i < nr_unflushed; i++) {
			struct slot *s = &R.slots[unflushed[i][0]];

			/* (a FUA write since made it durable already) */
			if (s->nr_later == 0 || s->nr_later > LATER_MAX ||
			    s->later[s->nr_later - 1] != unflushed[i][1])
				continue;
			s->durable = unflushed[i][1];
			s->nr_later = 0;
		}
		nr_unflushed = 0;
	}
	return NULL;
}

static void test_acknowledged_writes_survive_sigkill(const char *engine)
{
	struct nvmft_host_ctrlr *c;
	static uint8_t buf[IO_BLOCKS * 512], want[IO_BLOCKS * 512];
	unsigned int checked = 0;
	pthread_t th;
	uint64_t end;

	memset(R.slots, 0, sizeof(R.slots));
	atomic_store(&R.acked, 0);
	atomic_store(&R.stop, 0);
	assert_int_equal(start_daemon(engine), 0);
	c = connect_host();
	assert_int_equal(pthread_create(&th, NULL, writer, c), 0);
	/* under load: enough writes acknowledged, then the kill */
	end = tt_now_ms() + 10000;
	while (atomic_load(&R.acked) < 1000 && tt_now_ms() < end)
		tt_sleep_ms(5);
	kill_daemon(SIGKILL);
	atomic_store(&R.stop, 1);
	pthread_join(th, NULL);
	nvmft_host_ctrlr_disconnect(c);
	assert_true(atomic_load(&R.acked) > 100);

	assert_int_equal(start_daemon(engine), 0);
	c = connect_host();
	for (uint32_t slot = 0; slot < SLOTS; slot++) {
		struct slot *s = &R.slots[slot];
		bool ok;

		if (!s->durable || s->nr_later > LATER_MAX)
			continue;
		assert_int_equal(nvmft_host_read(nvmft_host_ctrlr_io_qpair(c, 0), 1,
						 (uint64_t)slot * IO_BLOCKS, IO_BLOCKS,
						 buf, sizeof(buf)), 0);
		block_data(want, s->durable, slot);
		ok = !memcmp(buf, want, sizeof(buf));
		for (unsigned int i = 0; !ok && i < s->nr_later; i++) {
			block_data(want, s->later[i], slot);
			ok = !memcmp(buf, want, sizeof(buf));
		}
		if (!ok)
			fail_msg("slot %u: acknowledged durable write (seed %u) lost",
				 slot, s->durable);
		checked++;
	}
	printf("note: %s: %u writes acknowledged before SIGKILL, %u durable slots verified\n",
	       engine, atomic_load(&R.acked), checked);
	assert_true(checked > 0);
	nvmft_host_ctrlr_disconnect(c);
	kill_daemon(SIGTERM);
}

static void test_sigkill_uring(void **state)
{
	(void)state;
	test_acknowledged_writes_survive_sigkill("uring");
}

static void test_sigkill_epoll(void **state)
{
	(void)state;
	test_acknowledged_writes_survive_sigkill("epoll");
}

static int setup(void **state)
{
	char exe[PATH_MAX], *d;
	ssize_t n;
	int fd, port;
	FILE *f;

	(void)state;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	/* BUILD/tests/integration/test_x → BUILD/bin/nvmf-tgtd */
	d = dirname(dirname(dirname(exe)));
	snprintf(R.tgtd, sizeof(R.tgtd), "%s/bin/nvmf-tgtd", d);
	snprintf(R.dir, sizeof(R.dir), "%s/nvmft-kill-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp");
	if (!mkdtemp(R.dir))
		return -1;
	snprintf(R.disk, sizeof(R.disk), "%s/disk", R.dir);
	snprintf(R.conf, sizeof(R.conf), "%s/t.conf", R.dir);
	snprintf(R.sock, sizeof(R.sock), "%s/rpc.sock", R.dir);
	snprintf(R.log, sizeof(R.log), "%s/log", R.dir);
	fd = open(R.disk, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)DISK_BLOCKS * 512))
		return -1;
	close(fd);
	port = free_port();
	if (port <= 0)
		return -1;
	snprintf(R.port, sizeof(R.port), "%d", port);
	f = fopen(R.conf, "w");
	if (!f)
		return -1;
	fprintf(f,
		"bdevs = ( { name = \"U0\"; type = \"uring\"; filename = \"%s\"; buffered = %s; } );\n"
		"subsystems = ( { nqn = \"%s\"; allow_any_host = true;\n"
		"  namespaces = ( { bdev = \"U0\"; } );\n"
		"  listeners = ( { traddr = \"127.0.0.1\"; trsvcid = \"%s\"; } ); } );\n",
		R.disk, direct_ok(R.disk) ? "false" : "true", KILL_NQN, R.port);
	fclose(f);
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 64];

	(void)state;
	kill_daemon(SIGKILL);
	if (getenv("TT_VERBOSE")) {
		snprintf(cmd, sizeof(cmd), "cat %s", R.log);
		if (system(cmd) < 0)
			perror("cat");
	}
	unlink(R.disk);
	unlink(R.conf);
	unlink(R.log);
	unlink(R.sock);
	rmdir(R.dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest uring[] = { cmocka_unit_test(test_sigkill_uring) };
	const struct CMUnitTest epoll[] = { cmocka_unit_test(test_sigkill_epoll) };
	int fails = 0;

	signal(SIGPIPE, SIG_IGN);
	if (!tt_engine_usable(NVMFT_ENGINE_URING)) {
		/* the uring backend needs io_uring whatever the engine */
		printf("SKIP: io_uring unavailable: no uring backend to kill\n");
		return 77;
	}
	fails += cmocka_run_group_tests_name("daemon_kill_uring", uring, setup, teardown);
	fails += cmocka_run_group_tests_name("daemon_kill_epoll", epoll, setup, teardown);
	return fails ? 1 : 0;
}
