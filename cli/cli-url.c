/* SPDX-License-Identifier: MIT */
/*
 * The manager's URL both ways: --url read into host, port, TLS and token,
 * and `fnwm url` printing it, with the token, for a browser elsewhere.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "xmalloc.h"
#include "access.h"
#include "cli-cmd.h"
#include "cli-output.h"

/* [HOST] or HOST, up to the port, path or query: allocated, or NULL. */
static char *
cli_url_host(const char *p, const char **rest)
{
	const char *end;

	if (*p == '[') {
		end = strchr(p, ']');
		if (end == NULL)
			return (NULL);
		*rest = end + 1;
		return (xstrndup(p + 1, (size_t)(end - p - 1)));
	}
	*rest = p + strcspn(p, ":/?");
	return (xstrndup(p, (size_t)(*rest - p)));
}

/* :PORT (or the scheme's default), then / and ?token=T; 0 or -1. */
static int
cli_url_rest(struct cli *cli, const char *q, int *port)
{
	const char *end;
	long long v;
	char *num;

	if (*q == ':') {
		end = q + 1 + strcspn(q + 1, "/?");
		num = xstrndup(q + 1, (size_t)(end - q - 1));
		if (fnwm_parse_int(num, 1, 65535, &v) == -1) {
			free(num);
			return (-1);
		}
		free(num);
		*port = (int)v;
		q = end;
	} else
		*port = cli->wopts.tls ? 443 : 80;
	if (*q == '/')
		q++;
	if (*q == '?') {
		q = strstr(q, "token=");
		if (q != NULL) {
			q += 6;
			snprintf(cli->token, sizeof cli->token, "%.*s",
			    (int)strcspn(q, "&#"), q);
		}
	} else if (*q != '\0' && *q != '#')
		return (-1);
	return (0);
}

int
cli_parse_url(struct cli *cli, const char *url, char **hostp, int *port)
{
	const char *p = url, *q;

	if (strncmp(p, "wss://", 6) == 0) {
		cli->wopts.tls = 1;
		p += 6;
	} else if (strncmp(p, "ws://", 5) == 0)
		p += 5;
	else
		goto bad;
	*hostp = cli_url_host(p, &q);
	if (*hostp == NULL || **hostp == '\0' ||
	    cli_url_rest(cli, q, port) == -1)
		goto bad;
	return (0);
bad:
	cli_err("bad URL (want ws[s]://HOST:PORT/[?token=T])");
	return (-1);
}

/*
 * The URL a browser elsewhere uses, with the token: the hub's WebSocket
 * (the FuncNodes UI's worker manager URL) or, with --dashboard, the
 * dashboard's page on the same port. No manager is asked.
 */
int
cli_url(struct cli *cli, const struct cli_cmd *e, struct cli_args *a)
{
	const char *scheme;
	char host[256], tok[320];

	(void)e;
	if (token_read_text(cli->cfg.token_file, tok, sizeof tok) == -1) {
		cli_err("cannot read the token %s: %s%s", cli->cfg.token_file,
		    strerror(errno),
		    errno == ENOENT ? " (the manager makes it at its first "
		                      "start)"
		                    : "");
		return (CLI_FAILED);
	}
	if (strcmp(cli->host, "127.0.0.1") == 0 &&
	    strcmp(cli->cfg.host, "localhost") != 0 &&
	    strncmp(cli->cfg.host, "127.", 4) != 0 &&
	    gethostname(host, sizeof host) == 0)
		host[sizeof host - 1] = '\0'; /* a wildcard: our name */
	else
		snprintf(host, sizeof host, "%s", cli->host);
	if (a->dashboard)
		scheme = cli->cfg.tls_cert != NULL ? "https" : "http";
	else
		scheme = cli->cfg.tls_cert != NULL ? "wss" : "ws";
	printf("%s://%s%s%s:%d/?token=%s\n", scheme,
	    strchr(host, ':') != NULL ? "[" : "", host,
	    strchr(host, ':') != NULL ? "]" : "", cli->port, tok);
	explicit_bzero(tok, sizeof tok);
	return (CLI_OK);
}
