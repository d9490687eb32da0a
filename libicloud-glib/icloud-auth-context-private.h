/* icloud-auth-context-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "icloud-plugin.h"

G_BEGIN_DECLS

/* Made by the session for one of its auth methods; @session is not
 * referenced (it owns the context and detaches it when it goes). */
ICloudAuthContext *icloud_auth_context_new         (ICloudSession     *session,
                                                    const char        *method_name);
void               icloud_auth_context_detach      (ICloudAuthContext *self);
ICloudSession     *icloud_auth_context_get_session (ICloudAuthContext *self);

G_END_DECLS
