/* icloud-auth-context.c: what an auth method sees of a session
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "icloud-auth-context-private.h"
#include "icloud-session-private.h"
#include "icloud-store-private.h"
#include "icloud-error.h"

/**
 * ICloudAuthContext:
 *
 * The narrow view of a session an auth method works through (in the spirit
 * of GIO's [class@Gio.TlsInteraction]): it sends requests to the session's
 * roots with Apple's headers, reads and writes the method's own slice of
 * the saved session, and tells the Apple ID, the state and the trust token
 * a password proof sends back. The application's [class@ICloud.Session]
 * is not reachable from it: a method cannot read the password (it gets it
 * as an argument of [vfunc@ICloud.AuthMethod.sign_in_async]) nor change the
 * state (it returns what follows, from
 * [vfunc@ICloud.AuthMethod.begin_finish]).
 *
 * A session makes one context for each auth method it uses; it stays valid
 * while the session does. A context made any other way (or outlived by
 * its session) belongs to no session: its requests fail with
 * %ICLOUD_ERROR_NOT_AUTHENTICATED and it has nothing stored.
 */
struct _ICloudAuthContext
{
  GObject parent_instance;

  ICloudSession *session;      /* unowned: the session owns the context */
  char          *method_name;
  char          *prefix;       /* "<method_name>_" */
};

G_DEFINE_FINAL_TYPE (ICloudAuthContext, icloud_auth_context, G_TYPE_OBJECT)

static void
icloud_auth_context_finalize (GObject *object)
{
  ICloudAuthContext *self = ICLOUD_AUTH_CONTEXT (object);

  g_free (self->method_name);
  g_free (self->prefix);

  G_OBJECT_CLASS (icloud_auth_context_parent_class)->finalize (object);
}

static void
icloud_auth_context_class_init (ICloudAuthContextClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = icloud_auth_context_finalize;
}

static void
icloud_auth_context_init (ICloudAuthContext *self)
{
}

ICloudAuthContext *
icloud_auth_context_new (ICloudSession *session,
                         const char    *method_name)
{
  ICloudAuthContext *self = g_object_new (ICLOUD_TYPE_AUTH_CONTEXT, NULL);

  self->session = session;
  self->method_name = g_strdup (method_name);
  self->prefix = g_strconcat (method_name, "_", NULL);
  return self;
}

void
icloud_auth_context_detach (ICloudAuthContext *self)
{
  self->session = NULL;
}

ICloudSession *
icloud_auth_context_get_session (ICloudAuthContext *self)
{
  return self->session;
}

/**
 * icloud_auth_context_get_apple_id:
 * @self: a context
 *
 * Gets the Apple ID being signed in.
 *
 * Returns: the Apple ID (empty for a context of no session)
 */
const char *
icloud_auth_context_get_apple_id (ICloudAuthContext *self)
{
  g_return_val_if_fail (ICLOUD_IS_AUTH_CONTEXT (self), NULL);

  return self->session != NULL ? icloud_session_get_apple_id (self->session) : "";
}

/**
 * icloud_auth_context_get_method_name:
 * @self: a context
 *
 * Gets the name the auth method was registered under: the prefix of its
 * slice of the saved session.
 *
 * Returns: the method's name
 */
const char *
icloud_auth_context_get_method_name (ICloudAuthContext *self)
{
  g_return_val_if_fail (ICLOUD_IS_AUTH_CONTEXT (self), NULL);
  return self->method_name;
}

/**
 * icloud_auth_context_get_state:
 * @self: a context
 *
 * Gets the state of the session (which challenge is pending).
 *
 * Returns: the state
 */
ICloudAuthState
icloud_auth_context_get_state (ICloudAuthContext *self)
{
  g_return_val_if_fail (ICLOUD_IS_AUTH_CONTEXT (self), ICLOUD_AUTH_STATE_SIGNED_OUT);

  return self->session != NULL ? icloud_session_get_state (self->session)
                               : ICLOUD_AUTH_STATE_SIGNED_OUT;
}

/**
 * icloud_auth_context_get_trust_token:
 * @self: a context
 *
 * Gets the long-lived trust token Apple gave when the browser was trusted,
 * which a password proof sends back (`trustTokens`) so that no second
 * factor is asked again.
 *
 * Returns: (nullable): the trust token, or %NULL
 */
const char *
icloud_auth_context_get_trust_token (ICloudAuthContext *self)
{
  g_return_val_if_fail (ICLOUD_IS_AUTH_CONTEXT (self), NULL);

  if (self->session == NULL)
    return NULL;
  return icloud_store_get (icloud_session_get_store (self->session), ICLOUD_DATA_TRUST_TOKEN);
}

static void
send_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  ICloudResponse *response = icloud_session_send_request_finish (ICLOUD_SESSION (source),
                                                                result, &error);

  if (response == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, response, g_object_unref);
}

/* The error of a context that belongs to no session. */
static gboolean
return_if_detached (ICloudAuthContext *self,
                    GTask             *task)
{
  if (self->session != NULL)
    return FALSE;
  g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_NOT_AUTHENTICATED,
                           "This context belongs to no session: only a session gives "
                           "its auth methods a context to send requests through");
  return TRUE;
}

static ICloudResponse *
response_finish (ICloudAuthContext  *self,
                 GAsyncResult       *result,
                 gpointer            source_tag,
                 GError            **error)
{
  g_return_val_if_fail (ICLOUD_IS_AUTH_CONTEXT (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
send_request (ICloudAuthContext   *self,
              const char          *http_method,
              ICloudRoot           root,
              const char          *path,
              JsonNode            *body,
              ICloudRequestFlags   flags,
              SoupMessageHeaders  *headers,
              GCancellable        *cancellable,
              GAsyncReadyCallback  callback,
              gpointer             user_data,
              gpointer             source_tag)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  if (return_if_detached (self, task))
    {
      g_object_unref (task);
      return;
    }
  icloud_session_send_request_full_async (self->session, http_method, root, path, body, flags,
                                          headers, cancellable, send_cb, task);
}

/**
 * icloud_auth_context_send_request_async:
 * @self: a context
 * @http_method: `GET`, `POST`, `PUT`, ...
 * @root: the root the path is under
 * @path: the path under the root, starting with `/` (it may carry a query)
 * @body: (nullable): a JSON body
 * @flags: how to dress the request
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the response
 * @user_data: data for @callback
 *
 * Sends a request to one of the session's roots, with the session's
 * cookies and the headers @flags ask for, through the session's queue,
 * timeout and throttling rules. Apple's session headers and cookies in the
 * answer go into the saved session before @callback runs; tokens do not:
 * a method returns them from its `_finish` virtual methods.
 */
void
icloud_auth_context_send_request_async (ICloudAuthContext   *self,
                                        const char          *http_method,
                                        ICloudRoot           root,
                                        const char          *path,
                                        JsonNode            *body,
                                        ICloudRequestFlags   flags,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  g_return_if_fail (ICLOUD_IS_AUTH_CONTEXT (self));
  g_return_if_fail (http_method != NULL && path != NULL);

  send_request (self, http_method, root, path, body, flags, NULL, cancellable, callback,
                user_data, icloud_auth_context_send_request_async);
}

/**
 * icloud_auth_context_send_request_full_async:
 * @self: a context
 * @http_method: `GET`, `POST`, `PUT`, ...
 * @root: the root the path is under
 * @path: the path under the root, starting with `/` (it may carry a query)
 * @body: (nullable): a JSON body
 * @flags: how to dress the request
 * @headers: (nullable): more request headers (such as Apple's
 *   `X-Apple-App-Id`), set over the ones @flags ask for
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the response
 * @user_data: data for @callback
 *
 * Like [method@ICloud.AuthContext.send_request_async], with headers of the
 * method's own.
 */
void
icloud_auth_context_send_request_full_async (ICloudAuthContext   *self,
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
  g_return_if_fail (ICLOUD_IS_AUTH_CONTEXT (self));
  g_return_if_fail (http_method != NULL && path != NULL);

  send_request (self, http_method, root, path, body, flags, headers, cancellable, callback,
                user_data, icloud_auth_context_send_request_full_async);
}

/**
 * icloud_auth_context_send_request_full_finish:
 * @self: a context
 * @result: the result
 * @error: return location for a #GError
 *
 * Finishes [method@ICloud.AuthContext.send_request_full_async].
 *
 * Returns: (transfer full): the response, whatever its HTTP status; %NULL
 *   only when no answer was read (network error, cancellation, a body over
 *   the size limit or nested too deep)
 */
ICloudResponse *
icloud_auth_context_send_request_full_finish (ICloudAuthContext  *self,
                                              GAsyncResult       *result,
                                              GError            **error)
{
  return response_finish (self, result, icloud_auth_context_send_request_full_async, error);
}

/**
 * icloud_auth_context_send_request_finish:
 * @self: a context
 * @result: the result
 * @error: return location for a #GError
 *
 * Finishes [method@ICloud.AuthContext.send_request_async].
 *
 * Returns: (transfer full): the response, whatever its HTTP status; %NULL
 *   only when no answer was read (network error, cancellation, a body over
 *   the size limit or nested too deep)
 */
ICloudResponse *
icloud_auth_context_send_request_finish (ICloudAuthContext  *self,
                                         GAsyncResult       *result,
                                         GError            **error)
{
  return response_finish (self, result, icloud_auth_context_send_request_async, error);
}

static void
websocket_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  SoupWebsocketConnection *ws;

  ws = icloud_session_connect_websocket_finish (ICLOUD_SESSION (source), result, &error);
  if (ws == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, ws, g_object_unref);
}

/**
 * icloud_auth_context_connect_websocket_async:
 * @self: a context
 * @host: the host name of one of Apple's services (`websocket.push.apple.com`)
 * @path: the path, starting with `/`
 * @origin: (nullable): the `Origin` header of the handshake
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once the WebSocket is open, or failed
 * @user_data: data for @callback
 *
 * Opens a WebSocket to `wss://HOST/PATH` through the session's own
 * `SoupSession` (its TLS database, its `remote-connectable` routing): no
 * cookies, no WebSocket extension, no sub-protocol, within the session's
 * [property@ICloud.Session:timeout]. For an endpoint made by
 * [ctor@ICloud.Endpoint.new_for_base_uri] on a loopback host (the fake
 * server's one-origin mode), it goes to that origin instead (`ws://` for
 * `http://`), as the session's other roots do. Plain `ws://` never goes to
 * any other host.
 *
 * The connection runs on the thread-default main context of the call;
 * the method owns it and closes it
 * ([method@Soup.WebsocketConnection.close]) when done.
 */
void
icloud_auth_context_connect_websocket_async (ICloudAuthContext   *self,
                                             const char          *host,
                                             const char          *path,
                                             const char          *origin,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (ICLOUD_IS_AUTH_CONTEXT (self));
  g_return_if_fail (host != NULL && path != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, icloud_auth_context_connect_websocket_async);
  if (return_if_detached (self, task))
    return;
  icloud_session_connect_websocket_async (self->session, host, path, origin, cancellable,
                                          websocket_cb, g_steal_pointer (&task));
}

/**
 * icloud_auth_context_connect_websocket_finish:
 * @self: a context
 * @result: the result
 * @error: return location for a #GError
 *
 * Finishes [method@ICloud.AuthContext.connect_websocket_async].
 *
 * Returns: (transfer full): the open WebSocket, or %NULL (a network or TLS
 *   error, a refused upgrade as a #SoupWebsocketError,
 *   %G_IO_ERROR_TIMED_OUT, %G_IO_ERROR_CANCELLED)
 */
SoupWebsocketConnection *
icloud_auth_context_connect_websocket_finish (ICloudAuthContext  *self,
                                              GAsyncResult       *result,
                                              GError            **error)
{
  g_return_val_if_fail (ICLOUD_IS_AUTH_CONTEXT (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == icloud_auth_context_connect_websocket_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * icloud_auth_context_get_timeout:
 * @self: a context
 *
 * Gets the session's [property@ICloud.Session:timeout], which a method
 * also applies to what it waits for by itself (a message on a WebSocket).
 *
 * Returns: seconds, or 0 for no limit
 */
guint
icloud_auth_context_get_timeout (ICloudAuthContext *self)
{
  g_return_val_if_fail (ICLOUD_IS_AUTH_CONTEXT (self), 0);

  return self->session != NULL ? icloud_session_get_timeout (self->session) : 0;
}

/**
 * icloud_auth_context_get_trusted_device_bridge:
 * @self: a context
 *
 * Whether a code request may use the trusted-device bridge: the session's
 * [property@ICloud.Session:trusted-device-bridge], and the call running
 * on the session's own main context (a blocking twin's private context
 * is gone when the call returns, and with it any connection made in it).
 *
 * Returns: %TRUE if the bridge may be used
 */
gboolean
icloud_auth_context_get_trusted_device_bridge (ICloudAuthContext *self)
{
  g_autoptr(GMainContext) current = NULL;

  g_return_val_if_fail (ICLOUD_IS_AUTH_CONTEXT (self), FALSE);

  if (self->session == NULL || !icloud_session_get_trusted_device_bridge (self->session))
    return FALSE;
  current = g_main_context_ref_thread_default ();
  return current == self->session->context;
}

/**
 * icloud_auth_context_set_code_delivery:
 * @self: a context
 * @delivery: the route a code was just requested by
 *
 * Tells the session which route the code request that is ending used
 * ([property@ICloud.Session:code-delivery]).
 */
void
icloud_auth_context_set_code_delivery (ICloudAuthContext  *self,
                                       ICloudCodeDelivery  delivery)
{
  g_return_if_fail (ICLOUD_IS_AUTH_CONTEXT (self));

  if (self->session != NULL)
    icloud_session_set_code_delivery (self->session, delivery);
}

/**
 * icloud_auth_context_lookup:
 * @self: a context
 * @key: a key of the method's own slice
 *
 * Looks up a value the method saved with [method@ICloud.AuthContext.store]
 * (in this process or an earlier one).
 *
 * Returns: (nullable): the value, or %NULL
 */
const char *
icloud_auth_context_lookup (ICloudAuthContext *self,
                            const char        *key)
{
  g_autofree char *full = NULL;

  g_return_val_if_fail (ICLOUD_IS_AUTH_CONTEXT (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);

  if (self->session == NULL)
    return NULL;
  full = g_strconcat (self->prefix, key, NULL);
  return icloud_store_get (icloud_session_get_store (self->session), full);
}

/**
 * icloud_auth_context_store:
 * @self: a context
 * @key: a key of the method's own slice
 * @value: (nullable): a UTF-8 value, or %NULL to remove the key
 *
 * Saves a value in the method's slice of the saved session (the keys are
 * kept apart from other methods' and from the session's own, under the
 * method's name); it is written when the operation ends. A method keeps
 * there what a later process needs to go on with a challenge (the phone
 * a code was sent to). Secrets that outlive the challenge do not belong
 * here.
 */
void
icloud_auth_context_store (ICloudAuthContext *self,
                           const char        *key,
                           const char        *value)
{
  g_autofree char *full = NULL;

  g_return_if_fail (ICLOUD_IS_AUTH_CONTEXT (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (value == NULL || g_utf8_validate (value, -1, NULL));

  if (self->session == NULL)
    return;
  full = g_strconcat (self->prefix, key, NULL);
  icloud_store_set (icloud_session_get_store (self->session), full, value);
}
