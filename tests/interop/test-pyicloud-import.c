/* test-pyicloud-import.c: icloud_session_import_pyicloud () on files in
 * pyicloud's formats (protocol §5.1, §5.2), written here from a session the
 * library signed in to the fake server: the LWP jar with quoted and escaped
 * values, host-only and domain cookies, expiry, HttpOnly=None; both naming
 * schemes; malformed files. test-pyicloud.py does the same with the files
 * pyicloud 1.0.0 itself wrote.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <glib/gstdio.h>
#include <icloud-glib/icloud-glib.h>

#include "icloud-mock-server.h"
#include "test-names.h"

#define PASSWORD "correct horse battery staple"
#define APPLE_ID "py.user@example.com"
/* pyicloud's name for its files; the library names its own otherwise. */
#define BASE     "pyuserexamplecom"

static const char accounts_json[] =
  "{\"accounts\": ["
  " {\"apple_id\": \"" APPLE_ID "\", \"password\": \"" PASSWORD "\", \"iterations\": 1000, \"factor\": \"none\"}"
  "]}";

typedef struct {
  ICloudMockServer *server;
  ICloudEndpoint   *endpoint;
  char             *root;
  char             *signed_in_dir;  /* where the library saved its session */
  char             *pydir;          /* pyicloud's files, made from it */
} Fixture;

static ICloudSession *
session_new (Fixture    *fixture,
             const char *dir,
             const char *password)
{
  return g_object_new (ICLOUD_TYPE_SESSION,
                       "apple-id", APPLE_ID,
                       "password", password,
                       "endpoint", fixture->endpoint,
                       "cookie-directory", dir,
                       NULL);
}

static guint
count_srp (Fixture *fixture)
{
  return icloud_mock_server_count_requests (fixture->server, APPLE_ID, "/appleauth/auth/signin/init");
}

/* Python's join_header_words quoting: "..." with \ before " and \. */
static void
append_quoted (GString    *out,
               const char *value)
{
  g_string_append_c (out, '"');
  for (const char *p = value; *p != '\0'; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_c (out, '\\');
      g_string_append_c (out, *p);
    }
  g_string_append_c (out, '"');
}

/* Writes <dir>/<session_name> and <dir>/<jar_name> the way pyicloud does,
 * from the library's own session file. */
static void
write_pyicloud_files (const char *from_dir,
                      const char *dir,
                      const char *jar_name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *ours = test_account_file (from_dir, APPLE_ID, ".session.json");
  g_autofree char *session_path = g_build_filename (dir, BASE ".session", NULL);
  g_autofree char *jar_path = g_build_filename (dir, jar_name, NULL);
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(GString) jar = g_string_new ("#LWP-Cookies-2.0\n");
  g_autofree char *session_text = NULL;
  JsonObject *root, *data;
  JsonArray *cookies;
  JsonNode *node;

  json_parser_load_from_file (parser, ours, &error);
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  data = json_object_get_object_member (root, "data");
  cookies = json_object_get_array_member (root, "cookies");
  g_assert_cmpuint (json_array_get_length (cookies), >, 0);

  /* The session file: the data, plus a key pyicloud 2.x writes and an
   * unknown one, both ignored. */
  json_object_set_string_member (data, "client_id", "auth-00000000-1111-2222-3333-444444444444");
  json_object_set_string_member (data, "apple_rscd", "409");
  json_object_set_string_member (data, "not_a_pyicloud_key", "ignored");
  node = json_node_init_object (json_node_alloc (), data);
  json_generator_set_root (gen, node);
  session_text = json_generator_to_data (gen, NULL);
  json_node_unref (node);

  for (guint i = 0; i < json_array_get_length (cookies); i++)
    {
      JsonObject *c = json_array_get_object_element (cookies, i);

      g_string_append_printf (jar, "Set-Cookie3: %s=", json_object_get_string_member (c, "name"));
      append_quoted (jar, json_object_get_string_member (c, "value"));
      g_string_append_printf (jar, "; path=\"%s\"; domain=\"%s\"; path_spec",
                              json_object_get_string_member_with_default (c, "path", "/"),
                              json_object_get_string_member (c, "domain"));
      if (json_object_get_boolean_member_with_default (c, "secure", FALSE))
        g_string_append (jar, "; secure");
      if (json_object_has_member (c, "expires"))
        {
          g_autoptr(GDateTime) when =
            g_date_time_new_from_unix_utc (json_object_get_int_member (c, "expires"));
          g_autofree char *iso = g_date_time_format (when, "%Y-%m-%d %H:%M:%SZ");
          g_string_append_printf (jar, "; expires=\"%s\"", iso);
        }
      else
        g_string_append (jar, "; discard");
      if (json_object_get_boolean_member_with_default (c, "http_only", FALSE))
        g_string_append (jar, "; HttpOnly=None");
      g_string_append (jar, "; version=0\n");
    }
  /* An expired cookie (dropped) and a domain cookie of another site (kept,
   * never sent to this one). */
  g_string_append (jar, "Set-Cookie3: old=\"x\"; path=\"/\"; domain=\"127.0.0.1\"; "
                        "expires=\"2001-01-01 00:00:00Z\"; version=0\n");
  g_string_append (jar, "Set-Cookie3: elsewhere=\"y \\\"quoted\\\"\"; path=\"/\"; "
                        "domain=\".example.org\"; domain_dot; secure; version=0\n");

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_file_set_contents (session_path, session_text, -1, &error);
  g_assert_no_error (error);
  g_file_set_contents (jar_path, jar->str, jar->len, &error);
  g_assert_no_error (error);
}

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;

  fixture->server = icloud_mock_server_new ();
  icloud_mock_server_load_accounts_from_data (fixture->server, accounts_json, -1, &error);
  g_assert_no_error (error);
  icloud_mock_server_start (fixture->server, &error);
  g_assert_no_error (error);
  fixture->endpoint = icloud_endpoint_new_for_base_uri (icloud_mock_server_get_base_uri (fixture->server), &error);
  g_assert_no_error (error);

  fixture->root = g_build_filename (g_get_user_state_dir (), "import-test", NULL);
  fixture->signed_in_dir = g_build_filename (fixture->root, "signed-in", NULL);
  fixture->pydir = g_build_filename (fixture->root, "pyicloud", NULL);

  session = session_new (fixture, fixture->signed_in_dir, PASSWORD);
  g_assert_true (g_initable_init (G_INITABLE (session), NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (count_srp (fixture), ==, 1);
  g_assert_true (icloud_session_close (session, NULL, &error));
  g_assert_no_error (error);

  write_pyicloud_files (fixture->signed_in_dir, fixture->pydir, user_data ? user_data : BASE);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  user_data)
{
  icloud_mock_server_stop (fixture->server);
  g_clear_object (&fixture->server);
  g_clear_object (&fixture->endpoint);
  g_free (fixture->root);
  g_free (fixture->signed_in_dir);
  g_free (fixture->pydir);
}

/* Import into a session that is not initialised, then init: the imported
 * session is reused, with no SRP and no password. */
static void
test_import (Fixture       *fixture,
             gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autofree char *dir = g_build_filename (fixture->root, "ours", NULL);
  g_autofree char *saved = test_account_file (dir, APPLE_ID, ".session.json");
  g_autofree char *contents = NULL;
  GStatBuf st;

  session = session_new (fixture, dir, NULL);
  g_assert_true (icloud_session_import_pyicloud (session, fixture->pydir, &error));
  g_assert_no_error (error);

  /* Saved at once, 0600, with pyicloud's client id and without what is
   * expired or unknown. */
  g_assert_cmpint (g_stat (saved, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_file_get_contents (saved, &contents, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (contents, "auth-00000000-1111-2222-3333-444444444444"));
  g_assert_nonnull (strstr (contents, "X-APPLE-WEBAUTH-TOKEN"));
  g_assert_nonnull (strstr (contents, "\"elsewhere\""));
  g_assert_nonnull (strstr (contents, "\".example.org\""));
  g_assert_null (strstr (contents, "\"old\""));
  g_assert_null (strstr (contents, "not_a_pyicloud_key"));

  g_assert_true (g_initable_init (G_INITABLE (session), NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_assert_cmpstr (icloud_session_get_client_id (session), ==, "auth-00000000-1111-2222-3333-444444444444");
  g_assert_cmpuint (count_srp (fixture), ==, 1);
  g_assert_cmpuint (icloud_mock_server_count_requests (fixture->server, APPLE_ID, "/setup/ws/1/validate"), ==, 1);
}

static void
check_unchanged_after (Fixture    *fixture,
                       const char *file,
                       const char *content,
                       int         code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autofree char *dir = g_build_filename (fixture->root, "ours", NULL);
  g_autofree char *saved = test_account_file (dir, APPLE_ID, ".session.json");
  g_autofree char *bad_dir = g_build_filename (fixture->root, "bad", NULL);
  g_autofree char *path = g_build_filename (bad_dir, file, NULL);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  gsize before_len, after_len;

  /* A good import first, then the bad one over it. */
  session = session_new (fixture, dir, NULL);
  g_assert_true (icloud_session_import_pyicloud (session, fixture->pydir, &error));
  g_assert_no_error (error);
  g_file_get_contents (saved, &before, &before_len, &error);
  g_assert_no_error (error);

  write_pyicloud_files (fixture->signed_in_dir, bad_dir, BASE);
  if (content != NULL)
    g_file_set_contents (path, content, -1, &error);
  else
    g_assert_cmpint (g_remove (path), ==, 0);
  g_assert_no_error (error);

  g_assert_false (icloud_session_import_pyicloud (session, bad_dir, &error));
  g_assert_error (error, ICLOUD_ERROR, code);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, file));
  g_clear_error (&error);

  g_file_get_contents (saved, &after, &after_len, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (before, before_len, after, after_len);
}

static void
test_malformed (Fixture       *fixture,
                gconstpointer  user_data)
{
  check_unchanged_after (fixture, BASE ".session", "[1, 2", ICLOUD_ERROR_PROTOCOL);
  check_unchanged_after (fixture, BASE ".session", "{\"session_token\": 5}", ICLOUD_ERROR_PROTOCOL);
  check_unchanged_after (fixture, BASE ".session", "{\"client_id\": \"auth-x\"}", ICLOUD_ERROR_PROTOCOL);
  check_unchanged_after (fixture, BASE, "# Netscape HTTP Cookie File\n", ICLOUD_ERROR_PROTOCOL);
  check_unchanged_after (fixture, BASE, "#LWP-Cookies-2.0\nSet-Cookie3: a=\"b\"; domain=\"x\"; path=\"/unterminated\n",
                         ICLOUD_ERROR_PROTOCOL);
  check_unchanged_after (fixture, BASE, "#LWP-Cookies-2.0\nSet-Cookie3: a=\"b\"; path=\"/\"\n",
                         ICLOUD_ERROR_PROTOCOL);
  check_unchanged_after (fixture, BASE, "#LWP-Cookies-2.0\nSet-Cookie3: a=b; domain=\"x\"; expires=\"soon\"\n",
                         ICLOUD_ERROR_PROTOCOL);
  /* No session file at all: storage. */
  check_unchanged_after (fixture, BASE ".session", NULL, ICLOUD_ERROR_STORAGE);
}

/* Without a cookie jar the session token alone signs in again. */
static void
test_no_jar (Fixture       *fixture,
             gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autofree char *dir = g_build_filename (fixture->root, "ours", NULL);
  g_autofree char *jar = g_build_filename (fixture->pydir, BASE, NULL);

  g_assert_cmpint (g_remove (jar), ==, 0);
  session = session_new (fixture, dir, NULL);
  g_assert_true (icloud_session_import_pyicloud (session, fixture->pydir, &error));
  g_assert_no_error (error);
  g_assert_true (g_initable_init (G_INITABLE (session), NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_assert_cmpuint (count_srp (fixture), ==, 1);
  g_assert_cmpuint (icloud_mock_server_count_requests (fixture->server, APPLE_ID, "/setup/ws/1/accountLogin"), ==, 2);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add ("/pyicloud-import/jar-without-extension", Fixture, BASE,
              fixture_setup, test_import, fixture_teardown);
  g_test_add ("/pyicloud-import/jar-cookiejar", Fixture, BASE ".cookiejar",
              fixture_setup, test_import, fixture_teardown);
  g_test_add ("/pyicloud-import/malformed", Fixture, BASE,
              fixture_setup, test_malformed, fixture_teardown);
  g_test_add ("/pyicloud-import/no-jar", Fixture, BASE,
              fixture_setup, test_no_jar, fixture_teardown);

  return g_test_run ();
}
