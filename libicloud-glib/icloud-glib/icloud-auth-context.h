/* icloud-auth-context.h: what an auth method sees of a session
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ICLOUD_GLIB_INSIDE) && !defined(ICLOUD_GLIB_COMPILATION)
#error "Only <icloud-glib/icloud-plugin.h> can be included directly."
#endif

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include "icloud-version-macros.h"
#include "icloud-session.h"
#include "icloud-response.h"

G_BEGIN_DECLS

/**
 * ICloudRoot:
 * @ICLOUD_ROOT_AUTH: Apple's sign-in service (`idmsa.apple.com/appleauth/auth`)
 * @ICLOUD_ROOT_SETUP: iCloud's setup service (`setup.icloud.com/setup/ws/1`)
 * @ICLOUD_ROOT_HOME: the iCloud home page (`www.icloud.com`)
 *
 * The roots of a session's [class@ICloud.Endpoint] a request goes to.
 */
typedef enum /*< underscore_name=icloud_root >*/ {
  ICLOUD_ROOT_AUTH,
  ICLOUD_ROOT_SETUP,
  ICLOUD_ROOT_HOME,
} ICloudRoot;

/**
 * ICloudRequestFlags:
 * @ICLOUD_REQUEST_NONE: no flag
 * @ICLOUD_REQUEST_AUTH_HEADERS: Apple's sign-in headers (OAuth widget key,
 *   `scnt`, session id, ...), for requests to the auth root
 * @ICLOUD_REQUEST_SETUP_PARAMS: the `clientBuildNumber`, `clientId` and
 *   `dsid` query parameters of the setup service
 * @ICLOUD_REQUEST_ACCEPT_HTML: ask for `text/html` (Apple's page with the
 *   second-factor options)
 * @ICLOUD_REQUEST_TEXT_PLAIN: send the JSON body as `text/plain`
 * @ICLOUD_REQUEST_IDEMPOTENT: the request may be sent again (on a reused
 *   connection, after throttling)
 *
 * How a request is dressed (protocol §2).
 */
typedef enum /*< flags,underscore_name=icloud_request_flags >*/ {
  ICLOUD_REQUEST_NONE         = 0,
  ICLOUD_REQUEST_AUTH_HEADERS = 1 << 0,
  ICLOUD_REQUEST_SETUP_PARAMS = 1 << 1,
  ICLOUD_REQUEST_ACCEPT_HTML  = 1 << 2,
  ICLOUD_REQUEST_TEXT_PLAIN   = 1 << 3,
  ICLOUD_REQUEST_IDEMPOTENT   = 1 << 4,
} ICloudRequestFlags;

#define ICLOUD_TYPE_AUTH_CONTEXT (icloud_auth_context_get_type ())

ICLOUD_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (ICloudAuthContext, icloud_auth_context, ICLOUD, AUTH_CONTEXT, GObject)

ICLOUD_AVAILABLE_IN_ALL
const char     *icloud_auth_context_get_apple_id       (ICloudAuthContext    *self);
ICLOUD_AVAILABLE_IN_ALL
const char     *icloud_auth_context_get_method_name    (ICloudAuthContext    *self);
ICLOUD_AVAILABLE_IN_ALL
ICloudAuthState icloud_auth_context_get_state          (ICloudAuthContext    *self);
ICLOUD_AVAILABLE_IN_ALL
const char     *icloud_auth_context_get_trust_token    (ICloudAuthContext    *self);

ICLOUD_AVAILABLE_IN_ALL
void            icloud_auth_context_send_request_async (ICloudAuthContext    *self,
                                                        const char           *http_method,
                                                        ICloudRoot            root,
                                                        const char           *path,
                                                        JsonNode             *body,
                                                        ICloudRequestFlags    flags,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
ICLOUD_AVAILABLE_IN_ALL
ICloudResponse *icloud_auth_context_send_request_finish (ICloudAuthContext   *self,
                                                         GAsyncResult        *result,
                                                         GError             **error);

ICLOUD_AVAILABLE_IN_ALL
void            icloud_auth_context_send_request_full_async (ICloudAuthContext *self,
                                                        const char           *http_method,
                                                        ICloudRoot            root,
                                                        const char           *path,
                                                        JsonNode             *body,
                                                        ICloudRequestFlags    flags,
                                                        SoupMessageHeaders   *headers,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
ICLOUD_AVAILABLE_IN_ALL
ICloudResponse *icloud_auth_context_send_request_full_finish (ICloudAuthContext *self,
                                                        GAsyncResult         *result,
                                                        GError              **error);

ICLOUD_AVAILABLE_IN_ALL
void            icloud_auth_context_connect_websocket_async (ICloudAuthContext *self,
                                                        const char           *host,
                                                        const char           *path,
                                                        const char           *origin,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
ICLOUD_AVAILABLE_IN_ALL
SoupWebsocketConnection *icloud_auth_context_connect_websocket_finish (ICloudAuthContext *self,
                                                        GAsyncResult         *result,
                                                        GError              **error);

ICLOUD_AVAILABLE_IN_ALL
guint           icloud_auth_context_get_timeout        (ICloudAuthContext    *self);
ICLOUD_AVAILABLE_IN_ALL
gboolean        icloud_auth_context_get_trusted_device_bridge (ICloudAuthContext *self);
ICLOUD_AVAILABLE_IN_ALL
void            icloud_auth_context_set_code_delivery  (ICloudAuthContext    *self,
                                                        ICloudCodeDelivery    delivery);

ICLOUD_AVAILABLE_IN_ALL
const char     *icloud_auth_context_lookup             (ICloudAuthContext    *self,
                                                        const char           *key);
ICLOUD_AVAILABLE_IN_ALL
void            icloud_auth_context_store              (ICloudAuthContext    *self,
                                                        const char           *key,
                                                        const char           *value);

G_END_DECLS
