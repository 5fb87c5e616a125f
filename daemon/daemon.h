/*
 * The daemon's context: what every module of rftd reaches through one
 * pointer.  Modules keep their own state behind their own headers.
 */
#ifndef RFTD_DAEMON_H
#define RFTD_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"

struct store;
struct control;
struct backend;
struct backend_env;
struct scheduler;
struct budget;
struct dashboard;
struct notifier;

struct daemon {
	uv_loop_t loop;
	struct config cfg;	 /* the configuration in effect */
	const char *config_path; /* -c argument, or the default path */
	bool config_must_exist;	 /* true when -c was given */
	bool verbose;		 /* -v: debug logging, kept across reloads */
	struct store *store;
	struct control *control;
	struct backend_env *backend_env; /* what backends may use */
	struct backend **backends;	 /* one per configured backend */
	size_t nbackends;
	struct scheduler *sched;
	struct budget *budget;		/* the money core, fed by the meter */
	struct dataset_cache *datasets; /* datasets hashed, by version */
	struct dashboard *dashboard;	/* [http]; NULL when off */
	struct notifier *notifier;	/* the outbox's delivery */
	uv_signal_t sig_int;
	uv_signal_t sig_term;
	uv_signal_t sig_hup;
	uv_timer_t service_timer; /* STATUS= and WATCHDOG=1 to the manager */
	uint64_t watchdog_usec;	  /* 0: no watchdog */
	double started_at;	  /* wall clock, Unix seconds */
	uint64_t started_mono;	  /* monotonic ns */
	bool stopping;		  /* orderly shutdown has begun */
};

/* Starts the orderly shutdown; safe to call more than once. */
void daemon_stop(struct daemon *d);

/*
 * Re-reads the configuration and applies it when valid.  Returns 0 with
 * `changed` naming the options that need a restart ("" when none), or
 * -EINVAL with *errors (caller frees) saying why the old one stays.
 */
int daemon_reload(struct daemon *d, char **errors, char *changed, size_t len);

#endif
