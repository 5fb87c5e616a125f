"""Azure OpenAI as a target: the real rftd and rftctl against the fake API's
Azure paths, which keep Microsoft's published rules (openai_fake.py,
"Azure OpenAI's rules").

- A python grader (also inside a multi grader) is refused at plan, at its
  JSON path, before anything is sent; OpenAI's dialect takes it.
- Azure's data rules are checked at plan: a validation file is required,
  no example has a system message, the last message of each is the
  user's; errors name the file, the line and the field.
- Uploads carry expires_after, and a cached upload about to expire is
  uploaded again.
- api_version fits the paths of base_url, or rftd refuses to start,
  naming the line.
- response_format goes to the provider on both dialects, and a grader
  reading output_json without one is refused at plan.
- A job the provider pauses at its cost limit shows paused with the
  provider's reason, costs nothing more while paused, and is resumed by
  no one but the user.
- Models are taken by name, priced by the configuration.
- docs/azure.md's configuration and spec run as written.
"""
import json
import os
import re
import subprocess
import unittest
import urllib.request

from apitest import API_KEY, APITest
from harness import (CALL_TIMEOUT, LONG_WAIT, RFTD, SOURCE_DIR, WAIT,
                     wait_until)

EXACT = {"type": "string_check", "name": "exact",
         "input": "{{sample.output_text}}",
         "reference": "{{item.answer}}", "operation": "eq"}
PYTHON = {"type": "python", "name": "py",
          "source": "def grade(sample, item) -> float:\n    return 1.0\n"}
SCHEMA = {"type": "json_schema", "json_schema": {
    "name": "answer", "strict": True,
    "schema": {"type": "object",
               "properties": {"answer": {"type": "string"}},
               "required": ["answer"], "additionalProperties": False}}}


class AzureTest(APITest):
    """A daemon with an azure backend "az" and an openai one "oa"."""

    def azure_daemon(self, extra="", openai_too=True, **kw):
        config = self.backend_config(name="az", dialect="azure",
                                     extra=extra, **kw)
        if openai_too:
            config += "\n" + self.backend_config(name="oa")
        return self.daemon(extra_config=config,
                           daemon_section="tick = 50\n")

    def spec(self, **fields):
        """APITest.spec(), where a field given as None is left out."""
        drop = [k for k, v in fields.items() if v is None]
        path = APITest.spec(self, **dict(
            (k, v) for k, v in fields.items() if v is not None))
        if drop:
            with open(path) as f:
                spec = json.load(f)
            for k in drop:
                spec.pop(k, None)
            with open(path, "w") as f:
                json.dump(spec, f)
        return path

    def creates(self):
        return [r for r in self.fake.requests()
                if r["method"] == "POST" and
                r["path"].endswith("/fine_tuning/jobs")]

    def refused(self, d, spec, *words):
        """rftctl plan and submit refuse `spec` with each of `words`;
        nothing is stored, uploaded, validated or created."""
        for verb in ("plan", "submit"):
            r = d.ctl(verb, spec)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            for w in words:
                self.assertIn(w, r.stderr)
        self.assertEqual(self.rows(d, "SELECT count(*) FROM sweeps"),
                         [(0,)])
        self.assertEqual([r for r in self.fake.requests()
                          if r["method"] == "POST"], [])
        return r.stderr

    def write_data(self, name, lines):
        path = os.path.join(self.data, name)
        with open(path, "w") as f:
            for line in lines:
                f.write(json.dumps(line) + "\n")
        return path


class PythonGrader(AzureTest):
    def test_a_python_grader_is_refused_at_plan_at_its_path(self):
        d = self.azure_daemon()
        err = self.refused(
            d, self.spec(backend="az", graders={"exact": EXACT,
                                                "py": PYTHON}),
            "/graders/py: Azure OpenAI's RFT takes no python grader")
        self.assertNotIn("/graders/exact", err)
        self.assertNotIn("/hyperparameters", err)  # the grader's own path
        # Inside a multi grader, at its own path.
        multi = {"type": "multi", "name": "mix",
                 "graders": {"ex": EXACT, "code": PYTHON},
                 "calculate_output": "0.5 * ex + 0.5 * code"}
        self.refused(d, self.spec(backend="az", graders={"mix": multi}),
                     "/graders/mix/graders/code: Azure OpenAI's RFT takes "
                     "no python grader")
        # OpenAI's dialect takes both.
        d.ctl("plan", self.spec(backend="oa", graders={"mix": multi}),
              check=True)


class DataRules(AzureTest):
    def test_azure_needs_a_validation_file(self):
        d = self.azure_daemon()
        self.refused(d, self.spec(backend="az", validation_file=None),
                     "/validation_file: is required on Azure OpenAI")
        d.ctl("plan", self.spec(backend="oa", validation_file=None),
              check=True)

    def test_a_system_message_is_refused_naming_file_line_and_field(self):
        d = self.azure_daemon()
        ok = {"messages": [{"role": "user", "content": "2+2?"}],
              "answer": "4"}
        system = {"messages": [{"role": "system", "content": "Be brief."},
                               {"role": "user", "content": "2+2?"}],
                  "answer": "4"}
        path = self.write_data("system.jsonl", [ok, ok, system])
        self.refused(d, self.spec(backend="az", training_file=path),
                     "/training_file: '%s' line 3, /messages/0/role: Azure "
                     "OpenAI's RFT takes no system message" % path)
        d.ctl("plan", self.spec(backend="oa", training_file=path),
              check=True)

    def test_the_last_message_must_be_the_users(self):
        d = self.azure_daemon()
        ok = {"messages": [{"role": "user", "content": "2+2?"}],
              "answer": "4"}
        answered = {"messages": [{"role": "user", "content": "2+2?"},
                                 {"role": "assistant", "content": "4"}],
                    "answer": "4"}
        path = self.write_data("answered.jsonl", [ok, answered])
        self.refused(d, self.spec(backend="az", validation_file=path),
                     "/validation_file: '%s' line 2, /messages/1/role: the "
                     "last message of an example is the user's on Azure "
                     "OpenAI's RFT, not the assistant's" % path)

    def test_a_provider_file_id_is_the_providers_to_check(self):
        d = self.azure_daemon()
        d.ctl("plan", self.spec(backend="az", training_file="file-abc",
                                validation_file="file-def"), check=True)


class Uploads(AzureTest):
    def uploads(self):
        return [r for r in self.fake.requests()
                if r["method"] == "POST" and r["path"].endswith("/files")]

    def test_uploads_expire_as_configured_and_the_cache_knows_it(self):
        # The provider would refuse an upload without expires_after: the
        # sweep runs, so rftd sent it.
        d = self.azure_daemon(extra="file_expires_after = 48h\n")
        sid = self.submit(d, self.spec(backend="az", trials=2))
        self.assertEqual(self.wait_done(d, sid)["state"], "completed")
        self.assertEqual(len(self.uploads()), 2)
        self.assertTrue(all(r["status"] == 200 for r in self.uploads()))
        rows = self.rows(d, "SELECT remote_id, uploaded_at, expires_at"
                            " FROM files ORDER BY id")
        self.assertEqual(len(rows), 2)
        for remote, uploaded, expires in rows:
            self.assertAlmostEqual(expires - uploaded, 48 * 3600, delta=120)
            state = self.api_file(remote)
            self.assertEqual(state["expires_at"], int(expires))
        # Days to go: a second sweep uses them again.
        sid = self.submit(d, self.spec(backend="az", trials=2,
                                       name="again", seeds=[7]))
        self.wait_done(d, sid)
        self.assertEqual(len(self.uploads()), 2)

    def test_an_upload_about_to_expire_is_uploaded_again(self):
        # The provider's clock runs behind: what it uploads with an hour
        # to live expires ten minutes from now, too soon for a job.
        self.fake.advance(-3000)
        d = self.azure_daemon(extra="file_expires_after = 1h\n")
        sid = self.submit(d, self.spec(backend="az", trials=2))
        self.wait_done(d, sid)
        self.assertEqual(len(self.uploads()), 2)
        sid = self.submit(d, self.spec(backend="az", trials=2,
                                       name="again", seeds=[7]))
        self.assertEqual(self.wait_done(d, sid)["state"], "completed")
        self.assertEqual(len(self.uploads()), 4)
        # The second sweep's jobs train on the new upload.
        trains = [self.fake.job(j)["training_file"] for j in self.jobs_of(d)]
        self.assertEqual(len(trains), 4)
        self.assertEqual(len(set(trains[:2])), 1)
        self.assertEqual(len(set(trains[2:])), 1)
        self.assertNotEqual(trains[0], trains[2])

    def test_openai_sends_no_expiry_unless_asked(self):
        d = self.azure_daemon()
        sid = self.submit(d, self.spec(backend="oa", trials=2))
        self.wait_done(d, sid)
        self.assertEqual(
            self.rows(d, "SELECT count(*) FROM files"
                         " WHERE expires_at IS NULL"), [(2,)])

    def jobs_of(self, d):
        return [r[0] for r in self.rows(
            d, "SELECT remote_id FROM jobs WHERE remote_id IS NOT NULL"
               " ORDER BY id")]

    def api_file(self, file_id):
        req = urllib.request.Request(
            self.fake.azure_v1_base + "/files/" + file_id,
            headers={"api-key": API_KEY})
        with urllib.request.urlopen(req, timeout=WAIT) as r:
            return json.loads(r.read())


class ApiVersion(AzureTest):
    def rftd_check(self, backend):
        conf = os.path.join(self.tmp, "check.conf")
        with open(conf, "w") as f:
            f.write("[daemon]\nsocket = %s\ndatabase = %s\n\n%s"
                    % (os.path.join(self.tmp, "s.sock"),
                       os.path.join(self.tmp, "c.db"), backend))
        return conf, subprocess.run([RFTD, "-c", conf, "-n"],
                                    capture_output=True, text=True,
                                    timeout=CALL_TIMEOUT)

    def assert_refused_at(self, backend, key, words):
        conf, r = self.rftd_check(backend)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        lines = backend.split("\n")
        line = 5 + [i for i, l in enumerate(lines)
                    if l.startswith(key + " =")][0]
        self.assertIn("%s:%d: " % (conf, line), r.stderr)
        self.assertIn(words, r.stderr)

    def test_a_dated_version_on_the_v1_paths_is_refused_naming_its_line(self):
        self.assert_refused_at(
            self.backend_config(name="az", dialect="azure",
                                extra="api_version = 2025-04-01-preview\n"),
            "api_version",
            "api_version 2025-04-01-preview is for the dated paths")
        self.assert_refused_at(
            self.backend_config(name="az", dialect="azure",
                                base=self.fake.azure_base,
                                extra="api_version = preview\n"),
            "api_version", "api_version preview is for the v1 paths")
        self.assert_refused_at(
            self.backend_config(name="az", dialect="azure",
                                extra="api_version = 2025-4-1\n"),
            "api_version", "api_version '2025-4-1' is none the service knows")
        self.assert_refused_at(
            self.backend_config(name="az", dialect="azure",
                                base=self.fake.azure_base),
            "base_url", "which needs a dated api_version")

    def test_preview_on_the_v1_paths_runs(self):
        d = self.azure_daemon(extra="api_version = preview\n",
                              openai_too=False)
        sid = self.submit(d, self.spec(backend="az", trials=2))
        self.assertEqual(self.wait_done(d, sid)["state"], "completed")
        for r in self.fake.requests():
            self.assertIn("api-version=preview", r["query"].split("&"), r)
            self.assertEqual(r["status"] // 100, 2, r)


class ResponseFormat(AzureTest):
    def test_it_is_sent_on_both_dialects(self):
        d = self.azure_daemon()
        grader = dict(EXACT, input="{{sample.output_json.answer}}")
        for backend in ("az", "oa"):
            sid = self.submit(d, self.spec(
                backend=backend, trials=2, name="rf-" + backend,
                graders={"exact": grader}, response_format=SCHEMA))
            self.assertEqual(self.wait_done(d, sid)["state"], "completed")
        jobs = self.rows(d, "SELECT remote_id FROM jobs")
        self.assertEqual(len(jobs), 4)
        for (remote,) in jobs:
            rft = self.fake.job(remote)["method"]["reinforcement"]
            self.assertEqual(rft["response_format"], SCHEMA)
        dialects = {r["path"].split("/fine_tuning")[0]
                    for r in self.creates()}
        self.assertEqual(dialects, {"/openai/v1", "/v1"})

    def test_output_json_without_a_response_format_is_refused(self):
        d = self.azure_daemon()
        grader = dict(EXACT, input="{{sample.output_json.answer}}")
        for backend in ("az", "oa"):
            self.refused(d, self.spec(backend=backend,
                                      graders={"exact": grader}),
                         "/graders/exact/input: "
                         "{{sample.output_json.answer}}: the model's output "
                         "is parsed as JSON only with a response_format")


class ProviderPause(AzureTest):
    fake_options = dict(APITest.fake_options, steps=400, step_secs=0.3,
                        azure_pause_usd=0.05)

    def test_a_provider_pause_shows_its_reason_and_holds(self):
        # $0.05 at $100 an hour: the pause comes after about 2 s of
        # training (7 steps), long before the job would end.
        d = self.azure_daemon(openai_too=False)
        sid = self.submit(d, self.spec(backend="az", trials=1))
        wait_until(lambda: self.rows(d, "SELECT state FROM jobs")
                   == [("paused",)], what="the provider to pause the job")
        job = d.ctl_json("job", "show", "1")
        self.assertEqual(job["state"], "paused")
        self.assertEqual(job["provider_status"], "paused")
        self.assertIn("paused automatically", job["error"])
        text = d.ctl("job", "show", "1", check=True).stdout
        self.assertRegex(text, r"running -> paused: The job was paused "
                               r"automatically: its training and grading "
                               r"cost reached \$0\.05")
        self.assertEqual(self.sweep(d, sid)["trials"][0]["state"], "paused")
        # Its cost stops at the pause: several polls later, the same.
        cost = job["cost_usd"]
        self.assertGreater(cost, 0)
        seen = self.fake.request_count()
        wait_until(lambda: self.fake.request_count() > seen + 10,
                   what="rftd to poll the paused job")
        self.assertEqual(d.ctl_json("job", "show", "1")["cost_usd"], cost)
        # A raised budget does not resume it; nothing of rftd does.
        d.ctl("budget", "set", "global", "1000", check=True)
        seen = self.fake.request_count()
        wait_until(lambda: self.fake.request_count() > seen + 10,
                   what="rftd to poll the paused job again")
        self.assertEqual(d.ctl_json("job", "show", "1")["state"], "paused")
        self.assertFalse([r for r in self.fake.requests()
                          if r["path"].endswith("/resume")])
        # The user does.
        d.ctl("resume", "job", "1", check=True)
        wait_until(lambda: d.ctl_json("job", "show", "1")["state"]
                   == "running", what="the job to run again")
        self.assertEqual(len([r for r in self.fake.requests()
                              if r["path"].endswith("/resume")]), 1)
        self.assert_money_safe(d)


class Models(AzureTest):
    def test_a_model_is_taken_by_name_and_priced_by_the_configuration(self):
        d = self.daemon(extra_config=self.backend_config(
            name="az", dialect="azure") +
            '\n[price "az/gpt-5-2025-08-07"]\nper_training_hour = 150\n',
            daemon_section="tick = 50\n")
        spec = self.spec(backend="az", trials=2, model="gpt-5-2025-08-07")
        plan = d.ctl_json("plan", spec)
        self.assertEqual(plan["model"], "gpt-5-2025-08-07")
        self.assertEqual(plan["bill"]["rate_usd_per_hour"], 150)
        sid = self.submit(d, spec)
        self.assertEqual(self.wait_done(d, sid)["state"], "completed")
        for r in self.rows(d, "SELECT remote_id FROM jobs"):
            self.assertEqual(self.fake.job(r[0])["model"],
                             "gpt-5-2025-08-07")

    def test_a_model_without_a_price_says_how_to_price_it(self):
        d = self.azure_daemon(openai_too=False)
        r = d.ctl("plan", self.spec(backend="az", model="gpt-5-2025-08-07"))
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn('[price "az/gpt-5-2025-08-07"]', r.stderr)

    def test_the_built_in_price_is_dated_and_the_configuration_wins(self):
        d = self.azure_daemon(openai_too=False)
        plan = d.ctl_json("plan", self.spec(backend="az"))
        self.assertEqual(plan["bill"]["rate_usd_per_hour"], 100)
        r = subprocess.run([RFTD, "-c", d.config, "-n"], capture_output=True,
                           text=True, timeout=CALL_TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r'\[price "az/o4-mini-2025-04-16"\]\n; '
                                   r"built in: the provider's published "
                                   r"price as of \d{4}-\d{2}-\d{2}")
        d.stop()
        d2 = self.daemon(extra_config=self.backend_config(
            name="az", dialect="azure") +
            '\n[price "az/o4-mini-2025-04-16"]\nper_training_hour = 80\n',
            daemon_section="tick = 50\n")
        plan = d2.ctl_json("plan", self.spec(backend="az"))
        self.assertEqual(plan["bill"]["rate_usd_per_hour"], 80)


class Docs(AzureTest):
    """docs/azure.md's configuration and spec run as they are written,
    against the fake's Azure paths."""

    def blocks(self, lang):
        with open(os.path.join(SOURCE_DIR, "docs", "azure.md")) as f:
            text = f.read()
        return re.findall(r"```%s\n(.*?)```" % lang, text, re.S)

    def test_the_documented_configuration_and_spec_run(self):
        config = self.blocks("ini")[0]
        # rftd's own [daemon] section, the fake's URL and key, quick polls.
        config = config[config.index("[backend"):]
        config = config.replace(
            "https://NAME.openai.azure.com/openai/v1",
            self.fake.azure_v1_base).replace(
            "api_key_env = AZURE_OPENAI_API_KEY",
            "api_key_file = %s" % self.key_file).replace(
            "poll_interval = 30", "poll_interval = 0.2")
        self.assertIn(self.fake.azure_v1_base, config)
        d = self.daemon(extra_config=config, daemon_section="tick = 50\n")
        project = os.path.join(self.tmp, "project")
        os.makedirs(os.path.join(project, "data"))
        for name in ("train.jsonl", "valid.jsonl"):
            with open(os.path.join(project, "data", name), "w") as f:
                f.write(self.blocks("jsonl")[0])
        spec = os.path.join(project, "compliance.json")
        with open(spec, "w") as f:
            f.write(self.blocks("json")[0])
        plan = d.ctl_json("plan", spec)
        self.assertEqual(plan["trials"], 16)
        self.assertEqual(plan["warnings"], [])
        sid = self.submit(d, spec)
        self.assertEqual(self.wait_done(d, sid, timeout=LONG_WAIT * 2)
                         ["state"], "completed")
        self.assertEqual(len(self.creates()), 16)
        for r in self.fake.requests():
            self.assertEqual(r["status"] // 100, 2, r)
        self.assert_money_safe(d)


if __name__ == "__main__":
    unittest.main()
