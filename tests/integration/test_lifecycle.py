#!/usr/bin/env python3
"""The money defects of the job lifecycle, end to end through the real
rftd and the real rftctl: a budget that exactly fits its jobs, a job that
reaches max_job_hours, a create whose answer cannot be recorded (another
job's id, or a store that refuses writes), and a store that refuses
writes while jobs train (a full disk, here a file size limit on rftd).
"""
import json
import os
import resource
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apitest import APITest  # noqa: E402
from harness import (LONG_WAIT, RFTD, Daemon, DaemonTest,  # noqa: E402
                     wait_until)

RATE = 100.0  # USD per training hour: the sim's built-in price
CREATE = r"^/fine_tuning/jobs$"
EXACT = {"type": "string_check", "name": "exact",
         "input": "{{sample.output_text}}",
         "reference": "{{item.answer}}", "operation": "eq"}


def limit_writes(pid, nbytes):
    """Makes every write of rftd past `nbytes` into a file fail with
    EFBIG, as a full disk does (None: no limit again)."""
    limit = resource.RLIM_INFINITY if nbytes is None else nbytes
    resource.prlimit(pid, resource.RLIMIT_FSIZE,
                     (limit, resource.RLIM_INFINITY))


class PipedDaemon(Daemon):
    """An rftd whose output reaches its log through a pipe, so that a
    file size limit on rftd leaves its log whole."""

    def start(self, wait=True):
        self.logfile = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [RFTD, "-c", self.config] + self.args,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

        def copy(src, dst):
            for line in iter(src.readline, b""):
                dst.write(line)
                dst.flush()
        self.copier = threading.Thread(
            target=copy, args=(self.proc.stdout, self.logfile), daemon=True)
        self.copier.start()
        if wait:
            wait_until(self.answers, what="rftd to answer on its socket")
        return self

    def stop(self, timeout=60):
        rc = super().stop(timeout)
        self.copier.join(timeout)
        return rc


class SimTest(DaemonTest):
    """A daemon with one simulated backend and datasets in its folder."""

    def start(self, speed, tick_ms=50, cancel_latency=0.2, budget="",
              max_concurrent=4, piped=False):
        for name in ("train.jsonl", "valid.jsonl"):
            with open(os.path.join(self.tmp, name), "w") as f:
                f.write(json.dumps({"messages": [
                    {"role": "user", "content": "2+2?"}],
                    "answer": "4"}) + "\n")
        extra = ("[budget]\ncancel_latency = %g\n%s"
                 '[backend "sim"]\ntype = sim\nspeed = %g\n'
                 "max_concurrent = %d\nfailure_rate = 0\n"
                 % (cancel_latency, budget, speed, max_concurrent))
        kw = dict(daemon_section="tick = %d\n" % tick_ms,
                  extra_config=extra)
        if not piped:
            return self.daemon(**kw)
        d = PipedDaemon(self.tmp, **kw)
        self.daemons.append(d)
        return d.start()

    def write_spec(self, **fields):
        spec = {"name": "lifecycle", "backend": "sim",
                "model": "o4-mini-2025-04-16",
                "training_file": "train.jsonl",
                "validation_file": "valid.jsonl",
                "seeds": [1, 2, 3, 4],
                "hyperparameters": {"n_epochs": [1]},
                "graders": {"exact": EXACT},
                "objective": {"metric": "valid_reward_mean",
                              "mode": "max"}}
        spec.update(fields)
        path = os.path.join(self.tmp, "spec.json")
        with open(path, "w") as f:
            json.dump(spec, f)
        return path

    def scope(self, d, name):
        for s in d.ctl_json("budget")["scopes"]:
            if s["scope"] == name:
                return s
        return None

    def ledger(self, d, scope, kind="accrue"):
        (usd,), = self.rows(
            d, "SELECT coalesce(sum(amount_usd), 0) FROM ledger"
               " WHERE scope = ? AND kind = ?", scope, kind)
        return usd


class ExactFit(SimTest):
    def test_a_budget_that_exactly_fits_its_jobs_lets_them_finish(self):
        # 4 x ($100/h x 2 h) = $800: every job's worst case fits exactly.
        # With speed 3600 and a 5 s cancel latency, the look-ahead of
        # each job reaches its whole unspent reservation.
        d = self.start(speed=3600, cancel_latency=5)
        sweep_id = self.submit(d, self.write_spec(
            budget_usd=800, max_job_hours=2))
        sweep = self.wait_for_sweep(d, sweep_id)
        self.assertEqual([t["state"] for t in sweep["trials"]],
                         ["succeeded"] * 4)
        self.assertEqual(self.rows(d, "SELECT count(*) FROM halts"),
                         [(0,)])
        self.assertNotIn("pausing", d.read_log())
        self.assertEqual(
            self.rows(d, "SELECT count(*) FROM jobs WHERE state != "
                         "'succeeded' OR budget_paused != 0"), [(0,)])
        self.assertLessEqual(self.scope(d, "sweep:%d" % sweep_id)
                             ["spent_usd"], 800)

    def test_a_budget_a_cent_short_still_admits_only_what_fits(self):
        # Slow enough that the fourth trial waits seconds for a job to
        # end, however busy the machine: the reason is seen while it
        # waits (once a job ends, its reservation is released and the
        # trial starts).
        d = self.start(speed=360, cancel_latency=5)
        sweep_id = self.submit(d, self.write_spec(
            budget_usd=799.99, max_job_hours=2))
        reasons = wait_until(lambda: [
            t["pending_reason"] for t in self.sweep(d, sweep_id)["trials"]
            if t["pending_reason"]],
            what="a trial to wait for the budget")
        self.assertTrue(reasons[0].startswith("waiting for budget sweep:"),
                        reasons)
        # Whatever was seen meanwhile: three jobs at most at a time, the
        # last one submitted only once another had ended.
        self.wait_for_sweep(d, sweep_id)
        jobs = self.rows(d, "SELECT created_at, finished_at FROM jobs"
                            " ORDER BY created_at")
        self.assertEqual(len(jobs), 4)
        self.assertGreaterEqual(jobs[3][0], min(f for _, f in jobs[:3]))


class Deadline(SimTest):
    def test_a_job_is_stopped_when_it_reaches_max_job_hours(self):
        # A 2 s tick is 720 simulated seconds ($20) at speed 360: a check
        # made by the tick overruns by a tick or two.  The deadline is
        # the job's own: it overruns by the cancel latency at most.
        speed, cancel_latency, hours = 360, 1.0, 0.1
        d = self.start(speed=speed, tick_ms=2000,
                       cancel_latency=cancel_latency)
        sweep_id = self.submit(d, self.write_spec(
            seeds=[1], max_job_hours=hours,
            hyperparameters={"n_epochs": [3]}), "--yes")  # it warns
        wait_until(lambda: self.rows(
            d, "SELECT state FROM jobs") == [("cancelled",)],
            timeout=LONG_WAIT, what="the job to be cancelled")
        (cost, reserved, billed), = self.rows(
            d, "SELECT cost_usd, reserved_usd, billed_seconds FROM jobs")
        self.assertAlmostEqual(reserved, RATE * hours)
        self.assertGreaterEqual(billed, hours * 3600 - 1)
        self.assertLessEqual(
            cost, reserved + RATE * speed * cancel_latency / 3600)
        events = [e["message"] for e in
                  d.ctl_json("job", "show", "1")["events"]]
        self.assertIn("running -> cancelling: reached max_job_hours "
                      "(0.1 h)", events)
        self.wait_for_sweep(d, sweep_id)


    def test_a_job_that_ended_before_its_deadline_is_not_cancelled(self):
        # One epoch trains 855 simulated seconds, under the 900 of
        # max_job_hours 0.25: the job ends 0.225 s (real) before its
        # deadline, which most often falls before the next 4 s tick's
        # poll has seen the end.  A stop then finds a job that ended.
        d = self.start(speed=200, tick_ms=4000)
        sweep_id = self.submit(d, self.write_spec(
            seeds=[1], max_job_hours=0.25))
        sweep = self.wait_for_sweep(d, sweep_id)
        self.assertEqual([t["state"] for t in sweep["trials"]],
                         ["succeeded"])
        (state, billed), = self.rows(
            d, "SELECT state, billed_seconds FROM jobs")
        self.assertEqual((state, billed), ("succeeded", 855))


class FullDisk(SimTest):
    def status(self, d):
        return d.ctl_json("status")

    def committed_spend(self, d):
        (usd,), = self.rows(d, "SELECT coalesce(sum(cost_usd), 0) FROM jobs")
        return usd

    def test_spend_in_memory_follows_what_was_committed(self):
        d = self.start(speed=60, max_concurrent=2, piped=True)
        sweep_id = self.submit(d, self.write_spec(
            seeds=[1, 2, 3, 4, 5, 6], max_job_hours=1, budget_usd=1000))
        wait_until(lambda: self.committed_spend(d) > 0,
                   what="jobs to train and spend")
        jobs_before = self.rows(d, "SELECT count(*) FROM jobs")
        limit_writes(d.proc.pid, 1)
        try:
            wait_until(lambda: not self.status(d)["store"]["writable"],
                       what="rftd to say that the store refuses writes")
            status = self.status(d)
            self.assertIn("error", status["store"])
            self.assertIn("REFUSES WRITES", d.ctl("status").stdout)
            # Ticks go on meanwhile: the spend rftd holds is what the
            # store holds, however many ticks pass.
            committed = self.committed_spend(d)
            readings = []

            def many_ticks():
                readings.append(
                    self.scope(d, "sweep:%d" % sweep_id)["spent_usd"])
                return len(readings) >= 40
            wait_until(many_ticks, what="readings of the spend")
            for usd in readings:
                self.assertAlmostEqual(usd, committed, places=6)
            self.assertEqual(self.rows(d, "SELECT count(*) FROM jobs"),
                             jobs_before, "nothing is submitted meanwhile")
            self.assertEqual(d.read_log().count("store: writes fail"), 1)
        finally:
            limit_writes(d.proc.pid, None)
        wait_until(lambda: self.status(d)["store"]["writable"],
                   what="rftd to see writes succeed again")
        sweep = self.wait_for_sweep(d, sweep_id)
        self.assertEqual([t["state"] for t in sweep["trials"]],
                         ["succeeded"] * 6)
        log = d.read_log()
        self.assertEqual(log.count("store: writes succeed again"), 1)
        for line in set(l for l in log.splitlines() if "->" in l):
            self.assertEqual(log.count(line + "\n"), 1, line)
        scope = self.scope(d, "sweep:%d" % sweep_id)
        self.assertAlmostEqual(scope["spent_usd"], self.committed_spend(d))
        self.assertAlmostEqual(self.ledger(d, "sweep:%d" % sweep_id),
                               self.committed_spend(d))
        self.assertEqual(d.stop(), 0)


class Answers(APITest):
    """A create that was answered is never sent again."""

    def daemon(self, start=True, **kw):
        d = PipedDaemon(self.tmp, **kw)
        self.daemons.append(d)
        return d.start() if start else d

    def creates(self):
        return [e for e in self.fake.requests()
                if e["method"] == "POST" and
                e["path"].endswith("/fine_tuning/jobs")]

    def test_an_answer_naming_another_jobs_id_fails_that_attempt(self):
        d = self.api_daemon()
        self.fake.set_speed(0)  # the first job waits until told
        sweep_id = self.submit(d, self.spec(trials=2, name="twins",
                                            max_concurrent=1))
        (first,) = wait_until(lambda: self.rows(
            d, "SELECT remote_id FROM jobs WHERE remote_id IS NOT NULL"),
            what="the first job to be created")
        # The provider answers the next create with the first job.
        self.fake.add_fault("status", path=CREATE, method="POST",
                            status=200, content_type="application/json",
                            body=json.dumps(self.fake.job(first[0])))
        self.fake.set_speed(1)
        self.wait_done(d, sweep_id)
        rows = self.rows(d, "SELECT id, state, remote_id, error FROM jobs"
                            " ORDER BY id")
        self.assertEqual(len(rows), 2, rows)
        self.assertEqual(rows[0][1:3], ("succeeded", first[0]))
        self.assertEqual(rows[1][1:3], ("failed", None))
        self.assertIn("answered with job %s, which job %d already holds"
                      % (first[0], rows[0][0]), rows[1][3])
        job = d.ctl_json("job", "show", str(rows[1][0]))
        self.assertIn("which job %d already holds" % rows[0][0],
                      json.dumps(job))
        self.assertEqual(len(self.creates()), 2)
        self.assertNotIn("was never submitted", d.read_log())
        self.assertEqual(d.stop(), 0)

    def test_an_answer_that_cannot_be_recorded_is_kept_not_sent_again(self):
        d = self.daemon(
            extra_config=self.backend_config(request_timeout=60),
            daemon_section="tick = 50\n")
        # The create's answer comes slowly; meanwhile the store starts
        # refusing writes.
        self.fake.add_fault("slow", path=CREATE, method="POST",
                            bytes_per_sec=200)
        sweep_id = self.submit(d, self.spec(trials=2, name="unrecorded",
                                            max_concurrent=1))
        wait_until(lambda: any(e.get("fault") == "slow"
                               for e in self.creates()),
                   what="the create to be under way")
        limit_writes(d.proc.pid, 1)
        try:
            wait_until(lambda: "could not be recorded" in d.read_log(),
                       what="the answer to arrive and not be recorded")
            status = d.ctl_json("status")
            self.assertFalse(status["store"]["writable"])
            hold, = [b["hold"] for b in status["backends"]
                     if b["name"] == "oa"]
            self.assertIsNone(hold["until"])
            self.assertIn("could not be recorded yet", hold["reason"])
            self.assertEqual(self.rows(
                d, "SELECT count(*) FROM jobs WHERE remote_id IS NOT NULL"),
                [(0,)])
        finally:
            limit_writes(d.proc.pid, None)
        self.wait_done(d, sweep_id)
        rows = self.rows(d, "SELECT state, intent_key, remote_id FROM jobs"
                            " ORDER BY id")
        self.assertEqual([r[0] for r in rows], ["succeeded"] * 2)
        self.assertEqual(len(self.creates()), 2)
        self.assertEqual(self.fake.creates_by_intent(),
                         {r[1]: 1 for r in rows})
        self.assert_money_safe(d)
        self.assertEqual(d.read_log().count("could not be recorded"), 1)
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
