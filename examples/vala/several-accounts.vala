/* several-accounts.vala: three Apple IDs signed in concurrently, on one main
 * loop.
 *
 * pyicloud's async guide:
 *
 *     async def check_account(email, password):
 *         async with await AsyncPyiCloudService.create(email, password) as api:
 *             return {'email': api.account_name, 'requires_2fa': api.requires_2fa,
 *                     'is_trusted': api.is_trusted_session}
 *     results = await asyncio.gather(*[check_account(e, p) for e, p in accounts])
 *
 * Vala has no gather (): each check_account () is begun at once, and a
 * counter tells when the last one is done.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
using Example;

async string check_account (FakeICloud fake, string email, string password, out bool requires_2fa)
    throws Error {
  var api = (ICloud.Session) Object.@new (typeof (ICloud.Session),
                                          "apple-id", email,
                                          "password", password,
                                          "endpoint", fake.endpoint);
  yield api.init_async (Priority.DEFAULT, null);
  requires_2fa = api.requires_2fa;
  var result = "{'email': '%s', 'requires_2fa': %s, 'is_trusted': %s}".printf (
    api.account_name, api.requires_2fa.to_string (), api.is_trusted_session.to_string ());
  yield api.close_async (null);
  return result;
}

int main () {
  string[,] accounts = {
    { "user@example.com", "correct horse", "false" },
    { "fo@example.com", "battery staple", "false" },
    { "2fa@example.com", "two factor", "true" },
  };
  var fake = new FakeICloud ();
  var loop = new MainLoop ();
  int pending = accounts.length[0];

  for (int i = 0; i < accounts.length[0]; i++) {
    var expected = accounts[i, 2] == "true";
    check_account.begin (fake, accounts[i, 0], accounts[i, 1], (obj, res) => {
      try {
        bool requires_2fa;
        print ("%s\n", check_account.end (res, out requires_2fa));
        check (requires_2fa == expected, "requires_2fa");
      } catch (Error e) {
        check (false, e.message);
      }
      if (--pending == 0)
        loop.quit ();
    });
  }
  /* All three are under way before the loop runs. */
  check (pending == 3, "three sign-ins under way");
  run_loop (loop);
  check (pending == 0, "every account done");
  fake.stop ();
  return 0;
}
