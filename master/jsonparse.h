/* SPDX-License-Identifier: MIT */
/* strict JSON in and compact JSON out */
#ifndef FNWM_MASTER_JSONPARSE_H
#define FNWM_MASTER_JSONPARSE_H

#include <stddef.h>

#include <json-c/json.h>

#include "config.h"

/* jsonparse.c */
/*
 * Strictly parses one complete JSON text: whole input consumed, depth <= 16,
 * valid UTF-8, no NaN/Infinity. Returns a new object (caller puts) or NULL
 * with a static description in *err.
 */
json_object *fnwm_json_parse(const char *text, size_t len, const char **err);
/* Serializes compactly without escaping '/'. Valid while o is unchanged. */
const char *fnwm_json_str(json_object *o, size_t *len);

#endif
