/* icloud-transport.c: how a session's requests reach Apple: the shared
 * SoupSession, the request gate (at most MAX_REQUESTS_IN_FLIGHT per main
 * context, the rest queued in order), timeouts, throttle retries and the
 * body limit (protocol §2)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "icloud-account-info-private.h"
#include "icloud-crypto-private.h"
#include "icloud-endpoint-private.h"
#include "icloud-enum-types.h"
#include "icloud-error.h"
#include "icloud-error-private.h"
#include "icloud-plugin-loader-private.h"
#include "icloud-request-private.h"
#include "icloud-response-private.h"
#include "icloud-session-private.h"
#include "icloud-json-private.h"
#include "icloud-text-private.h"

/* One SoupSession for every ICloudSession of the process that brought none
 * of its own: one connection pool, TLS database and resolver however many
 * accounts are signed in. It is safe because each account's cookies live in
 * its own jar (see icloud_request_build ()). It goes away, with its
 * connections, once the last session using it is closed or finalized. */
static SoupSession *
new_soup_session (void)
{
  /* ICLOUD_DEBUG=http logs headers, =http-body bodies too, =all both (as
   * G_MESSAGES_DEBUG=all does); secrets are redacted either way, and it
   * all goes to stderr. */
  static const GDebugKey debug_keys[] = {
    { "http", 1 << 0 },
    { "http-body", 1 << 1 },
  };
  guint debug = g_parse_debug_string (g_getenv ("ICLOUD_DEBUG"), debug_keys,
                                      G_N_ELEMENTS (debug_keys));
  SoupSession *soup;

  /* The request gate keeps at most MAX_REQUESTS_IN_FLIGHT requests of a
   * main context with libsoup, so at most that many idle connections stay
   * pooled. */
  soup = soup_session_new_with_options ("user-agent", ICLOUD_USER_AGENT,
                                        "timeout", 60,
                                        "max-conns", 16 * MAX_REQUESTS_IN_FLIGHT,
                                        "max-conns-per-host", 4 * MAX_REQUESTS_IN_FLIGHT,
                                        NULL);
  if (debug != 0)
    {
      g_autoptr(SoupLogger) logger =
        icloud_request_new_redacting_logger ((debug & (1 << 1)) != 0);
      soup_session_add_feature (soup, SOUP_SESSION_FEATURE (logger));
    }
  return soup;
}

SoupSession *
icloud_session_dup_shared_soup_session (void)
{
  static GMutex lock;
  static GWeakRef shared;
  SoupSession *soup;

  g_mutex_lock (&lock);
  soup = g_weak_ref_get (&shared);
  if (soup == NULL)
    {
      soup = new_soup_session ();
      g_weak_ref_set (&shared, soup);
    }
  g_mutex_unlock (&lock);

  return soup;
}

/* The SoupSession of a blocking twin's private main context, made for the
 * call and dropped with it: libsoup 3.2 ties a connection to the context it
 * was made in, and one made in a context that is gone would never be
 * reused nor cleaned up (the shared pool then fills up, and waits
 * forever). */
static SoupSession *
get_blocking_soup_session (ICloudSession *self,
                           GMainContext  *context)
{
  if (self->blocking_soup == NULL || self->blocking_context != context)
    {
      g_clear_object (&self->blocking_soup);
      self->blocking_soup = new_soup_session ();
      self->blocking_context = context;
    }
  return self->blocking_soup;
}

void
icloud_session_drop_blocking_soup_session (ICloudSession *self)
{
  if (self->blocking_soup != NULL)
    soup_session_abort (self->blocking_soup);
  g_clear_object (&self->blocking_soup);
  self->blocking_context = NULL;
}

/* ------------------------------------------------------------------------ */
/* The plugin API: send a request */

static const char *
root_uri (ICloudSession *self,
          ICloudRoot     root)
{
  switch (root)
    {
    case ICLOUD_ROOT_AUTH:
      return icloud_endpoint_get_auth_uri (self->endpoint);
    case ICLOUD_ROOT_SETUP:
      return icloud_endpoint_get_setup_uri (self->endpoint);
    case ICLOUD_ROOT_HOME:
    default:
      return icloud_endpoint_get_home_uri (self->endpoint);
    }
}

static void
request_context_init (ICloudSession        *self,
                      ICloudRequestContext *ctx)
{
  ctx->home_uri = icloud_endpoint_get_home_uri (self->endpoint);
  ctx->auth_uri = icloud_endpoint_get_auth_uri (self->endpoint);
  ctx->client_id = self->client_id;
  ctx->store = self->store;
}

typedef struct {
  SoupMessage        *msg;
  GByteArray         *body;
  char               *log_path;
  /* what is needed to send it again */
  char               *http_method;
  char               *uri;
  JsonNode           *request_body;
  SoupMessageHeaders *extra_headers;
  ICloudRequestFlags  flags;
  guint               throttle_attempts;
  GSource            *wait_source;
  GSource            *cancel_source;
  /* the request's own cancellable: the caller's, or the timeout */
  GCancellable       *io_cancellable;
  gulong              cancelled_id;
  GSource            *timeout_source;
  guint               timeout;
  gboolean            timed_out;
  GCancellable       *caller_cancellable;
  struct _RequestGate *gate;
  gboolean            holds_slot;
} RequestData;

typedef struct _RequestGate {
  guint  in_flight;
  GQueue waiting;     /* GTask, one reference each */
} RequestGate;

static void request_send_now (GTask *task);

/* One gate per main context; only touched from that context's thread. */
static RequestGate *
request_gate_for_context (GMainContext *context)
{
  static GMutex lock;
  static GHashTable *gates;
  RequestGate *gate;

  g_mutex_lock (&lock);
  if (gates == NULL)
    gates = g_hash_table_new (NULL, NULL);
  gate = g_hash_table_lookup (gates, context);
  if (gate == NULL)
    {
      gate = g_new0 (RequestGate, 1);
      g_queue_init (&gate->waiting);
      g_hash_table_insert (gates, context, gate);
    }
  g_mutex_unlock (&lock);

  return gate;
}

static void
request_release_slot (RequestData *data)
{
  RequestGate *gate = data->gate;

  if (!data->holds_slot)
    return;
  data->holds_slot = FALSE;
  gate->in_flight--;

  while (gate->in_flight < MAX_REQUESTS_IN_FLIGHT && !g_queue_is_empty (&gate->waiting))
    {
      GTask *next = g_queue_pop_head (&gate->waiting);
      RequestData *next_data = g_task_get_task_data (next);

      if (g_task_return_error_if_cancelled (next))
        {
          g_object_unref (next);
          continue;
        }
      gate->in_flight++;
      next_data->holds_slot = TRUE;
      request_send_now (next);
    }
}

static void
request_data_clear_wait (RequestData *data)
{
  if (data->wait_source != NULL)
    {
      g_source_destroy (data->wait_source);
      g_clear_pointer (&data->wait_source, g_source_unref);
    }
  if (data->cancel_source != NULL)
    {
      g_source_destroy (data->cancel_source);
      g_clear_pointer (&data->cancel_source, g_source_unref);
    }
}

static void
request_data_clear_timeout (RequestData *data)
{
  if (data->timeout_source != NULL)
    {
      g_source_destroy (data->timeout_source);
      g_clear_pointer (&data->timeout_source, g_source_unref);
    }
}

static void
request_data_free (RequestData *data)
{
  request_release_slot (data);
  request_data_clear_wait (data);
  request_data_clear_timeout (data);
  if (data->caller_cancellable != NULL)
    {
      g_cancellable_disconnect (data->caller_cancellable, data->cancelled_id);
      g_clear_object (&data->caller_cancellable);
    }
  g_clear_object (&data->io_cancellable);
  g_clear_object (&data->msg);
  g_free (data->http_method);
  g_free (data->uri);
  g_clear_pointer (&data->request_body, json_node_unref);
  g_clear_pointer (&data->extra_headers, soup_message_headers_unref);
  if (data->body != NULL)
    {
      icloud_crypto_wipe (data->body->data, data->body->len);
      g_byte_array_unref (data->body);
    }
  g_free (data->log_path);
  g_free (data);
}

static void read_body_cb (GObject *source, GAsyncResult *result, gpointer user_data);
static void request_send (GTask *task);

/* Returns an I/O error, as a timeout when the timeout was the cause. */
static void
request_return_io_error (GTask  *task,
                         GError *error)
{
  RequestData *data = g_task_get_task_data (task);

  request_data_clear_timeout (data);
  request_release_slot (data);
  if (data->timed_out)
    {
      g_clear_error (&error);
      error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                           "Apple did not answer %s %s within %u s",
                           data->http_method, data->log_path, data->timeout);
    }
  g_task_return_error (task, error);
  g_object_unref (task);
}

static gboolean
request_timed_out (gpointer user_data)
{
  RequestData *data = user_data;

  data->timed_out = TRUE;
  g_clear_pointer (&data->timeout_source, g_source_unref);
  g_cancellable_cancel (data->io_cancellable);
  return G_SOURCE_REMOVE;
}

static void
caller_cancelled (GCancellable *cancellable,
                  GCancellable *io_cancellable)
{
  g_cancellable_cancel (io_cancellable);
}

static gboolean
request_wait_done (gpointer user_data)
{
  GTask *task = user_data;
  RequestData *data = g_task_get_task_data (task);

  request_data_clear_wait (data);
  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return G_SOURCE_REMOVE;
    }
  request_send (task);
  return G_SOURCE_REMOVE;
}

/* The optional, bounded backoff after throttling: Apple's Retry-After, or
 * 2^n seconds with jitter, never more than a minute, and only for requests
 * that are safe to repeat. */
static gboolean
request_maybe_wait (GTask          *task,
                    ICloudResponse *response)
{
  ICloudSession *self = g_task_get_source_object (task);
  RequestData *data = g_task_get_task_data (task);
  guint delay_ms;

  if (!(data->flags & ICLOUD_REQUEST_IDEMPOTENT) ||
      data->throttle_attempts >= self->throttle_retries)
    return FALSE;

  delay_ms = icloud_response_get_retry_after (response) * 1000;
  if (delay_ms == 0)
    delay_ms = (1000u << MIN (data->throttle_attempts, 5)) +
               g_random_int_range (0, 500);
  delay_ms = MIN (delay_ms, 60 * 1000);
  data->throttle_attempts++;

  g_debug ("%s %s throttled; trying again in %u ms", data->http_method, data->log_path, delay_ms);

  data->wait_source = g_timeout_source_new (delay_ms);
  g_task_attach_source (task, data->wait_source, request_wait_done);
  if (g_task_get_cancellable (task) != NULL)
    {
      data->cancel_source = g_cancellable_source_new (g_task_get_cancellable (task));
      g_task_attach_source (task, data->cancel_source, request_wait_done);
    }
  return TRUE;
}

static void
request_finish (GTask *task)
{
  ICloudSession *self = g_task_get_source_object (task);
  RequestData *data = g_task_get_task_data (task);
  ICloudRequestContext ctx;
  g_autoptr(GBytes) body = NULL;
  ICloudResponse *response;
  guint status = soup_message_get_status (data->msg);

  request_data_clear_timeout (data);
  request_release_slot (data);

  /* A 421 (Misdirected Request) was already sent once more on a new
   * connection by libsoup itself, before anything of its answer touched the
   * session (see icloud_request_build ()); a second one is an answer. */

  request_context_init (self, &ctx);
  icloud_request_capture (&ctx, data->msg);

  g_debug ("%s %s -> %u", soup_message_get_method (data->msg), data->log_path, status);

  /* json-glib's parser recurses once per level: a document nested deeper
   * than any of Apple's is refused before anything parses it. */
  if (icloud_json_check_depth ((const char *) data->body->data, data->body->len,
                               ICLOUD_JSON_MAX_DEPTH) == ICLOUD_JSON_DEPTH_TOO_DEEP)
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                               "Apple's answer to %s nests deeper than %u levels",
                               data->log_path, ICLOUD_JSON_MAX_DEPTH);
      g_object_unref (task);
      return;
    }

  body = g_bytes_new (data->body->data, data->body->len);
  response = icloud_response_new (status,
                                  soup_message_get_response_headers (data->msg),
                                  body);

  if (status == SOUP_STATUS_SERVICE_UNAVAILABLE || status == 429)
    {
      icloud_session_set_retry_after (self, icloud_response_get_retry_after (response));
      if (request_maybe_wait (task, response))
        {
          g_object_unref (response);
          return;
        }
    }

  g_task_return_pointer (task, response, g_object_unref);
  g_object_unref (task);
}

static void
read_body_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GTask *task = user_data;
  RequestData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) chunk = NULL;

  chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  if (chunk == NULL)
    {
      request_return_io_error (task, g_steal_pointer (&error));
      return;
    }

  if (g_bytes_get_size (chunk) == 0)
    {
      request_finish (task);
      return;
    }

  if (data->body->len + g_bytes_get_size (chunk) > ICLOUD_RESPONSE_MAX_BODY)
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                               "Apple's answer to %s is larger than %u bytes",
                               data->log_path, ICLOUD_RESPONSE_MAX_BODY);
      g_object_unref (task);
      return;
    }

  g_byte_array_append (data->body, g_bytes_get_data (chunk, NULL), g_bytes_get_size (chunk));
  g_input_stream_read_bytes_async (G_INPUT_STREAM (source), 64 * 1024, G_PRIORITY_DEFAULT,
                                   data->io_cancellable, read_body_cb, task);
}

static void
send_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  GTask *task = user_data;
  RequestData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GInputStream) stream = NULL;

  stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (stream == NULL)
    {
      request_return_io_error (task, g_steal_pointer (&error));
      return;
    }

  g_input_stream_read_bytes_async (stream, 64 * 1024, G_PRIORITY_DEFAULT,
                                   data->io_cancellable, read_body_cb, task);
}

/*
 * icloud_session_send_request_async:
 * @self: a session
 * @http_method: the HTTP method
 * @root: the root of the session's endpoint the @path is under
 * @path: the path below @root, with its query if any (`/signin/init`)
 * @body: (nullable): the JSON body, or %NULL for none
 * @flags: how to dress the request
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the answer has been read
 * @user_data: data for @callback
 *
 * Sends a request with the session's headers and cookies (protocol §2), for
 * auth-method plugins. The answer's session headers and cookies are stored
 * in the session whatever its status. Only for use during an operation of
 * the session (a plugin's virtual method).
 */
void
icloud_session_send_request_async (ICloudSession       *self,
                                   const char          *http_method,
                                   ICloudRoot           root,
                                   const char          *path,
                                   JsonNode            *body,
                                   ICloudRequestFlags   flags,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  icloud_session_send_request_full_async (self, http_method, root, path, body, flags, NULL,
                                          cancellable, callback, user_data);
}

/* Same, with @headers (nullable) set on the request over the ones @flags
 * ask for. Finished by icloud_session_send_request_finish (). */
void
icloud_session_send_request_full_async (ICloudSession       *self,
                                        const char          *http_method,
                                        ICloudRoot           root,
                                        const char          *path,
                                        JsonNode            *body,
                                        ICloudRequestFlags   flags,
                                        SoupMessageHeaders  *headers,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  RequestData *data;

  g_return_if_fail (ICLOUD_IS_SESSION (self));
  g_return_if_fail (http_method != NULL);
  g_return_if_fail (path != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, icloud_session_send_request_async);

  if (self->endpoint == NULL || self->soup == NULL)
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_NOT_AUTHENTICATED,
                               "Requests can only be sent during an operation of the session");
      return;
    }

  data = g_new0 (RequestData, 1);
  data->body = g_byte_array_new ();
  {
    const char *query = strchr (path, '?');
    data->log_path = query ? g_strndup (path, query - path) : g_strdup (path);
  }
  data->http_method = g_strdup (http_method);
  data->uri = g_strconcat (root_uri (self, root), path, NULL);
  data->request_body = body ? json_node_ref (body) : NULL;
  data->extra_headers = headers ? soup_message_headers_ref (headers) : NULL;
  data->flags = flags;
  g_task_set_task_data (task, data, (GDestroyNotify) request_data_free);

  request_send (g_steal_pointer (&task));
}

/* Sends the request now, or queues it behind the requests of its main
 * context already with libsoup; takes the task's reference. */
static void
request_send (GTask *task)
{
  ICloudSession *self = g_task_get_source_object (task);
  RequestData *data = g_task_get_task_data (task);
  g_autoptr(GMainContext) current = g_main_context_ref_thread_default ();

  /* Only the session's own context is gated: a blocking twin's private
   * context must never wait behind requests it does not dispatch. */
  if (current == self->context && !data->holds_slot)
    {
      data->gate = request_gate_for_context (self->context);
      if (data->gate->in_flight >= MAX_REQUESTS_IN_FLIGHT)
        {
          g_queue_push_tail (&data->gate->waiting, task);
          return;
        }
      data->gate->in_flight++;
      data->holds_slot = TRUE;
    }

  request_send_now (task);
}

/* Builds the message afresh (cookies and headers as they are now) and sends
 * it; takes the task's reference. */
static void
request_send_now (GTask *task)
{
  ICloudSession *self = g_task_get_source_object (task);
  RequestData *data = g_task_get_task_data (task);
  SoupSession *soup = self->soup;
  g_autoptr(GError) error = NULL;
  ICloudRequestContext ctx;

  request_context_init (self, &ctx);
  g_clear_object (&data->msg);
  icloud_crypto_wipe (data->body->data, data->body->len);
  g_byte_array_set_size (data->body, 0);

  data->msg = icloud_request_build (&ctx, data->http_method, data->uri,
                                    data->request_body, data->flags, &error);
  if (data->msg == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  if (data->extra_headers != NULL)
    {
      SoupMessageHeadersIter iter;
      const char *name, *value;

      soup_message_headers_iter_init (&iter, data->extra_headers);
      while (soup_message_headers_iter_next (&iter, &name, &value))
        soup_message_headers_replace (soup_message_get_request_headers (data->msg), name, value);
    }

  if (data->io_cancellable == NULL)
    {
      data->io_cancellable = g_cancellable_new ();
      if (g_task_get_cancellable (task) != NULL)
        {
          data->caller_cancellable = g_object_ref (g_task_get_cancellable (task));
          data->cancelled_id = g_cancellable_connect (data->caller_cancellable,
                                                      G_CALLBACK (caller_cancelled),
                                                      g_object_ref (data->io_cancellable),
                                                      g_object_unref);
        }
    }

  data->timeout = self->timeout;
  if (data->timeout > 0)
    {
      data->timeout_source = g_timeout_source_new_seconds (data->timeout);
      g_source_set_callback (data->timeout_source, request_timed_out, data, NULL);
      g_source_set_static_name (data->timeout_source, "[icloud] request timeout");
      g_source_attach (data->timeout_source, g_main_context_get_thread_default ());
    }

  /* libsoup 3.2 ties a pooled connection to the main context it was made
   * in. A request from another context than the session's own (a blocking
   * twin's private one) goes through a SoupSession of that call; through a
   * SoupSession the caller brought, it takes a new connection and closes it
   * after the answer (the caller's session should allow a few connections
   * per host beyond its own pool: libsoup cannot clean up a connection of
   * a context that is gone). */
  if (data->gate == NULL && !self->own_soup)
    {
      g_autoptr(GMainContext) current = g_main_context_ref_thread_default ();
      soup = get_blocking_soup_session (self, current);
    }
  else if (data->gate == NULL)
    {
      soup_message_add_flags (data->msg, SOUP_MESSAGE_NEW_CONNECTION);
      soup_message_headers_replace (soup_message_get_request_headers (data->msg),
                                    "Connection", "close");
    }

  soup_session_send_async (soup, data->msg, G_PRIORITY_DEFAULT,
                           data->io_cancellable, send_cb, task);
}

/*
 * icloud_session_send_request_finish:
 * @self: a session
 * @result: the result
 * @error: return location for a #GError
 *
 * Finishes [method@ICloud.Session.send_request_async].
 *
 * Returns: (transfer full): the response, whatever its HTTP status; %NULL
 *   only when no answer was read (network error, cancellation, a body over
 *   the size limit)
 */
ICloudResponse *
icloud_session_send_request_finish (ICloudSession  *self,
                                    GAsyncResult   *result,
                                    GError        **error)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == icloud_session_send_request_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------------ */
/* The plugin API: a WebSocket to one of Apple's hosts */

typedef struct {
  GCancellable *io_cancellable;   /* the caller's, or the timeout */
  GCancellable *caller_cancellable;
  gulong        cancelled_id;
  GSource      *timeout_source;
  guint         timeout;
  gboolean      timed_out;
  char         *host;
} WebsocketData;

static void
websocket_data_free (WebsocketData *data)
{
  if (data->timeout_source != NULL)
    {
      g_source_destroy (data->timeout_source);
      g_source_unref (data->timeout_source);
    }
  if (data->caller_cancellable != NULL)
    {
      g_cancellable_disconnect (data->caller_cancellable, data->cancelled_id);
      g_object_unref (data->caller_cancellable);
    }
  g_clear_object (&data->io_cancellable);
  g_free (data->host);
  g_free (data);
}

static gboolean
websocket_timed_out (gpointer user_data)
{
  WebsocketData *data = user_data;

  data->timed_out = TRUE;
  g_clear_pointer (&data->timeout_source, g_source_unref);
  g_cancellable_cancel (data->io_cancellable);
  return G_SOURCE_REMOVE;
}

static void
websocket_connect_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  WebsocketData *data = g_task_get_task_data (task);
  GError *error = NULL;
  SoupWebsocketConnection *ws;

  ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (ws == NULL)
    {
      if (data->timed_out && !g_cancellable_is_cancelled (g_task_get_cancellable (task)))
        {
          g_clear_error (&error);
          error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                               "%s did not open a WebSocket within %u s", data->host, data->timeout);
        }
      g_task_return_error (task, error);
      return;
    }
  g_debug ("WebSocket to %s open", data->host);
  g_task_return_pointer (task, ws, g_object_unref);
}

/*
 * icloud_session_connect_websocket_async:
 *
 * See icloud_auth_context_connect_websocket_async (): through the session's
 * SoupSession, without cookies nor WebSocket extensions, within the
 * session's timeout. Finished by icloud_session_connect_websocket_finish ().
 */
void
icloud_session_connect_websocket_async (ICloudSession       *self,
                                        const char          *host,
                                        const char          *path,
                                        const char          *origin,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GMainContext) current = g_main_context_ref_thread_default ();
  g_autofree char *uri = NULL;
  GError *error = NULL;
  WebsocketData *data;
  SoupSession *soup;

  g_return_if_fail (ICLOUD_IS_SESSION (self));
  g_return_if_fail (host != NULL && path != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, icloud_session_connect_websocket_async);

  if (self->endpoint == NULL || self->soup == NULL)
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_NOT_AUTHENTICATED,
                               "A WebSocket can only be opened during an operation of the session");
      return;
    }

  uri = icloud_endpoint_dup_websocket_uri (self->endpoint, host, path[0] == '/' ? path : "/", &error);
  if (uri == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  msg = soup_message_new ("GET", uri);
  if (msg == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "Not a valid WebSocket URI");
      return;
    }
  /* Never to wherever a redirect points (icloud_request_build ()). */
  soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
  /* Like pyicloud (hsa2-bridge.md §c.1): no cookies, no permessage-deflate. */
  soup_message_disable_feature (msg, SOUP_TYPE_COOKIE_JAR);
  soup_message_disable_feature (msg, SOUP_TYPE_WEBSOCKET_EXTENSION_MANAGER);

  data = g_new0 (WebsocketData, 1);
  data->host = g_strdup (host);
  data->io_cancellable = g_cancellable_new ();
  g_task_set_task_data (task, data, (GDestroyNotify) websocket_data_free);
  if (cancellable != NULL)
    {
      data->caller_cancellable = g_object_ref (cancellable);
      data->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (caller_cancelled),
                                                  g_object_ref (data->io_cancellable),
                                                  g_object_unref);
    }
  data->timeout = self->timeout;
  if (data->timeout > 0)
    {
      data->timeout_source = g_timeout_source_new_seconds (data->timeout);
      g_source_set_callback (data->timeout_source, websocket_timed_out, data, NULL);
      g_source_set_static_name (data->timeout_source, "[icloud] websocket timeout");
      g_source_attach (data->timeout_source, current);
    }

  /* As for requests: a blocking twin's private context has a SoupSession
   * of its own (see request_send_now ()). */
  soup = self->soup;
  if (current != self->context && !self->own_soup)
    soup = get_blocking_soup_session (self, current);

  soup_session_websocket_connect_async (soup, msg, origin, NULL, G_PRIORITY_DEFAULT,
                                        data->io_cancellable, websocket_connect_cb,
                                        g_steal_pointer (&task));
}

SoupWebsocketConnection *
icloud_session_connect_websocket_finish (ICloudSession  *self,
                                         GAsyncResult   *result,
                                         GError        **error)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == icloud_session_connect_websocket_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
