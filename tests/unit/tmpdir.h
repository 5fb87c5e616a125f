/* A temporary directory for a unit test: made fresh, removed with all it
 * holds. */
#ifndef RFTD_TEST_TMPDIR_H
#define RFTD_TEST_TMPDIR_H

#include <stddef.h>

/* Makes /tmp/rftd-test-NAME-XXXXXX into `buf`; 0 or -1. */
int tmpdir_make(char *buf, size_t len, const char *name);

/* Removes `dir` and everything below it; 0 or -1. */
int tmpdir_remove(const char *dir);

#endif
