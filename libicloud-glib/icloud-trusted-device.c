/* icloud-trusted-device.c: a trusted device of a two-step (2SA) account
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <gio/gio.h>

#include "icloud-trusted-device.h"

/**
 * ICloudTrustedDevice:
 *
 * A trusted device of an account protected by the older two-step
 * verification (2SA, Apple's `hsa`).
 *
 * Apple lists these devices with the setup service's `listDevices` call; each
 * entry of its `devices` array becomes one `ICloudTrustedDevice`. A device is
 * usually a phone number that receives codes by SMS (device type `SMS`).
 * Get them with [method@ICloud.Session.get_trusted_devices], then pass one to
 * [method@ICloud.Session.send_verification_code] and to
 * [method@ICloud.Session.validate_verification_code].
 *
 * A trusted device is immutable. Its phone number is the obfuscated one Apple
 * shows, for example `*******58`.
 */

struct _ICloudTrustedDevice
{
  GObject parent_instance;

  char *id;
  char *device_type;
  char *phone_number;
  char *area_code;
};

G_DEFINE_FINAL_TYPE (ICloudTrustedDevice, icloud_trusted_device, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_DEVICE_TYPE,
  PROP_PHONE_NUMBER,
  PROP_AREA_CODE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
icloud_trusted_device_finalize (GObject *object)
{
  ICloudTrustedDevice *self = (ICloudTrustedDevice *) object;

  g_clear_pointer (&self->id, g_free);
  g_clear_pointer (&self->device_type, g_free);
  g_clear_pointer (&self->phone_number, g_free);
  g_clear_pointer (&self->area_code, g_free);

  G_OBJECT_CLASS (icloud_trusted_device_parent_class)->finalize (object);
}

static void
icloud_trusted_device_get_property (GObject    *object,
                                    guint       prop_id,
                                    GValue     *value,
                                    GParamSpec *pspec)
{
  ICloudTrustedDevice *self = ICLOUD_TRUSTED_DEVICE (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;

    case PROP_DEVICE_TYPE:
      g_value_set_string (value, self->device_type);
      break;

    case PROP_PHONE_NUMBER:
      g_value_set_string (value, self->phone_number);
      break;

    case PROP_AREA_CODE:
      g_value_set_string (value, self->area_code);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
icloud_trusted_device_set_property (GObject      *object,
                                    guint         prop_id,
                                    const GValue *value,
                                    GParamSpec   *pspec)
{
  ICloudTrustedDevice *self = ICLOUD_TRUSTED_DEVICE (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_free (self->id);
      self->id = g_value_dup_string (value);
      break;

    case PROP_DEVICE_TYPE:
      g_free (self->device_type);
      self->device_type = g_value_dup_string (value);
      break;

    case PROP_PHONE_NUMBER:
      g_free (self->phone_number);
      self->phone_number = g_value_dup_string (value);
      break;

    case PROP_AREA_CODE:
      g_free (self->area_code);
      self->area_code = g_value_dup_string (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
icloud_trusted_device_class_init (ICloudTrustedDeviceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = icloud_trusted_device_finalize;
  object_class->get_property = icloud_trusted_device_get_property;
  object_class->set_property = icloud_trusted_device_set_property;

  /**
   * ICloudTrustedDevice:id: (getter get_id)
   *
   * Apple's identifier of the device (its `deviceId`), as a string.
   */
  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_STATIC_STRINGS));

  /**
   * ICloudTrustedDevice:device-type: (getter get_device_type)
   *
   * The kind of device (Apple's `deviceType`), for example `SMS`.
   */
  properties[PROP_DEVICE_TYPE] =
    g_param_spec_string ("device-type", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_STATIC_STRINGS));

  /**
   * ICloudTrustedDevice:phone-number: (getter get_phone_number)
   *
   * The device's phone number with most digits hidden (Apple's
   * `phoneNumber`), for example `*******58`.
   */
  properties[PROP_PHONE_NUMBER] =
    g_param_spec_string ("phone-number", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_STATIC_STRINGS));

  /**
   * ICloudTrustedDevice:area-code: (getter get_area_code)
   *
   * The area code of the phone number (Apple's `areaCode`), often empty.
   */
  properties[PROP_AREA_CODE] =
    g_param_spec_string ("area-code", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
icloud_trusted_device_init (ICloudTrustedDevice *self)
{
}

/**
 * icloud_trusted_device_new:
 * @id: Apple's identifier of the device (`deviceId`)
 * @device_type: (nullable): the kind of device, for example `SMS`
 * @phone_number: (nullable): the obfuscated phone number
 * @area_code: (nullable): the area code of the phone number
 *
 * Creates a trusted device.
 *
 * Returns: (transfer full): a new trusted device
 */
ICloudTrustedDevice *
icloud_trusted_device_new (const char *id,
                           const char *device_type,
                           const char *phone_number,
                           const char *area_code)
{
  g_return_val_if_fail (id != NULL, NULL);

  return g_object_new (ICLOUD_TYPE_TRUSTED_DEVICE,
                       "id", id,
                       "device-type", device_type,
                       "phone-number", phone_number,
                       "area-code", area_code,
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

/**
 * icloud_trusted_device_new_from_json:
 * @node: a JSON object, one entry of the `devices` array of Apple's
 *   `listDevices` reply
 * @error: return location for a [struct@GLib.Error]
 *
 * Creates a trusted device from Apple's description of it: `deviceId` (a
 * string or a number), `deviceType`, `phoneNumber` and `areaCode`. Other
 * members are ignored.
 *
 * If @node is not an object or has no usable `deviceId`, this fails with
 * %G_IO_ERROR_INVALID_DATA.
 *
 * Returns: (transfer full): a new trusted device, or %NULL on error
 */
ICloudTrustedDevice *
icloud_trusted_device_new_from_json (JsonNode  *node,
                                     GError   **error)
{
  JsonObject *object;
  g_autofree char *id = NULL;
  g_autofree char *device_type = NULL;
  g_autofree char *phone_number = NULL;
  g_autofree char *area_code = NULL;

  g_return_val_if_fail (node != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "A trusted device is not a JSON object");
      return NULL;
    }

  object = json_node_get_object (node);

  id = dup_string_or_int_member (object, "deviceId");
  if (id == NULL || *id == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "A trusted device has no deviceId");
      return NULL;
    }

  device_type = dup_string_or_int_member (object, "deviceType");
  phone_number = dup_string_or_int_member (object, "phoneNumber");
  area_code = dup_string_or_int_member (object, "areaCode");

  return icloud_trusted_device_new (id, device_type, phone_number, area_code);
}

/**
 * icloud_trusted_device_to_json:
 * @self: a trusted device
 *
 * Builds the JSON object Apple's `sendVerificationCode` and
 * `validateVerificationCode` calls expect for this device:
 * `{"deviceType": …, "areaCode": …, "phoneNumber": …, "deviceId": …}`, all
 * strings. A property that is %NULL is written as an empty string.
 *
 * [ctor@ICloud.TrustedDevice.new_from_json] reads it back.
 *
 * Returns: (transfer full): a new JSON node holding an object
 */
JsonNode *
icloud_trusted_device_to_json (ICloudTrustedDevice *self)
{
  JsonObject *object;
  JsonNode *node;

  g_return_val_if_fail (ICLOUD_IS_TRUSTED_DEVICE (self), NULL);

  object = json_object_new ();
  json_object_set_string_member (object, "deviceType",
                                 self->device_type ? self->device_type : "");
  json_object_set_string_member (object, "areaCode",
                                 self->area_code ? self->area_code : "");
  json_object_set_string_member (object, "phoneNumber",
                                 self->phone_number ? self->phone_number : "");
  json_object_set_string_member (object, "deviceId",
                                 self->id ? self->id : "");

  node = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (node, object);

  return node;
}

/**
 * icloud_trusted_device_get_id: (get-property id)
 * @self: a trusted device
 *
 * Gets Apple's identifier of the device (`deviceId`).
 *
 * Returns: (transfer none): the identifier
 */
const char *
icloud_trusted_device_get_id (ICloudTrustedDevice *self)
{
  g_return_val_if_fail (ICLOUD_IS_TRUSTED_DEVICE (self), NULL);

  return self->id;
}

/**
 * icloud_trusted_device_get_device_type: (get-property device-type)
 * @self: a trusted device
 *
 * Gets the kind of device, for example `SMS`.
 *
 * Returns: (transfer none) (nullable): the device type, or %NULL if Apple did
 *   not give one
 */
const char *
icloud_trusted_device_get_device_type (ICloudTrustedDevice *self)
{
  g_return_val_if_fail (ICLOUD_IS_TRUSTED_DEVICE (self), NULL);

  return self->device_type;
}

/**
 * icloud_trusted_device_get_phone_number: (get-property phone-number)
 * @self: a trusted device
 *
 * Gets the device's phone number, with most digits hidden; suitable for
 * showing to the user.
 *
 * Returns: (transfer none) (nullable): the obfuscated phone number, or %NULL
 *   if Apple did not give one
 */
const char *
icloud_trusted_device_get_phone_number (ICloudTrustedDevice *self)
{
  g_return_val_if_fail (ICLOUD_IS_TRUSTED_DEVICE (self), NULL);

  return self->phone_number;
}

/**
 * icloud_trusted_device_get_area_code: (get-property area-code)
 * @self: a trusted device
 *
 * Gets the area code of the device's phone number.
 *
 * Returns: (transfer none) (nullable): the area code, or %NULL if Apple did
 *   not give one
 */
const char *
icloud_trusted_device_get_area_code (ICloudTrustedDevice *self)
{
  g_return_val_if_fail (ICLOUD_IS_TRUSTED_DEVICE (self), NULL);

  return self->area_code;
}
