/* error-handling.c: what went wrong, by error code.
 *
 * pyicloud's async guide:
 *
 *     try:
 *         async with await AsyncPyiCloudService.create(id, 'wrong_password') as api: ...
 *     except PyiCloudFailedLoginException:
 *         print("Failed to log in - check your credentials")
 *     except PyiCloud2FARequiredException:
 *         print("2FA is required")
 *
 * Here every failure is a GError in the ICLOUD_ERROR domain with one code per
 * cause the user can act on (cancellation is G_IO_ERROR_CANCELLED), and a
 * pending second factor is not an error at all: the sign-in succeeds and
 * the session's state says which challenge comes next.
 *
 * To keep the cases readable, this example waits for each callback in turn
 * (wait_for () runs the main loop until the callback is called); the other
 * examples chain their callbacks as an application would.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "example-common.h"

static ExampleServer ex;
static GMainLoop *loop;
static GAsyncResult *last_result;

static void
ready_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  last_result = g_object_ref (result);
  g_main_loop_quit (loop);
}

static GAsyncResult *
wait_for (void)
{
  example_run (loop);
  return g_steal_pointer (&last_result);
}

/* What an application tells its user. */
static const char *
explain (const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return "Cancelled";
  if (error->domain != ICLOUD_ERROR)
    return "Network error";   /* G_IO_ERROR, G_RESOLVER_ERROR, G_TLS_ERROR */

  switch ((ICloudError) error->code)
    {
    case ICLOUD_ERROR_FAILED_LOGIN:
      return "Failed to log in - check your credentials";
    case ICLOUD_ERROR_INVALID_CODE:
      return "Wrong code, try again";
    case ICLOUD_ERROR_TWO_FACTOR_REQUIRED:
      return "2FA is required";
    case ICLOUD_ERROR_TWO_STEP_REQUIRED:
      return "Two-step verification is required";
    case ICLOUD_ERROR_SECURITY_KEY_REQUIRED:
      return "Sign in with a security key on icloud.com";
    case ICLOUD_ERROR_ACCOUNT_LOCKED:
      return "Apple locked the account: unlock it at iforgot.apple.com";
    case ICLOUD_ERROR_REPAIR_REQUIRED:
      return "Sign in on icloud.com to repair the account or accept new terms";
    case ICLOUD_ERROR_THROTTLED:
      return "Apple asks to wait";   /* icloud_error_get_retry_after () says how long */
    case ICLOUD_ERROR_AUTH_REQUIRED:
      return "The password is needed again";
    case ICLOUD_ERROR_SERVICE_NOT_ACTIVATED:
      return "Set up iCloud on icloud.com first";
    case ICLOUD_ERROR_WRONG_REGION:
      return "The account belongs to another region";
    case ICLOUD_ERROR_NOT_AUTHENTICATED:
      return "Not possible in this state of the sign-in";
    case ICLOUD_ERROR_PROTOCOL:
      return "Apple's answer could not be read";
    case ICLOUD_ERROR_NO_PLUGIN:
      return "A plugin is missing";
    case ICLOUD_ERROR_STORAGE:
      return "The session directory cannot be used, or another program uses the account";
    case ICLOUD_ERROR_CLOSED:
      return "The session was closed";
    default:
      return "Unexpected error";
    }
}

static ICloudSession *
sign_in (const char    *apple_id,
         const char    *password,
         GCancellable  *cancellable,
         GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GObject) source = NULL;

  g_async_initable_new_async (ICLOUD_TYPE_SESSION, G_PRIORITY_DEFAULT, cancellable,
                              ready_cb, NULL,
                              "apple-id", apple_id,
                              "password", password,
                              "endpoint", ex.endpoint,
                              NULL);
  result = wait_for ();
  source = g_async_result_get_source_object (result);
  return ICLOUD_SESSION (g_async_initable_new_finish (G_ASYNC_INITABLE (source), result, error));
}

static void
expect (const GError *error,
        GQuark        domain,
        int           code)
{
  check (error != NULL);
  g_print ("  -> %s (%s)\n", explain (error), error->message);
  check (g_error_matches (error, domain, code));
}

int
main (void)
{
  static const struct {
    const char *apple_id;
    const char *password;
    ICloudError code;
  } failures[] = {
    { "user@example.com", "wrong_password", ICLOUD_ERROR_FAILED_LOGIN },
    { "locked@example.com", "locked out", ICLOUD_ERROR_ACCOUNT_LOCKED },
    { "throttled@example.com", "slow down", ICLOUD_ERROR_THROTTLED },
    { "repair@example.com", "needs repair", ICLOUD_ERROR_REPAIR_REQUIRED },
    { "malformed@example.com", "broken json", ICLOUD_ERROR_PROTOCOL },
    /* No password, and nothing saved to sign in with. */
    { "fo@example.com", NULL, ICLOUD_ERROR_AUTH_REQUIRED },
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GListModel) devices = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  g_autofree char *code = NULL;

  example_server_start (&ex);
  loop = g_main_loop_new (NULL, FALSE);

  /* 1. Sign-ins that fail. */
  for (guint i = 0; i < G_N_ELEMENTS (failures); i++)
    {
      g_autoptr(ICloudSession) failed = NULL;

      g_print ("%s:\n", failures[i].apple_id);
      failed = sign_in (failures[i].apple_id, failures[i].password, NULL, &error);
      check (failed == NULL);
      expect (error, ICLOUD_ERROR, failures[i].code);
      /* No message ever holds a password. */
      if (failures[i].password != NULL)
        check (strstr (error->message, failures[i].password) == NULL);

      if (g_error_matches (error, ICLOUD_ERROR, ICLOUD_ERROR_THROTTLED))
        {
          /* Apple's Retry-After travels with the error. */
          g_print ("  -> retry in %u s\n", icloud_error_get_retry_after (error));
          check (icloud_error_get_retry_after (error) == 120);
        }
      g_clear_error (&error);
    }

  /* 2. A pending second factor is a state, not an error (pyicloud raises
   * PyiCloud2FARequiredException inside create() and then sets
   * requires_2fa). */
  g_print ("2fa@example.com:\n");
  session = sign_in ("2fa@example.com", "two factor", NULL, &error);
  check_no_error (error);
  check (icloud_session_get_state (session) == ICLOUD_AUTH_STATE_NEEDS_2FA);
  g_print ("  -> 2FA is required (state NEEDS_2FA)\n");

  icloud_session_request_2fa_code_async (session, NULL, NULL, ready_cb, NULL);
  result = wait_for ();
  icloud_session_request_2fa_code_finish (session, result, &error);
  check_no_error (error);
  g_clear_object (&result);
  code = icloud_mock_server_dup_last_code (ex.server, "2fa@example.com", NULL);
  check (code != NULL);

  /* A wrong code: the session still waits for the right one. */
  icloud_session_validate_2fa_code_async (session, strcmp (code, "000000") != 0 ? "000000" : "111111",
                                          NULL, ready_cb, NULL);
  result = wait_for ();
  check (!icloud_session_validate_2fa_code_finish (session, result, &error));
  expect (error, ICLOUD_ERROR, ICLOUD_ERROR_INVALID_CODE);
  check (icloud_session_get_state (session) == ICLOUD_AUTH_STATE_NEEDS_2FA);
  g_clear_error (&error);
  g_clear_object (&result);

  /* A two-step call on a two-factor sign-in: the wrong state. */
  icloud_session_get_trusted_devices_async (session, NULL, ready_cb, NULL);
  result = wait_for ();
  devices = icloud_session_get_trusted_devices_finish (session, result, &error);
  check (devices == NULL);
  expect (error, ICLOUD_ERROR, ICLOUD_ERROR_NOT_AUTHENTICATED);
  g_clear_error (&error);
  g_clear_object (&result);

  /* Closed: every later operation says so. */
  check (icloud_session_close (session, NULL, &error));
  icloud_session_authenticate_async (session, FALSE, NULL, ready_cb, NULL);
  result = wait_for ();
  check (!icloud_session_authenticate_finish (session, result, &error));
  expect (error, ICLOUD_ERROR, ICLOUD_ERROR_CLOSED);
  g_clear_error (&error);
  g_clear_object (&result);
  g_clear_object (&session);

  /* 3. Security keys: the state says so, and code operations fail. */
  g_print ("keys@example.com:\n");
  session = sign_in ("keys@example.com", "security keys", NULL, &error);
  check_no_error (error);
  check (icloud_session_get_state (session) == ICLOUD_AUTH_STATE_NEEDS_SECURITY_KEY);
  icloud_session_request_2fa_code_async (session, NULL, NULL, ready_cb, NULL);
  result = wait_for ();
  check (!icloud_session_request_2fa_code_finish (session, result, &error));
  expect (error, ICLOUD_ERROR, ICLOUD_ERROR_SECURITY_KEY_REQUIRED);
  g_clear_error (&error);
  g_clear_object (&result);
  g_clear_object (&session);

  /* 4. Cancellation is G_IO_ERROR_CANCELLED. */
  g_print ("user@example.com, cancelled:\n");
  cancellable = g_cancellable_new ();
  g_cancellable_cancel (cancellable);
  session = sign_in ("user@example.com", "correct horse", cancellable, &error);
  check (session == NULL);
  expect (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  g_main_loop_unref (loop);
  example_server_stop (&ex);
  return EXIT_SUCCESS;
}
