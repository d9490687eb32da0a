/* china-mainland.vala: an Apple ID of China mainland.
 *
 * pyicloud's async guide:
 *
 *     api = await AsyncPyiCloudService.create(id, pw, china_mainland=True)
 *
 * Here: "region" = "china-mainland" (the china-mainland plugin: Apple's
 * setup.icloud.com.cn and www.icloud.com.cn). Without it, a China mainland
 * account fails with ICloud.Error.WRONG_REGION, naming the right region.
 *
 * The fake server runs in routed mode (TLS, Apple's host names); the
 * session reaches it through fake.soup_session, which connects every host
 * name to 127.0.0.1 and trusts only the test certificate. With Apple, leave
 * out "soup-session".
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
using Example;

const string APPLE_ID = "china@example.com";

async void run (FakeICloud fake) throws Error {
  /* Forgetting the region. */
  var wrong = (ICloud.Session) Object.@new (typeof (ICloud.Session),
                                            "apple-id", APPLE_ID,
                                            "password", "china mainland",
                                            "soup-session", fake.soup_session);
  try {
    yield wrong.init_async (Priority.DEFAULT, null);
    check (false, "signed in through the global hosts");
  } catch (ICloud.Error.WRONG_REGION e) {
    check ("china-mainland" in e.message, "the message names the region");
    print ("Without the region: %s\n", e.message);
  }

  var api = (ICloud.Session) Object.@new (typeof (ICloud.Session),
                                          "apple-id", APPLE_ID,
                                          "password", "china mainland",
                                          "region", "china-mainland",          /* china_mainland=True */
                                          "soup-session", fake.soup_session);  /* the routed fake server */
  yield api.init_async (Priority.DEFAULT, null);
  check (api.state == ICloud.AuthState.AUTHENTICATED, "signed in");
  check (api.region == "china-mainland", "region");

  var host = Uri.parse (api.get_endpoint ().get_setup_uri (), UriFlags.NONE).get_host ();
  print ("Signed in through %s\n", host);
  check (host.has_suffix (".icloud.com.cn"), "China mainland setup host");
  check (fake.count_requests (APPLE_ID, "/setup/ws/1/accountLogin") > 0, "accountLogin");
  yield api.close_async (null);
}

int main () {
  var fake = new FakeICloud (true);
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
