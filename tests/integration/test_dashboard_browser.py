"""The dashboard in a real browser: headless Chromium, driven over the
DevTools protocol (browser.py), loads every page of sweeps run by rftd on
the sim backend; no page logs a console error, an exception or a
Content-Security-Policy violation; the sweep page draws one curve per
trial of the store, updates by itself while the sweep runs, and shows the
same curves with JavaScript off.  A screenshot of the sweep page is saved
to $RFTD_SCREENSHOT_DIR/dashboard-sweep.png when that is set.

The driver's own tests come first: a page served by Python's http.server
makes it see each kind of problem, so that "no problems" means something.
"""
import functools
import http.server
import json
import os
import re
import shutil
import signal
import sqlite3
import tempfile
import threading
import unittest

import browser
from browser import Browser, BrowserError, png_size
from harness import LONG_WAIT, WAIT, Daemon, free_port, wait_until
from test_sweeps import BASE_SPEC, EXAMPLES, sim_backend

WIDTH, HEIGHT = 1280, 900
METRIC = "valid_reward_mean"

# The sweep page's curves, read from the DOM: [trial, points] for each
# path, a point being one coordinate pair of its `d`.
CURVES_JS = r"""(() => {
  const num = '-?\\d*\\.?\\d+(?:e[-+]?\\d+)?';
  const pair = new RegExp(num + '[ ,]+' + num, 'gi');
  return [...document.querySelectorAll('#curves path.curve')].map(p => [
    p.getAttribute('data-trial'),
    ((p.getAttribute('d') || '').match(pair) || []).length]);
})()"""


def curves_of(page):
    """{trial id: points} of the sweep page's curves, and
    {trial id: paths drawn for it}."""
    points, paths = {}, {}
    for trial, n in page.evaluate(CURVES_JS) or []:
        trial = int(trial)
        points[trial] = points.get(trial, 0) + n
        paths[trial] = paths.get(trial, 0) + 1
    return points, paths


# The chart as laid out: its size on the page, and the curves that take
# up no room on it (a chart in the DOM may still show nothing).
LAYOUT_JS = r"""(() => {
  const r = document.getElementById('curves').getBoundingClientRect();
  const empty = [...document.querySelectorAll('#curves path.curve')]
    .filter(p => { const b = p.getBoundingClientRect();
                   return b.width <= 0 && b.height <= 0; })
    .map(p => p.getAttribute('data-trial'));
  return [r.width, r.height, empty];
})()"""


def setUpModule():
    global BROWSER
    BROWSER = Browser(WIDTH, HEIGHT)


def tearDownModule():
    BROWSER.close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Driver(unittest.TestCase):
    """browser.py against static pages on 127.0.0.1."""

    PAGES = {
        "clean.html": "<!doctype html><title>ok</title>"
                      "<body data-generated=1><p id=x>ok</p></body>",
        "console.html": "<!doctype html><script src=console.js></script>",
        "console.js": "console.error('something broke');",
        "throws.html": "<!doctype html><script src=throws.js></script>",
        "throws.js": "null.x;",
        "csp.html": "<!doctype html><meta http-equiv="
                    "Content-Security-Policy content=\"script-src 'self'\">"
                    "<script>document.title = 'ran';</script>",
        "missing.html": "<!doctype html><link rel=stylesheet href=none.css>",
        "favicon.ico": "",
    }

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="rftd-browser-")
        for name, text in cls.PAGES.items():
            with open(os.path.join(cls.root, name), "w") as f:
                f.write(text)
        cls.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0),
            functools.partial(QuietHandler, directory=cls.root))
        cls.thread = threading.Thread(target=cls.server.serve_forever)
        cls.thread.start()
        cls.base = "http://127.0.0.1:%d/" % cls.server.server_port

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()
        cls.thread.join()
        shutil.rmtree(cls.root, ignore_errors=True)

    def setUp(self):
        self.page = BROWSER.new_page()

    def tearDown(self):
        self.page.close()

    def problems_of(self, name):
        self.assertEqual(self.page.navigate(self.base + name), 200)
        return self.page.problems

    def test_a_clean_page_has_no_problems(self):
        self.assertEqual(self.problems_of("clean.html"), [])
        self.assertEqual(self.page.evaluate(
            "document.getElementById('x').textContent"), "ok")

    def test_a_console_error_is_a_problem(self):
        self.assertIn("console.error: something broke",
                      self.problems_of("console.html"))

    def test_an_uncaught_exception_is_a_problem(self):
        problems = self.problems_of("throws.html")
        self.assertTrue(any(p.startswith("exception: TypeError")
                            for p in problems), problems)

    def test_a_content_security_policy_violation_is_a_problem(self):
        problems = self.problems_of("csp.html")
        self.assertTrue(any("Content Security Policy" in p
                            for p in problems), problems)
        self.assertNotEqual(self.page.evaluate("document.title"), "ran")

    def test_a_resource_that_fails_to_load_is_a_problem(self):
        problems = self.problems_of("missing.html")
        self.assertTrue(any("404" in p for p in problems), problems)

    def test_navigate_returns_the_documents_status(self):
        self.assertEqual(self.page.navigate(self.base + "nothing.html"), 404)

    def test_scripts_can_be_turned_off(self):
        self.page.set_scripts_disabled(True)
        self.problems_of("csp.html")
        self.assertNotEqual(self.page.evaluate("document.title"), "ran")

    def test_a_screenshot_is_a_png_of_the_window(self):
        self.problems_of("clean.html")
        self.assertEqual(png_size(self.page.screenshot()), (WIDTH, HEIGHT))

    def test_a_missing_chromium_says_how_to_install_it(self):
        saved = browser.CHROMIUM
        browser.CHROMIUM = "/nonexistent/chromium"
        try:
            with self.assertRaisesRegex(BrowserError,
                                        "scripts/install-deps.sh"):
                Browser()
        finally:
            browser.CHROMIUM = saved

    def test_a_dead_chromium_fails_with_its_stderr(self):
        b = Browser(WIDTH, HEIGHT)
        try:
            os.killpg(b.proc.pid, signal.SIGKILL)
            b.proc.wait()
            with self.assertRaisesRegex(BrowserError, "chromium .*stderr"):
                b.new_page()
        finally:
            b.close()


class DashboardTest(unittest.TestCase):
    """One sweep, run by an rftd whose dashboard listens on a free
    loopback port, shared by the tests of the class: they only read.
    SPEED and FIELDS (over test_sweeps' spec of four trials) say what
    the sweep is."""

    SPEED = 50000
    FIELDS = {}

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rftd-test-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        for name in ("train.jsonl", "valid.jsonl"):
            with open(os.path.join(cls.tmp, name), "w") as f:
                f.writelines(json.dumps(e) + "\n" for e in EXAMPLES)
        spec = os.path.join(cls.tmp, "spec.json")
        with open(spec, "w") as f:
            json.dump(dict(BASE_SPEC, **cls.FIELDS), f)
        port = free_port()
        cls.base = "http://127.0.0.1:%d" % port
        cls.d = Daemon(cls.tmp, daemon_section="tick = 50\n",
                       extra_config=sim_backend(speed=cls.SPEED)
                       + "[http]\nlisten = 127.0.0.1:%d\n" % port)
        cls.addClassCleanup(cls.d.kill)
        cls.d.start()
        r = cls.d.ctl("submit", spec, "--yes", check=True)
        cls.sweep_id = int(re.match(r'sweep (\d+) "', r.stdout).group(1))

    @classmethod
    def tearDownClass(cls):
        # Served pages to a browser, rftd still stops cleanly (under the
        # sanitizers too: its loop closes with nothing left on it).
        status = cls.d.stop()
        if status != 0:
            raise AssertionError("rftd exited with %s:\n%s"
                                 % (status, cls.d.read_log()[-4000:]))

    def setUp(self):
        self.page = BROWSER.new_page()

    def tearDown(self):
        self.page.close()

    @classmethod
    def rows(cls, sql, *args):
        """Reads the store directly, on a read-only connection."""
        db = sqlite3.connect("file:%s?mode=ro" % cls.d.database, uri=True,
                             timeout=WAIT)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    @classmethod
    def sweep_state(cls):
        return cls.d.ctl_json("sweep", "show", str(cls.sweep_id))["state"]

    @classmethod
    def db_curves(cls):
        """Trials of the sweep that have points of the objective."""
        return {t for (t,) in cls.rows(
            "SELECT DISTINCT trial_id FROM reward_curves"
            " WHERE sweep_id = ? AND metric = ?", cls.sweep_id, METRIC)}

    def assert_chart_shown(self, page):
        width, height, empty = page.evaluate(LAYOUT_JS)
        self.assertGreaterEqual(width, 300, "the chart is drawn wide enough "
                                "to read (%gx%g px)" % (width, height))
        self.assertGreaterEqual(height, 150, "the chart is drawn high "
                                "enough to read (%gx%g px)" % (width, height))
        self.assertEqual(empty, [], "curves drawn on no pixel")

    def load(self, page, path):
        """Loads a page of the dashboard; fails on a status other than
        200 or on any problem the browser reported."""
        status = page.navigate(self.base + path)
        self.assertEqual(status, 200, path)
        self.assertEqual(page.problems, [], "problems on %s" % path)


class CompletedSweep(DashboardTest):
    """Every page of a completed sweep of four trials, with a budget."""

    FIELDS = {"budget_usd": 500}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        wait_until(lambda: cls.sweep_state() == "completed",
                   timeout=LONG_WAIT, what="the sweep to complete")

    def test_every_page_loads_without_console_errors(self):
        job = self.rows("SELECT j.id FROM jobs j JOIN trials t"
                        " ON t.id = j.trial_id WHERE t.sweep_id = ?"
                        " ORDER BY j.id LIMIT 1", self.sweep_id)[0][0]
        for path in ("/", "/sweeps/%d" % self.sweep_id, "/jobs/%d" % job,
                     "/budgets"):
            self.load(self.page, path)
            self.assertTrue(self.page.evaluate(
                "[...document.styleSheets].some(s => s.href &&"
                " new URL(s.href).pathname == '/static/dash.css')"),
                "%s uses /static/dash.css" % path)
        # The sweeps page links to the sweep.
        self.load(self.page, "/")
        self.assertTrue(self.page.evaluate(
            "[...document.links].some(a => a.pathname == '/sweeps/%d')"
            % self.sweep_id))

    def test_the_sweep_page_draws_one_curve_per_trial(self):
        self.load(self.page, "/sweeps/%d" % self.sweep_id)
        points, paths = curves_of(self.page)
        trials = self.db_curves()
        self.assertEqual(len(trials), 4)
        self.assertEqual(set(points), trials)
        self.assertEqual(set(paths.values()), {1}, paths)
        for trial, n in points.items():
            self.assertGreater(n, 1, "trial %d has a curve of points" % trial)
        self.assert_chart_shown(self.page)
        self.assertTrue(self.page.evaluate(
            "document.querySelectorAll('#leaderboard tr').length > 1"))
        self.assertTrue(self.page.evaluate(
            "document.querySelectorAll('#grid tr').length > 1"))

    def test_the_sweep_page_shows_its_curves_without_javascript(self):
        self.page.set_scripts_disabled(True)
        self.load(self.page, "/sweeps/%d" % self.sweep_id)
        points, _ = curves_of(self.page)
        self.assertEqual(set(points), self.db_curves())
        self.assertTrue(all(n > 1 for n in points.values()), points)
        self.assert_chart_shown(self.page)

    def test_a_screenshot_of_the_sweep_page_is_saved(self):
        self.load(self.page, "/sweeps/%d" % self.sweep_id)
        png = self.page.screenshot()
        where = os.environ.get("RFTD_SCREENSHOT_DIR") or self.tmp
        os.makedirs(where, exist_ok=True)
        with open(os.path.join(where, "dashboard-sweep.png"), "wb") as f:
            f.write(png)
        self.assertEqual(png_size(png), (WIDTH, HEIGHT))
        self.assert_chart_shown(self.page)


class LiveSweep(DashboardTest):
    """The sweep page while its trials train: long jobs in slow time,
    still running when the tests end."""

    SPEED = 1000
    FIELDS = {"hyperparameters": {"n_epochs": [50],
                                  "learning_rate_multiplier": [0.5, 1.0]},
              "max_job_hours": 100}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        wait_until(cls.db_curves, timeout=LONG_WAIT,
                   what="a first point of the reward curves")

    def state(self):
        """(data-generated, points on the chart) of the page as it is
        now; None while the page is between two documents."""
        try:
            points, _ = curves_of(self.page)
            return (self.page.evaluate("document.body.dataset.generated"),
                    sum(points.values()))
        except BrowserError:
            if BROWSER.proc.poll() is not None:
                raise
            return None

    def wait_for_new_points(self, before):
        def grew():
            now = self.state()
            return now and now[0] != before[0] and now[1] > before[1]
        wait_until(grew, timeout=WAIT,
                   what="the sweep page to show new points by itself")
        self.assertEqual(self.sweep_state(), "running")
        self.page.pump()
        self.assertEqual(self.page.problems, [])

    def test_the_sweep_page_updates_in_place_while_the_sweep_runs(self):
        self.load(self.page, "/sweeps/%d" % self.sweep_id)
        self.page.evaluate("window.loadedOnce = true")
        navigations = self.page.navigations
        self.wait_for_new_points(self.state())
        self.assertTrue(self.page.evaluate("window.loadedOnce === true"),
                        "the page was updated in place, not reloaded")
        self.assertEqual(self.page.navigations, navigations)

    def test_without_javascript_the_sweep_page_reloads_itself(self):
        self.page.set_scripts_disabled(True)
        self.load(self.page, "/sweeps/%d" % self.sweep_id)
        navigations = self.page.navigations
        self.wait_for_new_points(self.state())
        self.assertGreater(self.page.navigations, navigations)


if __name__ == "__main__":
    unittest.main(verbosity=2)
