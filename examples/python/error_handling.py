#!/usr/bin/python3
# error_handling.py: what went wrong, by error code.
#
# pyicloud's async guide:
#
#     try:
#         async with await AsyncPyiCloudService.create(id, 'wrong_password') as api: ...
#     except PyiCloudFailedLoginException:
#         print("Failed to log in - check your credentials")
#     except PyiCloud2FARequiredException:
#         print("2FA is required")
#
# Here every failure is a GLib.Error; error.matches(ICloud.error_quark(),
# ICloud.Error.X) tells the cause (cancellation: Gio.IOErrorEnum.CANCELLED).
# A pending second factor is not an error: create succeeds and the state
# names the challenge.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

from icloudexample import FakeICloud, check, gio_call, run, GLib, Gio, ICloud

fake = FakeICloud()

MESSAGES = {
    ICloud.Error.FAILED_LOGIN: 'Failed to log in - check your credentials',
    ICloud.Error.INVALID_CODE: 'Wrong code, try again',
    ICloud.Error.TWO_FACTOR_REQUIRED: '2FA is required',
    ICloud.Error.TWO_STEP_REQUIRED: 'Two-step verification is required',
    ICloud.Error.SECURITY_KEY_REQUIRED: 'Sign in with a security key on icloud.com',
    ICloud.Error.ACCOUNT_LOCKED: 'Apple locked the account',
    ICloud.Error.REPAIR_REQUIRED: 'Repair the account or accept new terms on icloud.com',
    ICloud.Error.THROTTLED: 'Apple asks to wait',
    ICloud.Error.AUTH_REQUIRED: 'The password is needed again',
    ICloud.Error.SERVICE_NOT_ACTIVATED: 'Set up iCloud on icloud.com first',
    ICloud.Error.WRONG_REGION: 'The account belongs to another region',
    ICloud.Error.NOT_AUTHENTICATED: 'Not possible in this state of the sign-in',
    ICloud.Error.PROTOCOL: "Apple's answer could not be read",
    ICloud.Error.NO_PLUGIN: 'A plugin is missing',
    ICloud.Error.STORAGE: 'The session directory cannot be used',
    ICloud.Error.CLOSED: 'The session was closed',
}


def explain(error):
    if error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED):
        return 'Cancelled'
    if error.domain != GLib.quark_to_string(ICloud.error_quark()):
        return 'Network error'
    return MESSAGES.get(ICloud.Error(error.code), 'Unexpected error')


async def expect_error(code, awaitable, domain=None):
    try:
        await awaitable
    except GLib.Error as error:
        print(f'  -> {explain(error)} ({error.message})')
        check(error.matches(domain or ICloud.error_quark(), code),
              f'expected {code}, got {error.domain}:{error.code} {error.message}')
        return error
    check(False, f'expected {code}, but it worked')


def new_session(apple_id, password):
    return ICloud.Session(apple_id=apple_id, password=password, endpoint=fake.endpoint)


async def main():
    # 1. Sign-ins that fail.
    for apple_id, password, code in [
            ('user@example.com', 'wrong_password', ICloud.Error.FAILED_LOGIN),
            ('locked@example.com', 'locked out', ICloud.Error.ACCOUNT_LOCKED),
            ('repair@example.com', 'needs repair', ICloud.Error.REPAIR_REQUIRED),
            ('malformed@example.com', 'broken json', ICloud.Error.PROTOCOL),
            ('fo@example.com', None, ICloud.Error.AUTH_REQUIRED)]:
        print(f'{apple_id}:')
        error = await expect_error(code, gio_call(new_session(apple_id, password), 'init',
                                                  GLib.PRIORITY_DEFAULT))
        if password:
            check(password not in error.message, 'no password in messages')

    # THROTTLED: PyGObject rebuilds the GError from domain, code and message
    # only, so read Apple's retry-after from the session.
    print('throttled@example.com:')
    session = new_session('throttled@example.com', 'slow down')
    await expect_error(ICloud.Error.THROTTLED, gio_call(session, 'init', GLib.PRIORITY_DEFAULT))
    print(f'  -> retry in {session.props.retry_after} s')
    check(session.props.retry_after == 120, 'retry-after')

    # 2. A pending second factor is a state, not an exception.
    print('2fa@example.com:')
    session = new_session('2fa@example.com', 'two factor')
    await gio_call(session, 'init', GLib.PRIORITY_DEFAULT)
    check(session.props.state == ICloud.AuthState.NEEDS_2FA, 'NEEDS_2FA')
    print('  -> 2FA is required (state NEEDS_2FA)')
    await gio_call(session, 'request_2fa_code', None)
    code = fake.last_code('2fa@example.com')
    await expect_error(ICloud.Error.INVALID_CODE,
                       gio_call(session, 'validate_2fa_code', '111111' if code == '000000' else '000000'))
    check(session.props.state == ICloud.AuthState.NEEDS_2FA, 'still NEEDS_2FA')
    await expect_error(ICloud.Error.NOT_AUTHENTICATED, gio_call(session, 'get_trusted_devices'))
    await gio_call(session, 'close')
    await expect_error(ICloud.Error.CLOSED, gio_call(session, 'authenticate', False))

    # 3. Security keys.
    print('keys@example.com:')
    session = new_session('keys@example.com', 'security keys')
    await gio_call(session, 'init', GLib.PRIORITY_DEFAULT)
    check(session.props.state == ICloud.AuthState.NEEDS_SECURITY_KEY, 'NEEDS_SECURITY_KEY')
    await expect_error(ICloud.Error.SECURITY_KEY_REQUIRED,
                       gio_call(session, 'request_2fa_code', None))

    # 4. Cancellation.
    print('user@example.com, cancelled:')
    cancellable = Gio.Cancellable()
    cancellable.cancel()
    await expect_error(Gio.IOErrorEnum.CANCELLED,
                       gio_call(new_session('user@example.com', 'correct horse'), 'init',
                                GLib.PRIORITY_DEFAULT, cancellable=cancellable),
                       domain=Gio.io_error_quark())


run(main())
