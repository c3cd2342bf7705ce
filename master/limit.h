/* SPDX-License-Identifier: MIT */
/* the ceilings and their counters */
#ifndef FNWM_MASTER_LIMIT_H
#define FNWM_MASTER_LIMIT_H

#include <stdint.h>

#include "config.h"

/* limits.c */
enum limit_kind {
	LIMIT_KWARGS_BYTES,
	LIMIT_MAX_WORKERS,
	LIMIT_PARALLEL_STEPS,
	LIMIT_MAX,
};
/* Counts a hit and logs it, at most once a second per limit. */
void limits_hit(enum limit_kind, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
uint64_t limits_hits(enum limit_kind);
const char *limits_name(enum limit_kind);

#endif
