/* SPDX-License-Identifier: MIT */
/* refcounted outbound messages */
#ifndef FNWM_MASTER_OUTMSG_H
#define FNWM_MASTER_OUTMSG_H

#include <stddef.h>

#include <json-c/json.h>

#include "config.h"

/* outmsg.c: refcounted outbound text with LWS_PRE headroom */
struct fnwm_outmsg {
	unsigned refs;
	size_t len;
	unsigned char *data; /* points at buf + LWS_PRE */
	unsigned char buf[];
};
/* Returns a message with one reference; the caller owns it. */
struct fnwm_outmsg *outmsg_new(const char *text, size_t len);
/* Serializes o (not consumed) into a new message. */
struct fnwm_outmsg *outmsg_json(json_object *o);
struct fnwm_outmsg *outmsg_ref(struct fnwm_outmsg *);
void outmsg_unref(struct fnwm_outmsg *);

#endif
