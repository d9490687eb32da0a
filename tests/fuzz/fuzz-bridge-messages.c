/* fuzz-bridge-messages.c: the HSA2 bridge's parsers of what the web-push
 * server sends (hsa2-bridge.md §c.4, §c.5, §d.4, §d.7;
 * plugins/hsa2/bridge/): the protobuf-wire server messages, the push JSON
 * (as the payload of a parsed push, and the whole input as a payload), the
 * step-4 data and the encrypted code.
 *
 * Checks: no crash; a parse gives a result or a G_IO_ERROR_INVALID_DATA
 * with a message, never both; slices stay inside the input; a push
 * re-encoded parses back to the same fields; the raw reader never moves
 * backwards nor past the end; a push has an id, its strings are UTF-8 and
 * not blank; akdata's echo reads back to akdata; the step-4 data gives a share of at most 65 bytes; a push
 * token becomes hex or is refused.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#include <gio/gio.h>

#include "icloud-bridge-wire-private.h"
#include "icloud-bridge-push-private.h"
#include "fuzz-common.h"

static void
check_error (GError *error)
{
  FUZZ_CHECK (error != NULL);
  FUZZ_CHECK (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA));
  FUZZ_CHECK (error->message != NULL && *error->message != '\0');
  FUZZ_CHECK (g_utf8_validate (error->message, -1, NULL));
}

static void
check_text (const char *text)
{
  if (text == NULL)
    return;
  FUZZ_CHECK (g_utf8_validate (text, -1, NULL));
  FUZZ_CHECK (*text != '\0');
}

static void
check_push_json (const guint8 *data,
                 gsize         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudBridgePush) push = icloud_bridge_push_parse (data, size, &error);

  if (push == NULL)
    {
      check_error (error);
      return;
    }
  FUZZ_CHECK (error == NULL);
  FUZZ_CHECK (icloud_bridge_push_get_id (push) != NULL);
  check_text (push->session_uuid);
  check_text (push->flowid);
  check_text (push->next_step);
  check_text (push->salt);
  check_text (push->data);
  check_text (push->encrypted_code);
  check_text (push->txnid);
  check_text (push->idmsdata);
  check_text (push->mid);
  FUZZ_CHECK (push->rui_url_key == NULL || g_utf8_validate (push->rui_url_key, -1, NULL));
  FUZZ_CHECK (icloud_bridge_push_is_legacy (push) ==
              (push->txnid != NULL && g_str_has_suffix (push->txnid, "_W")));
  FUZZ_CHECK (!icloud_bridge_push_is_error (push) || push->has_ec);

  /* akdata's echo: there with akdata, UTF-8; a string as it is, any other
   * value as JSON text that reads back to the same value. */
  FUZZ_CHECK ((push->akdata == NULL) == (push->akdata_text == NULL));
  if (push->akdata != NULL)
    {
      FUZZ_CHECK (g_utf8_validate (push->akdata_text, -1, NULL));
      if (JSON_NODE_HOLDS_VALUE (push->akdata) &&
          json_node_get_value_type (push->akdata) == G_TYPE_STRING)
        FUZZ_CHECK (g_str_equal (push->akdata_text, json_node_get_string (push->akdata)));
      else
        {
          g_autoptr(JsonNode) again = json_from_string (push->akdata_text, NULL);

          FUZZ_CHECK (again != NULL && json_node_equal (again, push->akdata));
        }
    }

  /* What the bridge would do next with the push's values. */
  if (push->data != NULL)
    {
      g_autoptr(GBytes) share = NULL;
      g_autoptr(GBytes) confirm = NULL;
      g_autoptr(GError) step4_error = NULL;

      if (icloud_bridge_parse_step4_data (push->data, &share, &confirm, &step4_error))
        FUZZ_CHECK (g_bytes_get_size (share) <= 65 && g_bytes_get_size (confirm) <= 64);
      else
        check_error (step4_error);
    }
  if (push->encrypted_code != NULL)
    {
      static const guint8 key[32] = { 1 };
      g_autoptr(GError) gcm_error = NULL;
      g_autofree char *code = icloud_bridge_decrypt_code (key, push->encrypted_code, &gcm_error);

      /* Without the key nothing authenticates. */
      FUZZ_CHECK (code == NULL);
      check_error (gcm_error);
    }
}

static void
check_raw_reader (const guint8 *data,
                  gsize         size)
{
  ICloudPbReader reader;
  ICloudPbField field;
  g_autoptr(GError) error = NULL;
  gsize last = 0;

  icloud_pb_reader_init (&reader, data, size);
  while (icloud_pb_reader_next (&reader, &field, &error))
    {
      FUZZ_CHECK (reader.pos > last && reader.pos <= size);
      FUZZ_CHECK (field.number >= 1 && field.number <= 0x1fffffff);
      FUZZ_CHECK (field.wire_type == ICLOUD_PB_WIRE_VARINT ||
                  field.wire_type == ICLOUD_PB_WIRE_LEN);
      if (field.wire_type == ICLOUD_PB_WIRE_LEN)
        FUZZ_CHECK (field.bytes >= data && field.bytes + field.len <= data + size);
      last = reader.pos;
    }
  if (error != NULL)
    check_error (error);
  FUZZ_CHECK (reader.pos == reader.len);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GBytes) input = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudBridgeServerMessage) msg = NULL;

  fuzz_init_once ();

  input = fuzz_bytes (data, size);
  check_raw_reader (data, size);

  msg = icloud_bridge_server_message_parse (input, &error);
  if (msg == NULL)
    check_error (error);
  else
    {
      FUZZ_CHECK (error == NULL);
      /* The token: text, maybe empty; as ptkn, even-length lower-case hex
       * of at least one byte, or refused. */
      if (msg->token != NULL)
        {
          g_autoptr(GError) token_error = NULL;
          g_autofree char *ptkn = NULL;

          FUZZ_CHECK (g_utf8_validate (msg->token, -1, NULL));
          ptkn = icloud_bridge_push_token_to_hex (msg->token, &token_error);
          if (ptkn == NULL)
            check_error (token_error);
          else
            {
              FUZZ_CHECK (*ptkn != '\0' && strlen (ptkn) % 2 == 0);
              for (const char *c = ptkn; *c; c++)
                FUZZ_CHECK (g_ascii_isdigit (*c) || (*c >= 'a' && *c <= 'f'));
            }
        }
      if (msg->push_payload != NULL)
        {
          gsize len;
          const guint8 *payload = g_bytes_get_data (msg->push_payload, &len);

          FUZZ_CHECK (len <= size);
          check_push_json (payload, len);
        }
      if (msg->push_topic != NULL && msg->has_push_id && msg->push_payload != NULL)
        {
          g_autoptr(GBytes) again = NULL;
          g_autoptr(ICloudBridgeServerMessage) back = NULL;
          g_autoptr(GError) again_error = NULL;

          again = icloud_bridge_encode_push (g_bytes_get_data (msg->push_topic, NULL),
                                             g_bytes_get_size (msg->push_topic),
                                             msg->push_id,
                                             g_bytes_get_data (msg->push_payload, NULL),
                                             g_bytes_get_size (msg->push_payload));
          back = icloud_bridge_server_message_parse (again, &again_error);
          FUZZ_CHECK (back != NULL && again_error == NULL);
          FUZZ_CHECK (back->has_push && back->has_push_id && back->push_id == msg->push_id);
          FUZZ_CHECK (g_bytes_equal (back->push_topic, msg->push_topic));
          FUZZ_CHECK (g_bytes_equal (back->push_payload, msg->push_payload));
        }
      if (msg->subscription_topics != NULL)
        for (guint i = 0; i < msg->subscription_topics->len; i++)
          FUZZ_CHECK (g_utf8_validate (g_ptr_array_index (msg->subscription_topics, i), -1, NULL));
    }

  /* The whole input as a push payload too (a payload is any bytes). */
  check_push_json (data, size);

  return 0;
}
