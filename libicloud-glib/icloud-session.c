/* icloud-session.c: a signed-in iCloud session
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "icloud-account-info-private.h"
#include "icloud-crypto-private.h"
#include "icloud-enum-types.h"
#include "icloud-error.h"
#include "icloud-error-private.h"
#include "icloud-plugin-loader-private.h"
#include "icloud-request-private.h"
#include "icloud-response-private.h"
#include "icloud-session-private.h"
#include "icloud-json-private.h"
#include "icloud-text-private.h"

/**
 * ICloudSession:
 *
 * One Apple ID signed in to iCloud the way icloud.com does it.
 *
 * Initialising a session signs it in (like pyicloud's `create()`): it first
 * validates the session saved on disk, then tries the stored session token,
 * and only then proves the password with SRP. Initialisation succeeds once the
 * password is accepted, even while a second factor is pending:
 * [property@ICloud.Session:state] says what comes next.
 *
 * ```c
 * g_autoptr(GError) error = NULL;
 * g_autoptr(ICloudSession) session =
 *   icloud_session_new_sync ("user@example.com", password, NULL, &error);
 *
 * if (session && icloud_session_get_state (session) == ICLOUD_AUTH_STATE_NEEDS_2FA)
 *   {
 *     icloud_session_request_2fa_code (session, NULL, NULL, &error);
 *     icloud_session_validate_2fa_code (session, code, NULL, &error);
 *   }
 * ```
 *
 * Every network operation has an `_async`/`_finish` pair and a blocking twin
 * that runs the same asynchronous code on a private main context. One
 * operation runs at a time on a session; a second one fails with
 * %G_IO_ERROR_PENDING. A session is used from one thread.
 *
 * The session is saved in [property@ICloud.Session:cookie-directory], one
 * 0600 file per account in a 0700 directory, written atomically and only when
 * it changed, or in the keyring when [property@ICloud.Session:secret-store]
 * says so. An advisory lock per account keeps two processes from
 * corrupting it: while another process runs an operation on the same account,
 * an operation fails with %ICLOUD_ERROR_STORAGE.
 *
 * The password given to a session is wiped from memory once Apple has
 * answered the proof made from it.
 */

struct _ICloudSession
{
  GObject parent_instance;

  char            *apple_id;
  char            *password;
  char            *region;
  ICloudEndpoint  *endpoint;
  char            *cookie_directory;
  ICloudSecretStore secret_store;
  char            *client_id;
  char            *sign_in_method;
  SoupSession     *soup;
  gboolean         own_soup;       /* given through soup-session */
  GMainContext    *context;        /* thread-default when created */
  SoupSession     *blocking_soup;  /* of a blocking twin's call */
  GMainContext    *blocking_context;

  ICloudStore     *store;
  GHashTable      *methods;        /* name → ICloudAuthMethod */

  guint            throttle_retries;
  guint            max_password_sign_ins;
  guint            timeout;

  ICloudAuthState  state;
  GBytes          *account_doc;    /* Apple's latest account document */
  JsonNode        *account_info;   /* parsed from it when asked for */
  gboolean         trusted;
  char            *account_name;
  guint            retry_after;

  gboolean         busy;
  gboolean         initialized;
  GError          *invalid;          /* a construct property that cannot be used */
};

enum {
  PROP_0,
  PROP_APPLE_ID,
  PROP_PASSWORD,
  PROP_REGION,
  PROP_ENDPOINT,
  PROP_COOKIE_DIRECTORY,
  PROP_SECRET_STORE,
  PROP_CLIENT_ID,
  PROP_SOUP_SESSION,
  PROP_SIGN_IN_METHOD,
  PROP_ACCOUNT_NAME,
  PROP_STATE,
  PROP_REQUIRES_2FA,
  PROP_REQUIRES_2SA,
  PROP_IS_TRUSTED_SESSION,
  PROP_ACCOUNT_INFO,
  PROP_RETRY_AFTER,
  PROP_THROTTLE_RETRIES,
  PROP_MAX_PASSWORD_SIGN_INS,
  PROP_TIMEOUT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* At most this many requests of one main context are with libsoup at once;
 * the others wait in the session's queue, in order. libsoup 3.2 walks its
 * whole queue against its connections on every step, so hundreds of
 * sign-ins queued there stall the main loop for seconds; a queue of our own
 * costs nothing. */
#define MAX_REQUESTS_IN_FLIGHT 16

#define ICLOUD_DEFAULT_MAX_PASSWORD_SIGN_INS 5
#define PASSWORD_SIGN_IN_WINDOW (15 * 60)
#define DATA_PASSWORD_SIGN_INS "password_sign_ins"

static void icloud_session_initable_iface_init       (GInitableIface      *iface);
static void icloud_session_async_initable_iface_init (GAsyncInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (ICloudSession, icloud_session, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      icloud_session_initable_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_ASYNC_INITABLE,
                                                      icloud_session_async_initable_iface_init))

/* ------------------------------------------------------------------------ */
/* Blocking twins: the async code on a private main context (libsecret's way) */

typedef struct {
  GMainContext  *context;
  GAsyncResult  *result;
  ICloudSession *session;
} SyncData;

static void drop_blocking_soup_session (ICloudSession *self);

static void
sync_data_init (SyncData      *data,
                ICloudSession *session)
{
  data->context = g_main_context_new ();
  data->result = NULL;
  data->session = session;
  g_main_context_push_thread_default (data->context);
}

static void
sync_ready_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  SyncData *data = user_data;

  data->result = g_object_ref (result);
  g_main_context_wakeup (data->context);
}

static void
sync_data_wait (SyncData *data)
{
  while (data->result == NULL)
    g_main_context_iteration (data->context, TRUE);
  g_main_context_pop_thread_default (data->context);
}

static void
sync_data_clear (SyncData *data)
{
  if (data->session != NULL)
    drop_blocking_soup_session (data->session);
  g_clear_object (&data->result);
  g_clear_pointer (&data->context, g_main_context_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SyncData, sync_data_clear)

/* ------------------------------------------------------------------------ */
/* State */

static void
set_state (ICloudSession   *self,
           ICloudAuthState  state)
{
  ICloudAuthState old = self->state;

  if (old == state)
    return;

  self->state = state;
  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
  if ((old == ICLOUD_AUTH_STATE_NEEDS_2FA) != (state == ICLOUD_AUTH_STATE_NEEDS_2FA))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REQUIRES_2FA]);
  if ((old == ICLOUD_AUTH_STATE_NEEDS_2SA) != (state == ICLOUD_AUTH_STATE_NEEDS_2SA))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REQUIRES_2SA]);
  g_object_thaw_notify (G_OBJECT (self));
}

static void
set_retry_after (ICloudSession *self,
                 guint          retry_after)
{
  if (self->retry_after == retry_after)
    return;
  self->retry_after = retry_after;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RETRY_AFTER]);
}

/* Takes in an accountLogin/validate answer (protocol §5.5). Only the raw
 * document is kept (a JSON tree costs ten times its text); the
 * account-info property parses it again when someone asks. */
static gboolean
apply_account_info (ICloudSession   *self,
                    ICloudResponse  *response,
                    GError         **error)
{
  g_auto(ICloudAccountInfo) parsed = { 0, };
  gboolean was_trusted = self->trusted;
  const char *name;

  if (!icloud_account_info_parse (icloud_response_get_json (response), &parsed, error))
    return FALSE;

  g_clear_pointer (&self->account_doc, g_bytes_unref);
  g_clear_pointer (&self->account_info, json_node_unref);
  self->account_doc = g_bytes_ref (icloud_response_get_body (response));
  self->trusted = parsed.trusted;

  if (parsed.dsid != NULL)
    icloud_store_set (self->store, ICLOUD_DATA_DSID, parsed.dsid);

  name = parsed.name ? parsed.name : self->apple_id;
  if (g_strcmp0 (name, self->account_name) != 0)
    {
      g_free (self->account_name);
      self->account_name = g_strdup (name);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACCOUNT_NAME]);
    }

  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACCOUNT_INFO]);
  if (was_trusted != parsed.trusted)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IS_TRUSTED_SESSION]);
  set_state (self, parsed.state);
  g_object_thaw_notify (G_OBJECT (self));

  return TRUE;
}

static void
forget_account_info (ICloudSession *self)
{
  gboolean was_trusted = self->trusted;

  if (self->account_doc == NULL)
    return;
  g_clear_pointer (&self->account_doc, g_bytes_unref);
  g_clear_pointer (&self->account_info, json_node_unref);
  self->trusted = FALSE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACCOUNT_INFO]);
  if (was_trusted)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IS_TRUSTED_SESSION]);
}

static const char *
challenge_method_name (ICloudAuthState state)
{
  switch (state)
    {
    case ICLOUD_AUTH_STATE_NEEDS_2FA:
    case ICLOUD_AUTH_STATE_NEEDS_SECURITY_KEY:
      return "hsa2";
    case ICLOUD_AUTH_STATE_NEEDS_2SA:
      return "hsa";
    case ICLOUD_AUTH_STATE_SIGNED_OUT:
    case ICLOUD_AUTH_STATE_AUTHENTICATED:
    case ICLOUD_AUTH_STATE_CLOSED:
    default:
      return NULL;
    }
}

static ICloudAuthMethod *
get_method (ICloudSession  *self,
            const char     *name,
            GError        **error)
{
  ICloudAuthMethod *method = g_hash_table_lookup (self->methods, name);

  if (method == NULL)
    {
      method = icloud_plugins_create_auth_method (name, error);
      if (method == NULL)
        return NULL;
      g_hash_table_insert (self->methods, g_strdup (name), method);
    }

  return method;
}

static void
wipe_password (ICloudSession *self)
{
  g_clear_pointer (&self->password, icloud_crypto_free_secret);
}

/* ------------------------------------------------------------------------ */
/* Operations: one at a time, under the account lock, saved at the end. */

typedef struct {
  gboolean  force_refresh;
  GObject  *target;
  char     *code;
} OpData;

static void
op_data_free (OpData *data)
{
  g_clear_object (&data->target);
  g_clear_pointer (&data->code, icloud_crypto_free_secret);
  g_free (data);
}

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

static SoupSession *
dup_shared_soup_session (void)
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

static void
drop_blocking_soup_session (ICloudSession *self)
{
  if (self->blocking_soup != NULL)
    soup_session_abort (self->blocking_soup);
  g_clear_object (&self->blocking_soup);
  self->blocking_context = NULL;
}

static gboolean
ensure_prepared (ICloudSession  *self,
                 GError        **error)
{
  if (self->endpoint == NULL)
    {
      g_autoptr(ICloudRegion) region = icloud_plugins_create_region (self->region, error);

      if (region == NULL)
        return FALSE;
      self->endpoint = icloud_region_create_endpoint (region);
      if (self->endpoint == NULL)
        {
          g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_NO_PLUGIN,
                       "The region “%s” gave no endpoint", self->region);
          return FALSE;
        }
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ENDPOINT]);
    }

  if (self->soup == NULL)
    self->soup = dup_shared_soup_session ();

  return TRUE;
}

/* Starts an operation: checks the session is usable, takes the account lock
 * and reloads the saved session (another process may have changed it).
 * Returns NULL after reporting the error through @callback. */
static GTask *
op_begin (ICloudSession       *self,
          GCancellable        *cancellable,
          GAsyncReadyCallback  callback,
          gpointer             user_data,
          gpointer             source_tag)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(GError) error = NULL;
  const char *client_id;

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, g_new0 (OpData, 1), (GDestroyNotify) op_data_free);

  if (self->invalid != NULL)
    {
      g_task_return_error (task, g_error_copy (self->invalid));
      return NULL;
    }
  if (self->state == ICLOUD_AUTH_STATE_CLOSED)
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_CLOSED,
                               "The session was closed");
      return NULL;
    }
  if (self->busy)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING,
                               "Another operation is running on this session");
      return NULL;
    }
  if (g_task_return_error_if_cancelled (task))
    return NULL;

  if (!ensure_prepared (self, &error) ||
      !icloud_store_lock (self->store, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return NULL;
    }

  if (!icloud_store_load (self->store, &error))
    {
      icloud_store_unlock (self->store);
      g_task_return_error (task, g_steal_pointer (&error));
      return NULL;
    }

  /* The client id of the saved session wins, and is kept forever (§5.3). */
  client_id = icloud_store_get (self->store, ICLOUD_DATA_CLIENT_ID);
  if (client_id == NULL)
    {
      if (self->client_id == NULL)
        self->client_id = g_uuid_string_random ();
      icloud_store_set (self->store, ICLOUD_DATA_CLIENT_ID, self->client_id);
    }
  else if (g_strcmp0 (client_id, self->client_id) != 0)
    {
      g_free (self->client_id);
      self->client_id = g_strdup (client_id);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLIENT_ID]);
    }

  self->busy = TRUE;
  return g_steal_pointer (&task);
}

/* Ends an operation: saves what changed, releases the lock, returns. */
static void
op_end (GTask  *task,
        GError *error)
{
  ICloudSession *self = g_task_get_source_object (task);
  g_autoptr(GError) save_error = NULL;

  if (!icloud_store_save (self->store, &save_error) && error == NULL)
    error = g_steal_pointer (&save_error);
  icloud_store_unlock (self->store);
  self->busy = FALSE;

  if (error != NULL)
    {
      if (g_error_matches (error, ICLOUD_ERROR, ICLOUD_ERROR_THROTTLED))
        {
          /* The retry-after was noted by the response that said so. */
        }
      g_task_return_error (task, error);
    }
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
op_end_pointer (GTask    *task,
                gpointer  result,
                GDestroyNotify destroy)
{
  ICloudSession *self = g_task_get_source_object (task);
  g_autoptr(GError) save_error = NULL;

  if (!icloud_store_save (self->store, &save_error))
    {
      destroy (result);
      op_end (task, g_steal_pointer (&save_error));
      return;
    }
  icloud_store_unlock (self->store);
  self->busy = FALSE;
  g_task_return_pointer (task, result, destroy);
  g_object_unref (task);
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
      set_retry_after (self, icloud_response_get_retry_after (response));
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

/**
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

/**
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
/* accountLogin (step 4) and validate (step 5) */

/* {"success": false, "error": "…"}: Apple's answer to a token it refuses. */
static gboolean
account_login_refused (ICloudResponse *response)
{
  JsonNode *json = icloud_response_get_json (response);
  JsonNode *success;

  if (json == NULL || !JSON_NODE_HOLDS_OBJECT (json))
    return FALSE;
  success = json_object_get_member (json_node_get_object (json), "success");
  return success != NULL && JSON_NODE_HOLDS_VALUE (success) &&
         json_node_get_value_type (success) == G_TYPE_BOOLEAN &&
         !json_node_get_boolean (success);
}

static void
account_login_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  ICloudSession *self = ICLOUD_SESSION (source);
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudResponse) response = NULL;

  response = icloud_session_send_request_finish (self, result, &error);
  if (response == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* Apple refuses a session token it no longer takes with a 401 (or a
   * "success": false body): that, and only that, means the saved session is
   * gone; an answer that cannot be read leaves it as it is. */
  if (icloud_response_get_status (response) == SOUP_STATUS_UNAUTHORIZED ||
      (icloud_response_get_status (response) == SOUP_STATUS_FORBIDDEN &&
       !icloud_response_check (response, NULL) && account_login_refused (response)))
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_AUTH_REQUIRED,
                               "Apple no longer accepts the saved session (HTTP %u); sign in again",
                               icloud_response_get_status (response));
      return;
    }

  if (!icloud_response_check (response, &error))
    {
      /* "success": false on a 2xx is a refusal too. */
      if (g_error_matches (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL) &&
          icloud_response_is_success (response) && account_login_refused (response))
        {
          g_clear_error (&error);
          g_set_error (&error, ICLOUD_ERROR, ICLOUD_ERROR_AUTH_REQUIRED,
                       "Apple no longer accepts the saved session; sign in again");
        }
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (!apply_account_info (self, response, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  g_task_return_boolean (task, TRUE);
}

/**
 * icloud_session_account_login_async:
 * @self: a session
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Turns the stored session token (and trust token) into an iCloud web
 * session (`accountLogin`), and updates the state from Apple's answer. For
 * auth-method plugins, during an operation of the session.
 */
void
icloud_session_account_login_async (ICloudSession       *self,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  const char *token, *trust, *country;

  g_return_if_fail (ICLOUD_IS_SESSION (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, icloud_session_account_login_async);

  token = icloud_store_get (self->store, ICLOUD_DATA_SESSION_TOKEN);
  if (token == NULL)
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_AUTH_REQUIRED,
                               "There is no session token to sign in with");
      return;
    }
  trust = icloud_store_get (self->store, ICLOUD_DATA_TRUST_TOKEN);
  country = icloud_store_get (self->store, ICLOUD_DATA_ACCOUNT_COUNTRY);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "accountCountryCode");
  if (country != NULL)
    json_builder_add_string_value (builder, country);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "dsWebAuthToken");
  json_builder_add_string_value (builder, token);
  json_builder_set_member_name (builder, "extended_login");
  json_builder_add_boolean_value (builder, TRUE);
  json_builder_set_member_name (builder, "trustToken");
  json_builder_add_string_value (builder, trust ? trust : "");
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  icloud_session_send_request_async (self, "POST", ICLOUD_ROOT_SETUP, "/accountLogin",
                                     body, ICLOUD_REQUEST_IDEMPOTENT, cancellable,
                                     account_login_cb, g_steal_pointer (&task));
}

/**
 * icloud_session_account_login_finish:
 * @self: a session
 * @result: the result
 * @error: return location for a #GError
 *
 * Finishes [method@ICloud.Session.account_login_async].
 *
 * Returns: %TRUE if Apple answered with an account document
 */
gboolean
icloud_session_account_login_finish (ICloudSession  *self,
                                     GAsyncResult   *result,
                                     GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == icloud_session_account_login_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
has_web_token_cookie (ICloudSession *self)
{
  SoupCookieJar *jar = icloud_store_get_cookie_jar (self->store);
  g_autoptr(GUri) uri = g_uri_parse (icloud_endpoint_get_setup_uri (self->endpoint),
                                     SOUP_HTTP_URI_FLAGS, NULL);
  GSList *cookies;
  gboolean found = FALSE;

  if (uri == NULL)
    return FALSE;

  cookies = soup_cookie_jar_get_cookie_list (jar, uri, TRUE);
  for (GSList *l = cookies; l != NULL; l = l->next)
    if (g_strcmp0 (soup_cookie_get_name (l->data), "X-APPLE-WEBAUTH-TOKEN") == 0)
      found = TRUE;
  soup_cookies_free (cookies);

  return found;
}

/* Errors after which signing in again cannot help. */
static gboolean
is_final_error (const GError *error)
{
  if (error->domain != ICLOUD_ERROR)
    return TRUE;   /* network, cancellation */

  switch ((ICloudError) error->code)
    {
    case ICLOUD_ERROR_THROTTLED:
    case ICLOUD_ERROR_ACCOUNT_LOCKED:
    case ICLOUD_ERROR_WRONG_REGION:
    case ICLOUD_ERROR_SERVICE_NOT_ACTIVATED:
    case ICLOUD_ERROR_STORAGE:
    case ICLOUD_ERROR_NO_PLUGIN:
    case ICLOUD_ERROR_CLOSED:
      return TRUE;
    case ICLOUD_ERROR_FAILED_LOGIN:
    case ICLOUD_ERROR_INVALID_CODE:
    case ICLOUD_ERROR_TWO_FACTOR_REQUIRED:
    case ICLOUD_ERROR_TWO_STEP_REQUIRED:
    case ICLOUD_ERROR_SECURITY_KEY_REQUIRED:
    case ICLOUD_ERROR_REPAIR_REQUIRED:
    case ICLOUD_ERROR_AUTH_REQUIRED:
    case ICLOUD_ERROR_NOT_AUTHENTICATED:
    case ICLOUD_ERROR_PROTOCOL:
    default:
      return FALSE;
    }
}

/* ------------------------------------------------------------------------ */
/* authenticate: validate → accountLogin with the stored token → SRP (§5.6) */

static void auth_try_token   (GTask *task);
static void auth_sign_in     (GTask *task);
static void auth_enter_state (GTask *task);

static void
auth_begin_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  GTask *task = user_data;
  g_autoptr(GError) error = NULL;

  if (!icloud_auth_method_begin_finish (ICLOUD_AUTH_METHOD (source), result, &error))
    {
      /* The sign-in did not finish (cancelled, the network): the session is
       * not signed in, as before it started. The saved token stays, so the
       * next sign-in takes up the challenge with no password. */
      forget_account_info (ICLOUD_SESSION (g_task_get_source_object (task)));
      set_state (ICLOUD_SESSION (g_task_get_source_object (task)), ICLOUD_AUTH_STATE_SIGNED_OUT);
      op_end (task, g_steal_pointer (&error));
      return;
    }
  op_end (task, NULL);
}

/* After Apple's account document: a challenge method prepares its
 * challenge (where its plugin is installed). */
static void
auth_enter_state (GTask *task)
{
  ICloudSession *self = g_task_get_source_object (task);
  const char *name = challenge_method_name (self->state);
  ICloudAuthMethod *method;

  if (name == NULL)
    {
      op_end (task, NULL);
      return;
    }

  method = get_method (self, name, NULL);
  if (method == NULL)
    {
      /* The operations of the challenge will name the missing plugin. */
      op_end (task, NULL);
      return;
    }

  icloud_auth_method_begin_async (method, self, g_task_get_cancellable (task),
                                  auth_begin_cb, task);
}

static void
auth_validate_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  ICloudSession *self = ICLOUD_SESSION (source);
  GTask *task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudResponse) response = NULL;

  response = icloud_session_send_request_finish (self, result, &error);
  if (response != NULL &&
      icloud_response_check (response, &error) &&
      apply_account_info (self, response, &error))
    {
      g_debug ("The saved web session is still valid");
      auth_enter_state (task);
      return;
    }

  if (is_final_error (error))
    {
      op_end (task, g_steal_pointer (&error));
      return;
    }

  g_debug ("The saved web session was not accepted: %s", error->message);
  auth_try_token (task);
}

static void
auth_account_login_token_cb (GObject      *source,
                             GAsyncResult *result,
                             gpointer      user_data)
{
  ICloudSession *self = ICLOUD_SESSION (source);
  GTask *task = user_data;
  OpData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (icloud_session_account_login_finish (self, result, &error))
    {
      /* With force_refresh, an untrusted session is signed in again with
       * the password when one was given (pyicloud's order). */
      if (self->state == ICLOUD_AUTH_STATE_AUTHENTICATED ||
          !data->force_refresh || self->password == NULL)
        {
          auth_enter_state (task);
          return;
        }
    }
  else if (!g_error_matches (error, ICLOUD_ERROR, ICLOUD_ERROR_AUTH_REQUIRED))
    {
      /* Not a refusal of the token (throttling, an unreadable answer, the
       * network): the saved session stays, for another try. */
      op_end (task, g_steal_pointer (&error));
      return;
    }
  else
    {
      g_debug ("The stored session token was not accepted: %s", error->message);
      /* Forget the short-lived state; keep the client id and the trust. */
      icloud_store_reset (self->store, TRUE);
      forget_account_info (self);
      set_state (self, ICLOUD_AUTH_STATE_SIGNED_OUT);
    }

  auth_sign_in (task);
}

static void
auth_try_token (GTask *task)
{
  ICloudSession *self = g_task_get_source_object (task);

  if (icloud_store_get (self->store, ICLOUD_DATA_SESSION_TOKEN) == NULL)
    {
      auth_sign_in (task);
      return;
    }

  icloud_session_account_login_async (self, g_task_get_cancellable (task),
                                      auth_account_login_token_cb, task);
}

static void
auth_account_login_new_cb (GObject      *source,
                           GAsyncResult *result,
                           gpointer      user_data)
{
  ICloudSession *self = ICLOUD_SESSION (source);
  GTask *task = user_data;
  g_autoptr(GError) error = NULL;

  if (!icloud_session_account_login_finish (self, result, &error))
    {
      op_end (task, g_steal_pointer (&error));
      return;
    }

  auth_enter_state (task);
}

/* The password sign-ins of the last PASSWORD_SIGN_IN_WINDOW seconds, kept in
 * the saved session so that every process of the account counts them. */
static GArray *
recent_password_sign_ins (ICloudSession *self,
                          gint64         now)
{
  const char *saved = icloud_store_get (self->store, DATA_PASSWORD_SIGN_INS);
  GArray *times = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_auto(GStrv) parts = NULL;

  if (saved == NULL)
    return times;

  parts = g_strsplit (saved, " ", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      gint64 when;

      if (!g_ascii_string_to_signed (parts[i], 10, 0, G_MAXINT64, &when, NULL))
        continue;
      if (when > now - PASSWORD_SIGN_IN_WINDOW && when <= now)
        g_array_append_val (times, when);
    }
  return times;
}

static gboolean
check_password_sign_in_rate (ICloudSession  *self,
                             GError        **error)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autoptr(GArray) times = NULL;
  guint wait;
  GError *throttled;

  if (self->max_password_sign_ins == 0)
    return TRUE;

  times = recent_password_sign_ins (self, now);
  if (times->len < self->max_password_sign_ins)
    return TRUE;

  wait = (guint) (g_array_index (times, gint64, times->len - self->max_password_sign_ins) +
                  PASSWORD_SIGN_IN_WINDOW - now);
  set_retry_after (self, wait);
  throttled = g_error_new (ICLOUD_ERROR, ICLOUD_ERROR_THROTTLED,
                           "%s signed in with the password %u times in the last %u minutes; "
                           "each sign-in sends the user an e-mail, so the next one waits %u s",
                           self->apple_id, times->len, PASSWORD_SIGN_IN_WINDOW / 60, wait);
  _icloud_error_set_retry_after (throttled, wait);
  g_propagate_error (error, throttled);
  return FALSE;
}

static void
note_password_sign_in (ICloudSession *self)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autoptr(GArray) times = recent_password_sign_ins (self, now);
  g_autoptr(GString) text = g_string_new (NULL);

  g_array_append_val (times, now);
  for (guint i = 0; i < times->len; i++)
    g_string_append_printf (text, "%s%" G_GINT64_FORMAT, i ? " " : "",
                            g_array_index (times, gint64, i));
  icloud_store_set (self->store, DATA_PASSWORD_SIGN_INS, text->str);
}

static void
auth_sign_in_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  ICloudSession *self;
  GTask *task = user_data;
  g_autoptr(GError) error = NULL;

  self = g_task_get_source_object (task);
  if (!icloud_auth_method_sign_in_finish (ICLOUD_AUTH_METHOD (source), result, &error))
    {
      /* A rejected password is of no further use; a transient failure
       * (network, throttling, cancellation) keeps it for a retry. */
      if (error->domain == ICLOUD_ERROR &&
          error->code != ICLOUD_ERROR_THROTTLED)
        wipe_password (self);
      op_end (task, g_steal_pointer (&error));
      return;
    }

  wipe_password (self);
  note_password_sign_in (self);
  icloud_session_account_login_async (self, g_task_get_cancellable (task),
                                      auth_account_login_new_cb, task);
}

static void
auth_sign_in (GTask *task)
{
  ICloudSession *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  ICloudAuthMethod *method;

  if (self->password == NULL)
    {
      set_state (self, ICLOUD_AUTH_STATE_SIGNED_OUT);
      op_end (task, g_error_new (ICLOUD_ERROR, ICLOUD_ERROR_AUTH_REQUIRED,
                                 "No password was given and the saved session of %s cannot be used: sign in with the password",
                                 self->apple_id));
      return;
    }

  if (!check_password_sign_in_rate (self, &error))
    {
      op_end (task, g_steal_pointer (&error));
      return;
    }

  method = get_method (self, self->sign_in_method, &error);
  if (method == NULL)
    {
      op_end (task, g_steal_pointer (&error));
      return;
    }

  icloud_auth_method_sign_in_async (method, self, g_task_get_cancellable (task),
                                    auth_sign_in_cb, task);
}

static void
authenticate_internal (ICloudSession       *self,
                       gboolean             force_refresh,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data,
                       gpointer             source_tag)
{
  GTask *task;
  OpData *data;

  task = op_begin (self, cancellable, callback, user_data, source_tag);
  if (task == NULL)
    return;

  data = g_task_get_task_data (task);
  data->force_refresh = force_refresh;
  set_retry_after (self, 0);

  if (!force_refresh &&
      icloud_store_get (self->store, ICLOUD_DATA_SESSION_TOKEN) != NULL &&
      has_web_token_cookie (self))
    {
      /* The body is the literal `null` (protocol §1.2 step 5). */
      g_autoptr(JsonNode) null_body = json_node_new (JSON_NODE_NULL);

      icloud_session_send_request_async (self, "POST", ICLOUD_ROOT_SETUP, "/validate",
                                         null_body, ICLOUD_REQUEST_IDEMPOTENT, cancellable,
                                         auth_validate_cb, task);
      return;
    }

  auth_try_token (task);
}

/**
 * icloud_session_authenticate_async:
 * @self: a session
 * @force_refresh: skip the validation of the saved web session
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Signs the session in: validates the saved web session (unless
 * @force_refresh), then signs in with the stored session token, then, if a
 * password was given, proves it with SRP. When Apple asks for a second
 * factor, the operation succeeds and [property@ICloud.Session:state] names
 * the challenge.
 */
void
icloud_session_authenticate_async (ICloudSession       *self,
                                   gboolean             force_refresh,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_return_if_fail (ICLOUD_IS_SESSION (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  authenticate_internal (self, force_refresh, cancellable, callback, user_data,
                         icloud_session_authenticate_async);
}

/**
 * icloud_session_authenticate_finish:
 * @self: a session
 * @result: the result
 * @error: return location for a #GError
 *
 * Finishes [method@ICloud.Session.authenticate_async].
 *
 * Returns: %TRUE if the session is signed in or waits for a second factor
 */
gboolean
icloud_session_authenticate_finish (ICloudSession  *self,
                                    GAsyncResult   *result,
                                    GError        **error)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == icloud_session_authenticate_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * icloud_session_authenticate:
 * @self: a session
 * @force_refresh: skip the validation of the saved web session
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking twin of [method@ICloud.Session.authenticate_async].
 *
 * Returns: %TRUE if the session is signed in or waits for a second factor
 */
gboolean
icloud_session_authenticate (ICloudSession  *self,
                             gboolean        force_refresh,
                             GCancellable   *cancellable,
                             GError        **error)
{
  g_auto(SyncData) sync;

  g_return_val_if_fail (ICLOUD_IS_SESSION (self), FALSE);

  sync_data_init (&sync, self);
  icloud_session_authenticate_async (self, force_refresh, cancellable, sync_ready_cb, &sync);
  sync_data_wait (&sync);
  return icloud_session_authenticate_finish (self, sync.result, error);
}

/* ------------------------------------------------------------------------ */
/* Challenge operations, delegated to the hsa2 and hsa plugins */

static ICloudAuthMethod *
challenge_method (ICloudSession    *self,
                  ICloudAuthState   wanted,
                  GError          **error)
{
  const char *name = challenge_method_name (wanted);

  if (self->state != wanted &&
      !(wanted == ICLOUD_AUTH_STATE_NEEDS_2FA &&
        self->state == ICLOUD_AUTH_STATE_NEEDS_SECURITY_KEY))
    {
      g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_NOT_AUTHENTICATED,
                   wanted == ICLOUD_AUTH_STATE_NEEDS_2FA
                   ? "The session is not waiting for a two-factor code"
                   : "The session is not waiting for a two-step code");
      return NULL;
    }

  return get_method (self, name, error);
}

static void
challenge_list_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  GTask *task = user_data;
  g_autoptr(GError) error = NULL;
  GListModel *list;

  list = icloud_auth_method_list_targets_finish (ICLOUD_AUTH_METHOD (source), result, &error);
  if (list == NULL)
    {
      op_end (task, g_steal_pointer (&error));
      return;
    }
  op_end_pointer (task, list, g_object_unref);
}

static void
challenge_list (ICloudSession       *self,
                ICloudAuthState      wanted,
                GCancellable        *cancellable,
                GAsyncReadyCallback  callback,
                gpointer             user_data,
                gpointer             source_tag)
{
  GTask *task;
  ICloudAuthMethod *method;
  GError *error = NULL;

  task = op_begin (self, cancellable, callback, user_data, source_tag);
  if (task == NULL)
    return;

  method = challenge_method (self, wanted, &error);
  if (method == NULL)
    {
      op_end (task, error);
      return;
    }

  icloud_auth_method_list_targets_async (method, self, cancellable, challenge_list_cb, task);
}

static void
challenge_request_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  icloud_auth_method_request_code_finish (ICLOUD_AUTH_METHOD (source), result, &error);
  op_end (task, error);
}

static void
challenge_request (ICloudSession       *self,
                   ICloudAuthState      wanted,
                   GObject             *target,
                   GCancellable        *cancellable,
                   GAsyncReadyCallback  callback,
                   gpointer             user_data,
                   gpointer             source_tag)
{
  GTask *task;
  ICloudAuthMethod *method;
  GError *error = NULL;

  task = op_begin (self, cancellable, callback, user_data, source_tag);
  if (task == NULL)
    return;

  method = challenge_method (self, wanted, &error);
  if (method == NULL)
    {
      op_end (task, error);
      return;
    }

  icloud_auth_method_request_code_async (method, self, target, cancellable,
                                         challenge_request_cb, task);
}

static void trust_then_login (GTask *task, ICloudAuthMethod *method);

static void
challenge_validate_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  if (!icloud_auth_method_validate_code_finish (ICLOUD_AUTH_METHOD (source), result, &error))
    {
      /* A wrong code leaves the challenge as it was, for another try. */
      op_end (task, error);
      return;
    }

  trust_then_login (task, ICLOUD_AUTH_METHOD (source));
}

static void
challenge_validate (ICloudSession       *self,
                    ICloudAuthState      wanted,
                    GObject             *target,
                    const char          *code,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data,
                    gpointer             source_tag)
{
  GTask *task;
  ICloudAuthMethod *method;
  GError *error = NULL;

  if (!g_utf8_validate (code, -1, NULL))
    {
      g_task_report_new_error (self, callback, user_data, source_tag,
                               G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "The code is not valid UTF-8");
      return;
    }

  task = op_begin (self, cancellable, callback, user_data, source_tag);
  if (task == NULL)
    return;

  method = challenge_method (self, wanted, &error);
  if (method == NULL)
    {
      op_end (task, error);
      return;
    }

  icloud_auth_method_validate_code_async (method, self, target, code, cancellable,
                                          challenge_validate_cb, task);
}

static void
trust_login_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  icloud_session_account_login_finish (ICLOUD_SESSION (source), result, &error);
  op_end (task, error);
}

static void
trust_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  GTask *task = user_data;
  ICloudSession *self = g_task_get_source_object (task);
  GError *error = NULL;

  if (!icloud_auth_method_trust_finish (ICLOUD_AUTH_METHOD (source), result, &error))
    {
      op_end (task, error);
      return;
    }

  icloud_session_account_login_async (self, g_task_get_cancellable (task),
                                      trust_login_cb, task);
}

static void
trust_then_login (GTask            *task,
                  ICloudAuthMethod *method)
{
  ICloudSession *self = g_task_get_source_object (task);

  icloud_auth_method_trust_async (method, self, g_task_get_cancellable (task),
                                  trust_cb, task);
}

static gboolean
boolean_finish (ICloudSession  *self,
                GAsyncResult   *result,
                gpointer        source_tag,
                GError        **error)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static GListModel *
list_finish (ICloudSession  *self,
             GAsyncResult   *result,
             gpointer        source_tag,
             GError        **error)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * icloud_session_get_trusted_phone_numbers_async:
 * @self: a session waiting for a two-factor code
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Lists the trusted phone numbers a code can be sent to by SMS.
 */
void
icloud_session_get_trusted_phone_numbers_async (ICloudSession       *self,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data)
{
  g_return_if_fail (ICLOUD_IS_SESSION (self));
  challenge_list (self, ICLOUD_AUTH_STATE_NEEDS_2FA, cancellable, callback, user_data,
                  icloud_session_get_trusted_phone_numbers_async);
}

/**
 * icloud_session_get_trusted_phone_numbers_finish:
 * @self: a session
 * @result: the result
 * @error: return location for a #GError
 *
 * Finishes [method@ICloud.Session.get_trusted_phone_numbers_async].
 *
 * Returns: (transfer full): a list of [class@ICloud.TrustedPhone]
 */
GListModel *
icloud_session_get_trusted_phone_numbers_finish (ICloudSession  *self,
                                                 GAsyncResult   *result,
                                                 GError        **error)
{
  return list_finish (self, result, icloud_session_get_trusted_phone_numbers_async, error);
}

/**
 * icloud_session_get_trusted_phone_numbers:
 * @self: a session waiting for a two-factor code
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking twin of
 * [method@ICloud.Session.get_trusted_phone_numbers_async].
 *
 * Returns: (transfer full): a list of [class@ICloud.TrustedPhone]
 */
GListModel *
icloud_session_get_trusted_phone_numbers (ICloudSession  *self,
                                          GCancellable   *cancellable,
                                          GError        **error)
{
  g_auto(SyncData) sync;

  g_return_val_if_fail (ICLOUD_IS_SESSION (self), NULL);

  sync_data_init (&sync, self);
  icloud_session_get_trusted_phone_numbers_async (self, cancellable, sync_ready_cb, &sync);
  sync_data_wait (&sync);
  return icloud_session_get_trusted_phone_numbers_finish (self, sync.result, error);
}

/**
 * icloud_session_request_2fa_code_async:
 * @self: a session waiting for a two-factor code
 * @phone: (nullable): a trusted phone to send an SMS to, or %NULL to push
 *   the code to the trusted devices
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Asks Apple to send a two-factor code. Apple no longer pushes one unless
 * asked, so call this before asking the user for the code.
 */
void
icloud_session_request_2fa_code_async (ICloudSession       *self,
                                       ICloudTrustedPhone  *phone,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  g_return_if_fail (ICLOUD_IS_SESSION (self));
  g_return_if_fail (phone == NULL || ICLOUD_IS_TRUSTED_PHONE (phone));
  challenge_request (self, ICLOUD_AUTH_STATE_NEEDS_2FA, (GObject *) phone, cancellable,
                     callback, user_data, icloud_session_request_2fa_code_async);
}

/**
 * icloud_session_request_2fa_code_finish:
 * @self: a session
 * @result: the result
 * @error: return location for a #GError
 *
 * Finishes [method@ICloud.Session.request_2fa_code_async].
 *
 * Returns: %TRUE if Apple accepted to send a code
 */
gboolean
icloud_session_request_2fa_code_finish (ICloudSession  *self,
                                        GAsyncResult   *result,
                                        GError        **error)
{
  return boolean_finish (self, result, icloud_session_request_2fa_code_async, error);
}

/**
 * icloud_session_request_2fa_code:
 * @self: a session waiting for a two-factor code
 * @phone: (nullable): a trusted phone, or %NULL for the trusted devices
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking twin of [method@ICloud.Session.request_2fa_code_async].
 *
 * Returns: %TRUE if Apple accepted to send a code
 */
gboolean
icloud_session_request_2fa_code (ICloudSession       *self,
                                 ICloudTrustedPhone  *phone,
                                 GCancellable        *cancellable,
                                 GError             **error)
{
  g_auto(SyncData) sync;

  g_return_val_if_fail (ICLOUD_IS_SESSION (self), FALSE);

  sync_data_init (&sync, self);
  icloud_session_request_2fa_code_async (self, phone, cancellable, sync_ready_cb, &sync);
  sync_data_wait (&sync);
  return icloud_session_request_2fa_code_finish (self, sync.result, error);
}

/**
 * icloud_session_validate_2fa_code_async:
 * @self: a session waiting for a two-factor code
 * @code: the code the user received
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Checks a two-factor code on the route it was requested on (trusted
 * devices, or the phone given to
 * [method@ICloud.Session.request_2fa_code_async]), then trusts the session
 * and signs in. A wrong code fails with %ICLOUD_ERROR_INVALID_CODE and the
 * session keeps waiting for a code.
 */
void
icloud_session_validate_2fa_code_async (ICloudSession       *self,
                                        const char          *code,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  g_return_if_fail (ICLOUD_IS_SESSION (self));
  g_return_if_fail (code != NULL);
  challenge_validate (self, ICLOUD_AUTH_STATE_NEEDS_2FA, NULL, code, cancellable,
                      callback, user_data, icloud_session_validate_2fa_code_async);
}

/**
 * icloud_session_validate_2fa_code_finish:
 * @self: a session
 * @result: the result
 * @error: return location for a #GError
 *
 * Finishes [method@ICloud.Session.validate_2fa_code_async].
 *
 * Returns: %TRUE if the code was accepted and the session signed in
 */
gboolean
icloud_session_validate_2fa_code_finish (ICloudSession  *self,
                                         GAsyncResult   *result,
                                         GError        **error)
{
  return boolean_finish (self, result, icloud_session_validate_2fa_code_async, error);
}

/**
 * icloud_session_validate_2fa_code:
 * @self: a session waiting for a two-factor code
 * @code: the code the user received
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking twin of [method@ICloud.Session.validate_2fa_code_async].
 *
 * Returns: %TRUE if the code was accepted and the session signed in
 */
gboolean
icloud_session_validate_2fa_code (ICloudSession  *self,
                                  const char     *code,
                                  GCancellable   *cancellable,
                                  GError        **error)
{
  g_auto(SyncData) sync;

  g_return_val_if_fail (ICLOUD_IS_SESSION (self), FALSE);

  sync_data_init (&sync, self);
  icloud_session_validate_2fa_code_async (self, code, cancellable, sync_ready_cb, &sync);
  sync_data_wait (&sync);
  return icloud_session_validate_2fa_code_finish (self, sync.result, error);
}

/**
 * icloud_session_trust_session_async:
 * @self: a session that passed its second factor
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Asks Apple to trust this session, so that the next sign-in needs no code,
 * then signs in again. [method@ICloud.Session.validate_2fa_code_async]
 * already does this; call it after a failure to trust.
 */
void
icloud_session_trust_session_async (ICloudSession       *self,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  GTask *task;
  ICloudAuthMethod *method;
  GError *error = NULL;
  const char *name;

  g_return_if_fail (ICLOUD_IS_SESSION (self));

  task = op_begin (self, cancellable, callback, user_data, icloud_session_trust_session_async);
  if (task == NULL)
    return;

  name = challenge_method_name (self->state);
  if (name == NULL)
    {
      /* Trusted already, or never challenged: there is nothing to trust. */
      if (self->state == ICLOUD_AUTH_STATE_AUTHENTICATED)
        {
          op_end (task, NULL);
          return;
        }
      op_end (task, g_error_new (ICLOUD_ERROR, ICLOUD_ERROR_NOT_AUTHENTICATED,
                                 "The session is not signed in"));
      return;
    }

  method = get_method (self, name, &error);
  if (method == NULL)
    {
      op_end (task, error);
      return;
    }
  trust_then_login (task, method);
}

/**
 * icloud_session_trust_session_finish:
 * @self: a session
 * @result: the result
 * @error: return location for a #GError
 *
 * Finishes [method@ICloud.Session.trust_session_async].
 *
 * Returns: %TRUE on success
 */
gboolean
icloud_session_trust_session_finish (ICloudSession  *self,
                                     GAsyncResult   *result,
                                     GError        **error)
{
  return boolean_finish (self, result, icloud_session_trust_session_async, error);
}

/**
 * icloud_session_trust_session:
 * @self: a session that passed its second factor
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking twin of [method@ICloud.Session.trust_session_async].
 *
 * Returns: %TRUE on success
 */
gboolean
icloud_session_trust_session (ICloudSession  *self,
                              GCancellable   *cancellable,
                              GError        **error)
{
  g_auto(SyncData) sync;

  g_return_val_if_fail (ICLOUD_IS_SESSION (self), FALSE);

  sync_data_init (&sync, self);
  icloud_session_trust_session_async (self, cancellable, sync_ready_cb, &sync);
  sync_data_wait (&sync);
  return icloud_session_trust_session_finish (self, sync.result, error);
}

/**
 * icloud_session_get_trusted_devices_async:
 * @self: a session waiting for a two-step code
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Lists the trusted devices of a two-step (2SA) account.
 */
void
icloud_session_get_trusted_devices_async (ICloudSession       *self,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data)
{
  g_return_if_fail (ICLOUD_IS_SESSION (self));
  challenge_list (self, ICLOUD_AUTH_STATE_NEEDS_2SA, cancellable, callback, user_data,
                  icloud_session_get_trusted_devices_async);
}

/**
 * icloud_session_get_trusted_devices_finish:
 * @self: a session
 * @result: the result
 * @error: return location for a #GError
 *
 * Finishes [method@ICloud.Session.get_trusted_devices_async].
 *
 * Returns: (transfer full): a list of [class@ICloud.TrustedDevice]
 */
GListModel *
icloud_session_get_trusted_devices_finish (ICloudSession  *self,
                                           GAsyncResult   *result,
                                           GError        **error)
{
  return list_finish (self, result, icloud_session_get_trusted_devices_async, error);
}

/**
 * icloud_session_get_trusted_devices:
 * @self: a session waiting for a two-step code
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking twin of [method@ICloud.Session.get_trusted_devices_async].
 *
 * Returns: (transfer full): a list of [class@ICloud.TrustedDevice]
 */
GListModel *
icloud_session_get_trusted_devices (ICloudSession  *self,
                                    GCancellable   *cancellable,
                                    GError        **error)
{
  g_auto(SyncData) sync;

  g_return_val_if_fail (ICLOUD_IS_SESSION (self), NULL);

  sync_data_init (&sync, self);
  icloud_session_get_trusted_devices_async (self, cancellable, sync_ready_cb, &sync);
  sync_data_wait (&sync);
  return icloud_session_get_trusted_devices_finish (self, sync.result, error);
}

/**
 * icloud_session_send_verification_code_async:
 * @self: a session waiting for a two-step code
 * @device: the trusted device to send the code to
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Asks Apple to send a two-step code to @device.
 */
void
icloud_session_send_verification_code_async (ICloudSession       *self,
                                             ICloudTrustedDevice *device,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data)
{
  g_return_if_fail (ICLOUD_IS_SESSION (self));
  g_return_if_fail (ICLOUD_IS_TRUSTED_DEVICE (device));
  challenge_request (self, ICLOUD_AUTH_STATE_NEEDS_2SA, G_OBJECT (device), cancellable,
                     callback, user_data, icloud_session_send_verification_code_async);
}

/**
 * icloud_session_send_verification_code_finish:
 * @self: a session
 * @result: the result
 * @error: return location for a #GError
 *
 * Finishes [method@ICloud.Session.send_verification_code_async].
 *
 * Returns: %TRUE if Apple sent the code
 */
gboolean
icloud_session_send_verification_code_finish (ICloudSession  *self,
                                              GAsyncResult   *result,
                                              GError        **error)
{
  return boolean_finish (self, result, icloud_session_send_verification_code_async, error);
}

/**
 * icloud_session_send_verification_code:
 * @self: a session waiting for a two-step code
 * @device: the trusted device to send the code to
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking twin of [method@ICloud.Session.send_verification_code_async].
 *
 * Returns: %TRUE if Apple sent the code
 */
gboolean
icloud_session_send_verification_code (ICloudSession        *self,
                                       ICloudTrustedDevice  *device,
                                       GCancellable         *cancellable,
                                       GError              **error)
{
  g_auto(SyncData) sync;

  g_return_val_if_fail (ICLOUD_IS_SESSION (self), FALSE);

  sync_data_init (&sync, self);
  icloud_session_send_verification_code_async (self, device, cancellable, sync_ready_cb, &sync);
  sync_data_wait (&sync);
  return icloud_session_send_verification_code_finish (self, sync.result, error);
}

/**
 * icloud_session_validate_verification_code_async:
 * @self: a session waiting for a two-step code
 * @device: the trusted device the code was sent to
 * @code: the code
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Checks a two-step code, then trusts the session and signs in. A wrong code
 * fails with %ICLOUD_ERROR_INVALID_CODE and the session keeps waiting.
 */
void
icloud_session_validate_verification_code_async (ICloudSession       *self,
                                                 ICloudTrustedDevice *device,
                                                 const char          *code,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data)
{
  g_return_if_fail (ICLOUD_IS_SESSION (self));
  g_return_if_fail (ICLOUD_IS_TRUSTED_DEVICE (device));
  g_return_if_fail (code != NULL);
  challenge_validate (self, ICLOUD_AUTH_STATE_NEEDS_2SA, G_OBJECT (device), code, cancellable,
                      callback, user_data, icloud_session_validate_verification_code_async);
}

/**
 * icloud_session_validate_verification_code_finish:
 * @self: a session
 * @result: the result
 * @error: return location for a #GError
 *
 * Finishes [method@ICloud.Session.validate_verification_code_async].
 *
 * Returns: %TRUE if the code was accepted and the session signed in
 */
gboolean
icloud_session_validate_verification_code_finish (ICloudSession  *self,
                                                  GAsyncResult   *result,
                                                  GError        **error)
{
  return boolean_finish (self, result, icloud_session_validate_verification_code_async, error);
}

/**
 * icloud_session_validate_verification_code:
 * @self: a session waiting for a two-step code
 * @device: the trusted device the code was sent to
 * @code: the code
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking twin of
 * [method@ICloud.Session.validate_verification_code_async].
 *
 * Returns: %TRUE if the code was accepted and the session signed in
 */
gboolean
icloud_session_validate_verification_code (ICloudSession        *self,
                                           ICloudTrustedDevice  *device,
                                           const char           *code,
                                           GCancellable         *cancellable,
                                           GError              **error)
{
  g_auto(SyncData) sync;

  g_return_val_if_fail (ICLOUD_IS_SESSION (self), FALSE);

  sync_data_init (&sync, self);
  icloud_session_validate_verification_code_async (self, device, code, cancellable, sync_ready_cb, &sync);
  sync_data_wait (&sync);
  return icloud_session_validate_verification_code_finish (self, sync.result, error);
}

/* ------------------------------------------------------------------------ */
/* logout and close */

static void
logout_local (GTask *task)
{
  ICloudSession *self = g_task_get_source_object (task);
  OpData *data = g_task_get_task_data (task);
  GError *error = NULL;

  /* data->force_refresh holds keep_trusted for this operation. */
  icloud_store_reset (self->store, data->force_refresh);
  if (!data->force_refresh)
    icloud_store_delete (self->store, &error);
  forget_account_info (self);
  set_state (self, ICLOUD_AUTH_STATE_SIGNED_OUT);
  op_end (task, error);
}

static void
logout_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GTask *task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudResponse) response = NULL;

  response = icloud_session_send_request_finish (ICLOUD_SESSION (source), result, &error);
  if (response == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      op_end (task, g_steal_pointer (&error));
      return;
    }
  if (response == NULL || !icloud_response_check (response, &error))
    g_debug ("Apple did not confirm the logout: %s", error->message);

  /* The local session is forgotten either way. */
  logout_local (task);
}

/**
 * icloud_session_logout_async:
 * @self: a session
 * @keep_trusted: keep the trust token, so that the next sign-in needs no
 *   second factor
 * @all_sessions: sign out every web session of the account, not just this one
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Signs out at Apple (when there is a web session) and forgets the saved
 * session; with @keep_trusted, the trust token and client id are kept.
 */
void
icloud_session_logout_async (ICloudSession       *self,
                             gboolean             keep_trusted,
                             gboolean             all_sessions,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  GTask *task;
  OpData *data;
  g_autofree char *text = NULL;
  g_autoptr(JsonNode) body = NULL;

  g_return_if_fail (ICLOUD_IS_SESSION (self));

  task = op_begin (self, cancellable, callback, user_data, icloud_session_logout_async);
  if (task == NULL)
    return;
  data = g_task_get_task_data (task);
  data->force_refresh = keep_trusted;

  if (icloud_store_get (self->store, ICLOUD_DATA_DSID) == NULL ||
      !has_web_token_cookie (self))
    {
      logout_local (task);
      return;
    }

  text = g_strdup_printf ("{\"trustBrowser\":%s,\"allBrowsers\":%s}",
                          keep_trusted ? "true" : "false",
                          all_sessions ? "true" : "false");
  body = json_from_string (text, NULL);
  icloud_session_send_request_async (self, "POST", ICLOUD_ROOT_SETUP, "/logout", body,
                                     ICLOUD_REQUEST_SETUP_PARAMS | ICLOUD_REQUEST_TEXT_PLAIN,
                                     cancellable, logout_cb, task);
}

/**
 * icloud_session_logout_finish:
 * @self: a session
 * @result: the result
 * @error: return location for a #GError
 *
 * Finishes [method@ICloud.Session.logout_async].
 *
 * Returns: %TRUE on success
 */
gboolean
icloud_session_logout_finish (ICloudSession  *self,
                              GAsyncResult   *result,
                              GError        **error)
{
  return boolean_finish (self, result, icloud_session_logout_async, error);
}

/**
 * icloud_session_logout:
 * @self: a session
 * @keep_trusted: keep the trust token
 * @all_sessions: sign out every web session of the account
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking twin of [method@ICloud.Session.logout_async].
 *
 * Returns: %TRUE on success
 */
gboolean
icloud_session_logout (ICloudSession  *self,
                       gboolean        keep_trusted,
                       gboolean        all_sessions,
                       GCancellable   *cancellable,
                       GError        **error)
{
  g_auto(SyncData) sync;

  g_return_val_if_fail (ICLOUD_IS_SESSION (self), FALSE);

  sync_data_init (&sync, self);
  icloud_session_logout_async (self, keep_trusted, all_sessions, cancellable, sync_ready_cb, &sync);
  sync_data_wait (&sync);
  return icloud_session_logout_finish (self, sync.result, error);
}

/**
 * icloud_session_close_async:
 * @self: a session
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Saves the session if it changed and closes it: the connections are
 * dropped, and every later operation fails with %ICLOUD_ERROR_CLOSED. The
 * saved session stays on disk for the next start.
 */
void
icloud_session_close_async (ICloudSession       *self,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;

  g_return_if_fail (ICLOUD_IS_SESSION (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, icloud_session_close_async);

  if (self->state == ICLOUD_AUTH_STATE_CLOSED)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (self->busy)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING,
                               "Another operation is running on this session");
      return;
    }

  wipe_password (self);
  /* Let go of the (shared) SoupSession: its connections close once no open
   * session uses it. */
  if (!self->own_soup)
    g_clear_object (&self->soup);
  g_hash_table_remove_all (self->methods);
  set_state (self, ICLOUD_AUTH_STATE_CLOSED);

  if (self->initialized && self->invalid == NULL &&
      !icloud_store_save (self->store, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_boolean (task, TRUE);
}

/**
 * icloud_session_close_finish:
 * @self: a session
 * @result: the result
 * @error: return location for a #GError
 *
 * Finishes [method@ICloud.Session.close_async].
 *
 * Returns: %TRUE on success
 */
gboolean
icloud_session_close_finish (ICloudSession  *self,
                             GAsyncResult   *result,
                             GError        **error)
{
  return boolean_finish (self, result, icloud_session_close_async, error);
}

/**
 * icloud_session_close:
 * @self: a session
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking twin of [method@ICloud.Session.close_async].
 *
 * Returns: %TRUE on success
 */
gboolean
icloud_session_close (ICloudSession  *self,
                      GCancellable   *cancellable,
                      GError        **error)
{
  g_auto(SyncData) sync;

  g_return_val_if_fail (ICLOUD_IS_SESSION (self), FALSE);

  sync_data_init (&sync, self);
  icloud_session_close_async (self, cancellable, sync_ready_cb, &sync);
  sync_data_wait (&sync);
  return icloud_session_close_finish (self, sync.result, error);
}

/* ------------------------------------------------------------------------ */
/* Construction */

/**
 * icloud_session_new_async:
 * @apple_id: the Apple ID
 * @password: (nullable): the password, or %NULL to use the saved session only
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the session is signed in (or waits
 *   for a second factor)
 * @user_data: data for @callback
 *
 * Creates a session with the default region and cookie directory and signs
 * it in. See [method@ICloud.Session.authenticate_async].
 */
void
icloud_session_new_async (const char          *apple_id,
                          const char          *password,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_return_if_fail (apple_id != NULL);

  g_async_initable_new_async (ICLOUD_TYPE_SESSION, G_PRIORITY_DEFAULT, cancellable,
                              callback, user_data,
                              "apple-id", apple_id,
                              "password", password,
                              NULL);
}

/**
 * icloud_session_new_finish:
 * @result: the result
 * @error: return location for a #GError
 *
 * Finishes [func@ICloud.Session.new_async].
 *
 * Returns: (transfer full) (nullable): the session, or %NULL on error
 */
ICloudSession *
icloud_session_new_finish (GAsyncResult  *result,
                           GError       **error)
{
  g_autoptr(GObject) source = g_async_result_get_source_object (result);
  GObject *object;

  object = g_async_initable_new_finish (G_ASYNC_INITABLE (source), result, error);
  return object ? ICLOUD_SESSION (object) : NULL;
}

/**
 * icloud_session_new_sync:
 * @apple_id: the Apple ID
 * @password: (nullable): the password, or %NULL to use the saved session only
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking twin of [func@ICloud.Session.new_async].
 *
 * Returns: (transfer full) (nullable): the session, or %NULL on error
 */
ICloudSession *
icloud_session_new_sync (const char    *apple_id,
                         const char    *password,
                         GCancellable  *cancellable,
                         GError       **error)
{
  g_return_val_if_fail (apple_id != NULL, NULL);

  return g_initable_new (ICLOUD_TYPE_SESSION, cancellable, error,
                         "apple-id", apple_id,
                         "password", password,
                         NULL);
}

static void
init_authenticate_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!icloud_session_authenticate_finish (ICLOUD_SESSION (source), result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
icloud_session_init_async (GAsyncInitable      *initable,
                           int                  io_priority,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  ICloudSession *self = ICLOUD_SESSION (initable);
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, icloud_session_init_async);
  self->initialized = TRUE;
  icloud_session_authenticate_async (self, FALSE, cancellable, init_authenticate_cb, task);
}

static gboolean
icloud_session_init_finish (GAsyncInitable  *initable,
                            GAsyncResult    *result,
                            GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, initable), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == icloud_session_init_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
icloud_session_initable_init (GInitable     *initable,
                              GCancellable  *cancellable,
                              GError       **error)
{
  ICloudSession *self = ICLOUD_SESSION (initable);

  self->initialized = TRUE;
  return icloud_session_authenticate (self, FALSE, cancellable, error);
}

static void
icloud_session_initable_iface_init (GInitableIface *iface)
{
  iface->init = icloud_session_initable_init;
}

static void
icloud_session_async_initable_iface_init (GAsyncInitableIface *iface)
{
  iface->init_async = icloud_session_init_async;
  iface->init_finish = icloud_session_init_finish;
}

/* ------------------------------------------------------------------------ */
/* GObject */

static GError *
validate_construct_properties (ICloudSession *self)
{
  static const struct { const char *name; gsize offset; } strings[] = {
    { "region", G_STRUCT_OFFSET (ICloudSession, region) },
    { "client id", G_STRUCT_OFFSET (ICloudSession, client_id) },
    { "sign-in method", G_STRUCT_OFFSET (ICloudSession, sign_in_method) },
  };

  if (self->apple_id == NULL || *self->apple_id == '\0')
    return g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "No Apple ID was given");
  if (!g_utf8_validate (self->apple_id, -1, NULL))
    return g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                        "The Apple ID is not valid UTF-8");
  if (self->password != NULL && !g_utf8_validate (self->password, -1, NULL))
    return g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                        "The password is not valid UTF-8");
  for (guint i = 0; i < G_N_ELEMENTS (strings); i++)
    {
      const char *value = G_STRUCT_MEMBER (const char *, self, strings[i].offset);

      if (value != NULL && !g_utf8_validate (value, -1, NULL))
        return g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "The %s is not valid UTF-8", strings[i].name);
    }
  return NULL;
}

static void
icloud_session_constructed (GObject *object)
{
  ICloudSession *self = ICLOUD_SESSION (object);

  G_OBJECT_CLASS (icloud_session_parent_class)->constructed (object);

  /* A property that cannot be used fails every operation, init first,
   * with G_IO_ERROR_INVALID_ARGUMENT: a precondition here would leave the
   * session half made and its first task never returned. */
  self->invalid = validate_construct_properties (self);
  if (self->invalid != NULL)
    {
      g_autofree char *shown = self->apple_id != NULL
        ? icloud_text_escape (self->apple_id, -1, ICLOUD_TEXT_MAX_QUOTED) : NULL;

      wipe_password (self);
      g_free (self->apple_id);
      self->apple_id = g_strdup (shown != NULL && *shown != '\0' ? shown : "invalid");
    }

  if (self->cookie_directory == NULL)
    self->cookie_directory = icloud_store_default_directory ();
  self->store = icloud_store_new_full (self->cookie_directory, self->apple_id,
                                       self->secret_store);
  self->account_name = g_strdup (self->apple_id);
}

static void
icloud_session_dispose (GObject *object)
{
  ICloudSession *self = ICLOUD_SESSION (object);

  g_hash_table_remove_all (self->methods);
  drop_blocking_soup_session (self);
  g_clear_object (&self->soup);

  G_OBJECT_CLASS (icloud_session_parent_class)->dispose (object);
}

static void
icloud_session_finalize (GObject *object)
{
  ICloudSession *self = ICLOUD_SESSION (object);

  wipe_password (self);
  g_clear_error (&self->invalid);
  g_main_context_unref (self->context);
  g_free (self->apple_id);
  g_free (self->region);
  g_clear_object (&self->endpoint);
  g_free (self->cookie_directory);
  g_free (self->client_id);
  g_free (self->sign_in_method);
  g_clear_object (&self->store);
  g_hash_table_unref (self->methods);
  g_clear_pointer (&self->account_doc, g_bytes_unref);
  g_clear_pointer (&self->account_info, json_node_unref);
  g_free (self->account_name);

  G_OBJECT_CLASS (icloud_session_parent_class)->finalize (object);
}

static void
icloud_session_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  ICloudSession *self = ICLOUD_SESSION (object);

  switch (prop_id)
    {
    case PROP_APPLE_ID:
      g_value_set_string (value, self->apple_id);
      break;
    case PROP_REGION:
      g_value_set_string (value, self->region);
      break;
    case PROP_ENDPOINT:
      g_value_set_object (value, self->endpoint);
      break;
    case PROP_COOKIE_DIRECTORY:
      g_value_set_string (value, self->cookie_directory);
      break;
    case PROP_SECRET_STORE:
      g_value_set_enum (value, self->secret_store);
      break;
    case PROP_CLIENT_ID:
      g_value_set_string (value, self->client_id);
      break;
    case PROP_SOUP_SESSION:
      g_value_set_object (value, self->soup);
      break;
    case PROP_SIGN_IN_METHOD:
      g_value_set_string (value, self->sign_in_method);
      break;
    case PROP_ACCOUNT_NAME:
      g_value_set_string (value, self->account_name);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_REQUIRES_2FA:
      g_value_set_boolean (value, icloud_session_get_requires_2fa (self));
      break;
    case PROP_REQUIRES_2SA:
      g_value_set_boolean (value, icloud_session_get_requires_2sa (self));
      break;
    case PROP_IS_TRUSTED_SESSION:
      g_value_set_boolean (value, icloud_session_get_is_trusted_session (self));
      break;
    case PROP_ACCOUNT_INFO:
      g_value_set_boxed (value, icloud_session_get_account_info (self));
      break;
    case PROP_RETRY_AFTER:
      g_value_set_uint (value, self->retry_after);
      break;
    case PROP_THROTTLE_RETRIES:
      g_value_set_uint (value, self->throttle_retries);
      break;
    case PROP_MAX_PASSWORD_SIGN_INS:
      g_value_set_uint (value, self->max_password_sign_ins);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
icloud_session_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  ICloudSession *self = ICLOUD_SESSION (object);

  switch (prop_id)
    {
    case PROP_APPLE_ID:
      self->apple_id = g_value_dup_string (value);
      break;
    case PROP_PASSWORD:
      wipe_password (self);
      self->password = g_value_dup_string (value);
      break;
    case PROP_REGION:
      g_free (self->region);
      self->region = g_value_dup_string (value);
      if (self->region == NULL)
        self->region = g_strdup ("global");
      break;
    case PROP_ENDPOINT:
      self->endpoint = g_value_dup_object (value);
      break;
    case PROP_COOKIE_DIRECTORY:
      self->cookie_directory = g_value_dup_string (value);
      break;
    case PROP_SECRET_STORE:
      self->secret_store = g_value_get_enum (value);
      break;
    case PROP_CLIENT_ID:
      self->client_id = g_value_dup_string (value);
      break;
    case PROP_SOUP_SESSION:
      self->soup = g_value_dup_object (value);
      self->own_soup = self->soup != NULL;
      break;
    case PROP_SIGN_IN_METHOD:
      g_free (self->sign_in_method);
      self->sign_in_method = g_value_dup_string (value);
      if (self->sign_in_method == NULL)
        self->sign_in_method = g_strdup ("srp");
      break;
    case PROP_THROTTLE_RETRIES:
      self->throttle_retries = g_value_get_uint (value);
      break;
    case PROP_MAX_PASSWORD_SIGN_INS:
      self->max_password_sign_ins = g_value_get_uint (value);
      break;
    case PROP_TIMEOUT:
      self->timeout = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
icloud_session_class_init (ICloudSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = icloud_session_constructed;
  object_class->dispose = icloud_session_dispose;
  object_class->finalize = icloud_session_finalize;
  object_class->get_property = icloud_session_get_property;
  object_class->set_property = icloud_session_set_property;

  /**
   * ICloudSession:apple-id:
   *
   * The Apple ID, exactly as the user typed it.
   */
  properties[PROP_APPLE_ID] =
    g_param_spec_string ("apple-id", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * ICloudSession:password:
   *
   * The password. Write-only; wiped from memory once Apple has answered the
   * proof made from it. Leave it unset to use the saved session only.
   */
  properties[PROP_PASSWORD] =
    g_param_spec_string ("password", NULL, NULL, NULL,
                         G_PARAM_WRITABLE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * ICloudSession:region:
   *
   * The region whose hosts the session talks to: `global`,
   * `china-mainland`, or any region a plugin provides. Ignored when
   * [property@ICloud.Session:endpoint] is set.
   */
  properties[PROP_REGION] =
    g_param_spec_string ("region", NULL, NULL, "global",
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * ICloudSession:endpoint:
   *
   * The endpoint the session talks to; overrides
   * [property@ICloud.Session:region]. When unset, the region's endpoint is
   * used once the session starts.
   */
  properties[PROP_ENDPOINT] =
    g_param_spec_object ("endpoint", NULL, NULL, ICLOUD_TYPE_ENDPOINT,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ICloudSession:cookie-directory:
   *
   * The directory the session is saved in; `$XDG_STATE_HOME/icloud-glib`
   * when unset.
   */
  properties[PROP_COOKIE_DIRECTORY] =
    g_param_spec_string ("cookie-directory", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * ICloudSession:secret-store:
   *
   * Where the session's tokens and cookies are kept: a 0600 file in
   * [property@ICloud.Session:cookie-directory] (%ICLOUD_SECRET_STORE_FILE,
   * the default) or the keyring through libsecret
   * (%ICLOUD_SECRET_STORE_KEYRING; the cookie directory then only holds the
   * per-account lock file). The keyring is optional: when it cannot be
   * reached (no Secret Service, as in most containers) or the library was
   * built without libsecret, operations fail with %ICLOUD_ERROR_STORAGE and
   * nothing falls back silently; use %ICLOUD_SECRET_STORE_FILE instead.
   * The keyring is read and written with libsecret's blocking calls, which
   * hold the calling thread briefly during an operation.
   */
  properties[PROP_SECRET_STORE] =
    g_param_spec_enum ("secret-store", NULL, NULL, ICLOUD_TYPE_SECRET_STORE,
                       ICLOUD_SECRET_STORE_FILE,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * ICloudSession:client-id:
   *
   * The client id sent to Apple. The one in the saved session wins; a new
   * session gets this one, or a random UUID.
   */
  properties[PROP_CLIENT_ID] =
    g_param_spec_string ("client-id", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ICloudSession:soup-session:
   *
   * The #SoupSession requests go through (for a proxy, a TLS database or a
   * test server). The session never adds its cookies to that session's
   * cookie jar: each account keeps its own.
   */
  properties[PROP_SOUP_SESSION] =
    g_param_spec_object ("soup-session", NULL, NULL, SOUP_TYPE_SESSION,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * ICloudSession:sign-in-method:
   *
   * The name of the auth method that proves the password: `srp` by default.
   */
  properties[PROP_SIGN_IN_METHOD] =
    g_param_spec_string ("sign-in-method", NULL, NULL, "srp",
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * ICloudSession:account-name:
   *
   * The account's name as Apple reports it, or the Apple ID.
   */
  properties[PROP_ACCOUNT_NAME] =
    g_param_spec_string ("account-name", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ICloudSession:state:
   *
   * Where the sign-in stands.
   */
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, ICLOUD_TYPE_AUTH_STATE,
                       ICLOUD_AUTH_STATE_SIGNED_OUT,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ICloudSession:requires-2fa:
   *
   * Whether a two-factor code is needed.
   */
  properties[PROP_REQUIRES_2FA] =
    g_param_spec_boolean ("requires-2fa", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ICloudSession:requires-2sa:
   *
   * Whether a two-step (2SA) code is needed. Unlike pyicloud's, it is not
   * also %TRUE for two-factor accounts.
   */
  properties[PROP_REQUIRES_2SA] =
    g_param_spec_boolean ("requires-2sa", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ICloudSession:is-trusted-session:
   *
   * Whether Apple trusts this session (no second factor at the next
   * sign-in).
   */
  properties[PROP_IS_TRUSTED_SESSION] =
    g_param_spec_boolean ("is-trusted-session", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ICloudSession:account-info:
   *
   * The latest account document of `accountLogin` or `validate`.
   */
  properties[PROP_ACCOUNT_INFO] =
    g_param_spec_boxed ("account-info", NULL, NULL, JSON_TYPE_NODE,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ICloudSession:retry-after:
   *
   * After %ICLOUD_ERROR_THROTTLED, the number of seconds Apple asked to wait
   * (0 when it did not say).
   */
  properties[PROP_RETRY_AFTER] =
    g_param_spec_uint ("retry-after", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ICloudSession:throttle-retries:
   *
   * How many times a request that is safe to repeat (validate,
   * accountLogin, signin/init) is sent again after Apple throttled it (503,
   * 429), waiting Apple's Retry-After or a backoff of 2^n seconds with
   * jitter, a minute at most. 0, the default, never retries: the caller owns
   * the schedule and gets %ICLOUD_ERROR_THROTTLED at once. A password proof
   * is never repeated.
   */
  properties[PROP_THROTTLE_RETRIES] =
    g_param_spec_uint ("throttle-retries", NULL, NULL, 0, 10, 0,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ICloudSession:max-password-sign-ins:
   *
   * How many full password sign-ins one account may make in 15 minutes
   * (counted across processes, in the saved session). Each one costs the
   * user a "new sign-in" e-mail from Apple; past the limit, a sign-in is
   * refused locally with %ICLOUD_ERROR_THROTTLED, without asking Apple.
   * 0 means no limit.
   */
  properties[PROP_MAX_PASSWORD_SIGN_INS] =
    g_param_spec_uint ("max-password-sign-ins", NULL, NULL, 0, G_MAXUINT,
                       ICLOUD_DEFAULT_MAX_PASSWORD_SIGN_INS,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ICloudSession:timeout:
   *
   * How many seconds Apple has to answer one request (sending it and
   * reading the whole answer); past it the operation fails with
   * %G_IO_ERROR_TIMED_OUT and the session stays as it was. 0 means no
   * limit.
   */
  properties[PROP_TIMEOUT] =
    g_param_spec_uint ("timeout", NULL, NULL, 0, G_MAXUINT, 60,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
icloud_session_init (ICloudSession *self)
{
  self->region = g_strdup ("global");
  self->sign_in_method = g_strdup ("srp");
  self->state = ICLOUD_AUTH_STATE_SIGNED_OUT;
  self->context = g_main_context_ref_thread_default ();
  self->methods = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
}

/* ------------------------------------------------------------------------ */
/* Getters */

/**
 * icloud_session_get_apple_id:
 * @self: a session
 *
 * Gets [property@ICloud.Session:apple-id].
 *
 * Returns: the Apple ID
 */
const char *
icloud_session_get_apple_id (ICloudSession *self)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), NULL);
  return self->apple_id;
}

/**
 * icloud_session_get_region:
 * @self: a session
 *
 * Gets [property@ICloud.Session:region].
 *
 * Returns: the region's name
 */
const char *
icloud_session_get_region (ICloudSession *self)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), NULL);
  return self->region;
}

/**
 * icloud_session_get_endpoint:
 * @self: a session
 *
 * Gets [property@ICloud.Session:endpoint].
 *
 * Returns: (transfer none) (nullable): the endpoint, or %NULL before the
 *   first operation when none was given
 */
ICloudEndpoint *
icloud_session_get_endpoint (ICloudSession *self)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), NULL);
  return self->endpoint;
}

/**
 * icloud_session_get_cookie_directory:
 * @self: a session
 *
 * Gets [property@ICloud.Session:cookie-directory].
 *
 * Returns: the directory the session is saved in
 */
const char *
icloud_session_get_cookie_directory (ICloudSession *self)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), NULL);
  return self->cookie_directory;
}

/**
 * icloud_session_get_client_id:
 * @self: a session
 *
 * Gets [property@ICloud.Session:client-id].
 *
 * Returns: (nullable): the client id, once known
 */
const char *
icloud_session_get_client_id (ICloudSession *self)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), NULL);
  return self->client_id;
}

/**
 * icloud_session_get_account_name:
 * @self: a session
 *
 * Gets [property@ICloud.Session:account-name].
 *
 * Returns: the account name
 */
const char *
icloud_session_get_account_name (ICloudSession *self)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), NULL);
  return self->account_name;
}

/**
 * icloud_session_get_state:
 * @self: a session
 *
 * Gets [property@ICloud.Session:state].
 *
 * Returns: where the sign-in stands
 */
ICloudAuthState
icloud_session_get_state (ICloudSession *self)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), ICLOUD_AUTH_STATE_SIGNED_OUT);
  return self->state;
}

/**
 * icloud_session_get_requires_2fa:
 * @self: a session
 *
 * Gets [property@ICloud.Session:requires-2fa].
 *
 * Returns: whether a two-factor code is needed
 */
gboolean
icloud_session_get_requires_2fa (ICloudSession *self)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), FALSE);
  return self->state == ICLOUD_AUTH_STATE_NEEDS_2FA;
}

/**
 * icloud_session_get_requires_2sa:
 * @self: a session
 *
 * Gets [property@ICloud.Session:requires-2sa].
 *
 * Returns: whether a two-step code is needed
 */
gboolean
icloud_session_get_requires_2sa (ICloudSession *self)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), FALSE);
  return self->state == ICLOUD_AUTH_STATE_NEEDS_2SA;
}

/**
 * icloud_session_get_is_trusted_session:
 * @self: a session
 *
 * Gets [property@ICloud.Session:is-trusted-session].
 *
 * Returns: whether Apple trusts this session
 */
gboolean
icloud_session_get_is_trusted_session (ICloudSession *self)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), FALSE);
  return self->trusted;
}

/**
 * icloud_session_get_account_info:
 * @self: a session
 *
 * Gets [property@ICloud.Session:account-info].
 *
 * Returns: (transfer none) (nullable): the latest account document
 */
JsonNode *
icloud_session_get_account_info (ICloudSession *self)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), NULL);

  if (self->account_info == NULL && self->account_doc != NULL)
    {
      gsize len;
      const char *text = g_bytes_get_data (self->account_doc, &len);

      self->account_info = icloud_json_parse (text, len, NULL);
    }
  return self->account_info;
}

/**
 * icloud_session_get_retry_after:
 * @self: a session
 *
 * Gets [property@ICloud.Session:retry-after].
 *
 * Returns: the seconds Apple asked to wait after %ICLOUD_ERROR_THROTTLED
 */
guint
icloud_session_get_retry_after (ICloudSession *self)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), 0);
  return self->retry_after;
}

/* ------------------------------------------------------------------------ */
/* The rest of the plugin API */

/**
 * icloud_session_lookup_data:
 * @self: a session
 * @key: a key of the saved session (`ICLOUD_DATA_*`)
 *
 * Looks up a value of the saved session, for plugins.
 *
 * Returns: (nullable): the saved value, or %NULL
 */
const char *
icloud_session_lookup_data (ICloudSession *self,
                            const char    *key)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);
  return icloud_store_get (self->store, key);
}

/**
 * icloud_session_store_data:
 * @self: a session
 * @key: a key
 * @value: (nullable): the value, or %NULL to remove the key
 *
 * Saves a value in the session (written at the end of the operation).
 */
void
icloud_session_store_data (ICloudSession *self,
                           const char    *key,
                           const char    *value)
{
  g_return_if_fail (ICLOUD_IS_SESSION (self));
  g_return_if_fail (key != NULL);
  icloud_store_set (self->store, key, value);
}

/**
 * icloud_session_get_password:
 * @self: a session
 *
 * For the auth method proving the password.
 *
 * Returns: (nullable): the password, or %NULL when none was given or it was
 *   already used
 */
const char *
icloud_session_get_password (ICloudSession *self)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), NULL);
  return self->password;
}

/**
 * icloud_session_set_auth_state:
 * @self: a session
 * @state: the new state
 *
 * For auth methods that learn the challenge is another one (a security key
 * instead of a code).
 */
void
icloud_session_set_auth_state (ICloudSession   *self,
                               ICloudAuthState  state)
{
  g_return_if_fail (ICLOUD_IS_SESSION (self));
  set_state (self, state);
}

ICloudStore *
icloud_session_get_store (ICloudSession *self)
{
  return self->store;
}

gboolean
icloud_session_check_usable (ICloudSession  *self,
                             GError        **error)
{
  if (self->invalid != NULL)
    {
      g_propagate_error (error, g_error_copy (self->invalid));
      return FALSE;
    }
  if (self->state == ICLOUD_AUTH_STATE_CLOSED)
    {
      g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_CLOSED, "The session was closed");
      return FALSE;
    }
  return TRUE;
}
