/* SPDX-License-Identifier: MIT */
/* The frame codec of proto.h: pure functions over byte buffers, no I/O. */
#ifndef FNWM_MSG_H
#define FNWM_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* The longest MON_STEP summary and ERROR reason, NUL included. */
#define FNWM_MSG_TEXT_MAX 1024

struct fnwm_msg {
	struct fnwm_msg_hdr hdr;
	const void *payload; /* borrowed from the input, not aligned */
	size_t len;          /* payload bytes */
};

/*
 * Decodes one frame from buf. Returns 1 and fills msg and *used when a
 * complete, valid frame is there; 0 when more bytes are needed; -1 when
 * the bytes can never become a valid frame, with errno EBADMSG (bad
 * header), ERANGE (length out of bounds) or EPROTO (version, type, size
 * or strings wrong for the type).
 */
int fnwm_msg_decode(const void *buf, size_t len, struct fnwm_msg *msg,
    size_t *used);

/*
 * Encodes a frame into out (size outsz). Returns the frame length, or 0
 * when it does not fit or would not decode.
 */
size_t fnwm_msg_encode(void *out, size_t outsz, uint16_t type, uint32_t seq,
    const void *payload, size_t len);

/*
 * Payload encoders, beside the decoder. A fixed payload (MON_STATE,
 * MON_EXIT, CMD_STOP/RESTART/EXIT) is its struct as it is; HELLO has an
 * initializer; those with strings are laid out here and nowhere else.
 * Each encoder writes into out (outsz bytes) and returns the payload
 * length, or 0 when it would not fit in a frame or would not decode.
 */
void fnwm_msg_hello_init(struct fnwm_hello *, uint32_t pid, uint16_t role,
    uint16_t state);
/* CMD_CONFIG: c with argc set, the worker's log file, then argv. */
size_t
fnwm_msg_config_encode(void *out, size_t outsz, const struct fnwm_config_msg *c,
    const char *log, const char *const *argv, int argc);
/* CMD_STEP: c with argc and envc set, the working dir, argv, then env. */
size_t fnwm_msg_step_encode(void *out, size_t outsz,
    const struct fnwm_step_cmd *c, const char *cwd, const char *const *argv,
    int argc, const char *const *env, int envc);
/* MON_STEP: d, then the summary (FNWM_MSG_TEXT_MAX bytes at most). */
size_t fnwm_msg_step_done_encode(void *out, size_t outsz,
    const struct fnwm_step_done *d, const char *summary);

/*
 * Iterates the NUL-terminated strings after a payload's fixed part:
 * returns the next string at *off (advancing it), or NULL at the end.
 */
const char *fnwm_msg_string(const struct fnwm_msg *, size_t *off);

/* Name of a worker state ("running"), shared by logs, JSON and files. */
const char *fnwm_worker_state_name(unsigned state);

/* Name of a type for logs ("MON_STATE"), or "unknown". */
const char *fnwm_msg_type_name(uint16_t type);

#endif
