/* icloud-mock-server: the fake iCloud server as a program, for the demo, the
 * command-line tests and clients in other languages.
 *
 *   icloud-mock-server [--accounts FILE] [--port N] [--china-mainland] [--exit-on-eof]
 *
 * Prints exactly one line, ICLOUD_MOCK_BASE_URI=http://127.0.0.1:PORT, on
 * stdout once it listens, then serves until SIGTERM or SIGINT (exit 0), or
 * until stdin reaches end of file with --exit-on-eof. Accounts come from
 * --accounts, else from $ICLOUD_MOCK_ACCOUNTS, else from the installed
 * default accounts ($datadir/icloud-mock-0/accounts.json, also looked for
 * next to the program's own prefix, so that a relocated install works).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib.h>
#include <glib-unix.h>
#include <gio/gio.h>
#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "icloud-mock-server.h"

/* The installed default accounts: in the configured data directory, else
 * in ../share/icloud-mock-0 beside the program (a DESTDIR or relocated
 * install). NULL when neither exists (an uninstalled build). */
static char *
default_accounts (void)
{
  g_autofree char *exe = NULL;
  g_autofree char *bindir = NULL;
  g_autofree char *relocated = NULL;
  g_autofree char *installed = g_build_filename (ICLOUD_MOCK_DATADIR, "accounts.json", NULL);

  if (g_file_test (installed, G_FILE_TEST_IS_REGULAR))
    return g_steal_pointer (&installed);

  exe = g_file_read_link ("/proc/self/exe", NULL);
  if (exe == NULL)
    return NULL;
  bindir = g_path_get_dirname (exe);
  relocated = g_build_filename (bindir, "..", "share", "icloud-mock-0", "accounts.json", NULL);
  if (g_file_test (relocated, G_FILE_TEST_IS_REGULAR))
    return g_steal_pointer (&relocated);
  return NULL;
}

static gboolean
on_signal (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_stdin (gint         fd,
          GIOCondition condition,
          gpointer     data)
{
  char buf[256];
  gssize n;

  n = read (fd, buf, sizeof buf);
  if (n > 0)
    return G_SOURCE_CONTINUE;
  if (n < 0 && errno == EINTR)
    return G_SOURCE_CONTINUE;
  g_main_loop_quit (data);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudMockServer) server = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autofree char *accounts = NULL;
  gint port = 0;
  gboolean china = FALSE;
  gboolean exit_on_eof = FALSE;
  guint term_id, int_id, stdin_id = 0;
  GOptionEntry entries[] = {
    { "accounts", 'a', 0, G_OPTION_ARG_FILENAME, &accounts,
      "Accounts JSON file (default: $ICLOUD_MOCK_ACCOUNTS, else the installed accounts.json)", "FILE" },
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "TCP port on 127.0.0.1 (default: any free one)", "N" },
    { "china-mainland", 0, 0, G_OPTION_ARG_NONE, &china, "Play the China mainland origin", NULL },
    { "exit-on-eof", 0, 0, G_OPTION_ARG_NONE, &exit_on_eof, "Stop when standard input closes", NULL },
    { NULL }
  };

  setlocale (LC_ALL, "");

  options = g_option_context_new ("- a fake iCloud server on 127.0.0.1");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("icloud-mock-server: %s\n", error->message);
      return 2;
    }
  if (port < 0 || port > 65535)
    {
      g_printerr ("icloud-mock-server: bad port %d\n", port);
      return 2;
    }
  if (accounts == NULL)
    accounts = g_strdup (g_getenv ("ICLOUD_MOCK_ACCOUNTS"));
  if (accounts == NULL || *accounts == '\0')
    {
      g_free (accounts);
      accounts = default_accounts ();
    }
  if (accounts == NULL)
    {
      g_printerr ("icloud-mock-server: no accounts: use --accounts FILE or set ICLOUD_MOCK_ACCOUNTS\n");
      return 2;
    }

  server = icloud_mock_server_new ();
  if (!icloud_mock_server_load_accounts (server, accounts, &error))
    {
      g_printerr ("icloud-mock-server: %s\n", error->message);
      return 1;
    }
  if (china)
    icloud_mock_server_set_region (server, "china-mainland");
  icloud_mock_server_set_port (server, port);
  if (!icloud_mock_server_start (server, &error))
    {
      g_printerr ("icloud-mock-server: %s\n", error->message);
      return 1;
    }

  loop = g_main_loop_new (NULL, FALSE);
  term_id = g_unix_signal_add (SIGTERM, on_signal, loop);
  int_id = g_unix_signal_add (SIGINT, on_signal, loop);
  if (exit_on_eof)
    stdin_id = g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, loop);

  printf ("ICLOUD_MOCK_BASE_URI=%s\n", icloud_mock_server_get_base_uri (server));
  fflush (stdout);

  g_main_loop_run (loop);

  g_source_remove (term_id);
  g_source_remove (int_id);
  if (stdin_id != 0)
    g_source_remove (stdin_id);
  icloud_mock_server_stop (server);
  return 0;
}
