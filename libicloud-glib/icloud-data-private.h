/* icloud-data-private.h: the keys of the saved session data
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

/* Keys of the persisted session data (protocol §5.2). */
/*
 * ICLOUD_DATA_CLIENT_ID:
 *
 * Key of the saved session data: the client id sent to Apple (`clientId`,
 * `X-Apple-OAuth-State`); kept when the short-lived state is reset.
 */
#define ICLOUD_DATA_CLIENT_ID       "client_id"
/*
 * ICLOUD_DATA_SESSION_TOKEN:
 *
 * Key of the saved session data: the session token
 * (`X-Apple-Session-Token`), sent as `dsWebAuthToken` to `accountLogin`. The
 * session stores it from what the auth methods return. Secret: never log it.
 */
#define ICLOUD_DATA_SESSION_TOKEN   "session_token"
/*
 * ICLOUD_DATA_TRUST_TOKEN:
 *
 * Key of the saved session data: the trust token
 * (`X-Apple-TwoSV-Trust-Token`) that spares a second factor at the next
 * sign-in. Secret: never log it.
 */
#define ICLOUD_DATA_TRUST_TOKEN     "trust_token"
/*
 * ICLOUD_DATA_SCNT:
 *
 * Key of the saved session data: the `scnt` header Apple sends, echoed on
 * IDMSA requests.
 */
#define ICLOUD_DATA_SCNT            "scnt"
/*
 * ICLOUD_DATA_SESSION_ID:
 *
 * Key of the saved session data: the `X-Apple-ID-Session-Id` header, echoed
 * on IDMSA requests.
 */
#define ICLOUD_DATA_SESSION_ID      "session_id"
/*
 * ICLOUD_DATA_ACCOUNT_COUNTRY:
 *
 * Key of the saved session data: the account's country
 * (`X-Apple-ID-Account-Country`), sent as `accountCountryCode`.
 */
#define ICLOUD_DATA_ACCOUNT_COUNTRY "account_country"
/*
 * ICLOUD_DATA_AUTH_ATTRIBUTES:
 *
 * Key of the saved session data: the `X-Apple-Auth-Attributes` header,
 * echoed on IDMSA requests.
 */
#define ICLOUD_DATA_AUTH_ATTRIBUTES "auth_attributes"
/*
 * ICLOUD_DATA_DSID:
 *
 * Key of the saved session data: the account's `dsid`, from the latest
 * account document.
 */
#define ICLOUD_DATA_DSID            "dsid"

