/* test-hostile.c: a hostile server and hostile files (issue 10)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What an attacker in front of the fake server (or with write access to a
 * session directory's content) tried, and what the library and
 * icloud-auth must do instead: deeply nested JSON refused before any
 * parser recurses, no task left unreturned on input that is not UTF-8,
 * one session file per account, server text escaped before anyone prints
 * it, FIFOs and files of other users refused, a minimum SRP iteration
 * count, debug output on stderr with query values redacted, and no
 * password cut short at a NUL byte. Redirects are in the fault matrix
 * (test-faults.c, column "302 elsewhere": a catcher on another origin
 * must receive nothing).
 */

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <icloud-glib/icloud-glib.h>

#include "test-utils.h"


#define PASSWORD "correct horse battery staple"
#define AUTH "/appleauth/auth"
#define SETUP "/setup/ws/1"

static const char accounts_json[] =
  "{\"accounts\": ["
  " {\"apple_id\": \"user@example.com\", \"password\": \"" PASSWORD "\", \"iterations\": 1000,"
  "  \"factor\": \"none\", \"dsid\": \"8200000001\"},"
  " {\"apple_id\": \"u.ser@example.com\", \"password\": \"" PASSWORD "\", \"iterations\": 1000,"
  "  \"factor\": \"none\", \"dsid\": \"8200000002\"},"
  " {\"apple_id\": \"few@example.com\", \"password\": \"" PASSWORD "\", \"iterations\": 999,"
  "  \"factor\": \"none\", \"dsid\": \"8200000003\"},"
  " {\"apple_id\": \"name@example.com\", \"password\": \"" PASSWORD "\", \"iterations\": 1000,"
  "  \"factor\": \"hsa2\", \"options_shape\": \"direct\", \"dsid\": \"8200000004\","
  "  \"phones\": [{\"id\": 1, \"push_mode\": \"sms\","
  "               \"number\": \"\\u001b]0;owned\\u0007\\u001b[2J\\nA code was sent\"}]}"
  "]}";

typedef struct {
  TestFixture base;
  char       *out;
  char       *err;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  test_fixture_setup (&f->base, accounts_json, "sessions");
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  test_fixture_teardown (&f->base, data);
  g_free (f->out);
  g_free (f->err);
}

static void
sign_in (Fixture    *f,
         const char *apple_id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = test_session_new (&f->base, apple_id, PASSWORD, &error);

  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
}

/* The one *.session.json of the directory. */
static char *
only_session_file (Fixture *f)
{
  g_autoptr(GDir) dir = g_dir_open (f->base.dir, 0, NULL);
  char *found = NULL;
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, ".session.json"))
      {
        g_assert_null (found);
        found = g_build_filename (f->base.dir, name, NULL);
      }
  g_assert_nonnull (found);
  return found;
}

static guint
count_files (Fixture    *f,
             const char *infix)
{
  g_autoptr(GDir) dir = g_dir_open (f->base.dir, 0, NULL);
  const char *name;
  guint n = 0;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (strstr (name, infix) != NULL)
      n++;
  return n;
}

static char *
deep_json (gsize levels)
{
  char *text = g_malloc (2 * levels + 1);

  memset (text, '[', levels);
  memset (text + levels, ']', levels);
  text[2 * levels] = '\0';
  return text;
}

/* Whether @text holds a control character other than newline and tab, or
 * an escape-like C1 or bidi character. */
static gboolean
has_control (const char *text)
{
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c == '\n' || c == '\t')
        continue;
      if (g_unichar_iscntrl (c) || g_unichar_type (c) == G_UNICODE_FORMAT)
        return TRUE;
    }
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* icloud-auth as a child, never waited for forever */

typedef struct {
  gboolean  done;
  gboolean  timed_out;
  GBytes   *out;
  GBytes   *err;
  GError   *error;
} Communication;

static void
communicated (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Communication *c = user_data;

  g_subprocess_communicate_finish (G_SUBPROCESS (source), result, &c->out, &c->err, &c->error);
  c->done = TRUE;
}

static gboolean
watchdog_fired (gpointer user_data)
{
  Communication *c = user_data;

  c->timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

static int
run_cli (Fixture            *f,
         const char         *input,
         gsize               input_len,
         const char * const *env,
         const char * const *args)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) in = g_bytes_new (input != NULL ? input : "", input != NULL ? input_len : 0);
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GBytes) err = NULL;
  Communication c = { 0, };
  guint watchdog;

  g_ptr_array_add (argv, (gpointer) g_getenv ("ICLOUD_AUTH"));
  g_ptr_array_add (argv, (gpointer) "--endpoint-base");
  g_ptr_array_add (argv, (gpointer) icloud_mock_server_get_base_uri (f->base.server));
  g_ptr_array_add (argv, (gpointer) "--cookie-directory");
  g_ptr_array_add (argv, f->base.dir);
  for (gsize i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_unsetenv (launcher, "ICLOUD_APPLE_ID");
  g_subprocess_launcher_unsetenv (launcher, "G_MESSAGES_DEBUG");
  for (gsize i = 0; env != NULL && env[i] != NULL; i += 2)
    g_subprocess_launcher_setenv (launcher, env[i], env[i + 1], TRUE);
  proc = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);

  /* A hang is a failure, not a stuck suite. */
  watchdog = g_timeout_add_seconds (30, watchdog_fired, &c);
  g_subprocess_communicate_async (proc, in, NULL, communicated, &c);
  while (!c.done && !c.timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (c.timed_out)
    {
      g_subprocess_force_exit (proc);
      while (!c.done)
        g_main_context_iteration (NULL, TRUE);
      g_error ("icloud-auth %s did not exit within 30 s", args[0]);
    }
  g_source_remove (watchdog);
  g_assert_no_error (c.error);
  out = c.out;
  err = c.err;

  g_free (f->out);
  g_free (f->err);
  /* (the data of empty bytes may be NULL) */
  f->out = g_strndup (g_bytes_get_size (out) ? g_bytes_get_data (out, NULL) : "", g_bytes_get_size (out));
  f->err = g_strndup (g_bytes_get_size (err) ? g_bytes_get_data (err, NULL) : "", g_bytes_get_size (err));
  /* Whatever a server sent, icloud-auth writes UTF-8. */
  g_assert_true (g_utf8_validate (f->out, -1, NULL));
  g_assert_true (g_utf8_validate (f->err, -1, NULL));

  g_assert_true (g_subprocess_get_if_exited (proc));
  return g_subprocess_get_exit_status (proc);
}

/* icloud-auth login --password-stdin for @apple_id (with --json). */
static int
cli_login (Fixture    *f,
           const char *apple_id,
           gboolean    json)
{
  const char * const args[] = { "--apple-id", apple_id, json ? "--json" : "login",
                                json ? "login" : "--password-stdin",
                                json ? "--password-stdin" : NULL, NULL };

  return run_cli (f, PASSWORD "\n", strlen (PASSWORD) + 1, NULL, args);
}

#define CLI(f, env, ...) run_cli ((f), NULL, 0, (env), (const char * const []) { __VA_ARGS__, NULL })

/* ------------------------------------------------------------------------ */
/* 1. Deeply nested JSON */

static void
test_deep_json_network (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;

  /* The very first request of a sign-in. */
  icloud_mock_server_inject_fault (f->base.server, AUTH "/signin/init", ICLOUD_MOCK_FAULT_DEEP_JSON, 1, 0);
  session = test_session_new (&f->base, "user@example.com", PASSWORD, &error);
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "64 levels"));
  g_assert_null (session);

  /* And through icloud-auth: an error, not a crash. */
  icloud_mock_server_inject_fault (f->base.server, AUTH "/signin/init", ICLOUD_MOCK_FAULT_DEEP_JSON, 1, 0);
  g_assert_cmpint (cli_login (f, "user@example.com", FALSE),
                   ==, 12 /* PROTOCOL */);
}

static void
test_deep_json_session_file (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autofree char *path = NULL;
  g_autofree char *deep = deep_json (100000);

  sign_in (f, "user@example.com");
  path = only_session_file (f);
  g_file_set_contents_full (path, deep, -1, G_FILE_SET_CONTENTS_NONE, 0600, &error);
  g_assert_no_error (error);

  /* Set aside as corrupt: the next start has no session, and does not
   * crash (then or ever after). */
  session = test_session_new (&f->base, "user@example.com", NULL, &error);
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_AUTH_REQUIRED);
  g_assert_null (session);
  g_assert_cmpuint (count_files (f, ".corrupt-"), ==, 1);
  g_assert_cmpint (CLI (f, NULL, "--apple-id", "user@example.com", "status", "--json"), ==, 9);
}

static void
test_deep_json_pyicloud (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autofree char *pydir = g_build_filename (g_get_user_state_dir (), "pyicloud", NULL);
  g_autofree char *file = g_build_filename (pydir, "userexamplecom.session", NULL);
  g_autofree char *deep = deep_json (100000);

  g_mkdir_with_parents (pydir, 0700);
  g_file_set_contents (file, deep, -1, &error);
  g_assert_no_error (error);

  session = g_object_new (ICLOUD_TYPE_SESSION, "apple-id", "user@example.com",
                          "endpoint", f->base.endpoint, "cookie-directory", f->base.dir, NULL);
  g_assert_false (icloud_session_import_pyicloud (session, pydir, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "nested deeper"));
  g_clear_error (&error);

  g_assert_cmpint (CLI (f, NULL, "--apple-id", "user@example.com", "import-pyicloud", pydir), ==, 12);
}

/* ------------------------------------------------------------------------ */
/* 3. Input that is not UTF-8 */

static void
new_cb (GObject      *source,
        GAsyncResult *result,
        gpointer      user_data)
{
  GError **error = user_data;
  g_autoptr(GObject) object = g_async_initable_new_finish (G_ASYNC_INITABLE (source), result, error);

  g_assert_null (object);
}

static void
test_apple_id_not_utf8 (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  guint requests;

  /* Asynchronously: the task returns. */
  g_async_initable_new_async (ICLOUD_TYPE_SESSION, G_PRIORITY_DEFAULT, NULL, new_cb, &error,
                              "apple-id", "user\xff\xfe@example.com",
                              "password", PASSWORD,
                              "endpoint", f->base.endpoint,
                              "cookie-directory", f->base.dir,
                              NULL);
  while (error == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* Blocking, and for the password too. */
  session = test_session_new (&f->base, "user\xc3@example.com", PASSWORD, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (session);
  g_clear_error (&error);
  session = test_session_new (&f->base, "user@example.com", "pass\xffword", &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (session);
  g_clear_error (&error);

  /* A code that is not UTF-8. */
  session = test_session_new (&f->base, "user@example.com", PASSWORD, &error);
  g_assert_no_error (error);
  g_assert_false (icloud_session_validate_2fa_code (session, "12\xff", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* Nothing was sent for any of them, and no file was written. */
  requests = icloud_mock_server_count_requests (f->base.server, NULL, AUTH "/signin/init");
  g_assert_cmpuint (requests, ==, 1);

  /* icloud-auth: an exit, no hang (the watchdog would kill it). */
  g_assert_cmpint (run_cli (f, PASSWORD "\n", strlen (PASSWORD) + 1,
                            (const char * const []) { "ICLOUD_APPLE_ID", "user\xff@example.com", NULL },
                            (const char * const []) { "login", "--password-stdin", NULL }),
                   ==, 2 /* USAGE */);
  g_assert_nonnull (strstr (f->err, "not valid UTF-8"));
  g_assert_cmpuint (icloud_mock_server_count_requests (f->base.server, NULL, AUTH "/signin/init"), ==, requests);
}

/* ------------------------------------------------------------------------ */
/* 4. One session file per account */

static void
test_distinct_files (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  sign_in (f, "user@example.com");
  sign_in (f, "u.ser@example.com");
  g_assert_cmpuint (count_files (f, ".session.json"), ==, 2);

  /* Each restores without password, again and again, and neither sets
   * the other aside. */
  for (guint round = 0; round < 2; round++)
    for (guint i = 0; i < 2; i++)
      {
        const char *id = i == 0 ? "user@example.com" : "u.ser@example.com";
        g_autoptr(ICloudSession) session = test_session_new (&f->base, id, NULL, &error);

        g_assert_no_error (error);
        g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
      }
  g_assert_cmpuint (count_files (f, ".corrupt-"), ==, 0);
  g_assert_cmpuint (icloud_mock_server_count_requests (f->base.server, NULL, AUTH "/signin/init"), ==, 2);

  /* Apple IDs compare without regard to case: one account, one file. */
  {
    g_autoptr(ICloudSession) session = test_session_new (&f->base, "USER@Example.com", NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  }
  g_assert_cmpuint (count_files (f, ".session.json"), ==, 2);
}

/* ------------------------------------------------------------------------ */
/* 5. Server text */

static void
test_control_characters (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;

  /* In error messages: escaped, and short. */
  icloud_mock_server_inject_fault (f->base.server, AUTH "/signin/init", ICLOUD_MOCK_FAULT_HOSTILE_TEXT, 1, 0);
  session = test_session_new (&f->base, "user@example.com", PASSWORD, &error);
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL);
  g_assert_false (has_control (error->message));
  g_assert_cmpuint (strlen (error->message), <, 400);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "\\x1b]0;owned"));
  g_clear_error (&error);

  /* Through icloud-auth, text and JSON: no control character but its own
   * newlines, and the fake line is not a line. */
  icloud_mock_server_inject_fault (f->base.server, AUTH "/signin/init", ICLOUD_MOCK_FAULT_HOSTILE_TEXT, 2, 0);
  g_assert_cmpint (cli_login (f, "user@example.com", FALSE),
                   ==, 12);
  g_assert_false (has_control (f->err));
  g_assert_false (has_control (f->out));
  g_assert_null (strstr (f->err, "\nicloud-auth: signed in"));
  g_assert_cmpuint (strlen (f->err), <, 2000);
  g_assert_cmpint (cli_login (f, "user@example.com", TRUE),
                   ==, 12);
  g_assert_false (has_control (f->err));
  g_assert_false (has_control (f->out));

  /* A trusted phone number of escape sequences and a newline. */
  g_assert_cmpint (cli_login (f, "name@example.com", FALSE),
                   ==, 4 /* CHALLENGE_PENDING */);
  g_assert_cmpint (CLI (f, NULL, "--apple-id", "name@example.com", "request-code", "--list"), ==, 0);
  g_test_message ("%s", f->out);
  g_assert_false (has_control (f->out));
  g_assert_false (has_control (f->err));
  /* The fake line stays inside the phone's line. */
  g_assert_nonnull (strstr (f->out, "\\x1b]0;owned\\x07\\x1b[2J\\nA code was sent"));
  g_assert_null (strstr (f->out, "\nA code was sent"));
}

/* ------------------------------------------------------------------------ */
/* Also: FIFOs, other users' files, iterations, the debug log, NUL */

static void
test_fifo_session_file (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autofree char *path = NULL;

  sign_in (f, "user@example.com");
  path = only_session_file (f);
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (mkfifo (path, 0600), ==, 0);

  session = test_session_new (&f->base, "user@example.com", NULL, &error);
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
  g_assert_nonnull (strstr (error->message, "not a regular file"));
  g_assert_cmpint (CLI (f, NULL, "--apple-id", "user@example.com", "status"), ==, 13 /* STORAGE */);
}

static void
test_other_users_file (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autofree char *path = NULL;

  sign_in (f, "user@example.com");
  path = only_session_file (f);
  if (geteuid () != 0 || chown (path, 65534, 65534) != 0)
    {
      g_test_skip ("needs root to give a file to another user");
      return;
    }

  session = test_session_new (&f->base, "user@example.com", NULL, &error);
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
  g_assert_nonnull (strstr (error->message, "another user"));
  g_assert_null (session);
}

static void
test_minimum_iterations (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;

  /* 999 iterations: refused before any proof (no signin/complete). */
  session = test_session_new (&f->base, "few@example.com", PASSWORD, &error);
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL);
  g_assert_cmpuint (icloud_mock_server_count_requests (f->base.server, "few@example.com",
                                                       AUTH "/signin/complete"), ==, 0);
}

static void
test_debug_log (Fixture       *f,
                gconstpointer  data)
{
  const char * const debug[] = { "ICLOUD_DEBUG", "all", NULL };
  g_autoptr(GRegex) client_id = g_regex_new ("clientId=(?!\\[redacted\\])", 0, 0, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();

  sign_in (f, "user@example.com");
  g_assert_cmpint (CLI (f, debug, "--apple-id", "user@example.com", "--json", "status"), ==, 0);

  /* stdout is the JSON object alone. */
  g_assert_true (json_parser_load_from_data (parser, f->out, -1, &error));
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  g_assert_null (strstr (f->out, "icloud-http"));

  /* "all" logged headers and bodies, on stderr, every string value of a
   * body redacted. */
  g_assert_nonnull (strstr (f->err, "icloud-http: > POST /setup/ws/1/validate"));
  g_assert_nonnull (strstr (f->err, "\"dsid\":\"[redacted]\""));
  g_assert_null (strstr (f->err, "8200000001"));

  /* The logout URL carries clientId (and dsid) in its query: redacted. */
  g_assert_cmpint (CLI (f, debug, "--apple-id", "user@example.com", "logout"), ==, 0);
  g_assert_nonnull (strstr (f->err, "icloud-http: > POST /setup/ws/1/logout?"));
  g_assert_nonnull (strstr (f->err, "clientId=[redacted]"));
  g_assert_false (g_regex_match (client_id, f->err, 0, NULL));
  g_assert_null (strstr (f->err, "8200000001"));
  g_assert_null (strstr (f->out, "icloud-http"));
}

static void
test_password_with_nul (Fixture       *f,
                        gconstpointer  data)
{
  static const char input[] = "correct horse\0battery staple\n";

  g_assert_cmpint (run_cli (f, input, sizeof input - 1, NULL,
                            (const char * const []) { "--apple-id", "user@example.com",
                                                      "login", "--password-stdin", NULL }),
                   ==, 2 /* USAGE */);
  g_assert_nonnull (strstr (f->err, "NUL"));
  g_assert_cmpuint (icloud_mock_server_count_requests (f->base.server, NULL, AUTH "/signin/init"), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("/hostile/deep-json/network", test_deep_json_network);
  ADD ("/hostile/deep-json/session-file", test_deep_json_session_file);
  ADD ("/hostile/deep-json/pyicloud", test_deep_json_pyicloud);
  ADD ("/hostile/not-utf8", test_apple_id_not_utf8);
  ADD ("/hostile/one-file-per-account", test_distinct_files);
  ADD ("/hostile/control-characters", test_control_characters);
  ADD ("/hostile/fifo", test_fifo_session_file);
  ADD ("/hostile/other-users-file", test_other_users_file);
  ADD ("/hostile/minimum-iterations", test_minimum_iterations);
  ADD ("/hostile/debug-log", test_debug_log);
  ADD ("/hostile/password-with-nul", test_password_with_nul);

  return g_test_run ();
}
