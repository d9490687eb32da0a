/* test-session.c: ICloudSession against the fake iCloud server
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>
#include <icloud-glib/icloud-glib.h>

#include "icloud-mock-server.h"
#include "test-async.h"
#include "test-names.h"

#define PASSWORD "correct horse battery staple"

/* Iterations are low so that the suite stays fast under valgrind; the
 * fixtures in data/ use Apple's usual 20,000. */
static const char accounts_json[] =
  "{\"accounts\": ["
  " {\"apple_id\": \"s2k@example.com\", \"password\": \"" PASSWORD "\", \"protocol\": \"s2k\", \"iterations\": 1000, \"factor\": \"none\"},"
  " {\"apple_id\": \"fo@example.com\", \"password\": \"" PASSWORD "\", \"protocol\": \"s2k_fo\", \"iterations\": 1000, \"factor\": \"none\"},"
  " {\"apple_id\": \"reuse@example.com\", \"password\": \"" PASSWORD "\", \"protocol\": \"s2k\", \"iterations\": 1000, \"factor\": \"none\"},"
  " {\"apple_id\": \"locked@example.com\", \"password\": \"" PASSWORD "\", \"protocol\": \"s2k\", \"iterations\": 1000, \"locked\": true},"
  " {\"apple_id\": \"throttled@example.com\", \"password\": \"" PASSWORD "\", \"protocol\": \"s2k\", \"iterations\": 1000, \"throttled\": true},"
  " {\"apple_id\": \"repair@example.com\", \"password\": \"" PASSWORD "\", \"protocol\": \"s2k\", \"iterations\": 1000, \"repair\": true},"
  " {\"apple_id\": \"repair-auto@example.com\", \"password\": \"" PASSWORD "\", \"protocol\": \"s2k\", \"iterations\": 1000, \"repair\": \"auto\"},"
  " {\"apple_id\": \"malformed@example.com\", \"password\": \"" PASSWORD "\", \"protocol\": \"s2k\", \"iterations\": 1000, \"malformed\": true},"
  " {\"apple_id\": \"slow@example.com\", \"password\": \"" PASSWORD "\", \"protocol\": \"s2k\", \"iterations\": 400000},"
  " {\"apple_id\": \"cancel@example.com\", \"password\": \"" PASSWORD "\", \"protocol\": \"s2k_fo\", \"iterations\": 1000},"
  " {\"apple_id\": \"china@example.com\", \"password\": \"" PASSWORD "\", \"protocol\": \"s2k\", \"iterations\": 1000, \"region\": \"china-mainland\"}"
  "]}";

typedef struct {
  ICloudMockServer *server;
  ICloudEndpoint   *endpoint;
  char             *dir;
} Fixture;

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;

  fixture->server = icloud_mock_server_new ();
  icloud_mock_server_load_accounts_from_data (fixture->server, accounts_json, -1, &error);
  g_assert_no_error (error);
  icloud_mock_server_start (fixture->server, &error);
  g_assert_no_error (error);

  fixture->endpoint = icloud_endpoint_new_for_base_uri (icloud_mock_server_get_base_uri (fixture->server), &error);
  g_assert_no_error (error);

  fixture->dir = g_build_filename (g_get_user_state_dir (), "icloud-test", NULL);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  user_data)
{
  icloud_mock_server_stop (fixture->server);
  g_clear_object (&fixture->server);
  g_clear_object (&fixture->endpoint);
  g_free (fixture->dir);
}

static ICloudSession *
new_session (Fixture     *fixture,
             const char  *apple_id,
             const char  *password,
             GError     **error)
{
  return g_initable_new (ICLOUD_TYPE_SESSION, NULL, error,
                         "apple-id", apple_id,
                         "password", password,
                         "endpoint", fixture->endpoint,
                         "cookie-directory", fixture->dir,
                         NULL);
}

static guint
count_srp (Fixture    *fixture,
           const char *apple_id)
{
  return icloud_mock_server_count_requests (fixture->server, apple_id, "/appleauth/auth/signin/init");
}

static char *
session_file (Fixture    *fixture,
              const char *apple_id)
{
  return test_account_file (fixture->dir, apple_id, ".session.json");
}

/* ------------------------------------------------------------------------ */

static void
check_signed_in (Fixture    *fixture,
                 const char *apple_id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autofree char *path = session_file (fixture, apple_id);
  JsonNode *info;
  GStatBuf st;

  session = new_session (fixture, apple_id, PASSWORD, &error);
  g_assert_no_error (error);
  g_assert_nonnull (session);

  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_assert_false (icloud_session_get_requires_2fa (session));
  g_assert_false (icloud_session_get_requires_2sa (session));
  info = icloud_session_get_account_info (session);
  g_assert_nonnull (info);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (info));
  g_assert_true (json_object_has_member (json_node_get_object (info), "dsInfo"));
  g_assert_cmpuint (count_srp (fixture, apple_id), ==, 1);
  g_assert_nonnull (icloud_session_get_client_id (session));

  /* 0600 files in a 0700 directory */
  g_assert_cmpint (g_stat (fixture->dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
}

static void
test_sign_in_s2k (Fixture       *fixture,
                  gconstpointer  user_data)
{
  check_signed_in (fixture, "s2k@example.com");
}

static void
test_sign_in_s2k_fo (Fixture       *fixture,
                     gconstpointer  user_data)
{
  check_signed_in (fixture, "fo@example.com");
}

static void
test_sign_in_async (Fixture       *fixture,
                    gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GObject) object = NULL;
  g_autoptr(GObject) source = NULL;

  g_async_initable_new_async (ICLOUD_TYPE_SESSION, G_PRIORITY_DEFAULT, NULL,
                              async_ready, &result,
                              "apple-id", "s2k@example.com",
                              "password", PASSWORD,
                              "endpoint", fixture->endpoint,
                              "cookie-directory", fixture->dir,
                              NULL);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);

  source = g_async_result_get_source_object (result);
  object = g_async_initable_new_finish (G_ASYNC_INITABLE (source), result, &error);
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (ICLOUD_SESSION (object)), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
}

static void
check_failure (Fixture    *fixture,
               const char *apple_id,
               const char *password,
               int         code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;

  session = new_session (fixture, apple_id, password, &error);
  g_assert_error (error, ICLOUD_ERROR, code);
  g_assert_null (session);
  /* No message ever carries the password. */
  if (password != NULL)
    g_assert_null (strstr (error->message, password));
}

static void
test_wrong_password (Fixture       *fixture,
                     gconstpointer  user_data)
{
  check_failure (fixture, "s2k@example.com", "not the password", ICLOUD_ERROR_FAILED_LOGIN);
  check_failure (fixture, "fo@example.com", "not the password", ICLOUD_ERROR_FAILED_LOGIN);
}

static void
test_locked (Fixture       *fixture,
             gconstpointer  user_data)
{
  check_failure (fixture, "locked@example.com", PASSWORD, ICLOUD_ERROR_ACCOUNT_LOCKED);
}

static void
test_throttled (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;

  session = g_object_new (ICLOUD_TYPE_SESSION,
                          "apple-id", "throttled@example.com",
                          "password", PASSWORD,
                          "endpoint", fixture->endpoint,
                          "cookie-directory", fixture->dir,
                          NULL);
  g_assert_false (icloud_session_authenticate (session, FALSE, NULL, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_THROTTLED);
  /* The server's Retry-After is surfaced. */
  g_assert_cmpuint (icloud_session_get_retry_after (session), ==, 120);
  g_assert_cmpuint (icloud_error_get_retry_after (error), ==, 120);
  g_assert_nonnull (strstr (error->message, "120"));
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_SIGNED_OUT);
  g_clear_error (&error);

  /* The error alone carries it too, for a construction that failed. */
  g_clear_object (&session);
  session = new_session (fixture, "throttled@example.com", PASSWORD, &error);
  g_assert_null (session);
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_THROTTLED);
  g_assert_cmpuint (icloud_error_get_retry_after (error), ==, 120);
  {
    g_autoptr(GError) copy = g_error_copy (error);
    g_assert_cmpuint (icloud_error_get_retry_after (copy), ==, 120);
  }
}

static void
test_throttled_fault (Fixture       *fixture,
                      gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  guint retry = 0;

  icloud_mock_server_inject_fault (fixture->server, "/appleauth/auth/signin/complete", "429", 1, 42);
  session = g_object_new (ICLOUD_TYPE_SESSION,
                          "apple-id", "s2k@example.com",
                          "password", PASSWORD,
                          "endpoint", fixture->endpoint,
                          "cookie-directory", fixture->dir,
                          NULL);
  g_assert_false (icloud_session_authenticate (session, FALSE, NULL, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_THROTTLED);
  g_object_get (session, "retry-after", &retry, NULL);
  g_assert_cmpuint (retry, ==, 42);
  g_assert_cmpuint (icloud_error_get_retry_after (error), ==, 42);
  g_clear_error (&error);

  /* Throttling is transient: the password is kept for the retry. */
  g_assert_true (icloud_session_authenticate (session, FALSE, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
}

static void
test_repair (Fixture       *fixture,
             gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;

  check_failure (fixture, "repair@example.com", PASSWORD, ICLOUD_ERROR_REPAIR_REQUIRED);

  /* Where Apple lets repair/complete finish it, the sign-in goes on. */
  session = new_session (fixture, "repair-auto@example.com", PASSWORD, &error);
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_assert_cmpuint (icloud_mock_server_count_requests (fixture->server, NULL, "/appleauth/auth/repair/complete"), >=, 1);
}

static void
test_malformed (Fixture       *fixture,
                gconstpointer  user_data)
{
  check_failure (fixture, "malformed@example.com", PASSWORD, ICLOUD_ERROR_PROTOCOL);
}

static void
test_no_password (Fixture       *fixture,
                  gconstpointer  user_data)
{
  check_failure (fixture, "s2k@example.com", NULL, ICLOUD_ERROR_AUTH_REQUIRED);
  g_assert_cmpuint (count_srp (fixture, "s2k@example.com"), ==, 0);
}

static void
test_wrong_region (Fixture       *fixture,
                   gconstpointer  user_data)
{
  check_failure (fixture, "china@example.com", PASSWORD, ICLOUD_ERROR_WRONG_REGION);
}

/* ------------------------------------------------------------------------ */
/* Reuse from disk, in this process and in another one */

static void
test_reuse_same_process (Fixture       *fixture,
                         gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) first = NULL;
  g_autoptr(ICloudSession) second = NULL;

  first = new_session (fixture, "reuse@example.com", PASSWORD, &error);
  g_assert_no_error (error);
  g_assert_true (icloud_session_close (first, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (first), ==, ICLOUD_AUTH_STATE_CLOSED);
  g_assert_false (icloud_session_authenticate (first, FALSE, NULL, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_CLOSED);
  g_clear_error (&error);
  g_clear_object (&first);

  second = new_session (fixture, "reuse@example.com", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (second), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_assert_cmpuint (count_srp (fixture, "reuse@example.com"), ==, 1);
  g_assert_cmpuint (icloud_mock_server_count_requests (fixture->server, "reuse@example.com",
                                                       "/setup/ws/1/validate"), ==, 1);
}

static void
test_reuse_other_process (Fixture       *fixture,
                          gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;

  if (g_test_subprocess ())
    {
      /* The child: a new process, same directory, no password. */
      g_autoptr(ICloudSession) session = NULL;
      g_autoptr(ICloudEndpoint) endpoint = NULL;

      endpoint = icloud_endpoint_new_for_base_uri (g_getenv ("TEST_BASE_URI"), &error);
      g_assert_no_error (error);
      session = g_initable_new (ICLOUD_TYPE_SESSION, NULL, &error,
                                "apple-id", "reuse@example.com",
                                "endpoint", endpoint,
                                "cookie-directory", g_getenv ("TEST_DIR"),
                                NULL);
      g_assert_no_error (error);
      g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
      return;
    }

  {
    g_autoptr(ICloudSession) first = new_session (fixture, "reuse@example.com", PASSWORD, &error);
    g_assert_no_error (error);
  }
  g_assert_cmpuint (count_srp (fixture, "reuse@example.com"), ==, 1);

  g_setenv ("TEST_BASE_URI", icloud_mock_server_get_base_uri (fixture->server), TRUE);
  g_setenv ("TEST_DIR", fixture->dir, TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();

  /* The fake server's log: the second process made no SRP request. */
  g_assert_cmpuint (count_srp (fixture, "reuse@example.com"), ==, 1);
  g_assert_cmpuint (icloud_mock_server_count_requests (fixture->server, "reuse@example.com",
                                                       "/setup/ws/1/validate"), ==, 1);
}

static void
test_force_refresh (Fixture       *fixture,
                    gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;

  session = new_session (fixture, "reuse@example.com", PASSWORD, &error);
  g_assert_no_error (error);
  g_assert_true (icloud_session_authenticate (session, TRUE, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  /* force_refresh skips validate and signs in with the stored token. */
  g_assert_cmpuint (icloud_mock_server_count_requests (fixture->server, "reuse@example.com",
                                                       "/setup/ws/1/validate"), ==, 0);
  g_assert_cmpuint (icloud_mock_server_count_requests (fixture->server, "reuse@example.com",
                                                       "/setup/ws/1/accountLogin"), ==, 2);
  g_assert_cmpuint (count_srp (fixture, "reuse@example.com"), ==, 1);
}

static void
test_expired_session (Fixture       *fixture,
                      gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(ICloudSession) again = NULL;

  session = new_session (fixture, "reuse@example.com", PASSWORD, &error);
  g_assert_no_error (error);
  g_clear_object (&session);

  /* Apple forgot the web session and the token: without a password the
   * saved session is of no use, with one SRP runs again. */
  icloud_mock_server_expire_sessions (fixture->server, "reuse@example.com");
  session = new_session (fixture, "reuse@example.com", NULL, &error);
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_AUTH_REQUIRED);
  g_clear_error (&error);

  again = new_session (fixture, "reuse@example.com", PASSWORD, &error);
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (again), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_assert_cmpuint (count_srp (fixture, "reuse@example.com"), ==, 2);
}

static void
test_corrupt_file (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autofree char *path = session_file (fixture, "reuse@example.com");
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *aside_prefix = g_strconcat (base, ".corrupt-", NULL);
  g_autoptr(GDir) dir = NULL;
  const char *name;
  gboolean set_aside = FALSE;

  g_assert_cmpint (g_mkdir_with_parents (fixture->dir, 0700), ==, 0);
  g_file_set_contents (path, "{\"version\": 1, \"data\": [garbage", -1, &error);
  g_assert_no_error (error);

  session = new_session (fixture, "reuse@example.com", PASSWORD, &error);
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);

  dir = g_dir_open (fixture->dir, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, aside_prefix))
      set_aside = TRUE;
  g_assert_true (set_aside);
}

static void
test_logout (Fixture       *fixture,
             gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(ICloudSession) after = NULL;

  session = new_session (fixture, "reuse@example.com", PASSWORD, &error);
  g_assert_no_error (error);
  g_assert_true (icloud_session_logout (session, FALSE, FALSE, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_SIGNED_OUT);
  g_assert_cmpuint (icloud_mock_server_count_requests (fixture->server, "reuse@example.com",
                                                       "/setup/ws/1/logout"), ==, 1);

  after = new_session (fixture, "reuse@example.com", NULL, &error);
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_AUTH_REQUIRED);
  g_assert_null (after);
}

static void
test_lock (Fixture       *fixture,
           gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) first = NULL;
  g_autoptr(ICloudSession) second = NULL;
  g_autoptr(GAsyncResult) result = NULL;

  first = g_object_new (ICLOUD_TYPE_SESSION,
                        "apple-id", "s2k@example.com", "password", PASSWORD,
                        "endpoint", fixture->endpoint, "cookie-directory", fixture->dir,
                        NULL);
  second = g_object_new (ICLOUD_TYPE_SESSION,
                         "apple-id", "s2k@example.com", "password", PASSWORD,
                         "endpoint", fixture->endpoint, "cookie-directory", fixture->dir,
                         NULL);

  /* While one signs in, the other is told the account is in use. The
   * store takes the lock in its worker, so which of the two holds it first
   * is a race: exactly one of them must be refused, with STORAGE. */
  icloud_session_authenticate_async (first, FALSE, NULL, async_ready, &result);
  {
    g_autoptr(GError) second_error = NULL;
    g_autoptr(GError) first_error = NULL;
    gboolean second_ok, first_ok;

    second_ok = icloud_session_authenticate (second, FALSE, NULL, &second_error);

    /* And a second operation on the same session is refused, whatever
     * the race: the first is busy until its operation ended. */
    g_assert_false (icloud_session_authenticate (first, FALSE, NULL, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
    g_clear_error (&error);

    while (result == NULL)
      g_main_context_iteration (NULL, TRUE);
    first_ok = icloud_session_authenticate_finish (first, result, &first_error);

    g_assert_true (first_ok != second_ok);
    if (first_ok)
      g_assert_error (second_error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
    else
      g_assert_error (first_error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
    g_assert_nonnull (strstr (first_ok ? second_error->message : first_error->message,
                              "in use by another process"));
  }

  /* Once the lock is free, both sign in. */
  g_assert_true (icloud_session_authenticate (second, FALSE, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (icloud_session_authenticate (first, FALSE, NULL, &error));
  g_assert_no_error (error);
}

/* ------------------------------------------------------------------------ */
/* Cancellation at each step leaves the session usable */

static const char * const cancel_steps[] = {
  "start",
  "/appleauth/auth/signin/init",
  "/appleauth/auth/signin/complete",
  "/setup/ws/1/accountLogin",
};

static void
test_cancel_steps (Fixture       *fixture,
                   gconstpointer  user_data)
{
  for (guint i = 0; i < G_N_ELEMENTS (cancel_steps); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(ICloudSession) session = NULL;
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      g_autoptr(GAsyncResult) result = NULL;
      const char *step = cancel_steps[i];
      guint before;

      g_test_message ("cancelling at %s", step);
      session = g_object_new (ICLOUD_TYPE_SESSION,
                              "apple-id", "cancel@example.com", "password", PASSWORD,
                              "endpoint", fixture->endpoint, "cookie-directory", fixture->dir,
                              NULL);

      if (i == 0)
        g_cancellable_cancel (cancellable);
      else
        {
          /* The server holds that answer back; cancel once it arrived. */
          icloud_mock_server_inject_fault_full (fixture->server, step, "slow", 1, 0, 3000);
        }
      before = icloud_mock_server_count_requests (fixture->server, NULL, step);

      icloud_session_authenticate_async (session, FALSE, cancellable, async_ready, &result);
      while (result == NULL)
        {
          if (i > 0 && !g_cancellable_is_cancelled (cancellable) &&
              icloud_mock_server_count_requests (fixture->server, NULL, step) > before)
            g_cancellable_cancel (cancellable);
          g_main_context_iteration (NULL, FALSE);
          g_usleep (1000);
        }
      g_assert_false (icloud_session_authenticate_finish (session, result, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&error);
      g_clear_object (&result);
      icloud_mock_server_clear_faults (fixture->server);

      /* Usable afterwards, with the same password. */
      g_assert_true (icloud_session_authenticate (session, FALSE, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);

      /* And the saved session is intact for the next start. */
      g_clear_object (&session);
      session = new_session (fixture, "cancel@example.com", NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);

      icloud_session_logout (session, FALSE, FALSE, NULL, &error);
      g_assert_no_error (error);
    }
}

/* ------------------------------------------------------------------------ */
/* The main loop keeps running while PBKDF2 and the modexp run */

typedef struct {
  gint64 last;
  gint64 max_gap;
  guint  ticks;
} Ticker;

static gboolean
tick (gpointer user_data)
{
  Ticker *ticker = user_data;
  gint64 now = g_get_monotonic_time ();

  if (ticker->last != 0)
    ticker->max_gap = MAX (ticker->max_gap, now - ticker->last);
  ticker->last = now;
  ticker->ticks++;
  return G_SOURCE_CONTINUE;
}

static void
test_main_loop_responsive (Fixture       *fixture,
                           gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  Ticker ticker = { 0, };
  gint64 start, total;
  guint id;

  session = g_object_new (ICLOUD_TYPE_SESSION,
                          "apple-id", "slow@example.com", "password", PASSWORD,
                          "endpoint", fixture->endpoint, "cookie-directory", fixture->dir,
                          NULL);

  id = g_timeout_add (5, tick, &ticker);
  start = g_get_monotonic_time ();
  icloud_session_authenticate_async (session, FALSE, NULL, async_ready, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  total = g_get_monotonic_time () - start;
  g_source_remove (id);

  g_assert_true (icloud_session_authenticate_finish (session, result, &error));
  g_assert_no_error (error);

  g_test_message ("sign-in took %" G_GINT64_FORMAT " ms; %u ticks; longest gap %" G_GINT64_FORMAT " ms",
                  total / 1000, ticker.ticks, ticker.max_gap / 1000);
  /* 400,000 PBKDF2 iterations (twice: client and server) take most of the
   * sign-in; had they run on the main loop, the longest gap would be about
   * as long as that. */
  g_assert_cmpuint (ticker.ticks, >=, 10);
  g_assert_cmpint (ticker.max_gap, <, total / 4);
}

/* ------------------------------------------------------------------------ */
/* No password in the debug log nor in any file */

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
assert_not_in_files (const char *dir,
                     const char *secret)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *contents = NULL;
      gsize len = 0;

      if (!g_file_get_contents (path, &contents, &len, NULL))
        continue;
      g_assert_null (g_strstr_len (contents, len, secret));
    }
}

static void
test_secrets_not_logged (Fixture       *fixture,
                         gconstpointer  user_data)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(ICloudSession) session = NULL;
      g_autoptr(ICloudEndpoint) endpoint = NULL;
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autofree char *path = NULL;
      JsonObject *data;
      const char *token;

      captured_log = g_string_new (NULL);
      g_log_set_writer_func (capture_writer, NULL, NULL);
      g_set_printerr_handler (capture_printerr);

      endpoint = icloud_endpoint_new_for_base_uri (g_getenv ("TEST_BASE_URI"), &error);
      g_assert_no_error (error);
      session = g_initable_new (ICLOUD_TYPE_SESSION, NULL, &error,
                                "apple-id", "s2k@example.com",
                                "password", PASSWORD,
                                "endpoint", endpoint,
                                "cookie-directory", g_getenv ("TEST_DIR"),
                                NULL);
      g_assert_no_error (error);
      /* A wrong one, too. */
      g_clear_object (&session);
      session = g_initable_new (ICLOUD_TYPE_SESSION, NULL, &error,
                                "apple-id", "fo@example.com",
                                "password", "wrong " PASSWORD,
                                "endpoint", endpoint,
                                "cookie-directory", g_getenv ("TEST_DIR"),
                                NULL);
      g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_FAILED_LOGIN);
      g_clear_error (&error);

      /* The log was really captured, with libsoup's headers and bodies. */
      g_assert_nonnull (strstr (captured_log->str, "icloud-http: > POST /appleauth/auth/signin/init "));
      g_assert_nonnull (strstr (captured_log->str, "scnt: [redacted]"));
      g_assert_nonnull (strstr (captured_log->str, "\"m1\":\"[redacted]\""));
      g_assert_nonnull (strstr (captured_log->str, "\"dsWebAuthToken\":\"[redacted]\""));
      g_assert_null (strstr (captured_log->str, PASSWORD));

      /* Nor the session token the fake server issued. */
      path = test_account_file (g_getenv ("TEST_DIR"), "s2k@example.com", ".session.json");
      json_parser_load_from_file (parser, path, &error);
      g_assert_no_error (error);
      data = json_object_get_object_member (json_node_get_object (json_parser_get_root (parser)), "data");
      token = json_object_get_string_member (data, "session_token");
      g_assert_nonnull (token);
      g_assert_cmpuint (strlen (token), >, 8);
      g_assert_null (strstr (captured_log->str, token));

      assert_not_in_files (g_getenv ("TEST_DIR"), PASSWORD);
      g_string_free (captured_log, TRUE);
      return;
    }

  g_setenv ("TEST_BASE_URI", icloud_mock_server_get_base_uri (fixture->server), TRUE);
  g_setenv ("TEST_DIR", fixture->dir, TRUE);
  g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
  g_setenv ("ICLOUD_DEBUG", "http-body", TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_unsetenv ("G_MESSAGES_DEBUG");
  g_unsetenv ("ICLOUD_DEBUG");
  g_test_trap_assert_passed ();
}

/* ------------------------------------------------------------------------ */
/* Status handling by meaning */

static void
test_421_retried_once (Fixture       *fixture,
                       gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;

  /* One 421 is a misdirected connection: sent again on a new one. */
  icloud_mock_server_inject_fault (fixture->server, "/setup/ws/1/accountLogin", "421", 1, 0);
  session = new_session (fixture, "s2k@example.com", PASSWORD, &error);
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_assert_cmpuint (icloud_mock_server_count_requests (fixture->server, NULL, "/setup/ws/1/accountLogin"), ==, 2);
  g_assert_cmpuint (count_srp (fixture, "s2k@example.com"), ==, 1);
}

static void
test_421_twice (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;

  /* Twice is an answer: sign in again. */
  icloud_mock_server_inject_fault (fixture->server, "/setup/ws/1/accountLogin", "421", 2, 0);
  session = new_session (fixture, "s2k@example.com", PASSWORD, &error);
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_AUTH_REQUIRED);
  g_assert_cmpuint (icloud_mock_server_count_requests (fixture->server, NULL, "/setup/ws/1/accountLogin"), ==, 2);
}

static void
test_throttle_retries (Fixture       *fixture,
                       gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;

  /* Off by default: one 503 is THROTTLED at once (see /session/error/). With
   * a budget, a request that is safe to repeat waits Retry-After and goes
   * again. */
  icloud_mock_server_inject_fault (fixture->server, "/appleauth/auth/signin/init", "503", 1, 1);
  session = g_initable_new (ICLOUD_TYPE_SESSION, NULL, &error,
                            "apple-id", "s2k@example.com", "password", PASSWORD,
                            "endpoint", fixture->endpoint, "cookie-directory", fixture->dir,
                            "throttle-retries", 2,
                            NULL);
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_assert_cmpuint (count_srp (fixture, "s2k@example.com"), ==, 2);

  /* A password proof is never repeated. */
  g_clear_object (&session);
  icloud_mock_server_inject_fault (fixture->server, "/appleauth/auth/signin/complete", "503", 1, 1);
  session = g_initable_new (ICLOUD_TYPE_SESSION, NULL, &error,
                            "apple-id", "fo@example.com", "password", PASSWORD,
                            "endpoint", fixture->endpoint, "cookie-directory", fixture->dir,
                            "throttle-retries", 2,
                            NULL);
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_THROTTLED);
  g_assert_cmpuint (icloud_mock_server_count_requests (fixture->server, "fo@example.com",
                                                       "/appleauth/auth/signin/complete"), ==, 1);
}

static void
test_password_sign_in_limit (Fixture       *fixture,
                             gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(ICloudSession) session = NULL;

      session = g_initable_new (ICLOUD_TYPE_SESSION, NULL, &error,
                                "apple-id", "reuse@example.com", "password", PASSWORD,
                                "endpoint", fixture->endpoint, "cookie-directory", fixture->dir,
                                "max-password-sign-ins", 2,
                                NULL);
      if (i < 2)
        {
          g_assert_no_error (error);
          /* Forget the web session but keep the trust (and the record). */
          icloud_session_logout (session, TRUE, FALSE, NULL, &error);
          g_assert_no_error (error);
        }
      else
        {
          /* The third within the window is refused here, not by Apple. */
          g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_THROTTLED);
          g_assert_cmpuint (icloud_error_get_retry_after (error), >, 0);
          g_assert_cmpuint (icloud_error_get_retry_after (error), <=, 15 * 60);
        }
    }
  g_assert_cmpuint (count_srp (fixture, "reuse@example.com"), ==, 2);
}

static void
test_timeout (Fixture       *fixture,
              gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  gint64 start;

  session = g_object_new (ICLOUD_TYPE_SESSION,
                          "apple-id", "s2k@example.com", "password", PASSWORD,
                          "endpoint", fixture->endpoint, "cookie-directory", fixture->dir,
                          "timeout", 1,
                          NULL);
  icloud_mock_server_inject_fault_full (fixture->server, "/appleauth/auth/signin/complete",
                                        "slow", 1, 0, 4000);
  start = g_get_monotonic_time ();
  g_assert_false (icloud_session_authenticate (session, FALSE, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_SIGNED_OUT);
  g_clear_error (&error);

  /* A timeout is transient: the session (and its password) stay usable. */
  g_assert_true (icloud_session_authenticate (session, FALSE, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
}

static void
test_no_session_token (Fixture       *fixture,
                       gconstpointer  user_data)
{
  /* A 200 that is not what Apple sends (no session token) is PROTOCOL. */
  icloud_mock_server_inject_fault (fixture->server, "/appleauth/auth/signin/complete",
                                   "missing-fields", 1, 0);
  check_failure (fixture, "s2k@example.com", PASSWORD, ICLOUD_ERROR_PROTOCOL);
}

/* ------------------------------------------------------------------------ */
/* Apple's error bodies, read one way by the core and by a plugin, and the
 * region a domainToUse names, from the region plugins (issue 11) */

#define PATH_SIGNIN_INIT   "/appleauth/auth/signin/init"
#define PATH_ACCOUNT_LOGIN "/setup/ws/1/accountLogin"

/* The error of a first sign-in (in a directory of its own: nothing saved)
 * whose requests on @path get @status and @body. */
static GError *
sign_in_error (Fixture    *fixture,
               const char *path,
               guint       status,
               const char *body)
{
  static guint n_dirs;
  g_autofree char *dir = g_strdup_printf ("%s-%u", fixture->dir, n_dirs++);
  g_autoptr(ICloudSession) session = NULL;
  GError *error = NULL;

  icloud_mock_server_inject_reply (fixture->server, path, status, body, 100);
  session = g_initable_new (ICLOUD_TYPE_SESSION, NULL, &error,
                            "apple-id", "s2k@example.com",
                            "password", PASSWORD,
                            "endpoint", fixture->endpoint,
                            "cookie-directory", dir,
                            NULL);
  icloud_mock_server_clear_faults (fixture->server);

  g_assert_null (session);
  g_assert_nonnull (error);
  g_assert_cmpuint (icloud_mock_server_count_requests (fixture->server, "s2k@example.com", path), >=, 1);
  return error;
}

/* One shape of Apple's service errors, and what it means. */
typedef struct {
  const char *name;
  guint       status;
  const char *body;
  int         error;
  const char *in_message;   /* NULL: nothing more to check */
} Shape;

static const Shape shapes[] = {
  { "serviceErrors-string", 400,
    "{\"serviceErrors\":[{\"code\":\"-20000\",\"message\":\"Bad request.\"}]}",
    ICLOUD_ERROR_PROTOCOL, "(HTTP 400, error -20000)" },
  { "service_errors-title-hasError", 400,
    "{\"service_errors\":[{\"code\":\"-22421\",\"title\":\"Invalid Phone Number\"}],\"hasError\":true}",
    ICLOUD_ERROR_PROTOCOL, "(HTTP 400, error -22421)" },
  { "serviceErrors-number", 400,
    "{\"serviceErrors\":[{\"code\":-20000}]}",
    ICLOUD_ERROR_PROTOCOL, "(HTTP 400, error -20000)" },
  { "serviceErrors-number-locked", 403,
    "{\"serviceErrors\":[{\"code\":-20209}]}",
    ICLOUD_ERROR_ACCOUNT_LOCKED, NULL },
  { "errorCode-number", 400,
    "{\"errorCode\":-21669,\"errorMessage\":\"Incorrect verification code.\"}",
    ICLOUD_ERROR_PROTOCOL, "(HTTP 400, error -21669)" },
  { "errorCode-string-throttled", 403,
    "{\"errorCode\":\"ACCESS_DENIED\",\"reason\":\"Access denied\"}",
    ICLOUD_ERROR_THROTTLED, NULL },
  { "serverErrorCode-not-activated", 400,
    "{\"serverErrorCode\":\"ZONE_NOT_FOUND\",\"errorReason\":\"Zone not found\"}",
    ICLOUD_ERROR_SERVICE_NOT_ACTIVATED, NULL },
  { "no-code", 400,
    "{\"hasError\":true,\"error\":\"Something\"}",
    ICLOUD_ERROR_PROTOCOL, "(HTTP 400)" },
  { "hostile-code", 400,
    "{\"serviceErrors\":[{\"code\":\"\\u001b]0;owned\\u0007-1\\n\"}]}",
    ICLOUD_ERROR_PROTOCOL, "error \\x1b]0;owned\\x07-1\\n)" },
};

static void
test_core_and_plugin (Fixture       *fixture,
                      gconstpointer  user_data)
{
  const Shape *shape = user_data;
  g_autoptr(GError) core = NULL;
  g_autoptr(GError) plugin = NULL;

  /* The core: accountLogin, after the password was accepted. */
  core = sign_in_error (fixture, PATH_ACCOUNT_LOGIN, shape->status, shape->body);
  /* A plugin: srp's signin/init. */
  plugin = sign_in_error (fixture, PATH_SIGNIN_INIT, shape->status, shape->body);

  g_test_message ("core: %s; plugin: %s", core->message, plugin->message);
  g_assert_error (core, ICLOUD_ERROR, shape->error);
  g_assert_error (plugin, ICLOUD_ERROR, shape->error);
  g_assert_cmpstr (core->message, ==, plugin->message);
  if (shape->in_message != NULL && strstr (core->message, shape->in_message) == NULL)
    g_error ("“%s” does not say “%s”", core->message, shape->in_message);
  g_assert_null (strchr (core->message, '\x1b'));
}

static void
assert_china_wrong_region (Fixture  *fixture,
                           gboolean  plugin_loaded)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = new_session (fixture, "china@example.com", PASSWORD, &error);

  g_assert_null (session);
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_WRONG_REGION);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "iCloud.com.cn"));
  if (plugin_loaded)
    g_assert_nonnull (strstr (error->message, "use the region “china-mainland”"));
  else
    {
      g_assert_null (strstr (error->message, "use the region"));
      g_assert_null (strstr (error->message, "china-mainland"));
      g_assert_nonnull (strstr (error->message, "choose the region that serves it"));
    }
}

static void
test_china_named_by_plugin (Fixture       *fixture,
                            gconstpointer  user_data)
{
  assert_china_wrong_region (fixture, TRUE);
}

/* In a child process whose ICLOUD_PLUGIN_PATH lacks the china-mainland
 * plugin (plugins are loaded once per process). */
static void
test_china_without_plugin (void)
{
  if (g_test_subprocess ())
    {
      g_auto(GStrv) dirs = g_strsplit (g_getenv ("ICLOUD_PLUGIN_PATH"), G_SEARCHPATH_SEPARATOR_S, -1);
      g_autoptr(GStrvBuilder) kept = g_strv_builder_new ();
      g_auto(GStrv) path = NULL;
      g_autofree char *joined = NULL;
      Fixture fixture = { 0 };

      for (guint i = 0; dirs[i] != NULL; i++)
        if (strstr (dirs[i], "china-mainland") == NULL)
          g_strv_builder_add (kept, dirs[i]);
      path = g_strv_builder_end (kept);
      joined = g_strjoinv (G_SEARCHPATH_SEPARATOR_S, path);
      g_assert_cmpstr (joined, !=, g_getenv ("ICLOUD_PLUGIN_PATH"));
      g_setenv ("ICLOUD_PLUGIN_PATH", joined, TRUE);

      fixture_setup (&fixture, NULL);
      assert_china_wrong_region (&fixture, FALSE);
      fixture_teardown (&fixture, NULL);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* timeout, throttle-retries and max-password-sign-ins: accessors, and a
 * notification exactly when the value changes (EXPLICIT_NOTIFY). */
static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              gpointer    user_data)
{
  GHashTable *counts = user_data;
  const char *name = g_param_spec_get_name (pspec);

  g_hash_table_insert (counts, (gpointer) name,
                       GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (counts, name)) + 1));
}

static void
test_tunable_properties (void)
{
  g_autoptr(ICloudSession) session = g_object_new (ICLOUD_TYPE_SESSION,
                                                   "apple-id", "props@example.com", NULL);
  g_autoptr(GHashTable) counts = g_hash_table_new (g_str_hash, g_str_equal);
  guint value = 0;

  g_assert_cmpuint (icloud_session_get_timeout (session), ==, 60);
  g_assert_cmpuint (icloud_session_get_throttle_retries (session), ==, 0);
  g_assert_cmpuint (icloud_session_get_max_password_sign_ins (session), ==, 5);

  g_signal_connect (session, "notify", G_CALLBACK (count_notify), counts);

  icloud_session_set_timeout (session, 60);                 /* unchanged: no notify */
  icloud_session_set_timeout (session, 5);
  icloud_session_set_throttle_retries (session, 0);
  icloud_session_set_throttle_retries (session, 3);
  g_object_set (session, "max-password-sign-ins", 5, NULL); /* unchanged */
  g_object_set (session, "max-password-sign-ins", 0, NULL);

  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (counts, "timeout")), ==, 1);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (counts, "throttle-retries")), ==, 1);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (counts, "max-password-sign-ins")), ==, 1);
  g_assert_cmpuint (icloud_session_get_timeout (session), ==, 5);
  g_assert_cmpuint (icloud_session_get_throttle_retries (session), ==, 3);
  g_object_get (session, "max-password-sign-ins", &value, NULL);
  g_assert_cmpuint (value, ==, 0);
  g_assert_cmpuint (icloud_session_get_max_password_sign_ins (session), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/session/sign-in/s2k", test_sign_in_s2k);
  ADD ("/session/sign-in/s2k_fo", test_sign_in_s2k_fo);
  ADD ("/session/sign-in/async", test_sign_in_async);
  ADD ("/session/error/wrong-password", test_wrong_password);
  ADD ("/session/error/locked", test_locked);
  ADD ("/session/error/throttled", test_throttled);
  ADD ("/session/error/throttled-fault", test_throttled_fault);
  ADD ("/session/error/repair", test_repair);
  ADD ("/session/error/malformed", test_malformed);
  ADD ("/session/error/no-password", test_no_password);
  ADD ("/session/error/wrong-region", test_wrong_region);
  ADD ("/session/error/wrong-region/named-by-plugin", test_china_named_by_plugin);
  g_test_add_func ("/session/error/wrong-region/without-plugin", test_china_without_plugin);
  g_test_add_func ("/session/properties/tunables", test_tunable_properties);
  ADD ("/session/reuse/same-process", test_reuse_same_process);
  ADD ("/session/reuse/other-process", test_reuse_other_process);
  ADD ("/session/reuse/force-refresh", test_force_refresh);
  ADD ("/session/reuse/expired", test_expired_session);
  ADD ("/session/storage/corrupt-file", test_corrupt_file);
  ADD ("/session/storage/lock", test_lock);
  ADD ("/session/logout", test_logout);
  ADD ("/session/status/421-retried-once", test_421_retried_once);
  ADD ("/session/status/421-twice", test_421_twice);
  ADD ("/session/status/throttle-retries", test_throttle_retries);
  ADD ("/session/status/password-sign-in-limit", test_password_sign_in_limit);
  ADD ("/session/status/timeout", test_timeout);
  ADD ("/session/status/no-session-token", test_no_session_token);
  ADD ("/session/cancel/each-step", test_cancel_steps);
  ADD ("/session/main-loop-responsive", test_main_loop_responsive);
  ADD ("/session/secrets/not-logged", test_secrets_not_logged);
#undef ADD
  for (guint i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      g_autofree char *path = g_strdup_printf ("/session/error/service-error/%s", shapes[i].name);
      g_test_add (path, Fixture, &shapes[i], fixture_setup, test_core_and_plugin, fixture_teardown);
    }

  return g_test_run ();
}
