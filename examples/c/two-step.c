/* two-step.c: a two-step (legacy 2SA) account: list the trusted devices,
 * send a code to one, validate it.
 *
 * pyicloud's async guide:
 *
 *     if api.requires_2sa:
 *         devices = await api.get_trusted_devices()
 *         device = devices[device_index]
 *         if not await api.send_verification_code(device): ...
 *         code = input("Enter verification code: ")
 *         if not await api.validate_verification_code(device, code): ...
 *
 * A failure is an error here, not a False: a wrong code is
 * ICLOUD_ERROR_INVALID_CODE.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "example-common.h"

#define APPLE_ID "2sa@example.com"

typedef struct {
  ExampleServer       *ex;
  GMainLoop           *loop;
  ICloudSession       *session;
  ICloudTrustedDevice *device;
} App;

static void
validated_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;

  icloud_session_validate_verification_code_finish (app->session, result, &error);
  check_no_error (error);
  check (icloud_session_get_state (app->session) == ICLOUD_AUTH_STATE_AUTHENTICATED);
  check (!icloud_session_get_requires_2sa (app->session));
  g_print ("Verification successful!\n");
  g_main_loop_quit (app->loop);
}

static void
sent_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *code = NULL;

  icloud_session_send_verification_code_finish (app->session, result, &error);
  check_no_error (error);

  /* What the user reads in the text message. */
  code = icloud_mock_server_dup_last_code (app->ex->server, APPLE_ID,
                                           icloud_trusted_device_get_id (app->device));
  check (code != NULL);

  icloud_session_validate_verification_code_async (app->session, app->device, code, NULL,
                                                   validated_cb, app);
}

static void
devices_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GListModel) devices = NULL;

  devices = icloud_session_get_trusted_devices_finish (app->session, result, &error);
  check_no_error (error);
  check (g_list_model_get_n_items (devices) == 2);

  g_print ("Trusted devices:\n");
  for (guint i = 0; i < g_list_model_get_n_items (devices); i++)
    {
      g_autoptr(ICloudTrustedDevice) device = g_list_model_get_item (devices, i);

      g_print ("  %u: %s %s\n", i, icloud_trusted_device_get_device_type (device),
               icloud_trusted_device_get_phone_number (device));
    }

  /* The user picks the first one. */
  app->device = g_list_model_get_item (devices, 0);
  icloud_session_send_verification_code_async (app->session, app->device, NULL, sent_cb, app);
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
  check (icloud_session_get_state (app->session) == ICLOUD_AUTH_STATE_NEEDS_2SA);
  check (icloud_session_get_requires_2sa (app->session));
  check (!icloud_session_get_requires_2fa (app->session));
  g_print ("Two-step authentication required\n");

  icloud_session_get_trusted_devices_async (app->session, NULL, devices_cb, app);
}

int
main (void)
{
  ExampleServer ex = { 0 };
  App app = { &ex, NULL, NULL, NULL };

  example_server_start (&ex);
  app.loop = g_main_loop_new (NULL, FALSE);

  g_async_initable_new_async (ICLOUD_TYPE_SESSION, G_PRIORITY_DEFAULT, NULL,
                              created_cb, &app,
                              "apple-id", APPLE_ID,
                              "password", "two step",
                              "endpoint", ex.endpoint,
                              NULL);
  example_run (app.loop);

  g_clear_object (&app.device);
  g_clear_object (&app.session);
  g_main_loop_unref (app.loop);
  example_server_stop (&ex);
  return EXIT_SUCCESS;
}
