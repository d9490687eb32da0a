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
/* FALSE, with the error an operation would return, when a construct
 * property cannot be used or the session was closed. */
gboolean     icloud_session_check_usable (ICloudSession  *self,
                                          GError        **error);

G_END_DECLS
