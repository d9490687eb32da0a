#!/usr/bin/python3
# two_factor.py: a two-factor (HSA2) account: create() asks Apple to push a
# code to the trusted devices, validate it (which trusts the session); the
# next start needs neither password nor code.
#
# pyicloud's async guide:
#
#     if api.requires_2fa:
#         code = input("Enter the code you received: ")
#         result = await api.validate_2fa_code(code)
#     if not api.is_trusted_session:
#         await api.trust_session()
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import asyncio

from fakeicloud import FakeICloud, check
from icloud_glib.pyicloud import AsyncPyiCloudService

APPLE_ID = '2fa@example.com'
fake = FakeICloud()


async def main():
    async with await AsyncPyiCloudService.create(APPLE_ID, 'two factor',
                                                 endpoint_base=fake.base_uri) as api:
        check(api.requires_2fa, 'requires_2fa')
        check(not api.requires_2sa, 'a 2FA account does not require 2SA')
        print('Two-factor authentication required.')
        for phone in api.trusted_phone_numbers:
            print(f"Trusted phone {phone['id']}: {phone['obfuscatedNumber']}")
        check(len(api.trusted_phone_numbers) == 2, 'trusted phones')
        # create() pushed a code (await api.request_2fa_code(phone) sends an SMS).
        check(fake.count_codes_sent(APPLE_ID) == 1, 'a code was pushed')

        code = fake.last_code(APPLE_ID)          # input("Enter the code you received: ")
        result = await api.validate_2fa_code(code)
        print(f'Code validation result: {result}')
        check(result is True, 'code accepted')

        if not api.is_trusted_session:
            print('Session is not trusted. Trusting session...')
            await api.trust_session()
        check(api.is_trusted_session, 'trusted')

    # The next start: no password, no code.
    async with await AsyncPyiCloudService.create(APPLE_ID, endpoint_base=fake.base_uri) as again:
        check(not again.requires_2fa and again.is_trusted_session, 'signed in from disk')
        check(fake.count_codes_sent(APPLE_ID) == 1, 'no new code')
        print('Signed in again from the saved session, without a code')


asyncio.run(main())
