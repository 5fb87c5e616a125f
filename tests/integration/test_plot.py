"""`rftctl plot`: a sweep's reward curves to an SVG or PNG
file, or to standard output; the file's name checked before rftd is
asked, and nothing left behind on an error.  The real rftd and rftctl
on the simulated backend."""
import json
import os
import sqlite3
import struct
import subprocess
import unittest
import xml.etree.ElementTree as ET

from harness import RFTCTL
from test_ctl import BASE_SPEC, CtlTest

SVG = "{http://www.w3.org/2000/svg}"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Two grader variants: their curves get two colours.
FUZZY = {"type": "text_similarity", "name": "fuzzy",
         "input": "{{sample.output_text}}",
         "reference": "{{item.answer}}", "evaluation_metric": "fuzzy_match"}
GRADERS = dict(BASE_SPEC["graders"], fuzzy=FUZZY)


class Plot(CtlTest):
    def setUp(self):
        super().setUp()
        self.out = os.path.join(self.tmp, "plots")
        os.mkdir(self.out)

    def sweep_with_two_graders(self):
        d = self.start()
        sweep_id = self.finished_sweep(d, graders=GRADERS)
        return d, sweep_id

    def plot(self, d, *args, cwd=None):
        return subprocess.run([RFTCTL, "-s", d.socket, "plot"] + list(args),
                              capture_output=True, text=True, cwd=cwd,
                              timeout=120)

    def curves_of(self, root):
        return [p for p in root.iter(SVG + "path")
                if p.get("class") == "curve"]

    def test_svg_has_one_curve_per_trial_coloured_by_grader(self):
        d, sweep_id = self.sweep_with_two_graders()
        path = os.path.join(self.out, "s.svg")
        r = self.plot(d, str(sweep_id), "--out", path)
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (0, path + "\n", ""))
        root = ET.parse(path).getroot()
        self.assertEqual(root.tag, SVG + "svg")
        trials = self.rows(d, "SELECT t.id, t.grader_name FROM trials t "
                           "WHERE t.sweep_id = ? ORDER BY t.id", sweep_id)
        self.assertEqual(len(trials), 8)
        curves = self.curves_of(root)
        self.assertEqual(sorted(int(c.get("data-trial")) for c in curves),
                         [t[0] for t in trials])
        grader = dict(trials)
        colour = {}
        for c in curves:
            trial = int(c.get("data-trial"))
            self.assertEqual(c.get("data-group"), grader[trial])
            self.assertRegex(c.get("d"), r"^M[-\d. ]+$")
            self.assertGreater(len(c.get("d").split()), 4)
            title = c.find(SVG + "title").text
            self.assertTrue(title.startswith("trial %d (%s)"
                                             % (trial, grader[trial])), title)
            colour.setdefault(grader[trial], set()).add(c.get("stroke"))
        self.assertEqual(len(colour), 2)
        self.assertTrue(all(len(v) == 1 for v in colour.values()), colour)
        self.assertNotEqual(colour["exact"], colour["fuzzy"])
        # The best trial by the objective is the one highlighted.
        best = self.rows(d, "SELECT id FROM trials WHERE sweep_id = ? "
                         "ORDER BY objective DESC LIMIT 1", sweep_id)[0][0]
        self.assertEqual([int(c.get("data-trial")) for c in curves
                          if c.get("data-highlight") == "true"], [best])
        text = ET.tostring(root, encoding="unicode")
        self.assertIn("sweep %d" % sweep_id, text)
        self.assertIn("valid_reward_mean", text)
        self.assertNotIn("style", text)

    def test_png_is_rendered_at_the_size_asked(self):
        d, sweep_id = self.sweep_with_two_graders()
        path = os.path.join(self.out, "s.png")
        r = d.ctl("--json", "plot", str(sweep_id), "--out", path,
                  "--width", "800", "--height", "450")
        self.assertEqual(r.returncode, 0, r.stderr)
        report = json.loads(r.stdout)
        points = self.rows(d, "SELECT count(*) FROM reward_curves WHERE "
                           "sweep_id = ? AND metric = 'valid_reward_mean'",
                           sweep_id)[0][0]
        self.assertEqual(report, {"path": path, "format": "png",
                                  "series": 8, "points": points})
        with open(path, "rb") as f:
            data = f.read()
        self.assertEqual(data[:8], PNG_SIGNATURE)
        self.assertEqual(data[12:16], b"IHDR")
        self.assertEqual(struct.unpack(">II", data[16:24]), (800, 450))
        self.assertGreater(len(data), 5000)
        # Nothing else is left in the directory: no temporary file.
        self.assertEqual(os.listdir(self.out), ["s.png"])

    def test_out_dash_writes_the_svg_to_stdout(self):
        d, sweep_id = self.sweep_with_two_graders()
        r = self.plot(d, "sweep", str(sweep_id), "--out", "-")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("<?xml"))
        self.assertEqual(len(self.curves_of(ET.fromstring(r.stdout))), 8)

    def test_a_job_plot_has_its_one_curve(self):
        d, sweep_id = self.sweep_with_two_graders()
        job, trial = self.rows(d, "SELECT j.id, j.trial_id FROM jobs j "
                               "JOIN trials t ON t.id = j.trial_id WHERE "
                               "t.sweep_id = ? LIMIT 1", sweep_id)[0]
        r = self.plot(d, "job", str(job), "--out", "-")
        self.assertEqual(r.returncode, 0, r.stderr)
        curves = self.curves_of(ET.fromstring(r.stdout))
        self.assertEqual([(int(c.get("data-job")), int(c.get("data-trial")))
                          for c in curves], [(job, trial)])
        self.assertIn("job %d (trial %d)" % (job, trial), r.stdout)

    def test_without_out_it_writes_sweep_id_metric_svg_here(self):
        d, sweep_id = self.sweep_with_two_graders()
        r = self.plot(d, str(sweep_id), cwd=self.out)
        name = "sweep-%d-valid_reward_mean.svg" % sweep_id
        self.assertEqual((r.returncode, r.stdout), (0, name + "\n"))
        self.assertEqual(os.listdir(self.out), [name])
        ET.parse(os.path.join(self.out, name))

    def test_an_unknown_extension_is_a_usage_error_naming_out(self):
        d = self.start()
        for out in ("p.jpg", "p", ".svg", "dir/"):
            r = self.plot(d, "1", "--out", os.path.join(self.out, out))
            self.assertEqual(r.returncode, 2, out)
            self.assertTrue(r.stderr.startswith("rftctl: --out: '"), r.stderr)
            self.assertIn("is not a .svg or .png file", r.stderr)
        r = self.plot(d, "1", "--width", "10")
        self.assertEqual((r.returncode, r.stderr),
                         (2, "rftctl: --width: '10' is not a number of "
                          "pixels in 200..4096\n"))
        self.assertEqual(os.listdir(self.out), [])

    def test_an_unknown_sweep_or_metric_is_an_error_and_writes_nothing(self):
        d = self.start()
        path = os.path.join(self.out, "p.svg")
        r = self.plot(d, "999", "--out", path)
        self.assertEqual((r.returncode, r.stderr),
                         (1, "rftctl: no sweep 999 (not found)\n"))
        r = self.plot(d, "job", "999", "--out", path)
        self.assertEqual((r.returncode, r.stderr),
                         (1, "rftctl: no job 999 (not found)\n"))
        sweep_id = self.finished_sweep(d)
        r = self.plot(d, str(sweep_id), "--metric", "nope", "--out", path)
        self.assertEqual((r.returncode, r.stderr),
                         (1, "rftctl: plot: sweep %d has no nope points\n"
                          % sweep_id))
        self.assertEqual(os.listdir(self.out), [])

    def test_an_unwritable_place_is_a_clear_error(self):
        d = self.start()
        sweep_id = self.finished_sweep(d)
        missing = os.path.join(self.out, "no", "such", "dir", "p.svg")
        r = self.plot(d, str(sweep_id), "--out", missing)
        self.assertEqual((r.returncode, r.stderr),
                         (1, "rftctl: plot: cannot write %s: No such file "
                          "or directory\n" % missing))
        # A directory where the file should go: the rename fails.
        taken = os.path.join(self.out, "taken.svg")
        os.mkdir(taken)
        r = self.plot(d, str(sweep_id), "--out", taken)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith(
            "rftctl: plot: cannot write %s: " % taken), r.stderr)
        self.assertEqual(os.listdir(self.out), ["taken.svg"])
        self.assertEqual(os.listdir(taken), [])
        r = d.ctl("--json", "plot", str(sweep_id), "--out", missing)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(json.loads(r.stdout)["error"]["kind"], "io")
        if os.geteuid() != 0:
            os.chmod(self.out, 0o500)
            try:
                r = self.plot(d, str(sweep_id), "--out",
                              os.path.join(self.out, "p.png"))
                self.assertEqual(r.returncode, 1)
                self.assertIn("Permission denied", r.stderr)
            finally:
                os.chmod(self.out, 0o700)

    def test_more_points_than_rftd_returns_are_thinned_by_rftd(self):
        d = self.start()
        sweep_id = self.finished_sweep(d)
        # 30,000 points of each job, added after the fact, with a spike
        # in the last one: more than rftd returns in one query.
        jobs = [j for (j,) in self.rows(
            d, "SELECT j.id FROM jobs j JOIN trials t ON t.id = j.trial_id"
               " WHERE t.sweep_id = ? ORDER BY j.id", sweep_id)]
        self.assertGreater(len(jobs) * 30000, 100000)
        d.stop()
        db = sqlite3.connect(d.database)
        db.executemany(
            "INSERT OR IGNORE INTO metrics (job_id, name, step, value) "
            "VALUES (?, 'eval/big', ?, ?)",
            ((job, i, 5.0 if (job, i) == (jobs[-1], 12345)
              else i % 97 / 97.0)
             for job in jobs for i in range(30000)))
        db.commit()
        db.close()
        d = self.start()
        r = self.plot(d, str(sweep_id), "--metric", "eval/big", cwd=self.out)
        self.assertEqual(r.returncode, 0, r.stderr)
        # The metric's slash is not a directory in the file's name.
        name = "sweep-%d-eval_big.svg" % sweep_id
        self.assertEqual(r.stdout, name + "\n")
        self.assertRegex(r.stderr, r"^rftctl: plot: %d points, more than "
                         r"rftd returns at once: each job's lowest and "
                         r"highest in each of \d+ step buckets are drawn\n$"
                         % (len(jobs) * 30000))
        root = ET.parse(os.path.join(self.out, name)).getroot()
        curves = self.curves_of(root)
        # Every job is drawn, not only the first ones rftd returned...
        self.assertEqual(sorted(int(c.get("data-job")) for c in curves),
                         jobs)
        for c in curves:
            points = len(c.get("d").split()) // 2
            self.assertLess(points, 4 * 720)
            self.assertGreater(points, 10)
        # ... and the spike, a bucket's highest, is kept: the axis
        # reaches it.
        ticks = [t.text for t in root.iter("{http://www.w3.org/2000/svg}"
                                           "text")]
        self.assertIn("5", ticks)


if __name__ == "__main__":
    unittest.main()
