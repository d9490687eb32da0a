/* icloud-global-region.c: Apple's global hosts (protocol §1.1)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "icloud-global-region-private.h"

struct _ICloudGlobalRegion
{
  ICloudRegion parent_instance;
};

G_DEFINE_FINAL_TYPE (ICloudGlobalRegion, icloud_global_region, ICLOUD_TYPE_REGION)

static ICloudEndpoint *
icloud_global_region_create_endpoint (ICloudRegion *region)
{
  return icloud_endpoint_new (ICLOUD_GLOBAL_AUTH_URI,
                              ICLOUD_GLOBAL_SETUP_URI,
                              ICLOUD_GLOBAL_HOME_URI,
                              NULL);
}

/* Apple's domainToUse for the global hosts (protocol §9). */
static gboolean
icloud_global_region_handles_domain (ICloudRegion *region,
                                     const char   *domain)
{
  return g_ascii_strcasecmp (domain, "iCloud.com") == 0;
}

static void
icloud_global_region_class_init (ICloudGlobalRegionClass *klass)
{
  ICLOUD_REGION_CLASS (klass)->create_endpoint = icloud_global_region_create_endpoint;
  ICLOUD_REGION_CLASS (klass)->handles_domain = icloud_global_region_handles_domain;
}

static void
icloud_global_region_init (ICloudGlobalRegion *self)
{
}
