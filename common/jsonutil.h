/* JSON helpers on top of cJSON that both binaries use. */
#ifndef RFTD_JSONUTIL_H
#define RFTD_JSONUTIL_H

#include <stddef.h>

#include <cjson/cJSON.h>

/*
 * Prints `item` as canonical JSON: no whitespace, object keys sorted
 * bytewise at every level, arrays in order.  Equal values print equal,
 * whatever the key order they were written in.  Returns a malloc'd string
 * (never NULL).
 */
char *json_canonical(const cJSON *item);

/*
 * Prints a number exactly as cJSON does (so that canonical text built by
 * hand equals cJSON's): integers in int range as %d, others as the
 * shorter of %1.15g and %1.17g that reads back; non-finite as null.
 * Returns the length written (truncated to len - 1).
 */
size_t json_print_number(char *buf, size_t len, double d);

/* The number member `key` of `obj`, or `def` when it is not a number. */
double json_number(const cJSON *obj, const char *key, double def);

/*
 * Appends `key` to the JSON pointer `base` ("/a" + "b/c" -> "/a/b~1c"),
 * escaping '~' and '/'.  Writes into buf (truncating if needed).
 */
void json_pointer_key(char *buf, size_t len, const char *base, const char *key);
/* Appends an array index: "/a" + 3 -> "/a/3". */
void json_pointer_index(char *buf, size_t len, const char *base, int index);

#endif
