/* test-async.h: the callback the harness tests give the asynchronous API
 * when they run the default main context themselves.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

/* Stores the result in *(GAsyncResult **) @user_data and wakes the
 * default main context up. */
static inline void
async_ready (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
  g_main_context_wakeup (NULL);
}
