/*
 * The dashboard's pure parts: routes and their refusals (daemon/pages.h),
 * HTML escaping, and the thinning of curves (store/reader.h).
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "pages.h"
#include "reader.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int
route(const char *target, struct page_req *r)
{
	char why[160];

	return page_route(target, strlen(target), r, why, sizeof(why));
}

static void
routes_name_pages_and_ids(void **state)
{
	struct page_req r;

	(void)state;
	assert_int_equal(route("/", &r), 0);
	assert_int_equal(r.kind, PAGE_SWEEPS);
	assert_int_equal(route("/budgets", &r), 0);
	assert_int_equal(r.kind, PAGE_BUDGETS);
	assert_int_equal(route("/sweeps/42", &r), 0);
	assert_int_equal(r.kind, PAGE_SWEEP);
	assert_int_equal(r.id, 42);
	assert_int_equal(
	    route("/jobs/7?metric=train_reward_mean&part=main", &r), 0);
	assert_int_equal(r.kind, PAGE_JOB);
	assert_string_equal(r.metric, "train_reward_mean");
	assert_true(r.part);
	assert_int_equal(route("/static/dash.js", &r), 0);
	assert_int_equal(r.kind, PAGE_STATIC);
	assert_int_equal(route("/?token=a%2Bb+c", &r), 0);
	assert_true(r.has_token);
	assert_string_equal(r.token, "a+b c");
	/* Other keys are ignored; a metric must have a name. */
	assert_int_equal(route("/?utm=x&&=", &r), 0);
	assert_int_equal(route("/sweeps/1?metric", &r), 400);
}

static void
bad_targets_are_refused(void **state)
{
	struct page_req r;

	(void)state;
	assert_int_equal(route("/nope", &r), 404);
	assert_int_equal(route("/sweeps", &r), 404);
	assert_int_equal(route("/sweeps/", &r), 404);
	assert_int_equal(route("/sweeps/0", &r), 400);
	assert_int_equal(route("/sweeps/-1", &r), 400);
	assert_int_equal(route("/sweeps/1x", &r), 400);
	assert_int_equal(route("/sweeps/99999999999999999999", &r), 400);
	assert_int_equal(route("/sweeps/1?metric=%zz", &r), 400);
	assert_int_equal(route("/sweeps/1?metric=%4", &r), 400);
	assert_int_equal(route("/sweeps/1?metric=a%00b", &r), 400);
	assert_int_equal(route("/sweeps/1?metric=a%01b", &r), 400);
	/* Any printable name: it is bound and escaped, never spliced. */
	assert_int_equal(route("/sweeps/1?metric=acc%40k+%3Cx%3E", &r), 0);
	assert_string_equal(r.metric, "acc@k <x>");
	assert_int_equal(route("/sweeps/1?part=all", &r), 400);
}

static void
html_is_escaped(void **state)
{
	char *s = page_escape("<a href=\"x\">Tom & 'Jerry'</a>");

	(void)state;
	assert_string_equal(s, "&lt;a href=&quot;x&quot;&gt;Tom &amp; "
			       "&#39;Jerry&#39;&lt;/a&gt;");
	free(s);
	s = page_escape("");
	assert_string_equal(s, "");
	free(s);
}

static void
thinning_keeps_each_buckets_extremes_in_order(void **state)
{
	double x[1000], y[1000];
	size_t n;

	(void)state;
	for (int i = 0; i < 1000; i++) {
		x[i] = i;
		y[i] = sin(i / 50.0);
	}
	y[500] = 10;  /* a spike survives */
	y[501] = NAN; /* NaNs are skipped */
	n = store_thin(x, y, 1000, 100);
	assert_true(n <= 100);
	assert_true(n >= 50);
	for (size_t i = 1; i < n; i++)
		assert_true(x[i] > x[i - 1]);
	for (size_t i = 0; i < n; i++)
		assert_false(isnan(y[i]));
	bool spike = false;
	for (size_t i = 0; i < n; i++)
		spike = spike || (x[i] == 500 && y[i] == 10);
	assert_true(spike);
	/* Short curves are left as they are. */
	assert_int_equal(store_thin(x, y, 10, 100), 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(routes_name_pages_and_ids),
	    cmocka_unit_test(bad_targets_are_refused),
	    cmocka_unit_test(html_is_escaped),
	    cmocka_unit_test(thinning_keeps_each_buckets_extremes_in_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
