/* SPDX-License-Identifier: MIT */
/*
 * nvmft-rpc: command-line client of the nvmf-tgtd JSON-RPC socket.
 *   main.c      options, connection, request/answer, output, exit codes
 *   commands.c  the subcommands: SPDK rpc.py-like arguments → params
 */
#ifndef NVMFT_RPC_CLIENT_H
#define NVMFT_RPC_CLIENT_H

#include <stdbool.h>
#include <stdio.h>
#include <json-c/json.h>

/* Exit codes. */
#define EXIT_RPC_OK		0
#define EXIT_RPC_ERROR		1	/* the server answered with an error */
#define EXIT_RPC_USAGE		2	/* bad command line */
#define EXIT_RPC_CONN		3	/* cannot connect, or the connection broke */

/* How the result is printed. */
enum out_style {
	OUT_JSON = 0,		/* pretty JSON */
	OUT_DEFAULT,		/* rpc.py-like: strings raw, true silent, else JSON */
	OUT_RAW_STRING,		/* a string result printed as is (save_config) */
};

/*
 * A parsed command line: the method and its params (NULL: none), how to
 * print the answer, and where (NULL: stdout; written atomically).
 */
struct cmd_request {
	const char *method;
	struct json_object *params;
	enum out_style style;
	const char *out_file;
};

/*
 * Build the request of subcommand argv[0] (argc >= 1). Unknown names are
 * sent as they are, with an optional JSON params argument.
 * Returns 0, or EXIT_RPC_USAGE after printing the reason and the usage.
 */
int cmd_parse(int argc, char **argv, struct cmd_request *out);

/* Print the list of subcommands with their arguments. */
void cmd_usage(FILE *f);

#endif
