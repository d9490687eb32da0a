/* test-cancel.c: the cancellation sweep (issue 6, part 3) — being written.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <icloud-glib/icloud-glib.h>

#include "icloud-mock-server.h"

static void
test_placeholder (void)
{
  g_test_skip ("being written");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/cancel/placeholder", test_placeholder);
  return g_test_run ();
}
