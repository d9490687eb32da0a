#!/usr/bin/python3
# two_factor.py: a two-factor (HSA2) account: request a code, validate it,
# trust the session; the next start needs neither password nor code.
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

from icloudexample import FakeICloud, check, closing, gio_call, run, GLib, ICloud

APPLE_ID = '2fa@example.com'
fake = FakeICloud()


async def main():
    api = ICloud.Session(apple_id=APPLE_ID, password='two factor', endpoint=fake.endpoint)
    await gio_call(api, 'init', GLib.PRIORITY_DEFAULT)

    async with closing(api):
        check(api.props.requires_2fa, 'requires_2fa')
        check(not api.props.requires_2sa, 'a 2FA account does not require 2SA')
        check(api.props.state == ICloud.AuthState.NEEDS_2FA, 'state NEEDS_2FA')
        print('Two-factor authentication required.')

        phones = await gio_call(api, 'get_trusted_phone_numbers')
        for phone in phones:
            print(f'Trusted phone {phone.get_id()}: {phone.get_obfuscated_number()}')
        check(phones.get_n_items() > 0, 'trusted phones')

        # None: a push to the trusted devices (pass a phone for an SMS).
        await gio_call(api, 'request_2fa_code', None)
        code = fake.last_code(APPLE_ID)          # input("Enter the code ...")
        check(code is not None, 'a code was sent')

        result = await gio_call(api, 'validate_2fa_code', code)
        print(f'Code validation result: {result}')
        check(result is True, 'code accepted')
        check(api.props.state == ICloud.AuthState.AUTHENTICATED, 'signed in')

        if not api.props.is_trusted_session:
            print('Session is not trusted. Trusting session...')
            await gio_call(api, 'trust_session')
        check(api.props.is_trusted_session, 'trusted')
    codes = fake.server.count_codes_sent(APPLE_ID, None)

    # The next start: no password, no code.
    again = ICloud.Session(apple_id=APPLE_ID, endpoint=fake.endpoint)
    await gio_call(again, 'init', GLib.PRIORITY_DEFAULT)
    async with closing(again):
        check(again.props.state == ICloud.AuthState.AUTHENTICATED, 'signed in from disk')
        check(fake.server.count_codes_sent(APPLE_ID, None) == codes, 'no new code')
        print('Signed in again from the saved session, without a code')


run(main())
