#!/usr/bin/python3
# several_accounts.py: three Apple IDs signed in concurrently, on one main
# loop.
#
# pyicloud's async guide:
#
#     async def check_account(email, password):
#         async with await AsyncPyiCloudService.create(email, password) as api:
#             return {'email': api.account_name, 'requires_2fa': api.requires_2fa,
#                     'is_trusted': api.is_trusted_session}
#     results = await asyncio.gather(*[check_account(e, p) for e, p in accounts])
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import asyncio

from icloudexample import FakeICloud, check, closing, gio_call, run, GLib, ICloud

fake = FakeICloud()


async def check_account(email, password):
    api = ICloud.Session(apple_id=email, password=password, endpoint=fake.endpoint)
    await gio_call(api, 'init', GLib.PRIORITY_DEFAULT)
    async with closing(api):
        return {
            'email': api.props.account_name,
            'requires_2fa': api.props.requires_2fa,
            'is_trusted': api.props.is_trusted_session,
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


run(main())
