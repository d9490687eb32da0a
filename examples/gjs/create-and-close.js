// create-and-close.js: sign in, read the account, close.
//
// pyicloud's async guide:
//
//     api = await AsyncPyiCloudService.create('jappleseed@apple.com', 'password')
//     print(f"Logged in as: {api.account_name}")
//     print(f"Requires 2FA: {api.requires_2fa}")
//     await api.close()
//
// Initialising an ICloud.Session signs it in (Gio.AsyncInitable). With
// Apple, leave out `endpoint`.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import ICloud from 'gi://ICloud?version=1';
import {FakeICloud, check, runMain} from './common.js';

// Await the _async/_finish pairs.
Gio._promisify(ICloud.Session.prototype, 'init_async', 'init_finish');
Gio._promisify(ICloud.Session.prototype, 'close_async', 'close_finish');

const fake = new FakeICloud();

runMain(async () => {
    const api = new ICloud.Session({
        apple_id: 'user@example.com',
        password: 'correct horse',
        endpoint: fake.endpoint,
    });
    await api.init_async(GLib.PRIORITY_DEFAULT, null);   // create()

    print(`Logged in as: ${api.account_name}`);
    print(`Requires 2FA: ${api.requires_2fa}`);
    check(api.state === ICloud.AuthState.AUTHENTICATED, 'signed in');
    check(api.account_name === 'user@example.com', 'account name');
    check(!api.requires_2fa, 'no 2FA');

    await api.close_async(null);
    check(api.state === ICloud.AuthState.CLOSED, 'closed');
});
