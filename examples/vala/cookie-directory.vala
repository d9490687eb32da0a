/* cookie-directory.vala: keep the session in a directory of your choice.
 *
 * pyicloud's async guide:
 *
 *     api = await AsyncPyiCloudService.create(id, pw, cookie_directory='/path/to/cookies')
 *
 * Here: "cookie-directory" (default: $XDG_STATE_HOME/icloud-glib). The
 * directory is made 0700; the session is one 0600 file, <apple id without
 * punctuation>-<16 hex digits of the SHA-256 of the case-folded Apple
 * ID>.session.json, and the next session with the same directory signs in
 * from it without a password.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
using Example;

const string APPLE_ID = "user@example.com";
const string SRP_INIT = "/appleauth/auth/signin/init";

uint mode (string path) throws Error {
  var info = File.new_for_path (path).query_info ("unix::mode", FileQueryInfoFlags.NOFOLLOW_SYMLINKS);
  return info.get_attribute_uint32 ("unix::mode") & 0777;
}

async void run (FakeICloud fake) throws Error {
  var directory = Path.build_filename (fake.state_dir, "path", "to", "cookies");
  var api = (ICloud.Session) Object.@new (typeof (ICloud.Session),
                                          "apple-id", APPLE_ID,
                                          "password", "correct horse",
                                          "cookie-directory", directory,
                                          "endpoint", fake.endpoint);
  yield api.init_async (Priority.DEFAULT, null);
  check (api.cookie_directory == directory, "cookie-directory");
  yield api.close_async (null);

  var path = Path.build_filename (directory, "userexamplecom-b4c9a289323b21a0.session.json");
  check (mode (directory) == 0700, "directory 0700");
  check (mode (path) == 0600, "file 0600");
  check (!FileUtils.test (Path.build_filename (fake.state_dir, "icloud-glib"), FileTest.EXISTS),
         "nothing in the default directory");
  print ("The session is in %s\n", path);

  var again = (ICloud.Session) Object.@new (typeof (ICloud.Session),
                                            "apple-id", APPLE_ID,
                                            "cookie-directory", directory,
                                            "endpoint", fake.endpoint);
  yield again.init_async (Priority.DEFAULT, null);
  check (again.state == ICloud.AuthState.AUTHENTICATED, "signed in from disk");
  check (fake.count_requests (APPLE_ID, SRP_INIT) == 1, "no second password proof");
  print ("Signed in again from %s without a password\n", directory);
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
