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

struct guard;
struct slow_fn;

/* The user data of a checked built-in: see slow_call(). */
struct slow_call {
	struct guard *g;
	const struct slow_fn *fn;
};

#define NSLOW 7 /* entries of slow_fns[] */

struct guard {
	uint64_t deadline_ns; /* monotonic */
	bool timed_out;
	char denied[160]; /* the first refused action, for the message */
	int value_max;	  /* SQLITE_LIMIT_LENGTH: bytes of one value */
	sqlite3 *side;	  /* runs the built-ins that slow_call() checked */
	struct slow_call calls[NSLOW];
};

/* What one value may take, so that a reply holds at least one. */
#define VALUE_MAX_CAP (8 << 20)
#define COLUMNS_MAX   100
/* Steps (pairs of bytes) a quadratic built-in may take in one call. */
#define QUADRATIC_MAX (1ll << 30)

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

/*
 * Pragmas that only read, also as table-valued functions (pragma_NAME()).
 * Those marked `with_arg` take a table or index name; the others are
 * allowed only without an argument, since with one most of them write.
 */
static const struct {
	const char *name;
	bool with_arg;
} read_pragmas[] = {
    {"table_info", true},	{"table_xinfo", true},
    {"table_list", true},	{"index_list", true},
    {"index_info", true},	{"index_xinfo", true},
    {"foreign_key_list", true}, {"collation_list", false},
    {"function_list", false},	{"module_list", false},
    {"pragma_list", false},	{"database_list", false},
    {"compile_options", false}, {"user_version", false},
    {"application_id", false},	{"schema_version", false},
    {"data_version", false},	{"encoding", false},
    {"page_size", false},	{"page_count", false},
    {"freelist_count", false},	{"foreign_keys", false},
    {"journal_mode", false},
};

static bool
read_pragma(const char *name, const char *arg, const char *db)
{
	if (db != NULL && strcmp(db, "main") != 0)
		return false;
	for (size_t i = 0; i < sizeof(read_pragmas) / sizeof(read_pragmas[0]);
	     i++)
		if (strcasecmp(name, read_pragmas[i].name) == 0)
			return arg == NULL || read_pragmas[i].with_arg;
	return false;
}

static int
authorize(void *arg, int action, const char *a, const char *b, const char *db,
	  const char *trigger)
{
	struct guard *g = arg;

	switch (action) {
	case SQLITE_SELECT:
	case SQLITE_RECURSIVE:
		return SQLITE_OK;
	case SQLITE_READ:
		if (db == NULL || strcmp(db, "main") == 0)
			return SQLITE_OK;
		break;
	case SQLITE_UPDATE:
		/*
		 * A table-valued function (json_each(), pragma_table_info())
		 * is a virtual table that SQLite declares on first use, and
		 * authorizes the schema row of that declaration, which it
		 * never writes.  A query that names sqlite_master to write it
		 * fails before this (DEFENSIVE), and every statement must be
		 * read-only on a read-only connection.
		 */
		if (a != NULL && strcmp(a, "sqlite_master") == 0 &&
		    db != NULL && strcmp(db, "main") == 0 && trigger == NULL)
			return SQLITE_OK;
		break;
	case SQLITE_PRAGMA:
		if (read_pragma(a, b, db))
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

/*
 * Built-ins that run long inside one call, where neither the progress
 * handler nor sqlite3_interrupt() reaches: printf() loops once per unit
 * of a width or precision, and instr(), replace() and trim() compare
 * every byte of one argument with every byte of another.  Each is
 * replaced by a check of its arguments and, when they pass, a call of
 * the built-in on a side connection with the same value limit.
 */
struct slow_fn {
	const char *name;
	/* 0 when the call is quick enough, else -1 and why in msg. */
	int (*check)(const struct guard *g, int argc, sqlite3_value **argv,
		     char *msg, size_t len);
	bool null_is_toobig; /* the built-in answers NULL for too long */
};

static long long
parse_count(const char **p)
{
	long long n = 0;

	while (**p >= '0' && **p <= '9') {
		if (n < 1ll << 40)
			n = n * 10 + (**p - '0');
		(*p)++;
	}
	return n;
}

static int
check_printf(const struct guard *g, int argc, sqlite3_value **argv, char *msg,
	     size_t len)
{
	const char *f = (const char *)sqlite3_value_text(argv[0]);
	bool star = false;

	if (f == NULL)
		return 0;
	while ((f = strchr(f, '%')) != NULL) {
		f++;
		f += strspn(f, "-+ #!0,");
		if (*f == '*')
			star = true, f++;
		else if (parse_count(&f) > g->value_max)
			goto refuse;
		if (*f == '.') {
			f++;
			if (*f == '*')
				star = true, f++;
			else if (parse_count(&f) > g->value_max)
				goto refuse;
		}
		if (*f == '%')
			f++;
	}
	/* Which argument a '*' takes is the built-in's business: bound all. */
	for (int i = 1; star && i < argc; i++) {
		sqlite3_int64 n = sqlite3_value_int64(argv[i]);

		if (n > g->value_max || n < -(sqlite3_int64)g->value_max)
			goto refuse;
	}
	return 0;
refuse:
	snprintf(msg, len,
		 "a width or precision over the limit of %d bytes of a value",
		 g->value_max);
	return -1;
}

static int
check_quadratic(const struct guard *g, int argc, sqlite3_value **argv,
		char *msg, size_t len)
{
	long long a, b;

	(void)g;
	if (argc < 2)
		return 0;
	a = sqlite3_value_bytes(argv[0]);
	b = sqlite3_value_bytes(argv[1]);
	if (a * b <= QUADRATIC_MAX)
		return 0;
	snprintf(msg, len,
		 "arguments of %lld and %lld bytes, over the limit of %lld "
		 "for the product of their lengths",
		 a, b, QUADRATIC_MAX);
	return -1;
}

static const struct slow_fn slow_fns[] = {
    {"printf", check_printf, true},    {"format", check_printf, true},
    {"instr", check_quadratic, false}, {"replace", check_quadratic, false},
    {"trim", check_quadratic, false},  {"ltrim", check_quadratic, false},
    {"rtrim", check_quadratic, false},
};

_Static_assert(sizeof(slow_fns) / sizeof(slow_fns[0]) == NSLOW,
	       "NSLOW counts slow_fns[]");

static void
slow_call(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const struct slow_call *c = sqlite3_user_data(ctx);
	struct guard *g = c->g;
	sqlite3_stmt *st = NULL;
	char sql[40 + 4 * 32], why[160], msg[200];
	size_t n;

	if (c->fn->check(g, argc, argv, why, sizeof(why)) != 0) {
		snprintf(msg, sizeof(msg), "%s(): %s", c->fn->name, why);
		sqlite3_result_error(ctx, msg, -1);
		return;
	}
	if (g->side == NULL) {
		if (sqlite3_open_v2(":memory:", &g->side,
				    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
				    NULL) != SQLITE_OK) {
			sqlite3_result_error_nomem(ctx);
			return;
		}
		sqlite3_limit(g->side, SQLITE_LIMIT_LENGTH, g->value_max);
	}
	n = (size_t)snprintf(sql, sizeof(sql), "SELECT %s(", c->fn->name);
	for (int i = 0; i < argc && n < sizeof(sql); i++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s?%d",
				      i ? "," : "", i + 1);
	if (n + 2 > sizeof(sql)) {
		sqlite3_result_error(ctx, "too many arguments", -1);
		return;
	}
	memcpy(sql + n, ")", 2);
	if (sqlite3_prepare_v2(g->side, sql, -1, &st, NULL) != SQLITE_OK)
		goto fail;
	for (int i = 0; i < argc; i++)
		sqlite3_bind_value(st, i + 1, argv[i]);
	if (sqlite3_step(st) != SQLITE_ROW)
		goto fail;
	if (c->fn->null_is_toobig &&
	    sqlite3_column_type(st, 0) == SQLITE_NULL &&
	    sqlite3_value_type(argv[0]) != SQLITE_NULL)
		sqlite3_result_error_toobig(ctx);
	else
		sqlite3_result_value(ctx, sqlite3_column_value(st, 0));
	sqlite3_finalize(st);
	return;
fail:
	sqlite3_result_error(ctx, sqlite3_errmsg(g->side), -1);
	sqlite3_result_error_code(ctx, sqlite3_errcode(g->side));
	sqlite3_finalize(st);
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
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, g->value_max);
	sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, 100000);
	sqlite3_limit(db, SQLITE_LIMIT_COLUMN, COLUMNS_MAX);
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
	for (size_t i = 0; i < NSLOW; i++) {
		g->calls[i] = (struct slow_call){g, &slow_fns[i]};
		if (sqlite3_create_function_v2(
			db, slow_fns[i].name, -1,
			SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
			&g->calls[i], slow_call, NULL, NULL,
			NULL) != SQLITE_OK) {
			store_errf(err, errlen, "cannot guard %s(): %s",
				   slow_fns[i].name, sqlite3_errmsg(db));
			sqlite3_close(db);
			return NULL;
		}
	}
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

/* Bytes that column_value() of column i takes printed, at most. */
static size_t
column_json_bytes(sqlite3_stmt *s, int i)
{
	const unsigned char *t;
	size_t n = 0;
	int len;

	switch (sqlite3_column_type(s, i)) {
	case SQLITE_INTEGER:
	case SQLITE_FLOAT:
		return 32;
	case SQLITE_TEXT:
		t = sqlite3_column_text(s, i);
		len = sqlite3_column_bytes(s, i);
		for (int k = 0; k < len; k++)
			n += t[k] < 0x20		   ? 6
			     : t[k] == '"' || t[k] == '\\' ? 2
							   : 1;
		return n + 2;
	case SQLITE_BLOB:
		return (size_t)sqlite3_column_bytes(s, i) * 2 + 5;
	default:
		return 4;
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
	bool row_too_big = false;

	*code = STORE_SQL_FAILED; /* until the database is open */
	g.deadline_ns = t0 + (uint64_t)lim->timeout_ms * 1000000u;
	g.value_max = lim->max_bytes / 4 < VALUE_MAX_CAP
			  ? (int)(lim->max_bytes / 4)
			  : VALUE_MAX_CAP;
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
		size_t row_bytes = 2;
		cJSON *row;

		if (nrows >= lim->max_rows) {
			cJSON_AddStringToObject(out, "truncated", "row cap");
			break;
		}
		/* Measured before it is built: a row that does not fit is
		 * never made. */
		for (int i = 0; i < ncols; i++)
			row_bytes += column_json_bytes(s, i) + 1;
		if (bytes + row_bytes > lim->max_bytes) {
			if (nrows == 0) {
				row_too_big = true;
				rc = SQLITE_ERROR;
				break;
			}
			cJSON_AddStringToObject(out, "truncated", "byte cap");
			break;
		}
		bytes += row_bytes;
		row = cJSON_CreateArray();
		for (int i = 0; i < ncols; i++)
			cJSON_AddItemToArray(row, column_value(s, i));
		cJSON_AddItemToArray(rows, row);
		nrows++;
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
		} else if (row_too_big) {
			store_errf(err, errlen,
				   "the first row is longer than the limit of "
				   "%zu bytes of a reply",
				   lim->max_bytes);
		} else if (sqlite3_errcode(db) == SQLITE_TOOBIG) {
			store_errf(err, errlen,
				   "a value is longer than the limit of %d "
				   "bytes (%s)",
				   g.value_max, sqlite3_errmsg(db));
		} else if (g.denied[0] != '\0') {
			*code = STORE_SQL_REFUSED;
			store_errf(err, errlen,
				   "refused: %s is not allowed; queries are "
				   "read-only",
				   g.denied);
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
	sqlite3_close(g.side);
	return out;
}
