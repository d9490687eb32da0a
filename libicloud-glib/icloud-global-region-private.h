/* icloud-global-region-private.h: the built-in "global" region
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "icloud-region.h"

G_BEGIN_DECLS

#define ICLOUD_GLOBAL_AUTH_URI  "https://idmsa.apple.com/appleauth/auth"
#define ICLOUD_GLOBAL_SETUP_URI "https://setup.icloud.com/setup/ws/1"
#define ICLOUD_GLOBAL_HOME_URI  "https://www.icloud.com"

#define ICLOUD_TYPE_GLOBAL_REGION (icloud_global_region_get_type ())
G_DECLARE_FINAL_TYPE (ICloudGlobalRegion, icloud_global_region, ICLOUD, GLOBAL_REGION, ICloudRegion)

G_END_DECLS
