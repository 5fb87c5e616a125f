/* Canonical JSON printing and JSON pointers (see jsonutil.h). */
#include "jsonutil.h"

#include "log.h"
#include "util.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
cmp_keys(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a;
	const cJSON *y = *(const cJSON *const *)b;

	return strcmp(x->string, y->string);
}

/* Rebuilds objects with their members in key order, recursively. */
static cJSON *
sorted_copy(const cJSON *item)
{
	const cJSON *c;
	cJSON *copy;
	size_t n = 0, i = 0;
	const cJSON **members;

	if (cJSON_IsArray(item)) {
		copy = cJSON_CreateArray();
		cJSON_ArrayForEach(c, item)
		    cJSON_AddItemToArray(copy, sorted_copy(c));
		return copy;
	}
	if (!cJSON_IsObject(item))
		return cJSON_Duplicate(item, 0);
	cJSON_ArrayForEach(c, item) n++;
	members = xcalloc(n, sizeof(*members));
	cJSON_ArrayForEach(c, item) members[i++] = c;
	qsort(members, n, sizeof(*members), cmp_keys);
	copy = cJSON_CreateObject();
	for (i = 0; i < n; i++)
		cJSON_AddItemToObject(copy, members[i]->string,
				      sorted_copy(members[i]));
	free(members);
	return copy;
}

char *
json_canonical(const cJSON *item)
{
	cJSON *copy = sorted_copy(item);
	char *text = cJSON_PrintUnformatted(copy);

	cJSON_Delete(copy);
	if (text == NULL)
		fatalx("out of memory (json_canonical)");
	return text;
}

void
json_pointer_key(char *buf, size_t len, const char *base, const char *key)
{
	size_t used = (size_t)snprintf(buf, len, "%s/", base);
	size_t n = strlen(key);

	/* A pointer that does not fit is cut on a character boundary. */
	for (const char *k = key; n > 0;) {
		size_t c = utf8_char_len(k, n);

		if (c == 0)
			c = 1; /* not UTF-8: copied as it is */
		if (used + (c > 2 ? c : 2) >= len)
			break;
		if (*k == '~' || *k == '/') {
			buf[used++] = '~';
			buf[used++] = *k == '~' ? '0' : '1';
		} else {
			memcpy(buf + used, k, c);
			used += c;
		}
		k += c;
		n -= c;
	}
	if (used < len)
		buf[used] = '\0';
}

void
json_pointer_index(char *buf, size_t len, const char *base, int index)
{
	snprintf(buf, len, "%s/%d", base, index);
}

size_t
json_print_number(char *buf, size_t len, double d)
{
	double back;
	int n;

	if (isnan(d) || isinf(d))
		n = snprintf(buf, len, "null");
	else if (d == floor(d) && d >= INT_MIN && d <= INT_MAX)
		n = snprintf(buf, len, "%d", (int)d);
	else {
		n = snprintf(buf, len, "%1.15g", d);
		back = strtod(buf, NULL);
		if (fabs(back - d) > fmax(fabs(back), fabs(d)) * DBL_EPSILON)
			n = snprintf(buf, len, "%1.17g", d);
	}
	return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

double
json_number(const cJSON *obj, const char *key, double def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNumber(v) ? v->valuedouble : def;
}
