/* test-store.c: ICloudStore, the session on disk
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Cookie domains here are strings in a cookie jar: nothing is ever resolved
 * or sent anywhere. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "icloud-glib/icloud-error.h"
#include "icloud-store-private.h"
#include "test-store-async.h"

#define APPLE_ID  "jdoe@gmail.com"
/* icloud_store_account_name (APPLE_ID): the readable stem, '-', the first
 * 16 hex digits of SHA-256 ("jdoe@gmail.com"). */
#define BASE      "jdoegmailcom-910789803908d9ab"
/* 0.1.0's name for it: pyicloud's. */
#define OLD_BASE  "jdoegmailcom"
#define SECRET_TOKEN   "sEcReT-sEsSiOn-ToKeN-0123456789"
#define SECRET_TRUST   "sEcReT-TrUsT-ToKeN-9876543210"
#define SECRET_COOKIE  "sEcReT-CoOkIe-VaLuE-5555555555"

/* ------------------------------------------------------------------ */
/* Helpers                                                              */

/* A fresh directory (not yet created) inside this test's state dir. */
static char *
test_dir (const char *name)
{
  return g_build_filename (g_get_user_state_dir (), "stores", name, NULL);
}

static char *
session_path (const char *dir)
{
  return g_build_filename (dir, BASE ".session.json", NULL);
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* The sorted names in @dir. */
static GPtrArray *
list_dir (const char *dir)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) d = g_dir_open (dir, 0, &error);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_assert_no_error (error);
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  return names;
}

static gboolean
names_contain_prefix (GPtrArray  *names,
                      const char *prefix)
{
  for (guint i = 0; i < names->len; i++)
    if (g_str_has_prefix (g_ptr_array_index (names, i), prefix))
      return TRUE;
  return FALSE;
}

static guint
mode_of (const char *path)
{
  struct stat st;

  g_assert_cmpint (lstat (path, &st), ==, 0);
  return st.st_mode & 07777;
}

static void
write_raw (const char *path,
           const char *content)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents_full (path, content, -1, G_FILE_SET_CONTENTS_NONE,
                            0600, &error);
  g_assert_no_error (error);
}

static char *
read_raw (const char *path)
{
  g_autoptr(GError) error = NULL;
  char *content = NULL;

  g_file_get_contents (path, &content, NULL, &error);
  g_assert_no_error (error);
  return content;
}

static SoupCookie *
find_cookie (SoupCookieJar *jar,
             const char    *name)
{
  GSList *cookies = soup_cookie_jar_all_cookies (jar);
  SoupCookie *found = NULL;

  for (GSList *l = cookies; l != NULL; l = l->next)
    if (g_str_equal (soup_cookie_get_name (l->data), name))
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

static void
set_cookie (SoupCookieJar *jar,
            const char    *uri,
            const char    *header)
{
  g_autoptr(GUri) u = g_uri_parse (uri, G_URI_FLAGS_NONE, NULL);

  g_assert_nonnull (u);
  soup_cookie_jar_set_cookie (jar, u, header);
}

/* ------------------------------------------------------------------ */
/* Log capture (the writer can be set only once per process)            */

static GString *captured_log = NULL;

static GLogWriterOutput
capture_writer (GLogLevelFlags   log_level,
                const GLogField *fields,
                gsize            n_fields,
                gpointer         user_data)
{
  if (captured_log == NULL)
    return g_log_writer_default (log_level, fields, n_fields, user_data);

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "MESSAGE"))
        {
          if (fields[i].length < 0)
            g_string_append (captured_log, fields[i].value);
          else
            g_string_append_len (captured_log, fields[i].value, fields[i].length);
          g_string_append_c (captured_log, '\n');
        }
    }
  return G_LOG_WRITER_HANDLED;
}

/* ------------------------------------------------------------------ */
/* Names                                                                */

static void
test_base_name (void)
{
  struct {
    const char *apple_id;
    const char *base;
  } cases[] = {
    { "jdoe@gmail.com", "jdoegmailcom" },
    { "John.Doe+icloud@example.co.uk", "JohnDoeicloudexamplecouk" },
    { "first_last-99@x.org", "first_last99xorg" },
    { "jörg.müller@exämple.de", "jörgmüllerexämplede" },
    { "日本@例え.jp", "日本例えjp" },
    { "a b!c#d$e%f&g'h*i/j=k?l^m`n{o|p}q~r", "abcdefghijklmnopqr" },
    { "ελληνικά@παράδειγμα.gr", "ελληνικάπαράδειγμαgr" },
  };
  g_autofree char *empty1 = NULL;
  g_autofree char *empty2 = NULL;
  g_autofree char *empty3 = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *base = icloud_store_base_name (cases[i].apple_id);

      g_assert_cmpstr (base, ==, cases[i].base);
    }

  /* Nothing left: a stable, distinct, hashed name. */
  empty1 = icloud_store_base_name ("@.+");
  empty2 = icloud_store_base_name ("@.+");
  empty3 = icloud_store_base_name ("!!");
  g_assert_true (g_str_has_prefix (empty1, "account"));
  g_assert_cmpuint (strlen (empty1), ==, strlen ("account") + 16);
  g_assert_cmpstr (empty1, ==, empty2);
  g_assert_cmpstr (empty1, !=, empty3);
}

static void
test_account_name (void)
{
  g_autofree char *name = icloud_store_account_name (APPLE_ID);
  g_autofree char *user = icloud_store_account_name ("user@example.com");
  g_autofree char *dotted = icloud_store_account_name ("u.ser@example.com");
  g_autofree char *upper = icloud_store_account_name ("User@Example.COM");
  g_autofree char *old_user = icloud_store_base_name ("user@example.com");
  g_autofree char *old_dotted = icloud_store_base_name ("u.ser@example.com");
  g_autofree char *long_id = g_strnfill (200, 'a');
  g_autofree char *long_name = NULL;

  g_autoptr(ICloudStore) user_store = icloud_store_new ("/nonexistent/dir", "user@example.com");
  g_autoptr(ICloudStore) dotted_store = icloud_store_new ("/nonexistent/dir", "u.ser@example.com");
  g_autoptr(ICloudStore) upper_store = icloud_store_new ("/nonexistent/dir", "User@Example.COM");

  g_assert_cmpstr (name, ==, BASE);

  /* One stem, and one 0.1.0 name, but two accounts: two files. */
  g_assert_cmpstr (old_user, ==, old_dotted);
  g_assert_cmpstr (user, ==, "userexamplecom-b4c9a289323b21a0");
  g_assert_cmpstr (dotted, ==, "userexamplecom-0118c3b704823504");
  g_assert_cmpstr (icloud_store_get_path (user_store), ==,
                   "/nonexistent/dir/userexamplecom-b4c9a289323b21a0.session.json");
  g_assert_cmpstr (icloud_store_get_path (user_store), !=,
                   icloud_store_get_path (dotted_store));
  /* Case does not make another account. */
  g_assert_cmpstr (upper, ==, user);
  g_assert_cmpstr (icloud_store_get_path (upper_store), ==,
                   icloud_store_get_path (user_store));

  /* The stem is cut to 64 bytes. */
  long_name = icloud_store_account_name (long_id);
  g_assert_cmpuint (strlen (long_name), ==, 64 + 1 + 16);
  g_assert_true (g_str_has_prefix (long_name, "aaaa"));
  g_assert_cmpint (long_name[64], ==, '-');
}

static void
test_paths (void)
{
  g_autoptr(ICloudStore) store = icloud_store_new (NULL, APPLE_ID);
  g_autofree char *expected_dir = g_build_filename (g_get_user_state_dir (),
                                                    "icloud-glib", NULL);
  g_autofree char *default_dir = icloud_store_default_directory ();
  g_autofree char *expected_path = g_build_filename (expected_dir,
                                                     BASE ".session.json",
                                                     NULL);
  g_autoptr(ICloudStore) other = icloud_store_new ("/nonexistent/dir/", APPLE_ID);

  g_assert_cmpstr (default_dir, ==, expected_dir);
  g_assert_cmpstr (icloud_store_get_directory (store), ==, expected_dir);
  g_assert_cmpstr (icloud_store_get_path (store), ==, expected_path);
  g_assert_cmpstr (icloud_store_get_apple_id (store), ==, APPLE_ID);
  /* No I/O in new (). */
  g_assert_false (g_file_test (expected_dir, G_FILE_TEST_EXISTS));
  /* Trailing slash removed. */
  g_assert_cmpstr (icloud_store_get_directory (other), ==, "/nonexistent/dir");
  g_assert_cmpstr (icloud_store_get_path (other), ==,
                   "/nonexistent/dir/" BASE ".session.json");
}

/* ------------------------------------------------------------------ */
/* Round trip                                                           */

static void
test_round_trip (void)
{
  g_autofree char *dir = test_dir ("round-trip");
  g_autofree char *path = session_path (dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) a = icloud_store_new (dir, APPLE_ID);
  g_autoptr(ICloudStore) b = NULL;
  SoupCookieJar *jar;
  SoupCookie *c;
  g_autoptr(GUri) setup_uri = NULL;
  GSList *sent;
  g_autofree char *content = NULL;
  gint64 in_a_day = g_get_real_time () / G_USEC_PER_SEC + 86400;
  g_autofree char *header = NULL;
  g_autoptr(GDateTime) soon = NULL;

  g_assert_true (icloud_store_load (a, &error));
  g_assert_no_error (error);
  g_assert_null (icloud_store_get (a, "client_id"));

  icloud_store_set (a, "client_id", "auth-0a1b2c3d");
  icloud_store_set (a, "session_token", SECRET_TOKEN);
  icloud_store_set (a, "trust_token", SECRET_TRUST);
  icloud_store_set (a, "scnt", "scnt-value");
  icloud_store_set (a, "account_country", "USA");
  icloud_store_set (a, "unicode", "ünï\"cødé\\");
  icloud_store_set (a, "gone", "x");
  icloud_store_set (a, "gone", NULL);
  icloud_store_set (a, "empty", "x");
  icloud_store_set (a, "empty", "");
  g_assert_null (icloud_store_get (a, "gone"));
  g_assert_null (icloud_store_get (a, "empty"));

  jar = icloud_store_get_cookie_jar (a);
  g_assert_true (SOUP_IS_COOKIE_JAR (jar));
  /* Domain cookie, persistent, secure, http-only, SameSite=None. */
  header = g_strdup_printf ("X-APPLE-WEBAUTH-TOKEN=\"%s\"; Domain=icloud.com; "
                            "Path=/; Max-Age=86400; Secure; HttpOnly; "
                            "SameSite=None", SECRET_COOKIE);
  set_cookie (jar, "https://setup.icloud.com/setup/ws/1/accountLogin", header);
  /* Host-only session cookie (no expiry). */
  set_cookie (jar, "http://127.0.0.1:8080/appleauth/auth/signin",
              "aasp=host-only-session; Path=/");
  /* Host-only persistent cookie with SameSite=Strict. */
  set_cookie (jar, "https://idmsa.apple.com/appleauth/auth",
              "dslang=US-EN; Max-Age=86400; Path=/appleauth; SameSite=Strict");
  /* Expires in a moment: dropped by save once expired. */
  set_cookie (jar, "https://www.icloud.com/", "short=lived; Max-Age=1; Path=/");
  g_assert_cmpuint (n_cookies (jar), ==, 4);

  c = find_cookie (jar, "aasp");
  g_assert_cmpstr (soup_cookie_get_domain (c), ==, "127.0.0.1");
  soup_cookie_free (c);
  c = find_cookie (jar, "X-APPLE-WEBAUTH-TOKEN");
  g_assert_cmpstr (soup_cookie_get_domain (c), ==, ".icloud.com");
  soup_cookie_free (c);

  g_usleep (2 * G_USEC_PER_SEC);

  g_assert_true (icloud_store_save (a, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (a), ==, 1);

  /* The file has the documented shape. */
  content = read_raw (path);
  {
    g_autoptr(JsonParser) parser = json_parser_new ();
    JsonObject *root, *data;
    JsonArray *cookies;

    g_assert_true (json_parser_load_from_data (parser, content, -1, NULL));
    root = json_node_get_object (json_parser_get_root (parser));
    g_assert_cmpint (json_object_get_int_member (root, "version"), ==, 1);
    g_assert_cmpstr (json_object_get_string_member (root, "apple_id"), ==, APPLE_ID);
    data = json_object_get_object_member (root, "data");
    g_assert_cmpuint (json_object_get_size (data), ==, 6);
    g_assert_cmpstr (json_object_get_string_member (data, "session_token"), ==, SECRET_TOKEN);
    cookies = json_object_get_array_member (root, "cookies");
    g_assert_cmpuint (json_array_get_length (cookies), ==, 3);
    for (guint i = 0; i < 3; i++)
      {
        JsonObject *o = json_array_get_object_element (cookies, i);

        g_assert_cmpstr (json_object_get_string_member (o, "name"), !=, "short");
        if (g_str_equal (json_object_get_string_member (o, "name"), "aasp"))
          g_assert_false (json_object_has_member (o, "expires"));
        else
          g_assert_true (json_object_has_member (o, "expires"));
      }
  }
  /* Keys sorted: "apple_id" < "cookies" < "data" < "version". */
  g_assert_true (strstr (content, "\"apple_id\"") < strstr (content, "\"cookies\""));
  g_assert_true (strstr (content, "\"cookies\"") < strstr (content, "\"data\""));
  g_assert_true (strstr (content, "\"data\"") < strstr (content, "\"version\""));
  g_assert_true (strstr (content, "\"account_country\"") < strstr (content, "\"client_id\""));
  g_assert_true (strstr (content, "\"session_token\"") < strstr (content, "\"trust_token\""));

  /* Another object reads the same state back. */
  b = icloud_store_new (dir, APPLE_ID);
  g_assert_true (icloud_store_load (b, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (icloud_store_get (b, "client_id"), ==, "auth-0a1b2c3d");
  g_assert_cmpstr (icloud_store_get (b, "session_token"), ==, SECRET_TOKEN);
  g_assert_cmpstr (icloud_store_get (b, "trust_token"), ==, SECRET_TRUST);
  g_assert_cmpstr (icloud_store_get (b, "scnt"), ==, "scnt-value");
  g_assert_cmpstr (icloud_store_get (b, "account_country"), ==, "USA");
  g_assert_cmpstr (icloud_store_get (b, "unicode"), ==, "ünï\"cødé\\");
  g_assert_null (icloud_store_get (b, "gone"));

  jar = icloud_store_get_cookie_jar (b);
  g_assert_cmpuint (n_cookies (jar), ==, 3);

  c = find_cookie (jar, "X-APPLE-WEBAUTH-TOKEN");
  g_assert_nonnull (c);
  g_assert_cmpstr (soup_cookie_get_value (c), ==, "\"" SECRET_COOKIE "\"");
  g_assert_cmpstr (soup_cookie_get_domain (c), ==, ".icloud.com");
  g_assert_cmpstr (soup_cookie_get_path (c), ==, "/");
  g_assert_true (soup_cookie_get_secure (c));
  g_assert_true (soup_cookie_get_http_only (c));
  g_assert_cmpint (soup_cookie_get_same_site_policy (c), ==, SOUP_SAME_SITE_POLICY_NONE);
  g_assert_nonnull (soup_cookie_get_expires (c));
  g_assert_cmpint (ABS (g_date_time_to_unix (soup_cookie_get_expires (c)) - in_a_day), <=, 10);
  soup_cookie_free (c);

  c = find_cookie (jar, "aasp");
  g_assert_nonnull (c);
  g_assert_cmpstr (soup_cookie_get_value (c), ==, "host-only-session");
  g_assert_cmpstr (soup_cookie_get_domain (c), ==, "127.0.0.1");
  g_assert_null (soup_cookie_get_expires (c));
  g_assert_false (soup_cookie_get_secure (c));
  g_assert_false (soup_cookie_get_http_only (c));
  soup_cookie_free (c);

  c = find_cookie (jar, "dslang");
  g_assert_nonnull (c);
  g_assert_cmpstr (soup_cookie_get_domain (c), ==, "idmsa.apple.com");
  g_assert_cmpstr (soup_cookie_get_path (c), ==, "/appleauth");
  g_assert_cmpint (soup_cookie_get_same_site_policy (c), ==, SOUP_SAME_SITE_POLICY_STRICT);
  soup_cookie_free (c);

  g_assert_null (find_cookie (jar, "short"));

  /* The loaded cookies work: the domain cookie goes to setup.icloud.com,
   * the host-only ones do not. */
  setup_uri = g_uri_parse ("https://setup.icloud.com/setup/ws/1/validate",
                           G_URI_FLAGS_NONE, NULL);
  sent = soup_cookie_jar_get_cookie_list (jar, setup_uri, TRUE);
  g_assert_cmpuint (g_slist_length (sent), ==, 1);
  g_assert_cmpstr (soup_cookie_get_name (sent->data), ==, "X-APPLE-WEBAUTH-TOKEN");
  g_slist_free_full (sent, (GDestroyNotify) soup_cookie_free);

  /* Stable output: b has nothing new to write. */
  g_assert_true (icloud_store_save (b, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (b), ==, 0);

  /* A cookie that expired while held is dropped by the next save. */
  c = soup_cookie_new ("later", "x", ".icloud.com", "/", -1);
  soon = g_date_time_new_from_unix_utc (g_get_real_time () / G_USEC_PER_SEC + 1);
  soup_cookie_set_expires (c, soon);
  soup_cookie_jar_add_cookie (jar, c);
  g_assert_cmpuint (n_cookies (jar), ==, 4);
  g_usleep (2 * G_USEC_PER_SEC);
  g_assert_true (icloud_store_save (b, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (b), ==, 0);
}

static void
test_expired_dropped_on_load (void)
{
  g_autofree char *dir = test_dir ("expired");
  g_autofree char *path = session_path (dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) store = icloud_store_new (dir, APPLE_ID);
  g_autofree char *content = NULL;
  g_autofree char *after = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  content = g_strdup_printf (
    "{\"version\": 1, \"apple_id\": \"" APPLE_ID "\","
    " \"data\": {\"client_id\": \"cid\"},"
    " \"cookies\": ["
    "  {\"name\": \"old\", \"value\": \"v1\", \"domain\": \".icloud.com\","
    "   \"path\": \"/\", \"expires\": %" G_GINT64_FORMAT ", \"secure\": true,"
    "   \"http_only\": true, \"same_site\": \"None\"},"
    "  {\"name\": \"fresh\", \"value\": \"v2\", \"domain\": \".icloud.com\","
    "   \"path\": \"/\", \"expires\": %" G_GINT64_FORMAT ", \"secure\": true,"
    "   \"http_only\": false, \"same_site\": \"Lax\"},"
    "  {\"name\": \"session\", \"value\": \"v3\", \"domain\": \"www.icloud.com\","
    "   \"path\": \"/\", \"secure\": false, \"http_only\": false}"
    " ]}", now - 60, now + 3600);
  write_raw (path, content);

  g_assert_true (icloud_store_load (store, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (icloud_store_get (store, "client_id"), ==, "cid");
  g_assert_cmpuint (n_cookies (icloud_store_get_cookie_jar (store)), ==, 2);
  g_assert_null (find_cookie (icloud_store_get_cookie_jar (store), "old"));

  /* The file on disk differs from our serialisation (layout, the expired
   * cookie): the first save rewrites it, the second does not. */
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 1);
  after = read_raw (path);
  g_assert_null (strstr (after, "\"old\""));
  g_assert_nonnull (strstr (after, "\"fresh\""));
  g_assert_nonnull (strstr (after, "\"session\""));
  g_assert_true (icloud_store_save (store, &error));
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 1);
}

/* ------------------------------------------------------------------ */
/* 0.1.0's file names                                                   */

static char *
session_file (const char *apple_id,
              gint64      expires)
{
  return g_strdup_printf (
    "{\"version\": 1, \"apple_id\": \"%s\","
    " \"data\": {\"client_id\": \"cid\", \"session_token\": \"" SECRET_TOKEN "\"},"
    " \"cookies\": ["
    "  {\"name\": \"kept\", \"value\": \"v1\", \"domain\": \".icloud.com\","
    "   \"path\": \"/\", \"expires\": %" G_GINT64_FORMAT ", \"secure\": true,"
    "   \"http_only\": true, \"same_site\": \"None\"}"
    " ]}", apple_id, expires);
}

static void
test_legacy_name_migrated (void)
{
  g_autofree char *dir = test_dir ("legacy");
  g_autofree char *path = session_path (dir);
  g_autofree char *old_path = g_build_filename (dir, OLD_BASE ".session.json", NULL);
  g_autofree char *content = session_file (APPLE_ID, g_get_real_time () / G_USEC_PER_SEC + 3600);
  g_autofree char *after = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) store = icloud_store_new (dir, APPLE_ID);
  g_autoptr(ICloudStore) again = NULL;
  g_autoptr(GPtrArray) names = NULL;
  SoupCookie *c;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  write_raw (old_path, content);

  g_assert_true (icloud_store_load (store, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (icloud_store_get (store, "client_id"), ==, "cid");
  g_assert_cmpstr (icloud_store_get (store, "session_token"), ==, SECRET_TOKEN);
  c = find_cookie (icloud_store_get_cookie_jar (store), "kept");
  g_assert_nonnull (c);
  g_assert_cmpstr (soup_cookie_get_value (c), ==, "v1");
  soup_cookie_free (c);

  /* Renamed as it was: only the new name is left. */
  names = list_dir (dir);
  g_assert_cmpuint (names->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (names, 0), ==, BASE ".session.json");
  after = read_raw (path);
  g_assert_cmpstr (after, ==, content);
  g_assert_cmphex (mode_of (path), ==, 0600);

  /* And it loads under that name from now on. */
  again = icloud_store_new (dir, APPLE_ID);
  g_assert_true (icloud_store_load (again, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (icloud_store_get (again, "session_token"), ==, SECRET_TOKEN);
}

static void
test_legacy_name_of_another_account (void)
{
  g_autofree char *dir = test_dir ("legacy-other");
  /* 0.1.0's name for both user@example.com and u.ser@example.com. */
  g_autofree char *old_path = g_build_filename (dir, "userexamplecom.session.json", NULL);
  g_autofree char *content = session_file ("u.ser@example.com",
                                           g_get_real_time () / G_USEC_PER_SEC + 3600);
  g_autofree char *after = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) user = icloud_store_new (dir, "user@example.com");
  g_autoptr(ICloudStore) dotted = icloud_store_new (dir, "u.ser@example.com");
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(GPtrArray) names_after = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  write_raw (old_path, content);

  /* user@example.com does not take u.ser@example.com's session… */
  g_assert_true (icloud_store_load (user, &error));
  g_assert_no_error (error);
  g_assert_null (icloud_store_get (user, "client_id"));
  g_assert_null (icloud_store_get (user, "session_token"));
  g_assert_cmpuint (n_cookies (icloud_store_get_cookie_jar (user)), ==, 0);

  /* …nor renames it, nor sets it aside. */
  names = list_dir (dir);
  g_assert_cmpuint (names->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (names, 0), ==, "userexamplecom.session.json");
  after = read_raw (old_path);
  g_assert_cmpstr (after, ==, content);
  g_assert_false (g_file_test (icloud_store_get_path (user), G_FILE_TEST_EXISTS));

  /* The account it belongs to does take it. */
  g_assert_true (icloud_store_load (dotted, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (icloud_store_get (dotted, "session_token"), ==, SECRET_TOKEN);
  names_after = list_dir (dir);
  g_assert_cmpuint (names_after->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (names_after, 0), ==,
                   "userexamplecom-0118c3b704823504.session.json");
}

/* ------------------------------------------------------------------ */
/* Modes                                                                */

static void
test_modes (void)
{
  g_autofree char *dir = test_dir ("modes");
  g_autofree char *path = session_path (dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) store = icloud_store_new (dir, APPLE_ID);
  mode_t old_umask = umask (0);

  g_assert_true (icloud_store_load (store, &error));
  g_assert_no_error (error);
  g_assert_cmphex (mode_of (dir), ==, 0700);

  icloud_store_set (store, "client_id", "cid");
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);
  g_assert_cmphex (mode_of (path), ==, 0600);

  /* Rewrites too. */
  icloud_store_set (store, "session_token", SECRET_TOKEN);
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 2);
  g_assert_cmphex (mode_of (path), ==, 0600);

  /* The lock file as well. */
  g_assert_true (icloud_store_lock (store, &error));
  g_assert_no_error (error);
  {
    g_autofree char *lock_path = g_build_filename (dir, BASE ".lock", NULL);
    g_assert_cmphex (mode_of (lock_path), ==, 0600);
  }
  icloud_store_unlock (store);

  umask (old_umask);
}

static void
test_dir_tightened (void)
{
  g_autofree char *dir = test_dir ("loose");
  g_autofree char *path = session_path (dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) store = icloud_store_new (dir, APPLE_ID);
  g_autoptr(ICloudStore) again = NULL;
  mode_t old_umask = umask (0);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_cmpint (chmod (dir, 0755), ==, 0);
  g_assert_cmphex (mode_of (dir), ==, 0755);

  g_assert_true (icloud_store_load (store, &error));
  g_assert_no_error (error);
  g_assert_cmphex (mode_of (dir), ==, 0700);

  /* Loosened again behind our back: save tightens it too. */
  g_assert_cmpint (chmod (dir, 0777), ==, 0);
  icloud_store_set (store, "client_id", "cid");
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);
  g_assert_cmphex (mode_of (dir), ==, 0700);
  g_assert_cmphex (mode_of (path), ==, 0600);

  /* A session file left with a loose mode is made private on load. */
  g_assert_cmpint (chmod (path, 0644), ==, 0);
  again = icloud_store_new (dir, APPLE_ID);
  g_assert_true (icloud_store_load (again, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (icloud_store_get (again, "client_id"), ==, "cid");
  g_assert_cmphex (mode_of (path), ==, 0600);

  umask (old_umask);
}

/* ------------------------------------------------------------------ */
/* Writes                                                               */

static void
test_write_only_on_change (void)
{
  g_autofree char *dir = test_dir ("changes");
  g_autofree char *path = session_path (dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) store = icloud_store_new (dir, APPLE_ID);
  g_autoptr(GPtrArray) names = NULL;
  struct stat st1, st2;

  g_assert_true (icloud_store_load (store, &error));
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 0);

  icloud_store_set (store, "client_id", "cid");
  icloud_store_set (store, "scnt", "one");
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 1);
  g_assert_cmpint (stat (path, &st1), ==, 0);

  /* Unchanged: no write, twice; the file is the same inode. */
  g_assert_true (icloud_store_save (store, &error));
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 1);

  /* Same value again: no change. */
  icloud_store_set (store, "scnt", "one");
  g_assert_true (icloud_store_save (store, &error));
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 1);
  g_assert_cmpint (stat (path, &st2), ==, 0);
  g_assert_cmpuint (st1.st_ino, ==, st2.st_ino);

  /* A change: one write. */
  icloud_store_set (store, "scnt", "two");
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 2);

  /* A cookie change is a change. */
  set_cookie (icloud_store_get_cookie_jar (store), "https://www.icloud.com/",
              "c=1; Max-Age=3600");
  g_assert_true (icloud_store_save (store, &error));
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 3);
  g_assert_true (icloud_store_save (store, &error));
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 3);

  /* Set then removed: back to the saved state, no write. */
  icloud_store_set (store, "temp", "x");
  icloud_store_set (store, "temp", NULL);
  g_assert_true (icloud_store_save (store, &error));
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 3);

  /* Atomic writes leave no temporary file behind. */
  names = list_dir (dir);
  g_assert_cmpuint (names->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (names, 0), ==, BASE ".session.json");
}

static void
test_save_failure_keeps_nothing_behind (void)
{
  g_autofree char *dir = test_dir ("save-fails");
  g_autofree char *path = session_path (dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) store = icloud_store_new (dir, APPLE_ID);
  g_autoptr(GPtrArray) names = NULL;

  g_assert_true (icloud_store_load (store, &error));
  g_assert_no_error (error);

  /* The target is a (non-empty) directory: rename fails. */
  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  {
    g_autofree char *inner = g_build_filename (path, "x", NULL);
    write_raw (inner, "x");
  }

  icloud_store_set (store, "session_token", SECRET_TOKEN);
  g_assert_false (icloud_store_save (store, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
  g_assert_null (strstr (error->message, SECRET_TOKEN));
  g_clear_error (&error);
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 0);

  names = list_dir (dir);
  g_assert_cmpuint (names->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (names, 0), ==, BASE ".session.json");
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_DIR));

  /* Loading it is an error too (not a regular file), not a crash. */
  {
    g_autoptr(ICloudStore) other = icloud_store_new (dir, APPLE_ID);

    g_assert_false (icloud_store_load (other, &error));
    g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
    g_clear_error (&error);
  }
}

static void
test_old_file_intact_on_failure (void)
{
  g_autofree char *dir = test_dir ("intact");
  g_autofree char *path = session_path (dir);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *moved = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) store = icloud_store_new (dir, APPLE_ID);

  g_assert_true (icloud_store_load (store, &error));
  icloud_store_set (store, "client_id", "cid");
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);
  before = read_raw (path);

  /* Replace the directory by a regular file; the store must fail with a
   * storage error and not touch anything. */
  moved = g_strconcat (dir, ".moved", NULL);
  g_assert_cmpint (g_rename (dir, moved), ==, 0);
  write_raw (dir, "not a directory");

  icloud_store_set (store, "client_id", "changed");
  g_assert_false (icloud_store_save (store, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
  g_assert_nonnull (strstr (error->message, dir));
  g_clear_error (&error);

  g_assert_cmpint (g_unlink (dir), ==, 0);
  g_assert_cmpint (g_rename (moved, dir), ==, 0);
  after = read_raw (path);
  g_assert_cmpstr (before, ==, after);

  /* Works again once the directory is back. */
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 2);
}

/* ------------------------------------------------------------------ */
/* Corrupt files                                                        */

static void
check_corrupt (const char *name,
               const char *content)
{
  g_autofree char *dir = test_dir (name);
  g_autofree char *path = session_path (dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) store = icloud_store_new (dir, APPLE_ID);
  g_autoptr(ICloudStore) reread = NULL;
  g_autoptr(GPtrArray) names = NULL;
  g_autofree char *aside = NULL;
  g_autofree char *aside_content = NULL;

  g_test_message ("corrupt case: %s", name);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  write_raw (path, content);

  /* Some state in memory, to see it replaced by the empty state. */
  icloud_store_set (store, "client_id", "in-memory");
  set_cookie (icloud_store_get_cookie_jar (store), "https://www.icloud.com/",
              "c=1; Max-Age=3600");

  g_assert_true (icloud_store_load (store, &error));
  g_assert_no_error (error);
  g_assert_null (icloud_store_get (store, "client_id"));
  g_assert_null (icloud_store_get (store, "session_token"));
  g_assert_cmpuint (n_cookies (icloud_store_get_cookie_jar (store)), ==, 0);

  /* Set aside, content and mode kept. */
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  names = list_dir (dir);
  g_assert_cmpuint (names->len, ==, 1);
  g_assert_true (names_contain_prefix (names, BASE ".session.json.corrupt-"));
  aside = g_build_filename (dir, g_ptr_array_index (names, 0), NULL);
  aside_content = read_raw (aside);
  g_assert_cmpstr (aside_content, ==, content);
  g_assert_cmphex (mode_of (aside), ==, 0600);

  /* A later save works, and the result loads. */
  icloud_store_set (store, "client_id", "fresh");
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 1);

  reread = icloud_store_new (dir, APPLE_ID);
  g_assert_true (icloud_store_load (reread, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (icloud_store_get (reread, "client_id"), ==, "fresh");
}

static void
test_corrupt (void)
{
  check_corrupt ("garbage", "\x01\x02 this is { not json " SECRET_TOKEN);
  check_corrupt ("empty", "");
  check_corrupt ("array", "[1, 2, 3]");
  check_corrupt ("no-version",
                 "{\"apple_id\": \"" APPLE_ID "\", \"data\": {}, \"cookies\": []}");
  check_corrupt ("version-2",
                 "{\"version\": 2, \"apple_id\": \"" APPLE_ID "\", \"data\": {}, \"cookies\": []}");
  check_corrupt ("data-not-object",
                 "{\"version\": 1, \"apple_id\": \"" APPLE_ID "\", \"data\": [], \"cookies\": []}");
  check_corrupt ("value-not-string",
                 "{\"version\": 1, \"apple_id\": \"" APPLE_ID "\", \"data\": {\"a\": 1}, \"cookies\": []}");
  check_corrupt ("cookie-wrong",
                 "{\"version\": 1, \"apple_id\": \"" APPLE_ID "\", \"data\": {},"
                 " \"cookies\": [{\"name\": \"a\"}]}");
  check_corrupt ("other-apple-id",
                 "{\"version\": 1, \"apple_id\": \"jdoe@gmail.co.m\", "
                 "\"data\": {\"session_token\": \"" SECRET_TOKEN "\"}, \"cookies\": []}");
  /* pyicloud's flat .session file is not our format. */
  check_corrupt ("pyicloud-flat",
                 "{\"client_id\": \"auth-1\", \"session_token\": \"" SECRET_TOKEN "\"}");
}

/* ------------------------------------------------------------------ */
/* Unusable directory                                                   */

static void
test_unusable_directory (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *parent = test_dir ("unusable");
  g_autofree char *file_dir = g_build_filename (parent, "a-file", NULL);
  g_autofree char *real_dir = g_build_filename (parent, "real", NULL);
  g_autofree char *link_dir = g_build_filename (parent, "link", NULL);
  g_autofree char *under_file = g_build_filename (file_dir, "sub", NULL);

  g_assert_cmpint (g_mkdir_with_parents (real_dir, 0700), ==, 0);
  write_raw (file_dir, "x");
  g_assert_cmpint (symlink (real_dir, link_dir), ==, 0);

  /* The directory path is a regular file. */
  {
    g_autoptr(ICloudStore) store = icloud_store_new (file_dir, APPLE_ID);

    g_assert_false (icloud_store_load (store, &error));
    g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
    g_assert_nonnull (strstr (error->message, file_dir));
    g_clear_error (&error);

    icloud_store_set (store, "session_token", SECRET_TOKEN);
    g_assert_false (icloud_store_save (store, &error));
    g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
    g_assert_null (strstr (error->message, SECRET_TOKEN));
    g_clear_error (&error);

    g_assert_false (icloud_store_lock (store, &error));
    g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
    g_clear_error (&error);

    g_assert_false (icloud_store_delete (store, &error));
    g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
    g_clear_error (&error);
  }

  /* A parent is a regular file. */
  {
    g_autoptr(ICloudStore) store = icloud_store_new (under_file, APPLE_ID);

    g_assert_false (icloud_store_load (store, &error));
    g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
    g_clear_error (&error);
  }

  /* The directory is a symbolic link. */
  {
    g_autoptr(ICloudStore) store = icloud_store_new (link_dir, APPLE_ID);
    g_autoptr(GPtrArray) names = NULL;

    g_assert_false (icloud_store_load (store, &error));
    g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
    g_assert_nonnull (strstr (error->message, "symbolic link"));
    g_clear_error (&error);

    icloud_store_set (store, "client_id", "cid");
    g_assert_false (icloud_store_save (store, &error));
    g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
    g_clear_error (&error);

    names = list_dir (real_dir);
    g_assert_cmpuint (names->len, ==, 0);
  }

  /* The session file is a symbolic link. */
  {
    g_autoptr(ICloudStore) store = icloud_store_new (real_dir, APPLE_ID);
    g_autofree char *target = g_build_filename (parent, "elsewhere.json", NULL);
    g_autofree char *path = session_path (real_dir);

    write_raw (target, "{}");
    g_assert_cmpint (symlink (target, path), ==, 0);
    g_assert_false (icloud_store_load (store, &error));
    g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
    g_clear_error (&error);
    g_assert_cmpint (g_unlink (path), ==, 0);
  }

  /* Permissions: only meaningful when not root (root bypasses them). */
  if (geteuid () != 0)
    {
      g_autofree char *closed = g_build_filename (parent, "closed", NULL);
      g_autofree char *closed_path = session_path (closed);
      g_autoptr(ICloudStore) store = icloud_store_new (closed, APPLE_ID);
      g_autoptr(ICloudStore) reader = NULL;

      icloud_store_set (store, "client_id", "cid");
      g_assert_true (icloud_store_load (store, &error));
      g_assert_true (icloud_store_save (store, &error));
      g_assert_no_error (error);

      /* Unreadable file. */
      g_assert_cmpint (chmod (closed_path, 0000), ==, 0);
      reader = icloud_store_new (closed, APPLE_ID);
      g_assert_false (icloud_store_load (reader, &error));
      g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
      g_clear_error (&error);
      g_assert_cmpint (chmod (closed_path, 0600), ==, 0);
    }
  else
    g_test_message ("running as root: permission checks skipped");
}

/* ------------------------------------------------------------------ */
/* Reset and delete                                                     */

static void
fill (ICloudStore *store)
{
  SoupCookieJar *jar = icloud_store_get_cookie_jar (store);

  icloud_store_set (store, "client_id", "cid");
  icloud_store_set (store, "trust_token", SECRET_TRUST);
  icloud_store_set (store, "session_token", SECRET_TOKEN);
  icloud_store_set (store, "scnt", "scnt");
  icloud_store_set (store, "session_id", "sid");
  icloud_store_set (store, "account_country", "USA");
  icloud_store_set (store, "auth_attributes", "attrs");
  icloud_store_set (store, "dsid", "12345");
  icloud_store_set (store, "trust_eligible", "true");
  icloud_store_set (store, "apple_rscd", "409");
  icloud_store_set (store, "challenge_kind", "hsa2");
  set_cookie (jar, "https://setup.icloud.com/", "X-APPLE-WEBAUTH-USER=u; Domain=icloud.com; Max-Age=3600");
  set_cookie (jar, "https://idmsa.apple.com/", "aasp=a");
  g_assert_cmpuint (n_cookies (jar), ==, 2);
}

static void
test_reset (void)
{
  g_autofree char *dir = test_dir ("reset");
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) store = icloud_store_new (dir, APPLE_ID);
  const char *dropped[] = { "session_token", "scnt", "session_id",
                            "account_country", "auth_attributes", "dsid",
                            "trust_eligible", "apple_rscd", "challenge_kind" };

  fill (store);
  icloud_store_reset (store, TRUE);
  g_assert_cmpstr (icloud_store_get (store, "client_id"), ==, "cid");
  g_assert_cmpstr (icloud_store_get (store, "trust_token"), ==, SECRET_TRUST);
  for (guint i = 0; i < G_N_ELEMENTS (dropped); i++)
    g_assert_null (icloud_store_get (store, dropped[i]));
  g_assert_cmpuint (n_cookies (icloud_store_get_cookie_jar (store)), ==, 0);

  /* What is saved after a reset is the reduced state. */
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);
  {
    g_autoptr(ICloudStore) other = icloud_store_new (dir, APPLE_ID);

    g_assert_true (icloud_store_load (other, &error));
    g_assert_cmpstr (icloud_store_get (other, "trust_token"), ==, SECRET_TRUST);
    g_assert_null (icloud_store_get (other, "session_token"));
  }

  fill (store);
  icloud_store_reset (store, FALSE);
  g_assert_cmpstr (icloud_store_get (store, "client_id"), ==, "cid");
  g_assert_null (icloud_store_get (store, "trust_token"));
  for (guint i = 0; i < G_N_ELEMENTS (dropped); i++)
    g_assert_null (icloud_store_get (store, dropped[i]));
  g_assert_cmpuint (n_cookies (icloud_store_get_cookie_jar (store)), ==, 0);
}

static void
test_delete (void)
{
  g_autofree char *dir = test_dir ("delete");
  g_autofree char *path = session_path (dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) store = icloud_store_new (dir, APPLE_ID);

  g_assert_true (icloud_store_load (store, &error));
  fill (store);
  g_assert_true (icloud_store_save (store, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));

  g_assert_true (icloud_store_delete (store, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_cmpstr (icloud_store_get (store, "client_id"), ==, "cid");
  g_assert_null (icloud_store_get (store, "trust_token"));
  g_assert_null (icloud_store_get (store, "session_token"));
  g_assert_cmpuint (n_cookies (icloud_store_get_cookie_jar (store)), ==, 0);

  /* Nothing changed since: a save does not bring the file back. */
  g_assert_true (icloud_store_save (store, &error));
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 1);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  /* A missing file is fine. */
  g_assert_true (icloud_store_delete (store, &error));
  g_assert_no_error (error);

  /* New state is saved again. */
  icloud_store_set (store, "session_token", "new");
  g_assert_true (icloud_store_save (store, &error));
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 2);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
}

/* ------------------------------------------------------------------ */
/* Lock                                                                 */

/* In a forked child: can a fresh open file description take the lock? The
 * answer comes back through a pipe, not the exit status (valgrind rewrites
 * that when it finds the parent's leftovers in the child). */
static gboolean
child_can_lock (const char *lock_path)
{
  int fds[2];
  char answer = '?';
  pid_t pid;
  int status = 0;

  g_assert_cmpint (pipe (fds), ==, 0);

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      int fd = open (lock_path, O_RDWR | O_CLOEXEC);
      char c;

      close (fds[0]);
      if (fd < 0)
        c = 'e';
      else if (flock (fd, LOCK_EX | LOCK_NB) == 0)
        c = 'y';
      else if (errno == EWOULDBLOCK)
        c = 'n';
      else
        c = 'e';
      if (write (fds[1], &c, 1) != 1)
        _exit (3);
      _exit (0);
    }

  close (fds[1]);
  g_assert_cmpint (read (fds[0], &answer, 1), ==, 1);
  close (fds[0]);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_true (answer == 'y' || answer == 'n');
  return answer == 'y';
}

static void
test_lock (void)
{
  g_autofree char *dir = test_dir ("lock");
  g_autofree char *lock_path = g_build_filename (dir, BASE ".lock", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) a = icloud_store_new (dir, APPLE_ID);
  g_autoptr(ICloudStore) b = icloud_store_new (dir, APPLE_ID);
  g_autoptr(ICloudStore) other_account = icloud_store_new (dir, "someone@else.com");
  ICloudStore *c;

  g_assert_true (icloud_store_lock (a, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (lock_path, G_FILE_TEST_IS_REGULAR));

  /* Recursive within one object. */
  g_assert_true (icloud_store_lock (a, &error));
  g_assert_no_error (error);

  /* Another object, same process: refused. */
  g_assert_false (icloud_store_lock (b, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
  g_assert_nonnull (strstr (error->message, "in use by another process"));
  g_assert_nonnull (strstr (error->message, APPLE_ID));
  g_clear_error (&error);

  /* Another process: refused. */
  g_assert_false (child_can_lock (lock_path));

  /* Another account: independent. */
  g_assert_true (icloud_store_lock (other_account, &error));
  g_assert_no_error (error);
  icloud_store_unlock (other_account);

  /* One unlock of two: still held. */
  icloud_store_unlock (a);
  g_assert_false (icloud_store_lock (b, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
  g_clear_error (&error);
  g_assert_false (child_can_lock (lock_path));

  /* Released. */
  icloud_store_unlock (a);
  g_assert_true (child_can_lock (lock_path));
  g_assert_true (icloud_store_lock (b, &error));
  g_assert_no_error (error);
  g_assert_false (icloud_store_lock (a, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
  g_clear_error (&error);
  icloud_store_unlock (b);

  /* Finalizing a store releases its lock. */
  c = icloud_store_new (dir, APPLE_ID);
  g_assert_true (icloud_store_lock (c, &error));
  g_assert_true (icloud_store_lock (c, &error));
  g_assert_false (icloud_store_lock (a, &error));
  g_clear_error (&error);
  g_object_unref (c);
  g_assert_true (icloud_store_lock (a, &error));
  g_assert_no_error (error);
  icloud_store_unlock (a);
}

/* ------------------------------------------------------------------ */
/* The asynchronous operations                                          */

/* run_async () and RUN_ASYNC (): tests/unit/test-store-async.h */

/* Files in @dir other than the session file and the lock. */
static guint
n_other_files (const char *dir)
{
  g_autoptr(GPtrArray) names = list_dir (dir);
  guint n = 0;

  for (guint i = 0; i < names->len; i++)
    if (!g_str_equal (g_ptr_array_index (names, i), BASE ".session.json") &&
        !g_str_equal (g_ptr_array_index (names, i), BASE ".lock"))
      n++;
  return n;
}

static void
test_async_round_trip (void)
{
  g_autofree char *dir = test_dir ("async-round-trip");
  g_autofree char *path = session_path (dir);
  g_autofree char *lock_path = g_build_filename (dir, BASE ".lock", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) store = icloud_store_new (dir, APPLE_ID);
  g_autoptr(ICloudStore) again = icloud_store_new (dir, APPLE_ID);
  g_autoptr(SoupCookie) cookie = NULL;
  struct stat st1, st2;

  /* Lock + load: no file yet, the lock is held. */
  g_assert_true (RUN_ASYNC (store, open, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (child_can_lock (lock_path));
  g_assert_cmpuint (mode_of (dir), ==, 0700);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  icloud_store_set (store, "client_id", "cid");
  icloud_store_set (store, "session_token", SECRET_TOKEN);
  set_cookie (icloud_store_get_cookie_jar (store), "https://www.icloud.com/",
              "X-APPLE-WEBAUTH-TOKEN=" SECRET_COOKIE "; Max-Age=3600");

  /* One save writes once, then the lock goes. */
  g_assert_true (RUN_ASYNC (store, save_and_unlock, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 1);
  g_assert_cmpuint (mode_of (path), ==, 0600);
  g_assert_true (child_can_lock (lock_path));
  g_assert_cmpuint (n_other_files (dir), ==, 0);
  g_assert_cmpint (stat (path, &st1), ==, 0);

  /* Another object opens what was saved. */
  icloud_store_set (again, "scnt", "in-memory only");
  g_assert_true (RUN_ASYNC (again, open, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (icloud_store_get (again, "client_id"), ==, "cid");
  g_assert_cmpstr (icloud_store_get (again, "session_token"), ==, SECRET_TOKEN);
  g_assert_null (icloud_store_get (again, "scnt"));
  cookie = find_cookie (icloud_store_get_cookie_jar (again), "X-APPLE-WEBAUTH-TOKEN");
  g_assert_nonnull (cookie);
  g_assert_cmpstr (soup_cookie_get_value (cookie), ==, SECRET_COOKIE);

  /* Unchanged: nothing written, not even by the save that unlocks. */
  g_assert_true (RUN_ASYNC (again, save, NULL, &error));
  g_assert_true (RUN_ASYNC (again, save_and_unlock, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (again), ==, 0);
  g_assert_cmpint (stat (path, &st2), ==, 0);
  g_assert_cmpuint (st1.st_ino, ==, st2.st_ino);
  g_assert_true (child_can_lock (lock_path));

  /* A change: exactly one more write, by the object that changed. */
  icloud_store_set (again, "scnt", "two");
  g_assert_true (RUN_ASYNC (again, save, NULL, &error));
  g_assert_true (RUN_ASYNC (again, save, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (again), ==, 1);

  /* Delete, then a save brings nothing back. */
  g_assert_true (RUN_ASYNC (again, delete, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_cmpstr (icloud_store_get (again, "client_id"), ==, "cid");
  g_assert_null (icloud_store_get (again, "session_token"));
  g_assert_true (RUN_ASYNC (again, save, NULL, &error));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (icloud_store_get_n_writes (again), ==, 1);
}

static void
test_async_corrupt (void)
{
  g_autofree char *dir = test_dir ("async-corrupt");
  g_autofree char *path = session_path (dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) store = icloud_store_new (dir, APPLE_ID);
  g_autoptr(GPtrArray) names = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  write_raw (path, "{ \"session_token\": \"" SECRET_TOKEN "\", oops");
  icloud_store_set (store, "client_id", "in-memory");

  g_assert_true (RUN_ASYNC (store, open, NULL, &error));
  g_assert_no_error (error);
  g_assert_null (icloud_store_get (store, "client_id"));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  names = list_dir (dir);
  g_assert_true (names_contain_prefix (names, BASE ".session.json.corrupt-"));

  /* Nothing to write: the empty state is no change. */
  g_assert_true (RUN_ASYNC (store, save_and_unlock, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 1);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
}

static void
test_async_lock_contention (void)
{
  g_autofree char *dir = test_dir ("async-lock");
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) a = icloud_store_new (dir, APPLE_ID);
  g_autoptr(ICloudStore) b = icloud_store_new (dir, APPLE_ID);

  g_assert_true (RUN_ASYNC (a, open, NULL, &error));
  g_assert_no_error (error);
  icloud_store_set (a, "client_id", "from-a");
  g_assert_true (RUN_ASYNC (a, save, NULL, &error));
  g_assert_no_error (error);

  /* Recursive within one object: counted, one unlock keeps it. */
  g_assert_true (RUN_ASYNC (a, open, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (RUN_ASYNC (a, save_and_unlock, NULL, &error));

  /* b is refused, and its in-memory state is left as it was. */
  icloud_store_set (b, "client_id", "b-in-memory");
  g_assert_false (RUN_ASYNC (b, open, NULL, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
  g_assert_nonnull (strstr (error->message, "in use by another process"));
  g_clear_error (&error);
  g_assert_cmpstr (icloud_store_get (b, "client_id"), ==, "b-in-memory");

  /* Released: b gets it, and a is refused. */
  g_assert_true (RUN_ASYNC (a, save_and_unlock, NULL, &error));
  g_assert_true (RUN_ASYNC (b, open, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (icloud_store_get (b, "client_id"), ==, "from-a");
  g_assert_false (RUN_ASYNC (a, open, NULL, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
  g_clear_error (&error);
  icloud_store_unlock (b);
}

static void
test_async_cancelled (void)
{
  g_autofree char *dir = test_dir ("async-cancelled");
  g_autofree char *path = session_path (dir);
  g_autofree char *lock_path = g_build_filename (dir, BASE ".lock", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) store = icloud_store_new (dir, APPLE_ID);
  g_autoptr(ICloudStore) other = icloud_store_new (dir, APPLE_ID);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;

  g_assert_true (RUN_ASYNC (store, open, NULL, &error));
  icloud_store_set (store, "client_id", "saved");
  g_assert_true (RUN_ASYNC (store, save, NULL, &error));
  g_assert_no_error (error);
  before = read_raw (path);

  /* A save cancelled before it started: nothing written, not counted. */
  icloud_store_set (store, "client_id", "not saved");
  g_cancellable_cancel (cancellable);
  g_assert_false (RUN_ASYNC (store, save, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 1);

  /* A cancelled save-and-unlock still unlocks, and writes nothing. */
  g_assert_false (child_can_lock (lock_path));
  g_assert_false (RUN_ASYNC (store, save_and_unlock, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_true (child_can_lock (lock_path));
  after = read_raw (path);
  g_assert_cmpstr (after, ==, before);
  g_assert_cmpuint (n_other_files (dir), ==, 0);

  /* A cancelled open takes no lock and loads nothing. */
  icloud_store_set (other, "client_id", "other-in-memory");
  g_assert_false (RUN_ASYNC (other, open, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_true (child_can_lock (lock_path));
  g_assert_cmpstr (icloud_store_get (other, "client_id"), ==, "other-in-memory");

  /* The change is still pending: the next save writes it. */
  g_assert_true (RUN_ASYNC (store, save, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 2);
  g_free (after);
  after = read_raw (path);
  g_assert_nonnull (strstr (after, "not saved"));
}

static void
test_async_one_at_a_time (void)
{
  g_autofree char *dir = test_dir ("async-pending");
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) store = icloud_store_new (dir, APPLE_ID);
  GAsyncResult *first = NULL;

  icloud_store_open_async (store, NULL, got_result, &first);
  g_assert_false (RUN_ASYNC (store, save, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_clear_error (&error);

  while (first == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (icloud_store_open_finish (store, first, &error));
  g_assert_no_error (error);
  g_object_unref (first);
  icloud_store_unlock (store);
}

/* ------------------------------------------------------------------ */
/* The main-thread I/O check                                            */

static gpointer
load_in_thread (gpointer user_data)
{
  ICloudStore *store = user_data;

  return GINT_TO_POINTER (icloud_store_load (store, NULL));
}

static void
test_io_thread_check_async (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *dir = test_dir ("io-check-async");
      g_autoptr(GError) error = NULL;
      g_autoptr(ICloudStore) store = icloud_store_new (dir, APPLE_ID);
      g_autoptr(ICloudStore) reread = icloud_store_new (dir, APPLE_ID);
      GThread *thread;

      icloud_store_set_io_thread_check (TRUE);
      g_assert_true (icloud_store_get_io_thread_check ());
      /* This thread runs the default main context, as an application's
       * main thread does. */
      g_assert_true (g_main_context_acquire (NULL));

      g_assert_true (RUN_ASYNC (store, open, NULL, &error));
      g_assert_no_error (error);
      icloud_store_set (store, "client_id", "async");
      g_assert_true (RUN_ASYNC (store, save, NULL, &error));
      icloud_store_set (store, "scnt", "two");
      g_assert_true (RUN_ASYNC (store, save_and_unlock, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (icloud_store_get_n_writes (store), ==, 2);
      g_assert_true (RUN_ASYNC (store, delete, NULL, &error));
      g_assert_no_error (error);

      /* A blocking twin is fine in a thread of its own. */
      thread = g_thread_new ("load", load_in_thread, reread);
      g_assert_true (GPOINTER_TO_INT (g_thread_join (thread)));

      g_main_context_release (NULL);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static void
test_io_thread_check_sync (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *dir = test_dir ("io-check-sync");
      g_autoptr(ICloudStore) store = icloud_store_new (dir, APPLE_ID);

      g_assert_true (g_main_context_acquire (NULL));
      /* Off: the blocking call works (and shows the trap below is the
       * check's doing). */
      g_assert_true (icloud_store_load (store, NULL));
      icloud_store_set_io_thread_check (TRUE);
      icloud_store_load (store, NULL);
      g_assert_not_reached ();
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*icloud_store_load: blocking session store I/O on the thread that runs the default main context*");
}

/* The environment switches it on too. */
static void
test_io_thread_check_env (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *dir = test_dir ("io-check-env");
      g_autoptr(ICloudStore) store = NULL;

      /* A fresh process: read at the first use, before any thread. */
      g_assert_true (g_setenv ("ICLOUD_STORE_ASSERT_OFF_MAIN", "1", TRUE));
      store = icloud_store_new (dir, APPLE_ID);
      g_assert_true (g_main_context_acquire (NULL));
      icloud_store_save (store, NULL);
      g_assert_not_reached ();
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*icloud_store_save: blocking session store I/O*");
}

/* ------------------------------------------------------------------ */
/* No secret in the log                                                 */

static void
test_no_secret_logged (void)
{
  g_autofree char *dir = test_dir ("log");
  g_autofree char *path = session_path (dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudStore) a = icloud_store_new (dir, APPLE_ID);
  g_autoptr(ICloudStore) b = icloud_store_new (dir, APPLE_ID);
  g_autoptr(ICloudStore) c = icloud_store_new (dir, APPLE_ID);
  g_autofree char *header = g_strdup_printf ("X-APPLE-WEBAUTH-TOKEN=%s; Domain=icloud.com; Max-Age=3600",
                                             SECRET_COOKIE);
  /* (Not "secret": the test's own directory is named after it.) */
  const char *secrets[] = { SECRET_TOKEN, SECRET_TRUST, SECRET_COOKIE, "sEcReT" };

  g_log_set_debug_enabled (TRUE);
  captured_log = g_string_new (NULL);

  g_assert_true (icloud_store_load (a, &error));
  icloud_store_set (a, "session_token", SECRET_TOKEN);
  icloud_store_set (a, "trust_token", SECRET_TRUST);
  set_cookie (icloud_store_get_cookie_jar (a), "https://setup.icloud.com/", header);
  g_assert_true (icloud_store_save (a, &error));
  g_assert_true (icloud_store_lock (a, &error));
  g_assert_no_error (error);

  g_assert_true (icloud_store_load (b, &error));
  g_assert_cmpstr (icloud_store_get (b, "session_token"), ==, SECRET_TOKEN);
  g_assert_false (icloud_store_lock (b, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
  g_string_append_printf (captured_log, "%s\n", error->message);
  g_clear_error (&error);
  icloud_store_unlock (a);

  icloud_store_reset (b, TRUE);
  g_assert_true (icloud_store_save (b, &error));
  g_assert_true (icloud_store_delete (b, &error));
  g_assert_no_error (error);

  /* A corrupt file holding secrets. */
  write_raw (path, "{ \"session_token\": \"" SECRET_TOKEN "\", oops");
  g_assert_true (icloud_store_load (c, &error));
  g_assert_no_error (error);

  /* The writer did see the store's messages… */
  g_assert_nonnull (strstr (captured_log->str, "Saved the session file"));
  g_assert_nonnull (strstr (captured_log->str, "Loaded the session file"));
  g_assert_nonnull (strstr (captured_log->str, "moved it aside"));
  g_assert_nonnull (strstr (captured_log->str, "in use by another process"));
  /* …and none of them holds a secret. */
  for (guint i = 0; i < G_N_ELEMENTS (secrets); i++)
    g_assert_null (strstr (captured_log->str, secrets[i]));

  g_string_free (g_steal_pointer (&captured_log), TRUE);
  g_log_set_debug_enabled (FALSE);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_log_set_writer_func (capture_writer, NULL, NULL);

  g_test_add_func ("/store/base-name", test_base_name);
  g_test_add_func ("/store/account-name", test_account_name);
  g_test_add_func ("/store/paths", test_paths);
  g_test_add_func ("/store/round-trip", test_round_trip);
  g_test_add_func ("/store/expired-dropped-on-load", test_expired_dropped_on_load);
  g_test_add_func ("/store/legacy-name-migrated", test_legacy_name_migrated);
  g_test_add_func ("/store/legacy-name-of-another-account", test_legacy_name_of_another_account);
  g_test_add_func ("/store/modes", test_modes);
  g_test_add_func ("/store/dir-tightened", test_dir_tightened);
  g_test_add_func ("/store/write-only-on-change", test_write_only_on_change);
  g_test_add_func ("/store/save-failure-no-temp", test_save_failure_keeps_nothing_behind);
  g_test_add_func ("/store/old-file-intact", test_old_file_intact_on_failure);
  g_test_add_func ("/store/corrupt", test_corrupt);
  g_test_add_func ("/store/unusable-directory", test_unusable_directory);
  g_test_add_func ("/store/reset", test_reset);
  g_test_add_func ("/store/delete", test_delete);
  g_test_add_func ("/store/lock", test_lock);
  g_test_add_func ("/store/no-secret-logged", test_no_secret_logged);
  g_test_add_func ("/store/async/round-trip", test_async_round_trip);
  g_test_add_func ("/store/async/corrupt", test_async_corrupt);
  g_test_add_func ("/store/async/lock-contention", test_async_lock_contention);
  g_test_add_func ("/store/async/cancelled", test_async_cancelled);
  g_test_add_func ("/store/async/one-at-a-time", test_async_one_at_a_time);
  g_test_add_func ("/store/io-thread-check/async", test_io_thread_check_async);
  g_test_add_func ("/store/io-thread-check/sync", test_io_thread_check_sync);
  g_test_add_func ("/store/io-thread-check/env", test_io_thread_check_env);

  return g_test_run ();
}
