/* Query results in four formats (see sqlout.h). */
#include "sqlout.h"

#include "jsonutil.h"
#include "table.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int
sql_format_parse(const char *name, enum sql_format *out)
{
	static const struct {
		const char *name;
		enum sql_format f;
	} names[] = {{"table", SQL_TABLE},
		     {"csv", SQL_CSV},
		     {"json", SQL_JSON},
		     {"ndjson", SQL_NDJSON},
		     {"jsonl", SQL_NDJSON}};

	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		if (strcmp(names[i].name, name) == 0) {
			*out = names[i].f;
			return 0;
		}
	}
	return -1;
}

/* A cell as text: numbers as cJSON prints them, NULL as empty. */
static char *
cell_text(const cJSON *v)
{
	char buf[64];

	if (cJSON_IsString(v))
		return xstrdup(v->valuestring);
	if (cJSON_IsNumber(v)) {
		json_print_number(buf, sizeof(buf), v->valuedouble);
		return xstrdup(buf);
	}
	return xstrdup("");
}

static void
csv_field(FILE *out, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

static cJSON *
row_object(const cJSON *columns, const cJSON *row)
{
	cJSON *o = cJSON_CreateObject();
	const cJSON *c = columns->child, *v = row->child;

	for (; c != NULL && v != NULL; c = c->next, v = v->next)
		cJSON_AddItemToObject(o, c->valuestring, cJSON_Duplicate(v, 1));
	return o;
}

bool
sql_print(const cJSON *result, enum sql_format format, int width, FILE *out)
{
	const cJSON *columns = cJSON_GetObjectItem(result, "columns");
	const cJSON *rows = cJSON_GetObjectItem(result, "rows");
	const cJSON *truncated = cJSON_GetObjectItem(result, "truncated");
	const cJSON *row, *c;
	int ncols = cJSON_GetArraySize(columns);

	switch (format) {
	case SQL_TABLE: {
		const char **cells = xcalloc((size_t)ncols + 1, sizeof(*cells));
		struct table *t;
		int i = 0;

		cJSON_ArrayForEach(c, columns) cells[i++] = c->valuestring;
		t = table_new(ncols, cells);
		cJSON_ArrayForEach(row, rows)
		{
			char **texts =
			    xcalloc((size_t)ncols + 1, sizeof(*texts));

			i = 0;
			cJSON_ArrayForEach(c, row)
			{
				if (i == ncols)
					break;
				texts[i] =
				    cJSON_IsNull(c) ? NULL : cell_text(c);
				cells[i] = texts[i];
				i++;
			}
			table_add(t, cells);
			for (i = 0; i < ncols; i++)
				free(texts[i]);
			free(texts);
		}
		table_print(t, out, width);
		table_free(t);
		free(cells);
		fprintf(stderr, "(%d row%s)\n", cJSON_GetArraySize(rows),
			cJSON_GetArraySize(rows) == 1 ? "" : "s");
		break;
	}
	case SQL_CSV:
		cJSON_ArrayForEach(c, columns)
		{
			csv_field(out, c->valuestring);
			fputs(c->next ? "," : "\r\n", out);
		}
		cJSON_ArrayForEach(row, rows)
		{
			cJSON_ArrayForEach(c, row)
			{
				char *text = cell_text(c);

				csv_field(out, text);
				free(text);
				fputs(c->next ? "," : "\r\n", out);
			}
		}
		break;
	case SQL_JSON:
	case SQL_NDJSON: {
		cJSON *all = cJSON_CreateArray();
		char *text;

		cJSON_ArrayForEach(row, rows)
		{
			cJSON *o = row_object(columns, row);

			if (format == SQL_NDJSON) {
				text = cJSON_PrintUnformatted(o);
				fprintf(out, "%s\n", text);
				free(text);
				cJSON_Delete(o);
			} else {
				cJSON_AddItemToArray(all, o);
			}
		}
		if (format == SQL_JSON) {
			text = cJSON_Print(all);
			fprintf(out, "%s\n", text);
			free(text);
		}
		cJSON_Delete(all);
		break;
	}
	}
	if (!cJSON_IsString(truncated))
		return false;
	fprintf(stderr,
		"rftctl: output cut at the %s; narrow the query or raise "
		"--max-rows\n",
		truncated->valuestring);
	return true;
}
