/* Applies the embedded migrations, one transaction each (see migrate.h). */
#include "migrate.h"

#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

/* Whether the transaction's foreign keys all hold (a row of
 * foreign_key_check is one that does not). */
static bool
keys_hold(sqlite3 *db)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db, "PRAGMA foreign_key_check;", -1, &s, NULL) !=
	    SQLITE_OK)
		return false;
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE;
}

/*
 * One migration in its own transaction.  Foreign keys are off while it
 * runs, as SQLite's way of rebuilding a table requires, and checked
 * before it commits; they are on again afterwards.
 */
static int
apply_one(sqlite3 *db, const struct migration *m, char *err, size_t errlen)
{
	const char *why = NULL;
	char bump[64];

	snprintf(bump, sizeof(bump), "PRAGMA user_version = %d;", m->version);
	if (sqlite3_exec(db, "PRAGMA foreign_keys = OFF;", NULL, NULL, NULL) !=
		SQLITE_OK ||
	    sqlite3_exec(db, "BEGIN IMMEDIATE;", NULL, NULL, NULL) !=
		SQLITE_OK ||
	    sqlite3_exec(db, m->sql, NULL, NULL, NULL) != SQLITE_OK)
		why = sqlite3_errmsg(db);
	else if (!keys_hold(db))
		why = "it would break a foreign key";
	else if (sqlite3_exec(db, bump, NULL, NULL, NULL) != SQLITE_OK ||
		 sqlite3_exec(db, "COMMIT;", NULL, NULL, NULL) != SQLITE_OK)
		why = sqlite3_errmsg(db);
	if (why != NULL) {
		snprintf(err, errlen, "migration %04d_%s failed: %s",
			 m->version, m->name, why);
		if (!sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK;", NULL, NULL, NULL);
	}
	sqlite3_exec(db, "PRAGMA legacy_alter_table = OFF;", NULL, NULL, NULL);
	sqlite3_exec(db, "PRAGMA foreign_keys = ON;", NULL, NULL, NULL);
	if (why != NULL)
		return -EIO;
	log_info("store: applied migration %04d_%s", m->version, m->name);
	return 0;
}

int
migrate_apply(sqlite3 *db, int current, char *err, size_t errlen)
{
	for (size_t i = 0; i < migrations_count; i++) {
		int rc;

		if (migrations[i].version <= current)
			continue;
		rc = apply_one(db, &migrations[i], err, errlen);
		if (rc != 0)
			return rc;
	}
	return 0;
}
