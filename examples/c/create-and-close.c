/* create-and-close.c: sign in, read the account, close.
 *
 * pyicloud's async guide:
 *
 *     api = await AsyncPyiCloudService.create('jappleseed@apple.com', 'password')
 *     print(f"Logged in as: {api.account_name}")
 *     print(f"Requires 2FA: {api.requires_2fa}")
 *     await api.close()
 *
 * Here, creating the session signs in (GAsyncInitable). With Apple, the
 * call is simply
 *
 *     icloud_session_new_async ("jappleseed@apple.com", password, NULL, created_cb, app);
 *
 * and created_cb calls icloud_session_new_finish (). The example adds the
 * fake server's endpoint, so it uses g_async_initable_new_async () and sets
 * the properties itself.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "example-common.h"

typedef struct {
  GMainLoop     *loop;
  ICloudSession *session;
} App;

static void
closed_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;

  icloud_session_close_finish (ICLOUD_SESSION (source), result, &error);
  check_no_error (error);
  check (icloud_session_get_state (app->session) == ICLOUD_AUTH_STATE_CLOSED);
  g_print ("Closed\n");
  g_main_loop_quit (app->loop);
}

static void
created_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;
  GObject *object;

  object = g_async_initable_new_finish (G_ASYNC_INITABLE (source), result, &error);
  check_no_error (error);
  app->session = ICLOUD_SESSION (object);

  g_print ("Logged in as: %s\n", icloud_session_get_account_name (app->session));
  g_print ("Requires 2FA: %s\n", icloud_session_get_requires_2fa (app->session) ? "yes" : "no");

  check (icloud_session_get_state (app->session) == ICLOUD_AUTH_STATE_AUTHENTICATED);
  check (g_strcmp0 (icloud_session_get_account_name (app->session), "user@example.com") == 0);
  check (!icloud_session_get_requires_2fa (app->session));

  /* Saves the session if it changed; it stays on disk for the next start. */
  icloud_session_close_async (app->session, NULL, closed_cb, app);
}

int
main (void)
{
  ExampleServer ex = { 0 };
  App app = { 0 };

  example_server_start (&ex);
  app.loop = g_main_loop_new (NULL, FALSE);

  g_async_initable_new_async (ICLOUD_TYPE_SESSION, G_PRIORITY_DEFAULT, NULL,
                              created_cb, &app,
                              "apple-id", "user@example.com",
                              "password", "correct horse",
                              "endpoint", ex.endpoint,   /* the fake server */
                              NULL);
  example_run (app.loop);

  g_clear_object (&app.session);
  g_main_loop_unref (app.loop);
  example_server_stop (&ex);
  return EXIT_SUCCESS;
}
