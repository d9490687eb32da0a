/* test-plugins.c: auth methods and regions are plugins, found on
 * ICLOUD_PLUGIN_PATH and used
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <icloud-glib/icloud-plugin.h>

#include "icloud-mock-server.h"

static const char accounts_json[] =
  "{\"accounts\": ["
  " {\"apple_id\": \"legacy@example.com\", \"password\": \"open sesame\", \"protocol\": \"s2k\", \"iterations\": 1000, \"legacy_password\": true}"
  "]}";

static void
test_test_module_used (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudMockServer) server = icloud_mock_server_new ();
  g_autoptr(ICloudEndpoint) endpoint = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autofree char *dir = g_build_filename (g_get_user_state_dir (), "plugins", NULL);

  icloud_mock_server_load_accounts_from_data (server, accounts_json, -1, &error);
  g_assert_no_error (error);
  icloud_mock_server_start (server, &error);
  g_assert_no_error (error);
  endpoint = icloud_endpoint_new_for_base_uri (icloud_mock_server_get_base_uri (server), &error);
  g_assert_no_error (error);

  /* The test module (tests/plugins, built from examples/plugin/) provides
   * "example-legacy-password". */
  session = g_initable_new (ICLOUD_TYPE_SESSION, NULL, &error,
                            "apple-id", "legacy@example.com",
                            "password", "open sesame",
                            "endpoint", endpoint,
                            "cookie-directory", dir,
                            "sign-in-method", "example-legacy-password",
                            NULL);
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);

  /* It was used: the legacy call was made, and no SRP. */
  g_assert_cmpuint (icloud_mock_server_count_requests (server, "legacy@example.com", "/appleauth/auth/signin"), ==, 1);
  g_assert_cmpuint (icloud_mock_server_count_requests (server, "legacy@example.com", "/appleauth/auth/signin/init"), ==, 0);

  icloud_mock_server_stop (server);
}

static void
test_missing_method (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(ICloudEndpoint) endpoint = icloud_endpoint_new_for_base_uri ("http://127.0.0.1:9", NULL);
  g_autofree char *dir = g_build_filename (g_get_user_state_dir (), "plugins", NULL);

  session = g_initable_new (ICLOUD_TYPE_SESSION, NULL, &error,
                            "apple-id", "nobody@example.com",
                            "password", "x",
                            "endpoint", endpoint,
                            "cookie-directory", dir,
                            "sign-in-method", "no-such-method",
                            NULL);
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_NO_PLUGIN);
  g_assert_null (session);
  /* The message names the method and the paths searched. */
  g_assert_nonnull (strstr (error->message, "no-such-method"));
  g_assert_nonnull (strstr (error->message, g_getenv ("ICLOUD_PLUGIN_PATH")));
}

static void
test_missing_region (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autofree char *dir = g_build_filename (g_get_user_state_dir (), "plugins", NULL);

  session = g_initable_new (ICLOUD_TYPE_SESSION, NULL, &error,
                            "apple-id", "nobody@example.com",
                            "password", "x",
                            "region", "atlantis",
                            "cookie-directory", dir,
                            NULL);
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_NO_PLUGIN);
  g_assert_nonnull (strstr (error->message, "atlantis"));
}

static void
test_extension_points (void)
{
  GIOExtensionPoint *ep;
  GIOExtension *ext;

  /* Creating a session loads the plugins. */
  g_autoptr(ICloudSession) session = g_object_new (ICLOUD_TYPE_SESSION, "apple-id", "x@example.com",
                                                    "cookie-directory", g_get_user_state_dir (), NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudEndpoint) endpoint = NULL;

  /* Any operation loads the plugins; a closed session needs none. */
  icloud_session_get_trusted_devices (session, NULL, &error);
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_NOT_AUTHENTICATED);

  ep = g_io_extension_point_lookup (ICLOUD_AUTH_METHOD_EXTENSION_POINT_NAME);
  g_assert_nonnull (ep);
  ext = g_io_extension_point_get_extension_by_name (ep, "srp");
  g_assert_nonnull (ext);
  g_assert_true (g_type_is_a (g_io_extension_get_type (ext), ICLOUD_TYPE_AUTH_METHOD));

  ep = g_io_extension_point_lookup (ICLOUD_REGION_EXTENSION_POINT_NAME);
  ext = g_io_extension_point_get_extension_by_name (ep, "global");
  g_assert_nonnull (ext);

  /* The session picked the global endpoint from its region. */
  g_object_get (session, "endpoint", &endpoint, NULL);
  g_assert_nonnull (endpoint);
  g_assert_nonnull (strstr (icloud_endpoint_get_auth_uri (endpoint), "://idmsa.apple.com/appleauth/auth"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/plugins/test-module-used", test_test_module_used);
  g_test_add_func ("/plugins/missing-method", test_missing_method);
  g_test_add_func ("/plugins/missing-region", test_missing_region);
  g_test_add_func ("/plugins/extension-points", test_extension_points);

  return g_test_run ();
}
