/* icloud-json-private.h: reading Apple's JSON leniently
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The string value of @member, or NULL when it is absent, not a string, or
 * not UTF-8 (json-glib 1.6 lets a lone surrogate escape through as bytes
 * that are not UTF-8: such a value is no value at all). */
const char *icloud_json_object_get_string (JsonObject *object,
                                           const char *member);

G_END_DECLS
