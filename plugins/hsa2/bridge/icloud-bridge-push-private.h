/* icloud-bridge-push-private.h: the JSON payload of a bridge push
 * (hsa2-bridge.md §c.5), read through the library's safe JSON reader
 * (icloud_json_parse: depth ≤ 64, UTF-8 checked).
 *
 * The payload is parsed as JSON; if it is not a JSON object, the first
 * '{' that starts a balanced object (string- and escape-aware) that parses
 * is taken, trying each later '{' in turn — at most
 * ICLOUD_BRIDGE_PUSH_MAX_CANDIDATES of them, so that hostile input stays
 * linear. Keys are typed strictly: a present key of the wrong type, or a
 * blank string where the protocol wants text, is an error; JSON null is
 * taken as absent. Errors: G_IO_ERROR_INVALID_DATA.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define ICLOUD_BRIDGE_PUSH_MAX_LEN         (64 * 1024)
#define ICLOUD_BRIDGE_PUSH_MAX_CANDIDATES  32

typedef struct {
  char     *session_uuid;   /* old protocol: the echo of S0; wins over flowid */
  char     *flowid;         /* since May 2026 (pyicloud issue #232) */
  char     *next_step;      /* "2", "4", "6" (an integer is kept as its text) */
  char     *salt;           /* base64 */
  char     *data;           /* the step-4 payload */
  char     *encrypted_code;
  gboolean  has_ec;
  gint64    ec;
  char     *txnid;
  char     *idmsdata;
  JsonNode *akdata;         /* any JSON value, or NULL */
  char     *akdata_text;    /* what the next POST echoes: a string as it
                             * is, any other value as its JSON text taken
                             * from the payload, white space outside
                             * strings dropped (numbers keep their digits,
                             * §h item 8); NULL when akdata is absent */
  char     *mid;
  char     *rui_url_key;
} ICloudBridgePush;

ICloudBridgePush *icloud_bridge_push_parse   (const guint8           *payload,
                                              gsize                   len,
                                              GError                **error);
/* sessionUUID, else flowid (never NULL: a push without either is refused). */
const char       *icloud_bridge_push_get_id  (const ICloudBridgePush *push);
/* txnid ends with "_W": the legacy trusted-device verifier (§e). */
gboolean          icloud_bridge_push_is_legacy (const ICloudBridgePush *push);
/* `ec` present and not 0. */
gboolean          icloud_bridge_push_is_error  (const ICloudBridgePush *push);
void              icloud_bridge_push_free    (ICloudBridgePush       *push);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ICloudBridgePush, icloud_bridge_push_free)

G_END_DECLS
