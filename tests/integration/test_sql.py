"""rftctl sql, export and curves against a real rftd: formats, refusals,
and queries that keep answering while a sweep writes."""
import csv
import io
import json
import os
import subprocess
import unittest

from harness import LONG_WAIT, RFTCTL, DaemonTest, wait_until

SIM = '[backend "sim"]\ntype = sim\nspeed = %d\nmax_concurrent = 4\n'
# Fast, and not so fast that a job would reach its max_job_hours (which
# rftd measures by the clock between polls) before a poll showed it done.
FAST = 20000


class Sql(DaemonTest):
    def spec(self, **over):
        data = os.path.join(self.tmp, "train.jsonl")
        with open(data, "w") as f:
            f.write('{"messages":[{"role":"user","content":"1+1?"}],'
                    '"answer":"2"}\n')
        spec = {"name": "sql", "backend": "sim", "model": "m",
                "training_file": data, "validation_file": data,
                "seeds": [1, 2],
                "hyperparameters": {"n_epochs": [1, 2]},
                "graders": {"g": {"type": "string_check", "name": "g",
                                  "input": "{{sample.output_text}}",
                                  "reference": "{{item.answer}}",
                                  "operation": "eq"}}}
        spec.update(over)
        path = os.path.join(self.tmp, "spec.json")
        with open(path, "w") as f:
            json.dump(spec, f)
        return path

    def finished_sweep(self):
        d = self.daemon(daemon_section="tick = 50\n",
                        extra_config=SIM % FAST)
        d.ctl("submit", self.spec(), check=True)
        wait_until(lambda: d.ctl_json("sweep", "show", "1")["state"]
                   == "completed", timeout=LONG_WAIT,
                   what="the sweep to finish")
        return d

    def test_csv_follows_rfc_4180(self):
        d = self.daemon()
        # Bytes, not text: the line ends are part of the format.
        r = subprocess.run([RFTCTL, "-s", d.socket, "sql",
                            "SELECT 'a,\"b\"' AS x, 1 AS n, NULL AS z",
                            "--format", "csv"], capture_output=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b'x,n,z\r\n"a,""b""",1,\r\n')

    def test_json_and_ndjson_name_the_columns(self):
        d = self.daemon()
        r = d.ctl("sql", "SELECT 1 AS a, 'x' AS b UNION ALL SELECT 2, 'y'",
                  "--format", "json", check=True)
        self.assertEqual(json.loads(r.stdout),
                         [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])
        r = d.ctl("sql", "SELECT 1 AS a UNION ALL SELECT 2",
                  "--format", "ndjson", check=True)
        self.assertEqual([json.loads(l) for l in r.stdout.splitlines()],
                         [{"a": 1}, {"a": 2}])

    def test_table_aligns_columns(self):
        d = self.daemon()
        r = d.ctl("sql", "SELECT 'long value' AS first, 2 AS second",
                  check=True)
        self.assertEqual(r.stdout.splitlines(),
                         ["first       second", "long value  2"])

    def test_max_rows_cuts_the_output_and_says_so(self):
        d = self.daemon()
        r = d.ctl("sql", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
                  "SELECT x + 1 FROM c WHERE x < 50) SELECT x FROM c",
                  "--format", "csv", "--max-rows", "5")
        self.assertEqual(r.returncode, 4)   # cut: a status of its own
        self.assertEqual(len(r.stdout.splitlines()), 6)
        self.assertIn("row cap", r.stderr)

    def test_a_write_is_refused_with_what_was_refused(self):
        d = self.daemon()
        r = d.ctl("sql", "DELETE FROM ledger")
        self.assertEqual(r.returncode, 1)
        self.assertIn("refused: DELETE ledger is not allowed", r.stderr)

    def test_json_each_and_pragma_functions_are_read_only_and_allowed(self):
        d = self.daemon()
        r = d.ctl("sql", "SELECT value FROM json_each('[1,2]')",
                  "--format", "csv", check=True)
        self.assertEqual(r.stdout.splitlines(), ["value", "1", "2"])
        r = d.ctl("sql", "SELECT count(*) FROM pragma_table_info('jobs') "
                  "WHERE name = 'state'", "--format", "csv", check=True)
        self.assertEqual(r.stdout.splitlines()[1], "1")

    def test_a_value_over_the_limit_is_an_error_not_a_null(self):
        d = self.daemon()
        r = d.ctl("sql", "SELECT printf('%.*c', 2000000000, 'x')")
        self.assertEqual(r.returncode, 1)
        self.assertIn("over the limit", r.stderr)

    def test_a_bad_format_is_a_usage_error(self):
        d = self.daemon()
        r = d.ctl("sql", "SELECT 1", "--format", "xml")
        self.assertEqual(r.returncode, 2)

    def test_queries_keep_answering_while_a_sweep_writes(self):
        # At speed 100 the sweep writes metrics for a minute or more: the
        # first queries all come while it writes, however slow they are.
        # Then the simulator runs the rest fast, queried to its end.
        d = self.daemon(daemon_section="tick = 20\n",
                        extra_config=SIM % 100)
        d.ctl("submit", self.spec(seeds=list(range(1, 9))), check=True)
        counts = []

        def query():
            r = d.ctl("sql", "SELECT count(*) FROM metrics",
                      "--format", "csv")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("locked", r.stderr)
            counts.append(int(r.stdout.splitlines()[1]))
        while len(counts) < 10 or counts[-1] == counts[0]:
            self.assertEqual(d.ctl_json("sweep", "show", "1")["state"],
                             "running")
            query()
            self.assertLess(len(counts), 2000, "no metrics were written")
        d.write_config("tick = 20\n", SIM % FAST)
        d.ctl("reload", check=True)
        while d.ctl_json("sweep", "show", "1")["state"] != "completed":
            query()
            self.assertLess(len(counts), 4000, "the sweep never finished")

    def test_export_writes_one_row_per_trial(self):
        d = self.finished_sweep()
        r = d.ctl("export", "1", check=True)
        rows = list(csv.DictReader(io.StringIO(r.stdout)))
        self.assertEqual(len(rows), 4)
        self.assertEqual({row["n_epochs"] for row in rows}, {"1", "2"})
        self.assertTrue(all(row["state"] == "succeeded" for row in rows))
        self.assertTrue(all(float(row["objective"]) > 0 for row in rows))
        r = d.ctl("export", "1", "--format", "jsonl", check=True)
        self.assertEqual(len(r.stdout.splitlines()), 4)
        self.assertEqual(d.ctl("export", "9").returncode, 1)

    def test_checkpoints_are_recorded_with_their_step_and_metrics(self):
        d = self.finished_sweep()
        r = d.ctl("sql", "SELECT job_id, step, model, metrics FROM "
                  "checkpoints ORDER BY job_id, step", "--format", "json",
                  check=True)
        rows = json.loads(r.stdout)
        self.assertEqual({row["job_id"] for row in rows}, {1, 2, 3, 4})
        for row in rows:
            self.assertTrue(row["model"].endswith(
                ":ckpt-step-%d" % row["step"]))
            self.assertEqual(json.loads(row["metrics"])["step"], row["step"])
            self.assertIn("valid_reward_mean", json.loads(row["metrics"]))

    def test_curves_print_the_points_when_not_a_terminal(self):
        d = self.finished_sweep()
        r = d.ctl("curves", "1", "--metric", "train_reward_mean",
                  check=True)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "job_id\ttrial_id\tstep\ttrain_reward_mean")
        self.assertGreater(len(lines), 10)
        r = d.ctl("curves", "1", "--metric", "no_such_metric")
        self.assertEqual(r.returncode, 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
