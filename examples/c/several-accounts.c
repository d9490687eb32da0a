/* several-accounts.c: three Apple IDs signed in at the same time on one
 * main loop.
 *
 * pyicloud's async guide:
 *
 *     async def check_account(email, password):
 *         async with await AsyncPyiCloudService.create(email, password) as api:
 *             return {'email': api.account_name, 'requires_2fa': api.requires_2fa,
 *                     'is_trusted': api.is_trusted_session}
 *     results = await asyncio.gather(*[check_account(e, p) for e, p in accounts])
 *
 * Every session is independent (its own cookies, its own file and lock);
 * the password proofs run in worker threads, the rest on the main loop.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "example-common.h"

static const struct {
  const char     *apple_id;
  const char     *password;
  ICloudAuthState expected;
} accounts[] = {
  { "user@example.com", "correct horse", ICLOUD_AUTH_STATE_AUTHENTICATED },
  { "fo@example.com", "battery staple", ICLOUD_AUTH_STATE_AUTHENTICATED },
  { "2fa@example.com", "two factor", ICLOUD_AUTH_STATE_NEEDS_2FA },
};

typedef struct {
  GMainLoop *loop;
  guint      pending;
} App;

typedef struct {
  App  *app;
  guint index;
} Check;

static void
closed_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;

  icloud_session_close_finish (ICLOUD_SESSION (source), result, &error);
  check_no_error (error);
  g_object_unref (source);

  if (--app->pending == 0)
    g_main_loop_quit (app->loop);
}

static void
created_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Check *c = user_data;
  g_autoptr(GError) error = NULL;
  ICloudSession *session;

  session = ICLOUD_SESSION (g_async_initable_new_finish (G_ASYNC_INITABLE (source), result, &error));
  check_no_error (error);

  g_print ("{'email': '%s', 'requires_2fa': %s, 'is_trusted': %s}\n",
           icloud_session_get_account_name (session),
           icloud_session_get_requires_2fa (session) ? "True" : "False",
           icloud_session_get_is_trusted_session (session) ? "True" : "False");
  check (g_strcmp0 (icloud_session_get_apple_id (session), accounts[c->index].apple_id) == 0);
  check (icloud_session_get_state (session) == accounts[c->index].expected);

  icloud_session_close_async (session, NULL, closed_cb, c->app);
  g_free (c);
}

int
main (void)
{
  ExampleServer ex = { 0 };
  App app = { 0 };

  example_server_start (&ex);
  app.loop = g_main_loop_new (NULL, FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (accounts); i++)
    {
      Check *c = g_new0 (Check, 1);

      c->app = &app;
      c->index = i;
      app.pending++;
      g_async_initable_new_async (ICLOUD_TYPE_SESSION, G_PRIORITY_DEFAULT, NULL,
                                  created_cb, c,
                                  "apple-id", accounts[i].apple_id,
                                  "password", accounts[i].password,
                                  "endpoint", ex.endpoint,
                                  NULL);
    }
  /* All three are under way before the loop runs. */
  check (app.pending == G_N_ELEMENTS (accounts));
  example_run (app.loop);
  check (app.pending == 0);

  g_main_loop_unref (app.loop);
  example_server_stop (&ex);
  return EXIT_SUCCESS;
}
