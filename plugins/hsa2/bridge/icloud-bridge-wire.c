/* icloud-bridge-wire.c: the bridge's protobuf-wire messages (§c.3–c.4).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "icloud-bridge-wire-private.h"
#include "icloud-crypto-private.h"

#include <string.h>

#include <gio/gio.h>
#include <nettle/sha1.h>

/* ---- reader ---- */

void
icloud_pb_reader_init (ICloudPbReader *reader,
                       const guint8   *data,
                       gsize           len)
{
  reader->data = data;
  reader->len = data != NULL ? len : 0;
  reader->pos = 0;
}

static gboolean
pb_fail (ICloudPbReader *reader,
         GError        **error,
         const char     *what)
{
  reader->pos = reader->len;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               "Malformed push message: %s", what);
  return FALSE;
}

/* A varint of at most 10 bytes that fits 64 bits. */
static gboolean
pb_read_varint (ICloudPbReader *reader,
                guint64        *value,
                GError        **error)
{
  guint64 v = 0;

  for (guint i = 0; i < ICLOUD_PB_MAX_VARINT_LEN; i++)
    {
      guint8 b;

      if (reader->pos >= reader->len)
        return pb_fail (reader, error, "truncated varint");
      b = reader->data[reader->pos++];
      /* The 10th byte holds bit 63 only, and ends the varint. */
      if (i == ICLOUD_PB_MAX_VARINT_LEN - 1 && (b & 0xfe) != 0)
        return pb_fail (reader, error, "varint longer than 10 bytes or over 64 bits");
      v |= (guint64) (b & 0x7f) << (7 * i);
      if ((b & 0x80) == 0)
        {
          *value = v;
          return TRUE;
        }
    }
  g_assert_not_reached ();
}

gboolean
icloud_pb_reader_next (ICloudPbReader *reader,
                       ICloudPbField  *field,
                       GError        **error)
{
  guint64 key, number;

  g_return_val_if_fail (reader != NULL && field != NULL, FALSE);

  if (reader->len > ICLOUD_PB_MAX_MESSAGE_LEN)
    return pb_fail (reader, error, "message too long");
  if (reader->pos >= reader->len)
    return FALSE;

  memset (field, 0, sizeof *field);
  if (!pb_read_varint (reader, &key, error))
    return FALSE;
  number = key >> 3;
  if (number == 0 || number > 0x1fffffff)
    return pb_fail (reader, error, "bad field number");
  field->number = (guint32) number;
  field->wire_type = key & 7;

  switch (field->wire_type)
    {
    case ICLOUD_PB_WIRE_VARINT:
      return pb_read_varint (reader, &field->varint, error);

    case ICLOUD_PB_WIRE_LEN:
      {
        guint64 len;

        if (!pb_read_varint (reader, &len, error))
          return FALSE;
        if (len > reader->len - reader->pos)
          return pb_fail (reader, error, "length beyond the end of the message");
        field->bytes = reader->data + reader->pos;
        field->len = (gsize) len;
        reader->pos += (gsize) len;
        return TRUE;
      }

    default:
      return pb_fail (reader, error, "unsupported wire type");
    }
}

/* ---- writer ---- */

void
icloud_pb_write_varint (GByteArray *out,
                        guint64     value)
{
  guint8 buf[ICLOUD_PB_MAX_VARINT_LEN];
  guint n = 0;

  do
    {
      buf[n] = (guint8) (value & 0x7f);
      value >>= 7;
      if (value != 0)
        buf[n] |= 0x80;
      n++;
    }
  while (value != 0);
  g_byte_array_append (out, buf, n);
}

void
icloud_pb_write_varint_field (GByteArray *out,
                              guint32     number,
                              guint64     value)
{
  icloud_pb_write_varint (out, ((guint64) number << 3) | ICLOUD_PB_WIRE_VARINT);
  icloud_pb_write_varint (out, value);
}

void
icloud_pb_write_bytes_field (GByteArray   *out,
                             guint32       number,
                             const guint8 *data,
                             gsize         len)
{
  icloud_pb_write_varint (out, ((guint64) number << 3) | ICLOUD_PB_WIRE_LEN);
  icloud_pb_write_varint (out, len);
  if (len > 0)
    g_byte_array_append (out, data, len);
}

/* Wraps @inner (consumed) as bytes field @number of a new message. */
static GBytes *
wrap_field (guint32     number,
            GByteArray *inner)
{
  GByteArray *outer = g_byte_array_sized_new (inner->len + 8);

  icloud_pb_write_bytes_field (outer, number, inner->data, inner->len);
  g_byte_array_unref (inner);
  return g_byte_array_free_to_bytes (outer);
}

/* ---- client messages ---- */

void
icloud_bridge_build_nonce (guint64       timestamp_ms,
                           const guint8 *random8,
                           guint8        nonce[ICLOUD_BRIDGE_NONCE_LEN])
{
  nonce[0] = 0;
  for (guint i = 0; i < 8; i++)
    nonce[1 + i] = (guint8) (timestamp_ms >> (8 * (7 - i)));
  if (random8 != NULL)
    memcpy (nonce + 9, random8, 8);
  else
    icloud_crypto_random (nonce + 9, 8);
}

GBytes *
icloud_bridge_encode_connection_message (const guint8  public_key[ICLOUD_P256_POINT_LEN],
                                         const guint8  nonce[ICLOUD_BRIDGE_NONCE_LEN],
                                         const guint8 *signature_der,
                                         gsize         signature_len)
{
  GByteArray *connect = g_byte_array_sized_new (256);
  GByteArray *signature = g_byte_array_sized_new (signature_len + 2);
  GByteArray *expiration = g_byte_array_new ();
  static const guint8 prefix[] = { 0x01, 0x03 };

  /* pyicloud adds 01 03 unless the value already starts with it; a DER
   * signature starts with 30. */
  if (signature_len < 2 || memcmp (signature_der, prefix, 2) != 0)
    g_byte_array_append (signature, prefix, 2);
  g_byte_array_append (signature, signature_der, signature_len);
  icloud_pb_write_varint_field (expiration, 1, ICLOUD_BRIDGE_CONNECTION_EXPIRATION_SECONDS);

  icloud_pb_write_bytes_field (connect, 1, public_key, ICLOUD_P256_POINT_LEN);
  icloud_pb_write_bytes_field (connect, 2, nonce, ICLOUD_BRIDGE_NONCE_LEN);
  icloud_pb_write_bytes_field (connect, 3, signature->data, signature->len);
  icloud_pb_write_bytes_field (connect, 5, expiration->data, expiration->len);
  g_byte_array_unref (signature);
  g_byte_array_unref (expiration);
  return wrap_field (1, connect);
}

GBytes *
icloud_bridge_connection_message_new (ICloudBridgeKey *key,
                                      guint64          timestamp_ms,
                                      const guint8    *random8)
{
  guint8 nonce[ICLOUD_BRIDGE_NONCE_LEN];
  guint8 public_key[ICLOUD_P256_POINT_LEN];
  g_autoptr(GBytes) signature = NULL;
  const guint8 *der;
  gsize der_len;

  g_return_val_if_fail (key != NULL, NULL);

  icloud_bridge_build_nonce (timestamp_ms, random8, nonce);
  icloud_bridge_key_get_public (key, public_key);
  signature = icloud_bridge_key_sign (key, nonce, sizeof nonce);
  der = g_bytes_get_data (signature, &der_len);
  return icloud_bridge_encode_connection_message (public_key, nonce, der, der_len);
}

char *
icloud_bridge_websocket_url (const char *host,
                             GBytes     *connection_message)
{
  static const char hex[] = "0123456789abcdef";
  const guint8 *data;
  gsize len;
  GString *url;

  g_return_val_if_fail (host != NULL && connection_message != NULL, NULL);

  data = g_bytes_get_data (connection_message, &len);
  url = g_string_sized_new (strlen (host) + 2 * len + 16);
  g_string_append_printf (url, "wss://%s/v2/", host);
  for (gsize i = 0; i < len; i++)
    {
      g_string_append_c (url, hex[data[i] >> 4]);
      g_string_append_c (url, hex[data[i] & 0xf]);
    }
  return g_string_free (url, FALSE);
}

GBytes *
icloud_bridge_encode_web_filter (const char *topic)
{
  GByteArray *filter = g_byte_array_new ();

  g_return_val_if_fail (topic != NULL, NULL);

  icloud_pb_write_bytes_field (filter, 1, (const guint8 *) topic, strlen (topic));
  return wrap_field (3, filter);
}

GBytes *
icloud_bridge_encode_ack (const guint8 *topic,
                          gsize         topic_len,
                          guint64       message_id)
{
  GByteArray *ack = g_byte_array_new ();

  icloud_pb_write_bytes_field (ack, 1, topic, topic_len);
  icloud_pb_write_varint_field (ack, 2, message_id);
  return wrap_field (2, ack);
}

void
icloud_bridge_topic_hash (const char *topic,
                          guint8      out[ICLOUD_BRIDGE_TOPIC_HASH_LEN])
{
  struct sha1_ctx ctx;

  sha1_init (&ctx);
  sha1_update (&ctx, strlen (topic), (const guint8 *) topic);
  sha1_digest (&ctx, SHA1_DIGEST_SIZE, out);
}

gboolean
icloud_bridge_topic_matches (const guint8 *topic_bytes,
                             gsize         len,
                             const char   *topic)
{
  guint8 hash[ICLOUD_BRIDGE_TOPIC_HASH_LEN];

  g_return_val_if_fail (topic != NULL, FALSE);

  if (topic_bytes == NULL)
    return FALSE;
  icloud_bridge_topic_hash (topic, hash);
  if (len == sizeof hash && memcmp (topic_bytes, hash, len) == 0)
    return TRUE;
  return len == strlen (topic) && memcmp (topic_bytes, topic, len) == 0;
}

char *
icloud_bridge_push_token_to_hex (const char *token_b64,
                                 GError    **error)
{
  g_autoptr(GBytes) token = NULL;
  const guint8 *data;
  gsize len;
  GString *hex;

  g_return_val_if_fail (token_b64 != NULL, NULL);

  token = icloud_bridge_base64_decode_strict (token_b64, 1024, error);
  if (token == NULL)
    return NULL;
  data = g_bytes_get_data (token, &len);
  if (len == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "The push token is empty");
      return NULL;
    }
  hex = g_string_sized_new (2 * len);
  for (gsize i = 0; i < len; i++)
    g_string_append_printf (hex, "%02x", data[i]);
  return g_string_free (hex, FALSE);
}

/* ---- server messages ---- */

/* The fields of each kind of server message, as a table: where each value
 * goes in ICloudBridgeServerMessage. */
typedef enum {
  SLOT_VARINT,   /* guint64 */
  SLOT_BYTES,    /* GBytes *, a slice of the message */
  SLOT_TEXT,     /* char *, UTF-8 without NUL */
  SLOT_TOPICS,   /* { 1 (repeated): { 1: topic } } → subscription_topics */
} SlotKind;

typedef struct {
  guint32  number;
  SlotKind kind;
  gsize    value;   /* offset of the value */
  gssize   has;     /* offset of its gboolean, or −1 */
} Slot;

#define MSG_OFFSET(member) G_STRUCT_OFFSET (ICloudBridgeServerMessage, member)
#define SLOT(number, kind, member) { number, kind, MSG_OFFSET (member), -1 }
#define SLOT_HAS(number, member) \
  { number, SLOT_VARINT, MSG_OFFSET (member), MSG_OFFSET (has_##member) }

static const Slot connection_slots[] = {
  SLOT (1, SLOT_TEXT, token),
  SLOT_HAS (2, status),
  SLOT_HAS (3, server_time),
  { 0 },
};
static const Slot push_slots[] = {
  SLOT (1, SLOT_BYTES, push_topic),
  SLOT_HAS (2, push_id),
  SLOT (4, SLOT_BYTES, push_payload),
  { 0 },
};
static const Slot subscription_slots[] = {
  SLOT (1, SLOT_TOPICS, subscription_topics),
  SLOT_HAS (2, subscription_id),
  SLOT_HAS (3, subscription_status),
  { 4, SLOT_VARINT, MSG_OFFSET (retry_interval), MSG_OFFSET (has_retry_interval) },
  { 0 },
};
static const Slot server_ack_slots[] = {
  SLOT (1, SLOT_BYTES, ack_topic),
  SLOT (2, SLOT_VARINT, ack_id),
  SLOT (3, SLOT_VARINT, ack_status),
  { 0 },
};

static const struct {
  guint32     number;
  gsize       has;
  const Slot *slots;
} kinds[] = {
  { 1, MSG_OFFSET (has_connection), connection_slots },
  { 2, MSG_OFFSET (has_push), push_slots },
  { 3, MSG_OFFSET (has_subscription), subscription_slots },
  { 7, MSG_OFFSET (has_server_ack), server_ack_slots },
};

#define MSG_AT(msg, offset, type) (*(type *) (gpointer) ((guint8 *) (msg) + (offset)))

static gboolean
expect_wire (ICloudPbField *field,
             guint          wire_type,
             GError       **error)
{
  if (field->wire_type == wire_type)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               "Malformed push message: field %u has the wrong type", field->number);
  return FALSE;
}

static gboolean
is_text (const guint8 *bytes,
         gsize         len)
{
  return memchr (bytes, '\0', len) == NULL &&
         g_utf8_validate ((const char *) bytes, len, NULL);
}

/* The end of a read loop: FALSE with the reader's error, if any. */
static gboolean
reader_done (GError  *local,
             GError **error)
{
  if (local == NULL)
    return TRUE;
  g_propagate_error (error, local);
  return FALSE;
}

/* { 1 (repeated): { 1: topic, 2: channel } }: the topics that are text */
static gboolean
parse_topics (ICloudBridgeServerMessage *msg,
              ICloudPbField             *list,
              GError                   **error)
{
  ICloudPbReader reader;
  ICloudPbField entry;
  GError *local = NULL;

  if (msg->subscription_topics == NULL)
    msg->subscription_topics = g_ptr_array_new_with_free_func (g_free);
  icloud_pb_reader_init (&reader, list->bytes, list->len);
  while (local == NULL && icloud_pb_reader_next (&reader, &entry, &local))
    {
      ICloudPbReader inner;
      ICloudPbField f;

      if (entry.number != 1)
        continue;
      if (!expect_wire (&entry, ICLOUD_PB_WIRE_LEN, error))
        return FALSE;
      icloud_pb_reader_init (&inner, entry.bytes, entry.len);
      while (icloud_pb_reader_next (&inner, &f, &local))
        {
          if (f.number != 1)
            continue;
          if (!expect_wire (&f, ICLOUD_PB_WIRE_LEN, error))
            return FALSE;
          if (is_text (f.bytes, f.len))
            g_ptr_array_add (msg->subscription_topics,
                             g_strndup ((const char *) f.bytes, f.len));
        }
    }
  return reader_done (local, error);
}

/* Reads the fields of one kind of message into @msg, by @slots. */
static gboolean
parse_slots (ICloudBridgeServerMessage *msg,
             GBytes                    *whole,
             const guint8              *base,
             ICloudPbField             *outer,
             const Slot                *slots,
             GError                   **error)
{
  ICloudPbReader reader;
  ICloudPbField f;
  GError *local = NULL;

  icloud_pb_reader_init (&reader, outer->bytes, outer->len);
  while (icloud_pb_reader_next (&reader, &f, &local))
    {
      const Slot *slot = slots;

      while (slot->number != 0 && slot->number != f.number)
        slot++;
      if (slot->number == 0)
        continue;   /* unknown fields are skipped */
      if (!expect_wire (&f, slot->kind == SLOT_VARINT ? ICLOUD_PB_WIRE_VARINT
                                                      : ICLOUD_PB_WIRE_LEN, error))
        return FALSE;

      switch (slot->kind)
        {
        case SLOT_VARINT:
          MSG_AT (msg, slot->value, guint64) = f.varint;
          if (slot->has >= 0)
            MSG_AT (msg, slot->has, gboolean) = TRUE;
          break;
        case SLOT_BYTES:
          g_clear_pointer (&MSG_AT (msg, slot->value, GBytes *), g_bytes_unref);
          MSG_AT (msg, slot->value, GBytes *) =
            g_bytes_new_from_bytes (whole, f.bytes - base, f.len);
          break;
        case SLOT_TEXT:
          if (!is_text (f.bytes, f.len))
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "Malformed push message: field %u is not text", f.number);
              return FALSE;
            }
          g_free (MSG_AT (msg, slot->value, char *));
          MSG_AT (msg, slot->value, char *) = g_strndup ((const char *) f.bytes, f.len);
          break;
        case SLOT_TOPICS:
          if (!parse_topics (msg, &f, error))
            return FALSE;
          break;
        default:
          g_assert_not_reached ();
        }
    }
  return reader_done (local, error);
}

ICloudBridgeServerMessage *
icloud_bridge_server_message_parse (GBytes  *message,
                                    GError **error)
{
  g_autoptr(ICloudBridgeServerMessage) msg = g_new0 (ICloudBridgeServerMessage, 1);
  ICloudPbReader reader;
  ICloudPbField f;
  GError *local = NULL;
  const guint8 *data;
  gsize len;

  g_return_val_if_fail (message != NULL, NULL);

  data = g_bytes_get_data (message, &len);
  icloud_pb_reader_init (&reader, data, len);
  while (icloud_pb_reader_next (&reader, &f, &local))
    {
      guint k = 0;

      while (k < G_N_ELEMENTS (kinds) && kinds[k].number != f.number)
        k++;
      if (k == G_N_ELEMENTS (kinds))
        continue;   /* unknown kinds are ignored */
      if (!expect_wire (&f, ICLOUD_PB_WIRE_LEN, error))
        return NULL;
      MSG_AT (msg, kinds[k].has, gboolean) = TRUE;
      if (!parse_slots (msg, message, data, &f, kinds[k].slots, &local))
        break;
    }
  if (!reader_done (local, error))
    return NULL;
  return g_steal_pointer (&msg);
}

void
icloud_bridge_server_message_free (ICloudBridgeServerMessage *message)
{
  if (message == NULL)
    return;
  g_free (message->token);
  g_clear_pointer (&message->push_topic, g_bytes_unref);
  g_clear_pointer (&message->push_payload, g_bytes_unref);
  g_clear_pointer (&message->subscription_topics, g_ptr_array_unref);
  g_clear_pointer (&message->ack_topic, g_bytes_unref);
  g_free (message);
}

/* ---- the server's side ---- */

GBytes *
icloud_bridge_encode_connection_response (const char *token_b64,
                                          guint64     status,
                                          gboolean    with_server_time,
                                          guint64     server_time)
{
  GByteArray *response = g_byte_array_new ();

  if (token_b64 != NULL)
    icloud_pb_write_bytes_field (response, 1, (const guint8 *) token_b64, strlen (token_b64));
  icloud_pb_write_varint_field (response, 2, status);
  if (with_server_time)
    icloud_pb_write_varint_field (response, 3, server_time);
  return wrap_field (1, response);
}

GBytes *
icloud_bridge_encode_push (const guint8 *topic,
                           gsize         topic_len,
                           guint64       message_id,
                           const guint8 *payload,
                           gsize         payload_len)
{
  GByteArray *push = g_byte_array_sized_new (payload_len + 64);

  icloud_pb_write_bytes_field (push, 1, topic, topic_len);
  icloud_pb_write_varint_field (push, 2, message_id);
  icloud_pb_write_bytes_field (push, 4, payload, payload_len);
  return wrap_field (2, push);
}

GBytes *
icloud_bridge_encode_subscription_response (const char *topic,
                                            const char *channel_id,
                                            guint64     message_id,
                                            guint64     status)
{
  GByteArray *channel = g_byte_array_new ();
  GByteArray *entry = g_byte_array_new ();
  GByteArray *list = g_byte_array_new ();
  GByteArray *response = g_byte_array_new ();

  icloud_pb_write_bytes_field (channel, 1, (const guint8 *) channel_id, strlen (channel_id));
  icloud_pb_write_bytes_field (entry, 1, (const guint8 *) topic, strlen (topic));
  icloud_pb_write_bytes_field (entry, 2, channel->data, channel->len);
  icloud_pb_write_bytes_field (list, 1, entry->data, entry->len);
  icloud_pb_write_bytes_field (response, 1, list->data, list->len);
  icloud_pb_write_varint_field (response, 2, message_id);
  icloud_pb_write_varint_field (response, 3, status);
  g_byte_array_unref (channel);
  g_byte_array_unref (entry);
  g_byte_array_unref (list);
  return wrap_field (3, response);
}
