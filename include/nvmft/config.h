/* SPDX-License-Identifier: MIT */
/**
 * DOC: configuration files
 *
 * A libconfig file describes a whole target: reactors, transports, bdevs,
 * subsystems with hosts, namespaces and listeners. nvmft_config_load()
 * parses and validates it completely (every error names file:line, the
 * setting and the value) before anything is created; nvmft_config_apply()
 * then builds it on a running target. See docs/configuration.md.
 */
#ifndef NVMFT_CONFIG_H
#define NVMFT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <nvmft/runtime.h>
#include <nvmft/nvmf.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The configuration `nvmf-tgtd` serves when it is given no file. */
#define NVMFT_DEFAULT_NQN "nqn.2026-11.io.nvmft:default"

struct nvmft_config;

/**
 * nvmft_config_load() - parse and validate a libconfig file
 * @path: file name.
 * @out: the parsed configuration (free with nvmft_config_free()).
 * @err: receives "file:line: reason" on failure.
 * @errlen: size of @err.
 *
 * Any thread. Return: 0, -EINVAL (syntax or validation error, see @err),
 * -ENOENT / -EACCES (file), -ENOMEM.
 */
int nvmft_config_load(const char *path, struct nvmft_config **out,
		      char *err, size_t errlen);

/**
 * nvmft_config_load_string() - same as nvmft_config_load() for text in
 * memory; @name stands for the file name in messages.
 */
int nvmft_config_load_string(const char *text, const char *name,
			     struct nvmft_config **out, char *err, size_t errlen);

/** nvmft_config_default_text() - the embedded default configuration */
const char *nvmft_config_default_text(void);

/** nvmft_config_free() - free a parsed configuration (NULL is a no-op) */
void nvmft_config_free(struct nvmft_config *cfg);

/**
 * nvmft_config_runtime_opts() - the reactor settings of @cfg
 * @cfg: configuration.
 * @opts: filled (starting from nvmft_runtime_opts_init() defaults).
 *
 * The strings in @opts point into @cfg.
 */
void nvmft_config_runtime_opts(const struct nvmft_config *cfg,
			       struct nvmft_runtime_opts *opts);

/**
 * nvmft_config_tgt_opts() - the options to create the target with
 * @cfg: configuration.
 * @opts: filled (nvmft_tgt_opts_init() defaults, then the "target" group:
 *	max_connections, max_subsystems).
 *
 * nvmft_config_apply() sets max_connections on a target created otherwise,
 * but fails if the file's max_subsystems differs from the target's (it
 * cannot change after creation). Any thread.
 */
void nvmft_config_tgt_opts(const struct nvmft_config *cfg,
			   struct nvmft_tgt_opts *opts);

/** nvmft_config_log_level() - the "log_level" setting (default NOTICE) */
enum nvmft_log_level nvmft_config_log_level(const struct nvmft_config *cfg);

/**
 * nvmft_config_apply() - create everything @cfg describes on @tgt
 * @cfg: configuration.
 * @tgt: target (its runtime started).
 * @err: receives the reason on failure ("subsystem nqn…: listener
 *	127.0.0.1:4420: Address already in use").
 * @errlen: size of @err.
 *
 * Off-reactor threads only: runs each step on the app reactor and waits.
 * On failure what was created stays on @tgt (destroy the tgt to undo).
 *
 * Return: 0 or the failing step's negative errno.
 */
int nvmft_config_apply(const struct nvmft_config *cfg, struct nvmft_tgt *tgt,
		       char *err, size_t errlen);

/**
 * nvmft_config_connect_hint() - the `nvme connect` command lines for the
 * subsystems and listeners of @cfg, one per line, written to @buf.
 * Return: bytes written (truncated to @len).
 */
size_t nvmft_config_connect_hint(const struct nvmft_config *cfg, char *buf,
				 size_t len);

/**
 * nvmft_parse_size() - parse "4096", "64K", "1G", "512M", "2T" (binary units)
 * Return: 0 or -EINVAL (bad syntax or overflow).
 */
int nvmft_parse_size(const char *s, uint64_t *out);

#ifdef __cplusplus
}
#endif
#endif
