#!/usr/bin/python3
# cookie_directory.py: keep the session in a directory of your choice.
#
# pyicloud's async guide:
#
#     api = await AsyncPyiCloudService.create(id, pw, cookie_directory='/path/to/cookies')
#
# Here: cookie_directory (default: $XDG_STATE_HOME/icloud-glib). The
# directory is made 0700; the session is one 0600 file, <apple id without
# punctuation>-<16 hex digits of the SHA-256 of the case-folded Apple
# ID>.session.json, and the next session with the same directory signs in
# from it without a password.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import stat

from icloudexample import FakeICloud, check, closing, gio_call, run, GLib, ICloud

APPLE_ID = 'user@example.com'
SRP_INIT = '/appleauth/auth/signin/init'
fake = FakeICloud()
directory = os.path.join(os.environ['XDG_STATE_HOME'], 'path', 'to', 'cookies')


async def main():
    api = ICloud.Session(apple_id=APPLE_ID, password='correct horse',
                         cookie_directory=directory, endpoint=fake.endpoint)
    await gio_call(api, 'init', GLib.PRIORITY_DEFAULT)
    async with closing(api):
        check(api.props.cookie_directory == directory, 'cookie_directory')

    path = os.path.join(directory, 'userexamplecom-b4c9a289323b21a0.session.json')
    check(stat.S_IMODE(os.stat(directory).st_mode) == 0o700, 'directory 0700')
    check(stat.S_IMODE(os.stat(path).st_mode) == 0o600, 'file 0600')
    check(not os.path.exists(os.path.join(os.environ['XDG_STATE_HOME'], 'icloud-glib')),
          'nothing in the default directory')
    print(f'The session is in {path}')

    again = ICloud.Session(apple_id=APPLE_ID, cookie_directory=directory,
                           endpoint=fake.endpoint)
    await gio_call(again, 'init', GLib.PRIORITY_DEFAULT)
    async with closing(again):
        check(again.props.state == ICloud.AuthState.AUTHENTICATED, 'signed in from disk')
        check(fake.count_requests(APPLE_ID, SRP_INIT) == 1, 'no second password proof')
        print(f'Signed in again from {directory} without a password')


run(main())
