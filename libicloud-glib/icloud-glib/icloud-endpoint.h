/* icloud-endpoint.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ICLOUD_GLIB_INSIDE) && !defined(ICLOUD_GLIB_COMPILATION)
#error "Only <icloud-glib/icloud-glib.h> can be included directly."
#endif

#include <glib-object.h>
#include "icloud-version-macros.h"

G_BEGIN_DECLS

#define ICLOUD_TYPE_ENDPOINT (icloud_endpoint_get_type ())

ICLOUD_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (ICloudEndpoint, icloud_endpoint, ICLOUD, ENDPOINT, GObject)

ICLOUD_AVAILABLE_IN_ALL
ICloudEndpoint *icloud_endpoint_new              (const char      *auth_uri,
                                                  const char      *setup_uri,
                                                  const char      *home_uri,
                                                  GError         **error);
ICLOUD_AVAILABLE_IN_ALL
ICloudEndpoint *icloud_endpoint_new_for_base_uri (const char      *base_uri,
                                                  GError         **error);
ICLOUD_AVAILABLE_IN_ALL
const char     *icloud_endpoint_get_auth_uri     (ICloudEndpoint  *self);
ICLOUD_AVAILABLE_IN_ALL
const char     *icloud_endpoint_get_setup_uri    (ICloudEndpoint  *self);
ICLOUD_AVAILABLE_IN_ALL
const char     *icloud_endpoint_get_home_uri     (ICloudEndpoint  *self);
ICLOUD_AVAILABLE_IN_ALL
gboolean        icloud_endpoint_equal            (ICloudEndpoint  *a,
                                                  ICloudEndpoint  *b);

G_END_DECLS
