/* test-session.vala: ICloud.Session from Vala (icloud-glib-1.vapi) against
 * the fake server (icloud-mock-0.vapi, in this process): sign-in with
 * yield, the blocking twin, error domains, reuse from disk, cancellation,
 * second factors when their plugins are there, and an auth method written
 * in Vala.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

const string PASSWORD = "correct horse battery staple";
const string SRP_INIT = "/appleauth/auth/signin/init";
const string LEGACY_SIGNIN = "/appleauth/auth/signin";

const string ACCOUNTS = """{"accounts": [
  {"apple_id": "vala@example.com", "password": "correct horse battery staple", "protocol": "s2k", "iterations": 1000, "factor": "none"},
  {"apple_id": "vala-fo@example.com", "password": "correct horse battery staple", "protocol": "s2k_fo", "iterations": 1000, "factor": "none"},
  {"apple_id": "vala-reuse@example.com", "password": "correct horse battery staple", "protocol": "s2k", "iterations": 1000, "factor": "none"},
  {"apple_id": "vala-cancel@example.com", "password": "correct horse battery staple", "protocol": "s2k_fo", "iterations": 1000, "factor": "none"},
  {"apple_id": "vala-locked@example.com", "password": "correct horse battery staple", "protocol": "s2k", "iterations": 1000, "locked": true},
  {"apple_id": "vala-throttled@example.com", "password": "correct horse battery staple", "protocol": "s2k", "iterations": 1000, "throttled": true},
  {"apple_id": "vala-repair@example.com", "password": "correct horse battery staple", "protocol": "s2k", "iterations": 1000, "repair": true},
  {"apple_id": "vala-malformed@example.com", "password": "correct horse battery staple", "protocol": "s2k", "iterations": 1000, "malformed": true},
  {"apple_id": "vala-legacy@example.com", "password": "correct horse battery staple", "protocol": "s2k", "iterations": 1000, "factor": "none", "legacy_password": true}
]}""";

/* ---------------------------------------------------------------------- */
/* An auth method written in Vala: pyicloud 1.0.0's legacy plain-password
 * call, which the fake server accepts for accounts marked so. */

class LegacyMethod : ICloud.AuthMethod {
  public static int calls = 0;

  public override async bool sign_in_async (ICloud.AuthContext context,
                                            string password,
                                            GLib.Cancellable? cancellable,
                                            out string? session_token) throws GLib.Error {
    calls++;
    session_token = null;
    var builder = new Json.Builder ();
    builder.begin_object ();
    builder.set_member_name ("accountName");
    builder.add_string_value (context.get_apple_id ());
    builder.set_member_name ("password");
    builder.add_string_value (password);
    builder.set_member_name ("rememberMe");
    builder.add_boolean_value (true);
    builder.set_member_name ("trustTokens");
    builder.begin_array ();
    builder.end_array ();
    builder.end_object ();

    var response = yield context.send_request_async ("POST", ICloud.Root.AUTH,
                                                     "/signin?isRememberMeEnabled=true",
                                                     builder.get_root (),
                                                     ICloud.RequestFlags.AUTH_HEADERS,
                                                     cancellable);
    if (response.get_status () == 401)
      throw new ICloud.Error.FAILED_LOGIN ("The legacy sign-in was refused");
    response.check ();
    /* The session token is the method's result. */
    session_token = response.get_header ("X-Apple-Session-Token");
    return true;
  }
}

/* A region written in Vala: its endpoint is the fake server. */
class LoopbackRegion : ICloud.Region {
  public static string base_uri;

  public override ICloud.Endpoint create_endpoint () {
    try {
      return new ICloud.Endpoint.for_base_uri (base_uri);
    } catch (GLib.Error e) {
      error ("%s", e.message);
    }
  }
}

/* ---------------------------------------------------------------------- */
/* Fixture and runner */

class Fixture : Object {
  public ICloudMock.Server server;
  public ICloud.Endpoint endpoint;
  public string dir;

  construct {
    server = new ICloudMock.Server ();
    try {
      server.load_accounts (Environment.get_variable ("ICLOUD_MOCK_ACCOUNTS"));
      server.load_accounts_from_data (ACCOUNTS, -1);
      server.start ();
      endpoint = new ICloud.Endpoint.for_base_uri (server.get_base_uri ());
    } catch (GLib.Error e) {
      error ("fixture: %s", e.message);
    }
    /* G_TEST_OPTION_ISOLATE_DIRS: a fresh state dir per test. */
    dir = Path.build_filename (Environment.get_user_state_dir (), "icloud-vala");
  }

  ~Fixture () {
    server.stop ();
  }

  public ICloud.Session new_session (string apple_id, string? password = PASSWORD,
                                     string? sign_in_method = null) {
    /* NULL password: no password; NULL method: the default, "srp". */
    var session = (ICloud.Session) Object.@new (typeof (ICloud.Session),
                                                "apple-id", apple_id,
                                                "password", password,
                                                "endpoint", endpoint,
                                                "cookie-directory", dir,
                                                "sign-in-method", sign_in_method);
    return session;
  }

  public async ICloud.Session sign_in (string apple_id, string? password = PASSWORD,
                                       string? sign_in_method = null) throws GLib.Error {
    var session = new_session (apple_id, password, sign_in_method);
    yield session.init_async (Priority.DEFAULT, null);
    return session;
  }

  public uint count_srp (string apple_id) {
    return server.count_requests (apple_id, SRP_INIT);
  }
}

delegate void AsyncTest (Fixture f, owned AsyncReadyCallback done);

/* Runs an async test on a main loop; an error thrown out of it fails the
 * test. */
void run_async (AsyncTest test) {
  var fixture = new Fixture ();
  var loop = new MainLoop ();
  var timeout = Timeout.add_seconds (60, () => {
    error ("timed out");
  });
  test (fixture, (obj, res) => {
    loop.quit ();
  });
  loop.run ();
  Source.remove (timeout);
}

void fail (GLib.Error e) {
  error ("unexpected error: %s (%s, %d)", e.message, e.domain.to_string (), e.code);
}

bool is_missing_plugin (GLib.Error e) {
  return e is ICloud.Error.NO_PLUGIN || e is IOError.NOT_SUPPORTED;
}

/* ---------------------------------------------------------------------- */
/* Tests */

async void test_sign_in (Fixture f) {
  try {
    var session = yield f.sign_in ("vala@example.com");
    assert (session.get_state () == ICloud.AuthState.AUTHENTICATED);
    assert (session.state == ICloud.AuthState.AUTHENTICATED);
    assert (!session.requires_2fa && !session.requires_2sa);
    assert (session.get_account_info ().get_object ().has_member ("dsInfo"));
    assert (f.count_srp ("vala@example.com") == 1);

    var fo = f.new_session ("vala-fo@example.com");
    assert (yield fo.authenticate_async (false, null));
    assert (fo.state == ICloud.AuthState.AUTHENTICATED);
  } catch (GLib.Error e) {
    fail (e);
  }
}

void test_blocking_twin () {
  var f = new Fixture ();
  try {
    var session = f.new_session ("vala@example.com");
    assert (session.init (null));
    assert (session.get_state () == ICloud.AuthState.AUTHENTICATED);
  } catch (GLib.Error e) {
    fail (e);
  }

  try {
    f.new_session ("vala-fo@example.com", "not the password").init (null);
    assert_not_reached ();
  } catch (ICloud.Error.FAILED_LOGIN e) {
    assert (e.domain == ICloud.Error.quark ());
    assert (!(PASSWORD in e.message));
  } catch (GLib.Error e) {
    fail (e);
  }
}

async void expect_sign_in_error (Fixture f, string apple_id, string? password,
                                 int code) {
  try {
    yield f.sign_in (apple_id, password);
    error ("%s signed in", apple_id);
  } catch (GLib.Error e) {
    if (!e.matches (ICloud.Error.quark (), code))
      error ("%s: expected code %d, got %s", apple_id, code, e.message);
  }
}

async void test_error_codes (Fixture f) {
  try {
    yield f.sign_in ("vala@example.com", "not the password");
    assert_not_reached ();
  } catch (ICloud.Error.FAILED_LOGIN e) {
    assert (e.code == ICloud.Error.FAILED_LOGIN);
  } catch (GLib.Error e) {
    fail (e);
  }

  yield expect_sign_in_error (f, "vala-fo@example.com", "not the password", ICloud.Error.FAILED_LOGIN);
  yield expect_sign_in_error (f, "vala-locked@example.com", PASSWORD, ICloud.Error.ACCOUNT_LOCKED);
  yield expect_sign_in_error (f, "vala-throttled@example.com", PASSWORD, ICloud.Error.THROTTLED);
  yield expect_sign_in_error (f, "vala-repair@example.com", PASSWORD, ICloud.Error.REPAIR_REQUIRED);
  yield expect_sign_in_error (f, "vala-malformed@example.com", PASSWORD, ICloud.Error.PROTOCOL);
  yield expect_sign_in_error (f, "vala@example.com", null, ICloud.Error.AUTH_REQUIRED);

  /* The error carries the server's retry-after. */
  var throttled = f.new_session ("vala-throttled@example.com");
  try {
    yield throttled.authenticate_async (false, null);
    assert_not_reached ();
  } catch (ICloud.Error.THROTTLED e) {
    assert (throttled.retry_after == 120);
    assert (ICloud.Error.get_retry_after (e) == 120);
  } catch (GLib.Error e) {
    fail (e);
  }
}

async void test_reuse (Fixture f) {
  try {
    var first = yield f.sign_in ("vala-reuse@example.com");
    assert (yield first.close_async (null));
    assert (first.state == ICloud.AuthState.CLOSED);
    first = null;
    assert (f.count_srp ("vala-reuse@example.com") == 1);

    var second = yield f.sign_in ("vala-reuse@example.com", null);
    assert (second.state == ICloud.AuthState.AUTHENTICATED);
    assert (f.count_srp ("vala-reuse@example.com") == 1);
    assert (f.server.count_requests ("vala-reuse@example.com", "/setup/ws/1/validate") == 1);
  } catch (GLib.Error e) {
    fail (e);
  }
}

async void test_cancellation (Fixture f) {
  var session = f.new_session ("vala-cancel@example.com");
  var cancellable = new Cancellable ();
  cancellable.cancel ();
  try {
    yield session.authenticate_async (false, cancellable);
    assert_not_reached ();
  } catch (IOError.CANCELLED e) {
    assert (session.state == ICloud.AuthState.SIGNED_OUT);
  } catch (GLib.Error e) {
    fail (e);
  }

  /* Cancel while the server holds its answer back. */
  var step = "/appleauth/auth/signin/complete";
  f.server.inject_fault_full (step, "slow", 1, 0, 3000);
  var later = new Cancellable ();
  Timeout.add (5, () => {
    if (f.server.count_requests (null, step) == 0)
      return Source.CONTINUE;
    later.cancel ();
    return Source.REMOVE;
  });
  try {
    yield session.authenticate_async (false, later);
    assert_not_reached ();
  } catch (IOError.CANCELLED e) {
  } catch (GLib.Error e) {
    fail (e);
  }
  f.server.clear_faults ();

  /* A retry works. */
  try {
    assert (yield session.authenticate_async (false, null));
    assert (session.state == ICloud.AuthState.AUTHENTICATED);
  } catch (GLib.Error e) {
    fail (e);
  }
}

async void test_vala_auth_method (Fixture f) {
  ICloud.AuthMethod.register (typeof (LegacyMethod), "vala-legacy", 0);
  /* A wrong password first (once signed in, the saved session would be
   * used before any password). */
  try {
    yield f.sign_in ("vala-legacy@example.com", "not the password", "vala-legacy");
    assert_not_reached ();
  } catch (ICloud.Error.FAILED_LOGIN e) {
    assert (LegacyMethod.calls == 1);
  } catch (GLib.Error e) {
    fail (e);
  }

  try {
    var session = yield f.sign_in ("vala-legacy@example.com", PASSWORD, "vala-legacy");
    assert (session.state == ICloud.AuthState.AUTHENTICATED);
    assert (LegacyMethod.calls == 2);
    /* Both legacy calls were made, and no SRP. */
    assert (f.server.count_requests ("vala-legacy@example.com", LEGACY_SIGNIN) == 2);
    assert (f.server.count_requests ("vala-legacy@example.com", SRP_INIT) == 0);
  } catch (GLib.Error e) {
    fail (e);
  }
}

async void test_vala_region (Fixture f) {
  ICloud.Region.register (typeof (LoopbackRegion), "vala-loopback", 0);
  LoopbackRegion.base_uri = f.server.get_base_uri ();
  /* No endpoint: the session asks the region for one. */
  var session = (ICloud.Session) Object.@new (typeof (ICloud.Session),
                                              "apple-id", "vala@example.com",
                                              "password", PASSWORD,
                                              "region", "vala-loopback",
                                              "cookie-directory", f.dir);
  try {
    assert (yield session.authenticate_async (false, null));
    assert (session.state == ICloud.AuthState.AUTHENTICATED);
    assert (session.region == "vala-loopback");
    assert (session.get_endpoint ().equal (f.endpoint));
  } catch (GLib.Error e) {
    fail (e);
  }
}

async void test_2fa (Fixture f) {
  var apple_id = "2fa@example.com";
  try {
    var session = yield f.sign_in (apple_id, "two factor");
    assert (session.state == ICloud.AuthState.NEEDS_2FA);
    ListModel phones;
    try {
      phones = yield session.get_trusted_phone_numbers_async (null);
    } catch (GLib.Error e) {
      if (is_missing_plugin (e)) {
        Test.skip (e.message);
        return;
      }
      throw e;
    }
    assert (phones.get_n_items () > 0);
    assert (phones.get_item (0) is ICloud.TrustedPhone);
    assert (yield session.request_2fa_code_async (null, null));
    var code = f.server.dup_last_code (apple_id, null);
    assert (code != null);
    try {
      yield session.validate_2fa_code_async (code == "000000" ? "111111" : "000000", null);
      assert_not_reached ();
    } catch (ICloud.Error.INVALID_CODE e) {
      assert (session.state == ICloud.AuthState.NEEDS_2FA);
    }
    assert (yield session.validate_2fa_code_async (code, null));
    assert (session.state == ICloud.AuthState.AUTHENTICATED);
    assert (yield session.trust_session_async (null));
    assert (session.is_trusted_session);
  } catch (GLib.Error e) {
    fail (e);
  }
}

async void test_bridge (Fixture f) {
  var apple_id = "bridge-prompt@example.com";
  try {
    var session = yield f.sign_in (apple_id, "bridge prompt");
    assert (session.state == ICloud.AuthState.NEEDS_2FA);
    assert (session.trusted_device_bridge);
    assert (yield session.request_2fa_code_async (null, null));
    assert (session.code_delivery == ICloud.CodeDelivery.BRIDGE);
    assert (f.server.get_n_push_connections () == 1);
    var code = f.server.dup_last_code (apple_id, null);
    assert (code != null);
    assert (yield session.validate_2fa_code_async (code, null));
    assert (session.state == ICloud.AuthState.AUTHENTICATED);
    assert (session.is_trusted_session);
    assert (f.server.count_requests (apple_id, "/appleauth/auth/bridge/code/validate") == 1);
  } catch (GLib.Error e) {
    fail (e);
  }
}

async void test_2sa (Fixture f) {
  var apple_id = "2sa@example.com";
  try {
    var session = yield f.sign_in (apple_id, "two step");
    assert (session.state == ICloud.AuthState.NEEDS_2SA);
    ListModel devices;
    try {
      devices = yield session.get_trusted_devices_async (null);
    } catch (GLib.Error e) {
      if (is_missing_plugin (e)) {
        Test.skip (e.message);
        return;
      }
      throw e;
    }
    var device = devices.get_item (0) as ICloud.TrustedDevice;
    assert (device != null);
    assert (yield session.send_verification_code_async (device, null));
    var code = f.server.dup_last_code (apple_id, device.get_id ());
    assert (code != null);
    assert (yield session.validate_verification_code_async (device, code, null));
    assert (session.state == ICloud.AuthState.AUTHENTICATED);
  } catch (GLib.Error e) {
    fail (e);
  }
}

int main (string[] args) {
  Test.init (ref args, "isolate_dirs", null);

  Test.add_func ("/vala/sign-in", () => run_async ((f, done) => test_sign_in.begin (f, done)));
  Test.add_func ("/vala/blocking-twin", test_blocking_twin);
  Test.add_func ("/vala/error-codes", () => run_async ((f, done) => test_error_codes.begin (f, done)));
  Test.add_func ("/vala/reuse", () => run_async ((f, done) => test_reuse.begin (f, done)));
  Test.add_func ("/vala/cancellation", () => run_async ((f, done) => test_cancellation.begin (f, done)));
  Test.add_func ("/vala/auth-method", () => run_async ((f, done) => test_vala_auth_method.begin (f, done)));
  Test.add_func ("/vala/region", () => run_async ((f, done) => test_vala_region.begin (f, done)));
  Test.add_func ("/vala/2fa", () => run_async ((f, done) => test_2fa.begin (f, done)));
  Test.add_func ("/vala/bridge", () => run_async ((f, done) => test_bridge.begin (f, done)));
  Test.add_func ("/vala/2sa", () => run_async ((f, done) => test_2sa.begin (f, done)));

  return Test.run ();
}
