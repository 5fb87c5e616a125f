/*
 * One logging module for the daemon: levels, printf-style messages to
 * stderr, with sd-daemon(3) "<N>" priority prefixes when stderr is the
 * journal (JOURNAL_STREAM is set) and plain lines otherwise.
 */
#ifndef RFTD_LOG_H
#define RFTD_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LVL_ERR = 3,   /* matches syslog's LOG_ERR */
	LOG_LVL_WARN = 4,  /* LOG_WARNING */
	LOG_LVL_INFO = 6,  /* LOG_INFO */
	LOG_LVL_DEBUG = 7, /* LOG_DEBUG */
};

/*
 * Sets the threshold and the output format.  Safe to call again (on reload).
 * `journal` forces the "<N>" prefixes; log_init_env() decides from
 * JOURNAL_STREAM instead.
 */
void log_init(enum log_level level, bool journal);
void log_init_env(enum log_level level);
/* Sends messages to syslog(3) from now on (a daemon that left its tty). */
void log_to_syslog(const char *ident);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* "error", "warning", "info", "debug" <-> level; -EINVAL when unknown. */
int log_level_parse(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);

/* log_warn() appends ": strerror(errno)"; the x variants do not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Log at error level and exit(1): for corrupt state and start-up only. */
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
