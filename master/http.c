/* SPDX-License-Identifier: MIT */
/*
 * Plain HTTP on the hub's port: GET/HEAD /healthz (200 when the loop runs
 * and the workers dir is writable, else 503), /metrics in the
 * Prometheus text exposition format, and / the dashboard page (web.c).
 * Other methods get 405, other paths 404, and a browser Origin the hub
 * would refuse gets 403 here too.
 */
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "log.h"
#include "xmalloc.h"
#include "master.h"
#include "web.h"

/* A growing text buffer for the metrics page. */
struct http_buf {
	char *s;
	size_t len, cap;
};

static void __attribute__((format(printf, 2, 3)))
http_buf_printf(struct http_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap * 2 + (size_t)(n > 0 ? n : 256);
		b->s = xreallocarray(b->s, b->cap, 1);
	}
}

/* Label values: backslash, quote and newline escaped. */
static void
http_buf_label(struct http_buf *b, const char *v)
{
	for (; v != NULL && *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			http_buf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			http_buf_printf(b, "\\n");
		else
			http_buf_printf(b, "%c", *v);
	}
}

static long
http_rss_bytes(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (f != NULL) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return (rss * sysconf(_SC_PAGESIZE));
}

enum metric_family {
	MF_UP,
	MF_RESTARTS,
	MF_CRASHES,
	MF_LAST_EXIT,
	MF_UPTIME,
	MF_EXITS,
	MF_MAX
};

static const char *const mf_head[MF_MAX] = {
	"# HELP fnwm_worker_up Whether the worker answers its identity "
	"probe.\n# TYPE fnwm_worker_up gauge\n",
	"# HELP fnwm_worker_restarts_total Restarts by the restart policy.\n"
	"# TYPE fnwm_worker_restarts_total counter\n",
	"# HELP fnwm_worker_crashes_total Exits other than a clean one.\n"
	"# TYPE fnwm_worker_crashes_total counter\n",
	"# HELP fnwm_worker_last_exit_code Last exit status (128+signal when "
	"killed).\n# TYPE fnwm_worker_last_exit_code gauge\n",
	"# HELP fnwm_worker_uptime_seconds Age of the worker process.\n"
	"# TYPE fnwm_worker_uptime_seconds gauge\n",
	"# HELP fnwm_worker_exits_total Exits of the worker process by reason "
	"(kept in its .status).\n# TYPE fnwm_worker_exits_total counter\n",
};

static const char *const mf_name[MF_MAX] = { "fnwm_worker_up",
	"fnwm_worker_restarts_total", "fnwm_worker_crashes_total",
	"fnwm_worker_last_exit_code", "fnwm_worker_uptime_seconds",
	"fnwm_worker_exits_total" };

struct http_metrics_ctx {
	struct http_buf *b;
	enum metric_family family;
	size_t by_state[FNWM_WS_MAX];
	size_t unresponsive;
	double now;
};

static const char *
http_state(const char *uuid, struct monitor **mp)
{
	struct monitor *m = monitors_find(uuid);

	*mp = m;
	if (liveness_unresponsive(uuid))
		return ("unresponsive");
	if (m != NULL && m->pid > 0 && m->have_st)
		return (
		    registry_is_active(uuid) && m->st.state == FNWM_WS_STARTING
		        ? "running"
		        : fnwm_worker_state_name(m->st.state));
	if (registry_live_pid(uuid) > 0)
		return (registry_is_active(uuid) ? "running" : "starting");
	return ("down");
}

/* Totals by reason from the worker's .status, which outlives monitors. */
static void
http_metrics_exits(struct http_buf *b, const char *uuid, const char *name)
{
	struct fnwm_status st;
	unsigned i;

	if (monitors_read_status(uuid, &st) == -1)
		return;
	for (i = 0; i < FNWM_EXIT_REASONS; i++) {
		http_buf_printf(b, "fnwm_worker_exits_total{uuid=\"");
		http_buf_label(b, uuid);
		http_buf_printf(b, "\",name=\"");
		http_buf_label(b, name);
		http_buf_printf(b, "\",reason=\"%s\"} %u\n",
		    fnwm_exit_reason_name(i), st.totals[i]);
	}
}

/* One sample of the current family for one worker (samples stay grouped). */
static void
http_metrics_worker(const char *uuid, void *arg)
{
	struct http_metrics_ctx *mc = arg;
	struct http_buf *b = mc->b;
	json_object *entry = registry_entry(uuid), *v;
	const char *name = "", *state;
	struct monitor *m;
	unsigned i;

	if (json_object_object_get_ex(entry, "name", &v) &&
	    json_object_is_type(v, json_type_string))
		name = json_object_get_string(v);
	state = http_state(uuid, &m);
	if (mc->family == MF_UP) {
		for (i = 0; i < FNWM_WS_MAX; i++)
			if (strcmp(state, fnwm_worker_state_name(i)) == 0)
				mc->by_state[i]++;
		if (strcmp(state, "unresponsive") == 0)
			mc->unresponsive++;
	}
	if (mc->family == MF_EXITS) {
		http_metrics_exits(b, uuid, name);
		return;
	}
	if (mc->family != MF_UP &&
	    (m == NULL || !m->have_st ||
	        (mc->family == MF_LAST_EXIT &&
	            (m->st.last_exit == FNWM_EXIT_NONE ||
	                m->st.last_exit == FNWM_EXIT_UNKNOWN)) ||
	        (mc->family == MF_UPTIME &&
	            (m->st.started_ms == 0 || m->st.pid <= 0 || m->pid <= 0))))
		return;
	http_buf_printf(b, "%s{uuid=\"", mf_name[mc->family]);
	http_buf_label(b, uuid);
	http_buf_printf(b, "\",name=\"");
	http_buf_label(b, name);
	http_buf_printf(b, "\"} ");
	switch (mc->family) {
	case MF_UP:
		http_buf_printf(b, "%d\n", registry_is_active(uuid));
		break;
	case MF_RESTARTS:
		http_buf_printf(b, "%u\n", m->st.restarts);
		break;
	case MF_CRASHES:
		http_buf_printf(b, "%u\n", m->crashes);
		break;
	case MF_LAST_EXIT:
		http_buf_printf(b, "%d\n",
		    m->st.last_exit >= 0 ? m->st.last_exit
		                         : 128 - m->st.last_exit);
		break;
	default:
		http_buf_printf(b, "%.3f\n",
		    mc->now - m->st.started_ms / 1000.0);
		break;
	}
}

/* The hub's and the limits' counters. */
static void
http_metrics_hub(struct http_buf *b)
{
	const struct hub_stats *hs = hub_stats();
	unsigned i;

	http_buf_printf(b,
	    "# HELP fnwm_monitors Monitor processes.\n"
	    "# TYPE fnwm_monitors gauge\nfnwm_monitors %zu\n",
	    monitors_running());
	http_buf_printf(b,
	    "# HELP fnwm_websocket_clients Connected clients.\n"
	    "# TYPE fnwm_websocket_clients gauge\n"
	    "fnwm_websocket_clients %zu\n",
	    hub_client_count());
	http_buf_printf(b,
	    "# HELP fnwm_messages_received_total WebSocket "
	    "messages received.\n"
	    "# TYPE fnwm_messages_received_total counter\n"
	    "fnwm_messages_received_total %llu\n",
	    (unsigned long long)hs->msgs_in);
	http_buf_printf(b,
	    "# HELP fnwm_messages_sent_total WebSocket messages "
	    "sent.\n# TYPE fnwm_messages_sent_total counter\n"
	    "fnwm_messages_sent_total %llu\n",
	    (unsigned long long)hs->msgs_out);
	http_buf_printf(b,
	    "# HELP fnwm_websocket_queued_bytes Bytes queued for clients, "
	    "not yet sent.\n# TYPE fnwm_websocket_queued_bytes gauge\n"
	    "fnwm_websocket_queued_bytes %zu\n",
	    hub_queued_bytes());
	http_buf_printf(b,
	    "# HELP fnwm_limit_hits_total Times a limit was hit, by "
	    "setting.\n# TYPE fnwm_limit_hits_total counter\n"
	    "fnwm_limit_hits_total{limit=\"max_clients\"} %llu\n"
	    "fnwm_limit_hits_total{limit=\"client_queue_bytes\"} %llu\n"
	    "fnwm_limit_hits_total{limit=\"total_queue_bytes\"} %llu\n"
	    "fnwm_limit_hits_total{limit=\"open_files\"} %llu\n"
	    "fnwm_limit_hits_total{limit=\"numeric_worker_host\"} %llu\n",
	    (unsigned long long)hs->clients_refused,
	    (unsigned long long)hs->clients_lagging,
	    (unsigned long long)hs->clients_over_budget,
	    (unsigned long long)hs->accept_fd_exhausted,
	    (unsigned long long)probe_names_refused());
	/* The same family: new_worker's and the steps' limits. */
	for (i = 0; i < LIMIT_MAX; i++)
		http_buf_printf(b, "fnwm_limit_hits_total{limit=\"%s\"} %llu\n",
		    limits_name((enum limit_kind)i),
		    (unsigned long long)limits_hits((enum limit_kind)i));
	http_buf_printf(b,
	    "# HELP fnwm_connections_dropped_total Connections accepted "
	    "and closed at once for want of file descriptors.\n"
	    "# TYPE fnwm_connections_dropped_total counter\n"
	    "fnwm_connections_dropped_total %llu\n",
	    (unsigned long long)hs->accept_dropped);
}

static char *
http_metrics(size_t *len)
{
	struct http_buf b = { xmalloc(4096), 0, 4096 };
	struct http_metrics_ctx mc;
	struct timespec ts;
	unsigned i;

	memset(&mc, 0, sizeof mc);
	mc.b = &b;
	clock_gettime(CLOCK_REALTIME, &ts);
	mc.now = ts.tv_sec + ts.tv_nsec / 1e9;
	for (i = 0; i < MF_MAX; i++) {
		mc.family = (enum metric_family)i;
		http_buf_printf(&b, "%s", mf_head[i]);
		registry_each(http_metrics_worker, &mc);
	}
	http_buf_printf(&b,
	    "# HELP fnwm_workers Workers by state.\n"
	    "# TYPE fnwm_workers gauge\n");
	for (i = 0; i < FNWM_WS_MAX; i++)
		http_buf_printf(&b, "fnwm_workers{state=\"%s\"} %zu\n",
		    fnwm_worker_state_name(i), mc.by_state[i]);
	http_buf_printf(&b, "fnwm_workers{state=\"unresponsive\"} %zu\n",
	    mc.unresponsive);
	http_metrics_hub(&b);
	http_buf_printf(&b,
	    "# HELP fnwm_master_resident_bytes Resident memory of "
	    "the master.\n# TYPE fnwm_master_resident_bytes gauge\n"
	    "fnwm_master_resident_bytes %ld\n",
	    http_rss_bytes());
	http_buf_printf(&b,
	    "# HELP fnwm_last_status_change_timestamp_seconds "
	    "When the worker lists last changed.\n"
	    "# TYPE fnwm_last_status_change_timestamp_seconds "
	    "gauge\nfnwm_last_status_change_timestamp_seconds %.3f\n",
	    registry_last_change());
	http_buf_printf(&b,
	    "# HELP fnwm_steps_running Virtual environment steps running "
	    "now.\n# TYPE fnwm_steps_running gauge\nfnwm_steps_running %d\n",
	    venv_steps_running());
	*len = b.len;
	return (b.s);
}

static const struct fnwm_config *http_cfg;

void
http_init(const struct fnwm_config *cfg)
{
	http_cfg = cfg;
}

static char *
http_healthz(unsigned *status, size_t *len)
{
	int writable = access(http_cfg->workers_dir, W_OK) == 0;
	char *s;

	*status = writable ? HTTP_STATUS_OK : HTTP_STATUS_SERVICE_UNAVAILABLE;
	s = xasprintf("{\"status\":\"%s\",\"workers_dir_writable\":%s,"
	              "\"workers\":%zu,\"monitors\":%zu,\"clients\":%zu}\n",
	    writable ? "ok" : "unhealthy", writable ? "true" : "false",
	    registry_count(), monitors_running(), hub_client_count());
	*len = strlen(s);
	return (s);
}

/*
 * Bodies waiting for their connection to be writeable, keyed by wsi: the
 * session memory of an HTTP connection belongs to the hub's WebSocket
 * protocol (see hub.c), so nothing is hung on it.
 */
struct http_pending {
	struct lws *wsi;
	char *body; /* LWS_PRE + len */
	size_t len;
	TAILQ_ENTRY(http_pending) entry;
};
static TAILQ_HEAD(, http_pending) http_list = TAILQ_HEAD_INITIALIZER(http_list);

static struct http_pending *
http_find(struct lws *wsi)
{
	struct http_pending *h;

	TAILQ_FOREACH(h, &http_list, entry)
		if (h->wsi == wsi)
			return (h);
	return (NULL);
}

int
http_reply(struct lws *wsi, unsigned status, const char *ctype,
    const struct http_header *extra, const void *body, size_t len)
{
	struct http_pending *pending;
	unsigned char hdr[LWS_PRE + 2048], *p = hdr + LWS_PRE,
	                                   *end = hdr + sizeof hdr;
	int is_head = lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0;

	if (lws_add_http_common_headers(wsi, status, ctype, len, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
	        (const unsigned char *)"no-store", 8, &p, end))
		return (-1);
	for (; extra != NULL && extra->name != NULL; extra++)
		if (lws_add_http_header_by_name(wsi,
		        (const unsigned char *)extra->name,
		        (const unsigned char *)extra->value,
		        (int)strlen(extra->value), &p, end))
			return (-1);
	if (lws_finalize_write_http_header(wsi, hdr + LWS_PRE, &p, end))
		return (-1);
	/* HEAD: lws would send a body; we keep only the headers. */
	if (is_head || len == 0)
		return (lws_http_transaction_completed(wsi) ? -1 : 0);
	http_release(wsi);
	pending = xcalloc(1, sizeof *pending);
	pending->wsi = wsi;
	pending->body = xmalloc(LWS_PRE + len);
	memcpy(pending->body + LWS_PRE, body, len);
	pending->len = len;
	TAILQ_INSERT_TAIL(&http_list, pending, entry);
	lws_callback_on_writable(wsi);
	return (0);
}

int
http_handle(struct lws *wsi, const char *path)
{
	const char *ctype;
	unsigned status = HTTP_STATUS_OK;
	char *body;
	size_t len;
	int r;

	if (strcmp(path, "/") == 0)
		return (web_handle(wsi));
	if (strcmp(path, "/healthz") == 0) {
		body = http_healthz(&status, &len);
		ctype = "application/json";
	} else if (strcmp(path, "/metrics") == 0) {
		body = http_metrics(&len);
		ctype = "text/plain; version=0.0.4; charset=utf-8";
	} else
		return (1); /* not ours */
	r = http_reply(wsi, status, ctype, NULL, body, len);
	free(body);
	return (r);
}

int
http_writeable(struct lws *wsi)
{
	struct http_pending *h = http_find(wsi);
	int n;

	if (h == NULL)
		return (0);
	n = lws_write(wsi, (unsigned char *)h->body + LWS_PRE, h->len,
	    LWS_WRITE_HTTP_FINAL);
	http_release(wsi);
	if (n < 0)
		return (-1);
	return (lws_http_transaction_completed(wsi) ? -1 : 0);
}

void
http_release(struct lws *wsi)
{
	struct http_pending *h = http_find(wsi);

	if (h == NULL)
		return;
	TAILQ_REMOVE(&http_list, h, entry);
	free(h->body);
	free(h);
}
