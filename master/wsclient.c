/* SPDX-License-Identifier: MIT */
/*
 * A small blocking WebSocket client for the command line: connect with a
 * deadline, the RFC 6455 handshake (accept key checked), masked text
 * frames out, whole messages in (pings answered, fragments joined).
 * The CLI is one request at a time; it needs no event loop.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/random.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/sha.h>

#include <libwebsockets.h>

#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "master.h"

#define WSC_MAX_MESSAGE (256 * 1024 * 1024)
#define WSC_GUID        "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct wsclient {
	int fd;
	char *rx; /* a partial message */
	size_t rxlen;
};

static int
wsc_wait(int fd, short ev, int64_t deadline_ms)
{
	struct pollfd p = { fd, ev, 0 };
	int64_t left;
	int r;

	for (;;) {
		left =
		    deadline_ms < 0 ? -1 : deadline_ms - (int64_t)fnwm_now_ms();
		if (deadline_ms >= 0 && left <= 0) {
			errno = ETIMEDOUT;
			return (-1);
		}
		r = poll(&p, 1, (int)(left > 60000 || left < 0 ? 60000 : left));
		if (r > 0)
			return (0);
		if (r == -1 && errno != EINTR)
			return (-1);
		if (r == 0 && deadline_ms < 0)
			continue;
	}
}

static int
wsc_write_all(int fd, const void *buf, size_t len, int64_t deadline)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR) {
				if (wsc_wait(fd, POLLOUT, deadline) == -1)
					return (-1);
				continue;
			}
			return (-1);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

static int
wsc_read_exact(int fd, void *buf, size_t len, int64_t deadline)
{
	char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = recv(fd, p, len, 0);
		if (n == 0) {
			errno = ECONNRESET;
			return (-1);
		}
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR) {
				if (wsc_wait(fd, POLLIN, deadline) == -1)
					return (-1);
				continue;
			}
			return (-1);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/* TCP connect with a deadline, trying every address of host. */
static int
wsc_connect_tcp(const char *host, int port, int64_t deadline, char **cause)
{
	struct addrinfo hints, *res, *ai;
	char portstr[16];
	socklen_t len;
	int fd = -1, rc, err = ECONNREFUSED;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof portstr, "%d", port);
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		*cause = xasprintf("%s: %s", host, gai_strerror(rc));
		return (-1);
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol);
		if (fd == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS &&
		    wsc_wait(fd, POLLOUT, deadline) == 0) {
			len = sizeof err;
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) ==
			        0 &&
			    err == 0)
				break;
		} else
			err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		*cause = xasprintf("%s port %d: %s", host, port, strerror(err));
	return (fd);
}

struct wsclient *
wsc_connect(const char *host, int port, int timeout_ms, char **cause)
{
	int64_t deadline = (int64_t)fnwm_now_ms() + timeout_ms;
	unsigned char rnd[16], digest[SHA_DIGEST_LENGTH];
	char key[32], want[64], req[512], resp[4096], *accept, *p;
	struct wsclient *c;
	size_t got = 0;
	ssize_t n;
	int fd, len;

	fd = wsc_connect_tcp(host, port, deadline, cause);
	if (fd == -1)
		return (NULL);
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		fatal("getrandom");
	lws_b64_encode_string((const char *)rnd, sizeof rnd, key, sizeof key);
	len = snprintf(req, sizeof req,
	    "GET / HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n",
	    host, port, key);
	if (wsc_write_all(fd, req, (size_t)len, deadline) == -1)
		goto io;
	/* Read the response head byte by byte: frames may follow at once. */
	while (got < sizeof resp - 1) {
		n = recv(fd, resp + got, 1, 0);
		if (n == 1) {
			got++;
			if (got >= 4 &&
			    memcmp(resp + got - 4, "\r\n\r\n", 4) == 0)
				break;
			continue;
		}
		if (n == 0) {
			errno = ECONNRESET;
			goto io;
		}
		if (errno != EAGAIN && errno != EINTR)
			goto io;
		if (wsc_wait(fd, POLLIN, deadline) == -1)
			goto io;
	}
	resp[got] = '\0';
	if (strncmp(resp, "HTTP/1.1 101", 12) != 0) {
		p = strstr(resp, "\r\n");
		if (p != NULL)
			*p = '\0';
		*cause = xasprintf("not a WebSocket server (\"%.60s\")", resp);
		close(fd);
		return (NULL);
	}
	snprintf(req, sizeof req, "%s%s", key, WSC_GUID);
	SHA1((const unsigned char *)req, strlen(req), digest);
	lws_b64_encode_string((const char *)digest, sizeof digest, want,
	    sizeof want);
	accept = strcasestr(resp, "\r\nSec-WebSocket-Accept:");
	if (accept == NULL || strstr(accept + 23, want) == NULL) {
		*cause = xstrdup("bad WebSocket handshake answer");
		close(fd);
		return (NULL);
	}
	c = xcalloc(1, sizeof *c);
	c->fd = fd;
	return (c);
io:
	*cause = xasprintf("%s port %d: %s", host, port,
	    errno == ETIMEDOUT ? "no answer in time" : strerror(errno));
	close(fd);
	return (NULL);
}

static int
wsc_send_frame(struct wsclient *c, int opcode, const void *data, size_t len)
{
	unsigned char hdr[14], mask[4];
	unsigned char *buf;
	size_t h = 0, i;
	int rc;

	if (getrandom(mask, sizeof mask, 0) != (ssize_t)sizeof mask)
		fatal("getrandom");
	hdr[h++] = (unsigned char)(0x80 | opcode);
	if (len < 126)
		hdr[h++] = (unsigned char)(0x80 | len);
	else if (len < 65536) {
		hdr[h++] = 0x80 | 126;
		hdr[h++] = (unsigned char)(len >> 8);
		hdr[h++] = (unsigned char)len;
	} else {
		hdr[h++] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			hdr[h++] =
			    (unsigned char)((uint64_t)len >> (56 - 8 * i));
	}
	memcpy(hdr + h, mask, 4);
	h += 4;
	buf = xmalloc(h + len);
	memcpy(buf, hdr, h);
	for (i = 0; i < len; i++)
		buf[h + i] = ((const unsigned char *)data)[i] ^ mask[i % 4];
	rc = wsc_write_all(c->fd, buf, h + len, (int64_t)fnwm_now_ms() + 10000);
	free(buf);
	return (rc);
}

int
wsc_send(struct wsclient *c, const char *text)
{
	return (wsc_send_frame(c, 0x1, text, strlen(text)));
}

int
wsc_recv(struct wsclient *c, int timeout_ms, char **out, size_t *outlen)
{
	int64_t deadline =
	    timeout_ms < 0 ? -1 : (int64_t)fnwm_now_ms() + timeout_ms;
	unsigned char h[2], ext[8], *payload;
	uint64_t len;
	int fin, op, i;

	for (;;) {
		if (wsc_read_exact(c->fd, h, 2, deadline) == -1)
			return (-1);
		fin = h[0] & 0x80;
		op = h[0] & 0x0f;
		len = h[1] & 0x7f;
		if (h[1] & 0x80) { /* servers never mask */
			errno = EPROTO;
			return (-1);
		}
		if (len == 126) {
			if (wsc_read_exact(c->fd, ext, 2, deadline) == -1)
				return (-1);
			len = ((uint64_t)ext[0] << 8) | ext[1];
		} else if (len == 127) {
			if (wsc_read_exact(c->fd, ext, 8, deadline) == -1)
				return (-1);
			for (len = 0, i = 0; i < 8; i++)
				len = (len << 8) | ext[i];
		}
		if (len > WSC_MAX_MESSAGE || c->rxlen + len > WSC_MAX_MESSAGE) {
			errno = EMSGSIZE;
			return (-1);
		}
		payload = xmalloc((size_t)len + 1);
		if (wsc_read_exact(c->fd, payload, (size_t)len, deadline) ==
		    -1) {
			free(payload);
			return (-1);
		}
		switch (op) {
		case 0x9: /* ping */
			(void)wsc_send_frame(c, 0xA, payload, (size_t)len);
			free(payload);
			continue;
		case 0x8: /* close */
			(void)wsc_send_frame(c, 0x8, payload, len >= 2 ? 2 : 0);
			free(payload);
			errno = ECONNRESET;
			return (-1);
		case 0x1:
		case 0x2:
		case 0x0:
			c->rx =
			    xreallocarray(c->rx, c->rxlen + (size_t)len + 1, 1);
			memcpy(c->rx + c->rxlen, payload, (size_t)len);
			c->rxlen += (size_t)len;
			free(payload);
			if (!fin)
				continue;
			c->rx[c->rxlen] = '\0';
			*out = c->rx;
			*outlen = c->rxlen;
			c->rx = NULL;
			c->rxlen = 0;
			return (0);
		default:
			free(payload);
			continue;
		}
	}
}

void
wsc_close(struct wsclient *c)
{
	if (c == NULL)
		return;
	(void)wsc_send_frame(c, 0x8, "\x03\xe8", 2);
	close(c->fd);
	free(c->rx);
	free(c);
}
