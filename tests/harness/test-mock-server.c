/* test-mock-server.c: the fake iCloud server answers the way Apple does
 * (protocol/apple-web-auth.md §1.2, §2.3, §4, §9), driven with libsoup and
 * the crypto seam's SRP client.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib.h>
#include <gio/gio.h>
#include <libsoup/soup.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>

#include "icloud-mock-server.h"
#include "icloud-srp-private.h"
#include "test-idmsa-client.h"

#define AUTH  "/appleauth/auth"
#define SETUP "/setup/ws/1"

/* ------------------------------------------------------------------------ */
/* a tiny client (test-idmsa-client.h) */

typedef struct {
  ICloudMockServer *server;
  const char       *base;
  Client            client;
} Fixture;

static void
request (Fixture    *f,
         Client     *c,
         const char *method,
         const char *path,
         const char *body,
         const char *accept,
         Reply      *reply)
{
  client_request (c, f->base, method, path, body, accept, reply);
}

static const char *
service_error_code (Reply     *reply,
                    JsonNode **keep,
                    const char *member)
{
  JsonObject *obj = reply_object (reply, keep);
  JsonArray *errors = json_object_get_array_member (obj, member);

  g_assert_nonnull (errors);
  g_assert_cmpuint (json_array_get_length (errors), >, 0);
  return json_object_get_string_member (json_array_get_object_element (errors, 0), "code");
}

static guint
srp_signin (Fixture    *f,
            Client     *c,
            const char *apple_id,
            const char *password,
            Reply      *out)
{
  return client_srp_signin (c, f->base, apple_id, password, out);
}

static guint
account_login (Fixture   *f,
               Client    *c,
               JsonNode **doc)
{
  g_autofree char *body = NULL;
  g_auto(Reply) reply = { 0 };

  body = g_strdup_printf ("{\"accountCountryCode\":\"USA\",\"dsWebAuthToken\":\"%s\","
                          "\"extended_login\":true,\"trustToken\":\"%s\"}",
                          c->session_token ? c->session_token : "",
                          c->trust_token ? c->trust_token : "");
  request (f, c, "POST", SETUP "/accountLogin", body, NULL, &reply);
  if (doc)
    *doc = reply.status == 200 ? parse_json (reply.body) : NULL;
  return reply.status;
}

static gboolean
has_cookie (Client     *c,
            Fixture    *f,
            const char *name)
{
  SoupCookieJar *jar = SOUP_COOKIE_JAR (soup_session_get_feature (c->session, SOUP_TYPE_COOKIE_JAR));
  g_autofree char *root = g_strconcat (f->base, "/", NULL);
  g_autoptr(GUri) uri = g_uri_parse (root, G_URI_FLAGS_NONE, NULL);
  GSList *cookies = soup_cookie_jar_get_cookie_list (jar, uri, TRUE);
  gboolean found = FALSE;

  for (GSList *l = cookies; l; l = l->next)
    if (g_str_equal (soup_cookie_get_name (l->data), name))
      found = TRUE;
  g_slist_free_full (cookies, (GDestroyNotify) soup_cookie_free);
  return found;
}

/* ------------------------------------------------------------------------ */
/* fixture */

static const char *
accounts_path (void)
{
  const char *env = g_getenv ("ICLOUD_MOCK_ACCOUNTS");
  static char *fallback;

  if (env != NULL && *env != '\0')
    return env;
  if (fallback == NULL)
    fallback = g_test_build_filename (G_TEST_DIST, "..", "data", "accounts.json", NULL);
  return fallback;
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->server = icloud_mock_server_new ();
  icloud_mock_server_load_accounts (f->server, accounts_path (), &error);
  g_assert_no_error (error);
  icloud_mock_server_start (f->server, &error);
  g_assert_no_error (error);
  f->base = icloud_mock_server_get_base_uri (f->server);
  g_assert_true (g_str_has_prefix (f->base, "http://127.0.0.1:"));
  g_assert_false (g_str_has_suffix (f->base, "/"));
  client_init (&f->client);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  client_clear (&f->client);
  icloud_mock_server_stop (f->server);
  g_assert_finalize_object (f->server);
}

/* ------------------------------------------------------------------------ */
/* tests */

static void
test_init_shape (Fixture *f, gconstpointer data)
{
  g_auto(Reply) reply = { 0 };
  g_autoptr(JsonNode) node = NULL;
  JsonObject *obj;
  gsize len;
  g_autofree guchar *salt = NULL;
  g_autofree guchar *B = NULL;

  request (f, &f->client, "POST", AUTH "/signin/init",
           "{\"a\":\"AAEC\",\"accountName\":\"2fa@example.com\",\"protocols\":[\"s2k\",\"s2k_fo\"]}",
           NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 200);
  g_assert_cmpstr (soup_message_headers_get_content_type (reply.headers, NULL), ==, "text/html");
  g_assert_nonnull (soup_message_headers_get_one (reply.headers, "scnt"));
  g_assert_nonnull (soup_message_headers_get_one (reply.headers, "X-Apple-ID-Session-Id"));
  g_assert_nonnull (soup_message_headers_get_one (reply.headers, "X-Apple-Auth-Attributes"));

  obj = reply_object (&reply, &node);
  g_assert_cmpint (json_object_get_int_member (obj, "iteration"), ==, 1000);
  g_assert_cmpstr (json_object_get_string_member (obj, "protocol"), ==, "s2k");
  salt = g_base64_decode (json_object_get_string_member (obj, "salt"), &len);
  g_assert_cmpuint (len, ==, 16);
  B = g_base64_decode (json_object_get_string_member (obj, "b"), &len);
  g_assert_cmpuint (len, >=, 250);
  g_assert_cmpuint (len, <=, 256);
  g_assert_true (g_str_has_suffix (json_object_get_string_member (obj, "c"), ":PRN"));
  g_assert_cmpuint (icloud_mock_server_count_requests (f->server, "2fa@example.com", AUTH "/signin/init"), ==, 1);
}

static void
test_unknown_account (Fixture *f, gconstpointer data)
{
  g_auto(Reply) reply = { 0 };
  g_autoptr(JsonNode) node = NULL;

  /* init is well-formed (no user enumeration), complete fails */
  g_assert_cmpuint (srp_signin (f, &f->client, "nobody@example.com", "x", &reply), ==, 401);
  g_assert_cmpstr (service_error_code (&reply, &node, "serviceErrors"), ==, "-20101");
}

static void
test_signin_ok_and_validate (Fixture *f, gconstpointer data)
{
  g_auto(Reply) reply = { 0 };
  g_auto(Reply) validate = { 0 };
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) doc = NULL;
  JsonObject *obj, *ds;

  g_assert_cmpuint (srp_signin (f, &f->client, "user@example.com", "correct horse", &reply), ==, 200);
  obj = reply_object (&reply, &node);
  g_assert_cmpstr (json_object_get_string_member (obj, "authType"), ==, "non-sa");
  g_assert_nonnull (f->client.session_token);
  g_assert_cmpstr (soup_message_headers_get_one (reply.headers, "X-Apple-ID-Account-Country"), ==, "USA");
  g_assert_cmpstr (soup_message_headers_get_one (reply.headers, "X-Apple-TwoSV-Trust-Eligible"), ==, "true");
  g_assert_true (has_cookie (&f->client, f, "aasp"));

  /* validate before accountLogin: no web-auth cookie → 421 */
  request (f, &f->client, "POST", SETUP "/validate", "null", NULL, &validate);
  g_assert_cmpuint (validate.status, ==, 421);
  reply_clear (&validate);

  g_assert_cmpuint (account_login (f, &f->client, &doc), ==, 200);
  ds = json_object_get_object_member (json_node_get_object (doc), "dsInfo");
  g_assert_cmpstr (json_object_get_string_member (ds, "dsid"), ==, "8000000001");
  g_assert_cmpint (json_object_get_int_member (ds, "hsaVersion"), ==, 0);
  g_assert_true (json_object_get_boolean_member (json_node_get_object (doc), "hsaTrustedBrowser"));
  g_assert_false (json_object_get_boolean_member (json_node_get_object (doc), "hsaChallengeRequired"));
  g_assert_true (g_str_has_prefix (json_object_get_string_member (
                   json_object_get_object_member (json_object_get_object_member (json_node_get_object (doc), "webservices"),
                                                  "findme"), "url"), f->base));
  g_assert_true (has_cookie (&f->client, f, "X-APPLE-WEBAUTH-TOKEN"));
  g_assert_true (has_cookie (&f->client, f, "X-APPLE-DS-WEB-SESSION-TOKEN"));

  request (f, &f->client, "POST", SETUP "/validate", "null", NULL, &validate);
  g_assert_cmpuint (validate.status, ==, 200);
  reply_clear (&validate);

  /* sessions expire → validate fails again */
  icloud_mock_server_expire_sessions (f->server, "user@example.com");
  request (f, &f->client, "POST", SETUP "/validate", "null", NULL, &validate);
  g_assert_cmpuint (validate.status, ==, 421);
  g_assert_cmpuint (account_login (f, &f->client, NULL), ==, 401);
}

static void
test_signin_s2k_fo (Fixture *f, gconstpointer data)
{
  g_assert_cmpuint (srp_signin (f, &f->client, "fo@example.com", "battery staple", NULL), ==, 200);
}

static void
test_wrong_password (Fixture *f, gconstpointer data)
{
  g_auto(Reply) reply = { 0 };
  g_autoptr(JsonNode) node = NULL;

  g_assert_cmpuint (srp_signin (f, &f->client, "2fa@example.com", "wrong", &reply), ==, 401);
  g_assert_cmpstr (service_error_code (&reply, &node, "serviceErrors"), ==, "-20101");
  g_assert_null (soup_message_headers_get_one (reply.headers, "X-Apple-Session-Token"));
}

static void
test_account_login_bad_token (Fixture *f, gconstpointer data)
{
  g_auto(Reply) reply = { 0 };
  g_autoptr(JsonNode) node = NULL;

  request (f, &f->client, "POST", SETUP "/accountLogin",
           "{\"accountCountryCode\":null,\"dsWebAuthToken\":\"nope\",\"extended_login\":true,\"trustToken\":\"\"}",
           NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 401);
  g_assert_cmpstr (json_object_get_string_member (reply_object (&reply, &node), "error"), ==,
                   "Missing apple_id field");
}

static void
test_locked (Fixture *f, gconstpointer data)
{
  g_auto(Reply) reply = { 0 };
  g_autoptr(JsonNode) node = NULL;

  g_assert_cmpuint (srp_signin (f, &f->client, "locked@example.com", "locked out", &reply), ==, 403);
  g_assert_cmpstr (service_error_code (&reply, &node, "serviceErrors"), ==, "-20209");
}

static void
test_throttled (Fixture *f, gconstpointer data)
{
  g_auto(Reply) reply = { 0 };

  request (f, &f->client, "POST", AUTH "/signin/init",
           "{\"a\":\"AAEC\",\"accountName\":\"throttled@example.com\",\"protocols\":[\"s2k\"]}", NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 503);
  g_assert_cmpstr (soup_message_headers_get_one (reply.headers, "Retry-After"), ==, "120");
  g_assert_cmpstr (soup_message_headers_get_content_type (reply.headers, NULL), ==, "text/html");
}

static void
test_malformed (Fixture *f, gconstpointer data)
{
  g_auto(Reply) reply = { 0 };
  g_autoptr(JsonParser) parser = json_parser_new ();

  request (f, &f->client, "POST", AUTH "/signin/init",
           "{\"a\":\"AAEC\",\"accountName\":\"malformed@example.com\",\"protocols\":[\"s2k\"]}", NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 200);
  g_assert_false (json_parser_load_from_data (parser, g_bytes_get_data (reply.body, NULL),
                                              g_bytes_get_size (reply.body), NULL));
}

static void
test_hsa2_flow (Fixture *f, gconstpointer data)
{
  const char *id = "2fa@example.com";
  g_auto(Reply) reply = { 0 };
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) doc = NULL;
  g_autofree char *code = NULL;
  g_autofree char *body = NULL;
  g_autofree char *first_trust = NULL;
  JsonObject *obj;

  g_assert_cmpuint (srp_signin (f, &f->client, id, "two factor", &reply), ==, 409);
  obj = reply_object (&reply, &node);
  g_assert_cmpstr (json_object_get_string_member (obj, "authType"), ==, "hsa2");
  g_assert_nonnull (soup_message_headers_get_one (reply.headers, "X-Apple-Session-Token"));
  reply_clear (&reply);
  g_clear_pointer (&node, json_node_unref);

  /* pending: accountLogin says the challenge is required, no web token */
  g_assert_cmpuint (account_login (f, &f->client, &doc), ==, 200);
  g_assert_true (json_object_get_boolean_member (json_node_get_object (doc), "hsaChallengeRequired"));
  g_assert_false (json_object_get_boolean_member (json_node_get_object (doc), "hsaTrustedBrowser"));
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (json_node_get_object (doc), "dsInfo"),
                                               "hsaVersion"), ==, 2);
  g_assert_false (has_cookie (&f->client, f, "X-APPLE-WEBAUTH-TOKEN"));
  g_clear_pointer (&doc, json_node_unref);

  /* trust before any code is refused */
  request (f, &f->client, "GET", AUTH "/2sv/trust", NULL, NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 403);
  g_assert_null (f->client.trust_token);
  reply_clear (&reply);

  /* no code was asked for: every code is wrong */
  request (f, &f->client, "POST", AUTH "/verify/trusteddevice/securitycode",
           "{\"securityCode\":{\"code\":\"000000\"}}", NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 400);
  g_assert_cmpstr (service_error_code (&reply, &node, "service_errors"), ==, "-21669");
  g_assert_true (json_object_get_boolean_member (json_node_get_object (node), "hasError"));
  reply_clear (&reply);
  g_clear_pointer (&node, json_node_unref);

  g_assert_null (icloud_mock_server_dup_last_code (f->server, id, NULL));
  request (f, &f->client, "GET", AUTH "/verify/trusteddevice", NULL, NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 200);
  reply_clear (&reply);
  g_assert_cmpuint (icloud_mock_server_count_codes_sent (f->server, id, NULL), ==, 1);
  code = icloud_mock_server_dup_last_code (f->server, id, NULL);
  g_assert_nonnull (code);
  g_assert_cmpuint (strlen (code), ==, 6);

  /* a wrong code, then the right one */
  body = g_strdup_printf ("{\"securityCode\":{\"code\":\"%s\"}}",
                          g_str_equal (code, "123456") ? "654321" : "123456");
  request (f, &f->client, "POST", AUTH "/verify/trusteddevice/securitycode", body, NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 400);
  reply_clear (&reply);
  g_free (body);

  body = g_strdup_printf ("{\"securityCode\":{\"code\":\"%s\"}}", code);
  request (f, &f->client, "POST", AUTH "/verify/trusteddevice/securitycode", body, NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 204);
  g_assert_nonnull (soup_message_headers_get_one (reply.headers, "X-Apple-Session-Token"));
  g_assert_nonnull (soup_message_headers_get_one (reply.headers, "scnt"));
  g_assert_nonnull (soup_message_headers_get_one (reply.headers, "X-Apple-ID-Session-Id"));
  reply_clear (&reply);

  /* the code is one-shot */
  request (f, &f->client, "POST", AUTH "/verify/trusteddevice/securitycode", body, NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 400);
  reply_clear (&reply);

  request (f, &f->client, "GET", AUTH "/2sv/trust", NULL, NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 204);
  g_assert_nonnull (soup_message_headers_get_one (reply.headers, "X-Apple-TwoSV-Trust-Token"));
  g_assert_nonnull (f->client.trust_token);
  reply_clear (&reply);

  g_assert_cmpuint (account_login (f, &f->client, &doc), ==, 200);
  g_assert_false (json_object_get_boolean_member (json_node_get_object (doc), "hsaChallengeRequired"));
  g_assert_true (json_object_get_boolean_member (json_node_get_object (doc), "hsaTrustedBrowser"));
  g_assert_true (has_cookie (&f->client, f, "X-APPLE-WEBAUTH-TOKEN"));
  g_clear_pointer (&doc, json_node_unref);

  /* next sign-in with the trust token: 200, no second factor */
  first_trust = g_strdup (f->client.trust_token);
  g_assert_cmpuint (srp_signin (f, &f->client, id, "two factor", NULL), ==, 200);
  g_assert_cmpuint (account_login (f, &f->client, &doc), ==, 200);
  g_assert_true (json_object_get_boolean_member (json_node_get_object (doc), "hsaTrustedBrowser"));
  g_clear_pointer (&doc, json_node_unref);

  /* revoked trust: 409 again */
  icloud_mock_server_revoke_trust (f->server, id);
  g_assert_cmpuint (srp_signin (f, &f->client, id, "two factor", NULL), ==, 409);
  g_assert_cmpuint (icloud_mock_server_get_isolation_violations (f->server), ==, 0);
}

static void
test_hsa2_sms (Fixture *f, gconstpointer data)
{
  const char *id = "2fa@example.com";
  g_auto(Reply) reply = { 0 };
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *code = NULL;
  g_autofree char *body = NULL;
  JsonObject *obj;

  g_assert_cmpuint (srp_signin (f, &f->client, id, "two factor", NULL), ==, 409);

  /* the auth options, JSON shape */
  request (f, &f->client, "GET", AUTH, NULL, "application/json", &reply);
  g_assert_cmpuint (reply.status, ==, 200);
  obj = reply_object (&reply, &node);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                      json_object_get_object_member (obj, "phoneNumberVerification"), "trustedPhoneNumbers")), ==, 2);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (obj, "securityCode"), "length"), ==, 6);
  reply_clear (&reply);
  g_clear_pointer (&node, json_node_unref);

  /* HTML shape with boot args */
  request (f, &f->client, "GET", AUTH, NULL, "text/html", &reply);
  g_assert_cmpuint (reply.status, ==, 200);
  g_assert_cmpstr (soup_message_headers_get_content_type (reply.headers, NULL), ==, "text/html");
  g_assert_nonnull (g_strstr_len (g_bytes_get_data (reply.body, NULL), g_bytes_get_size (reply.body),
                                  "class=\"boot_args\""));
  g_assert_nonnull (g_strstr_len (g_bytes_get_data (reply.body, NULL), g_bytes_get_size (reply.body),
                                  "\"phoneNumberVerification\""));
  reply_clear (&reply);

  /* unknown phone id */
  request (f, &f->client, "PUT", AUTH "/verify/phone", "{\"phoneNumber\":{\"id\":9},\"mode\":\"sms\"}", NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 400);
  reply_clear (&reply);

  request (f, &f->client, "PUT", AUTH "/verify/phone", "{\"phoneNumber\":{\"id\":2},\"mode\":\"sms\"}", NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 200);
  obj = reply_object (&reply, &node);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (obj, "trustedPhoneNumber"), "id"), ==, 2);
  reply_clear (&reply);
  g_assert_cmpuint (icloud_mock_server_count_codes_sent (f->server, id, "2"), ==, 1);
  g_assert_cmpuint (icloud_mock_server_count_codes_sent (f->server, id, NULL), ==, 0);
  code = icloud_mock_server_dup_last_code (f->server, id, "2");
  g_assert_nonnull (code);

  /* an SMS code is checked on the phone route only */
  body = g_strdup_printf ("{\"securityCode\":{\"code\":\"%s\"}}", code);
  request (f, &f->client, "POST", AUTH "/verify/trusteddevice/securitycode", body, NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 400);
  reply_clear (&reply);
  g_free (body);

  body = g_strdup_printf ("{\"phoneNumber\":{\"id\":2},\"securityCode\":{\"code\":\"%s\"},\"mode\":\"sms\"}", code);
  request (f, &f->client, "POST", AUTH "/verify/phone/securitycode", body, NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 204);
  reply_clear (&reply);

  request (f, &f->client, "GET", AUTH "/2sv/trust", NULL, NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 204);
  g_assert_nonnull (f->client.trust_token);
}

static void
test_options_bridge_and_keys (Fixture *f, gconstpointer data)
{
  g_auto(Reply) reply = { 0 };
  g_autoptr(JsonNode) node = NULL;
  JsonObject *obj;
  Client keys = { 0 };

  g_assert_cmpuint (srp_signin (f, &f->client, "bridge@example.com", "bridge shape", NULL), ==, 409);
  request (f, &f->client, "GET", AUTH, NULL, "text/html", &reply);
  g_assert_cmpuint (reply.status, ==, 200);
  g_assert_nonnull (g_strstr_len (g_bytes_get_data (reply.body, NULL), g_bytes_get_size (reply.body),
                                  "\"bridgeInitiateData\":{\"phoneNumberVerification\""));
  reply_clear (&reply);

  client_init (&keys);
  g_assert_cmpuint (srp_signin (f, &keys, "keys@example.com", "security keys", NULL), ==, 409);
  request (f, &keys, "GET", AUTH, NULL, "application/json", &reply);
  obj = reply_object (&reply, &node);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (obj, "keyNames")), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (obj, "fsaChallenge"), "rpId"),
                   ==, "apple.com");
  reply_clear (&reply);
  client_clear (&keys);
}

static void
test_hsa_2sa_flow (Fixture *f, gconstpointer data)
{
  const char *id = "2sa@example.com";
  const char *device = "{\"deviceType\":\"SMS\",\"areaCode\":\"\",\"phoneNumber\":\"*******58\",\"deviceId\":\"1\"";
  g_auto(Reply) reply = { 0 };
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) doc = NULL;
  g_autofree char *body = NULL;
  g_autofree char *code = NULL;
  JsonObject *obj;

  /* 2SA accounts get 200 at complete, not 409 (§9) */
  g_assert_cmpuint (srp_signin (f, &f->client, id, "two step", NULL), ==, 200);
  g_assert_cmpuint (account_login (f, &f->client, &doc), ==, 200);
  obj = json_node_get_object (doc);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (obj, "dsInfo"), "hsaVersion"), ==, 1);
  g_assert_true (json_object_get_boolean_member (obj, "hsaChallengeRequired"));
  g_assert_false (json_object_get_boolean_member (obj, "hsaTrustedBrowser"));
  g_assert_false (has_cookie (&f->client, f, "X-APPLE-WEBAUTH-TOKEN"));
  g_clear_pointer (&doc, json_node_unref);

  /* no query parameters needed (§9) */
  request (f, &f->client, "GET", SETUP "/listDevices", NULL, NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 200);
  obj = reply_object (&reply, &node);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (obj, "devices")), ==, 2);
  reply_clear (&reply);
  g_clear_pointer (&node, json_node_unref);

  body = g_strdup_printf ("%s}", device);
  request (f, &f->client, "POST", SETUP "/sendVerificationCode?clientBuildNumber=2534Project66", body, NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 200);
  g_assert_true (json_object_get_boolean_member (reply_object (&reply, &node), "success"));
  reply_clear (&reply);
  g_clear_pointer (&node, json_node_unref);
  g_free (body);
  code = icloud_mock_server_dup_last_code (f->server, id, "1");
  g_assert_nonnull (code);

  /* wrong code: 200 with success false and -21669 (recorded shape) */
  body = g_strdup_printf ("%s,\"verificationCode\":\"%s\",\"trustBrowser\":true}", device,
                          g_str_equal (code, "111111") ? "222222" : "111111");
  request (f, &f->client, "POST", SETUP "/validateVerificationCode", body, NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 200);
  obj = reply_object (&reply, &node);
  g_assert_false (json_object_get_boolean_member (obj, "success"));
  g_assert_cmpint (json_object_get_int_member (obj, "errorCode"), ==, -21669);
  reply_clear (&reply);
  g_clear_pointer (&node, json_node_unref);
  g_free (body);

  body = g_strdup_printf ("%s,\"verificationCode\":\"%s\",\"trustBrowser\":true}", device, code);
  request (f, &f->client, "POST", SETUP "/validateVerificationCode", body, NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 200);
  g_assert_true (json_object_get_boolean_member (reply_object (&reply, &node), "success"));
  reply_clear (&reply);

  /* 2sv/trust is accepted after a 2SA code too */
  request (f, &f->client, "GET", AUTH "/2sv/trust", NULL, NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 204);
  g_assert_nonnull (f->client.trust_token);
  reply_clear (&reply);

  g_assert_cmpuint (account_login (f, &f->client, &doc), ==, 200);
  g_assert_false (json_object_get_boolean_member (json_node_get_object (doc), "hsaChallengeRequired"));
  g_assert_true (json_object_get_boolean_member (json_node_get_object (doc), "hsaTrustedBrowser"));
  g_assert_true (has_cookie (&f->client, f, "X-APPLE-WEBAUTH-TOKEN"));
}

static void
test_repair (Fixture *f, gconstpointer data)
{
  g_auto(Reply) reply = { 0 };
  g_autoptr(JsonNode) node = NULL;
  Client other = { 0 };

  g_assert_cmpuint (srp_signin (f, &f->client, "repair@example.com", "needs repair", &reply), ==, 412);
  g_assert_cmpstr (json_object_get_string_member (reply_object (&reply, &node), "auth_type"), ==, "sa");
  g_assert_nonnull (soup_message_headers_get_one (reply.headers, "scnt"));
  reply_clear (&reply);
  request (f, &f->client, "POST", AUTH "/repair/complete", "{}", NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 412);
  reply_clear (&reply);

  client_init (&other);
  g_assert_cmpuint (srp_signin (f, &other, "repair-auto@example.com", "auto repair", NULL), ==, 412);
  g_assert_null (other.session_token);
  request (f, &other, "POST", AUTH "/repair/complete", "{}", NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 204);
  g_assert_nonnull (other.session_token);
  g_assert_cmpuint (account_login (f, &other, NULL), ==, 200);
  client_clear (&other);
}

static void
test_china (Fixture *f, gconstpointer data)
{
  g_auto(Reply) reply = { 0 };
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *body = NULL;

  g_assert_cmpuint (srp_signin (f, &f->client, "china@example.com", "china mainland", &reply), ==, 200);
  g_assert_cmpstr (soup_message_headers_get_one (reply.headers, "X-Apple-ID-Account-Country"), ==, "CHN");
  reply_clear (&reply);

  body = g_strdup_printf ("{\"accountCountryCode\":\"CHN\",\"dsWebAuthToken\":\"%s\",\"extended_login\":true}",
                          f->client.session_token);
  request (f, &f->client, "POST", SETUP "/accountLogin", body, NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 302);
  g_assert_null (soup_message_headers_get_one (reply.headers, "Location"));
  g_assert_cmpstr (json_object_get_string_member (reply_object (&reply, &node), "domainToUse"), ==, "iCloud.com.cn");
  reply_clear (&reply);

  icloud_mock_server_set_region (f->server, "china-mainland");
  g_assert_cmpstr (icloud_mock_server_get_region (f->server), ==, "china-mainland");
  g_assert_cmpuint (account_login (f, &f->client, NULL), ==, 200);
}

static void
test_legacy_signin (Fixture *f, gconstpointer data)
{
  g_auto(Reply) reply = { 0 };

  request (f, &f->client, "POST", AUTH "/signin?isRememberMeEnabled=true",
           "{\"accountName\":\"user@example.com\",\"password\":\"correct horse\",\"rememberMe\":true,\"trustTokens\":[]}",
           NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 503);
  reply_clear (&reply);

  request (f, &f->client, "POST", AUTH "/signin?isRememberMeEnabled=true",
           "{\"accountName\":\"legacy@example.com\",\"password\":\"nope\",\"rememberMe\":true,\"trustTokens\":[]}",
           NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 401);
  reply_clear (&reply);

  request (f, &f->client, "POST", AUTH "/signin?isRememberMeEnabled=true",
           "{\"accountName\":\"legacy@example.com\",\"password\":\"plain password\",\"rememberMe\":true,\"trustTokens\":[]}",
           NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 409);
  g_assert_nonnull (f->client.session_token);
}

static void
test_logout (Fixture *f, gconstpointer data)
{
  g_auto(Reply) reply = { 0 };
  g_autoptr(JsonNode) node = NULL;

  g_assert_cmpuint (srp_signin (f, &f->client, "china@example.com", "china mainland", NULL), ==, 200);
  icloud_mock_server_set_region (f->server, "china-mainland");
  g_assert_cmpuint (account_login (f, &f->client, NULL), ==, 200);
  g_assert_true (has_cookie (&f->client, f, "X-APPLE-WEBAUTH-TOKEN"));

  request (f, &f->client, "POST", SETUP "/logout", "{\"trustBrowser\":true,\"allBrowsers\":false}", NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 200);
  g_assert_true (json_object_get_boolean_member (reply_object (&reply, &node), "success"));
  g_assert_false (has_cookie (&f->client, f, "X-APPLE-WEBAUTH-TOKEN"));
  reply_clear (&reply);

  /* the session token died with it */
  g_assert_cmpuint (account_login (f, &f->client, NULL), ==, 401);
}

static void
test_isolation (Fixture *f, gconstpointer data)
{
  g_auto(Reply) reply = { 0 };

  /* one jar for two accounts: the web cookies of the first go with the
   * second's session token */
  g_assert_cmpuint (srp_signin (f, &f->client, "repair-auto@example.com", "auto repair", NULL), ==, 412);
  request (f, &f->client, "POST", AUTH "/repair/complete", "{}", NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 204);
  reply_clear (&reply);
  g_assert_cmpuint (account_login (f, &f->client, NULL), ==, 200);
  g_assert_cmpuint (icloud_mock_server_get_isolation_violations (f->server), ==, 0);

  g_clear_pointer (&f->client.scnt, g_free);
  g_clear_pointer (&f->client.session_id, g_free);
  request (f, &f->client, "POST", AUTH "/signin/init",
           "{\"a\":\"AAEC\",\"accountName\":\"2sa@example.com\",\"protocols\":[\"s2k\"]}", NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 401);
  g_assert_cmpuint (icloud_mock_server_get_isolation_violations (f->server), ==, 1);
  reply_clear (&reply);

  /* a fresh jar for the second account is fine */
  client_clear (&f->client);
  client_init (&f->client);
  g_assert_cmpuint (srp_signin (f, &f->client, "2sa@example.com", "two step", NULL), ==, 200);
  g_assert_cmpuint (icloud_mock_server_get_isolation_violations (f->server), ==, 1);
}

static void
test_faults (Fixture *f, gconstpointer data)
{
  g_auto(Reply) reply = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *uri = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GBytes) bytes = NULL;
  gint64 start;

  icloud_mock_server_inject_fault (f->server, SETUP "/validate", ICLOUD_MOCK_FAULT_503, 1, 30);
  request (f, &f->client, "POST", SETUP "/validate", "null", NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 503);
  g_assert_cmpstr (soup_message_headers_get_one (reply.headers, "Retry-After"), ==, "30");
  reply_clear (&reply);

  /* only once, then the normal answer */
  request (f, &f->client, "POST", SETUP "/validate", "null", NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 421);
  reply_clear (&reply);

  /* a fault on another path does not apply */
  icloud_mock_server_inject_fault (f->server, SETUP "/accountLogin", ICLOUD_MOCK_FAULT_500, 1, 0);
  request (f, &f->client, "POST", SETUP "/validate", "null", NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 421);
  reply_clear (&reply);
  icloud_mock_server_clear_faults (f->server);

  icloud_mock_server_inject_fault (f->server, NULL, ICLOUD_MOCK_FAULT_ACCESS_DENIED, 1, 0);
  request (f, &f->client, "GET", "/anything", NULL, NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 403);
  g_assert_nonnull (g_strstr_len (g_bytes_get_data (reply.body, NULL), -1, "ACCESS_DENIED"));
  reply_clear (&reply);

  icloud_mock_server_inject_fault (f->server, NULL, ICLOUD_MOCK_FAULT_WRONG_CONTENT_TYPE, 1, 0);
  request (f, &f->client, "GET", "/anything", NULL, NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 200);
  g_assert_cmpstr (soup_message_headers_get_content_type (reply.headers, NULL), ==, "text/plain");
  reply_clear (&reply);

  icloud_mock_server_inject_fault (f->server, NULL, ICLOUD_MOCK_FAULT_OVERSIZE, 1, 0);
  request (f, &f->client, "GET", "/anything", NULL, NULL, &reply);
  g_assert_cmpuint (g_bytes_get_size (reply.body), ==, 16 * 1024 * 1024);
  reply_clear (&reply);

  /* slow: the normal answer, late */
  icloud_mock_server_inject_fault_full (f->server, SETUP "/validate", ICLOUD_MOCK_FAULT_SLOW, 1, 0, 300);
  start = g_get_monotonic_time ();
  request (f, &f->client, "POST", SETUP "/validate", "null", NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 421);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 290 * 1000);
  reply_clear (&reply);

  /* drop: no answer at all */
  icloud_mock_server_inject_fault (f->server, NULL, ICLOUD_MOCK_FAULT_DROP, 1, 0);
  uri = g_strconcat (f->base, SETUP "/validate", NULL);
  msg = soup_message_new ("POST", uri);
  bytes = soup_session_send_and_read (f->client.session, msg, NULL, &error);
  g_assert_null (bytes);
  g_assert_nonnull (error);
  g_assert_true (error->domain == G_IO_ERROR || error->domain == SOUP_SESSION_ERROR);
  g_clear_error (&error);

  /* faulted requests are logged with their status (0 = dropped) */
  g_assert_cmpuint (icloud_mock_server_count_requests (f->server, NULL, SETUP "/validate"), >=, 5);
}

static void
test_request_log (Fixture *f, gconstpointer data)
{
  g_auto(Reply) reply = { 0 };
  g_autoptr(JsonNode) log = NULL;
  g_autofree char *text = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *entry;

  g_assert_cmpuint (srp_signin (f, &f->client, "2fa@example.com", "two factor", NULL), ==, 409);
  request (f, &f->client, "GET", "/_mock/health", NULL, NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 200);
  reply_clear (&reply);

  g_assert_cmpuint (icloud_mock_server_count_requests (f->server, NULL, NULL), ==, 2);
  g_assert_cmpuint (icloud_mock_server_count_requests (f->server, "2FA@example.com", NULL), ==, 2);
  g_assert_cmpuint (icloud_mock_server_count_requests (f->server, "user@example.com", NULL), ==, 0);
  g_assert_cmpuint (icloud_mock_server_count_requests (f->server, NULL, AUTH "/signin/complete"), ==, 1);

  text = icloud_mock_server_dup_request_log (f->server);
  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  entry = json_array_get_object_element (json_node_get_array (json_parser_get_root (parser)), 1);
  g_assert_cmpstr (json_object_get_string_member (entry, "method"), ==, "POST");
  g_assert_cmpstr (json_object_get_string_member (entry, "path"), ==, AUTH "/signin/complete");
  g_assert_cmpstr (json_object_get_string_member (entry, "query"), ==, "isRememberMeEnabled=true");
  g_assert_cmpstr (json_object_get_string_member (entry, "apple_id"), ==, "2fa@example.com");
  g_assert_cmpint (json_object_get_int_member (entry, "status"), ==, 409);
  g_assert_nonnull (json_object_get_array_member (entry, "cookies"));
  /* no secrets in the log */
  g_assert_null (strstr (text, f->client.session_token));

  icloud_mock_server_clear_request_log (f->server);
  g_assert_cmpuint (icloud_mock_server_count_requests (f->server, NULL, NULL), ==, 0);
}

static void
test_control_api (Fixture *f, gconstpointer data)
{
  g_auto(Reply) reply = { 0 };
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *code = NULL;
  JsonObject *obj;

  request (f, &f->client, "GET", "/_mock/code?apple_id=2fa@example.com", NULL, NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 404);
  reply_clear (&reply);

  g_assert_cmpuint (srp_signin (f, &f->client, "2fa@example.com", "two factor", NULL), ==, 409);
  request (f, &f->client, "PUT", AUTH "/verify/phone", "{\"phoneNumber\":{\"id\":1},\"mode\":\"sms\"}", NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 200);
  reply_clear (&reply);

  request (f, &f->client, "GET", "/_mock/code?apple_id=2fa@example.com&target=1", NULL, NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 200);
  code = icloud_mock_server_dup_last_code (f->server, "2fa@example.com", "1");
  g_assert_cmpstr (json_object_get_string_member (reply_object (&reply, &node), "code"), ==, code);
  reply_clear (&reply);
  g_clear_pointer (&node, json_node_unref);

  request (f, &f->client, "GET", "/_mock/codes-sent?apple_id=2fa@example.com&target=1", NULL, NULL, &reply);
  g_assert_cmpint (json_object_get_int_member (reply_object (&reply, &node), "count"), ==, 1);
  reply_clear (&reply);
  g_clear_pointer (&node, json_node_unref);

  request (f, &f->client, "GET", "/_mock/requests?apple_id=2fa@example.com", NULL, NULL, &reply);
  obj = reply_object (&reply, &node);
  g_assert_cmpint (json_object_get_int_member (obj, "count"), ==, 3);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (obj, "requests")), ==, 3);
  reply_clear (&reply);
  g_clear_pointer (&node, json_node_unref);

  request (f, &f->client, "POST", "/_mock/fault",
           "{\"path\":\"/setup/ws/1/validate\",\"fault\":\"429\",\"count\":1,\"retry_after\":7}", NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 200);
  reply_clear (&reply);
  request (f, &f->client, "POST", "/_mock/fault", "{\"fault\":\"bogus\"}", NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 400);
  reply_clear (&reply);
  request (f, &f->client, "POST", SETUP "/validate", "null", NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 429);
  g_assert_cmpstr (soup_message_headers_get_one (reply.headers, "Retry-After"), ==, "7");
  reply_clear (&reply);

  request (f, &f->client, "POST", "/_mock/accounts",
           "{\"accounts\":[{\"apple_id\":\"new@example.com\",\"password\":\"pw\",\"iterations\":100}]}", NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 200);
  reply_clear (&reply);
  /* a fresh jar: the 2fa account's cookies must not go with another account */
  client_clear (&f->client);
  client_init (&f->client);
  g_assert_cmpuint (srp_signin (f, &f->client, "new@example.com", "pw", NULL), ==, 200);

  request (f, &f->client, "POST", "/_mock/expire-sessions", "{\"apple_id\":\"new@example.com\"}", NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 200);
  reply_clear (&reply);
  g_assert_cmpuint (account_login (f, &f->client, NULL), ==, 401);

  request (f, &f->client, "POST", "/_mock/requests/clear", NULL, NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 200);
  reply_clear (&reply);
  g_assert_cmpuint (icloud_mock_server_count_requests (f->server, NULL, NULL), ==, 0);

  request (f, &f->client, "GET", "/nowhere", NULL, NULL, &reply);
  g_assert_cmpuint (reply.status, ==, 404);
}

static void
test_load_errors (void)
{
  g_autoptr(ICloudMockServer) server = icloud_mock_server_new ();
  g_autoptr(GError) error = NULL;

  g_assert_false (icloud_mock_server_load_accounts_from_data (server, "{\"accounts\":[{\"password\":\"x\"}]}", -1, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);

  g_assert_false (icloud_mock_server_load_accounts_from_data (server,
                    "{\"accounts\":[{\"apple_id\":\"a@b\",\"password\":\"x\",\"factor\":\"sms\"}]}", -1, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);

  g_assert_false (icloud_mock_server_load_accounts_from_data (server, "{nope", -1, &error));
  g_assert_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_BAREWORD);
  g_clear_error (&error);

  g_assert_false (icloud_mock_server_load_accounts (server, "/nonexistent/accounts.json", &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_clear_error (&error);

  g_assert_true (icloud_mock_server_load_accounts_from_data (server,
                   "{\"accounts\":[{\"apple_id\":\"a@b\",\"password\":\"x\"},{\"apple_id\":\"A@B\",\"password\":\"y\"}]}",
                   -1, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_mock_server_get_n_accounts (server), ==, 1);
  g_assert_null (icloud_mock_server_get_base_uri (server));
  g_assert_false (icloud_mock_server_is_running (server));
}

static void
test_standalone_program (void)
{
  const char *program = g_getenv ("ICLOUD_MOCK_SERVER");
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  g_autofree char *uri = NULL;
  g_autoptr(SoupSession) session = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GBytes) body = NULL;

  if (program == NULL)
    {
      g_test_skip ("ICLOUD_MOCK_SERVER is not set");
      return;
    }

  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                           program, "--accounts", accounts_path (), NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, "ICLOUD_MOCK_BASE_URI=http://127.0.0.1:"));

  session = soup_session_new ();
  uri = g_strconcat (line + strlen ("ICLOUD_MOCK_BASE_URI="), "/_mock/health", NULL);
  msg = soup_message_new ("GET", uri);
  body = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  g_assert_nonnull (g_strstr_len (g_bytes_get_data (body, NULL), g_bytes_get_size (body), "\"ok\""));

  g_subprocess_send_signal (proc, SIGTERM);
  g_subprocess_wait (proc, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 0);
}

int
main (int argc, char **argv)
{
  /* The isolated XDG dirs have no GSettings schemas: keep GIO's proxy
   * lookup away from them (we only ever talk to 127.0.0.1). */
  g_setenv ("GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(name, func) \
  g_test_add ("/mock-server/" name, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("init-shape", test_init_shape);
  ADD ("unknown-account", test_unknown_account);
  ADD ("signin-validate", test_signin_ok_and_validate);
  ADD ("signin-s2k-fo", test_signin_s2k_fo);
  ADD ("wrong-password", test_wrong_password);
  ADD ("account-login-bad-token", test_account_login_bad_token);
  ADD ("locked", test_locked);
  ADD ("throttled", test_throttled);
  ADD ("malformed", test_malformed);
  ADD ("hsa2", test_hsa2_flow);
  ADD ("hsa2-sms", test_hsa2_sms);
  ADD ("options-bridge-keys", test_options_bridge_and_keys);
  ADD ("hsa-2sa", test_hsa_2sa_flow);
  ADD ("repair", test_repair);
  ADD ("china", test_china);
  ADD ("legacy-signin", test_legacy_signin);
  ADD ("logout", test_logout);
  ADD ("isolation", test_isolation);
  ADD ("faults", test_faults);
  ADD ("request-log", test_request_log);
  ADD ("control-api", test_control_api);
  g_test_add_func ("/mock-server/load-errors", test_load_errors);
  g_test_add_func ("/mock-server/standalone-program", test_standalone_program);

  return g_test_run ();
}
