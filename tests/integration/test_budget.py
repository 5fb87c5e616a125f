"""Money, end to end: the bill before a sweep, pricing, admission by
reservation, the spend meter and its ledger, budget limits and what they
stop, provider pauses, and restarts, driven through the real rftd and the
real rftctl on the simulated backend.

The simulator bills training time: a job of one epoch trains 855
simulated seconds (19 steps of 45 s), which at the built-in $100 an hour
costs $23.75.  With speed S, a real second is S simulated seconds, so the
promise "spend <= limit + rate x (tick + cancel latency)" reads here with
(tick + cancel latency) scaled by S.
"""
import collections
import copy
import json
import os
import re
import signal
import sqlite3
import time
import unittest

from harness import LONG_WAIT, DaemonTest, wait_until

RATE = 100.0                  # USD per training hour: the sim's built-in
TICK_S = 0.05                 # [daemon] tick = 50
CANCEL_LATENCY_S = 0.2        # [budget] cancel_latency
JOB_SECONDS = 19 * 45.0       # one epoch, batch 16: 19 steps of 45 s
JOB_USD = RATE * JOB_SECONDS / 3600  # $23.75

JOB_COLUMNS = ("id", "trial_id", "state", "billed_seconds", "cost_usd",
               "rate_usd_per_hour", "reserved_usd", "budget_paused")
Job = collections.namedtuple("Job", JOB_COLUMNS)
TERMINAL_JOB = ("succeeded", "failed", "cancelled", "lost")

EXACT = {"type": "string_check", "name": "exact",
         "input": "{{sample.output_text}}",
         "reference": "{{item.answer}}", "operation": "eq"}

# One grader x 2 learning rates x 2 seeds, one epoch: four trials.
BASE_SPEC = {
    "name": "budget-sweep",
    "backend": "sim",
    "model": "o4-mini-2025-04-16",
    "training_file": "train.jsonl",
    "validation_file": "valid.jsonl",
    "seeds": [1, 2],
    "hyperparameters": {"n_epochs": [1],
                        "learning_rate_multiplier": [0.5, 1.0]},
    "graders": {"exact": EXACT},
    "objective": {"metric": "valid_reward_mean", "mode": "max"},
}

EXAMPLES = [
    {"messages": [{"role": "user", "content": "What is 2+2?"}],
     "answer": "4"},
]

# For the final bill of a stopped job: the simulator's own queue time.
U64 = (1 << 64) - 1


def _mix(z):
    z = (z + 0x9e3779b97f4a7c15) & U64
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & U64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & U64
    return z ^ (z >> 31)


def sim_queued_seconds(intent_key):
    """How long the simulator queues an attempt, derived from its intent
    key as daemon/sim.c does (FNV-1a, then splitmix64)."""
    h = 1469598103934665603
    for byte in intent_key.encode():
        h = ((h ^ byte) * 1099511628211) & U64
    key = _mix(h) ^ 3
    return 120.0 + 600.0 * (_mix(key) >> 11) / 9007199254740992.0


def overrun(speed, jobs=1):
    """What `jobs` running jobs may spend past a limit: the rate times
    (tick + cancel latency), in the simulator's billed time."""
    return jobs * RATE * speed * (TICK_S + CANCEL_LATENCY_S) / 3600


class BudgetTest(DaemonTest):
    """A daemon with a fast tick, a [budget] section and one simulated
    backend, plus datasets and spec files in the test's directory."""

    def start(self, speed=1000, max_concurrent=4, budget="", prices="",
              pause_after_hours=0):
        self.speed = speed
        self.sections = (
            "[budget]\ncancel_latency = %g\n%s"
            '[backend "sim"]\ntype = sim\nspeed = %g\nmax_concurrent = %d\n'
            "failure_rate = 0\npause_after_hours = %g\n%s"
            % (CANCEL_LATENCY_S, budget, speed, max_concurrent,
               pause_after_hours, prices))
        for name in ("train.jsonl", "valid.jsonl"):
            with open(os.path.join(self.tmp, name), "w") as f:
                for e in EXAMPLES:
                    f.write(json.dumps(e) + "\n")
        return self.daemon(daemon_section="tick = 50\n",
                           extra_config=self.sections)

    def restart_after_kill(self, d, speed=None):
        """kill -9, then a new rftd on the same directory and config (with
        the sim at another speed if one is given)."""
        d.kill()
        if speed is not None:
            self.change_speed(speed)
        return self.daemon(daemon_section="tick = 50\n",
                           extra_config=self.sections)

    def change_speed(self, speed):
        """The sim's speed in the configuration, from now on."""
        self.sections = self.sections.replace(
            "speed = %g\n" % self.speed, "speed = %g\n" % speed)
        self.speed = speed

    def set_speed(self, d, speed):
        """Rewrites the sim's speed and waits for the reload.  A job's
        clock is its banked time plus the time since it last became
        active times the speed: a paused job's is not changed, and a
        running one's moves at once as if it had always run at the new
        speed, so tests only raise the speed of a running job."""
        applied = d.read_log().count("reload: configuration applied")
        self.change_speed(speed)
        d.write_config("tick = 50\n", self.sections)
        d.signal(signal.SIGHUP)
        wait_until(lambda: d.read_log().count(
            "reload: configuration applied") > applied,
            what="the configuration to be reloaded")

    def write_spec(self, filename="spec.json", **fields):
        """BASE_SPEC with `fields` over it (None removes a key)."""
        spec = copy.deepcopy(BASE_SPEC)
        for key, value in fields.items():
            if value is None:
                spec.pop(key, None)
            else:
                spec[key] = value
        path = os.path.join(self.tmp, filename)
        with open(path, "w") as f:
            json.dump(spec, f, indent=2)
        return path

    def jobs_of(self, d, sweep_id):
        return [Job(*row) for row in self.rows(
            d, "SELECT %s FROM jobs j JOIN trials t ON t.id = j.trial_id"
               " WHERE t.sweep_id = ? ORDER BY j.id"
               % ", ".join("j." + c for c in JOB_COLUMNS), sweep_id)]

    def live_jobs(self, d, sweep_id):
        return [j for j in self.jobs_of(d, sweep_id)
                if j.state not in TERMINAL_JOB]

    def scope(self, d, name):
        """One scope of `rftctl budget --json`, or None."""
        for s in d.ctl_json("budget")["scopes"]:
            if s["scope"] == name:
                return s
        return None

    def ledger_sum(self, d, scope, kind):
        (usd,), = self.rows(
            d, "SELECT coalesce(sum(amount_usd), 0) FROM ledger"
               " WHERE scope = ? AND kind = ?", scope, kind)
        return usd

    def halts(self, d):
        return [(scope, limit, spent, action, json.loads(jobs))
                for scope, limit, spent, action, jobs in self.rows(
                    d, "SELECT scope, limit_usd, spent_usd, action, jobs"
                       " FROM halts ORDER BY id")]

    def sim_billed_seconds(self, d, job_id):
        """What the simulator bills a stopped job: its banked simulated
        time less validation (300 s) and its queue time."""
        (elapsed, intent_key), = self.rows(
            d, "SELECT s.elapsed, s.intent_key FROM sim_jobs s"
               " JOIN jobs j ON j.remote_id = s.remote_id WHERE j.id = ?",
            job_id)
        return min(JOB_SECONDS, max(
            0.0, elapsed - 300 - sim_queued_seconds(intent_key)))

    def assert_nothing_stored(self, d):
        for table in ("sweeps", "trials", "jobs", "ledger", "halts"):
            self.assertEqual(self.rows(d, "SELECT count(*) FROM " + table),
                             [(0,)], table)


class Bill(BudgetTest):
    def test_plan_prints_worst_case_expected_room_and_jobs_that_fit(self):
        d = self.start()
        spec = self.write_spec(budget_usd=70, max_job_hours=0.3)
        r = d.ctl("plan", spec)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("bill (simulated dollars): worst case $120.00 "
                      "($100.00/h x 0.3 h max per job, $30.00 per job), "
                      "expected $95.00\n", r.stdout)
        self.assertIn("budgets: $70.00 of room (tightest: the sweep's "
                      "budget_usd); 2 jobs fit at once\n", r.stdout)

    def test_plan_json_has_the_bill_fields(self):
        d = self.start()
        bill = d.ctl_json("plan", self.write_spec(
            budget_usd=70, max_job_hours=0.3))["bill"]
        self.assertEqual(bill["rate_usd_per_hour"], RATE)
        self.assertEqual(bill["max_job_hours"], 0.3)
        self.assertAlmostEqual(bill["worst_per_job_usd"], 30)
        self.assertAlmostEqual(bill["worst_case_usd"], 4 * 30)
        self.assertAlmostEqual(bill["expected_usd"], 4 * JOB_USD)
        self.assertAlmostEqual(bill["room_usd"], 70)
        self.assertEqual(bill["tightest"], "the sweep's budget_usd")
        self.assertEqual(bill["jobs_fit_at_once"], 2)

    def test_plan_without_any_limit_says_so_and_every_job_fits(self):
        d = self.start()
        spec = self.write_spec(max_job_hours=0.3)
        bill = d.ctl_json("plan", spec)["bill"]
        self.assertIsNone(bill["room_usd"])
        self.assertEqual(bill["jobs_fit_at_once"], 4)
        self.assertIn("budgets: no limit applies\n",
                      d.ctl("plan", spec, check=True).stdout)

    def test_a_sweep_without_max_job_hours_is_priced_at_the_default(self):
        d = self.start(budget="default_max_job_hours = 0.1\n")
        bill = d.ctl_json("plan", self.write_spec())["bill"]
        self.assertEqual(bill["max_job_hours"], 0.1)
        self.assertAlmostEqual(bill["worst_per_job_usd"], RATE * 0.1)

    def test_the_room_is_what_the_tightest_budget_has_left(self):
        # Speed 1: both jobs live (and hold their $30) all through.
        d = self.start(speed=1, budget="global = 200\n")
        # Two jobs of another sweep hold $30 each while they live; until
        # one ends the room is exactly what they leave.
        first = self.submit(d, self.write_spec(
            "first.json", max_job_hours=0.3, seeds=[1],
            hyperparameters={"n_epochs": [3],
                             "learning_rate_multiplier": [0.5, 1.0]}),
            "--yes")
        wait_until(lambda: len(self.live_jobs(d, first)) == 2,
                   what="two live jobs")
        bill = d.ctl_json("plan", self.write_spec(max_job_hours=0.3))["bill"]
        self.assertEqual(bill["tightest"], "global")
        self.assertAlmostEqual(bill["room_usd"], 200 - 2 * 30)
        self.assertEqual(bill["jobs_fit_at_once"], 4)
        self.assertEqual(len(self.live_jobs(d, first)), 2)

    def test_a_job_bigger_than_budget_usd_is_refused_at_plan_and_submit(self):
        d = self.start()
        spec = self.write_spec(budget_usd=20, max_job_hours=0.3)
        for verb in ("plan", "submit"):
            with self.subTest(verb):
                r = d.ctl(verb, spec)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertIn(
                    "not even one job fits: a job's worst case is $30.00 "
                    "($100.00/h x 0.3 h) and the sweep's budget_usd has "
                    "$20.00 of room (over budget)", r.stderr)
                self.assertEqual(r.stdout, "")
        self.assert_nothing_stored(d)

    def test_a_job_bigger_than_the_global_room_is_refused(self):
        d = self.start(budget="global = 25\n")
        spec = self.write_spec(max_job_hours=0.3)
        for verb in ("plan", "submit"):
            with self.subTest(verb):
                r = d.ctl(verb, spec)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertIn("not even one job fits: a job's worst case "
                              "is $30.00 ($100.00/h x 0.3 h) and global "
                              "has $25.00 of room", r.stderr)
        self.assert_nothing_stored(d)


class Pricing(BudgetTest):
    OTHER_ONLY = '[price "sim/other-model"]\nper_training_hour = 50\n'

    def test_an_unpriced_model_is_refused_at_plan_and_submit(self):
        d = self.start(prices=self.OTHER_ONLY)
        spec = self.write_spec()
        for verb in ("plan", "submit"):
            with self.subTest(verb):
                r = d.ctl(verb, spec)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertIn("/model: no price for "
                              "sim/o4-mini-2025-04-16: add [price "
                              "\"sim/o4-mini-2025-04-16\"] to the "
                              "configuration, or allow_unpriced to the "
                              "spec", r.stderr)
        self.assert_nothing_stored(d)

    def test_a_priced_model_is_billed_at_its_own_rate(self):
        d = self.start(prices=self.OTHER_ONLY)
        bill = d.ctl_json("plan", self.write_spec(
            model="other-model", max_job_hours=0.3))["bill"]
        self.assertEqual(bill["rate_usd_per_hour"], 50)
        self.assertAlmostEqual(bill["worst_per_job_usd"], 15)

    def test_allow_unpriced_runs_the_sweep_for_nothing(self):
        d = self.start(prices=self.OTHER_ONLY, budget="global = 1\n")
        sweep_id = self.submit(d, self.write_spec(allow_unpriced=True))
        sweep = self.wait_for_sweep(d, sweep_id)
        self.assertEqual({t["state"] for t in sweep["trials"]},
                         {"succeeded"})
        jobs = self.jobs_of(d, sweep_id)
        self.assertEqual(len(jobs), 4)
        for j in jobs:
            self.assertEqual((j.cost_usd, j.rate_usd_per_hour,
                              j.reserved_usd), (0, 0, 0), j)
            self.assertAlmostEqual(j.billed_seconds, JOB_SECONDS)
        self.assertEqual(self.scope(d, "global")["spent_usd"], 0)
        self.assertEqual(self.rows(
            d, "SELECT count(*) FROM ledger WHERE amount_usd != 0"), [(0,)])


class SweepBudget(BudgetTest):
    LIMIT = 70   # two $30 worst cases fit; a third never does

    def run_capped_sweep(self, d):
        """A sweep of four $23.75 jobs with budget_usd $70: two run, the
        others wait.  Returns its id and every `budget` figure seen."""
        sweep_id = self.submit(d, self.write_spec(
            budget_usd=self.LIMIT, max_job_hours=0.3))
        seen = []

        def two_ended():
            seen.append(self.scope(d, "sweep:%d" % sweep_id))
            jobs = self.jobs_of(d, sweep_id)
            return ([j.state for j in jobs].count("succeeded") == 2
                    and not self.live_jobs(d, sweep_id))
        wait_until(two_ended, timeout=LONG_WAIT, what="two jobs to end")
        return sweep_id, seen

    def test_a_sweep_spends_no_more_than_its_budget_usd(self):
        d = self.start()
        sweep_id, seen = self.run_capped_sweep(d)
        for s in seen:
            self.assertLessEqual(s["spent_usd"] + s["reserved_usd"],
                                 self.LIMIT + overrun(self.speed, 2), s)
        final = self.scope(d, "sweep:%d" % sweep_id)
        self.assertEqual(final["limit_usd"], self.LIMIT)
        self.assertLessEqual(final["spent_usd"], self.LIMIT)
        self.assertAlmostEqual(final["spent_usd"], 2 * JOB_USD)
        self.assertEqual(final["reserved_usd"], 0)

    def test_trials_that_do_not_fit_wait_pending_for_budget(self):
        d = self.start()
        sweep_id, _ = self.run_capped_sweep(d)
        reason = (r"^waiting for budget sweep:%d: \$47\.50 spent \+ "
                  r"\$0\.00 reserved \+ \$30\.00 for this job > "
                  r"\$70\.00 limit$" % sweep_id)

        def waiting():
            return [t for t in self.sweep(d, sweep_id)["trials"]
                    if t["state"] == "pending" and t["pending_reason"]
                    and re.match(reason, t["pending_reason"])]
        # A tick after both jobs ended says why the others wait...
        wait_until(waiting, what="the pending reason after the jobs ended")
        time.sleep(10 * TICK_S)   # ...and in more ticks nothing may start
        sweep = self.sweep(d, sweep_id)
        self.assertEqual(sweep["state"], "running")
        pending = [t for t in sweep["trials"] if t["state"] == "pending"]
        self.assertEqual(len(pending), 2)
        self.assertRegex(pending[0]["pending_reason"] or "", reason)
        self.assertEqual(len(self.jobs_of(d, sweep_id)), 2)

    def test_a_sweeps_spend_equals_its_ledger_and_its_jobs_costs(self):
        d = self.start()
        sweep_id, _ = self.run_capped_sweep(d)
        scope = "sweep:%d" % sweep_id
        spent = self.scope(d, scope)["spent_usd"]
        self.assertAlmostEqual(self.ledger_sum(d, scope, "accrue"), spent)
        self.assertAlmostEqual(
            sum(j.cost_usd for j in self.jobs_of(d, sweep_id)), spent)
        self.assertAlmostEqual(self.ledger_sum(d, "global", "accrue"), spent)

    def test_each_ended_job_reserves_and_releases_in_both_scopes(self):
        d = self.start()
        sweep_id, _ = self.run_capped_sweep(d)
        for j in self.jobs_of(d, sweep_id):
            self.assertAlmostEqual(j.reserved_usd, 30)
            rows = sorted(self.rows(
                d, "SELECT scope, kind, amount_usd FROM ledger"
                   " WHERE job_id = ? AND kind IN ('reserve', 'release')",
                j.id))
            self.assertEqual(rows, sorted([
                ("global", "reserve", j.reserved_usd),
                ("global", "release", -j.reserved_usd),
                ("sweep:%d" % sweep_id, "reserve", j.reserved_usd),
                ("sweep:%d" % sweep_id, "release", -j.reserved_usd)]))

    def test_accruals_come_in_pairs_for_global_and_the_sweep(self):
        d = self.start()
        sweep_id, _ = self.run_capped_sweep(d)
        rows = self.rows(d, "SELECT job_id, scope, amount_usd FROM ledger"
                            " WHERE kind = 'accrue' ORDER BY id")
        self.assertTrue(rows)
        self.assertEqual(len(rows) % 2, 0)
        for g, s in zip(rows[0::2], rows[1::2]):
            self.assertEqual((g[0], g[1], s[1]),
                             (s[0], "global", "sweep:%d" % sweep_id))
            self.assertEqual(g[2], s[2])


class GlobalBudget(BudgetTest):
    LIMIT = 100   # four $25 worst cases, two per sweep

    def test_two_sweeps_never_over_commit_the_global_budget(self):
        d = self.start(budget="global = %d\n" % self.LIMIT)
        a = self.submit(d, self.write_spec(
            "a.json", name="a", max_job_hours=0.25, max_concurrent=2))
        b = self.submit(d, self.write_spec(
            "b.json", name="b", max_job_hours=0.25, max_concurrent=2,
            seeds=[3, 4]))
        seen = []

        def idle():
            seen.append(self.scope(d, "global"))
            return (seen[-1]["spent_usd"] > 0 and not self.live_jobs(d, a)
                    and not self.live_jobs(d, b))
        wait_until(idle, timeout=LONG_WAIT, what="the jobs that fit to end")
        for s in seen:
            self.assertLessEqual(s["spent_usd"] + s["reserved_usd"],
                                 self.LIMIT + overrun(self.speed, 4), s)
        final = self.scope(d, "global")
        self.assertLessEqual(final["spent_usd"], self.LIMIT)
        self.assertEqual(final["reserved_usd"], 0)
        # Both sweeps got jobs; what is left waits for the global budget.
        self.assertEqual(len(self.jobs_of(d, a)), 2)
        self.assertEqual(len(self.jobs_of(d, b)), 2)
        reasons = [t["pending_reason"] for t in self.sweep(d, a)["trials"]
                   if t["pending_reason"]]
        self.assertTrue(reasons)
        self.assertTrue(reasons[0].startswith("waiting for budget global:"),
                        reasons)


class RuntimeLimit(BudgetTest):
    SPEED = 250   # three-epoch jobs train about 10 s; two cost $14 a second
    # A new limit is the spend read just before, plus what both jobs
    # spend in this many real seconds: the time it may take on a busy
    # machine to read the spend and set the limit.  Set any closer, the
    # limit could be behind the spend before it is set.
    MARGIN_S = 3

    def two_running_jobs(self, d):
        """A sweep without a budget whose two jobs are both training."""
        sweep_id = self.submit(d, self.write_spec(
            seeds=[1], max_job_hours=1,
            hyperparameters={"n_epochs": [3],
                             "learning_rate_multiplier": [0.5, 1.0]}))
        wait_until(lambda: [j.state for j in self.jobs_of(d, sweep_id)]
                   == ["running", "running"]
                   and self.scope(d, "global")["spent_usd"] > 1,
                   what="two jobs to train")
        return sweep_id

    def lower_limit(self, d, sweep_id, *flags):
        """Sets sweep:N to MARGIN_S seconds of both jobs' training above
        its spend (all of the global spend: it is the only sweep);
        returns the limit."""
        margin = 2 * RATE * self.SPEED * self.MARGIN_S / 3600
        limit = round(self.scope(d, "global")["spent_usd"] + margin, 2)
        d.ctl("budget", "set", "sweep:%d" % sweep_id, "%.2f" % limit,
              *flags, check=True)
        return limit

    def test_lowering_a_sweep_limit_pauses_its_running_jobs(self):
        d = self.start(speed=self.SPEED)
        sweep_id = self.two_running_jobs(d)
        limit = self.lower_limit(d, sweep_id)
        wait_until(lambda: {j.state for j in self.jobs_of(d, sweep_id)}
                   == {"paused"}, what="the jobs to be paused")
        self.assertEqual([j.budget_paused for j in self.jobs_of(
            d, sweep_id)], [1, 1])
        self.assertEqual({t["state"] for t in self.sweep(
            d, sweep_id)["trials"]}, {"paused"})
        scope = self.scope(d, "sweep:%d" % sweep_id)
        self.assertEqual((scope["limit_usd"], scope["action"]),
                         (limit, "pause"))
        self.assertLessEqual(scope["spent_usd"],
                             limit + overrun(self.SPEED, 2))

    def test_a_budget_halt_records_scope_limit_spent_and_jobs(self):
        d = self.start(speed=self.SPEED)
        sweep_id = self.two_running_jobs(d)
        limit = self.lower_limit(d, sweep_id)
        wait_until(lambda: self.halts(d), what="a halt")
        (scope, at_limit, spent, action, jobs), = self.halts(d)
        self.assertEqual((scope, at_limit, action),
                         ("sweep:%d" % sweep_id, limit, "pause"))
        self.assertEqual(sorted(jobs),
                         [j.id for j in self.jobs_of(d, sweep_id)])
        self.assertGreaterEqual(spent, limit - overrun(self.SPEED, 2))
        self.assertLessEqual(spent, limit + overrun(self.SPEED, 2))

    def test_raising_the_limit_resumes_what_the_budget_paused(self):
        d = self.start(speed=self.SPEED)
        sweep_id = self.two_running_jobs(d)
        self.lower_limit(d, sweep_id)
        wait_until(lambda: {j.state for j in self.jobs_of(d, sweep_id)}
                   == {"paused"}, what="the jobs to be paused")
        d.ctl("budget", "set", "sweep:%d" % sweep_id, "1000", check=True)
        jobs = self.jobs_of(d, sweep_id)
        self.assertEqual([j.budget_paused for j in jobs], [0, 0])
        self.assertNotIn("paused", {j.state for j in jobs})
        # At SPEED, not faster: rftd stops a job at its max_job_hours by
        # the clock, between polls, and a much faster simulator would
        # reach it before a poll showed the job done.
        sweep = self.wait_for_sweep(d, sweep_id)
        self.assertEqual({t["state"] for t in sweep["trials"]},
                         {"succeeded"})
        self.assertLessEqual(
            self.scope(d, "sweep:%d" % sweep_id)["spent_usd"], 1000)

    def test_setting_another_limit_leaves_jobs_of_a_full_scope_paused(self):
        d = self.start(speed=self.SPEED)
        sweep_id = self.two_running_jobs(d)
        self.lower_limit(d, sweep_id)
        wait_until(lambda: {j.state for j in self.jobs_of(d, sweep_id)}
                   == {"paused"}, what="the jobs to be paused")
        spent = self.scope(d, "sweep:%d" % sweep_id)["spent_usd"]
        # sweep:N still has no room: nothing may run, nothing is spent.
        d.ctl("budget", "set", "global", "100000", check=True)
        jobs = self.jobs_of(d, sweep_id)
        self.assertEqual([(j.state, j.budget_paused) for j in jobs],
                         [("paused", 1), ("paused", 1)])
        time.sleep(10 * TICK_S)   # ticks in which nothing may resume them
        self.assertEqual(len(self.halts(d)), 1,
                         "jobs that sweep:N paused were resumed: %r"
                         % self.halts(d))
        self.assertAlmostEqual(
            self.scope(d, "sweep:%d" % sweep_id)["spent_usd"], spent)

    def test_lowering_a_limit_with_action_cancel_cancels_running_jobs(self):
        d = self.start(speed=self.SPEED)
        sweep_id = self.two_running_jobs(d)
        limit = self.lower_limit(d, sweep_id, "--action", "cancel")
        wait_until(lambda: {j.state for j in self.jobs_of(d, sweep_id)}
                   == {"cancelled"}, what="the jobs to be cancelled")
        self.assertEqual({t["state"] for t in self.sweep(
            d, sweep_id)["trials"]}, {"cancelled"})
        (scope, _, _, action, jobs), = self.halts(d)
        self.assertEqual((scope, action), ("sweep:%d" % sweep_id, "cancel"))
        self.assertEqual(sorted(jobs),
                         [j.id for j in self.jobs_of(d, sweep_id)])
        self.assertLessEqual(
            self.scope(d, "sweep:%d" % sweep_id)["spent_usd"],
            limit + overrun(self.SPEED, 2))


class ProviderPause(BudgetTest):
    # The provider pauses a job after 0.05 h (180 s) of its 855 s.
    def paused_job(self, d):
        sweep_id = self.submit(d, self.write_spec(
            seeds=[1], hyperparameters={"n_epochs": [1],
                                        "learning_rate_multiplier": [1.0]}))
        wait_until(lambda: [j.state for j in self.jobs_of(d, sweep_id)]
                   == ["paused"], what="the provider to pause the job")
        return sweep_id, self.jobs_of(d, sweep_id)[0]

    def test_a_provider_pause_is_neither_a_halt_nor_a_budget_pause(self):
        d = self.start(pause_after_hours=0.05, budget="global = 1000\n")
        sweep_id, job = self.paused_job(d)
        self.assertEqual(job.budget_paused, 0)
        self.assertAlmostEqual(job.billed_seconds, 0.05 * 3600)
        self.assertEqual(self.halts(d), [])
        self.assertEqual(self.sweep(d, sweep_id)["trials"][0]["state"],
                         "paused")

    def test_raising_a_limit_leaves_a_provider_paused_job_paused(self):
        d = self.start(pause_after_hours=0.05, budget="global = 1000\n")
        sweep_id, job = self.paused_job(d)
        d.ctl("budget", "set", "global", "2000", check=True)
        time.sleep(10 * TICK_S)   # ticks in which nothing may resume it
        self.assertEqual([j.state for j in self.jobs_of(d, sweep_id)],
                         ["paused"])

    def test_resuming_a_provider_paused_job_runs_it_to_the_end(self):
        d = self.start(pause_after_hours=0.05)
        sweep_id, job = self.paused_job(d)
        d.ctl("resume", "job", str(job.id), check=True)
        self.wait_for_sweep(d, sweep_id)
        job, = self.jobs_of(d, sweep_id)
        self.assertEqual(job.state, "succeeded")
        self.assertAlmostEqual(job.billed_seconds, JOB_SECONDS)
        self.assertAlmostEqual(job.cost_usd, JOB_USD)


    def test_the_provider_pauses_a_job_once_even_after_a_user_pause(self):
        d = self.start(pause_after_hours=0.05)
        sweep_id, job = self.paused_job(d)
        # Slower while it is paused, so that once resumed it trains for a
        # minute of real time: the user's pause finds it running.
        self.set_speed(d, 10)
        d.ctl("resume", "job", str(job.id), check=True)
        wait_until(lambda: self.jobs_of(d, sweep_id)[0].state == "running",
                   what="the job to train again")
        d.ctl("pause", "job", str(job.id), check=True)
        d.ctl("resume", "job", str(job.id), check=True)
        self.set_speed(d, 1000)
        wait_until(lambda: self.jobs_of(d, sweep_id)[0].state
                   in ("paused", "succeeded"),
                   what="the job to end or be paused")
        job, = self.jobs_of(d, sweep_id)
        self.assertEqual(job.state, "succeeded",
                         "paused again by the provider at %g s billed"
                         % job.billed_seconds)
        self.assertAlmostEqual(job.billed_seconds, JOB_SECONDS)


class Restart(BudgetTest):
    LIMIT = 110   # three $30 worst cases at once; all four in the end

    def kill_mid_sweep(self, d):
        """Kills rftd once a job trains and none has ended; returns the
        sweep, the budget figures just before, and the store's view of
        the live jobs' reservations (what the new rftd must load)."""
        sweep_id = self.submit(d, self.write_spec(
            budget_usd=self.LIMIT, max_job_hours=0.3))
        wait_until(lambda: any(j.cost_usd > 0
                               for j in self.jobs_of(d, sweep_id)),
                   what="a job to train")
        before = self.scope(d, "sweep:%d" % sweep_id)
        d.kill()
        jobs = self.jobs_of(d, sweep_id)
        self.assertFalse([j for j in jobs if j.state in TERMINAL_JOB])
        return sweep_id, before, jobs

    # At speed 50 a job trains for 17 s of real time: none ends between
    # the kill and what the restarted rftd is asked.
    def test_a_restart_keeps_the_reservations_and_the_spend(self):
        d = self.start(speed=50)
        sweep_id, before, jobs = self.kill_mid_sweep(d)
        d = self.restart_after_kill(d)
        after = self.scope(d, "sweep:%d" % sweep_id)
        self.assertGreaterEqual(after["spent_usd"], before["spent_usd"])
        # Training moves money from reserved to spent, never more.
        self.assertAlmostEqual(after["spent_usd"] + after["reserved_usd"],
                               sum(j.reserved_usd for j in jobs))
        self.assertAlmostEqual(before["spent_usd"] + before["reserved_usd"],
                               sum(j.reserved_usd for j in jobs))
        # The same jobs hold the same reservations, made once each.
        self.assertEqual(
            [(j.id, j.reserved_usd) for j in self.live_jobs(d, sweep_id)],
            [(j.id, j.reserved_usd) for j in jobs])
        self.assertEqual(self.rows(
            d, "SELECT job_id, count(*) FROM ledger WHERE kind = 'reserve'"
               " GROUP BY job_id ORDER BY job_id"),
            [(j.id, 2) for j in jobs])

    def test_after_a_restart_the_sweep_completes_within_its_budget(self):
        d = self.start(speed=100)   # a job trains for 8.5 s of real time
        sweep_id, _, _ = self.kill_mid_sweep(d)
        d = self.restart_after_kill(d, speed=500)
        sweep = self.wait_for_sweep(d, sweep_id)
        self.assertEqual({t["state"] for t in sweep["trials"]},
                         {"succeeded"})
        self.assertEqual(len(self.jobs_of(d, sweep_id)), 4)
        scope = self.scope(d, "sweep:%d" % sweep_id)
        self.assertLessEqual(scope["spent_usd"], self.LIMIT)
        self.assertAlmostEqual(scope["spent_usd"], 4 * JOB_USD)
        self.assertAlmostEqual(
            self.ledger_sum(d, "sweep:%d" % sweep_id, "accrue"),
            scope["spent_usd"])


class BudgetSet(BudgetTest):
    def test_an_unknown_scope_exits_1_naming_the_scopes(self):
        d = self.start()
        r = d.ctl("budget", "set", "weekly", "10")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("'weekly' is not a scope: global, day, month or "
                      "sweep:ID", r.stderr)
        self.assertEqual(self.rows(d, "SELECT count(*) FROM budgets"),
                         [(0,)])

    def test_a_limit_for_an_unknown_sweep_exits_1(self):
        d = self.start()
        r = d.ctl("budget", "set", "sweep:999", "10")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("no sweep 999", r.stderr)
        self.assertIsNone(self.scope(d, "sweep:999"))
        self.assertEqual(self.rows(d, "SELECT count(*) FROM budgets"),
                         [(0,)])

    def test_an_amount_that_is_not_a_number_exits_2(self):
        d = self.start()
        r = d.ctl("budget", "set", "global", "abc")
        self.assertEqual(r.returncode, 2)
        self.assertIn("'abc' is not an amount of USD", r.stderr)

    def test_an_unknown_action_exits_1(self):
        d = self.start()
        r = d.ctl("budget", "set", "global", "10", "--action", "stop")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("must be pause or cancel", r.stderr)

    def test_a_limit_set_at_run_time_overrides_the_configured_one(self):
        d = self.start(budget="global = 500\n")
        d.ctl("budget", "set", "global", "$50", "--action", "cancel",
              check=True)
        scope = self.scope(d, "global")
        self.assertEqual((scope["limit_usd"], scope["action"]),
                         (50, "cancel"))

    def test_none_falls_back_to_the_configured_limit(self):
        d = self.start(budget="global = 500\n")
        d.ctl("budget", "set", "global", "50", check=True)
        d.ctl("budget", "set", "global", "none", check=True)
        self.assertEqual(self.scope(d, "global")["limit_usd"], 500)
        d.ctl("budget", "set", "day", "20", check=True)
        d.ctl("budget", "set", "day", "none", check=True)
        self.assertIsNone(self.scope(d, "day")["limit_usd"])

    def test_none_on_a_sweep_falls_back_to_its_budget_usd(self):
        d = self.start(speed=1)
        sweep_id = self.submit(d, self.write_spec(budget_usd=200,
                                                  max_job_hours=0.3))
        scope = "sweep:%d" % sweep_id
        d.ctl("budget", "set", scope, "300", check=True)
        self.assertEqual(self.scope(d, scope)["limit_usd"], 300)
        d.ctl("budget", "set", scope, "none", check=True)
        self.assertEqual(self.scope(d, scope)["limit_usd"], 200)

    def test_each_change_is_a_limit_row_in_the_ledger(self):
        d = self.start()
        d.ctl("budget", "set", "month", "75", check=True)
        d.ctl("budget", "set", "month", "80", check=True)
        self.assertEqual(self.rows(
            d, "SELECT scope, amount_usd, basis FROM ledger"
               " WHERE kind = 'limit' ORDER BY id"),
            [("month", 75, "limit none -> $75.00"),
             ("month", 80, "limit $75.00 -> $80.00")])

    def test_a_limit_set_at_run_time_outlives_a_restart(self):
        d = self.start()
        d.ctl("budget", "set", "day", "42", check=True)
        d = self.restart_after_kill(d)
        self.assertEqual(self.scope(d, "day")["limit_usd"], 42)


class MaxJobHours(BudgetTest):
    def test_a_job_running_past_max_job_hours_is_cancelled(self):
        d = self.start()
        # Cut off by max_job_hours on purpose: the plan warns of it.
        sweep_id = self.submit(d, self.write_spec(
            seeds=[1], max_job_hours=0.1,
            hyperparameters={"n_epochs": [1],
                             "learning_rate_multiplier": [1.0]}), "--yes")
        wait_until(lambda: [j.state for j in self.jobs_of(d, sweep_id)]
                   == ["cancelled"], what="the job to be cancelled")
        job, = self.jobs_of(d, sweep_id)
        events = [e["message"] for e in
                  d.ctl_json("job", "show", str(job.id))["events"]]
        self.assertIn("running -> cancelling: reached max_job_hours "
                      "(0.1 h)", events)
        self.assertGreater(job.cost_usd, RATE * 0.1)
        self.assertLessEqual(job.cost_usd,
                             RATE * 0.1 + overrun(self.speed))
        self.assertEqual(self.sweep(d, sweep_id)["trials"][0]["state"],
                         "cancelled")

    def test_a_cancelled_job_is_billed_up_to_its_cancel(self):
        d = self.start()
        # Cut off by max_job_hours on purpose: the plan warns of it.
        sweep_id = self.submit(d, self.write_spec(
            seeds=[1], max_job_hours=0.1,
            hyperparameters={"n_epochs": [1],
                             "learning_rate_multiplier": [1.0]}), "--yes")
        wait_until(lambda: [j.state for j in self.jobs_of(d, sweep_id)]
                   == ["cancelled"], what="the job to be cancelled")
        job, = self.jobs_of(d, sweep_id)
        billed = self.sim_billed_seconds(d, job.id)
        self.assertAlmostEqual(job.billed_seconds, billed, delta=1)
        self.assertAlmostEqual(job.cost_usd, RATE * billed / 3600,
                               delta=RATE / 3600)
        self.assertAlmostEqual(
            self.ledger_sum(d, "sweep:%d" % sweep_id, "accrue"), job.cost_usd)


class Show(BudgetTest):
    def test_budget_prints_every_scope_with_its_figures(self):
        d = self.start(budget="global = 500\nmonth = 2000\n"
                              "month_action = cancel\n")
        lines = [l.split() for l in
                 d.ctl("budget", check=True).stdout.splitlines()]
        self.assertEqual(lines, [
            ["SCOPE", "LIMIT", "ACTION", "RESERVED", "SPENT", "REMAINING",
             "SWEEP"],
            ["global", "$500.00", "pause", "$0.00", "$0.00", "$500.00", "-"],
            ["day", "none", "pause", "$0.00", "$0.00", "none", "-"],
            ["month", "$2000.00", "cancel", "$0.00", "$0.00", "$2000.00",
             "-"]])

    def test_remaining_is_the_limit_less_spent_and_reserved(self):
        d = self.start(speed=300, budget="global = 500\n")
        self.submit(d, self.write_spec(max_job_hours=0.3))
        wait_until(lambda: self.scope(d, "global")["spent_usd"] > 0,
                   what="some spend")
        g = self.scope(d, "global")
        self.assertAlmostEqual(g["remaining_usd"],
                               500 - g["spent_usd"] - g["reserved_usd"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
