/*
 * Forward-only schema migrations (internal to store/).  The table is
 * generated at build time from migrations/NNNN_name.sql; version N is the
 * N-th file and PRAGMA user_version records the last one applied.
 */
#ifndef RFTD_MIGRATE_H
#define RFTD_MIGRATE_H

#include <sqlite3.h>
#include <stddef.h>

struct migration {
	int version;	  /* NNNN of the file name */
	const char *name; /* the part after NNNN_ */
	const char *sql;  /* the file's text */
};

extern const struct migration migrations[];
extern const size_t migrations_count;

/*
 * Applies every migration newer than `current`, each in its own
 * transaction together with its user_version bump.  Returns 0, or -EIO
 * with `err` naming the migration and SQLite's message; the failed
 * migration is rolled back and earlier ones stay applied.
 */
int migrate_apply(sqlite3 *db, int current, char *err, size_t errlen);

#endif
