/*
 * rftctl's renderer (ctl/render.h) against golden files: each test feeds a
 * canned reply, tests/data/render/NAME.json, to one renderer and compares
 * the text, byte for byte, with a golden file there, GOLDEN.txt.  Times
 * print in UTC (TZ is set below), so the goldens hold on any machine.
 *
 * When an output changes on purpose, regenerate the goldens and read the
 * diff before committing it:
 *
 *   RFTD_UPDATE_GOLDEN=1 ctest --test-dir build -R unit.test_render
 *   git diff tests/data/render/
 *
 * With RFTD_UPDATE_GOLDEN set (and not "0"), every test writes its golden
 * instead of comparing, and passes.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "proto.h"
#include "render.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INPUT_MAX (1u << 20)

/* What a renderer printed: ro->out and ro->err, each into memory. */
struct capture {
	struct render_opts ro;
	char *out, *err;
	size_t outlen, errlen;
};

static void
capture_open(struct capture *c, int width, bool tty)
{
	memset(c, 0, sizeof(*c));
	c->ro.out = open_memstream(&c->out, &c->outlen);
	c->ro.err = open_memstream(&c->err, &c->errlen);
	assert_non_null(c->ro.out);
	assert_non_null(c->ro.err);
	c->ro.width = width;
	c->ro.tty = tty;
}

/* Ends the capture: c->out and c->err hold the text (free with below). */
static void
capture_close(struct capture *c)
{
	assert_int_equal(fclose(c->ro.out), 0);
	assert_int_equal(fclose(c->ro.err), 0);
	c->ro.out = c->ro.err = NULL;
}

static void
capture_free(struct capture *c)
{
	free(c->out);
	free(c->err);
}

static char *
data_path(const char *name, const char *suffix)
{
	const char *dir = getenv("RFTD_TEST_DATA");
	char *path;

	if (dir == NULL || *dir == '\0')
		fail_msg("RFTD_TEST_DATA is not set (tests/CMakeLists.txt "
			 "sets it to tests/data)");
	assert_true(asprintf(&path, "%s/render/%s%s", dir, name, suffix) > 0);
	return path;
}

/* The whole of a file into a NUL-terminated buffer, or NULL. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	if (f == NULL)
		return NULL;
	buf = malloc(INPUT_MAX + 1);
	assert_non_null(buf);
	*len = fread(buf, 1, INPUT_MAX + 1, f);
	assert_false(ferror(f));
	assert_true(*len <= INPUT_MAX);
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

/* The canned reply NAME.json, parsed (free with cJSON_Delete()). */
static cJSON *
load(const char *name)
{
	char *path = data_path(name, ".json"), *text;
	size_t len;
	cJSON *json;

	text = slurp(path, &len);
	if (text == NULL)
		fail_msg("%s: cannot read", path);
	json = cJSON_ParseWithLength(text, len);
	if (json == NULL)
		fail_msg("%s: not valid JSON", path);
	free(text);
	free(path);
	return json;
}

static bool
updating(void)
{
	const char *v = getenv("RFTD_UPDATE_GOLDEN");

	return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

/* Compares `text` with GOLDEN.txt byte for byte, or writes it there. */
static void
check_golden(const char *golden, const char *text, size_t len)
{
	char *path = data_path(golden, ".txt"), *want;
	size_t wantlen;
	FILE *f;

	if (updating()) {
		f = fopen(path, "wb");
		if (f == NULL)
			fail_msg("%s: cannot write", path);
		assert_int_equal(fwrite(text, 1, len, f), len);
		assert_int_equal(fclose(f), 0);
		free(path);
		return;
	}
	want = slurp(path, &wantlen);
	if (want == NULL)
		fail_msg("%s: missing; RFTD_UPDATE_GOLDEN=1 writes it", path);
	if (wantlen != len || memcmp(want, text, len) != 0) {
		fprintf(stderr,
			"--- %s (%zu bytes)\n%s--- rendered (%zu bytes)\n%s",
			path, wantlen, want, len, text);
		fail_msg("%s: the rendered text differs", path);
	}
	free(want);
	free(path);
}

/* Renders NAME.json with `fn` (width 0, not a terminal); nothing on err. */
static void
golden_of(render_fn fn, const char *input, const char *golden, int width)
{
	struct capture c;
	cJSON *r = load(input);

	capture_open(&c, width, false);
	fn(&c.ro, r);
	capture_close(&c);
	assert_int_equal(c.errlen, 0);
	check_golden(golden, c.out, c.outlen);
	capture_free(&c);
	cJSON_Delete(r);
}

/* Renders the error reply frame NAME.json; nothing on out. */
static void
error_golden(const char *input, const char *spec_path)
{
	char *path = data_path(input, ".json"), *frame;
	struct proto_reply rep;
	struct proto_error perr;
	struct capture c;
	size_t len;

	frame = slurp(path, &len);
	assert_non_null(frame);
	assert_int_equal(proto_reply_parse(frame, len, &rep, &perr), 0);
	assert_int_not_equal(rep.code, 0);
	capture_open(&c, 0, false);
	c.ro.spec_path = spec_path;
	render_error(&c.ro, &rep);
	capture_close(&c);
	assert_int_equal(c.outlen, 0);
	check_golden(input, c.err, c.errlen);
	capture_free(&c);
	proto_reply_free(&rep);
	free(frame);
	free(path);
}

/* --- lists ---------------------------------------------------------------- */

static void
sweep_list_prints_a_row_per_sweep(void **state)
{
	(void)state;
	golden_of(render_sweeps, "sweep-list", "sweep-list", 0);
}

static void
sweep_list_without_sweeps_prints_only_the_header(void **state)
{
	(void)state;
	golden_of(render_sweeps, "sweep-list-empty", "sweep-list-empty", 0);
}

/* Columns are padded by bytes: a UTF-8 name is kept whole, not cut. */
static void
sweep_list_keeps_utf8_and_long_names_whole(void **state)
{
	(void)state;
	golden_of(render_sweeps, "sweep-list-long-names",
		  "sweep-list-long-names", 0);
}

static void
job_list_prints_a_row_per_job(void **state)
{
	(void)state;
	golden_of(render_jobs, "job-list", "job-list", 0);
}

static void
job_list_cuts_the_last_column_to_the_width(void **state)
{
	(void)state;
	golden_of(render_jobs, "job-list", "job-list.w80", 80);
}

static void
job_list_without_jobs_prints_only_the_header(void **state)
{
	(void)state;
	golden_of(render_jobs, "job-list-empty", "job-list-empty", 0);
}

static void
leaderboard_ranks_trials_by_the_objective(void **state)
{
	(void)state;
	golden_of(render_leaderboard, "leaderboard", "leaderboard", 0);
}

static void
leaderboard_without_rows_prints_the_title_and_header(void **state)
{
	(void)state;
	golden_of(render_leaderboard, "leaderboard-empty", "leaderboard-empty",
		  0);
}

/* By reward per dollar: the title says so; a trial without a cost has
 * no value; a checkpoint's model stands in for a fine-tuned one. */
static void
leaderboard_by_value_shows_cost_value_and_model(void **state)
{
	(void)state;
	golden_of(render_leaderboard, "leaderboard-value", "leaderboard-value",
		  0);
}

/* For a min objective the value is 1 / (objective x cost), not a reward
 * per dollar: its column is named VALUE/$. */
static void
leaderboard_of_a_min_objective_names_its_value_column(void **state)
{
	(void)state;
	golden_of(render_leaderboard, "leaderboard-min-value",
		  "leaderboard-min-value", 0);
}

/* --metric: the column is named after the metric, its best and step. */
static void
leaderboard_by_a_metric_names_its_column_after_it(void **state)
{
	(void)state;
	golden_of(render_leaderboard, "leaderboard-metric",
		  "leaderboard-metric", 0);
}

/* The finished trials (the default) and none has a value yet: a hint. */
static void
leaderboard_of_no_finished_trial_says_how_to_see_the_others(void **state)
{
	(void)state;
	golden_of(render_leaderboard, "leaderboard-finished-empty",
		  "leaderboard-finished-empty", 0);
}

static void
leaderboard_of_other_states_names_them(void **state)
{
	(void)state;
	golden_of(render_leaderboard, "leaderboard-states",
		  "leaderboard-states", 0);
}

static void
budget_show_prints_none_where_no_limit_applies(void **state)
{
	(void)state;
	golden_of(render_budget, "budget-show", "budget-show", 0);
}

/* Every sweep with spend, named, its simulated dollars marked sim$. */
static void
budget_show_names_sweeps_and_marks_simulated_dollars(void **state)
{
	(void)state;
	golden_of(render_budget, "budget-sweeps", "budget-sweeps", 0);
}

/* --- one object ----------------------------------------------------------- */

static void
sweep_show_lists_trials_and_why_one_is_pending(void **state)
{
	(void)state;
	golden_of(render_sweep, "sweep-show", "sweep-show", 0);
}

static void
sweep_show_prints_placeholders_for_null_fields(void **state)
{
	(void)state;
	golden_of(render_sweep, "sweep-show-nulls", "sweep-show-nulls", 0);
}

static void
job_show_prints_events_and_metrics(void **state)
{
	(void)state;
	golden_of(render_job, "job-show", "job-show", 0);
}

static void
job_show_prints_placeholders_for_null_fields(void **state)
{
	(void)state;
	golden_of(render_job, "job-show-nulls", "job-show-nulls", 0);
}

static void
status_lists_backends_and_row_counts(void **state)
{
	(void)state;
	golden_of(render_status, "status", "status", 0);
}

static void
status_says_until_when_a_backend_is_held(void **state)
{
	(void)state;
	golden_of(render_status, "status-held", "status-held", 0);
}

static void
plan_previews_the_first_trials_and_the_bill(void **state)
{
	(void)state;
	golden_of(render_plan, "plan", "plan", 0);
}

static void
plan_without_a_budget_says_no_limit_applies(void **state)
{
	(void)state;
	golden_of(render_plan, "plan-no-budget", "plan-no-budget", 0);
}

static void
plan_of_a_gpu_backend_says_the_gpu_hours(void **state)
{
	(void)state;
	golden_of(render_plan, "plan-gpu", "plan-gpu", 0);
}

static void
plan_prints_its_warnings_the_reuse_and_the_early_stopping_cost(void **state)
{
	(void)state;
	golden_of(render_plan, "plan-warnings", "plan-warnings", 0);
}

static void
plan_prints_notes_and_an_unknown_expected_cost(void **state)
{
	(void)state;
	golden_of(render_plan, "plan-notes", "plan-notes", 0);
}

/* --- one line ------------------------------------------------------------- */

static void
submit_prints_the_new_sweep_id(void **state)
{
	(void)state;
	golden_of(render_submit, "submit", "submit", 0);
}

static void
submit_counts_trials_reused_from_earlier_sweeps(void **state)
{
	(void)state;
	golden_of(render_submit, "submit-reused", "submit-reused", 0);
}

static void
submit_lists_the_warnings_it_confirmed(void **state)
{
	(void)state;
	golden_of(render_submit, "submit-confirmed", "submit-confirmed", 0);
}

static void
reload_names_the_options_that_take_a_restart(void **state)
{
	(void)state;
	golden_of(render_reload, "reload", "reload", 0);
}

static void
reload_with_nothing_to_restart_prints_one_line(void **state)
{
	(void)state;
	golden_of(render_reload, "reload-nothing-to-restart",
		  "reload-nothing-to-restart", 0);
}

static void
job_action_prints_the_job_state(void **state)
{
	(void)state;
	golden_of(render_job_action, "job-action", "job-action", 0);
}

static void
sweep_action_counts_the_jobs_affected(void **state)
{
	(void)state;
	golden_of(render_sweep_action, "sweep-action", "sweep-action", 0);
}

static void
ping_names_the_socket_and_the_round_trip(void **state)
{
	struct capture c;

	(void)state;
	capture_open(&c, 0, false);
	render_ping(&c.ro, "/run/rftd/control.sock", 0.25);
	capture_close(&c);
	check_golden("ping", c.out, c.outlen);
	capture_free(&c);
}

static void
json_prints_the_result_as_it_came(void **state)
{
	(void)state;
	golden_of(render_json, "sweep-list", "sweep-list.json", 0);
}

/* --- errors --------------------------------------------------------------- */

static void
error_prints_the_message_and_the_code_text(void **state)
{
	(void)state;
	error_golden("error-not-found", NULL);
}

static void
error_of_a_spec_lists_every_problem_with_its_path(void **state)
{
	(void)state;
	error_golden("error-spec", "examples/sweep.json");
}

static void
error_of_a_spec_without_a_path_names_it_spec(void **state)
{
	(void)state;
	error_golden("error-spec-one", NULL);
}

static void
error_of_an_unconfirmed_plan_lists_every_warning_with_its_path(void **state)
{
	(void)state;
	error_golden("error-warnings", "warn.json");
}

static void
error_of_a_reload_prints_the_configuration_errors(void **state)
{
	(void)state;
	error_golden("error-config", NULL);
}

static void
error_with_an_unknown_code_says_unknown_error(void **state)
{
	(void)state;
	error_golden("error-unknown-code", NULL);
}

/* --- curves --------------------------------------------------------------- */

static void
curves_off_a_terminal_print_a_tab_separated_row_per_point(void **state)
{
	struct capture c;
	cJSON *r = load("curves");

	(void)state;
	capture_open(&c, 0, false);
	assert_int_equal(render_curves(&c.ro, r, "valid_reward_mean"), 0);
	capture_close(&c);
	assert_int_equal(c.errlen, 0);
	check_golden("curves", c.out, c.outlen);
	capture_free(&c);
	cJSON_Delete(r);
}

static void
curves_on_a_terminal_draw_a_sparkline_per_job(void **state)
{
	struct capture c;
	cJSON *r = load("curves");

	(void)state;
	capture_open(&c, 100, true);
	assert_int_equal(render_curves(&c.ro, r, "valid_reward_mean"), 0);
	capture_close(&c);
	assert_int_equal(c.errlen, 0);
	check_golden("curves.tty", c.out, c.outlen);
	capture_free(&c);
	cJSON_Delete(r);
}

static void
curves_without_points_fail_with_enodata(void **state)
{
	struct capture c;
	cJSON *r = load("curves-empty");

	(void)state;
	capture_open(&c, 0, false);
	assert_int_equal(render_curves(&c.ro, r, "valid_reward_mean"),
			 -ENODATA);
	capture_close(&c);
	assert_int_equal(c.outlen, 0);
	check_golden("curves-empty", c.err, c.errlen);
	capture_free(&c);
	cJSON_Delete(r);
}

/* --- watch ---------------------------------------------------------------- */

static void
watch_start_names_the_sweep_and_counts_its_trials(void **state)
{
	struct capture c;
	cJSON *r = load("sweep-show");

	(void)state;
	capture_open(&c, 0, false);
	render_watch_start(&c.ro, "12:34:56", r);
	capture_close(&c);
	check_golden("watch-start", c.out, c.outlen);
	capture_free(&c);
	cJSON_Delete(r);
}

/* First sight of each trial ("new -> ..."), then a move from pending. */
static void
watch_prints_a_line_per_trial_state_change(void **state)
{
	struct capture c;
	cJSON *r = load("sweep-show");
	const cJSON *t;

	(void)state;
	capture_open(&c, 0, false);
	cJSON_ArrayForEach(t, cJSON_GetObjectItem(r, "trials"))
	    render_watch_trial(&c.ro, "12:34:56", t, NULL);
	t = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "trials"), 2);
	render_watch_trial(&c.ro, "12:35:01", t, "pending");
	capture_close(&c);
	check_golden("watch-trials", c.out, c.outlen);
	capture_free(&c);
	cJSON_Delete(r);
}

static void
watch_progress_counts_trials_by_state(void **state)
{
	char line[512];
	cJSON *r = load("sweep-show");

	(void)state;
	render_watch_progress(r, line, sizeof(line));
	strcat(line, "\n");
	check_golden("watch-progress", line, strlen(line));
	cJSON_Delete(r);
}

/* sweep-show-nulls minimizes its objective: the best is the lowest. */
static void
watch_progress_of_a_min_objective_takes_the_lowest(void **state)
{
	char line[512];
	cJSON *r = load("sweep-show-nulls");

	(void)state;
	render_watch_progress(r, line, sizeof(line));
	strcat(line, "\n");
	check_golden("watch-progress-min", line, strlen(line));
	cJSON_Delete(r);
}

/* A trial an early-stopping rule stopped has ended: it counts as done. */
static void
watch_progress_counts_a_stopped_trial_as_done(void **state)
{
	char line[512];
	cJSON *r = cJSON_Parse("{\"state\": \"running\", \"trials\": ["
			       "{\"state\": \"stopped\", \"objective\": 0.5},"
			       "{\"state\": \"running\"}]}");

	(void)state;
	assert_non_null(r);
	render_watch_progress(r, line, sizeof(line));
	assert_non_null(strstr(line, "1/2 done (0 failed), 1 running, 0 "
				     "paused, 0 waiting"));
	cJSON_Delete(r);
}

static void
watch_progress_is_cut_to_its_buffer(void **state)
{
	char line[24];
	cJSON *r = load("sweep-show");

	(void)state;
	render_watch_progress(r, line, sizeof(line));
	assert_string_equal(line, "[running] 2/5 done (1 f");
	cJSON_Delete(r);
}

/* Why trials wait, each case a line: rftd's reason for the first
 * pending trial, a paused sweep, the sweep's own max_concurrent, a full
 * backend (counted over every sweep), and none to tell. */
static void
watch_says_why_trials_wait(void **state)
{
	static const char *const sweeps[] = {
	    /* sweep-show's trial 4 waits, with rftd's reason */
	    NULL,
	    "{\"id\": 2, \"state\": \"paused\", \"trials\": "
	    "[{\"state\": \"pending\"}, {\"state\": \"pending\"}]}",
	    "{\"id\": 2, \"state\": \"running\", \"max_concurrent\": 1, "
	    "\"backend\": \"sim\", \"trials\": [{\"state\": \"running\"}, "
	    "{\"state\": \"pending\"}]}",
	    "{\"id\": 2, \"state\": \"running\", \"backend\": \"sim\", "
	    "\"trials\": [{\"state\": \"running\"}, {\"state\": "
	    "\"pending\"}, {\"state\": \"pending\"}]}",
	    "{\"id\": 2, \"state\": \"running\", \"backend\": \"gpu\", "
	    "\"trials\": [{\"state\": \"running\"}, {\"state\": "
	    "\"pending\"}]}",
	};
	cJSON *list = cJSON_Parse(
	    "{\"sweeps\": [{\"backend\": \"sim\", \"counts\": {\"running\": "
	    "1}}, {\"backend\": \"sim\", \"counts\": {\"running\": 2, "
	    "\"paused\": 1, \"succeeded\": 9}}, {\"backend\": \"gpu\", "
	    "\"counts\": {\"running\": 1}}]}");
	cJSON *status = cJSON_Parse(
	    "{\"backends\": [{\"name\": \"sim\", \"max_concurrent\": 4}, "
	    "{\"name\": \"gpu\", \"max_concurrent\": 2}]}");
	struct capture c;
	char why[512];

	(void)state;
	assert_non_null(list);
	assert_non_null(status);
	capture_open(&c, 0, false);
	for (size_t i = 0; i < sizeof(sweeps) / sizeof(sweeps[0]); i++) {
		cJSON *r =
		    sweeps[i] ? cJSON_Parse(sweeps[i]) : load("sweep-show");
		int n;

		assert_non_null(r);
		n = render_watch_waiting(r, list, status, why, sizeof(why));
		if (n > 0)
			render_watch_wait(&c.ro, "12:00:00", n, why);
		else
			fprintf(c.ro.out, "(none: %s)\n", why);
		cJSON_Delete(r);
	}
	capture_close(&c);
	check_golden("watch-waiting", c.out, c.outlen);
	capture_free(&c);
	cJSON_Delete(list);
	cJSON_Delete(status);
}

/* Without the other sweeps and the backends, a full backend cannot be
 * told: nothing is said rather than a guess. */
static void
watch_says_nothing_of_a_backend_it_was_not_told_of(void **state)
{
	cJSON *r = cJSON_Parse(
	    "{\"state\": \"running\", \"backend\": \"sim\", \"trials\": "
	    "[{\"state\": \"pending\"}]}");
	char why[64];

	(void)state;
	assert_int_equal(render_watch_waiting(r, NULL, NULL, why, sizeof(why)),
			 0);
	assert_string_equal(why, "");
	cJSON_Delete(r);
}

/* The heartbeat and the connection's news. */
static void
watch_tells_it_is_alive_and_of_rftd_leaving_and_coming_back(void **state)
{
	struct capture c;
	cJSON *r = load("sweep-show");

	(void)state;
	capture_open(&c, 0, false);
	render_watch_heartbeat(&c.ro, "12:00:00", 3, r, 0, "");
	render_watch_heartbeat(&c.ro, "12:01:00", 3, r, 2,
			       "waiting for budget day: $190.00 spent");
	render_watch_lost(&c.ro, "12:01:30", "rftd closed the connection");
	render_watch_still_lost(&c.ro, "12:02:30", 60.2,
				"rftd is not running at /run/x.sock");
	render_watch_back(&c.ro, "12:02:41", 71.04);
	capture_close(&c);
	check_golden("watch-heartbeat", c.out, c.outlen);
	capture_free(&c);
	cJSON_Delete(r);
}

static void
watch_end_sums_up_the_sweep_followed(void **state)
{
	struct capture c;
	cJSON *r = load("sweep-show-nulls");

	(void)state;
	capture_open(&c, 0, false);
	render_watch_end(&c.ro, "23:59:59", 4, r);
	capture_close(&c);
	check_golden("watch-end", c.out, c.outlen);
	capture_free(&c);
	cJSON_Delete(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(sweep_list_prints_a_row_per_sweep),
	    cmocka_unit_test(sweep_list_without_sweeps_prints_only_the_header),
	    cmocka_unit_test(sweep_list_keeps_utf8_and_long_names_whole),
	    cmocka_unit_test(job_list_prints_a_row_per_job),
	    cmocka_unit_test(job_list_cuts_the_last_column_to_the_width),
	    cmocka_unit_test(job_list_without_jobs_prints_only_the_header),
	    cmocka_unit_test(leaderboard_ranks_trials_by_the_objective),
	    cmocka_unit_test(
		leaderboard_without_rows_prints_the_title_and_header),
	    cmocka_unit_test(leaderboard_by_value_shows_cost_value_and_model),
	    cmocka_unit_test(
		leaderboard_of_a_min_objective_names_its_value_column),
	    cmocka_unit_test(leaderboard_by_a_metric_names_its_column_after_it),
	    cmocka_unit_test(
		leaderboard_of_no_finished_trial_says_how_to_see_the_others),
	    cmocka_unit_test(leaderboard_of_other_states_names_them),
	    cmocka_unit_test(budget_show_prints_none_where_no_limit_applies),
	    cmocka_unit_test(
		budget_show_names_sweeps_and_marks_simulated_dollars),
	    cmocka_unit_test(sweep_show_lists_trials_and_why_one_is_pending),
	    cmocka_unit_test(sweep_show_prints_placeholders_for_null_fields),
	    cmocka_unit_test(job_show_prints_events_and_metrics),
	    cmocka_unit_test(job_show_prints_placeholders_for_null_fields),
	    cmocka_unit_test(status_lists_backends_and_row_counts),
	    cmocka_unit_test(status_says_until_when_a_backend_is_held),
	    cmocka_unit_test(plan_previews_the_first_trials_and_the_bill),
	    cmocka_unit_test(plan_without_a_budget_says_no_limit_applies),
	    cmocka_unit_test(plan_of_a_gpu_backend_says_the_gpu_hours),
	    cmocka_unit_test(
		plan_prints_its_warnings_the_reuse_and_the_early_stopping_cost),
	    cmocka_unit_test(plan_prints_notes_and_an_unknown_expected_cost),
	    cmocka_unit_test(submit_prints_the_new_sweep_id),
	    cmocka_unit_test(submit_counts_trials_reused_from_earlier_sweeps),
	    cmocka_unit_test(submit_lists_the_warnings_it_confirmed),
	    cmocka_unit_test(reload_names_the_options_that_take_a_restart),
	    cmocka_unit_test(reload_with_nothing_to_restart_prints_one_line),
	    cmocka_unit_test(job_action_prints_the_job_state),
	    cmocka_unit_test(sweep_action_counts_the_jobs_affected),
	    cmocka_unit_test(ping_names_the_socket_and_the_round_trip),
	    cmocka_unit_test(json_prints_the_result_as_it_came),
	    cmocka_unit_test(error_prints_the_message_and_the_code_text),
	    cmocka_unit_test(error_of_a_spec_lists_every_problem_with_its_path),
	    cmocka_unit_test(error_of_a_spec_without_a_path_names_it_spec),
	    cmocka_unit_test(
		error_of_an_unconfirmed_plan_lists_every_warning_with_its_path),
	    cmocka_unit_test(error_of_a_reload_prints_the_configuration_errors),
	    cmocka_unit_test(error_with_an_unknown_code_says_unknown_error),
	    cmocka_unit_test(
		curves_off_a_terminal_print_a_tab_separated_row_per_point),
	    cmocka_unit_test(curves_on_a_terminal_draw_a_sparkline_per_job),
	    cmocka_unit_test(curves_without_points_fail_with_enodata),
	    cmocka_unit_test(watch_start_names_the_sweep_and_counts_its_trials),
	    cmocka_unit_test(watch_prints_a_line_per_trial_state_change),
	    cmocka_unit_test(watch_progress_counts_trials_by_state),
	    cmocka_unit_test(
		watch_progress_of_a_min_objective_takes_the_lowest),
	    cmocka_unit_test(watch_progress_counts_a_stopped_trial_as_done),
	    cmocka_unit_test(watch_progress_is_cut_to_its_buffer),
	    cmocka_unit_test(watch_says_why_trials_wait),
	    cmocka_unit_test(
		watch_says_nothing_of_a_backend_it_was_not_told_of),
	    cmocka_unit_test(
		watch_tells_it_is_alive_and_of_rftd_leaving_and_coming_back),
	    cmocka_unit_test(watch_end_sums_up_the_sweep_followed),
	};

	/* The goldens' times are UTC, whatever the machine's zone. */
	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
