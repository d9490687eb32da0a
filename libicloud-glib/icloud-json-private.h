/* icloud-json-private.h: reading Apple's JSON leniently, and safely
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The deepest nesting of arrays and objects the library reads. Apple's
 * documents nest under 10 levels; json-glib's parser recurses once per
 * level, so a document of 100,000 '[' would overflow the stack. */
#define ICLOUD_JSON_MAX_DEPTH 64

/* The string value of @member, or NULL when it is absent, not a string, or
 * not UTF-8 (json-glib 1.6 lets a lone surrogate escape through as bytes
 * that are not UTF-8: such a value is no value at all). */
const char *icloud_json_object_get_string (JsonObject *object,
                                           const char *member);

typedef enum {
  ICLOUD_JSON_DEPTH_OK,
  ICLOUD_JSON_DEPTH_TOO_DEEP,
  ICLOUD_JSON_DEPTH_NOT_JSON,
} ICloudJsonDepth;

/* Whether @data (@len bytes) nests arrays and objects at most @max_depth
 * deep, counted outside strings, before any parser sees it. Anything
 * json-glib would read as a bracket is counted: a comment or a
 * single-quoted string (which json-glib's scanner reads, JSON does not
 * know, and inside which the count would go wrong) is NOT_JSON. */
ICloudJsonDepth icloud_json_check_depth   (const char *data,
                                           gsize       len,
                                           guint       max_depth);

/* Parses @data (@len bytes) as a JSON document: the root, or NULL when it
 * is not JSON, is empty, or nests deeper than ICLOUD_JSON_MAX_DEPTH (then
 * @too_deep, when given, is set). The only way the library reads JSON it
 * did not write itself. */
JsonNode   *icloud_json_parse             (const char *data,
                                           gsize       len,
                                           gboolean   *too_deep);

G_END_DECLS
