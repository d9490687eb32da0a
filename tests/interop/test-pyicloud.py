#!/usr/bin/python3
"""pyicloud 1.0.0 (Debian's python3-pyicloud) against the fake server, then
`icloud-auth import-pyicloud` on the files it wrote.

pyicloud 1.0.0 signs in with Apple's *legacy plain-password* call,
POST AUTH/signin {"accountName", "password", ...} (protocol §1.2 step 3b),
which Apple replaced with SRP. THIS IS PYICLOUD'S LEGACY SIGN-IN PATH: the
fake server accepts it only for accounts marked "legacy_password", and this
library never sends a password. Everything after the password (accountLogin,
the 2FA code, 2sv/trust, the 2SA devices and codes) is the protocol of
today, which is what this test checks against a real third-party client.

pyicloud is pointed at the fake server (one origin, plain http on
127.0.0.1) by overriding its endpoint class attributes, AUTH_ENDPOINT,
HOME_ENDPOINT and SETUP_ENDPOINT, in a subclass.

Run with /usr/bin/python3 through meson (ICLOUD_MOCK_SERVER, ICLOUD_AUTH,
ICLOUD_MOCK_ACCOUNTS set); TAP on stdout; no code, token or password is
printed.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata

import requests
import requests.sessions
import requests.utils

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mockserver import Checks, MockServer  # noqa: E402

from pyicloud import PyiCloudService  # noqa: E402  (Debian python3-pyicloud 1.0.0)

AUTH = "/appleauth/auth"
SETUP = "/setup/ws/1"

# data/accounts.json: legacy@example.com, hsa2, legacy_password.
LEGACY_2FA = ("legacy@example.com", "plain password")
# A 2SA account with the legacy flag, added through /_mock/accounts.
LEGACY_2SA = ("legacy2sa@example.com", "plain two step")
LEGACY_2SA_ACCOUNT = {
    "apple_id": LEGACY_2SA[0], "password": LEGACY_2SA[1], "iterations": 1000,
    "factor": "hsa", "legacy_password": True, "dsid": "8000000099",
    "devices": [{"deviceType": "SMS", "areaCode": "", "phoneNumber": "*******58",
                 "deviceId": "1"}],
}


# One connection per request. requests keeps connections alive and never
# sends a POST again; when the fake server closes an idle connection just as
# pyicloud reuses it (seen once under AddressSanitizer, on a loaded
# machine), the POST fails with RemoteDisconnected, which says nothing about
# interoperability.
_default_headers = requests.utils.default_headers


def _headers_without_keep_alive():
    headers = _default_headers()
    headers["Connection"] = "close"
    return headers


requests.sessions.default_headers = _headers_without_keep_alive


def service_class(base_uri):
    class FakeICloudService(PyiCloudService):
        AUTH_ENDPOINT = base_uri + AUTH
        HOME_ENDPOINT = base_uri
        SETUP_ENDPOINT = base_uri + SETUP
    return FakeICloudService


def base_name(apple_id):
    """pyicloud's file name: the Apple ID without non-word characters."""
    return "".join(c for c in apple_id if re.match(r"\w", c))


def account_name(apple_id):
    """This library's own file name (icloud_store_account_name ()): pyicloud's
    name of the case-folded Apple ID cut to 64 bytes, '-', and 16 hex digits
    of the SHA-256 of the case-folded ID (G_NORMALIZE_DEFAULT is NFD)."""
    folded = unicodedata.normalize("NFD", apple_id).casefold()
    stem = base_name(folded)
    while len(stem.encode()) > 64:
        stem = stem[:-1]
    return stem + "-" + hashlib.sha256(folded.encode()).hexdigest()[:16]


def request_push(api):
    """pyicloud 1.0.0 never asks Apple to send a 2FA code (protocol §9: Apple
    now sends one only when asked). The simplest faithful way is to ask the
    way newer clients do, GET AUTH/verify/trusteddevice, through pyicloud's
    own HTTP session: its cookies, and the auth headers it builds itself
    (scnt and X-Apple-ID-Session-Id from its session data, as
    validate_2fa_code adds them)."""
    headers = api._get_auth_headers({"Accept": "application/json"})
    if api.session_data.get("scnt"):
        headers["scnt"] = api.session_data["scnt"]
    if api.session_data.get("session_id"):
        headers["X-Apple-ID-Session-Id"] = api.session_data["session_id"]
    api.session.get(api.AUTH_ENDPOINT + "/verify/trusteddevice", headers=headers)


def run_2fa(checks, mock, service, pydir):
    apple_id, password = LEGACY_2FA
    api = service(apple_id, password, cookie_directory=pydir)
    checks.equal(mock.count(apple_id, AUTH + "/signin"), 1,
                 "2FA: pyicloud 1.0.0 signed in with the legacy /signin call")
    checks.equal(mock.count(apple_id, AUTH + "/signin/init"), 0, "2FA: and no SRP")
    checks.ok(api.requires_2fa, "2FA: pyicloud sees requires_2fa")
    checks.ok(not api.is_trusted_session, "2FA: the session is not trusted yet")

    request_push(api)
    checks.equal(mock.codes_sent(apple_id), 1, "2FA: the fake server pushed one code")
    code = mock.code(apple_id)

    wrong = "%06d" % ((int(code) + 1) % 1000000)
    checks.ok(not api.validate_2fa_code(wrong), "2FA: a wrong code is refused")
    checks.ok(api.requires_2fa, "2FA: still required after a wrong code")

    checks.ok(api.validate_2fa_code(code), "2FA: validate_2fa_code accepts the code (and trusts)")
    checks.ok(api.is_trusted_session, "2FA: the session is trusted")
    checks.ok(not api.requires_2fa, "2FA: requires_2fa is cleared")
    checks.ok(api.trust_session(), "2FA: trust_session succeeds again")
    checks.ok(bool(api.session_data.get("trust_token")), "2FA: pyicloud saved a trust token")

    base = base_name(apple_id)
    checks.ok(os.path.isfile(os.path.join(pydir, base + ".session")),
              "2FA: pyicloud wrote <base>.session")
    checks.ok(os.path.isfile(os.path.join(pydir, base)),
              "2FA: pyicloud 1.0.0 wrote its LWP cookie jar as <base>")
    with open(os.path.join(pydir, base), encoding="utf-8") as jar:
        content = jar.read()
    checks.ok(content.startswith("#LWP-Cookies-2.0") and "X-APPLE-WEBAUTH-TOKEN" in content,
              "2FA: the jar holds the web-auth cookie")


def run_2sa(checks, mock, service, pydir):
    apple_id, password = LEGACY_2SA
    mock.add_accounts([LEGACY_2SA_ACCOUNT])
    api = service(apple_id, password, cookie_directory=pydir)
    checks.equal(mock.count(apple_id, AUTH + "/signin"), 1,
                 "2SA: pyicloud 1.0.0 signed in with the legacy /signin call")
    checks.ok(api.requires_2sa and not api.requires_2fa, "2SA: pyicloud sees requires_2sa only")

    devices = api.trusted_devices
    checks.equal(len(devices or []), 1, "2SA: trusted_devices lists the account's device")
    device = devices[0]
    checks.equal(device.get("deviceId"), "1", "2SA: with Apple's device id")
    checks.ok(api.send_verification_code(device), "2SA: send_verification_code succeeds")
    checks.equal(mock.codes_sent(apple_id, "1"), 1, "2SA: the fake server sent one code")
    code = mock.code(apple_id, "1")

    wrong = "%06d" % ((int(code) + 1) % 1000000)
    checks.ok(not api.validate_verification_code(dict(device), wrong),
              "2SA: a wrong code is refused")
    checks.ok(api.validate_verification_code(dict(device), code),
              "2SA: validate_verification_code accepts the code")
    checks.ok(not api.requires_2sa, "2SA: requires_2sa is cleared")
    checks.ok(api.is_trusted_session, "2SA: the session is trusted")


def icloud_auth(mock, apple_id, ourdir, *args):
    cmd = [os.environ["ICLOUD_AUTH"], "--apple-id", apple_id,
           "--endpoint-base", mock.base_uri, "--cookie-directory", ourdir, "--json"]
    cmd += list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=120)
    try:
        out = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else None
    except ValueError:
        out = None
    return proc.returncode, out, proc.stderr


def counts(mock, apple_id):
    return {
        "srp": mock.count(apple_id, AUTH + "/signin/init"),
        "legacy": mock.count(apple_id, AUTH + "/signin"),
        "codes": mock.codes_sent(apple_id),
        "verify": mock.count(apple_id, AUTH + "/verify/trusteddevice/securitycode"),
        "validate": mock.count(apple_id, SETUP + "/validate"),
    }


def run_import(checks, mock, pydir, workdir):
    apple_id = LEGACY_2FA[0]
    base = base_name(apple_id)

    # 1. pyicloud 1.0.0's naming: <base> and <base>.session.
    ourdir = os.path.join(workdir, "ours-1")
    before = counts(mock, apple_id)
    status, out, err = icloud_auth(mock, apple_id, ourdir, "import-pyicloud", pydir)
    after = counts(mock, apple_id)
    checks.equal(status, 0, "import (<base>): icloud-auth import-pyicloud succeeds")
    checks.equal((out or {}).get("state"), "authenticated",
                 "import (<base>): the session is authenticated")
    checks.equal((out or {}).get("trusted"), True, "import (<base>): and trusted")
    checks.equal(after["srp"] - before["srp"], 0, "import (<base>): with zero SRP requests")
    checks.equal(after["legacy"] - before["legacy"], 0, "import (<base>): and no password sign-in")
    checks.equal(after["codes"] - before["codes"], 0, "import (<base>): no code was sent")
    checks.equal(after["verify"] - before["verify"], 0, "import (<base>): no code was checked")
    checks.ok(after["validate"] > before["validate"],
              "import (<base>): the imported web session was validated with the server")
    saved = os.path.join(ourdir, account_name(apple_id) + ".session.json")
    checks.ok(os.path.isfile(saved), "import (<base>): the session was saved in our directory")
    checks.equal(oct(os.stat(saved).st_mode & 0o777), oct(0o600), "import (<base>): as a 0600 file")

    # A later run needs no password and no code either.
    status, out, _ = icloud_auth(mock, apple_id, ourdir, "status")
    checks.equal((status, (out or {}).get("state")), (0, "authenticated"),
                 "import (<base>): a later `status` finds it authenticated")
    checks.equal(counts(mock, apple_id)["srp"], before["srp"], "import (<base>): still no SRP")

    # 2. pyicloud 2.x's naming: <base>.cookiejar and <base>.session.
    newdir = os.path.join(workdir, "pyicloud-2")
    os.makedirs(newdir)
    shutil.copy(os.path.join(pydir, base + ".session"), newdir)
    shutil.copy(os.path.join(pydir, base), os.path.join(newdir, base + ".cookiejar"))
    ourdir2 = os.path.join(workdir, "ours-2")
    before = counts(mock, apple_id)
    status, out, _ = icloud_auth(mock, apple_id, ourdir2, "import-pyicloud", newdir)
    after = counts(mock, apple_id)
    checks.equal((status, (out or {}).get("state")), (0, "authenticated"),
                 "import (<base>.cookiejar): authenticated")
    checks.equal(after["srp"] - before["srp"], 0, "import (<base>.cookiejar): with zero SRP requests")
    checks.equal(after["codes"] - before["codes"], 0, "import (<base>.cookiejar): and no code")

    # 3. A malformed file: exit status 12 (protocol), and the saved session
    # stays byte-identical.
    with open(saved, "rb") as f:
        saved_bytes = f.read()
    for label, name, content in (
            ("session JSON", base + ".session", '{"session_token": 5, '),
            ("session JSON without a token", base + ".session", '{"client_id": "auth-x"}'),
            ("cookie jar", base, "not an LWP cookie jar\n"),
            ("cookie jar", base, '#LWP-Cookies-2.0\nSet-Cookie3: a="unterminated; domain="x"\n')):
        bad = os.path.join(workdir, "bad")
        shutil.rmtree(bad, ignore_errors=True)
        os.makedirs(bad)
        shutil.copy(os.path.join(pydir, base + ".session"), bad)
        shutil.copy(os.path.join(pydir, base), bad)
        with open(os.path.join(bad, name), "w", encoding="utf-8") as f:
            f.write(content)
        status, out, err = icloud_auth(mock, apple_id, ourdir, "import-pyicloud", bad)
        checks.equal(status, 12, f"malformed {label}: exit status 12")
        checks.equal((out or {}).get("error"), "protocol", f"malformed {label}: a protocol error")
        checks.ok(os.path.join(bad, name) + " " in err,
                  f"malformed {label}: the message names the file")
        with open(saved, "rb") as f:
            checks.ok(f.read() == saved_bytes, f"malformed {label}: the saved session is unchanged")

    # 4. No pyicloud session there: storage (13), nothing changed.
    empty = os.path.join(workdir, "empty")
    os.makedirs(empty)
    status, out, _ = icloud_auth(mock, apple_id, ourdir, "import-pyicloud", empty)
    checks.equal(status, 13, "no pyicloud files: exit status 13")
    with open(saved, "rb") as f:
        checks.ok(f.read() == saved_bytes, "no pyicloud files: the saved session is unchanged")


def main():
    checks = Checks()
    workdir = tempfile.mkdtemp(prefix="icloud-interop-")
    try:
        with MockServer() as mock:
            service = service_class(mock.base_uri)
            pydir = os.path.join(workdir, "pyicloud")
            run_2fa(checks, mock, service, pydir)
            run_2sa(checks, mock, service, pydir)
            run_import(checks, mock, pydir, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return checks.done()


if __name__ == "__main__":
    sys.exit(main())
