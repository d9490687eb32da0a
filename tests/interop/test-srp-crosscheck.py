#!/usr/bin/python3
"""SRP cross-check: Debian's python3-srp, configured the way pyicloud
configures it, against this library's client and the fake server.

pyicloud (2.x, and icloudpd) drive the `srp` package with
srp.rfc5054_enable(), srp.no_username_in_x(), hash SHA256, group NG_2048,
and a password object whose encode() returns Apple's PBKDF2 output (s2k:
from SHA-256(password); s2k_fo: from its lower-case hex). This test:

1. runs handshakes with fixed secrets through srp.User (the client pyicloud
   uses) and srp.Verifier, and through the library's maths (srp-helper,
   the crypto seam the srp plugin and the fake server share): A, M1 and M2
   must be identical, and each side must accept the other's proof;
2. signs in to the fake server over HTTP with srp.User as the client
   (signin/init, signin/complete), for an s2k and an s2k_fo account: the
   server checks M1 with its own maths and accepts it.

Only salts without a leading zero byte are used: python3-srp (1.0.20, both
backends; _ctsrp in every version) turns the salt into an integer and so
drops leading 0x00 bytes from x and M1, while Apple, pysrp 1.0.22's
_pysrp and this library hash the salt bytes exactly as received (protocol
§3.3, "Salt leading zeros"; cocagne/pysrp#61). For the same reason the
inner digest H(":" || p) must not start with 0x00 either (srp <= 1.0.20
_pysrp strips it; protocol §3.3), and A must be a full 256 bytes.
Run with /usr/bin/python3; TAP on stdout; nothing secret is printed.
"""

import base64
import hashlib
import importlib
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mockserver import Checks, MockServer  # noqa: E402

import srp  # noqa: E402  (Debian python3-srp)

AUTH = "/appleauth/auth"


def b64(data):
    return base64.b64encode(data).decode()


def derive(password, salt, iterations, protocol):
    digest = hashlib.sha256(password.encode("utf-8")).digest()
    if protocol == "s2k_fo":
        digest = digest.hex().encode("ascii")
    return hashlib.pbkdf2_hmac("sha256", digest, salt, iterations, 32)


class SrpPassword:
    """As pyicloud's srp_password.SrpPassword: the `srp` package calls
    encode() when it computes x, after set_encrypt_info() gave it what
    signin/init answered; encode() is Apple's PBKDF2 output."""

    def __init__(self, password, salt=None, iterations=None, protocol=None):
        self.password = password
        self.set_encrypt_info(salt, iterations, protocol)

    def set_encrypt_info(self, salt, iterations, protocol):
        self.salt = salt
        self.iterations = iterations
        self.protocol = protocol

    def encode(self):
        return derive(self.password, self.salt, self.iterations, self.protocol)


def configure(mod):
    mod.rfc5054_enable()
    mod.no_username_in_x()


def helper(request):
    program = os.environ["SRP_HELPER"]
    out = subprocess.run([program], input=json.dumps(request), capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def safe_inputs(password, salt, iterations, protocol):
    """The cases every srp version computes the same way (see above)."""
    p = derive(password, salt, iterations, protocol)
    return salt[0] != 0 and hashlib.sha256(b":" + p).digest()[0] != 0


def draw_case(rng_bytes, protocol):
    while True:
        salt = rng_bytes(16)
        password = "pw-" + rng_bytes(6).hex()
        if safe_inputs(password, salt, 1000, protocol):
            return password, salt


def offline(checks, mod, label, identity, password, salt, protocol, iterations=1000):
    configure(mod)
    # Fixed 32-byte secrets: python3-srp 1.0.20 takes bytes_a/bytes_b of 32.
    while True:
        a = os.urandom(32)
        b = os.urandom(32)
        usr = mod.User(identity, SrpPassword(password, salt, iterations, protocol),
                       hash_alg=mod.SHA256, ng_type=mod.NG_2048, bytes_a=a)
        _, A = usr.start_authentication()
        if len(A) == 256:
            break

    # (a) our client against srp's numbers: same A, M1, M2 for this B.
    p = derive(password, salt, iterations, protocol)
    x = int.from_bytes(hashlib.sha256(salt + hashlib.sha256(b":" + p).digest()).digest(), "big")
    v = pow(2, x, int(_N_HEX, 16))
    v_bytes = v.to_bytes((v.bit_length() + 7) // 8, "big")
    ver = mod.Verifier(identity, salt, v_bytes, A, hash_alg=mod.SHA256,
                       ng_type=mod.NG_2048, bytes_b=b)
    _, B = ver.get_challenge()
    M1 = usr.process_challenge(salt, B)
    HAMK = ver.verify_session(M1)
    checks.ok(HAMK is not None, f"{label}: srp.Verifier accepts srp.User's proof")

    ours = helper({"mode": "client", "identity": identity, "password": password,
                   "protocol": protocol, "iterations": iterations, "salt": b64(salt),
                   "a": a.hex(), "B": b64(B)})
    checks.ok(ours["A"] == b64(A), f"{label}: our client's A equals srp.User's")
    checks.ok(ours["M1"] == b64(M1), f"{label}: our client's M1 equals srp.User's")
    checks.ok(HAMK is not None and ours["M2"] == b64(HAMK),
              f"{label}: our client's M2 equals srp.Verifier's H_AMK")

    # (b) the fake server's maths against srp.User as the client.
    server = helper({"mode": "server", "identity": identity, "password": password,
                     "protocol": protocol, "iterations": iterations, "salt": b64(salt),
                     "b": b.hex(), "A": b64(A), "M1": b64(M1)})
    checks.ok(server["B"] == b64(B), f"{label}: the fake server's B equals srp.Verifier's")
    checks.ok(server["accepted"], f"{label}: the fake server accepts srp.User's M1")
    checks.ok(server.get("M2") == (b64(HAMK) if HAMK else None),
              f"{label}: the fake server's M2 equals srp's")
    usr.verify_session(base64.b64decode(server["M2"]) if server.get("M2") else b"")
    checks.ok(usr.authenticated(), f"{label}: srp.User accepts the fake server's M2")

    # And a wrong proof is refused by both.
    bad = bytes([M1[0] ^ 1]) + M1[1:]
    server = helper({"mode": "server", "identity": identity, "password": password,
                     "protocol": protocol, "iterations": iterations, "salt": b64(salt),
                     "b": b.hex(), "A": b64(A), "M1": b64(bad)})
    checks.ok(not server["accepted"], f"{label}: the fake server refuses a wrong M1")


_N_HEX = (
    "AC6BDB41324A9A9BF166DE5E1389582FAF72B6651987EE07FC3192943DB56050A37329CBB4"
    "A099ED8193E0757767A13DD52312AB4B03310DCD7F48A9DA04FD50E8083969EDB767B0CF60"
    "95179A163AB3661A05FBD5FAAAE82918A9962F0B93B855F97993EC975EEAA80D740ADBF4FF"
    "747359D041D5C33EA71D281E446B14773BCA97B43A23FB801676BD207A436C6481F1D2B907"
    "8717461A5B9D32E688F87748544523B524B0D57D5EA77A2775D2ECFA032CFBDBF52FB37861"
    "60279004E57AE6AF874E7303CE53299CCC041C7BC308D82A5698F3A8D0C38271AE35F8E9DB"
    "FBB694B5C803D89F7AE435DE236D525F54759B65E372FCD68EF20FA7111F9E4AFF73"
)


def over_http(checks, mock, mod, label, apple_id, password):
    """python3-srp as the client signs in to the fake server."""
    configure(mod)
    srp_password = SrpPassword(password)
    while True:
        usr = mod.User(apple_id, srp_password, hash_alg=mod.SHA256, ng_type=mod.NG_2048)
        _, A = usr.start_authentication()
        if len(A) == 256:
            break
    status, headers, init, _ = mock.request("POST", AUTH + "/signin/init",
                                            {"a": b64(A), "accountName": apple_id,
                                             "protocols": ["s2k", "s2k_fo"]})
    checks.equal(status, 200, f"{label}: signin/init answers 200")
    salt = base64.b64decode(init["salt"])
    B = base64.b64decode(init["b"])
    if not checks.ok(safe_inputs(password, salt, init["iteration"], init["protocol"]),
                     f"{label}: the fixture's salt has no leading zero byte"):
        return
    # pyicloud gives the password object what init answered, then lets srp
    # compute the proof.
    srp_password.set_encrypt_info(salt, init["iteration"], init["protocol"])
    M1 = usr.process_challenge(salt, B)
    checks.ok(M1 is not None, f"{label}: srp.User computed M1")
    body = {"accountName": apple_id, "c": init["c"], "m1": b64(M1), "m2": b64(usr.H_AMK),
            "rememberMe": True, "trustTokens": []}
    hdrs = {"scnt": headers["scnt"], "X-Apple-ID-Session-Id": headers["X-Apple-ID-Session-Id"]}
    status, headers, _, _ = mock.request("POST", AUTH + "/signin/complete?isRememberMeEnabled=true",
                                         body, hdrs)
    checks.equal(status, 200, f"{label}: the fake server accepts python3-srp's proof")
    checks.ok(bool(headers.get("X-Apple-Session-Token")), f"{label}: and issues a session token")

    # The same handshake with one bit of M1 flipped is refused.
    _, _, init, _ = mock.request("POST", AUTH + "/signin/init",
                                 {"a": b64(A), "accountName": apple_id, "protocols": ["s2k"]})
    bad = bytes([M1[0] ^ 1]) + M1[1:]
    status, _, _, _ = mock.request("POST", AUTH + "/signin/complete?isRememberMeEnabled=true",
                                   dict(body, c=init["c"], m1=b64(bad)))
    checks.equal(status, 401, f"{label}: the fake server refuses a wrong proof")


def main():
    checks = Checks()
    backends = [("default backend " + srp._mod.__name__, srp._mod)]
    try:
        pysrp = importlib.import_module("srp._pysrp")
        if pysrp is not srp._mod:
            backends.append(("srp._pysrp", pysrp))
    except ImportError:
        pass

    identity = "user@example.com"
    for label, mod in backends:
        for protocol in ("s2k", "s2k_fo"):
            for i in range(3):
                password, salt = draw_case(os.urandom, protocol)
                offline(checks, mod, f"{label} {protocol} #{i}", identity, password, salt, protocol)

    # The fixtures of data/accounts.json (ICLOUD_MOCK_ACCOUNTS).
    with MockServer() as mock:
        for label, mod in backends:
            over_http(checks, mock, mod, f"{label} s2k over HTTP", "user@example.com", "correct horse")
            over_http(checks, mock, mod, f"{label} s2k_fo over HTTP", "fo@example.com", "battery staple")

    return checks.done()


if __name__ == "__main__":
    sys.exit(main())
