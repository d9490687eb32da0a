#!/usr/bin/python3
# several_accounts.py: three Apple IDs signed in concurrently.
#
# pyicloud's async guide:
#
#     async def check_account(email, password):
#         async with await AsyncPyiCloudService.create(email, password) as api:
#             return {'email': api.account_name, 'requires_2fa': api.requires_2fa,
#                     'is_trusted': api.is_trusted_session}
#     results = await asyncio.gather(*[check_account(e, p) for e, p in accounts])
#
# The three sessions live on icloud_glib's one helper main context; the
# asyncio loop only waits.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import asyncio

from fakeicloud import FakeICloud, check
from icloud_glib.pyicloud import AsyncPyiCloudService

fake = FakeICloud()


async def check_account(email, password):
    async with await AsyncPyiCloudService.create(email, password,
                                                 endpoint_base=fake.base_uri) as api:
        return {
            'email': api.account_name,
            'requires_2fa': api.requires_2fa,
            'is_trusted': api.is_trusted_session,
        }


async def main():
    accounts = [
        ('user@example.com', 'correct horse'),
        ('fo@example.com', 'battery staple'),
        ('2fa@example.com', 'two factor'),
    ]
    results = await asyncio.gather(*[check_account(email, password)
                                     for email, password in accounts])
    for result in results:
        print(result)
    check([r['email'] for r in results] == [a[0] for a in accounts], 'every account')
    check([r['requires_2fa'] for r in results] == [False, False, True], 'requires_2fa')


asyncio.run(main())
