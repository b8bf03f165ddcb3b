/* SPDX-License-Identifier: MIT */
/*
 * Unix stream listeners of sock groups (the management socket): mode of
 * the socket file, echo over it (sock_attach on an AF_UNIX fd, where
 * TCP_NODELAY does not exist), stale and live socket files, files that are
 * not ours, removal at close. Every scenario runs on io_uring and epoll.
 */
#include "test_sock_harness.h"

#include <sys/stat.h>
#include <sys/un.h>

static const struct variant V_URING_UNIX = { NVMFT_ENGINE_URING, AF_UNIX, NULL };
static const struct variant V_EPOLL_UNIX = { NVMFT_ENGINE_EPOLL, AF_UNIX, NULL };

#define DEFINE_UNIX(fn)							\
	static void fn##__uring(void **st) { (void)st; fn(&V_URING_UNIX); } \
	static void fn##__epoll(void **st) { (void)st; fn(&V_EPOLL_UNIX); }
#define UNIX_TESTS(fn)							\
	cmocka_unit_test(fn##__uring), cmocka_unit_test(fn##__epoll)

struct unix_env {
	char dir[64];
	char path[96];
};

static void env_init(struct unix_env *e)
{
	snprintf(e->dir, sizeof(e->dir), "/tmp/nvmft-sockunix-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->path, sizeof(e->path), "%s/rpc.sock", e->dir);
}

static void env_fini(struct unix_env *e)
{
	unlink(e->path);
	assert_int_equal(rmdir(e->dir), 0);
}

struct unix_listen {
	struct echo_srv *srv;
	const char *path;
	mode_t mode;
	int rc;
	uint16_t port;
	struct sock_listener *l;	/* a second listener (not the echo's) */
};

static void listen_unix_echo(void *arg)
{
	struct unix_listen *u = arg;

	u->rc = sock_listen_unix(u->srv->g[0], u->path, u->mode, 0,
				 echo_on_accept, u->srv, &u->srv->l);
	if (!u->rc)
		u->port = sock_listener_port(u->srv->l);
}

static void noop_accept(struct sock_listener *l, int fd,
			const struct sockaddr *peer, socklen_t peer_len,
			void *ctx)
{
	close(fd);
}

static void listen_unix_other(void *arg)
{
	struct unix_listen *u = arg;

	u->l = NULL;
	u->rc = sock_listen_unix(u->srv->g[0], u->path, u->mode, 0,
				 noop_accept, NULL, &u->l);
}

static void close_other(void *arg)
{
	struct unix_listen *u = arg;

	sock_listener_close(u->l, NULL, NULL);
}

/* Tear down groups that never had the echo listener. */
static void stop_groups_only(struct echo_srv *srv)
{
	struct echo_destroy d = { .srv = srv };

	h_exec(srv->h, 0, echo_group_destroy, &d);
	assert_int_equal(d.rc[0], 0);
	assert_int_equal(atomic_load(&srv->errors), 0);
}

static int connect_unix(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = H_WAIT_MS / 1000 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Groups on reactor 0 with the echo listening on @e->path (mode 0600). */
static void start_unix_echo(struct h *h, struct echo_srv *srv,
			    struct unix_env *e, const struct variant *v)
{
	struct unix_listen u = { .path = e->path, .mode = 0600 };

	h_start(h, v, 1);
	echo_init(srv);
	echo_start_groups(srv, h, 1);
	u.srv = srv;
	h_exec(h, 0, listen_unix_echo, &u);
	assert_int_equal(u.rc, 0);
	assert_int_equal(u.port, 0);
}

static void unix_listener_sets_mode_and_echoes(const struct variant *v)
{
	struct unix_env e;
	struct echo_srv srv;
	struct stat st;
	char buf[64];
	struct h h;
	int fd[3], i;

	env_init(&e);
	start_unix_echo(&h, &srv, &e, v);
	assert_int_equal(lstat(e.path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);

	/* Several clients at once: each gets its own bytes back. */
	for (i = 0; i < 3; i++) {
		fd[i] = connect_unix(e.path);
		assert_true(fd[i] >= 0);
	}
	for (i = 0; i < 3; i++) {
		snprintf(buf, sizeof(buf), "client %d says hello", i);
		assert_int_equal(h_write_all(fd[i], buf, strlen(buf)), 0);
	}
	for (i = 2; i >= 0; i--) {
		char want[64];

		snprintf(want, sizeof(want), "client %d says hello", i);
		assert_int_equal(h_read_all(fd[i], buf, strlen(want)), 0);
		assert_memory_equal(buf, want, strlen(want));
		close(fd[i]);
	}
	assert_true(echo_wait_idle(&srv, 3));
	echo_stop(&srv);
	/* Closing the listener removed the socket file. */
	assert_int_equal(lstat(e.path, &st), -1);
	assert_int_equal(errno, ENOENT);
	h_stop(&h);
	env_fini(&e);
}
DEFINE_UNIX(unix_listener_sets_mode_and_echoes)

static void unix_listener_honours_other_modes(const struct variant *v)
{
	struct unix_listen u = { .mode = 0660 };
	struct unix_env e;
	struct echo_srv srv;
	struct stat st;
	struct h h;

	env_init(&e);
	h_start(&h, v, 1);
	echo_init(&srv);
	echo_start_groups(&srv, &h, 1);
	u.srv = &srv;
	u.path = e.path;
	h_exec(&h, 0, listen_unix_other, &u);
	assert_int_equal(u.rc, 0);
	assert_int_equal(lstat(e.path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	h_exec(&h, 0, close_other, &u);
	assert_true(WAIT_FOR(lstat(e.path, &st) < 0, H_WAIT_MS));
	stop_groups_only(&srv);
	h_stop(&h);
	env_fini(&e);
}
DEFINE_UNIX(unix_listener_honours_other_modes)

static void stale_socket_file_is_replaced(const struct variant *v)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct unix_env e;
	struct echo_srv srv;
	char buf[4];
	struct h h;
	int fd;

	env_init(&e);
	/* A server that died: its socket file stays, nobody accepts. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", e.path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);

	start_unix_echo(&h, &srv, &e, v);
	fd = connect_unix(e.path);
	assert_true(fd >= 0);
	assert_int_equal(h_write_all(fd, "ping", 4), 0);
	assert_int_equal(h_read_all(fd, buf, 4), 0);
	assert_memory_equal(buf, "ping", 4);
	close(fd);
	assert_true(echo_wait_idle(&srv, 1));
	echo_stop(&srv);
	h_stop(&h);
	env_fini(&e);
}
DEFINE_UNIX(stale_socket_file_is_replaced)

static void live_socket_path_fails_eaddrinuse(const struct variant *v)
{
	struct unix_listen u = { .mode = 0600 };
	struct unix_env e;
	struct echo_srv srv;
	struct stat st;
	char buf[2];
	struct h h;
	int fd;

	env_init(&e);
	start_unix_echo(&h, &srv, &e, v);
	u.srv = &srv;
	u.path = e.path;
	h_exec(&h, 0, listen_unix_other, &u);
	assert_int_equal(u.rc, -EADDRINUSE);
	/* The liveness probe was a connection the echo accepted and saw
	 * close; once it is gone only the listener is left. */
	assert_true(WAIT_FOR(atomic_load(&srv.accepted) >= 1 &&
			     atomic_load(&srv.open) == 0 &&
			     sock_group_count(srv.g[0]) == 1, H_WAIT_MS));
	/* The first server keeps its file and its clients. */
	assert_int_equal(lstat(e.path, &st), 0);
	fd = connect_unix(e.path);
	assert_true(fd >= 0);
	assert_int_equal(h_write_all(fd, "ok", 2), 0);
	assert_int_equal(h_read_all(fd, buf, 2), 0);
	close(fd);
	assert_true(echo_wait_idle(&srv, 2));	/* the probe and this one */
	echo_stop(&srv);
	h_stop(&h);
	env_fini(&e);
}
DEFINE_UNIX(live_socket_path_fails_eaddrinuse)

static void foreign_file_is_never_removed(const struct variant *v)
{
	struct unix_listen u = { .mode = 0600 };
	struct unix_env e;
	struct echo_srv srv;
	struct stat st;
	struct h h;
	FILE *f;

	env_init(&e);
	f = fopen(e.path, "w");
	assert_non_null(f);
	fputs("not a socket\n", f);
	fclose(f);

	h_start(&h, v, 1);
	echo_init(&srv);
	echo_start_groups(&srv, &h, 1);
	u.srv = &srv;
	u.path = e.path;
	h_exec(&h, 0, listen_unix_other, &u);
	assert_int_equal(u.rc, -EEXIST);
	assert_int_equal(lstat(e.path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(unlink(e.path), 0);

	/* A listener whose file was replaced leaves the newcomer alone. */
	h_exec(&h, 0, listen_unix_other, &u);
	assert_int_equal(u.rc, 0);
	assert_int_equal(unlink(e.path), 0);
	f = fopen(e.path, "w");
	assert_non_null(f);
	fclose(f);
	h_exec(&h, 0, close_other, &u);
	assert_true(WAIT_FOR(sock_group_count(srv.g[0]) == 0, H_WAIT_MS));
	assert_int_equal(lstat(e.path, &st), 0);
	assert_true(S_ISREG(st.st_mode));

	stop_groups_only(&srv);
	h_stop(&h);
	env_fini(&e);
}
DEFINE_UNIX(foreign_file_is_never_removed)

static void bad_paths_are_refused(const struct variant *v)
{
	struct unix_listen u = { .mode = 0600 };
	char longpath[200];
	struct echo_srv srv;
	struct h h;

	h_start(&h, v, 1);
	echo_init(&srv);
	echo_start_groups(&srv, &h, 1);
	u.srv = &srv;

	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	u.path = longpath;
	h_exec(&h, 0, listen_unix_other, &u);
	assert_int_equal(u.rc, -ENAMETOOLONG);

	u.path = "";
	h_exec(&h, 0, listen_unix_other, &u);
	assert_int_equal(u.rc, -EINVAL);

	u.path = "/nonexistent-dir-nvmft/rpc.sock";
	h_exec(&h, 0, listen_unix_other, &u);
	assert_int_equal(u.rc, -ENOENT);
	assert_int_equal(sock_group_count(srv.g[0]), 0);

	stop_groups_only(&srv);
	h_stop(&h);
}
DEFINE_UNIX(bad_paths_are_refused)

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIX_TESTS(unix_listener_sets_mode_and_echoes),
		UNIX_TESTS(unix_listener_honours_other_modes),
		UNIX_TESTS(stale_socket_file_is_replaced),
		UNIX_TESTS(live_socket_path_fails_eaddrinuse),
		UNIX_TESTS(foreign_file_is_never_removed),
		UNIX_TESTS(bad_paths_are_refused),
	};

	return cmocka_run_group_tests_name("sock_unix", tests, NULL, NULL);
}
