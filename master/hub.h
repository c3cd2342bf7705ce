/* SPDX-License-Identifier: MIT */
/* the WebSocket hub: clients, their queues, send and broadcast */
#ifndef FNWM_MASTER_HUB_H
#define FNWM_MASTER_HUB_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <json-c/json.h>

#include "config.h"
#include "access.h"
#include "outmsg.h"

struct lws;
struct lws_context;

/* hub*.c: hub.c clients and queues, hub-lws.c lws callbacks, hub-write.c
 * writing, hub-start.c the context, hub-reply.c common replies */
enum client_close {
	CLIENT_OPEN = 0,
	CLIENT_DRAIN_CLOSE, /* send what is queued, then close */
	CLIENT_CLOSE_NOW,   /* close at the next writeable */
};

struct ws_client {
	struct lws *wsi;
	uint64_t id; /* operations refer to their requester by id */
	int established;
	enum access_right right;
	int subscribed;  /* receives broadcasts (sent a real command) */
	int want_status; /* a worker_status reply waits for the first scan */
	unsigned ops;    /* its operations not yet finished */
	int reset_owed;  /* a broadcast reset it was spared while busy */
	enum client_close closing;
	uint16_t close_code;
	const char *close_reason;
	char *rx; /* partial inbound message */
	size_t rxlen, rxcap;
	int rx_binary;
	struct fnwm_outmsg **q; /* ring of queued messages */
	unsigned qhead, qlen, qcap;
	size_t qbytes;
	size_t txoff;           /* bytes of q[qhead] already sent */
	unsigned char *scratch; /* LWS_PRE + chunk, for fragmented sends */
	TAILQ_ENTRY(ws_client) entry;
};
TAILQ_HEAD(ws_clients, ws_client);

/*
 * What the layers above do with the hub's traffic; main.c registers them
 * (the hub knows no command, page or probe). A NULL member: messages are
 * dropped, pages are 404.
 */
struct hub_handlers {
	/* One complete inbound text message of a client. */
	void (*message)(struct ws_client *, const char *text, size_t len);
	/* GET/HEAD of path after the hub's checks: 1 when it is no page. */
	int (*http)(struct lws *, const char *path);
	int (*http_writeable)(struct lws *);
	void (*http_release)(struct lws *);
	/* The lws callback of the outgoing connections (the probes). */
	int (*probe)(struct lws *, int reason, void *user, void *in,
	    size_t len);
};
void hub_set_handlers(const struct hub_handlers *);
/* Told the id of every client that goes; -1 when all places are taken. */
typedef void hub_gone_fn(uint64_t client);
int hub_on_client_gone(hub_gone_fn *);

int hub_start(struct ev_loop *, const struct fnwm_config *, int takeover,
    char **cause);
struct lws_context *hub_context(void);
/* Queues msg for c (takes a new reference). */
void hub_send(struct ws_client *, struct fnwm_outmsg *);
void hub_send_json(struct ws_client *, json_object *);
/* Sends to every subscribed client. */
void hub_broadcast(struct fnwm_outmsg *);
struct ws_clients *hub_clients(void);
/* The client with this id, or NULL when it has gone. */
struct ws_client *hub_find(uint64_t id);
size_t hub_client_count(void);
/* Refuses new connections and closes every client with 1001. */
void hub_begin_shutdown(void);
/* Destroys the lws context; call outside lws callbacks. */
void hub_destroy(void);

/* Counters of the hub, for /metrics. */
struct hub_stats {
	uint64_t msgs_in, msgs_out;
	uint64_t clients_refused;     /* over fnwm.max_clients: 503 */
	uint64_t clients_lagging;     /* over fnwm.client_queue_bytes */
	uint64_t clients_over_budget; /* over fnwm.total_queue_bytes */
	uint64_t accept_fd_exhausted; /* accepts failed: no fd left */
	uint64_t accept_dropped;      /* connections dropped for that */
};
const struct hub_stats *hub_stats(void);
/* Bytes queued for all clients, not yet sent. */
size_t hub_queued_bytes(void);
/* Whether the hub serves TLS. */
int hub_tls(void);

/* Sends {"type":"error","message":...}. */
void hub_error(struct ws_client *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Sends a progress message; an empty message with 1.0 is the reset. */
void hub_progress(struct ws_client *, const char *message, double progress,
    int blocking);
/*
 * The same progress to every subscribed client (new_worker's routing); a
 * reset skips those with an operation of their own under way, but owner's.
 */
void hub_broadcast_progress(uint64_t owner, const char *message,
    double progress, int blocking);

#endif
