"""A webhook receiver for tests: an HTTP server on 127.0.0.1 that checks
each request's Standard Webhooks signature with the secret from rftd's
secret file (computed here with hmac, independently of rftd), and
records what came.  It can be told to answer 500 or to hang.
"""
import base64
import hashlib
import hmac
import http.server
import json
import threading
import time

MAX_BODY = 1 << 20


def secret_key(path):
    """The key of a "whsec_<base64>" secret file."""
    with open(path) as f:
        text = f.read().strip()
    if not text.startswith("whsec_"):
        raise ValueError("%s: not a whsec_ secret" % path)
    return base64.b64decode(text[len("whsec_"):], validate=True)


def verify(key, headers, body, tolerance=300):
    """Whether the headers sign body with key, as Standard Webhooks
    describes: HMAC-SHA256 of "id.timestamp.body", base64, after "v1,"
    in a space-separated list, with a timestamp near now."""
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    sigs = headers.get("webhook-signature")
    if not msg_id or not ts or not sigs or not ts.isdigit():
        return False
    if abs(time.time() - int(ts)) > tolerance:
        return False
    mac = hmac.new(key, b"%s.%s.%s" % (msg_id.encode(), ts.encode(), body),
                   hashlib.sha256).digest()
    expected = base64.b64encode(mac).decode()
    return any(s.startswith("v1,") and hmac.compare_digest(s[3:], expected)
               for s in sigs.split(" "))


class Receiver:
    """Records every POST as a dict: id, type, payload, verified, status.
    `mode` is "ok" (204), "big" (200 with a page of 64 KiB), "fail"
    (500) or "hang" (no answer until release()); stop() ends it."""

    def __init__(self, secret_file, port=0):
        self.secret_file = secret_file
        self.mode = "ok"
        self.requests = []
        self.lock = threading.Lock()
        self.released = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(min(n, MAX_BODY))
                receiver.received(self.headers, body)
                mode = receiver.mode
                if mode == "hang":
                    receiver.released.wait()
                    return
                if mode == "big":
                    page = b"<html>" + b"thanks " * 9362 + b"</html>"
                    self.send_response(200)
                    self.send_header("content-length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                    return
                self.send_response(204 if mode == "ok" else 500)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                                      Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d/hook" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def received(self, headers, body):
        try:
            ok = verify(secret_key(self.secret_file), headers, body)
        except (OSError, ValueError):
            ok = False
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        with self.lock:
            self.requests.append({
                "id": headers.get("webhook-id"),
                "type": payload.get("type") if payload else None,
                "payload": payload,
                "verified": ok,
                "mode": self.mode,
                "content_type": headers.get("content-type"),
            })

    def got(self, mode="ok"):
        """The requests answered in `mode` so far."""
        with self.lock:
            return [r for r in self.requests if r["mode"] == mode]

    def release(self):
        self.released.set()

    def stop(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()
