/* SPDX-License-Identifier: MIT */
/* the workers in one line, for systemd's status */
#ifndef FNWM_MASTER_SUMMARY_H
#define FNWM_MASTER_SUMMARY_H

#include <stddef.h>

/* summary.c: "12 workers: 10 running, 1 down" into line (size bytes) */
void summary_line(char *line, size_t size);

#endif
