#!/usr/bin/python3
# icloud-bench-py.py: the Python side of icloud-bench (bench/icloud-bench.c).
#
# Signs N accounts of the fake iCloud server in at once with a thread pool
# (concurrent.futures.ThreadPoolExecutor), one of two ways:
#
#   --client pyicloud    Debian's pyicloud 1.0.0 (python3-pyicloud), pointed at
#                        the fake server by overriding PyiCloudService's
#                        endpoint class attributes. pyicloud 1.0.0 predates
#                        SRP: this is its LEGACY plain-password sign-in
#                        (POST /appleauth/auth/signin), which the fake server
#                        accepts for accounts marked "legacy_password". No
#                        PBKDF2 and no SRP maths on either side.
#                        --mode restore: the same accounts again from the
#                        saved session files (validate only).
#   --client python-srp  a pure-Python Apple SRP-6a client on python3-srp's
#                        pure-Python module (srp._pysrp) and hashlib, over
#                        urllib: signin/init, PBKDF2, SRP, signin/complete,
#                        accountLogin, and 2FA + trust like the C library.
#   --client icloud-glib the C library through the icloud_glib package
#                        (python/): icloud_glib.Session.create, then
#                        request_2fa_code and validate_2fa_code, all N at
#                        once with asyncio.gather in one asyncio.run() loop:
#                        the same requests as icloud-bench's own signin.
#                        (No ticker runs on the loop: its own CPU would be
#                        counted; tests/python/test_icloud_glib.py measures
#                        the loop's gaps.)
#   --client icloud-glib-pyicloud  the same through icloud_glib.pyicloud
#                        (AsyncPyiCloudService.create pushes the code, then
#                        validate_2fa_code).
#
# With --factor hsa2 each login also asks for a 2FA code, reads it from the
# fake server's control API (/_mock/code; the CPU time of that read is
# subtracted), validates it and trusts the session.
#
# Prints one JSON object (the same fields as icloud-bench's) on stdout.
# Never prints a password, token, cookie, SRP value or code.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import argparse
import base64
import concurrent.futures
import ctypes
import gc
import hashlib
import http.cookiejar
import json
import logging
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ACCOUNT_DOMAIN = "bench.example.com"
WIDGET_KEY = "d39ba9916b7251055b22c7f910e2ea796ee65e98b2ddecea8f5dde8d9d1a815d"


def account_id(prefix, i):
    return "%s-%d@%s" % (prefix, i, ACCOUNT_DOMAIN)


def account_password(prefix, i):
    # The fake accounts of bench/icloud-bench.c; never printed.
    return "bench password %s %d" % (prefix, i)


def proc_status_kib(field):
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


_libc = ctypes.CDLL("libc.so.6")


def rss_settled_kib():
    gc.collect()
    _libc.malloc_trim(0)
    return proc_status_kib("VmRSS")


class CodeReader:
    """Reads the last 2FA code from the fake server; counts its CPU time."""

    def __init__(self, base_uri):
        self.base_uri = base_uri
        self.cpu = 0.0
        self.lock = threading.Lock()
        # At most 2 control connections, as icloud-bench's control thread:
        # reading codes is not what is measured.
        self.slots = threading.BoundedSemaphore(2)

    def count_requests(self, apple_id):
        """How many requests the fake server logged for apple_id (not measured)."""
        url = "%s/_mock/requests?%s" % (self.base_uri, urllib.parse.urlencode({"apple_id": apple_id}))
        with urllib.request.urlopen(url, timeout=300) as reply:
            return json.loads(reply.read())["count"]

    def read(self, apple_id):
        url = "%s/_mock/code?%s" % (self.base_uri, urllib.parse.urlencode({"apple_id": apple_id}))
        with self.slots:
            t0 = time.thread_time()
            with urllib.request.urlopen(url, timeout=300) as reply:
                code = json.loads(reply.read())["code"]
            dt = time.thread_time() - t0
        with self.lock:
            self.cpu += dt
        return code


# --------------------------------------------------------------------------
# pyicloud 1.0.0 (legacy plain-password sign-in)

def pyicloud_class(base_uri):
    from pyicloud import PyiCloudService

    class BenchService(PyiCloudService):
        AUTH_ENDPOINT = base_uri + "/appleauth/auth"
        HOME_ENDPOINT = base_uri
        SETUP_ENDPOINT = base_uri + "/setup/ws/1"

    return BenchService


def pyicloud_login(cls, args, codes, i):
    apple_id = account_id(args.prefix, i)
    api = cls(apple_id, account_password(args.prefix, i), cookie_directory=args.cookie_directory)
    if args.mode == "restore":
        if api.requires_2fa:
            raise RuntimeError("restored session asks for 2FA again")
        return api
    if args.factor == "hsa2":
        if not api.requires_2fa:
            raise RuntimeError("expected a 2FA challenge")
        # Apple pushes the code by itself after a password sign-in; the fake
        # server waits for the request icloud.com (and the C library) make.
        headers = api._get_auth_headers({"Accept": "application/json"})
        if api.session_data.get("scnt"):
            headers["scnt"] = api.session_data["scnt"]
        if api.session_data.get("session_id"):
            headers["X-Apple-ID-Session-Id"] = api.session_data["session_id"]
        api.session.get("%s/verify/trusteddevice" % api.AUTH_ENDPOINT, headers=headers)
        if not api.validate_2fa_code(codes.read(apple_id)):
            raise RuntimeError("the 2FA code was refused")
        if not api.is_trusted_session:
            raise RuntimeError("not trusted after the code")
    return api


# --------------------------------------------------------------------------
# pure-Python SRP client (python3-srp's srp._pysrp + hashlib + urllib)

def srp_module():
    from srp import _pysrp

    _pysrp.rfc5054_enable()
    _pysrp.no_username_in_x()

    # python3-srp 1.0.20 strips a leading zero byte of H(":" || p) in x
    # (fixed in 1.0.21, SRP commit 94d164e): one login in 256 would fail.
    def gen_x(hash_class, salt, username, password):
        return _pysrp.H(hash_class, salt, hash_class(b":" + password).digest())

    _pysrp.gen_x = gen_x
    return _pysrp


class SrpSession:
    """What one signed-in account keeps: its cookies, tokens and opener."""

    def __init__(self, base_uri, apple_id):
        self.base_uri = base_uri
        self.apple_id = apple_id
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.scnt = None
        self.session_id = None
        self.session_token = None
        self.trust_token = None
        self.account_country = None
        self.account = None

    def auth_headers(self, accept="application/json"):
        headers = {
            "Accept": accept,
            "Content-Type": "application/json",
            "Origin": self.base_uri,
            "Referer": self.base_uri + "/",
            "X-Apple-OAuth-Client-Id": WIDGET_KEY,
            "X-Apple-OAuth-Client-Type": "firstPartyAuth",
            "X-Apple-OAuth-Redirect-URI": self.base_uri,
            "X-Apple-OAuth-Require-Grant-Code": "true",
            "X-Apple-OAuth-Response-Mode": "web_message",
            "X-Apple-OAuth-Response-Type": "code",
            "X-Apple-Widget-Key": WIDGET_KEY,
        }
        if self.scnt:
            headers["scnt"] = self.scnt
        if self.session_id:
            headers["X-Apple-ID-Session-Id"] = self.session_id
        return headers

    def request(self, method, path, body=None, headers=None, ok=(200,)):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_uri + path, data=data, method=method,
                                     headers=headers or {})
        try:
            reply = self.opener.open(req, timeout=300)
        except urllib.error.HTTPError as error:
            reply = error
        with reply:
            status = reply.status if hasattr(reply, "status") else reply.code
            payload = reply.read()
            h = reply.headers
            for name, attr in (("scnt", "scnt"), ("X-Apple-ID-Session-Id", "session_id"),
                               ("X-Apple-Session-Token", "session_token"),
                               ("X-Apple-TwoSV-Trust-Token", "trust_token"),
                               ("X-Apple-ID-Account-Country", "account_country")):
                if h.get(name):
                    setattr(self, attr, h.get(name))
        if status not in ok:
            raise RuntimeError("%s %s: HTTP %d" % (method, path.split("?")[0], status))
        if payload and payload[:1] in (b"{", b"["):
            return json.loads(payload)
        return None

    def account_login(self):
        self.account = self.request("POST", "/setup/ws/1/accountLogin", {
            "accountCountryCode": self.account_country,
            "dsWebAuthToken": self.session_token,
            "extended_login": True,
            "trustToken": self.trust_token or "",
        }, {"Content-Type": "application/json", "Origin": self.base_uri})


def srp_login(_pysrp, args, codes, i):
    apple_id = account_id(args.prefix, i)
    password = account_password(args.prefix, i).encode()
    s = SrpSession(args.base_uri, apple_id)
    user = _pysrp.User(apple_id, b"", hash_alg=_pysrp.SHA256, ng_type=_pysrp.NG_2048)
    _, A = user.start_authentication()

    init = s.request("POST", "/appleauth/auth/signin/init", {
        "a": base64.b64encode(A).decode(),
        "accountName": apple_id,
        "protocols": ["s2k", "s2k_fo"],
    }, s.auth_headers())
    salt = base64.b64decode(init["salt"])
    B = base64.b64decode(init["b"])
    digest = hashlib.sha256(password).digest()
    if init["protocol"] == "s2k_fo":
        digest = digest.hex().encode()
    user.p = hashlib.pbkdf2_hmac("sha256", digest, salt, init["iteration"], 32)
    M1 = user.process_challenge(salt, B)
    if M1 is None:
        raise RuntimeError("SRP safety check failed")
    s.request("POST", "/appleauth/auth/signin/complete?isRememberMeEnabled=true", {
        "accountName": apple_id,
        "c": init["c"],
        "m1": base64.b64encode(M1).decode(),
        "m2": base64.b64encode(user.H_AMK).decode(),
        "rememberMe": True,
        "trustTokens": [s.trust_token] if s.trust_token else [],
    }, s.auth_headers(), ok=(200, 409))
    s.account_login()

    if args.factor == "hsa2":
        s.request("GET", "/appleauth/auth", None, s.auth_headers())
        s.request("GET", "/appleauth/auth/verify/trusteddevice", None, s.auth_headers())
        code = codes.read(apple_id)
        s.request("POST", "/appleauth/auth/verify/trusteddevice/securitycode",
                  {"securityCode": {"code": code}}, s.auth_headers(), ok=(200, 204))
        s.request("GET", "/appleauth/auth/2sv/trust", None, s.auth_headers(), ok=(200, 204))
        s.account_login()
        if not s.account.get("hsaTrustedBrowser"):
            raise RuntimeError("not trusted after the code")
    return s


# --------------------------------------------------------------------------
# libicloud-glib through icloud_glib (asyncio)

def icloud_glib_logins(args, codes, client):
    """Signs N accounts in at once on one asyncio loop.

    Returns (sessions, errors, wall s, CPU s); the CPU time of reading the
    codes (in 2 threads) is subtracted by the caller.
    """
    import asyncio

    import icloud_glib
    from icloud_glib.pyicloud import AsyncPyiCloudService

    two_factor = args.factor == "hsa2"

    async def login(i, pool):
        loop = asyncio.get_running_loop()
        apple_id = account_id(args.prefix, i)
        password = account_password(args.prefix, i)
        pyicloud = client == "icloud-glib-pyicloud"
        create = AsyncPyiCloudService.create if pyicloud else icloud_glib.Session.create
        api = await create(apple_id, password, cookie_directory=args.cookie_directory,
                           endpoint_base=args.base_uri)
        if args.mode == "restore" or not two_factor:
            return api
        if not api.requires_2fa:
            raise RuntimeError("expected a 2FA challenge")
        if not pyicloud:
            await api.request_2fa_code(None)   # AsyncPyiCloudService.create pushed it
        code = await loop.run_in_executor(pool, codes.read, apple_id)
        if not await api.validate_2fa_code(code) or not api.is_trusted_session:
            raise RuntimeError("not trusted after the code")
        return api

    async def run():
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
        cpu0 = time.process_time()
        t0 = time.monotonic()
        results = await asyncio.gather(*(login(i, pool) for i in range(args.accounts)),
                                       return_exceptions=True)
        wall = time.monotonic() - t0
        cpu = time.process_time() - cpu0
        pool.shutdown(wait=True)
        return results, wall, cpu

    # The asyncio loop stays open: the sessions are kept, as the C bench keeps its own.
    loop = asyncio.new_event_loop()
    results, wall, cpu = loop.run_until_complete(run())
    sessions = [r for r in results if not isinstance(r, BaseException)]
    errors = ["%s: %s" % (type(r).__name__, str(r)[:200]) for r in results
              if isinstance(r, BaseException)]
    return sessions, errors, wall, cpu


# --------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--client", required=True,
                        choices=["pyicloud", "python-srp", "icloud-glib", "icloud-glib-pyicloud"])
    parser.add_argument("--mode", choices=["signin", "restore"], default="signin")
    parser.add_argument("--base-uri", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--cookie-directory", required=True)
    parser.add_argument("--floor-ms", type=float, default=0)
    parser.add_argument("--factor", choices=["hsa2", "none"], default="hsa2")
    parser.add_argument("--workers", type=int, default=0,
                        help="thread pool size (default min(N, 6))")
    args = parser.parse_args()
    if args.client == "python-srp" and args.mode == "restore":
        parser.error("python-srp has no restore")

    logging.disable(logging.CRITICAL)
    n = args.accounts
    workers = args.workers if args.workers > 0 else min(n, 6)
    codes = CodeReader(args.base_uri)
    if args.client.startswith("icloud-glib"):
        login = None
    elif args.client == "pyicloud":
        cls = pyicloud_class(args.base_uri)
        login = lambda i: pyicloud_login(cls, args, codes, i)  # noqa: E731
        client = "pyicloud-1.0.0-legacy"
    else:
        _pysrp = srp_module()
        login = lambda i: srp_login(_pysrp, args, codes, i)  # noqa: E731
        client = "python-srp-1.0.20"

    executor = None
    requests_before = codes.count_requests(account_id(args.prefix, 0))
    if args.client.startswith("icloud-glib"):
        import icloud_glib  # noqa: F401  (imports are not measured, as for the others)
        client = "%s (asyncio)" % args.client
        workers = 1
        rss_before = rss_settled_kib()
        sessions, errors, wall, cpu = icloud_glib_logins(args, codes, args.client)
        cpu -= codes.cpu
    else:
        executor = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
        rss_before = rss_settled_kib()
        cpu0 = time.process_time()
        t0 = time.monotonic()
        futures = [executor.submit(login, i) for i in range(n)]
        sessions, errors = [], []
        for future in futures:
            try:
                sessions.append(future.result())
            except Exception as error:  # pylint: disable=broad-except
                errors.append("%s: %s" % (type(error).__name__, str(error)[:200]))
        wall = time.monotonic() - t0
        cpu = time.process_time() - cpu0 - codes.cpu
    time.sleep(0.2)
    rss_after = rss_settled_kib()
    peak = proc_status_kib("VmHWM")
    requests_per_login = codes.count_requests(account_id(args.prefix, 0)) - requests_before
    threads = proc_status_kib("Threads")

    cpu_login_ms = cpu * 1e3 / n
    result = {
        "mode": args.mode,
        "client": client,
        "accounts": n,
        "ok": len(sessions),
        "failed": len(errors),
        "first_error": errors[0] if errors else None,
        "factor": args.factor,
        "workers": workers,
        "wall_s": wall,
        "logins_per_s": n / wall,
        "cpu_s": cpu,
        "bench_control_cpu_s": codes.cpu,
        "cpu_per_login_ms": cpu_login_ms,
        "floor_ms": args.floor_ms,
        "floor_ratio": cpu_login_ms / args.floor_ms if args.floor_ms > 0 else None,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "rss_per_session_kib": (rss_after - rss_before) / n,
        "peak_rss_kib": peak,
        "threads_max": threads,
        "max_stall_ms": None,
        "requests_per_login": requests_per_login,
        "python": sys.version.split()[0],
    }
    print(json.dumps(result, indent=2))
    sys.stdout.flush()
    del sessions
    if executor is not None:
        executor.shutdown(wait=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
