"""zsh and fish completion for rftctl (completion/_rftctl,
completion/rftctl.fish): the same commands, options, option values,
spec files and ids asked from rftd as the bash completion (whose own
test is in test_install.py).

zsh's completion runs only inside its line editor, so each question
starts an interactive `zsh -f` in a pseudo-terminal, loads compinit with
completion/ first in $fpath, types the line and a TAB, and reads what the
completion added: compadd is wrapped to print its matches (after zsh's
own matching against the word) between markers.  fish answers
`complete -C LINE` without a terminal."""
import os
import pty
import re
import select
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import CALL_TIMEOUT, DaemonTest, RFTCTL, SOURCE_DIR

COMPLETION_DIR = os.path.join(SOURCE_DIR, "completion")
VERBS = ["status", "ping", "stop", "budget", "reload", "plan", "submit",
         "sweeps", "sweep", "leaderboard", "jobs", "job", "cancel", "pause",
         "resume", "watch", "sql", "export", "curves", "plot", "notify"]
COMMON = ["--socket", "--timeout", "--json", "--help", "--version"]

ZSH_SETUP = r"""
PROMPT='' RPROMPT=''
fpath=(%(dir)s $fpath)
autoload -Uz compinit && compinit -u -D
zstyle ':completion:*' insert-tab false
_rftctl_test_end() { print -r -- '<<END>>' }
comppostfuncs=(_rftctl_test_end)
compadd() {
	# Calls that only ask (-O, -A, -D) are the completion system's own.
	if (( ${@[(I)-[OAD]*]} )); then
		builtin compadd "$@"
		return
	fi
	local -a __hits
	builtin compadd -A __hits "$@"
	(( $#__hits )) && print -rl -- "<<HIT>>"${^__hits}
	builtin compadd "$@"
}
print -r -- '<<READY>>'
"""


def missing(shell):
    """Skips the test without the shell, unless in CI, where it fails."""
    if shutil.which(shell):
        return None
    if os.environ.get("CI") == "true":
        raise AssertionError("%s is not installed (scripts/install-deps.sh "
                             "installs it)" % shell)
    return "%s is not installed" % shell


def zsh_complete(line, setup, cwd=None):
    """The matches zsh's completion offers at the end of `line`."""
    pid, fd = pty.fork()
    if pid == 0:
        if cwd:
            os.chdir(cwd)
        os.execvpe("zsh", ["zsh", "-f", "-i"],
                   dict(os.environ, TERM="dumb"))
    out = b""

    def read_until(marker):
        nonlocal out
        deadline = time.monotonic() + CALL_TIMEOUT
        while marker not in out:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(0, left))
            if not ready:
                raise AssertionError("zsh did not answer %r: %r"
                                     % (line, out))
            try:
                chunk = os.read(fd, 65536)
            except OSError:   # the terminal closed: zsh exited
                chunk = b""
            if not chunk:
                raise AssertionError("zsh exited: %r" % out)
            out += chunk

    try:
        os.write(fd, b"source %s\n" % setup.encode())
        read_until(b"<<READY>>\r\n")
        out = b""
        os.write(fd, line.encode() + b"\t")
        read_until(b"<<END>>")
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)
    text = out.decode(errors="replace").replace("\r", "")
    return re.findall(r"<<HIT>>(.*)", text)


def fish_complete(line, cwd=None):
    """The candidates fish offers at the end of `line`, and its stderr."""
    script = "source %s; complete -C %s" % (
        os.path.join(COMPLETION_DIR, "rftctl.fish"), fish_quote(line))
    r = subprocess.run(["fish", "--no-config", "-c", script],
                       capture_output=True, text=True, timeout=CALL_TIMEOUT,
                       cwd=cwd)
    return [w.split("\t")[0] for w in r.stdout.split("\n") if w], r.stderr


def fish_quote(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Cases:
    """What each shell must complete; self.complete(words, cwd) is the
    shell's, returning its candidates for the last word."""

    def check(self, words, expected, cwd=None):
        got = self.complete([RFTCTL] + words, cwd)
        self.assertEqual(sorted(got), sorted(expected), words)

    def test_commands(self):
        self.check([""], VERBS)
        self.check(["sw"], ["sweep", "sweeps"])

    def test_commands_are_those_of_rftctl_help(self):
        r = subprocess.run([RFTCTL, "--help"], capture_output=True,
                           text=True)
        listed = re.findall(r"(?m)^  ([a-z]+)", r.stdout)
        self.assertEqual(sorted(set(listed)), sorted(VERBS))
        self.check([""], sorted(set(listed)))

    def test_two_word_commands(self):
        self.check(["sweep", ""], ["show"])
        self.check(["job", ""], ["show"])
        self.check(["budget", ""], ["set"])
        self.check(["notify", ""], ["test"])

    def test_options_of_the_command(self):
        self.check(["--"], COMMON)
        self.check(["jobs", "--"], COMMON + ["--sweep", "--state", "--limit"])
        self.check(["sql", "x", "--"], COMMON + ["--format", "--max-rows"])
        self.check(["submit", "--r"], ["--reuse"])
        self.check(["watch", "1", "--"],
                   COMMON + ["--interval", "--heartbeat", "--reconnect"])
        self.check(["budget", "set", "day", "5", "--a"], ["--action"])
        self.check(["leaderboard", "1", "--"],
                   COMMON + ["--limit", "--by", "--state", "--metric"])

    def test_option_values(self):
        self.check(["jobs", "--state", "c"], ["cancelling", "cancelled"])
        self.check(["leaderboard", "1", "--state", "f"],
                   ["finished", "failed"])
        self.check(["sql", "q", "--format", ""],
                   ["table", "csv", "json", "ndjson", "jsonl"])
        self.check(["export", "1", "--format", ""], ["csv", "json", "jsonl"])
        self.check(["leaderboard", "1", "--by", ""], ["objective", "value"])
        self.check(["budget", "set", "day", "5", "--action", ""],
                   ["pause", "cancel"])

    def test_spec_files(self):
        examples = os.path.join(SOURCE_DIR, "examples")
        self.check(["plan", "sweep-"],
                   ["sweep-demo.json", "sweep-multi-grader.json",
                    "sweep-process.json"], cwd=examples)

    def test_ids_come_from_the_daemon_on_the_given_socket(self):
        d = self.daemon()
        demo = os.path.join(SOURCE_DIR, "examples", "sweep-demo.json")
        d.ctl("submit", demo, check=True)
        d.ctl("submit", "--reuse", demo, check=True)
        self.check(["-s", d.socket, "sweep", "show", ""], ["1", "2"])
        self.check(["--socket=" + d.socket, "leaderboard", ""], ["1", "2"])
        self.check(["-s", d.socket, "cancel", ""], ["sweep", "job", "1", "2"])
        self.check(["-s", d.socket, "jobs", "--sweep", ""], ["1", "2"])
        self.check(["-s", d.socket, "budget", "set", ""],
                   ["global", "day", "month", "sweep:1", "sweep:2"])
        got = self.complete([RFTCTL, "-s", d.socket, "job", "show", ""])
        # Job ids only grow: the ones offered are among those listed now.
        jobs = d.ctl_json("jobs", "--limit", "100000")["jobs"]
        self.assertTrue(got, "no job ids offered")
        self.assertLessEqual(set(got), {str(j["id"]) for j in jobs})

    def test_no_daemon_means_no_ids(self):
        missing_socket = os.path.join(self.tmp, "absent.sock")
        self.check(["-s", missing_socket, "sweep", "show", ""], [])
        self.check(["-s", missing_socket, "cancel", ""], ["sweep", "job"])


class Zsh(Cases, DaemonTest):
    def setUp(self):
        why = missing("zsh")
        if why:
            self.skipTest(why)
        super().setUp()
        self.setup = os.path.join(self.tmp, "setup.zsh")
        with open(self.setup, "w") as f:
            f.write(ZSH_SETUP % {"dir": COMPLETION_DIR})

    def complete(self, words, cwd=None):
        line = " ".join(words)
        return zsh_complete(line, self.setup, cwd)


class Fish(Cases, DaemonTest):
    def setUp(self):
        why = missing("fish")
        if why:
            self.skipTest(why)
        super().setUp()

    def complete(self, words, cwd=None):
        got, err = fish_complete(" ".join(words), cwd)
        self.assertEqual(err, "")
        return got


if __name__ == "__main__":
    unittest.main(verbosity=2)
