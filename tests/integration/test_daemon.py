"""The daemon's foundation: start-up, the control socket, rftctl status and
ping, bad clients, signals, and start-up refusals."""
import hashlib
import json
import os
import pwd
import grp
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import time
import unittest

from harness import (CALL_TIMEOUT, WAIT, DaemonTest, RFTCTL, RFTD,
                     SOURCE_DIR, wait_until)

# The schema version is the number of migration files.
SCHEMA = len([f for f in os.listdir(os.path.join(SOURCE_DIR, "migrations"))
              if f.endswith(".sql")])
TABLES = ["budgets", "checkpoints", "early_stops", "files", "graders",
          "halts", "job_events", "jobs", "ledger", "metrics",
          "notifications", "sim_jobs", "sweep_trials", "sweeps", "trials"]


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def make_writable(path):
    if os.geteuid() == 0 and shutil.which("chattr"):
        subprocess.run(["chattr", "-i", path], capture_output=True)
    os.chmod(path, 0o600)


def make_unwritable(path):
    """Makes the file `path` unwritable for this test's own user: mode 0400,
    or for root (who ignores modes) the immutable attribute.  Returns None,
    or why that cannot be done here."""
    if os.geteuid() != 0:
        os.chmod(path, 0o400)
    elif shutil.which("chattr") is None:
        return "chattr is not installed"
    else:
        r = subprocess.run(["chattr", "+i", path], capture_output=True,
                           text=True)
        if r.returncode != 0:
            return "chattr +i: " + r.stderr.strip()
    try:
        os.close(os.open(path, os.O_WRONLY))
    except OSError:
        return None
    make_writable(path)
    return "it can still be written"


class StatusAndPing(DaemonTest):
    def test_status_json_describes_the_daemon(self):
        d = self.daemon()
        st = d.ctl_json("status")
        self.assertEqual(st["pid"], d.proc.pid)
        self.assertEqual(st["database"], d.database)
        self.assertEqual(st["socket"], d.socket)
        self.assertEqual(st["schema_version"], SCHEMA)
        self.assertRegex(st["version"], r"^\d+\.\d+\.\d+$")
        self.assertGreaterEqual(st["uptime_s"], 0)
        self.assertEqual(sorted(st["tables"]), TABLES)
        self.assertTrue(all(n == 0 for n in st["tables"].values()))

    def test_status_counts_rows_written_by_others(self):
        d = self.daemon()
        db = sqlite3.connect(d.database)
        db.execute("INSERT INTO budgets VALUES ('global', 10, 'pause', 0)")
        db.commit()
        db.close()
        self.assertEqual(d.ctl_json("status")["tables"]["budgets"], 1)

    def test_status_text_is_for_people(self):
        d = self.daemon()
        r = d.ctl("status", check=True)
        self.assertIn("pid %d" % d.proc.pid, r.stdout)
        self.assertIn("database  %s (schema %d)" % (d.database, SCHEMA),
                      r.stdout)
        self.assertIn("jobs", r.stdout)

    def test_ping_answers(self):
        d = self.daemon()
        r = d.ctl("ping", check=True)
        self.assertIn("answered in", r.stdout)
        self.assertTrue(d.ctl_json("ping")["pong"])

    def test_options_may_follow_the_command(self):
        d = self.daemon()
        r = subprocess.run([RFTCTL, "status", "--json", "-s", d.socket],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["pid"], d.proc.pid)

    def test_socket_env_variable_is_honoured(self):
        d = self.daemon()
        env = dict(os.environ, RFTD_SOCKET=d.socket)
        r = subprocess.run([RFTCTL, "ping"], capture_output=True, text=True,
                           env=env)
        self.assertEqual(r.returncode, 0, r.stderr)


class CtlErrors(DaemonTest):
    def test_not_running_is_a_clear_message_and_exit_3(self):
        path = os.path.join(self.tmp, "nothing.sock")
        r = subprocess.run([RFTCTL, "-s", path, "status"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 3)
        self.assertEqual(r.stderr.strip(),
                         "rftctl: rftd is not running at %s "
                         "(connect: No such file or directory)" % path)

    def test_unknown_command_is_a_usage_error(self):
        r = subprocess.run([RFTCTL, "frobnicate"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown or ambiguous command 'frobnicate'", r.stderr)

    def test_extra_argument_is_a_usage_error(self):
        r = subprocess.run([RFTCTL, "status", "extra"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unexpected argument 'extra'", r.stderr)

    def test_unique_prefix_selects_a_command(self):
        d = self.daemon()
        self.assertEqual(d.ctl("stat").returncode, 0)


class Protocol(DaemonTest):
    def test_garbage_and_oversized_frames_get_errors_while_others_are_served(self):
        d = self.daemon()
        bad = d.connect()
        bad.send(b"this is not json\n")
        self.assertEqual(bad.reply()["error"]["code"], -32700)
        # Half of an oversized frame: the daemon must keep serving others.
        bad.send(b"{" + b"x" * (3 << 20))
        self.assertEqual(d.ctl("status").returncode, 0)
        bad.send(b"y" * (2 << 20))
        e = bad.reply()
        self.assertEqual(e["error"]["code"], -32000)
        self.assertIsNone(e["id"])
        self.assertEqual(d.ctl("status").returncode, 0)
        bad.send(b"z" * 1000 + b"\n")   # the rest of the oversized frame
        # The same connection still works after the frame's newline.
        r = bad.call("daemon.ping", id=7)
        self.assertEqual(r["id"], 7)
        self.assertTrue(r["result"]["pong"])
        bad.close()

    def test_errors_carry_the_request_id(self):
        d = self.daemon()
        c = d.connect()
        r = c.call("no.such.method", id="abc")
        self.assertEqual(r["id"], "abc")
        self.assertEqual(r["error"]["code"], -32601)
        self.assertIn("no.such.method", r["error"]["message"])
        r = c.call("daemon.status", params={"verbose": True}, id=2)
        self.assertEqual(r["error"]["code"], -32602)
        self.assertIn("/params/verbose", r["error"]["message"])
        c.send(b'{"jsonrpc":"2.0","id":3,"method":"daemon.ping","params":[1]}\n')
        self.assertEqual(c.reply()["error"]["code"], -32602)
        c.send(b'{"jsonrpc":"1.0","id":4,"method":"daemon.ping"}\n')
        r = c.reply()
        self.assertEqual((r["id"], r["error"]["code"]), (4, -32600))
        c.send(b'[1,2,3]\n')
        self.assertEqual(c.reply()["error"]["code"], -32600)
        c.close()

    def test_notifications_get_no_reply(self):
        d = self.daemon()
        c = d.connect()
        c.send(b'{"jsonrpc":"2.0","method":"daemon.ping"}\n')
        c.send(b'{"jsonrpc":"2.0","method":"nope"}\n')
        r = c.call("daemon.ping", id=9)
        self.assertEqual(r["id"], 9)   # the first reply is for id 9
        c.close()

    def test_pipelined_requests_are_answered_in_order(self):
        d = self.daemon()
        c = d.connect()
        c.send(b"".join(
            json.dumps({"jsonrpc": "2.0", "id": i,
                        "method": "daemon.ping"}).encode() + b"\n"
            for i in range(200)))
        self.assertEqual([c.reply()["id"] for _ in range(200)],
                         list(range(200)))
        c.close()

    def test_half_closed_client_still_gets_its_reply(self):
        d = self.daemon()
        c = d.connect()
        c.send(b'{"jsonrpc":"2.0","id":1,"method":"daemon.status"}\n')
        c.sock.shutdown(socket.SHUT_WR)
        self.assertEqual(c.reply()["id"], 1)
        self.assertTrue(c.closed_by_peer())

    def test_idle_client_is_disconnected(self):
        d = self.daemon(daemon_section="idle_timeout = 1\n")
        c = d.connect()
        self.assertTrue(c.closed_by_peer())
        self.assertEqual(d.ctl("status").returncode, 0)

    def test_client_limit_answers_busy(self):
        d = self.daemon(daemon_section="max_clients = 2\n")
        held = []

        def hold_one():
            # A client that just left may still count for a moment.
            c = d.connect()
            try:
                if "result" in c.call("daemon.ping"):
                    held.append(c)
                    return True
            except (BrokenPipeError, ConnectionError):
                pass
            c.close()
            return False
        for _ in range(2):
            wait_until(hold_one, what="a client slot")
        extra = d.connect()
        self.assertEqual(extra.reply()["error"]["code"], -32006)
        self.assertTrue(extra.closed_by_peer())
        for c in held:
            c.close()
        wait_until(lambda: d.ctl("status").returncode == 0,
                   what="a free client slot")


class Signals(DaemonTest):
    def test_sigterm_exits_0_and_removes_the_socket(self):
        d = self.daemon()
        c = d.connect()      # an open client must not block shutdown
        self.assertEqual(d.stop(), 0)
        self.assertFalse(os.path.exists(d.socket))
        self.assertNotIn("handle still open", d.read_log())
        c.close()

    def test_sigint_exits_0(self):
        d = self.daemon()
        d.signal(signal.SIGINT)
        self.assertEqual(d.proc.wait(WAIT), 0)
        self.assertFalse(os.path.exists(d.socket))

    def test_sighup_applies_a_valid_config(self):
        d = self.daemon()
        self.assertEqual(d.ctl_json("status")["log_level"], "info")
        d.write_config("log_level = debug\n")
        d.signal(signal.SIGHUP)
        wait_until(lambda: d.ctl_json("status")["log_level"] == "debug",
                   what="the new log level")

    def test_sighup_keeps_the_old_config_when_the_new_one_is_bad(self):
        d = self.daemon()
        d.write_config("log_level = loud\nbogus = 1\n")
        d.signal(signal.SIGHUP)
        wait_until(lambda: "keeping the current configuration"
                   in d.read_log(), what="the reload error")
        self.assertIn("rftd.conf:4: log_level: 'loud'", d.read_log())
        self.assertIn("rftd.conf:5: unknown key 'bogus'", d.read_log())
        self.assertEqual(d.ctl_json("status")["log_level"], "info")


class Startup(DaemonTest):
    def other_config(self, socket, database):
        """A configuration for a second rftd beside the first."""
        path = os.path.join(self.tmp, "other.conf")
        with open(path, "w") as f:
            f.write("[daemon]\nsocket = %s\ndatabase = %s\n"
                    % (socket, database))
        return path

    def test_second_daemon_on_the_same_socket_refuses(self):
        d = self.daemon()
        other_db = os.path.join(self.tmp, "other", "rftd.db")
        conf = self.other_config(d.socket, other_db)
        r = subprocess.run([RFTD, "-f", "-c", conf],
                           capture_output=True, text=True,
                           timeout=CALL_TIMEOUT)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("another rftd is running at %s" % d.socket, r.stderr)
        self.assertEqual(d.ctl_json("status")["pid"], d.proc.pid)
        self.assertFalse(os.path.exists(other_db))

    def test_second_daemon_on_the_same_database_refuses_naming_the_first(self):
        d = self.daemon()
        other_socket = os.path.join(self.tmp, "other", "control.sock")
        conf = self.other_config(other_socket, d.database)
        r = subprocess.run([RFTD, "-f", "-c", conf],
                           capture_output=True, text=True,
                           timeout=CALL_TIMEOUT)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("the database %s is in use by another rftd (pid %d)"
                      % (d.database, d.proc.pid), r.stderr)
        self.assertNotIn(" ready: ", r.stderr)
        self.assertFalse(os.path.exists(other_socket))
        self.assertEqual(d.ctl_json("status")["pid"], d.proc.pid)

    def test_second_daemon_leaves_the_first_ones_socket_alone(self):
        d = self.daemon()
        before = os.stat(d.socket)
        r = subprocess.run([RFTD, "-f", "-c", d.config],
                           capture_output=True, text=True,
                           timeout=CALL_TIMEOUT)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("the database %s is in use by another rftd (pid %d)"
                      % (d.database, d.proc.pid), r.stderr)
        self.assertNotIn("socket", r.stderr)
        after = os.stat(d.socket)
        self.assertEqual((after.st_ino, after.st_ctime_ns),
                         (before.st_ino, before.st_ctime_ns))
        self.assertEqual(d.ctl_json("status")["pid"], d.proc.pid)

    def test_a_lock_file_left_by_a_killed_daemon_does_not_block_a_restart(self):
        d = self.daemon()
        lock = d.database + ".lock"
        d.kill()                # SIGKILL: the lock file stays behind
        self.assertTrue(os.path.exists(lock))
        d.start()
        self.assertEqual(d.ctl_json("status")["pid"], d.proc.pid)
        with open(lock) as f:
            self.assertEqual(f.read().strip(), str(d.proc.pid))

    def test_a_database_that_cannot_be_written_is_refused(self):
        d = self.daemon()
        self.assertEqual(d.stop(), 0)
        why = make_unwritable(d.database)
        if why is not None:
            self.skipTest("cannot make the database unwritable: " + why)
        try:
            r = subprocess.run([RFTD, "-f", "-c", d.config],
                               capture_output=True, text=True,
                           timeout=CALL_TIMEOUT)
        finally:
            make_writable(d.database)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("%s: cannot be written" % d.database, r.stderr)
        self.assertNotIn(" ready: ", r.stderr)
        self.assertFalse(os.path.exists(d.socket))

    def test_stale_socket_file_is_replaced(self):
        d = self.daemon(start=False)
        os.makedirs(os.path.dirname(d.socket))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(d.socket)
        s.close()             # leaves the file, nobody listening
        d.start()
        self.assertEqual(d.ctl("status").returncode, 0)
        self.assertIn("removed stale socket", d.read_log())

    def test_a_regular_file_at_the_socket_path_is_not_removed(self):
        d = self.daemon(start=False)
        os.makedirs(os.path.dirname(d.socket))
        with open(d.socket, "w") as f:
            f.write("precious")
        r = subprocess.run([RFTD, "-f", "-c", d.config],
                           capture_output=True, text=True,
                           timeout=CALL_TIMEOUT)
        self.assertEqual(r.returncode, 1)
        self.assertIn("exists and is not a socket", r.stderr)
        with open(d.socket) as f:
            self.assertEqual(f.read(), "precious")

    def test_socket_mode_is_0600(self):
        d = self.daemon()
        st = os.stat(d.socket)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)

    def test_socket_group_makes_mode_0660(self):
        group = grp.getgrgid(os.getgid()).gr_name
        d = self.daemon(daemon_section="socket_group = %s\n" % group)
        st = os.stat(d.socket)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual(st.st_gid, os.getgid())

    def test_newer_schema_is_refused_and_left_untouched(self):
        d = self.daemon()
        self.assertEqual(d.stop(), 0)
        db = sqlite3.connect(d.database)
        db.execute("PRAGMA user_version = 99")
        db.close()
        before = sha256(d.database)
        r = subprocess.run([RFTD, "-f", "-c", d.config],
                           capture_output=True, text=True,
                           timeout=CALL_TIMEOUT)
        self.assertEqual(r.returncode, 1)
        self.assertIn("schema version 99 is newer", r.stderr)
        self.assertEqual(sha256(d.database), before)
        self.assertFalse(os.path.exists(d.socket))

    def test_a_file_that_is_not_a_database_is_refused(self):
        d = self.daemon(start=False)
        os.makedirs(os.path.dirname(d.database))
        with open(d.database, "wb") as f:
            f.write(b"not a database\n" * 500)
        before = sha256(d.database)
        r = subprocess.run([RFTD, "-f", "-c", d.config],
                           capture_output=True, text=True,
                           timeout=CALL_TIMEOUT)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not an SQLite database", r.stderr)
        self.assertEqual(sha256(d.database), before)

    def test_state_survives_a_restart(self):
        d = self.daemon()
        db = sqlite3.connect(d.database)
        db.execute("INSERT INTO budgets VALUES ('day', 5, 'cancel', 0)")
        db.commit()
        db.close()
        self.assertEqual(d.stop(), 0)
        d.start()
        self.assertEqual(d.ctl_json("status")["tables"]["budgets"], 1)

    def test_background_mode_detaches_after_ready(self):
        d = self.daemon(start=False, args=())
        r = subprocess.run([RFTD, "-c", d.config], capture_output=True,
                           text=True, timeout=CALL_TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        pid = d.ctl_json("status")["pid"]
        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: not os.path.exists(d.socket),
                   what="the detached rftd to stop")

    def test_background_mode_reports_start_up_failure(self):
        d = self.daemon(start=False, args=())
        d.write_config("max_clients = 0\n")
        r = subprocess.run([RFTD, "-c", d.config], capture_output=True,
                           text=True, timeout=CALL_TIMEOUT)
        self.assertEqual(r.returncode, 1)
        self.assertIn("max_clients", r.stderr)


class ConfigCheck(DaemonTest):
    def test_check_mode_prints_the_normalized_config(self):
        d = self.daemon(start=False, daemon_section="log_level = WARNING\n")
        r = subprocess.run([RFTD, "-n", "-c", d.config], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("log_level = warning\n", r.stdout)
        self.assertIn("socket = %s\n" % d.socket, r.stdout)
        self.assertIn("idle_timeout = 300\n", r.stdout)
        self.assertFalse(os.path.exists(d.database))
        self.assertFalse(os.path.exists(d.database + ".lock"))
        # The normalized output is itself a valid configuration.
        again = os.path.join(self.tmp, "again.conf")
        with open(again, "w") as f:
            f.write(r.stdout)
        r2 = subprocess.run([RFTD, "-n", "-c", again], capture_output=True,
                            text=True)
        self.assertEqual(r2.returncode, 0, r2.stderr)
        self.assertEqual(r2.stdout.splitlines()[1:], r.stdout.splitlines()[1:])

    def test_check_mode_runs_beside_a_running_daemon(self):
        d = self.daemon()
        r = subprocess.run([RFTD, "-n", "-c", d.config], capture_output=True,
                           text=True, timeout=CALL_TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("database = %s\n" % d.database, r.stdout)

    def test_check_mode_names_every_bad_line(self):
        d = self.daemon(start=False, daemon_section="colour = blue\n"
                        "idle_timeout = soon\n")
        r = subprocess.run([RFTD, "-n", "-c", d.config], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("%s:4: unknown key 'colour' in [daemon]" % d.config,
                      r.stderr)
        self.assertIn("%s:5: idle_timeout: 'soon' is not an integer"
                      % d.config, r.stderr)

    def test_missing_config_file_is_an_error(self):
        path = os.path.join(self.tmp, "absent.conf")
        r = subprocess.run([RFTD, "-n", "-c", path], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("%s: No such file or directory" % path, r.stderr)

    def test_default_paths_follow_systemd_directories(self):
        env = dict(os.environ, RUNTIME_DIRECTORY=self.tmp + "/rt",
                   STATE_DIRECTORY=self.tmp + "/st",
                   HOME=self.tmp, XDG_CONFIG_HOME=self.tmp + "/cfg")
        r = subprocess.run([RFTD, "-n"], capture_output=True, text=True,
                           env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("socket = %s/rt/control.sock\n" % self.tmp, r.stdout)
        self.assertIn("database = %s/st/rftd.db\n" % self.tmp, r.stdout)

    def test_default_paths_follow_xdg_directories(self):
        env = {k: v for k, v in os.environ.items()
               if k not in ("RUNTIME_DIRECTORY", "STATE_DIRECTORY")}
        env.update(XDG_RUNTIME_DIR=self.tmp + "/xr", HOME=self.tmp,
                   XDG_CONFIG_HOME=self.tmp + "/cfg")
        env.pop("XDG_STATE_HOME", None)
        r = subprocess.run([RFTD, "-n"], capture_output=True, text=True,
                           env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("socket = %s/xr/rftd/control.sock\n" % self.tmp,
                      r.stdout)
        self.assertIn("database = %s/.local/state/rftd/rftd.db\n" % self.tmp,
                      r.stdout)


@unittest.skipUnless(os.geteuid() == 0, "needs root to act as other users")
class PeerCredentials(DaemonTest):
    def run_as(self, user, *args):
        pw = pwd.getpwnam(user)

        def drop():
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
        return subprocess.run([RFTCTL] + list(args), capture_output=True,
                              text=True, preexec_fn=drop,
                              timeout=CALL_TIMEOUT)

    def setUp(self):
        super().setUp()
        os.chmod(self.tmp, 0o755)
        os.makedirs(os.path.join(self.tmp, "run"), mode=0o755)

    def test_another_user_is_refused_even_if_the_file_mode_allows(self):
        d = self.daemon()
        os.chmod(d.socket, 0o666)    # as if someone loosened the mode
        r = self.run_as("daemon", "-s", d.socket, "status")
        self.assertEqual(r.returncode, 1)
        self.assertIn("permission denied", r.stderr)
        self.assertIn("refused peer uid %d" % pwd.getpwnam("daemon").pw_uid,
                      d.read_log())
        self.assertEqual(d.ctl("status").returncode, 0)

    def test_members_of_the_socket_group_are_allowed(self):
        group = grp.getgrgid(pwd.getpwnam("daemon").pw_gid).gr_name
        d = self.daemon(daemon_section="socket_group = %s\n" % group)
        r = self.run_as("daemon", "-s", d.socket, "status")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_the_overflow_user_is_never_trusted(self):
        d = self.daemon(daemon_section="socket_group = nogroup\n")
        os.chmod(d.socket, 0o666)
        r = self.run_as("nobody", "-s", d.socket, "status")
        self.assertEqual(r.returncode, 1)
        self.assertIn("permission denied", r.stderr)



@unittest.skipUnless(os.geteuid() == 0, "needs root to act as another user")
class SocketGroupDirectory(DaemonTest):
    """With socket_group, the group's members reach the socket through
    the directories rftd makes for it; a directory that was there is left
    alone, with a warning when it keeps them out."""

    USER = "daemon"  # a user with a group of its own, not the overflow

    def setUp(self):
        super().setUp()
        try:
            self.pw = pwd.getpwnam(self.USER)
        except KeyError:
            self.skipTest("no user %r to act as a member" % self.USER)
        if self.pw.pw_uid == 0 or self.pw.pw_gid == 0:
            self.skipTest("user %r is not an ordinary user" % self.USER)
        self.group = grp.getgrgid(self.pw.pw_gid).gr_name
        os.chmod(self.tmp, 0o711)  # members may pass, not list

    def run_as_member(self, *args):
        pw = self.pw

        def drop():
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
        return subprocess.run([RFTCTL] + list(args), capture_output=True,
                              text=True, preexec_fn=drop,
                              timeout=CALL_TIMEOUT)

    def daemon_at(self, socket_path):
        d = self.daemon(start=False)
        d.socket = socket_path
        d.write_config("socket_group = %s\n" % self.group)
        return d.start()

    def test_directories_rftd_makes_let_the_group_reach_the_socket(self):
        made = os.path.join(self.tmp, "made")
        d = self.daemon_at(os.path.join(made, "run", "control.sock"))
        for path in (made, os.path.join(made, "run")):
            st = os.stat(path)
            self.assertEqual(st.st_gid, self.pw.pw_gid, path)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o750, path)
        st = os.stat(d.socket)
        self.assertEqual((st.st_gid, stat.S_IMODE(st.st_mode)),
                         (self.pw.pw_gid, 0o660))
        r = self.run_as_member("-s", d.socket, "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("cannot reach", d.read_log())

    def test_a_directory_that_keeps_the_group_out_is_kept_and_warned_of(
            self):
        closed = os.path.join(self.tmp, "closed")
        os.mkdir(closed, 0o700)
        d = self.daemon_at(os.path.join(closed, "control.sock"))
        st = os.stat(closed)
        self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)),
                         (0, 0, 0o700))
        self.assertIn("members of group %s cannot reach %s: %s"
                      % (self.group, d.socket, closed), d.read_log())
        r = self.run_as_member("-s", d.socket, "status")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(d.ctl("status").returncode, 0)


def call_raw(d, frame):
    """One raw frame on a connection of its own: the reply's bytes, and
    the reply decoded strictly as UTF-8 JSON."""
    c = d.connect()
    try:
        return c.exchange(frame)
    finally:
        c.close()


class RepliesAreUtf8(DaemonTest):
    """Replies stay valid UTF-8 whatever text the request quotes."""

    def test_a_long_unknown_method_is_cut_between_characters(self):
        d = self.daemon()
        frame = json.dumps({"jsonrpc": "2.0", "id": 1,
                            "method": "a" + "\u00e9" * 150},
                           ensure_ascii=False).encode()
        _, reply = call_raw(d, frame)
        self.assertEqual(reply["error"]["code"], -32601)
        self.assertTrue(reply["error"]["message"].endswith("\u00e9...'"),
                        reply)

    def test_bytes_that_are_not_utf8_are_quoted_as_escapes(self):
        d = self.daemon()
        _, reply = call_raw(
            d, b'{"jsonrpc":"2.0","id":1,"method":"ping\xff\xc3"}')
        self.assertEqual(reply["error"]["code"], -32601)
        self.assertIn("ping\\xff\\xc3", reply["error"]["message"])

    def test_spec_problems_are_cut_between_characters(self):
        d = self.daemon()
        spec = {"a" + "\u00e9" * 60 + str(i): 1 for i in range(10)}
        frame = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sweep.plan",
                            "params": {"spec": spec}},
                           ensure_ascii=False).encode()
        _, reply = call_raw(d, frame)
        self.assertEqual(reply["error"]["code"], -32602)
        self.assertTrue(reply["error"]["message"].endswith("..."), reply)

    def test_a_long_budget_scope_is_cut_between_characters(self):
        d = self.daemon()
        for scope in ("\u00e9" * 150, "sweep:\u00e9" + "x" * 90):
            frame = json.dumps({"jsonrpc": "2.0", "id": 1,
                                "method": "budget.set",
                                "params": {"scope": scope, "limit_usd": 1}},
                               ensure_ascii=False).encode()
            _, reply = call_raw(d, frame)
            self.assertEqual(reply["error"]["code"], -32602)
            self.assertIn("is not a scope", reply["error"]["message"])
        _, reply = call_raw(
            d, b'{"jsonrpc":"2.0","id":1,"method":"budget.set",'
               b'"params":{"scope":"w\xe9ek","limit_usd":1}}')
        self.assertIn("'w\\xe9ek' is not a scope", reply["error"]["message"])

    def test_a_parameter_name_not_in_utf8_is_quoted_with_escapes(self):
        d = self.daemon()
        _, reply = call_raw(
            d, b'{"jsonrpc":"2.0","id":1,"method":"daemon.ping",'
               b'"params":{"n\xffo":1}}')
        self.assertEqual(reply["error"]["code"], -32602)
        self.assertIn("/params/n\\xffo: unknown parameter",
                      reply["error"]["message"])


class RequestIds(DaemonTest):
    def test_the_largest_exact_integer_id_is_echoed_digit_for_digit(self):
        d = self.daemon()
        line, reply = call_raw(
            d, b'{"jsonrpc":"2.0","id":9007199254740991,'
               b'"method":"daemon.ping"}')
        self.assertIn(b'"id":9007199254740991,', line)
        self.assertTrue(reply["result"]["pong"])

    def test_an_infinite_id_is_refused(self):
        d = self.daemon()
        _, reply = call_raw(
            d, b'{"jsonrpc":"2.0","id":1e999,"method":"daemon.ping"}')
        self.assertEqual(reply["error"]["code"], -32600)
        self.assertIsNone(reply["id"])
        self.assertIn("/id: must be a finite number",
                      reply["error"]["message"])

    def test_a_duplicate_method_key_is_refused_and_nothing_runs(self):
        d = self.daemon()
        _, reply = call_raw(
            d, b'{"jsonrpc":"2.0","id":4,"method":"daemon.ping",'
               b'"method":"daemon.reload"}')
        self.assertEqual(reply["id"], 4)
        self.assertEqual(reply["error"]["code"], -32600)
        self.assertIn("/method: the key appears more than once",
                      reply["error"]["message"])
        self.assertNotIn("reload", d.read_log())

    def test_an_escaped_nul_in_the_method_is_refused(self):
        d = self.daemon()
        _, reply = call_raw(
            d, b'{"jsonrpc":"2.0","id":5,'
               b'"method":"daemon.ping\\u0000junk"}')
        self.assertEqual(reply["error"]["code"], -32600)
        self.assertIn("\\u0000", reply["error"]["message"])


class FrameCap(DaemonTest):
    MAX = 4 << 20

    def padded(self, size):
        body = b'{"jsonrpc":"2.0","id":1,"method":"daemon.ping"}'
        return body + b" " * (size - len(body))

    def test_a_frame_of_exactly_4_mib_ended_by_crlf_is_served(self):
        d = self.daemon()
        c = d.connect()
        c.send(self.padded(self.MAX) + b"\r\n")
        self.assertTrue(c.reply()["result"]["pong"])
        c.send(self.padded(self.MAX + 1) + b"\r\n")
        self.assertEqual(c.reply()["error"]["code"], -32000)
        self.assertTrue(c.call("daemon.ping")["result"]["pong"])
        c.close()


class StoreFailures(DaemonTest):
    def test_sql_query_on_a_failing_database_is_a_store_error(self):
        d = self.daemon()
        wal = d.database + "-wal"
        wait_until(lambda: os.path.exists(wal), what="the WAL file")
        os.remove(wal)
        c = d.connect()
        reply = c.call("sql.query", {"query": "SELECT count(*) FROM jobs"})
        c.close()
        self.assertEqual(reply["error"]["code"], -32003, reply)


class FailedStartsLeakNothing(DaemonTest):
    """Every exit of rftd frees what it took: a sanitized build's leak
    checker stays silent on start-ups that fail."""

    def run_rftd(self, *args):
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "")
                               + ":detect_leaks=1").lstrip(":")
        return subprocess.run([RFTD] + list(args), capture_output=True,
                              text=True, timeout=CALL_TIMEOUT, env=env)

    def assert_failed_cleanly(self, r, why):
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(why, r.stderr)
        self.assertNotIn("LeakSanitizer", r.stderr)

    def test_configuration_errors_in_check_mode(self):
        d = self.daemon(start=False, daemon_section="colour = blue\n")
        self.assert_failed_cleanly(self.run_rftd("-n", "-c", d.config),
                                   "unknown key 'colour'")

    def test_configuration_errors_at_start(self):
        d = self.daemon(start=False, daemon_section="colour = blue\n")
        self.assert_failed_cleanly(self.run_rftd("-f", "-c", d.config),
                                   "unknown key 'colour'")

    def test_check_mode_of_a_valid_configuration(self):
        d = self.daemon(start=False)
        r = self.run_rftd("-n", "-c", d.config)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("LeakSanitizer", r.stderr)

    def test_a_socket_in_use_a_database_in_use_and_not_a_database(self):
        d = self.daemon()
        other = os.path.join(self.tmp, "other.conf")
        with open(other, "w") as f:
            f.write("[daemon]\nsocket = %s\ndatabase = %s\n"
                    % (d.socket, os.path.join(self.tmp, "o", "rftd.db")))
        self.assert_failed_cleanly(self.run_rftd("-f", "-c", other),
                                   "another rftd is running")
        with open(other, "w") as f:
            f.write("[daemon]\nsocket = %s\ndatabase = %s\n"
                    % (os.path.join(self.tmp, "o", "c.sock"), d.database))
        self.assert_failed_cleanly(self.run_rftd("-f", "-c", other),
                                   "is in use by another rftd")
        junk = os.path.join(self.tmp, "junk.db")
        with open(junk, "wb") as f:
            f.write(b"not a database\n" * 500)
        with open(other, "w") as f:
            f.write("[daemon]\nsocket = %s\ndatabase = %s\n"
                    % (os.path.join(self.tmp, "o", "c.sock"), junk))
        self.assert_failed_cleanly(self.run_rftd("-f", "-c", other),
                                   "not an SQLite database")


if __name__ == "__main__":
    unittest.main(verbosity=2)
