/* SPDX-License-Identifier: MIT */
/* the hub's plain HTTP pages */
#ifndef FNWM_MASTER_HTTP_H
#define FNWM_MASTER_HTTP_H

#include "config.h"

struct lws;

/* http.c: /healthz and /metrics */
/* Answers path; 1 when it is not one of ours, -1 to close. */
int http_handle(struct lws *, const char *path);
int http_writeable(struct lws *);
void http_release(struct lws *);

#endif
