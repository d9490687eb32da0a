/* icloud-mock-bridge.c: the fake server's side of the HSA2 trusted-device
 * bridge (protocol/hsa2-bridge.md §g): the boot data that offers it, the
 * web push service's WebSocket (`/v2/<hex>`: connection message check,
 * INVALID_NONCE, push token, subscription, pushes and their acks) and the
 * IDMSA endpoints `bridge/step/N` and `bridge/code/validate`, where the
 * fake server plays the trusted device: the SPAKE2+ verifier, with the
 * device code shown as a pushed trusted-device code (`/_mock/code`).
 *
 * The maths and the wire formats are the hsa2 plugin's static library
 * (plugins/hsa2/bridge, docs/bridge-crypto.md); nothing is re-implemented
 * here.
 *
 * Threads and locks: everything runs in the server thread. HTTP handlers
 * are called with the server lock held; the WebSocket signal handlers take
 * it. A WebSocket is never closed with the lock held (closing may emit
 * "closed" at once): closes go through a timeout source.
 *
 * Nothing here logs a code, key, token or share.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "icloud-mock-private.h"
#include "icloud-crypto-private.h"
#include "icloud-bridge-crypto-private.h"
#include "icloud-bridge-wire-private.h"

#define PUSH_ORIGIN            "https://idmsa.apple.com"
#define BRIDGE_ROUTE           "auth/bridge/step"
/* |nonce time − now| allowed before INVALID_NONCE (§g.3 item 2) */
#define NONCE_WINDOW_MS        (300 * G_GUINT64_CONSTANT (1000))
/* how long a retry must use the server time of an INVALID_NONCE */
#define NONCE_RETRY_WINDOW_US  (60 * G_USEC_PER_SEC)
#define PUSH_TOKEN_LEN         32
#define BRIDGE_SALT_LEN        16
#define MAX_CONNECTION_MESSAGE 2048
/* the socket stays open this long after the final step or a fault */
#define CLOSE_GRACE_MS         100
#define OTHER_TOPIC            "com.apple.icloud.other"
#define CHANNEL_ID             "channel-id"
#define ERROR_PUSH_EC          7
#define JSON_TYPE              "application/json;charset=UTF-8"

typedef enum {
  FLOW_AWAIT_STEP2,   /* P1 pushed */
  FLOW_AWAIT_STEP4,   /* P2 pushed */
  FLOW_AWAIT_FINAL,   /* P3 pushed: bridge/code/validate, then the final step */
  FLOW_DONE,          /* the final step came */
} MockFlowState;

typedef struct {
  ICloudMockServer        *self;
  SoupWebsocketConnection *ws;
  char                    *account_key;  /* attributed at the upgrade, bound by step 0 */
  char                    *token_hex;    /* NULL until the token was sent */
  char                    *topic;        /* the topic filter, NULL before */
  GArray                  *unacked;      /* guint64 message ids */
  GQueue                   pending;      /* GBytes: pushes made before the topic filter came */
  guint64                  close_after_ack;  /* ws-close-at-prompt: P1's id */
  gboolean                 noisy;
  gboolean                 other_topic;
} MockPushConnection;

typedef struct {
  char          *account_key;
  gboolean       session_uuid;   /* the pre-May-2026 protocol: sessionUUID = S0 */
  char          *flow_id;        /* what the pushes carry and the POSTs echo */
  char          *token_hex;      /* the push connection of the flow */
  guint8         salt[BRIDGE_SALT_LEN];
  char          *device_code;    /* the PAKE password, shown on the "device" */
  char          *txnid;
  char          *mid;
  char          *idmsdata;       /* of the last push */
  char          *akdata;         /* of the last push, compact JSON text */
  MockFlowState  state;
  guint          final_step;     /* 6 or 4 */
  gboolean       legacy;         /* txnid ends with _W */
  guint8         confirm_p[ICLOUD_SPAKE2P_KEY_LEN];   /* expected in step 4 */
  guint8         verifier_key[32];
  char          *validation_code;                     /* the GCM plaintext */
  gboolean       validated;
  guint          pushes;         /* of this flow, for fresh idmsdata/akdata */
} MockBridgeFlow;

struct _MockBridge {
  GPtrArray  *connections;   /* MockPushConnection, open */
  GPtrArray  *closed;        /* MockPushConnection, closed, freed from an idle */
  GHashTable *flows;         /* account key → MockBridgeFlow */
  char       *offer;         /* account key of the last boot data offering the bridge */
  guint64     retry_ms;      /* after INVALID_NONCE: the retry's timestamp */
  gint64      retry_until;   /* monotonic time until which it is enforced */
  guint64     message_id;
  /* GET /_mock/push */
  guint       upgrades;
  guint       invalid_nonces;
  guint       tokens;
  guint       subscriptions;
  guint       pushes;
  guint       acks;
  guint       missing_acks;
  guint       pongs;
  guint       server_closes;
};

/* ------------------------------------------------------------------------ */
/* objects */

static void
push_connection_free (MockPushConnection *conn)
{
  g_signal_handlers_disconnect_by_data (conn->ws, conn);
  g_object_unref (conn->ws);
  g_free (conn->account_key);
  icloud_crypto_free_secret (conn->token_hex);
  g_free (conn->topic);
  g_array_unref (conn->unacked);
  g_queue_clear_full (&conn->pending, (GDestroyNotify) g_bytes_unref);
  g_free (conn);
}

static void
bridge_flow_free (MockBridgeFlow *flow)
{
  g_free (flow->account_key);
  g_free (flow->flow_id);
  icloud_crypto_free_secret (flow->token_hex);
  icloud_crypto_free_secret (flow->device_code);
  g_free (flow->txnid);
  g_free (flow->mid);
  g_free (flow->idmsdata);
  g_free (flow->akdata);
  icloud_crypto_free_secret (flow->validation_code);
  explicit_bzero (flow->salt, sizeof flow->salt);
  explicit_bzero (flow->confirm_p, sizeof flow->confirm_p);
  explicit_bzero (flow->verifier_key, sizeof flow->verifier_key);
  g_free (flow);
}

MockBridge *
mock_bridge_new (void)
{
  MockBridge *bridge = g_new0 (MockBridge, 1);

  bridge->connections = g_ptr_array_new_with_free_func ((GDestroyNotify) push_connection_free);
  bridge->closed = g_ptr_array_new_with_free_func ((GDestroyNotify) push_connection_free);
  bridge->flows = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify) bridge_flow_free);
  return bridge;
}

void
mock_bridge_free (MockBridge *bridge)
{
  if (bridge == NULL)
    return;
  g_ptr_array_unref (bridge->connections);
  g_ptr_array_unref (bridge->closed);
  g_hash_table_unref (bridge->flows);
  g_free (bridge->offer);
  g_free (bridge);
}

guint
mock_bridge_count_open (ICloudMockServer *self)
{
  return self->bridge->connections->len;
}

JsonNode *
mock_bridge_stats_to_json (ICloudMockServer *self)
{
  MockBridge *bridge = self->bridge;
  JsonObject *obj = json_object_new ();

  json_object_set_int_member (obj, "open", bridge->connections->len);
  json_object_set_int_member (obj, "upgrades", bridge->upgrades);
  json_object_set_int_member (obj, "invalid_nonces", bridge->invalid_nonces);
  json_object_set_int_member (obj, "tokens", bridge->tokens);
  json_object_set_int_member (obj, "subscriptions", bridge->subscriptions);
  json_object_set_int_member (obj, "pushes", bridge->pushes);
  json_object_set_int_member (obj, "acks", bridge->acks);
  json_object_set_int_member (obj, "missing_acks", bridge->missing_acks);
  json_object_set_int_member (obj, "pongs", bridge->pongs);
  json_object_set_int_member (obj, "server_closes", bridge->server_closes);
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  json_node_take_object (node, obj);
  return node;
}

static MockPushConnection *
find_connection (ICloudMockServer *self,
                 const char       *token_hex)
{
  GPtrArray *connections = self->bridge->connections;

  if (token_hex == NULL)
    return NULL;
  for (guint i = 0; i < connections->len; i++)
    {
      MockPushConnection *conn = g_ptr_array_index (connections, i);
      if (conn->token_hex != NULL && icloud_crypto_str_equal (conn->token_hex, token_hex))
        return conn;
    }
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* the WebSocket */

static gboolean
close_websocket (gpointer data)
{
  SoupWebsocketConnection *ws = data;

  if (soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  return G_SOURCE_REMOVE;
}

/* Runs @func (@data) from the server's main loop after @delay_ms. */
static void
run_later (ICloudMockServer *self,
           guint             delay_ms,
           GSourceFunc       func,
           gpointer          data,
           GDestroyNotify    destroy,
           const char       *name)
{
  GSource *source = g_timeout_source_new (delay_ms);

  g_source_set_callback (source, func, data, destroy);
  g_source_set_name (source, name);
  g_source_attach (source, self->context);
  g_source_unref (source);
}

/* Lock held: closes @conn from the main loop, after @delay_ms. */
static void
schedule_close (MockPushConnection *conn,
                guint               delay_ms)
{
  conn->self->bridge->server_closes++;
  run_later (conn->self, delay_ms, close_websocket, g_object_ref (conn->ws), g_object_unref,
             "[icloud-mock] close push connection");
}

static void
send_bytes (MockPushConnection *conn,
            GBytes             *bytes)
{
  if (soup_websocket_connection_get_state (conn->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  soup_websocket_connection_send_message (conn->ws, SOUP_WEBSOCKET_DATA_BINARY, bytes);
}

/* Lock held: pushes @json on @topic; returns the message id. */
static guint64
send_push (MockPushConnection *conn,
           const char         *topic,
           const char         *json)
{
  MockBridge *bridge = conn->self->bridge;
  guint8 hash[ICLOUD_BRIDGE_TOPIC_HASH_LEN];
  g_autoptr(GByteArray) payload = g_byte_array_new ();
  g_autoptr(GBytes) message = NULL;
  guint64 id = ++bridge->message_id;

  /* §c.5: the binary wrapping the client must see through */
  if (conn->noisy)
    g_byte_array_append (payload, (const guint8 *) "\x12\xa8\x07\x00", 4);
  g_byte_array_append (payload, (const guint8 *) json, strlen (json));
  if (conn->noisy)
    g_byte_array_append (payload, (const guint8 *) "\x18\x00\x01", 3);

  icloud_bridge_topic_hash (topic, hash);
  message = icloud_bridge_encode_push (hash, sizeof hash, id, payload->data, payload->len);
  /* The filter and bridge/step/0 race (a frame and another connection):
   * pushes wait for the subscription, as a subscriber's would. */
  if (conn->topic == NULL)
    g_queue_push_tail (&conn->pending, g_steal_pointer (&message));
  else
    send_bytes (conn, message);
  g_array_append_val (conn->unacked, id);
  bridge->pushes++;
  return id;
}

static gboolean
free_closed (gpointer data)
{
  ICloudMockServer *self = data;

  g_mutex_lock (&self->lock);
  g_ptr_array_set_size (self->bridge->closed, 0);
  g_mutex_unlock (&self->lock);
  return G_SOURCE_REMOVE;
}

static void
on_closed (SoupWebsocketConnection *ws,
           gpointer                 user_data)
{
  MockPushConnection *conn = user_data;
  ICloudMockServer *self = conn->self;
  guint i;

  g_signal_handlers_disconnect_by_data (ws, conn);
  g_mutex_lock (&self->lock);
  self->bridge->missing_acks += conn->unacked->len;
  if (g_ptr_array_find (self->bridge->connections, conn, &i))
    g_ptr_array_add (self->bridge->closed, g_ptr_array_steal_index (self->bridge->connections, i));
  g_mutex_unlock (&self->lock);

  /* not while libsoup is still emitting; what is left when the server
   * stops goes with it */
  run_later (self, 0, free_closed, self, NULL, "[icloud-mock] free push connections");
}

static void
on_pong (SoupWebsocketConnection *ws,
         GBytes                  *message,
         gpointer                 user_data)
{
  MockPushConnection *conn = user_data;

  g_mutex_lock (&conn->self->lock);
  conn->self->bridge->pongs++;
  g_mutex_unlock (&conn->self->lock);
}

/* { 3: { 1: topic } }: the topic filter. */
static void
handle_filter (MockPushConnection *conn,
               const guint8       *data,
               gsize               len)
{
  ICloudMockServer *self = conn->self;
  ICloudPbReader reader;
  ICloudPbField field;
  g_autofree char *topic = NULL;
  g_autoptr(GBytes) reply = NULL;

  icloud_pb_reader_init (&reader, data, len);
  while (icloud_pb_reader_next (&reader, &field, NULL))
    if (field.number == 1 && field.wire_type == ICLOUD_PB_WIRE_LEN && topic == NULL &&
        g_utf8_validate ((const char *) field.bytes, field.len, NULL))
      topic = g_strndup ((const char *) field.bytes, field.len);

  if (topic == NULL || conn->token_hex == NULL || conn->topic != NULL)
    return;
  conn->topic = g_steal_pointer (&topic);

  if (mock_take_push_fault (self, MOCK_FAULT_WS_CLOSE_AT_SUBSCRIBE))
    {
      schedule_close (conn, 0);
      return;
    }
  self->bridge->subscriptions++;
  reply = icloud_bridge_encode_subscription_response (conn->topic, CHANNEL_ID,
                                                      ++self->bridge->message_id, 0);
  send_bytes (conn, reply);
  while (!g_queue_is_empty (&conn->pending))
    {
      g_autoptr(GBytes) push = g_queue_pop_head (&conn->pending);
      send_bytes (conn, push);
    }
}

/* { 2: { 1: topic, 2: id } }: a push acknowledgement. */
static void
handle_ack (MockPushConnection *conn,
            const guint8       *data,
            gsize               len)
{
  ICloudPbReader reader;
  ICloudPbField field;
  gboolean has_id = FALSE;
  guint64 id = 0;

  icloud_pb_reader_init (&reader, data, len);
  while (icloud_pb_reader_next (&reader, &field, NULL))
    if (field.number == 2 && field.wire_type == ICLOUD_PB_WIRE_VARINT)
      {
        id = field.varint;
        has_id = TRUE;
      }
  if (!has_id)
    return;

  for (guint i = 0; i < conn->unacked->len; i++)
    if (g_array_index (conn->unacked, guint64, i) == id)
      {
        g_array_remove_index (conn->unacked, i);
        conn->self->bridge->acks++;
        break;
      }
  if (conn->close_after_ack != 0 && conn->close_after_ack == id)
    {
      conn->close_after_ack = 0;
      schedule_close (conn, 0);
    }
}

static void
on_message (SoupWebsocketConnection *ws,
            gint                     type,
            GBytes                  *message,
            gpointer                 user_data)
{
  MockPushConnection *conn = user_data;
  ICloudPbReader reader;
  ICloudPbField field;
  gsize len;
  const guint8 *data = g_bytes_get_data (message, &len);

  g_mutex_lock (&conn->self->lock);
  icloud_pb_reader_init (&reader, data, len);
  while (icloud_pb_reader_next (&reader, &field, NULL))
    {
      if (field.wire_type != ICLOUD_PB_WIRE_LEN)
        continue;
      if (field.number == 3)
        handle_filter (conn, field.bytes, field.len);
      else if (field.number == 2)
        handle_ack (conn, field.bytes, field.len);
    }
  g_mutex_unlock (&conn->self->lock);
}

typedef struct {
  char     *account_key;
  gboolean  invalid_nonce;
  guint64   server_time;
} MockPushUpgrade;

static void
push_upgrade_free (MockPushUpgrade *up)
{
  g_free (up->account_key);
  g_free (up);
}

#define UPGRADE_KEY "icloud-mock-push-upgrade"

static void
websocket_callback (SoupServer              *server,
                    SoupServerMessage       *msg,
                    const char              *path,
                    SoupWebsocketConnection *ws,
                    gpointer                 user_data)
{
  ICloudMockServer *self = user_data;
  MockPushUpgrade *up = g_object_get_data (G_OBJECT (msg), UPGRADE_KEY);
  MockBridge *bridge = self->bridge;
  MockPushConnection *conn;
  g_autoptr(GBytes) reply = NULL;
  guint8 token[PUSH_TOKEN_LEN];
  g_autofree char *token_b64 = NULL;

  g_mutex_lock (&self->lock);
  conn = g_new0 (MockPushConnection, 1);
  conn->self = self;
  conn->ws = g_object_ref (ws);
  conn->account_key = up ? g_strdup (up->account_key) : NULL;
  conn->unacked = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_ptr_array_add (bridge->connections, conn);
  bridge->upgrades++;
  g_signal_connect (ws, "message", G_CALLBACK (on_message), conn);
  g_signal_connect (ws, "closed", G_CALLBACK (on_closed), conn);
  g_signal_connect (ws, "pong", G_CALLBACK (on_pong), conn);

  if (up == NULL || up->invalid_nonce)
    {
      /* { 1: { 2: 2, 3: now } }, then the client opens a new connection */
      bridge->invalid_nonces++;
      reply = icloud_bridge_encode_connection_response (NULL, 2, TRUE, up ? up->server_time : 0);
      send_bytes (conn, reply);
      schedule_close (conn, CLOSE_GRACE_MS);
      goto out;
    }

  if (mock_take_push_fault (self, MOCK_FAULT_WS_CLOSE_AT_TOKEN))
    {
      schedule_close (conn, 0);
      goto out;
    }

  icloud_crypto_random (token, sizeof token);
  token_b64 = g_base64_encode (token, sizeof token);
  conn->token_hex = icloud_bridge_push_token_to_hex (token_b64, NULL);
  explicit_bzero (token, sizeof token);
  reply = icloud_bridge_encode_connection_response (token_b64, 0, FALSE, 0);
  explicit_bzero (token_b64, strlen (token_b64));
  send_bytes (conn, reply);
  bridge->tokens++;

  conn->noisy = mock_take_push_fault (self, MOCK_FAULT_WS_NOISY);
  conn->other_topic = mock_take_push_fault (self, MOCK_FAULT_WS_OTHER_TOPIC);
  if (mock_take_push_fault (self, MOCK_FAULT_WS_PING))
    soup_websocket_connection_set_keepalive_interval (ws, 1);

out:
  g_mutex_unlock (&self->lock);
}

void
mock_bridge_add_handlers (ICloudMockServer *self,
                          SoupServer       *server)
{
  soup_server_add_websocket_handler (server, MOCK_PUSH_PATH, PUSH_ORIGIN, NULL,
                                     websocket_callback, self, NULL);
}

void
mock_bridge_shutdown (ICloudMockServer *self)
{
  g_autoptr(GPtrArray) open = g_ptr_array_new_with_free_func (g_object_unref);

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->bridge->connections->len; i++)
    {
      MockPushConnection *conn = g_ptr_array_index (self->bridge->connections, i);
      g_ptr_array_add (open, g_object_ref (conn->ws));
    }
  g_mutex_unlock (&self->lock);

  for (guint i = 0; i < open->len; i++)
    close_websocket (g_ptr_array_index (open, i));
}

/* ------------------------------------------------------------------------ */
/* the upgrade: GET /v2/<hex> (lock held) */

void
mock_bridge_identify (MockRequest *r)
{
  if (r->apple_id == NULL && r->self->bridge->offer != NULL)
    r->apple_id = g_strdup (r->self->bridge->offer);
}

static void
refuse_upgrade (MockRequest *r,
                guint        status,
                const char  *why)
{
  g_autofree char *body = g_strdup_printf ("{\"success\":false,\"error\":\"%s\"}", why);

  mock_reply_text (r, status, JSON_TYPE, body);
}

/* { 1: { 1: key, 2: nonce, 3: 01 03 DER, 5: { 1: 86400 } } }: checks it all
 * and returns the nonce's timestamp in ms; FALSE if anything is wrong. */
static gboolean
check_connection_message (GBytes  *message,
                          guint64 *timestamp_ms)
{
  ICloudPbReader reader;
  ICloudPbField field;
  const guint8 *connect = NULL;
  gsize connect_len = 0;
  const guint8 *key = NULL, *nonce = NULL, *sig = NULL;
  gsize sig_len = 0;
  gboolean expiry = FALSE;
  g_autoptr(GError) outer_error = NULL;
  g_autoptr(GError) inner_error = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (message, &len);

  icloud_pb_reader_init (&reader, data, len);
  while (icloud_pb_reader_next (&reader, &field, &outer_error))
    if (field.number == 1 && field.wire_type == ICLOUD_PB_WIRE_LEN)
      {
        connect = field.bytes;
        connect_len = field.len;
      }
  if (connect == NULL || outer_error != NULL)
    return FALSE;

  icloud_pb_reader_init (&reader, connect, connect_len);
  while (icloud_pb_reader_next (&reader, &field, &inner_error))
    {
      if (field.wire_type != ICLOUD_PB_WIRE_LEN)
        continue;
      if (field.number == 1 && field.len == ICLOUD_P256_POINT_LEN)
        key = field.bytes;
      else if (field.number == 2 && field.len == ICLOUD_BRIDGE_NONCE_LEN && field.bytes[0] == 0)
        nonce = field.bytes;
      else if (field.number == 3 && field.len > 2 &&
               field.bytes[0] == 0x01 && field.bytes[1] == 0x03)
        {
          sig = field.bytes + 2;
          sig_len = field.len - 2;
        }
      else if (field.number == 5)
        {
          ICloudPbReader inner;
          ICloudPbField f;

          icloud_pb_reader_init (&inner, field.bytes, field.len);
          while (icloud_pb_reader_next (&inner, &f, NULL))
            if (f.number == 1 && f.wire_type == ICLOUD_PB_WIRE_VARINT &&
                f.varint == ICLOUD_BRIDGE_CONNECTION_EXPIRATION_SECONDS)
              expiry = TRUE;
        }
    }
  if (inner_error != NULL || key == NULL || nonce == NULL || sig == NULL || !expiry)
    return FALSE;
  /* the point is checked by the signature's verification */
  if (!icloud_bridge_verify_signature (key, nonce, ICLOUD_BRIDGE_NONCE_LEN, sig, sig_len))
    return FALSE;

  *timestamp_ms = 0;
  for (guint i = 1; i <= 8; i++)
    *timestamp_ms = (*timestamp_ms << 8) | nonce[i];
  return TRUE;
}

static GBytes *
decode_hex (const char *hex)
{
  gsize len = strlen (hex);
  guint8 *out;

  if (len == 0 || len % 2 != 0 || len > 2 * MAX_CONNECTION_MESSAGE)
    return NULL;
  out = g_malloc (len / 2);
  for (gsize i = 0; i < len; i += 2)
    {
      int hi = g_ascii_xdigit_value (hex[i]);
      int lo = g_ascii_xdigit_value (hex[i + 1]);

      /* lower-case only, as the client writes it */
      if (hi < 0 || lo < 0 || g_ascii_isupper (hex[i]) || g_ascii_isupper (hex[i + 1]))
        {
          g_free (out);
          return NULL;
        }
      out[i / 2] = (guint8) (hi << 4 | lo);
    }
  return g_bytes_new_take (out, len / 2);
}

void
mock_bridge_handle_upgrade (MockRequest *r)
{
  ICloudMockServer *self = r->self;
  MockBridge *bridge = self->bridge;
  MockAccount *account = r->apple_id ? mock_lookup_account (self, r->apple_id) : NULL;
  const char *origin = mock_request_header (r, "Origin");
  g_autoptr(GBytes) message = NULL;
  MockPushUpgrade *up;
  guint64 timestamp_ms = 0;
  guint64 now_ms = (guint64) (g_get_real_time () / 1000);
  gboolean retry_due = bridge->retry_ms != 0 && g_get_monotonic_time () < bridge->retry_until;

  if (!g_str_equal (r->method, "GET") || !g_str_has_prefix (r->path, MOCK_PUSH_PATH "/"))
    {
      refuse_upgrade (r, SOUP_STATUS_NOT_FOUND, "Not Found");
      return;
    }
  if (origin == NULL || g_ascii_strcasecmp (origin, PUSH_ORIGIN) != 0)
    {
      refuse_upgrade (r, SOUP_STATUS_FORBIDDEN, "Forbidden origin");
      return;
    }
  /* "bridge_push_service": "down": the bridge cannot start */
  if (account != NULL && account->bridge_push_down)
    {
      refuse_upgrade (r, SOUP_STATUS_SERVICE_UNAVAILABLE, "Service Unavailable");
      return;
    }
  message = decode_hex (r->path + strlen (MOCK_PUSH_PATH "/"));
  if (message == NULL || !check_connection_message (message, &timestamp_ms))
    {
      refuse_upgrade (r, SOUP_STATUS_BAD_REQUEST, "Bad connection message");
      return;
    }

  up = g_new0 (MockPushUpgrade, 1);
  up->account_key = g_strdup (account ? account->key : NULL);
  if (mock_take_push_fault (self, MOCK_FAULT_WS_INVALID_NONCE) ||
      (retry_due && timestamp_ms != bridge->retry_ms) ||
      (!retry_due && (timestamp_ms > now_ms + NONCE_WINDOW_MS ||
                      timestamp_ms + NONCE_WINDOW_MS < now_ms)))
    {
      up->invalid_nonce = TRUE;
      up->server_time = now_ms / 1000;
      /* §c.4 and §h item 4: seconds; the retry uses exactly that × 1000 */
      bridge->retry_ms = up->server_time * 1000;
      bridge->retry_until = g_get_monotonic_time () + NONCE_RETRY_WINDOW_US;
    }
  else
    bridge->retry_ms = 0;
  g_object_set_data_full (G_OBJECT (r->msg), UPGRADE_KEY, up, (GDestroyNotify) push_upgrade_free);
  /* status left at 0: libsoup checks the handshake and upgrades */
}

/* ------------------------------------------------------------------------ */
/* boot data (lock held) */

static JsonObject *
ensure_object_member (JsonObject *obj,
                      const char *name)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      json_object_set_object_member (obj, name, json_object_new ());
      node = json_object_get_member (obj, name);
    }
  return json_node_get_object (node);
}

static JsonArray *
auth_factors (void)
{
  JsonArray *factors = json_array_new ();

  json_array_add_string_element (factors, "web_piggybacking");
  json_array_add_string_element (factors, "robocall");
  json_array_add_string_element (factors, "sms");
  json_array_add_string_element (factors, "generatedcode");
  return factors;
}

static void
fill_initiate_data (JsonObject  *initiate,
                    MockAccount *account,
                    JsonObject  *phone_verification)
{
  json_object_set_string_member (initiate, "apnsTopic", account->apns_topic);
  json_object_set_string_member (initiate, "apnsEnvironment", "prod");
  json_object_set_string_member (initiate, "webSocketUrl", account->ws_host);
  if (!json_object_has_member (initiate, "phoneNumberVerification") && phone_verification != NULL)
    json_object_set_object_member (initiate, "phoneNumberVerification",
                                   json_object_ref (phone_verification));
}

void
mock_bridge_add_boot_data (MockRequest *r,
                           MockAccount *account,
                           JsonObject  *direct,
                           JsonObject  *two_sv,
                           JsonObject  *flat)
{
  MockBridge *bridge = r->self->bridge;

  if (!account->bridge || account->factor != MOCK_FACTOR_HSA2)
    return;

  /* the next push connection attempt is taken to be this account's */
  g_free (bridge->offer);
  bridge->offer = g_strdup (account->key);

  if (direct != NULL && two_sv != NULL)
    {
      json_object_set_string_member (direct, "authInitialRoute", BRIDGE_ROUTE);
      json_object_set_boolean_member (direct, "hasTrustedDevices", TRUE);
      json_object_set_int_member (two_sv, "sourceAppId", account->source_app_id);
      json_object_set_array_member (two_sv, "authFactors", auth_factors ());
      fill_initiate_data (ensure_object_member (two_sv, "bridgeInitiateData"), account, NULL);
    }
  if (flat != NULL)
    {
      JsonNode *pv = json_object_get_member (flat, "phoneNumberVerification");

      json_object_set_string_member (flat, "authInitialRoute", BRIDGE_ROUTE);
      json_object_set_boolean_member (flat, "hasTrustedDevices", TRUE);
      json_object_set_int_member (flat, "sourceAppId", account->source_app_id);
      json_object_set_array_member (flat, "authFactors", auth_factors ());
      fill_initiate_data (ensure_object_member (flat, "bridgeInitiateData"), account,
                          pv && JSON_NODE_HOLDS_OBJECT (pv) ? json_node_get_object (pv) : NULL);
    }
}

/* ------------------------------------------------------------------------ */
/* the flow's pushes (lock held) */

/* Fresh idmsdata and akdata for each push, so that echoing is tested. */
static void
renew_echo_data (MockBridgeFlow *flow)
{
  flow->pushes++;
  g_free (flow->idmsdata);
  flow->idmsdata = icloud_crypto_random_token (24);
  g_free (flow->akdata);
  /* a float on purpose: hsa2-bridge.md §h item 8 */
  flow->akdata = g_strdup_printf ("{\"lat\":49.52,\"push\":%u}", flow->pushes);
}

/* The JSON of a push of @flow: the common members, then @extra (members
 * written as JSON text, starting with ',', or ""). Every value written here
 * is base64, hex, digits or the checked S0: nothing needs escaping. */
static char *
flow_push_json (MockBridgeFlow *flow,
                const char     *next_step,
                const char     *extra)
{
  renew_echo_data (flow);
  return g_strdup_printf ("{\"aps\":{\"alert\":\"\"},\"%s\":\"%s\",\"nextStep\":\"%s\","
                          "\"txnid\":\"%s\",\"idmsdata\":\"%s\",\"akdata\":%s%s}",
                          flow->session_uuid ? "sessionUUID" : "flowid", flow->flow_id,
                          next_step, flow->txnid, flow->idmsdata, flow->akdata, extra);
}

static MockPushConnection *
flow_connection (ICloudMockServer *self,
                 MockBridgeFlow   *flow)
{
  return find_connection (self, flow->token_hex);
}

/* ------------------------------------------------------------------------ */
/* the IDMSA endpoints (lock held) */

static void
bridge_error (MockRequest *r,
              guint        status,
              const char  *why)
{
  g_autofree char *body =
    g_strdup_printf ("{\"service_errors\":[{\"code\":\"-22406\",\"title\":\"Bridge Error\","
                     "\"message\":\"%s\",\"suppressDismissal\":false}],\"hasError\":true}", why);

  mock_reply_text (r, status, JSON_TYPE, body);
}

static const char *
body_text (MockRequest *r,
           const char  *name)
{
  JsonNode *node = r->body_obj ? json_object_get_member (r->body_obj, name) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* uuid4 (lower-case) "-" digits, as the client makes S0 */
static gboolean
is_session_uuid (const char *s0)
{
  gsize len = s0 ? strlen (s0) : 0;
  g_autofree char *uuid = NULL;

  if (len < 38 || s0[36] != '-')
    return FALSE;
  for (gsize i = 37; i < len; i++)
    if (!g_ascii_isdigit (s0[i]))
      return FALSE;
  for (gsize i = 0; i < 36; i++)
    if (g_ascii_isupper (s0[i]))
      return FALSE;
  uuid = g_strndup (s0, 36);
  return g_uuid_string_is_valid (uuid) && uuid[14] == '4';
}

/* The checks every bridge POST shares; NULL after answering. */
static MockAuthSession *
bridge_request_session (MockRequest  *r,
                        MockAccount **account_out)
{
  MockAuthSession *session = mock_require_idmsa_session (r);
  MockAccount *account;
  const char *app_id = mock_request_header (r, "X-Apple-App-Id");
  const char *content_type = mock_request_header (r, "Content-Type");
  g_autofree char *want_app_id = NULL;

  if (session == NULL)
    return NULL;
  account = g_hash_table_lookup (r->self->accounts, session->account_key);
  mock_add_session_headers (r, session);
  if (account == NULL || !account->bridge || account->factor != MOCK_FACTOR_HSA2)
    {
      bridge_error (r, SOUP_STATUS_BAD_REQUEST, "The bridge was not offered");
      return NULL;
    }
  want_app_id = g_strdup_printf ("%" G_GINT64_FORMAT, account->source_app_id);
  if (app_id == NULL || !g_str_equal (app_id, want_app_id))
    {
      bridge_error (r, SOUP_STATUS_BAD_REQUEST, "Missing or wrong X-Apple-App-Id");
      return NULL;
    }
  if (content_type == NULL || !g_str_has_prefix (content_type, "application/json") ||
      r->body_obj == NULL)
    {
      bridge_error (r, SOUP_STATUS_BAD_REQUEST, "A JSON object is required");
      return NULL;
    }
  *account_out = account;
  return session;
}

static void
reply_ok (MockRequest *r)
{
  mock_reply_text (r, SOUP_STATUS_OK, JSON_TYPE, "{}");
}

/* POST bridge/step/0 {sessionUUID: S0, ptkn} */
static void
handle_step0 (MockRequest *r,
              MockAccount *account)
{
  ICloudMockServer *self = r->self;
  const char *s0 = body_text (r, "sessionUUID");
  const char *ptkn = body_text (r, "ptkn");
  MockPushConnection *conn = find_connection (self, ptkn);
  MockBridgeFlow *flow;
  MockCode *code;
  guint32 n;
  g_autofree char *p1 = NULL;
  g_autofree char *extra = NULL;
  g_autofree char *salt = NULL;

  if (!is_session_uuid (s0))
    {
      bridge_error (r, SOUP_STATUS_BAD_REQUEST, "Bad sessionUUID");
      return;
    }
  if (conn == NULL ||
      (conn->account_key != NULL && !g_str_equal (conn->account_key, account->key)))
    {
      bridge_error (r, SOUP_STATUS_BAD_REQUEST, "Unknown push token");
      return;
    }
  g_free (conn->account_key);
  conn->account_key = g_strdup (account->key);

  /* a new request ends the account's earlier flow */
  flow = g_new0 (MockBridgeFlow, 1);
  flow->account_key = g_strdup (account->key);
  flow->session_uuid = account->bridge_session_uuid;
  flow->flow_id = flow->session_uuid ? g_strdup (s0) : g_uuid_string_random ();
  flow->token_hex = g_strdup (ptkn);
  icloud_crypto_random (flow->salt, sizeof flow->salt);
  code = mock_send_code (account, "");
  flow->device_code = g_strdup (code->code);
  icloud_crypto_random ((guint8 *) &n, sizeof n);
  flow->legacy = account->bridge_legacy;
  flow->txnid = g_strdup_printf ("2300_%u_%s", 100000000 + n % 900000000,
                                 flow->legacy ? "W" : "S");
  flow->mid = icloud_crypto_random_token (16);
  flow->final_step = account->bridge_final_step;
  flow->state = FLOW_AWAIT_STEP2;
  g_hash_table_replace (self->bridge->flows, flow->account_key, flow);

  reply_ok (r);

  if (conn->other_topic)
    send_push (conn, OTHER_TOPIC, "{\"aps\":{\"alert\":\"\"},\"cmd\":99}");
  if (mock_take_push_fault (self, MOCK_FAULT_WS_SILENT))
    return;

  salt = g_base64_encode (flow->salt, sizeof flow->salt);
  extra = g_strdup_printf (",\"salt\":\"%s\",\"mid\":\"%s\",\"ruiURLKey\":"
                           "\"hsa2TwoFactorAuthApprovalFlowUrl\"", salt, flow->mid);
  p1 = flow_push_json (flow, "2", extra);
  n = send_push (conn, account->apns_topic, p1);
  if (mock_take_push_fault (self, MOCK_FAULT_WS_CLOSE_AT_PROMPT))
    conn->close_after_ack = n;
}

/* The verifier of §d.3/§d.5 over the client's share: P2's data, with the
 * expected confirmation and the GCM key kept for step 4; NULL after
 * answering. */
static char *
verifier_step (MockRequest    *r,
               MockBridgeFlow *flow,
               const char     *data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) share = icloud_bridge_base64_decode_strict (data, 128, &error);
  g_autoptr(ICloudSpake2p) verifier = NULL;
  guint8 w0[ICLOUD_P256_SCALAR_LEN], w1[ICLOUD_P256_SCALAR_LEN], L[ICLOUD_P256_POINT_LEN];
  guint8 prover_key[32];
  ICloudSpake2pKeys keys;
  char *p2_data;
  gsize len;
  const guint8 *bytes;

  if (share == NULL)
    {
      bridge_error (r, SOUP_STATUS_BAD_REQUEST, "Malformed data");
      return NULL;
    }
  bytes = g_bytes_get_data (share, &len);
  if (!icloud_bridge_derive_w0_w1 (flow->device_code, flow->salt, sizeof flow->salt, w0, w1, &error) ||
      !icloud_spake2p_compute_L (w1, L, &error) ||
      (verifier = icloud_spake2p_new_verifier (&icloud_bridge_spake2p_suite, w0, L, NULL, &error)) == NULL ||
      !icloud_spake2p_set_peer_share (verifier, bytes, len, &error))
    {
      explicit_bzero (w0, sizeof w0);
      explicit_bzero (w1, sizeof w1);
      bridge_error (r, SOUP_STATUS_BAD_REQUEST, "Bad share");
      return NULL;
    }
  explicit_bzero (w0, sizeof w0);
  explicit_bzero (w1, sizeof w1);

  /* TL's encoding of w0 (§h item 1); the client tries both */
  icloud_spake2p_derive_keys (verifier, ICLOUD_SPAKE2P_W0_MINIMAL, &keys);
  memcpy (flow->confirm_p, keys.confirmP, sizeof flow->confirm_p);
  icloud_bridge_derive_bridge_keys (keys.K_shared, flow->verifier_key, prover_key);
  p2_data = icloud_bridge_encode_step4_data (icloud_spake2p_get_share (verifier),
                                             ICLOUD_P256_POINT_LEN, keys.confirmV);
  icloud_spake2p_keys_wipe (&keys);
  explicit_bzero (prover_key, sizeof prover_key);
  return p2_data;
}

/* POST bridge/step/2 {data: b64 (shareP)}: a second one on the same flow
 * (after a wrong code the client sends a new share) restarts the verifier
 * with a new y and the same device code. */
static void
handle_step2 (MockRequest        *r,
              MockAccount        *account,
              MockBridgeFlow     *flow,
              MockPushConnection *conn,
              const char         *data)
{
  g_autofree char *p2_data = verifier_step (r, flow, data);
  g_autofree char *extra = NULL;
  g_autofree char *json = NULL;

  if (p2_data == NULL)
    return;
  reply_ok (r);
  flow->state = FLOW_AWAIT_STEP4;

  if (mock_take_push_fault (r->self, MOCK_FAULT_WS_ERROR_PUSH))
    {
      flow->state = FLOW_AWAIT_STEP2;
      json = flow_push_json (flow, "4", ",\"ec\":" G_STRINGIFY (ERROR_PUSH_EC));
      send_push (conn, account->apns_topic, json);
      return;
    }
  if (mock_take_push_fault (r->self, MOCK_FAULT_WS_CLOSE_AT_STEP4))
    {
      schedule_close (conn, 0);
      return;
    }
  extra = g_strdup_printf (",\"data\":\"%s\"", p2_data);
  json = flow_push_json (flow, "4", extra);
  send_push (conn, account->apns_topic, json);
}

/* POST bridge/step/4 {data: b64 (confirmP)} */
static void
handle_step4 (MockRequest        *r,
              MockAccount        *account,
              MockBridgeFlow     *flow,
              MockPushConnection *conn,
              const char         *data)
{
  g_autoptr(GBytes) confirm = icloud_bridge_base64_decode_strict (data, 64, NULL);
  g_autofree char *encrypted = NULL;
  g_autofree char *extra = NULL;
  g_autofree char *json = NULL;
  char step[2] = { (char) ('0' + flow->final_step), '\0' };
  gsize len = 0;
  const guint8 *bytes = confirm ? g_bytes_get_data (confirm, &len) : NULL;

  if (bytes == NULL || !icloud_spake2p_confirmation_equal (flow->confirm_p, bytes, len))
    {
      /* Apple's answer is unknown (§g.4) */
      bridge_error (r, SOUP_STATUS_BAD_REQUEST, "Confirmation mismatch");
      return;
    }

  icloud_crypto_free_secret (flow->validation_code);
  flow->validation_code = mock_random_code ();
  encrypted = icloud_bridge_encrypt_code (flow->verifier_key, NULL, flow->validation_code);
  reply_ok (r);
  flow->state = FLOW_AWAIT_FINAL;

  if (mock_take_push_fault (r->self, MOCK_FAULT_WS_CLOSE_AT_FINAL))
    {
      schedule_close (conn, 0);
      return;
    }
  extra = g_strdup_printf (",\"encryptedCode\":\"%s\",\"mid\":\"%s\"", encrypted, flow->mid);
  json = flow_push_json (flow, step, extra);
  send_push (conn, account->apns_topic, json);
}

/* The final bridge/step/6 (or /4) {data: "ZG9uZQ=="} */
static void
handle_final (MockRequest        *r,
              MockBridgeFlow     *flow,
              MockPushConnection *conn,
              const char         *data)
{
  if (!g_str_equal (data, ICLOUD_BRIDGE_DONE_DATA))
    {
      bridge_error (r, SOUP_STATUS_BAD_REQUEST, "Bad final data");
      return;
    }
  reply_ok (r);
  flow->state = FLOW_DONE;
  schedule_close (conn, CLOSE_GRACE_MS);
}

void
mock_bridge_handle_step (MockRequest *r)
{
  ICloudMockServer *self = r->self;
  MockAccount *account = NULL;
  MockAuthSession *session = bridge_request_session (r, &account);
  guint step = (guint) (r->path[strlen (r->path) - 1] - '0');
  MockBridgeFlow *flow;
  MockPushConnection *conn;
  JsonNode *next;
  const char *data;
  const char *idmsdata = body_text (r, "idmsdata");
  const char *akdata = body_text (r, "akdata");

  if (session == NULL)
    return;
  if (step == 0)
    {
      handle_step0 (r, account);
      return;
    }

  flow = g_hash_table_lookup (self->bridge->flows, account->key);
  if (flow == NULL || flow->state == FLOW_DONE)
    {
      bridge_error (r, SOUP_STATUS_BAD_REQUEST, "No bridge flow");
      return;
    }
  if (!icloud_crypto_str_equal (body_text (r, "sessionUUID"), flow->flow_id))
    {
      bridge_error (r, SOUP_STATUS_BAD_REQUEST, "Wrong sessionUUID");
      return;
    }
  conn = flow_connection (self, flow);
  if (conn == NULL || !icloud_crypto_str_equal (body_text (r, "ptkn"), flow->token_hex))
    {
      bridge_error (r, SOUP_STATUS_BAD_REQUEST, "Unknown push token");
      return;
    }
  next = json_object_get_member (r->body_obj, "nextStep");
  if (next == NULL || !JSON_NODE_HOLDS_VALUE (next) ||
      json_node_get_value_type (next) != G_TYPE_INT64 || json_node_get_int (next) != step)
    {
      bridge_error (r, SOUP_STATUS_BAD_REQUEST, "Wrong nextStep");
      return;
    }
  /* echoed from the last push; akdata as its compact JSON text */
  if (!icloud_crypto_str_equal (idmsdata, flow->idmsdata) ||
      !icloud_crypto_str_equal (akdata, flow->akdata))
    {
      bridge_error (r, SOUP_STATUS_BAD_REQUEST, "idmsdata or akdata not echoed");
      return;
    }
  data = body_text (r, "data");
  if (data == NULL)
    {
      bridge_error (r, SOUP_STATUS_BAD_REQUEST, "Missing data");
      return;
    }

  if (step == 2 && !flow->validated && flow->state != FLOW_DONE)
    handle_step2 (r, account, flow, conn, data);
  else if (step == 4 && flow->state == FLOW_AWAIT_STEP4)
    handle_step4 (r, account, flow, conn, data);
  else if (step == flow->final_step && flow->state == FLOW_AWAIT_FINAL)
    handle_final (r, flow, conn, data);
  else
    bridge_error (r, SOUP_STATUS_BAD_REQUEST, "Unexpected step");
}

/* POST bridge/code/validate {sessionUUID, code} */
void
mock_bridge_handle_validate (MockRequest *r)
{
  MockAccount *account = NULL;
  MockAuthSession *session = bridge_request_session (r, &account);
  MockBridgeFlow *flow;
  const char *code = body_text (r, "code");

  if (session == NULL)
    return;
  flow = g_hash_table_lookup (r->self->bridge->flows, account->key);
  if (flow == NULL || flow->state != FLOW_AWAIT_FINAL ||
      !icloud_crypto_str_equal (body_text (r, "sessionUUID"), flow->flow_id))
    {
      bridge_error (r, SOUP_STATUS_BAD_REQUEST, "No bridge flow");
      return;
    }
  if (flow->validated || code == NULL ||
      !icloud_crypto_str_equal (code, flow->validation_code))
    {
      mock_reply_text (r, SOUP_STATUS_PRECONDITION_FAILED, JSON_TYPE,
                       "{\"service_errors\":[{\"code\":\"-21669\",\"title\":\"Incorrect Verification Code\","
                       "\"message\":\"Incorrect verification code.\",\"suppressDismissal\":false}],"
                       "\"hasError\":true}");
      return;
    }
  flow->validated = TRUE;
  mock_code_accepted (r, session);
}

/* ------------------------------------------------------------------------ */
/* the legacy route and the account's life (lock held) */

gboolean
mock_bridge_refuses_code (ICloudMockServer *self,
                          MockAccount      *account,
                          const char       *code)
{
  MockBridgeFlow *flow = g_hash_table_lookup (self->bridge->flows, account->key);

  return flow != NULL && !flow->legacy && code != NULL &&
         icloud_crypto_str_equal (code, flow->device_code);
}

void
mock_bridge_forget_account (ICloudMockServer *self,
                            const char       *account_key)
{
  g_hash_table_remove (self->bridge->flows, account_key);
  if (g_strcmp0 (self->bridge->offer, account_key) == 0)
    g_clear_pointer (&self->bridge->offer, g_free);
}
