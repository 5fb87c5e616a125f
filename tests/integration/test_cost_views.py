"""Cost in every view, end to end: what each trial, job and sweep cost in
rftctl's leaderboard, sweeps, sweep show, jobs, job show, budget and
export, and in the leaderboard SQL view; reward per dollar and ranking by
it; the model to use (a fine-tuned model, or a checkpoint's); simulated
dollars marked as such.  Driven through the real rftd and the real
rftctl, on the simulated backend and on a process backend.
"""
import csv
import io
import json
import math
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_process  # noqa: E402
import test_sweeps  # noqa: E402

# One grader, 1 or 3 epochs, two learning rates: four trials whose cost
# differs threefold, so that the best objective is not the best value.
EPOCHS_SPEC = {"graders": {"exact": test_sweeps.GRADERS["exact"]},
               "hyperparameters": {"n_epochs": [1, 3],
                                   "learning_rate_multiplier": [0.5, 1.0]}}


class SimCost(test_sweeps.SweepTest):
    """Sweeps on the simulator: every dollar is simulated."""

    def run_sweep(self, d, **fields):
        sweep_id = self.submit(d, self.write_spec(**fields))
        self.wait_for_sweep(d, sweep_id)
        return sweep_id

    def trial_costs(self, d, sweep_id):
        return dict(self.rows(
            d, "SELECT j.trial_id, sum(j.cost_usd) FROM jobs j"
               " JOIN sweep_trials l ON l.trial_id = j.trial_id"
               " WHERE l.sweep_id = ? GROUP BY j.trial_id", sweep_id))

    def sweep_spent(self, d, sweep_id):
        (usd,), = self.rows(
            d, "SELECT sum(amount_usd) FROM ledger WHERE scope = ?"
               " AND kind IN ('accrue', 'settle')", "sweep:%d" % sweep_id)
        return usd

    def test_leaderboard_rows_carry_cost_reward_per_dollar_and_model(self):
        d = self.start()
        sweep_id = self.run_sweep(d)
        costs = self.trial_costs(d, sweep_id)
        models = dict(self.rows(
            d, "SELECT trial_id, fine_tuned_model FROM jobs"
               " WHERE state = 'succeeded'"))
        board = d.ctl_json("leaderboard", str(sweep_id))
        self.assertEqual(board["by"], "objective")
        self.assertEqual(len(board["rows"]), 4)
        for row in board["rows"]:
            trial = row["trial_id"]
            self.assertGreater(costs[trial], 0)
            self.assertAlmostEqual(row["cost_usd"], costs[trial], places=9)
            self.assertAlmostEqual(row["reward_per_usd"],
                                   row["objective"] / costs[trial],
                                   places=12)
            self.assertTrue(models[trial].startswith("ft:"), models)
            self.assertEqual(row["model"], models[trial])
            self.assertEqual(row["model_source"], "fine_tuned_model")

    def test_leaderboard_text_marks_simulated_dollars_and_names_models(self):
        d = self.start()
        sweep_id = self.run_sweep(d)
        board = d.ctl_json("leaderboard", str(sweep_id))
        lines = d.ctl("leaderboard", str(sweep_id),
                      check=True).stdout.splitlines()
        self.assertIn("COST", lines[1])
        self.assertIn("REWARD/$", lines[1])
        self.assertIn("MODEL", lines[1])
        for row, line in zip(board["rows"], lines[2:]):
            self.assertIn("sim$%.2f" % row["cost_usd"], line)
            self.assertIn(row["model"], line)

    def test_leaderboard_by_value_ranks_by_reward_per_dollar(self):
        d = self.start()
        sweep_id = self.run_sweep(d, **EPOCHS_SPEC)
        by_objective = d.ctl_json("leaderboard", str(sweep_id))["rows"]
        board = d.ctl_json("leaderboard", str(sweep_id), "--by", "value")
        self.assertEqual(board["by"], "value")
        rows = board["rows"]
        values = [r["reward_per_usd"] for r in rows]
        self.assertEqual(len(values), 4)
        self.assertEqual(values, sorted(values, reverse=True))
        self.assertEqual([r["rank"] for r in rows], [1, 2, 3, 4])
        # The cheap one-epoch trials give more reward per dollar, though
        # three epochs reach a higher objective: the orders differ.
        self.assertEqual(
            [r["objective"] for r in by_objective],
            sorted((r["objective"] for r in by_objective), reverse=True))
        self.assertNotEqual([r["trial_id"] for r in rows],
                            [r["trial_id"] for r in by_objective])
        self.assertTrue(
            d.ctl("leaderboard", str(sweep_id), "--by", "value",
                  check=True).stdout.splitlines()[0].endswith(
                      ", ranked by reward per dollar"))

    def test_by_value_for_a_min_objective_is_one_over_objective_times_cost(
            self):
        d = self.start()
        sweep_id = self.run_sweep(
            d, objective={"metric": "valid_reward_mean", "mode": "min"},
            **EPOCHS_SPEC)
        costs = self.trial_costs(d, sweep_id)
        rows = d.ctl_json("leaderboard", str(sweep_id), "--by",
                          "value")["rows"]
        self.assertEqual(len(rows), 4)
        for r in rows:
            self.assertAlmostEqual(
                r["reward_per_usd"],
                1 / (r["objective"] * costs[r["trial_id"]]), places=12)
        values = [r["reward_per_usd"] for r in rows]
        self.assertEqual(values, sorted(values, reverse=True))
        self.assertIn("VALUE/$", d.ctl("leaderboard", str(sweep_id), "--by",
                                       "value", check=True).stdout)

    def test_limit_applies_to_the_ranking_by_value(self):
        d = self.start()
        sweep_id = self.run_sweep(d, **EPOCHS_SPEC)
        every = d.ctl_json("leaderboard", str(sweep_id), "--by", "value")
        two = d.ctl_json("leaderboard", str(sweep_id), "--by", "value",
                         "--limit", "2")
        self.assertEqual(two["rows"], every["rows"][:2])

    def test_an_unknown_ranking_is_refused_naming_the_flag(self):
        d = self.start()
        sweep_id = self.run_sweep(d)
        r = d.ctl("leaderboard", str(sweep_id), "--by", "cheapest")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--by: 'cheapest' is not objective or value", r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertEqual(d.ctl("sweeps", "--by", "value").returncode, 2)
        c = d.connect()
        try:
            for by in ("cheapest", 1, None):
                with self.subTest(by=by):
                    reply = c.call("sweep.leaderboard",
                                   {"id": sweep_id, "by": by})
                    self.assertEqual(reply["error"]["code"], -32602)
                    self.assertIn("/params/by: must be objective or value",
                                  reply["error"]["message"])
        finally:
            c.close()

    def test_sweeps_and_sweep_show_say_what_the_sweep_spent(self):
        d = self.start()
        sweep_id = self.run_sweep(d, budget_usd=1000)
        spent = self.sweep_spent(d, sweep_id)
        self.assertGreater(spent, 0)
        s, = d.ctl_json("sweeps")["sweeps"]
        self.assertAlmostEqual(s["spent_usd"], spent, places=9)
        self.assertIn("sim$%.2f" % spent, d.ctl("sweeps", check=True).stdout)
        sweep = self.sweep(d, sweep_id)
        self.assertAlmostEqual(sweep["spent_usd"], spent, places=9)
        costs = self.trial_costs(d, sweep_id)
        for t in sweep["trials"]:
            self.assertAlmostEqual(t["cost_usd"], costs[t["id"]], places=9)
        text = d.ctl("sweep", "show", str(sweep_id), check=True).stdout
        self.assertIn("spent sim$%.2f of its budget_usd sim$1000.00"
                      % spent, text.splitlines()[2])
        self.assertIn("sim$%.2f" % costs[sweep["trials"][0]["id"]],
                      text.splitlines()[5])

    def test_jobs_and_job_show_say_what_each_job_cost(self):
        d = self.start()
        self.run_sweep(d)
        cost = dict(self.rows(d, "SELECT id, cost_usd FROM jobs"))
        jobs = d.ctl_json("jobs")["jobs"]
        self.assertEqual(len(jobs), 4)
        for j in jobs:
            self.assertGreater(j["cost_usd"], 0)
            self.assertAlmostEqual(j["cost_usd"], cost[j["id"]], places=9)
        text = d.ctl("jobs", check=True).stdout.splitlines()
        self.assertIn("COST", text[0])
        self.assertIn("sim$%.2f" % jobs[0]["cost_usd"], text[1])
        job = d.ctl_json("job", "show", "1")
        self.assertEqual(job["cost_quality"], "estimated")
        self.assertIn("  cost             sim$%.2f (estimated: training "
                      "hours x rate)\n" % cost[1],
                      d.ctl("job", "show", "1", check=True).stdout)

    def test_budget_lists_every_sweep_that_spent_with_or_without_a_limit(
            self):
        d = self.start()
        limited = self.run_sweep(d, budget_usd=1000)
        free = self.run_sweep(d, filename="free.json", name="free",
                              seeds=[7])
        scopes = {s["scope"]: s for s in d.ctl_json("budget")["scopes"]}
        for sweep_id, name, limit in ((limited, "test-sweep", 1000),
                                      (free, "free", None)):
            with self.subTest(sweep=sweep_id):
                s = scopes["sweep:%d" % sweep_id]
                self.assertEqual(s["sweep_id"], sweep_id)
                self.assertEqual(s["name"], name)
                self.assertIs(s["simulated"], True)
                self.assertEqual(s["limit_usd"], limit)
                self.assertGreater(s["spent_usd"], 0)
                self.assertAlmostEqual(s["spent_usd"],
                                       self.sweep_spent(d, sweep_id),
                                       places=9)
        text = d.ctl("budget", check=True).stdout
        line, = [x for x in text.splitlines()
                 if x.startswith("sweep:%d " % free)]
        self.assertIn("sim$%.2f" % scopes["sweep:%d" % free]["spent_usd"],
                      line)
        self.assertTrue(line.rstrip().endswith(" free"), line)
        self.assertIn("sim$: simulated dollars", text)

    def test_export_and_the_sql_view_carry_cost_value_and_model(self):
        d = self.start()
        sweep_id = self.run_sweep(d)
        board = {r["trial_id"]: r for r in
                 d.ctl_json("leaderboard", str(sweep_id))["rows"]}
        exported = list(csv.DictReader(io.StringIO(
            d.ctl("export", str(sweep_id), check=True).stdout)))
        self.assertEqual(len(exported), 4)
        viewed = self.rows(
            d, "SELECT trial_id, cost_usd, reward_per_usd, model,"
               " model_source, simulated FROM leaderboard"
               " WHERE sweep_id = ? ORDER BY trial_id", sweep_id)
        for row, view in zip(exported, viewed):
            want = board[int(row["trial_id"])]
            self.assertEqual(view[0], want["trial_id"])
            self.assertAlmostEqual(float(row["cost_usd"]), want["cost_usd"])
            self.assertAlmostEqual(view[1], want["cost_usd"], places=9)
            self.assertAlmostEqual(float(row["reward_per_usd"]),
                                   want["reward_per_usd"])
            self.assertAlmostEqual(view[2], want["reward_per_usd"],
                                   places=12)
            self.assertEqual((row["model"], row["model_source"]),
                             (want["model"], "fine_tuned_model"))
            self.assertEqual(view[3:5], (want["model"], "fine_tuned_model"))
            self.assertEqual((row["simulated"], view[5]), ("1", 1))
        jsonl = [json.loads(x) for x in d.ctl(
            "export", str(sweep_id), "--format", "jsonl",
            check=True).stdout.splitlines()]
        self.assertEqual({r["model"] for r in jsonl},
                         {r["model"] for r in board.values()})

    def test_a_trial_that_cost_nothing_has_no_reward_per_dollar(self):
        d = self.start(backends=test_sweeps.sim_backend()
                       + '[price "sim/*"]\nper_training_hour = 0\n')
        sweep_id = self.run_sweep(d)
        rows = d.ctl_json("leaderboard", str(sweep_id), "--by",
                          "value")["rows"]
        self.assertEqual(len(rows), 4)
        self.assertEqual({(r["cost_usd"], r["reward_per_usd"])
                          for r in rows}, {(0, None)})
        # Without a value, the objective decides.
        self.assertEqual([r["objective"] for r in rows],
                         sorted((r["objective"] for r in rows),
                                reverse=True))
        self.assertEqual(self.rows(
            d, "SELECT DISTINCT reward_per_usd FROM leaderboard"
               " WHERE sweep_id = ?", sweep_id), [(None,)])


class CheckpointModel(test_process.ProcessTest):
    """A process backend leaves no fine-tuned model: the leaderboard
    names a checkpoint instead, in real (not simulated) dollars."""

    TRAINER = (
        "import json, os, sys\n"
        "ckdir = os.environ['RFTD_CHECKPOINT_DIR']\n"
        "m = open(os.environ['RFTD_METRICS'], 'a')\n"
        "def line(step, value, ckpt):\n"
        "    rec = {'step': step, 'metrics': {'valid_reward_mean': value,\n"
        "                                     'train_reward_mean': value}}\n"
        "    if ckpt:\n"
        "        os.makedirs(os.path.join(ckdir, ckpt))\n"
        "        rec['checkpoint'] = ckpt\n"
        "    m.write(json.dumps(rec) + '\\n')\n"
        "    m.flush()\n"
        "# The best value comes first; with 'best' it has a checkpoint.\n"
        "line(1, 0.9, 'ck-1' if sys.argv[1] == 'best' else None)\n"
        "line(2, 0.1, 'ck-2')\n")

    def test_the_best_steps_checkpoint_else_the_latest_is_the_model(self):
        script = os.path.join(self.tmp, "ckpt.py")
        with open(script, "w") as f:
            f.write(self.TRAINER)
        d = self.start(command="/usr/bin/python3 %s {at}" % script)
        sweep_id = self.submit(d, self.write_spec(
            hyperparameters={"at": ["best", "latest"]}))
        sweep = self.wait_for_sweep(d, sweep_id)
        self.assertEqual([t["state"] for t in sweep["trials"]],
                         ["succeeded"] * 2)
        rows = {r["hyperparameters"]["at"]: r for r in
                d.ctl_json("leaderboard", str(sweep_id))["rows"]}
        for at, checkpoint in (("best", "ck-1"), ("latest", "ck-2")):
            with self.subTest(at=at):
                r = rows[at]
                self.assertEqual(r["best_step"], 1)
                self.assertEqual(r["model_source"], "checkpoint")
                self.assertTrue(r["model"].endswith(
                    os.path.join("checkpoints", checkpoint)), r["model"])
        text = d.ctl("leaderboard", str(sweep_id), check=True).stdout
        self.assertIn(rows["best"]["model"], text)
        self.assertNotIn("sim$", text)
        # A run of a second or so costs a fraction of a cent: two
        # significant digits of it are shown, never $0.00.
        cost = rows["best"]["cost_usd"]
        self.assertGreater(cost, 0)
        self.assertNotIn("$0.00 ", text)
        self.assertIn("$%.*f" % (min(9, 1 - math.floor(math.log10(cost)))
                                 if cost < 0.01 else 2, cost), text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
