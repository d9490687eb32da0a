/* fuzz-account-info.c: Apple's account document, the answer of
 * accountLogin and validate (protocol §5.5), as the session reads it:
 * the body through ICloudResponse's JSON, then icloud_account_info_parse ().
 *
 * Checks: no crash; a parsed document gives one of the three states; a
 * refused one gives ICLOUD_ERROR_PROTOCOL and clears the output.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "icloud-account-info-private.h"
#include "icloud-response-private.h"
#include "icloud-error.h"
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GBytes) body = NULL;
  g_autoptr(ICloudResponse) response = NULL;
  g_auto(ICloudAccountInfo) info = { 0, };
  g_autoptr(GError) error = NULL;
  JsonNode *json;

  fuzz_init_once ();
  body = fuzz_bytes (data, size);
  response = icloud_response_new (200, NULL, body);
  json = icloud_response_get_json (response);

  if (icloud_account_info_parse (json, &info, &error))
    {
      FUZZ_CHECK (error == NULL);
      FUZZ_CHECK (info.state == ICLOUD_AUTH_STATE_AUTHENTICATED ||
                  info.state == ICLOUD_AUTH_STATE_NEEDS_2FA ||
                  info.state == ICLOUD_AUTH_STATE_NEEDS_2SA);
      if (info.dsid != NULL)
        FUZZ_CHECK_UNLESS_OPEN (FUZZ_OPEN_BUG_UTF8_STRINGS, g_utf8_validate (info.dsid, -1, NULL));
      if (info.name != NULL)
        FUZZ_CHECK_UNLESS_OPEN (FUZZ_OPEN_BUG_UTF8_STRINGS, g_utf8_validate (info.name, -1, NULL));
      /* Trusted and no challenge asked: signed in. */
      if (info.trusted && info.state != ICLOUD_AUTH_STATE_AUTHENTICATED)
        {
          JsonNode *challenge = json_object_get_member (json_node_get_object (json),
                                                        "hsaChallengeRequired");

          FUZZ_CHECK (challenge != NULL && JSON_NODE_HOLDS_VALUE (challenge) &&
                      json_node_get_value_type (challenge) == G_TYPE_BOOLEAN &&
                      json_node_get_boolean (challenge));
        }
    }
  else
    {
      FUZZ_CHECK (g_error_matches (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL));
      FUZZ_CHECK (info.dsid == NULL && info.name == NULL);
    }

  /* The session also asks, without an error, whether it is trusted. */
  {
    g_auto(ICloudAccountInfo) again = { 0, };
    gboolean ok = icloud_account_info_parse (json, &again, NULL);

    FUZZ_CHECK (ok == (error == NULL));
    FUZZ_CHECK (again.trusted == info.trusted && again.state == info.state);
  }

  return 0;
}
