/* SPDX-License-Identifier: MIT */
/*
 * The WebSocket hub's clients: their list, their outbound queues with the
 * budgets that bound them (per client and for all), send and broadcast.
 * Writing the queues is hub-write.c's, the lws side (handshake checks,
 * inbound messages) hub-lws.c's, the context hub-start.c's. What a message
 * means is not the hub's business: it hands complete messages to the
 * handler main.c registers (hub_set_handlers).
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xmalloc.h"
#include "hub-int.h"

#define HUB_QUEUE_MAX_MSGS 4096
#define HUB_CLOSE_DEADLINE 5 /* s, for a client that stops reading */
#define HUB_GONE_MAX       4 /* client-gone listeners */

struct hub_stats hub_counters;
int hub_draining;
static struct ws_clients hub_list = TAILQ_HEAD_INITIALIZER(hub_list);
static size_t hub_nclients;
static uint64_t hub_next_id = 1;
static size_t hub_queued; /* unsent bytes of all clients */
static struct log_rate hub_lag_rate;
static hub_gone_fn *hub_gone[HUB_GONE_MAX];

int
hub_on_client_gone(hub_gone_fn *fn)
{
	unsigned i;

	for (i = 0; i < HUB_GONE_MAX; i++) {
		if (hub_gone[i] == NULL || hub_gone[i] == fn) {
			hub_gone[i] = fn;
			return (0);
		}
	}
	return (-1);
}

void
hub_client_add(struct ws_client *c, struct lws *wsi, enum access_right right)
{
	memset(c, 0, sizeof *c);
	c->wsi = wsi;
	c->id = hub_next_id++;
	c->established = 1;
	c->right = right;
	c->qcap = 16;
	c->q = xcalloc(c->qcap, sizeof *c->q);
	TAILQ_INSERT_TAIL(&hub_list, c, entry);
	hub_nclients++;
	log_debug("client connected (%zu)", hub_nclients);
}

void
hub_client_pop(struct ws_client *c)
{
	struct fnwm_outmsg *m = c->q[c->qhead];

	c->qbytes -= m->len;
	hub_queued -= m->len;
	outmsg_unref(m);
	c->q[c->qhead] = NULL;
	c->qhead = (c->qhead + 1) % c->qcap;
	c->qlen--;
	c->txoff = 0;
	if (c->qlen == 0 && c->scratch != NULL) {
		free(c->scratch);
		c->scratch = NULL;
	}
}

void
hub_client_free(struct ws_client *c)
{
	unsigned i;

	for (i = 0; i < HUB_GONE_MAX && hub_gone[i] != NULL; i++)
		hub_gone[i](c->id);
	while (c->qlen > 0)
		hub_client_pop(c);
	free(c->q);
	free(c->rx);
	free(c->scratch);
	TAILQ_REMOVE(&hub_list, c, entry);
	hub_nclients--;
	memset(c, 0, sizeof *c);
	log_debug("client disconnected (%zu)", hub_nclients);
}

/* Closes c after its queue drained (drain) or at once (!drain). */
static void
hub_client_close(struct ws_client *c, int drain, uint16_t code,
    const char *reason)
{
	if (c->closing != CLIENT_OPEN)
		return;
	c->closing = drain ? CLIENT_DRAIN_CLOSE : CLIENT_CLOSE_NOW;
	c->close_code = code;
	c->close_reason = reason;
	/* Nothing more goes to it: what it did not read is freed now. */
	while (!drain && c->qlen > 0)
		hub_client_pop(c);
	/* If the peer never lets us write again, lws kills it anyway. */
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, HUB_CLOSE_DEADLINE);
	lws_callback_on_writable(c->wsi);
}
/* Closes a client that does not read; which limit it hit is logged. */
static void
hub_client_lagging(struct ws_client *c, const char *limit)
{
	unsigned long skipped;

	if (log_rate_ok(&hub_lag_rate, 1, &skipped))
		log_warnx("client: %u messages (%zu bytes; %zu for all "
		          "clients) unsent, closing a client that does not "
		          "read (%s; %lu more since the last line)",
		    c->qlen, c->qbytes, hub_queued, limit, skipped);
	hub_client_close(c, 0, LWS_CLOSE_STATUS_POLICY_VIOLATION, "lagging");
}

/* The open client with the most bytes unsent, or NULL when none has any. */
static struct ws_client *
hub_furthest_behind(void)
{
	struct ws_client *c, *big = NULL;

	TAILQ_FOREACH(c, &hub_list, entry)
		if (c->closing == CLIENT_OPEN && c->qbytes > 0 &&
		    (big == NULL || c->qbytes > big->qbytes))
			big = c;
	return (big);
}

void
hub_send(struct ws_client *c, struct fnwm_outmsg *m)
{
	struct ws_client *big;
	unsigned i;

	if (!c->established || c->closing != CLIENT_OPEN)
		return;
	/*
	 * What waits counts, per client and for all together; a client
	 * that keeps up (nothing waiting) still gets a message of any size.
	 */
	if (c->qlen == HUB_QUEUE_MAX_MSGS ||
	    (c->qbytes > 0 && c->qbytes + m->len > hub_cfg->client_queue)) {
		hub_counters.clients_lagging++;
		hub_client_lagging(c, "fnwm.client_queue_bytes");
		return;
	}
	/*
	 * Over the budget of all: the clients furthest behind go first, so
	 * that those that keep up are served. A single message larger than
	 * the budget still goes to a client with nothing waiting.
	 */
	while (hub_queued + m->len > hub_cfg->total_queue &&
	    (big = hub_furthest_behind()) != NULL) {
		hub_counters.clients_over_budget++;
		hub_client_lagging(big, "fnwm.total_queue_bytes");
		if (big == c)
			return;
	}
	if (c->qlen == c->qcap) {
		struct fnwm_outmsg **nq = xcalloc(c->qcap * 2, sizeof *nq);

		for (i = 0; i < c->qlen; i++)
			nq[i] = c->q[(c->qhead + i) % c->qcap];
		free(c->q);
		c->q = nq;
		c->qhead = 0;
		c->qcap *= 2;
	}
	c->q[(c->qhead + c->qlen) % c->qcap] = outmsg_ref(m);
	c->qlen++;
	c->qbytes += m->len;
	hub_queued += m->len;
	/* A queue that was not empty has asked already (writeable re-asks). */
	if (c->qlen == 1)
		lws_callback_on_writable(c->wsi);
}

void
hub_send_json(struct ws_client *c, json_object *o)
{
	struct fnwm_outmsg *m = outmsg_json(o);

	hub_send(c, m);
	outmsg_unref(m);
}

void
hub_broadcast(struct fnwm_outmsg *m)
{
	struct ws_client *c;

	TAILQ_FOREACH(c, &hub_list, entry) {
		if (c->subscribed)
			hub_send(c, m);
	}
}

struct ws_clients *
hub_clients(void)
{
	return (&hub_list);
}

size_t
hub_client_count(void)
{
	return (hub_nclients);
}

size_t
hub_queued_bytes(void)
{
	return (hub_queued);
}

const struct hub_stats *
hub_stats(void)
{
	return (&hub_counters);
}

struct ws_client *
hub_find(uint64_t id)
{
	struct ws_client *c;

	if (id == 0)
		return (NULL);
	TAILQ_FOREACH(c, &hub_list, entry)
		if (c->id == id)
			return (c->closing == CLIENT_OPEN ? c : NULL);
	return (NULL);
}

void
hub_begin_shutdown(void)
{
	struct ws_client *c;

	hub_draining = 1;
	TAILQ_FOREACH(c, &hub_list, entry)
		hub_client_close(c, 1, LWS_CLOSE_STATUS_GOINGAWAY,
		    "Server shutdown");
}
