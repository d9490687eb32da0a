/* china-mainland.c: an Apple ID of China mainland.
 *
 * pyicloud's async guide:
 *
 *     api = await AsyncPyiCloudService.create(id, pw, china_mainland=True)
 *
 * Here the region is a property, "region" = "china-mainland", served by the
 * china-mainland plugin: its endpoint is Apple's China mainland hosts
 * (setup.icloud.com.cn, www.icloud.com.cn). Forgetting it is
 * ICLOUD_ERROR_WRONG_REGION, whose message names the right region.
 *
 * The fake server runs in routed mode: TLS with the test certificate and
 * Apple's host names. Its SoupSession (the session's "soup-session")
 * connects every host name to 127.0.0.1 and trusts only the test
 * certificate, so the example uses the plugin's real URLs and still never
 * leaves the machine. With Apple, leave out "soup-session".
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "example-common.h"

#define APPLE_ID "china@example.com"

typedef struct {
  ExampleServer *ex;
  GMainLoop     *loop;
  ICloudSession *session;
} App;

static void
closed_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;

  icloud_session_close_finish (app->session, result, &error);
  check_no_error (error);
  g_main_loop_quit (app->loop);
}

static void
china_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GUri) setup = NULL;
  ICloudEndpoint *endpoint;

  app->session = ICLOUD_SESSION (g_async_initable_new_finish (G_ASYNC_INITABLE (source),
                                                              result, &error));
  check_no_error (error);
  check (icloud_session_get_state (app->session) == ICLOUD_AUTH_STATE_AUTHENTICATED);
  check (g_strcmp0 (icloud_session_get_region (app->session), "china-mainland") == 0);

  /* The region's endpoint: Apple's China mainland hosts. */
  endpoint = icloud_session_get_endpoint (app->session);
  setup = g_uri_parse (icloud_endpoint_get_setup_uri (endpoint), G_URI_FLAGS_NONE, NULL);
  check (setup != NULL);
  check (g_str_has_suffix (g_uri_get_host (setup), ".icloud.com.cn"));
  g_print ("Signed in through %s\n", g_uri_get_host (setup));

  /* The fake server saw the sign-in on its China mainland hosts. */
  check (icloud_mock_server_count_requests (app->ex->server, APPLE_ID,
                                            "/setup/ws/1/accountLogin") > 0);

  icloud_session_close_async (app->session, NULL, closed_cb, app);
}

static void
global_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GObject) session = NULL;

  /* Without the region, Apple redirects a China mainland account. */
  session = g_async_initable_new_finish (G_ASYNC_INITABLE (source), result, &error);
  check (session == NULL);
  check (g_error_matches (error, ICLOUD_ERROR, ICLOUD_ERROR_WRONG_REGION));
  check (strstr (error->message, "china-mainland") != NULL);
  g_print ("Without the region: %s\n", error->message);

  g_async_initable_new_async (ICLOUD_TYPE_SESSION, G_PRIORITY_DEFAULT, NULL,
                              china_cb, app,
                              "apple-id", APPLE_ID,
                              "password", "china mainland",
                              "region", "china-mainland",       /* china_mainland=True */
                              "soup-session", app->ex->soup,    /* the routed fake server */
                              NULL);
}

int
main (void)
{
  ExampleServer ex = { 0 };
  App app = { &ex, NULL, NULL };

  example_server_start_routed (&ex);
  app.loop = g_main_loop_new (NULL, FALSE);

  /* The default region, "global". */
  g_async_initable_new_async (ICLOUD_TYPE_SESSION, G_PRIORITY_DEFAULT, NULL,
                              global_cb, &app,
                              "apple-id", APPLE_ID,
                              "password", "china mainland",
                              "soup-session", ex.soup,
                              NULL);
  example_run (app.loop);

  g_clear_object (&app.session);
  g_main_loop_unref (app.loop);
  example_server_stop (&ex);
  return EXIT_SUCCESS;
}
