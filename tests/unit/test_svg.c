/*
 * The chart renderer (common/svg.h): what the dashboard and `rftctl plot`
 * rely on in its SVG.  The text is read back with a small tag matcher,
 * enough to check nesting, attributes and the path data.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "svg.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEPS 10

static const double steps[STEPS] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
static const double rising[STEPS] = {0.1, 0.2, 0.3, 0.4, 0.5,
				     0.6, 0.7, 0.8, 0.9, 1.0};

static size_t
count(const char *text, const char *what)
{
	size_t n = 0;

	for (const char *p = strstr(text, what); p != NULL;
	     p = strstr(p + 1, what))
		n++;
	return n;
}

/* The value of attribute `name` of the n-th element that starts with
 * `tag` (malloc'd), or NULL. */
static char *
attribute(const char *text, const char *tag, size_t n, const char *name)
{
	const char *p = text, *end, *a;
	char key[64];

	for (size_t i = 0; (p = strstr(p, tag)) != NULL; i++, p++) {
		if (i < n)
			continue;
		end = strchr(p, '>');
		snprintf(key, sizeof(key), " %s=\"", name);
		a = strstr(p, key);
		if (a == NULL || a > end)
			return NULL;
		a += strlen(key);
		return strndup(a, strcspn(a, "\""));
	}
	return NULL;
}

/*
 * The number of coordinate pairs in path data "Mx y x y Mx ym0 -2.5l...z",
 * a lone point's diamond (from "m" to "z") not counted.
 */
static size_t
path_points(const char *d)
{
	size_t numbers = 0;

	for (const char *p = d; *p != '\0';) {
		char *end;

		if (*p == 'M' || *p == ' ') {
			p++;
			continue;
		}
		if (*p == 'm') {
			p = strchr(p, 'z') + 1;
			continue;
		}
		strtod(p, &end);
		assert_true(end > p);
		p = end;
		numbers++;
	}
	assert_int_equal(numbers % 2, 0);
	return numbers / 2;
}

/* The y coordinates of path data, at most `max`; returns how many. */
static size_t
path_ys(const char *d, double *ys, size_t max)
{
	size_t numbers = 0, n = 0;

	for (const char *p = d; *p != '\0';) {
		char *end;
		double v;

		if (*p == 'm') {
			p = strchr(p, 'z') + 1;
			continue;
		}
		if (*p == 'M' || *p == ' ') {
			p++;
			continue;
		}
		v = strtod(p, &end);
		p = end;
		if (numbers++ % 2 == 1 && n < max)
			ys[n++] = v;
	}
	return n;
}

/*
 * Whether the text is well-formed as far as tags go: every element
 * closed, in order, and no '<' or '&' in text or attributes unescaped.
 */
static bool
well_formed(const char *text)
{
	const char *stack[64], *p = text;
	size_t lens[64], depth = 0;

	while ((p = strpbrk(p, "<&")) != NULL) {
		const char *end;
		size_t len;

		if (*p == '&') {
			if (strncmp(p, "&amp;", 5) != 0 &&
			    strncmp(p, "&lt;", 4) != 0 &&
			    strncmp(p, "&gt;", 4) != 0 &&
			    strncmp(p, "&quot;", 6) != 0 &&
			    strncmp(p, "&#39;", 5) != 0)
				return false;
			p++;
			continue;
		}
		end = strchr(p, '>');
		if (end == NULL || memchr(p + 1, '<', (size_t)(end - p)))
			return false;
		if (p[1] == '?') {
			p = end + 1;
			continue;
		}
		if (p[1] == '/') {
			len = strcspn(p + 2, " >");
			if (depth == 0 || lens[depth - 1] != len ||
			    strncmp(stack[depth - 1], p + 2, len) != 0)
				return false;
			depth--;
		} else if (end[-1] != '/') {
			if (depth == 64)
				return false;
			stack[depth] = p + 1;
			lens[depth++] = strcspn(p + 1, " >");
		}
		p = end + 1;
	}
	return depth == 0;
}

static char *
draw(const struct chart_series *s, size_t n)
{
	struct chart c = {.title = "sweep 1",
			  .x_label = "step",
			  .y_label = "valid_reward_mean",
			  .series = s,
			  .nseries = n};
	char *svg = chart_svg(&c);

	assert_non_null(svg);
	assert_true(well_formed(svg));
	return svg;
}

static void
hostile_labels_are_escaped(void **state)
{
	struct chart_series s = {.label = "<script>alert('x')</script>",
				 .group = "a&b \"q\" \x01 \xff",
				 .x = steps,
				 .y = rising,
				 .n = STEPS,
				 .href = "/job/1?a=1&b=\"2\""};
	struct chart c = {.title = "</svg><script>",
			  .x_label = "step & <more>",
			  .y_label = "it's",
			  .series = &s,
			  .nseries = 1};
	char *svg = chart_svg(&c);

	(void)state;
	assert_true(well_formed(svg));
	assert_null(strstr(svg, "<script"));
	assert_non_null(strstr(svg, "&lt;script&gt;alert(&#39;x&#39;)"));
	assert_non_null(strstr(svg, "data-group=\"a&amp;b &quot;q&quot; "
				    "\xef\xbf\xbd \xef\xbf\xbd\""));
	assert_non_null(strstr(svg, "href=\"/job/1?a=1&amp;b=&quot;2&quot;\""));
	assert_non_null(strstr(svg, ">&lt;/svg&gt;&lt;script&gt;</text>"));
	assert_non_null(strstr(svg, ">step &amp; &lt;more&gt;</text>"));
	assert_non_null(strstr(svg, ">it&#39;s</text>"));
	free(svg);
}

static void
a_long_label_is_cut_with_an_ellipsis(void **state)
{
	char label[1000];
	struct chart_series s = {
	    .label = label, .x = steps, .y = rising, .n = STEPS};
	char *svg;

	(void)state;
	memset(label, 'x', sizeof(label) - 1);
	label[sizeof(label) - 1] = '\0';
	svg = draw(&s, 1);
	assert_null(strstr(svg, label));
	assert_non_null(strstr(svg, "xxx\xe2\x80\xa6</title>"));
	free(svg);
}

static void
each_series_is_one_path_with_its_data_attributes(void **state)
{
	struct chart_series s[] = {
	    {.label = "trial 1",
	     .group = "exact",
	     .x = steps,
	     .y = rising,
	     .n = STEPS,
	     .trial = 1,
	     .job = 10},
	    {.label = "trial 2",
	     .group = "fuzzy",
	     .x = steps,
	     .y = rising,
	     .n = STEPS,
	     .trial = 2,
	     .job = 20},
	    {.label = "no ids", .x = steps, .y = rising, .n = STEPS},
	};
	char *svg = draw(s, 3), *v;

	(void)state;
	assert_int_equal(count(svg, "<path "), 3);
	assert_int_equal(count(svg, "<path class=\"curve\""), 3);
	v = attribute(svg, "<path ", 0, "data-trial");
	assert_string_equal(v, "1");
	free(v);
	v = attribute(svg, "<path ", 1, "data-job");
	assert_string_equal(v, "20");
	free(v);
	v = attribute(svg, "<path ", 1, "data-group");
	assert_string_equal(v, "fuzzy");
	free(v);
	assert_null(attribute(svg, "<path ", 2, "data-trial"));
	assert_null(attribute(svg, "<path ", 2, "data-job"));
	assert_null(attribute(svg, "<path ", 2, "data-group"));
	assert_int_equal(count(svg, "<title>trial 1</title></path>"), 1);
	assert_int_equal(count(svg, "<title>no ids</title></path>"), 1);
	for (size_t i = 0; i < 3; i++) {
		v = attribute(svg, "<path ", i, "d");
		assert_int_equal(path_points(v), STEPS);
		free(v);
	}
	free(svg);
}

static void
there_is_no_style_attribute_or_element(void **state)
{
	struct chart_series s[] = {
	    {.label = "a", .group = "g", .x = steps, .y = rising, .n = STEPS},
	    {.label = "b",
	     .x = steps,
	     .y = rising,
	     .n = STEPS,
	     .highlight = true},
	};
	struct chart c = {.title = "t",
			  .x_label = "x",
			  .y_label = "y",
			  .series = s,
			  .nseries = 2,
			  .standalone = true};
	char *svg = chart_svg(&c);

	(void)state;
	assert_null(strstr(svg, "style"));
	free(svg);
}

static void
a_long_series_is_thinned_to_four_points_a_column(void **state)
{
	const size_t n = 1000000;
	double *x = malloc(n * sizeof(*x)), *y = malloc(n * sizeof(*y));
	double ys[4 * 720];
	struct chart_series s = {.label = "big", .x = x, .y = y, .n = n};
	char *svg, *d;
	size_t kept, got;
	double top = 1e9;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		x[i] = (double)i;
		y[i] = sin((double)i / 5000.0);
	}
	y[n / 3] = 10; /* one spike: thinning must keep it */
	svg = draw(&s, 1);
	d = attribute(svg, "<path ", 0, "d");
	kept = path_points(d);
	assert_true(kept <= 4 * 720);
	assert_true(kept >= 720 / 2);
	got = path_ys(d, ys, sizeof(ys) / sizeof(ys[0]));
	for (size_t i = 0; i < got; i++)
		top = fmin(top, ys[i]);
	/* The spike is the highest point: at the top of the plot. */
	assert_true(top < 60);
	assert_true(strlen(svg) < 100000);
	free(d);
	free(svg);
	free(x);
	free(y);
}

static void
a_series_narrower_than_the_plot_keeps_every_point(void **state)
{
	double x[500], y[500];
	struct chart_series s = {.label = "t", .x = x, .y = y, .n = 500};
	char *svg, *d;

	(void)state;
	for (size_t i = 0; i < 500; i++) {
		x[i] = (double)i;
		y[i] = (double)(i % 7);
	}
	svg = draw(&s, 1);
	d = attribute(svg, "<path ", 0, "d");
	assert_int_equal(path_points(d), 500);
	free(d);
	free(svg);
}

static void
a_nan_breaks_the_line(void **state)
{
	double y[STEPS];
	struct chart_series s = {.label = "t", .x = steps, .y = y, .n = STEPS};
	char *svg, *d;

	(void)state;
	memcpy(y, rising, sizeof(y));
	y[4] = NAN;
	svg = draw(&s, 1);
	d = attribute(svg, "<path ", 0, "d");
	assert_int_equal(count(d, "M"), 2);
	assert_int_equal(path_points(d), STEPS - 1);
	free(d);
	free(svg);
}

static void
a_nan_breaks_a_thinned_line_too(void **state)
{
	const size_t n = 20000;
	double *x = malloc(n * sizeof(*x)), *y = malloc(n * sizeof(*y));
	struct chart_series s = {.label = "t", .x = x, .y = y, .n = n};
	char *svg, *d;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		x[i] = (double)i;
		/* A gap a tenth of the chart wide. */
		y[i] = i >= n / 2 && i < n / 2 + n / 10 ? NAN : (double)i;
	}
	svg = draw(&s, 1);
	d = attribute(svg, "<path ", 0, "d");
	assert_int_equal(count(d, "M"), 2);
	free(d);
	free(svg);
	free(x);
	free(y);
}

static void
a_lone_point_is_drawn_as_a_dot(void **state)
{
	double x = 3, y = 0.5;
	struct chart_series s = {.label = "t", .x = &x, .y = &y, .n = 1};
	char *svg = draw(&s, 1), *d;

	(void)state;
	d = attribute(svg, "<path ", 0, "d");
	assert_int_equal(path_points(d), 1);
	assert_non_null(strstr(d, "m0 -2.5l2.5 2.5 -2.5 2.5 -2.5 -2.5z"));
	assert_null(strstr(svg, "no points yet"));
	free(d);
	free(svg);
}

static void
an_empty_chart_says_no_points_yet(void **state)
{
	struct chart_series none = {.label = "trial 1", .trial = 1};
	char *svg;

	(void)state;
	svg = draw(NULL, 0);
	assert_non_null(strstr(svg, ">no points yet</text>"));
	assert_int_equal(count(svg, "<path "), 0);
	free(svg);
	/* A series without points is still its curve, with no data. */
	svg = draw(&none, 1);
	assert_non_null(strstr(svg, ">no points yet</text>"));
	assert_int_equal(count(svg, "<path class=\"curve\" data-trial=\"1\""),
			 1);
	assert_int_equal(count(svg, " d=\"\""), 1);
	free(svg);
}

static void
series_of_one_group_share_a_colour(void **state)
{
	struct chart_series s[] = {
	    {.group = "exact", .x = steps, .y = rising, .n = STEPS},
	    {.group = "fuzzy", .x = steps, .y = rising, .n = STEPS},
	    {.group = "exact", .x = steps, .y = rising, .n = STEPS},
	    {.group = NULL, .x = steps, .y = rising, .n = STEPS},
	};
	char *svg = draw(s, 4), *c[4];

	(void)state;
	for (size_t i = 0; i < 4; i++)
		c[i] = attribute(svg, "<path ", i, "stroke");
	assert_string_equal(c[0], chart_colour(0));
	assert_string_equal(c[1], chart_colour(1));
	assert_string_equal(c[2], chart_colour(0));
	assert_string_equal(c[3], chart_colour(2));
	assert_string_not_equal(chart_colour(0), chart_colour(1));
	/* The legend names each group once, in its colour. */
	assert_int_equal(count(svg, ">exact</text>"), 1);
	assert_int_equal(count(svg, ">fuzzy</text>"), 1);
	assert_int_equal(count(svg, "class=\"legend\""), 1);
	for (size_t i = 0; i < 4; i++)
		free(c[i]);
	free(svg);
}

static void
one_group_has_no_legend(void **state)
{
	struct chart_series s = {.x = steps, .y = rising, .n = STEPS};
	char *svg = draw(&s, 1);

	(void)state;
	assert_null(strstr(svg, "class=\"legend\""));
	free(svg);
}

static void
no_legend_leaves_the_groups_to_the_page(void **state)
{
	struct chart_series s[] = {
	    {.group = "exact", .x = steps, .y = rising, .n = STEPS},
	    {.group = "fuzzy", .x = steps, .y = rising, .n = STEPS},
	};
	struct chart c = {.series = s, .nseries = 2, .no_legend = true};
	char *svg = chart_svg(&c);

	(void)state;
	assert_null(strstr(svg, "class=\"legend\""));
	assert_null(strstr(svg, ">exact</text>"));
	free(svg);
}

static void
the_highlighted_series_is_drawn_last_and_thicker(void **state)
{
	struct chart_series s[] = {
	    {.label = "best",
	     .x = steps,
	     .y = rising,
	     .n = STEPS,
	     .trial = 1,
	     .highlight = true},
	    {.label = "other", .x = steps, .y = rising, .n = STEPS, .trial = 2},
	};
	char *svg = draw(s, 2), *first, *width, *other;

	(void)state;
	first = attribute(svg, "<path ", 0, "data-trial");
	assert_string_equal(first, "2");
	width = attribute(svg, "<path ", 1, "stroke-width");
	other = attribute(svg, "<path ", 0, "stroke-width");
	assert_true(strtod(width, NULL) > strtod(other, NULL));
	assert_non_null(strstr(svg, "data-highlight=\"true\""));
	/* The legend names it. */
	assert_int_equal(count(svg, ">best</text>"), 1);
	free(first);
	free(width);
	free(other);
	free(svg);
}

static void
an_href_wraps_the_curve_in_a_link(void **state)
{
	struct chart_series s = {
	    .label = "t", .x = steps, .y = rising, .n = STEPS, .href = "/j/1"};
	char *svg = draw(&s, 1);

	(void)state;
	assert_non_null(strstr(svg, "<a href=\"/j/1\"><path class=\"curve\""));
	assert_non_null(strstr(svg, "</path></a>"));
	free(svg);
}

/* The values of the tick labels of class `cls`; returns how many. */
static size_t
ticks(const char *svg, const char *cls, double *v, size_t max)
{
	char key[64];
	size_t n = 0;

	snprintf(key, sizeof(key), "class=\"%s\"", cls);
	for (const char *p = strstr(svg, key); p != NULL && n < max;
	     p = strstr(p + 1, key)) {
		char *end;

		p = strchr(p, '>') + 1;
		v[n++] = strtod(p, &end);
		assert_true(end > p);
		assert_ptr_equal(strstr(end, "</text>"), end);
	}
	return n;
}

static void
check_ticks_cover(const double *x, const double *y, size_t n)
{
	struct chart_series s = {.x = x, .y = y, .n = n};
	double lo = INFINITY, hi = -INFINITY, t[64];
	char *svg = draw(&s, 1);
	size_t nt;

	for (size_t i = 0; i < n; i++) {
		lo = fmin(lo, y[i]);
		hi = fmax(hi, y[i]);
	}
	nt = ticks(svg, "y-tick", t, 64);
	assert_true(nt >= 2);
	assert_true(nt <= 20);
	for (size_t i = 1; i < nt; i++)
		assert_true(t[i] > t[i - 1]);
	assert_true(t[0] <= lo);
	assert_true(t[nt - 1] >= hi);
	nt = ticks(svg, "x-tick", t, 64);
	assert_true(nt >= 2);
	for (size_t i = 1; i < nt; i++)
		assert_true(t[i] > t[i - 1]);
	assert_true(t[0] <= x[0]);
	assert_true(t[nt - 1] >= x[n - 1]);
	free(svg);
}

static void
ticks_rise_and_cover_the_data(void **state)
{
	static const double negative[] = {-3.7, -0.2, 1.4, -12.9};
	static const double huge[] = {1e12, 3.3e12, 7e11, 2e12};
	static const double tiny[] = {1.0000001, 1.0000002, 1.0000004, 1.0};
	static const double equal[] = {0.75, 0.75, 0.75, 0.75};
	static const double zeros[] = {0, 0, 0, 0};
	static const double small[] = {1e-9, 5e-9, 3e-9, 2e-9};
	static const double xs[] = {10, 20, 30, 40};
	static const double fx[] = {0.25, 0.5, 0.75, 1.5};

	(void)state;
	check_ticks_cover(xs, negative, 4);
	check_ticks_cover(xs, huge, 4);
	check_ticks_cover(xs, tiny, 4);
	check_ticks_cover(xs, equal, 4);
	check_ticks_cover(xs, zeros, 4);
	check_ticks_cover(xs, small, 4);
	check_ticks_cover(fx, rising, 4);
}

static void
tick_labels_are_compact(void **state)
{
	static const double huge[] = {1e12, 3e12};
	static const double xs[] = {0, 1};
	static const double around_zero[] = {-0.3, 0.3};
	struct chart_series s = {.x = xs, .y = huge, .n = 2};
	char *svg = draw(&s, 1);

	(void)state;
	assert_non_null(strstr(svg, ">3e+12</text>"));
	/* Steps count: no tick between two steps. */
	assert_null(strstr(svg, ">0.5</text>"));
	free(svg);
	/* The tick at zero reads 0. */
	s.y = around_zero;
	svg = draw(&s, 1);
	assert_non_null(strstr(svg, ">0</text>"));
	assert_null(strstr(svg, "e-1"));
	free(svg);
	/* Steps up to 40 by tens read 10, 20, 30, 40, not 1e+01... */
	{
		static const double forty[] = {1, 38};
		static const double big[] = {150, 1450};

		s.x = forty;
		svg = draw(&s, 1);
		assert_non_null(strstr(svg, ">40</text>"));
		assert_non_null(strstr(svg, ">10</text>"));
		assert_null(strstr(svg, "e+01"));
		free(svg);
		/* ... and values up to a million are written whole. */
		s.y = big;
		svg = draw(&s, 1);
		assert_non_null(strstr(svg, ">1500</text>"));
		assert_null(strstr(svg, "e+03"));
		free(svg);
	}
}

static void
standalone_is_a_whole_document_on_white(void **state)
{
	struct chart_series s = {.x = steps, .y = rising, .n = STEPS};
	struct chart c = {.series = &s,
			  .nseries = 1,
			  .width = 640,
			  .height = 300,
			  .standalone = true};
	char *svg = chart_svg(&c);

	(void)state;
	assert_true(well_formed(svg));
	assert_int_equal(strncmp(svg, "<?xml version=\"1.0\"", 19), 0);
	assert_non_null(strstr(svg, "xmlns=\"http://www.w3.org/2000/svg\""));
	assert_non_null(strstr(svg, "width=\"640\" height=\"300\""));
	assert_non_null(strstr(svg, "viewBox=\"0 0 640 300\""));
	assert_non_null(strstr(svg, "fill=\"#ffffff\""));
	assert_non_null(strstr(svg, "font-family="));
	free(svg);
	c.standalone = false;
	svg = chart_svg(&c);
	assert_int_equal(strncmp(svg, "<svg ", 5), 0);
	assert_null(strstr(svg, "<?xml"));
	assert_non_null(strstr(svg, "viewBox=\"0 0 640 300\""));
	free(svg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(hostile_labels_are_escaped),
	    cmocka_unit_test(a_long_label_is_cut_with_an_ellipsis),
	    cmocka_unit_test(each_series_is_one_path_with_its_data_attributes),
	    cmocka_unit_test(there_is_no_style_attribute_or_element),
	    cmocka_unit_test(a_long_series_is_thinned_to_four_points_a_column),
	    cmocka_unit_test(a_series_narrower_than_the_plot_keeps_every_point),
	    cmocka_unit_test(a_nan_breaks_the_line),
	    cmocka_unit_test(a_nan_breaks_a_thinned_line_too),
	    cmocka_unit_test(a_lone_point_is_drawn_as_a_dot),
	    cmocka_unit_test(an_empty_chart_says_no_points_yet),
	    cmocka_unit_test(series_of_one_group_share_a_colour),
	    cmocka_unit_test(one_group_has_no_legend),
	    cmocka_unit_test(no_legend_leaves_the_groups_to_the_page),
	    cmocka_unit_test(the_highlighted_series_is_drawn_last_and_thicker),
	    cmocka_unit_test(an_href_wraps_the_curve_in_a_link),
	    cmocka_unit_test(ticks_rise_and_cover_the_data),
	    cmocka_unit_test(tick_labels_are_compact),
	    cmocka_unit_test(standalone_is_a_whole_document_on_white),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
