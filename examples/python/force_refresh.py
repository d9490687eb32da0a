#!/usr/bin/python3
# force_refresh.py: authenticate again without trusting the saved web
# session.
#
# pyicloud's async guide:
#
#     await api.authenticate(force_refresh=True)
#
# authenticate_async(False) validates the saved web session and is done when
# Apple accepts it; with True it skips that and signs in again with the
# stored session token (accountLogin); only if Apple refuses the token is the
# password proven again.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

from icloudexample import FakeICloud, check, closing, gio_call, run, GLib, ICloud

APPLE_ID = 'fo@example.com'
SRP_INIT = '/appleauth/auth/signin/init'
VALIDATE = '/setup/ws/1/validate'
ACCOUNT_LOGIN = '/setup/ws/1/accountLogin'
fake = FakeICloud()


def count(path):
    return fake.count_requests(APPLE_ID, path)


async def main():
    api = ICloud.Session(apple_id=APPLE_ID, password='battery staple', endpoint=fake.endpoint)
    await gio_call(api, 'init', GLib.PRIORITY_DEFAULT)
    async with closing(api):
        check(count(SRP_INIT) == 1, 'one password proof')

        validate, login = count(VALIDATE), count(ACCOUNT_LOGIN)
        await gio_call(api, 'authenticate', False)
        check(count(VALIDATE) == validate + 1 and count(ACCOUNT_LOGIN) == login,
              'the saved web session was validated')
        print('authenticate: the saved web session is still valid')

        validate = count(VALIDATE)
        await gio_call(api, 'authenticate', True)      # force_refresh=True
        check(api.props.state == ICloud.AuthState.AUTHENTICATED, 'signed in')
        check(count(VALIDATE) == validate, 'no validate')
        check(count(ACCOUNT_LOGIN) == login + 1, 'a new accountLogin')
        check(count(SRP_INIT) == 1, 'no new password proof')
        print('force_refresh: signed in again with the stored token')


run(main())
