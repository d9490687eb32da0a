#!/usr/bin/python3
# china_mainland.py: an Apple ID of China mainland.
#
# pyicloud's async guide:
#
#     async with await AsyncPyiCloudService.create(
#         'jappleseed@apple.com', 'password', china_mainland=True) as api: ...
#
# china_mainland=True selects the "china-mainland" region (a plugin: the
# .com.cn hosts). Here the fake server plays a China mainland iCloud on one
# origin; the global one answers such an account with Apple's domainToUse,
# which is WRONG_REGION.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import asyncio

import icloud_glib
from fakeicloud import FakeICloud, check
from icloud_glib.pyicloud import AsyncPyiCloudService
from icloud_glib.pyicloud.exceptions import PyiCloudAPIResponseException

APPLE_ID = 'china@example.com'
china = FakeICloud(region='china-mainland')
global_icloud = FakeICloud()


async def main():
    # Signed in at the global iCloud: the account belongs to the other region.
    try:
        await AsyncPyiCloudService.create(APPLE_ID, 'china mainland',
                                          endpoint_base=global_icloud.base_uri)
        check(False, 'signed in at the global iCloud')
    except PyiCloudAPIResponseException as error:
        check(isinstance(error.icloud_error, icloud_glib.WrongRegionError), repr(error))
        check('china-mainland' in str(error), 'the message names the region')
        print(f'At the global iCloud: {error}')

    async with await AsyncPyiCloudService.create(APPLE_ID, 'china mainland',
                                                 china_mainland=True,
                                                 endpoint_base=china.base_uri) as api:
        check(api.session.region == 'china-mainland', 'region')
        check(api.is_trusted_session, 'signed in')
        check(china.count_requests(APPLE_ID, '/setup/ws/1/accountLogin') == 1, 'accountLogin')
        print(f'Signed in as {api.account_name} (region {api.session.region})')


asyncio.run(main())
