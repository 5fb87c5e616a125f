"""A small headless-Chromium driver for the dashboard's tests: the
DevTools protocol over --remote-debugging-pipe, Python standard library
only.

Chromium reads commands on its fd 3 and writes answers and events on its
fd 4, each message JSON ended by a NUL byte.  One page is one target,
attached with flatten=True, so that its commands and events carry the
target's sessionId on the same pipe.  Every wait has a deadline; a
browser that dies fails the test with the tail of its stderr.
"""
import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
TIMEOUT = 60.0      # one command, one load, one condition: bounds a hang
MAX_MESSAGE = 64 << 20  # a screenshot of a large window is a few MiB


class BrowserError(AssertionError):
    """The browser died, answered a command with an error, or a wait ran
    past its deadline; an AssertionError, so that a test fails."""


class Browser:
    """One chromium process in its own temporary profile."""

    def __init__(self, width=1280, height=900, timeout=TIMEOUT):
        if not os.access(CHROMIUM, os.X_OK):
            raise BrowserError(
                "%s not found: the dashboard's browser tests need "
                "Debian's chromium; run scripts/install-deps.sh" % CHROMIUM)
        self.width, self.height, self.timeout = width, height, timeout
        self.tmp = tempfile.mkdtemp(prefix="rftd-chromium-")
        self.stderr_path = os.path.join(self.tmp, "stderr")
        self.next_id = 0
        self.buf = b""
        self.replies = {}
        self.pages = {}
        self.proc = None
        self.to_chrome = self.from_chrome = -1
        try:
            self._launch()
        except BaseException:
            self.close()
            raise

    def _launch(self):
        # Chromium's ends of the pipes go above the low fds first, so that
        # moving them onto 3 and 4 in the child cannot clobber each other;
        # bash moves them (dash takes single-digit fds only).
        cmd_r, cmd_w = os.pipe()
        ev_r, ev_w = os.pipe()
        child_r = fcntl.fcntl(cmd_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_w = fcntl.fcntl(ev_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(cmd_r)
        os.close(ev_w)
        self.to_chrome, self.from_chrome = cmd_w, ev_r
        args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--mute-audio", "--hide-scrollbars",
                "--user-data-dir=" + os.path.join(self.tmp, "profile"),
                "--window-size=%d,%d" % (self.width, self.height),
                "--remote-debugging-pipe", "about:blank"]
        script = ('exec "$0" "$@" 3<&%d 4>&%d %d<&- %d>&-'
                  % (child_r, child_w, child_r, child_w))
        # Crash reports and caches go to the temporary directory too, not
        # to the home directory's.
        env = dict(os.environ,
                   XDG_CONFIG_HOME=os.path.join(self.tmp, "config"),
                   XDG_CACHE_HOME=os.path.join(self.tmp, "cache"))
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                ["/bin/bash", "-c", script] + args, env=env,
                stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                pass_fds=(child_r, child_w), start_new_session=True)
        os.close(child_r)
        os.close(child_w)
        os.set_blocking(self.from_chrome, False)
        self.call("Browser.getVersion")

    # The pipe.

    def stderr_tail(self, limit=4000):
        try:
            with open(self.stderr_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - limit))
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def _died(self, what):
        status = self.proc.poll() if self.proc else None
        return BrowserError("chromium %s (exit status %s); its stderr "
                            "ends:\n%s" % (what, status, self.stderr_tail()))

    def _send(self, msg):
        data = json.dumps(msg).encode() + b"\0"
        deadline = time.monotonic() + self.timeout
        while data:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._died("stopped reading its commands")
            _, w, _ = select.select([], [self.to_chrome], [], left)
            if not w:
                continue
            try:
                n = os.write(self.to_chrome, data)
            except BrokenPipeError:
                raise self._died("closed its command pipe") from None
            data = data[n:]

    def _pump(self, deadline):
        """Dispatches every whole message chromium has written, waiting
        until `deadline` for one if none has come yet.  Returns whether
        any was dispatched."""
        got = False
        while True:
            if b"\0" in self.buf:
                *whole, self.buf = self.buf.split(b"\0")
                for raw in whole:
                    self._dispatch(json.loads(raw))
                got = True
            left = 0 if got else max(0, deadline - time.monotonic())
            r, _, _ = select.select([self.from_chrome], [], [], left)
            if not r:
                if got or time.monotonic() >= deadline:
                    return got
                continue
            try:
                chunk = os.read(self.from_chrome, 1 << 20)
            except BlockingIOError:
                continue
            if not chunk:
                raise self._died("closed its event pipe")
            self.buf += chunk
            if len(self.buf) > MAX_MESSAGE and b"\0" not in self.buf:
                raise BrowserError("a DevTools message over %d bytes"
                                   % MAX_MESSAGE)

    def _dispatch(self, msg):
        if "id" in msg:
            self.replies[msg["id"]] = msg
        elif msg.get("sessionId") in self.pages:
            self.pages[msg["sessionId"]]._event(msg["method"],
                                                msg.get("params", {}))

    def call(self, method, params=None, session=None, timeout=None):
        """Sends one command and returns its result; raises BrowserError
        on an error answer or past the deadline."""
        self.next_id += 1
        cid = self.next_id
        msg = {"id": cid, "method": method, "params": params or {}}
        if session is not None:
            msg["sessionId"] = session
        self._send(msg)
        deadline = time.monotonic() + (timeout or self.timeout)
        while cid not in self.replies:
            if not self._pump(deadline):
                raise BrowserError("no answer to %s within %g s"
                                   % (method, timeout or self.timeout))
        reply = self.replies.pop(cid)
        if "error" in reply:
            raise BrowserError("%s: %s" % (method, reply["error"]))
        return reply.get("result", {})

    def wait_event(self, predicate, timeout, what):
        """Dispatches messages until predicate() holds; fails after
        `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if not self._pump(deadline):
                raise BrowserError("timed out after %g s waiting for %s"
                                   % (timeout, what))

    # Pages.

    def new_page(self):
        """A new tab of the window's size, with Runtime, Log and Page
        events on."""
        target = self.call("Target.createTarget",
                           {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {
            "targetId": target, "flatten": True})["sessionId"]
        page = Page(self, target, session)
        self.pages[session] = page
        page._enable()
        return page

    def close(self):
        """Kills chromium, its whole process group (by the pid of its
        leader), waits for every member to be gone, and removes its
        profile: a helper left alive would write into it."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                try:
                    os.killpg(self.proc.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.01)
            self.proc = None
        for fd in (self.to_chrome, self.from_chrome):
            if fd >= 0:
                os.close(fd)
        self.to_chrome = self.from_chrome = -1
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Page:
    """One attached target: navigation, evaluation, the problems it
    reported and screenshots."""

    def __init__(self, browser, target, session):
        self.browser, self.target, self.session = browser, target, session
        self.problems = []
        self.lifecycle = set()  # (loaderId, event name)
        self.navigations = 0
        self.on_event = None  # a navigation's own listener

    def call(self, method, params=None, timeout=None):
        return self.browser.call(method, params, self.session, timeout)

    def _enable(self):
        for domain in ("Runtime", "Log", "Page"):
            self.call(domain + ".enable")
        self.call("Page.setLifecycleEventsEnabled", {"enabled": True})
        # The viewport, and so a screenshot, is the window's size whatever
        # the headless window manager made of it.
        self.call("Emulation.setDeviceMetricsOverride", {
            "width": self.browser.width, "height": self.browser.height,
            "deviceScaleFactor": 1, "mobile": False})

    def _event(self, method, params):
        if self.on_event is not None:
            self.on_event(method, params)
        if method == "Page.lifecycleEvent":
            self.lifecycle.add((params.get("loaderId"), params.get("name")))
        elif method == "Page.frameNavigated":
            if "parentId" not in params.get("frame", {}):
                self.navigations += 1
        elif method == "Runtime.consoleAPICalled":
            if params.get("type") in ("error", "warning", "assert"):
                text = " ".join(str(a.get("value", a.get("description", "")))
                                for a in params.get("args", []))
                self.problems.append("console.%s: %s"
                                     % (params["type"], text))
        elif method == "Runtime.exceptionThrown":
            d = params.get("exceptionDetails", {})
            text = d.get("exception", {}).get("description") or d.get("text")
            self.problems.append("exception: %s (%s:%s)"
                                 % (text, d.get("url", ""),
                                    d.get("lineNumber", "")))
        elif method == "Log.entryAdded":
            e = params.get("entry", {})
            if e.get("level") in ("error", "warning"):
                self.problems.append("log %s %s: %s %s"
                                     % (e.get("source"), e.get("level"),
                                        e.get("text"), e.get("url", "")))

    def pump(self, timeout=0.0):
        """Takes in the events chromium has sent so far (or within
        `timeout`), so that late problems are seen."""
        self.browser._pump(time.monotonic() + timeout)

    def navigate(self, url, timeout=None):
        """Loads url and waits for its load event (its subresources
        fetched or failed), then takes in the events sent so far.  Raises
        on a network error; returns the HTTP status of the document."""
        timeout = timeout or self.browser.timeout
        status = {}

        def on_response(method, params):
            if (method == "Network.responseReceived"
                    and params.get("type") == "Document"
                    and "status" not in status):
                status["status"] = params["response"]["status"]
        self.call("Network.enable")
        self.on_event = on_response
        try:
            r = self.call("Page.navigate", {"url": url}, timeout)
            if r.get("errorText"):
                raise BrowserError("loading %s: %s" % (url, r["errorText"]))
            loader = r.get("loaderId")
            self.browser.wait_event(
                lambda: (loader, "load") in self.lifecycle,
                timeout, "%s to load" % url)
        finally:
            self.on_event = None
            self.call("Network.disable")
        self.settle()
        return status.get("status")

    def settle(self):
        """A round trip through the page's renderer: what it reported
        before (a console message, an exception, a blocked resource)
        is in self.problems after."""
        self.call("Runtime.evaluate", {"expression": "0"})
        self.pump()

    def evaluate(self, expression, timeout=None):
        """The value of a JavaScript expression (JSON-able), awaiting a
        promise; raises on an exception in the page."""
        r = self.call("Runtime.evaluate", {
            "expression": expression, "returnByValue": True,
            "awaitPromise": True}, timeout)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise BrowserError("evaluating %r: %s" % (
                expression, d.get("exception", {}).get("description")
                or d.get("text")))
        return r.get("result", {}).get("value")

    def set_scripts_disabled(self, disabled):
        self.call("Emulation.setScriptExecutionDisabled",
                  {"value": bool(disabled)})

    def screenshot(self):
        """The viewport as PNG bytes."""
        r = self.call("Page.captureScreenshot", {"format": "png"})
        return base64.b64decode(r["data"])

    def close(self):
        self.browser.call("Target.closeTarget", {"targetId": self.target})
        self.browser.pages.pop(self.session, None)


def png_size(data):
    """(width, height) of a PNG, or None if data is not one."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" \
            or data[12:16] != b"IHDR":
        return None
    return (int.from_bytes(data[16:20], "big"),
            int.from_bytes(data[20:24], "big"))
