/* Opening the store: checks, pragmas, migrations (see store.h). */
#include "store_int.h"

#include "log.h"
#include "migrate.h"
#include "util.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_APPLICATION_ID  0x52465444 /* "RFTD" */
#define STORE_BUSY_TIMEOUT_MS 5000

void
store_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Runs a one-integer query; returns 0 or the SQLite result code. */
static int
query_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *stmt;
	int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);

	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(stmt, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(stmt);
	return rc;
}

/*
 * Reads the header-level facts that decide whether we may touch the file
 * at all.  Only reads: nothing is written before these checks pass.
 */
static int
check_identity(struct store *st, char *err, size_t errlen)
{
	int64_t version = 0, app_id = 0, objects = 0;
	int rc;

	rc = query_int(st->db, "PRAGMA user_version;", &version);
	if (rc == SQLITE_NOTADB) {
		store_errf(err, errlen, "%s: not an SQLite database", st->path);
		return -EINVAL;
	}
	if (rc != SQLITE_OK) {
		store_errf(err, errlen, "%s: %s", st->path,
			   sqlite3_errmsg(st->db));
		return -EIO;
	}
	if (query_int(st->db, "PRAGMA application_id;", &app_id) != SQLITE_OK ||
	    query_int(st->db, "SELECT count(*) FROM sqlite_schema;",
		      &objects) != SQLITE_OK) {
		store_errf(err, errlen, "%s: %s", st->path,
			   sqlite3_errmsg(st->db));
		return -EIO;
	}
	if (version == 0 && objects > 0) {
		store_errf(err, errlen,
			   "%s: an SQLite database that rftd did not create "
			   "(it has tables but no rftd schema version)",
			   st->path);
		return -EINVAL;
	}
	if (version > 0 && app_id != STORE_APPLICATION_ID) {
		store_errf(err, errlen,
			   "%s: not an rftd database (application_id %lld)",
			   st->path, (long long)app_id);
		return -EINVAL;
	}
	if (version > store_latest_version()) {
		store_errf(err, errlen,
			   "%s: schema version %lld is newer than this rftd "
			   "knows (%d); run a newer rftd",
			   st->path, (long long)version,
			   store_latest_version());
		return -EPROTO;
	}
	st->version = (int)version;
	return 0;
}

static int
set_pragmas(struct store *st, char *err, size_t errlen)
{
	sqlite3_stmt *stmt;
	const char *mode;
	bool wal;

	if (sqlite3_exec(st->db,
			 "PRAGMA foreign_keys = ON;"
			 "PRAGMA synchronous = FULL;",
			 NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL;", -1, &stmt,
			       NULL) != SQLITE_OK)
		goto fail;
	wal = sqlite3_step(stmt) == SQLITE_ROW &&
	      (mode = (const char *)sqlite3_column_text(stmt, 0)) != NULL &&
	      strcmp(mode, "wal") == 0;
	sqlite3_finalize(stmt);
	if (!wal) {
		store_errf(err, errlen, "%s: cannot switch to WAL mode",
			   st->path);
		return -EIO;
	}
	return 0;
fail:
	store_errf(err, errlen, "%s: %s", st->path, sqlite3_errmsg(st->db));
	return -EIO;
}

/*
 * SQLite keeps the -wal and -shm files beside the database and creates
 * them when it opens it: a directory it cannot write into fails every
 * start after a clean shutdown (which removes them).
 */
static int
check_directory(const char *path, char *err, size_t errlen)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	int rc = 0;

	if (slash == NULL) {
		free(dir);
		dir = xstrdup(".");
	} else {
		slash[slash == dir ? 1 : 0] = '\0';
	}
	if (access(dir, W_OK | X_OK) != 0) {
		rc = -errno;
		store_errf(err, errlen,
			   "%s: cannot write in its directory %s (for the "
			   "-wal and -shm files): %s",
			   path, dir, strerror(errno));
	}
	free(dir);
	return rc;
}

/*
 * SQLite's settings for the whole process, made before its first
 * connection (later, SQLite refuses them and its defaults stay).  Page
 * caches start empty instead of with a bulk of 20 pages: a statement
 * that checks a CHECK (... IN (...)) constraint or an IN list builds a
 * small temporary table each time it runs, and the bulk was allocated,
 * touched and freed each time (a quarter of the daemon's CPU with a few
 * hundred jobs polled every tick).
 */
static void
library_setup(void)
{
	static bool done;

	if (!done)
		sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
	done = true;
}

struct store *
store_open(const char *path, char *err, size_t errlen)
{
	struct store *st = xcalloc(1, sizeof(*st));
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	struct stat sb;
	int rc;

	library_setup();
	st->path = xstrdup(path);
	if (stat(path, &sb) == 0) {
		if (!S_ISREG(sb.st_mode)) {
			store_errf(err, errlen, "%s: not a regular file", path);
			goto fail;
		}
	} else if (errno == ENOENT) {
		rc = mkdir_parent(path, 0700);
		if (rc != 0) {
			store_errf(err, errlen,
				   "%s: cannot create its directory: %s", path,
				   strerror(-rc));
			goto fail;
		}
		flags |= SQLITE_OPEN_CREATE;
	} else {
		store_errf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}

	if (check_directory(path, err, errlen) != 0)
		goto fail;
	if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
		store_errf(err, errlen, "%s: %s", path,
			   st->db ? sqlite3_errmsg(st->db) : "cannot open");
		goto fail;
	}
	/* SQLite falls back to reading a file it may not write, silently. */
	if (sqlite3_db_readonly(st->db, "main") != 0) {
		store_errf(err, errlen, "%s: cannot be written: %s", path,
			   access(path, W_OK) != 0 ? strerror(errno)
						   : "opened read-only");
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	/*
	 * Until the checks pass, closing must not checkpoint a WAL left by
	 * someone else into a file we refuse.
	 */
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
	if (check_identity(st, err, errlen) != 0 ||
	    set_pragmas(st, err, errlen) != 0)
		goto fail;
	if (migrate_apply(st->db, st->version, err, errlen) != 0)
		goto fail;
	st->version = store_latest_version();
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
	return st;
fail:
	store_close(st);
	return NULL;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < STMT_CACHE_SIZE; i++)
		sqlite3_finalize(st->cache[i].stmt);
	if (st->db != NULL && sqlite3_close(st->db) != SQLITE_OK)
		log_warnx("store: close: %s", sqlite3_errmsg(st->db));
	free(st->path);
	free(st);
}

const char *
store_path(const struct store *st)
{
	return st->path;
}

/* --- checkpoints off the loop's thread ------------------------------------ */

struct store_checkpointer {
	sqlite3 *db; /* a connection of its own, used by one thread at a time */
};

struct store_checkpointer *
store_checkpointer_open(struct store *st)
{
	struct store_checkpointer *c = xcalloc(1, sizeof(*c));

	if (sqlite3_open_v2(st->path, &c->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		log_warnx("store: checkpoints: %s",
			  c->db ? sqlite3_errmsg(c->db) : "cannot open");
		sqlite3_close(c->db);
		free(c);
		return NULL;
	}
	sqlite3_busy_timeout(c->db, STORE_BUSY_TIMEOUT_MS);
	/* From now on only this connection checkpoints, when asked. */
	sqlite3_exec(st->db, "PRAGMA wal_autocheckpoint = 0;", NULL, NULL,
		     NULL);
	return c;
}

int
store_checkpoint(struct store_checkpointer *c)
{
	int frames, done;

	if (sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
				      &frames, &done) != SQLITE_OK)
		return -EIO;
	return frames - done;
}

void
store_checkpointer_close(struct store *st, struct store_checkpointer *c)
{
	if (c == NULL)
		return;
	sqlite3_close(c->db);
	free(c);
	if (st != NULL)
		sqlite3_exec(st->db, "PRAGMA wal_autocheckpoint = 1000;", NULL,
			     NULL, NULL);
}

int
store_schema_version(const struct store *st)
{
	return st->version;
}

int
store_latest_version(void)
{
	return migrations_count > 0 ? migrations[migrations_count - 1].version
				    : 0;
}

/*
 * One statement that counts the rows of every table of `db`, or NULL
 * after logging.
 */
static sqlite3_stmt *
prepare_counts(sqlite3 *db)
{
	sqlite3_stmt *names, *counts = NULL;
	char *sql = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db,
				"SELECT name FROM sqlite_schema "
				"WHERE type = 'table' AND name NOT LIKE "
				"'sqlite_%' ORDER BY name;",
				-1, &names, NULL);
	while (rc == SQLITE_OK && sqlite3_step(names) == SQLITE_ROW) {
		const char *table = (const char *)sqlite3_column_text(names, 0);
		char *next =
		    sqlite3_mprintf("%z%sSELECT %Q, count(*) FROM \"%w\"", sql,
				    sql ? " UNION ALL " : "", table, table);

		if (next == NULL)
			fatalx("out of memory (sqlite3_mprintf)");
		sql = next;
	}
	sqlite3_finalize(names);
	if (rc == SQLITE_OK && sql != NULL)
		rc = sqlite3_prepare_v2(db, sql, -1, &counts, NULL);
	sqlite3_free(sql);
	if (rc != SQLITE_OK)
		log_warnx("store: counting rows: %s", sqlite3_errmsg(db));
	return counts;
}

int
store_table_counts(const char *path,
		   void (*fn)(const char *table, int64_t rows, void *arg),
		   void *arg)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *counts = NULL;
	int rc = SQLITE_ERROR;

	if (sqlite3_open_v2(path, &db,
			    SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
			    NULL) == SQLITE_OK) {
		sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
		counts = prepare_counts(db);
	}
	while (counts != NULL && (rc = sqlite3_step(counts)) == SQLITE_ROW)
		fn((const char *)sqlite3_column_text(counts, 0),
		   sqlite3_column_int64(counts, 1), arg);
	if (counts != NULL && rc != SQLITE_DONE)
		log_warnx("store: counting rows: %s", sqlite3_errmsg(db));
	sqlite3_finalize(counts);
	sqlite3_close(db);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

sqlite3_stmt *
stmt(struct store *st, const char *sql)
{
	size_t i;

	for (i = 0; i < STMT_CACHE_SIZE && st->cache[i].sql != NULL; i++) {
		if (st->cache[i].sql == sql) {
			sqlite3_reset(st->cache[i].stmt);
			sqlite3_clear_bindings(st->cache[i].stmt);
			return st->cache[i].stmt;
		}
	}
	if (i == STMT_CACHE_SIZE)
		fatalx("store: statement cache full (raise STMT_CACHE_SIZE)");
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
			       &st->cache[i].stmt, NULL) != SQLITE_OK) {
		log_err("store: prepare: %s: %s", sqlite3_errmsg(st->db), sql);
		st->cache[i].stmt = NULL;
		return NULL;
	}
	st->cache[i].sql = sql;
	return st->cache[i].stmt;
}

int
store_fail(struct store *st, const char *what)
{
	snprintf(st->last_error, sizeof(st->last_error), "%s",
		 sqlite3_errmsg(st->db));
	st->last_code = sqlite3_extended_errcode(st->db);
	log_err("store: %s: %s", what, st->last_error);
	return -EIO;
}

int
stmt_done(struct store *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	if (sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_UNIQUE ||
	    sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_PRIMARYKEY) {
		/* A row that clashes with another: the caller's to explain. */
		log_debug("store: %s: %s", sqlite3_sql(s),
			  sqlite3_errmsg(st->db));
		return -EEXIST;
	}
	return store_fail(st, sqlite3_sql(s));
}

const char *
col_text(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

void
bind_text(sqlite3_stmt *s, int i, const char *text)
{
	if (text != NULL)
		sqlite3_bind_text(s, i, text, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

cJSON *
query_json(struct store *st, sqlite3_stmt *s)
{
	cJSON *out = NULL;
	int rc;

	if (s == NULL)
		return NULL;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && col_text(s, 0) != NULL)
		out = cJSON_Parse(col_text(s, 0));
	else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		store_fail(st, "query");
	sqlite3_reset(s);
	return out;
}

/* Commits wait for the disk again (see store_begin_light()). */
static void
light_over(struct store *st)
{
	if (st->light && sqlite3_exec(st->db, "PRAGMA synchronous = FULL;",
				      NULL, NULL, NULL) == SQLITE_OK)
		st->light = false;
}

int
store_begin(struct store *st)
{
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE;", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return store_fail(st, "begin");
	return 0;
}

int
store_begin_light(struct store *st)
{
	if (sqlite3_exec(st->db, "PRAGMA synchronous = NORMAL;", NULL, NULL,
			 NULL) != SQLITE_OK)
		return store_fail(st, "synchronous");
	st->light = true;
	if (store_begin(st) != 0) {
		light_over(st);
		return -EIO;
	}
	return 0;
}

int
store_commit(struct store *st)
{
	if (sqlite3_exec(st->db, "COMMIT;", NULL, NULL, NULL) != SQLITE_OK) {
		store_fail(st, "commit");
		store_rollback(st);
		return -EIO;
	}
	light_over(st);
	return 0;
}

void
store_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK;", NULL, NULL, NULL);
	light_over(st);
}

int
store_unit_begin(struct store *st, bool *outer)
{
	*outer = sqlite3_get_autocommit(st->db) != 0;
	if (*outer)
		return store_begin(st);
	if (sqlite3_exec(st->db, "SAVEPOINT unit;", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return store_fail(st, "savepoint");
	return 0;
}

int
store_unit_end(struct store *st, bool outer, bool ok)
{
	if (outer) {
		if (ok)
			return store_commit(st);
		store_rollback(st);
		return 0;
	}
	if (ok && sqlite3_exec(st->db, "RELEASE unit;", NULL, NULL, NULL) ==
		      SQLITE_OK)
		return 0;
	if (ok)
		store_fail(st, "release");
	sqlite3_exec(st->db, "ROLLBACK TO unit; RELEASE unit;", NULL, NULL,
		     NULL);
	return ok ? -EIO : 0;
}

bool
store_in_transaction(const struct store *st)
{
	return sqlite3_get_autocommit(st->db) == 0;
}

int
store_probe(struct store *st, char *err, size_t errlen)
{
	char sql[64];

	/* Writes the header page again: a real write, which a full disk or
	 * a file that cannot grow refuses, and which changes nothing. */
	snprintf(sql, sizeof(sql),
		 "BEGIN IMMEDIATE; PRAGMA user_version = %d; COMMIT;",
		 st->version);
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "%s", sqlite3_errmsg(st->db));
	store_rollback(st);
	return -EIO;
}

bool
store_failing(const struct store *st)
{
	switch (st->last_code & 0xff) {
	case SQLITE_FULL:
	case SQLITE_IOERR:
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_NOMEM:
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_PROTOCOL:
		return true;
	default:
		return false;
	}
}

const char *
store_last_error(const struct store *st)
{
	return st->last_error;
}
