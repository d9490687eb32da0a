// china-mainland.js: an Apple ID of China mainland.
//
// pyicloud's async guide:
//
//     api = await AsyncPyiCloudService.create(id, pw, china_mainland=True)
//
// Here: region: 'china-mainland' (the china-mainland plugin: Apple's
// setup.icloud.com.cn and www.icloud.com.cn). Without it, a China mainland
// account fails with ICloud.Error.WRONG_REGION, naming the right region.
//
// The fake server runs in routed mode (TLS, Apple's host names); the
// session reaches it through fake.soupSession, which connects every host
// name to 127.0.0.1 and trusts only the test certificate. With Apple, leave
// out soup_session.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import ICloud from 'gi://ICloud?version=1';
import {FakeICloud, check, runMain} from './common.js';

Gio._promisify(ICloud.Session.prototype, 'init_async', 'init_finish');
Gio._promisify(ICloud.Session.prototype, 'close_async', 'close_finish');

const APPLE_ID = 'china@example.com';
const fake = new FakeICloud({routed: true});

runMain(async () => {
    // Forgetting the region.
    const wrong = new ICloud.Session({apple_id: APPLE_ID, password: 'china mainland',
        soup_session: fake.soupSession});
    try {
        await wrong.init_async(GLib.PRIORITY_DEFAULT, null);
        check(false, 'signed in through the global hosts');
    } catch (error) {
        check(error instanceof GLib.Error && error.matches(ICloud.Error, ICloud.Error.WRONG_REGION),
            `${error}`);
        check(error.message.includes('china-mainland'), 'the message names the region');
        print(`Without the region: ${error.message}`);
    }

    const api = new ICloud.Session({
        apple_id: APPLE_ID,
        password: 'china mainland',
        region: 'china-mainland',            // china_mainland=True
        soup_session: fake.soupSession,      // the routed fake server
    });
    await api.init_async(GLib.PRIORITY_DEFAULT, null);
    check(api.state === ICloud.AuthState.AUTHENTICATED, 'signed in');
    check(api.region === 'china-mainland', 'region');

    const host = GLib.Uri.parse(api.get_endpoint().get_setup_uri(), GLib.UriFlags.NONE).get_host();
    print(`Signed in through ${host}`);
    check(host.endsWith('.icloud.com.cn'), 'China mainland setup host');
    check(fake.countRequests(APPLE_ID, '/setup/ws/1/accountLogin') > 0, 'accountLogin');
    await api.close_async(null);
});
