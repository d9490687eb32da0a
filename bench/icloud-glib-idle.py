#!/usr/bin/python3
# icloud-glib-idle.py: the CPU an asyncio program uses while it waits for a
# slow server, through the icloud_glib package and through the helper the
# Python examples used to copy (tests/python/icloudtest.py: gio_call() and
# run(), which iterate the GLib main context every 2 ms). docs/benchmarks.md.
#
# The fake server (in process) holds the reply to accountLogin for 1.5 s;
# authenticate(force_refresh=True) waits for it. CPU is the process's
# (time.process_time()) over that await. Run in `meson devenv -C _build`:
#
#     /usr/bin/python3 bench/icloud-glib-idle.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import asyncio
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'python'))

from icloudtest import GLib, ICloud, ICloudMock, gio_call, run  # noqa: E402

import icloud_glib  # noqa: E402

HOLD_MS = 1500
APPLE_ID = 'idle@example.com'
SLOW = '/setup/ws/1/accountLogin'

server = ICloudMock.Server.new()
server.load_accounts_from_data(json.dumps({'accounts': [
    {'apple_id': APPLE_ID, 'password': 'idle password', 'iterations': 1000, 'factor': 'none'}]}), -1)
server.start()
directory = tempfile.mkdtemp(prefix='icloud-idle-')


async def measure(wait):
    server.inject_fault_full(SLOW, 'slow', 1, 0, HOLD_MS)
    wall, cpu = time.monotonic(), time.process_time()
    await wait()
    return time.monotonic() - wall, time.process_time() - cpu


async def copied_helper():
    session = ICloud.Session(apple_id=APPLE_ID, password='idle password', cookie_directory=directory,
                             endpoint=ICloud.Endpoint.new_for_base_uri(server.get_base_uri()))
    await gio_call(session, 'init', GLib.PRIORITY_DEFAULT)
    result = await measure(lambda: gio_call(session, 'authenticate', True))
    await gio_call(session, 'close')
    return result


async def package():
    session = await icloud_glib.Session.create(APPLE_ID, 'idle password', cookie_directory=directory,
                                               endpoint_base=server.get_base_uri())
    result = await measure(lambda: session.authenticate(force_refresh=True))
    await session.close()
    return result


for name, once in (('copied helper (2 ms pump)', lambda: run(copied_helper())),
                   ('icloud_glib', lambda: asyncio.run(package()))):
    for _ in range(3):
        wall, cpu = once()
        print('%-26s wall %5.0f ms  CPU %6.2f ms  %5.2f %%' % (name, wall * 1e3, cpu * 1e3,
                                                              100 * cpu / wall))
server.stop()
