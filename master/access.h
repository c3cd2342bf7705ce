/* SPDX-License-Identifier: MIT */
/* who may reach the hub: tokens, peer identity, Host and Origin rules, TLS */
#ifndef FNWM_MASTER_ACCESS_H
#define FNWM_MASTER_ACCESS_H

#include <sys/types.h>
#include <stddef.h>

#include "config.h"

struct lws;

/* token.c: token files; a token itself is kept only as its digest */
struct fnwm_token {
	int set;
	unsigned char digest[32]; /* SHA-256 */
};
/*
 * Loads the token of path (creating a random one first when create is set
 * and the file is missing); group_ok lets the group read it. 0, or -1 with
 * a cause that never contains the token.
 */
int token_load(const char *path, int create, int group_ok, struct fnwm_token *,
    char **cause);
/* The token text of path into out (the CLI sends it); 0 or -1 + errno. */
int token_read_text(const char *path, char *out, size_t outsz);
/* Constant-time: whether given is the token. */
int token_match(const struct fnwm_token *, const char *given, size_t len);

/* peer.c: the uid behind a loopback TCP connection */
enum peer_kind {
	PEER_REMOTE,    /* not a loopback connection */
	PEER_LOCAL,     /* loopback, but its owner could not be told */
	PEER_LOCAL_UID, /* loopback, and *uid is the client socket's owner */
};
enum peer_kind peer_identify(int fd, uid_t *uid);
void peer_close(void);

/* access.c: the Host allow-list and the right a request earns */
enum access_right {
	ACCESS_NONE,
	ACCESS_READ,    /* ping, identify, status, details, logs, /metrics */
	ACCESS_CONTROL, /* everything */
};
/* Loads the tokens (making the default one); 0, or -1 with a cause. */
int access_init(const struct fnwm_config *, char **cause);
/* Re-reads the token files (SIGHUP); on failure the old ones stay. */
int access_reload(const struct fnwm_config *, char **cause);
/* The literal address the hub is bound to ("" for a wildcard). */
void access_set_bind(const char *iface);
/* Whether the request's Host names this hub (not a rebound name). */
int access_host_allowed(struct lws *);
/* The right of a request; ACCESS_NONE with *why when it has none. */
enum access_right access_check(struct lws *, const char **why);
/* The peer's address for a log line (escaped). */
const char *access_peer(struct lws *, char *buf, size_t bufsz);

/* tls.c: the hub's certificate */
/* Whether cert and key load and belong together; 0, or -1 with a cause. */
int tls_check_pair(const char *cert, const char *key, char **cause);
/* lws hands over the server's SSL_CTX once it made it. */
void tls_server_ctx(void *ssl_ctx);
/* Puts the (checked) pair into the live server context for new peers. */
int tls_reload(const char *cert, const char *key, char **cause);

/* origin.c */
/*
 * Whether a handshake with this Origin and Host header (NUL-terminated,
 * "" when absent) may reach the hub.
 */
int origin_allowed(const char *origin, const char *host,
    const struct fnwm_config *);
/* localhost, 127/8 or ::1 (names are not resolved); not "127.x.evil.ex". */
int origin_is_loopback(const char *host);

#endif
