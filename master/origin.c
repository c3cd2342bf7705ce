/* SPDX-License-Identifier: MIT */
/*
 * The Origin rule of the hub's handshakes, over header values alone (no
 * lws), so that it can be tested and fed anything.
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "master.h"

/* Host part of an Origin ("scheme://host[:port]") or a Host header. */
static void
origin_host_part(const char *s, char *out, size_t outsz)
{
	const char *p = strstr(s, "://"), *end;
	size_t n;

	p = p != NULL ? p + 3 : s;
	if (*p == '[') {
		end = strchr(p, ']');
		p++;
		n = end != NULL ? (size_t)(end - p) : strlen(p);
	} else {
		end = p + strcspn(p, ":/");
		n = (size_t)(end - p);
	}
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

int
origin_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcasecmp(host, "localhost") == 0)
		return (1);
	if (inet_pton(AF_INET, host, &a4) == 1)
		return ((ntohl(a4.s_addr) >> 24) == 127);
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return (IN6_IS_ADDR_LOOPBACK(&a6));
	return (0);
}

/*
 * Cross-site WebSocket hijacking guard: a browser page may only reach the
 * hub from the host the hub is addressed by (or loopback from loopback),
 * or from an Origin on the allow-list.
 */
int
origin_allowed(const char *origin, const char *host,
    const struct fnwm_config *cfg)
{
	char oh[256], hh[256];
	size_t i;

	for (i = 0; i < cfg->n_allowed_origins; i++) {
		if (strcmp(cfg->allowed_origins[i], "*") == 0 ||
		    strcasecmp(cfg->allowed_origins[i], origin) == 0)
			return (1);
	}
	if (strcmp(origin, "null") == 0 || strstr(origin, "://") == NULL)
		return (0);
	if (host[0] == '\0')
		return (0);
	origin_host_part(origin, oh, sizeof oh);
	origin_host_part(host, hh, sizeof hh);
	if (oh[0] == '\0')
		return (0);
	if (strcasecmp(oh, hh) == 0)
		return (1);
	return (origin_is_loopback(oh) && origin_is_loopback(hh));
}
