/* SPDX-License-Identifier: MIT */
/*
 * Shared by the hbd tests: a real nbdkit started by the test on a Unix
 * socket in a temporary directory (file plugin in dir= mode, so exports
 * are files that survive a server restart), a runtime of two reactors with
 * a bdev registry (test_bdev_harness.h) and an hbd context, and helpers for
 * pools, volumes and verified I/O. Every wait is bounded.
 */
#ifndef TEST_BDEV_HBD_HARNESS_H
#define TEST_BDEV_HBD_HARNESS_H

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <nvme/types.h>

#include <nvmft/bdev_hbd.h>
#include <nvmft/nvme_wire.h>

#include "test_bdev_harness.h"

#define HB_BS		512u
#define HB_VOL_SIZE	(16u << 20)

/* ---- the NBD server ---- */

struct hb_srv {
	char dir[64];
	char sock[96];
	char vols[96];
	char log[96];
	char inject[96];
	char uri[160];
	pid_t pid;
	int listen_fd;			/* TCP mode: 127.0.0.1, passed by socket activation */
	const char *const *filters;	/* "--filter=x" ... NULL */
	const char *const *params;	/* "k=v" ... NULL */
};

static H_UNUSED void hb_require_nbdkit(void)
{
	if (system("nbdkit --version >/dev/null 2>&1") != 0) {
		printf("SKIP: nbdkit is not installed (Debian package nbdkit)\n");
		exit(77);
	}
}

static H_UNUSED void hb_srv_init(struct hb_srv *s)
{
	memset(s, 0, sizeof(*s));
	strcpy(s->dir, "/tmp/nvmft-hbd-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->sock, sizeof(s->sock), "%s/nbd.sock", s->dir);
	snprintf(s->vols, sizeof(s->vols), "%s/vols", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/requests.log", s->dir);
	snprintf(s->inject, sizeof(s->inject), "%s/inject", s->dir);
	snprintf(s->uri, sizeof(s->uri), "nbd+unix:///?socket=%s", s->sock);
	s->listen_fd = -1;
	assert_int_equal(mkdir(s->vols, 0700), 0);
}

/*
 * Serve on 127.0.0.1 instead, on an ephemeral port: the test owns the
 * listening socket and hands it to nbdkit by socket activation, so there
 * is no race for the port, and a restarted nbdkit gets the same one.
 */
static H_UNUSED void hb_srv_use_tcp(struct hb_srv *s)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->listen_fd >= 0);
	setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s->listen_fd, 16), 0);
	assert_int_equal(getsockname(s->listen_fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(s->uri, sizeof(s->uri), "nbd://127.0.0.1:%u", ntohs(sa.sin_port));
}

static H_UNUSED void hb_srv_add_volume(struct hb_srv *s, const char *name,
				       uint64_t size)
{
	char path[160];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", s->vols, name);
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	close(fd);
}

static H_UNUSED bool hb_sock_accepts(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Start nbdkit (again) on the same socket and directory. */
static H_UNUSED void hb_srv_start(struct hb_srv *s)
{
	const char *argv[48];
	char dirarg[128], logarg[128];
	int n = 0;
	pid_t pid;

	unlink(s->sock);	/* a killed nbdkit leaves its socket behind */
	snprintf(dirarg, sizeof(dirarg), "dir=%s", s->vols);
	snprintf(logarg, sizeof(logarg), "logfile=%s", s->log);
	argv[n++] = "nbdkit";
	argv[n++] = "--exit-with-parent";
	argv[n++] = "-f";
	if (s->listen_fd < 0) {
		argv[n++] = "-U";
		argv[n++] = s->sock;
	}
	/* The log filter first: it sees the requests as the client sent them. */
	argv[n++] = "--filter=log";
	for (int i = 0; s->filters && s->filters[i]; i++)
		argv[n++] = s->filters[i];
	argv[n++] = "file";
	argv[n++] = dirarg;
	argv[n++] = logarg;
	argv[n++] = "logappend=true";
	for (int i = 0; s->params && s->params[i]; i++)
		argv[n++] = s->params[i];
	argv[n] = NULL;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		/* nbdkit's own error lines are expected noise in fault tests. */
		if (devnull >= 0 && !getenv("HB_VERBOSE")) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		if (s->listen_fd >= 0) {
			char pidbuf[16];

			if (s->listen_fd == 3)
				fcntl(3, F_SETFD, 0);
			else
				dup2(s->listen_fd, 3);
			snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
			setenv("LISTEN_FDS", "1", 1);
			setenv("LISTEN_PID", pidbuf, 1);
		}
		execvp("nbdkit", (char *const *)argv);
		_exit(127);
	}
	s->pid = pid;
	for (int i = 0; i < 500; i++) {
		int st;

		/* TCP: the socket accepts already; the first check waits. */
		if (s->listen_fd >= 0 || hb_sock_accepts(s->sock))
			return;
		assert_int_equal(waitpid(pid, &st, WNOHANG), 0);
		usleep(10000);
	}
	fail_msg("nbdkit did not start in 5 s");
}

static H_UNUSED void hb_srv_kill(struct hb_srv *s)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
}

static H_UNUSED int hb_rm(const char *path, const struct stat *sb, int flag,
			  struct FTW *ftw)
{
	return remove(path);
}

static H_UNUSED void hb_srv_fini(struct hb_srv *s)
{
	hb_srv_kill(s);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	nftw(s->dir, hb_rm, 8, FTW_DEPTH | FTW_PHYS);
}

/* Count lines of the request log containing every one of @words. */
static H_UNUSED int hb_log_count(struct hb_srv *s, const char *w1, const char *w2)
{
	char line[512];
	int n = 0;
	FILE *f = fopen(s->log, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, w1) && (!w2 || strstr(line, w2)))
			n++;
	fclose(f);
	return n;
}

/* ---- runtime, registry, context ---- */

/* A volume open for writing, with a channel on both reactors. */
struct hb_vol {
	bool open;
	struct h_desc d;
	struct nvmft_io_channel *ch[2];
};

struct hb {
	struct h h;			/* runtime + registry */
	struct hb_vol vol;		/* closed by the teardown if still open */
	struct nvmft_hbd *hbd;
	struct nvmft_hbd_pool *pool;
	struct hb_srv srv;
};

static H_UNUSED void hb_create_fn(void *arg)
{
	struct hb *t = arg;

	assert_int_equal(nvmft_hbd_create(t->h.reg, &t->hbd), 0);
}

static H_UNUSED int hb_setup_engine(void **state, enum nvmft_engine engine)
{
	struct nvmft_runtime_opts o;
	struct hb *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	nvmft_runtime_opts_init(&o);
	o.nr_reactors = 2;
	o.engine = engine;
	o.name = "thbd";
	assert_int_equal(nvmft_runtime_create(&o, &t->h.rt), 0);
	nvmft_runtime_set_log(t->h.rt, getenv("HB_VERBOSE") ? NVMFT_LOG_DEBUG :
			      NVMFT_LOG_ERR, NULL, NULL);
	assert_int_equal(nvmft_runtime_start(t->h.rt), 0);
	assert_int_equal(nvmft_bdev_registry_create(t->h.rt, &t->h.reg), 0);
	h_run(&t->h, 0, hb_create_fn, t);
	hb_srv_init(&t->srv);
	*state = t;
	return 0;
}

static H_UNUSED int hb_setup(void **state)
{
	return hb_setup_engine(state, NVMFT_ENGINE_AUTO);
}

static H_UNUSED int hb_setup_epoll(void **state)
{
	return hb_setup_engine(state, NVMFT_ENGINE_EPOLL);
}

struct hb_destroy_op {
	struct hb *t;
	sem_t done;
};

static H_UNUSED void hb_destroy_done(void *arg)
{
	sem_post(&((struct hb_destroy_op *)arg)->done);
}

static H_UNUSED void hb_destroy_fn(void *arg)
{
	struct hb_destroy_op *op = arg;

	nvmft_hbd_destroy(op->t->hbd, hb_destroy_done, op);
}

static H_UNUSED struct hb_vol *hb_vol_open(struct hb *t, const char *name)
{
	struct hb_vol *v = &t->vol;

	assert_false(v->open);
	assert_int_equal(h_open(&t->h, &v->d, name, true), 0);
	v->open = true;
	v->ch[0] = h_get_chan(&t->h, 0, &v->d);
	v->ch[1] = h_get_chan(&t->h, 1, &v->d);
	assert_non_null(v->ch[0]);
	assert_non_null(v->ch[1]);
	return v;
}

static H_UNUSED void hb_vol_close(struct hb *t)
{
	struct hb_vol *v = &t->vol;

	if (!v->open)
		return;
	for (unsigned int i = 0; i < 2; i++)
		if (v->ch[i])
			h_put_chan(&t->h, i, v->ch[i]);
	h_close(&v->d);
	memset(v, 0, sizeof(*v));
}

static H_UNUSED int hb_teardown(void **state)
{
	struct hb *t = *state;
	struct hb_destroy_op op = { .t = t };
	struct h *h = calloc(1, sizeof(*h));

	hb_vol_close(t);
	/* A test may leave the context to the runtime's stop. */
	if (t->hbd) {
		sem_init(&op.done, 0, 0);
		h_run(&t->h, 0, hb_destroy_fn, &op);
		assert_true(sem_wait_bounded(&op.done, H_WAIT_SEC));
		sem_destroy(&op.done);
	}
	hb_srv_fini(&t->srv);
	/* h_teardown destroys the registry and the runtime, and frees @h. */
	*h = t->h;
	free(t);
	*state = h;
	return h_teardown(state);
}

/* ---- pools ---- */

struct hb_pool_op {
	struct hb *t;
	const char *name;
	const char *uri;
	struct nvmft_hbd_pool_opts opts;
	struct nvmft_hbd_pool *pool;
	int rc;
};

static H_UNUSED void hb_pool_fn(void *arg)
{
	struct hb_pool_op *op = arg;

	op->rc = nvmft_hbd_pool_create(op->t->hbd, op->name, op->uri, &op->opts,
				       &op->pool);
}

/* Fast checks and retries, so that state changes show up within ~100 ms. */
static H_UNUSED void hb_fast_opts(struct nvmft_hbd_pool_opts *o)
{
	nvmft_hbd_pool_opts_init(o);
	o->health_interval_ms = 50;
	o->connect_timeout_ms = 2000;
	o->retry_backoff_ms = 20;
	o->retry_backoff_max_ms = 100;
	o->down_after = 1;
	o->degraded_latency_ms = 0;
}

static H_UNUSED struct nvmft_hbd_pool *hb_pool(struct hb *t, const char *name,
					       const char *uri,
					       const struct nvmft_hbd_pool_opts *o)
{
	struct hb_pool_op op = { .t = t, .name = name, .uri = uri };

	if (o)
		op.opts = *o;
	else
		hb_fast_opts(&op.opts);
	h_run(&t->h, 0, hb_pool_fn, &op);
	assert_int_equal(op.rc, 0);
	return op.pool;
}

/* Wait (bounded) until @pool reaches @state. */
static H_UNUSED bool hb_wait_state(struct nvmft_hbd_pool *pool,
				   enum nvmft_hbd_pool_state state, int ms)
{
	for (int i = 0; i < ms / 5; i++) {
		if (nvmft_hbd_pool_get_state(pool) == state)
			return true;
		usleep(5000);
	}
	return nvmft_hbd_pool_get_state(pool) == state;
}

/* ---- volumes ---- */

struct hb_vol_op {
	struct nvmft_hbd_pool *pool;
	struct nvmft_hbd_volume_opts opts;
	int rc;
	_Atomic int done_rc;
	struct nvmft_bdev *bdev;
	sem_t done;
};

static H_UNUSED void hb_vol_done(void *arg, int rc, struct nvmft_bdev *bdev)
{
	struct hb_vol_op *op = arg;

	op->bdev = bdev;
	op->done_rc = rc;
	sem_post(&op->done);
}

static H_UNUSED void hb_vol_fn(void *arg)
{
	struct hb_vol_op *op = arg;

	op->rc = nvmft_hbd_volume_create(op->pool, &op->opts, hb_vol_done, op);
	if (op->rc)
		sem_post(&op->done);
}

/* Create a volume and wait; returns the creation's rc. */
static H_UNUSED int hb_volume(struct hb *t, struct nvmft_hbd_pool *pool,
			      const char *export_name, const char *bdev_name,
			      struct nvmft_bdev **out)
{
	struct hb_vol_op op = { .pool = pool };

	op.opts.export_name = export_name;
	op.opts.bdev_name = bdev_name;
	sem_init(&op.done, 0, 0);
	h_run(&t->h, 0, hb_vol_fn, &op);
	assert_true(sem_wait_bounded(&op.done, H_WAIT_SEC));
	sem_destroy(&op.done);
	if (op.rc)
		return op.rc;
	if (out)
		*out = op.bdev;
	return op.done_rc;
}

/* ---- I/O with patterns ---- */

static H_UNUSED void hb_fill(uint8_t *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 9));
}

/* One I/O on reactor @idx with a single buffer; returns the status. */
static H_UNUSED uint16_t hb_io(struct hb *t, unsigned int idx, struct h_desc *d,
			       struct nvmft_io_channel *ch,
			       enum nvmft_io_type type, uint32_t flags,
			       uint64_t off, uint64_t num, void *buf)
{
	struct iovec iov = { .iov_base = buf, .iov_len = num * HB_BS };
	struct h_io io;

	h_io_init(&io, d, ch, type, off, num, buf ? &iov : NULL, buf ? 1 : 0);
	io.io.flags = flags;
	assert_int_equal(h_io_start(&t->h, idx, &io), 0);
	return h_io_wait(&io);
}

#define SC_PATH	NVMFT_HBD_PATH_STATUS

#endif
