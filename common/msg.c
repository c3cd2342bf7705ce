/* SPDX-License-Identifier: MIT */
/*
 * The codec of common/proto.h. Every size rule lives in one table here, so
 * a handler may trust sizeof(struct ...) of what it is given.
 */
#include <errno.h>
#include <string.h>

#include "msg.h"

struct msg_rule {
	uint16_t type;
	const char *name;
	size_t min, max; /* payload bytes */
	size_t fixed;    /* bytes before the strings, if any */
	int strings;     /* 1: after fixed, only NUL-terminated strings */
};

static const struct msg_rule msg_rules[] = {
	{ FNWM_MSG_HELLO, "HELLO", sizeof(struct fnwm_hello),
	    sizeof(struct fnwm_hello), 0, 0 },
	{ FNWM_MSG_ERROR, "ERROR", 1, FNWM_MSG_TEXT_MAX, 0, 1 },
	{ FNWM_MSG_MON_STATE, "MON_STATE", sizeof(struct fnwm_state_msg),
	    sizeof(struct fnwm_state_msg), 0, 0 },
	{ FNWM_MSG_MON_EXIT, "MON_EXIT", sizeof(struct fnwm_exit_msg),
	    sizeof(struct fnwm_exit_msg), 0, 0 },
	{ FNWM_MSG_CMD_CONFIG, "CMD_CONFIG", sizeof(struct fnwm_config_msg) + 4,
	    FNWM_MSG_MAX - sizeof(struct fnwm_msg_hdr),
	    sizeof(struct fnwm_config_msg), 1 },
	{ FNWM_MSG_MON_STEP, "MON_STEP", sizeof(struct fnwm_step_done) + 1,
	    sizeof(struct fnwm_step_done) + FNWM_MSG_TEXT_MAX,
	    sizeof(struct fnwm_step_done), 1 },
	{ FNWM_MSG_CMD_START, "CMD_START", 0, 0, 0, 0 },
	{ FNWM_MSG_CMD_STOP, "CMD_STOP", sizeof(struct fnwm_stop_cmd),
	    sizeof(struct fnwm_stop_cmd), 0, 0 },
	{ FNWM_MSG_CMD_RESTART, "CMD_RESTART", sizeof(struct fnwm_stop_cmd),
	    sizeof(struct fnwm_stop_cmd), 0, 0 },
	{ FNWM_MSG_CMD_EXIT, "CMD_EXIT", sizeof(struct fnwm_stop_cmd),
	    sizeof(struct fnwm_stop_cmd), 0, 0 },
	{ FNWM_MSG_CMD_UNRESPONSIVE, "CMD_UNRESPONSIVE",
	    sizeof(struct fnwm_stop_cmd), sizeof(struct fnwm_stop_cmd), 0, 0 },
	{ FNWM_MSG_CMD_STEP, "CMD_STEP", sizeof(struct fnwm_step_cmd) + 4,
	    FNWM_MSG_MAX - sizeof(struct fnwm_msg_hdr),
	    sizeof(struct fnwm_step_cmd), 1 },
};

static const struct msg_rule *
msg_rule(uint16_t type)
{
	size_t i;

	for (i = 0; i < sizeof msg_rules / sizeof *msg_rules; i++)
		if (msg_rules[i].type == type)
			return (&msg_rules[i]);
	return (NULL);
}

const char *
fnwm_msg_type_name(uint16_t type)
{
	const struct msg_rule *r = msg_rule(type);

	return (r != NULL ? r->name : "unknown");
}

/* The strings part: non-empty, ends with NUL, no empty trailing garbage. */
static int
msg_strings_ok(const unsigned char *p, size_t len)
{
	return (len > 0 && p[len - 1] == '\0');
}

int
fnwm_msg_decode(const void *buf, size_t len, struct fnwm_msg *msg, size_t *used)
{
	const struct msg_rule *r;
	struct fnwm_msg_hdr hdr;
	size_t plen;

	if (len < sizeof hdr)
		return (0);
	memcpy(&hdr, buf, sizeof hdr);
	if (hdr.len < sizeof hdr) {
		errno = EBADMSG;
		return (-1);
	}
	if (hdr.len > FNWM_MSG_MAX) {
		errno = ERANGE;
		return (-1);
	}
	if (hdr.version != FNWM_PROTO_VERSION || hdr.flags != 0) {
		errno = EPROTO;
		return (-1);
	}
	r = msg_rule(hdr.type);
	plen = hdr.len - sizeof hdr;
	if (r == NULL || plen < r->min || plen > r->max) {
		errno = EPROTO;
		return (-1);
	}
	if (len < hdr.len)
		return (0);
	if (r->strings &&
	    !msg_strings_ok((const unsigned char *)buf + sizeof hdr + r->fixed,
	        plen - r->fixed)) {
		errno = EPROTO;
		return (-1);
	}
	msg->hdr = hdr;
	msg->payload = (const unsigned char *)buf + sizeof hdr;
	msg->len = plen;
	*used = hdr.len;
	return (1);
}

size_t
fnwm_msg_encode(void *out, size_t outsz, uint16_t type, uint32_t seq,
    const void *payload, size_t len)
{
	const struct msg_rule *r = msg_rule(type);
	struct fnwm_msg_hdr hdr;

	if (r == NULL || len < r->min || len > r->max ||
	    sizeof hdr + len > outsz || sizeof hdr + len > FNWM_MSG_MAX)
		return (0);
	if (r->strings &&
	    !msg_strings_ok((const unsigned char *)payload + r->fixed,
	        len - r->fixed))
		return (0);
	memset(&hdr, 0, sizeof hdr);
	hdr.len = (uint32_t)(sizeof hdr + len);
	hdr.type = type;
	hdr.version = FNWM_PROTO_VERSION;
	hdr.seq = seq;
	memcpy(out, &hdr, sizeof hdr);
	if (len > 0)
		memcpy((unsigned char *)out + sizeof hdr, payload, len);
	return (sizeof hdr + len);
}

void
fnwm_msg_hello_init(struct fnwm_hello *h, uint32_t pid, uint16_t role,
    uint16_t state)
{
	memset(h, 0, sizeof *h);
	h->pid = pid;
	h->role = role;
	h->state = state;
}

/*
 * Appends string s with its NUL at *off. Returns 0, or -1 when it does
 * not fit in outsz bytes (*off is then past outsz, so later calls fail).
 */
static int
msg_put_string(unsigned char *out, size_t outsz, size_t *off, const char *s)
{
	size_t n = strlen(s) + 1;

	if (*off > outsz || n > outsz - *off) {
		*off = outsz + 1;
		return (-1);
	}
	memcpy(out + *off, s, n);
	*off += n;
	return (0);
}

/* Appends count strings; as msg_put_string. */
static int
msg_put_strings(unsigned char *out, size_t outsz, size_t *off,
    const char *const *s, int count)
{
	int i;

	for (i = 0; i < count; i++)
		if (msg_put_string(out, outsz, off, s[i]) == -1)
			return (-1);
	return (0);
}

/* The payload room of one frame, at most outsz. */
static size_t
msg_room(size_t outsz)
{
	size_t max = FNWM_MSG_MAX - sizeof(struct fnwm_msg_hdr);

	return (outsz < max ? outsz : max);
}

size_t
fnwm_msg_config_encode(void *out, size_t outsz, const struct fnwm_config_msg *c,
    const char *log, const char *const *argv, int argc)
{
	struct fnwm_config_msg fixed;
	size_t room = msg_room(outsz), off = sizeof fixed;

	memcpy(&fixed, c, sizeof fixed); /* padding and all */
	if (argc < 1 || argc > FNWM_ARGV_MAX || room < sizeof fixed)
		return (0);
	fixed.argc = (uint16_t)argc;
	memcpy(out, &fixed, sizeof fixed);
	if (msg_put_string(out, room, &off, log) == -1 ||
	    msg_put_strings(out, room, &off, argv, argc) == -1)
		return (0);
	return (off);
}

size_t
fnwm_msg_step_encode(void *out, size_t outsz, const struct fnwm_step_cmd *c,
    const char *cwd, const char *const *argv, int argc, const char *const *env,
    int envc)
{
	struct fnwm_step_cmd fixed;
	size_t room = msg_room(outsz), off = sizeof fixed;

	memcpy(&fixed, c, sizeof fixed); /* padding and all */
	if (argc < 1 || argc > FNWM_ARGV_MAX || envc < 0 ||
	    envc > FNWM_ENV_MAX || room < sizeof fixed)
		return (0);
	fixed.argc = (uint16_t)argc;
	fixed.envc = (uint16_t)envc;
	memcpy(out, &fixed, sizeof fixed);
	if (msg_put_string(out, room, &off, cwd) == -1 ||
	    msg_put_strings(out, room, &off, argv, argc) == -1 ||
	    msg_put_strings(out, room, &off, env, envc) == -1)
		return (0);
	return (off);
}

size_t
fnwm_msg_step_done_encode(void *out, size_t outsz,
    const struct fnwm_step_done *d, const char *summary)
{
	size_t room = msg_room(outsz), off = sizeof *d;

	if (room > sizeof *d + FNWM_MSG_TEXT_MAX)
		room = sizeof *d + FNWM_MSG_TEXT_MAX;
	if (room < sizeof *d)
		return (0);
	memcpy(out, d, sizeof *d);
	if (msg_put_string(out, room, &off, summary) == -1)
		return (0);
	return (off);
}

const char *
fnwm_msg_string(const struct fnwm_msg *msg, size_t *off)
{
	const struct msg_rule *r = msg_rule(msg->hdr.type);
	const char *p = msg->payload;
	const char *s;

	if (r == NULL || !r->strings)
		return (NULL);
	if (*off < r->fixed)
		*off = r->fixed;
	if (*off >= msg->len)
		return (NULL);
	s = p + *off;
	*off += strlen(s) + 1; /* the decoder checked the final NUL */
	return (s);
}

static const char *const msg_state_names[FNWM_WS_MAX] = {
	[FNWM_WS_DOWN] = "down",
	[FNWM_WS_STARTING] = "starting",
	[FNWM_WS_RUNNING] = "running",
	[FNWM_WS_STOPPING] = "stopping",
	[FNWM_WS_BACKOFF] = "backoff",
	[FNWM_WS_FAILED] = "failed",
};

const char *
fnwm_worker_state_name(unsigned state)
{
	return (state < FNWM_WS_MAX ? msg_state_names[state] : "unknown");
}
