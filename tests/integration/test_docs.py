"""The docs match the programs.

Every command the README shows (a `$ ` line of any code block, or a line
of an ```sh block) and every command of the EXAMPLES of the manual pages
is run against a running rftd, with the real rftctl, and must succeed;
one shown with an error after it must fail, with that error.  Commands
that cannot run here (the build, benchmarks, the system service) are in
SKIPPED, each with the reason; a command in neither fails the test, so
that a new example cannot go untested.  Examples that are configurations
or specs are checked with `rftd -n` and `rftctl plan`.

Also: docs/schema.md lists each view's columns in the view's order and
each table's columns, all of them; scripts/test.sh goes on after a
failure, as the README says."""
import grp
import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import unittest

from harness import (CALL_TIMEOUT, LONG_WAIT, RFTCTL, RFTD, SOURCE_DIR, WAIT,
                     Daemon, DaemonTest, wait_until)

# Commands not run here, and why.
SKIPPED = {
    "scripts/demo.sh": "the demo: test_demo runs it",
    "scripts/test.sh": "the whole suite, this test among it "
                       "(its going on after a failure is tested below)",
    "scripts/install-deps.sh": "installs packages",
    "scripts/stress-test.sh -b release 3": "runs the integration tests "
                                           "three times",
    "cmake -S . -B build -DRFTD_WERROR=ON": "the build this test runs in",
    "cmake --build build -j": "the build this test runs in",
    "ctest --test-dir build --output-on-failure": "runs this test",
    "cmake --install build": "test_install installs the build",
    "cmake --install build --prefix /usr": "test_install installs the "
                                           "build",
    "rftd -c /etc/rftd/rftd.conf": "the system's configuration; rftd(8)'s "
                                   "`rftd -c rftd.conf` starts rftd the "
                                   "same way",
    "sqlite3 -readonly rftd.db": "the demo's own query, not shown",
    "kill -TERM rftd": "an illustration of the demo's end (`rftctl stop` "
                       "is run)",
    "rftctl sql ...": "the query is not shown",
    "rftctl submit quiz.json": "a preflight of the fake OpenAI API: "
                               "test_openai checks this error",
    "python3 tests/fakes/openai_fake.py --api-key sk-test --port-file "
    "/tmp/fake.port &": "the fake API: fakes.openai_fake tests it",
    "echo sk-test > /tmp/fake.key": "the fake API's key",
    "systemctl reload rftd": "the system service: test_systemd",
}
SKIPPED_PREFIXES = {
    "bench/": "a benchmark: minutes, and figures rather than checks",
    "build/bench/": "a benchmark",
}

# Where a new daemon starts in the README: the demo's transcript, and the
# walk-through that the later sections go on from.
README_SESSIONS = ("## Quick start", "## Sweeps")

BAD_SPEC = {  # the README's bad.json: six problems
    "name": "bad", "backend": "azure", "model": "o4-mini-2025-04-16",
    "training_file": "data/train.jsonl",
    "validation_file": "data/missing.jsonl",
    "seeds": [1, 1],
    "hyperparameters": {"n_epochs": [1, 2, 0], "learning_rate": [1]},
    "graders": {"exact": {"type": "string_check", "name": "exact",
                          "input": "{{sample.output_text}}",
                          "reference": "{{item.answer}}",
                          "operation": "same"}},
}


def read(path):
    with open(path) as f:
        return f.read()


def squeeze(command):
    """The command without a trailing comment, its spaces squeezed: how
    SKIPPED and the hooks name it."""
    return " ".join(re.sub(r"\s+#(\s.*)?$", "", command).split())


def readme_commands(path):
    """(section, command, shown output lines, block id) in order."""
    out, block, lang, section = [], None, None, ""
    lines = read(path).split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line
        m = re.match(r"^\s*```(\w*)\s*$", line)
        if m and block is None:
            block, lang = i, m.group(1)
        elif m:
            block = None
        elif block is not None:
            s = line.strip()
            if s.startswith("$ "):
                shown = []
                j = i + 1
                while j < len(lines) and not lines[j].strip().startswith(
                        ("$ ", "```")):
                    shown.append(lines[j].strip())
                    j += 1
                out.append((section, s[2:], shown, block))
            elif lang == "sh" and s and not s.startswith("#"):
                out.append((section, s, [], block))
        i += 1
    return out


def unroff(line):
    return (line.replace("\\e", "\\").replace("\\-", "-")
            .replace("\\&", "").replace("\\(aq", "'"))


def man_examples(path):
    """The EXAMPLES' literal blocks of a manual page, each a list of
    lines."""
    blocks, block, inside = [], None, False
    for line in read(path).split("\n"):
        if line.startswith(".Sh "):
            inside = line == ".Sh EXAMPLES"
        elif inside and line.startswith(".Bd -literal"):
            block = []
        elif inside and line == ".Ed":
            blocks.append(block)
            block = None
        elif block is not None:
            block.append(unroff(line))
    return blocks


def man_commands(blocks):
    """(command, shown, block id) of blocks of commands: those whose
    first line is a prompt or starts with a program's name."""
    out = []
    for n, lines in enumerate(blocks):
        first = lines[0] if lines else ""
        if first.startswith("$ "):
            for i, line in enumerate(lines):
                if line.startswith("$ "):
                    shown = []
                    for after in lines[i + 1:]:
                        if after.startswith("$ "):
                            break
                        shown.append(after)
                    out.append((line[2:], shown, n))
        elif re.match(r"^(\w+=\$\()?(rftctl|rftd|systemctl)\b", first):
            for line in lines:
                if line.strip():
                    out.append((line, [], n))
    return out


def skipped(command):
    c = squeeze(command)
    if c in SKIPPED:
        return SKIPPED[c]
    for prefix, why in SKIPPED_PREFIXES.items():
        if c.startswith(prefix):
            return why
    return None


def normalize(line):
    """An error line with what changes from run to run left out: paths,
    numbers, trial and job states."""
    line = re.sub(r"\S*/\S*", "PATH", line)
    line = re.sub(r"\d+(\.\d+)?", "N", line)
    return re.sub(r"\b(succeeded|failed|cancelled|stopped|running|paused|"
                  r"pending)\b", "STATE", line)


class DocCommands(DaemonTest):
    """Runs the commands of one document, in order, in a directory with
    the files they name (examples/, data/, sweep.json, wider.json,
    bad.json, rftd.conf)."""

    def setUp(self):
        super().setUp()
        self.cwd = os.path.join(self.tmp, "cwd")
        os.mkdir(self.cwd)
        os.symlink(os.path.join(SOURCE_DIR, "examples"),
                   os.path.join(self.cwd, "examples"))
        os.symlink(os.path.join(SOURCE_DIR, "examples", "data"),
                   os.path.join(self.cwd, "data"))
        self.demo = json.loads(read(os.path.join(SOURCE_DIR, "examples",
                                                 "sweep-demo.json")))
        wider = json.loads(json.dumps(self.demo))
        wider["name"] = "quiz-lr-wider"
        wider["hyperparameters"]["learning_rate_multiplier"].append(4.0)
        self.write("wider.json", wider)
        self.write("bad.json", BAD_SPEC)
        # sweep 3 of the walk-through: jobs on the slow simulator, long
        # enough to be paused by hand.
        slow = json.loads(json.dumps(self.demo))
        slow.update(name="quiz-slow", backend="sim-slow", seeds=[1, 2])
        slow["graders"] = {"exact": slow["graders"]["exact"]}
        slow["hyperparameters"].update(learning_rate_multiplier=[1.0],
                                       n_epochs=[4])
        slow.pop("early_stopping")
        self.write("quiz-slow.json", slow)
        # The configuration the examples name rftd.conf: a daemon of its
        # own beside the test's.
        self.local_socket = os.path.join(self.tmp, "local.sock")
        with open(os.path.join(self.cwd, "rftd.conf"), "w") as f:
            f.write("[daemon]\nsocket = %s\ndatabase = %s\n"
                    % (self.local_socket, os.path.join(self.tmp, "local.db")))
        with open(os.path.join(self.cwd, "bad-rftd.conf"), "w") as f:
            f.write("[daemon]\nsocket = %s\ndatabase = %s\nlog_level = loud\n"
                    % (self.local_socket, os.path.join(self.tmp, "local.db")))
        self.fresh = 0
        self.failures = []
        self.d = None

    def write(self, name, obj):
        with open(os.path.join(self.cwd, name), "w") as f:
            json.dump(obj, f, indent=1)

    def fresh_sweep_json(self):
        """sweep.json: the demo spec, with trials no sweep ran yet."""
        self.fresh += 1
        spec = json.loads(json.dumps(self.demo))
        spec["name"] = "example-%d" % self.fresh
        spec["seeds"] = [100 + self.fresh]
        self.write("sweep.json", spec)

    # The daemon the commands talk to.

    def new_session(self):
        if self.d is not None:
            self.d.kill()
        sub = tempfile.mkdtemp(dir=self.tmp)
        self.d = Daemon(sub, extra_config=(
            '[backend "sim"]\ntype = sim\nspeed = 3600\nfailure_rate = 0\n'
            '[backend "sim-slow"]\ntype = sim\nspeed = 60\n'
            "max_concurrent = 2\n"))
        self.daemons.append(self.d)
        self.d.start()
        self.socket = self.d.socket
        self.job_map = {}

    def env(self, socket):
        env = dict(os.environ)
        env["PATH"] = "%s:%s:%s" % (os.path.dirname(os.path.abspath(RFTCTL)),
                                    os.path.dirname(os.path.abspath(RFTD)),
                                    env.get("PATH", ""))
        env["RFTD_SOCKET"] = socket
        return env

    def substitute(self, command):
        command = command.replace("/run/rftd/control.sock", self.socket)
        command = command.replace("/tmp/rftd.conf",
                                  os.path.join(self.cwd, "bad-rftd.conf"))

        def job(m):
            n = int(m.group(2))
            if n not in self.job_map:
                self.job_map[n] = self.any_job_with_points()
            return "job %s%d" % (m.group(1) or "", self.job_map[n])

        return re.sub(r"\bjob (show )?(\d+)\b", job, command)

    def any_job_with_points(self):
        rows = self.rows(self.d, "SELECT DISTINCT job_id FROM metrics WHERE"
                         " name = 'valid_reward_mean' ORDER BY job_id"
                         " LIMIT 1")
        self.assertTrue(rows, "no job has points yet")
        return rows[0][0]

    # What some commands need first.

    def before(self, command):
        c = squeeze(command)
        if c == "rftctl pause 3":
            # Sweep 2 is the walk-through's reuse of sweep 1, sweep 3 the
            # slow one it pauses, resumes and cancels.
            self.ctl("submit", "--reuse", "wider.json")
            self.ctl("submit", "quiz-slow.json")
        elif c == "rftctl pause job 37":
            jobs = wait_until(
                lambda: [j for j in json.loads(self.ctl(
                    "--json", "jobs", "--sweep", "3").stdout)["jobs"]
                    if j["state"] == "running"], timeout=LONG_WAIT,
                what="a running job of sweep 3")
            self.job_map[37] = jobs[0]["id"]
        elif c == "rftctl reload":
            self.saved_config = read(self.d.config)
            with open(self.d.config, "a") as f:
                f.write("this is not a line of an INI file\n")
        elif "sweep.json" in command:
            self.fresh_sweep_json()

    def after(self, command):
        c = squeeze(command)
        if c == "rftctl reload":
            with open(self.d.config, "w") as f:
                f.write(self.saved_config)
        if re.search(r"\brftctl( --json)? stop\b", command) and \
                self.d.proc.poll() is not None:
            self.d.logfile.close()
            self.d.start()

    def ctl(self, *args):
        r = subprocess.run([RFTCTL, "-s", self.socket] + list(args),
                           capture_output=True, text=True, cwd=self.cwd,
                           timeout=CALL_TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r

    # Running.

    def run_foreground(self, command, socket, env):
        """A daemon in the foreground: it must answer, then stop cleanly
        on SIGTERM."""
        p = subprocess.Popen(["bash", "-c", "exec " + command],
                             cwd=self.cwd, env=env,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        try:
            wait_until(lambda: p.poll() is not None or subprocess.run(
                [RFTCTL, "-s", socket, "ping"], capture_output=True,
                timeout=CALL_TIMEOUT).returncode == 0,
                what="`%s` to answer" % command)
        finally:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            _, err = p.communicate(timeout=WAIT)
        return subprocess.CompletedProcess(command, p.returncode, "", err)

    def sandbox(self):
        """rftd's default paths, inside the test's directory."""
        env = self.env(self.socket)
        home = os.path.join(self.tmp, "home")
        for var, sub in (("HOME", ""), ("XDG_RUNTIME_DIR", "run"),
                         ("XDG_STATE_HOME", "state"),
                         ("XDG_CONFIG_HOME", "config")):
            env[var] = os.path.join(home, sub)
            os.makedirs(env[var], mode=0o700, exist_ok=True)
        env.pop("RUNTIME_DIRECTORY", None)
        env.pop("STATE_DIRECTORY", None)
        return env

    def run_one(self, command, socket):
        env = self.env(socket)
        c = squeeze(command)
        if c == "rftd -f":
            env = self.sandbox()
            return self.run_foreground(c, os.path.join(
                env["XDG_RUNTIME_DIR"], "rftd", "control.sock"), env)
        if re.fullmatch(r"rftd (-\w+ )*-f( -\w+)* -c rftd.conf", c):
            return self.run_foreground(c, self.local_socket, env)
        # The first command of a pipeline is the one documented; what it
        # feeds (head, sed) only shortens the output shown, and may end it
        # with SIGPIPE by reading no further (status 141): that is its
        # success.
        script = ("%s\nst=(\"${PIPESTATUS[@]}\")\nrc=${st[0]}\n"
                  "[ $rc -eq 141 ] && [ ${#st[@]} -gt 1 ] && rc=0\n"
                  "exit $rc\n" % command)
        return subprocess.run(["bash", "-c", script], cwd=self.cwd, env=env,
                              capture_output=True, text=True,
                              timeout=LONG_WAIT)

    def check(self, where, command, shown, socket):
        if skipped(command):
            return
        expected_error = next((line for line in shown if line.startswith(
            ("rftctl: ", "rftd: "))), None)
        self.before(command)
        run = self.substitute(command)
        r = self.run_one(run, socket)
        self.after(command)
        if expected_error is None:
            if r.returncode != 0:
                self.failures.append("%s: `%s` exited %d:\n%s"
                                     % (where, run, r.returncode, r.stderr))
            return
        first = shown[0]
        got = (r.stderr.splitlines() or [""])[0]
        if r.returncode == 0 or normalize(got) != normalize(first):
            self.failures.append(
                "%s: `%s` should fail as shown:\n  shown: %s\n  got (%d): %s"
                % (where, run, first, r.returncode, got))

    def run_script(self, where, commands, socket):
        """A block whose lines share shell variables: one script."""
        for c in commands:
            self.before(c)
        script = "set -e -o pipefail\n" + "\n".join(
            self.substitute(c) for c in commands) + "\n"
        r = subprocess.run(["bash", "-xc", script], cwd=self.cwd,
                           env=self.env(socket), capture_output=True,
                           text=True, timeout=LONG_WAIT)
        if r.returncode != 0:
            self.failures.append("%s: the block\n%s\nexited %d:\n%s"
                                 % (where, script, r.returncode, r.stderr))
        for c in commands:
            self.after(c)

    def assert_no_failures(self):
        self.assertEqual(self.failures, [], "\n\n".join(self.failures))

    def man_page(self, name, socket_of_session):
        path = os.path.join(SOURCE_DIR, "man", name)
        self.new_session()
        blocks = man_examples(path)
        commands = man_commands(blocks)
        socket = socket_of_session(self)
        by_block = {}
        for command, shown, n in commands:
            by_block.setdefault(n, []).append((command, shown))
        for n, items in sorted(by_block.items()):
            where = "%s, EXAMPLES block %d" % (name, n + 1)
            if any(re.match(r"^\w+=", c) for c, _ in items):
                self.run_script(where, [c for c, _ in items], socket)
            else:
                for command, shown in items:
                    self.check(where, command, shown, socket)
        self.assert_no_failures()
        return blocks


class Readme(DocCommands):
    def test_every_command_of_the_readme_succeeds_as_shown(self):
        commands = readme_commands(os.path.join(SOURCE_DIR, "README.md"))
        self.assertGreater(len(commands), 40)
        session = None
        for section, command, shown, _ in commands:
            if self.d is None or (section in README_SESSIONS and
                                  section != session):
                self.new_session()
                session = section
            self.check("README.md %s" % section, command, shown, self.socket)
        self.assert_no_failures()

    def test_every_command_is_run_or_skipped_for_a_reason(self):
        known = re.compile(r"^(\w+=\$\()?(rftctl|rftd)\b")
        commands = [c for _, c, _, _ in readme_commands(
            os.path.join(SOURCE_DIR, "README.md"))]
        for name in ("rftctl.1", "rftd.8", "rftd.conf.5", "rftd-sweep.5"):
            commands += [c for c, _, _ in man_commands(man_examples(
                os.path.join(SOURCE_DIR, "man", name)))]
        strange = [c for c in commands if not skipped(c) and
                   not known.match(c)]
        self.assertEqual(strange, [], "commands neither run (rftctl, rftd) "
                         "nor in SKIPPED with a reason")
        # Nothing is skipped that the docs no longer show.
        shown = {squeeze(c) for c in commands}
        self.assertEqual(sorted(set(SKIPPED) - shown), [])


class ManPages(DocCommands):
    def test_rftctl_1(self):
        self.man_page("rftctl.1", lambda t: t.socket)

    def test_rftd_8(self):
        # Its examples start and stop an rftd of their own (rftd.conf).
        self.man_page("rftd.8", lambda t: t.local_socket)

    def test_rftd_conf_5(self):
        blocks = self.man_page("rftd.conf.5", lambda t: t.local_socket)
        configs = [b for b in blocks if b and b[0].startswith("[")]
        self.assertGreaterEqual(len(configs), 2)
        # A group that exists here stands for the example's `rftd`.
        group = grp.getgrgid(os.getgid()).gr_name
        for n, lines in enumerate(configs):
            path = os.path.join(self.tmp, "example-%d.conf" % n)
            with open(path, "w") as f:
                f.write("\n".join(lines).replace(
                    "socket_group = rftd", "socket_group = " + group) + "\n")
            r = subprocess.run([RFTD, "-n", "-c", path], capture_output=True,
                               text=True, timeout=CALL_TIMEOUT)
            self.assertEqual(r.returncode, 0, "\n".join(lines) + r.stdout +
                             r.stderr)

    def test_rftd_sweep_5(self):
        blocks = self.man_page("rftd-sweep.5", lambda t: t.socket)
        specs = [b for b in blocks if b and b[0] == "{"]
        self.assertTrue(specs)
        for n, lines in enumerate(specs):
            path = os.path.join(self.cwd, "example-%d.json" % n)
            with open(path, "w") as f:
                f.write("\n".join(lines) + "\n")
            self.ctl("plan", path)


class Schema(DaemonTest):
    """docs/schema.md against the store of a fresh rftd."""

    def documented(self):
        """{name: [columns]} of each `### `NAME`` section's table whose
        head is `| column |`."""
        out, name, rows = {}, None, False
        for line in read(os.path.join(SOURCE_DIR, "docs",
                                      "schema.md")).split("\n"):
            m = re.match(r"^#+ `(\w+)`", line)
            if m or line.startswith("#"):
                name, rows = (m.group(1) if m else None), False
            elif name and line.startswith("| column |"):
                rows = True
            elif rows and not line.startswith("|"):
                rows = False
            elif rows and not line.startswith("| ---"):
                out.setdefault(name, []).extend(
                    re.findall(r"`(\w+)`", line.split("|")[1]))
        return out

    def test_views_and_tables_are_listed_with_their_columns(self):
        d = self.daemon()
        db = sqlite3.connect("file:%s?mode=ro" % d.database, uri=True)
        try:
            kinds = dict(db.execute("SELECT name, type FROM sqlite_master"
                                    " WHERE type IN ('table', 'view')"))
            documented = self.documented()
            self.assertIn("leaderboard", documented)
            for name, columns in documented.items():
                self.assertIn(name, kinds, "docs/schema.md: no %s" % name)
                real = [r[1] for r in db.execute(
                    "PRAGMA table_info(%s)" % name)]
                if kinds[name] == "view":
                    self.assertEqual(columns, real,
                                     "docs/schema.md: the view %s" % name)
                else:
                    self.assertEqual(sorted(columns), sorted(real),
                                     "docs/schema.md: the table %s" % name)
        finally:
            db.close()


class Reload(unittest.TestCase):
    """Each page that says what a reload applies names all of it: what
    daemon_reload() (daemon/daemon.c) takes from the new file."""

    APPLIED = ["log_level", "idle_timeout", "max_clients", "tick",
               "max_trials_per_sweep", "max_concurrent", "speed",
               "failure_rate", "pause_after_hours", "price", "budget"]

    def paragraph(self, path, start, end):
        text = read(os.path.join(SOURCE_DIR, path))
        i = text.index(start)
        return text[i:text.index(end, i)]

    def test_every_page_names_what_a_reload_applies(self):
        for path, start, end in (
                ("man/rftd.8", "A reload applies", ".Ss "),
                ("man/rftd.conf.5", ".Ss Reloading", ".Sh "),
                ("README.md", "What a reload changes:", "Logs go to"),
                ("common/PROTOCOL.md", "### `daemon.reload`", "Result:")):
            text = self.paragraph(path, start, end)
            missing = [k for k in self.APPLIED
                       if not re.search(r"\b%s\b" % k, text)]
            self.assertEqual(missing, [], "%s: what a reload applies"
                             % path)


class TestScript(unittest.TestCase):
    """scripts/test.sh builds and tests every build whatever fails, and
    says which failed: cmake and ctest are stand-ins here, the release
    build's tests failing."""

    FAKE_CMAKE = r"""#!/bin/sh
# cmake -S SRC -B DIR ...: configure; cmake --build DIR ...: build.
echo "cmake $*" >>"$LOG"
if [ "$1" = --build ]; then
	[ -n "$FAIL_BUILD" ] && case $2 in *"$FAIL_BUILD") exit 1 ;; esac
	exit 0
fi
while [ $# -gt 0 ]; do [ "$1" = -B ] && mkdir -p "$2"; shift; done
"""
    FAKE_CTEST = r"""#!/bin/sh
# ctest --test-dir DIR ...: the release build's test t2 fails.
dir=$2
echo "ctest $*" >>"$LOG"
case " $* " in *" -N "*) echo "Total Tests: 3"; exit 0 ;; esac
case $dir in
*release)
	mkdir -p "$dir/Testing/Temporary"
	echo "2:unit.t2" >"$dir/Testing/Temporary/LastTestsFailed.log"
	exit 8 ;;
esac
"""

    def run_script(self, fail_build=""):
        tmp = tempfile.mkdtemp(prefix="rftd-test-")
        self.addCleanup(shutil.rmtree, tmp, True)
        bin_dir = os.path.join(tmp, "bin")
        os.mkdir(bin_dir)
        for name, text in (("cmake", self.FAKE_CMAKE),
                           ("ctest", self.FAKE_CTEST)):
            path = os.path.join(bin_dir, name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o755)
        log = os.path.join(tmp, "calls.log")
        env = dict(os.environ, PATH=bin_dir + ":" + os.environ["PATH"],
                   BUILD_ROOT=os.path.join(tmp, "build"), INSTALL_DEPS="0",
                   LOG=log, FAIL_BUILD=fail_build)
        r = subprocess.run([os.path.join(SOURCE_DIR, "scripts", "test.sh")],
                           env=env, capture_output=True, text=True,
                           timeout=CALL_TIMEOUT)
        return r, read(log)

    def test_a_failed_test_does_not_stop_the_next_builds(self):
        r, calls = self.run_script()
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        summary = r.stdout[r.stdout.index("=== summary"):]
        self.assertIn("release:  FAILED: 1 of 3 tests failed: unit.t2",
                      summary)
        self.assertIn("sanitize: passed: all 3 tests", summary)
        self.assertIn("fuzz:     passed: all 3 tests", summary)
        for build in ("release", "sanitize", "fuzz"):
            self.assertRegex(calls, r"cmake --build \S*/%s " % build)
            self.assertRegex(calls, r"ctest --test-dir \S*/%s " % build)

    def test_a_failed_build_does_not_stop_the_next_builds(self):
        r, calls = self.run_script(fail_build="release")
        self.assertEqual(r.returncode, 1)
        self.assertIn("release:  FAILED: the build failed", r.stdout)
        self.assertIn("sanitize: passed: all 3 tests", r.stdout)
        self.assertNotRegex(calls, r"ctest --test-dir \S*/release ")
        self.assertRegex(calls, r"ctest --test-dir \S*/sanitize ")


if __name__ == "__main__":
    unittest.main(verbosity=2)
