"""rftctl for people and for scripts: --json errors and
NDJSON watch, exit statuses, a watch that survives a restart of rftd and
says why trials wait, the verbs' arguments, the leaderboard's --state and
--metric, rftd --help, and `rftctl stop`.  The real rftd and rftctl."""
import copy
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import unittest

import test_budget
from harness import (CALL_TIMEOUT, LONG_WAIT, RFTCTL, RFTD, SOURCE_DIR, WAIT,
                     DaemonTest, wait_until)

# One grader x 2 learning rates x 2 seeds, one epoch: four trials.
BASE_SPEC = dict(test_budget.BASE_SPEC, name="ctl-sweep")

EXAMPLE = {"messages": [{"role": "user", "content": "What is 2+2?"}],
           "answer": "4"}
FAST = 36000   # the simulator's speed for sweeps that should just end
SLOW = 60      # a job validates 5 s and trains minutes: it stays running


class CtlTest(DaemonTest):
    """A daemon with a fast tick and one simulated backend, datasets and
    spec files in the test's directory."""

    def start(self, speed=FAST, max_concurrent=8):
        self.speed = speed
        self.max_concurrent = max_concurrent
        for name in ("train.jsonl", "valid.jsonl"):
            with open(os.path.join(self.tmp, name), "w") as f:
                f.write(json.dumps(EXAMPLE) + "\n")
        return self.daemon(daemon_section="tick = 50\n",
                           extra_config=self.sections())

    def sections(self):
        return ('[backend "sim"]\ntype = sim\nspeed = %g\n'
                "max_concurrent = %d\nfailure_rate = 0\n"
                % (self.speed, self.max_concurrent))

    def restart(self, d, speed):
        """SIGTERM, then a new rftd on the same directory, its simulator
        at `speed`."""
        self.assertEqual(d.stop(), 0)
        self.speed = speed
        return self.daemon(daemon_section="tick = 50\n",
                           extra_config=self.sections())

    def write_spec(self, filename="spec.json", **fields):
        spec = copy.deepcopy(BASE_SPEC)
        spec.update(fields)
        path = os.path.join(self.tmp, filename)
        with open(path, "w") as f:
            json.dump(spec, f)
        return path

    def finished_sweep(self, d, **fields):
        sweep_id = self.submit(d, self.write_spec(**fields))
        self.wait_for_sweep(d, sweep_id)
        return sweep_id

    def trial_running_with_a_value(self, d, sweep_id):
        return wait_until(
            lambda: [t for t in self.sweep(d, sweep_id)["trials"]
                     if t["state"] == "running" and
                     t["objective"] is not None],
            timeout=LONG_WAIT, what="a running trial with an objective")


class Watcher:
    """`rftctl watch` in the background; its stdout lines as they come."""

    def __init__(self, d, *args):
        self.proc = subprocess.Popen(
            [RFTCTL, "-s", d.socket, "watch"] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern, timeout=WAIT):
        """The first line matching `pattern` (a regex), once it came."""
        def found():
            if self.proc.poll() is not None:
                self.reader.join(WAIT)
            for line in list(self.lines):
                if re.search(pattern, line):
                    return line
            if self.proc.poll() is not None:
                raise AssertionError(
                    "watch exited with %d before %r:\n%s\n%s"
                    % (self.proc.returncode, pattern,
                       "\n".join(self.lines), self.proc.stderr.read()))
            return None
        return wait_until(found, timeout=timeout, what=repr(pattern))

    def events(self, name=None):
        out = [json.loads(line) for line in list(self.lines)]
        return [e for e in out if name is None or e["event"] == name]

    def wait_for_event(self, name, timeout=WAIT, **fields):
        def found():
            for e in self.events(name):
                if all(e.get(k) == v for k, v in fields.items()):
                    return e
            if self.proc.poll() is not None:
                self.reader.join(WAIT)
                raise AssertionError("watch exited with %d:\n%s"
                                     % (self.proc.returncode,
                                        "\n".join(self.lines)))
            return None
        return wait_until(found, timeout=timeout,
                          what="a %s event %r" % (name, fields))

    def finish(self, timeout=LONG_WAIT):
        """Waits for watch to exit; returns its status and stderr."""
        self.proc.wait(timeout)
        self.reader.join(WAIT)
        return self.proc.returncode, self.proc.stderr.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(WAIT)
        self.reader.join(WAIT)


def one_json_object(test, r):
    """The only stdout line of a --json command, parsed; nothing on
    stderr."""
    lines = r.stdout.splitlines()
    test.assertEqual(len(lines), 1, r.stdout)
    test.assertEqual(r.stderr, "")
    return json.loads(lines[0])


# --- scripts: --json everywhere, exit statuses ---------------------------

class JsonErrors(CtlTest):
    def test_a_usage_error_is_a_json_object_on_stdout_with_exit_2(self):
        missing = os.path.join(self.tmp, "absent.sock")
        for args in (["--json", "budget", "set", "day", "-5"],
                     ["--json", "frobnicate"],
                     ["--json", "leaderboard", "1", "--limit"],
                     ["--json", "--frob", "status"],
                     # --json after the mistake says how to tell it too
                     ["status", "--frob", "--json"],
                     ["--json", "leaderboard", "x"],
                     ["--json", "submit", os.path.join(self.tmp, "none")]):
            with self.subTest(args=args):
                r = subprocess.run([RFTCTL, "-s", missing] + args,
                                   capture_output=True, text=True,
                                   timeout=CALL_TIMEOUT)
                self.assertEqual(r.returncode, 2)
                e = one_json_object(self, r)["error"]
                self.assertEqual((e["code"], e["kind"], e["data"]),
                                 (2, "usage", None))
                self.assertTrue(e["message"])

    def test_rftds_error_is_a_json_object_with_its_code_and_data(self):
        d = self.start()
        r = d.ctl("--json", "sweep", "show", "9")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(one_json_object(self, r)["error"],
                         {"code": -32001, "kind": "not found",
                          "message": "no sweep 9", "data": None})
        bad = self.write_spec("bad.json", seeds=[1, 1],
                              hyperparameters={"n_epochs": [0]})
        r = d.ctl("--json", "submit", bad)
        self.assertEqual(r.returncode, 1)
        e = one_json_object(self, r)["error"]
        self.assertEqual(e["code"], -32602)
        self.assertEqual(sorted(p["path"] for p in e["data"]["errors"]),
                         ["/hyperparameters/n_epochs/0", "/seeds/1"])

    def test_an_unreachable_rftd_is_a_json_object_with_exit_3(self):
        r = subprocess.run(
            [RFTCTL, "-s", os.path.join(self.tmp, "absent.sock"), "--json",
             "status"], capture_output=True, text=True, timeout=CALL_TIMEOUT)
        self.assertEqual(r.returncode, 3)
        e = one_json_object(self, r)["error"]
        self.assertEqual((e["code"], e["kind"]), (3, "unreachable"))
        self.assertIn("rftd is not running at", e["message"])


class Formats(CtlTest):
    def test_sql_cut_at_the_row_cap_says_so_and_exits_4(self):
        d = self.start()
        q = "SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3"
        for fmt in ("table", "csv", "json", "ndjson"):
            with self.subTest(format=fmt):
                r = d.ctl("sql", q, "--format", fmt, "--max-rows", "2")
                self.assertEqual(r.returncode, 4, r.stderr)
                self.assertIn("rftctl: output cut at the row cap",
                              r.stderr)
                r = d.ctl("sql", q, "--format", fmt, "--max-rows", "3")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertNotIn("cut", r.stderr)
        r = d.ctl("--json", "sql", q, "--max-rows", "2")
        self.assertEqual((r.returncode, json.loads(r.stdout)),
                         (4, [{"n": 1}, {"n": 2}]))

    def test_export_accepts_every_format_its_error_names(self):
        d = self.start()
        sweep_id = self.finished_sweep(d)
        r = d.ctl("export", str(sweep_id), "--format", "xml")
        self.assertEqual(r.returncode, 2)
        m = re.fullmatch(r"rftctl: --format: 'xml' is not (.*)\n", r.stderr)
        self.assertIsNotNone(m, r.stderr)
        names = re.split(r", | or ", m.group(1))
        self.assertEqual(sorted(names), ["csv", "json", "jsonl", "ndjson"])
        for name in names:
            with self.subTest(format=name):
                r = d.ctl("export", str(sweep_id), "--format", name)
                self.assertEqual(r.returncode, 0, r.stderr)
                if name == "csv":
                    rows = r.stdout.splitlines()[1:]
                elif name == "json":
                    rows = json.loads(r.stdout)
                else:
                    rows = [json.loads(x) for x in r.stdout.splitlines()]
                self.assertEqual(len(rows), 4)

    def test_sql_accepts_every_format_its_error_names(self):
        d = self.start()
        r = d.ctl("sql", "SELECT 1", "--format", "xml")
        self.assertEqual(r.returncode, 2)
        m = re.fullmatch(r"rftctl: --format: 'xml' is not (.*)\n", r.stderr)
        for name in re.split(r", | or ", m.group(1)):
            with self.subTest(format=name):
                r = d.ctl("sql", "SELECT 1 AS one", "--format", name)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("1", r.stdout)


# --- verbs and arguments -------------------------------------------------

class Verbs(CtlTest):
    def run_rftd(self, *args):
        return subprocess.run([RFTD] + list(args), capture_output=True,
                              text=True, timeout=CALL_TIMEOUT)

    def test_rftd_help_prints_usage_and_exits_0(self):
        for flag in ("-h", "--help"):
            with self.subTest(flag=flag):
                r = self.run_rftd(flag)
                self.assertEqual((r.returncode, r.stderr), (0, ""))
                self.assertTrue(r.stdout.startswith("usage: rftd "))
                self.assertIn("-h ", r.stdout)
        r = self.run_rftd("--frobnicate")
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage: rftd", r.stderr)

    def test_rftd_and_rftctl_print_their_versions(self):
        for argv in ([RFTD, "-V"], [RFTD, "--version"], [RFTCTL, "-V"],
                     [RFTCTL, "--version"]):
            with self.subTest(argv=argv[1:]):
                r = subprocess.run(argv, capture_output=True, text=True,
                                   timeout=CALL_TIMEOUT)
                self.assertEqual(r.returncode, 0)
                name = os.path.basename(argv[0])
                self.assertRegex(r.stdout, r"^%s \d+\.\d+\.\d+\n$"
                                 % ("rftctl" if "ctl" in name else "rftd"))

    def test_a_negative_amount_is_an_error_about_the_amount(self):
        d = self.start()
        for amount in ("-5", "-0.5", "-.5"):
            r = d.ctl("budget", "set", "day", amount)
            self.assertEqual(r.returncode, 2)
            self.assertEqual(r.stderr,
                             "rftctl: budget set: '%s' is not an amount of "
                             "USD (0..1e9) or none\n" % amount)
        self.assertIsNone(d.ctl_json("budget")["scopes"][1]["limit_usd"])

    def test_a_limit_without_action_keeps_the_scopes_action(self):
        """budget set --action: without it, the configured day_action,
        or what an earlier budget set gave, stays."""
        d = self.daemon(extra_config="[budget]\nday_action = cancel\n")

        def day():
            return [s for s in d.ctl_json("budget")["scopes"]
                    if s["scope"] == "day"][0]

        d.ctl("budget", "set", "day", "300", check=True)
        self.assertEqual((day()["limit_usd"], day()["action"]),
                         (300, "cancel"))
        d.ctl("budget", "set", "day", "200", "--action", "pause", check=True)
        d.ctl("budget", "set", "day", "100", check=True)
        self.assertEqual((day()["limit_usd"], day()["action"]),
                         (100, "pause"))
        d.ctl("budget", "set", "day", "none", check=True)
        self.assertEqual((day()["limit_usd"], day()["action"]),
                         (None, "cancel"))

    def test_an_action_with_none_is_refused(self):
        d = self.start()
        r = d.ctl("budget", "set", "day", "none", "--action", "cancel")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--action does not go with none", r.stderr)

    def test_an_unknown_option_is_named_without_the_whole_usage(self):
        r = subprocess.run([RFTCTL, "status", "--frob"], capture_output=True,
                           text=True, timeout=CALL_TIMEOUT)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, "rftctl: unknown option '--frob'; "
                         "rftctl --help lists them\n")

    def test_curves_of_a_missing_sweep_or_job_say_there_is_none(self):
        d = self.start()
        r = d.ctl("curves", "999")
        self.assertEqual((r.returncode, r.stderr),
                         (1, "rftctl: no sweep 999 (not found)\n"))
        r = d.ctl("curves", "job", "999")
        self.assertEqual((r.returncode, r.stderr),
                         (1, "rftctl: no job 999 (not found)\n"))
        sweep_id = self.finished_sweep(d)
        r = d.ctl("curves", str(sweep_id), "--metric", "nope")
        self.assertEqual((r.returncode, r.stderr),
                         (1, "rftctl: curves: sweep %d has no nope points\n"
                          % sweep_id))


class Leaderboard(CtlTest):
    def board(self, d, sweep_id, *args):
        return d.ctl_json("leaderboard", str(sweep_id), "--limit", "1000",
                          *args)

    def test_only_finished_trials_are_ranked_unless_asked(self):
        d = self.start(speed=SLOW)
        sweep_id = self.submit(d, self.write_spec(max_concurrent=1))
        trial = self.trial_running_with_a_value(d, sweep_id)[0]
        board = self.board(d, sweep_id)
        self.assertEqual((board["state"], board["rows"]), ("finished", []))
        text = d.ctl("leaderboard", str(sweep_id), check=True).stdout
        self.assertIn("no finished trial has a value yet", text)
        for state in ("all", "running", "running,paused"):
            rows = self.board(d, sweep_id, "--state", state)["rows"]
            self.assertEqual([(r["trial_id"], r["state"]) for r in rows],
                             [(trial["id"], "running")], state)
        d.ctl("cancel", str(sweep_id), check=True)
        wait_until(lambda: self.sweep(d, sweep_id)["trials"][0]["state"]
                   == "cancelled", what="the trial to be cancelled")
        self.assertEqual(self.board(d, sweep_id)["rows"], [])
        rows = self.board(d, sweep_id, "--state", "cancelled")["rows"]
        self.assertEqual([r["trial_id"] for r in rows], [trial["id"]])

    def test_finished_trials_are_those_that_succeeded_or_stopped(self):
        d = self.start()
        sweep_id = self.finished_sweep(d)
        rows = self.board(d, sweep_id)["rows"]
        self.assertEqual(len(rows), 4)
        self.assertEqual({r["state"] for r in rows}, {"succeeded"})
        self.assertEqual([r["rank"] for r in rows], [1, 2, 3, 4])
        self.assertEqual(rows, self.board(d, sweep_id, "--state",
                                          "succeeded,stopped")["rows"])

    def test_a_bad_state_is_refused_naming_the_states(self):
        d = self.start()
        sweep_id = self.finished_sweep(d)
        r = d.ctl("leaderboard", str(sweep_id), "--state", "done")
        self.assertEqual(r.returncode, 1)
        self.assertIn("/params/state: 'done' is not a trial state", r.stderr)

    def test_another_metric_ranks_by_each_trials_best_value_of_it(self):
        d = self.start()
        sweep_id = self.finished_sweep(d)
        board = self.board(d, sweep_id, "--metric", "train_reward_mean")
        best = dict(self.rows(
            d, "SELECT j.trial_id, max(m.value) FROM metrics m"
               " JOIN jobs j ON j.id = m.job_id"
               " WHERE m.name = 'train_reward_mean' GROUP BY j.trial_id"))
        rows = board["rows"]
        self.assertEqual(board["metric"], "train_reward_mean")
        self.assertEqual(sorted(r["trial_id"] for r in rows), sorted(best))
        values = [r["metric_value"] for r in rows]
        self.assertEqual(values, sorted(values, reverse=True))
        for r in rows:   # as sql.query prints a REAL: 15 digits
            self.assertAlmostEqual(r["metric_value"], best[r["trial_id"]],
                                   places=12)
        text = d.ctl("leaderboard", str(sweep_id), "--metric",
                     "train_reward_mean", check=True).stdout
        self.assertIn("TRAIN_REWARD_MEAN", text.splitlines()[1])
        r = d.ctl("leaderboard", str(sweep_id), "--metric", "x", "--by",
                  "value")
        self.assertEqual(r.returncode, 1)
        self.assertIn("does not go with metric", r.stderr)


class Stop(CtlTest):
    def test_stop_ends_a_daemon_started_in_the_background(self):
        d = self.daemon(start=False)
        r = subprocess.run([RFTD, "-c", d.config], capture_output=True,
                           text=True, timeout=CALL_TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        pid = d.ctl_json("status")["pid"]
        r = d.ctl("stop")
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (0, "rftd (pid %d) stopped\n" % pid, ""))
        self.assertFalse(os.path.exists(d.socket))
        self.assertEqual(d.ctl("ping").returncode, 3)
        # The next rftd finds the database free at once.
        r = subprocess.run([RFTD, "-c", d.config], capture_output=True,
                           text=True, timeout=CALL_TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        pid = d.ctl_json("status")["pid"]
        self.assertEqual(one_json_object(self, d.ctl("--json", "stop")),
                         {"stopped": True, "pid": pid})

    def test_stop_ends_a_daemon_in_the_foreground(self):
        d = self.start()
        r = d.ctl("--json", "stop")
        self.assertEqual(one_json_object(self, r),
                         {"stopped": True, "pid": d.proc.pid})
        self.assertEqual(d.proc.wait(WAIT), 0)

    def test_stop_signals_no_process_but_the_one_serving_the_socket(self):
        """A server whose daemon.status names another pid (an rftd in
        another pid namespace would): stop refuses, and that process
        lives on."""
        other = subprocess.Popen(["sleep", "600"])
        self.addCleanup(other.wait)
        self.addCleanup(other.kill)
        path = os.path.join(self.tmp, "fake.sock")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(4)
        self.addCleanup(server.close)

        def answer():
            conn, _ = server.accept()
            with conn:
                req = json.loads(conn.makefile().readline())
                conn.sendall(json.dumps(
                    {"jsonrpc": "2.0", "id": req["id"],
                     "result": {"pid": other.pid}}).encode() + b"\n")

        t = threading.Thread(target=answer, daemon=True)
        t.start()
        r = subprocess.run([RFTCTL, "-s", path, "stop"], capture_output=True,
                           text=True, timeout=CALL_TIMEOUT)
        t.join(WAIT)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr,
                         "rftctl: stop: rftd says its pid is %d, but the "
                         "process serving %s is %d: rftd runs in another pid "
                         "namespace (a container); stop it there\n"
                         % (other.pid, path, os.getpid()))
        self.assertIsNone(other.poll())


# --- watch ---------------------------------------------------------------

class Watch(CtlTest):
    def test_json_watch_streams_one_object_a_line(self):
        d = self.start()
        sweep_id = self.submit(d, self.write_spec())
        r = d.ctl("--json", "watch", str(sweep_id), check=True)
        events = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertTrue(events)
        self.assertTrue(all(isinstance(e, dict) and "event" in e and
                            "time" in e for e in events))
        self.assertEqual(events[0]["event"], "start")
        self.assertEqual(events[0]["sweep_id"], sweep_id)
        self.assertEqual(events[-1]["event"], "end")
        self.assertEqual(events[-1]["progress"]["state"], "completed")
        self.assertEqual(events[-1]["progress"]["done"], 4)
        last = {}
        for e in events:
            if e["event"] == "trial":
                self.assertEqual(e["to"], e["trial"]["state"])
                self.assertEqual(e["from"], last.get(e["trial_id"]))
                last[e["trial_id"]] = e["to"]
        self.assertEqual(set(last.values()), {"succeeded"})
        self.assertEqual(len(last), 4)

    def test_watch_survives_a_restart_of_rftd(self):
        d = self.start(speed=SLOW)
        sweep_id = self.submit(d, self.write_spec())
        text = Watcher(d, str(sweep_id))
        ndjson = Watcher(d, "--json", str(sweep_id))
        self.addCleanup(text.stop)
        self.addCleanup(ndjson.stop)
        text.wait_for(r"-> running")
        ndjson.wait_for_event("trial", to="running")
        d = self.restart(d, FAST)
        text.wait_for(r"lost rftd \(.*\); reconnecting")
        text.wait_for(r"reconnected to rftd after \d")
        status, err = text.finish()
        self.assertEqual(status, 0, err)
        self.assertEqual(err, "")
        self.assertRegex(text.lines[-1], r"sweep %d completed: " % sweep_id)
        status, err = ndjson.finish()
        self.assertEqual((status, err), (0, ""))
        names = [e["event"] for e in ndjson.events()]
        self.assertIn("disconnected", names)
        self.assertLess(names.index("disconnected"),
                        names.index("reconnected"))
        self.assertEqual(names[-1], "end")
        # It carried on from the sweep's state: every trial ended once.
        ends = [e["trial_id"] for e in ndjson.events("trial")
                if e["to"] == "succeeded"]
        self.assertEqual(sorted(ends), sorted(set(ends)))
        self.assertEqual(len(ends), 4)

    def test_watch_gives_up_when_rftd_stays_away(self):
        d = self.start(speed=SLOW)
        sweep_id = self.submit(d, self.write_spec())
        w = Watcher(d, "--reconnect", "1", str(sweep_id))
        self.addCleanup(w.stop)
        w.wait_for(r"watching sweep")
        self.assertEqual(d.stop(), 0)
        status, err = w.finish(WAIT)
        self.assertEqual(status, 3)
        self.assertRegex(err, r"^rftctl: watch: rftd has not answered for "
                              r"\d+ s: ")

    def test_watch_of_a_missing_rftd_fails_at_once(self):
        r = subprocess.run([RFTCTL, "-s", os.path.join(self.tmp, "x.sock"),
                            "watch", "1"], capture_output=True, text=True,
                           timeout=CALL_TIMEOUT)
        self.assertEqual(r.returncode, 3)
        self.assertIn("rftd is not running at", r.stderr)

    def test_watch_says_why_trials_wait_for_a_budget(self):
        d = self.start(speed=SLOW)
        # Each job reserves $100 (an hour at $100/h): one fits in $150.
        sweep_id = self.submit(d, self.write_spec(budget_usd=150,
                                                  max_job_hours=1))
        text = Watcher(d, str(sweep_id))
        ndjson = Watcher(d, "--json", str(sweep_id))
        self.addCleanup(text.stop)
        self.addCleanup(ndjson.stop)
        line = text.wait_for(r"trials pending: ")
        self.assertRegex(line, r"\d\d:\d\d:\d\d 3 trials pending: waiting "
                               r"for budget sweep:%d: " % sweep_id)
        e = ndjson.wait_for_event("waiting", trials=3)
        self.assertTrue(e["reason"].startswith(
            "waiting for budget sweep:%d: " % sweep_id))
        # Said once while the kind of wait holds, not at every poll.
        time.sleep(1)
        self.assertEqual(len(ndjson.events("waiting")), 1)

    def test_watch_says_why_trials_wait_for_a_slot_or_a_resume(self):
        d = self.start(speed=SLOW)
        sweep_id = self.submit(d, self.write_spec(max_concurrent=1))
        w = Watcher(d, "--json", str(sweep_id))
        self.addCleanup(w.stop)
        e = w.wait_for_event("waiting", trials=3)
        self.assertEqual(e["reason"], "waiting for a slot: the sweep has "
                         "its max_concurrent of 1 jobs live")
        d.ctl("pause", str(sweep_id), check=True)
        e = wait_until(lambda: [x for x in w.events("waiting") if
                                "paused" in (x["reason"] or "")],
                       what="a waiting event for the pause")[0]
        self.assertEqual(e["reason"], "waiting for rftctl resume %d: the "
                         "sweep is paused" % sweep_id)

    def test_watch_says_it_is_alive_when_nothing_else_happens(self):
        d = self.start(speed=SLOW)
        sweep_id = self.submit(d, self.write_spec(max_concurrent=1))
        text = Watcher(d, "--heartbeat", "0.5", str(sweep_id))
        ndjson = Watcher(d, "--json", "--heartbeat", "0.5", str(sweep_id))
        self.addCleanup(text.stop)
        self.addCleanup(ndjson.stop)
        line = text.wait_for(r"still following sweep")
        self.assertRegex(line, r"still following sweep %d: \[running\] "
                               r"0/4 done" % sweep_id)
        e = ndjson.wait_for_event("heartbeat")
        self.assertEqual((e["sweep_id"], e["progress"]["trials"]),
                         (sweep_id, 4))
        self.assertEqual(e["waiting"]["trials"], 3)


if __name__ == "__main__":
    unittest.main(verbosity=2)
