/* SPDX-License-Identifier: MIT */
/**
 * DOC: NVMe-oF target — consumer API
 *
 * nvmft_tgt → transports (TCP) → per-reactor poll groups → qpairs, with
 * subsystems (NQN, hosts, namespaces, listeners) and a discovery subsystem.
 *
 * Threading: every function here runs on the app reactor (reactor 0 of the
 * tgt's runtime) unless stated otherwise. Off-reactor code (a daemon's main
 * thread, an embedder, a test) runs them there with nvmft_runtime_exec()
 * and waits for the asynchronous ones through their callback. Functions
 * that touch every reactor take a &nvmft_done_fn and finish there.
 *
 * Errors: negative errno.
 */
#ifndef NVMFT_NVMF_H
#define NVMFT_NVMF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <nvmft/runtime.h>
#include <nvmft/bdev.h>

#ifdef __cplusplus
extern "C" {
#endif

struct nvmft_tgt;
struct nvmft_subsystem;

#define NVMFT_DISCOVERY_NQN	"nqn.2014-08.org.nvmexpress.discovery"
#define NVMFT_NQN_MAX_LEN	223
#define NVMFT_SERIAL_MAX_LEN	20
#define NVMFT_MODEL_MAX_LEN	40

/**
 * typedef nvmft_done_fn - completion of an asynchronous management call
 * @arg: caller's argument.
 * @rc: 0 or negative errno.
 *
 * Runs on the app reactor.
 */
typedef void (*nvmft_done_fn)(void *arg, int rc);

/**
 * struct nvmft_listen_addr - a transport address
 * @trtype: "TCP".
 * @adrfam: "IPv4" or "IPv6".
 * @traddr: address literal ("127.0.0.1", "::1", "0.0.0.0").
 * @trsvcid: port as text ("4420").
 */
struct nvmft_listen_addr {
	char trtype[16];
	char adrfam[8];
	char traddr[64];
	char trsvcid[32];
};

/**
 * nvmft_listen_addr_init() - fill @a ("TCP", family guessed from @traddr)
 * Return: 0 or -EINVAL (bad address or port).
 */
int nvmft_listen_addr_init(struct nvmft_listen_addr *a, const char *traddr,
			   const char *trsvcid);

/**
 * struct nvmft_tgt_opts - options of a target
 * @name: name for logs.
 * @bdevs: bdev registry to take namespaces from; NULL = the tgt creates its
 *	own (see nvmft_tgt_get_bdevs()).
 * @max_subsystems: limit (default 1024, 1..65535).
 * @max_connections: connections accepted at once over all transports and
 *	listeners (default 4096, 1..%NVMFT_MAX_CONNECTIONS_LIMIT); more are
 *	closed at accept (logged at most once a second, with a count).
 */
struct nvmft_tgt_opts {
	const char *name;
	struct nvmft_bdev_registry *bdevs;
	uint32_t max_subsystems;
	uint32_t max_connections;
};

/* Highest max_connections (of the target or of a listener) accepted. */
#define NVMFT_MAX_CONNECTIONS_LIMIT	1000000u

void nvmft_tgt_opts_init(struct nvmft_tgt_opts *opts);

/**
 * nvmft_tgt_create() - create a target on runtime @rt
 * @rt: started runtime.
 * @opts: options or NULL.
 * @out: the target (with its discovery subsystem).
 *
 * App reactor. The tgt is an io_device: each reactor gets a poll group.
 *
 * Return: 0, -EINVAL, -ENOMEM.
 */
int nvmft_tgt_create(struct nvmft_runtime *rt, const struct nvmft_tgt_opts *opts,
		     struct nvmft_tgt **out);

/**
 * nvmft_tgt_destroy() - stop listening, disconnect every host (in-flight
 * I/O finishes or fails), free subsystems, transports and poll groups
 * @tgt: target.
 * @done: runs on the app reactor at the end (rc 0); may be NULL.
 * @arg: its argument.
 */
void nvmft_tgt_destroy(struct nvmft_tgt *tgt, nvmft_done_fn done, void *arg);

/**
 * nvmft_tgt_get_opts() - the options @tgt runs with (@out->name and
 * @out->bdevs point into the tgt). App reactor.
 */
void nvmft_tgt_get_opts(struct nvmft_tgt *tgt, struct nvmft_tgt_opts *out);

/**
 * nvmft_tgt_set_max_connections() - change the target-wide connection
 * limit; connections already accepted above a lowered limit stay.
 * App reactor. Return: 0 or -EINVAL (@max not 1..%NVMFT_MAX_CONNECTIONS_LIMIT).
 */
int nvmft_tgt_set_max_connections(struct nvmft_tgt *tgt, uint32_t max);

/**
 * struct nvmft_tgt_conn_stats - connection counters of a target
 * @nr_connections: connections accepted and not yet gone.
 * @refused_connections: connections closed at accept since the target was
 *	created: by its max_connections, by a listener's, or because it was
 *	shutting down or out of memory.
 */
struct nvmft_tgt_conn_stats {
	uint32_t nr_connections;
	uint64_t refused_connections;
};

/** nvmft_tgt_get_conn_stats() - fill @out. App reactor. */
void nvmft_tgt_get_conn_stats(struct nvmft_tgt *tgt,
			      struct nvmft_tgt_conn_stats *out);

struct nvmft_runtime *nvmft_tgt_get_runtime(struct nvmft_tgt *tgt);
struct nvmft_bdev_registry *nvmft_tgt_get_bdevs(struct nvmft_tgt *tgt);

/**
 * struct nvmft_transport_opts - transport options (TCP)
 * @max_queue_depth: I/O queue entries (sqsize + 1) accepted (default 128).
 * @max_aq_depth: admin queue entries (default 32).
 * @max_qpairs_per_ctrlr: admin + I/O queues per controller (default 128).
 * @in_capsule_data_size: I/O queue in-capsule data bytes (default 8192;
 *	admin and fabrics commands always accept 8192).
 * @max_io_size: largest transfer (MDTS), bytes (default 1 MiB).
 * @io_unit_size: data buffer size of the pool, and largest C2HData PDU
 *	(default 131072).
 * @num_shared_buffers: data buffers per poll group (default 512).
 * @max_r2t: R2Ts outstanding per command the host may ask for (default 1).
 * @c2h_success: send C2HData with the SUCCESS flag (no CapsuleResp) when
 *	the host did not disable it (default true).
 * @icreq_timeout_ms: close a connection that sent no ICReq by then, or
 *	that completed no Connect within as long after its ICReq
 *	(default 10000).
 * @backlog: listen backlog (default 512).
 * @zcopy_threshold: sends of at least this many bytes use SEND_ZC where
 *	the kernel has it (0 = never; default 0).
 * @max_conn_buf_share_pct: percent of its reactor's @num_shared_buffers one
 *	connection may hold at once (1..100, default 25), but never fewer
 *	buffers than one request of @max_io_size needs: a host that stops
 *	reading cannot take the buffers the other hosts need.
 */
struct nvmft_transport_opts {
	uint16_t max_queue_depth;
	uint16_t max_aq_depth;
	uint16_t max_qpairs_per_ctrlr;
	uint32_t in_capsule_data_size;
	uint32_t max_io_size;
	uint32_t io_unit_size;
	uint32_t num_shared_buffers;
	uint32_t max_r2t;
	bool c2h_success;
	uint32_t icreq_timeout_ms;
	uint32_t backlog;
	uint32_t zcopy_threshold;
	uint32_t max_conn_buf_share_pct;
};

/**
 * nvmft_transport_opts_init() - defaults for transport type @trtype ("TCP")
 * Return: 0 or -ENOTSUP (unknown type). Any thread.
 */
int nvmft_transport_opts_init(const char *trtype, struct nvmft_transport_opts *opts);

/**
 * nvmft_tgt_add_transport() - create a transport and a transport poll group
 * on every reactor
 * @tgt: target.
 * @trtype: "TCP".
 * @opts: options or NULL for the defaults.
 * @done: runs when every reactor has its poll group (or on failure).
 * @arg: its argument.
 *
 * Return: 0 (done will run), -EEXIST (a transport of that type exists),
 * -ENOTSUP, -EINVAL (bad option; logged with the field and value).
 */
int nvmft_tgt_add_transport(struct nvmft_tgt *tgt, const char *trtype,
			    const struct nvmft_transport_opts *opts,
			    nvmft_done_fn done, void *arg);

/**
 * nvmft_tgt_get_transport_opts() - the options of transport @trtype
 * Return: 0 or -ENOENT.
 */
int nvmft_tgt_get_transport_opts(struct nvmft_tgt *tgt, const char *trtype,
				 struct nvmft_transport_opts *opts);

/**
 * struct nvmft_subsystem_opts - options of a subsystem
 * @nqn: NVMe qualified name (validated).
 * @serial: serial number (default derived from the NQN).
 * @model: model number (default "nvmft").
 * @allow_any_host: accept any host NQN (else only added hosts).
 * @max_namespaces: highest NSID (default 32).
 * @min_cntlid: lowest controller ID handed out (default 1).
 * @max_cntlid: highest (default 0xffef).
 * @max_controllers: controllers at once (default 64).
 */
struct nvmft_subsystem_opts {
	const char *nqn;
	const char *serial;
	const char *model;
	bool allow_any_host;
	uint32_t max_namespaces;
	uint16_t min_cntlid;
	uint16_t max_cntlid;
	uint32_t max_controllers;
};

void nvmft_subsystem_opts_init(struct nvmft_subsystem_opts *opts);

/**
 * nvmft_nqn_valid() - is @nqn a valid NQN (NVMe base spec 4.5)?
 * Any thread.
 */
bool nvmft_nqn_valid(const char *nqn);

/**
 * nvmft_subsystem_create() - add a subsystem (inactive until started)
 * Return: 0, -EINVAL (bad NQN/serial/model), -EEXIST, -ENOSPC, -ENOMEM.
 */
int nvmft_subsystem_create(struct nvmft_tgt *tgt,
			   const struct nvmft_subsystem_opts *opts,
			   struct nvmft_subsystem **out);

/**
 * nvmft_subsystem_start() - make the subsystem reachable on every reactor
 * Return: 0 (done will run) or -EALREADY.
 */
int nvmft_subsystem_start(struct nvmft_subsystem *ss, nvmft_done_fn done,
			  void *arg);

/**
 * nvmft_subsystem_destroy() - disconnect its controllers and delete it
 * Return: 0 (done will run) or -EINVAL (the discovery subsystem).
 */
int nvmft_subsystem_destroy(struct nvmft_subsystem *ss, nvmft_done_fn done,
			    void *arg);

struct nvmft_subsystem *nvmft_subsystem_find(struct nvmft_tgt *tgt,
					     const char *nqn);
/** nvmft_subsystem_foreach() - every subsystem (the discovery one first) */
int nvmft_subsystem_foreach(struct nvmft_tgt *tgt,
			    int (*fn)(struct nvmft_subsystem *ss, void *arg),
			    void *arg);
const char *nvmft_subsystem_nqn(const struct nvmft_subsystem *ss);
bool nvmft_subsystem_is_discovery(const struct nvmft_subsystem *ss);

/** Hosts: -EEXIST / -ENOENT / -EINVAL (bad NQN). */
int nvmft_subsystem_add_host(struct nvmft_subsystem *ss, const char *hostnqn);
int nvmft_subsystem_remove_host(struct nvmft_subsystem *ss, const char *hostnqn);
void nvmft_subsystem_set_allow_any_host(struct nvmft_subsystem *ss, bool allow);
bool nvmft_subsystem_host_allowed(const struct nvmft_subsystem *ss,
				  const char *hostnqn);

/**
 * nvmft_subsystem_add_listener() - hosts may reach @ss through @addr; the
 * transport starts listening there if it is not already
 * Return: 0, -EEXIST, -ENOENT (no such transport), -EADDRINUSE, -EINVAL.
 */
int nvmft_subsystem_add_listener(struct nvmft_subsystem *ss,
				 const struct nvmft_listen_addr *addr);
int nvmft_subsystem_remove_listener(struct nvmft_subsystem *ss,
				    const struct nvmft_listen_addr *addr);

/**
 * struct nvmft_listen_opts - options of a listening address
 * @max_connections: connections this address accepts at once
 *	(0..%NVMFT_MAX_CONNECTIONS_LIMIT; 0, the default, = no limit of its
 *	own); more are closed at accept (logged at most once a second, with a
 *	count). The target's max_connections applies as well.
 *
 * The options belong to the address, not to a subsystem: every subsystem
 * listening there (and the discovery service) shares its limit and its
 * count. A later add of the same address with a non-zero @max_connections
 * replaces the limit (connections above a lowered limit stay); an add with
 * 0 leaves it as it is. The options go with the address when its last
 * user stops listening there.
 */
struct nvmft_listen_opts {
	uint32_t max_connections;
};

void nvmft_listen_opts_init(struct nvmft_listen_opts *opts);

/**
 * nvmft_subsystem_add_listener_ext() - nvmft_subsystem_add_listener()
 * with options (@opts NULL = defaults). App reactor.
 * Return: as nvmft_subsystem_add_listener(); -EINVAL also for an option
 * out of range.
 */
int nvmft_subsystem_add_listener_ext(struct nvmft_subsystem *ss,
				     const struct nvmft_listen_addr *addr,
				     const struct nvmft_listen_opts *opts);

/**
 * struct nvmft_listener_info - a listening address now
 * @max_connections: its limit (0 = none of its own).
 * @nr_connections: connections accepted there and not yet gone.
 * @refused_connections: connections accepted there and closed at once
 *	(by its limit or the target's) since it started listening.
 */
struct nvmft_listener_info {
	uint32_t max_connections;
	uint32_t nr_connections;
	uint64_t refused_connections;
};

/**
 * nvmft_tgt_get_listener_info() - fill @out for listening address @addr
 * App reactor. Return: 0 or -ENOENT (nobody listens there).
 */
int nvmft_tgt_get_listener_info(struct nvmft_tgt *tgt,
				const struct nvmft_listen_addr *addr,
				struct nvmft_listener_info *out);

/**
 * struct nvmft_ns_opts - a namespace
 * @bdev_name: bdev to expose.
 * @nsid: 0 = lowest free.
 * @uuid: 16 bytes or NULL (then the bdev's UUID).
 * @nguid: 16 bytes or NULL (then the UUID's bytes).
 */
struct nvmft_ns_opts {
	const char *bdev_name;
	uint32_t nsid;
	const uint8_t *uuid;
	const uint8_t *nguid;
};

/**
 * nvmft_subsystem_add_ns() - attach bdev @opts->bdev_name as a namespace
 * @ss: subsystem.
 * @opts: namespace options.
 * @nsid: the NSID given (out, may be NULL).
 * @done: runs once every reactor serves it (connected controllers get a
 *	Namespace Attribute Changed event); may be NULL.
 * @arg: its argument.
 *
 * Return: 0, -ENOENT (bdev), -EEXIST (nsid), -ENOSPC, -EBUSY (bdev in use
 * by another namespace), -EINVAL.
 */
int nvmft_subsystem_add_ns(struct nvmft_subsystem *ss,
			   const struct nvmft_ns_opts *opts, uint32_t *nsid,
			   nvmft_done_fn done, void *arg);

/**
 * nvmft_subsystem_remove_ns() - detach a namespace; in-flight I/O to it
 * finishes first. Return: 0 (done will run) or -ENOENT.
 */
int nvmft_subsystem_remove_ns(struct nvmft_subsystem *ss, uint32_t nsid,
			      nvmft_done_fn done, void *arg);

/**
 * nvmft_tgt_listen() - make a transport listen on @addr (without tying it
 * to a subsystem: the discovery subsystem is reachable there)
 * Return: 0, -EEXIST, -ENOENT (no such transport), -EADDRINUSE, -EINVAL.
 */
int nvmft_tgt_listen(struct nvmft_tgt *tgt, const struct nvmft_listen_addr *addr);
/**
 * nvmft_tgt_listen_ext() - nvmft_tgt_listen() with options (@opts NULL =
 * defaults; see struct nvmft_listen_opts). App reactor.
 */
int nvmft_tgt_listen_ext(struct nvmft_tgt *tgt, const struct nvmft_listen_addr *addr,
			 const struct nvmft_listen_opts *opts);
int nvmft_tgt_stop_listen(struct nvmft_tgt *tgt,
			  const struct nvmft_listen_addr *addr);

/**
 * nvmft_tgt_listen_port() - the port actually bound for @addr (useful with
 * trsvcid "0", an ephemeral port). Return: port or -ENOENT.
 */
int nvmft_tgt_listen_port(struct nvmft_tgt *tgt,
			  const struct nvmft_listen_addr *addr);

/* Referrals one target keeps at most (each is a 1 KiB discovery record). */
#define NVMFT_MAX_REFERRALS	256

/**
 * struct nvmft_referral - a discovery referral
 * @addr: where the referred service listens (trtype "TCP", adrfam
 *	matching traddr, traddr an IP address, trsvcid a port).
 * @subnqn: its NQN; "" means the well-known discovery NQN. A referral
 *	to the discovery NQN is listed as "referral to another discovery
 *	service" (SUBTYPE 1), one to any other NQN as an NVM subsystem
 *	(SUBTYPE 2), as SPDK does.
 * @secure_channel: hosts must reach it over a secure channel (TREQ).
 *
 * Every discovery controller of the target lists every referral, to
 * every host, after its own records. A referral is identified by @addr
 * and @subnqn.
 */
struct nvmft_referral {
	struct nvmft_listen_addr addr;
	char subnqn[NVMFT_NQN_MAX_LEN + 1];
	bool secure_channel;
};

/**
 * nvmft_tgt_add_referral() - list another discovery service (or a remote
 * subsystem) in the discovery log page
 * @tgt: target.
 * @ref: the referral (copied).
 *
 * App reactor. Connected discovery controllers get a Discovery Log Page
 * Change notice and GENCTR moves on — unless the referral was there
 * already with the same @secure_channel (then nothing changes).
 *
 * Return: 0; -EINVAL (trtype not TCP, traddr/trsvcid not an address and
 * port, adrfam not matching traddr, invalid @subnqn); -ENOSPC (already
 * %NVMFT_MAX_REFERRALS); -ENOMEM.
 */
int nvmft_tgt_add_referral(struct nvmft_tgt *tgt, const struct nvmft_referral *ref);

/**
 * nvmft_tgt_remove_referral() - stop listing a referral
 * @tgt: target.
 * @addr: its address (trtype, traddr, trsvcid compared; adrfam ignored).
 * @subnqn: its NQN; NULL or "" for the discovery NQN.
 *
 * App reactor. Notices and GENCTR as for nvmft_tgt_add_referral().
 * Return: 0 or -ENOENT.
 */
int nvmft_tgt_remove_referral(struct nvmft_tgt *tgt,
			      const struct nvmft_listen_addr *addr,
			      const char *subnqn);

/**
 * nvmft_tgt_foreach_referral() - every referral, in the order they were added
 * @tgt: target.
 * @fn: called with each (subnqn filled in: never ""); a non-zero return
 *	stops the walk and is returned. It must not add or remove referrals.
 * @arg: its argument.
 *
 * App reactor. Return: 0 or what @fn returned.
 */
int nvmft_tgt_foreach_referral(struct nvmft_tgt *tgt,
			       int (*fn)(const struct nvmft_referral *ref, void *arg),
			       void *arg);

#ifdef __cplusplus
}
#endif
#endif
