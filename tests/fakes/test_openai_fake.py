#!/usr/bin/env python3
"""Self-test of the fake OpenAI fine-tuning API (tests/fakes/openai_fake.py).

Run: python3 tests/fakes/test_openai_fake.py
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from openai_fake import FakeOpenAI, Formula, FormulaError  # noqa: E402

KEY = "sk-test-0123456789abcdef"
TRAIN = (b'{"messages":[{"role":"user","content":"Is it compliant?"}],'
         b'"compliant":"yes"}\n'
         b'{"messages":[{"role":"user","content":"And this?"}],'
         b'"compliant":"no"}\n')

STRING_CHECK = {"type": "string_check", "name": "compliant",
                "input": "{{sample.output_json.compliant}}",
                "reference": "{{item.compliant}}", "operation": "eq"}
SCORE_MODEL = {"type": "score_model", "name": "explanation_grader",
               "model": "o4-mini-2025-04-16",
               "input": [{"role": "user", "type": "message",
                          "content": "Score {{sample.output_text}}"}],
               "range": [0, 1],
               "sampling_params": {"reasoning_effort": "low"}}
PYTHON = {"type": "python", "name": "has_cite", "image_tag": "2025-05-08",
          "source": "def grade(sample, item) -> float:\n    return 1.0\n"}
MULTI = {"type": "multi", "name": "combined",
         "graders": {"compliant": STRING_CHECK, "explanation": SCORE_MODEL,
                     "has_cite": PYTHON},
         "calculate_output":
             "0.5 * compliant + 0.4 * explanation + 0.1 * has_cite"}


def multipart(fields, boundary="fakeBoundary7MA4YWxk"):
    out = []
    for name, value in fields:
        out.append(b"--" + boundary.encode() + b"\r\n")
        if isinstance(value, tuple):
            filename, content = value
            out.append(('Content-Disposition: form-data; name="%s"; '
                        'filename="%s"\r\n' % (name, filename)).encode())
            out.append(b"Content-Type: application/octet-stream\r\n\r\n")
            out.append(content)
        else:
            out.append(('Content-Disposition: form-data; name="%s"\r\n\r\n'
                        % name).encode())
            out.append(value.encode())
        out.append(b"\r\n")
    out.append(b"--" + boundary.encode() + b"--\r\n")
    return b"".join(out), "multipart/form-data; boundary=" + boundary


class Base(unittest.TestCase):
    options = {}

    def setUp(self):
        opts = {"validate_secs": 1, "queue_secs": 1, "step_secs": 2,
                "rng_seed": 7}
        opts.update(self.options)
        self.srv = FakeOpenAI(api_key=KEY, **opts)
        self.srv.start()

    def tearDown(self):
        self.srv.stop()

    def call(self, method, path, body=None, auth="bearer", headers=None,
             ctype="application/json", timeout=10):
        """One request on a fresh connection: (status, headers, json)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port,
                                          timeout=timeout)
        h = {}
        if auth == "bearer":
            h["Authorization"] = "Bearer " + KEY
        elif auth == "api-key":
            h["api-key"] = KEY
        h.update(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else \
                json.dumps(body).encode()
            h["Content-Type"] = ctype
        try:
            conn.request(method, path, body=data, headers=h)
            resp = conn.getresponse()
            raw = resp.read()
            hdrs = dict((k.lower(), v) for k, v in resp.getheaders())
            return resp.status, hdrs, json.loads(raw) if raw else None
        finally:
            conn.close()

    def ok(self, method, path, body=None, **kw):
        status, _, obj = self.call(method, path, body, **kw)
        self.assertEqual(status, 200, obj)
        return obj

    def upload(self, prefix="/v1", filename="train.jsonl", content=TRAIN,
               purpose="fine-tune", expires=None, **kw):
        """expires: seconds of expires_after (anchor created_at)."""
        fields = [("purpose", purpose), ("file", (filename, content))]
        if expires is not None:
            fields += [("expires_after[anchor]", "created_at"),
                       ("expires_after[seconds]", str(expires))]
        body, ctype = multipart(fields)
        return self.call("POST", prefix + "/files", body, ctype=ctype, **kw)

    def file_id(self):
        status, _, f = self.upload()
        self.assertEqual(status, 200, f)
        return f["id"]

    def create(self, prefix="/v1", grader=None, **fields):
        req = {"model": "o4-mini-2025-04-16",
               "training_file": fields.pop("training_file", None)
               or self.file_id(),
               "method": {"type": "reinforcement",
                          "reinforcement": {"grader": grader or STRING_CHECK}}}
        req.update(fields)
        return self.call("POST", prefix + "/fine_tuning/jobs", req,
                         auth="bearer" if prefix == "/v1" else "api-key")

    def assertError(self, resp, status, param="__any__", code="__any__"):
        st, _, obj = resp
        self.assertEqual(st, status, obj)
        self.assertEqual(set(obj), {"error"})
        self.assertEqual(set(obj["error"]),
                         {"message", "type", "param", "code"})
        self.assertIsInstance(obj["error"]["message"], str)
        if param != "__any__":
            self.assertEqual(obj["error"]["param"], param, obj)
        if code != "__any__":
            self.assertEqual(obj["error"]["code"], code, obj)
        return obj["error"]


class TestLifecycle(Base):
    def test_upload_and_full_life(self):
        st, hdrs, f = self.upload()
        self.assertEqual(st, 200, f)
        self.assertTrue(f["id"].startswith("file-") and len(f["id"]) == 29)
        self.assertEqual(f["object"], "file")
        self.assertEqual(f["bytes"], len(TRAIN))
        self.assertEqual(f["purpose"], "fine-tune")
        self.assertEqual(f["status"], "processed")
        self.assertIsNone(f["expires_at"])
        self.assertTrue(hdrs["x-request-id"].startswith("req_"))
        self.assertIn("openai-processing-ms", hdrs)
        self.assertEqual(self.ok("GET", "/v1/files/" + f["id"])["id"], f["id"])
        up = self.srv.uploads()
        self.assertEqual(len(up), 1)
        self.assertEqual(up[0]["bytes"], len(TRAIN))
        self.assertEqual(len(up[0]["sha256"]), 64)

        st, _, job = self.create(
            training_file=f["id"], validation_file=f["id"], suffix="sec",
            metadata={"rftd_intent": "abc", "exp": "1"}, grader=MULTI,
            method={"type": "reinforcement", "reinforcement": {
                "grader": MULTI,
                "hyperparameters": {"n_epochs": 2, "eval_interval": 3,
                                    "reasoning_effort": "medium"},
                "response_format": {"type": "json_schema", "json_schema": {
                    "name": "x", "strict": True,
                    "schema": {"type": "object"}}}}})
        self.assertEqual(st, 200, job)
        jid = job["id"]
        self.assertTrue(jid.startswith("ftjob-") and len(jid) == 30)
        self.assertEqual(job["status"], "validating_files")
        self.assertEqual(job["error"], {})
        self.assertIsNone(job["usage_metrics"])
        self.assertIsNone(job["estimated_finish"])
        self.assertIsNone(job["fine_tuned_model"])
        self.assertIs(job["shared_with_openai"], False)
        self.assertTrue(job["eval_id"].startswith("eval_"))
        self.assertEqual(job["user_provided_suffix"], "sec")
        self.assertIsInstance(job["seed"], int)
        hp = job["method"]["reinforcement"]["hyperparameters"]
        self.assertEqual(hp, {"batch_size": "auto",
                              "learning_rate_multiplier": "auto",
                              "n_epochs": 2, "eval_interval": 3,
                              "eval_samples": "auto",
                              "compute_multiplier": "auto",
                              "reasoning_effort": "medium"})
        self.assertEqual(job["method"]["reinforcement"]["grader"], MULTI)
        self.assertEqual(self.srv.creates_by_intent(), {"abc": 1})

        self.srv.advance(2.5)   # validated (1 s) and queued (1 s)
        job = self.ok("GET", "/v1/fine_tuning/jobs/" + jid)
        self.assertEqual(job["status"], "running")
        self.assertIsInstance(job["estimated_finish"], int)
        self.assertEqual(job["usage_metrics"]["step"], 0)
        self.srv.advance(4)
        job = self.ok("GET", "/v1/fine_tuning/jobs/" + jid)
        self.assertEqual(job["usage_metrics"]["step"], 2)
        self.assertEqual(job["usage_metrics"]["total_steps"], 10)

        self.srv.advance(100)
        job = self.ok("GET", "/v1/fine_tuning/jobs/" + jid)
        self.assertEqual(job["status"], "succeeded")
        self.assertRegex(
            job["fine_tuned_model"],
            r"^ft:o4-mini-2025-04-16:org-fake:sec:[A-Za-z0-9]{8}$")
        self.assertIsInstance(job["finished_at"], int)
        self.assertEqual(len(job["result_files"]), 1)
        self.assertEqual(job["error"], {})

        # All events, newest first, paged with after.
        events = []
        after = None
        while True:
            q = "?limit=7" + ("&after=" + after if after else "")
            page = self.ok("GET", "/v1/fine_tuning/jobs/%s/events%s"
                           % (jid, q))
            self.assertEqual(page["object"], "list")
            self.assertLessEqual(len(page["data"]), 7)
            events.extend(page["data"])
            if not page["has_more"]:
                break
            after = page["data"][-1]["id"]
        self.assertEqual(events, self.srv.events(jid))
        stamps = [e["created_at"] for e in events]
        self.assertEqual(stamps, sorted(stamps, reverse=True))
        self.assertEqual(len(set(e["id"] for e in events)), len(events))
        msgs = [e["message"] for e in reversed(events)
                if e["type"] == "message"]
        self.assertEqual(msgs[0], "Created fine-tuning job: " + jid)
        self.assertEqual(msgs[1], "Validating training file: %s and "
                         "validation file: %s" % (f["id"], f["id"]))
        self.assertIn("Files validated, moving job to queued state", msgs)
        self.assertIn("Fine-tuning job started", msgs)
        self.assertIn("New fine-tuned model created: "
                      + job["fine_tuned_model"], msgs)
        self.assertEqual(msgs[-1], "The job has successfully completed")

        metrics = [e for e in reversed(events) if e["type"] == "metrics"]
        self.assertEqual([m["data"]["step"] for m in metrics],
                         list(range(1, 11)))
        for m in metrics:
            d = m["data"]
            self.assertEqual(d["total_steps"], 10)
            self.assertEqual(d["timing"]["step"]["full_iteration"], 2.0)
            names = [g["name"] for g in d["scores"]["graders"]]
            self.assertEqual(names, ["compliant", "explanation_grader",
                                     "has_cite"])
            self.assertIn("train_reward_mean", d["scores"])
            self.assertEqual(d["train_mean_reward"],
                             d["scores"]["train_reward_mean"])
            is_eval = d["step"] % 3 == 0 or d["step"] == 10
            self.assertEqual("valid_reward_mean" in d["scores"], is_eval)
            self.assertEqual("full_valid_mean_reward" in d, is_eval)
            for g in d["scores"]["graders"]:
                self.assertEqual("valid_reward_mean" in g, is_eval)
            for k in ("usage", "errors", "reasoning_tokens_mean",
                      "completion_tokens_mean", "mean_unresponsive_rewards",
                      "model_graders_token_usage"):
                self.assertIn(k, d)
            self.assertEqual(d["usage"]["graders"][0]["model"],
                             "o4-mini-2025-04-16")
            self.assertTrue(m["message"].startswith("Step %d/10 , train mean "
                                                    "reward=" % d["step"]))
        # Repeated reads give the same ids.
        self.assertEqual(self.srv.events(jid), events)

        ck = self.ok("GET", "/v1/fine_tuning/jobs/%s/checkpoints" % jid)
        self.assertEqual([c["step_number"] for c in ck["data"]],
                         [10, 9, 6, 3])
        self.assertEqual(ck["first_id"], ck["data"][0]["id"])
        self.assertEqual(ck["last_id"], ck["data"][-1]["id"])
        self.assertFalse(ck["has_more"])
        c = ck["data"][0]
        self.assertTrue(c["id"].startswith("ftckpt_"))
        self.assertEqual(c["fine_tuned_model_checkpoint"],
                         job["fine_tuned_model"] + ":ckpt-step-10")
        page = self.ok("GET", "/v1/fine_tuning/jobs/%s/checkpoints?limit=2"
                       "&after=%s" % (jid, ck["data"][0]["id"]))
        self.assertEqual([c["step_number"] for c in page["data"]], [9, 6])
        self.assertTrue(page["has_more"])
        # The results file exists.
        rf = self.ok("GET", "/v1/files/" + job["result_files"][0])
        self.assertEqual(rf["purpose"], "fine-tune-results")

    def test_list_jobs_paging_and_metadata(self):
        self.srv.set_options(steps=20)
        fid = self.file_id()
        ids = []
        for i in range(5):
            st, _, job = self.create(training_file=fid, metadata={
                "client_token": "tok%d" % i, "group": "even" if i % 2 == 0
                else "odd"})
            self.assertEqual(st, 200, job)
            ids.append(job["id"])
        page = self.ok("GET", "/v1/fine_tuning/jobs")
        self.assertEqual([j["id"] for j in page["data"]], ids[::-1])
        self.assertFalse(page["has_more"])
        page = self.ok("GET", "/v1/fine_tuning/jobs?limit=2")
        self.assertEqual([j["id"] for j in page["data"]], ids[:2:-1])
        self.assertTrue(page["has_more"])
        page = self.ok("GET", "/v1/fine_tuning/jobs?limit=2&after=" + ids[3])
        self.assertEqual([j["id"] for j in page["data"]], [ids[2], ids[1]])
        self.assertTrue(page["has_more"])
        page = self.ok("GET", "/v1/fine_tuning/jobs?limit=2&after=" + ids[1])
        self.assertEqual([j["id"] for j in page["data"]], [ids[0]])
        self.assertFalse(page["has_more"])
        page = self.ok("GET", "/v1/fine_tuning/jobs?metadata%5Bclient_token"
                       "%5D=tok3")
        self.assertEqual([j["id"] for j in page["data"]], [ids[3]])
        page = self.ok("GET", "/v1/fine_tuning/jobs?metadata[group]=even"
                       "&limit=2")
        self.assertEqual([j["id"] for j in page["data"]], [ids[4], ids[2]])
        self.assertTrue(page["has_more"])
        page = self.ok("GET", "/v1/fine_tuning/jobs?metadata[group]=even"
                       "&metadata[client_token]=tok2")
        self.assertEqual([j["id"] for j in page["data"]], [ids[2]])
        self.assertError(self.call("GET", "/v1/fine_tuning/jobs?limit=101"),
                         400, "limit", "integer_above_max_value")
        self.assertError(self.call("GET", "/v1/fine_tuning/jobs?limit=0"),
                         400, "limit", "integer_below_min_value")
        # Events default limit 20.
        self.srv.advance(1000)
        page = self.ok("GET", "/v1/fine_tuning/jobs/%s/events" % ids[0])
        self.assertEqual(len(page["data"]), 20)
        self.assertTrue(page["has_more"])
        self.assertEqual(len(self.srv.jobs()), 5)

    def test_not_found(self):
        err = self.assertError(
            self.call("GET", "/v1/fine_tuning/jobs/ftjob-nope"), 404,
            "fine_tuning_job_id")
        self.assertEqual(err["message"], "No such fine-tuning job: ftjob-nope")
        err = self.assertError(self.call("GET", "/v1/nothing/here"), 404)
        self.assertEqual(err["message"], "Invalid URL (GET /v1/nothing/here)")
        self.assertError(self.call("GET", "/v1/files/file-nope"), 404, "id")
        self.assertError(self.call("GET", "/elsewhere"), 404)


class TestValidation(Base):
    def test_create_errors(self):
        fid = self.file_id()
        good = {"model": "o4-mini", "training_file": fid,
                "method": {"type": "reinforcement",
                           "reinforcement": {"grader": STRING_CHECK}}}

        def with_(**kw):
            d = json.loads(json.dumps(good))
            d.update(kw)
            return self.call("POST", "/v1/fine_tuning/jobs", d)

        def hp(**kw):
            return with_(method={"type": "reinforcement", "reinforcement": {
                "grader": STRING_CHECK, "hyperparameters": kw}})

        err = self.assertError(with_(bogus=1), 400, "bogus",
                               "unknown_parameter")
        self.assertEqual(err["message"],
                         "Unrecognized request argument supplied: bogus")
        self.assertEqual(err["type"], "invalid_request_error")
        d = dict(good)
        del d["model"]
        self.assertError(self.call("POST", "/v1/fine_tuning/jobs", d), 400,
                         "model", "missing_required_parameter")
        err = self.assertError(with_(training_file="file-missing"), 400,
                               "training_file", "invalid_file")
        self.assertEqual(err["message"], "invalid training_file: file-missing")
        self.assertError(with_(validation_file="file-x"), 400,
                         "validation_file", "invalid_file")
        self.assertError(with_(suffix="x" * 65), 400, "suffix",
                         "string_above_max_length")
        self.assertError(with_(seed=2147483648), 400, "seed",
                         "integer_above_max_value")
        self.assertError(with_(seed=-1), 400, "seed",
                         "integer_below_min_value")
        self.assertError(with_(seed="1"), 400, "seed", "invalid_type")
        self.assertError(with_(metadata=dict(("k%d" % i, "v")
                                             for i in range(17))),
                         400, "metadata", "object_above_max_properties")
        self.assertError(with_(metadata={"k" * 65: "v"}), 400, "metadata")
        self.assertError(with_(metadata={"k": "v" * 513}), 400, "metadata.k",
                         "string_above_max_length")
        self.assertError(with_(metadata={"k": 1}), 400, "metadata.k",
                         "invalid_type")
        self.assertError(with_(method={"type": "magic"}), 400, "method.type",
                         "invalid_value")
        self.assertError(with_(method={"type": "reinforcement",
                                       "reinforcement": {}}),
                         400, "method.reinforcement.grader",
                         "missing_required_parameter")
        p = "method.reinforcement.hyperparameters."
        self.assertError(hp(n_epochs=51), 400, p + "n_epochs",
                         "integer_above_max_value")
        self.assertError(hp(n_epochs=0), 400, p + "n_epochs")
        self.assertError(hp(batch_size=257), 400, p + "batch_size")
        self.assertError(hp(learning_rate_multiplier=0), 400,
                         p + "learning_rate_multiplier",
                         "decimal_below_min_value")
        self.assertError(hp(eval_interval=0), 400, p + "eval_interval")
        self.assertError(hp(eval_samples=0), 400, p + "eval_samples")
        self.assertError(hp(compute_multiplier=10.5), 400,
                         p + "compute_multiplier", "decimal_above_max_value")
        self.assertError(hp(compute_multiplier=0), 400,
                         p + "compute_multiplier")
        self.assertError(hp(reasoning_effort="auto"), 400,
                         p + "reasoning_effort", "invalid_value")
        self.assertError(hp(warmup=1), 400, p + "warmup", "unknown_parameter")
        self.assertError(hp(n_epochs=True), 400, p + "n_epochs",
                         "invalid_type")
        bad_grader = dict(STRING_CHECK, operation="equals")
        self.assertError(with_(method={"type": "reinforcement",
                                       "reinforcement": {"grader": bad_grader}}
                               ), 400,
                         "method.reinforcement.grader.operation",
                         "invalid_value")
        err = self.assertError(self.call("POST", "/v1/fine_tuning/jobs",
                                         b"{not json"), 400)
        self.assertIn("could not parse the JSON body", err["message"])
        # Accepted variants: all hyperparameters "auto", both response_format
        # forms, Azure's trainingType.
        st, _, job = hp(n_epochs="auto", batch_size="auto",
                        learning_rate_multiplier=0.5, eval_interval="auto",
                        eval_samples=4, compute_multiplier=10,
                        reasoning_effort="high")
        self.assertEqual(st, 200, job)
        for rf in ({"type": "json_schema", "json_schema": {
                "name": "n", "strict": True, "schema": {"type": "object"}}},
                   {"type": "json_schema", "name": "n", "strict": True,
                    "schema": {"type": "object"}}):
            st, _, job = with_(trainingType="globalstandard", method={
                "type": "reinforcement", "reinforcement": {
                    "grader": STRING_CHECK, "response_format": rf}})
            self.assertEqual(st, 200, job)
            self.assertEqual(job["method"]["reinforcement"]["response_format"],
                             rf)
        st, _, job = with_()
        self.assertIsNone(job["method"]["reinforcement"]["response_format"])
        self.assertEqual(self.srv.creates_by_intent(), {})

    def test_upload_errors(self):
        self.assertError(self.upload(filename="train.csv"), 400, "file",
                         "invalid_file_format")
        err = self.assertError(
            self.upload(content=b'{"messages": []}\nnope\n'),
            400, "file", "invalid_file_format")
        self.assertIn("line 2", err["message"])
        err = self.assertError(self.upload(content=b'{"prompt": "x"}\n'), 400,
                               "file", "invalid_file_format")
        self.assertIn("messages", err["message"])
        self.assertError(self.upload(purpose="pictures"), 400, "purpose",
                         "invalid_value")
        body, ctype = multipart([("file", ("t.jsonl", TRAIN))])
        self.assertError(self.call("POST", "/v1/files", body, ctype=ctype),
                         400, "purpose", "missing_required_parameter")
        body, ctype = multipart([("purpose", "fine-tune")])
        self.assertError(self.call("POST", "/v1/files", body, ctype=ctype),
                         400, "file", "missing_required_parameter")
        # BOM-prefixed JSONL (Azure) is fine; other purposes skip checks.
        st, _, f = self.upload(content=b"\xef\xbb\xbf" + TRAIN)
        self.assertEqual(st, 200, f)
        st, _, f = self.upload(filename="x.bin", content=b"\0\1",
                               purpose="batch")
        self.assertEqual(st, 200, f)
        self.assertError(self.create(training_file=f["id"]), 400,
                         "training_file", "invalid_file")
        self.assertEqual(len(self.srv.uploads()), 2)

    def test_graders_validate(self):
        url = "/v1/fine_tuning/alpha/graders/validate"
        for g in (STRING_CHECK, SCORE_MODEL, PYTHON, MULTI,
                  {"type": "text_similarity", "name": "t", "input": "a",
                   "reference": "b", "evaluation_metric": "fuzzy_match"},
                  {"type": "multi", "name": "m", "calculate_output":
                   "max(a, b) ^ 2 - floor(0.5) + sqrt(abs(-a)) * exp(0) "
                   "/ (1 + log(2.718)) + min(a, 1e0)",
                   "graders": {"a": STRING_CHECK, "b": {
                       "type": "label_model", "name": "lab",
                       "model": "gpt-4o-2024-08-06",
                       "input": [{"role": "user", "content": "x"}],
                       "labels": ["good", "bad"],
                       "passing_labels": ["good"]}}}):
            self.assertEqual(self.ok("POST", url, {"grader": g}),
                             {"grader": g})
        nested = {"type": "multi", "name": "outer",
                  "graders": {"inner": MULTI}, "calculate_output": "inner"}
        err = self.assertError(self.call("POST", url, {"grader": nested}),
                               400, "grader.graders.inner")
        self.assertIn("nested", err["message"])
        self.assertEqual(err["type"], "invalid_request_error")
        err = self.assertError(self.call("POST", url, {"grader": dict(
            STRING_CHECK, name="please-reject-me")}), 400, "grader.name")
        self.assertEqual(err["message"],
                         "Grader rejected: please-reject-me is not allowed")
        sub_reject = json.loads(json.dumps(MULTI))
        sub_reject["graders"]["has_cite"]["name"] = "reject-me"
        self.assertError(self.call("POST", url, {"grader": sub_reject}), 400,
                         "grader.graders.has_cite.name")
        as_list = dict(MULTI, graders=[STRING_CHECK])
        self.assertError(self.call("POST", url, {"grader": as_list}), 400,
                         "grader.graders")
        bad_formula = dict(MULTI, calculate_output="compliant + other")
        err = self.assertError(self.call("POST", url, {"grader": bad_formula}),
                               400, "grader.calculate_output")
        self.assertIn("other", err["message"])
        self.assertError(self.call("POST", url, {"grader": dict(
            MULTI, calculate_output="import os")}), 400,
            "grader.calculate_output")
        self.assertError(self.call("POST", url, {"grader": {
            "type": "label_model", "name": "l", "model": "m",
            "input": [{"role": "user", "content": "x"}], "labels": ["a"],
            "passing_labels": ["a"]}}), 400, "grader")
        self.assertError(self.call("POST", url, {"grader": dict(
            PYTHON, source="print(1)")}), 400, "grader.source")
        self.assertError(self.call("POST", url, {"grader": dict(
            PYTHON, source="def grade(s, i):\n" + "#" * 300000)}), 400,
            "grader.source")
        self.assertError(self.call("POST", url, {"grader": dict(
            SCORE_MODEL, input="text")}), 400, "grader.input", "invalid_type")
        self.assertError(self.call("POST", url, {"grader": {
            "type": "string_check", "name": "x"}}), 400, "grader.input",
            "missing_required_parameter")
        self.assertError(self.call("POST", url, {}), 400, "grader")
        # The same checks apply when creating a job.
        self.assertError(self.create(grader=nested), 400,
                         "method.reinforcement.grader.graders.inner")

    def test_formula(self):
        f = Formula("0.5 * a + 0.5 * -b ^ 2", ["a", "b"])
        self.assertAlmostEqual(f.evaluate({"a": 1, "b": 2}), 0.5 - 2.0)
        self.assertAlmostEqual(Formula("max(a, b, 3)", "ab").evaluate(
            {"a": 1, "b": 2}), 3)
        self.assertIsNone(Formula("a / b", "ab").evaluate({"a": 1, "b": 0}))
        for bad in ("", "a +", "(a", "a b", "sin(a)", "max()", "abs(a, b)",
                    "a ** b", "c", "a $ b"):
            with self.assertRaises(FormulaError, msg=bad):
                Formula(bad, ["a", "b"])


class TestControl(Base):
    def running_job(self, **kw):
        st, _, job = self.create(**kw)
        self.assertEqual(st, 200, job)
        self.srv.advance(2.5)
        job = self.ok("GET", "/v1/fine_tuning/jobs/" + job["id"])
        self.assertEqual(job["status"], "running")
        return job["id"]

    def test_pause_resume_cancel(self):
        st, _, job = self.create()
        jid = job["id"]
        base = "/v1/fine_tuning/jobs/" + jid
        err = self.assertError(self.call("POST", base + "/pause"), 400)
        self.assertEqual(err["type"], "invalid_request_error")
        self.assertError(self.call("POST", base + "/resume"), 400)
        self.srv.advance(2.5)
        self.srv.advance(4.1)   # two steps
        job = self.ok("POST", base + "/pause")
        self.assertEqual(job["status"], "pausing")
        self.assertError(self.call("POST", base + "/resume"), 400)
        self.srv.advance(1.0)
        job = self.ok("GET", base)
        self.assertEqual(job["status"], "paused")
        self.assertIsNone(job["estimated_finish"])
        step = job["usage_metrics"]["step"]
        self.assertEqual(step, 2)
        self.srv.advance(100)
        job = self.ok("GET", base)
        self.assertEqual(job["status"], "paused")
        self.assertEqual(job["usage_metrics"]["step"], step)
        self.assertError(self.call("POST", base + "/pause"), 400)
        job = self.ok("POST", base + "/resume")
        self.assertEqual(job["status"], "queued")
        self.srv.advance(1.0)
        job = self.ok("GET", base)
        self.assertEqual(job["status"], "running")
        self.srv.advance(2.0)
        job = self.ok("GET", base)
        self.assertEqual(job["usage_metrics"]["step"], step + 1)
        msgs = [e["message"] for e in self.srv.events(jid)]
        self.assertIn("Fine-tuning job paused", msgs)
        self.assertIn("Fine-tuning job resumed", msgs)
        job = self.ok("POST", base + "/cancel")
        self.assertEqual(job["status"], "cancelled")
        self.assertIsInstance(job["finished_at"], int)
        self.assertError(self.call("POST", base + "/cancel"), 400)
        self.assertError(self.call("POST", base + "/resume"), 400)
        self.srv.advance(1000)
        self.assertEqual(self.ok("GET", base)["status"], "cancelled")
        # Immediate pause with pause_delay 0; cancel from paused.
        self.srv.set_options(pause_delay=0)
        jid = self.running_job()
        job = self.ok("POST", "/v1/fine_tuning/jobs/%s/pause" % jid)
        self.assertEqual(job["status"], "paused")
        job = self.ok("POST", "/v1/fine_tuning/jobs/%s/cancel" % jid)
        self.assertEqual(job["status"], "cancelled")

    def test_failure(self):
        self.srv.set_options(fail_rate=1.0, steps=6)
        st, _, job = self.create()
        self.srv.advance(1000)
        job = self.ok("GET", "/v1/fine_tuning/jobs/" + job["id"])
        self.assertEqual(job["status"], "failed")
        self.assertEqual(job["error"], {
            "code": "server_error",
            "message": "The job failed due to an internal error.",
            "param": None})
        self.assertEqual(job["usage_metrics"]["step"], 3)
        self.assertIsNone(job["fine_tuned_model"])
        ev = self.srv.events(job["id"])[0]
        self.assertEqual(ev["level"], "error")
        self.srv.set_options(fail_rate=0.0)
        jid = self.running_job()
        self.assertTrue(self.srv.fail_job(jid))
        self.assertEqual(self.srv.job(jid)["status"], "failed")
        self.assertFalse(self.srv.fail_job(jid))

    def test_daily_limit_and_max_active(self):
        self.srv.set_options(daily_limit=2, daily_retry_after=3600)
        fid = self.file_id()
        for _ in range(2):
            self.assertEqual(self.create(training_file=fid)[0], 200)
        st, hdrs, obj = self.create(training_file=fid)
        self.assertEqual(st, 429)
        self.assertEqual(obj, {"error": {
            "message": "This fine-tune request has been rate-limited. Your "
            "organization has reached the maximum of 2 fine-tuning requests "
            "per day for the model 'o4-mini-2025-04-16'.",
            "type": "invalid_request_error", "param": None,
            "code": "daily_rate_limit_exceeded"}})
        self.assertEqual(hdrs["retry-after"], "3600")
        self.srv.advance(86400)
        self.srv.set_options(daily_limit=None, max_active=1)
        st, _, job = self.create(training_file=fid)
        self.assertEqual(st, 200, job)
        self.assertError(self.create(training_file=fid), 429, None,
                         "rate_limit_exceeded")
        self.srv.advance(1000)
        self.assertEqual(self.create(training_file=fid)[0], 200)
        self.assertEqual(len(self.srv.jobs()), 4)

    def test_http_control(self):
        st = self.ok("POST", "/_fake/clock", {"advance": 100}, auth=None)
        self.assertGreater(st["clock"], time.time() + 90)
        self.ok("POST", "/_fake/options", {"step_secs": 1, "steps": 3},
                auth=None)
        self.assertEqual(self.srv.options()["steps"], 3)
        self.assertError(self.call("POST", "/_fake/options", {"nope": 1},
                                   auth=None), 400)
        self.assertError(self.call("POST", "/_fake/options",
                                   {"step_secs": "fast"}, auth=None), 400)
        self.assertError(self.call("POST", "/_fake/clock",
                                   {"advance": "soon"}, auth=None), 400)
        st, _, job = self.create(metadata={"rftd_intent": "i1"})
        state = self.ok("GET", "/_fake/state", auth=None)
        self.assertEqual(state["jobs"][0]["id"], job["id"])
        self.assertEqual(state["jobs"][0]["metadata"], {"rftd_intent": "i1"})
        self.assertEqual(state["creates_by_intent"], {"i1": 1})
        self.assertEqual(len(state["uploads"]), 1)
        reqs = self.ok("GET", "/_fake/requests?since=0", auth=None)
        self.assertEqual([r["path"] for r in reqs],
                         ["/v1/files", "/v1/fine_tuning/jobs"])
        self.assertEqual(reqs[1]["status"], 200)
        self.assertEqual(reqs[1]["auth"], "bearer")
        self.assertIsInstance(reqs[1]["t"], float)
        later = self.ok("GET", "/_fake/requests?since=%d" % reqs[0]["seq"],
                        auth=None)
        self.assertEqual(later, reqs[1:])
        self.ok("POST", "/_fake/clock", {"advance": 10}, auth=None)
        job = self.ok("GET", "/_fake/jobs/" + job["id"], auth=None)
        self.assertEqual(job["status"], "succeeded")
        f = self.ok("POST", "/_fake/faults", {"kind": "status", "status": 503,
                                              "path": "^/files$"}, auth=None)
        self.assertEqual(f["count"], 1)
        self.assertEqual(len(self.ok("GET", "/_fake/faults", auth=None)), 1)
        self.ok("DELETE", "/_fake/faults", auth=None)
        self.assertEqual(self.srv.faults(), [])
        self.ok("POST", "/_fake/clock", {"speed": 100}, auth=None)
        t0 = self.srv.now()
        time.sleep(0.05)
        self.assertGreater(self.srv.now() - t0, 3)
        # Control requests are not counted.
        self.assertEqual(self.srv.request_count(), 2)

    def test_keep_alive_throughput(self):
        st, _, job = self.create()
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port)
        t0 = time.monotonic()
        n = 1000
        for _ in range(n):
            conn.request("GET", "/v1/fine_tuning/jobs/" + job["id"],
                         headers={"Authorization": "Bearer " + KEY})
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
        dt = time.monotonic() - t0
        conn.close()
        self.assertLess(dt, 10.0, "%d requests took %.2f s" % (n, dt))


class TestFaults(Base):
    options = {"fault_seed": 1}

    def log_tail(self):
        return self.srv.requests()[-1]

    def test_status(self):
        self.srv.add_fault("status", method="POST", path="^/fine_tuning/jobs$",
                           status=429, headers={"Retry-After": "2"})
        fid = self.file_id()
        st, hdrs, obj = self.create(training_file=fid)
        self.assertEqual(st, 429)
        self.assertEqual(obj["error"]["code"], "rate_limit_exceeded")
        self.assertEqual(obj["error"]["type"], "requests")
        self.assertEqual(hdrs["retry-after"], "2")
        self.assertEqual(self.srv.jobs(), [])
        self.assertEqual(self.log_tail()["fault"], "status")
        self.assertEqual(self.log_tail()["status"], 429)
        # count is used up.
        self.assertEqual(self.create(training_file=fid)[0], 200)
        self.srv.add_fault("status", status=503, count=2,
                           headers={"retry-after-ms": "1500",
                                    "x-should-retry": "false"})
        st, hdrs, obj = self.call("GET", "/v1/fine_tuning/jobs")
        self.assertEqual(st, 503)
        self.assertEqual(obj["error"]["type"], "server_error")
        self.assertEqual(hdrs["retry-after-ms"], "1500")
        self.assertEqual(hdrs["x-should-retry"], "false")
        self.assertEqual(self.call("GET", "/v1/fine_tuning/jobs")[0], 503)
        self.assertEqual(self.call("GET", "/v1/fine_tuning/jobs")[0], 200)
        self.srv.add_fault("status", status=429, error={
            "code": "insufficient_quota", "type": "insufficient_quota",
            "message": "You exceeded your current quota"})
        err = self.assertError(self.call("GET", "/v1/fine_tuning/jobs"), 429,
                               None, "insufficient_quota")
        self.assertEqual(err["type"], "insufficient_quota")
        # Forever, with probability: seeded, so some but not all.
        self.srv.add_fault("status", status=500, count=-1, probability=0.5,
                           path="^/fine_tuning/jobs$", method="GET")
        codes = [self.call("GET", "/v1/fine_tuning/jobs")[0]
                 for _ in range(20)]
        self.assertIn(500, codes)
        self.assertIn(200, codes)
        self.assertEqual(self.srv.faults()[0]["count"], -1)
        self.srv.clear_faults()
        self.assertEqual(self.call("GET", "/v1/fine_tuning/jobs")[0], 200)

    def test_commit_then_status(self):
        self.srv.add_fault("commit_then_status", method="POST",
                           path="^/fine_tuning/jobs$", status=502)
        st, _, obj = self.create(metadata={"rftd_intent": "x"})
        self.assertEqual(st, 502)
        self.assertEqual(obj["error"]["type"], "server_error")
        self.assertEqual(len(self.srv.jobs()), 1)
        self.assertEqual(self.srv.creates_by_intent(), {"x": 1})
        self.assertEqual(self.log_tail()["fault"], "commit_then_status")

    def test_drop_and_commit_then_drop(self):
        fid = self.file_id()
        self.srv.add_fault("drop", path="^/fine_tuning/jobs$")
        with self.assertRaises((http.client.HTTPException, OSError)):
            self.create(training_file=fid)
        self.assertEqual(self.srv.jobs(), [])
        e = self.log_tail()
        self.assertEqual((e["fault"], e["status"]), ("drop", None))
        self.srv.add_fault("commit_then_drop", path="^/fine_tuning/jobs$")
        with self.assertRaises((http.client.HTTPException, OSError)):
            self.create(training_file=fid, metadata={"rftd_intent": "y"})
        self.assertEqual(len(self.srv.jobs()), 1)
        self.assertEqual(self.srv.creates_by_intent(), {"y": 1})
        e = self.log_tail()
        self.assertEqual((e["fault"], e["status"]), ("commit_then_drop", None))
        # The server keeps serving.
        self.assertEqual(self.call("GET", "/v1/fine_tuning/jobs")[0], 200)

    def test_hang(self):
        self.srv.add_fault("hang", path="^/fine_tuning/jobs$", seconds=5)
        t0 = time.monotonic()
        with self.assertRaises((socket.timeout, OSError)):
            self.call("GET", "/v1/fine_tuning/jobs", timeout=0.5)
        self.assertLess(time.monotonic() - t0, 2)
        e = self.log_tail()
        self.assertEqual((e["fault"], e["status"]), ("hang", None))
        self.srv.add_fault("hang", path="^/fine_tuning/jobs$", seconds=0.3)
        with self.assertRaises((http.client.HTTPException, OSError)):
            self.call("GET", "/v1/fine_tuning/jobs", timeout=3)
        self.assertEqual(self.call("GET", "/v1/fine_tuning/jobs")[0], 200)

    def test_truncate(self):
        fid = self.file_id()
        self.srv.add_fault("truncate", path="^/fine_tuning/jobs$")
        with self.assertRaises(http.client.IncompleteRead):
            self.create(training_file=fid)
        self.assertEqual(len(self.srv.jobs()), 1)
        e = self.log_tail()
        self.assertEqual((e["fault"], e["status"]), ("truncate", 200))

    def test_slow(self):
        self.create()
        n = len(json.dumps(self.ok("GET", "/v1/fine_tuning/jobs"),
                           separators=(",", ":")))
        self.srv.add_fault("slow", path="^/fine_tuning/jobs$",
                           bytes_per_sec=n * 2.5)
        t0 = time.monotonic()
        page = self.ok("GET", "/v1/fine_tuning/jobs")
        dt = time.monotonic() - t0
        self.assertEqual(len(page["data"]), 1)
        self.assertGreater(dt, 0.25)
        self.assertLess(dt, 2)
        self.assertEqual(self.log_tail()["fault"], "slow")

    def test_stop_with_hanging_client(self):
        self.srv.add_fault("hang", seconds=60)
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port,
                                          timeout=10)
        conn.request("GET", "/v1/fine_tuning/jobs")
        time.sleep(0.1)
        idle = http.client.HTTPConnection("127.0.0.1", self.srv.port)
        idle.request("GET", "/_fake/state")
        idle.getresponse().read()
        t0 = time.monotonic()
        self.srv.stop()
        self.assertLess(time.monotonic() - t0, 3)
        conn.close()
        idle.close()


class TestDialects(Base):
    def test_azure_v1(self):
        st, _, f = self.upload(prefix="/openai/v1", auth="api-key",
                               expires=86400)
        self.assertEqual(st, 200, f)
        st, _, job = self.create(prefix="/openai/v1", training_file=f["id"],
                                 validation_file=f["id"])
        self.assertEqual(st, 200, job)
        job2 = self.ok("GET", "/openai/v1/fine_tuning/jobs/" + job["id"],
                       auth="api-key")
        self.assertEqual(job2["id"], job["id"])
        # The same job is visible in every dialect.
        self.ok("GET", "/v1/fine_tuning/jobs/" + job["id"])
        self.assertEqual(self.srv.requests()[-1]["auth"], "bearer")
        self.assertEqual(self.srv.requests()[-2]["auth"], "api-key")
        # An Entra-style bearer token is accepted on Azure paths too.
        self.ok("GET", "/openai/v1/fine_tuning/jobs", auth="bearer")

    def test_azure_dated(self):
        q = "?api-version=2025-04-01-preview"
        st, _, f = self.upload(prefix="/openai", filename="t.jsonl",
                               auth="api-key", expires=86400)
        self.assertEqual(st, 400, f)  # no api-version on the upload
        body, ctype = multipart([("purpose", "fine-tune"),
                                 ("file", ("t.jsonl", TRAIN)),
                                 ("expires_after[anchor]", "created_at"),
                                 ("expires_after[seconds]", "86400")])
        st, _, f = self.call("POST", "/openai/files" + q, body, ctype=ctype,
                             auth="api-key")
        self.assertEqual(st, 200, f)
        req = {"model": "o4-mini-2025-04-16", "training_file": f["id"],
               "validation_file": f["id"],
               "trainingType": "globalstandard",
               "method": {"type": "reinforcement",
                          "reinforcement": {"grader": STRING_CHECK}}}
        job = self.ok("POST", "/openai/fine_tuning/jobs" + q, req,
                      auth="api-key")
        self.ok("GET", "/openai/fine_tuning/jobs/%s/events%s&limit=5"
                % (job["id"], q), auth="api-key")
        err = self.assertError(
            self.call("GET", "/openai/fine_tuning/jobs", auth="api-key"),
            400, "api-version", "missing_api_version")
        self.assertIn("api-version", err["message"])
        self.assertEqual(self.srv.requests()[-1]["query"], "")

    def test_auth_errors(self):
        err = self.assertError(self.call("GET", "/v1/fine_tuning/jobs",
                                         auth=None), 401, None,
                               "invalid_api_key")
        self.assertEqual(err["type"], "invalid_request_error")
        self.assertIsNone(self.srv.requests()[-1]["auth"])
        wrong = "sk-wrong-key-abcdefghijklmnop"
        err = self.assertError(self.call(
            "GET", "/v1/fine_tuning/jobs", auth=None,
            headers={"Authorization": "Bearer " + wrong}), 401, None,
            "invalid_api_key")
        self.assertTrue(err["message"].startswith(
            "Incorrect API key provided: sk-w"))
        self.assertNotIn(wrong, err["message"])
        self.assertNotIn(KEY, err["message"])
        # The OpenAI dialect does not take api-key.
        self.assertError(self.call("GET", "/v1/fine_tuning/jobs",
                                   auth="api-key"), 401)
        self.assertError(self.call("GET", "/openai/v1/fine_tuning/jobs",
                                   auth=None, headers={"api-key": "nope"}),
                         401, None, "invalid_api_key")
        self.assertEqual(self.srv.requests()[-1]["auth"], "api-key")


class TestAzureRules(Base):
    """Azure's rules, on its paths only (openai_fake's "Azure OpenAI's
    rules"); OpenAI's paths take what Azure refuses."""

    options = {"step_secs": 10, "steps": 20}

    def azure_file(self, content=TRAIN):
        st, _, f = self.upload(prefix="/openai/v1", auth="api-key",
                               content=content, expires=3600)
        self.assertEqual(st, 200, f)
        return f["id"]

    def test_the_v1_paths_take_only_api_version_v1_or_preview(self):
        for v in ("v1", "preview"):
            self.ok("GET", "/openai/v1/fine_tuning/jobs?api-version=" + v,
                    auth="api-key")
        for v in ("2025-04-01-preview", "2024-10-21", "latest"):
            self.assertError(self.call(
                "GET", "/openai/v1/fine_tuning/jobs?api-version=" + v,
                auth="api-key"), 400, "api-version", "BadRequest")
        # The dated paths need a date.
        self.ok("GET", "/openai/fine_tuning/jobs?api-version=2024-10-21",
                auth="api-key")
        self.assertError(self.call(
            "GET", "/openai/fine_tuning/jobs?api-version=v1",
            auth="api-key"), 400, "api-version", "BadRequest")

    def test_an_upload_must_expire(self):
        self.assertError(self.upload(prefix="/openai/v1", auth="api-key"),
                         400, "expires_after", "missing_required_parameter")
        body, ctype = multipart([
            ("purpose", "fine-tune"), ("file", ("t.jsonl", TRAIN)),
            ("expires_after[anchor]", "last_active_at"),
            ("expires_after[seconds]", "3600")])
        self.assertError(self.call("POST", "/openai/v1/files", body,
                                   ctype=ctype, auth="api-key"),
                         400, "expires_after[anchor]", "invalid_value")
        self.assertError(self.upload(prefix="/openai/v1", auth="api-key",
                                     expires=60),
                         400, "expires_after[seconds]", "invalid_value")
        before = int(self.srv.now())
        st, _, f = self.upload(prefix="/openai/v1", auth="api-key",
                               expires=7200)
        self.assertEqual(st, 200, f)
        self.assertGreaterEqual(f["expires_at"], before + 7200)
        # OpenAI's paths take an upload without it.
        st, _, f = self.upload()
        self.assertEqual(st, 200, f)
        self.assertIsNone(f["expires_at"])

    def test_rft_takes_no_python_grader_there(self):
        fid = self.azure_file()
        err = self.assertError(self.create(
            prefix="/openai/v1", grader=PYTHON, training_file=fid,
            validation_file=fid), 400,
            "method.reinforcement.grader.type", "invalid_grader")
        self.assertIn("python", err["message"])
        self.assertError(self.create(
            prefix="/openai/v1", grader=MULTI, training_file=fid,
            validation_file=fid), 400,
            "method.reinforcement.grader.graders.has_cite.type",
            "invalid_grader")
        # OpenAI's paths take both.
        st, _, job = self.create(grader=MULTI)
        self.assertEqual(st, 200, job)

    def test_rft_needs_a_validation_file_there(self):
        fid = self.azure_file()
        self.assertError(self.create(prefix="/openai/v1", training_file=fid),
                         400, "validation_file",
                         "missing_required_parameter")

    def test_examples_that_break_the_data_rules_fail_the_job(self):
        system = (b'{"messages":[{"role":"system","content":"Be brief."},'
                  b'{"role":"user","content":"Hi"}],"compliant":"yes"}\n')
        assistant = (TRAIN + b'{"messages":[{"role":"user","content":"Hi"},'
                     b'{"role":"assistant","content":"Yes"}],'
                     b'"compliant":"yes"}\n')
        good = self.azure_file()
        for content, key, code, line in (
                (system, "training_file", "invalid_training_file", 1),
                (assistant, "validation_file", "invalid_validation_file", 3)):
            bad = self.azure_file(content)
            files = {"training_file": good, "validation_file": good}
            files[key] = bad
            st, _, job = self.create(prefix="/openai/v1", **files)
            self.assertEqual(st, 200, job)
            self.srv.advance(1.5)
            job = self.ok("GET", "/openai/v1/fine_tuning/jobs/" + job["id"],
                          auth="api-key")
            self.assertEqual(job["status"], "failed")
            self.assertEqual(job["error"]["code"], code)
            self.assertIn("Line %d" % line, job["error"]["message"])

    def test_a_job_pauses_by_itself_at_the_cost_limit_once(self):
        # $1 at $100 an hour: 36 s of training, the 4th step of 10 s.
        self.srv.set_options(azure_pause_usd=1.0)
        fid = self.azure_file()
        st, _, job = self.create(prefix="/openai/v1", training_file=fid,
                                 validation_file=fid)
        base = "/openai/v1/fine_tuning/jobs/" + job["id"]
        self.srv.advance(2.5 + 100)
        job = self.ok("GET", base, auth="api-key")
        self.assertEqual(job["status"], "paused")
        self.assertEqual(job["usage_metrics"]["step"], 4)
        self.assertEqual(job["error"], {})
        events = self.ok("GET", base + "/events?limit=1", auth="api-key")
        self.assertEqual(events["data"][0]["level"], "warn")
        self.assertIn("paused automatically", events["data"][0]["message"])
        self.srv.advance(1000)
        self.assertEqual(self.ok("GET", base, auth="api-key")["status"],
                         "paused")
        self.ok("POST", base + "/resume", auth="api-key")
        self.srv.advance(1000)
        job = self.ok("GET", base, auth="api-key")
        self.assertEqual(job["status"], "succeeded")
        # OpenAI's jobs have no such limit.
        st, _, job = self.create()
        self.srv.advance(1000)
        self.assertEqual(self.ok("GET", "/v1/fine_tuning/jobs/"
                                 + job["id"])["status"], "succeeded")


class TestProgram(unittest.TestCase):
    def spawn(self, *extra):
        tmp = tempfile.mkdtemp()
        port_file = os.path.join(tmp, "port")
        proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "openai_fake.py"),
             "--api-key", KEY, "--port-file", port_file] + list(extra),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not os.path.exists(port_file):
            self.assertIsNone(proc.poll(), proc.stderr.read() if proc.poll()
                              is not None else "")
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        with open(port_file) as f:
            port = int(f.read())
        return proc, port

    def test_program_mode(self):
        proc, port = self.spawn("--speed", "10", "--options",
                                '{"step_secs": 1}')
        try:
            base = "http://127.0.0.1:%d" % port
            r = urllib.request.Request(base + "/v1/fine_tuning/jobs",
                                       headers={"Authorization":
                                                "Bearer " + KEY})
            with urllib.request.urlopen(r, timeout=5) as resp:
                self.assertEqual(json.loads(resp.read())["object"], "list")
            with self.assertRaises(urllib.error.HTTPError) as cm:
                urllib.request.urlopen(base + "/v1/fine_tuning/jobs",
                                       timeout=5)
            self.assertEqual(cm.exception.code, 401)
            with urllib.request.urlopen(base + "/_fake/state",
                                        timeout=5) as resp:
                state = json.loads(resp.read())
            self.assertGreater(state["clock"], time.time() - 5)
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(5), 0)
            self.assertEqual(proc.stderr.read(), b"")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()

    def test_lifetime_parent_and_shutdown(self):
        procs = []
        try:
            p1, _ = self.spawn("--lifetime", "0.5")
            procs.append(p1)
            dead = subprocess.Popen([sys.executable, "-c", "pass"])
            dead.wait()
            p2, _ = self.spawn("--parent-pid", str(dead.pid))
            procs.append(p2)
            p3, port = self.spawn()
            procs.append(p3)
            r = urllib.request.Request("http://127.0.0.1:%d/_fake/shutdown"
                                       % port, data=b"", method="POST")
            urllib.request.urlopen(r, timeout=5).read()
            for p in procs:
                self.assertEqual(p.wait(5), 0)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                p.stdout.close()
                p.stderr.close()


if __name__ == "__main__":
    unittest.main()
