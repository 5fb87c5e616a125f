"""rftd under a service manager: the installed units pass systemd's own
checks and sandbox rating, rftd speaks the notify protocol and serves a
socket passed by socket activation, `rftctl reload` (the unit's
ExecReload=) refuses a bad configuration, and the manual pages are clean
and name every command, flag and option."""
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import unittest

from harness import (CALL_TIMEOUT, WAIT, DaemonTest, RFTCTL, RFTD,
                     SOURCE_DIR, wait_until)

BUILD_DIR = os.environ.get("RFTD_BUILD_DIR")
CMAKE = os.environ.get("CMAKE_COMMAND", "cmake")
MAX_EXPOSURE = 2.0
PAGES = ["rftctl.1", "rftd-sweep.5", "rftd.conf.5", "rftd.8"]


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=120,
                          **kw)


def install_into(prefix):
    """Installs the build tree into `prefix`; returns the prefix."""
    if not BUILD_DIR:
        raise unittest.SkipTest("RFTD_BUILD_DIR is not set (run through "
                                "ctest)")
    r = run([CMAKE, "--install", BUILD_DIR, "--prefix", prefix])
    if r.returncode != 0:
        raise AssertionError("cmake --install failed:\n" + r.stdout +
                             r.stderr)
    return prefix


# --- the units -----------------------------------------------------------

class Units(unittest.TestCase):
    """The units as installed: paths filled in, binaries in place."""

    @classmethod
    def setUpClass(cls):
        if shutil.which("systemd-analyze") is None:
            raise unittest.SkipTest("systemd-analyze is not installed "
                                    "(Debian package systemd)")
        cls.tmp = tempfile.mkdtemp(prefix="rftd-units-")
        cls.prefix = install_into(os.path.join(cls.tmp, "prefix"))
        cls.unitdir = os.path.join(cls.prefix, "lib", "systemd", "system")
        cls.service = os.path.join(cls.unitdir, "rftd.service")
        cls.socket = os.path.join(cls.unitdir, "rftd.socket")
        cls.probe_verify()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def probe_verify(cls):
        """Skips the class when systemd-analyze cannot verify even a
        trivial unit here (some containers), saying why."""
        probe = os.path.join(cls.tmp, "probe.service")
        with open(probe, "w") as f:
            f.write("[Service]\nExecStart=/bin/true\n")
        r = run(["systemd-analyze", "verify", "--man=no", probe])
        if r.returncode != 0:
            raise unittest.SkipTest(
                "systemd-analyze verify does not work here: " +
                (r.stderr or r.stdout).strip())

    def read(self, path):
        with open(path) as f:
            return f.read()

    def test_verify_finds_nothing_to_report(self):
        r = run(["systemd-analyze", "verify", "--man=no", self.service,
                 self.socket])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout + r.stderr, "")

    def exposure(self, extra=()):
        r = run(["systemd-analyze", "security", "--offline=yes"] +
                list(extra) + [self.service])
        if "--offline" in r.stderr and "unrecognized" in r.stderr:
            self.skipTest("this systemd-analyze has no --offline "
                          "(systemd < 250)")
        return r

    def test_sandbox_exposure_is_at_most_2_0(self):
        r = self.exposure()
        m = re.search(r"Overall exposure level for rftd\.service: "
                      r"([0-9.]+)", r.stdout)
        self.assertIsNotNone(m, r.stdout + r.stderr)
        self.assertLessEqual(float(m.group(1)), MAX_EXPOSURE, r.stdout)

    def test_security_threshold_passes(self):
        r = self.exposure(["--threshold=%d" % (MAX_EXPOSURE * 10)])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_sandbox_keeps_callers_kernel_credentials(self):
        # In a user namespace every rftctl caller would be the overflow
        # user, whom rftd never trusts (SO_PEERCRED).
        text = self.read(self.service)
        for key in ("PrivateUsers", "DynamicUser"):
            self.assertNotRegex(
                text, r"(?m)^\s*%s\s*=\s*(yes|true|on|1|self|identity)" % key)
        self.assertRegex(text, r"(?m)^User=rftd$")

    def test_service_is_notify_type_with_a_watchdog_and_the_socket(self):
        text = self.read(self.service)
        for line in ("Type=notify", "WatchdogSec=30s", "Requires=rftd.socket",
                     "StateDirectory=rftd", "RuntimeDirectory=rftd",
                     "RuntimeDirectoryMode=0750", "UMask=0027"):
            self.assertRegex(text, r"(?m)^%s$" % re.escape(line))
        # rftd runs in the foreground, so that it is the main process.
        self.assertRegex(text, r"(?m)^ExecStart=\S+/rftd -f -c \S+$")

    def test_socket_is_owned_by_the_manager_with_group_access(self):
        text = self.read(self.socket)
        for line in ("ListenStream=/run/rftd/control.sock", "SocketMode=0660",
                     "SocketUser=rftd", "SocketGroup=rftd"):
            self.assertRegex(text, r"(?m)^%s$" % re.escape(line))

    def test_sysusers_and_tmpfiles_snippets_apply_to_an_empty_root(self):
        for tool in ("systemd-sysusers", "systemd-tmpfiles"):
            if shutil.which(tool) is None:
                self.skipTest(tool + " is not installed")
        if os.geteuid() != 0:
            self.skipTest("systemd-tmpfiles needs root to set owners")
        root = os.path.join(self.tmp, "root")
        os.makedirs(os.path.join(root, "etc"))
        r = run(["systemd-sysusers", "--root=" + root,
                 os.path.join(self.prefix, "lib/sysusers.d/rftd.conf")])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(root, "etc", "passwd")) as f:
            user = [line.split(":") for line in f
                    if line.startswith("rftd:")]
        self.assertEqual(len(user), 1)
        uid, gid, home = int(user[0][2]), int(user[0][3]), user[0][5]
        self.assertEqual(home, "/var/lib/rftd")
        r = run(["systemd-tmpfiles", "--root=" + root, "--create",
                 os.path.join(self.prefix, "lib/tmpfiles.d/rftd.conf")])
        self.assertEqual(r.returncode, 0, r.stderr)
        st = os.stat(os.path.join(root, "run", "rftd"))
        self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid),
                         (0o750, uid, gid))
        st = os.stat(root + os.path.join(self.prefix, "etc", "rftd"))
        self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid),
                         (0o750, 0, gid))


# --- sd_notify -----------------------------------------------------------

class Notifications:
    """A datagram socket standing in for the service manager's."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.received = []  # one list of assignments per datagram

    def wait_for(self, assignment, after=0, timeout=WAIT):
        """Reads datagrams until one from the `after`th on holds a line
        that matches `assignment` (a regular expression); returns the
        index of that datagram."""
        deadline = time.monotonic() + timeout
        i = after
        while True:
            while i < len(self.received):
                if any(re.fullmatch(assignment, line)
                       for line in self.received[i]):
                    return i
                i += 1
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %r from rftd; got %r"
                                     % (assignment, self.received))
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            self.received.append(data.decode().split("\n"))

    def drain(self, seconds):
        """Everything received in the next `seconds`."""
        got = []
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return got
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                return got
            got.append((time.monotonic(), data.decode().split("\n")))

    def close(self):
        self.sock.close()


class ServiceTest(DaemonTest):
    """Starts rftd as a service manager would: environment and fds."""

    def start(self, d, env=None, argv=None, **popen):
        full = {k: v for k, v in os.environ.items()
                if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
                             "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")}
        full.update(env or {})
        d.logfile = open(d.log, "ab")
        d.proc = subprocess.Popen(
            argv or [RFTD, "-f", "-c", d.config], env=full,
            stdout=d.logfile, stderr=subprocess.STDOUT, **popen)
        return d

    def notifications(self):
        n = Notifications(os.path.join(self.tmp, "notify.sock"))
        self.addCleanup(n.close)
        return n


class Notify(ServiceTest):
    def test_ready_comes_once_the_socket_answers(self):
        n = self.notifications()
        d = self.start(self.daemon(start=False), {"NOTIFY_SOCKET": n.path})
        n.wait_for("READY=1")
        # Ready means ready: the first client is served at once.
        self.assertTrue(d.answers())
        self.assertEqual(n.received[0], ["READY=1", "STATUS=ready"])

    def test_status_reports_jobs_trials_and_sweeps(self):
        n = self.notifications()
        self.start(self.daemon(start=False), {"NOTIFY_SOCKET": n.path})
        n.wait_for(r"STATUS=\d+ jobs live, \d+ trials waiting, "
                   r"\d+ sweeps running")

    def test_watchdog_is_fed_at_half_the_interval(self):
        # An interval of 2 s: a ping every second; fed at the full
        # interval there would be 3 at most, and a busy machine delays
        # a ping by far less than a second.
        n = self.notifications()
        d = self.start(self.daemon(start=False),
                       {"NOTIFY_SOCKET": n.path, "WATCHDOG_USEC": "2000000"})
        n.wait_for("READY=1")
        got = n.drain(5.5)
        pings = [t for t, msg in got if "WATCHDOG=1" in msg]
        self.assertGreaterEqual(len(pings), 4, got)
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        self.assertLess(max(gaps), 2.0, gaps)
        self.assertEqual(d.stop(), 0)

    def test_no_watchdog_without_watchdog_usec(self):
        n = self.notifications()
        self.start(self.daemon(start=False), {"NOTIFY_SOCKET": n.path})
        n.wait_for("READY=1")
        got = n.drain(1.0)
        self.assertFalse([m for _, m in got if "WATCHDOG=1" in m], got)

    def test_watchdog_meant_for_another_process_is_ignored(self):
        n = self.notifications()
        self.start(self.daemon(start=False),
                   {"NOTIFY_SOCKET": n.path, "WATCHDOG_USEC": "400000",
                    "WATCHDOG_PID": str(os.getpid())})
        n.wait_for("READY=1")
        got = n.drain(1.0)
        self.assertFalse([m for _, m in got if "WATCHDOG=1" in m], got)

    def test_sigterm_says_stopping_and_exits_0(self):
        n = self.notifications()
        d = self.start(self.daemon(start=False), {"NOTIFY_SOCKET": n.path})
        n.wait_for("READY=1")
        d.signal(signal.SIGTERM)
        n.wait_for("STOPPING=1")
        self.assertEqual(d.proc.wait(WAIT), 0)

    def test_reload_says_reloading_then_ready(self):
        n = self.notifications()
        d = self.start(self.daemon(start=False), {"NOTIFY_SOCKET": n.path})
        ready = n.wait_for("READY=1")
        d.ctl("reload", check=True)
        reloading = n.wait_for("RELOADING=1", after=ready + 1)
        n.wait_for("READY=1", after=reloading)


# --- socket activation ---------------------------------------------------

class SocketActivation(ServiceTest):
    """The manager binds and listens; rftd gets the socket as fd 3, with
    LISTEN_PID set to its own pid (hence the exec through sh)."""

    def listener(self):
        path = os.path.join(self.tmp, "activated.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.listen(16)
        self.addCleanup(s.close)
        return path, s

    def start_activated(self, d, fd, listen_pid="$$"):
        def as_fd_3():
            os.dup2(fd, 3)  # dup2 leaves the copy open across exec

        wrapper = ('LISTEN_PID=%s LISTEN_FDS=1 exec "$0" -f -c "$1"'
                   % listen_pid)
        return self.start(d, argv=["sh", "-c", wrapper, RFTD, d.config],
                          preexec_fn=as_fd_3, pass_fds=(3,))

    def test_passed_socket_is_served(self):
        path, s = self.listener()
        d = self.start_activated(self.daemon(start=False), s.fileno())
        wait_until(lambda: d.ctl("-s", path, "ping").returncode == 0 or
                   d.proc.poll() is not None, what="rftd on the passed socket")
        r = subprocess.run([RFTCTL, "-s", path, "status"],
                           capture_output=True, text=True,
                           timeout=CALL_TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr + d.read_log())
        self.assertIn("serving on the passed socket (fd 3)", d.read_log())
        # It did not bind the socket of its configuration as well.
        self.assertFalse(os.path.exists(d.socket))

    def test_passed_socket_file_is_left_to_the_manager_on_sigterm(self):
        path, s = self.listener()
        d = self.start_activated(self.daemon(start=False), s.fileno())
        wait_until(lambda: d.ctl("-s", path, "ping").returncode == 0,
                   what="rftd on the passed socket")
        self.assertEqual(d.stop(), 0)
        self.assertTrue(stat.S_ISSOCK(os.stat(path).st_mode))

    def test_client_waiting_across_a_restart_is_served(self):
        path, s = self.listener()
        d = self.start_activated(self.daemon(start=False), s.fileno())
        wait_until(lambda: d.ctl("-s", path, "ping").returncode == 0,
                   what="rftd on the passed socket")
        self.assertEqual(d.stop(), 0)
        # While rftd is down the manager's socket still accepts.
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(c.close)
        c.settimeout(WAIT)
        c.connect(path)
        c.sendall(b'{"jsonrpc":"2.0","id":7,"method":"daemon.ping"}\n')
        d2 = self.start_activated(self.daemon(start=False), s.fileno())
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = c.recv(4096)
            self.assertTrue(chunk, d2.read_log())
            reply += chunk
        self.assertIn(b'"id":7', reply)
        self.assertIn(b'"pong":true', reply)

    def test_passed_fd_that_is_not_a_listening_socket_is_refused(self):
        d = self.daemon(start=False)
        with open(os.path.join(self.tmp, "not-a-socket"), "w+") as f:
            self.start_activated(d, f.fileno())
            self.assertEqual(d.proc.wait(WAIT), 1)
        self.assertIn("the passed file descriptor 3 is not a listening Unix "
                      "stream socket", d.read_log())

    def test_socket_passed_to_another_process_is_ignored(self):
        path, s = self.listener()
        d = self.daemon(start=False)
        self.start_activated(d, s.fileno(), listen_pid="1")
        # LISTEN_PID is not rftd's: it binds its own socket.
        wait_until(d.answers, what="rftd on its configured socket")
        self.assertNotIn("passed socket", d.read_log())


# --- reload (ExecReload=) ------------------------------------------------

class Reload(DaemonTest):
    def test_broken_config_is_refused_and_the_old_one_kept(self):
        d = self.daemon()
        d.write_config("log_level = loud\n")
        r = d.ctl("reload")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("%s:4: log_level: 'loud' is not one of"
                      % os.path.realpath(d.config), r.stderr)
        self.assertIn("keeps running on the previous one", r.stderr)
        self.assertIsNone(d.proc.poll())
        self.assertEqual(d.ctl_json("status")["log_level"], "info")

    def test_good_config_takes_effect(self):
        d = self.daemon()
        d.write_config("log_level = debug\n")
        r = d.ctl("reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("rftd reloaded %s" % os.path.realpath(d.config),
                      r.stdout)
        self.assertEqual(d.ctl_json("status")["log_level"], "debug")

    def test_options_that_take_a_restart_are_named(self):
        d = self.daemon()
        with open(d.config, "a") as f:
            f.write('[backend "extra"]\ntype = sim\n')
        r = d.ctl("reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("take a restart to apply: backends", r.stdout)
        names = [b["name"] for b in d.ctl_json("status")["backends"]]
        self.assertNotIn("extra", names)


# --- manual pages and the example configuration --------------------------

def page(name):
    return os.path.join(SOURCE_DIR, "man", name)


def read_page(name):
    with open(page(name)) as f:
        return f.read()


class ManualPages(unittest.TestCase):
    def test_pages_lint_clean(self):
        if shutil.which("mandoc") is None:
            self.skipTest("mandoc is not installed")
        for name in PAGES:
            r = run(["mandoc", "-Tlint", "-Wwarning", page(name)])
            self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""),
                             name)

    def test_pages_render_with_man_without_warnings(self):
        if shutil.which("man") is None:
            self.skipTest("man is not installed")
        env = dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="")
        for name in PAGES:
            r = run(["man", "--warnings", "-l", page(name)], env=env)
            self.assertEqual((r.returncode, r.stderr), (0, ""), name)
            self.assertIn("NAME", r.stdout)

    def test_rftd_page_names_every_flag(self):
        r = run([RFTD, "-h"])
        flags = re.findall(r"^\s+-(\w)", r.stdout, re.M)
        self.assertGreaterEqual(len(flags), 5, r.stdout)
        text = read_page("rftd.8")
        missing = [f for f in flags
                   if not re.search(r"(?m)^\.It Fl %s\b" % f, text)]
        self.assertEqual(missing, [], "flags of rftd missing from "
                         "man/rftd.8")

    def test_rftctl_page_names_every_command_and_option(self):
        r = run([RFTCTL, "--help"])
        commands = re.search(r"commands:\n(.*?)\n\n", r.stdout, re.S).group(1)
        text = read_page("rftctl.1")
        missing = []
        for line in commands.splitlines():
            words = re.match(r"\s+((?:[a-z]+ )+)", line).group(1).split()
            if not re.search(r"(?m)^\.It Ic %s\b" % " ".join(words), text):
                missing.append(" ".join(words))
        for option in sorted(set(re.findall(r"--([a-z-]+)", r.stdout))):
            if "Fl \\-%s" % option not in text:
                missing.append("--" + option)
        self.assertEqual(missing, [], "commands and options of rftctl "
                         "--help missing from man/rftctl.1")

    def test_rftd_conf_page_names_every_option(self):
        r = run([RFTD, "-n", "-c", os.path.join(SOURCE_DIR, "examples",
                                                "rftd.conf")])
        keys = set(re.findall(r"(?m)^;?(\w+) =", r.stdout))
        self.assertGreaterEqual(len(keys), 10, r.stdout)
        text = read_page("rftd.conf.5")
        missing = [k for k in sorted(keys)
                   if not re.search(r"(?m)^\.It Cm %s Ns" % k, text)]
        self.assertEqual(missing, [], "options of rftd -n missing from "
                         "man/rftd.conf.5")

    def test_example_configuration_passes_the_check(self):
        r = run([RFTD, "-n", "-c", os.path.join(SOURCE_DIR, "examples",
                                                "rftd.conf")])
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
