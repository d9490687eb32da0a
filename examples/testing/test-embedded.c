/* test-embedded.c: an application's test with the fake iCloud server in
 * its own process (ICloudMockServer, from libicloud-mock-0), with accounts
 * of its own. Built against the installed pkg-config files:
 *
 *   cc -o test-embedded test-embedded.c \
 *      $(pkg-config --cflags --libs icloud-glib-1 icloud-mock-0)
 *   ./test-embedded
 *
 * The server runs in its own thread with its own main context, so the
 * blocking calls of the session work from the test's thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <icloud-glib/icloud-glib.h>
#include <icloud-mock-server.h>

static const char accounts[] =
  "{\"accounts\": ["
  " {\"apple_id\": \"jane@example.com\", \"password\": \"open sesame\","
  "  \"protocol\": \"s2k\", \"iterations\": 1000, \"factor\": \"hsa2\","
  "  \"phones\": [{\"id\": 1, \"number\": \"+1 (•••) •••-••58\", \"push_mode\": \"sms\"}]}"
  "]}";

typedef struct {
  ICloudMockServer *server;
  ICloudEndpoint *endpoint;
  char *sessions;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->server = icloud_mock_server_new ();
  icloud_mock_server_load_accounts_from_data (f->server, accounts, -1, &error);
  g_assert_no_error (error);
  icloud_mock_server_start (f->server, &error);
  g_assert_no_error (error);
  f->endpoint = icloud_endpoint_new_for_base_uri (icloud_mock_server_get_base_uri (f->server), &error);
  g_assert_no_error (error);
  f->sessions = g_dir_make_tmp ("my-app-test-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  icloud_mock_server_stop (f->server);
  g_clear_object (&f->server);
  g_clear_object (&f->endpoint);
  g_free (f->sessions);          /* a real test removes the directory too */
}

static ICloudSession *
start_session (Fixture *f, const char *password, GError **error)
{
  return g_initable_new (ICLOUD_TYPE_SESSION, NULL, error,
                         "apple-id", "jane@example.com",
                         "password", password,
                         "endpoint", f->endpoint,
                         "cookie-directory", f->sessions,
                         NULL);
}

static void
test_sms_code (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = start_session (f, "open sesame", &error);
  g_autoptr(GListModel) phones = NULL;
  g_autoptr(ICloudTrustedPhone) phone = NULL;
  g_autofree char *code = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_NEEDS_2FA);

  phones = icloud_session_get_trusted_phone_numbers (session, NULL, &error);
  g_assert_no_error (error);
  phone = g_list_model_get_item (phones, 0);
  g_assert_true (icloud_session_request_2fa_code (session, phone, NULL, &error));
  g_assert_no_error (error);

  /* The code the user would read on the phone. */
  code = icloud_mock_server_dup_last_code (f->server, "jane@example.com",
                                           icloud_trusted_phone_get_id (phone));
  g_assert_nonnull (code);
  g_assert_true (icloud_session_validate_2fa_code (session, code, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
}

static void
test_server_down (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;

  /* The next sign-in request is answered 503, Retry-After: 60. */
  icloud_mock_server_inject_fault (f->server, "/appleauth/auth/signin/init",
                                   ICLOUD_MOCK_FAULT_503, 1, 60);
  session = start_session (f, "open sesame", &error);
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_THROTTLED);
  g_assert_cmpuint (icloud_error_get_retry_after (error), ==, 60);
  g_assert_null (session);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add ("/my-app/sign-in/sms-code", Fixture, NULL, setup, test_sms_code, teardown);
  g_test_add ("/my-app/sign-in/server-down", Fixture, NULL, setup, test_server_down, teardown);
  return g_test_run ();
}
