/* icloud-hsa2-options.c: reading Apple's two-factor auth options
 * (protocol §1.2 step 6; what-users-hit §2, §13)
 *
 * GET AUTH answers with the options as JSON, or as Apple's sign-in page
 * with the JSON in a `<script class="boot_args">`; the options are at one
 * of several places in that document (the plain document, `direct.twoSV`,
 * the bridge data). This reads the trusted phone numbers and the names of
 * the security keys, whatever is missing or mistyped.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#include <icloud-glib/icloud-glib.h>

#include "icloud-hsa2-options.h"
#include "icloud-json-private.h"

/* ------------------------------------------------------------------------ */
/* JSON helpers */

static JsonNode *
member_at (JsonNode          *node,
           const char * const *path)
{
  for (guint i = 0; node != NULL && path[i] != NULL; i++)
    {
      if (!JSON_NODE_HOLDS_OBJECT (node))
        return NULL;
      node = json_object_get_member (json_node_get_object (node), path[i]);
    }
  return node;
}

/* ------------------------------------------------------------------------ */
/* The auth options (step 6): JSON, or HTML with the boot args */

/* The JSON of `<script … class="boot_args">…</script>` in an HTML page. */
static JsonNode *
parse_boot_args (GBytes *body)
{
  gsize len = 0;
  const char *data = g_bytes_get_data (body, &len);
  g_autofree char *html = NULL;
  const char *p, *end;

  if (data == NULL || len == 0)
    return NULL;
  html = g_strndup (data, len);
  end = html + strlen (html);

  for (p = html; (p = g_strstr_len (p, end - p, "<script")) != NULL; )
    {
      const char *tag_end = memchr (p, '>', end - p);
      const char *content, *close;

      if (tag_end == NULL)
        break;
      content = tag_end + 1;
      close = g_strstr_len (content, end - content, "</script");
      if (close == NULL)
        break;

      if (g_strstr_len (p, tag_end - p, "boot_args") != NULL)
        {
          g_autoptr(JsonNode) root = icloud_json_parse (content, close - content, NULL);

          if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
            return g_steal_pointer (&root);
        }
      p = close;
    }

  return NULL;
}

/* Where Apple has put the options: the plain JSON document, Apple's page
 * (`direct.twoSV`), and the bridge data inside it. */
static const char * const option_roots[][4] = {
  { NULL },
  { "direct", "twoSV", NULL },
  { "direct", "twoSV", "bridgeInitiateData", NULL },
  { "direct", NULL },
  { "twoSV", NULL },
  { "twoSV", "bridgeInitiateData", NULL },
  { "bridgeInitiateData", NULL },
};

static gboolean
store_has_phone (GListStore *store,
                 const char *id)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (store));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(ICloudTrustedPhone) phone = g_list_model_get_item (G_LIST_MODEL (store), i);
      if (g_strcmp0 (icloud_trusted_phone_get_id (phone), id) == 0)
        return TRUE;
    }
  return FALSE;
}

/* json-glib 1.6 decodes a lone surrogate escape ("\ud800x") into bytes
 * that are not UTF-8: such a phone is of no use (its id goes back to Apple
 * and into the saved session, which takes UTF-8 only). */
static gboolean
phone_is_utf8 (ICloudTrustedPhone *phone)
{
  const char *number = icloud_trusted_phone_get_obfuscated_number (phone);
  const char *mode = icloud_trusted_phone_get_push_mode (phone);

  return g_utf8_validate (icloud_trusted_phone_get_id (phone), -1, NULL) &&
         (number == NULL || g_utf8_validate (number, -1, NULL)) &&
         (mode == NULL || g_utf8_validate (mode, -1, NULL));
}

static void
add_phone (GListStore *store,
           JsonNode   *node)
{
  g_autoptr(ICloudTrustedPhone) phone = NULL;

  phone = icloud_trusted_phone_new_from_json (node, NULL);
  if (phone == NULL || !phone_is_utf8 (phone) ||
      store_has_phone (store, icloud_trusted_phone_get_id (phone)))
    return;
  g_list_store_append (store, phone);
}

static void
collect_phones (JsonNode   *options,
                GListStore *store)
{
  static const char * const lists[][3] = {
    { "phoneNumberVerification", "trustedPhoneNumbers", NULL },
    { "trustedPhoneNumbers", NULL },
  };
  static const char * const singles[][3] = {
    { "phoneNumberVerification", "trustedPhoneNumber", NULL },
    { "trustedPhoneNumber", NULL },
  };

  for (guint r = 0; r < G_N_ELEMENTS (option_roots); r++)
    {
      JsonNode *root = member_at (options, option_roots[r]);

      if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
        continue;

      for (guint l = 0; l < G_N_ELEMENTS (lists); l++)
        {
          JsonNode *list = member_at (root, lists[l]);

          if (list == NULL || !JSON_NODE_HOLDS_ARRAY (list))
            continue;
          for (guint i = 0; i < json_array_get_length (json_node_get_array (list)); i++)
            add_phone (store, json_array_get_element (json_node_get_array (list), i));
        }
      for (guint s = 0; s < G_N_ELEMENTS (singles); s++)
        {
          JsonNode *single = member_at (root, singles[s]);

          if (single != NULL && JSON_NODE_HOLDS_OBJECT (single))
            add_phone (store, single);
        }
    }
}

/* The names of the security keys, joined by ", "; NULL if the options show
 * none. An `fsaChallenge` without names still means security keys. */
static char *
collect_security_keys (JsonNode *options)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  gboolean challenge = FALSE;

  for (guint r = 0; r < G_N_ELEMENTS (option_roots); r++)
    {
      JsonNode *root = member_at (options, option_roots[r]);
      JsonNode *key_names, *fsa;

      if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
        continue;

      fsa = json_object_get_member (json_node_get_object (root), "fsaChallenge");
      if (fsa != NULL && JSON_NODE_HOLDS_OBJECT (fsa))
        challenge = TRUE;

      key_names = json_object_get_member (json_node_get_object (root), "keyNames");
      if (key_names == NULL || !JSON_NODE_HOLDS_ARRAY (key_names))
        continue;
      for (guint i = 0; i < json_array_get_length (json_node_get_array (key_names)); i++)
        {
          JsonNode *name = json_array_get_element (json_node_get_array (key_names), i);
          const char *text;
          gboolean seen = FALSE;

          if (!JSON_NODE_HOLDS_VALUE (name) || json_node_get_value_type (name) != G_TYPE_STRING)
            continue;
          text = json_node_get_string (name);
          if (*text == '\0' || !g_utf8_validate (text, -1, NULL))
            continue;   /* (not UTF-8: see phone_is_utf8 ()) */
          for (guint j = 0; j < names->len; j++)
            if (g_str_equal (g_ptr_array_index (names, j), text))
              seen = TRUE;
          if (!seen)
            g_ptr_array_add (names, (gpointer) text);
        }
    }

  if (names->len == 0)
    return challenge ? g_strdup ("a security key") : NULL;

  g_ptr_array_add (names, NULL);
  return g_strjoinv (", ", (char **) names->pdata);
}

/* ------------------------------------------------------------------------ */
/* The trusted-device bridge (hsa2-bridge.md §a.1, §c.1) */

/* A non-blank UTF-8 string member of @obj, or NULL. */
static const char *
string_member (JsonNode   *node,
               const char *name)
{
  JsonNode *member;
  const char *text;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  member = json_object_get_member (json_node_get_object (node), name);
  if (member == NULL || !JSON_NODE_HOLDS_VALUE (member) ||
      json_node_get_value_type (member) != G_TYPE_STRING)
    return NULL;
  text = json_node_get_string (member);
  if (text == NULL || !g_utf8_validate (text, -1, NULL))
    return NULL;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isspace (*p))
      return text;
  return NULL;   /* blank */
}

/* The first of @names found under the roots where Apple puts the boot
 * data (the plain document, `direct`, `direct.twoSV`, `twoSV`). */
static JsonNode *
bridge_member (JsonNode   *document,
               const char *name)
{
  static const char * const roots[][3] = {
    { "direct", "twoSV", NULL },
    { "direct", NULL },
    { "twoSV", NULL },
    { NULL },
  };

  for (guint r = 0; r < G_N_ELEMENTS (roots); r++)
    {
      JsonNode *root = member_at (document, roots[r]);
      JsonNode *member;

      if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
        continue;
      member = json_object_get_member (json_node_get_object (root), name);
      if (member != NULL && !JSON_NODE_HOLDS_NULL (member))
        return member;
    }
  return NULL;
}

/* §c.1: webSocketUrl's host (with "://", only the host name; without, the
 * text before the first '/', a port kept); else from apnsEnvironment. */
static char *
resolve_websocket_host (JsonNode *initiate)
{
  const char *url = string_member (initiate, "webSocketUrl");
  const char *environment;

  if (url != NULL)
    {
      const char *slash;

      if (strstr (url, "://") != NULL)
        {
          g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

          if (uri == NULL || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
            return NULL;
          return g_strdup (g_uri_get_host (uri));
        }
      slash = strchr (url, '/');
      return slash != NULL ? g_strndup (url, slash - url) : g_strdup (url);
    }

  environment = string_member (initiate, "apnsEnvironment");
  if (g_strcmp0 (environment, "prod") == 0)
    return g_strdup ("websocket.push.apple.com");
  if (g_strcmp0 (environment, "sandbox") == 0)
    return g_strdup ("websocket.sandbox.push.apple.com");
  return NULL;
}

static void
collect_bridge (JsonNode          *document,
                ICloudHsa2Options *options)
{
  JsonNode *route = bridge_member (document, "authInitialRoute");
  JsonNode *devices = bridge_member (document, "hasTrustedDevices");
  JsonNode *initiate = bridge_member (document, "bridgeInitiateData");
  JsonNode *app_id = bridge_member (document, "sourceAppId");

  if (app_id != NULL && JSON_NODE_HOLDS_VALUE (app_id))
    {
      if (json_node_get_value_type (app_id) == G_TYPE_INT64)
        options->source_app_id = g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (app_id));
      else if (json_node_get_value_type (app_id) == G_TYPE_STRING &&
               g_utf8_validate (json_node_get_string (app_id), -1, NULL) &&
               *json_node_get_string (app_id) != '\0' &&
               strpbrk (json_node_get_string (app_id), "\r\n") == NULL)
        options->source_app_id = g_strdup (json_node_get_string (app_id));
    }

  if (route == NULL || !JSON_NODE_HOLDS_VALUE (route) ||
      json_node_get_value_type (route) != G_TYPE_STRING ||
      g_strcmp0 (json_node_get_string (route), "auth/bridge/step") != 0)
    return;
  if (devices == NULL || !JSON_NODE_HOLDS_VALUE (devices) ||
      json_node_get_value_type (devices) != G_TYPE_BOOLEAN || !json_node_get_boolean (devices))
    return;
  if (initiate == NULL || !JSON_NODE_HOLDS_OBJECT (initiate) ||
      json_object_get_size (json_node_get_object (initiate)) == 0)
    return;

  options->bridge = TRUE;
  options->bridge_topic = g_strdup (string_member (initiate, "apnsTopic"));
  options->bridge_host = resolve_websocket_host (initiate);
}

/* ------------------------------------------------------------------------ */

ICloudHsa2Options *
icloud_hsa2_options_parse_document (GBytes   *body,
                                    JsonNode *json)
{
  ICloudHsa2Options *options = g_new0 (ICloudHsa2Options, 1);
  g_autoptr(JsonNode) document = NULL;

  options->phones = g_list_store_new (ICLOUD_TYPE_TRUSTED_PHONE);

  /* The body decides, whatever the content type. */
  if (json != NULL && JSON_NODE_HOLDS_OBJECT (json))
    document = json_node_ref (json);
  else if (body != NULL)
    document = parse_boot_args (body);

  if (document == NULL)
    return options;

  options->parsed = TRUE;
  collect_phones (document, options->phones);
  options->security_keys = collect_security_keys (document);
  collect_bridge (document, options);
  return options;
}

ICloudHsa2Options *
icloud_hsa2_options_parse (GBytes *body)
{
  g_autoptr(JsonNode) json = NULL;
  gsize len = 0;
  const char *data = body != NULL ? g_bytes_get_data (body, &len) : NULL;

  /* As icloud_response_get_json () does. */
  if (len > 0 && len <= ICLOUD_HSA2_OPTIONS_MAX_JSON)
    {
      json = icloud_json_parse (data, len, NULL);
    }

  return icloud_hsa2_options_parse_document (body, json);
}

void
icloud_hsa2_options_free (ICloudHsa2Options *options)
{
  if (options == NULL)
    return;
  g_clear_object (&options->phones);
  g_free (options->security_keys);
  g_free (options->bridge_topic);
  g_free (options->bridge_host);
  g_free (options->source_app_id);
  g_free (options);
}
