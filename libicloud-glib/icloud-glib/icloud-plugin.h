/* icloud-plugin.h: the API plugins see: ICloudAuthMethod and the
 * ICloudAuthContext it works through, ICloudRegion, ICloudResponse
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "icloud-glib.h"

#define ICLOUD_GLIB_INSIDE
#include "icloud-auth-context.h"
#include "icloud-auth-method.h"
#include "icloud-region.h"
#include "icloud-response.h"
#undef ICLOUD_GLIB_INSIDE
