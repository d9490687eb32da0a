// two-factor.js: a two-factor (HSA2) account: request a code, validate it,
// trust the session; the next start needs neither password nor code.
//
// pyicloud's async guide:
//
//     if api.requires_2fa:
//         code = input("Enter the code you received: ")
//         result = await api.validate_2fa_code(code)
//     if not api.is_trusted_session:
//         await api.trust_session()
//
// SPDX-License-Identifier: LGPL-2.1-or-later

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import ICloud from 'gi://ICloud?version=1';
import {FakeICloud, check, runMain} from './common.js';

Gio._promisify(ICloud.Session.prototype, 'init_async', 'init_finish');
for (const name of ['close', 'get_trusted_phone_numbers', 'request_2fa_code',
    'validate_2fa_code', 'trust_session'])
    Gio._promisify(ICloud.Session.prototype, `${name}_async`, `${name}_finish`);

const APPLE_ID = '2fa@example.com';
const fake = new FakeICloud();

runMain(async () => {
    const api = new ICloud.Session({apple_id: APPLE_ID, password: 'two factor',
        endpoint: fake.endpoint});
    await api.init_async(GLib.PRIORITY_DEFAULT, null);

    check(api.requires_2fa, 'requires_2fa');
    check(!api.requires_2sa, 'a 2FA account does not require 2SA');
    check(api.state === ICloud.AuthState.NEEDS_2FA, 'state NEEDS_2FA');
    print('Two-factor authentication required.');

    const phones = await api.get_trusted_phone_numbers_async(null);
    for (let i = 0; i < phones.get_n_items(); i++) {
        const phone = phones.get_item(i);
        print(`Trusted phone ${phone.get_id()}: ${phone.get_obfuscated_number()}`);
    }
    check(phones.get_n_items() > 0, 'trusted phones');

    // null: a push to the trusted devices (pass a phone for an SMS).
    await api.request_2fa_code_async(null, null);
    const code = fake.lastCode(APPLE_ID);     // what the user types
    check(code !== null, 'a code was sent');

    const result = await api.validate_2fa_code_async(code, null);
    print(`Code validation result: ${result}`);
    check(result === true && api.state === ICloud.AuthState.AUTHENTICATED, 'signed in');

    if (!api.is_trusted_session) {
        print('Session is not trusted. Trusting session...');
        await api.trust_session_async(null);
    }
    check(api.is_trusted_session, 'trusted');
    await api.close_async(null);
    const codes = fake.server.count_codes_sent(APPLE_ID, null);

    // The next start: no password, no code.
    const again = new ICloud.Session({apple_id: APPLE_ID, endpoint: fake.endpoint});
    await again.init_async(GLib.PRIORITY_DEFAULT, null);
    check(again.state === ICloud.AuthState.AUTHENTICATED, 'signed in from disk');
    check(fake.server.count_codes_sent(APPLE_ID, null) === codes, 'no new code');
    print('Signed in again from the saved session, without a code');
    await again.close_async(null);
});
