/*
 * The running daemon's own actions, which control methods and signals
 * both ask for: a reload of the configuration and the orderly shutdown.
 */
#include "daemon.h"
#include "backend.h"
#include "control.h"
#include "dashboard.h"
#include "log.h"
#include "meter.h"
#include "notifier.h"
#include "notify.h"
#include "scheduler.h"

#include <string.h>

/* [notify] applies at once: the notifier reads it at each attempt. */
static void
swap_notify(struct config *cur, struct config *next)
{
	char *command = cur->notify_command, *url = cur->notify_url,
	     *secret = cur->notify_secret_file;

	cur->notify_command = next->notify_command;
	cur->notify_url = next->notify_url;
	cur->notify_secret_file = next->notify_secret_file;
	next->notify_command = command;
	next->notify_url = url;
	next->notify_secret_file = secret;
	cur->notify_events = next->notify_events;
	cur->notify_timeout = next->notify_timeout;
	cur->notify_retry_for = next->notify_retry_for;
}

int
daemon_reload(struct daemon *d, char **errors, char *changed, size_t len)
{
	struct config next;
	int rc;

	notify_send("RELOADING=1");
	rc = config_load(&next, d->config_path, d->config_must_exist, errors);
	if (rc != 0) {
		notify_send("READY=1\nSTATUS=reload failed; running on the "
			    "previous configuration");
		log_warnx("reload: keeping the current configuration:\n%s",
			  *errors);
		return rc;
	}
	if (config_needs_restart(&d->cfg, &next, changed, len))
		log_warnx("reload: %s changed; that takes a restart", changed);
	d->cfg.log_level = next.log_level;
	d->cfg.idle_timeout = next.idle_timeout;
	d->cfg.max_clients = next.max_clients;
	d->cfg.tick_ms = next.tick_ms;
	d->cfg.max_trials = next.max_trials;
	if (strstr(changed, "backends") == NULL) {
		/* Same backends: take their new settings. */
		struct config_backend *tmp = d->cfg.backends;

		d->cfg.backends = next.backends;
		next.backends = tmp;
		backends_reconfigure(d);
	}
	{
		/* Prices and budgets apply at once. */
		struct config_price *prices = d->cfg.prices;
		size_t nprices = d->cfg.nprices;

		d->cfg.prices = next.prices;
		d->cfg.nprices = next.nprices;
		next.prices = prices;
		next.nprices = nprices;
	}
	d->cfg.budget_global = next.budget_global;
	d->cfg.budget_day = next.budget_day;
	d->cfg.budget_month = next.budget_month;
	d->cfg.global_action = next.global_action;
	d->cfg.day_action = next.day_action;
	d->cfg.month_action = next.month_action;
	d->cfg.default_max_job_hours = next.default_max_job_hours;
	d->cfg.grader_mtok_in_per_hour = next.grader_mtok_in_per_hour;
	d->cfg.grader_mtok_out_per_hour = next.grader_mtok_out_per_hour;
	d->cfg.cancel_latency = next.cancel_latency;
	d->cfg.confirm_above = next.confirm_above;
	swap_notify(&d->cfg, &next);
	config_free(&next);
	meter_limits(d);
	if (d->verbose)
		d->cfg.log_level = LOG_LVL_DEBUG; /* -v outlives reloads */
	log_set_level(d->cfg.log_level);
	control_set_limits(d->control, d->cfg.idle_timeout, d->cfg.max_clients);
	scheduler_configure(d->sched, d->cfg.tick_ms);
	log_info("reload: configuration applied");
	notify_send("READY=1");
	return 0;
}

void
daemon_stop(struct daemon *d)
{
	if (d->stopping)
		return;
	d->stopping = true;
	log_info("shutting down");
	notify_send("STOPPING=1");
	uv_close((uv_handle_t *)&d->service_timer, NULL);
	/* Calls under way end first: their callbacks may answer clients and
	 * the scheduler waits on them. */
	backends_close(d);
	dashboard_close(d);
	notifier_close(d);
	control_close(d->control);
	d->control = NULL;
	scheduler_close(d->sched);
	d->sched = NULL;
	uv_close((uv_handle_t *)&d->sig_int, NULL);
	uv_close((uv_handle_t *)&d->sig_term, NULL);
	uv_close((uv_handle_t *)&d->sig_hup, NULL);
}
