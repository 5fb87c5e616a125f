/* Placeholder until the chart renderer lands. */
#include "svg.h"
#include "util.h"

char *
chart_svg(const struct chart *c)
{
	(void)c;
	return xstrdup("<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
}

const char *
chart_colour(size_t i)
{
	(void)i;
	return "#1f77b4";
}
