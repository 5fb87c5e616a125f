"""`cmake --install`: every file lands where it belongs under the prefix
(and under $DESTDIR), the units name the installed binaries, an edited
configuration survives a reinstall, and the installed bash completion
completes commands, options, spec files and ids asked from rftd."""
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import CALL_TIMEOUT, DaemonTest, RFTCTL, SOURCE_DIR
from test_completion import Cases

BUILD_DIR = os.environ.get("RFTD_BUILD_DIR")
CMAKE = os.environ.get("CMAKE_COMMAND", "cmake")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"

# Relative to the prefix: what `cmake --install` puts there, and nothing
# else.
EXPECTED = {
    "bin/rftctl",
    "sbin/rftd",
    "etc/rftd/rftd.conf",
    "lib/systemd/system/rftd.service",
    "lib/systemd/system/rftd.socket",
    "lib/sysusers.d/rftd.conf",
    "lib/tmpfiles.d/rftd.conf",
    "share/bash-completion/completions/rftctl",
    "share/zsh/site-functions/_rftctl",
    "share/fish/vendor_completions.d/rftctl.fish",
    "share/doc/rftd/examples/rftd.conf",
    "share/doc/rftd/examples/sweep-demo.json",
    "share/doc/rftd/examples/sweep-multi-grader.json",
    "share/doc/rftd/examples/data/train.jsonl",
    "share/doc/rftd/examples/data/valid.jsonl",
    "share/doc/rftd/examples/data/arith-train.jsonl",
    "share/doc/rftd/examples/data/arith-valid.jsonl",
    "share/doc/rftd/examples/process.conf",
    "share/doc/rftd/examples/sweep-process.json",
    "share/doc/rftd/examples/trainers/README.md",
    "share/doc/rftd/examples/trainers/tiny_grpo.py",
    "share/man/man1/rftctl.1",
    "share/man/man5/rftd-sweep.5",
    "share/man/man5/rftd.conf.5",
    "share/man/man8/rftd.8",
}


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=300,
                          **kw)


def install(prefix, destdir=None):
    env = dict(os.environ)
    env.pop("DESTDIR", None)
    if destdir:
        env["DESTDIR"] = destdir
    r = run([CMAKE, "--install", BUILD_DIR, "--prefix", prefix], env=env)
    if r.returncode != 0:
        raise AssertionError("cmake --install failed:\n" + r.stdout +
                             r.stderr)
    return r


def files_under(top):
    found = set()
    for root, _, files in os.walk(top):
        for name in files:
            found.add(os.path.relpath(os.path.join(root, name), top))
    return found


def read(path):
    with open(path) as f:
        return f.read()


class InstallTest(unittest.TestCase):
    def setUp(self):
        if not BUILD_DIR:
            self.skipTest("RFTD_BUILD_DIR is not set (run through ctest)")
        self.tmp = tempfile.mkdtemp(prefix="rftd-install-")
        self.addCleanup(shutil.rmtree, self.tmp, True)


class Install(InstallTest):
    def setUp(self):
        super().setUp()
        self.prefix = os.path.join(self.tmp, "prefix")
        self.output = install(self.prefix).stdout

    def test_every_file_lands_under_the_prefix_and_nothing_else(self):
        self.assertEqual(files_under(self.prefix), EXPECTED)

    def test_binaries_are_executable(self):
        for name in ("sbin/rftd", "bin/rftctl"):
            path = os.path.join(self.prefix, name)
            self.assertTrue(os.access(path, os.X_OK), path)
            r = run([path, "-V"])
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_example_trainer_is_executable(self):
        path = os.path.join(self.prefix, "share/doc/rftd/examples/trainers/"
                            "tiny_grpo.py")
        self.assertTrue(os.access(path, os.X_OK), path)

    def test_units_name_the_installed_binaries_and_configuration(self):
        text = read(os.path.join(self.prefix, "lib/systemd/system/"
                                 "rftd.service"))
        self.assertIn("\nExecStart=%s/sbin/rftd -f -c %s/etc/rftd/rftd.conf\n"
                      % (self.prefix, self.prefix), text)
        self.assertIn("\nExecReload=%s/bin/rftctl -s /run/rftd/control.sock "
                      "reload\n" % self.prefix, text)

    def test_no_placeholder_is_left(self):
        for name in EXPECTED:
            if name.startswith(("lib/", "etc/")):
                text = read(os.path.join(self.prefix, name))
                self.assertNotRegex(text, r"@[A-Z_]+@", name)

    def test_tmpfiles_names_the_installed_configuration_directory(self):
        text = read(os.path.join(self.prefix, "lib/tmpfiles.d/rftd.conf"))
        self.assertIn("\nd %s/etc/rftd 0750 root rftd -\n" % self.prefix,
                      text)
        self.assertIn("\nd /run/rftd 0750 rftd rftd -\n", text)

    def test_installed_configuration_is_the_example_and_is_valid(self):
        conf = os.path.join(self.prefix, "etc/rftd/rftd.conf")
        self.assertEqual(read(conf),
                         read(os.path.join(SOURCE_DIR, "examples",
                                           "rftd.conf")))
        r = run([os.path.join(self.prefix, "sbin/rftd"), "-n", "-c", conf])
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_reinstall_keeps_an_edited_configuration(self):
        conf = os.path.join(self.prefix, "etc/rftd/rftd.conf")
        with open(conf, "a") as f:
            f.write("; edited\n")
        r = install(self.prefix)
        self.assertTrue(read(conf).endswith("; edited\n"))
        self.assertIn("Keeping: %s" % conf, r.stdout)

    def test_manual_pages_are_the_sources(self):
        for name in ("man1/rftctl.1", "man5/rftd-sweep.5",
                     "man5/rftd.conf.5", "man8/rftd.8"):
            self.assertEqual(
                read(os.path.join(self.prefix, "share/man", name)),
                read(os.path.join(SOURCE_DIR, "man",
                                  os.path.basename(name))))


class StagedInstall(InstallTest):
    def test_destdir_for_prefix_usr_puts_configuration_in_etc(self):
        dest = os.path.join(self.tmp, "dest")
        install("/usr", destdir=dest)
        found = files_under(dest)
        self.assertIn("usr/sbin/rftd", found)
        self.assertIn("usr/bin/rftctl", found)
        self.assertIn("etc/rftd/rftd.conf", found)
        self.assertFalse([f for f in found
                          if not f.startswith(("usr/", "etc/rftd/"))], found)
        units = [f for f in found if f.endswith("/rftd.service")]
        self.assertEqual(len(units), 1, found)
        text = read(os.path.join(dest, units[0]))
        self.assertIn("\nExecStart=/usr/sbin/rftd -f -c /etc/rftd/rftd.conf\n",
                      text)

    def test_configured_for_usr_units_go_where_systemd_says(self):
        r = run(["pkg-config", "--variable=systemdsystemunitdir", "systemd"])
        unitdir = r.stdout.strip()
        if r.returncode != 0 or not unitdir:
            self.skipTest("systemd's pkg-config file is not installed")
        build = os.path.join(self.tmp, "build")
        r = run([CMAKE, "-S", SOURCE_DIR, "-B", build,
                 "-DCMAKE_INSTALL_PREFIX=/usr", "-DBUILD_TESTING=OFF"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        script = read(os.path.join(build, "cmake_install.cmake"))
        self.assertIn('set(RFTD_UNITDIR "%s")' % unitdir, script)


# --- bash completion -----------------------------------------------------

COMPLETION = os.path.join(SOURCE_DIR, "completion", "rftctl")


def complete(words, with_package=False, cwd=None):
    """Asks the completion function for the last of `words`; returns the
    candidates and whatever was written to stderr."""
    line = " ".join(shlex.quote(w) if w else "" for w in words)
    script = ""
    if with_package:
        script += ". %s\n" % BASH_COMPLETION
    script += ". %s\n" % shlex.quote(COMPLETION)
    script += "COMP_WORDS=(%s)\n" % " ".join(shlex.quote(w) for w in words)
    script += "COMP_CWORD=%d\n" % (len(words) - 1)
    script += "COMP_LINE=%s\nCOMP_POINT=%d\n" % (shlex.quote(line),
                                                 len(line))
    script += "_rftctl\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
    r = subprocess.run(["bash", "-c", script], capture_output=True,
                       text=True, timeout=CALL_TIMEOUT, cwd=cwd)
    return [w for w in r.stdout.split("\n") if w], r.stderr


class Completion(Cases, DaemonTest):
    """bash's completion: the cases every shell must pass (Cases), each
    run with plain bash and with the bash-completion package when it is
    installed, and bash's own below."""

    modes = [False] + ([True] if os.path.exists(BASH_COMPLETION) else [])

    def complete(self, words, cwd=None):
        got, err = complete(words, cwd=cwd)
        self.assertEqual(err, "")
        return got

    def check(self, words, expected, cwd=None):
        for mode in self.modes:
            with self.subTest(bash_completion=mode):
                got, err = complete([RFTCTL] + words, mode, cwd=cwd)
                self.assertEqual(err, "")
                self.assertEqual(sorted(got), sorted(expected))

    def test_option_values_with_equals(self):
        self.check(["jobs", "--format=c"], ["csv"])

    def test_directories(self):
        examples = os.path.join(SOURCE_DIR, "examples")
        self.check(["submit", "d"], ["data"], cwd=examples)

    def test_a_sweep_scope_completes_its_id(self):
        d = self.daemon()
        demo = os.path.join(SOURCE_DIR, "examples", "sweep-demo.json")
        d.ctl("submit", demo, check=True)
        d.ctl("submit", "--reuse", demo, check=True)
        # After "sweep:" only the id remains to be typed.
        self.check(["-s", d.socket, "budget", "set", "sweep:"], ["1", "2"])

    def test_no_daemon_means_no_ids_quickly_and_quietly(self):
        missing = os.path.join(self.tmp, "absent.sock")
        start = time.monotonic()
        self.check(["-s", missing, "sweep", "show", ""], [])
        took = time.monotonic() - start
        # Against the same completions without a question to rftd: bash
        # and bash-completion starting take their time on a busy machine.
        start = time.monotonic()
        self.check(["-s", missing, "sweep", ""], ["show"])
        self.assertLess(took, time.monotonic() - start + 5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
