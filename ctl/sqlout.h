/* Printing query results: aligned table, CSV (RFC 4180), JSON, NDJSON. */
#ifndef RFTCTL_SQLOUT_H
#define RFTCTL_SQLOUT_H

#include <stdbool.h>
#include <stdio.h>

#include <cjson/cJSON.h>

enum sql_format { SQL_TABLE, SQL_CSV, SQL_JSON, SQL_NDJSON };

/* "table", "csv", "json", "ndjson" (and "jsonl" for ndjson): 0 or -1. */
int sql_format_parse(const char *name, enum sql_format *out);

/*
 * Prints a sql.query result ({columns, rows, truncated?}) to `out`; the
 * table fits `width` columns (0: no limit).  A truncation note goes to
 * stderr so that the data stays clean.  Returns true when rftd cut the
 * rows short (a row or byte cap).
 */
bool sql_print(const cJSON *result, enum sql_format format, int width,
	       FILE *out);

#endif
