/* icloud-json.c: reading Apple's JSON leniently, and safely
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "icloud-json-private.h"

const char *
icloud_json_object_get_string (JsonObject *object,
                               const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING ||
      !g_utf8_validate (json_node_get_string (node), -1, NULL))
    return NULL;
  return json_node_get_string (node);
}

ICloudJsonDepth
icloud_json_check_depth (const char *data,
                         gsize       len,
                         guint       max_depth)
{
  gboolean in_string = FALSE;
  guint depth = 0;

  for (gsize i = 0; i < len; i++)
    {
      char c = data[i];

      if (in_string)
        {
          if (c == '\\')
            i++;                       /* whatever follows is escaped */
          else if (c == '"')
            in_string = FALSE;
          continue;
        }

      switch (c)
        {
        case '"':
          in_string = TRUE;
          break;
        case '[':
        case '{':
          if (++depth > max_depth)
            return ICLOUD_JSON_DEPTH_TOO_DEEP;
          break;
        case ']':
        case '}':
          if (depth > 0)
            depth--;
          break;
        case '\'':
        case '/':
          /* json-glib's scanner reads single-quoted strings and comments,
           * inside which this count would go wrong: not JSON anyway. */
          return ICLOUD_JSON_DEPTH_NOT_JSON;
        default:
          break;
        }
    }

  return ICLOUD_JSON_DEPTH_OK;
}

JsonNode *
icloud_json_parse (const char *data,
                   gsize       len,
                   gboolean   *too_deep)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonNode *root;

  if (too_deep != NULL)
    *too_deep = FALSE;
  if (data == NULL || len == 0)
    return NULL;

  switch (icloud_json_check_depth (data, len, ICLOUD_JSON_MAX_DEPTH))
    {
    case ICLOUD_JSON_DEPTH_OK:
      break;
    case ICLOUD_JSON_DEPTH_TOO_DEEP:
      if (too_deep != NULL)
        *too_deep = TRUE;
      return NULL;
    case ICLOUD_JSON_DEPTH_NOT_JSON:
    default:
      return NULL;
    }

  /* The parser's message could quote the document: it is not passed on. */
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, len, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  return root != NULL ? json_node_ref (root) : NULL;
}
