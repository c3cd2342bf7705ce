/* SPDX-License-Identifier: MIT */
/* the dashboard page, built into the binary from web/ */
#ifndef FNWM_MASTER_WEB_H
#define FNWM_MASTER_WEB_H

#include <stddef.h>

struct lws;

/* web.c: GET / */
/* Answers with the page; 0, or -1 to close. */
int web_handle(struct lws *);
/* The page's size in bytes (for the log and tests). */
size_t web_page_size(void);

#endif
