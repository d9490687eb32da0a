/* force-refresh.vala: authenticate again without trusting the saved web
 * session.
 *
 * pyicloud's async guide:
 *
 *     await api.authenticate(force_refresh=True)
 *
 * authenticate_async (false) validates the saved web session and is done
 * when Apple accepts it; with true it skips that and signs in again with the
 * stored session token (accountLogin); only if Apple refuses the token is
 * the password proven again.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
using Example;

const string APPLE_ID = "fo@example.com";
const string SRP_INIT = "/appleauth/auth/signin/init";
const string VALIDATE = "/setup/ws/1/validate";
const string ACCOUNT_LOGIN = "/setup/ws/1/accountLogin";

async void run (FakeICloud fake) throws Error {
  var api = (ICloud.Session) Object.@new (typeof (ICloud.Session),
                                          "apple-id", APPLE_ID,
                                          "password", "battery staple",
                                          "endpoint", fake.endpoint);
  yield api.init_async (Priority.DEFAULT, null);
  check (fake.count_requests (APPLE_ID, SRP_INIT) == 1, "one password proof");

  var validate = fake.count_requests (APPLE_ID, VALIDATE);
  var login = fake.count_requests (APPLE_ID, ACCOUNT_LOGIN);
  yield api.authenticate_async (false, null);
  check (fake.count_requests (APPLE_ID, VALIDATE) == validate + 1 &&
         fake.count_requests (APPLE_ID, ACCOUNT_LOGIN) == login,
         "the saved web session was validated");
  print ("authenticate: the saved web session is still valid\n");

  validate = fake.count_requests (APPLE_ID, VALIDATE);
  yield api.authenticate_async (true, null);          /* force_refresh=True */
  check (api.state == ICloud.AuthState.AUTHENTICATED, "signed in");
  check (fake.count_requests (APPLE_ID, VALIDATE) == validate, "no validate");
  check (fake.count_requests (APPLE_ID, ACCOUNT_LOGIN) == login + 1, "a new accountLogin");
  check (fake.count_requests (APPLE_ID, SRP_INIT) == 1, "no new password proof");
  print ("force_refresh: signed in again with the stored token\n");
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
