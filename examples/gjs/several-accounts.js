// several-accounts.js: three Apple IDs signed in concurrently, on one main
// loop.
//
// pyicloud's async guide:
//
//     async def check_account(email, password):
//         async with await AsyncPyiCloudService.create(email, password) as api:
//             return {'email': api.account_name, 'requires_2fa': api.requires_2fa,
//                     'is_trusted': api.is_trusted_session}
//     results = await asyncio.gather(*[check_account(e, p) for e, p in accounts])
//
// SPDX-License-Identifier: LGPL-2.1-or-later

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import ICloud from 'gi://ICloud?version=1';
import {FakeICloud, check, runMain} from './common.js';

Gio._promisify(ICloud.Session.prototype, 'init_async', 'init_finish');
Gio._promisify(ICloud.Session.prototype, 'close_async', 'close_finish');

const fake = new FakeICloud();

async function checkAccount(email, password) {
    const api = new ICloud.Session({apple_id: email, password, endpoint: fake.endpoint});
    await api.init_async(GLib.PRIORITY_DEFAULT, null);
    try {
        return {
            email: api.account_name,
            requires_2fa: api.requires_2fa,
            is_trusted: api.is_trusted_session,
        };
    } finally {
        await api.close_async(null);
    }
}

runMain(async () => {
    const accounts = [
        ['user@example.com', 'correct horse'],
        ['fo@example.com', 'battery staple'],
        ['2fa@example.com', 'two factor'],
    ];
    const results = await Promise.all(accounts.map(([email, password]) =>
        checkAccount(email, password)));
    for (const result of results)
        print(JSON.stringify(result));
    check(results.map(r => r.email).join() === accounts.map(a => a[0]).join(), 'every account');
    check(results.map(r => r.requires_2fa).join() === 'false,false,true', 'requires_2fa');
});
