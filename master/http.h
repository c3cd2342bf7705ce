/* SPDX-License-Identifier: MIT */
/* the hub's plain HTTP pages */
#ifndef FNWM_MASTER_HTTP_H
#define FNWM_MASTER_HTTP_H

#include "config.h"

struct lws;

/* http.c: /healthz, /metrics and / (web.c) */
/* The configuration the pages read (the workers dir). */
void http_init(const struct fnwm_config *);
/* Answers path; 1 when it is not one of ours, -1 to close. */
int http_handle(struct lws *, const char *path);
/* An extra response header: name with its colon, value. */
struct http_header {
	const char *name;
	const char *value;
};
/*
 * Answers with status, content type, the extra headers (NULL-terminated
 * list, or NULL) and a copy of body (none for HEAD); 0, or -1 to close.
 */
int http_reply(struct lws *, unsigned status, const char *ctype,
    const struct http_header *extra, const void *body, size_t len);
int http_writeable(struct lws *);
void http_release(struct lws *);

#endif
