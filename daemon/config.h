/*
 * rftd's configuration: an INI file read with libinih, described by one
 * option table (config.c) that drives parsing, defaults, validation and
 * the normalized print-out of `rftd -n`.
 */
#ifndef RFTD_CONFIG_H
#define RFTD_CONFIG_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "log.h"

/* A [backend "NAME"] section. */
struct config_backend {
	char *name;		  /* the quoted name */
	char *type;		  /* "sim" or "openai" */
	double speed;		  /* sim: simulated seconds per second */
	double failure_rate;	  /* sim: probability that a job fails */
	double pause_after_hours; /* sim: the provider pauses jobs (0: never) */
	unsigned int max_concurrent; /* jobs running at once on it */
	/* openai: an OpenAI-compatible fine-tuning API. */
	char *dialect;	    /* "openai" or "azure" */
	char *base_url;	    /* up to and including /v1 (no '/' at end) */
	char *api_version;  /* azure dated paths: ?api-version= */
	char *api_key_file; /* where the key is: one of three */
	char *api_key_env;
	char *api_key_credential; /* in $CREDENTIALS_DIRECTORY */
	char *organization;	  /* OpenAI-Organization header */
	char *project;		  /* OpenAI-Project header */
	char *training_type;	  /* azure: trainingType of new jobs */
	char *ca_file;		  /* CA bundle for TLS; NULL: the system's */
	double poll_interval;	  /* seconds between polls of a job */
	double request_timeout;	  /* seconds a request may take */
	double connect_timeout;	  /* seconds to connect */
	bool preflight;		  /* validate graders before a sweep runs */
	int line;		  /* where the section starts (0: built in) */
};

/* A [price "BACKEND/MODEL"] section; MODEL may be "*". */
struct config_price {
	char *backend;
	char *model;
	double per_training_hour;  /* USD */
	double grader_per_mtok_in; /* USD per million model-grader tokens */
	double grader_per_mtok_out;
	int line; /* where the section starts (0: built in) */
};

enum config_action { CONFIG_PAUSE, CONFIG_CANCEL };

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
