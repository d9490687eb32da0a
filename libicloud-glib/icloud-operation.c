/* icloud-operation.c: how a session runs an operation: one at a time, the
 * account's lock taken and the saved session loaded before it (in the
 * store's worker), what it learnt saved and the lock released after; and
 * the private main context of the blocking twins (libsecret's way).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "icloud-account-info-private.h"
#include "icloud-crypto-private.h"
#include "icloud-enum-types.h"
#include "icloud-error.h"
#include "icloud-error-private.h"
#include "icloud-plugin-loader-private.h"
#include "icloud-request-private.h"
#include "icloud-response-private.h"
#include "icloud-session-private.h"
#include "icloud-json-private.h"
#include "icloud-text-private.h"

/* ------------------------------------------------------------------------ */
/* Blocking twins: the async code on a private main context (libsecret's way) */



void
icloud_session_sync_data_init (SyncData      *data,
                ICloudSession *session)
{
  data->context = g_main_context_new ();
  data->result = NULL;
  data->session = session;
  g_main_context_push_thread_default (data->context);
}

void
icloud_session_sync_ready_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  SyncData *data = user_data;

  data->result = g_object_ref (result);
  g_main_context_wakeup (data->context);
}

void
icloud_session_sync_data_wait (SyncData *data)
{
  while (data->result == NULL)
    g_main_context_iteration (data->context, TRUE);
  g_main_context_pop_thread_default (data->context);
}

void
icloud_session_sync_data_clear (SyncData *data)
{
  if (data->session != NULL)
    icloud_session_drop_blocking_soup_session (data->session);
  g_clear_object (&data->result);
  g_clear_pointer (&data->context, g_main_context_unref);
}


/* ------------------------------------------------------------------------ */
/* ------------------------------------------------------------------------ */
/* Operations: one at a time, under the account lock, saved at the end. */


static void
op_data_free (OpData *data)
{
  g_clear_object (&data->target);
  g_clear_pointer (&data->code, icloud_crypto_free_secret);
  if (data->result != NULL && data->result_destroy != NULL)
    data->result_destroy (data->result);
  g_clear_error (&data->error);
  g_free (data);
}

gboolean
icloud_session_ensure_prepared (ICloudSession  *self,
                 GError        **error)
{
  if (self->endpoint == NULL)
    {
      g_autoptr(ICloudRegion) region = icloud_plugins_create_region (self->region, error);

      if (region == NULL)
        return FALSE;
      self->endpoint = icloud_region_create_endpoint (region);
      if (self->endpoint == NULL)
        {
          g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_NO_PLUGIN,
                       "The region “%s” gave no endpoint", self->region);
          return FALSE;
        }
      g_object_notify (G_OBJECT (self), "endpoint");
    }

  if (self->soup == NULL)
    self->soup = icloud_session_dup_shared_soup_session ();

  return TRUE;
}

/* The task of an operation, with an empty OpData for the caller to fill
 * before icloud_session_op_begin (). Nothing is checked yet. */
GTask *
icloud_session_op_new (ICloudSession       *self,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data,
                       gpointer             source_tag)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, g_new0 (OpData, 1), (GDestroyNotify) op_data_free);
  return task;
}

static void
op_open_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  GTask *task = user_data;
  ICloudSession *self = g_task_get_source_object (task);
  OpData *data = g_task_get_task_data (task);
  GError *error = NULL;
  const char *client_id;

  if (!icloud_store_open_finish (ICLOUD_STORE (source), result, &error))
    {
      /* Nothing was taken: no lock, the state as it was. */
      self->busy = FALSE;
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }

  /* The client id of the saved session wins, and is kept forever (§5.3). */
  client_id = icloud_store_get (self->store, ICLOUD_DATA_CLIENT_ID);
  if (client_id == NULL)
    {
      if (self->client_id == NULL)
        self->client_id = g_uuid_string_random ();
      icloud_store_set (self->store, ICLOUD_DATA_CLIENT_ID, self->client_id);
    }
  else if (g_strcmp0 (client_id, self->client_id) != 0)
    {
      g_free (self->client_id);
      self->client_id = g_strdup (client_id);
      g_object_notify (G_OBJECT (self), "client-id");
    }

  data->then (task);
}

/* Starts an operation (takes @task, from icloud_session_op_new ()): checks
 * the session is usable, then takes the account lock and reloads the saved
 * session (another process may have changed it) in the store's worker, and
 * continues with @then on the caller's context, the lock held. On an error
 * it reports it through the task's callback and @then is never called. The
 * session is busy from here until the task returns. */
void
icloud_session_op_begin (GTask      *task,
                         OpContinue  then)
{
  ICloudSession *self = g_task_get_source_object (task);
  OpData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (self->invalid != NULL)
    {
      g_task_return_error (task, g_error_copy (self->invalid));
      g_object_unref (task);
      return;
    }
  if (self->state == ICLOUD_AUTH_STATE_CLOSED)
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_CLOSED,
                               "The session was closed");
      g_object_unref (task);
      return;
    }
  if (self->busy)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING,
                               "Another operation is running on this session");
      g_object_unref (task);
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return;
    }
  if (!icloud_session_ensure_prepared (self, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }

  data->then = then;
  self->busy = TRUE;
  icloud_store_open_async (self->store, g_task_get_cancellable (task), op_open_cb, task);
}

static void
op_end_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GTask *task = user_data;
  ICloudSession *self = g_task_get_source_object (task);
  OpData *data = g_task_get_task_data (task);
  g_autoptr(GError) save_error = NULL;

  icloud_store_save_and_unlock_finish (ICLOUD_STORE (source), result, &save_error);
  self->busy = FALSE;

  if (data->result_destroy != NULL)
    {
      /* A list: a failed save wins (the list is dropped). */
      if (save_error != NULL)
        g_task_return_error (task, g_steal_pointer (&save_error));
      else
        {
          GDestroyNotify destroy = data->result_destroy;

          data->result_destroy = NULL;
          g_task_return_pointer (task, g_steal_pointer (&data->result), destroy);
        }
    }
  else if (data->error != NULL)
    /* The operation's own error wins over a failed save. (A throttling
     * error's retry-after was noted by the response that said so.) */
    g_task_return_error (task, g_steal_pointer (&data->error));
  else if (save_error != NULL)
    g_task_return_error (task, g_steal_pointer (&save_error));
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

/* Ends an operation (takes @error): saves what changed and releases the
 * lock in the store's worker (whether or not the operation was cancelled:
 * what it learnt is kept), then returns. */
void
icloud_session_op_end (GTask  *task,
        GError *error)
{
  ICloudSession *self = g_task_get_source_object (task);
  OpData *data = g_task_get_task_data (task);

  g_assert (data->error == NULL);
  data->error = error;
  icloud_store_save_and_unlock_async (self->store, NULL, op_end_cb, task);
}

/* Same, returning @result (a pointer, freed with @destroy) on success. */
void
icloud_session_op_end_pointer (GTask    *task,
                gpointer  result,
                GDestroyNotify destroy)
{
  ICloudSession *self = g_task_get_source_object (task);
  OpData *data = g_task_get_task_data (task);

  g_assert (data->result == NULL && destroy != NULL);
  data->result = result;
  data->result_destroy = destroy;
  icloud_store_save_and_unlock_async (self->store, NULL, op_end_cb, task);
}

/* ------------------------------------------------------------------------ */
