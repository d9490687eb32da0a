/* icloud-response-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>
#include "icloud-response.h"

G_BEGIN_DECLS

/* Bodies larger than this are refused (ICLOUD_ERROR_PROTOCOL). */
#define ICLOUD_RESPONSE_MAX_BODY (1024 * 1024)

ICloudResponse *icloud_response_new (guint               status,
                                     SoupMessageHeaders *headers,
                                     GBytes             *body);

guint           icloud_response_get_retry_after (ICloudResponse *self);

G_END_DECLS
