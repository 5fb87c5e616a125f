/* One value of a query on a test's database, read on a connection of
 * its own (read-only); a failed query fails the test. */
#ifndef RFTD_TEST_TESTDB_H
#define RFTD_TEST_TESTDB_H

#include <stddef.h>
#include <stdint.h>

/* The first column of the first row, as a number; ?1 is `arg`. */
double testdb_number(const char *path, const char *sql, int64_t arg);

/* The same, as text into `out` ("" for NULL). */
void testdb_text(const char *path, const char *sql, int64_t arg, char *out,
		 size_t len);

#endif
