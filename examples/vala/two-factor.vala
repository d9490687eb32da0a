/* two-factor.vala: a two-factor (HSA2) account: request a code, validate
 * it, trust the session; the next start needs neither password nor code.
 *
 * pyicloud's async guide:
 *
 *     if api.requires_2fa:
 *         code = input("Enter the code you received: ")
 *         result = await api.validate_2fa_code(code)
 *     if not api.is_trusted_session:
 *         await api.trust_session()
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
using Example;

const string APPLE_ID = "2fa@example.com";

async void run (FakeICloud fake) throws Error {
  var api = (ICloud.Session) Object.@new (typeof (ICloud.Session),
                                          "apple-id", APPLE_ID,
                                          "password", "two factor",
                                          "endpoint", fake.endpoint);
  yield api.init_async (Priority.DEFAULT, null);

  check (api.requires_2fa, "requires_2fa");
  check (!api.requires_2sa, "a 2FA account does not require 2SA");
  check (api.state == ICloud.AuthState.NEEDS_2FA, "state NEEDS_2FA");
  print ("Two-factor authentication required.\n");

  var phones = yield api.get_trusted_phone_numbers_async (null);
  for (uint i = 0; i < phones.get_n_items (); i++) {
    var phone = (ICloud.TrustedPhone) phones.get_item (i);
    print ("Trusted phone %s: %s\n", phone.get_id (), phone.get_obfuscated_number ());
  }
  check (phones.get_n_items () > 0, "trusted phones");

  /* null: a push to the trusted devices (pass a phone for an SMS). */
  yield api.request_2fa_code_async (null, null);
  var code = fake.last_code (APPLE_ID);      /* what the user types */
  check (code != null, "a code was sent");

  var result = yield api.validate_2fa_code_async (code, null);
  print ("Code validation result: %s\n", result.to_string ());
  check (result && api.state == ICloud.AuthState.AUTHENTICATED, "signed in");

  if (!api.is_trusted_session) {
    print ("Session is not trusted. Trusting session...\n");
    yield api.trust_session_async (null);
  }
  check (api.is_trusted_session, "trusted");
  yield api.close_async (null);
  var codes = fake.server.count_codes_sent (APPLE_ID, null);

  /* The next start: no password, no code. */
  var again = (ICloud.Session) Object.@new (typeof (ICloud.Session),
                                            "apple-id", APPLE_ID,
                                            "endpoint", fake.endpoint);
  yield again.init_async (Priority.DEFAULT, null);
  check (again.state == ICloud.AuthState.AUTHENTICATED, "signed in from disk");
  check (fake.server.count_codes_sent (APPLE_ID, null) == codes, "no new code");
  print ("Signed in again from the saved session, without a code\n");
  yield again.close_async (null);
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
