#!/usr/bin/python3
# several_accounts_callbacks.py: several_accounts.py in callback style: three
# sign-ins started at once on a GLib main loop, which quits when the last one
# is done.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import gi

gi.require_version('ICloud', '1')

from gi.repository import GLib, ICloud  # noqa: E402

from fakeicloud import FakeICloud, check  # noqa: E402

fake = FakeICloud()
loop = GLib.MainLoop()
ACCOUNTS = {
    'user@example.com': ('correct horse', ICloud.AuthState.AUTHENTICATED),
    'fo@example.com': ('battery staple', ICloud.AuthState.AUTHENTICATED),
    '2sa@example.com': ('two step', ICloud.AuthState.NEEDS_2SA),
}
states = {}
errors = []


def closed(session, result, *user_data):
    session.close_finish(result)
    if len(states) + len(errors) == len(ACCOUNTS):
        loop.quit()


def created(session, result, *user_data):
    try:
        session.init_finish(result)
        states[session.props.apple_id] = session.props.state
        print(f'{session.props.account_name}: {session.props.state.value_nick}')
    except GLib.Error as error:
        errors.append(error)
    session.close_async(None, closed, None)


sessions = []
for apple_id, (password, _) in ACCOUNTS.items():
    session = ICloud.Session(apple_id=apple_id, password=password,
                             endpoint=ICloud.Endpoint.new_for_base_uri(fake.base_uri))
    session.init_async(GLib.PRIORITY_DEFAULT, None, created, None)
    sessions.append(session)

GLib.timeout_add_seconds(30, loop.quit)
loop.run()

check(not errors, 'no error: %s' % [e.message for e in errors])
check(states == {apple_id: state for apple_id, (_, state) in ACCOUNTS.items()}, 'states')
