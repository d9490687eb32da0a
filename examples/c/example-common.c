/* example-common.c: the fake server and the state directory of the C
 * examples (see example-common.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib/gstdio.h>

#include "example-common.h"

static void
remove_tree (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    {
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          if (g_file_test (child, G_FILE_TEST_IS_DIR) &&
              !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
            remove_tree (child);
          else
            g_unlink (child);
        }
      g_dir_close (dir);
    }
  g_rmdir (path);
}

static void
start (ExampleServer *ex,
       gboolean       routed)
{
  g_autoptr(GError) error = NULL;
  const char *accounts = g_getenv ("ICLOUD_MOCK_ACCOUNTS");

  /* Before anything asks GLib for the user's state directory. */
  ex->state_dir = g_dir_make_tmp ("icloud-example-XXXXXX", &error);
  check_no_error (error);
  g_setenv ("XDG_STATE_HOME", ex->state_dir, TRUE);

  if (accounts == NULL)
    {
      fprintf (stderr, "Set ICLOUD_MOCK_ACCOUNTS to data/accounts.json "
                       "(meson test and meson devenv do)\n");
      exit (EXIT_FAILURE);
    }

  ex->server = icloud_mock_server_new ();
  icloud_mock_server_load_accounts (ex->server, accounts, &error);
  check_no_error (error);

  if (routed)
    {
      const char *cert = g_getenv ("ICLOUD_EXAMPLE_CERT");
      const char *key = g_getenv ("ICLOUD_EXAMPLE_KEY");

      check (cert != NULL && key != NULL);
      icloud_mock_server_set_routed (ex->server, cert, key, &error);
      check_no_error (error);
    }

  icloud_mock_server_start (ex->server, &error);
  check_no_error (error);

  if (routed)
    {
      ex->soup = icloud_mock_server_create_soup_session (ex->server, &error);
      check_no_error (error);
    }
  else
    {
      ex->endpoint = icloud_endpoint_new_for_base_uri (icloud_mock_server_get_base_uri (ex->server),
                                                       &error);
      check_no_error (error);
    }
}

void
example_server_start (ExampleServer *ex)
{
  start (ex, FALSE);
}

void
example_server_start_routed (ExampleServer *ex)
{
  start (ex, TRUE);
}

void
example_server_stop (ExampleServer *ex)
{
  g_clear_object (&ex->soup);
  g_clear_object (&ex->endpoint);
  icloud_mock_server_stop (ex->server);
  g_clear_object (&ex->server);
  remove_tree (ex->state_dir);
  g_clear_pointer (&ex->state_dir, g_free);
}

static gboolean
timed_out (gpointer user_data)
{
  fprintf (stderr, "the example timed out\n");
  exit (EXIT_FAILURE);
  return G_SOURCE_REMOVE;
}

void
example_run (GMainLoop *loop)
{
  guint timeout = g_timeout_add_seconds (30, timed_out, NULL);

  g_main_loop_run (loop);
  g_source_remove (timeout);
}
