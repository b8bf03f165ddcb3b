/* SPDX-License-Identifier: MIT */
/*
 * Service manager notification (systemd's sd_notify protocol) without
 * libsystemd: the protocol is one datagram of "KEY=VALUE\n" lines sent
 * to the AF_UNIX socket named by $NOTIFY_SOCKET, a path or, with a
 * leading '@', an abstract name (the kernel attaches our credentials for
 * the receiver). systemd calls the protocol, not its C wrapper, the
 * stable interface and advises reimplementing it rather than linking
 * libsystemd for it (sd_notify(3), NOTES): no new dependency.
 */
#ifndef NVMFT_CMD_TGTD_NOTIFY_H
#define NVMFT_CMD_TGTD_NOTIFY_H

/*
 * tgtd_notify() - send @state ("READY=1", "STOPPING=1\nSTATUS=...") to
 * the service manager
 *
 * Return: 1 sent; 0 not run by a service manager that asked for it
 * (NOTIFY_SOCKET unset or empty); -EAFNOSUPPORT for an address kind we do
 * not speak (vsock), -EINVAL for a name too long, or -errno of
 * socket()/sendto().
 */
int tgtd_notify(const char *state);

#endif
