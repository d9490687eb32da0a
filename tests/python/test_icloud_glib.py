#!/usr/bin/python3
# test_icloud_glib.py: the icloud_glib package (python/): asyncio sessions on
# a helper main context, cancellation, errors, no polling, concurrency.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import asyncio
import json
import os
import selectors
import sys
import threading
import time
import types
import unittest
from unittest import mock

from icloudtest import PASSWORD, ServerTestCase, GLib, Gio, ICloud

import icloud_glib
from icloud_glib import _context

P_AUTH = '/appleauth/auth'
ACCOUNT_LOGIN = '/setup/ws/1/accountLogin'


def run_delay():
    """Seconds this thread has been runnable but waiting for a CPU (schedstat)."""
    try:
        with open('/proc/thread-self/schedstat') as f:
            return int(f.read().split()[1]) / 1e9
    except OSError:
        return 0.0


class SessionTestCase(ServerTestCase):

    def create(self, apple_id, password=PASSWORD, **kwargs):
        return icloud_glib.Session.create(apple_id, password, cookie_directory=self.dir,
                                          endpoint_base=self.server.get_base_uri(), **kwargs)

    def add_accounts(self, apple_ids, **extra):
        accounts = [dict({'apple_id': a, 'password': PASSWORD, 'protocol': 's2k',
                          'iterations': 1000, 'factor': 'none'}, **extra) for a in apple_ids]
        self.assertTrue(self.server.load_accounts_from_data(json.dumps({'accounts': accounts}), -1))


class AsyncioTest(SessionTestCase):

    def test_sign_in_and_close(self):
        async def main():
            async with await self.create('py@example.com') as session:
                self.assertEqual(session.state, ICloud.AuthState.AUTHENTICATED)
                self.assertEqual(session.account_name, 'py@example.com')
                self.assertFalse(session.requires_2fa)
            return session.state
        self.assertEqual(asyncio.run(main()), ICloud.AuthState.CLOSED)
        self.assertEqual(self.count_srp('py@example.com'), 1)

    def test_library_calls_run_on_the_helper_thread(self):
        seen = []

        def job(cancellable, done):
            seen.append((threading.current_thread().name,
                         GLib.MainContext.get_thread_default() is not None))
            done('ok', None)

        async def main():
            return await _context.run_async(_context.context_for_running_loop(), job)
        self.assertEqual(asyncio.run(main()), 'ok')
        self.assertEqual(seen, [('icloud-glib', True)])

    def test_two_factor(self):
        async def main():
            session = await self.create('2fa@example.com', 'two factor')
            self.assertEqual(session.state, ICloud.AuthState.NEEDS_2FA)
            phones = await session.get_trusted_phone_numbers()
            self.assertEqual([p.id for p in phones], ['1', '2'])
            await session.request_2fa_code(None)
            with self.assertRaises(icloud_glib.InvalidCodeError) as caught:
                await session.validate_2fa_code('000000' if self.server.dup_last_code(
                    '2fa@example.com', None) != '000000' else '111111')
            self.assertEqual(caught.exception.code, ICloud.Error.INVALID_CODE)
            self.assertTrue(await session.validate_2fa_code(
                self.server.dup_last_code('2fa@example.com', None)))
            self.assertTrue(session.is_trusted_session)
            await session.close()
        asyncio.run(main())

    def test_bridge_sign_in(self):
        # The trusted-device bridge: its socket lives on the helper context.
        async def main():
            session = await self.create('bridge-prompt@example.com', 'bridge prompt', timeout=10)
            self.assertEqual(session.state, ICloud.AuthState.NEEDS_2FA)
            await session.request_2fa_code(None)
            self.assertEqual(session.code_delivery, ICloud.CodeDelivery.BRIDGE)
            self.assertEqual(self.server.get_n_push_connections(), 1)
            self.assertTrue(await session.validate_2fa_code(
                self.server.dup_last_code('bridge-prompt@example.com', None)))
            self.assertTrue(session.is_trusted_session)
            await session.close()
        asyncio.run(main())
        self.assertEqual(self.server.count_requests(None, P_AUTH + '/bridge/code/validate'), 1)

    def test_account_info_from_another_thread(self):
        # Read on the helper context with a blocking hop (run_blocking).
        async def main():
            async with await self.create('py@example.com') as session:
                return session.account_info
        info = asyncio.run(main())
        self.assertIsInstance(info, dict)
        self.assertEqual(info['dsInfo']['appleId'], 'py@example.com')


class CancellationTest(SessionTestCase):
    """Cancelling the task cancels the GCancellable: nothing is sent after."""

    HOLD_MS = 800

    def assertNothingSentAfter(self, apple_id, coroutine_factory, slow_path, cancel):
        async def main():
            self.server.inject_fault_full(slow_path, 'slow', 1, 0, self.HOLD_MS)
            before = self.server.count_requests(apple_id, slow_path)
            task = asyncio.ensure_future(coroutine_factory())
            while self.server.count_requests(apple_id, slow_path) == before:
                await asyncio.sleep(0.005)   # the test waits for the server; the library does not poll
            sent_at_cancel = self.server.count_requests(apple_id, None)
            with self.assertRaises((asyncio.CancelledError, asyncio.TimeoutError)):
                await cancel(task)
            self.assertTrue(task.done())
            # Past the slow reply: had the flow gone on, the next request would be in the log.
            await asyncio.sleep(self.HOLD_MS / 1000 + 0.4)
            return sent_at_cancel, self.server.count_requests(apple_id, None)
        at_cancel, later = asyncio.run(main())
        self.assertEqual(later, at_cancel, self.server.dup_request_log())

    def test_cancel_the_task(self):
        async def cancel(task):
            task.cancel()
            await task
        self.assertNothingSentAfter('py-cancel@example.com',
                                    lambda: self.create('py-cancel@example.com'),
                                    P_AUTH + '/signin/complete', cancel)
        self.assertEqual(self.server.count_requests('py-cancel@example.com', ACCOUNT_LOGIN), 0)

    def test_wait_for_times_out(self):
        async def sign_in():
            return await self.create('py@example.com')
        session = asyncio.run(sign_in())
        logins = self.server.count_requests('py@example.com', ACCOUNT_LOGIN)

        async def cancel(task):
            await asyncio.wait_for(task, 0.2)
        self.assertNothingSentAfter('py@example.com',
                                    lambda: session.authenticate(force_refresh=True),
                                    ACCOUNT_LOGIN, cancel)
        self.assertEqual(self.server.count_requests('py@example.com', ACCOUNT_LOGIN), logins + 1)

        # The session is usable afterwards.
        async def again():
            await session.authenticate(force_refresh=True)
            await session.close()
            return session.state
        self.assertEqual(asyncio.run(again()), ICloud.AuthState.CLOSED)


class ErrorTest(SessionTestCase):
    """Every failure is an ICloudError subclass with the GLib.Error as __cause__."""

    def assertRaisesICloud(self, cls, code, coroutine):
        with self.assertRaises(cls) as caught:
            asyncio.run(coroutine)
        error = caught.exception
        self.assertIsInstance(error, icloud_glib.ICloudError)
        self.assertIsInstance(error.__cause__, GLib.Error)
        self.assertIs(error.glib_error, error.__cause__)
        self.assertTrue(error.__cause__.matches(ICloud.error_quark(), code), error.__cause__)
        self.assertEqual(error.code, code)
        self.assertEqual(str(error), error.__cause__.message)
        self.assertNotIn(PASSWORD, str(error))
        return error

    def test_sign_in_errors(self):
        for apple_id, password, cls, code in [
                ('py@example.com', 'wrong password', icloud_glib.FailedLoginError,
                 ICloud.Error.FAILED_LOGIN),
                ('py-locked@example.com', PASSWORD, icloud_glib.AccountLockedError,
                 ICloud.Error.ACCOUNT_LOCKED),
                ('py-repair@example.com', PASSWORD, icloud_glib.RepairRequiredError,
                 ICloud.Error.REPAIR_REQUIRED),
                ('py-malformed@example.com', PASSWORD, icloud_glib.ProtocolError,
                 ICloud.Error.PROTOCOL),
                ('py-fo@example.com', None, icloud_glib.AuthRequiredError,
                 ICloud.Error.AUTH_REQUIRED)]:
            with self.subTest(apple_id=apple_id):
                self.assertRaisesICloud(cls, code, self.create(apple_id, password))

    def test_throttled_carries_retry_after(self):
        error = self.assertRaisesICloud(icloud_glib.ThrottledError, ICloud.Error.THROTTLED,
                                        self.create('throttled@example.com', 'slow down'))
        self.assertEqual(error.retry_after, 120)

    def test_state_errors(self):
        async def main():
            session = await self.create('2fa@example.com', 'two factor')
            try:
                await session.get_trusted_devices()
            finally:
                await session.close()
        self.assertRaisesICloud(icloud_glib.NotAuthenticatedError,
                                ICloud.Error.NOT_AUTHENTICATED, main())

        async def closed():
            session = await self.create('py@example.com')
            await session.close()
            await session.authenticate()
        self.assertRaisesICloud(icloud_glib.ClosedError, ICloud.Error.CLOSED, closed())

    def test_one_operation_at_a_time(self):
        async def main():
            async with await self.create('py@example.com') as session:
                results = await asyncio.gather(session.authenticate(True), session.authenticate(True),
                                               return_exceptions=True)
                return results
        first, second = asyncio.run(main())
        self.assertIsNone(first)
        self.assertIsInstance(second, icloud_glib.PendingError)
        self.assertTrue(second.__cause__.matches(Gio.io_error_quark(), Gio.IOErrorEnum.PENDING))
        self.assertNotIsInstance(second, icloud_glib.NetworkError)

    def test_network_error(self):
        port_gone = self.server.get_base_uri()
        self.server.stop()
        with self.assertRaises(icloud_glib.NetworkError) as caught:
            asyncio.run(icloud_glib.Session.create('py@example.com', PASSWORD,
                                                   cookie_directory=self.dir,
                                                   endpoint_base=port_gone))
        self.assertIsNone(caught.exception.code)
        self.assertTrue(caught.exception.__cause__.matches(Gio.io_error_quark(),
                                                           Gio.IOErrorEnum.CONNECTION_REFUSED))

    def test_plain_http_only_to_loopback(self):
        with self.assertRaises(icloud_glib.InvalidEndpointError) as caught:
            asyncio.run(icloud_glib.Session.create('py@example.com', PASSWORD,
                                                   endpoint_base='http://example.com'))
        self.assertIsInstance(caught.exception, ValueError)
        self.assertTrue(caught.exception.__cause__.matches(Gio.io_error_quark(),
                                                           Gio.IOErrorEnum.NOT_SUPPORTED))

    def test_environment_hook(self):
        with mock.patch.dict('os.environ', {'ICLOUD_ENDPOINT_BASE': self.server.get_base_uri()}):
            async def main():
                async with await icloud_glib.Session.create('py@example.com', PASSWORD,
                                                            cookie_directory=self.dir) as s:
                    return s.state
            self.assertEqual(asyncio.run(main()), ICloud.AuthState.AUTHENTICATED)
        self.assertEqual(self.count_srp('py@example.com'), 1)


# Timings mean nothing under `meson test --setup valgrind`.
UNDER_VALGRIND = os.environ.get('ICLOUD_TEST_VALGRIND') == '1'


@unittest.skipIf(UNDER_VALGRIND, 'CPU and latency are not measured under valgrind')
class NoPollingTest(SessionTestCase):

    def test_idle_wait_uses_no_cpu(self):
        """An await on a slow server costs under 1 % CPU (process CPU time)."""
        hold_ms = 1500

        async def main():
            session = await self.create('py@example.com')
            self.server.inject_fault_full(ACCOUNT_LOGIN, 'slow', 1, 0, hold_ms)
            wall0, cpu0 = time.monotonic(), time.process_time()
            await session.authenticate(force_refresh=True)
            wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
            await session.close()
            return wall, cpu
        wall, cpu = asyncio.run(main())
        print('idle await: %.0f ms wall, %.2f ms CPU (%.3f %%)'
              % (wall * 1e3, cpu * 1e3, 100 * cpu / wall), file=sys.stderr)
        self.assertGreaterEqual(wall, hold_ms / 1000)
        self.assertLess(cpu / wall, 0.01)

    def test_hundred_accounts_and_a_ticker(self):
        """100 sign-ins with asyncio.gather; a 5 ms ticker never waits 50 ms.

        The machine is shared (2 cores): another process can take the CPU
        from this one for tens of milliseconds whatever the code does. So
        the run is made up to 5 times with new accounts, and the best run
        must have no gap over 50 ms: code that blocks the loop fails all 5.
        Each run prints its longest gap and how much of it the loop's thread
        spent waiting for a CPU (the kernel's run delay, schedstat): a gap
        made of run delay is the machine's load, not the loop's code.
        """
        results = []
        for attempt in range(5):
            apple_ids = ['gather-%d-%d@example.com' % (attempt, i) for i in range(100)]
            self.add_accounts(apple_ids)
            states, gaps = asyncio.run(self.sign_in_with_ticker(apple_ids))
            self.assertEqual(states, {ICloud.AuthState.AUTHENTICATED})
            self.assertGreater(len(gaps), 5)
            self.assertEqual(sum(self.count_srp(a) for a in apple_ids), 100)
            longest, delay = max(gaps)
            results.append(longest)
            print('100 sign-ins, run %d: %d ticks, longest gap %.1f ms (%.1f ms of it waiting '
                  'for a CPU)' % (attempt + 1, len(gaps), longest * 1e3, delay * 1e3),
                  file=sys.stderr)
            if longest < 0.050:
                break
        self.assertLess(min(results), 0.050)

    async def sign_in_with_ticker(self, apple_ids):
        gaps = []
        running = True

        async def ticker():
            last, last_delay = time.monotonic(), run_delay()
            while running:
                await asyncio.sleep(0.005)
                now, delay = time.monotonic(), run_delay()
                gaps.append((now - last, delay - last_delay))
                last, last_delay = now, delay
        tick = asyncio.ensure_future(ticker())
        await asyncio.sleep(0.02)
        sessions = await asyncio.gather(*(self.create(a) for a in apple_ids))
        running = False
        await tick
        states = {s.state for s in sessions}
        await asyncio.gather(*(s.close() for s in sessions))
        return states, gaps


class _GLibSelector(selectors.SelectSelector):
    """Waits by iterating the default GLib main context, as gi.events does:
    asyncio's descriptors become GLib fd sources, asyncio's timeout a GLib
    timeout, and one blocking g_main_context_iteration() dispatches
    whichever is ready, asyncio's or the library's. Nothing polls."""

    def select(self, timeout=None):
        context = GLib.MainContext.default()
        ready = {}
        ids = []

        def fd_ready(fd, condition, key):
            events = 0
            if condition & (GLib.IOCondition.IN | GLib.IOCondition.HUP | GLib.IOCondition.ERR):
                events |= selectors.EVENT_READ
            if condition & GLib.IOCondition.OUT:
                events |= selectors.EVENT_WRITE
            ready[fd] = (key, events & key.events)
            return GLib.SOURCE_REMOVE

        for key in self.get_map().values():
            condition = GLib.IOCondition(0)
            if key.events & selectors.EVENT_READ:
                condition |= GLib.IOCondition.IN | GLib.IOCondition.HUP | GLib.IOCondition.ERR
            if key.events & selectors.EVENT_WRITE:
                condition |= GLib.IOCondition.OUT
            ids.append(GLib.unix_fd_add_full(GLib.PRIORITY_DEFAULT, key.fd, condition,
                                             fd_ready, key))
        if timeout is not None and timeout > 0:
            ids.append(GLib.timeout_add(max(1, int(timeout * 1000)), lambda: GLib.SOURCE_REMOVE))
        context.iteration(timeout is None or timeout > 0)
        for source_id in ids:
            source = context.find_source_by_id(source_id)
            if source is not None and not source.is_destroyed():
                source.destroy()
        return list(ready.values())


class GLibLoopTest(SessionTestCase):
    """PyGObject >= 3.50's GLib-backed loop (gi.events) is not on this machine
    (3.42): a stand-in gi.events module whose GLibEventLoop is an asyncio
    loop driven by the default GLib main context (_GLibSelector) checks that
    such a loop is detected and its own context used, with no helper
    thread: the library's callbacks are dispatched by the loop itself."""

    def test_detects_and_uses_the_loop_context(self):
        events = types.ModuleType('gi.events')

        class GLibEventLoop(asyncio.SelectorEventLoop):
            def __init__(self):
                super().__init__(_GLibSelector())
                self._context = GLib.MainContext.default()
        events.GLibEventLoop = GLibEventLoop

        async def main():
            session = await self.create('py@example.com')
            kind = type(session._context)
            same_thread = session._context.is_current_thread()
            with self.assertRaises(icloud_glib.NotAuthenticatedError):
                await session.validate_2fa_code('000000')   # no code pending: an error, delivered
            await session.close()
            return kind, same_thread, session.state

        with mock.patch.dict(sys.modules, {'gi.events': events}):
            loop = GLibEventLoop()
            try:
                self.assertIs(_context.glib_loop_context(loop), loop._context)
                result = loop.run_until_complete(main())
            finally:
                loop.close()
        self.assertEqual(result, (_context.LoopContext, True, ICloud.AuthState.CLOSED))

    def test_plain_loop_is_not_glib(self):
        loop = asyncio.new_event_loop()
        try:
            self.assertIsNone(_context.glib_loop_context(loop))
        finally:
            loop.close()


if __name__ == '__main__':
    unittest.main(verbosity=2)
