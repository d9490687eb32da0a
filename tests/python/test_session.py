#!/usr/bin/python3
# test_session.py: ICloud.Session from Python against the fake server:
# sign-in (blocking twin and callback style), the error codes, reuse from
# disk, cancellation, 2FA and 2SA.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import stat
import unittest
from xml.etree import ElementTree

from icloudtest import (PASSWORD, ServerTestCase, is_missing_plugin, wait_for,
                        GLib, Gio, ICloud)
from gi.repository import GObject, ICloudMock  # noqa: E402


class SignInTest(ServerTestCase):

    def test_blocking_twin(self):
        session = self.sign_in('py@example.com')
        self.assertEqual(session.get_state(), ICloud.AuthState.AUTHENTICATED)
        self.assertEqual(session.props.state, ICloud.AuthState.AUTHENTICATED)
        self.assertFalse(session.props.requires_2fa)
        self.assertFalse(session.props.requires_2sa)
        self.assertEqual(session.get_apple_id(), 'py@example.com')
        self.assertIsNotNone(session.get_client_id())
        info = session.get_account_info()
        self.assertIsNotNone(info)
        self.assertTrue(info.get_object().has_member('dsInfo'))
        self.assertEqual(self.count_srp('py@example.com'), 1)
        # The session on disk: a 0700 directory.
        self.assertEqual(stat.S_IMODE(os.stat(self.dir).st_mode), 0o700)

    def test_s2k_fo(self):
        session = self.sign_in('py-fo@example.com')
        self.assertEqual(session.get_state(), ICloud.AuthState.AUTHENTICATED)

    def test_init_async_callback_style(self):
        session = self.new_session('py@example.com')
        notified = []
        session.connect('notify::state', lambda obj, pspec: notified.append(obj.props.state))
        result = wait_for(lambda cb: session.init_async(GLib.PRIORITY_DEFAULT, None, cb, None))
        self.assertTrue(session.init_finish(result))
        self.assertEqual(session.get_state(), ICloud.AuthState.AUTHENTICATED)
        self.assertIn(ICloud.AuthState.AUTHENTICATED, notified)

    def test_authenticate_async_callback_style(self):
        session = self.new_session('py-fo@example.com')
        result = wait_for(lambda cb: session.authenticate_async(False, None, cb, None))
        self.assertTrue(session.authenticate_finish(result))
        self.assertEqual(session.get_state(), ICloud.AuthState.AUTHENTICATED)

        # force_refresh signs in again with the password it still holds.
        result = wait_for(lambda cb: session.authenticate_async(True, None, cb, None))
        self.assertTrue(session.authenticate_finish(result))
        self.assertEqual(session.get_state(), ICloud.AuthState.AUTHENTICATED)

    def test_error_in_callback_style(self):
        session = self.new_session('py@example.com', 'not the password')
        result = wait_for(lambda cb: session.init_async(GLib.PRIORITY_DEFAULT, None, cb, None))
        with self.assertRaises(GLib.Error) as caught:
            session.init_finish(result)
        self.assertICloudError(caught.exception, ICloud.Error.FAILED_LOGIN)


class ErrorCodeTest(ServerTestCase):

    def test_wrong_password(self):
        error = self.assertSignInFails('py@example.com', 'not the password',
                                       ICloud.Error.FAILED_LOGIN)
        self.assertTrue(error.matches(ICloud.Error.quark(), ICloud.Error.FAILED_LOGIN))
        self.assertFalse(error.matches(ICloud.error_quark(), ICloud.Error.ACCOUNT_LOCKED))
        self.assertEqual(GLib.quark_to_string(ICloud.error_quark()), 'icloud-error-quark')
        self.assertSignInFails('py-fo@example.com', 'not the password',
                               ICloud.Error.FAILED_LOGIN)

    def test_locked(self):
        self.assertSignInFails('py-locked@example.com', PASSWORD, ICloud.Error.ACCOUNT_LOCKED)

    def test_throttled(self):
        session = self.new_session('py-throttled@example.com')
        with self.assertRaises(GLib.Error) as caught:
            session.authenticate(False, None)
        self.assertICloudError(caught.exception, ICloud.Error.THROTTLED)
        self.assertEqual(session.get_retry_after(), 120)
        self.assertEqual(session.props.retry_after, 120)
        # PyGObject rebuilds a GError from domain, code and message only, so
        # ICloud.Error.get_retry_after() cannot see the value on a Python
        # exception; the message names it.
        self.assertIn('120', caught.exception.message)
        self.assertEqual(session.get_state(), ICloud.AuthState.SIGNED_OUT)

    def test_throttled_fault_then_retry(self):
        self.server.inject_fault('/appleauth/auth/signin/complete', '429', 1, 42)
        session = self.new_session('py@example.com')
        with self.assertRaises(GLib.Error) as caught:
            session.authenticate(False, None)
        self.assertICloudError(caught.exception, ICloud.Error.THROTTLED)
        self.assertEqual(session.get_retry_after(), 42)
        self.assertTrue(session.authenticate(False, None))
        self.assertEqual(session.get_state(), ICloud.AuthState.AUTHENTICATED)

    def test_repair(self):
        self.assertSignInFails('py-repair@example.com', PASSWORD, ICloud.Error.REPAIR_REQUIRED)

    def test_malformed(self):
        self.assertSignInFails('py-malformed@example.com', PASSWORD, ICloud.Error.PROTOCOL)

    def test_no_password(self):
        self.assertSignInFails('py@example.com', None, ICloud.Error.AUTH_REQUIRED)
        self.assertEqual(self.count_srp('py@example.com'), 0)

    def test_no_plugin(self):
        session = self.new_session('py@example.com', sign_in_method='no-such-method')
        with self.assertRaises(GLib.Error) as caught:
            session.init(None)
        self.assertICloudError(caught.exception, ICloud.Error.NO_PLUGIN)
        self.assertIn('no-such-method', caught.exception.message)

    def test_closed(self):
        session = self.sign_in('py@example.com')
        self.assertTrue(session.close(None))
        self.assertEqual(session.get_state(), ICloud.AuthState.CLOSED)
        with self.assertRaises(GLib.Error) as caught:
            session.authenticate(False, None)
        self.assertICloudError(caught.exception, ICloud.Error.CLOSED)

    def test_not_authenticated(self):
        session = self.new_session('py@example.com')
        with self.assertRaises(GLib.Error) as caught:
            session.get_trusted_devices(None)
        self.assertICloudError(caught.exception, ICloud.Error.NOT_AUTHENTICATED)


class ReuseTest(ServerTestCase):

    def test_reuse_from_disk(self):
        first = self.sign_in('py-reuse@example.com')
        self.assertEqual(self.count_srp('py-reuse@example.com'), 1)
        self.assertTrue(first.close(None))
        del first

        # No password: the saved session is used, and no SRP is run.
        second = self.sign_in('py-reuse@example.com', None)
        self.assertEqual(second.get_state(), ICloud.AuthState.AUTHENTICATED)
        self.assertEqual(self.count_srp('py-reuse@example.com'), 1)
        self.assertEqual(self.server.count_requests('py-reuse@example.com',
                                                    '/setup/ws/1/validate'), 1)

    def test_logout_forgets(self):
        session = self.sign_in('py-reuse@example.com')
        self.assertTrue(session.logout(False, False, None))
        session.close(None)
        del session
        self.assertSignInFails('py-reuse@example.com', None, ICloud.Error.AUTH_REQUIRED)


class CancellationTest(ServerTestCase):

    def test_cancelled_before(self):
        session = self.new_session('py-cancel@example.com')
        cancellable = Gio.Cancellable()
        cancellable.cancel()
        with self.assertRaises(GLib.Error) as caught:
            session.authenticate(False, cancellable)
        self.assertTrue(caught.exception.matches(Gio.io_error_quark(),
                                                 Gio.IOErrorEnum.CANCELLED))
        self.assertEqual(session.get_state(), ICloud.AuthState.SIGNED_OUT)
        # A retry works, with the password the session still holds.
        self.assertTrue(session.authenticate(False, None))
        self.assertEqual(session.get_state(), ICloud.AuthState.AUTHENTICATED)

    def test_cancelled_while_waiting(self):
        step = '/appleauth/auth/signin/complete'
        self.server.inject_fault_full(step, 'slow', 1, 0, 3000)
        session = self.new_session('py-cancel@example.com')
        cancellable = Gio.Cancellable()

        def cancel_once_sent():
            if self.server.count_requests(None, step) > 0:
                cancellable.cancel()
                return GLib.SOURCE_REMOVE
            return GLib.SOURCE_CONTINUE

        GLib.timeout_add(5, cancel_once_sent)
        result = wait_for(lambda cb: session.authenticate_async(False, cancellable, cb, None))
        with self.assertRaises(GLib.Error) as caught:
            session.authenticate_finish(result)
        self.assertTrue(caught.exception.matches(Gio.io_error_quark(),
                                                 Gio.IOErrorEnum.CANCELLED))
        self.server.clear_faults()
        self.assertTrue(session.authenticate(False, None))
        self.assertEqual(session.get_state(), ICloud.AuthState.AUTHENTICATED)


class SecondFactorTest(ServerTestCase):

    def skip_if_missing(self, error):
        if is_missing_plugin(error):
            self.skipTest('second-factor plugin not available: %s' % error.message)

    def test_mock_push_service_api(self):
        # The fake push service of the HSA2 bridge, through GIR.
        self.assertEqual(self.server.get_n_push_connections(), 0)
        self.assertEqual(ICloudMock.FAULT_INVALID_NONCE, 'invalid-nonce')
        self.assertEqual(ICloudMock.FAULT_WS_CLOSE_AT_PROMPT, 'ws-close-at-prompt')
        self.server.inject_fault('/v2', ICloudMock.FAULT_WS_PING, 1, 0)
        self.server.clear_faults()
        self.assertEqual(self.server.count_requests(None, '/v2'), 0)

    def test_2fa(self):
        apple_id = '2fa@example.com'
        session = self.sign_in(apple_id, 'two factor')
        self.assertEqual(session.get_state(), ICloud.AuthState.NEEDS_2FA)
        self.assertTrue(session.props.requires_2fa)
        try:
            phones = session.get_trusted_phone_numbers(None)
        except GLib.Error as error:
            self.skip_if_missing(error)
            raise
        self.assertGreater(phones.get_n_items(), 0)
        self.assertIsInstance(phones.get_item(0), ICloud.TrustedPhone)
        self.assertEqual(phones.get_item_type(), ICloud.TrustedPhone.__gtype__)

        # Push to the trusted devices; the server reveals the code.
        self.assertTrue(session.request_2fa_code(None, None))
        code = self.server.dup_last_code(apple_id, None)
        self.assertIsNotNone(code)

        wrong = '000000' if code != '000000' else '111111'
        with self.assertRaises(GLib.Error) as caught:
            session.validate_2fa_code(wrong, None)
        self.assertICloudError(caught.exception, ICloud.Error.INVALID_CODE)
        self.assertEqual(session.get_state(), ICloud.AuthState.NEEDS_2FA)

        self.assertTrue(session.validate_2fa_code(code, None))
        self.assertEqual(session.get_state(), ICloud.AuthState.AUTHENTICATED)
        self.assertTrue(session.trust_session(None))
        self.assertTrue(session.get_is_trusted_session())
        session.close(None)
        del session

        again = self.sign_in(apple_id, None)
        self.assertEqual(again.get_state(), ICloud.AuthState.AUTHENTICATED)

    def test_2fa_sms(self):
        apple_id = '2fa@example.com'
        session = self.sign_in(apple_id, 'two factor')
        try:
            phones = session.get_trusted_phone_numbers(None)
        except GLib.Error as error:
            self.skip_if_missing(error)
            raise
        phone = phones.get_item(0)
        self.assertTrue(session.request_2fa_code(phone, None))
        code = self.server.dup_last_code(apple_id, phone.get_id())
        self.assertIsNotNone(code)
        self.assertTrue(session.validate_2fa_code(code, None))
        self.assertEqual(session.get_state(), ICloud.AuthState.AUTHENTICATED)

    def test_2sa(self):
        apple_id = '2sa@example.com'
        session = self.sign_in(apple_id, 'two step')
        self.assertEqual(session.get_state(), ICloud.AuthState.NEEDS_2SA)
        self.assertTrue(session.props.requires_2sa)
        try:
            devices = session.get_trusted_devices(None)
        except GLib.Error as error:
            self.skip_if_missing(error)
            raise
        self.assertGreater(devices.get_n_items(), 0)
        device = devices.get_item(0)
        self.assertIsInstance(device, ICloud.TrustedDevice)
        self.assertTrue(session.send_verification_code(device, None))
        code = self.server.dup_last_code(apple_id, device.get_id())
        self.assertIsNotNone(code)

        wrong = '000000' if code != '000000' else '111111'
        with self.assertRaises(GLib.Error) as caught:
            session.validate_verification_code(device, wrong, None)
        self.assertICloudError(caught.exception, ICloud.Error.INVALID_CODE)

        self.assertTrue(session.validate_verification_code(device, code, None))
        self.assertEqual(session.get_state(), ICloud.AuthState.AUTHENTICATED)


PLUGIN_ONLY = ('get_password', 'set_auth_state', 'store_data', 'lookup_data',
               'send_request_async', 'send_request_finish', 'account_login_async',
               'account_login_finish')


class ApplicationApiTest(unittest.TestCase):
    """The application's ICloud.Session has none of the plugin API (issue
    11): plugins get an ICloud.AuthContext instead."""

    def test_session_has_no_plugin_method(self):
        session = ICloud.Session(apple_id='x@example.com')
        for name in PLUGIN_ONLY:
            self.assertFalse(hasattr(ICloud.Session, name), name)
            self.assertFalse(hasattr(session, name), name)
        # They live on the context (the two that are the plugin API).
        self.assertTrue(hasattr(ICloud.AuthContext, 'send_request_async'))
        self.assertTrue(hasattr(ICloud.AuthContext, 'lookup'))

    def test_password_is_write_only(self):
        session = ICloud.Session(apple_id='x@example.com', password='x')
        pspec = ICloud.Session.find_property('password')
        self.assertIsNotNone(pspec)
        self.assertFalse(pspec.flags & GObject.ParamFlags.READABLE)
        with self.assertRaises(TypeError):
            session.get_property('password')
        with self.assertRaises(TypeError):
            session.props.password

    def test_gir_session_has_no_plugin_method(self):
        girs = [os.path.join(d, 'ICloud-1.gir')
                for d in os.environ.get('GI_TYPELIB_PATH', '').split(os.pathsep) if d]
        girs = [g for g in girs if os.path.exists(g)]
        self.assertTrue(girs, 'no ICloud-1.gir next to the typelib on GI_TYPELIB_PATH')
        ns = {'gi': 'http://www.gtk.org/introspection/core/1.0'}
        root = ElementTree.parse(girs[0]).getroot()
        session = root.find(".//gi:class[@name='Session']", ns)
        self.assertIsNotNone(session)
        methods = {m.get('name') for m in session.findall('gi:method', ns)}
        self.assertIn('authenticate_async', methods)     # the reader works
        for name in PLUGIN_ONLY:
            self.assertNotIn(name, methods)
        prop = session.find("gi:property[@name='password']", ns)
        self.assertEqual(prop.get('readable'), '0')


if __name__ == '__main__':
    unittest.main(verbosity=2)
