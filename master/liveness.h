/* SPDX-License-Identifier: MIT */
/* is a running worker still answering? */
#ifndef FNWM_MASTER_LIVENESS_H
#define FNWM_MASTER_LIVENESS_H

#include <ev.h>

#include "config.h"

/* liveness.c */
void liveness_init(struct ev_loop *, const struct fnwm_config *);
/* A probe of uuid ended (the registry has its result). */
void liveness_probed(const char *uuid);
/* The periodic re-probe: judge every running worker. */
void liveness_tick(void);
/* Whether the worker runs but has not answered for its timeout. */
int liveness_unresponsive(const char *uuid);

#endif
