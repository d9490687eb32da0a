/* icloud-bridge-push.c: the JSON payload of a bridge push (§c.5).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "icloud-bridge-push-private.h"
#include "icloud-json-private.h"

#include <string.h>

#include <gio/gio.h>

/* The end (index of the closing '}') of the object starting at @start, or
 * -1 when it does not close. Counts braces outside strings only. */
static gssize
balanced_object_end (const char *text,
                     gsize       len,
                     gsize       start)
{
  gsize depth = 0;
  gboolean in_string = FALSE, escaped = FALSE;

  for (gsize i = start; i < len; i++)
    {
      char c = text[i];

      if (in_string)
        {
          if (escaped)
            escaped = FALSE;
          else if (c == '\\')
            escaped = TRUE;
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if (c == '{')
        depth++;
      else if (c == '}')
        {
          if (--depth == 0)
            return (gssize) i;
        }
    }
  return -1;
}

static JsonNode *
parse_object (const char *text,
              gsize       len)
{
  JsonNode *root = icloud_json_parse (text, len, NULL);

  if (root != NULL && !JSON_NODE_HOLDS_OBJECT (root))
    g_clear_pointer (&root, json_node_unref);
  return root;
}

/* The object in @text; @start and @end (exclusive) tell where its text is. */
static JsonNode *
extract_object (const char *text,
                gsize       len,
                gsize      *start,
                gsize      *end_out)
{
  JsonNode *root = parse_object (text, len);
  guint tried = 0;

  *start = 0;
  *end_out = len;
  for (gsize i = 0; root == NULL && i < len && tried < ICLOUD_BRIDGE_PUSH_MAX_CANDIDATES; i++)
    {
      gssize end;

      if (text[i] != '{')
        continue;
      tried++;
      end = balanced_object_end (text, len, i);
      if (end < 0)
        continue;   /* a later '{' may still close: strings start elsewhere */
      root = parse_object (text + i, (gsize) end - i + 1);
      *start = i;
      *end_out = (gsize) end + 1;
    }
  return root;
}

/* The index just past the JSON value starting at @i (the text is known to
 * be valid JSON: json-glib parsed it). */
static gsize
skip_value (const char *text,
            gsize       len,
            gsize       i)
{
  gsize depth = 0;
  gboolean in_string = FALSE, escaped = FALSE;

  for (; i < len; i++)
    {
      char c = text[i];

      if (in_string)
        {
          if (escaped)
            escaped = FALSE;
          else if (c == '\\')
            escaped = TRUE;
          else if (c == '"')
            {
              in_string = FALSE;
              if (depth == 0)
                return i + 1;
            }
        }
      else if (c == '"')
        in_string = TRUE;
      else if (c == '{' || c == '[')
        depth++;
      else if (c == '}' || c == ']')
        {
          if (depth == 0)
            return i;   /* the end of the enclosing object */
          if (--depth == 0)
            return i + 1;
        }
      else if (depth == 0 && c == ',')
        return i;
    }
  return len;
}

static gsize
skip_space (const char *text,
            gsize       len,
            gsize       i)
{
  while (i < len && g_ascii_isspace (text[i]))
    i++;
  return i;
}

/* @text[@from..@to) without the white space outside strings. */
static char *
compact_text (const char *text,
              gsize       from,
              gsize       to)
{
  GString *out = g_string_sized_new (to - from);
  gboolean in_string = FALSE, escaped = FALSE;

  for (gsize j = from; j < to; j++)
    {
      char c = text[j];

      if (in_string)
        {
          if (escaped)
            escaped = FALSE;
          else if (c == '\\')
            escaped = TRUE;
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if (g_ascii_isspace (c))
        continue;
      g_string_append_c (out, c);
    }
  return g_string_free (out, FALSE);
}

/* The text of the member @name of the JSON object text[start..end), white
 * space outside strings dropped; the last one when the name repeats (as
 * json-glib keeps the last); NULL if the name is not found as written (an
 * escaped name is not looked for). */
static char *
member_text (const char *text,
             gsize       start,
             gsize       end,
             const char *name)
{
  gsize i = skip_space (text, end, start);
  gsize name_len = strlen (name);
  gsize found_start = 0, found_end = 0;
  gboolean found = FALSE;

  if (i >= end || text[i] != '{')
    return NULL;
  i++;
  while (i < end)
    {
      gsize key_start, key_end, value_start, value_end;

      i = skip_space (text, end, i);
      if (i >= end || text[i] != '"')
        break;
      key_start = i + 1;
      key_end = skip_value (text, end, i) - 1;
      i = skip_space (text, end, key_end + 1);
      if (i >= end || text[i] != ':')
        break;
      value_start = skip_space (text, end, i + 1);
      value_end = skip_value (text, end, value_start);

      if (key_end - key_start == name_len && memcmp (text + key_start, name, name_len) == 0)
        {
          found = TRUE;
          found_start = value_start;
          found_end = value_end;
        }

      i = skip_space (text, end, value_end);
      if (i < end && text[i] == ',')
        i++;
      else
        break;
    }
  return found ? compact_text (text, found_start, found_end) : NULL;
}

static gboolean
is_blank (const char *s)
{
  for (; *s != '\0'; s++)
    if (!g_ascii_isspace (*s))
      return FALSE;
  return TRUE;
}

static gboolean
type_error (const char *member,
            GError    **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               "The bridge push has a malformed \"%s\"", member);
  return FALSE;
}

/* Present → a non-blank UTF-8 string (or, with @allow_blank, any string). */
static gboolean
get_text (JsonObject  *object,
          const char  *member,
          gboolean     allow_blank,
          char       **out,
          GError     **error)
{
  JsonNode *node = json_object_get_member (object, member);
  const char *value;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (json_node_get_value_type (node) != G_TYPE_STRING)
    return type_error (member, error);
  value = json_node_get_string (node);
  if (value == NULL || !g_utf8_validate (value, -1, NULL) ||
      (!allow_blank && is_blank (value)))
    return type_error (member, error);
  *out = g_strdup (value);
  return TRUE;
}

static gboolean
get_integer (JsonObject *object,
             const char *member,
             gboolean   *has,
             gint64     *out,
             GError    **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (json_node_get_value_type (node) != G_TYPE_INT64)
    return type_error (member, error);
  *has = TRUE;
  *out = json_node_get_int (node);
  return TRUE;
}

ICloudBridgePush *
icloud_bridge_push_parse (const guint8 *payload,
                          gsize         len,
                          GError      **error)
{
  g_autoptr(ICloudBridgePush) push = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *object;
  JsonNode *node;
  gboolean has_next_int = FALSE;
  gint64 next_int = 0;
  gsize start = 0, end = 0;

  g_return_val_if_fail (payload != NULL || len == 0, NULL);

  if (len > ICLOUD_BRIDGE_PUSH_MAX_LEN)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "The bridge push is too long");
      return NULL;
    }
  root = len > 0 ? extract_object ((const char *) payload, len, &start, &end) : NULL;
  if (root == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "The bridge push holds no JSON object");
      return NULL;
    }
  object = json_node_get_object (root);
  push = g_new0 (ICloudBridgePush, 1);

  /* nextStep: a non-blank string, or an integer kept as its text. */
  node = json_object_get_member (object, "nextStep");
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_INT64)
    {
      if (!get_integer (object, "nextStep", &has_next_int, &next_int, error))
        return NULL;
      push->next_step = g_strdup_printf ("%" G_GINT64_FORMAT, next_int);
    }
  else if (!get_text (object, "nextStep", FALSE, &push->next_step, error))
    return NULL;

  if (!get_text (object, "sessionUUID", FALSE, &push->session_uuid, error) ||
      !get_text (object, "flowid", FALSE, &push->flowid, error) ||
      !get_text (object, "salt", FALSE, &push->salt, error) ||
      !get_text (object, "data", FALSE, &push->data, error) ||
      !get_text (object, "encryptedCode", FALSE, &push->encrypted_code, error) ||
      !get_text (object, "txnid", FALSE, &push->txnid, error) ||
      !get_text (object, "idmsdata", FALSE, &push->idmsdata, error) ||
      !get_text (object, "mid", FALSE, &push->mid, error) ||
      !get_text (object, "ruiURLKey", TRUE, &push->rui_url_key, error) ||
      !get_integer (object, "ec", &push->has_ec, &push->ec, error))
    return NULL;

  node = json_object_get_member (object, "akdata");
  if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
    {
      gboolean is_string = JSON_NODE_HOLDS_VALUE (node) &&
                           json_node_get_value_type (node) == G_TYPE_STRING;

      push->akdata = json_node_copy (node);
      if (is_string)
        push->akdata_text = g_strdup (json_node_get_string (node));
      else
        push->akdata_text = member_text ((const char *) payload, start, end, "akdata");
      if (push->akdata_text != NULL && !is_string)
        {
          /* What was found must be what json-glib read (not so when the
           * name was also written with escapes). */
          g_autoptr(JsonNode) again = icloud_json_parse (push->akdata_text, strlen (push->akdata_text), NULL);

          if (again == NULL || !json_node_equal (again, node))
            g_clear_pointer (&push->akdata_text, g_free);
        }
      if (push->akdata_text == NULL)
        push->akdata_text = json_to_string (node, FALSE);   /* an escaped name */
      if (!g_utf8_validate (push->akdata_text, -1, NULL))
        {
          type_error ("akdata", error);
          return NULL;
        }
    }

  if (push->session_uuid == NULL && push->flowid == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "The bridge push has neither sessionUUID nor flowid");
      return NULL;
    }
  return g_steal_pointer (&push);
}

const char *
icloud_bridge_push_get_id (const ICloudBridgePush *push)
{
  g_return_val_if_fail (push != NULL, NULL);
  return push->session_uuid != NULL ? push->session_uuid : push->flowid;
}

gboolean
icloud_bridge_push_is_legacy (const ICloudBridgePush *push)
{
  g_return_val_if_fail (push != NULL, FALSE);
  return push->txnid != NULL && g_str_has_suffix (push->txnid, "_W");
}

gboolean
icloud_bridge_push_is_error (const ICloudBridgePush *push)
{
  g_return_val_if_fail (push != NULL, FALSE);
  return push->has_ec && push->ec != 0;
}

void
icloud_bridge_push_free (ICloudBridgePush *push)
{
  if (push == NULL)
    return;
  g_free (push->session_uuid);
  g_free (push->flowid);
  g_free (push->next_step);
  g_free (push->salt);
  g_free (push->data);
  g_free (push->encrypted_code);
  g_free (push->txnid);
  g_free (push->idmsdata);
  g_clear_pointer (&push->akdata, json_node_unref);
  g_free (push->akdata_text);
  g_free (push->mid);
  g_free (push->rui_url_key);
  g_free (push);
}
