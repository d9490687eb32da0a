/* two-factor.c: a two-factor (HSA2) account: request a code, validate it,
 * trust the session; the next start needs neither password nor code.
 *
 * pyicloud's async guide:
 *
 *     if api.requires_2fa:
 *         code = input("Enter the code you received: ")
 *         result = await api.validate_2fa_code(code)
 *     if not api.is_trusted_session:
 *         await api.trust_session()
 *
 * Where a user would type the code, the example asks the fake server for
 * the code it "sent".
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "example-common.h"

#define APPLE_ID "2fa@example.com"

typedef struct {
  ExampleServer *ex;
  GMainLoop     *loop;
  ICloudSession *session;
  guint          codes_sent;
} App;

static void
reopened_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GObject) again = g_async_initable_new_finish (G_ASYNC_INITABLE (source), result, &error);

  check_no_error (error);
  /* The trusted session from disk: no password, no code. */
  check (icloud_session_get_state (ICLOUD_SESSION (again)) == ICLOUD_AUTH_STATE_AUTHENTICATED);
  check (icloud_mock_server_count_codes_sent (app->ex->server, APPLE_ID, NULL) == app->codes_sent);
  g_print ("Signed in again from the saved session, without a code\n");
  g_main_loop_quit (app->loop);
}

static void
closed_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;

  icloud_session_close_finish (ICLOUD_SESSION (source), result, &error);
  check_no_error (error);

  /* A new session, as at the next start of the program: no password. */
  g_async_initable_new_async (ICLOUD_TYPE_SESSION, G_PRIORITY_DEFAULT, NULL,
                              reopened_cb, app,
                              "apple-id", APPLE_ID,
                              "endpoint", app->ex->endpoint,
                              NULL);
}

static void
trusted (App *app)
{
  check (icloud_session_get_is_trusted_session (app->session));
  g_print ("The session is trusted\n");
  icloud_session_close_async (app->session, NULL, closed_cb, app);
}

static void
trusted_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;

  icloud_session_trust_session_finish (app->session, result, &error);
  check_no_error (error);
  trusted (app);
}

static void
validated_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;

  icloud_session_validate_2fa_code_finish (app->session, result, &error);
  check_no_error (error);
  check (icloud_session_get_state (app->session) == ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_print ("Code accepted\n");

  /* validate_2fa_code already asks Apple to trust the session; ask again
   * only if that did not work. */
  if (!icloud_session_get_is_trusted_session (app->session))
    icloud_session_trust_session_async (app->session, NULL, trusted_cb, app);
  else
    trusted (app);
}

static void
code_requested_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *code = NULL;

  icloud_session_request_2fa_code_finish (app->session, result, &error);
  check_no_error (error);

  /* What the user reads on their iPhone. */
  code = icloud_mock_server_dup_last_code (app->ex->server, APPLE_ID, NULL);
  check (code != NULL);
  app->codes_sent = icloud_mock_server_count_codes_sent (app->ex->server, APPLE_ID, NULL);

  icloud_session_validate_2fa_code_async (app->session, code, NULL, validated_cb, app);
}

static void
phones_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GListModel) phones = NULL;

  phones = icloud_session_get_trusted_phone_numbers_finish (app->session, result, &error);
  check_no_error (error);
  check (g_list_model_get_n_items (phones) > 0);
  for (guint i = 0; i < g_list_model_get_n_items (phones); i++)
    {
      g_autoptr(ICloudTrustedPhone) phone = g_list_model_get_item (phones, i);

      g_print ("Trusted phone %s: %s\n", icloud_trusted_phone_get_id (phone),
               icloud_trusted_phone_get_obfuscated_number (phone));
    }

  /* NULL: a push to the trusted devices. Pass one of the phones to have
   * the code sent by SMS instead. */
  icloud_session_request_2fa_code_async (app->session, NULL, NULL, code_requested_cb, app);
}

static void
created_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;

  app->session = ICLOUD_SESSION (g_async_initable_new_finish (G_ASYNC_INITABLE (source),
                                                              result, &error));
  check_no_error (error);

  /* The password was accepted; the sign-in waits for the code. */
  check (icloud_session_get_state (app->session) == ICLOUD_AUTH_STATE_NEEDS_2FA);
  check (icloud_session_get_requires_2fa (app->session));
  check (!icloud_session_get_requires_2sa (app->session));
  check (!icloud_session_get_is_trusted_session (app->session));
  g_print ("Two-factor authentication required\n");

  icloud_session_get_trusted_phone_numbers_async (app->session, NULL, phones_cb, app);
}

int
main (void)
{
  ExampleServer ex = { 0 };
  App app = { &ex, NULL, NULL, 0 };

  example_server_start (&ex);
  app.loop = g_main_loop_new (NULL, FALSE);

  g_async_initable_new_async (ICLOUD_TYPE_SESSION, G_PRIORITY_DEFAULT, NULL,
                              created_cb, &app,
                              "apple-id", APPLE_ID,
                              "password", "two factor",
                              "endpoint", ex.endpoint,
                              NULL);
  example_run (app.loop);

  g_clear_object (&app.session);
  g_main_loop_unref (app.loop);
  example_server_stop (&ex);
  return EXIT_SUCCESS;
}
