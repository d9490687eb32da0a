#!/usr/bin/python3
# cookie_directory.py: the session in a directory of your choice.
#
# pyicloud's async guide:
#
#     async with await AsyncPyiCloudService.create(
#         'jappleseed@apple.com', 'password', cookie_directory='/path/to/cookies') as api: ...
#
# The directory is made 0700; the session is one 0600 file, <apple id without
# punctuation>-<16 hex digits of the SHA-256 of the case-folded Apple
# ID>.session.json (the default directory is $XDG_STATE_HOME/icloud-glib),
# and the next session with the same directory signs in from it without a
# password.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import asyncio
import os
import stat

from fakeicloud import FakeICloud, check
from icloud_glib.pyicloud import AsyncPyiCloudService

APPLE_ID = 'user@example.com'
SRP_INIT = '/appleauth/auth/signin/init'
fake = FakeICloud()
directory = os.path.join(os.environ['XDG_STATE_HOME'], 'path', 'to', 'cookies')


async def main():
    async with await AsyncPyiCloudService.create(APPLE_ID, 'correct horse',
                                                 cookie_directory=directory,
                                                 endpoint_base=fake.base_uri):
        pass

    path = os.path.join(directory, 'userexamplecom-b4c9a289323b21a0.session.json')
    check(stat.S_IMODE(os.stat(directory).st_mode) == 0o700, 'directory 0700')
    check(stat.S_IMODE(os.stat(path).st_mode) == 0o600, 'file 0600')
    check(not os.path.exists(os.path.join(os.environ['XDG_STATE_HOME'], 'icloud-glib')),
          'nothing in the default directory')
    print(f'The session is in {path}')

    async with await AsyncPyiCloudService.create(APPLE_ID, cookie_directory=directory,
                                                 endpoint_base=fake.base_uri) as again:
        check(again.is_trusted_session, 'signed in from disk')
        check(fake.count_requests(APPLE_ID, SRP_INIT) == 1, 'no second password proof')
        print(f'Signed in again from {directory} without a password')


asyncio.run(main())
