/* test-endpoint.c: the small value classes (endpoint, trusted phone and
 * device) and the error domain
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include <icloud-glib/icloud-glib.h>

#include "icloud-endpoint-private.h"

static JsonNode *
parse_json (const char *text)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = json_from_string (text, &error);

  g_assert_no_error (error);
  g_assert_nonnull (node);

  return node;
}

static void
test_error_quark (void)
{
  g_assert_cmpstr (g_quark_to_string (ICLOUD_ERROR), ==, "icloud-error-quark");
  g_assert_cmpuint (icloud_error_quark (), ==,
                    g_quark_from_static_string ("icloud-error-quark"));
}

static void
test_endpoint_base_uri (void)
{
  const char *bases[] = {
    "http://127.0.0.1:8080",
    "http://127.0.0.1:8080/",
    "http://127.0.0.1:8080//",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(ICloudEndpoint) endpoint = NULL;

      endpoint = icloud_endpoint_new_for_base_uri (bases[i], &error);
      g_assert_no_error (error);
      g_assert_true (ICLOUD_IS_ENDPOINT (endpoint));
      g_assert_cmpstr (icloud_endpoint_get_auth_uri (endpoint), ==,
                       "http://127.0.0.1:8080/appleauth/auth");
      g_assert_cmpstr (icloud_endpoint_get_setup_uri (endpoint), ==,
                       "http://127.0.0.1:8080/setup/ws/1");
      g_assert_cmpstr (icloud_endpoint_get_home_uri (endpoint), ==,
                       "http://127.0.0.1:8080");
    }

  /* A path prefix is kept. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(ICloudEndpoint) endpoint = NULL;

    endpoint = icloud_endpoint_new_for_base_uri ("https://mock.example.org/icloud/", &error);
    g_assert_no_error (error);
    g_assert_cmpstr (icloud_endpoint_get_auth_uri (endpoint), ==,
                     "https://mock.example.org/icloud/appleauth/auth");
    g_assert_cmpstr (icloud_endpoint_get_setup_uri (endpoint), ==,
                     "https://mock.example.org/icloud/setup/ws/1");
    g_assert_cmpstr (icloud_endpoint_get_home_uri (endpoint), ==,
                     "https://mock.example.org/icloud");
  }
}

static void
test_endpoint_https_any_host (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudEndpoint) endpoint = NULL;
  g_autoptr(ICloudEndpoint) other = NULL;

  endpoint = icloud_endpoint_new ("https://idmsa.example.org/appleauth/auth/",
                                  "https://setup.example.org/setup/ws/1",
                                  "https://www.example.org/",
                                  &error);
  g_assert_no_error (error);
  g_assert_cmpstr (icloud_endpoint_get_auth_uri (endpoint), ==,
                   "https://idmsa.example.org/appleauth/auth");
  g_assert_cmpstr (icloud_endpoint_get_setup_uri (endpoint), ==,
                   "https://setup.example.org/setup/ws/1");
  g_assert_cmpstr (icloud_endpoint_get_home_uri (endpoint), ==,
                   "https://www.example.org");

  other = icloud_endpoint_new_for_base_uri ("https://192.168.1.1:8443", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (icloud_endpoint_get_home_uri (other), ==, "https://192.168.1.1:8443");
}

static void
test_endpoint_http_loopback (void)
{
  const char *bases[] = {
    "http://127.0.0.1",
    "http://127.0.0.1:43210",
    "http://127.8.9.10:80/",
    "http://localhost:8080",
    "http://LOCALHOST",
    "http://[::1]:8080",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(ICloudEndpoint) endpoint = NULL;

      g_test_message ("base %s", bases[i]);
      endpoint = icloud_endpoint_new_for_base_uri (bases[i], &error);
      g_assert_no_error (error);
      g_assert_true (ICLOUD_IS_ENDPOINT (endpoint));
      g_assert_true (g_str_has_prefix (icloud_endpoint_get_auth_uri (endpoint), "http://"));
    }
}

static void
test_endpoint_http_refused (void)
{
  const char *bases[] = {
    "http://192.168.1.1",
    "http://192.168.1.1:8080/",
    "http://example.com",
    "http://128.0.0.1",
    "http://[::2]:8080",
    "http://localhost.example.com",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(ICloudEndpoint) endpoint = NULL;

      g_test_message ("base %s", bases[i]);
      endpoint = icloud_endpoint_new_for_base_uri (bases[i], &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
      g_assert_null (endpoint);
      g_assert_true (strstr (error->message, "loopback") != NULL);
    }

  /* One bad root of three is enough to refuse. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(ICloudEndpoint) endpoint = NULL;

    endpoint = icloud_endpoint_new ("http://127.0.0.1/appleauth/auth",
                                    "http://example.com/setup/ws/1",
                                    "http://127.0.0.1",
                                    &error);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
    g_assert_null (endpoint);
    g_assert_true (strstr (error->message, "example.com") != NULL);
  }

  /* The message names the host but not the userinfo. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(ICloudEndpoint) endpoint = NULL;

    endpoint = icloud_endpoint_new_for_base_uri ("http://user:s3cr3t@example.com/x", &error);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
    g_assert_null (endpoint);
    g_assert_true (strstr (error->message, "example.com") != NULL);
    g_assert_null (strstr (error->message, "s3cr3t"));
    g_assert_null (strstr (error->message, "user"));
  }

  /* Other schemes are not supported either. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(ICloudEndpoint) endpoint = NULL;

    endpoint = icloud_endpoint_new_for_base_uri ("ftp://127.0.0.1", &error);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
    g_assert_null (endpoint);
  }
}

static void
test_endpoint_invalid (void)
{
  const char *bases[] = {
    "",
    "not a uri",
    "/setup/ws/1",
    "www.example.org",
    "https://",
    "https://example.com/?token=s3cr3t",
    "https://example.com/#frag",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(ICloudEndpoint) endpoint = NULL;

      g_test_message ("base '%s'", bases[i]);
      endpoint = icloud_endpoint_new_for_base_uri (bases[i], &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_null (endpoint);
      g_assert_null (strstr (error->message, "s3cr3t"));
    }

  {
    g_autoptr(GError) error = NULL;
    g_autoptr(ICloudEndpoint) endpoint = NULL;

    endpoint = icloud_endpoint_new ("https://idmsa.example.org/appleauth/auth",
                                    "https://setup.example.org/setup/ws/1",
                                    "relative/home",
                                    &error);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    g_assert_null (endpoint);
  }
}

static void
test_endpoint_equal (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudEndpoint) a = NULL;
  g_autoptr(ICloudEndpoint) b = NULL;
  g_autoptr(ICloudEndpoint) c = NULL;
  g_autoptr(ICloudEndpoint) d = NULL;

  a = icloud_endpoint_new_for_base_uri ("http://127.0.0.1:8080", &error);
  g_assert_no_error (error);
  b = icloud_endpoint_new ("http://127.0.0.1:8080/appleauth/auth/",
                           "http://127.0.0.1:8080/setup/ws/1",
                           "http://127.0.0.1:8080/",
                           &error);
  g_assert_no_error (error);
  c = icloud_endpoint_new_for_base_uri ("http://127.0.0.1:8081", &error);
  g_assert_no_error (error);
  d = icloud_endpoint_new ("http://127.0.0.1:8080/appleauth/auth",
                           "http://127.0.0.1:8080/setup/ws/2",
                           "http://127.0.0.1:8080",
                           &error);
  g_assert_no_error (error);

  g_assert_true (icloud_endpoint_equal (a, a));
  g_assert_true (icloud_endpoint_equal (a, b));
  g_assert_true (icloud_endpoint_equal (b, a));
  g_assert_false (icloud_endpoint_equal (a, c));
  g_assert_false (icloud_endpoint_equal (a, d));
  g_assert_false (icloud_endpoint_equal (d, b));
}

static void
test_endpoint_properties (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudEndpoint) endpoint = NULL;
  g_autofree char *auth = NULL;
  g_autofree char *setup = NULL;
  g_autofree char *home = NULL;
  GParamSpec *pspec;

  endpoint = icloud_endpoint_new_for_base_uri ("http://[::1]:9000/", &error);
  g_assert_no_error (error);

  g_object_get (endpoint,
                "auth-uri", &auth,
                "setup-uri", &setup,
                "home-uri", &home,
                NULL);
  g_assert_cmpstr (auth, ==, "http://[::1]:9000/appleauth/auth");
  g_assert_cmpstr (setup, ==, "http://[::1]:9000/setup/ws/1");
  g_assert_cmpstr (home, ==, "http://[::1]:9000");

  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (endpoint), "auth-uri");
  g_assert_nonnull (pspec);
  g_assert_true (pspec->flags & G_PARAM_CONSTRUCT_ONLY);
  g_assert_true (pspec->flags & G_PARAM_READABLE);
}

static void
test_trusted_phone_numeric_id (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(ICloudTrustedPhone) phone = NULL;
  g_autofree char *id = NULL;
  g_autofree char *number = NULL;
  g_autofree char *mode = NULL;

  node = parse_json ("{\"numberWithDialCode\": \"+1 (•••) •••-••58\","
                     " \"nonFTEU\": true, \"pushMode\": \"voice\","
                     " \"obfuscatedNumber\": \"(•••) •••-••58\","
                     " \"lastTwoDigits\": \"58\", \"id\": 2}");
  phone = icloud_trusted_phone_new_from_json (node, &error);
  g_assert_no_error (error);
  g_assert_true (ICLOUD_IS_TRUSTED_PHONE (phone));
  g_assert_cmpstr (icloud_trusted_phone_get_id (phone), ==, "2");
  g_assert_cmpstr (icloud_trusted_phone_get_obfuscated_number (phone), ==, "(•••) •••-••58");
  g_assert_cmpstr (icloud_trusted_phone_get_push_mode (phone), ==, "voice");

  g_object_get (phone,
                "id", &id,
                "obfuscated-number", &number,
                "push-mode", &mode,
                NULL);
  g_assert_cmpstr (id, ==, "2");
  g_assert_cmpstr (number, ==, "(•••) •••-••58");
  g_assert_cmpstr (mode, ==, "voice");
}

static void
test_trusted_phone_string_id (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(ICloudTrustedPhone) phone = NULL;

  /* No obfuscatedNumber: numberWithDialCode is used; no pushMode: sms. */
  node = parse_json ("{\"id\": \"17\", \"numberWithDialCode\": \"+49 •••• ••••12\"}");
  phone = icloud_trusted_phone_new_from_json (node, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (icloud_trusted_phone_get_id (phone), ==, "17");
  g_assert_cmpstr (icloud_trusted_phone_get_obfuscated_number (phone), ==, "+49 •••• ••••12");
  g_assert_cmpstr (icloud_trusted_phone_get_push_mode (phone), ==, "sms");
}

static void
test_trusted_phone_new (void)
{
  g_autoptr(ICloudTrustedPhone) phone = NULL;
  g_autoptr(ICloudTrustedPhone) other = NULL;

  phone = icloud_trusted_phone_new ("1", NULL, NULL);
  g_assert_cmpstr (icloud_trusted_phone_get_id (phone), ==, "1");
  g_assert_null (icloud_trusted_phone_get_obfuscated_number (phone));
  g_assert_cmpstr (icloud_trusted_phone_get_push_mode (phone), ==, "sms");

  other = g_object_new (ICLOUD_TYPE_TRUSTED_PHONE, "id", "3", NULL);
  g_assert_cmpstr (icloud_trusted_phone_get_push_mode (other), ==, "sms");
}

static void
test_trusted_phone_bad_json (void)
{
  const char *docs[] = {
    "{\"obfuscatedNumber\": \"(•••) •••-••58\", \"pushMode\": \"sms\"}",
    "{\"id\": null}",
    "{\"id\": \"\"}",
    "{\"id\": true}",
    "[1, 2]",
    "\"2\"",
  };

  for (guint i = 0; i < G_N_ELEMENTS (docs); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) node = parse_json (docs[i]);
      g_autoptr(ICloudTrustedPhone) phone = NULL;

      g_test_message ("doc %s", docs[i]);
      phone = icloud_trusted_phone_new_from_json (node, &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_assert_null (phone);
    }
}

static void
test_trusted_device_round_trip (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) out = NULL;
  g_autoptr(ICloudTrustedDevice) device = NULL;
  g_autoptr(ICloudTrustedDevice) again = NULL;
  g_autofree char *id = NULL;
  g_autofree char *type = NULL;
  g_autofree char *number = NULL;
  g_autofree char *area = NULL;
  JsonObject *object;

  node = parse_json ("{\"deviceType\": \"SMS\", \"areaCode\": \"\","
                     " \"phoneNumber\": \"*******58\", \"deviceId\": \"1\","
                     " \"unknown\": [1, 2, 3]}");
  device = icloud_trusted_device_new_from_json (node, &error);
  g_assert_no_error (error);
  g_assert_true (ICLOUD_IS_TRUSTED_DEVICE (device));
  g_assert_cmpstr (icloud_trusted_device_get_id (device), ==, "1");
  g_assert_cmpstr (icloud_trusted_device_get_device_type (device), ==, "SMS");
  g_assert_cmpstr (icloud_trusted_device_get_phone_number (device), ==, "*******58");
  g_assert_cmpstr (icloud_trusted_device_get_area_code (device), ==, "");

  g_object_get (device,
                "id", &id,
                "device-type", &type,
                "phone-number", &number,
                "area-code", &area,
                NULL);
  g_assert_cmpstr (id, ==, "1");
  g_assert_cmpstr (type, ==, "SMS");
  g_assert_cmpstr (number, ==, "*******58");
  g_assert_cmpstr (area, ==, "");

  out = icloud_trusted_device_to_json (device);
  g_assert_nonnull (out);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (out));
  object = json_node_get_object (out);
  g_assert_cmpuint (json_object_get_size (object), ==, 4);
  g_assert_cmpstr (json_object_get_string_member (object, "deviceType"), ==, "SMS");
  g_assert_cmpstr (json_object_get_string_member (object, "areaCode"), ==, "");
  g_assert_cmpstr (json_object_get_string_member (object, "phoneNumber"), ==, "*******58");
  g_assert_cmpstr (json_object_get_string_member (object, "deviceId"), ==, "1");
  g_assert_false (json_object_has_member (object, "unknown"));

  again = icloud_trusted_device_new_from_json (out, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (icloud_trusted_device_get_id (again), ==, "1");
  g_assert_cmpstr (icloud_trusted_device_get_device_type (again), ==, "SMS");
  g_assert_cmpstr (icloud_trusted_device_get_phone_number (again), ==, "*******58");
  g_assert_cmpstr (icloud_trusted_device_get_area_code (again), ==, "");
}

static void
test_trusted_device_new (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudTrustedDevice) device = NULL;
  g_autoptr(ICloudTrustedDevice) numeric = NULL;
  g_autoptr(JsonNode) out = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *text = NULL;

  device = icloud_trusted_device_new ("7", "SMS", "*******12", NULL);
  g_assert_null (icloud_trusted_device_get_area_code (device));
  out = icloud_trusted_device_to_json (device);
  text = json_to_string (out, FALSE);
  g_assert_cmpstr (text, ==,
                   "{\"deviceType\":\"SMS\",\"areaCode\":\"\","
                   "\"phoneNumber\":\"*******12\",\"deviceId\":\"7\"}");

  node = parse_json ("{\"deviceId\": 42}");
  numeric = icloud_trusted_device_new_from_json (node, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (icloud_trusted_device_get_id (numeric), ==, "42");
  g_assert_null (icloud_trusted_device_get_device_type (numeric));
  g_assert_null (icloud_trusted_device_get_phone_number (numeric));
}

static void
test_trusted_device_bad_json (void)
{
  const char *docs[] = {
    "{\"deviceType\": \"SMS\", \"phoneNumber\": \"*******58\"}",
    "{\"deviceId\": {}}",
    "[]",
  };

  for (guint i = 0; i < G_N_ELEMENTS (docs); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) node = parse_json (docs[i]);
      g_autoptr(ICloudTrustedDevice) device = NULL;

      g_test_message ("doc %s", docs[i]);
      device = icloud_trusted_device_new_from_json (node, &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_assert_null (device);
    }
}

/* The WebSocket to Apple's push service: wss:// to Apple's host, or the
 * fake server's own loopback origin in its one-origin mode; never plain
 * ws:// elsewhere. */
static void
test_endpoint_websocket_uri (void)
{
  static const struct {
    const char *base;        /* or NULL: Apple's endpoint */
    const char *expected;
  } cases[] = {
    { NULL, "wss://websocket.push.apple.com/v2/00ff" },
    { "http://127.0.0.1:8080", "ws://127.0.0.1:8080/v2/00ff" },
    { "http://localhost:8080/", "ws://localhost:8080/v2/00ff" },
    { "https://127.0.0.1:8443", "wss://127.0.0.1:8443/v2/00ff" },
    { "http://[::1]:8080", "ws://[::1]:8080/v2/00ff" },
    /* a base on another host, or under a path: Apple's push host */
    { "https://icloud.example.com", "wss://websocket.push.apple.com/v2/00ff" },
    { "http://127.0.0.1:8080/prefix", "wss://websocket.push.apple.com/v2/00ff" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(ICloudEndpoint) endpoint = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *uri = NULL;

      if (cases[i].base != NULL)
        endpoint = icloud_endpoint_new_for_base_uri (cases[i].base, &error);
      else
        endpoint = icloud_endpoint_new ("https://idmsa.apple.com/appleauth/auth",
                                        "https://setup.icloud.com/setup/ws/1",
                                        "https://www.icloud.com", &error);
      g_assert_no_error (error);
      uri = icloud_endpoint_dup_websocket_uri (endpoint, "websocket.push.apple.com", "/v2/00ff", &error);
      g_assert_no_error (error);
      g_assert_cmpstr (uri, ==, cases[i].expected);
    }

  /* a loopback endpoint made root by root (not a base): Apple's host */
  {
    g_autoptr(ICloudEndpoint) endpoint = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *uri = NULL;

    endpoint = icloud_endpoint_new ("http://127.0.0.1:1/auth", "http://127.0.0.1:1/setup",
                                    "http://127.0.0.1:1", &error);
    g_assert_no_error (error);
    uri = icloud_endpoint_dup_websocket_uri (endpoint, "websocket.push.apple.com", "/v2", &error);
    g_assert_cmpstr (uri, ==, "wss://websocket.push.apple.com/v2");
  }

  /* a host that is not one */
  {
    g_autoptr(ICloudEndpoint) endpoint = icloud_endpoint_new_for_base_uri ("http://127.0.0.1:1", NULL);
    const char *bad[] = { "", "a/b", "a b", "user@host", "h?q", "h#f" };

    for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autoptr(GError) error = NULL;

        g_assert_null (icloud_endpoint_dup_websocket_uri (endpoint, bad[i], "/v2", &error));
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      }
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/error/quark", test_error_quark);
  g_test_add_func ("/endpoint/base-uri", test_endpoint_base_uri);
  g_test_add_func ("/endpoint/https-any-host", test_endpoint_https_any_host);
  g_test_add_func ("/endpoint/http-loopback", test_endpoint_http_loopback);
  g_test_add_func ("/endpoint/http-refused", test_endpoint_http_refused);
  g_test_add_func ("/endpoint/invalid", test_endpoint_invalid);
  g_test_add_func ("/endpoint/equal", test_endpoint_equal);
  g_test_add_func ("/endpoint/properties", test_endpoint_properties);
  g_test_add_func ("/endpoint/websocket-uri", test_endpoint_websocket_uri);
  g_test_add_func ("/trusted-phone/numeric-id", test_trusted_phone_numeric_id);
  g_test_add_func ("/trusted-phone/string-id", test_trusted_phone_string_id);
  g_test_add_func ("/trusted-phone/new", test_trusted_phone_new);
  g_test_add_func ("/trusted-phone/bad-json", test_trusted_phone_bad_json);
  g_test_add_func ("/trusted-device/round-trip", test_trusted_device_round_trip);
  g_test_add_func ("/trusted-device/new", test_trusted_device_new);
  g_test_add_func ("/trusted-device/bad-json", test_trusted_device_bad_json);

  return g_test_run ();
}
