/* icloud-mock-account.c: the fake server's account fixtures (JSON).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "icloud-mock-private.h"
#include "icloud-crypto-private.h"

#define DEFAULT_ITERATIONS 20000
#define SALT_LEN 16

static void
mock_phone_free (MockPhone *phone)
{
  g_free (phone->number);
  g_free (phone->push_mode);
  g_free (phone);
}

static void
mock_code_free (MockCode *code)
{
  icloud_crypto_free_secret (code->code);
  g_free (code);
}

void
mock_account_free (MockAccount *account)
{
  if (account == NULL)
    return;
  g_free (account->apple_id);
  g_free (account->key);
  icloud_crypto_free_secret (account->password);
  g_clear_pointer (&account->salt, g_bytes_unref);
  g_clear_pointer (&account->verifier, g_bytes_unref);
  g_clear_pointer (&account->phones, g_ptr_array_unref);
  g_clear_pointer (&account->devices, json_array_unref);
  g_strfreev (account->security_keys);
  g_free (account->first_name);
  g_free (account->last_name);
  g_free (account->dsid);
  g_free (account->apns_topic);
  g_free (account->ws_host);
  g_clear_pointer (&account->trust_tokens, g_hash_table_unref);
  g_clear_pointer (&account->codes, g_hash_table_unref);
  g_free (account);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MockAccount, mock_account_free)

static gboolean
get_bool_member (JsonObject *obj, const char *name, gboolean def)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return def;
  if (json_node_get_value_type (node) == G_TYPE_BOOLEAN)
    return json_node_get_boolean (node);
  return def;
}

static const char *
get_string_member (JsonObject *obj, const char *name)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* A stable, plausible dsid for accounts that do not give one. */
static char *
default_dsid (const char *key)
{
  guint32 h = 5381;

  for (const char *p = key; *p; p++)
    h = h * 33 + (guchar) *p;
  return g_strdup_printf ("8%010u", h);
}

static MockAccount *
parse_account (JsonNode *node, guint index, GError **error)
{
  g_autoptr(MockAccount) account = NULL;
  JsonObject *obj;
  JsonNode *member;
  const char *s;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "accounts[%u] is not an object", index);
      return NULL;
    }
  obj = json_node_get_object (node);

  account = g_new0 (MockAccount, 1);
  account->trust_tokens = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                 (GDestroyNotify) icloud_crypto_free_secret, NULL);
  account->codes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) mock_code_free);
  account->phones = g_ptr_array_new_with_free_func ((GDestroyNotify) mock_phone_free);

  s = get_string_member (obj, "apple_id");
  if (s == NULL || *s == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "accounts[%u] has no \"apple_id\"", index);
      return NULL;
    }
  account->apple_id = g_strdup (s);
  account->key = g_ascii_strdown (s, -1);

  s = get_string_member (obj, "password");
  if (s == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "account %s has no \"password\"", account->apple_id);
      return NULL;
    }
  account->password = g_strdup (s);

  s = get_string_member (obj, "protocol");
  account->protocol = ICLOUD_SRP_S2K;
  if (s != NULL && !icloud_srp_protocol_from_string (s, &account->protocol))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "account %s: unknown protocol \"%s\"", account->apple_id, s);
      return NULL;
    }

  account->iterations = DEFAULT_ITERATIONS;
  member = json_object_get_member (obj, "iterations");
  if (member != NULL && JSON_NODE_HOLDS_VALUE (member))
    {
      gint64 n = json_node_get_int (member);
      if (n < 1 || n > G_MAXINT32)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "account %s: bad \"iterations\"", account->apple_id);
          return NULL;
        }
      account->iterations = (guint) n;
    }

  s = get_string_member (obj, "salt");
  if (s != NULL)
    {
      gsize len = 0;
      guchar *salt = g_base64_decode (s, &len);
      if (len == 0)
        {
          g_free (salt);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "account %s: bad \"salt\"", account->apple_id);
          return NULL;
        }
      account->salt = g_bytes_new_take (salt, len);
    }
  else
    {
      guint8 *salt = g_malloc (SALT_LEN);
      icloud_crypto_random (salt, SALT_LEN);
      account->salt = g_bytes_new_take (salt, SALT_LEN);
    }

  s = get_string_member (obj, "factor");
  if (s == NULL || g_str_equal (s, "none"))
    account->factor = MOCK_FACTOR_NONE;
  else if (g_str_equal (s, "hsa2"))
    account->factor = MOCK_FACTOR_HSA2;
  else if (g_str_equal (s, "hsa"))
    account->factor = MOCK_FACTOR_HSA;
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "account %s: unknown factor \"%s\"", account->apple_id, s);
      return NULL;
    }

  member = json_object_get_member (obj, "phones");
  if (member != NULL && JSON_NODE_HOLDS_ARRAY (member))
    {
      JsonArray *phones = json_node_get_array (member);
      for (guint i = 0; i < json_array_get_length (phones); i++)
        {
          JsonNode *pn = json_array_get_element (phones, i);
          JsonObject *po;
          MockPhone *phone;

          if (!JSON_NODE_HOLDS_OBJECT (pn))
            continue;
          po = json_node_get_object (pn);
          phone = g_new0 (MockPhone, 1);
          phone->id = json_object_get_int_member_with_default (po, "id", i + 1);
          phone->number = g_strdup (json_object_get_string_member_with_default (po, "number",
                                                                                "+1 (•••) •••-••00"));
          phone->push_mode = g_strdup (json_object_get_string_member_with_default (po, "push_mode",
                                                                                   "sms"));
          g_ptr_array_add (account->phones, phone);
        }
    }
  else if (account->factor == MOCK_FACTOR_HSA2)
    {
      MockPhone *phone = g_new0 (MockPhone, 1);
      phone->id = 1;
      phone->number = g_strdup ("+1 (•••) •••-••58");
      phone->push_mode = g_strdup ("sms");
      g_ptr_array_add (account->phones, phone);
    }

  member = json_object_get_member (obj, "devices");
  if (member != NULL && JSON_NODE_HOLDS_ARRAY (member))
    {
      account->devices = json_node_dup_array (member);
    }
  else
    {
      account->devices = json_array_new ();
      if (account->factor == MOCK_FACTOR_HSA)
        {
          JsonObject *dev = json_object_new ();
          json_object_set_string_member (dev, "deviceType", "SMS");
          json_object_set_string_member (dev, "areaCode", "");
          json_object_set_string_member (dev, "phoneNumber", "*******58");
          json_object_set_string_member (dev, "deviceId", "1");
          json_array_add_object_element (account->devices, dev);
        }
    }

  s = get_string_member (obj, "region");
  if (s == NULL || g_str_equal (s, "global"))
    account->china = FALSE;
  else if (g_str_equal (s, "china-mainland"))
    account->china = TRUE;
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "account %s: unknown region \"%s\"", account->apple_id, s);
      return NULL;
    }

  account->locked = get_bool_member (obj, "locked", FALSE);
  account->throttled = get_bool_member (obj, "throttled", FALSE);
  account->malformed = get_bool_member (obj, "malformed", FALSE);
  account->legacy_password = get_bool_member (obj, "legacy_password", FALSE);

  member = json_object_get_member (obj, "repair");
  account->repair = MOCK_REPAIR_NO;
  if (member != NULL && JSON_NODE_HOLDS_VALUE (member))
    {
      if (json_node_get_value_type (member) == G_TYPE_BOOLEAN)
        account->repair = json_node_get_boolean (member) ? MOCK_REPAIR_YES : MOCK_REPAIR_NO;
      else if (json_node_get_value_type (member) == G_TYPE_STRING &&
               g_str_equal (json_node_get_string (member), "auto"))
        account->repair = MOCK_REPAIR_AUTO;
      else
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "account %s: \"repair\" must be a boolean or \"auto\"",
                       account->apple_id);
          return NULL;
        }
    }

  s = get_string_member (obj, "options_shape");
  account->options_bridge = (s != NULL && g_str_equal (s, "bridge"));

  /* the HSA2 bridge (hsa2-bridge.md §g.1) */
  account->bridge = get_bool_member (obj, "bridge", FALSE);
  s = get_string_member (obj, "bridge_protocol");
  if (s != NULL && !g_str_equal (s, "flowid") && !g_str_equal (s, "sessionUUID"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "account %s: \"bridge_protocol\" must be \"flowid\" or \"sessionUUID\"",
                   account->apple_id);
      return NULL;
    }
  account->bridge_session_uuid = (s != NULL && g_str_equal (s, "sessionUUID"));
  s = get_string_member (obj, "txnid_suffix");
  if (s != NULL && !g_str_equal (s, "_S") && !g_str_equal (s, "_W"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "account %s: \"txnid_suffix\" must be \"_S\" or \"_W\"", account->apple_id);
      return NULL;
    }
  account->bridge_legacy = (s != NULL && g_str_equal (s, "_W"));
  s = get_string_member (obj, "bridge_push_service");
  account->bridge_push_down = (s != NULL && g_str_equal (s, "down"));
  account->bridge_final_step = json_object_get_int_member_with_default (obj, "final_next_step", 6);
  if (account->bridge_final_step != 6 && account->bridge_final_step != 4)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "account %s: \"final_next_step\" must be 6 or 4", account->apple_id);
      return NULL;
    }
  account->apns_topic = g_strdup (json_object_get_string_member_with_default (obj, "apns_topic",
                                                                              "com.apple.idmsauthwidget"));
  account->ws_host = g_strdup (json_object_get_string_member_with_default (obj, "ws_host",
                                                                           "websocket.push.apple.com"));
  account->source_app_id = json_object_get_int_member_with_default (obj, "source_app_id", 1159);

  member = json_object_get_member (obj, "security_keys");
  if (member != NULL && JSON_NODE_HOLDS_ARRAY (member))
    {
      JsonArray *keys = json_node_get_array (member);
      g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
      for (guint i = 0; i < json_array_get_length (keys); i++)
        {
          const char *name = json_array_get_string_element (keys, i);
          if (name != NULL)
            g_strv_builder_add (builder, name);
        }
      account->security_keys = g_strv_builder_end (builder);
      if (account->security_keys[0] == NULL)
        g_clear_pointer (&account->security_keys, g_strfreev);
    }

  account->first_name = g_strdup (json_object_get_string_member_with_default (obj, "first_name", "Test"));
  account->last_name = g_strdup (json_object_get_string_member_with_default (obj, "last_name", "User"));

  member = json_object_get_member (obj, "dsid");
  if (member != NULL && JSON_NODE_HOLDS_VALUE (member) &&
      json_node_get_value_type (member) == G_TYPE_STRING)
    account->dsid = g_strdup (json_node_get_string (member));
  else if (member != NULL && JSON_NODE_HOLDS_VALUE (member) &&
           json_node_get_value_type (member) == G_TYPE_INT64)
    account->dsid = g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (member));
  else
    account->dsid = default_dsid (account->key);

  return g_steal_pointer (&account);
}

GPtrArray *
mock_accounts_parse (const char  *json,
                     gssize       length,
                     GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GPtrArray) accounts = NULL;
  JsonNode *root;
  JsonNode *list;

  if (!json_parser_load_from_data (parser, json, length, error))
    return NULL;

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "accounts document is not a JSON object");
      return NULL;
    }

  list = json_object_get_member (json_node_get_object (root), "accounts");
  if (list == NULL || !JSON_NODE_HOLDS_ARRAY (list))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "accounts document has no \"accounts\" array");
      return NULL;
    }

  accounts = g_ptr_array_new_with_free_func ((GDestroyNotify) mock_account_free);
  for (guint i = 0; i < json_array_get_length (json_node_get_array (list)); i++)
    {
      MockAccount *account;

      account = parse_account (json_array_get_element (json_node_get_array (list), i), i, error);
      if (account == NULL)
        return NULL;
      g_ptr_array_add (accounts, account);
    }

  return g_steal_pointer (&accounts);
}

GBytes *
mock_account_get_verifier (MockAccount *account)
{
  if (account->verifier == NULL)
    {
      guint8 p[32];
      gsize salt_len;
      const guint8 *salt = g_bytes_get_data (account->salt, &salt_len);

      icloud_srp_derive_password (account->protocol, account->password,
                                  salt, salt_len, account->iterations, p);
      account->verifier = icloud_srp_compute_verifier (salt, salt_len, p);
      icloud_crypto_wipe (p, sizeof p);
    }
  return account->verifier;
}

MockPhone *
mock_account_find_phone (MockAccount *account,
                         gint64       id)
{
  for (guint i = 0; i < account->phones->len; i++)
    {
      MockPhone *phone = g_ptr_array_index (account->phones, i);
      if (phone->id == id)
        return phone;
    }
  return NULL;
}

JsonObject *
mock_account_find_device (MockAccount *account,
                          const char  *device_id)
{
  if (device_id == NULL)
    return NULL;

  for (guint i = 0; i < json_array_get_length (account->devices); i++)
    {
      JsonNode *node = json_array_get_element (account->devices, i);
      JsonObject *dev;
      JsonNode *id;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      dev = json_node_get_object (node);
      id = json_object_get_member (dev, "deviceId");
      if (id == NULL || !JSON_NODE_HOLDS_VALUE (id))
        continue;
      if (json_node_get_value_type (id) == G_TYPE_STRING &&
          g_str_equal (json_node_get_string (id), device_id))
        return dev;
      if (json_node_get_value_type (id) == G_TYPE_INT64)
        {
          g_autofree char *s = g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (id));
          if (g_str_equal (s, device_id))
            return dev;
        }
    }
  return NULL;
}

JsonObject *
mock_phone_to_json (const MockPhone *phone)
{
  JsonObject *obj = json_object_new ();
  const char *obfuscated = phone->number;
  char last_two[3] = { 0 };
  gsize n = 0;

  /* "+1 (•••) •••-••58" → "(•••) •••-••58" */
  if (phone->number[0] == '+' && strchr (phone->number, ' ') != NULL)
    obfuscated = strchr (phone->number, ' ') + 1;

  for (const char *p = phone->number + strlen (phone->number); p > phone->number && n < 2; p--)
    if (g_ascii_isdigit (p[-1]))
      last_two[1 - n++] = p[-1];
  if (n == 1)
    memmove (last_two, last_two + 1, 2);

  json_object_set_int_member (obj, "id", phone->id);
  json_object_set_string_member (obj, "numberWithDialCode", phone->number);
  json_object_set_string_member (obj, "obfuscatedNumber", obfuscated);
  json_object_set_string_member (obj, "pushMode", phone->push_mode);
  json_object_set_string_member (obj, "lastTwoDigits", last_two);
  json_object_set_boolean_member (obj, "nonFTEU", FALSE);
  return obj;
}
