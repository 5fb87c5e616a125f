#!/usr/bin/env python3
"""The process backend with `launcher = slurm`, end to end against a real
single-node Slurm (tests/slurm/start.sh), the real rftd and rftctl and the
example trainer (examples/trainers/tiny_grpo.py):

1. a sweep runs through sbatch to its end, each run a Slurm job named
   <intent key> (rftd-<hex>) whose id run.json records;
2. a cancel reaches the job through scancel within stop_grace;
3. rftd killed (-9) while sbatch's answer is unrecorded, then restarted:
   the job is found by its name and adopted, never submitted twice;
4. slurmctld stopped (SIGSTOP) for 20 s mid-sweep: nothing is marked lost
   or failed, rftd keeps answering, the sweep finishes afterwards, and no
   job is submitted twice;
5. a trainer that exits 3 fails its job with "exit code 3" and its
   stderr's last lines;
6. an sbatch that times out against a stopped slurmctld (its request
   carried out once the controller runs again) is adopted, not doubled;
7. the same with the request carried out after LAUNCH_GRACE: an expected
   failure, a known defect (see the test).

The cluster is started once for the file (in a fresh temporary DIR) and
stopped with --purge at the end; each test cancels what it left running.
Without root or the Slurm packages the whole file is skipped (exit status
77) -- except under CI=true, where a missing Slurm is a failure.
RFTD_TEST_SHOW_LOG=1 prints each test's rftd log.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (LONG_WAIT, RFTD, SOURCE_DIR, WAIT, Daemon,  # noqa: E402
                     DaemonTest, wait_until)

SKIP_RETURN_CODE = 77
IN_CI = os.environ.get("CI", "").lower() in ("true", "1", "yes")
SLURM_DIR = os.path.join(SOURCE_DIR, "tests", "slurm")
TRAINER = os.path.join(SOURCE_DIR, "examples", "trainers", "tiny_grpo.py")
DATA = os.path.join(SOURCE_DIR, "examples", "data")
COMMAND = (TRAINER + " --lr {learning_rate} --steps {steps} --eval-every 10"
           " --sleep {sleep}")
STOP_GRACE = 3.0
# States of a Slurm job that has not ended yet.
LIVE = {"PENDING", "CONFIGURING", "RUNNING", "SUSPENDED", "REQUEUED",
        "RESIZING"}
EXACT = {"type": "string_check", "name": "exact",
         "input": "{{sample.output_text}}",
         "reference": "{{item.answer}}", "operation": "eq"}


def job_state_word(job):
    """squeue --json's job_state: a string (v0.0.38) or a list (newer)."""
    s = job.get("job_state")
    if isinstance(s, list):
        return s[0] if s else ""
    return s or ""


class Cluster:
    """The private Slurm of tests/slurm/ in DIR."""

    def __init__(self, top):
        self.dir = os.path.join(top, "slurm")
        self.env = dict(os.environ)

    def start(self):
        """Returns (exit status, output) of start.sh."""
        r = subprocess.run([os.path.join(SLURM_DIR, "start.sh"), self.dir],
                           capture_output=True, text=True, timeout=120)
        if r.returncode == 0:
            with open(os.path.join(self.dir, "slurm.env")) as f:
                for line in f:
                    if line.startswith("export SLURM_CONF="):
                        self.env["SLURM_CONF"] = line.split("=", 1)[1].strip()
        return r.returncode, r.stdout + r.stderr

    def stop(self):
        subprocess.run([os.path.join(SLURM_DIR, "stop.sh"), self.dir,
                        "--purge"], capture_output=True, timeout=120)

    def pid(self, name):
        with open(os.path.join(self.dir, "run", name + ".pid")) as f:
            return int(f.read().split()[0])

    def run(self, *argv, timeout=60):
        return subprocess.run(list(argv), capture_output=True, text=True,
                              env=self.env, timeout=timeout)

    def jobs(self):
        """Every job squeue --json knows (finished ones for MinJobAge),
        or None while the controller does not answer."""
        try:
            r = self.run("squeue", "--json", timeout=30)
        except subprocess.TimeoutExpired:
            return None
        if r.returncode != 0:
            return None
        try:
            d = json.loads(r.stdout)
        except ValueError:
            return None
        if d.get("errors"):
            return None
        return d.get("jobs", [])

    def answered_jobs(self):
        """jobs(), waiting for the controller to answer."""
        got = []

        def answer():
            jobs = self.jobs()
            if jobs is not None:
                got.append(jobs)
            return jobs is not None
        wait_until(answer, interval=0.2, what="squeue --json to answer")
        return got[-1]

    def named(self, name):
        return [j for j in self.answered_jobs() if j.get("name") == name]

    def cancel_all(self):
        """Cancels every job not ended and waits until none is left."""
        self.run("scancel", "--user=root")
        wait_until(lambda: not [j for j in self.answered_jobs()
                                if job_state_word(j) in LIVE
                                or job_state_word(j) == "COMPLETING"],
                   timeout=WAIT, interval=0.2,
                   what="the cluster's jobs to end")


class SlurmDaemon(Daemon):
    """An rftd with the cluster's SLURM_CONF in its environment."""

    def __init__(self, tmp, env, **kw):
        self.env = env
        super().__init__(tmp, **kw)

    def start(self, wait=True):
        self.logfile = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [RFTD, "-c", self.config] + self.args, env=self.env,
            stdout=self.logfile, stderr=subprocess.STDOUT)
        if wait:
            wait_until(self.answers, what="rftd to answer on its socket")
        return self


class SlurmTest(DaemonTest):
    cluster = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.top = tempfile.mkdtemp(prefix="rftd-slurm-")
        cls.cluster = Cluster(cls.top)
        rc, out = cls.cluster.start()
        if rc == SKIP_RETURN_CODE:
            cls.cluster.stop()
            shutil.rmtree(cls.top, ignore_errors=True)
            if IN_CI:
                raise AssertionError("CI=true and the Slurm fixture cannot "
                                     "run: " + out.strip())
            raise unittest.SkipTest(out.strip())
        if rc != 0:
            cls.cluster.stop()
            shutil.rmtree(cls.top, ignore_errors=True)
            raise AssertionError("tests/slurm/start.sh failed (%d):\n%s"
                                 % (rc, out))

    @classmethod
    def tearDownClass(cls):
        if cls.cluster is not None:
            # Never leave the controller stopped.
            try:
                os.kill(cls.cluster.pid("slurmctld"), signal.SIGCONT)
            except (OSError, ValueError):
                pass
            cls.cluster.stop()
        shutil.rmtree(cls.top, ignore_errors=True)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.workdir = os.path.join(self.tmp, "runs")
        self.extra_pids = []  # processes rftd left behind (slow sbatch)

    def tearDown(self):
        for d in self.daemons:
            d.kill()
        if os.environ.get("RFTD_TEST_SHOW_LOG"):
            for d in self.daemons[-1:]:
                sys.stderr.write("\n--- rftd's log\n" + d.read_log())
        for pid in self.extra_pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.kill(self.cluster.pid("slurmctld"), signal.SIGCONT)
        except (OSError, ValueError):
            pass
        # The job directories go with tmp: end the jobs first.
        self.cluster.cancel_all()
        super().tearDown()

    # --- helpers ----------------------------------------------------------

    def start_daemon(self, command=COMMAND, sbatch=None, max_concurrent=2):
        extra = ('[backend "hpc"]\n'
                 "type = process\n"
                 "launcher = slurm\n"
                 "command = %s\n"
                 "workdir = %s\n"
                 "gpus_per_job = 0\n"
                 "max_concurrent = %d\n"
                 "poll_interval = 0.5\n"
                 "stop_grace = %gs\n"
                 % (command, self.workdir, max_concurrent, STOP_GRACE))
        if sbatch is not None:
            extra += "sbatch = %s\n" % sbatch
        extra += '[price "hpc/*"]\nper_training_hour = 10\n'
        d = SlurmDaemon(self.tmp, self.cluster.env, extra_config=extra)
        self.daemons.append(d)
        return d.start()

    def write_spec(self, **fields):
        spec = {"name": "slurm", "backend": "hpc", "model": "tiny",
                "training_file": os.path.join(DATA, "arith-train.jsonl"),
                "validation_file": os.path.join(DATA, "arith-valid.jsonl"),
                "seeds": [1],
                "hyperparameters": {"learning_rate": [40], "steps": 40,
                                    "sleep": 0},
                "graders": {"exact": EXACT},
                "objective": {"metric": "valid_reward_mean",
                              "mode": "max"}}
        spec.update(fields)
        path = os.path.join(self.tmp, "spec.json")
        with open(path, "w") as f:
            json.dump(spec, f)
        return path

    def jobs(self, d):
        """The store's jobs: id -> dict of the columns used here."""
        return {r[0]: {"intent": r[1], "remote_id": r[2], "state": r[3],
                       "error": r[4]}
                for r in self.rows(d, "SELECT id, intent_key, remote_id,"
                                      " state, error FROM jobs")}

    def run_json(self, remote_id):
        with open(os.path.join(self.workdir, remote_id, "run.json")) as f:
            return json.load(f)

    def job_state(self, d, job_id):
        return self.rows(d, "SELECT state FROM jobs WHERE id = ?",
                         job_id)[0][0]

    def assert_one_slurm_job_per_intent(self, d):
        """Each job of the store is exactly one Slurm job, by its name."""
        for job_id, j in self.jobs(d).items():
            named = self.cluster.named(j["intent"])
            self.assertEqual(
                len(named), 1,
                "job %d (%s): %d Slurm jobs by that name: %s"
                % (job_id, j["intent"], len(named),
                   [(x["job_id"], job_state_word(x)) for x in named]))

    # --- the tests ----------------------------------------------------------

    def test_1_a_sweep_runs_through_slurm_to_its_end(self):
        d = self.start_daemon()
        sweep_id = self.submit(d, self.write_spec(
            seeds=[1, 2], hyperparameters={"learning_rate": [1e-6, 40],
                                           "steps": 40, "sleep": 0}))
        sweep = self.wait_for_sweep(d, sweep_id)
        self.assertEqual([t["state"] for t in sweep["trials"]],
                         ["succeeded"] * 4)
        board = d.ctl_json("leaderboard", str(sweep_id))
        rows = board["rows"]
        self.assertEqual(len(rows), 4, board)
        for row in rows:
            self.assertIsInstance(row.get("objective"), (int, float), row)
        # lr 40 learns the toy task; lr 1e-6 stays at chance (0.05).
        by_lr = {}
        for row in rows:
            by_lr.setdefault(row["hyperparameters"]["learning_rate"],
                             []).append(row["objective"])
        self.assertGreater(min(by_lr[40]), 0.3, by_lr)
        self.assertLess(max(by_lr[1e-6]), 0.2, by_lr)
        (n,), = self.rows(d, "SELECT count(DISTINCT job_id) FROM metrics"
                             " WHERE name = 'valid_reward_mean'")
        self.assertEqual(n, 4)
        # Each run is one Slurm job: its id in run.json, its name
        # the intent key (rftd-<hex>).
        squeue = {j["job_id"]: j for j in self.cluster.answered_jobs()}
        for job_id, j in self.jobs(d).items():
            slurm_id = self.run_json(j["remote_id"]).get("slurm_job_id")
            self.assertIsInstance(slurm_id, int, "job %d" % job_id)
            self.assertGreater(slurm_id, 0)
            self.assertIn(slurm_id, squeue)
            self.assertEqual(squeue[slurm_id]["name"], j["intent"])
            self.assertEqual(job_state_word(squeue[slurm_id]), "COMPLETED")
        self.assert_one_slurm_job_per_intent(d)

    def test_2_a_cancel_reaches_scancel(self):
        d = self.start_daemon()
        sweep_id = self.submit(d, self.write_spec(
            hyperparameters={"learning_rate": [40], "steps": 100000,
                             "sleep": 0.2}))
        # Running, and the trainer far enough to have its SIGTERM handler.
        wait_until(lambda: self.rows(
            d, "SELECT count(*) FROM metrics m JOIN jobs j ON j.id ="
               " m.job_id WHERE j.state = 'running'")[0][0] > 0,
            timeout=LONG_WAIT, what="the job to run and report metrics")
        (job_id, remote_id), = self.rows(d, "SELECT id, remote_id FROM jobs")
        slurm_id = self.run_json(remote_id)["slurm_job_id"]
        t0 = time.monotonic()
        d.ctl("cancel", "job", str(job_id), check=True)

        def slurm_state():
            for j in self.cluster.jobs() or []:
                if j["job_id"] == slurm_id:
                    return job_state_word(j)
            return None
        ended = wait_until(
            lambda: (lambda s: s if s is not None and s not in LIVE
                     else False)(slurm_state()),
            timeout=STOP_GRACE + 15, interval=0.1,
            what="Slurm job %d to end after the cancel" % slurm_id)
        took = time.monotonic() - t0
        sys.stderr.write("\n  cancel -> Slurm job %s: %.2f s\n"
                         % (ended, took))
        self.assertLessEqual(took, STOP_GRACE + 10)
        wait_until(lambda: self.job_state(d, job_id) == "cancelled",
                   what="the job to be cancelled")
        # A job cancelled by hand ends its trial; the sweep completes.
        sweep = self.wait_for_sweep(d, sweep_id)
        self.assertEqual([t["state"] for t in sweep["trials"]],
                         ["cancelled"])
        with open(os.path.join(self.workdir, remote_id, "stop")) as f:
            self.assertIn("cancel", f.read())
        self.assert_one_slurm_job_per_intent(d)

    def test_2b_a_paused_run_resumes_as_a_new_batch_job_billed_on(self):
        # Pause on Slurm is cancel with a checkpoint; the resume is another
        # batch job, and the job's billed time goes on from the first.
        d = self.start_daemon()
        sweep_id = self.submit(d, self.write_spec(
            hyperparameters={"learning_rate": [40], "steps": 60,
                             "sleep": 0.1}))
        # Late enough that the first batch job ran longer than the
        # second will.
        wait_until(lambda: self.rows(
            d, "SELECT count(*) FROM checkpoints")[0][0] >= 3,
            timeout=LONG_WAIT, what="three checkpoints to be reported")
        (job_id, remote_id), = self.rows(d, "SELECT id, remote_id FROM jobs")
        first = self.run_json(remote_id)["slurm_job_id"]
        d.ctl("pause", "job", str(job_id), check=True)
        wait_until(lambda: self.job_state(d, job_id) == "paused",
                   timeout=LONG_WAIT, what="the job to be paused")
        (paused_billed,), = self.rows(
            d, "SELECT billed_seconds FROM jobs WHERE id = ?", job_id)
        self.assertGreater(paused_billed, 0)
        d.ctl("resume", "job", str(job_id), check=True)
        sweep = self.wait_for_sweep(d, sweep_id)
        self.assertEqual([t["state"] for t in sweep["trials"]],
                         ["succeeded"])
        second = self.run_json(remote_id)["slurm_job_id"]
        self.assertNotEqual(second, first)
        (billed,), = self.rows(
            d, "SELECT billed_seconds FROM jobs WHERE id = ?", job_id)
        # Both batch jobs' run time, not the second's alone (Slurm's
        # times are whole seconds).
        rec, = [j for j in self.cluster.jobs() if j["job_id"] == second]
        ran = rec["end_time"] - rec["start_time"]
        self.assertGreater(paused_billed, 2)
        self.assertGreaterEqual(billed, paused_billed + ran - 1.5)

    def test_3_an_unrecorded_sbatch_answer_is_adopted_after_a_crash(self):
        # A slow sbatch: it submits for real, tells the test, and sleeps
        # before it prints the job id, so rftd can be killed meanwhile.
        real = shutil.which("sbatch", path=self.cluster.env.get("PATH"))
        self.assertIsNotNone(real)
        flag = os.path.join(self.tmp, "sbatch.answer")
        wrapper = os.path.join(self.tmp, "slow-sbatch")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\n"
                    "out=$(%s \"$@\") || exit $?\n"
                    "echo $$ > %s.pid\n"
                    "sleep 600 &\n"
                    "echo $! > %s.sleep\n"
                    "printf '%%s\\n' \"$out\" > %s.tmp && mv %s.tmp %s\n"
                    "wait $!\n"
                    "printf '%%s\\n' \"$out\"\n"
                    % (real, flag, flag, flag, flag, flag))
        os.chmod(wrapper, 0o755)
        d = self.start_daemon(sbatch=wrapper)
        sweep_id = self.submit(d, self.write_spec(
            hyperparameters={"learning_rate": [40], "steps": 40,
                             "sleep": 0.05}))
        wait_until(lambda: os.path.exists(flag), timeout=LONG_WAIT,
                   what="the slow sbatch to have submitted")
        for suffix in (".pid", ".sleep"):
            with open(flag + suffix) as f:
                self.extra_pids.append(int(f.read()))
        with open(flag) as f:
            slurm_id = int(f.read().split(";")[0])
        d.signal(signal.SIGKILL)
        d.proc.wait()
        for pid in self.extra_pids:
            os.kill(pid, signal.SIGKILL)
        # The answer never reached the store nor run.json.
        (job_id, intent, remote_id, state), = self.rows(
            d, "SELECT id, intent_key, remote_id, state FROM jobs")
        self.assertIsNone(remote_id)
        self.assertIn(state, ("submitting", "unknown"))
        rel = os.readlink(os.path.join(self.workdir, ".intents", intent))
        self.assertNotIn("slurm_job_id", {
            k for k, v in self.run_json(rel).items() if v})
        # Restarted with the real sbatch: found by its name, adopted.
        d2 = self.start_daemon()
        sweep = self.wait_for_sweep(d2, sweep_id)
        self.assertEqual([t["state"] for t in sweep["trials"]],
                         ["succeeded"])
        named = self.cluster.named(intent)
        self.assertEqual([j["job_id"] for j in named], [slurm_id],
                         "duplicate Slurm jobs for %s" % intent)
        self.assertEqual(self.run_json(rel).get("slurm_job_id"), slurm_id)
        self.assertEqual(self.rows(d2, "SELECT count(*) FROM jobs"),
                         [(1,)])
        events = [m for (m,) in self.rows(
            d2, "SELECT message FROM job_events WHERE job_id = ?", job_id)]
        self.assertTrue(any("adopt" in m for m in events), events)

    def test_4_a_stopped_controller_loses_nothing(self):
        d = self.start_daemon()
        sweep_id = self.submit(d, self.write_spec(
            seeds=[1, 2, 3, 4],
            hyperparameters={"learning_rate": [40], "steps": 40,
                             "sleep": 0.1}))
        wait_until(lambda: self.rows(
            d, "SELECT count(*) FROM jobs WHERE state = 'running'")[0][0]
            == 2, timeout=LONG_WAIT, what="two jobs to run")
        ctld = self.cluster.pid("slurmctld")
        bad = []

        def check_store():
            bad.extend(self.rows(
                d, "SELECT id, state, error FROM jobs"
                   " WHERE state IN ('lost', 'failed')"))
        os.kill(ctld, signal.SIGSTOP)
        try:
            t_end = time.monotonic() + 20
            answered = 0
            while time.monotonic() < t_end:
                t = time.monotonic()
                r = d.ctl("status", timeout=15)
                self.assertEqual(r.returncode, 0,
                                 "rftctl status: %s" % r.stderr)
                self.assertLess(time.monotonic() - t, 5,
                                "rftctl status took too long")
                answered += 1
                check_store()
                self.assertEqual(bad, [])
                time.sleep(1)
            self.assertGreater(answered, 5)
        finally:
            os.kill(ctld, signal.SIGCONT)

        def done():
            check_store()
            self.assertEqual(bad, [])
            return self.sweep(d, sweep_id)["state"] == "completed"
        wait_until(done, timeout=LONG_WAIT, interval=0.5,
                   what="the sweep to complete after the controller"
                        " returned")
        sweep = self.sweep(d, sweep_id)
        self.assertEqual([t["state"] for t in sweep["trials"]],
                         ["succeeded"] * 4)
        self.assertEqual(self.rows(d, "SELECT count(*) FROM jobs"), [(4,)])
        self.assert_one_slurm_job_per_intent(d)

    def test_6_an_sbatch_that_timed_out_is_not_submitted_twice(self):
        # With slurmctld stopped, sbatch times out (MessageTimeout, 10 s)
        # after its request reached the controller's socket; once the
        # controller runs again it creates that job anyway.  rftd must
        # find it by its name rather than submit the trial again.
        d = self.start_daemon()
        ctld = self.cluster.pid("slurmctld")
        os.kill(ctld, signal.SIGSTOP)
        try:
            sweep_id = self.submit(d, self.write_spec(
                hyperparameters={"learning_rate": [40], "steps": 40,
                                 "sleep": 0}))
            t_end = time.monotonic() + 20
            while time.monotonic() < t_end:
                self.assertEqual(d.ctl("status", timeout=15).returncode, 0)
                self.assertEqual(self.rows(
                    d, "SELECT count(*) FROM jobs"
                       " WHERE state IN ('lost', 'failed')"), [(0,)])
                time.sleep(1)
        finally:
            os.kill(ctld, signal.SIGCONT)
        sweep = self.wait_for_sweep(d, sweep_id)
        self.assertEqual([t["state"] for t in sweep["trials"]],
                         ["succeeded"])
        self.assertEqual(self.rows(d, "SELECT count(*) FROM jobs"), [(1,)])
        self.assert_one_slurm_job_per_intent(d)

    def test_7_an_sbatch_carried_out_after_its_timeout_is_not_doubled(self):
        # A controller that was stopped or busy carries a timed-out
        # submission out when it runs again, however late: a job whose
        # sbatch timed out is looked for by its name, never submitted
        # again while it may still appear.  Here deterministically: a fake
        # sbatch whose first call answers the timeout error and submits
        # for real DELAY s later.
        delay = 40
        real = shutil.which("sbatch", path=self.cluster.env.get("PATH"))
        flag = os.path.join(self.tmp, "late")
        wrapper = os.path.join(self.tmp, "late-sbatch")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\n"
                    "if [ ! -e %(f)s.first ]; then\n"
                    "  : > %(f)s.first\n"
                    "  (sleep %(d)d; %(r)s \"$@\" > %(f)s.tmp 2>&1;"
                    " mv %(f)s.tmp %(f)s) </dev/null >/dev/null 2>&1 &\n"
                    "  echo $! > %(f)s.pid\n"
                    "  echo 'sbatch: error: Batch job submission failed:"
                    " Socket timed out on send/recv operation' >&2\n"
                    "  exit 1\n"
                    "fi\n"
                    "exec %(r)s \"$@\"\n"
                    % {"f": flag, "d": delay, "r": real})
        os.chmod(wrapper, 0o755)
        d = self.start_daemon(sbatch=wrapper)
        sweep_id = self.submit(d, self.write_spec(
            hyperparameters={"learning_rate": [40], "steps": 40,
                             "sleep": 0}))
        wait_until(lambda: os.path.exists(flag + ".pid"),
                   what="the first sbatch to time out")
        with open(flag + ".pid") as f:
            self.extra_pids.append(int(f.read()))
        self.wait_for_sweep(d, sweep_id, timeout=LONG_WAIT)
        wait_until(lambda: os.path.exists(flag), timeout=delay + WAIT,
                   what="the late submission")
        self.assertEqual(self.rows(d, "SELECT count(*) FROM jobs"), [(1,)])
        self.assert_one_slurm_job_per_intent(d)

    def test_5_a_failing_trainer_fails_its_job_with_its_stderr(self):
        d = self.start_daemon(command=COMMAND + " --fail-at-step {fail_at}")
        sweep_id = self.submit(d, self.write_spec(
            hyperparameters={"learning_rate": [40], "steps": 40,
                             "sleep": 0, "fail_at": 5}))
        sweep = self.wait_for_sweep(d, sweep_id)
        self.assertEqual([t["state"] for t in sweep["trials"]], ["failed"])
        (job_id, state, error), = self.rows(
            d, "SELECT id, state, error FROM jobs")
        self.assertEqual(state, "failed")
        self.assertIn("exit code 3", error)
        self.assertIn("failing at step 5", error)
        shown = d.ctl("job", "show", str(job_id), check=True).stdout
        self.assertIn("exit code 3", shown)
        self.assertIn("failing at step 5, as --fail-at-step asks", shown)


def main():
    prog = unittest.main(verbosity=2, exit=False)
    r = prog.result
    if not r.wasSuccessful():
        sys.exit(1)
    # A skip in setUpClass counts as one skip and no test run.
    if r.skipped and len(r.skipped) >= r.testsRun:
        sys.exit(SKIP_RETURN_CODE)
    sys.exit(0)


if __name__ == "__main__":
    main()
