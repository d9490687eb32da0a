/* fuzz-nested-json.c: nested and hostile JSON through every reader of the
 * library (issue 10): the depth bound itself, Apple's answers
 * (ICloudResponse, its error mapping and the account document), pyicloud's
 * `.session` file and our own session file (the keyring store reads its
 * secret with the same parser).
 *
 * Checks: no crash (a document 100,000 levels deep used to overflow the
 * stack inside json-glib); a document nested deeper than
 * ICLOUD_JSON_MAX_DEPTH is refused by every reader: no JSON in the
 * response, PROTOCOL from the pyicloud reader, the session file set aside;
 * whatever json-glib parses within the bound, icloud_json_parse () parses
 * too (the bound refuses nothing else but comments and single quotes).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "icloud-account-info-private.h"
#include "icloud-error.h"
#include "icloud-json-private.h"
#include "icloud-pyicloud-import-private.h"
#include "icloud-response-private.h"
#include "icloud-store-private.h"
#include "fuzz-common.h"

#define APPLE_ID "deep@example.com"

static char *fuzz_dir;
static char *session_path;

static void
remove_dir (void)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  if (fuzz_dir == NULL)
    return;
  dir = g_dir_open (fuzz_dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (fuzz_dir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (fuzz_dir);
  g_clear_pointer (&fuzz_dir, g_free);
}

static void
setup_dir (void)
{
  g_autofree char *base = NULL;
  char *template;

  if (fuzz_dir != NULL)
    return;
  template = g_build_filename (g_get_tmp_dir (), "icloud-fuzz-deep-XXXXXX", NULL);
  FUZZ_CHECK (g_mkdtemp_full (template, 0700) != NULL);
  fuzz_dir = template;
  base = icloud_store_account_name (APPLE_ID);
  session_path = g_strconcat (fuzz_dir, "/", base, ".session.json", NULL);
  atexit (remove_dir);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  const char *text = (const char *) data;
  ICloudJsonDepth depth = icloud_json_check_depth (text, size, ICLOUD_JSON_MAX_DEPTH);
  gboolean too_deep = FALSE;
  g_autoptr(JsonNode) node = NULL;

  fuzz_init_once ();
  setup_dir ();

  /* 1. The bound. */
  node = icloud_json_parse (text, size, &too_deep);
  FUZZ_CHECK (too_deep == (depth == ICLOUD_JSON_DEPTH_TOO_DEEP));
  if (depth != ICLOUD_JSON_DEPTH_OK)
    FUZZ_CHECK (node == NULL);
  else if (size > 0)
    {
      /* Within the bound, the same answer as json-glib's own. */
      g_autoptr(JsonParser) parser = json_parser_new_immutable ();
      gboolean parsed = json_parser_load_from_data (parser, text, size, NULL) &&
                        json_parser_get_root (parser) != NULL;

      FUZZ_CHECK (parsed == (node != NULL));
    }

  /* 2. An answer from Apple. */
  {
    g_autoptr(GBytes) body = fuzz_bytes (data, size);
    g_autoptr(ICloudResponse) response = icloud_response_new (400, NULL, body);
    g_autoptr(GError) error = NULL;
    g_auto(ICloudAccountInfo) info = { 0, };
    JsonNode *json = icloud_response_get_json (response);

    if (too_deep)
      FUZZ_CHECK (json == NULL);
    FUZZ_CHECK (!icloud_response_check (response, &error));
    FUZZ_CHECK (error != NULL && error->domain == ICLOUD_ERROR);
    /* Server text in the message: escaped, bounded. */
    for (const char *p = error->message; *p != '\0'; p++)
      FUZZ_CHECK (!g_ascii_iscntrl (*p));
    FUZZ_CHECK (strlen (error->message) < 1024);
    g_clear_error (&error);
    if (!icloud_account_info_parse (json, &info, &error))
      FUZZ_CHECK (g_error_matches (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL));
  }

  /* 3. pyicloud's session file. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GHashTable) session = icloud_pyicloud_parse_session ("fuzz.session", text, size, &error);

    if (too_deep)
      FUZZ_CHECK (session == NULL && g_error_matches (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL));
    FUZZ_CHECK ((session == NULL) == (error != NULL));
  }

  /* 4. Our session file: loads, or is set aside; never an error. */
  {
    g_autoptr(ICloudStore) store = NULL;
    g_autoptr(GError) error = NULL;

    FUZZ_CHECK (g_file_set_contents_full (session_path, text, size,
                                          G_FILE_SET_CONTENTS_NONE, 0600, NULL));
    store = icloud_store_new (fuzz_dir, APPLE_ID);
    FUZZ_CHECK (icloud_store_load (store, &error));
    FUZZ_CHECK (error == NULL);
    if (too_deep)
      FUZZ_CHECK (!g_file_test (session_path, G_FILE_TEST_EXISTS));
  }

  /* Keep the directory small: everything set aside goes. */
  {
    g_autoptr(GDir) dir = g_dir_open (fuzz_dir, 0, NULL);
    const char *name;

    while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *path = g_build_filename (fuzz_dir, name, NULL);
        g_unlink (path);
      }
  }

  return 0;
}
