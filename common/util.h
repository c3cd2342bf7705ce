/* SPDX-License-Identifier: MIT */
/* Small helpers shared by every fnwm program: numbers, time, ids, fds. */
#ifndef FNWM_UTIL_H
#define FNWM_UTIL_H

#include <sys/types.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parses a decimal integer in [min, max] from the whole of s (surrounding
 * ASCII whitespace allowed). Returns 0 and stores it, or -1 (EINVAL/ERANGE).
 */
int fnwm_parse_int(const char *s, long long min, long long max, long long *out);

/* Milliseconds and microseconds of CLOCK_MONOTONIC. */
uint64_t fnwm_now_ms(void);
uint64_t fnwm_now_us(void);

/*
 * Whether id is a worker id that may become part of a file name:
 * 1..128 characters of [A-Za-z0-9._-], not starting with '.'.
 */
int fnwm_worker_id_valid(const char *id, size_t len);
/*
 * The longest uuid new_worker accepts: its monitor's socket,
 * /proc/self/fd/<fd>/worker_<uuid>.sock, must fit sun_path (108 bytes)
 * for a new master to re-adopt it.
 */
#define FNWM_UUID_MAX 64

/* Sets O_NONBLOCK / FD_CLOEXEC. Return 0 or -1. */
int fnwm_set_nonblock(int fd);
int fnwm_set_cloexec(int fd, int on);

/*
 * What we know about a process from /proc: 1 alive, 0 gone (or a zombie),
 * -1 unknown (no /proc). start_ticks, when not NULL, gets field 22 of
 * /proc/PID/stat (clock ticks since boot).
 */
int fnwm_proc_alive(pid_t pid, unsigned long long *start_ticks);
/* The same judgement from the text of a /proc/PID/stat (NUL-terminated). */
int fnwm_proc_stat_parse(const char *buf, unsigned long long *start_ticks);

/*
 * In a forked child before exec (async-signal-safe): every signal back to
 * its default and an empty mask, since exec keeps ignored signals (lws
 * ignores SIGPIPE) and the mask; and stdin from /dev/null.
 */
void fnwm_child_reset_signals(void);
/*
 * The same for a process whose dispositions do not change once it runs:
 * the signals it handles or ignores, learnt once (fnwm_signals_taken),
 * are all a child needs to reset; a few calls instead of one per signal.
 */
void fnwm_signals_taken(sigset_t *);
void fnwm_child_reset_taken(const sigset_t *);
void fnwm_child_close_from(int lowfd);
void fnwm_sleep_ms(unsigned ms);
int fnwm_child_stdin_null(void);

/*
 * The pid holding an exclusive flock on path, from /proc/locks (no lock
 * is taken to find out, so a holder-to-be is never blocked), or 0.
 */
pid_t fnwm_flock_holder(const char *path);
/* The holder a /proc/locks line names for the file dev:ino, or 0. */
pid_t fnwm_locks_line_holder(const char *line, dev_t dev, ino_t ino);

/* Boot time in seconds since the epoch (from /proc/stat), or 0. */
long long fnwm_boot_time(void);

#endif
