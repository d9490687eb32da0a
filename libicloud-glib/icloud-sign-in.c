/* icloud-sign-in.c: the sign-in flow of a session: validate → accountLogin with the
 * stored token → the password method (protocol §5.6), the password sign-in
 * rate limit, and logout
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

  if (!icloud_session_apply_account_info (self, response, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  g_task_return_boolean (task, TRUE);
}

/*
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

/*
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
  ICloudAuthState next;

  next = icloud_auth_method_begin_finish (ICLOUD_AUTH_METHOD (source), result, &error);
  if (error != NULL)
    {
      /* The sign-in did not finish (cancelled, the network): the session is
       * not signed in, as before it started. The saved token stays, so the
       * next sign-in takes up the challenge with no password. */
      icloud_session_forget_account_info (ICLOUD_SESSION (g_task_get_source_object (task)));
      icloud_session_set_state (ICLOUD_SESSION (g_task_get_source_object (task)), ICLOUD_AUTH_STATE_SIGNED_OUT);
      icloud_session_op_end (task, g_steal_pointer (&error));
      return;
    }
  /* The method says which challenge follows: its own, or another one (a
   * security key instead of a code). */
  if (next != ICLOUD_AUTH_STATE_SIGNED_OUT)
    icloud_session_set_state (ICLOUD_SESSION (g_task_get_source_object (task)), next);
  icloud_session_op_end (task, NULL);
}

/* After Apple's account document: a challenge method prepares its
 * challenge (where its plugin is installed). */
static void
auth_enter_state (GTask *task)
{
  ICloudSession *self = g_task_get_source_object (task);
  const char *name = icloud_session_challenge_method_name (self->state);
  ICloudAuthMethod *method;

  if (name == NULL)
    {
      icloud_session_op_end (task, NULL);
      return;
    }

  method = icloud_session_get_method (self, name, NULL);
  if (method == NULL)
    {
      /* The operations of the challenge will name the missing plugin. */
      icloud_session_op_end (task, NULL);
      return;
    }

  icloud_auth_method_begin_async (method, icloud_session_get_context (self, method),
                                  g_task_get_cancellable (task),
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
      icloud_session_apply_account_info (self, response, &error))
    {
      g_debug ("The saved web session is still valid");
      auth_enter_state (task);
      return;
    }

  if (is_final_error (error))
    {
      icloud_session_op_end (task, g_steal_pointer (&error));
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
      icloud_session_op_end (task, g_steal_pointer (&error));
      return;
    }
  else
    {
      g_debug ("The stored session token was not accepted: %s", error->message);
      /* Forget the short-lived state; keep the client id and the trust. */
      icloud_store_reset (self->store, TRUE);
      icloud_session_forget_account_info (self);
      icloud_session_set_state (self, ICLOUD_AUTH_STATE_SIGNED_OUT);
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
      icloud_session_op_end (task, g_steal_pointer (&error));
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
  icloud_session_set_retry_after (self, wait);
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
  char *token = NULL;

  self = g_task_get_source_object (task);
  if (!icloud_auth_method_sign_in_finish (ICLOUD_AUTH_METHOD (source), result, &token, &error))
    {
      /* A rejected password is of no further use; a transient failure
       * (network, throttling, cancellation) keeps it for a retry. */
      if (error->domain == ICLOUD_ERROR &&
          error->code != ICLOUD_ERROR_THROTTLED)
        icloud_session_wipe_password (self);
      icloud_session_op_end (task, g_steal_pointer (&error));
      return;
    }

  icloud_session_wipe_password (self);
  note_password_sign_in (self);
  if (token == NULL)
    {
      icloud_session_op_end (task, g_error_new (ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                                                "The auth method “%s” signed in without a session token",
                                                self->sign_in_method));
      return;
    }
  icloud_session_take_session_token (self, token);
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
      icloud_session_set_state (self, ICLOUD_AUTH_STATE_SIGNED_OUT);
      icloud_session_op_end (task, g_error_new (ICLOUD_ERROR, ICLOUD_ERROR_AUTH_REQUIRED,
                                 "No password was given and the saved session of %s cannot be used: sign in with the password",
                                 self->apple_id));
      return;
    }

  if (!check_password_sign_in_rate (self, &error))
    {
      icloud_session_op_end (task, g_steal_pointer (&error));
      return;
    }

  method = icloud_session_get_method (self, self->sign_in_method, &error);
  if (method == NULL)
    {
      icloud_session_op_end (task, g_steal_pointer (&error));
      return;
    }

  icloud_auth_method_sign_in_async (method, icloud_session_get_context (self, method),
                                    self->password, g_task_get_cancellable (task),
                                    auth_sign_in_cb, task);
}

static void
authenticate_locked (GTask *task)
{
  ICloudSession *self = g_task_get_source_object (task);
  OpData *data = g_task_get_task_data (task);

  icloud_session_set_retry_after (self, 0);

  if (!data->force_refresh &&
      icloud_store_get (self->store, ICLOUD_DATA_SESSION_TOKEN) != NULL &&
      has_web_token_cookie (self))
    {
      /* The body is the literal `null` (protocol §1.2 step 5). */
      g_autoptr(JsonNode) null_body = json_node_new (JSON_NODE_NULL);

      icloud_session_send_request_async (self, "POST", ICLOUD_ROOT_SETUP, "/validate",
                                         null_body, ICLOUD_REQUEST_IDEMPOTENT,
                                         g_task_get_cancellable (task),
                                         auth_validate_cb, task);
      return;
    }

  auth_try_token (task);
}

static void
authenticate_internal (ICloudSession       *self,
                       gboolean             force_refresh,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data,
                       gpointer             source_tag)
{
  GTask *task = icloud_session_op_new (self, cancellable, callback, user_data, source_tag);
  OpData *data = g_task_get_task_data (task);

  data->force_refresh = force_refresh;
  icloud_session_op_begin (task, authenticate_locked);
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

  icloud_session_sync_data_init (&sync, self);
  icloud_session_authenticate_async (self, force_refresh, cancellable, icloud_session_sync_ready_cb, &sync);
  icloud_session_sync_data_wait (&sync);
  return icloud_session_authenticate_finish (self, sync.result, error);
}


/* ------------------------------------------------------------------------ */
/* logout and close */

static void
logout_forget (GTask  *task,
               GError *error)
{
  ICloudSession *self = g_task_get_source_object (task);

  icloud_session_forget_account_info (self);
  /* What the methods hold in memory (a bridge's connection) goes too. */
  icloud_session_drop_methods (self);
  icloud_session_set_code_delivery (self, ICLOUD_CODE_DELIVERY_NONE);
  icloud_session_set_state (self, ICLOUD_AUTH_STATE_SIGNED_OUT);
  icloud_session_op_end (task, error);
}

static void
logout_delete_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  GError *error = NULL;

  icloud_store_delete_finish (ICLOUD_STORE (source), result, &error);
  logout_forget (user_data, error);
}

static void
logout_local (GTask *task)
{
  ICloudSession *self = g_task_get_source_object (task);
  OpData *data = g_task_get_task_data (task);

  /* data->force_refresh holds keep_trusted for this operation. */
  icloud_store_reset (self->store, data->force_refresh);
  if (!data->force_refresh)
    {
      /* No cancellable: the logout is done locally whatever happens. */
      icloud_store_delete_async (self->store, NULL, logout_delete_cb, task);
      return;
    }
  logout_forget (task, NULL);
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
      icloud_session_op_end (task, g_steal_pointer (&error));
      return;
    }
  if (response == NULL || !icloud_response_check (response, &error))
    g_debug ("Apple did not confirm the logout: %s", error->message);

  /* The local session is forgotten either way. */
  logout_local (task);
}

static void logout_locked (GTask *task);

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

  g_return_if_fail (ICLOUD_IS_SESSION (self));

  task = icloud_session_op_new (self, cancellable, callback, user_data, icloud_session_logout_async);
  data = g_task_get_task_data (task);
  data->force_refresh = keep_trusted;
  data->all_sessions = all_sessions;
  icloud_session_op_begin (task, logout_locked);
}

static void
logout_locked (GTask *task)
{
  ICloudSession *self = g_task_get_source_object (task);
  OpData *data = g_task_get_task_data (task);
  g_autofree char *text = NULL;
  g_autoptr(JsonNode) body = NULL;

  if (icloud_store_get (self->store, ICLOUD_DATA_DSID) == NULL ||
      !has_web_token_cookie (self))
    {
      logout_local (task);
      return;
    }

  text = g_strdup_printf ("{\"trustBrowser\":%s,\"allBrowsers\":%s}",
                          data->force_refresh ? "true" : "false",
                          data->all_sessions ? "true" : "false");
  body = json_from_string (text, NULL);
  icloud_session_send_request_async (self, "POST", ICLOUD_ROOT_SETUP, "/logout", body,
                                     ICLOUD_REQUEST_SETUP_PARAMS | ICLOUD_REQUEST_TEXT_PLAIN,
                                     g_task_get_cancellable (task), logout_cb, task);
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
  return icloud_session_boolean_finish (self, result, icloud_session_logout_async, error);
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

  icloud_session_sync_data_init (&sync, self);
  icloud_session_logout_async (self, keep_trusted, all_sessions, cancellable, icloud_session_sync_ready_cb, &sync);
  icloud_session_sync_data_wait (&sync);
  return icloud_session_logout_finish (self, sync.result, error);
}
