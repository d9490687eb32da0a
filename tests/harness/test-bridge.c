/* test-bridge.c: the HSA2 trusted-device bridge (hsa2-bridge.md, issue 14)
 * against the fake server: a sign-in over the bridge, a wrong code then the
 * right one, the invalid-nonce retry, the socket dropped at each stage, the
 * push service down, cancellation at each step, the legacy verifier, the
 * push service's quirks, and the push route when the bridge is off.
 *
 * The bridge lives on the session's main context: every call here is
 * asynchronous, on the default main context (the blocking twins never use
 * the bridge).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <icloud-glib/icloud-glib.h>
#include <libsoup/soup.h>

#include "icloud-mock-server.h"
#include "test-names.h"
#include "test-utils.h"

#define AUTH "/appleauth/auth"
#define PATH_PUSH          AUTH "/verify/trusteddevice"
#define PATH_DEVICE_CODE   AUTH "/verify/trusteddevice/securitycode"
#define PATH_SMS           AUTH "/verify/phone"
#define PATH_PHONE_CODE    AUTH "/verify/phone/securitycode"
#define PATH_TRUST         AUTH "/2sv/trust"
#define PATH_B0            AUTH "/bridge/step/0"
#define PATH_B2            AUTH "/bridge/step/2"
#define PATH_B4            AUTH "/bridge/step/4"
#define PATH_B6            AUTH "/bridge/step/6"
#define PATH_BV            AUTH "/bridge/code/validate"
#define PATH_WS            "/v2"

#define ID_BRIDGE  "bridge-prompt@example.com"
#define ID_DOWN    "bridge-down@example.com"
#define ID_LEGACY  "bridge-legacy@example.com"
#define ID_NOPHONE "bridge-nophone@example.com"

/* An account of this file only: the bridge, and no phone to fall back on. */
static const char extra_accounts[] =
  "{\"accounts\": ["
  " {\"apple_id\": \"" ID_NOPHONE "\", \"password\": \"bridge no phone\", \"iterations\": 1000,"
  "  \"factor\": \"hsa2\", \"phones\": [], \"bridge\": true}"
  "]}";

/* Small, so that nothing here waits long. */
#define TEST_TIMEOUT 5

typedef struct {
  TestFixture  base;
  JsonParser  *accounts;    /* data/accounts.json, for the passwords */
} Fixture;

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  const char *path = g_getenv ("ICLOUD_MOCK_ACCOUNTS");

  g_assert_nonnull (path);
  fixture->accounts = json_parser_new ();
  json_parser_load_from_file (fixture->accounts, path, &error);
  g_assert_no_error (error);

  test_fixture_load (&fixture->base, NULL);
  test_fixture_load (&fixture->base, extra_accounts);
  test_fixture_start (&fixture->base, NULL);

  name = g_strdelimit (g_strconcat ("icloud-sessions", g_test_get_path (), NULL), "/", '-');
  g_assert_nonnull (g_getenv ("G_TEST_TMPDIR"));
  fixture->base.dir = g_build_filename (g_getenv ("G_TEST_TMPDIR"), name, NULL);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  user_data)
{
  g_assert_cmpuint (icloud_mock_server_get_isolation_violations (fixture->base.server), ==, 0);
  g_clear_object (&fixture->accounts);
  test_fixture_teardown (&fixture->base, user_data);
}

static const char *
password_of (Fixture    *fixture,
             const char *apple_id)
{
  JsonObject *root = json_node_get_object (json_parser_get_root (fixture->accounts));
  JsonArray *accounts = json_object_get_array_member (root, "accounts");

  if (g_str_equal (apple_id, ID_NOPHONE))
    return "bridge no phone";
  for (guint i = 0; i < json_array_get_length (accounts); i++)
    {
      JsonObject *account = json_array_get_object_element (accounts, i);
      if (g_strcmp0 (json_object_get_string_member (account, "apple_id"), apple_id) == 0)
        return json_object_get_string_member (account, "password");
    }
  g_assert_not_reached ();
  return NULL;
}

static ICloudSession *
open_session (Fixture    *fixture,
              const char *apple_id,
              const char *password)
{
  g_autoptr(GError) error = NULL;
  ICloudSession *session;

  session = g_initable_new (ICLOUD_TYPE_SESSION, NULL, &error,
                            "apple-id", apple_id,
                            "password", password,
                            "endpoint", fixture->base.endpoint,
                            "cookie-directory", fixture->base.dir,
                            "timeout", TEST_TIMEOUT,
                            NULL);
  g_assert_no_error (error);
  g_assert_nonnull (session);
  return session;
}

/* A session waiting for a two-factor code. */
static ICloudSession *
sign_in (Fixture    *fixture,
         const char *apple_id)
{
  ICloudSession *session = open_session (fixture, apple_id, password_of (fixture, apple_id));

  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_NEEDS_2FA);
  g_assert_cmpint (icloud_session_get_code_delivery (session), ==, ICLOUD_CODE_DELIVERY_NONE);
  return session;
}

static guint
count (Fixture    *fixture,
       const char *path)
{
  return icloud_mock_server_count_requests (fixture->base.server, NULL, path);
}

static guint
log_length (Fixture *fixture)
{
  return icloud_mock_server_count_requests (fixture->base.server, NULL, NULL);
}

static char *
wrong_code (const char *code)
{
  return g_strdup_printf ("%06u", (guint) ((strtoul (code, NULL, 10) + 1) % 1000000));
}

static char *
device_code (Fixture    *fixture,
             const char *apple_id)
{
  char *code = icloud_mock_server_dup_last_code (fixture->base.server, apple_id, NULL);

  g_assert_nonnull (code);
  return code;
}

/* Runs the main context until @result is there; with @cancellable, cancels
 * it once @cancel_when says so (checked between iterations), and returns
 * in @log_at_cancel how long the server's request log was then. */
typedef gboolean (*CancelWhen) (Fixture *fixture);

static GAsyncResult *
wait_result (Fixture       *fixture,
             GAsyncResult **result,
             GCancellable  *cancellable,
             CancelWhen     cancel_when,
             guint         *log_at_cancel)
{
  while (*result == NULL)
    {
      if (cancellable != NULL && !g_cancellable_is_cancelled (cancellable) &&
          (cancel_when == NULL || cancel_when (fixture)))
        {
          *log_at_cancel = log_length (fixture);
          g_cancellable_cancel (cancellable);
        }
      g_main_context_iteration (NULL, cancellable == NULL || g_cancellable_is_cancelled (cancellable));
    }
  return *result;
}

static gboolean
request_code (Fixture        *fixture,
              ICloudSession  *session,
              GCancellable   *cancellable,
              CancelWhen      cancel_when,
              guint          *log_at_cancel,
              GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  icloud_session_request_2fa_code_async (session, NULL, cancellable, test_async_ready, &result);
  wait_result (fixture, &result, cancellable, cancel_when, log_at_cancel);
  return icloud_session_request_2fa_code_finish (session, result, error);
}

static gboolean
validate_code (Fixture        *fixture,
               ICloudSession  *session,
               const char     *code,
               GCancellable   *cancellable,
               CancelWhen      cancel_when,
               guint          *log_at_cancel,
               GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  icloud_session_validate_2fa_code_async (session, code, cancellable, test_async_ready, &result);
  wait_result (fixture, &result, cancellable, cancel_when, log_at_cancel);
  return icloud_session_validate_2fa_code_finish (session, result, error);
}

static void
request_ok (Fixture            *fixture,
            ICloudSession      *session,
            ICloudCodeDelivery  expected)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (request_code (fixture, session, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_code_delivery (session), ==, expected);
}

static void
validate_ok (Fixture       *fixture,
             ICloudSession *session,
             const char    *code)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (validate_code (fixture, session, code, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_assert_true (icloud_session_get_is_trusted_session (session));
}

/* After a failure: a new prompt, and its code signs in. */
static void
new_prompt_signs_in (Fixture       *fixture,
                     ICloudSession *session)
{
  g_autofree char *code = NULL;

  icloud_mock_server_clear_faults (fixture->base.server);
  request_ok (fixture, session, ICLOUD_CODE_DELIVERY_BRIDGE);
  code = device_code (fixture, ID_BRIDGE);
  validate_ok (fixture, session, code);
}

static gboolean
no_push_connection (gpointer user_data)
{
  return icloud_mock_server_get_n_push_connections (user_data) == 0;
}

/* The fake server sees every socket closed (libsoup's close handshake
 * takes a few iterations). */
static void
assert_sockets_closed (Fixture *fixture)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (!no_push_connection (fixture->base.server) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE), g_usleep (1000);
  g_assert_cmpuint (icloud_mock_server_get_n_push_connections (fixture->base.server), ==, 0);
}

static char *
session_file_contents (Fixture    *fixture,
                       const char *apple_id)
{
  g_autofree char *path = test_account_file (fixture->base.dir, apple_id, ".session.json");
  char *contents = NULL;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  return contents;
}

/* ------------------------------------------------------------------------ */
/* The whole sign-in over the bridge */

static void
test_sign_in (Fixture       *fixture,
              gconstpointer  user_data)
{
  g_autoptr(ICloudSession) session = sign_in (fixture, ID_BRIDGE);
  g_autoptr(ICloudSession) again = NULL;
  g_autofree char *code = NULL;

  request_ok (fixture, session, ICLOUD_CODE_DELIVERY_BRIDGE);
  /* one route per attempt (§h item 13) */
  g_assert_cmpuint (count (fixture, PATH_WS), ==, 1);
  g_assert_cmpuint (count (fixture, PATH_B0), ==, 1);
  g_assert_cmpuint (count (fixture, PATH_PUSH), ==, 0);
  g_assert_cmpuint (count (fixture, PATH_SMS), ==, 0);
  /* the socket stays open while the user reads the code */
  g_assert_cmpuint (icloud_mock_server_get_n_push_connections (fixture->base.server), ==, 1);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_NEEDS_2FA);

  code = device_code (fixture, ID_BRIDGE);
  validate_ok (fixture, session, code);
  g_assert_cmpuint (count (fixture, PATH_B2), ==, 1);
  g_assert_cmpuint (count (fixture, PATH_B4), ==, 1);
  g_assert_cmpuint (count (fixture, PATH_BV), ==, 1);
  g_assert_cmpuint (count (fixture, PATH_B6), ==, 1);
  g_assert_cmpuint (count (fixture, PATH_TRUST), ==, 1);
  /* the typed code never reached Apple */
  g_assert_cmpuint (count (fixture, PATH_DEVICE_CODE), ==, 0);
  assert_sockets_closed (fixture);
  g_clear_object (&session);

  /* saved, and used again without a code */
  again = open_session (fixture, ID_BRIDGE, NULL);
  g_assert_cmpint (icloud_session_get_state (again), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_assert_true (icloud_session_get_is_trusted_session (again));
  g_assert_cmpuint (count (fixture, PATH_B0), ==, 1);
  g_assert_cmpuint (icloud_mock_server_count_codes_sent (fixture->base.server, ID_BRIDGE, NULL), ==, 1);
}

/* A wrong code, then the right one on the same prompt */
static void
test_wrong_then_right (Fixture       *fixture,
                       gconstpointer  user_data)
{
  g_autoptr(ICloudSession) session = sign_in (fixture, ID_BRIDGE);
  g_autoptr(GError) error = NULL;
  g_autofree char *code = NULL;
  g_autofree char *wrong = NULL;

  request_ok (fixture, session, ICLOUD_CODE_DELIVERY_BRIDGE);
  code = device_code (fixture, ID_BRIDGE);
  wrong = wrong_code (code);

  g_assert_false (validate_code (fixture, session, wrong, NULL, NULL, NULL, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_INVALID_CODE);
  g_assert_null (strstr (error->message, wrong));
  g_clear_error (&error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_NEEDS_2FA);
  g_assert_cmpuint (count (fixture, PATH_B2), ==, 1);
  g_assert_cmpuint (count (fixture, PATH_B4), ==, 0);
  g_assert_cmpuint (count (fixture, PATH_BV), ==, 0);
  /* the prompt is still open */
  g_assert_cmpuint (icloud_mock_server_get_n_push_connections (fixture->base.server), ==, 1);

  validate_ok (fixture, session, code);
  g_assert_cmpuint (count (fixture, PATH_B2), ==, 2);
  g_assert_cmpuint (count (fixture, PATH_B0), ==, 1);
  g_assert_cmpuint (count (fixture, PATH_WS), ==, 1);
  assert_sockets_closed (fixture);
}

/* INVALID_NONCE: one more connection, with the server's time */
static void
test_invalid_nonce (Fixture       *fixture,
                    gconstpointer  user_data)
{
  g_autoptr(ICloudSession) session = sign_in (fixture, ID_BRIDGE);
  g_autofree char *code = NULL;

  icloud_mock_server_inject_fault (fixture->base.server, PATH_WS, ICLOUD_MOCK_FAULT_INVALID_NONCE, 1, 0);
  request_ok (fixture, session, ICLOUD_CODE_DELIVERY_BRIDGE);
  g_assert_cmpuint (count (fixture, PATH_WS), ==, 2);
  code = device_code (fixture, ID_BRIDGE);
  validate_ok (fixture, session, code);
  assert_sockets_closed (fixture);
}

/* Twice INVALID_NONCE: the bridge gives up, SMS instead */
static void
test_invalid_nonce_twice (Fixture       *fixture,
                          gconstpointer  user_data)
{
  g_autoptr(ICloudSession) session = sign_in (fixture, ID_BRIDGE);

  icloud_mock_server_inject_fault (fixture->base.server, PATH_WS, ICLOUD_MOCK_FAULT_INVALID_NONCE, 2, 0);
  request_ok (fixture, session, ICLOUD_CODE_DELIVERY_SMS);
  g_assert_cmpuint (count (fixture, PATH_WS), ==, 2);
  g_assert_cmpuint (count (fixture, PATH_B0), ==, 0);
  g_assert_cmpuint (count (fixture, PATH_SMS), ==, 1);
  assert_sockets_closed (fixture);
}

/* ------------------------------------------------------------------------ */
/* The bridge cannot start: SMS, else the push */

typedef struct {
  const char         *apple_id;
  const char         *fault;       /* on /v2, or NULL */
  ICloudCodeDelivery  route;
} FallbackCase;

static const FallbackCase fallback_cases[] = {
  { ID_BRIDGE,  ICLOUD_MOCK_FAULT_WS_CLOSE_AT_TOKEN,     ICLOUD_CODE_DELIVERY_SMS },
  { ID_BRIDGE,  ICLOUD_MOCK_FAULT_WS_CLOSE_AT_SUBSCRIBE, ICLOUD_CODE_DELIVERY_SMS },
  { ID_NOPHONE, ICLOUD_MOCK_FAULT_WS_CLOSE_AT_TOKEN,     ICLOUD_CODE_DELIVERY_TRUSTED_DEVICE },
  { ID_NOPHONE, ICLOUD_MOCK_FAULT_WS_CLOSE_AT_SUBSCRIBE, ICLOUD_CODE_DELIVERY_TRUSTED_DEVICE },
  { ID_BRIDGE,  ICLOUD_MOCK_FAULT_DROP,                  ICLOUD_CODE_DELIVERY_SMS },
  { ID_DOWN,    NULL,                                    ICLOUD_CODE_DELIVERY_SMS },
};

static void
test_fallback (Fixture       *fixture,
               gconstpointer  user_data)
{
  const FallbackCase *c = user_data;
  g_autoptr(ICloudSession) session = sign_in (fixture, c->apple_id);
  g_autofree char *code = NULL;

  if (c->fault != NULL)
    icloud_mock_server_inject_fault (fixture->base.server, PATH_WS, c->fault, 1, 0);
  request_ok (fixture, session, c->route);
  g_assert_cmpuint (count (fixture, PATH_SMS), ==, c->route == ICLOUD_CODE_DELIVERY_SMS ? 1 : 0);
  g_assert_cmpuint (count (fixture, PATH_PUSH), ==,
                    c->route == ICLOUD_CODE_DELIVERY_TRUSTED_DEVICE ? 1 : 0);
  assert_sockets_closed (fixture);

  /* the code of the route taken signs in */
  code = icloud_mock_server_dup_last_code (fixture->base.server, c->apple_id,
                                           c->route == ICLOUD_CODE_DELIVERY_SMS ? "1" : NULL);
  g_assert_nonnull (code);
  validate_ok (fixture, session, code);
  g_assert_cmpuint (count (fixture, PATH_PHONE_CODE), ==, c->route == ICLOUD_CODE_DELIVERY_SMS ? 1 : 0);
  g_assert_cmpuint (count (fixture, PATH_B2), ==, 0);
}

/* No first push within the timeout: the bridge gives up, SMS instead */
static void
test_silent (Fixture       *fixture,
             gconstpointer  user_data)
{
  g_autoptr(ICloudSession) session = sign_in (fixture, ID_BRIDGE);
  gint64 start;

  icloud_session_set_timeout (session, 1);
  icloud_mock_server_inject_fault (fixture->base.server, PATH_WS, ICLOUD_MOCK_FAULT_WS_SILENT, 1, 0);
  start = g_get_monotonic_time ();
  request_ok (fixture, session, ICLOUD_CODE_DELIVERY_SMS);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 4 * G_USEC_PER_SEC);
  g_assert_cmpuint (count (fixture, PATH_B0), ==, 1);
  g_assert_cmpuint (count (fixture, PATH_SMS), ==, 1);
  assert_sockets_closed (fixture);
}

/* ------------------------------------------------------------------------ */
/* The socket dropped once the prompt is shown: a clear error, nothing lost */

static void
test_dropped (Fixture       *fixture,
              gconstpointer  user_data)
{
  const char *fault = user_data;
  g_autoptr(ICloudSession) session = sign_in (fixture, ID_BRIDGE);
  g_autoptr(GError) error = NULL;
  g_autofree char *code = NULL;
  g_autofree char *saved = NULL;
  g_autofree char *saved_after = NULL;

  icloud_mock_server_inject_fault (fixture->base.server, PATH_WS, fault, 1, 0);
  request_ok (fixture, session, ICLOUD_CODE_DELIVERY_BRIDGE);
  code = device_code (fixture, ID_BRIDGE);
  saved = session_file_contents (fixture, ID_BRIDGE);

  g_assert_false (validate_code (fixture, session, code, NULL, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_false (test_contains_word (error->message, code));
  g_clear_error (&error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_NEEDS_2FA);
  assert_sockets_closed (fixture);
  saved_after = session_file_contents (fixture, ID_BRIDGE);
  g_assert_cmpstr (saved, ==, saved_after);
  g_assert_cmpuint (count (fixture, PATH_TRUST), ==, 0);

  /* a new prompt works */
  new_prompt_signs_in (fixture, session);
  g_assert_cmpuint (count (fixture, PATH_B0), ==, 2);
  assert_sockets_closed (fixture);
}

/* ------------------------------------------------------------------------ */
/* Cancellation: CANCELLED, the socket closed, nothing sent after */

/* In a subprocess whose log writer is watch_writer (): set once the bridge
 * started deriving the code's keys (scrypt, in a worker); and everything
 * logged, debug messages and ICLOUD_DEBUG's lines included. */
static gboolean deriving;
static GString *captured_log;

static GLogWriterOutput
watch_writer (GLogLevelFlags   log_level,
              const GLogField *fields,
              gsize            n_fields,
              gpointer         user_data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0)
      {
        if (strstr (fields[i].value, "Trusted-device bridge: deriving") != NULL)
          deriving = TRUE;
        g_string_append (captured_log, fields[i].value);
        g_string_append_c (captured_log, '\n');
      }
  /* what goes wrong stays visible (the test asserts on the copy) */
  if ((log_level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) != 0)
    return g_log_writer_default (log_level, fields, n_fields, user_data);
  return G_LOG_WRITER_HANDLED;
}

static void
capture_printerr (const char *string)
{
  g_string_append (captured_log, string);
  /* a failed assertion's message, among others */
  fputs (string, stderr);
}

/* Watches the log of this (sub)process. */
static void
watch_log (void)
{
  captured_log = g_string_new (NULL);
  g_log_set_writer_func (watch_writer, NULL, NULL);
  g_set_printerr_handler (capture_printerr);
  g_log_set_debug_enabled (TRUE);
}

static gboolean
when_deriving (Fixture *fixture)
{
  return deriving;
}

static gboolean
when_b0_sent (Fixture *fixture)
{
  return count (fixture, PATH_B0) >= 1;
}

static gboolean
when_b2_sent (Fixture *fixture)
{
  return count (fixture, PATH_B2) >= 1;
}

static gboolean
when_b4_sent (Fixture *fixture)
{
  return count (fixture, PATH_B4) >= 1;
}

static gboolean
when_bv_sent (Fixture *fixture)
{
  return count (fixture, PATH_BV) >= 1;
}

/* 300 ms after @path reached the server: its answer read long since, the
 * client waits for the push that answers it (which never comes: the
 * request got an injected 200, the server's handler did not run). */
static gboolean
a_while_after (Fixture    *fixture,
               const char *path)
{
  static gint64 seen;

  if (count (fixture, path) == 0)
    {
      seen = 0;
      return FALSE;
    }
  if (seen == 0)
    seen = g_get_monotonic_time ();
  return g_get_monotonic_time () - seen > 300 * G_TIME_SPAN_MILLISECOND;
}

static gboolean
when_waiting_for_p2 (Fixture *fixture)
{
  return a_while_after (fixture, PATH_B2);
}

static gboolean
when_waiting_for_p3 (Fixture *fixture)
{
  return a_while_after (fixture, PATH_B4);
}

static void
assert_cancelled (Fixture *fixture,
                  GError  *error,
                  guint    log_at_cancel)
{
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  assert_sockets_closed (fixture);
  /* a while more: nothing comes after the cancel */
  for (guint i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE), g_usleep (5000);
  g_assert_cmpuint (log_length (fixture), ==, log_at_cancel);
}

/* cancelled before it could start: nothing at all is sent */
static void
test_cancel_at_once (Fixture       *fixture,
                     gconstpointer  user_data)
{
  g_autoptr(ICloudSession) session = sign_in (fixture, ID_BRIDGE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  guint log_at_cancel = 0;

  g_assert_false (request_code (fixture, session, cancellable, NULL, &log_at_cancel, &error));
  assert_cancelled (fixture, error, log_at_cancel);
  g_assert_cmpuint (count (fixture, PATH_WS), ==, 0);
  g_assert_cmpint (icloud_session_get_code_delivery (session), ==, ICLOUD_CODE_DELIVERY_NONE);
  new_prompt_signs_in (fixture, session);
}

static gboolean
when_ws_requested (Fixture *fixture)
{
  return count (fixture, PATH_WS) >= 1;
}

/* while the WebSocket connects: its upgrade reached the server, which
 * answers late */
static void
test_cancel_upgrade (Fixture       *fixture,
                     gconstpointer  user_data)
{
  g_autoptr(ICloudSession) session = sign_in (fixture, ID_BRIDGE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  guint log_at_cancel = 0;

  icloud_mock_server_inject_fault_full (fixture->base.server, PATH_WS, ICLOUD_MOCK_FAULT_SLOW, 1, 0, 3000);
  g_assert_false (request_code (fixture, session, cancellable, when_ws_requested, &log_at_cancel, &error));
  assert_cancelled (fixture, error, log_at_cancel);
  g_assert_cmpuint (count (fixture, PATH_B0), ==, 0);
  g_assert_cmpuint (count (fixture, PATH_SMS), ==, 0);
}

/* while waiting for the first push (it never comes) */
static void
test_cancel_prompt (Fixture       *fixture,
                    gconstpointer  user_data)
{
  g_autoptr(ICloudSession) session = sign_in (fixture, ID_BRIDGE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  guint log_at_cancel = 0;

  icloud_mock_server_inject_fault (fixture->base.server, PATH_WS, ICLOUD_MOCK_FAULT_WS_SILENT, 1, 0);
  g_assert_false (request_code (fixture, session, cancellable, when_b0_sent, &log_at_cancel, &error));
  assert_cancelled (fixture, error, log_at_cancel);
  /* no fallback after a cancel */
  g_assert_cmpuint (count (fixture, PATH_SMS), ==, 0);
  g_assert_cmpuint (count (fixture, PATH_PUSH), ==, 0);
}

/* during validation: before bridge/step/2 (while scrypt runs), while
 * the answers of bridge/step/2, bridge/step/4 and bridge/code/validate
 * come late */
typedef struct {
  const char *slow_path;   /* answered late, or NULL */
  const char *empty_path;  /* answered 200 {} without a push, or NULL */
  CancelWhen  when;
  guint       b2, b4, bv;  /* what reached the server */
} CancelCase;

static const CancelCase cancel_cases[] = {
  { NULL,    NULL,    when_deriving,       0, 0, 0 },
  { PATH_B2, NULL,    when_b2_sent,        1, 0, 0 },
  { NULL,    PATH_B2, when_waiting_for_p2, 1, 0, 0 },
  { PATH_B4, NULL,    when_b4_sent,        1, 1, 0 },
  { NULL,    PATH_B4, when_waiting_for_p3, 1, 1, 0 },
  { PATH_BV, NULL,    when_bv_sent,        1, 1, 1 },
};

static void
test_cancel_validate (Fixture       *fixture,
                      gconstpointer  user_data)
{
  const CancelCase *c = user_data;
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *code = NULL;
  guint log_at_cancel = 0;

  if (c->when == when_deriving && !g_test_subprocess ())
    {
      /* the log is watched in a process of its own */
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }
  if (c->when == when_deriving)
    watch_log ();

  session = sign_in (fixture, ID_BRIDGE);
  request_ok (fixture, session, ICLOUD_CODE_DELIVERY_BRIDGE);
  code = device_code (fixture, ID_BRIDGE);
  if (c->slow_path != NULL)
    icloud_mock_server_inject_fault_full (fixture->base.server, c->slow_path, ICLOUD_MOCK_FAULT_SLOW, 1, 0, 3000);
  if (c->empty_path != NULL)
    icloud_mock_server_inject_reply (fixture->base.server, c->empty_path, 200, "{}", 1);

  g_assert_false (validate_code (fixture, session, code, cancellable, c->when, &log_at_cancel, &error));
  assert_cancelled (fixture, error, log_at_cancel);
  g_assert_cmpuint (count (fixture, PATH_B2), ==, c->b2);
  g_assert_cmpuint (count (fixture, PATH_B4), ==, c->b4);
  g_assert_cmpuint (count (fixture, PATH_BV), ==, c->bv);
  g_assert_cmpuint (count (fixture, PATH_B6), ==, 0);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_NEEDS_2FA);

  /* and a new prompt works */
  new_prompt_signs_in (fixture, session);
}

/* ------------------------------------------------------------------------ */
/* The legacy verifier (§e): the code goes to verify/trusteddevice */

static void
test_legacy (Fixture       *fixture,
             gconstpointer  user_data)
{
  g_autoptr(ICloudSession) session = sign_in (fixture, ID_LEGACY);
  g_autofree char *code = NULL;

  request_ok (fixture, session, ICLOUD_CODE_DELIVERY_BRIDGE);
  code = device_code (fixture, ID_LEGACY);
  validate_ok (fixture, session, code);
  g_assert_cmpuint (count (fixture, PATH_DEVICE_CODE), ==, 1);
  g_assert_cmpuint (count (fixture, PATH_B2), ==, 0);
  g_assert_cmpuint (count (fixture, PATH_BV), ==, 0);
  g_assert_cmpuint (count (fixture, PATH_PUSH), ==, 0);
  assert_sockets_closed (fixture);
}

/* ------------------------------------------------------------------------ */
/* The push service's quirks that must not matter */

static void
test_quirk (Fixture       *fixture,
            gconstpointer  user_data)
{
  const char *fault = user_data;
  g_autoptr(ICloudSession) session = sign_in (fixture, ID_BRIDGE);
  g_autofree char *code = NULL;

  icloud_mock_server_inject_fault (fixture->base.server, PATH_WS, fault, 1, 0);
  request_ok (fixture, session, ICLOUD_CODE_DELIVERY_BRIDGE);
  if (g_str_equal (fault, ICLOUD_MOCK_FAULT_WS_PING))
    {
      /* the user takes a while: pings come, libsoup answers them */
      gint64 until = g_get_monotonic_time () + 2500 * G_TIME_SPAN_MILLISECOND;

      while (g_get_monotonic_time () < until)
        g_main_context_iteration (NULL, FALSE), g_usleep (1000);
    }
  code = device_code (fixture, ID_BRIDGE);
  validate_ok (fixture, session, code);
  assert_sockets_closed (fixture);
}

/* An error push answers the code: PROTOCOL, the bridge closed */
static void
test_error_push (Fixture       *fixture,
                 gconstpointer  user_data)
{
  g_autoptr(ICloudSession) session = sign_in (fixture, ID_BRIDGE);
  g_autoptr(GError) error = NULL;
  g_autofree char *code = NULL;

  icloud_mock_server_inject_fault (fixture->base.server, PATH_WS, ICLOUD_MOCK_FAULT_WS_ERROR_PUSH, 1, 0);
  request_ok (fixture, session, ICLOUD_CODE_DELIVERY_BRIDGE);
  code = device_code (fixture, ID_BRIDGE);
  g_assert_false (validate_code (fixture, session, code, NULL, NULL, NULL, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_NEEDS_2FA);
  assert_sockets_closed (fixture);
  g_assert_cmpuint (count (fixture, PATH_B4), ==, 0);
}

/* Apple refuses the decrypted value (412): the last step is still posted,
 * INVALID_CODE, the prompt over */
static void
test_validate_412 (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_autoptr(ICloudSession) session = sign_in (fixture, ID_BRIDGE);
  g_autoptr(GError) error = NULL;
  g_autofree char *code = NULL;

  request_ok (fixture, session, ICLOUD_CODE_DELIVERY_BRIDGE);
  code = device_code (fixture, ID_BRIDGE);
  icloud_mock_server_inject_reply (fixture->base.server, PATH_BV, 412,
                                   "{\"service_errors\":[{\"code\":\"-21669\"}],\"hasError\":true}", 1);
  g_assert_false (validate_code (fixture, session, code, NULL, NULL, NULL, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_INVALID_CODE);
  g_assert_nonnull (strstr (error->message, "new prompt"));
  g_clear_error (&error);
  g_assert_cmpuint (count (fixture, PATH_BV), ==, 1);
  g_assert_cmpuint (count (fixture, PATH_B6), ==, 1);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_NEEDS_2FA);
  assert_sockets_closed (fixture);

  /* the prompt is over: a new one */
  new_prompt_signs_in (fixture, session);
}

/* The last step ("done") refused after Apple took the code: signed in all
 * the same */
static void
test_final_refused (Fixture       *fixture,
                    gconstpointer  user_data)
{
  g_autoptr(ICloudSession) session = sign_in (fixture, ID_BRIDGE);
  g_autofree char *code = NULL;

  request_ok (fixture, session, ICLOUD_CODE_DELIVERY_BRIDGE);
  code = device_code (fixture, ID_BRIDGE);
  icloud_mock_server_inject_fault (fixture->base.server, PATH_B6, ICLOUD_MOCK_FAULT_500, 1, 0);
  validate_ok (fixture, session, code);
  g_assert_cmpuint (count (fixture, PATH_B6), ==, 1);
  assert_sockets_closed (fixture);
}

/* A refused bridge/step/2: the status's own meaning, the bridge closed */
static void
test_step_refused (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_autoptr(ICloudSession) session = sign_in (fixture, ID_BRIDGE);
  g_autoptr(GError) error = NULL;
  g_autofree char *code = NULL;

  request_ok (fixture, session, ICLOUD_CODE_DELIVERY_BRIDGE);
  code = device_code (fixture, ID_BRIDGE);
  icloud_mock_server_inject_fault (fixture->base.server, PATH_B2, ICLOUD_MOCK_FAULT_503, 1, 0);
  g_assert_false (validate_code (fixture, session, code, NULL, NULL, NULL, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_THROTTLED);
  assert_sockets_closed (fixture);
}

/* ------------------------------------------------------------------------ */
/* The bridge off (headless use): the push route */

static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              gpointer    user_data)
{
  (*(guint *) user_data)++;
}

static void
test_bridge_off (Fixture       *fixture,
                 gconstpointer  user_data)
{
  g_autoptr(ICloudSession) session = sign_in (fixture, ID_BRIDGE);
  g_autofree char *code = NULL;
  guint notified = 0, bridge_notified = 0;

  g_assert_true (icloud_session_get_trusted_device_bridge (session));
  g_signal_connect (session, "notify::trusted-device-bridge", G_CALLBACK (count_notify), &bridge_notified);
  g_signal_connect (session, "notify::code-delivery", G_CALLBACK (count_notify), &notified);
  icloud_session_set_trusted_device_bridge (session, FALSE);
  icloud_session_set_trusted_device_bridge (session, FALSE);
  g_assert_false (icloud_session_get_trusted_device_bridge (session));
  g_assert_cmpuint (bridge_notified, ==, 1);

  request_ok (fixture, session, ICLOUD_CODE_DELIVERY_TRUSTED_DEVICE);
  g_assert_cmpuint (notified, ==, 1);
  g_assert_cmpuint (count (fixture, PATH_WS), ==, 0);
  g_assert_cmpuint (count (fixture, PATH_PUSH), ==, 1);
  code = device_code (fixture, ID_BRIDGE);
  validate_ok (fixture, session, code);
  g_assert_cmpuint (count (fixture, PATH_DEVICE_CODE), ==, 1);
}

/* The blocking twins run on a private main context: never the bridge */
static void
test_blocking_push (Fixture       *fixture,
                    gconstpointer  user_data)
{
  g_autoptr(ICloudSession) session = sign_in (fixture, ID_BRIDGE);
  g_autoptr(GError) error = NULL;
  g_autofree char *code = NULL;

  g_assert_true (icloud_session_request_2fa_code (session, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_code_delivery (session), ==, ICLOUD_CODE_DELIVERY_TRUSTED_DEVICE);
  g_assert_cmpuint (count (fixture, PATH_WS), ==, 0);
  code = device_code (fixture, ID_BRIDGE);
  g_assert_true (icloud_session_validate_2fa_code (session, code, NULL, &error));
  g_assert_no_error (error);
}

/* Logging out, or letting the session go, closes the bridge too */
static void
test_logout (Fixture       *fixture,
             gconstpointer  user_data)
{
  g_autoptr(ICloudSession) session = sign_in (fixture, ID_BRIDGE);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  request_ok (fixture, session, ICLOUD_CODE_DELIVERY_BRIDGE);
  g_assert_cmpuint (icloud_mock_server_get_n_push_connections (fixture->base.server), ==, 1);
  icloud_session_logout_async (session, FALSE, FALSE, NULL, test_async_ready, &result);
  g_assert_true (icloud_session_logout_finish (session, wait_result (fixture, &result, NULL, NULL, NULL),
                                               &error));
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_SIGNED_OUT);
  g_assert_cmpint (icloud_session_get_code_delivery (session), ==, ICLOUD_CODE_DELIVERY_NONE);
  assert_sockets_closed (fixture);
}

static void
test_dispose (Fixture       *fixture,
              gconstpointer  user_data)
{
  ICloudSession *session = sign_in (fixture, ID_BRIDGE);

  request_ok (fixture, session, ICLOUD_CODE_DELIVERY_BRIDGE);
  g_assert_cmpuint (icloud_mock_server_get_n_push_connections (fixture->base.server), ==, 1);
  g_object_unref (session);
  assert_sockets_closed (fixture);
}

/* Neither the code nor the password reaches the log, ICLOUD_DEBUG's bodies
 * included */
static void
test_secrets_not_logged (Fixture       *fixture,
                         gconstpointer  user_data)
{
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *code = NULL;
  g_autofree char *wrong = NULL;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }

  g_setenv ("ICLOUD_DEBUG", "http-body", TRUE);
  watch_log ();
  session = sign_in (fixture, ID_BRIDGE);
  request_ok (fixture, session, ICLOUD_CODE_DELIVERY_BRIDGE);
  code = device_code (fixture, ID_BRIDGE);
  wrong = wrong_code (code);
  g_assert_false (validate_code (fixture, session, wrong, NULL, NULL, NULL, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_INVALID_CODE);
  validate_ok (fixture, session, code);

  /* the log was written, the bridge's requests in it */
  g_assert_nonnull (strstr (captured_log->str, "/bridge/code/validate"));
  g_assert_false (test_contains_word (captured_log->str, code));
  g_assert_false (test_contains_word (captured_log->str, wrong));
  g_assert_null (strstr (captured_log->str, password_of (fixture, ID_BRIDGE)));
}

/* Closing the session closes the bridge */
static void
test_close (Fixture       *fixture,
            gconstpointer  user_data)
{
  g_autoptr(ICloudSession) session = sign_in (fixture, ID_BRIDGE);
  g_autoptr(GError) error = NULL;

  request_ok (fixture, session, ICLOUD_CODE_DELIVERY_BRIDGE);
  g_assert_cmpuint (icloud_mock_server_get_n_push_connections (fixture->base.server), ==, 1);
  g_assert_true (icloud_session_close (session, NULL, &error));
  g_assert_no_error (error);
  assert_sockets_closed (fixture);
}

/* Routed TLS mode: Apple's host names, the server's certificate; the
 * WebSocket goes through the SoupSession the application gave (its TLS
 * database, its remote-connectable) to wss://websocket.push.apple.com. */
static void
test_routed (void)
{
  g_autoptr(ICloudMockServer) server = icloud_mock_server_new ();
  g_autoptr(SoupSession) soup = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *cert = g_test_build_filename (G_TEST_DIST, "data", "icloud-mock-cert.pem", NULL);
  g_autofree char *key = g_test_build_filename (G_TEST_DIST, "data", "icloud-mock-key.pem", NULL);
  g_autofree char *dir = g_build_filename (g_get_user_state_dir (), "routed", NULL);
  g_autofree char *log = NULL;
  g_autofree char *code = NULL;
  JsonArray *entries;
  gboolean upgraded = FALSE;

  icloud_mock_server_load_accounts (server, g_getenv ("ICLOUD_MOCK_ACCOUNTS"), &error);
  g_assert_no_error (error);
  icloud_mock_server_set_routed (server, cert, key, &error);
  g_assert_no_error (error);
  icloud_mock_server_start (server, &error);
  g_assert_no_error (error);
  soup = icloud_mock_server_create_soup_session (server, &error);
  g_assert_no_error (error);

  /* the global region: Apple's own URIs */
  session = g_initable_new (ICLOUD_TYPE_SESSION, NULL, &error,
                            "apple-id", ID_BRIDGE,
                            "password", "bridge prompt",
                            "cookie-directory", dir,
                            "soup-session", soup,
                            "timeout", TEST_TIMEOUT,
                            NULL);
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_NEEDS_2FA);

  icloud_session_request_2fa_code_async (session, NULL, NULL, test_async_ready, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (icloud_session_request_2fa_code_finish (session, result, &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpint (icloud_session_get_code_delivery (session), ==, ICLOUD_CODE_DELIVERY_BRIDGE);

  code = icloud_mock_server_dup_last_code (server, ID_BRIDGE, NULL);
  icloud_session_validate_2fa_code_async (session, code, NULL, test_async_ready, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (icloud_session_validate_2fa_code_finish (session, result, &error));
  g_assert_no_error (error);
  g_assert_true (icloud_session_get_is_trusted_session (session));

  /* the upgrade went to Apple's push host, over TLS */
  log = icloud_mock_server_dup_request_log (server);
  json_parser_load_from_data (parser, log, -1, &error);
  g_assert_no_error (error);
  entries = json_node_get_array (json_parser_get_root (parser));
  for (guint i = 0; i < json_array_get_length (entries); i++)
    {
      JsonObject *entry = json_array_get_object_element (entries, i);

      if (g_strcmp0 (json_object_get_string_member (entry, "path"), PATH_WS) != 0)
        continue;
      g_assert_cmpstr (json_object_get_string_member (entry, "host"), ==, "websocket.push.apple.com");
      upgraded = TRUE;
    }
  g_assert_true (upgraded);

  g_clear_object (&session);
  icloud_mock_server_stop (server);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, func, data) \
  g_test_add (path, Fixture, data, fixture_setup, func, fixture_teardown)

  ADD ("/bridge/sign-in", test_sign_in, NULL);
  ADD ("/bridge/wrong-then-right", test_wrong_then_right, NULL);
  ADD ("/bridge/invalid-nonce", test_invalid_nonce, NULL);
  ADD ("/bridge/invalid-nonce-twice", test_invalid_nonce_twice, NULL);
  ADD ("/bridge/fallback/close-at-token/sms", test_fallback, &fallback_cases[0]);
  ADD ("/bridge/fallback/close-at-subscribe/sms", test_fallback, &fallback_cases[1]);
  ADD ("/bridge/fallback/close-at-token/push", test_fallback, &fallback_cases[2]);
  ADD ("/bridge/fallback/close-at-subscribe/push", test_fallback, &fallback_cases[3]);
  ADD ("/bridge/fallback/upgrade-refused", test_fallback, &fallback_cases[4]);
  ADD ("/bridge/fallback/push-service-down", test_fallback, &fallback_cases[5]);
  ADD ("/bridge/fallback/silent", test_silent, NULL);
  ADD ("/bridge/dropped/at-prompt", test_dropped, ICLOUD_MOCK_FAULT_WS_CLOSE_AT_PROMPT);
  ADD ("/bridge/dropped/at-step4", test_dropped, ICLOUD_MOCK_FAULT_WS_CLOSE_AT_STEP4);
  ADD ("/bridge/dropped/at-final", test_dropped, ICLOUD_MOCK_FAULT_WS_CLOSE_AT_FINAL);
  ADD ("/bridge/cancel/at-once", test_cancel_at_once, NULL);
  ADD ("/bridge/cancel/connecting", test_cancel_upgrade, NULL);
  ADD ("/bridge/cancel/prompt", test_cancel_prompt, NULL);
  ADD ("/bridge/cancel/before-step2", test_cancel_validate, &cancel_cases[0]);
  ADD ("/bridge/cancel/step2", test_cancel_validate, &cancel_cases[1]);
  ADD ("/bridge/cancel/waiting-p2", test_cancel_validate, &cancel_cases[2]);
  ADD ("/bridge/cancel/step4", test_cancel_validate, &cancel_cases[3]);
  ADD ("/bridge/cancel/waiting-p3", test_cancel_validate, &cancel_cases[4]);
  ADD ("/bridge/cancel/code-validate", test_cancel_validate, &cancel_cases[5]);
  ADD ("/bridge/legacy", test_legacy, NULL);
  ADD ("/bridge/quirk/ping", test_quirk, ICLOUD_MOCK_FAULT_WS_PING);
  ADD ("/bridge/quirk/noisy", test_quirk, ICLOUD_MOCK_FAULT_WS_NOISY);
  ADD ("/bridge/quirk/other-topic", test_quirk, ICLOUD_MOCK_FAULT_WS_OTHER_TOPIC);
  ADD ("/bridge/error-push", test_error_push, NULL);
  ADD ("/bridge/step-refused", test_step_refused, NULL);
  ADD ("/bridge/validate-412", test_validate_412, NULL);
  ADD ("/bridge/final-refused", test_final_refused, NULL);
  ADD ("/bridge/off", test_bridge_off, NULL);
  ADD ("/bridge/blocking", test_blocking_push, NULL);
  ADD ("/bridge/close", test_close, NULL);
  ADD ("/bridge/logout", test_logout, NULL);
  ADD ("/bridge/dispose", test_dispose, NULL);
  ADD ("/bridge/secrets-not-logged", test_secrets_not_logged, NULL);
  g_test_add_func ("/bridge/routed-tls", test_routed);

  return g_test_run ();
}
