/* icloud-trusted-phone.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ICLOUD_GLIB_INSIDE) && !defined(ICLOUD_GLIB_COMPILATION)
#error "Only <icloud-glib/icloud-glib.h> can be included directly."
#endif

#include <glib-object.h>
#include <json-glib/json-glib.h>
#include "icloud-version-macros.h"

G_BEGIN_DECLS

#define ICLOUD_TYPE_TRUSTED_PHONE (icloud_trusted_phone_get_type ())

ICLOUD_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (ICloudTrustedPhone, icloud_trusted_phone, ICLOUD, TRUSTED_PHONE, GObject)

ICLOUD_AVAILABLE_IN_ALL
ICloudTrustedPhone *icloud_trusted_phone_new                     (const char         *id,
                                                                  const char         *obfuscated_number,
                                                                  const char         *push_mode);
ICLOUD_AVAILABLE_IN_ALL
ICloudTrustedPhone *icloud_trusted_phone_new_from_json           (JsonNode           *node,
                                                                  GError            **error);
ICLOUD_AVAILABLE_IN_ALL
const char         *icloud_trusted_phone_get_id                  (ICloudTrustedPhone *self);
ICLOUD_AVAILABLE_IN_ALL
const char         *icloud_trusted_phone_get_obfuscated_number   (ICloudTrustedPhone *self);
ICLOUD_AVAILABLE_IN_ALL
const char         *icloud_trusted_phone_get_push_mode           (ICloudTrustedPhone *self);

G_END_DECLS
