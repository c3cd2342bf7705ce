/* SPDX-License-Identifier: MIT */
/* The .status written durably by a thread of its own (writer.c). */
#ifndef FNWM_WRITER_H
#define FNWM_WRITER_H

#include <stddef.h>

/*
 * Hands data to the writer thread for an atomic, fsynced write of name in
 * dirfd (name must stay valid): it replaces a job the thread has not
 * taken yet. Starts the thread at the first call. 0, or -1 with errno
 * (the data is too large, or, with no thread to be had, written here and
 * failed). Logs a failure of an earlier write.
 */
int writer_submit(int dirfd, const char *name, const void *data, size_t len);
/* Waits until every job handed over is written: 0, or -1 with errno. */
int writer_sync(void);
/* Lets the thread finish its work and joins it. */
void writer_stop(void);

#endif
