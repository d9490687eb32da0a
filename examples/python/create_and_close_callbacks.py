#!/usr/bin/python3
# create_and_close_callbacks.py: create_and_close.py in callback style, on
# a GLib main loop, as in a GTK application (no asyncio).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import gi

gi.require_version('ICloud', '1')

from gi.repository import GLib, ICloud  # noqa: E402

from fakeicloud import FakeICloud, check  # noqa: E402

fake = FakeICloud()
loop = GLib.MainLoop()
outcome = {}


def closed(session, result, *user_data):
    outcome['closed'] = session.close_finish(result)
    loop.quit()


def created(session, result, *user_data):
    try:
        session.init_finish(result)
    except GLib.Error as error:
        outcome['error'] = error
        loop.quit()
        return
    print(f'Logged in as: {session.props.account_name}')
    print(f'Requires 2FA: {session.props.requires_2fa}')
    outcome['state'] = session.props.state
    session.close_async(None, closed, None)


session = ICloud.Session(apple_id='user@example.com', password='correct horse',
                         endpoint=ICloud.Endpoint.new_for_base_uri(fake.base_uri))
session.init_async(GLib.PRIORITY_DEFAULT, None, created, None)
GLib.timeout_add_seconds(30, loop.quit)
loop.run()

check('error' not in outcome, 'no error: %s' % outcome.get('error'))
check(outcome.get('state') == ICloud.AuthState.AUTHENTICATED, 'signed in')
check(outcome.get('closed') is True, 'closed')
check(session.props.state == ICloud.AuthState.CLOSED, 'state CLOSED')
