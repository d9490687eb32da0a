// testSession.js: ICloud.Session from gjs against the fake server
// (ICloudMock-0, in this process): sign-in with Gio._promisify and await,
// the blocking twin, the error codes, reuse from disk, cancellation, and
// the second factors when their plugins are there. Prints TAP; exits
// non-zero on failure.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.GLib = '2.0';
imports.gi.versions.Gio = '2.0';
imports.gi.versions.ICloud = '1';
imports.gi.versions.ICloudMock = '0';
const {GLib, Gio, GObject, ICloud, ICloudMock} = imports.gi;
const System = imports.system;

const PASSWORD = 'correct horse battery staple';
const SRP_INIT = '/appleauth/auth/signin/init';

function account(appleId, extra = {}) {
    return Object.assign({apple_id: appleId, password: PASSWORD, protocol: 's2k',
        iterations: 1000, factor: 'none'}, extra);
}

const ACCOUNTS = {accounts: [
    account('js@example.com'),
    account('js-fo@example.com', {protocol: 's2k_fo'}),
    account('js-reuse@example.com'),
    account('js-cancel@example.com', {protocol: 's2k_fo'}),
    account('js-locked@example.com', {locked: true}),
    account('js-throttled@example.com', {throttled: true}),
    account('js-repair@example.com', {repair: true}),
    account('js-malformed@example.com', {malformed: true}),
]};

// Every _async/_finish pair the tests await.
Gio._promisify(ICloud.Session.prototype, 'init_async', 'init_finish');
for (const name of ['authenticate', 'close', 'logout', 'get_trusted_phone_numbers',
    'request_2fa_code', 'validate_2fa_code', 'trust_session', 'get_trusted_devices',
    'send_verification_code', 'validate_verification_code'])
    Gio._promisify(ICloud.Session.prototype, `${name}_async`, `${name}_finish`);

// A region written in JavaScript (ICloud.Region is derivable): its endpoint
// is the fake server of the running test. (An auth method cannot be written
// in gjs 1.74: it does not support vfuncs that take a callback.)
let loopbackBaseUri = null;
const LoopbackRegion = GObject.registerClass({
    GTypeName: 'GjsLoopbackRegion',
}, class LoopbackRegion extends ICloud.Region {
    vfunc_create_endpoint() {
        return ICloud.Endpoint.new_for_base_uri(loopbackBaseUri);
    }

    vfunc_handles_domain(domain) {
        return domain.toLowerCase() === 'icloud.gjs.test';
    }
});
ICloud.Region.register(LoopbackRegion.$gtype, 'gjs-loopback', 0);

// ---------------------------------------------------------------------- //
// A tiny assert helper

class AssertionError extends Error {}

function assert(condition, message = 'assertion failed') {
    if (!condition)
        throw new AssertionError(message);
}

function assertEqual(actual, expected, what = 'value') {
    if (actual !== expected)
        throw new AssertionError(`${what}: expected ${expected}, got ${actual}`);
}

function assertICloudError(error, code) {
    assert(error instanceof GLib.Error, `expected a GLib.Error, got ${error}`);
    assert(error.matches(ICloud.error_quark(), code),
        `expected ICloud.Error ${code}, got ${error.domain}:${error.code} ${error.message}`);
    assert(error.matches(ICloud.Error, code), 'ICloud.Error is the domain too');
    assert(!error.message.includes(PASSWORD), 'the message holds no password');
}

async function assertRejects(promise, domain, code) {
    try {
        await promise;
    } catch (error) {
        assert(error instanceof GLib.Error, `expected a GLib.Error, got ${error}`);
        assert(error.matches(domain, code),
            `expected ${domain}:${code}, got ${error.domain}:${error.code} ${error.message}`);
        return error;
    }
    throw new AssertionError(`expected an error ${domain}:${code}`);
}

function isMissingPlugin(error) {
    return error instanceof GLib.Error &&
        (error.matches(ICloud.Error, ICloud.Error.NO_PLUGIN) ||
         error.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.NOT_SUPPORTED));
}

class Skip extends Error {}

// ---------------------------------------------------------------------- //
// Fixture: a fake server and a fresh cookie directory per test

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

class Fixture {
    constructor() {
        this.server = ICloudMock.Server.new();
        this.server.load_accounts(GLib.getenv('ICLOUD_MOCK_ACCOUNTS'));
        this.server.load_accounts_from_data(JSON.stringify(ACCOUNTS), -1);
        this.server.start();
        this.endpoint = ICloud.Endpoint.new_for_base_uri(this.server.get_base_uri());
        this.dir = GLib.dir_make_tmp('icloud-gjs-XXXXXX');
    }

    newSession(appleId, password = PASSWORD, props = {}) {
        const all = Object.assign({apple_id: appleId, endpoint: this.endpoint,
            cookie_directory: this.dir}, props);
        if (password !== null)
            all.password = password;
        return new ICloud.Session(all);
    }

    async signIn(appleId, password = PASSWORD, props = {}) {
        const session = this.newSession(appleId, password, props);
        assert(await session.init_async(GLib.PRIORITY_DEFAULT, null));
        return session;
    }

    countSrp(appleId) {
        return this.server.count_requests(appleId, SRP_INIT);
    }

    teardown() {
        this.server.stop();
        removeTree(Gio.File.new_for_path(this.dir));
    }
}

// ---------------------------------------------------------------------- //
// Tests

const tests = {
    async 'sign in with await'(f) {
        const session = await f.signIn('js@example.com');
        assertEqual(session.get_state(), ICloud.AuthState.AUTHENTICATED, 'state');
        assertEqual(session.state, ICloud.AuthState.AUTHENTICATED, 'state property');
        assert(!session.requires_2fa && !session.requires_2sa);
        assert(session.get_account_info().get_object().has_member('dsInfo'));
        assertEqual(f.countSrp('js@example.com'), 1, 'SRP sign-ins');
    },

    async 's2k_fo and authenticate_async'(f) {
        const session = f.newSession('js-fo@example.com');
        assert(await session.authenticate_async(false, null));
        assertEqual(session.get_state(), ICloud.AuthState.AUTHENTICATED, 'state');
    },

    async 'blocking twin'(f) {
        const session = f.newSession('js@example.com');
        assert(session.init(null));
        assertEqual(session.get_state(), ICloud.AuthState.AUTHENTICATED, 'state');
        // (Another account: a saved session is used before any password.)
        let failed = null;
        try {
            f.newSession('js-fo@example.com', 'not the password').init(null);
        } catch (error) {
            failed = error;
        }
        assertICloudError(failed, ICloud.Error.FAILED_LOGIN);
    },

    async 'error codes'(f) {
        const cases = [
            ['js@example.com', 'not the password', ICloud.Error.FAILED_LOGIN],
            ['js-fo@example.com', 'not the password', ICloud.Error.FAILED_LOGIN],
            ['js-locked@example.com', PASSWORD, ICloud.Error.ACCOUNT_LOCKED],
            ['js-throttled@example.com', PASSWORD, ICloud.Error.THROTTLED],
            ['js-repair@example.com', PASSWORD, ICloud.Error.REPAIR_REQUIRED],
            ['js-malformed@example.com', PASSWORD, ICloud.Error.PROTOCOL],
            ['js@example.com', null, ICloud.Error.AUTH_REQUIRED],
        ];
        for (const [appleId, password, code] of cases) {
            const error = await assertRejects(
                f.newSession(appleId, password).init_async(GLib.PRIORITY_DEFAULT, null),
                ICloud.error_quark(), code);
            assertICloudError(error, code);
            assertEqual(error.domain, ICloud.error_quark(), 'domain');
            assertEqual(error.code, code, 'code');
        }
        assertEqual(ICloud.Error.FAILED_LOGIN, 0, 'FAILED_LOGIN');
        assertEqual(GLib.quark_to_string(ICloud.error_quark()), 'icloud-error-quark', 'quark');
    },

    async 'throttled carries retry-after'(f) {
        const session = f.newSession('js-throttled@example.com');
        const error = await assertRejects(session.authenticate_async(false, null),
            ICloud.Error, ICloud.Error.THROTTLED);
        assertEqual(session.retry_after, 120, 'retry-after');
        // gjs keeps the GError itself, so the error carries it too.
        assertEqual(ICloud.Error.get_retry_after(error), 120, 'retry-after of the error');
    },

    async 'no plugin, closed, not authenticated'(f) {
        const error = await assertRejects(
            f.newSession('js@example.com', PASSWORD, {sign_in_method: 'no-such-method'})
                .init_async(GLib.PRIORITY_DEFAULT, null),
            ICloud.Error, ICloud.Error.NO_PLUGIN);
        assert(error.message.includes('no-such-method'));

        await assertRejects(f.newSession('js@example.com').get_trusted_devices_async(null),
            ICloud.Error, ICloud.Error.NOT_AUTHENTICATED);

        const session = await f.signIn('js@example.com');
        assert(await session.close_async(null));
        assertEqual(session.get_state(), ICloud.AuthState.CLOSED, 'state');
        await assertRejects(session.authenticate_async(false, null),
            ICloud.Error, ICloud.Error.CLOSED);
    },

    async 'reuse from disk'(f) {
        const first = await f.signIn('js-reuse@example.com');
        assert(await first.close_async(null));
        assertEqual(f.countSrp('js-reuse@example.com'), 1, 'SRP sign-ins');

        const second = await f.signIn('js-reuse@example.com', null);
        assertEqual(second.get_state(), ICloud.AuthState.AUTHENTICATED, 'state');
        assertEqual(f.countSrp('js-reuse@example.com'), 1, 'SRP sign-ins after reuse');
        assertEqual(f.server.count_requests('js-reuse@example.com', '/setup/ws/1/validate'),
            1, 'validate calls');
    },

    async 'cancellation, then a retry'(f) {
        const session = f.newSession('js-cancel@example.com');
        const cancellable = new Gio.Cancellable();
        cancellable.cancel();
        await assertRejects(session.authenticate_async(false, cancellable),
            Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED);
        assertEqual(session.get_state(), ICloud.AuthState.SIGNED_OUT, 'state');

        // Cancel while the server holds its answer back.
        const step = '/appleauth/auth/signin/complete';
        f.server.inject_fault_full(step, 'slow', 1, 0, 3000);
        const later = new Gio.Cancellable();
        GLib.timeout_add(GLib.PRIORITY_DEFAULT, 5, () => {
            if (f.server.count_requests(null, step) === 0)
                return GLib.SOURCE_CONTINUE;
            later.cancel();
            return GLib.SOURCE_REMOVE;
        });
        await assertRejects(session.authenticate_async(false, later),
            Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED);
        f.server.clear_faults();

        assert(await session.authenticate_async(false, null));
        assertEqual(session.get_state(), ICloud.AuthState.AUTHENTICATED, 'state');
    },

    async 'concurrent accounts on one main loop'(f) {
        const sessions = ['js@example.com', 'js-fo@example.com', 'js-reuse@example.com']
            .map(id => f.newSession(id));
        await Promise.all(sessions.map(s => s.init_async(GLib.PRIORITY_DEFAULT, null)));
        for (const s of sessions)
            assertEqual(s.get_state(), ICloud.AuthState.AUTHENTICATED, s.get_apple_id());
    },

    async 'region written in JavaScript'(f) {
        loopbackBaseUri = f.server.get_base_uri();
        assert(new LoopbackRegion().create_endpoint().equal(f.endpoint));
        // Apple's domainToUse names the region that claims it (issue 11).
        assert(new LoopbackRegion().handles_domain('iCloud.GJS.test'));
        assert(!new LoopbackRegion().handles_domain('iCloud.com.cn'));
        // No endpoint: the session asks the region for one.
        const session = new ICloud.Session({apple_id: 'js@example.com', password: PASSWORD,
            region: 'gjs-loopback', cookie_directory: f.dir});
        assert(await session.init_async(GLib.PRIORITY_DEFAULT, null));
        assertEqual(session.get_state(), ICloud.AuthState.AUTHENTICATED, 'state');
        assertEqual(session.get_region(), 'gjs-loopback', 'region');
        assert(session.get_endpoint().equal(f.endpoint));
    },

    async 'two-factor'(f) {
        const appleId = '2fa@example.com';
        const session = await f.signIn(appleId, 'two factor');
        assertEqual(session.get_state(), ICloud.AuthState.NEEDS_2FA, 'state');
        assert(session.requires_2fa);
        let phones;
        try {
            phones = await session.get_trusted_phone_numbers_async(null);
        } catch (error) {
            if (isMissingPlugin(error))
                throw new Skip(error.message);
            throw error;
        }
        assert(phones.get_n_items() > 0);
        assert(phones.get_item(0) instanceof ICloud.TrustedPhone);
        assert(await session.request_2fa_code_async(null, null));
        const code = f.server.dup_last_code(appleId, null);
        assert(code !== null, 'a code was sent');
        await assertRejects(session.validate_2fa_code_async(code === '000000' ? '111111' : '000000', null),
            ICloud.Error, ICloud.Error.INVALID_CODE);
        assert(await session.validate_2fa_code_async(code, null));
        assertEqual(session.get_state(), ICloud.AuthState.AUTHENTICATED, 'state');
        assert(await session.trust_session_async(null));
        assert(session.is_trusted_session);
    },

    async 'trusted-device bridge'(f) {
        const appleId = 'bridge-prompt@example.com';
        const session = await f.signIn(appleId, 'bridge prompt');
        assertEqual(session.get_state(), ICloud.AuthState.NEEDS_2FA, 'state');
        assert(session.trusted_device_bridge, 'the bridge is on by default');
        assertEqual(session.code_delivery, ICloud.CodeDelivery.NONE, 'no route yet');
        assert(await session.request_2fa_code_async(null, null));
        assertEqual(session.get_code_delivery(), ICloud.CodeDelivery.BRIDGE, 'route');
        assertEqual(f.server.get_n_push_connections(), 1, 'open sockets');
        assert(await session.validate_2fa_code_async(f.server.dup_last_code(appleId, null), null));
        assertEqual(session.get_state(), ICloud.AuthState.AUTHENTICATED, 'state');
        assert(session.is_trusted_session);
        assertEqual(f.server.count_requests(appleId, '/appleauth/auth/bridge/code/validate'), 1,
            'bridge/code/validate');
    },

    async 'two-step'(f) {
        const appleId = '2sa@example.com';
        const session = await f.signIn(appleId, 'two step');
        assertEqual(session.get_state(), ICloud.AuthState.NEEDS_2SA, 'state');
        let devices;
        try {
            devices = await session.get_trusted_devices_async(null);
        } catch (error) {
            if (isMissingPlugin(error))
                throw new Skip(error.message);
            throw error;
        }
        const device = devices.get_item(0);
        assert(device instanceof ICloud.TrustedDevice);
        assert(await session.send_verification_code_async(device, null));
        const code = f.server.dup_last_code(appleId, device.get_id());
        assert(code !== null, 'a code was sent');
        assert(await session.validate_verification_code_async(device, code, null));
        assertEqual(session.get_state(), ICloud.AuthState.AUTHENTICATED, 'state');
    },
};

// ---------------------------------------------------------------------- //

async function runAll() {
    const names = Object.keys(tests);
    let failures = 0;
    print(`1..${names.length}`);
    for (const [i, name] of names.entries()) {
        const fixture = new Fixture();
        try {
            await tests[name](fixture);
            print(`ok ${i + 1} - ${name}`);
        } catch (error) {
            if (error instanceof Skip) {
                print(`ok ${i + 1} - ${name} # SKIP ${error.message}`);
            } else {
                failures++;
                print(`not ok ${i + 1} - ${name}`);
                for (const line of `${error}\n${error.stack ?? ''}`.split('\n'))
                    print(`# ${line}`);
            }
        } finally {
            fixture.teardown();
        }
    }
    return failures;
}

const loop = new GLib.MainLoop(null, false);
let exitStatus = 1;
GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, 120, () => {
    printerr('# timed out');
    loop.quit();
    return GLib.SOURCE_REMOVE;
});
runAll().then(failures => {
    exitStatus = failures > 0 ? 1 : 0;
}).catch(error => {
    printerr(`# ${error}\n${error.stack}`);
}).finally(() => loop.quit());
loop.run();
System.exit(exitStatus);
