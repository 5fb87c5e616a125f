/*
 * Internals shared by the files of store/: the store itself and a cache
 * of prepared statements.  Not for use outside store/.
 */
#ifndef RFTD_STORE_INT_H
#define RFTD_STORE_INT_H

#include "store.h"

#include <stdbool.h>

#include <sqlite3.h>

#define STMT_CACHE_SIZE 64

struct store {
	sqlite3 *db;	      /* the daemon's one writer connection */
	char *path;	      /* as given to store_open() */
	int version;	      /* user_version after migrations */
	char last_error[256]; /* SQLite's word on the last failure */
	int last_code;	      /* and its extended result code */
	bool light;	      /* the open transaction's commit does not
				 wait for the disk */
	struct {
		const char *sql; /* a string literal: its address is the key */
		sqlite3_stmt *stmt;
	} cache[STMT_CACHE_SIZE];
};

/*
 * Returns the prepared statement for `sql` (a string literal), reset and
 * with its bindings cleared; NULL after logging when it cannot be
 * prepared.  The statement stays owned by the store.
 */
sqlite3_stmt *stmt(struct store *st, const char *sql);

/* Steps a statement that returns no rows: 0, -EEXIST when it would
 * break a UNIQUE or PRIMARY KEY constraint, or -EIO after logging. */
int stmt_done(struct store *st, sqlite3_stmt *s);

/* Logs SQLite's message for `what` and returns -EIO. */
int store_fail(struct store *st, const char *what);

/* printf into an error buffer. */
void store_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Column text or NULL; a bound text that may be NULL. */
const char *col_text(sqlite3_stmt *s, int i);
void bind_text(sqlite3_stmt *s, int i, const char *text);

/* Runs a query that returns one JSON text and parses it; NULL on error. */
cJSON *query_json(struct store *st, sqlite3_stmt *s);

/*
 * SQL for what sweep `s` (an alias in the query) has spent: its ledger
 * scope, plus what its live jobs have spent but not yet ledgered.  The
 * budget's figure and the one every view shows.
 */
#define SQL_SWEEP_SPENT                                                        \
	"((SELECT coalesce(sum(amount_usd), 0) FROM ledger"                    \
	"  WHERE scope = 'sweep:' || s.id AND kind IN ('accrue', 'settle'))"   \
	" + (SELECT coalesce(sum(j.cost_usd - j.ledgered_usd), 0) FROM jobs j" \
	"  JOIN trials t ON t.id = j.trial_id WHERE t.sweep_id = s.id"         \
	"  AND j.cost_usd > j.ledgered_usd))"

#endif
