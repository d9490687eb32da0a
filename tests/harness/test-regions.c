/* test-regions.c: regions and the routed fake server
 *
 * The fake server runs in routed mode: TLS with the test certificate of
 * tests/data, dispatching on the Host header. Sessions reach it with Apple's
 * real URLs, taken from the regions themselves (the default "global" region
 * and the "china-mainland" plugin), through a SoupSession whose
 * remote-connectable is 127.0.0.1:PORT and whose tls-database trusts only the
 * test certificate: no name is ever resolved and nothing leaves the machine.
 *
 * No URL of Apple's hosts is written in this file: the hosts are read from
 * the endpoints the regions give, or assembled from pieces.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <icloud-glib/icloud-glib.h>

#include "test-utils.h"

#define PASSWORD "correct horse battery staple"

#define AUTH_PATH  "/appleauth/auth"
#define SETUP_PATH "/setup/ws/1"

/* Every global account has a China mainland twin named cn-<name>. */
#define ACCOUNT(id, extra) \
  " {\"apple_id\": \"" id "\", \"password\": \"" PASSWORD "\", \"iterations\": 1000" extra "}," \
  " {\"apple_id\": \"cn-" id "\", \"password\": \"" PASSWORD "\", \"iterations\": 1000, " \
  "\"region\": \"china-mainland\"" extra "},"

static const char accounts_json[] =
  "{\"accounts\": ["
  ACCOUNT ("s2k@example.com", ", \"protocol\": \"s2k\", \"factor\": \"none\"")
  ACCOUNT ("fo@example.com", ", \"protocol\": \"s2k_fo\", \"factor\": \"none\"")
  ACCOUNT ("reuse@example.com", ", \"protocol\": \"s2k\", \"factor\": \"none\"")
  ACCOUNT ("locked@example.com", ", \"locked\": true")
  ACCOUNT ("throttled@example.com", ", \"throttled\": true")
  ACCOUNT ("2fa@example.com", ", \"factor\": \"hsa2\", \"phones\": [{\"id\": 1, \"number\": \"+1 (•••) •••-••58\", \"push_mode\": \"sms\"}]")
  ACCOUNT ("2sa@example.com", ", \"factor\": \"hsa\", \"devices\": [{\"deviceType\": \"SMS\", \"areaCode\": \"\", \"phoneNumber\": \"*******58\", \"deviceId\": \"1\"}]")
  " {\"apple_id\": \"last@example.com\", \"password\": \"" PASSWORD "\", \"iterations\": 1000}"
  "]}";

/* Which region a test runs in. */
typedef struct {
  const char *region;   /* NULL: the default region, "global" */
  const char *prefix;   /* "" or "cn-": the accounts of that region */
} Region;

static const Region global_region = { NULL, "" };
static const Region china_region = { "china-mainland", "cn-" };

typedef struct {
  TestFixture  base;
  SoupSession *soup;
  GPtrArray   *sent;     /* SentRequest: what the client put on the wire */
} Fixture;

typedef struct {
  char *host;
  char *path;
  char *origin;
  char *referer;
  char *redirect_uri;
} SentRequest;

static void
sent_request_free (SentRequest *sent)
{
  g_free (sent->host);
  g_free (sent->path);
  g_free (sent->origin);
  g_free (sent->referer);
  g_free (sent->redirect_uri);
  g_free (sent);
}

static void
request_queued_cb (SoupSession *soup,
                   SoupMessage *msg,
                   gpointer     user_data)
{
  Fixture *fixture = user_data;
  SoupMessageHeaders *headers = soup_message_get_request_headers (msg);
  SentRequest *sent = g_new0 (SentRequest, 1);

  sent->host = g_strdup (g_uri_get_host (soup_message_get_uri (msg)));
  sent->path = g_strdup (g_uri_get_path (soup_message_get_uri (msg)));
  sent->origin = g_strdup (soup_message_headers_get_one (headers, "Origin"));
  sent->referer = g_strdup (soup_message_headers_get_one (headers, "Referer"));
  sent->redirect_uri = g_strdup (soup_message_headers_get_one (headers, "X-Apple-OAuth-Redirect-URI"));
  g_ptr_array_add (fixture->sent, sent);
}

static SoupSession *
new_soup_session (Fixture *fixture)
{
  g_autoptr(GError) error = NULL;
  SoupSession *soup = icloud_mock_server_create_soup_session (fixture->base.server, &error);

  g_assert_no_error (error);
  g_assert_nonnull (soup);
  g_signal_connect (soup, "request-queued", G_CALLBACK (request_queued_cb), fixture);
  return soup;
}

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *cert = g_test_build_filename (G_TEST_DIST, "data", "icloud-mock-cert.pem", NULL);
  g_autofree char *key = g_test_build_filename (G_TEST_DIST, "data", "icloud-mock-key.pem", NULL);

  test_fixture_load (&fixture->base, accounts_json);
  icloud_mock_server_set_routed (fixture->base.server, cert, key, &error);
  g_assert_no_error (error);
  g_assert_true (icloud_mock_server_get_routed (fixture->base.server));
  test_fixture_start (&fixture->base, "icloud-test");
  g_assert_true (g_str_has_prefix (icloud_mock_server_get_base_uri (fixture->base.server), "https://127.0.0.1:"));

  fixture->sent = g_ptr_array_new_with_free_func ((GDestroyNotify) sent_request_free);
  fixture->soup = new_soup_session (fixture);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  user_data)
{
  g_clear_object (&fixture->soup);
  test_fixture_teardown (&fixture->base, user_data);
  g_clear_pointer (&fixture->sent, g_ptr_array_unref);
}

static char *
account (const Region *region,
         const char   *name)
{
  return g_strconcat (region->prefix, name, NULL);
}

/* A session of @region (not signed in yet); @soup NULL: the fixture's. */
static ICloudSession *
new_session_object (Fixture      *fixture,
                    const Region *region,
                    const char   *apple_id,
                    const char   *password,
                    SoupSession  *soup)
{
  /* The default region is left as it is: that is the global one. */
  if (region->region == NULL)
    return g_object_new (ICLOUD_TYPE_SESSION,
                         "apple-id", apple_id,
                         "password", password,
                         "soup-session", soup ? soup : fixture->soup,
                         "cookie-directory", fixture->base.dir,
                         NULL);

  return g_object_new (ICLOUD_TYPE_SESSION,
                       "apple-id", apple_id,
                       "password", password,
                       "region", region->region,
                       "soup-session", soup ? soup : fixture->soup,
                       "cookie-directory", fixture->base.dir,
                       NULL);
}

static ICloudSession *
new_session (Fixture       *fixture,
             const Region  *region,
             const char    *apple_id,
             const char    *password,
             GError       **error)
{
  g_autoptr(ICloudSession) session = new_session_object (fixture, region, apple_id, password, NULL);

  if (!g_initable_init (G_INITABLE (session), NULL, error))
    return NULL;
  return g_steal_pointer (&session);
}

static char *
uri_host (const char *uri)
{
  g_autoptr(GUri) parsed = g_uri_parse (uri, G_URI_FLAGS_NONE, NULL);

  g_assert_nonnull (parsed);
  return g_strdup (g_uri_get_host (parsed));
}

/* The hosts of the endpoint a region gives. */
typedef struct {
  char *auth;
  char *setup;
  char *home;
} Hosts;

static void
hosts_clear (Hosts *hosts)
{
  g_free (hosts->auth);
  g_free (hosts->setup);
  g_free (hosts->home);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Hosts, hosts_clear)

static void
hosts_init (Hosts          *hosts,
            ICloudEndpoint *endpoint)
{
  g_assert_nonnull (endpoint);
  hosts->auth = uri_host (icloud_endpoint_get_auth_uri (endpoint));
  hosts->setup = uri_host (icloud_endpoint_get_setup_uri (endpoint));
  hosts->home = uri_host (icloud_endpoint_get_home_uri (endpoint));
}

/* The fake server's request log, as a JSON array (owned by @parser). */
static JsonArray *
request_log (Fixture    *fixture,
             JsonParser *parser)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *log = icloud_mock_server_dup_request_log (fixture->base.server);

  json_parser_load_from_data (parser, log, -1, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (json_parser_get_root (parser)));
  return json_node_get_array (json_parser_get_root (parser));
}

static gboolean
entry_has_cookie (JsonObject *entry,
                  const char *name)
{
  JsonArray *cookies = json_object_get_array_member (entry, "cookies");

  for (guint i = 0; i < json_array_get_length (cookies); i++)
    if (g_str_equal (json_array_get_string_element (cookies, i), name))
      return TRUE;
  return FALSE;
}

/* Every request of @apple_id went to the host its path belongs on; returns
 * how many went to the auth and setup hosts. */
static void
assert_hosts (Fixture     *fixture,
              const char  *apple_id,
              const Hosts *hosts,
              guint       *n_auth,
              guint       *n_setup)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonArray *log = request_log (fixture, parser);

  *n_auth = *n_setup = 0;
  for (guint i = 0; i < json_array_get_length (log); i++)
    {
      JsonObject *entry = json_array_get_object_element (log, i);
      const char *path = json_object_get_string_member (entry, "path");
      const char *host = json_object_get_string_member (entry, "host");

      if (g_strcmp0 (json_object_get_string_member_with_default (entry, "apple_id", NULL), apple_id) != 0)
        continue;
      g_test_message ("%s %s (%s)", host, path, apple_id);
      if (g_str_has_prefix (path, AUTH_PATH))
        {
          g_assert_cmpstr (host, ==, hosts->auth);
          (*n_auth)++;
        }
      else if (g_str_has_prefix (path, SETUP_PATH))
        {
          g_assert_cmpstr (host, ==, hosts->setup);
          (*n_setup)++;
        }
      else
        g_assert_not_reached ();
    }
}

/* ------------------------------------------------------------------------ */
/* The regions' endpoints */

static void
test_endpoints (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) global = NULL;
  g_autoptr(ICloudSession) china = NULL;
  g_auto(Hosts) g = { 0 };
  g_auto(Hosts) c = { 0 };
  g_autofree char *china_setup = NULL;
  g_autofree char *china_home = NULL;

  global = new_session (fixture, &global_region, "s2k@example.com", PASSWORD, &error);
  g_assert_no_error (error);
  china = new_session (fixture, &china_region, "cn-s2k@example.com", PASSWORD, &error);
  g_assert_no_error (error);

  g_assert_cmpstr (icloud_session_get_region (global), ==, "global");
  g_assert_cmpstr (icloud_session_get_region (china), ==, "china-mainland");
  hosts_init (&g, icloud_session_get_endpoint (global));
  hosts_init (&c, icloud_session_get_endpoint (china));

  /* Apple's global hosts, by name pieces. */
  g_assert_cmpstr (g.auth, ==, "idmsa." "apple" ".com");
  g_assert_cmpstr (g.setup, ==, "setup." "icloud" ".com");
  g_assert_cmpstr (g.home, ==, "www." "icloud" ".com");

  /* China mainland: the iCloud hosts on .com.cn, the global IDMSA host
   * (the newest pyicloud's choice). */
  china_setup = g_strconcat (g.setup, ".cn", NULL);
  china_home = g_strconcat (g.home, ".cn", NULL);
  g_assert_cmpstr (c.auth, ==, g.auth);
  g_assert_cmpstr (c.setup, ==, china_setup);
  g_assert_cmpstr (c.home, ==, china_home);

  /* Everything https, the same paths. */
  g_assert_true (g_str_has_prefix (icloud_endpoint_get_setup_uri (icloud_session_get_endpoint (china)), "https://"));
  g_assert_true (g_str_has_suffix (icloud_endpoint_get_setup_uri (icloud_session_get_endpoint (china)), SETUP_PATH));
  g_assert_true (g_str_has_suffix (icloud_endpoint_get_auth_uri (icloud_session_get_endpoint (china)), AUTH_PATH));
}

/* Origin, Referer and the OAuth redirect URI follow the region's home. */
static void
test_headers_follow_region (Fixture       *fixture,
                            gconstpointer  user_data)
{
  const Region *region = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autofree char *apple_id = account (region, "s2k@example.com");
  g_autofree char *referer = NULL;
  g_auto(Hosts) hosts = { 0 };
  const char *home;
  guint n_redirect = 0;

  session = new_session (fixture, region, apple_id, PASSWORD, &error);
  g_assert_no_error (error);
  home = icloud_endpoint_get_home_uri (icloud_session_get_endpoint (session));
  hosts_init (&hosts, icloud_session_get_endpoint (session));
  referer = g_strconcat (home, "/", NULL);

  g_assert_cmpuint (fixture->sent->len, >=, 3);
  for (guint i = 0; i < fixture->sent->len; i++)
    {
      SentRequest *sent = g_ptr_array_index (fixture->sent, i);

      g_assert_cmpstr (sent->origin, ==, home);
      if (g_str_equal (sent->host, hosts.auth))
        {
          g_autofree char *auth_origin = g_strconcat ("https://", hosts.auth, NULL);

          /* IDMSA calls: Referer is the IDMSA origin (§2.2), the
           * redirect URI the region's home. */
          g_assert_cmpstr (sent->referer, ==, auth_origin);
          g_assert_cmpstr (sent->redirect_uri, ==, home);
          n_redirect++;
        }
      else
        {
          g_assert_cmpstr (sent->host, ==, hosts.setup);
          g_assert_cmpstr (sent->referer, ==, referer);
        }
    }
  g_assert_cmpuint (n_redirect, >=, 2);
}

/* ------------------------------------------------------------------------ */
/* The scenarios of test-session, in routed mode, in both regions */

static void
test_sign_in (Fixture       *fixture,
              const Region  *region,
              const char    *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autofree char *apple_id = account (region, name);
  g_auto(Hosts) hosts = { 0 };
  guint n_auth, n_setup;

  session = new_session (fixture, region, apple_id, PASSWORD, &error);
  g_assert_no_error (error);
  g_assert_nonnull (session);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_assert_cmpuint (test_count_srp (&fixture->base, apple_id), ==, 1);
  g_assert_true (json_object_has_member (json_node_get_object (icloud_session_get_account_info (session)), "dsInfo"));

  /* SRP on the IDMSA host, accountLogin on the region's setup host. */
  hosts_init (&hosts, icloud_session_get_endpoint (session));
  assert_hosts (fixture, apple_id, &hosts, &n_auth, &n_setup);
  g_assert_cmpuint (n_auth, >=, 2);
  g_assert_cmpuint (n_setup, >=, 1);
  g_assert_cmpuint (icloud_mock_server_count_requests (fixture->base.server, apple_id,
                                                       SETUP_PATH "/accountLogin"), ==, 1);
}

static void
test_sign_in_s2k (Fixture       *fixture,
                  gconstpointer  user_data)
{
  test_sign_in (fixture, user_data, "s2k@example.com");
}

static void
test_sign_in_s2k_fo (Fixture       *fixture,
                     gconstpointer  user_data)
{
  test_sign_in (fixture, user_data, "fo@example.com");
}

static void
check_failure (Fixture      *fixture,
               const Region *region,
               const char   *name,
               const char   *password,
               int           code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autofree char *apple_id = account (region, name);

  session = new_session (fixture, region, apple_id, password, &error);
  g_assert_error (error, ICLOUD_ERROR, code);
  g_assert_null (session);
  g_assert_null (strstr (error->message, password));
}

static void
test_wrong_password (Fixture       *fixture,
                     gconstpointer  user_data)
{
  check_failure (fixture, user_data, "s2k@example.com", "not the password", ICLOUD_ERROR_FAILED_LOGIN);
  check_failure (fixture, user_data, "fo@example.com", "not the password", ICLOUD_ERROR_FAILED_LOGIN);
}

static void
test_locked (Fixture       *fixture,
             gconstpointer  user_data)
{
  check_failure (fixture, user_data, "locked@example.com", PASSWORD, ICLOUD_ERROR_ACCOUNT_LOCKED);
}

static void
test_throttled (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autofree char *apple_id = account (user_data, "throttled@example.com");

  session = new_session_object (fixture, user_data, apple_id, PASSWORD, NULL);
  g_assert_false (icloud_session_authenticate (session, FALSE, NULL, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_THROTTLED);
  g_assert_cmpuint (icloud_session_get_retry_after (session), ==, 120);
  g_assert_cmpuint (icloud_error_get_retry_after (error), ==, 120);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_SIGNED_OUT);
}

/* A second session, with a SoupSession of its own and no password, reuses
 * the saved one: no SRP; then logout ends it on the server. */
static void
test_reuse_and_logout (Fixture       *fixture,
                       gconstpointer  user_data)
{
  const Region *region = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) first = NULL;
  g_autoptr(ICloudSession) second = NULL;
  g_autoptr(ICloudSession) after = NULL;
  g_autoptr(SoupSession) soup = new_soup_session (fixture);
  g_autofree char *apple_id = account (region, "reuse@example.com");
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_auto(Hosts) hosts = { 0 };
  JsonArray *log;
  guint n_validate = 0;

  first = new_session (fixture, region, apple_id, PASSWORD, &error);
  g_assert_no_error (error);
  g_assert_true (icloud_session_close (first, NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&first);
  g_assert_cmpuint (test_count_srp (&fixture->base, apple_id), ==, 1);

  second = new_session_object (fixture, region, apple_id, NULL, soup);
  g_assert_true (g_initable_init (G_INITABLE (second), NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (second), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_assert_cmpuint (test_count_srp (&fixture->base, apple_id), ==, 1);
  hosts_init (&hosts, icloud_session_get_endpoint (second));

  /* validate went to the region's setup host with the web-auth cookie
   * that host's domain set. */
  log = request_log (fixture, parser);
  for (guint i = 0; i < json_array_get_length (log); i++)
    {
      JsonObject *entry = json_array_get_object_element (log, i);

      if (!g_str_equal (json_object_get_string_member (entry, "path"), SETUP_PATH "/validate"))
        continue;
      g_assert_cmpstr (json_object_get_string_member (entry, "host"), ==, hosts.setup);
      g_assert_true (entry_has_cookie (entry, "X-APPLE-WEBAUTH-TOKEN"));
      g_assert_cmpint (json_object_get_int_member (entry, "status"), ==, 200);
      n_validate++;
    }
  g_assert_cmpuint (n_validate, ==, 1);

  g_assert_true (icloud_session_logout (second, FALSE, FALSE, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (second), ==, ICLOUD_AUTH_STATE_SIGNED_OUT);
  g_assert_cmpuint (icloud_mock_server_count_requests (fixture->base.server, apple_id,
                                                       SETUP_PATH "/logout"), ==, 1);

  after = new_session (fixture, region, apple_id, NULL, &error);
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_AUTH_REQUIRED);
  g_assert_null (after);
}

/* 2FA: push to the trusted devices, code, trust; then a new session is
 * trusted with no code. Skipped when the hsa2 plugin is not built. */
static void
test_2fa_push (Fixture       *fixture,
               gconstpointer  user_data)
{
  const Region *region = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(ICloudSession) again = NULL;
  g_autofree char *apple_id = account (region, "2fa@example.com");
  g_autofree char *code = NULL;
  g_auto(Hosts) hosts = { 0 };
  guint n_auth, n_setup;

  session = new_session (fixture, region, apple_id, PASSWORD, &error);
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_NEEDS_2FA);

  if (!icloud_session_request_2fa_code (session, NULL, NULL, &error) &&
      g_error_matches (error, ICLOUD_ERROR, ICLOUD_ERROR_NO_PLUGIN))
    {
      g_test_skip ("the hsa2 plugin is not available");
      return;
    }
  g_assert_no_error (error);
  g_assert_cmpuint (icloud_mock_server_count_codes_sent (fixture->base.server, apple_id, NULL), ==, 1);

  code = icloud_mock_server_dup_last_code (fixture->base.server, apple_id, NULL);
  g_assert_nonnull (code);
  g_assert_true (icloud_session_validate_2fa_code (session, code, NULL, &error));
  g_assert_no_error (error);
  if (icloud_session_get_state (session) != ICLOUD_AUTH_STATE_AUTHENTICATED)
    {
      g_assert_true (icloud_session_trust_session (session, NULL, &error));
      g_assert_no_error (error);
    }
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_assert_true (icloud_session_get_is_trusted_session (session));

  hosts_init (&hosts, icloud_session_get_endpoint (session));
  assert_hosts (fixture, apple_id, &hosts, &n_auth, &n_setup);
  g_assert_cmpuint (icloud_mock_server_count_requests (fixture->base.server, apple_id,
                                                       AUTH_PATH "/verify/trusteddevice/securitycode"), ==, 1);

  g_clear_object (&session);
  again = new_session (fixture, region, apple_id, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (again), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_assert_cmpuint (test_count_srp (&fixture->base, apple_id), ==, 1);
}

/* 2SA on the region's setup host. Skipped without the hsa plugin. */
static void
test_2sa (Fixture       *fixture,
          gconstpointer  user_data)
{
  const Region *region = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(GListModel) devices = NULL;
  g_autoptr(ICloudTrustedDevice) device = NULL;
  g_autofree char *apple_id = account (region, "2sa@example.com");
  g_autofree char *code = NULL;
  g_auto(Hosts) hosts = { 0 };
  guint n_auth, n_setup;

  session = new_session (fixture, region, apple_id, PASSWORD, &error);
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_NEEDS_2SA);

  devices = icloud_session_get_trusted_devices (session, NULL, &error);
  if (devices == NULL && g_error_matches (error, ICLOUD_ERROR, ICLOUD_ERROR_NO_PLUGIN))
    {
      g_test_skip ("the hsa plugin is not available");
      return;
    }
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (devices), ==, 1);
  device = g_list_model_get_item (devices, 0);

  g_assert_true (icloud_session_send_verification_code (session, device, NULL, &error));
  g_assert_no_error (error);
  code = icloud_mock_server_dup_last_code (fixture->base.server, apple_id,
                                           icloud_trusted_device_get_id (device));
  g_assert_nonnull (code);
  g_assert_true (icloud_session_validate_verification_code (session, device, code, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);

  hosts_init (&hosts, icloud_session_get_endpoint (session));
  assert_hosts (fixture, apple_id, &hosts, &n_auth, &n_setup);
  g_assert_cmpuint (icloud_mock_server_count_requests (fixture->base.server, apple_id,
                                                       SETUP_PATH "/validateVerificationCode"), ==, 1);
}

/* ------------------------------------------------------------------------ */
/* The wrong region, and cookies that never cross between .com and .com.cn */

static void
test_wrong_region (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_auto(Hosts) hosts = { 0 };
  JsonArray *log;
  gboolean saw_302 = FALSE;

  /* A China mainland account through the global hosts: Apple's 302. */
  session = new_session_object (fixture, &global_region, "cn-s2k@example.com", PASSWORD, NULL);
  g_assert_false (icloud_session_authenticate (session, FALSE, NULL, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_WRONG_REGION);
  g_assert_nonnull (strstr (error->message, "china-mainland"));
  g_clear_error (&error);
  hosts_init (&hosts, icloud_session_get_endpoint (session));

  log = request_log (fixture, parser);
  for (guint i = 0; i < json_array_get_length (log); i++)
    {
      JsonObject *entry = json_array_get_object_element (log, i);
      if (g_str_equal (json_object_get_string_member (entry, "path"), SETUP_PATH "/accountLogin"))
        {
          g_assert_cmpstr (json_object_get_string_member (entry, "host"), ==, hosts.setup);
          g_assert_cmpint (json_object_get_int_member (entry, "status"), ==, 302);
          saw_302 = TRUE;
        }
    }
  g_assert_true (saw_302);
  g_clear_object (&session);

  /* And a global account through the China mainland hosts. */
  session = new_session_object (fixture, &china_region, "s2k@example.com", PASSWORD, NULL);
  g_assert_false (icloud_session_authenticate (session, FALSE, NULL, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_WRONG_REGION);
  g_assert_nonnull (strstr (error->message, "“global”"));
}

/* Signed in through one region's hosts, then the same saved session through
 * the other region's: none of the first domain's cookies is sent to the
 * second (the request log lists the cookie names per request), and Apple's
 * 302 tells the session where it belongs. */
static void
check_cookies_stay (Fixture      *fixture,
                    const Region *home_region,
                    const Region *other_region,
                    const char   *apple_id,
                    const char   *region_named)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) home = NULL;
  g_autoptr(ICloudSession) other = NULL;
  g_autoptr(ICloudSession) back = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_auto(Hosts) home_hosts = { 0 };
  g_auto(Hosts) other_hosts = { 0 };
  JsonArray *log;
  guint n_home_with_cookies = 0, n_other = 0;

  home = new_session (fixture, home_region, apple_id, PASSWORD, &error);
  g_assert_no_error (error);
  hosts_init (&home_hosts, icloud_session_get_endpoint (home));
  g_clear_object (&home);
  icloud_mock_server_clear_request_log (fixture->base.server);

  /* The same account and directory, the other region. */
  other = new_session_object (fixture, other_region, apple_id, NULL, NULL);
  g_assert_false (icloud_session_authenticate (other, FALSE, NULL, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_WRONG_REGION);
  g_assert_nonnull (strstr (error->message, region_named));
  g_clear_error (&error);
  hosts_init (&other_hosts, icloud_session_get_endpoint (other));
  g_assert_cmpstr (home_hosts.setup, !=, other_hosts.setup);
  g_clear_object (&other);

  /* Back home, the saved web session still works: its cookies were kept. */
  back = new_session (fixture, home_region, apple_id, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (back), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_assert_cmpuint (test_count_srp (&fixture->base, apple_id), ==, 0);

  log = request_log (fixture, parser);
  for (guint i = 0; i < json_array_get_length (log); i++)
    {
      JsonObject *entry = json_array_get_object_element (log, i);
      const char *host = json_object_get_string_member (entry, "host");
      JsonArray *cookies = json_object_get_array_member (entry, "cookies");

      if (g_str_equal (host, other_hosts.setup))
        {
          /* Not one cookie of the other domain. */
          g_assert_cmpuint (json_array_get_length (cookies), ==, 0);
          n_other++;
        }
      else if (g_str_equal (host, home_hosts.setup) && json_array_get_length (cookies) > 0)
        {
          g_assert_true (entry_has_cookie (entry, "X-APPLE-WEBAUTH-TOKEN"));
          n_home_with_cookies++;
        }
      /* The IDMSA cookies (.apple.com) are never sent to an iCloud host. */
      if (!g_str_equal (host, home_hosts.auth))
        {
          g_assert_false (entry_has_cookie (entry, "aasp"));
          g_assert_false (entry_has_cookie (entry, "acn01"));
        }
    }
  g_assert_cmpuint (n_other, >=, 1);
  g_assert_cmpuint (n_home_with_cookies, >=, 1);
}

static void
test_cookies_china_to_global (Fixture       *fixture,
                              gconstpointer  user_data)
{
  check_cookies_stay (fixture, &china_region, &global_region, "cn-reuse@example.com", "“china-mainland”");
}

static void
test_cookies_global_to_china (Fixture       *fixture,
                              gconstpointer  user_data)
{
  check_cookies_stay (fixture, &global_region, &china_region, "reuse@example.com", "“global”");
}

/* ------------------------------------------------------------------------ */
/* The routed server itself */

static GBytes *
fetch (SoupSession  *soup,
       const char   *method,
       const char   *host,
       const char   *path,
       guint        *status,
       GError      **error)
{
  g_autofree char *uri = g_strconcat ("https://", host, path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new (method, uri);
  GBytes *body;

  g_assert_nonnull (msg);
  body = soup_session_send_and_read (soup, msg, NULL, error);
  *status = soup_message_get_status (msg);
  return body;
}

static void
test_dispatch (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autofree char *setup_on_auth = NULL;
  g_autofree char *auth_host = g_strconcat ("idmsa.", "apple", ".com", NULL);
  g_autofree char *setup_host = g_strconcat ("setup.", "icloud", ".com.cn", NULL);
  g_autofree char *home_host = g_strconcat ("www.", "icloud", ".com", NULL);
  guint status = 0;

  /* The home page. */
  body = fetch (fixture->soup, "GET", home_host, "/", &status, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 200);
  g_clear_pointer (&body, g_bytes_unref);

  /* A setup path on an IDMSA host, and the other way round: 404. */
  body = fetch (fixture->soup, "POST", auth_host, SETUP_PATH "/validate", &status, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 404);
  g_clear_pointer (&body, g_bytes_unref);
  body = fetch (fixture->soup, "POST", setup_host, AUTH_PATH "/signin/init", &status, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 404);
  g_clear_pointer (&body, g_bytes_unref);

  /* A host the server does not play: 421. */
  body = fetch (fixture->soup, "GET", "example.org", "/", &status, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 421);
  g_clear_pointer (&body, g_bytes_unref);

  /* The log has the Host of each request. */
  g_assert_cmpuint (icloud_mock_server_count_requests (fixture->base.server, NULL, SETUP_PATH "/validate"), ==, 1);
  {
    g_autoptr(JsonParser) parser = json_parser_new ();
    JsonArray *log = request_log (fixture, parser);

    /* libsoup sends a request that got a 421 once more, on a new
     * connection, so example.org may be there twice. */
    g_assert_cmpuint (json_array_get_length (log), >=, 4);
    g_assert_cmpuint (json_array_get_length (log), <=, 5);
    g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (log, 0), "host"), ==, home_host);
    g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (log, 1), "host"), ==, auth_host);
    g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (log, 2), "host"), ==, setup_host);
    g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (log, 3), "host"), ==, "example.org");
  }
}

/* Without a database that trusts the test certificate (here: the system's
 * default one), the TLS handshake fails: the routed mode is real TLS. */
static void
test_tls_untrusted (Fixture       *fixture,
                    gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnectable) connectable = icloud_mock_server_create_connectable (fixture->base.server);
  g_autoptr(SoupSession) soup = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autofree char *home_host = g_strconcat ("www.", "icloud", ".com", NULL);
  guint status = 0;

  soup = soup_session_new_with_options ("remote-connectable", connectable,
                                        "proxy-resolver", NULL,
                                        NULL);
  body = fetch (soup, "GET", home_host, "/", &status, &error);
  g_assert_null (body);
  g_assert_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  g_assert_cmpuint (icloud_mock_server_count_requests (fixture->base.server, NULL, NULL), ==, 0);
}

/* Plain http is refused for anything but loopback. */
static void
test_plain_http (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudEndpoint) endpoint = NULL;

  endpoint = icloud_endpoint_new ("http://example.org" AUTH_PATH,
                                  "http://example.org" SETUP_PATH,
                                  "http://example.org", &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_null (endpoint);
  g_assert_nonnull (strstr (error->message, "https"));
  g_clear_error (&error);

  endpoint = icloud_endpoint_new_for_base_uri ("http://example.org:8080", &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_null (endpoint);
  g_clear_error (&error);

  /* Loopback may use it; https anywhere. */
  endpoint = icloud_endpoint_new_for_base_uri ("http://127.0.0.1:8080", &error);
  g_assert_no_error (error);
  g_assert_nonnull (endpoint);
  g_clear_object (&endpoint);
  endpoint = icloud_endpoint_new_for_base_uri ("https://example.org", &error);
  g_assert_no_error (error);
  g_assert_nonnull (endpoint);
}

/* An unknown region is a clear NO_PLUGIN naming it. */
static void
test_unknown_region (Fixture       *fixture,
                     gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) session = NULL;
  const Region atlantis = { "atlantis", "" };

  session = new_session (fixture, &atlantis, "s2k@example.com", PASSWORD, &error);
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_NO_PLUGIN);
  g_assert_nonnull (strstr (error->message, "atlantis"));
  g_assert_null (session);
  g_assert_cmpuint (icloud_mock_server_count_requests (fixture->base.server, NULL, NULL), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, data, func) g_test_add (path, Fixture, data, fixture_setup, func, fixture_teardown)
  ADD ("/regions/endpoints", NULL, test_endpoints);
  ADD ("/regions/unknown", NULL, test_unknown_region);
  g_test_add_func ("/regions/plain-http-refused", test_plain_http);

  ADD ("/regions/routed/dispatch", NULL, test_dispatch);
  ADD ("/regions/routed/tls-untrusted", NULL, test_tls_untrusted);

#define ADD_BOTH(name, func) \
  ADD ("/regions/global/" name, &global_region, func); \
  ADD ("/regions/china-mainland/" name, &china_region, func)
  ADD_BOTH ("headers", test_headers_follow_region);
  ADD_BOTH ("sign-in/s2k", test_sign_in_s2k);
  ADD_BOTH ("sign-in/s2k_fo", test_sign_in_s2k_fo);
  ADD_BOTH ("error/wrong-password", test_wrong_password);
  ADD_BOTH ("error/locked", test_locked);
  ADD_BOTH ("error/throttled", test_throttled);
  ADD_BOTH ("reuse-and-logout", test_reuse_and_logout);
  ADD_BOTH ("2fa-push", test_2fa_push);
  ADD_BOTH ("2sa", test_2sa);
#undef ADD_BOTH

  ADD ("/regions/wrong-region", NULL, test_wrong_region);
  ADD ("/regions/cookies/china-not-sent-to-global", NULL, test_cookies_china_to_global);
  ADD ("/regions/cookies/global-not-sent-to-china", NULL, test_cookies_global_to_china);
#undef ADD

  return g_test_run ();
}
