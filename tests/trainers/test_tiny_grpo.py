#!/usr/bin/python3
"""Tests of examples/trainers/tiny_grpo.py, the example trainer of rftd's
process backend: real runs, as rftd would start them (RFTD_* environment,
trial.json, metrics file, checkpoint directory), checked for learning,
the metrics format, stop and resume, graders and bad input.

Run:  /usr/bin/python3 tests/trainers/test_tiny_grpo.py
"""

import json
import math
import os
import signal
import subprocess
import tempfile
import time
import unittest

PYTHON = "/usr/bin/python3"
SOURCE_DIR = os.environ.get("RFTD_SOURCE_DIR") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TRAINER = os.path.join(SOURCE_DIR, "examples", "trainers", "tiny_grpo.py")
TRAIN = os.path.join(SOURCE_DIR, "examples", "data", "arith-train.jsonl")
VALID = os.path.join(SOURCE_DIR, "examples", "data", "arith-valid.jsonl")

# Generous: the machine that runs the suite may be slow and busy.
RUN_TIMEOUT = 60


def numpy_missing():
    try:
        r = subprocess.run([PYTHON, "-c", "import numpy"],
                           capture_output=True, timeout=RUN_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{PYTHON} does not run: {e}"
    if r.returncode != 0:
        return (f"numpy is not importable by {PYTHON} "
                "(install python3-numpy; scripts/install-deps.sh does)")
    return None


SKIP_REASON = numpy_missing()


def grader_eq():
    return {"type": "string_check", "name": "exact",
            "input": "{{sample.output_text}}",
            "reference": "{{item.answer}}", "operation": "eq"}


class Job:
    """A job directory laid out the way rftd lays it out."""

    def __init__(self, root, name="job", grader=None, hyperparameters=None,
                 seed=None, train=TRAIN, valid=VALID):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.trial = os.path.join(self.dir, "trial.json")
        self.metrics = os.path.join(self.dir, "metrics.jsonl")
        self.checkpoints = os.path.join(self.dir, "checkpoints")
        with open(self.trial, "w") as f:
            json.dump({"intent": name, "sweep": "test", "sweep_id": 1,
                       "trial": 0, "model": "tiny",
                       "training_file": train, "validation_file": valid,
                       "hyperparameters": hyperparameters or {},
                       "seed": seed, "grader_name": "g",
                       "grader": grader or grader_eq()}, f)

    def env(self, resume_from=None):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("RFTD_") and k != "RFTD_SOURCE_DIR":
                del env[k]
        env.update(RFTD_JOB_DIR=self.dir, RFTD_TRIAL=self.trial,
                   RFTD_METRICS=self.metrics,
                   RFTD_CHECKPOINT_DIR=self.checkpoints,
                   RFTD_INTENT=os.path.basename(self.dir))
        if resume_from:
            env["RFTD_RESUME_FROM"] = resume_from
        return env

    def run(self, *args, resume_from=None):
        return subprocess.run([PYTHON, TRAINER, *args], cwd=self.dir,
                              env=self.env(resume_from), capture_output=True,
                              text=True, timeout=RUN_TIMEOUT)

    def start(self, *args):
        return subprocess.Popen([PYTHON, TRAINER, *args], cwd=self.dir,
                                env=self.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def lines(self):
        if not os.path.exists(self.metrics):
            return []
        with open(self.metrics) as f:
            # A line still being written has no newline yet: leave it.
            return [json.loads(l) for l in f.read().split("\n")[:-1]]

    def metric_lines(self):
        return [l for l in self.lines() if "metrics" in l]

    def valid_rewards(self):
        return [l["metrics"]["valid_reward_mean"] for l in self.metric_lines()
                if "valid_reward_mean" in l["metrics"]]


def wait_for(condition, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@unittest.skipIf(SKIP_REASON, SKIP_REASON)
class TinyGrpoTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="tiny-grpo-")
        self.addCleanup(self.tmp.cleanup)
        self.jobs = 0

    def job(self, **kw):
        self.jobs += 1
        return Job(self.tmp.name, f"job{self.jobs}", **kw)

    def ok(self, result):
        self.assertEqual(result.returncode, 0,
                         f"trainer failed:\n{result.stderr}")
        return result

    def fails(self, result, status, *in_stderr):
        self.assertEqual(result.returncode, status,
                         f"expected exit {status}; stderr:\n{result.stderr}")
        for text in in_stderr:
            self.assertIn(text, result.stderr)

    # -------------------------------------------------------- learning

    def test_reward_rises_with_a_good_learning_rate(self):
        # Over seeds 0-29 the first evaluation (step 10) lies in 0.08-0.25
        # and the mean of the last three in 0.72-0.96: wide margins.
        for seed in ("1", "2"):
            job = self.job()
            self.ok(job.run("--lr", "40", "--seed", seed, "--steps", "100",
                            "--eval-every", "10"))
            v = job.valid_rewards()
            self.assertEqual(len(v), 10)
            last = sum(v[-3:]) / 3
            self.assertGreater(last - v[0], 0.3, f"seed {seed}: {v}")
            self.assertGreater(last, 0.5, f"seed {seed}: {v}")

    def test_reward_stays_flat_with_a_tiny_learning_rate(self):
        job = self.job()
        self.ok(job.run("--lr", "1e-6", "--seed", "1", "--steps", "100"))
        v = job.valid_rewards()
        self.assertEqual(len(v), 10)
        # A uniform policy over 20 answers earns 1/20.
        for x in v:
            self.assertAlmostEqual(x, 0.05, delta=0.01, msg=str(v))

    def test_same_seed_same_run_other_seed_other_run(self):
        a, b, c = self.job(), self.job(), self.job()
        for job, seed in ((a, "5"), (b, "5"), (c, "6")):
            self.ok(job.run("--seed", seed, "--steps", "20"))
        self.assertEqual(a.lines(), b.lines())
        self.assertNotEqual(a.lines(), c.lines())

    # -------------------------------------------------- metrics format

    def test_metrics_lines_follow_the_rftd_format(self):
        job = self.job()
        self.ok(job.run("--steps", "25", "--eval-every", "10"))
        steps, announced = [], []
        for line in job.lines():
            self.assertIsInstance(line.get("step"), int, line)
            self.assertLessEqual(set(line), {"step", "metrics", "checkpoint"})
            self.assertTrue("metrics" in line or "checkpoint" in line, line)
            if "metrics" in line:
                self.assertIsInstance(line["metrics"], dict)
                for name, value in line["metrics"].items():
                    self.assertIsInstance(name, str)
                    self.assertIsInstance(value, (int, float), line)
                    self.assertNotIsInstance(value, bool)
                    self.assertTrue(math.isfinite(value), line)
                self.assertIn("train_reward_mean", line["metrics"])
                steps.append(line["step"])
            if "checkpoint" in line:
                announced.append(line)
        self.assertEqual(steps, list(range(1, 26)))
        with_valid = [l["step"] for l in job.metric_lines()
                      if "valid_reward_mean" in l["metrics"]]
        self.assertEqual(with_valid, [10, 20, 25])
        self.assertEqual(announced, [
            {"step": 10, "checkpoint": "step-000010"},
            {"step": 20, "checkpoint": "step-000020"},
            {"step": 25, "checkpoint": "step-000025"}])
        # Whole checkpoints only, no temporary leftovers.
        self.assertEqual(sorted(os.listdir(job.checkpoints)),
                         ["step-000010", "step-000020", "step-000025"])
        for name in os.listdir(job.checkpoints):
            self.assertEqual(
                sorted(os.listdir(os.path.join(job.checkpoints, name))),
                ["policy.npz", "state.json"])

    def test_standalone_writes_metrics_to_stdout(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("RFTD_")}
        r = subprocess.run([PYTHON, TRAINER, "--steps", "3"],
                           cwd=self.tmp.name, env=env, capture_output=True,
                           text=True, timeout=RUN_TIMEOUT)
        self.ok(r)
        lines = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual([l["step"] for l in lines], [1, 2, 3])
        self.assertIn("valid_reward_mean", lines[-1]["metrics"])

    # --------------------------------------------------- stop, resume

    def test_sigterm_saves_a_checkpoint_and_a_resumed_run_continues(self):
        job = self.job()
        # No evaluation before the end, so the only checkpoint is the one
        # the stop makes; the sleep keeps the run going until it comes.
        proc = job.start("--seed", "7", "--steps", "40", "--eval-every",
                         "100", "--sleep", "0.2")
        try:
            wait_for(lambda: any(l["step"] >= 3 for l in job.metric_lines()),
                     RUN_TIMEOUT, "step 3 in the metrics file")
            proc.send_signal(signal.SIGTERM)
            stopped = time.monotonic()
            _, err = proc.communicate(timeout=RUN_TIMEOUT)
            took = time.monotonic() - stopped
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(proc.returncode, 143, err)
        self.assertLess(took, 5.0, "the stop was not prompt")

        lines = job.lines()
        last_step = job.metric_lines()[-1]["step"]
        self.assertLess(last_step, 40)
        name = f"step-{last_step:06d}"
        self.assertEqual(lines[-1], {"step": last_step, "checkpoint": name})
        saved = os.path.join(job.checkpoints, name)
        self.assertTrue(os.path.isfile(os.path.join(saved, "policy.npz")))
        with open(os.path.join(saved, "state.json")) as f:
            self.assertEqual(json.load(f)["step"], last_step)

        # Resume into the same metrics file, as rftd does.
        self.ok(job.run("--seed", "7", "--steps", "40", "--eval-every", "100",
                        resume_from=saved))
        steps = [l["step"] for l in job.metric_lines()]
        self.assertEqual(steps, list(range(1, 41)),
                         "steps must continue without repeats or gaps")

        # The policy and the random state were saved whole: stopping and
        # resuming changes nothing against a run that went straight through.
        straight = self.job()
        self.ok(straight.run("--seed", "7", "--steps", "40",
                             "--eval-every", "100"))
        self.assertEqual(job.metric_lines(), straight.metric_lines())

    def test_resume_from_a_missing_checkpoint_is_bad_input(self):
        job = self.job()
        self.fails(job.run(resume_from=os.path.join(job.dir, "nowhere")), 2,
                   "cannot resume")

    def test_fail_at_step_exits_3(self):
        job = self.job()
        r = job.run("--steps", "20", "--fail-at-step", "5")
        self.fails(r, 3, "step 5")
        self.assertEqual([l["step"] for l in job.metric_lines()],
                         [1, 2, 3, 4])

    # -------------------------------------------------------- graders

    def test_string_check_operations(self):
        # A uniform policy over 20 answers: eq is right 1 time in 20 and ne
        # 19 times in 20.  like/ilike compare the answer to a text that
        # contains it, so they pass exactly when eq would.
        cases = {
            "eq": ("{{sample.output_text}}", "{{item.answer}}", 0.05),
            "ne": ("{{sample.output_text}}", "{{item.answer}}", 0.95),
            "like": ("The answer is {{item.answer}}.",
                     "is {{sample.output_text}}.", 0.05),
            "ilike": ("THE ANSWER IS {{item.answer}}.",
                      "is {{sample.output_text}}.", 0.05),
        }
        for op, (inp, ref, expected) in cases.items():
            job = self.job(grader={"type": "string_check", "name": op,
                                   "input": inp, "reference": ref,
                                   "operation": op})
            self.ok(job.run("--lr", "1e-6", "--steps", "1"))
            got = job.valid_rewards()[0]
            self.assertAlmostEqual(got, expected, delta=0.01, msg=op)

    def test_ilike_ignores_case_and_like_does_not(self):
        # Answers are digits, so make the case visible with a letter from
        # the row: rows carry a "unit" field here.
        rows = [{"messages": [{"role": "user", "content": f"Say {n} {u}"}],
                 "answer": str(n), "unit": u}
                for n in range(4) for u in ("KM", "Km")]
        path = os.path.join(self.tmp.name, "units.jsonl")
        with open(path, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
        rewards = {}
        for op in ("like", "ilike"):
            job = self.job(train=path, valid=path, grader={
                "type": "string_check", "name": op,
                "input": "{{item.answer}} KM",
                "reference": "{{sample.output_text}} {{item.unit}}",
                "operation": op})
            self.ok(job.run("--lr", "1e-6", "--steps", "1"))
            rewards[op] = job.valid_rewards()[0]
        # One answer in four is right; like needs the unit "KM" too.
        self.assertAlmostEqual(rewards["ilike"], 0.25, delta=0.01)
        self.assertAlmostEqual(rewards["like"], 0.125, delta=0.01)

    def test_text_similarity_fuzzy_match_learns(self):
        job = self.job(grader={"type": "text_similarity", "name": "fuzzy",
                               "input": "{{sample.output_text}}",
                               "reference": "{{item.answer}}",
                               "evaluation_metric": "fuzzy_match"})
        self.ok(job.run("--lr", "1e-6", "--steps", "1"))
        start = job.valid_rewards()[0]
        # Partial credit: "12" against "13" scores 0.5, so a uniform policy
        # earns far more than the 1/20 of an exact match.
        self.assertGreater(start, 0.15)
        self.assertLess(start, 0.35)
        job = self.job(grader={"type": "text_similarity", "name": "fuzzy",
                               "input": "{{sample.output_text}}",
                               "reference": "{{item.answer}}",
                               "evaluation_metric": "fuzzy_match"})
        self.ok(job.run("--lr", "5", "--steps", "60"))
        v = job.valid_rewards()
        self.assertGreater(v[-1], start + 0.1, str(v))
        self.assertLessEqual(max(v), 1.0)

    def test_text_similarity_rouge(self):
        job = self.job(grader={"type": "text_similarity", "name": "rouge",
                               "input": "{{sample.output_text}}",
                               "reference": "{{item.answer}}",
                               "evaluation_metric": "rouge_1"})
        self.ok(job.run("--lr", "1e-6", "--steps", "1"))
        # One token against one token: ROUGE-1 is an exact match here.
        self.assertAlmostEqual(job.valid_rewards()[0], 0.05, delta=0.01)

    def test_unsupported_graders_exit_2_and_say_which(self):
        for grader, name in (
                ({"type": "python", "name": "p", "source": "def grade(): 1"},
                 "python"),
                ({"type": "score_model", "name": "s", "model": "m"},
                 "score_model"),
                ({"type": "multi", "name": "m", "graders": {}}, "multi"),
                ({"type": "text_similarity", "name": "b",
                  "input": "{{sample.output_text}}",
                  "reference": "{{item.answer}}",
                  "evaluation_metric": "bleu"}, "bleu"),
                ({"type": "string_check", "name": "o",
                  "input": "{{sample.output_text}}",
                  "reference": "{{item.answer}}",
                  "operation": "regex"}, "regex")):
            job = self.job(grader=grader)
            self.fails(job.run("--steps", "3"), 2, name)
            self.assertEqual(job.lines(), [])

    def test_grader_field_missing_from_a_row_names_the_row(self):
        job = self.job(grader={"type": "string_check", "name": "x",
                               "input": "{{sample.output_text}}",
                               "reference": "{{item.solution}}",
                               "operation": "eq"})
        self.fails(job.run("--steps", "3"), 2, f"{TRAIN}:", "item.solution")

    # ------------------------------------------------------ bad input

    def test_malformed_dataset_line_names_file_and_line(self):
        path = os.path.join(self.tmp.name, "broken.jsonl")
        with open(TRAIN) as src, open(path, "w") as dst:
            good = src.readlines()[:5]
            dst.writelines(good[:2] + ['{"messages": [oops\n'] + good[2:])
        job = self.job(train=path)
        self.fails(job.run("--steps", "3"), 2, f"{path}:3")

    def test_missing_dataset_is_bad_input(self):
        path = os.path.join(self.tmp.name, "absent.jsonl")
        job = self.job(valid=path)
        self.fails(job.run("--steps", "3"), 2, path)

    def test_bad_flag_values_exit_2(self):
        for args in (["--group", "1"], ["--lr", "-1"], ["--lr", "nan"],
                     ["--steps", "0"], ["--eval-every", "0"],
                     ["--sleep", "-1"], ["--steps", "many"]):
            job = self.job()
            self.fails(job.run(*args), 2)

    def test_bad_hyperparameter_exits_2(self):
        job = self.job(hyperparameters={"group_size": "lots"})
        self.fails(job.run(), 2, "group_size")

    def test_trial_hyperparameters_and_seed_are_used(self):
        hp = {"learning_rate": 40, "group_size": 4, "steps": 12,
              "eval_every": 6}
        a = self.job(hyperparameters=hp, seed=11)
        b = self.job(hyperparameters=dict(hp, seed=11))
        c = self.job(hyperparameters=hp, seed=12)
        for job in (a, b, c):
            r = self.ok(job.run())
            self.assertIn("group 4", r.stderr)
        self.assertEqual([l["step"] for l in a.metric_lines()],
                         list(range(1, 13)))
        self.assertEqual(len(a.valid_rewards()), 2)
        self.assertEqual(a.lines(), b.lines())
        self.assertNotEqual(a.lines(), c.lines())
        # A flag wins over the trial.
        d = self.job(hyperparameters=hp, seed=11)
        self.ok(d.run("--steps", "3"))
        self.assertEqual(d.metric_lines()[-1]["step"], 3)


if __name__ == "__main__":
    unittest.main(verbosity=2)
