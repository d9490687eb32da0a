/* icloud-request-private.h: how a request to Apple is dressed and how its
 * answer is read back into the session state (protocol §2).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>
#include <json-glib/json-glib.h>

#include "icloud-plugin.h"
#include "icloud-store-private.h"

G_BEGIN_DECLS

#define ICLOUD_USER_AGENT "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3.1 Safari/605.1.15"

typedef struct {
  const char  *home_uri;   /* Origin, Referer, OAuth redirect URI */
  const char  *auth_uri;   /* the auth root; its origin is the auth Referer */
  const char  *client_id;
  ICloudStore *store;      /* scnt, session id, dsid, cookies */
} ICloudRequestContext;

SoupMessage *icloud_request_build   (const ICloudRequestContext  *ctx,
                                     const char                  *http_method,
                                     const char                  *uri,
                                     JsonNode                    *body,
                                     ICloudRequestFlags           flags,
                                     GError                     **error);
/* Captures the §2.3 headers and the cookies of a response into the store. */
void         icloud_request_capture (const ICloudRequestContext  *ctx,
                                     SoupMessage                 *msg);
/* A SoupLogger printing to stderr: headers with every secret header and
 * every query value redacted (ICLOUD_DEBUG=http), and with @bodies the JSON bodies with every
 * string value redacted (ICLOUD_DEBUG=http-body). */
SoupLogger  *icloud_request_new_redacting_logger (gboolean bodies);

G_END_DECLS
