/* SPDX-License-Identifier: MIT */
/*
 * The master: the FuncNodes-compatible WebSocket hub over the workers
 * directory, one header per module (see docs/architecture.md).
 */
#ifndef FNWM_MASTER_H
#define FNWM_MASTER_H

#include "config.h"
#include "access.h"
#include "path.h"
#include "pep508.h"
#include "limit.h"
#include "lock.h"
#include "outmsg.h"
#include "hub.h"
#include "http.h"
#include "ws-cmd.h"
#include "jsonparse.h"
#include "wfiles.h"
#include "probe.h"
#include "registry.h"
#include "watch.h"
#include "launch.h"
#include "monitors.h"
#include "ops.h"
#include "autostart.h"
#include "liveness.h"
#include "logs.h"
#include "notify.h"
#include "summary.h"
#include "shutdown.h"

#endif
