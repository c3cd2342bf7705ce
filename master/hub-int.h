/* SPDX-License-Identifier: MIT */
/*
 * What the hub's files share among themselves (hub.c clients and queues,
 * hub-write.c writing, hub-lws.c the lws callbacks, hub-start.c the
 * context, hub-reply.c the common replies); nothing outside hub*.c
 * includes this.
 */
#ifndef FNWM_MASTER_HUB_INT_H
#define FNWM_MASTER_HUB_INT_H

#include <libwebsockets.h>

#include "hub.h"

/* Messages larger than this are sent as fragments from a per-client copy. */
#define HUB_CHUNK 65536

/* hub-start.c */
extern const struct fnwm_config *hub_cfg;

/* hub.c */
extern struct hub_stats hub_counters;
extern int hub_draining; /* refusing new connections */
/* Registers the client lws established on wsi with its right. */
void hub_client_add(struct ws_client *, struct lws *, enum access_right);
/* Forgets c (lws frees it); the client-gone listeners hear of it. */
void hub_client_free(struct ws_client *);
/* Drops the message at the head of c's queue (sent, or not wanted). */
void hub_client_pop(struct ws_client *);

/* hub-write.c: what c's queue holds, as much as the socket takes */
int hub_client_writeable(struct ws_client *);

/* hub-lws.c */
extern struct lws_protocols hub_protocols[];
extern const struct lws_protocol_vhost_options hub_pvo;

#endif
