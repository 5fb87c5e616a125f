/*
 * The method handlers.  Each entry of PROTO_METHODS (common/proto.h) has
 * one here; the protocol codec has already checked the envelope.
 */
#include "methods.h"

#include "control.h"
#include "daemon.h"
#include "log.h"
#include "store.h"
#include "util.h"

#include <stdbool.h>
#include <unistd.h>

typedef int (*method_fn)(struct daemon *d, const cJSON *params, cJSON **result,
			 struct proto_error *err);

/* Refuses params for methods that take none: a typo must not pass. */
static int
no_params(const struct proto_request *req, struct proto_error *err)
{
	const cJSON *p = req->params;

	if (p != NULL && p->child != NULL)
		return proto_error_set(err, PROTO_E_INVALID_PARAMS,
				       "/params/%s: %s takes no parameters",
				       p->child->string,
				       proto_method_info(req->method)->name);
	return 0;
}

static int
daemon_ping(struct daemon *d, const cJSON *params, cJSON **result,
	    struct proto_error *err)
{
	(void)d;
	(void)params;
	(void)err;
	*result = cJSON_CreateObject();
	cJSON_AddTrueToObject(*result, "pong");
	cJSON_AddNumberToObject(*result, "time", now_wall());
	return 0;
}

static void
add_count(const char *table, int64_t rows, void *arg)
{
	cJSON_AddNumberToObject(arg, table, (double)rows);
}

static int
daemon_status(struct daemon *d, const cJSON *params, cJSON **result,
	      struct proto_error *err)
{
	cJSON *r, *tables;

	(void)params;
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "version", RFTD_VERSION);
	cJSON_AddNumberToObject(r, "pid", (double)getpid());
	cJSON_AddNumberToObject(r, "started_at", d->started_at);
	cJSON_AddNumberToObject(
	    r, "uptime_s", (double)(now_mono_ns() - d->started_mono) / 1e9);
	cJSON_AddStringToObject(r, "socket", d->cfg.socket_path);
	cJSON_AddStringToObject(r, "database", store_path(d->store));
	cJSON_AddNumberToObject(r, "schema_version",
				store_schema_version(d->store));
	cJSON_AddNumberToObject(r, "clients", control_clients(d->control));
	cJSON_AddStringToObject(r, "log_level",
				log_level_name(log_get_level()));
	tables = cJSON_AddObjectToObject(r, "tables");
	if (store_table_counts(d->store, add_count, tables) != 0) {
		cJSON_Delete(r);
		return proto_error_set(err, PROTO_E_STORE,
				       "cannot count rows in the store");
	}
	*result = r;
	return 0;
}

static const struct {
	method_fn fn;
	bool takes_params; /* false: any parameter is an error */
} handlers[PROTO_M__COUNT] = {
    [PROTO_M_DAEMON_PING] = {daemon_ping, false},
    [PROTO_M_DAEMON_STATUS] = {daemon_status, false},
};

int
methods_dispatch(struct daemon *d, const struct peer *peer,
		 const struct proto_request *req, cJSON **result,
		 struct proto_error *err)
{
	const struct proto_method_info *info = proto_method_info(req->method);
	int rc;

	*result = NULL;
	if (handlers[req->method].fn == NULL)
		return proto_error_set(err, PROTO_E_INTERNAL,
				       "%s is not implemented", info->name);
	if (d->stopping && info->access == PROTO_MUTATING)
		return proto_error_set(err, PROTO_E_SHUTTING_DOWN,
				       "rftd is shutting down");
	if (info->access == PROTO_MUTATING)
		log_info("control: %s by uid %u pid %d", info->name, peer->uid,
			 peer->pid);
	else
		log_debug("control: %s by uid %u pid %d", info->name, peer->uid,
			  peer->pid);
	if (!handlers[req->method].takes_params) {
		rc = no_params(req, err);
		if (rc != 0)
			return rc;
	}
	return handlers[req->method].fn(d, req->params, result, err);
}
