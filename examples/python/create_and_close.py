#!/usr/bin/python3
# create_and_close.py: sign in, read the account, close.
#
# pyicloud's async guide, with one import line changed:
#
#     from icloud_glib.pyicloud import AsyncPyiCloudService
#     api = await AsyncPyiCloudService.create('jappleseed@apple.com', 'password')
#     print(f"Logged in as: {api.account_name}")
#     print(f"Requires 2FA: {api.requires_2fa}")
#     await api.close()
#
# With Apple, leave out endpoint_base.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import asyncio

from fakeicloud import FakeICloud, check
from icloud_glib.pyicloud import AsyncPyiCloudService

fake = FakeICloud()


async def main():
    api = await AsyncPyiCloudService.create('user@example.com', 'correct horse',
                                            endpoint_base=fake.base_uri)
    print(f'Logged in as: {api.account_name}')
    print(f'Requires 2FA: {api.requires_2fa}')
    check(api.account_name == 'user@example.com', 'account name')
    check(not api.requires_2fa and api.is_trusted_session, 'signed in, no 2FA')
    await api.close()

    # The same with `async with`: closed at the end of the block. No
    # password: the saved session is used.
    async with await AsyncPyiCloudService.create('user@example.com',
                                                 endpoint_base=fake.base_uri) as again:
        check(not again.requires_2fa, 'signed in from disk')
    check(fake.count_requests('user@example.com', '/appleauth/auth/signin/init') == 1,
          'one password proof')


asyncio.run(main())
