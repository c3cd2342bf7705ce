/* SPDX-License-Identifier: MIT */
/* The layer below the command table, as fuzz_ws_cmd sees it. */
#ifndef FNWM_MOCK_MASTER_H
#define FNWM_MOCK_MASTER_H

#define MOCK_ACTIVE   "fz-active"
#define MOCK_INACTIVE "fz-inactive"

struct mock_counts {
	unsigned long sent, ops, logs, exits;
	int ready; /* what registry_ready() answers */
};
extern struct mock_counts mock_counts;

void mock_init(const struct fnwm_config *, struct ws_client *);
void mock_free(void);

#endif
