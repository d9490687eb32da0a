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

#define ICLOUD_MOCK_TYPE_SERVER (icloud_mock_server_get_type ())

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

ICloudMockServer *icloud_mock_server_new                   (void);

gboolean          icloud_mock_server_load_accounts         (ICloudMockServer *self,
                                                            const char       *path,
                                                            GError          **error);
gboolean          icloud_mock_server_load_accounts_from_data (ICloudMockServer *self,
                                                            const char       *json,
                                                            gssize            length,
                                                            GError          **error);
guint             icloud_mock_server_get_n_accounts        (ICloudMockServer *self);

void              icloud_mock_server_set_region            (ICloudMockServer *self,
                                                            const char       *region);
const char       *icloud_mock_server_get_region            (ICloudMockServer *self);
void              icloud_mock_server_set_port              (ICloudMockServer *self,
                                                            guint             port);

gboolean          icloud_mock_server_start                 (ICloudMockServer *self,
                                                            GError          **error);
void              icloud_mock_server_stop                  (ICloudMockServer *self);
gboolean          icloud_mock_server_is_running            (ICloudMockServer *self);
const char       *icloud_mock_server_get_base_uri          (ICloudMockServer *self);
guint             icloud_mock_server_get_port              (ICloudMockServer *self);

guint             icloud_mock_server_count_requests        (ICloudMockServer *self,
                                                            const char       *apple_id,
                                                            const char       *path);
char             *icloud_mock_server_dup_request_log       (ICloudMockServer *self);
void              icloud_mock_server_clear_request_log     (ICloudMockServer *self);

char             *icloud_mock_server_dup_last_code         (ICloudMockServer *self,
                                                            const char       *apple_id,
                                                            const char       *target_id);
guint             icloud_mock_server_count_codes_sent      (ICloudMockServer *self,
                                                            const char       *apple_id,
                                                            const char       *target_id);

void              icloud_mock_server_inject_fault          (ICloudMockServer *self,
                                                            const char       *path,
                                                            const char       *fault,
                                                            guint             count,
                                                            guint             retry_after);
void              icloud_mock_server_inject_fault_full     (ICloudMockServer *self,
                                                            const char       *path,
                                                            const char       *fault,
                                                            guint             count,
                                                            guint             retry_after,
                                                            guint             delay_ms);
void              icloud_mock_server_clear_faults          (ICloudMockServer *self);
void              icloud_mock_server_set_redirect_target   (ICloudMockServer *self,
                                                            const char       *uri);

void              icloud_mock_server_revoke_trust          (ICloudMockServer *self,
                                                            const char       *apple_id);
void              icloud_mock_server_expire_sessions       (ICloudMockServer *self,
                                                            const char       *apple_id);
guint             icloud_mock_server_get_isolation_violations (ICloudMockServer *self);

/* routed TLS mode: Apple's real host names */
gboolean          icloud_mock_server_set_routed            (ICloudMockServer *self,
                                                            const char       *certificate_file,
                                                            const char       *key_file,
                                                            GError          **error);
gboolean          icloud_mock_server_get_routed            (ICloudMockServer *self);
GTlsDatabase     *icloud_mock_server_create_tls_database   (ICloudMockServer *self,
                                                            GError          **error);
GSocketConnectable *icloud_mock_server_create_connectable  (ICloudMockServer *self);
#ifndef __GI_SCANNER__
/* C only: the GIR of ICloudMock does not depend on libsoup. */
SoupSession      *icloud_mock_server_create_soup_session   (ICloudMockServer *self,
                                                            GError          **error);
#endif

G_END_DECLS
