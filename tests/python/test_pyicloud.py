#!/usr/bin/python3
# test_pyicloud.py: icloud_glib.pyicloud, pyicloud's API on libicloud-glib:
# the exceptions as documented (icloud_glib/pyicloud/exceptions.py and
# docs/python.md), pyicloud's return values, the sync service sharing the
# session files with the async one, the test-server hooks, and the services
# that are not provided.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import asyncio
import os
import unittest
from unittest import mock

from icloudtest import PASSWORD, ServerTestCase, GLib, ICloud

from icloud_glib.pyicloud import AsyncPyiCloudService, PyiCloudService
from icloud_glib.pyicloud import exceptions as exc

ACCOUNT_LOGIN = '/setup/ws/1/accountLogin'


class PyiCloudTestCase(ServerTestCase):

    def create(self, apple_id, password=PASSWORD, **kwargs):
        return AsyncPyiCloudService.create(apple_id, password, cookie_directory=self.dir,
                                           endpoint_base=self.server.get_base_uri(), **kwargs)

    def sync(self, apple_id, password=PASSWORD, **kwargs):
        service = PyiCloudService(apple_id, password, cookie_directory=self.dir,
                                  endpoint_base=self.server.get_base_uri(), **kwargs)
        self.addCleanup(service.close)
        return service

    def assertMapped(self, cls, code, coroutine):
        """The exact pyicloud class, the library's code, the GLib.Error as __cause__."""
        with self.assertRaises(exc.PyiCloudException) as caught:
            asyncio.run(coroutine)
        error = caught.exception
        self.assertIs(type(error), cls, repr(error))
        self.assertEqual(error.icloud_code, code)
        self.assertIsInstance(error.__cause__, GLib.Error)
        self.assertTrue(error.__cause__.matches(ICloud.error_quark(), code), error.__cause__)
        self.assertNotIn(PASSWORD, str(error))
        return error


class ExceptionMapTest(PyiCloudTestCase):
    """The table of icloud_glib/pyicloud/exceptions.py, row by row."""

    def test_failed_login(self):
        self.assertMapped(exc.PyiCloudFailedLoginException, ICloud.Error.FAILED_LOGIN,
                          self.create('py@example.com', 'wrong password'))

    def test_account_locked(self):
        error = self.assertMapped(exc.PyiCloudAPIResponseException, ICloud.Error.ACCOUNT_LOCKED,
                                  self.create('py-locked@example.com'))
        self.assertEqual(error.code, 'account-locked')

    def test_protocol(self):
        error = self.assertMapped(exc.PyiCloudAPIResponseException, ICloud.Error.PROTOCOL,
                                  self.create('py-malformed@example.com'))
        self.assertEqual(error.code, 'protocol')

    def test_repair(self):
        self.assertMapped(exc.PyiCloudAcceptTermsException, ICloud.Error.REPAIR_REQUIRED,
                          self.create('py-repair@example.com'))

    def test_throttled(self):
        error = self.assertMapped(exc.PyiCloudAPIResponseException, ICloud.Error.THROTTLED,
                                  self.create('throttled@example.com', 'slow down'))
        self.assertEqual((error.code, error.retry_after), (503, 120))

    def test_no_stored_password(self):
        self.assertMapped(exc.PyiCloudNoStoredPasswordAvailableException,
                          ICloud.Error.AUTH_REQUIRED, self.create('py-fo@example.com', None))

    def test_two_factor_pending(self):
        async def main():
            async with await self.create('2fa@example.com', 'two factor') as api:
                await api.get_trusted_devices()
        error = self.assertMapped(exc.PyiCloud2FARequiredException,
                                  ICloud.Error.NOT_AUTHENTICATED, main())
        self.assertEqual(error.apple_id, '2fa@example.com')

    def test_two_step_pending(self):
        async def main():
            async with await self.create('2sa@example.com', 'two step') as api:
                await api.request_2fa_code()
        self.assertMapped(exc.PyiCloud2SARequiredException, ICloud.Error.NOT_AUTHENTICATED, main())

    def test_security_key(self):
        async def main():
            async with await self.create('keys@example.com', 'security keys') as api:
                await api.request_2fa_code()
        self.assertMapped(exc.PyiCloud2FARequiredException,
                          ICloud.Error.SECURITY_KEY_REQUIRED, main())

    def test_closed(self):
        async def main():
            api = await self.create('py@example.com')
            await api.close()
            await api.authenticate()
        self.assertMapped(exc.PyiCloudException, ICloud.Error.CLOSED, main())

    def test_network(self):
        base = self.server.get_base_uri()
        self.server.stop()
        with self.assertRaises(exc.PyiCloudAPIResponseException) as caught:
            asyncio.run(AsyncPyiCloudService.create('py@example.com', PASSWORD,
                                                    cookie_directory=self.dir, endpoint_base=base))
        self.assertIsNone(caught.exception.icloud_code)
        self.assertIsInstance(caught.exception.__cause__, GLib.Error)

    def test_plain_http_to_another_host(self):
        with self.assertRaises(exc.PyiCloudException) as caught:
            asyncio.run(AsyncPyiCloudService.create('py@example.com', PASSWORD,
                                                    endpoint_base='http://icloud.example.com'))
        self.assertIs(type(caught.exception), exc.PyiCloudException)
        self.assertIn('icloud.example.com', str(caught.exception))

    def test_sync_failed_login(self):
        with self.assertRaises(exc.PyiCloudFailedLoginException) as caught:
            PyiCloudService('py@example.com', 'wrong password', cookie_directory=self.dir,
                            endpoint_base=self.server.get_base_uri())
        self.assertEqual(caught.exception.icloud_code, ICloud.Error.FAILED_LOGIN)
        self.assertTrue(caught.exception.__cause__.matches(ICloud.error_quark(),
                                                           ICloud.Error.FAILED_LOGIN))

    def test_trust_session_failure_is_false(self):
        async def main():
            async with await self.create('2fa@example.com', 'two factor') as api:
                return await api.trust_session(), api.is_trusted_session
        self.assertEqual(asyncio.run(main()), (False, False))

    def test_wrong_codes_are_false(self):
        async def main():
            async with await self.create('2fa@example.com', 'two factor') as api:
                code = self.server.dup_last_code('2fa@example.com', None)
                wrong = await api.validate_2fa_code('111111' if code == '000000' else '000000')
                return wrong, api.requires_2fa
        self.assertEqual(asyncio.run(main()), (False, True))

        async def two_step():
            async with await self.create('2sa@example.com', 'two step') as api:
                device = api.trusted_devices[0]
                self.assertTrue(await api.send_verification_code(device))
                code = self.server.dup_last_code('2sa@example.com', device['deviceId'])
                return await api.validate_verification_code(
                    device, '111111' if code == '000000' else '000000')
        self.assertIs(asyncio.run(two_step()), False)


class ServiceTest(PyiCloudTestCase):

    def test_create_pushes_a_code_when_2fa_is_pending(self):
        async def main():
            async with await self.create('2fa@example.com', 'two factor') as api:
                return (api.requires_2fa, api.requires_2sa, api.is_trusted_session,
                        api.trusted_phone_numbers)
        requires_2fa, requires_2sa, trusted, phones = asyncio.run(main())
        self.assertEqual((requires_2fa, requires_2sa, trusted), (True, False, False))
        self.assertEqual([p['id'] for p in phones], [1, 2])
        self.assertEqual(self.server.count_codes_sent('2fa@example.com', None), 1)

    def test_trusted_device_bridge(self):
        # The code asked for at sign-in (as pyicloud >= 2.6.1) is a prompt
        # of the trusted-device bridge, checked over it.
        async def main():
            async with await self.create('bridge-prompt@example.com', 'bridge prompt') as api:
                method = api.two_factor_delivery_method
                ok = await api.validate_2fa_code(
                    self.server.dup_last_code('bridge-prompt@example.com', None))
                return method, ok, api.is_trusted_session
        self.assertEqual(asyncio.run(main()), ('trusted_device', True, True))
        self.assertEqual(self.server.count_requests(
            None, '/appleauth/auth/bridge/code/validate'), 1)
        self.assertEqual(self.server.count_requests(None, '/appleauth/auth/verify/trusteddevice'), 0)

    def test_sms_to_a_trusted_phone(self):
        async def main():
            async with await self.create('2fa@example.com', 'two factor') as api:
                phone = api.trusted_phone_numbers[1]
                self.assertTrue(await api.request_2fa_code(phone))
        asyncio.run(main())
        self.assertEqual(self.server.count_codes_sent('2fa@example.com', '2'), 1)

    def test_sync_and_async_share_the_session(self):
        async def main():
            async with await self.create('2fa@example.com', 'two factor') as api:
                ok = await api.validate_2fa_code(self.server.dup_last_code('2fa@example.com', None))
                return ok, api.is_trusted_session
        self.assertEqual(asyncio.run(main()), (True, True))
        srp = self.count_srp('2fa@example.com')
        codes = self.server.count_codes_sent('2fa@example.com', None)

        # The sync service, no password: the saved, trusted session.
        api = self.sync('2fa@example.com', None)
        self.assertEqual((api.requires_2fa, api.is_trusted_session), (False, True))
        self.assertEqual(api.account_name, '2fa@example.com')
        api.close()
        self.assertEqual(self.count_srp('2fa@example.com'), srp)
        self.assertEqual(self.server.count_codes_sent('2fa@example.com', None), codes)

    def test_sync_two_step(self):
        api = self.sync('2sa@example.com', 'two step')
        self.assertTrue(api.requires_2sa)
        devices = api.trusted_devices
        self.assertEqual(devices[0], {'deviceType': 'SMS', 'areaCode': '',
                                      'phoneNumber': '*******58', 'deviceId': '1'})
        self.assertTrue(api.send_verification_code(devices[0]))
        code = self.server.dup_last_code('2sa@example.com', '1')
        self.assertTrue(api.validate_verification_code(devices[0], code))
        self.assertFalse(api.requires_2sa)

    def test_china_mainland_region(self):
        self.server.set_region('china-mainland')

        async def main():
            async with await self.create('china@example.com', 'china mainland',
                                         china_mainland=True) as api:
                return api.session.region, api.account_name
        self.assertEqual(asyncio.run(main()), ('china-mainland', 'china@example.com'))

    def test_environment_hook(self):
        with mock.patch.dict(os.environ, {'ICLOUD_ENDPOINT_BASE': self.server.get_base_uri()}):
            api = PyiCloudService('py@example.com', PASSWORD, cookie_directory=self.dir)
            api.close()
        self.assertEqual(self.count_srp('py@example.com'), 1)

    def test_services_are_not_implemented(self):
        api = self.sync('py@example.com')
        for name in ('devices', 'iphone', 'photos', 'drive', 'files', 'calendar',
                     'contacts', 'reminders', 'account'):
            with self.subTest(service=name):
                with self.assertRaises(NotImplementedError) as caught:
                    getattr(api, name)
                self.assertIn('"%s"' % name, str(caught.exception))
                self.assertIn('Supported: sign-in', str(caught.exception))
        with self.assertRaises(AttributeError):
            api.no_such_thing


if __name__ == '__main__':
    unittest.main(verbosity=2)
