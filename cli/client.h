/* SPDX-License-Identifier: MIT */
/* the state of one run of the command line, and its exit codes */
#ifndef FNWM_CLI_CLIENT_H
#define FNWM_CLI_CLIENT_H

#include "config.h"
#include "wsclient.h"

#define CLI_OK          0
#define CLI_FAILED      1
#define CLI_USAGE       2
#define CLI_UNREACHABLE 3

struct cli {
	struct fnwm_config cfg;
	const char *host; /* what we dial */
	int port;
	int no_start;
	int tty; /* progress as a bar on stderr */
	int bar_shown;
	struct wsc_options wopts; /* TLS and token of every connection */
	char token[320];
	struct wsclient *ws;
};

#endif
