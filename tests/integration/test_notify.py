#!/usr/bin/env python3
"""Notifications: events recorded in the outbox with the change that made
them, delivered to a signed webhook and a command at least once across
restarts, filtered by [notify] events, and `rftctl notify test`.

The receiver (webhook_receiver.py) checks every signature with the
secret file's key, computed with Python's hmac, not rftd's code.
"""
import json
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apitest import APITest  # noqa: E402
from harness import LONG_WAIT, WAIT, DaemonTest, wait_until  # noqa: E402
from webhook_receiver import Receiver  # noqa: E402

EXACT = {"type": "string_check", "name": "exact",
         "input": "{{sample.output_text}}", "reference": "{{item.answer}}",
         "operation": "eq"}


def gone(pid):
    """Whether process `pid` has exited (a zombie counts)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


class Notify(DaemonTest):
    """rftd on a simulated backend, a receiver, and a command that appends
    each event (its id from the environment, its JSON from stdin) to a
    file."""

    def setUp(self):
        super().setUp()
        self.secret = os.path.join(self.tmp, "state", "webhook.secret")
        self.receiver = Receiver(self.secret)
        self.addCleanup(self.receiver.stop)
        self.out = os.path.join(self.tmp, "events.out")
        for name in ("train.jsonl", "valid.jsonl"):
            with open(os.path.join(self.tmp, name), "w") as f:
                f.write(json.dumps({"messages": [
                    {"role": "user", "content": "2+2?"}],
                    "answer": "4"}) + "\n")

    def command(self, exit_status=0):
        return ('line="$RFTD_EVENT_ID $(cat)"; printf "%%s\\n" "$line"'
                ' >> %s; exit %d' % (self.out, exit_status))

    def notify_section(self, url=True, command=True, events="all",
                       timeout=5, exit_status=0):
        s = "[notify]\nevents = %s\ntimeout = %d\n" % (events, timeout)
        if url:
            s += "url = %s\n" % self.receiver.url
        if command:
            s += "command = %s\n" % self.command(exit_status)
        return s

    def start(self, speed=2000, failure_rate=0, notify=None, budget="",
              max_concurrent=8):
        self.extra = (
            "[budget]\ncancel_latency = 0.2\n%s"
            '[backend "sim"]\ntype = sim\nspeed = %g\n'
            "max_concurrent = %d\nfailure_rate = %g\n%s"
            % (budget, speed, max_concurrent, failure_rate,
               self.notify_section() if notify is None else notify))
        return self.daemon(daemon_section="tick = 50\n",
                           extra_config=self.extra)

    def restart(self, d):
        """kill -9, then rftd again on the same directory."""
        d.kill()
        return self.daemon(daemon_section="tick = 50\n",
                           extra_config=self.extra)

    def write_spec(self, name="spec.json", **fields):
        spec = {"name": "notify", "backend": "sim",
                "model": "o4-mini-2025-04-16",
                "training_file": "train.jsonl",
                "validation_file": "valid.jsonl",
                "seeds": [1, 2],
                "hyperparameters": {"n_epochs": [1]},
                "graders": {"exact": EXACT},
                "objective": {"metric": "valid_reward_mean",
                              "mode": "max"}}
        spec.update(fields)
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            json.dump(spec, f)
        return path

    def commanded(self):
        """What the command got: [(id from the environment, event)]."""
        try:
            with open(self.out) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            msg_id, _, body = line.partition(" ")
            out.append((msg_id, json.loads(body)))
        return out

    def outbox(self, d):
        return self.rows(d, "SELECT id, target, type, state, attempts"
                            " FROM notifications ORDER BY rowid")

    def delivered(self, d):
        """True once every row of the outbox is delivered."""
        rows = self.outbox(d)
        return rows and all(r[3] == "delivered" for r in rows)

    def assert_signed(self):
        for r in self.receiver.requests:
            self.assertTrue(r["verified"], r)
            self.assertEqual(r["content_type"], "application/json")

    def of_type(self, kind, mode="ok"):
        return [r for r in self.receiver.got(mode) if r["type"] == kind]

    # --- rftctl notify test --------------------------------------------

    def test_notify_test_reports_each_target(self):
        d = self.start(notify=self.notify_section(exit_status=3))
        r = d.ctl("notify", "test")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stdout, r"^test notification msg_[0-9a-f]{32}\n")
        self.assertIn("  url: delivered (HTTP 204)\n", r.stdout)
        self.assertIn("  command: failed: exit 3\n", r.stdout)
        msg_id = r.stdout.split()[2]
        got, = self.receiver.got()
        self.assertEqual((got["id"], got["type"]), (msg_id, "test"))
        self.assert_signed()
        # The command had the event's JSON on stdin and its id in env.
        (env_id, event), = self.commanded()
        self.assertEqual(env_id, msg_id)
        self.assertEqual(event, got["payload"])
        self.assertEqual(set(event), {"type", "timestamp", "data"})
        self.assertRegex(event["timestamp"],
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        # --json gives the object; a test is not tried again.
        self.receiver.mode = "fail"
        out = d.ctl("--json", "notify", "test")
        self.assertEqual(out.returncode, 1)
        res = json.loads(out.stdout)
        self.assertEqual(sorted((t["target"], t["delivered"], t["outcome"])
                                for t in res["targets"]),
                         [("command", False, "failed: exit 3"),
                          ("url", False, "failed (HTTP 500)")])
        self.assertEqual(self.rows(
            d, "SELECT target, state, attempts FROM notifications"
               " WHERE id = ? ORDER BY target", res["id"]),
            [("command", "failed", 1), ("url", "failed", 1)])

    def test_a_2xx_with_a_long_body_counts_as_delivered(self):
        # Only the status counts: a receiver that answers with a page
        # of its own took the event, and is not sent it again.
        self.receiver.mode = "big"
        d = self.start(notify=self.notify_section(command=False))
        r = d.ctl("notify", "test")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("  url: delivered (HTTP 200)\n", r.stdout)
        self.assertEqual(self.rows(
            d, "SELECT state, attempts FROM notifications"),
            [("delivered", 1)])

    def test_notify_test_without_a_target_is_refused(self):
        d = self.start(notify="")
        r = d.ctl("notify", "test")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("[notify] has neither command nor url", r.stderr)
        self.assertEqual(self.outbox(d), [])

    def test_a_secret_file_others_can_read_is_refused(self):
        os.makedirs(os.path.dirname(self.secret))
        with open(self.secret, "w") as f:
            f.write("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n")
        os.chmod(self.secret, 0o644)
        d = self.daemon(start=False, daemon_section="tick = 50\n",
                        extra_config=self.notify_section())
        d.start(wait=False)
        self.assertNotEqual(d.proc.wait(WAIT), 0)
        self.assertIn("group or others may read it (mode 0644)",
                      d.read_log())
        # Made private, it is used as it is.
        os.chmod(self.secret, 0o600)
        d = self.daemon(daemon_section="tick = 50\n",
                        extra_config=self.notify_section())
        self.assertEqual(d.ctl("notify", "test").returncode, 0)
        self.assert_signed()
        self.assertEqual(len(self.receiver.requests), 1)

    def test_a_missing_secret_file_is_made_private(self):
        d = self.start()
        self.assertEqual(os.stat(self.secret).st_mode & 0o777, 0o600)
        self.assertIn("made a webhook secret in %s" % self.secret,
                      d.read_log())
        self.assertEqual(d.ctl("notify", "test").returncode, 0)
        self.assert_signed()

    # --- the events ------------------------------------------------------

    def test_a_completed_sweep_tells_its_winner_and_cost(self):
        d = self.start()
        sweep_id = self.submit(d, self.write_spec(
            seeds=[1], hyperparameters={
                "n_epochs": [1], "learning_rate_multiplier": [0.1, 1.0]}))
        self.wait_for_sweep(d, sweep_id)
        got, = wait_until(lambda: self.of_type("sweep.completed"),
                          what="sweep.completed")
        self.assert_signed()
        data = got["payload"]["data"]
        self.assertEqual((data["sweep_id"], data["state"]),
                         (sweep_id, "completed"))
        self.assertEqual(data["trials"]["total"], 2)
        self.assertEqual(data["trials"]["succeeded"], 2)
        best = max(self.sweep(d, sweep_id)["trials"],
                   key=lambda t: t["objective"])
        self.assertEqual(data["winner"]["trial_id"], best["id"])
        self.assertEqual(data["winner"]["objective"], best["objective"])
        self.assertIn("learning_rate_multiplier",
                      data["winner"]["hyperparameters"])
        (spent,), = self.rows(
            d, "SELECT spent_usd FROM spend_by_sweep WHERE sweep_id = ?",
            sweep_id)
        self.assertAlmostEqual(data["total_cost_usd"], spent, places=4)
        # The command got the same event.
        wait_until(lambda: len(self.commanded()) == 1, what="the command")
        self.assertEqual(self.commanded()[0][0], got["id"])

    def test_a_job_failed_after_its_last_retry_is_told_once(self):
        d = self.start(failure_rate=1)
        sweep_id = self.submit(d, self.write_spec(retries=1))
        self.wait_for_sweep(d, sweep_id)
        wait_until(lambda: self.delivered(d), what="every delivery")
        failed = self.of_type("job.failed")
        # Two trials, two attempts each: one event per trial, at its end.
        self.assertEqual(len(failed), 2, failed)
        self.assertEqual(sorted(r["payload"]["data"]["trial_id"]
                                for r in failed),
                         sorted(t["id"] for t in
                                self.sweep(d, sweep_id)["trials"]))
        for r in failed:
            self.assertEqual(r["payload"]["data"]["attempt"], 2)
            self.assertTrue(r["payload"]["data"]["error"])
        self.assertEqual(len(self.of_type("sweep.completed")), 1)
        self.assert_signed()

    def test_early_stops_are_told_with_the_rules_decision(self):
        d = self.start(speed=450)
        sweep_id = self.submit(d, self.write_spec(
            seeds=[1, 2, 3, 4], retries=2,
            hyperparameters={"n_epochs": [3], "eval_interval": [3],
                             "learning_rate_multiplier": [0.05, 1.2]},
            early_stopping={"rule": "asha", "grace_steps": 6,
                            "reduction_factor": 3, "min_trials": 4}))
        sweep = self.wait_for_sweep(d, sweep_id)
        stopped = sorted(t["id"] for t in sweep["trials"]
                         if t["state"] == "stopped")
        self.assertTrue(stopped, "no trial was stopped")
        wait_until(lambda: self.delivered(d), what="every delivery")
        told = self.of_type("trial.early_stopped")
        self.assertEqual(sorted(r["payload"]["data"]["trial_id"]
                                for r in told), stopped)
        for r in told:
            self.assertEqual(r["payload"]["data"]["early_stop"]["rule"],
                             "asha")
        self.assert_signed()

    def test_a_budget_halt_tells_scope_limit_spend_and_jobs(self):
        d = self.start(speed=250)
        sweep_id = self.submit(d, self.write_spec(
            seeds=[1], max_job_hours=1,
            hyperparameters={"n_epochs": [3],
                             "learning_rate_multiplier": [0.5, 1.0]}))
        wait_until(lambda: self.rows(
            d, "SELECT count(*) FROM jobs WHERE state = 'running'"
               " AND cost_usd > 0") == [(2,)], what="two jobs to train")
        d.ctl("budget", "set", "sweep:%d" % sweep_id, "0.01", check=True)
        got, = wait_until(lambda: self.of_type("budget.halted"),
                          what="budget.halted")
        data = got["payload"]["data"]
        (scope, limit, spent, action, jobs), = self.rows(
            d, "SELECT scope, limit_usd, spent_usd, action, jobs FROM halts")
        self.assertAlmostEqual(data.pop("spent_usd"), spent, places=6)
        self.assertEqual(data, {"scope": scope, "limit_usd": limit,
                                "action": action, "jobs": json.loads(jobs)})
        self.assertEqual((scope, action), ("sweep:%d" % sweep_id, "pause"))
        self.assertEqual(len(data["jobs"]), 2)
        self.assert_signed()

    def test_events_selects_what_is_sent(self):
        d = self.start(failure_rate=1, notify=self.notify_section(
            events="sweep.completed"))
        sweep_id = self.submit(d, self.write_spec())
        self.wait_for_sweep(d, sweep_id)
        wait_until(lambda: self.of_type("sweep.completed"),
                   what="sweep.completed")
        wait_until(lambda: self.delivered(d), what="every delivery")
        # Jobs failed, and none of it was kept or sent.
        self.assertEqual({r["type"] for r in self.receiver.requests},
                         {"sweep.completed"})
        self.assertEqual({r[2] for r in self.outbox(d)},
                         {"sweep.completed"})
        self.assertEqual(len(self.commanded()), 1)

    # --- delivery ----------------------------------------------------------

    def test_each_event_arrives_once_across_a_kill(self):
        d = self.start(failure_rate=1)
        first = self.submit(d, self.write_spec(name="a.json"))
        self.wait_for_sweep(d, first)
        wait_until(lambda: self.delivered(d), what="every delivery")
        before = len(self.receiver.requests)
        self.assertEqual(before, 3)  # two job.failed, one sweep.completed
        d = self.restart(d)
        second = self.submit(d, self.write_spec(name="b.json", seeds=[3, 4]))
        self.wait_for_sweep(d, second)
        wait_until(lambda: len(self.outbox(d)) == 12 and self.delivered(d),
                   what="every delivery")
        ids = [r["id"] for r in self.receiver.requests]
        self.assertEqual(len(ids), 6)
        self.assertEqual(len(set(ids)), 6, "an event arrived twice")
        self.assertEqual(sorted(set(ids)),
                         sorted({r[0] for r in self.outbox(d)}))
        self.assertEqual(sorted(i for i, _ in self.commanded()),
                         sorted(ids))
        self.assert_signed()

    def test_an_event_not_taken_is_sent_again_after_a_restart(self):
        self.receiver.mode = "fail"
        d = self.start(failure_rate=1, notify=self.notify_section(
            command=False, events="sweep.completed"))
        sweep_id = self.submit(d, self.write_spec(seeds=[1]))
        self.wait_for_sweep(d, sweep_id)
        refused = wait_until(lambda: self.receiver.got("fail"),
                             what="an attempt answered 500")
        wait_until(lambda: self.rows(
            d, "SELECT state, last_error FROM notifications") ==
            [("pending", "failed (HTTP 500)")], what="the failure recorded")
        d = self.restart(d)
        self.receiver.mode = "ok"
        got, = wait_until(lambda: self.receiver.got("ok"),
                          what="the event after the restart")
        self.assertEqual(got["id"], refused[0]["id"])
        self.assertEqual({r["id"] for r in self.receiver.requests},
                         {got["id"]})
        wait_until(lambda: self.delivered(d), what="the delivery recorded")
        (attempts,), = self.rows(d, "SELECT attempts FROM notifications")
        self.assertGreaterEqual(attempts, 2)
        self.assert_signed()

    def test_an_event_recorded_while_the_receiver_is_down_arrives(self):
        port = self.receiver.port
        self.receiver.stop()
        d = self.start(failure_rate=1, notify=self.notify_section(
            command=False, events="sweep.completed"))
        sweep_id = self.submit(d, self.write_spec(seeds=[1]))
        self.wait_for_sweep(d, sweep_id)
        wait_until(lambda: self.rows(
            d, "SELECT state FROM notifications WHERE attempts >= 1"
               " AND last_error LIKE 'failed: %'") == [("pending",)],
            what="an attempt refused")
        self.receiver = Receiver(self.secret, port=port)
        self.addCleanup(self.receiver.stop)
        got, = wait_until(lambda: self.receiver.got("ok"),
                          what="the event once the receiver is back")
        (msg_id,), = self.rows(d, "SELECT id FROM notifications")
        self.assertEqual((got["id"], got["type"]),
                         (msg_id, "sweep.completed"))
        wait_until(lambda: self.delivered(d), what="the delivery recorded")
        self.assert_signed()

    def test_a_reload_applies_new_targets(self):
        d = self.start(notify="")
        self.assertNotEqual(d.ctl("notify", "test").returncode, 0)
        d.write_config("tick = 50\n", self.extra + self.notify_section(
            command=False))
        d.ctl("reload", check=True)
        r = d.ctl("notify", "test")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("  url: delivered (HTTP 204)\n", r.stdout)
        self.assertEqual(len(self.receiver.got()), 1)
        self.assert_signed()

    def test_a_hanging_receiver_delays_nothing_else(self):
        self.receiver.mode = "hang"
        d = self.start(failure_rate=1, notify=self.notify_section(
            timeout=300))
        sweep_id = self.submit(d, self.write_spec(seeds=[1, 2, 3, 4, 5]))
        # Each event reaches the receiver, which never answers.
        wait_until(lambda: len(self.receiver.got("hang")) >= 4,
                   what="attempts hanging at the receiver")
        self.assertEqual(d.ctl("ping").returncode, 0)
        self.wait_for_sweep(d, sweep_id)
        # The command got every event all the same.
        wait_until(lambda: len(self.commanded()) == 6,
                   what="six events at the command")
        self.assertEqual(sorted(e["type"] for _, e in self.commanded()),
                         ["job.failed"] * 5 + ["sweep.completed"])
        started = time.monotonic()
        self.assertEqual(d.stop(), 0)
        self.assertLess(time.monotonic() - started, WAIT / 2)
        # What hung is kept for the next run.
        (pending,), = self.rows(
            d, "SELECT count(*) FROM notifications WHERE target = 'url'"
               " AND state = 'pending'")
        self.assertEqual(pending, 6)

    def test_a_command_that_hangs_is_killed_after_the_timeout(self):
        d = self.start(notify="[notify]\ntimeout = 1\ncommand = sleep 600 &"
                              " echo $! > %s/child.pid; wait\n" % self.tmp)
        r = d.ctl("notify", "test")
        self.assertEqual(r.returncode, 1)
        self.assertIn("command: failed: timed out after 1 s (killed)",
                      r.stdout)
        with open(os.path.join(self.tmp, "child.pid")) as f:
            child = int(f.read())
        # Its whole process group went, the shell's child too.
        wait_until(lambda: gone(child), what="the command's child to go")


class ProviderHold(APITest):
    """A provider's daily quota holds submissions, then the hold ends."""

    def test_a_hold_is_told_when_it_starts_and_ends(self):
        secret = os.path.join(self.tmp, "state", "webhook.secret")
        receiver = Receiver(secret)
        self.addCleanup(receiver.stop)
        d = self.api_daemon(extra="[notify]\nurl = %s\ntimeout = 5\n"
                                  % receiver.url)
        self.fake.set_options(daily_limit=2, daily_retry_after=3)
        self.submit(d, self.spec(trials=4, name="quota"))
        started = wait_until(
            lambda: [r for r in receiver.requests
                     if r["type"] == "provider.hold_started"],
            timeout=LONG_WAIT, what="provider.hold_started")
        ended = wait_until(
            lambda: [r for r in receiver.requests
                     if r["type"] == "provider.hold_ended"],
            timeout=LONG_WAIT, what="provider.hold_ended")
        data = started[0]["payload"]["data"]
        self.assertEqual(data["backend"], "oa")
        self.assertIn("daily_rate_limit_exceeded", data["reason"])
        self.assertEqual(ended[0]["payload"]["data"]["backend"], "oa")
        self.assertTrue(all(r["verified"] for r in receiver.requests))


if __name__ == "__main__":
    unittest.main()
