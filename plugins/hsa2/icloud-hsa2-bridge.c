/* icloud-hsa2-bridge.c: the HSA2 trusted-device bridge of one session
 * (hsa2-bridge.md §b, §c.6, §c.7)
 *
 * The socket is read all the time (libsoup answers pings by itself): every
 * push is acknowledged as it arrives, before anything else looks at it
 * (§c.3), and every message is queued until the flow waits for one. A wait
 * ends with the message it wants, the socket closing (by either side), the
 * session's timeout, or the caller's cancellable; a cancelled or failed
 * step closes the socket before anything else is sent.
 *
 * Secrets (the code, the prover's w0/w1 and keys, the decrypted value)
 * live in the prover and in wiped buffers; nothing here logs them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#include <libsoup/soup.h>

#include "icloud-hsa2-bridge.h"
#include "icloud-bridge-crypto-private.h"
#include "icloud-bridge-push-private.h"
#include "icloud-bridge-wire-private.h"
#include "icloud-crypto-private.h"
#include "icloud-token-private.h"

/* Messages kept while nobody waits (the user types the code): the oldest
 * go beyond this (each is acknowledged already). */
#define MAX_QUEUED_MESSAGES 64

/* §f: how many INVALID_NONCE answers are retried (with the server's time) */
#define MAX_CONNECT_ATTEMPTS 2

/* Whether bridge/step/0 waits for the channel subscription response to the
 * topic filter. pyicloud posts it at once and reads the response later
 * (§c.6); a push service that reads the filter after the POST reached
 * IDMSA would not know where to push the prompt, so this client waits
 * (one message, within the session's timeout). FALSE: pyicloud's order. */
#define WAIT_FOR_SUBSCRIPTION TRUE

typedef enum {
  WAIT_CONNECTION,      /* a connection response (ICloudBridgeServerMessage) */
  WAIT_SUBSCRIPTION,    /* a channel subscription response (same) */
  WAIT_PUSH,            /* a push on the topic (ICloudBridgePush) */
} WaitKind;

struct _ICloudHsa2Bridge
{
  GObject parent_instance;

  ICloudAuthContext       *context;
  char                    *host;
  char                    *topic;
  SoupMessageHeaders      *headers;       /* X-Apple-App-Id */

  SoupWebsocketConnection *ws;
  gulong                   message_id;
  gulong                   closed_id;
  GQueue                   incoming;      /* GBytes, read but not yet used */
  gboolean                 closed;        /* the socket closed */

  /* the one wait in progress */
  GTask                   *waiter;
  WaitKind                 waiting_for;
  GSource                 *deadline;
  GSource                 *cancel_source;

  /* the prompt */
  char                    *token_hex;     /* ptkn */
  char                    *flow_id;       /* S of B2…BF */
  char                    *salt;          /* of the first push */
  gboolean                 legacy;        /* txnid ends in _W */
  gboolean                 ready;         /* a code may be checked */
  char                    *idmsdata;      /* of the last push */
  char                    *akdata;        /* of the last push, as text */
};

G_DEFINE_DYNAMIC_TYPE (ICloudHsa2Bridge, icloud_hsa2_bridge, G_TYPE_OBJECT)

void
icloud_hsa2_bridge_register (GTypeModule *module)
{
  icloud_hsa2_bridge_register_type (module);
}

/* ------------------------------------------------------------------------ */
/* The socket */

static void waiter_try (ICloudHsa2Bridge *self);

static void
release_closed (SoupWebsocketConnection *ws,
                gpointer                 user_data)
{
  g_signal_handlers_disconnect_by_func (ws, release_closed, user_data);
  g_object_unref (ws);
}

static void
forget_prompt (ICloudHsa2Bridge *self)
{
  g_clear_pointer (&self->token_hex, g_free);
  g_clear_pointer (&self->flow_id, g_free);
  g_clear_pointer (&self->salt, icloud_crypto_free_secret);
  g_clear_pointer (&self->idmsdata, g_free);
  g_clear_pointer (&self->akdata, g_free);
  self->legacy = FALSE;
  self->ready = FALSE;
}

/* Closes the socket (a close frame, then libsoup drops the connection once
 * the server answered or its close timeout passed). */
static void
close_socket (ICloudHsa2Bridge *self)
{
  SoupWebsocketConnection *ws = g_steal_pointer (&self->ws);

  g_queue_clear_full (&self->incoming, (GDestroyNotify) g_bytes_unref);
  self->closed = TRUE;
  if (ws == NULL)
    return;

  g_clear_signal_handler (&self->message_id, ws);
  g_clear_signal_handler (&self->closed_id, ws);
  if (soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_CLOSED)
    {
      g_object_unref (ws);
      return;
    }
  /* kept alive until libsoup is done with it */
  g_signal_connect (ws, "closed", G_CALLBACK (release_closed), NULL);
  if (soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  g_debug ("Trusted-device bridge: the connection to the push service is closed");
}

void
icloud_hsa2_bridge_close (ICloudHsa2Bridge *self)
{
  g_return_if_fail (ICLOUD_IS_HSA2_BRIDGE (self));

  close_socket (self);
  forget_prompt (self);
}

gboolean
icloud_hsa2_bridge_is_open (ICloudHsa2Bridge *self)
{
  g_return_val_if_fail (ICLOUD_IS_HSA2_BRIDGE (self), FALSE);
  return self->ws != NULL && !self->closed &&
         soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN;
}

gboolean
icloud_hsa2_bridge_is_legacy (ICloudHsa2Bridge *self)
{
  g_return_val_if_fail (ICLOUD_IS_HSA2_BRIDGE (self), FALSE);
  return self->ready && self->legacy;
}

static void
send_binary (ICloudHsa2Bridge *self,
             GBytes           *bytes)
{
  if (self->ws != NULL && soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_message (self->ws, SOUP_WEBSOCKET_DATA_BINARY, bytes);
}

static void
on_message (SoupWebsocketConnection *ws,
            gint                     type,
            GBytes                  *message,
            gpointer                 user_data)
{
  ICloudHsa2Bridge *self = user_data;
  g_autoptr(ICloudBridgeServerMessage) parsed = NULL;

  /* Every push is acknowledged at once, whatever its topic (§c.3). */
  parsed = icloud_bridge_server_message_parse (message, NULL);
  if (parsed != NULL && parsed->has_push && parsed->has_push_id && parsed->push_topic != NULL)
    {
      gsize len = 0;
      const guint8 *topic = g_bytes_get_data (parsed->push_topic, &len);
      g_autoptr(GBytes) ack = icloud_bridge_encode_ack (topic, len, parsed->push_id);

      send_binary (self, ack);
    }

  g_queue_push_tail (&self->incoming, g_bytes_ref (message));
  while (g_queue_get_length (&self->incoming) > MAX_QUEUED_MESSAGES)
    g_bytes_unref (g_queue_pop_head (&self->incoming));
  waiter_try (self);
}

static void
on_closed (SoupWebsocketConnection *ws,
           gpointer                 user_data)
{
  ICloudHsa2Bridge *self = user_data;

  g_debug ("Trusted-device bridge: the push service closed the connection (code %u)",
           soup_websocket_connection_get_close_code (ws));
  self->closed = TRUE;
  waiter_try (self);
}

static void
attach_socket (ICloudHsa2Bridge        *self,
               SoupWebsocketConnection *ws)
{
  self->ws = ws;
  self->closed = FALSE;
  self->message_id = g_signal_connect (ws, "message", G_CALLBACK (on_message), self);
  self->closed_id = g_signal_connect (ws, "closed", G_CALLBACK (on_closed), self);
}

/* ------------------------------------------------------------------------ */
/* Waiting for a message: a connection response, or a push on our topic */

static void
waiter_clear_sources (ICloudHsa2Bridge *self)
{
  if (self->deadline != NULL)
    {
      g_source_destroy (self->deadline);
      g_clear_pointer (&self->deadline, g_source_unref);
    }
  if (self->cancel_source != NULL)
    {
      g_source_destroy (self->cancel_source);
      g_clear_pointer (&self->cancel_source, g_source_unref);
    }
}

static GTask *
waiter_take (ICloudHsa2Bridge *self)
{
  waiter_clear_sources (self);
  return g_steal_pointer (&self->waiter);
}

static void
waiter_fail (ICloudHsa2Bridge *self,
             GError           *error)
{
  g_autoptr(GTask) task = waiter_take (self);

  g_task_return_error (task, error);
}

static void
waiter_return (ICloudHsa2Bridge *self,
               gpointer          result,
               GDestroyNotify    destroy)
{
  g_autoptr(GTask) task = waiter_take (self);

  g_task_return_pointer (task, result, destroy);
}

/* What the message means to the wait: TRUE when it ends it (result or
 * error given to the waiter). */
static gboolean
waiter_consider (ICloudHsa2Bridge *self,
                 GBytes           *message)
{
  g_autoptr(ICloudBridgeServerMessage) parsed = NULL;
  g_autoptr(ICloudBridgePush) push = NULL;
  g_autoptr(GError) error = NULL;
  const guint8 *payload;
  gsize len = 0;

  parsed = icloud_bridge_server_message_parse (message, &error);
  if (parsed == NULL)
    {
      waiter_fail (self, g_error_new (ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                                      "Apple's push service sent a malformed message: %s",
                                      error->message));
      return TRUE;
    }

  if (self->waiting_for == WAIT_CONNECTION)
    {
      if (!parsed->has_connection)
        return FALSE;
      waiter_return (self, g_steal_pointer (&parsed),
                     (GDestroyNotify) icloud_bridge_server_message_free);
      return TRUE;
    }

  if (parsed->has_subscription && parsed->has_subscription_status &&
      parsed->subscription_status != 0)
    {
      waiter_fail (self, g_error_new (ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                                      "Apple's push service refused the subscription (status %" G_GUINT64_FORMAT ")",
                                      parsed->subscription_status));
      return TRUE;
    }
  if (self->waiting_for == WAIT_SUBSCRIPTION)
    {
      if (!parsed->has_subscription)
        return FALSE;
      waiter_return (self, g_steal_pointer (&parsed),
                     (GDestroyNotify) icloud_bridge_server_message_free);
      return TRUE;
    }

  if (!parsed->has_push || parsed->push_payload == NULL)
    return FALSE;
  if (parsed->push_topic == NULL ||
      !icloud_bridge_topic_matches (g_bytes_get_data (parsed->push_topic, NULL),
                                    g_bytes_get_size (parsed->push_topic), self->topic))
    {
      g_debug ("Trusted-device bridge: a push on another topic, skipped");
      return FALSE;
    }

  payload = g_bytes_get_data (parsed->push_payload, &len);
  push = icloud_bridge_push_parse (payload, len, &error);
  if (push == NULL)
    {
      waiter_fail (self, g_error_new (ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                                      "Apple's push service sent a malformed bridge push: %s",
                                      error->message));
      return TRUE;
    }
  waiter_return (self, g_steal_pointer (&push), (GDestroyNotify) icloud_bridge_push_free);
  return TRUE;
}

static GError *
closed_error (void)
{
  return g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                              "Apple's push service closed the trusted-device "
                              "bridge's connection; request a new code");
}

/* Gives the waiter what it waits for, if it came. Its callback may run
 * at once and let the bridge go: it is held until the end. */
static void
waiter_try (ICloudHsa2Bridge *self)
{
  g_autoptr(ICloudHsa2Bridge) hold = g_object_ref (self);

  while (self->waiter != NULL && !g_queue_is_empty (&self->incoming))
    {
      g_autoptr(GBytes) message = g_queue_pop_head (&self->incoming);

      waiter_consider (self, message);
    }

  if (self->waiter != NULL && self->closed)
    waiter_fail (self, closed_error ());
}

static gboolean
waiter_timed_out (gpointer user_data)
{
  ICloudHsa2Bridge *self = user_data;
  guint timeout = icloud_auth_context_get_timeout (self->context);

  waiter_fail (self, g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                  "Apple's push service sent nothing for the trusted-device "
                                  "bridge within %u s", timeout));
  return G_SOURCE_REMOVE;
}

static gboolean
waiter_cancelled (GCancellable *cancellable,
                  gpointer      user_data)
{
  ICloudHsa2Bridge *self = user_data;
  GError *error = NULL;

  g_cancellable_set_error_if_cancelled (cancellable, &error);
  waiter_fail (self, error);
  return G_SOURCE_REMOVE;
}

/* Waits for what @kind says, within the session's timeout. */
static void
wait_async (ICloudHsa2Bridge    *self,
            WaitKind             kind,
            GCancellable        *cancellable,
            GAsyncReadyCallback  callback,
            gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  guint timeout = icloud_auth_context_get_timeout (self->context);

  g_task_set_source_tag (task, wait_async);
  g_assert (self->waiter == NULL);
  self->waiter = task;
  self->waiting_for = kind;

  if (timeout > 0)
    {
      self->deadline = g_timeout_source_new_seconds (timeout);
      g_source_set_callback (self->deadline, waiter_timed_out, self, NULL);
      g_source_set_static_name (self->deadline, "[icloud] bridge wait");
      g_source_attach (self->deadline, g_task_get_context (task));
    }
  if (cancellable != NULL)
    {
      self->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (self->cancel_source, G_SOURCE_FUNC (waiter_cancelled), self, NULL);
      g_source_attach (self->cancel_source, g_task_get_context (task));
    }
  waiter_try (self);
}

static gpointer
wait_finish (ICloudHsa2Bridge  *self,
             GAsyncResult      *result,
             GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == wait_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------------ */
/* Apple's bridge endpoints (§b) */

static void
add_member (JsonBuilder *builder,
            const char  *name,
            const char  *value)
{
  if (value == NULL)
    return;
  json_builder_set_member_name (builder, name);
  json_builder_add_string_value (builder, value);
}

/* {"sessionUUID": S, "data": …, "ptkn": T, "nextStep": N, "idmsdata"?, "akdata"?} */
static JsonNode *
step_body (ICloudHsa2Bridge *self,
           const char       *data,
           gint64            next_step)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  add_member (builder, "sessionUUID", self->flow_id);
  add_member (builder, "data", data);
  add_member (builder, "ptkn", self->token_hex);
  json_builder_set_member_name (builder, "nextStep");
  json_builder_add_int_value (builder, next_step);
  add_member (builder, "idmsdata", self->idmsdata);
  add_member (builder, "akdata", self->akdata);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static void
post_async (ICloudHsa2Bridge    *self,
            const char          *path,
            JsonNode            *body,
            GCancellable        *cancellable,
            GAsyncReadyCallback  callback,
            gpointer             user_data)
{
  icloud_auth_context_send_request_full_async (self->context, "POST", ICLOUD_ROOT_AUTH, path, body,
                                               ICLOUD_REQUEST_AUTH_HEADERS, self->headers,
                                               cancellable, callback, user_data);
}

/* 200, 204 and 409 are accepted (§b). */
static gboolean
step_accepted (ICloudResponse *response)
{
  guint status = icloud_response_get_status (response);

  return status == 200 || status == 204 || status == 409;
}

/* The error of a refused bridge request: Apple's generic statuses (503
 * THROTTLED, …), else PROTOCOL. */
static GError *
step_error (ICloudResponse *response,
            const char     *what)
{
  GError *error = NULL;

  if (!icloud_response_check (response, &error))
    return error;
  return g_error_new (ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                      "Apple refused %s of the trusted-device bridge (HTTP %u)",
                      what, icloud_response_get_status (response));
}

/* Takes a push's idmsdata and akdata for the next POST (§b). */
static void
keep_echo (ICloudHsa2Bridge *self,
           ICloudBridgePush *push)
{
  g_free (self->idmsdata);
  self->idmsdata = g_strdup (push->idmsdata);
  g_free (self->akdata);
  self->akdata = g_strdup (push->akdata_text);
}

/* ------------------------------------------------------------------------ */
/* start (§c.6) */

typedef struct {
  ICloudBridgeKey *key;
  guint64          timestamp_ms;
  guint            attempt;
  char            *session_uuid0;
} StartData;

static void
start_data_free (StartData *data)
{
  g_clear_pointer (&data->key, icloud_bridge_key_free);
  g_free (data->session_uuid0);
  g_free (data);
}

/* Ends a failed start or validation: the socket closed first. */
static void
fail_closing (GTask  *task,
              GError *error)
{
  ICloudHsa2Bridge *self = g_task_get_source_object (task);

  icloud_hsa2_bridge_close (self);
  g_task_return_error (task, error);
  g_object_unref (task);
}

/* Before sending anything: a cancelled operation ends there, the socket
 * closed (no request goes out after a cancel). */
static gboolean
return_if_cancelled (GTask *task)
{
  GError *error = NULL;

  if (!g_cancellable_set_error_if_cancelled (g_task_get_cancellable (task), &error))
    return FALSE;
  fail_closing (task, error);
  return TRUE;
}

/* A bridge/step POST whose answer comes as a push: posted, its status
 * checked, then the push waited for, given to @then. */
typedef struct {
  GTask               *task;
  const char          *what;
  GAsyncReadyCallback  then;
} StepCall;

static void
step_posted_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  StepCall call = *(StepCall *) user_data;
  ICloudHsa2Bridge *self = g_task_get_source_object (call.task);
  g_autoptr(ICloudResponse) response = NULL;
  GError *error = NULL;

  g_free (user_data);
  response = icloud_auth_context_send_request_full_finish (ICLOUD_AUTH_CONTEXT (source), result, &error);
  if (response == NULL)
    {
      fail_closing (call.task, error);
      return;
    }
  if (!step_accepted (response))
    {
      /* A refused step on a socket that closed meanwhile: its push token
       * was gone, the close is the cause. */
      fail_closing (call.task, self->closed ? closed_error () : step_error (response, call.what));
      return;
    }
  wait_async (self, WAIT_PUSH, g_task_get_cancellable (call.task), call.then, call.task);
}

static void
post_step_then_wait (GTask               *task,
                     const char          *path,
                     JsonNode            *body,
                     const char          *what,
                     GAsyncReadyCallback  then)
{
  ICloudHsa2Bridge *self = g_task_get_source_object (task);
  StepCall *call;

  /* Its answer comes on the socket: nothing to post once it closed. */
  if (self->closed)
    {
      fail_closing (task, closed_error ());
      return;
    }
  call = g_new0 (StepCall, 1);
  call->task = task;
  call->what = what;
  call->then = then;
  post_async (self, path, body, g_task_get_cancellable (task), step_posted_cb, call);
}

static void start_connect (GTask *task);

static void
start_p1_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  ICloudHsa2Bridge *self = ICLOUD_HSA2_BRIDGE (source);
  GTask *task = user_data;
  StartData *data = g_task_get_task_data (task);
  g_autoptr(ICloudBridgePush) push = NULL;
  GError *error = NULL;

  push = wait_finish (self, result, &error);
  if (push == NULL)
    {
      fail_closing (task, error);
      return;
    }
  if (push->session_uuid != NULL && !g_str_equal (push->session_uuid, data->session_uuid0))
    {
      fail_closing (task, g_error_new_literal (ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                                             "The trusted-device prompt belongs to another request"));
      return;
    }
  if (icloud_bridge_push_is_error (push))
    {
      fail_closing (task, g_error_new (ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                                     "Apple's trusted-device prompt failed (error %" G_GINT64_FORMAT ")",
                                     push->ec));
      return;
    }

  self->flow_id = g_strdup (icloud_bridge_push_get_id (push));
  self->salt = g_strdup (push->salt);
  self->legacy = icloud_bridge_push_is_legacy (push);
  keep_echo (self, push);
  self->ready = TRUE;
  g_debug ("Trusted-device bridge: the prompt is on the trusted devices%s",
           self->legacy ? " (legacy verifier)" : "");
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

/* B0 {"sessionUUID": S0, "ptkn": T}, then the first push (§c.6). */
static void
start_post_step0 (GTask *task)
{
  ICloudHsa2Bridge *self = g_task_get_source_object (task);
  StartData *data = g_task_get_task_data (task);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autofree char *uuid = NULL;

  if (return_if_cancelled (task))
    return;

  /* S0: a version 4 UUID, "-", Unix seconds (§b) */
  uuid = g_uuid_string_random ();
  data->session_uuid0 = g_strdup_printf ("%s-%" G_GINT64_FORMAT, uuid, g_get_real_time () / G_USEC_PER_SEC);
  json_builder_begin_object (builder);
  add_member (builder, "sessionUUID", data->session_uuid0);
  add_member (builder, "ptkn", self->token_hex);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  /* Not waiting for a push first: that stalls the flow (§c.6). */
  post_step_then_wait (task, "/bridge/step/0", body, "the prompt (bridge/step/0)", start_p1_cb);
}

static void
start_subscribed_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  GTask *task = user_data;
  g_autoptr(ICloudBridgeServerMessage) message = NULL;
  GError *error = NULL;

  message = wait_finish (ICLOUD_HSA2_BRIDGE (source), result, &error);
  if (message == NULL)
    {
      fail_closing (task, error);
      return;
    }
  start_post_step0 (task);
}

static void
start_token_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  ICloudHsa2Bridge *self = ICLOUD_HSA2_BRIDGE (source);
  GTask *task = user_data;
  StartData *data = g_task_get_task_data (task);
  g_autoptr(ICloudBridgeServerMessage) message = NULL;
  g_autoptr(GBytes) filter = NULL;
  GError *error = NULL;

  message = wait_finish (self, result, &error);
  if (message == NULL)
    {
      fail_closing (task, error);
      return;
    }

  if (message->has_status && message->status == 2 && message->has_server_time &&
      data->attempt < MAX_CONNECT_ATTEMPTS)
    {
      /* INVALID_NONCE: once more with the server's time (§c.4, §h item 4) */
      g_debug ("Trusted-device bridge: the push service wants another nonce time");
      close_socket (self);
      data->attempt++;
      data->timestamp_ms = message->server_time * 1000;
      start_connect (task);
      return;
    }
  if (message->status != 0 || message->token == NULL)
    {
      fail_closing (task, g_error_new (ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                                     "Apple's push service refused the connection (status %" G_GUINT64_FORMAT ")",
                                     message->status));
      return;
    }
  self->token_hex = icloud_bridge_push_token_to_hex (message->token, &error);
  if (self->token_hex == NULL)
    {
      g_clear_error (&error);
      fail_closing (task, g_error_new_literal (ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                                             "Apple's push service sent a malformed push token"));
      return;
    }

  filter = icloud_bridge_encode_web_filter (self->topic);
  send_binary (self, filter);
  if (WAIT_FOR_SUBSCRIPTION)
    wait_async (self, WAIT_SUBSCRIPTION, g_task_get_cancellable (task), start_subscribed_cb, task);
  else
    start_post_step0 (task);
}

static void
start_connected_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  GTask *task = user_data;
  ICloudHsa2Bridge *self = g_task_get_source_object (task);
  SoupWebsocketConnection *ws;
  GError *error = NULL;

  ws = icloud_auth_context_connect_websocket_finish (ICLOUD_AUTH_CONTEXT (source), result, &error);
  if (ws == NULL)
    {
      fail_closing (task, error);
      return;
    }
  attach_socket (self, ws);
  wait_async (self, WAIT_CONNECTION, g_task_get_cancellable (task), start_token_cb, task);
}

static void
start_connect (GTask *task)
{
  ICloudHsa2Bridge *self = g_task_get_source_object (task);
  StartData *data = g_task_get_task_data (task);
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GString) path = g_string_new ("/v2/");
  const guint8 *bytes;
  gsize len = 0;

  message = icloud_bridge_connection_message_new (data->key, data->timestamp_ms, NULL);
  bytes = g_bytes_get_data (message, &len);
  for (gsize i = 0; i < len; i++)
    g_string_append_printf (path, "%02x", bytes[i]);

  icloud_auth_context_connect_websocket_async (self->context, self->host, path->str,
                                               ICLOUD_HSA2_BRIDGE_ORIGIN,
                                               g_task_get_cancellable (task),
                                               start_connected_cb, task);
}

void
icloud_hsa2_bridge_start_async (ICloudHsa2Bridge    *self,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  GTask *task;
  StartData *data;
  GError *error = NULL;

  g_return_if_fail (ICLOUD_IS_HSA2_BRIDGE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, icloud_hsa2_bridge_start_async);
  icloud_hsa2_bridge_close (self);

  if (self->host == NULL || self->topic == NULL)
    {
      fail_closing (task, g_error_new_literal (ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                                             "Apple's sign-in options name no push topic or WebSocket host for the trusted-device bridge"));
      return;
    }
  if (!icloud_bridge_gcrypt_init (&error))
    {
      fail_closing (task, error);
      return;
    }

  data = g_new0 (StartData, 1);
  data->key = icloud_bridge_key_new ();
  data->timestamp_ms = (guint64) (g_get_real_time () / 1000);
  data->attempt = 1;
  g_task_set_task_data (task, data, (GDestroyNotify) start_data_free);
  start_connect (task);
}

gboolean
icloud_hsa2_bridge_start_finish (ICloudHsa2Bridge  *self,
                                 GAsyncResult      *result,
                                 GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == icloud_hsa2_bridge_start_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------------ */
/* validate (§c.7) */

typedef struct {
  char               *code;         /* secret */
  GBytes             *salt;
  ICloudBridgeProver *prover;
  char               *value;        /* the decrypted code: secret */
  char               *final_path;   /* /bridge/step/6 or /4 */
  gint64              final_step;
  char               *session_token;
  gboolean            wrong_code;   /* BV said 412 */
} ValidateData;

static void
validate_data_free (ValidateData *data)
{
  g_clear_pointer (&data->code, icloud_crypto_free_secret);
  g_clear_pointer (&data->salt, g_bytes_unref);
  g_clear_pointer (&data->prover, icloud_bridge_prover_free);
  g_clear_pointer (&data->value, icloud_crypto_free_secret);
  g_free (data->final_path);
  g_clear_pointer (&data->session_token, icloud_token_free);
  g_free (data);
}

/* A push that answers a step: the flow's, no error, the step expected. */
static gboolean
check_push (ICloudHsa2Bridge  *self,
            ICloudBridgePush  *push,
            const char        *what,
            GError           **error)
{
  if (!g_str_equal (icloud_bridge_push_get_id (push), self->flow_id))
    {
      g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                   "The trusted device answered another request (%s)", what);
      return FALSE;
    }
  if (icloud_bridge_push_is_error (push))
    {
      g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                   "The trusted device answered the %s with an error (%" G_GINT64_FORMAT ")",
                   what, push->ec);
      return FALSE;
    }
  return TRUE;
}

static void
validate_bf_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  GTask *task = user_data;
  ICloudHsa2Bridge *self = g_task_get_source_object (task);
  ValidateData *data = g_task_get_task_data (task);
  g_autoptr(ICloudResponse) response = NULL;
  GError *error = NULL;

  /* Only a notice that the prompt is over: once Apple took (or refused)
   * the code, its fate does not change the outcome. A cancel still ends
   * the operation as cancelled. */
  response = icloud_auth_context_send_request_full_finish (ICLOUD_AUTH_CONTEXT (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      fail_closing (task, error);
      return;
    }
  if (response == NULL)
    g_debug ("The bridge's last step failed: %s", error->message);
  else if (!step_accepted (response))
    g_debug ("Apple answered the bridge's last step with HTTP %u", icloud_response_get_status (response));
  g_clear_error (&error);

  /* The bridge is over either way. */
  icloud_hsa2_bridge_close (self);
  if (data->wrong_code)
    g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_INVALID_CODE,
                             "Apple did not accept the code of the trusted-device prompt; "
                             "request a new prompt");
  else
    icloud_token_task_return (task, data->session_token);
  g_object_unref (task);
}

static void
validate_bv_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  GTask *task = user_data;
  ICloudHsa2Bridge *self = g_task_get_source_object (task);
  ValidateData *data = g_task_get_task_data (task);
  g_autoptr(ICloudResponse) response = NULL;
  g_autoptr(JsonNode) body = NULL;
  GError *error = NULL;
  guint status;

  g_clear_pointer (&data->value, icloud_crypto_free_secret);
  response = icloud_auth_context_send_request_full_finish (ICLOUD_AUTH_CONTEXT (source), result, &error);
  if (response == NULL)
    {
      fail_closing (task, error);
      return;
    }
  status = icloud_response_get_status (response);
  if (status == 412)
    data->wrong_code = TRUE;
  else if (!step_accepted (response))
    {
      fail_closing (task, step_error (response, "the code (bridge/code/validate)"));
      return;
    }
  else
    {
      const char *token = icloud_response_get_header (response, ICLOUD_SESSION_TOKEN_HEADER);

      if (status == 409)
        g_debug ("Apple answered the bridge's code with HTTP 409, taken as accepted (§h item 7)");
      data->session_token = g_strdup (token);
    }

  if (return_if_cancelled (task))
    return;
  /* BF, after a 412 too (§b) */
  body = step_body (self, ICLOUD_BRIDGE_DONE_DATA, data->final_step);
  post_async (self, data->final_path, body, g_task_get_cancellable (task), validate_bf_cb, task);
}

static void
validate_p3_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  ICloudHsa2Bridge *self = ICLOUD_HSA2_BRIDGE (source);
  GTask *task = user_data;
  ValidateData *data = g_task_get_task_data (task);
  g_autoptr(ICloudBridgePush) push = NULL;
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) body = NULL;
  GError *error = NULL;

  push = wait_finish (self, result, &error);
  if (push == NULL || !check_push (self, push, "confirmation", &error))
    {
      fail_closing (task, error);
      return;
    }
  if ((g_strcmp0 (push->next_step, "6") != 0 && g_strcmp0 (push->next_step, "4") != 0) ||
      push->encrypted_code == NULL)
    {
      fail_closing (task, g_error_new_literal (ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                                                "The trusted device's last answer is malformed"));
      return;
    }
  keep_echo (self, push);
  data->final_step = push->next_step[0] - '0';
  data->final_path = g_strdup_printf ("/bridge/step/%" G_GINT64_FORMAT, data->final_step);

  data->value = icloud_bridge_prover_decrypt_code (data->prover, push->encrypted_code, &error);
  g_clear_pointer (&data->prover, icloud_bridge_prover_free);
  if (data->value == NULL)
    {
      g_clear_error (&error);
      fail_closing (task, g_error_new_literal (ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                                                "The trusted device's code could not be decrypted"));
      return;
    }

  builder = json_builder_new ();
  json_builder_begin_object (builder);
  add_member (builder, "sessionUUID", self->flow_id);
  add_member (builder, "code", data->value);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  if (return_if_cancelled (task))
    return;
  post_async (self, "/bridge/code/validate", body, g_task_get_cancellable (task), validate_bv_cb, task);
}

static void
validate_p2_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  ICloudHsa2Bridge *self = ICLOUD_HSA2_BRIDGE (source);
  GTask *task = user_data;
  ValidateData *data = g_task_get_task_data (task);
  g_autoptr(ICloudBridgePush) push = NULL;
  g_autoptr(JsonNode) body = NULL;
  g_autofree char *step4_data = NULL;
  GError *error = NULL;

  push = wait_finish (self, result, &error);
  if (push == NULL || !check_push (self, push, "code", &error))
    {
      fail_closing (task, error);
      return;
    }
  if (g_strcmp0 (push->next_step, "4") != 0 || push->data == NULL)
    {
      fail_closing (task, g_error_new_literal (ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                                                "The trusted device's answer to the code is malformed"));
      return;
    }
  keep_echo (self, push);

  /* Both w0 encodings are tried (§h item 1). */
  switch (icloud_bridge_prover_process_step4 (data->prover, push->data, &step4_data, &error))
    {
    case ICLOUD_BRIDGE_STEP4_ERROR:
      g_clear_error (&error);
      fail_closing (task, g_error_new_literal (ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                                                "The trusted device's answer to the code is malformed"));
      return;

    case ICLOUD_BRIDGE_STEP4_WRONG_CODE:
      /* The prompt stays: the user may type the code again, on the same
       * flow (a new share, §h item 12). */
      g_clear_pointer (&data->prover, icloud_bridge_prover_free);
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_INVALID_CODE,
                               "The code is not the one shown on the trusted device");
      g_object_unref (task);
      return;

    case ICLOUD_BRIDGE_STEP4_OK:
    default:
      break;
    }

  if (return_if_cancelled (task))
    return;
  body = step_body (self, step4_data, 4);
  post_step_then_wait (task, "/bridge/step/4", body, "the confirmation (bridge/step/4)",
                       validate_p3_cb);
}

/* scrypt takes tens of milliseconds and 16 MiB: in a worker. */
static void
prover_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  ValidateData *data = task_data;
  const guint8 *salt;
  gsize salt_len = 0;
  ICloudBridgeProver *prover;
  GError *error = NULL;

  salt = g_bytes_get_data (data->salt, &salt_len);
  prover = icloud_bridge_prover_new (data->code, salt, salt_len, NULL, &error);
  if (prover == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, prover, (GDestroyNotify) icloud_bridge_prover_free);
}

static void
validate_prover_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  ICloudHsa2Bridge *self = ICLOUD_HSA2_BRIDGE (source);
  GTask *task = user_data;
  ValidateData *data = g_task_get_task_data (task);
  g_autoptr(JsonNode) body = NULL;
  g_autofree char *share = NULL;
  GError *error = NULL;

  data->prover = g_task_propagate_pointer (G_TASK (result), &error);
  g_clear_pointer (&data->code, icloud_crypto_free_secret);
  if (data->prover == NULL)
    {
      fail_closing (task, error);
      return;
    }
  if (return_if_cancelled (task))
    return;
  if (!icloud_hsa2_bridge_is_open (self))
    {
      fail_closing (task, closed_error ());
      return;
    }

  share = icloud_bridge_prover_get_step2_data (data->prover);
  body = step_body (self, share, 2);
  post_step_then_wait (task, "/bridge/step/2", body, "the code (bridge/step/2)", validate_p2_cb);
}

void
icloud_hsa2_bridge_validate_async (ICloudHsa2Bridge    *self,
                                   const char          *code,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  GTask *task;
  g_autoptr(GTask) worker = NULL;
  ValidateData *data;
  GError *error = NULL;

  g_return_if_fail (ICLOUD_IS_HSA2_BRIDGE (self));
  g_return_if_fail (code != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, icloud_hsa2_bridge_validate_async);

  if (!self->ready || self->legacy || self->salt == NULL || !icloud_hsa2_bridge_is_open (self))
    {
      if (self->ready && self->salt == NULL && !self->legacy)
        error = g_error_new_literal (ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                                     "The trusted-device prompt came without its salt");
      else
        error = closed_error ();
      fail_closing (task, error);
      return;
    }
  if (strlen (code) > ICLOUD_BRIDGE_MAX_CODE_LEN)
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_INVALID_CODE,
                               "The code is not the one shown on the trusted device");
      g_object_unref (task);
      return;
    }

  data = g_new0 (ValidateData, 1);
  data->code = g_strdup (code);
  data->salt = icloud_bridge_base64_decode_strict (self->salt, ICLOUD_BRIDGE_MAX_SALT_LEN, &error);
  g_task_set_task_data (task, data, (GDestroyNotify) validate_data_free);
  if (data->salt == NULL)
    {
      g_clear_error (&error);
      fail_closing (task, g_error_new_literal (ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                                                "The trusted-device prompt came with a malformed salt"));
      return;
    }

  /* What came while nobody waited (already acknowledged) is stale now. */
  g_queue_clear_full (&self->incoming, (GDestroyNotify) g_bytes_unref);

  g_debug ("Trusted-device bridge: deriving the keys of the code");
  /* The worker reads the task data; the task itself waits for it. */
  worker = g_task_new (self, cancellable, validate_prover_cb, task);
  g_task_set_source_tag (worker, prover_thread);
  g_task_set_task_data (worker, data, NULL);
  g_task_set_return_on_cancel (worker, FALSE);
  g_task_run_in_thread (worker, prover_thread);
}

gboolean
icloud_hsa2_bridge_validate_finish (ICloudHsa2Bridge  *self,
                                    GAsyncResult      *result,
                                    char             **session_token,
                                    GError           **error)
{
  return icloud_token_method_finish (self, result, icloud_hsa2_bridge_validate_async,
                                     session_token, error);
}

/* ------------------------------------------------------------------------ */

ICloudHsa2Bridge *
icloud_hsa2_bridge_new (ICloudAuthContext *context,
                        const char        *host,
                        const char        *topic,
                        const char        *app_id)
{
  ICloudHsa2Bridge *self = g_object_new (ICLOUD_TYPE_HSA2_BRIDGE, NULL);

  self->context = g_object_ref (context);
  self->host = g_strdup (host);
  self->topic = g_strdup (topic);
  self->headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  if (app_id != NULL)
    soup_message_headers_replace (self->headers, "X-Apple-App-Id", app_id);
  return self;
}

static void
icloud_hsa2_bridge_dispose (GObject *object)
{
  ICloudHsa2Bridge *self = ICLOUD_HSA2_BRIDGE (object);

  icloud_hsa2_bridge_close (self);

  G_OBJECT_CLASS (icloud_hsa2_bridge_parent_class)->dispose (object);
}

static void
icloud_hsa2_bridge_finalize (GObject *object)
{
  ICloudHsa2Bridge *self = ICLOUD_HSA2_BRIDGE (object);

  g_assert (self->waiter == NULL);
  g_clear_object (&self->context);
  g_free (self->host);
  g_free (self->topic);
  g_clear_pointer (&self->headers, soup_message_headers_unref);

  G_OBJECT_CLASS (icloud_hsa2_bridge_parent_class)->finalize (object);
}

static void
icloud_hsa2_bridge_class_init (ICloudHsa2BridgeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = icloud_hsa2_bridge_dispose;
  object_class->finalize = icloud_hsa2_bridge_finalize;
}

static void
icloud_hsa2_bridge_class_finalize (ICloudHsa2BridgeClass *klass)
{
}

static void
icloud_hsa2_bridge_init (ICloudHsa2Bridge *self)
{
  g_queue_init (&self->incoming);
}
