"""Shared helpers for integration tests: run the real rftd and rftctl.

Each test gets a fresh temporary directory with its own config, socket
and database.  Servers listen on a Unix socket inside that directory and
are stopped by the test that started them (by pid).
"""
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import unittest

RFTD = os.environ.get("RFTD", "rftd")
RFTCTL = os.environ.get("RFTCTL", "rftctl")
SOURCE_DIR = os.environ.get(
    "RFTD_SOURCE_DIR",
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


# Deadlines.  Tests wait for conditions, never for a time hoped long
# enough, and a deadline only bounds how long a broken daemon is waited
# for: a loaded machine (a sanitizer build, tests in parallel, other
# work) makes a test slower, not failed.  A condition that holds ends
# its wait at once.
WAIT = 60.0        # what the test caused: a tick or a poll or two away
LONG_WAIT = 120.0  # a sweep, or a chain of jobs, to run to its end
CALL_TIMEOUT = 120.0  # one rftctl command, or one rftd that exits by itself


def free_port():
    """A TCP port free on 127.0.0.1 for a server a test starts.  Drawn
    at random below the kernel's ephemeral range (32768 and up), where
    no outgoing connection takes one, and checked by binding it; two
    tests drawing the same port within a moment is the only clash."""
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port between 20000 and 32000")


def wait_until(predicate, timeout=WAIT, interval=0.05, what="condition"):
    """Polls predicate until it returns something true, and returns that;
    fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %g s waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


class Daemon:
    """One rftd process in a temporary directory."""

    def __init__(self, tmp, extra_config="", daemon_section="", args=("-f",)):
        self.tmp = tmp
        self.socket = os.path.join(tmp, "run", "control.sock")
        self.database = os.path.join(tmp, "state", "rftd.db")
        self.config = os.path.join(tmp, "rftd.conf")
        self.log = os.path.join(tmp, "rftd.log")
        self.args = list(args)
        self.proc = None
        self.write_config(daemon_section, extra_config)

    def write_config(self, daemon_section="", extra=""):
        with open(self.config, "w") as f:
            f.write("[daemon]\n")
            f.write("socket = %s\n" % self.socket)
            f.write("database = %s\n" % self.database)
            f.write(daemon_section)
            f.write(extra)

    def start(self, wait=True):
        self.logfile = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [RFTD, "-c", self.config] + self.args,
            stdout=self.logfile, stderr=subprocess.STDOUT)
        if wait:
            wait_until(self.answers, what="rftd to answer on its socket")
        return self

    def answers(self):
        """True once rftd answers a ping (not merely accepts)."""
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError("rftd exited with %d:\n%s"
                                 % (self.proc.returncode, self.read_log()))
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(WAIT)
                s.connect(self.socket)
                s.sendall(b'{"jsonrpc":"2.0","id":0,"method":"daemon.ping"}\n')
                return s.recv(4096).endswith(b"\n")
        except OSError:
            return False

    def read_log(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def signal(self, signum):
        self.proc.send_signal(signum)

    def stop(self, timeout=WAIT):
        """SIGTERM and wait; returns the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.logfile.close()

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None:
            self.logfile.close()

    def ctl(self, *args, check=False, timeout=CALL_TIMEOUT):
        """Runs rftctl against this daemon; returns CompletedProcess."""
        r = subprocess.run([RFTCTL, "-s", self.socket] + list(args),
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("rftctl %s failed (%d): %s"
                                 % (" ".join(args), r.returncode, r.stderr))
        return r

    def ctl_json(self, *args):
        r = self.ctl("--json", *args, check=True)
        return json.loads(r.stdout)

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(WAIT)
        s.connect(self.socket)
        return RawClient(s)


class RawClient:
    """A hand-driven protocol client, for malformed input."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def call(self, method, params=None, id=1):
        msg = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(json.dumps(msg).encode() + b"\n")
        return self.reply()

    def reply(self):
        return self.reply_line()[1]

    def reply_line(self):
        """The next reply as its bytes, and parsed (as strict UTF-8)."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("rftd closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line, json.loads(line.decode("utf-8"))

    def exchange(self, frame):
        """Sends one raw frame; returns the reply as reply_line() does."""
        self.send(frame + b"\n")
        return self.reply_line()

    def closed_by_peer(self, timeout=WAIT):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, socket.timeout):
            return False

    def close(self):
        self.sock.close()


class DaemonTest(unittest.TestCase):
    """Base class: a temporary directory, removed afterwards, and every
    daemon started through self.daemon() stopped at the end."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rftd-test-")
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            d.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def daemon(self, start=True, **kw):
        d = Daemon(self.tmp, **kw)
        self.daemons.append(d)
        if start:
            d.start()
        return d

    # Sweeps: submit one, read it, wait for it, read the store.

    def submit(self, d, spec, *flags):
        """Submits a spec file with rftctl; returns the sweep id."""
        r = d.ctl("submit", spec, *flags, check=True)
        m = re.match(r'sweep (\d+) "', r.stdout)
        self.assertIsNotNone(m, r.stdout)
        return int(m.group(1))

    def sweep(self, d, sweep_id):
        return d.ctl_json("sweep", "show", str(sweep_id))

    def wait_for_sweep(self, d, sweep_id, state="completed",
                       timeout=LONG_WAIT):
        wait_until(lambda: self.sweep(d, sweep_id)["state"] == state,
                   timeout=timeout,
                   what="sweep %d to be %s" % (sweep_id, state))
        return self.sweep(d, sweep_id)

    def rows(self, d, sql, *args):
        """Reads the store directly, on a read-only connection."""
        db = sqlite3.connect("file:%s?mode=ro" % d.database, uri=True,
                             timeout=WAIT)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()
