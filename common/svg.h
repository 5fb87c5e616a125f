/*
 * Line charts as SVG, written by rftd itself: the dashboard's reward
 * curves and `rftctl plot`.  Every series shares the axes (unlike the
 * terminal's sparklines, scaled per job), series of one group share a
 * colour (a grader variant), and one series may be highlighted (the
 * best objective).  Long series are thinned to the chart's width,
 * keeping each pixel column's lowest and highest points, so a chart of
 * a million points stays small.
 */
#ifndef RFTD_SVG_H
#define RFTD_SVG_H

#include <stdbool.h>
#include <stddef.h>

/* One curve.  Borrowed: chart_svg() copies what it writes. */
struct chart_series {
	const char *label; /* the curve's title (a tooltip), e.g. "trial 3" */
	const char *group; /* colour key (grader variant); NULL: one group */
	const double *x;   /* steps, ascending */
	const double *y;   /* values; a NaN breaks the line */
	size_t n;
	bool highlight;	  /* drawn last, thicker */
	const char *href; /* a link around the curve, or NULL */
	long long trial;  /* data-trial attribute; <= 0: none */
	long long job;	  /* data-job attribute; <= 0: none */
};

struct chart {
	const char *title;   /* or NULL */
	const char *x_label; /* e.g. "step" */
	const char *y_label; /* e.g. the metric's name */
	int width, height;   /* pixels; 0: 720 x 400 */
	const struct chart_series *series;
	size_t nseries;
	bool standalone; /* a whole document (XML declaration, fonts set),
			  * else an <svg> element to put in a page */
	bool no_legend;	 /* the page lists the groups itself */
};

/*
 * The chart as SVG text (malloc'd, NUL-terminated; caller frees; never
 * NULL: out of memory aborts).  Each series is one <path class="curve">
 * (with data-trial, data-job and data-group when given, data-highlight
 * when highlighted, and its label as a <title> child), in the order
 * given but the highlighted ones last; a series without points has an
 * empty "d".  An empty chart says "no points yet".  A lone point is a
 * dot; x or y not finite, or beyond 1e300 in magnitude, breaks the line.
 * Named groups (and highlighted labels) get a legend right of the plot
 * unless no_legend.  Text is escaped, bytes that are not UTF-8 written
 * as U+FFFD, labels cut at 200 characters.  Sizes are clamped to
 * 200..8192 x 150..8192.  Only presentation attributes: no style.
 * Pure and thread-safe: the dashboard calls it off the loop.
 */
char *chart_svg(const struct chart *c);

/* The colour ("#rrggbb") of the i-th group in order of first appearance. */
const char *chart_colour(size_t i);

#endif
