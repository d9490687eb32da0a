/* icloud-error-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

void _icloud_error_set_retry_after (GError *error,
                                    guint   retry_after);

G_END_DECLS
