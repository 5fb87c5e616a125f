"""Sweeps on the simulated backend, end to end: plan, submit, validation,
scheduling limits, retries, control actions, crash recovery, watch and the
read-only views, driven through the real rftd and the real rftctl."""
import collections
import copy
import json
import os
import re
import signal
import sqlite3
import subprocess
import unittest

from harness import CALL_TIMEOUT, DaemonTest, RFTCTL, wait_until

JOB_COLUMNS = ("id", "trial_id", "attempt", "state", "intent_key",
               "remote_id", "created_at", "submitted_at", "finished_at")
Job = collections.namedtuple("Job", JOB_COLUMNS)
TERMINAL_JOB = ("succeeded", "failed", "cancelled", "lost")
TERMINAL_TRIAL = ("succeeded", "failed", "cancelled")

GRADERS = {
    "exact": {"type": "string_check", "name": "exact",
              "input": "{{sample.output_text}}",
              "reference": "{{item.answer}}", "operation": "eq"},
    "fuzzy": {"type": "text_similarity", "name": "fuzzy",
              "input": "{{sample.output_text}}",
              "reference": "{{item.answer}}",
              "evaluation_metric": "fuzzy_match"},
}

# 2 graders x 2 learning rates x 1 seed: four trials.
BASE_SPEC = {
    "name": "test-sweep",
    "backend": "sim",
    "model": "o4-mini-2025-04-16",
    "training_file": "train.jsonl",
    "validation_file": "valid.jsonl",
    "seeds": [1],
    "hyperparameters": {"n_epochs": [1],
                        "learning_rate_multiplier": [0.5, 1.0]},
    "graders": GRADERS,
    "objective": {"metric": "valid_reward_mean", "mode": "max"},
}

# Spec fields of jobs that train long enough, in simulated time, for a
# test to act on them while they run: 15 epochs of 19 steps of 45 s, 3.6
# hours.  A test that needs them to end raises the simulator's speed
# (SweepTest.reconfigure); max_job_hours is far off, since rftd stops a
# job at max_job_hours by the clock, between polls, and at a high speed
# could reach it before a poll showed the job done.
LONG_JOBS = {"hyperparameters": {"n_epochs": [15],
                                 "learning_rate_multiplier": [0.5, 1.0]},
             "max_job_hours": 100}

EXAMPLES = [
    {"messages": [{"role": "user", "content": "What is 2+2?"}],
     "answer": "4"},
    {"messages": [{"role": "user", "content": "What is 3+3?"}],
     "answer": "6"},
]


def sim_backend(name="sim", speed=50000, max_concurrent=4, failure_rate=0):
    return ('[backend "%s"]\ntype = sim\nspeed = %g\nmax_concurrent = %d\n'
            'failure_rate = %g\n' % (name, speed, max_concurrent,
                                     failure_rate))


def max_overlap(intervals):
    """The most intervals [start, end) that hold one instant in common."""
    best = 0
    for start, _ in intervals:
        best = max(best, sum(1 for s, e in intervals if s <= start < e))
    return best


class SweepTest(DaemonTest):
    """A daemon with a fast scheduler tick and a simulated backend, plus
    datasets and spec files in the test's directory."""

    def start(self, backends=None, **sim):
        self.write_datasets(self.tmp)
        self.backends = backends if backends is not None \
            else sim_backend(**sim)
        return self.daemon(daemon_section="tick = 50\n",
                           extra_config=self.backends)

    def reconfigure(self, d, backends):
        """Rewrites the backend sections and waits for the reload."""
        applied = d.read_log().count("reload: configuration applied")
        self.backends = backends
        d.write_config("tick = 50\n", backends)
        d.signal(signal.SIGHUP)
        wait_until(lambda: d.read_log().count(
            "reload: configuration applied") > applied,
            what="the configuration to be reloaded")

    def restart_after_kill(self, d):
        """kill -9, then a new rftd on the same directory and config."""
        d.kill()
        return self.daemon(daemon_section="tick = 50\n",
                           extra_config=self.backends)

    def write_datasets(self, directory, examples=EXAMPLES):
        os.makedirs(directory, exist_ok=True)
        for name in ("train.jsonl", "valid.jsonl"):
            with open(os.path.join(directory, name), "w") as f:
                for e in examples:
                    f.write(json.dumps(e) + "\n")

    def write_spec(self, filename="spec.json", directory=None, **fields):
        """BASE_SPEC with `fields` over it (None removes a key)."""
        spec = copy.deepcopy(BASE_SPEC)
        for key, value in fields.items():
            if value is None:
                spec.pop(key, None)
            else:
                spec[key] = value
        path = os.path.join(directory or self.tmp, filename)
        with open(path, "w") as f:
            json.dump(spec, f, indent=2)
        return path

    def jobs_of(self, d, sweep_id):
        """The job rows of a sweep's trials, oldest first."""
        return [Job(*row) for row in self.rows(
            d, "SELECT %s FROM jobs j"
               " JOIN sweep_trials l ON l.trial_id = j.trial_id"
               " WHERE l.sweep_id = ? ORDER BY j.id"
               % ", ".join("j." + c for c in JOB_COLUMNS), sweep_id)]

    def live_jobs(self, d, sweep_id):
        return [j for j in self.jobs_of(d, sweep_id)
                if j.state not in TERMINAL_JOB]

    def table_counts(self, d):
        return d.ctl_json("status")["tables"]


class Plan(SweepTest):
    def test_plan_prints_trials_and_graders_and_stores_nothing(self):
        d = self.start()
        spec = self.write_spec(
            seeds=[1, 2],
            hyperparameters={"n_epochs": [1, 2],
                             "learning_rate_multiplier": [0.5, 1.0, 2.0]})
        before = self.table_counts(d)
        r = d.ctl("plan", spec)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("24 trials; objective valid_reward_mean (max)",
                      r.stdout)
        self.assertIn("graders: exact (string_check), fuzzy "
                      "(text_similarity)", r.stdout)
        self.assertIn("[simulated]", r.stdout)
        self.assertEqual(self.table_counts(d), before)
        self.assertTrue(all(n == 0 for n in before.values()))

    def test_plan_json_counts_graders_times_grid_times_seeds(self):
        d = self.start()
        spec = self.write_spec(
            seeds=[1, 2],
            hyperparameters={"n_epochs": [1, 2],
                             "learning_rate_multiplier": [0.5, 1.0, 2.0]})
        plan = d.ctl_json("plan", spec)
        self.assertEqual(plan["trials"], 24)
        self.assertEqual([g["name"] for g in plan["graders"]],
                         ["exact", "fuzzy"])
        self.assertTrue(plan["simulated"])
        self.assertEqual(plan["already_stored"], 0)
        # Expansion order: graders, then hyperparameters by name (the last
        # name varies fastest), then seeds innermost.
        first = [(t["grader"],
                  t["hyperparameters"]["learning_rate_multiplier"],
                  t["hyperparameters"]["n_epochs"], t["seed"])
                 for t in plan["preview"][:5]]
        self.assertEqual(first, [("exact", 0.5, 1, 1), ("exact", 0.5, 1, 2),
                                 ("exact", 0.5, 2, 1), ("exact", 0.5, 2, 2),
                                 ("exact", 1.0, 1, 1)])
        self.assertEqual(len({t["sha256"] for t in plan["preview"]}),
                         len(plan["preview"]))
        self.assertEqual(self.rows(d, "SELECT count(*) FROM trials"), [(0,)])


class SpecValidation(SweepTest):
    # (what is wrong, fields over BASE_SPEC, [(JSON path, message part)])
    BAD_SPECS = [
        ("a typo in a top-level key",
         {"hyperparamters": {"n_epochs": [1]}},
         [("/hyperparamters", "unknown key; expected one of: name, "
           "backend")]),
        ("an unknown backend", {"backend": "azure"},
         [("/backend", "'azure' is not a backend of this rftd")]),
        ("a missing training file", {"training_file": "absent.jsonl"},
         [("/training_file", "absent.jsonl': No such file or directory")]),
        ("an epoch count out of range",
         {"hyperparameters": {"n_epochs": [1, 0]}},
         [("/hyperparameters/n_epochs/1", "must be an integer 1..50")]),
        ("a negative learning rate",
         {"hyperparameters": {"learning_rate_multiplier": [-1]}},
         [("/hyperparameters/learning_rate_multiplier/0",
           "must be a number > 0")]),
        ("an unknown hyperparameter",
         {"hyperparameters": {"epochs": [1]}},
         [("/hyperparameters/epochs", "unknown hyperparameter")]),
        ("an unknown string_check operation",
         {"graders": {"exact": dict(GRADERS["exact"], operation="equals")}},
         [("/graders/exact/operation", "must be one of eq, ne, like, ilike")]),
        ("a repeated seed", {"seeds": [1, 1]},
         [("/seeds/1", "repeats an earlier seed")]),
        ("a missing model", {"model": None},
         [("/model", "is required")]),
        ("a bad objective mode",
         {"objective": {"metric": "valid_reward_mean", "mode": "best"}},
         [("/objective/mode", 'must be "max" or "min"')]),
        ("max_concurrent of zero", {"max_concurrent": 0},
         [("/max_concurrent", "must be an integer 1..10000")]),
        ("no graders", {"graders": None}, [("/graders", "is required")]),
        ("several problems at once",
         {"backend": "azure", "retries": -1,
          "hyperparameters": {"n_epochs": [1, 51],
                              "reasoning_effort": "extreme"}},
         [("/backend", "is not a backend of this rftd"),
          ("/retries", "must be an integer 0..100"),
          ("/hyperparameters/n_epochs/1", "must be an integer 1..50"),
          ("/hyperparameters/reasoning_effort",
           "must be one of default, low, medium, high")]),
    ]

    def test_bad_specs_are_refused_with_every_problem_and_nothing_stored(self):
        d = self.start()
        before = self.table_counts(d)
        for what, fields, problems in self.BAD_SPECS:
            with self.subTest(what):
                spec = self.write_spec("bad.json", **fields)
                r = d.ctl("submit", spec)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertIn("%s: the spec has %d problem%s:"
                              % (spec, len(problems),
                                 "" if len(problems) == 1 else "s"),
                              r.stderr)
                for path, message in problems:
                    self.assertRegex(
                        r.stderr, r"(?m)^  %s: .*%s"
                        % (re.escape(path), re.escape(message)))
                self.assertEqual(r.stdout, "")
        self.assertEqual(self.table_counts(d), before)
        for table in ("sweeps", "trials", "sweep_trials", "jobs"):
            self.assertEqual(self.rows(d, "SELECT count(*) FROM " + table),
                             [(0,)], table)

    def test_an_empty_training_file_is_refused(self):
        d = self.start()
        open(os.path.join(self.tmp, "empty.jsonl"), "w").close()
        spec = self.write_spec(training_file="empty.jsonl")
        r = d.ctl("submit", spec)
        self.assertEqual(r.returncode, 1)
        self.assertIn("/training_file: '%s/empty.jsonl' is empty"
                      % os.path.realpath(self.tmp), r.stderr)
        self.assertEqual(self.rows(d, "SELECT count(*) FROM sweeps"), [(0,)])

    def test_a_spec_that_is_not_json_names_file_line_and_column(self):
        d = self.start()
        spec = os.path.join(self.tmp, "broken.json")
        with open(spec, "w") as f:
            f.write('{\n  "name": "x",\n  "backend": sim,\n'
                    '  "model": "m"\n}\n')
        before = self.table_counts(d)
        for verb in ("plan", "submit"):
            with self.subTest(verb):
                r = d.ctl(verb, spec)
                self.assertEqual(r.returncode, 2)
                self.assertEqual(r.stderr.strip(),
                                 "rftctl: %s:3:14: not valid JSON" % spec)
        self.assertEqual(self.table_counts(d), before)

    def test_an_unreadable_spec_file_is_a_usage_error(self):
        d = self.start()
        path = os.path.join(self.tmp, "absent.json")
        r = d.ctl("submit", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn("%s: No such file or directory" % path, r.stderr)


class RunToCompletion(SweepTest):
    def test_submit_runs_every_trial_to_success_with_one_job_each(self):
        d = self.start()
        spec = self.write_spec(seeds=[1, 2])
        sweep_id = self.submit(d, spec)
        sweep = self.wait_for_sweep(d, sweep_id)
        self.assertEqual(len(sweep["trials"]), 8)
        self.assertEqual({t["state"] for t in sweep["trials"]},
                         {"succeeded"})
        self.assertTrue(all(t["attempts"] == 1 for t in sweep["trials"]))
        jobs = self.jobs_of(d, sweep_id)
        self.assertEqual(sorted(j.trial_id for j in jobs),
                         sorted(t["id"] for t in sweep["trials"]))
        self.assertEqual({j.state for j in jobs}, {"succeeded"})
        self.assertIsNotNone(sweep["finished_at"])

    def test_metrics_are_stored_under_canonical_and_per_grader_names(self):
        d = self.start()
        sweep_id = self.submit(d, self.write_spec())
        self.wait_for_sweep(d, sweep_id)
        for job_id, grader in self.rows(
                d, "SELECT j.id, t.grader_name FROM jobs j"
                   " JOIN trials t ON t.id = j.trial_id"):
            names = {n for (n,) in self.rows(
                d, "SELECT DISTINCT name FROM metrics WHERE job_id = ?",
                job_id)}
            self.assertLessEqual(
                {"train_reward_mean", "valid_reward_mean",
                 "grader.%s.train_reward_mean" % grader,
                 "grader.%s.valid_reward_mean" % grader}, names)

    def test_every_trial_gets_its_best_objective_value(self):
        d = self.start()
        sweep_id = self.submit(d, self.write_spec())
        sweep = self.wait_for_sweep(d, sweep_id)
        for t in sweep["trials"]:
            (best, step), = self.rows(
                d, "SELECT max(m.value), m.step FROM metrics m"
                   " JOIN jobs j ON j.id = m.job_id"
                   " WHERE j.trial_id = ? AND m.name = 'valid_reward_mean'",
                t["id"])
            self.assertIsNotNone(t["objective"], t)
            self.assertAlmostEqual(t["objective"], best)
            self.assertEqual(t["best_step"], step)

    def test_leaderboard_ranks_by_objective_descending_for_max(self):
        d = self.start()
        sweep_id = self.submit(d, self.write_spec(seeds=[1, 2]))
        self.wait_for_sweep(d, sweep_id)
        board = d.ctl_json("leaderboard", str(sweep_id))
        objectives = [r["objective"] for r in board["rows"]]
        self.assertEqual(len(objectives), 8)
        self.assertEqual(objectives, sorted(objectives, reverse=True))
        self.assertEqual(board["rows"][0]["rank"], 1)
        self.assertEqual(board["objective_mode"], "max")

    def test_leaderboard_ranks_ascending_for_min(self):
        d = self.start()
        spec = self.write_spec(objective={"metric": "train_reward_mean",
                                          "mode": "min"})
        sweep_id = self.submit(d, spec)
        self.wait_for_sweep(d, sweep_id)
        objectives = [r["objective"] for r in
                      d.ctl_json("leaderboard", str(sweep_id))["rows"]]
        self.assertEqual(len(objectives), 4)
        self.assertEqual(objectives, sorted(objectives))

    def test_leaderboard_limit_caps_the_rows(self):
        d = self.start()
        sweep_id = self.submit(d, self.write_spec(seeds=[1, 2]))
        self.wait_for_sweep(d, sweep_id)
        board = d.ctl_json("leaderboard", str(sweep_id), "--limit", "3")
        self.assertEqual([r["rank"] for r in board["rows"]], [1, 2, 3])

    def test_relative_dataset_paths_are_resolved_against_the_spec_directory(
            self):
        d = self.start()
        project = os.path.join(self.tmp, "project")
        elsewhere = os.path.join(self.tmp, "elsewhere")
        self.write_datasets(os.path.join(project, "data"))
        # A decoy with the same relative name under the working directory.
        self.write_datasets(os.path.join(elsewhere, "data"),
                            examples=EXAMPLES[:1])
        self.write_spec(directory=project, training_file="data/train.jsonl",
                        validation_file="./data/valid.jsonl")
        r = subprocess.run(
            [RFTCTL, "-s", d.socket, "submit", "../project/spec.json"],
            cwd=elsewhere, capture_output=True, text=True,
            timeout=CALL_TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        sweep_id = int(re.match(r"sweep (\d+) ", r.stdout).group(1))
        spec = self.sweep(d, sweep_id)["spec"]
        real = os.path.realpath(project)
        self.assertEqual(os.path.normpath(spec["training_file"]),
                         real + "/data/train.jsonl")
        self.assertEqual(os.path.normpath(spec["validation_file"]),
                         real + "/data/valid.jsonl")
        self.wait_for_sweep(d, sweep_id)

    def test_relative_dataset_paths_ignore_the_working_directory(self):
        d = self.start()
        specs = os.path.join(self.tmp, "specs")
        os.makedirs(specs)
        self.write_spec(directory=specs)
        r = subprocess.run([RFTCTL, "-s", d.socket, "plan", "specs/spec.json"],
                           cwd=self.tmp, capture_output=True, text=True,
                           timeout=CALL_TIMEOUT)
        self.assertEqual(r.returncode, 1)
        self.assertIn("/training_file: cannot read '%s/train.jsonl'"
                      % os.path.realpath(specs), r.stderr)


class Resubmission(SweepTest):
    def test_resubmitting_a_spec_is_refused_because_its_trials_are_stored(
            self):
        d = self.start()
        spec = self.write_spec()
        first = self.submit(d, spec)
        self.wait_for_sweep(d, first)
        before = self.table_counts(d)
        r = d.ctl("submit", spec)
        self.assertEqual(r.returncode, 1)
        self.assertIn("4 of the 4 trials are already stored", r.stderr)
        self.assertIn("reuse", r.stderr)
        self.assertEqual(self.table_counts(d), before)

    def test_plan_counts_the_trials_already_stored(self):
        d = self.start()
        spec = self.write_spec()
        self.wait_for_sweep(d, self.submit(d, spec))
        self.assertEqual(d.ctl_json("plan", spec)["already_stored"], 4)
        self.assertIn("4 of these trials are already stored",
                      d.ctl("plan", spec, check=True).stdout)

    def test_reuse_links_the_stored_trials_without_new_jobs(self):
        d = self.start()
        spec = self.write_spec()
        first = self.submit(d, spec)
        self.wait_for_sweep(d, first)
        jobs = self.rows(d, "SELECT count(*) FROM jobs")
        r = d.ctl("submit", spec, "--reuse", check=True)
        self.assertIn("4 reused from earlier sweeps", r.stdout)
        second = int(re.match(r"sweep (\d+) ", r.stdout).group(1))
        self.assertNotEqual(second, first)
        sweep = self.wait_for_sweep(d, second)
        self.assertEqual(self.rows(d, "SELECT count(*) FROM jobs"), jobs)
        self.assertEqual(
            self.rows(d, "SELECT reused, count(*) FROM sweep_trials"
                         " WHERE sweep_id = ? GROUP BY reused", second),
            [(1, 4)])
        self.assertTrue(all(t["reused"] for t in sweep["trials"]))
        self.assertEqual({t["state"] for t in sweep["trials"]},
                         {"succeeded"})

    def test_reuse_runs_only_the_trials_not_stored_yet(self):
        d = self.start()
        first = self.submit(d, self.write_spec())
        self.wait_for_sweep(d, first)
        wider = self.write_spec("wider.json", seeds=[1, 2])
        second = self.submit(d, wider, "--reuse")
        sweep = self.wait_for_sweep(d, second)
        self.assertEqual(len(sweep["trials"]), 8)
        self.assertEqual(sum(t["reused"] for t in sweep["trials"]), 4)
        self.assertEqual(self.rows(d, "SELECT count(*) FROM jobs"), [(8,)])
        self.assertEqual(self.rows(d, "SELECT count(*) FROM trials"), [(8,)])


class ConcurrencyLimits(SweepTest):
    def test_spec_max_concurrent_is_never_exceeded(self):
        d = self.start(max_concurrent=4)
        spec = self.write_spec(seeds=[1, 2], max_concurrent=2)
        sweep_id = self.submit(d, spec)
        self.wait_for_sweep(d, sweep_id)
        jobs = self.jobs_of(d, sweep_id)
        self.assertEqual(len(jobs), 8)
        # From the intent being handed to the backend to the job's end.
        self.assertEqual(
            max_overlap([(j.submitted_at, j.finished_at) for j in jobs]), 2)

    def test_job_rows_never_show_more_jobs_at_once_than_max_concurrent(self):
        # What `rftctl sql` users see: created_at .. finished_at per job.
        d = self.start(max_concurrent=4)
        spec = self.write_spec(seeds=[1, 2], max_concurrent=2)
        sweep_id = self.submit(d, spec)
        self.wait_for_sweep(d, sweep_id)
        jobs = self.jobs_of(d, sweep_id)
        self.assertLessEqual(
            max_overlap([(j.created_at, j.finished_at) for j in jobs]), 2)

    def test_backend_max_concurrent_holds_across_sweeps(self):
        d = self.start(max_concurrent=1)
        a = self.submit(d, self.write_spec("a.json", name="a"))
        b = self.submit(d, self.write_spec("b.json", name="b", seeds=[2]))
        self.wait_for_sweep(d, a)
        self.wait_for_sweep(d, b)
        jobs = self.rows(d, "SELECT submitted_at, finished_at FROM jobs")
        self.assertEqual(len(jobs), 8)
        self.assertEqual(max_overlap(jobs), 1)

    def test_a_higher_priority_sweep_goes_before_an_earlier_one(self):
        # At speed 1 the first job cannot end before the second sweep is
        # in; then the simulator runs the rest fast.
        d = self.start(max_concurrent=1, speed=1)
        low = self.submit(d, self.write_spec("low.json", name="low"))
        wait_until(lambda: self.jobs_of(d, low), what="the first job")
        high = self.submit(d, self.write_spec("high.json", name="high",
                                              seeds=[2], priority=10))
        self.reconfigure(d, sim_backend(max_concurrent=1, speed=50000))
        self.wait_for_sweep(d, low)
        self.wait_for_sweep(d, high)
        order = [sweep for (sweep,) in self.rows(
            d, "SELECT t.sweep_id FROM jobs j"
               " JOIN trials t ON t.id = j.trial_id ORDER BY j.created_at")]
        self.assertEqual(order, [low] + [high] * 4 + [low] * 3)

    def test_a_sweep_at_its_own_limit_does_not_block_other_sweeps(self):
        # Speed 1: the first sweep's job does not end during the test.
        d = self.start(speed=1, max_concurrent=4)
        # Many pending trials of an earlier sweep that may run one at a time.
        big = self.write_spec(
            "big.json", name="big", graders={"exact": GRADERS["exact"]},
            max_concurrent=1,
            hyperparameters={"n_epochs": [1], "learning_rate_multiplier":
                             [round(0.01 * i, 2) for i in range(1, 601)]})
        first = self.submit(d, big)
        wait_until(lambda: self.jobs_of(d, first), what="the first job")
        second = self.submit(d, self.write_spec("small.json", name="small",
                                                seeds=[2]))
        wait_until(lambda: self.jobs_of(d, second),
                   what="the second sweep to use the free slots")
        self.assertEqual(len(self.jobs_of(d, first)), 1)


class Retries(SweepTest):
    def test_a_failing_trial_gets_retries_plus_one_jobs_then_fails(self):
        d = self.start(failure_rate=1)
        spec = self.write_spec(graders={"exact": GRADERS["exact"]},
                               retries=2)
        sweep_id = self.submit(d, spec)
        sweep = self.wait_for_sweep(d, sweep_id)
        self.assertEqual(len(sweep["trials"]), 2)
        for t in sweep["trials"]:
            self.assertEqual(t["state"], "failed")
            self.assertEqual(t["attempts"], 3)
            jobs = [j for j in self.jobs_of(d, sweep_id)
                    if j.trial_id == t["id"]]
            self.assertEqual([j.attempt for j in jobs], [1, 2, 3])
            self.assertEqual({j.state for j in jobs}, {"failed"})
            self.assertEqual(len({j.intent_key for j in jobs}), 3)
            self.assertEqual(len({j.remote_id for j in jobs}), 3)
            self.assertEqual(
                self.rows(d, "SELECT DISTINCT error FROM jobs"
                             " WHERE trial_id = ?", t["id"]),
                [("simulated failure: the grader timed out",)])

    def test_without_retries_a_failing_trial_has_exactly_one_job(self):
        d = self.start(failure_rate=1)
        sweep_id = self.submit(d, self.write_spec(retries=0))
        sweep = self.wait_for_sweep(d, sweep_id)
        self.assertEqual({t["state"] for t in sweep["trials"]}, {"failed"})
        self.assertEqual(
            self.rows(d, "SELECT trial_id, count(*), max(attempt)"
                         " FROM jobs GROUP BY trial_id ORDER BY trial_id"),
            [(t["id"], 1, 1) for t in sweep["trials"]])


class SweepControl(SweepTest):
    def test_cancel_stops_live_jobs_and_pending_trials(self):
        # Speed 1: the first two jobs are live until the cancel ends them.
        d = self.start(speed=1)
        spec = self.write_spec(seeds=[1, 2], max_concurrent=2)
        sweep_id = self.submit(d, spec)
        wait_until(lambda: len(self.live_jobs(d, sweep_id)) == 2,
                   what="two live jobs")
        r = d.ctl("cancel", "sweep", str(sweep_id), check=True)
        self.assertIn("cancelled (2 jobs affected)", r.stdout)
        wait_until(lambda: not self.live_jobs(d, sweep_id),
                   what="the jobs to end")
        sweep = self.sweep(d, sweep_id)
        self.assertEqual(sweep["state"], "cancelled")
        self.assertEqual({t["state"] for t in sweep["trials"]},
                         {"cancelled"})
        self.assertEqual(sorted(t["attempts"] for t in sweep["trials"]),
                         [0] * 6 + [1] * 2)
        jobs = self.jobs_of(d, sweep_id)
        self.assertEqual([j.state for j in jobs], ["cancelled"] * 2)
        self.assertEqual(
            self.rows(d, "SELECT count(*) FROM sim_jobs"
                         " WHERE control = 'cancelled'"), [(2,)])

    def test_cancel_of_a_cancelled_sweep_exits_1(self):
        d = self.start(speed=1)   # the sweep cannot end before the cancel
        sweep_id = self.submit(d, self.write_spec())
        d.ctl("cancel", str(sweep_id), check=True)
        r = d.ctl("cancel", str(sweep_id))
        self.assertEqual(r.returncode, 1)
        self.assertIn("sweep %d has ended" % sweep_id, r.stderr)

    def test_cancel_of_a_completed_sweep_exits_1_and_changes_nothing(self):
        d = self.start()
        sweep_id = self.submit(d, self.write_spec())
        self.wait_for_sweep(d, sweep_id)
        r = d.ctl("cancel", "sweep", str(sweep_id))
        self.assertEqual(r.returncode, 1)
        self.assertIn("sweep %d has ended" % sweep_id, r.stderr)
        self.assertEqual(self.sweep(d, sweep_id)["state"], "completed")

    def test_a_paused_sweep_admits_no_jobs_and_resumes_to_completion(self):
        # Jobs that train for minutes of real time at speed 200 (after at
        # most 5 s of validation and queueing): none ends before the test
        # lets it, by raising the speed.
        d = self.start(speed=200, max_concurrent=2)
        paused = self.submit(d, self.write_spec("a.json", name="a",
                                                priority=10, **LONG_JOBS))
        wait_until(lambda: len(self.live_jobs(d, paused)) == 2,
                   what="two live jobs")
        r = d.ctl("pause", str(paused), check=True)
        self.assertIn("paused", r.stdout)
        # Its jobs pause once they run (queued ones run first).
        wait_until(lambda: len(d.ctl_json("jobs", "--sweep", str(paused),
                                          "--state", "paused")["jobs"]) == 2,
                   what="both jobs to be paused")
        sweep = self.sweep(d, paused)
        self.assertEqual(sweep["state"], "paused")
        self.assertEqual(sorted(t["state"] for t in sweep["trials"]),
                         ["paused", "paused", "pending", "pending"])
        # Free slots go to a running sweep of lower priority, not to the
        # paused one.
        other = self.submit(d, self.write_spec("b.json", name="b",
                                               seeds=[2], **LONG_JOBS))
        self.reconfigure(d, sim_backend(speed=200, max_concurrent=4))
        wait_until(lambda: len(self.jobs_of(d, other)) == 2,
                   what="the other sweep to get the free slots")
        self.assertEqual(len(self.jobs_of(d, paused)), 2)
        r = d.ctl("resume", "sweep", str(paused), check=True)
        self.assertIn("running (2 jobs affected)", r.stdout)
        self.assertEqual(d.ctl_json("jobs", "--sweep", str(paused),
                                    "--state", "paused")["jobs"], [])
        self.reconfigure(d, sim_backend(speed=50000, max_concurrent=4))
        sweep = self.wait_for_sweep(d, paused)
        self.assertEqual({t["state"] for t in sweep["trials"]},
                         {"succeeded"})
        self.assertEqual([j.state for j in self.jobs_of(d, paused)],
                         ["succeeded"] * 4)
        self.wait_for_sweep(d, other)

    def test_a_job_running_past_max_job_hours_is_cancelled(self):
        # At speed 200 the job would need 11 s more of real time to end.
        d = self.start(speed=200)
        spec = self.write_spec(graders={"exact": GRADERS["exact"]},
                               hyperparameters={"n_epochs": [3]},
                               max_job_hours=0.1)
        sweep_id = self.submit(d, spec, "--yes")  # the plan warns of it
        sweep = self.wait_for_sweep(d, sweep_id)
        self.assertEqual(sweep["trials"][0]["state"], "cancelled")
        job_id, = [j.id for j in self.jobs_of(d, sweep_id)]
        job = d.ctl_json("job", "show", str(job_id))
        self.assertEqual(job["state"], "cancelled")
        self.assertIn("running -> cancelling: reached max_job_hours (0.1 h)",
                      [e["message"] for e in job["events"]])
        # Stopped well before its 3 epochs (57 steps of 45 s) were done.
        self.assertGreater(job["billed_seconds"], 360)
        self.assertLess(job["billed_seconds"], 57 * 45)


class JobControl(SweepTest):
    def running_job(self, d):
        """Submits a one-trial sweep; returns (sweep id, job id) once its
        job runs.  At speed 300 it trains for 40 s of real time."""
        sweep_id = self.submit(d, self.write_spec(
            graders={"exact": GRADERS["exact"]},
            max_job_hours=LONG_JOBS["max_job_hours"],
            hyperparameters=dict(LONG_JOBS["hyperparameters"],
                                 learning_rate_multiplier=[1.0])))
        wait_until(lambda: self.job_state(d, sweep_id) == "running",
                   what="the job to run")
        return sweep_id, self.jobs_of(d, sweep_id)[0].id

    def job_state(self, d, sweep_id):
        jobs = self.jobs_of(d, sweep_id)
        return jobs[0].state if jobs else None

    def trial_state(self, d, sweep_id):
        return self.sweep(d, sweep_id)["trials"][0]["state"]

    def events(self, d, job_id):
        return [e["message"] for e in
                d.ctl_json("job", "show", str(job_id))["events"]]

    def test_pausing_a_running_job_pauses_it_and_its_trial(self):
        d = self.start(speed=300)
        sweep_id, job_id = self.running_job(d)
        r = d.ctl("pause", "job", str(job_id), check=True)
        self.assertEqual(r.stdout, "job %d: paused\n" % job_id)
        self.assertEqual([j["id"] for j in d.ctl_json(
            "jobs", "--state", "paused")["jobs"]], [job_id])
        self.assertEqual(self.trial_state(d, sweep_id), "paused")
        self.assertEqual(self.sweep(d, sweep_id)["state"], "running")
        self.assertEqual(self.events(d, job_id)[-2:],
                         ["running -> pausing: paused by the user",
                          "pausing -> paused"])

    def test_pausing_a_paused_job_exits_1(self):
        d = self.start(speed=300)
        _, job_id = self.running_job(d)
        d.ctl("pause", "job", str(job_id), check=True)
        r = d.ctl("pause", "job", str(job_id))
        self.assertEqual(r.returncode, 1)
        self.assertIn("job %d is paused; only a running job can be paused"
                      % job_id, r.stderr)

    def test_resuming_a_paused_job_runs_it_to_the_end(self):
        d = self.start(speed=300)
        sweep_id, job_id = self.running_job(d)
        d.ctl("pause", "job", str(job_id), check=True)
        d.ctl("resume", "job", str(job_id), check=True)
        self.assertIn("paused -> queued: resumed", self.events(d, job_id))
        wait_until(lambda: self.job_state(d, sweep_id) == "running",
                   what="the job to run again")
        self.assertEqual(self.trial_state(d, sweep_id), "running")
        self.reconfigure(d, sim_backend(speed=50000))
        self.wait_for_sweep(d, sweep_id)
        self.assertEqual(self.job_state(d, sweep_id), "succeeded")

    def test_resuming_a_running_job_exits_1(self):
        d = self.start(speed=300)
        _, job_id = self.running_job(d)
        r = d.ctl("resume", "job", str(job_id))
        self.assertEqual(r.returncode, 1)
        self.assertIn("job %d is running, not paused" % job_id, r.stderr)

    def test_cancelling_a_job_ends_it_and_its_trial(self):
        d = self.start(speed=300)
        sweep_id, job_id = self.running_job(d)
        r = d.ctl("cancel", "job", str(job_id), check=True)
        self.assertEqual(r.stdout, "job %d: cancelled\n" % job_id)
        self.assertEqual(self.trial_state(d, sweep_id), "cancelled")
        self.assertEqual(self.events(d, job_id)[-2:],
                         ["running -> cancelling: cancelled by the user",
                          "cancelling -> cancelled"])
        r = d.ctl("cancel", "job", str(job_id))
        self.assertEqual(r.returncode, 1)
        self.assertIn("job %d has ended (cancelled)" % job_id, r.stderr)


class CrashRecovery(SweepTest):
    def assert_each_job_ran_once(self, d, sweep_id):
        trials = self.rows(
            d, "SELECT t.id, t.state, t.attempts FROM trials t"
               " JOIN sweep_trials l ON l.trial_id = t.id"
               " WHERE l.sweep_id = ?", sweep_id)
        jobs = self.jobs_of(d, sweep_id)
        for trial_id, state, attempts in trials:
            mine = [j for j in jobs if j.trial_id == trial_id]
            self.assertIn(state, TERMINAL_TRIAL)
            self.assertEqual([j.attempt for j in mine],
                             list(range(1, attempts + 1)), trial_id)
            if state == "succeeded":
                self.assertEqual(
                    [j.state for j in mine].count("succeeded"), 1)
        self.assertTrue(all(j.state in TERMINAL_JOB for j in jobs))
        keys = [j.intent_key for j in jobs]
        self.assertEqual(len(set(keys)), len(keys))
        remote = [j.remote_id for j in jobs if j.remote_id is not None]
        self.assertEqual(len(set(remote)), len(remote))
        # The simulator holds exactly the jobs that rftd knows it submitted.
        self.assertEqual(
            sorted(self.rows(d, "SELECT remote_id, intent_key"
                                " FROM sim_jobs")),
            sorted((j.remote_id, j.intent_key) for j in jobs if j.remote_id))

    def test_kill_9_mid_sweep_and_restart_runs_every_trial_once(self):
        d = self.start(speed=2000, max_concurrent=4)
        sweep_id = self.submit(d, self.write_spec(seeds=[1, 2]))
        # First while the first jobs end, then during the second wave.
        wait_until(lambda: any(j.state == "succeeded"
                               for j in self.jobs_of(d, sweep_id)),
                   what="a first job to end")
        d = self.restart_after_kill(d)
        wait_until(lambda: len(self.jobs_of(d, sweep_id)) >= 6,
                   what="six jobs")
        d = self.restart_after_kill(d)
        sweep = self.wait_for_sweep(d, sweep_id)
        self.assertEqual({t["state"] for t in sweep["trials"]},
                         {"succeeded"})
        self.assertEqual(len(self.jobs_of(d, sweep_id)), 8)
        self.assert_each_job_ran_once(d, sweep_id)

    def test_kill_9_right_after_submit_and_restart_completes(self):
        d = self.start(speed=50000, max_concurrent=4)
        sweep_id = self.submit(d, self.write_spec(seeds=[1, 2]))
        d = self.restart_after_kill(d)
        sweep = self.wait_for_sweep(d, sweep_id)
        self.assertEqual({t["state"] for t in sweep["trials"]},
                         {"succeeded"})
        self.assert_each_job_ran_once(d, sweep_id)

    def test_kill_9_while_retrying_keeps_the_attempts_in_order(self):
        d = self.start(speed=50000, failure_rate=1)
        sweep_id = self.submit(d, self.write_spec(
            graders={"exact": GRADERS["exact"]}, retries=2))
        wait_until(lambda: len(self.jobs_of(d, sweep_id)) >= 3,
                   what="a retry")
        d = self.restart_after_kill(d)
        sweep = self.wait_for_sweep(d, sweep_id)
        self.assertEqual([t["attempts"] for t in sweep["trials"]], [3, 3])
        self.assertEqual(len(self.jobs_of(d, sweep_id)), 6)
        self.assert_each_job_ran_once(d, sweep_id)


class Watch(SweepTest):
    def test_watch_prints_trial_changes_and_exits_when_the_sweep_ends(self):
        d = self.start(speed=2000)
        sweep_id = self.submit(d, self.write_spec())
        r = d.ctl("watch", str(sweep_id), "--interval", "0.1")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertRegex(lines[0], r'^\d\d:\d\d:\d\d watching sweep %d '
                                   r'"test-sweep" \[simulated\]: 4 trials$'
                         % sweep_id)
        self.assertRegex(lines[-1], r"^\d\d:\d\d:\d\d sweep %d completed: "
                                    r"\[completed\] 4/4 done \(0 failed\)"
                         % sweep_id)
        changes = {}
        for line in lines[1:-1]:
            m = re.match(r"^\d\d:\d\d:\d\d trial (\d+) \[.*\] (\w+) -> (\w+)",
                         line)
            self.assertIsNotNone(m, line)
            changes.setdefault(int(m.group(1)), []).append(m.group(2, 3))
        self.assertEqual(len(changes), 4)
        for moves in changes.values():
            self.assertEqual(moves[0][0], "new", moves)
            self.assertEqual(moves[-1][1], "succeeded", moves)
            for (_, to), (frm, _) in zip(moves, moves[1:]):
                self.assertEqual(frm, to, moves)   # one line per change

    def test_watch_without_a_running_sweep_exits_1(self):
        d = self.start()
        r = d.ctl("watch")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no sweep is running", r.stderr)

    def test_watch_without_an_id_follows_the_running_sweep(self):
        d = self.start(speed=2000)
        sweep_id = self.submit(d, self.write_spec())
        r = d.ctl("watch", "--interval", "0.1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("watching sweep %d " % sweep_id, r.stdout)
        self.assertIn("sweep %d completed" % sweep_id, r.stdout)


class Views(SweepTest):
    def test_job_show_has_state_events_and_a_metrics_summary(self):
        d = self.start()
        sweep_id = self.submit(d, self.write_spec())
        self.wait_for_sweep(d, sweep_id)
        job_id = self.jobs_of(d, sweep_id)[0].id
        job = d.ctl_json("job", "show", str(job_id))
        self.assertEqual(job["state"], "succeeded")
        self.assertRegex(job["remote_id"], r"^simjob-[0-9a-f]{24}$")
        self.assertTrue(job["fine_tuned_model"].startswith(
            "ft:o4-mini-2025-04-16:sim::"))
        messages = [e["message"] for e in job["events"]]
        self.assertEqual(messages[0], "submitted")
        self.assertTrue(messages[1].startswith("submitting -> "), messages)
        self.assertTrue(messages[-1].endswith("-> succeeded"), messages)
        self.assertEqual({e["type"] for e in job["events"]}, {"state"})
        metrics = {m["name"]: m for m in job["metrics"]}
        train = metrics["train_reward_mean"]
        self.assertGreater(train["points"], 1)
        self.assertLessEqual(train["min"], train["last"])
        self.assertLessEqual(train["last"], train["max"])
        self.assertEqual(metrics["valid_reward_mean"]["last_step"],
                         train["last_step"])
        text = d.ctl("job", "show", str(job_id), check=True).stdout
        self.assertIn("succeeded [simulated]", text)
        self.assertIn("train_reward_mean", text)

    def test_jobs_filters_by_sweep_and_state(self):
        d = self.start(backends=sim_backend() + sim_backend(
            "flaky", failure_rate=1))
        good = self.submit(d, self.write_spec("good.json"))
        bad = self.submit(d, self.write_spec("bad.json", backend="flaky"))
        self.wait_for_sweep(d, good)
        self.wait_for_sweep(d, bad)
        jobs = d.ctl_json("jobs", "--sweep", str(good), "--state",
                          "succeeded")["jobs"]
        self.assertEqual(len(jobs), 4)
        self.assertEqual({(j["sweep_id"], j["state"]) for j in jobs},
                         {(good, "succeeded")})
        self.assertEqual(d.ctl_json("jobs", "--sweep", str(bad), "--state",
                                    "succeeded")["jobs"], [])
        failed = d.ctl_json("jobs", "--state", "failed")["jobs"]
        self.assertEqual({(j["sweep_id"], j["backend"]) for j in failed},
                         {(bad, "flaky")})
        self.assertEqual(len(d.ctl_json("jobs")["jobs"]), 8)

    def test_jobs_limit_returns_at_most_that_many_newest_first(self):
        d = self.start()
        sweep_id = self.submit(d, self.write_spec())
        self.wait_for_sweep(d, sweep_id)
        jobs = d.ctl_json("jobs", "--limit", "2")["jobs"]
        newest = [j for (j,) in self.rows(
            d, "SELECT id FROM jobs ORDER BY id DESC LIMIT 2")]
        self.assertEqual([j["id"] for j in jobs], newest)

    def test_everything_on_the_sim_backend_is_marked_simulated(self):
        d = self.start()
        r = d.ctl("submit", self.write_spec(), check=True)
        self.assertTrue(r.stdout.rstrip().endswith("(simulated)"), r.stdout)
        sweep_id = int(re.match(r"sweep (\d+) ", r.stdout).group(1))
        self.wait_for_sweep(d, sweep_id)
        self.assertIn("sim [simulated]", d.ctl("sweeps", check=True).stdout)
        self.assertIn("[simulated]",
                      d.ctl("sweep", "show", str(sweep_id),
                            check=True).stdout.splitlines()[0])
        self.assertIn("[simulated]",
                      d.ctl("leaderboard", str(sweep_id),
                            check=True).stdout.splitlines()[0])
        self.assertIn("sim [simulated]", d.ctl("jobs", check=True).stdout)
        self.assertTrue(all(s["simulated"] is True for s in
                            d.ctl_json("sweeps")["sweeps"]))
        self.assertIs(self.sweep(d, sweep_id)["simulated"], True)
        self.assertTrue(all(j["simulated"] is True for j in
                            d.ctl_json("jobs")["jobs"]))
        self.assertEqual(self.rows(d, "SELECT DISTINCT simulated FROM jobs"),
                         [(1,)])
        self.assertEqual(
            self.rows(d, "SELECT DISTINCT simulated FROM sweeps"), [(1,)])

    def test_sweeps_lists_state_counts_and_best(self):
        d = self.start()
        sweep_id = self.submit(d, self.write_spec())
        self.wait_for_sweep(d, sweep_id)
        s, = d.ctl_json("sweeps")["sweeps"]
        self.assertEqual((s["id"], s["name"], s["state"], s["trials"]),
                         (sweep_id, "test-sweep", "completed", 4))
        self.assertEqual(s["counts"], {"succeeded": 4})
        board = d.ctl_json("leaderboard", str(sweep_id))
        self.assertAlmostEqual(s["best"], board["rows"][0]["objective"])


class Errors(SweepTest):
    def test_jobs_with_an_unknown_state_lists_the_states(self):
        d = self.start()
        r = d.ctl("jobs", "--state", "bogus")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not a job state (pending, submitting, validating, "
                      "queued, running, pausing, paused, cancelling, "
                      "succeeded, failed, cancelled, unknown, lost)",
                      r.stderr)

    def test_showing_an_unknown_sweep_exits_1(self):
        d = self.start()
        r = d.ctl("sweep", "show", "999")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no sweep 999", r.stderr)

    def test_unknown_ids_exit_1_naming_what_is_missing(self):
        d = self.start()
        for args, message in ((("job", "show", "999"), "no job 999"),
                              (("leaderboard", "999"), "no sweep 999"),
                              (("pause", "999"), "no sweep 999"),
                              (("cancel", "job", "999"), "no job 999")):
            with self.subTest(args):
                r = d.ctl(*args)
                self.assertEqual(r.returncode, 1)
                self.assertIn(message, r.stderr)

    def test_a_bad_id_or_target_is_a_usage_error(self):
        d = self.start()
        for args in (("sweep", "show", "x"), ("cancel", "trial", "1"),
                     ("pause", "job", "0")):
            with self.subTest(args):
                self.assertEqual(d.ctl(*args).returncode, 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
