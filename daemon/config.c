/*
 * Configuration: one option table drives parsing, defaults, validation
 * and printing.  libinih splits the INI syntax; our line reader sees each
 * raw line first, counts lines (the packaged libinih does not pass line
 * numbers to handlers) and reports the syntax errors, so that every
 * error names FILE:LINE and all of them are reported.
 */
#include "config.h"

#include "backend.h"
#include "jsonutil.h"
#include "paths.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>

#define SUN_PATH_MAX	(sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
#define MAX_BACKENDS	64
#define CONFIG_LINE_MAX 16384  /* bytes of one line, without its end */
#define LONG_VALUE	'\x1b' /* starts a stand-in for a long value */

enum opt_section {
	SEC_DAEMON,  /* [daemon]; fields of struct config */
	SEC_BACKEND, /* [backend "NAME"]; struct config_backend, then the
			type's own options */
	SEC_PRICE,   /* [price "BACKEND/MODEL"]; struct config_price */
	SEC_BUDGET,  /* [budget]; fields of struct config */
	SEC_HTTP,    /* [http]; fields of struct config */
	SEC_NOTIFY,  /* [notify]; fields of struct config */
};

#define CFG(field) offsetof(struct config, field)
#define BE(field)  offsetof(struct config_backend, field)
#define PR(field)  offsetof(struct config_price, field)

static const struct config_option daemon_options[] = {
    {"socket", CONFIG_SOCKET, CFG(socket_path), 0, 0, false,
     "control socket (rftctl connects here)"},
    {"database", CONFIG_PATH, CFG(database_path), 0, 0, false,
     "SQLite database; its directory is created if missing"},
    {"log_level", CONFIG_LOGLEVEL, CFG(log_level), 0, 0, true,
     "error, warning, info or debug"},
    {"socket_group", CONFIG_GROUP, CFG(socket_group), 0, 0, false,
     "group allowed to use the socket (mode 0660); unset: owner only "
     "(0600)"},
    {"idle_timeout", CONFIG_UINT, CFG(idle_timeout), 1, 86400, true,
     "seconds a silent client may stay connected"},
    {"max_clients", CONFIG_UINT, CFG(max_clients), 1, 1024, true,
     "control connections served at once"},
    {"tick", CONFIG_UINT, CFG(tick_ms), 10, 60000, true,
     "scheduler tick in milliseconds: admission, polling, metering"},
    {"max_trials_per_sweep", CONFIG_UINT, CFG(max_trials), 1, 1000000, true,
     "a sweep expanding to more trials is refused"},
};

/* What every backend has; `type` is read first and chooses the rest. */
static const struct config_option backend_options[] = {
    {"max_concurrent", CONFIG_UINT, BE(max_concurrent), 1, 10000, true,
     "jobs running at once on this backend", "8"},
};

static const struct config_option price_options[] = {
    {"per_training_hour", CONFIG_DOUBLE, PR(per_training_hour), 0, 1e6, true,
     "USD per hour of training (the billed wall-clock time)"},
    {"per_gpu_hour", CONFIG_DOUBLE, PR(per_gpu_hour), 0, 1e6, true,
     "USD per GPU-hour: a job costs gpus_per_job x hours x this"},
    {"grader_per_mtok_in", CONFIG_DOUBLE, PR(grader_per_mtok_in), 0, 1e6, true,
     "USD per million input tokens of model graders"},
    {"grader_per_mtok_out", CONFIG_DOUBLE, PR(grader_per_mtok_out), 0, 1e6,
     true, "USD per million output tokens of model graders"},
};

static const struct config_option budget_options[] = {
    {"global", CONFIG_MONEY, CFG(budget_global), 0, 1e9, true,
     "USD for all jobs, all time; unset: no limit"},
    {"global_action", CONFIG_ACTION, CFG(global_action), 0, 0, true,
     "pause (where the backend can) or cancel at the limit"},
    {"day", CONFIG_MONEY, CFG(budget_day), 0, 1e9, true,
     "USD for all jobs in any 24 hours; unset: no limit"},
    {"day_action", CONFIG_ACTION, CFG(day_action), 0, 0, true,
     "pause or cancel"},
    {"month", CONFIG_MONEY, CFG(budget_month), 0, 1e9, true,
     "USD for all jobs in any 30 days; unset: no limit"},
    {"month_action", CONFIG_ACTION, CFG(month_action), 0, 0, true,
     "pause or cancel"},
    {"default_max_job_hours", CONFIG_DOUBLE, CFG(default_max_job_hours), 0.01,
     720, true, "a sweep without max_job_hours gets this"},
    {"grader_mtok_in_per_hour", CONFIG_DOUBLE, CFG(grader_mtok_in_per_hour), 0,
     1e6, true,
     "model-grader input tokens per training hour (millions), estimated"},
    {"grader_mtok_out_per_hour", CONFIG_DOUBLE, CFG(grader_mtok_out_per_hour),
     0, 1e6, true,
     "model-grader output tokens per training hour (millions), estimated"},
    {"cancel_latency", CONFIG_DOUBLE, CFG(cancel_latency), 0, 3600, true,
     "seconds a pause or cancel takes to stop the billing"},
    {"confirm_above", CONFIG_MONEY, CFG(confirm_above), 0, 1e9, true,
     "a sweep whose worst case is more USD is submitted only when "
     "confirmed (rftctl submit --yes); unset: never asked"},
};

static const struct config_option http_options[] = {
    {"listen", CONFIG_LISTEN, CFG(http_listen), 0, 0, false,
     "serve the read-only dashboard at HOST:PORT (127.0.0.1:8787, "
     "[::1]:8787); unset: no dashboard"},
    {"allow_remote", CONFIG_BOOL, CFG(http_allow_remote), 0, 0, false,
     "yes: a non-loopback listen address is allowed, and every request "
     "must carry the token"},
    {"token_file", CONFIG_PATH, CFG(http_token_file), 0, 0, false,
     "the token's file (mode 0600, made when missing); default: beside "
     "the database"},
    {"max_connections", CONFIG_UINT, CFG(http_max_connections), 1, 4096, false,
     "dashboard connections served at once"},
};

static const struct config_option notify_options[] = {
    {"command", CONFIG_STRING, CFG(notify_command), 0, 0, true,
     "run by /bin/sh -c for each event, the event's JSON on its stdin; "
     "exit 0 means delivered"},
    {"url", CONFIG_ENDPOINT, CFG(notify_url), 0, 0, true,
     "POST each event here, signed as Standard Webhooks do (plain http "
     "only to this machine)"},
    {"secret_file", CONFIG_PATH, CFG(notify_secret_file), 0, 0, true,
     "the signing secret, whsec_... (mode 0600, made when missing); "
     "default: beside the database"},
    {"events", CONFIG_EVENTS, CFG(notify_events), 0, 0, true,
     "which events: all, or some of sweep.completed budget.halted "
     "job.failed provider.hold_started provider.hold_ended "
     "trial.early_stopped"},
    {"timeout", CONFIG_DURATION, CFG(notify_timeout), 1, 600, true,
     "how long one delivery may take before it counts as failed"},
    {"retry_for", CONFIG_DURATION, CFG(notify_retry_for), 60, 30 * 86400, true,
     "a failing delivery is retried, backing off, for this long"},
};

struct table {
	const struct config_option *opts;
	size_t n;
};

static const struct table tables[] = {
    [SEC_DAEMON] = {daemon_options, ARRAY_LEN(daemon_options)},
    [SEC_BACKEND] = {backend_options, ARRAY_LEN(backend_options)},
    [SEC_PRICE] = {price_options, ARRAY_LEN(price_options)},
    [SEC_BUDGET] = {budget_options, ARRAY_LEN(budget_options)},
    [SEC_HTTP] = {http_options, ARRAY_LEN(http_options)},
    [SEC_NOTIFY] = {notify_options, ARRAY_LEN(notify_options)},
};

const char *const config_event_names[CONFIG_EV_COUNT] = {
    [CONFIG_EV_SWEEP_COMPLETED] = "sweep.completed",
    [CONFIG_EV_BUDGET_HALTED] = "budget.halted",
    [CONFIG_EV_JOB_FAILED] = "job.failed",
    [CONFIG_EV_PROVIDER_HOLD_STARTED] = "provider.hold_started",
    [CONFIG_EV_PROVIDER_HOLD_ENDED] = "provider.hold_ended",
    [CONFIG_EV_TRIAL_EARLY_STOPPED] = "trial.early_stopped",
};

int
config_event(const char *name)
{
	for (int i = 0; i < CONFIG_EV_COUNT; i++)
		if (strcmp(config_event_names[i], name) == 0)
			return i;
	return -1;
}

/* The option `key` of a table, or NULL. */
static const struct config_option *
table_find(const struct config_option *opts, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(opts[i].key, key) == 0)
			return &opts[i];
	return NULL;
}

/* A key = value of a backend section, applied once its type is known. */
struct pending {
	char *key;
	char *value;
	int line;
};

struct backend_keys {
	struct pending *keys;
	size_t n;
};

struct parse {
	struct config *cfg;
	const char *file;
	FILE *fp;
	int line;	      /* line the reader returned last */
	bool section_bad;     /* keys of this section are not checked */
	char *section;	      /* the section the check took last, or NULL */
	bool after_key;	      /* the previous non-blank line was a key */
	uint64_t daemon_seen; /* bit per option: set in [daemon] */
	size_t backend;	      /* the [backend] section being read */
	struct backend_keys *backend_keys; /* per backend, until its type */
	uint64_t *price_seen;		   /* bit per option, per price */
	uint64_t budget_seen;
	uint64_t http_seen;
	uint64_t notify_seen;
	int listen_line;    /* where [http] listen was set */
	char **long_values; /* values too long for inih's line buffer */
	size_t nlong;
	char *errors; /* accumulated "FILE:LINE: msg\n" */
	size_t errors_len;
	int nerrors;
};

_Static_assert(ARRAY_LEN(daemon_options) <= 64 &&
		   ARRAY_LEN(price_options) <= 64 &&
		   ARRAY_LEN(budget_options) <= 64 &&
		   ARRAY_LEN(http_options) <= 64 &&
		   ARRAY_LEN(notify_options) <= 64 && CONFIG_EV_COUNT <= 32,
	       "seen masks are 64 bits");

/* A backend type checking its options (config_check_*). */
struct config_check {
	struct parse *p;
	struct config_backend *be;
	const struct backend_keys *keys;
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
backend_init(struct config_backend *be, const char *name, int line)
{
	memset(be, 0, sizeof(*be));
	be->name = xstrdup(name);
	be->line = line;
}

static struct config_backend *
config_backend_find(struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nbackends; i++)
		if (strcmp(cfg->backends[i].name, name) == 0)
			return &cfg->backends[i];
	return NULL;
}

const struct config_backend *
config_backend(const struct config *cfg, const char *name)
{
	return config_backend_find((struct config *)cfg, name);
}

static struct config_backend *
backend_add(struct parse *p, const char *name)
{
	struct config *cfg = p->cfg;

	cfg->backends = xrealloc(cfg->backends,
				 (cfg->nbackends + 1) * sizeof(*cfg->backends));
	p->backend_keys = xrealloc(
	    p->backend_keys, (cfg->nbackends + 1) * sizeof(*p->backend_keys));
	memset(&p->backend_keys[cfg->nbackends], 0, sizeof(*p->backend_keys));
	backend_init(&cfg->backends[cfg->nbackends], name, p->line);
	return &cfg->backends[cfg->nbackends++];
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
		else if (config_backend_find(p->cfg, be) != NULL)
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
	if (strcmp(name, "budget") == 0 || strcmp(name, "http") == 0 ||
	    strcmp(name, "notify") == 0)
		return true;
	if (strncmp(name, "price \"", 7) == 0 && len > 8 &&
	    name[len - 1] == '"')
		return add_price(p, name + 7, len - 8);
	parse_error(p, p->line,
		    "unknown section [%s]; expected [daemon], [backend "
		    "\"NAME\"], [price \"BACKEND/MODEL\"], [budget], [http] "
		    "or [notify]",
		    name);
	return false;
}

/* "30", "30s", "2m", "1.5h": seconds in [min, max]. */
static int
parse_duration(const char *value, double min, double max, double *out)
{
	size_t len = strlen(value);
	double unit = 1, d;
	char *num;
	int rc;

	if (len > 0 && strchr("smh", value[len - 1]) != NULL) {
		unit = value[len - 1] == 'h'   ? 3600
		       : value[len - 1] == 'm' ? 60
					       : 1;
		len--;
	}
	num = strndup(value, len);
	rc = parse_double(num, min / unit, max / unit, &d);
	free(num);
	if (rc != 0)
		return -EINVAL;
	*out = d * unit;
	return 0;
}

/* Whether the numeric address `ss` reaches only this machine. */
static bool
addr_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)ss)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

/*
 * A host as written in a URL or a listen value ("127.0.0.1", "[::1]",
 * "localhost"; `len` bytes) to an address with `port`.  Names other than
 * localhost are not resolved: 0, or -EINVAL.
 */
static int
host_addr(const char *host, size_t len, unsigned int port,
	  struct sockaddr_storage *out)
{
	char text[INET6_ADDRSTRLEN + 2];

	memset(out, 0, sizeof(*out));
	if (len == 0 || len >= sizeof(text))
		return -EINVAL;
	if (host[0] == '[') {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;

		if (len < 3 || host[len - 1] != ']')
			return -EINVAL;
		memcpy(text, host + 1, len - 2);
		text[len - 2] = '\0';
		if (inet_pton(AF_INET6, text, &in6->sin6_addr) != 1)
			return -EINVAL;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	memcpy(text, host, len);
	text[len] = '\0';
	if (strcasecmp(text, "localhost") == 0)
		snprintf(text, sizeof(text), "127.0.0.1");
	{
		struct sockaddr_in *in = (struct sockaddr_in *)out;

		if (inet_pton(AF_INET, text, &in->sin_addr) != 1)
			return -EINVAL;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
	}
	return 0;
}

int
config_listen_addr(const char *listen, struct sockaddr_storage *out,
		   bool *loopback)
{
	const char *colon = strrchr(listen, ':');
	int64_t port;

	*loopback = false;
	if (colon == NULL || parse_i64(colon + 1, 1, 65535, &port) != 0)
		return -EINVAL;
	/* A bare IPv6 address has colons of its own: brackets first. */
	if (listen[0] != '[' && memchr(listen, ':', (size_t)(colon - listen)))
		return -EINVAL;
	if (host_addr(listen, (size_t)(colon - listen), (unsigned int)port,
		      out) != 0)
		return -EINVAL;
	*loopback = addr_loopback(out);
	return 0;
}

/* "http://HOST[:PORT]/..." names this machine (an address or localhost). */
static bool
url_loopback(const char *url)
{
	const char *host = strstr(url, "://"), *end, *at;
	struct sockaddr_storage ss;

	if (host == NULL)
		return false;
	host += 3;
	end = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(end - host));
	if (at != NULL)
		host = at + 1;
	if (*host == '[') {
		const char *close = memchr(host, ']', (size_t)(end - host));

		if (close == NULL)
			return false;
		end = close + 1;
	} else {
		const char *colon = memchr(host, ':', (size_t)(end - host));

		if (colon != NULL)
			end = colon;
	}
	return host_addr(host, (size_t)(end - host), 0, &ss) == 0 &&
	       addr_loopback(&ss);
}

/* "a, b c" or "all": a bit per enum config_event; -EINVAL names the bad
 * one in `bad`. */
static int
parse_events(const char *value, unsigned int *out, char *bad, size_t badlen)
{
	unsigned int bits = 0;
	const char *s = value;

	while (*s != '\0') {
		size_t n;
		char name[64];
		int ev;

		s += strspn(s, ", \t");
		n = strcspn(s, ", \t");
		if (n == 0)
			break;
		snprintf(name, sizeof(name), "%.*s", (int)n, s);
		s += n;
		if (strcmp(name, "all") == 0) {
			bits |= (1u << CONFIG_EV_COUNT) - 1;
			continue;
		}
		ev = n < sizeof(name) ? config_event(name) : -1;
		if (ev < 0) {
			snprintf(bad, badlen, "%s", name);
			return -EINVAL;
		}
		bits |= 1u << ev;
	}
	if (bits == 0) {
		snprintf(bad, badlen, "%s", "");
		return -EINVAL;
	}
	*out = bits;
	return 0;
}

static int
set_value(struct parse *p, int line, void *base, const struct config_option *o,
	  const char *value)
{
	void *field = (char *)base + o->offset;
	char **str = field;
	int64_t n;
	double d;

	switch (o->type) {
	case CONFIG_SOCKET:
		if (strlen(value) > SUN_PATH_MAX) {
			parse_error(p, line,
				    "%s: path too long for a socket (%zu "
				    "bytes, at most %zu)",
				    o->key, strlen(value), SUN_PATH_MAX);
			return -EINVAL;
		}
		/* FALLTHROUGH */
	case CONFIG_PATH:
		if (value[0] != '/') {
			parse_error(p, line,
				    "%s: must be an absolute path, not '%s'",
				    o->key, value);
			return -EINVAL;
		}
		free(*str);
		*str = xstrdup(value);
		return 0;
	case CONFIG_LOGLEVEL:
		if (log_level_parse(value, field) != 0) {
			parse_error(p, line,
				    "%s: '%s' is not one of error, warning, "
				    "info, debug",
				    o->key, value);
			return -EINVAL;
		}
		return 0;
	case CONFIG_UINT:
		if (parse_i64(value, (int64_t)o->min, (int64_t)o->max, &n) !=
		    0) {
			parse_error(p, line,
				    "%s: '%s' is not an integer in %.0f..%.0f",
				    o->key, value, o->min, o->max);
			return -EINVAL;
		}
		*(unsigned int *)field = (unsigned int)n;
		return 0;
	case CONFIG_DOUBLE:
		if (parse_double(value, o->min, o->max, &d) != 0) {
			parse_error(p, line,
				    "%s: '%s' is not a number in %g..%g",
				    o->key, value, o->min, o->max);
			return -EINVAL;
		}
		*(double *)field = d;
		return 0;
	case CONFIG_DURATION:
		if (parse_duration(value, o->min, o->max, &d) != 0) {
			parse_error(p, line,
				    "%s: '%s' is not a duration in %gs..%gs "
				    "(a number of seconds, or with s, m or h)",
				    o->key, value, o->min, o->max);
			return -EINVAL;
		}
		*(double *)field = d;
		return 0;
	case CONFIG_STRING:
		for (const char *c = value; *c != '\0'; c++) {
			if ((unsigned char)*c < 0x20 || *c == 0x7f) {
				parse_error(p, line,
					    "%s: control characters are not "
					    "allowed",
					    o->key);
				return -EINVAL;
			}
		}
		free(*str);
		*str = xstrdup(value);
		return 0;
	case CONFIG_URL: {
		size_t len = strlen(value);

		if ((strncmp(value, "https://", 8) != 0 &&
		     strncmp(value, "http://", 7) != 0) ||
		    strpbrk(value, " \t\r\n?#") != NULL || len > 2048) {
			parse_error(p, line,
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
	case CONFIG_BOOL:
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
		parse_error(p, line, "%s: '%s' is not yes or no", o->key,
			    value);
		return -EINVAL;
	case CONFIG_CHOICE:
		for (size_t i = 0; o->choices[i] != NULL; i++) {
			if (strcmp(value, o->choices[i]) == 0) {
				free(*str);
				*str = xstrdup(value);
				return 0;
			}
		}
		parse_error(p, line, "%s: '%s' is not one of %s%s%s", o->key,
			    value, o->choices[0], o->choices[1] ? ", " : "",
			    o->choices[1] ? o->choices[1] : "");
		return -EINVAL;
	case CONFIG_MONEY:
		if (parse_double(value, o->min, o->max, &d) != 0) {
			parse_error(p, line,
				    "%s: '%s' is not an amount of USD in "
				    "0..%g",
				    o->key, value, o->max);
			return -EINVAL;
		}
		*(double *)field = d;
		return 0;
	case CONFIG_ACTION:
		if (strcmp(value, "pause") == 0 ||
		    strcmp(value, "cancel") == 0) {
			*(enum config_action *)field =
			    value[0] == 'p' ? CONFIG_PAUSE : CONFIG_CANCEL;
			return 0;
		}
		parse_error(p, line, "%s: '%s' is not pause or cancel", o->key,
			    value);
		return -EINVAL;
	case CONFIG_LISTEN: {
		struct sockaddr_storage ss;
		bool loopback;

		if (config_listen_addr(value, &ss, &loopback) != 0) {
			parse_error(p, line,
				    "%s: '%s' is not HOST:PORT with HOST an "
				    "IPv4 address, [IPv6] or localhost and "
				    "PORT in 1..65535",
				    o->key, value);
			return -EINVAL;
		}
		free(*str);
		*str = xstrdup(value);
		return 0;
	}
	case CONFIG_ENDPOINT: {
		bool https = strncmp(value, "https://", 8) == 0;

		if ((!https && strncmp(value, "http://", 7) != 0) ||
		    value[https ? 8 : 7] == '\0' ||
		    strpbrk(value, " \t\r\n#") != NULL ||
		    strlen(value) > 2048) {
			parse_error(p, line,
				    "%s: '%s' is not an http:// or https:// "
				    "URL (without spaces or a fragment)",
				    o->key, value);
			return -EINVAL;
		}
		if (!https && !url_loopback(value)) {
			parse_error(p, line,
				    "%s: plain http:// is allowed only to "
				    "this machine (127.0.0.1, [::1], "
				    "localhost); use https://",
				    o->key);
			return -EINVAL;
		}
		free(*str);
		*str = xstrdup(value);
		return 0;
	}
	case CONFIG_EVENTS: {
		char bad[64];

		if (parse_events(value, field, bad, sizeof(bad)) != 0) {
			parse_error(p, line,
				    "%s: %s%s%s; name some of "
				    "sweep.completed, budget.halted, "
				    "job.failed, provider.hold_started, "
				    "provider.hold_ended, "
				    "trial.early_stopped, or all",
				    o->key, bad[0] ? "unknown event '" : "",
				    bad[0] ? bad : "no event given",
				    bad[0] ? "'" : "");
			return -EINVAL;
		}
		return 0;
	}
	case CONFIG_GROUP: {
		struct group *gr = getgrnam(value);

		if (gr == NULL && parse_i64(value, 0, INT32_MAX, &n) == 0)
			gr = getgrgid((gid_t)n);
		if (gr == NULL) {
			parse_error(p, line, "%s: no such group '%s'", o->key,
				    value);
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

/* A key of a backend section waits for the section's end: until then
 * its type, which says what the key means, may be unknown. */
static void
backend_key(struct parse *p, const char *key, const char *value)
{
	struct backend_keys *bk = &p->backend_keys[p->backend];

	for (size_t i = 0; i < bk->n; i++) {
		if (strcmp(bk->keys[i].key, key) == 0) {
			parse_error(p, p->line,
				    "'%s' is set twice in [backend \"%s\"]",
				    key, p->cfg->backends[p->backend].name);
			return;
		}
	}
	bk->keys = xrealloc(bk->keys, (bk->n + 1) * sizeof(*bk->keys));
	bk->keys[bk->n++] =
	    (struct pending){xstrdup(key), xstrdup(value), p->line};
}

static const char *real_value(const struct parse *p, const char *value);

static int
on_key(void *user, const char *section, const char *key, const char *value)
{
	struct parse *p = user;
	enum opt_section sec = SEC_DAEMON;
	uint64_t *seen = &p->daemon_seen;
	void *base = p->cfg;
	const struct config_option *o;
	size_t i;

	if (p->section_bad)
		return 1;
	value = real_value(p, value);
	if (*section == '\0') {
		parse_error(p, p->line, "'%s' is outside a section", key);
		return 1;
	}
	/* inih's section is the one the check took (or its start: inih
	 * cuts long names), unless they split a too long line apart. */
	if (p->section == NULL ||
	    strncmp(p->section, section, strlen(section)) != 0) {
		parse_error(p, p->line,
			    "'%s' is in a section that cannot be read (a "
			    "line too long before it?)",
			    key);
		return 1;
	}
	if (strcmp(section, "budget") == 0) {
		sec = SEC_BUDGET;
		seen = &p->budget_seen;
	} else if (strcmp(section, "http") == 0) {
		sec = SEC_HTTP;
		seen = &p->http_seen;
		if (strcmp(key, "listen") == 0)
			p->listen_line = p->line;
	} else if (strcmp(section, "notify") == 0) {
		sec = SEC_NOTIFY;
		seen = &p->notify_seen;
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
		backend_key(p, key, value);
		return 1;
	}
	o = table_find(tables[sec].opts, tables[sec].n, key);
	if (o == NULL) {
		parse_error(p, p->line, "unknown key '%s' in [%s]", key,
			    section);
		return 1;
	}
	i = (size_t)(o - tables[sec].opts);
	if (*seen & (1ull << i)) {
		parse_error(p, p->line, "'%s' is set twice in [%s]", key,
			    section);
		return 1;
	}
	*seen |= 1ull << i;
	set_value(p, p->line, base, o, value);
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
		free(p->section);
		p->section = p->section_bad ? NULL : name;
		if (p->section_bad)
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
/*
 * A key line longer than inih's fixed line buffer (200 bytes in Debian's
 * build): its value is kept here and inih gets "key = ESC<index>", which
 * on_key() reads back (a trainer's command line is long).  The value is
 * read as inih reads one: blanks around it and an inline "; comment"
 * (a ';' after a blank) go.
 */
static bool
stash_long_value(struct parse *p, char *line, size_t cap)
{
	char *sep = strpbrk(line, "=:"), *value, *end, stand_in[32];
	size_t keylen;

	if (sep == NULL || *line == '[')
		return false;
	value = sep + 1;
	for (end = value; *end != '\0'; end++)
		if (*end == ';' && end > value &&
		    (end[-1] == ' ' || end[-1] == '\t'))
			break;
	while (end > value &&
	       (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	while (value < end && (*value == ' ' || *value == '\t'))
		value++;
	snprintf(stand_in, sizeof(stand_in), "= %c%zu", LONG_VALUE, p->nlong);
	keylen = (size_t)(sep - line);
	if (keylen + strlen(stand_in) >= cap)
		return false;
	p->long_values =
	    xrealloc(p->long_values, (p->nlong + 1) * sizeof(*p->long_values));
	p->long_values[p->nlong++] = strndup(value, (size_t)(end - value));
	memcpy(line + keylen, stand_in, strlen(stand_in) + 1);
	return true;
}

/* The value a key line held: itself, or the long one it stands in for. */
static const char *
real_value(const struct parse *p, const char *value)
{
	char *end;
	unsigned long i;

	if (value[0] != LONG_VALUE)
		return value;
	i = strtoul(value + 1, &end, 10);
	return *end == '\0' && i < p->nlong ? p->long_values[i] : "";
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
	char *line = xmalloc(CONFIG_LINE_MAX + 1);
	int c;

	while ((c = getc(p->fp)) != EOF) {
		any = true;
		if (c == '\n')
			break;
		if (n < CONFIG_LINE_MAX)
			line[n++] = (char)c;
		else
			too_long = true;
	}
	if (ferror(p->fp)) {
		parse_error(p, p->line + 1, "read error: %s", strerror(errno));
		free(line);
		return NULL;
	}
	if (!any) {
		free(line);
		return NULL;
	}
	p->line++;
	line[n] = '\0';
	if (too_long) {
		parse_error(p, p->line, "line longer than %d bytes",
			    CONFIG_LINE_MAX);
		n = 0;
	} else if (!check_line(p, line)) {
		n = 0;
	} else if (n > cap) {
		const char *s = line + strspn(line, " \t");

		if (*s == ';' || *s == '#')
			n = 0; /* a long comment */
		else if (stash_long_value(p, line, cap))
			n = strlen(line); /* the stand-in fits */
		else {
			parse_error(p, p->line,
				    "line longer than %zu bytes (only a key "
				    "= value line may be longer)",
				    cap);
			n = 0;
		}
	}
	memcpy(str, line, n);
	str[n++] = '\n';
	str[n] = '\0';
	free(line);
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
	cfg->confirm_above = -1;
	cfg->default_max_job_hours = 4;
	cfg->grader_mtok_in_per_hour = 2;
	cfg->grader_mtok_out_per_hour = 0.5;
	cfg->cancel_latency = 5;
	cfg->http_max_connections = 64;
	cfg->notify_events = (1u << CONFIG_EV_COUNT) - 1;
	cfg->notify_timeout = 10;
	cfg->notify_retry_for = 86400;
}

void
config_check_error(struct config_check *c, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	parse_error(c->p, line > 0 ? line : c->be->line, "backend \"%s\": %s",
		    c->be->name, msg);
}

int
config_check_line(const struct config_check *c, const char *key)
{
	for (size_t i = 0; c->keys != NULL && i < c->keys->n; i++)
		if (strcmp(c->keys->keys[i].key, key) == 0)
			return c->keys->keys[i].line;
	return 0;
}

void
config_check_default_price(struct config_check *c, const char *model,
			   double per_hour)
{
	struct config *cfg = c->p->cfg;
	struct config_price *pr;

	for (size_t k = 0; k < cfg->nprices; k++)
		if (strcmp(cfg->prices[k].backend, c->be->name) == 0 &&
		    (strcmp(model, "*") == 0 ||
		     strcmp(cfg->prices[k].model, model) == 0 ||
		     strcmp(cfg->prices[k].model, "*") == 0))
			return;
	pr = price_add(c->p, c->be->name, model);
	pr->per_training_hour = per_hour;
	pr->line = 0;
}

void
config_check_published_price(struct config_check *c, const char *model,
			     double per_hour, const char *as_of)
{
	struct config *cfg = c->p->cfg;
	size_t n = cfg->nprices;

	config_check_default_price(c, model, per_hour);
	if (cfg->nprices > n)
		cfg->prices[n].as_of = as_of;
}

/* The backend type that has option `key`, other than `not`; or NULL. */
static const struct backend_type *
type_with_option(const char *key, const struct backend_type * not )
{
	for (size_t i = 0; backend_types[i] != NULL; i++)
		if (backend_types[i] !=
		    not &&table_find(backend_types[i]->options,
				     backend_types[i]->noptions, key) != NULL)
			return backend_types[i];
	return NULL;
}

static void
type_names(char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; backend_types[i] != NULL && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 i ? ", " : "", backend_types[i]->name);
}

/* Gives `be` its type's options: the defaults, then the file's keys. */
static void
backend_apply(struct parse *p, struct config_backend *be,
	      const struct backend_keys *keys)
{
	const struct backend_type *type;
	struct config_check check = {p, be, keys};
	const char *name = NULL;
	int type_line = be->line, before = p->nerrors;
	char names[256];

	for (size_t i = 0; keys != NULL && i < keys->n; i++)
		if (strcmp(keys->keys[i].key, "type") == 0) {
			name = keys->keys[i].value;
			type_line = keys->keys[i].line;
		}
	if (name == NULL) {
		parse_error(p, be->line, "backend \"%s\" needs a type",
			    be->name);
		return;
	}
	type = backend_type_find(name);
	if (type == NULL) {
		type_names(names, sizeof(names));
		parse_error(p, type_line,
			    "type: '%s' is not a backend type this rftd "
			    "implements (%s)",
			    name, names);
		return;
	}
	be->type = type;
	be->opts = xcalloc(1, type->opts_size);
	be->lines =
	    xcalloc(type->noptions ? type->noptions : 1, sizeof(*be->lines));
	for (size_t i = 0; i < ARRAY_LEN(backend_options); i++)
		if (backend_options[i].def != NULL)
			set_value(p, 0, be, &backend_options[i],
				  backend_options[i].def);
	for (size_t i = 0; i < type->noptions; i++)
		if (type->options[i].def != NULL)
			set_value(p, 0, be->opts, &type->options[i],
				  type->options[i].def);
	for (size_t i = 0; keys != NULL && i < keys->n; i++) {
		const struct pending *k = &keys->keys[i];
		const struct config_option *o;
		const struct backend_type *other;

		if (strcmp(k->key, "type") == 0)
			continue;
		if ((o = table_find(backend_options, ARRAY_LEN(backend_options),
				    k->key)) != NULL) {
			set_value(p, k->line, be, o, k->value);
		} else if ((o = table_find(type->options, type->noptions,
					   k->key)) != NULL) {
			be->lines[o - type->options] = k->line;
			set_value(p, k->line, be->opts, o, k->value);
		} else if ((other = type_with_option(k->key, type)) != NULL) {
			parse_error(p, k->line,
				    "backend \"%s\": %s applies to type %s, "
				    "not %s",
				    be->name, k->key, other->name, type->name);
		} else {
			parse_error(p, k->line,
				    "unknown key '%s' in [backend \"%s\"]",
				    k->key, be->name);
		}
	}
	if (p->nerrors == before && type->check_config != NULL)
		type->check_config(be, &check);
}

/* Every backend has a type; "sim" exists even when not configured. */
static void
finish_backends(struct parse *p)
{
	struct config *cfg = p->cfg;

	if (config_backend_find(cfg, "sim") == NULL) {
		p->line = 0;
		backend_add(p, "sim");
		p->backend_keys[cfg->nbackends - 1].keys =
		    xcalloc(1, sizeof(struct pending));
		p->backend_keys[cfg->nbackends - 1].keys[0] =
		    (struct pending){xstrdup("type"), xstrdup("sim"), 0};
		p->backend_keys[cfg->nbackends - 1].n = 1;
	}
	for (size_t i = 0; i < cfg->nbackends; i++)
		backend_apply(p, &cfg->backends[i], &p->backend_keys[i]);
	for (size_t i = 0; i < cfg->nprices; i++)
		if (config_backend_find(cfg, cfg->prices[i].backend) == NULL)
			parse_error(p, cfg->prices[i].line,
				    "price \"%s/%s\": no backend \"%s\"",
				    cfg->prices[i].backend,
				    cfg->prices[i].model,
				    cfg->prices[i].backend);
}

/* The file beside the database called `name`. */
static char *
beside_database(const struct config *cfg, const char *name)
{
	const char *slash = strrchr(cfg->database_path, '/');

	return xasprintf("%.*s/%s", (int)(slash - cfg->database_path),
			 cfg->database_path, name);
}

/* [http] and [notify]: what depends on more than one key. */
static void
finish_services(struct parse *p)
{
	struct config *cfg = p->cfg;
	struct sockaddr_storage ss;
	bool loopback;

	if (cfg->http_listen != NULL &&
	    config_listen_addr(cfg->http_listen, &ss, &loopback) == 0 &&
	    !loopback && !cfg->http_allow_remote)
		parse_error(p, p->listen_line,
			    "listen: %s can be reached from other machines; "
			    "set allow_remote = yes in [http] to serve it "
			    "(every request then needs the token)",
			    cfg->http_listen);
	if (cfg->http_token_file == NULL)
		cfg->http_token_file = beside_database(cfg, "http.token");
	if (cfg->notify_secret_file == NULL)
		cfg->notify_secret_file =
		    beside_database(cfg, "webhook.secret");
}

static void
backend_keys_free(struct parse *p)
{
	for (size_t i = 0; i < p->cfg->nbackends; i++) {
		for (size_t k = 0; k < p->backend_keys[i].n; k++) {
			free(p->backend_keys[i].keys[k].key);
			free(p->backend_keys[i].keys[k].value);
		}
		free(p->backend_keys[i].keys);
	}
	free(p->backend_keys);
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
	finish_services(&p);
	backend_keys_free(&p);
	free(p.section);
	for (size_t i = 0; i < p.nlong; i++)
		free(p.long_values[i]);
	free(p.long_values);
	free(p.price_seen);
	if (p.nerrors == 0)
		return 0;
	rc = -EINVAL;
fail:
	*errors = p.errors;
	config_free(cfg);
	return rc;
}

static bool
is_text(enum config_type t)
{
	return t == CONFIG_PATH || t == CONFIG_SOCKET || t == CONFIG_GROUP ||
	       t == CONFIG_STRING || t == CONFIG_URL || t == CONFIG_CHOICE ||
	       t == CONFIG_LISTEN || t == CONFIG_ENDPOINT;
}

/* Frees the strings a table's options hold in `base`. */
static void
free_options(const struct config_option *opts, size_t n, void *base)
{
	for (size_t i = 0; i < n; i++)
		if (is_text(opts[i].type))
			free(*(char **)((char *)base + opts[i].offset));
}

void
config_free(struct config *cfg)
{
	free(cfg->path);
	free(cfg->socket_path);
	free(cfg->database_path);
	free(cfg->socket_group);
	free_options(http_options, ARRAY_LEN(http_options), cfg);
	free_options(notify_options, ARRAY_LEN(notify_options), cfg);
	for (size_t i = 0; i < cfg->nbackends; i++) {
		struct config_backend *be = &cfg->backends[i];

		free(be->name);
		if (be->type != NULL && be->opts != NULL)
			free_options(be->type->options, be->type->noptions,
				     be->opts);
		free(be->opts);
		free(be->lines);
	}
	free(cfg->backends);
	for (size_t i = 0; i < cfg->nprices; i++) {
		free(cfg->prices[i].backend);
		free(cfg->prices[i].model);
	}
	free(cfg->prices);
	memset(cfg, 0, sizeof(*cfg));
}

/* An option's value as a file would write it; false when unset. */
static bool
option_text(const struct config_option *o, const void *base, char *buf,
	    size_t len)
{
	const void *field = (const char *)base + o->offset;

	buf[0] = '\0';
	switch (o->type) {
	case CONFIG_PATH:
	case CONFIG_SOCKET:
	case CONFIG_GROUP:
	case CONFIG_STRING:
	case CONFIG_URL:
	case CONFIG_CHOICE:
	case CONFIG_LISTEN:
	case CONFIG_ENDPOINT: {
		const char *s = *(char *const *)field;

		if (s == NULL)
			return false;
		snprintf(buf, len, "%s", s);
		return true;
	}
	case CONFIG_ACTION:
		snprintf(buf, len, "%s",
			 *(const enum config_action *)field == CONFIG_PAUSE
			     ? "pause"
			     : "cancel");
		return true;
	case CONFIG_BOOL:
		snprintf(buf, len, "%s", *(const bool *)field ? "yes" : "no");
		return true;
	case CONFIG_EVENTS: {
		unsigned int bits = *(const unsigned int *)field;
		size_t used = 0;

		if (bits == (1u << CONFIG_EV_COUNT) - 1) {
			snprintf(buf, len, "all");
			return true;
		}
		for (int i = 0; i < CONFIG_EV_COUNT && used < len; i++)
			if (bits & (1u << i))
				used += (size_t)snprintf(
				    buf + used, len - used, "%s%s",
				    used ? ", " : "", config_event_names[i]);
		return true;
	}
	case CONFIG_LOGLEVEL:
		snprintf(buf, len, "%s",
			 log_level_name(*(const enum log_level *)field));
		return true;
	case CONFIG_UINT:
		snprintf(buf, len, "%u", *(const unsigned int *)field);
		return true;
	case CONFIG_MONEY:
		if (*(const double *)field < 0)
			return false;
		/* FALLTHROUGH */
	case CONFIG_DOUBLE:
		json_print_number(buf, len, *(const double *)field);
		return true;
	case CONFIG_DURATION: {
		size_t n;

		json_print_number(buf, len, *(const double *)field);
		n = strlen(buf);
		if (n + 1 < len)
			memcpy(buf + n, "s", 2);
		return true;
	}
	}
	return false;
}

void
config_backend_value(const struct config_backend *be, const char *key,
		     char *buf, size_t len)
{
	const struct config_option *o =
	    be->type == NULL
		? NULL
		: table_find(be->type->options, be->type->noptions, key);

	buf[0] = '\0';
	if (o != NULL)
		option_text(o, be->opts, buf, len);
	else if ((o = table_find(backend_options, ARRAY_LEN(backend_options),
				 key)) != NULL)
		option_text(o, be, buf, len);
}

static void
print_options(FILE *out, const struct config_option *opts, size_t n,
	      const void *base)
{
	char text[4096];

	for (size_t i = 0; i < n; i++) {
		fprintf(out, "; %s\n", opts[i].help);
		if (option_text(&opts[i], base, text, sizeof(text)))
			fprintf(out, "%s = %s\n", opts[i].key, text);
		else
			fprintf(out, ";%s =\n", opts[i].key);
	}
}

void
config_print(const struct config *cfg, FILE *out)
{
	char names[256];

	fprintf(out, "# rftd configuration%s%s (normalized)\n",
		cfg->path ? " from " : " (defaults)",
		cfg->path ? cfg->path : "");
	fprintf(out, "\n[daemon]\n");
	print_options(out, daemon_options, ARRAY_LEN(daemon_options), cfg);
	type_names(names, sizeof(names));
	for (size_t i = 0; i < cfg->nbackends; i++) {
		const struct config_backend *be = &cfg->backends[i];

		fprintf(out, "\n[backend \"%s\"]\n; %s: %s (types: %s)\n",
			be->name, be->type->name, be->type->help, names);
		fprintf(out, "type = %s\n", be->type->name);
		print_options(out, backend_options, ARRAY_LEN(backend_options),
			      be);
		print_options(out, be->type->options, be->type->noptions,
			      be->opts);
	}
	for (size_t i = 0; i < cfg->nprices; i++) {
		fprintf(out, "\n[price \"%s/%s\"]\n", cfg->prices[i].backend,
			cfg->prices[i].model);
		if (cfg->prices[i].as_of != NULL)
			fprintf(out,
				"; built in: the provider's published price "
				"as of %s; a [price] section overrides it\n",
				cfg->prices[i].as_of);
		print_options(out, price_options, ARRAY_LEN(price_options),
			      &cfg->prices[i]);
	}
	fprintf(out, "\n[budget]\n");
	print_options(out, budget_options, ARRAY_LEN(budget_options), cfg);
	fprintf(out, "\n[http]\n");
	print_options(out, http_options, ARRAY_LEN(http_options), cfg);
	fprintf(out, "\n[notify]\n");
	print_options(out, notify_options, ARRAY_LEN(notify_options), cfg);
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
	for (size_t k = 0; k < ARRAY_LEN(http_options); k++) {
		char tx[4096], ty[4096];

		option_text(&http_options[k], a, tx, sizeof(tx));
		option_text(&http_options[k], b, ty, sizeof(ty));
		if (strcmp(tx, ty) != 0)
			NOTE(http_options[k].key);
	}
	if (a->nbackends != b->nbackends) {
		NOTE("backends");
		return true;
	}
	for (size_t i = 0; i < a->nbackends; i++) {
		const struct config_backend *x = &a->backends[i],
					    *y = &b->backends[i];

		if (strcmp(x->name, y->name) != 0 || x->type != y->type) {
			NOTE("backends");
			break;
		}
		/* The options a running backend cannot take up. */
		for (size_t k = 0; k < x->type->noptions; k++) {
			const struct config_option *o = &x->type->options[k];
			char tx[4096], ty[4096];

			if (o->reloadable)
				continue;
			option_text(o, x->opts, tx, sizeof(tx));
			option_text(o, y->opts, ty, sizeof(ty));
			if (strcmp(tx, ty) != 0 && strstr(buf, o->key) == NULL)
				NOTE(o->key);
		}
	}
#undef NOTE
	return used > 0;
}
