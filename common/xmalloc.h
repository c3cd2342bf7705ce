/* SPDX-License-Identifier: MIT */
/* Allocators that never return NULL: out of memory is fatal (exit 111). */
#ifndef FNWM_XMALLOC_H
#define FNWM_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xreallocarray(void *, size_t, size_t);
/* Returns an allocated copy; caller frees. */
char *xstrdup(const char *);
char *xstrndup(const char *, size_t);
/* Returns an allocated string; caller frees. */
char *xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));

#endif
