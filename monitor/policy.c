/* SPDX-License-Identifier: MIT */
/*
 * Restart policy: restart a worker that dies after a healthy run at once,
 * one that dies soon after its start with exponential backoff, and give
 * up after K deaths within W (s6's death tally and permafailon, runit's
 * one-second gap as a timer).
 */
#include <string.h>

#include "defaults.h"
#include "proto.h"
#include "policy.h"

void
policy_defaults(struct policy_cfg *c)
{
	c->mode = FNWM_DEFAULT_RESTART;
	c->healthy_ms = FNWM_DEFAULT_HEALTHY_MS;
	c->backoff_initial_ms = FNWM_DEFAULT_BACKOFF_INITIAL_MS;
	c->backoff_max_ms = FNWM_DEFAULT_BACKOFF_MAX_MS;
	c->giveup_count = FNWM_DEFAULT_GIVEUP_COUNT;
	c->giveup_window_ms = FNWM_DEFAULT_GIVEUP_WINDOW_MS;
}

void
policy_reset(const struct policy_cfg *c, struct policy_state *s)
{
	uint32_t restarts = s->restarts;

	memset(s, 0, sizeof *s);
	s->restarts = restarts;
	s->backoff_ms = c->backoff_initial_ms;
}

static unsigned
policy_recent_deaths(const struct policy_cfg *c, const struct policy_state *s,
    uint64_t now_ms)
{
	unsigned i, n = 0;

	for (i = 0; i < s->ndeaths; i++)
		if (now_ms - s->deaths[i] <= c->giveup_window_ms)
			n++;
	return (n);
}

enum policy_verdict
policy_on_exit(const struct policy_cfg *c, struct policy_state *s,
    uint64_t now_ms, uint64_t uptime_ms, int code, int sig, uint32_t *delay_ms)
{
	*delay_ms = 0;
	if (c->mode == FNWM_RESTART_NEVER)
		return (POLICY_DOWN);
	/* A clean exit is a stop the worker chose (e.g. its stop command). */
	if (c->mode == FNWM_RESTART_ON_FAILURE && sig == 0 && code == 0)
		return (POLICY_DOWN);

	s->deaths[s->next] = now_ms;
	s->next = (s->next + 1) % POLICY_TALLY_MAX;
	if (s->ndeaths < POLICY_TALLY_MAX)
		s->ndeaths++;
	if (c->giveup_count > 0 &&
	    policy_recent_deaths(c, s, now_ms) >= c->giveup_count)
		return (POLICY_GIVE_UP);

	s->restarts++;
	if (uptime_ms >= c->healthy_ms) {
		s->backoff_ms = c->backoff_initial_ms;
		return (POLICY_RESTART_NOW);
	}
	if (s->backoff_ms == 0)
		s->backoff_ms = c->backoff_initial_ms;
	*delay_ms = s->backoff_ms;
	s->backoff_ms = s->backoff_ms > c->backoff_max_ms / 2
	    ? c->backoff_max_ms
	    : s->backoff_ms * 2;
	if (*delay_ms > c->backoff_max_ms)
		*delay_ms = c->backoff_max_ms;
	return (POLICY_BACKOFF);
}

const char *
policy_verdict_name(enum policy_verdict v)
{
	switch (v) {
	case POLICY_DOWN:
		return ("down");
	case POLICY_RESTART_NOW:
		return ("restart now");
	case POLICY_BACKOFF:
		return ("backoff");
	case POLICY_GIVE_UP:
		return ("give up");
	}
	return ("?");
}
