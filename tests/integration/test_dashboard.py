"""The dashboard over HTTP: every route of a running sweep on the sim
backend, the security headers, GET and HEAD only, the token off
loopback, bounded connections, and malformed requests that harm nothing."""
import http.client
import json
import os
import re
import socket
import stat
import subprocess
import time
import unittest

from harness import (CALL_TIMEOUT, RFTD, WAIT, DaemonTest, free_port,
                     wait_until)

SIM = '[backend "sim"]\ntype = sim\nspeed = %d\nmax_concurrent = 4\n'
# Slow enough that the sweep still runs while a test reads its pages
# (15 epochs of 19 steps of 45 simulated seconds: about a minute), fast
# enough that points come every fraction of a second.
SLOW = 200

SECURITY_HEADERS = {
    "content-security-policy":
        "default-src 'none'; style-src 'self'; script-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


class Response:
    def __init__(self, r):
        self.status = r.status
        self.headers = {k.lower(): v for k, v in r.getheaders()}
        self.body = r.read().decode()


class Dashboard(DaemonTest):
    def spec(self, name="dash", **over):
        data = os.path.join(self.tmp, "train.jsonl")
        with open(data, "w") as f:
            f.write('{"messages":[{"role":"user","content":"1+1?"}],'
                    '"answer":"2"}\n')
        grader = {"type": "string_check", "name": "g",
                  "input": "{{sample.output_text}}",
                  "reference": "{{item.answer}}", "operation": "eq"}
        spec = {"name": name, "backend": "sim", "model": "m",
                "training_file": data, "validation_file": data,
                "seeds": [1],
                "hyperparameters": {"n_epochs": [15],
                                    "learning_rate_multiplier": [0.5, 1.0]},
                "graders": {"exact": grader,
                            "strict": dict(grader, name="strict")},
                "max_job_hours": 100,
                "objective": {"metric": "valid_reward_mean", "mode": "max"}}
        spec.update(over)
        path = os.path.join(self.tmp, "spec.json")
        with open(path, "w") as f:
            json.dump(spec, f)
        return path

    def start(self, http="", speed=SLOW, start=True):
        self.port = free_port()
        return self.daemon(
            start=start, daemon_section="tick = 50\n",
            extra_config=SIM % speed + "[http]\nlisten = 127.0.0.1:%d\n%s"
            % (self.port, http))

    def get(self, path, method="GET", headers=None, conn=None):
        c = conn or http.client.HTTPConnection("127.0.0.1", self.port,
                                               timeout=WAIT)
        try:
            c.request(method, path, headers=headers or {})
            return Response(c.getresponse())
        finally:
            if conn is None:
                c.close()

    def running_sweep(self, d, name="dash"):
        """Submits a sweep; returns it once each trial has points."""
        sweep = self.submit(d, self.spec(name=name))
        wait_until(lambda: self.rows(
            d, "SELECT count(DISTINCT j.trial_id) FROM metrics m JOIN jobs j"
            " ON j.id = m.job_id WHERE m.name = 'valid_reward_mean'")[0][0]
            == 4, what="every trial to report points")
        return sweep

    def assert_secure(self, r, what):
        for name, value in SECURITY_HEADERS.items():
            self.assertEqual(r.headers.get(name), value,
                             "%s: %s" % (what, name))
        self.assertNotIn("set-cookie", r.headers, what)

    # --- routes -------------------------------------------------------------

    def test_every_route_answers_with_the_security_headers(self):
        d = self.start()
        sweep = self.running_sweep(d)
        job = self.rows(d, "SELECT min(id) FROM jobs")[0][0]
        for path in ("/", "/sweeps/%d" % sweep, "/jobs/%d" % job, "/budgets",
                     "/sweeps/%d?part=main" % sweep,
                     "/sweeps/%d?metric=train_reward_mean" % sweep,
                     "/jobs/%d?part=main" % job,
                     "/static/dash.css", "/static/dash.js"):
            r = self.get(path)
            self.assertEqual(r.status, 200, path)
            self.assert_secure(r, path)
        self.assertTrue(self.get("/static/dash.css").headers[
            "content-type"].startswith("text/css"))
        self.assertTrue(self.get("/static/dash.js").headers[
            "content-type"].startswith("text/javascript"))

    def test_without_a_token_only_this_machines_names_are_served(self):
        # A page elsewhere that points its name at 127.0.0.1 (DNS
        # rebinding) must not read the dashboard as its own.
        self.start()
        for host in ("evil.example:%d" % self.port, "attacker.invalid",
                     "10.0.0.1:%d" % self.port, "127.0.0.1.evil.example",
                     "[::2]:%d" % self.port, "[::1"):
            r = self.get("/budgets", headers={"Host": host})
            self.assertEqual(r.status, 403, host)
            self.assertNotIn("Budgets", r.body.split("</h1>")[-1], host)
            self.assert_secure(r, host)
        for host in ("127.0.0.1:%d" % self.port, "localhost:%d" % self.port,
                     "LOCALHOST", "127.0.0.2:%d" % self.port,
                     "[::1]:%d" % self.port):
            self.assertEqual(self.get("/budgets", headers={"Host": host})
                             .status, 200, host)

    def test_status_says_where_the_dashboard_is(self):
        d = self.start()
        url = "http://127.0.0.1:%d/" % self.port
        self.assertEqual(d.ctl_json("status")["dashboard"], url)
        self.assertIn("  dashboard %s\n" % url, d.ctl("status").stdout)
        # Without [http], no such line.
        d.stop()
        plain = self.daemon(extra_config=SIM % SLOW)
        self.assertNotIn("dashboard", plain.ctl_json("status"))

    def test_the_sweep_page_holds_one_curve_per_trial_and_its_tables(self):
        d = self.start()
        sweep = self.running_sweep(d)
        r = self.get("/sweeps/%d" % sweep)
        self.assertIn('<svg id="curves"', r.body)
        trials = re.findall(r'<path class="curve" data-trial="(\d+)"', r.body)
        self.assertEqual(sorted(map(int, trials)), sorted(
            t for (t,) in self.rows(d, "SELECT trial_id FROM sweep_trials"
                                    " WHERE sweep_id = ?", sweep)))
        self.assertIn('<table id="leaderboard">', r.body)
        self.assertIn('<table id="grid">', r.body)
        self.assertIn("<title>", r.body)
        self.assertIn('<a href="/">', r.body)
        self.assertIn('<a href="/budgets">', r.body)
        # No inline script or style: the policy would refuse them.
        self.assertNotRegex(r.body, r"<script>|<script [^>]*>[^<]|style=")
        self.assertNotIn("<style", r.body)

    def test_a_running_sweep_page_is_live_and_changes(self):
        d = self.start()
        sweep = self.running_sweep(d)
        first = self.get("/sweeps/%d" % sweep).body
        self.assertIn('<body data-live="1"', first)
        self.assertIn('<noscript><meta http-equiv="refresh"', first)
        stamp = re.search(r'data-generated="([^"]+)"', first).group(1)
        part = wait_until(lambda: (lambda b: b if re.search(
            r'data-generated="([^"]+)"', b).group(1) != stamp else None)(
                self.get("/sweeps/%d?part=main" % sweep).body),
            what="a newer page")
        self.assertTrue(part.startswith('<p class="stamp" id="stamp" '
                                        'data-live="1"'), part[:200])
        self.assertNotIn("<html", part)
        d.ctl("cancel", str(sweep), check=True)
        done = wait_until(lambda: (lambda b: b if 'data-live="0"' in b
                                   else None)(
            self.get("/sweeps/%d" % sweep).body), what="a page not live")
        self.assertNotIn("http-equiv=\"refresh\"", done)

    def test_values_put_into_pages_are_escaped(self):
        d = self.start()
        self.submit(d, self.spec(name="<b>x</b> & 'y'"))
        r = self.get("/")
        self.assertIn("&lt;b&gt;x&lt;/b&gt; &amp; &#39;y&#39;", r.body)
        self.assertNotIn("<b>x</b>", r.body)
        self.assertIn("&lt;b&gt;x", self.get("/sweeps/1").body)

    def test_unknown_pages_are_404_and_bad_ids_400(self):
        self.start()
        for path in ("/nope", "/sweeps", "/sweeps/", "/static/other.js",
                     "/sweeps/12345", "/jobs/12345", "/index.html"):
            r = self.get(path)
            self.assertEqual(r.status, 404, path)
            self.assert_secure(r, path)
        for path in ("/sweeps/abc", "/sweeps/99999999999999999999",
                     "/jobs/0", "/jobs/-1", "/sweeps/1?metric=%zz",
                     "/sweeps/1?metric=a%0Ab", "/sweeps/1?part=all"):
            r = self.get(path)
            self.assertEqual(r.status, 400, path)
            self.assert_secure(r, path)

    def test_only_get_and_head_are_allowed(self):
        self.start()
        for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS",
                       "TRACE", "CONNECT"):
            for path in ("/", "/budgets", "/static/dash.js"):
                r = self.get(path, method=method)
                self.assertEqual(r.status, 405, (method, path))
                self.assertEqual(r.headers.get("allow"), "GET, HEAD")
                self.assert_secure(r, method)

    def test_head_answers_the_headers_of_get_without_a_body(self):
        self.start()
        get = self.get("/budgets")
        head = self.get("/budgets", method="HEAD")
        self.assertEqual(head.status, 200)
        self.assertEqual(head.body, "")
        self.assertEqual(int(head.headers["content-length"]),
                         len(get.body.encode()) + 0 * len(head.body))
        self.assert_secure(head, "HEAD")

    # --- the token ------------------------------------------------------------

    def test_the_token_is_required_when_remote_is_allowed(self):
        d = self.start(http="allow_remote = yes\n")
        token_file = os.path.join(self.tmp, "state", "http.token")
        self.assertEqual(stat.S_IMODE(os.stat(token_file).st_mode), 0o600)
        with open(token_file) as f:
            token = f.read().strip()
        self.assertRegex(token, r"^[0-9a-f]{64}$")
        self.running_sweep(d, name="secret-sweep")
        for path in ("/", "/sweeps/1", "/budgets", "/static/dash.js",
                     "/nope", "/sweeps/abc"):
            for headers in ({}, {"Authorization": "Bearer wrong"},
                            {"Authorization": "Bearer " + token[:-1]},
                            {"Authorization": token}):
                r = self.get(path, headers=headers)
                self.assertEqual(r.status, 401, (path, headers))
                self.assertNotIn("secret-sweep", r.body)
                self.assertNotIn("<svg", r.body)
                self.assert_secure(r, path)
            r = self.get(path + "?token=" + "0" * 64)
            self.assertEqual(r.status, 401, path)
        r = self.get("/sweeps/1", headers={"Authorization": "Bearer " + token})
        self.assertEqual(r.status, 200)
        self.assertNotIn("token=", r.body)
        r = self.get("/sweeps/1?token=" + token)
        self.assertEqual(r.status, 200)
        # Links keep the token, so that a browser can follow them.
        self.assertIn('href="/budgets?token=%s"' % token, r.body)
        self.assertIn('src="/static/dash.js?token=%s"' % token, r.body)
        self.assertRegex(r.body, r'<a href="/jobs/\d+\?token=%s"><path '
                         r'class="curve"' % token)
        self.assertEqual(self.get("/nope?token=" + token).status, 404)

    def test_an_existing_token_file_is_used_and_one_others_read_refused(self):
        d = self.start(http="allow_remote = yes\n", start=False)
        token_file = os.path.join(self.tmp, "state", "http.token")
        os.makedirs(os.path.dirname(token_file), exist_ok=True)
        with open(token_file, "w") as f:
            f.write("s3cret-token-of-mine\n")
        os.chmod(token_file, 0o644)
        r = subprocess.run([RFTD, "-c", d.config, "-f"], capture_output=True,
                           text=True, timeout=CALL_TIMEOUT)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("[http] token_file %s: group or others may read it "
                      "(mode 0644)" % token_file, r.stderr + r.stdout)
        os.chmod(token_file, 0o600)
        d.start()
        self.assertEqual(self.get("/", headers={
            "Authorization": "Bearer s3cret-token-of-mine"}).status, 200)

    def test_a_remote_address_without_allow_remote_is_refused(self):
        d = self.start(start=False)
        d.write_config("", "[http]\nlisten = 0.0.0.0:%d\n" % self.port)
        r = subprocess.run([RFTD, "-n", "-c", d.config], capture_output=True,
                           text=True, timeout=CALL_TIMEOUT)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("listen: 0.0.0.0:%d can be reached from other "
                      "machines; set allow_remote = yes in [http]"
                      % self.port, r.stderr)

    # --- bounds ---------------------------------------------------------------

    def test_a_port_in_use_stops_rftd_with_the_reason(self):
        d = self.start(start=False)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", self.port))
            s.listen(1)
            r = subprocess.run([RFTD, "-c", d.config, "-f"],
                               capture_output=True, text=True,
                               timeout=CALL_TIMEOUT)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("[http] listen 127.0.0.1:%d: address already in use"
                      % self.port, r.stderr + r.stdout)
        self.assertNotIn("event loop not empty", r.stderr + r.stdout)

    def test_connections_past_the_cap_leave_rftd_working(self):
        d = self.start(http="max_connections = 4\n")
        held = []
        try:
            for _ in range(20):
                s = socket.create_connection(("127.0.0.1", self.port),
                                             timeout=WAIT)
                held.append(s)
            # The fifth and later are closed at once by rftd.
            closed = 0
            for s in held[4:]:
                try:
                    closed += s.recv(1) == b""
                except ConnectionResetError:
                    closed += 1
            self.assertEqual(closed, 16)
            self.assertEqual(d.ctl("ping").returncode, 0)
        finally:
            for s in held:
                s.close()
        wait_until(lambda: self.status_of("/") == 200,
                   what="the dashboard to serve again")

    def status_of(self, path):
        try:
            return self.get(path).status
        except OSError:
            return None

    def malformed(self):
        """Requests no server should answer with a page: each one, with
        whether it is sent in full (False: rftd must time it out)."""
        huge = "x" * 600000
        cases = []
        garbage = [b"\x00\x01\x02\r\n\r\n", b"GARBAGE\r\n\r\n",
                   b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                   b"GET / FOO/1.1\r\n\r\n", b"\r\n\r\n\r\n\r\n",
                   b"GET /" + b"\xff" * 10 + b" HTTP/1.1\r\n\r\n",
                   b"G\x00T / HTTP/1.1\r\nHost: x\r\n\r\n",
                   b"GET / HTTP/1.1\r\nHost x\r\n\r\n",
                   b"GET / HTTP/1.1\r\n: empty\r\n\r\n",
                   b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                   b"GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
                   b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"zz\r\n",
                   b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n",
                   b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                   b"\r\nhello",
                   b"DELETE /sweeps/1 HTTP/1.1\r\nHost: x\r\n\r\n"]
        for i in range(20):
            for g in garbage:
                cases.append((g, True))
        for i in range(40):
            cases.append((("GET /%s HTTP/1.1\r\nHost: x\r\n\r\n"
                           % ("a" * (9000 + i))).encode(), True))
            cases.append((("GET / HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n"
                           % huge).encode(), True))
            cases.append(((("GET / HTTP/1.1\r\nHost: x\r\n" +
                            "X-H%d: v\r\n" * 200 + "\r\n")
                           % tuple(range(200))).encode(), True))
            cases.append((b"GET / HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Length: 10000000\r\n\r\n" +
                          b"y" * 65536, True))
        for path in ("/sweeps/99999999999999999999", "/sweeps/%zz",
                     "/sweeps/1?metric=%", "/sweeps/1?metric=%g0",
                     "/jobs/1e9", "/jobs/0x10", "/sweeps/1?token=%00",
                     "/" + "%41" * 3000):
            for i in range(10):
                cases.append((("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               "\r\n" % path).encode(), True))
        # Slowloris: partial requests, bounded in number.
        for i in range(8):
            cases.append((b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ", False))
            cases.append((b"GET /sweeps/1 HT", False))
        return cases

    def send_raw(self, data, whole):
        """Sends data; returns the status answered, or None when rftd
        closed the connection without one."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=WAIT)
        try:
            try:
                s.sendall(data)
                if whole:
                    s.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # rftd closed it while it was sent
            reply = b""
            while b"\r\n" not in reply:
                try:
                    chunk = s.recv(4096)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                reply += chunk
        finally:
            s.close()
        m = re.match(rb"HTTP/1\.[01] (\d{3}) ", reply)
        return int(m.group(1)) if m else None

    def test_malformed_and_oversized_requests_get_4xx_and_harm_nothing(self):
        d = self.start()
        self.running_sweep(d)
        cases = self.malformed()
        self.assertGreaterEqual(len(cases), 500)
        slow = [(c, w) for c, w in cases if not w]
        answered = {}
        for data, whole in cases:
            if not whole:
                continue
            status = self.send_raw(data, whole)
            self.assertTrue(status is None or 400 <= status < 500,
                            "%r...: %s" % (data[:60], status))
            answered[status] = answered.get(status, 0) + 1
        # Partial requests, all at once, are dropped after the request
        # timeout (10 s).
        held = []
        for data, _ in slow:
            s = socket.create_connection(("127.0.0.1", self.port),
                                         timeout=WAIT)
            s.sendall(data)
            held.append(s)
        self.assertEqual(d.ctl("ping").returncode, 0)
        for s in held:
            try:
                reply = s.recv(4096)
            except ConnectionResetError:
                reply = b""
            s.close()
            m = re.match(rb"HTTP/1\.[01] (\d{3}) ", reply)
            self.assertTrue(m is None or 400 <= int(m.group(1)) < 500,
                            reply[:80])
        self.assertEqual(d.ctl("ping").returncode, 0)
        self.assertEqual(self.get("/").status, 200)
        self.assertEqual(d.proc.poll(), None)
        self.assertGreater(sum(v for k, v in answered.items() if k), 100)

    def test_rftd_stops_cleanly_with_connections_open(self):
        d = self.start()
        self.running_sweep(d)
        idle = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=WAIT)
        self.assertEqual(self.get("/", conn=idle).status, 200)
        partial = socket.create_connection(("127.0.0.1", self.port))
        partial.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        busy = [socket.create_connection(("127.0.0.1", self.port))
                for _ in range(4)]
        for s in busy:
            s.sendall(b"GET /sweeps/1 HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            started = time.monotonic()
            self.assertEqual(d.stop(), 0, d.read_log())
            # Idle and partial connections are closed at once, not after
            # the request timeout (10 s) would have closed them.
            self.assertLess(time.monotonic() - started, 10)
        finally:
            idle.close()
            partial.close()
            for s in busy:
                s.close()
        log = d.read_log()
        self.assertNotIn("event loop not empty", log)
        self.assertIn("dashboard: serving http://127.0.0.1:%d/" % self.port,
                      log)

    def test_rftd_stops_while_a_client_does_not_read_its_answers(self):
        d = self.start()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", self.port))
        s.setblocking(False)
        client_port = s.getsockname()[1]
        request = b"GET /static/dash.css HTTP/1.1\r\nHost: x\r\n\r\n"

        def stuck():
            """Pipelines more requests, never reading the answers, until
            rftd's side holds both answers it cannot send and a pile of
            requests it has not read: its write waits on this client."""
            try:
                s.send(request * 400)
            except BlockingIOError:
                pass
            queues = server_queues(self.port, client_port)
            return queues is not None and queues[0] >= 256 * 1024 and \
                queues[1] >= 64 * 1024

        try:
            wait_until(stuck, what="rftd's answers to be left unread")
            self.assertEqual(d.stop(), 0, d.read_log())
        finally:
            s.close()
        self.assertIn("dashboard: connections closed at shutdown while "
                      "sending", d.read_log())


def server_queues(port, client_port):
    """(bytes to send, bytes unread) of the server's end of a loopback
    connection, from /proc/net/tcp; None when it is not there."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if local.endswith(":%04X" % port) and \
                    remote.endswith(":%04X" % client_port):
                tx, rx = fields[4].split(":")
                return int(tx, 16), int(rx, 16)
    return None

if __name__ == "__main__":
    unittest.main()
