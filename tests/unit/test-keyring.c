/* test-keyring.c: ICloudStore with the keyring backend (libsecret)
 *
 * The keyring is libsecret's file backend (SECRET_BACKEND=file), an
 * encrypted file in a private temporary directory, so no Secret Service or
 * D-Bus is needed. Cookie domains are strings in a cookie jar: nothing is
 * ever resolved or sent anywhere.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#ifdef HAVE_LIBSECRET
#include <libsecret/secret.h>
#endif

#include "icloud-glib/icloud-error.h"
#include "icloud-store-private.h"
#include "test-store-async.h"

#define SECRET_TOKEN   "kEyRiNg-sEsSiOn-ToKeN-0123456789"
#define SECRET_TRUST   "kEyRiNg-TrUsT-ToKeN-9876543210"
#define SECRET_COOKIE  "kEyRiNg-CoOkIe-VaLuE-5555555555"
#define CLIENT_ID      "auth-11111111-2222-3333-4444-555555555555"

/* The keyring file of this process (libsecret keeps its backend for the
 * life of the process, so it cannot follow the per-test XDG dirs). */
static char *keyring_dir;
static char *keyring_file;

/* Everything logged, at every level. */
static GString *captured_log;

static GLogWriterOutput
capture_writer (GLogLevelFlags   log_level,
                const GLogField *fields,
                gsize            n_fields,
                gpointer         user_data)
{
  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
        {
          if (fields[i].length < 0)
            g_string_append (captured_log, fields[i].value);
          else
            g_string_append_len (captured_log, fields[i].value, fields[i].length);
          g_string_append_c (captured_log, '\n');
        }
    }

  if (log_level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    return g_log_writer_standard_streams (log_level, fields, n_fields, user_data);
  return G_LOG_WRITER_HANDLED;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                              */

static char *
test_dir (void)
{
  return g_build_filename (g_get_user_state_dir (), "icloud-glib", NULL);
}

static char *
dir_file (const char *dir,
          const char *apple_id,
          const char *suffix)
{
  g_autofree char *base = icloud_store_account_name (apple_id);
  g_autofree char *name = g_strconcat (base, suffix, NULL);

  return g_build_filename (dir, name, NULL);
}

static void
assert_no_session_file (const char *dir,
                        const char *apple_id)
{
  g_autofree char *path = dir_file (dir, apple_id, ".session.json");

  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

static void
assert_lock_file (const char *dir,
                  const char *apple_id)
{
  g_autofree char *path = dir_file (dir, apple_id, ".lock");
  GStatBuf st;

  g_assert_cmpint (g_lstat (path, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (g_lstat (dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
}

static ICloudStore *
keyring_store (const char *dir,
               const char *apple_id)
{
  ICloudStore *store = icloud_store_new_full (dir, apple_id, ICLOUD_SECRET_STORE_KEYRING);

  g_assert_nonnull (store);
  g_assert_cmpint (icloud_store_get_secret_store (store), ==, ICLOUD_SECRET_STORE_KEYRING);
  return store;
}

/* A full state: client id, tokens, a persistent and a session cookie. */
static void
fill (ICloudStore *store,
      gint64       expires)
{
  SoupCookieJar *jar = icloud_store_get_cookie_jar (store);
  SoupCookie *cookie;
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (expires);

  icloud_store_set (store, "client_id", CLIENT_ID);
  icloud_store_set (store, "session_token", SECRET_TOKEN);
  icloud_store_set (store, "trust_token", SECRET_TRUST);
  icloud_store_set (store, "scnt", "scnt-value");

  cookie = soup_cookie_new ("X-APPLE-WEBAUTH-TOKEN", SECRET_COOKIE,
                            ".icloud.com", "/", -1);
  soup_cookie_set_expires (cookie, dt);
  soup_cookie_set_secure (cookie, TRUE);
  soup_cookie_set_http_only (cookie, TRUE);
  soup_cookie_set_same_site_policy (cookie, SOUP_SAME_SITE_POLICY_NONE);
  soup_cookie_jar_add_cookie (jar, cookie);

  cookie = soup_cookie_new ("aasp", "session-cookie", "idmsa.apple.com", "/appleauth", -1);
  soup_cookie_jar_add_cookie (jar, cookie);
}

#ifdef HAVE_LIBSECRET

/* The documented schema, spelt out independently of the store. */
static const SecretSchema schema = {
  "org.gnome.ICloudGlib.Session", SECRET_SCHEMA_NONE,
  {
    { "apple-id", SECRET_SCHEMA_ATTRIBUTE_STRING },
    { "version", SECRET_SCHEMA_ATTRIBUTE_STRING },
    { NULL, 0 },
  }
};

static SoupCookie *
find_cookie (SoupCookieJar *jar,
             const char    *name)
{
  GSList *cookies = soup_cookie_jar_all_cookies (jar);
  SoupCookie *found = NULL;

  for (GSList *l = cookies; l != NULL; l = l->next)
    if (found == NULL && g_strcmp0 (soup_cookie_get_name (l->data), name) == 0)
      found = soup_cookie_copy (l->data);
  g_slist_free_full (cookies, (GDestroyNotify) soup_cookie_free);
  return found;
}

static guint
n_cookies (SoupCookieJar *jar)
{
  GSList *cookies = soup_cookie_jar_all_cookies (jar);
  guint n = g_slist_length (cookies);

  g_slist_free_full (cookies, (GDestroyNotify) soup_cookie_free);
  return n;
}

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

static void
put (const char *apple_id,
     const char *value)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (secret_password_store_sync (&schema, SECRET_COLLECTION_DEFAULT,
                                             "test", value, NULL, &error,
                                             "apple-id", apple_id,
                                             "version", "1",
                                             NULL));
  g_assert_no_error (error);
}

/* ------------------------------------------------------------------ */
/* Tests                                                                */

static void
test_round_trip (void)
{
  const char *apple_id = "round.trip@example.com";
  g_autofree char *dir = test_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) first = keyring_store (dir, apple_id);
  g_autoptr(ICloudStore) second = NULL;
  g_autoptr(ICloudStore) file_store = NULL;
  g_autoptr(SoupCookie) cookie = NULL;
  g_autoptr(SoupCookie) session_cookie = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  gint64 expires = g_get_real_time () / G_USEC_PER_SEC + 3600;
  char *secret;
  JsonObject *root;

  g_assert_true (icloud_store_lock (first, &error));
  g_assert_no_error (error);
  g_assert_true (icloud_store_load (first, &error));
  g_assert_no_error (error);
  g_assert_null (icloud_store_get (first, "client_id"));

  fill (first, expires);
  g_assert_true (icloud_store_save (first, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (first), ==, 1);

  /* The lock file, not the session file. */
  assert_lock_file (dir, apple_id);
  assert_no_session_file (dir, apple_id);
  icloud_store_unlock (first);
  assert_lock_file (dir, apple_id);

  /* The secret is the session document. */
  secret = lookup (apple_id);
  g_assert_nonnull (secret);
  g_assert_true (json_parser_load_from_data (parser, secret, -1, &error));
  g_assert_no_error (error);
  secret_password_free (secret);
  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (root, "apple_id"), ==, apple_id);
  g_assert_cmpint (json_object_get_int_member (root, "version"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (root, "data"),
                                                  "session_token"), ==, SECRET_TOKEN);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (root, "cookies")), ==, 2);

  /* A second object loads what the first saved. */
  second = keyring_store (dir, apple_id);
  g_assert_true (icloud_store_lock (second, &error));
  g_assert_no_error (error);
  g_assert_true (icloud_store_load (second, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (icloud_store_get (second, "client_id"), ==, CLIENT_ID);
  g_assert_cmpstr (icloud_store_get (second, "session_token"), ==, SECRET_TOKEN);
  g_assert_cmpstr (icloud_store_get (second, "trust_token"), ==, SECRET_TRUST);
  g_assert_cmpstr (icloud_store_get (second, "scnt"), ==, "scnt-value");
  g_assert_cmpuint (n_cookies (icloud_store_get_cookie_jar (second)), ==, 2);

  cookie = find_cookie (icloud_store_get_cookie_jar (second), "X-APPLE-WEBAUTH-TOKEN");
  g_assert_nonnull (cookie);
  g_assert_cmpstr (soup_cookie_get_value (cookie), ==, SECRET_COOKIE);
  g_assert_cmpstr (soup_cookie_get_domain (cookie), ==, ".icloud.com");
  g_assert_cmpstr (soup_cookie_get_path (cookie), ==, "/");
  g_assert_true (soup_cookie_get_secure (cookie));
  g_assert_true (soup_cookie_get_http_only (cookie));
  g_assert_cmpint (soup_cookie_get_same_site_policy (cookie), ==, SOUP_SAME_SITE_POLICY_NONE);
  g_assert_nonnull (soup_cookie_get_expires (cookie));
  g_assert_cmpint (g_date_time_to_unix (soup_cookie_get_expires (cookie)), ==, expires);

  session_cookie = find_cookie (icloud_store_get_cookie_jar (second), "aasp");
  g_assert_nonnull (session_cookie);
  g_assert_cmpstr (soup_cookie_get_path (session_cookie), ==, "/appleauth");
  g_assert_null (soup_cookie_get_expires (session_cookie));

  /* Loading is not a change: nothing to write. */
  g_assert_true (icloud_store_save (second, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (second), ==, 0);
  icloud_store_unlock (second);

  /* The file store of the same account sees nothing of it. */
  file_store = icloud_store_new (dir, apple_id);
  g_assert_cmpint (icloud_store_get_secret_store (file_store), ==, ICLOUD_SECRET_STORE_FILE);
  g_assert_true (icloud_store_load (file_store, &error));
  g_assert_no_error (error);
  g_assert_null (icloud_store_get (file_store, "session_token"));
  assert_no_session_file (dir, apple_id);
}

static void
test_write_only_on_change (void)
{
  const char *apple_id = "on.change@example.com";
  g_autofree char *dir = test_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) store = keyring_store (dir, apple_id);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  char *secret;

  g_assert_true (icloud_store_load (store, &error));
  g_assert_no_error (error);

  /* An empty state that was never saved is written once... */
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 1);

  fill (store, g_get_real_time () / G_USEC_PER_SEC + 3600);
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 2);

  /* ...and an unchanged state not again, even after a reload. */
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 2);
  g_assert_true (icloud_store_load (store, &error));
  g_assert_no_error (error);
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 2);

  /* Setting a value to what it already is is no change either. */
  icloud_store_set (store, "scnt", "scnt-value");
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 2);

  secret = lookup (apple_id);
  before = g_strdup (secret);
  secret_password_free (secret);

  icloud_store_set (store, "scnt", "scnt-other");
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 3);

  secret = lookup (apple_id);
  after = g_strdup (secret);
  secret_password_free (secret);
  g_assert_cmpstr (before, !=, after);
  g_assert_nonnull (strstr (after, "scnt-other"));

  assert_no_session_file (dir, apple_id);
}

static void
check_cleared_on_load (const char *apple_id,
                       const char *bad)
{
  g_autofree char *dir = test_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) store = keyring_store (dir, apple_id);
  char *secret;

  put (apple_id, bad);

  /* Something from before the load must not survive it. */
  icloud_store_set (store, "session_token", "stale");
  g_assert_true (icloud_store_load (store, &error));
  g_assert_no_error (error);
  g_assert_null (icloud_store_get (store, "session_token"));
  g_assert_cmpuint (n_cookies (icloud_store_get_cookie_jar (store)), ==, 0);

  secret = lookup (apple_id);
  g_assert_null (secret);
  assert_no_session_file (dir, apple_id);

  /* And it is usable again. */
  icloud_store_set (store, "session_token", SECRET_TOKEN);
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);
  secret = lookup (apple_id);
  g_assert_nonnull (secret);
  g_assert_nonnull (strstr (secret, SECRET_TOKEN));
  secret_password_free (secret);
}

static void
test_corrupt (void)
{
  g_autofree char *other = NULL;

  check_cleared_on_load ("corrupt1@example.com", "this is { not JSON");
  check_cleared_on_load ("corrupt2@example.com", "[1, 2, 3]");
  check_cleared_on_load ("corrupt3@example.com",
                         "{\"apple_id\": \"corrupt3@example.com\", \"version\": 7, \"data\": {}}");
  check_cleared_on_load ("corrupt4@example.com",
                         "{\"apple_id\": \"corrupt4@example.com\", \"version\": 1, "
                         "\"data\": {\"session_token\": 5}}");

  /* Another account's document under this account's attributes. */
  other = g_strdup_printf ("{\"apple_id\": \"someone.else@example.com\", \"version\": 1, "
                           "\"data\": {\"session_token\": \"%s\"}, \"cookies\": []}",
                           SECRET_TOKEN);
  check_cleared_on_load ("corrupt5@example.com", other);
}

static void
test_reset (void)
{
  const char *apple_id = "reset@example.com";
  g_autofree char *dir = test_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) store = keyring_store (dir, apple_id);
  char *secret;

  g_assert_true (icloud_store_load (store, &error));
  g_assert_no_error (error);
  fill (store, g_get_real_time () / G_USEC_PER_SEC + 3600);
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);

  /* Keeping the trust token: the session token and cookies leave the
   * keyring, the trust token and client id stay. */
  icloud_store_reset (store, TRUE);
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);
  secret = lookup (apple_id);
  g_assert_nonnull (secret);
  g_assert_null (strstr (secret, SECRET_TOKEN));
  g_assert_null (strstr (secret, SECRET_COOKIE));
  g_assert_nonnull (strstr (secret, SECRET_TRUST));
  g_assert_nonnull (strstr (secret, CLIENT_ID));
  secret_password_free (secret);

  /* Without it: only the client id is left. */
  icloud_store_reset (store, FALSE);
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);
  secret = lookup (apple_id);
  g_assert_nonnull (secret);
  g_assert_null (strstr (secret, SECRET_TRUST));
  g_assert_nonnull (strstr (secret, CLIENT_ID));
  secret_password_free (secret);
}

static void
test_delete (void)
{
  const char *apple_id = "delete@example.com";
  g_autofree char *dir = test_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) store = keyring_store (dir, apple_id);
  g_autoptr(ICloudStore) again = NULL;
  guint writes;
  char *secret;

  g_assert_true (icloud_store_load (store, &error));
  g_assert_no_error (error);
  fill (store, g_get_real_time () / G_USEC_PER_SEC + 3600);
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);
  secret = lookup (apple_id);
  g_assert_nonnull (secret);
  secret_password_free (secret);

  g_assert_true (icloud_store_delete (store, &error));
  g_assert_no_error (error);
  g_assert_null (lookup (apple_id));
  g_assert_cmpstr (icloud_store_get (store, "client_id"), ==, CLIENT_ID);
  g_assert_null (icloud_store_get (store, "session_token"));
  g_assert_null (icloud_store_get (store, "trust_token"));
  g_assert_cmpuint (n_cookies (icloud_store_get_cookie_jar (store)), ==, 0);

  /* A save right after it does not bring the secret back. */
  writes = icloud_store_get_n_writes (store);
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, writes);
  g_assert_null (lookup (apple_id));

  /* Deleting nothing is fine. */
  g_assert_true (icloud_store_delete (store, &error));
  g_assert_no_error (error);

  again = keyring_store (dir, apple_id);
  g_assert_true (icloud_store_load (again, &error));
  g_assert_no_error (error);
  g_assert_null (icloud_store_get (again, "client_id"));
  assert_no_session_file (dir, apple_id);
}

static void
test_lock (void)
{
  const char *apple_id = "lock@example.com";
  g_autofree char *dir = test_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) first = keyring_store (dir, apple_id);
  g_autoptr(ICloudStore) second = keyring_store (dir, apple_id);
  g_autoptr(ICloudStore) file_store = icloud_store_new (dir, apple_id);

  g_assert_true (icloud_store_lock (first, &error));
  g_assert_no_error (error);
  assert_lock_file (dir, apple_id);

  /* The same lock as the file store's: one account, one lock. */
  g_assert_false (icloud_store_lock (second, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
  g_assert_nonnull (strstr (error->message, "in use by another process"));
  g_clear_error (&error);
  g_assert_false (icloud_store_lock (file_store, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
  g_clear_error (&error);

  /* Recursive in one object; the last unlock releases it. */
  g_assert_true (icloud_store_lock (first, &error));
  g_assert_no_error (error);
  icloud_store_unlock (first);
  g_assert_false (icloud_store_lock (second, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
  g_clear_error (&error);
  icloud_store_unlock (first);

  g_assert_true (icloud_store_lock (second, &error));
  g_assert_no_error (error);
  icloud_store_unlock (second);
}

/* Every regular file under @path, recursively. */
static void
collect_files (const char *path,
               GPtrArray  *files)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir == NULL)
    return;
  while ((name = g_dir_read_name (dir)) != NULL)
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

static gboolean
file_contains (const char *path,
               const char *needle)
{
  g_autofree char *contents = NULL;
  gsize len = 0;
  g_autoptr(GError) error = NULL;

  g_file_get_contents (path, &contents, &len, &error);
  g_assert_no_error (error);
  return memmem (contents, len, needle, strlen (needle)) != NULL;
}

static void
test_no_secret_in_files (void)
{
  const char *apple_id = "files@example.com";
  const char *secrets[] = { SECRET_TOKEN, SECRET_TRUST, SECRET_COOKIE };
  const char *roots[] = {
    g_get_user_state_dir (), g_get_user_data_dir (), g_get_user_config_dir (),
    g_get_user_cache_dir (), g_get_user_runtime_dir (), keyring_dir,
  };
  g_autofree char *dir = test_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) store = keyring_store (dir, apple_id);
  g_autoptr(ICloudStore) reader = keyring_store (dir, apple_id);
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  gboolean saw_keyring = FALSE;
  GStatBuf st;

  g_string_truncate (captured_log, 0);

  g_assert_true (icloud_store_lock (store, &error));
  g_assert_no_error (error);
  g_assert_true (icloud_store_load (store, &error));
  g_assert_no_error (error);
  fill (store, g_get_real_time () / G_USEC_PER_SEC + 3600);
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);
  icloud_store_unlock (store);
  g_assert_true (icloud_store_load (reader, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (icloud_store_get (reader, "session_token"), ==, SECRET_TOKEN);

  /* The keyring file is there, and not empty. */
  g_assert_cmpint (g_stat (keyring_file, &st), ==, 0);
  g_assert_cmpint (st.st_size, >, 0);

  for (gsize r = 0; r < G_N_ELEMENTS (roots); r++)
    collect_files (roots[r], files);
  g_assert_cmpuint (files->len, >, 0);

  for (guint i = 0; i < files->len; i++)
    {
      const char *path = g_ptr_array_index (files, i);

      if (g_strcmp0 (path, keyring_file) == 0)
        saw_keyring = TRUE;
      /* Including libsecret's own (encrypted) file and its backup. */
      for (gsize s = 0; s < G_N_ELEMENTS (secrets); s++)
        if (file_contains (path, secrets[s]))
          g_error ("%s holds a secret in clear text", path);
    }
  g_assert_true (saw_keyring);
  assert_no_session_file (dir, apple_id);

  /* Nor in the log, at any level. */
  g_assert_cmpuint (captured_log->len, >, 0);
  for (gsize s = 0; s < G_N_ELEMENTS (secrets); s++)
    g_assert_null (strstr (captured_log->str, secrets[s]));
}

/* ------------------------------------------------------------------ */
/* The asynchronous operations                                          */

/* run_async () and RUN_ASYNC (): tests/unit/test-store-async.h */

/* The keyring through libsecret's asynchronous calls, the directory and
 * the lock in a worker: with the main-thread I/O check on, on the thread
 * that runs the default main context. */
static void
test_async_round_trip (void)
{
  const char *apple_id = "async@example.com";
  g_autofree char *dir = test_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) first = keyring_store (dir, apple_id);
  g_autoptr(ICloudStore) second = keyring_store (dir, apple_id);
  g_autoptr(ICloudStore) third = keyring_store (dir, apple_id);
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  g_autoptr(SoupCookie) cookie = NULL;
  char *secret;

  icloud_store_set_io_thread_check (TRUE);
  g_assert_true (g_main_context_acquire (NULL));

  g_assert_true (RUN_ASYNC (first, open, NULL, &error));
  g_assert_no_error (error);
  assert_lock_file (dir, apple_id);
  g_assert_null (icloud_store_get (first, "client_id"));

  fill (first, g_get_real_time () / G_USEC_PER_SEC + 3600);
  g_assert_true (RUN_ASYNC (first, save_and_unlock, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (first), ==, 1);
  secret = lookup (apple_id);
  g_assert_nonnull (secret);
  g_assert_nonnull (strstr (secret, SECRET_TOKEN));
  secret_password_free (secret);
  assert_no_session_file (dir, apple_id);

  /* Another object: the lock is free again, and the state comes back. */
  g_assert_true (RUN_ASYNC (second, open, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (icloud_store_get (second, "client_id"), ==, CLIENT_ID);
  g_assert_cmpstr (icloud_store_get (second, "trust_token"), ==, SECRET_TRUST);
  g_assert_cmpuint (n_cookies (icloud_store_get_cookie_jar (second)), ==, 2);
  cookie = find_cookie (icloud_store_get_cookie_jar (second), "X-APPLE-WEBAUTH-TOKEN");
  g_assert_nonnull (cookie);
  g_assert_cmpstr (soup_cookie_get_value (cookie), ==, SECRET_COOKIE);

  /* The lock is held: a third object is refused, through the async path. */
  g_assert_false (RUN_ASYNC (third, open, NULL, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
  g_assert_nonnull (strstr (error->message, "in use by another process"));
  g_clear_error (&error);

  /* Unchanged: nothing written. A change cancelled before it started:
   * nothing written either, and the secret is as it was. */
  g_assert_true (RUN_ASYNC (second, save, NULL, &error));
  g_assert_cmpuint (icloud_store_get_n_writes (second), ==, 0);
  icloud_store_set (second, "scnt", "cancelled");
  g_cancellable_cancel (cancelled);
  g_assert_false (RUN_ASYNC (second, save_and_unlock, cancelled, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpuint (icloud_store_get_n_writes (second), ==, 0);
  secret = lookup (apple_id);
  g_assert_null (strstr (secret, "cancelled"));
  secret_password_free (secret);

  /* An unusable secret is cleared through the async path. */
  put (apple_id, "this is { not JSON");
  icloud_store_set (third, "session_token", "stale");
  g_assert_true (RUN_ASYNC (third, open, NULL, &error));
  g_assert_no_error (error);
  g_assert_null (icloud_store_get (third, "session_token"));
  g_assert_null (lookup (apple_id));

  /* Delete: the secret goes, the client id stays in memory. */
  fill (third, g_get_real_time () / G_USEC_PER_SEC + 3600);
  g_assert_true (RUN_ASYNC (third, save, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (third), ==, 1);
  g_assert_true (RUN_ASYNC (third, delete, NULL, &error));
  g_assert_no_error (error);
  g_assert_null (lookup (apple_id));
  g_assert_cmpstr (icloud_store_get (third, "client_id"), ==, CLIENT_ID);
  icloud_store_unlock (third);

  g_main_context_release (NULL);
  icloud_store_set_io_thread_check (FALSE);
}

/* No Secret Service reachable: a clear error, never a silent fallback. */
static void
test_unavailable (void)
{
  if (g_test_subprocess ())
    {
      const char *apple_id = "unavailable@example.com";
      g_autofree char *dir = test_dir ();
      g_autoptr(GError) error = NULL;
      g_autoptr(ICloudStore) store = NULL;
      g_autofree char *session_glob = NULL;

      /* Before libsecret is first used in this process. */
      g_setenv ("SECRET_BACKEND", "service", TRUE);
      g_setenv ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/icloud-test-bus", TRUE);

      store = keyring_store (dir, apple_id);
      g_assert_true (icloud_store_lock (store, &error));
      g_assert_no_error (error);

      g_assert_false (icloud_store_load (store, &error));
      g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
      g_assert_true (g_str_has_prefix (error->message, "The keyring is not available: "));
      g_assert_true (g_str_has_suffix (error->message, "; use the file store instead"));
      g_clear_error (&error);

      icloud_store_set (store, "session_token", SECRET_TOKEN);
      g_assert_false (icloud_store_save (store, &error));
      g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
      g_assert_null (strstr (error->message, SECRET_TOKEN));
      g_clear_error (&error);
      g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 0);
      /* Still unsaved: the next save tries again. */
      g_assert_false (icloud_store_save (store, &error));
      g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
      g_clear_error (&error);

      g_assert_false (icloud_store_delete (store, &error));
      g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
      g_clear_error (&error);
      icloud_store_unlock (store);

      /* Nothing fell back to a file. */
      assert_no_session_file (dir, apple_id);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

#else /* !HAVE_LIBSECRET */

static void
test_without_libsecret (void)
{
  const char *apple_id = "nolibsecret@example.com";
  g_autofree char *dir = test_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) store = keyring_store (dir, apple_id);

  /* The lock lives in the directory and still works. */
  g_assert_true (icloud_store_lock (store, &error));
  g_assert_no_error (error);
  assert_lock_file (dir, apple_id);

  g_assert_false (icloud_store_load (store, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
  g_assert_nonnull (strstr (error->message, "built without libsecret"));
  g_clear_error (&error);

  fill (store, g_get_real_time () / G_USEC_PER_SEC + 3600);
  g_assert_false (icloud_store_save (store, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
  g_assert_nonnull (strstr (error->message, "built without libsecret"));
  g_clear_error (&error);

  g_assert_false (icloud_store_delete (store, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
  g_clear_error (&error);
  icloud_store_unlock (store);

  assert_no_session_file (dir, apple_id);
}

#endif /* HAVE_LIBSECRET */

static void
test_supported (void)
{
#ifdef HAVE_LIBSECRET
  g_assert_true (icloud_store_keyring_supported ());
#else
  g_assert_false (icloud_store_keyring_supported ());
#endif
}

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

  /* libsecret's file backend, in a directory of our own, with a fixed test
   * password: no Secret Service, no D-Bus. Set before libsecret runs. */
  keyring_dir = g_dir_make_tmp ("icloud-keyring-XXXXXX", &error);
  g_assert_no_error (error);
  keyring_file = g_build_filename (keyring_dir, "default.keyring", NULL);
  g_setenv ("SECRET_BACKEND", "file", TRUE);
  g_setenv ("SECRET_FILE_TEST_PATH", keyring_file, TRUE);
  g_setenv ("SECRET_FILE_TEST_PASSWORD", "icloud-glib test keyring", TRUE);

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  captured_log = g_string_new (NULL);
  g_log_set_writer_func (capture_writer, NULL, NULL);

  g_test_add_func ("/keyring/supported", test_supported);
#ifdef HAVE_LIBSECRET
  g_test_add_func ("/keyring/round-trip", test_round_trip);
  g_test_add_func ("/keyring/write-only-on-change", test_write_only_on_change);
  g_test_add_func ("/keyring/corrupt", test_corrupt);
  g_test_add_func ("/keyring/reset", test_reset);
  g_test_add_func ("/keyring/delete", test_delete);
  g_test_add_func ("/keyring/lock", test_lock);
  g_test_add_func ("/keyring/no-secret-in-files", test_no_secret_in_files);
  g_test_add_func ("/keyring/unavailable", test_unavailable);
  g_test_add_func ("/keyring/async/round-trip", test_async_round_trip);
#else
  g_test_add_func ("/keyring/without-libsecret", test_without_libsecret);
#endif

  ret = g_test_run ();

  remove_tree (keyring_dir);
  g_free (keyring_file);
  g_free (keyring_dir);
  g_string_free (captured_log, TRUE);
  return ret;
}
