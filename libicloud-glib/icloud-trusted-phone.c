/* icloud-trusted-phone.c: a trusted phone number of a two-factor account
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <gio/gio.h>

#include "icloud-trusted-phone.h"

/**
 * ICloudTrustedPhone:
 *
 * A trusted phone number of an account protected by two-factor
 * authentication (HSA2).
 *
 * Apple lists these numbers in the `trustedPhoneNumbers` array of the sign-in
 * service's challenge options; each entry becomes one `ICloudTrustedPhone`.
 * Get them with [method@ICloud.Session.get_trusted_phone_numbers] and pass one
 * to [method@ICloud.Session.request_2fa_code] to have a code sent to it by
 * SMS (or by a voice call, depending on [property@ICloud.TrustedPhone:push-mode]).
 *
 * A trusted phone is immutable. Only the obfuscated number is known, for
 * example `(•••) •••-••58`, never the full number.
 */

struct _ICloudTrustedPhone
{
  GObject parent_instance;

  char *id;
  char *obfuscated_number;
  char *push_mode;
};

G_DEFINE_FINAL_TYPE (ICloudTrustedPhone, icloud_trusted_phone, G_TYPE_OBJECT)

#define DEFAULT_PUSH_MODE "sms"

enum {
  PROP_0,
  PROP_ID,
  PROP_OBFUSCATED_NUMBER,
  PROP_PUSH_MODE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
icloud_trusted_phone_finalize (GObject *object)
{
  ICloudTrustedPhone *self = (ICloudTrustedPhone *) object;

  g_clear_pointer (&self->id, g_free);
  g_clear_pointer (&self->obfuscated_number, g_free);
  g_clear_pointer (&self->push_mode, g_free);

  G_OBJECT_CLASS (icloud_trusted_phone_parent_class)->finalize (object);
}

static void
icloud_trusted_phone_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  ICloudTrustedPhone *self = ICLOUD_TRUSTED_PHONE (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;

    case PROP_OBFUSCATED_NUMBER:
      g_value_set_string (value, self->obfuscated_number);
      break;

    case PROP_PUSH_MODE:
      g_value_set_string (value, self->push_mode);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
icloud_trusted_phone_set_property (GObject      *object,
                                   guint         prop_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  ICloudTrustedPhone *self = ICLOUD_TRUSTED_PHONE (object);
  const char *str;

  switch (prop_id)
    {
    case PROP_ID:
      g_free (self->id);
      self->id = g_value_dup_string (value);
      break;

    case PROP_OBFUSCATED_NUMBER:
      g_free (self->obfuscated_number);
      self->obfuscated_number = g_value_dup_string (value);
      break;

    case PROP_PUSH_MODE:
      str = g_value_get_string (value);
      g_free (self->push_mode);
      self->push_mode = g_strdup (str != NULL && *str != '\0' ? str : DEFAULT_PUSH_MODE);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
icloud_trusted_phone_class_init (ICloudTrustedPhoneClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = icloud_trusted_phone_finalize;
  object_class->get_property = icloud_trusted_phone_get_property;
  object_class->set_property = icloud_trusted_phone_set_property;

  /**
   * ICloudTrustedPhone:id: (getter get_id)
   *
   * Apple's identifier of the phone number (its `id`), as a string. Apple
   * sends a number; the string holds its decimal form.
   */
  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_STATIC_STRINGS));

  /**
   * ICloudTrustedPhone:obfuscated-number: (getter get_obfuscated_number)
   *
   * The phone number as Apple shows it, with most digits hidden (Apple's
   * `obfuscatedNumber`), for example `(•••) •••-••58`.
   */
  properties[PROP_OBFUSCATED_NUMBER] =
    g_param_spec_string ("obfuscated-number", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_STATIC_STRINGS));

  /**
   * ICloudTrustedPhone:push-mode: (getter get_push_mode)
   *
   * How Apple delivers a code to this number (Apple's `pushMode`): `sms` or
   * `voice`. Setting %NULL or an empty string gives `sms`.
   */
  properties[PROP_PUSH_MODE] =
    g_param_spec_string ("push-mode", NULL, NULL,
                         DEFAULT_PUSH_MODE,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
icloud_trusted_phone_init (ICloudTrustedPhone *self)
{
}

/**
 * icloud_trusted_phone_new:
 * @id: Apple's identifier of the phone number
 * @obfuscated_number: (nullable): the number with most digits hidden
 * @push_mode: (nullable): how a code is delivered, `sms` or `voice`;
 *   %NULL for `sms`
 *
 * Creates a trusted phone number.
 *
 * Returns: (transfer full): a new trusted phone number
 */
ICloudTrustedPhone *
icloud_trusted_phone_new (const char *id,
                          const char *obfuscated_number,
                          const char *push_mode)
{
  g_return_val_if_fail (id != NULL, NULL);

  return g_object_new (ICLOUD_TYPE_TRUSTED_PHONE,
                       "id", id,
                       "obfuscated-number", obfuscated_number,
                       "push-mode", push_mode,
                       NULL);
}

/* A string or integer member of @object as a new string, or NULL. */
static char *
dup_string_or_int_member (JsonObject *object,
                          const char *name)
{
  JsonNode *node = json_object_get_member (object, name);
  GType type;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return NULL;

  type = json_node_get_value_type (node);
  if (type == G_TYPE_STRING)
    return json_node_dup_string (node);
  if (type == G_TYPE_INT64)
    return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));

  return NULL;
}

/* A non-empty string member of @object, or NULL. */
static const char *
get_string_member (JsonObject *object,
                   const char *name)
{
  JsonNode *node = json_object_get_member (object, name);
  const char *str;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;

  str = json_node_get_string (node);

  return str != NULL && *str != '\0' ? str : NULL;
}

/**
 * icloud_trusted_phone_new_from_json:
 * @node: a JSON object, one entry of Apple's `trustedPhoneNumbers` array
 * @error: return location for a [struct@GLib.Error]
 *
 * Creates a trusted phone number from Apple's description of it:
 *
 * - `id` (a number or a string) gives [property@ICloud.TrustedPhone:id];
 * - `obfuscatedNumber`, or `numberWithDialCode` when it is missing, gives
 *   [property@ICloud.TrustedPhone:obfuscated-number];
 * - `pushMode` gives [property@ICloud.TrustedPhone:push-mode], `sms` when it
 *   is missing.
 *
 * Other members are ignored. If @node is not an object or has no usable
 * `id`, this fails with %G_IO_ERROR_INVALID_DATA.
 *
 * Returns: (transfer full): a new trusted phone number, or %NULL on error
 */
ICloudTrustedPhone *
icloud_trusted_phone_new_from_json (JsonNode  *node,
                                    GError   **error)
{
  JsonObject *object;
  g_autofree char *id = NULL;
  const char *number;

  g_return_val_if_fail (node != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "A trusted phone number is not a JSON object");
      return NULL;
    }

  object = json_node_get_object (node);

  id = dup_string_or_int_member (object, "id");
  if (id == NULL || *id == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "A trusted phone number has no id");
      return NULL;
    }

  number = get_string_member (object, "obfuscatedNumber");
  if (number == NULL)
    number = get_string_member (object, "numberWithDialCode");

  return icloud_trusted_phone_new (id, number,
                                   get_string_member (object, "pushMode"));
}

/**
 * icloud_trusted_phone_get_id: (get-property id)
 * @self: a trusted phone number
 *
 * Gets Apple's identifier of the phone number, the one to give when asking
 * for a code by SMS.
 *
 * Returns: (transfer none): the identifier
 */
const char *
icloud_trusted_phone_get_id (ICloudTrustedPhone *self)
{
  g_return_val_if_fail (ICLOUD_IS_TRUSTED_PHONE (self), NULL);

  return self->id;
}

/**
 * icloud_trusted_phone_get_obfuscated_number: (get-property obfuscated-number)
 * @self: a trusted phone number
 *
 * Gets the phone number as Apple shows it, with most digits hidden; suitable
 * for showing to the user.
 *
 * Returns: (transfer none) (nullable): the obfuscated number, or %NULL if
 *   Apple did not give one
 */
const char *
icloud_trusted_phone_get_obfuscated_number (ICloudTrustedPhone *self)
{
  g_return_val_if_fail (ICLOUD_IS_TRUSTED_PHONE (self), NULL);

  return self->obfuscated_number;
}

/**
 * icloud_trusted_phone_get_push_mode: (get-property push-mode)
 * @self: a trusted phone number
 *
 * Gets how Apple delivers a code to this number, `sms` or `voice`.
 *
 * Returns: (transfer none): the push mode
 */
const char *
icloud_trusted_phone_get_push_mode (ICloudTrustedPhone *self)
{
  g_return_val_if_fail (ICLOUD_IS_TRUSTED_PHONE (self), NULL);

  return self->push_mode;
}
