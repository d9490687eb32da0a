/* icloud-trusted-device.h
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

#define ICLOUD_TYPE_TRUSTED_DEVICE (icloud_trusted_device_get_type ())

ICLOUD_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (ICloudTrustedDevice, icloud_trusted_device, ICLOUD, TRUSTED_DEVICE, GObject)

ICLOUD_AVAILABLE_IN_ALL
ICloudTrustedDevice *icloud_trusted_device_new               (const char          *id,
                                                              const char          *device_type,
                                                              const char          *phone_number,
                                                              const char          *area_code);
ICLOUD_AVAILABLE_IN_ALL
ICloudTrustedDevice *icloud_trusted_device_new_from_json     (JsonNode            *node,
                                                              GError             **error);
ICLOUD_AVAILABLE_IN_ALL
const char          *icloud_trusted_device_get_id            (ICloudTrustedDevice *self);
ICLOUD_AVAILABLE_IN_ALL
const char          *icloud_trusted_device_get_device_type   (ICloudTrustedDevice *self);
ICLOUD_AVAILABLE_IN_ALL
const char          *icloud_trusted_device_get_phone_number  (ICloudTrustedDevice *self);
ICLOUD_AVAILABLE_IN_ALL
const char          *icloud_trusted_device_get_area_code     (ICloudTrustedDevice *self);
ICLOUD_AVAILABLE_IN_ALL
JsonNode            *icloud_trusted_device_to_json           (ICloudTrustedDevice *self);

G_END_DECLS
