#!/usr/bin/python3
# error_handling.py: what went wrong, by exception.
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
# icloud_glib.pyicloud raises pyicloud's exceptions; underneath, every
# failure is an icloud_glib.ICloudError subclass whose `code` is the
# ICloud.Error and whose __cause__ is the library's GLib.Error. A pending
# second factor is not an error: create() succeeds with requires_2fa set.
# Cancelling the task (or asyncio.wait_for timing out) cancels the request.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import asyncio

import icloud_glib
from fakeicloud import FakeICloud, check
from icloud_glib.pyicloud import AsyncPyiCloudService
from icloud_glib.pyicloud.exceptions import (
    PyiCloudAcceptTermsException,
    PyiCloudAPIResponseException,
    PyiCloudException,
    PyiCloudFailedLoginException,
    PyiCloudNoStoredPasswordAvailableException,
)

fake = FakeICloud()


def create(apple_id, password):
    return AsyncPyiCloudService.create(apple_id, password, endpoint_base=fake.base_uri)


async def expect(cls, awaitable):
    try:
        await awaitable
    except PyiCloudException as error:
        cause = error.icloud_error
        nick = error.icloud_code.value_nick if error.icloud_code else None
        print(f'  -> {type(error).__name__}: {error} [{nick}]')
        check(type(error) is cls, f'expected {cls.__name__}, got {error!r}')
        check(isinstance(cause, icloud_glib.ICloudError), 'the library error')
        check(error.__cause__ is cause.glib_error, 'the GLib.Error as __cause__')
        return error
    check(False, f'expected {cls.__name__}, but it worked')


async def main():
    print('user@example.com, wrong password:')
    try:
        async with await create('user@example.com', 'wrong_password'):
            print('Logged in successfully')
    except PyiCloudFailedLoginException as error:
        print('  -> Failed to log in - check your credentials')
        check(isinstance(error.icloud_error, icloud_glib.FailedLoginError), 'FAILED_LOGIN')
        check('wrong_password' not in str(error), 'no password in messages')

    for apple_id, password, cls in [
            ('locked@example.com', 'locked out', PyiCloudAPIResponseException),
            ('repair@example.com', 'needs repair', PyiCloudAcceptTermsException),
            ('malformed@example.com', 'broken json', PyiCloudAPIResponseException),
            ('fo@example.com', None, PyiCloudNoStoredPasswordAvailableException)]:
        print(f'{apple_id}:')
        await expect(cls, create(apple_id, password))

    print('throttled@example.com:')
    error = await expect(PyiCloudAPIResponseException, create('throttled@example.com', 'slow down'))
    print(f'  -> retry in {error.retry_after} s')
    check(error.retry_after == 120 and error.code == 503, 'retry-after')

    # The library's own exceptions, without the pyicloud layer.
    print('icloud_glib.Session, locked@example.com:')
    try:
        await icloud_glib.Session.create('locked@example.com', 'locked out',
                                         endpoint_base=fake.base_uri)
        check(False, 'signed in')
    except icloud_glib.AccountLockedError as error:
        print(f'  -> {type(error).__name__}: {error.code.value_nick}, cause {error.__cause__!r}')

    # A pending second factor is a state; a wrong code is False.
    print('2fa@example.com:')
    async with await create('2fa@example.com', 'two factor') as api:
        check(api.requires_2fa, 'requires_2fa')
        print('  -> 2FA is required')
        code = fake.last_code('2fa@example.com')
        check(await api.validate_2fa_code('111111' if code == '000000' else '000000') is False,
              'a wrong code is False')
        check(api.requires_2fa, 'still waiting for the code')

    # Cancellation: asyncio.wait_for gives up, the sign-in's request is cancelled.
    print('user@example.com, slow server, wait_for 0.2 s:')
    fake.server.inject_fault_full('/appleauth/auth/signin/complete', 'slow', 1, 0, 2000)
    try:
        await asyncio.wait_for(create('user@example.com', 'correct horse'), 0.2)
        check(False, 'signed in')
    except asyncio.TimeoutError:
        print('  -> TimeoutError; the sign-in was cancelled')
    check(fake.count_requests('user@example.com', '/setup/ws/1/accountLogin') == 0,
          'nothing sent after the cancellation')


asyncio.run(main())
