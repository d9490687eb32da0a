/* icloud-glib.h: the one header applications include
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#define ICLOUD_GLIB_INSIDE
# include "icloud-version-macros.h"
# include "icloud-error.h"
# include "icloud-enum-types.h"
# include "icloud-endpoint.h"
# include "icloud-trusted-phone.h"
# include "icloud-trusted-device.h"
# include "icloud-session.h"
# include "icloud-pyicloud.h"
#undef ICLOUD_GLIB_INSIDE
