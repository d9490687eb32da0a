/* icloud-challenge.c: the second-factor operations of a session, delegated to the auth
 * method of the challenge (hsa2, hsa): list, request and validate a code,
 * then trust and accountLogin
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
/* Challenge operations, delegated to the hsa2 and hsa plugins */

static ICloudAuthMethod *
challenge_method (ICloudSession    *self,
                  ICloudAuthState   wanted,
                  GError          **error)
{
  const char *name = icloud_session_challenge_method_name (wanted);

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

  return icloud_session_get_method (self, name, error);
}

/* In an operation, the lock held: the method of the challenge the
 * operation is for, or NULL after ending the operation with the error. */
static ICloudAuthMethod *
challenge_locked_method (GTask *task)
{
  ICloudSession *self = g_task_get_source_object (task);
  OpData *data = g_task_get_task_data (task);
  ICloudAuthMethod *method;
  GError *error = NULL;

  method = challenge_method (self, data->wanted, &error);
  if (method == NULL)
    icloud_session_op_end (task, error);
  return method;
}

/* Starts a second-factor operation for @wanted, going on with @then. */
static void
challenge_op (ICloudSession       *self,
              ICloudAuthState      wanted,
              GObject             *target,
              const char          *code,
              GCancellable        *cancellable,
              GAsyncReadyCallback  callback,
              gpointer             user_data,
              gpointer             source_tag,
              OpContinue           then)
{
  GTask *task = icloud_session_op_new (self, cancellable, callback, user_data, source_tag);
  OpData *data = g_task_get_task_data (task);

  data->wanted = wanted;
  data->target = target ? g_object_ref (target) : NULL;
  data->code = g_strdup (code);   /* wiped with the task (icloud_crypto_free_secret) */
  icloud_session_op_begin (task, then);
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
      icloud_session_op_end (task, g_steal_pointer (&error));
      return;
    }
  icloud_session_op_end_pointer (task, list, g_object_unref);
}

static void
challenge_list_locked (GTask *task)
{
  ICloudAuthMethod *method = challenge_locked_method (task);

  if (method != NULL)
    icloud_auth_method_list_targets_async (method, icloud_session_get_context (g_task_get_source_object (task), method),
                                           g_task_get_cancellable (task),
                                           challenge_list_cb, task);
}

static void
challenge_list (ICloudSession       *self,
                ICloudAuthState      wanted,
                GCancellable        *cancellable,
                GAsyncReadyCallback  callback,
                gpointer             user_data,
                gpointer             source_tag)
{
  challenge_op (self, wanted, NULL, NULL, cancellable, callback, user_data, source_tag,
                challenge_list_locked);
}

static void
challenge_request_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  icloud_auth_method_request_code_finish (ICLOUD_AUTH_METHOD (source), result, &error);
  icloud_session_op_end (task, error);
}

static void
challenge_request_locked (GTask *task)
{
  OpData *data = g_task_get_task_data (task);
  ICloudAuthMethod *method = challenge_locked_method (task);

  if (method != NULL)
    icloud_auth_method_request_code_async (method, icloud_session_get_context (g_task_get_source_object (task), method), data->target,
                                           g_task_get_cancellable (task),
                                           challenge_request_cb, task);
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
  challenge_op (self, wanted, target, NULL, cancellable, callback, user_data, source_tag,
                challenge_request_locked);
}


static void
challenge_validate_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  GTask *task = user_data;
  GError *error = NULL;
  char *token = NULL;

  if (!icloud_auth_method_validate_code_finish (ICLOUD_AUTH_METHOD (source), result, &token, &error))
    {
      /* A wrong code leaves the challenge as it was, for another try. */
      icloud_session_op_end (task, error);
      return;
    }
  icloud_session_take_session_token (g_task_get_source_object (task), token);

  icloud_session_trust_then_login (task, ICLOUD_AUTH_METHOD (source));
}

static void
challenge_validate_locked (GTask *task)
{
  OpData *data = g_task_get_task_data (task);
  ICloudAuthMethod *method = challenge_locked_method (task);

  if (method != NULL)
    icloud_auth_method_validate_code_async (method, icloud_session_get_context (g_task_get_source_object (task), method),
                                            data->target, data->code,
                                            g_task_get_cancellable (task),
                                            challenge_validate_cb, task);
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
  if (!g_utf8_validate (code, -1, NULL))
    {
      g_task_report_new_error (self, callback, user_data, source_tag,
                               G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "The code is not valid UTF-8");
      return;
    }

  challenge_op (self, wanted, target, code, cancellable, callback, user_data, source_tag,
                challenge_validate_locked);
}

static void
trust_login_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  icloud_session_account_login_finish (ICLOUD_SESSION (source), result, &error);
  icloud_session_op_end (task, error);
}

static void
trust_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  GTask *task = user_data;
  ICloudSession *self = g_task_get_source_object (task);
  GError *error = NULL;
  char *token = NULL;

  if (!icloud_auth_method_trust_finish (ICLOUD_AUTH_METHOD (source), result, &token, &error))
    {
      icloud_session_op_end (task, error);
      return;
    }
  icloud_session_take_session_token (self, token);

  icloud_session_account_login_async (self, g_task_get_cancellable (task),
                                      trust_login_cb, task);
}

void
icloud_session_trust_then_login (GTask            *task,
                  ICloudAuthMethod *method)
{
  ICloudSession *self = g_task_get_source_object (task);

  icloud_auth_method_trust_async (method, icloud_session_get_context (self, method),
                                  g_task_get_cancellable (task),
                                  trust_cb, task);
}

gboolean
icloud_session_boolean_finish (ICloudSession  *self,
                GAsyncResult   *result,
                gpointer        source_tag,
                GError        **error)
{
  g_return_val_if_fail (ICLOUD_IS_SESSION (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

GListModel *
icloud_session_list_finish (ICloudSession  *self,
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
  return icloud_session_list_finish (self, result, icloud_session_get_trusted_phone_numbers_async, error);
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

  icloud_session_sync_data_init (&sync, self);
  icloud_session_get_trusted_phone_numbers_async (self, cancellable, icloud_session_sync_ready_cb, &sync);
  icloud_session_sync_data_wait (&sync);
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
  return icloud_session_boolean_finish (self, result, icloud_session_request_2fa_code_async, error);
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

  icloud_session_sync_data_init (&sync, self);
  icloud_session_request_2fa_code_async (self, phone, cancellable, icloud_session_sync_ready_cb, &sync);
  icloud_session_sync_data_wait (&sync);
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
  return icloud_session_boolean_finish (self, result, icloud_session_validate_2fa_code_async, error);
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

  icloud_session_sync_data_init (&sync, self);
  icloud_session_validate_2fa_code_async (self, code, cancellable, icloud_session_sync_ready_cb, &sync);
  icloud_session_sync_data_wait (&sync);
  return icloud_session_validate_2fa_code_finish (self, sync.result, error);
}

static void trust_session_locked (GTask *task);

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
  g_return_if_fail (ICLOUD_IS_SESSION (self));

  icloud_session_op_begin (icloud_session_op_new (self, cancellable, callback, user_data,
                                                  icloud_session_trust_session_async),
                           trust_session_locked);
}

static void
trust_session_locked (GTask *task)
{
  ICloudSession *self = g_task_get_source_object (task);
  ICloudAuthMethod *method;
  GError *error = NULL;
  const char *name;

  name = icloud_session_challenge_method_name (self->state);
  if (name == NULL)
    {
      /* Trusted already, or never challenged: there is nothing to trust. */
      if (self->state == ICLOUD_AUTH_STATE_AUTHENTICATED)
        {
          icloud_session_op_end (task, NULL);
          return;
        }
      icloud_session_op_end (task, g_error_new (ICLOUD_ERROR, ICLOUD_ERROR_NOT_AUTHENTICATED,
                                 "The session is not signed in"));
      return;
    }

  method = icloud_session_get_method (self, name, &error);
  if (method == NULL)
    {
      icloud_session_op_end (task, error);
      return;
    }
  icloud_session_trust_then_login (task, method);
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
  return icloud_session_boolean_finish (self, result, icloud_session_trust_session_async, error);
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

  icloud_session_sync_data_init (&sync, self);
  icloud_session_trust_session_async (self, cancellable, icloud_session_sync_ready_cb, &sync);
  icloud_session_sync_data_wait (&sync);
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
  return icloud_session_list_finish (self, result, icloud_session_get_trusted_devices_async, error);
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

  icloud_session_sync_data_init (&sync, self);
  icloud_session_get_trusted_devices_async (self, cancellable, icloud_session_sync_ready_cb, &sync);
  icloud_session_sync_data_wait (&sync);
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
  return icloud_session_boolean_finish (self, result, icloud_session_send_verification_code_async, error);
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

  icloud_session_sync_data_init (&sync, self);
  icloud_session_send_verification_code_async (self, device, cancellable, icloud_session_sync_ready_cb, &sync);
  icloud_session_sync_data_wait (&sync);
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
  return icloud_session_boolean_finish (self, result, icloud_session_validate_verification_code_async, error);
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

  icloud_session_sync_data_init (&sync, self);
  icloud_session_validate_verification_code_async (self, device, code, cancellable, icloud_session_sync_ready_cb, &sync);
  icloud_session_sync_data_wait (&sync);
  return icloud_session_validate_verification_code_finish (self, sync.result, error);
}
