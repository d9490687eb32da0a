// error-handling.js: what went wrong, by error code.
//
// pyicloud's async guide:
//
//     try:
//         async with await AsyncPyiCloudService.create(id, 'wrong_password') as api: ...
//     except PyiCloudFailedLoginException:
//         print("Failed to log in - check your credentials")
//     except PyiCloud2FARequiredException:
//         print("2FA is required")
//
// Here a failure rejects with a GLib.Error; error.matches(ICloud.Error,
// ICloud.Error.X) tells the cause (cancellation: Gio.IOErrorEnum.CANCELLED).
// A pending second factor is not an error: the sign-in succeeds and the
// state names the challenge.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import ICloud from 'gi://ICloud?version=1';
import {FakeICloud, check, runMain} from './common.js';

Gio._promisify(ICloud.Session.prototype, 'init_async', 'init_finish');
for (const name of ['authenticate', 'close', 'request_2fa_code', 'validate_2fa_code',
    'get_trusted_devices'])
    Gio._promisify(ICloud.Session.prototype, `${name}_async`, `${name}_finish`);

const fake = new FakeICloud();

const MESSAGES = {
    [ICloud.Error.FAILED_LOGIN]: 'Failed to log in - check your credentials',
    [ICloud.Error.INVALID_CODE]: 'Wrong code, try again',
    [ICloud.Error.TWO_FACTOR_REQUIRED]: '2FA is required',
    [ICloud.Error.TWO_STEP_REQUIRED]: 'Two-step verification is required',
    [ICloud.Error.SECURITY_KEY_REQUIRED]: 'Sign in with a security key on icloud.com',
    [ICloud.Error.ACCOUNT_LOCKED]: 'Apple locked the account',
    [ICloud.Error.REPAIR_REQUIRED]: 'Repair the account or accept new terms on icloud.com',
    [ICloud.Error.THROTTLED]: 'Apple asks to wait',
    [ICloud.Error.AUTH_REQUIRED]: 'The password is needed again',
    [ICloud.Error.SERVICE_NOT_ACTIVATED]: 'Set up iCloud on icloud.com first',
    [ICloud.Error.WRONG_REGION]: 'The account belongs to another region',
    [ICloud.Error.NOT_AUTHENTICATED]: 'Not possible in this state of the sign-in',
    [ICloud.Error.PROTOCOL]: "Apple's answer could not be read",
    [ICloud.Error.NO_PLUGIN]: 'A plugin is missing',
    [ICloud.Error.STORAGE]: 'The session directory cannot be used',
    [ICloud.Error.CLOSED]: 'The session was closed',
};

function explain(error) {
    if (error.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED))
        return 'Cancelled';
    if (error.domain !== ICloud.error_quark())
        return 'Network error';
    return MESSAGES[error.code] ?? 'Unexpected error';
}

async function expectError(promise, code, domain = ICloud.Error) {
    try {
        await promise;
    } catch (error) {
        check(error instanceof GLib.Error, `not a GLib.Error: ${error}`);
        print(`  -> ${explain(error)} (${error.message})`);
        check(error.matches(domain, code), `expected ${code}, got ${error.code}: ${error.message}`);
        return error;
    }
    throw new Error(`expected error ${code}, but it worked`);
}

const newSession = (appleId, password) => new ICloud.Session(
    Object.assign({apple_id: appleId, endpoint: fake.endpoint}, password ? {password} : {}));

runMain(async () => {
    // 1. Sign-ins that fail.
    for (const [appleId, password, code] of [
        ['user@example.com', 'wrong_password', ICloud.Error.FAILED_LOGIN],
        ['locked@example.com', 'locked out', ICloud.Error.ACCOUNT_LOCKED],
        ['repair@example.com', 'needs repair', ICloud.Error.REPAIR_REQUIRED],
        ['malformed@example.com', 'broken json', ICloud.Error.PROTOCOL],
        ['fo@example.com', null, ICloud.Error.AUTH_REQUIRED],
    ]) {
        print(`${appleId}:`);
        const error = await expectError(
            newSession(appleId, password).init_async(GLib.PRIORITY_DEFAULT, null), code);
        check(!password || !error.message.includes(password), 'no password in messages');
    }

    // THROTTLED carries Apple's Retry-After (gjs keeps the GError itself).
    print('throttled@example.com:');
    const throttled = newSession('throttled@example.com', 'slow down');
    const error = await expectError(throttled.init_async(GLib.PRIORITY_DEFAULT, null),
        ICloud.Error.THROTTLED);
    print(`  -> retry in ${ICloud.Error.get_retry_after(error)} s`);
    check(ICloud.Error.get_retry_after(error) === 120, 'retry-after of the error');
    check(throttled.retry_after === 120, 'retry-after of the session');

    // 2. A pending second factor is a state, not an exception.
    print('2fa@example.com:');
    const session = newSession('2fa@example.com', 'two factor');
    await session.init_async(GLib.PRIORITY_DEFAULT, null);
    check(session.state === ICloud.AuthState.NEEDS_2FA, 'NEEDS_2FA');
    print('  -> 2FA is required (state NEEDS_2FA)');
    await session.request_2fa_code_async(null, null);
    const code = fake.lastCode('2fa@example.com');
    await expectError(session.validate_2fa_code_async(code === '000000' ? '111111' : '000000', null),
        ICloud.Error.INVALID_CODE);
    check(session.state === ICloud.AuthState.NEEDS_2FA, 'still NEEDS_2FA');
    await expectError(session.get_trusted_devices_async(null), ICloud.Error.NOT_AUTHENTICATED);
    await session.close_async(null);
    await expectError(session.authenticate_async(false, null), ICloud.Error.CLOSED);

    // 3. Security keys.
    print('keys@example.com:');
    const keys = newSession('keys@example.com', 'security keys');
    await keys.init_async(GLib.PRIORITY_DEFAULT, null);
    check(keys.state === ICloud.AuthState.NEEDS_SECURITY_KEY, 'NEEDS_SECURITY_KEY');
    await expectError(keys.request_2fa_code_async(null, null), ICloud.Error.SECURITY_KEY_REQUIRED);

    // 4. Cancellation.
    print('user@example.com, cancelled:');
    const cancellable = new Gio.Cancellable();
    cancellable.cancel();
    await expectError(newSession('user@example.com', 'correct horse')
        .init_async(GLib.PRIORITY_DEFAULT, cancellable),
    Gio.IOErrorEnum.CANCELLED, Gio.IOErrorEnum);
});
