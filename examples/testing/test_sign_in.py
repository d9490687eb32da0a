#!/usr/bin/python3
# test_sign_in.py: how an application tests its iCloud sign-in flows against
# the installed fake iCloud server (docs/testing-your-app.md).
#
# It starts `icloud-mock-server` (installed with libicloud-glib, found on
# PATH) with its default accounts, talks to it with ICloud-1 through
# PyGObject the way the application would, and drives the server through
# its HTTP control API under /_mock/: the code "sent" to a trusted device
# or phone, fault injection, the request log. Nothing here talks to Apple.
#
#     python3 -m unittest -v test_sign_in.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import json
import subprocess
import tempfile
import unittest
import urllib.request

import gi

gi.require_version('ICloud', '1')
from gi.repository import ICloud  # noqa: E402

# Accounts of the server's default accounts file (accounts.json).
PLAIN_ID, PLAIN_PASSWORD = 'user@example.com', 'correct horse'
TWO_FACTOR_ID, TWO_FACTOR_PASSWORD = '2fa@example.com', 'two factor'


class FakeICloud:
    """The installed icloud-mock-server, in a child process."""

    def __init__(self):
        # --exit-on-eof: the server stops when this process goes away.
        self.process = subprocess.Popen(['icloud-mock-server', '--exit-on-eof'],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)
        line = self.process.stdout.readline().strip()
        assert line.startswith('ICLOUD_MOCK_BASE_URI='), line
        self.base_uri = line.split('=', 1)[1]
        self.endpoint = ICloud.Endpoint.new_for_base_uri(self.base_uri)

    def stop(self):
        self.process.stdin.close()
        self.process.wait(timeout=10)

    def control(self, what, body=None):
        """GET /_mock/WHAT, or POST it with a JSON body."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f'{self.base_uri}/_mock/{what}', data=data,
                                         headers={'Content-Type': 'application/json'})
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.load(reply)

    def last_code(self, apple_id, target=None):
        """The code the server last sent (as the user would read it on a device)."""
        query = f'code?apple_id={apple_id}' + (f'&target={target}' if target else '')
        return self.control(query)['code']

    def inject_fault(self, path, fault, count=1, retry_after=0):
        self.control('fault', {'path': path, 'fault': fault, 'count': count,
                               'retry_after': retry_after})

    def count_requests(self, apple_id, path):
        return self.control(f'requests?apple_id={apple_id}&path={path}')['count']


class SignInTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = FakeICloud()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.sessions = tempfile.TemporaryDirectory()
        self.server.control('faults/clear', {})

    def tearDown(self):
        self.sessions.cleanup()

    def session(self, apple_id, password=None):
        """What the application does at start: a session on the fake server,
        saved in a private directory, signed in (GInitable)."""
        session = ICloud.Session(apple_id=apple_id, password=password,
                                 endpoint=self.server.endpoint,
                                 cookie_directory=self.sessions.name)
        session.init(None)
        return session

    def test_two_factor_push(self):
        session = self.session(TWO_FACTOR_ID, TWO_FACTOR_PASSWORD)
        self.assertEqual(session.props.state, ICloud.AuthState.NEEDS_2FA)

        session.request_2fa_code(None, None)            # a push to the trusted devices
        code = self.server.last_code(TWO_FACTOR_ID)
        self.assertTrue(session.validate_2fa_code(code, None))
        self.assertEqual(session.props.state, ICloud.AuthState.AUTHENTICATED)
        self.assertTrue(session.props.is_trusted_session)
        session.close(None)

        # The next start needs neither password nor code, and runs no SRP.
        srp = self.server.count_requests(TWO_FACTOR_ID, '/appleauth/auth/signin/init')
        again = self.session(TWO_FACTOR_ID)
        self.assertEqual(again.props.state, ICloud.AuthState.AUTHENTICATED)
        self.assertEqual(self.server.count_requests(TWO_FACTOR_ID, '/appleauth/auth/signin/init'), srp)

    def test_two_factor_sms_and_wrong_code(self):
        session = self.session(TWO_FACTOR_ID, TWO_FACTOR_PASSWORD)
        phones = session.get_trusted_phone_numbers(None)
        phone = phones.get_item(phones.get_n_items() - 1)   # the phone the user picks
        session.request_2fa_code(phone, None)
        code = self.server.last_code(TWO_FACTOR_ID, phone.get_id())

        wrong = '000000' if code != '000000' else '111111'
        with self.assertRaises(gi.repository.GLib.Error) as caught:
            session.validate_2fa_code(wrong, None)
        self.assertTrue(caught.exception.matches(ICloud.error_quark(), ICloud.Error.INVALID_CODE))
        self.assertTrue(session.validate_2fa_code(code, None))
        self.assertEqual(session.props.state, ICloud.AuthState.AUTHENTICATED)

    def test_throttled(self):
        # The next password sign-in answers 503 with Retry-After: 30.
        self.server.inject_fault('/appleauth/auth/signin/init', '503', retry_after=30)
        session = ICloud.Session(apple_id=PLAIN_ID, password=PLAIN_PASSWORD,
                                 endpoint=self.server.endpoint,
                                 cookie_directory=self.sessions.name)
        with self.assertRaises(gi.repository.GLib.Error) as caught:
            session.init(None)
        self.assertTrue(caught.exception.matches(ICloud.error_quark(), ICloud.Error.THROTTLED))
        self.assertEqual(session.get_retry_after(), 30)     # what the app shows the user

        # Once the fault is used up, the same session signs in.
        self.assertTrue(session.authenticate(False, None))
        self.assertEqual(session.props.state, ICloud.AuthState.AUTHENTICATED)


if __name__ == '__main__':
    unittest.main()
