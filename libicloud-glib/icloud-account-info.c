/* icloud-account-info.c: reading Apple's account document (protocol §5.5)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "icloud-account-info-private.h"
#include "icloud-error.h"
#include "icloud-json-private.h"

static gboolean
json_object_get_bool_member_or (JsonObject *object,
                                const char *member,
                                gboolean    fallback)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return fallback;
  return json_node_get_boolean (node);
}

static gint64
json_object_get_int_member_or (JsonObject *object,
                               const char *member,
                               gint64      fallback)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return fallback;
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    return json_node_get_int (node);
  if (json_node_get_value_type (node) == G_TYPE_STRING)
    return g_ascii_strtoll (json_node_get_string (node), NULL, 10);
  return fallback;
}

/* The state names exactly one challenge, where pyicloud would report a
 * two-factor account as needing two-step verification too: untrusted with
 * hsaVersion 2 is NEEDS_2FA, with hsaVersion 1 NEEDS_2SA; an account without
 * a second factor (hsaVersion 0) is signed in unless Apple asks for a
 * challenge. */
gboolean
icloud_account_info_parse (JsonNode           *document,
                           ICloudAccountInfo  *out,
                           GError            **error)
{
  JsonObject *object, *ds_info;
  JsonNode *ds_node;
  gboolean challenge_required;
  gint64 hsa_version;
  const char *name;

  memset (out, 0, sizeof *out);

  if (document == NULL || !JSON_NODE_HOLDS_OBJECT (document))
    {
      g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                   "Apple's account document is not a JSON object");
      return FALSE;
    }

  object = json_node_get_object (document);
  ds_node = json_object_get_member (object, "dsInfo");
  if (ds_node == NULL || !JSON_NODE_HOLDS_OBJECT (ds_node))
    {
      g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                   "Apple's account document has no dsInfo");
      return FALSE;
    }
  ds_info = json_node_get_object (ds_node);

  out->dsid = g_strdup (icloud_json_object_get_string (ds_info, "dsid"));
  if (out->dsid == NULL && json_object_has_member (ds_info, "dsid") &&
      JSON_NODE_HOLDS_VALUE (json_object_get_member (ds_info, "dsid")) &&
      json_node_get_value_type (json_object_get_member (ds_info, "dsid")) == G_TYPE_INT64)
    out->dsid = g_strdup_printf ("%" G_GINT64_FORMAT,
                                 json_object_get_int_member_or (ds_info, "dsid", 0));

  name = icloud_json_object_get_string (ds_info, "appleId");
  if (name == NULL)
    name = icloud_json_object_get_string (ds_info, "primaryEmail");
  out->name = g_strdup (name);

  hsa_version = json_object_get_int_member_or (ds_info, "hsaVersion", 0);
  out->trusted = json_object_get_bool_member_or (object, "hsaTrustedBrowser", FALSE);
  challenge_required = json_object_get_bool_member_or (object, "hsaChallengeRequired", FALSE);

  if (!challenge_required && (out->trusted || hsa_version == 0))
    out->state = ICLOUD_AUTH_STATE_AUTHENTICATED;
  else if (hsa_version >= 2)
    out->state = ICLOUD_AUTH_STATE_NEEDS_2FA;
  else
    out->state = ICLOUD_AUTH_STATE_NEEDS_2SA;

  return TRUE;
}

void
icloud_account_info_clear (ICloudAccountInfo *info)
{
  g_clear_pointer (&info->dsid, g_free);
  g_clear_pointer (&info->name, g_free);
}
