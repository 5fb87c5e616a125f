/*
 * rftd's configuration: an INI file read with libinih, described by one
 * option table (config.c) that drives parsing, defaults, validation and
 * the normalized print-out of `rftd -n`.
 */
#ifndef RFTD_CONFIG_H
#define RFTD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "log.h"

struct backend_type;

/* How an option's text is read (and printed back by `rftd -n`). */
enum config_type {
	CONFIG_PATH,	 /* an absolute path */
	CONFIG_SOCKET,	 /* an absolute path that fits sockaddr_un */
	CONFIG_LOGLEVEL, /* error | warning | info | debug */
	CONFIG_UINT,	 /* an integer in [min, max] */
	CONFIG_DOUBLE,	 /* a number in [min, max] */
	CONFIG_DURATION, /* seconds in [min, max], with an s, m or h suffix */
	CONFIG_GROUP,	 /* a group name or number */
	CONFIG_MONEY,	 /* USD >= 0; unset is -1 */
	CONFIG_ACTION,	 /* pause | cancel */
	CONFIG_STRING,	 /* any text without control characters */
	CONFIG_URL,	 /* http:// or https://, no trailing '/' kept */
	CONFIG_BOOL,	 /* yes | no | true | false | 1 | 0 */
	CONFIG_CHOICE,	 /* one of option.choices */
	CONFIG_LISTEN,	 /* HOST:PORT, HOST an IPv4, [IPv6] or localhost */
	CONFIG_ENDPOINT, /* an http(s) URL kept as written; plain http only
			  * to a loopback host */
	CONFIG_EVENTS,	 /* names of enum config_event, or all */
};

/*
 * One option of a section: its key, how it is read, where it goes (the
 * offset of its field), its default and its help.  Tables of these drive
 * parsing, defaults, checks, `rftd -n` and what a reload may change.
 */
struct config_option {
	const char *key;
	enum config_type type;
	size_t offset;	 /* of the field in its struct */
	double min, max; /* for numbers */
	bool reloadable;
	const char *help;
	const char *def;	    /* the default as written; NULL: unset */
	const char *const *choices; /* for CONFIG_CHOICE */
};

/* A [backend "NAME"] section. */
struct config_backend {
	char *name;			 /* the quoted name */
	const struct backend_type *type; /* what implements it */
	unsigned int max_concurrent;	 /* jobs running at once on it */
	void *opts; /* the type's own options (its option table's struct) */
	int *lines; /* per option of the type: where it was set, or 0 */
	int line;   /* where the section starts (0: built in) */
};

/* A problem found while a backend type checks its options. */
struct config_check;
void config_check_error(struct config_check *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The line where the backend set `key`; 0 when it was not set. */
int config_check_line(const struct config_check *c, const char *key);
/* Prices `model` on the backend at `per_hour` unless the file does. */
void config_check_default_price(struct config_check *c, const char *model,
				double per_hour);
/* The same for a provider's published price, read on date `as_of`
 * (a string literal), which `rftd -n` shows with it. */
void config_check_published_price(struct config_check *c, const char *model,
				  double per_hour, const char *as_of);
/* The type's option `key` of `be` as written in a file ("" when unset). */
void config_backend_value(const struct config_backend *be, const char *key,
			  char *buf, size_t len);

/* A [price "BACKEND/MODEL"] section; MODEL may be "*". */
struct config_price {
	char *backend;
	char *model;
	double per_training_hour;  /* USD */
	double per_gpu_hour;	   /* USD per GPU of a job, per hour */
	double grader_per_mtok_in; /* USD per million model-grader tokens */
	double grader_per_mtok_out;
	int line;	   /* where the section starts (0: built in) */
	const char *as_of; /* built in: the date the price was published */
};

enum config_action { CONFIG_PAUSE, CONFIG_CANCEL };

/* What [notify] events = selects: one bit each, named below. */
enum config_event {
	CONFIG_EV_SWEEP_COMPLETED,	 /* "sweep.completed" */
	CONFIG_EV_BUDGET_HALTED,	 /* "budget.halted" */
	CONFIG_EV_JOB_FAILED,		 /* "job.failed": after its last try */
	CONFIG_EV_PROVIDER_HOLD_STARTED, /* "provider.hold_started" */
	CONFIG_EV_PROVIDER_HOLD_ENDED,	 /* "provider.hold_ended" */
	CONFIG_EV_TRIAL_EARLY_STOPPED,	 /* "trial.early_stopped" */
	CONFIG_EV_COUNT
};

struct sockaddr_storage;

/*
 * The address of an [http] listen value (checked at load, so this fails
 * only on text that was not): 0, or -EINVAL.  *loopback says whether
 * only this machine can reach it.
 */
int config_listen_addr(const char *listen, struct sockaddr_storage *out,
		       bool *loopback);

/* The events' names, indexed by enum config_event. */
extern const char *const config_event_names[CONFIG_EV_COUNT];

/* The enum config_event called `name`, or -1. */
int config_event(const char *name);

struct config {
	char *path;			 /* file read, or NULL for defaults */
	char *socket_path;		 /* [daemon] socket */
	char *database_path;		 /* [daemon] database */
	enum log_level log_level;	 /* [daemon] log_level */
	char *socket_group;		 /* [daemon] socket_group, or NULL */
	gid_t socket_gid;		 /* resolved socket_group */
	unsigned int idle_timeout;	 /* [daemon] idle_timeout, seconds */
	unsigned int max_clients;	 /* [daemon] max_clients */
	unsigned int tick_ms;		 /* [daemon] tick, milliseconds */
	unsigned int max_trials;	 /* [daemon] max_trials_per_sweep */
	struct config_backend *backends; /* in file order; "sim" built in */
	size_t nbackends;
	struct config_price *prices; /* in file order; a "sim" price built in */
	size_t nprices;
	/* [budget]: limits in USD, < 0 when unset. */
	double budget_global, budget_day, budget_month;
	enum config_action global_action, day_action, month_action;
	double default_max_job_hours;
	double grader_mtok_in_per_hour; /* model-grader tokens estimate */
	double grader_mtok_out_per_hour;
	double cancel_latency; /* seconds a stop takes to bite */
	/* A worst case above this many USD needs a confirmed submit; < 0
	 * when unset. */
	double confirm_above;
	/* [http]: the read-only dashboard; off while http_listen is NULL. */
	char *http_listen;	/* "HOST:PORT": IPv4, [IPv6] or localhost */
	bool http_allow_remote; /* a non-loopback listen address is allowed */
	char *http_token_file;	/* the token off loopback (0600, made when
				 * missing); set from the database's
				 * directory when not configured */
	unsigned int http_max_connections;
	/* [notify]: where notifications go; with neither, none is kept. */
	char *notify_command;	    /* run by /bin/sh -c, the event on stdin */
	char *notify_url;	    /* POSTed, signed as Standard Webhooks do */
	char *notify_secret_file;   /* "whsec_..." (0600, made when missing);
				     * set like http_token_file */
	unsigned int notify_events; /* a bit per enum config_event */
	double notify_timeout;	    /* seconds one attempt may take */
	double notify_retry_for;    /* seconds an event is retried for */
};

/* The price of `model` on `backend` (exact model first, then "*"). */
const struct config_price *config_price(const struct config *cfg,
					const char *backend, const char *model);

/* The backend called `name`, or NULL. */
const struct config_backend *config_backend(const struct config *cfg,
					    const char *name);

/*
 * Reads `path` into `cfg` over the defaults.  `path` NULL means defaults
 * only; `must_exist` false lets a missing file mean defaults too.
 * Returns 0, or -EINVAL/-ENOENT with *errors set to every problem found,
 * one "FILE:LINE: message" per line (caller frees).  On failure `cfg` is
 * left empty (config_free() is still safe).
 */
int config_load(struct config *cfg, const char *path, bool must_exist,
		char **errors);

/* Frees what `cfg` owns; safe on a zeroed or freed struct. */
void config_free(struct config *cfg);

/* Writes the normalized configuration, every option, as INI. */
void config_print(const struct config *cfg, FILE *out);

/*
 * Names the options that differ between `a` and `b` and need a restart
 * to take effect (comma-separated into buf); returns true if any.
 */
bool config_needs_restart(const struct config *a, const struct config *b,
			  char *buf, size_t len);

#endif
