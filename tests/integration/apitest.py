"""Shared pieces for tests of the openai backend: the fake API in-process,
a daemon configured against it, and the money checks (no job created
twice, none forgotten).
"""
import json
import os
import subprocess
import sys

from harness import LONG_WAIT, SOURCE_DIR, DaemonTest, wait_until

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "fakes"))
from openai_fake import FakeOpenAI  # noqa: E402

API_KEY = "sk-canary-7f3e9b1c2d4a5e6f8091a2b3c4d5e6f7"

# Quick jobs: a few seconds each on the fake's clock.
FAST = dict(validate_secs=0.3, queue_secs=0.3, step_secs=0.3, steps=4,
            eval_interval=2)

# rftd's limit on one request to the fake: far above what the fake takes
# on a busy machine, so that only the faults a test injects time out.
REQUEST_TIMEOUT = 30


class APITest(DaemonTest):
    """A fake API started per test, and helpers to run rftd against it."""

    fake_options = FAST
    fake_tls = False  # serve HTTPS with a certificate made for the test

    def setUp(self):
        super().setUp()
        tls = None
        if self.fake_tls:
            self.cert = os.path.join(self.tmp, "cert.pem")
            key = os.path.join(self.tmp, "key.pem")
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "rsa:2048",
                 "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                 "-addext", "subjectAltName=IP:127.0.0.1",
                 "-keyout", key, "-out", self.cert],
                check=True, capture_output=True)
            tls = (self.cert, key)
        self.fake = FakeOpenAI(api_key=API_KEY, tls=tls,
                               **self.fake_options).start()
        self.key_file = os.path.join(self.tmp, "api.key")
        with open(self.key_file, "w") as f:
            f.write(API_KEY + "\n")
        os.chmod(self.key_file, 0o600)
        self.data = os.path.join(self.tmp, "data")
        os.makedirs(self.data)
        for name in ("train.jsonl", "valid.jsonl"):
            with open(os.path.join(SOURCE_DIR, "examples", "data",
                                   name)) as src, \
                    open(os.path.join(self.data, name), "w") as dst:
                dst.write(src.read())

    def tearDown(self):
        super().tearDown()  # daemons first: they talk to the fake
        self.fake.stop()

    def backend_config(self, name="oa", dialect="openai", base=None,
                       extra="", request_timeout=REQUEST_TIMEOUT):
        if base is None:
            base = (self.fake.azure_v1_base if dialect == "azure"
                    else self.fake.openai_base)
        return ('[backend "%s"]\ntype = openai\ndialect = %s\n'
                'base_url = %s\napi_key_file = %s\npoll_interval = 0.2\n'
                'request_timeout = %g\nmax_concurrent = 4\n%s'
                % (name, dialect, base, self.key_file, request_timeout,
                   extra))

    def api_daemon(self, start=True, extra="", daemon_section="", **kw):
        return self.daemon(start=start, extra_config=self.backend_config(
            extra=extra, **kw), daemon_section="tick = 50\n" +
            daemon_section)

    def spec(self, trials=4, backend="oa", name="api", graders=None,
             **fields):
        """Writes a spec of `trials` trials (seeds x lr) and returns its path."""
        seeds = list(range(1, max(1, trials // 2) + 1))
        lrs = [0.5, 1.0] if trials >= 2 else [1.0]
        spec = {
            "name": name,
            "backend": backend,
            "model": "o4-mini-2025-04-16",
            "training_file": os.path.join(self.data, "train.jsonl"),
            "validation_file": os.path.join(self.data, "valid.jsonl"),
            "max_job_hours": 1,
            "retries": 2,
            "seeds": seeds,
            "hyperparameters": {"learning_rate_multiplier": lrs,
                                "n_epochs": 1},
            "graders": graders or {
                "exact": {"type": "string_check", "name": "exact",
                          "input": "{{sample.output_text}}",
                          "reference": "{{item.answer}}",
                          "operation": "eq"}},
        }
        spec.update(fields)
        path = os.path.join(self.tmp, "%s.json" % name)
        with open(path, "w") as f:
            json.dump(spec, f)
        return path

    def wait_done(self, d, sweep_id, timeout=LONG_WAIT):
        """Waits until the sweep has no pending or live trial."""
        def ended():
            s = self.sweep(d, sweep_id)
            return s["state"] in ("completed", "failed", "cancelled")
        wait_until(ended, timeout=timeout, interval=0.2,
                   what="sweep %d to end" % sweep_id)
        return self.sweep(d, sweep_id)

    def assert_money_safe(self, d):
        """No intent created twice at the fake; every job the fake holds
        with our tags is known to the store, and every job the store
        submitted exists at the fake."""
        creates = self.fake.creates_by_intent()
        dup = {k: n for k, n in creates.items() if n > 1}
        self.assertEqual(dup, {}, "intents created more than once")
        fake_ids = {j["id"] for j in self.fake.jobs()
                    if (j.get("metadata") or {}).get("rftd_intent")}
        stored = {r[0]: r[1] for r in self.rows(
            d, "SELECT remote_id, intent_key FROM jobs"
               " WHERE remote_id IS NOT NULL")}
        self.assertEqual(fake_ids - set(stored), set(),
                         "jobs at the fake the store forgot")
        self.assertEqual(set(stored) - fake_ids, set(),
                         "stored jobs the fake does not have")
        by_intent = {j["id"]: (j.get("metadata") or {}).get("rftd_intent")
                     for j in self.fake.jobs()}
        for remote, intent in stored.items():
            self.assertEqual(by_intent[remote], intent)
