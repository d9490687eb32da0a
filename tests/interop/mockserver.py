"""The fake iCloud server as a program, for the interop tests.

Starts $ICLOUD_MOCK_SERVER (set by tests/meson.build) on one origin,
http://127.0.0.1:PORT, waits for its ICLOUD_MOCK_BASE_URI=... line, and
stops it with SIGTERM. Talks to its /_mock/ control API with urllib.
"""

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request


class MockServer:
    def __init__(self, accounts=None):
        program = os.environ.get("ICLOUD_MOCK_SERVER")
        if not program:
            raise RuntimeError("ICLOUD_MOCK_SERVER is not set (run through meson test)")
        args = [program]
        if accounts:
            args += ["--accounts", accounts]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("ICLOUD_MOCK_BASE_URI="):
            self.stop()
            raise RuntimeError(f"the fake server did not start: {line!r}")
        self.base_uri = line.split("=", 1)[1]
        assert self.base_uri.startswith("http://127.0.0.1:"), self.base_uri

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # --- HTTP ---

    def request(self, method, path, body=None, headers=None, raw=None):
        """Returns (status, headers, parsed JSON or None, raw bytes)."""
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        req = urllib.request.Request(self.base_uri + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, hdrs, payload = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as err:
            status, hdrs, payload = err.code, err.headers, err.read()
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = None
        return status, hdrs, parsed, payload

    def control(self, method, what, body=None):
        status, _, parsed, _ = self.request(method, "/_mock/" + what, body)
        if status != 200:
            raise RuntimeError(f"/_mock/{what}: HTTP {status}: {parsed}")
        return parsed

    def count(self, apple_id=None, path=None):
        query = []
        if apple_id:
            query.append("apple_id=" + urllib.request.quote(apple_id))
        if path:
            query.append("path=" + urllib.request.quote(path))
        return self.control("GET", "requests?" + "&".join(query))["count"]

    def code(self, apple_id, target=None):
        what = "code?apple_id=" + urllib.request.quote(apple_id)
        if target is not None:
            what += "&target=" + urllib.request.quote(str(target))
        return self.control("GET", what)["code"]

    def codes_sent(self, apple_id, target=None):
        what = "codes-sent?apple_id=" + urllib.request.quote(apple_id)
        if target is not None:
            what += "&target=" + urllib.request.quote(str(target))
        return self.control("GET", what)["count"]

    def add_accounts(self, accounts):
        return self.control("POST", "accounts", {"accounts": accounts})


class Checks:
    """A minimal TAP reporter: each check is one test point."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, condition, name):
        self.n += 1
        if condition:
            print(f"ok {self.n} {name}")
        else:
            self.failed += 1
            print(f"not ok {self.n} {name}")
        sys.stdout.flush()
        return condition

    def equal(self, got, expected, name):
        if not self.ok(got == expected, name):
            print(f"# expected {expected!r}, got {got!r}")
        return got == expected

    def done(self):
        print(f"1..{self.n}")
        return 1 if self.failed else 0
