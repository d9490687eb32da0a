#!/usr/bin/python3
# force_refresh.py: authenticate() and authenticate(force_refresh=True).
#
# pyicloud's async guide:
#
#     await api.authenticate(force_refresh=True)
#
# authenticate() validates the saved web session; force_refresh skips that
# and signs in again with the stored token (the password only if the token
# is refused).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import asyncio

from fakeicloud import FakeICloud, check
from icloud_glib.pyicloud import AsyncPyiCloudService

APPLE_ID = 'fo@example.com'
SRP_INIT = '/appleauth/auth/signin/init'
VALIDATE = '/setup/ws/1/validate'
ACCOUNT_LOGIN = '/setup/ws/1/accountLogin'
fake = FakeICloud()


def count(path):
    return fake.count_requests(APPLE_ID, path)


async def main():
    async with await AsyncPyiCloudService.create(APPLE_ID, 'battery staple',
                                                 endpoint_base=fake.base_uri) as api:
        check(count(SRP_INIT) == 1, 'one password proof')

        validate, login = count(VALIDATE), count(ACCOUNT_LOGIN)
        await api.authenticate()
        check(count(VALIDATE) == validate + 1 and count(ACCOUNT_LOGIN) == login,
              'the saved web session was validated')
        print('authenticate: the saved web session is still valid')

        validate = count(VALIDATE)
        await api.authenticate(force_refresh=True)
        check(api.is_trusted_session, 'signed in')
        check(count(VALIDATE) == validate, 'no validate')
        check(count(ACCOUNT_LOGIN) == login + 1, 'a new accountLogin')
        check(count(SRP_INIT) == 1, 'no new password proof')
        print('force_refresh: signed in again with the stored token')


asyncio.run(main())
