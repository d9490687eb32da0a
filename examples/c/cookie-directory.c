/* cookie-directory.c: keep the session in a directory of your choice.
 *
 * pyicloud's async guide:
 *
 *     api = await AsyncPyiCloudService.create(id, pw, cookie_directory='/path/to/cookies')
 *
 * Here it is the "cookie-directory" property (default:
 * $XDG_STATE_HOME/icloud-glib). The directory is made 0700; the session is
 * one 0600 file, <apple id without punctuation>-<16 hex digits of the
 * SHA-256 of the case-folded Apple ID>.session.json. The next session with
 * the same directory signs in from it, without a password.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <sys/stat.h>

#include "example-common.h"

#define APPLE_ID "user@example.com"
#define SRP_INIT "/appleauth/auth/signin/init"

typedef struct {
  ExampleServer *ex;
  GMainLoop     *loop;
  char          *directory;
  ICloudSession *session;
} App;

static void
reopened_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GObject) again = g_async_initable_new_finish (G_ASYNC_INITABLE (source), result, &error);

  check_no_error (error);
  check (icloud_session_get_state (ICLOUD_SESSION (again)) == ICLOUD_AUTH_STATE_AUTHENTICATED);
  /* From the directory: no second password proof. */
  check (icloud_mock_server_count_requests (app->ex->server, APPLE_ID, SRP_INIT) == 1);
  g_print ("Signed in again from %s without a password\n", app->directory);
  g_main_loop_quit (app->loop);
}

static void
closed_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *file = g_build_filename (app->directory, "userexamplecom-b4c9a289323b21a0.session.json", NULL);
  g_autofree char *default_dir = g_build_filename (g_get_user_state_dir (), "icloud-glib", NULL);
  struct stat st;

  icloud_session_close_finish (app->session, result, &error);
  check_no_error (error);

  check (stat (app->directory, &st) == 0 && (st.st_mode & 0777) == 0700);
  check (stat (file, &st) == 0 && (st.st_mode & 0777) == 0600);
  check (!g_file_test (default_dir, G_FILE_TEST_EXISTS));
  g_print ("The session is in %s\n", file);

  g_async_initable_new_async (ICLOUD_TYPE_SESSION, G_PRIORITY_DEFAULT, NULL,
                              reopened_cb, app,
                              "apple-id", APPLE_ID,
                              "cookie-directory", app->directory,
                              "endpoint", app->ex->endpoint,
                              NULL);
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
  check (g_strcmp0 (icloud_session_get_cookie_directory (app->session), app->directory) == 0);

  icloud_session_close_async (app->session, NULL, closed_cb, app);
}

int
main (void)
{
  ExampleServer ex = { 0 };
  App app = { &ex, NULL, NULL, NULL };

  example_server_start (&ex);
  app.loop = g_main_loop_new (NULL, FALSE);
  app.directory = g_build_filename (ex.state_dir, "path", "to", "cookies", NULL);

  g_async_initable_new_async (ICLOUD_TYPE_SESSION, G_PRIORITY_DEFAULT, NULL,
                              created_cb, &app,
                              "apple-id", APPLE_ID,
                              "password", "correct horse",
                              "cookie-directory", app.directory,
                              "endpoint", ex.endpoint,
                              NULL);
  example_run (app.loop);

  g_clear_object (&app.session);
  g_free (app.directory);
  g_main_loop_unref (app.loop);
  example_server_stop (&ex);
  return EXIT_SUCCESS;
}
