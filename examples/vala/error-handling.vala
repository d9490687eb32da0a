/* error-handling.vala: what went wrong, by error code.
 *
 * pyicloud's async guide:
 *
 *     try:
 *         async with await AsyncPyiCloudService.create(id, 'wrong_password') as api: ...
 *     except PyiCloudFailedLoginException:
 *         print("Failed to log in - check your credentials")
 *     except PyiCloud2FARequiredException:
 *         print("2FA is required")
 *
 * In Vala, ICloud.Error is an errordomain: catch its codes like exception
 * types (cancellation is IOError.CANCELLED). A pending second factor is not
 * an error: the sign-in succeeds and the state names the challenge.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
using Example;

string explain (Error error) {
  if (error is IOError.CANCELLED)
    return "Cancelled";
  if (!(error is ICloud.Error))
    return "Network error";
  switch (error.code) {
  case ICloud.Error.FAILED_LOGIN: return "Failed to log in - check your credentials";
  case ICloud.Error.INVALID_CODE: return "Wrong code, try again";
  case ICloud.Error.TWO_FACTOR_REQUIRED: return "2FA is required";
  case ICloud.Error.TWO_STEP_REQUIRED: return "Two-step verification is required";
  case ICloud.Error.SECURITY_KEY_REQUIRED: return "Sign in with a security key on icloud.com";
  case ICloud.Error.ACCOUNT_LOCKED: return "Apple locked the account";
  case ICloud.Error.REPAIR_REQUIRED: return "Repair the account or accept new terms on icloud.com";
  case ICloud.Error.THROTTLED: return "Apple asks to wait";
  case ICloud.Error.AUTH_REQUIRED: return "The password is needed again";
  case ICloud.Error.SERVICE_NOT_ACTIVATED: return "Set up iCloud on icloud.com first";
  case ICloud.Error.WRONG_REGION: return "The account belongs to another region";
  case ICloud.Error.NOT_AUTHENTICATED: return "Not possible in this state of the sign-in";
  case ICloud.Error.PROTOCOL: return "Apple's answer could not be read";
  case ICloud.Error.NO_PLUGIN: return "A plugin is missing";
  case ICloud.Error.STORAGE: return "The session directory cannot be used";
  case ICloud.Error.CLOSED: return "The session was closed";
  default: return "Unexpected error";
  }
}

ICloud.Session new_session (FakeICloud fake, string apple_id, string? password) {
  return (ICloud.Session) Object.@new (typeof (ICloud.Session),
                                       "apple-id", apple_id,
                                       "password", password,
                                       "endpoint", fake.endpoint);
}

void expect (Error error, Quark domain, int code) {
  print ("  -> %s (%s)\n", explain (error), error.message);
  check (error.matches (domain, code), "expected code %d, got %s".printf (code, error.message));
}

async void run (FakeICloud fake) throws Error {
  /* 1. Sign-ins that fail: one catch clause per code, like pyicloud's
   * except clauses. */
  print ("user@example.com:\n");
  try {
    yield new_session (fake, "user@example.com", "wrong_password").init_async (Priority.DEFAULT, null);
    check (false, "signed in with a wrong password");
  } catch (ICloud.Error.FAILED_LOGIN e) {
    print ("  -> Failed to log in - check your credentials\n");
    check (!("wrong_password" in e.message), "no password in messages");
  }

  string[,] failures = {
    { "locked@example.com", "locked out" },
    { "repair@example.com", "needs repair" },
    { "malformed@example.com", "broken json" },
  };
  int[] codes = { ICloud.Error.ACCOUNT_LOCKED, ICloud.Error.REPAIR_REQUIRED,
                  ICloud.Error.PROTOCOL };
  for (int i = 0; i < codes.length; i++) {
    print ("%s:\n", failures[i, 0]);
    try {
      yield new_session (fake, failures[i, 0], failures[i, 1]).init_async (Priority.DEFAULT, null);
      check (false, "signed in");
    } catch (Error e) {
      expect (e, ICloud.Error.quark (), codes[i]);
    }
  }

  /* No password, and nothing saved. */
  print ("fo@example.com:\n");
  try {
    yield new_session (fake, "fo@example.com", null).init_async (Priority.DEFAULT, null);
    check (false, "signed in without a password");
  } catch (Error e) {
    expect (e, ICloud.Error.quark (), ICloud.Error.AUTH_REQUIRED);
  }

  /* THROTTLED carries Apple's Retry-After. */
  print ("throttled@example.com:\n");
  var throttled = new_session (fake, "throttled@example.com", "slow down");
  try {
    yield throttled.init_async (Priority.DEFAULT, null);
    check (false, "not throttled");
  } catch (ICloud.Error.THROTTLED e) {
    print ("  -> retry in %u s\n", ICloud.Error.get_retry_after (e));
    check (ICloud.Error.get_retry_after (e) == 120, "retry-after of the error");
    check (throttled.retry_after == 120, "retry-after of the session");
  }

  /* 2. A pending second factor is a state, not an error. */
  print ("2fa@example.com:\n");
  var session = new_session (fake, "2fa@example.com", "two factor");
  yield session.init_async (Priority.DEFAULT, null);
  check (session.state == ICloud.AuthState.NEEDS_2FA, "NEEDS_2FA");
  print ("  -> 2FA is required (state NEEDS_2FA)\n");
  yield session.request_2fa_code_async (null, null);
  var code = fake.last_code ("2fa@example.com");
  try {
    yield session.validate_2fa_code_async (code == "000000" ? "111111" : "000000", null);
    check (false, "a wrong code was accepted");
  } catch (Error e) {
    expect (e, ICloud.Error.quark (), ICloud.Error.INVALID_CODE);
  }
  check (session.state == ICloud.AuthState.NEEDS_2FA, "still NEEDS_2FA");
  try {
    yield session.get_trusted_devices_async (null);
    check (false, "2SA devices of a 2FA sign-in");
  } catch (Error e) {
    expect (e, ICloud.Error.quark (), ICloud.Error.NOT_AUTHENTICATED);
  }
  yield session.close_async (null);
  try {
    yield session.authenticate_async (false, null);
    check (false, "a closed session signed in");
  } catch (Error e) {
    expect (e, ICloud.Error.quark (), ICloud.Error.CLOSED);
  }

  /* 3. Security keys. */
  print ("keys@example.com:\n");
  var keys = new_session (fake, "keys@example.com", "security keys");
  yield keys.init_async (Priority.DEFAULT, null);
  check (keys.state == ICloud.AuthState.NEEDS_SECURITY_KEY, "NEEDS_SECURITY_KEY");
  try {
    yield keys.request_2fa_code_async (null, null);
    check (false, "a code for a security-key account");
  } catch (Error e) {
    expect (e, ICloud.Error.quark (), ICloud.Error.SECURITY_KEY_REQUIRED);
  }

  /* 4. Cancellation. */
  print ("user@example.com, cancelled:\n");
  var cancellable = new Cancellable ();
  cancellable.cancel ();
  try {
    yield new_session (fake, "user@example.com", "correct horse").init_async (Priority.DEFAULT, cancellable);
    check (false, "not cancelled");
  } catch (Error e) {
    expect (e, IOError.quark (), IOError.CANCELLED);
  }
}

int main () {
  var fake = new FakeICloud ();
  var loop = new MainLoop ();
  run.begin (fake, (obj, res) => {
    try {
      run.end (res);
    } catch (Error e) {
      check (false, "unexpected error: " + e.message);
    }
    loop.quit ();
  });
  run_loop (loop);
  fake.stop ();
  return 0;
}
