// two-step.js: a two-step (legacy 2SA) account: list the trusted devices,
// send a code to one, validate it.
//
// pyicloud's async guide:
//
//     if api.requires_2sa:
//         devices = await api.get_trusted_devices()
//         device = devices[device_index]
//         if not await api.send_verification_code(device): ...
//         if not await api.validate_verification_code(device, code): ...
//
// A failure rejects the promise with a GLib.Error, never a false.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import ICloud from 'gi://ICloud?version=1';
import {FakeICloud, check, runMain} from './common.js';

Gio._promisify(ICloud.Session.prototype, 'init_async', 'init_finish');
for (const name of ['close', 'get_trusted_devices', 'send_verification_code',
    'validate_verification_code'])
    Gio._promisify(ICloud.Session.prototype, `${name}_async`, `${name}_finish`);

const APPLE_ID = '2sa@example.com';
const fake = new FakeICloud();

runMain(async () => {
    const api = new ICloud.Session({apple_id: APPLE_ID, password: 'two step',
        endpoint: fake.endpoint});
    await api.init_async(GLib.PRIORITY_DEFAULT, null);

    check(api.requires_2sa, 'requires_2sa');
    check(api.state === ICloud.AuthState.NEEDS_2SA, 'state NEEDS_2SA');
    print('Two-step authentication required.');

    const devices = await api.get_trusted_devices_async(null);
    print('Trusted devices:');
    for (let i = 0; i < devices.get_n_items(); i++) {
        const device = devices.get_item(i);
        print(`  ${i}: ${device.get_device_type()} ${device.get_phone_number()}`);
    }
    check(devices.get_n_items() === 2, 'two trusted devices');

    const device = devices.get_item(0);
    check(await api.send_verification_code_async(device, null), 'code sent');
    const code = fake.lastCode(APPLE_ID, device.get_id());    // what the user types
    check(await api.validate_verification_code_async(device, code, null), 'code accepted');
    check(api.state === ICloud.AuthState.AUTHENTICATED, 'signed in');
    print('Verification successful!');
    await api.close_async(null);
});
