/* common.vala: what the Vala examples share, and that an application would
 * not need: the fake iCloud server they sign in to (icloud-mock-0.vapi, in
 * this process), a private state directory, check () and run_main ().
 *
 * Without the endpoint (or soup-session) FakeICloud provides, a session
 * talks to Apple.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

namespace Example {
  /* The example fails (exit status 1) when a check does not hold. */
  public void check (bool condition, string what) {
    if (!condition) {
      stderr.printf ("check failed: %s\n", what);
      Process.exit (1);
    }
  }

  void remove_tree (string path) {
    try {
      var dir = Dir.open (path);
      string? name;
      while ((name = dir.read_name ()) != null) {
        var child = Path.build_filename (path, name);
        if (FileUtils.test (child, FileTest.IS_DIR) && !FileUtils.test (child, FileTest.IS_SYMLINK))
          remove_tree (child);
        else
          FileUtils.unlink (child);
      }
    } catch (FileError e) {
    }
    DirUtils.remove (path);
  }

  /* The fake iCloud server, with the accounts of data/accounts.json: on one
   * origin (http://127.0.0.1:PORT) through endpoint, or, routed, with TLS
   * and Apple's host names through soup_session, which connects every host
   * name to the fake server and trusts only the test certificate. */
  public class FakeICloud : Object {
    public ICloudMock.Server server;
    public ICloud.Endpoint? endpoint = null;
    public Soup.Session? soup_session = null;
    public string state_dir;

    public FakeICloud (bool routed = false) {
      try {
        /* A private $XDG_STATE_HOME: the default session directory,
         * $XDG_STATE_HOME/icloud-glib, belongs to this run only. */
        state_dir = DirUtils.make_tmp ("icloud-example-XXXXXX");
        Environment.set_variable ("XDG_STATE_HOME", state_dir, true);

        var accounts = Environment.get_variable ("ICLOUD_MOCK_ACCOUNTS");
        check (accounts != null,
               "set ICLOUD_MOCK_ACCOUNTS to data/accounts.json (meson test and meson devenv do)");
        server = new ICloudMock.Server ();
        server.load_accounts (accounts);
        if (routed)
          server.set_routed (Environment.get_variable ("ICLOUD_EXAMPLE_CERT"),
                             Environment.get_variable ("ICLOUD_EXAMPLE_KEY"));
        server.start ();

        if (routed)
          soup_session = (Soup.Session) Object.@new (typeof (Soup.Session),
                                                     "remote-connectable", server.create_connectable (),
                                                     "tls-database", server.create_tls_database ());
        else
          endpoint = new ICloud.Endpoint.for_base_uri (server.get_base_uri ());
      } catch (Error e) {
        check (false, "the fake server: " + e.message);
      }
    }

    /* The code the server "sent": what the user would type. */
    public string? last_code (string apple_id, string? target_id = null) {
      return server.dup_last_code (apple_id, target_id);
    }

    public uint count_requests (string apple_id, string path) {
      return server.count_requests (apple_id, path);
    }

    public void stop () {
      server.stop ();
      remove_tree (state_dir);
    }
  }

  /* Runs @loop until it quits; fails the example after 30 s. */
  public void run_loop (MainLoop loop) {
    var timeout = Timeout.add_seconds (30, () => {
      check (false, "the example timed out");
      return Source.REMOVE;
    });
    loop.run ();
    Source.remove (timeout);
  }
}
