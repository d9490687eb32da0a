/* icloud-auth-method.c: base class of auth-method plugins
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "icloud-plugin.h"
#include "icloud-plugin-loader-private.h"

/**
 * ICloudAuthMethod:
 *
 * One way of proving who the user is. `srp` proves the password; `hsa2`
 * runs the two-factor challenge; `hsa` the legacy two-step one. Methods are
 * plugins: GIO modules implementing the
 * [const@ICloud.AUTH_METHOD_EXTENSION_POINT_NAME] extension point, or
 * classes registered with [func@ICloud.AuthMethod.register].
 *
 * A session makes one instance of each method it uses and calls its
 * virtual methods; a method talks to Apple through the
 * [class@ICloud.AuthContext] each call gets (`icloud-glib/icloud-plugin.h`):
 * [method@ICloud.AuthContext.send_request_async],
 * [method@ICloud.AuthContext.lookup] and
 * [method@ICloud.AuthContext.store]. It never sees the application's
 * [class@ICloud.Session].
 */
G_DEFINE_ABSTRACT_TYPE (ICloudAuthMethod, icloud_auth_method, G_TYPE_OBJECT)

static void
report_not_supported (ICloudAuthMethod    *self,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data,
                      gpointer             source_tag,
                      const char          *what)
{
  g_task_report_new_error (self, callback, user_data, source_tag,
                           G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "The auth method %s does not %s",
                           G_OBJECT_TYPE_NAME (self), what);
}

static void
default_sign_in_async (ICloudAuthMethod *self, ICloudAuthContext *context,
                       const char *password, GCancellable *cancellable, GAsyncReadyCallback callback,
                       gpointer user_data)
{
  report_not_supported (self, callback, user_data, default_sign_in_async, "sign in");
}

static void
default_begin_async (ICloudAuthMethod *self, ICloudAuthContext *context,
                     GCancellable *cancellable, GAsyncReadyCallback callback,
                     gpointer user_data)
{
  /* Nothing to prepare by default: the challenge is the one the session
   * is in. */
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, default_begin_async);
  g_task_return_int (task, icloud_auth_context_get_state (context));
  g_object_unref (task);
}

static void
default_list_targets_async (ICloudAuthMethod *self, ICloudAuthContext *context,
                            GCancellable *cancellable, GAsyncReadyCallback callback,
                            gpointer user_data)
{
  report_not_supported (self, callback, user_data, default_list_targets_async, "list targets");
}

static void
default_request_code_async (ICloudAuthMethod *self, ICloudAuthContext *context,
                            GObject *target, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  report_not_supported (self, callback, user_data, default_request_code_async, "send codes");
}

static void
default_validate_code_async (ICloudAuthMethod *self, ICloudAuthContext *context,
                             GObject *target, const char *code,
                             GCancellable *cancellable, GAsyncReadyCallback callback,
                             gpointer user_data)
{
  report_not_supported (self, callback, user_data, default_validate_code_async, "check codes");
}

static void
default_trust_async (ICloudAuthMethod *self, ICloudAuthContext *context,
                     GCancellable *cancellable, GAsyncReadyCallback callback,
                     gpointer user_data)
{
  report_not_supported (self, callback, user_data, default_trust_async, "trust sessions");
}

static gboolean
default_boolean_finish (ICloudAuthMethod  *self,
                        GAsyncResult      *result,
                        GError           **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
default_token_finish (ICloudAuthMethod  *self,
                      GAsyncResult      *result,
                      char             **session_token,
                      GError           **error)
{
  if (session_token != NULL)
    *session_token = NULL;
  return g_task_propagate_boolean (G_TASK (result), error);
}

static ICloudAuthState
default_begin_finish (ICloudAuthMethod  *self,
                      GAsyncResult      *result,
                      GError           **error)
{
  GError *local_error = NULL;
  gssize state = g_task_propagate_int (G_TASK (result), &local_error);

  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return ICLOUD_AUTH_STATE_SIGNED_OUT;
    }
  return (ICloudAuthState) state;
}

static GListModel *
default_list_targets_finish (ICloudAuthMethod  *self,
                             GAsyncResult      *result,
                             GError           **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
icloud_auth_method_class_init (ICloudAuthMethodClass *klass)
{
  klass->sign_in_async = default_sign_in_async;
  klass->sign_in_finish = default_token_finish;
  klass->begin_async = default_begin_async;
  klass->begin_finish = default_begin_finish;
  klass->list_targets_async = default_list_targets_async;
  klass->list_targets_finish = default_list_targets_finish;
  klass->request_code_async = default_request_code_async;
  klass->request_code_finish = default_boolean_finish;
  klass->validate_code_async = default_validate_code_async;
  klass->validate_code_finish = default_token_finish;
  klass->trust_async = default_trust_async;
  klass->trust_finish = default_token_finish;
}

static void
icloud_auth_method_init (ICloudAuthMethod *self)
{
}

/**
 * icloud_auth_method_register:
 * @type: a subtype of [class@ICloud.AuthMethod]
 * @name: the method's name (`srp`, `hsa2`, `hsa`, or a new one)
 * @priority: the extension's priority
 *
 * Makes an auth method known to every session of the process. Plugin
 * modules call it from `g_io_module_load()`; a class written in Python or
 * JavaScript registers itself this way through introspection.
 */
void
icloud_auth_method_register (GType       type,
                             const char *name,
                             gint        priority)
{
  g_return_if_fail (g_type_is_a (type, ICLOUD_TYPE_AUTH_METHOD));
  g_return_if_fail (name != NULL);

  icloud_plugins_ensure_extension_points ();
  g_io_extension_point_implement (ICLOUD_AUTH_METHOD_EXTENSION_POINT_NAME,
                                  type, name, priority);
}

/**
 * icloud_auth_method_sign_in_async:
 * @self: an auth method
 * @context: the context of the session signing in
 * @password: the password (the session wipes it once this finishes)
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Proves the first factor.
 */
void
icloud_auth_method_sign_in_async (ICloudAuthMethod    *self,
                                  ICloudAuthContext   *context,
                                  const char          *password,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_return_if_fail (ICLOUD_IS_AUTH_METHOD (self));
  g_return_if_fail (ICLOUD_IS_AUTH_CONTEXT (context));
  g_return_if_fail (password != NULL);
  ICLOUD_AUTH_METHOD_GET_CLASS (self)->sign_in_async (self, context, password, cancellable, callback, user_data);
}

/**
 * icloud_auth_method_sign_in_finish:
 * @self: an auth method
 * @result: the result
 * @session_token: (out) (optional) (nullable) (transfer full): Apple's new
 *   session token, or %NULL when its answer had none
 * @error: return location for a #GError
 *
 * Finishes [method@ICloud.AuthMethod.sign_in_async].
 *
 * Returns: %TRUE on success
 */
gboolean
icloud_auth_method_sign_in_finish (ICloudAuthMethod  *self,
                                   GAsyncResult      *result,
                                   char             **session_token,
                                   GError           **error)
{
  g_autofree char *token = NULL;
  gboolean ok;

  g_return_val_if_fail (ICLOUD_IS_AUTH_METHOD (self), FALSE);
  ok = ICLOUD_AUTH_METHOD_GET_CLASS (self)->sign_in_finish (self, result, &token, error);
  if (session_token != NULL)
    *session_token = ok ? g_steal_pointer (&token) : NULL;
  return ok;
}

/**
 * icloud_auth_method_begin_async:
 * @self: an auth method
 * @context: the context of the session entering the challenge
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Prepares the method's challenge (for example, fetches what Apple offers).
 */
void
icloud_auth_method_begin_async (ICloudAuthMethod    *self,
                                ICloudAuthContext   *context,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_return_if_fail (ICLOUD_IS_AUTH_METHOD (self));
  ICLOUD_AUTH_METHOD_GET_CLASS (self)->begin_async (self, context, cancellable, callback, user_data);
}

/**
 * icloud_auth_method_begin_finish:
 * @self: an auth method
 * @result: the result
 * @error: return location for a #GError
 *
 * Finishes [method@ICloud.AuthMethod.begin_async].
 *
 * Returns: the challenge that follows (the method's own, or another one),
 *   or %ICLOUD_AUTH_STATE_SIGNED_OUT with @error set
 */
ICloudAuthState
icloud_auth_method_begin_finish (ICloudAuthMethod  *self,
                                 GAsyncResult      *result,
                                 GError           **error)
{
  g_return_val_if_fail (ICLOUD_IS_AUTH_METHOD (self), ICLOUD_AUTH_STATE_SIGNED_OUT);
  return ICLOUD_AUTH_METHOD_GET_CLASS (self)->begin_finish (self, result, error);
}

/**
 * icloud_auth_method_list_targets_async:
 * @self: an auth method
 * @context: the context of the session
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Lists where a code can be sent.
 */
void
icloud_auth_method_list_targets_async (ICloudAuthMethod    *self,
                                       ICloudAuthContext   *context,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  g_return_if_fail (ICLOUD_IS_AUTH_METHOD (self));
  ICLOUD_AUTH_METHOD_GET_CLASS (self)->list_targets_async (self, context, cancellable, callback, user_data);
}

/**
 * icloud_auth_method_list_targets_finish:
 * @self: an auth method
 * @result: the result
 * @error: return location for a #GError
 *
 * Finishes [method@ICloud.AuthMethod.list_targets_async].
 *
 * Returns: (transfer full): a list of [class@ICloud.TrustedPhone] or
 *   [class@ICloud.TrustedDevice]
 */
GListModel *
icloud_auth_method_list_targets_finish (ICloudAuthMethod  *self,
                                        GAsyncResult      *result,
                                        GError           **error)
{
  g_return_val_if_fail (ICLOUD_IS_AUTH_METHOD (self), NULL);
  return ICLOUD_AUTH_METHOD_GET_CLASS (self)->list_targets_finish (self, result, error);
}

/**
 * icloud_auth_method_request_code_async:
 * @self: an auth method
 * @context: the context of the session
 * @target: (nullable): a target from the list, or %NULL for the default
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Asks Apple to send a code.
 */
void
icloud_auth_method_request_code_async (ICloudAuthMethod    *self,
                                       ICloudAuthContext   *context,
                                       GObject             *target,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  g_return_if_fail (ICLOUD_IS_AUTH_METHOD (self));
  ICLOUD_AUTH_METHOD_GET_CLASS (self)->request_code_async (self, context, target, cancellable, callback, user_data);
}

/**
 * icloud_auth_method_request_code_finish:
 * @self: an auth method
 * @result: the result
 * @error: return location for a #GError
 *
 * Finishes [method@ICloud.AuthMethod.request_code_async].
 *
 * Returns: %TRUE on success
 */
gboolean
icloud_auth_method_request_code_finish (ICloudAuthMethod  *self,
                                        GAsyncResult      *result,
                                        GError           **error)
{
  g_return_val_if_fail (ICLOUD_IS_AUTH_METHOD (self), FALSE);
  return ICLOUD_AUTH_METHOD_GET_CLASS (self)->request_code_finish (self, result, error);
}

/**
 * icloud_auth_method_validate_code_async:
 * @self: an auth method
 * @context: the context of the session
 * @target: (nullable): the target the code was sent to, or %NULL
 * @code: the code the user typed
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Checks a code.
 */
void
icloud_auth_method_validate_code_async (ICloudAuthMethod    *self,
                                        ICloudAuthContext   *context,
                                        GObject             *target,
                                        const char          *code,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  g_return_if_fail (ICLOUD_IS_AUTH_METHOD (self));
  ICLOUD_AUTH_METHOD_GET_CLASS (self)->validate_code_async (self, context, target, code, cancellable, callback, user_data);
}

/**
 * icloud_auth_method_validate_code_finish:
 * @self: an auth method
 * @result: the result
 * @session_token: (out) (optional) (nullable) (transfer full): Apple's new
 *   session token, or %NULL when its answer had none
 * @error: return location for a #GError
 *
 * Finishes [method@ICloud.AuthMethod.validate_code_async].
 *
 * Returns: %TRUE if the code was accepted
 */
gboolean
icloud_auth_method_validate_code_finish (ICloudAuthMethod  *self,
                                         GAsyncResult      *result,
                                         char             **session_token,
                                         GError           **error)
{
  g_autofree char *token = NULL;
  gboolean ok;

  g_return_val_if_fail (ICLOUD_IS_AUTH_METHOD (self), FALSE);
  ok = ICLOUD_AUTH_METHOD_GET_CLASS (self)->validate_code_finish (self, result, &token, error);
  if (session_token != NULL)
    *session_token = ok ? g_steal_pointer (&token) : NULL;
  return ok;
}

/**
 * icloud_auth_method_trust_async:
 * @self: an auth method
 * @context: the context of the session
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Asks Apple to trust this session.
 */
void
icloud_auth_method_trust_async (ICloudAuthMethod    *self,
                                ICloudAuthContext   *context,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_return_if_fail (ICLOUD_IS_AUTH_METHOD (self));
  ICLOUD_AUTH_METHOD_GET_CLASS (self)->trust_async (self, context, cancellable, callback, user_data);
}

/**
 * icloud_auth_method_trust_finish:
 * @self: an auth method
 * @result: the result
 * @session_token: (out) (optional) (nullable) (transfer full): Apple's new
 *   session token, or %NULL when its answer had none
 * @error: return location for a #GError
 *
 * Finishes [method@ICloud.AuthMethod.trust_async].
 *
 * Returns: %TRUE on success
 */
gboolean
icloud_auth_method_trust_finish (ICloudAuthMethod  *self,
                                 GAsyncResult      *result,
                                 char             **session_token,
                                 GError           **error)
{
  g_autofree char *token = NULL;
  gboolean ok;

  g_return_val_if_fail (ICLOUD_IS_AUTH_METHOD (self), FALSE);
  ok = ICLOUD_AUTH_METHOD_GET_CLASS (self)->trust_finish (self, result, &token, error);
  if (session_token != NULL)
    *session_token = ok ? g_steal_pointer (&token) : NULL;
  return ok;
}
