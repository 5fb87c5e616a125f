/* Queries for tests (see testdb.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>

#include "testdb.h"

static sqlite3_stmt *
first_row(const char *path, const char *sql, int64_t arg, sqlite3 **db)
{
	sqlite3_stmt *s;

	assert_int_equal(sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(*db, sql, -1, &s, NULL), SQLITE_OK);
	sqlite3_bind_int64(s, 1, arg);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	return s;
}

double
testdb_number(const char *path, const char *sql, int64_t arg)
{
	sqlite3 *db;
	sqlite3_stmt *s = first_row(path, sql, arg, &db);
	double v = sqlite3_column_double(s, 0);

	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

void
testdb_text(const char *path, const char *sql, int64_t arg, char *out,
	    size_t len)
{
	sqlite3 *db;
	sqlite3_stmt *s = first_row(path, sql, arg, &db);
	const unsigned char *t = sqlite3_column_text(s, 0);

	snprintf(out, len, "%s", t != NULL ? (const char *)t : "");
	sqlite3_finalize(s);
	sqlite3_close(db);
}
