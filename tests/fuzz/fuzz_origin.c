/* SPDX-License-Identifier: MIT */
/*
 * The Origin/Host rule of the hub's handshakes (master/origin.c). The
 * input is "origin\nhost\nallowed..." (the allow-list one entry a line).
 * Besides not crashing: an Origin naming a host other than the Host header
 * is refused unless the allow-list lets it in, and "null" never passes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "master.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_ALLOWED 8

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fnwm_config cfg;
	char *buf, *origin, *host, *p, *allowed[FZ_MAX_ALLOWED];
	size_t n = 0;
	int ok;

	buf = malloc(size + 1);
	memcpy(buf, data, size);
	buf[size] = '\0';
	origin = buf;
	host = strchr(origin, '\n');
	if (host == NULL) {
		host = buf + size;
	} else {
		*host++ = '\0';
		p = strchr(host, '\n');
		if (p != NULL) {
			*p++ = '\0';
			while (p != NULL && n < FZ_MAX_ALLOWED) {
				allowed[n++] = p;
				p = strchr(p, '\n');
				if (p != NULL)
					*p++ = '\0';
			}
		}
	}
	memset(&cfg, 0, sizeof cfg);
	cfg.allowed_origins = allowed;
	cfg.n_allowed_origins = n;
	ok = origin_allowed(origin, host, &cfg);
	if (ok != 0 && ok != 1)
		abort();
	if (ok && n == 0 && strcmp(origin, "null") == 0)
		abort();
	/* Without an allow-list an Origin without "://" never passes. */
	if (ok && n == 0 && strstr(origin, "://") == NULL)
		abort();
	/* Nor does one when the Host header is missing. */
	cfg.n_allowed_origins = 0;
	if (origin_allowed(origin, "", &cfg))
		abort();
	free(buf);
	return (0);
}
