/* icloud-session-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "icloud-plugin.h"
#include "icloud-store-private.h"

G_BEGIN_DECLS

/* The store of a session (tests and the importer). */
ICloudStore *icloud_session_get_store (ICloudSession *self);

G_END_DECLS
