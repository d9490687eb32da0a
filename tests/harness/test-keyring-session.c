/* test-keyring-session.c: ICloudSession with secret-store KEYRING against the
 * fake iCloud server
 *
 * The keyring is libsecret's file backend (SECRET_BACKEND=file), an
 * encrypted file in a private temporary directory: no Secret Service, no
 * D-Bus. The store is tested through the public session API only.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>
#include <icloud-glib/icloud-glib.h>
#ifdef HAVE_LIBSECRET
#include <libsecret/secret.h>
#endif

#include "test-names.h"
#include "test-utils.h"

#define PASSWORD "correct horse battery staple"

static const char accounts_json[] =
  "{\"accounts\": ["
  " {\"apple_id\": \"keyring@example.com\", \"password\": \"" PASSWORD "\", \"protocol\": \"s2k\", \"iterations\": 1000, \"factor\": \"none\"},"
  " {\"apple_id\": \"keyring-logout@example.com\", \"password\": \"" PASSWORD "\", \"protocol\": \"s2k_fo\", \"iterations\": 1000, \"factor\": \"none\"},"
  " {\"apple_id\": \"keyring-cli@example.com\", \"password\": \"" PASSWORD "\", \"protocol\": \"s2k\", \"iterations\": 1000, \"factor\": \"none\"},"
  " {\"apple_id\": \"keyring-none@example.com\", \"password\": \"" PASSWORD "\", \"protocol\": \"s2k\", \"iterations\": 1000, \"factor\": \"none\"}"
  "]}";

static char *keyring_dir;
static char *keyring_file;

typedef TestFixture Fixture;

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  user_data)
{
  test_fixture_setup (fixture, accounts_json, "icloud-test");
}

static ICloudSession *
new_session (Fixture            *fixture,
             const char         *apple_id,
             const char         *password,
             ICloudSecretStore   secret_store,
             GError            **error)
{
  return test_session_new_full (fixture, apple_id, password, error,
                                "secret-store", secret_store, NULL);
}

/* No `*.session.json` at all in the session directory. */
static void
assert_no_session_files (Fixture *fixture)
{
  g_autoptr(GDir) dir = g_dir_open (fixture->dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    g_assert_false (strstr (name, ".session.json") != NULL);
}

static void
assert_lock_file (Fixture    *fixture,
                  const char *apple_id)
{
  g_autofree char *path = test_account_file (fixture->dir, apple_id, ".lock");
  GStatBuf st;

  g_assert_cmpint (g_lstat (path, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (g_lstat (fixture->dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
}

#ifdef HAVE_LIBSECRET

/* The documented schema. */
static const SecretSchema schema = {
  "org.gnome.ICloudGlib.Session", SECRET_SCHEMA_NONE,
  {
    { "apple-id", SECRET_SCHEMA_ATTRIBUTE_STRING },
    { "version", SECRET_SCHEMA_ATTRIBUTE_STRING },
    { NULL, 0 },
  }
};

static char *
lookup (const char *apple_id)
{
  g_autoptr(GError) error = NULL;
  char *secret = secret_password_lookup_sync (&schema, NULL, &error,
                                              "apple-id", apple_id,
                                              "version", "1",
                                              NULL);

  g_assert_no_error (error);
  return secret;
}

/* The session token and the cookie values the server gave, from the
 * keyring's copy of the session. */
static GPtrArray *
secrets_of (const char *apple_id)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  GPtrArray *secrets = g_ptr_array_new_with_free_func (g_free);
  char *secret = lookup (apple_id);
  JsonObject *root, *data;
  JsonArray *cookies;

  g_assert_nonnull (secret);
  g_assert_true (json_parser_load_from_data (parser, secret, -1, &error));
  g_assert_no_error (error);
  secret_password_free (secret);

  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (root, "apple_id"), ==, apple_id);
  data = json_object_get_object_member (root, "data");
  g_assert_nonnull (data);
  g_assert_true (json_object_has_member (data, "session_token"));
  g_ptr_array_add (secrets, g_strdup (json_object_get_string_member (data, "session_token")));
  if (json_object_has_member (data, "trust_token"))
    g_ptr_array_add (secrets, g_strdup (json_object_get_string_member (data, "trust_token")));

  cookies = json_object_get_array_member (root, "cookies");
  g_assert_nonnull (cookies);
  g_assert_cmpuint (json_array_get_length (cookies), >, 0);
  for (guint i = 0; i < json_array_get_length (cookies); i++)
    {
      const char *value = json_object_get_string_member (json_array_get_object_element (cookies, i),
                                                         "value");

      /* Short values ("1", "true") would match by chance. */
      if (strlen (value) >= 12)
        g_ptr_array_add (secrets, g_strdup (value));
    }

  return secrets;
}

static void
collect_files (const char *path,
               GPtrArray  *files)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      GStatBuf st;

      if (g_lstat (child, &st) != 0)
        continue;
      if (S_ISDIR (st.st_mode))
        collect_files (child, files);
      else if (S_ISREG (st.st_mode))
        g_ptr_array_add (files, g_steal_pointer (&child));
    }
}

/* ------------------------------------------------------------------------ */

static void
test_sign_in_and_reuse (Fixture       *fixture,
                        gconstpointer  user_data)
{
  const char *apple_id = "keyring@example.com";
  const char *roots[] = {
    g_get_user_state_dir (), g_get_user_data_dir (), g_get_user_config_dir (),
    g_get_user_cache_dir (), g_get_user_runtime_dir (), keyring_dir,
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) first = NULL;
  g_autoptr(ICloudSession) second = NULL;
  g_autoptr(ICloudSession) file_session = NULL;
  g_autoptr(GPtrArray) secrets = NULL;
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  ICloudSecretStore store = ICLOUD_SECRET_STORE_FILE;
  gboolean saw_keyring = FALSE;

  first = new_session (fixture, apple_id, PASSWORD, ICLOUD_SECRET_STORE_KEYRING, &error);
  g_assert_no_error (error);
  g_assert_nonnull (first);
  g_assert_cmpint (icloud_session_get_state (first), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_assert_cmpuint (test_count_srp (fixture, apple_id), ==, 1);
  g_object_get (first, "secret-store", &store, NULL);
  g_assert_cmpint (store, ==, ICLOUD_SECRET_STORE_KEYRING);

  /* The directory holds the lock, the keyring the session. */
  assert_lock_file (fixture, apple_id);
  assert_no_session_files (fixture);
  secrets = secrets_of (apple_id);
  g_assert_cmpuint (secrets->len, >=, 2);
  g_clear_object (&first);

  /* A new session without a password reuses it: no SRP at all. */
  second = new_session (fixture, apple_id, NULL, ICLOUD_SECRET_STORE_KEYRING, &error);
  g_assert_no_error (error);
  g_assert_nonnull (second);
  g_assert_cmpint (icloud_session_get_state (second), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_assert_cmpuint (test_count_srp (fixture, apple_id), ==, 1);
  g_clear_object (&second);
  assert_no_session_files (fixture);

  /* The file store (the default) does not see the keyring's session. */
  file_session = g_initable_new (ICLOUD_TYPE_SESSION, NULL, &error,
                                 "apple-id", apple_id,
                                 "endpoint", fixture->endpoint,
                                 "cookie-directory", fixture->dir,
                                 NULL);
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_AUTH_REQUIRED);
  g_assert_null (file_session);
  g_assert_cmpuint (test_count_srp (fixture, apple_id), ==, 1);

  /* No token nor cookie value in clear text in any file: not in the
   * session directory, not in any XDG directory, not in libsecret's own
   * (encrypted) file. */
  for (gsize r = 0; r < G_N_ELEMENTS (roots); r++)
    collect_files (roots[r], files);
  for (guint i = 0; i < files->len; i++)
    {
      const char *path = g_ptr_array_index (files, i);
      g_autofree char *contents = NULL;
      gsize len = 0;

      if (g_strcmp0 (path, keyring_file) == 0)
        saw_keyring = TRUE;
      g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
      for (guint s = 0; s < secrets->len; s++)
        {
          const char *secret = g_ptr_array_index (secrets, s);

          if (memmem (contents, len, secret, strlen (secret)) != NULL)
            g_error ("%s holds a secret in clear text", path);
        }
    }
  g_assert_true (saw_keyring);
}

static void
test_logout (Fixture       *fixture,
             gconstpointer  user_data)
{
  const char *apple_id = "keyring-logout@example.com";
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(ICloudSession) after = NULL;
  char *secret;

  session = new_session (fixture, apple_id, PASSWORD, ICLOUD_SECRET_STORE_KEYRING, &error);
  g_assert_no_error (error);
  secret = lookup (apple_id);
  g_assert_nonnull (secret);
  secret_password_free (secret);

  g_assert_true (icloud_session_logout (session, FALSE, FALSE, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_SIGNED_OUT);
  g_assert_null (lookup (apple_id));
  assert_no_session_files (fixture);

  after = new_session (fixture, apple_id, NULL, ICLOUD_SECRET_STORE_KEYRING, &error);
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_AUTH_REQUIRED);
  g_assert_null (after);
  g_assert_cmpuint (test_count_srp (fixture, apple_id), ==, 1);

  /* That attempt may keep a client id (as the file store does), but no
   * token came back. */
  secret = lookup (apple_id);
  if (secret != NULL)
    {
      g_assert_null (strstr (secret, "session_token"));
      g_assert_null (strstr (secret, "trust_token"));
      secret_password_free (secret);
    }
  assert_no_session_files (fixture);
}

/* No Secret Service: a clear error before any request, no fallback. */
static void
test_unavailable (Fixture       *fixture,
                  gconstpointer  user_data)
{
  if (g_test_subprocess ())
    {
      const char *apple_id = "keyring-none@example.com";
      g_autoptr(GError) error = NULL;
      g_autoptr(ICloudSession) session = NULL;

      /* Before libsecret is first used in this process. */
      g_setenv ("SECRET_BACKEND", "service", TRUE);
      g_setenv ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/icloud-test-bus", TRUE);

      session = new_session (fixture, apple_id, PASSWORD, ICLOUD_SECRET_STORE_KEYRING, &error);
      g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
      g_assert_true (g_str_has_prefix (error->message, "The keyring is not available: "));
      g_assert_null (strstr (error->message, PASSWORD));
      g_assert_null (session);
      g_assert_cmpuint (test_count_srp (fixture, apple_id), ==, 0);
      assert_no_session_files (fixture);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* Runs icloud-auth status --json on the fixture's server and directory,
 * with @option (or none) and ICLOUD_SECRET_STORE=@env (or unset); the
 * keyring is the same file backend as this process's (inherited
 * environment). Returns the exit status, the output in @out. */
static int
run_cli_status (Fixture     *fixture,
                const char  *apple_id,
                const char  *option,
                const char  *env,
                char       **out)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  const char *tool = g_getenv ("ICLOUD_AUTH");
  const char *argv[] = {
    tool, "--endpoint-base", icloud_mock_server_get_base_uri (fixture->server),
    "--cookie-directory", fixture->dir, "--apple-id", apple_id, "--json", "status",
    option, NULL
  };

  g_subprocess_launcher_setenv (launcher, "GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
  if (env != NULL)
    g_subprocess_launcher_setenv (launcher, "ICLOUD_SECRET_STORE", env, TRUE);
  else
    g_subprocess_launcher_unsetenv (launcher, "ICLOUD_SECRET_STORE");
  proc = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, out, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proc));
  return g_subprocess_get_exit_status (proc);
}

static void
assert_cli_state (const char *out,
                  const char *state)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *obj;

  json_parser_load_from_data (parser, out, -1, &error);
  g_assert_no_error (error);
  obj = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (obj, "state"), ==, state);
}

/* A session the library saved in the keyring (as a GNOME app choosing
 * ICLOUD_SECRET_STORE_KEYRING does) is the one `icloud-auth --keyring`
 * and ICLOUD_SECRET_STORE=keyring see, with no password and no SRP; the
 * file store does not see it. */
static void
test_cli_keyring (Fixture       *fixture,
                  gconstpointer  user_data)
{
  const char *apple_id = "keyring-cli@example.com";
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  guint srp;

  if (g_getenv ("ICLOUD_AUTH") == NULL)
    {
      g_test_skip ("ICLOUD_AUTH is not set (run through meson test)");
      return;
    }

  session = new_session (fixture, apple_id, PASSWORD, ICLOUD_SECRET_STORE_KEYRING, &error);
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_clear_object (&session);
  assert_no_session_files (fixture);
  srp = test_count_srp (fixture, apple_id);
  g_assert_cmpuint (srp, ==, 1);

  {
    g_autofree char *out = NULL;

    g_assert_cmpint (run_cli_status (fixture, apple_id, "--keyring", NULL, &out), ==, 0);
    assert_cli_state (out, "authenticated");
    g_assert_null (strstr (out, PASSWORD));
  }
  {
    g_autofree char *out = NULL;

    g_assert_cmpint (run_cli_status (fixture, apple_id, NULL, "keyring", &out), ==, 0);
    assert_cli_state (out, "authenticated");
  }
  assert_no_session_files (fixture);
  {
    g_autofree char *out = NULL;

    /* The file store has nothing for this account: signed out (9). */
    g_assert_cmpint (run_cli_status (fixture, apple_id, NULL, NULL, &out), ==, 9);
    assert_cli_state (out, "signed-out");
  }
  g_assert_cmpuint (test_count_srp (fixture, apple_id), ==, srp);
  /* Still in the keyring after the command-line runs. */
  {
    char *secret = lookup (apple_id);

    g_assert_nonnull (secret);
    secret_password_free (secret);
  }
}

#else /* !HAVE_LIBSECRET */

static void
test_without_libsecret (Fixture       *fixture,
                        gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;

  session = new_session (fixture, "keyring@example.com", PASSWORD,
                         ICLOUD_SECRET_STORE_KEYRING, &error);
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
  g_assert_nonnull (strstr (error->message, "built without libsecret"));
  g_assert_null (session);
  g_assert_cmpuint (test_count_srp (fixture, "keyring@example.com"), ==, 0);
  assert_no_session_files (fixture);
  /* The lock was taken (and released) in the directory as usual. */
  assert_lock_file (fixture, "keyring@example.com");
}

#endif /* HAVE_LIBSECRET */

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) &&
          !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int ret;

  /* libsecret's file backend with a fixed test password, set before
   * libsecret first runs. */
  keyring_dir = g_dir_make_tmp ("icloud-keyring-XXXXXX", &error);
  g_assert_no_error (error);
  keyring_file = g_build_filename (keyring_dir, "default.keyring", NULL);
  g_setenv ("SECRET_BACKEND", "file", TRUE);
  g_setenv ("SECRET_FILE_TEST_PATH", keyring_file, TRUE);
  g_setenv ("SECRET_FILE_TEST_PASSWORD", "icloud-glib test keyring", TRUE);

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, test_fixture_teardown)
#ifdef HAVE_LIBSECRET
  ADD ("/keyring-session/sign-in-and-reuse", test_sign_in_and_reuse);
  ADD ("/keyring-session/logout", test_logout);
  ADD ("/keyring-session/unavailable", test_unavailable);
  ADD ("/keyring-session/icloud-auth", test_cli_keyring);
#else
  ADD ("/keyring-session/without-libsecret", test_without_libsecret);
#endif
#undef ADD

  ret = g_test_run ();

  remove_tree (keyring_dir);
  g_free (keyring_file);
  g_free (keyring_dir);
  return ret;
}
