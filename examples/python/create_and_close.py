#!/usr/bin/python3
# create_and_close.py: sign in, read the account, close.
#
# pyicloud's async guide:
#
#     api = await AsyncPyiCloudService.create('jappleseed@apple.com', 'password')
#     print(f"Logged in as: {api.account_name}")
#     print(f"Requires 2FA: {api.requires_2fa}")
#     await api.close()
#
# Initialising an ICloud.Session signs it in (Gio.AsyncInitable). With
# Apple, leave out `endpoint`.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

from icloudexample import FakeICloud, check, closing, gio_call, run, GLib, ICloud

fake = FakeICloud()


async def main():
    api = ICloud.Session(apple_id='user@example.com', password='correct horse',
                         endpoint=fake.endpoint)
    await gio_call(api, 'init', GLib.PRIORITY_DEFAULT)    # create()

    print(f'Logged in as: {api.props.account_name}')
    print(f'Requires 2FA: {api.props.requires_2fa}')
    check(api.props.state == ICloud.AuthState.AUTHENTICATED, 'signed in')
    check(api.props.account_name == 'user@example.com', 'account name')
    check(not api.props.requires_2fa, 'no 2FA')

    await gio_call(api, 'close')
    check(api.props.state == ICloud.AuthState.CLOSED, 'closed')

    # The same with `async with`: closed at the end of the block.
    again = ICloud.Session(apple_id='user@example.com', endpoint=fake.endpoint)
    await gio_call(again, 'init', GLib.PRIORITY_DEFAULT)
    async with closing(again) as api:
        check(api.props.state == ICloud.AuthState.AUTHENTICATED, 'signed in from disk')
    check(again.props.state == ICloud.AuthState.CLOSED, 'closed by the context manager')


run(main())
