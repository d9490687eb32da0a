/* test-cli.c: the icloud-auth command against the fake server
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The fake server runs in this process (its own thread); icloud-auth runs
 * as a child process, with --endpoint-base pointing at the server and a
 * cookie directory of its own per test.
 */

#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "icloud-mock-server.h"

#define PLAIN_ID "user@example.com"
#define PLAIN_PASSWORD "correct horse"
#define SIGNIN_INIT "/appleauth/auth/signin/init"
#define VALIDATE "/setup/ws/1/validate"
#define ACCOUNT_LOGIN "/setup/ws/1/accountLogin"

/* Exit statuses of icloud-auth (see icloud-auth --help) */
enum {
  EXIT_OK = 0,
  EXIT_USAGE = 2,
  EXIT_FAILED_LOGIN = 3,
  EXIT_CHALLENGE_PENDING = 4,
  EXIT_INVALID_CODE = 5,
  EXIT_ACCOUNT_LOCKED = 6,
  EXIT_REPAIR_REQUIRED = 7,
  EXIT_THROTTLED = 8,
  EXIT_SIGNED_OUT = 9,
  EXIT_SECURITY_KEY_REQUIRED = 10,
  EXIT_WRONG_REGION = 11,
  EXIT_PROTOCOL = 12,
  EXIT_STORAGE = 13,
  EXIT_NO_PLUGIN = 14,
  EXIT_INTERRUPTED = 130,
};

static ICloudMockServer *server;
static JsonNode *accounts;       /* the fixture file */

typedef struct {
  char *tmpdir;
  char *cookie_dir;
  /* Every secret the test handed over or read; none may leak. */
  GPtrArray *secrets;
  char *out;
  char *err;
  const char *env_apple_id;    /* ICLOUD_APPLE_ID for the next runs */
  const char *env_secret_store; /* ICLOUD_SECRET_STORE for the next runs */
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->tmpdir = g_dir_make_tmp ("icloud-cli-XXXXXX", &error);
  g_assert_no_error (error);
  /* Not created: the library must create it, 0700. */
  f->cookie_dir = g_build_filename (f->tmpdir, "session", NULL);
  f->secrets = g_ptr_array_new_with_free_func (g_free);
}

static void
rm_rf (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);

  if (dir != NULL)
    {
      const char *name;

      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          rm_rf (child);
        }
      g_dir_close (dir);
    }
  g_remove (path);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  rm_rf (f->tmpdir);
  g_free (f->tmpdir);
  g_free (f->cookie_dir);
  g_ptr_array_unref (f->secrets);
  g_free (f->out);
  g_free (f->err);
}

/* Runs icloud-auth with the server's endpoint and the fixture's cookie
 * directory, then @args; @input goes to its stdin. Output is kept in
 * f->out and f->err. Returns the exit status. */
static int
run_cli_argv (Fixture            *f,
              gboolean            with_defaults,
              const char         *input,
              const char * const *args)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  const char *tool = g_getenv ("ICLOUD_AUTH");

  g_assert_nonnull (tool);
  g_ptr_array_add (argv, (gpointer) tool);
  if (with_defaults)
    {
      g_ptr_array_add (argv, (gpointer) "--endpoint-base");
      g_ptr_array_add (argv, (gpointer) icloud_mock_server_get_base_uri (server));
      g_ptr_array_add (argv, (gpointer) "--cookie-directory");
      g_ptr_array_add (argv, f->cookie_dir);
    }
  for (gsize i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  if (f->env_apple_id != NULL)
    g_subprocess_launcher_setenv (launcher, "ICLOUD_APPLE_ID", f->env_apple_id, TRUE);
  else
    g_subprocess_launcher_unsetenv (launcher, "ICLOUD_APPLE_ID");
  if (f->env_secret_store != NULL)
    g_subprocess_launcher_setenv (launcher, "ICLOUD_SECRET_STORE", f->env_secret_store, TRUE);
  else
    g_subprocess_launcher_unsetenv (launcher, "ICLOUD_SECRET_STORE");
  /* G_TEST_OPTION_ISOLATE_DIRS hides the system's GSettings schemas, which
   * glib-networking's GNOME proxy resolver needs (it aborts without them);
   * the server is on loopback anyway. */
  g_subprocess_launcher_setenv (launcher, "GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
  proc = g_subprocess_launcher_spawnv (launcher,
                                       (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);

  g_clear_pointer (&f->out, g_free);
  g_clear_pointer (&f->err, g_free);
  g_subprocess_communicate_utf8 (proc, input != NULL ? input : "", NULL,
                                 &f->out, &f->err, &error);
  g_assert_no_error (error);

  if (g_test_verbose ())
    g_printerr ("# $ icloud-auth %s\n# out: %s\n# err: %s\n",
                args[0], f->out, f->err);

  g_assert_true (g_subprocess_get_if_exited (proc));
  return g_subprocess_get_exit_status (proc);
}

#define run_cli(f, input, ...) \
  run_cli_argv ((f), TRUE, (input), (const char * const []) { __VA_ARGS__, NULL })

/* Parses f->out as exactly one JSON object. */
static JsonObject *
parse_output_object (Fixture *f)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonNode *root;

  json_parser_load_from_data (parser, f->out, -1, &error);
  g_assert_no_error (error);
  root = json_parser_get_root (parser);
  g_assert_nonnull (root);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  return json_object_ref (json_node_get_object (root));
}

static void
assert_state_json (Fixture    *f,
                   const char *apple_id,
                   const char *state)
{
  g_autoptr(JsonObject) obj = parse_output_object (f);

  g_assert_cmpstr (json_object_get_string_member (obj, "state"), ==, state);
  g_assert_cmpstr (json_object_get_string_member (obj, "apple_id"), ==, apple_id);
  g_assert_true (json_object_has_member (obj, "trusted"));
  g_assert_cmpint (json_node_get_value_type (json_object_get_member (obj, "trusted")),
                   ==, G_TYPE_BOOLEAN);
  g_assert_cmpstr (json_object_get_string_member (obj, "region"), ==, "global");
}

static gboolean
json_trusted (Fixture *f)
{
  g_autoptr(JsonObject) obj = parse_output_object (f);

  return json_object_get_boolean_member (obj, "trusted");
}

/* Secrets */

static void
remember_secret (Fixture    *f,
                 const char *secret)
{
  g_ptr_array_add (f->secrets, g_strdup (secret));
}

static void
assert_no_secret_in (Fixture    *f,
                     const char *where,
                     const char *data,
                     gsize       len)
{
  for (guint i = 0; i < f->secrets->len; i++)
    {
      const char *secret = g_ptr_array_index (f->secrets, i);

      if (data != NULL && memmem (data, len, secret, strlen (secret)) != NULL)
        g_error ("a secret leaked into %s", where);
    }
}

static void
assert_no_secret_in_output (Fixture *f)
{
  assert_no_secret_in (f, "stdout", f->out, f->out ? strlen (f->out) : 0);
  assert_no_secret_in (f, "stderr", f->err, f->err ? strlen (f->err) : 0);
}

/* Walks @path; checks that no file holds a secret, and with @check_modes
 * that directories are 0700 and files 0600. Returns the number of files. */
static guint
check_tree (Fixture    *f,
            const char *path,
            gboolean    check_modes)
{
  GStatBuf st;
  guint n = 0;

  g_assert_cmpint (g_lstat (path, &st), ==, 0);
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr(GError) error = NULL;
      GDir *dir;
      const char *name;

      if (check_modes)
        g_assert_cmpint (st.st_mode & 0777, ==, 0700);
      dir = g_dir_open (path, 0, &error);
      g_assert_no_error (error);
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          n += check_tree (f, child, check_modes);
        }
      g_dir_close (dir);
    }
  else if (S_ISREG (st.st_mode))
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *contents = NULL;
      gsize len;

      if (check_modes)
        g_assert_cmpint (st.st_mode & 0777, ==, 0600);
      g_file_get_contents (path, &contents, &len, &error);
      g_assert_no_error (error);
      assert_no_secret_in (f, path, contents, len);
      n++;
    }
  return n;
}

static void
assert_no_secret_in_files (Fixture *f)
{
  if (g_file_test (f->cookie_dir, G_FILE_TEST_EXISTS))
    check_tree (f, f->cookie_dir, FALSE);
}

/* Accounts of the fixture file */

static const char *
member_string (JsonObject *obj,
               const char *const *names)
{
  for (gsize i = 0; names[i] != NULL; i++)
    {
      JsonNode *node = json_object_get_member (obj, names[i]);

      if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
          json_node_get_value_type (node) == G_TYPE_STRING)
        return json_node_get_string (node);
    }
  return NULL;
}

static const char *
account_apple_id (JsonObject *acct)
{
  static const char *const names[] = { "apple_id", "appleId", "apple-id", "id", NULL };

  return member_string (acct, names);
}

static const char *
account_password (JsonObject *acct)
{
  static const char *const names[] = { "password", NULL };

  return member_string (acct, names);
}

static const char *
account_second_factor (JsonObject *acct)
{
  static const char *const names[] = { "factor", "second_factor", NULL };
  const char *sf = member_string (acct, names);

  return sf != NULL ? sf : "none";
}

static gboolean
account_flag (JsonObject *acct,
              const char *name)
{
  JsonNode *node = json_object_get_member (acct, name);

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_BOOLEAN &&
         json_node_get_boolean (node);
}

static JsonArray *
account_list (void)
{
  JsonNode *root = accounts;

  if (JSON_NODE_HOLDS_OBJECT (root))
    root = json_object_get_member (json_node_get_object (root), "accounts");
  if (root == NULL || !JSON_NODE_HOLDS_ARRAY (root))
    return NULL;
  return json_node_get_array (root);
}

typedef gboolean (*AccountMatch) (JsonObject *acct);

/* The first plain account (no other feature) that @match accepts. */
static JsonObject *
find_account (AccountMatch match)
{
  JsonArray *list = account_list ();

  for (guint i = 0; list != NULL && i < json_array_get_length (list); i++)
    {
      JsonObject *acct = json_array_get_object_element (list, i);

      if (acct != NULL && account_apple_id (acct) != NULL &&
          account_password (acct) != NULL && match (acct))
        return acct;
    }
  return NULL;
}

static gboolean
account_is_plain_region (JsonObject *acct)
{
  static const char *const names[] = { "region", NULL };
  const char *region = member_string (acct, names);

  return (region == NULL || g_str_equal (region, "global")) &&
         !account_flag (acct, "locked") &&
         !account_flag (acct, "repair") &&
         !account_flag (acct, "throttled") &&
         !account_flag (acct, "malformed") &&
         !account_flag (acct, "legacy_password") &&
         !json_object_has_member (acct, "security_keys");
}

static gboolean
match_locked (JsonObject *acct)
{
  return account_flag (acct, "locked");
}

static gboolean
match_hsa2 (JsonObject *acct)
{
  return account_is_plain_region (acct) &&
         g_str_equal (account_second_factor (acct), "hsa2");
}

static gboolean
match_hsa (JsonObject *acct)
{
  return account_is_plain_region (acct) &&
         g_str_equal (account_second_factor (acct), "hsa");
}

/* A code that is certainly not @code. */
static char *
wrong_code_for (const char *code)
{
  char *wrong = g_strdup (code);

  g_assert_cmpuint (strlen (wrong), >, 0);
  wrong[0] = wrong[0] == '1' ? '2' : '1';
  return wrong;
}

/* Skips (TRUE) when the library reports the feature as not there yet. */
static gboolean
skip_if_unsupported (Fixture *f,
                     int      status)
{
  if (status == EXIT_NO_PLUGIN ||
      (status == EXIT_PROTOCOL && f->err != NULL &&
       strstr (f->err, "not supported") != NULL))
    {
      const char *line = strstr (f->err, "icloud-auth: ");
      g_autofree char *msg = g_strdup_printf ("not supported yet: %s",
                                              line != NULL ? line : f->err);

      g_test_skip (msg);
      return TRUE;
    }
  return FALSE;
}

/* Logs the plain account in with --password-stdin. */
static void
login_plain (Fixture *f)
{
  int status;

  remember_secret (f, PLAIN_PASSWORD);
  status = run_cli (f, PLAIN_PASSWORD "\n", "--apple-id", PLAIN_ID,
                    "--password-stdin", "login");
  g_assert_cmpint (status, ==, EXIT_OK);
  g_assert_nonnull (strstr (f->out, "Signed in"));
  assert_no_secret_in_output (f);
}

/* Tests */

static void
test_help (Fixture       *f,
           gconstpointer  data)
{
  static const int statuses[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                  13, 14, 15, 16, 17, 130 };
  int status;

  status = run_cli_argv (f, FALSE, NULL, (const char * const []) { "--help", NULL });
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (f->out, "Exit status"));
  for (gsize i = 0; i < G_N_ELEMENTS (statuses); i++)
    {
      g_autofree char *line = g_strdup_printf ("\n  %3d  ", statuses[i]);

      if (strstr (f->out, line) == NULL)
        g_error ("--help does not document exit status %d", statuses[i]);
    }
  g_assert_nonnull (strstr (f->out, "wrong Apple ID or password"));
  g_assert_nonnull (strstr (f->out, "request-code"));
  g_assert_nonnull (strstr (f->out, "--password-stdin"));
  /* No way to give a password on the command line. */
  g_assert_null (strstr (f->out, "--password "));
  g_assert_null (strstr (f->out, "--password="));
}

static void
test_version (Fixture       *f,
              gconstpointer  data)
{
  g_assert_cmpint (run_cli_argv (f, FALSE, NULL, (const char * const []) { "--version", NULL }),
                   ==, EXIT_OK);
  g_assert_cmpstr (f->out, ==, "icloud-auth " PACKAGE_VERSION "\n");
  g_assert_cmpstr (f->err, ==, "");
}

/* The manual page's source names every option and command --help lists. */
static void
test_man_page (Fixture       *f,
               gconstpointer  data)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "..", "docs", "icloud-auth.1.scd", NULL);
  g_autofree char *scd = NULL;
  g_autoptr(GRegex) option = g_regex_new ("(?<![\\w-])--([a-z][a-z-]+)", 0, 0, NULL);
  g_autoptr(GMatchInfo) match = NULL;
  g_autoptr(GError) error = NULL;
  static const char * const commands[] = { "login", "status", "logout", "request-code",
                                           "verify", "devices", "send-code", "import-pyicloud" };
  guint n = 0;

  g_file_get_contents (path, &scd, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (run_cli_argv (f, FALSE, NULL, (const char * const []) { "--help", NULL }),
                   ==, EXIT_OK);
  for (g_regex_match (option, f->out, 0, &match); g_match_info_matches (match);
       g_match_info_next (match, NULL))
    {
      g_autofree char *name = g_match_info_fetch (match, 1);
      g_autofree char *marked = g_strdup_printf ("*--%s*", name);

      if (g_str_has_prefix (name, "help-"))
        continue;
      if (strstr (scd, marked) == NULL)
        g_error ("icloud-auth.1.scd does not document --%s", name);
      n++;
    }
  g_assert_cmpuint (n, >=, 17);
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_autofree char *marked = g_strdup_printf ("*%s*", commands[i]);

      g_assert_nonnull (strstr (f->out, commands[i]));
      if (strstr (scd, marked) == NULL)
        g_error ("icloud-auth.1.scd does not document %s", commands[i]);
    }
}

/* Runs the bash completion of icloud-auth on @line (the word being
 * completed last) and returns the candidates, one a line. */
static char *
complete (Fixture    *f,
          const char *line)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "..", "tools", "icloud-auth.bash-completion", NULL);
  g_autofree char *script = g_strdup_printf (
    "source \"$1\" || exit 3\n"
    "read -r -a COMP_WORDS <<< \"$2\"\n"
    "case $2 in *' ') COMP_WORDS+=(''); esac\n"
    "COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n"
    "_icloud_auth\n"
    "printf '%%s\\n' \"${COMPREPLY[@]}\" | sort\n");
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  char *out = NULL;

  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                           "bash", "--norc", "-c", script, "complete", path, line, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_successful (proc));
  return out;
}

static void
test_bash_completion (Fixture       *f,
                      gconstpointer  data)
{
  g_autofree char *commands = complete (f, "icloud-auth lo");
  g_autofree char *options = complete (f, "icloud-auth --ke");
  g_autofree char *regions = complete (f, "icloud-auth --region ");
  g_autofree char *after_command = complete (f, "icloud-auth -u x status ");
  g_autofree char *ids_line = NULL;
  g_autofree char *ids = NULL;
  g_autofree char *ids_none = NULL;

  g_assert_cmpstr (commands, ==, "login\nlogout\n");
  g_assert_cmpstr (options, ==, "--keep-trusted\n--keyring\n");
  g_assert_cmpstr (regions, ==, "china-mainland\nglobal\n");
  g_assert_cmpstr (after_command, ==, "\n");

  /* Account ids come from the sessions saved in the session directory. */
  ids_line = g_strdup_printf ("icloud-auth --cookie-directory %s --apple-id ", f->cookie_dir);
  ids_none = complete (f, ids_line);
  g_assert_cmpstr (ids_none, ==, "\n");
  login_plain (f);
  ids = complete (f, ids_line);
  g_assert_cmpstr (ids, ==, PLAIN_ID "\n");
}

/* The store comes from --keyring or $ICLOUD_SECRET_STORE (the store itself
 * is tested with a keyring in test-keyring-session). */
static void
test_secret_store_env (Fixture       *f,
                       gconstpointer  data)
{
  f->env_secret_store = "no-such-store";
  g_assert_cmpint (run_cli (f, NULL, "--apple-id", PLAIN_ID, "status"), ==, EXIT_USAGE);
  g_assert_nonnull (strstr (f->err, "ICLOUD_SECRET_STORE"));
  f->env_secret_store = "file";
  login_plain (f);
  g_assert_cmpint (run_cli (f, NULL, "--apple-id", PLAIN_ID, "--json", "status"), ==, EXIT_OK);
  assert_state_json (f, PLAIN_ID, "authenticated");
}

static void
test_missing_apple_id (Fixture       *f,
                       gconstpointer  data)
{
  g_assert_cmpint (run_cli (f, NULL, "status"), ==, EXIT_USAGE);
  g_assert_nonnull (strstr (f->err, "Apple ID"));
  g_assert_cmpint (run_cli (f, NULL, "--apple-id", PLAIN_ID), ==, EXIT_USAGE);
  g_assert_cmpint (run_cli (f, NULL, "--apple-id", PLAIN_ID, "frobnicate"), ==, EXIT_USAGE);
  g_assert_cmpint (run_cli (f, NULL, "--apple-id", PLAIN_ID, "--password", "x",
                            "login"), ==, EXIT_USAGE);
}

static void
test_status_signed_out (Fixture       *f,
                        gconstpointer  data)
{
  guint before = icloud_mock_server_count_requests (server, NULL, SIGNIN_INIT);

  g_assert_cmpint (run_cli (f, NULL, "--apple-id", PLAIN_ID, "--json", "status"),
                   ==, EXIT_SIGNED_OUT);
  assert_state_json (f, PLAIN_ID, "signed-out");
  g_assert_false (json_trusted (f));

  g_assert_cmpint (run_cli (f, NULL, "--apple-id", PLAIN_ID, "status"),
                   ==, EXIT_SIGNED_OUT);
  g_assert_nonnull (strstr (f->out, "signed-out"));
  g_assert_cmpuint (icloud_mock_server_count_requests (server, NULL, SIGNIN_INIT),
                    ==, before);
}

static void
test_login_status_logout (Fixture       *f,
                          gconstpointer  data)
{
  guint before;
  guint n_files;

  login_plain (f);
  assert_no_secret_in_files (f);

  /* A new process: the saved session is enough, no SRP. */
  before = icloud_mock_server_count_requests (server, PLAIN_ID, SIGNIN_INIT);
  g_assert_cmpint (run_cli (f, NULL, "--apple-id", PLAIN_ID, "--json", "status"),
                   ==, EXIT_OK);
  assert_state_json (f, PLAIN_ID, "authenticated");
  g_assert_cmpuint (icloud_mock_server_count_requests (server, PLAIN_ID, SIGNIN_INIT),
                    ==, before);
  assert_no_secret_in_output (f);

  /* Human output too. */
  g_assert_cmpint (run_cli (f, NULL, "--apple-id", PLAIN_ID, "status"), ==, EXIT_OK);
  g_assert_nonnull (strstr (f->out, "authenticated"));
  g_assert_cmpuint (icloud_mock_server_count_requests (server, PLAIN_ID, SIGNIN_INIT),
                    ==, before);

  /* login again: the saved session is used, no password asked for. */
  g_assert_cmpint (run_cli (f, NULL, "--apple-id", PLAIN_ID, "login"), ==, EXIT_OK);
  g_assert_nonnull (strstr (f->out, "Signed in"));
  g_assert_cmpuint (icloud_mock_server_count_requests (server, PLAIN_ID, SIGNIN_INIT),
                    ==, before);

  /* 0700 directory, 0600 files, no password in any of them. */
  n_files = check_tree (f, f->cookie_dir, TRUE);
  g_assert_cmpuint (n_files, >, 0);

  g_assert_cmpint (run_cli (f, NULL, "--apple-id", PLAIN_ID, "logout"), ==, EXIT_OK);
  assert_no_secret_in_output (f);

  g_assert_cmpint (run_cli (f, NULL, "--apple-id", PLAIN_ID, "--json", "status"),
                   ==, EXIT_SIGNED_OUT);
  assert_state_json (f, PLAIN_ID, "signed-out");
  g_assert_cmpuint (icloud_mock_server_count_requests (server, PLAIN_ID, SIGNIN_INIT),
                    ==, before);

  /* Logging out when signed out is fine. */
  g_assert_cmpint (run_cli (f, NULL, "--apple-id", PLAIN_ID, "logout"), ==, EXIT_OK);
  assert_no_secret_in_files (f);
}

static void
test_login_json_and_force_refresh (Fixture       *f,
                                   gconstpointer  data)
{
  guint before, before_login;

  remember_secret (f, PLAIN_PASSWORD);
  g_assert_cmpint (run_cli (f, PLAIN_PASSWORD "\n", "--apple-id", PLAIN_ID,
                            "--password-stdin", "--json", "login"), ==, EXIT_OK);
  assert_state_json (f, PLAIN_ID, "authenticated");
  assert_no_secret_in_output (f);

  /* --force-refresh skips the check of the saved web session and signs
   * in again (with the stored token: the password is not needed for it). */
  before = icloud_mock_server_count_requests (server, NULL, VALIDATE);
  before_login = icloud_mock_server_count_requests (server, NULL, ACCOUNT_LOGIN);
  g_assert_cmpint (run_cli (f, PLAIN_PASSWORD "\n", "--apple-id", PLAIN_ID,
                            "--password-stdin", "--force-refresh", "login"), ==, EXIT_OK);
  g_assert_nonnull (strstr (f->out, "Signed in"));
  g_assert_cmpuint (icloud_mock_server_count_requests (server, NULL, VALIDATE),
                    ==, before);
  g_assert_cmpuint (icloud_mock_server_count_requests (server, NULL, ACCOUNT_LOGIN),
                    >, before_login);
  assert_no_secret_in_output (f);
  assert_no_secret_in_files (f);
}

static void
test_wrong_password (Fixture       *f,
                     gconstpointer  data)
{
  const char *wrong = "wrong battery staple";

  remember_secret (f, wrong);
  g_assert_cmpint (run_cli (f, "wrong battery staple\n", "--apple-id", PLAIN_ID,
                            "--password-stdin", "login"), ==, EXIT_FAILED_LOGIN);
  g_assert_true (g_str_has_prefix (f->err, "icloud-auth: ") ||
                 strstr (f->err, "\nicloud-auth: ") != NULL);
  assert_no_secret_in_output (f);
  assert_no_secret_in_files (f);

  g_assert_cmpint (run_cli (f, NULL, "--apple-id", PLAIN_ID, "status"),
                   ==, EXIT_SIGNED_OUT);
}

static void
test_no_password_headless (Fixture       *f,
                           gconstpointer  data)
{
  /* Not a terminal, no --password-*: nothing to prompt on. */
  g_assert_cmpint (run_cli (f, PLAIN_PASSWORD "\n", "--apple-id", PLAIN_ID, "login"),
                   ==, EXIT_SIGNED_OUT);
  g_assert_nonnull (strstr (f->err, "--password-stdin"));
  /* An empty line is no password. */
  g_assert_cmpint (run_cli (f, "\n", "--apple-id", PLAIN_ID, "--password-stdin",
                            "login"), ==, EXIT_USAGE);
}

static void
test_password_file (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (f->tmpdir, "password", NULL);

  remember_secret (f, PLAIN_PASSWORD);
  g_file_set_contents_full (path, PLAIN_PASSWORD "\nsecond line\n", -1,
                            G_FILE_SET_CONTENTS_NONE, 0600, &error);
  g_assert_no_error (error);

  g_assert_cmpint (run_cli (f, NULL, "--apple-id", PLAIN_ID, "--password-file", path,
                            "login"), ==, EXIT_OK);
  g_assert_nonnull (strstr (f->out, "Signed in"));
  assert_no_secret_in_output (f);
  assert_no_secret_in_files (f);

  /* Options may come after the command. */
  g_assert_cmpint (run_cli (f, NULL, "status", "--apple-id", PLAIN_ID, "--json"),
                   ==, EXIT_OK);
  assert_state_json (f, PLAIN_ID, "authenticated");

  /* The Apple ID may come from the environment. */
  f->env_apple_id = PLAIN_ID;
  g_assert_cmpint (run_cli (f, NULL, "--json", "status"), ==, EXIT_OK);
  assert_state_json (f, PLAIN_ID, "authenticated");
}

static void
test_locked (Fixture       *f,
             gconstpointer  data)
{
  JsonObject *acct = find_account (match_locked);

  if (acct == NULL)
    {
      g_test_skip ("no locked account in the fixtures");
      return;
    }
  remember_secret (f, account_password (acct));
  {
    g_autofree char *input = g_strdup_printf ("%s\n", account_password (acct));

    g_assert_cmpint (run_cli (f, input, "--apple-id", account_apple_id (acct),
                              "--password-stdin", "login"), ==, EXIT_ACCOUNT_LOCKED);
  }
  assert_no_secret_in_output (f);
  assert_no_secret_in_files (f);
}

static void
test_throttled (Fixture       *f,
                gconstpointer  data)
{
  int status;

  remember_secret (f, PLAIN_PASSWORD);
  icloud_mock_server_inject_fault (server, SIGNIN_INIT, ICLOUD_MOCK_FAULT_503, 10, 1234);
  status = run_cli (f, PLAIN_PASSWORD "\n", "--apple-id", PLAIN_ID,
                    "--password-stdin", "login");
  icloud_mock_server_clear_faults (server);

  g_assert_cmpint (status, ==, EXIT_THROTTLED);
  g_assert_nonnull (strstr (f->err, "1234"));
  g_assert_nonnull (strstr (f->err, "retry after"));
  assert_no_secret_in_output (f);

  /* And as JSON. */
  icloud_mock_server_inject_fault (server, SIGNIN_INIT, ICLOUD_MOCK_FAULT_503, 10, 1234);
  status = run_cli (f, PLAIN_PASSWORD "\n", "--apple-id", PLAIN_ID,
                    "--password-stdin", "--json", "login");
  icloud_mock_server_clear_faults (server);
  g_assert_cmpint (status, ==, EXIT_THROTTLED);
  {
    g_autoptr(JsonObject) obj = parse_output_object (f);

    g_assert_cmpstr (json_object_get_string_member (obj, "error"), ==, "throttled");
    g_assert_cmpint (json_object_get_int_member (obj, "retry_after"), ==, 1234);
  }
}

/* SIGINT while a request is in flight cancels it: status 130, promptly. */
static void
test_interrupt (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GTimer) timer = NULL;
  const char *argv[] = {
    g_getenv ("ICLOUD_AUTH"),
    "--endpoint-base", icloud_mock_server_get_base_uri (server),
    "--cookie-directory", f->cookie_dir,
    "--apple-id", PLAIN_ID, "--password-stdin", "login", NULL
  };

  icloud_mock_server_inject_fault_full (server, SIGNIN_INIT, ICLOUD_MOCK_FAULT_SLOW,
                                        1, 0, 20000);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                        G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_subprocess_launcher_setenv (launcher, "GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
  proc = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_output_stream_write_all (g_subprocess_get_stdin_pipe (proc),
                             PLAIN_PASSWORD "\n", strlen (PLAIN_PASSWORD) + 1,
                             NULL, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_close (g_subprocess_get_stdin_pipe (proc), NULL, &error);
  g_assert_no_error (error);

  /* Let it reach the slow request. */
  g_usleep (G_USEC_PER_SEC);
  timer = g_timer_new ();
  g_subprocess_send_signal (proc, SIGINT);
  g_subprocess_wait (proc, NULL, &error);
  g_assert_no_error (error);
  icloud_mock_server_clear_faults (server);

  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, EXIT_INTERRUPTED);
  g_assert_cmpfloat (g_timer_elapsed (timer, NULL), <, 10.0);
}

static gboolean
match_throttled (JsonObject *acct)
{
  return account_flag (acct, "throttled");
}

static gboolean
match_repair (JsonObject *acct)
{
  return account_flag (acct, "repair");
}

static gboolean
match_malformed (JsonObject *acct)
{
  return account_flag (acct, "malformed");
}

static gboolean
match_china (JsonObject *acct)
{
  static const char *const names[] = { "region", NULL };

  return g_strcmp0 (member_string (acct, names), "china-mainland") == 0;
}

static gboolean
match_security_keys (JsonObject *acct)
{
  return json_object_has_member (acct, "security_keys");
}

static void
test_security_key (Fixture       *f,
                   gconstpointer  data)
{
  JsonObject *acct = find_account (match_security_keys);
  g_autofree char *input = NULL;
  const char *id;
  int status;

  if (acct == NULL)
    {
      g_test_skip ("no security-key account in the fixtures");
      return;
    }
  id = account_apple_id (acct);
  input = g_strdup_printf ("%s\n", account_password (acct));
  remember_secret (f, account_password (acct));
  status = run_cli (f, input, "--apple-id", id, "--password-stdin", "login");
  if (skip_if_unsupported (f, status))
    return;
  g_assert_cmpint (status, ==, EXIT_SECURITY_KEY_REQUIRED);
  assert_no_secret_in_output (f);

  g_assert_cmpint (run_cli (f, NULL, "--apple-id", id, "--json", "status"),
                   ==, EXIT_CHALLENGE_PENDING);
  assert_state_json (f, id, "needs-security-key");
}

/* One exit status per cause, from the accounts the fixtures make fail. */
static void
test_login_errors (Fixture       *f,
                   gconstpointer  data)
{
  static const struct {
    AccountMatch match;
    int status;
    const char *in_err;
  } cases[] = {
    { match_throttled, EXIT_THROTTLED, "retry after" },
    { match_repair, EXIT_REPAIR_REQUIRED, NULL },
    { match_malformed, EXIT_PROTOCOL, NULL },
    { match_china, EXIT_WRONG_REGION, NULL },   /* signed in on the global origin */
  };
  guint tested = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      JsonObject *acct = find_account (cases[i].match);
      g_autofree char *input = NULL;
      g_autofree char *cookie_dir = NULL;

      if (acct == NULL)
        continue;
      g_test_message ("account %s", account_apple_id (acct));
      cookie_dir = g_strdup_printf ("%s/%" G_GSIZE_FORMAT, f->tmpdir, i);
      g_free (f->cookie_dir);
      f->cookie_dir = g_steal_pointer (&cookie_dir);
      input = g_strdup_printf ("%s\n", account_password (acct));
      remember_secret (f, account_password (acct));
      g_assert_cmpint (run_cli (f, input, "--apple-id", account_apple_id (acct),
                                "--password-stdin", "login"), ==, cases[i].status);
      g_assert_nonnull (strstr (f->err, "icloud-auth: "));
      if (cases[i].in_err != NULL)
        g_assert_nonnull (strstr (f->err, cases[i].in_err));
      assert_no_secret_in_output (f);
      assert_no_secret_in_files (f);
      tested++;
    }
  if (tested == 0)
    g_test_skip ("no failing accounts in the fixtures");
}

static void
test_import_pyicloud (Fixture       *f,
                      gconstpointer  data)
{
  g_autofree char *dir = g_build_filename (f->tmpdir, "pyicloud", NULL);
  g_autofree char *file = g_build_filename (dir, "userexamplecom.session", NULL);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);

  /* Nothing to import there: the directory holds no pyicloud session. */
  g_assert_cmpint (run_cli (f, NULL, "--apple-id", PLAIN_ID, "import-pyicloud",
                            dir), ==, EXIT_STORAGE);

  /* A malformed .session file is Apple-format trouble: PROTOCOL. */
  g_assert_true (g_file_set_contents (file, "{\"session_token\": [not json", -1, NULL));
  g_assert_cmpint (run_cli (f, NULL, "--apple-id", PLAIN_ID, "import-pyicloud",
                            dir), ==, EXIT_PROTOCOL);

  g_assert_cmpint (run_cli (f, NULL, "--apple-id", PLAIN_ID, "import-pyicloud"),
                   ==, EXIT_USAGE);
}

/* Second factor, headless */

static gboolean
login_headless (Fixture    *f,
                JsonObject *acct,
                const char *state)
{
  g_autofree char *input = g_strdup_printf ("%s\n", account_password (acct));
  const char *id = account_apple_id (acct);
  int status;

  remember_secret (f, account_password (acct));
  status = run_cli (f, input, "--apple-id", id, "--password-stdin", "login");
  if (skip_if_unsupported (f, status))
    return FALSE;
  g_assert_cmpint (status, ==, EXIT_CHALLENGE_PENDING);
  g_assert_nonnull (strstr (f->out, "verify"));
  assert_no_secret_in_output (f);

  /* The challenge is saved: another process sees it, without a password. */
  g_assert_cmpint (run_cli (f, NULL, "--apple-id", id, "--json", "status"),
                   ==, EXIT_CHALLENGE_PENDING);
  assert_state_json (f, id, state);
  return TRUE;
}

static void
test_2fa_push (Fixture       *f,
               gconstpointer  data)
{
  JsonObject *acct = find_account (match_hsa2);
  g_autofree char *code = NULL;
  g_autofree char *wrong = NULL;
  const char *id;
  int status;

  if (acct == NULL)
    {
      g_test_skip ("no two-factor account in the fixtures");
      return;
    }
  id = account_apple_id (acct);
  if (!login_headless (f, acct, "needs-2fa"))
    return;

  status = run_cli (f, NULL, "--apple-id", id, "request-code");
  if (skip_if_unsupported (f, status))
    return;
  g_assert_cmpint (status, ==, EXIT_OK);
  code = icloud_mock_server_dup_last_code (server, id, NULL);
  g_assert_nonnull (code);
  remember_secret (f, code);
  assert_no_secret_in_output (f);

  wrong = wrong_code_for (code);
  g_assert_cmpint (run_cli (f, NULL, "--apple-id", id, "verify", wrong),
                   ==, EXIT_INVALID_CODE);
  assert_no_secret_in_output (f);

  /* Still pending after a wrong code. */
  g_assert_cmpint (run_cli (f, NULL, "--apple-id", id, "--json", "status"),
                   ==, EXIT_CHALLENGE_PENDING);
  assert_state_json (f, id, "needs-2fa");

  g_assert_cmpint (run_cli (f, NULL, "--apple-id", id, "verify", code), ==, EXIT_OK);
  g_assert_nonnull (strstr (f->out, "Signed in"));
  assert_no_secret_in_output (f);

  g_assert_cmpint (run_cli (f, NULL, "--apple-id", id, "--json", "status"), ==, EXIT_OK);
  assert_state_json (f, id, "authenticated");
  g_assert_true (json_trusted (f));
  assert_no_secret_in_files (f);

  /* Nothing left to verify. */
  g_assert_cmpint (run_cli (f, NULL, "--apple-id", id, "verify", code), !=, EXIT_OK);
}

static void
test_2fa_sms (Fixture       *f,
              gconstpointer  data)
{
  JsonObject *acct = find_account (match_hsa2);
  g_autoptr(JsonObject) list = NULL;
  g_autofree char *phone_id = NULL;
  g_autofree char *code = NULL;
  JsonArray *phones;
  const char *id;
  int status;

  if (acct == NULL)
    {
      g_test_skip ("no two-factor account in the fixtures");
      return;
    }
  id = account_apple_id (acct);
  if (!login_headless (f, acct, "needs-2fa"))
    return;

  status = run_cli (f, NULL, "--apple-id", id, "--json", "request-code", "--list");
  if (skip_if_unsupported (f, status))
    return;
  g_assert_cmpint (status, ==, EXIT_OK);
  list = parse_output_object (f);
  phones = json_object_get_array_member (list, "phones");
  g_assert_nonnull (phones);
  if (json_array_get_length (phones) == 0)
    {
      g_test_skip ("the two-factor account has no trusted phone");
      return;
    }
  phone_id = g_strdup (json_object_get_string_member (
                         json_array_get_object_element (phones, 0), "id"));
  g_assert_nonnull (phone_id);

  /* Human listing shows the same id. */
  g_assert_cmpint (run_cli (f, NULL, "--apple-id", id, "request-code", "--list"),
                   ==, EXIT_OK);
  g_assert_nonnull (strstr (f->out, phone_id));

  g_assert_cmpint (run_cli (f, NULL, "--apple-id", id, "request-code", "--sms",
                            "no-such-phone"), ==, EXIT_USAGE);

  status = run_cli (f, NULL, "--apple-id", id, "request-code", "--sms", phone_id);
  if (skip_if_unsupported (f, status))
    return;
  g_assert_cmpint (status, ==, EXIT_OK);
  code = icloud_mock_server_dup_last_code (server, id, phone_id);
  g_assert_nonnull (code);
  remember_secret (f, code);
  assert_no_secret_in_output (f);

  /* Another process checks it on the phone route. */
  g_assert_cmpint (run_cli (f, NULL, "--apple-id", id, "verify", code), ==, EXIT_OK);
  assert_no_secret_in_output (f);
  g_assert_cmpint (run_cli (f, NULL, "--apple-id", id, "--json", "status"), ==, EXIT_OK);
  assert_state_json (f, id, "authenticated");
  g_assert_true (json_trusted (f));
}

static void
test_2sa (Fixture       *f,
          gconstpointer  data)
{
  JsonObject *acct = find_account (match_hsa);
  g_autoptr(JsonObject) list = NULL;
  g_autofree char *device_id = NULL;
  g_autofree char *code = NULL;
  g_autofree char *wrong = NULL;
  JsonArray *devices;
  const char *id;
  int status;

  if (acct == NULL)
    {
      g_test_skip ("no two-step account in the fixtures");
      return;
    }
  id = account_apple_id (acct);
  if (!login_headless (f, acct, "needs-2sa"))
    return;

  status = run_cli (f, NULL, "--apple-id", id, "--json", "devices");
  if (skip_if_unsupported (f, status))
    return;
  g_assert_cmpint (status, ==, EXIT_OK);
  list = parse_output_object (f);
  devices = json_object_get_array_member (list, "devices");
  g_assert_nonnull (devices);
  g_assert_cmpuint (json_array_get_length (devices), >, 0);
  device_id = g_strdup (json_object_get_string_member (
                          json_array_get_object_element (devices, 0), "id"));

  g_assert_cmpint (run_cli (f, NULL, "--apple-id", id, "send-code"), ==, EXIT_USAGE);
  status = run_cli (f, NULL, "--apple-id", id, "send-code", "--device", device_id);
  if (skip_if_unsupported (f, status))
    return;
  g_assert_cmpint (status, ==, EXIT_OK);
  code = icloud_mock_server_dup_last_code (server, id, device_id);
  g_assert_nonnull (code);
  remember_secret (f, code);

  wrong = wrong_code_for (code);
  g_assert_cmpint (run_cli (f, NULL, "--apple-id", id, "verify", "--device", device_id,
                            wrong), ==, EXIT_INVALID_CODE);
  g_assert_cmpint (run_cli (f, NULL, "--apple-id", id, "verify", "--device", device_id,
                            code), ==, EXIT_OK);
  assert_no_secret_in_output (f);
  g_assert_cmpint (run_cli (f, NULL, "--apple-id", id, "--json", "status"), ==, EXIT_OK);
  assert_state_json (f, id, "authenticated");
  assert_no_secret_in_files (f);
}

static void
load_fixture_accounts (const char *path)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  accounts = json_node_copy (json_parser_get_root (parser));
}

/* The trusted-device bridge (issue 14) */

#define BRIDGE_ID "bridge-prompt@example.com"

static gboolean
match_bridge (JsonObject *acct)
{
  return g_strcmp0 (account_apple_id (acct), BRIDGE_ID) == 0;
}

/* Headless: request-code says the bridge is not used, and why; --json
 * says the route. */
static void
test_bridge_headless (Fixture       *f,
                      gconstpointer  data)
{
  JsonObject *acct = find_account (match_bridge);
  g_autoptr(JsonObject) obj = NULL;
  g_autofree char *code = NULL;

  g_assert_nonnull (acct);
  if (!login_headless (f, acct, "needs-2fa"))
    return;

  g_assert_cmpint (run_cli (f, NULL, "--apple-id", BRIDGE_ID, "request-code"), ==, EXIT_OK);
  g_assert_nonnull (strstr (f->out, "trusted-device bridge"));
  g_assert_nonnull (strstr (f->out, "verify"));
  g_assert_cmpint (run_cli (f, NULL, "--apple-id", BRIDGE_ID, "--json", "request-code"), ==, EXIT_OK);
  obj = parse_output_object (f);
  g_assert_cmpstr (json_object_get_string_member (obj, "state"), ==, "needs-2fa");
  g_assert_cmpstr (json_object_get_string_member (obj, "code_delivery"), ==, "trusted-device");
  g_assert_cmpuint (icloud_mock_server_count_requests (server, BRIDGE_ID, "/v2"), ==, 0);
  g_assert_cmpuint (icloud_mock_server_get_n_push_connections (server), ==, 0);

  code = icloud_mock_server_dup_last_code (server, BRIDGE_ID, NULL);
  g_assert_nonnull (code);
  remember_secret (f, code);
  g_assert_cmpint (run_cli (f, NULL, "--apple-id", BRIDGE_ID, "verify", code), ==, EXIT_OK);
  assert_no_secret_in_output (f);
  assert_no_secret_in_files (f);
}

static void
pty_child_setup (gpointer user_data)
{
  int fd;

  setsid ();
  fd = open (user_data, O_RDWR);
  if (fd < 0)
    _exit (126);
  ioctl (fd, TIOCSCTTY, 0);
  dup2 (fd, 0);
  dup2 (fd, 1);
  dup2 (fd, 2);
  if (fd > 2)
    close (fd);
}

/* Reads the terminal into @seen until @text shows (10 s at most). */
static void
pty_expect (int         master,
            GString    *seen,
            const char *text)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (strstr (seen->str, text) == NULL)
    {
      GPollFD pfd = { master, G_IO_IN, 0 };
      char buf[512];
      ssize_t n;
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;

      if (left <= 0)
        g_error ("“%s” never showed; the terminal shows: %s", text, seen->str);
      if (g_poll (&pfd, 1, (int) left) <= 0)
        continue;
      n = read (master, buf, sizeof buf);
      if (n <= 0)
        g_error ("the terminal closed before “%s”: %s", text, seen->str);
      g_string_append_len (seen, buf, n);
    }
}

static void
pty_type (int         master,
          const char *text)
{
  g_assert_cmpint (write (master, text, strlen (text)), ==, (gssize) strlen (text));
  g_assert_cmpint (write (master, "\n", 1), ==, 1);
}

/* The fake push service's figure @name (GET /_mock/push). */
static gint64
push_figure (const char *name)
{
  g_autoptr(SoupSession) soup = soup_session_new ();
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *uri = g_strconcat (icloud_mock_server_get_base_uri (server), "/_mock/push", NULL);

  msg = soup_message_new ("GET", uri);
  body = soup_session_send_and_read (soup, msg, NULL, &error);
  g_assert_no_error (error);
  json_parser_load_from_data (parser, g_bytes_get_data (body, NULL), g_bytes_get_size (body), &error);
  g_assert_no_error (error);
  return json_object_get_int_member (json_node_get_object (json_parser_get_root (parser)), name);
}

/* Interactive: login on a terminal, the prompt on the trusted device, the
 * code typed while the bridge's socket stays open (with @data, while the
 * push service pings it every second: the pings are answered meanwhile). */
static void
test_bridge_interactive (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) seen = g_string_new (NULL);
  g_autofree char *code = NULL;
  const char *tool = g_getenv ("ICLOUD_AUTH");
  const char *slave;
  guint validations;
  int master;

  master = posix_openpt (O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt (master) != 0 || unlockpt (master) != 0 ||
      (slave = ptsname (master)) == NULL)
    {
      g_test_skip ("no pseudo-terminal here");
      return;
    }

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_set_child_setup (launcher, pty_child_setup, g_strdup (slave), g_free);
  g_subprocess_launcher_setenv (launcher, "GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
  proc = g_subprocess_launcher_spawn (launcher, &error, tool,
                                      "--endpoint-base", icloud_mock_server_get_base_uri (server),
                                      "--cookie-directory", f->cookie_dir,
                                      "--apple-id", BRIDGE_ID, "login", NULL);
  g_assert_no_error (error);

  validations = icloud_mock_server_count_requests (server, BRIDGE_ID, "/appleauth/auth/bridge/code/validate");
  if (data != NULL)
    icloud_mock_server_inject_fault (server, "/v2", ICLOUD_MOCK_FAULT_WS_PING, 1, 0);
  pty_expect (master, seen, "Password for");
  remember_secret (f, "bridge prompt");
  pty_type (master, "bridge prompt");
  pty_expect (master, seen, "choose a phone id: ");
  pty_type (master, "");
  pty_expect (master, seen, "(trusted-device bridge); enter the code shown there");
  pty_expect (master, seen, "Verification code: ");
  /* the socket is open while the user types */
  g_assert_cmpuint (icloud_mock_server_get_n_push_connections (server), ==, 1);
  if (data != NULL)
    {
      gint64 pongs = push_figure ("pongs");
      gint64 deadline = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;

      /* the user reads the code: pings (one a second) come and are
       * answered meanwhile */
      while (push_figure ("pongs") < pongs + 2 && g_get_monotonic_time () < deadline)
        g_usleep (250 * G_TIME_SPAN_MILLISECOND);
      g_assert_cmpint (push_figure ("pongs"), >=, pongs + 2);
      g_assert_cmpuint (icloud_mock_server_get_n_push_connections (server), ==, 1);
    }
  code = icloud_mock_server_dup_last_code (server, BRIDGE_ID, NULL);
  g_assert_nonnull (code);
  remember_secret (f, code);
  pty_type (master, code);
  pty_expect (master, seen, "Signed in");

  g_subprocess_wait (proc, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, EXIT_OK);
  close (master);

  g_assert_cmpuint (icloud_mock_server_count_requests (server, BRIDGE_ID, "/appleauth/auth/bridge/code/validate"),
                    ==, validations + 1);
  g_assert_cmpint (run_cli (f, NULL, "--apple-id", BRIDGE_ID, "--json", "status"), ==, EXIT_OK);
  assert_state_json (f, BRIDGE_ID, "authenticated");
  g_assert_true (json_trusted (f));
  assert_no_secret_in_files (f);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  const char *accounts_path;
  int ret;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  accounts_path = g_getenv ("ICLOUD_MOCK_ACCOUNTS");
  if (accounts_path == NULL || g_getenv ("ICLOUD_AUTH") == NULL)
    {
      g_test_message ("ICLOUD_MOCK_ACCOUNTS and ICLOUD_AUTH must be set "
                      "(run through meson test)");
      return 77;
    }
  load_fixture_accounts (accounts_path);

  server = icloud_mock_server_new ();
  icloud_mock_server_load_accounts (server, accounts_path, &error);
  g_assert_no_error (error);
  icloud_mock_server_start (server, &error);
  g_assert_no_error (error);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("/cli/help", test_help);
  ADD ("/cli/version", test_version);
  ADD ("/cli/man-page", test_man_page);
  ADD ("/cli/bash-completion", test_bash_completion);
  ADD ("/cli/secret-store-env", test_secret_store_env);
  ADD ("/cli/usage", test_missing_apple_id);
  ADD ("/cli/status/signed-out", test_status_signed_out);
  ADD ("/cli/login/status/logout", test_login_status_logout);
  ADD ("/cli/login/json-force-refresh", test_login_json_and_force_refresh);
  ADD ("/cli/login/wrong-password", test_wrong_password);
  ADD ("/cli/login/no-password-headless", test_no_password_headless);
  ADD ("/cli/login/password-file", test_password_file);
  ADD ("/cli/login/locked", test_locked);
  ADD ("/cli/login/throttled", test_throttled);
  ADD ("/cli/login/interrupt", test_interrupt);
  ADD ("/cli/login/errors", test_login_errors);
  ADD ("/cli/import-pyicloud", test_import_pyicloud);
  ADD ("/cli/2fa/push", test_2fa_push);
  ADD ("/cli/2fa/sms", test_2fa_sms);
  ADD ("/cli/2sa", test_2sa);
  ADD ("/cli/security-key", test_security_key);
  ADD ("/cli/bridge/headless", test_bridge_headless);
  ADD ("/cli/bridge/interactive", test_bridge_interactive);
  g_test_add ("/cli/bridge/interactive-pings", Fixture, "pings", fixture_setup,
              test_bridge_interactive, fixture_teardown);

#undef ADD

  ret = g_test_run ();

  icloud_mock_server_stop (server);
  g_clear_object (&server);
  g_clear_pointer (&accounts, json_node_unref);
  return ret;
}
