// SPDX-License-Identifier: MIT
/*
 * nvmft-rpc: send one JSON-RPC request to nvmf-tgtd and print the answer.
 *
 *   nvmft-rpc [-s SOCK] [-t SECONDS] [-j] COMMAND [ARGS...]
 *
 * Framing is the server's (SPDK's): the request is one JSON object on the
 * stream, and the answer is read until one complete JSON object has been
 * parsed (json-c's incremental tokener, fed as bytes arrive).
 *
 * Exit codes: 0 success, 1 the server answered with an error, 2 bad
 * command line, 3 no connection (or it broke, or timed out).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <nvmft/rpc.h>

#include "client.h"

#ifndef NVMFT_VERSION
#define NVMFT_VERSION "unknown"
#endif

#define DEFAULT_SOCK	NVMFT_RPC_DEFAULT_SOCK
#define MAX_ANSWER	(256u * 1024 * 1024)

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: nvmft-rpc [OPTIONS] COMMAND [ARGS...]\n"
		"Send a JSON-RPC request to nvmf-tgtd and print the answer.\n\n"
		"  -s, --server PATH    Unix socket of the target (default " DEFAULT_SOCK ")\n"
		"  -t, --timeout SEC    give up after SEC seconds (default 60)\n"
		"  -j, --json           print every result as JSON\n"
		"  -h, --help           this help\n"
		"  -V, --version        print the version\n\n"
		"Exit status: 0 success, 1 error answered by the target, 2 usage,\n"
		"3 cannot reach the target.\n\n");
	cmd_usage(f);
}

static int connect_unix(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int rc = -errno;

		if (rc == -EINTR)
			continue;
		close(fd);
		return rc;
	}
	return fd;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for @events on @fd until @deadline: 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left;
	int rc;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		rc = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

static int send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			int rc = wait_fd(fd, POLLOUT, deadline);

			if (rc)
				return rc;
			continue;
		}
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read until one complete JSON value has been parsed. */
static int recv_answer(int fd, int64_t deadline, struct json_object **out)
{
	struct json_tokener *tok = json_tokener_new();
	enum json_tokener_error err;
	struct json_object *obj = NULL;
	size_t total = 0;
	char buf[65536];
	int rc = 0;

	if (!tok)
		return -ENOMEM;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			rc = wait_fd(fd, POLLIN, deadline);
			if (rc)
				break;
			continue;
		}
		if (n <= 0) {
			rc = n < 0 ? -errno : -EPIPE;
			break;
		}
		total += (size_t)n;
		if (total > MAX_ANSWER) {
			rc = -EFBIG;
			break;
		}
		obj = json_tokener_parse_ex(tok, buf, (int)n);
		err = json_tokener_get_error(tok);
		if (obj)
			break;
		if (err != json_tokener_continue) {
			fprintf(stderr, "nvmft-rpc: the answer is not JSON: %s\n",
				json_tokener_error_desc(err));
			rc = -EPROTO;
			break;
		}
	}
	json_tokener_free(tok);
	*out = obj;
	return obj ? 0 : rc;
}

/* Write @text to @path through a temporary file and a rename, so that a
 * reader never sees half a configuration. */
static int write_file(const char *path, const char *text)
{
	size_t len = strlen(text), off = 0;
	char tmp[4096];
	int fd, rc = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >=
	    sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)n;
	}
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

static int print_result(const struct cmd_request *r, struct json_object *result,
			bool json)
{
	const char *text;
	int rc;

	if (r->style == OUT_RAW_STRING && json_object_is_type(result, json_type_string)) {
		text = json_object_get_string(result);
		if (r->out_file) {
			rc = write_file(r->out_file, text);
			if (rc) {
				fprintf(stderr, "nvmft-rpc: %s: %s\n", r->out_file,
					strerror(-rc));
				return EXIT_RPC_ERROR;
			}
			return EXIT_RPC_OK;
		}
		fputs(text, stdout);
		return EXIT_RPC_OK;
	}
	if (!json && r->style == OUT_DEFAULT) {
		if (json_object_is_type(result, json_type_boolean) &&
		    json_object_get_boolean(result))
			return EXIT_RPC_OK;
		if (json_object_is_type(result, json_type_string)) {
			printf("%s\n", json_object_get_string(result));
			return EXIT_RPC_OK;
		}
	}
	text = json_object_to_json_string_ext(result, JSON_C_TO_STRING_PRETTY |
						      JSON_C_TO_STRING_SPACED |
						      JSON_C_TO_STRING_NOSLASHESCAPE);
	printf("%s\n", text ? text : "null");
	return EXIT_RPC_OK;
}

static int handle_answer(const struct cmd_request *r, struct json_object *ans,
			 bool json)
{
	struct json_object *v, *err, *code, *msg;

	if (!json_object_is_type(ans, json_type_object) ||
	    !json_object_object_get_ex(ans, "id", &v) ||
	    json_object_get_int(v) != 1) {
		fprintf(stderr, "nvmft-rpc: unexpected answer: %s\n",
			json_object_to_json_string(ans));
		return EXIT_RPC_CONN;
	}
	if (json_object_object_get_ex(ans, "error", &err)) {
		json_object_object_get_ex(err, "code", &code);
		json_object_object_get_ex(err, "message", &msg);
		fprintf(stderr, "nvmft-rpc: %s: error %d: %s\n", r->method,
			json_object_get_int(code),
			msg ? json_object_get_string(msg) : "(no message)");
		return EXIT_RPC_ERROR;
	}
	if (!json_object_object_get_ex(ans, "result", &v)) {
		fprintf(stderr, "nvmft-rpc: %s: answer without result\n", r->method);
		return EXIT_RPC_CONN;
	}
	return print_result(r, v, json);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = getenv("NVMFT_RPC_SOCK") ? getenv("NVMFT_RPC_SOCK") :
			   DEFAULT_SOCK;
	struct json_object *req, *ans = NULL;
	struct cmd_request r;
	double timeout = 60;
	bool json = false;
	const char *text;
	int64_t deadline;
	int opt, fd, rc;
	char *end;

	/* "+": options end at the command; its own flags are its own. */
	while ((opt = getopt_long(argc, argv, "+s:t:jhV", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': sock = optarg; break;
		case 't':
			timeout = strtod(optarg, &end);
			if (*end || !(timeout > 0)) {
				fprintf(stderr, "nvmft-rpc: --timeout: \"%s\" is not a "
					"positive number of seconds\n", optarg);
				return EXIT_RPC_USAGE;
			}
			break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return EXIT_RPC_OK;
		case 'V': printf("nvmft-rpc %s\n", NVMFT_VERSION); return EXIT_RPC_OK;
		default: usage(stderr); return EXIT_RPC_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_RPC_USAGE;
	}
	rc = cmd_parse(argc - optind, argv + optind, &r);
	if (rc)
		return rc;

	req = json_object_new_object();
	json_object_object_add(req, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(req, "method", json_object_new_string(r.method));
	json_object_object_add(req, "id", json_object_new_int(1));
	if (r.params)
		json_object_object_add(req, "params", r.params);
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
						   JSON_C_TO_STRING_NOSLASHESCAPE);

	fd = connect_unix(sock);
	if (fd < 0) {
		fprintf(stderr, "nvmft-rpc: cannot connect to %s: %s (is nvmf-tgtd "
			"running? -s gives another socket)\n", sock, strerror(-fd));
		json_object_put(req);
		return EXIT_RPC_CONN;
	}
	deadline = now_ms() + (int64_t)(timeout * 1000);
	rc = send_all(fd, text, strlen(text), deadline);
	if (!rc)
		rc = recv_answer(fd, deadline, &ans);
	close(fd);
	json_object_put(req);
	if (rc) {
		fprintf(stderr, "nvmft-rpc: %s: %s\n", r.method,
			rc == -ETIMEDOUT ? "no answer in time" :
			rc == -EPIPE ? "the target closed the connection" :
			strerror(-rc));
		return EXIT_RPC_CONN;
	}
	rc = handle_answer(&r, ans, json);
	json_object_put(ans);
	return rc;
}
