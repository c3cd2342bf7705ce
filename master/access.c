/* SPDX-License-Identifier: MIT */
/*
 * Who may use the hub, and with which right. Every request first passes the
 * Host allow-list (a DNS-rebound page names a host of its own). Then the
 * peer earns a right: a loopback peer whose socket belongs to the
 * manager's own user or root controls it without a credential (that user
 * can read the token file anyway); everyone else shows the control token
 * or the read-only token, in a "?token=" query or an "Authorization:
 * Bearer" header.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "log.h"
#include "xmalloc.h"
#include "master.h"

#define ACCESS_HOST_MAX 256

static const struct fnwm_config *access_cfg;
static struct fnwm_token access_control, access_readonly;
static char access_bind[INET6_ADDRSTRLEN];
static char access_hostname[ACCESS_HOST_MAX];

static int
access_load_tokens(const struct fnwm_config *cfg, struct fnwm_token *ctl,
    struct fnwm_token *ro, char **cause)
{
	if (token_load(cfg->token_file, cfg->token_file_default, 0, ctl,
	        cause) == -1)
		return (-1);
	if (cfg->readonly_token_file != NULL &&
	    token_load(cfg->readonly_token_file, 0, 1, ro, cause) == -1)
		return (-1);
	if (ro->set &&
	    memcmp(ro->digest, ctl->digest, sizeof ro->digest) == 0) {
		*cause = xstrdup("the read-only token must differ from the "
		                 "control token");
		return (-1);
	}
	return (0);
}

int
access_init(const struct fnwm_config *cfg, char **cause)
{
	struct fnwm_token ctl, ro;

	memset(&ro, 0, sizeof ro);
	if (access_load_tokens(cfg, &ctl, &ro, cause) == -1)
		return (-1);
	access_cfg = cfg;
	access_control = ctl;
	access_readonly = ro;
	if (gethostname(access_hostname, sizeof access_hostname) == -1)
		access_hostname[0] = '\0';
	access_hostname[sizeof access_hostname - 1] = '\0';
	return (0);
}

int
access_reload(const struct fnwm_config *cfg, char **cause)
{
	struct fnwm_token ctl, ro;

	memset(&ro, 0, sizeof ro);
	if (access_load_tokens(cfg, &ctl, &ro, cause) == -1)
		return (-1);
	access_control = ctl;
	access_readonly = ro;
	return (0);
}

void
access_set_bind(const char *iface)
{
	snprintf(access_bind, sizeof access_bind, "%s",
	    iface != NULL ? iface : "");
}

/* Host part of a Host header: "name", "name:port", "[v6]:port". */
static void
access_host_part(const char *s, char *out, size_t outsz)
{
	const char *end;
	size_t n;

	if (*s == '[') {
		s++;
		end = strchr(s, ']');
		n = end != NULL ? (size_t)(end - s) : strlen(s);
	} else
		n = strcspn(s, ":");
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, s, n);
	out[n] = '\0';
	/* "localhost." is localhost. */
	if (n > 1 && out[n - 1] == '.')
		out[n - 1] = '\0';
}

int
access_host_allowed(struct lws *wsi)
{
	char host[ACCESS_HOST_MAX + 8], h[ACCESS_HOST_MAX];
	const char *bind = access_cfg->host;
	int len = lws_hdr_total_length(wsi, WSI_TOKEN_HOST);
	size_t i;

	if (len <= 0 || len >= (int)sizeof host ||
	    lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0)
		return (0);
	access_host_part(host, h, sizeof h);
	if (h[0] == '\0')
		return (0);
	if (origin_is_loopback(h))
		return (1);
	if ((bind[0] != '\0' && strcasecmp(h, bind) == 0) ||
	    (access_bind[0] != '\0' && strcasecmp(h, access_bind) == 0))
		return (1);
	/* A wildcard bind is reached by the machine's own name. */
	if (access_bind[0] == '\0' && access_hostname[0] != '\0' &&
	    strcasecmp(h, access_hostname) == 0)
		return (1);
	for (i = 0; i < access_cfg->n_allowed_hosts; i++)
		if (strcasecmp(h, access_cfg->allowed_hosts[i]) == 0)
			return (1);
	return (0);
}

/* The credential of a request: "?token=" first, else a Bearer header. */
static int
access_credential(struct lws *wsi, char *buf, size_t bufsz, size_t *len)
{
	char hdr[320];
	const char *v, *p;
	int n;

	v = lws_get_urlarg_by_name(wsi, "token=", buf, (int)bufsz);
	if (v != NULL) {
		*len = strlen(v);
		memmove(buf, v, *len + 1);
		return (1);
	}
	n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n <= 0 || n >= (int)sizeof hdr ||
	    lws_hdr_copy(wsi, hdr, sizeof hdr, WSI_TOKEN_HTTP_AUTHORIZATION) <=
	        0)
		return (0);
	p = hdr + strspn(hdr, " \t");
	if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
		return (0);
	p += 6 + strspn(p + 6, " \t");
	n = (int)strcspn(p, " \t");
	if ((size_t)n >= bufsz)
		return (0);
	memcpy(buf, p, (size_t)n);
	buf[n] = '\0';
	*len = (size_t)n;
	explicit_bzero(hdr, sizeof hdr);
	return (1);
}

enum access_right
access_check(struct lws *wsi, const char **why)
{
	char tok[320];
	size_t len = 0;
	enum access_right r = ACCESS_NONE;
	uid_t uid;
	int fd = lws_get_socket_fd(wsi);

	if (!access_cfg->require_token && fd >= 0 &&
	    peer_identify(fd, &uid) == PEER_LOCAL_UID &&
	    (uid == geteuid() || uid == 0))
		return (ACCESS_CONTROL);
	if (!access_credential(wsi, tok, sizeof tok, &len)) {
		*why = "a token is required (?token=T in the URL or "
		       "Authorization: Bearer T)";
		return (ACCESS_NONE);
	}
	if (token_match(&access_control, tok, len))
		r = ACCESS_CONTROL;
	else if (token_match(&access_readonly, tok, len))
		r = ACCESS_READ;
	else
		*why = "the token is not valid";
	explicit_bzero(tok, sizeof tok);
	return (r);
}

const char *
access_peer(struct lws *wsi, char *buf, size_t bufsz)
{
	char raw[64];

	if (lws_get_peer_simple(wsi, raw, sizeof raw) == NULL)
		snprintf(raw, sizeof raw, "?");
	return (log_safe(buf, bufsz, raw, strlen(raw)));
}
