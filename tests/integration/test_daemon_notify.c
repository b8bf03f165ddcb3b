/* SPDX-License-Identifier: MIT */
/*
 * nvmf-tgtd under a service manager (systemd Type=notify): with
 * NOTIFY_SOCKET set to a datagram socket of ours, the daemon sends
 * READY=1 once its configuration is applied and its RPC socket serves
 * (a client connects at once), from its main pid; SIGTERM → STOPPING=1
 * and exit 0. A start that fails never says READY. Path and abstract
 * socket names both work.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Generous: sanitizer builds start slowly on a busy 2-core machine. */
#define START_MS	30000
#define STOP_MS		20000

static char tgtd[PATH_MAX + 16];

struct env {
	char dir[64];
	char notify[96];	/* socket file, or "" for abstract */
	char abstract[64];	/* abstract name without the '@' */
	char conf[96];
	char rpc[96];
	char log[96];
	int fd;			/* our notify socket */
	pid_t pid;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void env_init(struct env *e, bool abstract, const char *conf_text)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len;
	int one = 1;
	FILE *f;

	memset(e, 0, sizeof(*e));
	e->pid = -1;
	snprintf(e->dir, sizeof(e->dir), "/tmp/nvmft-notify-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->conf, sizeof(e->conf), "%s/t.conf", e->dir);
	snprintf(e->rpc, sizeof(e->rpc), "%s/rpc.sock", e->dir);
	snprintf(e->log, sizeof(e->log), "%s/log", e->dir);
	f = fopen(e->conf, "w");
	assert_non_null(f);
	fputs(conf_text, f);
	fclose(f);

	e->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(e->fd >= 0);
	if (abstract) {
		snprintf(e->abstract, sizeof(e->abstract), "nvmft-notify-%d-%ld",
			 (int)getpid(), (long)now_ms());
		sun.sun_path[0] = '\0';
		memcpy(sun.sun_path + 1, e->abstract, strlen(e->abstract));
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
				  strlen(e->abstract));
	} else {
		snprintf(e->notify, sizeof(e->notify), "%s/notify", e->dir);
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", e->notify);
		len = sizeof(sun);
	}
	assert_int_equal(bind(e->fd, (struct sockaddr *)&sun, len), 0);
	/* the sender's pid comes with each datagram, as systemd checks it */
	assert_int_equal(setsockopt(e->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
}

static void env_fini(struct env *e)
{
	if (e->pid > 0) {
		kill(e->pid, SIGKILL);
		waitpid(e->pid, NULL, 0);
	}
	close(e->fd);
	unlink(e->notify[0] ? e->notify : e->rpc);
	unlink(e->rpc);
	unlink(e->conf);
	unlink(e->log);
	assert_int_equal(rmdir(e->dir), 0);
}

static void start(struct env *e)
{
	char var[160];

	if (e->notify[0])
		snprintf(var, sizeof(var), "NOTIFY_SOCKET=%s", e->notify);
	else
		snprintf(var, sizeof(var), "NOTIFY_SOCKET=@%s", e->abstract);
	e->pid = fork();
	assert_true(e->pid >= 0);
	if (e->pid == 0) {
		char *argv[] = { tgtd, "-c", e->conf, "-n", "1", "-r", e->rpc, NULL };
		int fd = open(e->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		putenv(var);
		execv(tgtd, argv);
		_exit(127);
	}
}

/* The next datagram (NUL terminated) and its sender's pid; false on timeout. */
static bool receive(struct env *e, char *buf, size_t len, pid_t *from, int ms)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = len - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct pollfd p = { .fd = e->fd, .events = POLLIN };
	struct cmsghdr *cm;
	ssize_t n;

	if (poll(&p, 1, ms) != 1)
		return false;
	n = recvmsg(e->fd, &mh, MSG_DONTWAIT);
	if (n < 0)
		return false;
	buf[n] = '\0';
	*from = -1;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS) {
			struct ucred uc;

			memcpy(&uc, CMSG_DATA(cm), sizeof(uc));
			*from = uc.pid;
		}
	return true;
}

/* @msg ("KEY=VALUE" lines) has the line @line. */
static bool has_line(const char *msg, const char *line)
{
	size_t n = strlen(line);

	while (*msg) {
		if (!strncmp(msg, line, n) && (msg[n] == '\n' || msg[n] == '\0'))
			return true;
		msg = strchr(msg, '\n');
		if (!msg)
			break;
		msg++;
	}
	return false;
}

/* Wait for a datagram with the line @line ("READY=1"), from the daemon. */
static void expect(struct env *e, const char *line, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	char buf[512];
	pid_t from;

	while (now_ms() < end) {
		if (!receive(e, buf, sizeof(buf), &from, (int)(end - now_ms())))
			break;
		if (has_line(buf, line)) {
			assert_int_equal(from, e->pid);
			return;
		}
	}
	fail_msg("no %s from nvmf-tgtd within %d ms", line, ms);
}

static bool rpc_connects(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Exit status of the daemon, or -1 if it does not exit in time. */
static int wait_exit(struct env *e, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	int st;

	while (now_ms() < end) {
		pid_t p = waitpid(e->pid, &st, WNOHANG);

		if (p == e->pid) {
			e->pid = -1;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		usleep(10000);
	}
	return -1;
}

static const char good_conf[] = "transports = ( { type = \"TCP\"; } );\n";

static void ready_then_stopping(bool abstract)
{
	struct env e;

	env_init(&e, abstract, good_conf);
	start(&e);
	expect(&e, "READY=1", START_MS);
	/* READY comes after the RPC socket serves */
	assert_true(rpc_connects(e.rpc));
	assert_int_equal(kill(e.pid, SIGTERM), 0);
	expect(&e, "STOPPING=1", STOP_MS);
	assert_int_equal(wait_exit(&e, STOP_MS), 0);
	env_fini(&e);
}

static void ready_after_rpc_socket_and_stopping_on_sigterm(void **state)
{
	ready_then_stopping(false);
}

static void abstract_notify_socket_works_too(void **state)
{
	ready_then_stopping(true);
}

static void failed_start_never_says_ready(void **state)
{
	struct env e;
	char buf[256];
	pid_t from;

	env_init(&e, false, "bdevs = ( { name = \"a\"; type = \"malloc\"; "
			    "size = \"1M\"; block_size = 1000; } );\n");
	start(&e);
	assert_int_equal(wait_exit(&e, START_MS), 1);
	assert_false(receive(&e, buf, sizeof(buf), &from, 0));
	env_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ready_after_rpc_socket_and_stopping_on_sigterm),
		cmocka_unit_test(abstract_notify_socket_works_too),
		cmocka_unit_test(failed_start_never_says_ready),
	};
	char self[PATH_MAX], *p;
	ssize_t n;
	int i;

	/* BUILD/tests/integration/this → BUILD/bin/nvmf-tgtd */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		printf("SKIP: cannot read /proc/self/exe\n");
		return 77;
	}
	self[n] = '\0';
	for (i = 0; i < 3; i++) {
		p = strrchr(self, '/');
		if (p)
			*p = '\0';
	}
	snprintf(tgtd, sizeof(tgtd), "%s/bin/nvmf-tgtd", self);
	if (access(tgtd, X_OK)) {
		printf("SKIP: %s is not built\n", tgtd);
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("daemon_notify", tests, NULL, NULL);
}
