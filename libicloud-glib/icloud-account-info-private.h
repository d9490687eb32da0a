/* icloud-account-info-private.h: reading Apple's account document
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

#include "icloud-session.h"

G_BEGIN_DECLS

/* What the session takes from an accountLogin or validate document. */
typedef struct {
  char            *dsid;     /* nullable */
  char            *name;     /* nullable: dsInfo.appleId, else primaryEmail */
  gboolean         trusted;  /* hsaTrustedBrowser */
  ICloudAuthState  state;    /* AUTHENTICATED, NEEDS_2FA or NEEDS_2SA */
} ICloudAccountInfo;

/* ICLOUD_ERROR_PROTOCOL when @document is not an object with a dsInfo
 * object. Unknown and mistyped members are ignored. */
gboolean icloud_account_info_parse (JsonNode           *document,
                                    ICloudAccountInfo  *out,
                                    GError            **error);
void     icloud_account_info_clear (ICloudAccountInfo  *info);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ICloudAccountInfo, icloud_account_info_clear)

G_END_DECLS
