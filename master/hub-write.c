/* SPDX-License-Identifier: MIT */
/*
 * Writing a client's queue when lws says its socket is writeable: several
 * whole messages framed into one send where they fit, one message as it
 * is, or a large one in fragments from a per-client copy.
 */
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"
#include "hub-int.h"

#define HUB_BATCH 65536 /* queued whole messages framed per send */

/* Filled and written within one writeable callback: one for all clients. */
static unsigned char hub_batch[LWS_PRE + HUB_BATCH];

/* RFC 6455 header of a final, unmasked text frame of len bytes. */
static size_t
hub_frame_header(unsigned char *h, size_t len)
{
	int i;

	h[0] = 0x81; /* FIN, text */
	if (len < 126) {
		h[1] = (unsigned char)len;
		return (2);
	}
	if (len <= 0xffff) {
		h[1] = 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
		return (4);
	}
	h[1] = 127;
	for (i = 0; i < 8; i++)
		h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	return (10);
}

/*
 * Two or more whole messages at the head of c's queue: frame them into
 * one buffer and write that with a single send, instead of one send and
 * one trip through the loop per message. lws writes LWS_WRITE_RAW bytes
 * as they are (the frames are complete, and no message is half sent when
 * this runs) and keeps what the socket did not take, to send before
 * anything else. Returns the number of messages written, 0 when fewer
 * than two fit (the caller writes one), -1 on error.
 */
static int
hub_client_write_batch(struct ws_client *c)
{
	unsigned char hdr[10];
	struct fnwm_outmsg *m;
	size_t used = 0, hl;
	unsigned n = 0, i;

	for (i = 0; i < c->qlen; i++) {
		m = c->q[(c->qhead + i) % c->qcap];
		hl = hub_frame_header(hdr, m->len);
		if (used + hl + m->len > HUB_BATCH)
			break;
		used += hl + m->len;
		n++;
	}
	if (n < 2)
		return (0);
	used = 0;
	for (i = 0; i < n; i++) {
		m = c->q[(c->qhead + i) % c->qcap];
		hl = hub_frame_header(hub_batch + LWS_PRE + used, m->len);
		memcpy(hub_batch + LWS_PRE + used + hl, m->data, m->len);
		used += hl + m->len;
	}
	if (lws_write(c->wsi, hub_batch + LWS_PRE, used, LWS_WRITE_RAW) <
	    (int)used)
		return (-1);
	for (i = 0; i < n; i++) {
		hub_client_pop(c);
		hub_counters.msgs_out++;
	}
	return ((int)n);
}

/* The head of c's queue, or its next fragment, from a copy of it. */
static int
hub_client_write_fragment(struct ws_client *c, struct fnwm_outmsg *m)
{
	size_t chunk;
	int n, flags;

	/*
	 * Fragments must not be written in place: lws would put each
	 * fragment's header over the previous fragment's bytes.
	 */
	chunk = m->len - c->txoff;
	if (chunk > HUB_CHUNK)
		chunk = HUB_CHUNK;
	if (c->scratch == NULL)
		c->scratch = xmalloc(LWS_PRE + HUB_CHUNK);
	memcpy(c->scratch + LWS_PRE, m->data + c->txoff, chunk);
	flags = lws_write_ws_flags(LWS_WRITE_TEXT, c->txoff == 0,
	    c->txoff + chunk == m->len);
	n = lws_write(c->wsi, c->scratch + LWS_PRE, chunk,
	    (enum lws_write_protocol)flags);
	if (n < (int)chunk)
		return (-1);
	c->txoff += chunk;
	if (c->txoff == m->len) {
		hub_client_pop(c);
		hub_counters.msgs_out++;
	}
	return (0);
}

int
hub_client_writeable(struct ws_client *c)
{
	struct fnwm_outmsg *m;
	int n;

	if (c->closing == CLIENT_CLOSE_NOW ||
	    (c->closing == CLIENT_DRAIN_CLOSE && c->qlen == 0)) {
		lws_close_reason(c->wsi, c->close_code,
		    (unsigned char *)(uintptr_t)c->close_reason,
		    strlen(c->close_reason));
		return (-1);
	}
	if (c->qlen == 0)
		return (0);
	m = c->q[c->qhead];
	/*
	 * Raw bytes only on a connection of its own: a WebSocket carried in
	 * an HTTP/2 stream needs lws's framing of every write.
	 */
	if (c->txoff == 0 && c->qlen > 1 &&
	    lws_get_network_wsi(c->wsi) == c->wsi &&
	    (n = hub_client_write_batch(c)) != 0) {
		if (n < 0)
			return (-1);
	} else if (c->txoff == 0 && m->len <= HUB_CHUNK) {
		/*
		 * Whole-message writes may share the buffer between clients:
		 * lws puts the (identical) frame header in the headroom.
		 */
		n = lws_write(c->wsi, m->data, m->len, LWS_WRITE_TEXT);
		if (n < (int)m->len)
			return (-1);
		hub_client_pop(c);
		hub_counters.msgs_out++;
	} else if (hub_client_write_fragment(c, m) == -1)
		return (-1);
	if (c->qlen > 0 || c->closing != CLIENT_OPEN)
		lws_callback_on_writable(c->wsi);
	return (0);
}
