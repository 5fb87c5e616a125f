"""Datasets named by path: rftd reads only regular files, off its loop and
once per version, and for a client only what that client could read.

- A FIFO or a device as a dataset is refused at once, without blocking
  anything (a FIFO used to freeze the daemon until someone wrote to it).
- A large dataset is hashed on the thread pool: the daemon answers others
  meanwhile, and a second plan of the same file is not hashed again.
- A client that is not root may name only files it could read itself: a
  file under a directory it may not search is refused with the same words
  whether it exists or not, so the daemon is no probe.
- What a dataset holds is checked before anything is stored, on every
  backend that runs RFT examples (the sim too): each line a JSON object
  with a messages array, and the {{item.FIELD}} names of the graders in
  every example.  Errors name the file, the line and the field; a huge
  file is checked in its first 64 MiB, and the plan says so.
"""
import copy
import json
import os
import shutil
import subprocess
import unittest

from harness import RFTCTL, SOURCE_DIR, WAIT, DaemonTest, wait_until

SPEC = json.load(open(os.path.join(SOURCE_DIR, "examples",
                                   "sweep-demo.json")))
# A user the control socket's group admits (not the overflow user, whom
# rftd never admits): setpriv runs rftctl as it.
CLIENT = ("setpriv", "--reuid=daemon", "--regid=daemon",
          "--groups=nogroup")


class Datasets(DaemonTest):
    def setUp(self):
        super().setUp()
        self.data = os.path.join(self.tmp, "data")
        os.makedirs(self.data)
        for name in ("train.jsonl", "valid.jsonl"):
            shutil.copy(os.path.join(SOURCE_DIR, "examples", "data", name),
                        self.data)

    def spec(self, training_file, name="spec.json"):
        spec = copy.deepcopy(SPEC)
        spec["training_file"] = training_file
        spec["validation_file"] = os.path.join(self.data, "valid.jsonl")
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            json.dump(spec, f)
        return path

    def assert_refused(self, d, spec, words, *prefix):
        r = d.ctl("plan", spec) if not prefix else self.run_as(
            d, prefix, "plan", spec)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("/training_file: ", r.stderr)
        self.assertIn(words, r.stderr)
        return r

    def run_as(self, d, prefix, *args):
        return subprocess.run(
            list(prefix) + [RFTCTL, "-s", d.socket] + list(args),
            capture_output=True, text=True, timeout=WAIT)

    def test_a_fifo_or_a_device_is_refused_without_blocking(self):
        d = self.daemon()
        fifo = os.path.join(self.tmp, "fifo")
        os.mkfifo(fifo)
        for path in (fifo, "/dev/zero", "/dev/urandom", self.data):
            self.assert_refused(d, self.spec(path), "is not a regular file")
        # Nothing waits on the FIFO: the daemon answers and stores none.
        d.ctl("ping", check=True)
        r = d.ctl("submit", self.spec(fifo))
        self.assertEqual(r.returncode, 1)
        self.assertEqual(self.rows(d, "SELECT count(*) FROM sweeps"),
                         [(0,)])

    def test_a_large_dataset_is_hashed_off_the_loop_and_once(self):
        d = self.daemon(daemon_section="log_level = debug\n")
        big = os.path.join(self.tmp, "big.jsonl")
        line = (json.dumps({"messages": [{"role": "user", "content": "x" *
                                          900}], "answer": "4"}) + "\n")
        with open(big, "wb") as f:
            # 65 MiB of examples, then sparse to 1 GiB: as large as
            # allowed, and past what is checked.
            f.write(line.encode() * ((65 << 20) // len(line)))
            f.truncate(1 << 30)
        spec = self.spec(big)
        plan = subprocess.Popen([RFTCTL, "-s", d.socket, "plan", spec],
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            wait_until(lambda: "dataset %s: hashing" % big in d.read_log(),
                       what="the hashing to start")
            # Reading and hashing a gibibyte takes seconds: the daemon
            # answers another client meanwhile.
            d.ctl("ping", check=True)
            d.ctl("status", check=True)
            self.assertIsNone(plan.poll(), "the plan waited for nothing")
            out, err = plan.communicate(timeout=WAIT * 2)
        finally:
            if plan.poll() is None:
                plan.kill()
                plan.wait()
        self.assertEqual(plan.returncode, 0, err)
        self.assertIn('sweep "', out)
        self.assertRegex(out, r"note: /training_file: \d+ examples, 1\.1 GB; "
                              r"the \d+ in its first 64 MiB were checked "
                              r"\(a sample: the rest was only counted\)")
        # Planned again: the same version of the file is not read again.
        d.ctl("plan", spec, check=True)
        self.assertEqual(d.read_log().count("dataset %s: hashing" % big), 1)
        # A new version is.
        with open(big, "r+b") as f:
            f.write(line.replace("4", "5").encode())
        d.ctl("plan", spec, check=True)
        self.assertEqual(d.read_log().count("dataset %s: hashing" % big), 2)

    def write(self, name, lines):
        path = os.path.join(self.data, name)
        with open(path, "w") as f:
            f.write("".join(lines))
        return path

    def test_junk_lines_are_refused_naming_file_line_and_field(self):
        d = self.daemon()
        good = json.dumps({"messages": [{"role": "user", "content": "2+2?"}],
                           "answer": "4"}) + "\n"
        for lines, words in (
                ([good, "junk\n", good], "line 2: is not valid JSON"),
                ([good, good, '{"answer": "4"}\n'],
                 "line 3, /messages: is missing"),
                ([good, '{"messages": [{"role": "bot", "content": "x"}]}\n'],
                 "line 2, /messages/0/role: 'bot' is not a role")):
            path = self.write("junk.jsonl", lines)
            r = self.assert_refused(d, self.spec(path), words)
            self.assertIn("/training_file: '%s' %s" % (path, words),
                          r.stderr)
        self.assertEqual(self.rows(d, "SELECT count(*) FROM sweeps"),
                         [(0,)])

    def test_a_field_the_graders_read_must_be_in_every_example(self):
        d = self.daemon()
        good = json.dumps({"messages": [{"role": "user", "content": "2+2?"}],
                           "answer": "4"}) + "\n"
        path = self.write("partial.jsonl", [
            good, json.dumps({"messages": [{"role": "user",
                                            "content": "x"}]}) + "\n"])
        r = d.ctl("submit", self.spec(path))
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("/graders/exact/reference: {{item.answer}}: '%s' line "
                      "2 has no field 'answer' (1 of 2 examples lack it)"
                      % path, r.stderr)
        self.assertEqual(self.rows(d, "SELECT count(*) FROM sweeps"),
                         [(0,)])

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv"),
                         "needs root and setpriv to act as another user")
    def test_a_client_names_only_what_it_could_read_itself(self):
        d = self.daemon(daemon_section="socket_group = nogroup\n")
        os.chmod(self.tmp, 0o755)
        os.chmod(os.path.dirname(d.socket), 0o755)
        # Readable by anyone, in directories anyone may search: fine.
        r = self.run_as(d, CLIENT, "plan",
                        self.spec(os.path.join(self.data, "train.jsonl")))
        self.assertEqual(r.returncode, 0, r.stderr)
        # Owner-only: refused for the client, fine for root.
        secret = os.path.join(self.data, "secret.jsonl")
        shutil.copy(os.path.join(self.data, "train.jsonl"), secret)
        os.chmod(secret, 0o600)
        spec = self.spec(secret, "secret.json")
        self.assert_refused(d, spec, "cannot read it itself", *CLIENT)
        d.ctl("plan", spec, check=True)
        # Behind a directory the client may not search, a file that
        # exists and one that does not get the same words.
        hidden = os.path.join(self.tmp, "hidden")
        os.makedirs(hidden, mode=0o700)
        there = os.path.join(hidden, "there.jsonl")
        shutil.copy(os.path.join(self.data, "train.jsonl"), there)
        os.chmod(there, 0o644)
        words = []
        for path in (there, os.path.join(hidden, "not-there.jsonl")):
            r = self.assert_refused(d, self.spec(path, "h.json"),
                                    "cannot read it itself", *CLIENT)
            words.append(r.stderr.replace(path, "PATH"))
        self.assertEqual(words[0], words[1])
        self.assertEqual(self.rows(d, "SELECT count(*) FROM sweeps"),
                         [(0,)])


if __name__ == "__main__":
    unittest.main()
