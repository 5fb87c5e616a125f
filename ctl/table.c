/* Aligned text tables (see table.h). */
#include "table.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

struct table {
	int ncols;
	char **cells; /* row-major, header row first */
	size_t nrows, cap;
};

static void
add_row(struct table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		t->cells = xrealloc(t->cells, t->cap * (size_t)t->ncols *
						  sizeof(*t->cells));
	}
	for (int c = 0; c < t->ncols; c++)
		t->cells[t->nrows * (size_t)t->ncols + (size_t)c] =
		    xstrdup(cells[c] ? cells[c] : "-");
	t->nrows++;
}

struct table *
table_new(int ncols, const char *const *headers)
{
	struct table *t = xcalloc(1, sizeof(*t));

	t->ncols = ncols;
	add_row(t, headers);
	return t;
}

void
table_add(struct table *t, const char *const *cells)
{
	add_row(t, cells);
}

void
table_print(const struct table *t, FILE *out, int width)
{
	size_t *w = xcalloc((size_t)t->ncols, sizeof(*w));
	size_t used = 0;

	for (size_t r = 0; r < t->nrows; r++)
		for (int c = 0; c < t->ncols; c++) {
			size_t n =
			    strlen(t->cells[r * (size_t)t->ncols + (size_t)c]);

			if (n > w[c])
				w[c] = n;
		}
	for (int c = 0; c + 1 < t->ncols; c++)
		used += w[c] + 2;
	for (size_t r = 0; r < t->nrows; r++) {
		for (int c = 0; c < t->ncols; c++) {
			const char *cell =
			    t->cells[r * (size_t)t->ncols + (size_t)c];

			if (c + 1 < t->ncols) {
				fprintf(out, "%-*s  ", (int)w[c], cell);
			} else if (width > 0 &&
				   used + strlen(cell) > (size_t)width &&
				   (size_t)width > used + 4) {
				fprintf(out, "%.*s...",
					(int)((size_t)width - used - 3), cell);
			} else {
				fputs(cell, out);
			}
		}
		fputc('\n', out);
	}
	free(w);
}

void
table_free(struct table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
