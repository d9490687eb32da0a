/* force-refresh.c: authenticate again, without trusting the saved web
 * session.
 *
 * pyicloud's async guide:
 *
 *     await api.authenticate(force_refresh=True)
 *
 * icloud_session_authenticate_async (session, FALSE, ...) first validates
 * the saved web session, and is done when Apple accepts it. With
 * force_refresh TRUE it skips that check and signs in again with the stored
 * session token (accountLogin); only if Apple refuses the token is the
 * password proven again.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "example-common.h"

#define APPLE_ID      "fo@example.com"
#define SRP_INIT      "/appleauth/auth/signin/init"
#define VALIDATE      "/setup/ws/1/validate"
#define ACCOUNT_LOGIN "/setup/ws/1/accountLogin"

typedef struct {
  ExampleServer *ex;
  GMainLoop     *loop;
  ICloudSession *session;
  guint          validate, account_login;
} App;

static guint
count (App *app, const char *path)
{
  return icloud_mock_server_count_requests (app->ex->server, APPLE_ID, path);
}

static void
forced_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;

  icloud_session_authenticate_finish (app->session, result, &error);
  check_no_error (error);
  check (icloud_session_get_state (app->session) == ICLOUD_AUTH_STATE_AUTHENTICATED);

  /* No validate; a new accountLogin with the stored token; no password. */
  check (count (app, VALIDATE) == app->validate);
  check (count (app, ACCOUNT_LOGIN) == app->account_login + 1);
  check (count (app, SRP_INIT) == 1);
  g_print ("force_refresh: signed in again with the stored token\n");
  g_main_loop_quit (app->loop);
}

static void
authenticated_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;

  icloud_session_authenticate_finish (app->session, result, &error);
  check_no_error (error);

  /* The saved web session was still good: one validate, nothing else. */
  check (count (app, VALIDATE) == app->validate + 1);
  check (count (app, ACCOUNT_LOGIN) == app->account_login);
  g_print ("authenticate: the saved web session is still valid\n");

  app->validate = count (app, VALIDATE);
  icloud_session_authenticate_async (app->session, TRUE, NULL, forced_cb, app);
}

static void
created_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;

  app->session = ICLOUD_SESSION (g_async_initable_new_finish (G_ASYNC_INITABLE (source),
                                                              result, &error));
  check_no_error (error);
  check (icloud_session_get_state (app->session) == ICLOUD_AUTH_STATE_AUTHENTICATED);
  check (count (app, SRP_INIT) == 1);

  app->validate = count (app, VALIDATE);
  app->account_login = count (app, ACCOUNT_LOGIN);
  icloud_session_authenticate_async (app->session, FALSE, NULL, authenticated_cb, app);
}

int
main (void)
{
  ExampleServer ex = { 0 };
  App app = { &ex, NULL, NULL, 0, 0 };

  example_server_start (&ex);
  app.loop = g_main_loop_new (NULL, FALSE);

  g_async_initable_new_async (ICLOUD_TYPE_SESSION, G_PRIORITY_DEFAULT, NULL,
                              created_cb, &app,
                              "apple-id", APPLE_ID,
                              "password", "battery staple",
                              "endpoint", ex.endpoint,
                              NULL);
  example_run (app.loop);

  g_clear_object (&app.session);
  g_main_loop_unref (app.loop);
  example_server_stop (&ex);
  return EXIT_SUCCESS;
}
