#!/usr/bin/python3
# test_asyncio.py: the _async/_finish → asyncio awaitable helper
# (icloudtest.gio_call and icloudtest.run), and the library through it.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import asyncio
import unittest

from icloudtest import PASSWORD, ServerTestCase, gio_call, run, GLib, Gio, ICloud


class HelperTest(unittest.TestCase):
    """The helper on plain GIO, without the library."""

    def test_result(self):
        async def main():
            stream = Gio.MemoryInputStream.new_from_bytes(GLib.Bytes.new(b'hello'))
            data = await gio_call(stream, 'read_bytes', 5, GLib.PRIORITY_DEFAULT)
            return data.get_data()
        self.assertEqual(run(main()), b'hello')

    def test_error(self):
        async def main():
            file = Gio.File.new_for_path('/nonexistent/for/sure')
            await gio_call(file, 'read', GLib.PRIORITY_DEFAULT)
        with self.assertRaises(GLib.Error) as caught:
            run(main())
        self.assertTrue(caught.exception.matches(Gio.io_error_quark(),
                                                 Gio.IOErrorEnum.NOT_FOUND))

    def test_mixes_with_asyncio(self):
        async def main():
            stream = Gio.MemoryInputStream.new_from_bytes(GLib.Bytes.new(b'abc'))
            sleeper = asyncio.ensure_future(asyncio.sleep(0.01, 'slept'))
            data = await gio_call(stream, 'read_bytes', 3, GLib.PRIORITY_DEFAULT)
            return data.get_data(), await sleeper
        self.assertEqual(run(main()), (b'abc', 'slept'))


class AsyncioSessionTest(ServerTestCase):

    def test_init_and_authenticate(self):
        async def main():
            session = self.new_session('py@example.com')
            await gio_call(session, 'init', GLib.PRIORITY_DEFAULT)
            first = session.get_state()
            before = self.server.count_requests('py@example.com', None)
            # force_refresh goes back to the server.
            await gio_call(session, 'authenticate', True)
            refreshed = self.server.count_requests('py@example.com', None) > before
            await gio_call(session, 'close')
            return first, refreshed, session.get_state()
        self.assertEqual(run(main()), (ICloud.AuthState.AUTHENTICATED, True,
                                       ICloud.AuthState.CLOSED))
        self.assertEqual(self.count_srp('py@example.com'), 1)

    def test_error_code(self):
        async def main():
            session = self.new_session('py-locked@example.com')
            await gio_call(session, 'init', GLib.PRIORITY_DEFAULT)
        with self.assertRaises(GLib.Error) as caught:
            run(main())
        self.assertICloudError(caught.exception, ICloud.Error.ACCOUNT_LOCKED)

    def test_concurrent_accounts(self):
        async def main():
            sessions = [self.new_session(apple_id)
                        for apple_id in ('py@example.com', 'py-fo@example.com', 'py-reuse@example.com')]
            await asyncio.gather(*(gio_call(s, 'init', GLib.PRIORITY_DEFAULT) for s in sessions))
            return [s.get_state() for s in sessions]
        self.assertEqual(run(main()), [ICloud.AuthState.AUTHENTICATED] * 3)

    def test_cancellation(self):
        async def main():
            session = self.new_session('py-cancel@example.com')
            cancellable = Gio.Cancellable()
            cancellable.cancel()
            try:
                await gio_call(session, 'authenticate', False, cancellable=cancellable)
            except GLib.Error as error:
                cancelled = error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED)
            await gio_call(session, 'authenticate', False)
            return cancelled, session.get_state()
        self.assertEqual(run(main()), (True, ICloud.AuthState.AUTHENTICATED))


if __name__ == '__main__':
    unittest.main(verbosity=2)
