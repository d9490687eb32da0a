/* icloud-pyicloud.h: import a session saved by pyicloud
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ICLOUD_GLIB_INSIDE) && !defined(ICLOUD_GLIB_COMPILATION)
#error "Only <icloud-glib/icloud-glib.h> can be included directly."
#endif

#include <glib.h>
#include "icloud-version-macros.h"
#include "icloud-session.h"

G_BEGIN_DECLS

ICLOUD_AVAILABLE_IN_ALL
gboolean icloud_session_import_pyicloud (ICloudSession  *self,
                                         const char     *directory,
                                         GError        **error);

G_END_DECLS
