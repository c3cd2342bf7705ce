/* SPDX-License-Identifier: MIT */
/* Logging to stderr, one line per event, OpenBSD log.c style. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

int fnwm_log_verbosity = FNWM_LOG_INFO;
static const char *log_role = "fnwm";
static char log_tag[64];

void
fnwm_log_init(const char *role, int verbosity)
{
	log_role = role;
	fnwm_log_verbosity = verbosity;
}

void
fnwm_log_set_tag(const char *tag)
{
	snprintf(log_tag, sizeof log_tag, "%s", tag ? tag : "");
}

/*
 * The English text of an errno (logs are not translated). Not glibc's
 * strerror: in a static binary it drags in gettext, iconv and the dynamic
 * loader. musl's strerror is a table lookup, in English.
 */
const char *
log_strerror(int err)
{
	static char unknown[32];
#ifdef __GLIBC__
	const char *s = strerrordesc_np(err);
#else
	const char *s = strerror(err);
#endif

	if (s != NULL)
		return (s);
	snprintf(unknown, sizeof unknown, "error %d", err);
	return (unknown);
}

/*
 * UTC calendar fields of a time (days to civil date, as in H. Hinnant's
 * chrono algorithms). Not gmtime_r: glibc loads the time zone on its first
 * call even for UTC, a file read and memory for nothing in a monitor.
 */
void
log_utc(time_t t, struct tm *tm)
{
	long long days = t / 86400, secs = t % 86400, era, doe, yoe, doy, mp;

	if (secs < 0) {
		secs += 86400;
		days--;
	}
	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	tm->tm_mday = (int)(doy - (153 * mp + 2) / 5 + 1);
	tm->tm_mon = (int)(mp < 10 ? mp + 2 : mp - 10);
	tm->tm_year = (int)(yoe + era * 400 + (tm->tm_mon <= 1) - 1900);
	tm->tm_hour = (int)(secs / 3600);
	tm->tm_min = (int)(secs / 60 % 60);
	tm->tm_sec = (int)(secs % 60);
}

/* Formats the whole line first so that one write(2) carries it. */
static void __attribute__((format(printf, 2, 0)))
log_vemit(const char *level, const char *fmt, va_list ap, const char *err)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	int n, m;

	clock_gettime(CLOCK_REALTIME, &ts);
	log_utc(ts.tv_sec, &tm);
	n = snprintf(line, sizeof line,
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld]%s%s %s: ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, ts.tv_nsec / 1000000L, log_role, (long)getpid(),
	    log_tag[0] ? " " : "", log_tag, level);
	if (n < 0 || (size_t)n >= sizeof line)
		n = 0;
	m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	if (m < 0)
		m = 0;
	n = (size_t)(n + m) >= sizeof line - 2 ? (int)sizeof line - 2 : n + m;
	if (err != NULL) {
		m = snprintf(line + n, sizeof line - (size_t)n - 1, ": %s",
		    err);
		if (m > 0)
			n = (size_t)(n + m) >= sizeof line - 2
			    ? (int)sizeof line - 2
			    : n + m;
	}
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vemit("warning", fmt, ap, log_strerror(saved));
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit("warning", fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (fnwm_log_verbosity < FNWM_LOG_INFO)
		return;
	va_start(ap, fmt);
	log_vemit("info", fmt, ap, NULL);
	va_end(ap);
}

void
log_debug_(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit("debug", fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vemit("fatal", fmt, ap, log_strerror(saved));
	va_end(ap);
	exit(111);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit("fatal", fmt, ap, NULL);
	va_end(ap);
	exit(111);
}

int
log_rate_ok(struct log_rate *r, unsigned per_second, unsigned long *skipped)
{
	uint64_t now = fnwm_now_ms();

	if (r->window_ms == 0 || now - r->window_ms >= 1000) {
		r->window_ms = now;
		r->lines = 0;
	}
	if (r->lines >= per_second) {
		r->skipped++;
		return (0);
	}
	r->lines++;
	*skipped = r->skipped;
	r->skipped = 0;
	return (1);
}

void
fnwm_assert_fail(const char *expr, const char *file, int line)
{
	log_warnx("assertion failed: %s at %s:%d", expr, file, line);
	abort();
}

char *
log_safe(char *dst, size_t dstsz, const void *src, size_t len)
{
	const unsigned char *s = src;
	size_t i, o = 0;

	if (dstsz == 0)
		return (dst);
	for (i = 0; i < len; i++) {
		unsigned char c = s[i];
		size_t need = (c >= 0x20 && c < 0x7f && c != '\\') ? 1 : 4;

		if (o + need + 4 > dstsz) {
			if (o + 4 <= dstsz) {
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (need == 1)
			dst[o++] = (char)c;
		else
			o += (size_t)snprintf(dst + o, dstsz - o, "\\%03o", c);
	}
	dst[o] = '\0';
	return (dst);
}
