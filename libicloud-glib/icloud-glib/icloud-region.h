/* icloud-region.h: base class of region plugins
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ICLOUD_GLIB_INSIDE) && !defined(ICLOUD_GLIB_COMPILATION)
#error "Only <icloud-glib/icloud-plugin.h> can be included directly."
#endif

#include <glib-object.h>
#include "icloud-version-macros.h"
#include "icloud-endpoint.h"

G_BEGIN_DECLS

/**
 * ICLOUD_REGION_EXTENSION_POINT_NAME:
 *
 * The name of the GIO extension point region plugins implement.
 */
#define ICLOUD_REGION_EXTENSION_POINT_NAME "icloud-region"

#define ICLOUD_TYPE_REGION (icloud_region_get_type ())

ICLOUD_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (ICloudRegion, icloud_region, ICLOUD, REGION, GObject)

/**
 * ICloudRegionClass:
 * @parent_class: the parent class
 * @create_endpoint: returns a new endpoint for the region
 * @handles_domain: tells whether Apple's `domainToUse` value names this
 *   region (the default says no)
 *
 * The virtual methods of a region.
 */
struct _ICloudRegionClass
{
  GObjectClass parent_class;

  ICloudEndpoint *(*create_endpoint) (ICloudRegion *self);
  gboolean        (*handles_domain)  (ICloudRegion *self,
                                      const char   *domain);

  /*< private >*/
  gpointer padding[7];
};

ICLOUD_AVAILABLE_IN_ALL
void            icloud_region_register        (GType         type,
                                               const char   *name,
                                               gint          priority);
ICLOUD_AVAILABLE_IN_ALL
ICloudEndpoint *icloud_region_create_endpoint (ICloudRegion *self);
ICLOUD_AVAILABLE_IN_ALL
gboolean        icloud_region_handles_domain  (ICloudRegion *self,
                                               const char   *domain);

G_END_DECLS
