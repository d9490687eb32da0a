/* test-names.h: the names of the library's files for an Apple ID, made here
 * with GLib alone for the tests that see only the public library. The same
 * rule as icloud_store_account_name () (libicloud-glib/icloud-store.c):
 *
 *   folded = casefold (normalize (apple_id, G_NORMALIZE_DEFAULT))
 *   <stem>-<the first 16 hex digits of SHA-256 of folded>
 *
 * where the stem is what pyicloud keeps of the folded ID (letters, digits
 * and '_'), cut to 64 bytes. IDs with no letter or digit at all are not
 * covered.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

static inline char *
test_account_name (const char *apple_id)
{
  g_autofree char *normal = g_utf8_normalize (apple_id, -1, G_NORMALIZE_DEFAULT);
  g_autofree char *folded = g_utf8_casefold (normal, -1);
  g_autofree char *sum = g_compute_checksum_for_string (G_CHECKSUM_SHA256, folded, -1);
  g_autoptr(GString) stem = g_string_new (NULL);

  for (const char *p = folded; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_isalnum (c) || c == '_')
        {
          if (stem->len + g_unichar_to_utf8 (c, NULL) > 64)
            break;
          g_string_append_unichar (stem, c);
        }
    }
  g_assert_cmpuint (stem->len, >, 0);

  return g_strdup_printf ("%s-%.16s", stem->str, sum);
}

/* <dir>/<account name><suffix>: suffix ".session.json" or ".lock". */
static inline char *
test_account_file (const char *dir,
                   const char *apple_id,
                   const char *suffix)
{
  g_autofree char *base = test_account_name (apple_id);
  g_autofree char *name = g_strconcat (base, suffix, NULL);

  return g_build_filename (dir, name, NULL);
}
