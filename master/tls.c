/* SPDX-License-Identifier: MIT */
/*
 * The hub's certificate. lws loads the configured pair when it makes the
 * server's SSL_CTX and hands that context over (hub.c); a reload checks a
 * new pair in a context of its own first, so a bad pair never replaces a
 * good one, then puts it into the live context: connections made from
 * then on present the new certificate, open ones keep theirs.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "xmalloc.h"
#include "master.h"

static SSL_CTX *tls_live;

/* The first OpenSSL error as text, the queue emptied. */
static const char *
tls_error(char *buf, size_t sz)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(buf, sz, "unknown error");
	else
		ERR_error_string_n(e, buf, sz);
	ERR_clear_error();
	return (buf);
}

static int
tls_use_pair(SSL_CTX *ctx, const char *cert, const char *key, char **cause)
{
	char err[256];

	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		*cause = xasprintf("TLS certificate %s: %s", cert,
		    tls_error(err, sizeof err));
		return (-1);
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		*cause = xasprintf("TLS key %s: %s", key,
		    tls_error(err, sizeof err));
		return (-1);
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*cause = xasprintf("TLS key %s does not belong to the "
		                   "certificate %s",
		    key, cert);
		ERR_clear_error();
		return (-1);
	}
	return (0);
}

int
tls_check_pair(const char *cert, const char *key, char **cause)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int rc;

	if (ctx == NULL) {
		*cause = xstrdup("TLS: cannot make a context");
		return (-1);
	}
	rc = tls_use_pair(ctx, cert, key, cause);
	SSL_CTX_free(ctx);
	return (rc);
}

void
tls_server_ctx(void *ssl_ctx)
{
	tls_live = ssl_ctx;
}

int
tls_reload(const char *cert, const char *key, char **cause)
{
	if (tls_live == NULL) {
		*cause = xstrdup("the hub serves no TLS");
		return (-1);
	}
	if (tls_check_pair(cert, key, cause) == -1)
		return (-1);
	/* Checked: this cannot fail short of the files changing again. */
	return (tls_use_pair(tls_live, cert, key, cause));
}
