/* Levelled logging to stderr, journald-aware (see log.h). */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

static enum log_level threshold = LOG_LVL_INFO;
static bool journal_prefix;
static bool use_syslog;

static const struct {
	enum log_level level;
	const char *name;
} level_names[] = {
    {LOG_LVL_ERR, "error"},
    {LOG_LVL_WARN, "warning"},
    {LOG_LVL_INFO, "info"},
    {LOG_LVL_DEBUG, "debug"},
};

void
log_init(enum log_level level, bool journal)
{
	threshold = level;
	journal_prefix = journal;
}

void
log_init_env(enum log_level level)
{
	const char *js = getenv("JOURNAL_STREAM");

	log_init(level, js != NULL && *js != '\0');
}

void
log_to_syslog(const char *ident)
{
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	use_syslog = true;
}

void
log_set_level(enum log_level level)
{
	threshold = level;
}

enum log_level
log_get_level(void)
{
	return threshold;
}

int
log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]);
	     i++) {
		if (strcasecmp(name, level_names[i].name) == 0) {
			*out = level_names[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

const char *
log_level_name(enum log_level level)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]);
	     i++)
		if (level_names[i].level == level)
			return level_names[i].name;
	return "unknown";
}

static void
vlog(enum log_level level, const char *errstr, const char *fmt, va_list ap)
{
	char msg[2048];
	int saved = errno;

	if (level > threshold) {
		errno = saved;
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (use_syslog) {
		if (errstr != NULL)
			syslog((int)level, "%s: %s", msg, errstr);
		else
			syslog((int)level, "%s", msg);
		errno = saved;
		return;
	}
	if (journal_prefix)
		fprintf(stderr, "<%d>", (int)level);
	else if (level <= LOG_LVL_WARN)
		fprintf(stderr, "%s: ", log_level_name(level));
	if (errstr != NULL)
		fprintf(stderr, "%s: %s\n", msg, errstr);
	else
		fprintf(stderr, "%s\n", msg);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	const char *e = strerror(errno);

	va_start(ap, fmt);
	vlog(LOG_LVL_WARN, e, fmt, ap);
	va_end(ap);
}

#define LOG_FN(fn, level)                                                      \
	void fn(const char *fmt, ...)                                          \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		vlog(level, NULL, fmt, ap);                                    \
		va_end(ap);                                                    \
	}

LOG_FN(log_warnx, LOG_LVL_WARN)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_debug, LOG_LVL_DEBUG)
LOG_FN(log_err, LOG_LVL_ERR)

void
fatal(const char *fmt, ...)
{
	va_list ap;
	const char *e = strerror(errno);

	va_start(ap, fmt);
	vlog(LOG_LVL_ERR, e, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
