/* icloud-plugin.h: the API plugins see
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "icloud-glib.h"

#define ICLOUD_GLIB_INSIDE
#include "icloud-auth-method.h"
#include "icloud-region.h"
#include "icloud-response.h"
#undef ICLOUD_GLIB_INSIDE

G_BEGIN_DECLS

/**
 * ICloudRoot:
 * @ICLOUD_ROOT_AUTH: the IDMSA auth root (`…/appleauth/auth`)
 * @ICLOUD_ROOT_SETUP: the setup root (`…/setup/ws/1`)
 * @ICLOUD_ROOT_HOME: the iCloud home page
 *
 * Which root of the session's [class@ICloud.Endpoint] a request goes to.
 */
typedef enum /*< underscore_name=icloud_root >*/ {
  ICLOUD_ROOT_AUTH,
  ICLOUD_ROOT_SETUP,
  ICLOUD_ROOT_HOME,
} ICloudRoot;

/**
 * ICloudRequestFlags:
 * @ICLOUD_REQUEST_NONE: nothing special
 * @ICLOUD_REQUEST_AUTH_HEADERS: add the IDMSA auth headers (scnt, session id,
 *   OAuth headers)
 * @ICLOUD_REQUEST_SETUP_PARAMS: add the setup query parameters (client build,
 *   client id, dsid)
 * @ICLOUD_REQUEST_ACCEPT_HTML: ask for `text/html`
 * @ICLOUD_REQUEST_TEXT_PLAIN: send the body as `text/plain`
 * @ICLOUD_REQUEST_IDEMPOTENT: the request is safe to repeat: it may be sent
 *   again after throttling when [property@ICloud.Session:throttle-retries]
 *   allows it (never set it on a request that sends a code or an e-mail)
 *
 * How [method@ICloud.Session.send_request_async] dresses a request.
 */
typedef enum /*< flags,underscore_name=icloud_request_flags >*/ {
  ICLOUD_REQUEST_NONE         = 0,
  ICLOUD_REQUEST_AUTH_HEADERS = 1 << 0,
  ICLOUD_REQUEST_SETUP_PARAMS = 1 << 1,
  ICLOUD_REQUEST_ACCEPT_HTML  = 1 << 2,
  ICLOUD_REQUEST_TEXT_PLAIN   = 1 << 3,
  ICLOUD_REQUEST_IDEMPOTENT   = 1 << 4,
} ICloudRequestFlags;

/* Keys of the persisted session data (protocol §5.2). */
/**
 * ICLOUD_DATA_CLIENT_ID:
 *
 * Key of the saved session data: the client id sent to Apple (`clientId`,
 * `X-Apple-OAuth-State`); kept when the short-lived state is reset.
 */
#define ICLOUD_DATA_CLIENT_ID       "client_id"
/**
 * ICLOUD_DATA_SESSION_TOKEN:
 *
 * Key of the saved session data: the session token
 * (`X-Apple-Session-Token`), sent as `dsWebAuthToken` to `accountLogin`. An
 * auth method stores it once the password is proven. Secret: never log it.
 */
#define ICLOUD_DATA_SESSION_TOKEN   "session_token"
/**
 * ICLOUD_DATA_TRUST_TOKEN:
 *
 * Key of the saved session data: the trust token
 * (`X-Apple-TwoSV-Trust-Token`) that spares a second factor at the next
 * sign-in. Secret: never log it.
 */
#define ICLOUD_DATA_TRUST_TOKEN     "trust_token"
/**
 * ICLOUD_DATA_SCNT:
 *
 * Key of the saved session data: the `scnt` header Apple sends, echoed on
 * IDMSA requests.
 */
#define ICLOUD_DATA_SCNT            "scnt"
/**
 * ICLOUD_DATA_SESSION_ID:
 *
 * Key of the saved session data: the `X-Apple-ID-Session-Id` header, echoed
 * on IDMSA requests.
 */
#define ICLOUD_DATA_SESSION_ID      "session_id"
/**
 * ICLOUD_DATA_ACCOUNT_COUNTRY:
 *
 * Key of the saved session data: the account's country
 * (`X-Apple-ID-Account-Country`), sent as `accountCountryCode`.
 */
#define ICLOUD_DATA_ACCOUNT_COUNTRY "account_country"
/**
 * ICLOUD_DATA_AUTH_ATTRIBUTES:
 *
 * Key of the saved session data: the `X-Apple-Auth-Attributes` header,
 * echoed on IDMSA requests.
 */
#define ICLOUD_DATA_AUTH_ATTRIBUTES "auth_attributes"
/**
 * ICLOUD_DATA_DSID:
 *
 * Key of the saved session data: the account's `dsid`, from the latest
 * account document.
 */
#define ICLOUD_DATA_DSID            "dsid"

ICLOUD_AVAILABLE_IN_ALL
void            icloud_session_send_request_async   (ICloudSession        *self,
                                                     const char           *http_method,
                                                     ICloudRoot            root,
                                                     const char           *path,
                                                     JsonNode             *body,
                                                     ICloudRequestFlags    flags,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
ICLOUD_AVAILABLE_IN_ALL
ICloudResponse *icloud_session_send_request_finish  (ICloudSession        *self,
                                                     GAsyncResult         *result,
                                                     GError              **error);

ICLOUD_AVAILABLE_IN_ALL
void            icloud_session_account_login_async  (ICloudSession        *self,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
ICLOUD_AVAILABLE_IN_ALL
gboolean        icloud_session_account_login_finish (ICloudSession        *self,
                                                     GAsyncResult         *result,
                                                     GError              **error);

ICLOUD_AVAILABLE_IN_ALL
const char     *icloud_session_lookup_data          (ICloudSession        *self,
                                                     const char           *key);
ICLOUD_AVAILABLE_IN_ALL
void            icloud_session_store_data           (ICloudSession        *self,
                                                     const char           *key,
                                                     const char           *value);
ICLOUD_AVAILABLE_IN_ALL
const char     *icloud_session_get_password         (ICloudSession        *self);
ICLOUD_AVAILABLE_IN_ALL
void            icloud_session_set_auth_state       (ICloudSession        *self,
                                                     ICloudAuthState       state);

G_END_DECLS
