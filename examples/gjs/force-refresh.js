// force-refresh.js: authenticate again without trusting the saved web
// session.
//
// pyicloud's async guide:
//
//     await api.authenticate(force_refresh=True)
//
// authenticate_async(false) validates the saved web session and is done when
// Apple accepts it; with true it skips that and signs in again with the
// stored session token (accountLogin); only if Apple refuses the token is
// the password proven again.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import ICloud from 'gi://ICloud?version=1';
import {FakeICloud, check, runMain} from './common.js';

Gio._promisify(ICloud.Session.prototype, 'init_async', 'init_finish');
Gio._promisify(ICloud.Session.prototype, 'authenticate_async', 'authenticate_finish');
Gio._promisify(ICloud.Session.prototype, 'close_async', 'close_finish');

const APPLE_ID = 'fo@example.com';
const fake = new FakeICloud();
const count = path => fake.countRequests(APPLE_ID, path);
const SRP_INIT = '/appleauth/auth/signin/init';
const VALIDATE = '/setup/ws/1/validate';
const ACCOUNT_LOGIN = '/setup/ws/1/accountLogin';

runMain(async () => {
    const api = new ICloud.Session({apple_id: APPLE_ID, password: 'battery staple',
        endpoint: fake.endpoint});
    await api.init_async(GLib.PRIORITY_DEFAULT, null);
    check(count(SRP_INIT) === 1, 'one password proof');

    let validate = count(VALIDATE);
    const login = count(ACCOUNT_LOGIN);
    await api.authenticate_async(false, null);
    check(count(VALIDATE) === validate + 1 && count(ACCOUNT_LOGIN) === login,
        'the saved web session was validated');
    print('authenticate: the saved web session is still valid');

    validate = count(VALIDATE);
    await api.authenticate_async(true, null);          // force_refresh=True
    check(api.state === ICloud.AuthState.AUTHENTICATED, 'signed in');
    check(count(VALIDATE) === validate, 'no validate');
    check(count(ACCOUNT_LOGIN) === login + 1, 'a new accountLogin');
    check(count(SRP_INIT) === 1, 'no new password proof');
    print('force_refresh: signed in again with the stored token');
    await api.close_async(null);
});
