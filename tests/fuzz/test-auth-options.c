/* test-auth-options.c: the hsa2 auth-options parser
 * (plugins/hsa2/icloud-hsa2-options.c), without a server: the shapes Apple
 * (and the fake server) answer with, and the bugs the fuzzer found.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#include <icloud-glib/icloud-glib.h>

#include "icloud-hsa2-options.h"
#include "icloud-response-private.h"

static ICloudHsa2Options *
parse (const char *text)
{
  g_autoptr(GBytes) body = g_bytes_new (text, strlen (text));
  g_autoptr(ICloudResponse) response = icloud_response_new (200, NULL, body);
  g_autoptr(ICloudHsa2Options) direct = icloud_hsa2_options_parse (body);
  ICloudHsa2Options *options;

  /* The plugin's entry (the JSON ICloudResponse parsed) gives the same. */
  options = icloud_hsa2_options_parse_document (icloud_response_get_body (response),
                                                icloud_response_get_json (response));
  g_assert_cmpint (options->parsed, ==, direct->parsed);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (options->phones)), ==,
                    g_list_model_get_n_items (G_LIST_MODEL (direct->phones)));
  g_assert_cmpstr (options->security_keys, ==, direct->security_keys);
  g_assert_cmpint (options->bridge, ==, direct->bridge);
  g_assert_cmpstr (options->bridge_host, ==, direct->bridge_host);
  return options;
}

static void
assert_phone (ICloudHsa2Options *options,
              guint              position,
              const char        *id,
              const char        *number,
              const char        *mode)
{
  g_autoptr(ICloudTrustedPhone) phone = g_list_model_get_item (G_LIST_MODEL (options->phones), position);

  g_assert_nonnull (phone);
  g_assert_cmpstr (icloud_trusted_phone_get_id (phone), ==, id);
  g_assert_cmpstr (icloud_trusted_phone_get_obfuscated_number (phone), ==, number);
  g_assert_cmpstr (icloud_trusted_phone_get_push_mode (phone), ==, mode);
}

static guint
n_phones (ICloudHsa2Options *options)
{
  return g_list_model_get_n_items (G_LIST_MODEL (options->phones));
}

static void
test_json (void)
{
  g_autoptr(ICloudHsa2Options) options = parse (
    "{\"trustedDeviceCount\":1,\"phoneNumberVerification\":{"
    "\"trustedPhoneNumbers\":[{\"id\":1,\"numberWithDialCode\":\"+1 (•••) •••-••58\","
    "\"obfuscatedNumber\":\"(•••) •••-••58\",\"pushMode\":\"sms\"},"
    "{\"id\":\"2\",\"numberWithDialCode\":\"+33 •• 21\",\"pushMode\":\"voice\"}],"
    "\"trustedPhoneNumber\":{\"id\":1,\"obfuscatedNumber\":\"(•••) •••-••58\"}},"
    "\"authenticationType\":\"hsa2\"}");

  g_assert_true (options->parsed);
  g_assert_null (options->security_keys);
  g_assert_cmpuint (n_phones (options), ==, 2);   /* the single one is the first */
  assert_phone (options, 0, "1", "(•••) •••-••58", "sms");
  assert_phone (options, 1, "2", "+33 •• 21", "voice");
}

static void
test_html_boot_args (void)
{
  g_autoptr(ICloudHsa2Options) options = parse (
    "<!DOCTYPE html>\n<html><head><script src=\"/x.js\"></script></head><body>\n"
    "<script type=\"application/json\" class=\"boot_args\">"
    "{\"direct\":{\"hasTrustedDevices\":true,\"twoSV\":{\"bridgeInitiateData\":{"
    "\"phoneNumberVerification\":{\"trustedPhoneNumbers\":[{\"id\":7,\"obfuscatedNumber\":\"••77\"}]}},"
    "\"keyNames\":[\"YubiKey\",\"Backup\",\"YubiKey\",\"\",5],\"fsaChallenge\":{\"challenge\":\"x\"}}}}"
    "</script>\n</body></html>\n");

  g_assert_true (options->parsed);
  g_assert_cmpuint (n_phones (options), ==, 1);
  assert_phone (options, 0, "7", "••77", "sms");
  g_assert_cmpstr (options->security_keys, ==, "YubiKey, Backup");
}

/* The trusted-device bridge (hsa2-bridge.md §a.1, §c.1): offered only with
 * the route, trusted devices and non-empty bridge data; its host. */
static void
test_bridge (void)
{
  static const struct {
    const char *document;
    gboolean    bridge;
    const char *host;
    const char *topic;
    const char *app_id;
  } cases[] = {
    /* Apple's page */
    { "<html><script type=\"application/json\" class=\"boot_args\">"
      "{\"direct\":{\"authInitialRoute\":\"auth/bridge/step\",\"hasTrustedDevices\":true,"
      "\"twoSV\":{\"sourceAppId\":1159,\"authFactors\":[\"web_piggybacking\",\"sms\"],"
      "\"bridgeInitiateData\":{\"apnsTopic\":\"com.apple.idmsauthwidget\","
      "\"apnsEnvironment\":\"prod\",\"webSocketUrl\":\"websocket.push.apple.com\"}}}}"
      "</script></html>",
      TRUE, "websocket.push.apple.com", "com.apple.idmsauthwidget", "1159" },
    /* the JSON variant, top level; a URL keeps only its host; the id as text */
    { "{\"authInitialRoute\":\"auth/bridge/step\",\"hasTrustedDevices\":true,\"sourceAppId\":\"1159\","
      "\"bridgeInitiateData\":{\"apnsTopic\":\"t\",\"webSocketUrl\":\"wss://push.example:8443/v2\"}}",
      TRUE, "push.example", "t", "1159" },
    /* scheme-less host:port/path: the port stays */
    { "{\"authInitialRoute\":\"auth/bridge/step\",\"hasTrustedDevices\":true,"
      "\"bridgeInitiateData\":{\"apnsTopic\":\"t\",\"webSocketUrl\":\"push.example:8443/x\"}}",
      TRUE, "push.example:8443", "t", NULL },
    /* no URL: the environment */
    { "{\"authInitialRoute\":\"auth/bridge/step\",\"hasTrustedDevices\":true,"
      "\"bridgeInitiateData\":{\"apnsTopic\":\"t\",\"apnsEnvironment\":\"sandbox\"}}",
      TRUE, "websocket.sandbox.push.apple.com", "t", NULL },
    /* neither: offered, but no host (the bridge then fails and falls back) */
    { "{\"authInitialRoute\":\"auth/bridge/step\",\"hasTrustedDevices\":true,"
      "\"bridgeInitiateData\":{\"apnsTopic\":\"t\",\"apnsEnvironment\":\"qa\"}}",
      TRUE, NULL, "t", NULL },
    /* not offered: another route, no trusted device, empty or mistyped data */
    { "{\"authInitialRoute\":\"auth/verify/trusteddevice\",\"hasTrustedDevices\":true,"
      "\"bridgeInitiateData\":{\"apnsTopic\":\"t\"}}", FALSE, NULL, NULL, NULL },
    { "{\"authInitialRoute\":\"auth/bridge/step\",\"hasTrustedDevices\":false,"
      "\"bridgeInitiateData\":{\"apnsTopic\":\"t\"}}", FALSE, NULL, NULL, NULL },
    { "{\"authInitialRoute\":\"auth/bridge/step\",\"hasTrustedDevices\":true,"
      "\"bridgeInitiateData\":{}}", FALSE, NULL, NULL, NULL },
    { "{\"authInitialRoute\":\"auth/bridge/step\",\"hasTrustedDevices\":\"yes\","
      "\"bridgeInitiateData\":{\"apnsTopic\":\"t\"}}", FALSE, NULL, NULL, NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(ICloudHsa2Options) options = parse (cases[i].document);

      g_test_message ("case %" G_GSIZE_FORMAT, i);
      g_assert_true (options->parsed);
      g_assert_cmpint (options->bridge, ==, cases[i].bridge);
      g_assert_cmpstr (options->bridge_host, ==, cases[i].host);
      g_assert_cmpstr (options->bridge_topic, ==, cases[i].topic);
      if (cases[i].bridge)
        g_assert_cmpstr (options->source_app_id, ==, cases[i].app_id);
    }
}

static void
test_security_key_without_names (void)
{
  g_autoptr(ICloudHsa2Options) options = parse ("{\"fsaChallenge\":{\"challenge\":\"x\"}}");

  g_assert_true (options->parsed);
  g_assert_cmpuint (n_phones (options), ==, 0);
  g_assert_cmpstr (options->security_keys, ==, "a security key");
}

static void
test_not_options (void)
{
  const char *bodies[] = {
    "",
    "<html><head><title>Service Temporarily Unavailable</title></head></html>",
    "<html><script class=\"boot_args\">{\"direct\":",          /* unterminated */
    "<html><script class=\"boot_args\">not json</script></html>",
    "[1, 2]",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      g_autoptr(ICloudHsa2Options) options = parse (bodies[i]);

      g_assert_false (options->parsed);
      g_assert_cmpuint (n_phones (options), ==, 0);
      g_assert_null (options->security_keys);
    }
}

static void
test_mistyped (void)
{
  g_autoptr(ICloudHsa2Options) options = parse (
    "{\"phoneNumberVerification\":{\"trustedPhoneNumbers\":[1,\"x\",null,{\"id\":\"\"},"
    "{\"id\":true},{\"id\":9}]},\"keyNames\":{},\"direct\":[]}");

  g_assert_true (options->parsed);
  g_assert_cmpuint (n_phones (options), ==, 1);
  assert_phone (options, 0, "9", NULL, "sms");
  g_assert_null (options->security_keys);
}

/* Found by fuzz-auth-options: json-glib turns "\ud800x" into bytes that are
 * not UTF-8; such phones and key names were kept (then stored in the saved
 * session, which takes UTF-8 only, and sent back to Apple). */
static void
test_lone_surrogate (void)
{
  g_autoptr(ICloudHsa2Options) options = parse (
    "{\"trustedPhoneNumbers\":[{\"id\":\"1\\ud800x\"},{\"id\":2,\"obfuscatedNumber\":\"\\ud800x\"},"
    "{\"id\":3,\"pushMode\":\"\\ud800x\"},{\"id\":4,\"obfuscatedNumber\":\"\\u2022\\u202258\"}],"
    "\"keyNames\":[\"Yubi\\ud800x\",\"Key\"]}");
  g_autoptr(ICloudHsa2Options) only_bad_key = parse (
    "<script class=\"boot_args\">{\"direct\":{\"twoSV\":{\"keyNames\":[\"\\ud800x\"],"
    "\"fsaChallenge\":{}}}}</script>");

  g_assert_true (options->parsed);
  g_assert_cmpuint (n_phones (options), ==, 1);
  assert_phone (options, 0, "4", "••58", "sms");
  g_assert_cmpstr (options->security_keys, ==, "Key");

  /* The challenge still says security keys protect the account. */
  g_assert_true (only_bad_key->parsed);
  g_assert_cmpstr (only_bad_key->security_keys, ==, "a security key");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/hsa2-options/json", test_json);
  g_test_add_func ("/hsa2-options/html-boot-args", test_html_boot_args);
  g_test_add_func ("/hsa2-options/bridge", test_bridge);
  g_test_add_func ("/hsa2-options/security-key-without-names", test_security_key_without_names);
  g_test_add_func ("/hsa2-options/not-options", test_not_options);
  g_test_add_func ("/hsa2-options/mistyped", test_mistyped);
  g_test_add_func ("/hsa2-options/lone-surrogate", test_lone_surrogate);

  return g_test_run ();
}
