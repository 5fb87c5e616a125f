/* Aligned text tables for rftctl's output. */
#ifndef RFTCTL_TABLE_H
#define RFTCTL_TABLE_H

#include <stdio.h>

struct table;

/* A table with `ncols` columns named by `headers` (copied). */
struct table *table_new(int ncols, const char *const *headers);
/* Adds a row of ncols cells (copied; NULL prints as "-"). */
void table_add(struct table *t, const char *const *cells);
/* Prints the header and rows, columns padded to their widest cell; the
 * last column is cut to fit `width` (0: no limit). */
void table_print(const struct table *t, FILE *out, int width);
void table_free(struct table *t);

#endif
