# icloudexample.py: what the Python examples share.
#
# - gio_call() and run(): PyGObject 3.42 has no asyncio integration of the
#   GLib main loop; gio_call() turns an _async/_finish pair into an
#   awaitable, and run() drives asyncio and the default GMainContext in
#   turn (the same helper as tests/python/icloudtest.py). Copy them into
#   your program.
# - closing(): `async with closing(session)` closes the session at the end,
#   like pyicloud's `async with`.
# - FakeICloud: the fake iCloud server the examples sign in to, started in
#   this process (ICloudMock-0). An application does not need it: without
#   the endpoint (or soup_session) it provides, a session talks to Apple.
# - check(): the example fails (exit status 1, through run() or an uncaught
#   exception) when a check does not hold.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import asyncio
import atexit
import contextlib
import os
import shutil
import sys
import tempfile

# A private $XDG_STATE_HOME, so that the default session directory,
# $XDG_STATE_HOME/icloud-glib, belongs to this run only. Set before GLib
# reads it.
_STATE = tempfile.mkdtemp(prefix='icloud-example-')
os.environ['XDG_STATE_HOME'] = _STATE
atexit.register(shutil.rmtree, _STATE, True)

import gi  # noqa: E402

gi.require_version('GLib', '2.0')
gi.require_version('Gio', '2.0')
gi.require_version('Soup', '3.0')
gi.require_version('ICloud', '1')
gi.require_version('ICloudMock', '0')

from gi.repository import GLib, Gio, Soup, ICloud, ICloudMock  # noqa: E402,F401

TIMEOUT_SECONDS = 30


class CheckFailed(Exception):
    pass


def check(condition, what='check failed'):
    """Fails the example (exit status 1) when condition does not hold."""
    if not condition:
        raise CheckFailed(what)


# ------------------------------------------------------------------------ #
# asyncio

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
    try:
        return asyncio.run(main())
    except CheckFailed as failure:
        print('check failed: %s' % failure, file=sys.stderr)
        sys.exit(1)


@contextlib.asynccontextmanager
async def closing(session):
    """async with closing(session): closes the session at the end."""
    try:
        yield session
    finally:
        await gio_call(session, 'close')


# ------------------------------------------------------------------------ #
# The fake server

class FakeICloud:
    """The fake iCloud server, with the accounts of data/accounts.json.

    On one origin (http://127.0.0.1:PORT), reached through `endpoint`; or,
    with routed=True, with TLS and Apple's host names, reached through
    `soup_session`, which connects every host name to the fake server and
    trusts only the test certificate: nothing leaves the machine.
    """

    def __init__(self, routed=False):
        accounts = os.environ.get('ICLOUD_MOCK_ACCOUNTS')
        check(accounts is not None,
              'set ICLOUD_MOCK_ACCOUNTS to data/accounts.json (meson test and meson devenv do)')
        self.server = ICloudMock.Server.new()
        self.server.load_accounts(accounts)
        if routed:
            self.server.set_routed(os.environ['ICLOUD_EXAMPLE_CERT'],
                                   os.environ['ICLOUD_EXAMPLE_KEY'])
        self.server.start()
        atexit.register(self.server.stop)
        self.endpoint = None
        self.soup_session = None
        if routed:
            self.soup_session = Soup.Session(
                remote_connectable=self.server.create_connectable(),
                tls_database=self.server.create_tls_database())
        else:
            self.endpoint = ICloud.Endpoint.new_for_base_uri(self.server.get_base_uri())

    def last_code(self, apple_id, target_id=None):
        """The code the server "sent": what the user would type."""
        return self.server.dup_last_code(apple_id, target_id)

    def count_requests(self, apple_id, path):
        return self.server.count_requests(apple_id, path)
