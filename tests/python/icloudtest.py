# icloudtest.py: what the Python suite shares: the fake server (ICloudMock-0,
# in this process), sessions on it, waiting for GIO callbacks, and a small
# bridge from an _async/_finish pair to an asyncio awaitable.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import asyncio
import json
import os
import shutil
import tempfile
import unittest

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gio', '2.0')
gi.require_version('Json', '1.0')
gi.require_version('ICloud', '1')
gi.require_version('ICloudMock', '0')

from gi.repository import GLib, Gio, ICloud, ICloudMock  # noqa: E402

PASSWORD = 'correct horse battery staple'
SRP_INIT = '/appleauth/auth/signin/init'
LEGACY_SIGNIN = '/appleauth/auth/signin'


def _account(apple_id, **extra):
    account = {'apple_id': apple_id, 'password': PASSWORD, 'protocol': 's2k',
               'iterations': 1000, 'factor': 'none'}
    account.update(extra)
    return account


# Low iterations keep the suite fast; the 2FA and 2SA accounts come from
# data/accounts.json (ICLOUD_MOCK_ACCOUNTS), which is loaded too.
ACCOUNTS = {'accounts': [
    _account('py@example.com'),
    _account('py-fo@example.com', protocol='s2k_fo'),
    _account('py-reuse@example.com'),
    _account('py-cancel@example.com', protocol='s2k_fo'),
    _account('py-locked@example.com', locked=True),
    _account('py-throttled@example.com', throttled=True),
    _account('py-repair@example.com', repair=True),
    _account('py-malformed@example.com', malformed=True),
    _account('py-legacy@example.com', legacy_password=True),
]}

TIMEOUT_SECONDS = 20


def is_icloud_error(error, code):
    return error.matches(ICloud.error_quark(), code)


def is_missing_plugin(error):
    """The second-factor plugins may not be built yet (issue 3)."""
    return (error.matches(ICloud.error_quark(), ICloud.Error.NO_PLUGIN) or
            error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.NOT_SUPPORTED))


def wait_for(start, timeout=TIMEOUT_SECONDS):
    """Runs a GLib main loop until the callback given to start() is called.

    start is called with a GAsyncReadyCallback; returns the GAsyncResult.
    """
    loop = GLib.MainLoop.new(None, False)
    out = {}

    def ready(source, result, *user_data):
        out['result'] = result
        loop.quit()

    def expired():
        out['timeout'] = True
        loop.quit()
        return GLib.SOURCE_REMOVE

    timer = GLib.timeout_add_seconds(timeout, expired)
    start(ready)
    if 'result' not in out:
        loop.run()
    if 'timeout' in out:
        raise TimeoutError('the callback was never called')
    GLib.source_remove(timer)
    return out['result']


# ------------------------------------------------------------------------ #
# asyncio: PyGObject 3.42 has no asyncio integration of the GLib main loop.
# gio_call() starts the _async half with a callback that resolves a Future;
# run() drives asyncio and iterates the default GMainContext in turn, so
# both kinds of callbacks are dispatched.

def gio_call(obj, name, *args, cancellable=None):
    """Awaitable for obj.<name>_async(*args, cancellable, cb) + <name>_finish."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    finish = getattr(obj, name + '_finish')

    def ready(source, result, *user_data):
        if future.cancelled():
            return
        try:
            future.set_result(finish(result))
        except GLib.Error as error:
            future.set_exception(error)

    getattr(obj, name + '_async')(*args, cancellable, ready, None)
    return future


async def _pump_glib(context):
    while True:
        while context.pending():
            context.iteration(False)
        await asyncio.sleep(0.002)


def run(coroutine, timeout=TIMEOUT_SECONDS):
    """asyncio.run() for coroutines that await gio_call()."""
    async def main():
        pump = asyncio.ensure_future(_pump_glib(GLib.MainContext.default()))
        try:
            return await asyncio.wait_for(coroutine, timeout)
        finally:
            pump.cancel()
    return asyncio.run(main())


# ------------------------------------------------------------------------ #

class ServerTestCase(unittest.TestCase):
    """A fake server per test, and a fresh cookie directory."""

    def setUp(self):
        self.server = ICloudMock.Server.new()
        self.server.load_accounts(os.environ['ICLOUD_MOCK_ACCOUNTS'])
        self.server.load_accounts_from_data(json.dumps(ACCOUNTS), -1)
        self.server.start()
        self.addCleanup(self.server.stop)
        self.endpoint = ICloud.Endpoint.new_for_base_uri(self.server.get_base_uri())
        self.dir = tempfile.mkdtemp(prefix='icloud-py-')
        self.addCleanup(shutil.rmtree, self.dir, True)

    def new_session(self, apple_id, password=PASSWORD, **props):
        """A session not yet initialized (no request made)."""
        if password is not None:
            props['password'] = password
        return ICloud.Session(apple_id=apple_id, endpoint=self.endpoint,
                              cookie_directory=self.dir, **props)

    def sign_in(self, apple_id, password=PASSWORD, **props):
        """The blocking twin: GInitable.init() signs in."""
        session = self.new_session(apple_id, password, **props)
        self.assertTrue(session.init(None))
        return session

    def count_srp(self, apple_id):
        return self.server.count_requests(apple_id, SRP_INIT)

    def assertICloudError(self, error, code):
        self.assertTrue(is_icloud_error(error, code),
                        'expected %s, got %s:%d %s' % (code.value_nick, error.domain,
                                                       error.code, error.message))

    def assertSignInFails(self, apple_id, password, code):
        session = self.new_session(apple_id, password)
        with self.assertRaises(GLib.Error) as caught:
            session.init(None)
        self.assertICloudError(caught.exception, code)
        self.assertEqual(caught.exception.domain, 'icloud-error-quark')
        self.assertEqual(caught.exception.code, int(code))
        self.assertNotIn(PASSWORD, caught.exception.message)
        return caught.exception
