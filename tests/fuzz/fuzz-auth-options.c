/* fuzz-auth-options.c: the hsa2 method's auth-options parser (GET AUTH,
 * protocol §1.2 step 6): the JSON document and Apple's HTML page with the
 * boot args (plugins/hsa2/icloud-hsa2-options.c, the plugin's own code).
 *
 * Checks: no crash; the two entries (parse the body here, or take the JSON
 * ICloudResponse parsed) agree; what was read is well formed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#include <icloud-glib/icloud-glib.h>

#include "icloud-hsa2-options.h"
#include "icloud-response-private.h"
#include "fuzz-common.h"

static void
check_options (ICloudHsa2Options *options)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (options->phones));

  if (!options->parsed)
    {
      FUZZ_CHECK (n == 0);
      FUZZ_CHECK (options->security_keys == NULL);
      return;
    }

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(ICloudTrustedPhone) phone = g_list_model_get_item (G_LIST_MODEL (options->phones), i);
      const char *id = icloud_trusted_phone_get_id (phone);

      const char *number = icloud_trusted_phone_get_obfuscated_number (phone);
      const char *mode = icloud_trusted_phone_get_push_mode (phone);

      FUZZ_CHECK (id != NULL && *id != '\0');
      FUZZ_CHECK (g_utf8_validate (id, -1, NULL));
      FUZZ_CHECK (number == NULL || g_utf8_validate (number, -1, NULL));
      FUZZ_CHECK (mode == NULL || g_utf8_validate (mode, -1, NULL));

      /* No two phones with one id. */
      for (guint j = 0; j < i; j++)
        {
          g_autoptr(ICloudTrustedPhone) other = g_list_model_get_item (G_LIST_MODEL (options->phones), j);
          FUZZ_CHECK (strcmp (icloud_trusted_phone_get_id (other), id) != 0);
        }
    }

  /* The names go into the saved session and into an error message. */
  if (options->security_keys != NULL)
    {
      FUZZ_CHECK (*options->security_keys != '\0');
      FUZZ_CHECK (g_utf8_validate (options->security_keys, -1, NULL));
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GBytes) body = NULL;
  g_autoptr(ICloudResponse) response = NULL;
  g_autoptr(ICloudHsa2Options) direct = NULL;
  g_autoptr(ICloudHsa2Options) via_response = NULL;

  fuzz_init_once ();
  body = fuzz_bytes (data, size);

  direct = icloud_hsa2_options_parse (body);
  check_options (direct);

  /* What the plugin does with the answer. */
  response = icloud_response_new (200, NULL, body);
  via_response = icloud_hsa2_options_parse_document (icloud_response_get_body (response),
                                                     icloud_response_get_json (response));
  check_options (via_response);

  FUZZ_CHECK (direct->parsed == via_response->parsed);
  FUZZ_CHECK (g_list_model_get_n_items (G_LIST_MODEL (direct->phones)) ==
              g_list_model_get_n_items (G_LIST_MODEL (via_response->phones)));
  FUZZ_CHECK (g_strcmp0 (direct->security_keys, via_response->security_keys) == 0);

  return 0;
}
