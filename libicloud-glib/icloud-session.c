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
#include "icloud-auth-context-private.h"
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
  PROP_CODE_DELIVERY,
  PROP_TRUSTED_DEVICE_BRIDGE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];


#define ICLOUD_DEFAULT_MAX_PASSWORD_SIGN_INS 5

static void icloud_session_initable_iface_init       (GInitableIface      *iface);
static void icloud_session_async_initable_iface_init (GAsyncInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (ICloudSession, icloud_session, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      icloud_session_initable_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_ASYNC_INITABLE,
                                                      icloud_session_async_initable_iface_init))

/* State */

void
icloud_session_set_state (ICloudSession   *self,
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

void
icloud_session_set_code_delivery (ICloudSession      *self,
                                  ICloudCodeDelivery  delivery)
{
  if (self->code_delivery == delivery)
    return;
  self->code_delivery = delivery;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CODE_DELIVERY]);
}

/* Lets go of the auth methods and what they hold in memory (the bridge's
 * connection): on close, dispose and logout. They are made again when
 * needed. */
void
icloud_session_drop_methods (ICloudSession *self)
{
  g_hash_table_remove_all (self->methods);
}

void
icloud_session_set_retry_after (ICloudSession *self,
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
gboolean
icloud_session_apply_account_info (ICloudSession   *self,
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
  icloud_session_set_state (self, parsed.state);
  g_object_thaw_notify (G_OBJECT (self));

  return TRUE;
}

void
icloud_session_forget_account_info (ICloudSession *self)
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

const char *
icloud_session_challenge_method_name (ICloudAuthState state)
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

G_DEFINE_QUARK (icloud-auth-context, context)

static void
detach_context (ICloudAuthContext *context)
{
  icloud_auth_context_detach (context);
  g_object_unref (context);
}

ICloudAuthMethod *
icloud_session_get_method (ICloudSession  *self,
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
      /* The method's view of this session, made once. */
      g_object_set_qdata_full (G_OBJECT (method), context_quark (),
                               icloud_auth_context_new (self, name),
                               (GDestroyNotify) detach_context);
    }

  return method;
}

ICloudAuthContext *
icloud_session_get_context (ICloudSession    *self,
                            ICloudAuthMethod *method)
{
  ICloudAuthContext *context = g_object_get_qdata (G_OBJECT (method), context_quark ());

  g_assert (context != NULL && icloud_auth_context_get_session (context) == self);
  return context;
}

void
icloud_session_take_session_token (ICloudSession *self,
                                   char          *token)
{
  if (token == NULL)
    return;
  if (*token != '\0' && g_utf8_validate (token, -1, NULL))
    icloud_store_set (self->store, ICLOUD_DATA_SESSION_TOKEN, token);
  icloud_crypto_free_secret (token);
}

void
icloud_session_wipe_password (ICloudSession *self)
{
  g_clear_pointer (&self->password, icloud_crypto_free_secret);
}

/* Close */

static void
close_save_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ICloudSession *self = g_task_get_source_object (task);
  GError *error = NULL;

  self->busy = FALSE;
  if (!icloud_store_save_finish (ICLOUD_STORE (source), result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
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
 * saved session stays on disk for the next start. The session is closed at
 * once; @callback runs once the save (done off the calling thread) is over.
 */
void
icloud_session_close_async (ICloudSession       *self,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

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

  icloud_session_wipe_password (self);
  /* Let go of the (shared) SoupSession: its connections close once no open
   * session uses it. */
  if (!self->own_soup)
    g_clear_object (&self->soup);
  icloud_session_drop_methods (self);
  icloud_session_set_state (self, ICLOUD_AUTH_STATE_CLOSED);

  if (self->initialized && self->invalid == NULL)
    {
      /* Busy until the save finished; no cancellable: what the session
       * learnt is kept. */
      self->busy = TRUE;
      icloud_store_save_async (self->store, NULL, close_save_cb, g_steal_pointer (&task));
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
  return icloud_session_boolean_finish (self, result, icloud_session_close_async, error);
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

  icloud_session_sync_data_init (&sync, self);
  icloud_session_close_async (self, cancellable, icloud_session_sync_ready_cb, &sync);
  icloud_session_sync_data_wait (&sync);
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

      icloud_session_wipe_password (self);
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

  icloud_session_drop_methods (self);
  icloud_session_drop_blocking_soup_session (self);
  g_clear_object (&self->soup);

  G_OBJECT_CLASS (icloud_session_parent_class)->dispose (object);
}

static void
icloud_session_finalize (GObject *object)
{
  ICloudSession *self = ICLOUD_SESSION (object);

  icloud_session_wipe_password (self);
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

    case PROP_CODE_DELIVERY:
      g_value_set_enum (value, self->code_delivery);
      break;

    case PROP_TRUSTED_DEVICE_BRIDGE:
      g_value_set_boolean (value, self->trusted_device_bridge);
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
      icloud_session_wipe_password (self);
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
      icloud_session_set_throttle_retries (self, g_value_get_uint (value));
      break;
    case PROP_MAX_PASSWORD_SIGN_INS:
      icloud_session_set_max_password_sign_ins (self, g_value_get_uint (value));
      break;
    case PROP_TIMEOUT:
      icloud_session_set_timeout (self, g_value_get_uint (value));
      break;

    case PROP_TRUSTED_DEVICE_BRIDGE:
      icloud_session_set_trusted_device_bridge (self, g_value_get_boolean (value));
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

  /**
   * ICloudSession:code-delivery: (getter get_code_delivery)
   *
   * Which route the last successful
   * [method@ICloud.Session.request_2fa_code] used: the trusted-device
   * bridge, Apple's push to the trusted devices, or an SMS.
   * %ICLOUD_CODE_DELIVERY_NONE until a code was requested in this process.
   */
  properties[PROP_CODE_DELIVERY] =
    g_param_spec_enum ("code-delivery", NULL, NULL,
                       ICLOUD_TYPE_CODE_DELIVERY, ICLOUD_CODE_DELIVERY_NONE,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ICloudSession:trusted-device-bridge: (getter get_trusted_device_bridge) (setter set_trusted_device_bridge)
   *
   * Whether [method@ICloud.Session.request_2fa_code] (without a phone)
   * uses the trusted-device bridge when Apple offers it, as icloud.com
   * does. The bridge's connection lives in this process only: the code
   * must then be checked by the same session
   * ([method@ICloud.Session.validate_2fa_code]), with its main context
   * running in between. Set it to %FALSE when the code is requested and
   * checked by different processes (headless use): Apple is then asked to
   * push a code to the trusted devices instead, which any process may
   * check. The blocking twins never use the bridge (their private main
   * context is gone when they return).
   */
  properties[PROP_TRUSTED_DEVICE_BRIDGE] =
    g_param_spec_boolean ("trusted-device-bridge", NULL, NULL, TRUE,
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

/**
 * icloud_session_get_timeout:
 * @self: a session
 *
 * Gets [property@ICloud.Session:timeout].
 *
 * Returns: the seconds Apple has to answer one request, or 0 for no limit
 */
guint
icloud_session_get_timeout (ICloudSession *self)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), 0);
  return self->timeout;
}

/**
 * icloud_session_set_timeout:
 * @self: a session
 * @timeout: seconds, or 0 for no limit
 *
 * Sets [property@ICloud.Session:timeout]; requests already sent keep the
 * timeout they started with.
 */
void
icloud_session_set_timeout (ICloudSession *self,
                            guint          timeout)
{
  g_return_if_fail (ICLOUD_IS_SESSION (self));

  if (self->timeout == timeout)
    return;
  self->timeout = timeout;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMEOUT]);
}

/**
 * icloud_session_get_code_delivery:
 * @self: a session
 *
 * Gets [property@ICloud.Session:code-delivery].
 *
 * Returns: the route of the last code requested
 */
ICloudCodeDelivery
icloud_session_get_code_delivery (ICloudSession *self)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), ICLOUD_CODE_DELIVERY_NONE);
  return self->code_delivery;
}

/**
 * icloud_session_get_trusted_device_bridge:
 * @self: a session
 *
 * Gets [property@ICloud.Session:trusted-device-bridge].
 *
 * Returns: whether a code request may use the trusted-device bridge
 */
gboolean
icloud_session_get_trusted_device_bridge (ICloudSession *self)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), FALSE);
  return self->trusted_device_bridge;
}

/**
 * icloud_session_set_trusted_device_bridge:
 * @self: a session
 * @enabled: whether to use the bridge when Apple offers it
 *
 * Sets [property@ICloud.Session:trusted-device-bridge]. It applies to the
 * next code request; a bridge already open stays until its code is
 * checked or a new code is requested.
 */
void
icloud_session_set_trusted_device_bridge (ICloudSession *self,
                                          gboolean       enabled)
{
  g_return_if_fail (ICLOUD_IS_SESSION (self));

  enabled = !!enabled;
  if (self->trusted_device_bridge == enabled)
    return;
  self->trusted_device_bridge = enabled;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TRUSTED_DEVICE_BRIDGE]);
}

/**
 * icloud_session_get_throttle_retries:
 * @self: a session
 *
 * Gets [property@ICloud.Session:throttle-retries].
 *
 * Returns: how often a throttled request that is safe to repeat is sent again
 */
guint
icloud_session_get_throttle_retries (ICloudSession *self)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), 0);
  return self->throttle_retries;
}

/**
 * icloud_session_set_throttle_retries:
 * @self: a session
 * @retries: 0 to 10
 *
 * Sets [property@ICloud.Session:throttle-retries].
 */
void
icloud_session_set_throttle_retries (ICloudSession *self,
                                     guint          retries)
{
  g_return_if_fail (ICLOUD_IS_SESSION (self));
  g_return_if_fail (retries <= 10);

  if (self->throttle_retries == retries)
    return;
  self->throttle_retries = retries;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_THROTTLE_RETRIES]);
}

/**
 * icloud_session_get_max_password_sign_ins:
 * @self: a session
 *
 * Gets [property@ICloud.Session:max-password-sign-ins].
 *
 * Returns: the password sign-ins allowed in 15 minutes, or 0 for no limit
 */
guint
icloud_session_get_max_password_sign_ins (ICloudSession *self)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), 0);
  return self->max_password_sign_ins;
}

/**
 * icloud_session_set_max_password_sign_ins:
 * @self: a session
 * @max: the password sign-ins allowed in 15 minutes, or 0 for no limit
 *
 * Sets [property@ICloud.Session:max-password-sign-ins].
 */
void
icloud_session_set_max_password_sign_ins (ICloudSession *self,
                                          guint          max)
{
  g_return_if_fail (ICLOUD_IS_SESSION (self));

  if (self->max_password_sign_ins == max)
    return;
  self->max_password_sign_ins = max;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_PASSWORD_SIGN_INS]);
}

/* ------------------------------------------------------------------------ */
/* The rest of the plugin API */

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
