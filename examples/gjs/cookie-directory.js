// cookie-directory.js: keep the session in a directory of your choice.
//
// pyicloud's async guide:
//
//     api = await AsyncPyiCloudService.create(id, pw, cookie_directory='/path/to/cookies')
//
// Here: cookie_directory (default: $XDG_STATE_HOME/icloud-glib). The
// directory is made 0700; the session is one 0600 file, <apple id without
// punctuation>-<16 hex digits of the SHA-256 of the case-folded Apple
// ID>.session.json, and the next session with the same directory signs in
// from it without a password.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import ICloud from 'gi://ICloud?version=1';
import {FakeICloud, check, runMain} from './common.js';

Gio._promisify(ICloud.Session.prototype, 'init_async', 'init_finish');
Gio._promisify(ICloud.Session.prototype, 'close_async', 'close_finish');

const APPLE_ID = 'user@example.com';
const SRP_INIT = '/appleauth/auth/signin/init';
const fake = new FakeICloud();
const directory = GLib.build_filenamev([fake.stateDir, 'path', 'to', 'cookies']);

function mode(path) {
    const info = Gio.File.new_for_path(path).query_info('unix::mode',
        Gio.FileQueryInfoFlags.NOFOLLOW_SYMLINKS, null);
    return info.get_attribute_uint32('unix::mode') & 0o777;
}

runMain(async () => {
    const api = new ICloud.Session({apple_id: APPLE_ID, password: 'correct horse',
        cookie_directory: directory, endpoint: fake.endpoint});
    await api.init_async(GLib.PRIORITY_DEFAULT, null);
    check(api.cookie_directory === directory, 'cookie_directory');
    await api.close_async(null);

    const path = GLib.build_filenamev([directory, 'userexamplecom-b4c9a289323b21a0.session.json']);
    check(mode(directory) === 0o700, 'directory 0700');
    check(mode(path) === 0o600, 'file 0600');
    check(!GLib.file_test(GLib.build_filenamev([fake.stateDir, 'icloud-glib']),
        GLib.FileTest.EXISTS), 'nothing in the default directory');
    print(`The session is in ${path}`);

    const again = new ICloud.Session({apple_id: APPLE_ID, cookie_directory: directory,
        endpoint: fake.endpoint});
    await again.init_async(GLib.PRIORITY_DEFAULT, null);
    check(again.state === ICloud.AuthState.AUTHENTICATED, 'signed in from disk');
    check(fake.countRequests(APPLE_ID, SRP_INIT) === 1, 'no second password proof');
    print(`Signed in again from ${directory} without a password`);
    await again.close_async(null);
});
