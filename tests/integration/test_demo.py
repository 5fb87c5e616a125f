"""scripts/demo.sh, shortened: the same script on the binaries under test,
with faster simulated time."""
import os
import re
import shutil
import signal
import subprocess
import unittest
import urllib.request

from harness import (CALL_TIMEOUT, RFTCTL, RFTD, SOURCE_DIR, WAIT, free_port,
                     wait_until)

DEMO = os.path.join(SOURCE_DIR, "scripts", "demo.sh")


class Demo(unittest.TestCase):
    def run_demo(self, *args, **env):
        env = dict(os.environ, RFTD=RFTD, RFTCTL=RFTCTL, DEMO_SPEED="30000",
                   **env)
        r = subprocess.run([DEMO, *args], capture_output=True, text=True,
                           env=env, timeout=240)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def test_demo_runs_a_simulated_sweep_end_to_end(self):
        out = self.run_demo()
        self.assertIn("24 trials; objective valid_reward_mean (max)", out)
        self.assertRegex(out, r"sweep 1 \"quiz-lr-epochs\" submitted: "
                              r"24 trials \(simulated\)")
        self.assertRegex(out, r"sweep 1 completed: \[completed\] 24/24 done")
        self.assertIn("RANK  TRIAL  GRADER", out)
        self.assertIn("mean_best", out)
        self.assertRegex(out, r"sweep:1 +sim\$1500\.00 +pause")
        self.assertIn("rftd stopped cleanly", out)

    def test_serve_keeps_rftd_and_its_dashboard_up_after_the_sweep(self):
        port = free_port()
        out = self.run_demo("--serve", DEMO_PORT=str(port))
        # The demo left its rftd running: whatever happens below, it is
        # stopped, by the pid the demo printed, and its files removed.
        pid = re.search(r"rftd keeps running \(pid (\d+)\) with its files "
                        r"in (\S+)\.", out)
        self.assertIsNotNone(pid, out)
        self.addCleanup(shutil.rmtree, pid.group(2), True)
        self.addCleanup(self.kill, int(pid.group(1)))
        self.assertRegex(out, r"sweep 1 completed: \[completed\] 24/24 done")
        self.assertIn("The dashboard: http://127.0.0.1:%d/sweeps/1" % port,
                      out)
        self.assertNotIn("rftd stopped cleanly", out)
        with urllib.request.urlopen("http://127.0.0.1:%d/sweeps/1" % port,
                                    timeout=WAIT) as r:
            page = r.read().decode()
        # The way out it prints works.
        stop = re.search(r"\n  (\S+) -s (\S+) stop && rm -rf (\S+)\n", out)
        self.assertIsNotNone(stop, out)
        trials = subprocess.run(
            [RFTCTL, "-s", stop.group(2), "sql", "--format", "csv",
             "SELECT count(DISTINCT trial_id) FROM reward_curves "
             "WHERE sweep_id = 1 AND metric = 'valid_reward_mean'"],
            check=True, capture_output=True, text=True,
            timeout=CALL_TIMEOUT).stdout.split()[-1]
        self.assertGreater(int(trials), 0)
        self.assertEqual(page.count('class="curve"'), int(trials),
                         page[:2000])
        subprocess.run([RFTCTL, "-s", stop.group(2), "stop"], check=True,
                       capture_output=True, timeout=CALL_TIMEOUT)
        self.assertFalse(os.path.exists(stop.group(2)))

    @staticmethod
    def kill(pid):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        wait_until(lambda: not alive(pid), what="rftd %d to exit" % pid)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes: the demo's shell reaps it.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


if __name__ == "__main__":
    unittest.main(verbosity=2)
