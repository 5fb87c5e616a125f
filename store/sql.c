/*
 * The read-only SQL runner behind `rftctl sql`.  Each query gets its own
 * connection, opened read-only and hardened as SQLite advises for untrusted
 * SQL: an authorizer that allows reads and functions only, the defensive and
 * untrusted-schema settings, no ATTACH, tight limits, a progress-handler
 * deadline, one statement, and caps on rows and bytes.  Because it
 * shares nothing with the store, it may run on any thread.
 */
#include "store_int.h"

#include "util.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct guard {
	uint64_t deadline_ns; /* monotonic */
	bool timed_out;
	char denied[160]; /* the first refused action, for the message */
};

static const char *
action_name(int action)
{
	switch (action) {
	case SQLITE_INSERT:
		return "INSERT";
	case SQLITE_UPDATE:
		return "UPDATE";
	case SQLITE_DELETE:
		return "DELETE";
	case SQLITE_PRAGMA:
		return "PRAGMA";
	case SQLITE_ATTACH:
		return "ATTACH";
	case SQLITE_DETACH:
		return "DETACH";
	case SQLITE_TRANSACTION:
		return "a transaction";
	case SQLITE_SAVEPOINT:
		return "SAVEPOINT";
	case SQLITE_CREATE_TABLE:
	case SQLITE_CREATE_TEMP_TABLE:
	case SQLITE_CREATE_INDEX:
	case SQLITE_CREATE_TEMP_INDEX:
	case SQLITE_CREATE_VIEW:
	case SQLITE_CREATE_TEMP_VIEW:
	case SQLITE_CREATE_TRIGGER:
	case SQLITE_CREATE_TEMP_TRIGGER:
	case SQLITE_CREATE_VTABLE:
		return "CREATE";
	case SQLITE_DROP_TABLE:
	case SQLITE_DROP_TEMP_TABLE:
	case SQLITE_DROP_INDEX:
	case SQLITE_DROP_TEMP_INDEX:
	case SQLITE_DROP_VIEW:
	case SQLITE_DROP_TEMP_VIEW:
	case SQLITE_DROP_TRIGGER:
	case SQLITE_DROP_TEMP_TRIGGER:
	case SQLITE_DROP_VTABLE:
		return "DROP";
	case SQLITE_ALTER_TABLE:
		return "ALTER TABLE";
	case SQLITE_REINDEX:
		return "REINDEX";
	case SQLITE_ANALYZE:
		return "ANALYZE";
	case SQLITE_FUNCTION:
		return "the function";
	case SQLITE_READ:
		return "reading";
	default:
		return "this statement";
	}
}

/* Functions a query may not call even though they only "read". */
static const char *const denied_functions[] = {
    "load_extension", "readfile",      "writefile", "edit",
    "fts3_tokenizer", "sqlite_dbpage", NULL};

static int
authorize(void *arg, int action, const char *a, const char *b, const char *db,
	  const char *trigger)
{
	struct guard *g = arg;

	(void)trigger;
	switch (action) {
	case SQLITE_SELECT:
	case SQLITE_RECURSIVE:
		return SQLITE_OK;
	case SQLITE_READ:
		if (db == NULL || strcmp(db, "main") == 0)
			return SQLITE_OK;
		break;
	case SQLITE_FUNCTION:
		for (const char *const *f = denied_functions; *f != NULL; f++)
			if (b != NULL && strcasecmp(b, *f) == 0)
				goto deny;
		return SQLITE_OK;
	default:
		break;
	}
deny:
	if (g->denied[0] == '\0') {
		const char *what = action == SQLITE_FUNCTION ? b : a;

		snprintf(g->denied, sizeof(g->denied), "%s%s%s",
			 action_name(action), what ? " " : "",
			 what ? what : "");
	}
	return SQLITE_DENY;
}

static int
progress(void *arg)
{
	struct guard *g = arg;

	if (now_mono_ns() < g->deadline_ns)
		return 0;
	g->timed_out = true;
	return 1;
}

static sqlite3 *
open_guarded(const char *path, struct guard *g, char *err, size_t errlen)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db,
			    SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		store_errf(err, errlen, "cannot open %s: %s", path,
			   db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	/*
	 * TRUSTED_SCHEMA stays on: the schema is rftd's own (migrations,
	 * application_id), and its views call json_extract(), which SQLite
	 * refuses in views of an untrusted schema.  The threat here is the
	 * query, which the authorizer and the limits handle.
	 */
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
	sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 16 << 20);
	sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, 100000);
	sqlite3_limit(db, SQLITE_LIMIT_COLUMN, 200);
	sqlite3_limit(db, SQLITE_LIMIT_EXPR_DEPTH, 200);
	sqlite3_limit(db, SQLITE_LIMIT_COMPOUND_SELECT, 64);
	sqlite3_limit(db, SQLITE_LIMIT_VDBE_OP, 250000);
	sqlite3_limit(db, SQLITE_LIMIT_FUNCTION_ARG, 32);
	sqlite3_limit(db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 1000);
	sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, 32);
	sqlite3_limit(db, SQLITE_LIMIT_TRIGGER_DEPTH, 10);
	sqlite3_busy_timeout(db, 1000);
	sqlite3_set_authorizer(db, authorize, g);
	sqlite3_progress_handler(db, 1000, progress, g);
	return db;
}

static cJSON *
column_value(sqlite3_stmt *s, int i)
{
	switch (sqlite3_column_type(s, i)) {
	case SQLITE_INTEGER:
		return cJSON_CreateNumber((double)sqlite3_column_int64(s, i));
	case SQLITE_FLOAT:
		return cJSON_CreateNumber(sqlite3_column_double(s, i));
	case SQLITE_TEXT:
		return cJSON_CreateString(
		    (const char *)sqlite3_column_text(s, i));
	case SQLITE_BLOB: {
		const unsigned char *b = sqlite3_column_blob(s, i);
		int n = sqlite3_column_bytes(s, i);
		char *hex = xmalloc((size_t)n * 2 + 4);
		cJSON *v;

		memcpy(hex, "x'", 2);
		for (int k = 0; k < n; k++)
			snprintf(hex + 2 + 2 * k, 3, "%02x", b[k]);
		memcpy(hex + 2 + 2 * n, "'", 2);
		v = cJSON_CreateString(hex);
		free(hex);
		return v;
	}
	default:
		return cJSON_CreateNull();
	}
}

/*
 * What a failure of SQLite's says: the database itself failed (it cannot
 * be opened or read), or the query is bad (anything else).
 */
static int
failure_code(sqlite3 *db)
{
	switch (sqlite3_extended_errcode(db) & 0xff) {
	case SQLITE_IOERR:
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_CANTOPEN:
	case SQLITE_FULL:
	case SQLITE_NOMEM:
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_PROTOCOL:
	case SQLITE_READONLY:
		return STORE_SQL_FAILED;
	default:
		return STORE_SQL_ERROR;
	}
}

/* True when `tail` holds only whitespace and comments. */
static bool
only_comments(const char *tail)
{
	while (*tail != '\0') {
		if (strchr(" \t\r\n;", *tail) != NULL) {
			tail++;
		} else if (tail[0] == '-' && tail[1] == '-') {
			tail += strcspn(tail, "\n");
		} else if (tail[0] == '/' && tail[1] == '*') {
			const char *end = strstr(tail + 2, "*/");

			if (end == NULL)
				return true;
			tail = end + 2;
		} else {
			return false;
		}
	}
	return true;
}

cJSON *
store_sql_run(const char *path, const char *sql,
	      const struct store_sql_limits *lim, int *code, char *err,
	      size_t errlen)
{
	struct guard g = {0};
	sqlite3_stmt *s = NULL;
	const char *tail = NULL;
	sqlite3 *db;
	cJSON *out = NULL, *columns, *rows;
	size_t bytes = 0;
	uint64_t t0 = now_mono_ns();
	int rc, ncols, nrows = 0;

	*code = STORE_SQL_FAILED; /* until the database is open */
	g.deadline_ns = t0 + (uint64_t)lim->timeout_ms * 1000000u;
	db = open_guarded(path, &g, err, errlen);
	if (db == NULL)
		return NULL;
	*code = STORE_SQL_ERROR;
	rc = sqlite3_prepare_v3(db, sql, -1, 0, &s, &tail);
	if (rc != SQLITE_OK || s == NULL) {
		if (g.denied[0] != '\0') {
			*code = STORE_SQL_REFUSED;
			store_errf(err, errlen,
				   "refused: %s is not allowed; queries are "
				   "read-only",
				   g.denied);
		} else if (s == NULL && rc == SQLITE_OK) {
			store_errf(err, errlen, "no statement to run");
		} else {
			*code = failure_code(db);
			store_errf(err, errlen, "%s", sqlite3_errmsg(db));
		}
		goto done;
	}
	if (tail != NULL && !only_comments(tail)) {
		*code = STORE_SQL_REFUSED;
		store_errf(err, errlen,
			   "refused: one statement at a time (found more after "
			   "the first)");
		goto done;
	}
	if (!sqlite3_stmt_readonly(s)) {
		*code = STORE_SQL_REFUSED;
		store_errf(err, errlen, "refused: the statement would write");
		goto done;
	}
	out = cJSON_CreateObject();
	columns = cJSON_AddArrayToObject(out, "columns");
	ncols = sqlite3_column_count(s);
	for (int i = 0; i < ncols; i++)
		cJSON_AddItemToArray(
		    columns, cJSON_CreateString(sqlite3_column_name(s, i)));
	rows = cJSON_AddArrayToObject(out, "rows");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		cJSON *row;

		if (nrows >= lim->max_rows) {
			cJSON_AddStringToObject(out, "truncated", "row cap");
			break;
		}
		row = cJSON_CreateArray();
		for (int i = 0; i < ncols; i++) {
			bytes += (size_t)sqlite3_column_bytes(s, i) + 8;
			cJSON_AddItemToArray(row, column_value(s, i));
		}
		cJSON_AddItemToArray(rows, row);
		nrows++;
		if (bytes > lim->max_bytes) {
			cJSON_AddStringToObject(out, "truncated", "byte cap");
			break;
		}
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		cJSON_Delete(out);
		out = NULL;
		if (g.timed_out) {
			*code = STORE_SQL_TIMEOUT;
			store_errf(
			    err, errlen,
			    "interrupted: the query ran longer than %d ms",
			    lim->timeout_ms);
		} else {
			*code = failure_code(db);
			store_errf(err, errlen, "%s", sqlite3_errmsg(db));
		}
		goto done;
	}
	cJSON_AddNumberToObject(out, "row_count", nrows);
	cJSON_AddNumberToObject(out, "elapsed_ms",
				(double)(now_mono_ns() - t0) / 1e6);
	*code = 0;
done:
	sqlite3_finalize(s);
	sqlite3_close(db);
	return out;
}
