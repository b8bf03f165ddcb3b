/* SPDX-License-Identifier: MIT */
/*
 * Read-only views of the core's objects for management code (the JSON-RPC
 * listings, save-config, statistics), so that it needs none of the core's
 * structures (nvmf_internal.h). Every view is a snapshot copied out or a
 * callback walk; pointers in a view are valid during the call only.
 *
 * Threading: the app reactor, except the poll group views, which are
 * taken on each reactor by nvmf_info_visit_poll_groups().
 */
#ifndef NVMFT_LIB_NVMF_INFO_H
#define NVMFT_LIB_NVMF_INFO_H

#include <stdbool.h>
#include <stdint.h>
#include <nvmft/nvmf.h>
#include "nvmf/lat_hist.h"
#include "nvmf/transport.h"

/* --- target ---------------------------------------------------------------- */

const char *nvmf_info_tgt_name(const struct nvmft_tgt *tgt);

/* Every transport (creation order) with its options; stops when @fn
 * returns non-zero and returns that. */
int nvmf_info_foreach_transport(struct nvmft_tgt *tgt,
				int (*fn)(const char *trtype,
					  const struct nvmft_transport_opts *opts,
					  void *arg),
				void *arg);

/* Every address a transport listens on. @explicit: held by
 * nvmft_tgt_listen() (a discovery listener), besides any subsystem. */
int nvmf_info_foreach_tgt_listener(struct nvmft_tgt *tgt,
				   int (*fn)(const struct nvmft_listen_addr *addr,
					     bool explicit, void *arg),
				   void *arg);

/* --- subsystems ------------------------------------------------------------- */

struct nvmf_info_ss {
	const char *nqn;
	const char *serial;
	const char *model;
	bool discovery;
	bool allow_any_host;
	bool started;			/* start requested (the RPC starts at once) */
	uint32_t max_namespaces;
	uint32_t nr_namespaces;
	uint16_t min_cntlid;
	uint16_t max_cntlid;
	uint32_t max_controllers;
	uint32_t nr_controllers;
};

void nvmf_info_subsystem(const struct nvmft_subsystem *ss,
			 struct nvmf_info_ss *out);

int nvmf_info_foreach_host(const struct nvmft_subsystem *ss,
			   int (*fn)(const char *hostnqn, void *arg), void *arg);
int nvmf_info_foreach_listener(const struct nvmft_subsystem *ss,
			       int (*fn)(const struct nvmft_listen_addr *addr,
					 void *arg),
			       void *arg);

struct nvmf_info_ns {
	uint32_t nsid;
	const char *bdev_name;
	struct nvmft_bdev *bdev;
	uint8_t uuid[16];
	uint8_t nguid[16];
	uint32_t anagrpid;
	bool removing;			/* being removed (remove_ns, hot remove) */
};

/* Namespaces in NSID order. */
int nvmf_info_foreach_ns(const struct nvmft_subsystem *ss,
			 int (*fn)(const struct nvmf_info_ns *ns, void *arg),
			 void *arg);

struct nvmf_info_ctrlr {
	uint16_t cntlid;
	const char *hostnqn;
	uint8_t hostid[16];
	uint32_t nr_io_qpairs;		/* sampled: it changes on another reactor */
	uint32_t kato_ms;
	unsigned int thread;		/* reactor of its admin queue */
};

int nvmf_info_foreach_ctrlr(const struct nvmft_subsystem *ss,
			    int (*fn)(const struct nvmf_info_ctrlr *c, void *arg),
			    void *arg);

/* --- poll groups (one per reactor) ------------------------------------------ */

struct nvmf_info_pg {
	unsigned int thread;
	uint32_t nr_qpairs;
	uint32_t nr_admin_qpairs;	/* connected admin queues now */
	uint32_t nr_io_qpairs;		/* connected I/O queues now */
	uint64_t admin_cmds;
	uint64_t io_cmds;
	uint64_t qpairs_created;
	uint64_t qpairs_destroyed;
	uint64_t errors;
	uint64_t pending_io;		/* namespace I/O in flight */
	/* I/O command latencies (lat_hist.h); valid during the call */
	const struct nvmf_lat_hist *io_lat;
};

struct nvmf_info_qpair {
	const char *subnqn;		/* NULL before its Connect */
	uint16_t cntlid;
	uint16_t qid;
	uint16_t sq_size;
	const char *state;		/* "uninitialized", "active", "deactivating" */
	const char *trtype;
	uint32_t outstanding;		/* requests the core holds */
	int addrs_rc;			/* 0: addrs valid */
	struct nvmf_qpair_addrs addrs;
	/* counters since the connection came */
	uint64_t cmds;			/* commands completed (any kind) */
	uint64_t errors;		/* of those, with an error status */
	uint64_t read_cmds;		/* successful Read and Compare */
	uint64_t write_cmds;		/* successful Write */
	uint64_t bytes_read;		/* data of those */
	uint64_t bytes_written;
	/* for transport-specific views, on its reactor during the call */
	struct nvmf_qpair *qpair;
};

/*
 * Run @fn on reactor 0, 1, ... N-1 of @tgt's runtime, each after the
 * previous one (so @fn may build one shared result without locks), with
 * that reactor's poll group (NULL where it has none); then @done(@arg) on
 * the calling reactor. App reactor. Return: 0 or -ENOMEM / a send error
 * (then nothing runs).
 */
int nvmf_info_visit_poll_groups(struct nvmft_tgt *tgt,
				void (*fn)(struct nvmf_poll_group *pg, void *arg),
				void *arg, nvmft_msg_fn done);

/* On the poll group's reactor (from the @fn above). */
void nvmf_info_poll_group(struct nvmf_poll_group *pg, struct nvmf_info_pg *out);
int nvmf_info_foreach_qpair(struct nvmf_poll_group *pg,
			    int (*fn)(const struct nvmf_info_qpair *q, void *arg),
			    void *arg);
/* The transport poll groups of @pg (for transport statistics). */
int nvmf_info_foreach_tpg(struct nvmf_poll_group *pg,
			  int (*fn)(struct nvmf_transport_poll_group *tpg,
				    void *arg),
			  void *arg);

#endif
