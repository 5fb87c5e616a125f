/*
 * Configuration: one option table drives parsing, defaults, validation
 * and printing.  libinih splits the INI syntax; we count lines ourselves
 * (the packaged libinih does not pass line numbers to handlers) so that
 * every error names FILE:LINE.
 */
#include "config.h"

#include "paths.h"
#include "util.h"

#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

enum opt_type {
	OPT_PATH,     /* an absolute path */
	OPT_SOCKET,   /* an absolute path that fits sockaddr_un */
	OPT_LOGLEVEL, /* error | warning | info | debug */
	OPT_UINT,     /* an integer in [min, max] */
	OPT_GROUP,    /* a group name or number */
};

struct option {
	const char *section;
	const char *key;
	enum opt_type type;
	size_t offset; /* of the field in struct config */
	long min, max; /* for OPT_UINT */
	bool reloadable;
	const char *help; /* printed above the option by config_print() */
};

#define CFG(field) offsetof(struct config, field)

static const struct option options[] = {
    {"daemon", "socket", OPT_SOCKET, CFG(socket_path), 0, 0, false,
     "control socket (rftctl connects here)"},
    {"daemon", "database", OPT_PATH, CFG(database_path), 0, 0, false,
     "SQLite database; its directory is created if missing"},
    {"daemon", "log_level", OPT_LOGLEVEL, CFG(log_level), 0, 0, true,
     "error, warning, info or debug"},
    {"daemon", "socket_group", OPT_GROUP, CFG(socket_group), 0, 0, false,
     "group allowed to use the socket (mode 0660); unset: owner only "
     "(0600)"},
    {"daemon", "idle_timeout", OPT_UINT, CFG(idle_timeout), 1, 86400, true,
     "seconds a silent client may stay connected"},
    {"daemon", "max_clients", OPT_UINT, CFG(max_clients), 1, 1024, true,
     "control connections served at once"},
};

/* Sections that later versions define; named so the error is helpful. */
static const char *const reserved_sections[] = {"backend ", "price ", "budget"};

struct parse {
	struct config *cfg;
	const char *file;
	FILE *fp;
	int line; /* line the reader returned last */
	bool seen[ARRAY_LEN(options)];
	int last_key_line; /* line of the previous key, for continuations */
	const struct option *last_key;
	char *errors; /* accumulated "FILE:LINE: msg\n" */
	size_t errors_len;
	int nerrors;
};

static void parse_error(struct parse *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
parse_error(struct parse *p, int line, const char *fmt, ...)
{
	char msg[512];
	char *entry;
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	entry = line > 0 ? xasprintf("%s:%d: %s\n", p->file, line, msg)
			 : xasprintf("%s: %s\n", p->file, msg);
	n = strlen(entry);
	p->errors = xrealloc(p->errors, p->errors_len + n + 1);
	memcpy(p->errors + p->errors_len, entry, n + 1);
	p->errors_len += n;
	p->nerrors++;
	free(entry);
}

static char **
str_field(struct config *cfg, const struct option *o)
{
	return (char **)(void *)((char *)cfg + o->offset);
}

static int
set_value(struct parse *p, const struct option *o, const char *value)
{
	struct config *cfg = p->cfg;
	void *field = (char *)cfg + o->offset;
	int64_t n;

	switch (o->type) {
	case OPT_SOCKET:
		if (strlen(value) >=
		    sizeof(((struct sockaddr_un *)0)->sun_path)) {
			parse_error(
			    p, p->line,
			    "%s: path too long for a socket (%zu bytes, "
			    "at most %zu)",
			    o->key, strlen(value),
			    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
			return -EINVAL;
		}
		/* FALLTHROUGH */
	case OPT_PATH:
		if (value[0] != '/') {
			parse_error(p, p->line,
				    "%s: must be an absolute path, not '%s'",
				    o->key, value);
			return -EINVAL;
		}
		free(*str_field(cfg, o));
		*str_field(cfg, o) = xstrdup(value);
		return 0;
	case OPT_LOGLEVEL:
		if (log_level_parse(value, (enum log_level *)field) != 0) {
			parse_error(p, p->line,
				    "%s: '%s' is not one of error, warning, "
				    "info, debug",
				    o->key, value);
			return -EINVAL;
		}
		return 0;
	case OPT_UINT:
		if (parse_i64(value, o->min, o->max, &n) != 0) {
			parse_error(p, p->line,
				    "%s: '%s' is not an integer in %ld..%ld",
				    o->key, value, o->min, o->max);
			return -EINVAL;
		}
		*(unsigned int *)field = (unsigned int)n;
		return 0;
	case OPT_GROUP: {
		struct group *gr = getgrnam(value);

		if (gr == NULL && parse_i64(value, 0, INT32_MAX, &n) == 0)
			gr = getgrgid((gid_t)n);
		if (gr == NULL) {
			parse_error(p, p->line, "%s: no such group '%s'",
				    o->key, value);
			return -EINVAL;
		}
		free(cfg->socket_group);
		cfg->socket_group = xstrdup(gr->gr_name);
		cfg->socket_gid = gr->gr_gid;
		return 0;
	}
	}
	return -EINVAL;
}

static int
on_key(void *user, const char *section, const char *key, const char *value)
{
	struct parse *p = user;
	const struct option *o = NULL;
	size_t i;

	if (*section == '\0') {
		parse_error(p, p->line, "'%s' is outside a section", key);
		return 1;
	}
	for (i = 0; i < ARRAY_LEN(reserved_sections); i++) {
		if (strncmp(section, reserved_sections[i],
			    strlen(reserved_sections[i])) == 0) {
			parse_error(p, p->line,
				    "section [%s] is not supported by this "
				    "version of rftd",
				    section);
			return 1;
		}
	}
	for (i = 0; i < ARRAY_LEN(options); i++) {
		if (strcmp(options[i].section, section) == 0 &&
		    strcmp(options[i].key, key) == 0) {
			o = &options[i];
			break;
		}
	}
	if (o == NULL) {
		bool known = false;

		for (size_t j = 0; j < ARRAY_LEN(options); j++)
			known |= strcmp(options[j].section, section) == 0;
		if (known)
			parse_error(p, p->line, "unknown key '%s' in [%s]", key,
				    section);
		else
			parse_error(p, p->line, "unknown section [%s]",
				    section);
		return 1;
	}
	if (o == p->last_key && p->last_key_line == p->line - 1 && p->seen[i]) {
		parse_error(p, p->line,
			    "indented line continues '%s'; continuation lines "
			    "are not supported",
			    key);
		return 1;
	}
	if (p->seen[i]) {
		parse_error(p, p->line, "'%s' is set twice in [%s]", key,
			    section);
		return 1;
	}
	p->seen[i] = true;
	p->last_key = o;
	p->last_key_line = p->line;
	set_value(p, o, value);
	return 1;
}

/*
 * An ini_reader that reads whole lines and counts them.  A line longer
 * than inih's buffer is reported and handed over as empty, so that its
 * tail cannot be parsed as a line of its own.
 */
static char *
read_line(char *str, int num, void *stream)
{
	struct parse *p = stream;
	size_t n = 0, cap = (size_t)num - 2;
	bool any = false, too_long = false;
	int c;

	while ((c = getc(p->fp)) != EOF) {
		any = true;
		if (c == '\n')
			break;
		if (n < cap)
			str[n++] = (char)c;
		else
			too_long = true;
	}
	if (!any)
		return NULL;
	p->line++;
	if (too_long) {
		parse_error(p, p->line, "line longer than %zu bytes", cap);
		n = 0;
	}
	str[n++] = '\n';
	str[n] = '\0';
	return str;
}

static void
set_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->socket_path = paths_default_socket();
	cfg->database_path = paths_default_database();
	cfg->log_level = LOG_LVL_INFO;
	cfg->idle_timeout = 300;
	cfg->max_clients = 64;
}

int
config_load(struct config *cfg, const char *path, bool must_exist,
	    char **errors)
{
	struct parse p = {.cfg = cfg, .file = path};
	int rc;

	*errors = NULL;
	set_defaults(cfg);
	if (path == NULL)
		return 0;
	p.fp = fopen(path, "r");
	if (p.fp == NULL) {
		rc = -errno;
		if (rc == -ENOENT && !must_exist)
			return 0;
		parse_error(&p, 0, "%s", strerror(-rc));
		goto fail;
	}
	cfg->path = xstrdup(path);
	rc = ini_parse_stream(read_line, &p, on_key, &p);
	fclose(p.fp);
	if (rc > 0)
		parse_error(&p, rc,
			    "syntax error: expected [section], key = value or "
			    "a comment");
	if (p.nerrors == 0)
		return 0;
	rc = -EINVAL;
fail:
	*errors = p.errors;
	config_free(cfg);
	return rc;
}

void
config_free(struct config *cfg)
{
	free(cfg->path);
	free(cfg->socket_path);
	free(cfg->database_path);
	free(cfg->socket_group);
	memset(cfg, 0, sizeof(*cfg));
}

void
config_print(const struct config *cfg, FILE *out)
{
	const char *section = NULL;

	fprintf(out, "# rftd configuration%s%s (normalized)\n",
		cfg->path ? " from " : " (defaults)",
		cfg->path ? cfg->path : "");
	for (size_t i = 0; i < ARRAY_LEN(options); i++) {
		const struct option *o = &options[i];
		const void *field = (const char *)cfg + o->offset;

		if (section == NULL || strcmp(section, o->section) != 0) {
			section = o->section;
			fprintf(out, "\n[%s]\n", section);
		}
		fprintf(out, "; %s\n", o->help);
		switch (o->type) {
		case OPT_PATH:
		case OPT_SOCKET:
		case OPT_GROUP: {
			const char *s = *(char *const *)field;

			if (s != NULL)
				fprintf(out, "%s = %s\n", o->key, s);
			else
				fprintf(out, ";%s =\n", o->key);
			break;
		}
		case OPT_LOGLEVEL:
			fprintf(out, "%s = %s\n", o->key,
				log_level_name(*(const enum log_level *)field));
			break;
		case OPT_UINT:
			fprintf(out, "%s = %u\n", o->key,
				*(const unsigned int *)field);
			break;
		}
	}
}

bool
config_needs_restart(const struct config *a, const struct config *b, char *buf,
		     size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_LEN(options); i++) {
		const struct option *o = &options[i];
		const char *x, *y;

		if (o->reloadable)
			continue;
		/* Every non-reloadable option is a string today. */
		x = *(char *const *)((const char *)a + o->offset);
		y = *(char *const *)((const char *)b + o->offset);
		if ((x == NULL) != (y == NULL) ||
		    (x != NULL && strcmp(x, y) != 0)) {
			if (used < len)
				snprintf(buf + used, len - used, "%s%s",
					 used ? ", " : "", o->key);
			used += strlen(o->key) + (used ? 2 : 0);
		}
	}
	return used > 0;
}
