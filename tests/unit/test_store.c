/*
 * The store (store/store.h): creating and migrating a database, and
 * refusing, without writing a byte, files it must not touch.  The tests
 * look at the database through their own SQLite connection.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "migrate.h"
#include "store.h"
#include "util.h"

#include "tmpdir.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fs.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define RFTD_APPLICATION_ID 0x52465444 /* "RFTD" */

/* The tables of migrations/0001_init.sql, in name order. */
static const char *const initial_tables[] = {
    "budgets",	  "checkpoints",  "files",  "graders",
    "job_events", "jobs",	  "ledger", "metrics",
    "sim_jobs",	  "sweep_trials", "sweeps", "trials",
};

/* --- fixture and helpers ------------------------------------------------- */

struct fixture {
	char dir[64]; /* the test's temporary directory */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	if (tmpdir_make(f->dir, sizeof(f->dir), "store") != 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	int rc = tmpdir_remove(f->dir);

	free(f);
	return rc;
}

/* DIR/name, newly allocated. */
static char *
path_in(const struct fixture *f, const char *name)
{
	return xasprintf("%s/%s", f->dir, name);
}

static bool
exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

/* True when `db` has a file beside it named db + suffix. */
static bool
sibling_exists(const char *db, const char *suffix)
{
	char *p = xasprintf("%s%s", db, suffix);
	bool found = exists(p);

	free(p);
	return found;
}

/* Reads a whole (small) file; *len gets its size. */
static char *
read_all(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static sqlite3 *
db_open(const char *path)
{
	sqlite3 *db = NULL;

	assert_int_equal(
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static void
db_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg ? msg : "?");
}

static int64_t
db_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *stmt;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return v;
}

/* Creates a database at `path` with another program's hands. */
static void
make_db(const char *path, const char *sql)
{
	sqlite3 *db = NULL;

	assert_int_equal(
	    sqlite3_open_v2(path, &db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
	    SQLITE_OK);
	db_exec(db, sql);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void
write_bytes(const char *path, const char *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/*
 * Expects store_open(path) to fail with an error containing `needle`,
 * leaving the file byte-identical and no journal or WAL beside it.
 */
static void
assert_refused_untouched(const char *path, const char *needle)
{
	char err[512] = "";
	size_t before_len, after_len;
	char *before = read_all(path, &before_len);
	struct store *st = store_open(path, err, sizeof(err));
	char *after;

	store_close(st);
	assert_null(st);
	if (strstr(err, needle) == NULL)
		fail_msg("error '%s' does not contain '%s'", err, needle);
	assert_non_null(strstr(err, path));
	after = read_all(path, &after_len);
	assert_int_equal(after_len, before_len);
	assert_memory_equal(after, before, before_len);
	assert_false(sibling_exists(path, "-wal"));
	assert_false(sibling_exists(path, "-shm"));
	assert_false(sibling_exists(path, "-journal"));
	free(before);
	free(after);
}

struct counts {
	int n;
	char names[32][32];
	int64_t rows[32];
};

static void
collect_count(const char *table, int64_t rows, void *arg)
{
	struct counts *c = arg;

	assert_true(c->n < 32);
	assert_true(strlen(table) < sizeof(c->names[0]));
	strcpy(c->names[c->n], table);
	c->rows[c->n] = rows;
	c->n++;
}

/* The row count reported for `table`; fails if it was not reported. */
static int64_t
rows_of(const struct counts *c, const char *table)
{
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->names[i], table) == 0)
			return c->rows[i];
	fail_msg("table '%s' was not reported", table);
	return -1;
}

/*
 * Sets or clears the immutable attribute of `path`, which even root cannot
 * write through.  Returns 0 or -errno (file systems without attributes,
 * or a missing CAP_LINUX_IMMUTABLE, say no).
 */
static int
set_immutable(const char *path, bool on)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK);
	int attr, rc = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, FS_IOC_GETFLAGS, &attr) != 0) {
		rc = -errno;
	} else {
		attr = on ? attr | FS_IMMUTABLE_FL : attr & ~FS_IMMUTABLE_FL;
		if (ioctl(fd, FS_IOC_SETFLAGS, &attr) != 0)
			rc = -errno;
	}
	close(fd);
	return rc;
}

/* Undoes make_unwritable(), so that the fixture can remove `path`. */
static void
make_writable(const char *path, bool dir)
{
	if (geteuid() == 0)
		set_immutable(path, false);
	chmod(path, dir ? 0700 : 0600);
}

/* True when this process can write into `path` (a file or a directory). */
static bool
can_write(const char *path, bool dir)
{
	char *probe = xasprintf("%s/probe", path);
	int fd = dir ? open(probe, O_WRONLY | O_CREAT | O_EXCL, 0600)
		     : open(path, O_WRONLY);

	if (fd >= 0) {
		close(fd);
		if (dir)
			unlink(probe);
	}
	free(probe);
	return fd >= 0;
}

/*
 * Makes the file or directory `path` unwritable in a way the test's own
 * user cannot bypass: a read-only mode for an ordinary user, the
 * immutable attribute for root (who ignores modes).  Returns false,
 * saying why, when that cannot be done here; the caller then skips.
 */
static bool
make_unwritable(const char *path, bool dir)
{
	int rc = 0;

	if (geteuid() == 0)
		rc = set_immutable(path, true);
	else if (chmod(path, dir ? 0500 : 0400) != 0)
		rc = -errno;
	if (rc == 0 && !can_write(path, dir))
		return true;
	make_writable(path, dir);
	print_message("skipped: cannot make %s unwritable here (%s)\n", path,
		      rc != 0 ? strerror(-rc) : "it can still be written");
	return false;
}

/* --- creating ------------------------------------------------------------ */

static void
fresh_database_is_created_in_a_new_nested_directory(void **state)
{
	struct fixture *f = *state;
	char *path = path_in(f, "a/b/rftd.db");
	char *dir = path_in(f, "a/b");
	char err[512] = "";
	struct store *st;
	struct stat sb;

	st = store_open(path, err, sizeof(err));
	if (st == NULL)
		fail_msg("store_open: %s", err);
	assert_int_equal(stat(dir, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_true(exists(path));
	assert_string_equal(store_path(st), path);
	store_close(st);
	free(dir);
	free(path);
}

static void
fresh_database_has_the_latest_schema_version(void **state)
{
	struct fixture *f = *state;
	char *path = path_in(f, "rftd.db");
	char err[512] = "";
	struct store *st;
	sqlite3 *db;

	assert_true(store_latest_version() >= 1);
	st = store_open(path, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(store_schema_version(st), store_latest_version());
	store_close(st);
	db = db_open(path);
	assert_int_equal(db_int(db, "PRAGMA user_version;"),
			 store_latest_version());
	sqlite3_close(db);
	free(path);
}

static void
fresh_database_is_in_wal_mode(void **state)
{
	struct fixture *f = *state;
	char *path = path_in(f, "rftd.db");
	char err[512] = "";
	struct store *st;
	sqlite3 *db;
	sqlite3_stmt *stmt;

	st = store_open(path, err, sizeof(err));
	assert_non_null(st);
	assert_true(sibling_exists(path, "-wal"));
	store_close(st);

	db = db_open(path);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "PRAGMA journal_mode;", -1, &stmt, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	free(path);
}

static void
fresh_database_carries_the_rftd_application_id(void **state)
{
	struct fixture *f = *state;
	char *path = path_in(f, "rftd.db");
	char err[512] = "";
	struct store *st;
	sqlite3 *db;

	st = store_open(path, err, sizeof(err));
	assert_non_null(st);
	store_close(st);
	db = db_open(path);
	assert_int_equal(db_int(db, "PRAGMA application_id;"),
			 RFTD_APPLICATION_ID);
	sqlite3_close(db);
	free(path);
}

static void
migrated_database_reopens_without_migrating_and_keeps_data(void **state)
{
	struct fixture *f = *state;
	char *path = path_in(f, "rftd.db");
	char err[512] = "";
	struct store *st;
	sqlite3 *db;
	int64_t objects;
	char *before, *after;
	size_t before_len, after_len;

	st = store_open(path, err, sizeof(err));
	assert_non_null(st);
	store_close(st);

	db = db_open(path);
	db_exec(db, "INSERT INTO budgets (scope, limit_usd, updated_at) "
		    "VALUES ('global', 12.5, 1700000000);");
	objects = db_int(db, "SELECT count(*) FROM sqlite_schema;");
	sqlite3_close(db);
	before = read_all(path, &before_len);

	st = store_open(path, err, sizeof(err));
	if (st == NULL)
		fail_msg("store_open again: %s", err);
	assert_int_equal(store_schema_version(st), store_latest_version());
	store_close(st);

	/* Nothing was applied, so not a byte of the file changed. */
	after = read_all(path, &after_len);
	assert_int_equal(after_len, before_len);
	assert_memory_equal(after, before, before_len);
	free(before);
	free(after);

	db = db_open(path);
	assert_int_equal(db_int(db, "PRAGMA user_version;"),
			 store_latest_version());
	assert_int_equal(db_int(db, "SELECT count(*) FROM sqlite_schema;"),
			 objects);
	assert_int_equal(db_int(db, "SELECT count(*) FROM budgets "
				    "WHERE scope = 'global' "
				    "AND limit_usd = 12.5;"),
			 1);
	sqlite3_close(db);
	free(path);
}

/*
 * A store made by an rftd three migrations old, with a sweep, a trial, a
 * job and its metric, is migrated whole: 0004 builds the trials table
 * again (foreign keys off, then checked), and every row and reference
 * survives, with the new trial state allowed and the views reading.
 */
static void
a_store_with_data_migrates_to_the_latest(void **state)
{
	struct fixture *f = *state;
	char *path = path_in(f, "old.db");
	char err[512] = "";
	struct store *st;
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_true(migrations_count >= 4);
	db_exec(db, "PRAGMA foreign_keys = ON;");
	for (size_t i = 0; i < 3; i++)
		db_exec(db, migrations[i].sql);
	db_exec(
	    db,
	    "PRAGMA user_version = 3;"
	    "INSERT INTO sweeps (id, name, backend, model, spec,"
	    " spec_sha256, created_at, updated_at)"
	    " VALUES (1, 's', 'sim', 'm', '{}', 'x', 1, 1);"
	    "INSERT INTO graders VALUES ('g', 'string_check', '{}');"
	    "INSERT INTO trials (id, trial_sha256, sweep_id, grader_name,"
	    " grader_sha256, hyperparameters, state, attempts, objective,"
	    " created_at, updated_at)"
	    " VALUES (7, 't', 1, 'exact', 'g', '{}', 'succeeded', 1, 0.5,"
	    " 1, 1);"
	    "INSERT INTO sweep_trials VALUES (1, 0, 7, 0);"
	    "INSERT INTO jobs (id, trial_id, attempt, backend, intent_key,"
	    " state, cost_usd, created_at, updated_at)"
	    " VALUES (3, 7, 1, 'sim', 'k', 'succeeded', 2.5, 1, 1);"
	    "INSERT INTO metrics VALUES (3, 'valid_reward_mean', 10, 0.5);");
	sqlite3_close(db);

	st = store_open(path, err, sizeof(err));
	if (st == NULL)
		fail_msg("store_open: %s", err);
	assert_int_equal(store_schema_version(st), store_latest_version());
	store_close(st);

	db = db_open(path);
	assert_int_equal(db_int(db, "SELECT count(*) FROM trials WHERE id = 7"
				    " AND state = 'succeeded'"
				    " AND early_stop IS NULL;"),
			 1);
	assert_int_equal(db_int(db, "SELECT count(*) FROM pragma_foreign_key"
				    "_check;"),
			 0);
	assert_int_equal(db_int(db, "SELECT count(*) FROM leaderboard"
				    " WHERE trial_id = 7 AND cost_usd = 2.5;"),
			 1);
	db_exec(db, "UPDATE trials SET state = 'stopped' WHERE id = 7;");
	sqlite3_close(db);
	free(path);
}

/* --- refusing ------------------------------------------------------------ */

static void
newer_schema_is_refused_untouched(void **state)
{
	struct fixture *f = *state;
	char *path = path_in(f, "future.db");
	char *sql = xasprintf("PRAGMA application_id = %d;"
			      "PRAGMA user_version = %d;"
			      "CREATE TABLE from_the_future (x);"
			      "INSERT INTO from_the_future VALUES (1);",
			      RFTD_APPLICATION_ID, store_latest_version() + 1);

	make_db(path, sql);
	assert_refused_untouched(path, "newer");
	free(sql);
	free(path);
}

/* Copies the file `from` to `to`, byte for byte. */
static void
copy_file(const char *from, const char *to)
{
	size_t len;
	char *data = read_all(from, &len);

	write_bytes(to, data, len);
	free(data);
}

/*
 * A newer rftd killed while running leaves its last commits in the -wal
 * file.  An older rftd must refuse the database without checkpointing
 * that WAL into it (a write) or deleting it.
 */
static void
newer_schema_with_a_leftover_wal_is_refused_untouched(void **state)
{
	struct fixture *f = *state;
	char *live = path_in(f, "live.db");
	char *live_wal = path_in(f, "live.db-wal");
	char *path = path_in(f, "crashed.db");
	char *wal = path_in(f, "crashed.db-wal");
	char *sql = xasprintf("PRAGMA journal_mode = WAL;"
			      "PRAGMA wal_autocheckpoint = 0;"
			      "PRAGMA application_id = %d;"
			      "PRAGMA user_version = %d;"
			      "CREATE TABLE from_the_future (x);"
			      "INSERT INTO from_the_future VALUES (1);",
			      RFTD_APPLICATION_ID, store_latest_version() + 1);
	char err[512] = "";
	char *db_before, *db_after, *wal_before, *wal_after = NULL;
	size_t db_before_len, db_after_len, wal_before_len, wal_after_len = 0;
	bool wal_kept, db_same, wal_same;
	struct store *st;
	sqlite3 *db = NULL;

	/* Copy the files while the writer is still open, as a crash would
	 * leave them. */
	assert_int_equal(
	    sqlite3_open_v2(live, &db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
	    SQLITE_OK);
	db_exec(db, sql);
	copy_file(live, path);
	copy_file(live_wal, wal);
	sqlite3_close(db);
	db_before = read_all(path, &db_before_len);
	wal_before = read_all(wal, &wal_before_len);
	assert_true(wal_before_len > 0);

	st = store_open(path, err, sizeof(err));
	store_close(st);
	assert_null(st);
	assert_non_null(strstr(err, "newer"));
	db_after = read_all(path, &db_after_len);
	wal_kept = exists(wal);
	if (wal_kept)
		wal_after = read_all(wal, &wal_after_len);

	db_same = db_after_len == db_before_len &&
		  memcmp(db_after, db_before, db_before_len) == 0;
	wal_same = wal_kept && wal_after_len == wal_before_len &&
		   memcmp(wal_after, wal_before, wal_before_len) == 0;
	if (!db_same)
		print_error("the refused database file was rewritten "
			    "(%zu bytes before, %zu after)\n",
			    db_before_len, db_after_len);
	if (!wal_same)
		print_error("the refused database's -wal file was %s\n",
			    wal_kept ? "changed" : "removed");
	free(db_before);
	free(db_after);
	free(wal_before);
	free(wal_after);
	free(sql);
	free(wal);
	free(path);
	free(live_wal);
	free(live);
	assert_true(db_same);
	assert_true(wal_same);
}

static void
text_file_is_refused_as_not_a_database_untouched(void **state)
{
	struct fixture *f = *state;
	char *path = path_in(f, "notes.db");
	char text[8192];

	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = i % 64 == 63 ? '\n' : (char)('a' + i % 26);
	write_bytes(path, text, sizeof(text));
	assert_refused_untouched(path, "not an SQLite database");
	free(path);
}

static void
short_text_file_is_refused_as_not_a_database_untouched(void **state)
{
	struct fixture *f = *state;
	char *path = path_in(f, "short.db");

	write_bytes(path, "hello\n", 6);
	assert_refused_untouched(path, "not an SQLite database");
	free(path);
}

static void
other_programs_database_is_refused_untouched(void **state)
{
	struct fixture *f = *state;
	char *path = path_in(f, "other.db");

	make_db(path, "CREATE TABLE contacts (name TEXT, phone TEXT);"
		      "INSERT INTO contacts VALUES ('ada', '123');");
	assert_refused_untouched(path, "did not create");
	free(path);
}

static void
database_with_a_foreign_application_id_is_refused_untouched(void **state)
{
	struct fixture *f = *state;
	char *path = path_in(f, "foreign.db");

	make_db(path, "PRAGMA application_id = 1234;"
		      "PRAGMA user_version = 1;"
		      "CREATE TABLE t (x);");
	assert_refused_untouched(path, "not an rftd database");
	free(path);
}

static void
directory_is_refused(void **state)
{
	struct fixture *f = *state;
	char err[512] = "";
	struct store *st;

	st = store_open(f->dir, err, sizeof(err));
	store_close(st);
	assert_null(st);
	assert_non_null(strstr(err, f->dir));
	assert_non_null(strstr(err, "not a regular file"));
}

/*
 * SQLite opens a file it cannot write read-only without a word; the
 * daemon would then say ready and fail every write.
 */
static void
database_file_that_cannot_be_written_is_refused(void **state)
{
	struct fixture *f = *state;
	char *path = path_in(f, "rftd.db");
	char err[512] = "";
	struct store *st;

	st = store_open(path, err, sizeof(err));
	assert_non_null(st);
	store_close(st);
	if (!make_unwritable(path, false)) {
		free(path);
		skip();
	}
	st = store_open(path, err, sizeof(err));
	make_writable(path, false);
	store_close(st);
	assert_null(st);
	assert_non_null(strstr(err, path));
	if (strstr(err, "cannot be written") == NULL)
		fail_msg("error '%s' does not say it cannot be written", err);
	free(path);
}

/* SQLite keeps the -wal and -shm files beside the database. */
static void
database_whose_directory_cannot_be_written_is_refused(void **state)
{
	struct fixture *f = *state;
	char *dir = path_in(f, "state");
	char *path = path_in(f, "state/rftd.db");
	char *want = xasprintf("cannot write in its directory %s", dir);
	char err[512] = "";
	struct store *st;

	st = store_open(path, err, sizeof(err));
	assert_non_null(st);
	store_close(st);
	assert_false(sibling_exists(path, "-wal"));
	if (!make_unwritable(dir, true)) {
		free(want);
		free(path);
		free(dir);
		skip();
	}
	st = store_open(path, err, sizeof(err));
	make_writable(dir, true);
	store_close(st);
	assert_null(st);
	if (strstr(err, path) == NULL || strstr(err, want) == NULL)
		fail_msg("error '%s' does not say '%s'", err, want);
	free(want);
	free(path);
	free(dir);
}

static void
close_of_null_is_a_no_op(void **state)
{
	(void)state;
	store_close(NULL);
}

/* --- contents ------------------------------------------------------------ */

static void
table_counts_report_every_table_empty_in_name_order(void **state)
{
	struct fixture *f = *state;
	char *path = path_in(f, "rftd.db");
	char err[512] = "";
	struct counts c = {0};
	struct store *st;

	st = store_open(path, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(store_table_counts(store_path(st), collect_count, &c),
			 0);
	store_close(st);

	assert_true(c.n >= (int)ARRAY_LEN(initial_tables));
	for (size_t i = 0; i < ARRAY_LEN(initial_tables); i++)
		assert_int_equal(rows_of(&c, initial_tables[i]), 0);
	for (int i = 0; i < c.n; i++) {
		assert_int_equal(c.rows[i], 0);
		assert_true(strncmp(c.names[i], "sqlite_", 7) != 0);
		if (i > 0)
			assert_true(strcmp(c.names[i - 1], c.names[i]) < 0);
	}
	free(path);
}

static void
table_counts_follow_inserted_rows(void **state)
{
	struct fixture *f = *state;
	char *path = path_in(f, "rftd.db");
	char err[512] = "";
	struct counts c = {0};
	struct store *st;
	sqlite3 *db;

	st = store_open(path, err, sizeof(err));
	assert_non_null(st);
	db = db_open(path);
	db_exec(db, "INSERT INTO budgets (scope, limit_usd, updated_at) VALUES"
		    " ('global', 100, 1), ('day', 10, 1), ('month', 50, 1);"
		    "INSERT INTO ledger (at, scope, kind, amount_usd) VALUES"
		    " (1, 'global', 'reserve', 2.5),"
		    " (2, 'global', 'release', -2.5);");
	sqlite3_close(db);

	assert_int_equal(store_table_counts(store_path(st), collect_count, &c),
			 0);
	store_close(st);
	assert_int_equal(rows_of(&c, "budgets"), 3);
	assert_int_equal(rows_of(&c, "ledger"), 2);
	assert_int_equal(rows_of(&c, "sweeps"), 0);
	assert_int_equal(rows_of(&c, "jobs"), 0);
	free(path);
}

/* Runs `sql` on a fresh store's ledger holding one row; expects refusal. */
static void
assert_ledger_refuses(const struct fixture *f, const char *sql)
{
	char *path = path_in(f, "rftd.db");
	char err[512] = "";
	struct store *st;
	sqlite3 *db;
	int rc;

	st = store_open(path, err, sizeof(err));
	assert_non_null(st);
	store_close(st);

	db = db_open(path);
	db_exec(db, "INSERT INTO ledger (at, scope, kind, amount_usd) "
		    "VALUES (1, 'global', 'accrue', 3.25);");
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	assert_int_equal(rc, SQLITE_CONSTRAINT);
	assert_non_null(strstr(sqlite3_errmsg(db), "append-only"));
	assert_int_equal(db_int(db, "SELECT count(*) FROM ledger "
				    "WHERE amount_usd = 3.25;"),
			 1);
	sqlite3_close(db);
	free(path);
}

static void
ledger_rejects_update(void **state)
{
	assert_ledger_refuses(*state, "UPDATE ledger SET amount_usd = 0;");
}

static void
ledger_rejects_delete(void **state)
{
	assert_ledger_refuses(*state, "DELETE FROM ledger;");
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(fresh_database_is_created_in_a_new_nested_directory),
	    TEST(fresh_database_has_the_latest_schema_version),
	    TEST(fresh_database_is_in_wal_mode),
	    TEST(fresh_database_carries_the_rftd_application_id),
	    TEST(migrated_database_reopens_without_migrating_and_keeps_data),
	    TEST(a_store_with_data_migrates_to_the_latest),
	    TEST(newer_schema_is_refused_untouched),
	    TEST(newer_schema_with_a_leftover_wal_is_refused_untouched),
	    TEST(text_file_is_refused_as_not_a_database_untouched),
	    TEST(short_text_file_is_refused_as_not_a_database_untouched),
	    TEST(other_programs_database_is_refused_untouched),
	    TEST(database_with_a_foreign_application_id_is_refused_untouched),
	    TEST(directory_is_refused),
	    TEST(database_file_that_cannot_be_written_is_refused),
	    TEST(database_whose_directory_cannot_be_written_is_refused),
	    TEST(close_of_null_is_a_no_op),
	    TEST(table_counts_report_every_table_empty_in_name_order),
	    TEST(table_counts_follow_inserted_rows),
	    TEST(ledger_rejects_update),
	    TEST(ledger_rejects_delete),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
