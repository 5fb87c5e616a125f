"""The openai backend end to end: the real rftd and the real rftctl against
the stateful fake of the fine-tuning API (tests/fakes/openai_fake.py).

Sweeps run to completion with metrics, events, checkpoints and datasets
uploaded once; the create request carries what the spec says and the
intent tags; graders are validated before a sweep is stored; provider
refusals, Retry-After and daily quotas are obeyed; start-up adopts a job
whose row was lost; the API key never leaves the process; the Azure
dialects; job control; the configuration of the key."""
import contextlib
import json
import os
import re
import sqlite3
import subprocess
import time
import unittest
import urllib.request
import uuid

from apitest import API_KEY, APITest
from harness import CALL_TIMEOUT, RFTD, WAIT, wait_until

TERMINAL_JOB = ("succeeded", "failed", "cancelled", "lost")

# Creates and gets of one job, in the sub-path the fake matches faults on.
CREATE_PATH = r"^/fine_tuning/jobs$"
JOB_PATH = r"^/fine_tuning/jobs/ftjob-[A-Za-z0-9]+$"

EXACT = {"type": "string_check", "name": "exact",
         "input": "{{sample.output_text}}",
         "reference": "{{item.answer}}", "operation": "eq"}
FUZZY = {"type": "text_similarity", "name": "fuzzy",
         "input": "{{sample.output_text}}",
         "reference": "{{item.answer}}",
         "evaluation_metric": "fuzzy_match"}


def is_create(r):
    return r["method"] == "POST" and r["path"].endswith("/fine_tuning/jobs")


def is_validate(r):
    return r["method"] == "POST" and \
        r["path"].endswith("/fine_tuning/alpha/graders/validate")


@contextlib.contextmanager
def environ(**values):
    """Sets (or, with None, removes) environment variables for a while;
    a daemon started inside inherits them."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class OpenAITest(APITest):
    """Helpers on top of APITest: the request log, the job rows, direct
    calls to the fake API."""

    def creates(self):
        return [r for r in self.fake.requests() if is_create(r)]

    def jobs(self, d):
        """Job rows as dicts, by id."""
        cols = ("id", "trial_id", "attempt", "state", "intent_key",
                "remote_id", "error", "fine_tuned_model")
        return [dict(zip(cols, r)) for r in self.rows(
            d, "SELECT %s FROM jobs ORDER BY id" % ", ".join(cols))]

    def wait_submitted(self, d, n, timeout=WAIT):
        """Waits until n jobs carry a remote id; returns the job rows."""
        wait_until(lambda: len([j for j in self.jobs(d)
                                if j["remote_id"]]) >= n,
                   timeout=timeout, interval=0.05,
                   what="%d jobs to be submitted" % n)
        return self.jobs(d)

    def wait_job_state(self, d, job_id, state, timeout=WAIT):
        wait_until(lambda: d.ctl_json("job", "show", str(job_id))["state"]
                   == state, timeout=timeout, interval=0.1,
                   what="job %d to be %s" % (job_id, state))

    def wait_log(self, d, text, timeout=WAIT):
        wait_until(lambda: text in d.read_log(), timeout=timeout,
                   interval=0.05, what="%r in the log" % text)

    def api(self, method, sub, body=None, data=None, content_type=None):
        """Calls the fake's OpenAI API with the key; returns the JSON."""
        headers = {"Authorization": "Bearer " + API_KEY}
        if body is not None:
            data = json.dumps(body).encode()
            content_type = "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.fake.openai_base + sub, data=data,
                                     headers=headers, method=method)
        with urllib.request.urlopen(req, timeout=WAIT) as r:
            return json.loads(r.read())

    def upload(self, path):
        """Uploads a dataset to the fake directly; returns its file id."""
        boundary = "rftd-test-" + uuid.uuid4().hex
        with open(path, "rb") as f:
            content = f.read()
        body = (("--%s\r\nContent-Disposition: form-data; name=\"purpose\""
                 "\r\n\r\nfine-tune\r\n--%s\r\nContent-Disposition: "
                 "form-data; name=\"file\"; filename=\"%s\"\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n"
                 % (boundary, boundary, os.path.basename(path))).encode()
                + content + ("\r\n--%s--\r\n" % boundary).encode())
        return self.api("POST", "/files", data=body,
                        content_type="multipart/form-data; boundary="
                        + boundary)["id"]

    def create_job(self, metadata, training_file, validation_file=None,
                   grader=EXACT, hyperparameters=None, seed=None):
        """Creates a job at the fake behind rftd's back; returns its id."""
        body = {"model": "o4-mini-2025-04-16",
                "training_file": training_file,
                "metadata": metadata,
                "method": {"type": "reinforcement", "reinforcement": {
                    "grader": grader,
                    "hyperparameters": hyperparameters or {"n_epochs": 1}}}}
        if validation_file:
            body["validation_file"] = validation_file
        if seed is not None:
            body["seed"] = seed
        return self.api("POST", "/fine_tuning/jobs", body=body)["id"]

    def daemon_with(self, max_concurrent, daemon_section="", **kw):
        """api_daemon() with another backend max_concurrent."""
        backend = self.backend_config(**kw).replace(
            "max_concurrent = 4\n", "max_concurrent = %d\n" % max_concurrent)
        self.assertIn("max_concurrent = %d\n" % max_concurrent, backend)
        return self.daemon(extra_config=backend,
                           daemon_section="tick = 50\n" + daemon_section)


class FullSweep(OpenAITest):
    def test_twenty_trials_run_to_completion_with_everything_stored(self):
        d = self.daemon_with(max_concurrent=20)
        sid = self.submit(d, self.spec(trials=20, name="twenty"))
        s = self.wait_done(d, sid)
        self.assertEqual(s["state"], "completed")
        self.assertEqual(len(s["trials"]), 20)
        self.assertEqual({t["state"] for t in s["trials"]}, {"succeeded"})
        self.assertEqual({t["attempts"] for t in s["trials"]}, {1})
        jobs = self.jobs(d)
        self.assertEqual(len(jobs), 20)
        self.assertEqual(sorted(j["trial_id"] for j in jobs),
                         sorted(t["id"] for t in s["trials"]))
        for j in jobs:
            self.assertEqual(j["state"], "succeeded", j)
            fake_job = self.fake.job(j["remote_id"])
            self.assertEqual(fake_job["status"], "succeeded")
            self.assertIsNotNone(j["fine_tuned_model"])
            self.assertEqual(j["fine_tuned_model"],
                             fake_job["fine_tuned_model"])
            # Canonical metrics and the grader's own, at every step.
            names = {r[0]: r[1] for r in self.rows(
                d, "SELECT name, count(*) FROM metrics WHERE job_id = ?"
                   " GROUP BY name", j["id"])}
            self.assertEqual(names.get("train_reward_mean"), 4, names)
            self.assertEqual(names.get("grader.exact.train_reward_mean"), 4,
                             names)
            self.assertEqual(names.get("valid_reward_mean"), 2, names)
            # Every event of the provider, under its own id, once.
            stored = [r[0] for r in self.rows(
                d, "SELECT remote_id FROM job_events WHERE job_id = ?"
                   " AND remote_id IS NOT NULL", j["id"])]
            self.assertEqual(len(stored), len(set(stored)))
            self.assertEqual(set(stored),
                             {e["id"] for e in
                              self.fake.events(j["remote_id"])})
            # A checkpoint per evaluation (steps 2 and 4 of 4).
            ckpts = self.rows(d, "SELECT step, remote_id, model FROM"
                                 " checkpoints WHERE job_id = ? ORDER BY"
                                 " step", j["id"])
            self.assertEqual([c[0] for c in ckpts], [2, 4])
            for step, remote, model in ckpts:
                self.assertTrue(remote.startswith("ftckpt_"), remote)
                self.assertEqual(model, "%s:ckpt-step-%d"
                                 % (j["fine_tuned_model"], step))
        # Each dataset went up once, however many jobs used it.
        uploads = self.fake.uploads()
        self.assertEqual(sorted(u["filename"] for u in uploads),
                         ["train.jsonl", "valid.jsonl"])
        files = self.rows(d, "SELECT remote_id, sha256, path FROM files"
                             " WHERE backend = 'oa'")
        self.assertEqual({(f[0], f[1]) for f in files},
                         {(u["id"], u["sha256"]) for u in uploads})
        self.assertEqual({os.path.basename(f[2]) for f in files},
                         {"train.jsonl", "valid.jsonl"})
        self.assertEqual(len(self.creates()), 20)
        self.assert_money_safe(d)


class CreateRequest(OpenAITest):
    def test_the_create_body_carries_the_spec_and_the_intent_tags(self):
        d = self.api_daemon()
        graders = {"fuzzy": FUZZY}
        sid = self.submit(d, self.spec(
            trials=2, graders=graders,
            hyperparameters={"learning_rate_multiplier": [0.5, 2.0],
                             "n_epochs": 2, "batch_size": 4},
            seeds=[7]), "--yes")  # 2 epochs: estimated past max_job_hours
        jobs = self.wait_submitted(d, 2)
        trials = {t["id"]: t for t in self.sweep(d, sid)["trials"]}
        files = {os.path.basename(r[1]): r[0] for r in self.rows(
            d, "SELECT remote_id, path FROM files")}
        self.assertEqual(set(files), {"train.jsonl", "valid.jsonl"})
        for j in jobs:
            body = self.fake.job(j["remote_id"])
            trial = trials[j["trial_id"]]
            self.assertEqual(body["method"]["type"], "reinforcement")
            rft = body["method"]["reinforcement"]
            self.assertEqual(rft["grader"], FUZZY)
            hps = rft["hyperparameters"]
            self.assertEqual(hps["learning_rate_multiplier"],
                             trial["hyperparameters"][
                                 "learning_rate_multiplier"])
            self.assertEqual(hps["n_epochs"], 2)
            self.assertEqual(hps["batch_size"], 4)
            self.assertEqual(body["seed"], 7)
            self.assertEqual(body["metadata"], {
                "rftd_intent": j["intent_key"],
                "rftd_sweep": str(sid),
                "rftd_trial": str(j["trial_id"]),
                "rftd_grader": "fuzzy"})
            self.assertEqual(body["training_file"], files["train.jsonl"])
            self.assertEqual(body["validation_file"], files["valid.jsonl"])
            self.assertTrue(body["training_file"].startswith("file-"))
            self.assertTrue(body["validation_file"].startswith("file-"))
            self.assertEqual(body["model"], "o4-mini-2025-04-16")
        self.assertEqual(sorted(self.fake.job(j["remote_id"])["method"]
                                ["reinforcement"]["hyperparameters"]
                                ["learning_rate_multiplier"] for j in jobs),
                         [0.5, 2.0])

    def test_a_file_id_in_the_spec_passes_through_without_an_upload(self):
        d = self.api_daemon()
        file_id = self.upload(os.path.join(self.data, "train.jsonl"))
        self.submit(d, self.spec(trials=1, training_file=file_id))
        job, = self.wait_submitted(d, 1)
        body = self.fake.job(job["remote_id"])
        self.assertEqual(body["training_file"], file_id)
        # Only the validation file (a path) was uploaded by rftd.
        uploads = self.fake.uploads()
        self.assertEqual(len(uploads), 2, uploads)
        self.assertEqual(uploads[0]["id"], file_id)
        self.assertEqual(uploads[1]["filename"], "valid.jsonl")
        self.assertEqual(body["validation_file"], uploads[1]["id"])
        self.assertEqual([r[0] for r in self.rows(
            d, "SELECT remote_id FROM files")], [uploads[1]["id"]])


class MultiGrader(OpenAITest):
    def test_a_multi_grader_runs_and_stores_metrics_per_sub_grader(self):
        d = self.api_daemon()
        multi = {"type": "multi", "name": "blend",
                 "graders": {"exact": EXACT, "fuzzy": FUZZY},
                 "calculate_output": "0.7 * exact + 0.3 * fuzzy"}
        sid = self.submit(d, self.spec(trials=1, graders={"blend": multi}))
        s = self.wait_done(d, sid)
        self.assertEqual(s["state"], "completed")
        self.assertEqual(s["trials"][0]["state"], "succeeded")
        self.assertEqual(s["trials"][0]["grader"], "blend")
        job, = self.jobs(d)
        self.assertEqual(self.fake.job(job["remote_id"])["method"]
                         ["reinforcement"]["grader"], multi)
        names = {r[0] for r in self.rows(
            d, "SELECT DISTINCT name FROM metrics WHERE job_id = ?",
            job["id"])}
        for name in ("train_reward_mean", "valid_reward_mean",
                     "grader.exact.train_reward_mean",
                     "grader.exact.valid_reward_mean",
                     "grader.fuzzy.train_reward_mean",
                     "grader.fuzzy.valid_reward_mean"):
            self.assertIn(name, names)
        self.assert_money_safe(d)

    def test_per_grader_metrics_go_by_the_spec_keys_not_the_names(self):
        """The provider reports graders by their "name"; rftd names the
        metrics by the spec's keys, as the simulator does."""
        d = self.api_daemon()
        exact = dict(EXACT, name="exact match")
        fuzzy = dict(FUZZY, name="fuzzy one")
        multi = {"type": "multi", "name": "blend",
                 "graders": {"e": exact, "f": fuzzy},
                 "calculate_output": "0.7 * e + 0.3 * f"}
        sid = self.submit(d, self.spec(
            trials=1, graders={"mix": multi, "plain": dict(EXACT,
                                                           name="x y")}))
        self.assertEqual(self.wait_done(d, sid)["state"], "completed")
        names = {r[0] for r in self.rows(
            d, "SELECT DISTINCT name FROM metrics WHERE name LIKE"
               " 'grader.%'")}
        self.assertEqual(names, {
            "grader.e.train_reward_mean", "grader.e.valid_reward_mean",
            "grader.f.train_reward_mean", "grader.f.valid_reward_mean",
            "grader.plain.train_reward_mean",
            "grader.plain.valid_reward_mean"})


class Preflight(OpenAITest):
    def test_a_grader_the_provider_rejects_refuses_the_sweep(self):
        d = self.api_daemon()
        bad = dict(EXACT, name="reject-me-please")
        r = d.ctl("submit", self.spec(graders={"exact": EXACT, "bad": bad}))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("Grader rejected", r.stderr)
        self.assertIn("/graders/bad", r.stderr)
        self.assertEqual(self.rows(d, "SELECT count(*) FROM sweeps"),
                         [(0,)])
        self.assertEqual(self.rows(d, "SELECT count(*) FROM trials"),
                         [(0,)])
        self.assertEqual(self.creates(), [])
        self.assertEqual(self.fake.uploads(), [])
        self.assertEqual(self.fake.jobs(), [])

    def test_every_grader_is_validated_once_before_the_first_create(self):
        d = self.api_daemon()
        # 2 graders x 2 learning rates: 4 trials.
        sid = self.submit(d, self.spec(trials=2, graders={
            "exact": EXACT, "fuzzy": FUZZY}))
        self.wait_submitted(d, 4)
        log = self.fake.requests()
        validates = [r for r in log if is_validate(r)]
        self.assertEqual(len(validates), 2)
        self.assertTrue(all(r["status"] == 200 for r in validates))
        first_create = min(r["seq"] for r in log if is_create(r))
        self.assertLess(max(r["seq"] for r in validates), first_create)
        self.assertEqual(len(self.sweep(d, sid)["trials"]), 4)

    def test_preflight_no_skips_the_validation(self):
        d = self.api_daemon(extra="preflight = no\n")
        bad = dict(EXACT, name="reject-me-please")
        sid = self.submit(d, self.spec(trials=1, graders={"bad": bad}))
        self.assertEqual(self.sweep(d, sid)["trials"][0]["grader"], "bad")
        # The provider refuses the job instead (the fake checks graders
        # on create too): nothing else was asked.
        s = self.wait_done(d, sid)
        self.assertEqual(s["trials"][0]["state"], "failed")
        self.assertEqual([r for r in self.fake.requests() if is_validate(r)],
                         [])


class ProviderAnswers(OpenAITest):
    def test_a_400_on_create_fails_the_job_for_good_with_the_message(self):
        d = self.api_daemon()
        message = "Injected refusal: o4-mini is not available to you"
        self.fake.add_fault("status", path=CREATE_PATH, method="POST",
                            count=1, status=400,
                            error={"message": message,
                                   "code": "model_not_available"})
        sid = self.submit(d, self.spec(trials=2))
        s = self.wait_done(d, sid)
        failed = [j for j in self.jobs(d) if j["state"] == "failed"]
        self.assertEqual(len(failed), 1, self.jobs(d))
        job = failed[0]
        self.assertIsNone(job["remote_id"])
        self.assertIn(message, job["error"])
        shown = d.ctl("job", "show", str(job["id"]), check=True).stdout
        self.assertIn(message, shown)
        self.assertIn(message, d.ctl_json("job", "show",
                                          str(job["id"]))["error"])
        # Final: the trial failed after one attempt, with one job row,
        # although the spec allows 2 retries.
        trials = {t["id"]: t for t in s["trials"]}
        self.assertEqual(trials[job["trial_id"]]["state"], "failed")
        self.assertEqual(trials[job["trial_id"]]["attempts"], 1)
        self.assertEqual(self.rows(d, "SELECT count(*) FROM jobs WHERE"
                                      " trial_id = ?", job["trial_id"]),
                         [(1,)])
        others = [t for t in s["trials"] if t["id"] != job["trial_id"]]
        self.assertEqual([t["state"] for t in others], ["succeeded"])
        creates = self.creates()
        self.assertEqual([r["status"] for r in creates].count(400), 1)
        self.assertEqual(len(creates), 2)
        self.assert_money_safe(d)

    def test_retry_after_on_a_create_is_obeyed_without_a_duplicate(self):
        d = self.api_daemon()
        self.fake.add_fault("status", path=CREATE_PATH, method="POST",
                            count=1, status=429,
                            headers={"Retry-After": "2"})
        sid = self.submit(d, self.spec(trials=1))
        self.wait_submitted(d, 1)
        creates = self.creates()
        self.assertEqual([r["status"] for r in creates], [429, 200])
        self.assertGreaterEqual(creates[1]["t"] - creates[0]["t"], 1.9)
        self.assertEqual(self.wait_done(d, sid)["state"], "completed")
        self.assertEqual(len(self.creates()), 2)
        self.assertEqual(list(self.fake.creates_by_intent().values()), [1])
        self.assert_money_safe(d)

    def test_a_long_retry_after_on_a_create_holds_the_create_back(self):
        d = self.api_daemon()
        self.fake.add_fault("status", path=CREATE_PATH, method="POST",
                            count=-1, status=429,
                            headers={"Retry-After": "600"})
        self.submit(d, self.spec(trials=1))
        wait_until(self.creates, what="a create")
        time.sleep(2)   # in which no other create may come
        self.assertEqual(len(self.creates()), 1,
                         [round(r["t"] % 100, 2) for r in self.creates()])

    def test_retry_after_ms_on_a_job_read_is_obeyed(self):
        d = self.api_daemon()
        self.fake.add_fault("status", path=JOB_PATH, method="GET", count=1,
                            status=429, headers={"retry-after-ms": "1500"})
        sid = self.submit(d, self.spec(trials=1))
        self.assertEqual(self.wait_done(d, sid)["state"], "completed")
        job, = self.jobs(d)
        reads = [r for r in self.fake.requests() if r["method"] == "GET"
                 and r["path"].endswith("/fine_tuning/jobs/"
                                        + job["remote_id"])]
        self.assertEqual(reads[0]["status"], 429)
        self.assertGreaterEqual(reads[1]["t"] - reads[0]["t"], 1.4)
        self.assertEqual(len(self.creates()), 1)
        self.assert_money_safe(d)


class DailyQuota(OpenAITest):
    # The quota's Retry-After: long enough for the test's checks while
    # the first hold lasts, on a busy machine.
    HOLD_S = 8
    # Creates sent together with the first refused one (before rftd had
    # its answer) reach the fake within this many seconds of it.
    BURST_S = 2

    @staticmethod
    def hold_of(d):
        """A function giving backend oa's hold in `rftctl status`."""
        def hold():
            oa, = [b for b in d.ctl_json("status")["backends"]
                   if b["name"] == "oa"]
            return oa.get("hold")
        return hold

    def test_a_daily_quota_holds_submissions_until_it_ends(self):
        d = self.api_daemon()
        self.fake.set_options(daily_limit=2, daily_retry_after=self.HOLD_S)
        sid = self.submit(d, self.spec(trials=6, name="quota"))
        hold = wait_until(self.hold_of(d), interval=0.05,
                          what="the backend to be held")
        self.assertIn("daily_rate_limit_exceeded", hold["reason"])
        text = d.ctl("status", check=True).stdout
        self.assertIn("held", text)
        self.assertIn("maximum of 2 fine-tuning requests per day", text)
        # The trials not admitted wait, saying why.
        wait_until(lambda: all(
            t["pending_reason"] and "holds submissions" in
            t["pending_reason"] and "daily_rate_limit_exceeded" in
            t["pending_reason"]
            for t in self.sweep(d, sid)["trials"] if t["state"] ==
            "pending"), what="pending reasons naming the hold")
        pending = [t for t in self.sweep(d, sid)["trials"]
                   if t["state"] == "pending"]
        self.assertEqual(len(pending), 2)
        # Raise the quota now; rftd only learns of it when its hold ends.
        self.fake.set_options(daily_limit=None)
        s = self.wait_done(d, sid)
        self.assertEqual(s["state"], "completed")
        self.assertEqual({t["state"] for t in s["trials"]}, {"succeeded"})
        # The fake's log says when each create came (rftd's real time).
        creates = self.creates()
        refusals = [r["t"] for r in creates if r["status"] == 429]
        first = min(refusals)
        hold = self.HOLD_S - 0.1
        # The 4 admitted went at once: 2 created, the rest refused; no
        # other create came before the hold ended.
        statuses = [r["status"] for r in creates if r["t"] < first + hold]
        self.assertEqual(statuses.count(200), 2, statuses)
        self.assertGreaterEqual(statuses.count(429), 1, statuses)
        self.assertLessEqual(len(statuses), 4, statuses)
        # No create from a refusal until its hold had passed, but those
        # sent with it.
        for refused in refusals:
            for r in creates:
                self.assertFalse(
                    refused + self.BURST_S < r["t"] < refused + hold,
                    "a create %.2f s after a refusal, while held: %r"
                    % (r["t"] - refused, r))
        self.assertTrue(any(r["t"] - first >= hold for r in creates))
        # Those refused went once more each, and the 2 pending trials.
        self.assertEqual(len([r for r in creates if r["status"] == 200]), 6)
        self.assertIsNone(self.hold_of(d)())
        self.assert_money_safe(d)


class CancelWhileHeld(OpenAITest):
    """A job held by the daily quota has an intent and no job at the
    provider yet: cancelling must keep it from ever being created."""

    # The quota's Retry-After: longer than the test, which ends the hold
    # itself once it has cancelled.
    HOLD_S = 300

    def hold_one(self):
        """A sweep of 2 whose second job is held; returns (daemon, sweep,
        the held job's row)."""
        d = self.api_daemon()
        self.fake.set_options(daily_limit=1, daily_retry_after=self.HOLD_S)
        sid = self.submit(d, self.spec(trials=2))
        wait_until(lambda: sorted(j["remote_id"] is None
                                  for j in self.jobs(d)
                                  if j["error"] or j["remote_id"])
                   == [False, True],
                   what="one job created, one held by the quota")
        held, = [j for j in self.jobs(d) if j["remote_id"] is None]
        self.assertIn("daily_rate_limit_exceeded", held["error"])
        # Both went at once; nothing is sent again while held.
        self.assertEqual(sorted(r["status"] for r in self.creates()),
                         [200, 429])
        return d, sid, held

    def end_the_hold(self, d, sid):
        """The quota is back, and a reload ends rftd's hold (as the end
        of its Retry-After would); waits until the sweep has ended and
        rftd has had ticks in which it could have created the job."""
        self.fake.set_options(daily_limit=None)
        d.ctl("reload", check=True)
        self.assertIsNone(DailyQuota.hold_of(d)())
        s = self.wait_done(d, sid)
        time.sleep(1)   # 20 ticks in which nothing may be created
        return s

    def test_a_sweep_cancelled_while_held_creates_nothing_more(self):
        d, sid, held = self.hold_one()
        d.ctl("cancel", "sweep", str(sid), check=True)
        s = self.end_the_hold(d, sid)
        self.assertEqual(s["state"], "cancelled")
        self.assertEqual(len(self.fake.jobs()), 1, self.fake.jobs())
        self.assertEqual(sorted(r["status"] for r in self.creates()),
                         [200, 429])
        job, = [j for j in self.jobs(d) if j["id"] == held["id"]]
        self.assertEqual(job["state"], "cancelled")
        self.assertIsNone(job["remote_id"])

    def test_a_job_held_by_the_quota_can_be_cancelled(self):
        d, sid, held = self.hold_one()
        r = d.ctl("cancel", "job", str(held["id"]))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.end_the_hold(d, sid)
        job, = [j for j in self.jobs(d) if j["id"] == held["id"]]
        self.assertEqual(job["state"], "cancelled")
        self.assertIsNone(job["remote_id"])
        self.assertEqual(len(self.fake.jobs()), 1, self.fake.jobs())


class Reconcile(OpenAITest):
    def test_an_orphan_at_the_provider_is_adopted_not_submitted_again(self):
        self.fake.set_options(steps=10)
        # The fake's clock stands until the orphan is adopted: the first
        # job cannot end, and the second trial cannot start, before.
        self.fake.set_speed(0)
        d = self.api_daemon()
        sid = self.submit(d, self.spec(trials=2, max_concurrent=1))
        self.wait_submitted(d, 1)
        self.assertEqual(d.stop(), 0)
        trials = self.rows(d, "SELECT id, state, seed, hyperparameters,"
                              " grader_sha256 FROM trials ORDER BY id")
        pending = [t for t in trials if t[1] == "pending"]
        self.assertEqual(len(pending), 1, trials)
        tid, _, seed, hps, _ = pending[0]
        files = {os.path.basename(r[1]): r[0] for r in self.rows(
            d, "SELECT remote_id, path FROM files")}
        # A job created before a crash whose row was lost.
        orphan = self.create_job(
            {"rftd_intent": "rftd-orphan-1", "rftd_sweep": str(sid),
             "rftd_trial": str(tid)},
            files["train.jsonl"], files["valid.jsonl"],
            hyperparameters=json.loads(hps), seed=seed)
        d.start()
        self.wait_log(d, "adopted as job")
        self.fake.set_speed(1)
        self.assertIn(orphan, d.read_log())
        rows = self.rows(d, "SELECT trial_id, remote_id, backend FROM jobs"
                            " WHERE intent_key = 'rftd-orphan-1'")
        self.assertEqual(rows, [(tid, orphan, "oa")])
        s = self.wait_done(d, sid)
        self.assertEqual(s["state"], "completed")
        self.assertEqual({t["state"] for t in s["trials"]}, {"succeeded"})
        # The trial's only job at the provider is the orphan.
        for_trial = [j["id"] for j in self.fake.jobs()
                     if j["metadata"].get("rftd_trial") == str(tid)]
        self.assertEqual(for_trial, [orphan])
        self.assertEqual(self.rows(d, "SELECT count(*) FROM jobs WHERE"
                                      " trial_id = ?", tid), [(1,)])
        self.assertEqual(len(self.fake.jobs()), 2)
        self.assert_money_safe(d)

    def test_an_orphan_of_a_trial_the_store_lacks_is_left_alone(self):
        self.fake.set_options(steps=50, step_secs=1)
        file_id = self.upload(os.path.join(self.data, "train.jsonl"))
        orphan = self.create_job(
            {"rftd_intent": "rftd-orphan-2", "rftd_sweep": "41",
             "rftd_trial": "999"}, file_id)
        self.fake.set_speed(0)   # it cannot end by itself during the test
        d = self.api_daemon()
        self.wait_log(d, "backend oa: live jobs listed")
        log = d.read_log()
        self.assertIn("not adopted", log)
        self.assertIn(orphan, log)
        self.assertIn("rftd-orphan-2", log)
        self.assertEqual(self.rows(d, "SELECT count(*) FROM jobs"), [(0,)])
        self.assertTrue(d.answers())
        self.assertNotIn(self.fake.job(orphan)["status"], TERMINAL_JOB)
        self.assertEqual([r for r in self.fake.requests()
                          if r["method"] == "POST" and "/cancel" in
                          r["path"]], [])


class Secrets(OpenAITest):
    def test_the_api_key_is_nowhere_to_be_read(self):
        d = self.api_daemon(daemon_section="log_level = debug\n")
        # A refused create (a failed job), reads retried, a 500; the
        # 400 and the 500 come from something that echoes the request.
        echo = ("<html>Bad request.  You sent: Authorization: Bearer %s"
                "</html>" % API_KEY)
        self.fake.add_fault("status", path=CREATE_PATH, method="POST",
                            count=1, status=400, body=echo)
        self.fake.add_fault("status", path=JOB_PATH, method="GET", count=2,
                            status=429, headers={"retry-after-ms": "100"})
        self.fake.add_fault("status", path=r"/events$", method="GET",
                            count=1, status=500, body=echo)
        sid = self.submit(d, self.spec(trials=2))
        s = self.wait_done(d, sid)
        self.assertEqual(sorted(t["state"] for t in s["trials"]),
                         ["failed", "succeeded"])
        faults = [r["status"] for r in self.fake.requests() if r["fault"]]
        self.assertEqual(sorted(faults), [400, 429, 429, 500])
        outputs = {}
        for args in (("status",), ("jobs",), ("sweep", "show", str(sid)),
                     ("sql", "SELECT * FROM jobs"),
                     ("sql", "SELECT * FROM job_events"),
                     ("sql", "SELECT * FROM files")):
            for flags in ((), ("--json",)):
                r = d.ctl(*(flags + args), check=True)
                outputs[" ".join(flags + args)] = r.stdout + r.stderr
        for j in self.jobs(d):
            for flags in ((), ("--json",)):
                r = d.ctl(*(flags + ("job", "show", str(j["id"]))),
                          check=True)
                outputs["job show %d %s" % (j["id"], flags)] = \
                    r.stdout + r.stderr
        r = subprocess.run([RFTD, "-c", d.config, "-n"], capture_output=True,
                           text=True, timeout=CALL_TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        outputs["rftd -n"] = r.stdout + r.stderr
        self.assertIn("api_key_file = " + self.key_file, r.stdout)
        # The log does say what it did, at debug level.
        log = d.read_log()
        self.assertIn("/fine_tuning/jobs", log)
        outputs["log"] = log
        files = {}

        def read_store():
            for name in os.listdir(os.path.dirname(d.database)):
                with open(os.path.join(os.path.dirname(d.database),
                                       name), "rb") as f:
                    files[name + " (%d)" % len(files)] = f.read()
        read_store()  # with the -wal and -shm of a live daemon
        self.assertTrue(any("-wal" in n for n in files), list(files))
        self.assertEqual(d.stop(), 0)
        read_store()
        outputs["log after stop"] = d.read_log()
        secret = API_KEY.encode()
        tail = API_KEY[len("sk-canary-"):]
        for name, data in files.items():
            self.assertNotIn(secret, data, name)
            self.assertNotIn(tail.encode(), data, name)
        for name, text in outputs.items():
            self.assertNotIn(API_KEY, text, name)
            self.assertNotIn(tail, text, name)


class StrangeAnswers(OpenAITest):
    """What the provider may say that the reference does not: a status
    rftd does not know, undocumented fields, error {} on live jobs."""

    def test_an_unknown_status_is_kept_raw_and_the_state_stays(self):
        fake = self.fake
        real = fake._job_object
        strange = {"on": False}

        def with_unknown_status(j):
            obj = dict(real(j))
            obj["error"] = {}
            obj["undocumented_extra"] = {"nested": [1, 2, 3]}
            if strange["on"] and obj["status"] == "running":
                obj["status"] = "migrating"
            return obj
        fake._job_object = with_unknown_status
        # Steps of 100 s on the fake's clock: the job runs until the test
        # moves the clock past its end.
        fake.set_options(steps=16, step_secs=100)
        d = self.api_daemon()
        sid = self.submit(d, self.spec(trials=1))
        wait_until(lambda: self.rows(
            d, "SELECT 1 FROM jobs WHERE state = 'running'"),
            what="a running job")
        strange["on"] = True
        wait_until(lambda: self.rows(
            d, "SELECT 1 FROM jobs WHERE provider_status = 'migrating'"),
            what="the raw status stored")
        job = self.rows(d, "SELECT state, error FROM jobs")[0]
        self.assertEqual(job, ("running", None))
        self.assertIn("migrating", d.ctl("job", "show", "1").stdout)
        strange["on"] = False
        fake.advance(16 * 100)
        self.assertEqual(self.wait_done(d, sid)["state"], "completed")
        self.assertEqual(self.rows(d, "SELECT state, provider_status, error"
                                      " FROM jobs"),
                         [("succeeded", "succeeded", None)])


class ProviderFailure(OpenAITest):
    def test_a_job_failed_by_the_provider_says_why_and_is_retried(self):
        # Steps of 100 s on the fake's clock: the first attempt is still
        # training when the fake fails it.
        self.fake.set_options(steps=30, step_secs=100)
        d = self.api_daemon()
        sid = self.submit(d, self.spec(trials=1))
        remote = wait_until(lambda: self.rows(
            d, "SELECT remote_id FROM jobs WHERE state = 'running'"),
            what="a running job")[0][0]
        self.assertTrue(self.fake.fail_job(
            remote, code="invalid_grader_output",
            message="The grader returned no score."))
        wait_until(lambda: self.rows(
            d, "SELECT 1 FROM jobs WHERE state = 'failed'"),
            what="the job failed")
        error, = self.rows(d, "SELECT error FROM jobs WHERE remote_id = ?",
                           remote)[0]
        self.assertEqual(error, "invalid_grader_output: The grader returned"
                                " no score.")
        self.assertIn("The grader returned no score.",
                      d.ctl("job", "show", "1").stdout)
        # The trial's next attempt runs and succeeds.
        self.fake.set_options(steps=3, step_secs=0.3)
        self.assertEqual(self.wait_done(d, sid)["state"], "completed")
        self.assertEqual(self.rows(d, "SELECT attempt, state FROM jobs"
                                      " ORDER BY id"),
                         [(1, "failed"), (2, "succeeded")])
        self.assert_money_safe(d)


class EventIngestion(OpenAITest):
    def test_events_read_again_are_stored_once(self):
        """A poll state lost (here: cleared while rftd is stopped) makes
        rftd read every page of events again; each event is kept once."""
        self.fake.set_options(steps=20, step_secs=0.3)
        d = self.api_daemon()
        sid = self.submit(d, self.spec(trials=1))
        wait_until(lambda: self.rows(
            d, "SELECT count(*) FROM job_events WHERE type = 'metrics'"
        )[0][0] >= 3, what="some metrics events")
        # The fake's clock stands until rftd is back: the job is live
        # when rftd reads its events again.
        self.fake.set_speed(0)
        self.assertEqual(d.stop(), 0)
        db = sqlite3.connect(d.database)
        db.execute("UPDATE jobs SET events_cursor = NULL")
        db.commit()
        db.close()
        d.start()
        self.fake.set_speed(1)
        self.assertEqual(self.wait_done(d, sid)["state"], "completed")
        remote, = self.rows(d, "SELECT remote_id FROM jobs")[0]
        stored = [r[0] for r in self.rows(
            d, "SELECT remote_id FROM job_events WHERE remote_id IS NOT"
               " NULL")]
        self.assertEqual(len(stored), len(set(stored)))
        self.assertEqual(set(stored),
                         {e["id"] for e in self.fake.events(remote)})
        self.assertNotIn("error: store", d.read_log())


class TLS(OpenAITest):
    fake_tls = True

    def test_https_with_the_certificate_given_as_ca_file(self):
        d = self.api_daemon(extra="ca_file = %s\n" % self.cert)
        sid = self.submit(d, self.spec(trials=2))
        self.assertEqual(self.wait_done(d, sid)["state"], "completed")
        self.assertTrue(self.fake.url.startswith("https://"))
        self.assertEqual(len(self.creates()), 2)

    def test_a_certificate_nobody_vouches_for_is_refused(self):
        """TLS is verified: against a self-signed certificate the
        preflight gets no answer, the sweep is refused, nothing is sent
        past the handshake."""
        d = self.api_daemon()
        r = d.ctl("submit", self.spec(trials=2))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("could not be validated", r.stderr)
        self.assertRegex(r.stderr, "(?i)certificate")
        self.assertEqual(self.fake.requests(), [])
        self.assertEqual(self.rows(d, "SELECT count(*) FROM sweeps"),
                         [(0,)])


class WrongKey(OpenAITest):
    def test_a_refused_key_holds_everything_until_a_reload_brings_a_good_one(
            self):
        with open(self.key_file, "w") as f:
            f.write("sk-not-the-right-one\n")
        d = self.api_daemon(extra="preflight = no\n")
        sid = self.submit(d, self.spec(trials=2))

        def waiting():
            reasons = {r[0] or "" for r in self.rows(
                d, "SELECT pending_reason FROM trials")}
            return any("waiting to list its jobs" in r and "401" in r
                       for r in reasons)
        wait_until(waiting, what="trials waiting on a 401")
        self.assertEqual(self.creates(), [])
        with open(self.key_file, "w") as f:
            f.write(API_KEY + "\n")
        d.ctl("reload", check=True)
        self.assertEqual(self.wait_done(d, sid)["state"], "completed")
        self.assertEqual(len(self.creates()), 2)
        self.assert_money_safe(d)


class Azure(OpenAITest):
    def test_the_azure_v1_dialect_sends_the_api_key_header(self):
        d = self.api_daemon(dialect="azure")
        sid = self.submit(d, self.spec(trials=2))
        self.assertEqual(self.wait_done(d, sid)["state"], "completed")
        log = self.fake.requests()
        self.assertGreater(len(log), 5)
        for r in log:
            self.assertEqual(r["auth"], "api-key", r)
            self.assertTrue(r["path"].startswith("/openai/v1/"), r)
            self.assertEqual(r["status"] // 100, 2, r)
            self.assertNotIn("api-version", r["query"], r)
        self.assertEqual(len(self.creates()), 2)
        self.assert_money_safe(d)

    def test_the_dated_azure_api_carries_the_api_version(self):
        d = self.api_daemon(dialect="azure", base=self.fake.azure_base,
                            extra="api_version = 2025-04-01-preview\n")
        sid = self.submit(d, self.spec(trials=2))
        self.assertEqual(self.wait_done(d, sid)["state"], "completed")
        log = self.fake.requests()
        self.assertGreater(len(log), 5)
        for r in log:
            self.assertEqual(r["auth"], "api-key", r)
            self.assertTrue(r["path"].startswith("/openai/"), r)
            self.assertFalse(r["path"].startswith("/openai/v1/"), r)
            self.assertIn("api-version=2025-04-01-preview",
                          r["query"].split("&"), r)
            self.assertEqual(r["status"] // 100, 2, r)
        # Queries of their own keep theirs too.
        self.assertTrue(any("limit=" in r["query"] for r in log))
        self.assertEqual(len(self.creates()), 2)
        self.assert_money_safe(d)


class JobControl(OpenAITest):
    def test_pause_resume_and_cancel_reach_the_provider(self):
        # Jobs that train for 500 s: none ends before the test ends it.
        self.fake.set_options(steps=50, step_secs=10)
        d = self.api_daemon()
        # 4 trials, 2 at a time: jobs 1 and 2 run, trials 3 and 4 wait.
        sid = self.submit(d, self.spec(trials=4, max_concurrent=2))
        self.wait_submitted(d, 2)
        self.wait_job_state(d, 1, "running")
        self.wait_job_state(d, 2, "running")
        remote = {j["id"]: j["remote_id"] for j in self.jobs(d)}
        trial = {j["id"]: j["trial_id"] for j in self.jobs(d)}

        def trial_state(job_id):
            return self.rows(d, "SELECT state FROM trials WHERE id = ?",
                             trial[job_id])[0][0]

        d.ctl("pause", "job", "1", check=True)
        self.wait_job_state(d, 1, "paused")
        self.assertEqual(self.fake.job(remote[1])["status"], "paused")
        self.assertEqual(trial_state(1), "paused")

        d.ctl("resume", "job", "1", check=True)
        self.wait_job_state(d, 1, "running")
        self.assertEqual(self.fake.job(remote[1])["status"], "running")
        self.assertEqual(trial_state(1), "running")

        d.ctl("cancel", "job", "1", check=True)
        self.wait_job_state(d, 1, "cancelled")
        self.assertEqual(self.fake.job(remote[1])["status"], "cancelled")
        self.assertEqual(self.fake.job(remote[2])["status"], "running")
        self.assertEqual(trial_state(1), "cancelled")
        # Its slot goes to trial 3; trial 4 still waits.
        jobs = self.wait_submitted(d, 3)
        self.assertEqual(len(jobs), 3)

        d.ctl("cancel", "sweep", str(sid), check=True)
        self.assertEqual(self.wait_done(d, sid)["state"], "cancelled")
        for j in self.jobs(d):
            self.wait_job_state(d, j["id"], "cancelled")
            self.assertEqual(self.fake.job(j["remote_id"])["status"],
                             "cancelled")
        s = self.sweep(d, sid)
        self.assertEqual({t["state"] for t in s["trials"]}, {"cancelled"})
        # The trial never admitted was never created.
        self.assertEqual(sorted(t["attempts"] for t in s["trials"]),
                         [0, 1, 1, 1])
        self.assertEqual(len(self.creates()), 3)
        self.assertEqual(len(self.fake.jobs()), 3)
        actions = [r["path"].rsplit("/", 1)[1] for r in self.fake.requests()
                   if r["method"] == "POST" and
                   re.search(r"/(pause|resume|cancel)$", r["path"])]
        self.assertEqual(actions, ["pause", "resume"] + ["cancel"] * 3)
        self.assert_money_safe(d)


class KeyConfiguration(OpenAITest):
    def write_config(self, backend):
        path = os.path.join(self.tmp, "check.conf")
        with open(path, "w") as f:
            f.write("[daemon]\nsocket = %s\ndatabase = %s\n\n%s"
                    % (os.path.join(self.tmp, "check.sock"),
                       os.path.join(self.tmp, "check.db"), backend))
        return path

    def rftd(self, conf, *args, env=None):
        return subprocess.run([RFTD, "-c", conf] + list(args),
                              capture_output=True, text=True,
                              timeout=CALL_TIMEOUT,
                              env=env)

    def backend(self, key_lines):
        return ('[backend "oa"]\ntype = openai\nbase_url = %s\n%s'
                % (self.fake.openai_base, key_lines))

    def assert_config_error(self, conf, text):
        r = self.rftd(conf, "-n")
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertRegex(r.stderr, re.escape(conf) + r":\d+: ")
        self.assertIn(text, r.stderr)

    def test_an_openai_backend_needs_exactly_one_key_option(self):
        self.assert_config_error(
            self.write_config(self.backend("")),
            "set exactly one of api_key_file, api_key_env and "
            "api_key_credential")
        self.assert_config_error(
            self.write_config(self.backend(
                "api_key_file = %s\napi_key_env = OA_KEY\n"
                % self.key_file)),
            "set exactly one of")
        conf = self.write_config(self.backend(
            "api_key_file = %s\n" % self.key_file))
        self.assertEqual(self.rftd(conf, "-n").returncode, 0)

    def test_a_sim_option_in_an_openai_backend_is_an_error(self):
        self.assert_config_error(
            self.write_config(self.backend(
                "api_key_file = %s\nspeed = 2\n" % self.key_file)),
            "speed applies to type sim")

    def test_a_missing_key_file_stops_rftd_with_a_clear_message(self):
        missing = os.path.join(self.tmp, "no-such.key")
        conf = self.write_config(self.backend("api_key_file = %s\n"
                                              % missing))
        r = self.rftd(conf, "-f")
        self.assertNotEqual(r.returncode, 0)
        out = r.stdout + r.stderr
        self.assertIn("cannot read the API key from " + missing, out)
        self.assertIn("No such file or directory", out)

    def test_the_key_from_an_environment_variable(self):
        backend = self.backend_config().replace(
            "api_key_file = %s\n" % self.key_file,
            "api_key_env = RFTD_TEST_OA_KEY\n")
        self.assertIn("api_key_env", backend)
        # Unset: rftd refuses to start, naming the variable.
        env = dict(os.environ)
        env.pop("RFTD_TEST_OA_KEY", None)
        conf = self.write_config(backend)
        r = self.rftd(conf, "-f", env=env)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("RFTD_TEST_OA_KEY is not set", r.stdout + r.stderr)
        with environ(RFTD_TEST_OA_KEY=API_KEY):
            d = self.daemon(extra_config=backend,
                            daemon_section="tick = 50\n")
        self.assert_key_works(d)

    def test_the_key_from_a_systemd_credential(self):
        creds = os.path.join(self.tmp, "credentials")
        os.makedirs(creds)
        with open(os.path.join(creds, "oa-key"), "w") as f:
            f.write(API_KEY + "\n")
        backend = self.backend_config().replace(
            "api_key_file = %s\n" % self.key_file,
            "api_key_credential = oa-key\n")
        self.assertIn("api_key_credential", backend)
        env = dict(os.environ)
        env.pop("CREDENTIALS_DIRECTORY", None)
        r = self.rftd(self.write_config(backend), "-f", env=env)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("CREDENTIALS_DIRECTORY", r.stdout + r.stderr)
        with environ(CREDENTIALS_DIRECTORY=creds):
            d = self.daemon(extra_config=backend,
                            daemon_section="tick = 50\n")
        self.assert_key_works(d)

    def assert_key_works(self, d):
        """The key reached the fake: a sweep runs, nothing is refused."""
        sid = self.submit(d, self.spec(trials=1))
        self.wait_submitted(d, 1)
        log = self.fake.requests()
        self.assertTrue(any(is_create(r) for r in log))
        self.assertEqual([r for r in log if r["status"] == 401], [])
        self.assertTrue(all(r["auth"] == "bearer" for r in log))
        self.assertEqual(self.sweep(d, sid)["state"], "running")



class KeyPieces(OpenAITest):
    """An error page that echoes the request far into its body: the
    key is cut where rftd cuts the error, and no piece of it is kept."""

    VALIDATE_PATH = r"/graders/validate$"

    def echo(self):
        return "x" * 530 + "<pre>Authorization: Bearer %s</pre>" % API_KEY

    def pieces(self):
        return {API_KEY[i:i + 8] for i in range(len(API_KEY) - 7)}

    def assert_no_piece(self, name, text):
        if isinstance(text, bytes):
            found = [p for p in self.pieces() if p.encode() in text]
        else:
            found = [p for p in self.pieces() if p in text]
        self.assertEqual(found, [], "pieces of the key in " + name)

    def test_no_piece_of_an_echoed_key_is_in_a_reply_the_log_or_the_store(
            self):
        d = self.api_daemon(daemon_section="log_level = debug\n")
        outputs = {}
        # A refusal and a refused key, each answered to sweep.submit.
        for status in (400, 401):
            self.fake.add_fault("status", path=self.VALIDATE_PATH,
                                method="POST", count=1, status=status,
                                body=self.echo())
            r = d.ctl("submit", self.spec(trials=2, name="v%d" % status))
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("xxxx", r.stderr)
            outputs["submit (%d)" % status] = r.stdout + r.stderr
        # A refused create, and reads and event pages that fail twice.
        self.fake.add_fault("status", path=CREATE_PATH, method="POST",
                            count=1, status=400, body=self.echo())
        self.fake.add_fault("status", path=JOB_PATH, method="GET", count=2,
                            status=500, body=self.echo())
        self.fake.add_fault("status", path=r"/events$", method="GET",
                            count=2, status=500, body=self.echo())
        sid = self.submit(d, self.spec(trials=2))
        s = self.wait_done(d, sid)
        self.assertEqual(sorted(t["state"] for t in s["trials"]),
                         ["failed", "succeeded"])
        faults = [r["status"] for r in self.fake.requests() if r["fault"]]
        self.assertEqual(sorted(faults), [400, 400, 401, 500, 500, 500, 500])
        failed = [j for j in self.jobs(d) if j["state"] == "failed"]
        self.assertIn("xxxx", failed[0]["error"])
        for args in (("jobs",), ("sweep", "show", str(sid)),
                     ("job", "show", str(failed[0]["id"])),
                     ("sql", "SELECT * FROM jobs")):
            r = d.ctl("--json", *args, check=True)
            outputs[" ".join(args)] = r.stdout + r.stderr
        log = d.read_log()
        self.assertIn("xxxx", log)
        outputs["log"] = log
        self.assertEqual(d.stop(), 0)
        outputs["log after stop"] = d.read_log()
        store = os.path.dirname(d.database)
        for name in os.listdir(store):
            with open(os.path.join(store, name), "rb") as f:
                outputs[name] = f.read()
        for name, text in outputs.items():
            self.assert_no_piece(name, text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
