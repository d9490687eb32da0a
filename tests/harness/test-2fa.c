/* test-2fa.c: the second factor (the `hsa2` and `hsa` plugins) against the
 * fake iCloud server: push and SMS codes, wrong and right codes, trust and
 * its replay, headless verification in another process, security keys, the
 * two shapes of Apple's auth options, 2SA, cancellation, the async API and
 * the debug log.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <icloud-glib/icloud-glib.h>

#include "test-names.h"
#include "test-utils.h"

#define AUTH "/appleauth/auth"
#define PATH_OPTIONS       AUTH
#define PATH_SRP_INIT      AUTH "/signin/init"
#define PATH_PUSH          AUTH "/verify/trusteddevice"
#define PATH_DEVICE_CODE   AUTH "/verify/trusteddevice/securitycode"
#define PATH_SMS           AUTH "/verify/phone"
#define PATH_PHONE_CODE    AUTH "/verify/phone/securitycode"
#define PATH_TRUST         AUTH "/2sv/trust"

#define ID_2FA  "2fa@example.com"
#define ID_2SA  "2sa@example.com"
#define ID_KEYS "keys@example.com"
#define ID_NONE "user@example.com"

/* Accounts of this file only: the two HTML shapes and JSON, with the same
 * phones (one of them called rather than texted). */
#define SHAPE_PHONES \
  "\"phones\": [{\"id\": 1, \"number\": \"+1 (•••) •••-••58\", \"push_mode\": \"sms\"}," \
  "             {\"id\": 7, \"number\": \"+33 • •• •• •• 42\", \"push_mode\": \"voice\"}]"

static const char shape_accounts[] =
  "{\"accounts\": ["
  " {\"apple_id\": \"direct@example.com\", \"password\": \"direct shape\", \"iterations\": 1000,"
  "  \"factor\": \"hsa2\", \"options_shape\": \"direct\", " SHAPE_PHONES "},"
  " {\"apple_id\": \"bridged@example.com\", \"password\": \"bridged shape\", \"iterations\": 1000,"
  "  \"factor\": \"hsa2\", \"options_shape\": \"bridge\", " SHAPE_PHONES "},"
  " {\"apple_id\": \"json@example.com\", \"password\": \"json shape\", \"iterations\": 1000,"
  "  \"factor\": \"hsa2\", \"options_shape\": \"direct\", " SHAPE_PHONES "}"
  "]}";

typedef struct {
  TestFixture base;
  JsonParser *accounts;   /* the fixture file, for passwords and keys */
} Fixture;

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  const char *path = g_getenv ("ICLOUD_MOCK_ACCOUNTS");

  g_assert_nonnull (path);

  fixture->accounts = json_parser_new ();
  json_parser_load_from_file (fixture->accounts, path, &error);
  g_assert_no_error (error);

  test_fixture_load (&fixture->base, NULL);
  test_fixture_load (&fixture->base, shape_accounts);
  test_fixture_start (&fixture->base, NULL);

  /* In the run's temporary directory, outside the test's isolated dirs: a
   * subprocess of g_test_trap_subprocess() runs the same test path and, when
   * it ends, deletes that test's directory, parent's session included. */
  {
    g_autofree char *name = g_strdelimit (g_strconcat ("icloud-sessions", g_test_get_path (), NULL),
                                          "/", '-');

    g_assert_nonnull (g_getenv ("G_TEST_TMPDIR"));
    fixture->base.dir = g_build_filename (g_getenv ("G_TEST_TMPDIR"), name, NULL);
  }
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  user_data)
{
  g_assert_cmpuint (icloud_mock_server_get_isolation_violations (fixture->base.server), ==, 0);
  test_fixture_teardown (&fixture->base, user_data);
  g_clear_object (&fixture->accounts);
}

/* The fixture file's account object for @apple_id. */
static JsonObject *
fixture_account (Fixture    *fixture,
                 const char *apple_id)
{
  JsonObject *root = json_node_get_object (json_parser_get_root (fixture->accounts));
  JsonArray *accounts = json_object_get_array_member (root, "accounts");

  for (guint i = 0; i < json_array_get_length (accounts); i++)
    {
      JsonObject *account = json_array_get_object_element (accounts, i);
      if (g_strcmp0 (json_object_get_string_member (account, "apple_id"), apple_id) == 0)
        return account;
    }
  g_assert_not_reached ();
  return NULL;
}

static const char *
password_of (Fixture    *fixture,
             const char *apple_id)
{
  return json_object_get_string_member (fixture_account (fixture, apple_id), "password");
}

static ICloudSession *
sign_in (Fixture    *fixture,
         const char *apple_id)
{
  g_autoptr(GError) error = NULL;
  ICloudSession *session;

  session = test_session_new (&fixture->base, apple_id, password_of (fixture, apple_id), &error);
  g_assert_no_error (error);
  g_assert_nonnull (session);
  return session;
}

/* The same, in a subprocess: the endpoint and the directory from the
 * parent's environment. */
static ICloudSession *
child_session (const char  *apple_id,
               GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  TestFixture child = { 0, };
  ICloudSession *session;

  child.endpoint = icloud_endpoint_new_for_base_uri (g_getenv ("TEST_BASE_URI"), &local_error);
  g_assert_no_error (local_error);
  child.dir = g_strdup (g_getenv ("TEST_DIR"));
  session = test_session_new (&child, apple_id, NULL, error);
  test_fixture_teardown (&child, NULL);
  return session;
}

static void
export_to_child (Fixture *fixture)
{
  g_setenv ("TEST_BASE_URI", icloud_mock_server_get_base_uri (fixture->base.server), TRUE);
  g_setenv ("TEST_DIR", fixture->base.dir, TRUE);
}

/* A code that is certainly not @code. */
static char *
wrong_code (const char *code)
{
  return g_strdup_printf ("%06u", (guint) ((strtoul (code, NULL, 10) + 1) % 1000000));
}

static void
assert_challenge_2fa (ICloudSession *session)
{
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_NEEDS_2FA);
  g_assert_true (icloud_session_get_requires_2fa (session));
  g_assert_false (icloud_session_get_requires_2sa (session));
  g_assert_false (icloud_session_get_is_trusted_session (session));
}

static void
assert_trusted (ICloudSession *session)
{
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_assert_false (icloud_session_get_requires_2fa (session));
  g_assert_false (icloud_session_get_requires_2sa (session));
  g_assert_true (icloud_session_get_is_trusted_session (session));
}

static char *
session_data (const char *dir,
              const char *apple_id,
              const char *key)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *path = test_account_file (dir, apple_id, ".session.json");
  JsonObject *data;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  data = json_object_get_object_member (json_node_get_object (json_parser_get_root (parser)), "data");
  g_assert_nonnull (data);
  return g_strdup (json_object_get_string_member_with_default (data, key, NULL));
}

/* ------------------------------------------------------------------------ */
/* Push code, wrong then right, trust, and the trust used again */

static void
test_push_code (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(ICloudSession) again = NULL;
  g_autofree char *code = NULL;
  g_autofree char *wrong = NULL;

  if (g_test_subprocess ())
    {
      /* Another process, no password: the saved trusted session. */
      session = child_session (ID_2FA, &error);
      g_assert_no_error (error);
      assert_trusted (session);
      return;
    }

  session = sign_in (fixture, ID_2FA);
  assert_challenge_2fa (session);
  /* Apple no longer pushes unless asked. */
  g_assert_cmpuint (icloud_mock_server_count_codes_sent (fixture->base.server, ID_2FA, NULL), ==, 0);

  g_assert_true (icloud_session_request_2fa_code (session, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_mock_server_count_codes_sent (fixture->base.server, ID_2FA, NULL), ==, 1);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_PUSH), ==, 1);
  code = icloud_mock_server_dup_last_code (fixture->base.server, ID_2FA, NULL);
  g_assert_nonnull (code);
  wrong = wrong_code (code);

  /* A wrong code: the challenge stays, for another try. */
  g_assert_false (icloud_session_validate_2fa_code (session, wrong, NULL, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_INVALID_CODE);
  g_assert_null (strstr (error->message, wrong));
  g_clear_error (&error);
  assert_challenge_2fa (session);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_TRUST), ==, 0);

  /* The right one: trusted. */
  g_assert_true (icloud_session_validate_2fa_code (session, code, NULL, &error));
  g_assert_no_error (error);
  assert_trusted (session);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_DEVICE_CODE), ==, 2);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_PHONE_CODE), ==, 0);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_TRUST), ==, 1);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_SRP_INIT), ==, 1);
  g_clear_object (&session);

  /* The next start, without password: no SRP, no code. */
  again = test_session_new (&fixture->base, ID_2FA, NULL, &error);
  g_assert_no_error (error);
  assert_trusted (again);
  g_clear_object (&again);

  /* Nor in another process. */
  export_to_child (fixture);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();

  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_SRP_INIT), ==, 1);
  g_assert_cmpuint (icloud_mock_server_count_codes_sent (fixture->base.server, ID_2FA, NULL), ==, 1);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_DEVICE_CODE), ==, 2);

  /* Apple forgets the web session: the password is proved again, but the
   * trust token replayed in trustTokens spares the code. */
  icloud_mock_server_expire_sessions (fixture->base.server, ID_2FA);
  again = sign_in (fixture, ID_2FA);
  assert_trusted (again);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_SRP_INIT), ==, 2);
  g_assert_cmpuint (icloud_mock_server_count_codes_sent (fixture->base.server, ID_2FA, NULL), ==, 1);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_DEVICE_CODE), ==, 2);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_PHONE_CODE), ==, 0);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_TRUST), ==, 1);

  /* Once Apple revokes the trust, the code is asked for again. */
  icloud_mock_server_revoke_trust (fixture->base.server, ID_2FA);
  icloud_mock_server_expire_sessions (fixture->base.server, ID_2FA);
  g_clear_object (&again);
  again = sign_in (fixture, ID_2FA);
  assert_challenge_2fa (again);
}

/* ------------------------------------------------------------------------ */
/* SMS to the second phone */

static void
test_sms_phone_2 (Fixture       *fixture,
                  gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(GListModel) phones = NULL;
  g_autoptr(ICloudTrustedPhone) first = NULL;
  g_autoptr(ICloudTrustedPhone) second = NULL;
  g_autofree char *code = NULL;

  session = sign_in (fixture, ID_2FA);
  assert_challenge_2fa (session);

  phones = icloud_session_get_trusted_phone_numbers (session, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (phones);
  g_assert_true (g_list_model_get_item_type (phones) == ICLOUD_TYPE_TRUSTED_PHONE);
  g_assert_cmpuint (g_list_model_get_n_items (phones), ==, 2);
  first = g_list_model_get_item (phones, 0);
  second = g_list_model_get_item (phones, 1);
  g_assert_cmpstr (icloud_trusted_phone_get_id (first), ==, "1");
  g_assert_cmpstr (icloud_trusted_phone_get_id (second), ==, "2");
  g_assert_cmpstr (icloud_trusted_phone_get_obfuscated_number (second), ==, "••••• ••••12");
  g_assert_cmpstr (icloud_trusted_phone_get_push_mode (second), ==, "sms");

  g_assert_true (icloud_session_request_2fa_code (session, second, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_mock_server_count_codes_sent (fixture->base.server, ID_2FA, "2"), ==, 1);
  g_assert_cmpuint (icloud_mock_server_count_codes_sent (fixture->base.server, ID_2FA, "1"), ==, 0);
  g_assert_cmpuint (icloud_mock_server_count_codes_sent (fixture->base.server, ID_2FA, NULL), ==, 0);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_SMS), ==, 1);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_PUSH), ==, 0);

  /* The fake server accepts an SMS code only on the phone route. */
  code = icloud_mock_server_dup_last_code (fixture->base.server, ID_2FA, "2");
  g_assert_nonnull (code);
  g_assert_true (icloud_session_validate_2fa_code (session, code, NULL, &error));
  g_assert_no_error (error);
  assert_trusted (session);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_PHONE_CODE), ==, 1);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_DEVICE_CODE), ==, 0);
}

/* The phone chosen last wins; a push after an SMS goes back to the
 * trusted-device route. */
static void
test_sms_then_push (Fixture       *fixture,
                    gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(GListModel) phones = NULL;
  g_autoptr(ICloudTrustedPhone) first = NULL;
  g_autofree char *code = NULL;

  session = sign_in (fixture, ID_2FA);
  phones = icloud_session_get_trusted_phone_numbers (session, NULL, &error);
  g_assert_no_error (error);
  first = g_list_model_get_item (phones, 0);

  g_assert_true (icloud_session_request_2fa_code (session, first, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_mock_server_count_codes_sent (fixture->base.server, ID_2FA, "1"), ==, 1);
  g_assert_true (icloud_session_request_2fa_code (session, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_mock_server_count_codes_sent (fixture->base.server, ID_2FA, NULL), ==, 1);

  code = icloud_mock_server_dup_last_code (fixture->base.server, ID_2FA, NULL);
  g_assert_true (icloud_session_validate_2fa_code (session, code, NULL, &error));
  g_assert_no_error (error);
  assert_trusted (session);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_DEVICE_CODE), ==, 1);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_PHONE_CODE), ==, 0);
}

/* ------------------------------------------------------------------------ */
/* Headless: sign in in one process, verify in another */

static void
test_headless (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(GListModel) phones = NULL;
  g_autoptr(ICloudTrustedPhone) second = NULL;
  g_autofree char *code = NULL;

  if (g_test_subprocess ())
    {
      /* Process B: no password; the challenge saved by process A. */
      session = child_session (ID_2FA, &error);
      g_assert_no_error (error);
      assert_challenge_2fa (session);
      g_assert_true (icloud_session_validate_2fa_code (session, g_getenv ("TEST_CODE"), NULL, &error));
      g_assert_no_error (error);
      assert_trusted (session);
      return;
    }

  /* Process A: signs in, asks for an SMS to phone 2, and exits. */
  session = sign_in (fixture, ID_2FA);
  assert_challenge_2fa (session);
  phones = icloud_session_get_trusted_phone_numbers (session, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (phones), ==, 2);
  second = g_list_model_get_item (phones, 1);
  g_assert_true (icloud_session_request_2fa_code (session, second, NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&session);

  code = icloud_mock_server_dup_last_code (fixture->base.server, ID_2FA, "2");
  g_assert_nonnull (code);

  export_to_child (fixture);
  g_setenv ("TEST_CODE", code, TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_unsetenv ("TEST_CODE");
  g_test_trap_assert_passed ();

  /* B checked the code on the phone route A chose. */
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_PHONE_CODE), ==, 1);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_DEVICE_CODE), ==, 0);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_TRUST), ==, 1);

  /* Back here: trusted, without password. */
  session = test_session_new (&fixture->base, ID_2FA, NULL, &error);
  g_assert_no_error (error);
  assert_trusted (session);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_SRP_INIT), ==, 1);
}

/* ------------------------------------------------------------------------ */
/* Security keys: a state of its own and an error naming them, at once */

static void
assert_names_keys (Fixture      *fixture,
                   const GError *error)
{
  JsonArray *keys = json_object_get_array_member (fixture_account (fixture, ID_KEYS), "security_keys");

  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_SECURITY_KEY_REQUIRED);
  g_assert_cmpuint (json_array_get_length (keys), >=, 1);
  for (guint i = 0; i < json_array_get_length (keys); i++)
    g_assert_nonnull (strstr (error->message, json_array_get_string_element (keys, i)));
}

static void
test_security_key (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(ICloudSession) again = NULL;
  g_autoptr(GListModel) phones = NULL;
  gint64 start, elapsed;
  guint requests;

  session = sign_in (fixture, ID_KEYS);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_NEEDS_SECURITY_KEY);
  g_assert_false (icloud_session_get_requires_2sa (session));
  g_assert_false (icloud_session_get_is_trusted_session (session));

  requests = test_count_requests (&fixture->base, ID_KEYS, NULL);
  start = g_get_monotonic_time ();

  g_assert_false (icloud_session_request_2fa_code (session, NULL, NULL, &error));
  assert_names_keys (fixture, error);
  g_clear_error (&error);

  g_assert_false (icloud_session_validate_2fa_code (session, "123456", NULL, &error));
  assert_names_keys (fixture, error);
  g_clear_error (&error);

  phones = icloud_session_get_trusted_phone_numbers (session, NULL, &error);
  assert_names_keys (fixture, error);
  g_assert_null (phones);
  g_clear_error (&error);

  elapsed = g_get_monotonic_time () - start;
  g_test_message ("three refusals took %" G_GINT64_FORMAT " µs", elapsed);
  /* Without asking Apple, well within any timeout (valgrind included). */
  g_assert_cmpint (elapsed, <, 5 * G_USEC_PER_SEC);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_KEYS, NULL), ==, requests);
  g_assert_cmpuint (icloud_mock_server_count_codes_sent (fixture->base.server, ID_KEYS, NULL), ==, 0);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_NEEDS_SECURITY_KEY);
  g_clear_object (&session);

  /* The next start from the saved session says the same. */
  again = test_session_new (&fixture->base, ID_KEYS, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (again), ==, ICLOUD_AUTH_STATE_NEEDS_SECURITY_KEY);
  g_assert_false (icloud_session_validate_2fa_code (again, "123456", NULL, &error));
  assert_names_keys (fixture, error);
}

/* ------------------------------------------------------------------------ */
/* Apple's auth options: the page (direct and bridge boot args) and JSON */

static char *
describe_phones (GListModel *phones)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < g_list_model_get_n_items (phones); i++)
    {
      g_autoptr(ICloudTrustedPhone) phone = g_list_model_get_item (phones, i);

      g_string_append_printf (text, "%s|%s|%s;",
                              icloud_trusted_phone_get_id (phone),
                              icloud_trusted_phone_get_obfuscated_number (phone),
                              icloud_trusted_phone_get_push_mode (phone));
    }
  return g_string_free (text, FALSE);
}

static char *
phones_of_shape (Fixture    *fixture,
                 const char *apple_id,
                 const char *password,
                 guint       expected_option_requests)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(GListModel) phones = NULL;
  g_autoptr(ICloudTrustedPhone) called = NULL;

  session = test_session_new (&fixture->base, apple_id, password, &error);
  g_assert_no_error (error);
  assert_challenge_2fa (session);

  phones = icloud_session_get_trusted_phone_numbers (session, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (test_count_requests (&fixture->base, apple_id, PATH_OPTIONS), ==, expected_option_requests);

  /* The list is of use: an SMS (here a call) to the second phone. */
  g_assert_cmpuint (g_list_model_get_n_items (phones), ==, 2);
  called = g_list_model_get_item (phones, 1);
  g_assert_true (icloud_session_request_2fa_code (session, called, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_mock_server_count_codes_sent (fixture->base.server, apple_id, "7"), ==, 1);

  return describe_phones (phones);
}

static void
test_options_shapes (Fixture       *fixture,
                     gconstpointer  user_data)
{
  g_autofree char *direct = NULL;
  g_autofree char *bridge = NULL;
  g_autofree char *json = NULL;

  /* The page, phones under direct.twoSV.phoneNumberVerification: read at
   * the first request. */
  direct = phones_of_shape (fixture, "direct@example.com", "direct shape", 1);
  g_assert_cmpstr (direct, ==, "1|(•••) •••-••58|sms;7|• •• •• •• 42|voice;");

  /* Under direct.twoSV.bridgeInitiateData.phoneNumberVerification. */
  bridge = phones_of_shape (fixture, "bridged@example.com", "bridged shape", 1);
  g_assert_cmpstr (bridge, ==, direct);

  /* A page with nothing to read: the JSON is asked for once more. */
  icloud_mock_server_inject_fault (fixture->base.server, PATH_OPTIONS,
                                   ICLOUD_MOCK_FAULT_WRONG_CONTENT_TYPE, 1, 0);
  json = phones_of_shape (fixture, "json@example.com", "json shape", 2);
  g_assert_cmpstr (json, ==, direct);
}

/* The options of another process's sign-in are read again. */
static void
test_options_other_process (Fixture       *fixture,
                            gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;

  if (g_test_subprocess ())
    {
      g_autoptr(GListModel) phones = NULL;

      session = child_session ("bridge@example.com", &error);
      g_assert_no_error (error);
      assert_challenge_2fa (session);
      phones = icloud_session_get_trusted_phone_numbers (session, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (g_list_model_get_n_items (phones), ==, 1);
      return;
    }

  session = sign_in (fixture, "bridge@example.com");
  assert_challenge_2fa (session);
  g_clear_object (&session);

  export_to_child (fixture);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  /* One read by each process's sign-in; the list came from the child's. */
  g_assert_cmpuint (test_count_requests (&fixture->base, "bridge@example.com", PATH_OPTIONS), ==, 2);
}

/* Options that cannot be read do not stop the sign-in (a pushed code may
 * still be typed); the phones are read again when asked for. */
static void
test_options_unreadable (Fixture       *fixture,
                         gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(GListModel) phones = NULL;
  g_autofree char *code = NULL;

  /* Both the page and the JSON of the sign-in are garbage. */
  icloud_mock_server_inject_fault (fixture->base.server, PATH_OPTIONS, ICLOUD_MOCK_FAULT_MALFORMED, 2, 0);
  session = sign_in (fixture, ID_2FA);
  assert_challenge_2fa (session);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_OPTIONS), ==, 2);

  phones = icloud_session_get_trusted_phone_numbers (session, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (phones), ==, 2);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_OPTIONS), ==, 3);
  g_clear_object (&phones);

  /* Apple refuses the options: that error, not an empty list. */
  g_clear_object (&session);
  icloud_mock_server_inject_fault (fixture->base.server, PATH_OPTIONS, ICLOUD_MOCK_FAULT_503, 1, 30);
  session = test_session_new (&fixture->base, ID_2FA, NULL, &error);
  g_assert_no_error (error);
  assert_challenge_2fa (session);
  icloud_mock_server_inject_fault (fixture->base.server, PATH_OPTIONS, ICLOUD_MOCK_FAULT_503, 1, 30);
  phones = icloud_session_get_trusted_phone_numbers (session, NULL, &error);
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_THROTTLED);
  g_assert_null (phones);
  g_clear_error (&error);

  /* The code route works all the same. */
  g_assert_true (icloud_session_request_2fa_code (session, NULL, NULL, &error));
  g_assert_no_error (error);
  code = icloud_mock_server_dup_last_code (fixture->base.server, ID_2FA, NULL);
  g_assert_true (icloud_session_validate_2fa_code (session, code, NULL, &error));
  g_assert_no_error (error);
  assert_trusted (session);
}

/* ------------------------------------------------------------------------ */
/* 2SA */

static void
test_2sa (Fixture       *fixture,
          gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(ICloudSession) again = NULL;
  g_autoptr(GListModel) devices = NULL;
  g_autoptr(ICloudTrustedDevice) device = NULL;
  g_autofree char *code = NULL;
  g_autofree char *wrong = NULL;
  JsonArray *expected = json_object_get_array_member (fixture_account (fixture, ID_2SA), "devices");

  session = sign_in (fixture, ID_2SA);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_NEEDS_2SA);
  g_assert_true (icloud_session_get_requires_2sa (session));
  g_assert_false (icloud_session_get_requires_2fa (session));
  g_assert_false (icloud_session_get_is_trusted_session (session));

  devices = icloud_session_get_trusted_devices (session, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_list_model_get_item_type (devices) == ICLOUD_TYPE_TRUSTED_DEVICE);
  g_assert_cmpuint (g_list_model_get_n_items (devices), ==, json_array_get_length (expected));
  g_assert_cmpuint (g_list_model_get_n_items (devices), >=, 2);
  for (guint i = 0; i < json_array_get_length (expected); i++)
    {
      g_autoptr(ICloudTrustedDevice) listed = g_list_model_get_item (devices, i);
      JsonObject *want = json_array_get_object_element (expected, i);

      g_assert_cmpstr (icloud_trusted_device_get_id (listed), ==,
                       json_object_get_string_member (want, "deviceId"));
      g_assert_cmpstr (icloud_trusted_device_get_phone_number (listed), ==,
                       json_object_get_string_member (want, "phoneNumber"));
      g_assert_cmpstr (icloud_trusted_device_get_device_type (listed), ==,
                       json_object_get_string_member (want, "deviceType"));
    }

  /* The second device, not just the first. */
  device = g_list_model_get_item (devices, 1);
  g_assert_true (icloud_session_send_verification_code (session, device, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_mock_server_count_codes_sent (fixture->base.server, ID_2SA,
                                                         icloud_trusted_device_get_id (device)), ==, 1);
  g_assert_cmpuint (icloud_mock_server_count_codes_sent (fixture->base.server, ID_2SA, "1"), ==, 0);
  code = icloud_mock_server_dup_last_code (fixture->base.server, ID_2SA, icloud_trusted_device_get_id (device));
  g_assert_nonnull (code);
  wrong = wrong_code (code);

  g_assert_false (icloud_session_validate_verification_code (session, device, wrong, NULL, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_INVALID_CODE);
  g_assert_null (strstr (error->message, wrong));
  g_clear_error (&error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_NEEDS_2SA);
  g_assert_true (icloud_session_get_requires_2sa (session));

  g_assert_true (icloud_session_validate_verification_code (session, device, code, NULL, &error));
  g_assert_no_error (error);
  assert_trusted (session);
  g_clear_object (&session);

  again = test_session_new (&fixture->base, ID_2SA, NULL, &error);
  g_assert_no_error (error);
  assert_trusted (again);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2SA, PATH_SRP_INIT), ==, 1);
  g_assert_cmpuint (icloud_mock_server_count_codes_sent (fixture->base.server, ID_2SA,
                                                         icloud_trusted_device_get_id (device)), ==, 1);
}

/* ------------------------------------------------------------------------ */
/* Calls in the wrong state */

static void
test_wrong_state (Fixture       *fixture,
                  gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) plain = NULL;
  g_autoptr(ICloudSession) two_factor = NULL;
  g_autoptr(ICloudSession) two_step = NULL;
  g_autoptr(ICloudTrustedDevice) device = icloud_trusted_device_new ("1", "SMS", "*******58", "");
  g_autoptr(GListModel) list = NULL;

  plain = sign_in (fixture, ID_NONE);
  g_assert_cmpint (icloud_session_get_state (plain), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_assert_false (icloud_session_validate_2fa_code (plain, "123456", NULL, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_NOT_AUTHENTICATED);
  g_clear_error (&error);
  g_assert_false (icloud_session_request_2fa_code (plain, NULL, NULL, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_NOT_AUTHENTICATED);
  g_clear_error (&error);
  g_assert_cmpint (icloud_session_get_state (plain), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);

  two_factor = sign_in (fixture, ID_2FA);
  list = icloud_session_get_trusted_devices (two_factor, NULL, &error);
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_NOT_AUTHENTICATED);
  g_assert_null (list);
  g_clear_error (&error);
  g_assert_false (icloud_session_send_verification_code (two_factor, device, NULL, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_NOT_AUTHENTICATED);
  g_clear_error (&error);
  g_assert_false (icloud_session_validate_verification_code (two_factor, device, "123456", NULL, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_NOT_AUTHENTICATED);
  g_clear_error (&error);
  assert_challenge_2fa (two_factor);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, "/setup/ws/1/listDevices"), ==, 0);

  two_step = sign_in (fixture, ID_2SA);
  list = icloud_session_get_trusted_phone_numbers (two_step, NULL, &error);
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_NOT_AUTHENTICATED);
  g_assert_null (list);
  g_clear_error (&error);
  g_assert_false (icloud_session_validate_2fa_code (two_step, "123456", NULL, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_NOT_AUTHENTICATED);
  g_clear_error (&error);
  g_assert_cmpint (icloud_session_get_state (two_step), ==, ICLOUD_AUTH_STATE_NEEDS_2SA);
}

/* ------------------------------------------------------------------------ */
/* Cancelling the code check in flight */

static void
test_cancel_validate (Fixture       *fixture,
                      gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autofree char *code = NULL;
  guint before;

  session = sign_in (fixture, ID_2FA);
  g_assert_true (icloud_session_request_2fa_code (session, NULL, NULL, &error));
  g_assert_no_error (error);
  code = icloud_mock_server_dup_last_code (fixture->base.server, ID_2FA, NULL);

  /* The server holds the answer back; cancel once the code arrived. */
  icloud_mock_server_inject_fault_full (fixture->base.server, PATH_DEVICE_CODE,
                                        ICLOUD_MOCK_FAULT_SLOW, 1, 0, 3000);
  before = test_count_requests (&fixture->base, ID_2FA, PATH_DEVICE_CODE);
  icloud_session_validate_2fa_code_async (session, code, cancellable, test_async_ready, &result);
  while (result == NULL)
    {
      if (!g_cancellable_is_cancelled (cancellable) &&
          test_count_requests (&fixture->base, ID_2FA, PATH_DEVICE_CODE) > before)
        g_cancellable_cancel (cancellable);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  g_assert_true (g_cancellable_is_cancelled (cancellable));
  g_assert_false (icloud_session_validate_2fa_code_finish (session, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  icloud_mock_server_clear_faults (fixture->base.server);

  assert_challenge_2fa (session);
  g_assert_cmpuint (test_count_requests (&fixture->base, ID_2FA, PATH_TRUST), ==, 0);

  /* Usable afterwards. The fake server had already used up that code (as
   * Apple would have): a new one is asked for and checked. */
  g_free (code);
  g_assert_true (icloud_session_request_2fa_code (session, NULL, NULL, &error));
  g_assert_no_error (error);
  code = icloud_mock_server_dup_last_code (fixture->base.server, ID_2FA, NULL);
  g_assert_true (icloud_session_validate_2fa_code (session, code, NULL, &error));
  g_assert_no_error (error);
  assert_trusted (session);
}

/* ------------------------------------------------------------------------ */
/* The async API on the default main context */

static void
test_async (Fixture       *fixture,
            gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GObject) source = NULL;
  g_autoptr(GObject) object = NULL;
  g_autoptr(GListModel) phones = NULL;
  g_autoptr(ICloudTrustedPhone) phone = NULL;
  g_autofree char *code = NULL;
  g_autofree char *wrong = NULL;
  ICloudSession *session;

  g_async_initable_new_async (ICLOUD_TYPE_SESSION, G_PRIORITY_DEFAULT, NULL,
                              test_async_ready, &result,
                              "apple-id", ID_2FA,
                              "password", password_of (fixture, ID_2FA),
                              "endpoint", fixture->base.endpoint,
                              "cookie-directory", fixture->base.dir,
                              NULL);
  source = g_async_result_get_source_object (test_wait_result (&result));
  object = g_async_initable_new_finish (G_ASYNC_INITABLE (source), result, &error);
  g_assert_no_error (error);
  g_clear_object (&result);
  session = ICLOUD_SESSION (object);
  assert_challenge_2fa (session);

  icloud_session_get_trusted_phone_numbers_async (session, NULL, test_async_ready, &result);
  phones = icloud_session_get_trusted_phone_numbers_finish (session, test_wait_result (&result), &error);
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpuint (g_list_model_get_n_items (phones), ==, 2);
  phone = g_list_model_get_item (phones, 0);

  icloud_session_request_2fa_code_async (session, phone, NULL, test_async_ready, &result);
  g_assert_true (icloud_session_request_2fa_code_finish (session, test_wait_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpuint (icloud_mock_server_count_codes_sent (fixture->base.server, ID_2FA, "1"), ==, 1);
  code = icloud_mock_server_dup_last_code (fixture->base.server, ID_2FA, "1");
  wrong = wrong_code (code);

  icloud_session_validate_2fa_code_async (session, wrong, NULL, test_async_ready, &result);
  g_assert_false (icloud_session_validate_2fa_code_finish (session, test_wait_result (&result), &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_INVALID_CODE);
  g_clear_error (&error);
  g_clear_object (&result);
  assert_challenge_2fa (session);

  icloud_session_validate_2fa_code_async (session, code, NULL, test_async_ready, &result);
  g_assert_true (icloud_session_validate_2fa_code_finish (session, test_wait_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  assert_trusted (session);
}

/* ------------------------------------------------------------------------ */
/* No code nor token in the debug log */

static GString *captured_log;

static GLogWriterOutput
capture_writer (GLogLevelFlags   level,
                const GLogField *fields,
                gsize            n_fields,
                gpointer         user_data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
      {
        if (fields[i].length < 0)
          g_string_append (captured_log, fields[i].value);
        else
          g_string_append_len (captured_log, fields[i].value, fields[i].length);
        g_string_append_c (captured_log, '\n');
      }
  return G_LOG_WRITER_HANDLED;
}

/* ICLOUD_DEBUG's lines ("icloud-http: …") go to g_printerr (): captured
 * too, and still written to stderr. */
static void
capture_printerr (const char *string)
{
  g_string_append (captured_log, string);
  fputs (string, stderr);
}

static void
assert_not_logged (const char *secret)
{
  g_assert_nonnull (secret);
  g_assert_cmpuint (strlen (secret), >=, 6);
  g_assert_false (test_contains_word (captured_log->str, secret));
}

static void
test_secrets_not_logged (Fixture       *fixture,
                         gconstpointer  user_data)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(ICloudSession) session = NULL;
      g_autoptr(ICloudSession) two_step = NULL;
      g_autoptr(GListModel) phones = NULL;
      g_autoptr(GListModel) devices = NULL;
      g_autoptr(ICloudTrustedPhone) phone = NULL;
      g_autoptr(ICloudTrustedDevice) device = NULL;
      g_autofree char *push_code = NULL;
      g_autofree char *sms_code = NULL;
      g_autofree char *sms_wrong = NULL;
      g_autofree char *step_code = NULL;
      g_autofree char *step_wrong = NULL;
      g_autofree char *trust = NULL;
      g_autofree char *step_trust = NULL;

      /* Everything logged goes to capture_writer (debug messages included),
       * and libsoup's headers, printed by ICLOUD_DEBUG, to capture_printerr;
       * this process has its own fake server. The parent's environment is
       * left alone, so its TAP output stays clean. */
      captured_log = g_string_new (NULL);
      g_log_set_writer_func (capture_writer, NULL, NULL);
      g_set_printerr_handler (capture_printerr);
      g_log_set_debug_enabled (TRUE);
      g_setenv ("ICLOUD_DEBUG", "http", TRUE);

      /* 2FA: a push, then an SMS, a wrong code, the right one. */
      session = sign_in (fixture, ID_2FA);
      g_assert_true (icloud_session_request_2fa_code (session, NULL, NULL, &error));
      g_assert_no_error (error);
      push_code = icloud_mock_server_dup_last_code (fixture->base.server, ID_2FA, NULL);
      phones = icloud_session_get_trusted_phone_numbers (session, NULL, &error);
      g_assert_no_error (error);
      phone = g_list_model_get_item (phones, 1);
      g_assert_true (icloud_session_request_2fa_code (session, phone, NULL, &error));
      g_assert_no_error (error);
      sms_code = icloud_mock_server_dup_last_code (fixture->base.server, ID_2FA, "2");
      sms_wrong = wrong_code (sms_code);
      g_assert_false (icloud_session_validate_2fa_code (session, sms_wrong, NULL, &error));
      g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_INVALID_CODE);
      g_clear_error (&error);
      g_assert_true (icloud_session_validate_2fa_code (session, sms_code, NULL, &error));
      g_assert_no_error (error);
      assert_trusted (session);

      /* 2SA: a wrong code, the right one. */
      two_step = sign_in (fixture, ID_2SA);
      devices = icloud_session_get_trusted_devices (two_step, NULL, &error);
      g_assert_no_error (error);
      device = g_list_model_get_item (devices, 0);
      g_assert_true (icloud_session_send_verification_code (two_step, device, NULL, &error));
      g_assert_no_error (error);
      step_code = icloud_mock_server_dup_last_code (fixture->base.server, ID_2SA,
                                                    icloud_trusted_device_get_id (device));
      step_wrong = wrong_code (step_code);
      g_assert_false (icloud_session_validate_verification_code (two_step, device, step_wrong, NULL, &error));
      g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_INVALID_CODE);
      g_clear_error (&error);
      g_assert_true (icloud_session_validate_verification_code (two_step, device, step_code, NULL, &error));
      g_assert_no_error (error);
      assert_trusted (two_step);

      /* The log was really captured, with the requests and the headers. */
      g_assert_nonnull (strstr (captured_log->str, "icloud-http: > PUT /appleauth/auth/verify/phone "));
      g_assert_nonnull (strstr (captured_log->str, "/verify/phone/securitycode"));
      g_assert_nonnull (strstr (captured_log->str, "/validateVerificationCode"));
      g_assert_nonnull (strstr (captured_log->str, "/2sv/trust"));
      g_assert_nonnull (strstr (captured_log->str, "[redacted]"));
      g_assert_nonnull (strstr (captured_log->str, "&clientId=[redacted]&"));

      assert_not_logged (push_code);
      assert_not_logged (sms_code);
      assert_not_logged (sms_wrong);
      assert_not_logged (step_code);
      assert_not_logged (step_wrong);
      /* A query value is redacted like a header. */
      assert_not_logged (icloud_session_get_client_id (two_step));

      /* Nor the trust tokens Apple gave. */
      trust = session_data (fixture->base.dir, ID_2FA, "trust_token");
      step_trust = session_data (fixture->base.dir, ID_2SA, "trust_token");
      assert_not_logged (trust);
      assert_not_logged (step_trust);

      g_string_free (captured_log, TRUE);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* ------------------------------------------------------------------------ */
/* The wrong code in every shape of Apple's service errors (issue 11): the
 * plugins ask the response's one reader, which reads them all. */

#define PATH_2SA_VALIDATE "/setup/ws/1/validateVerificationCode"

static const char * const wrong_code_bodies[] = {
  "{\"service_errors\":[{\"code\":\"-21669\",\"title\":\"Incorrect Verification Code\"}],\"hasError\":true}",
  "{\"serviceErrors\":[{\"code\":-21669}]}",
  "{\"serviceErrors\":[{\"code\":\"-20000\"},{\"code\":\"-21669\"}]}",
  "{\"success\":false,\"errorCode\":-21669,\"errorMessage\":\"Incorrect verification code.\"}",
  "{\"success\":false,\"errorCode\":\"-21669\"}",
  "{\"serverErrorCode\":-21669}",
};

static void
test_wrong_code_shapes_hsa2 (Fixture       *fixture,
                             gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = sign_in (fixture, ID_2FA);

  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_NEEDS_2FA);
  for (guint i = 0; i < G_N_ELEMENTS (wrong_code_bodies); i++)
    {
      g_test_message ("%s", wrong_code_bodies[i]);
      icloud_mock_server_inject_reply (fixture->base.server, PATH_DEVICE_CODE, 400, wrong_code_bodies[i], 1);
      g_assert_false (icloud_session_validate_2fa_code (session, "123456", NULL, &error));
      g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_INVALID_CODE);
      g_clear_error (&error);
    }
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_NEEDS_2FA);
}

static void
test_wrong_code_shapes_hsa (Fixture       *fixture,
                            gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = sign_in (fixture, ID_2SA);
  g_autoptr(GListModel) devices = NULL;
  g_autoptr(ICloudTrustedDevice) device = NULL;

  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_NEEDS_2SA);
  devices = icloud_session_get_trusted_devices (session, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (devices), >=, 1);
  device = g_list_model_get_item (devices, 0);

  /* Apple answers 2SA's wrong code with a 200 (protocol §9); a 400 reads
   * the same. */
  for (guint status = 200; status <= 400; status += 200)
    for (guint i = 0; i < G_N_ELEMENTS (wrong_code_bodies); i++)
      {
        g_test_message ("%u %s", status, wrong_code_bodies[i]);
        icloud_mock_server_inject_reply (fixture->base.server, PATH_2SA_VALIDATE, status, wrong_code_bodies[i], 1);
        g_assert_false (icloud_session_validate_verification_code (session, device, "123456", NULL, &error));
        g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_INVALID_CODE);
        g_clear_error (&error);
      }

  /* A 200 that refuses without naming the code is no wrong code. */
  icloud_mock_server_inject_reply (fixture->base.server, PATH_2SA_VALIDATE, 200, "{\"hasError\":true}", 1);
  g_assert_false (icloud_session_validate_verification_code (session, device, "123456", NULL, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/2fa/push-code", test_push_code);
  ADD ("/2fa/sms/second-phone", test_sms_phone_2);
  ADD ("/2fa/sms/then-push", test_sms_then_push);
  ADD ("/2fa/headless/two-processes", test_headless);
  ADD ("/2fa/security-key", test_security_key);
  ADD ("/2fa/options/html-and-json", test_options_shapes);
  ADD ("/2fa/options/other-process", test_options_other_process);
  ADD ("/2fa/options/unreadable", test_options_unreadable);
  ADD ("/2fa/wrong-state", test_wrong_state);
  ADD ("/2fa/cancel/validate", test_cancel_validate);
  ADD ("/2fa/async", test_async);
  ADD ("/2fa/secrets/not-logged", test_secrets_not_logged);
  ADD ("/2sa/flow", test_2sa);
  ADD ("/2fa/wrong-code/every-shape", test_wrong_code_shapes_hsa2);
  ADD ("/2sa/wrong-code/every-shape", test_wrong_code_shapes_hsa);
#undef ADD

  return g_test_run ();
}
