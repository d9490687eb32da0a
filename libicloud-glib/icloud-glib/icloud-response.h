/* icloud-response.h
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

G_BEGIN_DECLS

#define ICLOUD_TYPE_RESPONSE (icloud_response_get_type ())

ICLOUD_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (ICloudResponse, icloud_response, ICLOUD, RESPONSE, GObject)

ICLOUD_AVAILABLE_IN_ALL
guint        icloud_response_get_status      (ICloudResponse *self);
ICLOUD_AVAILABLE_IN_ALL
const char  *icloud_response_get_header      (ICloudResponse *self,
                                              const char     *name);
ICLOUD_AVAILABLE_IN_ALL
GBytes      *icloud_response_get_body        (ICloudResponse *self);
ICLOUD_AVAILABLE_IN_ALL
JsonNode    *icloud_response_get_json        (ICloudResponse *self);
ICLOUD_AVAILABLE_IN_ALL
gboolean     icloud_response_is_success      (ICloudResponse *self);
ICLOUD_AVAILABLE_IN_ALL
gboolean     icloud_response_get_service_error (ICloudResponse *self,
                                                char          **code,
                                                char          **message);
ICLOUD_AVAILABLE_IN_ALL
gboolean     icloud_response_has_service_error (ICloudResponse *self,
                                                const char     *code);
ICLOUD_AVAILABLE_IN_ALL
gboolean     icloud_response_check           (ICloudResponse *self,
                                              GError        **error);

G_END_DECLS
