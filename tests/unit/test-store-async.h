/* test-store-async.h: running one asynchronous store operation to its end,
 * for the unit tests of the store and of its keyring backend.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "icloud-store-private.h"

typedef void     (*StartFunc)  (ICloudStore         *store,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data);
typedef gboolean (*FinishFunc) (ICloudStore   *store,
                                GAsyncResult  *result,
                                GError       **error);

static inline void
got_result (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* Starts one operation and runs the default main context until it ends.
 * The callback must not have run before the loop does. */
static inline gboolean
run_async (ICloudStore   *store,
           StartFunc      start,
           FinishFunc     finish,
           GCancellable  *cancellable,
           GError       **error)
{
  GAsyncResult *result = NULL;
  gboolean ok;

  start (store, cancellable, got_result, &result);
  g_assert_null (result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  ok = finish (store, result, error);
  g_object_unref (result);
  return ok;
}

#define RUN_ASYNC(store, op, cancellable, error) \
  run_async ((store), icloud_store_##op##_async, icloud_store_##op##_finish, \
             (cancellable), (error))
