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
	bool highlight; /* drawn last, thicker */
	const char *href;  /* a link around the curve, or NULL */
	long long trial;   /* data-trial attribute; <= 0: none */
	long long job;	   /* data-job attribute; <= 0: none */
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
};

/*
 * The chart as SVG text (malloc'd, NUL-terminated; caller frees).  Each
 * series is one <path class="curve"> (with data-trial, data-job and
 * data-group when given); an empty chart says "no points yet".
 */
char *chart_svg(const struct chart *c);

/* The colour ("#rrggbb") of the i-th group in order of first appearance. */
const char *chart_colour(size_t i);

#endif
