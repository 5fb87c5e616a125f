/*
 * Line charts as SVG (svg.h).  Only presentation attributes, never a
 * style attribute or element: the dashboard puts this SVG inline under a
 * Content-Security-Policy (style-src 'self') that would drop them.
 *
 * Glossary:
 *   plot    the rectangle the curves are drawn in, inside the margins.
 *   column  one pixel column of the plot: the unit of thinning.
 *   break   a missing value (NaN, infinite or beyond VALUE_MAX): the
 *           line stops there and starts again at the next point.
 */
#include "svg.h"
#include "util.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_WIDTH  720
#define DEFAULT_HEIGHT 400
#define MIN_WIDTH      200
#define MIN_HEIGHT     150
#define MAX_SIDE       8192
/* Larger magnitudes are breaks: the axes' arithmetic stays finite. */
#define VALUE_MAX 1e300
/* Characters of a label written (a tooltip, the title); the rest is cut. */
#define LABEL_MAX  200
#define LEGEND_MAX 22 /* characters of a legend entry */
#define LEGEND_ROW 18
#define TICKS_MAX  64

/* U+FFFD, for a byte that is not UTF-8 or not allowed in XML. */
#define REPLACEMENT "\xef\xbf\xbd"
#define ELLIPSIS    "\xe2\x80\xa6"

/*
 * Okabe and Ito's colour-blind-safe palette, darkest first; its yellow
 * comes last, being the hardest to see on white.
 */
static const char *const palette[] = {
    "#0072b2", "#e69f00", "#009e73", "#d55e00",
    "#cc79a7", "#56b4e9", "#000000", "#f0e442",
};

struct axis {
	double lo, hi, step; /* ends are whole steps */
	int nticks;
	int digits; /* significant digits that tell the ticks apart */
};

struct layout {
	double left, right, top, bottom; /* the plot, in pixels */
	struct axis x, y;
	bool empty; /* no point to draw */
};

/* Groups in order of first appearance; NULL is a group of its own. */
struct groups {
	const char **name;
	size_t n;
};

const char *
chart_colour(size_t i)
{
	return palette[i % ARRAY_LEN(palette)];
}

static bool
usable(double v)
{
	return isfinite(v) && fabs(v) <= VALUE_MAX;
}

/*
 * `s` as XML text or an attribute value: markup escaped, each byte that
 * is not UTF-8, or a character XML does not allow, as U+FFFD; cut after
 * `max` characters with an ellipsis.
 */
static void
put_text(FILE *f, const char *s, size_t max)
{
	size_t n = strlen(s), chars = 0;

	for (size_t i = 0; i < n; chars++) {
		const unsigned char *u = (const unsigned char *)s + i;
		size_t len;

		if (chars == max) {
			fputs(ELLIPSIS, f);
			return;
		}
		switch (u[0]) {
		case '&':
			fputs("&amp;", f);
			i++;
			continue;
		case '<':
			fputs("&lt;", f);
			i++;
			continue;
		case '>':
			fputs("&gt;", f);
			i++;
			continue;
		case '"':
			fputs("&quot;", f);
			i++;
			continue;
		case '\'':
			fputs("&#39;", f);
			i++;
			continue;
		}
		len = utf8_char_len(s + i, n - i);
		if (len == 0 ||
		    (u[0] < 0x20 && u[0] != '\t' && u[0] != '\n' &&
		     u[0] != '\r') ||
		    (len == 3 && u[0] == 0xef && u[1] == 0xbf &&
		     u[2] >= 0xbe)) {
			fputs(REPLACEMENT, f);
			i += len > 0 ? len : 1;
			continue;
		}
		fwrite(s + i, 1, len, f);
		i += len;
	}
}

/*
 * The axis over [lo, hi]: about `want` ticks 1, 2 or 5 times a power of
 * ten apart, the ends rounded out to whole steps so that the ticks cover
 * the data.  `whole`: steps of at least 1 (steps of training count).
 */
static void
axis_fit(struct axis *a, double lo, double hi, int want, bool whole)
{
	double rough, mag, r, big;
	int d;

	if (!(hi > lo)) {
		/* One value: give the axis a span around it. */
		double pad = lo != 0 ? fabs(lo) * 0.05 : 0.5;

		lo -= pad;
		hi += pad;
	}
	rough = (hi - lo) / (want > 1 ? want : 1);
	mag = pow(10, floor(log10(rough)));
	r = rough / mag;
	a->step = (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
	if (whole && a->step < 1)
		a->step = 1;
	/* The slack keeps an end that is a tick (0.3 / 0.1) from moving
	 * out a whole step on a rounding error. */
	a->lo = floor(lo / a->step + 1e-9) * a->step;
	a->hi = ceil(hi / a->step - 1e-9) * a->step;
	if (a->lo > lo)
		a->lo -= a->step;
	if (a->hi < hi)
		a->hi += a->step;
	a->nticks = (int)lround((a->hi - a->lo) / a->step) + 1;
	if (a->nticks > TICKS_MAX)
		a->nticks = TICKS_MAX;
	big = fmax(fabs(a->lo), fabs(a->hi));
	d = (int)floor(log10(big)) - (int)floor(log10(a->step)) + 1;
	/* At least the whole part's digits, up to a million: %g would
	 * write 40 as 4e+01 with one. */
	if (big >= 1 && big < 1e6 && d < (int)floor(log10(big)) + 1)
		d = (int)floor(log10(big)) + 1;
	a->digits = d < 1 ? 1 : d > 15 ? 15 : d;
}

static double
tick_value(const struct axis *a, int i)
{
	/* lo is a whole number of steps: (-k * step) + k * step is 0
	 * exactly, so the tick at zero reads 0. */
	return i == a->nticks - 1 ? a->hi : a->lo + i * a->step;
}

static void
tick_label(char *buf, size_t len, const struct axis *a, int i)
{
	snprintf(buf, len, "%.*g", a->digits, tick_value(a, i));
}

static double
map_x(const struct layout *l, double x)
{
	return l->left +
	       (x - l->x.lo) / (l->x.hi - l->x.lo) * (l->right - l->left);
}

static double
map_y(const struct layout *l, double y)
{
	return l->bottom -
	       (y - l->y.lo) / (l->y.hi - l->y.lo) * (l->bottom - l->top);
}

static size_t
group_of(struct groups *g, const char *name)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->name[i] == name || (g->name[i] != NULL && name != NULL &&
					   strcmp(g->name[i], name) == 0))
			return i;
	g->name[g->n] = name;
	return g->n++;
}

/* --- one curve's path data ------------------------------------------------ */

/* The path being written: its segments, each "Mx y x y ...". */
struct pen {
	FILE *f;
	size_t in_segment; /* points of the open segment */
};

static void
pen_end(struct pen *p)
{
	/* A lone point is a small diamond around it: a zero-length line
	 * would be a dot no wider than the stroke. */
	if (p->in_segment == 1)
		fputs("m0 -2.5l2.5 2.5 -2.5 2.5 -2.5 -2.5z", p->f);
	p->in_segment = 0;
}

static void
pen_point(struct pen *p, double x, double y)
{
	fprintf(p->f, "%s%.1f %.1f", p->in_segment == 0 ? "M" : " ", x, y);
	p->in_segment++;
}

/* The points of a column bucket, in x order, each once. */
struct bucket {
	long col;
	size_t first, low, high, last;
	bool used;
};

static void
bucket_flush(struct bucket *b, struct pen *p, const struct layout *l,
	     const struct chart_series *s)
{
	size_t idx[4], n = 0;

	if (!b->used)
		return;
	idx[n++] = b->first;
	idx[n++] = b->low < b->high ? b->low : b->high;
	idx[n++] = b->low < b->high ? b->high : b->low;
	idx[n++] = b->last;
	for (size_t k = 0; k < n; k++)
		if (k == 0 || idx[k] != idx[k - 1])
			pen_point(p, map_x(l, s->x[idx[k]]),
				  map_y(l, s->y[idx[k]]));
	b->used = false;
}

/*
 * The path data of a series.  Longer than the plot is wide, it keeps of
 * each column its first, lowest, highest and last point, so the curve's
 * shape survives and its size is bounded by the width; a break within
 * one column is then not seen (it is narrower than a pixel).
 */
static void
write_path_data(FILE *f, const struct layout *l, const struct chart_series *s)
{
	long columns = (long)(l->right - l->left);
	bool thin = s->n > (size_t)columns, gap = false;
	struct pen p = {.f = f};
	struct bucket b = {.used = false};

	for (size_t i = 0; i < s->n; i++) {
		double px;
		long col;

		if (!usable(s->x[i]) || !usable(s->y[i])) {
			gap = true;
			continue;
		}
		px = map_x(l, s->x[i]);
		if (!thin) {
			if (gap)
				pen_end(&p);
			pen_point(&p, px, map_y(l, s->y[i]));
			gap = false;
			continue;
		}
		col = (long)(px - l->left);
		col = col < 0 ? 0 : col >= columns ? columns - 1 : col;
		if (b.used && col == b.col) {
			if (s->y[i] < s->y[b.low])
				b.low = i;
			if (s->y[i] > s->y[b.high])
				b.high = i;
			b.last = i;
			gap = false;
			continue;
		}
		bucket_flush(&b, &p, l, s);
		if (gap)
			pen_end(&p);
		b = (struct bucket){.col = col,
				    .first = i,
				    .low = i,
				    .high = i,
				    .last = i,
				    .used = true};
		gap = false;
	}
	bucket_flush(&b, &p, l, s);
	pen_end(&p);
}

/* --- the chart ------------------------------------------------------------ */

static void
write_curve(FILE *f, const struct layout *l, const struct chart_series *s,
	    const char *colour)
{
	if (s->href != NULL) {
		fputs("<a href=\"", f);
		put_text(f, s->href, 4096);
		fputs("\">", f);
	}
	fputs("<path class=\"curve\"", f);
	if (s->trial > 0)
		fprintf(f, " data-trial=\"%lld\"", s->trial);
	if (s->job > 0)
		fprintf(f, " data-job=\"%lld\"", s->job);
	if (s->group != NULL) {
		fputs(" data-group=\"", f);
		put_text(f, s->group, LABEL_MAX);
		fputc('"', f);
	}
	if (s->highlight)
		fputs(" data-highlight=\"true\"", f);
	fprintf(f, " stroke=\"%s\" stroke-width=\"%s\"", colour,
		s->highlight ? "3.5" : "1.5");
	if (!s->highlight)
		fputs(" stroke-opacity=\"0.85\"", f);
	fputs(" d=\"", f);
	if (!l->empty)
		write_path_data(f, l, s);
	fputs("\">", f);
	if (s->label != NULL) {
		fputs("<title>", f);
		put_text(f, s->label, LABEL_MAX);
		fputs("</title>", f);
	}
	fputs("</path>", f);
	if (s->href != NULL)
		fputs("</a>", f);
	fputc('\n', f);
}

/* The span of every usable point; false when there is none. */
static bool
data_range(const struct chart *c, double *xlo, double *xhi, double *ylo,
	   double *yhi, bool *whole_x)
{
	bool any = false;

	*whole_x = true;
	for (size_t k = 0; k < c->nseries; k++) {
		const struct chart_series *s = &c->series[k];

		for (size_t i = 0; i < s->n; i++) {
			if (!usable(s->x[i]) || !usable(s->y[i]))
				continue;
			if (!any) {
				*xlo = *xhi = s->x[i];
				*ylo = *yhi = s->y[i];
				any = true;
			}
			*xlo = fmin(*xlo, s->x[i]);
			*xhi = fmax(*xhi, s->x[i]);
			*ylo = fmin(*ylo, s->y[i]);
			*yhi = fmax(*yhi, s->y[i]);
			if (s->x[i] != floor(s->x[i]))
				*whole_x = false;
		}
	}
	return any;
}

static int
clamp_side(int v, int def, int min)
{
	if (v <= 0)
		return def;
	return v < min ? min : v > MAX_SIDE ? MAX_SIDE : v;
}

/* Entries of the legend: the named groups, then the highlighted curves. */
static size_t
legend_entries(const struct chart *c, const struct groups *g)
{
	size_t n = 0;

	for (size_t i = 0; i < g->n; i++)
		n += g->name[i] != NULL;
	for (size_t k = 0; k < c->nseries; k++)
		n += c->series[k].highlight && c->series[k].label != NULL;
	return n;
}

static void
layout_fit(struct layout *l, const struct chart *c, int width, int height,
	   bool legend)
{
	double xlo = 0, xhi = 0, ylo = 0, yhi = 0;
	size_t widest = 1;
	bool whole_x = true;
	char label[64];

	l->empty = !data_range(c, &xlo, &xhi, &ylo, &yhi, &whole_x);
	l->top = c->title != NULL ? 36 : 16;
	l->bottom = height - (c->x_label != NULL ? 44 : 28);
	l->right = width - 16 - (legend ? fmin(160, width / 4.0) : 0);
	axis_fit(&l->y, ylo, yhi, (int)(l->bottom - l->top) / 50, false);
	for (int i = 0; i < l->y.nticks; i++) {
		tick_label(label, sizeof(label), &l->y, i);
		if (strlen(label) > widest)
			widest = strlen(label);
	}
	/* Room for the widest tick label (about 6.5 px a character at
	 * 11 px) and the axis label beside it. */
	l->left = fmin(width / 3.0, (c->y_label != NULL ? 26 : 8) +
					6.5 * (double)widest + 8);
	axis_fit(&l->x, xlo, xhi, (int)((l->right - l->left) / 90), whole_x);
}

static void
write_axes(FILE *f, const struct chart *c, const struct layout *l, int height)
{
	char label[64];

	fputs("<g class=\"grid\" stroke=\"#e4e4e4\" stroke-width=\"1\">\n", f);
	for (int i = 0; !l->empty && i < l->y.nticks; i++) {
		double y = map_y(l, tick_value(&l->y, i));

		fprintf(
		    f,
		    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
		    l->left, y, l->right, y);
	}
	fputs("</g>\n<rect class=\"frame\" fill=\"none\" stroke=\"#555555\"",
	      f);
	fprintf(f, " x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n",
		l->left, l->top, l->right - l->left, l->bottom - l->top);
	fputs("<g class=\"ticks\" font-size=\"11\" fill=\"#333333\">\n", f);
	for (int i = 0; !l->empty && i < l->y.nticks; i++) {
		tick_label(label, sizeof(label), &l->y, i);
		fprintf(f,
			"<text class=\"y-tick\" x=\"%.1f\" y=\"%.1f\" "
			"text-anchor=\"end\">%s</text>\n",
			l->left - 5, map_y(l, tick_value(&l->y, i)) + 4, label);
	}
	for (int i = 0; !l->empty && i < l->x.nticks; i++) {
		tick_label(label, sizeof(label), &l->x, i);
		fprintf(f,
			"<text class=\"x-tick\" x=\"%.1f\" y=\"%.1f\" "
			"text-anchor=\"middle\">%s</text>\n",
			map_x(l, tick_value(&l->x, i)), l->bottom + 15, label);
	}
	fputs("</g>\n", f);
	if (c->x_label != NULL) {
		fprintf(f,
			"<text class=\"x-label\" x=\"%.1f\" y=\"%d\" "
			"text-anchor=\"middle\" font-size=\"12\" "
			"fill=\"#222222\">",
			(l->left + l->right) / 2, height - 10);
		put_text(f, c->x_label, LABEL_MAX);
		fputs("</text>\n", f);
	}
	if (c->y_label != NULL) {
		double mid = (l->top + l->bottom) / 2;

		fprintf(f,
			"<text class=\"y-label\" x=\"14\" y=\"%.1f\" "
			"transform=\"rotate(-90 14 %.1f)\" "
			"text-anchor=\"middle\" font-size=\"12\" "
			"fill=\"#222222\">",
			mid, mid);
		put_text(f, c->y_label, LABEL_MAX);
		fputs("</text>\n", f);
	}
}

static void
legend_row(FILE *f, const struct layout *l, int row, const char *colour,
	   bool thick, const char *text)
{
	double y = l->top + 12 + row * LEGEND_ROW;

	if (colour != NULL)
		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
			"y2=\"%.1f\" stroke=\"%s\" stroke-width=\"%s\"/>\n",
			l->right + 12, y - 4, l->right + 32, y - 4, colour,
			thick ? "3.5" : "2");
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", l->right + 38, y);
	put_text(f, text, LEGEND_MAX);
	fputs("</text>\n", f);
}

static void
write_legend(FILE *f, const struct chart *c, const struct layout *l,
	     const struct groups *g, const size_t *colour_of)
{
	int rows = (int)((l->bottom - l->top) / LEGEND_ROW), row = 0;
	size_t total = legend_entries(c, g), shown = 0;
	char more[48];

	if (total > (size_t)rows)
		rows--; /* the last row says how many more */
	fputs("<g class=\"legend\" font-size=\"11\" fill=\"#222222\">\n", f);
	for (size_t i = 0; i < g->n && row < rows; i++) {
		if (g->name[i] == NULL)
			continue;
		legend_row(f, l, row++, chart_colour(i), false, g->name[i]);
		shown++;
	}
	for (size_t k = 0; k < c->nseries && row < rows; k++) {
		const struct chart_series *s = &c->series[k];

		if (!s->highlight || s->label == NULL)
			continue;
		legend_row(f, l, row++, chart_colour(colour_of[k]), true,
			   s->label);
		shown++;
	}
	if (shown < total && rows >= 0) {
		snprintf(more, sizeof(more), "and %zu more", total - shown);
		legend_row(f, l, row, NULL, false, more);
	}
	fputs("</g>\n", f);
}

char *
chart_svg(const struct chart *c)
{
	int width = clamp_side(c->width, DEFAULT_WIDTH, MIN_WIDTH);
	int height = clamp_side(c->height, DEFAULT_HEIGHT, MIN_HEIGHT);
	struct groups g = {.name = xcalloc(c->nseries + 1, sizeof(*g.name))};
	size_t *colour_of = xcalloc(c->nseries + 1, sizeof(*colour_of));
	struct layout l;
	char *text = NULL;
	size_t len = 0;
	bool legend;
	FILE *f;

	for (size_t k = 0; k < c->nseries; k++)
		colour_of[k] = group_of(&g, c->series[k].group);
	legend = !c->no_legend && legend_entries(c, &g) > 0;
	layout_fit(&l, c, width, height, legend);
	f = open_memstream(&text, &len);
	if (f == NULL)
		abort(); /* out of memory, as xmalloc */
	if (c->standalone)
		fprintf(f,
			"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			"<svg xmlns=\"http://www.w3.org/2000/svg\" "
			"width=\"%d\" height=\"%d\" font-family=\"DejaVu "
			"Sans, Helvetica, Arial, sans-serif\" ",
			width, height);
	else
		fputs("<svg ", f);
	fprintf(f, "class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\"", width,
		height);
	if (c->title != NULL) {
		fputs(" aria-label=\"", f);
		put_text(f, c->title, LABEL_MAX);
		fputc('"', f);
	}
	fputs(">\n", f);
	if (c->standalone)
		fprintf(f,
			"<rect width=\"%d\" height=\"%d\" "
			"fill=\"#ffffff\"/>\n",
			width, height);
	if (c->title != NULL) {
		fprintf(f,
			"<text class=\"title\" x=\"%.1f\" y=\"22\" "
			"font-size=\"14\" font-weight=\"bold\" "
			"fill=\"#111111\">",
			l.left);
		put_text(f, c->title, LABEL_MAX);
		fputs("</text>\n", f);
	}
	write_axes(f, c, &l, height);
	if (l.empty)
		fprintf(f,
			"<text class=\"empty\" x=\"%.1f\" y=\"%.1f\" "
			"text-anchor=\"middle\" font-size=\"13\" "
			"fill=\"#666666\">no points yet</text>\n",
			(l.left + l.right) / 2, (l.top + l.bottom) / 2);
	fputs("<g class=\"curves\" fill=\"none\" stroke-linejoin=\"round\" "
	      "stroke-linecap=\"round\">\n",
	      f);
	/* The highlighted curves last, over the others. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t k = 0; k < c->nseries; k++)
			if (c->series[k].highlight == (pass == 1))
				write_curve(f, &l, &c->series[k],
					    chart_colour(colour_of[k]));
	fputs("</g>\n", f);
	if (legend)
		write_legend(f, c, &l, &g, colour_of);
	fputs("</svg>\n", f);
	if (fclose(f) != 0)
		abort();
	free(g.name);
	free(colour_of);
	return text;
}
