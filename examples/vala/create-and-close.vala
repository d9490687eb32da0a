/* create-and-close.vala: sign in, read the account, close.
 *
 * pyicloud's async guide:
 *
 *     api = await AsyncPyiCloudService.create('jappleseed@apple.com', 'password')
 *     print(f"Logged in as: {api.account_name}")
 *     print(f"Requires 2FA: {api.requires_2fa}")
 *     await api.close()
 *
 * With Apple, creating the session is one line:
 *
 *     var api = yield new ICloud.Session ("jappleseed@apple.com", password, null);
 *
 * The example sets the fake server's endpoint, so it builds the session
 * with its properties and signs in with init_async ().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
using Example;

async void run (FakeICloud fake) throws Error {
  var api = (ICloud.Session) Object.@new (typeof (ICloud.Session),
                                          "apple-id", "user@example.com",
                                          "password", "correct horse",
                                          "endpoint", fake.endpoint);
  yield api.init_async (Priority.DEFAULT, null);      /* create () */

  print ("Logged in as: %s\n", api.account_name);
  print ("Requires 2FA: %s\n", api.requires_2fa.to_string ());
  check (api.state == ICloud.AuthState.AUTHENTICATED, "signed in");
  check (api.account_name == "user@example.com", "account name");
  check (!api.requires_2fa, "no 2FA");

  yield api.close_async (null);
  check (api.state == ICloud.AuthState.CLOSED, "closed");
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
