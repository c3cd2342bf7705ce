/* SPDX-License-Identifier: MIT */
/*
 * The Host allow-list and the credential check of the hub's handshakes
 * (master/access.c) over fuzzed headers. The input is
 * "Host\nAuthorization\nquery-argument"; the lws calls access.c makes for
 * them are answered from it (the definitions below take the place of
 * libwebsockets' for the code linked into this program). The peer is
 * never a local one, so every right must be earned with a token: the
 * control right only with the control token, the read right only with the
 * read-only one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "fileio.h"
#include "log.h"
#include "xmalloc.h"
#include "master.h"
#include "fuzz_tmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CONTROL  "control-token-0123456789abcdefghij"
#define FZ_READONLY "readonly-token-0123456789abcdefghij"

static const char *fz_host, *fz_auth, *fz_query;
static const char *fz_dir;
static struct fnwm_config fz_cfg;

static const char *
fz_header(enum lws_token_indexes h)
{
	if (h == WSI_TOKEN_HOST)
		return (fz_host);
	if (h == WSI_TOKEN_HTTP_AUTHORIZATION)
		return (fz_auth);
	return (NULL);
}

int
lws_hdr_total_length(struct lws *wsi, enum lws_token_indexes h)
{
	const char *v = fz_header(h);

	return (v != NULL && *v != '\0' ? (int)strlen(v) : 0);
}

int
lws_hdr_copy(struct lws *wsi, char *dest, int len, enum lws_token_indexes h)
{
	const char *v = fz_header(h);
	int n;

	if (v == NULL || *v == '\0')
		return (0);
	n = (int)strlen(v);
	if (n + 1 > len)
		return (-1);
	memcpy(dest, v, (size_t)n + 1);
	return (n);
}

/* As lws: the whole "name=value" copied to buf, the value returned. */
const char *
lws_get_urlarg_by_name(struct lws *wsi, const char *name, char *buf, int len)
{
	size_t n = strlen(name);

	if (strncmp(fz_query, name, n) != 0 || (int)strlen(fz_query) + 1 > len)
		return (NULL);
	memcpy(buf, fz_query, strlen(fz_query) + 1);
	return (buf + n);
}

lws_sockfd_type
lws_get_socket_fd(struct lws *wsi)
{
	return (-1);
}

static void
fz_token_file(const char *name, const char *token, char **path)
{
	*path = xasprintf("%s/%s", fz_dir, name);
	if (fnwm_atomic_write(*path, token, strlen(token), 0600) == -1)
		abort();
}

static void
fz_setup(void)
{
	static char *hosts[] = { NULL };
	const char *why;
	char *cause = NULL;

	fz_dir = fz_tmpdir("access");
	fnwm_log_init("fuzz", FNWM_LOG_WARN);
	fz_token_file("control", FZ_CONTROL, &fz_cfg.token_file);
	fz_token_file("readonly", FZ_READONLY, &fz_cfg.readonly_token_file);
	hosts[0] = xstrdup("ui.example");
	fz_cfg.allowed_hosts = hosts;
	fz_cfg.n_allowed_hosts = 1;
	fz_cfg.host = xstrdup("fnwm.example");
	if (access_init(&fz_cfg, &cause) == -1) {
		fprintf(stderr, "access_init: %s\n", cause);
		abort();
	}
	/* The files are read: they may go at once. */
	(void)unlink(fz_cfg.token_file);
	(void)unlink(fz_cfg.readonly_token_file);
	access_set_bind("127.0.0.1");
	/* The harness reaches what it is meant to: both rights, a Host. */
	fz_host = "ui.example:9380";
	fz_auth = "Bearer " FZ_CONTROL;
	fz_query = "";
	if (!access_host_allowed(NULL) ||
	    access_check(NULL, &why) != ACCESS_CONTROL)
		abort();
	fz_auth = "";
	fz_query = "token=" FZ_READONLY;
	if (access_check(NULL, &why) != ACCESS_READ)
		abort();
	fz_host = "evil.example";
	if (access_host_allowed(NULL))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *p;
	const char *why = NULL;
	enum access_right r;

	if (fz_cfg.host == NULL)
		fz_setup();
	buf = malloc(size + 1);
	memcpy(buf, data, size);
	buf[size] = '\0';
	fz_host = buf;
	fz_auth = fz_query = "";
	if ((p = strchr(buf, '\n')) != NULL) {
		*p++ = '\0';
		fz_auth = p;
		if ((p = strchr(p, '\n')) != NULL) {
			*p++ = '\0';
			fz_query = p;
		}
	}
	(void)access_host_allowed(NULL);
	r = access_check(NULL, &why);
	if (r == ACCESS_CONTROL && strstr(fz_auth, FZ_CONTROL) == NULL &&
	    strstr(fz_query, FZ_CONTROL) == NULL)
		abort();
	if (r == ACCESS_READ && strstr(fz_auth, FZ_READONLY) == NULL &&
	    strstr(fz_query, FZ_READONLY) == NULL)
		abort();
	if (r == ACCESS_NONE && (why == NULL || *why == '\0'))
		abort();
	free(buf);
	return (0);
}
