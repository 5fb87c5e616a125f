#!/usr/bin/env python3
"""Scale: 2,000 sim jobs running at once for 30 seconds.

Nothing may be lost (every metric row the simulator reported is in the
store, once, and every job was polled) and the control socket must keep
answering throughout.  How fast it answers is the benchmark's business
(bench/scale.sh), not this test's: only that every call is answered.
"""
import json
import os
import threading
import time
import unittest

from harness import DaemonTest, LONG_WAIT, WAIT, wait_until

JOBS = 2000
RUN_S = 30


class Scale(DaemonTest):
    def start_big_sweep(self):
        d = self.daemon(extra_config=(
            '[backend "sim"]\ntype = sim\nspeed = 60\nmax_concurrent = %d\n'
            % JOBS))
        data = os.path.join(self.tmp, "train.jsonl")
        with open(data, "w") as f:
            f.write('{"messages": [{"role": "user", "content": "2+2?"}], '
                    '"answer": "4"}\n')
        spec = os.path.join(self.tmp, "spec.json")
        with open(spec, "w") as f:
            json.dump({
                "name": "scale", "backend": "sim",
                "model": "o4-mini-2025-04-16", "training_file": data,
                "max_concurrent": JOBS, "max_job_hours": 100,
                "seeds": list(range(JOBS // 2)),
                # Long jobs (950 steps): they run for the whole test.
                "hyperparameters": {"n_epochs": 50,
                                    "learning_rate_multiplier": [1.0, 1.1]},
                "graders": {"g": {"type": "string_check", "name": "g",
                                  "input": "{{sample.output_text}}",
                                  "reference": "{{item.answer}}",
                                  "operation": "eq"}}}, f)
        sweep_id = self.submit(d, spec, "--yes")
        return d, sweep_id

    def test_nothing_is_lost_and_the_socket_keeps_answering(self):
        d, sweep_id = self.start_big_sweep()
        wait_until(lambda: self.rows(
            d, "SELECT count(*) FROM jobs WHERE state = 'running'")[0][0]
            == JOBS, timeout=LONG_WAIT * 2, interval=0.5,
            what="all %d jobs to run" % JOBS)

        # One client pings and asks for the status over and over while
        # the jobs run; every call must be answered, and right.
        answered, failures = [0], []
        stop = threading.Event()

        def client():
            c = d.connect()
            try:
                n = 0
                while not stop.is_set():
                    n += 1
                    method = "daemon.ping" if n % 2 else "daemon.status"
                    r = c.call(method, id=n)
                    if r.get("id") != n or "result" not in r:
                        failures.append(r)
                        return
                    answered[0] += 1
                    time.sleep(0.02)
            except Exception as e:  # a timeout, a closed socket
                failures.append(repr(e))
            finally:
                c.close()

        t = threading.Thread(target=client)
        t.start()
        time.sleep(RUN_S)  # the load's length, not a wait for a condition
        stop.set()
        t.join(WAIT)
        self.assertFalse(t.is_alive(), "the client hangs on a call")
        self.assertEqual(failures, [])
        self.assertGreater(answered[0], 0)
        d.stop()

        # Every job was polled and reported steps; each step it reported
        # has its training reward stored once, and no step is missing.
        jobs = self.rows(d, "SELECT id, CAST(events_cursor AS INTEGER)"
                            " FROM jobs")
        self.assertEqual(len(jobs), JOBS)
        unpolled = [j for j, cursor in jobs if not cursor]
        self.assertEqual(unpolled, [], "jobs never polled")
        gaps = self.rows(
            d, "SELECT j.id, CAST(j.events_cursor AS INTEGER), count(m.step),"
               " count(DISTINCT m.step), max(m.step)"
               " FROM jobs j LEFT JOIN metrics m ON m.job_id = j.id"
               " AND m.name = 'train_reward_mean' GROUP BY j.id"
               " HAVING count(m.step) != CAST(j.events_cursor AS INTEGER)"
               " OR count(DISTINCT m.step) != count(m.step)"
               " OR max(m.step) != CAST(j.events_cursor AS INTEGER)")
        self.assertEqual(gaps, [])
        total = self.rows(d, "SELECT count(*) FROM metrics")[0][0]
        self.assertGreater(total, JOBS)


if __name__ == "__main__":
    unittest.main(verbosity=2)
