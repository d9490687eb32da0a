/* fuzz-session-file.c: the session file, `<base>.session.json`
 * (icloud-store.c, protocol §5): the input is written as the file of
 * jdoe@example.com, loaded by a new ICloudStore, saved, loaded again.
 *
 * Checks: load never fails on a file that is ours (a corrupt file is set
 * aside: then the file is gone, one `.corrupt-*` file holds the input, and
 * the state is empty); save never fails; what save wrote loads back to the
 * same state and is not written again.
 *
 * Every input runs in one private directory, emptied after each run. It is
 * under /dev/shm when that is there (the store fsyncs every write).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "icloud-store-private.h"
#include "fuzz-common.h"

#define APPLE_ID  "jdoe@example.com"

static char *fuzz_dir;
static char *file_name;   /* the store's name for APPLE_ID */

static void
empty_dir (void)
{
  g_autoptr(GDir) dir = g_dir_open (fuzz_dir, 0, NULL);
  const char *name;

  FUZZ_CHECK (dir != NULL);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (fuzz_dir, name, NULL);
      FUZZ_CHECK (g_unlink (path) == 0);
    }
}

static void
remove_dir (void)
{
  if (fuzz_dir == NULL)
    return;
  empty_dir ();
  g_rmdir (fuzz_dir);
  g_clear_pointer (&fuzz_dir, g_free);
}

static void
setup_dir (void)
{
  g_autofree char *template = NULL;

  if (fuzz_dir != NULL)
    return;
  if (g_file_test ("/dev/shm", G_FILE_TEST_IS_DIR) && access ("/dev/shm", W_OK) == 0)
    template = g_strdup ("/dev/shm/icloud-fuzz-store-XXXXXX");
  else
    template = g_build_filename (g_get_tmp_dir (), "icloud-fuzz-store-XXXXXX", NULL);
  fuzz_dir = g_mkdtemp_full (template, 0700) ? g_steal_pointer (&template) : NULL;
  FUZZ_CHECK (fuzz_dir != NULL);
  atexit (remove_dir);
}

static guint
count_corrupt (void)
{
  g_autoptr(GDir) dir = g_dir_open (fuzz_dir, 0, NULL);
  const char *name;
  guint n = 0;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, file_name) && strstr (name, ".corrupt-") != NULL)
      n++;
  return n;
}

/* Whether a cookie of the jar expires within a minute (then a save a
 * moment later may rightly drop it). */
static gboolean
cookie_expires_soon (ICloudStore *store)
{
  GSList *cookies = soup_cookie_jar_all_cookies (icloud_store_get_cookie_jar (store));
  gint64 soon = g_get_real_time () / G_USEC_PER_SEC + 60;
  gboolean found = FALSE;

  for (GSList *l = cookies; l != NULL; l = l->next)
    {
      GDateTime *expires = soup_cookie_get_expires (l->data);
      if (expires != NULL && g_date_time_to_unix (expires) <= soon)
        found = TRUE;
    }
  g_slist_free_full (cookies, (GDestroyNotify) soup_cookie_free);
  return found;
}

static guint
n_cookies (ICloudStore *store)
{
  GSList *cookies = soup_cookie_jar_all_cookies (icloud_store_get_cookie_jar (store));
  guint n = g_slist_length (cookies);

  g_slist_free_full (cookies, (GDestroyNotify) soup_cookie_free);
  return n;
}

static const char * const keys[] = {
  "client_id", "session_token", "trust_token", "scnt", "session_id",
  "account_country", "auth_attributes", "dsid", "",
};

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree char *path = NULL;
  g_autoptr(ICloudStore) store = NULL;
  g_autoptr(ICloudStore) again = NULL;
  g_autoptr(GError) error = NULL;
  gboolean kept, soon, reloaded;

  fuzz_init_once ();
  setup_dir ();
  if (file_name == NULL)
    {
      g_autofree char *base = icloud_store_account_name (APPLE_ID);
      file_name = g_strconcat (base, ".session.json", NULL);
    }
  path = g_build_filename (fuzz_dir, file_name, NULL);
  FUZZ_CHECK (g_file_set_contents_full (path, (const char *) data, size,
                                        G_FILE_SET_CONTENTS_NONE, 0600, NULL));

  /* 1. Load: a corrupt file is set aside, never an error. */
  store = icloud_store_new (fuzz_dir, APPLE_ID);
  FUZZ_CHECK (strcmp (icloud_store_get_path (store), path) == 0);
  if (!icloud_store_load (store, &error))
    {
      fprintf (stderr, "load failed: %s\n", error->message);
      abort ();
    }
  kept = g_file_test (path, G_FILE_TEST_EXISTS);
  if (kept)
    FUZZ_CHECK (count_corrupt () == 0);
  else
    {
      FUZZ_CHECK (count_corrupt () == 1);
      FUZZ_CHECK (n_cookies (store) == 0);
      for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
        FUZZ_CHECK (icloud_store_get (store, keys[i]) == NULL);
    }
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      const char *value = icloud_store_get (store, keys[i]);
      FUZZ_CHECK (value == NULL || (*keys[i] != '\0' && *value != '\0'));
      if (value != NULL)
        FUZZ_CHECK_UNLESS_OPEN (FUZZ_OPEN_BUG_UTF8_STRINGS, g_utf8_validate (value, -1, NULL));
    }

  /* 2. Save: the file is then what the store would write. */
  FUZZ_CHECK (icloud_store_save (store, NULL));
  FUZZ_CHECK (icloud_store_get_n_writes (store) <= 1);
  FUZZ_CHECK (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  soon = cookie_expires_soon (store);

  /* 3. What was saved loads back to the same state, and is not written
   * again. */
  again = icloud_store_new (fuzz_dir, APPLE_ID);
  FUZZ_CHECK (icloud_store_load (again, NULL));
  reloaded = g_file_test (path, G_FILE_TEST_IS_REGULAR);   /* not set aside */
  FUZZ_CHECK_UNLESS_OPEN (FUZZ_OPEN_BUG_UTF8_STRINGS, reloaded);
  if (reloaded)
    {
      for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
        FUZZ_CHECK (g_strcmp0 (icloud_store_get (store, keys[i]),
                               icloud_store_get (again, keys[i])) == 0);
      if (!soon)
        {
          FUZZ_CHECK (n_cookies (store) == n_cookies (again));
          FUZZ_CHECK (icloud_store_save (again, NULL));
          FUZZ_CHECK (icloud_store_get_n_writes (again) == 0);
        }
    }

  /* 4. What sign-out and logout do. */
  icloud_store_reset (again, TRUE);
  FUZZ_CHECK (icloud_store_get (again, "session_token") == NULL);
  FUZZ_CHECK (n_cookies (again) == 0);
  FUZZ_CHECK (icloud_store_save (again, NULL));
  FUZZ_CHECK (icloud_store_delete (again, NULL));
  FUZZ_CHECK (!g_file_test (path, G_FILE_TEST_EXISTS));

  g_clear_object (&store);
  g_clear_object (&again);
  empty_dir ();
  return 0;
}
