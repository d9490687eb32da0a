/* two-step.vala: a two-step (legacy 2SA) account: list the trusted
 * devices, send a code to one, validate it.
 *
 * pyicloud's async guide:
 *
 *     if api.requires_2sa:
 *         devices = await api.get_trusted_devices()
 *         device = devices[device_index]
 *         if not await api.send_verification_code(device): ...
 *         if not await api.validate_verification_code(device, code): ...
 *
 * A failure throws an ICloud.Error, never a false.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
using Example;

const string APPLE_ID = "2sa@example.com";

async void run (FakeICloud fake) throws Error {
  var api = (ICloud.Session) Object.@new (typeof (ICloud.Session),
                                          "apple-id", APPLE_ID,
                                          "password", "two step",
                                          "endpoint", fake.endpoint);
  yield api.init_async (Priority.DEFAULT, null);

  check (api.requires_2sa, "requires_2sa");
  check (api.state == ICloud.AuthState.NEEDS_2SA, "state NEEDS_2SA");
  print ("Two-step authentication required.\n");

  var devices = yield api.get_trusted_devices_async (null);
  print ("Trusted devices:\n");
  for (uint i = 0; i < devices.get_n_items (); i++) {
    var device = (ICloud.TrustedDevice) devices.get_item (i);
    print ("  %u: %s %s\n", i, device.get_device_type (), device.get_phone_number ());
  }
  check (devices.get_n_items () == 2, "two trusted devices");

  var device = (ICloud.TrustedDevice) devices.get_item (0);
  check (yield api.send_verification_code_async (device, null), "code sent");
  var code = fake.last_code (APPLE_ID, device.get_id ());     /* what the user types */
  check (yield api.validate_verification_code_async (device, code, null), "code accepted");
  check (api.state == ICloud.AuthState.AUTHENTICATED, "signed in");
  print ("Verification successful!\n");
  yield api.close_async (null);
}

int main () {
  var fake = new FakeICloud ();
  var loop = new MainLoop ();
  run.begin (fake, (obj, res) => {
    try {
      run.end (res);
    } catch (Error e) {
      check (false, e.message);
    }
    loop.quit ();
  });
  run_loop (loop);
  fake.stop ();
  return 0;
}
