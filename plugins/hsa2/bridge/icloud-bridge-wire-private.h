/* icloud-bridge-wire-private.h: the web-push WebSocket messages of the HSA2
 * bridge (hsa2-bridge.md §c.3–c.4): a minimal protobuf wire-format reader
 * and writer, the client messages and the server messages.
 *
 * The reader is for hostile input: every length is checked against what is
 * left, varints are at most 10 bytes and fit 64 bits, field numbers are
 * 1..2^29−1, only wire types 0 (varint) and 2 (length-delimited) are taken
 * (pyicloud aborts on any other), a message is at most
 * ICLOUD_PB_MAX_MESSAGE_LEN bytes, and nothing recurses: nested messages are
 * read by a new reader over the field's bytes, at the fixed depths of §c.4.
 * Errors: G_IO_ERROR_INVALID_DATA, with a message naming the fault.
 *
 * Byte strings of the results point into the caller's buffer (GBytes keep
 * it alive). Thread-safe, no global state.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include "icloud-bridge-crypto-private.h"

G_BEGIN_DECLS

#define ICLOUD_PB_MAX_MESSAGE_LEN  (1024 * 1024)
#define ICLOUD_PB_MAX_VARINT_LEN   10
#define ICLOUD_PB_WIRE_VARINT      0
#define ICLOUD_PB_WIRE_LEN         2

/* ---- reader ---- */
typedef struct {
  const guint8 *data;
  gsize         len;
  gsize         pos;
} ICloudPbReader;

typedef struct {
  guint32       number;
  guint         wire_type;   /* ICLOUD_PB_WIRE_VARINT or _LEN */
  guint64       varint;      /* wire type 0 */
  const guint8 *bytes;       /* wire type 2: into the reader's buffer */
  gsize         len;
} ICloudPbField;

/* @data must outlive the reader; the length limit is checked by next (). */
void      icloud_pb_reader_init (ICloudPbReader *reader,
                                 const guint8   *data,
                                 gsize           len);
/* TRUE with the next field; FALSE at the end (no error) or on malformed
 * input (error set; the reader then stays at the end). */
gboolean  icloud_pb_reader_next (ICloudPbReader *reader,
                                 ICloudPbField  *field,
                                 GError        **error);

/* ---- writer ---- */
void      icloud_pb_write_varint       (GByteArray   *out,
                                        guint64       value);
void      icloud_pb_write_varint_field (GByteArray   *out,
                                        guint32       number,
                                        guint64       value);
void      icloud_pb_write_bytes_field  (GByteArray   *out,
                                        guint32       number,
                                        const guint8 *data,
                                        gsize         len);

/* ---- client messages (§c.3) ---- */
#define ICLOUD_BRIDGE_NONCE_LEN 17
#define ICLOUD_BRIDGE_CONNECTION_EXPIRATION_SECONDS 86400
#define ICLOUD_BRIDGE_TOPIC_HASH_LEN 20

/* 00 || timestamp_ms (u64 BE) || 8 bytes (@random8, or random if NULL) */
void      icloud_bridge_build_nonce    (guint64       timestamp_ms,
                                        const guint8 *random8,
                                        guint8        nonce[ICLOUD_BRIDGE_NONCE_LEN]);
/* { 1: { 1: public key, 2: nonce, 3: 01 03 || DER signature, 5: { 1: 86400 } } } */
GBytes   *icloud_bridge_encode_connection_message (const guint8  public_key[ICLOUD_P256_POINT_LEN],
                                                   const guint8  nonce[ICLOUD_BRIDGE_NONCE_LEN],
                                                   const guint8 *signature_der,
                                                   gsize         signature_len);
/* Builds the nonce, signs it with @key and encodes the message. */
GBytes   *icloud_bridge_connection_message_new (ICloudBridgeKey *key,
                                                guint64          timestamp_ms,
                                                const guint8    *random8);
/* wss://<host>/v2/<lower-case hex of the message> */
char     *icloud_bridge_websocket_url  (const char   *host,
                                        GBytes       *connection_message);
/* { 3: { 1: topic } } */
GBytes   *icloud_bridge_encode_web_filter (const char *topic);
/* { 2: { 1: topic bytes as received, 2: message id } } */
GBytes   *icloud_bridge_encode_ack     (const guint8 *topic,
                                        gsize         topic_len,
                                        guint64       message_id);

/* SHA-1 of the topic name, as pushes name it. */
void      icloud_bridge_topic_hash     (const char   *topic,
                                        guint8        out[ICLOUD_BRIDGE_TOPIC_HASH_LEN]);
/* Whether the push topic bytes are @topic: its SHA-1, or the name itself. */
gboolean  icloud_bridge_topic_matches  (const guint8 *topic_bytes,
                                        gsize         len,
                                        const char   *topic);
/* The push token (base64 text of the connection response) as the
 * lower-case hex `ptkn` of the bridge POSTs; NULL if not strict base64 or
 * empty. */
char     *icloud_bridge_push_token_to_hex (const char *token_b64,
                                           GError    **error);

/* ---- server messages (§c.4) ---- */
typedef struct {
  /* top field 1: connection response */
  gboolean  has_connection;
  char     *token;              /* field 1, UTF-8 text, or NULL */
  gboolean  has_status;
  guint64   status;             /* field 2: 0 OK, 2 INVALID_NONCE */
  gboolean  has_server_time;
  guint64   server_time;        /* field 3: seconds (§h item 4) */

  /* top field 2: push */
  gboolean  has_push;
  GBytes   *push_topic;         /* field 1 */
  gboolean  has_push_id;
  guint64   push_id;            /* field 2 */
  GBytes   *push_payload;       /* field 4 */

  /* top field 3: channel subscription response */
  gboolean  has_subscription;
  GPtrArray *subscription_topics;  /* of char *: field 1 → 1 (repeated) → 1 */
  gboolean  has_subscription_id;
  guint64   subscription_id;       /* field 2 */
  gboolean  has_subscription_status;
  guint64   subscription_status;   /* field 3 */
  gboolean  has_retry_interval;
  guint64   retry_interval;        /* field 4 */

  /* top field 7: server-side acknowledgement */
  gboolean  has_server_ack;
  GBytes   *ack_topic;
  guint64   ack_id;
  guint64   ack_status;
} ICloudBridgeServerMessage;

/* Unknown fields are skipped; for a field given twice the last counts
 * (protobuf's rule for scalars). NULL with an error when malformed. */
ICloudBridgeServerMessage *icloud_bridge_server_message_parse (GBytes  *message,
                                                               GError **error);
void      icloud_bridge_server_message_free (ICloudBridgeServerMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ICloudBridgeServerMessage, icloud_bridge_server_message_free)

/* The fake server's side (also round-trips the vectors). */
GBytes   *icloud_bridge_encode_connection_response (const char *token_b64,
                                                    guint64     status,
                                                    gboolean    with_server_time,
                                                    guint64     server_time);
GBytes   *icloud_bridge_encode_push     (const guint8 *topic,
                                         gsize         topic_len,
                                         guint64       message_id,
                                         const guint8 *payload,
                                         gsize         payload_len);
GBytes   *icloud_bridge_encode_subscription_response (const char *topic,
                                                      const char *channel_id,
                                                      guint64     message_id,
                                                      guint64     status);

G_END_DECLS
