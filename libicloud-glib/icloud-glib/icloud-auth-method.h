/* icloud-auth-method.h: base class of auth-method plugins
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ICLOUD_GLIB_INSIDE) && !defined(ICLOUD_GLIB_COMPILATION)
#error "Only <icloud-glib/icloud-plugin.h> can be included directly."
#endif

#include <gio/gio.h>
#include "icloud-version-macros.h"
#include "icloud-session.h"
#include "icloud-auth-context.h"

G_BEGIN_DECLS

/**
 * ICLOUD_AUTH_METHOD_EXTENSION_POINT_NAME:
 *
 * The name of the GIO extension point auth-method plugins implement.
 */
#define ICLOUD_AUTH_METHOD_EXTENSION_POINT_NAME "icloud-auth-method"

#define ICLOUD_TYPE_AUTH_METHOD (icloud_auth_method_get_type ())

ICLOUD_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (ICloudAuthMethod, icloud_auth_method, ICLOUD, AUTH_METHOD, GObject)

/**
 * ICloudAuthMethodClass:
 * @parent_class: the parent class
 * @sign_in_async: proves the password (or another first factor); the
 *   password is an argument, never readable from the session
 * @sign_in_finish: finishes @sign_in_async, giving Apple's session token
 * @begin_async: called when the session enters this method's challenge,
 *   to fetch what the challenge offers (for example the auth options)
 * @begin_finish: finishes @begin_async, giving the challenge that follows
 *   (the method's own, or another one: a security key instead of a code)
 * @list_targets_async: lists where a code can be sent (trusted phones or
 *   trusted devices)
 * @list_targets_finish: finishes @list_targets_async
 * @request_code_async: asks for a code to be sent to a target (or, with
 *   %NULL, to the default target)
 * @request_code_finish: finishes @request_code_async
 * @validate_code_async: checks a code; a wrong code is
 *   %ICLOUD_ERROR_INVALID_CODE
 * @validate_code_finish: finishes @validate_code_async, giving the session
 *   token Apple sent with its answer, if any
 * @trust_async: asks Apple to trust this session
 * @trust_finish: finishes @trust_async, giving the session token Apple sent
 *   with its answer, if any
 *
 * The virtual methods of an auth method. Each gets the
 * [class@ICloud.AuthContext] it works through. A method implements what
 * it supports; the others fail with %G_IO_ERROR_NOT_SUPPORTED. Session
 * tokens are results: the session saves the ones the `_finish` functions
 * give; a method never stores one itself.
 */
struct _ICloudAuthMethodClass
{
  GObjectClass parent_class;

  void        (*sign_in_async)        (ICloudAuthMethod     *self,
                                       ICloudAuthContext    *context,
                                       const char           *password,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data);
  gboolean    (*sign_in_finish)       (ICloudAuthMethod     *self,
                                       GAsyncResult         *result,
                                       char                **session_token,
                                       GError              **error);
  void        (*begin_async)          (ICloudAuthMethod     *self,
                                       ICloudAuthContext    *context,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data);
  ICloudAuthState (*begin_finish)     (ICloudAuthMethod     *self,
                                       GAsyncResult         *result,
                                       GError              **error);
  void        (*list_targets_async)   (ICloudAuthMethod     *self,
                                       ICloudAuthContext    *context,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data);
  GListModel *(*list_targets_finish)  (ICloudAuthMethod     *self,
                                       GAsyncResult         *result,
                                       GError              **error);
  void        (*request_code_async)   (ICloudAuthMethod     *self,
                                       ICloudAuthContext    *context,
                                       GObject              *target,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data);
  gboolean    (*request_code_finish)  (ICloudAuthMethod     *self,
                                       GAsyncResult         *result,
                                       GError              **error);
  void        (*validate_code_async)  (ICloudAuthMethod     *self,
                                       ICloudAuthContext    *context,
                                       GObject              *target,
                                       const char           *code,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data);
  gboolean    (*validate_code_finish) (ICloudAuthMethod     *self,
                                       GAsyncResult         *result,
                                       char                **session_token,
                                       GError              **error);
  void        (*trust_async)          (ICloudAuthMethod     *self,
                                       ICloudAuthContext    *context,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data);
  gboolean    (*trust_finish)         (ICloudAuthMethod     *self,
                                       GAsyncResult         *result,
                                       char                **session_token,
                                       GError              **error);

  /*< private >*/
  gpointer padding[8];
};

ICLOUD_AVAILABLE_IN_ALL
void        icloud_auth_method_register             (GType                 type,
                                                     const char           *name,
                                                     gint                  priority);

ICLOUD_AVAILABLE_IN_ALL
void        icloud_auth_method_sign_in_async        (ICloudAuthMethod     *self,
                                                     ICloudAuthContext    *context,
                                                     const char           *password,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
ICLOUD_AVAILABLE_IN_ALL
gboolean    icloud_auth_method_sign_in_finish       (ICloudAuthMethod     *self,
                                                     GAsyncResult         *result,
                                                     char                **session_token,
                                                     GError              **error);
ICLOUD_AVAILABLE_IN_ALL
void        icloud_auth_method_begin_async          (ICloudAuthMethod     *self,
                                                     ICloudAuthContext    *context,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
ICLOUD_AVAILABLE_IN_ALL
ICloudAuthState icloud_auth_method_begin_finish     (ICloudAuthMethod     *self,
                                                     GAsyncResult         *result,
                                                     GError              **error);
ICLOUD_AVAILABLE_IN_ALL
void        icloud_auth_method_list_targets_async   (ICloudAuthMethod     *self,
                                                     ICloudAuthContext    *context,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
ICLOUD_AVAILABLE_IN_ALL
GListModel *icloud_auth_method_list_targets_finish  (ICloudAuthMethod     *self,
                                                     GAsyncResult         *result,
                                                     GError              **error);
ICLOUD_AVAILABLE_IN_ALL
void        icloud_auth_method_request_code_async   (ICloudAuthMethod     *self,
                                                     ICloudAuthContext    *context,
                                                     GObject              *target,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
ICLOUD_AVAILABLE_IN_ALL
gboolean    icloud_auth_method_request_code_finish  (ICloudAuthMethod     *self,
                                                     GAsyncResult         *result,
                                                     GError              **error);
ICLOUD_AVAILABLE_IN_ALL
void        icloud_auth_method_validate_code_async  (ICloudAuthMethod     *self,
                                                     ICloudAuthContext    *context,
                                                     GObject              *target,
                                                     const char           *code,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
ICLOUD_AVAILABLE_IN_ALL
gboolean    icloud_auth_method_validate_code_finish (ICloudAuthMethod     *self,
                                                     GAsyncResult         *result,
                                                     char                **session_token,
                                                     GError              **error);
ICLOUD_AVAILABLE_IN_ALL
void        icloud_auth_method_trust_async          (ICloudAuthMethod     *self,
                                                     ICloudAuthContext    *context,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
ICLOUD_AVAILABLE_IN_ALL
gboolean    icloud_auth_method_trust_finish         (ICloudAuthMethod     *self,
                                                     GAsyncResult         *result,
                                                     char                **session_token,
                                                     GError              **error);

G_END_DECLS
