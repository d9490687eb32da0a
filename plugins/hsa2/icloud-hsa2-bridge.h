/* icloud-hsa2-bridge.h: the HSA2 trusted-device bridge of one session
 * (hsa2-bridge.md §b, §c.6, §c.7, §e)
 *
 * A bridge owns the WebSocket to Apple's web-push service and the state of
 * one prompt (push token, flow id, salt, the last push's idmsdata and
 * akdata), in memory only. start runs the bootstrap up to the first push
 * (the prompt on the trusted devices); validate runs the SPAKE2+ rounds
 * with the code the user read there and posts the decrypted value. The
 * hsa2 method (icloud-hsa2-method.c) decides when to use one.
 *
 * Private to the hsa2 plugin.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <icloud-glib/icloud-plugin.h>

G_BEGIN_DECLS

/* The Origin of the push service's handshake: the sign-in widget's
 * (scheme and host of Apple's auth root, §c.1). */
#define ICLOUD_HSA2_BRIDGE_ORIGIN "https://idmsa.apple.com"

#define ICLOUD_TYPE_HSA2_BRIDGE (icloud_hsa2_bridge_get_type ())
G_DECLARE_FINAL_TYPE (ICloudHsa2Bridge, icloud_hsa2_bridge, ICLOUD, HSA2_BRIDGE, GObject)

void              icloud_hsa2_bridge_register        (GTypeModule         *module);

/* @host: the WebSocket host (§c.1); @topic: apnsTopic; @app_id: the
 * sourceAppId sent as X-Apple-App-Id, or NULL. */
ICloudHsa2Bridge *icloud_hsa2_bridge_new             (ICloudAuthContext   *context,
                                                      const char          *host,
                                                      const char          *topic,
                                                      const char          *app_id);

/* §c.6: key, nonce, connection (one INVALID_NONCE retry), token, topic
 * filter, bridge/step/0, the first push. On failure the socket is closed. */
void              icloud_hsa2_bridge_start_async     (ICloudHsa2Bridge    *self,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
gboolean          icloud_hsa2_bridge_start_finish    (ICloudHsa2Bridge    *self,
                                                      GAsyncResult        *result,
                                                      GError             **error);

/* The prompt's txnid ends in _W: the code goes to the legacy endpoint (§e). */
gboolean          icloud_hsa2_bridge_is_legacy       (ICloudHsa2Bridge    *self);

/* §c.7: B2, P2, B4, P3, decrypt, BV, BF. A wrong code is
 * ICLOUD_ERROR_INVALID_CODE: after a confirmation mismatch the bridge
 * stays open for another try; after BV's 412 it is closed. Any other
 * failure closes it. @session_token: Apple's session token of BV. */
void              icloud_hsa2_bridge_validate_async  (ICloudHsa2Bridge    *self,
                                                      const char          *code,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
gboolean          icloud_hsa2_bridge_validate_finish (ICloudHsa2Bridge    *self,
                                                      GAsyncResult        *result,
                                                      char               **session_token,
                                                      GError             **error);

/* Whether the socket is still open (neither side closed it). */
gboolean          icloud_hsa2_bridge_is_open         (ICloudHsa2Bridge    *self);
/* Closes the socket and forgets the prompt; nothing is sent to Apple. */
void              icloud_hsa2_bridge_close           (ICloudHsa2Bridge    *self);

G_END_DECLS
