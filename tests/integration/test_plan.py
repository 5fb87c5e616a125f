#!/usr/bin/env python3
"""Plans that warn, through the real rftd and the real rftctl on the sim
backend: an objective no job reports (a typo, a valid_* metric without
validation data), trials certainly cut off by max_job_hours, a worst
case above [budget] confirm_above; `rftctl plan` prints each warning with
its JSON path, `rftctl submit` refuses (and stores nothing) unless given
--yes, and rftd refuses any client that does not confirm.  With --reuse
the bill counts only the trials that run; with early stopping the plan
shows the expected cost next to the full grid's.  A plan says what each
dataset holds, and refuses a multi grader's formula that does not parse,
at its position.
"""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import LONG_WAIT, wait_until  # noqa: E402
from test_sweeps import GRADERS, SweepTest, sim_backend  # noqa: E402

# 2 graders x 3 learning rates of 15 epochs: 6 trials of 15 x 19 = 285
# simulated steps of 45 s, 3.5625 hours each ($356.25 at the sim's $100).
LONG = {"n_epochs": [15], "learning_rate_multiplier": [0.5, 1.0, 2.0]}
STEP_HOURS = 45 / 3600
LONG_HOURS = 285 * STEP_HOURS


class PlanTest(SweepTest):
    def plan(self, d, spec, *flags):
        return d.ctl_json("plan", spec, *flags)

    def codes(self, plan):
        return [(w["code"], w["path"]) for w in plan["warnings"]]

    def notes(self, plan):
        """The notes, but those that say what a dataset holds."""
        return [n for n in plan["notes"] if n["code"] != "dataset"]

    def stored_sweeps(self, d):
        return self.rows(d, "SELECT count(*) FROM sweeps")[0][0]


class ObjectiveMetric(PlanTest):
    def test_a_typo_in_the_objective_metric_is_a_warning_at_its_path(self):
        d = self.start()
        spec = self.write_spec(objective={"metric": "valid_reward_mena",
                                          "mode": "max"})
        plan = self.plan(d, spec)
        self.assertEqual(self.codes(plan),
                         [("unknown_metric", "/objective/metric")])
        message = plan["warnings"][0]["message"]
        self.assertIn("'valid_reward_mena'", message)
        self.assertIn("did you mean valid_reward_mean?", message)
        self.assertIn("leaderboard would stay empty", message)
        text = d.ctl("plan", spec, check=True).stdout
        self.assertIn("warning: /objective/metric: 'valid_reward_mena' is "
                      "not a metric", text)
        self.assertIn("submit refuses this spec unless given --yes", text)

    def test_every_name_the_sim_reports_passes(self):
        d = self.start()
        for metric in ("train_reward_mean", "valid_reward_mean",
                       "train_mean_reward", "full_valid_mean_reward",
                       "grader.exact.valid_reward_mean",
                       "grader.fuzzy.train_reward_mean"):
            plan = self.plan(d, self.write_spec(
                objective={"metric": metric, "mode": "max"}))
            self.assertEqual(plan["warnings"], [], metric)
            self.assertEqual(self.notes(plan), [], metric)

    def test_a_per_grader_metric_of_a_grader_not_in_the_spec_warns(self):
        d = self.start()
        plan = self.plan(d, self.write_spec(objective={
            "metric": "grader.exactt.valid_reward_mean", "mode": "max"}))
        self.assertEqual(self.codes(plan),
                         [("unknown_metric", "/objective/metric")])
        self.assertIn("did you mean grader.exact.valid_reward_mean?",
                      plan["warnings"][0]["message"])

    def test_a_multi_graders_metrics_go_by_its_graders_keys(self):
        d = self.start()
        multi = {"type": "multi", "name": "blend", "graders": {
            "a": GRADERS["exact"], "b": GRADERS["fuzzy"]},
            "calculate_output": "0.5 * a + 0.5 * b"}
        plan = self.plan(d, self.write_spec(
            graders={"blend": multi},
            objective={"metric": "grader.b.valid_reward_mean"}))
        self.assertEqual(plan["warnings"], [])
        # The simulator, like the provider, reports the parts, not the
        # whole.
        plan = self.plan(d, self.write_spec(
            graders={"blend": multi},
            objective={"metric": "grader.blend.valid_reward_mean"}))
        self.assertEqual(self.codes(plan),
                         [("unknown_metric", "/objective/metric")])

    def test_a_typo_in_the_early_stopping_metric_warns_at_its_path(self):
        d = self.start()
        plan = self.plan(d, self.write_spec(early_stopping={
            "rule": "median", "metric": "train_rewrd_mean"}))
        self.assertEqual(self.codes(plan),
                         [("unknown_metric", "/early_stopping/metric")])
        self.assertIn("every trial would run in full",
                      plan["warnings"][0]["message"])


class ValidationFile(PlanTest):
    def test_a_valid_metric_without_validation_file_warns(self):
        d = self.start()
        plan = self.plan(d, self.write_spec(validation_file=None))
        self.assertEqual(self.codes(plan),
                         [("no_validation_file", "/objective/metric")])
        self.assertIn("no validation_file",
                      plan["warnings"][0]["message"])

    def test_the_default_objective_without_validation_file_warns(self):
        d = self.start()
        plan = self.plan(d, self.write_spec(validation_file=None,
                                            objective=None))
        self.assertEqual(self.codes(plan),
                         [("no_validation_file", "/objective")])
        self.assertIn("without objective, the objective is "
                      "'valid_reward_mean'", plan["warnings"][0]["message"])

    def test_a_train_metric_needs_no_validation_file(self):
        d = self.start()
        plan = self.plan(d, self.write_spec(
            validation_file=None,
            objective={"metric": "train_reward_mean", "mode": "max"}))
        self.assertEqual(plan["warnings"], [])


class MaxJobHours(PlanTest):
    def test_trials_longer_than_max_job_hours_warn(self):
        d = self.start()
        # 1 epoch: 19 steps, 0.2375 h; 2 epochs: 0.475 h.
        plan = self.plan(d, self.write_spec(
            max_job_hours=0.3,
            hyperparameters={"n_epochs": [1, 2],
                             "learning_rate_multiplier": [1.0]}))
        self.assertEqual(self.codes(plan),
                         [("cut_by_max_job_hours", "/max_job_hours")])
        self.assertIn("2 of the 4 trials that run are estimated to train "
                      "longer than max_job_hours (0.3 h; the longest "
                      "0.47 h)", plan["warnings"][0]["message"])

    def test_trials_that_fit_max_job_hours_do_not_warn(self):
        d = self.start()
        plan = self.plan(d, self.write_spec(
            max_job_hours=0.5,
            hyperparameters={"n_epochs": [1, 2],
                             "learning_rate_multiplier": [1.0]}))
        self.assertEqual(plan["warnings"], [])

    def test_the_default_max_job_hours_is_named_when_it_cuts(self):
        d = self.start()
        plan = self.plan(d, self.write_spec(hyperparameters=LONG))
        self.assertEqual(self.codes(plan), [])
        plan = self.plan(d, self.write_spec(
            hyperparameters={"n_epochs": [25]}))  # 5.9 h > the default 4
        self.assertEqual(self.codes(plan),
                         [("cut_by_max_job_hours", "/max_job_hours")])
        self.assertIn("default_max_job_hours",
                      plan["warnings"][0]["message"])


class ConfirmAbove(PlanTest):
    def start_confirming(self, usd):
        self.write_datasets(self.tmp)
        self.backends = sim_backend() + "[budget]\nconfirm_above = %g\n" % usd
        return self.daemon(daemon_section="tick = 50\n",
                           extra_config=self.backends)

    def test_a_worst_case_above_confirm_above_warns(self):
        # Four trials of 4 h at $100: a worst case of $1600.
        d = self.start_confirming(1000)
        plan = self.plan(d, self.write_spec())
        self.assertEqual(self.codes(plan), [("above_confirm_above", "/")])
        self.assertIn("the worst case, $1600.00, is more than $1000.00 "
                      "([budget] confirm_above", plan["warnings"][0]["message"])

    def test_a_worst_case_up_to_confirm_above_passes(self):
        d = self.start_confirming(1600)
        self.assertEqual(self.plan(d, self.write_spec())["warnings"], [])

    def test_a_reload_applies_confirm_above(self):
        d = self.start()
        self.assertEqual(self.plan(d, self.write_spec())["warnings"], [])
        self.reconfigure(d, sim_backend() + "[budget]\nconfirm_above = 10\n")
        self.assertEqual(self.codes(self.plan(d, self.write_spec())),
                         [("above_confirm_above", "/")])


class Submit(PlanTest):
    def test_submit_refuses_a_spec_with_a_warning_and_stores_nothing(self):
        d = self.start()
        spec = self.write_spec(objective={"metric": "valid_reward_mena"},
                               max_job_hours=0.1)
        r = d.ctl("submit", spec)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("the plan has 2 warnings and nothing was stored; "
                      "submit --yes goes ahead all the same", r.stderr)
        self.assertIn("\n  /objective/metric: 'valid_reward_mena'", r.stderr)
        self.assertIn("\n  /max_job_hours: ", r.stderr)
        self.assertEqual(self.stored_sweeps(d), 0)
        self.assertEqual(self.rows(d, "SELECT count(*) FROM trials")[0][0],
                         0)

    def test_submit_yes_goes_ahead_and_says_what_it_confirmed(self):
        d = self.start()
        spec = self.write_spec(objective={"metric": "valid_reward_mena"})
        r = d.ctl("submit", spec, "--yes", check=True)
        self.assertRegex(r.stdout, r'^sweep 1 "test-sweep" submitted')
        self.assertIn("confirmed warning: /objective/metric:", r.stdout)
        self.assertEqual(self.stored_sweeps(d), 1)

    def test_submit_without_warnings_needs_no_yes(self):
        d = self.start()
        self.submit(d, self.write_spec())
        self.assertEqual(self.stored_sweeps(d), 1)

    def test_rftd_refuses_an_unconfirmed_submit_from_any_client(self):
        d = self.start()
        with open(self.write_spec(max_job_hours=0.1)) as f:
            spec = json.load(f)
        for key in ("training_file", "validation_file"):
            spec[key] = os.path.join(self.tmp, spec[key])
        c = d.connect()
        try:
            reply = c.call("sweep.submit", {"spec": spec})
            self.assertEqual(reply["error"]["code"], -32007)
            self.assertIn("/max_job_hours: ", reply["error"]["message"])
            self.assertEqual(
                [w["path"] for w in reply["error"]["data"]["warnings"]],
                ["/max_job_hours"])
            reply = c.call("sweep.submit", {"spec": spec, "yes": "y"})
            self.assertEqual(reply["error"]["message"],
                             "/params/yes: must be true or false")
            self.assertEqual(self.stored_sweeps(d), 0)
            reply = c.call("sweep.submit", {"spec": spec, "yes": True})
            self.assertEqual(reply["result"]["sweep_id"], 1)
            self.assertEqual(
                [w["code"] for w in reply["result"]["warnings"]],
                ["cut_by_max_job_hours"])
        finally:
            c.close()

    def test_rftctl_rejects_yes_where_it_means_nothing(self):
        d = self.start()
        r = d.ctl("plan", self.write_spec(), "--yes")
        self.assertEqual(r.returncode, 2)
        self.assertIn("plan does not take --yes", r.stderr)


class Reuse(PlanTest):
    def test_with_reuse_the_bill_counts_only_the_trials_that_run(self):
        d = self.start()
        # Two trials run to their end first.
        first = self.submit(d, self.write_spec(
            "first.json", graders={"exact": GRADERS["exact"]}))
        self.wait_for_sweep(d, first, timeout=LONG_WAIT)
        spec = self.write_spec()  # the same two, and two fuzzy ones

        plain = self.plan(d, spec)
        self.assertEqual((plain["trials"], plain["already_stored"],
                          plain["trials_to_run"], plain["bill"]["trials"]),
                         (4, 2, 4, 4))
        reuse = self.plan(d, spec, "--reuse")
        self.assertEqual((reuse["trials"], reuse["reused"],
                          reuse["trials_to_run"], reuse["bill"]["trials"]),
                         (4, 2, 2, 2))
        self.assertAlmostEqual(reuse["bill"]["worst_case_usd"],
                               plain["bill"]["worst_case_usd"] / 2)
        self.assertAlmostEqual(reuse["bill"]["expected_usd"],
                               plain["bill"]["expected_usd"] / 2)
        text = d.ctl("plan", spec, "--reuse", check=True).stdout
        self.assertIn("--reuse: 2 of the 4 trials run; 2 stored ones are "
                      "linked instead", text)

    def test_confirm_above_counts_only_the_trials_that_run(self):
        self.write_datasets(self.tmp)
        # Each trial's worst case is $400: two of them pass, four do not.
        self.backends = sim_backend() + "[budget]\nconfirm_above = 800\n"
        d = self.daemon(daemon_section="tick = 50\n",
                        extra_config=self.backends)
        first = self.submit(d, self.write_spec(
            "first.json", graders={"exact": GRADERS["exact"]}))
        self.wait_for_sweep(d, first, timeout=LONG_WAIT)
        spec = self.write_spec()
        self.assertEqual(self.codes(self.plan(d, spec)),
                         [("above_confirm_above", "/")])
        self.assertEqual(self.plan(d, spec, "--reuse")["warnings"], [])
        r = d.ctl("submit", spec, "--reuse", check=True)
        self.assertIn("2 reused from earlier sweeps", r.stdout)


class ExpectedCost(PlanTest):
    def early_plan(self, d, **rule):
        return self.plan(d, self.write_spec(
            hyperparameters=LONG, max_job_hours=100,
            early_stopping=dict(rule, grace_steps=10, min_trials=2)))

    def test_asha_shows_the_expected_cost_next_to_the_full_grid(self):
        d = self.start()
        bill = self.early_plan(d, rule="asha", reduction_factor=3)["bill"]
        # Rungs at steps 10, 30, 90 and 270 of 285.  Every trial trains
        # to step 10; 1 in 3 goes on to 30, 1 in 9 to 90; then fewer than
        # min_trials (2) of the 6 are expected there, so no more stop:
        # 10 + 20/3 + 60/9 + 180/9 + 15/9 = 45 steps, 0.5625 h a trial.
        self.assertEqual(bill["early_stopping"], "asha")
        self.assertAlmostEqual(bill["expected_cost_usd"], 6 * 45 * 100 *
                               STEP_HOURS)
        self.assertAlmostEqual(bill["expected_usd"],
                               6 * LONG_HOURS * 100)  # the full grid
        self.assertAlmostEqual(bill["worst_case_usd"], 6 * 100 * 100)
        self.assertIn("an estimate", bill["expected_cost_note"])
        text = d.ctl("plan", self.write_spec(
            hyperparameters=LONG, max_job_hours=100,
            early_stopping={"rule": "asha", "grace_steps": 10,
                            "min_trials": 2}), check=True).stdout
        self.assertIn("early stopping (asha): expected about $337.50, an "
                      "estimate (full grid $2137.50, worst case $60000.00)",
                      text)

    def test_median_stops_about_half_the_trials_at_grace_steps(self):
        d = self.start()
        bill = self.early_plan(d, rule="median")["bill"]
        self.assertAlmostEqual(
            bill["expected_cost_usd"],
            6 * 100 * (0.5 * 10 * STEP_HOURS + 0.5 * LONG_HOURS))

    def test_with_fewer_trials_than_min_trials_nothing_is_saved(self):
        d = self.start()
        bill = self.plan(d, self.write_spec(
            hyperparameters=LONG, max_job_hours=100,
            early_stopping={"rule": "asha", "min_trials": 7}))["bill"]
        self.assertAlmostEqual(bill["expected_cost_usd"],
                               bill["expected_usd"])

    def test_without_early_stopping_there_is_no_expected_cost(self):
        d = self.start()
        bill = self.plan(d, self.write_spec())["bill"]
        self.assertNotIn("expected_cost_usd", bill)


class ProcessBackend(PlanTest):
    """A trainer may report names rftd does not know, and its backend
    cannot say how many steps a run takes."""

    def start_process(self):
        self.write_datasets(self.tmp)
        workdir = os.path.join(self.tmp, "runs")
        self.backends = ('[backend "box"]\ntype = process\n'
                         "command = /bin/true\nworkdir = %s\n"
                         '[price "box/*"]\nper_training_hour = 10\n'
                         % workdir)
        return self.daemon(daemon_section="tick = 50\n",
                           extra_config=self.backends)

    def spec(self, **fields):
        return self.write_spec(backend="box", model="tiny",
                               graders={"exact": GRADERS["exact"]},
                               hyperparameters={"lr": [0.1, 0.2]}, **fields)

    def test_an_unknown_metric_is_a_note_not_a_warning(self):
        d = self.start_process()
        plan = self.plan(d, self.spec(objective={"metric": "eval/acc"}))
        self.assertEqual(plan["warnings"], [])
        self.assertEqual([(n["code"], n["path"])
                          for n in self.notes(plan)],
                         [("metric_not_known", "/objective/metric")])
        text = d.ctl("plan", self.spec(objective={"metric": "eval/acc"}),
                     check=True).stdout
        self.assertIn("note: /objective/metric: 'eval/acc' is not a name "
                      "rftd knows", text)
        self.assertNotIn("submit refuses", text)

    def test_the_expected_cost_is_unknown_when_steps_are(self):
        d = self.start_process()
        bill = self.plan(d, self.spec(early_stopping={"rule": "asha"}))[
            "bill"]
        self.assertIsNone(bill["expected_cost_usd"])
        self.assertIn("unknown: backend box cannot say how many steps",
                      bill["expected_cost_note"])


class Datasets(PlanTest):
    def test_a_plan_says_what_each_dataset_holds(self):
        d = self.start()
        spec = self.write_spec()
        plan = self.plan(d, spec)
        size = os.path.getsize(os.path.join(self.tmp, "train.jsonl"))
        self.assertEqual(
            [(x["path"], x["examples"], x["bytes"], x["checked"],
              x["sampled"], x["fields"]) for x in plan["datasets"]],
            [("/training_file", 2, size, 2, False, ["answer"]),
             ("/validation_file", 2, size, 2, False, ["answer"])])
        text = d.ctl("plan", spec, check=True).stdout
        self.assertIn("note: /training_file: 2 examples, %d bytes, every "
                      "one checked" % size, text)
        # A provider's file id is the provider's to read.
        plan = self.plan(d, self.write_spec(validation_file="file-abc"))
        self.assertEqual(plan["datasets"][1],
                         {"path": "/validation_file", "file": "file-abc",
                          "read": False})

    def test_a_trainers_dataset_is_counted_not_checked(self):
        d = self.start(backends='[backend "box"]\ntype = process\n'
                                "command = /bin/true\nworkdir = %s\n"
                                '[price "box/*"]\nper_training_hour = 1\n'
                                % os.path.join(self.tmp, "runs"))
        with open(os.path.join(self.tmp, "rows.csv"), "w") as f:
            f.write("prompt,answer\n2+2?,4\n")
        plan = self.plan(d, self.write_spec(
            backend="box", model="tiny", training_file="rows.csv",
            validation_file=None, objective={"metric": "train_reward_mean"},
            hyperparameters={"lr": [0.1]}))
        self.assertEqual(plan["datasets"][0]["examples"], 2)
        self.assertFalse(plan["datasets"][0]["examples_checked"])
        self.assertIn("does not check them as RFT examples",
                      [n for n in plan["notes"]
                       if n["code"] == "dataset"][0]["message"])


class Formulas(PlanTest):
    MULTI = {"type": "multi", "name": "mix",
             "graders": {"ex": GRADERS["exact"], "fz": GRADERS["fuzzy"]},
             "calculate_output": "0.6 * ex + 0.4 * fz"}

    def test_a_formula_that_does_not_parse_is_refused_at_its_position(self):
        d = self.start()
        d.ctl("plan", self.write_spec(graders={"mix": self.MULTI}),
              check=True)
        spec = self.write_spec(graders={"mix": dict(
            self.MULTI, calculate_output="0.6 * ex + * fz")})
        for verb in ("plan", "submit"):
            r = d.ctl(verb, spec)
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn('/graders/mix/calculate_output: at character 12 '
                          'of "0.6 * ex + * fz": expected a number, a grader '
                          "key, a function or '(', found '*'", r.stderr)
        self.assertEqual(self.stored_sweeps(d), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
