/* Applies the embedded migrations, one transaction each (see migrate.h). */
#include "migrate.h"

#include "log.h"

#include <errno.h>
#include <stdio.h>

static int
apply_one(sqlite3 *db, const struct migration *m, char *err, size_t errlen)
{
	char bump[64];

	snprintf(bump, sizeof(bump), "PRAGMA user_version = %d;", m->version);
	if (sqlite3_exec(db, "BEGIN IMMEDIATE;", NULL, NULL, NULL) !=
		SQLITE_OK ||
	    sqlite3_exec(db, m->sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, bump, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "COMMIT;", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "migration %04d_%s failed: %s",
			 m->version, m->name, sqlite3_errmsg(db));
		if (!sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK;", NULL, NULL, NULL);
		return -EIO;
	}
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
