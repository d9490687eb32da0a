/* icloud-mock-server.h: a faithful fake iCloud server for tests and demos.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib-object.h>
#include <gio/gio.h>
#ifndef __GI_SCANNER__
#include <libsoup/soup.h>
#endif

G_BEGIN_DECLS

/**
 * ICLOUD_MOCK_AVAILABLE_IN_ALL:
 *
 * Marks a symbol of the fake server's library as exported (the library is
 * built with hidden visibility).
 */
#if defined(__GNUC__) || defined(__clang__)
#define ICLOUD_MOCK_AVAILABLE_IN_ALL __attribute__((visibility ("default"))) extern
#else
#define ICLOUD_MOCK_AVAILABLE_IN_ALL extern
#endif

#define ICLOUD_MOCK_TYPE_SERVER (icloud_mock_server_get_type ())

ICLOUD_MOCK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (ICloudMockServer, icloud_mock_server, ICLOUD_MOCK, SERVER, GObject)

/**
 * ICLOUD_MOCK_FAULT_503:
 *
 * Fault name: answer `503 Service Temporarily Unavailable` (text/html) with
 * a `Retry-After` header when a retry-after was given.
 */
#define ICLOUD_MOCK_FAULT_503 "503"
/**
 * ICLOUD_MOCK_FAULT_429:
 *
 * Fault name: answer `429 Too Many Requests` with `Retry-After`.
 */
#define ICLOUD_MOCK_FAULT_429 "429"
/**
 * ICLOUD_MOCK_FAULT_421:
 *
 * Fault name: answer `421` with a JSON error body.
 */
#define ICLOUD_MOCK_FAULT_421 "421"
/**
 * ICLOUD_MOCK_FAULT_450:
 *
 * Fault name: answer `450` with a JSON error body.
 */
#define ICLOUD_MOCK_FAULT_450 "450"
/**
 * ICLOUD_MOCK_FAULT_500:
 *
 * Fault name: answer `500` with a JSON error body.
 */
#define ICLOUD_MOCK_FAULT_500 "500"
/**
 * ICLOUD_MOCK_FAULT_ACCESS_DENIED:
 *
 * Fault name: answer `403` with `{"errorCode": "ACCESS_DENIED", ...}`.
 */
#define ICLOUD_MOCK_FAULT_ACCESS_DENIED "access-denied"
/**
 * ICLOUD_MOCK_FAULT_MALFORMED:
 *
 * Fault name: answer `200` with a body that is not JSON at all.
 */
#define ICLOUD_MOCK_FAULT_MALFORMED "malformed"
/**
 * ICLOUD_MOCK_FAULT_TRUNCATED:
 *
 * Fault name: answer `200` with a JSON document cut in the middle.
 */
#define ICLOUD_MOCK_FAULT_TRUNCATED "truncated"
/**
 * ICLOUD_MOCK_FAULT_WRONG_CONTENT_TYPE:
 *
 * Fault name: answer `200` with `text/plain` "hello".
 */
#define ICLOUD_MOCK_FAULT_WRONG_CONTENT_TYPE "wrong-content-type"
/**
 * ICLOUD_MOCK_FAULT_MISSING_FIELDS:
 *
 * Fault name: answer `200` with the empty JSON object.
 */
#define ICLOUD_MOCK_FAULT_MISSING_FIELDS "missing-fields"
/**
 * ICLOUD_MOCK_FAULT_OVERSIZE:
 *
 * Fault name: answer `200` with a 16 MiB body.
 */
#define ICLOUD_MOCK_FAULT_OVERSIZE "oversize"
/**
 * ICLOUD_MOCK_FAULT_DROP:
 *
 * Fault name: close the connection without answering.
 */
#define ICLOUD_MOCK_FAULT_DROP "drop"
/**
 * ICLOUD_MOCK_FAULT_SLOW:
 *
 * Fault name: give the normal answer, but only after the fault's delay.
 */
#define ICLOUD_MOCK_FAULT_SLOW "slow"

/**
 * ICLOUD_MOCK_FAULT_REDIRECT:
 *
 * Fault name: answer `302 Found` with a `Location` on another origin (see
 * [method@ICloudMock.Server.set_redirect_target]), the way a hostile server
 * or proxy would try to carry a client's cookies and body elsewhere.
 */
#define ICLOUD_MOCK_FAULT_REDIRECT "redirect"
/**
 * ICLOUD_MOCK_FAULT_DEEP_JSON:
 *
 * Fault name: answer `200` with a JSON array nested 100,000 levels deep
 * (200 KB), which overflows the stack of a recursive parser.
 */
#define ICLOUD_MOCK_FAULT_DEEP_JSON "deep-json"
/**
 * ICLOUD_MOCK_FAULT_HOSTILE_TEXT:
 *
 * Fault name: answer `400` with a `serviceErrors` code and message made of
 * terminal escape sequences, newlines and 500 KB of text.
 */
#define ICLOUD_MOCK_FAULT_HOSTILE_TEXT "hostile-text"

/**
 * ICLOUD_MOCK_FAULT_INVALID_NONCE:
 *
 * Fault name for the push service (path `/v2`): answer the next connection
 * messages with INVALID_NONCE (`{1: {2: 2, 3: now}}`) even when their
 * nonce is within the server's window; the client must retry with exactly
 * `now × 1000` ms.
 */
#define ICLOUD_MOCK_FAULT_INVALID_NONCE "invalid-nonce"
/**
 * ICLOUD_MOCK_FAULT_WS_CLOSE_AT_TOKEN:
 *
 * Fault name for the push service (path `/v2`): close the WebSocket
 * instead of sending the push token.
 */
#define ICLOUD_MOCK_FAULT_WS_CLOSE_AT_TOKEN "ws-close-at-token"
/**
 * ICLOUD_MOCK_FAULT_WS_CLOSE_AT_SUBSCRIBE:
 *
 * Fault name for the push service (path `/v2`): close the WebSocket
 * instead of answering the topic filter with the subscription response.
 */
#define ICLOUD_MOCK_FAULT_WS_CLOSE_AT_SUBSCRIBE "ws-close-at-subscribe"
/**
 * ICLOUD_MOCK_FAULT_WS_CLOSE_AT_PROMPT:
 *
 * Fault name for the push service (path `/v2`): close the WebSocket right
 * after the client acknowledged the first push (P1), that is while the user
 * reads the code on the trusted device.
 */
#define ICLOUD_MOCK_FAULT_WS_CLOSE_AT_PROMPT "ws-close-at-prompt"
/**
 * ICLOUD_MOCK_FAULT_WS_CLOSE_AT_STEP4:
 *
 * Fault name for the push service (path `/v2`): answer `bridge/step/2`
 * with 200 but close the WebSocket instead of pushing the verifier's share
 * (P2).
 */
#define ICLOUD_MOCK_FAULT_WS_CLOSE_AT_STEP4 "ws-close-at-step4"
/**
 * ICLOUD_MOCK_FAULT_WS_CLOSE_AT_FINAL:
 *
 * Fault name for the push service (path `/v2`): answer `bridge/step/4`
 * with 200 but close the WebSocket instead of pushing the encrypted code
 * (P3).
 */
#define ICLOUD_MOCK_FAULT_WS_CLOSE_AT_FINAL "ws-close-at-final"
/**
 * ICLOUD_MOCK_FAULT_WS_SILENT:
 *
 * Fault name for the push service (path `/v2`): never push the prompt (P1)
 * after `bridge/step/0`; the client has to time out.
 */
#define ICLOUD_MOCK_FAULT_WS_SILENT "ws-silent"
/**
 * ICLOUD_MOCK_FAULT_WS_PING:
 *
 * Fault name for the push service (path `/v2`): ping the connection every
 * second (libsoup's keepalive) from the push token on; the pongs are
 * counted in `GET /_mock/push`.
 */
#define ICLOUD_MOCK_FAULT_WS_PING "ws-ping"
/**
 * ICLOUD_MOCK_FAULT_WS_NOISY:
 *
 * Fault name for the push service (path `/v2`): wrap every push's JSON in
 * binary noise (`12 a8 07 00` + JSON + `18 00 01`, hsa2-bridge.md §c.5).
 */
#define ICLOUD_MOCK_FAULT_WS_NOISY "ws-noisy"
/**
 * ICLOUD_MOCK_FAULT_WS_OTHER_TOPIC:
 *
 * Fault name for the push service (path `/v2`): send a push on another
 * topic (`com.apple.icloud.other`) before the prompt (P1).
 */
#define ICLOUD_MOCK_FAULT_WS_OTHER_TOPIC "ws-other-topic"
/**
 * ICLOUD_MOCK_FAULT_WS_ERROR_PUSH:
 *
 * Fault name for the push service (path `/v2`): answer `bridge/step/2`
 * with an error push (`{"ec": 7, "nextStep": "4", …}`) instead of P2.
 */
#define ICLOUD_MOCK_FAULT_WS_ERROR_PUSH "ws-error-push"

ICLOUD_MOCK_AVAILABLE_IN_ALL
ICloudMockServer *icloud_mock_server_new                   (void);

ICLOUD_MOCK_AVAILABLE_IN_ALL
gboolean          icloud_mock_server_load_accounts         (ICloudMockServer *self,
                                                            const char       *path,
                                                            GError          **error);
ICLOUD_MOCK_AVAILABLE_IN_ALL
gboolean          icloud_mock_server_load_accounts_from_data (ICloudMockServer *self,
                                                            const char       *json,
                                                            gssize            length,
                                                            GError          **error);
ICLOUD_MOCK_AVAILABLE_IN_ALL
guint             icloud_mock_server_get_n_accounts        (ICloudMockServer *self);

ICLOUD_MOCK_AVAILABLE_IN_ALL
void              icloud_mock_server_set_region            (ICloudMockServer *self,
                                                            const char       *region);
ICLOUD_MOCK_AVAILABLE_IN_ALL
const char       *icloud_mock_server_get_region            (ICloudMockServer *self);
ICLOUD_MOCK_AVAILABLE_IN_ALL
void              icloud_mock_server_set_port              (ICloudMockServer *self,
                                                            guint             port);

ICLOUD_MOCK_AVAILABLE_IN_ALL
gboolean          icloud_mock_server_start                 (ICloudMockServer *self,
                                                            GError          **error);
ICLOUD_MOCK_AVAILABLE_IN_ALL
void              icloud_mock_server_stop                  (ICloudMockServer *self);
ICLOUD_MOCK_AVAILABLE_IN_ALL
gboolean          icloud_mock_server_is_running            (ICloudMockServer *self);
ICLOUD_MOCK_AVAILABLE_IN_ALL
const char       *icloud_mock_server_get_base_uri          (ICloudMockServer *self);
ICLOUD_MOCK_AVAILABLE_IN_ALL
guint             icloud_mock_server_get_port              (ICloudMockServer *self);

ICLOUD_MOCK_AVAILABLE_IN_ALL
guint             icloud_mock_server_count_requests        (ICloudMockServer *self,
                                                            const char       *apple_id,
                                                            const char       *path);
ICLOUD_MOCK_AVAILABLE_IN_ALL
char             *icloud_mock_server_dup_request_log       (ICloudMockServer *self);
ICLOUD_MOCK_AVAILABLE_IN_ALL
void              icloud_mock_server_clear_request_log     (ICloudMockServer *self);

ICLOUD_MOCK_AVAILABLE_IN_ALL
char             *icloud_mock_server_dup_last_code         (ICloudMockServer *self,
                                                            const char       *apple_id,
                                                            const char       *target_id);
ICLOUD_MOCK_AVAILABLE_IN_ALL
guint             icloud_mock_server_count_codes_sent      (ICloudMockServer *self,
                                                            const char       *apple_id,
                                                            const char       *target_id);

ICLOUD_MOCK_AVAILABLE_IN_ALL
void              icloud_mock_server_inject_fault          (ICloudMockServer *self,
                                                            const char       *path,
                                                            const char       *fault,
                                                            guint             count,
                                                            guint             retry_after);
ICLOUD_MOCK_AVAILABLE_IN_ALL
void              icloud_mock_server_inject_fault_full     (ICloudMockServer *self,
                                                            const char       *path,
                                                            const char       *fault,
                                                            guint             count,
                                                            guint             retry_after,
                                                            guint             delay_ms);
ICLOUD_MOCK_AVAILABLE_IN_ALL
void              icloud_mock_server_inject_reply          (ICloudMockServer *self,
                                                            const char       *path,
                                                            guint             status,
                                                            const char       *body,
                                                            guint             count);
ICLOUD_MOCK_AVAILABLE_IN_ALL
void              icloud_mock_server_clear_faults          (ICloudMockServer *self);
ICLOUD_MOCK_AVAILABLE_IN_ALL
void              icloud_mock_server_set_redirect_target   (ICloudMockServer *self,
                                                            const char       *uri);

ICLOUD_MOCK_AVAILABLE_IN_ALL
void              icloud_mock_server_revoke_trust          (ICloudMockServer *self,
                                                            const char       *apple_id);
ICLOUD_MOCK_AVAILABLE_IN_ALL
void              icloud_mock_server_expire_sessions       (ICloudMockServer *self,
                                                            const char       *apple_id);
ICLOUD_MOCK_AVAILABLE_IN_ALL
guint             icloud_mock_server_get_isolation_violations (ICloudMockServer *self);
ICLOUD_MOCK_AVAILABLE_IN_ALL
guint             icloud_mock_server_get_n_push_connections (ICloudMockServer *self);

/* routed TLS mode: Apple's real host names */
ICLOUD_MOCK_AVAILABLE_IN_ALL
gboolean          icloud_mock_server_set_routed            (ICloudMockServer *self,
                                                            const char       *certificate_file,
                                                            const char       *key_file,
                                                            GError          **error);
ICLOUD_MOCK_AVAILABLE_IN_ALL
gboolean          icloud_mock_server_get_routed            (ICloudMockServer *self);
ICLOUD_MOCK_AVAILABLE_IN_ALL
GTlsDatabase     *icloud_mock_server_create_tls_database   (ICloudMockServer *self,
                                                            GError          **error);
ICLOUD_MOCK_AVAILABLE_IN_ALL
GSocketConnectable *icloud_mock_server_create_connectable  (ICloudMockServer *self);
#ifndef __GI_SCANNER__
/* C only: the GIR of ICloudMock does not depend on libsoup. */
ICLOUD_MOCK_AVAILABLE_IN_ALL
SoupSession      *icloud_mock_server_create_soup_session   (ICloudMockServer *self,
                                                            GError          **error);
#endif

G_END_DECLS
