/* icloud-hsa2-options.h: reading Apple's two-factor auth options
 * (protocol §1.2 step 6; what-users-hit §2, §13)
 *
 * The parser of the `hsa2` method's GET AUTH answer, on its own so that the
 * fuzzer (tests/fuzz/fuzz-auth-options.c) runs the very code the plugin
 * runs. Private to the plugin and the tests; not installed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Bodies larger than this are not parsed as JSON (as ICloudResponse does:
 * ICLOUD_RESPONSE_MAX_BODY). */
#define ICLOUD_HSA2_OPTIONS_MAX_JSON (1024 * 1024)

/* What one read of the options gave. */
typedef struct {
  gboolean    parsed;         /* a JSON document was found */
  GListStore *phones;         /* of ICloudTrustedPhone, never NULL */
  char       *security_keys;  /* key names joined by ", ", or NULL if none */
  /* The trusted-device bridge (hsa2-bridge.md §a.1–a.2): offered when the
   * initial route is "auth/bridge/step", hasTrustedDevices is true and
   * bridgeInitiateData is a non-empty object. */
  gboolean    bridge;
  char       *bridge_topic;   /* apnsTopic, or NULL */
  char       *bridge_host;    /* the WebSocket host (§c.1), or NULL */
  char       *source_app_id;  /* sourceAppId as text, or NULL */
} ICloudHsa2Options;

/* The options in a body (the plain JSON document, or Apple's HTML page with
 * the boot args). @json is the body already parsed as JSON
 * (icloud_response_get_json ()), NULL when it is not JSON: the body decides,
 * whatever the content type. Never fails: @parsed says whether a document
 * was found. */
ICloudHsa2Options *icloud_hsa2_options_parse_document (GBytes   *body,
                                                       JsonNode *json);

/* Same, parsing @body as JSON first the way ICloudResponse does (empty or
 * larger than ICLOUD_HSA2_OPTIONS_MAX_JSON: not JSON). */
ICloudHsa2Options *icloud_hsa2_options_parse          (GBytes   *body);

void               icloud_hsa2_options_free           (ICloudHsa2Options *options);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ICloudHsa2Options, icloud_hsa2_options_free)

G_END_DECLS
