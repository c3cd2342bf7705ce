/* SPDX-License-Identifier: MIT */
/* the command line's blocking WebSocket client */
#ifndef FNWM_CLI_WSCLIENT_H
#define FNWM_CLI_WSCLIENT_H

#include <stddef.h>

/* wsclient.c: the command line's blocking WebSocket client */
struct wsclient;
struct wsc_options {
	int tls;            /* wss:// */
	const char *cacert; /* trusted CA file; NULL: the system's */
	const char *token;  /* sent as a Bearer header; NULL: none */
};
/* Connects and shakes hands; NULL with a cause on failure. */
struct wsclient *wsc_connect(const char *host, int port,
    const struct wsc_options *, int timeout_ms, char **cause);
int wsc_send(struct wsclient *, const char *text);
/*
 * Receives one whole message into an allocated NUL-terminated buffer
 * (caller frees); timeout_ms < 0 waits forever. 0, or -1 with errno
 * (ETIMEDOUT, ECONNRESET when the server closed).
 */
int wsc_recv(struct wsclient *, int timeout_ms, char **out, size_t *len);
void wsc_close(struct wsclient *);

#endif
