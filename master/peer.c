/* SPDX-License-Identifier: MIT */
/*
 * Who is on the other end of a loopback TCP connection: the kernel records
 * the uid of the process that made each socket, and both ends of a loopback
 * connection are sockets of this host. One sock_diag request names the
 * client's socket by its 4-tuple; /proc/net/tcp{,6} is the fallback where
 * netlink is not allowed (it scans every TCP socket of the host).
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "master.h"

/* The kernel answers at once; this only bounds a kernel gone wrong. */
#define PEER_NETLINK_TIMEOUT_MS 200

static int peer_nl_fd = -1;
static int peer_nl_broken; /* netlink refused once: use /proc from now on */

/* An address of the host itself: 127/8, ::1, or ::ffff:127/104. */
static int
peer_addr_loopback(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET)
		return ((ntohl(sin->sin_addr.s_addr) >> 24) == 127);
	if (ss->ss_family != AF_INET6)
		return (0);
	if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
		return (1);
	return (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
	    sin6->sin6_addr.s6_addr[12] == 127);
}

/*
 * A v4-mapped address on an IPv6 socket belongs to an IPv4 client socket:
 * the kernel files that one under AF_INET.
 */
static void
peer_unmap(struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in sin;

	if (ss->ss_family != AF_INET6 ||
	    !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		return;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = sin6->sin6_port;
	memcpy(&sin.sin_addr, sin6->sin6_addr.s6_addr + 12, 4);
	memset(ss, 0, sizeof *ss);
	memcpy(ss, &sin, sizeof sin);
}

static int
peer_nl_open(void)
{
	struct timeval tv = { 0, PEER_NETLINK_TIMEOUT_MS * 1000 };

	if (peer_nl_fd != -1)
		return (0);
	peer_nl_fd =
	    socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (peer_nl_fd == -1)
		return (-1);
	(void)setsockopt(peer_nl_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return (0);
}

static void
peer_nl_reset(void)
{
	if (peer_nl_fd != -1)
		close(peer_nl_fd);
	peer_nl_fd = -1;
}

/* Sends the question for the TCP socket client -> server; 0 or -1. */
static int
peer_nl_ask(const struct sockaddr_storage *client,
    const struct sockaddr_storage *server, uint32_t seq)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	const struct sockaddr_in *c4 = (const struct sockaddr_in *)client;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)server;
	const struct sockaddr_in6 *c6 = (const struct sockaddr_in6 *)client;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)server;

	memset(&req, 0, sizeof req);
	req.nlh.nlmsg_len = sizeof req;
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;
	req.nlh.nlmsg_seq = seq;
	req.r.sdiag_family = (uint8_t)client->ss_family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0U;
	req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (client->ss_family == AF_INET) {
		req.r.id.idiag_sport = c4->sin_port;
		req.r.id.idiag_dport = s4->sin_port;
		memcpy(req.r.id.idiag_src, &c4->sin_addr, 4);
		memcpy(req.r.id.idiag_dst, &s4->sin_addr, 4);
	} else {
		req.r.id.idiag_sport = c6->sin6_port;
		req.r.id.idiag_dport = s6->sin6_port;
		memcpy(req.r.id.idiag_src, &c6->sin6_addr, 16);
		memcpy(req.r.id.idiag_dst, &s6->sin6_addr, 16);
	}
	if (sendto(peer_nl_fd, &req, sizeof req, 0, (struct sockaddr *)&kernel,
	        sizeof kernel) != (ssize_t)sizeof req)
		return (-1);
	return (0);
}

/* What one answer h says: 1 with *uid, 0 (proves nothing) or -1. */
static int
peer_nl_answer(const struct nlmsghdr *h, uid_t *uid)
{
	const struct inet_diag_msg *msg;

	if (h->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(h);

		if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
			return (-1);
		/* ENOENT: the client is gone already. */
		return (e->error == -ENOENT ? 0 : -1);
	}
	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    h->nlmsg_len < NLMSG_LENGTH(sizeof *msg))
		return (-1);
	msg = NLMSG_DATA(h);
	/*
	 * A socket no process holds any more (closed, or a time-wait entry,
	 * reported as uid 0) proves nothing about who made it.
	 */
	if (msg->idiag_inode == 0)
		return (0);
	*uid = msg->idiag_uid;
	return (1);
}

/*
 * Asks sock_diag for the socket whose local end is client and remote end is
 * server. 1 found (uid set), 0 no such socket, -1 netlink unusable.
 */
static int
peer_uid_netlink(const struct sockaddr_storage *client,
    const struct sockaddr_storage *server, uid_t *uid)
{
	union {
		struct nlmsghdr nlh;
		char buf[8192];
	} resp;
	struct nlmsghdr *h;
	static uint32_t seq;
	ssize_t n;
	unsigned int len; /* NLMSG_OK compares it with a __u32 */

	if (peer_nl_open() == -1)
		return (-1);
	if (peer_nl_ask(client, server, ++seq) == -1) {
		peer_nl_reset();
		return (-1);
	}
	for (;;) {
		n = recv(peer_nl_fd, &resp, sizeof resp, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* A lost answer would desynchronise the socket. */
			peer_nl_reset();
			return (-1);
		}
		len = (unsigned int)n;
		for (h = &resp.nlh; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != seq)
				continue; /* a late answer to an earlier ask */
			return (peer_nl_answer(h, uid));
		}
	}
}

/* /proc/net/tcp{,6}: "sl local rem st tx:rx tr:when retr uid tmo inode". */
static int
peer_uid_proc(const struct sockaddr_storage *client,
    const struct sockaddr_storage *server, uid_t *uid)
{
	const struct sockaddr_in *c4 = (const struct sockaddr_in *)client;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)server;
	const struct sockaddr_in6 *c6 = (const struct sockaddr_in6 *)client;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)server;
	int v6 = client->ss_family == AF_INET6;
	uint32_t la[4], ra[4], want_l[4], want_r[4];
	unsigned lport, rport, st, u, want_lp, want_rp;
	unsigned long inode;
	char line[512];
	FILE *f;
	int found = 0, i, words = v6 ? 4 : 1;

	if (v6) {
		memcpy(want_l, &c6->sin6_addr, 16);
		memcpy(want_r, &s6->sin6_addr, 16);
		want_lp = ntohs(c6->sin6_port);
		want_rp = ntohs(s6->sin6_port);
	} else {
		memcpy(want_l, &c4->sin_addr, 4);
		memcpy(want_r, &s4->sin_addr, 4);
		want_lp = ntohs(c4->sin_port);
		want_rp = ntohs(s4->sin_port);
	}
	f = fopen(v6 ? "/proc/net/tcp6" : "/proc/net/tcp", "re");
	if (f == NULL)
		return (-1);
	while (!found && fgets(line, sizeof line, f) != NULL) {
		int ok;

		if (v6)
			ok = sscanf(line,
			         " %*d: %8x%8x%8x%8x:%x %8x%8x%8x%8x:%x %x "
			         "%*x:%*x %*x:%*x %*x %u %*d %lu",
			         &la[0], &la[1], &la[2], &la[3], &lport, &ra[0],
			         &ra[1], &ra[2], &ra[3], &rport, &st, &u,
			         &inode) == 13;
		else
			ok = sscanf(line,
			         " %*d: %8x:%x %8x:%x %x %*x:%*x %*x:%*x %*x "
			         "%u %*d %lu",
			         &la[0], &lport, &ra[0], &rport, &st, &u,
			         &inode) == 7;
		if (!ok || lport != want_lp || rport != want_rp)
			continue;
		for (i = 0; i < words; i++)
			if (la[i] != want_l[i] || ra[i] != want_r[i])
				break;
		if (i < words)
			continue;
		found = 1;
		if (inode == 0)
			break; /* see peer_uid_netlink */
		*uid = (uid_t)u;
		found = 2;
	}
	fclose(f);
	return (found == 2 ? 1 : 0);
}

enum peer_kind
peer_identify(int fd, uid_t *uid)
{
	struct sockaddr_storage client, server;
	socklen_t clen = sizeof client, slen = sizeof server;
	int r;

	if (getpeername(fd, (struct sockaddr *)&client, &clen) == -1 ||
	    getsockname(fd, (struct sockaddr *)&server, &slen) == -1)
		return (PEER_REMOTE); /* gone, or not IP: trust nothing */
	if (!peer_addr_loopback(&client) || !peer_addr_loopback(&server))
		return (PEER_REMOTE);
	peer_unmap(&client);
	peer_unmap(&server);
	if (client.ss_family != server.ss_family)
		return (PEER_LOCAL);
	r = peer_nl_broken ? -1 : peer_uid_netlink(&client, &server, uid);
	if (r == -1) {
		if (!peer_nl_broken)
			log_info("sock_diag netlink unavailable; peers are "
			         "looked up in /proc/net/tcp");
		peer_nl_broken = 1;
		r = peer_uid_proc(&client, &server, uid);
	}
	return (r == 1 ? PEER_LOCAL_UID : PEER_LOCAL);
}

void
peer_close(void)
{
	peer_nl_reset();
}
