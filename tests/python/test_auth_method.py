#!/usr/bin/python3
# test_auth_method.py: an auth method written in Python, registered with
# ICloud.AuthMethod.register() (icloud_auth_method_register), used by a
# session. It signs in with pyicloud 1.0.0's legacy plain-password call,
# which the fake server accepts for accounts marked "legacy_password".
# Never use such a method against Apple.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import json
import unittest

from icloudtest import (LEGACY_SIGNIN, PASSWORD, SRP_INIT, ServerTestCase,
                        wait_for, GLib, Gio, ICloud)
from gi.repository import GObject, Json


class LegacyMethod(ICloud.AuthMethod):
    """Overrides the sign_in vfuncs; the others keep the base class's
    NOT_SUPPORTED defaults."""

    __gtype_name__ = 'PyLegacyMethod'
    calls = 0

    def do_sign_in_async(self, context, password, cancellable, callback, *user_data):
        LegacyMethod.calls += 1
        # callback is the C callback (a gi.CCallback that already holds its
        # user_data): it takes (source_object, result).
        task = Gio.Task.new(self, cancellable,
                            lambda source, result, *unused: callback(source, result),
                            None)

        builder = Json.Builder()
        builder.begin_object()
        builder.set_member_name('accountName')
        builder.add_string_value(context.get_apple_id())
        builder.set_member_name('password')
        builder.add_string_value(password)
        builder.set_member_name('rememberMe')
        builder.add_boolean_value(True)
        builder.set_member_name('trustTokens')
        builder.begin_array()
        builder.end_array()
        builder.end_object()

        def sent(source, result, *unused):
            try:
                response = source.send_request_finish(result)
                if response.get_status() == 401:
                    task.return_error(GLib.Error.new_literal(
                        ICloud.error_quark(), 'The legacy sign-in was refused',
                        ICloud.Error.FAILED_LOGIN))
                    return
                response.check()
                # The session token is the method's result (kept until
                # do_sign_in_finish hands it over: one sign-in at a time).
                self._token = response.get_header('X-Apple-Session-Token')
                task.return_boolean(True)
            except GLib.Error as error:
                task.return_error(error)

        context.send_request_async('POST', ICloud.Root.AUTH,
                                   '/signin?isRememberMeEnabled=true',
                                   builder.get_root(),
                                   ICloud.RequestFlags.AUTH_HEADERS,
                                   cancellable, sent, None)

    def do_sign_in_finish(self, result):
        ok = result.propagate_boolean()
        token, self._token = getattr(self, '_token', None), None
        return ok, token


class JsonBodyMethod(LegacyMethod):
    """The same call, with the body parsed by Json.from_string()."""

    __gtype_name__ = 'PyJsonBodyMethod'

    def do_sign_in_async(self, context, password, cancellable, callback, *user_data):
        task = Gio.Task.new(self, cancellable,
                            lambda source, result, *unused: callback(source, result),
                            None)
        body = Json.from_string(json.dumps({
            'accountName': context.get_apple_id(),
            'password': password,
            'rememberMe': True,
            'trustTokens': [],
        }))

        def sent(source, result, *unused):
            try:
                response = source.send_request_finish(result)
                response.check()
                self._token = response.get_header('X-Apple-Session-Token')
                task.return_boolean(True)
            except GLib.Error as error:
                task.return_error(error)

        context.send_request_async('POST', ICloud.Root.AUTH,
                                   '/signin?isRememberMeEnabled=true', body,
                                   ICloud.RequestFlags.AUTH_HEADERS,
                                   cancellable, sent, None)


class LoopbackRegion(ICloud.Region):
    """A region written in Python: its endpoint is the fake server."""

    __gtype_name__ = 'PyLoopbackRegion'
    base_uri = None

    def do_create_endpoint(self):
        return ICloud.Endpoint.new_for_base_uri(LoopbackRegion.base_uri)

    def do_handles_domain(self, domain):
        return domain.lower() == 'icloud.py.test'


ICloud.AuthMethod.register(LegacyMethod.__gtype__, 'py-legacy', 0)
ICloud.AuthMethod.register(JsonBodyMethod.__gtype__, 'py-legacy-json', 0)
ICloud.Region.register(LoopbackRegion.__gtype__, 'py-loopback', 0)


class PythonAuthMethodTest(ServerTestCase):

    APPLE_ID = 'py-legacy@example.com'

    def test_registered(self):
        point = Gio.IOExtensionPoint.lookup(ICloud.AUTH_METHOD_EXTENSION_POINT_NAME)
        self.assertIsNotNone(point)
        extension = point.get_extension_by_name('py-legacy')
        self.assertIsNotNone(extension)
        self.assertEqual(extension.get_type(), LegacyMethod.__gtype__)
        self.assertTrue(GObject.type_is_a(LegacyMethod.__gtype__, ICloud.AuthMethod.__gtype__))

    def test_python_method_signs_in(self):
        before = LegacyMethod.calls
        session = self.sign_in(self.APPLE_ID, sign_in_method='py-legacy')
        self.assertEqual(session.get_state(), ICloud.AuthState.AUTHENTICATED)
        self.assertEqual(LegacyMethod.calls, before + 1)
        # The legacy call was made, and no SRP.
        self.assertEqual(self.server.count_requests(self.APPLE_ID, LEGACY_SIGNIN), 1)
        self.assertEqual(self.server.count_requests(self.APPLE_ID, SRP_INIT), 0)
        log = json.loads(self.server.dup_request_log())
        self.assertIn(('POST', LEGACY_SIGNIN), [(e['method'], e['path']) for e in log])

    def test_python_method_async(self):
        session = self.new_session(self.APPLE_ID, sign_in_method='py-legacy-json')
        result = wait_for(lambda cb: session.init_async(GLib.PRIORITY_DEFAULT, None, cb, None))
        self.assertTrue(session.init_finish(result))
        self.assertEqual(session.get_state(), ICloud.AuthState.AUTHENTICATED)
        self.assertEqual(self.server.count_requests(self.APPLE_ID, LEGACY_SIGNIN), 1)
        self.assertEqual(self.server.count_requests(self.APPLE_ID, SRP_INIT), 0)

    def test_python_method_error(self):
        session = self.new_session(self.APPLE_ID, 'not the password',
                                   sign_in_method='py-legacy')
        with self.assertRaises(GLib.Error) as caught:
            session.init(None)
        self.assertICloudError(caught.exception, ICloud.Error.FAILED_LOGIN)
        self.assertNotEqual(session.get_state(), ICloud.AuthState.AUTHENTICATED)

    def test_vfunc_through_invoker(self):
        # The invoker reaches the Python override; a context an application
        # makes itself belongs to no session: the request is refused and
        # the error comes back through the Python GTask.
        method = LegacyMethod()
        context = ICloud.AuthContext()
        before = LegacyMethod.calls
        result = wait_for(lambda cb: method.sign_in_async(context, PASSWORD, None, cb, None))
        self.assertEqual(LegacyMethod.calls, before + 1)
        with self.assertRaises(GLib.Error) as caught:
            method.sign_in_finish(result)
        self.assertICloudError(caught.exception, ICloud.Error.NOT_AUTHENTICATED)
        self.assertEqual(self.server.count_requests(self.APPLE_ID, None), 0)

    def test_unimplemented_vfunc(self):
        # Not overridden: the base class says NOT_SUPPORTED.
        method = LegacyMethod()
        result = wait_for(lambda cb: method.trust_async(ICloud.AuthContext(), None, cb, None))
        with self.assertRaises(GLib.Error) as caught:
            method.trust_finish(result)
        self.assertTrue(caught.exception.matches(Gio.io_error_quark(),
                                                 Gio.IOErrorEnum.NOT_SUPPORTED))


class PythonRegionTest(ServerTestCase):

    def test_region_endpoint(self):
        LoopbackRegion.base_uri = self.server.get_base_uri()
        endpoint = LoopbackRegion().create_endpoint()
        self.assertTrue(endpoint.equal(self.endpoint))

    def test_session_uses_python_region(self):
        LoopbackRegion.base_uri = self.server.get_base_uri()
        # No endpoint: the session asks the region for one.
        session = ICloud.Session(apple_id='py@example.com', password=PASSWORD,
                                 region='py-loopback', cookie_directory=self.dir)
        self.assertTrue(session.init(None))
        self.assertEqual(session.get_state(), ICloud.AuthState.AUTHENTICATED)
        self.assertEqual(session.get_region(), 'py-loopback')
        self.assertTrue(session.get_endpoint().equal(self.endpoint))
        self.assertEqual(self.count_srp('py@example.com'), 1)

    def test_python_region_claims_its_domain(self):
        # Apple's domainToUse names the region that claims it (issue 11).
        region = LoopbackRegion()
        self.assertTrue(region.handles_domain('iCloud.PY.test'))
        self.assertFalse(region.handles_domain('iCloud.com.cn'))
        self.server.inject_reply('/setup/ws/1/accountLogin', 302,
                                 '{"domainToUse": "iCloud.py.test"}', 1)
        session = self.new_session('py@example.com')
        with self.assertRaises(GLib.Error) as caught:
            session.init(None)
        self.assertTrue(caught.exception.matches(ICloud.error_quark(),
                                                 ICloud.Error.WRONG_REGION))
        self.assertIn('use the region “py-loopback”', caught.exception.message)


if __name__ == '__main__':
    unittest.main(verbosity=2)
