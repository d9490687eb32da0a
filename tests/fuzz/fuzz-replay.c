/* fuzz-replay.c: runs a fuzz target's inputs once, as an ordinary test
 *
 *   fuzz-<name>-replay [--tap] DIR...
 *
 * Every regular file in each DIR (the seed corpus, tests/fuzz/corpus/<name>,
 * and the inputs of crashes found, tests/fuzz/regressions/<name>) is one
 * test case, given to LLVMFuzzerTestOneInput (); a crash or a failed check
 * aborts. Linked with the very target code the fuzzer uses, built by any
 * compiler, so that `meson test --suite fuzz` replays them with gcc too.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "fuzz-common.h"

static void
run_one (gconstpointer user_data)
{
  const char *path = user_data;
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  gsize length = 0;

  g_file_get_contents (path, &contents, &length, &error);
  g_assert_no_error (error);
  g_assert_cmpint (LLVMFuzzerTestOneInput ((const uint8_t *) contents, length), ==, 0);
}

static int
compare_paths (gconstpointer a,
               gconstpointer b,
               gpointer      user_data)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* The files of @directory, sorted; none if it does not exist. */
static void
add_files (GPtrArray  *paths,
           const char *directory)
{
  g_autoptr(GDir) dir = g_dir_open (directory, 0, NULL);
  const char *name;
  guint first = paths->len;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (directory, name, NULL);

      if (name[0] != '.' && g_file_test (path, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (paths, g_steal_pointer (&path));
    }
  g_qsort_with_data (paths->pdata + first, paths->len - first, sizeof (gpointer),
                     compare_paths, NULL);
}

static void
test_has_corpus (gconstpointer user_data)
{
  /* A target without seeds would test nothing. */
  g_assert_cmpuint (GPOINTER_TO_UINT (user_data), >, 0);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  guint n_corpus = 0;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  for (int i = 1; i < argc; i++)
    {
      add_files (paths, argv[i]);
      if (i == 1)
        n_corpus = paths->len;
    }

  g_test_add_data_func ("/fuzz/replay/has-corpus", GUINT_TO_POINTER (n_corpus), test_has_corpus);
  for (guint i = 0; i < paths->len; i++)
    {
      /* /fuzz/replay/corpus/<file> or /fuzz/replay/regressions/<file> */
      const char *path = g_ptr_array_index (paths, i);
      g_autofree char *parent = g_path_get_dirname (path);
      g_autofree char *grandparent = g_path_get_dirname (parent);
      g_autofree char *set = g_path_get_basename (grandparent);
      g_autofree char *base = g_path_get_basename (path);
      g_autofree char *test_path = g_strdup_printf ("/fuzz/replay/%s/%s", set, base);

      g_test_add_data_func (test_path, path, run_one);
    }

  return g_test_run ();
}
