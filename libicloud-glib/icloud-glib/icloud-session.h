/* icloud-session.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ICLOUD_GLIB_INSIDE) && !defined(ICLOUD_GLIB_COMPILATION)
#error "Only <icloud-glib/icloud-glib.h> can be included directly."
#endif

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include "icloud-version-macros.h"
#include "icloud-endpoint.h"
#include "icloud-trusted-phone.h"
#include "icloud-trusted-device.h"

G_BEGIN_DECLS

/**
 * ICloudAuthState:
 * @ICLOUD_AUTH_STATE_SIGNED_OUT: not signed in.
 * @ICLOUD_AUTH_STATE_NEEDS_2FA: the password was accepted and a two-factor
 *   code is needed ([method@ICloud.Session.validate_2fa_code]).
 * @ICLOUD_AUTH_STATE_NEEDS_2SA: the password was accepted and a legacy
 *   two-step code is needed ([method@ICloud.Session.validate_verification_code]).
 * @ICLOUD_AUTH_STATE_NEEDS_SECURITY_KEY: the account needs a security key.
 * @ICLOUD_AUTH_STATE_AUTHENTICATED: fully signed in.
 * @ICLOUD_AUTH_STATE_CLOSED: [method@ICloud.Session.close] was called.
 *
 * Where a sign-in stands. Exactly one challenge is named at a time: unlike
 * pyicloud, a two-factor account is never also reported as needing two-step
 * verification.
 */
typedef enum /*< underscore_name=icloud_auth_state >*/ {
  ICLOUD_AUTH_STATE_SIGNED_OUT,
  ICLOUD_AUTH_STATE_NEEDS_2FA,
  ICLOUD_AUTH_STATE_NEEDS_2SA,
  ICLOUD_AUTH_STATE_NEEDS_SECURITY_KEY,
  ICLOUD_AUTH_STATE_AUTHENTICATED,
  ICLOUD_AUTH_STATE_CLOSED,
} ICloudAuthState;

/**
 * ICloudSecretStore:
 * @ICLOUD_SECRET_STORE_FILE: one 0600 file per account in
 *   [property@ICloud.Session:cookie-directory] (the default; works
 *   everywhere, including containers without a Secret Service).
 * @ICLOUD_SECRET_STORE_KEYRING: the keyring, through libsecret and the
 *   Secret Service (GNOME Keyring, KWallet, KeePassXC, ...). The cookie
 *   directory then only holds the lock file. If the keyring cannot be
 *   reached, or the library was built without libsecret, operations fail
 *   with %ICLOUD_ERROR_STORAGE: there is no silent fallback, choose
 *   %ICLOUD_SECRET_STORE_FILE instead.
 *
 * Where a session keeps its tokens and cookies
 * ([property@ICloud.Session:secret-store]).
 */
typedef enum /*< underscore_name=icloud_secret_store >*/ {
  ICLOUD_SECRET_STORE_FILE,
  ICLOUD_SECRET_STORE_KEYRING,
} ICloudSecretStore;

/**
 * ICloudCodeDelivery:
 * @ICLOUD_CODE_DELIVERY_NONE: no code was requested yet.
 * @ICLOUD_CODE_DELIVERY_BRIDGE: a prompt was sent to the trusted devices
 *   through the trusted-device bridge (what icloud.com does since 2026):
 *   the code the user reads there is checked in this process only, over
 *   the bridge's open connection, by
 *   [method@ICloud.Session.validate_2fa_code] on the same session.
 * @ICLOUD_CODE_DELIVERY_TRUSTED_DEVICE: Apple was asked to push a code to
 *   the trusted devices (`verify/trusteddevice`); any process may check it.
 * @ICLOUD_CODE_DELIVERY_SMS: the code was sent by SMS (or a call) to a
 *   trusted phone number.
 *
 * Which route the last successful
 * [method@ICloud.Session.request_2fa_code] used
 * ([property@ICloud.Session:code-delivery]).
 */
typedef enum /*< underscore_name=icloud_code_delivery >*/ {
  ICLOUD_CODE_DELIVERY_NONE,
  ICLOUD_CODE_DELIVERY_BRIDGE,
  ICLOUD_CODE_DELIVERY_TRUSTED_DEVICE,
  ICLOUD_CODE_DELIVERY_SMS,
} ICloudCodeDelivery;

#define ICLOUD_TYPE_SESSION (icloud_session_get_type ())

ICLOUD_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (ICloudSession, icloud_session, ICLOUD, SESSION, GObject)

/* Construction (GAsyncInitable / GInitable: init signs in) */
ICLOUD_AVAILABLE_IN_ALL
void             icloud_session_new_async         (const char           *apple_id,
                                                   const char           *password,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
ICLOUD_AVAILABLE_IN_ALL
ICloudSession   *icloud_session_new_finish        (GAsyncResult         *result,
                                                   GError              **error);
ICLOUD_AVAILABLE_IN_ALL
ICloudSession   *icloud_session_new_sync          (const char           *apple_id,
                                                   const char           *password,
                                                   GCancellable         *cancellable,
                                                   GError              **error);

/* Properties */
ICLOUD_AVAILABLE_IN_ALL
const char      *icloud_session_get_apple_id        (ICloudSession *self);
ICLOUD_AVAILABLE_IN_ALL
const char      *icloud_session_get_region          (ICloudSession *self);
ICLOUD_AVAILABLE_IN_ALL
ICloudEndpoint  *icloud_session_get_endpoint        (ICloudSession *self);
ICLOUD_AVAILABLE_IN_ALL
const char      *icloud_session_get_cookie_directory (ICloudSession *self);
ICLOUD_AVAILABLE_IN_ALL
const char      *icloud_session_get_client_id       (ICloudSession *self);
ICLOUD_AVAILABLE_IN_ALL
const char      *icloud_session_get_account_name    (ICloudSession *self);
ICLOUD_AVAILABLE_IN_ALL
ICloudAuthState  icloud_session_get_state           (ICloudSession *self);
ICLOUD_AVAILABLE_IN_ALL
gboolean         icloud_session_get_requires_2fa    (ICloudSession *self);
ICLOUD_AVAILABLE_IN_ALL
gboolean         icloud_session_get_requires_2sa    (ICloudSession *self);
ICLOUD_AVAILABLE_IN_ALL
gboolean         icloud_session_get_is_trusted_session (ICloudSession *self);
ICLOUD_AVAILABLE_IN_ALL
JsonNode        *icloud_session_get_account_info    (ICloudSession *self);
ICLOUD_AVAILABLE_IN_ALL
guint            icloud_session_get_retry_after     (ICloudSession *self);
ICLOUD_AVAILABLE_IN_ALL
guint            icloud_session_get_timeout         (ICloudSession *self);
ICLOUD_AVAILABLE_IN_ALL
void             icloud_session_set_timeout         (ICloudSession *self,
                                                     guint          timeout);
ICLOUD_AVAILABLE_IN_ALL
ICloudCodeDelivery icloud_session_get_code_delivery (ICloudSession *self);
ICLOUD_AVAILABLE_IN_ALL
gboolean         icloud_session_get_trusted_device_bridge (ICloudSession *self);
ICLOUD_AVAILABLE_IN_ALL
void             icloud_session_set_trusted_device_bridge (ICloudSession *self,
                                                           gboolean       enabled);
ICLOUD_AVAILABLE_IN_ALL
guint            icloud_session_get_throttle_retries (ICloudSession *self);
ICLOUD_AVAILABLE_IN_ALL
void             icloud_session_set_throttle_retries (ICloudSession *self,
                                                      guint          retries);
ICLOUD_AVAILABLE_IN_ALL
guint            icloud_session_get_max_password_sign_ins (ICloudSession *self);
ICLOUD_AVAILABLE_IN_ALL
void             icloud_session_set_max_password_sign_ins (ICloudSession *self,
                                                           guint          max);

/* authenticate */
ICLOUD_AVAILABLE_IN_ALL
void             icloud_session_authenticate_async  (ICloudSession        *self,
                                                     gboolean              force_refresh,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
ICLOUD_AVAILABLE_IN_ALL
gboolean         icloud_session_authenticate_finish (ICloudSession        *self,
                                                     GAsyncResult         *result,
                                                     GError              **error);
ICLOUD_AVAILABLE_IN_ALL
gboolean         icloud_session_authenticate        (ICloudSession        *self,
                                                     gboolean              force_refresh,
                                                     GCancellable         *cancellable,
                                                     GError              **error);

/* two-factor (hsa2) */
ICLOUD_AVAILABLE_IN_ALL
void             icloud_session_get_trusted_phone_numbers_async  (ICloudSession        *self,
                                                                  GCancellable         *cancellable,
                                                                  GAsyncReadyCallback   callback,
                                                                  gpointer              user_data);
ICLOUD_AVAILABLE_IN_ALL
GListModel      *icloud_session_get_trusted_phone_numbers_finish (ICloudSession        *self,
                                                                  GAsyncResult         *result,
                                                                  GError              **error);
ICLOUD_AVAILABLE_IN_ALL
GListModel      *icloud_session_get_trusted_phone_numbers        (ICloudSession        *self,
                                                                  GCancellable         *cancellable,
                                                                  GError              **error);

ICLOUD_AVAILABLE_IN_ALL
void             icloud_session_request_2fa_code_async  (ICloudSession        *self,
                                                         ICloudTrustedPhone   *phone,
                                                         GCancellable         *cancellable,
                                                         GAsyncReadyCallback   callback,
                                                         gpointer              user_data);
ICLOUD_AVAILABLE_IN_ALL
gboolean         icloud_session_request_2fa_code_finish (ICloudSession        *self,
                                                         GAsyncResult         *result,
                                                         GError              **error);
ICLOUD_AVAILABLE_IN_ALL
gboolean         icloud_session_request_2fa_code        (ICloudSession        *self,
                                                         ICloudTrustedPhone   *phone,
                                                         GCancellable         *cancellable,
                                                         GError              **error);

ICLOUD_AVAILABLE_IN_ALL
void             icloud_session_validate_2fa_code_async  (ICloudSession        *self,
                                                          const char           *code,
                                                          GCancellable         *cancellable,
                                                          GAsyncReadyCallback   callback,
                                                          gpointer              user_data);
ICLOUD_AVAILABLE_IN_ALL
gboolean         icloud_session_validate_2fa_code_finish (ICloudSession        *self,
                                                          GAsyncResult         *result,
                                                          GError              **error);
ICLOUD_AVAILABLE_IN_ALL
gboolean         icloud_session_validate_2fa_code        (ICloudSession        *self,
                                                          const char           *code,
                                                          GCancellable         *cancellable,
                                                          GError              **error);

ICLOUD_AVAILABLE_IN_ALL
void             icloud_session_trust_session_async  (ICloudSession        *self,
                                                      GCancellable         *cancellable,
                                                      GAsyncReadyCallback   callback,
                                                      gpointer              user_data);
ICLOUD_AVAILABLE_IN_ALL
gboolean         icloud_session_trust_session_finish (ICloudSession        *self,
                                                      GAsyncResult         *result,
                                                      GError              **error);
ICLOUD_AVAILABLE_IN_ALL
gboolean         icloud_session_trust_session        (ICloudSession        *self,
                                                      GCancellable         *cancellable,
                                                      GError              **error);

/* two-step (hsa) */
ICLOUD_AVAILABLE_IN_ALL
void             icloud_session_get_trusted_devices_async  (ICloudSession        *self,
                                                            GCancellable         *cancellable,
                                                            GAsyncReadyCallback   callback,
                                                            gpointer              user_data);
ICLOUD_AVAILABLE_IN_ALL
GListModel      *icloud_session_get_trusted_devices_finish (ICloudSession        *self,
                                                            GAsyncResult         *result,
                                                            GError              **error);
ICLOUD_AVAILABLE_IN_ALL
GListModel      *icloud_session_get_trusted_devices        (ICloudSession        *self,
                                                            GCancellable         *cancellable,
                                                            GError              **error);

ICLOUD_AVAILABLE_IN_ALL
void             icloud_session_send_verification_code_async  (ICloudSession        *self,
                                                               ICloudTrustedDevice  *device,
                                                               GCancellable         *cancellable,
                                                               GAsyncReadyCallback   callback,
                                                               gpointer              user_data);
ICLOUD_AVAILABLE_IN_ALL
gboolean         icloud_session_send_verification_code_finish (ICloudSession        *self,
                                                               GAsyncResult         *result,
                                                               GError              **error);
ICLOUD_AVAILABLE_IN_ALL
gboolean         icloud_session_send_verification_code        (ICloudSession        *self,
                                                               ICloudTrustedDevice  *device,
                                                               GCancellable         *cancellable,
                                                               GError              **error);

ICLOUD_AVAILABLE_IN_ALL
void             icloud_session_validate_verification_code_async  (ICloudSession        *self,
                                                                   ICloudTrustedDevice  *device,
                                                                   const char           *code,
                                                                   GCancellable         *cancellable,
                                                                   GAsyncReadyCallback   callback,
                                                                   gpointer              user_data);
ICLOUD_AVAILABLE_IN_ALL
gboolean         icloud_session_validate_verification_code_finish (ICloudSession        *self,
                                                                   GAsyncResult         *result,
                                                                   GError              **error);
ICLOUD_AVAILABLE_IN_ALL
gboolean         icloud_session_validate_verification_code        (ICloudSession        *self,
                                                                   ICloudTrustedDevice  *device,
                                                                   const char           *code,
                                                                   GCancellable         *cancellable,
                                                                   GError              **error);

/* logout and close */
ICLOUD_AVAILABLE_IN_ALL
void             icloud_session_logout_async  (ICloudSession        *self,
                                               gboolean              keep_trusted,
                                               gboolean              all_sessions,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
ICLOUD_AVAILABLE_IN_ALL
gboolean         icloud_session_logout_finish (ICloudSession        *self,
                                               GAsyncResult         *result,
                                               GError              **error);
ICLOUD_AVAILABLE_IN_ALL
gboolean         icloud_session_logout        (ICloudSession        *self,
                                               gboolean              keep_trusted,
                                               gboolean              all_sessions,
                                               GCancellable         *cancellable,
                                               GError              **error);

ICLOUD_AVAILABLE_IN_ALL
void             icloud_session_close_async   (ICloudSession        *self,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
ICLOUD_AVAILABLE_IN_ALL
gboolean         icloud_session_close_finish  (ICloudSession        *self,
                                               GAsyncResult         *result,
                                               GError              **error);
ICLOUD_AVAILABLE_IN_ALL
gboolean         icloud_session_close         (ICloudSession        *self,
                                               GCancellable         *cancellable,
                                               GError              **error);

G_END_DECLS
