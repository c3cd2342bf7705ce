/* SPDX-License-Identifier: MIT */
/* dependency strings a client may ask for */
#ifndef FNWM_MASTER_PEP508_H
#define FNWM_MASTER_PEP508_H

#include "config.h"

/* pep508.c */
/*
 * Whether req is a PEP 508 requirement (name, extras, version specifiers,
 * marker); with allow_direct also "name @ URL" and a bare URL or path.
 * Never anything starting with "-".
 */
int pep508_valid(const char *req, int allow_direct);

#endif
