#!/usr/bin/python3
# two_step.py: a two-step (legacy 2SA) account: list the trusted devices,
# send a code to one, validate it.
#
# pyicloud's async guide:
#
#     if api.requires_2sa:
#         devices = await api.get_trusted_devices()
#         device = devices[device_index]
#         if not await api.send_verification_code(device): ...
#         if not await api.validate_verification_code(device, code): ...
#
# A failure is an exception here (GLib.Error), never a False.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

from icloudexample import FakeICloud, check, closing, gio_call, run, GLib, ICloud

APPLE_ID = '2sa@example.com'
fake = FakeICloud()


async def main():
    api = ICloud.Session(apple_id=APPLE_ID, password='two step', endpoint=fake.endpoint)
    await gio_call(api, 'init', GLib.PRIORITY_DEFAULT)

    async with closing(api):
        check(api.props.requires_2sa, 'requires_2sa')
        check(api.props.state == ICloud.AuthState.NEEDS_2SA, 'state NEEDS_2SA')
        print('Two-step authentication required.')

        devices = await gio_call(api, 'get_trusted_devices')
        print('Trusted devices:')
        for i, device in enumerate(devices):
            print(f'  {i}: {device.get_device_type()} {device.get_phone_number()}')
        check(devices.get_n_items() == 2, 'two trusted devices')

        device = devices[0]
        check(await gio_call(api, 'send_verification_code', device), 'code sent')
        code = fake.last_code(APPLE_ID, device.get_id())   # input("Enter verification code: ")
        check(await gio_call(api, 'validate_verification_code', device, code), 'code accepted')
        check(api.props.state == ICloud.AuthState.AUTHENTICATED, 'signed in')
        print('Verification successful!')


run(main())
