/*
 * Configuration: one option table drives parsing, defaults, validation
 * and printing.  libinih splits the INI syntax; our line reader sees each
 * raw line first, counts lines (the packaged libinih does not pass line
 * numbers to handlers) and reports the syntax errors, so that every
 * error names FILE:LINE and all of them are reported.
 */
#include "config.h"

#include "jsonutil.h"
#include "paths.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
#define MAX_BACKENDS 64

enum opt_type {
	OPT_PATH,	  /* an absolute path */
	OPT_SOCKET,	  /* an absolute path that fits sockaddr_un */
	OPT_LOGLEVEL,	  /* error | warning | info | debug */
	OPT_UINT,	  /* an integer in [min, max] */
	OPT_DOUBLE,	  /* a number in [min, max] */
	OPT_GROUP,	  /* a group name or number */
	OPT_BACKEND_TYPE, /* a backend type this rftd implements */
	OPT_MONEY,	  /* USD >= 0; unset is -1 */
	OPT_ACTION,	  /* pause | cancel */
	OPT_STRING,	  /* any text without control characters */
	OPT_URL,	  /* http:// or https://, no trailing '/' kept */
	OPT_BOOL,	  /* yes | no | true | false | 1 | 0 */
	OPT_CHOICE,	  /* one of option.choices */
};

enum opt_section {
	SEC_DAEMON,  /* [daemon]; fields of struct config */
	SEC_BACKEND, /* [backend "NAME"]; fields of struct config_backend */
	SEC_PRICE,   /* [price "BACKEND/MODEL"]; struct config_price */
	SEC_BUDGET,  /* [budget]; fields of struct config */
};

struct option {
	enum opt_section section;
	const char *key;
	enum opt_type type;
	size_t offset;	 /* of the field in its struct */
	double min, max; /* for OPT_UINT and OPT_DOUBLE */
	bool reloadable;
	const char *help;  /* printed above the option by config_print() */
	const char *types; /* backend types it applies to */
	const char *const *choices; /* for OPT_CHOICE */
};

static const char *const dialects[] = {"openai", "azure", NULL};

#define CFG(field) offsetof(struct config, field)
#define BE(field)  offsetof(struct config_backend, field)
#define PR(field)  offsetof(struct config_price, field)

static const struct option options[] = {
    {SEC_DAEMON, "socket", OPT_SOCKET, CFG(socket_path), 0, 0, false,
     "control socket (rftctl connects here)"},
    {SEC_DAEMON, "database", OPT_PATH, CFG(database_path), 0, 0, false,
     "SQLite database; its directory is created if missing"},
    {SEC_DAEMON, "log_level", OPT_LOGLEVEL, CFG(log_level), 0, 0, true,
     "error, warning, info or debug"},
    {SEC_DAEMON, "socket_group", OPT_GROUP, CFG(socket_group), 0, 0, false,
     "group allowed to use the socket (mode 0660); unset: owner only "
     "(0600)"},
    {SEC_DAEMON, "idle_timeout", OPT_UINT, CFG(idle_timeout), 1, 86400, true,
     "seconds a silent client may stay connected"},
    {SEC_DAEMON, "max_clients", OPT_UINT, CFG(max_clients), 1, 1024, true,
     "control connections served at once"},
    {SEC_DAEMON, "tick", OPT_UINT, CFG(tick_ms), 10, 60000, true,
     "scheduler tick in milliseconds: admission, polling, metering"},
    {SEC_DAEMON, "max_trials_per_sweep", OPT_UINT, CFG(max_trials), 1, 1000000,
     true, "a sweep expanding to more trials is refused"},
    {SEC_BACKEND, "type", OPT_BACKEND_TYPE, BE(type), 0, 0, false,
     "sim: the built-in simulator; openai: an OpenAI-compatible "
     "fine-tuning API"},
    {SEC_BACKEND, "max_concurrent", OPT_UINT, BE(max_concurrent), 1, 10000,
     true, "jobs running at once on this backend"},
    {SEC_BACKEND, "speed", OPT_DOUBLE, BE(speed), 1, 1e7, true,
     "sim: simulated seconds per real second (3600: an hour a second)", "sim"},
    {SEC_BACKEND, "failure_rate", OPT_DOUBLE, BE(failure_rate), 0, 1, true,
     "sim: probability that a job fails part way", "sim"},
    {SEC_BACKEND, "pause_after_hours", OPT_DOUBLE, BE(pause_after_hours), 0,
     1e6, true,
     "sim: the provider pauses a job after this much training, as Azure "
     "does at its cost cap (0: never)",
     "sim"},
    {SEC_BACKEND, "dialect", OPT_CHOICE, BE(dialect), 0, 0, true,
     "openai: Authorization: Bearer; azure: the api-key header", "openai",
     dialects},
    {SEC_BACKEND, "base_url", OPT_URL, BE(base_url), 0, 0, true,
     "the API up to the version: https://api.openai.com/v1, or "
     "https://NAME.openai.azure.com/openai/v1",
     "openai"},
    {SEC_BACKEND, "api_version", OPT_STRING, BE(api_version), 0, 0, true,
     "azure: the dated API (base_url .../openai, ?api-version=); unset: "
     "the v1 API",
     "openai"},
    {SEC_BACKEND, "api_key_file", OPT_PATH, BE(api_key_file), 0, 0, true,
     "a file holding the API key (one of api_key_file, api_key_env, "
     "api_key_credential)",
     "openai"},
    {SEC_BACKEND, "api_key_env", OPT_STRING, BE(api_key_env), 0, 0, true,
     "an environment variable holding the API key", "openai"},
    {SEC_BACKEND, "api_key_credential", OPT_STRING, BE(api_key_credential), 0,
     0, true, "a systemd credential (LoadCredential=) holding the API key",
     "openai"},
    {SEC_BACKEND, "organization", OPT_STRING, BE(organization), 0, 0, true,
     "sent as OpenAI-Organization", "openai"},
    {SEC_BACKEND, "project", OPT_STRING, BE(project), 0, 0, true,
     "sent as OpenAI-Project", "openai"},
    {SEC_BACKEND, "training_type", OPT_STRING, BE(training_type), 0, 0, true,
     "azure: trainingType of new jobs (e.g. globalstandard); unset: the "
     "provider's default",
     "openai"},
    {SEC_BACKEND, "ca_file", OPT_PATH, BE(ca_file), 0, 0, false,
     "CA certificates to verify the API's TLS with; unset: the system's",
     "openai"},
    {SEC_BACKEND, "poll_interval", OPT_DOUBLE, BE(poll_interval), 0.05, 3600,
     true, "seconds between two polls of a live job", "openai"},
    {SEC_BACKEND, "request_timeout", OPT_DOUBLE, BE(request_timeout), 1, 600,
     true, "seconds one request may take", "openai"},
    {SEC_BACKEND, "connect_timeout", OPT_DOUBLE, BE(connect_timeout), 0.1, 120,
     false, "seconds to connect to the API", "openai"},
    {SEC_BACKEND, "preflight", OPT_BOOL, BE(preflight), 0, 0, true,
     "validate every grader with the provider before a sweep is accepted",
     "openai"},
    {SEC_PRICE, "per_training_hour", OPT_DOUBLE, PR(per_training_hour), 0, 1e6,
     true, "USD per hour of training (the billed wall-clock time)"},
    {SEC_PRICE, "grader_per_mtok_in", OPT_DOUBLE, PR(grader_per_mtok_in), 0,
     1e6, true, "USD per million input tokens of model graders"},
    {SEC_PRICE, "grader_per_mtok_out", OPT_DOUBLE, PR(grader_per_mtok_out), 0,
     1e6, true, "USD per million output tokens of model graders"},
    {SEC_BUDGET, "global", OPT_MONEY, CFG(budget_global), 0, 1e9, true,
     "USD for all jobs, all time; unset: no limit"},
    {SEC_BUDGET, "global_action", OPT_ACTION, CFG(global_action), 0, 0, true,
     "pause (where the backend can) or cancel at the limit"},
    {SEC_BUDGET, "day", OPT_MONEY, CFG(budget_day), 0, 1e9, true,
     "USD for all jobs in any 24 hours; unset: no limit"},
    {SEC_BUDGET, "day_action", OPT_ACTION, CFG(day_action), 0, 0, true,
     "pause or cancel"},
    {SEC_BUDGET, "month", OPT_MONEY, CFG(budget_month), 0, 1e9, true,
     "USD for all jobs in any 30 days; unset: no limit"},
    {SEC_BUDGET, "month_action", OPT_ACTION, CFG(month_action), 0, 0, true,
     "pause or cancel"},
    {SEC_BUDGET, "default_max_job_hours", OPT_DOUBLE,
     CFG(default_max_job_hours), 0.01, 720, true,
     "a sweep without max_job_hours gets this"},
    {SEC_BUDGET, "grader_mtok_in_per_hour", OPT_DOUBLE,
     CFG(grader_mtok_in_per_hour), 0, 1e6, true,
     "model-grader input tokens per training hour (millions), estimated"},
    {SEC_BUDGET, "grader_mtok_out_per_hour", OPT_DOUBLE,
     CFG(grader_mtok_out_per_hour), 0, 1e6, true,
     "model-grader output tokens per training hour (millions), estimated"},
    {SEC_BUDGET, "cancel_latency", OPT_DOUBLE, CFG(cancel_latency), 0, 3600,
     true, "seconds a pause or cancel takes to stop the billing"},
};

static const char *const backend_types[] = {"sim", "openai", NULL};

_Static_assert(ARRAY_LEN(options) <= 64, "seen masks are 64 bits");

struct parse {
	struct config *cfg;
	const char *file;
	FILE *fp;
	int line;		/* line the reader returned last */
	bool section_bad;	/* keys of this section are not checked */
	bool after_key;		/* the previous non-blank line was a key */
	uint64_t daemon_seen;	/* bit per option: set in [daemon] */
	size_t backend;		/* the [backend] section being read */
	uint64_t *backend_seen; /* the same per backend */
	int (*backend_lines)[ARRAY_LEN(options)]; /* where each was set */
	uint64_t *price_seen;			  /* the same per price */
	uint64_t budget_seen;
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

static void
backend_defaults(struct config_backend *be, const char *name)
{
	memset(be, 0, sizeof(*be));
	be->name = xstrdup(name);
	be->speed = 3600;
	be->failure_rate = 0;
	be->max_concurrent = 8;
	be->poll_interval = 30;
	be->request_timeout = 60;
	be->connect_timeout = 10;
	be->preflight = true;
}

static struct config_backend *
backend_find(struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nbackends; i++)
		if (strcmp(cfg->backends[i].name, name) == 0)
			return &cfg->backends[i];
	return NULL;
}

const struct config_backend *
config_backend(const struct config *cfg, const char *name)
{
	return backend_find((struct config *)cfg, name);
}

static struct config_backend *
backend_add(struct parse *p, const char *name)
{
	struct config *cfg = p->cfg;
	struct config_backend *be;

	cfg->backends = xrealloc(cfg->backends,
				 (cfg->nbackends + 1) * sizeof(*cfg->backends));
	p->backend_seen = xrealloc(
	    p->backend_seen, (cfg->nbackends + 1) * sizeof(*p->backend_seen));
	p->backend_seen[cfg->nbackends] = 0;
	p->backend_lines = xrealloc(
	    p->backend_lines, (cfg->nbackends + 1) * sizeof(*p->backend_lines));
	memset(p->backend_lines[cfg->nbackends], 0, sizeof(*p->backend_lines));
	be = &cfg->backends[cfg->nbackends++];
	backend_defaults(be, name);
	be->line = p->line;
	return be;
}

static struct config_price *
price_find(struct config *cfg, const char *backend, const char *model)
{
	for (size_t i = 0; i < cfg->nprices; i++)
		if (strcmp(cfg->prices[i].backend, backend) == 0 &&
		    strcmp(cfg->prices[i].model, model) == 0)
			return &cfg->prices[i];
	return NULL;
}

const struct config_price *
config_price(const struct config *cfg, const char *backend, const char *model)
{
	const struct config_price *p =
	    price_find((struct config *)cfg, backend, model);

	return p != NULL ? p : price_find((struct config *)cfg, backend, "*");
}

static struct config_price *
price_add(struct parse *p, const char *backend, const char *model)
{
	struct config *cfg = p->cfg;
	struct config_price *pr;

	cfg->prices =
	    xrealloc(cfg->prices, (cfg->nprices + 1) * sizeof(*cfg->prices));
	p->price_seen = xrealloc(p->price_seen,
				 (cfg->nprices + 1) * sizeof(*p->price_seen));
	p->price_seen[cfg->nprices] = 0;
	pr = &cfg->prices[cfg->nprices++];
	memset(pr, 0, sizeof(*pr));
	pr->backend = xstrdup(backend);
	pr->model = xstrdup(model);
	pr->line = p->line;
	return pr;
}

static bool valid_backend_name(const char *name, size_t len);

/* [price "BACKEND/MODEL"]: `spec` is the quoted part, `len` bytes. */
static bool
add_price(struct parse *p, const char *spec, size_t len)
{
	char *text = strndup(spec, len), *slash = strchr(text, '/');
	bool ok = false;

	if (slash == NULL || slash[1] == '\0' ||
	    !valid_backend_name(text, (size_t)(slash - text))) {
		parse_error(p, p->line,
			    "price \"%s\" must be \"BACKEND/MODEL\" (MODEL "
			    "may be *)",
			    text);
	} else {
		*slash = '\0';
		if (price_find(p->cfg, text, slash + 1) != NULL)
			parse_error(p, p->line,
				    "price \"%s/%s\" is defined twice", text,
				    slash + 1);
		else
			ok = price_add(p, text, slash + 1) != NULL;
	}
	free(text);
	return ok;
}

static bool
valid_backend_name(const char *name, size_t len)
{
	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) &&
		    strchr("_.-", name[i]) == NULL)
			return false;
	return true;
}

/*
 * A section header, checked when it is read: [daemon] or
 * [backend "NAME"].  Returns false when its keys should be ignored.
 */
static bool
check_section(struct parse *p, const char *name)
{
	size_t len = strlen(name);

	if (strcmp(name, "daemon") == 0)
		return true;
	if (strncmp(name, "backend \"", 9) == 0 && len > 10 &&
	    name[len - 1] == '"') {
		char *be = strndup(name + 9, len - 10);
		bool added = false;

		if (!valid_backend_name(be, strlen(be)))
			parse_error(p, p->line,
				    "backend name '%s' must be 1..64 letters, "
				    "digits, '_', '.' or '-'",
				    be);
		else if (backend_find(p->cfg, be) != NULL)
			parse_error(p, p->line,
				    "backend \"%s\" is defined "
				    "twice",
				    be);
		else if (p->cfg->nbackends >= MAX_BACKENDS)
			parse_error(p, p->line, "more than %d backends",
				    MAX_BACKENDS);
		else {
			backend_add(p, be);
			p->backend = p->cfg->nbackends - 1;
			added = true;
		}
		free(be);
		/* A refused section has no backend for its keys to go to. */
		return added;
	}
	if (strcmp(name, "budget") == 0)
		return true;
	if (strncmp(name, "price \"", 7) == 0 && len > 8 &&
	    name[len - 1] == '"')
		return add_price(p, name + 7, len - 8);
	parse_error(p, p->line,
		    "unknown section [%s]; expected [daemon], [backend "
		    "\"NAME\"], [price \"BACKEND/MODEL\"] or [budget]",
		    name);
	return false;
}

static int
set_value(struct parse *p, void *base, const struct option *o,
	  const char *value)
{
	void *field = (char *)base + o->offset;
	char **str = field;
	int64_t n;
	double d;

	switch (o->type) {
	case OPT_SOCKET:
		if (strlen(value) > SUN_PATH_MAX) {
			parse_error(p, p->line,
				    "%s: path too long for a socket (%zu "
				    "bytes, at most %zu)",
				    o->key, strlen(value), SUN_PATH_MAX);
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
		free(*str);
		*str = xstrdup(value);
		return 0;
	case OPT_LOGLEVEL:
		if (log_level_parse(value, field) != 0) {
			parse_error(p, p->line,
				    "%s: '%s' is not one of error, warning, "
				    "info, debug",
				    o->key, value);
			return -EINVAL;
		}
		return 0;
	case OPT_UINT:
		if (parse_i64(value, (int64_t)o->min, (int64_t)o->max, &n) !=
		    0) {
			parse_error(p, p->line,
				    "%s: '%s' is not an integer in %.0f..%.0f",
				    o->key, value, o->min, o->max);
			return -EINVAL;
		}
		*(unsigned int *)field = (unsigned int)n;
		return 0;
	case OPT_DOUBLE:
		if (parse_double(value, o->min, o->max, &d) != 0) {
			parse_error(p, p->line,
				    "%s: '%s' is not a number in %g..%g",
				    o->key, value, o->min, o->max);
			return -EINVAL;
		}
		*(double *)field = d;
		return 0;
	case OPT_BACKEND_TYPE:
		for (size_t i = 0; backend_types[i] != NULL; i++) {
			if (strcmp(value, backend_types[i]) == 0) {
				free(*str);
				*str = xstrdup(value);
				return 0;
			}
		}
		parse_error(p, p->line,
			    "type: '%s' is not a backend type this rftd "
			    "implements (sim, openai)",
			    value);
		return -EINVAL;
	case OPT_STRING:
		for (const char *c = value; *c != '\0'; c++) {
			if ((unsigned char)*c < 0x20 || *c == 0x7f) {
				parse_error(p, p->line,
					    "%s: control characters are not "
					    "allowed",
					    o->key);
				return -EINVAL;
			}
		}
		free(*str);
		*str = xstrdup(value);
		return 0;
	case OPT_URL: {
		size_t len = strlen(value);

		if ((strncmp(value, "https://", 8) != 0 &&
		     strncmp(value, "http://", 7) != 0) ||
		    strpbrk(value, " \t\r\n?#") != NULL || len > 2048) {
			parse_error(p, p->line,
				    "%s: '%s' is not an http:// or https:// "
				    "URL without query or fragment",
				    o->key, value);
			return -EINVAL;
		}
		while (len > 0 && value[len - 1] == '/')
			len--;
		free(*str);
		*str = strndup(value, len);
		return 0;
	}
	case OPT_BOOL:
		if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 ||
		    strcmp(value, "1") == 0 || strcmp(value, "on") == 0) {
			*(bool *)field = true;
			return 0;
		}
		if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0 ||
		    strcmp(value, "0") == 0 || strcmp(value, "off") == 0) {
			*(bool *)field = false;
			return 0;
		}
		parse_error(p, p->line, "%s: '%s' is not yes or no", o->key,
			    value);
		return -EINVAL;
	case OPT_CHOICE:
		for (size_t i = 0; o->choices[i] != NULL; i++) {
			if (strcmp(value, o->choices[i]) == 0) {
				free(*str);
				*str = xstrdup(value);
				return 0;
			}
		}
		parse_error(p, p->line, "%s: '%s' is not one of %s%s%s", o->key,
			    value, o->choices[0], o->choices[1] ? ", " : "",
			    o->choices[1] ? o->choices[1] : "");
		return -EINVAL;
	case OPT_MONEY:
		if (parse_double(value, o->min, o->max, &d) != 0) {
			parse_error(p, p->line,
				    "%s: '%s' is not an amount of USD in "
				    "0..%g",
				    o->key, value, o->max);
			return -EINVAL;
		}
		*(double *)field = d;
		return 0;
	case OPT_ACTION:
		if (strcmp(value, "pause") == 0 ||
		    strcmp(value, "cancel") == 0) {
			*(enum config_action *)field =
			    value[0] == 'p' ? CONFIG_PAUSE : CONFIG_CANCEL;
			return 0;
		}
		parse_error(p, p->line, "%s: '%s' is not pause or cancel",
			    o->key, value);
		return -EINVAL;
	case OPT_GROUP: {
		struct group *gr = getgrnam(value);

		if (gr == NULL && parse_i64(value, 0, INT32_MAX, &n) == 0)
			gr = getgrgid((gid_t)n);
		if (gr == NULL) {
			parse_error(p, p->line, "%s: no such group '%s'",
				    o->key, value);
			return -EINVAL;
		}
		free(*str);
		*str = xstrdup(gr->gr_name);
		p->cfg->socket_gid = gr->gr_gid;
		return 0;
	}
	}
	return -EINVAL;
}

static int
on_key(void *user, const char *section, const char *key, const char *value)
{
	struct parse *p = user;
	enum opt_section sec = SEC_DAEMON;
	uint64_t *seen = &p->daemon_seen;
	void *base = p->cfg;
	size_t i;

	if (p->section_bad)
		return 1;
	if (*section == '\0') {
		parse_error(p, p->line, "'%s' is outside a section", key);
		return 1;
	}
	if (strcmp(section, "budget") == 0) {
		sec = SEC_BUDGET;
		seen = &p->budget_seen;
	} else if (strncmp(section, "price ", 6) == 0) {
		/* The section just added (check_section vetted it). */
		sec = SEC_PRICE;
		base = &p->cfg->prices[p->cfg->nprices - 1];
		seen = &p->price_seen[p->cfg->nprices - 1];
	} else if (strcmp(section, "daemon") != 0) {
		/*
		 * The section just added (check_section vetted it), not one
		 * found by the name inih passes: inih cuts long section names.
		 */
		sec = SEC_BACKEND;
		base = &p->cfg->backends[p->backend];
		seen = &p->backend_seen[p->backend];
	}
	for (i = 0; i < ARRAY_LEN(options); i++)
		if (options[i].section == sec &&
		    strcmp(options[i].key, key) == 0)
			break;
	if (i == ARRAY_LEN(options)) {
		parse_error(p, p->line, "unknown key '%s' in [%s]", key,
			    section);
		return 1;
	}
	if (*seen & (1ull << i)) {
		parse_error(p, p->line, "'%s' is set twice in [%s]", key,
			    section);
		return 1;
	}
	*seen |= 1ull << i;
	if (sec == SEC_BACKEND)
		p->backend_lines[p->backend][i] = p->line;
	set_value(p, base, &options[i], value);
	return 1;
}

/* Checks one raw line; returns false when inih must not see it. */
static bool
check_line(struct parse *p, const char *line)
{
	const char *s = line, *end;
	char *name;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0' || *s == '\r' || *s == ';' || *s == '#')
		return true;
	if (s != line && p->after_key) {
		parse_error(p, p->line,
			    "indented line continues the previous value; "
			    "continuation lines are not supported");
		return false;
	}
	if (*s == '[') {
		p->after_key = false;
		end = strchr(s, ']');
		if (end == NULL) {
			parse_error(p, p->line,
				    "syntax error: '[' without ']'");
			p->section_bad = true;
			return false;
		}
		name = strndup(s + 1, (size_t)(end - s - 1));
		p->section_bad = !check_section(p, name);
		free(name);
		return true;
	}
	p->after_key = true;
	if (strpbrk(s, "=:") == NULL) {
		parse_error(p, p->line,
			    "syntax error: expected [section], key = value "
			    "or a comment");
		return false;
	}
	return true;
}

/*
 * An ini_reader that reads whole lines, counts them and checks them.  A
 * line it reports is handed to inih as blank, so that one mistake makes
 * one error.
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
	if (ferror(p->fp)) {
		parse_error(p, p->line + 1, "read error: %s", strerror(errno));
		return NULL;
	}
	if (!any)
		return NULL;
	p->line++;
	str[n] = '\0';
	if (too_long) {
		parse_error(p, p->line, "line longer than %zu bytes", cap);
		n = 0;
	} else if (!check_line(p, str)) {
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
	cfg->tick_ms = 200;
	cfg->max_trials = 10000;
	cfg->budget_global = cfg->budget_day = cfg->budget_month = -1;
	cfg->default_max_job_hours = 4;
	cfg->grader_mtok_in_per_hour = 2;
	cfg->grader_mtok_out_per_hour = 0.5;
	cfg->cancel_latency = 5;
}

/* The line of a backend's option `key`; 0 when it was not set. */
static int
option_line(const int *lines, const char *key)
{
	for (size_t i = 0; i < ARRAY_LEN(options); i++)
		if (options[i].section == SEC_BACKEND &&
		    strcmp(options[i].key, key) == 0)
			return lines[i];
	return 0;
}

/* The options of an openai backend: defaults, and how they fit. */
static void
finish_openai(struct parse *p, struct config_backend *be, const int *lines)
{
	int keys = (be->api_key_file != NULL) + (be->api_key_env != NULL) +
		   (be->api_key_credential != NULL);

	if (option_line(lines, "max_concurrent") == 0)
		be->max_concurrent = 3; /* OpenAI's limit of running jobs */
	if (be->dialect == NULL)
		be->dialect = xstrdup("openai");
	if (keys != 1)
		parse_error(p, be->line,
			    "backend \"%s\": set exactly one of api_key_file, "
			    "api_key_env and api_key_credential",
			    be->name);
	if (be->base_url == NULL && strcmp(be->dialect, "azure") == 0)
		parse_error(p, be->line,
			    "backend \"%s\": dialect azure needs base_url "
			    "(https://NAME.openai.azure.com/openai/v1)",
			    be->name);
	else if (be->base_url == NULL)
		be->base_url = xstrdup("https://api.openai.com/v1");
	if (be->api_version != NULL && strcmp(be->dialect, "azure") != 0)
		parse_error(p, option_line(lines, "api_version"),
			    "backend \"%s\": api_version is for dialect azure",
			    be->name);
}

/* Options that belong to another type of backend are mistakes. */
static void
check_backend_options(struct parse *p, const struct config_backend *be,
		      const int *lines)
{
	for (size_t i = 0; i < ARRAY_LEN(options); i++) {
		const struct option *o = &options[i];

		if (o->section == SEC_BACKEND && o->types != NULL &&
		    lines[i] > 0 && strcmp(o->types, be->type) != 0)
			parse_error(p, lines[i],
				    "backend \"%s\": %s applies to type %s, "
				    "not %s",
				    be->name, o->key, o->types, be->type);
	}
}

/* A built-in price, unless the configuration prices the backend. */
static void
default_price(struct parse *p, const char *backend, const char *model,
	      double per_hour)
{
	for (size_t k = 0; k < p->cfg->nprices; k++)
		if (strcmp(p->cfg->prices[k].backend, backend) == 0 &&
		    (strcmp(p->cfg->prices[k].model, model) == 0 ||
		     strcmp(p->cfg->prices[k].model, "*") == 0))
			return;
	price_add(p, backend, model)->per_training_hour = per_hour;
	p->cfg->prices[p->cfg->nprices - 1].line = 0;
}

/* Every backend has a type; "sim" exists even when not configured. */
static void
finish_backends(struct parse *p)
{
	struct config *cfg = p->cfg;

	for (size_t i = 0; i < cfg->nbackends; i++) {
		struct config_backend *be = &cfg->backends[i];

		if (be->type == NULL) {
			parse_error(p, be->line, "backend \"%s\" needs a type",
				    be->name);
			continue;
		}
		check_backend_options(p, be, p->backend_lines[i]);
		if (strcmp(be->type, "openai") == 0) {
			finish_openai(p, be, p->backend_lines[i]);
			/* The published price of RFT on o4-mini. */
			default_price(p, be->name, "o4-mini-2025-04-16", 100);
		}
	}
	if (backend_find(cfg, "sim") == NULL) {
		struct config_backend *be = backend_add(p, "sim");

		be->type = xstrdup("sim");
		be->line = 0;
	}
	for (size_t i = 0; i < cfg->nprices; i++)
		if (backend_find(cfg, cfg->prices[i].backend) == NULL)
			parse_error(p, cfg->prices[i].line,
				    "price \"%s/%s\": no backend \"%s\"",
				    cfg->prices[i].backend,
				    cfg->prices[i].model,
				    cfg->prices[i].backend);
	/* Simulated jobs cost simulated dollars: $100 an hour, like o4-mini,
	 * unless the configuration prices them. */
	for (size_t i = 0; i < cfg->nbackends; i++) {
		const char *name = cfg->backends[i].name;
		bool priced = false;

		if (cfg->backends[i].type == NULL ||
		    strcmp(cfg->backends[i].type, "sim") != 0)
			continue;
		for (size_t k = 0; k < cfg->nprices; k++)
			priced |= strcmp(cfg->prices[k].backend, name) == 0;
		if (!priced)
			default_price(p, name, "*", 100);
	}
}

int
config_load(struct config *cfg, const char *path, bool must_exist,
	    char **errors)
{
	struct parse p = {.cfg = cfg, .file = path};
	int rc;

	*errors = NULL;
	set_defaults(cfg);
	if (path != NULL) {
		p.fp = fopen(path, "r");
		if (p.fp == NULL && (errno != ENOENT || must_exist)) {
			rc = -errno;
			parse_error(&p, 0, "%s", strerror(-rc));
			goto fail;
		}
	}
	if (p.fp != NULL) {
		cfg->path = xstrdup(path);
		rc = ini_parse_stream(read_line, &p, on_key, &p);
		fclose(p.fp);
		if (rc > 0)
			parse_error(&p, rc, "syntax error");
	}
	finish_backends(&p);
	free(p.backend_seen);
	free(p.backend_lines);
	free(p.price_seen);
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
	for (size_t i = 0; i < cfg->nbackends; i++) {
		struct config_backend *be = &cfg->backends[i];

		free(be->name);
		free(be->type);
		free(be->dialect);
		free(be->base_url);
		free(be->api_version);
		free(be->api_key_file);
		free(be->api_key_env);
		free(be->api_key_credential);
		free(be->organization);
		free(be->project);
		free(be->training_type);
		free(be->ca_file);
	}
	free(cfg->backends);
	for (size_t i = 0; i < cfg->nprices; i++) {
		free(cfg->prices[i].backend);
		free(cfg->prices[i].model);
	}
	free(cfg->prices);
	memset(cfg, 0, sizeof(*cfg));
}

static void
print_section(FILE *out, enum opt_section sec, const void *base,
	      const char *type)
{
	for (size_t i = 0; i < ARRAY_LEN(options); i++) {
		const struct option *o = &options[i];
		const void *field = (const char *)base + o->offset;

		if (o->section != sec)
			continue;
		if (o->types != NULL && type != NULL &&
		    strcmp(o->types, type) != 0)
			continue;
		fprintf(out, "; %s\n", o->help);
		switch (o->type) {
		case OPT_PATH:
		case OPT_SOCKET:
		case OPT_GROUP:
		case OPT_STRING:
		case OPT_URL:
		case OPT_CHOICE:
		case OPT_BACKEND_TYPE: {
			const char *s = *(char *const *)field;

			if (s != NULL)
				fprintf(out, "%s = %s\n", o->key, s);
			else
				fprintf(out, ";%s =\n", o->key);
			break;
		}
		case OPT_ACTION:
			fprintf(out, "%s = %s\n", o->key,
				*(const enum config_action *)field ==
					CONFIG_PAUSE
				    ? "pause"
				    : "cancel");
			break;
		case OPT_BOOL:
			fprintf(out, "%s = %s\n", o->key,
				*(const bool *)field ? "yes" : "no");
			break;
		case OPT_LOGLEVEL:
			fprintf(out, "%s = %s\n", o->key,
				log_level_name(*(const enum log_level *)field));
			break;
		case OPT_UINT:
			fprintf(out, "%s = %u\n", o->key,
				*(const unsigned int *)field);
			break;
		case OPT_MONEY:
			if (*(const double *)field < 0) {
				fprintf(out, ";%s =\n", o->key);
				break;
			}
			/* FALLTHROUGH */
		case OPT_DOUBLE: {
			char num[64];

			json_print_number(num, sizeof(num),
					  *(const double *)field);
			fprintf(out, "%s = %s\n", o->key, num);
			break;
		}
		}
	}
}

void
config_print(const struct config *cfg, FILE *out)
{
	fprintf(out, "# rftd configuration%s%s (normalized)\n",
		cfg->path ? " from " : " (defaults)",
		cfg->path ? cfg->path : "");
	fprintf(out, "\n[daemon]\n");
	print_section(out, SEC_DAEMON, cfg, NULL);
	for (size_t i = 0; i < cfg->nbackends; i++) {
		fprintf(out, "\n[backend \"%s\"]\n", cfg->backends[i].name);
		print_section(out, SEC_BACKEND, &cfg->backends[i],
			      cfg->backends[i].type);
	}
	for (size_t i = 0; i < cfg->nprices; i++) {
		fprintf(out, "\n[price \"%s/%s\"]\n", cfg->prices[i].backend,
			cfg->prices[i].model);
		print_section(out, SEC_PRICE, &cfg->prices[i], NULL);
	}
	fprintf(out, "\n[budget]\n");
	print_section(out, SEC_BUDGET, cfg, NULL);
}

static bool
str_differs(const char *x, const char *y)
{
	return (x == NULL) != (y == NULL) || (x != NULL && strcmp(x, y) != 0);
}

bool
config_needs_restart(const struct config *a, const struct config *b, char *buf,
		     size_t len)
{
	size_t used = 0;

#define NOTE(what)                                                             \
	do {                                                                   \
		if (used < len)                                                \
			snprintf(buf + used, len - used, "%s%s",               \
				 used ? ", " : "", what);                      \
		used += strlen(what) + (used ? 2 : 0);                         \
	} while (0)

	buf[0] = '\0';
	if (str_differs(a->socket_path, b->socket_path))
		NOTE("socket");
	if (str_differs(a->database_path, b->database_path))
		NOTE("database");
	if (str_differs(a->socket_group, b->socket_group))
		NOTE("socket_group");
	if (a->nbackends != b->nbackends)
		NOTE("backends");
	else
		for (size_t i = 0; i < a->nbackends; i++)
			if (str_differs(a->backends[i].name,
					b->backends[i].name) ||
			    str_differs(a->backends[i].type,
					b->backends[i].type)) {
				NOTE("backends");
				break;
			} else if (str_differs(a->backends[i].ca_file,
					       b->backends[i].ca_file) ||
				   a->backends[i].connect_timeout !=
				       b->backends[i].connect_timeout) {
				NOTE("ca_file, connect_timeout");
				break;
			}
#undef NOTE
	return used > 0;
}
