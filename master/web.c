/* SPDX-License-Identifier: MIT */
/*
 * The operator dashboard at "/": one HTML document built from web/ at
 * build time (web/embed.cmake inlines its style and scripts), so it is
 * one request, works without network access, and the browser fetches
 * nothing else. It holds no data: everything it shows comes over the
 * hub's WebSocket, which checks the client's right like any other. The
 * headers keep it from being framed or from leaking its URL (which may
 * carry ?token=) in a Referer.
 */
#include <libwebsockets.h>

#include "http.h"
#include "web.h"

extern const unsigned char web_page[];
extern const size_t web_page_len;

/* Inline code only, and the WebSocket back to this origin. */
#define WEB_CSP                                                          \
	"default-src 'none'; script-src 'unsafe-inline'; "               \
	"style-src 'unsafe-inline'; img-src data:; connect-src 'self'; " \
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static const struct http_header web_headers[] = {
	{ "content-security-policy:", WEB_CSP },
	{ "x-content-type-options:", "nosniff" },
	{ "x-frame-options:", "DENY" },
	{ "referrer-policy:", "no-referrer" },
	{ NULL, NULL },
};

int
web_handle(struct lws *wsi)
{
	return (http_reply(wsi, HTTP_STATUS_OK, "text/html; charset=utf-8",
	    web_headers, web_page, web_page_len));
}

size_t
web_page_size(void)
{
	return (web_page_len);
}
