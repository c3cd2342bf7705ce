/* SPDX-License-Identifier: MIT */
/*
 * A small blocking WebSocket client for the command line: connect with a
 * deadline, TLS when asked (the certificate verified against the system's
 * CAs or a given file, and against the host dialled), the RFC 6455
 * handshake (accept key checked, a token sent as a Bearer header), masked
 * text frames out, whole messages in (pings answered, fragments joined).
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

#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>

#include <libwebsockets.h>

#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "wsclient.h"

#define WSC_MAX_MESSAGE (256 * 1024 * 1024)
#define WSC_GUID        "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct wsclient {
	int fd;
	SSL_CTX *ctx; /* NULL: plain ws:// */
	SSL *ssl;
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

/*
 * One TLS call's outcome as a socket call's: >0 done, 0 closed, -1 with
 * errno (EAGAIN and *want the poll event to wait for).
 */
static ssize_t
wsc_tls_result(struct wsclient *c, int n, short *want)
{
	switch (SSL_get_error(c->ssl, n)) {
	case SSL_ERROR_NONE:
		return (n);
	case SSL_ERROR_WANT_READ:
		*want = POLLIN;
		errno = EAGAIN;
		return (-1);
	case SSL_ERROR_WANT_WRITE:
		*want = POLLOUT;
		errno = EAGAIN;
		return (-1);
	case SSL_ERROR_ZERO_RETURN:
		return (0);
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (errno == 0)
			errno = ECONNRESET;
		return (-1);
	default:
		ERR_clear_error();
		errno = EPROTO;
		return (-1);
	}
}

static ssize_t
wsc_io_send(struct wsclient *c, const void *buf, size_t len, short *want)
{
	*want = POLLOUT;
	if (c->ssl == NULL)
		return (send(c->fd, buf, len, MSG_NOSIGNAL));
	errno = 0;
	return (wsc_tls_result(c,
	    SSL_write(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len),
	    want));
}

static ssize_t
wsc_io_recv(struct wsclient *c, void *buf, size_t len, short *want)
{
	*want = POLLIN;
	if (c->ssl == NULL)
		return (recv(c->fd, buf, len, 0));
	errno = 0;
	return (wsc_tls_result(c,
	    SSL_read(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len),
	    want));
}

static int
wsc_write_all(struct wsclient *c, const void *buf, size_t len, int64_t deadline)
{
	const char *p = buf;
	ssize_t n;
	short want;

	while (len > 0) {
		n = wsc_io_send(c, p, len, &want);
		if (n <= 0) {
			if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
				if (wsc_wait(c->fd, want, deadline) == -1)
					return (-1);
				continue;
			}
			if (n == 0)
				errno = ECONNRESET;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

static int
wsc_read_exact(struct wsclient *c, void *buf, size_t len, int64_t deadline)
{
	char *p = buf;
	ssize_t n;
	short want;

	while (len > 0) {
		n = wsc_io_recv(c, p, len, &want);
		if (n == 0) {
			errno = ECONNRESET;
			return (-1);
		}
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR) {
				if (wsc_wait(c->fd, want, deadline) == -1)
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

static void
wsc_free(struct wsclient *c)
{
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->ctx != NULL)
		SSL_CTX_free(c->ctx);
	if (c->fd != -1)
		close(c->fd);
	free(c->rx);
	free(c);
}

/* The TLS handshake, the certificate checked against host. */
static int
wsc_tls_start(struct wsclient *c, const char *host, const char *cacert,
    int64_t deadline, char **cause)
{
	struct in6_addr a6;
	struct in_addr a4;
	char err[256];
	long vr;
	short want;
	int n;

	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL) {
		*cause = xstrdup("TLS: cannot make a context");
		return (-1);
	}
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	if (cacert != NULL
	        ? SSL_CTX_load_verify_locations(c->ctx, cacert, NULL) != 1
	        : SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
		ERR_error_string_n(ERR_get_error(), err, sizeof err);
		*cause = xasprintf("TLS: cannot load CA certificates%s%s: %s",
		    cacert != NULL ? " from " : "",
		    cacert != NULL ? cacert : "", err);
		return (-1);
	}
	c->ssl = SSL_new(c->ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		*cause = xstrdup("TLS: cannot make a connection");
		return (-1);
	}
	if (inet_pton(AF_INET, host, &a4) == 1 ||
	    inet_pton(AF_INET6, host, &a6) == 1)
		n = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host);
	else
		n = SSL_set1_host(c->ssl, host) &&
		    SSL_set_tlsext_host_name(c->ssl, host);
	if (n != 1) {
		*cause =
		    xasprintf("TLS: cannot check certificates for %s", host);
		return (-1);
	}
	for (;;) {
		errno = 0;
		n = (int)wsc_tls_result(c, SSL_connect(c->ssl), &want);
		if (n > 0)
			return (0);
		if (n == -1 && errno == EAGAIN) {
			if (wsc_wait(c->fd, want, deadline) == -1)
				break;
			continue;
		}
		vr = SSL_get_verify_result(c->ssl);
		if (vr != X509_V_OK)
			*cause = xasprintf("TLS: the certificate of %s is not "
			                   "trusted: %s%s",
			    host, X509_verify_cert_error_string(vr),
			    cacert == NULL ? " (--cacert FILE names a CA or "
			                     "self-signed certificate)"
			                   : "");
		else
			*cause = xasprintf("TLS handshake with %s failed (is "
			                   "it a TLS port?)",
			    host);
		return (-1);
	}
	*cause = xasprintf("TLS handshake with %s: %s", host,
	    errno == ETIMEDOUT ? "no answer in time" : strerror(errno));
	return (-1);
}

/*
 * Sends the upgrade request with a fresh key (returned in key) and the
 * token as a Bearer header. 0, or -1: *cause set, or errno.
 */
static int
wsc_send_upgrade(struct wsclient *c, const char *host, int port,
    const char *token, char key[32], int64_t deadline, char **cause)
{
	unsigned char rnd[16];
	char req[1024], auth[300];
	int len, rc;

	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		fatal("getrandom");
	lws_b64_encode_string((const char *)rnd, sizeof rnd, key, 32);
	auth[0] = '\0';
	if (token != NULL)
		snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n",
		    token);
	len = snprintf(req, sizeof req,
	    "GET / HTTP/1.1\r\nHost: %s%s%s:%d\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
	    "Sec-WebSocket-Version: 13\r\n%s\r\n",
	    strchr(host, ':') != NULL ? "[" : "", host,
	    strchr(host, ':') != NULL ? "]" : "", port, key, auth);
	explicit_bzero(auth, sizeof auth);
	if (len < 0 || (size_t)len >= sizeof req) {
		*cause = xstrdup("host name or token too long");
		return (-1);
	}
	rc = wsc_write_all(c, req, (size_t)len, deadline);
	explicit_bzero(req, sizeof req);
	return (rc);
}

/*
 * Reads the response head byte by byte (frames may follow at once) into
 * resp, NUL-terminated. 0, or -1 with errno.
 */
static int
wsc_read_head(struct wsclient *c, char *resp, size_t size, int64_t deadline)
{
	size_t got = 0;
	ssize_t n;
	short ev;

	while (got < size - 1) {
		n = wsc_io_recv(c, resp + got, 1, &ev);
		if (n == 1) {
			got++;
			if (got >= 4 &&
			    memcmp(resp + got - 4, "\r\n\r\n", 4) == 0)
				break;
			continue;
		}
		if (n == 0) {
			errno = ECONNRESET;
			return (-1);
		}
		if (errno != EAGAIN && errno != EINTR)
			return (-1);
		if (wsc_wait(c->fd, ev, deadline) == -1)
			return (-1);
	}
	resp[got] = '\0';
	return (0);
}

/* Why the server did not switch protocols, from its answer. */
static char *
wsc_refusal(struct wsclient *c, char *resp)
{
	char body[200] = "", *p;
	int code = 0;

	if (sscanf(resp, "HTTP/1.%*d %d", &code) != 1 ||
	    (code != 401 && code != 403)) {
		p = strstr(resp, "\r\n");
		if (p != NULL)
			*p = '\0';
		return (xasprintf("not a WebSocket server (\"%.60s\")", resp));
	}
	/* Refusals come with a one-line reason: show it. */
	(void)wsc_read_exact(c, body, sizeof body - 1,
	    (int64_t)fnwm_now_ms() + 500);
	body[strcspn(body, "\r\n")] = '\0';
	return (xasprintf("the worker manager refused the connection (%d): %s",
	    code,
	    body[0] != '\0'   ? body
	        : code == 401 ? "a token is required"
	                      : "forbidden"));
}

/* The answer to the upgrade: 101 with the accept key of our key. */
static int
wsc_check_answer(struct wsclient *c, char *resp, const char *key, char **cause)
{
	unsigned char digest[SHA_DIGEST_LENGTH];
	char keyed[128], want[64], *accept;

	if (strncmp(resp, "HTTP/1.1 101", 12) != 0) {
		*cause = wsc_refusal(c, resp);
		return (-1);
	}
	snprintf(keyed, sizeof keyed, "%s%s", key, WSC_GUID);
	SHA1((const unsigned char *)keyed, strlen(keyed), digest);
	lws_b64_encode_string((const char *)digest, sizeof digest, want,
	    sizeof want);
	accept = strcasestr(resp, "\r\nSec-WebSocket-Accept:");
	if (accept == NULL || strstr(accept + 23, want) == NULL) {
		*cause = xstrdup("bad WebSocket handshake answer");
		return (-1);
	}
	return (0);
}

struct wsclient *
wsc_connect(const char *host, int port, const struct wsc_options *opts,
    int timeout_ms, char **cause)
{
	int64_t deadline = (int64_t)fnwm_now_ms() + timeout_ms;
	char key[32], resp[4096];
	struct wsclient *c;
	int fd;

	fd = wsc_connect_tcp(host, port, deadline, cause);
	if (fd == -1)
		return (NULL);
	c = xcalloc(1, sizeof *c);
	c->fd = fd;
	*cause = NULL;
	if (opts->tls &&
	    wsc_tls_start(c, host, opts->cacert, deadline, cause) == -1)
		goto fail;
	if (wsc_send_upgrade(c, host, port, opts->token, key, deadline,
	        cause) == -1 ||
	    wsc_read_head(c, resp, sizeof resp, deadline) == -1) {
		if (*cause == NULL)
			*cause = xasprintf("%s port %d: %s", host, port,
			    errno == ETIMEDOUT ? "no answer in time"
			                       : strerror(errno));
		goto fail;
	}
	if (wsc_check_answer(c, resp, key, cause) == -1)
		goto fail;
	return (c);
fail:
	wsc_free(c);
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
	rc = wsc_write_all(c, buf, h + len, (int64_t)fnwm_now_ms() + 10000);
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
		if (wsc_read_exact(c, h, 2, deadline) == -1)
			return (-1);
		fin = h[0] & 0x80;
		op = h[0] & 0x0f;
		len = h[1] & 0x7f;
		if (h[1] & 0x80) { /* servers never mask */
			errno = EPROTO;
			return (-1);
		}
		if (len == 126) {
			if (wsc_read_exact(c, ext, 2, deadline) == -1)
				return (-1);
			len = ((uint64_t)ext[0] << 8) | ext[1];
		} else if (len == 127) {
			if (wsc_read_exact(c, ext, 8, deadline) == -1)
				return (-1);
			for (len = 0, i = 0; i < 8; i++)
				len = (len << 8) | ext[i];
		}
		if (len > WSC_MAX_MESSAGE || c->rxlen + len > WSC_MAX_MESSAGE) {
			errno = EMSGSIZE;
			return (-1);
		}
		payload = xmalloc((size_t)len + 1);
		if (wsc_read_exact(c, payload, (size_t)len, deadline) == -1) {
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
	if (c->ssl != NULL)
		(void)SSL_shutdown(c->ssl);
	wsc_free(c);
}
