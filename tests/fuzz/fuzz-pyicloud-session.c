/* fuzz-pyicloud-session.c: pyicloud's `<base>.session` (a flat JSON object
 * of strings, protocol §5.2) as icloud_session_import_pyicloud () reads it.
 *
 * Checks: no crash; a refused file is ICLOUD_ERROR_PROTOCOL and its
 * message never quotes the content; an accepted one holds a session or a
 * trust token and only non-empty UTF-8 strings (what the store takes).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "icloud-pyicloud-import-private.h"
#include "icloud-error.h"
#include "fuzz-common.h"

#define PATH "/nonexistent/jdoeexamplecom.session"

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GHashTable) table = NULL;
  g_autoptr(GError) error = NULL;
  GHashTableIter iter;
  gpointer key, value;

  fuzz_init_once ();

  table = icloud_pyicloud_parse_session (PATH, (const char *) data, size, &error);
  if (table == NULL)
    {
      FUZZ_CHECK (g_error_matches (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL));
      FUZZ_CHECK (g_str_has_prefix (error->message, PATH " "));
      FUZZ_CHECK (g_utf8_validate (error->message, -1, NULL));
      return 0;
    }

  FUZZ_CHECK (error == NULL);
  FUZZ_CHECK (g_hash_table_contains (table, "session_token") ||
              g_hash_table_contains (table, "trust_token"));
  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      FUZZ_CHECK (key != NULL && *(const char *) key != '\0');
      FUZZ_CHECK (value != NULL && *(const char *) value != '\0');
      /* icloud_store_set () takes UTF-8 only. */
      FUZZ_CHECK_UNLESS_OPEN (FUZZ_OPEN_BUG_UTF8_STRINGS, g_utf8_validate (value, -1, NULL));
    }
  return 0;
}
