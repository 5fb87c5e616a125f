/*
 * The store: rftd's SQLite database.  This module (and only this module)
 * talks to SQLite.  The daemon holds one store, its single writer.
 *
 * All functions run on the caller's thread (the daemon's loop thread) and
 * return 0 or a negative errno-style code unless said otherwise.
 */
#ifndef RFTD_STORE_H
#define RFTD_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;

/*
 * Opens (creating it and its directory if needed) the database at `path`,
 * sets WAL, synchronous=FULL, foreign_keys=ON and a busy timeout, and
 * applies pending migrations.  Refuses, without writing to it, a file that
 * is not an SQLite database, an SQLite database rftd did not create, and
 * a schema newer than this binary knows.  Returns NULL with a sentence in
 * `err` on failure.  The caller owns the result; free with store_close().
 */
struct store *store_open(const char *path, char *err, size_t errlen);

/* Closes the database; NULL is a no-op. */
void store_close(struct store *st);

/* The path the store was opened with (owned by the store). */
const char *store_path(const struct store *st);

/* The schema version of the open database (PRAGMA user_version). */
int store_schema_version(const struct store *st);

/* The newest schema version this binary can create. */
int store_latest_version(void);

/*
 * Calls `fn` once per table of the schema with its row count, in name
 * order.  Returns 0, or -EIO when a count could not be read.
 */
int store_table_counts(struct store *st,
		       void (*fn)(const char *table, int64_t rows, void *arg),
		       void *arg);

#endif
