#!/usr/bin/env python3
"""Early stopping end to end on the sim backend, through the real rftd
and the real rftctl: trials that a rule judges not good enough are
paused, then cancelled once the rule is sure, and end "stopped" with
their metrics and cost kept and no retry; every decision is recorded
once, also across a kill -9 of rftd; and the rule is checked like the
rest of the spec.
"""
import collections
import json
import os
import signal
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import LONG_WAIT, wait_until  # noqa: E402
from test_lifecycle import SimTest  # noqa: E402

EXACT = {"type": "string_check", "name": "exact",
         "input": "{{sample.output_text}}",
         "reference": "{{item.answer}}", "operation": "eq"}

# The actions a decision at one step of a trial may come to.
ALLOWED = [{"continue"}, {"pause"}, {"stop"}, {"pause", "stop"},
           {"pause", "resume"}]


class EarlyStopping(SimTest):
    def start(self, speed=450):
        return super().start(speed, max_concurrent=8)

    def write_spec(self, name="spec.json", **fields):
        # Four good learning rates and four poor ones: the poor learn
        # slowly and level off low, so a rule has something to stop.
        spec = {"name": "early", "backend": "sim",
                "model": "o4-mini-2025-04-16",
                "training_file": "train.jsonl",
                "validation_file": "valid.jsonl",
                "seeds": [1, 2, 3, 4],
                "retries": 2,
                "hyperparameters": {"n_epochs": [3],
                                    "eval_interval": [3],
                                    "learning_rate_multiplier": [0.05,
                                                                 1.2]},
                "graders": {"exact": EXACT},
                "objective": {"metric": "valid_reward_mean",
                              "mode": "max"},
                "early_stopping": {"rule": "asha", "grace_steps": 6,
                                   "reduction_factor": 3,
                                   "min_trials": 4}}
        spec.update(fields)
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            json.dump(spec, f)
        return path

    def slow_sweep(self):
        """One trial at a time, three in all, in slow simulated time: the
        first to reach rung 0 waits there for the others (min_trials 3)
        for seconds.  Returns the daemon and the sweep's id."""
        d = self.start(speed=60)
        return d, self.submit(d, self.write_spec(
            max_concurrent=1, seeds=[1, 2, 3],
            hyperparameters={"n_epochs": [3], "eval_interval": [1],
                             "learning_rate_multiplier": [1.2]},
            early_stopping={"rule": "asha", "grace_steps": 2,
                            "min_trials": 3}))

    def decisions(self, d, sweep_id):
        return self.rows(
            d, "SELECT trial_id, step, action, value, threshold, peers,"
               " rule FROM early_stops WHERE sweep_id = ? ORDER BY id",
            sweep_id)

    def check_decisions(self, d, sweep_id, min_trials):
        rows = self.decisions(d, sweep_id)
        self.assertTrue(rows, "no decision was recorded")
        actions = collections.defaultdict(set)
        for trial, step, action, value, threshold, peers, _ in rows:
            actions[(trial, step)].add(action)
            if action in ("pause", "stop") and threshold is not None:
                # Judged against enough peers, and worse than the bar.
                self.assertGreaterEqual(peers + 1, min_trials)
                self.assertLess(value, threshold)
        for key, acts in actions.items():
            self.assertIn(acts, ALLOWED, "trial %d at step %d" % key)
        return rows

    def check_stopped(self, d, sweep):
        """Each stopped trial: one job, cancelled (paused before when the
        rule first only held it), with metrics and a cost; nothing else
        ended badly.  Returns the stopped trials and how many of them
        were held first."""
        stopped = [t for t in sweep["trials"] if t["state"] == "stopped"]
        held = 0
        for t in sweep["trials"]:
            self.assertIn(t["state"], ("succeeded", "stopped"), t)
        for t in stopped:
            jobs = self.rows(
                d, "SELECT id, state, cost_usd FROM jobs"
                   " WHERE trial_id = ?", t["id"])
            self.assertEqual(len(jobs), 1, "a stopped trial was retried")
            job_id, state, cost = jobs[0]
            self.assertEqual(state, "cancelled")
            self.assertGreater(cost, 0)
            (n,), = self.rows(d, "SELECT count(*) FROM metrics"
                                 " WHERE job_id = ?", job_id)
            self.assertGreater(n, 0)
            moves = [m for (m,) in self.rows(
                d, "SELECT message FROM job_events WHERE job_id = ?"
                   " AND message LIKE '% -> %' ORDER BY id", job_id)]
            text = "\n".join(moves)
            self.assertIn("-> cancelling", text)
            self.assertIn("early stopping (", text)
            (first,), = self.rows(
                d, "SELECT action FROM early_stops WHERE trial_id = ?"
                   " AND action != 'continue' ORDER BY id LIMIT 1",
                t["id"])
            if first == "pause":
                held += 1
                self.assertLess(text.index("-> pausing"),
                                text.index("-> cancelling"), text)
        return stopped, held

    def test_asha_pauses_then_stops_the_poor_and_keeps_their_cost(self):
        d = self.start()
        sweep_id = self.submit(d, self.write_spec())
        sweep = self.wait_for_sweep(d, sweep_id, timeout=LONG_WAIT)
        stopped, held = self.check_stopped(d, sweep)
        self.assertTrue(stopped, "no trial was stopped")
        self.check_decisions(d, sweep_id, 4)
        # The best trial of the sweep ran to its end.
        best = max(sweep["trials"], key=lambda t: t["objective"] or -1)
        self.assertEqual(best["state"], "succeeded")
        # A stopped trial cost less than a finished one.
        cost = dict(self.rows(
            d, "SELECT t.state, avg(j.cost_usd) FROM jobs j JOIN trials t"
               " ON t.id = j.trial_id GROUP BY t.state"))
        self.assertLess(cost["stopped"], cost["succeeded"])
        # Shown to people: the job, the watch and the SQL view.
        t = stopped[0]
        (job_id,), = self.rows(d, "SELECT id FROM jobs WHERE trial_id = ?",
                               t["id"])
        show = d.ctl("job", "show", str(job_id), check=True).stdout
        self.assertIn("early stopping (asha)", show)
        self.assertIn("stopped", d.ctl("sweep", "show", str(sweep_id),
                                       check=True).stdout)
        watch = d.ctl("watch", str(sweep_id), check=True).stdout
        self.assertIn("early stopping (asha)", watch)
        out = d.ctl("--json", "sql",
                    "SELECT trial_id, action FROM early_stopping"
                    " WHERE action = 'stop'", check=True).stdout
        self.assertIn('"stop"', out)

    def test_median_rule_stops_only_poor_learning_rates(self):
        d = self.start()
        spec = self.write_spec(early_stopping={
            "rule": "median", "metric": "valid_reward_mean",
            "mode": "max", "grace_steps": 6, "min_trials": 4})
        sweep_id = self.submit(d, spec)
        sweep = self.wait_for_sweep(d, sweep_id, timeout=LONG_WAIT)
        stopped = self.check_stopped(d, sweep)[0]
        rows = self.check_decisions(d, sweep_id, 4)
        self.assertEqual({r[6] for r in rows}, {"median"})
        # Poor learning rates are below the median wherever good ones
        # are peers; the best trial runs to its end.
        self.assertIn(0.05, [t["hyperparameters"]["learning_rate_multiplier"]
                             for t in stopped])
        best = max(sweep["trials"], key=lambda t: t["objective"] or -1)
        self.assertEqual(best["state"], "succeeded")

    def test_a_kill_mid_sweep_makes_no_decision_twice(self):
        d = self.start(speed=300)
        sweep_id = self.submit(d, self.write_spec())
        wait_until(lambda: any(r[2] in ("pause", "stop")
                               for r in self.decisions(d, sweep_id)),
                   timeout=LONG_WAIT, what="a first pause or stop")
        before = self.decisions(d, sweep_id)
        d.signal(signal.SIGKILL)
        d.proc.wait()
        d.start()
        sweep = self.wait_for_sweep(d, sweep_id, timeout=LONG_WAIT)
        after = self.decisions(d, sweep_id)
        self.assertEqual(after[:len(before)], before)
        self.check_decisions(d, sweep_id, 4)
        self.check_stopped(d, sweep)

    def test_a_held_trial_waits_for_its_rule_or_a_person(self):
        # One trial at a time, three in all: the first to reach rung 0
        # waits there paused for the others (min_trials 3), and takes no
        # place, so the next one starts.  Simulated time runs slowly
        # enough that the others take seconds to get there.
        d, sweep_id = self.slow_sweep()

        def held():
            rows = self.rows(
                d, "SELECT t.id, j.id FROM trials t JOIN jobs j"
                   " ON j.trial_id = t.id WHERE t.early_stop = 'held'"
                   " AND j.state = 'paused'")
            return rows[0] if rows else None
        trial_id, job_id = wait_until(held, timeout=LONG_WAIT,
                                      what="a trial held paused")
        wait_until(lambda: self.rows(
            d, "SELECT count(*) FROM jobs")[0][0] >= 2,
            what="the next trial to start beside the held one")
        # A sweep's resume leaves it to its rule.
        d.ctl("pause", "sweep", str(sweep_id), check=True)
        d.ctl("resume", "sweep", str(sweep_id), check=True)
        self.assertEqual(self.rows(d, "SELECT state FROM jobs WHERE id = ?",
                                   job_id), [("paused",)])
        # A person's resume is obeyed, and the rule lets go of it.
        r = d.ctl("resume", "job", str(job_id))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.rows(d, "SELECT early_stop FROM trials"
                                      " WHERE id = ?", trial_id), [(None,)])
        wait_until(lambda: self.rows(
            d, "SELECT state FROM jobs WHERE id = ?", job_id)[0][0]
            in ("queued", "running", "succeeded"),
            what="the resumed job to run")
        # Not paused again for the step it was judged at.
        self.assertEqual(self.rows(
            d, "SELECT action FROM early_stops WHERE trial_id = ?"
               " ORDER BY id", trial_id), [("pause",)])

    def test_held_trials_that_hold_back_the_rest_are_settled(self):
        # A budget with room for three jobs' worst cases ($250 each) at
        # once, and for the whole sweep: three trials reach rung 0 and
        # wait there for a fourth (min_trials 4), which their
        # reservations keep out.  Nothing else can run, so the rule
        # settles them as if no more trials came, and the sweep goes on
        # to its end.
        d = self.start()
        sweep_id = self.submit(d, self.write_spec(
            budget_usd=800, max_job_hours=2.5))
        sweep = self.wait_for_sweep(d, sweep_id, timeout=LONG_WAIT)
        self.check_stopped(d, sweep)
        self.check_decisions(d, sweep_id, 4)
        (spent,), = self.rows(d, "SELECT sum(cost_usd) FROM jobs")
        self.assertLessEqual(spent, 800)

    def test_what_a_crash_left_undone_is_asked_again(self):
        # The state a crash leaves between a decision (committed) and
        # the backend's call (never made), written by hand while rftd is
        # stopped: a resume decided for a job still paused, and a stop
        # decided for a job still running.
        d, _ = self.slow_sweep()

        def two_jobs():
            rows = self.rows(
                d, "SELECT t.id, j.id, t.early_stop, j.state FROM trials t"
                   " JOIN jobs j ON j.trial_id = t.id ORDER BY j.id")
            if (len(rows) == 2 and rows[0][2] == "held"
                    and rows[0][3] == "paused"
                    and rows[1][3] in ("validating", "queued", "running")):
                return rows
            return None
        (held_trial, held_job, _, _), (run_trial, run_job, _, _) = \
            wait_until(two_jobs, timeout=LONG_WAIT,
                       what="a held trial and a running one")
        self.assertEqual(d.stop(), 0)
        db = sqlite3.connect(d.database)
        with db:
            for trial, job, action in ((held_trial, held_job, "resume"),
                                       (run_trial, run_job, "stop")):
                db.execute(
                    "INSERT INTO early_stops (at, sweep_id, trial_id,"
                    " job_id, rule, metric, step, rung, value, threshold,"
                    " peers, action) VALUES (strftime('%s', 'now') + 1,"
                    " 1, ?, ?, 'asha', 'valid_reward_mean', 2, 0, 0.5,"
                    " 0.6, 2, ?)", (trial, job, action))
            db.execute("UPDATE trials SET early_stop = NULL WHERE id = ?",
                       (held_trial,))
            db.execute("UPDATE trials SET early_stop = 'stopped',"
                       " early_step = 2 WHERE id = ?", (run_trial,))
        db.close()
        d.start()
        wait_until(lambda: self.rows(
            d, "SELECT state FROM jobs WHERE id = ?", held_job)[0][0]
            in ("queued", "running", "succeeded"),
            what="the resume decided before the crash")
        wait_until(lambda: self.rows(
            d, "SELECT state FROM trials WHERE id = ?", run_trial)
            == [("stopped",)], what="the stop decided before the crash")
        self.assertEqual(self.rows(d, "SELECT state FROM jobs WHERE id = ?",
                                   run_job), [("cancelled",)])

    def test_the_rule_is_checked_with_its_json_path(self):
        d = self.start()
        cases = [
            ({"rule": "hyperband"}, "/early_stopping/rule"),
            ({"rule": "median", "reduction_factor": 3},
             "/early_stopping/reduction_factor"),
            ({"rule": "asha", "grace_steps": 0},
             "/early_stopping/grace_steps"),
            ({"rule": "asha", "min_trials": 1},
             "/early_stopping/min_trials"),
            ({"rule": "asha", "mode": "up"}, "/early_stopping/mode"),
            ({"rule": "asha", "patience": 3}, "/early_stopping/patience"),
            ("asha", "/early_stopping"),
        ]
        for rule, path in cases:
            r = d.ctl("plan", self.write_spec(early_stopping=rule))
            self.assertNotEqual(r.returncode, 0, rule)
            self.assertIn(path, r.stderr + r.stdout, rule)
        self.assertEqual(self.rows(d, "SELECT count(*) FROM sweeps"),
                         [(0,)])


if __name__ == "__main__":
    unittest.main()
