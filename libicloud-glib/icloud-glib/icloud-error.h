/* icloud-error.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ICLOUD_GLIB_INSIDE) && !defined(ICLOUD_GLIB_COMPILATION)
#error "Only <icloud-glib/icloud-glib.h> can be included directly."
#endif

#include <glib.h>
#include "icloud-version-macros.h"

G_BEGIN_DECLS

/**
 * ICLOUD_ERROR:
 *
 * The error domain of libicloud-glib. Errors in this domain are from the
 * [error@ICloud.Error] enumeration.
 */
#define ICLOUD_ERROR (icloud_error_quark ())

/**
 * ICloudError:
 * @ICLOUD_ERROR_FAILED_LOGIN: Apple said the credentials are wrong (a
 *   rejected password proof).
 * @ICLOUD_ERROR_INVALID_CODE: the verification code was wrong; the session
 *   stays in its challenge state so that the user can try again.
 * @ICLOUD_ERROR_TWO_FACTOR_REQUIRED: the operation needs a fully signed-in
 *   session and a two-factor code is pending.
 * @ICLOUD_ERROR_TWO_STEP_REQUIRED: the operation needs a fully signed-in
 *   session and a two-step (2SA) code is pending.
 * @ICLOUD_ERROR_SECURITY_KEY_REQUIRED: the account is protected by security
 *   keys; the message names them.
 * @ICLOUD_ERROR_ACCOUNT_LOCKED: Apple locked the account.
 * @ICLOUD_ERROR_REPAIR_REQUIRED: the account needs repair or new terms to be
 *   accepted on icloud.com.
 * @ICLOUD_ERROR_THROTTLED: Apple refuses to serve the request for now (503,
 *   429, `ACCESS_DENIED`), or too many password sign-ins were attempted;
 *   [property@ICloud.Session:retry-after] holds the server's retry-after.
 * @ICLOUD_ERROR_AUTH_REQUIRED: the saved session is no longer accepted
 *   (450/421 after the one allowed retry), or no password was given and the
 *   saved session cannot be used: sign in again with the password.
 * @ICLOUD_ERROR_SERVICE_NOT_ACTIVATED: iCloud is not set up for this account
 *   on the web (`ZONE_NOT_FOUND`, `AUTHENTICATION_FAILED`).
 * @ICLOUD_ERROR_WRONG_REGION: the account belongs to another region (Apple's
 *   `domainToUse`); the message names it.
 * @ICLOUD_ERROR_NOT_AUTHENTICATED: the call was made in a state that does not
 *   allow it.
 * @ICLOUD_ERROR_PROTOCOL: the server sent a response the library cannot read.
 * @ICLOUD_ERROR_NO_PLUGIN: no plugin provides the auth method or region asked
 *   for; the message names the paths searched.
 * @ICLOUD_ERROR_STORAGE: the session directory or its files cannot be used,
 *   or another process is using the account.
 * @ICLOUD_ERROR_CLOSED: the session was closed.
 *
 * Error codes of the `ICLOUD_ERROR` domain, one per cause the user can
 * act on. Cancellation is reported as %G_IO_ERROR_CANCELLED. An error message
 * never contains a password or a token.
 */
typedef enum /*< underscore_name=icloud_error >*/ {
  ICLOUD_ERROR_FAILED_LOGIN,
  ICLOUD_ERROR_INVALID_CODE,
  ICLOUD_ERROR_TWO_FACTOR_REQUIRED,
  ICLOUD_ERROR_TWO_STEP_REQUIRED,
  ICLOUD_ERROR_SECURITY_KEY_REQUIRED,
  ICLOUD_ERROR_ACCOUNT_LOCKED,
  ICLOUD_ERROR_REPAIR_REQUIRED,
  ICLOUD_ERROR_THROTTLED,
  ICLOUD_ERROR_AUTH_REQUIRED,
  ICLOUD_ERROR_SERVICE_NOT_ACTIVATED,
  ICLOUD_ERROR_WRONG_REGION,
  ICLOUD_ERROR_NOT_AUTHENTICATED,
  ICLOUD_ERROR_PROTOCOL,
  ICLOUD_ERROR_NO_PLUGIN,
  ICLOUD_ERROR_STORAGE,
  ICLOUD_ERROR_CLOSED,
} ICloudError;

ICLOUD_AVAILABLE_IN_ALL
GQuark icloud_error_quark           (void);
ICLOUD_AVAILABLE_IN_ALL
guint  icloud_error_get_retry_after (const GError *error);

G_END_DECLS
