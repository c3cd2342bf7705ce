/* SPDX-License-Identifier: MIT */
/*
 * The one log API of fnwm: one line per event on stderr, prefixed with the
 * role and pid. Not for user-facing command output.
 */
#ifndef FNWM_LOG_H
#define FNWM_LOG_H

#include <time.h>
#include <stddef.h>
#include <stdint.h>

enum fnwm_log_level {
	FNWM_LOG_WARN = 0,
	FNWM_LOG_INFO = 1,
	FNWM_LOG_DEBUG = 2,
};

extern int fnwm_log_verbosity;

/* Sets the role shown in every line ("fnwm", "fnwm-monitor") and the level. */
void fnwm_log_init(const char *role, int verbosity);
/* Sets an optional tag printed after the pid (a monitor's worker name). */
void fnwm_log_set_tag(const char *tag);

/* Appends ": strerror(errno)". */
void log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_debug_(const char *, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void
fatal(const char *, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void
fatalx(const char *, ...) __attribute__((format(printf, 1, 2)));

/* Tests the level before evaluating the arguments. */
#define log_debug(...)                                    \
	do {                                              \
		if (fnwm_log_verbosity >= FNWM_LOG_DEBUG) \
			log_debug_(__VA_ARGS__);          \
	} while (0)

/*
 * Rate limit of a recurring warning (a limit hit, fds exhausted): at most
 * per_second lines in any one-second window. log_rate_ok() says whether
 * this one may be logged, and with *skipped how many were not since.
 */
struct log_rate {
	uint64_t window_ms;
	unsigned lines;
	unsigned long skipped;
};
int log_rate_ok(struct log_rate *, unsigned per_second, unsigned long *skipped);

/*
 * Copies at most len bytes of untrusted data into dst (size dstsz) with
 * every non-printable byte escaped as \ooo, cut with "..." when too long.
 * Returns dst.
 */
char *log_safe(char *dst, size_t dstsz, const void *src, size_t len);

/* Logs the broken invariant and aborts (core dump). */
__attribute__((noreturn)) void
fnwm_assert_fail(const char *expr, const char *file, int line);

#define FNWM_ASSERT(x)                                            \
	do {                                                      \
		if (!(x))                                         \
			fnwm_assert_fail(#x, __FILE__, __LINE__); \
	} while (0)

/* strerror(), untranslated. */
const char *log_strerror(int);

/* UTC calendar fields of t, without the time zone machinery. */
void log_utc(time_t, struct tm *);

#endif
