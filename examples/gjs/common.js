// common.js: what the gjs examples share, and that an application would
// not need: the fake iCloud server they sign in to (ICloudMock-0, in this
// process), a private state directory, check() and runMain().
//
// Without the endpoint (or soup_session) FakeICloud provides, a session
// talks to Apple.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Soup from 'gi://Soup?version=3.0';
import ICloud from 'gi://ICloud?version=1';
import ICloudMock from 'gi://ICloudMock?version=0';
import System from 'system';

const cleanups = [];

function removeTree(file) {
    const children = file.enumerate_children('standard::name,standard::type',
        Gio.FileQueryInfoFlags.NOFOLLOW_SYMLINKS, null);
    let info;
    while ((info = children.next_file(null)) !== null) {
        const child = file.get_child(info.get_name());
        if (info.get_file_type() === Gio.FileType.DIRECTORY)
            removeTree(child);
        else
            child.delete(null);
    }
    file.delete(null);
}

export class CheckError extends Error {}

// The example fails (exit status 1) when a check does not hold.
export function check(condition, what = 'check failed') {
    if (!condition)
        throw new CheckError(what);
}

// The fake iCloud server, with the accounts of data/accounts.json: on one
// origin (http://127.0.0.1:PORT) through `endpoint`, or with routed: true,
// with TLS and Apple's host names through `soupSession`, which connects
// every host name to the fake server and trusts only the test certificate.
export class FakeICloud {
    constructor({routed = false} = {}) {
        // A private $XDG_STATE_HOME: the default session directory,
        // $XDG_STATE_HOME/icloud-glib, belongs to this run only.
        this.stateDir = GLib.dir_make_tmp('icloud-example-XXXXXX');
        GLib.setenv('XDG_STATE_HOME', this.stateDir, true);
        cleanups.push(() => removeTree(Gio.File.new_for_path(this.stateDir)));

        const accounts = GLib.getenv('ICLOUD_MOCK_ACCOUNTS');
        check(accounts !== null,
            'set ICLOUD_MOCK_ACCOUNTS to data/accounts.json (meson test and meson devenv do)');
        this.server = ICloudMock.Server.new();
        this.server.load_accounts(accounts);
        if (routed) {
            this.server.set_routed(GLib.getenv('ICLOUD_EXAMPLE_CERT'),
                GLib.getenv('ICLOUD_EXAMPLE_KEY'));
        }
        this.server.start();
        cleanups.push(() => this.server.stop());

        this.endpoint = null;
        this.soupSession = null;
        if (routed) {
            this.soupSession = new Soup.Session({
                remote_connectable: this.server.create_connectable(),
                tls_database: this.server.create_tls_database(),
            });
        } else {
            this.endpoint = ICloud.Endpoint.new_for_base_uri(this.server.get_base_uri());
        }
    }

    // The code the server "sent": what the user would type.
    lastCode(appleId, targetId = null) {
        return this.server.dup_last_code(appleId, targetId);
    }

    countRequests(appleId, path) {
        return this.server.count_requests(appleId, path);
    }
}

// Runs the async function main on a GLib main loop and exits with 0 when it
// resolves, 1 when it throws (or after 30 s).
export function runMain(main) {
    const loop = new GLib.MainLoop(null, false);
    let status = 1;
    GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, 30, () => {
        printerr('the example timed out');
        loop.quit();
        return GLib.SOURCE_REMOVE;
    });
    main().then(() => {
        status = 0;
    }).catch(error => {
        printerr(`${error instanceof CheckError ? 'check failed' : 'error'}: ${error.message ?? error}`);
        if (!(error instanceof CheckError) && error.stack)
            printerr(error.stack);
    }).finally(() => loop.quit());
    loop.run();
    for (const cleanup of cleanups.reverse())
        cleanup();
    System.exit(status);
}
