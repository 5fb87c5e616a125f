#!/usr/bin/env python3
"""The process backend's local launcher, end to end: the real rftd runs
the real example trainer (examples/trainers/tiny_grpo.py) and small shell
trainers written by the tests, as process groups on this machine, and
the real rftctl drives it: a whole sweep, a failing run, cancel (a
trainer that stops on SIGTERM, and one that ignores it and forks),
budgets that stop runs, pause and resume from a checkpoint, kill -9 of
rftd with runs live, and bad configurations, specs and metrics files.

The run contract is docs/process-backend.md; rftd's side is
daemon/process.c.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CALL_TIMEOUT, LONG_WAIT, RFTD, SOURCE_DIR,  # noqa: E402
                     WAIT, DaemonTest, wait_until)

TRAINER = os.path.join(SOURCE_DIR, "examples", "trainers", "tiny_grpo.py")
TRAIN = os.path.join(SOURCE_DIR, "examples", "data", "arith-train.jsonl")
VALID = os.path.join(SOURCE_DIR, "examples", "data", "arith-valid.jsonl")
EXACT = {"type": "string_check", "name": "exact",
         "input": "{{sample.output_text}}",
         "reference": "{{item.answer}}", "operation": "eq"}
TINY = (TRAINER + " --lr {learning_rate} --steps {steps} --eval-every 10"
        " --sleep {sleep}")
STOP_GRACE = 3.0
POLL = 0.2
# How late a stop may be seen, beyond stop_grace, on a loaded machine: a
# few polls and ticks, and a trainer's Python that the scheduler is slow
# to run.  A daemon that never stops a run still fails.
SLACK = 12.0
TERMINAL = ("succeeded", "failed", "cancelled", "lost")


def proc_stat(pid):
    """(state, pgrp) of process pid, or None when there is none."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[2])


def alive(pid):
    """True while pid is a process that is not a zombie."""
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def group_members(pgid):
    """The live (not zombie) processes of process group pgid."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st is not None and st[1] == pgid and st[0] not in ("Z", "X"):
            found.append(int(name))
    return found


def processes_in(directory, needle):
    """Live processes whose cwd is `directory` and whose command line
    holds `needle`."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            cwd = os.readlink("/proc/%s/cwd" % name)
            with open("/proc/%s/cmdline" % name, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cwd == directory and needle in cmd and alive(int(name)):
            found.append(int(name))
    return found


class ProcessTest(DaemonTest):
    """A daemon with one process backend "box" whose runs go under
    <tmp>/runs."""

    def setUp(self):
        super().setUp()
        self.workdir = os.path.join(self.tmp, "runs")
        self.groups = []  # process groups to kill if a test fails

    def tearDown(self):
        for d in self.daemons:
            d.kill()
        for pgid in self.groups:
            if group_members(pgid):
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except OSError:
                    pass
        super().tearDown()

    def config(self, command=TINY, workdir=None, price=2.5, budget="",
               **opts):
        options = {"gpus_per_job": 1, "max_concurrent": 4,
                   "poll_interval": POLL, "stop_grace": "%gs" % STOP_GRACE}
        options.update(opts)
        text = '[backend "box"]\ntype = process\n'
        if command is not None:
            text += "command = %s\n" % command
        text += "workdir = %s\n" % (workdir or self.workdir)
        for key, value in options.items():
            text += "%s = %s\n" % (key, value)
        text += '[price "box/*"]\nper_gpu_hour = %g\n' % price
        if budget:
            text += "[budget]\n" + budget
        return text

    def start(self, **kw):
        self.start_kw = kw
        self.extra = self.config(**kw)
        return self.daemon(daemon_section="tick = 50\n",
                           extra_config=self.extra)

    def restart(self):
        return self.daemon(daemon_section="tick = 50\n",
                           extra_config=self.extra)

    def write_spec(self, filename="spec.json", **fields):
        spec = {"name": "tiny", "backend": "box", "model": "tiny",
                "training_file": TRAIN, "validation_file": VALID,
                "max_job_hours": 0.1, "seeds": [1],
                "hyperparameters": {"learning_rate": 40, "steps": 20,
                                    "sleep": 0},
                "graders": {"exact": EXACT},
                "objective": {"metric": "valid_reward_mean",
                              "mode": "max"}}
        spec.update(fields)
        path = os.path.join(self.tmp, filename)
        with open(path, "w") as f:
            json.dump(spec, f)
        return path

    # Jobs and their directories.

    def job(self, d, job_id):
        return d.ctl_json("job", "show", str(job_id))

    def job_state(self, d, job_id):
        (state,), = self.rows(d, "SELECT state FROM jobs WHERE id = ?",
                              job_id)
        return state

    def jobs(self, d):
        return self.rows(d, "SELECT id, trial_id, attempt, state, remote_id"
                            " FROM jobs ORDER BY id")

    def wait_state(self, d, job_id, states, timeout=WAIT):
        """Waits for the job to reach one of `states`; fails at once when
        it ends in another."""
        if isinstance(states, str):
            states = (states,)

        def reached():
            state = self.job_state(d, job_id)
            if state in TERMINAL and state not in states:
                (error,), = self.rows(d, "SELECT error FROM jobs WHERE"
                                         " id = ?", job_id)
                raise AssertionError("job %d ended %s, not %s: %s"
                                     % (job_id, state, "/".join(states),
                                        error))
            return state in states and state
        return wait_until(reached, timeout=timeout,
                          what="job %d to be %s" % (job_id,
                                                    " or ".join(states)))

    def job_dir(self, d, job_id):
        (remote,), = self.rows(d, "SELECT remote_id FROM jobs WHERE id = ?",
                               job_id)
        self.assertIsNotNone(remote, "job %d has no remote id" % job_id)
        return os.path.join(self.workdir, remote)

    def wrapper_pid(self, directory, name="pid"):
        """The pid the wrapper wrote, once it has (else None)."""
        try:
            with open(os.path.join(directory, name)) as f:
                text = f.read().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def run_json(self, directory):
        with open(os.path.join(directory, "run.json")) as f:
            return json.load(f)

    def wait_running(self, d, job_id, min_step=1, timeout=WAIT):
        """Waits until the job runs, its wrapper wrote its pid and rftd
        stored a metric of step >= min_step; returns (dir, pid)."""
        self.wait_state(d, job_id, "running", timeout=timeout)
        directory = wait_until(lambda: self.job_dir_if_any(d, job_id),
                               what="job %d's directory" % job_id)
        pid = wait_until(lambda: self.wrapper_pid(directory),
                         what="job %d's pid file" % job_id)
        self.groups.append(pid)
        wait_until(lambda: self.max_step(d, job_id) >= min_step,
                   timeout=timeout,
                   what="job %d to report step %d" % (job_id, min_step))
        return directory, pid

    def job_dir_if_any(self, d, job_id):
        rows = self.rows(d, "SELECT remote_id FROM jobs WHERE id = ?", job_id)
        if rows and rows[0][0]:
            return os.path.join(self.workdir, rows[0][0])
        return None

    def max_step(self, d, job_id, name="train_reward_mean"):
        (step,), = self.rows(d, "SELECT coalesce(max(step), 0) FROM metrics"
                                " WHERE job_id = ? AND name = ?",
                             job_id, name)
        return step

    def metric_steps(self, d, job_id, name="train_reward_mean"):
        return [s for s, in self.rows(
            d, "SELECT step FROM metrics WHERE job_id = ? AND name = ?"
               " ORDER BY step", job_id, name)]

    def assert_group_gone(self, pgid, what):
        wait_until(lambda: not group_members(pgid), timeout=WAIT,
                   what="%s: no process left in group %d" % (what, pgid))

    def file_steps(self, directory):
        """The steps of the metrics lines in the run's metrics.jsonl."""
        steps = []
        with open(os.path.join(directory, "metrics.jsonl")) as f:
            for line in f:
                rec = json.loads(line)
                if "metrics" in rec:
                    steps.append(rec["step"])
        return steps


class Sweep(ProcessTest):
    def test_a_sweep_of_the_example_trainer_runs_to_its_end(self):
        d = self.start()
        sweep_id = self.submit(d, self.write_spec(
            seeds=[1, 2],
            hyperparameters={"learning_rate": [1e-6, 10, 40, 60],
                             "steps": 60, "sleep": 0}))
        sweep = self.wait_for_sweep(d, sweep_id)
        self.assertEqual(len(sweep["trials"]), 8)
        self.assertEqual([t["state"] for t in sweep["trials"]],
                         ["succeeded"] * 8)
        self.assertEqual([t["job"]["state"] for t in sweep["trials"]],
                         ["succeeded"] * 8)

        # The leaderboard: the best trial has the highest learning rate
        # and learnt; the tiny learning rate stays at chance (1 in 20).
        board = d.ctl_json("leaderboard", str(sweep_id))["rows"]
        self.assertEqual(len(board), 8)
        best = board[0]
        self.assertIn(best["hyperparameters"]["learning_rate"], (40, 60))
        self.assertGreater(best["objective"], 0.5)
        lr60 = [r["objective"] for r in board
                if r["hyperparameters"]["learning_rate"] == 60]
        self.assertTrue(all(v > 0.5 for v in lr60), lr60)
        for r in board:
            if r["hyperparameters"]["learning_rate"] == 1e-6:
                self.assertAlmostEqual(r["objective"], 0.05, delta=0.01)
        text = d.ctl("leaderboard", str(sweep_id), check=True).stdout
        self.assertIn("learning_rate=60", text.splitlines()[2], text)

        # rftctl sql: metrics of every job, costs, the ledger.
        rows = json.loads(d.ctl(
            "sql", "SELECT job_id, name, count(*) AS n, max(step) AS last"
                   " FROM metrics WHERE name IN ('train_reward_mean',"
                   " 'valid_reward_mean') GROUP BY job_id, name",
            "--format", "json", check=True).stdout)
        counts = {(r["job_id"], r["name"]): (r["n"], r["last"])
                  for r in rows}
        self.assertEqual(len(counts), 16, rows)
        for (job_id, name), (n, last) in counts.items():
            self.assertEqual(last, 60)
            self.assertEqual(n, 60 if name == "train_reward_mean" else 6)
        jobs = json.loads(d.ctl(
            "sql", "SELECT id, cost_usd, billed_seconds, rate_usd_per_hour,"
                   " ledgered_usd FROM jobs", "--format", "json",
            check=True).stdout)
        self.assertEqual(len(jobs), 8)
        for j in jobs:
            self.assertGreater(j["cost_usd"], 0, j)
            self.assertGreater(j["billed_seconds"], 0, j)
            self.assertEqual(j["rate_usd_per_hour"], 2.5)  # 1 GPU x $2.50
            self.assertAlmostEqual(j["cost_usd"],
                                   j["billed_seconds"] / 3600 * 2.5,
                                   places=9)
            self.assertAlmostEqual(j["ledgered_usd"], j["cost_usd"],
                                   places=9)
        ledger = json.loads(d.ctl(
            "sql", "SELECT scope, sum(amount_usd) AS usd FROM ledger"
                   " WHERE kind = 'accrue' GROUP BY scope",
            "--format", "json", check=True).stdout)
        total = sum(j["cost_usd"] for j in jobs)
        spent = {r["scope"]: r["usd"] for r in ledger}
        self.assertAlmostEqual(spent["global"], total, places=9)
        self.assertAlmostEqual(spent["sweep:%d" % sweep_id], total,
                               places=9)

        # The job directory of the trial with learning rate 1e-6, seed 1.
        (job_id, remote), = self.rows(
            d, "SELECT j.id, j.remote_id FROM jobs j JOIN trials t ON"
               " t.id = j.trial_id WHERE t.seed = 1 AND"
               " json_extract(t.hyperparameters, '$.learning_rate') = 1e-6")
        directory = os.path.join(self.workdir, remote)
        self.assertTrue(re.match(r"^%d-tiny/\d+-1$" % sweep_id, remote),
                        remote)
        with open(os.path.join(directory, "trial.json")) as f:
            trial = json.load(f)
        self.assertEqual(trial["hyperparameters"],
                         {"learning_rate": 1e-6, "steps": 60, "sleep": 0})
        self.assertEqual(trial["grader"], EXACT)
        self.assertEqual(trial["grader_name"], "exact")
        self.assertEqual(trial["seed"], 1)
        self.assertEqual(trial["training_file"], TRAIN)
        self.assertEqual(trial["validation_file"], VALID)
        self.assertEqual(trial["sweep_id"], sweep_id)
        with open(os.path.join(directory, "command.sh")) as f:
            command = f.read()
        self.assertIn(TRAINER + " --lr '1e-06' --steps '60' --eval-every 10"
                      " --sleep '0'", command)
        for name in ("run.sh", "run.json", "pid", "exit", "stderr",
                     "metrics.jsonl"):
            self.assertTrue(os.path.isfile(os.path.join(directory, name)),
                            name)
        with open(os.path.join(directory, "exit")) as f:
            self.assertEqual(json.load(f)["status"], 0)
        self.assertTrue(os.path.isdir(os.path.join(
            directory, "checkpoints", "step-000060")))
        (ckpts,), = self.rows(d, "SELECT count(*) FROM checkpoints"
                                 " WHERE job_id = ?", job_id)
        self.assertEqual(ckpts, 6)


class Failure(ProcessTest):
    def test_a_failing_run_fails_its_job_with_exit_code_and_stderr(self):
        d = self.start(command=TINY + " --fail-at-step {fail}")
        sweep_id = self.submit(d, self.write_spec(hyperparameters={
            "learning_rate": 40, "steps": 20, "sleep": 0, "fail": 5}))
        sweep = self.wait_for_sweep(d, sweep_id)
        trial, = sweep["trials"]
        self.assertEqual(trial["state"], "failed")
        job_id = trial["job"]["id"]
        self.assertEqual(self.job_state(d, job_id), "failed")
        text = d.ctl("job", "show", str(job_id), check=True).stdout
        self.assertIn("exit code 3", text)
        self.assertIn("failing at step 5, as --fail-at-step asks", text)
        (error,), = self.rows(d, "SELECT error FROM jobs WHERE id = ?",
                              job_id)
        self.assertIn("exit code 3", error)
        self.assertIn("--fail-at-step", error)
        # The steps before the failure were read.
        self.assertEqual(self.max_step(d, job_id), 4)


class Cancel(ProcessTest):
    def test_cancel_stops_a_trainer_by_sigterm_within_stop_grace(self):
        d = self.start()
        self.submit(d, self.write_spec(hyperparameters={
            "learning_rate": 40, "steps": 1000, "sleep": 0.2}))
        job_id = 1
        directory, pid = self.wait_running(d, job_id, min_step=2)
        trainers = processes_in(directory, "tiny_grpo")
        self.assertEqual(len(trainers), 1, trainers)
        t0 = time.monotonic()
        d.ctl("cancel", "job", str(job_id), check=True)
        self.wait_state(d, job_id, "cancelled", timeout=STOP_GRACE + SLACK)
        elapsed = time.monotonic() - t0
        self.assertLess(elapsed, STOP_GRACE + SLACK)
        self.assert_group_gone(pid, "cancelled run")
        self.assertFalse(alive(pid))
        self.assertFalse(alive(trainers[0]))
        # rftd needed no SIGKILL of its own.
        self.assertNotIn("SIGKILL", d.read_log())
        with open(os.path.join(directory, "stop")) as f:
            self.assertEqual(json.load(f)["action"], "cancel")
        trial, = self.sweep(d, 1)["trials"]
        self.assertEqual(trial["state"], "cancelled")
        # Nothing bills after the stop.
        (cost,), = self.rows(d, "SELECT cost_usd FROM jobs WHERE id = ?",
                             job_id)
        time.sleep(3 * POLL)
        (cost2,), = self.rows(d, "SELECT cost_usd FROM jobs WHERE id = ?",
                              job_id)
        self.assertEqual(cost, cost2)

    def test_a_trainer_under_sh_gets_to_handle_sigterm(self):
        # The command is not `exec ...`: the shell that runs it waits
        # for the trainer to save its checkpoint and stop.
        d = self.start()
        self.submit(d, self.write_spec(hyperparameters={
            "learning_rate": 40, "steps": 1000, "sleep": 0.2}))
        directory, pid = self.wait_running(d, 1, min_step=2)
        d.ctl("cancel", "job", "1", check=True)
        self.wait_state(d, 1, "cancelled", timeout=STOP_GRACE + SLACK)
        self.assert_group_gone(pid, "cancelled run")
        last = max(self.file_steps(directory))
        with open(os.path.join(directory, "stderr")) as f:
            self.assertIn("stopped by signal 15 after step %d" % last,
                          f.read())
        self.assertTrue(os.path.isdir(os.path.join(
            directory, "checkpoints", "step-%06d" % last)))

    def test_a_trainer_that_ignores_sigterm_and_forks_is_killed_whole(self):
        script = os.path.join(self.tmp, "stubborn.sh")
        with open(script, "w") as f:
            f.write('trap "" TERM\n'
                    'sleep 1000 &\n'
                    'echo $! > child.pid\n'
                    'echo \'{"step": 1, "metrics": {"train_reward_mean":'
                    ' 0.5}}\' >> "$RFTD_METRICS"\n'
                    'sleep 1000\n')
        # exec: the script's shell, which ignores SIGTERM, is the
        # command (see test_a_trainer_under_sh_gets_to_handle_sigterm).
        d = self.start(command="exec /bin/sh %s {trial}" % script)
        self.submit(d, self.write_spec())
        job_id = 1
        directory, pid = self.wait_running(d, job_id)
        child = wait_until(lambda: self.wrapper_pid(directory, "child.pid"),
                           what="the background child's pid")
        members = group_members(pid)
        self.assertIn(child, members)
        self.assertGreaterEqual(len(members), 4, members)  # sh, sh, 2 sleeps
        t0 = time.monotonic()
        d.ctl("cancel", "job", str(job_id), check=True)
        # SIGTERM is ignored: the run lives on until stop_grace is over.
        time.sleep(STOP_GRACE / 3)
        if time.monotonic() - t0 < STOP_GRACE * 0.9:
            self.assertTrue(alive(child))
            self.assertNotEqual(self.job_state(d, job_id), "cancelled")
        self.wait_state(d, job_id, "cancelled", timeout=STOP_GRACE + SLACK)
        elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, STOP_GRACE * 0.9)
        self.assertLess(elapsed, STOP_GRACE + SLACK)
        self.assert_group_gone(pid, "killed run")
        self.assertFalse(alive(child))
        self.assertFalse(alive(pid))
        self.assertIn("job %s: still running" %
                      os.path.relpath(directory, self.workdir), d.read_log())
        self.assertIn("SIGKILL", d.read_log())
        self.assertEqual(self.sweep(d, 1)["trials"][0]["state"],
                         "cancelled")


class Budget(ProcessTest):
    RATE = 36000.0  # $/GPU-hour: $10 a second

    def budget(self, limit, action):
        return ("global = %g\nglobal_action = %s\ncancel_latency = 2\n"
                % (limit, action))

    def lower_global_limit(self, d, limit, action):
        """Reloads the configuration with a new global limit."""
        applied = d.read_log().count("reload: configuration applied")
        kw = dict(self.start_kw, budget=self.budget(limit, action))
        self.extra = self.config(**kw)
        d.write_config("tick = 50\n", self.extra)
        d.signal(signal.SIGHUP)
        wait_until(lambda: d.read_log().count(
            "reload: configuration applied") > applied,
            what="the configuration to be reloaded")

    def global_spent(self, d):
        for s in d.ctl_json("budget")["scopes"]:
            if s["scope"] == "global":
                return s["spent_usd"]
        raise AssertionError("no global scope")

    def spend_now(self, d):
        (usd,), = self.rows(d, "SELECT coalesce(sum(cost_usd), 0)"
                               " FROM jobs")
        return usd

    def test_a_global_limit_cancels_running_runs_before_it_is_crossed(self):
        # max_job_hours 0.01 h: a $360 worst case per job, admitted under
        # the first limit; the lower limit then stops the running jobs.
        d = self.start(price=self.RATE,
                       budget=self.budget(100000, "cancel"))
        self.submit(d, self.write_spec(
            max_job_hours=0.01, seeds=[1, 2],
            hyperparameters={"learning_rate": 40, "steps": 100000,
                             "sleep": 0.1}))
        dirs = [self.wait_running(d, j)[0] for j in (1, 2)]
        limit = self.spend_now(d) + 120
        self.lower_global_limit(d, limit, "cancel")
        for j in (1, 2):
            self.wait_state(d, j, TERMINAL, timeout=LONG_WAIT)
        self.assertEqual([self.job_state(d, j) for j in (1, 2)],
                         ["cancelled"] * 2)
        for directory in dirs:
            self.assert_group_gone(self.wrapper_pid(directory),
                                   "run stopped by the budget")
        # Each run was asked to stop, not killed by its deadline.
        for directory in dirs:
            with open(os.path.join(directory, "stop")) as f:
                self.assertEqual(json.load(f)["action"], "cancel")
        halts = self.rows(d, "SELECT scope, action FROM halts")
        self.assertIn(("global", "cancel"), halts)
        # The promise: spend stays within the limit plus the rate of the
        # running jobs times (tick + cancel_latency).
        wait_until(lambda: all(
            self.rows(d, "SELECT ledgered_usd = cost_usd FROM jobs"
                         " WHERE id = ?", j) == [(1,)] for j in (1, 2)),
            what="the ledger to hold every cost")
        spent = self.global_spent(d)
        margin = 2 * self.RATE / 3600 * (0.05 + 2)
        self.assertGreater(spent, limit - 2 * 10 * 8,
                           "the jobs were stopped long before the limit")
        self.assertLessEqual(spent, limit + margin)
        # The sweep is marked completed at the end of the tick after.
        sweep = self.wait_for_sweep(d, 1)
        self.assertEqual([t["state"] for t in sweep["trials"]],
                         ["cancelled"] * 2)

    def test_a_pause_budget_pauses_a_checkpointed_run_and_cancels_one_without(
            self):
        command = (TRAINER + " --lr 40 --steps 100000 --eval-every {every}"
                   " --sleep 0.1")
        d = self.start(command=command, price=self.RATE,
                       budget=self.budget(100000, "pause"))
        # Trial 1 checkpoints every 2 steps; trial 2 never before its end.
        self.submit(d, self.write_spec(
            max_job_hours=0.01,
            hyperparameters={"every": [2, 100000]}))
        ckpt_dir, _ = self.wait_running(d, 1)
        none_dir, _ = self.wait_running(d, 2)
        wait_until(lambda: self.rows(d, "SELECT count(*) FROM checkpoints"
                                        " WHERE job_id = 1")[0][0] > 0,
                   what="job 1 to report a checkpoint")
        self.assertEqual(self.rows(d, "SELECT count(*) FROM checkpoints"
                                      " WHERE job_id = 2"), [(0,)])
        limit = self.spend_now(d) + 120
        self.lower_global_limit(d, limit, "pause")
        self.wait_state(d, 1, ("paused",) + TERMINAL, timeout=LONG_WAIT)
        self.wait_state(d, 2, ("paused",) + TERMINAL, timeout=LONG_WAIT)
        self.assertEqual(self.job_state(d, 1), "paused")
        self.assertEqual(self.job_state(d, 2), "cancelled")
        with open(os.path.join(ckpt_dir, "stop")) as f:
            self.assertEqual(json.load(f)["action"], "pause")
        with open(os.path.join(none_dir, "stop")) as f:
            self.assertEqual(json.load(f)["action"], "cancel")
        self.assertEqual(self.rows(d, "SELECT budget_paused FROM jobs"
                                      " ORDER BY id"), [(1,), (0,)])
        for directory in (ckpt_dir, none_dir):
            self.assert_group_gone(self.wrapper_pid(directory),
                                   "run stopped by the budget")
        self.assertTrue([n for n in os.listdir(
            os.path.join(ckpt_dir, "checkpoints")) if n.startswith("step-")])


class PauseResume(ProcessTest):
    COMMAND = ('echo "resume=${RFTD_RESUME_FROM:-none}" >> resume.log;'
               ' exec ' + TRAINER + ' --lr 40 --steps {steps}'
               ' --eval-every 5 --sleep {sleep}')

    def pause_then_resume(self, steps, wait_out_grace):
        """Pauses a run after its first checkpoint, resumes it, and checks
        that it goes on from where it stopped to its end."""
        d = self.start(command=self.COMMAND, stop_grace="%gs" % self.grace)
        self.submit(d, self.write_spec(hyperparameters={
            "steps": steps, "sleep": 0.15}))
        job_id = 1
        directory, pid = self.wait_running(d, job_id, min_step=7)
        wait_until(lambda: self.rows(d, "SELECT count(*) FROM checkpoints"
                                        " WHERE job_id = 1")[0][0] > 0,
                   what="a checkpoint to be reported")
        paused = time.monotonic()
        d.ctl("pause", "job", str(job_id), check=True)
        self.wait_state(d, job_id, "paused", timeout=self.grace + SLACK)
        self.assert_group_gone(pid, "paused run")
        self.assertEqual(self.sweep(d, 1)["trials"][0]["state"], "paused")
        ckpts = sorted(n for n in os.listdir(
            os.path.join(directory, "checkpoints")) if n.startswith("step-"))
        self.assertTrue(ckpts)
        paused_at = int(ckpts[-1][len("step-"):])
        self.assertLess(paused_at, steps)
        # The trainer saved the step it stopped at.
        self.assertEqual(max(self.file_steps(directory)), paused_at)
        # Paused: nothing more runs, nothing more is billed.
        (billed,), = self.rows(d, "SELECT billed_seconds FROM jobs")
        time.sleep(3 * POLL)
        self.assertEqual(self.rows(d, "SELECT billed_seconds FROM jobs"),
                         [(billed,)])
        if wait_out_grace:
            # Until the pause's stop_grace is over (a timer in rftd that
            # nothing outside shows): see
            # test_a_run_resumed_soon_after_its_pause_is_not_killed.
            time.sleep(max(0, paused + self.grace + 0.5 - time.monotonic()))
        elif time.monotonic() - paused > self.grace - 1:
            self.skipTest("too slow to resume within stop_grace")

        d.ctl("resume", "job", str(job_id), check=True)
        self.wait_state(d, job_id, "succeeded", timeout=LONG_WAIT)
        with open(os.path.join(directory, "resume.log")) as f:
            self.assertEqual(f.read().split(), [
                "resume=none",
                "resume=" + os.path.join(directory, "checkpoints",
                                         ckpts[-1])])
        with open(os.path.join(directory, "stderr")) as f:
            self.assertIn("resuming after step %d" % paused_at, f.read())
        # Steps continue after the checkpoint: none repeats, none is
        # missing, up to the last.
        self.assertEqual(self.file_steps(directory),
                         list(range(1, steps + 1)))
        self.assertEqual(self.metric_steps(d, job_id),
                         list(range(1, steps + 1)))
        self.assertEqual(self.run_json(directory)["segment"], 2)
        self.assertNotEqual(self.wrapper_pid(directory), pid)
        (billed2,), = self.rows(d, "SELECT billed_seconds FROM jobs")
        self.assertGreater(billed2, billed)
        self.wait_for_sweep(d, 1)
        self.assertNotIn("SIGKILL", d.read_log())

    def test_a_paused_run_resumes_from_its_checkpoint_to_the_end(self):
        self.grace = STOP_GRACE
        self.pause_then_resume(40, wait_out_grace=True)

    def test_a_run_resumed_soon_after_its_pause_is_not_killed(self):
        # The pause's kill timer is for the run that stopped, not for
        # the one resumed before stop_grace is over.
        self.grace = 6.0
        self.pause_then_resume(60, wait_out_grace=False)


class Restart(ProcessTest):
    def test_kill_9_of_rftd_readopts_live_runs_and_reads_ended_ones(self):
        steps = 30
        d = self.start()
        self.submit(d, self.write_spec(seeds=[1, 2], hyperparameters={
            "learning_rate": 40, "steps": steps, "sleep": 0.3}))
        live = {}
        for j in (1, 2):
            live[j] = self.wait_running(d, j)
        d.kill()
        for j, (directory, pid) in live.items():
            self.assertTrue(alive(pid), "run %d died with rftd" % j)

        # First restart: the runs are adopted and keep running.
        d = self.restart()
        for j, (directory, pid) in live.items():
            # The new rftd reads on: new steps, from the same run.
            step = self.max_step(d, j)
            wait_until(lambda: self.max_step(d, j) > step,
                       what="job %d's metrics after the restart" % j)
            self.assertEqual(self.run_json(directory)["pid"], pid)
            self.assertLessEqual(len(processes_in(directory, "tiny_grpo")),
                                 1)
        still = [j for j in live if self.job_state(d, j) == "running"]
        self.assertTrue(still, "the runs ended before a second kill")

        # Second kill: the runs end while rftd is down; their exits are
        # read after the restart.
        d.kill()
        for j in still:
            directory = live[j][0]
            wait_until(lambda: os.path.exists(os.path.join(directory,
                                                           "exit")),
                       timeout=LONG_WAIT,
                       what="run %d to end while rftd is down" % j)
        d = self.restart()
        sweep = self.wait_for_sweep(d, 1)
        self.assertEqual([t["state"] for t in sweep["trials"]],
                         ["succeeded"] * 2)
        self.assertEqual(sorted(j[3] for j in self.jobs(d)),
                         ["succeeded"] * 2)
        self.assertEqual([t["attempts"] for t in sweep["trials"]], [1, 1])
        # One launch per job: one directory per trial, one segment, the
        # same pid, the trainer started once.
        sweep_dir = os.path.dirname(live[1][0])
        self.assertEqual(sorted(os.listdir(sweep_dir)),
                         sorted(os.path.basename(live[j][0])
                                for j in live))
        self.assertEqual(len(os.listdir(os.path.join(self.workdir,
                                                     ".intents"))), 2)
        for j, (directory, pid) in live.items():
            rj = self.run_json(directory)
            self.assertEqual((rj["pid"], rj["segment"]), (pid, 1))
            self.assertEqual(self.wrapper_pid(directory), pid)
            with open(os.path.join(directory, "stderr")) as f:
                self.assertEqual(f.read().count("training rows"), 1)
            with open(os.path.join(directory, "exit")) as f:
                self.assertEqual(json.load(f)["status"], 0)
            self.assertEqual(self.metric_steps(d, j),
                             list(range(1, steps + 1)))
            (cost,), = self.rows(d, "SELECT cost_usd FROM jobs WHERE id = ?",
                                 j)
            self.assertGreater(cost, 0)


class BadInput(ProcessTest):
    def check_config(self, extra):
        """rftd -n on a configuration; returns (exit status, output)."""
        self.extra = extra
        d = self.daemon(start=False, daemon_section="tick = 50\n",
                        extra_config=extra)
        r = subprocess.run([RFTD, "-n", "-c", d.config], capture_output=True,
                           text=True, timeout=CALL_TIMEOUT)
        return d, r.returncode, r.stdout + r.stderr

    def refused_start(self, d):
        """rftd started on d's configuration exits non-zero by itself."""
        with open(d.log, "ab") as log:
            p = subprocess.Popen([RFTD, "-c", d.config, "-f"], stdout=log,
                                 stderr=subprocess.STDOUT)
            try:
                rc = p.wait(CALL_TIMEOUT)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                raise AssertionError("rftd started: " + d.read_log())
        self.assertNotEqual(rc, 0)
        self.assertFalse(os.path.exists(d.socket) and d.answers())
        return d.read_log()

    def test_a_backend_without_command_is_refused(self):
        d, rc, out = self.check_config(self.config(command=None))
        self.assertNotEqual(rc, 0, out)
        self.assertIn("command is missing", out)
        log = self.refused_start(d)
        self.assertIn("command is missing", log)

    def test_an_unwritable_workdir_is_refused_at_start(self):
        blocker = os.path.join(self.tmp, "a-file")
        with open(blocker, "w") as f:
            f.write("not a directory\n")
        workdir = os.path.join(blocker, "runs")
        d = self.daemon(start=False, daemon_section="tick = 50\n",
                        extra_config=self.config(workdir=workdir))
        log = self.refused_start(d)
        self.assertIn("workdir %s" % workdir, log)
        self.assertFalse(os.path.exists(d.database) and self.rows(
            d, "SELECT count(*) FROM sweeps")[0][0])

    def test_a_placeholder_without_a_value_is_refused_and_nothing_stored(
            self):
        d = self.start(command=TINY + " --group {x}")
        spec = self.write_spec()
        for verb in ("plan", "submit"):
            r = d.ctl(verb, spec)
            self.assertNotEqual(r.returncode, 0, r.stdout)
            self.assertIn("{x}", r.stderr)
            self.assertIn("placeholder", r.stderr)
        self.assertEqual(self.rows(d, "SELECT count(*) FROM sweeps"), [(0,)])
        self.assertEqual(self.rows(d, "SELECT count(*) FROM jobs"), [(0,)])
        self.assertFalse(os.path.exists(os.path.join(self.workdir, "1-tiny")))
        d.ctl("status", check=True)
        # With the value, the same command runs.
        sweep_id = self.submit(d, self.write_spec(hyperparameters={
            "learning_rate": 40, "steps": 5, "sleep": 0, "x": 4}))
        self.assertEqual(self.wait_for_sweep(d, sweep_id)["trials"][0]
                         ["state"], "succeeded")

    def test_a_non_scalar_hyperparameter_is_refused_with_its_path(self):
        d = self.start()
        for value, path in (({"a": 1}, "/hyperparameters/shape"),
                            ([1, {"a": 1}], "/hyperparameters/shape/1")):
            spec = self.write_spec(hyperparameters={
                "learning_rate": 40, "steps": 5, "sleep": 0,
                "shape": value})
            for verb in ("plan", "submit"):
                r = d.ctl(verb, spec)
                self.assertNotEqual(r.returncode, 0, r.stdout)
                self.assertIn(path + ": must be a number, a boolean or a"
                              " string", r.stderr)
        self.assertEqual(self.rows(d, "SELECT count(*) FROM sweeps"), [(0,)])
        d.ctl("status", check=True)

    def test_a_huge_line_and_junk_in_metrics_do_not_hide_good_lines(self):
        script = os.path.join(self.tmp, "messy.py")
        with open(script, "w") as f:
            f.write(
                "import json, os, sys, time\n"
                "m = open(os.environ['RFTD_METRICS'], 'ab')\n"
                "def good(step):\n"
                "    m.write(json.dumps({'step': step, 'metrics': {\n"
                "        'train_reward_mean': step / 10}}).encode()\n"
                "        + b'\\n')\n"
                "    m.flush()\n"
                "good(1)\n"
                "m.write(b'x' * (3 << 20)); m.flush()\n"
                "time.sleep(0.5)\n"
                "m.write(b'\\n'); good(2)\n"
                "m.write(b'\\x00\\xff\\xfe junk \\x80\\x81\\n'); m.flush()\n"
                "m.write(b'{\"step\": 3, \"metrics\": 7}\\n'); m.flush()\n"
                "good(4); good(5)\n"
                "time.sleep(float(sys.argv[1]))\n")
        d = self.start(command="/usr/bin/python3 %s {sleep}" % script)
        self.submit(d, self.write_spec(hyperparameters={"sleep": 1}))
        sweep = self.wait_for_sweep(d, 1)
        self.assertEqual(sweep["trials"][0]["state"], "succeeded")
        self.assertEqual(self.metric_steps(d, 1), [1, 2, 4, 5])
        (v,), = self.rows(d, "SELECT value FROM metrics WHERE job_id = 1"
                             " AND name = 'train_reward_mean' AND step = 5")
        self.assertAlmostEqual(v, 0.5)
        d.ctl("status", check=True)
        self.assertRegex(d.read_log(), r"job 1-tiny/1-1: metrics: .*")


class Gpus(ProcessTest):
    def test_each_local_run_gets_gpus_of_its_own(self):
        script = os.path.join(self.tmp, "gpu.sh")
        with open(script, "w") as f:
            f.write('#!/bin/sh\n'
                    'echo "$CUDA_VISIBLE_DEVICES" > cuda\n'
                    'date +%s.%N > started\n'
                    'sleep "$1"\n'
                    'date +%s.%N > ended\n')
        os.chmod(script, 0o755)
        # Two GPUs, one a run: at most two runs at once, unless told.
        extra = self.config(command="%s {sleep}" % script, gpus="0, 1")
        extra = extra.replace("max_concurrent = 4\n", "")
        d = self.daemon(daemon_section="tick = 50\n", extra_config=extra)
        box, = [b for b in d.ctl_json("status")["backends"]
                if b["name"] == "box"]
        self.assertEqual(box["max_concurrent"], 2)
        sweep_id = self.submit(d, self.write_spec(
            seeds=[1, 2, 3, 4, 5], hyperparameters={"sleep": 0.5}))
        self.wait_for_sweep(d, sweep_id)
        runs = []
        for (remote_id,) in self.rows(d, "SELECT remote_id FROM jobs"):
            directory = os.path.join(self.workdir, remote_id)
            with open(os.path.join(directory, "cuda")) as f:
                cuda = f.read().strip()
            with open(os.path.join(directory, "started")) as f:
                started = float(f.read())
            with open(os.path.join(directory, "ended")) as f:
                ended = float(f.read())
            runs.append((cuda, started, ended))
        self.assertEqual(len(runs), 5)
        self.assertTrue(all(cuda in ("0", "1") for cuda, _, _ in runs),
                        runs)
        for i, (a, a0, a1) in enumerate(runs):
            for b, b0, b1 in runs[i + 1:]:
                if a0 < b1 and b0 < a1:  # at the same time
                    self.assertNotEqual(a, b, runs)
        # Every GPU is free again.
        self.assertEqual(os.listdir(os.path.join(self.workdir, ".gpus")),
                         [])


if __name__ == "__main__":
    unittest.main()
