#!/usr/bin/python3
# two_step.py: a two-step (HSA) account: list the trusted devices, send a
# code to one, validate it.
#
# pyicloud's async guide:
#
#     devices = await api.get_trusted_devices()
#     device = devices[device_index]
#     if not await api.send_verification_code(device): ...
#     if not await api.validate_verification_code(device, code): ...
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import asyncio

from fakeicloud import FakeICloud, check
from icloud_glib.pyicloud import AsyncPyiCloudService

APPLE_ID = '2sa@example.com'
fake = FakeICloud()


async def main():
    async with await AsyncPyiCloudService.create(APPLE_ID, 'two step',
                                                 endpoint_base=fake.base_uri) as api:
        check(api.requires_2sa, 'requires_2sa')
        print('Two-step authentication required.')

        devices = await api.get_trusted_devices()   # Apple's dicts, as pyicloud's
        print('Trusted devices:')
        for i, device in enumerate(devices):
            print(f"  {i}: {device['deviceType']} {device['phoneNumber']}")
        check(len(devices) == 2, 'two trusted devices')

        device = devices[0]
        check(await api.send_verification_code(device), 'code sent')
        code = fake.last_code(APPLE_ID, device['deviceId'])   # input("Enter verification code: ")
        wrong = '111111' if code == '000000' else '000000'
        check(await api.validate_verification_code(device, wrong) is False,
              'a wrong code is False, as in pyicloud')
        check(await api.validate_verification_code(device, code), 'code accepted')
        check(not api.requires_2sa, 'signed in')
        print('Verification successful!')


asyncio.run(main())
