"""scripts/demo.sh, shortened: the same script on the binaries under test,
with faster simulated time."""
import os
import subprocess
import unittest

from harness import RFTCTL, RFTD, SOURCE_DIR


class Demo(unittest.TestCase):
    def test_demo_runs_a_simulated_sweep_end_to_end(self):
        env = dict(os.environ, RFTD=RFTD, RFTCTL=RFTCTL, DEMO_SPEED="30000")
        r = subprocess.run([os.path.join(SOURCE_DIR, "scripts", "demo.sh")],
                           capture_output=True, text=True, env=env,
                           timeout=240)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = r.stdout
        self.assertIn("24 trials; objective valid_reward_mean (max)", out)
        self.assertRegex(out, r"sweep 1 \"quiz-lr-epochs\" submitted: "
                              r"24 trials \(simulated\)")
        self.assertRegex(out, r"sweep 1 completed: \[completed\] 24/24 done")
        self.assertIn("RANK  TRIAL  GRADER", out)
        self.assertIn("mean_best", out)
        self.assertRegex(out, r"sweep:1 +sim\$1500\.00 +pause")
        self.assertIn("rftd stopped cleanly", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
