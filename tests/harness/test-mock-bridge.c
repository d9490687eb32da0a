/* test-mock-bridge.c: the fake server's side of the HSA2 trusted-device
 * bridge (protocol/hsa2-bridge.md §g), driven by a minimal client made of
 * the bridge's static library (the prover, the key, the wire encoders, the
 * push parser) and libsoup's WebSocket client: the handshake and its
 * refusals, INVALID_NONCE, the token and the subscription, the bridge/step
 * requests and pushes, the legacy branch, and every push-service fault.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib.h>
#include <gio/gio.h>
#include <libsoup/soup.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "icloud-mock-server.h"
#include "icloud-srp-private.h"
#include "icloud-bridge-crypto-private.h"
#include "icloud-bridge-wire-private.h"
#include "icloud-bridge-push-private.h"
#include "test-idmsa-client.h"

#define AUTH        "/appleauth/auth"
#define ORIGIN      "https://idmsa.apple.com"
#define TOPIC       "com.apple.idmsauthwidget"
#define APP_ID      "1159"
#define WAIT_MS     5000
/* how long "nothing comes" is waited for */
#define QUIET_MS    400

/* Accounts of this test only, besides data/accounts.json's. */
static const char extra_accounts[] =
  "{\"accounts\": ["
  " {\"apple_id\": \"bridge-uuid@example.com\", \"password\": \"bridge uuid\", \"iterations\": 1000,"
  "  \"factor\": \"hsa2\", \"bridge\": true, \"bridge_protocol\": \"sessionUUID\","
  "  \"final_next_step\": 4}"
  "]}";

/* ------------------------------------------------------------------------ */
/* a tiny push client */

typedef struct _Fixture Fixture;

typedef struct {
  SoupWebsocketConnection *ws;
  GQueue                   messages;   /* GBytes */
  gboolean                 closed;
  guint                    status;     /* of the handshake */
  char                    *token_hex;
} Push;

struct _Fixture {
  ICloudMockServer *server;
  Client            client;
  char             *base;        /* http://127.0.0.1:PORT, or https://idmsa.apple.com */
  char             *push_base;   /* ws://127.0.0.1:PORT, or wss://websocket.push.apple.com */
  ICloudBridgeKey  *key;
  Push              push;
  /* the flow as the client sees it */
  char             *s0;
  char             *flow_id;
  char             *idmsdata;
  char             *akdata;       /* compact JSON text, as the push had it */
  char             *next_step;
  char             *device_code;
};

static void
push_clear (Push *push)
{
  if (push->ws != NULL)
    {
      g_signal_handlers_disconnect_by_data (push->ws, push);
      if (soup_websocket_connection_get_state (push->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (push->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    }
  g_clear_object (&push->ws);
  g_queue_clear_full (&push->messages, (GDestroyNotify) g_bytes_unref);
  g_clear_pointer (&push->token_hex, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Push, push_clear)

static void
on_push_message (SoupWebsocketConnection *ws,
                 gint                     type,
                 GBytes                  *message,
                 gpointer                 user_data)
{
  Push *push = user_data;

  g_queue_push_tail (&push->messages, g_bytes_ref (message));
}

static void
on_push_closed (SoupWebsocketConnection *ws,
                gpointer                 user_data)
{
  Push *push = user_data;

  push->closed = TRUE;
}

static void
got_websocket (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static gboolean
wait_for_flag (gboolean *flag,
               guint     timeout_ms)
{
  gint64 end = g_get_monotonic_time () + timeout_ms * 1000;

  while (!*flag && g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  return *flag;
}

/* Opens @path on the push service; TRUE if upgraded, the handshake's
 * status in push->status either way. */
static gboolean
push_open_path (Fixture    *f,
                Push       *push,
                const char *path,
                const char *origin)
{
  g_autofree char *url = g_strconcat (f->push_base, path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (msg);
  soup_session_websocket_connect_async (f->client.session, msg, origin, NULL, G_PRIORITY_DEFAULT,
                                        NULL, got_websocket, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  push->ws = soup_session_websocket_connect_finish (f->client.session, result, &error);
  push->status = soup_message_get_status (msg);
  if (push->ws == NULL)
    return FALSE;
  g_signal_connect (push->ws, "message", G_CALLBACK (on_push_message), push);
  g_signal_connect (push->ws, "closed", G_CALLBACK (on_push_closed), push);
  return TRUE;
}

/* Opens /v2/<hex of a connection message> made with @key at @timestamp_ms
 * (the nonce is signed, unless @bad_signature). TRUE if upgraded; the
 * handshake's status in push->status either way. */
static gboolean
push_open (Fixture         *f,
           Push            *push,
           ICloudBridgeKey *key,
           guint64          timestamp_ms,
           const char      *origin,
           gboolean         bad_signature)
{
  g_autoptr(GBytes) message = NULL;
  g_autofree char *wss = NULL;

  if (bad_signature)
    {
      guint8 pub[ICLOUD_P256_POINT_LEN];
      guint8 nonce[ICLOUD_BRIDGE_NONCE_LEN];
      guint8 other[ICLOUD_BRIDGE_NONCE_LEN] = { 0 };
      g_autoptr(GBytes) sig = NULL;

      icloud_bridge_key_get_public (key, pub);
      icloud_bridge_build_nonce (timestamp_ms, NULL, nonce);
      sig = icloud_bridge_key_sign (key, other, sizeof other);
      message = icloud_bridge_encode_connection_message (pub, nonce, g_bytes_get_data (sig, NULL),
                                                         g_bytes_get_size (sig));
    }
  else
    message = icloud_bridge_connection_message_new (key, timestamp_ms, NULL);

  /* wss://<host>/v2/<hex>, on the origin of this test's push service */
  wss = icloud_bridge_websocket_url ("websocket.push.apple.com", message);
  return push_open_path (f, push, strstr (wss, "/v2/"), origin);
}

/* The next server message, or NULL after @timeout_ms or on close. */
static ICloudBridgeServerMessage *
push_next (Push  *push,
           guint  timeout_ms)
{
  gint64 end = g_get_monotonic_time () + timeout_ms * 1000;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  ICloudBridgeServerMessage *message;

  while (g_queue_is_empty (&push->messages) && !push->closed && g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  bytes = g_queue_pop_head (&push->messages);
  if (bytes == NULL)
    return NULL;
  message = icloud_bridge_server_message_parse (bytes, &error);
  g_assert_no_error (error);
  return message;
}

static void
push_send (Push   *push,
           GBytes *bytes)
{
  soup_websocket_connection_send_message (push->ws, SOUP_WEBSOCKET_DATA_BINARY, bytes);
}

/* Reads the connection response; TRUE with the token, FALSE with
 * INVALID_NONCE's server time in @server_time. */
static gboolean
push_read_token (Push    *push,
                 guint64 *server_time)
{
  g_autoptr(ICloudBridgeServerMessage) m = push_next (push, WAIT_MS);
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (m);
  g_assert_true (m->has_connection);
  if (m->status == 2)
    {
      g_assert_true (m->has_server_time);
      *server_time = m->server_time;
      return FALSE;
    }
  g_assert_cmpuint (m->status, ==, 0);
  g_assert_nonnull (m->token);
  push->token_hex = icloud_bridge_push_token_to_hex (m->token, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (push->token_hex), ==, 64);
  return TRUE;
}

static void
push_subscribe (Push *push)
{
  g_autoptr(GBytes) filter = icloud_bridge_encode_web_filter (TOPIC);
  g_autoptr(ICloudBridgeServerMessage) m = NULL;

  push_send (push, filter);
  m = push_next (push, WAIT_MS);
  g_assert_nonnull (m);
  g_assert_true (m->has_subscription);
  g_assert_cmpuint (m->subscription_status, ==, 0);
  g_assert_cmpuint (m->subscription_topics->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (m->subscription_topics, 0), ==, TOPIC);
}

/* ------------------------------------------------------------------------ */
/* fixture */


static void
fixture_start (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  icloud_mock_server_start (f->server, &error);
  g_assert_no_error (error);
  if (icloud_mock_server_get_routed (f->server))
    {
      f->client.session = icloud_mock_server_create_soup_session (f->server, &error);
      g_assert_no_error (error);
      soup_session_add_feature_by_type (f->client.session, SOUP_TYPE_COOKIE_JAR);
      f->base = g_strdup ("https://idmsa.apple.com");
      f->push_base = g_strdup ("wss://websocket.push.apple.com");
    }
  else
    {
      client_init (&f->client);
      f->base = g_strdup (icloud_mock_server_get_base_uri (f->server));
      f->push_base = g_strconcat ("ws://127.0.0.1:", strchr (f->base + 5, ':') + 1, NULL);
    }
  f->client.app_id = APP_ID;
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  const char *accounts = g_getenv ("ICLOUD_MOCK_ACCOUNTS");
  g_autofree char *fallback = g_test_build_filename (G_TEST_DIST, "..", "data", "accounts.json", NULL);

  f->server = icloud_mock_server_new ();
  icloud_mock_server_load_accounts (f->server, accounts && *accounts ? accounts : fallback, &error);
  g_assert_no_error (error);
  icloud_mock_server_load_accounts_from_data (f->server, extra_accounts, -1, &error);
  g_assert_no_error (error);
  if (data != NULL)
    {
      g_autofree char *cert = g_test_build_filename (G_TEST_DIST, "data", "icloud-mock-cert.pem", NULL);
      g_autofree char *key = g_test_build_filename (G_TEST_DIST, "data", "icloud-mock-key.pem", NULL);

      icloud_mock_server_set_routed (f->server, cert, key, &error);
      g_assert_no_error (error);
    }
  fixture_start (f);
  f->key = icloud_bridge_key_new ();
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  push_clear (&f->push);
  client_clear (&f->client);
  g_free (f->base);
  g_free (f->push_base);
  g_clear_pointer (&f->key, icloud_bridge_key_free);
  g_free (f->s0);
  g_free (f->flow_id);
  g_free (f->idmsdata);
  g_free (f->akdata);
  g_free (f->next_step);
  g_free (f->device_code);
  icloud_mock_server_stop (f->server);
  g_assert_finalize_object (f->server);
}

static guint
request (Fixture    *f,
         const char *method,
         const char *path,
         const char *body,
         const char *accept,
         Reply      *reply)
{
  return client_request (&f->client, f->base, method, path, body, accept, reply);
}

static guint
post (Fixture    *f,
      const char *path,
      const char *body)
{
  g_auto(Reply) reply = { 0 };

  return request (f, "POST", path, body, NULL, &reply);
}

static guint
srp_signin (Fixture    *f,
            const char *apple_id,
            const char *password)
{
  return client_srp_signin (&f->client, f->base, apple_id, password, NULL);
}

static char *
node_to_string (JsonNode *node)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();

  json_generator_set_root (gen, node);
  return json_generator_to_data (gen, NULL);
}

static guint64
now_ms (void)
{
  return (guint64) (g_get_real_time () / 1000);
}

static guint
count (Fixture    *f,
       const char *apple_id,
       const char *path)
{
  return icloud_mock_server_count_requests (f->server, apple_id, path);
}

/* A figure of GET /_mock/push. */
static gint64
push_stat (Fixture    *f,
           const char *name)
{
  g_auto(Reply) reply = { 0 };
  g_autoptr(JsonNode) node = NULL;

  g_assert_cmpuint (request (f, "GET", "/_mock/push", NULL, NULL, &reply), ==, 200);
  node = parse_json_text (g_bytes_get_data (reply.body, NULL), g_bytes_get_size (reply.body));
  return json_object_get_int_member (json_node_get_object (node), name);
}

static gboolean
no_push_connections (gpointer data)
{
  return icloud_mock_server_get_n_push_connections (data) == 0;
}

static void
assert_no_push_connections (Fixture *f)
{
  gint64 end = g_get_monotonic_time () + WAIT_MS * 1000;

  while (!no_push_connections (f->server) && g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  g_assert_cmpuint (icloud_mock_server_get_n_push_connections (f->server), ==, 0);
}

/* Nothing comes on the push connection for a while. */
static void
assert_quiet (Fixture *f)
{
  g_autoptr(ICloudBridgeServerMessage) m = push_next (&f->push, QUIET_MS);

  g_assert_null (m);
}

/* Signs in to the 409 and fetches the boot data, as the client does. */
static void
sign_in (Fixture    *f,
         const char *apple_id,
         const char *password)
{
  g_auto(Reply) boot = { 0 };

  g_assert_cmpuint (srp_signin (f, apple_id, password), ==, 409);
  g_assert_cmpuint (request (f, "GET", AUTH, NULL, "text/html", &boot), ==, 200);
}

/* push_open + token + subscription, at the current time. */
static void
open_push (Fixture *f)
{
  guint64 server_time = 0;

  g_assert_true (push_open (f, &f->push, f->key, now_ms (), ORIGIN, FALSE));
  g_assert_true (push_read_token (&f->push, &server_time));
  push_subscribe (&f->push);
}

/* The JSON text of the "akdata" object of @json (the fake server writes a
 * flat object), as the client must echo it: hsa2-bridge.md §h item 8. */
static char *
raw_akdata (const char *json)
{
  const char *start = strstr (json, "\"akdata\":");
  const char *end;

  if (start == NULL)
    return NULL;
  start += strlen ("\"akdata\":");
  end = strchr (start, '}');
  g_assert_nonnull (end);
  return g_strndup (start, end - start + 1);
}

/* The next push: acked (unless @no_ack), parsed, and its echo data kept. */
static ICloudBridgePush *
read_push (Fixture  *f,
           gboolean  no_ack,
           GBytes  **topic_out)
{
  g_autoptr(ICloudBridgeServerMessage) m = push_next (&f->push, WAIT_MS);
  g_autoptr(GError) error = NULL;
  ICloudBridgePush *push;
  gsize len;
  const char *payload;
  g_autofree char *text = NULL;

  if (m == NULL)
    return NULL;
  g_assert_true (m->has_push);
  g_assert_true (m->has_push_id);
  if (!no_ack)
    {
      g_autoptr(GBytes) ack = icloud_bridge_encode_ack (g_bytes_get_data (m->push_topic, NULL),
                                                        g_bytes_get_size (m->push_topic), m->push_id);
      push_send (&f->push, ack);
    }
  if (topic_out != NULL)
    *topic_out = g_bytes_ref (m->push_topic);
  payload = g_bytes_get_data (m->push_payload, &len);
  push = icloud_bridge_push_parse ((const guint8 *) payload, len, &error);
  g_assert_no_error (error);
  text = g_strndup (payload, len);
  g_free (f->akdata);
  f->akdata = raw_akdata (text);
  g_free (f->idmsdata);
  f->idmsdata = g_strdup (push->idmsdata);
  g_free (f->next_step);
  f->next_step = g_strdup (push->next_step);
  return push;
}

static gboolean
topic_is (GBytes     *topic,
          const char *name)
{
  return icloud_bridge_topic_matches (g_bytes_get_data (topic, NULL), g_bytes_get_size (topic), name);
}

/* The body of bridge/step/N for N > 0 (TL's keys and types). */
static char *
step_body (Fixture    *f,
           const char *data,
           gint64      step)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "sessionUUID");
  json_builder_add_string_value (b, f->flow_id);
  json_builder_set_member_name (b, "data");
  json_builder_add_string_value (b, data);
  json_builder_set_member_name (b, "ptkn");
  json_builder_add_string_value (b, f->push.token_hex);
  json_builder_set_member_name (b, "nextStep");
  json_builder_add_int_value (b, step);
  if (f->idmsdata)
    {
      json_builder_set_member_name (b, "idmsdata");
      json_builder_add_string_value (b, f->idmsdata);
    }
  if (f->akdata)
    {
      json_builder_set_member_name (b, "akdata");
      json_builder_add_string_value (b, f->akdata);
    }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return node_to_string (root);
}

static guint
post_step (Fixture    *f,
           const char *data,
           gint64      step)
{
  g_autofree char *body = step_body (f, data, step);
  g_autofree char *path = g_strdup_printf (AUTH "/bridge/step/%" G_GINT64_FORMAT, step);

  return post (f, path, body);
}

/* B0 with a new S0; 200 expected. */
static void
post_step0 (Fixture *f)
{
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *body = NULL;

  g_free (f->s0);
  f->s0 = g_strdup_printf ("%s-%" G_GINT64_FORMAT, uuid, g_get_real_time () / G_USEC_PER_SEC);
  body = g_strdup_printf ("{\"sessionUUID\":\"%s\",\"ptkn\":\"%s\"}", f->s0, f->push.token_hex);
  g_assert_cmpuint (post (f, AUTH "/bridge/step/0", body), ==, 200);
}

/* B0 → P1 (checked); the device code read the way tests read codes. */
static void
start_flow (Fixture    *f,
            const char *apple_id)
{
  g_autoptr(ICloudBridgePush) p1 = NULL;

  post_step0 (f);
  p1 = read_push (f, FALSE, NULL);
  g_assert_nonnull (p1);
  g_assert_cmpstr (p1->next_step, ==, "2");
  g_assert_nonnull (p1->salt);
  g_assert_nonnull (p1->txnid);
  g_assert_nonnull (p1->mid);
  g_assert_cmpstr (p1->rui_url_key, ==, "hsa2TwoFactorAuthApprovalFlowUrl");
  g_free (f->flow_id);
  f->flow_id = g_strdup (icloud_bridge_push_get_id (p1));
  g_free (f->device_code);
  f->device_code = icloud_mock_server_dup_last_code (f->server, apple_id, NULL);
  g_assert_nonnull (f->device_code);
  g_assert_cmpuint (strlen (f->device_code), ==, 6);
  g_object_set_data_full (G_OBJECT (f->server), "salt", g_strdup (p1->salt), g_free);
}

static ICloudBridgeProver *
new_prover (Fixture    *f,
            const char *code)
{
  const char *salt_b64 = g_object_get_data (G_OBJECT (f->server), "salt");
  g_autoptr(GError) error = NULL;
  g_autofree guchar *salt = NULL;
  gsize salt_len;
  ICloudBridgeProver *prover;

  salt = g_base64_decode (salt_b64, &salt_len);
  prover = icloud_bridge_prover_new (code, salt, salt_len, NULL, &error);
  g_assert_no_error (error);
  return prover;
}

/* B2 → P2 → the prover's step 4: its result; @step4_data on OK. */
static ICloudBridgeStep4Result
run_step2 (Fixture             *f,
           ICloudBridgeProver  *prover,
           char               **step4_data)
{
  g_autofree char *data = icloud_bridge_prover_get_step2_data (prover);
  g_autoptr(ICloudBridgePush) p2 = NULL;
  g_autoptr(GError) error = NULL;
  ICloudBridgeStep4Result result;

  g_assert_cmpuint (post_step (f, data, 2), ==, 200);
  p2 = read_push (f, FALSE, NULL);
  g_assert_nonnull (p2);
  g_assert_false (icloud_bridge_push_is_error (p2));
  g_assert_cmpstr (p2->next_step, ==, "4");
  g_assert_cmpstr (icloud_bridge_push_get_id (p2), ==, f->flow_id);
  g_assert_nonnull (p2->data);
  result = icloud_bridge_prover_process_step4 (prover, p2->data, step4_data, &error);
  g_assert_no_error (error);
  return result;
}

/* B4 → P3 → the decrypted code. */
static char *
run_step4 (Fixture            *f,
           ICloudBridgeProver *prover,
           const char         *step4_data,
           const char         *final_step)
{
  g_autoptr(ICloudBridgePush) p3 = NULL;
  g_autoptr(GError) error = NULL;
  char *code;

  g_assert_cmpuint (post_step (f, step4_data, 4), ==, 200);
  p3 = read_push (f, FALSE, NULL);
  g_assert_nonnull (p3);
  g_assert_cmpstr (p3->next_step, ==, final_step);
  g_assert_nonnull (p3->encrypted_code);
  code = icloud_bridge_prover_decrypt_code (prover, p3->encrypted_code, &error);
  g_assert_no_error (error);
  return code;
}

static guint
post_validate (Fixture    *f,
               const char *code)
{
  g_autofree char *body = g_strdup_printf ("{\"sessionUUID\":\"%s\",\"code\":\"%s\"}", f->flow_id, code);

  return post (f, AUTH "/bridge/code/validate", body);
}

static guint
get_trust (Fixture *f)
{
  g_auto(Reply) reply = { 0 };

  return request (f, "GET", AUTH "/2sv/trust", NULL, NULL, &reply);
}

/* bridge-prompt@example.com signed in to the 409, with a push connection. */
static void
open_prompt_session (Fixture *f)
{
  sign_in (f, "bridge-prompt@example.com", "bridge prompt");
  open_push (f);
}

/* The server closed the push connection, and none is left open. */
static void
assert_closed (Fixture *f)
{
  g_assert_true (wait_for_flag (&f->push.closed, WAIT_MS));
  assert_no_push_connections (f);
}

/* Sign-in, push connection, B0 → P1, and a prover with the device code. */
static ICloudBridgeProver *
start_and_prove (Fixture    *f,
                 const char *apple_id,
                 const char *password)
{
  sign_in (f, apple_id, password);
  open_push (f);
  start_flow (f, apple_id);
  return new_prover (f, f->device_code);
}

/* start_and_prove (), then B2 and B4 with the right code: the decrypted
 * code of a final push saying @final_step. */
static char *
run_to_final (Fixture    *f,
              const char *apple_id,
              const char *password,
              const char *final_step)
{
  g_autoptr(ICloudBridgeProver) prover = start_and_prove (f, apple_id, password);
  g_autofree char *step4 = NULL;

  g_assert_cmpint (run_step2 (f, prover, &step4), ==, ICLOUD_BRIDGE_STEP4_OK);
  return run_step4 (f, prover, step4, final_step);
}

/* ------------------------------------------------------------------------ */
/* boot data */

static void
test_boot_data (Fixture *f, gconstpointer data)
{
  g_auto(Reply) html = { 0 };
  g_auto(Reply) json = { 0 };
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) flat = NULL;
  const char *text, *start, *end;
  JsonObject *direct, *two_sv, *initiate, *phone;

  g_assert_cmpuint (srp_signin (f, "bridge-prompt@example.com", "bridge prompt"), ==, 409);
  g_assert_cmpuint (request (f, "GET", AUTH, NULL, "text/html", &html), ==, 200);
  text = g_bytes_get_data (html.body, NULL);
  start = strstr (text, "class=\"boot_args\">");
  g_assert_nonnull (start);
  start += strlen ("class=\"boot_args\">");
  end = strstr (start, "</script>");
  node = parse_json_text (start, end - start);
  direct = json_object_get_object_member (json_node_get_object (node), "direct");
  g_assert_cmpstr (json_object_get_string_member (direct, "authInitialRoute"), ==, "auth/bridge/step");
  g_assert_true (json_object_get_boolean_member (direct, "hasTrustedDevices"));
  two_sv = json_object_get_object_member (direct, "twoSV");
  g_assert_cmpint (json_object_get_int_member (two_sv, "sourceAppId"), ==, 1159);
  initiate = json_object_get_object_member (two_sv, "bridgeInitiateData");
  g_assert_cmpstr (json_object_get_string_member (initiate, "apnsTopic"), ==, TOPIC);
  g_assert_cmpstr (json_object_get_string_member (initiate, "apnsEnvironment"), ==, "prod");
  g_assert_cmpstr (json_object_get_string_member (initiate, "webSocketUrl"), ==, "websocket.push.apple.com");
  phone = json_object_get_object_member (json_object_get_object_member (initiate, "phoneNumberVerification"),
                                         "trustedPhoneNumber");
  g_assert_cmpint (json_object_get_int_member (phone, "id"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (phone, "pushMode"), ==, "sms");
  g_assert_true (json_object_has_member (phone, "nonFTEU"));

  /* the JSON shape: the same at the top level */
  g_assert_cmpuint (request (f, "GET", AUTH, NULL, NULL, &json), ==, 200);
  flat = parse_json_text (g_bytes_get_data (json.body, NULL), g_bytes_get_size (json.body));
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (flat), "authInitialRoute"), ==,
                   "auth/bridge/step");
  initiate = json_object_get_object_member (json_node_get_object (flat), "bridgeInitiateData");
  g_assert_cmpstr (json_object_get_string_member (initiate, "apnsTopic"), ==, TOPIC);
  g_assert_true (json_object_has_member (initiate, "phoneNumberVerification"));
}

static void
test_boot_data_not_offered (Fixture *f, gconstpointer data)
{
  g_auto(Reply) html = { 0 };
  g_auto(Reply) json = { 0 };

  /* an ordinary two-factor account, and the older bridge-shaped one */
  g_assert_cmpuint (srp_signin (f, "bridge@example.com", "bridge shape"), ==, 409);
  g_assert_cmpuint (request (f, "GET", AUTH, NULL, "text/html", &html), ==, 200);
  g_assert_null (strstr (g_bytes_get_data (html.body, NULL), "authInitialRoute"));
  g_assert_null (strstr (g_bytes_get_data (html.body, NULL), "apnsTopic"));
  g_assert_cmpuint (request (f, "GET", AUTH, NULL, NULL, &json), ==, 200);
  g_assert_null (strstr (g_bytes_get_data (json.body, NULL), "authInitialRoute"));
}

/* ------------------------------------------------------------------------ */
/* the push service's handshake */

static void
test_handshake_refused (Fixture *f, gconstpointer data)
{
  static const char *const bad_paths[] = { "/v2/ZZ", "/v2/0A05", "/v2/0a05", "/v2/0a0012ff", "/v2/" };
  g_auto(Push) bad_origin = { 0 };
  g_auto(Push) bad_signature = { 0 };

  sign_in (f, "bridge-prompt@example.com", "bridge prompt");
  g_assert_false (push_open (f, &bad_origin, f->key, now_ms (), "https://evil.example", FALSE));
  g_assert_cmpuint (bad_origin.status, ==, 403);
  g_assert_false (push_open (f, &bad_signature, f->key, now_ms (), ORIGIN, TRUE));
  g_assert_cmpuint (bad_signature.status, ==, 400);
  /* not lower-case hex; a truncated message; trailing garbage */
  for (guint i = 0; i < G_N_ELEMENTS (bad_paths); i++)
    {
      g_auto(Push) bad = { 0 };

      g_assert_false (push_open_path (f, &bad, bad_paths[i], ORIGIN));
      g_assert_cmpuint (bad.status, ==, 400);
    }
  g_assert_cmpuint (icloud_mock_server_get_n_push_connections (f->server), ==, 0);
  /* attempts are logged under /v2, for the account that was offered the bridge */
  g_assert_cmpuint (count (f, NULL, "/v2"), ==, 2 + G_N_ELEMENTS (bad_paths));
  g_assert_cmpuint (count (f, "bridge-prompt@example.com", "/v2"), ==, 2 + G_N_ELEMENTS (bad_paths));
}

static void
test_invalid_nonce (Fixture *f, gconstpointer data)
{
  g_auto(Push) stale = { 0 };
  g_auto(Push) wrong_retry = { 0 };
  guint64 server_time = 0, again = 0;
  guint64 now = now_ms ();

  /* an hour off: INVALID_NONCE with the server's time in seconds */
  g_assert_true (push_open (f, &stale, f->key, now - 3600 * 1000, ORIGIN, FALSE));
  g_assert_false (push_read_token (&stale, &server_time));
  g_assert_cmpuint (server_time * 1000, <=, now_ms ());
  g_assert_cmpuint (server_time * 1000 + 5000, >=, now);
  g_assert_true (wait_for_flag (&stale.closed, WAIT_MS));

  /* the retry must use exactly that time × 1000 */
  g_assert_true (push_open (f, &wrong_retry, f->key, server_time * 1000 + 1, ORIGIN, FALSE));
  g_assert_false (push_read_token (&wrong_retry, &again));
  g_assert_true (push_open (f, &f->push, f->key, again * 1000, ORIGIN, FALSE));
  g_assert_true (push_read_token (&f->push, &server_time));
  g_assert_cmpint (push_stat (f, "invalid_nonces"), ==, 2);
}

static void
test_invalid_nonce_fault (Fixture *f, gconstpointer data)
{
  g_auto(Push) first = { 0 };
  guint64 server_time = 0;

  icloud_mock_server_inject_fault (f->server, "/v2", ICLOUD_MOCK_FAULT_INVALID_NONCE, 1, 0);
  g_assert_true (push_open (f, &first, f->key, now_ms (), ORIGIN, FALSE));
  g_assert_false (push_read_token (&first, &server_time));
  g_assert_true (push_open (f, &f->push, f->key, server_time * 1000, ORIGIN, FALSE));
  g_assert_true (push_read_token (&f->push, &server_time));
}

static void
test_token_and_subscription (Fixture *f, gconstpointer data)
{
  open_push (f);
  g_assert_cmpuint (icloud_mock_server_get_n_push_connections (f->server), ==, 1);
  g_assert_cmpint (push_stat (f, "subscriptions"), ==, 1);
  g_assert_cmpuint (count (f, NULL, "/v2"), ==, 1);

  /* the client closes: nothing left open */
  soup_websocket_connection_close (f->push.ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  assert_closed (f);
}

/* ------------------------------------------------------------------------ */
/* the flow */

static void
test_flow (Fixture *f, gconstpointer data)
{
  g_autofree char *code = run_to_final (f, "bridge-prompt@example.com", "bridge prompt", "6");

  g_assert_cmpuint (icloud_mock_server_count_codes_sent (f->server, "bridge-prompt@example.com", NULL), ==, 1);
  /* flowid (the default), not S0 */
  g_assert_cmpstr (f->flow_id, !=, f->s0);
  /* not yet: 2sv/trust needs bridge/code/validate */
  g_assert_cmpuint (get_trust (f), ==, 403);

  g_clear_pointer (&f->client.session_token, g_free);
  g_assert_cmpuint (post_validate (f, code), ==, 204);
  g_assert_nonnull (f->client.session_token);
  g_assert_cmpuint (get_trust (f), ==, 204);

  g_assert_cmpuint (post_step (f, ICLOUD_BRIDGE_DONE_DATA, 6), ==, 200);
  /* the server closes the socket after a grace period */
  assert_closed (f);
  g_assert_cmpint (push_stat (f, "pushes"), ==, 3);
  g_assert_cmpint (push_stat (f, "missing_acks"), ==, 0);
  g_assert_cmpuint (count (f, "bridge-prompt@example.com", AUTH "/bridge/step/2"), ==, 1);
}

static void
test_flow_wrong_then_right (Fixture *f, gconstpointer data)
{
  g_autoptr(ICloudBridgeProver) wrong = NULL;
  g_autoptr(ICloudBridgeProver) right = NULL;
  g_autofree char *step4 = NULL;
  g_autofree char *code = NULL;
  g_autofree char *typo = NULL;

  open_prompt_session (f);
  start_flow (f, "bridge-prompt@example.com");

  typo = g_strdup (f->device_code);
  typo[0] = typo[0] == '9' ? '0' : typo[0] + 1;
  wrong = new_prover (f, typo);
  g_assert_cmpint (run_step2 (f, wrong, &step4), ==, ICLOUD_BRIDGE_STEP4_WRONG_CODE);
  g_assert_null (step4);

  /* a new share on the same flow, echoing the last push (P2) */
  right = new_prover (f, f->device_code);
  g_assert_cmpint (run_step2 (f, right, &step4), ==, ICLOUD_BRIDGE_STEP4_OK);
  code = run_step4 (f, right, step4, "6");
  g_assert_cmpuint (post_validate (f, code), ==, 204);
  g_assert_cmpuint (get_trust (f), ==, 204);
  /* the same device code all along */
  g_assert_cmpuint (icloud_mock_server_count_codes_sent (f->server, "bridge-prompt@example.com", NULL), ==, 1);
}

static void
test_validate_wrong (Fixture *f, gconstpointer data)
{
  g_autofree char *code = run_to_final (f, "bridge-prompt@example.com", "bridge prompt", "6");

  g_assert_cmpuint (post_validate (f, "not-the-code"), ==, 412);
  g_assert_cmpuint (get_trust (f), ==, 403);
  /* the final step still ends the flow */
  g_assert_cmpuint (post_step (f, ICLOUD_BRIDGE_DONE_DATA, 6), ==, 200);
  assert_closed (f);
}

static void
test_flow_session_uuid (Fixture *f, gconstpointer data)
{
  /* the pre-May-2026 protocol, and a final push saying nextStep 4 */
  g_autofree char *code = run_to_final (f, "bridge-uuid@example.com", "bridge uuid", "4");

  g_assert_cmpstr (f->flow_id, ==, f->s0);
  g_assert_cmpuint (post_validate (f, code), ==, 204);
  g_assert_cmpuint (post_step (f, ICLOUD_BRIDGE_DONE_DATA, 6), ==, 400);
  g_assert_cmpuint (post_step (f, ICLOUD_BRIDGE_DONE_DATA, 4), ==, 200);
  assert_closed (f);
}

static void
test_step_checks (Fixture *f, gconstpointer data)
{
  g_autoptr(ICloudBridgeProver) prover = NULL;
  g_autofree char *share = NULL;
  g_autofree char *body = NULL;
  g_autofree char *idmsdata = NULL;
  g_auto(Reply) no_app_id = { 0 };

  open_prompt_session (f);

  /* step 0: S0 must be uuid4-seconds, ptkn a live connection */
  body = g_strdup_printf ("{\"sessionUUID\":\"nope\",\"ptkn\":\"%s\"}", f->push.token_hex);
  g_assert_cmpuint (post (f, AUTH "/bridge/step/0", body), ==, 400);
  g_clear_pointer (&body, g_free);
  body = g_strdup ("{\"sessionUUID\":\"1c9a6a52-5a0e-4a57-9f52-3b1f0c6f2f10-1767225600\","
                   "\"ptkn\":\"00\"}");
  g_assert_cmpuint (post (f, AUTH "/bridge/step/0", body), ==, 400);

  start_flow (f, "bridge-prompt@example.com");
  prover = new_prover (f, f->device_code);
  share = icloud_bridge_prover_get_step2_data (prover);

  /* no X-Apple-App-Id */
  g_clear_pointer (&body, g_free);
  body = step_body (f, share, 2);
  f->client.app_id = NULL;
  g_assert_cmpuint (request (f, "POST", AUTH "/bridge/step/2", body, NULL, &no_app_id),
                    ==, 400);
  f->client.app_id = APP_ID;
  /* nextStep not the path's */
  g_clear_pointer (&body, g_free);
  body = step_body (f, share, 4);
  g_assert_cmpuint (post (f, AUTH "/bridge/step/2", body), ==, 400);
  /* idmsdata not echoed */
  idmsdata = g_steal_pointer (&f->idmsdata);
  f->idmsdata = g_strdup ("other");
  g_assert_cmpuint (post_step (f, share, 2), ==, 400);
  g_free (f->idmsdata);
  f->idmsdata = g_steal_pointer (&idmsdata);
  /* nextStep as a string */
  g_clear_pointer (&body, g_free);
  body = step_body (f, share, 2);
  {
    char *p = strstr (body, "\"nextStep\":2");
    g_autofree char *quoted = NULL;

    g_assert_nonnull (p);
    *p = '\0';
    quoted = g_strconcat (body, "\"nextStep\":\"2\"", p + strlen ("\"nextStep\":2"), NULL);
    g_assert_cmpuint (post (f, AUTH "/bridge/step/2", quoted), ==, 400);
  }
  /* a share off the curve */
  g_assert_cmpuint (post_step (f, "BAAA", 2), ==, 400);
  /* step 4 before step 2 */
  g_assert_cmpuint (post_step (f, "AAAA", 4), ==, 400);
  /* no session at all */
  g_clear_pointer (&f->client.scnt, g_free);
  g_assert_cmpuint (post_step (f, share, 2), ==, 401);
}

static void
test_step0_before_filter (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) filter = icloud_bridge_encode_web_filter (TOPIC);
  g_autoptr(ICloudBridgeServerMessage) subscribed = NULL;
  g_autoptr(ICloudBridgePush) p1 = NULL;
  guint64 server_time = 0;

  /* the filter frame and bridge/step/0 race: the prompt waits for the
   * subscription */
  sign_in (f, "bridge-prompt@example.com", "bridge prompt");
  g_assert_true (push_open (f, &f->push, f->key, now_ms (), ORIGIN, FALSE));
  g_assert_true (push_read_token (&f->push, &server_time));
  post_step0 (f);
  assert_quiet (f);
  push_send (&f->push, filter);
  subscribed = push_next (&f->push, WAIT_MS);
  g_assert_nonnull (subscribed);
  g_assert_true (subscribed->has_subscription);
  p1 = read_push (f, FALSE, NULL);
  g_assert_nonnull (p1);
  g_assert_cmpstr (p1->next_step, ==, "2");
}

static void
test_new_request_ends_flow (Fixture *f, gconstpointer data)
{
  g_autofree char *old_flow = NULL;
  g_autoptr(ICloudBridgeProver) prover = NULL;
  g_autofree char *share = NULL;
  g_autofree char *step4 = NULL;

  open_prompt_session (f);
  start_flow (f, "bridge-prompt@example.com");
  old_flow = g_strdup (f->flow_id);
  start_flow (f, "bridge-prompt@example.com");
  g_assert_cmpstr (old_flow, !=, f->flow_id);
  g_assert_cmpuint (icloud_mock_server_count_codes_sent (f->server, "bridge-prompt@example.com", NULL), ==, 2);

  prover = new_prover (f, f->device_code);
  share = icloud_bridge_prover_get_step2_data (prover);
  g_free (f->flow_id);
  f->flow_id = g_steal_pointer (&old_flow);
  g_assert_cmpuint (post_step (f, share, 2), ==, 400);
}

static void
test_missing_ack (Fixture *f, gconstpointer data)
{
  g_autoptr(ICloudBridgePush) p1 = NULL;

  open_prompt_session (f);
  post_step0 (f);
  p1 = read_push (f, TRUE, NULL);
  g_assert_nonnull (p1);
  soup_websocket_connection_close (f->push.ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  assert_closed (f);
  g_assert_cmpint (push_stat (f, "missing_acks"), ==, 1);
}

/* ------------------------------------------------------------------------ */
/* the legacy branch and the other routes */

static void
test_legacy_w (Fixture *f, gconstpointer data)
{
  g_autofree char *body = NULL;
  g_autoptr(ICloudBridgePush) p1 = NULL;

  sign_in (f, "bridge-legacy@example.com", "bridge legacy");
  open_push (f);
  post_step0 (f);
  p1 = read_push (f, FALSE, NULL);
  g_assert_true (icloud_bridge_push_is_legacy (p1));
  g_assert_true (g_str_has_suffix (p1->txnid, "_W"));

  g_free (f->device_code);
  f->device_code = icloud_mock_server_dup_last_code (f->server, "bridge-legacy@example.com", NULL);
  body = g_strdup_printf ("{\"securityCode\":{\"code\":\"%s\"}}", f->device_code);
  g_assert_cmpuint (post (f, AUTH "/verify/trusteddevice/securitycode", body), ==, 204);
  g_assert_cmpuint (get_trust (f), ==, 204);
}

static void
test_legacy_s_refuses_device_code (Fixture *f, gconstpointer data)
{
  g_autofree char *body = NULL;
  g_autofree char *pushed = NULL;
  g_auto(Reply) wrong = { 0 };
  g_auto(Reply) push = { 0 };

  open_prompt_session (f);
  start_flow (f, "bridge-prompt@example.com");

  body = g_strdup_printf ("{\"securityCode\":{\"code\":\"%s\"}}", f->device_code);
  g_assert_cmpuint (request (f, "POST", AUTH "/verify/trusteddevice/securitycode", body,
                                  NULL, &wrong), ==, 400);
  g_assert_nonnull (strstr (g_bytes_get_data (wrong.body, NULL), "-21669"));

  /* the older push route still works for a bridge account */
  g_assert_cmpuint (request (f, "GET", AUTH "/verify/trusteddevice", NULL, NULL, &push),
                    ==, 200);
  pushed = icloud_mock_server_dup_last_code (f->server, "bridge-prompt@example.com", NULL);
  g_clear_pointer (&body, g_free);
  body = g_strdup_printf ("{\"securityCode\":{\"code\":\"%s\"}}", pushed);
  g_assert_cmpuint (post (f, AUTH "/verify/trusteddevice/securitycode", body), ==, 204);
}

static void
test_push_service_down (Fixture *f, gconstpointer data)
{
  g_autofree char *code = NULL;
  g_autofree char *body = NULL;
  g_auto(Reply) sms = { 0 };

  sign_in (f, "bridge-down@example.com", "bridge down");
  g_assert_false (push_open (f, &f->push, f->key, now_ms (), ORIGIN, FALSE));
  g_assert_cmpuint (f->push.status, ==, 503);
  g_assert_cmpuint (count (f, "bridge-down@example.com", "/v2"), ==, 1);

  /* SMS, the fallback */
  g_assert_cmpuint (request (f, "PUT", AUTH "/verify/phone",
                                  "{\"phoneNumber\":{\"id\":1},\"mode\":\"sms\"}", NULL, &sms), ==, 200);
  code = icloud_mock_server_dup_last_code (f->server, "bridge-down@example.com", "1");
  body = g_strdup_printf ("{\"phoneNumber\":{\"id\":1},\"securityCode\":{\"code\":\"%s\"},\"mode\":\"sms\"}",
                          code);
  g_assert_cmpuint (post (f, AUTH "/verify/phone/securitycode", body), ==, 204);
}

/* ------------------------------------------------------------------------ */
/* faults */

static void
test_fault_drop (Fixture *f, gconstpointer data)
{
  icloud_mock_server_inject_fault (f->server, "/v2", ICLOUD_MOCK_FAULT_DROP, 1, 0);
  g_assert_false (push_open (f, &f->push, f->key, now_ms (), ORIGIN, FALSE));
  g_assert_cmpuint (f->push.status, ==, 503);
  g_assert_cmpint (push_stat (f, "upgrades"), ==, 0);
}

static void
test_fault_http (Fixture *f, gconstpointer data)
{
  g_autofree char *body = NULL;

  open_prompt_session (f);
  icloud_mock_server_inject_fault (f->server, AUTH "/bridge/step/0", ICLOUD_MOCK_FAULT_500, 1, 0);
  body = g_strdup_printf ("{\"sessionUUID\":\"1c9a6a52-5a0e-4a57-9f52-3b1f0c6f2f10-1767225600\","
                          "\"ptkn\":\"%s\"}", f->push.token_hex);
  g_assert_cmpuint (post (f, AUTH "/bridge/step/0", body), ==, 500);
  assert_quiet (f);
  g_assert_cmpuint (count (f, "bridge-prompt@example.com", AUTH "/bridge/step/0"), ==, 1);
}

static void
test_fault_close_at_token (Fixture *f, gconstpointer data)
{
  icloud_mock_server_inject_fault (f->server, "/v2", ICLOUD_MOCK_FAULT_WS_CLOSE_AT_TOKEN, 1, 0);
  g_assert_true (push_open (f, &f->push, f->key, now_ms (), ORIGIN, FALSE));
  g_assert_null (push_next (&f->push, WAIT_MS));
  g_assert_true (wait_for_flag (&f->push.closed, WAIT_MS));
  g_assert_cmpint (push_stat (f, "tokens"), ==, 0);
  assert_no_push_connections (f);
}

static void
test_fault_close_at_subscribe (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) filter = icloud_bridge_encode_web_filter (TOPIC);
  guint64 server_time = 0;

  icloud_mock_server_inject_fault (f->server, "/v2", ICLOUD_MOCK_FAULT_WS_CLOSE_AT_SUBSCRIBE, 1, 0);
  g_assert_true (push_open (f, &f->push, f->key, now_ms (), ORIGIN, FALSE));
  g_assert_true (push_read_token (&f->push, &server_time));
  push_send (&f->push, filter);
  g_assert_null (push_next (&f->push, WAIT_MS));
  g_assert_true (wait_for_flag (&f->push.closed, WAIT_MS));
  g_assert_cmpint (push_stat (f, "subscriptions"), ==, 0);
  assert_no_push_connections (f);
}

static void
test_fault_close_at_prompt (Fixture *f, gconstpointer data)
{
  g_autoptr(ICloudBridgePush) p1 = NULL;

  sign_in (f, "bridge-prompt@example.com", "bridge prompt");
  icloud_mock_server_inject_fault (f->server, "/v2", ICLOUD_MOCK_FAULT_WS_CLOSE_AT_PROMPT, 1, 0);
  open_push (f);
  post_step0 (f);
  p1 = read_push (f, FALSE, NULL);
  g_assert_nonnull (p1);
  /* closed once P1 was acked */
  assert_closed (f);
  g_assert_cmpint (push_stat (f, "missing_acks"), ==, 0);
}


static void
test_fault_close_at_step4 (Fixture *f, gconstpointer data)
{
  g_autoptr(ICloudBridgeProver) prover = start_and_prove (f, "bridge-prompt@example.com", "bridge prompt");
  g_autofree char *share = icloud_bridge_prover_get_step2_data (prover);

  icloud_mock_server_inject_fault (f->server, "/v2", ICLOUD_MOCK_FAULT_WS_CLOSE_AT_STEP4, 1, 0);
  g_assert_cmpuint (post_step (f, share, 2), ==, 200);
  g_assert_null (push_next (&f->push, WAIT_MS));
  assert_closed (f);
  g_assert_cmpint (push_stat (f, "pushes"), ==, 1);
}

static void
test_fault_close_at_final (Fixture *f, gconstpointer data)
{
  g_autoptr(ICloudBridgeProver) prover = start_and_prove (f, "bridge-prompt@example.com", "bridge prompt");
  g_autofree char *step4 = NULL;

  g_assert_cmpint (run_step2 (f, prover, &step4), ==, ICLOUD_BRIDGE_STEP4_OK);
  icloud_mock_server_inject_fault (f->server, "/v2", ICLOUD_MOCK_FAULT_WS_CLOSE_AT_FINAL, 1, 0);
  g_assert_cmpuint (post_step (f, step4, 4), ==, 200);
  g_assert_null (push_next (&f->push, WAIT_MS));
  assert_closed (f);
  g_assert_cmpint (push_stat (f, "pushes"), ==, 2);
}

static void
test_fault_silent (Fixture *f, gconstpointer data)
{
  open_prompt_session (f);
  icloud_mock_server_inject_fault (f->server, "/v2", ICLOUD_MOCK_FAULT_WS_SILENT, 1, 0);
  post_step0 (f);
  assert_quiet (f);
  g_assert_cmpint (push_stat (f, "pushes"), ==, 0);
  /* the device code was still shown */
  g_assert_cmpuint (icloud_mock_server_count_codes_sent (f->server, "bridge-prompt@example.com", NULL), ==, 1);
}

static void
test_fault_ping (Fixture *f, gconstpointer data)
{
  gint64 end = g_get_monotonic_time () + WAIT_MS * 1000;

  icloud_mock_server_inject_fault (f->server, "/v2", ICLOUD_MOCK_FAULT_WS_PING, 1, 0);
  open_push (f);
  /* libsoup's client answers the pings */
  while (push_stat (f, "pongs") == 0 && g_get_monotonic_time () < end)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (20000);
    }
  g_assert_cmpint (push_stat (f, "pongs"), >, 0);
  g_assert_false (f->push.closed);
}

static void
test_fault_noisy (Fixture *f, gconstpointer data)
{
  g_autoptr(ICloudBridgeServerMessage) m = NULL;
  g_autoptr(ICloudBridgePush) p1 = NULL;
  g_autoptr(GError) error = NULL;
  const guint8 *payload;
  gsize len;

  sign_in (f, "bridge-prompt@example.com", "bridge prompt");
  icloud_mock_server_inject_fault (f->server, "/v2", ICLOUD_MOCK_FAULT_WS_NOISY, 1, 0);
  open_push (f);
  post_step0 (f);
  m = push_next (&f->push, WAIT_MS);
  g_assert_nonnull (m);
  payload = g_bytes_get_data (m->push_payload, &len);
  g_assert_cmpmem (payload, 4, "\x12\xa8\x07\x00", 4);
  g_assert_cmpmem (payload + len - 3, 3, "\x18\x00\x01", 3);
  p1 = icloud_bridge_push_parse (payload, len, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (p1->next_step, ==, "2");
}

static void
test_fault_other_topic (Fixture *f, gconstpointer data)
{
  g_autoptr(ICloudBridgePush) other = NULL;
  g_autoptr(ICloudBridgePush) p1 = NULL;
  g_autoptr(GBytes) topic1 = NULL;
  g_autoptr(GBytes) topic2 = NULL;

  sign_in (f, "bridge-prompt@example.com", "bridge prompt");
  icloud_mock_server_inject_fault (f->server, "/v2", ICLOUD_MOCK_FAULT_WS_OTHER_TOPIC, 1, 0);
  open_push (f);
  post_step0 (f);
  {
    g_autoptr(ICloudBridgeServerMessage) m = push_next (&f->push, WAIT_MS);
    g_autoptr(GBytes) ack = NULL;

    g_assert_nonnull (m);
    g_assert_true (m->has_push);
    topic1 = g_bytes_ref (m->push_topic);
    ack = icloud_bridge_encode_ack (g_bytes_get_data (topic1, NULL), g_bytes_get_size (topic1), m->push_id);
    push_send (&f->push, ack);
  }
  g_assert_false (topic_is (topic1, TOPIC));
  g_assert_true (topic_is (topic1, "com.apple.icloud.other"));
  p1 = read_push (f, FALSE, &topic2);
  g_assert_true (topic_is (topic2, TOPIC));
  g_assert_cmpstr (p1->next_step, ==, "2");
  g_assert_cmpint (push_stat (f, "acks"), ==, 2);
}

static void
test_fault_error_push (Fixture *f, gconstpointer data)
{
  g_autoptr(ICloudBridgeProver) prover = start_and_prove (f, "bridge-prompt@example.com", "bridge prompt");
  g_autofree char *share = icloud_bridge_prover_get_step2_data (prover);
  g_autoptr(ICloudBridgePush) err = NULL;

  icloud_mock_server_inject_fault (f->server, "/v2", ICLOUD_MOCK_FAULT_WS_ERROR_PUSH, 1, 0);
  g_assert_cmpuint (post_step (f, share, 2), ==, 200);
  err = read_push (f, FALSE, NULL);
  g_assert_nonnull (err);
  g_assert_true (icloud_bridge_push_is_error (err));
  g_assert_cmpint (err->ec, ==, 7);
  g_assert_null (err->data);
}

/* ------------------------------------------------------------------------ */
/* routed TLS mode: websocket.push.apple.com by Host and SNI */

static void
test_routed (Fixture *f, gconstpointer data)
{
  g_autofree char *code = run_to_final (f, "bridge-prompt@example.com", "bridge prompt", "6");
  g_auto(Reply) wrong_host = { 0 };

  g_assert_cmpuint (post_validate (f, code), ==, 204);
  g_assert_cmpuint (get_trust (f), ==, 204);

  /* the push host serves /v2 only */
  g_free (f->base);
  f->base = g_strdup ("https://websocket.push.apple.com");
  g_assert_cmpuint (request (f, "GET", AUTH, NULL, NULL, &wrong_host), ==, 404);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func) \
  g_test_add ("/mock-bridge/" name, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("boot-data", test_boot_data);
  ADD ("boot-data/not-offered", test_boot_data_not_offered);
  ADD ("handshake/refused", test_handshake_refused);
  ADD ("handshake/invalid-nonce", test_invalid_nonce);
  ADD ("handshake/invalid-nonce-fault", test_invalid_nonce_fault);
  ADD ("handshake/token-and-subscription", test_token_and_subscription);
  ADD ("flow/right-code", test_flow);
  ADD ("flow/wrong-then-right", test_flow_wrong_then_right);
  ADD ("flow/validate-wrong", test_validate_wrong);
  ADD ("flow/session-uuid-final-4", test_flow_session_uuid);
  ADD ("flow/checks", test_step_checks);
  ADD ("flow/step0-before-filter", test_step0_before_filter);
  ADD ("flow/new-request-ends-flow", test_new_request_ends_flow);
  ADD ("flow/missing-ack", test_missing_ack);
  ADD ("legacy/w-accepts-device-code", test_legacy_w);
  ADD ("legacy/s-refuses-device-code", test_legacy_s_refuses_device_code);
  ADD ("push-service-down", test_push_service_down);
  ADD ("fault/drop", test_fault_drop);
  ADD ("fault/http-500", test_fault_http);
  ADD ("fault/ws-close-at-token", test_fault_close_at_token);
  ADD ("fault/ws-close-at-subscribe", test_fault_close_at_subscribe);
  ADD ("fault/ws-close-at-prompt", test_fault_close_at_prompt);
  ADD ("fault/ws-close-at-step4", test_fault_close_at_step4);
  ADD ("fault/ws-close-at-final", test_fault_close_at_final);
  ADD ("fault/ws-silent", test_fault_silent);
  ADD ("fault/ws-ping", test_fault_ping);
  ADD ("fault/ws-noisy", test_fault_noisy);
  ADD ("fault/ws-other-topic", test_fault_other_topic);
  ADD ("fault/ws-error-push", test_fault_error_push);
  g_test_add ("/mock-bridge/routed", Fixture, "routed", fixture_setup, test_routed, fixture_teardown);

  return g_test_run ();
}
